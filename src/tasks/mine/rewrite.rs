//! `tasks mine --rewrite JUDGE`: the problem statement of a proven candidate rewritten
//! through a judge's provider, so that it says what is wrong rather than how the commit
//! fixed it. The rewrite must pass the same leak check as the commit message: no identifier
//! the fix adds may appear. A rewrite that names one gets the judge's one repair request,
//! which says which names; when it still leaks, the request fails or the judge's budget is
//! spent, the commit message's statement is kept (redacted), or with `--leak drop` the
//! candidate is dropped if that statement leaks.

use super::candidate::{redaction_note, Candidate};
use super::{leak, Ctx, LeakPolicy};
use crate::error::Error;
use crate::judge::prompt::RewriteInput;
use crate::judge::Halt;
use crate::run::JudgeSetup;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many identifiers the fix adds are listed for the model; the check uses them all.
const MAX_FORBIDDEN_SHOWN: usize = 200;

/// The statement a task is written with.
pub(super) struct Final {
    pub(super) title: String,
    pub(super) problem: String,
    /// For task.toml: who rewrote the statement.
    pub(super) rewritten_by: Option<String>,
    pub(super) notes: Vec<String>,
}

#[derive(Debug, Default)]
pub(super) struct Counts {
    rewritten: AtomicUsize,
    kept: AtomicUsize,
    dropped: AtomicUsize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RewriteSummary {
    pub judge: String,
    pub model: String,
    /// The version of the judge's `[rewrite]` templates, model and provider.
    pub version: String,
    /// Statements replaced by a rewrite that passed the leak check.
    pub rewritten: usize,
    /// Candidates that kept the commit message's statement (the reason is in their notes).
    pub kept: usize,
    /// Candidates dropped because the rewrite failed and the commit message leaks.
    pub dropped: usize,
    pub requests: u64,
    pub cost_usd: f64,
    /// The judge's budget refused a request.
    pub budget_exhausted: bool,
}

impl Counts {
    pub(super) fn summary(&self, r: &JudgeSetup) -> RewriteSummary {
        let spent = r.budget.spent();
        let spec = &r.judge.spec;
        RewriteSummary {
            judge: spec.name.clone(),
            model: spec.model.clone(),
            version: spec
                .rewrite
                .as_ref()
                .map(|t| t.version.clone())
                .unwrap_or_default(),
            rewritten: self.rewritten.load(Ordering::Relaxed),
            kept: self.kept.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            requests: spent.requests,
            cost_usd: spent.cost_usd,
            budget_exhausted: spent.exhausted,
        }
    }
}

/// Refuses a judge without `[rewrite]` templates before anything is mined.
pub(super) fn check_judge(judge: &crate::judge::Judge) -> Result<(), Error> {
    judge.spec.rewrite_templates().map(|_| ())
}

impl Ctx<'_> {
    /// The statement candidate `c` is written with: rewritten when `--rewrite` is given and
    /// the rewrite passes the leak check, the commit message's otherwise. `Ok(Err(reason))`
    /// drops the candidate; `Err` stops the run (the judge cannot be used at all).
    pub(super) async fn statement(
        &self,
        c: &Candidate,
        fail_to_pass: &[String],
    ) -> Result<Result<Final, String>, Error> {
        let kept = |notes: Vec<String>| Final {
            title: c.title.clone(),
            problem: c.problem.clone(),
            rewritten_by: None,
            notes,
        };
        let Some(r) = self.rewriter else {
            return Ok(Ok(kept(Vec::new())));
        };
        let spec = &r.judge.spec;
        let input = RewriteInput {
            task_id: c.id.clone(),
            title: c.original.0.clone(),
            problem: c.original.1.clone(),
            gold: String::from_utf8_lossy(&c.gold).into_owned(),
            tests: String::from_utf8_lossy(&c.tests).into_owned(),
            fail_to_pass: fail_to_pass.to_vec(),
            forbidden: c
                .forbidden
                .iter()
                .take(MAX_FORBIDDEN_SHOWN)
                .cloned()
                .collect(),
        };
        let check = |s: &crate::judge::rewrite::Statement| {
            let leaked = leak::leaks(&format!("{}\n{}", s.title, s.statement), &c.forbidden);
            if leaked.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "the statement names identifiers the fix adds: {}. Describe the behaviour \
                     that is wrong without naming them",
                    leaked.join(", ")
                ))
            }
        };
        let failure = match r
            .judge
            .rewrite_statement(self.store, &r.budget, &input, check)
            .await
        {
            Ok(Ok(s)) => {
                self.rewrites.rewritten.fetch_add(1, Ordering::Relaxed);
                return Ok(Ok(Final {
                    problem: format!("# {}\n\n{}\n", s.title, s.statement),
                    title: s.title,
                    rewritten_by: Some(format!(
                        "judge `{}` (model {}, rewrite version {})",
                        spec.name,
                        spec.model,
                        spec.rewrite
                            .as_ref()
                            .map(|t| &t.version[..12.min(t.version.len())])
                            .unwrap_or_default()
                    )),
                    notes: vec![format!(
                        "problem statement rewritten by judge `{}` and leak-checked",
                        spec.name
                    )],
                }));
            }
            Ok(Err(e)) => e,
            Err(Halt::Budget) => "the judge's budget is spent".to_string(),
            Err(Halt::Unusable(m)) => {
                return Err(Error::env(
                    format!("judge `{}` cannot rewrite problem statements: {m}", spec.name),
                    "check the judge's base_url and model, and that its api_key_env names a variable holding a valid key",
                ))
            }
            Err(Halt::Error(e)) => return Err(e),
        };
        if self.opts.leak == LeakPolicy::Drop && !c.leaked.is_empty() {
            self.rewrites.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(Err(format!(
                "not rewritten ({failure}), and the commit message names what the fix adds: {}",
                c.leaked.join(", ")
            )));
        }
        self.rewrites.kept.fetch_add(1, Ordering::Relaxed);
        let mut notes = vec![format!(
            "problem statement not rewritten ({failure}): the commit message's is kept"
        )];
        if !c.leaked.is_empty() {
            notes.push(redaction_note(&c.leaked));
        }
        Ok(Ok(kept(notes)))
    }
}
