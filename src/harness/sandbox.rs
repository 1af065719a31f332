//! The agent's sandbox: what an agent sees inside its container (docs/agents.md), and what
//! comes back out of it.
//!
//! `/workspace` is the one-commit repository; `/mergebench/problem.md` the problem;
//! `/mergebench/agent/` the spec's files (read-only to the agent); `/mergebench/out/` where
//! it may leave usage.json and a trajectory. Non-root, no capabilities, no-new-privileges,
//! limits on memory, CPU, pids and time; no network, or with an allowlist only the egress
//! proxy (`egress`), whose log comes back with the run.

use super::container::{self, CappedLog, Limits, RunSpec};
use super::egress::{Egress, EgressLog, GatewayLog};
use super::images::Image;
use super::Docker;
use crate::config::agent::{AgentSpec, Network};
use crate::config::gateway::GatewaySpec;
use crate::error::Error;
use crate::repo::workspace::{BaseRepo, AGENT_UID};

pub const LOG_CAP: usize = 1 << 20;
/// The agent's whole /workspace, archived; past this the patch is not extracted.
pub const WORKSPACE_CAP: u64 = 1 << 30;
pub const OUT_CAP: u64 = 64 << 20;
const OUT_FILE_CAP: usize = 8 << 20;

pub struct AgentInput<'a> {
    pub image: &'a Image,
    pub spec: &'a AgentSpec,
    pub base: &'a BaseRepo,
    pub problem: &'a str,
    /// Only for specs that declare `gold_patch = true`.
    pub gold: Option<&'a [u8]>,
    /// (name, value) of the spec's secrets, read from the host environment.
    pub secrets: &'a [(String, String)],
    /// The egress proxy's image; required when the spec allowlists hosts or has a gateway.
    pub proxy_image: Option<&'a Image>,
    /// The attempt's model gateway, for specs with `[gateway]`.
    pub gateway: Option<GatewayInput<'a>>,
}

/// What the attempt's gateway is started with.
pub struct GatewayInput<'a> {
    pub image: &'a Image,
    /// `mergebench gateway`'s configuration (JSON), the token included.
    pub config_json: Vec<u8>,
    /// The gateway's own environment: the real key, `NAME=value`.
    pub env: Vec<String>,
    pub spec: &'a GatewaySpec,
    /// The attempt's token, which the agent presents instead of a key.
    pub token: String,
}

#[derive(Debug)]
pub struct AgentRun {
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub oom_killed: bool,
    /// Killed for writing more than the spec's `disk`.
    pub disk_exceeded: bool,
    pub log: CappedLog,
    /// The `/workspace` archive, in a temporary file; None when it exceeded `WORKSPACE_CAP`.
    pub workspace: Option<std::fs::File>,
    /// Files the agent left in /mergebench/out (name, bytes), secrets redacted.
    pub out_files: Vec<(String, Vec<u8>)>,
    pub seconds: f64,
    /// The egress proxy's log, for agents with an allowlist or a gateway.
    pub egress: Option<EgressLog>,
    /// The gateway's call log and trajectory, for agents with a gateway.
    pub gateway: Option<GatewayLog>,
}

pub async fn run_agent(docker: &Docker, input: AgentInput<'_>) -> Result<AgentRun, Error> {
    let allow: &[String] = match &input.spec.network {
        Network::Allow(allow) => allow,
        Network::None if input.gateway.is_some() => &[],
        Network::None => return run_in(docker, &input, None, Vec::new()).await,
    };
    let image = input
        .proxy_image
        .ok_or_else(|| Error::infra("an allowlisted agent was started without the proxy image"))?;
    let mut egress = Egress::start(docker, image, allow).await?;
    // The gateway first, when there is one: the agent learns its address and token.
    let gateway_env = match &input.gateway {
        Some(g) => egress
            .start_gateway(docker, g.image, &g.config_json, &g.env)
            .await
            .map(|origin| {
                let url = g.spec.agent_base_url(&origin);
                let base = g.spec.base_url_env.iter().map(|k| format!("{k}={url}"));
                let token = g.spec.token_env.iter().map(|k| format!("{k}={}", g.token));
                base.chain(token).collect()
            }),
        None => Ok(Vec::new()),
    };
    let result = match gateway_env {
        Ok(env) => run_in(docker, &input, Some(&egress), env).await,
        Err(e) => Err(e),
    };
    // Torn down whatever the agent's run did: the logs are read back before the removal.
    let (mut log, gateway) = egress.stop(docker).await;
    let mut run = result?;
    redact(&mut log.bytes, input.secrets);
    run.egress = Some(log);
    run.gateway = gateway;
    Ok(run)
}

