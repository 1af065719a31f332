//! One attempt, from sandbox to record: the agent runs in its container, its workspace comes
//! back as a patch, the scorers grade it (hidden tests, conventions), an outcome is decided,
//! and the attempt is written in one transaction. Infra errors are retried here.

use crate::config::agent::AgentSpec;
use crate::config::gateway::GatewaySpec;
use crate::config::suite::Task;
use crate::conventions::harness_files::HarnessFiles;
use crate::error::Error;
use crate::gateway::config::{Budget, GatewayConfig};
use crate::harness::egress::{GatewayLog, GATEWAY_LOG, GATEWAY_PORT, GATEWAY_TRAJECTORY};
use crate::harness::images::Image;
use crate::harness::sandbox::{run_agent, AgentInput, GatewayInput};
use crate::harness::Docker;
use crate::repo::patch::touched_paths;
use crate::repo::workspace::{extract_patch, prepare_base, BaseRepo};
use crate::score::grade::{grade_cached, GRADER_VERSION};
use crate::score::outcome::{decide, Facts, Flags, Outcome};
use crate::store::{
    now, AttemptKey, AttemptRun, LogRecord, MeasuredUsage, NewAttempt, Store, Usage,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OnceCell;

/// The gateway's start for one attempt: a fresh token, the spec's budgets, prices and pin,
/// and the real key in the gateway's own environment only.
fn gateway_input<'a>(
    spec: &'a GatewaySpec,
    image: &'a Image,
    key: Option<(String, String)>,
) -> GatewayInput<'a> {
    use rand::RngCore;
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = format!("mbgw-{}", hex::encode(raw));
    let config = GatewayConfig {
        listen: format!("0.0.0.0:{GATEWAY_PORT}"),
        upstream: spec.upstream.clone(),
        api: spec.api,
        token: token.clone(),
        key_env: key.as_ref().map(|(name, _)| name.clone()),
        budget: Budget {
            requests: spec.max_requests,
            tokens: spec.max_tokens,
            cost_usd: spec.max_cost,
        },
        prices: spec.prices.clone(),
        pin_model: spec.pin_model.clone(),
        log: GATEWAY_LOG.into(),
        trajectory: GATEWAY_TRAJECTORY.into(),
    };
    GatewayInput {
        image,
        // cannot fail: a plain struct with string keys.
        config_json: serde_json::to_vec(&config).unwrap(),
        env: key.map(|(k, v)| format!("{k}={v}")).into_iter().collect(),
        spec,
        token,
    }
}

/// What the gateway measured, checked against what the agent said: the call log as the
/// attempt's `gateway` log, the trajectory compressed as an artifact, and the flags.
fn record_gateway(g: &GatewayLog, rec: &mut NewAttempt, flags: &mut Flags) -> Result<(), Error> {
    let measured = crate::gateway::log::summarize(&g.calls);
    flags.budget_exhausted = measured.budget_exhausted.clone();
    flags.model_refused = measured.refused_model;
    flags.usage_mismatch = usage_mismatch(rec.run.usage.as_ref(), &measured);
    rec.logs.push(LogRecord {
        kind: "gateway".into(),
        bytes: g.calls.clone(),
        total_bytes: g.calls.len() as u64,
        truncated: g.truncated,
    });
    if !g.trajectory.is_empty() {
        rec.artifacts.push((
            crate::gateway::stored::TRAJECTORY_ARTIFACT.into(),
            crate::gateway::stored::compress(&g.trajectory)?,
        ));
    }
    rec.run.measured = Some(measured);
    Ok(())
}

/// Self-reported tokens that disagree with the measured beyond 5% (and 100 tokens): what the
/// difference is, in words. Nothing reported is no disagreement. Cost is not compared: an
/// agent prices with its own table and the gateway with the suite's, and the measured cost is
/// the one counted either way.
pub fn usage_mismatch(usage: Option<&Usage>, m: &MeasuredUsage) -> Option<String> {
    let u = usage?;
    let said: Vec<String> = [
        (u.input_tokens, m.input_tokens, "input"),
        (u.output_tokens, m.output_tokens, "output"),
    ]
    .into_iter()
    .filter_map(|(reported, measured, what)| {
        let r = reported?;
        let tolerance = (measured as f64 * 0.05).max(100.0);
        ((r - measured).abs() as f64 > tolerance)
            .then(|| format!("{what} tokens: reported {r}, measured {measured}"))
    })
    .collect();
    (!said.is_empty()).then(|| said.join("; "))
}

