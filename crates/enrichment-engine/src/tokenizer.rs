//! Cuts an ASCII-lowercased text into the tokens the phrase matcher walks:
//! runs of word characters, and every other non-space character on its own
//! (so `C++`, `C#`, `.NET`, `Node.js` and `CI/CD` are token sequences).
//!
//! The text is first classified 64 bytes at a time into bitmaps (word
//! bytes, whitespace bytes, continuation bytes of multi-byte punctuation);
//! token starts and token ends are then bit operations on those maps,
//! walked in step (the k-th end closes the k-th start). Which class a byte
//! has is close to random in prose, so a tokenizer that branches per byte or
//! per token spends most of its time on mispredicted branches; this one
//! hardly branches. Non-ASCII characters are decoded once, to set their bits.

use crate::text::is_word_char;

/// One token of a text: `[start, end)` in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub start: u32,
    pub end: u32,
    /// `token_hash` of the token's bytes.
    pub hash: u64,
    /// No whitespace between this token and the previous one.
    pub glued: bool,
    /// The character right before the token is a word character
    /// (`.` in `ASP.NET`): no match may start here.
    pub after_word: bool,
}

/// Cuts `lower` (the ASCII-lowercased text) into tokens.
pub(crate) fn tokenize(lower: &str) -> Vec<Token> {
    let bytes = lower.as_bytes();
    let n = bytes.len();
    let maps = ByteMaps::new(lower);
    let blocks = maps.word.len();
    let mut out = Vec::with_capacity(n / 4 + 1);
    let valid = |block: usize| match n - block * 64 {
        rest if rest >= 64 => u64::MAX,
        rest => (1u64 << rest) - 1,
    };
    // Per block, bit k: the first byte of a token, and a byte in a token
    // (anything but whitespace), given whether the byte before the block is
    // a word byte. A word starts where the word bits start; any other
    // character is a token of its own (its continuation bytes are in
    // `cont`).
    let token_bits = |block: usize, word_before_block: u64| {
        let (word, space, cont) = (maps.word[block], maps.space[block], maps.cont[block]);
        let word_before = word << 1 | word_before_block;
        let valid = valid(block);
        (
            ((word & !word_before) | !(word | space | cont)) & valid,
            !space & valid,
        )
    };
    // Bit 63 of the previous block's maps: the byte before this block.
    let (mut carry_word, mut carry_space) = (0u64, 1u64);
    // A token that started in an earlier block and has not ended yet.
    let mut open: Option<(usize, u8)> = None;
    let mut bits = if blocks > 0 { token_bits(0, 0) } else { (0, 0) };
    for block in 0..blocks {
        let base = block * 64;
        let (word, space) = (maps.word[block], maps.space[block]);
        // Bit k of these: the byte before byte k.
        let word_before = word << 1 | carry_word;
        let space_before = space << 1 | carry_space;
        let (mut starts, in_token) = bits;
        // The byte after: bit 0 of the next block, at bit 63.
        let next = if block + 1 < blocks {
            token_bits(block + 1, word >> 63)
        } else {
            (0, 0)
        };
        let (next_starts, next_in_token) = next;
        // A token's last byte: the next byte is not in a token, or starts one.
        let mut ends =
            in_token & (!(in_token >> 1 | next_in_token << 63) | (starts >> 1 | next_starts << 63));
        let glued = starts & !space_before;
        let after_word = starts & !word & word_before;
        // Starts and ends alternate: the k-th end closes the k-th start.
        if let Some((start, flags)) = open.take() {
            if ends == 0 {
                open = Some((start, flags));
            } else {
                let end = base + ends.trailing_zeros() as usize + 1;
                ends &= ends - 1;
                out.push(token(bytes, start, end, flags));
            }
        }
        while starts != 0 {
            let k = starts.trailing_zeros();
            starts &= starts - 1;
            let flags = (glued >> k & 1) as u8 | ((after_word >> k & 1) as u8) << 1;
            if ends == 0 {
                open = Some((base + k as usize, flags));
                break;
            }
            let end = base + ends.trailing_zeros() as usize + 1;
            ends &= ends - 1;
            out.push(token(bytes, base + k as usize, end, flags));
        }
        carry_word = word >> 63;
        carry_space = space >> 63;
        bits = next;
    }
    out
}

