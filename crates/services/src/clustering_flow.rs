//! Clustering use cases: `cluster run` (and the worker's `clustering`
//! enrichment), `cluster diff`, `cluster list` and `cluster show`.
//!
//! A run streams postings in id pages with their skills at the current
//! skills version (and, when the clusterer's `embedding_weight` is above 0,
//! their posting vectors at its embeddings version, read in the same
//! batches), clusters them with `jobenrich-clustering` off the async
//! executor, renumbers the clusters so that a cluster continuing one of the
//! previous run keeps its id, and stores everything with one atomic
//! `record_clustering_run` call: a crash before that call leaves the
//! previous run active and intact.

use chrono::Utc;
use futures::TryStreamExt;
use jobenrich_clustering::report::render_html;
use jobenrich_clustering::stability::{
    continuing_ids, RunMembership, StabilityReport, DEFAULT_SHARE_THRESHOLD,
};
use jobenrich_clustering::{
    choose_k, compare_runs, kmeans, name_clusters, ClusterDescription, ClusteringSettings,
    EmbeddingError, FeatureMatrix, JobDocument, KCandidate, KChoice, SettingsError, WeightedSkill,
};
use jobenrich_domain::Uuid;
use jobenrich_domain::{
    ClusterAssignment, ClusterChange, ClusteringRun, ClusteringRunRecorded, ClusteringRunSummary,
    EnrichmentType, EnrichmentVersion, JobEmbedding, JobId, ModelConfig, ModelId, ModelVersion,
    NewClusterAssignment, SkillWeight, Store, StoreError,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;
use thiserror::Error;

/// Stability types the report exposes, for callers that print it.
pub use jobenrich_clustering::stability::{ClusterEvent, ClusterSide};

/// The clustering model registered and activated when none is active.
pub const DEFAULT_CLUSTERER_ID: &str = "job_clusterer";
pub const DEFAULT_CLUSTERER_VERSION: &str = "v1.0";

/// Postings read per store call.
pub const DEFAULT_PAGE_SIZE: usize = 2_000;
/// Jobs whose skills are read per store call.
pub const DEFAULT_SKILLS_BATCH: usize = 12_500;
/// Skill batches read at once (one per core of a 2-core machine).
pub const DEFAULT_CONCURRENT_BATCHES: usize = 2;

#[derive(Debug, Error)]
pub enum ClusteringFlowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("clustering model {model}: {source}")]
    Settings {
        model: String,
        #[source]
        source: SettingsError,
    },
    #[error(
        "no skills version to cluster on: no skills_extraction model is active. \
         Run `jobenrich run` first (it activates the shipped skills extractor) or pass a skills version"
    )]
    NoSkillsVersion,
    #[error("nothing to cluster: the store holds no job postings (ingest postings first)")]
    NoJobs,
    #[error(
        "clustering model {model} clusters on posting vectors (embedding_weight {weight}) \
         but names no embedding_version and no embeddings model is active: activate one \
         (`jobenrich models activate job_embedder v1.0`) and run `jobenrich run`, \
         or set embedding_version in the clustering model"
    )]
    NoEmbeddingsVersion { model: String, weight: f64 },
    #[error(
        "embeddings version {version} has no stored vectors ({available}): \
         activate it and run `jobenrich run` to embed the postings, \
         or set the clustering model's embedding_version to one that has vectors"
    )]
    NoVectors { version: String, available: String },
    #[error(
        "{missing} of {total} jobs have no posting vector at embeddings version {version} \
         (first: {first}): run `jobenrich run` with that embeddings model active to embed them, \
         or cluster with a model whose embedding_weight is 0 (job_clusterer@v1.0)"
    )]
    MissingEmbeddings {
        missing: usize,
        total: usize,
        version: String,
        first: String,
    },
    #[error("posting vectors at embeddings version {version}: {source}")]
    Embeddings {
        version: String,
        #[source]
        source: EmbeddingError,
    },
    #[error("clustering run {0:?} not found (`jobenrich cluster list` shows the runs)")]
    UnknownRun(String),
    #[error("no clustering run yet: run `jobenrich cluster run` first")]
    NoRuns,
    #[error(
        "cluster diff needs two clustering runs, the store holds {0}: \
         run `jobenrich cluster run` again (e.g. with another --seed or --k)"
    )]
    NotEnoughRuns(usize),
    #[error("cluster diff needs two different runs, got {0:?} twice")]
    SameRun(String),
    #[error("job {0:?} not found")]
    UnknownJob(String),
    #[error("clustering thread failed: {0}")]
    Worker(String),
}

