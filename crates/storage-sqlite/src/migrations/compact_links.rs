//! Migration 12, `compact_taxonomy_links`: a skill's ranked ESCO candidates
//! were ~400 bytes of JSON per row (five labels of ~30 characters, scores
//! printed to 17 digits, `"exact":false`), most of a linked store. Labels
//! now live once in `skill_terms` and a row keeps `[[term_id, score], …]`
//! (`[term_id, score, 1]` for the lexicon's exact link) in
//! `job_skills_data.taxonomy_link_terms`; the `job_skills` view rebuilds the
//! seed's JSON from it, score text untouched. A value that would not rebuild
//! to the same text (hand-written JSON of another shape) stays verbatim in
//! `taxonomy_links`.

/// The compact form of seed JSON `$x` (`[{"label", "score", "exact"}, …]`):
/// elements that are not objects with a text label come out as nulls, which
/// the rebuild check then refuses.
macro_rules! compact_links_sql {
    ($x:expr) => {
        concat!(
            "(SELECT json_group_array(CASE WHEN l.exact THEN json_array(l.t, json(l.score), 1) \
             ELSE json_array(l.t, json(l.score)) END) FROM (SELECT \
             CASE WHEN e.type = 'object' THEN (SELECT term_id FROM skill_terms WHERE term = \
             CASE WHEN json_type(e.value, '$.label') = 'text' THEN json_extract(e.value, '$.label') END) END AS t, \
             CASE WHEN e.type = 'object' THEN e.value -> '$.score' END AS score, \
             CASE WHEN e.type = 'object' THEN json_extract(e.value, '$.exact') END AS exact \
             FROM json_each(",
            $x,
            ") e) l)"
        )
    };
}

/// The seed's JSON rebuilt from compact links `$c`: labels from
/// `skill_terms`, scores as stored (`json()` keeps a number's text).
macro_rules! rebuilt_links_sql {
    ($c:expr) => {
        concat!(
            "(SELECT json_group_array(json_object('label', \
             (SELECT term FROM skill_terms WHERE term_id = e.value ->> 0), \
             'score', json(e.value -> 1), \
             'exact', json(CASE WHEN json_array_length(e.value) > 2 THEN 'true' ELSE 'false' END))) \
             FROM json_each(",
            $c,
            ") e)"
        )
    };
}

/// True when seed JSON `$x` rebuilds exactly from its compact form (false
/// for NULL and for text that is not JSON).
macro_rules! links_compact_sql {
    ($x:expr) => {
        concat!(
            "(CASE WHEN json_valid(",
            $x,
            ") THEN ",
            rebuilt_links_sql!(compact_links_sql!($x)),
            " IS ",
            $x,
            " ELSE 0 END)"
        )
    };
}

/// The labels of seed JSON `$x`, one row each (`label`), for `skill_terms`;
/// `$from` names the tables `$x` comes from (json_each may follow them).
macro_rules! link_labels_sql {
    ($from:expr, $x:expr) => {
        concat!(
            "SELECT CASE WHEN e.type = 'object' THEN CASE WHEN json_type(e.value, '$.label') = 'text' \
             THEN json_extract(e.value, '$.label') END END AS label \
             FROM ",
            $from,
            "json_each(CASE WHEN json_valid(",
            $x,
            ") THEN ",
            $x,
            " END) e"
        )
    };
}

pub const MIGRATION_12_COMPACT_TAXONOMY_LINKS: &str = concat!(
    r#"
ALTER TABLE job_skills_data ADD COLUMN taxonomy_link_terms TEXT;

INSERT OR IGNORE INTO skill_terms (term)
SELECT label FROM ("#,
    link_labels_sql!("job_skills_data k, ", "k.taxonomy_links"),
    r#" WHERE k.taxonomy_links IS NOT NULL) WHERE label IS NOT NULL;

-- SET reads the row as it was, so both columns see the old text.
UPDATE job_skills_data
SET taxonomy_link_terms = "#,
    compact_links_sql!("taxonomy_links"),
    r#",
    taxonomy_links = NULL
WHERE taxonomy_links IS NOT NULL AND "#,
    links_compact_sql!("taxonomy_links"),
    r#";

DROP VIEW job_skills;
CREATE VIEW job_skills AS
SELECT k.job_posting_id, n.term AS skill_name, c.term AS skill_category, k.confidence_score,
    st.term AS source_strategies, k.section_relevance_score,
    sec.term AS extracted_from_section,
    COALESCE(k.context_snippet, CASE WHEN k.snippet_start IS NOT NULL THEN "#,
    rebuilt_snippet_sql!("p.description", "k.snippet_start", "k.snippet_end"),
    r#" END) AS context_snippet,
    k.position_in_text, k.mention_count, tr.term AS taxonomy_ref,
    v.term AS enrichment_version, k.created_at, "#,
    uuid_text_sql!("k.skill_id"),
    r#" AS skill_id, "#,
    uuid_text_sql!("k.enrichment_id"),
    r#" AS enrichment_id, k.mention_spans,
    CASE WHEN k.taxonomy_link_terms IS NOT NULL THEN "#,
    rebuilt_links_sql!("k.taxonomy_link_terms"),
    r#" ELSE k.taxonomy_links END AS taxonomy_links
FROM job_skills_data k
JOIN skill_terms v ON v.term_id = k.version_term
JOIN skill_terms n ON n.term_id = k.name_term
JOIN skill_terms c ON c.term_id = k.category_term
JOIN skill_terms st ON st.term_id = k.strategies_term
LEFT JOIN skill_terms sec ON sec.term_id = k.section_term
LEFT JOIN skill_terms tr ON tr.term_id = k.taxonomy_ref_term
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
    INSERT INTO job_skills_data (job_posting_id, version_term, name_term, category_term,
        confidence_score, strategies_term, section_relevance_score, section_term,
        context_snippet, position_in_text, mention_count, taxonomy_ref_term, created_at,
        skill_id, enrichment_id, mention_spans, taxonomy_links, taxonomy_link_terms)
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
    r#" THEN "#,
    compact_links_sql!("NEW.taxonomy_links"),
    r#" END);
END;
CREATE TRIGGER job_skills_delete INSTEAD OF DELETE ON job_skills
BEGIN
    DELETE FROM job_skills_data
    WHERE job_posting_id = OLD.job_posting_id
      AND version_term = (SELECT term_id FROM skill_terms WHERE term = OLD.enrichment_version)
      AND name_term = (SELECT term_id FROM skill_terms WHERE term = OLD.skill_name);
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
