//! `judge checkpoints`: the current judge on every labeled item, held-out checkpoints first,
//! through the same engine and cache as any judging. Nightly runs call it, so a provider that
//! silently changes its model shows up in the drift report the same night.
//!
//! The judge is told what it is told about any attempt (`ReviewInput`): never a label, never
//! the split.

use crate::error::Error;
use crate::judge::budget::Budget;
use crate::judge::engine::{Halt, Judge};
use crate::review::labels::item::item_input;
use crate::store::{now, CheckpointVerdict, Store};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointSummary {
    pub judge: String,
    pub judge_version: String,
    pub model: String,
    pub holdout: usize,
    pub dev: usize,
    pub judged: usize,
    /// Answered from the verdict cache: no request made.
    pub cached: usize,
    pub judge_errors: usize,
    pub not_judged: usize,
    pub skipped: Vec<String>,
    pub requests: u64,
    pub cost_usd: f64,
    pub budget_exhausted: bool,
}

impl CheckpointSummary {
    pub fn describe(&self) -> String {
        let mut s = format!(
            "judge {} ({}, version {}): {} checkpoints judged ({} held-out, {} dev; {} from cache, {} judge_error), {} requests, ${:.4}",
            self.judge,
            self.model,
            &self.judge_version[..self.judge_version.len().min(12)],
            self.judged,
            self.holdout,
            self.dev,
            self.cached,
            self.judge_errors,
            self.requests,
            self.cost_usd
        );
        if self.budget_exhausted {
            s.push_str(&format!(
                "\nbudget reached: {} items not judged; run again to continue",
                self.not_judged
            ));
        }
        for k in &self.skipped {
            s.push_str(&format!("\nskipped {k}"));
        }
        s
    }
}

pub async fn judge_checkpoints(
    store: &Store,
    judge: &Judge,
    budget: &Budget,
    suite_override: Option<PathBuf>,
) -> Result<CheckpointSummary, Error> {
    let mut items = store.label_items()?;
    // Held-out items first: when the budget runs out, the checkpoints are what was judged.
    items.sort_by_key(|i| (i.split != crate::review::labels::split::HOLDOUT, i.id));
    let mut suites = HashMap::new();
    let mut work = Vec::new();
    let mut skipped = Vec::new();
    for item in items {
        match item_input(store, &mut suites, &item, suite_override.as_ref())? {
            Ok(input) => work.push((item, input)),
            Err(why) => skipped.push(why),
        }
    }
    let holdout = work
        .iter()
        .filter(|(i, _)| i.split == crate::review::labels::split::HOLDOUT)
        .count();
    let mut s = CheckpointSummary {
        judge: judge.spec.name.clone(),
        judge_version: judge.spec.version.clone(),
        model: judge.spec.model.clone(),
        holdout,
        dev: work.len() - holdout,
        judged: 0,
        cached: 0,
        judge_errors: 0,
        not_judged: 0,
        skipped,
        requests: 0,
        cost_usd: 0.0,
        budget_exhausted: false,
    };
    let mut results =
        futures_util::stream::iter(work.into_iter().map(|(item, input)| async move {
            let r = judge
                .review(
                    store,
                    budget,
                    &item.subject.patch_sha256,
                    &item.subject.task_hash,
                    &input,
                )
                .await;
            (item, r)
        }))
        .buffer_unordered(judge.spec.concurrency);
    while let Some((item, r)) = results.next().await {
        match r {
            Ok(j) => {
                s.judged += 1;
                if j.requests == 0 {
                    s.cached += 1;
                }
                if j.verdict.is_none() {
                    s.judge_errors += 1;
                }
                store.save_checkpoint_verdict(
                    &CheckpointVerdict {
                        item_id: item.id,
                        judge: j.judge.clone(),
                        judge_version: j.judge_version.clone(),
                        model: Some(j.model.clone()),
                        verdict: j.verdict.map(|d| d.as_str().to_string()),
                        judged_at: now(),
                    },
                    j.error.as_deref(),
                )?;
            }
            Err(Halt::Budget) => s.not_judged += 1,
            Err(Halt::Unusable(m)) => {
                return Err(Error::env(
                    format!("judge `{}` cannot be used: {m}", judge.spec.name),
                    format!(
                        "check the provider, model, base_url and key named in {}",
                        judge.spec.file.display()
                    ),
                ))
            }
            Err(Halt::Error(e)) => return Err(e),
        }
    }
    let spent = budget.spent();
    s.requests = spent.requests;
    s.cost_usd = spent.cost_usd;
    s.budget_exhausted = spent.exhausted;
    Ok(s)
}
