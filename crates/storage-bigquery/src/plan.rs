//! Queue operations planned in Rust over the rows they read, then applied by
//! one compare-and-set transaction: claims, completions and releases of any
//! number of callers become one UPDATE of `job_enrichments` plus one
//! DELETE/INSERT per result table, however many operations the plan holds.
//!
//! The rules are the domain's (`JobEnrichment::claim`, `complete`, `release`);
//! this module only keeps the rows in memory between operations and turns the
//! changes into staged rows and a script.

use crate::codec;
use crate::schema::{names, Cols, Ty, EMBEDDING_COLS, SECTION_COLS, SKILL_COLS};
use crate::Batch;
use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{
    ClaimRequest, ClaimStep, CompletionReport, CompletionStep, EnrichmentKey, EnrichmentOutcome,
    EnrichmentResult, EnrichmentType, ExtractedSkill, JobEmbedding, JobEnrichment,
    SectionClassification,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Raised by a script whose compare-and-set found a row changed.
pub(crate) const ROW_CHANGED: &str = "jobenrich: enrichment row changed concurrently";

/// `t` as stored: BigQuery keeps microseconds, so a row handed back from a
/// plan equals the row read afterwards.
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// The new state of a row plus what it looked like when read (for the CAS).
pub(crate) fn state_json(new: &JobEnrichment, seen: &JobEnrichment) -> Value {
    let m = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros());
    json!({
        "job_posting_id": new.job_posting_id.as_str(), "enrichment_type": new.enrichment_type.as_str(),
        "enrichment_version": new.enrichment_version.as_str(), "status": new.status.as_str(),
        "model_id": new.model_id.as_ref().map(|x| x.as_str()),
        "model_version": new.model_version.as_ref().map(|x| x.as_str()),
        "attempts": new.attempts, "error_message": new.error_message,
        "lease_owner": new.lease_owner, "lease_expires_at": m(new.lease_expires_at),
        "next_attempt_at": m(new.next_attempt_at), "created_at": new.created_at.timestamp_micros(),
        "updated_at": new.updated_at.timestamp_micros(), "completed_at": m(new.completed_at),
        "metadata": new.metadata,
        "seen_status": seen.status.as_str(), "seen_updated_at": seen.updated_at.timestamp_micros(),
        "seen_attempts": seen.attempts, "seen_owner": seen.lease_owner,
    })
}

/// Columns of a staged state row: the enrichment columns plus the seen ones.
pub(crate) const STATE_COLS: Cols = &[
    ("job_posting_id", Ty::Str),
    ("enrichment_type", Ty::Str),
    ("enrichment_version", Ty::Str),
    ("status", Ty::Str),
    ("model_id", Ty::Str),
    ("model_version", Ty::Str),
    ("attempts", Ty::Int),
    ("error_message", Ty::Str),
    ("lease_owner", Ty::Str),
    ("lease_expires_at", Ty::Ts),
    ("next_attempt_at", Ty::Ts),
    ("updated_at", Ty::Ts),
    ("completed_at", Ty::Ts),
    ("metadata", Ty::Json),
    ("seen_status", Ty::Str),
    ("seen_updated_at", Ty::Ts),
    ("seen_attempts", Ty::Int),
    ("seen_owner", Ty::Str),
];

/// One compare-and-set UPDATE of the staged state rows; `IF` raises (rolling
/// the whole script back) unless every row still looked as it was read.
pub(crate) fn cas_update_sql(source: &str) -> String {
    format!(
        "UPDATE job_enrichments e SET status = u.status, model_id = u.model_id,
             model_version = u.model_version, attempts = u.attempts,
             error_message = u.error_message, lease_owner = u.lease_owner,
             lease_expires_at = u.lease_expires_at, next_attempt_at = u.next_attempt_at,
             updated_at = u.updated_at, completed_at = u.completed_at, metadata = u.metadata,
             claim_token = NULL
         FROM {source} u
         WHERE e.job_posting_id = u.job_posting_id AND e.enrichment_type = u.enrichment_type
           AND e.enrichment_version = u.enrichment_version AND e.status = u.seen_status
           AND e.updated_at = u.seen_updated_at AND e.attempts = u.seen_attempts
           AND COALESCE(e.lease_owner, '') = COALESCE(u.seen_owner, '');
         IF @@row_count <> @expected_rows THEN
           RAISE USING MESSAGE = '{ROW_CHANGED}';
         END IF;"
    )
}

