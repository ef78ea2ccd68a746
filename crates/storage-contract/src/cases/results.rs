//! Cases of enrichment results: skills, sections and idempotent completion.

use super::enrichments::{claim_request, claimed_job, seed_jobs, success};
use super::ok;
use crate::fixtures::{
    at, enrichment_version, job_posting_id, numbered_job_id, section, section_minimal, skill,
    skill_minimal, version,
};
use jobenrich_domain::{EnrichmentType, ExtractedSkill, SkillCategory, SkillWeight, Store, Uuid};
use std::sync::Arc;

/// A skill weight's job, name, confidence and enrichment, comparable with
/// the same fields of an `ExtractedSkill`.
fn weight_row(w: &SkillWeight) -> (String, String, f64, Option<Uuid>) {
    (
        w.job_posting_id.to_string(),
        w.skill_name.to_string(),
        w.confidence_score,
        w.enrichment_id,
    )
}

fn names(skills: &[ExtractedSkill]) -> Vec<String> {
    skills.iter().map(|s| s.skill_name.clone()).collect()
}

pub async fn skills_round_trip_with_and_without_optional_fields(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a"]).await;
    let full = skill("job-a", "Rust");
    let minimal = skill_minimal("job-a", "PostgreSQL");
    let n = ok(
        s,
        store.upsert_skills(&[minimal.clone(), full.clone()]).await,
        "upsert_skills",
    );
    promise_eq!(s, n, 2, "upsert_skills reports the rows written");
    let got = ok(
        s,
        store
            .skills_for_job(&job_posting_id("job-a"), Some(version()))
            .await,
        "skills_for_job",
    );
    promise_eq!(
        s,
        got,
        vec![full.clone(), minimal.clone()],
        "skills round-trip exactly (optional fields present and absent, strategies list), by confidence desc"
    );

    let mut changed = full.clone();
    changed.confidence_score = 0.25;
    changed.source_strategies = vec![jobenrich_domain::ExtractionStrategy::Alias];
    changed.context_snippet = None;
    ok(
        s,
        store.upsert_skills(&[changed.clone()]).await,
        "upsert_skills",
    );
    let got = ok(
        s,
        store
            .skills_for_job(&job_posting_id("job-a"), Some(version()))
            .await,
        "skills_for_job",
    );
    promise_eq!(
        s,
        got,
        vec![minimal, changed],
        "upserting a known (job, skill, version) replaces it, never duplicates"
    );
}

