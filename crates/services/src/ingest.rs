//! Ingestion of job postings from JSONL or CSV files.
//!
//! Field mapping (the first field present wins; other fields are ignored, so
//! Bright Data LinkedIn job records work as they are):
//!
//! | posting field | accepted input fields |
//! |---|---|
//! | `id` (required) | `id`, `job_id`, `job_posting_id` |
//! | `title` (required) | `title`, `job_title` |
//! | `company` | `company`, `company_name` |
//! | `location` | `location`, `job_location` |
//! | `description` (required) | `description`, `job_summary`, `job_description`, `text` |
//! | `posted_at` | `posted_at`, `job_posted_date`, `date_posted` (RFC 3339, `YYYY-MM-DD[ HH:MM:SS]`; no zone = UTC) |
//! | `source` | `source` (else the `--source` given to ingest) |
//! | `url` | `url`, `job_url`, `link` |
//!
//! Streaming: a blocking thread parses the file and hands batches of
//! `batch_size` postings over a channel of two slots, so memory stays bounded
//! whatever the file size while the store writes the previous batch. A bad row
//! (unparseable, missing or invalid field) is reported with its line number
//! and reason; the other rows are stored. Re-ingesting stores nothing twice:
//! postings with a known id are left as they are.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    EnrichmentRepository, EnrichmentType, EnrichmentVersion, JobId, JobPosting,
    JobPostingRepository, StoreError,
};
use serde::Serialize;
use std::collections::HashSet;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use thiserror::Error;
use tokio::sync::mpsc;

/// Input fields read for each posting field, in priority order.
pub const ID_FIELDS: &[&str] = &["id", "job_id", "job_posting_id"];
pub const TITLE_FIELDS: &[&str] = &["title", "job_title"];
pub const COMPANY_FIELDS: &[&str] = &["company", "company_name"];
pub const LOCATION_FIELDS: &[&str] = &["location", "job_location"];
pub const DESCRIPTION_FIELDS: &[&str] = &["description", "job_summary", "job_description", "text"];
pub const POSTED_AT_FIELDS: &[&str] = &["posted_at", "job_posted_date", "date_posted"];
pub const SOURCE_FIELDS: &[&str] = &["source"];
pub const URL_FIELDS: &[&str] = &["url", "job_url", "link"];

/// File formats ingest reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestFormat {
    /// One JSON object per line.
    Jsonl,
    /// A header row naming the fields, then one posting per record.
    Csv,
}

impl IngestFormat {
    /// The format a file name implies: `.csv` → CSV; `.jsonl`, `.ndjson`, `.json` → JSONL.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(IngestFormat::Csv),
            "jsonl" | "ndjson" | "json" => Some(IngestFormat::Jsonl),
            _ => None,
        }
    }
}

impl fmt::Display for IngestFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IngestFormat::Jsonl => "jsonl",
            IngestFormat::Csv => "csv",
        })
    }
}

/// A row that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowRejection {
    /// The file (or other input) as named to the user.
    pub input: String,
    /// 1-based line where the row starts.
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for RowRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.input, self.line, self.reason)
    }
}

/// What ingesting one input did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Rows read (stored, already present and rejected).
    pub read: u64,
    /// New postings stored.
    pub stored: u64,
    /// Rows whose id was already stored (or appeared earlier in the same batch).
    pub already_present: u64,
    pub rejected: u64,
    /// Pending enrichments created.
    pub enrichments_queued: u64,
}

impl IngestReport {
    pub fn add(&mut self, other: &IngestReport) {
        self.read += other.read;
        self.stored += other.stored;
        self.already_present += other.already_present;
        self.rejected += other.rejected;
        self.enrichments_queued += other.enrichments_queued;
    }
}

/// Told about progress as batches are stored (progress bars, rejection lines).
pub trait IngestObserver: Send {
    /// A row was rejected.
    fn rejected(&mut self, rejection: &RowRejection);
    /// A batch was stored; totals so far and bytes of the input consumed.
    fn batch_stored(&mut self, so_far: &IngestReport, bytes_read: u64);
}

