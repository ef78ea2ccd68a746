//! Migration 16, `compact_sections`: the strings every section row repeats,
//! stored once. A row held its classifier version (~23 B), section type and
//! classification method as text and its id as a 36-character UUID: about
//! 60 of its ~158 bytes. They become `skill_terms` ids (the table holds every
//! string a result row repeats) and a 16-byte BLOB, as skill rows did in
//! migration 10.
//!
//! `section_classifications` stays a view with every seed column, and gains
//! the `INSTEAD OF` triggers `job_skills` and `job_clusters` have, so SQL
//! written against the table works again (since migration 9 it could only be
//! read).

pub const MIGRATION_16_COMPACT_SECTIONS: &str = concat!(
    r#"
INSERT INTO skill_terms (term)
SELECT DISTINCT t FROM (
    SELECT classifier_version AS t FROM section_classifications_data
    UNION SELECT section_type FROM section_classifications_data
    UNION SELECT classification_method FROM section_classifications_data)
WHERE NOT EXISTS (SELECT 1 FROM skill_terms s WHERE s.term = t);

CREATE TABLE section_classifications_compact (
    job_posting_id        TEXT NOT NULL REFERENCES job_postings(job_posting_id),
    version_term          INTEGER NOT NULL REFERENCES skill_terms(term_id),
    section_index         INTEGER NOT NULL CHECK (section_index >= 0),
    section_header        TEXT,
    type_term             INTEGER NOT NULL REFERENCES skill_terms(term_id),
    -- NULL: the description's characters [start_offset, end_offset).
    section_text          TEXT,
    start_offset          INTEGER NOT NULL,
    end_offset            INTEGER NOT NULL,
    is_skills_relevant    INTEGER NOT NULL,
    relevance_probability REAL NOT NULL,
    method_term           INTEGER NOT NULL REFERENCES skill_terms(term_id),
    created_at            INTEGER NOT NULL,
    -- A 16-byte BLOB (text only for a legacy id that is not a UUID).
    classification_id     BLOB NOT NULL,
    PRIMARY KEY (job_posting_id, version_term, section_index)
) WITHOUT ROWID;

INSERT INTO section_classifications_compact (job_posting_id, version_term, section_index,
    section_header, type_term, section_text, start_offset, end_offset, is_skills_relevant,
    relevance_probability, method_term, created_at, classification_id)
SELECT s.job_posting_id, v.term_id, s.section_index, s.section_header, ty.term_id,
    s.section_text, s.start_offset, s.end_offset, s.is_skills_relevant,
    s.relevance_probability, m.term_id, s.created_at, "#,
    uuid_blob_sql!("s.classification_id"),
    r#"
FROM section_classifications_data s
JOIN skill_terms v ON v.term = s.classifier_version
JOIN skill_terms ty ON ty.term = s.section_type
JOIN skill_terms m ON m.term = s.classification_method
ORDER BY s.job_posting_id, v.term_id, s.section_index;

DROP VIEW section_classifications;
DROP TABLE section_classifications_data;
ALTER TABLE section_classifications_compact RENAME TO section_classifications_data;

CREATE VIEW section_classifications AS
SELECT s.job_posting_id, v.term AS classifier_version, s.section_index, s.section_header,
    ty.term AS section_type,
    COALESCE(s.section_text, substr(p.description, s.start_offset + 1,
                                    s.end_offset - s.start_offset)) AS section_text,
    s.start_offset, s.end_offset, s.is_skills_relevant, s.relevance_probability,
    m.term AS classification_method, s.created_at, "#,
    uuid_text_sql!("s.classification_id"),
    r#" AS classification_id
FROM section_classifications_data s
JOIN job_postings p ON p.job_posting_id = s.job_posting_id
JOIN skill_terms v ON v.term_id = s.version_term
JOIN skill_terms ty ON ty.term_id = s.type_term
JOIN skill_terms m ON m.term_id = s.method_term;

-- Writes through the view land in the table above. The seed table's NOT NULL
-- rules are checked first: a NULL text would read as the posting's slice,
-- and a NULL term as a missing id.
CREATE TRIGGER section_classifications_insert INSTEAD OF INSERT ON section_classifications
BEGIN
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: section_classifications.classifier_version')
    WHERE NEW.classifier_version IS NULL;
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: section_classifications.section_type')
    WHERE NEW.section_type IS NULL;
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: section_classifications.section_text')
    WHERE NEW.section_text IS NULL;
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: section_classifications.classification_method')
    WHERE NEW.classification_method IS NULL;
    -- NOT EXISTS, not OR IGNORE: an outer INSERT OR REPLACE would turn that
    -- into a replace that re-keys a term other rows name.
    INSERT INTO skill_terms (term)
    SELECT DISTINCT t FROM (SELECT NEW.classifier_version AS t
        UNION ALL SELECT NEW.section_type UNION ALL SELECT NEW.classification_method)
    WHERE NOT EXISTS (SELECT 1 FROM skill_terms s WHERE s.term = t);
    INSERT INTO section_classifications_data (job_posting_id, version_term, section_index,
        section_header, type_term, section_text, start_offset, end_offset, is_skills_relevant,
        relevance_probability, method_term, created_at, classification_id)
    VALUES (NEW.job_posting_id,
        (SELECT term_id FROM skill_terms WHERE term = NEW.classifier_version),
        NEW.section_index, NEW.section_header,
        (SELECT term_id FROM skill_terms WHERE term = NEW.section_type),
        CASE WHEN NEW.section_text IS (SELECT substr(p.description, NEW.start_offset + 1,
                                                     NEW.end_offset - NEW.start_offset)
                                       FROM job_postings p
                                       WHERE p.job_posting_id = NEW.job_posting_id)
             THEN NULL ELSE NEW.section_text END,
        NEW.start_offset, NEW.end_offset, NEW.is_skills_relevant, NEW.relevance_probability,
        (SELECT term_id FROM skill_terms WHERE term = NEW.classification_method),
        NEW.created_at, "#,
    uuid_blob_sql!("COALESCE(NEW.classification_id, '')"),
    r#");
END;
CREATE TRIGGER section_classifications_delete INSTEAD OF DELETE ON section_classifications
BEGIN
    DELETE FROM section_classifications_data
    WHERE job_posting_id = OLD.job_posting_id
      AND version_term = (SELECT term_id FROM skill_terms WHERE term = OLD.classifier_version)
      AND section_index = OLD.section_index;
END;
CREATE TRIGGER section_classifications_update INSTEAD OF UPDATE ON section_classifications
BEGIN
    DELETE FROM section_classifications
    WHERE job_posting_id = OLD.job_posting_id AND classifier_version = OLD.classifier_version
      AND section_index = OLD.section_index;
    INSERT INTO section_classifications (job_posting_id, classifier_version, section_index,
        section_header, section_type, section_text, start_offset, end_offset,
        is_skills_relevant, relevance_probability, classification_method, created_at,
        classification_id)
    VALUES (NEW.job_posting_id, NEW.classifier_version, NEW.section_index, NEW.section_header,
        NEW.section_type, NEW.section_text, NEW.start_offset, NEW.end_offset,
        NEW.is_skills_relevant, NEW.relevance_probability, NEW.classification_method,
        NEW.created_at, NEW.classification_id);
END;
"#
);

#[cfg(test)]
mod tests {
    use crate::migrations::tests::strings;
    use crate::SqliteStore;
    use jobenrich_domain::{JobId, SchemaMigrator, SectionRepository};
    use rusqlite::Connection;

    /// Every seed column of every section, as text.
    const SECTION_ROWS: &str = "SELECT job_posting_id || '|' || classifier_version || '|' ||
            section_index || '|' || COALESCE(section_header, '-') || '|' || section_type || '|' ||
            section_text || '|' || start_offset || '|' || end_offset || '|' ||
            is_skills_relevant || '|' || relevance_probability || '|' ||
            classification_method || '|' || created_at || '|' || classification_id
        FROM section_classifications ORDER BY job_posting_id, classifier_version, section_index";

    const POSTINGS: &str =
        "INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
        VALUES ('p1', 'Dev', 'Zürich – Rust and SQL', 1), ('p2', 'Ops', 'Linux and Bash', 1);";

    #[tokio::test]
    async fn migration_16_stores_section_strings_once_and_every_column_reads_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v15.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate_to(15).await.unwrap();
        let conn = Connection::open(&path).unwrap();
        // Schema 15's table: text NULL where it is the slice, ids as text
        // (one a legacy id that is not a UUID), two classifier versions.
        conn.execute_batch(&format!(
            "{POSTINGS}
            INSERT INTO section_classifications_data (job_posting_id, classifier_version,
                section_index, section_header, section_type, section_text, start_offset,
                end_offset, is_skills_relevant, relevance_probability, classification_method,
                created_at, classification_id)
            VALUES ('p1', 'c@v1', 0, NULL, 'intro', NULL, 0, 6, 0, 0.125, 'rule_based', 2,
                    '00000000-0000-4000-8000-00000000000a'),
                   ('p1', 'c@v1', 1, 'Skills', 'skills', NULL, 9, 21, 1, 0.875, 'rule_based', 2,
                    '00000000-0000-4000-8000-00000000000b'),
                   ('p1', 'c@v2', 0, NULL, 'skills', 'edited by hand', 9, 21, 1, 0.5,
                    'ml_model', 3, 'legacy-7'),
                   ('p2', 'c@v1', 0, NULL, 'skills', NULL, 0, 5, 1, 0.75, 'rule_based', 4,
                    '00000000-0000-4000-8000-00000000000c');"
        ))
        .unwrap();
        let before = strings(&conn, SECTION_ROWS);
        assert_eq!(before.len(), 4);

        store.migrate().await.unwrap();
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            strings(&conn, SECTION_ROWS),
            before,
            "every column reads as before"
        );
        // The repeated strings are term ids; UUIDs are BLOBs, the legacy id text.
        let stored = strings(
            &conn,
            "SELECT typeof(version_term) || typeof(type_term) || typeof(method_term) || '/' ||
                 typeof(classification_id) || '/' || COALESCE(section_text, '<slice>')
             FROM section_classifications_data ORDER BY job_posting_id, version_term, section_index",
        );
        assert_eq!(
            stored,
            [
                "integerintegerinteger/blob/<slice>",
                "integerintegerinteger/blob/<slice>",
                "integerintegerinteger/text/edited by hand",
                "integerintegerinteger/blob/<slice>",
            ]
        );
        // The adapter reads them back whole, by version or all.
        let p1 = JobId::parse("p1").unwrap();
        let v1 = store
            .sections_for_job(&p1, Some("c@v1".into()))
            .await
            .unwrap();
        assert_eq!(
            v1.iter()
                .map(|s| s.section_text.as_str())
                .collect::<Vec<_>>(),
            ["Zürich", "Rust and SQL"]
        );
        assert_eq!(
            v1[1].classification_id.to_string(),
            "00000000-0000-4000-8000-00000000000b"
        );
        // (The domain's ids are UUIDs: the legacy row reads back through SQL only.)
        // Pruning a version by its name still finds its rows.
        assert_eq!(
            store
                .delete_sections_at_versions(&["c@v1".into()])
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            strings(&conn, SECTION_ROWS),
            [before[2].clone()],
            "only c@v2 is left"
        );
    }

    #[tokio::test]
    async fn sql_written_against_the_section_table_works_through_the_view() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("view.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate().await.unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(POSTINGS).unwrap();
        let insert = |verb: &str, job: &str, index: i64, text: &str| {
            conn.execute(
                &format!(
                    "{verb} INTO section_classifications (job_posting_id, classifier_version,
                         section_index, section_header, section_type, section_text, start_offset,
                         end_offset, is_skills_relevant, relevance_probability,
                         classification_method, created_at, classification_id)
                     VALUES (?1, 'c@v1', ?2, NULL, 'skills', ?3, 9, 21, 1, 0.5, 'rule_based', 7,
                             '00000000-0000-4000-8000-00000000000' || ?2)"
                ),
                rusqlite::params![job, index, text],
            )
        };
        insert("INSERT", "p1", 1, "Rust and SQL").unwrap();
        insert("INSERT", "p1", 2, "not the slice").unwrap();
        insert("INSERT", "p2", 1, "Bash").unwrap();
        assert_eq!(
            strings(
                &conn,
                "SELECT COALESCE(section_text, '<slice>') FROM section_classifications_data
                 ORDER BY job_posting_id, section_index"
            ),
            ["<slice>", "not the slice", "Bash"],
            "the text is kept only where it is not the posting's slice"
        );
        // A NULL text would read as the slice: refused, like the seed table's NOT NULL.
        let err = conn
            .execute(
                "INSERT INTO section_classifications (job_posting_id, classifier_version,
                     section_index, section_type, section_text, start_offset, end_offset,
                     is_skills_relevant, relevance_probability, classification_method, created_at)
                 VALUES ('p1', 'c@v1', 3, 'skills', NULL, 0, 1, 1, 0.5, 'rule_based', 7)",
                [],
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("section_classifications.section_text"),
            "{err}"
        );
        // OR REPLACE replaces the row and keeps every other row naming its terms.
        insert("INSERT OR REPLACE", "p1", 2, "replaced text").unwrap();
        conn.execute(
            "UPDATE section_classifications SET relevance_probability = 0.25
             WHERE job_posting_id = 'p2'",
            [],
        )
        .unwrap();
        conn.execute(
            "DELETE FROM section_classifications WHERE job_posting_id = 'p1' AND section_index = 1",
            [],
        )
        .unwrap();
        assert_eq!(
            strings(
                &conn,
                "SELECT job_posting_id || '/' || section_index || '/' || section_text || '/' ||
                     relevance_probability || '/' || classification_id
                 FROM section_classifications ORDER BY job_posting_id, section_index"
            ),
            [
                "p1/2/replaced text/0.5/00000000-0000-4000-8000-000000000002",
                "p2/1/Bash/0.25/00000000-0000-4000-8000-000000000001",
            ]
        );
        let p2 = JobId::parse("p2").unwrap();
        let read = store.sections_for_job(&p2, None).await.unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].relevance_probability, 0.25);
    }
}
