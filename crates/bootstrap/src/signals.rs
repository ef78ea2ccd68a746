//! OS signals → [`Shutdown`]: the first SIGINT, SIGTERM or SIGHUP requests a
//! graceful stop (escalating after the grace period), a second one forces it.
//! SIGHUP is a stop, not a reload: a worker started from a terminal that goes
//! away must not die holding its batch, and settings are read at start only.

use jobenrich_services::shutdown::Shutdown;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// Installs the handlers (call inside the runtime) and returns the shutdown
/// they drive.
pub fn listen_for_shutdown(grace: Duration) -> std::io::Result<Shutdown> {
    let shutdown = Shutdown::new();
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let driven = shutdown.clone();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
            _ = hangup.recv() => "SIGHUP",
        };
        tracing::info!(
            signal = name,
            grace_seconds = grace.as_secs(),
            "shutdown requested: finishing the batches in hand, releasing the rest"
        );
        driven.request(grace);
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
            _ = hangup.recv() => {}
            _ = driven.forced() => return,
        }
        tracing::warn!("second signal: stopping now, releasing what is still claimed");
        driven.force();
    });
    Ok(shutdown)
}