/// Rows read once, changed by operations in order, written once.
#[derive(Default)]
pub(crate) struct Plan {
    /// Each row as read: what the compare-and-set expects to find.
    seen: HashMap<EnrichmentKey, JobEnrichment>,
    /// Each row as the operations so far left it.
    rows: HashMap<EnrichmentKey, JobEnrichment>,
    /// Rows to write, in the order they first changed.
    changed: Vec<EnrichmentKey>,
    changed_set: std::collections::HashSet<EnrichmentKey>,
    /// (job, version) whose skills and vector a success replaces.
    replaced: BTreeSet<(String, String)>,
    skills: BTreeMap<(String, String, String), ExtractedSkill>,
    sections: BTreeMap<(String, String, u32), SectionClassification>,
    embeddings: BTreeMap<(String, String), JobEmbedding>,
    /// Only a plan with `embeddings` successes touches `job_embeddings`.
    replaces_embeddings: bool,
}

impl Plan {
    pub(crate) fn new(read: Vec<JobEnrichment>) -> Self {
        let mut plan = Self::default();
        for row in read {
            plan.seen.insert(row.key(), row.clone());
            plan.rows.insert(row.key(), row);
        }
        plan
    }

    fn mark(&mut self, key: &EnrichmentKey) {
        if self.changed_set.insert(key.clone()) {
            self.changed.push(key.clone());
        }
    }

    /// The rows to be written, as the plan leaves them.
    pub(crate) fn changed_rows(&self) -> impl Iterator<Item = &JobEnrichment> {
        self.changed.iter().filter_map(|k| self.rows.get(k))
    }

    /// Whether nothing is to be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }

    /// Leases up to `request.limit` of `candidates` (keys in claim order:
    /// oldest first) that match the request and are due at its `now`. An
    /// abandoned row takes a place of the limit, as in the one-statement claim.
    pub(crate) fn claim(
        &mut self,
        request: &ClaimRequest,
        candidates: &[EnrichmentKey],
    ) -> Vec<JobEnrichment> {
        let request = ClaimRequest {
            now: micros(request.now),
            ..request.clone()
        };
        let mut taken = 0;
        let mut leased = Vec::new();
        for key in candidates {
            if taken == request.limit {
                break;
            }
            if key.enrichment_type != request.enrichment_type
                || request
                    .enrichment_version
                    .as_ref()
                    .is_some_and(|v| *v != key.enrichment_version)
            {
                continue;
            }
            let Some(row) = self.rows.get_mut(key) else {
                continue;
            };
            match row.claim(&request) {
                ClaimStep::NotDue => continue,
                ClaimStep::Leased => leased.push(row.clone()),
                ClaimStep::Abandoned => {}
            }
            taken += 1;
            self.mark(key);
        }
        leased
    }

    /// Releases the rows among `keys` that `owner` holds; how many.
    pub(crate) fn release(
        &mut self,
        keys: &[EnrichmentKey],
        owner: &str,
        now: DateTime<Utc>,
    ) -> u64 {
        let now = micros(now);
        let mut released = 0;
        for key in keys {
            if self
                .rows
                .get_mut(key)
                .is_some_and(|r| r.release(owner, now))
            {
                released += 1;
                self.mark(key);
            }
        }
        released
    }

