//! A loaded judge at work: samples from the cache or from the provider, requests retried with
//! backoff under a concurrency limit and the run's budget, malformed answers given one repair,
//! every request recorded with its tokens and cost.

use super::budget::Budget;
use super::input::ReviewInput;
use super::judgement::{Judgement, SampleSummary};
use super::prompt::{Prompts, Purpose, Repair, Request};
use super::provider::{CallError, Provider, Reply, Usage};
use super::retry::Backoff;
use super::secret::Redactor;
use super::spec::JudgeSpec;
use super::verdict::{read_verdict, ReplyOutput, Verdict};
use crate::error::Error;
use crate::store::{JudgeCallRecord, JudgeSampleKey, JudgeSampleRow, Spend, Store};
use std::time::Instant;
use tokio::sync::Semaphore;

/// The longest rejected answer shown back to the model in a repair request.
const MAX_REPAIR_ECHO: usize = 8_000;

/// Why judging stopped without anything to record.
#[derive(Debug)]
pub enum Halt {
    /// The run's budget refused a request.
    Budget,
    /// No request of this judge can succeed (key refused, wrong URL or model, no command).
    Unusable(String),
    /// The store or a template failed.
    Error(Error),
}

impl From<Error> for Halt {
    fn from(e: Error) -> Halt {
        Halt::Error(e)
    }
}

/// How one request ended for the caller.
enum Failure {
    Halt(Halt),
    /// Failed for good in this run (after retries); not cached, so a later run asks again.
    Failed(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Halt(Halt::Error(e))
    }
}

/// Where a request belongs, for the call record.
#[derive(Clone, Copy)]
pub(super) struct CallCtx<'a> {
    pub patch: Option<&'a str>,
    pub task: Option<&'a str>,
    pub sample: Option<u32>,
}

/// What the requests behind one answer consumed.
#[derive(Debug, Default)]
pub(super) struct Consumed {
    pub requests: u32,
    pub spend: Spend,
    pub model: Option<String>,
}

pub struct Judge {
    pub spec: JudgeSpec,
    prompts: Prompts,
    provider: Provider,
    redactor: Redactor,
    limit: Semaphore,
}

impl Judge {
    /// Compiles the templates and sets up the provider (reading its key from the environment).
    pub fn load(spec: JudgeSpec) -> Result<Judge, Error> {
        let prompts = Prompts::compile(&spec)?;
        prompts.check(&spec)?;
        let (provider, redactor) = Provider::new(&spec)?;
        Ok(Judge {
            limit: Semaphore::new(spec.concurrency),
            spec,
            prompts,
            provider,
            redactor,
        })
    }

    pub fn prompts(&self) -> &Prompts {
        &self.prompts
    }

    /// The cost of a request: the provider's own figure, else tokens × the price table.
    fn cost(&self, u: &Usage) -> Option<f64> {
        u.cost_usd.or_else(|| {
            let p = self.spec.price?;
            (u.input_tokens.is_some() || u.output_tokens.is_some())
                .then(|| p.cost(u.input_tokens.unwrap_or(0), u.output_tokens.unwrap_or(0)))
        })
    }

