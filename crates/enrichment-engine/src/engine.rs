//! `SkillsEngine`: one immutable object per (lexicon, active aliases, model
//! config) that sections a posting and extracts its skills. Built once, then
//! shared across worker threads (`Send + Sync`); `enrich` allocates only for
//! its results.

use crate::extract::{AliasTarget, Extractor, FoundSkill, PatternSet};
use crate::lexicon::Lexicon;
use crate::phrase_matcher::{FastMap, PhraseMatcher};
use crate::section_model::SectionModel;
use crate::sections::{Section, SectionClassifier};
use crate::semantic::{SemanticLinker, SkillLink, ESCO_PREFIX as ESCO_REF_PREFIX};
use crate::tagger::Tagger;
use crate::text::{floor_boundary, CharOffsets};
use crate::{EngineConfig, EngineError};
use chrono::{DateTime, Utc};
use jobenrich_domain::{
    EnrichmentVersion, ExtractedSkill, ExtractionStrategy, JobPosting, SectionClassification,
    SkillAlias, TaxonomyLink,
};
use std::sync::Arc;

/// Sections and skills of one posting, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOutput {
    pub sections: Vec<SectionClassification>,
    pub skills: Vec<ExtractedSkill>,
}

/// A posting's sections and skills before linking and row building: what a
/// batch computes once ahead of ranking its phrases ([`SkillsEngine::analyze`],
/// [`SkillsEngine::prepare_links`]), then completes per posting
/// ([`SkillsEngine::finish`]).
#[derive(Debug, Clone)]
pub struct Analysis {
    sections: Vec<Section>,
    found: Vec<FoundSkill>,
    /// The description's length in characters (mentions must lie within).
    text_chars: usize,
    /// Its length in bytes: `finish` refuses another text.
    text_len: usize,
}

pub struct SkillsEngine {
    lexicon: Arc<Lexicon>,
    aliases: Vec<AliasTarget>,
    alias_matcher: Option<PhraseMatcher>,
    alias_groups: FastMap<String, u32>,
    patterns: PatternSet,
    classifier: SectionClassifier,
    config: EngineConfig,
    tagger: Option<Arc<Tagger>>,
    linker: Option<Arc<SemanticLinker>>,
}

impl std::fmt::Debug for SkillsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillsEngine")
            .field("lexicon", &self.lexicon)
            .field("aliases", &self.aliases.len())
            .finish()
    }
}

impl SkillsEngine {
    /// Compiles the active aliases and patterns; inactive aliases are ignored.
    pub fn new(
        lexicon: Arc<Lexicon>,
        aliases: &[SkillAlias],
        config: EngineConfig,
    ) -> Result<SkillsEngine, EngineError> {
        config.validate()?;
        let mut targets: Vec<AliasTarget> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut alias_groups: FastMap<String, u32> = FastMap::default();
        let mut active: Vec<&SkillAlias> = aliases.iter().filter(|a| a.is_active).collect();
        // Deterministic regardless of the order the store returns them.
        active.sort_by(|a, b| a.alias_text.cmp(&b.alias_text));
        for alias in active {
            let text = alias.alias_text.trim();
            if text.is_empty() || !seen.insert(SkillAlias::normalized_key(text)) {
                continue;
            }
            let entry = lexicon
                .entries()
                .iter()
                .position(|e| {
                    e.canonical
                        .eq_ignore_ascii_case(alias.canonical_name.trim())
                })
                .map(|p| p as u32);
            let name = alias.canonical_name.trim().to_lowercase();
            let group = entry
                .map(|e| lexicon.entry_group(e))
                .or_else(|| lexicon.group_named(&name))
                .unwrap_or_else(|| {
                    let next = lexicon.group_count() + alias_groups.len() as u32;
                    *alias_groups.entry(name).or_insert(next)
                });
            // Short acronyms (`ML`, `JS`, `GCP`) collide with words and units in lowercase.
            let case_sensitive = text.chars().count() <= 3 && text.chars().any(char::is_uppercase);
            targets.push(AliasTarget {
                text: text.to_string(),
                canonical: alias.canonical_name.trim().to_string(),
                category: alias.skill_category,
                confidence: alias.confidence.clamp(0.0, 1.0),
                case_sensitive,
                entry,
                group,
            });
        }
        let alias_matcher = (!targets.is_empty())
            .then(|| PhraseMatcher::new(targets.iter().map(|t| t.text.as_str())));
        Ok(SkillsEngine {
            classifier: SectionClassifier::new(&config),
            lexicon,
            aliases: targets,
            alias_matcher,
            alias_groups,
            patterns: PatternSet::new(),
            config,
            tagger: None,
            linker: None,
        })
    }

