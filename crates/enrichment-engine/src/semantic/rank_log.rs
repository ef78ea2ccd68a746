//! The linker's ranked candidates kept across processes: an append-only file
//! beside the ESCO index cache. A process ranks each new phrase against the
//! whole index (a transformer pass with `semantic_encoder: transformer`);
//! without this file a restarted worker, a second worker process or the next
//! `run` ranks every phrase again. The file is only a cache: what it holds is
//! what ranking the same phrase against the same index gives, so losing it,
//! or any part of it, changes no result.
//!
//! Layout: a header line (`MAGIC`, then the identity of the index and the
//! ranking: a file of another identity is started anew), then records
//! `[len u32][payload][crc32 u32]`, payload = `[phrase len u32][phrase]
//! [n u16][n × (concept u32, cosine f32)]`, little-endian. Each batch of new
//! phrases is one `write` to a file opened for appending, so processes sharing
//! the file do not interleave inside a batch. A record that does not check
//! (a process killed mid-write) ends what is read; the file is then rewritten
//! with the records before it, so later appends stay readable.

use super::Ranked;
use crate::error::EngineError;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const MAGIC: &str = "jobenrich-phrase-ranks-v1";
/// The file stops growing here (~350,000 phrases of 20 candidates).
pub const MAX_BYTES: u64 = 64 << 20;

/// An open rank log: appends the phrases this process ranks.
#[derive(Debug)]
pub struct RankLog {
    /// `None` after a failed write: the cache is given up, results are not.
    file: Mutex<Option<File>>,
    bytes: AtomicU64,
}

type Entries = Vec<(String, Ranked)>;

impl RankLog {
    /// Opens (or starts) the log at `path` for `identity`; returns it with the
    /// entries it holds, oldest first.
    pub fn open(path: &Path, identity: &str) -> Result<(RankLog, Entries), EngineError> {
        let header = format!("{MAGIC} {identity}\n");
        let (entries, clean) = match File::open(path) {
            Ok(file) => read(BufReader::new(file), &header),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), false),
            Err(e) => return Err(EngineError::io(path, e)),
        };
        if !clean {
            // Missing, of another identity, or with a torn tail: rewrite it
            // whole, beside it and renamed, so no reader sees half a file.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
            }
            let tmp = path.with_extension(format!("partial-{}", std::process::id()));
            let mut bytes = header.clone().into_bytes();
            for (phrase, ranked) in &entries {
                record(&mut bytes, phrase, ranked);
            }
            std::fs::write(&tmp, &bytes)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| EngineError::io(path, e))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| EngineError::io(path, e))?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(MAX_BYTES);
        let log = RankLog {
            file: Mutex::new(Some(file)),
            bytes: AtomicU64::new(bytes),
        };
        Ok((log, entries))
    }

    /// Appends a batch of newly ranked phrases in one write. A failed write
    /// (disk full) closes the log for this process: ranking goes on uncached.
    pub fn append<'a>(&self, entries: impl IntoIterator<Item = (&'a str, &'a Ranked)>) {
        if self.bytes.load(Ordering::Relaxed) >= MAX_BYTES {
            return;
        }
        let mut buf = Vec::new();
        for (phrase, ranked) in entries {
            record(&mut buf, phrase, ranked);
        }
        if buf.is_empty() {
            return;
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = file.as_mut() {
            if f.write_all(&buf).is_err() {
                *file = None;
            } else {
                self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
            }
        }
    }
}

/// Appends one record of `phrase` to `out`.
fn record(out: &mut Vec<u8>, phrase: &str, ranked: &Ranked) {
    // u16 candidates and u32 lengths: a longer phrase or pool is not kept.
    let (Ok(n), Ok(len)) = (u16::try_from(ranked.len()), u32::try_from(phrase.len())) else {
        return;
    };
    let mut payload = Vec::with_capacity(6 + phrase.len() + 8 * ranked.len());
    payload.extend_from_slice(&len.to_le_bytes());
    payload.extend_from_slice(phrase.as_bytes());
    payload.extend_from_slice(&n.to_le_bytes());
    for &(concept, cosine) in ranked.iter() {
        payload.extend_from_slice(&concept.to_le_bytes());
        payload.extend_from_slice(&cosine.to_le_bytes());
    }
    let Ok(total) = u32::try_from(payload.len()) else {
        return;
    };
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
}

