//! Statistics over attempts: rates with 95% bootstrap intervals, and unbiased pass@k.
//!
//! Pure and deterministic: the bootstrap uses a fixed seed so a report never changes between
//! two renders of the same data.

use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

pub const BOOTSTRAP_RESAMPLES: usize = 2000;
const SEED: u64 = 0x6d65_7267_6562_656e;

/// Mean of per-task scores with a 95% percentile-bootstrap interval, resampling tasks.
pub fn mean_ci(scores: &[f64]) -> Interval {
    if scores.is_empty() {
        return Interval {
            estimate: 0.0,
            low: 0.0,
            high: 0.0,
        };
    }
    let n = scores.len();
    let estimate = scores.iter().sum::<f64>() / n as f64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| scores[rng.gen_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| {
        means
            [((p * (BOOTSTRAP_RESAMPLES - 1) as f64).round() as usize).min(BOOTSTRAP_RESAMPLES - 1)]
    };
    Interval {
        estimate,
        low: q(0.025),
        high: q(0.975),
    }
}

/// Unbiased pass@k (Chen et al., 2021): 1 - C(n-c, k) / C(n, k), for n samples with c correct.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> f64 {
    if k == 0 || n == 0 {
        return 0.0;
    }
    if n - c < k {
        return 1.0;
    }
    // Product form avoids huge binomials: prod_{i=n-c+1}^{n} (1 - k/i).
    let mut prod = 1.0;
    for i in (n - c + 1)..=n {
        prod *= 1.0 - k as f64 / i as f64;
    }
    1.0 - prod
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binom(n: u64, k: u64) -> f64 {
        if k > n {
            return 0.0;
        }
        (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
    }

    #[test]
    fn pass_at_k_matches_the_closed_form() {
        for n in 1..=12u64 {
            for c in 0..=n {
                for k in 1..=n {
                    let closed = 1.0 - binom(n - c, k) / binom(n, k);
                    assert!(
                        (pass_at_k(n, c, k) - closed).abs() < 1e-9,
                        "n={n} c={c} k={k}"
                    );
                }
            }
        }
        assert_eq!(pass_at_k(5, 0, 1), 0.0);
        assert_eq!(pass_at_k(5, 5, 1), 1.0);
        assert!((pass_at_k(10, 3, 1) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn bootstrap_interval_covers_and_is_deterministic() {
        let scores: Vec<f64> = (0..100)
            .map(|i| if i % 4 == 0 { 1.0 } else { 0.0 })
            .collect();
        let a = mean_ci(&scores);
        assert_eq!(a, mean_ci(&scores));
        assert!((a.estimate - 0.25).abs() < 1e-12);
        // The normal-approximation half-width for p=0.25, n=100 is about 0.085.
        assert!(a.low < 0.25 && a.high > 0.25);
        assert!((a.high - a.low) > 0.12 && (a.high - a.low) < 0.22, "{a:?}");
        let all = mean_ci(&[1.0; 10]);
        assert_eq!((all.low, all.high), (1.0, 1.0));
    }

    #[test]
    fn bootstrap_coverage_on_synthetic_data() {
        // 200 synthetic data sets from a known p: the 95% interval should contain p in
        // roughly 95% of them (allowing the percentile method's slight under-coverage).
        let p = 0.3;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut covered = 0;
        for _ in 0..200 {
            let scores: Vec<f64> = (0..60)
                .map(|_| if rng.gen::<f64>() < p { 1.0 } else { 0.0 })
                .collect();
            let ci = mean_ci(&scores);
            if ci.low <= p && p <= ci.high {
                covered += 1;
            }
        }
        assert!((176..=200).contains(&covered), "coverage {covered}/200");
    }
}
