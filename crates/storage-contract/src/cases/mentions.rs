//! Every mention of a skill (`job_skills.mention_spans`): kept by both write
//! paths (`upsert_skills` and a completion), read back by every skill read,
//! checked before writing, and empty for rows written before the column.

use super::enrichments::{claim, enqueue, get, seed_jobs, skills_key, success};
use super::{expect_validation, ok};
use crate::fixtures::{at, job_posting_id, skill, version};
use crate::{SeedSql, SqlParam};
use jobenrich_domain::{EnrichmentType, MentionSpan, Store};
use std::sync::Arc;

fn spans(pairs: &[(u32, u32)]) -> Vec<MentionSpan> {
    pairs.iter().copied().map(MentionSpan::from).collect()
}

pub async fn mention_spans_round_trip_and_legacy_rows_read_empty(
    store: Arc<dyn Store>,
    sql: Arc<dyn SeedSql>,
) {
    let s = &*store;
    seed_jobs(s, &["job-m", "job-done", "job-legacy"]).await;

    // upsert_skills: several spans, one span, none.
    let mut rust = skill("job-m", "Rust");
    rust.mention_spans = spans(&[(0, 4), (4, 9), (120, 132), (70_000, 70_010)]);
    rust.mention_count = 4;
    let mut go = skill("job-m", "Go");
    go.mention_spans = spans(&[(15, 17)]);
    go.mention_count = 1;
    let mut sql_skill = skill("job-m", "SQL");
    sql_skill.mention_spans = Vec::new();
    ok(
        s,
        store
            .upsert_skills(&[rust.clone(), go.clone(), sql_skill.clone()])
            .await,
        "upsert_skills",
    );
    let by_name = |mut v: Vec<jobenrich_domain::ExtractedSkill>| {
        v.sort_by(|a, b| a.skill_name.cmp(&b.skill_name));
        v
    };
    let got = by_name(ok(
        s,
        store
            .skills_for_job(&job_posting_id("job-m"), Some(version()))
            .await,
        "skills_for_job",
    ));
    promise_eq!(
        s,
        got,
        vec![go.clone(), rust.clone(), sql_skill.clone()],
        "mention spans round-trip exactly through upsert_skills"
    );
    let many = ok(
        s,
        store
            .skills_for_jobs(&[job_posting_id("job-m")], &version())
            .await,
        "skills_for_jobs",
    );
    promise_eq!(
        s,
        by_name(many),
        vec![go, rust, sql_skill],
        "skills_for_jobs reads the spans too"
    );

    // The completion path (what the runner's writer uses).
    enqueue(
        s,
        &["job-done"],
        EnrichmentType::SkillsExtraction,
        &version(),
        at(0),
    )
    .await;
    promise_eq!(s, claim(s, "w", at(1), 10).await.len(), 1, "claimed");
    let mut done = skill("job-done", "Kubernetes");
    done.mention_spans = spans(&[(3, 13), (40, 43), (90, 100)]);
    done.mention_count = 3;
    ok(
        s,
        store
            .complete_enrichments(
                &[success(
                    &skills_key("job-done"),
                    "w",
                    vec![done.clone()],
                    vec![],
                )],
                at(2),
            )
            .await,
        "complete_enrichments",
    );
    let enrichment = get(s, &skills_key("job-done")).await;
    let got = ok(
        s,
        store
            .skills_for_job(&job_posting_id("job-done"), Some(version()))
            .await,
        "skills_for_job",
    );
    done.enrichment_id = Some(enrichment.enrichment_id);
    promise_eq!(
        s,
        got,
        vec![done],
        "a completion writes every mention span of its skills"
    );

    // Spans that overlap or are unsorted are refused before anything is written.
    let mut bad = skill("job-m", "Java");
    bad.mention_spans = spans(&[(10, 20), (15, 25)]);
    expect_validation(
        s,
        store.upsert_skills(&[bad]).await,
        "ExtractedSkill",
        "mention_spans",
        "overlapping mention spans are refused",
    );

    // A row written before the column existed has it NULL: it reads as no spans.
    let legacy = skill("job-legacy", "Rust");
    ok(
        s,
        store.upsert_skills(std::slice::from_ref(&legacy)).await,
        "upsert_skills",
    );
    sql.execute(
        "UPDATE job_skills SET mention_spans = NULL WHERE job_posting_id = @job",
        &[("job", SqlParam::Text("job-legacy".to_string()))],
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] clearing mention_spans: {e}", s.backend_name()));
    let got = ok(
        s,
        store
            .skills_for_job(&job_posting_id("job-legacy"), Some(version()))
            .await,
        "skills_for_job",
    );
    let mut expected = legacy;
    expected.mention_spans = Vec::new();
    promise_eq!(
        s,
        got,
        vec![expected],
        "a row without mention_spans (from before the migration) reads with an empty list"
    );
}
