//! `SectionRepository` over `section_classifications`, keyed by
//! (job, classifier version, section index). Rows live in
//! `section_classifications_data` with the text NULL where it is the
//! posting's slice at the section's offsets (postings are immutable);
//! reads go through the `section_classifications` view, which fills it in.

use crate::codec::{collect_rows, from_ts, get, json_list, parse_name, parse_uuid, ts};
use crate::error::map_sqlite;
use crate::plan::{self, OutcomePlan};
use crate::postings::parse_id;
use crate::prune::{VersionedTable, PRUNE_POSTINGS_PER_TX};
use crate::skills::SkillWriter;
use crate::slices::Descriptions;
use crate::SqliteStore;
use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{JobId, SectionClassification, SectionRepository};
use rusqlite::{params, Connection, Row};

const COLUMNS: &str =
    "job_posting_id, classifier_version, section_index, section_header, section_type, \
     section_text, start_offset, end_offset, is_skills_relevant, relevance_probability, \
     classification_method, created_at, classification_id";

const E: &str = "SectionClassification";

fn section_from_row(row: &Row<'_>) -> StoreResult<SectionClassification> {
    let job_posting_id: String = get(row, 0)?;
    let index: u32 = get(row, 2)?;
    let key = format!("{job_posting_id}/{index}");
    Ok(SectionClassification {
        job_posting_id: parse_id(&job_posting_id)?,
        classifier_version: get(row, 1)?,
        section_index: index,
        section_header: get(row, 3)?,
        section_type: get(row, 4)?,
        section_text: get(row, 5)?,
        start_offset: get(row, 6)?,
        end_offset: get(row, 7)?,
        is_skills_relevant: get(row, 8)?,
        relevance_probability: get(row, 9)?,
        classification_method: parse_name(E, &key, &get::<String>(row, 10)?)?,
        created_at: from_ts(E, get(row, 11)?)?,
        classification_id: parse_uuid(E, &key, &get::<String>(row, 12)?)?,
    })
}

/// The data table's columns, in `upsert_in_tx`'s parameter order.
const DATA_COLUMNS: &str =
    "job_posting_id, version_term, section_index, section_header, type_term, section_text, \
     start_offset, end_offset, is_skills_relevant, relevance_probability, method_term, \
     created_at, classification_id";

/// Upserts sections inside the caller's transaction with cached statements;
/// `terms` gives the ids of the strings every row repeats.
pub(crate) fn upsert_in_tx(
    conn: &Connection,
    sections: &[SectionClassification],
    planned: Option<&OutcomePlan>,
    descriptions: &mut Descriptions,
    terms: &mut SkillWriter<'_>,
) -> StoreResult<u64> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO section_classifications_data ({DATA_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (job_posting_id, version_term, section_index) DO UPDATE SET
                 section_header = excluded.section_header,
                 type_term = excluded.type_term,
                 section_text = excluded.section_text,
                 start_offset = excluded.start_offset,
                 end_offset = excluded.end_offset,
                 is_skills_relevant = excluded.is_skills_relevant,
                 relevance_probability = excluded.relevance_probability,
                 method_term = excluded.method_term,
                 created_at = excluded.created_at,
                 classification_id = excluded.classification_id"
        ))
        .map_err(map_sqlite)?;
    for (i, s) in sections.iter().enumerate() {
        let is_slice = match plan::section_is_slice(planned, i, s) {
            Some(decided) => decided,
            None => {
                descriptions
                    .get(conn, &s.job_posting_id)?
                    .and_then(|d| d.slice(s.start_offset, s.end_offset))
                    == Some(s.section_text.as_str())
            }
        };
        // NULL only when the view will give back exactly this text.
        let stored = (!is_slice).then_some(s.section_text.as_str());
        stmt.execute(params![
            s.job_posting_id.as_str(),
            terms.term(conn, &s.classifier_version)?,
            s.section_index,
            s.section_header,
            terms.term(conn, &s.section_type)?,
            stored,
            s.start_offset,
            s.end_offset,
            s.is_skills_relevant,
            s.relevance_probability,
            terms.term(conn, s.classification_method.as_str())?,
            ts(s.created_at),
            s.classification_id.as_bytes().as_slice(),
        ])
        .map_err(map_sqlite)?;
    }
    Ok(sections.len() as u64)
}

/// Deletes one job's sections of one classifier version (replace semantics).
pub(crate) fn delete_job_version(
    conn: &Connection,
    job: &JobId,
    classifier_version: &str,
    terms: &mut SkillWriter<'_>,
) -> StoreResult<()> {
    // No term: no row names that version.
    let Some(version) = terms.existing(conn, classifier_version)? else {
        return Ok(());
    };
    conn.prepare_cached(
        "DELETE FROM section_classifications_data
         WHERE job_posting_id = ?1 AND version_term = ?2",
    )
    .map_err(map_sqlite)?
    .execute(params![job.as_str(), version])
    .map_err(map_sqlite)?;
    Ok(())
}

#[async_trait]
impl SectionRepository for SqliteStore {
    async fn upsert_sections(&self, sections: &[SectionClassification]) -> StoreResult<u64> {
        for s in sections {
            s.validate()?;
        }
        let sections = sections.to_vec();
        self.with_term_write_tx(move |tx, writer| {
            upsert_in_tx(tx, &sections, None, &mut Descriptions::default(), writer)
        })
        .await
    }

    async fn sections_for_job(
        &self,
        job_posting_id: &JobId,
        classifier_version: Option<String>,
    ) -> StoreResult<Vec<SectionClassification>> {
        let job_posting_id = job_posting_id.as_str().to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM section_classifications
                     WHERE job_posting_id = ?1 AND (?2 IS NULL OR classifier_version = ?2)
                     ORDER BY classifier_version, section_index"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt
                .query(params![job_posting_id, classifier_version])
                .map_err(map_sqlite)?;
            collect_rows(rows, section_from_row)
        })
        .await
    }

    async fn delete_sections_at_versions(
        &self,
        classifier_versions: &[String],
    ) -> StoreResult<u64> {
        let versions = json_list(classifier_versions)?;
        self.delete_version_rows(&[VersionedTable::Sections], versions, PRUNE_POSTINGS_PER_TX)
            .await
    }
}