    /// The same engine with a trained tagger: its spans decide what is
    /// reported, the rule strategies name them (see `tagger::fuse`).
    pub fn with_tagger(mut self, tagger: Arc<Tagger>) -> SkillsEngine {
        self.tagger = Some(tagger);
        self
    }

    /// The same engine with a trained section model scoring section
    /// relevance (`ml_model`); the rules still split the sections.
    pub fn with_section_model(mut self, model: Arc<SectionModel>) -> SkillsEngine {
        self.classifier = self.classifier.with_model(model);
        self
    }

    pub fn tagger(&self) -> Option<&Tagger> {
        self.tagger.as_deref()
    }

    /// The same engine with the `semantic` strategy's ESCO linker.
    pub fn with_linker(mut self, linker: Arc<SemanticLinker>) -> SkillsEngine {
        self.linker = Some(linker);
        self
    }

    pub fn linker(&self) -> Option<&SemanticLinker> {
        self.linker.as_deref()
    }

    /// Ranked ESCO links of each skill (same order), best first; empty lists
    /// without a linker. One encoder batch for all of them.
    pub fn link(&self, skills: &[FoundSkill]) -> Result<Vec<Vec<SkillLink>>, EngineError> {
        match &self.linker {
            Some(linker) if !skills.is_empty() => linker.link(
                skills,
                self.config.semantic_context_weight as f32,
                self.config.semantic_link_temperature as f32,
            ),
            _ => Ok(vec![Vec::new(); skills.len()]),
        }
    }

    /// The rule strategies alone (what the tagger's features are computed from).
    pub(crate) fn rule_extractor(&self) -> Extractor<'_> {
        Extractor {
            tagger: None,
            ..self.extractor()
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn classifier(&self) -> &SectionClassifier {
        &self.classifier
    }

    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    fn extractor(&self) -> Extractor<'_> {
        Extractor {
            lexicon: &self.lexicon,
            aliases: &self.aliases,
            alias_matcher: self.alias_matcher.as_ref(),
            alias_groups: &self.alias_groups,
            patterns: &self.patterns,
            config: &self.config,
            tagger: self.tagger.as_deref(),
        }
    }

    /// Sections of a text (no job needed).
    pub fn sections(&self, text: &str) -> Vec<Section> {
        self.classifier.classify(text)
    }

    /// Skills of a raw text, with sections computed on it. Text beyond
    /// `max_input_bytes` is ignored (use `enrich` to have it refused).
    pub fn extract_text(&self, text: &str) -> Vec<FoundSkill> {
        let text = &text[..floor_boundary(text, self.config.max_input_bytes)];
        let offsets = CharOffsets::new(text);
        let lower = text.to_ascii_lowercase();
        let sections = self.classifier.classify_with(text, &lower, &offsets);
        self.extractor().extract(text, &lower, &sections, &offsets)
    }

    /// Skills of a text against sections already computed on it.
    pub fn extract_with_sections(&self, text: &str, sections: &[Section]) -> Vec<FoundSkill> {
        let text = &text[..floor_boundary(text, self.config.max_input_bytes)];
        let offsets = CharOffsets::new(text);
        let lower = text.to_ascii_lowercase();
        self.extractor().extract(text, &lower, sections, &offsets)
    }

