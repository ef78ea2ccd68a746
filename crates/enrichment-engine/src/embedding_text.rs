//! What a posting's vector is computed from: its title and its
//! skills-relevant sections (the whole description when no section is
//! relevant), cut at a character budget so the encoder's token limit falls
//! on the text that matters rather than on boilerplate.

use crate::SectionClassifier;
use jobenrich_domain::JobPosting;

/// The text to embed for `posting`, at most `max_chars` characters.
pub fn embedding_text(
    posting: &JobPosting,
    sections: &SectionClassifier,
    max_chars: usize,
) -> String {
    let description = posting.description.as_str();
    let relevant: Vec<&str> = sections
        .classify(description)
        .iter()
        .filter(|s| s.is_skills_relevant)
        .filter_map(|s| description.get(s.byte_start..s.byte_end))
        .collect();
    let mut text = posting.title.trim().to_string();
    let bodies: Vec<&str> = if relevant.is_empty() {
        vec![description]
    } else {
        relevant
    };
    for body in bodies {
        text.push_str(if text.is_empty() { "" } else { "\n" });
        text.push_str(body.trim());
    }
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineConfig;
    use chrono::Utc;
    use jobenrich_domain::JobId;

    fn posting(description: &str) -> JobPosting {
        JobPosting {
            job_posting_id: JobId::parse("j1").unwrap(),
            title: "Data Engineer".into(),
            company: None,
            location: None,
            description: description.into(),
            posted_at: None,
            source: None,
            url: None,
            ingested_at: Utc::now(),
        }
    }

    #[test]
    fn the_title_and_relevant_sections_are_kept_and_benefits_are_not() {
        let classifier = SectionClassifier::new(&EngineConfig::default());
        let text = embedding_text(
            &posting(
                "About us\nWe are a friendly company.\n\nRequirements:\n- Python and SQL\n- Airflow\n\nBenefits:\n- Free lunch and a gym\n",
            ),
            &classifier,
            10_000,
        );
        assert!(text.starts_with("Data Engineer\n"), "{text}");
        assert!(text.contains("Python and SQL"), "{text}");
        assert!(!text.contains("Free lunch"), "{text}");
    }

    #[test]
    fn a_posting_without_relevant_sections_uses_its_description_cut_at_the_budget() {
        let classifier = SectionClassifier::new(&EngineConfig::default());
        let text = embedding_text(&posting("ééé plain text"), &classifier, 16);
        assert_eq!(text.chars().count(), 16);
        assert!(text.starts_with("Data Engineer\néé"), "{text}");
    }
}
