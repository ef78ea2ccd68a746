//! The linker's per-phrase results (ranked candidates, link lists), in two
//! generations.
//!
//! Skill phrases follow a long tail: a few thousand cover most mentions, and
//! new ones keep coming. Emptying the whole map when it was full (as it was
//! before) forgot the frequent phrases with the rare ones, and each was then
//! ranked again against the whole index (~0.35 ms). Here the map in use
//! becomes the previous generation when full; a phrase found there is moved
//! back, so a phrase used at least once per generation is never ranked
//! again, and at most two generations are held. Written by hand: the
//! maintained cache crates bring concurrency and eviction machinery this
//! single-lock map does not need.

use std::collections::{HashMap, HashSet};

/// `V` is cheap to clone (an `Arc`): a hit hands out a copy.
pub(super) struct PhraseCache<V> {
    /// Phrases per generation.
    generation: usize,
    current: HashMap<String, V>,
    previous: HashMap<String, V>,
}

impl<V: Clone> PhraseCache<V> {
    /// A cache of at most `2 × generation` phrases.
    pub(super) fn new(generation: usize) -> PhraseCache<V> {
        PhraseCache {
            generation: generation.max(1),
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    pub(super) fn get(&mut self, phrase: &str) -> Option<V> {
        if let Some(hit) = self.current.get(phrase) {
            return Some(hit.clone());
        }
        let (phrase, hit) = self.previous.remove_entry(phrase)?;
        self.insert(phrase, hit.clone());
        Some(hit)
    }

    /// Each phrase's value where cached, and the phrases without one, each
    /// once (a batch's phrases can run to thousands: a set keeps this linear).
    pub(super) fn get_all<'p>(&mut self, phrases: &[&'p str]) -> (Vec<Option<V>>, Vec<&'p str>) {
        let found: Vec<Option<V>> = phrases.iter().map(|p| self.get(p)).collect();
        let mut seen: HashSet<&str> = HashSet::new();
        let missing = phrases
            .iter()
            .zip(&found)
            .filter(|(phrase, hit)| hit.is_none() && seen.insert(phrase))
            .map(|(phrase, _)| *phrase)
            .collect();
        (found, missing)
    }

    /// Caches the values made for `get_all`'s missing phrases.
    pub(super) fn insert_all(&mut self, fresh: &HashMap<&str, V>) {
        for (phrase, value) in fresh {
            self.insert(phrase.to_string(), value.clone());
        }
    }

    pub(super) fn insert(&mut self, phrase: String, value: V) {
        if self.current.len() >= self.generation && !self.current.contains_key(&phrase) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(phrase, value);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Ranked;
    use super::*;

    fn ranked(c: u32) -> Ranked {
        vec![(c, 0.5)].into()
    }

    #[test]
    fn a_phrase_used_every_generation_stays_and_the_rest_go() {
        let mut cache = PhraseCache::new(3);
        cache.insert("sql".into(), ranked(1));
        for i in 0..20 {
            cache.insert(format!("rare {i}"), ranked(2));
            assert!(cache.len() <= 6);
            // Looked up at least once per generation.
            if i % 2 == 0 {
                assert_eq!(cache.get("sql"), Some(ranked(1)), "after {i}");
            }
        }
        assert_eq!(cache.get("sql"), Some(ranked(1)));
        assert_eq!(cache.get("rare 0"), None, "an old phrase used once is gone");
        assert_eq!(cache.get("rare 19"), Some(ranked(2)));
    }

    #[test]
    fn a_phrase_not_used_for_two_generations_is_forgotten() {
        let mut cache = PhraseCache::new(2);
        cache.insert("a".into(), ranked(1));
        cache.insert("b".into(), ranked(2));
        // "a" and "b" become the previous generation, then are dropped.
        for p in ["c", "d", "e"] {
            cache.insert(p.into(), ranked(3));
        }
        assert_eq!(cache.get("a"), None);
        assert_eq!(cache.get("b"), None);
        assert_eq!(cache.get("e"), Some(ranked(3)));
    }

    #[test]
    fn inserting_a_phrase_again_does_not_start_a_generation() {
        let mut cache = PhraseCache::new(2);
        cache.insert("a".into(), ranked(1));
        cache.insert("b".into(), ranked(2));
        cache.insert("b".into(), ranked(4));
        assert_eq!(cache.get("a"), Some(ranked(1)));
        assert_eq!(cache.get("b"), Some(ranked(4)));
    }
}
