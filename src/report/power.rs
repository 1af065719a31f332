//! `report power`: how many tasks a comparison needs to detect a given difference in merge
//! rate at 80% power (two-sided α = 0.05, paired on the same tasks), from an evaluation's own
//! discordance, clusters and attempts when one is given, else from an assumed base rate with
//! the two agents independent (the conservative case). Pure.

use super::compare::Comparison;
use crate::stats::paired_tasks_needed;
use serde::Serialize;

/// What the plan is built from, as given on the command line.
#[derive(Debug, Clone, Copy)]
pub struct PowerRequest {
    /// The difference to detect, in rate units (0.05 = 5 points).
    pub diff: f64,
    pub base_rate: Option<f64>,
    pub attempts: Option<u64>,
}

pub const DEFAULT_BASE_RATE: f64 = 0.4;

#[derive(Debug, Clone, Serialize)]
pub struct PowerPlan {
    pub diff: f64,
    /// The mean squared per-task difference the figure rests on (for one attempt per task:
    /// the share of tasks where the agents differ).
    pub discordance: f64,
    /// Where the discordance comes from, in words.
    pub discordance_from: String,
    pub attempts: u64,
    /// Clustering's inflation of the tasks needed (1 without declared clusters).
    pub design_effect: f64,
    /// None when no number of tasks would do (the difference cannot exist at this
    /// discordance).
    pub tasks_needed: Option<u64>,
    /// The evaluation the figures come from, if any.
    pub evaluation: Option<String>,
    pub notes: Vec<String>,
    pub sentence: String,
}

/// The plan for `req`, from `observed` (a comparison of two agents) when given.
pub fn plan(req: PowerRequest, observed: Option<&Comparison>) -> Result<PowerPlan, String> {
    let mut notes = Vec::new();
    let (discordance, from, attempts, design_effect, evaluation) = match observed {
        Some(c) => {
            let p = &c.power;
            if req.base_rate.is_some() {
                notes.push(
                    "--base-rate is not used: the evaluation's own discordance already holds it"
                        .to_string(),
                );
            }
            let k0 = p.attempts_per_task.max(1.0);
            let k = req.attempts.unwrap_or(k0.round() as u64).max(1);
            let mut psi = p.discordance;
            if req.attempts.is_some() && (k as f64 - k0).abs() > 1e-9 {
                if p.within_task_variance > 0.0 {
                    // The within-task part of the discordance shrinks as 1/attempts.
                    psi = (psi - p.within_task_variance / k0 + p.within_task_variance / k as f64)
                        .max(0.0);
                    notes.push(format!(
                        "projected from {k0:.1} to {k} attempts per task with the within-task variance the evaluation measured"
                    ));
                } else {
                    notes.push(format!(
                        "the evaluation had {k0:.0} attempt(s) per task, so what more attempts would gain cannot be measured; none is assumed"
                    ));
                }
            }
            if p.design_effect > 1.0 + 1e-9 {
                notes.push(format!(
                    "tasks needed are multiplied by the design effect {:.1} of the suite's declared clusters",
                    p.design_effect
                ));
            }
            (
                psi,
                format!(
                    "observed: {} and {} differ by {:.0}% on their {} shared tasks in evaluation {}",
                    c.a.agent,
                    c.b.agent,
                    p.discordance * 100.0,
                    c.shared_tasks,
                    c.evaluation.id
                ),
                k,
                p.design_effect,
                Some(c.evaluation.id.clone()),
            )
        }
        None => {
            let base = req.base_rate.unwrap_or(DEFAULT_BASE_RATE);
            let other = base + req.diff;
            if other > 1.0 {
                return Err(format!(
                    "--base-rate {base} plus --diff {} points is more than 100%: lower one of them",
                    req.diff * 100.0
                ));
            }
            let k = req.attempts.unwrap_or(1).max(1);
            if k > 1 {
                notes.push(
                    "without an evaluation, attempts are assumed to agree within a task (the conservative case): give --eval with --a and --b to use the measured within-task variance"
                        .to_string(),
                );
            }
            (
                base * (1.0 - other) + other * (1.0 - base),
                format!(
                    "assumed: merge rates {:.0}% and {:.0}%, the agents independent across tasks (the conservative case: real agents usually agree more, so fewer tasks may do)",
                    base * 100.0,
                    other * 100.0
                ),
                k,
                1.0,
                None,
            )
        }
    };
    let tasks_needed =
        paired_tasks_needed(req.diff, discordance).map(|n| (n * design_effect).ceil() as u64);
    let sentence = match tasks_needed {
        Some(n) => format!(
            "To detect a {:.0}-point difference in merge rate at 80% power (two-sided α = 0.05, both agents on the same tasks): {n} tasks.",
            req.diff * 100.0
        ),
        None => format!(
            "A {:.0}-point difference cannot occur with a discordance of {:.0}%: no number of tasks applies.",
            req.diff * 100.0,
            discordance * 100.0
        ),
    };
    Ok(PowerPlan {
        diff: req.diff,
        discordance,
        discordance_from: from,
        attempts,
        design_effect,
        tasks_needed,
        evaluation,
        notes,
        sentence,
    })
}

/// The plain-text answer.
pub fn render_text(p: &PowerPlan) -> String {
    let mut out = format!(
        "{}\n  discordance {:.1}% ({})\n",
        p.sentence,
        p.discordance * 100.0,
        p.discordance_from
    );
    for n in &p.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_evaluation_the_agents_are_taken_as_independent() {
        // 40% vs 50%: ψ = 0.4·0.5 + 0.5·0.6 = 0.5, 390.08 → 391 tasks.
        let p = plan(
            PowerRequest {
                diff: 0.10,
                base_rate: None,
                attempts: None,
            },
            None,
        )
        .unwrap();
        assert!((p.discordance - 0.5).abs() < 1e-12);
        assert_eq!(p.tasks_needed, Some(391));
        assert!(p.sentence.contains("10-point") && p.sentence.contains("391 tasks"));
        // 5 points at a 20% base rate: ψ = 0.2·0.75 + 0.25·0.8 = 0.35.
        let p = plan(
            PowerRequest {
                diff: 0.05,
                base_rate: Some(0.2),
                attempts: Some(3),
            },
            None,
        )
        .unwrap();
        assert!((p.discordance - 0.35).abs() < 1e-12);
        let want = paired_tasks_needed(0.05, 0.35).unwrap().ceil() as u64;
        assert_eq!(p.tasks_needed, Some(want));
        assert_eq!(p.notes.len(), 1, "attempts are said to be assumed useless");
        let e = plan(
            PowerRequest {
                diff: 0.5,
                base_rate: Some(0.7),
                attempts: None,
            },
            None,
        )
        .unwrap_err();
        assert!(e.contains("--base-rate") && e.contains("100%"), "{e}");
    }
}
