//! Leftmost-longest phrase matching over tokens: the lexicon and alias
//! strategies' matcher.
//!
//! A text is cut once into tokens (runs of word characters; every other
//! non-space character is a token of its own, so `C++`, `C#`, `.NET`,
//! `Node.js` and `CI/CD` are token sequences). Surface forms are cut the same
//! way and stored in a hash trie keyed by the running hash of their tokens,
//! so a search at a token start costs one lookup per token it walks (most
//! words stop after one) and word boundaries hold by construction. Whether a
//! token is glued to the one before (no whitespace between) is part of the
//! key: `node.js` does not match `node . js`, while `machine learning`
//! matches across a line break or a double space.
//!
//! A hit is the 64-bit key of the token sequence plus a 32-bit check (token
//! bytes, first and last byte), so no copy of the surfaces is kept: the
//! matcher for the shipped lexicon is a few MB of hash tables and filters.
//!
//! Why not one Aho-Corasick automaton over the 118k surface forms (what this
//! replaced): building it took 2–4 s per process, searches had to be anchored
//! at every token start anyway, and a longest match that failed a boundary
//! check hid the shorter valid one. Measurements: `docs/performance.md`.

use crate::tokenizer::{mix, tokenize, Token};
use std::collections::HashMap;

/// Hash map with a fast, fixed-seed hasher (keys are not attacker-chosen
/// in a way that matters: a posting can only slow its own extraction).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// The maps' hasher, with a fixed seed so a lexicon behaves the same in
/// every process (the trie keys themselves come from the token hashes).
fn hasher() -> foldhash::fast::FixedState {
    foldhash::fast::FixedState::with_seed(0x6a6f_6265_6e72_6963)
}

/// Running key of a token sequence; the first token's glue is ignored, and
/// its key is its (finalized, well-mixed) hash.
fn first_key(t: &Token) -> u64 {
    t.hash
}

fn next_key(prev: u64, t: &Token) -> u64 {
    mix(prev.rotate_left(23) ^ t.hash ^ if t.glued { 0x5bd1_e995 } else { 0 })
}

const NO_TARGET: u32 = u32::MAX;

/// A set of trie keys checked before the map that holds them: most text
/// tokens start no surface form, and a bitset stays in cache where a map of
/// 10^5 entries does not. One bit per key (its top bits).
#[derive(Debug, Clone)]
struct KeyFilter {
    bits: Vec<u64>,
    shift: u32,
}

impl KeyFilter {
    /// About 8 bits per key, at least 2^12 bits.
    fn new(keys: &[u64]) -> Self {
        let log2 = (keys.len().max(1) * 8)
            .next_power_of_two()
            .trailing_zeros()
            .max(12);
        let mut filter = KeyFilter {
            bits: vec![0u64; 1 << (log2 - 6)],
            shift: 64 - log2,
        };
        for key in keys {
            let bit = (key >> filter.shift) as usize;
            filter.bits[bit >> 6] |= 1 << (bit & 63);
        }
        filter
    }

    fn may_contain(&self, key: u64) -> bool {
        let bit = (key >> self.shift) as usize;
        self.bits[bit >> 6] & (1 << (bit & 63)) != 0
    }
}

/// A node of the hash trie: a prefix of at least one surface form, and the
/// surface form it completes, if any.
#[derive(Debug, Clone, Copy)]
struct Node {
    target: u32,
    /// `span_check` of the completed surface: a second, independent test
    /// on top of the 64-bit key, so a hit needs no copy of the surface.
    check: u32,
}

/// Total bytes of the tokens, and their first and last byte.
fn span_check(lower: &[u8], toks: &[Token]) -> u32 {
    let (Some(first), Some(last)) = (toks.first(), toks.last()) else {
        return 0;
    };
    let len: u32 = toks.iter().map(|t| t.end - t.start).sum();
    (len & 0xffff)
        | u32::from(lower[first.start as usize]) << 16
        | u32::from(lower[last.end as usize - 1]) << 24
}

