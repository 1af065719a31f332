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
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
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
    let means = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| scores[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    percentile_interval(estimate, means)
}

/// `estimate` with the 95% percentile interval of its bootstrap `draws` (at least one).
pub fn percentile_interval(estimate: f64, mut draws: Vec<f64>) -> Interval {
    draws.sort_by(|a, b| a.total_cmp(b));
    let last = draws.len() - 1;
    let q = |p: f64| draws[((p * last as f64).round() as usize).min(last)];
    Interval {
        estimate,
        low: q(0.025),
        high: q(0.975),
    }
}

/// Cluster labels as indices 0..G in order of first appearance, and G.
pub fn cluster_index<T: Eq + std::hash::Hash>(labels: &[T]) -> (Vec<usize>, usize) {
    let mut seen = std::collections::HashMap::new();
    let idx = labels
        .iter()
        .map(|l| {
            let next = seen.len();
            *seen.entry(l).or_insert(next)
        })
        .collect();
    (idx, seen.len())
}

/// Mean of per-task scores with a 95% percentile cluster-bootstrap interval: whole clusters
/// (`clusters[i]` is task i's cluster) are resampled with replacement, and each resample's
/// mean is over the tasks the drawn clusters hold. Tasks of one repository or service fail
/// and succeed together; resampling them one by one would pretend they are independent and
/// give intervals too narrow. With every task its own cluster this is `mean_ci` exactly.
pub fn cluster_mean_ci(scores: &[f64], clusters: &[usize]) -> Interval {
    assert_eq!(scores.len(), clusters.len(), "one cluster per score");
    if scores.is_empty() {
        return mean_ci(scores);
    }
    let groups = cluster_sums(scores, clusters);
    let estimate = scores.iter().sum::<f64>() / scores.len() as f64;
    let mut means = vec![0.0; BOOTSTRAP_RESAMPLES];
    resample_means(&groups, SEED, &mut means);
    percentile_interval(estimate, means)
}

/// Each cluster's score sum and task count, in cluster index order; clusters that hold no
/// task (unused indices) are dropped.
fn cluster_sums(scores: &[f64], clusters: &[usize]) -> Vec<(f64, usize)> {
    let g = clusters.iter().max().map_or(0, |m| m + 1);
    let mut groups = vec![(0.0, 0usize); g];
    for (s, c) in scores.iter().zip(clusters) {
        groups[*c].0 += s;
        groups[*c].1 += 1;
    }
    groups.retain(|(_, n)| *n > 0);
    groups
}

/// The mean score of one cluster-bootstrap resample: as many clusters as there are, drawn
/// with replacement, each bringing all its tasks.
fn cluster_resample_mean(groups: &[(f64, usize)], rng: &mut SplitMix64) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for _ in 0..groups.len() {
        let (s, k) = groups[rng.below(groups.len())];
        sum += s;
        count += k;
    }
    sum / count as f64
}

/// SplitMix64's increment: its state after `k` draws is the seed plus `k` increments.
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output for one state.
fn mix(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Below this many draws an interval is drawn on one thread.
const PARALLEL_DRAWS: usize = 4_000_000;

/// The mean of each bootstrap resample of `groups` ((sum of scores, tasks) per cluster),
/// exactly as one `SplitMix64(seed)` drawing `groups.len()` clusters per resample in turn
/// would give it. The generator is a counter, so resample `r` starts at state
/// `seed + r·G·GAMMA` whatever came before: resamples are drawn four at a time (four
/// independent sums keep the processor busy) and, for a large suite, on several threads,
/// each sum still added in its draws' order, so the interval is the same to the last bit.
fn resample_means(groups: &[(f64, usize)], seed: u64, out: &mut [f64]) {
    let threads = if groups.len() * out.len() >= PARALLEL_DRAWS {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8)
    } else {
        1
    };
    if threads <= 1 {
        return resample_range(groups, seed, 0, out);
    }
    let chunk = out.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for (i, part) in out.chunks_mut(chunk).enumerate() {
            scope.spawn(move || resample_range(groups, seed, i * chunk, part));
        }
    });
}

