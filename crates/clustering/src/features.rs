//! Sparse TF-IDF features of jobs: one term per skill (`skill:<name>`, its
//! weight the extractor's confidence) and one per title token
//! (`title:<token>`). Rows are L2-normalized so that Euclidean k-means on
//! them behaves like cosine clustering.
//!
//! The vocabulary is sorted, so the same documents always give the same
//! matrix whatever order hash maps iterate in.

use jobenrich_domain::JobId;
use std::collections::HashMap;

/// Term prefixes; keywords strip them for display.
pub const SKILL_PREFIX: &str = "skill:";
pub const TITLE_PREFIX: &str = "title:";

/// Title words that say nothing about the job family (seniority, numbering),
/// beside the shipped stop words (`stopwords.txt`).
const TITLE_STOPWORDS: &[&str] = &[
    "sr", "jr", "senior", "junior", "mid", "level", "ii", "iii", "iv", "lead",
];

/// English function words (`stopwords.txt`).
const STOPWORDS_FILE: &str = include_str!("stopwords.txt");
/// Job-advert boilerplate words (`boilerplate.txt`).
const BOILERPLATE_FILE: &str = include_str!("boilerplate.txt");

fn word_list(text: &'static str) -> std::collections::HashSet<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The shipped English function words, lower case.
pub fn stop_words() -> &'static std::collections::HashSet<&'static str> {
    static WORDS: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    WORDS.get_or_init(|| word_list(STOPWORDS_FILE))
}

/// The shipped job-advert boilerplate words, lower case.
pub fn boilerplate_words() -> &'static std::collections::HashSet<&'static str> {
    static WORDS: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    WORDS.get_or_init(|| word_list(BOILERPLATE_FILE))
}

/// True when a term cannot name a cluster: a phrase opening with a function
/// word ("is", "after the deadline", "be paid 4 weeks holidays" — sentence
/// fragments, not skills), or made only of function words, boilerplate words
/// ("pm", "per week") and numbers.
pub fn is_boilerplate_term(term: &str) -> bool {
    let words: Vec<String> = term
        .split(|c: char| !(c.is_alphanumeric() || c == '+' || c == '#' || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let (stop, boilerplate) = (stop_words(), boilerplate_words());
    match words.first() {
        None => true,
        Some(first) => {
            stop.contains(first.as_str())
                || words.iter().all(|w| {
                    stop.contains(w.as_str())
                        || boilerplate.contains(w.as_str())
                        || w.chars().all(|c| c.is_ascii_digit())
                })
        }
    }
}

/// A skill of a job with the extractor's confidence in it.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedSkill {
    pub name: String,
    pub confidence: f64,
}

/// What clustering knows about one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDocument {
    pub job_posting_id: JobId,
    pub title: String,
    pub skills: Vec<WeightedSkill>,
}

/// How terms are weighted before IDF.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureConfig {
    /// Multiplies a skill's confidence.
    pub skill_weight: f64,
    /// Weight of each title token occurrence.
    pub title_weight: f64,
    /// Terms in fewer documents than this are dropped (noise, typos).
    pub min_document_frequency: usize,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            skill_weight: 1.0,
            title_weight: 0.5,
            min_document_frequency: 2,
        }
    }
}

/// Jobs × terms in compressed sparse rows, with both the raw term weights
/// (for c-TF-IDF) and the normalized TF-IDF values (for k-means).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// Term names, sorted; a column index points here.
    pub vocabulary: Vec<String>,
    /// Row `i` spans `indptr[i]..indptr[i + 1]` of `indices` / `values`.
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    /// L2-normalized TF-IDF.
    pub values: Vec<f64>,
    /// Weights before IDF and normalization.
    pub raw_weights: Vec<f64>,
}

impl FeatureMatrix {
    pub fn rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }

    pub fn columns(&self) -> usize {
        self.vocabulary.len()
    }

    /// Column indices and TF-IDF values of one row.
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let span = self.indptr[i]..self.indptr[i + 1];
        (&self.indices[span.clone()], &self.values[span])
    }

    /// Column indices and raw weights of one row.
    pub fn raw_row(&self, i: usize) -> (&[u32], &[f64]) {
        let span = self.indptr[i]..self.indptr[i + 1];
        (&self.indices[span.clone()], &self.raw_weights[span])
    }

    /// Squared L2 norm of a row (1, or 0 for a job without known terms).
    pub fn row_norm_squared(&self, i: usize) -> f64 {
        self.row(i).1.iter().map(|v| v * v).sum()
    }

    /// Builds the matrix for `documents`, one row each, in their order.
    pub fn build(documents: &[JobDocument], config: &FeatureConfig) -> Self {
        let per_document: Vec<Vec<(String, f64)>> = documents
            .iter()
            .map(|d| document_terms(d, config))
            .collect();

        let mut document_frequency: HashMap<&str, usize> = HashMap::new();
        for terms in &per_document {
            for (term, _) in terms {
                *document_frequency.entry(term.as_str()).or_insert(0) += 1;
            }
        }
        let mut vocabulary: Vec<String> = document_frequency
            .iter()
            .filter(|(_, &df)| df >= config.min_document_frequency.max(1))
            .map(|(term, _)| (*term).to_string())
            .collect();
        vocabulary.sort_unstable();
        let column: HashMap<&str, u32> = vocabulary
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i as u32))
            .collect();
        let n = documents.len() as f64;
        // Smoothed IDF as in scikit-learn: never zero, never infinite.
        let idf: Vec<f64> = vocabulary
            .iter()
            .map(|t| ((1.0 + n) / (1.0 + document_frequency[t.as_str()] as f64)).ln() + 1.0)
            .collect();

        let mut indptr = Vec::with_capacity(documents.len() + 1);
        indptr.push(0);
        let mut indices = Vec::new();
        let mut values = Vec::new();
        let mut raw_weights = Vec::new();
        let mut row: Vec<(u32, f64)> = Vec::new();
        for terms in &per_document {
            row.clear();
            row.extend(
                terms
                    .iter()
                    .filter_map(|(t, w)| column.get(t.as_str()).map(|&c| (c, *w))),
            );
            row.sort_unstable_by_key(|(c, _)| *c);
            let norm = row
                .iter()
                .map(|(c, w)| (w * idf[*c as usize]).powi(2))
                .sum::<f64>()
                .sqrt();
            for &(c, w) in &row {
                indices.push(c);
                raw_weights.push(w);
                values.push(if norm > 0.0 {
                    w * idf[c as usize] / norm
                } else {
                    0.0
                });
            }
            indptr.push(indices.len());
        }
        Self {
            vocabulary,
            indptr,
            indices,
            values,
            raw_weights,
        }
    }
}

