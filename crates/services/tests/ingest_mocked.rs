//! Ingestion and alias import against mockall mocks of the ports: which store
//! calls they make, with what, and what a failing store call does.

use chrono::Utc;
use jobenrich_domain::{
    AliasUpsertCounts, EnrichmentType, EnrichmentVersion, InsertCounts, JobId, JobPosting,
    MockAliasRepository, MockEnrichmentRepository, MockJobPostingRepository, StoreError,
};
use jobenrich_services::alias_admin::import_aliases;
use jobenrich_services::ingest::{
    ingest_reader, IngestError, IngestFormat, IngestObserver, IngestOptions, IngestPorts,
    IngestReport, RowRejection,
};
use mockall::predicate::always;
use mockall::Sequence;

fn version() -> EnrichmentVersion {
    EnrichmentVersion::parse("skills_extractor@v1.0").unwrap()
}

fn options(batch_size: usize) -> IngestOptions {
    IngestOptions {
        batch_size,
        default_source: Some("test".into()),
        enqueue: vec![(EnrichmentType::SkillsExtraction, version())],
        max_description_bytes: 1 << 20,
        now: Utc::now(),
    }
}

fn jsonl(ids: &[&str]) -> String {
    ids.iter()
        .map(|id| format!("{{\"id\":\"{id}\",\"title\":\"T {id}\",\"description\":\"D {id}\"}}\n"))
        .collect()
}

fn ids(postings: &[JobPosting]) -> Vec<String> {
    postings
        .iter()
        .map(|p| p.job_posting_id.to_string())
        .collect()
}

#[derive(Default)]
struct RecordingObserver {
    rejected: Vec<RowRejection>,
    batches: Vec<IngestReport>,
}

impl IngestObserver for RecordingObserver {
    fn rejected(&mut self, rejection: &RowRejection) {
        self.rejected.push(rejection.clone());
    }
    fn batch_stored(&mut self, so_far: &IngestReport, _bytes_read: u64) {
        self.batches.push(so_far.clone());
    }
}

#[tokio::test]
async fn postings_are_stored_and_queued_one_batch_per_store_call() {
    let mut postings = MockJobPostingRepository::new();
    let mut enrichments = MockEnrichmentRepository::new();
    let mut seq = Sequence::new();
    for (batch, already) in [(vec!["a", "b"], 1), (vec!["c", "d"], 0), (vec!["e"], 0)] {
        let expected: Vec<String> = batch.iter().map(|s| s.to_string()).collect();
        let count = batch.len() as u64;
        postings
            .expect_insert_postings()
            .withf(move |p| ids(p) == expected)
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_| {
                Ok(InsertCounts {
                    inserted: count - already,
                    already_present: already,
                })
            });
        let queued: Vec<JobId> = batch.iter().map(|s| JobId::parse(*s).unwrap()).collect();
        enrichments
            .expect_enqueue_enrichments()
            .withf(move |ids, t, v, _| {
                ids == queued.as_slice()
                    && *t == EnrichmentType::SkillsExtraction
                    && *v == version()
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |ids, _, _, _| Ok(ids.len() as u64));
    }
    let ports = IngestPorts {
        postings: &postings,
        enrichments: &enrichments,
    };
    let mut text = jsonl(&["a", "b"]);
    text.push_str("{broken\n");
    text.push_str(&jsonl(&["c", "d", "e"]));
    let mut observer = RecordingObserver::default();
    let report = ingest_reader(
        &ports,
        std::io::Cursor::new(text.into_bytes()),
        IngestFormat::Jsonl,
        "in.jsonl",
        &options(2),
        &mut observer,
    )
    .await
    .unwrap();
    assert_eq!(
        report,
        IngestReport {
            read: 6,
            stored: 4,
            already_present: 1,
            rejected: 1,
            enrichments_queued: 5,
        }
    );
    assert_eq!(observer.rejected.len(), 1);
    assert_eq!(observer.rejected[0].line, 3);
    assert_eq!(observer.batches.len(), 3);
    assert_eq!(observer.batches.last(), Some(&report));
}

