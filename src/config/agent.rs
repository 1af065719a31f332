//! Agent specs: `harness/agents/<name>.toml`, what runs in the sandbox and with which limits.

use super::{line_of_key, parse_toml, read_file, sha256_hex};
use crate::error::Error;
use crate::units::{parse_duration, parse_size};
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
    #[serde(default)]
    gold_patch: bool,
}

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
    pub network: Network,
    #[serde(serialize_with = "ser_secs")]
    pub timeout: Duration,
    pub cpus: f64,
    pub memory: u64,
    pub pids: i64,
    /// Scripted agents only: receives the task's gold patch at /mergebench/gold.patch.
    pub gold_patch: bool,
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
];

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
                format!(
                    "write {} (see the README's guide to agent specs)",
                    file.display()
                )
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
            (p.extension().is_some_and(|x| x == "toml"))
                .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    Ok(names)
}

pub fn load_agent(file: &Path) -> Result<AgentSpec, Error> {
    let text = String::from_utf8_lossy(&read_file(file, "agent spec", None)?).into_owned();
    let raw: RawAgent = parse_toml(file, &text, "agent spec")?;
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
        let path = dir.join(f);
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
    let dockerfile = match &raw.dockerfile {
        Some(d) => {
            let p = dir.join(d);
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
            hash_input.extend(ctx.into_bytes());
            Some(p)
        }
        None => None,
    };
    for k in raw.env.keys().chain(raw.secrets.iter()) {
        if RESERVED_ENV.contains(&k.as_str()) {
            return Err(Error::input(
                file,
                at("env"),
                format!("`{k}` is set by mergebench itself"),
                "remove it from env/secrets",
            ));
        }
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::input(
                file,
                at("env"),
                format!("`{k}` is not a valid variable name"),
                "use letters, digits and '_'",
            ));
        }
    }
    for s in &raw.secrets {
        if raw.env.contains_key(s) {
            return Err(Error::input(
                file,
                at("secrets"),
                format!("`{s}` is both a secret and a plain env value"),
                "a secret's value comes from the host environment only: remove it from env",
            ));
        }
    }
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
            for a in &allow {
                let ok = a
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
                if !ok {
                    return Err(Error::input(
                        file,
                        at("network"),
                        format!("allow entry `{a}` is not host:port"),
                        "write entries like \"api.openai.com:443\"",
                    ));
                }
            }
            Network::Allow(allow)
        }
    };
    let timeout = match &raw.timeout {
        Some(t) => parse_duration(t)
            .map_err(|e| Error::input(file, at("timeout"), e, "write it like \"30m\""))?,
        None => Duration::from_secs(30 * 60),
    };
    let memory = match &raw.memory {
        Some(m) => parse_size(m)
            .map_err(|e| Error::input(file, at("memory"), e, "write it like \"4GiB\""))?,
        None => 4 << 30,
    };
    if memory < 16 << 20 {
        return Err(Error::input(
            file,
            at("memory"),
            "memory below 16MiB cannot start a container",
            "give at least \"64MiB\"",
        ));
    }
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
    Ok(AgentSpec {
        name: raw.name,
        description: raw.description,
        files,
        command: raw.command,
        dockerfile,
        env: raw.env,
        secrets: raw.secrets,
        network,
        timeout,
        cpus,
        memory,
        pids,
        gold_patch: raw.gold_patch,
        file: file.to_path_buf(),
        hash: sha256_hex(&hash_input),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<AgentSpec, Error> {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("run.sh"), "true\n").unwrap();
        let f = tmp.path().join("a.toml");
        std::fs::write(&f, text).unwrap();
        load_agent(&f)
    }

    #[test]
    fn loads_a_full_spec() {
        let a = load("name = \"a\"\nfiles = [\"run.sh\"]\ncommand = [\"sh\", \"/mergebench/agent/run.sh\"]\nsecrets = [\"OPENAI_API_KEY\"]\nnetwork = { allow = [\"api.openai.com:443\"] }\ntimeout = \"2m\"\ncpus = 1.5\nmemory = \"512MiB\"\n").unwrap();
        assert_eq!(a.files[0].1, "run.sh");
        assert_eq!(a.network, Network::Allow(vec!["api.openai.com:443".into()]));
        assert_eq!(a.timeout, Duration::from_secs(120));
        assert_eq!(a.memory, 512 << 20);
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
            "name = \"a\"\ncommand = [\"x\"]\nenv = { MERGEBENCH_OUT = \"/\" }\n",
            3,
            "set by mergebench",
        );
        check(
            "name = \"a\"\ncommand = [\"x\"]\nsecrets = [\"K\"]\nenv = { K = \"v\" }\n",
            3,
            "both a secret",
        );
    }
}