/// What a caller may set for one run; everything else comes from the
/// active clustering model's `config_overrides`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusteringParams {
    /// Fixed k (overrides the model's k or k range).
    pub k: Option<usize>,
    pub seed: Option<u64>,
    pub page_size: usize,
    /// Jobs whose skills are read per store call.
    pub skills_batch: usize,
    /// Skill batches read at once.
    pub concurrent_batches: usize,
    /// Skills of this version are the features (default: the active skills extractor's).
    pub skills_version: Option<EnrichmentVersion>,
    /// Recorded as the activator of the shipped default clusterer on a fresh store.
    pub activated_by: String,
}

impl Default for ClusteringParams {
    fn default() -> Self {
        Self {
            k: None,
            seed: None,
            page_size: DEFAULT_PAGE_SIZE,
            skills_batch: DEFAULT_SKILLS_BATCH,
            concurrent_batches: DEFAULT_CONCURRENT_BATCHES,
            skills_version: None,
            activated_by: "jobenrich".to_string(),
        }
    }
}

/// Seconds spent in each phase of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusteringTimings {
    pub load_seconds: f64,
    pub cluster_seconds: f64,
    pub record_seconds: f64,
    pub total_seconds: f64,
}

/// What `cluster run` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusteringRunReport {
    pub cluster_run_id: String,
    pub cluster_model_id: ModelId,
    pub cluster_model_version: ModelVersion,
    /// True when this run registered and activated the shipped default clusterer.
    pub activated_default_model: bool,
    pub skills_version: EnrichmentVersion,
    /// Share of each row given to the posting vector (0: skills and titles only).
    pub embedding_weight: f64,
    /// Whose vectors were used (`None` when `embedding_weight` is 0).
    pub embedding_version: Option<EnrichmentVersion>,
    pub jobs: u64,
    pub jobs_with_skills: u64,
    /// Jobs with a posting vector (0 when vectors are not used).
    pub jobs_with_embeddings: u64,
    pub vocabulary_size: usize,
    pub k: usize,
    /// `fixed` or `silhouette k_min..=k_max (sample N)`.
    pub k_choice: String,
    /// Every k tried when k was chosen by silhouette.
    pub k_candidates: Vec<KCandidate>,
    pub seed: u64,
    pub iterations: usize,
    pub inertia: f64,
    /// Clusters with their stored ids, largest first.
    pub clusters: Vec<ClusterDescription>,
    /// The run whose cluster ids this run continues.
    pub previous_run_id: Option<String>,
    pub recorded: ClusteringRunRecorded,
    pub timings: ClusteringTimings,
}

/// The active clustering model, registering and activating the shipped
/// default (`job_clusterer@v1.0`) when none is active. Returns the model and
/// whether the default was activated now.
pub async fn active_clusterer(
    store: &dyn Store,
    activated_by: &str,
) -> Result<(ModelConfig, bool), ClusteringFlowError> {
    if let Some(model) = store
        .active_model_for_type(EnrichmentType::Clustering)
        .await?
    {
        return Ok((model, false));
    }
    let now = Utc::now();
    let default = default_clusterer(now);
    if store
        .get_model(&default.model_id, &default.version)
        .await?
        .is_none()
    {
        store.register_model(&default).await?;
    }
    let model = store
        .activate_model(&default.model_id, &default.version, activated_by, now)
        .await?;
    Ok((model, true))
}

