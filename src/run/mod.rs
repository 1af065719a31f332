//! Runs an evaluation: plans task × agent × attempt, runs J at once, resumes what a previous
//! run of the same evaluation finished, retries infra errors, and stops cleanly on Ctrl-C.
//! With a judge, a judge pass over the evaluation follows the grading. `plan` decides what
//! runs; `attempt` is one attempt from sandbox to record.

mod attempt;
pub mod plan;

pub use attempt::parse_usage;
pub use plan::evaluation_key;

use crate::config::agent::{AgentSpec, Network};
use crate::config::suite::Suite;
use crate::error::Error;
use crate::harness::images::ImageCache;
use crate::harness::{Docker, GcScope};
use crate::judge::budget::Budget;
use crate::judge::pass::{judge_evaluation, PassOptions, PassSummary};
use crate::judge::Judge;
use crate::score::outcome::Outcome;
use crate::store::{Evaluation, NewEvaluation, Store};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::OnceCell;

pub use attempt::{usage_mismatch, INFRA_RETRIES};

pub struct RunOptions {
    pub attempts: u32,
    pub jobs: usize,
    /// Start a new evaluation even when one with the same key exists.
    pub new: bool,
    pub label: Option<String>,
    pub progress: bool,
    /// Judge every attempt after grading (cached verdicts are reused).
    pub judge: Option<JudgeSetup>,
    /// Run only this part of the evaluation, into an evaluation of its own (`merge` joins
    /// the parts).
    pub shard: Option<plan::Shard>,
    /// Stop starting attempts once the agents' cost in this evaluation (measured by their
    /// gateways, else reported) reaches this many USD (attempts in flight finish).
    pub max_agent_cost: Option<f64>,
    /// Every agent's gateway refuses requests for another model than this one (a
    /// scaffold-only comparison); agents without a gateway cannot be pinned.
    pub pin_model: Option<String>,
}

/// A loaded judge and the run's budget for it.
pub struct JudgeSetup {
    pub judge: Judge,
    pub budget: Budget,
}

pub struct Prepared {
    pub docker: Docker,
    pub store: Arc<Store>,
    pub suite: Suite,
    pub agents: Vec<AgentSpec>,
}

#[derive(Debug, Default)]
pub struct RunSummary {
    pub evaluation: Option<Evaluation>,
    pub planned: usize,
    pub skipped: usize,
    pub counts: BTreeMap<Outcome, usize>,
    pub judge: Option<PassSummary>,
}

/// The host value of an agent's gateway key, by the name its spec gives: given to the gateway's
/// container only. A missing required key stops the run before it starts.
pub fn gateway_key_for(agent: &AgentSpec) -> Result<Option<(String, String)>, Error> {
    let Some(g) = &agent.gateway else {
        return Ok(None);
    };
    let Some(name) = &g.key else { return Ok(None) };
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(Some((name.clone(), v))),
        _ if g.key_optional => Ok(None),
        _ => Err(Error::input(
            &agent.file,
            None,
            format!(
                "agent `{}`'s gateway needs the key {name}, which is not set in this environment",
                agent.name
            ),
            format!("export {name}=... before running (the gateway holds it; the agent never sees it, and it is never stored)"),
        )),
    }
}

/// Host values of every agent's declared secrets; a missing required one stops the run
/// before it starts, a missing optional one is left out.
pub fn secrets_for(agent: &AgentSpec) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = agent
        .secrets
        .iter()
        .map(|name| match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok((name.clone(), v)),
            _ => Err(Error::input(
                &agent.file,
                None,
                format!("agent `{}` needs the secret {name}, which is not set in this environment", agent.name),
                format!("export {name}=... before running (its value is passed to the container, never stored)"),
            )),
        })
        .collect::<Result<_, _>>()?;
    for name in &agent.optional_secrets {
        if let Ok(v) = std::env::var(name) {
            if !v.is_empty() {
                out.push((name.clone(), v));
            }
        }
    }
    Ok(out)
}

