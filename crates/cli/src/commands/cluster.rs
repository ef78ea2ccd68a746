//! `jobenrich cluster`: run a clustering of every posting, compare two runs
//! (`diff`, with an optional self-contained HTML report), list a run's
//! clusters and show one job's assignment history. The work is done by
//! `jobenrich_services::clustering_flow`; this module parses and prints.

use crate::error::UsageError;
use crate::output::{cell, emit, emit_text, Table};
use crate::session::Session;
use anyhow::Context;
use clap::{Args, Subcommand};
use jobenrich_domain::ClusterKeyword;
use jobenrich_services::clustering_flow::{
    diff_clustering_runs, job_cluster_history, list_clusters, run_clustering, ClusterEvent,
    ClusterSide, ClusteringFlowError, ClusteringParams,
};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Cluster every posting (skills + title, plus posting vectors when the model weights them) and make the result the active assignment.
    Run(RunArgs),
    /// Stability of one run against another: churn, ARI, NMI, splits and merges.
    Diff(DiffArgs),
    /// The runs, and one run's clusters with size and keywords.
    List(ListArgs),
    /// One job's cluster assignments across versions.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Number of clusters (default: the clustering model's k, or its silhouette choice).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub k: Option<u32>,
    /// Seed of k-means++ (default: the clustering model's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Postings read per store call.
    #[arg(long, default_value_t = jobenrich_services::clustering_flow::DEFAULT_PAGE_SIZE)]
    pub page_size: usize,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older run (default: the second latest).
    pub run_a: Option<String>,
    /// The newer run (default: the latest).
    pub run_b: Option<String>,
    /// Also write a self-contained HTML report with a flow diagram to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Moved jobs listed in the table output (JSON lists all).
    #[arg(long, default_value_t = 20)]
    pub moved: usize,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Run whose clusters are listed (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The job posting's id.
    pub job_posting_id: String,
}

pub async fn run(session: &Session, command: ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Run(args) => run_command(session, args).await,
        ClusterCommand::Diff(args) => diff_command(session, args).await,
        ClusterCommand::List(args) => list_command(session, args).await,
        ClusterCommand::Show(args) => show_command(session, args).await,
    }
}

/// Errors the user can fix exit with the usage code; store failures keep theirs.
fn cli_error(error: ClusteringFlowError) -> anyhow::Error {
    match error {
        ClusteringFlowError::Store(e) => e.into(),
        ClusteringFlowError::Worker(_) => anyhow::Error::new(error),
        other => UsageError(other.to_string()).into(),
    }
}

