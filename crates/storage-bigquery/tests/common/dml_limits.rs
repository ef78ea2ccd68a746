//! BigQuery's DML limits, enforced by the test proxy in front of the emulator
//! (which runs every statement at once and enforces none of them). Per table:
//! - at most 2 mutating statements (UPDATE, DELETE, MERGE) run at a time, 20
//!   more wait in a queue, and a statement finding the queue full fails with
//!   "Too many DML statements outstanding against table …, limit is 20";
//! - at most 25 DML statements (INSERT included) start in any 10 s; later ones
//!   wait in the same queue;
//! - a multi-statement transaction that mutates a table another statement is
//!   mutating at that moment is aborted ("concurrent update"), and so is a
//!   mutating statement that meets a running transaction on its table.
//!
//! A request is "running" from when the proxy lets it through until the
//! emulator answers (the client waits up to `query_timeout_ms` per call).

use super::proxy::{Policy, Request, Verdict};
use async_trait::async_trait;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub const RUNNING_MUTATING: usize = 2;
pub const QUEUED: usize = 20;
pub const RATE: usize = 25;
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// The tables a statement changes, and how.
#[derive(Debug, Default, Clone)]
pub struct Dml {
    /// table → statements of the script that change it
    pub statements: BTreeMap<String, usize>,
    /// tables changed by UPDATE/DELETE/MERGE (not only INSERT)
    pub mutating: BTreeSet<String>,
    pub transaction: bool,
}

pub fn parse_dml(sql: &str) -> Dml {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"(?i)\b(?:(UPDATE)\s+|(DELETE)\s+(?:FROM\s+)?|(MERGE)\s+(?:INTO\s+)?|(INSERT)\s+(?:INTO\s+)?)`?([A-Za-z_][A-Za-z0-9_]*)`?",
        )
        .expect("DML pattern")
    });
    let mut dml = Dml {
        transaction: sql.to_ascii_uppercase().contains("BEGIN TRANSACTION"),
        ..Dml::default()
    };
    for c in re.captures_iter(sql) {
        let table = c[5].to_string();
        // `INSERT (cols) VALUES` inside a MERGE names no table; temp tables
        // (`_SESSION`, created in the script) are not BigQuery tables.
        if table.eq_ignore_ascii_case("VALUES")
            || table.eq_ignore_ascii_case("ROW")
            || table.starts_with('_')
            || table.to_ascii_lowercase().starts_with("tmp")
        {
            continue;
        }
        if c.get(4).is_some()
            && sql[..c.get(0).unwrap().start()]
                .to_ascii_uppercase()
                .trim_end()
                .ends_with("THEN")
        {
            continue; // `WHEN NOT MATCHED THEN INSERT (…)` of a MERGE
        }
        *dml.statements.entry(table.clone()).or_default() += 1;
        if c.get(4).is_none() {
            dml.mutating.insert(table);
        }
    }
    dml
}

#[derive(Default)]
struct Table {
    running_mutating: usize,
    running_transactions: usize,
    running_any: usize,
    queued: usize,
    started: VecDeque<Instant>,
}

/// What the simulator saw.
#[derive(Debug, Default, Clone)]
pub struct DmlStats {
    /// table → start times (s since the simulator started) of its statements
    pub starts: BTreeMap<String, Vec<f64>>,
    pub failed_queue_full: u64,
    pub failed_conflict: u64,
    pub waited: u64,
}

impl DmlStats {
    /// The most statements any table started in one 10 s window.
    pub fn max_per_table_per_window(&self) -> (String, usize) {
        let mut best = (String::new(), 0);
        for (table, starts) in &self.starts {
            let mut sorted = starts.clone();
            sorted.sort_by(f64::total_cmp);
            let mut lo = 0;
            for hi in 0..sorted.len() {
                while sorted[hi] - sorted[lo] >= RATE_WINDOW.as_secs_f64() {
                    lo += 1;
                }
                if hi + 1 - lo > best.1 {
                    best = (table.clone(), hi + 1 - lo);
                }
            }
        }
        best
    }

    pub fn failed(&self) -> u64 {
        self.failed_queue_full + self.failed_conflict
    }
}

pub struct DmlLimits {
    project: String,
    tables: Mutex<BTreeMap<String, Table>>,
    stats: Mutex<DmlStats>,
    changed: Notify,
    origin: Instant,
}

impl DmlLimits {
    pub fn new(project: &str) -> Self {
        Self {
            project: project.to_string(),
            tables: Mutex::new(BTreeMap::new()),
            stats: Mutex::new(DmlStats::default()),
            changed: Notify::new(),
            origin: Instant::now(),
        }
    }

