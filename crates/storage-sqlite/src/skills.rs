//! `SkillRepository` over `job_skills`: one row per (job, skill, enrichment
//! version). Rows live in `job_skills_data` with repeated strings as
//! `skill_terms` ids, UUIDs as BLOBs and snippets as offsets where the
//! `job_skills` view rebuilds them (migration 10); reads go through the view.

use crate::codec::{
    collect_rows, from_json, from_ts, get, json_list, parse_name, parse_uuid, parse_uuid_opt,
    to_json, ts,
};
use crate::error::map_sqlite;
use crate::plan::{self, OutcomePlan};
use crate::postings::parse_id;
use crate::prune::{VersionedTable, PRUNE_POSTINGS_PER_TX};
use crate::slices::{snippet_window, Descriptions};
use crate::SqliteStore;
use async_trait::async_trait;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::validation::Validate;
use jobenrich_domain::{
    EnrichmentVersion, ExtractedSkill, ExtractionStrategy, JobId, SkillFrequency, SkillRepository,
    SkillWeight, StoreError, TaxonomyLink, Uuid, ValidationError,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

const COLUMNS: &str =
    "job_posting_id, skill_name, skill_category, confidence_score, source_strategies, \
     section_relevance_score, extracted_from_section, context_snippet, position_in_text, \
     mention_count, taxonomy_ref, enrichment_version, created_at, skill_id, enrichment_id, \
     mention_spans, taxonomy_links";

const E: &str = "ExtractedSkill";

fn skill_from_row(row: &Row<'_>) -> StoreResult<ExtractedSkill> {
    let job_posting_id: String = get(row, 0)?;
    let name: String = get(row, 1)?;
    let key = format!("{job_posting_id}/{name}");
    let version: String = get(row, 11)?;
    Ok(ExtractedSkill {
        job_posting_id: parse_id(&job_posting_id)?,
        skill_category: parse_name(E, &key, &get::<String>(row, 2)?)?,
        confidence_score: get(row, 3)?,
        source_strategies: from_json(E, &key, &get::<String>(row, 4)?)?,
        section_relevance_score: get(row, 5)?,
        extracted_from_section: get(row, 6)?,
        context_snippet: get(row, 7)?,
        position_in_text: get(row, 8)?,
        mention_count: get(row, 9)?,
        taxonomy_ref: get(row, 10)?,
        enrichment_version: EnrichmentVersion::parse(version)
            .map_err(crate::codec::corrupt(E, &key))?,
        created_at: from_ts(E, get(row, 12)?)?,
        skill_id: parse_uuid(E, &key, &get::<String>(row, 13)?)?,
        enrichment_id: parse_uuid_opt(E, &key, get(row, 14)?)?,
        // NULL: a row stored before migration 6, when mentions were not kept.
        mention_spans: match get::<Option<String>>(row, 15)? {
            Some(json) => from_json(E, &key, &json)?,
            None => Vec::new(),
        },
        // NULL: no ranked links (the version does not link, or a row stored
        // before migration 8).
        taxonomy_links: match get::<Option<String>>(row, 16)? {
            Some(json) => from_json(E, &key, &json)?,
            None => Vec::new(),
        },
        skill_name: name,
    })
}

/// `skill_terms` ids by term, and the compact term of each link list
/// written (migration 13).
#[derive(Default)]
pub(crate) struct TermIds {
    terms: foldhash::HashMap<String, i64>,
    /// Link lists by a fingerprint of their values: a list repeats on every
    /// row of its phrase, and its compact text costs five label lookups and
    /// five printed scores to build.
    links: foldhash::HashMap<u64, Vec<(Vec<TaxonomyLink>, i64)>>,
}

impl TermIds {
    pub(crate) fn extend(&mut self, fresh: TermIds) {
        self.terms.extend(fresh.terms);
        for (key, lists) in fresh.links {
            self.links.entry(key).or_default().extend(lists);
        }
    }

    fn links_term(&self, key: u64, links: &[TaxonomyLink]) -> Option<i64> {
        self.links
            .get(&key)?
            .iter()
            .find(|(l, _)| same_links(l, links))
            .map(|(_, id)| *id)
    }
}

/// Equal to the bit: `-0.0` and `0.0` print differently.
fn same_links(a: &[TaxonomyLink], b: &[TaxonomyLink]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.label == y.label && x.score.to_bits() == y.score.to_bits() && x.exact == y.exact
        })
}

