//! `jobenrich config show`: the merged effective configuration, secrets
//! masked, with the layer each value came from.

use crate::output::{emit, Table};
use crate::session::Session;
use clap::Subcommand;
use jobenrich_bootstrap::{EffectiveSetting, LayerOrigin};
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every effective setting, its value (secrets masked) and where it came from.
    Show,
}

#[derive(Debug, Serialize)]
struct ConfigView {
    /// Layers in the order they apply (later ones win).
    layers: Vec<String>,
    settings: Vec<EffectiveSetting>,
}

pub async fn run(session: &Session, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Show => show(session),
    }
}

fn show(session: &Session) -> anyhow::Result<()> {
    let layers = session.layers()?;
    let view = ConfigView {
        layers: layers
            .origins()
            .iter()
            .map(LayerOrigin::to_string)
            .collect(),
        settings: layers.effective()?,
    };
    emit(session.format, &view, |view| {
        let mut table = Table::new(["KEY", "VALUE", "ORIGIN"]);
        for s in &view.settings {
            let value = match &s.value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let origin = if s.known {
                s.origin.clone()
            } else {
                format!("{} (not a known setting)", s.origin)
            };
            table.row([s.key.clone(), value, origin]);
        }
        table
    })
}