/// An observer that ignores everything.
pub struct SilentObserver;

impl IngestObserver for SilentObserver {
    fn rejected(&mut self, _: &RowRejection) {}
    fn batch_stored(&mut self, _: &IngestReport, _: u64) {}
}

#[derive(Debug, Error)]
pub enum IngestError {
    #[error("reading {input}")]
    Read {
        input: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{input}: {reason}")]
    Unreadable { input: String, reason: String },
    #[error("storing postings of {input}")]
    Store {
        input: String,
        #[source]
        source: StoreError,
    },
}

/// How postings are ingested.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Postings per store call (at least 1).
    pub batch_size: usize,
    /// `source` of postings whose row has none.
    pub default_source: Option<String>,
    /// Each stored posting gets a pending enrichment of each of these types
    /// at its version.
    pub enqueue: Vec<(EnrichmentType, EnrichmentVersion)>,
    /// Descriptions longer than this (bytes of UTF-8) are rejected: the engine
    /// refuses them (its `max_input_bytes`), so storing them would only queue
    /// work that fails until it is dead-lettered.
    pub max_description_bytes: usize,
    pub now: DateTime<Utc>,
}

/// The ports ingestion writes to.
pub struct IngestPorts<'a> {
    pub postings: &'a dyn JobPostingRepository,
    pub enrichments: &'a dyn EnrichmentRepository,
}

struct ParsedBatch {
    postings: Vec<JobPosting>,
    rejections: Vec<RowRejection>,
    rows_read: u64,
    bytes_read: u64,
}