/// A link list's fingerprint, the key of `TermIds::links`: equal lists have
/// equal fingerprints. Score bits, exactness and label lengths, not the
/// labels' bytes (hashing those was ~1 % of a linked run): lists that share
/// a key are told apart by `same_links`.
fn links_key(links: &[TaxonomyLink]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0x5eed).build_hasher();
    for l in links {
        h.write_u64(l.score.to_bits());
        h.write_usize(l.label.len() << 1 | usize::from(l.exact));
    }
    h.finish()
}

/// One skill row's INSERT, as a literal for `concat!` (the upsert extends it).
macro_rules! insert_row_sql {
    () => {
        "INSERT INTO job_skills_data (job_posting_id, version_term, name_term,
             category_term, confidence_score, strategies_term, section_relevance_score,
             section_term, context_snippet, snippet_start, snippet_end, position_in_text,
             mention_count, taxonomy_ref_term, created_at, skill_id, enrichment_id,
             mention_spans, taxonomy_links, taxonomy_link_terms, links_term, stamped)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18, NULL, NULL, ?19, ?20)"
    };
}

/// Per-transaction state of skill writes: the term ids read or made in this
/// transaction (kept apart from the store's committed ones: a rolled-back id
/// can be handed out again) and the snippet radius that last matched.
pub(crate) struct SkillWriter<'a> {
    committed: &'a TermIds,
    // Six lookups per row written: a fast hasher (keys are our own strings).
    terms: TermIds,
    /// Strategy lists by value: their term is JSON text, made once per list.
    strategies: foldhash::HashMap<Vec<ExtractionStrategy>, i64>,
    /// The `skill_stamps` values of the (posting, version term) written
    /// last in this transaction: a posting's rows come together.
    stamp: Option<(JobId, i64, Stamp)>,
    /// The (posting, version term) whose rows and stamp this transaction
    /// deleted last: its stamp is made by a plain insert. The upsert with
    /// `RETURNING` that finds an existing one cost ~27,000 instructions.
    cleared: Option<(JobId, i64)>,
    /// The (posting, version term) last cleared and the name terms written
    /// to it since: a name not among them is new to the table, and its row
    /// is a plain insert. The upsert's larger program cost ~600
    /// instructions a row (cachegrind, rules `run`).
    fresh: Option<(JobId, i64)>,
    /// Kept across postings: cleared, not reallocated.
    fresh_names: foldhash::HashSet<i64>,
    radius: u32,
}

/// One (posting, version)'s shared `enrichment_id` and `created_at`
/// (migration 13), as stored: a stamp made from rows written through the
/// view may hold an id as text.
struct Stamp {
    enrichment_id: rusqlite::types::Value,
    created_at: i64,
}

impl Stamp {
    /// Whether `skill`'s own values are these (an id only as its BLOB).
    fn is_of(&self, skill: &ExtractedSkill) -> bool {
        use rusqlite::types::Value;
        self.created_at == ts(skill.created_at)
            && match (&self.enrichment_id, &skill.enrichment_id) {
                (Value::Null, None) => true,
                (Value::Blob(stored), Some(id)) => stored.as_slice() == id.as_bytes().as_slice(),
                _ => false,
            }
    }
}

impl<'a> SkillWriter<'a> {
    /// A writer for one transaction that trusts `committed` ids.
    pub(crate) fn new(committed: &'a TermIds) -> Self {
        SkillWriter {
            committed,
            terms: TermIds::default(),
            strategies: foldhash::HashMap::default(),
            stamp: None,
            cleared: None,
            fresh: None,
            fresh_names: foldhash::HashSet::default(),
            // The engine's default snippet radius; others are found per row.
            radius: 60,
        }
    }

    /// The ids this transaction read or made: the caller adds them to the
    /// committed ones once the transaction has committed.
    pub(crate) fn into_terms(self) -> TermIds {
        self.terms
    }

    fn cached(&self, term: &str) -> Option<i64> {
        self.committed
            .terms
            .get(term)
            .or_else(|| self.terms.terms.get(term))
            .copied()
    }

    /// The id of `term` if the store has it.
    pub(crate) fn existing(&mut self, conn: &Connection, term: &str) -> StoreResult<Option<i64>> {
        if let Some(id) = self.cached(term) {
            return Ok(Some(id));
        }
        let found = existing_term(conn, term)?;
        if let Some(id) = found {
            self.terms.terms.insert(term.to_string(), id);
        }
        Ok(found)
    }

    /// The id of `term`, made if new.
    pub(crate) fn term(&mut self, conn: &Connection, term: &str) -> StoreResult<i64> {
        if let Some(id) = self.cached(term) {
            return Ok(id);
        }
        let id = match existing_term(conn, term)? {
            Some(id) => id,
            None => conn
                .prepare_cached("INSERT INTO skill_terms (term) VALUES (?1) RETURNING term_id")
                .map_err(map_sqlite)?
                .query_row(params![term], |r| r.get(0))
                .map_err(map_sqlite)?,
        };
        self.terms.terms.insert(term.to_string(), id);
        Ok(id)
    }

