//! The history: each evaluation of a suite is a night, a point per agent; a drop from an
//! agent's previous night is a regression when it is significant under McNemar's exact test
//! on the tasks both nights ran (per-task mergeable, see `tasks`), after the p-values of every
//! agent tested that night are adjusted together (Holm by default), so twenty agents do not
//! mean one false alarm a night.

use super::data::Night;
use super::tasks::{discordant, scores_by_agent, TaskScore};
use crate::stats::{benjamini_hochberg, cluster_mean_ci, holm, mcnemar_exact, Interval};
use crate::store::Evaluation;
use serde::Serialize;
use std::collections::BTreeMap;

/// How the p-values of one night's regression tests (one per agent) are adjusted together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Correction {
    /// Holm's step-down: the chance of any false alarm on a night stays at most α. The
    /// default: a regression fails the night, so a false one costs a person's morning.
    #[default]
    Holm,
    /// Benjamini–Hochberg: the expected share of false alarms among the flagged stays at most
    /// α; more sensitive with many agents, at the price of the occasional false alarm.
    Bh,
    /// No adjustment: each agent tested alone at α.
    None,
}

impl Correction {
    pub fn adjust(self, p: &[f64]) -> Vec<f64> {
        match self {
            Correction::Holm => holm(p),
            Correction::Bh => benjamini_hochberg(p),
            Correction::None => p.to_vec(),
        }
    }
}

impl std::str::FromStr for Correction {
    type Err = String;
    fn from_str(s: &str) -> Result<Correction, String> {
        match s {
            "holm" => Ok(Correction::Holm),
            "bh" => Ok(Correction::Bh),
            "none" => Ok(Correction::None),
            other => Err(format!(
                "unknown correction `{other}`: use holm (the default), bh or none"
            )),
        }
    }
}

/// When a drop counts as a regression.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RegressionPolicy {
    /// Significance level of McNemar's exact test (two-sided), applied to adjusted p-values.
    pub alpha: f64,
    /// The smallest drop, in merge-rate points on the shared tasks (0.05 = 5 points).
    pub min_drop: f64,
    /// How the night's tests across agents are adjusted together.
    pub correction: Correction,
}