/// For each matcher, the indices of the tokens where one of its surface
/// forms may start, in one pass over the tokens. Compacted without branches:
/// whether a token passes the lexicon's filter is close to random (half the
/// words start some ESCO phrase), so a skipping loop would mispredict on a
/// large share of tokens.
pub(crate) fn candidate_starts<const N: usize>(
    tokens: &[Token],
    matchers: [&PhraseMatcher; N],
) -> [Vec<u32>; N] {
    let mut starts: [Vec<u32>; N] = std::array::from_fn(|_| vec![0; tokens.len()]);
    let mut counts = [0usize; N];
    for (i, t) in tokens.iter().enumerate() {
        for m in 0..N {
            starts[m][counts[m]] = i as u32;
            counts[m] += usize::from(matchers[m].may_start(t));
        }
    }
    for (starts, count) in starts.iter_mut().zip(counts) {
        starts.truncate(count);
    }
    starts
}

/// Compiled surface forms; `target` ids are the caller's indices.
#[derive(Debug, Clone)]
pub(crate) struct PhraseMatcher {
    /// Prefixes of one token (about 12k for the shipped lexicon: the map and
    /// its filter stay in cache).
    first: FastMap<u64, Node>,
    first_filter: KeyFilter,
    /// The one-token prefixes that are a surface form themselves: a token
    /// outside it can only start a match if its two-token key passes
    /// `deep_filter`, which is checked before touching either map (the maps
    /// do not fit in cache, and `team`, `work`, `data` start thousands of
    /// ESCO phrases but rarely one that is in the posting).
    first_target_filter: KeyFilter,
    /// Prefixes of two tokens or more.
    deep: FastMap<u64, Node>,
    deep_filter: KeyFilter,
}

