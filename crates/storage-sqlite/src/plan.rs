//! Completion plans (`EnrichmentRepository::plan_completion`): which result
//! text is stored as offsets into the description (`slices`), worked out on
//! a reader connection before the write. The one writer then neither reads
//! descriptions nor compares snippets, which was ~15 % of its time in a
//! profile of a rules-only `run` (the writer bounds that run's throughput).
//!
//! Each decision keeps a fingerprint of the row it was made for; the writer
//! takes a decision only when the row it writes has the same fingerprint and
//! works the row out itself otherwise, so a plan can make a write faster but
//! never different. Descriptions never change once stored (postings are
//! insert-only), so a decision made before the write transaction holds in it.

use crate::error::map_sqlite;
use crate::slices::{snippet_window, Descriptions};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{
    EnrichmentOutcome, EnrichmentResult, ExtractedSkill, SectionClassification,
};
use rusqlite::Connection;
use std::hash::{BuildHasher, Hash, Hasher};

/// A decision and the fingerprint of the row it was made for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Decided<T> {
    fingerprint: u64,
    value: T,
}

/// Characters `[start, end)` of the description.
type Window = Option<(u32, u32)>;

/// One outcome's decisions, by the index of the skill or section in it.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct OutcomePlan {
    /// The snippet's window (None: store the text).
    pub(crate) skills: Vec<Decided<Window>>,
    /// Whether the section's text is its slice of the description.
    pub(crate) sections: Vec<Decided<bool>>,
}

/// The plan of a batch: one entry per outcome, in the batch's order.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Plan {
    pub(crate) outcomes: Vec<OutcomePlan>,
}

fn hasher() -> impl Hasher {
    foldhash::fast::FixedState::with_seed(0x91a2).build_hasher()
}

fn skill_fingerprint(s: &ExtractedSkill) -> u64 {
    let mut h = hasher();
    s.job_posting_id.as_str().hash(&mut h);
    s.context_snippet.hash(&mut h);
    s.mention_spans
        .first()
        .map(|m| (m.start, m.end))
        .hash(&mut h);
    h.finish()
}

fn section_fingerprint(s: &SectionClassification) -> u64 {
    let mut h = hasher();
    s.job_posting_id.as_str().hash(&mut h);
    (s.start_offset, s.end_offset).hash(&mut h);
    s.section_text.hash(&mut h);
    h.finish()
}

/// The planned window of `skill` (index `i` of its outcome), when the plan
/// has one made for this very row.
pub(crate) fn skill_window(
    plan: Option<&OutcomePlan>,
    i: usize,
    skill: &ExtractedSkill,
) -> Option<Window> {
    let decided = plan?.skills.get(i)?;
    (decided.fingerprint == skill_fingerprint(skill)).then_some(decided.value)
}

/// Whether the planned decision for `section` (index `i`) is "its slice".
pub(crate) fn section_is_slice(
    plan: Option<&OutcomePlan>,
    i: usize,
    section: &SectionClassification,
) -> Option<bool> {
    let decided = plan?.sections.get(i)?;
    (decided.fingerprint == section_fingerprint(section)).then_some(decided.value)
}

/// Works out every decision of a batch the writer would make against the
/// descriptions, reading each description once.
pub(crate) fn plan(conn: &Connection, outcomes: &[EnrichmentOutcome]) -> StoreResult<Plan> {
    let mut descriptions = Descriptions::default();
    // The engine's default snippet radius; others are found per row.
    let mut radius = 60;
    let mut plan = Plan::default();
    for outcome in outcomes {
        let mut planned = OutcomePlan::default();
        if let EnrichmentResult::Success(success) = &outcome.result {
            for s in &success.skills {
                let window = match &s.context_snippet {
                    Some(snippet) => descriptions
                        .get(conn, &s.job_posting_id)?
                        .and_then(|d| snippet_window(d, &s.mention_spans, snippet, &mut radius)),
                    None => None,
                };
                planned.skills.push(Decided {
                    fingerprint: skill_fingerprint(s),
                    value: window,
                });
            }
            for s in &success.sections {
                let slice = descriptions
                    .get(conn, &s.job_posting_id)?
                    .and_then(|d| d.slice(s.start_offset, s.end_offset));
                planned.sections.push(Decided {
                    fingerprint: section_fingerprint(s),
                    value: slice == Some(s.section_text.as_str()),
                });
            }
        }
        plan.outcomes.push(planned);
    }
    Ok(plan)
}

