//! Agreement between raters: Cohen's kappa for two raters (a judge against the human label),
//! Krippendorff's alpha for any number of raters with missing values (reviewers among
//! themselves: the human ceiling), confusion matrices, and a percentile-bootstrap interval
//! for kappa.
//!
//! Pure and deterministic: categories are indices `0..k`, the bootstrap uses a fixed seed.

use crate::stats::Interval;
use rand::{Rng, SeedableRng};

const SEED: u64 = 0x6b61_7070_615f_6369;

/// `m[a][b]`: how many items rater one put in category `a` and rater two in `b`.
pub fn confusion(pairs: &[(usize, usize)], k: usize) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0u64; k]; k];
    for &(a, b) in pairs {
        m[a][b] += 1;
    }
    m
}

/// Cohen's kappa (Cohen, 1960): observed agreement corrected for the agreement the two
/// raters' marginals would give by chance. None when it is undefined: no items, or both
/// raters always using one and the same category (chance agreement 1).
pub fn cohen_kappa(pairs: &[(usize, usize)], k: usize) -> Option<f64> {
    let n = pairs.len() as f64;
    if pairs.is_empty() {
        return None;
    }
    let m = confusion(pairs, k);
    let observed = (0..k).map(|c| m[c][c] as f64).sum::<f64>() / n;
    let chance = (0..k)
        .map(|c| {
            let row = m[c].iter().sum::<u64>() as f64;
            let col = (0..k).map(|r| m[r][c]).sum::<u64>() as f64;
            row * col
        })
        .sum::<f64>()
        / (n * n);
    if (1.0 - chance).abs() < 1e-12 {
        return None;
    }
    Some((observed - chance) / (1.0 - chance))
}

/// Kappa with a 95% percentile-bootstrap interval, resampling items. Resamples where kappa is
/// undefined are left out; None when kappa itself is undefined.
pub fn kappa_ci(pairs: &[(usize, usize)], k: usize, resamples: usize) -> Option<Interval> {
    let estimate = cohen_kappa(pairs, k)?;
    let n = pairs.len();
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let mut sample = Vec::with_capacity(n);
    let mut kappas = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        sample.clear();
        sample.extend((0..n).map(|_| pairs[rng.gen_range(0..n)]));
        if let Some(x) = cohen_kappa(&sample, k) {
            kappas.push(x);
        }
    }
    if kappas.is_empty() {
        return Some(Interval {
            estimate,
            low: estimate,
            high: estimate,
        });
    }
    Some(crate::stats::percentile_interval(estimate, kappas))
}