/// The entries of a log, and whether it was whole and of `header`.
fn read(mut r: impl BufRead, header: &str) -> (Entries, bool) {
    let mut line = String::new();
    if r.read_line(&mut line).is_err() || line != header {
        return (Vec::new(), false);
    }
    let mut entries = Vec::new();
    loop {
        match r.fill_buf() {
            Ok([]) => return (entries, true),
            Ok(_) => {}
            Err(_) => return (entries, false),
        }
        let mut len = [0u8; 4];
        if r.read_exact(&mut len).is_err() {
            return (entries, false);
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_BYTES as usize {
            return (entries, false);
        }
        let mut payload = vec![0u8; len + 4];
        if r.read_exact(&mut payload).is_err() {
            return (entries, false);
        }
        let (payload, crc) = payload.split_at(len);
        if crc32fast::hash(payload).to_le_bytes() != crc {
            return (entries, false);
        }
        match parse(payload) {
            Some(entry) => entries.push(entry),
            None => return (entries, false),
        }
    }
}

fn parse(p: &[u8]) -> Option<(String, Ranked)> {
    let (len, p) = p.split_first_chunk::<4>()?;
    let (phrase, p) = p.split_at_checked(u32::from_le_bytes(*len) as usize)?;
    let phrase = std::str::from_utf8(phrase).ok()?.to_owned();
    let (n, p) = p.split_first_chunk::<2>()?;
    let n = u16::from_le_bytes(*n) as usize;
    if p.len() != 8 * n {
        return None;
    }
    let ranked: Vec<(u32, f32)> = p
        .chunks_exact(8)
        .map(|c| {
            (
                u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                f32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            )
        })
        .collect();
    Some((phrase, ranked.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(c: u32) -> Ranked {
        vec![(c, 0.5), (c + 1, 0.25)].into()
    }

    fn reopen(path: &Path, identity: &str) -> (RankLog, Entries) {
        RankLog::open(path, identity).unwrap()
    }

    #[test]
    fn batches_read_back_in_order_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ranks.bin");
        let (log, entries) = reopen(&path, "a");
        assert!(entries.is_empty());
        let (sql, excel) = (ranked(1), ranked(7));
        log.append([("sql", &sql), ("excel", &excel)]);
        log.append([("größe", &sql)]);
        drop(log);
        let (log, entries) = reopen(&path, "a");
        let names: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["sql", "excel", "größe"]);
        assert_eq!(entries[1].1, excel);
        drop(log);
        // A process killed mid-write leaves half a record.
        let whole = std::fs::read(&path).unwrap();
        let mut torn = whole.clone();
        let mut one = Vec::new();
        record(&mut one, "python", &sql);
        torn.extend_from_slice(&one[..one.len() / 2]);
        std::fs::write(&path, &torn).unwrap();
        let (log, entries) = reopen(&path, "a");
        assert_eq!(entries.len(), 3);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            whole,
            "rewritten without the tail"
        );
        // So what comes after it is readable.
        log.append([("rust", &excel)]);
        drop(log);
        assert_eq!(reopen(&path, "a").1.len(), 4);
    }

    #[test]
    fn a_tail_shorter_than_a_length_is_cut_off_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ranks.bin");
        let (log, _) = reopen(&path, "a");
        log.append([("sql", &ranked(1))]);
        drop(log);
        let whole = std::fs::read(&path).unwrap();
        let mut torn = whole.clone();
        torn.extend_from_slice(&[7, 0]);
        std::fs::write(&path, &torn).unwrap();
        let (log, entries) = reopen(&path, "a");
        assert_eq!((entries.len(), std::fs::read(&path).unwrap()), (1, whole));
        log.append([("rust", &ranked(2))]);
        drop(log);
        assert_eq!(reopen(&path, "a").1.len(), 2);
    }

    #[test]
    fn a_log_of_another_identity_is_started_anew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ranks.bin");
        let (log, _) = reopen(&path, "model=a pool=20");
        log.append([("sql", &ranked(1))]);
        drop(log);
        assert!(reopen(&path, "model=a pool=21").1.is_empty());
        assert!(
            reopen(&path, "model=a pool=20").1.is_empty(),
            "the other identity's start replaced the file"
        );
    }

    #[test]
    fn a_record_that_does_not_check_ends_what_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ranks.bin");
        let (log, _) = reopen(&path, "a");
        log.append([("sql", &ranked(1))]);
        log.append([("excel", &ranked(2))]);
        log.append([("rust", &ranked(3))]);
        drop(log);
        let mut bytes = std::fs::read(&path).unwrap();
        // A byte of the second record's phrase.
        let at = bytes.windows(5).position(|w| w == b"excel").unwrap();
        bytes[at] = b'X';
        std::fs::write(&path, &bytes).unwrap();
        let names: Vec<String> = reopen(&path, "a").1.into_iter().map(|(p, _)| p).collect();
        assert_eq!(names, ["sql"]);
    }

    #[test]
    fn two_writers_sharing_a_log_leave_every_batch_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ranks.bin");
        let (a, _) = reopen(&path, "a");
        let (b, _) = reopen(&path, "a");
        std::thread::scope(|s| {
            for (name, log) in [("a", &a), ("b", &b)] {
                s.spawn(move || {
                    for i in 0..200u32 {
                        let (x, y) = (ranked(i), ranked(i + 1));
                        let (p, q) = (format!("{name}{i}"), format!("{name}{i}'"));
                        log.append([(p.as_str(), &x), (q.as_str(), &y)]);
                    }
                });
            }
        });
        drop((a, b));
        let entries = reopen(&path, "a").1;
        assert_eq!(entries.len(), 800);
        assert!(entries
            .iter()
            .any(|(p, r)| p == "b199'" && *r == ranked(200)));
    }

    #[test]
    fn a_full_log_takes_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ranks.bin");
        let (log, _) = reopen(&path, "a");
        log.bytes.store(MAX_BYTES, Ordering::Relaxed);
        log.append([("sql", &ranked(1))]);
        drop(log);
        assert!(reopen(&path, "a").1.is_empty());
    }
}