    /// Applies a batch of outcomes; later outcomes of a key see what earlier
    /// ones did (a second success of one lease is a lost lease).
    pub(crate) fn complete(
        &mut self,
        outcomes: &[EnrichmentOutcome],
        now: DateTime<Utc>,
    ) -> StoreResult<CompletionReport> {
        let now = micros(now);
        let mut report = CompletionReport::default();
        for outcome in outcomes {
            let Some(row) = self.rows.get_mut(&outcome.key) else {
                report.lost_leases.push(outcome.key.clone());
                continue;
            };
            match row.complete(outcome, now)? {
                CompletionStep::LostLease => {
                    report.lost_leases.push(outcome.key.clone());
                    continue;
                }
                CompletionStep::Failed => report.failed += 1,
                CompletionStep::Succeeded { skills, embedding } => {
                    let (job, version) = (
                        outcome.key.job_posting_id.to_string(),
                        outcome.key.enrichment_version.to_string(),
                    );
                    self.replaces_embeddings |= embedding.is_some()
                        || outcome.key.enrichment_type == EnrichmentType::Embeddings;
                    match embedding {
                        Some(e) => {
                            report.embeddings_written += 1;
                            self.embeddings.insert((version.clone(), job.clone()), e);
                        }
                        None => {
                            self.embeddings.remove(&(version.clone(), job.clone()));
                        }
                    }
                    if self.replaced.contains(&(job.clone(), version.clone())) {
                        self.skills
                            .retain(|(j, v, _), _| !(*j == job && *v == version));
                    }
                    report.skills_written += skills.len() as u64;
                    for s in skills {
                        self.skills
                            .insert((job.clone(), version.clone(), s.skill_name.clone()), s);
                    }
                    self.replaced.insert((job, version));
                    if let EnrichmentResult::Success(success) = &outcome.result {
                        for s in &success.sections {
                            self.sections.insert(
                                (
                                    s.job_posting_id.to_string(),
                                    s.classifier_version.clone(),
                                    s.section_index,
                                ),
                                s.clone(),
                            );
                        }
                        report.sections_written += success.sections.len() as u64;
                    }
                    report.succeeded += 1;
                }
            }
            let key = outcome.key.clone();
            self.mark(&key);
        }
        Ok(report)
    }

    /// Rows to stage for [`Plan::script`], and how many state rows the
    /// compare-and-set must find.
    pub(crate) fn staged_rows(&self) -> (Vec<(&'static str, Value)>, i64) {
        let mut rows: Vec<(&'static str, Value)> = self
            .changed
            .iter()
            .filter_map(|k| Some(("state", state_json(self.rows.get(k)?, self.seen.get(k)?))))
            .collect();
        let states = rows.len() as i64;
        rows.extend(self.replaced.iter().map(|(job, version)| {
            (
                "replaced",
                json!({"job_posting_id": job, "enrichment_version": version}),
            )
        }));
        rows.extend(
            self.skills
                .values()
                .map(|s| ("skill", codec::skill_json(s))),
        );
        rows.extend(
            self.sections
                .values()
                .map(|s| ("section", codec::section_json(s))),
        );
        rows.extend(
            self.embeddings
                .values()
                .map(|e| ("embedding", codec::embedding_json(e))),
        );
        (rows, states)
    }

    /// The transaction writing the plan; `before` and `after` are statements
    /// of the caller run inside it (a leadership check, replies).
    pub(crate) fn script(&self, batch: &Batch, before: &str, after: &str) -> String {
        let replaced = batch.source(
            &[("job_posting_id", Ty::Str), ("enrichment_version", Ty::Str)],
            "replaced",
        );
        let results = if self.replaced.is_empty() && self.sections.is_empty() {
            String::new()
        } else {
            format!(
                "DELETE FROM job_skills k WHERE EXISTS (SELECT 1 FROM {replaced} r
                     WHERE r.job_posting_id = k.job_posting_id AND r.enrichment_version = k.enrichment_version);
                 INSERT INTO job_skills ({skill_cols}) SELECT {skill_cols} FROM {staged_skills};
                 DELETE FROM section_classifications c WHERE EXISTS (SELECT 1 FROM {staged_sections} n
                     WHERE n.job_posting_id = c.job_posting_id AND n.classifier_version = c.classifier_version);
                 INSERT INTO section_classifications ({section_cols})
                     SELECT {section_cols} FROM {staged_sections};",
                skill_cols = names(SKILL_COLS),
                staged_skills = batch.source(SKILL_COLS, "skill"),
                section_cols = names(SECTION_COLS),
                staged_sections = batch.source(SECTION_COLS, "section"),
            )
        };
        let embeddings = if self.replaces_embeddings {
            format!(
                "DELETE FROM job_embeddings m WHERE EXISTS (SELECT 1 FROM {replaced} r
                     WHERE r.job_posting_id = m.job_posting_id
                       AND r.enrichment_version = m.enrichment_version);
                 INSERT INTO job_embeddings ({cols}) SELECT {cols} FROM {staged};",
                cols = names(EMBEDDING_COLS),
                staged = batch.source(EMBEDDING_COLS, "embedding"),
            )
        } else {
            String::new()
        };
        let cas = if self.is_empty() {
            String::new()
        } else {
            cas_update_sql(&batch.source(STATE_COLS, "state"))
        };
        format!(
            "BEGIN TRANSACTION;
             {before}
             {cas}
             {results}
             {embeddings}
             {after}
             COMMIT TRANSACTION;"
        )
    }
}
