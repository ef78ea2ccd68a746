//! Cuts an ASCII-lowercased text into the tokens the phrase matcher walks:
//! runs of word characters, and every other non-space character on its own
//! (so `C++`, `C#`, `.NET`, `Node.js` and `CI/CD` are token sequences).
//!
//! The text is first classified 8 bytes at a time into two bitmaps (ASCII
//! word bytes, ASCII whitespace), so finding where a word or a run of spaces
//! ends is a bit scan instead of a byte loop; a token's hash is computed from
//! 8-byte loads. Non-ASCII characters are decoded where they occur.

use crate::text::{is_space_byte, is_word_char};

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
    let masks = ByteMasks::new(bytes);
    let mut out = Vec::with_capacity(n / 4 + 1);
    let mut i = 0usize;
    // End of the previous token; `usize::MAX` before the first.
    let mut prev_end = usize::MAX;
    let mut prev_word = false;
    loop {
        i = masks.next_clear(&masks.space, i);
        if i >= n {
            break;
        }
        let b = bytes[i];
        let (is_word, end) = if masks.is_set(&masks.word, i) {
            (true, word_end(lower, &masks, i))
        } else if b < 0x80 {
            (false, i + 1)
        } else {
            let ch = lower[i..].chars().next().unwrap_or(' ');
            if ch.is_whitespace() {
                i += ch.len_utf8();
                // Whitespace, like the ASCII kind: the next token is not glued.
                prev_end = usize::MAX;
                continue;
            }
            if is_word_char(ch) {
                (true, word_end(lower, &masks, i))
            } else {
                (false, i + ch.len_utf8())
            }
        };
        let glued = prev_end == i;
        out.push(Token {
            start: i as u32,
            end: end as u32,
            hash: token_hash(bytes, i, end),
            glued,
            after_word: !is_word && glued && prev_word,
        });
        prev_word = is_word;
        prev_end = end;
        i = end;
    }
    out
}

/// End of the word starting at `i`: ASCII word bytes by bitmap, other
/// characters decoded.
fn word_end(text: &str, masks: &ByteMasks, mut i: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        i = masks.next_clear(&masks.word, i);
        if i >= bytes.len() || bytes[i] < 0x80 {
            return i;
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        if !is_word_char(ch) {
            return i;
        }
        i += ch.len_utf8();
    }
}

/// Hash of the token `bytes[start..end]`, 8 bytes a step; depends on the
/// token's bytes only. Finalized so its top bits are usable by bitset filters.
pub(crate) fn token_hash(bytes: &[u8], start: usize, end: usize) -> u64 {
    let len = end - start;
    let mut acc = (len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut p = start;
    while end - p > 8 {
        acc = (acc ^ load8(bytes, p, 8))
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .rotate_left(31);
        p += 8;
    }
    mix(acc ^ load8(bytes, p, end - p))
}

/// `k` (at most 8) bytes from `p`, little-endian, zero above them.
#[inline]
fn load8(bytes: &[u8], p: usize, k: usize) -> u64 {
    let word = match bytes.get(p..p + 8) {
        Some(b) => u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
        None => {
            let mut buf = [0u8; 8];
            buf[..k].copy_from_slice(&bytes[p..p + k]);
            u64::from_le_bytes(buf)
        }
    };
    if k >= 8 {
        word
    } else {
        word & ((1u64 << (8 * k)) - 1)
    }
}

/// A bijective 64-bit finalizer (murmur3's).
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

/// One bit per byte of a text: ASCII word bytes (`[0-9A-Za-z_]`) and ASCII
/// whitespace (what `char::is_whitespace` accepts below 0x80). Bits past the
/// text are clear.
struct ByteMasks {
    word: Vec<u64>,
    space: Vec<u64>,
    len: usize,
}

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HI: u64 = 0x8080_8080_8080_8080;

const fn splat(b: u8) -> u64 {
    (b as u64).wrapping_mul(0x0101_0101_0101_0101)
}

/// High bit of each byte of `y` (all bytes < 0x80) that is `>= lo`.
#[inline]
fn ge(y: u64, lo: u8) -> u64 {
    y.wrapping_add(splat(0x80 - lo)) & HI
}

/// High bit of each byte of `y` (all bytes < 0x80) in `[lo, hi)`.
#[inline]
fn in_range(y: u64, lo: u8, hi: u8) -> u64 {
    ge(y, lo) & !ge(y, hi)
}

/// High bit of each byte of `y` (all bytes < 0x80) equal to `b`.
#[inline]
fn eq(y: u64, b: u8) -> u64 {
    !(y ^ splat(b)).wrapping_add(LO7) & HI
}

/// The high bits of the 8 bytes of `m`, packed into 8 bits.
#[inline]
fn pack(m: u64) -> u64 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Word and space bits of 8 bytes.
#[inline]
fn classify8(x: u64) -> (u64, u64) {
    let ascii = !x & HI;
    // Clear the high bits so the additions below never carry across bytes.
    let y = x & LO7;
    let word = in_range(y, b'0', b'9' + 1)
        | in_range(y, b'a', b'z' + 1)
        | in_range(y, b'A', b'Z' + 1)
        | eq(y, b'_');
    let space = eq(y, b' ') | in_range(y, b'\t', b'\r' + 1);
    (pack(word & ascii), pack(space & ascii))
}

impl ByteMasks {
    fn new(bytes: &[u8]) -> Self {
        let blocks = bytes.len().div_ceil(64);
        let mut word = Vec::with_capacity(blocks);
        let mut space = Vec::with_capacity(blocks);
        let mut chunks = bytes.chunks_exact(64);
        for chunk in &mut chunks {
            let (mut w, mut s) = (0u64, 0u64);
            for (k, eight) in chunk.chunks_exact(8).enumerate() {
                let (cw, cs) = classify8(u64::from_le_bytes(eight.try_into().unwrap_or([0; 8])));
                w |= cw << (8 * k);
                s |= cs << (8 * k);
            }
            word.push(w);
            space.push(s);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let (mut w, mut s) = (0u64, 0u64);
            for (k, &b) in rest.iter().enumerate() {
                w |= u64::from(b.is_ascii_alphanumeric() || b == b'_') << k;
                s |= u64::from(is_space_byte(b)) << k;
            }
            word.push(w);
            space.push(s);
        }
        ByteMasks {
            word,
            space,
            len: bytes.len(),
        }
    }

    #[inline]
    fn is_set(&self, bits: &[u64], i: usize) -> bool {
        bits[i >> 6] >> (i & 63) & 1 != 0
    }

    /// First position `>= i` whose bit is clear (the text's length if none).
    #[inline]
    fn next_clear(&self, bits: &[u64], i: usize) -> usize {
        let mut block = i >> 6;
        let mut free = match bits.get(block) {
            Some(b) => !b >> (i & 63),
            None => return self.len.max(i),
        };
        if free != 0 {
            return (i + free.trailing_zeros() as usize).min(self.len);
        }
        loop {
            block += 1;
            free = match bits.get(block) {
                Some(b) => !b,
                None => return self.len,
            };
            if free != 0 {
                return ((block << 6) + free.trailing_zeros() as usize).min(self.len);
            }
        }
    }
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