/// Krippendorff's alpha for nominal data (Krippendorff, "Computing Krippendorff's
/// Alpha-Reliability", 2011): `units[u]` holds the values the raters gave unit `u` (missing
/// ones simply absent). Units with fewer than two values are not pairable and are left out.
/// None when there is no disagreement to expect (fewer than two values, or one category).
pub fn krippendorff_alpha_nominal(units: &[Vec<usize>], k: usize) -> Option<f64> {
    // The coincidence matrix: every ordered pair of values within a unit, weighted 1/(m-1).
    let mut o = vec![vec![0f64; k]; k];
    for values in units.iter().filter(|v| v.len() >= 2) {
        let w = 1.0 / (values.len() - 1) as f64;
        for (i, &a) in values.iter().enumerate() {
            for (j, &b) in values.iter().enumerate() {
                if i != j {
                    o[a][b] += w;
                }
            }
        }
    }
    let nc: Vec<f64> = o.iter().map(|row| row.iter().sum()).collect();
    let n: f64 = nc.iter().sum();
    if n < 2.0 {
        return None;
    }
    let mut disagree_observed = 0.0;
    let mut disagree_expected = 0.0;
    for c in 0..k {
        for d in 0..k {
            if c != d {
                disagree_observed += o[c][d];
                disagree_expected += nc[c] * nc[d];
            }
        }
    }
    if disagree_expected == 0.0 {
        return None;
    }
    Some(1.0 - (n - 1.0) * disagree_observed / disagree_expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(cells: &[((usize, usize), usize)]) -> Vec<(usize, usize)> {
        cells
            .iter()
            .flat_map(|&(p, n)| std::iter::repeat_n(p, n))
            .collect()
    }

    #[test]
    fn cohen_kappa_matches_the_classic_worked_example() {
        // Wikipedia's worked example ("Cohen's kappa", simple example): 50 proposals, two
        // readers; yes/yes 20, yes/no 5, no/yes 10, no/no 15. p_o = 0.7, p_e = 0.5, kappa = 0.4.
        let p = pairs(&[((0, 0), 20), ((0, 1), 5), ((1, 0), 10), ((1, 1), 15)]);
        assert!((cohen_kappa(&p, 2).unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(confusion(&p, 2), vec![vec![20, 5], vec![10, 15]]);
    }

    #[test]
    fn cohen_kappa_three_categories_and_edge_cases() {
        // Perfect agreement is 1; agreement exactly at chance is 0.
        let perfect = pairs(&[((0, 0), 3), ((1, 1), 3), ((2, 2), 3)]);
        assert!((cohen_kappa(&perfect, 3).unwrap() - 1.0).abs() < 1e-12);
        let chance = pairs(&[((0, 0), 1), ((0, 1), 1), ((1, 0), 1), ((1, 1), 1)]);
        assert!(cohen_kappa(&chance, 2).unwrap().abs() < 1e-12);
        // A 3x3 table worked by hand: marginals 0.5/0.3/0.2 and 0.6/0.3/0.1, so p_o = 0.70,
        // p_e = 0.41 and kappa = 0.29 / 0.59 ≈ 0.4915.
        let f = pairs(&[
            ((0, 0), 44),
            ((0, 1), 5),
            ((0, 2), 1),
            ((1, 0), 7),
            ((1, 1), 20),
            ((1, 2), 3),
            ((2, 0), 9),
            ((2, 1), 5),
            ((2, 2), 6),
        ]);
        let k = cohen_kappa(&f, 3).unwrap();
        let po = 0.70;
        let pe = (0.50 * 0.60) + (0.30 * 0.30) + (0.20 * 0.10);
        assert!((k - (po - pe) / (1.0 - pe)).abs() < 1e-12, "{k}");
        assert!((k - 0.4915).abs() < 1e-4, "{k}");
        assert_eq!(cohen_kappa(&[], 3), None);
        assert_eq!(cohen_kappa(&pairs(&[((1, 1), 5)]), 3), None);
    }

    #[test]
    fn krippendorff_alpha_matches_his_reliability_data_example() {
        // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
        // four observers, twelve units, missing values; nominal alpha = 0.743.
        let rows: [[Option<usize>; 12]; 4] = {
            const N: Option<usize> = None;
            let s = Some;
            [
                [
                    s(1),
                    s(2),
                    s(3),
                    s(3),
                    s(2),
                    s(1),
                    s(4),
                    s(1),
                    s(2),
                    N,
                    N,
                    N,
                ],
                [
                    s(1),
                    s(2),
                    s(3),
                    s(3),
                    s(2),
                    s(2),
                    s(4),
                    s(1),
                    s(2),
                    s(5),
                    N,
                    s(3),
                ],
                [
                    N,
                    s(3),
                    s(3),
                    s(3),
                    s(2),
                    s(3),
                    s(4),
                    s(2),
                    s(2),
                    s(5),
                    s(1),
                    N,
                ],
                [
                    s(1),
                    s(2),
                    s(3),
                    s(3),
                    s(2),
                    s(4),
                    s(4),
                    s(1),
                    s(2),
                    s(5),
                    s(1),
                    N,
                ],
            ]
        };
        let units: Vec<Vec<usize>> = (0..12)
            .map(|u| rows.iter().filter_map(|r| r[u]).collect())
            .collect();
        let alpha = krippendorff_alpha_nominal(&units, 6).unwrap();
        assert!((alpha - 0.743).abs() < 0.0005, "{alpha}");
    }

    #[test]
    fn krippendorff_alpha_of_two_raters_without_missing_values() {
        // With two raters and no missing data alpha approaches Scott's pi; full agreement is 1.
        let units: Vec<Vec<usize>> = vec![vec![0, 0], vec![1, 1], vec![2, 2], vec![0, 0]];
        assert!((krippendorff_alpha_nominal(&units, 3).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(krippendorff_alpha_nominal(&[vec![1, 1]], 3), None);
        assert_eq!(krippendorff_alpha_nominal(&[vec![1]], 3), None);
    }

    /// Synthetic pairs whose population kappa is `q`: the first rater draws from a fixed
    /// marginal; the second copies it with probability q, else draws afresh from the same one.
    fn synthetic(rng: &mut rand::rngs::StdRng, n: usize, q: f64) -> Vec<(usize, usize)> {
        let draw = |rng: &mut rand::rngs::StdRng| {
            let x: f64 = rng.gen();
            if x < 0.5 {
                0
            } else if x < 0.8 {
                1
            } else {
                2
            }
        };
        (0..n)
            .map(|_| {
                let a = draw(rng);
                let b = if rng.gen::<f64>() < q { a } else { draw(rng) };
                (a, b)
            })
            .collect()
    }

    #[test]
    fn kappa_interval_covers_the_known_kappa_about_95_percent_of_the_time() {
        let q = 0.6;
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let trials = 120;
        let mut covered = 0;
        for _ in 0..trials {
            let p = synthetic(&mut rng, 120, q);
            let ci = kappa_ci(&p, 3, 600).unwrap();
            assert!(ci.low <= ci.estimate && ci.estimate <= ci.high);
            if ci.low <= q && q <= ci.high {
                covered += 1;
            }
        }
        // 95% nominal; the percentile bootstrap runs slightly under, sampling noise both ways.
        assert!(
            (104..=120).contains(&covered),
            "coverage {covered}/{trials}"
        );
        let p = synthetic(&mut rng, 80, q);
        assert_eq!(kappa_ci(&p, 3, 300), kappa_ci(&p, 3, 300));
    }
}
