//! Planning a run: the evaluation's key (suite, task and agent hashes, attempts), and which
//! (task, agent, attempt) triples are still to run once finished ones are skipped.

use crate::config::agent::AgentSpec;
use crate::config::suite::{Suite, Task};
use std::collections::HashSet;

/// The same suite, agents and attempts give the same key, so a run resumes its evaluation.
pub fn evaluation_key(suite: &Suite, agents: &[AgentSpec], attempts: u32) -> String {
    let mut s = format!("{}\n{attempts}\n", suite.name);
    for t in &suite.tasks {
        s.push_str(&t.hash);
        s.push('\n');
    }
    for a in agents {
        s.push_str(&a.hash);
        s.push('\n');
    }
    crate::config::sha256_hex(s.as_bytes())
}

/// Every (task, agent, attempt) in suite order that `finished` does not hold, and how many
/// it held.
pub fn plan<'a>(
    tasks: &'a [Task],
    agents: &'a [AgentSpec],
    attempts: u32,
    finished: &HashSet<(String, String, u32)>,
) -> (Vec<(&'a Task, &'a AgentSpec, u32)>, usize) {
    let mut plan = Vec::new();
    let mut skipped = 0;
    for t in tasks {
        for a in agents {
            for n in 1..=attempts {
                if finished.contains(&(t.id.clone(), a.name.clone(), n)) {
                    skipped += 1;
                } else {
                    plan.push((t, a, n));
                }
            }
        }
    }
    (plan, skipped)
}

/// One part of an evaluation (`--shard I/N`): the tasks whose position, in task-id order,
/// is I-1 modulo N. Every attempt of a task lands in one shard, and the same suite gives the
/// same part on any machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Reads `I/N` with 1 ≤ I ≤ N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard `{s}` is not I/N with 1 <= I <= N (for example --shard 1/4)");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether the task at `position` (0-based, in task-id order) belongs to this shard.
    pub fn holds(&self, position: usize) -> bool {
        position % self.count as usize == (self.index - 1) as usize
    }

    /// This shard's tasks, in suite order.
    pub fn tasks(&self, tasks: &[Task]) -> Vec<Task> {
        let mut ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        let mine: HashSet<&str> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| self.holds(*i))
            .map(|(_, id)| *id)
            .collect();
        tasks
            .iter()
            .filter(|t| mine.contains(t.id.as_str()))
            .cloned()
            .collect()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Which tasks and agents, by hash, an evaluation covers: stored with it so that `merge` can
/// say exactly where two shards disagree.
pub fn manifest(suite: &Suite, agents: &[AgentSpec], attempts: u32) -> serde_json::Value {
    serde_json::json!({
        "tasks": suite.tasks.iter().map(|t| (t.id.clone(), t.hash.clone())).collect::<std::collections::BTreeMap<_, _>>(),
        "agents": agents.iter().map(|a| (a.name.clone(), a.hash.clone())).collect::<std::collections::BTreeMap<_, _>>(),
        "attempts": attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_read_strictly() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "1/0", "1", "a/b", "1/2/3", "-1/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_position_lands_in_exactly_one_shard() {
        for count in 1..6 {
            for pos in 0..20 {
                let owners = (1..=count)
                    .filter(|i| Shard { index: *i, count }.holds(pos))
                    .count();
                assert_eq!(owners, 1, "position {pos} of {count} shards");
            }
        }
    }
}
