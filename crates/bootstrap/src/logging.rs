//! Log lines on stderr for both binaries: text or one JSON object per line,
//! filtered by `logging.level` unless `RUST_LOG` is set.

use crate::settings::{LogFormat, LoggingSettings};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `format_override` is the `--log-format` flag.
/// A second call (tests) leaves the first subscriber in place.
pub fn init_logging(settings: &LoggingSettings, format_override: Option<LogFormat>) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: a log file or pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        // A log line that cannot be written (stderr piped to a reader that has
        // gone, e.g. `| head`) is dropped: the fallback report of that error
        // is an `eprintln!`, which panics on the same closed stderr, and a
        // panic in the run's writer stage stopped its writes.
        .log_internal_errors(false);
    let _already_installed = match format_override.unwrap_or(settings.format) {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// One line on stderr, dropped when stderr cannot take it (piped to a reader
/// that has gone), where `eprintln!` would panic. For the CLI's and the
/// worker's own messages, which are not log events.
pub fn stderr_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
