//! `EvaluationRepository` over `evaluation_results`.

use crate::codec::{collect_rows, corrupt, from_json, from_ts, get, to_json, ts};
use crate::error::{is_unique_violation, map_sqlite};
use crate::SqliteStore;
use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{EvaluationRepository, EvaluationResult, ModelId, ModelVersion, StoreError};
use rusqlite::{params, Row};

const COLUMNS: &str = "evaluation_id, model_id, model_version, dataset_version, dataset_path, \
     overall_precision, overall_recall, overall_f1, category_metrics, additional_metrics, sample_count, \
     execution_time_seconds, is_ci_run, ci_build_id, threshold_passed, evaluation_date";

const E: &str = "EvaluationResult";

fn evaluation_from_row(row: &Row<'_>) -> StoreResult<EvaluationResult> {
    let id: String = get(row, 0)?;
    Ok(EvaluationResult {
        model_id: ModelId::parse(get::<String>(row, 1)?).map_err(corrupt(E, &id))?,
        model_version: ModelVersion::parse(get::<String>(row, 2)?).map_err(corrupt(E, &id))?,
        dataset_version: get(row, 3)?,
        dataset_path: get(row, 4)?,
        overall_precision: get(row, 5)?,
        overall_recall: get(row, 6)?,
        overall_f1: get(row, 7)?,
        category_metrics: from_json(E, &id, &get::<String>(row, 8)?)?,
        additional_metrics: from_json(E, &id, &get::<String>(row, 9)?)?,
        sample_count: get::<i64>(row, 10)? as u64,
        execution_time_seconds: get(row, 11)?,
        is_ci_run: get(row, 12)?,
        ci_build_id: get(row, 13)?,
        threshold_passed: get(row, 14)?,
        evaluation_date: from_ts(E, get(row, 15)?)?,
        evaluation_id: id,
    })
}

#[async_trait]
impl EvaluationRepository for SqliteStore {
    async fn insert_evaluation(&self, result: &EvaluationResult) -> StoreResult<()> {
        result.validate()?;
        let r = result.clone();
        let sample_count = i64::try_from(r.sample_count).map_err(|_| {
            jobenrich_domain::ValidationError::new(E, "sample_count", "must fit in 63 bits")
        })?;
        self.with_write_tx(move |tx| {
            let inserted = tx.execute(
                &format!(
                    "INSERT INTO evaluation_results ({COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                ),
                params![
                    r.evaluation_id,
                    r.model_id.as_str(),
                    r.model_version.as_str(),
                    r.dataset_version,
                    r.dataset_path,
                    r.overall_precision,
                    r.overall_recall,
                    r.overall_f1,
                    to_json(&r.category_metrics)?,
                    to_json(&r.additional_metrics)?,
                    sample_count,
                    r.execution_time_seconds,
                    r.is_ci_run,
                    r.ci_build_id,
                    r.threshold_passed,
                    ts(r.evaluation_date),
                ],
            );
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::AlreadyExists {
                        entity: E,
                        key: r.evaluation_id.clone(),
                    })
                }
                Err(e) => return Err(map_sqlite(e)),
            }
            Ok(())
        })
        .await
    }

    async fn latest_evaluation(
        &self,
        model_id: &ModelId,
        model_version: Option<ModelVersion>,
        dataset_version: Option<String>,
    ) -> StoreResult<Option<EvaluationResult>> {
        let id = model_id.to_string();
        let version = model_version.map(String::from);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM evaluation_results
                     WHERE model_id = ?1 AND (?2 IS NULL OR model_version = ?2)
                       AND (?3 IS NULL OR dataset_version = ?3)
                     ORDER BY evaluation_date DESC, evaluation_id DESC LIMIT 1"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt
                .query(params![id, version, dataset_version])
                .map_err(map_sqlite)?;
            Ok(collect_rows(rows, evaluation_from_row)?.pop())
        })
        .await
    }

    async fn list_evaluations(&self, model_id: &ModelId) -> StoreResult<Vec<EvaluationResult>> {
        let id = model_id.to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM evaluation_results WHERE model_id = ?1
                     ORDER BY evaluation_date DESC, evaluation_id DESC"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![id]).map_err(map_sqlite)?;
            collect_rows(rows, evaluation_from_row)
        })
        .await
    }
}