pub async fn skill_queries_order_count_and_delete(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a", "job-b", "job-c"]).await;
    let v2 = enrichment_version("skills_extractor@v2.0");
    let mut old_rust = skill("job-a", "Rust");
    old_rust.enrichment_version = v2.clone();
    let mut b_rust = skill("job-b", "Rust");
    b_rust.confidence_score = 0.625;
    let mut a_go = skill_minimal("job-a", "Go");
    a_go.skill_category = SkillCategory::ProgrammingLanguages;
    let mut a_sql = skill_minimal("job-a", "SQL");
    a_sql.confidence_score = 0.5;
    let batch = vec![
        skill("job-a", "Rust"),
        a_sql,
        a_go,
        b_rust,
        old_rust,
        skill_minimal("job-c", "Excel"),
    ];
    ok(s, store.upsert_skills(&batch).await, "upsert_skills");

    let a = ok(
        s,
        store
            .skills_for_job(&job_posting_id("job-a"), Some(version()))
            .await,
        "skills_for_job",
    );
    promise_eq!(
        s,
        names(&a),
        vec!["Rust", "Go", "SQL"],
        "skills_for_job orders by confidence desc, then name"
    );
    let all = ok(
        s,
        store.skills_for_job(&job_posting_id("job-a"), None).await,
        "skills_for_job",
    );
    promise_eq!(
        s,
        all.len(),
        4,
        "skills_for_job without a version returns every version"
    );

    let many = ok(
        s,
        store
            .skills_for_jobs(
                &[
                    job_posting_id("job-b"),
                    job_posting_id("job-a"),
                    job_posting_id("job-z"),
                ],
                &version(),
            )
            .await,
        "skills_for_jobs",
    );
    let pairs: Vec<(String, String)> = many
        .iter()
        .map(|k| (k.job_posting_id.to_string(), k.skill_name.clone()))
        .collect();
    promise_eq!(
        s,
        pairs,
        vec![
            ("job-a".to_string(), "Go".to_string()),
            ("job-a".to_string(), "Rust".to_string()),
            ("job-a".to_string(), "SQL".to_string()),
            ("job-b".to_string(), "Rust".to_string()),
        ],
        "skills_for_jobs returns the jobs' skills at one version, by job then name"
    );
    let weights = ok(
        s,
        store
            .skill_weights_for_jobs(
                &[
                    job_posting_id("job-b"),
                    job_posting_id("job-a"),
                    job_posting_id("job-z"),
                ],
                &version(),
            )
            .await,
        "skill_weights_for_jobs",
    );
    let wide: Vec<_> = many
        .iter()
        .map(|k| {
            (
                k.job_posting_id.to_string(),
                k.skill_name.clone(),
                k.confidence_score,
                k.enrichment_id,
            )
        })
        .collect();
    let narrow: Vec<_> = weights.iter().map(weight_row).collect();
    promise_eq!(
        s,
        narrow,
        wide,
        "skill_weights_for_jobs returns skills_for_jobs' jobs, skills, confidences and enrichment ids in its order"
    );
    // `cluster run` keeps two of these calls in flight on one store: each
    // must get its own jobs' rows.
    let (first, second, at) = (
        [job_posting_id("job-a")],
        [job_posting_id("job-z"), job_posting_id("job-b")],
        version(),
    );
    let (left, right) = tokio::join!(
        store.skill_weights_for_jobs(&first, &at),
        store.skill_weights_for_jobs(&second, &at),
    );
    let left = ok(s, left, "skill_weights_for_jobs (first of two at once)");
    let right = ok(s, right, "skill_weights_for_jobs (second of two at once)");
    let joined: Vec<_> = left.iter().chain(&right).map(weight_row).collect();
    promise_eq!(
        s,
        joined,
        wide,
        "two skill_weights_for_jobs calls in flight at once on one store each return their own jobs' rows"
    );

    let top = ok(s, store.top_skills(&version(), 2).await, "top_skills");
    promise_eq!(s, top.len(), 2, "top_skills honours its limit");
    promise_eq!(
        s,
        (top[0].skill_name.as_str(), top[0].job_count),
        ("Rust", 2),
        "top_skills ranks by the number of jobs mentioning a skill"
    );
    promise!(
        s,
        (top[0].mean_confidence - 0.75).abs() < 1e-9,
        "top_skills reports the mean confidence, got {}",
        top[0].mean_confidence
    );

    let versions = ok(s, store.skill_versions().await, "skill_versions");
    promise_eq!(
        s,
        versions,
        vec![(version(), 5), (v2.clone(), 1)],
        "skill_versions lists each stored version with its row count"
    );
    let deleted = ok(
        s,
        store
            .delete_skills_at_versions(std::slice::from_ref(&v2))
            .await,
        "delete_skills_at_versions",
    );
    promise_eq!(
        s,
        deleted,
        1,
        "delete_skills_at_versions deletes exactly the rows of those versions"
    );
    let versions = ok(s, store.skill_versions().await, "skill_versions");
    promise_eq!(s, versions, vec![(version(), 5)], "other versions are kept");
}

