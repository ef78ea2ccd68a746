//! Evaluation of jobenrich models against labeled data: the documented JSONL
//! dataset format and its importers (SkillSpan, ESCO-linked), metrics with
//! scikit-learn semantics, the quality gate (absolute thresholds and
//! regression against a baseline) and a self-contained HTML report.
//!
//! Pure code: the caller runs the engine and hands predictions in, so this
//! crate can be tested without a store or an engine.

pub mod dataset;
pub mod error;
pub mod gate;
pub mod import;
pub mod metrics;
pub mod report;
pub mod scoring;

pub use dataset::{GoldSection, GoldSkill, GoldSpan, LabeledDataset, LabeledRecord};
pub use error::DatasetError;
pub use gate::{Baseline, GateOutcome, GatePolicy, ThresholdCheck};
pub use metrics::{signed_delta, Prf, ZeroDivision};
pub use scoring::{
    score, CharSpan, ErrorExample, EvaluationMetrics, EvaluationTarget, PredictedSection,
    PredictedSkill, Prediction, RankedLink,
};