    /// `[[term_id, score], …]` with `, 1` after an exact link's score: the
    /// form the `job_skills` view rebuilds the seed's JSON from (migration
    /// 12). Scores are written as serde_json writes them, so the rebuilt JSON
    /// reads back to the same values.
    fn compact_links(&mut self, conn: &Connection, links: &[TaxonomyLink]) -> StoreResult<String> {
        let mut out = String::with_capacity(2 + links.len() * 20);
        out.push('[');
        for (i, link) in links.iter().enumerate() {
            if !link.score.is_finite() {
                // Validation refuses it first; JSON has no NaN.
                return Err(ValidationError::new(
                    "ExtractedSkill",
                    "taxonomy_links",
                    format!("the score of {:?} is not a number", link.label),
                )
                .into());
            }
            let id = self.term(conn, &link.label)?;
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            out.push_str(&id.to_string());
            out.push(',');
            out.push_str(&to_json(&link.score)?);
            if link.exact {
                out.push_str(",1");
            }
            out.push(']');
        }
        out.push(']');
        Ok(out)
    }

    /// The term of `links`' compact text, made if new.
    fn links_term(&mut self, conn: &Connection, links: &[TaxonomyLink]) -> StoreResult<i64> {
        let key = links_key(links);
        if let Some(id) = self
            .committed
            .links_term(key, links)
            .or_else(|| self.terms.links_term(key, links))
        {
            return Ok(id);
        }
        let compact = self.compact_links(conn, links)?;
        let id = self.term(conn, &compact)?;
        self.terms
            .links
            .entry(key)
            .or_default()
            .push((links.to_vec(), id));
        Ok(id)
    }

    fn opt_term(&mut self, conn: &Connection, term: Option<&str>) -> StoreResult<Option<i64>> {
        term.map(|t| self.term(conn, t)).transpose()
    }

    /// Whether `skill`'s `enrichment_id` and `created_at` are its (posting,
    /// version)'s stamp: the stored one, or one made from this skill's values
    /// when there is none.
    fn stamped(
        &mut self,
        conn: &Connection,
        skill: &ExtractedSkill,
        version: i64,
    ) -> StoreResult<bool> {
        if let Some((job, v, stamp)) = &self.stamp {
            if *v == version && *job == skill.job_posting_id {
                return Ok(stamp.is_of(skill));
            }
        }
        // Used once: a later row of that (posting, version) finds the stamp.
        let cleared = self
            .cleared
            .take_if(|(job, v)| *v == version && *job == skill.job_posting_id);
        if cleared.is_some() {
            let enrichment_id = skill
                .enrichment_id
                .as_ref()
                .map(|id| id.as_bytes().to_vec());
            conn.prepare_cached(
                "INSERT INTO skill_stamps (job_posting_id, version_term, enrichment_id, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(map_sqlite)?
            .execute(params![
                skill.job_posting_id.as_str(),
                version,
                enrichment_id.as_deref(),
                ts(skill.created_at)
            ])
            .map_err(map_sqlite)?;
            let stamp = Stamp {
                enrichment_id: enrichment_id
                    .map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Blob),
                created_at: ts(skill.created_at),
            };
            self.stamp = Some((skill.job_posting_id.clone(), version, stamp));
            self.fresh = Some((skill.job_posting_id.clone(), version));
            self.fresh_names.clear();
            return Ok(true);
        }
        // The no-op update makes RETURNING give an existing stamp's values.
        let stamp = conn
            .prepare_cached(
                "INSERT INTO skill_stamps (job_posting_id, version_term, enrichment_id, created_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (job_posting_id, version_term) DO UPDATE SET created_at = created_at
                 RETURNING enrichment_id, created_at",
            )
            .map_err(map_sqlite)?
            .query_row(
                params![
                    skill.job_posting_id.as_str(),
                    version,
                    skill
                        .enrichment_id
                        .as_ref()
                        .map(|id| id.as_bytes().as_slice()),
                    ts(skill.created_at)
                ],
                |r| {
                    Ok(Stamp {
                        enrichment_id: r.get(0)?,
                        created_at: r.get(1)?,
                    })
                },
            )
            .map_err(map_sqlite)?;
        let is_of = stamp.is_of(skill);
        self.stamp = Some((skill.job_posting_id.clone(), version, stamp));
        Ok(is_of)
    }

