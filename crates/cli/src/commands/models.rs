//! `jobenrich models`: the model registry. Model configs are YAML files
//! (format: `jobenrich_services::model_registry`, e.g.
//! `config/models/skills_extractor-v1.0.yaml`); one version per model id is active.

use crate::error::UsageError;
use crate::output::{cell, emit, Table};
use crate::session::Session;
use anyhow::Context;
use clap::{Args, Subcommand};
use jobenrich_domain::{ModelConfig, ModelId, ModelVersion};
use jobenrich_services::model_registry::{
    activate_model, register_model_file, show_model, Activation,
};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Register model config files (stored inactive; activate them to use them).
    Register(RegisterArgs),
    /// List registered versions (of one model id, or all).
    List(ListArgs),
    /// Make a version the only active one of its model id.
    Activate(ActivateArgs),
    /// Show a version (default: the active one) with its overrides and latest evaluation.
    Show(ShowArgs),
    /// Every version with its latest evaluation metrics, in version order.
    History(crate::commands::model_history::HistoryArgs),
    /// Two versions' config overrides and metrics side by side.
    Diff(crate::commands::model_history::DiffArgs),
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Model config YAML files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Also activate each registered version (a new version is unevaluated: needs --force).
    #[arg(long)]
    pub activate: bool,
    /// With --activate: activate even though the version was never evaluated (recorded in activated_by).
    #[arg(long, requires = "activate")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this model id (an unknown id is an error).
    pub model_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ActivateArgs {
    /// The model id, e.g. skills_extractor.
    pub model_id: String,
    /// The registered version to activate, e.g. v1.1.
    pub version: String,
    /// Activate even when the version's latest evaluation failed its gate or
    /// it was never evaluated; said in the output and recorded in activated_by.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The model id, e.g. skills_extractor.
    pub model_id: String,
    /// The version (default: the active one).
    pub version: Option<String>,
}

pub async fn run(session: &Session, command: ModelsCommand) -> anyhow::Result<()> {
    let context = session.connect_migrated().await?;
    let store = context.store.as_ref();
    let now = chrono::Utc::now();
    match command {
        ModelsCommand::Register(args) => {
            let mut registered = Vec::new();
            for path in &args.files {
                let mut model = register_model_file(store, path, now)
                    .await
                    .with_context(|| format!("registering {}", path.display()))?;
                if args.activate {
                    let activation = activate_model(
                        store,
                        store,
                        &model.model_id,
                        &model.version,
                        &session.actor(),
                        args.force,
                        now,
                    )
                    .await?;
                    say_forced(&activation);
                    model = activation.model;
                }
                registered.push(model);
            }
            emit(session.format, &registered, |models| models_table(models))
        }
        ModelsCommand::List(args) => {
            let model_id = args.model_id.map(ModelId::parse).transpose()?;
            let models = store.list_models(model_id.clone()).await?;
            if let (Some(id), true) = (&model_id, models.is_empty()) {
                return Err(UsageError(format!(
                    "model {id} has no registered version (`jobenrich models list` shows the known ones)"
                ))
                .into());
            }
            emit(session.format, &models, |models| models_table(models))
        }
        ModelsCommand::Activate(args) => {
            let model_id = ModelId::parse(args.model_id)?;
            let version = ModelVersion::parse(args.version)?;
            let activation = activate_model(
                store,
                store,
                &model_id,
                &version,
                &session.actor(),
                args.force,
                now,
            )
            .await
            .with_context(|| format!("activating {model_id} {version}"))?;
            say_forced(&activation);
            let model = activation.model;
            emit(session.format, &model, |m| {
                models_table(std::slice::from_ref(m))
            })
        }
        ModelsCommand::Show(args) => {
            let model_id = ModelId::parse(args.model_id)?;
            let version = args.version.map(ModelVersion::parse).transpose()?;
            let details = show_model(store, store, &model_id, version.as_ref()).await?;
            emit(session.format, &details, |d| {
                let m = &d.model;
                let mut fields = vec![
                    ("model_id", m.model_id.to_string()),
                    ("version", m.version.to_string()),
                    ("model_type", m.model_type.to_string()),
                    ("active", m.is_active.to_string()),
                    ("enrichment_version", d.enrichment_version.clone()),
                    ("description", cell(m.description.as_ref())),
                    (
                        "config_overrides",
                        serde_json::Value::Object(m.config_overrides.clone()).to_string(),
                    ),
                    (
                        "performance_metrics",
                        serde_json::to_string(&m.performance_metrics).unwrap_or_default(),
                    ),
                    (
                        "training_data_version",
                        cell(m.training_data_version.as_ref()),
                    ),
                    (
                        "training_date",
                        cell(m.training_date.map(|t| t.to_rfc3339())),
                    ),
                    ("created_at", m.created_at.to_rfc3339()),
                    ("activated_at", cell(m.activated_at.map(|t| t.to_rfc3339()))),
                    ("activated_by", cell(m.activated_by.as_ref())),
                ];
                if let Some(e) = &d.latest_evaluation {
                    fields.push((
                        "latest_evaluation",
                        format!(
                            "{} on {} at {}: f1 {:.3}, precision {:.3}, recall {:.3}",
                            e.evaluation_id,
                            e.dataset_version,
                            e.evaluation_date.to_rfc3339(),
                            e.overall_f1,
                            e.overall_precision,
                            e.overall_recall
                        ),
                    ));
                }
                Table::fields(fields)
            })
        }
        ModelsCommand::History(args) => {
            crate::commands::model_history::history(session, &context, args).await
        }
        ModelsCommand::Diff(args) => {
            crate::commands::model_history::diff(session, &context, args).await
        }
    }
}

/// A forced activation is said on stderr (the record is in activated_by).
fn say_forced(activation: &Activation) {
    if let Some(reason) = &activation.forced {
        let m = &activation.model;
        crate::errln!(
            "warning: {} {} activated with --force although {reason} (recorded in activated_by)",
            m.model_id,
            m.version
        );
    }
}

fn models_table(models: &[ModelConfig]) -> Table {
    let mut table = Table::new([
        "MODEL_ID",
        "VERSION",
        "TYPE",
        "ACTIVE",
        "ACTIVATED_AT",
        "F1",
        "TRAINED_ON",
        "DESCRIPTION",
    ]);
    for m in models {
        table.row([
            m.model_id.to_string(),
            m.version.to_string(),
            m.model_type.to_string(),
            if m.is_active { "yes" } else { "no" }.to_string(),
            cell(
                m.activated_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            ),
            cell(
                m.performance_metrics
                    .get("f1_score")
                    .map(|f| format!("{f:.3}")),
            ),
            cell(m.training_data_version.as_ref()),
            cell(m.description.as_ref()),
        ]);
    }
    table
}
