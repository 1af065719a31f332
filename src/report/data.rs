//! What a report is built from: the reported evaluation and the nights before it, each with
//! its attempt rows, plus the task dates and patch texts. `load` is the only part of the
//! report module that reads the store.

use crate::error::Error;
use crate::store::{AttemptRow, Evaluation, Store};
use std::collections::{BTreeMap, HashMap};

/// One evaluation and its attempts: a point in the history.
#[derive(Debug, Clone)]
pub struct Night {
    pub evaluation: Evaluation,
    pub rows: Vec<AttemptRow>,
    /// Whether a judge judged this evaluation (then mergeable needs a merge verdict). Fixed
    /// at load, so that filtering tasks out cannot change what mergeable means.
    pub judged: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ReportData {
    /// Oldest first; the last one is the evaluation being reported.
    pub nights: Vec<Night>,
    /// When each task's fix landed, by task hash (absent: unknown).
    pub task_created: HashMap<String, String>,
    /// Patch texts by sha256, for the patches of the reported night (lossy UTF-8).
    pub patches: BTreeMap<String, String>,
    /// The reviewers' verdict on each labeled (task hash, patch sha256): dev-split labels
    /// only (held-out labels stay behind the holdout wall), majority of each reviewer's
    /// latest label, ties to the more cautious verdict.
    pub human: HashMap<(String, String), String>,
    /// Each task's declared cluster, by task hash (absent: the task is its own cluster).
    pub clusters: HashMap<String, String>,
}

impl ReportData {
    pub fn current(&self) -> Option<&Night> {
        self.nights.last()
    }

    /// Keeps only attempts on tasks created after `since` (YYYY-MM-DD): tasks an agent
    /// cannot have seen in training. A task with no recorded date is dropped, since nothing
    /// shows it is new.
    pub fn keep_tasks_since(&mut self, since: &str) {
        let created = &self.task_created;
        for n in &mut self.nights {
            n.rows.retain(|r| {
                created
                    .get(&r.task_hash)
                    .is_some_and(|d| d.as_str() > since)
            });
        }
    }
}

/// Which evaluations a report covers.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    /// The evaluation to report (default: the latest).
    pub eval: Option<&'a str>,
    /// How many nights of history, the reported one included.
    pub history: usize,
    /// Only evaluations that ran all of these agents (compare picks its evaluation this way).
    pub agents: &'a [String],
}

/// Reads the reported evaluation, the `history - 1` evaluations of the same suite before it,
/// task dates, and the patches of the reported evaluation.
pub fn load(store: &Store, sel: &Selection<'_>) -> Result<ReportData, Error> {
    let all = store.evaluations()?;
    let has_agents = |e: &Evaluation| sel.agents.iter().all(|a| e.agents.contains(a));
    let current = match sel.eval {
        Some(id) => all.iter().find(|e| e.id == id).cloned().ok_or_else(|| {
            Error::Usage(format!(
                "no evaluation `{id}` in {}",
                store.path().display()
            ))
        })?,
        None => all
            .iter()
            .rev()
            .find(|e| has_agents(e))
            .cloned()
            .ok_or_else(|| {
                Error::Usage(if sel.agents.is_empty() {
                    format!(
                        "no evaluation in {} yet: run `mergebench run` or `mergebench demo` first",
                        store.path().display()
                    )
                } else {
                    format!(
                        "no evaluation in {} ran {}",
                        store.path().display(),
                        sel.agents.join(" and ")
                    )
                })
            })?,
    };
    let pos = all.iter().position(|e| e.id == current.id).unwrap_or(0);
    let mut evals: Vec<Evaluation> = all[..pos]
        .iter()
        .filter(|e| e.suite == current.suite)
        .cloned()
        .collect();
    let keep = sel.history.max(1) - 1;
    if evals.len() > keep {
        evals.drain(..evals.len() - keep);
    }
    evals.push(current);
    let ids: Vec<String> = evals.iter().map(|e| e.id.clone()).collect();
    let nights: Vec<Night> = evals
        .into_iter()
        .zip(store.attempts_for_reports(&ids)?)
        .map(|(evaluation, rows)| Night {
            evaluation,
            judged: crate::score::merge::judged(&rows),
            rows,
        })
        .collect();
    let mut patches = BTreeMap::new();
    if let Some(n) = nights.last() {
        for r in &n.rows {
            if let Some(sha) = &r.patch_sha256 {
                if !patches.contains_key(sha) {
                    if let Some(bytes) = store.patch(sha)? {
                        patches.insert(sha.clone(), String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
            }
        }
    }
    Ok(ReportData {
        nights,
        task_created: store.task_created_dates()?,
        patches,
        human: human_verdicts(store.dev_labels()?),
        clusters: store.task_clusters()?,
    })
}

/// Majority of each reviewer's latest verdict per item; a tie goes to the more cautious one.
pub fn human_verdicts(labels: Vec<crate::store::LabelRecord>) -> HashMap<(String, String), String> {
    let mut latest: HashMap<(String, String, String), (i64, String)> = HashMap::new();
    for l in labels {
        let key = (l.task_hash, l.patch_sha256, l.reviewer);
        if latest.get(&key).is_none_or(|(id, _)| *id < l.id) {
            latest.insert(key, (l.id, l.verdict));
        }
    }
    let mut votes: HashMap<(String, String), [u32; 3]> = HashMap::new();
    for ((task, patch, _), (_, verdict)) in latest {
        let slot = match verdict.as_str() {
            "merge" => 0,
            "revise" => 1,
            _ => 2,
        };
        votes.entry((task, patch)).or_default()[slot] += 1;
    }
    votes
        .into_iter()
        .map(|(k, v)| {
            // `v` is an array of three counts, so it has a largest.
            let best = v.iter().copied().max().unwrap_or_default();
            // Most cautious among the most voted: reject, then revise, then merge.
            let verdict = if v[2] == best {
                "reject"
            } else if v[1] == best {
                "revise"
            } else {
                "merge"
            };
            (k, verdict.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(id: i64, patch: &str, reviewer: &str, verdict: &str) -> crate::store::LabelRecord {
        crate::store::LabelRecord {
            id,
            task_id: "t".into(),
            task_hash: "th".into(),
            patch_sha256: patch.into(),
            reviewer: reviewer.into(),
            verdict: verdict.into(),
            reasons: vec![],
            comment: String::new(),
            seconds: None,
            rubric_version: "r".into(),
            source: "test".into(),
            created_at: String::new(),
        }
    }

    #[test]
    fn human_verdicts_take_each_reviewers_latest_then_the_majority() {
        let h = human_verdicts(vec![
            // p1: ana changed her mind to merge; ben and cy merge too.
            label(1, "p1", "ana", "reject"),
            label(2, "p1", "ben", "merge"),
            label(3, "p1", "ana", "merge"),
            label(4, "p1", "cy", "merge"),
            // p2: a tie between merge and revise goes to the more cautious one.
            label(5, "p2", "ana", "merge"),
            label(6, "p2", "ben", "revise"),
        ]);
        assert_eq!(h[&("th".to_string(), "p1".to_string())], "merge");
        assert_eq!(h[&("th".to_string(), "p2".to_string())], "revise");
        assert_eq!(h.len(), 2);
    }
}
