//! Result text that is a function of the posting's description, stored as
//! offsets: a section's text (a slice) and a skill's snippet (a window with
//! its whitespace evened out, as `rebuilt_snippet` and the `job_skills` view
//! compute it). The writer stores offsets only when the view would give back
//! exactly the text it was handed; otherwise it stores the text.

use crate::error::map_sqlite;
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{JobId, MentionSpan};
use rusqlite::{params, Connection, OptionalExtension};

/// A description sliced by character offsets, as SQLite's `substr` on text
/// counts them (Unicode scalar values).
pub(crate) struct Slicer {
    text: String,
    /// For each non-ASCII character, its character index and the byte
    /// offset just past it; between two of them every character is one
    /// byte. Most postings have a few (bullets, quotes), so this stays small
    /// where a byte offset per character cost a 50 KB table per posting.
    wide: Vec<(u32, u32)>,
    chars: u32,
}

impl Slicer {
    pub(crate) fn new(text: String) -> Slicer {
        let bytes = text.as_bytes();
        let mut wide = Vec::new();
        let (mut i, mut chars) = (0usize, 0usize);
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        while i < bytes.len() {
            let run = ascii_run(&bytes[i..]);
            i += run;
            chars += run;
            let Some(&lead) = bytes.get(i) else { break };
            // A String is valid UTF-8: the lead byte gives the width.
            i += match lead {
                0xF0.. => 4,
                0xE0.. => 3,
                _ => 2,
            };
            wide.push((narrow(chars), narrow(i)));
            chars += 1;
        }
        Slicer {
            text,
            wide,
            chars: narrow(chars),
        }
    }

    /// Length in characters.
    pub(crate) fn chars(&self) -> u32 {
        self.chars
    }

    /// Byte offset of character `k` (`k <= chars`).
    fn byte(&self, k: u32) -> usize {
        let before = self.wide.partition_point(|&(c, _)| c < k);
        match before.checked_sub(1).map(|i| self.wide[i]) {
            None => k as usize,
            Some((c, after)) => after as usize + (k - c - 1) as usize,
        }
    }

    /// Characters `[start, end)`, or None when out of range.
    pub(crate) fn slice(&self, start: u32, end: u32) -> Option<&str> {
        if start > end || end > self.chars {
            return None;
        }
        self.text.get(self.byte(start)..self.byte(end))
    }
}

