//! jobenrich enrichment engine: rule-based section classification and
//! multi-strategy skills extraction (lexicon, alias, pattern, ambiguity rules,
//! fusion) over a shipped ESCO + O*NET lexicon. Pure Rust, no store and no
//! network; files are read when the lexicon and the ESCO index load, and the
//! only write on the hot path is one append per batch of newly ranked phrases
//! to the linker's rank log (`semantic/rank_log.rs`), when one is attached.
//!
//! ```no_run
//! use jobenrich_enrichment_engine::{EngineConfig, Lexicon, SkillsEngine};
//! use std::sync::Arc;
//! let lexicon = Arc::new(Lexicon::load_dir(std::path::Path::new("data/lexicon")).unwrap());
//! let engine = SkillsEngine::new(lexicon, &[], EngineConfig::default()).unwrap();
//! for skill in engine.extract_text("Experience with Kubernetes and Python 3.11") {
//!     println!("{} {:.2} {:?}", skill.canonical, skill.confidence, skill.strategies);
//! }
//! ```

mod ambiguity;
pub mod bench;
mod builder;
mod config;
mod embedding_text;
mod engine;
mod error;
mod extract;
mod lexicon;
mod phrase_matcher;
pub mod section_model;
mod sections;
mod semantic;
pub mod tagger;
#[cfg(test)]
mod test_encoder;
mod text;
mod tokenizer;
mod user_lexicon;

pub use builder::{
    build_lexicon, LexiconBuildReport, SHIPPED_ALIASES_FILE, SHIPPED_MAPPING_FILE, TAXONOMY_FILES,
};
pub use config::EngineConfig;
pub use embedding_text::embedding_text;
pub use engine::{Analysis, EngineOutput, SkillsEngine};
pub use error::EngineError;
pub use extract::{FoundSkill, MentionSpan};
pub use lexicon::{Lexicon, LexiconEntry, LexiconSource, SurfaceForm, SHIPPED_LEXICON_FILE};
pub use section_model::SectionModel;
pub use sections::{Section, SectionClassifier, CLASSIFIER_VERSION, MAX_SECTIONS_PER_POSTING};
pub use semantic::{
    load_esco_skills, shares, SemanticLinker, SkillIndex, SkillLink, TaxonomyConcept,
};
pub use tagger::{SpanLabel, Tagger};
pub use user_lexicon::load_user_lexicon;

/// Reads the shipped alias table (`data/lexicon/aliases.csv`) as `SkillAlias`
/// rows (source `manual`, active), e.g. to seed the `skill_aliases` table.
pub use builder::load_alias_csv;
