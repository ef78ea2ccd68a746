//! `EnrichmentRepository` over `job_enrichments`: the queue of enrichment work
//! with its leases, the re-enrichment anti-join and idempotent result writes.

use crate::codec::{
    collect_rows, from_json, from_ts, from_ts_opt, get, limit, parse_name, parse_uuid, to_json, ts,
    ts_opt,
};
use crate::error::map_sqlite;
use crate::plan::{self, Plan};
use crate::postings::parse_id;
use crate::slices::Descriptions;
use crate::{embeddings, in_write_tx, sections, skills, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    ClaimRequest, CompletionPlan, CompletionReport, CompletionStep, EnrichmentKey,
    EnrichmentOutcome, EnrichmentRepository, EnrichmentResult, EnrichmentStatus,
    EnrichmentStatusCount, EnrichmentType, EnrichmentVersion, ExtractedSkill, JobEnrichment, JobId,
    PlannedOutcomes, StoreError, TransitionDetails,
};
use rusqlite::{params, Connection, Row};
use std::collections::BTreeSet;

const COLUMNS: &str = "job_posting_id, enrichment_type, enrichment_version, status, model_id, \
     model_version, attempts, error_message, lease_owner, lease_expires_at, next_attempt_at, \
     created_at, updated_at, completed_at, enrichment_id, metadata";

const E: &str = "JobEnrichment";

fn enrichment_from_row(row: &Row<'_>) -> StoreResult<JobEnrichment> {
    let job_posting_id: String = get(row, 0)?;
    let key = job_posting_id.as_str();
    let model_id: Option<String> = get(row, 4)?;
    let model_version: Option<String> = get(row, 5)?;
    let version: String = get(row, 2)?;
    Ok(JobEnrichment {
        job_posting_id: parse_id(key)?,
        enrichment_type: parse_name(E, key, &get::<String>(row, 1)?)?,
        enrichment_version: EnrichmentVersion::parse(version)
            .map_err(crate::codec::corrupt(E, key))?,
        status: parse_name(E, key, &get::<String>(row, 3)?)?,
        model_id: model_id
            .map(jobenrich_domain::ModelId::parse)
            .transpose()
            .map_err(crate::codec::corrupt(E, key))?,
        model_version: model_version
            .map(jobenrich_domain::ModelVersion::parse)
            .transpose()
            .map_err(crate::codec::corrupt(E, key))?,
        attempts: get(row, 6)?,
        error_message: get(row, 7)?,
        lease_owner: get(row, 8)?,
        lease_expires_at: from_ts_opt(E, get(row, 9)?)?,
        next_attempt_at: from_ts_opt(E, get(row, 10)?)?,
        created_at: from_ts(E, get(row, 11)?)?,
        updated_at: from_ts(E, get(row, 12)?)?,
        completed_at: from_ts_opt(E, get(row, 13)?)?,
        enrichment_id: parse_uuid(E, key, &get::<String>(row, 14)?)?,
        metadata: from_json(E, key, &get::<String>(row, 15)?)?,
    })
}

fn key_text(key: &EnrichmentKey) -> String {
    format!(
        "{}/{}/{}",
        key.job_posting_id, key.enrichment_type, key.enrichment_version
    )
}

fn load(conn: &Connection, key: &EnrichmentKey) -> StoreResult<Option<JobEnrichment>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM job_enrichments
             WHERE job_posting_id = ?1 AND enrichment_type = ?2 AND enrichment_version = ?3"
        ))
        .map_err(map_sqlite)?;
    let rows = stmt
        .query(params![
            key.job_posting_id.as_str(),
            key.enrichment_type.as_str(),
            key.enrichment_version.as_str()
        ])
        .map_err(map_sqlite)?;
    Ok(collect_rows(rows, enrichment_from_row)?.pop())
}

/// Writes every mutable column of an enrichment, keyed by its natural key.
fn store_state(conn: &Connection, e: &JobEnrichment) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(
            "UPDATE job_enrichments SET status = ?4, model_id = ?5, model_version = ?6,
                 attempts = ?7, error_message = ?8, lease_owner = ?9, lease_expires_at = ?10,
                 next_attempt_at = ?11, updated_at = ?12, completed_at = ?13, metadata = ?14
             WHERE job_posting_id = ?1 AND enrichment_type = ?2 AND enrichment_version = ?3",
        )
        .map_err(map_sqlite)?;
    stmt.execute(params![
        e.job_posting_id.as_str(),
        e.enrichment_type.as_str(),
        e.enrichment_version.as_str(),
        e.status.as_str(),
        e.model_id.as_ref().map(|m| m.as_str()),
        e.model_version.as_ref().map(|m| m.as_str()),
        e.attempts,
        e.error_message,
        e.lease_owner,
        ts_opt(e.lease_expires_at),
        ts_opt(e.next_attempt_at),
        ts(e.updated_at),
        ts_opt(e.completed_at),
        to_json(&e.metadata)?,
    ])
    .map_err(map_sqlite)?;
    Ok(())
}

