//! The `worker` section: how enrichment batches are claimed, leased, retried
//! and polled, by `jobenrich-worker` and by the one-shot `jobenrich run`.

use crate::error::BootstrapError;
use jobenrich_domain::EnrichmentType;
use jobenrich_services::enrichment_pipeline::{PipelineConfig, PIPELINE_TYPES};
use jobenrich_services::enrichment_runner::WorkerLoopConfig;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Whether the worker queues the re-enrichment anti-join by itself when idle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReenrichMode {
    /// New model versions are picked up only after `jobenrich reenrich`.
    #[default]
    Off,
    /// Jobs lacking a result at the active version are queued automatically.
    Auto,
}

/// More engine threads than this is a typo, not a machine (0 = one per core).
const MAX_ENGINE_THREADS: usize = 1024;
/// An hour: longer than any batch, short enough to notice a stuck stop.
const MAX_SHUTDOWN_GRACE_SECONDS: u64 = 3_600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerSettings {
    /// Enrichments claimed (and written back) per store call.
    pub batch_size: usize,
    /// Engine threads: batches enriched at once (one claimer and one writer
    /// feed them). 0 = one per CPU core. Replaces `concurrency`.
    pub engine_threads: usize,
    /// How long a stopping process may finish the batches in hand before it
    /// releases what it holds and exits anyway.
    pub shutdown_grace_seconds: u64,
    /// How long a claim is held; a dead worker's jobs are reclaimed after it.
    pub lease_seconds: u64,
    /// First sleep when the queue is empty; doubles while idle.
    pub poll_interval_ms: u64,
    /// Longest idle sleep.
    pub max_idle_backoff_ms: u64,
    /// After this many attempts a failure stays failed (a dead letter).
    pub max_attempts: u32,
    /// Delay before the first retry of a failure; doubles per attempt.
    pub retry_backoff_seconds: u64,
    /// Longest delay between retries.
    pub max_retry_backoff_seconds: u64,
    /// Enrichment types worked on (skills extraction also classifies
    /// sections); a type without an active model is passed over.
    pub types: Vec<EnrichmentType>,
    pub reenrich: ReenrichMode,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            batch_size: 256,
            engine_threads: 0,
            shutdown_grace_seconds: 30,
            lease_seconds: 300,
            poll_interval_ms: 500,
            max_idle_backoff_ms: 10_000,
            max_attempts: 3,
            retry_backoff_seconds: 30,
            max_retry_backoff_seconds: 3_600,
            types: vec![EnrichmentType::SkillsExtraction, EnrichmentType::Embeddings],
            reenrich: ReenrichMode::Off,
        }
    }
}

impl WorkerSettings {
    /// Checks rules serde cannot express; errors name the key.
    pub fn validate(&self) -> Result<(), BootstrapError> {
        // Ranges are documented in config/default.yaml. They also keep every
        // derived duration (now + lease, retry backoffs) far from overflow.
        let ranges = [
            ("worker.batch_size", self.batch_size as u64, 1, 10_000),
            (
                "worker.engine_threads",
                self.engine_threads as u64,
                0,
                MAX_ENGINE_THREADS as u64,
            ),
            (
                "worker.shutdown_grace_seconds",
                self.shutdown_grace_seconds,
                1,
                MAX_SHUTDOWN_GRACE_SECONDS,
            ),
            ("worker.lease_seconds", self.lease_seconds, 1, 86_400),
            ("worker.poll_interval_ms", self.poll_interval_ms, 1, 60_000),
            (
                "worker.max_idle_backoff_ms",
                self.max_idle_backoff_ms,
                self.poll_interval_ms.clamp(1, 60_000),
                3_600_000,
            ),
            ("worker.max_attempts", u64::from(self.max_attempts), 1, 100),
            (
                "worker.retry_backoff_seconds",
                self.retry_backoff_seconds,
                0,
                86_400,
            ),
            (
                "worker.max_retry_backoff_seconds",
                self.max_retry_backoff_seconds,
                0,
                604_800,
            ),
        ];
        for (key, value, min, max) in ranges {
            crate::settings::in_range(key, value, min, max)?;
        }
        if self.types.is_empty() {
            return Err(BootstrapError::invalid(
                "worker.types",
                "must name at least one enrichment type",
            ));
        }
        if let Some(t) = self.types.iter().find(|t| !PIPELINE_TYPES.contains(t)) {
            return Err(BootstrapError::invalid(
                "worker.types",
                format!("contains {t}; the worker produces skills_extraction, section_classification and embeddings"),
            ));
        }
        Ok(())
    }

