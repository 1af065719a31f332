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
            judged: crate::results::judged(&rows),
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
    })
}
