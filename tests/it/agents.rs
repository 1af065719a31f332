//! Real agents without a vendor: allowlisted egress through the proxy, the reference agent
//! and a vendor adapter (mini-swe-agent, built from PyPI) driven end to end by a scripted
//! model server, and hostile agents whose refused connections are recorded.
//!
//! Nothing here talks to anything but loopback and containers the test creates: the model
//! server and a stand-in "upstream" run on an internal Docker network of the test's own,
//! which the egress proxy joins as its way out (`MERGEBENCH_EGRESS_NETWORK`).

use crate::fixture::{attempt, bin, owner_leaked, sqlite, Fixture, KILLED};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BASE_IMAGE: &str = "mergebench-base:bookworm";
const SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/harness/scripted-model/server.py"
);
const AGENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/harness/agents");
/// What the fixture's problem statement says: every scripted conversation matches on it.
const PROBLEM_MATCH: &str = "add(2, 3)";
const FIXED_CALC: &str = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n";

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A container's output, both streams (the server reports on stderr).
fn logs(container: &str) -> String {
    let out = Command::new("docker")
        .args(["logs", container])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// An internal Docker network of the test's own with scripted model servers on it; removed
/// on drop.
pub(crate) struct Lab {
    network: String,
    servers: Vec<String>,
}

impl Lab {
    pub(crate) fn new() -> Lab {
        let network = unique("mbtest-net");
        docker(&["network", "create", "--internal", &network]);
        Lab {
            network,
            servers: Vec::new(),
        }
    }

    /// Starts `server.py` with `script` as a container named `name-<unique>`; returns the
    /// container's name, which is its host name on the lab network.
    pub(crate) fn server(&mut self, name: &str, script: &Value) -> String {
        let name = unique(&format!("mbtest-{name}"));
        docker(&[
            "create",
            "--name",
            &name,
            "--network",
            &self.network,
            "--user",
            "1000:1000",
            BASE_IMAGE,
            "python3",
            "/srv/server.py",
            "/srv/script.json",
            "--port",
            "8000",
            "--log",
            "/tmp/requests.jsonl",
        ]);
        self.servers.push(name.clone());
        let tmp = tempfile::tempdir().unwrap();
        let script_path = tmp.path().join("script.json");
        std::fs::write(&script_path, script.to_string()).unwrap();
        docker(&["cp", SERVER, &format!("{name}:/srv/server.py")]);
        docker(&[
            "cp",
            script_path.to_str().unwrap(),
            &format!("{name}:/srv/script.json"),
        ]);
        docker(&["start", &name]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !logs(&name).contains("listening") {
            assert!(Instant::now() < deadline, "{name} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        name
    }

    fn ip(&self, server: &str) -> String {
        docker(&[
            "inspect",
            "-f",
            &format!(
                "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
                self.network
            ),
            server,
        ])
    }

    /// The requests a server logged, oldest first.
    pub(crate) fn requests(&self, server: &str) -> Vec<Value> {
        let out = Command::new("docker")
            .args(["exec", server, "cat", "/tmp/requests.jsonl"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Environment for `mergebench run`: the proxy's way out is this network.
    pub(crate) fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![("MERGEBENCH_EGRESS_NETWORK", self.network.as_str())];
        env.extend_from_slice(extra);
        env
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for s in &self.servers {
            let _ = Command::new("docker").args(["rm", "-f", s]).output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

/// Labelled networks and containers whose owning mergebench process is gone: what a run
/// failed to clean up. (Those of tests running at the same time have live owners.)
fn leftovers() -> Vec<String> {
    let mut out = Vec::new();
    for (kind, fmt) in [
        ("container", "{{.ID}} {{.Label \"mergebench.owner\"}}"),
        ("network", "{{.ID}} {{.Label \"mergebench.owner\"}}"),
    ] {
        let listing = match kind {
            "container" => docker(&["ps", "-a", "--filter", "label=mergebench", "--format", fmt]),
            _ => docker(&[
                "network",
                "ls",
                "--filter",
                "label=mergebench",
                "--format",
                fmt,
            ]),
        };
        for l in listing.lines() {
            if owner_leaked(l.split(' ').nth(1).unwrap_or("")) {
                out.push(format!("{kind} {l}"));
            }
        }
    }
    out
}

fn destinations(a: &Value) -> Vec<(String, bool)> {
    a["egress"]["destinations"]
        .as_array()
        .unwrap_or_else(|| panic!("no egress in {a}"))
        .iter()
        .map(|d| {
            (
                format!("{}:{}", d["host"].as_str().unwrap(), d["port"]),
                d["allowed"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn allowlisted_hosts_are_reached_and_the_rest_refused_and_recorded() {
    let mut lab = Lab::new();
    let model = lab.server("model", &json!({"conversations": []}));
    let upstream = lab.server("upstream", &json!({"conversations": []}));
    let model_ip = lab.ip(&model);
    let f = Fixture::new();
    // A hostile agent: it uses its allowlisted host through the proxy, both as plain HTTP
    // and as a CONNECT tunnel, then tries another host through the proxy (plain and
    // CONNECT), then the allowlisted host directly by address, bypassing the proxy.
    let probe = format!(
        r#"
import os, socket, urllib.request, urllib.error
def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return "%d:%s" % (r.status, r.read().decode().strip())
    except urllib.error.HTTPError as e:
        return "http%d" % e.code
    except Exception as e:
        return "error"
def tunnel(host, port):
    proxy = os.environ["HTTPS_PROXY"].split("//")[1]
    ph, pp = proxy.split(":")
    s = socket.create_connection((ph, int(pp)), timeout=10)
    s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port)).encode())
    head = s.recv(4096).decode().split("\r\n")[0]
    if " 200 " not in head + " ":
        return head
    s.sendall(("GET /health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
    body = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    return "tunnel:" + body.decode().split("\r\n")[0]
def resolves(name):
    try:
        socket.getaddrinfo(name, 80)
        return "resolved"
    except OSError:
        return "none"
def direct(ip):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((ip, 8000))
        return "connected"
    except OSError:
        return "blocked"
print("allowed=" + get("http://{model}:8000/health"))
print("tunnel=" + tunnel("{model}", 8000))
print("refused=" + get("http://{upstream}:8000/health"))
print("refused_tls=" + tunnel("{upstream}", 443))
print("dns_model=" + resolves("{model}"))
print("dns_upstream=" + resolves("{upstream}"))
print("direct=" + direct("{model_ip}"))
"#
    );
    crate::fixture::write(&f.agents(), "probe.py", &probe);
    crate::fixture::write(
        &f.agents(),
        "prober.toml",
        &format!(
            "name = \"prober\"\nfiles = [\"probe.py\"]\ncommand = [\"sh\", \"-c\", \"python3 /mergebench/agent/probe.py > $MERGEBENCH_OUT/report.txt\"]\nnetwork = {{ allow = [\"{model}:8000\"] }}\ntimeout = \"90s\"\nmemory = \"256MiB\"\ncpus = 1.0\n"
        ),
    );
    let r = f.run_env(&["prober"], &[], &lab.env(&[]));
    let a = attempt(&r, "prober");
    let report = sqlite(
        &f.db(),
        "SELECT x.bytes FROM artifacts x WHERE x.name = 'report.txt'",
    )
    .first()
    .map(|r| r[0].clone())
    .unwrap_or_default();
    for expected in [
        "allowed=200:{\"ok\": true}",
        "tunnel=tunnel:HTTP/1.1 200 OK",
        "refused=http403",
        "refused_tls=HTTP/1.1 403 Forbidden",
        "dns_model=none",
        "dns_upstream=none",
        "direct=blocked",
    ] {
        assert!(
            report.contains(expected),
            "missing `{expected}` in:\n{report}\n{a}"
        );
    }
    // Both verdicts are visible in `results --json`, per destination, with the count.
    assert_eq!(a["flags"]["egress_refused"], 2, "{a}");
    assert_eq!(a["egress"]["allowed"], 2, "{a}");
    assert_eq!(
        destinations(a),
        [
            (format!("{model}:8000"), true),
            (format!("{upstream}:443"), false),
            (format!("{upstream}:8000"), false),
        ]
    );
    assert!(
        a["egress"]["destinations"][0]["bytes_down"]
            .as_u64()
            .unwrap()
            > 0
    );
    // The model server saw the allowlisted requests; the upstream saw nothing at all.
    assert!(lab.requests(&upstream).is_empty());
    assert!(docker(&["logs", &upstream])
        .lines()
        .all(|l| !l.contains("GET")));
    // The proxy's own log is stored with the attempt.
    let log = sqlite(
        &f.db(),
        "SELECT l.bytes FROM logs l WHERE l.kind = 'egress'",
    );
    assert!(log[0][0].contains("\"allowed\": false"), "{log:?}");
    assert!(log[0][0].contains("\"summary\": true"), "{log:?}");
    // The text table shows the count too.
    let out = bin()
        .arg("--db")
        .arg(f.db())
        .arg("results")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("egress_refused=2"), "{text}");
    assert_eq!(leftovers(), Vec::<String>::new(), "left behind");
}

#[test]
fn gc_removes_the_proxy_and_network_of_a_killed_run() {
    let mut lab = Lab::new();
    let model = lab.server("model", &json!({"conversations": []}));
    let f = Fixture::new();
    f.agent(
        "sleeper",
        "sleep 120\n",
        &format!("network = {{ allow = [\"{model}:8000\"] }}\ntimeout = \"150s\"\n"),
    );
    let mut child = bin()
        .arg("--db")
        .arg(f.db())
        .args(["run", "--suite"])
        .arg(f.suite())
        .arg("--agents-dir")
        .arg(f.agents())
        .args(["--agent", "sleeper", "--json"])
        .envs(lab.env(&[]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let owner = format!(":{}:", child.id());
    let mine = |kind: &str| -> Vec<String> {
        let fmt = "{{.ID}} {{.Label \"mergebench.owner\"}}";
        let listing = match kind {
            "network" => docker(&[
                "network",
                "ls",
                "--filter",
                "label=mergebench",
                "--format",
                fmt,
            ]),
            k => docker(&[
                "ps",
                "-a",
                "--filter",
                &format!("label=mergebench.kind={k}"),
                "--format",
                fmt,
            ]),
        };
        listing
            .lines()
            .filter(|l| l.contains(&owner))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while mine("agent").is_empty() {
        assert!(Instant::now() < deadline, "the agent never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(mine("proxy").len(), 1);
    assert_eq!(mine("network").len(), 1);
    // kill -9: nothing of the run gets to clean up after itself.
    KILLED.lock().unwrap().push(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(mine("proxy").len(), 1, "the proxy outlived the kill");
    let out = bin().args(["gc", "--json"]).output().unwrap();
    assert!(out.status.success());
    assert!(mine("proxy").is_empty(), "gc left the proxy");
    assert!(mine("agent").is_empty(), "gc left the agent");
    assert!(mine("network").is_empty(), "gc left the network");
}

/// A tool call in a scripted reply, as the server's script takes it.
fn call(name: &str, arguments: Value) -> Value {
    json!({"name": name, "arguments": arguments})
}

#[test]
fn the_reference_agent_resolves_the_task_through_its_gateway() {
    let mut lab = Lab::new();
    let upstream = lab.server("upstream", &json!({"conversations": []}));
    let script = json!({"conversations": [{"match": PROBLEM_MATCH, "replies": [
        {"content": "Let me look.", "tool_calls": [call("read_file", json!({"path": "calc.py"}))],
         "usage": {"input_tokens": 1000, "output_tokens": 50}},
        // Peeking at the upstream fix: the proxy refuses it, and the attempt says so.
        {"tool_calls": [call("run_shell", json!({"command": format!("python3 -c \"import urllib.request; urllib.request.urlopen('http://{upstream}:8000/fix.patch')\" || echo no-upstream")}))],
         "usage": {"input_tokens": 1200, "output_tokens": 60}},
        {"tool_calls": [call("write_file", json!({"path": "calc.py", "content": FIXED_CALC}))],
         "usage": {"input_tokens": 1400, "output_tokens": 70}},
        {"tool_calls": [call("run_shell", json!({"command": "python3 -c 'from calc import add; assert add(2, 3) == 5' && echo ok"}))],
         "usage": {"input_tokens": 1600, "output_tokens": 30}},
        {"tool_calls": [call("finish", json!({"summary": "add() now adds"}))],
         "usage": {"input_tokens": 1700, "output_tokens": 20}}
    ]}]});
    let model = lab.server("model", &script);
    let f = Fixture::new();
    let base_url = format!("http://{model}:8000/v1");
    let secret = "sk-scripted-reference-key-4f3e2d1c";
    let spec = format!("{AGENTS}/reference.toml");
    let r = f.run_env(
        &[&spec],
        &[],
        &lab.env(&[
            ("OPENAI_BASE_URL", &base_url),
            ("MERGEBENCH_AGENT_MODEL", "scripted-model"),
            ("OPENAI_API_KEY", secret),
        ]),
    );
    let a = attempt(&r, "reference");
    assert_eq!(a["outcome"], "resolved", "{a}");
    assert_eq!(a["flags"]["agent_exit_code"], 0);
    assert_eq!(a["usage"]["model"], "scripted-model");
    assert_eq!(a["usage"]["input_tokens"], 6900);
    assert_eq!(a["usage"]["output_tokens"], 230);
    // Priced at the spec's defaults ($2 and $8 per million tokens).
    assert!(
        (a["usage"]["cost_usd"].as_f64().unwrap() - 0.01564).abs() < 1e-9,
        "{a}"
    );
    // Measured by the gateway: what the server returned, agreeing with the self-report.
    assert_eq!(a["measured"]["requests"], 5, "{a}");
    assert_eq!(a["measured"]["input_tokens"], 6900, "{a}");
    assert_eq!(a["measured"]["output_tokens"], 230, "{a}");
    assert!(a["flags"].get("usage_mismatch").is_none(), "{a}");
    // The model is reached through the gateway, never the proxy, which refused the peek.
    assert_eq!(a["flags"]["egress_refused"], 1, "{a}");
    assert_eq!(destinations(a), [(format!("{upstream}:8000"), false)]);
    // The trajectory is stored: every tool call and its output, ending in finish.
    let traj = &sqlite(
        &f.db(),
        "SELECT bytes FROM artifacts WHERE name = 'trajectory.jsonl'",
    )[0][0];
    let events: Vec<Value> = traj
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tools: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "tool")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "read_file",
            "run_shell",
            "write_file",
            "run_shell",
            "finish"
        ]
    );
    assert!(
        traj.contains("no-upstream"),
        "the refused fetch failed inside the agent"
    );
    assert_eq!(events.last().unwrap()["status"], "finished");
    // What the model saw: the problem, the four tools, the tool results; the key arrived
    // as a bearer token and never reached the store.
    let reqs = lab.requests(&model);
    assert_eq!(reqs.len(), 5);
    assert!(reqs.iter().all(|r| r["authorization"] == true));
    let first = &reqs[0]["body"];
    assert_eq!(first["model"], "scripted-model");
    assert!(first["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains(PROBLEM_MATCH));
    let names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["run_shell", "read_file", "write_file", "finish"]);
    let last = reqs[4]["body"]["messages"].as_array().unwrap();
    assert!(last
        .iter()
        .any(|m| m["role"] == "tool" && m["content"].as_str().unwrap().contains("ok")));
    let mut stored = Vec::new();
    for p in [f.db(), f.db().with_extension("db-wal")] {
        stored.extend(std::fs::read(p).unwrap_or_default());
    }
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()));
    assert_eq!(leftovers(), Vec::<String>::new());
}

/// The host's CA bundle, for building images that fetch from PyPI through a TLS-inspecting
/// proxy (harmless where there is none).
fn ca_bundle() -> Vec<(&'static str, &'static str)> {
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    if std::env::var_os("MERGEBENCH_CA_BUNDLE").is_none() && Path::new(bundle).exists() {
        vec![("MERGEBENCH_CA_BUNDLE", bundle)]
    } else {
        Vec::new()
    }
}

/// Builds mini-swe-agent's image from PyPI (a few minutes the first time; cached by its
/// Dockerfile's hash after that) and runs the real `mini` against the scripted server.
#[test]
fn mini_swe_agent_resolves_the_task_through_its_gateway() {
    let mut lab = Lab::new();
    let script = json!({"conversations": [{"match": PROBLEM_MATCH, "replies": [
        {"content": "I will look at calc.py.", "tool_calls": [call("bash", json!({"command": "cat calc.py"}))],
         "usage": {"input_tokens": 2000, "output_tokens": 40}},
        {"content": "add subtracts; fix it.", "tool_calls": [call("bash", json!({"command": "sed -i 's/a - b/a + b/' calc.py && python3 -c 'from calc import add; print(add(2, 3))'"}))],
         "usage": {"input_tokens": 2500, "output_tokens": 60}},
        {"content": "Done.", "tool_calls": [call("bash", json!({"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"}))],
         "usage": {"input_tokens": 3000, "output_tokens": 20}}
    ]}]});
    let model = lab.server("model", &script);
    let f = Fixture::new();
    let base_url = format!("http://{model}:8000/v1");
    let spec = format!("{AGENTS}/mini-swe-agent.toml");
    let mut env = lab.env(&[
        ("OPENAI_BASE_URL", &base_url),
        ("MSWEA_MODEL_NAME", "openai/scripted-model"),
    ]);
    env.extend(ca_bundle());
    let r = f.run_env(&[&spec], &[], &env);
    let a = attempt(&r, "mini-swe-agent");
    let log = sqlite(&f.db(), "SELECT bytes FROM logs WHERE kind = 'agent'");
    assert_eq!(a["outcome"], "resolved", "{a}\n{log:?}");
    assert_eq!(a["flags"]["agent_exit_code"], 0, "{log:?}");
    assert_eq!(a["usage"]["input_tokens"], 7500, "{a}");
    assert_eq!(a["usage"]["output_tokens"], 120);
    assert_eq!(a["measured"]["input_tokens"], 7500, "{a}");
    assert_eq!(a["measured"]["output_tokens"], 120, "{a}");
    assert_eq!(a["flags"]["egress_refused"], 0, "{a}");
    assert_eq!(destinations(a), []);
    let traj = &sqlite(
        &f.db(),
        "SELECT bytes FROM artifacts WHERE name = 'trajectory.json'",
    )[0][0];
    let traj: Value = serde_json::from_str(traj).unwrap();
    assert_eq!(traj["info"]["exit_status"], "Submitted", "{}", traj["info"]);
    // It answered each tool call with the command's output.
    let reqs = lab.requests(&model);
    assert_eq!(reqs.len(), 3);
    let last = reqs[2]["body"]["messages"].as_array().unwrap();
    assert!(last
        .iter()
        .any(|m| m["role"] == "tool" && m["content"].as_str().unwrap_or("").contains('5')));
    assert_eq!(leftovers(), Vec::<String>::new());
}

/// Runs one bundled vendor adapter on the fixture task against a scripted server, through
/// the proxy, and checks what every adapter must do: resolve the task the script solves,
/// report its usage, keep its trajectory, and reach nothing but its endpoint.
fn vendor_adapter_resolves(
    agent: &str,
    script: Value,
    env: &[(&str, &str)],
    base_url_var: &str,
    base_path: &str,
    trajectory: &str,
) -> Value {
    let mut lab = Lab::new();
    let model = lab.server("model", &json!({"conversations": [script]}));
    let f = Fixture::new();
    let base_url = format!("http://{model}:8000{base_path}");
    let spec = format!("{AGENTS}/{agent}.toml");
    let mut all = lab.env(&[(base_url_var, &base_url)]);
    all.extend_from_slice(env);
    all.extend(ca_bundle());
    let r = f.run_env(&[&spec], &[], &all);
    let a = attempt(&r, agent).clone();
    let log = sqlite(&f.db(), "SELECT bytes FROM logs WHERE kind = 'agent'");
    assert_eq!(a["outcome"], "resolved", "{a}\n{log:?}");
    assert_eq!(a["flags"]["agent_exit_code"], 0, "{log:?}");
    // The model is reached through the gateway only: the proxy saw nothing at all.
    assert_eq!(a["flags"]["egress_refused"], 0, "it phoned elsewhere: {a}");
    assert_eq!(destinations(&a), []);
    assert!(a["usage"]["input_tokens"].as_i64().unwrap() > 0, "{a}");
    // Measured by the gateway: what the server returned, as the adapter also reported it.
    assert_eq!(
        a["measured"]["input_tokens"], a["usage"]["input_tokens"],
        "{a}"
    );
    assert_eq!(
        a["measured"]["output_tokens"], a["usage"]["output_tokens"],
        "{a}"
    );
    assert!(a["flags"].get("usage_mismatch").is_none(), "{a}");
    let names = sqlite(&f.db(), "SELECT name FROM artifacts");
    assert!(
        names.iter().any(|n| n[0] == trajectory) && names.iter().any(|n| n[0] == "usage.json"),
        "{names:?}"
    );
    assert_eq!(leftovers(), Vec::<String>::new());
    a
}

#[test]
#[ignore = "builds Aider's image from PyPI (minutes); run with --ignored"]
fn aider_resolves_the_task_through_its_gateway() {
    // Aider's "whole" edit format: the file's name, then all of it in a fence.
    let script = json!({"match": PROBLEM_MATCH, "replies": [
        {"content": format!("add subtracts. Fixed:\n\ncalc.py\n```\n{FIXED_CALC}```\n"),
         "usage": {"input_tokens": 900, "output_tokens": 80}}
    ]});
    let a = vendor_adapter_resolves(
        "aider",
        script,
        &[("AIDER_MODEL", "openai/scripted-model")],
        "OPENAI_BASE_URL",
        "/v1",
        "trajectory.txt",
    );
    // Aider may call again after applying an edit (its reflection on lint or a file it
    // added to the chat); every call is billed at the scripted 900 + 80.
    let input = a["usage"]["input_tokens"].as_i64().unwrap();
    assert_eq!(input % 900, 0, "{a}");
    assert_eq!(
        a["usage"]["output_tokens"].as_i64().unwrap(),
        input / 900 * 80
    );
}

#[test]
#[ignore = "builds Claude Code's image from npm (minutes); run with --ignored"]
fn claude_code_resolves_the_task_through_its_gateway() {
    let script = json!({"match": PROBLEM_MATCH, "replies": [
        {"content": "I'll fix the subtraction.", "tool_calls": [call("Bash", json!({"command": "sed -i 's/a - b/a + b/' calc.py", "description": "Fix add"}))],
         "usage": {"input_tokens": 5000, "output_tokens": 60}},
        {"content": "Fixed: add() now adds.", "usage": {"input_tokens": 5200, "output_tokens": 20}}
    ]});
    let a = vendor_adapter_resolves(
        "claude-code",
        script,
        &[
            ("ANTHROPIC_MODEL", "scripted-model"),
            ("ANTHROPIC_API_KEY", "sk-ant-scripted-test-0000"),
        ],
        "ANTHROPIC_BASE_URL",
        "",
        "trajectory.jsonl",
    );
    assert_eq!(a["usage"]["input_tokens"], 10200);
    assert_eq!(a["usage"]["output_tokens"], 80);
}

#[test]
#[ignore = "builds Codex's image from npm (minutes); run with --ignored"]
fn codex_resolves_the_task_through_its_gateway() {
    let script = json!({"match": PROBLEM_MATCH, "replies": [
        {"content": "I'll fix the subtraction.", "tool_calls": [call("exec_command", json!({"cmd": "sed -i 's/a - b/a + b/' calc.py"}))],
         "usage": {"input_tokens": 4000, "output_tokens": 50}},
        {"content": "Fixed: add() now adds.", "usage": {"input_tokens": 4200, "output_tokens": 15}}
    ]});
    let a = vendor_adapter_resolves(
        "codex",
        script,
        &[
            ("CODEX_MODEL", "scripted-model"),
            ("OPENAI_API_KEY", "sk-scripted-test-0000"),
        ],
        "OPENAI_BASE_URL",
        "/v1",
        "trajectory.jsonl",
    );
    assert_eq!(a["usage"]["input_tokens"], 8200);
    assert_eq!(a["usage"]["output_tokens"], 65);
}