#[tokio::test]
async fn a_repeated_id_in_one_batch_is_sent_once_and_counted_as_present() {
    let mut postings = MockJobPostingRepository::new();
    postings
        .expect_insert_postings()
        .withf(|p| ids(p) == ["a", "b"])
        .times(1)
        .returning(|_| {
            Ok(InsertCounts {
                inserted: 2,
                already_present: 0,
            })
        });
    let mut enrichments = MockEnrichmentRepository::new();
    enrichments
        .expect_enqueue_enrichments()
        .with(always(), always(), always(), always())
        .times(1)
        .returning(|ids, _, _, _| Ok(ids.len() as u64));
    let ports = IngestPorts {
        postings: &postings,
        enrichments: &enrichments,
    };
    let report = ingest_reader(
        &ports,
        std::io::Cursor::new(jsonl(&["a", "a", "b"]).into_bytes()),
        IngestFormat::Jsonl,
        "in.jsonl",
        &options(10),
        &mut RecordingObserver::default(),
    )
    .await
    .unwrap();
    assert_eq!((report.stored, report.already_present), (2, 1));
}

#[tokio::test]
async fn a_failing_store_call_stops_ingestion_and_names_the_input() {
    let mut postings = MockJobPostingRepository::new();
    let mut calls = 0;
    postings
        .expect_insert_postings()
        .times(2)
        .returning(move |p| {
            calls += 1;
            if calls == 1 {
                Ok(InsertCounts {
                    inserted: p.len() as u64,
                    already_present: 0,
                })
            } else {
                Err(StoreError::Backend("disk full".into()))
            }
        });
    let mut enrichments = MockEnrichmentRepository::new();
    enrichments
        .expect_enqueue_enrichments()
        .times(1)
        .returning(|ids, _, _, _| Ok(ids.len() as u64));
    let ports = IngestPorts {
        postings: &postings,
        enrichments: &enrichments,
    };
    let err = ingest_reader(
        &ports,
        std::io::Cursor::new(jsonl(&["a", "b", "c", "d", "e", "f"]).into_bytes()),
        IngestFormat::Jsonl,
        "big.jsonl",
        &options(2),
        &mut RecordingObserver::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, IngestError::Store { ref input, .. } if input == "big.jsonl"));
}

#[tokio::test]
async fn alias_import_checks_every_row_before_one_atomic_upsert() {
    let mut aliases = MockAliasRepository::new();
    aliases.expect_upsert_aliases().never();
    let bad =
        "alias_text,canonical_name,category\nK8s,Kubernetes,devops_tools\nTF,Terraform,nope\n";
    let err = import_aliases(&aliases, bad.as_bytes(), "a.csv", Utc::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("a.csv:3: field category"), "{err}");

    let mut aliases = MockAliasRepository::new();
    aliases
        .expect_upsert_aliases()
        .withf(|rows| rows.iter().map(|a| a.alias_text.as_str()).eq(["K8s", "TF"]))
        .times(1)
        .returning(|_| {
            Ok(AliasUpsertCounts {
                inserted: 1,
                updated: 1,
            })
        });
    let good = "alias_text,canonical_name,category\nK8s,Kubernetes,devops_tools\nTF,Terraform,devops_tools\n";
    let report = import_aliases(&aliases, good.as_bytes(), "a.csv", Utc::now())
        .await
        .unwrap();
    assert_eq!((report.rows, report.inserted, report.updated), (2, 1, 1));
}

#[tokio::test]
async fn each_stored_batch_is_queued_for_every_type_asked_for() {
    let mut postings = MockJobPostingRepository::new();
    let mut enrichments = MockEnrichmentRepository::new();
    postings.expect_insert_postings().times(1).returning(|p| {
        Ok(InsertCounts {
            inserted: p.len() as u64,
            already_present: 0,
        })
    });
    let embeddings = EnrichmentVersion::parse("job_embedder@v1.0").unwrap();
    let mut seq = Sequence::new();
    for (t, v) in [
        (EnrichmentType::SkillsExtraction, version()),
        (EnrichmentType::Embeddings, embeddings.clone()),
    ] {
        enrichments
            .expect_enqueue_enrichments()
            .withf(move |ids, got_t, got_v, _| ids.len() == 2 && *got_t == t && *got_v == v)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|ids, _, _, _| Ok(ids.len() as u64));
    }
    let ports = IngestPorts {
        postings: &postings,
        enrichments: &enrichments,
    };
    let mut opts = options(10);
    opts.enqueue
        .push((EnrichmentType::Embeddings, embeddings.clone()));
    let report = ingest_reader(
        &ports,
        std::io::Cursor::new(jsonl(&["a", "b"]).into_bytes()),
        IngestFormat::Jsonl,
        "in.jsonl",
        &opts,
        &mut RecordingObserver::default(),
    )
    .await
    .unwrap();
    assert_eq!((report.stored, report.enrichments_queued), (2, 4));
}
