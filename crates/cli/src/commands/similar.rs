//! `jobenrich similar JOB_ID`: the jobs closest to a job by posting vector
//! (the `embeddings` enrichment), best first.

use crate::error::UsageError;
use crate::output::{emit, Table};
use crate::session::Session;
use clap::Args;
use jobenrich_domain::{EnrichmentVersion, JobId};
use jobenrich_services::similar_jobs::{similar_jobs, SimilarError, SimilarPorts};

/// Most jobs `--top` lists.
const MAX_TOP: usize = 1_000;

#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// The job posting's id (as ingested).
    pub job_posting_id: String,
    /// How many similar jobs to list (1..=1000).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// The embeddings version to compare at (`job_embedder@v1.0`); default:
    /// the active embeddings model's.
    #[arg(long)]
    pub version: Option<String>,
}

pub async fn similar(session: &Session, args: SimilarArgs) -> anyhow::Result<()> {
    if !(1..=MAX_TOP).contains(&args.top) {
        return Err(UsageError(format!(
            "--top must be from 1 to {MAX_TOP}, got {}",
            args.top
        ))
        .into());
    }
    let job = JobId::parse(args.job_posting_id.clone())
        .map_err(|e| UsageError(format!("JOB_ID: {e}")))?;
    let version = args
        .version
        .map(EnrichmentVersion::parse)
        .transpose()
        .map_err(|e| UsageError(format!("--version: {e}")))?;
    let context = session.connect_migrated().await?;
    let store = context.store.as_ref();
    let ports = SimilarPorts {
        embeddings: store,
        postings: store,
        models: store,
    };
    let found = similar_jobs(&ports, &job, version, args.top)
        .await
        .map_err(|e| match e {
            SimilarError::Store(e) => anyhow::Error::from(e),
            // What the user asked for does not exist: a usage error (exit 2).
            other => UsageError(other.to_string()).into(),
        })?;
    let width = crate::output::display_width();
    emit(session.format, &found, |found| {
        let mut table = Table::new(["RANK", "JOB", "SIMILARITY", "TITLE"]);
        for (rank, s) in found.similar.iter().enumerate() {
            table.row([
                (rank + 1).to_string(),
                s.job_posting_id.to_string(),
                format!("{:.3}", s.similarity),
                s.title.clone().unwrap_or_default(),
            ]);
        }
        table.fit_last_column(width)
    })
}
