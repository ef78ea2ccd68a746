//! Fusion: mentions of every strategy folded into one `FoundSkill` per
//! canonical skill with a confidence in [0, 1].

use super::*;

impl Extractor<'_> {
    pub(super) fn fuse(
        &self,
        text: &str,
        sections: &[Section],
        offsets: &CharOffsets,
        mentions: Vec<Mention>,
    ) -> Vec<FoundSkill> {
        // Group mentions by skill: known skills by group id, pattern phrases
        // by their lowercase text (or the known skill that text names).
        // `None`: a phrase that is only whitespace, dropped.
        let mut group_of: Vec<Option<u32>> = Vec::with_capacity(mentions.len());
        let mut by_id: FastMap<u32, u32> =
            FastMap::with_capacity_and_hasher(mentions.len(), Default::default());
        let mut by_phrase: FastMap<String, u32> = FastMap::default();
        for m in &mentions {
            let next = (by_id.len() + by_phrase.len()) as u32;
            let known = self.group_id(&m.skill).map(Ok).or_else(|| {
                let key = match m.skill {
                    SkillRef::Tagged { .. } => {
                        crate::tagger::normalize_phrase(&text[m.start..m.end])
                    }
                    _ => collapse_whitespace(&text[m.start..m.end]).to_lowercase(),
                };
                (!key.is_empty()).then(|| {
                    self.lexicon
                        .group_named(&key)
                        .or_else(|| self.alias_groups.get(&key).copied())
                        .ok_or(key)
                })
            });
            group_of.push(known.map(|id| match id {
                Ok(id) => *by_id.entry(id).or_insert(next),
                Err(key) => *by_phrase.entry(key).or_insert(next),
            }));
        }
        // Mentions of each group together, groups in first-mention order,
        // mentions in text order.
        let mut order: Vec<(u32, u32)> = group_of
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.map(|g| (g, i as u32)))
            .collect();
        order.sort_unstable();
        let config = self.config;
        let mut found = Vec::with_capacity(by_id.len() + by_phrase.len());
        let mut g_mentions: Vec<&Mention> = Vec::new();
        for chunk in order.chunk_by(|a, b| a.0 == b.0) {
            g_mentions.clear();
            g_mentions.extend(chunk.iter().map(|&(_, i)| &mentions[i as usize]));
            let strategies_bits = g_mentions.iter().fold(0u8, |acc, m| acc | m.strategies);
            let mut strategies = Vec::with_capacity(3);
            for (bit, s) in [
                (LEXICON, ExtractionStrategy::Lexicon),
                (ALIAS, ExtractionStrategy::Alias),
                (PATTERN, ExtractionStrategy::Pattern),
                (ML_TAGGER, ExtractionStrategy::MlTagger),
            ] {
                if strategies_bits & bit != 0 {
                    strategies.push(s);
                }
            }
            strategies.sort();
            let mut base = g_mentions.iter().map(|m| m.weight).fold(0.0f64, f64::max);
            let known = strategies_bits & (LEXICON | ALIAS) != 0;
            if known && strategies_bits & PATTERN != 0 {
                base += config.pattern_boost;
            }
            base += config.multi_strategy_bonus * (strategies.len().saturating_sub(1)) as f64;
            let count = g_mentions.len();
            base += (config.mention_bonus * (count - 1) as f64).min(config.mention_bonus_cap);
            // Relevance: the best section any mention lies in.
            let mut best_section: Option<&Section> = None;
            for m in g_mentions.iter() {
                if let Some(s) = section_of(sections, m.start) {
                    if best_section.is_none_or(|b| s.relevance > b.relevance) {
                        best_section = Some(s);
                    }
                }
            }
            let relevance = best_section.map(|s| s.relevance);
            let w = config.section_relevance_weight;
            let scaled = base * ((1.0 - w) + w * relevance.unwrap_or(0.5));
            let confidence = if scaled.is_finite() {
                scaled.clamp(0.0, 1.0)
            } else {
                0.0
            };
            if confidence < config.min_confidence {
                continue;
            }
            let first = g_mentions[0];
            let skill = first.skill.clone();
            let best_entry: Option<&LexiconEntry> = g_mentions.iter().find_map(|m| match m.skill {
                SkillRef::Entry(e) => Some(self.lexicon.entry(e)),
                _ => None,
            });
            let category = best_entry.map_or_else(|| self.category_of(&skill), |e| e.category);
            let mentions = MentionSpan::normalize(
                g_mentions
                    .iter()
                    .map(|m| MentionSpan {
                        start: offsets.char_at(m.start),
                        end: offsets.char_at(m.end),
                    })
                    .collect(),
            );
            // Only empty mentions (never produced; no panic if one were).
            let Some(&first_span) = mentions.first() else {
                continue;
            };
            found.push(FoundSkill {
                canonical: self.canonical_of(&first.skill, &text[first.start..first.end]),
                category,
                confidence,
                strategies,
                char_offset: first_span.start,
                char_len: first_span.end - first_span.start,
                mentions,
                taxonomy_ref: best_entry.and_then(|e| e.taxonomy_ref.clone()),
                section_index: best_section.map(|s| s.index),
                section_type: best_section.map(|s| s.section_type.clone()),
                section_relevance: relevance,
                snippet: snippet(text, first.start, first.end, config.snippet_chars),
                ambiguity_penalized: g_mentions.iter().all(|m| m.penalized),
                label: g_mentions.iter().find_map(|m| m.label),
            });
        }
        found.sort_by(|a, b| {
            a.char_offset
                .cmp(&b.char_offset)
                .then_with(|| a.canonical.cmp(&b.canonical))
        });
        found
    }
}
