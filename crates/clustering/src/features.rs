//! Sparse TF-IDF features of jobs: one term per skill (`skill:<name>`, its
//! weight the extractor's confidence) and one per title token
//! (`title:<token>`). Rows are L2-normalized so that Euclidean k-means on
//! them behaves like cosine clustering.
//!
//! The vocabulary is sorted, so the same documents always give the same
//! matrix whatever order hash maps iterate in.
//!
//! [`FeatureMatrix::with_embeddings`] appends each job's posting vector as
//! dense columns after the terms (`embedding_weight` of `job_clusterer@v2.0`):
//! row = sqrt(1-w)·tfidf ⊕ sqrt(w)·vector, still unit length, so k-means and
//! the silhouette need no change. Only term columns can name a cluster.

use foldhash::HashMap;
use jobenrich_domain::JobId;
use std::sync::Arc;
use thiserror::Error;

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
    /// Shared with every other job that has the skill.
    pub name: Arc<str>,
    pub confidence: f64,
}

/// What clustering knows about one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDocument {
    pub job_posting_id: JobId,
    pub title: String,
    pub skills: Vec<WeightedSkill>,
    /// The posting's vector (`embeddings` enrichment); only read when the
    /// clusterer's `embedding_weight` is above 0.
    pub embedding: Option<Vec<f32>>,
}

/// Why posting vectors cannot join the features.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmbeddingError {
    /// Some jobs have no vector: clustering them on skills alone would put
    /// them in a different space from the rest, so the run is refused.
    #[error("{missing} of {total} jobs have no posting vector (first: {first})")]
    Missing {
        missing: usize,
        total: usize,
        first: JobId,
    },
    #[error("job {job} has a {got}-dimensional vector, the others {expected}: vectors of different encoders cannot be mixed")]
    DimensionMismatch {
        job: JobId,
        expected: usize,
        got: usize,
    },
    #[error("job {0} has a zero or non-finite posting vector")]
    Degenerate(JobId),
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
    /// Weights before IDF and normalization (0 in embedding columns).
    pub raw_weights: Vec<f64>,
    /// Dense embedding columns after the terms (0 without embeddings):
    /// column `vocabulary.len() + d` is dimension `d` of the posting vector.
    pub embedding_dim: usize,
}