/// The shipped default clusterer (same settings as `config/models/job_clusterer-v1.0.yaml`).
pub fn default_clusterer(now: chrono::DateTime<Utc>) -> ModelConfig {
    let mut model = ModelConfig::new(
        ModelId::parse(DEFAULT_CLUSTERER_ID).expect("valid model id"),
        EnrichmentType::Clustering,
        ModelVersion::parse(DEFAULT_CLUSTERER_VERSION).expect("valid version"),
        now,
    );
    model.description = Some(
        "Shipped default: TF-IDF of skills and title tokens, k-means++ with k chosen by silhouette"
            .to_string(),
    );
    model.config_overrides = ClusteringSettings::default_overrides();
    model
}

/// Reads every posting's id and title page by page (never descriptions),
/// and the (skill, confidence) pairs of `skills_batch` jobs per store call
/// (never snippets or provenance): few, large skill queries, since a
/// BigQuery query has seconds of latency.
/// Up to `concurrent_batches` skill calls are in flight at once, while the
/// next batch's titles are read: on SQLite each call runs on its own pooled
/// connection and thread (decoding 4 M rows was most of the load), on
/// BigQuery each is one query job.
/// With `embedding_version`, the same batches also read the jobs' posting
/// vectors (one `embeddings_for_jobs` call per batch, never one per job).
/// Each job's documents, and the extraction its skills came from (the
/// `enrichment_id` its cluster assignment references, docs/data-model.md).
pub async fn load_documents(
    store: &dyn Store,
    skills_version: &EnrichmentVersion,
    embedding_version: Option<&EnrichmentVersion>,
    page_size: usize,
    skills_batch: usize,
    concurrent_batches: usize,
) -> Result<(Vec<JobDocument>, BTreeMap<JobId, Uuid>), ClusteringFlowError> {
    let page_size = page_size.max(1);
    let skills_batch = skills_batch.max(1);
    // Batches of `skills_batch` titles in job order, read in pages of at
    // most `page_size`; the state is `None` once the last page is read.
    let batches = futures::stream::try_unfold(Some(None), move |after| async move {
        let Some(mut after) = after else {
            return Ok(None);
        };
        let mut titles: Vec<(JobId, String)> = Vec::new();
        let mut last_page = false;
        while !last_page && titles.len() < skills_batch {
            let limit = page_size.min(skills_batch - titles.len());
            let page = store.list_titles_page(after.clone(), limit).await?;
            last_page = page.len() < limit;
            if let Some((last, _)) = page.last() {
                after = Some(last.clone());
            }
            titles.extend(page);
        }
        let next = (!last_page).then_some(after);
        Ok::<_, ClusteringFlowError>((!titles.is_empty()).then_some((titles, next)))
    });
    let fetched = batches
        .map_ok(|titles| async move {
            let ids: Vec<JobId> = titles.iter().map(|(id, _)| id.clone()).collect();
            let weights = store.skill_weights_for_jobs(&ids, skills_version).await?;
            let vectors = match embedding_version {
                Some(version) => Some(store.embeddings_for_jobs(&ids, version).await?),
                None => None,
            };
            Ok((titles, weights, vectors))
        })
        .try_buffered(concurrent_batches.max(1));
    let mut fetched = std::pin::pin!(fetched);
    let mut documents: Vec<JobDocument> = Vec::new();
    let mut extractions = BTreeMap::new();
    while let Some((titles, weights, vectors)) = fetched.try_next().await? {
        let start = documents.len();
        documents.extend(
            titles
                .into_iter()
                .map(|(job_posting_id, title)| JobDocument {
                    job_posting_id,
                    title,
                    skills: Vec::new(),
                    embedding: None,
                }),
        );
        let batch = &mut documents[start..];
        hand_out_skills(batch, weights, &mut extractions);
        if let Some(vectors) = vectors {
            hand_out_embeddings(batch, vectors);
        }
    }
    Ok((documents, extractions))
}

