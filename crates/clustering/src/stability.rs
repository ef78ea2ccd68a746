//! How much a clustering run moved jobs compared with an earlier one.
//!
//! - Label-free agreement over the jobs in both runs: adjusted Rand index
//!   (ARI, 1 = same partition, ≈0 = chance) and normalized mutual information
//!   (NMI, arithmetic-mean normalization as scikit-learn's default).
//! - Cluster matching: old and new clusters are paired one-to-one, greedily
//!   by Jaccard overlap of their members (highest first). A job *moved* when
//!   its new cluster is not the one its old cluster was paired with; churn is
//!   moved / jobs in both runs.
//! - Events from significant flows: a flow A→B is significant when it holds
//!   at least `share_threshold` of A's and of B's jobs (among jobs in both
//!   runs). One flow each way: B *continues* A; A with several: A *split*;
//!   B with several: B *merged* them; B with none: *new*; A with none: *vanished*.

use jobenrich_domain::JobId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A run's cluster of each job and the clusters' names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunMembership {
    pub run_id: String,
    pub labels: Vec<(JobId, u32)>,
    pub names: BTreeMap<u32, String>,
}

/// A cluster of one side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSide {
    pub cluster_id: u32,
    pub name: String,
    /// Members in its run.
    pub size: u64,
    /// Members that are in both runs.
    pub shared_jobs: u64,
}

/// Jobs of old cluster `old` that are in new cluster `new`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterFlow {
    pub old: u32,
    pub new: u32,
    pub jobs: u64,
}

