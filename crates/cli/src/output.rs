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
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
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
}
