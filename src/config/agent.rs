//! Agent specs: `harness/agents/<name>.toml`, what runs in the sandbox and with which limits.

use super::expand::expand;
use super::gateway::GatewaySpec;
use super::{line_of_key, parse_toml, read_file, sha256_hex};
use crate::config::units::{parse_duration, parse_size};
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawNetwork {
    Mode(String),
    Allow { allow: Vec<String> },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    files: Vec<String>,
    command: Vec<String>,
    dockerfile: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    secrets: Vec<String>,
    network: Option<RawNetwork>,
    timeout: Option<String>,
    cpus: Option<f64>,
    memory: Option<String>,
    pids: Option<i64>,
    disk: Option<String>,
    patch_bytes: Option<String>,
    patch_files: Option<u64>,
    #[serde(default)]
    gold_patch: bool,
    #[serde(default)]
    mergebench_binary: bool,
    gateway: Option<super::gateway::RawGateway>,
}

/// What an agent may write to its container's filesystem unless its spec says otherwise.
pub const DEFAULT_DISK: u64 = 4 << 30;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    None,
    Allow(Vec<String>),
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentSpec {
    pub name: String,
    pub description: String,
    /// (file on the host, name under /mergebench/agent/)
    pub files: Vec<(PathBuf, String)>,
    pub command: Vec<String>,
    pub dockerfile: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    /// Names of host variables passed through; their values are never stored.
    pub secrets: Vec<String>,
    /// Written `NAME?` in the spec: passed through when set, not required.
    pub optional_secrets: Vec<String>,
    pub network: Network,
    #[serde(serialize_with = "ser_secs")]
    pub timeout: Duration,
    pub cpus: f64,
    pub memory: u64,
    pub pids: i64,
    /// Bytes the agent may write to its container's filesystem, the workspace included.
    pub disk: u64,
    /// The agent's own patch limits, over the suite's `[limits]` where given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_files: Option<u64>,
    /// Scripted agents only: receives the task's gold patch at /mergebench/gold.patch.
    pub gold_patch: bool,
    /// The running mergebench executable is added to the Dockerfile's build context as
    /// `mergebench` (the reference agent's image copies it in).
    pub mergebench_binary: bool,
    /// The attempt's model gateway: the agent reaches its provider only through it, with a
    /// per-attempt token, and the real key stays on the gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewaySpec>,
    /// Hash of the Dockerfile's folder (its build context): what the agent's image is
    /// tagged by, so editing the spec or its scripts rebuilds nothing.
    pub image_hash: Option<String>,
    pub file: PathBuf,
    pub hash: String,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Environment names the harness sets itself; a spec may not override them.
const RESERVED_ENV: &[&str] = &[
    "MERGEBENCH_PROBLEM",
    "MERGEBENCH_WORKSPACE",
    "MERGEBENCH_OUT",
    "MERGEBENCH_GOLD_PATCH",
    // Set to the egress proxy for allowlisted agents; anything else would lead nowhere.
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The line where `name` is written in the spec's `list`: its own line in an `[env]` table,
/// the `env = { … }` line, or the line of its entry in a `secrets = [ … ]` list that may span
/// lines. None only when the spec does not write it at all.
fn line_of_name(text: &str, list: &str, name: &str) -> Option<usize> {
    if let Some(line) = line_of_key(text, Some(list), name)
        .or_else(|| line_of_key(text, Some(list), &format!("\"{name}\"")))
        .or_else(|| line_of_key(text, Some(list), &format!("'{name}'")))
    {
        return Some(line);
    }
    let start = line_of_key(text, None, list)?;
    // An entry is quoted, and a secret may carry the optional mark `?`.
    let quoted = [
        format!("\"{name}\""),
        format!("\"{name}?\""),
        format!("'{name}'"),
        format!("'{name}?'"),
    ];
    for (i, line) in text.lines().enumerate().skip(start - 1) {
        let code = line.split('#').next().unwrap_or("");
        if quoted.iter().any(|q| code.contains(q.as_str())) {
            return Some(i + 1);
        }
        // The list ends on the line that closes it.
        if list == "env" || code.contains(']') {
            break;
        }
    }
    Some(start)
}

/// Finds an agent by name in `dir` (`<dir>/<name>.toml`) or by path to a spec file.
pub fn find_agent(dir: &Path, name_or_path: &str) -> Result<AgentSpec, Error> {
    let as_path = Path::new(name_or_path);
    let file = if name_or_path.ends_with(".toml") {
        as_path.to_path_buf()
    } else {
        dir.join(format!("{name_or_path}.toml"))
    };
    if !file.is_file() {
        let known = list_agents(dir).unwrap_or_default();
        return Err(Error::input(
            &file,
            None,
            format!("no agent spec named `{name_or_path}`"),
            if known.is_empty() {
                format!("write {} (see docs/agents.md)", file.display())
            } else {
                format!("use one of: {}", known.join(", "))
            },
        ));
    }
    load_agent(&file)
}

pub fn list_agents(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            // A directory entry's path ends in its name, so it has a stem.
            (p.extension().is_some_and(|x| x == "toml")).then(|| {
                p.file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
        })
        .collect();
    names.sort();
    Ok(names)
}

pub fn load_agent(file: &Path) -> Result<AgentSpec, Error> {
    load_agent_with(file, &|k| std::env::var(k).ok())
}

/// `load_agent` with `${NAME}` read through `lookup` (tests pass their own environment).
fn load_agent_with(
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<AgentSpec, Error> {
    // Every path a spec holds is this one joined with text from TOML, so the spec serializes
    // (the store).
    super::utf8_path(file, "agent spec")?;
    let text = String::from_utf8_lossy(&read_file(file, "agent spec", None)?).into_owned();
    let mut raw: RawAgent = parse_toml(file, &text, "agent spec")?;
    // `NAME?`: passed when the host sets it, not required (a local model needs no key).
    let mut optional_secrets = Vec::new();
    raw.secrets.retain(|s| match s.strip_suffix('?') {
        Some(name) => {
            optional_secrets.push(name.to_string());
            false
        }
        None => true,
    });
    let all_secrets: Vec<String> = raw
        .secrets
        .iter()
        .chain(&optional_secrets)
        .cloned()
        .collect();
    // cannot fail: the file was just read, so it is not `/` or empty.
    let dir = file.parent().unwrap();
    let at = |key: &str| line_of_key(&text, None, key);
    if raw.name.is_empty()
        || !raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(Error::input(
            file,
            at("name"),
            format!("agent name `{}` is not usable", raw.name),
            "use letters, digits, '-', '_' or '.'",
        ));
    }
    if raw.command.is_empty() {
        return Err(Error::input(
            file,
            at("command"),
            "command is empty",
            "give the command as a list, e.g. [\"sh\", \"/mergebench/agent/run.sh\"]",
        ));
    }
    let mut files = Vec::new();
    let mut hash_input = text.clone().into_bytes();
    for f in &raw.files {
        let path = super::inside(dir, &dir.join(f), "agent file", file, at("files"))?;
        let bytes = read_file(&path, "agent file", Some((file, at("files"))))?;
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if files.iter().any(|(_, b)| b == &base) {
            return Err(Error::input(
                file,
                at("files"),
                format!("two files are named `{base}`"),
                "give the agent's files distinct names",
            ));
        }
        hash_input.extend(sha256_hex(&bytes).into_bytes());
        files.push((path, base));
    }
    let mut image_hash = None;
    let dockerfile = match &raw.dockerfile {
        Some(d) => {
            // Its folder is the build context sent to the daemon: never outside the spec's.
            let p = super::inside(dir, &dir.join(d), "Dockerfile", file, at("dockerfile"))?;
            let ctx = super::hash_dir(p.parent().unwrap_or(dir)).map_err(|e| {
                Error::input(
                    file,
                    at("dockerfile"),
                    format!("cannot read {}: {e}", p.display()),
                    "correct the path",
                )
            })?;
            if !p.is_file() {
                return Err(Error::input(
                    file,
                    at("dockerfile"),
                    format!("Dockerfile {} does not exist", p.display()),
                    "correct the path (relative to this file)",
                ));
            }
            hash_input.extend(ctx.as_bytes());
            image_hash = Some(ctx);
            Some(p)
        }
        None => None,
    };
    // Each name is checked where it is written: its line in `env` or in `secrets`.
    let names = raw
        .env
        .keys()
        .map(|k| (k, "env"))
        .chain(all_secrets.iter().map(|s| (s, "secrets")));
    for (k, list) in names {
        let line = line_of_name(&text, list, k);
        if RESERVED_ENV.contains(&k.as_str()) {
            return Err(Error::input(
                file,
                line,
                format!("`{k}` is set by mergebench itself"),
                format!("remove `{k}` from {list}: mergebench sets it for every agent"),
            ));
        }
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::input(
                file,
                line,
                format!("`{k}` in {list} is not a valid variable name"),
                "rename it with letters, digits and '_' only (e.g. MY_API_KEY)",
            ));
        }
    }
    for s in &all_secrets {
        if raw.env.contains_key(s) {
            return Err(Error::input(
                file,
                line_of_name(&text, "env", s),
                format!("`{s}` is both a secret and a plain env value"),
                format!(
                    "a secret's value comes from the host environment only: remove `{s}` from env"
                ),
            ));
        }
    }
    let mut env = BTreeMap::new();
    for (k, v) in &raw.env {
        let value = expand(v, &all_secrets, lookup).map_err(|e| {
            Error::input(
                file,
                line_of_name(&text, "env", k),
                format!("cannot expand `{v}` (env `{k}`): {e}"),
                "set the variable, give a default (${NAME:-value}), or pass secrets through `secrets`",
            )
        })?;
        env.insert(k.clone(), value);
    }
    let expand_at = |key: &str, v: &str| {
        expand(v, &all_secrets, lookup).map_err(|e| {
            Error::input(
                file,
                at(key),
                format!("cannot expand `{v}`: {e}"),
                "set the variable, give a default (${NAME:-value}), or pass secrets through `secrets`",
            )
        })
    };
    let network = match raw.network {
        None => Network::None,
        Some(RawNetwork::Mode(m)) if m == "none" => Network::None,
        Some(RawNetwork::Mode(m)) => {
            return Err(Error::input(
                file,
                at("network"),
                format!("network `{m}` is not known"),
                "use network = \"none\" or network = { allow = [\"host:port\"] }",
            ))
        }
        Some(RawNetwork::Allow { allow }) => {
            let mut entries = Vec::new();
            for a in &allow {
                let expanded = expand_at("network", a)?;
                let Some(entry) = allow_entry(&expanded) else {
                    return Err(Error::input(
                        file,
                        at("network"),
                        format!("allow entry `{expanded}` is not host:port or an http(s) URL"),
                        "write entries like \"api.openai.com:443\" or \"https://api.openai.com/v1\"",
                    ));
                };
                if !entries.contains(&entry) {
                    entries.push(entry);
                }
            }
            if entries.is_empty() {
                return Err(Error::input(
                    file,
                    at("network"),
                    "the allowlist is empty",
                    "list the hosts the agent needs, or write network = \"none\"",
                ));
            }
            Network::Allow(entries)
        }
    };
    let timeout = match &raw.timeout {
        Some(t) => parse_duration(t)
            .map_err(|e| Error::input(file, at("timeout"), e, "write it like \"30m\""))?,
        None => Duration::from_secs(30 * 60),
    };
    // A size key: its value or the default, refused below `min` with why and how much to give.
    let size = |key: &str, value: &Option<String>, default: u64, min: (u64, &str, &str)| {
        let v = match value {
            Some(v) => parse_size(v)
                .map_err(|e| Error::input(file, at(key), e, "write it like \"4GiB\""))?,
            None => default,
        };
        if v < min.0 {
            return Err(Error::input(file, at(key), min.1, min.2));
        }
        Ok(v)
    };
    let memory = size(
        "memory",
        &raw.memory,
        4 << 30,
        (
            16 << 20,
            "memory below 16MiB cannot start a container",
            "give at least \"64MiB\"",
        ),
    )?;
    let cpus = raw.cpus.unwrap_or(2.0);
    if !(cpus > 0.0 && cpus <= 256.0) {
        return Err(Error::input(
            file,
            at("cpus"),
            format!("cpus = {cpus} is out of range"),
            "give a positive number such as 2.0",
        ));
    }
    let pids = raw.pids.unwrap_or(512);
    if pids < 8 {
        return Err(Error::input(
            file,
            at("pids"),
            "pids below 8 cannot run a shell",
            "give at least 64",
        ));
    }
    let disk = size(
        "disk",
        &raw.disk,
        DEFAULT_DISK,
        (
            64 << 20,
            "disk below 64MiB leaves no room for the workspace",
            "give at least \"256MiB\"",
        ),
    )?;
    let patch_bytes = match &raw.patch_bytes {
        Some(v) => Some(size(
            "patch_bytes",
            &Some(v.clone()),
            0,
            (
                crate::config::limits::MIN_PATCH_BYTES,
                "patch_bytes below 4KiB leaves no room for a fix",
                "give at least \"1MiB\"",
            ),
        )?),
        None => None,
    };
    if raw.patch_files == Some(0) {
        return Err(Error::input(
            file,
            at("patch_files"),
            "patch_files = 0 would refuse every patch",
            "give at least 100",
        ));
    }
    let gateway = match raw.gateway {
        Some(g) => Some(super::gateway::parse(g, file, &text, &all_secrets, lookup)?),
        None => None,
    };
    if let Some(g) = &gateway {
        // The gateway sets these itself; the real key must not reach the agent another way.
        let set_by_gateway = g.base_url_env.iter().chain(&g.token_env);
        for k in set_by_gateway.chain(g.key.iter()) {
            let list = if raw.env.contains_key(k) {
                "env"
            } else if all_secrets.contains(k) {
                "secrets"
            } else {
                continue;
            };
            return Err(Error::input(
                file,
                line_of_name(&text, list, k),
                format!("`{k}` is given to the agent by the gateway"),
                format!("remove `{k}` from {list}: with [gateway] the agent gets the gateway's address and its own token, never the provider key"),
            ));
        }
    }
    // What the variables expanded to is part of the agent: the same spec pointed at another
    // endpoint is another agent.
    hash_input.extend(format!("\n{env:?}\n{network:?}\n{gateway:?}").into_bytes());
    Ok(AgentSpec {
        name: raw.name,
        description: raw.description,
        files,
        command: raw.command,
        dockerfile,
        env,
        secrets: raw.secrets,
        optional_secrets,
        network,
        timeout,
        cpus,
        memory,
        pids,
        disk,
        patch_bytes,
        patch_files: raw.patch_files,
        gold_patch: raw.gold_patch,
        mergebench_binary: raw.mergebench_binary,
        gateway,
        image_hash,
        file: file.to_path_buf(),
        hash: sha256_hex(&hash_input),
    })
}