/// Ingests one input. `input` names it in messages (usually the file path).
pub async fn ingest_reader<R: Read + Send + 'static>(
    ports: &IngestPorts<'_>,
    reader: R,
    format: IngestFormat,
    input: &str,
    options: &IngestOptions,
    observer: &mut dyn IngestObserver,
) -> Result<IngestReport, IngestError> {
    let (sender, mut receiver) = mpsc::channel::<Result<ParsedBatch, IngestError>>(2);
    let parser_input = input.to_string();
    let parser_options = options.clone();
    let parser = tokio::task::spawn_blocking(move || {
        parse_into_batches(reader, format, &parser_input, &parser_options, &sender)
    });

    let mut report = IngestReport::default();
    let mut failure = None;
    while let Some(message) = receiver.recv().await {
        let batch = match message {
            Ok(batch) => batch,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        if let Err(e) = store_batch(ports, &batch, input, options, &mut report).await {
            failure = Some(e);
            break;
        }
        for rejection in &batch.rejections {
            observer.rejected(rejection);
        }
        observer.batch_stored(&report, batch.bytes_read);
    }
    // Dropping the receiver ends the parser at its next send.
    drop(receiver);
    let _ = parser.await;
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

async fn store_batch(
    ports: &IngestPorts<'_>,
    batch: &ParsedBatch,
    input: &str,
    options: &IngestOptions,
    report: &mut IngestReport,
) -> Result<(), IngestError> {
    let store_error = |source| IngestError::Store {
        input: input.to_string(),
        source,
    };
    report.read += batch.rows_read;
    report.rejected += batch.rejections.len() as u64;
    // The same id twice in one batch: the first row wins, like across batches.
    let mut seen = HashSet::with_capacity(batch.postings.len());
    let unique: Vec<JobPosting> = batch
        .postings
        .iter()
        .filter(|p| seen.insert(p.job_posting_id.clone()))
        .cloned()
        .collect();
    report.already_present += (batch.postings.len() - unique.len()) as u64;
    if unique.is_empty() {
        return Ok(());
    }
    let counts = ports
        .postings
        .insert_postings(&unique)
        .await
        .map_err(store_error)?;
    report.stored += counts.inserted;
    report.already_present += counts.already_present;
    let ids: Vec<JobId> = unique.iter().map(|p| p.job_posting_id.clone()).collect();
    for (enrichment_type, version) in &options.enqueue {
        report.enrichments_queued += ports
            .enrichments
            .enqueue_enrichments(&ids, *enrichment_type, version, options.now)
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

/// A reader that counts the bytes handed out (for the progress bar).
struct CountingReader<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Accumulates parsed rows and sends full batches; `false` once the receiver is gone.
struct BatchSender<'a> {
    sender: &'a mpsc::Sender<Result<ParsedBatch, IngestError>>,
    batch_size: usize,
    current: ParsedBatch,
    bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl BatchSender<'_> {
    fn push(&mut self, row: Result<JobPosting, RowRejection>) -> bool {
        self.current.rows_read += 1;
        match row {
            Ok(posting) => self.current.postings.push(posting),
            Err(rejection) => self.current.rejections.push(rejection),
        }
        if self.current.postings.len() >= self.batch_size
            || self.current.rejections.len() >= self.batch_size
        {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        let batch = std::mem::replace(
            &mut self.current,
            ParsedBatch {
                postings: Vec::with_capacity(self.batch_size),
                rejections: Vec::new(),
                rows_read: 0,
                bytes_read: 0,
            },
        );
        let batch = ParsedBatch {
            bytes_read: self.bytes.load(std::sync::atomic::Ordering::Relaxed),
            ..batch
        };
        self.sender.blocking_send(Ok(batch)).is_ok()
    }
}

fn parse_into_batches<R: Read>(
    reader: R,
    format: IngestFormat,
    input: &str,
    options: &IngestOptions,
    sender: &mpsc::Sender<Result<ParsedBatch, IngestError>>,
) {
    let bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let reader = CountingReader {
        inner: reader,
        count: bytes.clone(),
    };
    let mut batches = BatchSender {
        sender,
        batch_size: options.batch_size.max(1),
        current: ParsedBatch {
            postings: Vec::new(),
            rejections: Vec::new(),
            rows_read: 0,
            bytes_read: 0,
        },
        bytes,
    };
    let result = match format {
        IngestFormat::Jsonl => parse_jsonl(reader, input, options, &mut batches),
        IngestFormat::Csv => parse_csv(reader, input, options, &mut batches),
    };
    match result {
        Ok(true) => {
            batches.flush();
        }
        Ok(false) => {}
        Err(e) => {
            // Rows parsed before the failure are still stored.
            if batches.flush() {
                let _ = sender.blocking_send(Err(e));
            }
        }
    }
}

/// Parses JSONL; `Ok(false)` when the receiver went away.
fn parse_jsonl<R: Read>(
    reader: R,
    input: &str,
    options: &IngestOptions,
    batches: &mut BatchSender<'_>,
) -> Result<bool, IngestError> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    // Raw bytes, decoded here: `read_line` consumes an undecodable line before
    // failing, so skipping "the rest of it" used to swallow the next line.
    let mut raw = Vec::new();
    let mut line_number = 0u64;
    loop {
        raw.clear();
        let n = reader
            .read_until(b'\n', &mut raw)
            .map_err(|source| IngestError::Read {
                input: input.to_string(),
                source,
            })?;
        if n == 0 {
            return Ok(true);
        }
        line_number += 1;
        let Ok(line) = std::str::from_utf8(&raw) else {
            let rejection = RowRejection {
                input: input.to_string(),
                line: line_number,
                reason: "not valid UTF-8".to_string(),
            };
            if !batches.push(Err(rejection)) {
                return Ok(false);
            }
            continue;
        };
        // A byte-order mark some editors put at the start of the file is not JSON.
        let text = line.trim().trim_start_matches('\u{feff}');
        if text.is_empty() {
            continue;
        }
        let row = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => {
                posting_from_fields(|name| json_field(&map, name), options)
            }
            Ok(_) => Err("not a JSON object".to_string()),
            Err(e) => Err(format!("invalid JSON: {e}")),
        };
        let row = row.map_err(|reason| RowRejection {
            input: input.to_string(),
            line: line_number,
            reason,
        });
        if !batches.push(row) {
            return Ok(false);
        }
    }
}

/// A JSON field as text: strings as they are, numbers and booleans printed,
/// null and empty strings absent. Arrays and objects are an error.
fn json_field(
    map: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Option<String>, String> {
    match map.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(format!(
            "field {name}: expected a string, got a JSON array or object"
        )),
    }
}

fn parse_csv<R: Read>(
    reader: R,
    input: &str,
    options: &IngestOptions,
    batches: &mut BatchSender<'_>,
) -> Result<bool, IngestError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .buffer_capacity(256 * 1024)
        .from_reader(reader);
    let headers = reader
        .headers()
        .map_err(|e| IngestError::Unreadable {
            input: input.to_string(),
            reason: format!("line 1: CSV header: {e}"),
        })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect::<Vec<_>>();
    if !ID_FIELDS.iter().any(|f| headers.iter().any(|h| h == f)) {
        return Err(IngestError::Unreadable {
            input: input.to_string(),
            reason: format!(
                "line 1: CSV header has no id column (one of {})",
                ID_FIELDS.join(", ")
            ),
        });
    }
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        let row = match reader.read_record(&mut record) {
            Ok(false) => return Ok(true),
            Ok(true) => {
                let line = record.position().map(|p| p.line()).unwrap_or(line);
                posting_from_fields(
                    |name| {
                        Ok(headers
                            .iter()
                            .position(|h| h == name)
                            .and_then(|i| record.get(i))
                            .filter(|v| !v.is_empty())
                            .map(str::to_string))
                    },
                    options,
                )
                .map_err(|reason| (line, reason))
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                match e.kind() {
                    csv::ErrorKind::Io(_) => {
                        return Err(IngestError::Unreadable {
                            input: input.to_string(),
                            reason: format!("line {line}: {e}"),
                        })
                    }
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => Err((
                        line,
                        format!("expected {expected_len} fields like the header, got {len}"),
                    )),
                    csv::ErrorKind::Utf8 { .. } => Err((line, "not valid UTF-8".to_string())),
                    _ => Err((line, e.to_string())),
                }
            }
        };
        let row = row.map_err(|(line, reason)| RowRejection {
            input: input.to_string(),
            line,
            reason,
        });
        if !batches.push(row) {
            return Ok(false);
        }
    }
}