    /// One request, retried on 429, 5xx and timeouts with backoff (or the server's
    /// Retry-After). Every try asks the budget first and is recorded.
    async fn request(
        &self,
        store: &Store,
        budget: &Budget,
        req: &Request,
        ctx: CallCtx<'_>,
        spent: &mut Consumed,
    ) -> Result<Reply, Failure> {
        let backoff = Backoff {
            base: self.spec.backoff,
            max_retries: self.spec.max_retries,
        };
        let purpose = match (req.repair.is_some(), req.purpose) {
            (true, _) => "repair",
            (false, Purpose::Verdict) => "verdict",
            (false, Purpose::Pairwise) => "pairwise",
            (false, Purpose::Rewrite) => "rewrite",
        };
        let mut retry = 0;
        loop {
            let (result, seconds) = {
                // cannot fail: the semaphore is never closed.
                let _permit = self.limit.acquire().await.expect("never closed");
                if !budget.try_request() {
                    return Err(Failure::Halt(Halt::Budget));
                }
                let started = Instant::now();
                let r = self.provider.send(&self.spec, req).await;
                (r, started.elapsed().as_secs_f64())
            };
            spent.requests += 1;
            let mut record = JudgeCallRecord {
                judge: self.spec.name.clone(),
                judge_version: self.spec.version.clone(),
                patch_sha256: ctx.patch.map(str::to_string),
                task_hash: ctx.task.map(str::to_string),
                sample: ctx.sample,
                purpose: purpose.into(),
                seconds,
                ..Default::default()
            };
            match result {
                Ok(reply) => {
                    let cost = self.cost(&reply.usage);
                    budget.add_cost(cost.unwrap_or(0.0));
                    let spend = Spend {
                        input_tokens: reply.usage.input_tokens,
                        output_tokens: reply.usage.output_tokens,
                        cost_usd: cost,
                    };
                    spent.spend.add(spend);
                    if reply.model.is_some() {
                        spent.model = reply.model.clone();
                    }
                    record.status = reply.status;
                    record.spend = spend;
                    store.record_judge_call(&record)?;
                    return Ok(reply);
                }
                Err(e) => {
                    let message = self.redactor.redact(e.message());
                    record.status = e.status();
                    record.error = Some(message.clone());
                    store.record_judge_call(&record)?;
                    match e {
                        CallError::Retryable { retry_after, .. } if retry < backoff.max_retries => {
                            tokio::time::sleep(backoff.delay(retry, retry_after)).await;
                            retry += 1;
                        }
                        CallError::Retryable {
                            unreachable: true, ..
                        } => {
                            return Err(Failure::Halt(Halt::Unusable(format!(
                                "{message} (no connection in {} tries)",
                                retry + 1
                            ))))
                        }
                        CallError::Retryable { .. } => {
                            return Err(Failure::Failed(format!(
                                "{message} (gave up after {} tries)",
                                retry + 1
                            )))
                        }
                        CallError::Failed { .. } => return Err(Failure::Failed(message)),
                        CallError::Unusable { .. } => {
                            return Err(Failure::Halt(Halt::Unusable(message)))
                        }
                    }
                }
            }
        }
    }

    /// A validated answer: the request, and on malformed output one repair request that
    /// says what was wrong. `Ok(Err(..))` is malformed output twice: a judge_error.
    async fn answer<T>(
        &self,
        store: &Store,
        budget: &Budget,
        mut req: Request,
        ctx: CallCtx<'_>,
        spent: &mut Consumed,
        read: impl Fn(&ReplyOutput) -> Result<T, String>,
    ) -> Result<Result<T, String>, Failure> {
        let reply = self.request(store, budget, &req, ctx, spent).await?;
        let first = match read(&reply.output) {
            Ok(v) => return Ok(Ok(v)),
            Err(e) => e,
        };
        let previous: String = reply
            .output
            .as_text()
            .chars()
            .take(MAX_REPAIR_ECHO)
            .collect();
        req.repair = Some(Repair {
            previous,
            error: first.clone(),
        });
        let reply = self.request(store, budget, &req, ctx, spent).await?;
        Ok(read(&reply.output).map_err(|second| {
            format!("malformed output twice: {first}; after the repair request: {second}")
        }))
    }

    /// A validated answer for a request that is not cached (pairwise comparisons).
    pub(super) async fn answer_uncached<T>(
        &self,
        store: &Store,
        budget: &Budget,
        req: Request,
        read: impl Fn(&ReplyOutput) -> Result<T, String>,
    ) -> Result<Result<T, String>, Halt> {
        let ctx = CallCtx {
            patch: None,
            task: None,
            sample: None,
        };
        match self
            .answer(store, budget, req, ctx, &mut Consumed::default(), read)
            .await
        {
            Ok(r) => Ok(r),
            Err(Failure::Failed(m)) => Ok(Err(m)),
            Err(Failure::Halt(h)) => Err(h),
        }
    }

