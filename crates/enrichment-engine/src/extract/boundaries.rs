//! Token boundaries, list separators and overlap lookups over byte offsets.

use super::*;

/// Word-boundary check that understands tokens like `C++`, `.NET`, `CI/CD`:
/// an edge that is a word character must not touch another word character.
pub(super) fn boundaries_ok(text: &str, start: usize, end: usize) -> bool {
    let matched = &text[start..end];
    let first = matched.chars().next();
    let last = matched.chars().next_back();
    if first.is_some_and(is_word_char) && char_before(text, start).is_some_and(is_word_char) {
        return false;
    }
    if last.is_some_and(is_word_char) && char_after(text, end).is_some_and(is_word_char) {
        return false;
    }
    // `.NET` must not be the tail of another dotted word (`ASP.NET` is its own entry).
    if first == Some('.') && char_before(text, start).is_some_and(is_word_char) {
        return false;
    }
    // `C++` should not match the first characters of `C+++`-like noise, and a
    // single letter must not be part of `C-level`, `R&D`, `C'est`, `e.g.`.
    if matched.chars().count() == 1 {
        let before = char_before(text, start);
        let after = char_after(text, end);
        if matches!(after, Some('-' | '&' | '\'' | '’' | '.' | '+' | '#' | '@'))
            && !matches!(after, Some('.') if text[end + 1..].chars().next().is_none_or(char::is_whitespace))
        {
            return false;
        }
        if matches!(before, Some('-' | '&' | '\'' | '’' | '.' | '@' | '/'))
            && !matches!(before, Some('/'))
        {
            return false;
        }
    }
    true
}

/// Byte offset of the first whitespace char (`char::is_whitespace`).
pub(super) fn first_whitespace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    match bytes.iter().position(|&b| is_space_byte(b) || b >= 0x80) {
        Some(p) if bytes[p] >= 0x80 => s[p..].find(char::is_whitespace).map(|q| p + q),
        found => found,
    }
}

/// The list separator starting `rest`, the longest one: `, and `, `, or `,
/// `, `, ` and/or `, ` and `, ` or `, ` & `, ` / `, `/`. Its length.
pub(super) fn separator_at(rest: &[u8]) -> Option<usize> {
    const SEPARATORS: [&[u8]; 9] = [
        b" and/or ",
        b", and ",
        b", or ",
        b" and ",
        b" or ",
        b" & ",
        b" / ",
        b", ",
        b"/",
    ];
    SEPARATORS
        .iter()
        .find(|sep| rest.starts_with(sep))
        .map(|sep| sep.len())
}

/// Bytes that end a list (see `Extractor::list_items`).
pub(super) const LIST_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let stops = b".;:()\n!?[]";
    let mut i = 0;
    while i < stops.len() {
        table[stops[i] as usize] = true;
        i += 1;
    }
    table
};

/// Indices of the mentions overlapping `[start, end)` in `sorted`, which is
/// ordered by start and free of overlaps (so ends are ordered too).
pub(super) fn overlapping(sorted: &[Mention], start: usize, end: usize) -> std::ops::Range<usize> {
    let lo = sorted.partition_point(|m| m.end <= start);
    let hi = sorted.partition_point(|m| m.start < end);
    lo..hi.max(lo)
}
