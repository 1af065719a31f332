//! The nightly leaderboard: per agent the merge rate (the headline) with its 95% interval
//! beside what inflates it, time and cost; agents ranked by merge rate, tied where the
//! intervals overlap; the history of the last nights with regressions flagged; and the task ×
//! agent matrix of the reported night. Pure: `ReportData` in, `Leaderboard` out.

use super::charts::{self, BarChart, TrendChart};
use super::clusters::{self, Clustering};
use super::data::{AgentDetail, FirstAttempt, ReportData};
use super::history::{self, History, NightInfo, Regression, RegressionPolicy};
use super::tasks::TaskScore;
use crate::score::outcome::Outcome;
use crate::stats::{
    calibrated_rate_ci, cluster_mean_ci, pass_at_k, quantile, Interval, JudgeErrorCounts,
};
use crate::store::{TaskTally, VerdictCount};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Default)]
pub struct LeaderboardOptions {
    /// Keep only tasks created after this date (YYYY-MM-DD).
    pub since: Option<String>,
    pub policy: RegressionPolicy,
    /// Each judge version's error against people on the held-out labels, as counts only
    /// (`review::drift::calibrations`): what the calibrated merge rate corrects with.
    pub calibration: Vec<JudgeCalibration>,
}

/// One judge version's held-out error counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JudgeCalibration {
    pub judge_version: String,
    pub counts: JudgeErrorCounts,
}