    /// The sample `key` names of a verdict on `input`: from the cache, or asked and then
    /// cached.
    async fn sample(
        &self,
        store: &Store,
        budget: &Budget,
        key: JudgeSampleKey,
        input: &ReviewInput,
    ) -> Result<SampleSummary, Failure> {
        let n = key.sample;
        if let Some(row) = store.cached_judge_sample(&key)? {
            let verdict: Option<Verdict> = row
                .verdict_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok());
            return Ok(SampleSummary {
                sample: n,
                error: if verdict.is_some() {
                    None
                } else {
                    row.error
                        .or_else(|| Some("unreadable cached verdict".into()))
                },
                verdict,
                cached: true,
                requests: row.requests,
                spend: row.spend,
            });
        }
        let req = self.prompts.verdict_request(&self.spec, input, n)?;
        let schema = req.schema.clone();
        let ctx = CallCtx {
            patch: Some(key.patch_sha256.as_str()),
            task: Some(key.task_hash.as_str()),
            sample: Some(n),
        };
        let mut spent = Consumed::default();
        let result = self
            .answer(store, budget, req, ctx, &mut spent, |o| {
                read_verdict(o, &schema)
            })
            .await?;
        let row = JudgeSampleRow {
            judge: self.spec.name.clone(),
            model: spent
                .model
                .clone()
                .or_else(|| Some(self.spec.model.clone())),
            verdict_json: result
                .as_ref()
                .ok()
                // cannot fail: a verdict is plain structs with string keys.
                .map(|v| serde_json::to_string(v).expect("serializable")),
            error: result.as_ref().err().cloned(),
            spend: spent.spend,
            requests: spent.requests,
        };
        store.save_judge_sample(&key, &row)?;
        Ok(SampleSummary {
            sample: n,
            verdict: result.as_ref().ok().cloned(),
            error: result.err(),
            cached: false,
            requests: spent.requests,
            spend: spent.spend,
        })
    }

    /// The judge's finding on one patch for one task: every sample (concurrently, cached
    /// ones without a request), combined by majority.
    pub async fn review(
        &self,
        store: &Store,
        budget: &Budget,
        patch_sha256: &str,
        task_hash: &str,
        input: &ReviewInput,
    ) -> Result<Judgement, Halt> {
        let cache_version = sample_cache_version(&self.spec.version, input);
        let results = futures_util::future::join_all((1..=self.spec.samples).map(|n| {
            let key = JudgeSampleKey {
                patch_sha256: patch_sha256.into(),
                task_hash: task_hash.into(),
                judge_version: cache_version.clone(),
                sample: n,
            };
            self.sample(store, budget, key, input)
        }))
        .await;
        let mut samples = Vec::new();
        let mut failure = None;
        let mut halt = None;
        for r in results {
            match r {
                Ok(s) => samples.push(s),
                Err(Failure::Failed(m)) => failure = failure.or(Some(m)),
                // The most serious halt wins: an unusable judge or a broken store over a budget.
                Err(Failure::Halt(h)) => {
                    halt = match (halt, h) {
                        (None, h) | (Some(Halt::Budget), h) => Some(h),
                        (Some(prev), _) => Some(prev),
                    }
                }
            }
        }
        if let Some(h) = halt {
            return Err(h);
        }
        Ok(Judgement::new(
            &self.spec.name,
            &self.spec.version,
            &self.spec.model,
            samples,
            failure,
            input.injection.clone(),
        ))
    }
}

/// The version a sample is cached under. An input whose patch or statement held hidden
/// characters, shown to the model as visible marks, has its own: verdicts cached before
/// the marks existed were given the characters unmarked, and must not stand for it.
fn sample_cache_version(judge_version: &str, input: &ReviewInput) -> String {
    let marked = input.flags.iter().any(|f| f.starts_with("hidden_unicode="))
        || input.problem.contains("⟪U+")
        || input.patch.contains("⟪U+");
    if marked {
        format!("{judge_version}+marked")
    } else {
        judge_version.to_string()
    }
}
