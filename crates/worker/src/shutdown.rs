//! Graceful shutdown: the first SIGINT or SIGTERM flips a watch channel that
//! every batch loop observes (stop claiming, finish the batch in hand); a
//! second signal exits at once, leaving leases to expire.

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Spawns the signal listener; the receiver turns `true` on the first signal.
pub fn listen_for_shutdown() -> std::io::Result<watch::Receiver<bool>> {
    let (tx, rx) = watch::channel(false);
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            "shutdown requested: finishing the batches in hand"
        );
        let _ = tx.send(true);
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::warn!("second signal: exiting now; unfinished leases will expire");
        std::process::exit(130);
    });
    Ok(rx)
}