/// How many times an infra_error is retried before it is recorded.
pub const INFRA_RETRIES: u32 = 2;

/// What every attempt of a run shares: the daemon, the store, images and bases.
pub(super) struct Ctx {
    pub(super) docker: Docker,
    pub(super) store: Arc<Store>,
    pub(super) eval_id: String,
    pub(super) bases: HashMap<String, Arc<OnceCell<Arc<BaseRepo>>>>,
    pub(super) env_images: HashMap<String, Image>,
    pub(super) agent_images: HashMap<(String, String), Image>,
    pub(super) secrets: HashMap<String, Vec<(String, String)>>,
    pub(super) conventions: crate::score::conventions::Settings,
    /// The suite's `[limits]`; an agent's own values override them.
    pub(super) patch_limits: crate::config::limits::PatchLimits,
    /// Built when any agent allowlists hosts or has a gateway.
    pub(super) proxy_image: Option<Image>,
    /// Built when any agent has a gateway.
    pub(super) gateway_image: Option<Image>,
    /// Per agent: its gateway's key (name, value) from the host, when it has one.
    pub(super) gateway_keys: HashMap<String, Option<(String, String)>>,
}

impl Ctx {
    async fn base(&self, task: &Task) -> Result<Arc<BaseRepo>, Error> {
        let cell = self.bases[&task.id].clone();
        cell.get_or_try_init(|| async {
            let t = task.clone();
            tokio::task::spawn_blocking(move || prepare_base(&t).map(Arc::new))
                .await
                .map_err(|e| Error::infra_from("", e))?
        })
        .await
        .cloned()
    }
}

/// Runs one attempt, retrying infra errors; records the final result. Errors returned here
/// are the store's: everything else becomes an outcome.
pub(super) async fn with_retries(
    ctx: &Ctx,
    task: &Task,
    agent: &AgentSpec,
    n: u32,
) -> Result<Outcome, Error> {
    let mut retries = 0;
    loop {
        let mut rec = run_attempt(ctx, task, agent, n).await;
        if rec.run.outcome == Outcome::InfraError && retries < INFRA_RETRIES {
            retries += 1;
            continue;
        }
        rec.run.infra_retries = retries;
        ctx.store.record_attempt(&rec)?;
        return Ok(rec.run.outcome);
    }
}

