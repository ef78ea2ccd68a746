//! `EnrichmentRepository` over `job_enrichments`: the work queue, its leases,
//! the re-enrichment anti-join and idempotent result writes.
//!
//! BigQuery has no row locks, so every state change is a conditional UPDATE:
//! claims lease the oldest due rows in one statement tagged with a claim token;
//! transitions and completions compare-and-set against the state they read and
//! start over when a row changed underneath (a lost race, never a double write).

use crate::client::Params;
use crate::codec::{self, enrichment_from_row};
use crate::schema::{
    from_json_param, names, select_list, EMBEDDING_COLS, ENRICHMENT_COLS, SECTION_COLS, SKILL_COLS,
};
use crate::{limit, BigQueryStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    ClaimRequest, CompletionReport, CompletionStep, DomainError, EnrichmentKey, EnrichmentOutcome,
    EnrichmentRepository, EnrichmentResult, EnrichmentStatus, EnrichmentStatusCount,
    EnrichmentType, EnrichmentVersion, ExtractedSkill, JobEmbedding, JobEnrichment, JobId,
    SectionClassification, StoreError, TransitionDetails,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

const E: &str = "JobEnrichment";
/// Raised by a completion script whose compare-and-set found a row changed.
const ROW_CHANGED: &str = "jobenrich: enrichment row changed concurrently";
/// Compare-and-set rounds before a transition or completion gives up.
const CAS_ROUNDS: usize = 8;

fn key_text(key: &EnrichmentKey) -> String {
    format!(
        "{}/{}/{}",
        key.job_posting_id, key.enrichment_type, key.enrichment_version
    )
}

/// Keys as a JSON array parameter, matched with `keys_match`.
pub(crate) fn keys_json(keys: &[EnrichmentKey]) -> String {
    Value::Array(
        keys.iter()
            .map(|k| {
                json!({"j": k.job_posting_id.as_str(), "t": k.enrichment_type.as_str(),
                       "v": k.enrichment_version.as_str()})
            })
            .collect(),
    )
    .to_string()
}

fn keys_match(alias: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM UNNEST(JSON_QUERY_ARRAY(@keys)) k
                 WHERE JSON_VALUE(k, '$.j') = {alias}.job_posting_id
                   AND JSON_VALUE(k, '$.t') = {alias}.enrichment_type
                   AND JSON_VALUE(k, '$.v') = {alias}.enrichment_version)"
    )
}

