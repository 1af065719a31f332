//! One agent's result on each task: how many attempts, how many resolved, how many
//! mergeable. Infra errors are left out: they are not the agent's doing. Paired tests work on
//! a task's binary result: merged when most of its attempts are mergeable (with one attempt,
//! that attempt). The scores come from the store's tallies (`scores_by_agent`) or, for one
//! evaluation's rows, from the rows themselves (`per_task`).

use crate::score::merge::mergeable;
use crate::score::outcome::Outcome;
use crate::store::{AttemptRow, TaskTally};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskScore {
    pub attempts: u64,
    pub resolved: u64,
    pub merged: u64,
}

impl TaskScore {
    pub fn merge_share(&self) -> f64 {
        self.merged as f64 / self.attempts as f64
    }

    pub fn resolved_share(&self) -> f64 {
        self.resolved as f64 / self.attempts as f64
    }

    /// The task's binary result for paired tests.
    pub fn merged(&self) -> bool {
        2 * self.merged > self.attempts
    }
}

/// Per task id, for the attempts of one agent; `judged` says whether the evaluation was
/// judged (then mergeable needs a merge verdict).
pub fn per_task<'a>(
    rows: impl IntoIterator<Item = &'a AttemptRow>,
    judged: bool,
) -> BTreeMap<String, TaskScore> {
    let mut out: BTreeMap<String, TaskScore> = BTreeMap::new();
    for r in rows {
        if r.run.outcome == Outcome::InfraError {
            continue;
        }
        let s = out.entry(r.key.task_id.clone()).or_default();
        s.attempts += 1;
        s.resolved += (r.run.outcome == Outcome::Resolved) as u64;
        s.merged += mergeable(r, judged) as u64;
    }
    out
}

/// Per agent (in name order), per task id: the scores of one evaluation's tallies; `judged`
/// says whether the evaluation was judged. An agent whose every attempt was an infra error
/// is there with no task.
pub fn scores_by_agent<'a>(
    tallies: impl IntoIterator<Item = &'a TaskTally>,
    judged: bool,
) -> BTreeMap<String, BTreeMap<String, TaskScore>> {
    let mut out: BTreeMap<String, BTreeMap<String, TaskScore>> = BTreeMap::new();
    for t in tallies {
        if !out.contains_key(&t.agent) {
            out.insert(t.agent.clone(), BTreeMap::new());
        }
        let Some(tasks) = out.get_mut(&t.agent) else {
            continue;
        };
        if t.counted() == 0 {
            continue;
        }
        if !tasks.contains_key(&t.task_id) {
            tasks.insert(t.task_id.clone(), TaskScore::default());
        }
        if let Some(s) = tasks.get_mut(&t.task_id) {
            s.attempts += t.counted();
            s.resolved += t.resolved;
            s.merged += t.mergeable(judged);
        }
    }
    out
}

/// McNemar's discordant counts on the tasks both score maps share: (only the first merged,
/// only the second merged, both agree).
pub fn discordant(
    first: &BTreeMap<String, TaskScore>,
    second: &BTreeMap<String, TaskScore>,
) -> (u64, u64, u64) {
    let (mut b, mut c, mut same) = (0, 0, 0);
    for (task, a) in first {
        if let Some(z) = second.get(task) {
            match (a.merged(), z.merged()) {
                (true, false) => b += 1,
                (false, true) => c += 1,
                _ => same += 1,
            }
        }
    }
    (b, c, same)
}