    /// Ranks the skill phrases of many analysed postings against the
    /// taxonomy in one pass (the linker keeps them), so `finish` finds them
    /// ranked: one pass over the index per posting costs more than the rest
    /// of `enrich`. Nothing to do without a linker.
    pub fn prepare_links(&self, analyses: &[&Analysis]) -> Result<(), EngineError> {
        let Some(linker) = &self.linker else {
            return Ok(());
        };
        let mut names: Vec<&str> = analyses
            .iter()
            .flat_map(|a| a.found.iter().map(|f| f.canonical.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        linker.prepare(&names)
    }

    /// Whether this engine links skills to the taxonomy (then a batch pays
    /// to be analysed ahead, see [`SkillsEngine::prepare_links`]).
    pub fn links(&self) -> bool {
        self.linker.is_some()
    }

    /// Sections and skills of a posting's description, not yet linked.
    /// Refuses descriptions larger than `max_input_bytes`; never panics.
    pub fn analyze(&self, job: &JobPosting) -> Result<Analysis, EngineError> {
        let text = job.description.as_str();
        if text.len() > self.config.max_input_bytes {
            return Err(EngineError::InputRefused(format!(
                "job {}: description is {} bytes, more than max_input_bytes {}",
                job.job_posting_id,
                text.len(),
                self.config.max_input_bytes
            )));
        }
        let offsets = CharOffsets::new(text);
        let lower = text.to_ascii_lowercase();
        let sections = self.classifier.classify_with(text, &lower, &offsets);
        let found = self.extractor().extract(text, &lower, &sections, &offsets);
        Ok(Analysis {
            sections,
            found,
            text_chars: offsets.char_at(text.len()) as usize,
            text_len: text.len(),
        })
    }

    /// Sections and skills of a posting's description. Refuses descriptions
    /// larger than `max_input_bytes`; never panics.
    pub fn enrich(
        &self,
        job: &JobPosting,
        enrichment_version: &EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> Result<EngineOutput, EngineError> {
        let analysis = self.analyze(job)?;
        self.finish(job, analysis, enrichment_version, now)
    }

    /// `enrich` of a posting already analysed: links its skills and builds
    /// the rows. `analysis` must be this engine's analysis of `job`.
    pub fn finish(
        &self,
        job: &JobPosting,
        analysis: Analysis,
        enrichment_version: &EnrichmentVersion,
        now: DateTime<Utc>,
    ) -> Result<EngineOutput, EngineError> {
        let text = job.description.as_str();
        let Analysis {
            sections,
            found,
            text_chars,
            text_len,
        } = analysis;
        let mismatch = || {
            EngineError::InputRefused(format!(
                "job {}: the analysis passed is of another text",
                job.job_posting_id
            ))
        };
        if text_len != text.len() {
            return Err(mismatch());
        }
        let version = self.classifier.classifier_version().to_string();
        let classification_method = self.classifier.classification_method();
        let section_rows = sections
            .iter()
            .map(|s| {
                let section_text = text.get(s.byte_start..s.byte_end).ok_or_else(mismatch)?;
                Ok(SectionClassification {
                    classification_id: jobenrich_domain::Uuid::new_v4(),
                    job_posting_id: job.job_posting_id.clone(),
                    section_index: s.index,
                    section_header: s.header.clone(),
                    section_type: s.section_type.clone(),
                    section_text: section_text.to_string(),
                    start_offset: s.char_start,
                    end_offset: s.char_end,
                    is_skills_relevant: s.is_skills_relevant,
                    relevance_probability: s.relevance,
                    classification_method,
                    classifier_version: version.clone(),
                    created_at: now,
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        // Ranked ESCO candidates, one encoder batch; nothing to allocate on
        // the hot path of a version that does not link.
        let mut links = match self.linker {
            Some(_) => self.link(&found)?.into_iter(),
            None => Vec::new().into_iter(),
        };
        let skills: Vec<ExtractedSkill> = found
            .into_iter()
            .map(|f| {
                let links = links.next().unwrap_or_default();
                // By meaning only from a close cosine, whatever the score's scale.
                let by_meaning = links
                    .first()
                    .filter(|l| f64::from(l.cosine) >= self.config.semantic_min_score)
                    .map(|l| l.label.clone());
                let skill = ExtractedSkill {
                    skill_id: jobenrich_domain::Uuid::new_v4(),
                    enrichment_id: None,
                    job_posting_id: job.job_posting_id.clone(),
                    skill_name: f.canonical,
                    skill_category: f.category,
                    confidence_score: f.confidence,
                    source_strategies: f.strategies,
                    section_relevance_score: f.section_relevance,
                    extracted_from_section: f.section_type,
                    context_snippet: Some(f.snippet).filter(|s| !s.is_empty()),
                    position_in_text: Some(f.char_offset),
                    mention_count: f.mentions.len() as u32,
                    mention_spans: f.mentions,
                    taxonomy_ref: f.taxonomy_ref,
                    taxonomy_links: links
                        .into_iter()
                        .map(|l| TaxonomyLink {
                            label: l.label,
                            // f32 rounding can put a cosine a hair past 1. An
                            // f32 cosine holds ~7 significant digits: 8 decimals
                            // keep them and print in ~10 characters, not 17.
                            score: (f64::from(l.score).clamp(-1.0, 1.0) * 1e8).round() / 1e8,
                            exact: l.exact,
                        })
                        .collect(),
                    enrichment_version: enrichment_version.clone(),
                    created_at: now,
                };
                with_semantic_ref(skill, by_meaning)
            })
            .collect();
        // The domain's rule for stored spans; a breach is a bug, reported as
        // this job's failure rather than stored.
        for s in &skills {
            s.check_mentions_within(text_chars).map_err(|e| {
                EngineError::InputRefused(format!("job {}: {e}", job.job_posting_id))
            })?;
        }
        Ok(EngineOutput {
            sections: section_rows,
            skills,
        })
    }
}

/// A skill the lexicon did not link takes its best semantic candidate as
/// its taxonomy reference, and names the `semantic` strategy for it, when
/// that candidate's cosine reaches `semantic_min_score` (`by_meaning`; a
/// weaker one stays a ranked candidate only).
fn with_semantic_ref(mut skill: ExtractedSkill, by_meaning: Option<Arc<str>>) -> ExtractedSkill {
    if let (None, Some(label)) = (&skill.taxonomy_ref, by_meaning) {
        skill.taxonomy_ref = Some(format!("{ESCO_REF_PREFIX}{label}"));
        skill.source_strategies.push(ExtractionStrategy::Semantic);
        skill.source_strategies.sort_unstable();
        skill.source_strategies.dedup();
    }
    skill
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_encoder::Letters;
    use crate::{LexiconEntry, LexiconSource, SkillIndex, SurfaceForm, TaxonomyConcept};
    use jobenrich_domain::{JobId, SkillCategory, TextEncoder};

    /// A lexicon (Budgeting linked to ESCO, Sqls not), a linker over two
    /// concepts ranking 2 candidates, and a posting naming both skills.
    fn linked_fixture() -> (Arc<Lexicon>, Arc<SemanticLinker>, JobPosting) {
        let entry = |name: &str, taxonomy_ref: Option<&str>| LexiconEntry {
            canonical: name.into(),
            category: SkillCategory::SoftwareTools,
            source: LexiconSource::Curated,
            weight: 0.9,
            taxonomy_ref: taxonomy_ref.map(String::from),
            surfaces: vec![SurfaceForm::new(name, false)],
        };
        let lexicon = Arc::new(Lexicon::from_entries(vec![
            entry("Budgeting", Some("esco:manage budgets")),
            entry("Sqls", None),
        ]));
        let concepts = vec![
            TaxonomyConcept {
                label: "use databases".into(),
                alt_labels: vec!["sql".into()],
            },
            TaxonomyConcept {
                label: "manage budgets".into(),
                alt_labels: vec![],
            },
        ];
        let encoder: Arc<dyn TextEncoder> = Arc::new(Letters);
        let index = Arc::new(SkillIndex::build(encoder.as_ref(), &concepts, "t").unwrap());
        let linker = Arc::new(SemanticLinker::new(encoder, index, 2).unwrap());
        let posting = JobPosting {
            job_posting_id: JobId::parse("j").unwrap(),
            title: "Analyst".into(),
            company: None,
            location: None,
            description: "Requirements:\n- Budgeting and Sqls".into(),
            posted_at: None,
            source: None,
            url: None,
            ingested_at: Utc::now(),
        };
        (lexicon, linker, posting)
    }

    #[test]
    fn with_a_linker_skills_keep_ranked_links_and_an_unlinked_skill_takes_the_best() {
        let (lexicon, linker, posting) = linked_fixture();
        let (engine_lexicon, engine_linker) = (lexicon.clone(), linker.clone());
        let engine = SkillsEngine::new(lexicon, &[], EngineConfig::default())
            .unwrap()
            .with_linker(linker);
        // Analysed and ranked ahead for the batch; `finish` then finds them
        // ranked, and gives what `enrich` gives.
        assert!(engine.links());
        let analysis = engine.analyze(&posting).unwrap();
        engine.prepare_links(&[&analysis]).unwrap();
        let out = engine
            .finish(
                &posting,
                analysis.clone(),
                &EnrichmentVersion::legacy(),
                Utc::now(),
            )
            .unwrap();
        let alone = engine
            .enrich(&posting, &EnrichmentVersion::legacy(), Utc::now())
            .unwrap();
        let rows = |o: &EngineOutput| {
            let skills: Vec<_> = o
                .skills
                .iter()
                .map(|s| {
                    (
                        s.skill_name.clone(),
                        s.taxonomy_ref.clone(),
                        s.taxonomy_links.clone(),
                    )
                })
                .collect();
            let sections: Vec<_> = o.sections.iter().map(|s| s.section_text.clone()).collect();
            (skills, sections)
        };
        assert_eq!(rows(&out), rows(&alone));
        // An analysis of another text is refused, not sliced.
        let other = JobPosting {
            description: "Budgeting".into(),
            ..posting.clone()
        };
        assert!(engine
            .finish(&other, analysis, &EnrichmentVersion::legacy(), Utc::now())
            .is_err());
        let skill = |name: &str| out.skills.iter().find(|s| s.skill_name == name).unwrap();
        let budgeting = skill("Budgeting");
        assert_eq!(
            budgeting.taxonomy_ref.as_deref(),
            Some("esco:manage budgets")
        );
        assert!(budgeting.taxonomy_links[0].exact);
        assert_eq!(budgeting.taxonomy_links[0].score, 1.0);
        assert!(!budgeting
            .source_strategies
            .contains(&ExtractionStrategy::Semantic));
        let sql = skill("Sqls");
        assert_eq!(sql.taxonomy_ref.as_deref(), Some("esco:use databases"));
        assert!(sql
            .source_strategies
            .contains(&ExtractionStrategy::Semantic));
        assert_eq!(sql.taxonomy_links.len(), 2);
        assert!(!sql.taxonomy_links[0].exact);
        assert!(sql.taxonomy_links[0].score >= sql.taxonomy_links[1].score);
        for link in &sql.taxonomy_links {
            // Kept to 8 decimals: short when printed.
            assert!(link.score.to_string().len() <= 11, "{}", link.score);
        }
        for s in &out.skills {
            assert!(jobenrich_domain::validation::Validate::validate(s).is_ok());
        }

        // Above the best candidate's score, the candidates stay ranked but
        // nothing becomes the skill's reference.
        let config = EngineConfig {
            semantic_min_score: sql.taxonomy_links[0].score + 0.01,
            ..EngineConfig::default()
        };
        let strict = SkillsEngine::new(engine_lexicon, &[], config)
            .unwrap()
            .with_linker(engine_linker);
        let out = strict
            .enrich(&posting, &EnrichmentVersion::legacy(), Utc::now())
            .unwrap();
        let strict_sql = out.skills.iter().find(|s| s.skill_name == "Sqls").unwrap();
        assert_eq!(strict_sql.taxonomy_ref, None);
        assert!(!strict_sql
            .source_strategies
            .contains(&ExtractionStrategy::Semantic));
        assert_eq!(strict_sql.taxonomy_links, sql.taxonomy_links);
        // Without a linker there is nothing to prepare.
        let plain = SkillsEngine::new(
            Arc::new(Lexicon::from_entries(vec![])),
            &[],
            EngineConfig::default(),
        )
        .unwrap();
        assert!(!plain.links());
        assert!(plain
            .prepare_links(&[&plain.analyze(&posting).unwrap()])
            .is_ok());
    }

    #[test]
    fn with_a_link_temperature_scores_are_shares_and_the_reference_still_needs_the_cosine() {
        let (lexicon, linker, posting) = linked_fixture();
        let enrich = |config: EngineConfig| {
            SkillsEngine::new(lexicon.clone(), &[], config)
                .unwrap()
                .with_linker(linker.clone())
                .enrich(&posting, &EnrichmentVersion::legacy(), Utc::now())
                .unwrap()
        };
        let sqls = |out: EngineOutput| out.skills.into_iter().find(|s| s.skill_name == "Sqls");
        let by_cosine = sqls(enrich(EngineConfig::default())).unwrap();
        let shared = EngineConfig {
            semantic_link_temperature: 0.02,
            ..EngineConfig::default()
        };
        let by_share = sqls(enrich(shared.clone())).unwrap();
        // Same candidates in the same order; the scores are now shares of one.
        let labels = |s: &ExtractedSkill| -> Vec<String> {
            s.taxonomy_links
                .iter()
                .map(|l| l.label.to_string())
                .collect()
        };
        assert_eq!(labels(&by_share), labels(&by_cosine));
        let total: f64 = by_share.taxonomy_links.iter().map(|l| l.score).sum();
        assert!(total <= 1.0 + 1e-6, "{:?}", by_share.taxonomy_links);
        let (share, cosine) = (
            by_share.taxonomy_links[0].score,
            by_cosine.taxonomy_links[0].score,
        );
        assert!(share > cosine + 0.02, "share {share}, cosine {cosine}");
        // A floor between the cosine and the share: the cosine decides.
        let strict = sqls(enrich(EngineConfig {
            semantic_min_score: cosine + 0.01,
            ..shared.clone()
        }))
        .unwrap();
        assert_eq!(strict.taxonomy_ref, None);
        assert_eq!(strict.taxonomy_links, by_share.taxonomy_links);
        let lenient = sqls(enrich(EngineConfig {
            semantic_min_score: cosine - 0.01,
            ..shared
        }))
        .unwrap();
        assert_eq!(lenient.taxonomy_ref.as_deref(), Some("esco:use databases"));
    }
}
