//! Migration 15, `terms_without_replace`: `job_skills`' insert trigger adds a
//! missing `skill_terms` term with `NOT EXISTS` instead of `INSERT OR IGNORE`.
//! SQLite applies an outer statement's conflict policy to the statements of
//! the triggers it fires, so `INSERT OR REPLACE INTO job_skills` turned the
//! IGNORE into a REPLACE: an existing term was deleted and re-added under a
//! new id, and every row naming the old id dropped out of the view. The body
//! is migration 13's otherwise (a trigger is redefined whole).

pub const MIGRATION_15_TERMS_WITHOUT_REPLACE: &str = concat!(
    r#"
DROP TRIGGER job_skills_insert;
CREATE TRIGGER job_skills_insert INSTEAD OF INSERT ON job_skills
BEGIN
    INSERT INTO skill_terms (term)
    SELECT DISTINCT t FROM (SELECT COALESCE(NEW.enrichment_version, 'legacy') AS t
        UNION ALL SELECT NEW.skill_name UNION ALL SELECT NEW.skill_category
        UNION ALL SELECT NEW.source_strategies UNION ALL SELECT NEW.extracted_from_section
        UNION ALL SELECT NEW.taxonomy_ref
        UNION ALL SELECT label FROM ("#,
    link_labels_sql!("", "NEW.taxonomy_links"),
    r#"))
    WHERE t IS NOT NULL AND NOT EXISTS (SELECT 1 FROM skill_terms s WHERE s.term = t);
    -- After the labels: the compact list names them by id.
    INSERT INTO skill_terms (term)
    SELECT "#,
    compact_links_sql!("NEW.taxonomy_links"),
    r#" WHERE "#,
    links_compact_sql!("NEW.taxonomy_links"),
    r#" AND NOT EXISTS (SELECT 1 FROM skill_terms s WHERE s.term = "#,
    compact_links_sql!("NEW.taxonomy_links"),
    r#");
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
"#
);

#[cfg(test)]
mod tests {
    use crate::migrations::tests::{strings, SKILL_ROWS};
    use crate::SqliteStore;
    use jobenrich_domain::SchemaMigrator;
    use rusqlite::{params, Connection};

    const LINKS: &str = r#"[{"label":"use databases","score":0.5,"exact":false}]"#;

    #[tokio::test]
    async fn insert_or_replace_through_the_view_keeps_every_other_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replace.db");
        let store = SqliteStore::open(&path).unwrap();
        store.migrate().await.unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO job_postings (job_posting_id, title, description, ingested_at)
             VALUES ('p1', 'Dev', 'text', 1), ('p2', 'Dev', 'text', 1);",
        )
        .unwrap();
        let insert = |verb: &str, job: &str, confidence: f64| {
            conn.execute(
                &format!(
                    "{verb} INTO job_skills (job_posting_id, skill_name, skill_category,
                         confidence_score, source_strategies, enrichment_version, created_at,
                         skill_id, taxonomy_links)
                     VALUES (?1, 'Rust', 'programming_languages', ?2, '[]', 'v1', 1,
                         '00000000-0000-4000-8000-00000000000a', ?3)"
                ),
                params![job, confidence, LINKS],
            )
            .unwrap();
        };
        insert("INSERT", "p1", 0.5);
        // Every term of this row (and its compact links) is already stored.
        insert("INSERT OR REPLACE", "p2", 0.5);
        assert_eq!(
            strings(
                &conn,
                "SELECT job_posting_id || ' ' || taxonomy_links FROM job_skills"
            ),
            [format!("p1 {LINKS}"), format!("p2 {LINKS}")],
            "p1's row still reads whole"
        );
        // A replace of the same key is an upsert, as on a table.
        insert("INSERT OR REPLACE", "p1", 0.75);
        let rows = strings(&conn, SKILL_ROWS);
        assert_eq!(rows.len(), 2);
        assert!(
            rows[0].starts_with("p1|Rust|programming_languages|0.75|"),
            "{rows:?}"
        );
    }
}
