//! The `semantic` strategy: links an extracted skill to ESCO by meaning. Every
//! ESCO skill's preferred and alternative labels are embedded once per encoder
//! (the `SkillIndex`, cached in a file keyed by taxonomy and model version);
//! a skill's name is embedded with the same encoder and its nearest concepts
//! (cosine, best label per concept) are its link candidates. An exact lexicon
//! link to ESCO stays first; the semantic candidates fill the rest.

use crate::extract::FoundSkill;
use crate::EngineError;
use coarse::CoarseTiles;
use jobenrich_domain::TextEncoder;
use phrase_cache::PhraseCache;
use rank_log::RankLog;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tiles::{LabelTiles, GROUP};

mod coarse;
mod phrase_cache;
mod rank_log;
mod ranking;
mod tiles;

/// The taxonomy reference prefix exact ESCO links carry (`esco:<preferred label>`).
pub(crate) const ESCO_PREFIX: &str = "esco:";
/// First line of an index file; bumped when the layout changes.
const MAGIC: &str = "jobenrich-skill-index v1";

/// One taxonomy concept and the labels that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxonomyConcept {
    pub label: String,
    pub alt_labels: Vec<String>,
}

/// Reads the ESCO skills CSV (`preferredLabel,altLabels,skillType`, alternative
/// labels separated by newlines inside the quoted field).
pub fn load_esco_skills(path: &Path) -> Result<Vec<TaxonomyConcept>, EngineError> {
    let file = std::fs::File::open(path).map_err(|e| EngineError::io(path, e))?;
    let mut reader = csv::Reader::from_reader(BufReader::new(file));
    let headers = reader
        .headers()
        .map_err(|e| EngineError::format(path, 1, "header", e.to_string()))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| EngineError::format(path, 1, name, "column missing"))
    };
    let (pref, alt) = (col("preferredLabel")?, col("altLabels")?);
    let mut concepts = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            EngineError::format(path, line, "row", e.to_string())
        })?;
        let line = row.position().map(|p| p.line() as usize).unwrap_or(0);
        let label = row.get(pref).unwrap_or("").trim();
        if label.is_empty() {
            return Err(EngineError::format(path, line, "preferredLabel", "empty"));
        }
        let alt_labels = row
            .get(alt)
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty() && !a.eq_ignore_ascii_case(label))
            .map(str::to_string)
            .collect();
        concepts.push(TaxonomyConcept {
            label: label.to_string(),
            alt_labels,
        });
    }
    if concepts.is_empty() {
        return Err(EngineError::format(path, 1, "row", "no skills"));
    }
    Ok(concepts)
}

/// Embedded labels of a taxonomy: one row per distinct label, each pointing to
/// its concept.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillIndex {
    model_id: String,
    taxonomy_version: String,
    dim: usize,
    labels: Vec<Arc<str>>,
    row_concept: Vec<u32>,
    /// One row per label, packed for the ranking kernel.
    vectors: LabelTiles,
    /// The same rows in `i8`, for passes of a few phrases (`coarse.rs`).
    coarse: CoarseTiles,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    model_id: String,
    taxonomy_version: String,
    dim: usize,
    labels: Vec<Arc<str>>,
    row_concept: Vec<u32>,
}

/// `s` with every character but ASCII letters, digits, `.` and `-` as `_`.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Labels per encoder call while building (progress stays visible in logs).
const BUILD_CHUNK: usize = 4096;

impl SkillIndex {
    /// Embeds every label of `concepts` (case-insensitive duplicates within a
    /// concept once).
    pub fn build(
        encoder: &dyn TextEncoder,
        concepts: &[TaxonomyConcept],
        taxonomy_version: &str,
    ) -> Result<SkillIndex, EngineError> {
        let (texts, row_concept): (Vec<&str>, Vec<u32>) =
            Self::label_rows(concepts).into_iter().unzip();
        let dim = encoder.dim();
        let mut vectors = LabelTiles::with_capacity(dim, texts.len());
        for chunk in texts.chunks(BUILD_CHUNK) {
            for v in encoder.encode_batch(chunk)? {
                if v.len() != dim {
                    return Err(EngineError::InputRefused(format!(
                        "encoder {} returned a vector of {} values, expected {dim}",
                        encoder.model_id(),
                        v.len()
                    )));
                }
                vectors.push_row(v);
            }
        }
        Ok(SkillIndex {
            model_id: encoder.model_id().to_string(),
            taxonomy_version: taxonomy_version.to_string(),
            dim,
            labels: concepts
                .iter()
                .map(|c| Arc::from(c.label.as_str()))
                .collect(),
            row_concept,
            coarse: CoarseTiles::of(&vectors),
            vectors,
        })
    }

    /// The index's rows in order: each label of `concepts` with its concept's
    /// position (case-insensitive duplicates within a concept once).
    pub fn label_rows(concepts: &[TaxonomyConcept]) -> Vec<(&str, u32)> {
        let mut rows = Vec::new();
        for (i, c) in concepts.iter().enumerate() {
            let mut seen = HashSet::new();
            for l in std::iter::once(&c.label).chain(&c.alt_labels) {
                if seen.insert(l.to_lowercase()) {
                    rows.push((l.as_str(), i as u32));
                }
            }
        }
        rows
    }

    /// Row `r`'s vector (empty past the last row).
    pub fn row_vector(&self, r: usize) -> Vec<f32> {
        self.vectors.row(r).collect()
    }

    /// The cache file of (taxonomy version, model version) in `dir`.
    pub fn cache_path(dir: &Path, taxonomy_version: &str, model_version: &str) -> PathBuf {
        dir.join(format!(
            "skill-index_{}_{}.bin",
            file_safe(taxonomy_version),
            file_safe(model_version)
        ))
    }

