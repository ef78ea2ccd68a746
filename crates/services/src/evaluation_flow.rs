//! The evaluation flow of the data model, step by step: resolve the model
//! version (given, else active) → run the engine over the labeled dataset on a
//! blocking thread → compute the metrics → find the baseline (latest
//! evaluation of the active version on the same dataset version) → apply the
//! gate → store the `EvaluationResult` → merge the figures into the model's
//! `performance_metrics`. Also the registry views `models history` and
//! `models diff` print.
//!
//! The engine is reached through `PredictorFactory`, so this flow is tested
//! with mocks and the CLI wires the real engine in.
//!
//! `evaluate_stored` scores what the store holds instead of running the
//! engine (`evaluate --from-store`): the skills stored at the version's
//! enrichment version for the postings whose ids are the records' ids, with
//! their mention spans. It is an audit: nothing is recorded.

use chrono::{DateTime, SecondsFormat, Utc};
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    AliasRepository, CategoryMetrics, EnrichmentKey, EnrichmentRepository, EnrichmentStatus,
    EnrichmentType, EvaluationRepository, EvaluationResult, ExtractedSkill, JobId,
    JobPostingRepository, ModelConfig, ModelConfigRepository, ModelId, ModelVersion, SkillAlias,
    SkillCategory, SkillRepository, StoreError, ValidationError,
};
use jobenrich_evaluation::gate::evaluate_gate;
use jobenrich_evaluation::metrics::Prf;
use jobenrich_evaluation::{
    score, Baseline, CharSpan, DatasetError, EvaluationMetrics, EvaluationTarget, GateOutcome,
    GatePolicy, LabeledDataset, LabeledRecord, PredictedSkill, Prediction, ZeroDivision,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Runs a model over one text: the skills it finds (with every mention) and
/// the sections it classifies.
pub trait Predictor: Send + Sync {
    fn predict(&self, text: &str) -> Result<Prediction, String>;

    /// The category the model's taxonomy gives a skill name (canonical or
    /// ESCO preferred label); fills gold skills that come without one.
    fn category_of(&self, _skill_name: &str) -> Option<SkillCategory> {
        None
    }
}

/// Builds a predictor for one model version (its overrides) and the aliases.
/// `companion` is the active model of the other step the engine performs
/// (the section classifier when a skills model is evaluated, and the other
/// way round), so a version is scored with the sections it would run with.
pub trait PredictorFactory: Send + Sync {
    fn build(
        &self,
        model: &ModelConfig,
        companion: Option<&ModelConfig>,
        aliases: &[SkillAlias],
    ) -> Result<Arc<dyn Predictor>, String>;
}

/// The ports the flow uses; a full `Store` provides all of them.
#[derive(Clone)]
pub struct EvaluationPorts {
    pub models: Arc<dyn ModelConfigRepository>,
    pub evaluations: Arc<dyn EvaluationRepository>,
    pub aliases: Arc<dyn AliasRepository>,
}

impl EvaluationPorts {
    pub fn from_store(store: Arc<dyn jobenrich_domain::Store>) -> Self {
        Self {
            models: store.clone(),
            evaluations: store.clone(),
            aliases: store,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvaluationFlowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("model {model_id} {version} is not registered (`jobenrich models list`)")]
    ModelNotFound { model_id: String, version: String },
    #[error("model {0} has no active version: pass --version or activate one (`jobenrich models activate`)")]
    NoActiveVersion(String),
    #[error(
        "{0} models cannot be evaluated here (skills_extraction and section_classification can)"
    )]
    UnsupportedModelType(EnrichmentType),
    #[error("{0} models cannot be evaluated from the store (skills_extraction can)")]
    UnsupportedFromStore(EnrichmentType),
    #[error("thresholds: {0}")]
    Policy(String),
    #[error("building the engine for {model}: {reason}")]
    EngineBuild { model: String, reason: String },
    #[error("the engine failed on record {record_id:?}: {reason}")]
    Prediction { record_id: String, reason: String },
    #[error("the prediction thread failed: {0}")]
    PredictionThread(String),
    #[error("the evaluation result is invalid: {0}")]
    InvalidResult(#[from] ValidationError),
    /// `--from-store` on a record whose stored result cannot be scored.
    #[error("record {record_id:?}: {reason}")]
    StoredResult { record_id: String, reason: String },
}

/// The result reads `evaluate_stored` needs; a full `Store` provides them.
#[derive(Clone)]
pub struct StoredResultPorts {
    pub postings: Arc<dyn JobPostingRepository>,
    pub enrichments: Arc<dyn EnrichmentRepository>,
    pub skills: Arc<dyn SkillRepository>,
}

impl StoredResultPorts {
    pub fn from_store(store: Arc<dyn jobenrich_domain::Store>) -> Self {
        Self {
            postings: store.clone(),
            enrichments: store.clone(),
            skills: store,
        }
    }
}

/// A skill as the evaluation scores it: its names, category, confidence and
/// every mention. Shared by the engine predictor and stored results, so
/// both are scored from the same fields.
pub fn predicted_skill(
    name: String,
    category: SkillCategory,
    confidence: f64,
    mentions: impl IntoIterator<Item = (u32, u32)>,
    taxonomy_ref: Option<&str>,
) -> PredictedSkill {
    PredictedSkill {
        // The ESCO preferred label the skill is linked to (`esco:LABEL`).
        also_known_as: taxonomy_ref
            .and_then(|r| r.strip_prefix("esco:"))
            .map(|label| vec![label.to_string()])
            .unwrap_or_default(),
        // Ranked semantic links are added by the caller that has them.
        links: Vec::new(),
        name,
        category,
        confidence,
        mentions: mentions
            .into_iter()
            .map(|(start, end)| CharSpan { start, end })
            .collect(),
    }
}

/// The prediction a stored skill stands for: scored like the engine's, so
/// a reference the `semantic` strategy set is a ranked link, not a name.
fn stored_prediction(skill: ExtractedSkill) -> PredictedSkill {
    let exact_ref = if skill
        .source_strategies
        .contains(&jobenrich_domain::ExtractionStrategy::Semantic)
    {
        None
    } else {
        skill.taxonomy_ref.as_deref()
    };
    let mut prediction = predicted_skill(
        skill.skill_name.clone(),
        skill.skill_category,
        skill.confidence_score,
        skill.mention_spans.iter().map(|m| (m.start, m.end)),
        exact_ref,
    );
    prediction.links = skill
        .taxonomy_links
        .into_iter()
        .map(|l| jobenrich_evaluation::RankedLink {
            label: l.label.to_string(),
            score: l.score,
        })
        .collect();
    prediction
}

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct EvaluateRequest {
    pub model_id: ModelId,
    /// `None`: the active version.
    pub version: Option<ModelVersion>,
    pub dataset: LabeledDataset,
    /// Thresholds from the command line; they win over the model config's.
    pub thresholds: GatePolicy,
    pub is_ci_run: bool,
    pub ci_build_id: Option<String>,
    pub zero_division: ZeroDivision,
}

/// Everything one evaluation produced.
#[derive(Debug, Clone)]
pub struct EvaluationRun {
    pub result: EvaluationResult,
    pub metrics: EvaluationMetrics,
    pub policy: GatePolicy,
    pub gate: GateOutcome,
    pub baseline: Option<Baseline>,
    /// The evaluated version after its performance_metrics were updated.
    pub model: ModelConfig,
    /// False for `evaluate_stored`: the result was neither stored nor merged
    /// into `performance_metrics`.
    pub recorded: bool,
}

/// Which metrics a model type is scored with.
pub fn target_for(model_type: EnrichmentType) -> Option<EvaluationTarget> {
    match model_type {
        EnrichmentType::SkillsExtraction => Some(EvaluationTarget::Skills),
        EnrichmentType::SectionClassification => Some(EvaluationTarget::Sections),
        _ => None,
    }
}

fn to_prf(m: &CategoryMetrics) -> Prf {
    Prf {
        precision: m.precision,
        recall: m.recall,
        f1: m.f1,
        support: m.support,
    }
}

/// The comparison point of an evaluation result.
pub fn baseline_of(result: &EvaluationResult) -> Baseline {
    Baseline {
        evaluation_id: result.evaluation_id.clone(),
        model_version: result.model_version.to_string(),
        dataset_version: result.dataset_version.clone(),
        precision: result.overall_precision,
        recall: result.overall_recall,
        f1: result.overall_f1,
        category_metrics: result
            .category_metrics
            .iter()
            .map(|(k, v)| (k.clone(), to_prf(v)))
            .collect(),
        evaluated_at: result
            .evaluation_date
            .to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// The figures merged into `performance_metrics`: the headline macro
/// figures under the data model's names plus every additional metric.
pub fn performance_figures(result: &EvaluationResult) -> BTreeMap<String, f64> {
    let mut m = result.additional_metrics.clone();
    m.insert("precision".into(), result.overall_precision);
    m.insert("recall".into(), result.overall_recall);
    m.insert("f1_score".into(), result.overall_f1);
    m
}

/// The model version the request names, or the active one.
async fn resolve_model(
    models: &dyn ModelConfigRepository,
    model_id: &ModelId,
    version: Option<&ModelVersion>,
) -> Result<ModelConfig, EvaluationFlowError> {
    match version {
        Some(v) => {
            models
                .get_model(model_id, v)
                .await?
                .ok_or_else(|| EvaluationFlowError::ModelNotFound {
                    model_id: model_id.to_string(),
                    version: v.to_string(),
                })
        }
        None => models
            .active_model(model_id)
            .await?
            .ok_or_else(|| EvaluationFlowError::NoActiveVersion(model_id.to_string())),
    }
}

/// Runs one evaluation end to end (see the module doc for the steps).
pub async fn evaluate_model(
    ports: &EvaluationPorts,
    factory: Arc<dyn PredictorFactory>,
    request: EvaluateRequest,
    now: DateTime<Utc>,
) -> Result<EvaluationRun, EvaluationFlowError> {
    run_evaluation(ports, None, factory, request, now).await
}

/// Scores the results stored for the dataset's postings (ids = record ids) at
/// the version's enrichment version, with the same metrics as
/// `evaluate_model`; the factory only supplies the categories of gold skills
/// given without one. Records nothing. Skills models only.
pub async fn evaluate_stored(
    ports: &EvaluationPorts,
    stored: &StoredResultPorts,
    factory: Arc<dyn PredictorFactory>,
    request: EvaluateRequest,
    now: DateTime<Utc>,
) -> Result<EvaluationRun, EvaluationFlowError> {
    run_evaluation(ports, Some(stored), factory, request, now).await
}

/// The stored predictions of every record, in record order. Each record's
/// posting must hold the record's text (offsets are compared) and have a
/// successful extraction at the version; three batched reads in all.
async fn stored_predictions(
    stored: &StoredResultPorts,
    model: &ModelConfig,
    records: &[LabeledRecord],
) -> Result<Vec<Prediction>, EvaluationFlowError> {
    let version = model.enrichment_version();
    let refused = |record_id: &str, reason: String| EvaluationFlowError::StoredResult {
        record_id: record_id.to_string(),
        reason,
    };
    let mut ids = Vec::with_capacity(records.len());
    for r in records {
        ids.push(
            JobId::parse(r.id.clone())
                .map_err(|e| refused(&r.id, format!("not a posting id: {e}")))?,
        );
    }
    let postings: std::collections::HashMap<JobId, String> = stored
        .postings
        .get_postings(&ids)
        .await?
        .into_iter()
        .map(|p| (p.job_posting_id, p.description))
        .collect();
    let keys: Vec<EnrichmentKey> = ids
        .iter()
        .map(|id| EnrichmentKey {
            job_posting_id: id.clone(),
            enrichment_type: EnrichmentType::SkillsExtraction,
            enrichment_version: version.clone(),
        })
        .collect();
    let statuses: std::collections::HashMap<JobId, EnrichmentStatus> = stored
        .enrichments
        .get_enrichments(&keys)
        .await?
        .into_iter()
        .map(|e| (e.job_posting_id, e.status))
        .collect();
    let mut by_job: std::collections::HashMap<JobId, Vec<ExtractedSkill>> =
        std::collections::HashMap::new();
    for skill in stored.skills.skills_for_jobs(&ids, &version).await? {
        by_job
            .entry(skill.job_posting_id.clone())
            .or_default()
            .push(skill);
    }
    let mut out = Vec::with_capacity(records.len());
    for (r, id) in records.iter().zip(&ids) {
        match postings.get(id) {
            None => {
                return Err(refused(
                    &r.id,
                    "no posting with this id in the store (ingest the dataset's postings with \
                     their ids, then run)"
                        .into(),
                ))
            }
            Some(description) if *description != r.text => {
                return Err(refused(
                    &r.id,
                    "the stored posting's description differs from the record's text, so \
                     their offsets cannot be compared"
                        .into(),
                ))
            }
            Some(_) => {}
        }
        match statuses.get(id) {
            Some(EnrichmentStatus::Success) => {}
            other => {
                return Err(refused(
                    &r.id,
                    format!(
                        "no successful skills_extraction at {version} (status: {}); \
                         `jobenrich run` or `reenrich` first",
                        other.map_or("never queued", |s| s.as_str())
                    ),
                ))
            }
        }
        let mut skills = by_job.remove(id).unwrap_or_default();
        // The engine's output order (first mention, then name): scoring
        // breaks ties by order, e.g. which of two predictions matches a gold skill.
        skills.sort_by(|a, b| {
            (a.position_in_text, &a.skill_name).cmp(&(b.position_in_text, &b.skill_name))
        });
        let text_chars = r.text.chars().count();
        for skill in &skills {
            skill
                .check_mentions_within(text_chars)
                .map_err(|e| refused(&r.id, e.to_string()))?;
        }
        out.push(Prediction {
            skills: skills.into_iter().map(stored_prediction).collect(),
            sections: Vec::new(),
        });
    }
    Ok(out)
}

async fn run_evaluation(
    ports: &EvaluationPorts,
    stored: Option<&StoredResultPorts>,
    factory: Arc<dyn PredictorFactory>,
    request: EvaluateRequest,
    now: DateTime<Utc>,
) -> Result<EvaluationRun, EvaluationFlowError> {
    let model = resolve_model(
        ports.models.as_ref(),
        &request.model_id,
        request.version.as_ref(),
    )
    .await?;
    let target = target_for(model.model_type)
        .ok_or(EvaluationFlowError::UnsupportedModelType(model.model_type))?;
    if stored.is_some() && target != EvaluationTarget::Skills {
        return Err(EvaluationFlowError::UnsupportedFromStore(model.model_type));
    }
    let policy = GatePolicy::from_overrides(&model.config_overrides)
        .map_err(EvaluationFlowError::Policy)?
        .overridden_by(&request.thresholds);
    policy.check().map_err(EvaluationFlowError::Policy)?;
    let aliases = ports.aliases.list_aliases(true).await?;
    let companion_type = match model.model_type {
        EnrichmentType::SectionClassification => EnrichmentType::SkillsExtraction,
        _ => EnrichmentType::SectionClassification,
    };
    let companion = ports.models.active_model_for_type(companion_type).await?;

    let started = Instant::now();
    let predictor = factory
        .build(&model, companion.as_ref(), &aliases)
        .map_err(|reason| EvaluationFlowError::EngineBuild {
            model: format!("{}@{}", model.model_id, model.version),
            reason,
        })?;
    // Gold skills without a category (ESCO-linked labels) take the one the
    // model's taxonomy gives the name, so their misses land in a category.
    let mut records = request.dataset.records.clone();
    for gold in records
        .iter_mut()
        .flat_map(|r| r.gold_skills.iter_mut().flatten())
    {
        if gold.category.is_none() {
            gold.category = predictor.category_of(&gold.name);
        }
    }
    let records = Arc::new(records);
    let predictions = if let Some(stored) = stored {
        stored_predictions(stored, &model, &records).await?
    } else {
        let records = records.clone();
        tokio::task::spawn_blocking(move || {
            records
                .iter()
                .map(|r| {
                    predictor
                        .predict(&r.text)
                        .map_err(|reason| EvaluationFlowError::Prediction {
                            record_id: r.id.clone(),
                            reason,
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| EvaluationFlowError::PredictionThread(e.to_string()))??
    };
    let metrics = score(target, &records, &predictions, request.zero_division)?;
    let execution_time_seconds = started.elapsed().as_secs_f64();

    // The baseline is read before this result is stored, so evaluating the
    // active version compares with its previous run, never with itself.
    let baseline = match ports.models.active_model(&model.model_id).await? {
        Some(active) => ports
            .evaluations
            .latest_evaluation(
                &model.model_id,
                Some(active.version.clone()),
                Some(request.dataset.dataset_version.clone()),
            )
            .await?
            .map(|r| baseline_of(&r)),
        None => None,
    };
    let gate = evaluate_gate(
        &policy,
        metrics.macro_avg.f1,
        &metrics.category_metrics,
        baseline.as_ref(),
    );

    let result = EvaluationResult {
        evaluation_id: uuid::Uuid::new_v4().to_string(),
        model_id: model.model_id.clone(),
        model_version: model.version.clone(),
        dataset_version: request.dataset.dataset_version.clone(),
        dataset_path: request.dataset.dataset_path.clone(),
        overall_precision: metrics.macro_avg.precision,
        overall_recall: metrics.macro_avg.recall,
        overall_f1: metrics.macro_avg.f1,
        category_metrics: metrics
            .category_metrics
            .iter()
            .map(|(k, p)| {
                (
                    k.clone(),
                    CategoryMetrics {
                        precision: p.precision,
                        recall: p.recall,
                        f1: p.f1,
                        support: p.support,
                    },
                )
            })
            .collect(),
        additional_metrics: metrics.additional_metrics.clone(),
        sample_count: metrics.sample_count,
        execution_time_seconds,
        is_ci_run: request.is_ci_run,
        ci_build_id: request.ci_build_id.clone(),
        threshold_passed: gate.passed(),
        evaluation_date: now,
    };
    result.validate()?;
    result.check_categories(model.model_type)?;
    let recorded = stored.is_none();
    let model = if recorded {
        ports.evaluations.insert_evaluation(&result).await?;
        ports
            .models
            .update_performance_metrics(
                &model.model_id,
                &model.version,
                &performance_figures(&result),
                now,
            )
            .await?
    } else {
        // An audit of stored results changes nothing the gate relies on.
        model
    };
    Ok(EvaluationRun {
        result,
        metrics,
        policy,
        gate,
        baseline,
        model,
        recorded,
    })
}

/// One row of `models history`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VersionHistory {
    pub model: ModelConfig,
    /// The newest evaluation of this version (any dataset).
    pub latest_evaluation: Option<EvaluationResult>,
    pub evaluation_count: u64,
}

/// Every version of a model, in version order, with its latest evaluation.
pub async fn model_history(
    ports: &EvaluationPorts,
    model_id: &ModelId,
) -> Result<Vec<VersionHistory>, EvaluationFlowError> {
    let mut models = ports.models.list_models(Some(model_id.clone())).await?;
    models.sort_by_key(|m| m.version.sort_key());
    // One read of every evaluation (newest first) instead of one per version.
    let evaluations = ports.evaluations.list_evaluations(model_id).await?;
    Ok(models
        .into_iter()
        .map(|model| {
            let of_version: Vec<&EvaluationResult> = evaluations
                .iter()
                .filter(|e| e.model_version == model.version)
                .collect();
            VersionHistory {
                latest_evaluation: of_version.first().map(|e| (*e).clone()),
                evaluation_count: of_version.len() as u64,
                model,
            }
        })
        .collect())
}

/// One line of `models diff`: a key with its value in version A and B.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiffRow {
    pub key: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

impl DiffRow {
    pub fn differs(&self) -> bool {
        self.a != self.b
    }
}

/// Two versions side by side.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelDiff {
    pub model_id: ModelId,
    pub version_a: ModelVersion,
    pub version_b: ModelVersion,
    /// Flattened `config_overrides` (`a.b.c` keys, JSON values).
    pub overrides: Vec<DiffRow>,
    /// `performance_metrics` of each version.
    pub metrics: Vec<DiffRow>,
    /// Activation and description.
    pub registry: Vec<DiffRow>,
}

/// `config_overrides` (or metrics) as dotted keys with their JSON text.
fn flatten(value: &serde_json::Value) -> BTreeMap<String, String> {
    jobenrich_domain::text::flatten_json(value)
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

fn side_by_side(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<DiffRow> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| DiffRow {
            key: k.clone(),
            a: a.get(k).cloned(),
            b: b.get(k).cloned(),
        })
        .collect()
}

/// `config_overrides`, `performance_metrics` and registry fields of two versions.
pub async fn model_diff(
    ports: &EvaluationPorts,
    model_id: &ModelId,
    version_a: &ModelVersion,
    version_b: &ModelVersion,
) -> Result<ModelDiff, EvaluationFlowError> {
    let a = resolve_model(ports.models.as_ref(), model_id, Some(version_a)).await?;
    let b = resolve_model(ports.models.as_ref(), model_id, Some(version_b)).await?;
    let overrides =
        |m: &ModelConfig| flatten(&serde_json::Value::Object(m.config_overrides.clone()));
    let metrics = |m: &ModelConfig| {
        m.performance_metrics
            .iter()
            .map(|(k, v)| (k.clone(), format!("{v:.4}")))
            .collect::<BTreeMap<_, _>>()
    };
    let registry = |m: &ModelConfig| {
        let mut out = BTreeMap::new();
        out.insert("is_active".to_string(), m.is_active.to_string());
        if let Some(d) = &m.description {
            out.insert("description".to_string(), d.clone());
        }
        if let Some(t) = m.activated_at {
            out.insert(
                "activated_at".to_string(),
                t.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        }
        if let Some(by) = &m.activated_by {
            out.insert("activated_by".to_string(), by.clone());
        }
        out.insert(
            "created_at".to_string(),
            m.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        out
    };
    Ok(ModelDiff {
        model_id: model_id.clone(),
        version_a: version_a.clone(),
        version_b: version_b.clone(),
        overrides: side_by_side(&overrides(&a), &overrides(&b)),
        metrics: side_by_side(&metrics(&a), &metrics(&b)),
        registry: side_by_side(&registry(&a), &registry(&b)),
    })
}
