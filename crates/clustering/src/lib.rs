//! Job clustering without I/O: the application layer (`jobenrich-services`)
//! streams jobs and skills from the store, this crate turns them into
//! clusters and compares runs.
//!
//! Pipeline: [`features`] (sparse TF-IDF over skills weighted by confidence
//! and title tokens) → [`kmeans`] (seeded k-means++ and Lloyd iterations,
//! k fixed or chosen by silhouette in [`selection`]) → [`keywords`]
//! (c-TF-IDF keywords and names). [`stability`] compares two runs (churn,
//! ARI, NMI, Jaccard matching with split/merge detection) and [`report`]
//! renders that comparison as a self-contained HTML page with an SVG flow
//! diagram. [`settings`] reads the clustering model's `config_overrides`.
//! With `embedding_weight` > 0 (`job_clusterer@v2.0`) each job's posting
//! vector joins its TF-IDF row ([`FeatureMatrix::with_embeddings`]).

pub mod features;
pub mod keywords;
pub mod kmeans;
pub mod report;
pub mod selection;
pub mod settings;
pub mod stability;
pub mod synthetic;

pub use features::{EmbeddingError, FeatureConfig, FeatureMatrix, JobDocument, WeightedSkill};
pub use keywords::{name_clusters, ClusterDescription};
pub use kmeans::{kmeans, KMeansConfig, KMeansResult};
pub use selection::{choose_k, sampled_silhouette, KCandidate, KSelection};
pub use settings::{ClusteringSettings, KChoice, SettingsError};
pub use stability::{compare_runs, ClusterEvent, RunMembership, StabilityReport};