pub async fn ten_thousand_skills_in_one_batch(store: Arc<dyn Store>) {
    let s = &*store;
    let jobs: Vec<String> = (0..100).map(|i| numbered_job_id(i).to_string()).collect();
    let refs: Vec<&str> = jobs.iter().map(String::as_str).collect();
    seed_jobs(s, &refs).await;
    let batch: Vec<ExtractedSkill> = jobs
        .iter()
        .flat_map(|job| (0..100).map(move |k| skill(job, &format!("skill {k:03}"))))
        .collect();
    promise_eq!(s, batch.len(), 10_000, "the test batch holds 10,000 skills");
    let written = ok(
        s,
        store.upsert_skills(&batch).await,
        "upsert_skills takes a 10,000-skill batch",
    );
    promise_eq!(s, written, 10_000, "a 10,000-skill batch is written whole");
    let versions = ok(s, store.skill_versions().await, "skill_versions");
    promise_eq!(
        s,
        versions,
        vec![(version(), 10_000)],
        "every skill of the batch is stored once"
    );
    let one = ok(
        s,
        store
            .skills_for_job(&numbered_job_id(42), Some(version()))
            .await,
        "skills_for_job",
    );
    promise_eq!(
        s,
        one.len(),
        100,
        "each job of the batch has its 100 skills"
    );
    promise_eq!(
        s,
        one[0],
        skill(numbered_job_id(42).as_str(), "skill 000"),
        "a skill of the batch round-trips"
    );
}

pub async fn sections_round_trip_and_upsert_by_key(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a"]).await;
    let full = section("job-a", 0, "sections@v1.0");
    let minimal = section_minimal("job-a", 1, "sections@v1.0");
    let other = section("job-a", 0, "sections@v0.9");
    ok(
        s,
        store
            .upsert_sections(&[minimal.clone(), full.clone(), other.clone()])
            .await,
        "upsert_sections",
    );
    let all = ok(
        s,
        store.sections_for_job(&job_posting_id("job-a"), None).await,
        "sections_for_job",
    );
    promise_eq!(
        s,
        all,
        vec![other.clone(), full.clone(), minimal.clone()],
        "sections round-trip exactly, by classifier version then index"
    );
    let mut changed = full.clone();
    changed.section_text = "rewritten".to_string();
    changed.section_header = None;
    ok(
        s,
        store.upsert_sections(&[changed.clone()]).await,
        "upsert_sections",
    );
    let v1 = ok(
        s,
        store
            .sections_for_job(&job_posting_id("job-a"), Some("sections@v1.0".to_string()))
            .await,
        "sections_for_job",
    );
    promise_eq!(
        s,
        v1,
        vec![changed, minimal],
        "upserting a known (job, version, index) replaces it"
    );
    let deleted = ok(
        s,
        store
            .delete_sections_at_versions(&["sections@v1.0".to_string()])
            .await,
        "delete",
    );
    promise_eq!(
        s,
        deleted,
        2,
        "delete_sections_at_versions deletes exactly those versions' rows"
    );
    let left = ok(
        s,
        store.sections_for_job(&job_posting_id("job-a"), None).await,
        "sections_for_job",
    );
    promise_eq!(
        s,
        left,
        vec![other],
        "sections of other classifier versions are kept"
    );
}

pub async fn completing_twice_or_after_reclaim_never_duplicates_results(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a"]).await;
    let key = claimed_job(s, "job-a", "worker-1", at(0)).await;
    // worker-1's lease expires; worker-2 reclaims and finishes first.
    let reclaimed = ok(
        s,
        store
            .claim_enrichments(&claim_request(
                "worker-2",
                at(100),
                10,
                EnrichmentType::SkillsExtraction,
                None,
            ))
            .await,
        "claim",
    );
    promise_eq!(s, reclaimed.len(), 1, "an expired lease is reclaimable");
    let results = vec![
        skill("job-a", "Rust"),
        skill("job-a", "SQL"),
        skill_minimal("job-a", "Go"),
    ];
    let sections = vec![
        section("job-a", 0, "sections@v1.0"),
        section("job-a", 1, "sections@v1.0"),
    ];
    let done = ok(
        s,
        store
            .complete_enrichments(
                &[success(&key, "worker-2", results.clone(), sections.clone())],
                at(101),
            )
            .await,
        "complete",
    );
    promise_eq!(
        s,
        (done.skills_written, done.sections_written),
        (3, 2),
        "the report counts written skills and sections"
    );

    let late = ok(
        s,
        store
            .complete_enrichments(
                &[success(
                    &key,
                    "worker-1",
                    results[..2].to_vec(),
                    sections[..1].to_vec(),
                )],
                at(102),
            )
            .await,
        "complete",
    );
    promise_eq!(
        s,
        late.lost_leases,
        vec![key.clone()],
        "a late completion after reclaim is reported lost"
    );
    let again = ok(
        s,
        store
            .complete_enrichments(
                &[success(&key, "worker-2", results.clone(), sections.clone())],
                at(103),
            )
            .await,
        "complete",
    );
    promise_eq!(
        s,
        again.lost_leases,
        vec![key.clone()],
        "completing a finished enrichment again is reported lost"
    );

    let skills = ok(
        s,
        store.skills_for_job(&job_posting_id("job-a"), None).await,
        "skills_for_job",
    );
    promise_eq!(
        s,
        names(&skills),
        vec!["Rust", "SQL", "Go"],
        "repeated completions never duplicate skills"
    );
    let stored_sections = ok(
        s,
        store.sections_for_job(&job_posting_id("job-a"), None).await,
        "sections_for_job",
    );
    promise_eq!(
        s,
        stored_sections,
        sections,
        "repeated completions never duplicate sections"
    );
}