impl FeatureMatrix {
    pub fn rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }

    /// Term columns plus embedding columns.
    pub fn columns(&self) -> usize {
        self.vocabulary.len() + self.embedding_dim
    }

    /// Column indices and TF-IDF values of one row.
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let span = self.indptr[i]..self.indptr[i + 1];
        (&self.indices[span.clone()], &self.values[span])
    }

    /// Term column indices and raw weights of one row: embedding columns
    /// are left out, so they never become cluster keywords.
    pub fn raw_row(&self, i: usize) -> (&[u32], &[f64]) {
        let span = self.indptr[i]..self.indptr[i + 1];
        let cols = &self.indices[span.clone()];
        // Rows are sorted by column and embedding columns come last.
        let terms = cols.partition_point(|&c| (c as usize) < self.vocabulary.len());
        (&cols[..terms], &self.raw_weights[span][..terms])
    }

    /// Squared L2 norm of a row (1, or 0 for a job without known terms).
    /// The given rows (in that order) with the same columns.
    pub fn select_rows(&self, rows: &[usize]) -> FeatureMatrix {
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        indptr.push(0);
        let (mut indices, mut values, mut raw_weights) = (Vec::new(), Vec::new(), Vec::new());
        for &i in rows {
            let span = self.indptr[i]..self.indptr[i + 1];
            indices.extend_from_slice(&self.indices[span.clone()]);
            values.extend_from_slice(&self.values[span.clone()]);
            raw_weights.extend_from_slice(&self.raw_weights[span]);
            indptr.push(indices.len());
        }
        FeatureMatrix {
            vocabulary: self.vocabulary.clone(),
            indptr,
            indices,
            values,
            raw_weights,
            embedding_dim: self.embedding_dim,
        }
    }

    pub fn row_norm_squared(&self, i: usize) -> f64 {
        self.row(i).1.iter().map(|v| v * v).sum()
    }

    /// Builds the matrix for `documents`, one row each, in their order.
    pub fn build(documents: &[JobDocument], config: &FeatureConfig) -> Self {
        let mut terms = TermTable::default();
        // Each document's (term id, raw weight) pairs, flat, in room sized
        // once from an upper bound: grown by doubling, this list and the
        // three below were most of `cluster run`'s peak memory.
        let bound = documents
            .iter()
            .map(|d| d.skills.len() + title_pieces(&d.title).count())
            .sum();
        let mut pairs: Vec<(u32, f64)> = Vec::with_capacity(bound);
        let mut offsets = Vec::with_capacity(documents.len() + 1);
        offsets.push(0);
        for d in documents {
            terms.document(d, config, &mut pairs);
            offsets.push(pairs.len());
        }

        let mut document_frequency = vec![0usize; terms.names.len()];
        for &(term, _) in &pairs {
            document_frequency[term as usize] += 1;
        }
        let min_df = config.min_document_frequency.max(1);
        let mut kept: Vec<u32> = (0..terms.names.len() as u32)
            .filter(|&t| document_frequency[t as usize] >= min_df)
            .collect();
        kept.sort_unstable_by(|&a, &b| terms.names[a as usize].cmp(&terms.names[b as usize]));
        let mut column = vec![u32::MAX; terms.names.len()];
        for (c, &t) in kept.iter().enumerate() {
            column[t as usize] = c as u32;
        }
        let n = documents.len() as f64;
        // Smoothed IDF as in scikit-learn: never zero, never infinite.
        let idf: Vec<f64> = kept
            .iter()
            .map(|&t| ((1.0 + n) / (1.0 + document_frequency[t as usize] as f64)).ln() + 1.0)
            .collect();
        let vocabulary: Vec<String> = kept
            .iter()
            .map(|&t| std::mem::take(&mut terms.names[t as usize]))
            .collect();

        let entries = pairs
            .iter()
            .filter(|&&(t, _)| column[t as usize] != u32::MAX)
            .count();
        let mut indptr = Vec::with_capacity(documents.len() + 1);
        indptr.push(0);
        let mut indices = Vec::with_capacity(entries);
        let mut values = Vec::with_capacity(entries);
        let mut raw_weights = Vec::with_capacity(entries);
        let mut row: Vec<(u32, f64)> = Vec::new();
        for span in offsets.windows(2) {
            row.clear();
            row.extend(pairs[span[0]..span[1]].iter().filter_map(|&(t, w)| {
                let c = column[t as usize];
                (c != u32::MAX).then_some((c, w))
            }));
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
            embedding_dim: 0,
        }
    }

    /// Appends each document's posting vector (re-normalised to unit length)
    /// as dense columns: row `i` becomes `sqrt(1-w)·tfidf_i ⊕ sqrt(w)·e_i`,
    /// unit length again. A job without terms (empty TF-IDF row) is placed
    /// by its vector alone, at full length. `weight` 0 (v1.0) returns the
    /// matrix unchanged without reading any vector; above 0, every document
    /// needs a vector of one dimension. `self` is the TF-IDF matrix that
    /// [`FeatureMatrix::build`] made from `documents`, in the same order.
    pub fn with_embeddings(
        self,
        documents: &[JobDocument],
        weight: f64,
    ) -> Result<Self, EmbeddingError> {
        if weight <= 0.0 || documents.is_empty() {
            return Ok(self);
        }
        let weight = weight.min(1.0);
        let missing: Vec<&JobDocument> =
            documents.iter().filter(|d| d.embedding.is_none()).collect();
        if let Some(first) = missing.first() {
            return Err(EmbeddingError::Missing {
                missing: missing.len(),
                total: documents.len(),
                first: first.job_posting_id.clone(),
            });
        }
        let dim = documents[0].embedding.as_ref().map_or(0, Vec::len);
        let mut unit: Vec<Vec<f64>> = Vec::with_capacity(documents.len());
        for d in documents {
            let v = d.embedding.as_deref().unwrap_or_default();
            if v.len() != dim {
                return Err(EmbeddingError::DimensionMismatch {
                    job: d.job_posting_id.clone(),
                    expected: dim,
                    got: v.len(),
                });
            }
            let norm = v
                .iter()
                .map(|&x| f64::from(x) * f64::from(x))
                .sum::<f64>()
                .sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                return Err(EmbeddingError::Degenerate(d.job_posting_id.clone()));
            }
            unit.push(v.iter().map(|&x| f64::from(x) / norm).collect());
        }

        let term_columns = self.vocabulary.len() as u32;
        let (term_scale, vector_scale) = ((1.0 - weight).sqrt(), weight.sqrt());
        let rows = self.rows();
        let mut indptr = Vec::with_capacity(rows + 1);
        indptr.push(0);
        let mut indices = Vec::with_capacity(self.indices.len() + rows * dim);
        let mut values = Vec::with_capacity(indices.capacity());
        let mut raw_weights = Vec::with_capacity(indices.capacity());
        for (i, vector) in unit.iter().enumerate() {
            let (cols, vals) = self.row(i);
            let (_, raw) = self.raw_row(i);
            let has_terms = vals.iter().any(|&v| v != 0.0);
            indices.extend_from_slice(cols);
            values.extend(vals.iter().map(|v| v * term_scale));
            raw_weights.extend_from_slice(raw);
            let scale = if has_terms { vector_scale } else { 1.0 };
            indices.extend((0..dim as u32).map(|d| term_columns + d));
            values.extend(vector.iter().map(|x| x * scale));
            raw_weights.extend(std::iter::repeat_n(0.0, dim));
            indptr.push(indices.len());
        }
        Ok(Self {
            vocabulary: self.vocabulary,
            indptr,
            indices,
            values,
            raw_weights,
            embedding_dim: dim,
        })
    }
}

