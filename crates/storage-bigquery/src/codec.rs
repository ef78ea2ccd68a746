//! Entities to staged JSON payloads and result rows back to entities. Column
//! order follows the `*_COLS` lists of `schema`; stored values that no longer
//! satisfy the domain rules surface as `StoreError::Corrupt` naming the row.

use crate::client::Row;
use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{
    ClusterAssignment, ClusterKeyword, EnrichmentVersion, EvaluationResult, ExtractedSkill,
    JobEmbedding, JobEnrichment, JobId, JobPosting, ModelConfig, ModelId, ModelVersion,
    SectionClassification, SkillAlias, SkillWeight, StoreError, Uuid,
};
use serde_json::{json, Value};
use std::str::FromStr;

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn opt_micros(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(micros)
}

pub fn corrupt(entity: &'static str, key: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        entity,
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

fn parse<T: FromStr>(entity: &'static str, key: &str, text: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| corrupt(entity, key, e))
}

fn json_text<T: serde::de::DeserializeOwned>(
    entity: &'static str,
    key: &str,
    text: Option<String>,
    empty: &str,
) -> StoreResult<T> {
    // A NULL column (e.g. added by ALTER to an adopted table) reads as empty.
    let text = text.as_deref().filter(|t| *t != "null").unwrap_or(empty);
    serde_json::from_str(text).map_err(|e| corrupt(entity, key, e))
}

fn uuid_col(entity: &'static str, key: &str, text: String) -> StoreResult<Uuid> {
    Uuid::parse_str(&text).map_err(|e| corrupt(entity, key, format!("invalid UUID {text:?}: {e}")))
}

fn opt_uuid_col(
    entity: &'static str,
    key: &str,
    text: Option<String>,
) -> StoreResult<Option<Uuid>> {
    text.map(|t| uuid_col(entity, key, t)).transpose()
}

fn u32_col(entity: &'static str, key: &str, v: i64) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| corrupt(entity, key, format!("{v} is out of range")))
}

pub fn posting_json(p: &JobPosting) -> Value {
    json!({
        "job_posting_id": p.job_posting_id.as_str(), "title": p.title, "company": p.company, "location": p.location,
        "description": p.description, "posted_at": opt_micros(p.posted_at), "source": p.source,
        "url": p.url, "ingested_at": micros(p.ingested_at),
    })
}

pub fn posting_from_row(r: &Row) -> StoreResult<JobPosting> {
    let id = r.str(0)?;
    Ok(JobPosting {
        job_posting_id: JobId::parse(id.clone()).map_err(|e| corrupt("JobPosting", &id, e))?,
        title: r.str(1)?,
        company: r.opt_str(2)?,
        location: r.opt_str(3)?,
        description: r.str(4)?,
        posted_at: r.opt_micros(5)?,
        source: r.opt_str(6)?,
        url: r.opt_str(7)?,
        ingested_at: r.micros(8)?,
    })
}

pub fn enrichment_from_row(r: &Row) -> StoreResult<JobEnrichment> {
    const E: &str = "JobEnrichment";
    let job = r.str(0)?;
    let k = job.as_str();
    Ok(JobEnrichment {
        job_posting_id: JobId::parse(job.clone()).map_err(|e| corrupt(E, k, e))?,
        enrichment_type: parse(E, k, &r.str(1)?)?,
        enrichment_version: EnrichmentVersion::parse(r.str(2)?).map_err(|e| corrupt(E, k, e))?,
        status: parse(E, k, &r.str(3)?)?,
        model_id: r
            .opt_str(4)?
            .map(ModelId::parse)
            .transpose()
            .map_err(|e| corrupt(E, k, e))?,
        model_version: r
            .opt_str(5)?
            .map(ModelVersion::parse)
            .transpose()
            .map_err(|e| corrupt(E, k, e))?,
        attempts: u32_col(E, k, r.opt_i64(6)?.unwrap_or(0))?,
        error_message: r.opt_str(7)?,
        lease_owner: r.opt_str(8)?,
        lease_expires_at: r.opt_micros(9)?,
        next_attempt_at: r.opt_micros(10)?,
        created_at: r.micros(11)?,
        updated_at: r.micros(12)?,
        completed_at: r.opt_micros(13)?,
        metadata: json_text(E, k, r.opt_str(14)?, "{}")?,
        enrichment_id: uuid_col(E, k, r.str(15)?)?,
    })
}

pub fn skill_json(s: &ExtractedSkill) -> Value {
    json!({
        "job_posting_id": s.job_posting_id.as_str(), "skill_name": s.skill_name,
        "skill_category": s.skill_category.as_str(), "confidence_score": s.confidence_score,
        "source_strategies": s.source_strategies.iter().map(|x| x.as_str()).collect::<Vec<_>>(),
        "section_relevance_score": s.section_relevance_score,
        "extracted_from_section": s.extracted_from_section,
        "context_snippet": s.context_snippet, "position_in_text": s.position_in_text,
        "mention_count": s.mention_count, "taxonomy_ref": s.taxonomy_ref,
        "enrichment_version": s.enrichment_version.as_str(), "created_at": micros(s.created_at),
        "skill_id": s.skill_id.to_string(),
        "enrichment_id": s.enrichment_id.map(|id| id.to_string()),
        "mention_spans": s.mention_spans,
        "taxonomy_links": s.taxonomy_links,
    })
}

/// Each value travels as the text of its shortest float32 form ("0.1", not
/// 0.10000000149011612): cast to FLOAT64 it reads back as the same float32,
/// and no JSON number formatting on the way can drop digits.
pub fn embedding_json(e: &JobEmbedding) -> Value {
    json!({
        "job_posting_id": e.job_posting_id.as_str(),
        "enrichment_version": e.enrichment_version.as_str(),
        "enrichment_id": e.enrichment_id.map(|id| id.to_string()),
        "model_id": e.model_id.as_str(), "model_version": e.model_version.as_str(),
        "dimension": e.dimension(),
        "embedding": e.vector.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        "source_chars": e.source_chars, "created_at": micros(e.created_at),
    })
}

/// A row of `EMBEDDING_COLS`; a vector whose length is not its dimension is
/// a corrupt row naming the table, version and job.
pub fn embedding_from_row(r: &Row) -> StoreResult<JobEmbedding> {
    const E: &str = "JobEmbedding";
    let job = r.str(0)?;
    let version = r.str(1)?;
    let k = format!("job_embeddings {version}/{job}");
    let k = k.as_str();
    let values: Vec<f64> = json_text(E, k, r.opt_str(6)?, "[]")?;
    let dimension = r.i64(5)?;
    if usize::try_from(dimension).ok() != Some(values.len()) {
        return Err(corrupt(
            E,
            k,
            format!(
                "embedding holds {} values, dimension is {dimension}",
                values.len()
            ),
        ));
    }
    let embedding = JobEmbedding {
        job_posting_id: JobId::parse(job.clone()).map_err(|e| corrupt(E, k, e))?,
        enrichment_version: EnrichmentVersion::parse(version.clone())
            .map_err(|e| corrupt(E, k, e))?,
        enrichment_id: opt_uuid_col(E, k, r.opt_str(2)?)?,
        model_id: ModelId::parse(r.str(3)?).map_err(|e| corrupt(E, k, e))?,
        model_version: ModelVersion::parse(r.str(4)?).map_err(|e| corrupt(E, k, e))?,
        // Stored from float32 values, so the narrowing is exact.
        vector: values.into_iter().map(|x| x as f32).collect(),
        source_chars: u32_col(E, k, r.i64(7)?)?,
        created_at: r.micros(8)?,
    };
    jobenrich_domain::validation::Validate::validate(&embedding).map_err(|e| corrupt(E, k, e))?;
    Ok(embedding)
}

/// A row of `SKILL_WEIGHT_COLS`; names are shared through `names` (a version
/// has a few thousand over millions of rows).
pub fn skill_weight_from_row(
    r: &Row,
    names: &mut std::collections::HashMap<String, std::sync::Arc<str>>,
) -> StoreResult<SkillWeight> {
    const E: &str = "SkillWeight";
    let job = r.str(0)?;
    let name = r.str(1)?;
    let skill_name = match names.get(&name) {
        Some(shared) => shared.clone(),
        None => {
            let shared: std::sync::Arc<str> = std::sync::Arc::from(name.as_str());
            names.insert(name, shared.clone());
            shared
        }
    };
    Ok(SkillWeight {
        enrichment_id: opt_uuid_col(E, &job, r.opt_str(3)?)?,
        confidence_score: r.f64(2)?,
        job_posting_id: JobId::parse(job.clone()).map_err(|e| corrupt(E, &job, e))?,
        skill_name,
    })
}

pub fn skill_from_row(r: &Row) -> StoreResult<ExtractedSkill> {
    const E: &str = "ExtractedSkill";
    let job = r.str(0)?;
    let k = job.as_str();
    let strategies: Vec<String> = json_text(E, k, r.opt_str(4)?, "[]")?;
    Ok(ExtractedSkill {
        job_posting_id: JobId::parse(job.clone()).map_err(|e| corrupt(E, k, e))?,
        skill_name: r.str(1)?,
        skill_category: parse(E, k, &r.str(2)?)?,
        confidence_score: r.f64(3)?,
        source_strategies: strategies
            .iter()
            .map(|s| parse(E, k, s))
            .collect::<StoreResult<_>>()?,
        section_relevance_score: r.opt_f64(5)?,
        extracted_from_section: r.opt_str(6)?,
        context_snippet: r.opt_str(7)?,
        position_in_text: r.opt_i64(8)?.map(|v| u32_col(E, k, v)).transpose()?,
        mention_count: u32_col(E, k, r.opt_i64(9)?.unwrap_or(1))?,
        taxonomy_ref: r.opt_str(10)?,
        enrichment_version: EnrichmentVersion::parse(r.str(11)?).map_err(|e| corrupt(E, k, e))?,
        created_at: r.micros(12)?,
        skill_id: uuid_col(E, k, r.str(13)?)?,
        enrichment_id: opt_uuid_col(E, k, r.opt_str(14)?)?,
        // NULL: a row stored before migration 5, when mentions were not kept.
        mention_spans: json_text(E, k, r.opt_str(15)?, "[]")?,
        // NULL: a row stored before migration 7.
        taxonomy_links: json_text(E, k, r.opt_str(16)?, "[]")?,
    })
}

pub fn section_json(s: &SectionClassification) -> Value {
    json!({
        "job_posting_id": s.job_posting_id.as_str(), "section_index": s.section_index,
        "section_header": s.section_header, "section_type": s.section_type,
        "section_text": s.section_text, "start_offset": s.start_offset, "end_offset": s.end_offset,
        "is_skills_relevant": s.is_skills_relevant,
        "relevance_probability": s.relevance_probability,
        "classification_method": s.classification_method.as_str(),
        "classifier_version": s.classifier_version, "created_at": micros(s.created_at),
        "classification_id": s.classification_id.to_string(),
    })
}

pub fn section_from_row(r: &Row) -> StoreResult<SectionClassification> {
    const E: &str = "SectionClassification";
    let job = r.str(0)?;
    let k = job.as_str();
    Ok(SectionClassification {
        job_posting_id: JobId::parse(job.clone()).map_err(|e| corrupt(E, k, e))?,
        section_index: u32_col(E, k, r.i64(1)?)?,
        section_header: r.opt_str(2)?,
        section_type: r.str(3)?,
        section_text: r.str(4)?,
        start_offset: u32_col(E, k, r.i64(5)?)?,
        end_offset: u32_col(E, k, r.i64(6)?)?,
        is_skills_relevant: r.bool(7)?,
        relevance_probability: r.f64(8)?,
        classification_method: parse(E, k, &r.str(9)?)?,
        classifier_version: r.str(10)?,
        created_at: r.micros(11)?,
        classification_id: uuid_col(E, k, r.str(12)?)?,
    })
}

pub fn cluster_json(a: &ClusterAssignment) -> Value {
    json!({
        "job_posting_id": a.job_posting_id.as_str(), "cluster_id": a.cluster_id, "cluster_name": a.cluster_name,
        "cluster_keywords": a.cluster_keywords, "cluster_size": a.cluster_size,
        "cluster_run_id": a.cluster_run_id, "cluster_model_id": a.cluster_model_id.as_str(),
        "cluster_model_version": a.cluster_model_version.as_str(),
        "cluster_version": a.cluster_version, "is_active": a.is_active,
        "created_at": micros(a.created_at),
        "cluster_assignment_id": a.cluster_assignment_id.to_string(),
        "enrichment_id": a.enrichment_id.map(|id| id.to_string()),
    })
}

pub fn cluster_from_row(r: &Row) -> StoreResult<ClusterAssignment> {
    const E: &str = "ClusterAssignment";
    let job = r.str(0)?;
    let k = job.as_str();
    Ok(ClusterAssignment {
        job_posting_id: JobId::parse(job.clone()).map_err(|e| corrupt(E, k, e))?,
        cluster_id: u32_col(E, k, r.i64(1)?)?,
        cluster_name: r.str(2)?,
        cluster_keywords: ClusterKeyword::parse_list(r.opt_str(3)?.as_deref().unwrap_or("[]"))
            .map_err(|e| corrupt(E, k, e))?,
        cluster_size: u32_col(E, k, r.i64(4)?)?,
        cluster_run_id: r.str(5)?,
        cluster_model_id: ModelId::parse(r.str(6)?).map_err(|e| corrupt(E, k, e))?,
        cluster_model_version: ModelVersion::parse(r.str(7)?).map_err(|e| corrupt(E, k, e))?,
        cluster_version: u32_col(E, k, r.i64(8)?)?,
        is_active: r.bool(9)?,
        created_at: r.micros(10)?,
        cluster_assignment_id: uuid_col(E, k, r.str(11)?)?,
        enrichment_id: opt_uuid_col(E, k, r.opt_str(12)?)?,
    })
}

pub fn alias_json(a: &SkillAlias) -> Value {
    json!({
        "alias_key": SkillAlias::normalized_key(&a.alias_text), "alias_text": a.alias_text,
        "canonical_name": a.canonical_name, "skill_category": a.skill_category.as_str(),
        "confidence": a.confidence, "source": a.source.as_str(), "is_active": a.is_active,
        "created_at": micros(a.created_at), "updated_at": micros(a.updated_at),
        "alias_id": a.alias_id.to_string(), "created_by": a.created_by,
    })
}

pub fn alias_from_row(r: &Row) -> StoreResult<SkillAlias> {
    const E: &str = "SkillAlias";
    let key = r.str(0)?;
    let k = key.as_str();
    Ok(SkillAlias {
        alias_text: r.str(1)?,
        canonical_name: r.str(2)?,
        skill_category: parse(E, k, &r.str(3)?)?,
        confidence: r.f64(4)?,
        source: parse(E, k, &r.str(5)?)?,
        is_active: r.bool(6)?,
        created_at: r.micros(7)?,
        updated_at: r.micros(8)?,
        alias_id: uuid_col(E, k, r.str(9)?)?,
        created_by: r.str(10)?,
    })
}

pub fn model_from_row(r: &Row) -> StoreResult<ModelConfig> {
    const E: &str = "ModelConfig";
    let id = r.str(0)?;
    let k = id.as_str();
    Ok(ModelConfig {
        model_id: ModelId::parse(id.clone()).map_err(|e| corrupt(E, k, e))?,
        model_type: parse(E, k, &r.str(1)?)?,
        version: ModelVersion::parse(r.str(2)?).map_err(|e| corrupt(E, k, e))?,
        description: r.opt_str(3)?,
        is_active: r.bool(4)?,
        config_overrides: json_text(E, k, r.opt_str(5)?, "{}")?,
        performance_metrics: json_text(E, k, r.opt_str(6)?, "{}")?,
        created_at: r.micros(7)?,
        updated_at: r.micros(8)?,
        activated_at: r.opt_micros(9)?,
        activated_by: r.opt_str(10)?,
        training_data_version: r.opt_str(11)?,
        training_date: r.opt_micros(12)?,
    })
}

pub fn evaluation_from_row(r: &Row) -> StoreResult<EvaluationResult> {
    const E: &str = "EvaluationResult";
    let id = r.str(0)?;
    let k = id.as_str();
    Ok(EvaluationResult {
        evaluation_id: id.clone(),
        model_id: ModelId::parse(r.str(1)?).map_err(|e| corrupt(E, k, e))?,
        model_version: ModelVersion::parse(r.str(2)?).map_err(|e| corrupt(E, k, e))?,
        dataset_version: r.str(3)?,
        dataset_path: r.opt_str(4)?,
        overall_precision: r.f64(5)?,
        overall_recall: r.f64(6)?,
        overall_f1: r.f64(7)?,
        category_metrics: json_text(E, k, r.opt_str(8)?, "{}")?,
        additional_metrics: json_text(E, k, r.opt_str(9)?, "{}")?,
        sample_count: u64::try_from(r.i64(10)?).map_err(|e| corrupt(E, k, e))?,
        execution_time_seconds: r.f64(11)?,
        is_ci_run: r.bool(12)?,
        ci_build_id: r.opt_str(13)?,
        threshold_passed: r.opt_bool(14)?,
        evaluation_date: r.micros(15)?,
    })
}
