//! Worker lanes draining an enrichment queue through the store's ports, behind
//! the DML-limit simulator: what `tests/dml_limits.rs` checks and the
//! `bq_dml_sim` example reports.

use super::dml_limits::{DmlLimits, DmlStats};
use super::proxy::Proxy;
use chrono::{Duration, Utc};
use jobenrich_domain::{
    ClaimRequest, EnrichmentOutcome, EnrichmentRepository, EnrichmentResult, EnrichmentStatus,
    EnrichmentSuccess, EnrichmentType, JobId, JobPosting, JobPostingRepository, SchemaMigrator,
    SkillRepository, StoreError,
};
use jobenrich_storage_bigquery::{BigQuerySettings, BigQueryStore, QueueMode};
use jobenrich_storage_contract::fixtures::{
    model_id, model_version, posting_minimal, skill, version,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

const PROJECT: &str = "test-proj";
const SKILLS: EnrichmentType = EnrichmentType::SkillsExtraction;
/// The lease of the CI test, the worker's default. A lease runs from the
/// lane's clock, so it spans the claim's wait for a leader cycle, the reply's
/// poll and the completion's cycle; on a loaded CI host 16 lanes' cycles took
/// up to 50 s, and a 60 s lease expired three times on 50 rows, which were
/// dead-lettered (docs/bigquery.md, "keep `worker.lease_seconds` well above
/// the cycle time").
pub const LEASE_SECONDS: i64 = 300;

/// What one run of `lanes` lanes did.
#[derive(Debug)]
pub struct LaneRun {
    pub lanes: usize,
    pub postings: usize,
    pub seconds: f64,
    /// Successes reported by the lanes' completions.
    pub succeeded: u64,
    /// Rows in the store at the end.
    pub success_rows: u64,
    /// Still leased at the end: none once the lanes are done (they wait for
    /// the leases of given-up work to expire and reclaim it).
    pub processing_rows: u64,
    /// Rows in any other status (pending, failed): none are expected.
    pub other_rows: u64,
    pub skill_rows: u64,
    pub expected_skill_rows: u64,
    pub lane_errors: u64,
    pub stats: DmlStats,
    pub requests: BTreeMap<&'static str, u64>,
}

impl LaneRun {
    pub fn requests_total(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Requests per 2,000 rows written (a state row per enrichment + its skills).
    pub fn requests_per_2000_rows(&self) -> f64 {
        self.requests_total() as f64 * 2000.0 / (self.success_rows + self.skill_rows).max(1) as f64
    }

    pub fn complete(&self) -> bool {
        self.success_rows == self.postings as u64 && self.skill_rows == self.expected_skill_rows
    }

    /// Nothing lost (every enrichment is done or still leased) and nothing
    /// duplicated (each success reported once, with its skills once).
    pub fn nothing_lost_or_duplicated(&self, skills_per: u64) -> bool {
        self.success_rows + self.processing_rows == self.postings as u64
            && self.other_rows == 0
            && self.succeeded == self.success_rows
            && self.skill_rows == self.success_rows * skills_per
    }
}

/// Sets up `postings` queued enrichments on a fresh dataset (straight on the
/// emulator), drains them with `lanes` lanes through the simulator, checks the
/// store, deletes the dataset.
pub async fn run_lanes(
    url: &str,
    lanes: usize,
    postings: usize,
    batch: usize,
    skills_per: usize,
    queue: QueueMode,
    lease_seconds: i64,
) -> LaneRun {
    let dataset = format!("dmlsim_{}", uuid::Uuid::new_v4().simple());
    let direct = BigQueryStore::connect(BigQuerySettings::emulator(url, PROJECT, &dataset))
        .await
        .unwrap();
    direct.migrate().await.unwrap();
    let rows: Vec<JobPosting> = (0..postings)
        .map(|i| posting_minimal(&format!("sim-{i:06}")))
        .collect();
    for chunk in rows.chunks(10_000) {
        direct.insert_postings(chunk).await.unwrap();
    }
    let ids: Vec<JobId> = rows.iter().map(|p| p.job_posting_id.clone()).collect();
    direct
        .enqueue_enrichments(&ids, SKILLS, &version(), Utc::now())
        .await
        .unwrap();

    let limits = Arc::new(DmlLimits::new(PROJECT));
    let proxy = Proxy::start(url, limits.clone()).await;
    let succeeded = Arc::new(AtomicU64::new(0));
    let lane_errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..lanes {
        // A store per lane: each lane is a worker process of its own.
        let settings = BigQuerySettings {
            queue,
            ..BigQuerySettings::emulator(&proxy.url, PROJECT, &dataset)
        };
        let store = BigQueryStore::connect(settings).await.unwrap();
        let (succeeded, lane_errors) = (succeeded.clone(), lane_errors.clone());
        tasks.spawn(async move {
            let owner = format!("lane-{lane}");
            let mut errors_in_a_row = 0;
            loop {
                match one_batch(&store, &owner, batch, skills_per, lease_seconds).await {
                    Ok(0) => {
                        // Nothing claimable: done, unless work is still leased
                        // (by a lane that gave up on it): wait for it to expire.
                        // A dead letter is final and counted by the checks.
                        match store.enrichment_status_counts().await {
                            Ok(counts)
                                if counts.iter().all(|c| {
                                    !matches!(
                                        c.status,
                                        EnrichmentStatus::Pending | EnrichmentStatus::Processing
                                    ) || c.count == 0
                                }) =>
                            {
                                return
                            }
                            _ => tokio::time::sleep(std::time::Duration::from_secs(3)).await,
                        }
                    }
                    Ok(n) => {
                        errors_in_a_row = 0;
                        succeeded.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        // Like the worker: count it, back off, carry on.
                        lane_errors.fetch_add(1, Ordering::Relaxed);
                        errors_in_a_row += 1;
                        if errors_in_a_row > 30 {
                            eprintln!("{owner}: giving up after 30 errors in a row: {e}");
                            return;
                        }
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let seconds = started.elapsed().as_secs_f64();
    let requests = proxy.counts();

    let counts = direct.enrichment_status_counts().await.unwrap();
    let of = |status: EnrichmentStatus| -> u64 {
        counts
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.count)
            .sum()
    };
    let success_rows = of(EnrichmentStatus::Success);
    let processing_rows = of(EnrichmentStatus::Processing);
    let other_rows = counts.iter().map(|c| c.count).sum::<u64>() - success_rows - processing_rows;
    let skill_rows = direct
        .skill_versions()
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| *n)
        .sum();
    direct.delete_dataset().await.unwrap();
    LaneRun {
        lanes,
        postings,
        seconds,
        succeeded: succeeded.load(Ordering::Relaxed),
        success_rows,
        processing_rows,
        other_rows,
        skill_rows,
        expected_skill_rows: (postings * skills_per) as u64,
        lane_errors: lane_errors.load(Ordering::Relaxed),
        stats: limits.stats(),
        requests,
    }
}

/// Claims a batch, "enriches" it (fixed skills) and completes it; how many
/// succeeded (0 when nothing was left to claim).
async fn one_batch(
    store: &BigQueryStore,
    owner: &str,
    batch: usize,
    skills_per: usize,
    lease_seconds: i64,
) -> Result<u64, StoreError> {
    let claimed = store
        .claim_enrichments(&ClaimRequest {
            enrichment_type: SKILLS,
            enrichment_version: Some(version()),
            owner: owner.to_string(),
            lease: Duration::seconds(lease_seconds),
            limit: batch,
            max_attempts: 3,
            now: Utc::now(),
        })
        .await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let outcomes: Vec<EnrichmentOutcome> = claimed
        .iter()
        .map(|e| EnrichmentOutcome {
            key: e.key(),
            lease_owner: owner.to_string(),
            result: EnrichmentResult::Success(EnrichmentSuccess {
                model_id: model_id("skills_extractor"),
                model_version: model_version("v1.0"),
                skills: (0..skills_per)
                    .map(|k| skill(e.job_posting_id.as_str(), &format!("Skill {k}")))
                    .collect(),
                sections: Vec::new(),
                embedding: None,
                metadata: Default::default(),
            }),
        })
        .collect();
    match store.complete_enrichments(&outcomes, Utc::now()).await {
        Ok(report) => Ok(report.succeeded),
        Err(e) => {
            // Like the pipeline: hand the batch back rather than wait out the lease.
            let keys: Vec<_> = claimed.iter().map(|e| e.key()).collect();
            let _ = store.release_enrichments(&keys, owner, Utc::now()).await;
            Err(e)
        }
    }
}