    pub fn stats(&self) -> DmlStats {
        self.stats.lock().unwrap().clone()
    }

    fn fail(&self, reason: &'static str, message: String, conflict: bool) -> Verdict {
        let mut stats = self.stats.lock().unwrap();
        if conflict {
            stats.failed_conflict += 1;
        } else {
            stats.failed_queue_full += 1;
        }
        Verdict::Fail {
            status: 400,
            reason,
            message,
        }
    }
}

#[async_trait]
impl Policy for DmlLimits {
    async fn admit(&self, request: &Request) -> Verdict {
        let Some(sql) = request.sql() else {
            return Verdict::Forward;
        };
        let dml = parse_dml(&sql);
        if dml.statements.is_empty() {
            return Verdict::Forward;
        }
        // Conflicts are decided when the statement arrives.
        {
            let tables = self.tables.lock().unwrap();
            for table in &dml.mutating {
                let Some(t) = tables.get(table) else { continue };
                if (dml.transaction && t.running_mutating > 0) || t.running_transactions > 0 {
                    drop(tables);
                    return self.fail(
                        "invalidQuery",
                        format!(
                            "Transaction is aborted due to concurrent update against table {}:d.{table}. \
                             Could not serialize access to table due to concurrent update",
                            self.project
                        ),
                        true,
                    );
                }
            }
        }
        // Enter each table's queue (in name order, so two scripts never wait on each other).
        let mut waited = false;
        for (table, &count) in &dml.statements {
            let mutating = dml.mutating.contains(table);
            let mut queued_here = false;
            loop {
                let notified = self.changed.notified();
                {
                    let mut tables = self.tables.lock().unwrap();
                    let t = tables.entry(table.clone()).or_default();
                    let now = Instant::now();
                    while t
                        .started
                        .front()
                        .is_some_and(|s| now.duration_since(*s) >= RATE_WINDOW)
                    {
                        t.started.pop_front();
                    }
                    let slot = !mutating || t.running_mutating < RUNNING_MUTATING;
                    let rate = t.started.len() + count <= RATE.max(count);
                    if slot && rate {
                        if queued_here {
                            t.queued -= 1;
                        }
                        t.running_any += 1;
                        if mutating {
                            t.running_mutating += 1;
                            if dml.transaction {
                                t.running_transactions += 1;
                            }
                        }
                        for _ in 0..count {
                            t.started.push_back(now);
                        }
                        let at = now.duration_since(self.origin).as_secs_f64();
                        let mut stats = self.stats.lock().unwrap();
                        stats
                            .starts
                            .entry(table.clone())
                            .or_default()
                            .extend(std::iter::repeat_n(at, count));
                        break;
                    }
                    if !queued_here {
                        if t.queued >= QUEUED {
                            drop(tables);
                            // Give back what this script already holds.
                            self.release(&dml, Some(table));
                            return self.fail(
                                "quotaExceeded",
                                format!(
                                    "Resources exceeded during query execution: Too many DML \
                                     statements outstanding against table {}:d.{table}, limit is {QUEUED}.",
                                    self.project
                                ),
                                false,
                            );
                        }
                        t.queued += 1;
                        queued_here = true;
                        waited = true;
                    }
                }
                // Re-check at least every 100 ms (the rate window slides with time).
                let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
            }
        }
        if waited {
            self.stats.lock().unwrap().waited += 1;
        }
        Verdict::Forward
    }

    fn finished(&self, request: &Request, status: u16) {
        let Some(sql) = request.sql() else { return };
        let _ = status;
        let dml = parse_dml(&sql);
        if !dml.statements.is_empty() {
            self.release(&dml, None);
        }
    }
}

impl DmlLimits {
    /// Leaves the tables of `dml` (those before `upto` when it gave up midway).
    fn release(&self, dml: &Dml, upto: Option<&String>) {
        let mut tables = self.tables.lock().unwrap();
        for table in dml.statements.keys() {
            if Some(table) == upto {
                break;
            }
            if let Some(t) = tables.get_mut(table) {
                t.running_any = t.running_any.saturating_sub(1);
                if dml.mutating.contains(table) {
                    t.running_mutating = t.running_mutating.saturating_sub(1);
                    if dml.transaction {
                        t.running_transactions = t.running_transactions.saturating_sub(1);
                    }
                }
            }
        }
        drop(tables);
        self.changed.notify_waiters();
    }
}