    /// Loads the cached index of this taxonomy and encoder, or builds and
    /// caches it. Returns whether it was built.
    pub fn load_or_build(
        dir: &Path,
        encoder: &dyn TextEncoder,
        concepts: impl FnOnce() -> Result<Vec<TaxonomyConcept>, EngineError>,
        taxonomy_version: &str,
    ) -> Result<(SkillIndex, bool), EngineError> {
        let path = Self::cache_path(dir, taxonomy_version, encoder.model_id());
        if path.exists() {
            let index = Self::load(&path)?;
            if index.model_id == encoder.model_id()
                && index.taxonomy_version == taxonomy_version
                && index.dim == encoder.dim()
            {
                return Ok((index, false));
            }
        }
        let index = Self::build(encoder, &concepts()?, taxonomy_version)?;
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        index.save(&path)?;
        Ok((index, true))
    }

    /// Writes the index: a magic line, a JSON header line, then the vectors as
    /// little-endian f32. Written beside the target and renamed, so a reader
    /// never sees half a file.
    pub fn save(&self, path: &Path) -> Result<(), EngineError> {
        // One temporary name per process: two processes building the same
        // index at once each rename a whole file.
        let tmp = path.with_extension(format!("partial-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut w = BufWriter::new(std::fs::File::create(&tmp)?);
            writeln!(w, "{MAGIC}")?;
            let header = Header {
                model_id: self.model_id.clone(),
                taxonomy_version: self.taxonomy_version.clone(),
                dim: self.dim,
                labels: self.labels.clone(),
                row_concept: self.row_concept.clone(),
            };
            serde_json::to_writer(&mut w, &header)?;
            writeln!(w)?;
            for r in 0..self.vectors.rows() {
                for x in self.vectors.row(r) {
                    w.write_all(&x.to_le_bytes())?;
                }
            }
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| EngineError::io(path, e))
    }

    pub fn load(path: &Path) -> Result<SkillIndex, EngineError> {
        let file = std::fs::File::open(path).map_err(|e| EngineError::io(path, e))?;
        let mut r = BufReader::new(file);
        let mut line = String::new();
        r.read_line(&mut line)
            .map_err(|e| EngineError::io(path, e))?;
        if line.trim_end() != MAGIC {
            return Err(EngineError::format(
                path,
                1,
                "magic",
                format!("expected {MAGIC:?}"),
            ));
        }
        line.clear();
        r.read_line(&mut line)
            .map_err(|e| EngineError::io(path, e))?;
        let h: Header = serde_json::from_str(&line)
            .map_err(|e| EngineError::format(path, 2, "header", e.to_string()))?;
        let concepts = h.labels.len();
        if h.dim == 0 || h.row_concept.iter().any(|&c| c as usize >= concepts) {
            return Err(EngineError::format(
                path,
                2,
                "header",
                "inconsistent dim or rows",
            ));
        }
        // Sized ahead: a growing buffer would copy itself at the peak.
        let mut bytes = Vec::with_capacity(h.row_concept.len() * h.dim * 4);
        r.read_to_end(&mut bytes)
            .map_err(|e| EngineError::io(path, e))?;
        if bytes.len() != h.row_concept.len() * h.dim * 4 {
            return Err(EngineError::format(
                path,
                3,
                "vectors",
                format!(
                    "{} bytes, expected {}",
                    bytes.len(),
                    h.row_concept.len() * h.dim * 4
                ),
            ));
        }
        let mut vectors = LabelTiles::with_capacity(h.dim, h.row_concept.len());
        for row in bytes.chunks_exact(4 * h.dim) {
            vectors.push_row(
                row.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
        }
        Ok(SkillIndex {
            model_id: h.model_id,
            taxonomy_version: h.taxonomy_version,
            dim: h.dim,
            labels: h.labels,
            row_concept: h.row_concept,
            coarse: CoarseTiles::of(&vectors),
            vectors,
        })
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn taxonomy_version(&self) -> &str {
        &self.taxonomy_version
    }

    pub fn concepts(&self) -> usize {
        self.labels.len()
    }

    pub fn rows(&self) -> usize {
        self.row_concept.len()
    }

    pub fn label(&self, concept: u32) -> &str {
        &self.labels[concept as usize]
    }

    /// `label`, shared rather than copied.
    pub fn shared_label(&self, concept: u32) -> Arc<str> {
        Arc::clone(&self.labels[concept as usize])
    }

    /// Cosine of a unit query with a concept: its best label's, as in
    /// `top_k` (0 for an unknown concept or a query of another dimension).
    pub fn concept_score(&self, concept: u32, query: &[f32]) -> f32 {
        if query.len() != self.dim || self.dim == 0 {
            return 0.0;
        }
        // Rows are stored concept by concept (`build`), so a concept's
        // labels are one run of rows.
        let first = self.row_concept.partition_point(|&c| c < concept);
        let last = self.row_concept.partition_point(|&c| c <= concept);
        (first..last)
            .map(|r| self.vectors.dot(r, query))
            .reduce(f32::max)
            .unwrap_or(0.0)
    }
}

/// One ranked link of a skill to a taxonomy concept.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillLink {
    /// The concept's preferred label.
    pub label: Arc<str>,
    /// The cosine, or with a link temperature the concept's share of the
    /// phrase's candidates ([`shares`]); 1.0 for an exact lexicon link.
    pub score: f32,
    /// The cosine (with a context weight, the name-and-context mix) the
    /// rank comes from; 1.0 for an exact lexicon link.
    pub cosine: f32,
    /// True for the lexicon's own link (`taxonomy_ref`).
    pub exact: bool,
}

/// Links skills to the index's taxonomy with an encoder.
pub struct SemanticLinker {
    encoder: Arc<dyn TextEncoder>,
    index: Arc<SkillIndex>,
    top_k: usize,
    /// Candidates by phrase: skill names repeat across postings (a few
    /// thousand cover most mentions), so most phrases skip the index scan.
    /// Two generations (`phrase_cache`), so the frequent phrases outlive
    /// a full map. Each phrase keeps `pool()` concepts with their cosines
    /// (8 bytes each; labels are looked up when linking).
    cache: Mutex<PhraseCache<Ranked>>,
    /// Link lists by link temperature (its bits) and phrase, for skills
    /// linked by name alone: a skill's list then depends on nothing else
    /// but its exact link ([`SemanticLinker::link`]), so the shares' `exp`s
    /// and the label dedupe are done once per phrase, not once per row.
    links: Mutex<HashMap<u32, PhraseCache<Candidates>>>,
    /// Where newly ranked phrases are kept for the next process, if anywhere.
    log: Option<RankLog>,
}

/// A phrase's nearest concepts with their cosines, best first.
type Ranked = Arc<[(u32, f32)]>;

/// A phrase's first `top_k` candidates of distinct labels (ASCII case
/// aside), scored, best first: its links when it has no exact one.
type Candidates = Arc<[SkillLink]>;

/// Candidates ranked by the name and kept per phrase when a version re-ranks
/// them by context (`semantic_context_weight`): the context can lift a
/// concept from below the name's top 5.
const CONTEXT_POOL: usize = 20;

/// Phrases per generation of [`SemanticLinker`]'s cache (two are kept:
/// ~60 MB at most with 20 candidates per phrase).
const CANDIDATE_CACHE_GENERATION: usize = 100_000;
/// Part of a rank log's identity: raise it when a change to the ranking
/// (kernel arithmetic, selection) can give another result for a phrase.
const RANKING_REVISION: u32 = 1;

/// Phrases ranked per pass over the index: reading the index dominates a
/// small batch, a larger one only grows the score buffer (~14k concepts ×
/// this many floats).
const QUERIES_PER_PASS: usize = 256;

impl std::fmt::Debug for SemanticLinker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticLinker")
            .field("model_id", &self.encoder.model_id())
            .field("concepts", &self.index.concepts())
            .field("top_k", &self.top_k)
            .finish()
    }
}