impl AgentSpec {
    /// This agent with its gateway pinned to `model`: another agent for provenance (its hash
    /// changes), so a pinned evaluation never resumes an unpinned one.
    pub fn pinned(mut self, model: &str) -> Result<AgentSpec, Error> {
        let model = model.trim();
        if model.is_empty() {
            return Err(Error::Usage("--pin-model needs a model name".into()));
        }
        let Some(g) = &mut self.gateway else {
            return Err(Error::input(
                &self.file,
                None,
                format!("agent `{}` has no [gateway], so its model cannot be pinned", self.name),
                "give the agent a [gateway] table (docs/agents.md), or leave it out of a pinned run",
            ));
        };
        g.pin_model = Some(model.to_string());
        self.hash = sha256_hex(format!("{}\npin-model:{model}", self.hash).as_bytes());
        Ok(self)
    }
}

/// `host:port`, `*.domain:port`, or an http(s) URL (its host and port, the scheme's default
/// when none is given), normalised to lower-case `host:port`.
pub fn allow_entry(s: &str) -> Option<String> {
    let s = s.trim();
    let (host, port) = if let Some((scheme, rest)) = s.split_once("://") {
        let default = match scheme.to_ascii_lowercase().as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit('@').next().unwrap_or("");
        match split_port(authority) {
            Some((h, Some(p))) => (h, p),
            Some((h, None)) => (h, default),
            None => return None,
        }
    } else {
        match split_port(s) {
            Some((h, Some(p))) => (h, p),
            _ => return None,
        }
    };
    let bare = host.strip_prefix("*.").unwrap_or(host);
    let ok = !bare.is_empty()
        && port > 0
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']' | '_'));
    ok.then(|| format!("{}:{port}", host.to_ascii_lowercase()))
}

