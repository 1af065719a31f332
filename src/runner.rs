//! Runs an evaluation: plans task × agent × attempt, runs J at once, resumes what a previous
//! run of the same evaluation finished, retries infra errors, and stops cleanly on Ctrl-C.
//! With a judge, a judge pass over the evaluation follows the grading.

use crate::config::agent::{AgentSpec, Network};
use crate::config::suite::{Suite, Task};
use crate::error::Error;
use crate::grade::{grade_cached, GRADER_VERSION};
use crate::harness::images::{Image, ImageCache};
use crate::harness::sandbox::{run_agent, AgentInput};
use crate::harness::{Docker, GcScope};
use crate::judge::budget::Budget;
use crate::judge::pass::{judge_evaluation, PassOptions, PassSummary};
use crate::judge::Judge;
use crate::outcome::{decide, Facts, Flags, Outcome};
use crate::patch::touched_paths;
use crate::store::{now, Evaluation, LogRecord, NewAttempt, NewEvaluation, Store, Usage};
use crate::workspace::{extract_patch, prepare_base, BaseRepo};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OnceCell;

/// How many times an infra_error is retried before it is recorded.
pub const INFRA_RETRIES: u32 = 2;

pub struct RunOptions {
    pub attempts: u32,
    pub jobs: usize,
    /// Start a new evaluation even when one with the same key exists.
    pub new: bool,
    pub label: Option<String>,
    pub progress: bool,
    /// Judge every attempt after grading (cached verdicts are reused).
    pub judge: Option<JudgeSetup>,
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

struct Ctx {
    docker: Docker,
    store: Arc<Store>,
    eval_id: String,
    bases: HashMap<String, Arc<OnceCell<Arc<BaseRepo>>>>,
    env_images: HashMap<String, Image>,
    agent_images: HashMap<(String, String), Image>,
    secrets: HashMap<String, Vec<(String, String)>>,
    conventions: crate::conventions_scorer::Settings,
    /// Built when any agent allowlists hosts.
    proxy_image: Option<Image>,
}

impl Ctx {
    async fn base(&self, task: &Task) -> Result<Arc<BaseRepo>, Error> {
        let cell = self.bases[&task.id].clone();
        cell.get_or_try_init(|| async {
            let t = task.clone();
            tokio::task::spawn_blocking(move || prepare_base(&t).map(Arc::new))
                .await
                .map_err(|e| Error::infra(e.to_string()))?
        })
        .await
        .cloned()
    }
}

pub async fn run(p: Prepared, opts: RunOptions) -> Result<RunSummary, Error> {
    let Prepared {
        docker,
        store,
        suite,
        agents,
    } = p;
    suite.require_valid()?;
    let secrets: HashMap<String, Vec<(String, String)>> = agents
        .iter()
        .map(|a| Ok((a.name.clone(), secrets_for(a)?)))
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
        .any(|a| matches!(a.network, Network::Allow(_)))
    {
        Some(images.proxy(&docker).await?)
    } else {
        None
    };
    let eval = store.open_evaluation(
        NewEvaluation {
            key: evaluation_key(&suite, &agents, opts.attempts),
            suite: suite.name.clone(),
            suite_dir: suite.dir.display().to_string(),
            agents: agents.iter().map(|a| a.name.clone()).collect(),
            attempts: opts.attempts,
            label: opts.label.clone(),
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
            &serde_json::to_string(t).unwrap(),
        )?;
    }
    for a in &agents {
        store.save_agent(&a.hash, &a.name, &serde_json::to_string(a).unwrap())?;
    }
    let finished = store.finished(&eval.id)?;
    let mut plan = Vec::new();
    let mut skipped = 0;
    for t in &suite.tasks {
        for a in &agents {
            for n in 1..=opts.attempts {
                if finished.contains(&(t.id.clone(), a.name.clone(), n)) {
                    skipped += 1;
                } else {
                    plan.push((t, a, n));
                }
            }
        }
    }
    if skipped > 0 {
        eprintln!(
            "resuming evaluation {}: {skipped} attempts already finished, {} to run",
            eval.id,
            plan.len()
        );
    }
    let ctx = Arc::new(Ctx {
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
        conventions: crate::conventions_scorer::Settings::from_suite(&suite)?,
        proxy_image,
    });
    let total = plan.len();
    let bar = progress_bar(total as u64, opts.progress);
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    let work = futures_util::stream::iter(plan.into_iter().map(|(t, a, n)| {
        let ctx = ctx.clone();
        let t = t.clone();
        let a = a.clone();
        async move { attempt_with_retries(&ctx, &t, &a, n).await }
    }))
    .buffer_unordered(opts.jobs.max(1));
    // Boxed so that dropping it cancels the attempts in flight before their containers go.
    let mut work = Box::pin(work);
    let interrupted = loop {
        tokio::select! {
            next = work.next() => match next {
                Some(Ok(outcome)) => {
                    *counts.entry(outcome).or_default() += 1;
                    bar.inc(1);
                    bar.set_message(counts.iter().map(|(o, n)| format!("{o} {n}")).collect::<Vec<_>>().join(", "));
                }
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

pub fn progress_bar(total: u64, show: bool) -> indicatif::ProgressBar {
    if !show
        || std::env::var_os("NO_COLOR").is_some()
            && std::env::var_os("MERGEBENCH_PROGRESS").is_none()
    {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} eta {eta} {msg}",
        )
        .unwrap()
        .progress_chars("=> "),
    );
    bar
}

/// Runs one attempt, retrying infra errors; records the final result. Errors returned here
/// are the store's: everything else becomes an outcome.
async fn attempt_with_retries(
    ctx: &Ctx,
    task: &Task,
    agent: &AgentSpec,
    n: u32,
) -> Result<Outcome, Error> {
    let mut retries = 0;
    loop {
        let mut rec = run_attempt(ctx, task, agent, n).await;
        if rec.outcome == Outcome::InfraError && retries < INFRA_RETRIES {
            retries += 1;
            continue;
        }
        rec.infra_retries = retries;
        ctx.store.record_attempt(&rec)?;
        return Ok(rec.outcome);
    }
}

async fn run_attempt(ctx: &Ctx, task: &Task, agent: &AgentSpec, n: u32) -> NewAttempt {
    let started = Instant::now();
    let mut rec = NewAttempt {
        eval_id: ctx.eval_id.clone(),
        task_id: task.id.clone(),
        task_hash: task.hash.clone(),
        agent: agent.name.clone(),
        agent_hash: agent.hash.clone(),
        attempt: n,
        grader_version: GRADER_VERSION.into(),
        started_at: Some(now()),
        ..Default::default()
    };
    if let Err(e) = attempt_body(ctx, task, agent, &mut rec).await {
        rec.outcome = Outcome::InfraError;
        rec.error = Some(e.to_string());
    }
    rec.total_seconds = Some(started.elapsed().as_secs_f64());
    rec.finished_at = Some(now());
    rec
}

async fn attempt_body(
    ctx: &Ctx,
    task: &Task,
    agent: &AgentSpec,
    rec: &mut NewAttempt,
) -> Result<(), Error> {
    let base = ctx.base(task).await?;
    let env_image = &ctx.env_images[&task.id];
    let agent_image = &ctx.agent_images[&(task.id.clone(), agent.name.clone())];
    rec.env_image = Some(env_image.id.clone());
    rec.agent_image = Some(agent_image.id.clone());
    let gold = if agent.gold_patch {
        task.gold.as_deref()
    } else {
        None
    };
    let run = run_agent(
        &ctx.docker,
        AgentInput {
            image: agent_image,
            spec: agent,
            base: &base,
            problem: &task.problem,
            gold,
            secrets: &ctx.secrets[&agent.name],
            proxy_image: ctx.proxy_image.as_ref(),
        },
    )
    .await?;
    rec.agent_seconds = Some(run.seconds);
    let mut flags = Flags {
        oom_killed: run.oom_killed,
        disk_limit: run.disk_exceeded,
        agent_exit_code: run.exit_code,
        log_truncated: run.log.truncated,
        ..Default::default()
    };
    rec.logs.push(LogRecord {
        kind: "agent".into(),
        bytes: run.log.bytes.clone(),
        total_bytes: run.log.total,
        truncated: run.log.truncated,
    });
    rec.usage = run
        .out_files
        .iter()
        .find(|(n, _)| n == "usage.json")
        .and_then(|(_, b)| parse_usage(b));
    rec.artifacts = run.out_files.clone();
    if let Some(log) = &run.egress {
        let summary = crate::egress::summarize(&log.bytes);
        flags.egress_refused = summary.refused;
        rec.egress = Some(summary);
        rec.logs.push(LogRecord {
            kind: "egress".into(),
            bytes: log.bytes.clone(),
            total_bytes: log.bytes.len() as u64,
            truncated: log.truncated,
        });
    }
    let mut facts = Facts {
        agent_timed_out: run.timed_out,
        ..Default::default()
    };
    let Some(ws) = run.workspace else {
        // Over the cap: the agent flooded its workspace; nothing gradable came back.
        rec.error = Some(format!(
            "the workspace archive exceeded {} bytes",
            crate::harness::sandbox::WORKSPACE_CAP
        ));
        facts.patch_failed = true;
        rec.outcome = decide(&facts);
        rec.flags = flags;
        return Ok(());
    };
    let (b, ro) = (base.clone(), task.scope.read_only.clone());
    let extracted = tokio::task::spawn_blocking(move || extract_patch(&b, ws, &ro))
        .await
        .map_err(|e| Error::infra(e.to_string()))??;
    flags.scope_violation = !extracted.reverted.is_empty();
    let test_paths = touched_paths(&task.tests.patch);
    flags.tests_tampered = extracted.touched.iter().any(|p| test_paths.contains(p));
    facts.raw_patch_empty = extracted.raw.is_empty();
    rec.raw_patch = Some(extracted.raw.clone());
    rec.graded_patch = Some(extracted.graded.clone());
    if !facts.raw_patch_empty {
        let (g, _cached) = grade_cached(
            &ctx.docker,
            &ctx.store,
            task,
            &base,
            env_image,
            &extracted.graded,
        )
        .await?;
        facts.patch_failed = !g.applied;
        flags.tests_disk_limit = g.disk_exceeded;
        if let Some(v) = &g.verdict {
            flags.output_inconsistent = v.inconsistent && !v.timed_out;
            flags.tests_timed_out = v.timed_out;
        }
        facts.tests = g.verdict.clone();
        rec.grade_seconds = Some(g.seconds);
        rec.logs.push(LogRecord {
            kind: "tests".into(),
            bytes: g.output.clone().into_bytes(),
            total_bytes: g.output_bytes,
            truncated: g.output_bytes as usize > g.output.len(),
        });
        rec.grade_json = Some(serde_json::to_string(&g).unwrap());
        // The conventions see what the agent proposed, reverted paths included: a reviewer
        // reads the whole pull request.
        let c = crate::conventions_scorer::score_cached(
            &ctx.docker,
            &ctx.store,
            &ctx.conventions,
            task,
            &base,
            env_image,
            &extracted.raw,
        )
        .await?;
        rec.conventions_json = Some(serde_json::to_string(&c).unwrap());
    }
    rec.outcome = decide(&facts);
    rec.flags = flags;
    Ok(())
}

/// Reads usage.json leniently: an agent's bad JSON costs it its usage figures, nothing more.
pub fn parse_usage(bytes: &[u8]) -> Option<Usage> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let o = v.as_object()?;
    let num = |k: &str| {
        o.get(k)
            .and_then(|x| x.as_f64())
            .filter(|x| x.is_finite() && *x >= 0.0)
    };
    Some(Usage {
        model: o
            .get("model")
            .and_then(|m| m.as_str())
            .map(|s| s.chars().take(200).collect()),
        input_tokens: num("input_tokens").map(|x| x as i64),
        output_tokens: num("output_tokens").map(|x| x as i64),
        cost_usd: num("cost_usd"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_read_leniently() {
        let u =
            parse_usage(br#"{"model":"m","input_tokens":10,"output_tokens":5,"cost_usd":0.25}"#)
                .unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cost_usd),
            (Some(10), Some(5), Some(0.25))
        );
        assert_eq!(parse_usage(b"not json"), None);
        let neg = parse_usage(br#"{"cost_usd":-5,"input_tokens":"many"}"#).unwrap();
        assert_eq!((neg.cost_usd, neg.input_tokens), (None, None));
    }
}
