//! Skill, section and cluster repositories: batched results written by one
//! MERGE (upserts) or one transactional script (clustering runs, which must
//! keep a single active assignment per job).

use crate::client::{Params, Row};
use crate::codec::{self, cluster_from_row, section_from_row, skill_from_row};
use crate::schema::{names, select_list, Cols, Ty, CLUSTER_COLS, SECTION_COLS, SKILL_COLS};
use crate::{limit, Batch, BigQueryStore};
use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    ClusterAssignment, ClusterChange, ClusterRepository, ClusteringRun, ClusteringRunRecorded,
    ClusteringRunSummary, EnrichmentVersion, ExtractedSkill, JobId, ModelId, ModelVersion,
    SectionClassification, SectionRepository, SkillFrequency, SkillRepository, SkillWeight,
    StoreError,
};
use std::collections::BTreeMap;

const RUN_EXISTS: &str = "jobenrich: clustering run already recorded";

/// `MERGE target USING staged ON key WHEN MATCHED UPDATE … WHEN NOT MATCHED INSERT …`.
fn upsert_sql(batch: &Batch, table: &str, cols: Cols, key: &[&str], kind: &str) -> String {
    let on = key
        .iter()
        .map(|k| format!("t.{k} = s.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let set = cols
        .iter()
        .filter(|(n, _)| !key.contains(n))
        .map(|(n, _)| format!("{n} = s.{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let values = cols
        .iter()
        .map(|(n, _)| format!("s.{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "MERGE {table} t USING {} s ON {on}
         WHEN MATCHED THEN UPDATE SET {set}
         WHEN NOT MATCHED THEN INSERT ({}) VALUES ({values})",
        batch.source(cols, kind),
        names(cols)
    )
}

fn parse_job_id(text: String) -> StoreResult<JobId> {
    JobId::parse(text.clone()).map_err(|e| codec::corrupt("JobPosting", &text, e))
}

impl BigQueryStore {
    /// Runs `sql` (binding `@jobs` and `@version`) once per 10,000 jobs and
    /// decodes every row.
    async fn rows_of_jobs<T>(
        &self,
        what: &str,
        sql: &str,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
        mut decode: impl FnMut(&Row) -> StoreResult<T> + Send,
    ) -> StoreResult<Vec<T>> {
        let mut all = Vec::new();
        for chunk in job_ids.chunks(10_000) {
            let out = self
                .query(
                    what,
                    sql,
                    Params::new()
                        .str_array("jobs", chunk.iter().map(|j| j.to_string()))
                        .str("version", version.as_str()),
                )
                .await?;
            for r in &out.rows {
                all.push(decode(r)?);
            }
        }
        Ok(all)
    }

    /// Rows per `enrichment_version` of a result table, by version. `table`
    /// is one of the adapter's own table names (a constant, never input:
    /// table names cannot be bound as parameters).
    pub(crate) async fn version_counts(
        &self,
        what: &str,
        table: &'static str,
        entity: &'static str,
    ) -> StoreResult<Vec<(EnrichmentVersion, u64)>> {
        let sql = format!(
            "SELECT enrichment_version, COUNT(*) FROM {table}
             GROUP BY enrichment_version ORDER BY enrichment_version"
        );
        let out = self.query(what, &sql, Params::new()).await?;
        out.rows
            .iter()
            .map(|r| {
                let v = r.str(0)?;
                Ok((
                    EnrichmentVersion::parse(v.clone())
                        .map_err(|e| codec::corrupt(entity, &v, e))?,
                    r.i64(1)? as u64,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl SkillRepository for BigQueryStore {
    async fn upsert_skills(&self, skills: &[ExtractedSkill]) -> StoreResult<u64> {
        for s in skills {
            s.validate()?;
        }
        if skills.is_empty() {
            return Ok(0);
        }
        // The last of several rows with one key wins, as with a row-by-row upsert.
        let mut unique: BTreeMap<(&str, &str, &str), &ExtractedSkill> = BTreeMap::new();
        for s in skills {
            unique.insert(
                (
                    s.job_posting_id.as_str(),
                    &s.skill_name,
                    s.enrichment_version.as_str(),
                ),
                s,
            );
        }
        let batch = self
            .stage(
                unique
                    .values()
                    .map(|s| ("skill", codec::skill_json(s)))
                    .collect(),
            )
            .await?;
        let sql = upsert_sql(
            &batch,
            "job_skills",
            SKILL_COLS,
            &["job_posting_id", "skill_name", "enrichment_version"],
            "skill",
        );
        self.query(
            "upserting skills",
            &sql,
            Params::new().str("batch", batch.param()),
        )
        .await?;
        Ok(skills.len() as u64)
    }

    async fn skills_for_job(
        &self,
        job_posting_id: &JobId,
        version: Option<EnrichmentVersion>,
    ) -> StoreResult<Vec<ExtractedSkill>> {
        let sql = format!(
            "SELECT {} FROM job_skills
             WHERE job_posting_id = @job AND (@version = '' OR enrichment_version = @version)
             ORDER BY confidence_score DESC, skill_name, enrichment_version",
            select_list(SKILL_COLS, "")
        );
        let out = self
            .query(
                "reading a job's skills",
                &sql,
                Params::new()
                    .str("job", job_posting_id.as_str())
                    .str("version", version.as_ref().map_or("", |v| v.as_str())),
            )
            .await?;
        out.rows.iter().map(skill_from_row).collect()
    }

    async fn skills_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<ExtractedSkill>> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM job_skills
             WHERE job_posting_id IN UNNEST(@jobs) AND enrichment_version = @version
             ORDER BY job_posting_id, skill_name",
            select_list(SKILL_COLS, "")
        );
        let mut all = self
            .rows_of_jobs(
                "reading skills of jobs",
                &sql,
                job_ids,
                version,
                skill_from_row,
            )
            .await?;
        all.sort_by(|a, b| {
            (&a.job_posting_id, &a.skill_name).cmp(&(&b.job_posting_id, &b.skill_name))
        });
        Ok(all)
    }

    async fn skill_weights_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<SkillWeight>> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Four columns, not the whole skill row: clustering reads every skill
        // of a version, and snippets and links are most of a row's bytes.
        let sql = "SELECT job_posting_id, skill_name, confidence_score, enrichment_id
             FROM job_skills
             WHERE job_posting_id IN UNNEST(@jobs) AND enrichment_version = @version";
        let mut names = std::collections::HashMap::new();
        let mut all = self
            .rows_of_jobs(
                "reading skill weights of jobs",
                sql,
                job_ids,
                version,
                |r| codec::skill_weight_from_row(r, &mut names),
            )
            .await?;
        // skills_for_jobs' order, sorted here rather than by BigQuery.
        all.sort_by(|a, b| {
            (&a.job_posting_id, &a.skill_name).cmp(&(&b.job_posting_id, &b.skill_name))
        });
        Ok(all)
    }

    async fn top_skills(
        &self,
        version: &EnrichmentVersion,
        limit_rows: usize,
    ) -> StoreResult<Vec<SkillFrequency>> {
        if limit_rows == 0 {
            return Ok(Vec::new());
        }
        let out = self
            .query(
                "ranking skills",
                "SELECT skill_name, skill_category, COUNT(DISTINCT job_posting_id) AS jobs,
                        AVG(confidence_score)
                 FROM job_skills WHERE enrichment_version = @version
                 GROUP BY skill_name, skill_category
                 ORDER BY jobs DESC, skill_name, skill_category
                 LIMIT @limit",
                Params::new()
                    .str("version", version.as_str())
                    .i64("limit", limit(limit_rows)),
            )
            .await?;
        out.rows
            .iter()
            .map(|r| {
                let name = r.str(0)?;
                Ok(SkillFrequency {
                    skill_category: r
                        .str(1)?
                        .parse()
                        .map_err(|e| codec::corrupt("ExtractedSkill", &name, e))?,
                    job_count: r.i64(2)? as u64,
                    mean_confidence: r.f64(3)?,
                    skill_name: name,
                })
            })
            .collect()
    }

    async fn skill_versions(&self) -> StoreResult<Vec<(EnrichmentVersion, u64)>> {
        self.version_counts("listing skill versions", "job_skills", "ExtractedSkill")
            .await
    }

    async fn delete_skills_at_versions(&self, versions: &[EnrichmentVersion]) -> StoreResult<u64> {
        if versions.is_empty() {
            return Ok(0);
        }
        let out = self
            .query(
                "deleting skills at versions",
                "DELETE FROM job_skills WHERE enrichment_version IN UNNEST(@versions)",
                Params::new().str_array("versions", versions.iter().map(|v| v.to_string())),
            )
            .await?;
        Ok(out.dml_affected.unwrap_or(0))
    }
}

#[async_trait]
impl SectionRepository for BigQueryStore {
    async fn upsert_sections(&self, sections: &[SectionClassification]) -> StoreResult<u64> {
        for s in sections {
            s.validate()?;
        }
        if sections.is_empty() {
            return Ok(0);
        }
        let mut unique: BTreeMap<(&str, &str, u32), &SectionClassification> = BTreeMap::new();
        for s in sections {
            unique.insert(
                (
                    s.job_posting_id.as_str(),
                    &s.classifier_version,
                    s.section_index,
                ),
                s,
            );
        }
        let batch = self
            .stage(
                unique
                    .values()
                    .map(|s| ("section", codec::section_json(s)))
                    .collect(),
            )
            .await?;
        let sql = upsert_sql(
            &batch,
            "section_classifications",
            SECTION_COLS,
            &["job_posting_id", "classifier_version", "section_index"],
            "section",
        );
        self.query(
            "upserting sections",
            &sql,
            Params::new().str("batch", batch.param()),
        )
        .await?;
        Ok(sections.len() as u64)
    }

    async fn sections_for_job(
        &self,
        job_posting_id: &JobId,
        classifier_version: Option<String>,
    ) -> StoreResult<Vec<SectionClassification>> {
        // Classifier versions are free text (possibly empty), so "any version"
        // is a separate flag rather than an empty-string sentinel.
        let sql = format!(
            "SELECT {} FROM section_classifications
             WHERE job_posting_id = @job AND (@any_version OR classifier_version = @version)
             ORDER BY classifier_version, section_index",
            select_list(SECTION_COLS, "")
        );
        let out = self
            .query(
                "reading a job's sections",
                &sql,
                Params::new()
                    .str("job", job_posting_id.as_str())
                    .bool("any_version", classifier_version.is_none())
                    .str("version", classifier_version.as_deref().unwrap_or("")),
            )
            .await?;
        out.rows.iter().map(section_from_row).collect()
    }

    async fn delete_sections_at_versions(
        &self,
        classifier_versions: &[String],
    ) -> StoreResult<u64> {
        if classifier_versions.is_empty() {
            return Ok(0);
        }
        let out = self
            .query(
                "deleting sections at versions",
                "DELETE FROM section_classifications
                 WHERE classifier_version IN UNNEST(@versions)",
                Params::new().str_array("versions", classifier_versions.iter().cloned()),
            )
            .await?;
        Ok(out.dml_affected.unwrap_or(0))
    }
}

/// Staged columns of a run's assignment (its version is computed in the script).
const RUN_ROW_COLS: Cols = &[
    ("job_posting_id", Ty::Str),
    ("cluster_id", Ty::Int),
    ("cluster_name", Ty::Str),
    ("cluster_keywords", Ty::Json),
    ("cluster_size", Ty::Int),
    ("cluster_assignment_id", Ty::Str),
    ("enrichment_id", Ty::Str),
];

impl BigQueryStore {
    async fn assignments_where(
        &self,
        what: &str,
        tail: &str,
        params: Params,
    ) -> StoreResult<Vec<ClusterAssignment>> {
        let sql = format!(
            "SELECT {} FROM job_clusters {tail}",
            select_list(CLUSTER_COLS, "")
        );
        let out = self.query(what, &sql, params).await?;
        out.rows.iter().map(cluster_from_row).collect()
    }
}

#[async_trait]
impl ClusterRepository for BigQueryStore {
    async fn record_clustering_run(
        &self,
        run: &ClusteringRun,
    ) -> StoreResult<ClusteringRunRecorded> {
        let rows: Vec<_> = run
            .expand()?
            .iter()
            .map(|a| ("assignment", codec::cluster_json(a)))
            .collect();
        if rows.is_empty() {
            return Ok(ClusteringRunRecorded::default());
        }
        let batch = self.stage(rows).await?;
        // One transaction: versions max+1 per job, earlier assignments of the
        // run's jobs inactive, the new ones active. Any failure rolls it all
        // back, leaving the previous run active and intact.
        let script = format!(
            "DECLARE deactivated INT64 DEFAULT 0;
             DECLARE inserted INT64 DEFAULT 0;
             BEGIN TRANSACTION;
             IF EXISTS (SELECT 1 FROM job_clusters WHERE cluster_run_id = @run) THEN
               RAISE USING MESSAGE = '{RUN_EXISTS}';
             END IF;
             CREATE TEMP TABLE run_rows AS
               SELECT s.*, COALESCE(m.max_version, 0) + 1 AS next_version
               FROM {rows} s
               LEFT JOIN (SELECT job_posting_id, MAX(cluster_version) AS max_version
                          FROM job_clusters GROUP BY job_posting_id) m ON m.job_posting_id = s.job_posting_id;
             UPDATE job_clusters SET is_active = FALSE
             WHERE is_active AND job_posting_id IN (SELECT job_posting_id FROM run_rows);
             SET deactivated = @@row_count;
             INSERT INTO job_clusters ({cols})
               SELECT job_posting_id, cluster_id, cluster_name, cluster_keywords, cluster_size, @run,
                      @model_id, @model_version, next_version, TRUE, @assigned_at,
                      cluster_assignment_id, enrichment_id
               FROM run_rows;
             SET inserted = @@row_count;
             COMMIT TRANSACTION;
             SELECT inserted, deactivated;",
            rows = batch.source(RUN_ROW_COLS, "assignment"),
            cols = names(CLUSTER_COLS),
        );
        let out = self
            .query(
                "recording a clustering run",
                &script,
                Params::new()
                    .str("batch", batch.param())
                    .str("run", &run.cluster_run_id)
                    .str("model_id", run.cluster_model_id.as_str())
                    .str("model_version", run.cluster_model_version.as_str())
                    .ts("assigned_at", run.assigned_at),
            )
            .await
            .map_err(|e| {
                if e.to_string().contains(RUN_EXISTS) {
                    StoreError::AlreadyExists {
                        entity: "ClusteringRun",
                        key: run.cluster_run_id.clone(),
                    }
                } else {
                    e
                }
            })?;
        let row = out.rows.first().ok_or_else(|| {
            StoreError::Backend("recording a clustering run: no counts returned".into())
        })?;
        Ok(ClusteringRunRecorded {
            assignments: row.i64(0)? as u64,
            deactivated: row.i64(1)? as u64,
        })
    }

    async fn list_clustering_runs(&self) -> StoreResult<Vec<ClusteringRunSummary>> {
        let out = self
            .query(
                "listing clustering runs",
                "SELECT cluster_run_id, MIN(cluster_model_id), MIN(cluster_model_version),
                        UNIX_MICROS(MIN(created_at)) AS at, COUNT(*), COUNT(DISTINCT cluster_id)
                 FROM job_clusters GROUP BY cluster_run_id
                 ORDER BY at DESC, cluster_run_id DESC",
                Params::new(),
            )
            .await?;
        out.rows
            .iter()
            .map(|r| {
                let run = r.str(0)?;
                const E: &str = "ClusterAssignment";
                Ok(ClusteringRunSummary {
                    cluster_model_id: ModelId::parse(r.str(1)?)
                        .map_err(|e| codec::corrupt(E, &run, e))?,
                    cluster_model_version: ModelVersion::parse(r.str(2)?)
                        .map_err(|e| codec::corrupt(E, &run, e))?,
                    assigned_at: r.micros(3)?,
                    job_count: r.i64(4)? as u64,
                    cluster_count: r.i64(5)? as u64,
                    cluster_run_id: run,
                })
            })
            .collect()
    }

    async fn assignments_for_run(
        &self,
        cluster_run_id: &str,
    ) -> StoreResult<Vec<ClusterAssignment>> {
        self.assignments_where(
            "reading a run's assignments",
            "WHERE cluster_run_id = @run ORDER BY job_posting_id",
            Params::new().str("run", cluster_run_id),
        )
        .await
    }

    async fn active_assignment(
        &self,
        job_posting_id: &JobId,
    ) -> StoreResult<Option<ClusterAssignment>> {
        Ok(self
            .assignments_where(
                "reading an active assignment",
                "WHERE job_posting_id = @job AND is_active ORDER BY cluster_version DESC LIMIT 1",
                Params::new().str("job", job_posting_id.as_str()),
            )
            .await?
            .pop())
    }

    async fn assignment_history(
        &self,
        job_posting_id: &JobId,
    ) -> StoreResult<Vec<ClusterAssignment>> {
        self.assignments_where(
            "reading an assignment history",
            "WHERE job_posting_id = @job ORDER BY cluster_version",
            Params::new().str("job", job_posting_id.as_str()),
        )
        .await
    }

    async fn cluster_changes(&self, run_a: &str, run_b: &str) -> StoreResult<Vec<ClusterChange>> {
        let out = self
            .query(
                "comparing clustering runs",
                "SELECT a.job_posting_id, a.cluster_id, a.cluster_name, b.cluster_id, b.cluster_name
                 FROM job_clusters a
                 JOIN job_clusters b ON b.job_posting_id = a.job_posting_id AND b.cluster_run_id = @run_b
                 WHERE a.cluster_run_id = @run_a AND a.cluster_id <> b.cluster_id
                 ORDER BY a.job_posting_id",
                Params::new().str("run_a", run_a).str("run_b", run_b),
            )
            .await?;
        out.rows
            .iter()
            .map(|r| {
                let u = |v: i64| {
                    u32::try_from(v).map_err(|_| {
                        codec::corrupt("ClusterAssignment", run_a, format!("cluster id {v}"))
                    })
                };
                Ok(ClusterChange {
                    job_posting_id: parse_job_id(r.str(0)?)?,
                    old_cluster_id: u(r.i64(1)?)?,
                    old_cluster_name: r.str(2)?,
                    new_cluster_id: u(r.i64(3)?)?,
                    new_cluster_name: r.str(4)?,
                })
            })
            .collect()
    }

    async fn jobs_with_multiple_active_assignments(&self) -> StoreResult<Vec<JobId>> {
        let out = self
            .query(
                "checking the one-active invariant",
                "SELECT job_posting_id FROM job_clusters WHERE is_active
                 GROUP BY job_posting_id HAVING COUNT(*) > 1 ORDER BY job_posting_id",
                Params::new(),
            )
            .await?;
        out.rows.iter().map(|r| parse_job_id(r.str(0)?)).collect()
    }
}