fn keywords(keywords: &[ClusterKeyword], limit: usize) -> String {
    keywords
        .iter()
        .take(limit)
        .map(|k| k.term.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn run_command(session: &Session, args: RunArgs) -> anyhow::Result<()> {
    let context = session.connect_migrated().await?;
    let params = ClusteringParams {
        k: args.k.map(|k| k as usize),
        seed: args.seed,
        page_size: args.page_size.max(1),
        activated_by: session.actor(),
        ..ClusteringParams::default()
    };
    let report = run_clustering(context.store.as_ref(), &params)
        .await
        .map_err(cli_error)?;
    emit_text(session.format, &report, |r| {
        let mut text = Table::fields([
            ("run", r.cluster_run_id.clone()),
            (
                "model",
                format!(
                    "{}@{}{}",
                    r.cluster_model_id,
                    r.cluster_model_version,
                    if r.activated_default_model {
                        " (shipped default, activated now)"
                    } else {
                        ""
                    }
                ),
            ),
            ("skills version", r.skills_version.to_string()),
            (
                "jobs",
                format!("{} ({} with skills)", r.jobs, r.jobs_with_skills),
            ),
            ("terms", r.vocabulary_size.to_string()),
            (
                "posting vectors",
                match &r.embedding_version {
                    Some(v) => format!(
                        "{v}, weight {} ({} jobs with a vector)",
                        r.embedding_weight, r.jobs_with_embeddings
                    ),
                    None => "not used (embedding_weight 0)".to_string(),
                },
            ),
            ("k", format!("{} ({})", r.k, r.k_choice)),
            ("seed", r.seed.to_string()),
            ("iterations", r.iterations.to_string()),
            ("inertia", format!("{:.3}", r.inertia)),
            ("continues run", cell(r.previous_run_id.as_deref())),
            (
                "assignments",
                format!(
                    "{} stored, {} earlier ones deactivated",
                    r.recorded.assignments, r.recorded.deactivated
                ),
            ),
            (
                "seconds",
                format!(
                    "{:.2} total (load {:.2}, cluster {:.2}, record {:.2})",
                    r.timings.total_seconds,
                    r.timings.load_seconds,
                    r.timings.cluster_seconds,
                    r.timings.record_seconds
                ),
            ),
        ])
        .render();
        if !r.k_candidates.is_empty() {
            let mut candidates = Table::new(["K", "SILHOUETTE", "INERTIA"]);
            for c in &r.k_candidates {
                candidates.row([
                    c.k.to_string(),
                    format!("{:.4}", c.silhouette),
                    format!("{:.1}", c.inertia),
                ]);
            }
            text.push('\n');
            text.push_str(&candidates.render());
        }
        let mut clusters = Table::new(["CLUSTER", "SIZE", "NAME", "KEYWORDS"]);
        for c in &r.clusters {
            clusters.row([
                c.cluster_id.to_string(),
                c.size.to_string(),
                c.name.clone(),
                keywords(&c.keywords, 8),
            ]);
        }
        text.push('\n');
        text.push_str(&clusters.render());
        text
    })
}

async fn diff_command(session: &Session, args: DiffArgs) -> anyhow::Result<()> {
    let context = session.connect_migrated().await?;
    let diff = diff_clustering_runs(
        context.store.as_ref(),
        args.run_a.as_deref(),
        args.run_b.as_deref(),
    )
    .await
    .map_err(cli_error)?;
    if let Some(path) = &args.report {
        std::fs::write(path, diff.to_html())
            .with_context(|| format!("writing the diff report {}", path.display()))?;
        crate::errln!("wrote {}", path.display());
    }
    emit_text(session.format, &diff, |d| {
        let s = &d.stability;
        let mut text = Table::fields([
            (
                "old run",
                format!(
                    "{} ({} jobs, {} clusters)",
                    d.old_run.cluster_run_id, d.old_run.job_count, d.old_run.cluster_count
                ),
            ),
            (
                "new run",
                format!(
                    "{} ({} jobs, {} clusters)",
                    d.new_run.cluster_run_id, d.new_run.job_count, d.new_run.cluster_count
                ),
            ),
            (
                "jobs in both",
                format!(
                    "{} (only old {}, only new {})",
                    s.jobs_in_both, s.jobs_only_in_old, s.jobs_only_in_new
                ),
            ),
            ("moved jobs", s.moved_jobs.to_string()),
            ("churn rate", format!("{:.2}%", s.churn_rate * 100.0)),
            (
                "adjusted rand index",
                format!("{:.4}", s.adjusted_rand_index),
            ),
            (
                "normalized mutual information",
                format!("{:.4}", s.normalized_mutual_information),
            ),
        ])
        .render();
        let name = |sides: &[ClusterSide], id: u32| {
            sides
                .iter()
                .find(|c| c.cluster_id == id)
                .map_or_else(|| id.to_string(), |c| format!("{id} {}", c.name))
        };
        let old = |id| name(&s.old_clusters, id);
        let new = |id| name(&s.new_clusters, id);
        let join = |ids: &[u32], f: &dyn Fn(u32) -> String| {
            ids.iter().map(|&i| f(i)).collect::<Vec<_>>().join(" + ")
        };
        let mut events = Table::new(["EVENT", "OLD", "NEW"]);
        for e in &s.events {
            let (kind, o, n) = match e {
                ClusterEvent::Continues {
                    old: o,
                    new: n,
                    jaccard,
                } => (
                    format!("continues (jaccard {jaccard:.2})"),
                    old(*o),
                    new(*n),
                ),
                ClusterEvent::Split { old: o, into } => ("split".into(), old(*o), join(into, &new)),
                ClusterEvent::Merged { from, into } => {
                    ("merged".into(), join(from, &old), new(*into))
                }
                ClusterEvent::New { new: n } => ("new".into(), "-".into(), new(*n)),
                ClusterEvent::Vanished { old: o } => ("vanished".into(), old(*o), "-".into()),
            };
            events.row([kind, o, n]);
        }
        text.push('\n');
        text.push_str(&events.render());
        let mut moved = Table::new(["JOB", "OLD CLUSTER", "NEW CLUSTER"]);
        for c in d.changes.iter().take(args.moved) {
            moved.row([
                c.job_posting_id.to_string(),
                format!("{} {}", c.old_cluster_id, c.old_cluster_name),
                format!("{} {}", c.new_cluster_id, c.new_cluster_name),
            ]);
        }
        let _ = write!(
            text,
            "\nmoved jobs (cluster id changed): {}{}\n",
            d.changes.len(),
            if d.changes.len() > args.moved {
                format!(
                    ", first {} shown (--moved N, or --format json for all)",
                    args.moved
                )
            } else {
                String::new()
            }
        );
        if !d.changes.is_empty() {
            text.push_str(&moved.render());
        }
        text
    })
}

async fn list_command(session: &Session, args: ListArgs) -> anyhow::Result<()> {
    let context = session.connect_migrated().await?;
    let listing = list_clusters(context.store.as_ref(), args.run.as_deref())
        .await
        .map_err(cli_error)?;
    emit_text(session.format, &listing, |l| {
        let mut runs = Table::new(["RUN", "MODEL", "ASSIGNED AT", "JOBS", "CLUSTERS"]);
        for r in &l.runs {
            runs.row([
                format!(
                    "{}{}",
                    r.cluster_run_id,
                    if r.cluster_run_id == l.run.cluster_run_id {
                        " *"
                    } else {
                        ""
                    }
                ),
                format!("{}@{}", r.cluster_model_id, r.cluster_model_version),
                r.assigned_at.to_rfc3339(),
                r.job_count.to_string(),
                r.cluster_count.to_string(),
            ]);
        }
        let mut clusters = Table::new(["CLUSTER", "SIZE", "NAME", "KEYWORDS (c-TF-IDF)"]);
        for c in &l.clusters {
            clusters.row([
                c.cluster_id.to_string(),
                c.cluster_size.to_string(),
                c.cluster_name.clone(),
                c.cluster_keywords
                    .iter()
                    .map(|k| format!("{} {:.3}", k.term, k.score))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
        }
        format!(
            "{}\nclusters of run {} (* above):\n{}",
            runs.render(),
            l.run.cluster_run_id,
            clusters.render()
        )
    })
}

async fn show_command(session: &Session, args: ShowArgs) -> anyhow::Result<()> {
    let context = session.connect_migrated().await?;
    let history = job_cluster_history(context.store.as_ref(), &args.job_posting_id)
        .await
        .map_err(cli_error)?;
    if history.history.is_empty() && session.format == crate::output::OutputFormat::Table {
        crate::errln!(
            "job {} has no cluster assignment yet: run `jobenrich cluster run`",
            history.job_posting_id
        );
    }
    emit(session.format, &history, |h| {
        let mut table = Table::new([
            "VERSION",
            "ACTIVE",
            "RUN",
            "MODEL",
            "ASSIGNED AT",
            "CLUSTER",
            "NAME",
            "SIZE",
        ]);
        for a in &h.history {
            table.row([
                a.cluster_version.to_string(),
                if a.is_active { "yes" } else { "no" }.to_string(),
                a.cluster_run_id.clone(),
                format!("{}@{}", a.cluster_model_id, a.cluster_model_version),
                a.created_at.to_rfc3339(),
                a.cluster_id.to_string(),
                a.cluster_name.clone(),
                a.cluster_size.to_string(),
            ]);
        }
        table
    })
}
