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
