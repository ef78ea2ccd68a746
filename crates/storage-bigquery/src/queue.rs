//! `EnrichmentRepository` over `job_enrichments`: the work queue, its leases,
//! the re-enrichment anti-join and idempotent result writes.
//!
//! BigQuery has no row locks, so every state change is a conditional UPDATE:
//! claims lease the oldest due rows in one statement tagged with a claim token;
//! transitions and completions compare-and-set against the state they read and
//! start over when a row changed underneath (a lost race, never a double write).

use crate::client::Params;
use crate::codec::{self, enrichment_from_row};
use crate::coordinator::{Op, Reply};
use crate::plan::{cas_update_sql, state_json, Plan, ROW_CHANGED, STATE_COLS};
use crate::schema::{from_json_param, select_list, ENRICHMENT_COLS};
use crate::{limit, BigQueryStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    ClaimRequest, CompletionReport, DomainError, EnrichmentKey, EnrichmentOutcome,
    EnrichmentRepository, EnrichmentStatus, EnrichmentStatusCount, EnrichmentType,
    EnrichmentVersion, JobEnrichment, JobId, StoreError, TransitionDetails,
};
use serde_json::{json, Value};

const E: &str = "JobEnrichment";
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

pub(crate) fn keys_match(alias: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM UNNEST(JSON_QUERY_ARRAY(@keys)) k
                 WHERE JSON_VALUE(k, '$.j') = {alias}.job_posting_id
                   AND JSON_VALUE(k, '$.t') = {alias}.enrichment_type
                   AND JSON_VALUE(k, '$.v') = {alias}.enrichment_version)"
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
        let mut plan = Plan::new(self.load_enrichments(&keys).await?);
        let report = plan.complete(outcomes, now)?;
        if plan.is_empty() {
            return Ok(report);
        }
        let (rows, states) = plan.staged_rows();
        let batch = self.stage(rows).await?;
        self.query(
            "completing enrichments",
            &plan.script(&batch, "", ""),
            Params::new()
                .str("batch", batch.param())
                .i64("expected_rows", states),
        )
        .await?;
        Ok(report)
    }
}

/// A reply of the wrong kind, or an operation the leader could not apply.
fn unexpected(reply: Reply) -> StoreError {
    match reply {
        Reply::Failed(why) => StoreError::Backend(why),
        other => StoreError::Backend(format!("queue leader answered {other:?}")),
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
        if let Some(coordinator) = &self.coordinator {
            return match coordinator.submit(self, Op::Claim(request.clone())).await? {
                Reply::Claimed(rows) => Ok(rows),
                other => Err(unexpected(other)),
            };
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
        if let Some(coordinator) = &self.coordinator {
            return match coordinator
                .submit(self, Op::Complete(outcomes.to_vec(), now))
                .await?
            {
                Reply::Completed(report) => Ok(report),
                other => Err(unexpected(other)),
            };
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
        if let Some(coordinator) = &self.coordinator {
            return match coordinator
                .submit(self, Op::Release(keys.to_vec(), owner.to_string(), now))
                .await?
            {
                Reply::Released(n) => Ok(n),
                other => Err(unexpected(other)),
            };
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
