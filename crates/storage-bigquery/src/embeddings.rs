//! `EmbeddingRepository` over `job_embeddings` (written by the completion
//! script in `queue`, read here). The vector is ARRAY<FLOAT64>, read back as
//! JSON text; every value was a float32, so narrowing it again is exact.

use crate::client::Params;
use crate::codec::embedding_from_row;
use crate::schema::{select_list, EMBEDDING_COLS};
use crate::{limit, BigQueryStore};
use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{EmbeddingRepository, EnrichmentVersion, JobEmbedding, JobId};

/// Job ids per read of `embeddings_for_jobs` (one array parameter each).
const JOBS_PER_READ: usize = 10_000;

#[async_trait]
impl EmbeddingRepository for BigQueryStore {
    async fn embeddings_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<JobEmbedding>> {
        let sql = format!(
            "SELECT {} FROM job_embeddings
             WHERE enrichment_version = @version AND job_posting_id IN UNNEST(@jobs)",
            select_list(EMBEDDING_COLS, "")
        );
        let mut all = Vec::new();
        for chunk in job_ids.chunks(JOBS_PER_READ) {
            let out = self
                .query(
                    "reading embeddings of jobs",
                    &sql,
                    Params::new()
                        .str_array("jobs", chunk.iter().map(|j| j.to_string()))
                        .str("version", version.as_str()),
                )
                .await?;
            for r in &out.rows {
                all.push(embedding_from_row(r)?);
            }
        }
        Ok(all)
    }

    async fn embeddings_page(
        &self,
        version: &EnrichmentVersion,
        after: Option<JobId>,
        limit_rows: usize,
    ) -> StoreResult<Vec<JobEmbedding>> {
        if limit_rows == 0 {
            return Ok(Vec::new());
        }
        // Job ids are never empty, so '' starts before the first one.
        let sql = format!(
            "SELECT {} FROM job_embeddings
             WHERE enrichment_version = @version AND job_posting_id > @after
             ORDER BY job_posting_id LIMIT @limit",
            select_list(EMBEDDING_COLS, "")
        );
        let out = self
            .query(
                "paging embeddings",
                &sql,
                Params::new()
                    .str("version", version.as_str())
                    .str("after", after.as_ref().map_or("", JobId::as_str))
                    .i64("limit", limit(limit_rows)),
            )
            .await?;
        out.rows.iter().map(embedding_from_row).collect()
    }

    async fn embedding_versions(&self) -> StoreResult<Vec<(EnrichmentVersion, u64)>> {
        self.version_counts(
            "listing embedding versions",
            "job_embeddings",
            "JobEmbedding",
        )
        .await
    }

    async fn delete_embeddings_at_versions(
        &self,
        versions: &[EnrichmentVersion],
    ) -> StoreResult<u64> {
        if versions.is_empty() {
            return Ok(0);
        }
        let out = self
            .query(
                "deleting embeddings at versions",
                "DELETE FROM job_embeddings WHERE enrichment_version IN UNNEST(@versions)",
                Params::new().str_array("versions", versions.iter().map(|v| v.to_string())),
            )
            .await?;
        Ok(out.dml_affected.unwrap_or(0))
    }
}
