//! Output of tabular results: an aligned text table (the default) or JSON
//! (`--format json`), both on stdout. Messages and progress go to stderr.

use serde::Serialize;
use std::io::Write;

/// How results are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// Pretty-printed JSON for scripts.
    Json,
}

/// Rows of text cells under a header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// A two-column FIELD / VALUE table for one record or a summary.
    pub fn fields<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut table = Table::new(["FIELD", "VALUE"]);
        for (k, v) in pairs {
            table.row([k.into(), v.into()]);
        }
        table
    }

    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Cuts the last column so that rows fit in `width` characters (it keeps
    /// at least 20), ending a cut cell with `…`. For long free text (snippets);
    /// the JSON output keeps the full text.
    pub fn fit_last_column(mut self, width: usize) -> Self {
        let columns = self.headers.len();
        if columns == 0 {
            return self;
        }
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let fixed: usize = widths[..columns - 1].iter().map(|w| w + 2).sum();
        let room = width.saturating_sub(fixed).max(20);
        for row in &mut self.rows {
            if let Some(cell) = row.get_mut(columns - 1) {
                if cell.chars().count() > room {
                    let mut cut: String = cell.chars().take(room - 1).collect();
                    cut.push('…');
                    *cell = cut;
                }
            }
        }
        self
    }

    /// Columns padded to their widest cell (in characters); line breaks in
    /// cells are shown as `⏎` so every row stays on one line.
    pub fn render(&self) -> String {
        let clean = |cell: &str| cell.replace(['\r', '\n'], "⏎");
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| clean(c)).collect())
            .collect();
        for row in &rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                if i + 1 == columns {
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(width - cell.chars().count() + 2));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.headers);
        for row in &rows {
            line(row);
        }
        out
    }
}

/// Prints `value` as JSON, or the table built from it.
pub fn emit<T: Serialize>(
    format: OutputFormat,
    value: &T,
    table: impl FnOnce(&T) -> Table,
) -> anyhow::Result<()> {
    emit_text(format, value, |v| table(v).render())
}

/// Prints `value` as JSON, or the text built from it (tables plus summary lines).
pub fn emit_text<T: Serialize>(
    format: OutputFormat,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Json => {
            let mut text = serde_json::to_string_pretty(value)?;
            text.push('\n');
            text
        }
        OutputFormat::Table => text(value),
    };
    print(&text)
}

/// Writes `text` to stdout. A closed pipe (`jobenrich … | head`) comes back as
/// an `io::Error` of kind `BrokenPipe`, which `main` ends on quietly.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// `println!` that returns a closed pipe as an error instead of panicking.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::print("\n")? };
    ($($arg:tt)*) => { $crate::output::print(&format!("{}\n", format_args!($($arg)*)))? };
}

/// `eprintln!` that drops a message stderr cannot take (piped to a reader
/// that has gone) instead of panicking.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        ::jobenrich_bootstrap::logging::stderr_line(format_args!($($arg)*))
    };
}

/// True when the error is a write to a closed stdout pipe.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Width available to a table: the terminal's, else `$COLUMNS`, else 120.
pub fn display_width() -> usize {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        if let Some((_, width)) = terminal_size() {
            return width;
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&w: &usize| w >= 40)
        .unwrap_or(120)
}

fn terminal_size() -> Option<(usize, usize)> {
    let (rows, cols) = console::Term::stdout().size_checked()?;
    Some((rows as usize, cols as usize))
}

/// An optional value as a cell (`-` when absent).
pub fn cell<T: ToString>(value: Option<T>) -> String {
    value
        .map(|v| v.to_string())
        .unwrap_or_else(|| "-".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_line_breaks_stay_in_their_row() {
        let mut table = Table::new(["ID", "TITLE"]);
        table.row(["1", "Engineer"]);
        table.row(["1234", "Two\nlines"]);
        assert_eq!(
            table.render(),
            "ID    TITLE\n1     Engineer\n1234  Two⏎lines\n"
        );
    }

    #[test]
    fn the_last_column_is_cut_to_the_width() {
        let mut table = Table::new(["ID", "SNIPPET"]);
        table.row(["1", &"x".repeat(100)]);
        table.row(["2", "short"]);
        let text = table.fit_last_column(30).render();
        for line in text.lines() {
            assert!(line.chars().count() <= 30, "{line}");
        }
        assert!(text.contains("…") && text.contains("short"), "{text}");
    }
}