#[derive(Debug, Clone, Serialize)]
pub struct PassAtK {
    pub k: u64,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentEntry {
    /// 1 + the number of agents whose interval lies wholly above this one's.
    pub rank: usize,
    /// Another agent has the same rank: the intervals cannot tell them apart.
    pub tied: bool,
    pub agent: String,
    pub tasks: usize,
    pub attempts: usize,
    /// The headline: over tasks, the share of attempts that are mergeable.
    pub mergeable_rate: Interval,
    pub resolved_rate: Interval,
    /// Of attempts the conventions scorer saw, the share that passed.
    pub conventions_pass_rate: Option<f64>,
    /// Of attempts the judge saw, the share it would merge.
    pub judge_merge_rate: Option<f64>,
    /// The judge's merge rate corrected for its error against people on held-out labels
    /// (Rogan–Gladen, over tasks), with an interval carrying both the tasks' and the labels'
    /// uncertainty; None when not judged, or with too few labels or a judge near chance.
    pub calibrated_merge_rate: Option<Interval>,
    /// What the calibrated rate rests on, or why there is none (None when not judged).
    pub calibration: Option<String>,
    /// Of human-labeled attempts, the share people accepted; None until labels exist.
    pub human_accept_rate: Option<f64>,
    pub human_labels: usize,
    /// Resolved rate ÷ mergeable rate: how much the test pass rate overstates; None when
    /// nothing is mergeable.
    pub inflation: Option<f64>,
    /// Resolved rate − mergeable rate, in rate units (0.24 = 24 points).
    pub inflation_points: f64,
    /// pass@k where a pass is a mergeable patch (unbiased estimator).
    pub pass_at_1: f64,
    pub pass_at_k: Option<PassAtK>,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    /// From the agents' own usage reports; None when no attempt reported a cost.
    pub cost_usd: Option<f64>,
    pub cost_per_task: Option<f64>,
    pub cost_per_merged: Option<f64>,
    pub merged_patches: usize,
    /// Reported apart: never counted against the agent.
    pub infra_errors: usize,
    pub scope_violations: usize,
    pub regression: Option<Regression>,
}

/// One task × agent cell of the reported night.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// merged | resolved | failed | empty | infra | none
    pub class: &'static str,
    pub outcome: Option<Outcome>,
    pub attempts: u64,
    pub merged: u64,
    /// The anchor of the first attempt's patch in the page.
    pub patch: Option<String>,
    pub patch_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatrixRow {
    pub task: String,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatchText {
    pub anchor: String,
    pub sha256: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Leaderboard {
    pub mergebench_version: String,
    pub suite: String,
    pub evaluation: NightInfo,
    pub since: Option<String>,
    /// Whether a judge judged the reported night (then mergeable needs its merge verdict).
    pub judged: bool,
    /// How the reported night's intervals group tasks.
    pub clustering: Clustering,
    pub agents: Vec<AgentEntry>,
    pub history: History,
    /// Regressions flagged on the reported night.
    pub regressions: Vec<Regression>,
    /// Every agent's paired test against its previous night on the reported night, flagged
    /// or not: the family whose p-values were adjusted together.
    pub regression_tests: Vec<Regression>,
    /// Columns are the agents in leaderboard order.
    pub matrix: Vec<MatrixRow>,
    #[serde(skip)]
    pub patches: Vec<PatchText>,
    #[serde(skip)]
    pub rates_chart: BarChart,
    #[serde(skip)]
    pub trend_chart: TrendChart,
}

pub fn anchor(sha256: &str) -> String {
    format!("patch-{}", &sha256[..12.min(sha256.len())])
}

/// The text of each patch named, once, in the order first named (with its anchor in the
/// page); a patch not in `patches` is left out.
pub fn patch_texts<'a>(
    shas: impl IntoIterator<Item = &'a str>,
    patches: &BTreeMap<String, String>,
) -> Vec<PatchText> {
    let mut seen = HashSet::new();
    shas.into_iter()
        .filter(|sha| seen.insert(*sha))
        .filter_map(|sha| {
            patches.get(sha).map(|text| PatchText {
                anchor: anchor(sha),
                sha256: sha.to_string(),
                text: text.clone(),
            })
        })
        .collect()
}

fn share(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// One agent's figures on the reported night, from its tallies (`tallies`, with their task
/// scores `tasks`) and what its attempts say beyond them (`detail`). `merge_rate` is the
/// history's interval for the same tasks when it has one (the same bootstrap, drawn once).
#[allow(clippy::too_many_arguments)]
fn entry(
    agent: &str,
    tallies: &[&TaskTally],
    tasks: &BTreeMap<String, TaskScore>,
    merge_rate: Option<Interval>,
    verdicts: &[&VerdictCount],
    judged_eval: bool,
    detail: &AgentDetail,
    declared: &HashMap<String, String>,
    calibration: &[JudgeCalibration],
) -> AgentEntry {
    let sum = |f: fn(&TaskTally) -> u64| tallies.iter().map(|t| f(t)).sum::<u64>() as usize;
    let attempts = sum(|t| t.attempts);
    let counted = sum(TaskTally::counted);
    let merge: Vec<f64> = tasks.values().map(TaskScore::merge_share).collect();
    let resolved: Vec<f64> = tasks.values().map(TaskScore::resolved_share).collect();
    let ids: Vec<&str> = tasks.keys().map(String::as_str).collect();
    let most = tasks.values().map(|s| s.attempts).max().unwrap_or(0);
    let (groups, _) = clusters::assign(&ids, declared, most);
    let mergeable_rate = merge_rate.unwrap_or_else(|| cluster_mean_ci(&merge, &groups));
    let resolved_rate = cluster_mean_ci(&resolved, &groups);
    let (calibrated_merge_rate, calibration) = calibrate(tallies, verdicts, declared, calibration);
    let k = tasks.values().map(|s| s.attempts).min().unwrap_or(0);
    let pass = |k: u64| {
        tasks
            .values()
            .map(|s| pass_at_k(s.attempts, s.merged, k))
            .sum::<f64>()
            / tasks.len().max(1) as f64
    };
    let cost = detail.cost_usd;
    let merged_patches = tallies
        .iter()
        .map(|t| t.mergeable(judged_eval))
        .sum::<u64>() as usize;
    AgentEntry {
        rank: 0,
        tied: false,
        agent: agent.to_string(),
        tasks: tasks.len(),
        attempts: counted,
        inflation: (mergeable_rate.estimate > 0.0)
            .then(|| resolved_rate.estimate / mergeable_rate.estimate),
        inflation_points: resolved_rate.estimate - mergeable_rate.estimate,
        mergeable_rate,
        resolved_rate,
        conventions_pass_rate: share(sum(|t| t.conventions_passed), sum(|t| t.conventions_scored)),
        judge_merge_rate: share(sum(|t| t.judge_merges), sum(|t| t.judged)),
        calibrated_merge_rate,
        calibration,
        human_accept_rate: share(detail.human_merges, detail.human_labels),
        human_labels: detail.human_labels,
        pass_at_1: pass(1),
        pass_at_k: (k > 1).then(|| PassAtK { k, value: pass(k) }),
        median_seconds: quantile(&detail.seconds, 0.5),
        p90_seconds: quantile(&detail.seconds, 0.9),
        cost_usd: cost,
        cost_per_task: cost.and_then(|c| (!tasks.is_empty()).then(|| c / tasks.len() as f64)),
        cost_per_merged: cost.and_then(|c| (merged_patches > 0).then(|| c / merged_patches as f64)),
        merged_patches,
        infra_errors: attempts - counted,
        scope_violations: sum(|t| t.scope_violations),
        regression: None,
    }
}

/// The calibrated merge rate of one agent's attempts: per task, the share of its judged
/// attempts the judge would merge, corrected with the held-out error of the judge version
/// that judged most of them. Only attempts with a verdict count (not infra errors, not
/// judge_errors).
fn calibrate(
    tallies: &[&TaskTally],
    verdicts: &[&VerdictCount],
    declared: &HashMap<String, String>,
    calibration: &[JudgeCalibration],
) -> (Option<Interval>, Option<String>) {
    let mut versions: BTreeMap<&str, usize> = BTreeMap::new();
    for v in verdicts {
        *versions.entry(&v.judge_version).or_default() += v.verdicts as usize;
    }
    let mut per_task: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for t in tallies.iter().filter(|t| t.verdicts > 0) {
        let e = per_task.entry(&t.task_id).or_default();
        e.0 += t.verdicts;
        e.1 += t.judge_merges;
    }
    let Some((version, _)) = versions
        .iter()
        .max_by_key(|(v, n)| (**n, std::cmp::Reverse(**v)))
    else {
        return (None, None);
    };
    let short = &version[..12.min(version.len())];
    let Some(c) = calibration.iter().find(|c| c.judge_version == *version) else {
        return (
            None,
            Some(format!(
                "no held-out labels checked against judge version {short}: run `mergebench judge checkpoints`"
            )),
        );
    };
    let ids: Vec<&str> = per_task.keys().copied().collect();
    let most = per_task.values().map(|t| t.0).max().unwrap_or(0);
    let (groups, _) = clusters::assign(&ids, declared, most);
    let scores: Vec<f64> = per_task
        .values()
        .map(|(n, m)| *m as f64 / *n as f64)
        .collect();
    match calibrated_rate_ci(&scores, &groups, &c.counts) {
        Ok(i) => (
            Some(i),
            Some(format!(
                "judge version {short} on {} held-out labels: sensitivity {:.2}, specificity {:.2}",
                c.counts.positives + c.counts.negatives,
                c.counts.sensitivity(),
                c.counts.specificity()
            )),
        ),
        Err(why) => (None, Some(why)),
    }
}

/// Ranks by merge rate; an agent's rank counts only the agents that are better beyond doubt
/// (their interval wholly above its own), so overlapping agents share a rank.
fn rank(entries: &mut [AgentEntry]) {
    entries.sort_by(|a, b| {
        b.mergeable_rate
            .estimate
            .total_cmp(&a.mergeable_rate.estimate)
            .then(
                b.resolved_rate
                    .estimate
                    .total_cmp(&a.resolved_rate.estimate),
            )
            .then(a.agent.cmp(&b.agent))
    });
    let intervals: Vec<Interval> = entries.iter().map(|e| e.mergeable_rate).collect();
    for (i, e) in entries.iter_mut().enumerate() {
        e.rank = 1 + intervals
            .iter()
            .enumerate()
            .filter(|(j, o)| *j != i && o.low > intervals[i].high)
            .count();
    }
    let ranks: Vec<usize> = entries.iter().map(|e| e.rank).collect();
    for e in entries.iter_mut() {
        e.tied = ranks.iter().filter(|r| **r == e.rank).count() > 1;
    }
}

fn cell(first: Option<&FirstAttempt>, score: Option<&TaskScore>) -> Cell {
    let class = match (first, score) {
        (None, _) => "none",
        (Some(_), None) => "infra",
        (Some(_), Some(s)) if s.merged() => "merged",
        (Some(_), Some(s)) if s.resolved > 0 => "resolved",
        (Some(f), Some(_)) if f.outcome == Outcome::EmptyPatch => "empty",
        _ => "failed",
    };
    Cell {
        class,
        outcome: first.map(|f| f.outcome),
        attempts: score.map(|s| s.attempts).unwrap_or(0),
        merged: score.map(|s| s.merged).unwrap_or(0),
        patch: first.and_then(|f| f.patch_sha256.as_deref()).map(anchor),
        patch_sha256: first.and_then(|f| f.patch_sha256.clone()),
    }
}

/// The leaderboard of `data`, loaded with `data::load` (which has already left out tasks
/// before `opts.since`).
pub fn build(data: ReportData, opts: &LeaderboardOptions) -> Option<Leaderboard> {
    let scores = history::scores(&data.nights);
    let declared =
        clusters::of_tallies(data.nights.iter().flat_map(|n| &n.tallies), &data.clusters);
    let history = history::build(&data.nights, &scores, opts.policy, &declared);
    let night = data.nights.last()?;
    let current = scores.last()?;
    let judged_eval = night.judged;
    let mut grouped: BTreeMap<&str, Vec<&TaskTally>> = BTreeMap::new();
    for t in &night.tallies {
        grouped.entry(t.agent.as_str()).or_default().push(t);
    }
    let empty = BTreeMap::new();
    let no_detail = AgentDetail::default();
    let mut agents: Vec<AgentEntry> = grouped
        .iter()
        .map(|(agent, tallies)| {
            let mut e = entry(
                agent,
                tallies,
                current.get(*agent).unwrap_or(&empty),
                history.latest_point(agent).map(|p| p.merge_rate),
                &night
                    .verdicts
                    .iter()
                    .filter(|v| v.agent == *agent)
                    .collect::<Vec<_>>(),
                judged_eval,
                data.detail.agents.get(*agent).unwrap_or(&no_detail),
                &declared,
                &opts.calibration,
            );
            e.regression = history
                .latest_point(agent)
                .and_then(|p| p.regression.clone());
            e
        })
        .collect();
    rank(&mut agents);

    let task_ids: std::collections::BTreeSet<&str> =
        night.tallies.iter().map(|t| t.task_id.as_str()).collect();
    let matrix: Vec<MatrixRow> = task_ids
        .into_iter()
        .map(|task| MatrixRow {
            task: task.to_string(),
            cells: agents
                .iter()
                .map(|a| {
                    let first = data
                        .detail
                        .agents
                        .get(&a.agent)
                        .and_then(|d| d.first.get(task));
                    cell(first, current.get(&a.agent).and_then(|m| m.get(task)))
                })
                .collect(),
        })
        .collect();
    let patches = patch_texts(
        matrix
            .iter()
            .flat_map(|row| &row.cells)
            .filter_map(|c| c.patch_sha256.as_deref()),
        &data.patches,
    );
    let regressions = history.latest_regressions().into_iter().cloned().collect();
    let regression_tests = history.latest_tests().into_iter().cloned().collect();
    let night_tasks: Vec<&str> = matrix.iter().map(|r| r.task.as_str()).collect();
    let most = current
        .values()
        .flat_map(|m| m.values().map(|s| s.attempts))
        .max()
        .unwrap_or(0);
    let (_, clustering) = clusters::assign(&night_tasks, &declared, most);
    Some(Leaderboard {
        mergebench_version: crate::VERSION.to_string(),
        suite: night.evaluation.suite.clone(),
        evaluation: NightInfo::of(&night.evaluation),
        since: opts.since.clone(),
        judged: judged_eval,
        clustering,
        rates_chart: charts::rates(
            &agents
                .iter()
                .map(|a| charts::AgentRates {
                    agent: &a.agent,
                    resolved: a.resolved_rate.estimate,
                    merged: &a.mergeable_rate,
                })
                .collect::<Vec<_>>(),
        ),
        trend_chart: charts::trend(
            &history,
            &agents.iter().map(|a| a.agent.as_str()).collect::<Vec<_>>(),
        ),
        agents,
        regressions,
        regression_tests,
        matrix,
        patches,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_with(agent: &str, estimate: f64, low: f64, high: f64) -> AgentEntry {
        let mut e = entry(
            agent,
            &[],
            &BTreeMap::new(),
            None,
            &[],
            false,
            &AgentDetail::default(),
            &HashMap::new(),
            &[],
        );
        e.mergeable_rate = Interval {
            estimate,
            low,
            high,
        };
        e
    }

    #[test]
    fn overlapping_intervals_share_a_rank() {
        // a and b overlap; b and c overlap; a lies wholly above c; all three above d, which
        // is therefore fourth, not third: ranks count the agents better beyond doubt.
        let mut es = vec![
            entry_with("c", 0.3, 0.2, 0.55),
            entry_with("a", 0.8, 0.7, 0.9),
            entry_with("b", 0.6, 0.45, 0.75),
            entry_with("d", 0.05, 0.0, 0.1),
        ];
        rank(&mut es);
        let got: Vec<(&str, usize, bool)> = es
            .iter()
            .map(|e| (e.agent.as_str(), e.rank, e.tied))
            .collect();
        assert_eq!(
            got,
            [
                ("a", 1, true),
                ("b", 1, true),
                ("c", 2, false),
                ("d", 4, false)
            ]
        );
    }
}
