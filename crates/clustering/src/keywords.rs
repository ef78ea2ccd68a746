//! Cluster keywords and names by class-based TF-IDF (c-TF-IDF, as in
//! BERTopic): all members of a cluster form one document; a term scores
//! `tf(t, c) / |c| · ln(1 + A / f(t))`, where `|c|` is the cluster's total
//! term weight, `A` the mean total weight per cluster and `f(t)` the term's
//! weight over all clusters. Terms frequent in one cluster and rare in the
//! others score highest, so the keywords say what sets a cluster apart.

use crate::features::{is_boilerplate_term, FeatureMatrix, SKILL_PREFIX, TITLE_PREFIX};
use jobenrich_domain::ClusterKeyword;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Name, keywords and size of one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterDescription {
    pub cluster_id: u32,
    pub name: String,
    pub keywords: Vec<ClusterKeyword>,
    pub size: u32,
}

/// Terms in a name.
const NAME_TERMS: usize = 3;

/// Describes clusters `0..k` of `labels` (row `i` of `matrix` is in
/// `labels[i]`) with up to `keywords_per_cluster` keywords each. Names are
/// the top keywords joined by " / ", made unique with the cluster id.
pub fn name_clusters(
    matrix: &FeatureMatrix,
    labels: &[u32],
    keywords_per_cluster: usize,
) -> Vec<ClusterDescription> {
    let k = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut term_weight: Vec<BTreeMap<u32, f64>> = vec![BTreeMap::new(); k];
    let mut sizes = vec![0u32; k];
    for (i, &label) in labels.iter().enumerate() {
        sizes[label as usize] += 1;
        let (cols, raw) = matrix.raw_row(i);
        let weights = &mut term_weight[label as usize];
        for (&c, &w) in cols.iter().zip(raw) {
            *weights.entry(c).or_insert(0.0) += w;
        }
    }
    let mut overall = vec![0.0; matrix.columns()];
    let mut totals = vec![0.0; k];
    for (c, weights) in term_weight.iter().enumerate() {
        for (&t, &w) in weights {
            overall[t as usize] += w;
            totals[c] += w;
        }
    }
    let mean_total = totals.iter().sum::<f64>() / k.max(1) as f64;

    let mut descriptions: Vec<ClusterDescription> = (0..k)
        .map(|c| {
            let mut scored: Vec<(f64, &str)> = term_weight[c]
                .iter()
                .map(|(&t, &w)| {
                    let score = w / totals[c] * (1.0 + mean_total / overall[t as usize]).ln();
                    (score, display_term(&matrix.vocabulary[t as usize]))
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
            let mut seen = HashSet::new();
            let keywords: Vec<ClusterKeyword> = scored
                .into_iter()
                // Stop words and sentence fragments say nothing about a family.
                .filter(|(_, term)| !is_boilerplate_term(term))
                // A word that is both a skill and a title token is shown once.
                .filter(|(_, term)| seen.insert(term.to_lowercase()))
                .take(keywords_per_cluster)
                .map(|(score, term)| ClusterKeyword {
                    term: term.to_string(),
                    score: (score * 10_000.0).round() / 10_000.0,
                })
                .collect();
            let name = if keywords.is_empty() {
                format!("cluster {c}")
            } else {
                keywords
                    .iter()
                    .take(NAME_TERMS)
                    .map(|k| k.term.as_str())
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            ClusterDescription {
                cluster_id: c as u32,
                name,
                keywords,
                size: sizes[c],
            }
        })
        .collect();

    let mut name_count: BTreeMap<String, usize> = BTreeMap::new();
    for d in &descriptions {
        *name_count.entry(d.name.clone()).or_insert(0) += 1;
    }
    for d in &mut descriptions {
        if name_count[&d.name] > 1 {
            d.name = format!("{} #{}", d.name, d.cluster_id);
        }
    }
    descriptions
}

fn display_term(term: &str) -> &str {
    term.strip_prefix(SKILL_PREFIX)
        .or_else(|| term.strip_prefix(TITLE_PREFIX))
        .unwrap_or(term)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{FeatureConfig, JobDocument, WeightedSkill};
    use jobenrich_domain::JobId;

    fn doc(id: usize, title: &str, skills: &[&str]) -> JobDocument {
        JobDocument {
            job_posting_id: JobId::parse(format!("j{id}")).unwrap(),
            title: title.into(),
            skills: skills
                .iter()
                .map(|s| WeightedSkill {
                    name: s.to_string().into(),
                    confidence: 0.9,
                })
                .collect(),
            embedding: None,
        }
    }

    #[test]
    fn keywords_name_what_distinguishes_each_cluster_not_what_all_share() {
        let mut docs = Vec::new();
        let mut labels = Vec::new();
        for i in 0..10 {
            docs.push(doc(
                i,
                "Backend Engineer",
                &["Rust", "PostgreSQL", "Communication"],
            ));
            labels.push(0);
            docs.push(doc(
                100 + i,
                "Registered Nurse",
                &["Triage", "Patient care", "Communication"],
            ));
            labels.push(1);
        }
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let described = name_clusters(&matrix, &labels, 4);
        assert_eq!(described.len(), 2);
        assert_eq!((described[0].size, described[1].size), (10, 10));
        let terms = |c: usize| -> Vec<&str> {
            described[c]
                .keywords
                .iter()
                .map(|k| k.term.as_str())
                .collect()
        };
        for t in ["rust", "postgresql", "backend", "engineer"] {
            assert!(terms(0).contains(&t), "{t} missing from {:?}", terms(0));
        }
        for t in ["triage", "patient care", "registered", "nurse"] {
            assert!(terms(1).contains(&t), "{t} missing from {:?}", terms(1));
        }
        // The skill every job has distinguishes nothing.
        assert!(!terms(0).contains(&"communication"));
        assert!(described[0]
            .keywords
            .windows(2)
            .all(|w| w[0].score >= w[1].score));
        assert_eq!(described[0].name.split(" / ").count(), 3);
        assert_ne!(described[0].name, described[1].name);
    }

    /// No shipped stop or boilerplate word can be a keyword (so none names a
    /// cluster), even when it is all that sets a cluster apart.
    #[test]
    fn no_shipped_stop_word_can_name_a_cluster() {
        use crate::features::{boilerplate_words, stop_words};
        let words: Vec<&str> = stop_words()
            .iter()
            .chain(boilerplate_words().iter())
            .copied()
            .collect();
        let mut docs = Vec::new();
        let mut labels = Vec::new();
        for (i, word) in words.iter().enumerate() {
            // Cluster 1 differs from cluster 0 only by the stop word, in the
            // title and as a skill name.
            docs.push(doc(2 * i, "Nurse", &["Triage"]));
            labels.push(0);
            docs.push(doc(2 * i + 1, &format!("Nurse {word}"), &[word, "Triage"]));
            labels.push(1);
        }
        docs.push(doc(
            9_999,
            "Nurse",
            &["after the deadline", "be paid 4 weeks holidays"],
        ));
        labels.push(1);
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let described = name_clusters(&matrix, &labels, 50);
        for d in &described {
            for k in &d.keywords {
                assert!(
                    !words.contains(&k.term.as_str()) && !is_boilerplate_term(&k.term),
                    "cluster {} has keyword {:?} (name {:?})",
                    d.cluster_id,
                    k.term,
                    d.name
                );
            }
        }
        assert!(words.contains(&"is") && words.contains(&"pm") && words.contains(&"per"));
        // Real skills stay, also those holding a boilerplate word.
        assert!(!is_boilerplate_term("time management"));
        assert!(!is_boilerplate_term("IT security"));
        assert!(!is_boilerplate_term("c++"));
    }

    #[test]
    fn equal_names_get_the_cluster_id() {
        let docs: Vec<JobDocument> = (0..4).map(|i| doc(i, "Welder", &["Welding"])).collect();
        let matrix = FeatureMatrix::build(&docs, &FeatureConfig::default());
        let described = name_clusters(&matrix, &[0, 0, 1, 1], 3);
        assert_eq!(described[0].name, "welding / welder #0");
        assert_eq!(described[1].name, "welding / welder #1");
    }
}
