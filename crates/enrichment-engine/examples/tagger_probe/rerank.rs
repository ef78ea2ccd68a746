//! `RERANK=1 tagger_probe cv`: a boundary reranker over the tagger's
//! cross-validated spans (candidates: start moved by -2..=2 words, end by
//! -2..=3; lexical features; averaged perceptron ranking, trained on the
//! other folds' predictions). Measured, not shipped: docs/quality.md.
use super::quality::{count, prf_text, Counts, Posting, Predicted};
use std::collections::HashMap;

struct Words {
    /// (start, end) chars of whitespace-separated words.
    spans: Vec<(u32, u32)>,
    lower: Vec<String>,
    /// Line number of each word.
    line: Vec<u32>,
}

fn words(text: &str) -> Words {
    let chars: Vec<char> = text.chars().collect();
    let (mut spans, mut lower, mut line) = (Vec::new(), Vec::new(), Vec::new());
    let mut ln = 0u32;
    let mut i = 0usize;
    while i < chars.len() {
        if chars[i] == '\n' {
            ln += 1;
        }
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let s = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        spans.push((s as u32, i as u32));
        lower.push(chars[s..i].iter().collect::<String>().to_lowercase());
        line.push(ln);
    }
    Words { spans, lower, line }
}

#[derive(Clone)]
struct Cand {
    span: (u32, u32),
    feats: Vec<u64>,
}

fn h(parts: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut x = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut x);
    x.finish()
}

fn candidates(w: &Words, p: &Predicted) -> Vec<Cand> {
    let (s, e, label) = *p;
    let n = w.spans.len();
    let Some(ws) = w.spans.iter().position(|x| x.1 > s) else {
        return vec![];
    };
    let Some(we) = w.spans.iter().rposition(|x| x.0 < e) else {
        return vec![];
    };
    if we < ws {
        return vec![];
    }
    let get = |i: isize| -> &str {
        if i < 0 || i as usize >= n {
            "<pad>"
        } else {
            &w.lower[i as usize]
        }
    };
    let mut out = vec![];
    for ds in -2isize..=2 {
        for de in -2isize..=3 {
            let a = ws as isize + ds;
            let b = we as isize + de;
            if a < 0 || b >= n as isize || a > b {
                continue;
            }
            let (a, b) = (a as usize, b as usize);
            if w.line[a] != w.line[ws] || w.line[b] != w.line[we] {
                continue;
            }
            let span = if ds == 0 && de == 0 {
                (s, e)
            } else {
                (w.spans[a].0, w.spans[b].1)
            };
            let (dss, des) = (ds.to_string(), de.to_string());
            let first = get(a as isize);
            let last = get(b as isize);
            let before = get(a as isize - 1);
            let after = get(b as isize + 1);
            let len = (b - a + 1).min(8).to_string();
            let last_end = last
                .chars()
                .last()
                .map(|c| if c.is_alphanumeric() { "a" } else { "p" })
                .unwrap_or("-");
            let orig_after = get(we as isize + 1);
            let orig_before = get(ws as isize - 1);
            let orig_last = get(we as isize);
            let orig_first = get(ws as isize);
            let feats = vec![
                h(&["ds", &dss]),
                h(&["de", &des]),
                h(&["ds de", &dss, &des]),
                h(&["first", first]),
                h(&["last", last]),
                h(&["before", before]),
                h(&["after", after]),
                h(&["last after", last, after]),
                h(&["before first", before, first]),
                h(&["de orig_after", &des, orig_after]),
                h(&["ds orig_before", &dss, orig_before]),
                h(&["de orig_last", &des, orig_last]),
                h(&["ds orig_first", &dss, orig_first]),
                h(&["len", &len]),
                h(&["len label", &len, label]),
                h(&["de label", &des, label]),
                h(&["ds label", &dss, label]),
                h(&["last_end", last_end]),
                h(&["last_end de", last_end, &des]),
            ];
            out.push(Cand { span, feats });
        }
    }
    // The tagger's own span first (kept on ties).
    out.sort_by_key(|c| c.span != (s, e));
    out
}