/// Builds a valid posting from named fields, or says which field is wrong.
fn posting_from_fields(
    get: impl Fn(&str) -> Result<Option<String>, String>,
    options: &IngestOptions,
) -> Result<JobPosting, String> {
    let first = |names: &[&str]| -> Result<Option<String>, String> {
        for name in names {
            if let Some(v) = get(name)? {
                if !v.trim().is_empty() {
                    return Ok(Some(v));
                }
            }
        }
        Ok(None)
    };
    let required = |names: &[&str]| -> Result<String, String> {
        first(names)?.ok_or_else(|| format!("missing field {}", names.join(" / ")))
    };
    let id = JobId::parse(required(ID_FIELDS)?.trim()).map_err(|e| e.to_string())?;
    let posted_at = match first(POSTED_AT_FIELDS)? {
        Some(text) => Some(parse_timestamp(&text).ok_or_else(|| {
            format!(
                "field posted_at: {text:?} is not a date (expected RFC 3339 or YYYY-MM-DD[ HH:MM:SS])"
            )
        })?),
        None => None,
    };
    let description = required(DESCRIPTION_FIELDS)?;
    if description.len() > options.max_description_bytes {
        return Err(format!(
            "field description: {} bytes, more than the engine's limit of {} bytes (max_input_bytes)",
            description.len(),
            options.max_description_bytes
        ));
    }
    let posting = JobPosting {
        job_posting_id: id,
        title: required(TITLE_FIELDS)?.trim().to_string(),
        company: first(COMPANY_FIELDS)?.map(|v| v.trim().to_string()),
        location: first(LOCATION_FIELDS)?.map(|v| v.trim().to_string()),
        description,
        posted_at,
        source: first(SOURCE_FIELDS)?.or_else(|| options.default_source.clone()),
        url: first(URL_FIELDS)?.map(|v| v.trim().to_string()),
        ingested_at: options.now,
    };
    posting.validate().map_err(|e| e.to_string())?;
    Ok(posting)
}