/// The new state of a row plus what it looked like when read (for the CAS).
fn state_json(new: &JobEnrichment, seen: &JobEnrichment) -> Value {
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
const STATE_COLS: crate::schema::Cols = &[
    ("job_posting_id", crate::schema::Ty::Str),
    ("enrichment_type", crate::schema::Ty::Str),
    ("enrichment_version", crate::schema::Ty::Str),
    ("status", crate::schema::Ty::Str),
    ("model_id", crate::schema::Ty::Str),
    ("model_version", crate::schema::Ty::Str),
    ("attempts", crate::schema::Ty::Int),
    ("error_message", crate::schema::Ty::Str),
    ("lease_owner", crate::schema::Ty::Str),
    ("lease_expires_at", crate::schema::Ty::Ts),
    ("next_attempt_at", crate::schema::Ty::Ts),
    ("updated_at", crate::schema::Ty::Ts),
    ("completed_at", crate::schema::Ty::Ts),
    ("metadata", crate::schema::Ty::Json),
    ("seen_status", crate::schema::Ty::Str),
    ("seen_updated_at", crate::schema::Ty::Ts),
    ("seen_attempts", crate::schema::Ty::Int),
    ("seen_owner", crate::schema::Ty::Str),
];

/// One compare-and-set UPDATE of the staged state rows; `IF` raises (rolling
/// the whole script back) unless every row still looked as it was read.
fn cas_update_sql(source: &str) -> String {
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

impl BigQueryStore {
    async fn load_enrichments(&self, keys: &[EnrichmentKey]) -> StoreResult<Vec<JobEnrichment>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM job_enrichments e WHERE {}",
            select_list(ENRICHMENT_COLS, "e"),
            keys_match("e")
        );
        let out = self
            .query(
                "reading enrichments",
                &sql,
                Params::new().str("keys", keys_json(keys)),
            )
            .await?;
        out.rows.iter().map(enrichment_from_row).collect()
    }

    /// One round of a completion: read, decide, stage, apply under CAS.
    async fn complete_round(
        &self,
        outcomes: &[EnrichmentOutcome],
        now: DateTime<Utc>,
    ) -> StoreResult<CompletionReport> {
        let keys: Vec<EnrichmentKey> = outcomes.iter().map(|o| o.key.clone()).collect();
        let current: HashMap<EnrichmentKey, JobEnrichment> = self
            .load_enrichments(&keys)
            .await?
            .into_iter()
            .map(|e| (e.key(), e))
            .collect();
        let mut report = CompletionReport::default();
        let mut staged_rows: Vec<(&'static str, Value)> = Vec::new();
        let mut states = 0u64;
        // Later outcomes of the same key see the state the earlier ones wrote.
        let mut written: HashMap<EnrichmentKey, JobEnrichment> = HashMap::new();
        let mut skills: BTreeMap<(String, String), ExtractedSkill> = BTreeMap::new();
        let mut sections: BTreeMap<(String, String, u32), SectionClassification> = BTreeMap::new();
        let mut replaced_jobs = Vec::new();
        let mut embeddings: BTreeMap<(String, String), JobEmbedding> = BTreeMap::new();
        // Only a batch with embeddings enrichments touches job_embeddings.
        let mut replaces_embeddings = false;
        for outcome in outcomes {
            let Some(seen) = written
                .get(&outcome.key)
                .or(current.get(&outcome.key))
                .cloned()
            else {
                report.lost_leases.push(outcome.key.clone());
                continue;
            };
            let mut row = seen.clone();
            match row.complete(outcome, now)? {
                CompletionStep::LostLease => {
                    report.lost_leases.push(outcome.key.clone());
                    continue;
                }
                CompletionStep::Failed => report.failed += 1,
                CompletionStep::Succeeded {
                    skills: written_skills,
                    embedding,
                } => {
                    replaces_embeddings |= embedding.is_some()
                        || outcome.key.enrichment_type == EnrichmentType::Embeddings;
                    match embedding {
                        Some(e) => {
                            report.embeddings_written += 1;
                            embeddings.insert(
                                (
                                    e.enrichment_version.to_string(),
                                    e.job_posting_id.to_string(),
                                ),
                                e,
                            );
                        }
                        // A later outcome of the same key without a vector replaces it with none.
                        None => {
                            embeddings.remove(&(
                                outcome.key.enrichment_version.to_string(),
                                outcome.key.job_posting_id.to_string(),
                            ));
                        }
                    }
                    replaced_jobs.push(json!({
                        "job_posting_id": outcome.key.job_posting_id.as_str(),
                        "enrichment_version": outcome.key.enrichment_version.as_str(),
                    }));
                    report.skills_written += written_skills.len() as u64;
                    for s in written_skills {
                        skills.insert((s.job_posting_id.to_string(), s.skill_name.clone()), s);
                    }
                    if let EnrichmentResult::Success(success) = &outcome.result {
                        for s in &success.sections {
                            sections.insert(
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
            if let Some(first_seen) = current.get(&outcome.key) {
                // The CAS compares with what the store holds, not an earlier outcome's state.
                if let Some(pos) = staged_rows.iter().position(|(kind, v)| {
                    *kind == "state"
                        && v["job_posting_id"] == outcome.key.job_posting_id.as_str()
                        && v["enrichment_type"] == outcome.key.enrichment_type.as_str()
                        && v["enrichment_version"] == outcome.key.enrichment_version.as_str()
                }) {
                    staged_rows.remove(pos);
                    states -= 1;
                }
                staged_rows.push(("state", state_json(&row, first_seen)));
                states += 1;
            }
            written.insert(outcome.key.clone(), row);
        }
        if states == 0 {
            return Ok(report);
        }
        staged_rows.extend(replaced_jobs.into_iter().map(|v| ("replaced", v)));
        staged_rows.extend(skills.values().map(|s| ("skill", codec::skill_json(s))));
        staged_rows.extend(
            sections
                .values()
                .map(|s| ("section", codec::section_json(s))),
        );
        staged_rows.extend(
            embeddings
                .values()
                .map(|e| ("embedding", codec::embedding_json(e))),
        );
        let batch = self.stage(staged_rows).await?;
        let replaced = batch.source(
            &[
                ("job_posting_id", crate::schema::Ty::Str),
                ("enrichment_version", crate::schema::Ty::Str),
            ],
            "replaced",
        );
        let script = format!(
            "BEGIN TRANSACTION;
             {cas}
             DELETE FROM job_skills k WHERE EXISTS (SELECT 1 FROM {replaced} r
                 WHERE r.job_posting_id = k.job_posting_id AND r.enrichment_version = k.enrichment_version);
             INSERT INTO job_skills ({skill_cols}) SELECT {skill_cols} FROM {staged_skills};
             DELETE FROM section_classifications c WHERE EXISTS (SELECT 1 FROM {staged_sections} n
                 WHERE n.job_posting_id = c.job_posting_id AND n.classifier_version = c.classifier_version);
             INSERT INTO section_classifications ({section_cols})
                 SELECT {section_cols} FROM {staged_sections};
             {embedding_statements}
             COMMIT TRANSACTION;",
            cas = cas_update_sql(&batch.source(STATE_COLS, "state")),
            skill_cols = names(SKILL_COLS),
            staged_skills = batch.source(SKILL_COLS, "skill"),
            section_cols = names(SECTION_COLS),
            staged_sections = batch.source(SECTION_COLS, "section"),
            embedding_statements = if replaces_embeddings {
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
            },
        );
        self.query(
            "completing enrichments",
            &script,
            Params::new()
                .str("batch", batch.param())
                .i64("expected_rows", states as i64),
        )
        .await?;
        Ok(report)
    }
}

fn row_changed(e: &StoreError) -> bool {
    e.to_string().contains(ROW_CHANGED)
}

#[async_trait]
impl EnrichmentRepository for BigQueryStore {
    async fn enqueue_enrichments(
        &self,
        job_ids: &[JobId],
        enrichment_type: EnrichmentType,
        enrichment_version: &EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if job_ids.is_empty() {
            return Ok(0);
        }
        let sql = "MERGE job_enrichments t
             USING (SELECT DISTINCT id AS job_posting_id FROM UNNEST(@ids) AS id) s
             ON t.job_posting_id = s.job_posting_id AND t.enrichment_type = @type
                AND t.enrichment_version = @version
             WHEN NOT MATCHED THEN INSERT (enrichment_id, job_posting_id, enrichment_type,
                 enrichment_version, status, attempts, metadata, created_at, updated_at)
             VALUES (GENERATE_UUID(), s.job_posting_id, @type, @version, 'pending', 0,
                 PARSE_JSON('{}'), @now, @now)";
        let mut created = 0;
        // Array parameters stay well under the 10 MB request limit.
        for chunk in job_ids.chunks(10_000) {
            let out = self
                .query(
                    "enqueueing enrichments",
                    sql,
                    Params::new()
                        .str_array("ids", chunk.iter().map(|i| i.to_string()))
                        .str("type", enrichment_type.as_str())
                        .str("version", enrichment_version.as_str())
                        .ts("now", now),
                )
                .await?;
            created += out.dml_affected.unwrap_or(0);
        }
        Ok(created)
    }

    async fn find_jobs_needing_enrichment(
        &self,
        enrichment_type: EnrichmentType,
        enrichment_version: &EnrichmentVersion,
        limit_rows: usize,
    ) -> StoreResult<Vec<JobId>> {
        if limit_rows == 0 {
            return Ok(Vec::new());
        }
        let sql = "SELECT p.job_posting_id FROM job_postings p
             WHERE NOT EXISTS (SELECT 1 FROM job_enrichments e
                 WHERE e.job_posting_id = p.job_posting_id AND e.enrichment_type = @type
                   AND e.enrichment_version = @version AND e.status = 'success')
             ORDER BY p.job_posting_id LIMIT @limit";
        let out = self
            .query(
                "finding jobs needing enrichment",
                sql,
                Params::new()
                    .str("type", enrichment_type.as_str())
                    .str("version", enrichment_version.as_str())
                    .i64("limit", limit(limit_rows)),
            )
            .await?;
        out.rows
            .iter()
            .map(|r| {
                let id = r.str(0)?;
                JobId::parse(id.clone()).map_err(|e| codec::corrupt("JobPosting", &id, e))
            })
            .collect()
    }

    async fn claim_enrichments(&self, request: &ClaimRequest) -> StoreResult<Vec<JobEnrichment>> {
        request.validate()?;
        if request.limit == 0 {
            return Ok(Vec::new());
        }
        // One UPDATE picks and leases the oldest due rows; BigQuery serializes
        // concurrent DML on a table, so two claimers never lease the same row.
        // The token names this claim: a retried request (response lost) leases
        // nothing more and the SELECT returns what the first attempt leased.
        // The attempts cap (ClaimRequest::abandons) is in the same statement,
        // not a second DML (each one counts against the table's DML queue):
        // an expired lease with its attempts used up is failed, not leased.
        let token = uuid::Uuid::new_v4().to_string();
        let abandon = "(e.status = 'processing' AND COALESCE(e.attempts, 0) >= @max_attempts)";
        let script = format!(
            "UPDATE job_enrichments e
             SET status = IF({abandon}, 'failed', 'processing'),
                 lease_owner = IF({abandon}, NULL, @owner),
                 lease_expires_at = IF({abandon}, NULL, @expires),
                 attempts = IF({abandon}, e.attempts, COALESCE(e.attempts, 0) + 1),
                 error_message = IF({abandon}, @abandoned, NULL),
                 next_attempt_at = IF({abandon}, NULL, e.next_attempt_at),
                 updated_at = @now, completed_at = IF({abandon}, @now, NULL),
                 claim_token = IF({abandon}, NULL, @token)
             WHERE NOT EXISTS (SELECT 1 FROM job_enrichments t WHERE t.claim_token = @token)
               AND EXISTS (SELECT 1 FROM (
                   SELECT job_posting_id, enrichment_type, enrichment_version FROM job_enrichments
                   WHERE enrichment_type = @type
                     AND (@version = '' OR enrichment_version = @version)
                     AND ((status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= @now))
                          OR (status = 'processing' AND lease_expires_at <= @now))
                   ORDER BY created_at, job_posting_id, enrichment_version
                   LIMIT @limit) c
                 WHERE c.job_posting_id = e.job_posting_id AND c.enrichment_type = e.enrichment_type
                   AND c.enrichment_version = e.enrichment_version);
             SELECT {} FROM job_enrichments WHERE claim_token = @token
             ORDER BY created_at, job_posting_id, enrichment_version;",
            select_list(ENRICHMENT_COLS, "")
        );
        let out = self
            .query(
                "claiming enrichments",
                &script,
                Params::new()
                    .str("owner", &request.owner)
                    .ts("expires", request.now + request.lease)
                    .ts("now", request.now)
                    .str("token", &token)
                    .str("type", request.enrichment_type.as_str())
                    .str(
                        "version",
                        request
                            .enrichment_version
                            .as_ref()
                            .map_or("", |v| v.as_str()),
                    )
                    .i64("limit", limit(request.limit))
                    .i64("max_attempts", i64::from(request.max_attempts))
                    .str("abandoned", request.abandoned_error()),
            )
            .await?;
        out.rows.iter().map(enrichment_from_row).collect()
    }

    async fn complete_enrichments(
        &self,
        outcomes: &[EnrichmentOutcome],
        now: DateTime<Utc>,
    ) -> StoreResult<CompletionReport> {
        for outcome in outcomes {
            outcome.validate()?;
        }
        if outcomes.is_empty() {
            return Ok(CompletionReport::default());
        }
        let mut last = None;
        for _ in 0..CAS_ROUNDS {
            match self.complete_round(outcomes, now).await {
                Err(e) if row_changed(&e) => last = Some(e),
                other => return other,
            }
        }
        Err(StoreError::Transient(format!(
            "completing enrichments: rows kept changing concurrently ({})",
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    async fn release_enrichments(
        &self,
        keys: &[EnrichmentKey],
        owner: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "UPDATE job_enrichments e
             SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                 attempts = GREATEST(e.attempts - 1, 0), updated_at = @now,
                 completed_at = NULL, claim_token = NULL
             WHERE e.status = 'processing' AND e.lease_owner = @owner AND {}",
            keys_match("e")
        );
        let out = self
            .query(
                "releasing enrichments",
                &sql,
                Params::new()
                    .str("keys", keys_json(keys))
                    .str("owner", owner)
                    .ts("now", now),
            )
            .await?;
        Ok(out.dml_affected.unwrap_or(0))
    }

    async fn requeue_failed(
        &self,
        enrichment_type: EnrichmentType,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE job_enrichments
             SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                 completed_at = NULL, updated_at = @now
             WHERE enrichment_type = @type AND status = 'failed' AND attempts < @max
               AND (next_attempt_at IS NULL OR next_attempt_at <= @now)
               AND NOT {}",
            final_failure_sql()
        );
        let out = self
            .query(
                "requeueing failed enrichments",
                &sql,
                Params::new()
                    .str("type", enrichment_type.as_str())
                    .i64("max", i64::from(max_attempts))
                    .ts("now", now),
            )
            .await?;
        Ok(out.dml_affected.unwrap_or(0))
    }

    async fn transition_enrichment(
        &self,
        key: &EnrichmentKey,
        to: EnrichmentStatus,
        details: &TransitionDetails,
        now: DateTime<Utc>,
    ) -> StoreResult<JobEnrichment> {
        for _ in 0..CAS_ROUNDS {
            let seen = self
                .get_enrichment(key)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    entity: E,
                    key: key_text(key),
                })?;
            let mut row = seen.clone();
            row.apply_transition(to, details, now)?;
            let script = cas_update_sql(&from_json_param(STATE_COLS, "row"));
            match self
                .query(
                    "transitioning an enrichment",
                    &script,
                    Params::new()
                        .str("row", state_json(&row, &seen).to_string())
                        .i64("expected_rows", 1),
                )
                .await
            {
                Ok(_) => return Ok(row),
                Err(e) if row_changed(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict {
            entity: E,
            key: key_text(key),
            reason: "the row kept changing concurrently".into(),
        })
    }

    async fn get_enrichment(&self, key: &EnrichmentKey) -> StoreResult<Option<JobEnrichment>> {
        Ok(self
            .load_enrichments(std::slice::from_ref(key))
            .await?
            .pop())
    }

    async fn get_enrichments(&self, keys: &[EnrichmentKey]) -> StoreResult<Vec<JobEnrichment>> {
        self.load_enrichments(keys).await
    }

    async fn enrichments_for_job(&self, job_posting_id: &JobId) -> StoreResult<Vec<JobEnrichment>> {
        let sql = format!(
            "SELECT {} FROM job_enrichments WHERE job_posting_id = @job
             ORDER BY enrichment_type, enrichment_version",
            select_list(ENRICHMENT_COLS, "")
        );
        let out = self
            .query(
                "reading a job's enrichments",
                &sql,
                Params::new().str("job", job_posting_id.as_str()),
            )
            .await?;
        out.rows.iter().map(enrichment_from_row).collect()
    }

    async fn enrichment_status_counts(&self) -> StoreResult<Vec<EnrichmentStatusCount>> {
        let out = self
            .query(
                "counting enrichments by status",
                "SELECT enrichment_type, enrichment_version, status, COUNT(*),
                        UNIX_MICROS(MIN(created_at))
                 FROM job_enrichments
                 GROUP BY enrichment_type, enrichment_version, status
                 ORDER BY enrichment_type, enrichment_version, status",
                Params::new(),
            )
            .await?;
        out.rows
            .iter()
            .map(|r| {
                let version = r.str(1)?;
                Ok(EnrichmentStatusCount {
                    enrichment_type: r
                        .str(0)?
                        .parse()
                        .map_err(|e: DomainError| codec::corrupt(E, &version, e))?,
                    status: r
                        .str(2)?
                        .parse()
                        .map_err(|e: DomainError| codec::corrupt(E, &version, e))?,
                    count: r.i64(3)? as u64,
                    oldest_created_at: r.opt_micros(4)?,
                    enrichment_version: EnrichmentVersion::parse(version.clone())
                        .map_err(|e| codec::corrupt(E, &version, e))?,
                })
            })
            .collect()
    }

    async fn dead_letters(
        &self,
        max_attempts: u32,
        limit_rows: usize,
    ) -> StoreResult<Vec<JobEnrichment>> {
        if limit_rows == 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM job_enrichments
             WHERE status = 'failed' AND (attempts >= @max OR {})
             ORDER BY updated_at, job_posting_id, enrichment_type, enrichment_version LIMIT @limit",
            select_list(ENRICHMENT_COLS, ""),
            final_failure_sql()
        );
        let out = self
            .query(
                "reading dead letters",
                &sql,
                Params::new()
                    .i64("max", i64::from(max_attempts))
                    .i64("limit", limit(limit_rows)),
            )
            .await?;
        out.rows.iter().map(enrichment_from_row).collect()
    }

    async fn delete_pending_enrichments(
        &self,
        enrichment_type: EnrichmentType,
        versions: &[EnrichmentVersion],
    ) -> StoreResult<u64> {
        if versions.is_empty() {
            return Ok(0);
        }
        let out = self
            .query(
                "deleting pending enrichments at versions",
                "DELETE FROM job_enrichments
                 WHERE enrichment_type = @type AND status = 'pending'
                   AND enrichment_version IN UNNEST(@versions)",
                Params::new()
                    .str("type", enrichment_type.as_str())
                    .str_array("versions", versions.iter().map(|v| v.to_string())),
            )
            .await?;
        Ok(out.dml_affected.unwrap_or(0))
    }
}

/// True for a row marked as a final failure in `metadata`
/// (`JobEnrichment::is_dead_letter`). BigQuery wants the JSON path as a
/// literal; it is the domain's constant, never input.
fn final_failure_sql() -> String {
    format!(
        "COALESCE(JSON_VALUE(metadata, '$.{}') = 'false', FALSE)",
        jobenrich_domain::RETRYABLE_KEY
    )
}