pub async fn completion_replaces_earlier_results_of_the_same_version(store: Arc<dyn Store>) {
    let s = &*store;
    seed_jobs(s, &["job-a"]).await;
    let v2 = enrichment_version("skills_extractor@v2.0");
    let mut other_version = skill("job-a", "COBOL");
    other_version.enrichment_version = v2.clone();
    // Leftovers of an earlier, interrupted run at the same version.
    ok(
        s,
        store
            .upsert_skills(&[
                skill("job-a", "Stale Skill"),
                skill("job-a", "Rust"),
                other_version.clone(),
            ])
            .await,
        "upsert_skills",
    );
    ok(
        s,
        store
            .upsert_sections(&[
                section("job-a", 0, "sections@v1.0"),
                section("job-a", 1, "sections@v1.0"),
                section("job-a", 2, "sections@v1.0"),
                section("job-a", 0, "sections@v0.9"),
            ])
            .await,
        "upsert_sections",
    );
    let key = claimed_job(s, "job-a", "w", at(0)).await;
    let mut rust = skill("job-a", "Rust");
    rust.confidence_score = 0.5;
    let new_sections = vec![
        section_minimal("job-a", 0, "sections@v1.0"),
        section("job-a", 1, "sections@v1.0"),
    ];
    ok(
        s,
        store
            .complete_enrichments(
                &[success(
                    &key,
                    "w",
                    vec![rust.clone(), skill("job-a", "Kafka")],
                    new_sections.clone(),
                )],
                at(1),
            )
            .await,
        "complete",
    );
    let current = ok(
        s,
        store
            .skills_for_job(&job_posting_id("job-a"), Some(version()))
            .await,
        "skills_for_job",
    );
    // A completion's skills reference the enrichment they were written under.
    let enrichment_id =
        ok(s, store.get_enrichment(&key).await, "get_enrichment").map(|e| e.enrichment_id);
    let stamped = |mut k: ExtractedSkill| {
        k.enrichment_id = enrichment_id;
        k
    };
    promise_eq!(
        s,
        current,
        vec![stamped(skill("job-a", "Kafka")), stamped(rust)],
        "a completion replaces every skill of the job at that version, each referencing the enrichment"
    );
    let kept = ok(
        s,
        store
            .skills_for_job(&job_posting_id("job-a"), Some(v2))
            .await,
        "skills_for_job",
    );
    promise_eq!(
        s,
        kept,
        vec![other_version],
        "skills of other versions are kept"
    );
    let v1_sections = ok(
        s,
        store
            .sections_for_job(&job_posting_id("job-a"), Some("sections@v1.0".to_string()))
            .await,
        "sections_for_job",
    );
    promise_eq!(
        s,
        v1_sections,
        new_sections,
        "a completion replaces the job's sections at each classifier version it writes"
    );
    let v09 = ok(
        s,
        store
            .sections_for_job(&job_posting_id("job-a"), Some("sections@v0.9".to_string()))
            .await,
        "sections_for_job",
    );
    promise_eq!(
        s,
        v09.len(),
        1,
        "sections of other classifier versions are kept"
    );
}
