//! Ambiguity rules applied to mentions (`crate::ambiguity`): ambiguous
//! names need a technical context or a cue.

use super::*;

impl Extractor<'_> {
    pub(super) fn apply_ambiguity_rules(&self, text: &str, mentions: &mut [Mention]) {
        let window = self.config.ambiguity_context_chars;
        let technical: Vec<(usize, usize)> = mentions
            .iter()
            .filter(|m| {
                is_technical(self.category_of(&m.skill))
                    && rule_for(&text[m.start..m.end]).is_none()
            })
            .map(|m| (m.start, m.end))
            .collect();
        for m in mentions.iter_mut() {
            let matched = &text[m.start..m.end];
            let Some(rule) = rule_for(matched) else {
                continue;
            };
            let lower = matched.to_lowercase();
            if m.strategies & PATTERN != 0 {
                continue;
            }
            let lo = floor_boundary(text, m.start.saturating_sub(window * 2));
            let lo = text[lo..m.start]
                .char_indices()
                .rev()
                .nth(window.saturating_sub(1))
                .map_or(lo, |(i, _)| lo + i);
            let hi = ceil_boundary(text, (m.end + window * 4).min(text.len()));
            let hi = text[m.end..hi]
                .char_indices()
                .nth(window)
                .map_or(hi, |(i, _)| m.end + i);
            let context = format!("{} {}", &text[lo..m.start], &text[m.end..hi]).to_lowercase();
            let cue = has_cue(rule, &context, &lower);
            let neighbour = rule.tech_neighbours_support && {
                // `technical` is sorted and overlap-free: scan only the window.
                let first = technical.partition_point(|(_, e)| e + window < m.start);
                technical[first..]
                    .iter()
                    .take_while(|(s, _)| *s <= m.end + window)
                    .any(|(s, e)| (*s, *e) != (m.start, m.end))
            };
            let capital_ok =
                !rule.needs_capital || matched.chars().next().is_some_and(char::is_uppercase);
            let supported = (cue || neighbour) && capital_ok;
            if !supported {
                m.penalized = true;
                m.weight *= self.config.ambiguity_penalty;
                if !capital_ok {
                    // `go`, `rust` in lowercase prose: almost never the skill.
                    m.weight *= self.config.ambiguity_penalty;
                }
            }
        }
    }
}