impl PhraseMatcher {
    /// Compiles surface forms; the i-th surface is target `i`. A surface
    /// without tokens (only spaces) never matches; of two surfaces with the
    /// same tokens the first wins.
    pub fn new<'a>(surfaces: impl Iterator<Item = &'a str>) -> Self {
        let mut first: FastMap<u64, Node> = HashMap::with_hasher(hasher());
        let mut deep: FastMap<u64, Node> = HashMap::with_hasher(hasher());
        for (idx, surface) in surfaces.enumerate() {
            let lower = surface.to_ascii_lowercase();
            let toks = tokenize(&lower);
            let mut key = 0u64;
            for (n, t) in toks.iter().enumerate() {
                key = if n == 0 {
                    first_key(t)
                } else {
                    next_key(key, t)
                };
                let map = if n == 0 { &mut first } else { &mut deep };
                let node = map.entry(key).or_insert(Node {
                    target: NO_TARGET,
                    check: 0,
                });
                if n + 1 == toks.len() && node.target == NO_TARGET {
                    node.target = idx as u32;
                    node.check = span_check(lower.as_bytes(), &toks);
                }
            }
        }
        PhraseMatcher {
            first_filter: KeyFilter::new(&first.keys().copied().collect::<Vec<_>>()),
            first_target_filter: KeyFilter::new(
                &first
                    .iter()
                    .filter(|(_, n)| n.target != NO_TARGET)
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>(),
            ),
            first,
            deep_filter: KeyFilter::new(&deep.keys().copied().collect::<Vec<_>>()),
            deep,
        }
    }

    /// Scans `tokens` of `lower` left to right. At each token that may start
    /// a match, the surfaces starting there are offered to `accept` longest
    /// first as `(target, byte_start, byte_end)`; the first one accepted is
    /// kept and scanning resumes after it. (Extraction runs its three
    /// matchers through `candidate_starts` and `scan_from` instead.)
    #[cfg(test)]
    pub fn scan(
        &self,
        lower: &str,
        tokens: &[Token],
        accept: impl FnMut(u32, usize, usize) -> bool,
    ) {
        let [starts] = candidate_starts(tokens, [self]);
        self.scan_from(lower, tokens, starts, accept);
    }

    /// Whether a surface form may start at `t` (a filter: false positives,
    /// no false negatives).
    #[inline]
    fn may_start(&self, t: &Token) -> bool {
        !t.after_word & self.first_filter.may_contain(first_key(t))
    }

    /// `scan`, from the tokens that passed `may_start` (`candidate_starts`).
    pub fn scan_from(
        &self,
        lower: &str,
        tokens: &[Token],
        mut starts: Vec<u32>,
        mut accept: impl FnMut(u32, usize, usize) -> bool,
    ) {
        // Second stage, also without branches: of those, the tokens that are
        // a one-token surface or whose next token continues one. Most words
        // start some ESCO phrase but few start one the next word continues;
        // the probes of all candidates overlap in memory.
        let mut kept = 0usize;
        for j in 0..starts.len() {
            let i = starts[j] as usize;
            let key = first_key(&tokens[i]);
            let continues = tokens
                .get(i + 1)
                .is_some_and(|t| self.deep_filter.may_contain(next_key(key, t)));
            starts[kept] = i as u32;
            kept += usize::from(continues | self.first_target_filter.may_contain(key));
        }
        starts.truncate(kept);
        let mut candidates: Vec<(u32, u32, usize)> = Vec::new();
        let mut resume = 0usize;
        for &i in &starts {
            let i = i as usize;
            if i < resume {
                continue;
            }
            if let Some(next) = self.match_at(lower, tokens, i, &mut candidates, &mut accept) {
                resume = next;
            }
        }
    }

    /// The match `scan` keeps at token `i`, if any: returns the token index
    /// to resume from.
    fn match_at(
        &self,
        lower: &str,
        tokens: &[Token],
        i: usize,
        candidates: &mut Vec<(u32, u32, usize)>,
        accept: &mut impl FnMut(u32, usize, usize) -> bool,
    ) -> Option<usize> {
        let first = &tokens[i];
        let mut key = first_key(first);
        let mut found = self.first.get(&key)?;
        candidates.clear();
        let mut n = 0usize;
        loop {
            if found.target != NO_TARGET {
                candidates.push((found.target, found.check, n));
            }
            n += 1;
            let Some(t) = tokens.get(i + n) else { break };
            key = next_key(key, t);
            if !self.deep_filter.may_contain(key) {
                break;
            }
            match self.deep.get(&key) {
                Some(next) => found = next,
                None => break,
            }
        }
        for &(target, check, last) in candidates.iter().rev() {
            let span = &tokens[i..=i + last];
            if span_check(lower.as_bytes(), span) != check {
                continue;
            }
            if accept(target, first.start as usize, span[last].end as usize) {
                return Some(i + last + 1);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_all(surfaces: &[&str], text: &str) -> Vec<(String, String)> {
        let m = PhraseMatcher::new(surfaces.iter().copied());
        let lower = text.to_ascii_lowercase();
        let toks = tokenize(&lower);
        let mut out = Vec::new();
        m.scan(&lower, &toks, |t, s, e| {
            out.push((surfaces[t as usize].to_string(), text[s..e].to_string()));
            true
        });
        out
    }

    #[test]
    fn leftmost_longest_on_token_boundaries() {
        let got = find_all(
            &["machine learning", "machine", "learning", "java"],
            "Machine Learning with JavaScript, Java and machine\nlearning",
        );
        assert_eq!(
            got,
            vec![
                ("machine learning".into(), "Machine Learning".into()),
                ("java".into(), "Java".into()),
                ("machine learning".into(), "machine\nlearning".into()),
            ]
        );
    }

    #[test]
    fn symbol_tokens_keep_their_glue() {
        let surfaces = ["c++", "c#", ".net", "node.js", "ci/cd", "c"];
        let got = find_all(
            &surfaces,
            "C++, C#, .NET, Node.js and CI/CD; not node . js or ASP.NET",
        );
        let found: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(found, vec!["c++", "c#", ".net", "node.js", "ci/cd"]);
    }

    #[test]
    fn a_rejected_longest_match_falls_back_to_a_shorter_one() {
        let m = PhraseMatcher::new(["data", "data science"].into_iter());
        let text = "data science";
        let toks = tokenize(text);
        let mut seen = Vec::new();
        m.scan(text, &toks, |t, s, e| {
            seen.push((t, s, e));
            t == 0
        });
        assert_eq!(seen, vec![(1, 0, 12), (0, 0, 4)]);
    }

    #[test]
    fn non_ascii_words_are_single_tokens() {
        let got = find_all(&["café", "gestión"], "Café gestión, cafés");
        assert_eq!(got.len(), 2);
        let toks = tokenize("naïve  — x");
        assert_eq!(toks.len(), 3);
        assert!(!toks[1].glued && !toks[1].after_word);
    }
}
