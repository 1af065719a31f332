//! Several samples of one judge on one patch, combined: the decision most samples gave, with
//! how many agreed. Pure.

use super::verdict::{Decision, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// None when no sample gave a valid verdict (a judge_error).
    pub verdict: Option<Decision>,
    /// Share of valid samples that gave `verdict` (1.0 = unanimous).
    pub agreement: Option<f64>,
    pub votes: BTreeMap<Decision, usize>,
    /// Mean score per criterion over valid samples.
    pub scores: BTreeMap<String, f64>,
    /// The sample whose reasons and rationale represent the verdict (1-based).
    pub representative: Option<u32>,
    pub valid: usize,
    pub errors: usize,
}

/// Combines samples `(sample number, verdict or error)`. The decision given most often wins;
/// a tie goes to the more cautious decision, because a merge needs the judge's support and a
/// split judge has not given it.
pub fn aggregate(samples: &[(u32, Option<&Verdict>)]) -> Aggregate {
    let mut votes: BTreeMap<Decision, usize> = BTreeMap::new();
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let valid: Vec<(u32, &Verdict)> = samples
        .iter()
        .filter_map(|(n, v)| v.map(|v| (*n, v)))
        .collect();
    for (_, v) in &valid {
        *votes.entry(v.verdict).or_default() += 1;
        for (k, s) in &v.scores {
            let e = sums.entry(k.clone()).or_default();
            e.0 += *s as f64;
            e.1 += 1;
        }
    }
    let verdict = votes
        .iter()
        .max_by_key(|(d, n)| (**n, d.caution()))
        .map(|(d, _)| *d);
    let agreement = verdict.map(|d| votes[&d] as f64 / valid.len() as f64);
    let representative =
        verdict.and_then(|d| valid.iter().find(|(_, v)| v.verdict == d).map(|(n, _)| *n));
    Aggregate {
        verdict,
        agreement,
        scores: sums
            .into_iter()
            .map(|(k, (s, n))| (k, s / n as f64))
            .collect(),
        votes,
        representative,
        valid: valid.len(),
        errors: samples.len() - valid.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    fn v(d: Decision, score: u8) -> Verdict {
        Verdict {
            verdict: d,
            scores: [("solves_problem".to_string(), score)].into(),
            reasons: vec![],
            rationale: String::new(),
        }
    }

    fn check(decisions: &[Option<Decision>], expected: Option<Decision>, agreement: Option<f64>) {
        let verdicts: Vec<Option<Verdict>> = decisions.iter().map(|d| d.map(|d| v(d, 4))).collect();
        let samples: Vec<(u32, Option<&Verdict>)> = verdicts
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u32 + 1, v.as_ref()))
            .collect();
        let a = aggregate(&samples);
        assert_eq!(a.verdict, expected, "{decisions:?}");
        assert_eq!(a.agreement, agreement, "{decisions:?}");
    }

    #[test]
    fn majority_wins_and_ties_go_to_caution() {
        check(&[Some(Merge)], Some(Merge), Some(1.0));
        check(
            &[Some(Merge), Some(Merge), Some(Reject)],
            Some(Merge),
            Some(2.0 / 3.0),
        );
        check(&[Some(Merge), Some(Reject)], Some(Reject), Some(0.5));
        check(&[Some(Merge), Some(Revise)], Some(Revise), Some(0.5));
        check(
            &[Some(Merge), Some(Revise), Some(Reject)],
            Some(Reject),
            Some(1.0 / 3.0),
        );
        // Errors do not vote; only errors is a judge_error.
        check(&[None, Some(Merge)], Some(Merge), Some(1.0));
        check(&[None, None], None, None);
    }

    #[test]
    fn scores_are_averaged_and_the_representative_agrees() {
        let (a, b) = (v(Merge, 5), v(Reject, 2));
        let agg = aggregate(&[(1, Some(&a)), (2, Some(&b)), (3, Some(&b))]);
        assert_eq!(agg.scores["solves_problem"], 3.0);
        assert_eq!(agg.representative, Some(2));
        assert_eq!((agg.valid, agg.errors), (3, 0));
    }
}