fn complete_in_tx(
    conn: &Connection,
    outcomes: &mut [EnrichmentOutcome],
    plan: &Plan,
    now: DateTime<Utc>,
    skill_writer: &mut skills::SkillWriter<'_>,
    spent: &mut Vec<Vec<ExtractedSkill>>,
) -> StoreResult<CompletionReport> {
    let mut report = CompletionReport::default();
    let mut descriptions = Descriptions::default();
    for (i, outcome) in outcomes.iter_mut().enumerate() {
        let planned = plan.outcomes.get(i);
        let Some(mut row) = load(conn, &outcome.key)? else {
            report.lost_leases.push(outcome.key.clone());
            continue;
        };
        let step = row.complete_taking(outcome, now)?;
        let success = match &outcome.result {
            EnrichmentResult::Success(success) => Some(success),
            EnrichmentResult::Failure { .. } => None,
        };
        match step {
            CompletionStep::LostLease => {
                report.lost_leases.push(outcome.key.clone());
                continue;
            }
            CompletionStep::Failed => report.failed += 1,
            CompletionStep::Succeeded { skills, embedding } => {
                // Replace semantics: earlier results of this job and version go first.
                skill_writer.delete_job_version(
                    conn,
                    &outcome.key.job_posting_id,
                    &outcome.key.enrichment_version,
                )?;
                skill_writer.upsert(conn, &skills, planned, &mut descriptions)?;
                report.skills_written += skills.len() as u64;

                let sections_in = success.map(|s| s.sections.as_slice()).unwrap_or(&[]);
                let classifier_versions: BTreeSet<&str> = sections_in
                    .iter()
                    .map(|s| s.classifier_version.as_str())
                    .collect();
                for version in classifier_versions {
                    sections::delete_job_version(
                        conn,
                        &outcome.key.job_posting_id,
                        version,
                        skill_writer,
                    )?;
                }
                sections::upsert_in_tx(
                    conn,
                    sections_in,
                    planned,
                    &mut descriptions,
                    skill_writer,
                )?;
                report.sections_written += sections_in.len() as u64;

                // Only embeddings enrichments own vectors: other types skip the delete.
                if embedding.is_some() || outcome.key.enrichment_type == EnrichmentType::Embeddings
                {
                    report.embeddings_written += embeddings::replace_in_tx(
                        conn,
                        &outcome.key.job_posting_id,
                        &outcome.key.enrichment_version,
                        embedding.as_ref(),
                    )?;
                }
                report.succeeded += 1;
                spent.push(skills);
            }
        }
        store_state(conn, &row)?;
    }
    Ok(report)
}

fn transition_in_tx(
    conn: &Connection,
    key: &EnrichmentKey,
    to: EnrichmentStatus,
    details: &TransitionDetails,
    now: DateTime<Utc>,
) -> StoreResult<JobEnrichment> {
    let mut row = load(conn, key)?.ok_or_else(|| StoreError::NotFound {
        entity: E,
        key: key_text(key),
    })?;
    row.apply_transition(to, details, now)?;
    store_state(conn, &row)?;
    Ok(row)
}

impl SqliteStore {
    /// Writes a batch of outcomes in one transaction, taking the plan's
    /// decisions where they fit.
    pub(crate) async fn complete(
        &self,
        mut outcomes: Vec<EnrichmentOutcome>,
        plan: Plan,
        now: DateTime<Utc>,
    ) -> StoreResult<CompletionReport> {
        for outcome in &outcomes {
            outcome.validate()?;
        }
        let terms = self.committed_terms();
        let (report, spent) = self
            .with_writer(move |conn| {
                let mut spent = Vec::with_capacity(outcomes.len());
                let report = skills::with_skill_writer(&terms, |skill_writer| {
                    // Foreign keys are not re-checked for this transaction: every row it
                    // writes carries the job id of an enrichment row read inside it
                    // (`Validate for EnrichmentOutcome` enforced that above), and that
                    // row's own foreign key to job_postings was checked when it was
                    // queued; the term ids it writes are read or made inside it, or
                    // were committed before (terms are never deleted). Checked per
                    // row, the parent lookups were the largest cost of a batch: SQLite
                    // re-read a job_postings index page from the file for nearly every
                    // one of a batch's ~9,000 result rows. The pragma cannot change
                    // inside a transaction, hence around it; `with_writer` reopens the
                    // connection if turning it back on failed.
                    conn.execute_batch("PRAGMA foreign_keys = OFF")
                        .map_err(map_sqlite)?;
                    let completed = in_write_tx(conn, |tx| {
                        complete_in_tx(tx, &mut outcomes, &plan, now, skill_writer, &mut spent)
                    });
                    let restored = conn
                        .execute_batch("PRAGMA foreign_keys = ON")
                        .map_err(map_sqlite);
                    completed.and_then(|report| restored.map(|()| report))
                })?;
                Ok((report, (spent, outcomes, plan)))
            })
            .await?;
        // Freeing a batch's results (hundreds of thousands of strings) is ~3 %
        // of the one writer's time: done on a thread of its own instead.
        drop(tokio::task::spawn_blocking(move || drop(spent)));
        Ok(report)
    }
}

