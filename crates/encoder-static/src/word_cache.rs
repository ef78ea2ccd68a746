//! Word pieces per whitespace-separated word, remembered across texts.
//!
//! The `tokenizers` pipeline tracks alignments for every character of every
//! call and dominates the static encoder's time (~0.7 ms for a 2,000-character
//! posting). A BERT tokenizer treats words between ASCII whitespace
//! independently: its normaliser works character by character, turning that
//! whitespace into spaces, and its pre-tokenizer splits there. So a text's ids
//! are its words' ids in order, and each distinct word goes through the
//! tokenizer once. Tokenizers where that does not hold (another normaliser or
//! pre-tokenizer, truncation, an added token with whitespace in it) skip the
//! cache and tokenize whole texts.

use crate::tokenize;
use jobenrich_domain::EncoderError;
use std::collections::HashMap;
use std::sync::Mutex;
use tokenizers::{NormalizerWrapper, PreTokenizerWrapper, Tokenizer};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// Past this many words the cache starts again: a bound on memory for
/// corpora with endless distinct tokens (ids, URLs).
const MAX_WORDS: usize = 500_000;

/// Longer words are tokenized each time rather than kept.
const MAX_WORD_BYTES: usize = 64;

/// The separators BERT's normaliser maps to a space; other whitespace-like
/// characters (form feed, NEL) are control characters it deletes, so they do
/// not separate words.
const SEPARATORS: [char; 4] = [' ', '\t', '\n', '\r'];

pub(crate) struct WordCache {
    enabled: bool,
    words: Mutex<FastMap<Box<str>, Box<[u32]>>>,
}

impl WordCache {
    pub(crate) fn new(tokenizer: &Tokenizer) -> WordCache {
        let bert_normalizer = matches!(
            tokenizer.get_normalizer(),
            Some(NormalizerWrapper::BertNormalizer(_))
        );
        let bert_pre_tokenizer = matches!(
            tokenizer.get_pre_tokenizer(),
            Some(PreTokenizerWrapper::BertPreTokenizer(_))
        );
        let added_tokens_are_words = tokenizer
            .get_added_tokens_decoder()
            .values()
            .all(|t| !t.content.contains(SEPARATORS));
        WordCache {
            enabled: bert_normalizer
                && bert_pre_tokenizer
                && added_tokens_are_words
                && tokenizer.get_truncation().is_none(),
            words: Mutex::new(FastMap::default()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Calls `f` with the ids of each word of `text`, in order.
    pub(crate) fn for_each_word(
        &self,
        tokenizer: &Tokenizer,
        text: &str,
        mut f: impl FnMut(&[u32]),
    ) -> Result<(), EncoderError> {
        // A poisoned lock only means another thread panicked mid-insert; the
        // map itself is still whole.
        let mut words = self.words.lock().unwrap_or_else(|p| p.into_inner());
        for word in text.split(SEPARATORS).filter(|w| !w.is_empty()) {
            if let Some(ids) = words.get(word) {
                f(ids);
                continue;
            }
            let ids = tokenize(tokenizer, word)?;
            f(&ids);
            if word.len() <= MAX_WORD_BYTES {
                if words.len() >= MAX_WORDS {
                    words.clear();
                }
                words.insert(word.into(), ids.into_boxed_slice());
            }
        }
        Ok(())
    }
}