    /// Deletes the skills of one job at one version (replace semantics).
    pub(crate) fn delete_job_version(
        &mut self,
        conn: &Connection,
        job: &JobId,
        version: &EnrichmentVersion,
    ) -> StoreResult<()> {
        let Some(version) = self.existing(conn, version.as_str())? else {
            return Ok(());
        };
        for sql in [
            "DELETE FROM job_skills_data WHERE job_posting_id = ?1 AND version_term = ?2",
            "DELETE FROM skill_stamps WHERE job_posting_id = ?1 AND version_term = ?2",
        ] {
            conn.prepare_cached(sql)
                .map_err(map_sqlite)?
                .execute(params![job.as_str(), version])
                .map_err(map_sqlite)?;
        }
        if self
            .stamp
            .as_ref()
            .is_some_and(|(j, v, _)| *v == version && j == job)
        {
            self.stamp = None;
        }
        self.cleared = Some((job.clone(), version));
        Ok(())
    }

    /// Upserts skills inside the caller's transaction with cached statements.
    pub(crate) fn upsert(
        &mut self,
        conn: &Connection,
        skills: &[ExtractedSkill],
        planned: Option<&OutcomePlan>,
        descriptions: &mut Descriptions,
    ) -> StoreResult<u64> {
        let mut insert = conn.prepare_cached(insert_row_sql!()).map_err(map_sqlite)?;
        let mut upsert = conn
            .prepare_cached(concat!(
                insert_row_sql!(),
                " ON CONFLICT (job_posting_id, version_term, name_term) DO UPDATE SET
                     category_term = excluded.category_term,
                     confidence_score = excluded.confidence_score,
                     strategies_term = excluded.strategies_term,
                     section_relevance_score = excluded.section_relevance_score,
                     section_term = excluded.section_term,
                     context_snippet = excluded.context_snippet,
                     snippet_start = excluded.snippet_start,
                     snippet_end = excluded.snippet_end,
                     position_in_text = excluded.position_in_text,
                     mention_count = excluded.mention_count,
                     taxonomy_ref_term = excluded.taxonomy_ref_term,
                     created_at = excluded.created_at,
                     skill_id = excluded.skill_id,
                     enrichment_id = excluded.enrichment_id,
                     mention_spans = excluded.mention_spans,
                     taxonomy_links = excluded.taxonomy_links,
                     taxonomy_link_terms = excluded.taxonomy_link_terms,
                     links_term = excluded.links_term,
                     stamped = excluded.stamped"
            ))
            .map_err(map_sqlite)?;
        // A completion's rows share one version: one lookup, not one per row.
        let mut last_version: Option<(&str, i64)> = None;
        for (i, s) in skills.iter().enumerate() {
            let version = match last_version {
                Some((text, id)) if text == s.enrichment_version.as_str() => id,
                _ => {
                    let id = self.term(conn, s.enrichment_version.as_str())?;
                    last_version = Some((s.enrichment_version.as_str(), id));
                    id
                }
            };
            let name = self.term(conn, &s.skill_name)?;
            let category = self.term(conn, s.skill_category.as_str())?;
            let strategies = match self.strategies.get(s.source_strategies.as_slice()) {
                Some(id) => *id,
                None => {
                    let id = self.term(conn, &to_json(&s.source_strategies)?)?;
                    self.strategies.insert(s.source_strategies.clone(), id);
                    id
                }
            };
            let section = self.opt_term(conn, s.extracted_from_section.as_deref())?;
            let taxonomy_ref = self.opt_term(conn, s.taxonomy_ref.as_deref())?;
            let stamped = self.stamped(conn, s, version)?;
            let new_name = self
                .fresh
                .as_ref()
                .is_some_and(|(job, v)| *v == version && *job == s.job_posting_id)
                && self.fresh_names.insert(name);
            let stmt = if new_name { &mut insert } else { &mut upsert };
            // No bytes for the common case of a version that does not link.
            let links = if s.taxonomy_links.is_empty() {
                None
            } else {
                Some(self.links_term(conn, &s.taxonomy_links)?)
            };
            // Offsets instead of text where the view rebuilds the snippet exactly.
            let window = match (plan::skill_window(planned, i, s), &s.context_snippet) {
                (Some(decided), _) => decided,
                (None, Some(snippet)) => descriptions
                    .get(conn, &s.job_posting_id)?
                    .and_then(|d| snippet_window(d, &s.mention_spans, snippet, &mut self.radius)),
                (None, None) => None,
            };
            stmt.execute(params![
                s.job_posting_id.as_str(),
                version,
                name,
                category,
                s.confidence_score,
                strategies,
                s.section_relevance_score,
                section,
                if window.is_some() {
                    None
                } else {
                    s.context_snippet.as_deref()
                },
                window.map(|w| w.0),
                window.map(|w| w.1),
                s.position_in_text,
                s.mention_count,
                taxonomy_ref,
                // A stamped row's own values would repeat its stamp's.
                if stamped { 0 } else { ts(s.created_at) },
                s.skill_id.as_bytes().as_slice(),
                if stamped {
                    None
                } else {
                    s.enrichment_id.as_ref().map(|id| id.as_bytes().as_slice())
                },
                to_json(&s.mention_spans)?,
                links,
                stamped.then_some(1),
            ])
            .map_err(map_sqlite)?;
        }
        Ok(skills.len() as u64)
    }
}

