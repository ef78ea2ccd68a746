//! How a long-running use case is asked to stop. Two levels, both
//! `CancellationToken`s so any number of tasks can wait on them:
//!
//! - **graceful**: stop claiming work; batches already being enriched are
//!   finished and written, batches claimed but not started are released;
//! - **immediate**: stop now; whatever is still leased is released (best
//!   effort, one store call), and what cannot be released waits out its lease.
//!
//! A graceful request escalates to immediate after a time limit, so a stuck
//! store or engine cannot hold a stopping process forever. Who triggers them
//! (OS signals, a test) is the caller's business.

use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    graceful: CancellationToken,
    immediate: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop claiming; escalates to `force` after `grace` unless done by then.
    pub fn request(&self, grace: Duration) {
        if self.graceful.is_cancelled() {
            return;
        }
        self.graceful.cancel();
        let immediate = self.immediate.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(grace) => {
                    tracing::warn!(grace_seconds = grace.as_secs_f64(), "graceful shutdown took too long: stopping now");
                    immediate.cancel();
                }
                _ = immediate.cancelled() => {}
            }
        });
    }

    /// Stop now (a second signal, or the grace period is over).
    pub fn force(&self) {
        self.graceful.cancel();
        self.immediate.cancel();
    }

    pub fn is_requested(&self) -> bool {
        self.graceful.is_cancelled()
    }

    pub fn is_forced(&self) -> bool {
        self.immediate.is_cancelled()
    }

    /// Resolves once stopping was requested (graceful or immediate).
    pub async fn requested(&self) {
        self.graceful.cancelled().await
    }

    /// Resolves once stopping must happen now.
    pub async fn forced(&self) {
        self.immediate.cancelled().await
    }

    /// A token cancelled with the graceful request, or earlier by its holder
    /// alone (a run that stops itself after an error).
    pub(crate) fn graceful_child(&self) -> CancellationToken {
        self.graceful.child_token()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_graceful_request_escalates_after_the_grace_period() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.is_requested());
        shutdown.request(Duration::from_millis(50));
        assert!(shutdown.is_requested() && !shutdown.is_forced());
        tokio::time::timeout(Duration::from_secs(30), shutdown.forced())
            .await
            .expect("escalated to immediate");
    }

    #[tokio::test]
    async fn force_is_also_a_request_and_children_follow_the_graceful_token() {
        let shutdown = Shutdown::new();
        let child = shutdown.graceful_child();
        shutdown.force();
        assert!(shutdown.is_requested() && shutdown.is_forced());
        assert!(child.is_cancelled());
    }
}