    /// Engine threads to start: the setting, or one per CPU core for 0.
    pub fn engine_threads(&self) -> usize {
        match self.engine_threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }

    /// The pipeline's lease and retry rules, leasing as `owner`.
    pub fn pipeline_config(&self, owner: String) -> PipelineConfig {
        let seconds = |s: u64| chrono::Duration::seconds(s.min(i64::MAX as u64 / 1_000) as i64);
        let mut config = PipelineConfig::with_owner(owner);
        config.batch_size = self.batch_size;
        config.lease = seconds(self.lease_seconds);
        config.max_attempts = self.max_attempts;
        config.retry_backoff = seconds(self.retry_backoff_seconds);
        config.max_retry_backoff = seconds(self.max_retry_backoff_seconds);
        config
    }

    /// The daemon's polling rules.
    pub fn loop_config(&self) -> WorkerLoopConfig {
        WorkerLoopConfig {
            types: self.types.clone(),
            engine_threads: self.engine_threads(),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            max_idle_backoff: Duration::from_millis(self.max_idle_backoff_ms),
            reenrich_auto: self.reenrich == ReenrichMode::Auto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zero_sizes_name_the_key() {
        assert!(WorkerSettings::default().validate().is_ok());
        let settings = WorkerSettings {
            batch_size: 0,
            ..WorkerSettings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("worker.batch_size"), "{err}");
        let settings = WorkerSettings {
            types: vec![EnrichmentType::Clustering],
            ..WorkerSettings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(
            err.contains("worker.types") && err.contains("clustering"),
            "{err}"
        );
    }

    #[test]
    fn a_huge_lease_is_refused_with_its_range_instead_of_overflowing_later() {
        let settings = WorkerSettings {
            lease_seconds: u64::MAX,
            ..WorkerSettings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(
            err.contains("worker.lease_seconds") && err.contains("between 1 and 86400"),
            "{err}"
        );
        for (key, settings) in [
            (
                "worker.batch_size",
                WorkerSettings {
                    batch_size: usize::MAX,
                    ..WorkerSettings::default()
                },
            ),
            (
                "worker.max_retry_backoff_seconds",
                WorkerSettings {
                    max_retry_backoff_seconds: u64::MAX,
                    ..WorkerSettings::default()
                },
            ),
        ] {
            let err = settings.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn settings_become_pipeline_and_loop_configs() {
        let settings = WorkerSettings {
            lease_seconds: 7,
            reenrich: ReenrichMode::Auto,
            ..WorkerSettings::default()
        };
        let pipeline = settings.pipeline_config("w1".into());
        assert_eq!(pipeline.lease, chrono::Duration::seconds(7));
        assert_eq!(pipeline.owner, "w1");
        assert!(settings.loop_config().reenrich_auto);
    }

    #[test]
    fn engine_threads_default_to_one_per_core_and_are_bounded() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(WorkerSettings::default().engine_threads(), cores);
        let three = WorkerSettings {
            engine_threads: 3,
            ..WorkerSettings::default()
        };
        assert_eq!(three.loop_config().engine_threads, 3);
        let absurd = WorkerSettings {
            engine_threads: 1_000_000,
            ..WorkerSettings::default()
        };
        let err = absurd.validate().unwrap_err().to_string();
        assert!(err.contains("worker.engine_threads"), "{err}");
        let forever = WorkerSettings {
            shutdown_grace_seconds: u64::MAX,
            ..WorkerSettings::default()
        };
        let err = forever.validate().unwrap_err().to_string();
        assert!(err.contains("worker.shutdown_grace_seconds"), "{err}");
    }
}
