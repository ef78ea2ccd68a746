//! `EmbeddingRepository` over `job_embeddings`: one vector per (embeddings
//! version, job), stored as a little-endian float32 BLOB of `dimension * 4`
//! bytes (4 bytes a value, exact, and a fraction of JSON's size).

use crate::codec::{collect_rows, corrupt, from_ts, get, json_list, limit, parse_uuid_opt, ts};
use crate::error::map_sqlite;
use crate::postings::parse_id;
use crate::prune::{VersionedTable, PRUNE_POSTINGS_PER_TX};
use crate::SqliteStore;
use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    EmbeddingRepository, EnrichmentVersion, JobEmbedding, JobId, ModelId, ModelVersion, StoreError,
    MAX_EMBEDDING_DIM,
};
use rusqlite::{params, Connection, Row};

const COLUMNS: &str = "job_posting_id, enrichment_version, enrichment_id, model_id, \
     model_version, dimension, embedding, source_chars, created_at";

const E: &str = "JobEmbedding";

/// One key lookup per id on (enrichment_version, job_posting_id).
fn for_jobs_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM job_embeddings
         WHERE enrichment_version = ?2
           AND job_posting_id IN (SELECT value FROM json_each(?1))"
    )
}

/// A range read of the primary key: version first, then id order. Job ids
/// are never empty, so '' starts before the first (an `?2 IS NULL OR`
/// would make every page scan the version from its start).
fn page_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM job_embeddings
         WHERE enrichment_version = ?1 AND job_posting_id > COALESCE(?2, '')
         ORDER BY job_posting_id LIMIT ?3"
    )
}