/// Gives each document its skills (and records the extraction they came
/// from), whatever order either list is in.
fn hand_out_skills(
    documents: &mut [JobDocument],
    mut weights: Vec<SkillWeight>,
    extractions: &mut BTreeMap<JobId, Uuid>,
) {
    // One merge pass over both lists in job order hands each document its
    // skills, with no map keyed by job. Pages and the port's rows are in
    // job order already; the checks only keep this right if one is not.
    if !weights.is_sorted_by(|a, b| a.job_posting_id <= b.job_posting_id) {
        weights.sort_by(|a, b| a.job_posting_id.cmp(&b.job_posting_id));
    }
    let mut order: Vec<usize> = (0..documents.len()).collect();
    if !documents.is_sorted_by(|a, b| a.job_posting_id <= b.job_posting_id) {
        order.sort_by(|&a, &b| {
            documents[a]
                .job_posting_id
                .cmp(&documents[b].job_posting_id)
        });
    }
    // Each job's run of weights is found by binary search on what is left,
    // so its list is sized exactly before it is filled: grown by doubling,
    // ~43 skills a job left a third of 4 M entries' room unused for the
    // whole run (mimalloc does not shrink a block within half its size).
    let mut rest = weights.into_iter();
    for i in order {
        let d = &mut documents[i];
        // Weights of jobs that are not among the documents are dropped.
        let skip = rest
            .as_slice()
            .partition_point(|w| w.job_posting_id < d.job_posting_id);
        rest.by_ref().take(skip).for_each(drop);
        let n = rest
            .as_slice()
            .partition_point(|w| w.job_posting_id == d.job_posting_id);
        d.skills.reserve_exact(n);
        let mut extraction = None;
        for w in rest.by_ref().take(n) {
            extraction = w.enrichment_id.or(extraction);
            d.skills.push(WeightedSkill {
                name: w.skill_name,
                confidence: w.confidence_score,
            });
        }
        if let Some(id) = extraction {
            extractions.insert(d.job_posting_id.clone(), id);
        }
    }
}

/// Gives each document its vector, or none if the store has none for it.
fn hand_out_embeddings(documents: &mut [JobDocument], vectors: Vec<JobEmbedding>) {
    let mut vectors: BTreeMap<JobId, Vec<f32>> = vectors
        .into_iter()
        .map(|e| (e.job_posting_id, e.vector))
        .collect();
    for d in documents {
        d.embedding = vectors.remove(&d.job_posting_id);
    }
}

/// The embeddings version a clusterer reads vectors from: its
/// `embedding_version`, else the active embeddings model's; refused when
/// that version has no stored vector at all.
async fn resolve_embedding_version(
    store: &dyn Store,
    settings: &ClusteringSettings,
    model: &str,
) -> Result<EnrichmentVersion, ClusteringFlowError> {
    let version = match &settings.embedding_version {
        Some(v) => v.clone(),
        None => store
            .active_model_for_type(EnrichmentType::Embeddings)
            .await?
            .map(|m| m.enrichment_version())
            .ok_or_else(|| ClusteringFlowError::NoEmbeddingsVersion {
                model: model.to_string(),
                weight: settings.embedding_weight,
            })?,
    };
    let stored = store.embedding_versions().await?;
    if !stored.iter().any(|(v, n)| *v == version && *n > 0) {
        let available = if stored.is_empty() {
            "the store holds no posting vectors".to_string()
        } else {
            let listed: Vec<String> = stored.iter().map(|(v, n)| format!("{v}: {n}")).collect();
            format!("versions with vectors: {}", listed.join(", "))
        };
        return Err(ClusteringFlowError::NoVectors {
            version: version.to_string(),
            available,
        });
    }
    Ok(version)
}

/// What the CPU-bound part produces.
struct Clustered {
    labels: Vec<u32>,
    k: usize,
    candidates: Vec<KCandidate>,
    /// Jobs the candidates ran on (all, or `selection_sample` of them).
    selection_rows: usize,
    iterations: usize,
    inertia: f64,
    vocabulary_size: usize,
    clusters: Vec<ClusterDescription>,
}