impl SemanticLinker {
    /// Fails when the index was built by another encoder (vectors of different
    /// models are not comparable).
    pub fn new(
        encoder: Arc<dyn TextEncoder>,
        index: Arc<SkillIndex>,
        top_k: usize,
    ) -> Result<SemanticLinker, EngineError> {
        if encoder.model_id() != index.model_id() || encoder.dim() != index.dim {
            return Err(EngineError::Config {
                key: "embeddings".into(),
                message: format!(
                    "the skill index was built with {} ({} dims), the encoder is {} ({} dims)",
                    index.model_id(),
                    index.dim,
                    encoder.model_id(),
                    encoder.dim()
                ),
            });
        }
        if top_k == 0 {
            return Err(EngineError::Config {
                key: "link_top_k".into(),
                message: "must be at least 1".into(),
            });
        }
        Ok(SemanticLinker {
            encoder,
            index,
            top_k,
            cache: Mutex::new(PhraseCache::new(CANDIDATE_CACHE_GENERATION)),
            links: Mutex::new(HashMap::new()),
            log: None,
        })
    }

    /// The rank log of this linker's index and pool in `dir`.
    pub fn rank_log_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!(
            "phrase-ranks_{}_{}_{}.bin",
            file_safe(self.index.taxonomy_version()),
            file_safe(self.index.model_id()),
            self.pool()
        ))
    }

    /// Seeds the phrase cache from the rank log at `path` (`rank_log.rs`) and
    /// appends the phrases this linker ranks from now on. Returns how many
    /// phrases were loaded. The log's identity is everything a ranking
    /// depends on (the index's vectors by checksum), so a log of another
    /// index, pool or kernel is started anew.
    pub fn attach_rank_log(&mut self, path: &Path) -> Result<usize, EngineError> {
        let identity = format!(
            "model={} taxonomy={} dim={} rows={} concepts={} vectors={:08x} pool={} kernel={} revision={RANKING_REVISION}",
            self.index.model_id(),
            self.index.taxonomy_version(),
            self.index.dim,
            self.index.rows(),
            self.index.concepts(),
            self.index.vectors.checksum(),
            self.pool(),
            tiles::kernel_name()
        );
        let (log, entries) = RankLog::open(path, &identity)?;
        let concepts = self.index.concepts();
        // A record that checks but names no concept of this index is dropped
        // (labels are looked up by concept).
        let valid: Vec<(String, Ranked)> = entries
            .into_iter()
            .filter(|(_, r)| {
                r.iter()
                    .all(|&(c, s)| (c as usize) < concepts && s.is_finite())
            })
            .collect();
        let skip = valid.len().saturating_sub(CANDIDATE_CACHE_GENERATION);
        let loaded = valid.len() - skip;
        let cache = self.cache.get_mut().unwrap_or_else(|p| p.into_inner());
        for (phrase, ranked) in valid.into_iter().skip(skip) {
            cache.insert(phrase, ranked);
        }
        self.log = Some(log);
        Ok(loaded)
    }

    pub fn index(&self) -> &SkillIndex {
        &self.index
    }

    /// Concepts kept per phrase: `top_k`, or the context pool if larger.
    fn pool(&self) -> usize {
        self.top_k.max(CONTEXT_POOL)
    }

    /// The `pool()` nearest concepts of each phrase with their cosines, best
    /// first; the phrases not seen before go through the encoder and the
    /// index in one batch.
    fn ranked(&self, phrases: &[&str]) -> Result<Vec<Ranked>, EngineError> {
        let (mut found, missing) = lock(&self.cache).get_all(phrases);
        if !missing.is_empty() {
            let vectors = self.encoder.encode_batch(&missing)?;
            let queries: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
            // Bounded score buffers (concepts × queries) per index pass.
            let fresh: HashMap<&str, Ranked> = missing
                .iter()
                .copied()
                .zip(
                    queries
                        .chunks(QUERIES_PER_PASS)
                        .flat_map(|chunk| self.index.top_k_batch(chunk, self.pool())),
                )
                .map(|(phrase, top)| (phrase, top.into()))
                .collect();
            lock(&self.cache).insert_all(&fresh);
            if let Some(log) = &self.log {
                log.append(fresh.iter().map(|(phrase, top)| (*phrase, top)));
            }
            fill_missing(&mut found, phrases, &fresh);
        }
        Ok(found.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Ranks phrases ahead of `link` (a batch's phrases in one pass).
    pub fn prepare(&self, phrases: &[&str]) -> Result<(), EngineError> {
        self.ranked(phrases).map(|_| ())
    }

    /// The `top_k` nearest concepts of each phrase, best first.
    pub fn candidates(&self, phrases: &[&str]) -> Result<Vec<Vec<SkillLink>>, EngineError> {
        Ok(self
            .ranked(phrases)?
            .iter()
            .map(|top| {
                top.iter()
                    .take(self.top_k)
                    .map(|&(c, score)| self.semantic_link(c, score))
                    .collect()
            })
            .collect())
    }

    fn semantic_link(&self, concept: u32, score: f32) -> SkillLink {
        SkillLink {
            label: self.index.shared_label(concept),
            score,
            cosine: score,
            exact: false,
        }
    }

    /// Ranked links of each skill (same order as `skills`): the lexicon's exact
    /// ESCO link first when there is one, then the semantic candidates of its
    /// name, at most `top_k` in all.
    ///
    /// With `context_weight` w > 0 the candidates are the name's `pool()`
    /// nearest concepts re-ranked by (1 − w)·cos(name) + w·cos(context),
    /// the context being the skill's snippet (one encoder batch for all
    /// snippets), and that mix is each link's score: of two senses of one
    /// name, the one the surrounding words are about comes first.
    pub fn link(
        &self,
        skills: &[FoundSkill],
        context_weight: f32,
        temperature: f32,
    ) -> Result<Vec<Vec<SkillLink>>, EngineError> {
        // Not `<= 0.0`: a NaN weight links by name, as a zero one does.
        let by_context = context_weight > 0.0;
        if !by_context {
            return self.link_by_name(skills, temperature);
        }
        let names: Vec<&str> = skills.iter().map(|s| s.canonical.as_str()).collect();
        let ranked = self.ranked(&names)?;
        let contexts: Vec<Option<Vec<f32>>> = {
            let with: Vec<usize> = (0..skills.len())
                .filter(|&i| !skills[i].snippet.trim().is_empty())
                .collect();
            let texts: Vec<&str> = with.iter().map(|&i| skills[i].snippet.as_str()).collect();
            let mut vectors = self.encoder.encode_batch(&texts)?.into_iter();
            let mut out = vec![None; skills.len()];
            for i in with {
                out[i] = vectors.next();
            }
            out
        };
        Ok(skills
            .iter()
            .zip(ranked)
            .zip(contexts)
            .map(|((skill, ranked), context)| {
                let pool: Cow<[(u32, f32)]> = match context {
                    Some(ctx) => {
                        let w = context_weight;
                        let mut mixed: Vec<(u32, f32)> = ranked
                            .iter()
                            .map(|&(c, s)| {
                                (c, (1.0 - w) * s + w * self.index.concept_score(c, &ctx))
                            })
                            .collect();
                        // Stable: equal mixes keep the name's order.
                        mixed.sort_by(|a, b| b.1.total_cmp(&a.1));
                        Cow::Owned(mixed)
                    }
                    None => Cow::Borrowed(&ranked[..]),
                };
                let exact = exact_label(skill);
                let mut links: Vec<SkillLink> = exact.map(exact_link).into_iter().collect();
                links.extend(self.distinct_candidates(&pool, temperature, exact));
                links
            })
            .collect())
    }

    /// `link` without a context: each skill's list is its exact link, then
    /// its name's cached candidates without the exact link's label. The
    /// same list as `distinct_candidates` with the exact label given: the
    /// candidates' labels differ pairwise, so dropping the one equal to the
    /// exact label (if any) leaves the same order, and `top_k` of them are
    /// enough for the `top_k − 1` places left.
    fn link_by_name(
        &self,
        skills: &[FoundSkill],
        temperature: f32,
    ) -> Result<Vec<Vec<SkillLink>>, EngineError> {
        let names: Vec<&str> = skills.iter().map(|s| s.canonical.as_str()).collect();
        let (mut found, missing) = self.with_links(temperature, |cache| cache.get_all(&names));
        if !missing.is_empty() {
            let fresh: HashMap<&str, Candidates> = missing
                .iter()
                .copied()
                .zip(self.ranked(&missing)?)
                .map(|(phrase, pool)| {
                    let links = self.distinct_candidates(&pool, temperature, None);
                    (phrase, links.collect::<Vec<_>>().into())
                })
                .collect();
            self.with_links(temperature, |cache| cache.insert_all(&fresh));
            fill_missing(&mut found, &names, &fresh);
        }
        Ok(skills
            .iter()
            .zip(found)
            .map(|(skill, candidates)| {
                let candidates = candidates.unwrap_or_default();
                let exact = exact_label(skill);
                let mut links: Vec<SkillLink> = Vec::with_capacity(self.top_k);
                links.extend(exact.map(exact_link));
                let room = self.top_k - links.len();
                links.extend(
                    candidates
                        .iter()
                        .filter(|l| exact.is_none_or(|e| !l.label.eq_ignore_ascii_case(e)))
                        .take(room)
                        .cloned(),
                );
                links
            })
            .collect())
    }

    /// `f` on the link lists cached for `temperature`.
    fn with_links<T>(
        &self,
        temperature: f32,
        f: impl FnOnce(&mut PhraseCache<Candidates>) -> T,
    ) -> T {
        let mut links = lock(&self.links);
        f(links
            .entry(temperature.to_bits())
            .or_insert_with(|| PhraseCache::new(CANDIDATE_CACHE_GENERATION)))
    }

    /// The pool's concepts in order, each unless its label (ASCII case aside)
    /// is `exact`'s or an earlier one's, until `top_k` links with `exact`;
    /// scored by their shares of the pool at `temperature` (> 0) or cosine.
    fn distinct_candidates<'a>(
        &'a self,
        pool: &'a [(u32, f32)],
        temperature: f32,
        exact: Option<&'a str>,
    ) -> impl Iterator<Item = SkillLink> + 'a {
        let shared = (temperature > 0.0).then(|| shares(pool, temperature));
        let room = self.top_k - usize::from(exact.is_some());
        let mut taken: Vec<&str> = Vec::with_capacity(room);
        pool.iter()
            .enumerate()
            .filter_map(move |(i, &(c, cosine))| {
                let label = self.index.label(c);
                let dup = exact.is_some_and(|e| e.eq_ignore_ascii_case(label))
                    || taken.iter().any(|t| t.eq_ignore_ascii_case(label));
                if dup {
                    return None;
                }
                taken.push(label);
                Some(SkillLink {
                    score: shared.as_ref().map_or(cosine, |s| s[i]),
                    ..self.semantic_link(c, cosine)
                })
            })
            .take(room)
    }
}