/// The vector as little-endian float32 bytes.
pub(crate) fn encode_vector(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The vector of a stored blob; a length other than `dimension * 4` (or a
/// dimension out of range) is a corrupt row, named by `key`.
pub(crate) fn decode_vector(key: &str, dimension: i64, blob: &[u8]) -> StoreResult<Vec<f32>> {
    let corrupt_row = |reason: String| StoreError::Corrupt {
        entity: E,
        key: key.to_string(),
        reason,
    };
    let dim = usize::try_from(dimension)
        .ok()
        .filter(|d| (1..=MAX_EMBEDDING_DIM).contains(d))
        .ok_or_else(|| {
            corrupt_row(format!(
                "dimension {dimension} is outside 1..={MAX_EMBEDDING_DIM}"
            ))
        })?;
    if blob.len() != dim * 4 {
        return Err(corrupt_row(format!(
            "embedding blob holds {} bytes, dimension {dim} needs {} (little-endian float32)",
            blob.len(),
            dim * 4
        )));
    }
    Ok(blob
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn embedding_from_row(row: &Row<'_>) -> StoreResult<JobEmbedding> {
    let job: String = get(row, 0)?;
    let version: String = get(row, 1)?;
    let key = format!("job_embeddings {version}/{job}");
    let blob: Vec<u8> = get(row, 6)?;
    let embedding = JobEmbedding {
        job_posting_id: parse_id(&job)?,
        enrichment_id: parse_uuid_opt(E, &key, get(row, 2)?)?,
        enrichment_version: EnrichmentVersion::parse(version.clone()).map_err(corrupt(E, &key))?,
        model_id: ModelId::parse(get::<String>(row, 3)?).map_err(corrupt(E, &key))?,
        model_version: ModelVersion::parse(get::<String>(row, 4)?).map_err(corrupt(E, &key))?,
        vector: decode_vector(&key, get(row, 5)?, &blob)?,
        source_chars: u32::try_from(get::<i64>(row, 7)?)
            .map_err(|e| corrupt(E, &key)(format!("source_chars: {e}")))?,
        created_at: from_ts(E, get(row, 8)?)?,
    };
    embedding.validate().map_err(corrupt(E, &key))?;
    Ok(embedding)
}

/// Replaces the vector of `job` at `version` inside the caller's transaction
/// (`embedding`: the new one, or none to only remove the old).
pub(crate) fn replace_in_tx(
    conn: &Connection,
    job: &JobId,
    version: &EnrichmentVersion,
    embedding: Option<&JobEmbedding>,
) -> StoreResult<u64> {
    conn.prepare_cached(
        "DELETE FROM job_embeddings WHERE enrichment_version = ?1 AND job_posting_id = ?2",
    )
    .map_err(map_sqlite)?
    .execute(params![version.as_str(), job.as_str()])
    .map_err(map_sqlite)?;
    let Some(e) = embedding else {
        return Ok(0);
    };
    conn.prepare_cached(&format!(
        "INSERT INTO job_embeddings ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))
    .map_err(map_sqlite)?
    .execute(params![
        e.job_posting_id.as_str(),
        e.enrichment_version.as_str(),
        e.enrichment_id.map(|id| id.to_string()),
        e.model_id.as_str(),
        e.model_version.as_str(),
        e.dimension() as i64,
        encode_vector(&e.vector),
        e.source_chars,
        ts(e.created_at),
    ])
    .map_err(map_sqlite)?;
    Ok(1)
}

#[async_trait]
impl EmbeddingRepository for SqliteStore {
    async fn embeddings_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<JobEmbedding>> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = json_list(job_ids.iter().map(JobId::as_str))?;
        let version = version.as_str().to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&for_jobs_sql()).map_err(map_sqlite)?;
            let rows = stmt.query(params![ids, version]).map_err(map_sqlite)?;
            collect_rows(rows, embedding_from_row)
        })
        .await
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
        let version = version.as_str().to_string();
        let after = after.map(|j| j.as_str().to_string());
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&page_sql()).map_err(map_sqlite)?;
            let rows = stmt
                .query(params![version, after, limit(limit_rows)])
                .map_err(map_sqlite)?;
            collect_rows(rows, embedding_from_row)
        })
        .await
    }

    async fn embedding_versions(&self) -> StoreResult<Vec<(EnrichmentVersion, u64)>> {
        self.with_conn(|conn| crate::codec::version_counts(conn, "job_embeddings", E))
            .await
    }

    async fn delete_embeddings_at_versions(
        &self,
        versions: &[EnrichmentVersion],
    ) -> StoreResult<u64> {
        let versions = json_list(versions.iter().map(EnrichmentVersion::as_str))?;
        // A vector is ~1.5 KB: in one transaction a million postings' vectors
        // would pass through the WAL at once.
        self.delete_version_rows(
            &[VersionedTable::Embeddings],
            versions,
            PRUNE_POSTINGS_PER_TX,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_search_the_primary_key_without_a_sort() {
        use jobenrich_domain::SchemaMigrator;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("plan.db")).unwrap();
        store.migrate().await.unwrap();
        let plans = store
            .with_conn(|conn| {
                let plan = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> StoreResult<String> {
                    let mut stmt = conn
                        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                        .map_err(map_sqlite)?;
                    let rows = stmt.query(args).map_err(map_sqlite)?;
                    Ok(collect_rows(rows, |r| get::<String>(r, 3))?.join("\n"))
                };
                Ok((
                    plan(&page_sql(), &[&"e@v1.0", &"j1", &10])?,
                    plan(&for_jobs_sql(), &[&r#"["j1","j2"]"#, &"e@v1.0"])?,
                ))
            })
            .await
            .unwrap();
        let (page, for_jobs) = plans;
        assert!(
            page.contains(
                "SEARCH job_embeddings USING PRIMARY KEY (enrichment_version=? AND job_posting_id>?)"
            )
                && !page.contains("TEMP B-TREE"),
            "a page is a range read of the key, already in id order: {page}"
        );
        assert!(
            for_jobs.contains(
                "SEARCH job_embeddings USING PRIMARY KEY (enrichment_version=? AND job_posting_id=?)"
            ),
            "jobs are key lookups: {for_jobs}"
        );
    }

    #[test]
    fn vectors_round_trip_bit_exactly_through_the_blob() {
        let v = vec![0.1f32, -0.0, f32::MIN_POSITIVE, 1.0e-30, -3.5, f32::MAX];
        let blob = encode_vector(&v);
        assert_eq!(blob.len(), v.len() * 4);
        assert_eq!(&blob[..4], &0.1f32.to_le_bytes(), "little-endian float32");
        let back = decode_vector("k", v.len() as i64, &blob).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&v));
    }

    #[test]
    fn a_blob_of_the_wrong_length_or_dimension_is_a_corrupt_row() {
        let blob = encode_vector(&[0.6, 0.8]);
        for (dimension, bytes) in [
            (3, &blob[..]),
            (2, &blob[..7]),
            (0, &[][..]),
            (-1, &blob[..]),
        ] {
            let err = decode_vector("job_embeddings e@v1.0/j1", dimension, bytes)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("corrupt JobEmbedding row job_embeddings e@v1.0/j1"),
                "{err}"
            );
        }
    }
}