fn cluster_documents(
    documents: &[JobDocument],
    settings: &ClusteringSettings,
) -> Result<Clustered, EmbeddingError> {
    let matrix = FeatureMatrix::build(documents, &settings.feature_config())
        .with_embeddings(documents, settings.embedding_weight)?;
    let base = settings.kmeans_config();
    let (result, candidates, selection_rows) = match settings.k {
        KChoice::Fixed(_) => (kmeans(&matrix, &base), Vec::new(), matrix.rows()),
        KChoice::Silhouette { min, max } => {
            let selection = choose_k(
                &matrix,
                min..=max,
                &base,
                settings.silhouette_sample,
                settings.selection_sample,
            );
            (
                selection.chosen,
                selection.candidates,
                selection.selection_rows,
            )
        }
    };
    let clusters = name_clusters(&matrix, &result.labels, settings.keywords_per_cluster);
    Ok(Clustered {
        k: result.k,
        iterations: result.iterations,
        inertia: result.inertia,
        labels: result.labels,
        candidates,
        selection_rows,
        vocabulary_size: matrix.vocabulary.len(),
        clusters,
    })
}

/// One clustering run over every posting, recorded atomically as the new
/// active assignment of each job.
pub async fn run_clustering(
    store: &dyn Store,
    params: &ClusteringParams,
) -> Result<ClusteringRunReport, ClusteringFlowError> {
    let started = Instant::now();
    let (model, activated_default_model) = active_clusterer(store, &params.activated_by).await?;
    let mut settings =
        ClusteringSettings::from_overrides(&model.config_overrides).map_err(|source| {
            ClusteringFlowError::Settings {
                model: model.enrichment_version().to_string(),
                source,
            }
        })?;
    if let Some(k) = params.k {
        settings.k = KChoice::Fixed(k.max(1));
    }
    if let Some(seed) = params.seed {
        settings.seed = seed;
    }
    let skills_version = match &params.skills_version {
        Some(v) => v.clone(),
        None => store
            .active_model_for_type(EnrichmentType::SkillsExtraction)
            .await?
            .map(|m| m.enrichment_version())
            .ok_or(ClusteringFlowError::NoSkillsVersion)?,
    };

    let embedding_version = if settings.embedding_weight > 0.0 {
        Some(
            resolve_embedding_version(store, &settings, &model.enrichment_version().to_string())
                .await?,
        )
    } else {
        None
    };

    let (documents, extractions) = load_documents(
        store,
        &skills_version,
        embedding_version.as_ref(),
        params.page_size,
        params.skills_batch,
        params.concurrent_batches,
    )
    .await?;
    if documents.is_empty() {
        return Err(ClusteringFlowError::NoJobs);
    }
    let load_seconds = started.elapsed().as_secs_f64();

    let cluster_started = Instant::now();
    let worker_settings = settings.clone();
    let (documents, clustered) = tokio::task::spawn_blocking(move || {
        let clustered = cluster_documents(&documents, &worker_settings);
        (documents, clustered)
    })
    .await
    .map_err(|e| ClusteringFlowError::Worker(e.to_string()))?;
    let clustered = clustered.map_err(|source| {
        let version = embedding_version
            .as_ref()
            .map_or_else(String::new, ToString::to_string);
        match source {
            EmbeddingError::Missing {
                missing,
                total,
                first,
            } => ClusteringFlowError::MissingEmbeddings {
                missing,
                total,
                version,
                first: first.to_string(),
            },
            source => ClusteringFlowError::Embeddings { version, source },
        }
    })?;
    let cluster_seconds = cluster_started.elapsed().as_secs_f64();

    let record_started = Instant::now();
    let previous_run_id = store
        .latest_clustering_run()
        .await?
        .map(|r| r.cluster_run_id);
    let jobs = documents.len();
    let jobs_with_skills = documents.iter().filter(|d| !d.skills.is_empty()).count();
    let jobs_with_embeddings = documents.iter().filter(|d| d.embedding.is_some()).count();
    // The documents' skill lists (most of the load's memory) are freed here,
    // before recording builds a row per job.
    let current: Vec<(JobId, u32)> = documents
        .into_iter()
        .zip(&clustered.labels)
        .map(|(d, &l)| (d.job_posting_id, l))
        .collect();
    let ids = match &previous_run_id {
        Some(run) => continuing_ids(&store.cluster_ids_for_run(run).await?, &current),
        None => (0..clustered.k as u32).map(|c| (c, c)).collect(),
    };
    let mut clusters = clustered.clusters;
    for c in &mut clusters {
        c.cluster_id = ids[&c.cluster_id];
    }
    let by_label: BTreeMap<u32, &ClusterDescription> =
        clusters.iter().map(|c| (c.cluster_id, c)).collect();
    let cluster_run_id = uuid::Uuid::new_v4().to_string();
    let run = ClusteringRun {
        cluster_run_id: cluster_run_id.clone(),
        cluster_model_id: model.model_id.clone(),
        cluster_model_version: model.version.clone(),
        assigned_at: Utc::now(),
        assignments: current
            .into_iter()
            .map(|(job_posting_id, label)| {
                let cluster = by_label[&ids[&label]];
                NewClusterAssignment {
                    enrichment_id: extractions.get(&job_posting_id).copied(),
                    job_posting_id,
                    cluster_id: cluster.cluster_id,
                    cluster_name: cluster.name.clone(),
                    cluster_keywords: cluster.keywords.clone(),
                    cluster_size: cluster.size,
                }
            })
            .collect(),
    };
    let recorded = store.record_clustering_run(&run).await?;
    let record_seconds = record_started.elapsed().as_secs_f64();

    Ok(ClusteringRunReport {
        cluster_run_id,
        cluster_model_id: model.model_id,
        cluster_model_version: model.version,
        activated_default_model,
        skills_version,
        embedding_weight: settings.embedding_weight,
        embedding_version,
        jobs: jobs as u64,
        jobs_with_skills: jobs_with_skills as u64,
        jobs_with_embeddings: jobs_with_embeddings as u64,
        vocabulary_size: clustered.vocabulary_size,
        k: clustered.k,
        k_choice: match settings.k {
            // Said, never silent: k-means cannot make more clusters than distinct jobs.
            KChoice::Fixed(requested) if requested != clustered.k => format!(
                "fixed: {requested} requested, reduced to {} (the number of distinct jobs)",
                clustered.k
            ),
            KChoice::Fixed(_) => "fixed".to_string(),
            KChoice::Silhouette { min, max } if clustered.selection_rows < jobs => {
                format!(
                    "silhouette over {min}..={max}, sample {}, candidates on {} of {jobs} jobs",
                    settings.silhouette_sample, clustered.selection_rows,
                )
            }
            KChoice::Silhouette { min, max } => format!(
                "silhouette over {min}..={max}, sample {}",
                settings.silhouette_sample
            ),
        },
        k_candidates: clustered.candidates,
        seed: settings.seed,
        iterations: clustered.iterations,
        inertia: clustered.inertia,
        clusters,
        previous_run_id,
        recorded,
        timings: ClusteringTimings {
            load_seconds,
            cluster_seconds,
            record_seconds,
            total_seconds: started.elapsed().as_secs_f64(),
        },
    })
}