/// A token from its bounds and flags (bit 0: glued, bit 1: after a word).
#[inline]
fn token(bytes: &[u8], start: usize, end: usize, flags: u8) -> Token {
    Token {
        start: start as u32,
        end: end as u32,
        hash: token_hash(bytes, start, end),
        glued: flags & 1 != 0,
        after_word: flags & 2 != 0,
    }
}

/// One bit per byte: word characters (`[0-9A-Za-z_]` and every byte of a
/// non-ASCII letter or digit), whitespace (every byte of a `char` that
/// `is_whitespace`), and the bytes after the first of any other non-ASCII
/// character. Bits past the text are clear.
struct ByteMaps {
    word: Vec<u64>,
    space: Vec<u64>,
    cont: Vec<u64>,
}

impl ByteMaps {
    fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let blocks = bytes.len().div_ceil(64);
        let mut maps = ByteMaps {
            word: Vec::with_capacity(blocks),
            space: Vec::with_capacity(blocks),
            cont: vec![0; blocks],
        };
        let mut high = Vec::with_capacity(blocks);
        let mut chunks = bytes.chunks_exact(64);
        let mut push = |block: &[u8; 64]| {
            let (w, s, h) = classify64(block);
            maps.word.push(w);
            maps.space.push(s);
            high.push(h);
        };
        for chunk in &mut chunks {
            push(chunk.try_into().unwrap_or(&[0; 64]));
        }
        if !chunks.remainder().is_empty() {
            let mut block = [0u8; 64];
            block[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
            push(&block);
        }
        if high.iter().any(|&h| h != 0) {
            maps.add_non_ascii(text, &high);
        }
        maps
    }

    /// Sets the bits of every non-ASCII character; `high` has the bytes
    /// `>= 0x80`.
    fn add_non_ascii(&mut self, text: &str, high: &[u64]) {
        let bytes = text.as_bytes();
        for (block, &h) in high.iter().enumerate() {
            let mut bits = h;
            while bits != 0 {
                let start = block * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                // Continuation bytes are set with their lead byte.
                if bytes[start] < 0xC0 {
                    continue;
                }
                let ch = text[start..].chars().next().unwrap_or(' ');
                let end = start + ch.len_utf8();
                let (map, from) = if is_word_char(ch) {
                    (&mut self.word, start)
                } else if ch.is_whitespace() {
                    (&mut self.space, start)
                } else {
                    (&mut self.cont, start + 1)
                };
                for b in from..end {
                    map[b >> 6] |= 1 << (b & 63);
                }
            }
        }
    }
}

/// Word, whitespace and high-bit bits of 64 bytes, ASCII-classified
/// (non-ASCII bytes are neither word nor whitespace here).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(unsafe_code)] // one of the workspace's two unsafe sites (`unsafe_code = "deny"`)
fn classify64(block: &[u8; 64]) -> (u64, u64, u64) {
    // SAFETY: SSE2 is enabled for this build (the cfg above; every x86-64
    // CPU has it), which is all `sse2::classify64` requires.
    unsafe { sse2::classify64(block) }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_set_epi64x,
    };

    /// `b - lo < len` (unsigned) per byte, as a signed compare after
    /// shifting by 128.
    #[target_feature(enable = "sse2")]
    fn in_range(v: __m128i, lo: u8, len: u8) -> __m128i {
        _mm_cmplt_epi8(
            _mm_add_epi8(v, _mm_set1_epi8(128u8.wrapping_sub(lo) as i8)),
            _mm_set1_epi8(len.wrapping_sub(128) as i8),
        )
    }

    /// 16 bytes per compare.
    #[target_feature(enable = "sse2")]
    pub(super) fn classify64(block: &[u8; 64]) -> (u64, u64, u64) {
        let (mut word, mut space, mut high) = (0u64, 0u64, 0u64);
        for (k, sixteen) in block.chunks_exact(16).enumerate() {
            let mut lo = [0u8; 8];
            let mut hi = [0u8; 8];
            lo.copy_from_slice(&sixteen[..8]);
            hi.copy_from_slice(&sixteen[8..]);
            let v = _mm_set_epi64x(i64::from_le_bytes(hi), i64::from_le_bytes(lo));
            let letter = in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', 26);
            let is_word = _mm_or_si128(
                _mm_or_si128(letter, in_range(v, b'0', 10)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'_' as i8)),
            );
            // ' ' and \t \n \x0b \x0c \r: the ASCII `char::is_whitespace` set.
            let is_space = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8)),
                in_range(v, b'\t', 5),
            );
            let shift = 16 * k;
            word |= u64::from(_mm_movemask_epi8(is_word) as u16) << shift;
            space |= u64::from(_mm_movemask_epi8(is_space) as u16) << shift;
            high |= u64::from(_mm_movemask_epi8(v) as u16) << shift;
        }
        (word, space, high)
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn classify64(block: &[u8; 64]) -> (u64, u64, u64) {
    classify64_portable(block)
}