pub async fn run(p: Prepared, opts: RunOptions) -> Result<RunSummary, Error> {
    let Prepared {
        docker,
        store,
        suite,
        agents,
    } = p;
    suite.require_valid()?;
    let agents = match &opts.pin_model {
        Some(model) => agents
            .into_iter()
            .map(|a| a.pinned(model))
            .collect::<Result<Vec<_>, _>>()?,
        None => agents,
    };
    // The suite's price table is the one its evaluation charges at, over the agents' own.
    let mut agents = agents;
    for a in &mut agents {
        if let Some(g) = &mut a.gateway {
            g.prices.extend(suite.prices.clone());
        }
    }
    // A shard runs only its tasks, but keeps the whole suite's key and manifest: every shard
    // of one evaluation then agrees on both, and `merge` can check that they do.
    let key = plan::evaluation_key(&suite, &agents, opts.attempts);
    let manifest = plan::manifest(&suite, &agents, opts.attempts).to_string();
    let mut suite = suite;
    if let Some(shard) = opts.shard {
        suite.tasks = shard.tasks(&suite.tasks);
        eprintln!("shard {shard}: {} of the suite's tasks", suite.tasks.len());
    }
    let secrets: HashMap<String, Vec<(String, String)>> = agents
        .iter()
        .map(|a| Ok((a.name.clone(), secrets_for(a)?)))
        .collect::<Result<_, Error>>()?;
    let gateway_keys: HashMap<String, Option<(String, String)>> = agents
        .iter()
        .map(|a| Ok((a.name.clone(), gateway_key_for(a)?)))
        .collect::<Result<_, Error>>()?;
    let left = docker.gc(GcScope::Orphans).await?;
    if left.containers + left.networks + left.volumes > 0 {
        eprintln!(
            "removed what an interrupted run left: {} containers, {} networks, {} volumes",
            left.containers, left.networks, left.volumes
        );
    }
    // Images first: a Dockerfile that does not build is the author's to fix, before an evaluation
    // is even opened, so a failed build leaves nothing half-written.
    let images = ImageCache::default();
    let mut env_images = HashMap::new();
    let mut agent_images = HashMap::new();
    for t in &suite.tasks {
        let env = images.environment(&docker, &t.environment, &t.file).await?;
        for a in &agents {
            let img = images.agent(&docker, &env, a).await?;
            agent_images.insert((t.id.clone(), a.name.clone()), img);
        }
        env_images.insert(t.id.clone(), env);
    }
    let proxy_image = if agents
        .iter()
        .any(|a| matches!(a.network, Network::Allow(_)) || a.gateway.is_some())
    {
        Some(images.proxy(&docker).await?)
    } else {
        None
    };
    let gateway_image = if agents.iter().any(|a| a.gateway.is_some()) {
        Some(images.gateway(&docker).await?)
    } else {
        None
    };
    let eval = store.open_evaluation(
        NewEvaluation {
            key,
            suite: suite.name.clone(),
            suite_dir: suite.dir.display().to_string(),
            agents: agents.iter().map(|a| a.name.clone()).collect(),
            attempts: opts.attempts,
            label: opts.label.clone(),
            shard: opts.shard.map(|s| s.to_string()),
            manifest: Some(manifest),
        },
        opts.new,
    )?;
    for t in &suite.tasks {
        store.save_task(
            &t.hash,
            &t.suite,
            &t.id,
            &t.title,
            t.created.as_deref(),
            // cannot fail: a loaded task's paths are UTF-8 (`config::utf8_path`).
            &serde_json::to_string(t).unwrap(),
        )?;
    }
    for a in &agents {
        // cannot fail: a loaded spec's paths are UTF-8 (`config::utf8_path`).
        store.save_agent(&a.hash, &a.name, &serde_json::to_string(a).unwrap())?;
    }
    let finished = store.finished(&eval.id)?;
    let (plan, skipped) = plan::plan(&suite.tasks, &agents, opts.attempts, &finished);
    if skipped > 0 {
        eprintln!(
            "resuming evaluation {}: {skipped} attempts already finished, {} to run",
            eval.id,
            plan.len()
        );
    }
    let ctx = Arc::new(attempt::Ctx {
        docker: docker.clone(),
        store: store.clone(),
        eval_id: eval.id.clone(),
        bases: suite
            .tasks
            .iter()
            .map(|t| (t.id.clone(), Arc::new(OnceCell::new())))
            .collect(),
        env_images,
        agent_images,
        secrets,
        conventions: crate::score::conventions::Settings::from_suite(&suite)?,
        patch_limits: suite.patch_limits,
        proxy_image,
        gateway_image,
        gateway_keys,
    });
    let total = plan.len();
    let bar = crate::progress::bar(total as u64, opts.progress);
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut skipped_by_ceiling = 0usize;
    // Set once the cost ceiling is reached: attempts not started yet are skipped.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let over_ceiling = |store: &Store| -> Result<Option<f64>, Error> {
        match opts.max_agent_cost {
            Some(max) => {
                let spent = store.agent_cost(&eval.id)?;
                Ok((spent >= max).then_some(spent))
            }
            None => Ok(None),
        }
    };
    if over_ceiling(&store)?.is_some() {
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let work = futures_util::stream::iter(plan.into_iter().map(|(t, a, n)| {
        let ctx = ctx.clone();
        let t = t.clone();
        let a = a.clone();
        let stop = stop.clone();
        async move {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(None);
            }
            attempt::with_retries(&ctx, &t, &a, n).await.map(Some)
        }
    }))
    .buffer_unordered(opts.jobs.max(1));
    // Boxed so that dropping it cancels the attempts in flight before their containers go.
    let mut work = Box::pin(work);
    let interrupted = loop {
        tokio::select! {
            next = work.next() => match next {
                Some(Ok(Some(outcome))) => {
                    *counts.entry(outcome).or_default() += 1;
                    bar.inc(1);
                    bar.set_message(counts.iter().map(|(o, n)| format!("{o} {n}")).collect::<Vec<_>>().join(", "));
                    if over_ceiling(&store)?.is_some() {
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                Some(Ok(None)) => skipped_by_ceiling += 1,
                Some(Err(e)) => {
                    bar.abandon();
                    drop(work);
                    docker.settle().await;
                    docker.clean_up_run().await;
                    return Err(e);
                }
                None => break false,
            },
            _ = tokio::signal::ctrl_c() => break true,
        }
    };
    drop(work);
    docker.settle().await;
    if interrupted {
        bar.abandon_with_message("interrupted");
        docker.clean_up_run().await;
        eprintln!("interrupted: finished attempts are kept; run the same command again to resume evaluation {}", eval.id);
        return Err(Error::Interrupted);
    }
    if skipped_by_ceiling > 0 {
        bar.abandon_with_message("cost ceiling reached");
        let spent = store.agent_cost(&eval.id)?;
        return Err(Error::Budget {
            message: format!(
                "the agents' cost ceiling was reached: ${spent:.4} spent (measured by gateways, else reported) of ${:.4}; {skipped_by_ceiling} \
                 attempts were not started, and evaluation {} stays unfinished (its finished attempts are kept)",
                opts.max_agent_cost.unwrap_or_default(),
                eval.id
            ),
            fix: "raise --max-agent-cost (or drop it) and run the same command to resume".into(),
        });
    }
    bar.finish_and_clear();
    store.finish_evaluation(&eval.id)?;
    let evaluation = store.evaluation(Some(&eval.id))?;
    let judge = match (&opts.judge, &evaluation) {
        (Some(j), Some(ev)) => Some(
            judge_evaluation(
                &store,
                ev,
                &suite,
                &j.judge,
                &j.budget,
                PassOptions {
                    progress: opts.progress,
                },
            )
            .await?,
        ),
        _ => None,
    };
    Ok(RunSummary {
        evaluation,
        planned: total,
        skipped,
        counts,
        judge,
    })
}
