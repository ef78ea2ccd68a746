//! `SkillRepository` over `job_skills`: one row per (job, skill, enrichment version).

use crate::codec::{
    collect_rows, from_json, from_ts, get, json_list, limit, parse_name, parse_uuid,
    parse_uuid_opt, to_json, ts,
};
use crate::error::map_sqlite;
use crate::postings::parse_id;
use crate::SqliteStore;
use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    EnrichmentVersion, ExtractedSkill, JobId, SkillFrequency, SkillRepository, SkillWeight,
};
use rusqlite::{params, Connection, Row};

const COLUMNS: &str =
    "job_posting_id, skill_name, skill_category, confidence_score, source_strategies, \
     section_relevance_score, extracted_from_section, context_snippet, position_in_text, \
     mention_count, taxonomy_ref, enrichment_version, created_at, skill_id, enrichment_id, \
     mention_spans, taxonomy_links";

const E: &str = "ExtractedSkill";

fn skill_from_row(row: &Row<'_>) -> StoreResult<ExtractedSkill> {
    let job_posting_id: String = get(row, 0)?;
    let name: String = get(row, 1)?;
    let key = format!("{job_posting_id}/{name}");
    let version: String = get(row, 11)?;
    Ok(ExtractedSkill {
        job_posting_id: parse_id(&job_posting_id)?,
        skill_category: parse_name(E, &key, &get::<String>(row, 2)?)?,
        confidence_score: get(row, 3)?,
        source_strategies: from_json(E, &key, &get::<String>(row, 4)?)?,
        section_relevance_score: get(row, 5)?,
        extracted_from_section: get(row, 6)?,
        context_snippet: get(row, 7)?,
        position_in_text: get(row, 8)?,
        mention_count: get(row, 9)?,
        taxonomy_ref: get(row, 10)?,
        enrichment_version: EnrichmentVersion::parse(version)
            .map_err(crate::codec::corrupt(E, &key))?,
        created_at: from_ts(E, get(row, 12)?)?,
        skill_id: parse_uuid(E, &key, &get::<String>(row, 13)?)?,
        enrichment_id: parse_uuid_opt(E, &key, get(row, 14)?)?,
        // NULL: a row stored before migration 6, when mentions were not kept.
        mention_spans: match get::<Option<String>>(row, 15)? {
            Some(json) => from_json(E, &key, &json)?,
            None => Vec::new(),
        },
        // NULL: no ranked links (the version does not link, or a row stored
        // before migration 8).
        taxonomy_links: match get::<Option<String>>(row, 16)? {
            Some(json) => from_json(E, &key, &json)?,
            None => Vec::new(),
        },
        skill_name: name,
    })
}

/// Upserts skills inside the caller's transaction with one cached statement.
pub(crate) fn upsert_in_tx(conn: &Connection, skills: &[ExtractedSkill]) -> StoreResult<u64> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO job_skills ({COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
             ON CONFLICT (job_posting_id, skill_name, enrichment_version) DO UPDATE SET
                 skill_category = excluded.skill_category,
                 confidence_score = excluded.confidence_score,
                 source_strategies = excluded.source_strategies,
                 section_relevance_score = excluded.section_relevance_score,
                 extracted_from_section = excluded.extracted_from_section,
                 context_snippet = excluded.context_snippet,
                 position_in_text = excluded.position_in_text,
                 mention_count = excluded.mention_count,
                 taxonomy_ref = excluded.taxonomy_ref,
                 created_at = excluded.created_at,
                 skill_id = excluded.skill_id,
                 enrichment_id = excluded.enrichment_id,
                 mention_spans = excluded.mention_spans,
                 taxonomy_links = excluded.taxonomy_links"
        ))
        .map_err(map_sqlite)?;
    for s in skills {
        stmt.execute(params![
            s.job_posting_id.as_str(),
            s.skill_name,
            s.skill_category.as_str(),
            s.confidence_score,
            to_json(&s.source_strategies)?,
            s.section_relevance_score,
            s.extracted_from_section,
            s.context_snippet,
            s.position_in_text,
            s.mention_count,
            s.taxonomy_ref,
            s.enrichment_version.as_str(),
            ts(s.created_at),
            s.skill_id.to_string(),
            s.enrichment_id.map(|id| id.to_string()),
            to_json(&s.mention_spans)?,
            // No bytes for the common case of a version that does not link.
            if s.taxonomy_links.is_empty() {
                None
            } else {
                Some(to_json(&s.taxonomy_links)?)
            },
        ])
        .map_err(map_sqlite)?;
    }
    Ok(skills.len() as u64)
}