/// What `cluster diff` prints (and renders as HTML).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterDiffReport {
    pub old_run: ClusteringRunSummary,
    pub new_run: ClusteringRunSummary,
    pub stability: StabilityReport,
    /// The data model's query: jobs in both runs whose cluster id differs.
    pub changes: Vec<ClusterChange>,
}

impl ClusterDiffReport {
    /// The self-contained HTML page (`--report diff.html`).
    pub fn to_html(&self) -> String {
        let caption = |run: &ClusteringRunSummary| {
            format!(
                "{}@{} of {} ({} jobs)",
                run.cluster_model_id,
                run.cluster_model_version,
                run.assigned_at.format("%Y-%m-%d %H:%M UTC"),
                run.job_count
            )
        };
        render_html(
            &self.stability,
            &self.changes,
            &caption(&self.old_run),
            &caption(&self.new_run),
        )
    }
}

fn find_run<'a>(
    runs: &'a [ClusteringRunSummary],
    id: &str,
) -> Result<&'a ClusteringRunSummary, ClusteringFlowError> {
    runs.iter()
        .find(|r| r.cluster_run_id == id)
        .ok_or_else(|| ClusteringFlowError::UnknownRun(id.to_string()))
}

async fn membership(store: &dyn Store, run_id: &str) -> Result<RunMembership, ClusteringFlowError> {
    let assignments = store.assignments_for_run(run_id).await?;
    let mut names = BTreeMap::new();
    let labels = assignments
        .into_iter()
        .map(|a| {
            names.entry(a.cluster_id).or_insert(a.cluster_name);
            (a.job_posting_id, a.cluster_id)
        })
        .collect();
    Ok(RunMembership {
        run_id: run_id.to_string(),
        labels,
        names,
    })
}

