//! Statistics over attempts: rates with 95% bootstrap intervals, unbiased pass@k, and the
//! paired statistics that compare two agents (or two nights) on the same tasks: McNemar's
//! exact test and a paired-bootstrap interval of the difference.
//!
//! Pure and deterministic: the bootstrap uses a fixed seed so a report never changes between
//! two renders of the same data.

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

pub const BOOTSTRAP_RESAMPLES: usize = 2000;
const SEED: u64 = 0x6d65_7267_6562_656e;

/// SplitMix64: a tiny, fast, well-mixed generator. The bootstrap draws millions of indices
/// for a large leaderboard, so the generator's speed is the interval's speed; statistical
/// quality needs only uniform, independent-looking indices.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n by multiply-shift (Lemire); the bias is below 2^-40 for any n a
    /// suite can have.
    fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
}

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
    let mut rng = SplitMix64(SEED);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| scores[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(|a, b| a.total_cmp(b));
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

/// McNemar's exact test, two-sided: `b` and `c` are the discordant pairs (tasks only the
/// first, or only the second, got right). Under the null each discordant pair is a fair coin,
/// so p = min(1, 2 · P(X ≤ min(b, c))) with X ~ Binomial(b + c, 1/2).
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // Sum in log space: n can be in the thousands, where 2^-n underflows term by term.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_binom = 0.0; // ln C(n, 0)
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_binom += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_binom + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// The difference `mean(second) - mean(first)` of paired per-task scores, with a 95%
/// percentile-bootstrap interval that resamples tasks (keeping each task's pair together).
pub fn paired_diff_ci(first: &[f64], second: &[f64]) -> Interval {
    assert_eq!(first.len(), second.len(), "paired scores");
    let diffs: Vec<f64> = first.iter().zip(second).map(|(a, b)| b - a).collect();
    mean_ci(&diffs)
}

/// The q-quantile (0..=1) by linear interpolation; None for no values.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn mcnemar_exact_matches_hand_computed_binomial_tails() {
        // b=0, c=6: 2 · (1/2)^6 = 0.03125.
        assert!((mcnemar_exact(0, 6) - 0.03125).abs() < 1e-12);
        // b=1, c=9: 2 · (C(10,0) + C(10,1)) / 2^10 = 22/1024.
        assert!((mcnemar_exact(1, 9) - 22.0 / 1024.0).abs() < 1e-12);
        assert!((mcnemar_exact(9, 1) - 22.0 / 1024.0).abs() < 1e-12);
        // b=2, c=8: 2 · (1 + 10 + 45) / 1024 = 112/1024.
        assert!((mcnemar_exact(2, 8) - 112.0 / 1024.0).abs() < 1e-12);
        // b=3, c=12: 2 · (1 + 15 + 105 + 455) / 32768 = 1152/32768.
        assert!((mcnemar_exact(3, 12) - 1152.0 / 32768.0).abs() < 1e-12);
        // Balanced or empty: no evidence at all.
        assert_eq!(mcnemar_exact(5, 5), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(0, 1), 1.0);
        // Large n stays finite and tiny instead of underflowing to 0 term by term.
        let p = mcnemar_exact(400, 600);
        assert!(p > 0.0 && p < 1e-9, "{p}");
    }

    #[test]
    fn paired_bootstrap_covers_the_true_difference() {
        // Two agents on 80 tasks: A merges with p=0.4, B with p=0.55, correlated through a
        // shared task difficulty. The 95% interval should hold the true +0.15 about 95% of
        // the time.
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut covered = 0;
        let runs = 200;
        for _ in 0..runs {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..80 {
                let u: f64 = rng.gen();
                a.push(if u < 0.4 { 1.0 } else { 0.0 });
                b.push(if u < 0.55 { 1.0 } else { 0.0 });
            }
            let ci = paired_diff_ci(&a, &b);
            if ci.low <= 0.15 && 0.15 <= ci.high {
                covered += 1;
            }
        }
        assert!((176..=200).contains(&covered), "coverage {covered}/{runs}");
        let same = paired_diff_ci(&[1.0, 0.0, 1.0], &[1.0, 0.0, 1.0]);
        assert_eq!((same.estimate, same.low, same.high), (0.0, 0.0, 0.0));
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert!(
            (quantile(&(1..=11).map(f64::from).collect::<Vec<_>>(), 0.9).unwrap() - 10.0).abs()
                < 1e-12
        );
    }

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
