//! Completion plans (`plan_completion`, then `complete_planned`): work a
//! store does ahead of a write may make the write cheaper, never different.

use super::enrichments::{claim, enqueue, skills_key, success};
use super::ok;
use crate::fixtures::{at, job_posting_id, planned_posting, planned_results, version};
use jobenrich_domain::{
    EnrichmentType, ExtractedSkill, PlannedOutcomes, SectionClassification, Store,
};
use std::sync::Arc;

/// What a reader sees of a job's skills: everything but the ids the store
/// stamps, by name.
fn seen(mut skills: Vec<ExtractedSkill>) -> Vec<ExtractedSkill> {
    for s in &mut skills {
        s.enrichment_id = None;
    }
    skills.sort_by(|a, b| a.skill_name.cmp(&b.skill_name));
    skills
}

async fn stored(s: &dyn Store, job: &str) -> (Vec<ExtractedSkill>, Vec<SectionClassification>) {
    let id = job_posting_id(job);
    (
        seen(ok(
            s,
            s.skills_for_job(&id, Some(version())).await,
            "skills_for_job",
        )),
        ok(s, s.sections_for_job(&id, None).await, "sections_for_job"),
    )
}

pub async fn a_planned_completion_stores_what_a_plain_one_does(store: Arc<dyn Store>) {
    let s = &*store;
    let jobs = ["job-plain", "job-planned", "job-misfit"];
    let postings: Vec<_> = jobs.iter().map(|j| planned_posting(j)).collect();
    ok(s, s.insert_postings(&postings).await, "insert_postings");
    enqueue(
        s,
        &jobs,
        EnrichmentType::SkillsExtraction,
        &version(),
        at(0),
    )
    .await;
    promise_eq!(
        s,
        claim(s, "w", at(1), 10).await.len(),
        3,
        "all three claimed"
    );
    let outcome = |job: &str| {
        let (skills, sections) = planned_results(job);
        success(&skills_key(job), "w", skills, sections)
    };

    let plain = ok(
        s,
        s.complete_enrichments(&[outcome("job-plain")], at(2)).await,
        "complete_enrichments",
    );
    let planned = s.plan_completion(vec![outcome("job-planned")]).await;
    promise_eq!(
        s,
        planned.outcomes,
        vec![outcome("job-planned")],
        "planning hands the outcomes back unchanged"
    );
    let with_plan = ok(
        s,
        s.complete_planned(planned, at(2)).await,
        "complete_planned",
    );
    promise_eq!(
        s,
        (
            with_plan.succeeded,
            with_plan.skills_written,
            with_plan.sections_written
        ),
        (
            plain.succeeded,
            plain.skills_written,
            plain.sections_written
        ),
        "a planned completion reports what a plain one does"
    );

    // A plan made for other results: each snippet and section text that
    // was a window or slice of the description is one no longer.
    let misfit = outcome("job-misfit");
    let foreign = s.plan_completion(vec![misfit.clone()]).await;
    let (mut skills, mut sections) = planned_results("job-misfit");
    for skill in &mut skills {
        if let Some(snippet) = &mut skill.context_snippet {
            snippet.push_str(" (edited)");
        }
    }
    for section in &mut sections {
        section.section_text.push_str(" (edited)");
    }
    let edited = success(&skills_key("job-misfit"), "w", skills, sections);
    ok(
        s,
        s.complete_planned(
            PlannedOutcomes {
                outcomes: vec![edited.clone()],
                plan: foreign.plan,
            },
            at(2),
        )
        .await,
        "complete_planned with a plan that does not fit",
    );

    let (plain_skills, plain_sections) = stored(s, "job-plain").await;
    let (expected_skills, expected_sections) = planned_results("job-plain");
    promise_eq!(
        s,
        (plain_skills.clone(), plain_sections.clone()),
        (seen(expected_skills), expected_sections),
        "a plain completion stores its results exactly"
    );
    let (planned_skills, planned_sections) = stored(s, "job-planned").await;
    let (expected_skills, expected_sections) = planned_results("job-planned");
    promise_eq!(
        s,
        (planned_skills, planned_sections),
        (seen(expected_skills), expected_sections),
        "a planned completion stores its results exactly"
    );
    let (misfit_skills, misfit_sections) = stored(s, "job-misfit").await;
    let jobenrich_domain::EnrichmentResult::Success(edited) = edited.result else {
        unreachable!("built as a success")
    };
    promise_eq!(
        s,
        (misfit_skills, misfit_sections),
        (seen(edited.skills), edited.sections),
        "a plan made for other results is not used"
    );
}