/// Runs `f`, which commits one transaction of skill writes, with a writer
/// that trusts the store's committed term ids; the ids that transaction read
/// or made join them only when `f` succeeds (so after its commit).
pub(crate) fn with_skill_writer<T>(
    committed: &Mutex<TermIds>,
    f: impl FnOnce(&mut SkillWriter<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut committed = committed.lock().unwrap_or_else(PoisonError::into_inner);
    let mut writer = SkillWriter::new(&committed);
    let out = f(&mut writer)?;
    let fresh = writer.into_terms();
    committed.extend(fresh);
    Ok(out)
}

fn existing_term(conn: &Connection, term: &str) -> StoreResult<Option<i64>> {
    conn.prepare_cached("SELECT term_id FROM skill_terms WHERE term = ?1")
        .map_err(map_sqlite)?
        .query_row(params![term], |r| r.get(0))
        .optional()
        .map_err(map_sqlite)
}

#[async_trait]
impl SkillRepository for SqliteStore {
    async fn upsert_skills(&self, skills: &[ExtractedSkill]) -> StoreResult<u64> {
        for s in skills {
            s.validate()?;
        }
        let skills = skills.to_vec();
        self.with_term_write_tx(move |tx, writer| {
            writer.upsert(tx, &skills, None, &mut Descriptions::default())
        })
        .await
    }

    async fn skills_for_job(
        &self,
        job_posting_id: &JobId,
        version: Option<EnrichmentVersion>,
    ) -> StoreResult<Vec<ExtractedSkill>> {
        let job_posting_id = job_posting_id.as_str().to_string();
        let version = version.map(String::from);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM job_skills
                     WHERE job_posting_id = ?1 AND (?2 IS NULL OR enrichment_version = ?2)
                     ORDER BY confidence_score DESC, skill_name, enrichment_version"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt
                .query(params![job_posting_id, version])
                .map_err(map_sqlite)?;
            collect_rows(rows, skill_from_row)
        })
        .await
    }

    async fn skills_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<ExtractedSkill>> {
        let ids = json_list(job_ids.iter().map(JobId::as_str))?;
        let version = version.as_str().to_string();
        self.with_conn(move |conn| {
            // The unary `+` keeps the planner on the (job_posting_id, …) key even if a
            // version index is added later (it would scan a whole version per call).
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM job_skills
                     WHERE job_posting_id IN (SELECT value FROM json_each(?1))
                       AND +enrichment_version = ?2
                     ORDER BY job_posting_id, skill_name"
                ))
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![ids, version]).map_err(map_sqlite)?;
            collect_rows(rows, skill_from_row)
        })
        .await
    }

    async fn skill_weights_for_jobs(
        &self,
        job_ids: &[JobId],
        version: &EnrichmentVersion,
    ) -> StoreResult<Vec<SkillWeight>> {
        let ids = json_list(job_ids.iter().map(JobId::as_str))?;
        let version = version.as_str().to_string();
        self.with_conn(move |conn| {
            // The data table itself, names from the terms: no view joins and
            // no UUID text per row (clustering reads every skill of a version).
            let names: HashMap<i64, Arc<str>> = conn
                .prepare_cached("SELECT term_id, term FROM skill_terms")
                .map_err(map_sqlite)?
                .query_map([], |r| Ok((r.get(0)?, Arc::from(r.get::<_, String>(1)?))))
                .map_err(map_sqlite)?
                .collect::<Result<_, _>>()
                .map_err(map_sqlite)?;
            // A stamped row's enrichment id is its (posting, version)'s stamp
            // (migration 13): read once per posting, not joined per row.
            let mut stamps: HashMap<String, Option<Uuid>> = HashMap::new();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT s.job_posting_id, s.enrichment_id FROM skill_stamps s
                     WHERE s.job_posting_id IN (SELECT value FROM json_each(?1))
                       AND s.version_term = (SELECT term_id FROM skill_terms WHERE term = ?2)",
                )
                .map_err(map_sqlite)?;
            let mut rows = stmt.query(params![ids, version]).map_err(map_sqlite)?;
            while let Some(row) = rows.next().map_err(map_sqlite)? {
                let job: String = get(row, 0)?;
                let id =
                    crate::codec::uuid_from_value(E, &job, row.get_ref(1).map_err(map_sqlite)?)?;
                stamps.insert(job, id);
            }
            let mut stmt = conn
                .prepare_cached(
                    "SELECT k.job_posting_id, k.name_term, k.confidence_score, k.enrichment_id,
                         k.stamped
                     FROM job_skills_data k
                     WHERE k.job_posting_id IN (SELECT value FROM json_each(?1))
                       AND k.version_term = (SELECT term_id FROM skill_terms WHERE term = ?2)",
                )
                .map_err(map_sqlite)?;
            let rows = stmt.query(params![ids, version]).map_err(map_sqlite)?;
            // A job's rows come together: its id is parsed once, not per row.
            let mut job: Option<JobId> = None;
            let mut out = collect_rows(rows, |row| {
                let text = row.get_ref(0).map_err(map_sqlite)?;
                let job_posting_id = match (&job, text.as_str()) {
                    (Some(last), Ok(t)) if last.as_str() == t => last.clone(),
                    _ => {
                        let id = parse_id(&get::<String>(row, 0)?)?;
                        job = Some(id.clone());
                        id
                    }
                };
                let term: i64 = get(row, 1)?;
                let name = names.get(&term).cloned().ok_or_else(|| {
                    crate::codec::corrupt(E, job_posting_id.as_str())(format!(
                        "no skill term {term}"
                    ))
                })?;
                let enrichment_id = if get::<Option<i64>>(row, 4)?.is_some_and(|s| s != 0) {
                    *stamps.get(job_posting_id.as_str()).ok_or_else(|| {
                        crate::codec::corrupt(E, job_posting_id.as_str())(
                            "a stamped skill row has no stamp".to_string(),
                        )
                    })?
                } else {
                    crate::codec::uuid_from_value(
                        E,
                        job_posting_id.as_str(),
                        row.get_ref(3).map_err(map_sqlite)?,
                    )?
                };
                Ok(SkillWeight {
                    job_posting_id,
                    enrichment_id,
                    skill_name: name,
                    confidence_score: get(row, 2)?,
                })
            })?;
            sort_by_job_then_name(&mut out);
            Ok(out)
        })
        .await
    }

    async fn top_skills(
        &self,
        version: &EnrichmentVersion,
        limit_rows: usize,
    ) -> StoreResult<Vec<SkillFrequency>> {
        let version = version.as_str().to_string();
        self.with_conn(move |conn| {
            // A job has one row per skill name and version (the key), so a
            // row counts a job. Grouped here in a hash map: SQLite groups by
            // sorting, and sorting 2.9 M rows took 1.5 s of the 2 s that
            // `run`'s summary spent on 100,000 postings (the scan: 0.4 s).
            let mut stmt = conn
                .prepare_cached(
                    "SELECT name_term, category_term, confidence_score FROM job_skills_data
                     WHERE version_term = (SELECT term_id FROM skill_terms WHERE term = ?1)",
                )
                .map_err(map_sqlite)?;
            let mut groups: foldhash::HashMap<(i64, i64), (u64, f64)> =
                foldhash::HashMap::default();
            let mut rows = stmt.query(params![version]).map_err(map_sqlite)?;
            while let Some(row) = rows.next().map_err(map_sqlite)? {
                let key = (get::<i64>(row, 0)?, get::<i64>(row, 1)?);
                let group = groups.entry(key).or_insert((0, 0.0));
                group.0 += 1;
                group.1 += get::<f64>(row, 2)?;
            }
            let mut names: HashMap<i64, String> = HashMap::new();
            let mut terms = conn
                .prepare_cached("SELECT term_id, term FROM skill_terms")
                .map_err(map_sqlite)?;
            let mut rows = terms.query([]).map_err(map_sqlite)?;
            while let Some(row) = rows.next().map_err(map_sqlite)? {
                names.insert(get(row, 0)?, get(row, 1)?);
            }
            let term = |id: i64| {
                names.get(&id).cloned().ok_or_else(|| StoreError::Corrupt {
                    entity: E,
                    key: format!("skill_terms/{id}"),
                    reason: "a skill row refers to a term that does not exist".into(),
                })
            };
            let mut top = Vec::with_capacity(groups.len());
            for ((name, category), (jobs, confidence)) in groups {
                let name = term(name)?;
                top.push(SkillFrequency {
                    skill_category: parse_name(E, &name, &term(category)?)?,
                    job_count: jobs,
                    mean_confidence: confidence / jobs as f64,
                    skill_name: name,
                });
            }
            top.sort_by(|a, b| {
                b.job_count
                    .cmp(&a.job_count)
                    .then_with(|| a.skill_name.cmp(&b.skill_name))
                    .then_with(|| a.skill_category.as_str().cmp(b.skill_category.as_str()))
            });
            top.truncate(limit_rows);
            Ok(top)
        })
        .await
    }

    async fn skill_versions(&self) -> StoreResult<Vec<(EnrichmentVersion, u64)>> {
        self.with_conn(|conn| crate::codec::version_counts(conn, "job_skills", E))
            .await
    }

    async fn delete_skills_at_versions(&self, versions: &[EnrichmentVersion]) -> StoreResult<u64> {
        let versions = json_list(versions.iter().map(EnrichmentVersion::as_str))?;
        self.delete_version_rows(
            &[VersionedTable::Skills, VersionedTable::SkillStamps],
            versions,
            PRUNE_POSTINGS_PER_TX,
        )
        .await
    }
}