/// `host[:port]`, with IPv6 literals in brackets.
fn split_port(s: &str) -> Option<(&str, Option<u16>)> {
    if s.starts_with('[') {
        let close = s.find(']')?;
        let tail = &s[close + 1..];
        return match tail.strip_prefix(':') {
            Some(p) => Some((&s[..=close], Some(p.parse().ok()?))),
            None if tail.is_empty() => Some((&s[..=close], None)),
            None => None,
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Some((h, Some(p.parse().ok()?))),
        None => Some((s, None)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_gateway_table_is_checked_where_it_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("a.toml");
        let head = "name = \"a\"\ncommand = [\"sh\"]\n";
        let gw = "[gateway]\napi = \"openai\"\nupstream = \"https://x.example/v1\"\n";
        let cases = [
            (format!("{head}[gateway]\napi = \"grpc\"\nupstream = \"https://x/v1\"\nbase_url_env = [\"B\"]\n"), 4, "not known"),
            (format!("{head}[gateway]\napi = \"openai\"\nupstream = \"ftp://x\"\nbase_url_env = [\"B\"]\n"), 5, "not an http(s) URL"),
            (format!("{head}{gw}base_url_env = [\"B\"]\nmax_cost = 5.0\n"), 7, "no default price"),
            (format!("{head}{gw}base_url_env = [\"B\"]\nmax_requests = 0\n"), 7, "refuse every request"),
            (format!("{head}[env]\nOPENAI_API_KEY = \"x\"\n{gw}key = \"OPENAI_API_KEY\"\nbase_url_env = [\"B\"]\n"), 4, "given to the agent by the gateway"),
            (format!("{head}{gw}"), 4, "no base_url_env"),
        ];
        for (text, line, says) in cases {
            std::fs::write(&f, &text).unwrap();
            let e = load_agent_with(&f, &|_| None).unwrap_err().to_string();
            assert!(
                e.contains(&format!("a.toml:{line}")) && e.contains(says),
                "{text}\n{e}"
            );
        }
        std::fs::write(&f, format!("{head}{gw}base_url_env = [\"B\"]\nmax_cost = 5.0\n[gateway.prices.\"*\"]\ninput = 1.0\noutput = 2.0\n")).unwrap();
        let spec = load_agent_with(&f, &|_| None).unwrap();
        let hash = spec.hash.clone();
        let pinned = spec.pinned("m").unwrap();
        assert_ne!(pinned.hash, hash, "a pinned agent is another agent");
        assert_eq!(pinned.gateway.unwrap().pin_model.as_deref(), Some("m"));
    }

    #[test]
    fn a_spec_under_a_non_utf8_folder_is_refused_not_a_panic() {
        use std::os::unix::ffi::OsStrExt;
        // Bug pinned: a run stores the spec as JSON, which panicked on a path that is not
        // UTF-8.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(std::ffi::OsStr::from_bytes(b"agents-\xff"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("run.sh"), "true\n").unwrap();
        let f = dir.join("a.toml");
        std::fs::write(
            &f,
            "name = \"a\"\nfiles = [\"run.sh\"]\ncommand = [\"sh\"]\n",
        )
        .unwrap();
        let e = load_agent_with(&f, &|_| None).unwrap_err().to_string();
        assert!(e.contains("a.toml") && e.contains("not valid UTF-8"), "{e}");
    }

    use super::*;

    fn load(text: &str) -> Result<AgentSpec, Error> {
        load_env(text, &[])
    }

    fn load_env(text: &str, env: &[(&str, &str)]) -> Result<AgentSpec, Error> {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("run.sh"), "true\n").unwrap();
        let f = tmp.path().join("a.toml");
        std::fs::write(&f, text).unwrap();
        let lookup = |k: &str| {
            env.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        };
        load_agent_with(&f, &lookup)
    }

    #[test]
    fn loads_a_full_spec() {
        let a = load("name = \"a\"\nfiles = [\"run.sh\"]\ncommand = [\"sh\", \"/mergebench/agent/run.sh\"]\nsecrets = [\"OPENAI_API_KEY\", \"GATEWAY_KEY?\"]\nnetwork = { allow = [\"api.openai.com:443\"] }\ntimeout = \"2m\"\ncpus = 1.5\nmemory = \"512MiB\"\ndisk = \"1GiB\"\n").unwrap();
        assert_eq!(a.files[0].1, "run.sh");
        assert_eq!(a.secrets, ["OPENAI_API_KEY"]);
        assert_eq!(a.optional_secrets, ["GATEWAY_KEY"]);
        assert_eq!(a.network, Network::Allow(vec!["api.openai.com:443".into()]));
        assert_eq!(a.timeout, Duration::from_secs(120));
        assert_eq!(a.memory, 512 << 20);
        assert_eq!(a.disk, 1 << 30);
    }

    #[test]
    fn allow_entries_are_host_port_or_urls() {
        for (input, expected) in [
            ("api.openai.com:443", Some("api.openai.com:443")),
            ("API.OpenAI.com:443", Some("api.openai.com:443")),
            ("https://api.anthropic.com", Some("api.anthropic.com:443")),
            ("http://model:8000/v1", Some("model:8000")),
            (
                "https://user@gw.internal:8443/v1?x=1",
                Some("gw.internal:8443"),
            ),
            ("*.openai.azure.com:443", Some("*.openai.azure.com:443")),
            ("[::1]:8080", Some("[::1]:8080")),
            ("example.com", None),
            ("ftp://example.com", None),
            ("example.com:99999", None),
            ("bad host:80", None),
            (":443", None),
        ] {
            assert_eq!(allow_entry(input).as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn variables_in_env_and_allowlists_come_from_the_host() {
        let spec = "name = \"a\"\ncommand = [\"x\"]\nenv = { BASE = \"${MB_BASE_URL:-https://api.openai.com/v1}\" }\nnetwork = { allow = [\"${MB_BASE_URL:-https://api.openai.com/v1}\"] }\n";
        let a = load_env(spec, &[("MB_BASE_URL", "http://local-model:8000/v1")]).unwrap();
        assert_eq!(a.env["BASE"], "http://local-model:8000/v1");
        assert_eq!(a.network, Network::Allow(vec!["local-model:8000".into()]));
        let b = load(spec).unwrap();
        assert_eq!(b.env["BASE"], "https://api.openai.com/v1");
        assert_eq!(b.network, Network::Allow(vec!["api.openai.com:443".into()]));
        assert_ne!(a.hash, b.hash, "pointed elsewhere, it is another agent");
        let msg = load("name = \"a\"\ncommand = [\"x\"]\nsecrets = [\"OPENAI_API_KEY\"]\nenv = { K = \"${OPENAI_API_KEY}\" }\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("a.toml:4") && msg.contains("looks like a secret"),
            "{msg}"
        );
    }

    // Issue #15: env and secrets errors named the file but not the line when `env` was a
    // table or the offending name sat in `secrets`.
    #[test]
    fn env_and_secret_errors_name_the_line_of_the_name() {
        let check = |text: &str, line: usize, needles: &[&str]| {
            let msg = load(text).unwrap_err().to_string();
            assert!(msg.contains(&format!("a.toml:{line}:")), "{msg}");
            for needle in needles {
                assert!(msg.contains(needle), "{msg}");
            }
        };
        let head = "name = \"a\"\ncommand = [\"x\"]\n";
        check(
            &format!("{head}secrets = [\"K\"]\n\n[env]\nA = \"1\"\nHTTPS_PROXY = \"http://x\"\n"),
            7,
            &[
                "`HTTPS_PROXY` is set by mergebench",
                "remove `HTTPS_PROXY` from env",
            ],
        );
        check(
            &format!(
                "{head}env = {{ A = \"1\" }}\nsecrets = [\n  \"OK_KEY\",\n  \"BAD-NAME?\",\n]\n"
            ),
            6,
            &["`BAD-NAME` in secrets is not a valid", "rename it"],
        );
        check(
            &format!("{head}env = {{ A = \"1\" }}\nsecrets = [\"NO_PROXY\"]\n"),
            4,
            &["`NO_PROXY` is set by mergebench", "from secrets"],
        );
        check(
            &format!("{head}secrets = [\"K\"]\n[env]\nA = \"1\"\nK = \"v\"\n"),
            6,
            &["both a secret", "remove `K` from env"],
        );
        check(
            &format!("{head}[env]\nA = \"1\"\nB = \"${{MB_UNSET_FOR_TEST}}\"\n"),
            5,
            &["cannot expand", "env `B`", "give a default"],
        );
    }

    #[test]
    fn rejects_bad_specs_with_line() {
        let check = |text: &str, line: usize, needle: &str| {
            let msg = load(text).unwrap_err().to_string();
            assert!(msg.contains(&format!("a.toml:{line}")), "{msg}");
            assert!(msg.contains(needle), "{msg}");
        };
        check("name = \"a\"\ncommand = []\n", 2, "command is empty");
        check(
            "name = \"a\"\ncommand = [\"x\"]\nfiles = [\"missing.sh\"]\n",
            3,
            "cannot be read",
        );
        check(
            "name = \"a\"\ncommand = [\"x\"]\nmemory = \"lots\"\n",
            3,
            "not a size",
        );
        check(
            "name = \"a\"\ncommand = [\"x\"]\ndisk = \"1MiB\"\n",
            3,
            "disk below 64MiB",
        );
        check(
            "name = \"a\"\ncommand = [\"x\"]\nnetwork = \"host\"\n",
            3,
            "not known",
        );
        check(
            "name = \"a\"\ncommand = [\"x\"]\nnetwork = { allow = [\"example.com\"] }\n",
            3,
            "host:port",
        );
        check(
            "name = \"a\"\ncommand = [\"x\"]\nnetwork = { allow = [] }\n",
            3,
            "allowlist is empty",
        );
        check(
            "name = \"a\"\ncommand = [\"x\"]\nenv = { HTTPS_PROXY = \"http://elsewhere\" }\n",
            3,
            "set by mergebench",
        );
        check(
            "name = \"a\"\ncommand = [\"x\"]\nenv = { MERGEBENCH_OUT = \"/\" }\n",
            3,
            "set by mergebench",
        );
        check(
            "name = \"a\"\ncommand = [\"x\"]\nsecrets = [\"K\"]\nenv = { K = \"v\" }\n",
            4,
            "both a secret",
        );
    }
}