async fn run_attempt(ctx: &Ctx, task: &Task, agent: &AgentSpec, n: u32) -> NewAttempt {
    let started = Instant::now();
    let mut rec = NewAttempt {
        key: AttemptKey {
            eval_id: ctx.eval_id.clone(),
            task_id: task.id.clone(),
            task_hash: task.hash.clone(),
            agent: agent.name.clone(),
            agent_hash: agent.hash.clone(),
            attempt: n,
        },
        run: AttemptRun {
            grader_version: GRADER_VERSION.into(),
            started_at: Some(now()),
            ..Default::default()
        },
        ..Default::default()
    };
    if let Err(e) = attempt_body(ctx, task, agent, &mut rec).await {
        rec.run.outcome = Outcome::InfraError;
        rec.run.error = Some(e.to_string());
    }
    rec.run.total_seconds = Some(started.elapsed().as_secs_f64());
    rec.run.finished_at = Some(now());
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
    rec.run.env_image = Some(env_image.id.clone());
    rec.run.agent_image = Some(agent_image.id.clone());
    let gold = if agent.gold_patch {
        task.gold.as_deref()
    } else {
        None
    };
    let gateway = match (&agent.gateway, &ctx.gateway_image) {
        (Some(spec), Some(image)) => {
            let key = ctx.gateway_keys.get(&agent.name).cloned().flatten();
            Some(gateway_input(spec, image, key))
        }
        (Some(_), None) => {
            return Err(Error::infra(
                "an agent with a gateway was started without the gateway image",
            ))
        }
        _ => None,
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
            gateway,
        },
    )
    .await?;
    rec.run.agent_seconds = Some(run.seconds);
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
    if let Some((usage, invalid)) = run
        .out_files
        .iter()
        .find(|(n, _)| n == "usage.json")
        .and_then(|(_, b)| parse_usage(b))
    {
        rec.run.usage = Some(usage);
        flags.usage_invalid = invalid;
    }
    rec.artifacts = run.out_files.clone();
    if let Some(g) = &run.gateway {
        record_gateway(g, rec, &mut flags)?;
    }
    if let Some(log) = &run.egress {
        let summary = crate::score::egress::summarize(&log.bytes);
        flags.egress_refused = summary.refused;
        rec.run.egress = Some(summary);
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
        rec.run.error = Some(format!(
            "the workspace archive exceeded {}; the patch was not extracted or graded",
            crate::repo::workspace::human_bytes(crate::harness::sandbox::WORKSPACE_CAP)
        ));
        flags.patch_too_large = true;
        facts.patch_failed = true;
        rec.run.outcome = decide(&facts);
        rec.run.flags = flags;
        return Ok(());
    };
    let (b, ro) = (base.clone(), task.scope.read_only.clone());
    let limits = ctx
        .patch_limits
        .for_agent(agent.patch_bytes, agent.patch_files);
    let harness = HarnessFiles::new(&task.scope.protect, &task.scope.unprotect).map_err(|e| {
        Error::input(
            &task.file,
            None,
            format!("[scope] protect/unprotect `{}`: {}", e.pattern, e.message),
            "write globs like \"tests/helpers/**\", and unprotect only default entries",
        )
    })?;
    let extracted =
        tokio::task::spawn_blocking(move || extract_patch(&b, ws, &ro, &harness, limits))
            .await
            .map_err(|e| Error::infra_from("", e))??;
    if let Some(over) = &extracted.over_limit {
        // Counts against the agent, never as infra: the change is kept as its hash, size,
        // count and first part, and not graded.
        rec.run.error = Some(format!(
            "the patch is over the limit of {} ({} in {} file{}, sha256 {}); it was not graded. \
             Raise [limits] patch_bytes / patch_files in suite.toml (or the agent spec) if such \
             changes are expected",
            over.limit,
            crate::repo::workspace::human_bytes(over.bytes),
            over.files,
            if over.files == 1 { "" } else { "s" },
            over.sha256,
        ));
        flags.patch_too_large = true;
        facts.patch_failed = true;
        rec.raw_patch = Some(extracted.raw.clone());
        rec.run.outcome = decide(&facts);
        rec.run.flags = flags;
        return Ok(());
    }
    flags.scope_violation = !extracted.reverted.is_empty();
    let test_paths = touched_paths(&task.tests.patch);
    // A Rust file the hidden tests change in place beside its code (its test module) is the
    // agent's to edit too, unless the suite made it read-only.
    let beside_code: std::collections::BTreeSet<String> =
        crate::repo::patch::in_place_paths(&task.tests.patch)
            .into_iter()
            .filter(|p| p.ends_with(".rs"))
            .collect();
    let read_only = crate::repo::workspace::globset(&task.scope.read_only);
    flags.tests_tampered = extracted
        .touched
        .iter()
        .any(|p| test_paths.contains(p) && (!beside_code.contains(p) || read_only.is_match(p)))
        || !extracted.harness_restored.is_empty();
    flags.harness_restored = extracted.harness_restored.clone();
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
            flags.tests_forged = v.forged.is_some();
            flags.unverified = v.unverified.is_some();
        }
        facts.tests = g.verdict.clone();
        rec.run.grade_seconds = Some(g.seconds);
        rec.logs.push(LogRecord {
            kind: "tests".into(),
            bytes: g.output.clone().into_bytes(),
            total_bytes: g.output_bytes,
            truncated: g.output_bytes as usize > g.output.len(),
        });
        // cannot fail: a grade is plain structs with string keys.
        rec.grade_json = Some(serde_json::to_string(&g).unwrap());
        // The conventions see what the agent proposed, reverted paths included: a reviewer
        // reads the whole pull request.
        let c = crate::score::conventions::score_cached(
            &ctx.docker,
            &ctx.store,
            &ctx.conventions,
            task,
            &base,
            env_image,
            &extracted.raw,
        )
        .await?;
        // cannot fail: a conventions report is plain structs with string keys.
        rec.conventions_json = Some(serde_json::to_string(&c).unwrap());
    }
    rec.run.outcome = decide(&facts);
    rec.run.flags = flags;
    Ok(())
}