/// A one-to-one pairing of an old and a new cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterMatch {
    pub old: u32,
    pub new: u32,
    pub jaccard: f64,
    pub shared_jobs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClusterEvent {
    Continues { old: u32, new: u32, jaccard: f64 },
    Split { old: u32, into: Vec<u32> },
    Merged { from: Vec<u32>, into: u32 },
    New { new: u32 },
    Vanished { old: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StabilityReport {
    pub old_run_id: String,
    pub new_run_id: String,
    pub jobs_in_both: u64,
    pub jobs_only_in_old: u64,
    pub jobs_only_in_new: u64,
    pub moved_jobs: u64,
    pub churn_rate: f64,
    pub adjusted_rand_index: f64,
    pub normalized_mutual_information: f64,
    pub share_threshold: f64,
    pub old_clusters: Vec<ClusterSide>,
    pub new_clusters: Vec<ClusterSide>,
    /// Non-empty flows, by old then new cluster.
    pub flows: Vec<ClusterFlow>,
    pub matches: Vec<ClusterMatch>,
    pub events: Vec<ClusterEvent>,
}

/// Default `share_threshold`: a fifth of a cluster is a significant flow.
pub const DEFAULT_SHARE_THRESHOLD: f64 = 0.2;

/// Compares `new` with `old`.
pub fn compare_runs(
    old: &RunMembership,
    new: &RunMembership,
    share_threshold: f64,
) -> StabilityReport {
    let old_of: BTreeMap<&JobId, u32> = old.labels.iter().map(|(j, c)| (j, *c)).collect();
    let mut common_old = Vec::new();
    let mut common_new = Vec::new();
    for (job, c) in &new.labels {
        if let Some(&o) = old_of.get(job) {
            common_old.push(o);
            common_new.push(*c);
        }
    }
    let both = common_old.len() as u64;
    let table = Contingency::new(&common_old, &common_new);
    let old_sizes = sizes(&old.labels);
    let new_sizes = sizes(&new.labels);
    let matches = greedy_matching(&table, &old_sizes, &new_sizes);
    let partner: BTreeMap<u32, u32> = matches.iter().map(|m| (m.old, m.new)).collect();
    let moved = common_old
        .iter()
        .zip(&common_new)
        .filter(|(o, n)| partner.get(o) != Some(n))
        .count() as u64;

    let side =
        |sizes: &BTreeMap<u32, u64>, shared: &BTreeMap<u32, u64>, names: &BTreeMap<u32, String>| {
            sizes
                .iter()
                .map(|(&c, &size)| ClusterSide {
                    cluster_id: c,
                    name: names
                        .get(&c)
                        .cloned()
                        .unwrap_or_else(|| format!("cluster {c}")),
                    size,
                    shared_jobs: shared.get(&c).copied().unwrap_or(0),
                })
                .collect::<Vec<_>>()
        };
    StabilityReport {
        old_run_id: old.run_id.clone(),
        new_run_id: new.run_id.clone(),
        jobs_in_both: both,
        jobs_only_in_old: old.labels.len() as u64 - both,
        jobs_only_in_new: new.labels.len() as u64 - both,
        moved_jobs: moved,
        churn_rate: if both == 0 {
            0.0
        } else {
            moved as f64 / both as f64
        },
        adjusted_rand_index: table.adjusted_rand_index(),
        normalized_mutual_information: table.normalized_mutual_information(),
        share_threshold,
        old_clusters: side(&old_sizes, &table.row_sums, &old.names),
        new_clusters: side(&new_sizes, &table.column_sums, &new.names),
        flows: table
            .cells
            .iter()
            .map(|(&(o, n), &jobs)| ClusterFlow {
                old: o,
                new: n,
                jobs,
            })
            .collect(),
        events: events(&table, &old_sizes, &new_sizes, &matches, share_threshold),
        matches,
    }
}

/// Ids under which the clusters of `current` continue those of `previous`:
/// each new cluster paired with an old one (greedy Jaccard, as in
/// [`compare_runs`]) takes the old id; the others take ids above every old
/// id, in their own order. Applied before storing a run, it makes "cluster
/// id changed" mean "job moved".
pub fn continuing_ids(previous: &[(JobId, u32)], current: &[(JobId, u32)]) -> BTreeMap<u32, u32> {
    let old_of: BTreeMap<&JobId, u32> = previous.iter().map(|(j, c)| (j, *c)).collect();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (job, c) in current {
        if let Some(&o) = old_of.get(job) {
            a.push(o);
            b.push(*c);
        }
    }
    let table = Contingency::new(&a, &b);
    let old_sizes = sizes(previous);
    let new_sizes = sizes(current);
    let mut ids: BTreeMap<u32, u32> = greedy_matching(&table, &old_sizes, &new_sizes)
        .into_iter()
        .map(|m| (m.new, m.old))
        .collect();
    let mut next = old_sizes.keys().next_back().map_or(0, |m| m + 1);
    for &c in new_sizes.keys() {
        ids.entry(c).or_insert_with(|| {
            next += 1;
            next - 1
        });
    }
    ids
}

/// ARI of two labelings of the same items.
pub fn adjusted_rand_index(a: &[u32], b: &[u32]) -> f64 {
    Contingency::new(a, b).adjusted_rand_index()
}

/// NMI (arithmetic mean of the entropies) of two labelings of the same items.
pub fn normalized_mutual_information(a: &[u32], b: &[u32]) -> f64 {
    Contingency::new(a, b).normalized_mutual_information()
}

fn sizes(labels: &[(JobId, u32)]) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    for (_, c) in labels {
        *out.entry(*c).or_insert(0) += 1;
    }
    out
}

struct Contingency {
    n: u64,
    cells: BTreeMap<(u32, u32), u64>,
    row_sums: BTreeMap<u32, u64>,
    column_sums: BTreeMap<u32, u64>,
}

fn pairs(x: u64) -> f64 {
    let x = x as f64;
    x * (x - 1.0) / 2.0
}

impl Contingency {
    fn new(a: &[u32], b: &[u32]) -> Self {
        assert_eq!(a.len(), b.len(), "labelings of different lengths");
        let mut cells = BTreeMap::new();
        let mut row_sums = BTreeMap::new();
        let mut column_sums = BTreeMap::new();
        for (&x, &y) in a.iter().zip(b) {
            *cells.entry((x, y)).or_insert(0) += 1;
            *row_sums.entry(x).or_insert(0) += 1;
            *column_sums.entry(y).or_insert(0) += 1;
        }
        Self {
            n: a.len() as u64,
            cells,
            row_sums,
            column_sums,
        }
    }

    fn adjusted_rand_index(&self) -> f64 {
        if self.n < 2 {
            return 1.0;
        }
        let index: f64 = self.cells.values().map(|&x| pairs(x)).sum();
        let rows: f64 = self.row_sums.values().map(|&x| pairs(x)).sum();
        let columns: f64 = self.column_sums.values().map(|&x| pairs(x)).sum();
        let expected = rows * columns / pairs(self.n);
        let max = (rows + columns) / 2.0;
        if (max - expected).abs() < 1e-12 {
            // Both trivial (one cluster each, or all singletons): identical.
            return 1.0;
        }
        (index - expected) / (max - expected)
    }

    fn normalized_mutual_information(&self) -> f64 {
        if self.n == 0 {
            return 1.0;
        }
        let n = self.n as f64;
        let entropy = |sums: &BTreeMap<u32, u64>| -> f64 {
            sums.values()
                .map(|&x| {
                    let p = x as f64 / n;
                    -p * p.ln()
                })
                .sum()
        };
        let (h_rows, h_columns) = (entropy(&self.row_sums), entropy(&self.column_sums));
        if h_rows == 0.0 && h_columns == 0.0 {
            return 1.0;
        }
        let mutual: f64 = self
            .cells
            .iter()
            .map(|(&(r, c), &x)| {
                let p = x as f64 / n;
                let independent = self.row_sums[&r] as f64 * self.column_sums[&c] as f64 / (n * n);
                p * (p / independent).ln()
            })
            .sum();
        (mutual / ((h_rows + h_columns) / 2.0)).clamp(0.0, 1.0)
    }
}

/// One-to-one pairs by Jaccard (members of each whole run), highest first;
/// ties by old then new id.
fn greedy_matching(
    table: &Contingency,
    old_sizes: &BTreeMap<u32, u64>,
    new_sizes: &BTreeMap<u32, u64>,
) -> Vec<ClusterMatch> {
    let mut candidates: Vec<ClusterMatch> = table
        .cells
        .iter()
        .map(|(&(o, n), &shared)| {
            let union = old_sizes[&o] + new_sizes[&n] - shared;
            ClusterMatch {
                old: o,
                new: n,
                jaccard: shared as f64 / union as f64,
                shared_jobs: shared,
            }
        })
        .collect();
    candidates.sort_by(|a, b| {
        b.jaccard
            .total_cmp(&a.jaccard)
            .then(a.old.cmp(&b.old))
            .then(a.new.cmp(&b.new))
    });
    let (mut used_old, mut used_new) = (BTreeSet::new(), BTreeSet::new());
    let mut out: Vec<ClusterMatch> = candidates
        .into_iter()
        .filter(|m| {
            if used_old.contains(&m.old) || used_new.contains(&m.new) {
                return false;
            }
            used_old.insert(m.old);
            used_new.insert(m.new);
            true
        })
        .collect();
    out.sort_by_key(|m| m.old);
    out
}

fn events(
    table: &Contingency,
    old_sizes: &BTreeMap<u32, u64>,
    new_sizes: &BTreeMap<u32, u64>,
    matches: &[ClusterMatch],
    share_threshold: f64,
) -> Vec<ClusterEvent> {
    let mut targets: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut sources: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (&(o, n), &shared) in &table.cells {
        let of_old = shared as f64 / table.row_sums[&o] as f64;
        let of_new = shared as f64 / table.column_sums[&n] as f64;
        if of_old >= share_threshold && of_new >= share_threshold {
            targets.entry(o).or_default().push(n);
            sources.entry(n).or_default().push(o);
        }
    }
    let jaccard = |o: u32, n: u32| {
        matches
            .iter()
            .find(|m| m.old == o && m.new == n)
            .map(|m| m.jaccard)
            .unwrap_or_else(|| {
                let shared = table.cells.get(&(o, n)).copied().unwrap_or(0);
                shared as f64 / (old_sizes[&o] + new_sizes[&n] - shared) as f64
            })
    };
    let mut out = Vec::new();
    for &n in new_sizes.keys() {
        match sources.get(&n).map(Vec::as_slice) {
            None | Some([]) => out.push(ClusterEvent::New { new: n }),
            Some(&[o]) if targets[&o].len() == 1 => out.push(ClusterEvent::Continues {
                old: o,
                new: n,
                jaccard: jaccard(o, n),
            }),
            Some(&[_]) => {} // part of a split, reported once below
            Some(from) => out.push(ClusterEvent::Merged {
                from: from.to_vec(),
                into: n,
            }),
        }
    }
    for &o in old_sizes.keys() {
        match targets.get(&o) {
            None => out.push(ClusterEvent::Vanished { old: o }),
            Some(into) if into.len() > 1 => out.push(ClusterEvent::Split {
                old: o,
                into: into.clone(),
            }),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(run: &str, labels: &[u32]) -> RunMembership {
        RunMembership {
            run_id: run.into(),
            labels: labels
                .iter()
                .enumerate()
                .map(|(i, &c)| (JobId::parse(format!("j{i:03}")).unwrap(), c))
                .collect(),
            names: BTreeMap::new(),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn ari_and_nmi_of_a_hand_computed_case() {
        // Contingency [[2,1,0],[0,1,2]]: index = 2, rows = 6, columns = 3,
        // expected = 6·3/15 = 1.2, max = 4.5 → ARI = 0.8 / 3.3.
        let a = [0, 0, 0, 1, 1, 1];
        let b = [0, 0, 1, 1, 2, 2];
        assert!(close(adjusted_rand_index(&a, &b), 0.8 / 3.3));
        // MI = (2/3)·ln 2, H(a) = ln 2, H(b) = ln 3.
        let nmi = (2.0 / 3.0) * 2f64.ln() / ((2f64.ln() + 3f64.ln()) / 2.0);
        assert!(close(normalized_mutual_information(&a, &b), nmi));
        assert!(close(nmi, 0.515_803_742_979_388_9));
    }

    #[test]
    fn identical_and_permuted_partitions_score_one() {
        let a = [0, 0, 1, 1, 2, 2, 2];
        let permuted = [5, 5, 0, 0, 9, 9, 9];
        for b in [&a, &permuted] {
            assert!(close(adjusted_rand_index(&a, b), 1.0));
            assert!(close(normalized_mutual_information(&a, b), 1.0));
        }
    }

    #[test]
    fn all_in_one_against_a_split_scores_zero_and_against_itself_one() {
        let one = [0, 0, 0, 0];
        let split = [0, 0, 1, 1];
        assert!(close(adjusted_rand_index(&one, &split), 0.0));
        assert!(close(normalized_mutual_information(&one, &split), 0.0));
        assert!(close(adjusted_rand_index(&one, &one), 1.0));
        assert!(close(normalized_mutual_information(&one, &one), 1.0));
        // Fully crossed: worse than chance gives a negative ARI.
        let crossed = [0, 1, 0, 1];
        assert!(close(adjusted_rand_index(&split, &crossed), -0.5));
        assert!(close(normalized_mutual_information(&split, &crossed), 0.0));
    }

    #[test]
    fn split_merge_new_and_vanished_are_detected() {
        // Old: A=0 (8 jobs), B=1 (4), C=2 (4), D=3 (3).
        // New: A splits into 10 (4) and 11 (4); B and C merge into 12; D
        // continues as 13.
        #[rustfmt::skip]
        let old = [0,0,0,0,0,0,0,0, 1,1,1,1, 2,2,2,2, 3,3,3];
        #[rustfmt::skip]
        let new = [10,10,10,10,11,11,11,11, 12,12,12,12, 12,12,12,12, 13,13,13];
        let mut old_m = membership("a", &old);
        let mut new_m = membership("b", &new);
        // A job only in the new run forms cluster 14 (new); one only in the old run.
        new_m.labels.push((JobId::parse("fresh").unwrap(), 14));
        old_m.labels.push((JobId::parse("gone").unwrap(), 4));
        let r = compare_runs(&old_m, &new_m, DEFAULT_SHARE_THRESHOLD);
        assert_eq!(
            (r.jobs_in_both, r.jobs_only_in_old, r.jobs_only_in_new),
            (19, 1, 1)
        );
        assert!(r.events.contains(&ClusterEvent::Split {
            old: 0,
            into: vec![10, 11]
        }));
        assert!(r.events.contains(&ClusterEvent::Merged {
            from: vec![1, 2],
            into: 12
        }));
        assert!(r.events.contains(&ClusterEvent::Continues {
            old: 3,
            new: 13,
            jaccard: 1.0
        }));
        assert!(r.events.contains(&ClusterEvent::New { new: 14 }));
        assert!(r.events.contains(&ClusterEvent::Vanished { old: 4 }));
        assert_eq!(r.events.len(), 5, "{:?}", r.events);
        // Matching: 3↔13 (1.0), 0↔10 (4/8), 1↔12 (4/8 — ties by old id), 2 and 11 unpaired.
        let pairs: Vec<(u32, u32)> = r.matches.iter().map(|m| (m.old, m.new)).collect();
        assert_eq!(pairs, [(0, 10), (1, 12), (3, 13)]);
        // Moved: A's 4 in 11 + C's 4 in 12 = 8 of 19.
        assert_eq!(r.moved_jobs, 8);
        assert!(close(r.churn_rate, 8.0 / 19.0));
        assert_eq!(r.flows.iter().map(|f| f.jobs).sum::<u64>(), 19);
    }

    #[test]
    fn a_small_leak_is_not_a_split() {
        // 9 of 10 stay, one moves to a cluster it then makes up 1/5 of: the
        // flow is below the threshold on the old side, so A continues.
        let old = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
        let new = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
        let r = compare_runs(&membership("a", &old), &membership("b", &new), 0.2);
        assert_eq!(r.events.len(), 2);
        assert!(matches!(
            r.events[0],
            ClusterEvent::Continues { old: 0, new: 0, .. }
        ));
        assert!(matches!(
            r.events[1],
            ClusterEvent::Continues { old: 1, new: 1, .. }
        ));
        assert_eq!(r.moved_jobs, 1);
    }

    #[test]
    fn continuing_ids_follow_the_previous_run() {
        let previous = membership("a", &[0, 0, 0, 1, 1, 1, 2, 2]).labels;
        // Same partition, labels permuted, plus a cluster of its own (7).
        let current = membership("b", &[5, 5, 5, 3, 3, 3, 7, 7]).labels;
        let ids = continuing_ids(&previous, &current);
        assert_eq!(ids, BTreeMap::from([(5, 0), (3, 1), (7, 2)]));
        let current = membership("b", &[5, 5, 5, 3, 3, 3, 3, 9]).labels;
        let ids = continuing_ids(&previous, &current);
        assert_eq!(ids, BTreeMap::from([(5, 0), (3, 1), (9, 2)]));
        let current = membership("b", &[5, 5, 5, 5, 5, 5, 5, 5]).labels;
        assert_eq!(
            continuing_ids(&previous, &current),
            BTreeMap::from([(5, 0)])
        );
        let current = membership("b", &[0, 1, 2, 3, 4, 5, 6, 7]).labels;
        let ids = continuing_ids(&previous, &current);
        assert_eq!(ids.len(), 8);
        assert_eq!(ids.values().collect::<BTreeSet<_>>().len(), 8);
    }
}
