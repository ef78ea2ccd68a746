//! Byte ↔ character offset conversion and small text helpers. Matching runs on
//! bytes; everything reported outside the crate is in Unicode scalar values.

/// Converts byte offsets of one text into char offsets. Postings are mostly
/// ASCII, so only multi-byte characters are recorded and a lookup is a binary
/// search over them.
pub(crate) struct CharOffsets {
    /// Per multi-byte char, in order: its first byte, the byte after it, and
    /// the bytes that the chars before it take beyond one each.
    wide: Vec<(u32, u32, u32)>,
    len: usize,
}

impl CharOffsets {
    pub fn new(text: &str) -> Self {
        let mut wide = Vec::new();
        let mut extra = 0u32;
        // Skip ASCII 16 bytes at a time; postings are mostly ASCII.
        let mut base = 0usize;
        for chunk in text.as_bytes().chunks(16) {
            if !chunk.is_ascii() {
                // Lead bytes of multi-byte chars are >= 0xC0; their width is
                // in the high bits (the text is valid UTF-8).
                for (k, &lead) in chunk.iter().enumerate().filter(|(_, &b)| b >= 0xC0) {
                    let width = if lead >= 0xF0 {
                        4
                    } else if lead >= 0xE0 {
                        3
                    } else {
                        2
                    };
                    let start = (base + k) as u32;
                    wide.push((start, start + width, extra));
                    extra += width - 1;
                }
            }
            base += chunk.len();
        }
        CharOffsets {
            wide,
            len: text.len(),
        }
    }

    /// Char offset of `byte`; inside a multi-byte char, the char's own offset.
    pub fn char_at(&self, byte: usize) -> u32 {
        let byte = byte.min(self.len) as u32;
        let started = self.wide.partition_point(|&(start, _, _)| start <= byte);
        match started.checked_sub(1).map(|i| self.wide[i]) {
            None => byte,
            Some((start, end, extra)) if byte < end => start - extra,
            Some((start, end, extra)) => byte - extra - (end - start - 1),
        }
    }
}

/// An ASCII byte that `char::is_whitespace` counts as whitespace (the
/// ASCII whitespace set plus vertical tab).
pub(crate) const fn is_space_byte(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b
}

/// A word character for boundary checks: letters, digits and `_`.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

pub(crate) fn char_before(text: &str, byte: usize) -> Option<char> {
    text.get(..byte)?.chars().next_back()
}

pub(crate) fn char_after(text: &str, byte: usize) -> Option<char> {
    text.get(byte..)?.chars().next()
}

/// Largest char boundary `<= byte`.
pub(crate) fn floor_boundary(text: &str, mut byte: usize) -> usize {
    if byte >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    byte
}

/// Smallest char boundary `>= byte`.
pub(crate) fn ceil_boundary(text: &str, mut byte: usize) -> usize {
    if byte >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(byte) {
        byte += 1;
    }
    byte
}

/// The window of `chars` characters either side of `[start, end)` (bytes),
/// whitespace collapsed, never cutting a character.
pub(crate) fn snippet(text: &str, start: usize, end: usize, chars: usize) -> String {
    let bytes = text.as_bytes();
    // ASCII windows (the common case) are sized in bytes without decoding.
    let before = if bytes[start.saturating_sub(chars)..start].is_ascii() {
        chars.min(start)
    } else {
        text[..start]
            .chars()
            .rev()
            .take(chars)
            .map(char::len_utf8)
            .sum()
    };
    let after_end = (end + chars).min(text.len());
    let after = if bytes[end..after_end].is_ascii() {
        after_end - end
    } else {
        text[end..].chars().take(chars).map(char::len_utf8).sum()
    };
    let window = &text[start - before..end + after];
    if !window.is_ascii() && window.chars().any(|c| !c.is_ascii() && c.is_whitespace()) {
        return collapse_whitespace(window);
    }
    // Only ASCII whitespace: same result as `collapse_whitespace`, faster.
    // Most whitespace is already one space, so map the other whitespace
    // bytes (\t \n \x0b \x0c \r, with ' ' all that `char::is_whitespace`
    // counts in ASCII) to spaces in a loop the compiler vectorizes, then
    // collapse runs only if there is one. Only ASCII bytes change, so the
    // bytes stay UTF-8.
    let mut out = window.as_bytes().to_vec();
    for b in out.iter_mut() {
        // Branch-free so it vectorizes.
        *b = if b.wrapping_sub(b'\t') <= b'\r' - b'\t' {
            b' '
        } else {
            *b
        };
    }
    if double_space().find(&out).is_some() {
        out.dedup_by(|a, b| *a == b' ' && *b == b' ');
    }
    if out.last() == Some(&b' ') {
        out.pop();
    }
    if out.first() == Some(&b' ') {
        out.remove(0);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A searcher for two spaces, built once (building one per call cost more
/// than the search).
fn double_space() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(b"  "))
}

/// One space for each whitespace run, none at the ends (whitespace as
/// `char::is_whitespace` has it). ASCII bytes are handled without decoding.
pub(crate) fn collapse_whitespace(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut pending = false;
    let mut i = 0usize;
    while i < bytes.len() {
        // A run of printable ASCII is copied at once.
        let run = bytes[i..]
            .iter()
            .position(|&b| b <= b' ' || b >= 0x80)
            .unwrap_or(bytes.len() - i);
        let (len, space) = if run > 0 {
            (run, false)
        } else if bytes[i] < 0x80 {
            (1, is_space_byte(bytes[i]))
        } else {
            let ch = s[i..].chars().next().unwrap_or(' ');
            (ch.len_utf8(), ch.is_whitespace())
        };
        if space {
            pending = true;
        } else {
            if pending && !out.is_empty() {
                out.push(' ');
            }
            pending = false;
            out.push_str(&s[i..i + len]);
        }
        i += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_offsets_count_scalars_not_bytes() {
        let t = "héllo wörld";
        let o = CharOffsets::new(t);
        let b = t.find("wörld").unwrap();
        assert_eq!(o.char_at(b), 6);
        assert_eq!(o.char_at(t.len()), 11);
        assert_eq!(CharOffsets::new("abc").char_at(2), 2);
    }

    #[test]
    fn char_offsets_agree_with_counting_everywhere() {
        let t = "aé€😀b ü\u{301}z";
        let o = CharOffsets::new(t);
        for byte in 0..=t.len() + 2 {
            let b = byte.min(t.len());
            let start = (0..=b).rev().find(|i| t.is_char_boundary(*i)).unwrap();
            assert_eq!(
                o.char_at(byte),
                t[..start].chars().count() as u32,
                "byte {byte}"
            );
        }
    }

    #[test]
    fn collapse_whitespace_agrees_with_split_whitespace() {
        for t in [
            "",
            "   ",
            "a",
            " a  b\t\nc ",
            "\u{a0}x\u{2003}\u{3000}y\u{85}z\u{200b}",
            "ünïcode  wörds\r\n",
            "\x0bq\x0c",
        ] {
            assert_eq!(
                collapse_whitespace(t),
                t.split_whitespace().collect::<Vec<_>>().join(" "),
                "{t:?}"
            );
        }
    }

    #[test]
    fn snippet_collapses_whitespace_and_respects_chars() {
        let t = "ééé  needs\n\nRust now ééé";
        let s = t.find("Rust").unwrap();
        assert_eq!(snippet(t, s, s + 4, 7), "needs Rust now éé");
    }
}