/// Compares two runs; without ids, the two latest (older → newer). With only
/// `old`, compares it with the latest run.
pub async fn diff_clustering_runs(
    store: &dyn Store,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<ClusterDiffReport, ClusteringFlowError> {
    let runs = store.list_clustering_runs().await?;
    let (old_run, new_run) = match (old, new) {
        (Some(a), Some(b)) => (find_run(&runs, a)?, find_run(&runs, b)?),
        (Some(a), None) | (None, Some(a)) => {
            let latest = runs.first().ok_or(ClusteringFlowError::NoRuns)?;
            (find_run(&runs, a)?, latest)
        }
        (None, None) => match runs.as_slice() {
            [newest, older, ..] => (older, newest),
            _ => return Err(ClusteringFlowError::NotEnoughRuns(runs.len())),
        },
    };
    if old_run.cluster_run_id == new_run.cluster_run_id {
        return Err(ClusteringFlowError::SameRun(old_run.cluster_run_id.clone()));
    }
    let old_members = membership(store, &old_run.cluster_run_id).await?;
    let new_members = membership(store, &new_run.cluster_run_id).await?;
    let stability = compare_runs(&old_members, &new_members, DEFAULT_SHARE_THRESHOLD);
    let changes = store
        .cluster_changes(&old_run.cluster_run_id, &new_run.cluster_run_id)
        .await?;
    Ok(ClusterDiffReport {
        old_run: old_run.clone(),
        new_run: new_run.clone(),
        stability,
        changes,
    })
}

/// One cluster of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListedCluster {
    pub cluster_id: u32,
    pub cluster_name: String,
    pub cluster_size: u32,
    pub cluster_keywords: Vec<jobenrich_domain::ClusterKeyword>,
}

/// What `cluster list` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterListing {
    /// Every run, newest first.
    pub runs: Vec<ClusteringRunSummary>,
    /// The run whose clusters are listed.
    pub run: ClusteringRunSummary,
    /// Largest first.
    pub clusters: Vec<ListedCluster>,
}

/// The clusters of a run (default: the latest).
pub async fn list_clusters(
    store: &dyn Store,
    run: Option<&str>,
) -> Result<ClusterListing, ClusteringFlowError> {
    let runs = store.list_clustering_runs().await?;
    let chosen = match run {
        Some(id) => find_run(&runs, id)?.clone(),
        None => runs.first().ok_or(ClusteringFlowError::NoRuns)?.clone(),
    };
    let mut clusters: BTreeMap<u32, ListedCluster> = BTreeMap::new();
    for a in store.assignments_for_run(&chosen.cluster_run_id).await? {
        clusters.entry(a.cluster_id).or_insert(ListedCluster {
            cluster_id: a.cluster_id,
            cluster_name: a.cluster_name,
            cluster_size: a.cluster_size,
            cluster_keywords: a.cluster_keywords,
        });
    }
    let mut clusters: Vec<ListedCluster> = clusters.into_values().collect();
    clusters.sort_by_key(|c| (std::cmp::Reverse(c.cluster_size), c.cluster_id));
    Ok(ClusterListing {
        runs,
        run: chosen,
        clusters,
    })
}