/// Resamples `first..first + out.len()` of `resample_means`.
fn resample_range(groups: &[(f64, usize)], seed: u64, first: usize, out: &mut [f64]) {
    const LANES: usize = 4;
    let g = groups.len();
    let start = |r: usize| seed.wrapping_add((r as u64).wrapping_mul(g as u64).wrapping_mul(GAMMA));
    let below = |state: u64| ((mix(state) as u128 * g as u128) >> 64) as usize;
    let mut r = first;
    let mut lanes = out.chunks_exact_mut(LANES);
    for block in &mut lanes {
        let mut state: [u64; LANES] = std::array::from_fn(|l| start(r + l));
        let mut sum = [0.0f64; LANES];
        let mut count = [0usize; LANES];
        for _ in 0..g {
            for l in 0..LANES {
                state[l] = state[l].wrapping_add(GAMMA);
                let (s, k) = groups[below(state[l])];
                sum[l] += s;
                count[l] += k;
            }
        }
        for l in 0..LANES {
            block[l] = sum[l] / count[l] as f64;
        }
        r += LANES;
    }
    for slot in lanes.into_remainder() {
        let mut state = start(r);
        let (mut sum, mut count) = (0.0, 0usize);
        for _ in 0..g {
            state = state.wrapping_add(GAMMA);
            let (s, k) = groups[below(state)];
            sum += s;
            count += k;
        }
        *slot = sum / count as f64;
        r += 1;
    }
}

/// The cluster-robust (Liang–Zeger) standard error of the mean of `values`:
/// sqrt(G/(G−1) · Σ_g (Σ_{i∈g} (x_i − x̄))²) / n. With every value its own cluster it is the
/// usual s/√n; when values within a cluster move together it grows with them. None with
/// fewer than two clusters (nothing to estimate the spread from).
pub fn clustered_se(values: &[f64], clusters: &[usize]) -> Option<f64> {
    assert_eq!(values.len(), clusters.len(), "one cluster per value");
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let g = clusters.iter().max().map_or(0, |m| m + 1);
    let mut resid = vec![(0.0, false); g];
    for (v, c) in values.iter().zip(clusters) {
        resid[*c].0 += v - mean;
        resid[*c].1 = true;
    }
    let used: Vec<f64> = resid.into_iter().filter(|r| r.1).map(|r| r.0).collect();
    let g = used.len();
    if g < 2 {
        return None;
    }
    let ss: f64 = used.iter().map(|r| r * r).sum();
    Some((g as f64 / (g - 1) as f64 * ss).sqrt() / n as f64)
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

/// Holm's step-down adjustment of a family of p-values (returned in the input order): the
/// i-th smallest is multiplied by (m − i + 1), made monotone, capped at 1. Rejecting where the
/// adjusted value is below α keeps the chance of any false alarm in the family at most α,
/// whatever the dependence between the tests.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (i, &j) in order.iter().enumerate() {
        running = running.max(((m - i) as f64 * p[j]).min(1.0));
        out[j] = running;
    }
    out
}

/// Benjamini–Hochberg's step-up adjustment (returned in the input order): the i-th smallest
/// is multiplied by m / i, made monotone from the largest down, capped at 1. Rejecting where
/// the adjusted value is below α keeps the expected share of false alarms among the flagged
/// at most α (for independent or positively dependent tests).
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut out = vec![0.0; m];
    let mut running: f64 = 1.0;
    for (i, &j) in order.iter().enumerate().rev() {
        running = running.min(m as f64 / (i + 1) as f64 * p[j]).min(1.0);
        out[j] = running;
    }
    out
}