/// RFC 3339, or a date / date-time without zone taken as UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> IngestOptions {
        IngestOptions {
            batch_size: 2,
            default_source: Some("file".into()),
            enqueue: Vec::new(),
            max_description_bytes: 64,
            now: Utc::now(),
        }
    }

    fn parse_all(text: &str, format: IngestFormat) -> (Vec<JobPosting>, Vec<RowRejection>, u64) {
        let (sender, mut receiver) = mpsc::channel(1_000);
        parse_into_batches(
            std::io::Cursor::new(text.as_bytes().to_vec()),
            format,
            "in",
            &options(),
            &sender,
        );
        drop(sender);
        let (mut postings, mut rejections, mut read) = (Vec::new(), Vec::new(), 0);
        while let Ok(batch) = receiver.try_recv() {
            let batch = batch.unwrap();
            postings.extend(batch.postings);
            rejections.extend(batch.rejections);
            read += batch.rows_read;
        }
        (postings, rejections, read)
    }

    #[test]
    fn bright_data_fields_map_as_they_are() {
        let line = r#"{"job_posting_id":"4012345","job_title":"Data Engineer","company_name":"Acme","job_location":"Berlin","job_summary":"Python and SQL","job_posted_date":"2024-10-21T13:27:17.000Z","url":"https://example.com/4012345","job_seniority_level":"Mid"}"#;
        let (postings, rejections, read) = parse_all(line, IngestFormat::Jsonl);
        assert!(rejections.is_empty(), "{rejections:?}");
        assert_eq!(read, 1);
        let p = &postings[0];
        assert_eq!(p.job_posting_id.as_str(), "4012345");
        assert_eq!(p.title, "Data Engineer");
        assert_eq!(p.company.as_deref(), Some("Acme"));
        assert_eq!(p.location.as_deref(), Some("Berlin"));
        assert_eq!(p.description, "Python and SQL");
        assert_eq!(
            p.posted_at.unwrap().to_rfc3339(),
            "2024-10-21T13:27:17+00:00"
        );
        assert_eq!(p.source.as_deref(), Some("file"));
        assert_eq!(p.url.as_deref(), Some("https://example.com/4012345"));
    }

    #[test]
    fn bad_jsonl_rows_name_their_line_and_reason() {
        let text = "{\"id\":\"a\",\"title\":\"T\",\"description\":\"D\"}\n\nnot json\n{\"id\":\"b\",\"description\":\"D\"}\n[1]\n{\"id\":7,\"title\":\"T\",\"description\":\"D\",\"posted_at\":\"yesterday\"}\n{\"id\":8,\"title\":\"T\",\"description\":\"D\"}\n";
        let (postings, rejections, read) = parse_all(text, IngestFormat::Jsonl);
        let ids: Vec<&str> = postings.iter().map(|p| p.job_posting_id.as_str()).collect();
        assert_eq!(ids, ["a", "8"]);
        assert_eq!(read, 6);
        let lines: Vec<u64> = rejections.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5, 6]);
        assert!(rejections[0].reason.starts_with("invalid JSON"));
        assert_eq!(rejections[1].reason, "missing field title / job_title");
        assert_eq!(rejections[2].reason, "not a JSON object");
        assert!(
            rejections[3].reason.contains("posted_at"),
            "{}",
            rejections[3]
        );
        assert_eq!(rejections[3].to_string().split(':').next(), Some("in"));
    }

    #[test]
    fn invalid_utf8_rejects_only_its_own_line_and_keeps_the_next() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"{\"id\":\"a\",\"title\":\"T\",\"description\":\"D\"}\n");
        bytes.extend_from_slice(b"\xff\xfe not utf-8 \xc3\n");
        bytes.extend_from_slice(b"{\"id\":\"c\",\"title\":\"T\",\"description\":\"D\"}\n");
        bytes.extend_from_slice(b"{\"id\":\"d\",\"title\":\"T\",\"description\":\"D\"}\n");
        bytes.extend_from_slice(b"{broken\n");
        let (sender, mut receiver) = mpsc::channel(1_000);
        parse_into_batches(
            std::io::Cursor::new(bytes),
            IngestFormat::Jsonl,
            "in",
            &options(),
            &sender,
        );
        drop(sender);
        let (mut ids, mut rejected, mut read) = (Vec::new(), Vec::new(), 0);
        while let Ok(batch) = receiver.try_recv() {
            let batch = batch.unwrap();
            ids.extend(batch.postings.iter().map(|p| p.job_posting_id.to_string()));
            rejected.extend(batch.rejections.iter().map(|r| (r.line, r.reason.clone())));
            read += batch.rows_read;
        }
        assert_eq!(read, 5);
        assert_eq!(ids, ["a", "c", "d"]);
        assert_eq!(rejected[0], (2, "not valid UTF-8".to_string()));
        assert_eq!(rejected[1].0, 5);
        assert!(rejected[1].1.starts_with("invalid JSON"), "{rejected:?}");
    }

    #[test]
    fn a_description_over_the_engine_limit_is_rejected_naming_line_and_limit() {
        let long = "x".repeat(65);
        let text = format!(
            "{{\"id\":\"a\",\"title\":\"T\",\"description\":\"{}\"}}\n{{\"id\":\"b\",\"title\":\"T\",\"description\":\"{long}\"}}\n",
            "x".repeat(64)
        );
        let (postings, rejections, read) = parse_all(&text, IngestFormat::Jsonl);
        assert_eq!(read, 2);
        assert_eq!(postings.len(), 1);
        let message = rejections[0].to_string();
        assert!(
            message.starts_with("in:2: field description: 65 bytes"),
            "{message}"
        );
        assert!(message.contains("64 bytes (max_input_bytes)"), "{message}");
    }

    #[test]
    fn a_byte_order_mark_and_blank_lines_are_skipped() {
        let text = "\u{feff}{\"id\":\"a\",\"title\":\"T\",\"description\":\"D\"}\r\n\r\n";
        let (postings, rejections, read) = parse_all(text, IngestFormat::Jsonl);
        assert_eq!((postings.len(), rejections.len(), read), (1, 0, 1));
    }

    #[test]
    fn csv_rows_map_by_header_and_report_their_record_line() {
        let text = "job_posting_id,job_title,job_summary,job_posted_date\n1,Dev,\"multi\nline\",2024-01-02\n2,,text,\n3,Ops,text\n4,QA,text,2024-01-03 10:00:00\n";
        let (postings, rejections, read) = parse_all(text, IngestFormat::Csv);
        assert_eq!(read, 4);
        let ids: Vec<&str> = postings.iter().map(|p| p.job_posting_id.as_str()).collect();
        assert_eq!(ids, ["1", "4"]);
        assert_eq!(postings[0].description, "multi\nline");
        assert_eq!(
            postings[1].posted_at.unwrap().to_rfc3339(),
            "2024-01-03T10:00:00+00:00"
        );
        let found: Vec<(u64, &str)> = rejections
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (4, "missing field title / job_title"),
                (5, "expected 4 fields like the header, got 3")
            ]
        );
    }

    #[test]
    fn csv_without_an_id_column_is_refused_whole() {
        let (sender, mut receiver) = mpsc::channel(10);
        parse_into_batches(
            std::io::Cursor::new(b"title,description\nT,D\n".to_vec()),
            IngestFormat::Csv,
            "x.csv",
            &options(),
            &sender,
        );
        drop(sender);
        let mut errors = Vec::new();
        while let Ok(message) = receiver.try_recv() {
            if let Err(e) = message {
                errors.push(e.to_string());
            }
        }
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("x.csv") && errors[0].contains("no id column"));
    }

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(
            IngestFormat::from_path(Path::new("a/b.JSONL")),
            Some(IngestFormat::Jsonl)
        );
        assert_eq!(
            IngestFormat::from_path(Path::new("b.csv")),
            Some(IngestFormat::Csv)
        );
        assert_eq!(IngestFormat::from_path(Path::new("b.txt")), None);
    }
}