/// Reads usage.json leniently: an agent's bad JSON costs it its usage figures, nothing more.
/// More tokens than any attempt could use, or more dollars than any attempt could cost: a
/// self-report beyond these is not a measurement.
const MAX_TOKENS: f64 = 1e12;
const MAX_COST_USD: f64 = 1e6;

/// The agent's usage.json, checked: what is impossible (negative, not a number, a fraction of
/// a token, beyond any real attempt) is left out of the usage and named in the second part,
/// never silently dropped. None when it is not a JSON object at all.
pub fn parse_usage(bytes: &[u8]) -> Option<(Usage, Vec<String>)> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let o = v.as_object()?;
    let mut invalid = Vec::new();
    let mut num = |k: &str, max: f64, whole: bool| -> Option<f64> {
        let x = o.get(k)?;
        if x.is_null() {
            return None;
        }
        let ok = x
            .as_f64()
            .filter(|n| n.is_finite() && *n >= 0.0 && *n <= max && (!whole || n.fract() == 0.0));
        if ok.is_none() {
            let shown: String = x.to_string().chars().take(40).collect();
            invalid.push(format!("{k} = {shown}"));
        }
        ok
    };
    let input_tokens = num("input_tokens", MAX_TOKENS, true).map(|x| x as i64);
    let output_tokens = num("output_tokens", MAX_TOKENS, true).map(|x| x as i64);
    let cost_usd = num("cost_usd", MAX_COST_USD, false);
    Some((
        Usage {
            model: o
                .get("model")
                .and_then(|m| m.as_str())
                .map(|s| s.chars().take(200).collect()),
            input_tokens,
            output_tokens,
            cost_usd,
        },
        invalid,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_report_is_compared_with_the_measured_tokens() {
        let m = MeasuredUsage {
            requests: 3,
            input_tokens: 10_000,
            output_tokens: 400,
            cost_usd: Some(0.5),
            ..Default::default()
        };
        let said = |i: Option<i64>, o: Option<i64>, c: Option<f64>| {
            let u = Usage {
                model: None,
                input_tokens: i,
                output_tokens: o,
                cost_usd: c,
            };
            usage_mismatch(Some(&u), &m)
        };
        assert_eq!(said(Some(10_000), Some(400), Some(0.5)), None);
        // Within 5% (or 100 tokens): agreement; another price table: not a false report.
        assert_eq!(said(Some(10_400), Some(480), Some(0.9)), None);
        assert_eq!(
            said(Some(12), Some(3), None).as_deref(),
            Some("input tokens: reported 12, measured 10000; output tokens: reported 3, measured 400")
        );
        assert_eq!(said(None, None, Some(0.0)), None);
        assert_eq!(usage_mismatch(None, &m), None);
    }

    #[test]
    fn usage_is_checked_and_impossible_values_are_named() {
        let (u, invalid) =
            parse_usage(br#"{"model":"m","input_tokens":10,"output_tokens":5,"cost_usd":0.25}"#)
                .unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cost_usd),
            (Some(10), Some(5), Some(0.25))
        );
        assert!(invalid.is_empty());
        assert_eq!(parse_usage(b"not json"), None);
        let (neg, invalid) =
            parse_usage(br#"{"cost_usd":-5,"input_tokens":"many","output_tokens":2.5}"#).unwrap();
        assert_eq!(
            (neg.cost_usd, neg.input_tokens, neg.output_tokens),
            (None, None, None)
        );
        assert_eq!(
            invalid,
            [
                "input_tokens = \"many\"",
                "output_tokens = 2.5",
                "cost_usd = -5"
            ]
        );
        let (_, invalid) = parse_usage(br#"{"input_tokens":1e15,"cost_usd":null}"#).unwrap();
        assert_eq!(invalid, ["input_tokens = 1000000000000000.0"]);
    }
}