/// `paired_diff_ci` with whole clusters of tasks resampled together (`cluster_mean_ci`).
pub fn cluster_paired_diff_ci(first: &[f64], second: &[f64], clusters: &[usize]) -> Interval {
    assert_eq!(first.len(), second.len(), "paired scores");
    let diffs: Vec<f64> = first.iter().zip(second).map(|(a, b)| b - a).collect();
    cluster_mean_ci(&diffs, clusters)
}

/// How a judge's merge verdict fared against people on held-out labels: aggregate counts
/// only. `positives` are items people would merge, `negatives` the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct JudgeErrorCounts {
    pub positives: u64,
    /// Of those, the ones the judge said merge (sensitivity = this ÷ positives).
    pub positives_judged_merge: u64,
    pub negatives: u64,
    /// Of those, the ones the judge said merge anyway (specificity = 1 − this ÷ negatives).
    pub negatives_judged_merge: u64,
}

impl JudgeErrorCounts {
    pub fn sensitivity(&self) -> f64 {
        self.positives_judged_merge as f64 / self.positives.max(1) as f64
    }

    pub fn specificity(&self) -> f64 {
        1.0 - self.negatives_judged_merge as f64 / self.negatives.max(1) as f64
    }
}

/// The fewest held-out items on each side (people merge / people do not) before a corrected
/// rate is shown.
pub const CALIBRATION_MIN_LABELS: u64 = 20;
/// The least Youden's J (sensitivity + specificity − 1) before a corrected rate is shown: a
/// judge near chance carries almost no information, and dividing by J explodes its noise.
pub const CALIBRATION_MIN_YOUDEN: f64 = 0.2;

/// Rogan–Gladen: the true rate behind an observed rate `p` of a test with the given
/// sensitivity and specificity, (p + Sp − 1) / (Se + Sp − 1), clamped to [0, 1]; None when
/// the test is no better than chance (Se + Sp ≤ 1).
pub fn rogan_gladen(p: f64, sensitivity: f64, specificity: f64) -> Option<f64> {
    let j = sensitivity + specificity - 1.0;
    (j > 0.0).then(|| ((p + specificity - 1.0) / j).clamp(0.0, 1.0))
}

/// Why a corrected rate cannot be given, or None when it can.
pub fn calibration_refusal(c: &JudgeErrorCounts) -> Option<String> {
    if c.positives < CALIBRATION_MIN_LABELS || c.negatives < CALIBRATION_MIN_LABELS {
        return Some(format!(
            "too few held-out labels: {} that people would merge and {} they would not ({} of each needed)",
            c.positives, c.negatives, CALIBRATION_MIN_LABELS
        ));
    }
    let j = c.sensitivity() + c.specificity() - 1.0;
    if j < CALIBRATION_MIN_YOUDEN {
        return Some(format!(
            "the judge is near chance on held-out labels (sensitivity {:.2}, specificity {:.2}, Youden's J {j:.2} below {CALIBRATION_MIN_YOUDEN})",
            c.sensitivity(),
            c.specificity()
        ));
    }
    None
}

/// The human-calibrated rate: Rogan–Gladen over the mean of per-task judged-merge shares,
/// with a 95% percentile-bootstrap interval that resamples both sources of error together:
/// the tasks (whole clusters, as `cluster_mean_ci`) and the held-out labels (each side's
/// count redrawn as a binomial of its observed rate). Err with the reason when
/// `calibration_refusal` refuses.
pub fn calibrated_rate_ci(
    scores: &[f64],
    clusters: &[usize],
    counts: &JudgeErrorCounts,
) -> Result<Interval, String> {
    if let Some(why) = calibration_refusal(counts) {
        return Err(why);
    }
    if scores.is_empty() {
        return Err("no judged task".into());
    }
    if scores.len() != clusters.len() {
        return Err("one cluster per judged task is needed".into());
    }
    let (se, sp) = (counts.sensitivity(), counts.specificity());
    let observed = scores.iter().sum::<f64>() / scores.len() as f64;
    let estimate = rogan_gladen(observed, se, sp)
        .ok_or_else(|| "the judge is no better than chance on the held-out labels".to_string())?;
    let groups = cluster_sums(scores, clusters);
    let mut rng = SplitMix64(SEED ^ 0x5eed_ca11);
    let mut binomial = |n: u64, p: f64| {
        (0..n)
            .filter(|_| (rng.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) < p)
            .count() as f64
            / n as f64
    };
    let mut draws = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let mut idx_rng = SplitMix64(SEED);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let mean = cluster_resample_mean(&groups, &mut idx_rng);
        let se_b = binomial(counts.positives, se);
        let sp_b = binomial(counts.negatives, sp);
        // A resample whose judge is no better than chance says nothing about the rate: it
        // would put the whole [0, 1] in; counted at the ends it belongs to instead.
        draws.push(rogan_gladen(mean, se_b, sp_b).unwrap_or(if mean >= 0.5 { 1.0 } else { 0.0 }));
    }
    Ok(percentile_interval(estimate, draws))
}

