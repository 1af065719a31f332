//! The history: each evaluation of a suite is a night, a point per agent; a drop from an
//! agent's previous night is a regression when it is significant under McNemar's exact test
//! on the tasks both nights ran (per-task mergeable, see `tasks`).

use super::data::Night;
use super::tasks::{by_agent, discordant, per_task, TaskScore};
use crate::stats::{mcnemar_exact, mean_ci, Interval};
use serde::Serialize;
use std::collections::BTreeMap;

/// When a drop counts as a regression.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RegressionPolicy {
    /// Significance level of McNemar's exact test (two-sided).
    pub alpha: f64,
    /// The smallest drop, in merge-rate points on the shared tasks (0.05 = 5 points).
    pub min_drop: f64,
}

impl Default for RegressionPolicy {
    fn default() -> Self {
        RegressionPolicy {
            alpha: 0.05,
            min_drop: 0.0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NightInfo {
    pub id: String,
    pub created_at: String,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub tasks: usize,
    pub merge_rate: Interval,
    /// The estimate only: the trend is read on the merge rate, and an interval per night
    /// and agent costs a bootstrap each.
    pub resolved_rate: f64,
    /// Set when this night is a significant drop from the agent's previous night.
    pub regression: Option<Regression>,
}

/// A paired comparison of one agent's two nights on the tasks both ran.
#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    pub agent: String,
    pub from_eval: String,
    pub to_eval: String,
    pub shared_tasks: u64,
    /// Merge rate on the shared tasks, before and after.
    pub from_rate: f64,
    pub to_rate: f64,
    /// Tasks merged before and not now, and the reverse.
    pub lost: u64,
    pub gained: u64,
    pub p_value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub agent: String,
    /// One per night, None where the agent did not run.
    pub points: Vec<Option<Point>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub nights: Vec<NightInfo>,
    pub series: Vec<Series>,
    pub policy: RegressionPolicy,
}

impl History {
    /// Regressions flagged on the latest night: what `nightly` fails on.
    pub fn latest_regressions(&self) -> Vec<&Regression> {
        self.series
            .iter()
            .filter_map(|s| s.points.last()?.as_ref()?.regression.as_ref())
            .collect()
    }

    pub fn latest_point(&self, agent: &str) -> Option<&Point> {
        self.series
            .iter()
            .find(|s| s.agent == agent)?
            .points
            .last()?
            .as_ref()
    }
}

/// Per night, per agent: task scores.
pub fn scores(nights: &[Night]) -> Vec<BTreeMap<String, BTreeMap<String, TaskScore>>> {
    nights
        .iter()
        .map(|n| {
            by_agent(&n.rows)
                .into_iter()
                .map(|(a, rows)| (a.to_string(), per_task(rows, n.judged)))
                .collect()
        })
        .collect()
}

/// Compares two nights of one agent; a regression when the test says so under `policy`.
pub fn paired_drop(
    agent: &str,
    from: (&str, &BTreeMap<String, TaskScore>),
    to: (&str, &BTreeMap<String, TaskScore>),
    policy: &RegressionPolicy,
) -> Option<Regression> {
    let (lost, gained, same) = discordant(from.1, to.1);
    let shared = lost + gained + same;
    if shared == 0 || lost <= gained {
        return None;
    }
    let (mut merged_before, mut merged_after) = (0u64, 0u64);
    for (task, before) in from.1 {
        if let Some(after) = to.1.get(task) {
            merged_before += before.merged() as u64;
            merged_after += after.merged() as u64;
        }
    }
    let from_rate = merged_before as f64 / shared as f64;
    let to_rate = merged_after as f64 / shared as f64;
    let p_value = mcnemar_exact(lost, gained);
    (p_value < policy.alpha && from_rate - to_rate >= policy.min_drop).then(|| Regression {
        agent: agent.to_string(),
        from_eval: from.0.to_string(),
        to_eval: to.0.to_string(),
        shared_tasks: shared,
        from_rate,
        to_rate,
        lost,
        gained,
        p_value,
    })
}

pub fn build(
    nights: &[Night],
    scores: &[BTreeMap<String, BTreeMap<String, TaskScore>>],
    policy: RegressionPolicy,
) -> History {
    let agents: std::collections::BTreeSet<&String> =
        scores.iter().flat_map(|n| n.keys()).collect();
    let series = agents
        .into_iter()
        .map(|agent| {
            let mut previous: Option<usize> = None;
            let mut points = Vec::with_capacity(nights.len());
            for (i, night) in scores.iter().enumerate() {
                let Some(tasks) = night.get(agent) else {
                    points.push(None);
                    continue;
                };
                let merge: Vec<f64> = tasks.values().map(TaskScore::merge_share).collect();
                let resolved = tasks.values().map(TaskScore::resolved_share).sum::<f64>()
                    / tasks.len().max(1) as f64;
                let regression = previous.and_then(|p| {
                    paired_drop(
                        agent,
                        (&nights[p].evaluation.id, &scores[p][agent]),
                        (&nights[i].evaluation.id, tasks),
                        &policy,
                    )
                });
                points.push(Some(Point {
                    tasks: tasks.len(),
                    merge_rate: mean_ci(&merge),
                    resolved_rate: resolved,
                    regression,
                }));
                previous = Some(i);
            }
            Series {
                agent: agent.clone(),
                points,
            }
        })
        .collect();
    History {
        nights: nights
            .iter()
            .map(|n| NightInfo {
                id: n.evaluation.id.clone(),
                created_at: n.evaluation.created_at.clone(),
                label: n.evaluation.label.clone(),
            })
            .collect(),
        series,
        policy,
    }
}