/// `classify64` a byte at a time: other targets, and the tests' reference.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
fn classify64_portable(block: &[u8; 64]) -> (u64, u64, u64) {
    let (mut word, mut space, mut high) = (0u64, 0u64, 0u64);
    for (k, &b) in block.iter().enumerate() {
        let letter = (b | 0x20).wrapping_sub(b'a') < 26;
        let digit = b.wrapping_sub(b'0') < 10;
        let is_space = (b == b' ') | (b.wrapping_sub(b'\t') < 5);
        word |= u64::from(letter | digit | (b == b'_')) << k;
        space |= u64::from(is_space) << k;
        high |= u64::from(b >> 7) << k;
    }
    (word, space, high)
}

/// Hash of the token `bytes[start..end]`, from 8-byte loads (two for all
/// but the longest tokens); depends on the token's bytes only. Finalized so
/// its top bits are usable by bitset filters.
#[inline]
pub(crate) fn token_hash(bytes: &[u8], start: usize, end: usize) -> u64 {
    let len = end - start;
    // Tokens of up to 16 bytes away from the text's end (nearly all): two
    // loads and no branch on the length; same result as the general path.
    if len <= 16 {
        if let Some(sixteen) = bytes.get(start..start + 16) {
            let (lo, hi) = sixteen.split_at(8);
            let lo = u64::from_le_bytes(lo.try_into().unwrap_or([0; 8])) & low_bytes(len.min(8));
            let hi = u64::from_le_bytes(hi.try_into().unwrap_or([0; 8]))
                & low_bytes(len.saturating_sub(8));
            return mix(lo.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ hi.wrapping_mul(0xbf58_476d_1ce4_e5b9)
                ^ len as u64);
        }
    }
    token_hash_general(bytes, start, end)
}

/// A mask of the low `k` bytes (`k` at most 8), without branches.
#[inline]
fn low_bytes(k: usize) -> u64 {
    (u64::MAX >> ((64 - 8 * k) & 63)) & 0u64.wrapping_sub(u64::from(k > 0))
}

#[inline(never)]
fn token_hash_general(bytes: &[u8], start: usize, end: usize) -> u64 {
    let len = end - start;
    let lo = load(bytes, start, len.min(8));
    let hi = load(bytes, start + 8, len.saturating_sub(8).min(8));
    let mut acc = lo.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ hi.wrapping_mul(0xbf58_476d_1ce4_e5b9)
        ^ len as u64;
    let mut p = start + 16;
    while p < end {
        acc = mix(acc ^ load(bytes, p, (end - p).min(8)));
        p += 8;
    }
    mix(acc)
}

/// `k` (at most 8) bytes from `p`, little-endian, zero above them.
#[inline]
fn load(bytes: &[u8], p: usize, k: usize) -> u64 {
    let word = match bytes.get(p..p + 8) {
        Some(b) => u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
        None => {
            let avail = bytes.len().saturating_sub(p).min(k);
            let mut buf = [0u8; 8];
            if avail > 0 {
                buf[..avail].copy_from_slice(&bytes[p..p + avail]);
            }
            u64::from_le_bytes(buf)
        }
    };
    word & low_bytes(k)
}