async fn run_in(
    docker: &Docker,
    input: &AgentInput<'_>,
    egress: Option<&Egress>,
    extra_env: Vec<String>,
) -> Result<AgentRun, Error> {
    let mut env = vec![
        "MERGEBENCH_PROBLEM=/mergebench/problem.md".to_string(),
        "MERGEBENCH_WORKSPACE=/workspace".to_string(),
        "MERGEBENCH_OUT=/mergebench/out".to_string(),
    ];
    env.extend(input.spec.env.iter().map(|(k, v)| format!("{k}={v}")));
    env.extend(input.secrets.iter().map(|(k, v)| format!("{k}={v}")));
    if input.gold.is_some() {
        env.push("MERGEBENCH_GOLD_PATCH=/mergebench/gold.patch".into());
    }
    if let Some(e) = egress {
        env.extend(e.env());
    }
    env.extend(extra_env);
    let extras = mergebench_dir(input.spec, input.problem, input.gold)?;
    let result = container::run(
        docker,
        RunSpec {
            image: &input.image.tag,
            cmd: input.spec.command.clone(),
            env,
            workdir: "/workspace",
            user: "1000:1000",
            limits: Limits {
                memory: input.spec.memory,
                cpus: input.spec.cpus,
                pids: input.spec.pids,
                disk: Some(input.spec.disk),
            },
            kind: "agent",
            uploads: vec![input.base.archive.clone(), extras],
            downloads: vec![
                ("/workspace".into(), WORKSPACE_CAP),
                ("/mergebench/out".into(), OUT_CAP),
            ],
            timeout: input.spec.timeout,
            log_cap: LOG_CAP,
            network: egress.map(|e| e.network().to_string()),
        },
    )
    .await?;
    let mut downloads = result.downloads.into_iter();
    let (Some(ws), Some(out)) = (downloads.next(), downloads.next()) else {
        return Err(Error::infra(
            "the agent's container gave back fewer folders than the two asked for",
        ));
    };
    let mut log = result.log;
    redact(&mut log.bytes, input.secrets);
    let mut out_files = match out.file {
        Some(file) => tokio::task::spawn_blocking(move || out_files(file))
            .await
            .map_err(|e| Error::infra_from("", e))?,
        None => Vec::new(),
    };
    for (_, bytes) in &mut out_files {
        redact(bytes, input.secrets);
    }
    Ok(AgentRun {
        exit_code: result.exit_code,
        timed_out: result.timed_out,
        oom_killed: result.oom_killed,
        disk_exceeded: result.disk_exceeded,
        log,
        workspace: if ws.truncated { None } else { ws.file },
        out_files,
        seconds: result.seconds,
        egress: None,
        gateway: None,
    })
}

/// `/mergebench` as an archive: root-owned except `out/`, which the agent may write.
fn mergebench_dir(spec: &AgentSpec, problem: &str, gold: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    let mut b = tar::Builder::new(Vec::new());
    let io = |e: std::io::Error| Error::infra_from("packing /mergebench", e);
    let dir = |b: &mut tar::Builder<Vec<u8>>, path: &str, uid: u64| -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_size(0);
        b.append_data(&mut h, path, std::io::empty())
    };
    let file = |b: &mut tar::Builder<Vec<u8>>,
                path: &str,
                bytes: &[u8],
                mode: u32|
     -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(bytes.len() as u64);
        b.append_data(&mut h, path, bytes)
    };
    dir(&mut b, "mergebench/", 0).map_err(io)?;
    dir(&mut b, "mergebench/out/", AGENT_UID).map_err(io)?;
    dir(&mut b, "mergebench/agent/", 0).map_err(io)?;
    file(&mut b, "mergebench/problem.md", problem.as_bytes(), 0o644).map_err(io)?;
    for (path, name) in &spec.files {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::input(
                &spec.file,
                None,
                format!("agent file {} cannot be read: {e}", path.display()),
                "correct `files`",
            )
        })?;
        file(&mut b, &format!("mergebench/agent/{name}"), &bytes, 0o755).map_err(io)?;
    }
    if let Some(g) = gold {
        file(&mut b, "mergebench/gold.patch", g, 0o644).map_err(io)?;
    }
    b.into_inner().map_err(io)
}

/// The regular files of the `/mergebench/out` archive, each capped.
fn out_files(archive: impl std::io::Read) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(archive);
    let Ok(entries) = archive.entries() else {
        return out;
    };
    for entry in entries.flatten() {
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let Ok(path) = entry.path() else { continue };
        let name = path
            .strip_prefix("out")
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let mut bytes = Vec::new();
        let _ = entry.take(OUT_FILE_CAP as u64).read_to_end(&mut bytes);
        out.push((name, bytes));
    }
    out
}

/// Replaces every secret's value with its name, so a printed key never reaches the store.
pub fn redact(bytes: &mut Vec<u8>, secrets: &[(String, String)]) {
    for (name, value) in secrets {
        if value.len() < 4 {
            continue;
        }
        let needle = value.as_bytes();
        let replacement = format!("[{name} redacted]");
        let mut outv = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i..].starts_with(needle) {
                outv.extend_from_slice(replacement.as_bytes());
                i += needle.len();
            } else {
                outv.push(bytes[i]);
                i += 1;
            }
        }
        *bytes = outv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let mut b = b"key=sk-12345 and again sk-12345.".to_vec();
        redact(&mut b, &[("OPENAI_API_KEY".into(), "sk-12345".into())]);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "key=[OPENAI_API_KEY redacted] and again [OPENAI_API_KEY redacted]."
        );
    }
}