/// Lower-cased title tokens without stopwords, numbers and one-letter words;
/// `+` and `#` stay (c++, c#).
pub fn title_tokens(title: &str) -> impl Iterator<Item = String> + '_ {
    title_pieces(title).map(str::to_lowercase).filter(|t| {
        t.chars().count() > 1
            && !t.chars().all(|c| c.is_ascii_digit())
            && !TITLE_STOPWORDS.contains(&t.as_str())
            && !stop_words().contains(t.as_str())
            && !boilerplate_words().contains(t.as_str())
    })
}

/// A title's candidate tokens, before lower-casing and stop words.
fn title_pieces(title: &str) -> impl Iterator<Item = &str> {
    title
        .split(|c: char| !(c.is_alphanumeric() || c == '+' || c == '#'))
        .filter(|t| !t.is_empty())
}

/// Term ids for the whole build: a few thousand distinct skill names occur
/// millions of times, so each distinct name is lower-cased, prefixed and
/// hashed as a string once, not once per occurrence.
#[derive(Default)]
struct TermTable<'a> {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    /// A skill name as stored → its term (None: empty after trimming).
    skills: HashMap<&'a str, Option<u32>>,
    titles: HashMap<String, u32>,
    /// Per term: (document stamp, index in `pairs`) to sum repeats in place.
    seen: Vec<(usize, usize)>,
    stamp: usize,
}

impl<'a> TermTable<'a> {
    fn intern(&mut self, term: String) -> u32 {
        if let Some(&id) = self.ids.get(&term) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(term.clone());
        self.ids.insert(term, id);
        self.seen.push((0, 0));
        id
    }

    fn skill(&mut self, name: &'a str) -> Option<u32> {
        if let Some(&id) = self.skills.get(name) {
            return id;
        }
        let lower = name.trim().to_lowercase();
        let id = (!lower.is_empty()).then(|| self.intern(format!("{SKILL_PREFIX}{lower}")));
        self.skills.insert(name, id);
        id
    }

    fn title(&mut self, token: String) -> u32 {
        if let Some(&id) = self.titles.get(&token) {
            return id;
        }
        let id = self.intern(format!("{TITLE_PREFIX}{token}"));
        self.titles.insert(token, id);
        id
    }