/// A bijective 64-bit finalizer (murmur3's).
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokenizer this replaced, byte by byte: the reference.
    fn reference(lower: &str) -> Vec<(usize, usize, bool, bool)> {
        let mut out = Vec::new();
        let mut it = lower.char_indices().peekable();
        let (mut prev_space, mut prev_word) = (true, false);
        while let Some((i, c)) = it.next() {
            if c.is_whitespace() {
                prev_space = true;
                prev_word = false;
                continue;
            }
            let word = is_word_char(c);
            let mut end = i + c.len_utf8();
            if word {
                while let Some(&(j, d)) = it.peek() {
                    if !is_word_char(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    it.next();
                }
            }
            out.push((i, end, !prev_space, !word && prev_word));
            prev_word = word;
            prev_space = false;
        }
        out
    }

    fn check(text: &str) {
        let lower = text.to_ascii_lowercase();
        let got: Vec<_> = tokenize(&lower)
            .iter()
            .map(|t| (t.start as usize, t.end as usize, t.glued, t.after_word))
            .collect();
        assert_eq!(got, reference(&lower), "{text:?}");
        for t in tokenize(&lower) {
            let (s, e) = (t.start as usize, t.end as usize);
            // The hash depends on the bytes only, not on where they are.
            assert_eq!(t.hash, token_hash(&lower.as_bytes()[s..e], 0, e - s));
        }
    }

    #[test]
    fn agrees_with_the_char_by_char_reference() {
        check("");
        check("   ");
        check("C++, C#, .NET, Node.js and CI/CD; ASP.NET\tx\r\ny_z\x0b\x0c");
        check("naïve  — x\u{a0}y\u{2003}z 日本語 über_alles ß.");
        check(&"word ".repeat(40));
        check(&format!("{}end", "a".repeat(130)));
        check(&format!("{}!{}", "x".repeat(63), "y".repeat(64)));
        check("\u{7f}\u{80}\u{0}~`@{[|\\^");
    }

    #[test]
    fn agrees_on_every_ascii_byte_at_every_block_offset() {
        for shift in 0..70 {
            let mut s = "a".repeat(shift);
            for b in 0u8..128 {
                s.push(b as char);
                s.push('q');
            }
            s.push('é');
            check(&s);
        }
    }

    #[test]
    fn classification_agrees_with_the_portable_one_on_every_byte() {
        for shift in 0..=255u8 {
            let mut block = [0u8; 64];
            for (k, b) in block.iter_mut().enumerate() {
                *b = (k as u8).wrapping_mul(4).wrapping_add(shift);
            }
            assert_eq!(classify64(&block), classify64_portable(&block), "{shift}");
        }
    }

    #[test]
    fn the_fast_hash_agrees_with_the_general_one() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(2);
        let bytes = text.as_bytes();
        for start in 0..20 {
            for end in start + 1..=bytes.len() {
                assert_eq!(
                    token_hash(bytes, start, end),
                    token_hash_general(bytes, start, end),
                    "{start}..{end}"
                );
            }
        }
        for k in 0..=8 {
            assert_eq!(low_bytes(k), ((1u128 << (8 * k)) - 1) as u64, "{k}");
        }
    }

    #[test]
    fn equal_tokens_hash_equal_and_different_ones_differ() {
        let h = |s: &str| token_hash(s.as_bytes(), 0, s.len());
        assert_eq!(h("kubernetes"), h("kubernetes"));
        let words = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "a\0",
            "kubernetes",
            "kubernetez",
            "12345678",
            "123456789",
            "1234567890123456",
            "12345678901234567",
        ];
        for (i, a) in words.iter().enumerate() {
            for b in &words[i + 1..] {
                assert_ne!(h(a), h(b), "{a:?} {b:?}");
            }
        }
    }
}