/// z for a two-sided test at α = 0.05, and for 80% power.
pub const Z_ALPHA_05: f64 = 1.959_963_984_540_054;
pub const Z_POWER_80: f64 = 0.841_621_233_572_914_3;

/// Tasks needed to detect a paired difference `delta` (in rate units, 0.05 = 5 points) at
/// 80% power with a two-sided α = 0.05 test, when a share `discordance` of tasks go
/// differently for the two agents (Connor 1987, the normal approximation behind McNemar's
/// test): n = (z_α·√ψ + z_β·√(ψ − δ²))² / δ². With several attempts per task ψ is the mean
/// squared difference of per-task merge shares, which is the discordant share for one
/// attempt. None when the difference is not positive or ψ < δ² (no such data can exist).
pub fn paired_tasks_needed(delta: f64, discordance: f64) -> Option<f64> {
    let (d, psi) = (delta.abs(), discordance);
    if d.is_nan() || psi.is_nan() || d <= 0.0 || psi < d * d || psi > 1.0 {
        return None;
    }
    let root = Z_ALPHA_05 * psi.sqrt() + Z_POWER_80 * (psi - d * d).max(0.0).sqrt();
    Some(root * root / (d * d))
}

/// The smallest paired difference detectable at 80% power (α = 0.05, two-sided) with `n`
/// tasks and a share `discordance` of them going differently: the inverse of
/// `paired_tasks_needed`, searched up to ψ (with one attempt per task no difference can
/// exceed the discordant share). None when nothing is detectable (no discordance, or even
/// a difference of ψ needs more tasks than there are).
pub fn detectable_difference(n: f64, discordance: f64) -> Option<f64> {
    let psi = discordance;
    if n.is_nan() || psi.is_nan() || n <= 0.0 || psi <= 0.0 || psi > 1.0 {
        return None;
    }
    // Tasks needed falls as the difference grows; find where it meets n.
    if paired_tasks_needed(psi, psi)? > n {
        return None;
    }
    let (mut lo, mut hi) = (0.0, psi);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        match paired_tasks_needed(mid, psi) {
            Some(needed) if needed > n => lo = mid,
            _ => hi = mid,
        }
    }
    Some(hi)
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

    /// Drawn four at a time and on threads, the resamples are the one generator's draws in
    /// turn, to the last bit: a report never changes with the machine it is rendered on.
    #[test]
    fn resamples_match_one_generator_drawing_in_turn() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // Small (one thread, a remainder of lanes) and large (threads), with thirds that
        // round differently in every order of addition.
        for (g, resamples) in [(1, 5), (3, 7), (40, 2000), (2600, 2000), (2600, 2003)] {
            let groups: Vec<(f64, usize)> = (0..g)
                .map(|_| {
                    let k = rng.gen_range(1..4);
                    (rng.gen_range(0..=k) as f64 / 3.0, k)
                })
                .collect();
            let mut seq = SplitMix64(SEED);
            let want: Vec<f64> = (0..resamples)
                .map(|_| {
                    let (mut sum, mut count) = (0.0, 0usize);
                    for _ in 0..g {
                        let (s, k) = groups[seq.below(g)];
                        sum += s;
                        count += k;
                    }
                    sum / count as f64
                })
                .collect();
            let mut got = vec![0.0; resamples];
            resample_means(&groups, SEED, &mut got);
            assert!(
                want.iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "g = {g}, {resamples} resamples"
            );
        }
    }

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
        let runs = 200;
        let [covered] = coverage(11, runs, 0.15, |rng| {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..80 {
                let u: f64 = rng.gen();
                a.push(if u < 0.4 { 1.0 } else { 0.0 });
                b.push(if u < 0.55 { 1.0 } else { 0.0 });
            }
            [paired_diff_ci(&a, &b)]
        });
        assert_coverage("paired", covered, runs, 176..=200);
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

    #[test]
    fn the_cluster_bootstrap_with_singleton_clusters_is_the_task_bootstrap() {
        let scores: Vec<f64> = (0..57).map(|i| ((i * 7) % 5) as f64 / 4.0).collect();
        let singletons: Vec<usize> = (0..57).collect();
        assert_eq!(cluster_mean_ci(&scores, &singletons), mean_ci(&scores));
        // Ten clusters of identical tasks: resampling clusters gives the interval of ten
        // tasks, much wider than the interval of the 100 tasks taken as independent.
        let clustered: Vec<f64> = (0..100).map(|i| ((i / 10) % 2) as f64).collect();
        let labels: Vec<usize> = (0..100).map(|i| i / 10).collect();
        let wide = cluster_mean_ci(&clustered, &labels);
        let narrow = mean_ci(&clustered);
        let ten = mean_ci(&(0..10).map(|i| (i % 2) as f64).collect::<Vec<_>>());
        assert_eq!(wide.estimate, 0.5);
        assert!(
            (wide.high - wide.low) > 2.0 * (narrow.high - narrow.low),
            "{wide:?} {narrow:?}"
        );
        assert!(
            ((wide.high - wide.low) - (ten.high - ten.low)).abs() < 0.11,
            "{wide:?} {ten:?}"
        );
        assert_eq!(cluster_index(&["b", "a", "b", "c"]), (vec![0, 1, 0, 2], 3));
    }

    #[test]
    fn clustered_standard_errors_match_hand_computation() {
        // Singletons: s/√n. Values 1, 2, 3, 4: mean 2.5, s² = 5/3, se = √(5/3)/2.
        let se = clustered_se(&[1.0, 2.0, 3.0, 4.0], &[0, 1, 2, 3]).unwrap();
        assert!((se - (5.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-12);
        // Two clusters {1, 2} and {3, 4}: residual sums −2 and +2; √(2/1 · 8) / 4 = 1.
        let se = clustered_se(&[1.0, 2.0, 3.0, 4.0], &[0, 0, 1, 1]).unwrap();
        assert!((se - 1.0).abs() < 1e-12);
        assert_eq!(clustered_se(&[1.0, 2.0], &[0, 0]), None);
        assert_eq!(clustered_se(&[], &[]), None);
    }

    #[test]
    fn paired_sample_sizes_match_the_textbook_formula() {
        // Connor (1987): ψ = 0.2, δ = 0.1: (1.95996·√0.2 + 0.84162·√0.19)² / 0.01
        // = (0.876523 + 0.366853)² / 0.01 = 154.6, so 155 tasks.
        let n = paired_tasks_needed(0.1, 0.2).unwrap();
        assert!((n - 154.60).abs() < 0.01, "{n}");
        assert_eq!(n.ceil(), 155.0);
        // Independent agents at 40% and 50%: ψ = 0.4·0.5 + 0.5·0.6 = 0.5;
        // (1.95996·√0.5 + 0.84162·√0.49)² / 0.01 = 390.07, close to the 388 per arm of the
        // unpaired two-proportion formula (Fleiss), as it should be for independent pairs.
        let n = paired_tasks_needed(0.1, 0.5).unwrap();
        assert!((n - 390.07).abs() < 0.01, "{n}");
        // ψ = 0.3, δ = 0.05: (1.95996·√0.3 + 0.84162·√0.2975)² / 0.0025
        // = (1.073515 + 0.459054)² / 0.0025 = 939.5.
        let n = paired_tasks_needed(0.05, 0.3).unwrap();
        assert!((n - 939.50).abs() < 0.01, "{n}");
        // A squared difference above the discordance is impossible; none is no difference.
        assert_eq!(paired_tasks_needed(0.5, 0.2), None);
        assert_eq!(paired_tasks_needed(0.0, 0.2), None);
    }

    #[test]
    fn the_detectable_difference_inverts_the_sample_size() {
        let d = detectable_difference(155.0, 0.2).unwrap();
        assert!((d - 0.1).abs() < 0.001, "{d}");
        for (n, psi) in [(14.0, 0.5), (50.0, 0.3), (200.0, 0.25), (1000.0, 0.1)] {
            let d = detectable_difference(n, psi).unwrap();
            assert!(
                (paired_tasks_needed(d, psi).unwrap() - n).abs() < 1e-6,
                "{n} {psi}"
            );
        }
        // Fourteen tasks with half of them discordant: only a 49-point difference shows.
        let d = detectable_difference(14.0, 0.5).unwrap();
        assert!((d - 0.486).abs() < 0.001, "{d}");
        // No discordance, or too few tasks for even the largest difference: nothing.
        assert_eq!(detectable_difference(100.0, 0.0), None);
        assert_eq!(detectable_difference(3.0, 0.1), None);
    }

    /// The simulated evaluation behind the coverage tests: `clusters` groups of `tasks`
    /// tasks, each with `attempts` attempts. A cluster's true merge rate is drawn from
    /// {0.1, 0.3, 0.5, 0.7, 0.9} (mean 0.5), shared by its tasks when `shared` and drawn per
    /// task otherwise; each attempt truly merges with that rate, and the judge then errs
    /// (sensitivity 0.9, specificity 0.8), so the judged merge rate the intervals estimate is
    /// 0.9·0.5 + 0.2·0.5 = 0.55. Returns per-task judged merge shares and their clusters.
    fn simulate(
        rng: &mut rand::rngs::StdRng,
        clusters: usize,
        tasks: usize,
        attempts: usize,
        shared: bool,
    ) -> (Vec<f64>, Vec<usize>) {
        let rates = [0.1, 0.3, 0.5, 0.7, 0.9];
        let (mut scores, mut labels) = (Vec::new(), Vec::new());
        for g in 0..clusters {
            let cluster_rate = rates[rng.gen_range(0..rates.len())];
            for _ in 0..tasks {
                let rate = if shared {
                    cluster_rate
                } else {
                    rates[rng.gen_range(0..rates.len())]
                };
                let merged = (0..attempts)
                    .filter(|_| {
                        let truly = rng.gen::<f64>() < rate;
                        // The judge says merge to 90% of true merges, 20% of the rest.
                        rng.gen::<f64>() < if truly { 0.9 } else { 0.2 }
                    })
                    .count();
                scores.push(merged as f64 / attempts as f64);
                labels.push(g);
            }
        }
        (scores, labels)
    }

    /// How many of `runs` evaluations, drawn one after another from a generator seeded with
    /// `seed`, have each of the intervals `evaluate` gives for them cover `truth`.
    fn coverage<const N: usize>(
        seed: u64,
        runs: usize,
        truth: f64,
        mut evaluate: impl FnMut(&mut rand::rngs::StdRng) -> [Interval; N],
    ) -> [usize; N] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut covered = [0; N];
        for _ in 0..runs {
            for (count, i) in covered.iter_mut().zip(evaluate(&mut rng)) {
                *count += (i.low <= truth && truth <= i.high) as usize;
            }
        }
        covered
    }

    /// Asserts that `covered` of `runs` evaluations lies in `expected`: near the nominal 95%
    /// for a sound interval, well below it for one blind to part of the uncertainty.
    fn assert_coverage(
        what: &str,
        covered: usize,
        runs: usize,
        expected: impl std::ops::RangeBounds<usize> + std::fmt::Debug,
    ) {
        assert!(
            expected.contains(&covered),
            "{what} coverage {covered}/{runs}, expected {expected:?}"
        );
    }

    /// The judged merge rate the simulated evaluations estimate.
    const JUDGED_TRUTH: f64 = 0.55;
    /// The true merge rate behind the judged one (before the judge errs).
    const TRUE_RATE: f64 = 0.5;

    #[test]
    fn simulated_calibrated_rates_cover_the_true_rate() {
        // 600 evaluations of 40 clusters of 5 tasks (2 attempts each), judged with
        // sensitivity 0.9 and specificity 0.8, and 80 held-out labels on each side drawn from
        // the same judge: the calibrated interval covers the true rate (0.5, not the judged
        // 0.55) about 95% of the time; the judged rate's own interval, aimed at 0.55, holds
        // 0.5 only about three times in four.
        let runs = 600;
        let [calibrated, judged] = coverage(77, runs, TRUE_RATE, |rng| {
            let (scores, labels) = simulate(rng, 40, 5, 2, true);
            let draw = |rng: &mut rand::rngs::StdRng, n: u64, p: f64| {
                (0..n).filter(|_| rng.gen::<f64>() < p).count() as u64
            };
            let counts = JudgeErrorCounts {
                positives: 80,
                positives_judged_merge: draw(rng, 80, 0.9),
                negatives: 80,
                negatives_judged_merge: draw(rng, 80, 0.2),
            };
            [
                calibrated_rate_ci(&scores, &labels, &counts).unwrap(),
                cluster_mean_ci(&scores, &labels),
            ]
        });
        assert_coverage("calibrated", calibrated, runs, 558..=582);
        // The judged rate's interval should miss the true rate often.
        assert_coverage("judged", judged, runs, ..500);
    }

    #[test]
    fn simulated_independent_tasks_are_covered_95_percent_of_the_time() {
        // 1000 evaluations of 80 independent tasks, one attempt each, with judge error.
        let runs = 1000;
        let [covered] = coverage(2024, runs, JUDGED_TRUTH, |rng| {
            [mean_ci(&simulate(rng, 80, 1, 1, false).0)]
        });
        assert_coverage("independent", covered, runs, 930..=970);
    }

    #[test]
    fn simulated_clustered_tasks_need_the_cluster_bootstrap() {
        // 1000 evaluations of 40 clusters (repositories) of 5 tasks with 2 attempts each:
        // tasks of a cluster share its rate. The cluster bootstrap covers the truth about
        // 95% of the time; the naive bootstrap over tasks, blind to the clusters, falls short.
        let runs = 1000;
        let [clustered, naive] = coverage(1984, runs, JUDGED_TRUTH, |rng| {
            let (scores, labels) = simulate(rng, 40, 5, 2, true);
            [cluster_mean_ci(&scores, &labels), mean_ci(&scores)]
        });
        assert_coverage("clustered", clustered, runs, 930..=970);
        // The naive interval should fall well short of 95%.
        assert_coverage("naive", naive, runs, ..880);
    }

    #[test]
    fn rogan_gladen_undoes_a_known_judge_error() {
        // True rate 0.5 through Se 0.9, Sp 0.8: observed 0.9·0.5 + 0.2·0.5 = 0.55; back to 0.5.
        assert!((rogan_gladen(0.55, 0.9, 0.8).unwrap() - 0.5).abs() < 1e-12);
        // Observed 0.2 with Se 0.8, Sp 0.95: (0.2 − 0.05) / 0.75 = 0.2 exactly.
        assert!((rogan_gladen(0.2, 0.8, 0.95).unwrap() - 0.2).abs() < 1e-12);
        // Below the false-positive floor the estimate is clamped at 0; chance gives nothing.
        assert_eq!(rogan_gladen(0.1, 0.9, 0.8), Some(0.0));
        assert_eq!(rogan_gladen(0.5, 0.5, 0.5), None);
    }

    #[test]
    fn the_calibrated_rate_is_refused_on_few_labels_or_a_judge_near_chance() {
        let counts = |pos, pm, neg, nm| JudgeErrorCounts {
            positives: pos,
            positives_judged_merge: pm,
            negatives: neg,
            negatives_judged_merge: nm,
        };
        let scores: Vec<f64> = (0..100).map(|i| (i % 20 < 11) as u8 as f64).collect();
        let groups: Vec<usize> = (0..100).collect();
        let few = calibrated_rate_ci(&scores, &groups, &counts(12, 11, 40, 8)).unwrap_err();
        assert!(few.contains("too few held-out labels: 12"), "{few}");
        let chance = calibrated_rate_ci(&scores, &groups, &counts(50, 30, 50, 27)).unwrap_err();
        assert!(chance.contains("near chance"), "{chance}");
        // Se 0.9 (45/50), Sp 0.8 (40/50): the observed 0.55 becomes 0.5, and the interval,
        // carrying the labels' uncertainty too, is wider than the judged rate's own.
        let c = calibrated_rate_ci(&scores, &groups, &counts(50, 45, 50, 10)).unwrap();
        assert!((c.estimate - 0.5).abs() < 1e-12, "{c:?}");
        let judged = mean_ci(&scores);
        assert!(c.low < 0.5 && c.high > 0.5);
        assert!(
            (c.high - c.low) > (judged.high - judged.low) * 1.2,
            "{c:?} {judged:?}"
        );
        assert_eq!(
            c,
            calibrated_rate_ci(&scores, &groups, &counts(50, 45, 50, 10)).unwrap()
        );
    }

    fn close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?} != {want:?}");
        }
    }

    #[test]
    fn holm_matches_hand_computed_adjustments() {
        // Sorted: 0.01·4 = 0.04, 0.02·3 = 0.06, 0.03·2 = 0.06, 0.04·1 = 0.04 → monotone 0.06.
        close(&holm(&[0.03, 0.01, 0.04, 0.02]), &[0.06, 0.04, 0.06, 0.06]);
        // R: p.adjust(c(0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205), "holm").
        close(
            &holm(&[0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]),
            &[0.008, 0.056, 0.234, 0.234, 0.234, 0.234, 0.234, 0.234],
        );
        // Capped at 1; one test is its own adjustment; none is none.
        close(&holm(&[0.5, 0.6]), &[1.0, 1.0]);
        close(&holm(&[0.03]), &[0.03]);
        assert!(holm(&[]).is_empty());
        // Twenty agents, one at p = 0.01: alone it passes α = 0.05, in the family it does not.
        let mut family = vec![0.5; 19];
        family.push(0.01);
        assert!((holm(&family)[19] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn benjamini_hochberg_matches_hand_computed_adjustments() {
        // R: p.adjust(c(0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205), "BH").
        close(
            &benjamini_hochberg(&[0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]),
            &[
                0.008,
                0.032,
                0.0672,
                0.0672,
                0.0672,
                0.08,
                8.0 / 7.0 * 0.074,
                0.205,
            ],
        );
        close(&benjamini_hochberg(&[0.04, 0.01]), &[0.04, 0.02]);
        assert!(benjamini_hochberg(&[]).is_empty());
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
        let runs = 200;
        let [covered] = coverage(7, runs, p, |rng| {
            let scores: Vec<f64> = (0..60)
                .map(|_| if rng.gen::<f64>() < p { 1.0 } else { 0.0 })
                .collect();
            [mean_ci(&scores)]
        });
        assert_coverage("bootstrap", covered, runs, 176..=200);
    }
}