/// How many bytes at the start of `b` are ASCII, 8 at a time. Most postings
/// have a few non-ASCII characters (bullets, quotes), so decoding every
/// character to find them was ~67,000 instructions per posting (3.7 % of a
/// rules `run`); std has no "first non-ASCII byte", hence the SWAR word.
fn ascii_run(b: &[u8]) -> usize {
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = b.chunks_exact(8);
    let mut n = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let high = u64::from_le_bytes(word) & HIGHS;
        if high != 0 {
            return n + (high.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + b[n..].iter().take_while(|c| c.is_ascii()).count()
}

/// The description of the job being written, read once per job (a
/// completion's rows come grouped by job).
#[derive(Default)]
pub(crate) struct Descriptions {
    current: Option<(String, Option<Slicer>)>,
}

impl Descriptions {
    pub(crate) fn get(&mut self, conn: &Connection, job: &JobId) -> StoreResult<Option<&Slicer>> {
        if self
            .current
            .as_ref()
            .is_none_or(|(j, _)| j.as_str() != job.as_str())
        {
            let text: Option<String> = conn
                .prepare_cached("SELECT description FROM job_postings WHERE job_posting_id = ?1")
                .map_err(map_sqlite)?
                .query_row(params![job.as_str()], |r| r.get(0))
                .optional()
                .map_err(map_sqlite)?;
            self.current = Some((job.as_str().to_string(), text.map(Slicer::new)));
        }
        Ok(self.current.as_ref().and_then(|(_, d)| d.as_ref()))
    }
}

/// The snippet the `job_skills` view rebuilds from a window of the
/// description (`rebuilt_snippet_sql!` in the migrations): ASCII control
/// whitespace as spaces, five passes of two spaces to one (runs of up to 32),
/// no spaces at the ends. SQLite's `replace` and `trim` do exactly this.
#[cfg(test)]
pub(crate) fn rebuilt_snippet(window: &str) -> String {
    let mut s = window.replace(['\t', '\n', '\x0b', '\x0c', '\r'], " ");
    for _ in 0..5 {
        s = s.replace("  ", " ");
    }
    s.trim_matches(' ').to_string()
}

fn is_view_space(b: u8) -> bool {
    // Text is mostly bytes above the space: one compare decides those.
    b <= b' ' && (b == b' ' || (b'\t'..=b'\r').contains(&b))
}

/// `rebuilt_snippet(window) == snippet` in one pass without allocating (it
/// runs for every skill row written). Only ASCII bytes are special, so
/// comparing bytes is comparing characters.
pub(crate) fn rebuilds_to(window: &str, snippet: &str) -> bool {
    let w = window.as_bytes();
    let s = snippet.as_bytes();
    // `trim` takes every space at the ends, however long the run.
    let start = w.iter().position(|&b| !is_view_space(b)).unwrap_or(w.len());
    let end = w
        .iter()
        .rposition(|&b| !is_view_space(b))
        .map_or(start, |i| i + 1);
    let (mut i, mut j) = (start, 0);
    while i < end {
        if let Some(step) = plain_chunk(w, i, end, s, j) {
            i += step;
            j += step;
            continue;
        }
        let b = w[i];
        // One compare per ordinary byte: a call per word cost 8x more.
        if !is_view_space(b) {
            if s.get(j) != Some(&b) {
                return false;
            }
            i += 1;
            j += 1;
            continue;
        }
        let run = w[i..end].iter().take_while(|&&b| is_view_space(b)).count();
        // Each pass of replace('  ', ' ') makes a run of n spaces ceil(n / 2).
        let mut n = run;
        for _ in 0..5 {
            n = n.div_ceil(2);
        }
        if s.len() < j + n || s[j..j + n].iter().any(|&b| b != b' ') {
            return false;
        }
        i += run;
        j += n;
    }
    j == s.len()
}

/// 8 when `w[i..i + 8]` equals `s[j..j + 8]` and the view leaves those bytes
/// as they are: no control whitespace, no two spaces together, and a space
/// at the end is not the start of a run. Comparing a word at a time this way
/// (SWAR, no `unsafe`) halved the snippet check's share of a profile of
/// 10,000 postings (4.1 % → 2.1 % of the samples).
fn plain_chunk(w: &[u8], i: usize, end: usize, s: &[u8], j: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let a = u64::from_le_bytes(w.get(i..i.checked_add(8)?.min(end))?.try_into().ok()?);
    let b = u64::from_le_bytes(s.get(j..j.checked_add(8)?)?.try_into().ok()?);
    // Any byte below 0x20 (tab, newline, CR, VT, FF and other controls).
    let control = a.wrapping_sub(ONES * 0x20) & !a & HIGHS;
    // Exactly the bytes that are a space: high bit set where `a ^ spaces` is 0.
    let x = a ^ (ONES * u64::from(b' '));
    let spaces = !(((x & LOWS).wrapping_add(LOWS)) | x | LOWS);
    let adjacent = spaces & (spaces << 8);
    let ends_in_space = spaces >> 63 == 1;
    let run_follows = ends_in_space && w.get(i + 8).is_some_and(|&n| is_view_space(n));
    (a == b && control == 0 && adjacent == 0 && !run_follows).then_some(8)
}

/// Finds the window `[start, end)` (characters) of `snippet` around the first
/// mention, trying `radius` characters either side first (the last radius
/// that matched), then the radius the snippet's length implies. None: store
/// the text.
pub(crate) fn snippet_window(
    description: &Slicer,
    spans: &[MentionSpan],
    snippet: &str,
    radius: &mut u32,
) -> Option<(u32, u32)> {
    let first = spans.first()?;
    let len = description.chars();
    if first.start > first.end || first.end > len {
        return None;
    }
    let window = |r: u32| {
        let start = first.start.saturating_sub(r);
        let end = first.end.saturating_add(r).min(len);
        let text = description.slice(start, end)?;
        rebuilds_to(text, snippet).then_some((start, end))
    };
    if let Some(found) = window(*radius) {
        return Some(found);
    }
    let mention = first.end - first.start;
    let guess = u32::try_from(snippet.chars().count())
        .ok()?
        .saturating_sub(mention)
        / 2;
    if guess == *radius {
        return None;
    }
    let found = window(guess)?;
    *radius = guess;
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rust_rebuild_is_the_views_sql() {
        let conn = Connection::open_in_memory().unwrap();
        let samples = [
            "",
            "   ",
            "plain text",
            " leading and trailing ",
            "tabs\there\r\nand\x0bform\x0cfeed",
            "run of                                       forty spaces",
            "ünïcode  wörds\u{a0} nbsp stays",
            "\n\n\nbullets\n- one\n- two\n",
        ];
        for s in samples {
            let sql: String = conn
                .query_row(
                    concat!(
                        "SELECT ",
                        crate::migrations::rebuilt_snippet_sql!("?1", "0", "length(?1)")
                    ),
                    params![s],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(rebuilt_snippet(s), sql, "{s:?}");
            assert!(rebuilds_to(s, &sql), "{s:?}");
            for other in [format!("{sql} "), format!("x{sql}"), sql.replace(' ', "")] {
                assert_eq!(rebuilds_to(s, &other), other == sql, "{s:?} vs {other:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_word_at_a_time_check_agrees_with_the_rebuild(
            // Words, runs of spaces and control whitespace, so that 8-byte
            // chunks meet every case: clean, a run, a control, a run across.
            window in "([abcé]{1,9}| {1,3}|[\t\n\r\x0b\x0c]){0,14}",
            noise in 0usize..4,
        ) {
            let rebuilt = rebuilt_snippet(&window);
            proptest::prop_assert!(rebuilds_to(&window, &rebuilt));
            // Near misses: a space more or less, a letter changed, a tab kept.
            let mut others = vec![format!("{rebuilt} "), rebuilt.replacen(' ', "  ", 1),
                rebuilt.replacen(' ', "", 1), rebuilt.replacen('a', "b", 1),
                window.clone(), window.trim().to_string()];
            others.push(rebuilt.chars().skip(noise).collect());
            for other in others {
                proptest::prop_assert_eq!(rebuilds_to(&window, &other), other == rebuilt,
                    "{:?} vs {:?}", window, other);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn slices_agree_with_chars_on_any_text(
            // ASCII runs of every length around the 8-byte words, and
            // characters of 2, 3 and 4 bytes.
            text in "([a-z ]{0,19}|[éü•€\u{1F600}]){0,12}",
        ) {
            let d = Slicer::new(text.clone());
            let chars: Vec<char> = text.chars().collect();
            proptest::prop_assert_eq!(d.chars() as usize, chars.len());
            for start in 0..=chars.len() {
                for end in start..=chars.len() {
                    let want: String = chars[start..end].iter().collect();
                    proptest::prop_assert_eq!(d.slice(start as u32, end as u32), Some(want.as_str()));
                }
            }
        }
    }

    #[test]
    fn slices_count_characters_like_substr() {
        for text in [
            "",
            "plain",
            "é",
            "•a•",
            "Größe zählt – €5 ok",
            "ab\u{1F600}cd\u{00e9}",
        ] {
            let d = Slicer::new(text.to_string());
            let chars: Vec<char> = text.chars().collect();
            assert_eq!(d.chars() as usize, chars.len(), "{text:?}");
            for start in 0..=chars.len() + 1 {
                for end in 0..=chars.len() + 1 {
                    let want = (start <= end && end <= chars.len())
                        .then(|| chars[start..end].iter().collect::<String>());
                    assert_eq!(
                        d.slice(start as u32, end as u32).map(str::to_string),
                        want,
                        "{text:?} [{start}, {end})"
                    );
                }
            }
        }
    }

    #[test]
    fn a_snippet_is_found_by_its_window_or_left_as_text() {
        let d = Slicer::new("We want Rust and\n\nSQL   skills. Größe zählt.".to_string());
        let rust = [MentionSpan { start: 8, end: 12 }];
        let mut radius = 4;
        assert_eq!(
            snippet_window(&d, &rust, "ant Rust and", &mut radius),
            Some((4, 16))
        );
        assert_eq!(
            snippet_window(&d, &rust, "t Rust a", &mut radius),
            Some((6, 14)),
            "another radius is found from the snippet's length"
        );
        assert_eq!(radius, 2, "and remembered");
        assert_eq!(
            snippet_window(&d, &rust, " want Rust and ", &mut radius),
            None,
            "a snippet the view cannot rebuild (spaces at the ends) stays text"
        );
        assert_eq!(
            snippet_window(&d, &rust, "e want Rust and", &mut radius),
            None,
            "not centred on the mention: text"
        );
        radius = 6;
        let sql = [MentionSpan { start: 18, end: 21 }];
        assert_eq!(
            snippet_window(&d, &sql, "and SQL ski", &mut radius),
            Some((12, 27)),
            "newlines and a run of spaces are evened out as the view does"
        );
        let gross = [MentionSpan { start: 32, end: 37 }];
        radius = 3;
        assert_eq!(
            snippet_window(&d, &gross, "s. Größe zä", &mut radius),
            Some((29, 40)),
            "offsets count characters"
        );
        assert_eq!(d.slice(29, 40), Some("s. Größe zä"));
        assert_eq!(snippet_window(&d, &[], "x", &mut radius), None);
        let past_end = [MentionSpan { start: 40, end: 99 }];
        assert_eq!(snippet_window(&d, &past_end, "x", &mut radius), None);
    }
}
