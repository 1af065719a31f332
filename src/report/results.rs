//! The results of an evaluation: every attempt with its judge verdict and whether it is
//! mergeable, and per agent the resolved and merge rates with their 95% bootstrap intervals
//! (clustered: see `clusters`) and pass@k. Pure: rows in, summary out.

use super::clusters::{self, Clustering};
use crate::score::merge::{conventions_passed, judged, mergeable, tier};
use crate::score::outcome::Outcome;
use crate::stats::{cluster_mean_ci, pass_at_k, Interval};
use crate::store::AttemptRow;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// `pass`, `pass, 2 warn`, `fail, 1 err 2 warn`, or `-` when not scored.
fn conventions_cell(r: &AttemptRow) -> String {
    let Some(c) = r.conventions.as_ref() else {
        return "-".into();
    };
    let (errors, warnings) = (
        c["errors"].as_u64().unwrap_or(0),
        c["warnings"].as_u64().unwrap_or(0),
    );
    let warn = if warnings > 0 {
        format!(" {warnings} warn")
    } else {
        String::new()
    };
    match conventions_passed(r) {
        Some(true) if warnings > 0 => format!("pass,{warn}"),
        Some(true) => "pass".into(),
        Some(false) => format!("fail, {errors} err{warn}"),
        None => "-".into(),
    }
}

/// An attempt as `results --json` shows it.
#[derive(Debug, Serialize)]
pub struct AttemptView<'a> {
    #[serde(flatten)]
    pub row: &'a AttemptRow,
    pub mergeable: bool,
}