#[async_trait]
impl SkillRepository for SqliteStore {
    async fn upsert_skills(&self, skills: &[ExtractedSkill]) -> StoreResult<u64> {
        for s in skills {
            s.validate()?;
        }
        let skills = skills.to_vec();
        self.with_write_tx(move |tx| {
            let n = upsert_in_tx(tx, &skills)?;
            Ok(n)
        })
        .await
    }

    async fn skills_for_job(
        &self,
        job_posting_id: &JobId,
        version: Option<EnrichmentVersion>,
    ) -> StoreResult<Vec<ExtractedSkill>> {
        let job_posting_id = job_posting_id.as_str().to_string();
        let version = version.map(String::from);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM job_skills
                     WHERE job_posting_id = ?1 AND (?2 IS NULL OR enrichment_version = ?2)
                     ORDER BY confidence_score DESC, skill_name, enrichment_version"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt
                .query(params![job_posting_id, version])
                .map_err(map_sqlite)?;
            collect_rows(rows, skill_from_row)
        })
        .await
    }

    async fn skills_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<ExtractedSkill>> {
        let ids = json_list(job_ids.iter().map(JobId::as_str))?;
        let version = version.as_str().to_string();
        self.with_conn(move |conn| {
            // The unary `+` keeps the planner on the (job_posting_id, …) key even if a
            // version index is added later (it would scan a whole version per call).
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM job_skills
                     WHERE job_posting_id IN (SELECT value FROM json_each(?1))
                       AND +enrichment_version = ?2
                     ORDER BY job_posting_id, skill_name"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![ids, version]).map_err(map_sqlite)?;
            collect_rows(rows, skill_from_row)
        })
        .await
    }

    async fn skill_weights_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<SkillWeight>> {
        let ids = json_list(job_ids.iter().map(JobId::as_str))?;
        let version = version.as_str().to_string();
        self.with_conn(move |conn| {
            // The same plan as `skills_for_jobs`, four columns instead of fifteen.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT job_posting_id, skill_name, confidence_score, enrichment_id
                     FROM job_skills
                     WHERE job_posting_id IN (SELECT value FROM json_each(?1))
                       AND +enrichment_version = ?2
                     ORDER BY job_posting_id, skill_name",
                )
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![ids, version]).map_err(map_sqlite)?;
            collect_rows(rows, |row| {
                let job: String = get(row, 0)?;
                let name: String = get(row, 1)?;
                Ok(SkillWeight {
                    job_posting_id: parse_id(&job)?,
                    enrichment_id: parse_uuid_opt(E, &format!("{job}/{name}"), get(row, 3)?)?,
                    skill_name: name,
                    confidence_score: get(row, 2)?,
                })
            })
        })
        .await
    }

    async fn top_skills(
        &self,
        version: &EnrichmentVersion,
        limit_rows: usize,
    ) -> StoreResult<Vec<SkillFrequency>> {
        let version = version.as_str().to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    // A job has one row per skill name and version (the UNIQUE
                    // key), so COUNT(*) counts distinct jobs without a sort.
                    "SELECT skill_name, skill_category, COUNT(*) AS jobs,
                            AVG(confidence_score)
                     FROM job_skills WHERE enrichment_version = ?1
                     GROUP BY skill_name, skill_category
                     ORDER BY jobs DESC, skill_name, skill_category
                     LIMIT ?2",
                )
                .map_err(map_sqlite)?;
            let rows = stmt
                .query(params![version, limit(limit_rows)])
                .map_err(map_sqlite)?;
            collect_rows(rows, |row| {
                let name: String = get(row, 0)?;
                Ok(SkillFrequency {
                    skill_category: parse_name(E, &name, &get::<String>(row, 1)?)?,
                    job_count: get::<i64>(row, 2)? as u64,
                    mean_confidence: get(row, 3)?,
                    skill_name: name,
                })
            })
        })
        .await
    }

    async fn skill_versions(&self) -> StoreResult<Vec<(EnrichmentVersion, u64)>> {
        self.with_conn(|conn| crate::codec::version_counts(conn, "job_skills", E))
            .await
    }

    async fn delete_skills_at_versions(&self, versions: &[EnrichmentVersion]) -> StoreResult<u64> {
        let versions = json_list(versions.iter().map(EnrichmentVersion::as_str))?;
        self.with_write_tx(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM job_skills
                     WHERE enrichment_version IN (SELECT value FROM json_each(?1))",
                    params![versions],
                )
                .map_err(map_sqlite)?;
            Ok(n as u64)
        })
        .await
    }
}
