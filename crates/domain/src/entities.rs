//! Entities of the data model, one file each.

mod cluster_assignment;
mod evaluation_result;
mod extracted_skill;
mod ids;
mod job_embedding;
mod job_enrichment;
mod job_posting;
mod model_config;
mod section_classification;
mod skill_alias;

pub use cluster_assignment::*;
pub use evaluation_result::*;
pub use extracted_skill::*;
pub use ids::*;
pub use job_embedding::*;
pub use job_enrichment::*;
pub use job_posting::*;
pub use model_config::*;
pub use section_classification::*;
pub use skill_alias::*;
