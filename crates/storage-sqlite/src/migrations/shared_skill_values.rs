//! Migration 13, `shared_skill_values`: what a linked skill row repeated
//! from its neighbours, stored once. After migration 12 a row still held its
//! ranked ESCO candidates as ~88 bytes of compact JSON, yet a version's
//! candidates depend on the phrase only (6,208 distinct lists in 432,445 rows
//! of 10,000 postings), and its `enrichment_id` and `created_at` (24 bytes)
//! are those of every other row of its (posting, version).
//!
//! - A compact link list is a `skill_terms` term like the strategy lists
//!   (`job_skills_data.links_term`).
//! - `skill_stamps` keeps one (`enrichment_id`, `created_at`) per (posting,
//!   version); a row whose values are its stamp's is `stamped` (1) and keeps
//!   `enrichment_id` NULL and `created_at` 0. Others keep their own, so any
//!   values written still read back. The stamp goes with the last row of its
//!   (posting, version).
//!
//! The `job_skills` view shows the seed's columns as before.

pub const MIGRATION_13_SHARED_SKILL_VALUES: &str = concat!(
    r#"
ALTER TABLE job_skills_data ADD COLUMN links_term INTEGER REFERENCES skill_terms(term_id);
ALTER TABLE job_skills_data ADD COLUMN stamped INTEGER;

CREATE TABLE skill_stamps (
    job_posting_id TEXT NOT NULL REFERENCES job_postings(job_posting_id),
    version_term   INTEGER NOT NULL REFERENCES skill_terms(term_id),
    enrichment_id  BLOB,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (job_posting_id, version_term)
) WITHOUT ROWID;

INSERT OR IGNORE INTO skill_terms (term)
SELECT DISTINCT taxonomy_link_terms FROM job_skills_data WHERE taxonomy_link_terms IS NOT NULL;

UPDATE job_skills_data
SET links_term = (SELECT term_id FROM skill_terms WHERE term = job_skills_data.taxonomy_link_terms),
    taxonomy_link_terms = NULL
WHERE taxonomy_link_terms IS NOT NULL;

-- The values of each (posting, version)'s first skill by name id; its other
-- rows share them when they were written together.
INSERT INTO skill_stamps (job_posting_id, version_term, enrichment_id, created_at)
SELECT job_posting_id, version_term, enrichment_id, created_at FROM (
    SELECT job_posting_id, version_term, enrichment_id, created_at, MIN(name_term)
    FROM job_skills_data GROUP BY job_posting_id, version_term);

UPDATE job_skills_data
SET stamped = 1, enrichment_id = NULL, created_at = 0
FROM skill_stamps s
WHERE s.job_posting_id = job_skills_data.job_posting_id
  AND s.version_term = job_skills_data.version_term
  AND s.enrichment_id IS job_skills_data.enrichment_id
  AND s.created_at = job_skills_data.created_at;

-- Dropping the view drops its triggers; all three are made again below.
DROP VIEW job_skills;
CREATE VIEW job_skills AS
SELECT k.job_posting_id, n.term AS skill_name, c.term AS skill_category, k.confidence_score,
    st.term AS source_strategies, k.section_relevance_score,
    sec.term AS extracted_from_section,
    COALESCE(k.context_snippet, CASE WHEN k.snippet_start IS NOT NULL THEN "#,
    rebuilt_snippet_sql!("p.description", "k.snippet_start", "k.snippet_end"),
    r#" END) AS context_snippet,
    k.position_in_text, k.mention_count, tr.term AS taxonomy_ref,
    v.term AS enrichment_version,
    CASE WHEN k.stamped THEN ss.created_at ELSE k.created_at END AS created_at, "#,
    uuid_text_sql!("k.skill_id"),
    r#" AS skill_id, "#,
    uuid_text_sql!("(CASE WHEN k.stamped THEN ss.enrichment_id ELSE k.enrichment_id END)"),
    r#" AS enrichment_id, k.mention_spans,
    CASE WHEN k.links_term IS NOT NULL THEN "#,
    rebuilt_links_sql!("lt.term"),
    r#" WHEN k.taxonomy_link_terms IS NOT NULL THEN "#,
    rebuilt_links_sql!("k.taxonomy_link_terms"),
    r#" ELSE k.taxonomy_links END AS taxonomy_links
FROM job_skills_data k
JOIN skill_terms v ON v.term_id = k.version_term
JOIN skill_terms n ON n.term_id = k.name_term
JOIN skill_terms c ON c.term_id = k.category_term
JOIN skill_terms st ON st.term_id = k.strategies_term
LEFT JOIN skill_terms sec ON sec.term_id = k.section_term
LEFT JOIN skill_terms tr ON tr.term_id = k.taxonomy_ref_term
LEFT JOIN skill_terms lt ON lt.term_id = k.links_term
LEFT JOIN skill_stamps ss ON ss.job_posting_id = k.job_posting_id
    AND ss.version_term = k.version_term
LEFT JOIN job_postings p ON p.job_posting_id = k.job_posting_id;

-- SQL written against the table keeps working: writes through the view land
-- in job_skills_data (snippets and ids stored as given, links compacted when
-- they rebuild exactly).
CREATE TRIGGER job_skills_insert INSTEAD OF INSERT ON job_skills
BEGIN
    INSERT OR IGNORE INTO skill_terms (term)
    SELECT t FROM (SELECT COALESCE(NEW.enrichment_version, 'legacy') AS t
        UNION ALL SELECT NEW.skill_name UNION ALL SELECT NEW.skill_category
        UNION ALL SELECT NEW.source_strategies UNION ALL SELECT NEW.extracted_from_section
        UNION ALL SELECT NEW.taxonomy_ref
        UNION ALL SELECT label FROM ("#,
    link_labels_sql!("", "NEW.taxonomy_links"),
    r#"))
    WHERE t IS NOT NULL;
    -- After the labels: the compact list names them by id.
    INSERT OR IGNORE INTO skill_terms (term)
    SELECT "#,
    compact_links_sql!("NEW.taxonomy_links"),
    r#" WHERE "#,
    links_compact_sql!("NEW.taxonomy_links"),
    r#";
    INSERT INTO job_skills_data (job_posting_id, version_term, name_term, category_term,
        confidence_score, strategies_term, section_relevance_score, section_term,
        context_snippet, position_in_text, mention_count, taxonomy_ref_term, created_at,
        skill_id, enrichment_id, mention_spans, taxonomy_links, links_term)
    VALUES (NEW.job_posting_id,
        (SELECT term_id FROM skill_terms WHERE term = COALESCE(NEW.enrichment_version, 'legacy')),
        (SELECT term_id FROM skill_terms WHERE term = NEW.skill_name),
        (SELECT term_id FROM skill_terms WHERE term = NEW.skill_category),
        NEW.confidence_score,
        (SELECT term_id FROM skill_terms WHERE term = NEW.source_strategies),
        NEW.section_relevance_score,
        (SELECT term_id FROM skill_terms WHERE term = NEW.extracted_from_section),
        NEW.context_snippet, NEW.position_in_text, COALESCE(NEW.mention_count, 1),
        (SELECT term_id FROM skill_terms WHERE term = NEW.taxonomy_ref),
        NEW.created_at, COALESCE(NEW.skill_id, ''), NEW.enrichment_id, NEW.mention_spans,
        CASE WHEN "#,
    links_compact_sql!("NEW.taxonomy_links"),
    r#" THEN NULL ELSE NEW.taxonomy_links END,
        CASE WHEN "#,
    links_compact_sql!("NEW.taxonomy_links"),
    r#" THEN (SELECT term_id FROM skill_terms WHERE term = "#,
    compact_links_sql!("NEW.taxonomy_links"),
    r#") END);
END;
CREATE TRIGGER job_skills_delete INSTEAD OF DELETE ON job_skills
BEGIN
    DELETE FROM job_skills_data
    WHERE job_posting_id = OLD.job_posting_id
      AND version_term = (SELECT term_id FROM skill_terms WHERE term = OLD.enrichment_version)
      AND name_term = (SELECT term_id FROM skill_terms WHERE term = OLD.skill_name);
    DELETE FROM skill_stamps
    WHERE job_posting_id = OLD.job_posting_id
      AND version_term = (SELECT term_id FROM skill_terms WHERE term = OLD.enrichment_version)
      AND NOT EXISTS (SELECT 1 FROM job_skills_data k
                      WHERE k.job_posting_id = skill_stamps.job_posting_id
                        AND k.version_term = skill_stamps.version_term);
END;
CREATE TRIGGER job_skills_update INSTEAD OF UPDATE ON job_skills
BEGIN
    DELETE FROM job_skills
    WHERE job_posting_id = OLD.job_posting_id AND enrichment_version = OLD.enrichment_version
      AND skill_name = OLD.skill_name;
    INSERT INTO job_skills (job_posting_id, skill_name, skill_category, confidence_score,
        source_strategies, section_relevance_score, extracted_from_section, context_snippet,
        position_in_text, mention_count, taxonomy_ref, enrichment_version, created_at, skill_id,
        enrichment_id, mention_spans, taxonomy_links)
    VALUES (NEW.job_posting_id, NEW.skill_name, NEW.skill_category, NEW.confidence_score,
        NEW.source_strategies, NEW.section_relevance_score, NEW.extracted_from_section,
        NEW.context_snippet, NEW.position_in_text, NEW.mention_count, NEW.taxonomy_ref,
        NEW.enrichment_version, NEW.created_at, NEW.skill_id, NEW.enrichment_id,
        NEW.mention_spans, NEW.taxonomy_links);
END;
"#
);

#[cfg(test)]
mod tests {
    use crate::migrations::tests::{strings, SKILL_ROWS};
    use crate::SqliteStore;
    use jobenrich_domain::{
        EnrichmentVersion, ExtractedSkill, JobId, SchemaMigrator, SkillRepository, TaxonomyLink,
        Uuid,
    };
    use rusqlite::{params, Connection};

    const LINKS: &str = r#"[{"label":"use databases","score":0.8537770509719849,"exact":false},{"label":"x","score":-0.125,"exact":false}]"#;

    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        i64,
        Option<&'a str>,
    );

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[tokio::test]
    async fn migration_13_stores_shared_links_and_stamps_once_and_every_column_reads_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v12.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate_to(12).await.unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
             VALUES ('p1', 'Dev', 'text', 1), ('p2', 'Dev', 'text', 1);",
        )
        .unwrap();
        let e1 = "00000000-0000-4000-8000-0000000000e1";
        let e2 = "00000000-0000-4000-8000-0000000000e2";
        // (posting, name, version, enrichment id, created_at, links)
        let rows: [Row; 5] = [
            ("p1", "Rust", "s@v1", Some(e1), 5, Some(LINKS)),
            ("p1", "SQL", "s@v1", Some(e1), 5, Some(LINKS)),
            // Written apart from the others: keeps its own values.
            ("p1", "Go", "s@v1", Some(e2), 5, None),
            ("p1", "Java", "legacy", None, 7, Some("not json")),
            ("p2", "Rust", "s@v1", Some(e1), 9, Some(LINKS)),
        ];
        for (job, name, version, enrichment, created, links) in rows {
            conn.execute(
                "INSERT INTO job_skills (job_posting_id, skill_name, skill_category,
                     confidence_score, source_strategies, enrichment_version, created_at,
                     skill_id, enrichment_id, taxonomy_links)
                 VALUES (?1, ?2, 'databases', 0.5, '[]', ?3, ?4,
                     '00000000-0000-4000-8000-00000000000a', ?5, ?6)",
                params![job, name, version, created, enrichment, links],
            )
            .unwrap();
        }
        let before = strings(&conn, SKILL_ROWS);
        store.migrate().await.unwrap();
        assert_eq!(
            strings(&conn, SKILL_ROWS),
            before,
            "every column reads as before"
        );
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(DISTINCT links_term) FROM job_skills_data WHERE links_term IS NOT NULL"
            ),
            1,
            "one link list, stored once"
        );
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM job_skills_data WHERE taxonomy_link_terms IS NOT NULL"
            ),
            0
        );
        let stored = strings(
            &conn,
            "SELECT n.term || ' ' || COALESCE(k.stamped, '-') || ' ' || typeof(k.enrichment_id)
                 || ' ' || k.created_at
             FROM job_skills_data k JOIN skill_terms n ON n.term_id = k.name_term
             ORDER BY k.job_posting_id, n.term",
        );
        assert_eq!(
            stored,
            [
                "Go - text 5",
                "Java 1 null 0",
                "Rust 1 null 0",
                "SQL 1 null 0",
                "Rust 1 null 0"
            ]
        );
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM skill_stamps"), 3);

        // Writes through the view after the migration.
        conn.execute(
            "INSERT INTO job_skills (job_posting_id, skill_name, skill_category, confidence_score,
                 source_strategies, enrichment_version, created_at, skill_id, taxonomy_links)
             VALUES ('p2', 'Go', 'databases', 0.5, '[]', 's@v1', 3,
                 '00000000-0000-4000-8000-00000000000b', ?1)",
            [LINKS],
        )
        .unwrap();
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(DISTINCT links_term) FROM job_skills_data WHERE links_term IS NOT NULL"
            ),
            1,
            "a write through the view shares the stored list"
        );
        conn.execute_batch(
            "UPDATE job_skills SET confidence_score = 0.25 WHERE skill_name = 'SQL';",
        )
        .unwrap();
        let sql: String = conn
            .query_row(
                "SELECT created_at || ' ' || enrichment_id || ' ' || taxonomy_links
                 FROM job_skills WHERE skill_name = 'SQL'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sql, format!("5 {e1} {LINKS}"), "an update keeps the rest");
        // The stamp goes with the last row of its (posting, version).
        conn.execute("DELETE FROM job_skills WHERE skill_name = 'Java'", [])
            .unwrap();
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM skill_stamps"), 2);
        conn.execute(
            "DELETE FROM job_skills WHERE job_posting_id = 'p1' AND skill_name = 'Rust'",
            [],
        )
        .unwrap();
        assert_eq!(
            count(&conn, "SELECT COUNT(*) FROM skill_stamps"),
            2,
            "SQL and Go still need the stamp"
        );

        // The adapter writes beside rows written through the view, whose
        // stamp holds the enrichment id as text: its rows keep their own.
        let mut added = skill("p1", "Kotlin", Uuid::parse_str(e1).unwrap(), 5);
        added.taxonomy_links.clear();
        store.upsert_skills(&[added.clone()]).await.unwrap();
        let read = store
            .skills_for_job(&JobId::parse("p1").unwrap(), None)
            .await
            .unwrap();
        assert_eq!(read.iter().find(|s| s.skill_name == "Kotlin"), Some(&added));
        assert_eq!(
            strings(
                &conn,
                "SELECT COALESCE(k.stamped, '-') || ' ' || typeof(k.enrichment_id)
                 FROM job_skills_data k JOIN skill_terms n ON n.term_id = k.name_term
                 WHERE n.term = 'Kotlin'"
            ),
            ["- blob"]
        );
    }

    /// The contract's skill at `s@v1` with one ESCO candidate.
    fn skill(job: &str, name: &str, enrichment_id: Uuid, at: i64) -> ExtractedSkill {
        let mut s = jobenrich_storage_contract::fixtures::skill(job, name);
        s.skill_id = Uuid::new_v4();
        s.enrichment_id = Some(enrichment_id);
        s.enrichment_version = EnrichmentVersion::parse("s@v1").unwrap();
        s.created_at = chrono::DateTime::from_timestamp_micros(at).unwrap();
        s.taxonomy_links = vec![TaxonomyLink {
            label: "use databases".into(),
            score: 0.5,
            exact: false,
        }];
        s
    }

    /// A migrated store holding postings `jobs`, and a connection to its file.
    async fn store_with_postings(
        dir: &tempfile::TempDir,
        jobs: &[&str],
    ) -> (SqliteStore, Connection) {
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate().await.unwrap();
        let conn = Connection::open(&path).unwrap();
        for job in jobs {
            conn.execute(
                "INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
                 VALUES (?1, 'Dev', 'text', 1)",
                [job],
            )
            .unwrap();
        }
        (store, conn)
    }

    #[tokio::test]
    async fn the_writer_stamps_rows_that_share_values_and_pruning_removes_stamps() {
        let dir = tempfile::tempdir().unwrap();
        let (store, conn) = store_with_postings(&dir, &["p1", "p2"]).await;
        let (e1, e2, e3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let written = vec![
            skill("p1", "Rust", e1, 10),
            skill("p1", "SQL", e1, 10),
            skill("p1", "Go", e2, 10),
            skill("p2", "Rust", e3, 11),
        ];
        store.upsert_skills(&written).await.unwrap();
        assert_eq!(
            strings(
                &conn,
                "SELECT COALESCE(stamped, '-') || ' ' || typeof(links_term)
                 FROM job_skills_data ORDER BY job_posting_id, created_at, name_term"
            ),
            ["1 integer", "1 integer", "- integer", "1 integer"]
        );
        let mut read = Vec::new();
        for job in ["p1", "p2"] {
            read.extend(
                store
                    .skills_for_job(&JobId::parse(job).unwrap(), None)
                    .await
                    .unwrap(),
            );
        }
        let key = |s: &ExtractedSkill| (s.job_posting_id.clone(), s.skill_name.clone());
        read.sort_by_key(key);
        let mut expected = written.clone();
        expected.sort_by_key(key);
        assert_eq!(read, expected, "every field reads back as written");
        let ids = [JobId::parse("p1").unwrap(), JobId::parse("p2").unwrap()];
        let version = EnrichmentVersion::parse("s@v1").unwrap();
        let weights = store.skill_weights_for_jobs(&ids, &version).await.unwrap();
        let seen: Vec<(String, Option<Uuid>)> = weights
            .iter()
            .map(|w| (w.skill_name.to_string(), w.enrichment_id))
            .collect();
        assert_eq!(
            seen,
            [
                ("Go".to_string(), Some(e2)),
                ("Rust".to_string(), Some(e1)),
                ("SQL".to_string(), Some(e1)),
                ("Rust".to_string(), Some(e3)),
            ]
        );
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM skill_stamps"), 2);
        store.delete_skills_at_versions(&[version]).await.unwrap();
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM skill_stamps"), 0);
    }

    #[tokio::test]
    async fn a_link_list_is_one_term_across_batches_and_scores_differ_to_the_bit() {
        let dir = tempfile::tempdir().unwrap();
        let (store, conn) = store_with_postings(&dir, &["p1", "p2", "p3"]).await;
        let mut zero = skill("p3", "Rust", Uuid::new_v4(), 12);
        zero.taxonomy_links[0].score = 0.0;
        let mut negative_zero = skill("p3", "SQL", Uuid::new_v4(), 12);
        negative_zero.enrichment_id = zero.enrichment_id;
        negative_zero.taxonomy_links[0].score = -0.0;
        let batches = [
            vec![skill("p1", "Rust", Uuid::new_v4(), 10)],
            // A later transaction: the list comes from the committed memo.
            vec![skill("p2", "Rust", Uuid::new_v4(), 11)],
            vec![zero, negative_zero],
        ];
        for batch in &batches {
            store.upsert_skills(batch).await.unwrap();
        }
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(*) FROM job_skills_data WHERE links_term IS NOT NULL"
            ),
            4
        );
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(DISTINCT links_term) FROM job_skills_data WHERE job_posting_id IN ('p1', 'p2')"
            ),
            1,
            "one term for the list both batches wrote"
        );
        assert_eq!(
            count(
                &conn,
                "SELECT COUNT(DISTINCT links_term) FROM job_skills_data WHERE job_posting_id = 'p3'"
            ),
            2,
            "0.0 and -0.0 print differently"
        );
        let read = store
            .skills_for_job(&JobId::parse("p3").unwrap(), None)
            .await
            .unwrap();
        let mut scores: Vec<(String, u64)> = read
            .iter()
            .map(|s| (s.skill_name.clone(), s.taxonomy_links[0].score.to_bits()))
            .collect();
        scores.sort();
        assert_eq!(
            scores,
            [
                ("Rust".to_string(), 0.0f64.to_bits()),
                ("SQL".to_string(), (-0.0f64).to_bits())
            ]
        );
    }
}
