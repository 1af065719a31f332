//! Generated stores: nights of attempts with realistic spreads of outcomes, conventions,
//! verdicts, times and costs, written through the store API. The leaderboard benchmark fills
//! one with 100,000 attempts; tests use small ones. Deterministic for a given seed.

use crate::error::Error;
use crate::repo::patch::Patch;
use crate::score::outcome::{Flags, Outcome};
use crate::store::{AttemptKey, AttemptRun, JudgementRow, NewAttempt, NewEvaluation, Store, Usage};
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone)]
pub struct SyntheticOptions {
    pub suite: String,
    pub nights: usize,
    /// Agent names with the probability that an attempt of theirs is mergeable.
    pub agents: Vec<(String, f64)>,
    pub tasks: usize,
    pub attempts: u32,
    pub seed: u64,
}

impl SyntheticOptions {
    /// About `total` attempts: 10 nights, 5 agents, 4 attempts per task.
    pub fn sized(total: usize) -> SyntheticOptions {
        let (nights, agents, attempts) = (10, 5, 4);
        SyntheticOptions {
            suite: "synthetic".into(),
            nights,
            agents: ["alpha", "bravo", "charlie", "delta", "echo"]
                .iter()
                .zip([0.55, 0.48, 0.40, 0.25, 0.10])
                .map(|(n, p)| (n.to_string(), p))
                .collect(),
            tasks: (total / (nights * agents * attempts as usize)).max(1),
            attempts,
            seed: 42,
        }
    }

    pub fn total(&self) -> usize {
        self.nights * self.agents.len() * self.tasks * self.attempts as usize
    }
}

fn task_id(i: usize) -> String {
    format!("task-{i:05}")
}

fn patch_for(task: usize, agent: &str, variant: u32) -> Patch {
    Patch::new(
        format!(
            "diff --git a/src/module_{task}.py b/src/module_{task}.py\n--- a/src/module_{task}.py\n+++ b/src/module_{task}.py\n@@ -1,3 +1,3 @@\n def f(x):\n-    return x - 1\n+    return x + 1  # {agent} v{variant} <fix>\n \n"
        )
        .into_bytes(),
    )
}

/// Fills `store` with `opts.nights` evaluations; returns their ids, oldest first.
pub fn fill(store: &Store, opts: &SyntheticOptions) -> Result<Vec<String>, Error> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
    for t in 0..opts.tasks {
        let month = 1 + t % 12;
        store.save_task(
            &format!("hash-{t}"),
            &opts.suite,
            &task_id(t),
            &format!("Task {t}"),
            Some(&format!("2026-{month:02}-01")),
            "{}",
        )?;
    }
    let mut ids = Vec::new();
    for night in 0..opts.nights {
        let eval = store.open_evaluation(
            NewEvaluation {
                key: format!("synthetic-{night}"),
                suite: opts.suite.clone(),
                suite_dir: format!("tasks/{}", opts.suite),
                agents: opts.agents.iter().map(|(a, _)| a.clone()).collect(),
                attempts: opts.attempts,
                label: Some(format!("night {}", night + 1)),
                shard: None,
                manifest: None,
            },
            true,
        )?;
        for (agent, skill) in &opts.agents {
            let mut batch = Vec::with_capacity(opts.tasks * opts.attempts as usize);
            let mut verdicts = Vec::new();
            for t in 0..opts.tasks {
                // Task difficulty is shared by agents and nights, so results are paired.
                let difficulty = ((t * 7919) % 100) as f64 / 100.0;
                // The agent's two variants of its patch for this task, hashed once.
                let variants = [patch_for(t, agent, 0), patch_for(t, agent, 1)];
                for attempt in 1..=opts.attempts {
                    let u: f64 = rng.gen();
                    let p_merge = (skill * 1.6 * (1.0 - difficulty)).min(0.95);
                    let (outcome, merge) = if u < 0.004 {
                        (Outcome::InfraError, false)
                    } else if u < p_merge {
                        (Outcome::Resolved, true)
                    } else if u < p_merge + 0.2 {
                        (Outcome::Resolved, false)
                    } else if u < p_merge + 0.3 {
                        (Outcome::EmptyPatch, false)
                    } else {
                        (Outcome::Unresolved, false)
                    };
                    let patch = (outcome != Outcome::EmptyPatch && outcome != Outcome::InfraError)
                        .then(|| variants[(attempt % 2) as usize].clone());
                    let conventions_pass = merge || rng.gen::<f64>() < 0.5;
                    let tier = ["trivial", "low", "medium", "high"][rng.gen_range(0..4)];
                    batch.push(NewAttempt {
                        key: AttemptKey {
                            eval_id: eval.id.clone(),
                            task_id: task_id(t),
                            task_hash: format!("hash-{t}"),
                            agent: agent.clone(),
                            agent_hash: format!("{agent}-hash"),
                            attempt,
                        },
                        run: AttemptRun {
                            outcome,
                            flags: Flags {
                                scope_violation: !merge && rng.gen::<f64>() < 0.03,
                                ..Flags::default()
                            },
                            agent_seconds: Some(20.0 + rng.gen::<f64>() * 200.0),
                            grade_seconds: Some(5.0),
                            total_seconds: Some(30.0),
                            usage: Some(Usage {
                                model: Some(format!("{agent}-model")),
                                input_tokens: Some(20_000),
                                output_tokens: Some(2_000),
                                cost_usd: Some(0.05 + skill * 0.2),
                            }),
                            grader_version: "synthetic".into(),
                            ..Default::default()
                        },
                        conventions_json: patch.as_ref().map(|_| {
                            format!("{{\"passed\":{conventions_pass},\"tier\":\"{tier}\",\"errors\":0}}")
                        }),
                        raw_patch: patch.clone(),
                        graded_patch: patch.clone(),
                        ..Default::default()
                    });
                    if patch.is_some() {
                        verdicts.push((batch.len() - 1, merge));
                    }
                }
            }
            let ids = store.record_attempts(&batch)?;
            drop(batch);
            let judgements: Vec<(i64, JudgementRow)> = verdicts
                .into_iter()
                .map(|(i, merge)| {
                    let verdict = if merge { "merge" } else { "revise" };
                    (
                        ids[i],
                        JudgementRow::single_sample("synthetic", "v1", Some(verdict)),
                    )
                })
                .collect();
            store.save_judgements(&judgements)?;
        }
        store.finish_evaluation(&eval.id)?;
        ids.push(eval.id);
    }
    Ok(ids)
}
