//! Byte ↔ character offset conversion and small text helpers. Matching runs on
//! bytes; everything reported outside the crate is in Unicode scalar values.

/// Converts byte offsets of one text into char offsets in O(1) each.
pub(crate) struct CharOffsets {
    /// `None` for ASCII text, where bytes and chars coincide.
    table: Option<Vec<u32>>,
}

impl CharOffsets {
    pub fn new(text: &str) -> Self {
        if text.is_ascii() {
            return CharOffsets { table: None };
        }
        let mut table = vec![0u32; text.len() + 1];
        let mut chars = 0u32;
        for (b, c) in text.char_indices() {
            for slot in &mut table[b..b + c.len_utf8()] {
                *slot = chars;
            }
            chars += 1;
        }
        table[text.len()] = chars;
        CharOffsets { table: Some(table) }
    }

    pub fn char_at(&self, byte: usize) -> u32 {
        match &self.table {
            None => byte as u32,
            Some(t) => t[byte.min(t.len() - 1)],
        }
    }
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
    let before: usize = text[..start]
        .chars()
        .rev()
        .take(chars)
        .map(char::len_utf8)
        .sum();
    let after: usize = text[end..].chars().take(chars).map(char::len_utf8).sum();
    let window = &text[start - before..end + after];
    let mut out = String::with_capacity(window.len());
    let mut last_space = false;
    for c in window.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out.trim().to_string()
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
    fn snippet_collapses_whitespace_and_respects_chars() {
        let t = "ééé  needs\n\nRust now ééé";
        let s = t.find("Rust").unwrap();
        assert_eq!(snippet(t, s, s + 4, 7), "needs Rust now éé");
    }
}