#[async_trait]
impl EnrichmentRepository for SqliteStore {
    async fn enqueue_enrichments(
        &self,
        job_ids: &[JobId],
        enrichment_type: EnrichmentType,
        enrichment_version: &EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let job_ids = job_ids.to_vec();
        let version = enrichment_version.as_str().to_string();
        self.with_write_tx(move |tx| {
            let mut created = 0u64;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO job_enrichments (job_posting_id, enrichment_type, enrichment_version,
                             status, attempts, created_at, updated_at, enrichment_id)
                         VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4, ?5)
                         ON CONFLICT (job_posting_id, enrichment_type, enrichment_version) DO NOTHING",
                    )
                    .map_err(map_sqlite)?;
                for id in &job_ids {
                    created += stmt
                        .execute(params![
                            id.as_str(),
                            enrichment_type.as_str(),
                            version,
                            ts(now),
                            jobenrich_domain::Uuid::new_v4().to_string(),
                        ])
                        .map_err(map_sqlite)? as u64;
                }
            }
            Ok(created)
        })
        .await
    }

    async fn find_jobs_needing_enrichment(
        &self,
        enrichment_type: EnrichmentType,
        enrichment_version: &EnrichmentVersion,
        limit_rows: usize,
    ) -> StoreResult<Vec<JobId>> {
        let version = enrichment_version.as_str().to_string();
        self.with_conn(move |conn| {
            // Anti-join probing the (job_posting_id, type, version) primary key.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT p.job_posting_id FROM job_postings p
                     WHERE NOT EXISTS (
                         SELECT 1 FROM job_enrichments e
                         WHERE e.job_posting_id = p.job_posting_id AND e.enrichment_type = ?1
                           AND e.enrichment_version = ?2 AND e.status = 'success')
                     ORDER BY p.job_posting_id LIMIT ?3",
                )
                .map_err(map_sqlite)?;
            let rows = stmt
                .query(params![
                    enrichment_type.as_str(),
                    version,
                    limit(limit_rows)
                ])
                .map_err(map_sqlite)?;
            collect_rows(rows, |row| parse_id(&get::<String>(row, 0)?))
        })
        .await
    }

    async fn claim_enrichments(&self, request: &ClaimRequest) -> StoreResult<Vec<JobEnrichment>> {
        request.validate()?;
        if request.limit == 0 {
            return Ok(Vec::new());
        }
        let request = request.clone();
        self.with_write_tx(move |tx| {
            // The attempts cap (ClaimRequest::abandons): expired leases with
            // their attempts used up are failed, not leased again.
            tx.prepare_cached(
                "UPDATE job_enrichments
                 SET status = 'failed', error_message = ?1, lease_owner = NULL,
                     lease_expires_at = NULL, next_attempt_at = NULL,
                     completed_at = ?2, updated_at = ?2
                 WHERE enrichment_type = ?3 AND status = 'processing'
                   AND (?4 IS NULL OR enrichment_version = ?4)
                   AND lease_expires_at <= ?2 AND attempts >= ?5",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    request.abandoned_error(),
                    ts(request.now),
                    request.enrichment_type.as_str(),
                    request.enrichment_version.as_ref().map(|v| v.as_str()),
                    request.max_attempts,
                ])
            })
            .map_err(map_sqlite)?;
            let claimed = {
                // One statement picks the candidates and leases them, under the
                // write lock taken by BEGIN IMMEDIATE. Due pending work and expired
                // leases are read separately, each in index order (oldest first),
                // so a deep queue is never sorted whole.
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "UPDATE job_enrichments
                         SET status = 'processing', lease_owner = ?1, lease_expires_at = ?2,
                             attempts = attempts + 1, error_message = NULL, updated_at = ?3,
                             completed_at = NULL
                         WHERE rowid IN (
                             SELECT rowid FROM (
                                 SELECT * FROM (
                                     SELECT rowid, created_at, job_posting_id, enrichment_version
                                     FROM job_enrichments
                                     WHERE enrichment_type = ?4 AND status = 'pending'
                                       AND (?5 IS NULL OR enrichment_version = ?5)
                                       AND (next_attempt_at IS NULL OR next_attempt_at <= ?3)
                                     ORDER BY created_at, job_posting_id, enrichment_version
                                     LIMIT ?6)
                                 UNION ALL
                                 SELECT * FROM (
                                     SELECT rowid, created_at, job_posting_id, enrichment_version
                                     FROM job_enrichments
                                     WHERE enrichment_type = ?4 AND status = 'processing'
                                       AND (?5 IS NULL OR enrichment_version = ?5)
                                       AND lease_expires_at <= ?3
                                     ORDER BY created_at, job_posting_id, enrichment_version
                                     LIMIT ?6))
                             ORDER BY created_at, job_posting_id, enrichment_version
                             LIMIT ?6)
                         RETURNING {COLUMNS}"
                    ))
                    .map_err(map_sqlite)?;
                let rows = stmt
                    .query(params![
                        request.owner,
                        ts(request.now + request.lease),
                        ts(request.now),
                        request.enrichment_type.as_str(),
                        request.enrichment_version.as_ref().map(|v| v.as_str()),
                        limit(request.limit),
                    ])
                    .map_err(map_sqlite)?;
                collect_rows(rows, enrichment_from_row)?
            };
            let mut claimed = claimed;
            claimed.sort_by(|a, b| {
                (a.created_at, &a.job_posting_id, &a.enrichment_version).cmp(&(
                    b.created_at,
                    &b.job_posting_id,
                    &b.enrichment_version,
                ))
            });
            Ok(claimed)
        })
        .await
    }

    async fn complete_enrichments(
        &self,
        outcomes: &[EnrichmentOutcome],
        now: DateTime<Utc>,
    ) -> StoreResult<CompletionReport> {
        // The owned path validates.
        self.complete_enrichments_owned(outcomes.to_vec(), now)
            .await
    }

    async fn complete_enrichments_owned(
        &self,
        outcomes: Vec<EnrichmentOutcome>,
        now: DateTime<Utc>,
    ) -> StoreResult<CompletionReport> {
        self.complete(outcomes, Plan::default(), now).await
    }

    async fn plan_completion(&self, outcomes: Vec<EnrichmentOutcome>) -> PlannedOutcomes {
        let (outcomes, plan) = self
            .with_conn_over(outcomes, |conn, outcomes| {
                plan::plan_in_read_tx(conn, outcomes)
            })
            .await;
        PlannedOutcomes {
            outcomes,
            plan: plan.map(|p| Box::new(p) as CompletionPlan),
        }
    }

    async fn complete_planned(
        &self,
        planned: PlannedOutcomes,
        now: DateTime<Utc>,
    ) -> StoreResult<CompletionReport> {
        // Another store's plan, or none: the writer works every row out.
        let plan = planned
            .plan
            .and_then(|p| p.downcast::<Plan>().ok())
            .map(|p| *p)
            .unwrap_or_default();
        self.complete(planned.outcomes, plan, now).await
    }

    async fn release_enrichments(
        &self,
        keys: &[EnrichmentKey],
        owner: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let keys = keys.to_vec();
        let owner = owner.to_string();
        self.with_write_tx(move |tx| {
            let mut released = 0u64;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "UPDATE job_enrichments
                         SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                             attempts = MAX(attempts - 1, 0), updated_at = ?5,
                             completed_at = NULL
                         WHERE job_posting_id = ?1 AND enrichment_type = ?2 AND enrichment_version = ?3
                           AND status = 'processing' AND lease_owner = ?4",
                    )
                    .map_err(map_sqlite)?;
                for key in &keys {
                    released += stmt
                        .execute(params![
                            key.job_posting_id.as_str(),
                            key.enrichment_type.as_str(),
                            key.enrichment_version.as_str(),
                            owner,
                            ts(now),
                        ])
                        .map_err(map_sqlite)? as u64;
                }
            }
            Ok(released)
        })
        .await
    }

    async fn requeue_failed(
        &self,
        enrichment_type: EnrichmentType,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.with_write_tx(move |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE job_enrichments
                     SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                         completed_at = NULL, updated_at = ?3
                     WHERE enrichment_type = ?1 AND status = 'failed' AND attempts < ?2
                       AND (next_attempt_at IS NULL OR next_attempt_at <= ?3)
                       AND COALESCE(json_type(metadata, ?4), '') <> 'false'",
                )
                .map_err(map_sqlite)?
                .execute(params![
                    enrichment_type.as_str(),
                    max_attempts,
                    ts(now),
                    retryable_path()
                ])
                .map_err(map_sqlite)?;
            Ok(n as u64)
        })
        .await
    }

    async fn transition_enrichment(
        &self,
        key: &EnrichmentKey,
        to: EnrichmentStatus,
        details: &TransitionDetails,
        now: DateTime<Utc>,
    ) -> StoreResult<JobEnrichment> {
        let key = key.clone();
        let details = details.clone();
        self.with_write_tx(move |tx| {
            let row = transition_in_tx(tx, &key, to, &details, now)?;
            Ok(row)
        })
        .await
    }

    async fn get_enrichment(&self, key: &EnrichmentKey) -> StoreResult<Option<JobEnrichment>> {
        let key = key.clone();
        self.with_conn(move |conn| load(conn, &key)).await
    }

    async fn get_enrichments(&self, keys: &[EnrichmentKey]) -> StoreResult<Vec<JobEnrichment>> {
        let keys = to_json(
            &keys
                .iter()
                .map(|k| {
                    [
                        k.job_posting_id.as_str(),
                        k.enrichment_type.as_str(),
                        k.enrichment_version.as_str(),
                    ]
                })
                .collect::<Vec<_>>(),
        )?;
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM job_enrichments
                     WHERE (job_posting_id, enrichment_type, enrichment_version) IN (
                         SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1))"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![keys]).map_err(map_sqlite)?;
            collect_rows(rows, enrichment_from_row)
        })
        .await
    }

    async fn enrichments_for_job(&self, job_posting_id: &JobId) -> StoreResult<Vec<JobEnrichment>> {
        let job_posting_id = job_posting_id.as_str().to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM job_enrichments WHERE job_posting_id = ?1
                     ORDER BY enrichment_type, enrichment_version"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![job_posting_id]).map_err(map_sqlite)?;
            collect_rows(rows, enrichment_from_row)
        })
        .await
    }

    async fn enrichment_status_counts(&self) -> StoreResult<Vec<EnrichmentStatusCount>> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT enrichment_type, enrichment_version, status, COUNT(*), MIN(created_at)
                     FROM job_enrichments
                     GROUP BY enrichment_type, enrichment_version, status
                     ORDER BY enrichment_type, enrichment_version, status",
                )
                .map_err(map_sqlite)?;
            let rows = stmt.query([]).map_err(map_sqlite)?;
            collect_rows(rows, |row| {
                let version: String = get(row, 1)?;
                Ok(EnrichmentStatusCount {
                    enrichment_type: parse_name(E, &version, &get::<String>(row, 0)?)?,
                    status: parse_name(E, &version, &get::<String>(row, 2)?)?,
                    count: get::<i64>(row, 3)? as u64,
                    oldest_created_at: from_ts_opt(E, get(row, 4)?)?,
                    enrichment_version: EnrichmentVersion::parse(version.clone())
                        .map_err(crate::codec::corrupt(E, &version))?,
                })
            })
        })
        .await
    }

    async fn dead_letters(
        &self,
        max_attempts: u32,
        limit_rows: usize,
    ) -> StoreResult<Vec<JobEnrichment>> {
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM job_enrichments
                     WHERE status = 'failed'
                       AND (attempts >= ?1 OR json_type(metadata, ?3) = 'false')
                     ORDER BY updated_at, job_posting_id, enrichment_type, enrichment_version
                     LIMIT ?2"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt
                .query(params![max_attempts, limit(limit_rows), retryable_path()])
                .map_err(map_sqlite)?;
            collect_rows(rows, enrichment_from_row)
        })
        .await
    }

    async fn delete_pending_enrichments(
        &self,
        enrichment_type: EnrichmentType,
        versions: &[EnrichmentVersion],
    ) -> StoreResult<u64> {
        if versions.is_empty() {
            return Ok(0);
        }
        let versions = crate::codec::json_list(versions.iter().map(EnrichmentVersion::as_str))?;
        self.delete_pending_rows(
            enrichment_type,
            versions,
            crate::prune::PRUNE_PENDING_PER_TX,
        )
        .await
    }
}

/// The JSON path of the final-failure marker in `metadata`
/// (`JobEnrichment::is_dead_letter`).
fn retryable_path() -> String {
    format!("$.{}", jobenrich_domain::RETRYABLE_KEY)
}
