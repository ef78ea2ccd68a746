//! `ModelConfigRepository` over `model_config`: the model registry, with at
//! most one active version per model id (also a partial unique index).

use crate::codec::{
    collect_rows, corrupt, from_json, from_ts, from_ts_opt, get, parse_name, to_json, ts, ts_opt,
};
use crate::error::{is_unique_violation, map_sqlite};
use crate::SqliteStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    EnrichmentType, ModelConfig, ModelConfigRepository, ModelId, ModelVersion, StoreError,
};
use rusqlite::{params, Connection, Row};
use std::collections::BTreeMap;

const COLUMNS: &str = "model_id, version, model_type, description, is_active, config_overrides, \
     performance_metrics, created_at, updated_at, activated_at, activated_by, \
     training_data_version, training_date";

const E: &str = "ModelConfig";

fn model_from_row(row: &Row<'_>) -> StoreResult<ModelConfig> {
    let id: String = get(row, 0)?;
    let version: String = get(row, 1)?;
    let key = format!("{id}@{version}");
    Ok(ModelConfig {
        model_id: ModelId::parse(id).map_err(corrupt(E, &key))?,
        version: ModelVersion::parse(version).map_err(corrupt(E, &key))?,
        model_type: parse_name(E, &key, &get::<String>(row, 2)?)?,
        description: get(row, 3)?,
        is_active: get(row, 4)?,
        config_overrides: from_json(E, &key, &get::<String>(row, 5)?)?,
        performance_metrics: from_json(E, &key, &get::<String>(row, 6)?)?,
        created_at: from_ts(E, get(row, 7)?)?,
        updated_at: from_ts(E, get(row, 8)?)?,
        activated_at: from_ts_opt(E, get(row, 9)?)?,
        activated_by: get(row, 10)?,
        training_data_version: get(row, 11)?,
        training_date: from_ts_opt(E, get(row, 12)?)?,
    })
}

fn key_text(model_id: &ModelId, version: &ModelVersion) -> String {
    format!("{model_id}@{version}")
}

fn load(conn: &Connection, model_id: &str, version: &str) -> StoreResult<Option<ModelConfig>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM model_config WHERE model_id = ?1 AND version = ?2"
        ))
        .map_err(map_sqlite)?;
    let rows = stmt.query(params![model_id, version]).map_err(map_sqlite)?;
    Ok(collect_rows(rows, model_from_row)?.pop())
}

#[async_trait]
impl ModelConfigRepository for SqliteStore {
    async fn register_model(&self, model: &ModelConfig) -> StoreResult<()> {
        model.validate()?;
        let model = model.clone();
        self.with_write_tx(move |tx| {
            let inserted = tx.execute(
                &format!(
                    "INSERT INTO model_config ({COLUMNS})
                         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ),
                params![
                    model.model_id.as_str(),
                    model.version.as_str(),
                    model.model_type.as_str(),
                    model.description,
                    to_json(&model.config_overrides)?,
                    to_json(&model.performance_metrics)?,
                    ts(model.created_at),
                    ts(model.updated_at),
                    ts_opt(model.activated_at),
                    model.activated_by,
                    model.training_data_version,
                    ts_opt(model.training_date),
                ],
            );
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::AlreadyExists {
                        entity: E,
                        key: key_text(&model.model_id, &model.version),
                    })
                }
                Err(e) => return Err(map_sqlite(e)),
            }
            Ok(())
        })
        .await
    }

    async fn get_model(
        &self,
        model_id: &ModelId,
        version: &ModelVersion,
    ) -> StoreResult<Option<ModelConfig>> {
        let (id, version) = (model_id.to_string(), version.to_string());
        self.with_conn(move |conn| load(conn, &id, &version)).await
    }

    async fn list_models(&self, model_id: Option<ModelId>) -> StoreResult<Vec<ModelConfig>> {
        let id = model_id.map(String::from);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM model_config WHERE ?1 IS NULL OR model_id = ?1"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![id]).map_err(map_sqlite)?;
            let mut models = collect_rows(rows, model_from_row)?;
            // Version order is numeric (v1.10 after v1.9), which SQL text order is not.
            models.sort_by(|a, b| {
                (&a.model_id, a.version.sort_key()).cmp(&(&b.model_id, b.version.sort_key()))
            });
            Ok(models)
        })
        .await
    }

    async fn active_model(&self, model_id: &ModelId) -> StoreResult<Option<ModelConfig>> {
        let id = model_id.to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM model_config WHERE model_id = ?1 AND is_active = 1"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![id]).map_err(map_sqlite)?;
            Ok(collect_rows(rows, model_from_row)?.pop())
        })
        .await
    }

    async fn active_model_for_type(
        &self,
        model_type: EnrichmentType,
    ) -> StoreResult<Option<ModelConfig>> {
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM model_config WHERE model_type = ?1 AND is_active = 1
                     ORDER BY activated_at DESC, model_id LIMIT 1"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt
                .query(params![model_type.as_str()])
                .map_err(map_sqlite)?;
            Ok(collect_rows(rows, model_from_row)?.pop())
        })
        .await
    }

    async fn activate_model(
        &self,
        model_id: &ModelId,
        version: &ModelVersion,
        activated_by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ModelConfig> {
        let (id, v) = (model_id.to_string(), version.to_string());
        let key = key_text(model_id, version);
        let activated_by = activated_by.to_string();
        self.with_write_tx(move |tx| {
            if load(tx, &id, &v)?.is_none() {
                return Err(StoreError::NotFound { entity: E, key });
            }
            // Deactivate first: the partial unique index allows one active row.
            tx.execute(
                "UPDATE model_config SET is_active = 0, updated_at = MAX(?3, created_at)
                 WHERE model_id = ?1 AND version <> ?2 AND is_active = 1",
                params![id, v, ts(now)],
            )
            .map_err(map_sqlite)?;
            tx.execute(
                "UPDATE model_config SET is_active = 1, activated_at = ?3, activated_by = ?4,
                     updated_at = MAX(?3, created_at)
                 WHERE model_id = ?1 AND version = ?2",
                params![id, v, ts(now), activated_by],
            )
            .map_err(map_sqlite)?;
            let model = load(tx, &id, &v)?.ok_or(StoreError::NotFound { entity: E, key })?;
            Ok(model)
        })
        .await
    }

    async fn update_performance_metrics(
        &self,
        model_id: &ModelId,
        version: &ModelVersion,
        metrics: &BTreeMap<String, f64>,
        now: DateTime<Utc>,
    ) -> StoreResult<ModelConfig> {
        let (id, v) = (model_id.to_string(), version.to_string());
        let key = key_text(model_id, version);
        let metrics = metrics.clone();
        self.with_write_tx(move |tx| {
            let mut model = load(tx, &id, &v)?.ok_or_else(|| StoreError::NotFound {
                entity: E,
                key: key.clone(),
            })?;
            model.performance_metrics.extend(metrics);
            model.updated_at = now.max(model.created_at);
            model.validate()?;
            tx.execute(
                "UPDATE model_config SET performance_metrics = ?3, updated_at = ?4
                 WHERE model_id = ?1 AND version = ?2",
                params![
                    id,
                    v,
                    to_json(&model.performance_metrics)?,
                    ts(model.updated_at)
                ],
            )
            .map_err(map_sqlite)?;
            // Re-read so the caller sees exactly what is stored (microsecond times).
            let model = load(tx, &id, &v)?.ok_or(StoreError::NotFound { entity: E, key })?;
            Ok(model)
        })
        .await
    }
}