/// Lower-cased title tokens without stopwords, numbers and one-letter words;
/// `+` and `#` stay (c++, c#).
pub fn title_tokens(title: &str) -> impl Iterator<Item = String> + '_ {
    title
        .split(|c: char| !(c.is_alphanumeric() || c == '+' || c == '#'))
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .filter(|t| {
            t.chars().count() > 1
                && !t.chars().all(|c| c.is_ascii_digit())
                && !TITLE_STOPWORDS.contains(&t.as_str())
                && !stop_words().contains(t.as_str())
                && !boilerplate_words().contains(t.as_str())
        })
}

/// A document's terms with their raw weights, each term once.
fn document_terms(document: &JobDocument, config: &FeatureConfig) -> Vec<(String, f64)> {
    let mut weights: HashMap<String, f64> = HashMap::new();
    for skill in &document.skills {
        let name = skill.name.trim().to_lowercase();
        if name.is_empty() || !skill.confidence.is_finite() || skill.confidence <= 0.0 {
            continue;
        }
        *weights
            .entry(format!("{SKILL_PREFIX}{name}"))
            .or_insert(0.0) += skill.confidence * config.skill_weight;
    }
    for token in title_tokens(&document.title) {
        *weights
            .entry(format!("{TITLE_PREFIX}{token}"))
            .or_insert(0.0) += config.title_weight;
    }
    weights.into_iter().filter(|(_, w)| *w > 0.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str, skills: &[(&str, f64)]) -> JobDocument {
        JobDocument {
            job_posting_id: JobId::parse(id).unwrap(),
            title: title.into(),
            skills: skills
                .iter()
                .map(|(n, c)| WeightedSkill {
                    name: n.to_string(),
                    confidence: *c,
                })
                .collect(),
        }
    }

    #[test]
    fn title_tokens_drop_stopwords_and_keep_cpp() {
        let tokens: Vec<String> =
            title_tokens("Senior C++ Engineer (m/f/d) - Level II, 2024").collect();
        assert_eq!(tokens, ["c++", "engineer"]);
    }

    #[test]
    fn rows_are_normalized_and_weighted_by_confidence_and_idf() {
        let docs = [
            doc("a", "Data Engineer", &[("Python", 1.0), ("SQL", 0.5)]),
            doc("b", "Data Analyst", &[("SQL", 0.9)]),
            doc("c", "Nurse", &[("Patient care", 0.8)]),
        ];
        let config = FeatureConfig {
            min_document_frequency: 1,
            ..FeatureConfig::default()
        };
        let m = FeatureMatrix::build(&docs, &config);
        assert_eq!(m.rows(), 3);
        assert!(m.vocabulary.windows(2).all(|w| w[0] < w[1]));
        for i in 0..3 {
            assert!((m.row_norm_squared(i) - 1.0).abs() < 1e-12);
        }
        let (cols, vals) = m.row(0);
        let weight = |term: &str| {
            let c = m.vocabulary.iter().position(|t| t == term).unwrap() as u32;
            vals[cols.iter().position(|&x| x == c).unwrap()]
        };
        // Python (conf 1.0, in 1 doc) outweighs SQL (conf 0.5, in 2 docs).
        assert!(weight("skill:python") > 2.0 * weight("skill:sql"));
        let (raw_cols, raw) = m.raw_row(0);
        assert_eq!(raw_cols.len(), raw.len());
        assert!(raw.contains(&0.5));
    }

    #[test]
    fn rare_terms_are_dropped_and_empty_rows_stay_zero() {
        let docs = [
            doc("a", "Welder", &[("Welding", 0.9)]),
            doc("b", "Welder", &[("Welding", 0.9)]),
            doc("c", "Astronaut", &[]),
        ];
        let m = FeatureMatrix::build(&docs, &FeatureConfig::default());
        assert_eq!(m.vocabulary, ["skill:welding", "title:welder"]);
        assert_eq!(m.row(2).0.len(), 0);
        assert_eq!(m.row_norm_squared(2), 0.0);
    }
}
