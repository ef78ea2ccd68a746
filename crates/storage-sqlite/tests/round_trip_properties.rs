//! Property tests: arbitrary Unicode text (anything but NUL), floats in range
//! and microsecond instants across the whole supported range round-trip
//! through SQLite exactly.

use chrono::{DateTime, Utc};
use jobenrich_domain::{
    EnrichmentVersion, ExtractedSkill, ExtractionStrategy, JobId, JobPosting, JobPostingRepository,
    MentionSpan, SchemaMigrator, SkillCategory, SkillRepository,
};
use jobenrich_storage_sqlite::SqliteStore;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Any scalar values except NUL; at least one non-space character.
    proptest::collection::vec(any::<char>().prop_filter("no NUL", |c| *c != '\0'), 0..40)
        .prop_map(|chars| format!("x{}", chars.into_iter().collect::<String>()))
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // Year 1 to year 9999, in microseconds.
    (-62_135_596_800_000_000i64..253_402_300_799_000_000i64)
        .prop_map(|us| DateTime::from_timestamp_micros(us).expect("in range"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn postings_and_skills_round_trip_exactly(
        id in text(),
        title in text(),
        company in proptest::option::of(text()),
        description in text(),
        posted_at in proptest::option::of(instant()),
        ingested_at in instant(),
        skill_name in text(),
        confidence in 0.0f64..=1.0,
        relevance in proptest::option::of(0.0f64..=1.0),
        snippet in proptest::option::of(text()),
        position in proptest::option::of(any::<u32>()),
        mentions in any::<u32>(),
        spans in proptest::collection::vec((0u32..u32::MAX / 2, 1u32..10_000), 0..20),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path().join("props.db")).unwrap();
            store.migrate().await.unwrap();
            let job_posting_id = JobId::parse(id.chars().take(200).collect::<String>()).unwrap();
            let posting = JobPosting {
                job_posting_id: job_posting_id.clone(),
                title: title.chars().take(500).collect(),
                company,
                location: None,
                description,
                posted_at,
                source: None,
                url: None,
                ingested_at,
            };
            store.insert_postings(std::slice::from_ref(&posting)).await.unwrap();
            prop_assert_eq!(store.get_posting(&job_posting_id).await.unwrap(), Some(posting));

            let skill = ExtractedSkill {
                skill_id: jobenrich_domain::Uuid::new_v4(), enrichment_id: None,
                job_posting_id: job_posting_id.clone(),
                skill_name,
                skill_category: SkillCategory::DataMl,
                confidence_score: confidence,
                source_strategies: vec![ExtractionStrategy::Lexicon],
                section_relevance_score: relevance,
                extracted_from_section: None,
                context_snippet: snippet,
                position_in_text: position,
                mention_count: mentions,
                // Any valid list: sorted, non-overlapping, up to u32 offsets.
                mention_spans: MentionSpan::normalize(
                    spans.into_iter().map(|(start, len)| MentionSpan::from((start, start + len))).collect(),
                ),
                taxonomy_ref: None,
                taxonomy_links: Vec::new(),
                enrichment_version: EnrichmentVersion::legacy(),
                created_at: ingested_at,
            };
            store.upsert_skills(std::slice::from_ref(&skill)).await.unwrap();
            prop_assert_eq!(store.skills_for_job(&job_posting_id, None).await.unwrap(), vec![skill]);
            Ok(())
        })?;
    }
}
