//! `JobPostingRepository` over the `job_postings` table.

use crate::codec::{collect_rows, from_ts, from_ts_opt, get, json_list, ts, ts_opt};
use crate::error::map_sqlite;
use crate::SqliteStore;
use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{InsertCounts, JobId, JobPosting, JobPostingRepository};
use rusqlite::{params, Row};

const COLUMNS: &str =
    "job_posting_id, title, company, location, description, posted_at, source, url, ingested_at";

fn posting_from_row(row: &Row<'_>) -> StoreResult<JobPosting> {
    let id: String = get(row, 0)?;
    Ok(JobPosting {
        job_posting_id: parse_id(&id)?,
        title: get(row, 1)?,
        company: get(row, 2)?,
        location: get(row, 3)?,
        description: get(row, 4)?,
        posted_at: from_ts_opt("JobPosting", get(row, 5)?)?,
        source: get(row, 6)?,
        url: get(row, 7)?,
        ingested_at: from_ts("JobPosting", get(row, 8)?)?,
    })
}

/// A stored job id; invalid only if the row was written outside the adapter.
pub(crate) fn parse_id(id: &str) -> StoreResult<JobId> {
    JobId::parse(id).map_err(|e| jobenrich_domain::StoreError::Corrupt {
        entity: "JobPosting",
        key: id.to_string(),
        reason: e.to_string(),
    })
}

#[async_trait]
impl JobPostingRepository for SqliteStore {
    async fn insert_postings(&self, postings: &[JobPosting]) -> StoreResult<InsertCounts> {
        for p in postings {
            p.validate()?;
        }
        let postings = postings.to_vec();
        self.with_write_tx(move |tx| {
            let mut counts = InsertCounts::default();
            {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "INSERT INTO job_postings ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                         ON CONFLICT (job_posting_id) DO NOTHING"
                    ))
                    .map_err(map_sqlite)?;
                for p in &postings {
                    let n = stmt
                        .execute(params![
                            p.job_posting_id.as_str(),
                            p.title,
                            p.company,
                            p.location,
                            p.description,
                            ts_opt(p.posted_at),
                            p.source,
                            p.url,
                            ts(p.ingested_at),
                        ])
                        .map_err(map_sqlite)?;
                    if n == 1 {
                        counts.inserted += 1;
                    } else {
                        counts.already_present += 1;
                    }
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn get_posting(&self, id: &JobId) -> StoreResult<Option<JobPosting>> {
        let id = id.as_str().to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM job_postings WHERE job_posting_id = ?1"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![id]).map_err(map_sqlite)?;
            Ok(collect_rows(rows, posting_from_row)?.pop())
        })
        .await
    }

    async fn get_postings(&self, ids: &[JobId]) -> StoreResult<Vec<JobPosting>> {
        let ids = json_list(ids.iter().map(JobId::as_str))?;
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM job_postings
                     WHERE job_posting_id IN (SELECT value FROM json_each(?1)) ORDER BY job_posting_id"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![ids]).map_err(map_sqlite)?;
            collect_rows(rows, posting_from_row)
        })
        .await
    }

    async fn count_postings(&self) -> StoreResult<u64> {
        self.with_conn(|conn| {
            conn.query_row("SELECT COUNT(*) FROM job_postings", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(map_sqlite)
        })
        .await
    }

    async fn list_postings_page(
        &self,
        after: Option<JobId>,
        limit: usize,
    ) -> StoreResult<Vec<JobPosting>> {
        let after = after.map(String::from);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM job_postings
                     WHERE ?1 IS NULL OR job_posting_id > ?1 ORDER BY job_posting_id LIMIT ?2"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![after, limit]).map_err(map_sqlite)?;
            collect_rows(rows, posting_from_row)
        })
        .await
    }

    async fn list_titles_page(
        &self,
        after: Option<JobId>,
        limit: usize,
    ) -> StoreResult<Vec<(JobId, String)>> {
        let after = after.map(String::from);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT job_posting_id, title FROM job_postings
                     WHERE ?1 IS NULL OR job_posting_id > ?1 ORDER BY job_posting_id LIMIT ?2",
                )
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![after, limit]).map_err(map_sqlite)?;
            collect_rows(rows, |row| {
                Ok((parse_id(&get::<String>(row, 0)?)?, get(row, 1)?))
            })
        })
        .await
    }
}
