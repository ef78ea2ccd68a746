//! Training of the section model: L2-regularized logistic regression fitted
//! by seeded stochastic gradient descent with AdaGrad step sizes. Written
//! here rather than taken from `linfa-logistic`: that crate needs ndarray and
//! argmin (a large build for CI) and dense design matrices, while these
//! features are a few dozen hashed sparse entries per section and the whole
//! fit is thirty lines.

use super::features::{section_features, SectionFeatureConfig};
use super::{cue_matcher, sigmoid, SectionModel, SectionTrainingMetadata};
use crate::sections::{Section, SectionClassifier};
use crate::tagger::LabeledPosting;
use crate::EngineError;

#[derive(Debug, Clone, PartialEq)]
pub struct SectionTrainConfig {
    pub seed: u64,
    pub epochs: u32,
    /// L2 penalty per example.
    pub l2: f64,
    /// AdaGrad base step.
    pub learning_rate: f64,
    pub features: SectionFeatureConfig,
}

impl Default for SectionTrainConfig {
    fn default() -> Self {
        SectionTrainConfig {
            seed: 42,
            epochs: 30,
            l2: 1e-4,
            learning_rate: 0.3,
            features: SectionFeatureConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SectionTrainReport {
    pub postings: usize,
    pub sections: usize,
    pub relevant_sections: usize,
    /// Mean log-loss on the training sections after each epoch.
    pub loss_per_epoch: Vec<f64>,
}

/// Whether a section holds any of the posting's gold spans: the label the
/// model learns (a section is skills-relevant when it holds gold skills).
pub fn section_holds_gold(section: &Section, posting: &LabeledPosting) -> bool {
    posting
        .spans
        .iter()
        .any(|g| g.start < section.char_end && section.char_start < g.end)
}

/// Confusion counts of `is_skills_relevant` against "holds gold spans".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RelevanceCounts {
    pub true_positive: usize,
    pub false_positive: usize,
    pub true_negative: usize,
    pub false_negative: usize,
}

impl RelevanceCounts {
    pub fn total(&self) -> usize {
        self.true_positive + self.false_positive + self.true_negative + self.false_negative
    }

    pub fn accuracy(&self) -> f64 {
        (self.true_positive + self.true_negative) as f64 / self.total().max(1) as f64
    }

    pub fn precision(&self) -> f64 {
        self.true_positive as f64 / (self.true_positive + self.false_positive).max(1) as f64
    }

    pub fn recall(&self) -> f64 {
        self.true_positive as f64 / (self.true_positive + self.false_negative).max(1) as f64
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }
}

/// How well `classifier` (rules, or rules with a model) marks the sections
/// of labeled postings that hold gold spans.
pub fn relevance_counts(
    classifier: &SectionClassifier,
    postings: &[LabeledPosting],
) -> RelevanceCounts {
    let mut c = RelevanceCounts::default();
    for p in postings {
        for s in classifier.classify(&p.text) {
            match (s.is_skills_relevant, section_holds_gold(&s, p)) {
                (true, true) => c.true_positive += 1,
                (true, false) => c.false_positive += 1,
                (false, false) => c.true_negative += 1,
                (false, true) => c.false_negative += 1,
            }
        }
    }
    c
}

/// splitmix64 for the seeded shuffle.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fits the model on the sections `rules` splits `postings` into.
pub fn train_section_model(
    rules: &SectionClassifier,
    postings: &[LabeledPosting],
    config: &SectionTrainConfig,
    dataset: &str,
    dataset_sha256: &str,
) -> Result<(SectionModel, SectionTrainReport), EngineError> {
    let cues = cue_matcher(&config.features).map_err(|message| EngineError::Config {
        key: "features.cue_words".into(),
        message,
    })?;
    let mut examples: Vec<(Vec<(u32, f32)>, f64)> = Vec::new();
    for p in postings {
        let lower = p.text.to_ascii_lowercase();
        let sections = rules.classify(&p.text);
        for i in 0..sections.len() {
            let mut feats = Vec::new();
            section_features(
                &sections,
                i,
                &lower,
                &config.features,
                cues.as_ref(),
                &mut feats,
            );
            let y = f64::from(u8::from(section_holds_gold(&sections[i], p)));
            examples.push((feats, y));
        }
    }
    let rows = 1usize << config.features.hash_bits;
    let mut w = vec![0f64; rows];
    let mut g2 = vec![1e-8f64; rows];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut state = config.seed;
    let mut loss_per_epoch = Vec::new();
    for _ in 0..config.epochs {
        for i in (1..order.len()).rev() {
            let j = (next(&mut state) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for &e in &order {
            let (feats, y) = &examples[e];
            let z: f64 = feats
                .iter()
                .map(|&(r, x)| w[r as usize] * f64::from(x))
                .sum();
            let err = sigmoid(z) - y;
            for &(r, x) in feats {
                let r = r as usize;
                let grad = err * f64::from(x) + config.l2 * w[r];
                g2[r] += grad * grad;
                w[r] -= config.learning_rate * grad / g2[r].sqrt();
            }
        }
        let loss = examples
            .iter()
            .map(|(feats, y)| {
                let z: f64 = feats
                    .iter()
                    .map(|&(r, x)| w[r as usize] * f64::from(x))
                    .sum();
                let p = sigmoid(z).clamp(1e-9, 1.0 - 1e-9);
                -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            })
            .sum::<f64>()
            / examples.len().max(1) as f64;
        loss_per_epoch.push(loss);
    }
    let relevant = examples.iter().filter(|(_, y)| *y > 0.5).count();
    let report = SectionTrainReport {
        postings: postings.len(),
        sections: examples.len(),
        relevant_sections: relevant,
        loss_per_epoch,
    };
    let metadata = SectionTrainingMetadata {
        dataset: dataset.to_string(),
        dataset_sha256: dataset_sha256.to_string(),
        seed: config.seed,
        epochs: config.epochs,
        l2: config.l2,
        postings: postings.len(),
        sections: examples.len(),
        relevant_sections: relevant,
    };
    let dense: Vec<f32> = w.iter().map(|x| *x as f32).collect();
    let model = SectionModel::from_trained(config.features.clone(), dense, metadata)?;
    Ok((model, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tagger::LabeledSpan;
    use crate::{EngineConfig, SpanLabel};

    fn posting(text: &str, skill: &str) -> LabeledPosting {
        let start = text.find(skill).unwrap();
        let char_start = text[..start].chars().count() as u32;
        LabeledPosting {
            text: text.to_string(),
            spans: vec![LabeledSpan {
                start: char_start,
                end: char_start + skill.chars().count() as u32,
                label: SpanLabel::Knowledge,
            }],
        }
    }

    fn data() -> Vec<LabeledPosting> {
        (0..20)
            .map(|i| {
                posting(
                    &format!(
                        "About us\nWe sell widget number {i} worldwide.\n\nPerks:\n- Rust and SQL\n"
                    ),
                    "Rust",
                )
            })
            .collect()
    }

    #[test]
    fn learns_which_sections_hold_skills() {
        let rules = SectionClassifier::new(&EngineConfig::default());
        let (model, report) =
            train_section_model(&rules, &data(), &SectionTrainConfig::default(), "t", "").unwrap();
        assert_eq!(report.sections, 40);
        assert_eq!(report.relevant_sections, 20);
        assert!(report.loss_per_epoch.last() < report.loss_per_epoch.first());
        let text = "About us\nWe sell widget number 99 worldwide.\n\nPerks:\n- Rust and SQL\n";
        let mut sections = rules.classify(text);
        model.score(&mut sections, &text.to_ascii_lowercase(), 0.5);
        assert!(!sections[0].is_skills_relevant, "{:?}", sections[0]);
        assert!(sections[1].is_skills_relevant, "{:?}", sections[1]);
    }

    #[test]
    fn an_engine_with_the_model_scores_sections_by_it() {
        let rules = SectionClassifier::new(&EngineConfig::default());
        let (model, _) =
            train_section_model(&rules, &data(), &SectionTrainConfig::default(), "t", "").unwrap();
        let lexicon = std::sync::Arc::new(crate::Lexicon::from_entries(vec![]));
        let plain = crate::SkillsEngine::new(lexicon, &[], EngineConfig::default()).unwrap();
        assert_eq!(
            plain.classifier().classification_method(),
            jobenrich_domain::ClassificationMethod::RuleBased
        );
        // The rules call a `Perks:` section irrelevant; in these training
        // postings it is where the skills are, and the model follows that.
        let text = "About us\nWe sell widget number 7 worldwide.\n\nPerks:\n- Rust and SQL\n";
        assert!(plain.sections(text)[1].relevance < 0.5);
        let engine = plain.with_section_model(std::sync::Arc::new(model));
        assert_eq!(
            engine.classifier().classification_method(),
            jobenrich_domain::ClassificationMethod::MlModel
        );
        let sections = engine.sections(text);
        assert!(
            sections[0].relevance < 0.5 && sections[1].relevance > 0.5,
            "{sections:?}"
        );
    }

    #[test]
    fn same_seed_same_bytes_and_the_artifact_round_trips() {
        let rules = SectionClassifier::new(&EngineConfig::default());
        let config = SectionTrainConfig::default();
        let (a, _) = train_section_model(&rules, &data(), &config, "t", "").unwrap();
        let (b, _) = train_section_model(&rules, &data(), &config, "t", "").unwrap();
        assert_eq!(a.to_json(), b.to_json());
        let dir = std::env::temp_dir().join(format!("section-model-{}", std::process::id()));
        a.save(&dir).unwrap();
        let loaded = SectionModel::load(&dir).unwrap();
        assert_eq!(loaded.to_json(), a.to_json());
        // A changed weight no longer matches the checksum.
        let path = dir.join(super::super::SECTION_MODEL_FILE);
        let json = std::fs::read_to_string(&path).unwrap();
        let tampered = json.replacen(
            "\"weights\": [\n    [\n      ",
            "\"weights\": [\n    [\n      1",
            1,
        );
        assert_ne!(tampered, json);
        std::fs::write(&path, tampered).unwrap();
        let err = SectionModel::load(&dir).unwrap_err().to_string();
        assert!(err.contains("checksum") || err.contains("outside"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