pub fn views(rows: &[AttemptRow]) -> Vec<AttemptView<'_>> {
    let judged = judged(rows);
    rows.iter()
        .map(|row| AttemptView {
            row,
            mergeable: mergeable(row, judged),
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct AgentSummary {
    pub agent: String,
    pub tasks: usize,
    pub attempts: usize,
    /// Over tasks: each task scores the share of its attempts that resolved.
    pub resolved_rate: Interval,
    /// Over tasks, like the resolved rate: the headline figure.
    pub merge_rate: Interval,
    /// pass@k for k = 1..=attempts per task (only when attempts > 1).
    pub pass_at_k: BTreeMap<u32, f64>,
    pub outcomes: BTreeMap<Outcome, usize>,
    /// Infra errors are reported apart and do not count against the agent.
    pub infra_errors: usize,
    pub scope_violations: usize,
    pub tests_tampered: usize,
    /// Attempts the judge has a verdict (or judge_error) for.
    pub judged: usize,
    pub judge_injection_suspected: usize,
    /// Connections the egress proxy refused, over all attempts.
    pub egress_refused: u64,
    /// How the intervals group tasks.
    pub clustering: Clustering,
}

/// Per agent; `clusters` is each task's declared cluster by task hash (`Store::task_clusters`).
pub fn summarize(rows: &[AttemptRow], clusters: &HashMap<String, String>) -> Vec<AgentSummary> {
    let declared = clusters::of_rows(rows, clusters);
    let judged_eval = judged(rows);
    let mut by_agent: BTreeMap<&str, Vec<&AttemptRow>> = BTreeMap::new();
    for r in rows {
        by_agent.entry(&r.key.agent).or_default().push(r);
    }
    by_agent
        .into_iter()
        .map(|(agent, rows)| {
            let mut per_task: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
            let mut merged: BTreeMap<&str, u64> = BTreeMap::new();
            let mut outcomes = BTreeMap::new();
            for r in &rows {
                *outcomes.entry(r.run.outcome).or_default() += 1;
                if r.run.outcome == Outcome::InfraError {
                    continue;
                }
                let e = per_task.entry(&r.key.task_id).or_default();
                e.0 += 1;
                if r.run.outcome == Outcome::Resolved {
                    e.1 += 1;
                }
                *merged.entry(&r.key.task_id).or_default() += mergeable(r, judged_eval) as u64;
            }
            let scores: Vec<f64> = per_task
                .values()
                .map(|(n, c)| *c as f64 / *n as f64)
                .collect();
            let merge_scores: Vec<f64> = per_task
                .iter()
                .map(|(t, (n, _))| merged[t] as f64 / *n as f64)
                .collect();
            let min_n = per_task.values().map(|(n, _)| *n).min().unwrap_or(0);
            let max_n = per_task.values().map(|(n, _)| *n).max().unwrap_or(0);
            let ids: Vec<&str> = per_task.keys().copied().collect();
            let (groups, clustering) = clusters::assign(&ids, &declared, max_n);
            let mut pak = BTreeMap::new();
            if min_n > 1 {
                for k in 1..=min_n {
                    let v = per_task
                        .values()
                        .map(|(n, c)| pass_at_k(*n, *c, k))
                        .sum::<f64>()
                        / per_task.len() as f64;
                    pak.insert(k as u32, v);
                }
            }
            AgentSummary {
                agent: agent.to_string(),
                tasks: per_task.len(),
                attempts: rows.len(),
                resolved_rate: cluster_mean_ci(&scores, &groups),
                merge_rate: cluster_mean_ci(&merge_scores, &groups),
                pass_at_k: pak,
                infra_errors: outcomes.get(&Outcome::InfraError).copied().unwrap_or(0),
                outcomes,
                scope_violations: rows.iter().filter(|r| r.run.flags.scope_violation).count(),
                tests_tampered: rows.iter().filter(|r| r.run.flags.tests_tampered).count(),
                judged: rows.iter().filter(|r| r.judge.is_some()).count(),
                judge_injection_suspected: rows
                    .iter()
                    .filter(|r| r.judge.as_ref().is_some_and(|j| j.injection_suspected))
                    .count(),
                egress_refused: rows.iter().map(|r| r.run.flags.egress_refused).sum(),
                clustering,
            }
        })
        .collect()
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn interval(i: &Interval) -> String {
    format!("{} ({}–{})", pct(i.estimate), pct(i.low), pct(i.high))
}

/// The plain-text table `results` and `demo` print.
pub fn render_text(rows: &[AttemptRow], summaries: &[AgentSummary]) -> String {
    let judged_eval = judged(rows);
    let mut out = String::new();
    let mut table = vec![vec![
        "task".to_string(),
        "agent".into(),
        "#".into(),
        "outcome".into(),
        "conventions".into(),
        "tier".into(),
        "judge".into(),
        "mergeable".into(),
        "flags".into(),
        "files".into(),
        "+/-".into(),
        "patch".into(),
        "agent s".into(),
        "tests s".into(),
    ]];
    for r in rows {
        let mut names = r.run.flags.names();
        if r.judge.as_ref().is_some_and(|j| j.injection_suspected) {
            names.push("judge_injection_suspected");
        }
        let mut flags = names.join(",");
        if let Some(code) = r.run.flags.agent_exit_code.filter(|c| *c != 0) {
            if !flags.is_empty() {
                flags.push(',');
            }
            flags.push_str(&format!("exit={code}"));
        }
        if r.run.flags.egress_refused > 0 {
            if !flags.is_empty() {
                flags.push(',');
            }
            flags.push_str(&format!("egress_refused={}", r.run.flags.egress_refused));
        }
        table.push(vec![
            r.key.task_id.clone(),
            r.key.agent.clone(),
            r.key.attempt.to_string(),
            r.run.outcome.to_string(),
            conventions_cell(r),
            tier(r).unwrap_or("-").to_string(),
            r.judge
                .as_ref()
                .map(|j| j.verdict.clone().unwrap_or_else(|| j.status.clone()))
                .unwrap_or_else(|| "-".into()),
            if mergeable(r, judged_eval) {
                "yes"
            } else {
                "no"
            }
            .into(),
            if flags.is_empty() { "-".into() } else { flags },
            r.files_changed.to_string(),
            format!("+{}/-{}", r.lines_added, r.lines_removed),
            r.patch_sha256
                .as_deref()
                .map(|s| s[..12.min(s.len())].to_string())
                .unwrap_or_else(|| "-".into()),
            r.run
                .agent_seconds
                .map(|s| format!("{s:.1}"))
                .unwrap_or_else(|| "-".into()),
            r.run
                .grade_seconds
                .map(|s| format!("{s:.1}"))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    out.push_str(&format_table(&table));
    out.push('\n');
    let mut t2 = vec![vec![
        "agent".to_string(),
        "tasks".into(),
        "resolved (95% CI)".into(),
        "mergeable (95% CI)".into(),
        "pass@k".into(),
        "outcomes".into(),
        "infra".into(),
        "egress refused".into(),
    ]];
    for s in summaries {
        t2.push(vec![
            s.agent.clone(),
            s.tasks.to_string(),
            interval(&s.resolved_rate),
            interval(&s.merge_rate),
            if s.pass_at_k.is_empty() {
                "-".into()
            } else {
                s.pass_at_k
                    .iter()
                    .map(|(k, v)| format!("@{k} {}", pct(*v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            },
            s.outcomes
                .iter()
                .filter(|(o, _)| **o != Outcome::InfraError)
                .map(|(o, n)| format!("{o} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            s.infra_errors.to_string(),
            s.egress_refused.to_string(),
        ]);
    }
    out.push_str(&format_table(&t2));
    let mut notes: Vec<&str> = Vec::new();
    for s in summaries {
        if !notes.contains(&s.clustering.note.as_str()) {
            notes.push(&s.clustering.note);
        }
    }
    for n in notes {
        out.push_str(&format!("95% intervals: {n}\n"));
    }
    out
}

pub fn format_table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map(|s| s.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            // Padded by hand: `format!`'s width stops at 65,535, and a cell may be longer.
            .map(|(c, s)| {
                let pad = widths[c].saturating_sub(s.chars().count());
                format!("{s}{}", " ".repeat(pad))
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(
                &widths
                    .iter()
                    .map(|w| "-".repeat(*w))
                    .collect::<Vec<_>>()
                    .join("  "),
            );
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::outcome::Flags;
    use crate::store::{AttemptKey, AttemptRun};

    fn row(agent: &str, task: &str, attempt: u32, outcome: Outcome) -> AttemptRow {
        AttemptRow {
            id: 0,
            key: AttemptKey {
                eval_id: "e".into(),
                task_id: task.into(),
                task_hash: "h".into(),
                agent: agent.into(),
                agent_hash: "a".into(),
                attempt,
            },
            run: AttemptRun {
                outcome,
                flags: Flags::default(),
                grader_version: "g".into(),
                ..Default::default()
            },
            patch_sha256: None,
            raw_patch_sha256: None,
            grade: None,
            mergebench_version: "x".into(),
            files_changed: 0,
            lines_added: 0,
            lines_removed: 0,
            conventions: None,
            judge: None,
        }
    }

    #[test]
    fn rates_are_over_tasks_and_infra_errors_apart() {
        use Outcome::*;
        let rows = vec![
            row("a", "t1", 1, Resolved),
            row("a", "t1", 2, Unresolved),
            row("a", "t2", 1, Resolved),
            row("a", "t2", 2, Resolved),
            row("b", "t1", 1, InfraError),
            row("b", "t2", 1, EmptyPatch),
        ];
        let s = summarize(&rows, &HashMap::new());
        assert_eq!(s[0].agent, "a");
        assert!((s[0].resolved_rate.estimate - 0.75).abs() < 1e-12);
        assert!((s[0].pass_at_k[&1] - 0.75).abs() < 1e-12);
        assert!((s[0].pass_at_k[&2] - 1.0).abs() < 1e-12);
        assert_eq!(s[1].infra_errors, 1);
        assert_eq!(
            s[1].tasks, 1,
            "an infra error is not a task the agent failed"
        );
        assert_eq!(s[1].resolved_rate.estimate, 0.0);
        let text = render_text(&rows, &s);
        assert!(text.contains("75% ("), "{text}");
        assert!(text.contains("95% intervals: cluster bootstrap over 2 tasks, each task's attempts (up to 2) kept together"), "{text}");
        // Both tasks declared in one cluster: nothing to resample between clusters, so the
        // interval stays over tasks and says why.
        let one: HashMap<String, String> = [("h".to_string(), "repo".to_string())].into();
        let c = summarize(&rows, &one);
        assert_eq!((c[0].clustering.by, c[0].clustering.clusters), ("task", 2));
        assert_eq!(c[0].resolved_rate, s[0].resolved_rate);
        assert!(c[0].clustering.note.contains("one declared cluster"));
    }

    fn judged_row(task: &str, outcome: Outcome, verdict: Option<&str>) -> AttemptRow {
        let mut r = row("a", task, 1, outcome);
        r.judge = Some(crate::store::JudgementRow::single_sample("j", "v", verdict));
        r
    }

    #[test]
    fn mergeable_needs_resolved_in_scope_and_a_merge_verdict_when_judged() {
        use Outcome::*;
        // No judge has seen the evaluation: resolved and in scope is mergeable.
        assert!(mergeable(&row("a", "t", 1, Resolved), false));
        assert!(!mergeable(&row("a", "t", 1, Unresolved), false));
        let mut scoped = row("a", "t", 1, Resolved);
        scoped.run.flags.scope_violation = true;
        assert!(!mergeable(&scoped, false));
        // Judged: only a merge verdict counts; a judge_error or no judgement is not a merge.
        assert!(mergeable(&judged_row("t", Resolved, Some("merge")), true));
        assert!(!mergeable(&judged_row("t", Resolved, Some("revise")), true));
        assert!(!mergeable(&judged_row("t", Resolved, None), true));
        assert!(!mergeable(&row("a", "t", 1, Resolved), true));
        assert!(!mergeable(
            &judged_row("t", Unresolved, Some("merge")),
            true
        ));

        let rows = vec![
            judged_row("t1", Resolved, Some("merge")),
            judged_row("t2", Resolved, Some("revise")),
            row("a", "t3", 1, EmptyPatch),
        ];
        let s = summarize(&rows, &HashMap::new());
        assert!((s[0].resolved_rate.estimate - 2.0 / 3.0).abs() < 1e-12);
        assert!((s[0].merge_rate.estimate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(s[0].judged, 2);
        let text = render_text(&rows, &s);
        assert!(
            text.contains("mergeable") && text.contains("revise"),
            "{text}"
        );
        let json = serde_json::to_value(views(&rows)).unwrap();
        assert_eq!(json[0]["mergeable"], true);
        assert_eq!(json[1]["mergeable"], false);
        assert_eq!(json[0]["judge"]["verdict"], "merge");
    }
}
