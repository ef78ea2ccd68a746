//! Application services of jobenrich: the use cases the CLI and the worker
//! run, written against the domain's repository ports only.

pub mod alias_admin;
pub mod clustering_flow;
pub mod engine_enricher;
pub mod enrichment_pipeline;
pub mod enrichment_run;
pub mod enrichment_runner;
pub mod enrichment_status;
pub mod evaluation_engine;
pub mod evaluation_flow;
pub mod ingest;
pub mod model_artifacts;
pub mod model_registry;
pub mod posting_embedder;
pub mod reenrichment;
pub mod shutdown;
pub mod similar_jobs;
