//! Metric arithmetic with scikit-learn's semantics
//! (`sklearn.metrics.precision_recall_fscore_support`):
//!
//! - per label: precision = TP / (TP + FP), recall = TP / (TP + FN),
//!   F1 = 2·TP / (2·TP + FP + FN) (equal to the harmonic mean, and defined
//!   whenever any count is non-zero), support = TP + FN (gold items);
//! - a 0/0 takes the `zero_division` value (scikit-learn's default `"warn"`
//!   behaves as 0, which is our default);
//! - `average="macro"`: unweighted mean of the per-label figures over the
//!   labels present in gold *or* predictions (scikit-learn's default label set),
//!   so a label that is only predicted adds precision 0 and pulls the mean down;
//! - `average="micro"`: the same formulas on the summed counts.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a 0/0 is worth (scikit-learn's `zero_division`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZeroDivision {
    #[default]
    Zero,
    One,
}

impl ZeroDivision {
    fn value(self) -> f64 {
        match self {
            ZeroDivision::Zero => 0.0,
            ZeroDivision::One => 1.0,
        }
    }

    fn ratio(self, num: u64, den: u64) -> f64 {
        if den == 0 {
            self.value()
        } else {
            num as f64 / den as f64
        }
    }
}

/// Confusion counts of one label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }
}

/// Precision, recall, F1 and support of one label or one average.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

impl Prf {
    pub fn from_counts(c: Counts, zero_division: ZeroDivision) -> Prf {
        Prf {
            precision: zero_division.ratio(c.tp, c.tp + c.fp),
            recall: zero_division.ratio(c.tp, c.tp + c.fn_),
            f1: zero_division.ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn_),
            support: c.tp + c.fn_,
        }
    }

    /// F1 from a precision and recall computed separately (overlap span
    /// matching, where precision and recall count different things).
    pub fn from_rates(precision: f64, recall: f64, support: u64, zd: ZeroDivision) -> Prf {
        let f1 = if precision + recall == 0.0 {
            zd.value()
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Prf {
            precision,
            recall,
            f1,
            support,
        }
    }
}

/// Per-label figures plus macro and micro averages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelReport {
    pub per_label: BTreeMap<String, Prf>,
    pub counts: BTreeMap<String, Counts>,
    pub macro_avg: Prf,
    pub micro_avg: Prf,
}

/// `precision_recall_fscore_support` for `average=None`, `"macro"` and
/// `"micro"` at once. Labels whose counts are all zero are left out (they
/// are absent from both gold and predictions). With no labels at all every
/// average is the `zero_division` value.
pub fn label_report(counts: &BTreeMap<String, Counts>, zd: ZeroDivision) -> LabelReport {
    let counts: BTreeMap<String, Counts> = counts
        .iter()
        .filter(|(_, c)| c.tp + c.fp + c.fn_ > 0)
        .map(|(k, c)| (k.clone(), *c))
        .collect();
    let per_label: BTreeMap<String, Prf> = counts
        .iter()
        .map(|(k, c)| (k.clone(), Prf::from_counts(*c, zd)))
        .collect();
    let mut total = Counts::default();
    for c in counts.values() {
        total.add(*c);
    }
    let micro_avg = Prf::from_counts(total, zd);
    let macro_avg = if per_label.is_empty() {
        Prf {
            precision: zd.value(),
            recall: zd.value(),
            f1: zd.value(),
            support: 0,
        }
    } else {
        let n = per_label.len() as f64;
        Prf {
            precision: per_label.values().map(|p| p.precision).sum::<f64>() / n,
            recall: per_label.values().map(|p| p.recall).sum::<f64>() / n,
            f1: per_label.values().map(|p| p.f1).sum::<f64>() / n,
            support: total.tp + total.fn_,
        }
    };
    LabelReport {
        per_label,
        counts,
        macro_avg,
        micro_avg,
    }
}

/// Multiclass counts from paired true/predicted labels (one pair per sample):
/// a correct sample is a TP of its label, a wrong one an FN of the true label
/// and an FP of the predicted label — exactly scikit-learn's confusion-matrix
/// reading for `average=None`.
pub fn multiclass_counts<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, Counts> {
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    for (truth, pred) in pairs {
        if truth == pred {
            counts.entry(truth.to_string()).or_default().tp += 1;
        } else {
            counts.entry(truth.to_string()).or_default().fn_ += 1;
            counts.entry(pred.to_string()).or_default().fp += 1;
        }
    }
    counts
}

/// A `[start, end)` interval in characters.
pub type Interval = (u32, u32);

fn overlaps(a: Interval, b: Interval) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Span matching tallies accumulated over documents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanTally {
    pub predicted: u64,
    pub gold: u64,
    /// Predicted spans equal to a gold span (start and end).
    pub exact_matches: u64,
    /// Predicted spans that overlap at least one gold span (precision side).
    pub predicted_overlapping: u64,
    /// Gold spans overlapped by at least one predicted span (recall side).
    pub gold_overlapped: u64,
}

