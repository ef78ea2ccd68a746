//! Alias, model-registry and evaluation repositories. Uniqueness rules
//! (alias text case-insensitively, one row per model version, one row per
//! evaluation id) are insert-if-absent MERGEs; the one-active-version rule is a
//! transactional script; metric merges are compare-and-set UPDATEs.

use crate::client::Params;
use crate::codec::{self, alias_from_row, evaluation_from_row, model_from_row};
use crate::schema::{
    from_json_param, names, select_list, Cols, ALIAS_COLS, EVALUATION_COLS, MODEL_COLS,
};
use crate::BigQueryStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    AliasRepository, AliasUpsertCounts, EnrichmentType, EvaluationRepository, EvaluationResult,
    ModelConfig, ModelConfigRepository, ModelId, ModelVersion, SkillAlias, StoreError,
};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const MODEL_NOT_FOUND: &str = "jobenrich: model version not found";

fn insert_if_absent_sql(table: &str, cols: Cols, key: &[&str]) -> String {
    let on = key
        .iter()
        .map(|k| format!("t.{k} = s.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let values = cols
        .iter()
        .map(|(n, _)| format!("s.{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "MERGE {table} t USING {} s ON {on}
         WHEN NOT MATCHED THEN INSERT ({}) VALUES ({values})",
        from_json_param(cols, "row"),
        names(cols)
    )
}

fn model_key(model_id: &ModelId, version: &ModelVersion) -> String {
    format!("{model_id}@{version}")
}

fn model_json(m: &ModelConfig) -> serde_json::Value {
    json!({
        "model_id": m.model_id.as_str(), "model_type": m.model_type.as_str(),
        "version": m.version.as_str(), "description": m.description,
        // Registered inactive whatever the caller says: activation is explicit.
        "is_active": false,
        "config_overrides": m.config_overrides, "performance_metrics": m.performance_metrics,
        "created_at": m.created_at.timestamp_micros(),
        "updated_at": m.updated_at.timestamp_micros(),
        "activated_at": m.activated_at.map(|t| t.timestamp_micros()),
        "activated_by": m.activated_by,
        "training_data_version": m.training_data_version,
        "training_date": m.training_date.map(|t| t.timestamp_micros()),
    })
}

fn evaluation_json(e: &EvaluationResult) -> serde_json::Value {
    json!({
        "evaluation_id": e.evaluation_id, "model_id": e.model_id.as_str(),
        "model_version": e.model_version.as_str(), "dataset_version": e.dataset_version,
        "dataset_path": e.dataset_path, "overall_precision": e.overall_precision,
        "overall_recall": e.overall_recall, "overall_f1": e.overall_f1, "category_metrics": e.category_metrics,
        "additional_metrics": e.additional_metrics, "sample_count": e.sample_count,
        "execution_time_seconds": e.execution_time_seconds, "is_ci_run": e.is_ci_run,
        "ci_build_id": e.ci_build_id, "threshold_passed": e.threshold_passed,
        "evaluation_date": e.evaluation_date.timestamp_micros(),
    })
}

#[async_trait]
impl AliasRepository for BigQueryStore {
    async fn add_alias(&self, alias: &SkillAlias) -> StoreResult<()> {
        alias.validate()?;
        let out = self
            .query(
                "adding an alias",
                &insert_if_absent_sql("skill_aliases", ALIAS_COLS, &["alias_key"]),
                Params::new().str("row", codec::alias_json(alias).to_string()),
            )
            .await?;
        if out.dml_affected.unwrap_or(0) == 0 {
            return Err(StoreError::AlreadyExists {
                entity: "SkillAlias",
                key: alias.alias_text.clone(),
            });
        }
        Ok(())
    }

    async fn upsert_aliases(&self, aliases: &[SkillAlias]) -> StoreResult<AliasUpsertCounts> {
        for a in aliases {
            a.validate()?;
        }
        if aliases.is_empty() {
            return Ok(AliasUpsertCounts::default());
        }
        let keys: BTreeSet<String> = aliases
            .iter()
            .map(|a| SkillAlias::normalized_key(&a.alias_text))
            .collect();
        let existing: BTreeSet<String> = self
            .query(
                "reading existing aliases",
                "SELECT alias_key FROM skill_aliases WHERE alias_key IN UNNEST(@keys)",
                Params::new().str_array("keys", keys.iter().cloned()),
            )
            .await?
            .rows
            .iter()
            .map(|r| r.str(0))
            .collect::<StoreResult<_>>()?;
        // Per key: counted as inserted once if new, every later row an update;
        // the last row's values win, a new key keeps its first id, created_at and created_by.
        let mut counts = AliasUpsertCounts::default();
        let mut merged: HashMap<String, SkillAlias> = HashMap::new();
        for a in aliases {
            let key = SkillAlias::normalized_key(&a.alias_text);
            match merged.get_mut(&key) {
                Some(prev) => {
                    let first = prev.clone();
                    *prev = a.clone();
                    prev.created_at = first.created_at;
                    prev.alias_id = first.alias_id;
                    prev.created_by = first.created_by;
                    counts.updated += 1;
                }
                None => {
                    if existing.contains(&key) {
                        counts.updated += 1;
                    } else {
                        counts.inserted += 1;
                    }
                    merged.insert(key, a.clone());
                }
            }
        }
        let batch = self
            .stage(
                merged
                    .values()
                    .map(|a| ("alias", codec::alias_json(a)))
                    .collect(),
            )
            .await?;
        let sql = format!(
            "MERGE skill_aliases t USING {} s ON t.alias_key = s.alias_key
             WHEN MATCHED THEN UPDATE SET alias_text = s.alias_text,
                 canonical_name = s.canonical_name, skill_category = s.skill_category,
                 confidence = s.confidence, source = s.source, is_active = s.is_active,
                 updated_at = s.updated_at
             WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})",
            batch.source(ALIAS_COLS, "alias"),
            cols = names(ALIAS_COLS),
            values = ALIAS_COLS
                .iter()
                .map(|(n, _)| format!("s.{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.query(
            "upserting aliases",
            &sql,
            Params::new().str("batch", batch.param()),
        )
        .await?;
        Ok(counts)
    }

    async fn get_alias(&self, alias_text: &str) -> StoreResult<Option<SkillAlias>> {
        let sql = format!(
            "SELECT {} FROM skill_aliases WHERE alias_key = @key",
            select_list(ALIAS_COLS, "")
        );
        let out = self
            .query(
                "reading an alias",
                &sql,
                Params::new().str("key", SkillAlias::normalized_key(alias_text)),
            )
            .await?;
        out.rows.first().map(alias_from_row).transpose()
    }

    async fn list_aliases(&self, active_only: bool) -> StoreResult<Vec<SkillAlias>> {
        let sql = format!(
            "SELECT {} FROM skill_aliases WHERE NOT @active_only OR is_active
             ORDER BY alias_key",
            select_list(ALIAS_COLS, "")
        );
        let out = self
            .query(
                "listing aliases",
                &sql,
                Params::new().bool("active_only", active_only),
            )
            .await?;
        out.rows.iter().map(alias_from_row).collect()
    }

    async fn deactivate_alias(
        &self,
        alias_text: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<SkillAlias> {
        let sql = format!(
            "UPDATE skill_aliases SET is_active = FALSE,
                 updated_at = GREATEST(@now, created_at)
             WHERE alias_key = @key;
             SELECT {} FROM skill_aliases WHERE alias_key = @key;",
            select_list(ALIAS_COLS, "")
        );
        let out = self
            .query(
                "deactivating an alias",
                &sql,
                Params::new()
                    .str("key", SkillAlias::normalized_key(alias_text))
                    .ts("now", now),
            )
            .await?;
        match out.rows.first() {
            Some(row) => alias_from_row(row),
            None => Err(StoreError::NotFound {
                entity: "SkillAlias",
                key: alias_text.to_string(),
            }),
        }
    }
}

impl BigQueryStore {
    async fn models_where(
        &self,
        what: &str,
        tail: &str,
        params: Params,
    ) -> StoreResult<Vec<ModelConfig>> {
        let sql = format!(
            "SELECT {} FROM model_config {tail}",
            select_list(MODEL_COLS, "")
        );
        let out = self.query(what, &sql, params).await?;
        out.rows.iter().map(model_from_row).collect()
    }
}

#[async_trait]
impl ModelConfigRepository for BigQueryStore {
    async fn register_model(&self, model: &ModelConfig) -> StoreResult<()> {
        model.validate()?;
        let out = self
            .query(
                "registering a model",
                &insert_if_absent_sql("model_config", MODEL_COLS, &["model_id", "version"]),
                Params::new().str("row", model_json(model).to_string()),
            )
            .await?;
        if out.dml_affected.unwrap_or(0) == 0 {
            return Err(StoreError::AlreadyExists {
                entity: "ModelConfig",
                key: model_key(&model.model_id, &model.version),
            });
        }
        Ok(())
    }

    async fn get_model(
        &self,
        model_id: &ModelId,
        version: &ModelVersion,
    ) -> StoreResult<Option<ModelConfig>> {
        Ok(self
            .models_where(
                "reading a model",
                "WHERE model_id = @id AND version = @version",
                Params::new()
                    .str("id", model_id.as_str())
                    .str("version", version.as_str()),
            )
            .await?
            .pop())
    }

    async fn list_models(&self, model_id: Option<ModelId>) -> StoreResult<Vec<ModelConfig>> {
        let mut models = self
            .models_where(
                "listing models",
                "WHERE @id = '' OR model_id = @id",
                Params::new().str("id", model_id.as_ref().map_or("", |m| m.as_str())),
            )
            .await?;
        // Version order is numeric (v1.10 after v1.9), which text order is not.
        models.sort_by(|a, b| {
            (&a.model_id, a.version.sort_key()).cmp(&(&b.model_id, b.version.sort_key()))
        });
        Ok(models)
    }

    async fn active_model(&self, model_id: &ModelId) -> StoreResult<Option<ModelConfig>> {
        Ok(self
            .models_where(
                "reading the active model",
                "WHERE model_id = @id AND is_active ORDER BY activated_at DESC LIMIT 1",
                Params::new().str("id", model_id.as_str()),
            )
            .await?
            .pop())
    }

    async fn active_model_for_type(
        &self,
        model_type: EnrichmentType,
    ) -> StoreResult<Option<ModelConfig>> {
        Ok(self
            .models_where(
                "reading the active model of a type",
                "WHERE model_type = @type AND is_active
                 ORDER BY activated_at DESC, model_id LIMIT 1",
                Params::new().str("type", model_type.as_str()),
            )
            .await?
            .pop())
    }

    async fn active_models_for_types(
        &self,
        model_types: &[EnrichmentType],
    ) -> StoreResult<Vec<ModelConfig>> {
        if model_types.is_empty() {
            return Ok(Vec::new());
        }
        // One request for every type; the first row of a type is the one
        // `active_model_for_type` picks (same order).
        let rows = self
            .models_where(
                "reading the active models",
                "WHERE model_type IN UNNEST(@types) AND is_active
                 ORDER BY model_type, activated_at DESC, model_id",
                Params::new()
                    .str_array("types", model_types.iter().map(|t| t.as_str().to_string())),
            )
            .await?;
        let mut seen = BTreeSet::new();
        Ok(rows
            .into_iter()
            .filter(|m| seen.insert(m.model_type))
            .collect())
    }

    async fn activate_model(
        &self,
        model_id: &ModelId,
        version: &ModelVersion,
        activated_by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ModelConfig> {
        // One transaction: the others of the model id off, this one on.
        let script = format!(
            "BEGIN TRANSACTION;
             IF NOT EXISTS (SELECT 1 FROM model_config WHERE model_id = @id AND version = @version)
             THEN RAISE USING MESSAGE = '{MODEL_NOT_FOUND}';
             END IF;
             UPDATE model_config SET is_active = FALSE, updated_at = GREATEST(@now, created_at)
             WHERE model_id = @id AND version <> @version AND is_active;
             UPDATE model_config SET is_active = TRUE, activated_at = @now,
                 activated_by = @by, updated_at = GREATEST(@now, created_at)
             WHERE model_id = @id AND version = @version;
             COMMIT TRANSACTION;
             SELECT {} FROM model_config WHERE model_id = @id AND version = @version;",
            select_list(MODEL_COLS, "")
        );
        let key = model_key(model_id, version);
        let out = self
            .query(
                "activating a model",
                &script,
                Params::new()
                    .str("id", model_id.as_str())
                    .str("version", version.as_str())
                    .str("by", activated_by)
                    .ts("now", now),
            )
            .await
            .map_err(|e| {
                if e.to_string().contains(MODEL_NOT_FOUND) {
                    StoreError::NotFound {
                        entity: "ModelConfig",
                        key: key.clone(),
                    }
                } else {
                    e
                }
            })?;
        out.rows
            .first()
            .map(model_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound {
                entity: "ModelConfig",
                key,
            })
    }

    async fn update_performance_metrics(
        &self,
        model_id: &ModelId,
        version: &ModelVersion,
        metrics: &BTreeMap<String, f64>,
        now: DateTime<Utc>,
    ) -> StoreResult<ModelConfig> {
        let key = model_key(model_id, version);
        // Read, merge in Rust, write back only if nobody changed the row since.
        for _ in 0..8 {
            let mut model =
                self.get_model(model_id, version)
                    .await?
                    .ok_or_else(|| StoreError::NotFound {
                        entity: "ModelConfig",
                        key: key.clone(),
                    })?;
            let seen_updated_at = model.updated_at;
            model.performance_metrics.extend(metrics.clone());
            model.updated_at = now.max(model.created_at);
            model.validate()?;
            let out = self
                .query(
                    "updating performance metrics",
                    "UPDATE model_config SET performance_metrics = PARSE_JSON(@metrics),
                         updated_at = @updated_at
                     WHERE model_id = @id AND version = @version AND updated_at = @seen",
                    Params::new()
                        .str(
                            "metrics",
                            serde_json::to_string(&model.performance_metrics)
                                .map_err(|e| StoreError::Backend(e.to_string()))?,
                        )
                        .ts("updated_at", model.updated_at)
                        .str("id", model_id.as_str())
                        .str("version", version.as_str())
                        .ts("seen", seen_updated_at),
                )
                .await?;
            if out.dml_affected.unwrap_or(0) == 1 {
                return self
                    .get_model(model_id, version)
                    .await?
                    .ok_or(StoreError::NotFound {
                        entity: "ModelConfig",
                        key,
                    });
            }
        }
        Err(StoreError::Conflict {
            entity: "ModelConfig",
            key,
            reason: "performance metrics kept changing concurrently".into(),
        })
    }
}

#[async_trait]
impl EvaluationRepository for BigQueryStore {
    async fn insert_evaluation(&self, result: &EvaluationResult) -> StoreResult<()> {
        result.validate()?;
        let out = self
            .query(
                "inserting an evaluation",
                &insert_if_absent_sql("evaluation_results", EVALUATION_COLS, &["evaluation_id"]),
                Params::new().str("row", evaluation_json(result).to_string()),
            )
            .await?;
        if out.dml_affected.unwrap_or(0) == 0 {
            return Err(StoreError::AlreadyExists {
                entity: "EvaluationResult",
                key: result.evaluation_id.clone(),
            });
        }
        Ok(())
    }

    async fn latest_evaluation(
        &self,
        model_id: &ModelId,
        model_version: Option<ModelVersion>,
        dataset_version: Option<String>,
    ) -> StoreResult<Option<EvaluationResult>> {
        let sql = format!(
            "SELECT {} FROM evaluation_results
             WHERE model_id = @id AND (@any_version OR model_version = @version)
               AND (@any_dataset OR dataset_version = @dataset)
             ORDER BY evaluation_date DESC, evaluation_id DESC LIMIT 1",
            select_list(EVALUATION_COLS, "")
        );
        let out = self
            .query(
                "reading the latest evaluation",
                &sql,
                Params::new()
                    .str("id", model_id.as_str())
                    .bool("any_version", model_version.is_none())
                    .str("version", model_version.as_ref().map_or("", |v| v.as_str()))
                    .bool("any_dataset", dataset_version.is_none())
                    .str("dataset", dataset_version.as_deref().unwrap_or("")),
            )
            .await?;
        out.rows.first().map(evaluation_from_row).transpose()
    }

    async fn list_evaluations(&self, model_id: &ModelId) -> StoreResult<Vec<EvaluationResult>> {
        let sql = format!(
            "SELECT {} FROM evaluation_results WHERE model_id = @id
             ORDER BY evaluation_date DESC, evaluation_id DESC",
            select_list(EVALUATION_COLS, "")
        );
        let out = self
            .query(
                "listing evaluations",
                &sql,
                Params::new().str("id", model_id.as_str()),
            )
            .await?;
        out.rows.iter().map(evaluation_from_row).collect()
    }
}
