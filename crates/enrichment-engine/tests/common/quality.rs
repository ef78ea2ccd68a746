//! Dev-set quality measurement shared by the quality floor test and the
//! `quality_probe` example: span-overlap P/R/F1 on SkillSpan postings (a
//! predicted mention counts if it overlaps a gold span; a gold span counts if
//! any mention overlaps it — the same definition as jobenrich-evaluation) and
//! the share of gold ESCO labels found on the ESCO-linked validation sets.

#![allow(dead_code)]

use jobenrich_enrichment_engine::{load_alias_csv, EngineConfig, Lexicon, SkillsEngine};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

#[derive(Clone)]
pub struct Posting {
    pub text: String,
    /// Gold spans in chars.
    pub spans: Vec<(u32, u32)>,
    /// `SKILL` or `KNOWLEDGE`, one per span.
    pub labels: Vec<String>,
    /// `tech` or `house`.
    pub source: String,
}

/// SkillSpan postings of one split (`train` or `dev`).
pub fn skillspan(split: &str) -> Vec<Posting> {
    let text =
        std::fs::read_to_string(testdata("skillspan_postings.jsonl")).expect("skillspan postings");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["split"] == split)
        .map(|v| Posting {
            text: v["text"].as_str().unwrap_or("").to_string(),
            spans: v["spans"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| {
                            (
                                s["start"].as_u64().unwrap_or(0) as u32,
                                s["end"].as_u64().unwrap_or(0) as u32,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            labels: v["spans"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| s["label"].as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default(),
            source: v["source"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub predicted: usize,
    pub gold: usize,
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

pub fn span_overlap(engine: &SkillsEngine, postings: &[Posting]) -> Prf {
    let (mut predicted, mut predicted_hit, mut gold, mut gold_hit) =
        (0usize, 0usize, 0usize, 0usize);
    for p in postings {
        let spans: Vec<(u32, u32)> = engine
            .extract_text(&p.text)
            .iter()
            .flat_map(|f| f.mentions.iter().map(|m| (m.start, m.end)))
            .collect();
        predicted += spans.len();
        predicted_hit += spans
            .iter()
            .filter(|s| p.spans.iter().any(|g| overlaps(**s, *g)))
            .count();
        gold += p.spans.len();
        gold_hit += p
            .spans
            .iter()
            .filter(|g| spans.iter().any(|s| overlaps(*s, **g)))
            .count();
    }
    let precision = if predicted == 0 {
        0.0
    } else {
        predicted_hit as f64 / predicted as f64
    };
    let recall = if gold == 0 {
        0.0
    } else {
        gold_hit as f64 / gold as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Prf {
        precision,
        recall,
        f1,
        predicted,
        gold,
    }
}

/// Share of linked gold rows (label not `LABEL NOT PRESENT`/`UNDERSPECIFIED`)
/// whose ESCO label the engine reports for the sentence (as canonical name or
/// linked `esco:` taxonomy reference).
pub fn esco_label_share(engine: &SkillsEngine, file: &str) -> (usize, usize) {
    let mut reader = csv::Reader::from_path(testdata(file)).expect("esco-linked csv");
    let (mut found, mut total) = (0usize, 0usize);
    for r in reader.records() {
        let r = r.expect("row");
        let (sentence, label) = (r.get(0).unwrap_or(""), r.get(3).unwrap_or("").trim());
        if label.is_empty() || label == "LABEL NOT PRESENT" || label == "UNDERSPECIFIED" {
            continue;
        }
        total += 1;
        let hit = engine.extract_text(sentence).iter().any(|f| {
            f.canonical.eq_ignore_ascii_case(label)
                || f.taxonomy_ref
                    .as_deref()
                    .and_then(|t| t.strip_prefix("esco:"))
                    .is_some_and(|l| l.eq_ignore_ascii_case(label))
        });
        found += hit as usize;
    }
    (found, total)
}

pub fn shipped_lexicon() -> Arc<Lexicon> {
    Arc::new(Lexicon::load_dir(&shipped_lexicon_dir()).expect("shipped lexicon"))
}

/// The repository's `data/lexicon` (tests run inside the checkout).
pub fn shipped_lexicon_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lexicon")
}

pub fn engine_with(
    lexicon: Arc<Lexicon>,
    config: EngineConfig,
    with_aliases: bool,
) -> SkillsEngine {
    let aliases = if with_aliases {
        load_alias_csv(
            &shipped_lexicon_dir().join("aliases.csv"),
            chrono::Utc::now(),
        )
        .expect("aliases")
    } else {
        Vec::new()
    };
    SkillsEngine::new(lexicon, &aliases, config).expect("engine")
}

/// The repository's `models/skills_extractor/<version>`.
pub fn shipped_model_dir(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/skills_extractor")
        .join(version)
}

/// The engine settings of a shipped model config (`model.yaml`'s
/// `config_overrides`, one `key: value` per line; the engine crate has no
/// YAML reader, and these files hold only scalars), with the tagger loaded
/// from the artifact beside it.
pub fn shipped_tagger_engine(version: &str) -> SkillsEngine {
    let dir = shipped_model_dir(version);
    let yaml = std::fs::read_to_string(dir.join("model.yaml")).expect("model.yaml");
    let mut overrides = serde_json::Map::new();
    let mut inside = false;
    for line in yaml.lines() {
        if line.starts_with("config_overrides:") {
            inside = true;
            continue;
        }
        if !line.starts_with("  ") {
            inside = false;
        }
        let Some((key, value)) = line.trim().split_once(": ").filter(|_| inside) else {
            continue;
        };
        let value = serde_json::from_str(value).unwrap_or_else(|_| value.into());
        overrides.insert(key.to_string(), value);
    }
    // The artifact is loaded here, not through the `models.artifacts_dir` setting.
    overrides.remove("tagger_artifact");
    let config = EngineConfig::from_overrides(&overrides).expect("model config");
    let tagger = jobenrich_enrichment_engine::Tagger::load(&dir).expect("tagger artifact");
    engine_with(shipped_lexicon(), config, true).with_tagger(Arc::new(tagger))
}

/// A plain lexicon match: every surface form, no aliases, patterns,
/// ambiguity rules or confidence threshold.
pub fn plain_lexicon_config() -> EngineConfig {
    EngineConfig {
        use_aliases: false,
        use_patterns: false,
        ambiguity_rules: false,
        min_confidence: 0.0,
        ..EngineConfig::default()
    }
}

/// A predicted span: chars, and `SKILL`/`KNOWLEDGE` (from the tagger's
/// label, or for rule-only skills `SKILL` when the category is soft skills).
pub type Predicted = (u32, u32, &'static str);

pub fn predictions(engine: &SkillsEngine, text: &str) -> Vec<Predicted> {
    let mut out: Vec<Predicted> = engine
        .extract_text(text)
        .iter()
        .flat_map(|f| {
            let label = match f.label {
                Some(l) => l.as_str(),
                None if f.category == jobenrich_domain::SkillCategory::SoftSkills => "SKILL",
                None => "KNOWLEDGE",
            };
            f.mentions.iter().map(move |m| (m.start, m.end, label))
        })
        .collect();
    out.sort();
    out
}

/// Counts behind one P/R/F1: predicted, predicted that hit, gold, gold that were hit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub predicted: usize,
    pub predicted_hit: usize,
    pub gold: usize,
    pub gold_hit: usize,
}

impl Counts {
    pub fn add(&mut self, o: Counts) {
        self.predicted += o.predicted;
        self.predicted_hit += o.predicted_hit;
        self.gold += o.gold;
        self.gold_hit += o.gold_hit;
    }

    pub fn prf(&self) -> Prf {
        let precision = if self.predicted == 0 {
            0.0
        } else {
            self.predicted_hit as f64 / self.predicted as f64
        };
        let recall = if self.gold == 0 {
            0.0
        } else {
            self.gold_hit as f64 / self.gold as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Prf {
            precision,
            recall,
            f1,
            predicted: self.predicted,
            gold: self.gold,
        }
    }
}

/// `P/R/F1` of `c` with three decimals, as the probes print them.
pub fn prf_text(c: &Counts) -> String {
    let p = c.prf();
    format!("{:.3}/{:.3}/{:.3}", p.precision, p.recall, p.f1)
}

/// Span counts of one posting: `exact` needs equal boundaries, otherwise
/// any overlap counts; `label` restricts both sides to one label.
pub fn count(p: &Posting, pred: &[Predicted], exact: bool, label: Option<&str>) -> Counts {
    let gold: Vec<(u32, u32)> = p
        .spans
        .iter()
        .zip(&p.labels)
        .filter(|(_, l)| label.is_none_or(|x| x == l.as_str()))
        .map(|(s, _)| *s)
        .collect();
    let pred: Vec<(u32, u32)> = pred
        .iter()
        .filter(|s| label.is_none_or(|x| x == s.2))
        .map(|s| (s.0, s.1))
        .collect();
    let hit = |a: (u32, u32), b: (u32, u32)| if exact { a == b } else { overlaps(a, b) };
    Counts {
        predicted: pred.len(),
        predicted_hit: pred
            .iter()
            .filter(|s| gold.iter().any(|g| hit(**s, *g)))
            .count(),
        gold: gold.len(),
        gold_hit: gold
            .iter()
            .filter(|g| pred.iter().any(|s| hit(*s, **g)))
            .count(),
    }
}

/// 95 % bootstrap interval of a metric over postings (resampled with
/// replacement, seeded).
pub fn bootstrap(per_posting: &[Counts], rounds: usize, f: impl Fn(&Prf) -> f64) -> (f64, f64) {
    let n = per_posting.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut values = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let mut total = Counts::default();
        for _ in 0..n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            total.add(per_posting[(state % n as u64) as usize]);
        }
        values.push(f(&total.prf()));
    }
    values.sort_by(|a, b| a.total_cmp(b));
    (values[rounds * 25 / 1000], values[rounds * 975 / 1000 - 1])
}