impl SpanTally {
    /// Tallies one document; duplicate intervals on either side count once.
    pub fn add_document(&mut self, predicted: &[Interval], gold: &[Interval]) {
        let mut p = predicted.to_vec();
        p.sort_unstable();
        p.dedup();
        let mut g = gold.to_vec();
        g.sort_unstable();
        g.dedup();
        self.predicted += p.len() as u64;
        self.gold += g.len() as u64;
        self.exact_matches += p.iter().filter(|x| g.binary_search(x).is_ok()).count() as u64;
        self.predicted_overlapping += p
            .iter()
            .filter(|x| g.iter().any(|y| overlaps(**x, *y)))
            .count() as u64;
        self.gold_overlapped += g
            .iter()
            .filter(|y| p.iter().any(|x| overlaps(*x, **y)))
            .count() as u64;
    }

    /// Exact matching: a predicted span is right only with both ends equal.
    pub fn exact(&self, zd: ZeroDivision) -> Prf {
        Prf::from_counts(
            Counts {
                tp: self.exact_matches,
                fp: self.predicted - self.exact_matches,
                fn_: self.gold - self.exact_matches,
            },
            zd,
        )
    }

    /// Overlap ("loose") matching: precision over predicted spans touching
    /// some gold span, recall over gold spans touched by some prediction.
    pub fn overlap(&self, zd: ZeroDivision) -> Prf {
        let precision = zd.ratio(self.predicted_overlapping, self.predicted);
        let recall = zd.ratio(self.gold_overlapped, self.gold);
        Prf::from_rates(precision, recall, self.gold, zd)
    }
}