/// `plan` in a read transaction of its own (one snapshot for the batch).
pub(crate) fn plan_in_read_tx(
    conn: &mut Connection,
    outcomes: &[EnrichmentOutcome],
) -> StoreResult<Plan> {
    let tx = conn.transaction().map_err(map_sqlite)?;
    let plan = plan(&tx, outcomes)?;
    tx.commit().map_err(map_sqlite)?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use jobenrich_domain::{
        ClaimRequest, EnrichmentRepository, EnrichmentSuccess, EnrichmentType,
        JobPostingRepository, SchemaMigrator, SkillRepository,
    };
    use jobenrich_storage_contract::fixtures::{
        at, job_posting_id, model_id, model_version, planned_posting, planned_results, version,
    };

    /// A store with `job` claimed by "w", and that job's planned results.
    async fn claimed(dir: &std::path::Path, job: &str) -> (SqliteStore, EnrichmentOutcome) {
        let store = SqliteStore::open(dir.join("plan.db")).unwrap();
        store.migrate().await.unwrap();
        store
            .insert_postings(&[planned_posting(job)])
            .await
            .unwrap();
        let id = job_posting_id(job);
        let kind = EnrichmentType::SkillsExtraction;
        store
            .enqueue_enrichments(&[id], kind, &version(), at(0))
            .await
            .unwrap();
        let rows = store
            .claim_enrichments(&ClaimRequest {
                owner: "w".into(),
                now: at(1),
                lease: chrono::Duration::minutes(5),
                limit: 10,
                max_attempts: 3,
                enrichment_type: kind,
                enrichment_version: Some(version()),
            })
            .await
            .unwrap();
        let (skills, sections) = planned_results(job);
        let outcome = EnrichmentOutcome {
            key: rows[0].key(),
            lease_owner: "w".into(),
            result: EnrichmentResult::Success(EnrichmentSuccess {
                metadata: Default::default(),
                model_id: model_id("skills_extractor"),
                model_version: model_version("v1.0"),
                skills,
                sections,
                embedding: None,
            }),
        };
        (store, outcome)
    }

    fn decided<T: Copy>(d: &[Decided<T>]) -> Vec<T> {
        d.iter().map(|d| d.value).collect()
    }

    #[tokio::test]
    async fn a_plan_keeps_as_offsets_exactly_the_windows_and_slices_of_the_description() {
        let dir = tempfile::tempdir().unwrap();
        let (store, outcome) = claimed(dir.path(), "job-p").await;
        let outcomes = vec![outcome];
        let (_, plan) = store
            .with_conn_over(outcomes, |conn, o| plan_in_read_tx(conn, o))
            .await;
        let plan = plan.expect("a plan");
        let [one] = plan.outcomes.as_slice() else {
            panic!("one plan per outcome: {plan:?}")
        };
        // Rust's snippet is chars [25, 45); SQL's window has a newline the
        // view would even out, Kubernetes' is not the text, café has none.
        assert_eq!(decided(&one.skills), vec![Some((25, 45)), None, None, None]);
        assert_eq!(decided(&one.sections), vec![true, false]);
    }

    #[tokio::test]
    async fn the_writer_takes_a_fitting_plans_decisions_instead_of_working_them_out() {
        let dir = tempfile::tempdir().unwrap();
        let (store, outcome) = claimed(dir.path(), "job-p").await;
        let outcomes = vec![outcome];
        let (outcomes, plan) = store
            .with_conn_over(outcomes, |conn, o| plan_in_read_tx(conn, o))
            .await;
        let mut plan = plan.expect("a plan");
        // A decision no writer would make (Kubernetes' snippet is not that
        // window), under the row's own fingerprint: only a writer that takes
        // the plan stores it.
        plan.outcomes[0].skills[2].value = Some((25, 45));
        store.complete(outcomes, plan, at(2)).await.unwrap();
        let skills = store
            .skills_for_job(&job_posting_id("job-p"), Some(version()))
            .await
            .unwrap();
        let kubernetes = skills
            .iter()
            .find(|s| s.skill_name == "Kubernetes")
            .unwrap();
        assert_eq!(
            kubernetes.context_snippet.as_deref(),
            Some("We need Rust and SQL")
        );
    }
}
