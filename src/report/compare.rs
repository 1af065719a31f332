//! The procurement comparison of two agents on the tasks both ran in one evaluation: wins,
//! losses and ties, McNemar's exact test, a paired-bootstrap interval of the difference in
//! merge rate (clusters of tasks resampled together, see `clusters`) with its clustered
//! standard error, the smallest difference the comparison could detect, time and cost per
//! merged patch, blast-radius tiers, the tasks where they
//! differ (with both patches), and one sentence a lead can forward. Pure.

use super::clusters::{self, Clustering};
use super::data::NightRows;
use super::history::NightInfo;
use super::leaderboard::{anchor, patch_texts, PatchText};
use super::tasks::{per_task, TaskScore};
use crate::score::merge::{mergeable, tier};
use crate::score::outcome::Outcome;
use crate::stats::{
    cluster_paired_diff_ci, clustered_se, detectable_difference, mcnemar_exact, Interval,
};
use crate::store::AttemptRow;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub agent: String,
    pub attempts: usize,
    /// Shared tasks this agent merged (most attempts mergeable).
    pub merged_tasks: u64,
    /// Over the shared tasks.
    pub merge_rate: f64,
    pub merged_patches: usize,
    pub agent_seconds: f64,
    pub seconds_per_merged: Option<f64>,
    pub cost_usd: Option<f64>,
    pub cost_per_merged: Option<f64>,
    /// Blast-radius tier → attempts with a scored patch.
    pub tiers: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskSide {
    pub outcome: Option<Outcome>,
    pub merged: bool,
    pub patch: Option<String>,
    pub patch_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskDiff {
    pub task: String,
    pub a: TaskSide,
    pub b: TaskSide,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub mergebench_version: String,
    pub suite: String,
    pub evaluation: NightInfo,
    pub judged: bool,
    pub a: Side,
    pub b: Side,
    pub shared_tasks: usize,
    /// Tasks only B merged, only A merged, and where they agree.
    pub b_wins: u64,
    pub a_wins: u64,
    pub ties: u64,
    /// McNemar's exact test on the per-task merged results.
    pub p_value: f64,
    /// B's merge rate minus A's on the shared tasks, with a 95% paired-bootstrap interval
    /// (clusters resampled whole, see `clustering`).
    pub difference: Interval,
    /// The standard error of the difference, cluster-robust, and as if tasks were
    /// independent; None with fewer than two clusters.
    pub difference_se: Option<f64>,
    pub naive_se: Option<f64>,
    pub clustering: Clustering,
    /// `uncertainty` of this comparison.
    pub uncertainty: String,
    pub power: Power,
    /// B's cost (time) per merged patch over A's, when both are known.
    pub cost_ratio: Option<f64>,
    pub time_ratio: Option<f64>,
    pub sentence: String,
    pub differing: Vec<TaskDiff>,
    #[serde(skip)]
    pub patches: Vec<PatchText>,
}

/// What the comparison could have detected.
#[derive(Debug, Clone, Serialize)]
pub struct Power {
    /// The mean squared per-task difference in merge share: with one attempt per task, the
    /// share of tasks where the agents differ.
    pub discordance: f64,
    /// (clustered ÷ naive standard error)², at least 1: how many times the tasks count
    /// for fewer than they are because of their clusters.
    pub design_effect: f64,
    /// Shared tasks ÷ design effect.
    pub effective_tasks: f64,
    /// The smallest difference in merge rate detectable at 80% power (two-sided α = 0.05),
    /// in rate units; None when nothing could be (no discordance, or too few tasks).
    pub detectable_difference: Option<f64>,
    /// The per-task sampling variance of attempts within a task, summed over both agents
    /// (0 with one attempt): the part more attempts would shrink.
    pub within_task_variance: f64,
    /// Attempts per task in this evaluation (the mean over shared tasks and both agents).
    pub attempts_per_task: f64,
    /// The above as one sentence.
    pub sentence: String,
}

/// How precise the difference is, in one sentence: its standard error, clustered and naive.
pub fn uncertainty(c: &Comparison) -> String {
    let se = |x: f64| format!("{:.1}", x * 100.0);
    match (c.difference_se, c.naive_se) {
        (Some(cl), Some(nv)) if c.clustering.by == "declared" => format!(
            "standard error {} points clustered by the {} declared clusters ({} if the tasks were independent)",
            se(cl),
            c.clustering.clusters,
            se(nv)
        ),
        (Some(cl), _) => format!("standard error {} points", se(cl)),
        _ => "too few clusters for a standard error".into(),
    }
}

/// What the comparison could detect, in one sentence.
pub fn power_sentence(p: &Power, shared: usize) -> String {
    let tasks = if p.design_effect > 1.0 + 1e-9 {
        format!(
            "{shared} shared tasks, worth {:.0} independent ones once clusters are accounted for (design effect {:.1})",
            p.effective_tasks, p.design_effect
        )
    } else {
        format!("{shared} shared tasks")
    };
    match p.detectable_difference {
        Some(d) => format!(
            "With {tasks} and the agents differing on {:.0}% of them, the smallest difference this comparison detects at 80% power (α = 0.05, two-sided) is {:.0} points; `mergebench report power` says how many tasks a smaller one needs.",
            p.discordance * 100.0,
            d * 100.0
        ),
        None if p.discordance == 0.0 => format!(
            "With {tasks} and no task where the agents differ, there is no discordance to size a detectable difference from."
        ),
        None => format!(
            "With {tasks}, too few to detect even the largest difference the agents' {:.0}% discordance allows at 80% power.",
            p.discordance * 100.0
        ),
    }
}

/// The sampling variance of one attempt's result within a task of `n` attempts, `m` of them
/// merged (unbiased); 0 with a single attempt.
fn attempt_variance(s: &TaskScore) -> f64 {
    if s.attempts < 2 {
        return 0.0;
    }
    let p = s.merge_share();
    s.attempts as f64 * p * (1.0 - p) / (s.attempts - 1) as f64
}

fn side(
    agent: &str,
    rows: &[&AttemptRow],
    tasks: &BTreeMap<String, TaskScore>,
    shared: &BTreeSet<&str>,
    judged_eval: bool,
) -> Side {
    let rows: Vec<&&AttemptRow> = rows
        .iter()
        .filter(|r| r.run.outcome != Outcome::InfraError && shared.contains(r.key.task_id.as_str()))
        .collect();
    let merged_patches = rows.iter().filter(|r| mergeable(r, judged_eval)).count();
    let agent_seconds: f64 = rows.iter().filter_map(|r| r.run.agent_seconds).sum();
    let costs: Vec<f64> = rows.iter().filter_map(|r| r.cost_usd()).collect();
    let cost_usd = (!costs.is_empty()).then(|| costs.iter().sum::<f64>());
    let per_merged = |x: f64| (merged_patches > 0).then(|| x / merged_patches as f64);
    let mut tiers = BTreeMap::new();
    for r in &rows {
        if let Some(t) = tier(r) {
            *tiers.entry(t.to_string()).or_default() += 1;
        }
    }
    let shared_scores: Vec<&TaskScore> = shared.iter().filter_map(|t| tasks.get(*t)).collect();
    Side {
        agent: agent.to_string(),
        attempts: rows.len(),
        merged_tasks: shared_scores.iter().filter(|s| s.merged()).count() as u64,
        merge_rate: shared_scores.iter().map(|s| s.merge_share()).sum::<f64>()
            / shared_scores.len().max(1) as f64,
        merged_patches,
        agent_seconds,
        seconds_per_merged: per_merged(agent_seconds),
        cost_usd,
        cost_per_merged: cost_usd.and_then(per_merged),
        tiers,
    }
}

fn points(x: f64) -> String {
    let p = (x * 100.0).round();
    // Avoid "-0".
    format!("{}", if p == 0.0 { 0.0 } else { p })
}

/// p-values read the same in every report (they belong to the regression test's module,
/// which compare builds on).
pub use super::history::format_p;

/// The sentence a lead forwards: the difference, its interval and p-value, and what each
/// merged patch costs relative to the other agent.
pub fn sentence(c: &Comparison) -> String {
    let (a, b) = (&c.a.agent, &c.b.agent);
    let d = c.difference;
    let stats = format!(
        "95% CI {} to {}, {}",
        points(d.low),
        points(d.high),
        format_p(c.p_value)
    );
    // "Within noise" only when the test and the interval agree: small samples can put
    // them on either side of the line, and then the figures speak for themselves.
    let noise = if c.p_value >= 0.05 && d.low <= 0.0 && d.high >= 0.0 {
        ", within noise"
    } else {
        ""
    };
    let head = if points(d.estimate) == "0" {
        format!("{b} and {a} merge at the same rate{noise} ({stats})")
    } else {
        format!(
            "{b} merges {} points {} than {a}{noise} ({stats})",
            points(d.estimate.abs()),
            if d.estimate > 0.0 { "more" } else { "fewer" },
        )
    };
    let tail = match (c.cost_ratio, c.time_ratio) {
        (Some(r), _) => format!(" at {r:.1}× the cost per merged patch"),
        (None, Some(r)) => {
            format!(" at {r:.1}× the agent time per merged patch (no cost reported)")
        }
        _ if c.a.merged_patches == 0 || c.b.merged_patches == 0 => format!(
            "; {} merged no patch, so there is no cost per merged patch to compare",
            if c.a.merged_patches == 0 { a } else { b }
        ),
        _ => String::new(),
    };
    format!("{head}{tail}.")
}

pub fn build(
    night: &NightRows,
    patches: &BTreeMap<String, String>,
    a: &str,
    b: &str,
    clusters_by_hash: &HashMap<String, String>,
) -> Result<Comparison, String> {
    let judged_eval = night.judged;
    let rows_of = |agent: &str| -> Vec<&AttemptRow> {
        night.rows.iter().filter(|r| r.key.agent == agent).collect()
    };
    let (ra, rb) = (rows_of(a), rows_of(b));
    for (agent, rows) in [(a, &ra), (b, &rb)] {
        if rows.is_empty() {
            return Err(format!(
                "agent `{agent}` did not run in evaluation {} (agents: {})",
                night.evaluation.id,
                night.evaluation.agents.join(", ")
            ));
        }
    }
    let (ta, tb) = (
        per_task(ra.iter().copied(), judged_eval),
        per_task(rb.iter().copied(), judged_eval),
    );
    let shared: BTreeSet<&str> = ta
        .keys()
        .filter(|t| tb.contains_key(*t))
        .map(String::as_str)
        .collect();
    let (mut a_wins, mut b_wins, mut ties) = (0, 0, 0);
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    let mut differing = Vec::new();
    let first = |rows: &[&AttemptRow], task: &str, score: &TaskScore| {
        let r = rows
            .iter()
            .filter(|r| r.key.task_id == task && r.run.outcome != Outcome::InfraError)
            .min_by_key(|r| r.key.attempt);
        TaskSide {
            outcome: r.map(|r| r.run.outcome),
            merged: score.merged(),
            patch: r.and_then(|r| r.patch_sha256.as_deref()).map(anchor),
            patch_sha256: r.and_then(|r| r.patch_sha256.clone()),
        }
    };
    for t in &shared {
        let (x, y) = (&ta[*t], &tb[*t]);
        sa.push(x.merge_share());
        sb.push(y.merge_share());
        match (x.merged(), y.merged()) {
            (true, false) => a_wins += 1,
            (false, true) => b_wins += 1,
            _ => ties += 1,
        }
        if x.merged() != y.merged() {
            differing.push(TaskDiff {
                task: t.to_string(),
                a: first(&ra, t, x),
                b: first(&rb, t, y),
            });
        }
    }
    let ids: Vec<&str> = shared.iter().copied().collect();
    let most = shared
        .iter()
        .map(|t| ta[*t].attempts.max(tb[*t].attempts))
        .max()
        .unwrap_or(0);
    let declared = clusters::of_rows(&night.rows, clusters_by_hash);
    let (groups, clustering) = clusters::assign(&ids, &declared, most);
    let diffs: Vec<f64> = sa.iter().zip(&sb).map(|(x, y)| y - x).collect();
    let difference_se = clustered_se(&diffs, &groups);
    let naive_se = clustered_se(&diffs, &(0..diffs.len()).collect::<Vec<_>>());
    let n = shared.len() as f64;
    let design_effect = match (difference_se, naive_se) {
        (Some(c), Some(i)) if i > 0.0 => (c * c / (i * i)).max(1.0),
        _ => 1.0,
    };
    let discordance = diffs.iter().map(|d| d * d).sum::<f64>() / n.max(1.0);
    let mut power = Power {
        sentence: String::new(),
        discordance,
        design_effect,
        effective_tasks: n / design_effect,
        detectable_difference: detectable_difference(n / design_effect, discordance),
        within_task_variance: shared
            .iter()
            .map(|t| attempt_variance(&ta[*t]) + attempt_variance(&tb[*t]))
            .sum::<f64>()
            / n.max(1.0),
        attempts_per_task: shared
            .iter()
            .map(|t| (ta[*t].attempts + tb[*t].attempts) as f64 / 2.0)
            .sum::<f64>()
            / n.max(1.0),
    };
    power.sentence = power_sentence(&power, shared.len());
    let texts = patch_texts(
        differing
            .iter()
            .flat_map(|d| [&d.a.patch_sha256, &d.b.patch_sha256])
            .flatten()
            .map(String::as_str),
        patches,
    );
    let side_a = side(a, &ra, &ta, &shared, judged_eval);
    let side_b = side(b, &rb, &tb, &shared, judged_eval);
    let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) if x > 0.0 => Some(y / x),
        _ => None,
    };
    let mut c = Comparison {
        mergebench_version: crate::VERSION.to_string(),
        suite: night.evaluation.suite.clone(),
        evaluation: NightInfo::of(&night.evaluation),
        judged: judged_eval,
        cost_ratio: ratio(side_a.cost_per_merged, side_b.cost_per_merged),
        time_ratio: ratio(side_a.seconds_per_merged, side_b.seconds_per_merged),
        a: side_a,
        b: side_b,
        shared_tasks: shared.len(),
        b_wins,
        a_wins,
        ties,
        p_value: mcnemar_exact(a_wins, b_wins),
        difference: cluster_paired_diff_ci(&sa, &sb, &groups),
        difference_se,
        naive_se,
        clustering,
        uncertainty: String::new(),
        power,
        sentence: String::new(),
        differing,
        patches: texts,
    };
    c.sentence = sentence(&c);
    c.uncertainty = uncertainty(&c);
    Ok(c)
}