/// R-Precision@K of one ranking (Decorte et al. 2022): the relevant items among
/// the top K divided by min(K, |relevant|). `None` when nothing is relevant
/// (the sample is left out of the mean).
pub fn r_precision_at_k(ranked_relevant: &[bool], relevant_total: usize, k: usize) -> Option<f64> {
    if relevant_total == 0 || k == 0 {
        return None;
    }
    let denominator = k.min(relevant_total);
    let hits = ranked_relevant.iter().take(k).filter(|r| **r).count();
    Some(hits.min(denominator) as f64 / denominator as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn counts(entries: &[(&str, u64, u64, u64)]) -> BTreeMap<String, Counts> {
        entries
            .iter()
            .map(|(k, tp, fp, fn_)| {
                (
                    k.to_string(),
                    Counts {
                        tp: *tp,
                        fp: *fp,
                        fn_: *fn_,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn per_label_macro_and_micro_match_hand_computation() {
        // a: tp 2 fp 1 fn 1 -> P 2/3, R 2/3, F1 2/3
        // b: tp 1 fp 0 fn 3 -> P 1,   R 1/4, F1 2/5
        // c: only predicted (fp 2) -> P 0, R 0/0 -> 0, F1 0
        let r = label_report(
            &counts(&[("a", 2, 1, 1), ("b", 1, 0, 3), ("c", 0, 2, 0)]),
            ZeroDivision::Zero,
        );
        let a = r.per_label["a"];
        assert!(
            close(a.precision, 2.0 / 3.0) && close(a.recall, 2.0 / 3.0) && close(a.f1, 2.0 / 3.0)
        );
        assert_eq!(a.support, 3);
        let b = r.per_label["b"];
        assert!(close(b.precision, 1.0) && close(b.recall, 0.25) && close(b.f1, 0.4));
        let c = r.per_label["c"];
        assert_eq!((c.precision, c.recall, c.f1, c.support), (0.0, 0.0, 0.0, 0));
        assert!(close(r.macro_avg.precision, (2.0 / 3.0 + 1.0 + 0.0) / 3.0));
        assert!(close(r.macro_avg.recall, (2.0 / 3.0 + 0.25 + 0.0) / 3.0));
        assert!(close(r.macro_avg.f1, (2.0 / 3.0 + 0.4 + 0.0) / 3.0));
        // micro: tp 3, fp 3, fn 4 -> P 1/2, R 3/7, F1 6/13
        assert!(close(r.micro_avg.precision, 0.5));
        assert!(close(r.micro_avg.recall, 3.0 / 7.0));
        assert!(close(r.micro_avg.f1, 6.0 / 13.0));
        assert_eq!(r.micro_avg.support, 7);
    }

    #[test]
    fn zero_division_applies_only_to_zero_denominators() {
        // gold-only label: P = 0/0, R = 0/2, F1 = 0/2
        let gold_only = counts(&[("x", 0, 0, 2)]);
        let zero = label_report(&gold_only, ZeroDivision::Zero).per_label["x"];
        assert_eq!((zero.precision, zero.recall, zero.f1), (0.0, 0.0, 0.0));
        let one = label_report(&gold_only, ZeroDivision::One).per_label["x"];
        assert_eq!((one.precision, one.recall, one.f1), (1.0, 0.0, 0.0));
    }

    #[test]
    fn empty_labels_are_left_out_and_no_labels_yields_zero_division() {
        let r = label_report(
            &counts(&[("a", 1, 0, 0), ("empty", 0, 0, 0)]),
            ZeroDivision::Zero,
        );
        assert_eq!(r.per_label.len(), 1);
        assert_eq!(r.macro_avg.f1, 1.0);
        let none = label_report(&BTreeMap::new(), ZeroDivision::Zero);
        assert_eq!((none.macro_avg.f1, none.micro_avg.precision), (0.0, 0.0));
        let none_one = label_report(&BTreeMap::new(), ZeroDivision::One);
        assert_eq!(none_one.macro_avg.f1, 1.0);
    }

    #[test]
    fn multiclass_counts_read_like_a_confusion_matrix() {
        // y_true = [req, req, ben, other], y_pred = [req, ben, ben, req]
        let c = multiclass_counts([
            ("req", "req"),
            ("req", "ben"),
            ("ben", "ben"),
            ("other", "req"),
        ]);
        assert_eq!(
            c["req"],
            Counts {
                tp: 1,
                fp: 1,
                fn_: 1
            }
        );
        assert_eq!(
            c["ben"],
            Counts {
                tp: 1,
                fp: 1,
                fn_: 0
            }
        );
        assert_eq!(
            c["other"],
            Counts {
                tp: 0,
                fp: 0,
                fn_: 1
            }
        );
        // sklearn: precision_recall_fscore_support(average="macro") over {ben, other, req}
        let r = label_report(&c, ZeroDivision::Zero);
        assert!(close(r.macro_avg.precision, (0.5 + 0.0 + 0.5) / 3.0));
        assert!(close(r.macro_avg.recall, (1.0 + 0.0 + 0.5) / 3.0));
        // micro precision = accuracy for single-label multiclass
        assert!(close(r.micro_avg.precision, 0.5));
    }

    #[test]
    fn spans_exact_and_overlap() {
        let mut t = SpanTally::default();
        // gold: [0,5) [10,20) [30,35); predicted: [0,5) exact, [12,15) inside, [40,45) nowhere, dup [0,5)
        t.add_document(
            &[(0, 5), (12, 15), (40, 45), (0, 5)],
            &[(0, 5), (10, 20), (30, 35)],
        );
        assert_eq!((t.predicted, t.gold, t.exact_matches), (3, 3, 1));
        let e = t.exact(ZeroDivision::Zero);
        assert!(close(e.precision, 1.0 / 3.0) && close(e.recall, 1.0 / 3.0));
        let o = t.overlap(ZeroDivision::Zero);
        assert!(
            close(o.precision, 2.0 / 3.0) && close(o.recall, 2.0 / 3.0) && close(o.f1, 2.0 / 3.0)
        );
        // touching ends do not overlap ([5,10) vs [0,5))
        let mut touch = SpanTally::default();
        touch.add_document(&[(5, 10)], &[(0, 5)]);
        assert_eq!(touch.overlap(ZeroDivision::Zero).f1, 0.0);
        // nothing predicted, nothing gold
        assert_eq!(SpanTally::default().exact(ZeroDivision::Zero).f1, 0.0);
    }

    #[test]
    fn r_precision_divides_by_the_smaller_of_k_and_relevant() {
        // 2 relevant, found at ranks 1 and 3 -> 2/min(5,2) = 1
        assert_eq!(r_precision_at_k(&[true, false, true], 2, 5), Some(1.0));
        // 8 relevant, 3 in top 5 -> 3/5
        assert_eq!(
            r_precision_at_k(&[true, true, false, true, false, true], 8, 5),
            Some(0.6)
        );
        assert_eq!(r_precision_at_k(&[], 3, 5), Some(0.0));
        assert_eq!(r_precision_at_k(&[true], 0, 5), None);
    }
}

/// A metric change with its sign at 4 decimals; a change that rounds to zero
/// reads `±0.0000`, never `-0.0000`.
pub fn signed_delta(delta: f64) -> String {
    let text = format!("{delta:+.4}");
    if text
        .trim_start_matches(['+', '-'])
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "±0.0000".to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod signed_delta_tests {
    use super::signed_delta;

    #[test]
    fn a_change_that_rounds_to_zero_has_no_minus_sign() {
        assert_eq!(signed_delta(-0.00001), "±0.0000");
        assert_eq!(signed_delta(0.0), "±0.0000");
        assert_eq!(signed_delta(-0.0), "±0.0000");
        assert_eq!(signed_delta(-0.01234), "-0.0123");
        assert_eq!(signed_delta(0.5), "+0.5000");
    }
}
