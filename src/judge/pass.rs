//! Judging an evaluation: every attempt with a non-empty patch, each distinct (patch, task)
//! once, cached samples reused, the budget respected, judgements written per attempt.

use super::budget::{Budget, Spent};
use super::engine::{Halt, Judge};
use super::input::ReviewInput;
use super::judgement::Judgement;
use super::spec::Limits;
use crate::config::suite::Suite;
use crate::error::Error;
use crate::repo::patch::Patch;
use crate::score::outcome::Outcome;
use crate::store::{AttemptRow, Evaluation, Store};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct JudgedAttempt {
    pub attempt_id: i64,
    pub task_id: String,
    pub agent: String,
    pub attempt: u32,
    pub outcome: Outcome,
    pub judgement: Judgement,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub attempt_id: i64,
    pub task_id: String,
    pub agent: String,
    pub attempt: u32,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PassSummary {
    pub evaluation: String,
    pub judge: String,
    pub judge_version: String,
    pub model: String,
    /// Attempts with a patch to judge.
    pub attempts: usize,
    pub judged: Vec<JudgedAttempt>,
    /// Left unjudged because the budget ran out; a later run picks them up.
    pub not_judged: usize,
    pub skipped: Vec<Skipped>,
    /// What this run spent (cached samples cost nothing again).
    pub spent: Spent,
    /// Tokens of this run's requests (cached samples excluded).
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub budget: Limits,
    pub budget_exhausted: bool,
}

pub struct PassOptions {
    pub progress: bool,
}

/// Attempts worth judging: a patch that changes something, and an outcome other than an
/// infra error (which is not the agent's work).
fn wants_judging(r: &AttemptRow) -> bool {
    r.run.outcome != Outcome::InfraError && r.raw_patch_sha256.is_some()
}

pub async fn judge_evaluation(
    store: &Store,
    eval: &Evaluation,
    suite: &Suite,
    judge: &Judge,
    budget: &Budget,
    opts: PassOptions,
) -> Result<PassSummary, Error> {
    let rows = store.attempts(&eval.id)?;
    let mut skipped = Vec::new();
    let skip = |r: &AttemptRow, reason: String| Skipped {
        attempt_id: r.id,
        task_id: r.key.task_id.clone(),
        agent: r.key.agent.clone(),
        attempt: r.key.attempt,
        reason,
    };
    // (patch, task hash) → the attempts that share it, and the input to judge.
    let mut groups: BTreeMap<(String, String), (Vec<AttemptRow>, ReviewInput)> = BTreeMap::new();
    for r in rows.into_iter().filter(wants_judging) {
        // `wants_judging` keeps only attempts with a patch.
        let Some(sha) = r.raw_patch_sha256.clone() else {
            continue;
        };
        let key = (sha.clone(), r.key.task_hash.clone());
        if let Some(g) = groups.get_mut(&key) {
            g.0.push(r);
            continue;
        }
        let Some(bytes) = store.patch(&sha)? else {
            skipped.push(skip(&r, format!("patch {sha} is missing from the store")));
            continue;
        };
        if Patch::new(bytes.clone()).is_empty() {
            continue;
        }
        let Some(task) = suite.tasks.iter().find(|t| t.id == r.key.task_id) else {
            skipped.push(skip(
                &r,
                format!(
                    "task {} is not in the suite at {}",
                    r.key.task_id,
                    suite.dir.display()
                ),
            ));
            continue;
        };
        if task.hash != r.key.task_hash {
            skipped.push(skip(
                &r,
                format!("task {} changed since this attempt ran (its hash differs); judge it with the suite it ran on (--suite)", r.key.task_id),
            ));
            continue;
        }
        let input = ReviewInput::build(task, &r, &bytes);
        groups.insert(key, (vec![r], input));
    }
    let attempts: usize = groups.values().map(|g| g.0.len()).sum();
    let bar = crate::progress::bar(groups.len() as u64, opts.progress);
    bar.set_message(format!("judge {}", judge.spec.name));
    let work = futures_util::stream::iter(groups.into_iter().map(
        |((sha, task_hash), (rows, input))| async move {
            let r = judge.review(store, budget, &sha, &task_hash, &input).await;
            (rows, r)
        },
    ))
    .buffer_unordered(judge.spec.concurrency);
    let mut work = Box::pin(work);
    let mut judged = Vec::new();
    let mut not_judged = 0;
    // Tokens this run spent, counted once per judged patch however many attempts share it.
    let (mut input_tokens, mut output_tokens) = (0, 0);
    let mut halted: Option<Error> = None;
    loop {
        tokio::select! {
            next = work.next() => match next {
                None => break,
                Some((rows, Ok(j))) => {
                    bar.inc(1);
                    for s in j.samples.iter().filter(|s| !s.cached) {
                        input_tokens += s.spend.input_tokens.unwrap_or(0);
                        output_tokens += s.spend.output_tokens.unwrap_or(0);
                    }
                    for r in rows {
                        store.save_judgement(r.id, &j.to_row())?;
                        judged.push(JudgedAttempt {
                            attempt_id: r.id,
                            task_id: r.key.task_id,
                            agent: r.key.agent,
                            attempt: r.key.attempt,
                            outcome: r.run.outcome,
                            judgement: j.clone(),
                        });
                    }
                }
                Some((rows, Err(Halt::Budget))) => {
                    bar.inc(1);
                    not_judged += rows.len();
                }
                Some((_, Err(Halt::Unusable(message)))) => {
                    halted = Some(Error::env(
                        format!("judge `{}` cannot be used: {message}", judge.spec.name),
                        format!("check the provider, model, base_url and key named in {}", judge.spec.file.display()),
                    ));
                    break;
                }
                Some((_, Err(Halt::Error(e)))) => {
                    halted = Some(e);
                    break;
                }
            },
            _ = tokio::signal::ctrl_c() => {
                bar.abandon_with_message("interrupted");
                eprintln!("interrupted: judgements so far are kept and cached samples are reused; run the same command again to continue");
                return Err(Error::Interrupted);
            }
        }
    }
    drop(work);
    if let Some(e) = halted {
        bar.abandon();
        return Err(e);
    }
    bar.finish_and_clear();
    judged
        .sort_by(|a, b| (&a.agent, &a.task_id, a.attempt).cmp(&(&b.agent, &b.task_id, b.attempt)));
    let spent = budget.spent();
    Ok(PassSummary {
        evaluation: eval.id.clone(),
        judge: judge.spec.name.clone(),
        judge_version: judge.spec.version.clone(),
        model: judge.spec.model.clone(),
        attempts,
        input_tokens,
        output_tokens,
        judged,
        not_judged,
        skipped,
        budget: budget.limits(),
        budget_exhausted: spent.exhausted,
        spent,
    })
}

impl PassSummary {
    /// The line a run prints about its judge pass, saying plainly when the budget stopped it.
    pub fn describe(&self) -> String {
        let cached = self
            .judged
            .iter()
            .filter(|j| j.judgement.requests == 0)
            .count();
        let errors = self
            .judged
            .iter()
            .filter(|j| j.judgement.verdict.is_none())
            .count();
        let mut s = format!(
            "judge {} ({}, version {}): {} of {} attempts judged ({} from cache, {} judge_error), {} requests, {} tokens in / {} out, ${:.4}",
            self.judge,
            self.model,
            &self.judge_version[..12],
            self.judged.len(),
            self.attempts,
            cached,
            errors,
            self.spent.requests,
            self.input_tokens,
            self.output_tokens,
            self.spent.cost_usd
        );
        if self.budget_exhausted {
            let mut limits = Vec::new();
            if let Some(n) = self.budget.max_calls {
                limits.push(format!("{n} requests"));
            }
            if let Some(c) = self.budget.max_cost {
                limits.push(format!("${c}"));
            }
            s.push_str(&format!(
                "\nbudget reached ({}): stopped cleanly, {} attempts not judged; run again (or raise the budget) to judge them, cached verdicts are reused",
                limits.join(", "),
                self.not_judged
            ));
        }
        for sk in &self.skipped {
            s.push_str(&format!(
                "\nskipped {} {} #{}: {}",
                sk.task_id, sk.agent, sk.attempt, sk.reason
            ));
        }
        s
    }
}
