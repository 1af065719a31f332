//! Drawing items into the labeling queue: stratified by agent and outcome so every kind of
//! patch is labeled, split behind the holdout wall, a share marked for two reviewers.

use super::split::{split_of, HOLDOUT};
use crate::error::Error;
use crate::store::{Evaluation, LabelCandidate, NewLabelItem, Store};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, Copy)]
pub struct SampleOptions {
    pub n: usize,
    /// The suite's held-out fraction; fixed by its first sample.
    pub holdout: Option<f64>,
    /// The share of items two different reviewers label.
    pub overlap: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SampleSummary {
    pub evaluation: String,
    pub suite: String,
    /// Items this evaluation could still add before this sample.
    pub available: usize,
    pub added: usize,
    pub holdout: usize,
    pub dev: usize,
    pub overlap: usize,
    pub holdout_fraction: f64,
    /// Items added per agent/outcome stratum.
    pub strata: BTreeMap<String, usize>,
}

fn stratum(c: &LabelCandidate) -> String {
    format!("{}/{}", c.agent, c.outcome)
}

/// How many items each stratum gets: one each first (the largest strata first when `n` is
/// smaller than their number), the rest in proportion to size, by largest remainder.
pub fn allocate(sizes: &[usize], n: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let n = n.min(total);
    let mut alloc = vec![0usize; sizes.len()];
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut left = n;
    for &i in &order {
        if left > 0 && sizes[i] > 0 {
            alloc[i] = 1;
            left -= 1;
        }
    }
    while left > 0 {
        let rest: usize = sizes.iter().zip(&alloc).map(|(s, a)| s - a).sum();
        let quota: Vec<f64> = sizes
            .iter()
            .zip(&alloc)
            .map(|(s, a)| (s - a) as f64 * left as f64 / rest as f64)
            .collect();
        let mut given = 0;
        for (i, q) in quota.iter().enumerate() {
            let g = (q.floor() as usize).min(sizes[i] - alloc[i]);
            alloc[i] += g;
            given += g;
        }
        if given == 0 {
            // Largest remainder: one more to the stratum owed the most.
            let i = (0..sizes.len())
                .filter(|&i| alloc[i] < sizes[i])
                .max_by(|&a, &b| quota[a].total_cmp(&quota[b]))
                // cannot fail: `left` > 0 items are still owed and `n` <= `total`, so some
                // stratum has room.
                .expect("room is left while left > 0");
            alloc[i] += 1;
            given = 1;
        }
        left -= given;
    }
    alloc
}

fn seed_of(text: &str) -> u64 {
    let d = Sha256::digest(text.as_bytes());
    // cannot fail: a SHA-256 digest is 32 bytes.
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// The candidates to queue, in queue order: stratified, deterministic for an evaluation.
pub fn choose(candidates: &[LabelCandidate], n: usize, seed: u64) -> Vec<LabelCandidate> {
    // One candidate per (task, patch): the same patch from two agents is one item.
    let mut seen = HashSet::new();
    let mut strata: BTreeMap<String, Vec<LabelCandidate>> = BTreeMap::new();
    for c in candidates {
        if seen.insert((c.subject.task_hash.clone(), c.subject.patch_sha256.clone())) {
            strata.entry(stratum(c)).or_default().push(c.clone());
        }
    }
    let sizes: Vec<usize> = strata.values().map(Vec::len).collect();
    let alloc = allocate(&sizes, n);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut chosen = Vec::new();
    for (members, k) in strata.into_values().zip(alloc) {
        let mut members = members;
        members.shuffle(&mut rng);
        chosen.extend(members.into_iter().take(k));
    }
    // Mixed, so a reviewer never works through one agent's patches in a row.
    chosen.shuffle(&mut rng);
    chosen
}

/// `labels sample`: draws up to `n` new items from the evaluation into the queue.
pub fn sample(store: &Store, eval: &Evaluation, o: SampleOptions) -> Result<SampleSummary, Error> {
    if let Some(h) = o.holdout {
        if !(0.0..=1.0).contains(&h) {
            return Err(Error::Usage("--holdout must be between 0 and 1".into()));
        }
    }
    if !(0.0..=1.0).contains(&o.overlap) {
        return Err(Error::Usage("--overlap must be between 0 and 1".into()));
    }
    let (salt, fraction) = store.holdout_salt(&eval.suite, o.holdout)?;
    let candidates = store.label_candidates(&eval.id)?;
    let available = candidates
        .iter()
        .map(|c| (&c.subject.task_hash, &c.subject.patch_sha256))
        .collect::<HashSet<_>>()
        .len();
    let chosen = choose(&candidates, o.n, seed_of(&eval.id));
    let overlap_n = (o.overlap * chosen.len() as f64).round() as usize;
    let items: Vec<NewLabelItem> = chosen
        .iter()
        .enumerate()
        .map(|(i, c)| NewLabelItem {
            subject: c.subject.clone(),
            split: split_of(
                &salt,
                &c.subject.task_hash,
                &c.subject.patch_sha256,
                fraction,
            )
            .to_string(),
            overlap: i < overlap_n,
            stratum: stratum(c),
        })
        .collect();
    let added = store.add_label_items(&items)?;
    let mut strata = BTreeMap::new();
    for i in &items {
        *strata.entry(i.stratum.clone()).or_insert(0) += 1;
    }
    let holdout = items.iter().filter(|i| i.split == HOLDOUT).count();
    Ok(SampleSummary {
        evaluation: eval.id.clone(),
        suite: eval.suite.clone(),
        available,
        added,
        holdout,
        dev: items.len() - holdout,
        overlap: overlap_n,
        holdout_fraction: fraction,
        strata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LabelSubject;

    #[test]
    fn allocation_covers_every_stratum_then_goes_by_size() {
        for (sizes, n, want) in [
            (vec![10, 10, 10], 6, vec![2, 2, 2]),
            (vec![30, 10, 1], 8, vec![5, 2, 1]),
            (vec![5, 1], 100, vec![5, 1]),
            (vec![9, 3, 1], 2, vec![1, 1, 0]),
            (vec![0, 4], 3, vec![0, 3]),
        ] {
            let got = allocate(&sizes, n);
            assert_eq!(got, want, "{sizes:?} n={n}");
            assert_eq!(got.iter().sum::<usize>(), n.min(sizes.iter().sum()));
        }
    }

    #[test]
    fn choosing_is_deterministic_and_stratified() {
        let c = |agent: &str, outcome: &str, i: usize| LabelCandidate {
            subject: LabelSubject {
                suite: "s".into(),
                eval_id: "e".into(),
                attempt_id: i as i64,
                task_id: format!("t{i}"),
                task_hash: format!("h{i}"),
                patch_sha256: format!("{agent}{i}"),
            },
            agent: agent.into(),
            outcome: outcome.into(),
        };
        let mut all = Vec::new();
        for i in 0..20 {
            all.push(c("a", "resolved", i));
            all.push(c(
                "b",
                if i % 4 == 0 { "resolved" } else { "unresolved" },
                i,
            ));
        }
        all.push(c("c", "resolved", 99));
        let x = choose(&all, 9, 1);
        assert_eq!(x.len(), 9);
        let ids = |v: &[LabelCandidate]| {
            v.iter()
                .map(|c| c.subject.patch_sha256.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&x), ids(&choose(&all, 9, 1)));
        for s in ["a/resolved", "b/resolved", "b/unresolved", "c/resolved"] {
            assert!(x.iter().any(|c| stratum(c) == s), "{s} missing");
        }
    }
}