    /// Appends a document's terms with their raw weights, each term once and
    /// summed in the order met (skills, then title tokens), weights > 0 only.
    fn document(
        &mut self,
        document: &'a JobDocument,
        config: &FeatureConfig,
        pairs: &mut Vec<(u32, f64)>,
    ) {
        self.stamp += 1;
        let start = pairs.len();
        let mut add = |table: &mut Self, term: u32, weight: f64| {
            let (stamp, at) = table.seen[term as usize];
            if stamp == table.stamp {
                pairs[at].1 += weight;
            } else {
                table.seen[term as usize] = (table.stamp, pairs.len());
                pairs.push((term, weight));
            }
        };
        for skill in &document.skills {
            if !skill.confidence.is_finite() || skill.confidence <= 0.0 {
                continue;
            }
            if let Some(term) = self.skill(&skill.name) {
                add(self, term, skill.confidence * config.skill_weight);
            }
        }
        for token in title_tokens(&document.title) {
            let term = self.title(token);
            add(self, term, config.title_weight);
        }
        let mut kept = start;
        for i in start..pairs.len() {
            if pairs[i].1 > 0.0 {
                pairs[kept] = pairs[i];
                kept += 1;
            }
        }
        pairs.truncate(kept);
    }
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
                    name: (*n).into(),
                    confidence: *c,
                })
                .collect(),
            embedding: None,
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

    fn with_vector(mut d: JobDocument, v: &[f32]) -> JobDocument {
        d.embedding = Some(v.to_vec());
        d
    }

    fn embedded_docs() -> Vec<JobDocument> {
        vec![
            with_vector(
                doc("a", "Data Engineer", &[("Python", 1.0), ("SQL", 0.5)]),
                &[1.0, 0.0, 0.0],
            ),
            with_vector(doc("b", "Data Analyst", &[("SQL", 0.9)]), &[0.6, 0.8, 0.0]),
            // Not unit length: re-normalised.
            with_vector(
                doc("c", "Nurse", &[("Patient care", 0.8)]),
                &[0.0, 0.0, 2.0],
            ),
            // No known term: placed by its vector alone.
            with_vector(doc("d", "", &[]), &[0.0, 3.0, 4.0]),
        ]
    }

    fn one_df() -> FeatureConfig {
        FeatureConfig {
            min_document_frequency: 1,
            ..FeatureConfig::default()
        }
    }

    #[test]
    fn weight_zero_is_the_tfidf_matrix_unchanged() {
        let docs = embedded_docs();
        let tfidf = FeatureMatrix::build(&docs, &one_df());
        let same = tfidf.clone().with_embeddings(&docs, 0.0).unwrap();
        assert_eq!(same, tfidf);
        assert_eq!(same.columns(), same.vocabulary.len());
        // Weight 0 reads no vector, so jobs without one are fine.
        let without: Vec<JobDocument> = docs
            .iter()
            .cloned()
            .map(|mut d| {
                d.embedding = None;
                d
            })
            .collect();
        assert_eq!(
            FeatureMatrix::build(&without, &one_df())
                .with_embeddings(&without, 0.0)
                .unwrap(),
            tfidf
        );
    }

    #[test]
    fn combined_rows_are_unit_length_and_split_by_the_weight() {
        let docs = embedded_docs();
        let tfidf = FeatureMatrix::build(&docs, &one_df());
        let terms = tfidf.vocabulary.len();
        for w in [0.3, 0.6, 1.0] {
            let m = tfidf.clone().with_embeddings(&docs, w).unwrap();
            assert_eq!(m.embedding_dim, 3);
            assert_eq!(m.columns(), terms + 3);
            for i in 0..m.rows() {
                assert!((m.row_norm_squared(i) - 1.0).abs() < 1e-12, "w {w} row {i}");
                let (cols, vals) = m.row(i);
                assert!(cols.windows(2).all(|p| p[0] < p[1]), "sorted columns");
                let dense: f64 = cols
                    .iter()
                    .zip(vals)
                    .filter(|(&c, _)| c as usize >= terms)
                    .map(|(_, v)| v * v)
                    .sum();
                let expected = if i == 3 { 1.0 } else { w };
                assert!((dense - expected).abs() < 1e-12, "w {w} row {i}: {dense}");
            }
            // Row b: 0.6/0.8 of the vector, scaled by sqrt(w).
            let (cols, vals) = m.row(1);
            let at = |c: usize| vals[cols.iter().position(|&x| x as usize == c).unwrap()];
            assert!(
                (at(terms) - 0.6 * w.sqrt()).abs() < 1e-6,
                "{w}: {}",
                at(terms)
            );
            assert!((at(terms + 1) - 0.8 * w.sqrt()).abs() < 1e-6);
        }
    }

    #[test]
    fn embedding_columns_never_reach_the_raw_rows_keywords_read() {
        let docs = embedded_docs();
        let tfidf = FeatureMatrix::build(&docs, &one_df());
        let m = tfidf.clone().with_embeddings(&docs, 0.6).unwrap();
        for i in 0..m.rows() {
            assert_eq!(m.raw_row(i), tfidf.raw_row(i));
        }
        let names = crate::keywords::name_clusters(&m, &[0, 0, 1, 1], 20);
        for keyword in names.iter().flat_map(|c| &c.keywords) {
            assert!(
                tfidf.vocabulary.iter().any(|t| t.ends_with(&keyword.term)),
                "{keyword:?}"
            );
        }
    }

    #[test]
    fn missing_and_mismatched_vectors_are_refused_with_counts() {
        let mut docs = embedded_docs();
        docs[1].embedding = None;
        docs[3].embedding = None;
        let m = FeatureMatrix::build(&docs, &one_df());
        let e = m.clone().with_embeddings(&docs, 0.5).unwrap_err();
        assert_eq!(
            e,
            EmbeddingError::Missing {
                missing: 2,
                total: 4,
                first: JobId::parse("b").unwrap()
            }
        );
        assert!(e.to_string().starts_with("2 of 4 jobs"), "{e}");

        let mut docs = embedded_docs();
        docs[2].embedding = Some(vec![1.0, 0.0]);
        let e = FeatureMatrix::build(&docs, &one_df())
            .with_embeddings(&docs, 0.5)
            .unwrap_err();
        assert!(
            matches!(
                e,
                EmbeddingError::DimensionMismatch {
                    expected: 3,
                    got: 2,
                    ..
                }
            ),
            "{e}"
        );

        let mut docs = embedded_docs();
        docs[0].embedding = Some(vec![0.0, 0.0, 0.0]);
        let e = FeatureMatrix::build(&docs, &one_df())
            .with_embeddings(&docs, 0.5)
            .unwrap_err();
        assert_eq!(e, EmbeddingError::Degenerate(JobId::parse("a").unwrap()));
    }
}
