//! `jobenrich skills JOB_ID` and `jobenrich sections JOB_ID`: one job's
//! stored results with confidence, strategies, section and snippet — at the
//! active model's version by default, any stored version with `--version`,
//! or every version with `--all-versions`.

use crate::error::UsageError;
use crate::output::{cell, emit, Table};
use crate::session::Session;
use clap::Args;
use jobenrich_domain::{EnrichmentType, EnrichmentVersion, JobId, Store};

#[derive(Debug, Args)]
pub struct JobResultsArgs {
    /// The job posting's id (as ingested, e.g. the `id` field of the JSONL row).
    pub job_posting_id: String,
    /// A stored version (`skills_extractor@v1.0`, `legacy`); default: the active model's.
    #[arg(long, conflicts_with = "all_versions")]
    pub version: Option<String>,
    /// Every stored version.
    #[arg(long)]
    pub all_versions: bool,
}

/// Which version to read: `None` for all.
async fn selected_version(
    store: &dyn Store,
    args: &JobResultsArgs,
    model_type: EnrichmentType,
) -> anyhow::Result<Option<EnrichmentVersion>> {
    if args.all_versions {
        return Ok(None);
    }
    if let Some(v) = &args.version {
        let version = EnrichmentVersion::parse(v.clone())
            .map_err(|e| UsageError(format!("--version: {e}")))?;
        let known = known_versions(store, model_type).await?;
        if !known.contains(&version.to_string()) {
            return Err(UsageError(format!(
                "--version {v}: unknown version of {model_type} (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
            .into());
        }
        return Ok(Some(version));
    }
    Ok(store
        .active_model_for_type(model_type)
        .await?
        .map(|m| m.enrichment_version()))
}

/// The registered versions of the type, and (skills) the versions results are stored at.
async fn known_versions(
    store: &dyn Store,
    model_type: EnrichmentType,
) -> anyhow::Result<Vec<String>> {
    let mut known: Vec<String> = store
        .list_models(None)
        .await?
        .iter()
        .filter(|m| m.model_type == model_type)
        .map(|m| m.enrichment_version().to_string())
        .collect();
    if model_type == EnrichmentType::SkillsExtraction {
        known.extend(
            store
                .skill_versions()
                .await?
                .into_iter()
                .map(|(v, _)| v.to_string()),
        );
    }
    known.sort();
    known.dedup();
    Ok(known)
}

async fn existing_job(store: &dyn Store, job_posting_id: &str) -> anyhow::Result<JobId> {
    let id = JobId::parse(job_posting_id).map_err(|e| UsageError(format!("JOB_ID: {e}")))?;
    if store.get_posting(&id).await?.is_none() {
        return Err(UsageError(format!("job posting {job_posting_id:?} not found")).into());
    }
    Ok(id)
}

pub async fn skills(session: &Session, args: JobResultsArgs) -> anyhow::Result<()> {
    let context = session.connect_migrated().await?;
    let store = context.store.as_ref();
    let id = existing_job(store, &args.job_posting_id).await?;
    let version = selected_version(store, &args, EnrichmentType::SkillsExtraction).await?;
    let skills = store.skills_for_job(&id, version).await?;
    let width = crate::output::display_width();
    emit(session.format, &skills, |skills| {
        let mut table = Table::new([
            "SKILL",
            "CATEGORY",
            "CONFIDENCE",
            "STRATEGIES",
            "MENTIONS",
            "SECTION",
            "SECTION RELEVANCE",
            "POSITION",
            "TAXONOMY",
            "VERSION",
            "SNIPPET",
        ]);
        for s in skills {
            table.row([
                s.skill_name.clone(),
                s.skill_category.to_string(),
                format!("{:.2}", s.confidence_score),
                s.source_strategies
                    .iter()
                    .map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
                s.mention_count.to_string(),
                cell(s.extracted_from_section.as_deref()),
                cell(s.section_relevance_score.map(|r| format!("{r:.2}"))),
                cell(s.position_in_text),
                taxonomy_cell(s),
                s.enrichment_version.to_string(),
                cell(s.context_snippet.as_deref()),
            ]);
        }
        // The snippet is cut to the terminal; `--format json` has it whole.
        table.fit_last_column(width)
    })
}

/// The taxonomy reference; a semantic link shows its score (a cosine, or
/// a share of the skill's candidates; the ranked candidates are in
/// `--format json`).
fn taxonomy_cell(s: &jobenrich_domain::ExtractedSkill) -> String {
    let semantic = s
        .source_strategies
        .contains(&jobenrich_domain::ExtractionStrategy::Semantic);
    match (&s.taxonomy_ref, s.taxonomy_links.first()) {
        (Some(r), Some(best)) if semantic => format!("{r} ({:.2})", best.score),
        (r, _) => cell(r.as_deref()),
    }
}

pub async fn sections(session: &Session, args: JobResultsArgs) -> anyhow::Result<()> {
    let context = session.connect_migrated().await?;
    let store = context.store.as_ref();
    let id = existing_job(store, &args.job_posting_id).await?;
    let version = selected_version(store, &args, EnrichmentType::SectionClassification).await?;
    let sections = store
        .sections_for_job(&id, version.map(|v| v.to_string()))
        .await?;
    emit(session.format, &sections, |sections| {
        let mut table = Table::new([
            "INDEX",
            "TYPE",
            "HEADER",
            "RELEVANT",
            "PROBABILITY",
            "OFFSETS",
            "METHOD",
            "VERSION",
            "TEXT",
        ]);
        for s in sections {
            let text: String = s.section_text.chars().take(80).collect();
            table.row([
                s.section_index.to_string(),
                s.section_type.clone(),
                cell(s.section_header.as_deref()),
                if s.is_skills_relevant { "yes" } else { "no" }.to_string(),
                format!("{:.2}", s.relevance_probability),
                format!("{}..{}", s.start_offset, s.end_offset),
                s.classification_method.to_string(),
                s.classifier_version.clone(),
                text,
            ]);
        }
        table
    })
}