struct Inst {
    fold: usize,
    posting: usize,
    orig: Predicted,
    cands: Vec<Cand>,
    gold: Option<usize>,
}

fn score(w: &HashMap<u64, f32>, c: &Cand) -> f32 {
    c.feats
        .iter()
        .map(|f| w.get(f).copied().unwrap_or(0.0))
        .sum::<f32>()
}

/// The best-scoring candidate (the earliest on ties: the tagger's own span).
fn best_candidate(w: &HashMap<u64, f32>, inst: &Inst) -> usize {
    (0..inst.cands.len())
        .max_by(|&a, &b| {
            score(w, &inst.cands[a])
                .total_cmp(&score(w, &inst.cands[b]))
                .then(b.cmp(&a))
        })
        .unwrap_or(0)
}

/// `scored` as `cross_validate` fills it: per seed, fold by fold, the
/// `postings` train postings with index i % folds == k in order; only the
/// first seed's are used.
pub fn experiment(scored: &[(Posting, Vec<Predicted>)], postings: usize, folds: usize) {
    let n = scored.len().min(postings);
    let fold_of: Vec<usize> = (0..folds)
        .flat_map(|k| {
            (0..postings)
                .filter(move |i| i % folds == k)
                .map(move |_| k)
        })
        .collect();
    let mut insts = Vec::new();
    for (pi, (p, preds)) in scored[..n].iter().enumerate() {
        let w = words(&p.text);
        for pr in preds {
            let cands = candidates(&w, pr);
            let gold = cands.iter().position(|c| p.spans.contains(&c.span));
            insts.push(Inst {
                fold: fold_of[pi],
                posting: pi,
                orig: *pr,
                cands,
                gold,
            });
        }
    }
    let epochs: usize = std::env::var("RERANK_EPOCHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut chosen: Vec<Predicted> = insts.iter().map(|i| i.orig).collect();
    for k in 0..folds {
        let (mut w, mut u) = (HashMap::<u64, f32>::new(), HashMap::<u64, f32>::new());
        let mut c = 1f32;
        let train: Vec<&Inst> = insts
            .iter()
            .filter(|i| i.fold != k && i.gold.is_some())
            .collect();
        for _ in 0..epochs {
            for inst in &train {
                let g = inst.gold.unwrap_or(0);
                let best = best_candidate(&w, inst);
                if best != g {
                    for f in &inst.cands[g].feats {
                        *w.entry(*f).or_default() += 1.0;
                        *u.entry(*f).or_default() += c;
                    }
                    for f in &inst.cands[best].feats {
                        *w.entry(*f).or_default() -= 1.0;
                        *u.entry(*f).or_default() -= c;
                    }
                }
                c += 1.0;
            }
        }
        let avg: HashMap<u64, f32> = w
            .iter()
            .map(|(f, x)| (*f, x - u.get(f).copied().unwrap_or(0.0) / c))
            .collect();
        for (j, inst) in insts.iter().enumerate() {
            if inst.fold == k && !inst.cands.is_empty() {
                let best = best_candidate(&avg, inst);
                let sp = inst.cands[best].span;
                chosen[j] = (sp.0, sp.1, inst.orig.2);
            }
        }
    }
    let (mut before, mut after) = (Counts::default(), Counts::default());
    for (pi, (p, preds)) in scored[..n].iter().enumerate() {
        let mut mine: Vec<Predicted> = insts
            .iter()
            .zip(&chosen)
            .filter(|(i, _)| i.posting == pi)
            .map(|(_, c)| *c)
            .collect();
        mine.sort();
        mine.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        before.add(count(p, preds, true, None));
        after.add(count(p, &mine, true, None));
    }
    let reachable = insts.iter().filter(|i| i.gold.is_some()).count();
    let orig_hit = insts
        .iter()
        .filter(|i| i.gold == Some(0) && i.cands[0].span == (i.orig.0, i.orig.1))
        .count();
    let f = prf_text;
    println!(
        "rerank: {} predictions, {} with the gold among candidates ({} already exact); exact before {} after {}",
        insts.len(),
        reachable,
        orig_hit,
        f(&before),
        f(&after)
    );
}