/// By job, then skill name. Rows usually arrive grouped by job in job order
/// (the key's order), so only each job's few rows are sorted by name; a
/// full sort of millions of string pairs was a tenth of `cluster run`.
fn sort_by_job_then_name(rows: &mut [SkillWeight]) {
    if !rows.is_sorted_by(|a, b| a.job_posting_id <= b.job_posting_id) {
        rows.sort_by(|a, b| a.job_posting_id.cmp(&b.job_posting_id));
    }
    for group in rows.chunk_by_mut(|a, b| a.job_posting_id == b.job_posting_id) {
        group.sort_by(|a, b| a.skill_name.cmp(&b.skill_name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight(job: &str, name: &str) -> SkillWeight {
        SkillWeight {
            job_posting_id: JobId::parse(job).unwrap(),
            enrichment_id: None,
            skill_name: name.into(),
            confidence_score: 1.0,
        }
    }

    fn order(rows: &[SkillWeight]) -> Vec<(String, String)> {
        rows.iter()
            .map(|w| (w.job_posting_id.to_string(), w.skill_name.to_string()))
            .collect()
    }

    #[test]
    fn rows_are_ordered_by_job_then_name_from_any_arrival_order() {
        let expected = vec![
            ("a".to_string(), "Java".to_string()),
            ("a".to_string(), "SQL".to_string()),
            ("b".to_string(), "Go".to_string()),
            ("c".to_string(), "C".to_string()),
            ("c".to_string(), "Rust".to_string()),
        ];
        // Grouped by job (the key's order), names not sorted.
        let mut grouped = vec![
            weight("a", "SQL"),
            weight("a", "Java"),
            weight("b", "Go"),
            weight("c", "Rust"),
            weight("c", "C"),
        ];
        sort_by_job_then_name(&mut grouped);
        assert_eq!(order(&grouped), expected);
        // Jobs out of order and interleaved.
        let mut scattered = vec![
            weight("c", "Rust"),
            weight("a", "SQL"),
            weight("b", "Go"),
            weight("c", "C"),
            weight("a", "Java"),
        ];
        sort_by_job_then_name(&mut scattered);
        assert_eq!(order(&scattered), expected);
    }

    #[tokio::test]
    async fn link_lists_alike_but_for_their_labels_keep_their_own_labels() {
        use jobenrich_domain::{MentionSpan, SkillCategory};
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store_with_posting(&dir.path().join("l.db"), "Rust, Go and C").await;
        let job = JobId::parse("p1").unwrap();
        let version = EnrichmentVersion::parse("s@v1").unwrap();
        // Same scores, exactness and label lengths: one fingerprint.
        let skill = |name: &str, label: &str| ExtractedSkill {
            skill_id: Uuid::new_v4(),
            job_posting_id: job.clone(),
            enrichment_id: None,
            skill_name: name.into(),
            skill_category: SkillCategory::ProgrammingLanguages,
            confidence_score: 0.75,
            source_strategies: vec![ExtractionStrategy::Semantic],
            section_relevance_score: None,
            extracted_from_section: None,
            context_snippet: None,
            position_in_text: None,
            mention_count: 1,
            mention_spans: vec![MentionSpan::from((0, 1))],
            taxonomy_ref: None,
            taxonomy_links: vec![TaxonomyLink {
                label: label.into(),
                score: 0.5,
                exact: false,
            }],
            enrichment_version: version.clone(),
            created_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap(),
        };
        // The first list is committed before the others are looked up.
        store.upsert_skills(&[skill("Rust", "abc")]).await.unwrap();
        store
            .upsert_skills(&[skill("Go", "xyz"), skill("C", "abc"), skill("Java", "xyz")])
            .await
            .unwrap();
        let read = store.skills_for_job(&job, Some(version)).await.unwrap();
        let labels: Vec<(String, String)> = read
            .iter()
            .map(|s| (s.skill_name.clone(), s.taxonomy_links[0].label.to_string()))
            .collect();
        let expected = [
            ("C", "abc"),
            ("Go", "xyz"),
            ("Java", "xyz"),
            ("Rust", "abc"),
        ];
        assert_eq!(
            labels,
            expected.map(|(n, l)| (n.to_string(), l.to_string()))
        );
    }

    #[tokio::test]
    async fn rows_written_after_a_delete_keep_their_stamp_or_their_own_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = crate::store_with_posting(&path, "Rust, Go and C").await;
        let job = JobId::parse("p1").unwrap();
        let (a, b) = (
            EnrichmentVersion::parse("s@v1").unwrap(),
            EnrichmentVersion::parse("s@v2").unwrap(),
        );
        let at = |micros: i64| chrono::DateTime::from_timestamp_micros(micros).unwrap();
        let skill = |name: &str, version: &EnrichmentVersion, micros: i64, id: Option<Uuid>| {
            ExtractedSkill {
                enrichment_id: id,
                enrichment_version: version.clone(),
                created_at: at(micros),
                ..jobenrich_storage_contract::fixtures::skill_minimal("p1", name)
            }
        };
        let (e1, e2) = (Some(Uuid::new_v4()), Some(Uuid::new_v4()));
        // An earlier stamp of version a, which the delete below removes.
        store
            .upsert_skills(&[skill("Java", &a, 1, e2)])
            .await
            .unwrap();
        // C shares the stamp Rust made; after one of b's rows, Zig finds
        // that stamp in the table and keeps values of its own.
        let written = vec![
            skill("Rust", &a, 10, e1),
            skill("C", &a, 10, e1),
            skill("Go", &b, 20, e2),
            skill("Zig", &a, 30, None),
        ];
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        let committed = Mutex::new(TermIds::default());
        with_skill_writer(&committed, |writer| {
            crate::in_write_tx(&mut conn, |tx| {
                writer.delete_job_version(tx, &job, &a)?;
                writer.upsert(tx, &written, None, &mut Descriptions::default())
            })
        })
        .unwrap();
        let mut read = store.skills_for_job(&job, None).await.unwrap();
        read.sort_by(|x, y| x.skill_name.cmp(&y.skill_name));
        let mut want = written.clone();
        want.sort_by(|x, y| x.skill_name.cmp(&y.skill_name));
        assert_eq!(
            read, want,
            "Java went with the delete; the rest read back whole"
        );
        let stamps: Vec<String> = conn
            .prepare(
                "SELECT version_term || '/' || created_at || '/' || length(enrichment_id)
                 FROM skill_stamps ORDER BY version_term",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            stamps.len(),
            2,
            "one stamp per (posting, version): {stamps:?}"
        );
        assert!(stamps.iter().any(|s| s.ends_with("/10/16")), "{stamps:?}");
        // Rust, C and Go share their stamp's values; Zig keeps its own.
        let stamped: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM job_skills_data WHERE stamped = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stamped, 3);
    }

    #[tokio::test]
    async fn a_name_repeated_after_a_delete_keeps_its_last_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = crate::store_with_posting(&path, "Rust and Go").await;
        let job = JobId::parse("p1").unwrap();
        let version = EnrichmentVersion::parse("s@v1").unwrap();
        let skill = |name: &str, confidence: f64| ExtractedSkill {
            confidence_score: confidence,
            enrichment_version: version.clone(),
            ..jobenrich_storage_contract::fixtures::skill_minimal("p1", name)
        };
        store.upsert_skills(&[skill("Go", 0.25)]).await.unwrap();
        // Rust is new after the delete, then comes again; Go was deleted
        // and is new again.
        let written = [skill("Rust", 0.5), skill("Go", 0.5), skill("Rust", 0.75)];
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        let committed = Mutex::new(TermIds::default());
        with_skill_writer(&committed, |writer| {
            crate::in_write_tx(&mut conn, |tx| {
                writer.delete_job_version(tx, &job, &version)?;
                writer.upsert(tx, &written, None, &mut Descriptions::default())
            })
        })
        .unwrap();
        let mut read: Vec<(String, f64)> = store
            .skills_for_job(&job, None)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.skill_name, s.confidence_score))
            .collect();
        read.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(read, [("Go".into(), 0.5), ("Rust".into(), 0.75)]);
    }
}