/// A cache's lock, also after a thread panicked holding it (a cache, not a
/// record: the worst case is a phrase ranked again).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Fills the phrases `found` lacks from the values just made for them.
fn fill_missing<V: Clone>(found: &mut [Option<V>], phrases: &[&str], fresh: &HashMap<&str, V>) {
    for (phrase, slot) in phrases.iter().zip(found.iter_mut()) {
        if slot.is_none() {
            *slot = fresh.get(phrase).cloned();
        }
    }
}

/// The ESCO label of a skill's exact lexicon link, if it has one.
fn exact_label(skill: &FoundSkill) -> Option<&str> {
    skill
        .taxonomy_ref
        .as_deref()
        .and_then(|r| r.strip_prefix(ESCO_PREFIX))
}

fn exact_link(label: &str) -> SkillLink {
    SkillLink {
        label: Arc::from(label),
        score: 1.0,
        cosine: 1.0,
        exact: true,
    }
}

/// A phrase's candidates as shares of one: the softmax of cosine / `t` over
/// its pool (same order). A raw cosine says how alike two wordings are, not how
/// sure the link is: a share is high only when one concept stands out, so of
/// two skills in a posting, the best candidate of each ranks ahead of either's
/// runner-up. Small `t` sharpens, large `t` flattens towards equal shares.
pub fn shares(pool: &[(u32, f32)], t: f32) -> Vec<f32> {
    let best = pool.iter().map(|p| p.1).fold(f32::NEG_INFINITY, f32::max);
    let mut weights: Vec<f32> = pool.iter().map(|&(_, s)| ((s - best) / t).exp()).collect();
    let total: f32 = weights.iter().sum();
    for w in &mut weights {
        *w /= total;
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::ranking::{COARSE_MAX_QUERIES, SCORE_BLOCK_ROWS};
    use super::*;
    use crate::test_encoder::Letters;
    use jobenrich_domain::EncoderError;

    fn concepts() -> Vec<TaxonomyConcept> {
        vec![
            TaxonomyConcept {
                label: "use databases".into(),
                alt_labels: vec!["sql".into(), "SQL".into()],
            },
            TaxonomyConcept {
                label: "sing".into(),
                alt_labels: vec![],
            },
            TaxonomyConcept {
                label: "manage budgets".into(),
                alt_labels: vec!["budgeting".into()],
            },
        ]
    }

    #[test]
    fn a_linker_on_the_rank_log_of_another_ranks_none_of_its_phrases_again() {
        let dir = tempfile::tempdir().unwrap();
        let index = Arc::new(SkillIndex::build(&Letters, &concepts(), "t1").unwrap());
        let linker = |enc: &Arc<Counting>| {
            let mut l = SemanticLinker::new(enc.clone(), index.clone(), 2).unwrap();
            let path = l.rank_log_path(dir.path());
            let loaded = l.attach_rank_log(&path).unwrap();
            (l, loaded)
        };
        let phrases = ["sql", "budget", "singing"];
        let first = Arc::new(Counting(Default::default()));
        let (a, loaded) = linker(&first);
        assert_eq!(loaded, 0);
        let before = a.candidates(&phrases).unwrap();
        assert_eq!(first.0.load(std::sync::atomic::Ordering::Relaxed), 3);
        drop(a);
        let second = Arc::new(Counting(Default::default()));
        let (b, loaded) = linker(&second);
        assert_eq!(loaded, 3);
        let after = b.candidates(&phrases).unwrap();
        assert_eq!(second.0.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert_eq!(after, before);
        // A phrase not in the log is ranked, and kept for the next linker.
        b.candidates(&["databases"]).unwrap();
        assert_eq!(second.0.load(std::sync::atomic::Ordering::Relaxed), 1);
        drop(b);
        assert_eq!(linker(&Arc::new(Counting(Default::default()))).1, 4);
        // An index of the same shape, model and taxonomy name but other
        // vectors (a model changed in place) does not trust the log.
        let mut other = concepts();
        other[1].label = "sang".into();
        let other = Arc::new(SkillIndex::build(&Letters, &other, "t1").unwrap());
        let mut stale = SemanticLinker::new(first.clone(), other, 2).unwrap();
        let path = stale.rank_log_path(dir.path());
        assert_eq!(path, linker(&first).0.rank_log_path(dir.path()));
        assert_eq!(stale.attach_rank_log(&path).unwrap(), 0);
        // Another pool is another log.
        let wide = SemanticLinker::new(first.clone(), index.clone(), 30).unwrap();
        assert_ne!(
            wide.rank_log_path(dir.path()),
            linker(&first).0.rank_log_path(dir.path())
        );
    }

    #[test]
    fn an_alternative_label_links_to_its_concept_best_first() {
        let index = SkillIndex::build(&Letters, &concepts(), "t1").unwrap();
        assert_eq!(
            index.rows(),
            5,
            "case-insensitive duplicate label kept once"
        );
        let q = Letters.encode_batch(&["SQL"]).unwrap().remove(0);
        let top = index.top_k(&q, 2);
        assert_eq!(top.len(), 2);
        assert_eq!(index.label(top[0].0), "use databases");
        assert!((top[0].1 - 1.0).abs() < 1e-6);
        assert!(top[0].1 >= top[1].1);
    }

    /// Pseudo-random values in [-0.5, 0.5) from `seed`: a fixed LCG keeps
    /// the tests reproducible without a dependency.
    fn lcg(seed: u64) -> impl FnMut() -> f32 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        }
    }

    /// An index of `concepts` with run lengths 1..=`max_run` (some longer
    /// than a score block), pseudo-random vectors (`lcg`).
    fn random_index(concepts: usize, max_run: usize, dim: usize) -> SkillIndex {
        let mut next = lcg(0x9e37_79b9_7f4a_7c15);
        let mut row_concept = Vec::new();
        for c in 0..concepts {
            let run = if c == 7 {
                3 * SCORE_BLOCK_ROWS / 2
            } else {
                1 + c % max_run
            };
            row_concept.extend(std::iter::repeat_n(c as u32, run));
        }
        // Every 10th row a copy of the row before: equal scores, so the tie
        // rule (lower concept id first) is exercised.
        let mut vectors: Vec<f32> = Vec::with_capacity(row_concept.len() * dim);
        for r in 0..row_concept.len() {
            if r % 10 == 9 {
                let prev = vectors[(r - 1) * dim..r * dim].to_vec();
                vectors.extend(prev);
            } else {
                vectors.extend((0..dim).map(|_| next()));
            }
        }
        SkillIndex {
            model_id: "m".into(),
            taxonomy_version: "t".into(),
            dim,
            labels: (0..concepts).map(|c| format!("c{c}").into()).collect(),
            row_concept,
            coarse: CoarseTiles::of(&LabelTiles::from_rows(&vectors, dim)),
            vectors: LabelTiles::from_rows(&vectors, dim),
        }
    }

    #[test]
    fn blocked_ranking_matches_brute_force_across_block_boundaries() {
        let dim = 16;
        let index = random_index(2000, 9, dim);
        assert!(index.rows() > 4 * SCORE_BLOCK_ROWS);
        let queries: Vec<Vec<f32>> = (0..40)
            .map(|i| index.vectors.row(i * 97 % index.rows()).collect())
            .collect();
        let refs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
        let k = 7;
        // Many queries, and fewer than the product's padded minimum.
        let mut batch = index.top_k_batch(&refs, k);
        batch.extend(index.top_k_batch(&refs[..3], k));
        let refs: Vec<&[f32]> = refs.iter().chain(&refs[..3]).copied().collect();
        for (q, got) in refs.iter().zip(&batch) {
            let mut want: Vec<(u32, f32)> = (0..index.concepts() as u32)
                .map(|c| (c, index.concept_score(c, q)))
                .collect();
            want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            want.truncate(k);
            assert_eq!(got.len(), k);
            for (g, w) in got.iter().zip(&want) {
                assert!((g.1 - w.1).abs() < 1e-5, "{got:?} vs {want:?}");
            }
            // Same concepts, allowing a swap only between scores equal to
            // rounding (sgemm and a plain dot sum in different orders).
            let ids = |v: &[(u32, f32)]| v.iter().map(|t| t.0).collect::<Vec<_>>();
            if ids(got) != ids(&want) {
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        g.0 == w.0 || (g.1 - w.1).abs() < 1e-5,
                        "{got:?} vs {want:?}"
                    );
                }
            }
        }
    }

    /// The `i8` pass of a few queries ranks as the f32 pass does, to the bit:
    /// ties (every 10th row repeats the one before), a concept longer than a
    /// block, `k` from 1 to more than the concepts.
    #[test]
    fn the_coarse_pass_ranks_exactly_as_the_full_one() {
        let dim = 32;
        let index = random_index(600, 9, dim);
        assert!(index.coarse.usable());
        let mut next = lcg(11);
        // Rows of the index (exact ties) and free vectors near them.
        let queries: Vec<Vec<f32>> = (0..48)
            .map(|i| {
                let row: Vec<f32> = index.vectors.row(i * 131 % index.rows()).collect();
                if i % 2 == 0 {
                    row
                } else {
                    row.iter().map(|x| x + 0.3 * next()).collect()
                }
            })
            .collect();
        let padded = |qs: &[Vec<f32>]| {
            let mut q = vec![0.0f32; qs.len().div_ceil(GROUP) * GROUP * dim];
            for (slot, v) in q.chunks_exact_mut(dim).zip(qs) {
                slot.copy_from_slice(v);
            }
            q
        };
        for k in [1, 20, index.concepts() + 3] {
            for n in [1, 5, COARSE_MAX_QUERIES] {
                for start in (0..queries.len() - n).step_by(n).take(4) {
                    let qs = &queries[start..start + n];
                    let q = padded(qs);
                    let want = index.top_k_exact(&q, n, k);
                    assert_eq!(
                        index.top_k_coarse(&q, n, k),
                        want,
                        "k {k}, queries {start}.."
                    );
                    let refs: Vec<&[f32]> = qs.iter().map(Vec::as_slice).collect();
                    assert_eq!(index.top_k_batch(&refs, k), want);
                }
            }
        }
    }

    /// A table with a NaN is ranked by the f32 pass only.
    #[test]
    fn an_index_with_a_nan_is_never_ranked_coarsely() {
        let mut values = vec![0.5f32; 4 * 40];
        values[5] = f32::NAN;
        let tiles = LabelTiles::from_rows(&values, 4);
        assert!(!CoarseTiles::of(&tiles).usable());
        values[5] = 0.25;
        assert!(CoarseTiles::of(&LabelTiles::from_rows(&values, 4)).usable());
    }

    #[test]
    fn a_batch_of_queries_ranks_each_as_it_would_alone() {
        let index = SkillIndex::build(&Letters, &concepts(), "t1").unwrap();
        let vectors = Letters
            .encode_batch(&["SQL", "singing", "budget planning"])
            .unwrap();
        let queries: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let batch = index.top_k_batch(&queries, 2);
        assert_eq!(batch.len(), 3);
        for (q, ranked) in queries.iter().zip(&batch) {
            assert_eq!(*ranked, index.top_k_batch(&[q], 2)[0]);
        }
        assert_eq!(index.label(batch[1][0].0), "sing");
        assert_eq!(index.label(batch[2][0].0), "manage budgets");
        // A query of the wrong length gets nothing, its neighbours still rank.
        let short = [1.0f32];
        let mixed = index.top_k_batch(&[&short, queries[0]], 2);
        assert!(mixed[0].is_empty());
        assert_eq!(mixed[1], batch[0]);
    }

    #[test]
    fn the_index_round_trips_through_its_cache_file_and_rebuilds_for_another_model() {
        let dir = std::env::temp_dir().join(format!("jobenrich-index-{}", std::process::id()));
        let (built, fresh) =
            SkillIndex::load_or_build(&dir, &Letters, || Ok(concepts()), "esco-1.1.1").unwrap();
        assert!(fresh);
        let (cached, fresh) = SkillIndex::load_or_build(
            &dir,
            &Letters,
            || panic!("a cached index must not be rebuilt"),
            "esco-1.1.1",
        )
        .unwrap();
        assert!(!fresh);
        assert_eq!(built, cached);
        // Another taxonomy version is another file.
        let (_, fresh) =
            SkillIndex::load_or_build(&dir, &Letters, || Ok(concepts()), "esco-2").unwrap();
        assert!(fresh);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_truncated_cache_file_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("jobenrich-index-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.bin");
        SkillIndex::build(&Letters, &concepts(), "t")
            .unwrap()
            .save(&path)
            .unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 3).unwrap();
        let err = SkillIndex::load(&path).unwrap_err().to_string();
        assert!(err.contains("x.bin") && err.contains("vectors"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn found_skill(name: &str, esco: Option<&str>, snippet: &str) -> FoundSkill {
        FoundSkill {
            canonical: name.into(),
            category: jobenrich_domain::SkillCategory::DomainKnowledge,
            confidence: 0.9,
            strategies: vec![],
            char_offset: 0,
            char_len: 0,
            mentions: vec![],
            taxonomy_ref: esco.map(|e| format!("esco:{e}")),
            section_index: None,
            section_type: None,
            section_relevance: None,
            snippet: snippet.into(),
            ambiguity_penalized: false,
            label: None,
        }
    }

    #[test]
    fn the_context_breaks_a_tie_between_two_senses_of_one_name() {
        // Both concepts are equally like the name "balance"; the snippets
        // lean one way each.
        let senses = vec![
            TaxonomyConcept {
                label: "balance zz".into(),
                alt_labels: vec![],
            },
            TaxonomyConcept {
                label: "balance qq".into(),
                alt_labels: vec![],
            },
        ];
        let index = Arc::new(SkillIndex::build(&Letters, &senses, "t").unwrap());
        let linker = SemanticLinker::new(Arc::new(Letters), index, 2).unwrap();
        let skills = [
            found_skill("balance", None, "qq qq balance qq"),
            found_skill("balance", None, "zz balance zz zz"),
        ];
        let by_name = linker.link(&skills, 0.0, 0.0).unwrap();
        for links in &by_name {
            assert_eq!(
                &*links[0].label, "balance zz",
                "a tie keeps the index order"
            );
            assert_eq!(links[0].score, links[1].score);
        }
        let in_context = linker.link(&skills, 0.5, 0.0).unwrap();
        assert_eq!(&*in_context[0][0].label, "balance qq");
        assert_eq!(&*in_context[1][0].label, "balance zz");
        for links in &in_context {
            assert!(links[0].score > links[1].score, "{links:?}");
            assert!(links.iter().all(|l| !l.exact && l.score <= 1.0));
        }
        // No snippet, no context: the name's order.
        let bare = linker
            .link(&[found_skill("balance", None, " ")], 0.5, 0.0)
            .unwrap();
        assert_eq!(&*bare[0][0].label, "balance zz");
    }

    #[test]
    fn a_concept_scores_as_its_best_label() {
        let index = SkillIndex::build(&Letters, &concepts(), "t").unwrap();
        let query = Letters.encode_batch(&["sql"]).unwrap().remove(0);
        assert!((index.concept_score(0, &query) - 1.0).abs() < 1e-6);
        assert!(index.concept_score(1, &query) < 0.5);
        assert_eq!(index.concept_score(99, &query), 0.0);
        assert_eq!(index.concept_score(0, &[1.0]), 0.0);
    }

    #[test]
    fn an_exact_lexicon_link_stays_first_and_candidates_fill_up_to_k() {
        let index = Arc::new(SkillIndex::build(&Letters, &concepts(), "t").unwrap());
        let linker = SemanticLinker::new(Arc::new(Letters), index, 2).unwrap();
        let skill = |name: &str, esco: Option<&str>| found_skill(name, esco, "");
        let links = linker
            .link(&[skill("SQL", None), skill("SQL", Some("sing"))], 0.0, 0.0)
            .unwrap();
        assert_eq!(links[0].len(), 2);
        assert_eq!(&*links[0][0].label, "use databases");
        assert!(!links[0][0].exact);
        assert_eq!(&*links[1][0].label, "sing");
        assert!(links[1][0].exact && links[1][0].score == 1.0);
        assert_eq!(&*links[1][1].label, "use databases");
        assert_eq!(links[1].len(), 2);
    }

    /// Links by name come from the per-phrase cache: the same lists as the
    /// uncached path (a context weight with blank snippets), on the first
    /// call and on later ones, for each temperature on its own.
    #[test]
    fn cached_link_lists_equal_fresh_ones_at_every_temperature() {
        let concept = |label: &str| TaxonomyConcept {
            label: label.into(),
            alt_labels: vec![],
        };
        // Two labels alike but for case, so the dedupe has work to do.
        let concepts = vec![
            concept("SQL"),
            concept("sql"),
            concept("sing"),
            concept("manage budgets"),
            concept("budgeting"),
        ];
        let index = Arc::new(SkillIndex::build(&Letters, &concepts, "t").unwrap());
        let linker = SemanticLinker::new(Arc::new(Letters), index, 3).unwrap();
        let skills = [
            found_skill("SQL", None, " "),
            found_skill("SQL", Some("sql"), " "),
            found_skill("SQL", Some("SING"), " "),
            found_skill("budget", None, " "),
            found_skill("budget", Some("budgeting"), " "),
        ];
        let mut by_temperature = Vec::new();
        for t in [0.0, 0.03, 1.0] {
            let fresh = linker.link(&skills, 0.5, t).unwrap();
            assert_eq!(linker.link(&skills, 0.0, t).unwrap(), fresh, "t {t}");
            assert_eq!(
                linker.link(&skills, 0.0, t).unwrap(),
                fresh,
                "t {t}, cached"
            );
            for links in &fresh {
                assert!(!links.is_empty() && links.len() <= 3);
                for (i, a) in links.iter().enumerate() {
                    assert!(links[i + 1..]
                        .iter()
                        .all(|b| !a.label.eq_ignore_ascii_case(&b.label)));
                }
            }
            assert!(fresh[1][0].exact && &*fresh[1][0].label == "sql");
            by_temperature.push(fresh);
        }
        // Scores are shares at each temperature: no list is reused for another.
        assert_ne!(by_temperature[1], by_temperature[2]);
        assert_ne!(by_temperature[0], by_temperature[1]);
    }

    /// Counts the texts it is asked to encode.
    struct Counting(std::sync::atomic::AtomicUsize);
    impl TextEncoder for Counting {
        fn model_id(&self) -> &str {
            Letters.model_id()
        }
        fn dim(&self) -> usize {
            Letters.dim()
        }
        fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
            self.0
                .fetch_add(texts.len(), std::sync::atomic::Ordering::Relaxed);
            Letters.encode_batch(texts)
        }
    }

    #[test]
    fn a_phrase_is_encoded_once_and_its_cached_candidates_equal_fresh_ones() {
        let index = Arc::new(SkillIndex::build(&Letters, &concepts(), "t").unwrap());
        let counting = Arc::new(Counting(Default::default()));
        let linker = SemanticLinker::new(counting.clone(), index.clone(), 3).unwrap();
        let first = linker
            .candidates(&["budgeting", "sql", "budgeting"])
            .unwrap();
        assert_eq!(counting.0.load(std::sync::atomic::Ordering::Relaxed), 2);
        let again = linker.candidates(&["sql", "budgeting", "singing"]).unwrap();
        assert_eq!(counting.0.load(std::sync::atomic::Ordering::Relaxed), 3);
        assert_eq!(first[0], first[2]);
        assert_eq!((&again[0], &again[1]), (&first[1], &first[0]));
        assert_eq!(&*first[0][0].label, "manage budgets");
        // The same as a linker that never saw them.
        let fresh = SemanticLinker::new(Arc::new(Letters), index, 3).unwrap();
        assert_eq!(fresh.candidates(&["singing"]).unwrap()[0], again[2]);
    }

    #[test]
    fn an_index_of_another_encoder_is_refused() {
        struct Other;
        impl TextEncoder for Other {
            fn model_id(&self) -> &str {
                "other"
            }
            fn dim(&self) -> usize {
                26
            }
            fn encode_batch(&self, _: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
                Ok(vec![])
            }
        }
        let index = Arc::new(SkillIndex::build(&Letters, &concepts(), "t").unwrap());
        let err = SemanticLinker::new(Arc::new(Other), index, 5).unwrap_err();
        assert!(err.to_string().contains("letters"), "{err}");
    }

    #[test]
    fn the_esco_csv_reader_names_the_file_of_a_missing_column() {
        let path = std::env::temp_dir().join(format!("jobenrich-esco-{}.csv", std::process::id()));
        std::fs::write(&path, "label,altLabels\nx,y\n").unwrap();
        let err = load_esco_skills(&path).unwrap_err().to_string();
        assert!(
            err.contains("preferredLabel") && err.contains(".csv"),
            "{err}"
        );
        std::fs::write(
            &path,
            "preferredLabel,altLabels,skillType\nuse databases,\"SQL\nsql queries\",skill\n",
        )
        .unwrap();
        let c = load_esco_skills(&path).unwrap();
        assert_eq!(
            c[0].alt_labels,
            vec!["SQL".to_string(), "sql queries".to_string()]
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn shares_sum_to_one_keep_the_order_and_sharpen_as_t_falls() {
        let pool = [(7, 0.9), (3, 0.85), (5, 0.5)];
        let at = |t: f32| shares(&pool, t);
        for t in [0.01, 0.05, 0.5] {
            let s = at(t);
            assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{s:?}");
            assert!(s[0] > s[1] && s[1] > s[2], "{s:?}");
        }
        // One standing out takes nearly all at a small t; a large t
        // flattens towards equal shares.
        assert!(at(0.01)[0] > 0.99);
        assert!(at(0.5)[0] < 0.45);
        // A far-off cosine does not overflow: exp of the gap to the best.
        let far = shares(&[(0, 1.0), (1, -1.0)], 0.001);
        assert!(far[0] == 1.0 && far[1] == 0.0, "{far:?}");
        assert!(shares(&[], 0.1).is_empty());
    }
}