/// What `cluster show JOB_ID` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobClusterHistory {
    pub job_posting_id: JobId,
    pub title: Option<String>,
    /// By ascending cluster_version; the last one is active.
    pub history: Vec<ClusterAssignment>,
}

pub async fn job_cluster_history(
    store: &dyn Store,
    job_posting_id: &str,
) -> Result<JobClusterHistory, ClusteringFlowError> {
    let id = JobId::parse(job_posting_id)
        .map_err(|_| ClusteringFlowError::UnknownJob(job_posting_id.to_string()))?;
    let posting = store.get_posting(&id).await?;
    let history = store.assignment_history(&id).await?;
    if posting.is_none() && history.is_empty() {
        return Err(ClusteringFlowError::UnknownJob(job_posting_id.to_string()));
    }
    Ok(JobClusterHistory {
        job_posting_id: id,
        title: posting.map(|p| p.title),
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(id: &str) -> JobDocument {
        JobDocument {
            job_posting_id: JobId::parse(id).unwrap(),
            title: String::new(),
            skills: Vec::new(),
            embedding: None,
        }
    }

    fn weight(job: &str, name: &str, extraction: Option<u128>) -> SkillWeight {
        SkillWeight {
            job_posting_id: JobId::parse(job).unwrap(),
            enrichment_id: extraction.map(Uuid::from_u128),
            skill_name: name.into(),
            confidence_score: 0.5,
        }
    }

    fn handed_out(ids: &[&str], weights: Vec<SkillWeight>) -> Vec<(String, Vec<String>)> {
        let mut documents: Vec<JobDocument> = ids.iter().map(|id| document(id)).collect();
        let mut extractions = BTreeMap::new();
        hand_out_skills(&mut documents, weights, &mut extractions);
        assert_eq!(
            extractions.keys().map(JobId::as_str).collect::<Vec<_>>(),
            documents
                .iter()
                .filter(|d| !d.skills.is_empty())
                .map(|d| d.job_posting_id.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>(),
            "every job with skills gets its extraction"
        );
        documents
            .into_iter()
            .map(|d| {
                (
                    d.job_posting_id.to_string(),
                    d.skills.iter().map(|s| s.name.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn skills_reach_their_own_jobs_in_job_order() {
        let got = handed_out(
            &["a", "b", "c", "d"],
            vec![
                weight("a", "Java", Some(1)),
                weight("a", "SQL", Some(1)),
                weight("c", "Rust", Some(3)),
                // Not a document of this batch: skipped, never misplaced.
                weight("c2", "Go", Some(9)),
                weight("d", "Excel", Some(4)),
            ],
        );
        assert_eq!(
            got,
            vec![
                ("a".to_string(), vec!["Java".to_string(), "SQL".to_string()]),
                ("b".to_string(), vec![]),
                ("c".to_string(), vec!["Rust".to_string()]),
                ("d".to_string(), vec!["Excel".to_string()]),
            ]
        );
    }

    #[test]
    fn skills_reach_their_own_jobs_whatever_order_either_list_is_in() {
        let got = handed_out(
            &["d", "a", "c", "b"],
            vec![
                weight("d", "Excel", Some(4)),
                weight("a", "Java", Some(1)),
                weight("c", "Rust", Some(3)),
                weight("a", "SQL", Some(1)),
            ],
        );
        assert_eq!(
            got,
            vec![
                ("d".to_string(), vec!["Excel".to_string()]),
                ("a".to_string(), vec!["Java".to_string(), "SQL".to_string()]),
                ("c".to_string(), vec!["Rust".to_string()]),
                ("b".to_string(), vec![]),
            ]
        );
    }
}