impl Default for RegressionPolicy {
    fn default() -> Self {
        RegressionPolicy {
            alpha: 0.05,
            min_drop: 0.0,
            correction: Correction::Holm,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NightInfo {
    pub id: String,
    pub created_at: String,
    pub label: Option<String>,
}

impl NightInfo {
    /// What a report says of the evaluation a night is.
    pub fn of(evaluation: &Evaluation) -> NightInfo {
        NightInfo {
            id: evaluation.id.clone(),
            created_at: evaluation.created_at.clone(),
            label: evaluation.label.clone(),
        }
    }
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
    /// The paired test against the agent's previous night, flagged or not (None on its first
    /// night or with no shared task).
    #[serde(skip)]
    pub test: Option<Regression>,
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
    /// McNemar's exact p-value of this agent's test alone.
    pub p_value: f64,
    /// The p-value adjusted over the night's family of tests (one per agent with a previous
    /// night); a regression is flagged on this one.
    pub adjusted_p: f64,
    /// How many tests the night's family holds, and how they were adjusted.
    pub family: usize,
    pub correction: Correction,
    /// Whether this test is a regression under the policy (`is_regression`).
    pub flagged: bool,
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
    /// Every paired test of the latest night, flagged or not: the family the adjustment
    /// covered.
    pub fn latest_tests(&self) -> Vec<&Regression> {
        self.series
            .iter()
            .filter_map(|s| s.points.last()?.as_ref()?.test.as_ref())
            .collect()
    }

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

/// Per night, per agent: task scores, from the store's tallies.
pub fn scores(nights: &[Night]) -> Vec<BTreeMap<String, BTreeMap<String, TaskScore>>> {
    nights
        .iter()
        .map(|n| scores_by_agent(&n.tallies, n.judged))
        .collect()
}

/// The paired test of one agent's two nights on the tasks both ran, in either direction;
/// None when they share no task. The adjusted p-value is the raw one until `adjust_family`.
pub fn paired_test(
    agent: &str,
    from: (&str, &BTreeMap<String, TaskScore>),
    to: (&str, &BTreeMap<String, TaskScore>),
) -> Option<Regression> {
    let (lost, gained, same) = discordant(from.1, to.1);
    let shared = lost + gained + same;
    if shared == 0 {
        return None;
    }
    let (mut merged_before, mut merged_after) = (0u64, 0u64);
    for (task, before) in from.1 {
        if let Some(after) = to.1.get(task) {
            merged_before += before.merged() as u64;
            merged_after += after.merged() as u64;
        }
    }
    let p_value = mcnemar_exact(lost, gained);
    Some(Regression {
        agent: agent.to_string(),
        from_eval: from.0.to_string(),
        to_eval: to.0.to_string(),
        shared_tasks: shared,
        from_rate: merged_before as f64 / shared as f64,
        to_rate: merged_after as f64 / shared as f64,
        lost,
        gained,
        p_value,
        adjusted_p: p_value,
        family: 1,
        correction: Correction::None,
        flagged: false,
    })
}

/// How the adjusted p-value reads: `Holm-adjusted over 5 agents p = 0.16`.
pub fn adjusted_text(correction: Correction, family: usize, adjusted_p: f64) -> String {
    let p = format_p(adjusted_p);
    let tests = if family == 1 {
        "1 agent".to_string()
    } else {
        format!("{family} agents")
    };
    match correction {
        Correction::Holm => format!("Holm-adjusted over {tests} {p}"),
        Correction::Bh => format!("Benjamini–Hochberg-adjusted over {tests} {p}"),
        Correction::None => "not adjusted".to_string(),
    }
}

/// Adjusts one night's tests (one per agent) together under `policy.correction`.
pub fn adjust_family(tests: &mut [&mut Regression], policy: &RegressionPolicy) {
    let raw: Vec<f64> = tests.iter().map(|t| t.p_value).collect();
    for (t, adjusted) in tests.iter_mut().zip(policy.correction.adjust(&raw)) {
        t.adjusted_p = adjusted;
        t.family = raw.len();
        t.correction = policy.correction;
    }
}

/// A test is a regression when the agent lost more tasks than it gained, the adjusted
/// p-value is below α, and the drop is at least the policy's smallest.
pub fn is_regression(t: &Regression, policy: &RegressionPolicy) -> bool {
    t.lost > t.gained && t.adjusted_p < policy.alpha && t.from_rate - t.to_rate >= policy.min_drop
}

pub fn build(
    nights: &[Night],
    scores: &[BTreeMap<String, BTreeMap<String, TaskScore>>],
    policy: RegressionPolicy,
    declared: &std::collections::HashMap<String, String>,
) -> History {
    let agents: std::collections::BTreeSet<&String> =
        scores.iter().flat_map(|n| n.keys()).collect();
    let mut series: Vec<Series> = agents
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
                let test = previous.and_then(|p| {
                    paired_test(
                        agent,
                        (&nights[p].evaluation.id, &scores[p][agent]),
                        (&nights[i].evaluation.id, tasks),
                    )
                });
                points.push(Some(Point {
                    tasks: tasks.len(),
                    merge_rate: {
                        let ids: Vec<&str> = tasks.keys().map(String::as_str).collect();
                        let most = tasks.values().map(|s| s.attempts).max().unwrap_or(0);
                        let (groups, _) = super::clusters::assign(&ids, declared, most);
                        cluster_mean_ci(&merge, &groups)
                    },
                    resolved_rate: resolved,
                    regression: None,
                    test,
                }));
                previous = Some(i);
            }
            Series {
                agent: agent.clone(),
                points,
            }
        })
        .collect();
    // Each night's tests form one family: adjusted together, then flagged.
    for i in 0..nights.len() {
        let mut family: Vec<&mut Regression> = series
            .iter_mut()
            .filter_map(|s| s.points.get_mut(i)?.as_mut()?.test.as_mut())
            .collect();
        adjust_family(&mut family, &policy);
        for s in &mut series {
            if let Some(Some(p)) = s.points.get_mut(i) {
                if let Some(t) = p.test.as_mut() {
                    t.flagged = is_regression(t, &policy);
                    p.regression = t.flagged.then(|| t.clone());
                }
            }
        }
    }
    History {
        nights: nights
            .iter()
            .map(|n| NightInfo::of(&n.evaluation))
            .collect(),
        series,
        policy,
    }
}

/// A p-value as reports print it.
pub fn format_p(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else if p < 0.01 {
        format!("p = {p:.3}")
    } else {
        format!("p = {p:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores on `n` tasks where the listed ones merged (one attempt each).
    fn night(n: usize, merged: &[usize]) -> BTreeMap<String, TaskScore> {
        (0..n)
            .map(|t| {
                let m = merged.contains(&t) as u64;
                (
                    format!("t{t:02}"),
                    TaskScore {
                        attempts: 1,
                        resolved: m,
                        merged: m,
                    },
                )
            })
            .collect()
    }

    fn family(policy: &RegressionPolicy, lost: &[usize]) -> Vec<Regression> {
        // Every agent merged all 20 tasks the night before and loses `lost[i]` of them.
        let before = night(20, &(0..20).collect::<Vec<_>>());
        let mut tests: Vec<Regression> = lost
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let after = night(20, &(*l..20).collect::<Vec<_>>());
                paired_test(&format!("a{i}"), ("e1", &before), ("e2", &after)).unwrap()
            })
            .collect();
        adjust_family(&mut tests.iter_mut().collect::<Vec<_>>(), policy);
        for t in &mut tests {
            t.flagged = is_regression(t, policy);
        }
        tests
    }

    #[test]
    fn a_lone_drop_among_many_agents_is_not_a_regression_under_holm() {
        // Six tasks lost, none gained: p = 2/2^6 = 0.03125, significant alone at 0.05.
        let holm = RegressionPolicy::default();
        let alone = family(&holm, &[6]);
        assert!((alone[0].p_value - 0.03125).abs() < 1e-12);
        assert!(alone[0].flagged, "one agent: Holm is no adjustment");
        // Among five agents (four unchanged, p = 1): 5 × 0.03125 = 0.156, not flagged.
        let five = family(&holm, &[6, 0, 0, 0, 0]);
        assert!((five[0].adjusted_p - 0.15625).abs() < 1e-12);
        assert_eq!((five[0].family, five[0].correction), (5, Correction::Holm));
        assert!(!five[0].flagged);
        assert!((five[0].p_value - 0.03125).abs() < 1e-12, "raw p kept");
        // Without adjustment the same drop is flagged.
        let none = RegressionPolicy {
            correction: Correction::None,
            ..holm
        };
        assert!(family(&none, &[6, 0, 0, 0, 0])[0].flagged);
        // A clear drop (10 lost: p = 2/1024) survives Holm over five agents (0.0098).
        let clear = family(&holm, &[10, 0, 0, 0, 0]);
        assert!((clear[0].adjusted_p - 10.0 / 1024.0).abs() < 1e-12);
        assert!(clear[0].flagged);
        assert!(clear[1..].iter().all(|t| !t.flagged && t.adjusted_p == 1.0));
    }

    #[test]
    fn benjamini_hochberg_flags_several_moderate_drops_holm_would_not() {
        // Three agents lose 7 tasks each (p = 2/128 = 0.0156): Holm's smallest adjusted is
        // 3 × 0.0156 = 0.047 and then monotone, so all three are flagged; with one more
        // agent unchanged Holm gives 4 × 0.0156 = 0.0625 (none), BH 4/3 × 0.0156 = 0.021 (all).
        let holm = RegressionPolicy::default();
        let bh = RegressionPolicy {
            correction: Correction::Bh,
            ..holm
        };
        let h = family(&holm, &[7, 7, 7, 0]);
        assert!(h.iter().all(|t| !t.flagged), "{h:?}");
        assert!((h[0].adjusted_p - 0.0625).abs() < 1e-12);
        let b = family(&bh, &[7, 7, 7, 0]);
        assert_eq!(b.iter().filter(|t| t.flagged).count(), 3);
        assert!((b[0].adjusted_p - 4.0 / 3.0 * 2.0 / 128.0).abs() < 1e-12);
        assert_eq!(
            adjusted_text(b[0].correction, b[0].family, b[0].adjusted_p),
            "Benjamini–Hochberg-adjusted over 4 agents p = 0.02"
        );
        // A gain is never a regression, however significant.
        let mut gain = paired_test(
            "g",
            ("e1", &night(20, &[])),
            ("e2", &night(20, &(0..10).collect::<Vec<_>>())),
        )
        .unwrap();
        gain.adjusted_p = gain.p_value;
        assert!(gain.p_value < 0.01 && !is_regression(&gain, &holm));
    }
}
