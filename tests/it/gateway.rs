//! The model gateway end to end: agents reach a scripted model server only through their
//! attempt's gateway, over OpenAI's and Anthropic's wire formats, streamed and not; the
//! gateway measures what the server returned, holds the key the agent never sees, flags false
//! self-reports, stops a looping agent at its budget and refuses models other than the pinned
//! one.

use crate::agents::Lab;
use crate::fixture::{attempt, bin, sqlite, write, Fixture};
use serde_json::{json, Value};

/// The provider key the host holds: the gateway gets it, the agent must not.
const SECRET: &str = "sk-gw-secret-7c1d9e2a4b6f";

/// A scripted conversation per call, each with its own usage, so every figure is known.
fn script() -> Value {
    let conv = |m: &str, i: i64, o: i64| {
        json!({"match": m, "replies": [{"content": format!("reply to {m}"),
            "tool_calls": [{"name": "noop", "arguments": {}}],
            "usage": {"input_tokens": i, "output_tokens": o}}]})
    };
    json!({"conversations": [
        conv("call-chat", 100, 10),
        conv("call-stream-chat", 200, 20),
        conv("call-messages", 300, 30),
        conv("call-stream-messages", 400, 40),
        conv("call-stream-responses", 500, 50),
        conv("call-loop", 10, 1),
    ]})
}

/// The hostile agent: it calls the model in five ways through its gateway, hunts for the
/// provider key everywhere it can read, tries the gateway without its token, then reports
/// usage that is far below what it spent.
const HUNTER: &str = r#"
import json, os, urllib.request, urllib.error
base, token = os.environ["GW_BASE"], os.environ["GW_TOKEN"]
TOOL_OAI = [{"type": "function", "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}}}]
TOOL_ANT = [{"name": "noop", "input_schema": {"type": "object", "properties": {}}}]
def post(path, body, headers):
    h = {"content-type": "application/json"}
    h.update(headers)
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
bearer = {"authorization": "Bearer " + token}
ant = {"x-api-key": token, "anthropic-version": "2023-06-01"}
msg = lambda m: [{"role": "user", "content": m}]
out = []
out.append(post("/chat/completions", {"model": "scripted-model", "messages": msg("call-chat"), "tools": TOOL_OAI}, bearer))
out.append(post("/chat/completions", {"model": "scripted-model", "messages": msg("call-stream-chat"), "tools": TOOL_OAI, "stream": True}, bearer))
out.append(post("/messages", {"model": "scripted-model", "max_tokens": 100, "messages": msg("call-messages"), "tools": TOOL_ANT}, ant))
out.append(post("/messages", {"model": "scripted-model", "max_tokens": 100, "messages": msg("call-stream-messages"), "tools": TOOL_ANT, "stream": True}, ant))
out.append(post("/responses", {"model": "scripted-model", "input": "call-stream-responses", "tools": [{"type": "function", "name": "noop", "parameters": {"type": "object", "properties": {}}}], "stream": True}, bearer))
print("statuses=" + ",".join(str(s) for s, _ in out))
print("stream-has-data=" + str("data:" in out[1][1]))
# Without the token, and with a guessed key: refused.
print("no-token=%d" % post("/chat/completions", {"model": "scripted-model", "messages": msg("call-chat")}, {})[0])
print("wrong-token=%d" % post("/chat/completions", {"model": "scripted-model", "messages": msg("call-chat")}, {"authorization": "Bearer sk-guess"})[0])
# The key hunt: the environment, every process's environment and command line, every file.
# Built at run time, so this script itself does not hold it.
needle = ("sk-gw-" + "secret").encode()
found = []
if any(needle.decode() in v for v in os.environ.values()):
    found.append("env")
for pid in os.listdir("/proc"):
    for what in ("environ", "cmdline"):
        try:
            with open("/proc/%s/%s" % (pid, what), "rb") as f:
                if needle in f.read():
                    found.append("/proc/%s/%s" % (pid, what))
        except OSError:
            pass
for root, dirs, files in os.walk("/"):
    if root.startswith(("/proc", "/sys", "/dev")):
        dirs[:] = []
        continue
    for name in files:
        p = os.path.join(root, name)
        try:
            if os.path.islink(p) or os.path.getsize(p) > 50_000_000:
                continue
            with open(p, "rb") as f:
                if needle in f.read():
                    found.append(p)
        except OSError:
            pass
print("key-found=" + (",".join(found) or "nowhere"))
with open(os.path.join(os.environ["MERGEBENCH_OUT"], "usage.json"), "w") as f:
    json.dump({"model": "scripted-model", "input_tokens": 12, "output_tokens": 3, "cost_usd": 0.0001}, f)
"#;

/// A looping agent: one request for a model it was not pinned to, then the same request
/// until the gateway says no.
const LOOPER: &str = r#"
import json, os, urllib.request, urllib.error
base, token = os.environ["GW_BASE"], os.environ["GW_TOKEN"]
def ask(model):
    body = {"model": model, "messages": [{"role": "user", "content": "call-loop"}], "tools": [{"type": "function", "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}}}]}
    req = urllib.request.Request(base + "/chat/completions", data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, ""
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
status, body = ask("other-model")
print("other-model=%d %s" % (status, json.loads(body)["error"]["code"]))
for i in range(50):
    status, body = ask("scripted-model")
    if status != 200:
        print("stopped-after=%d status=%d code=%s" % (i, status, json.loads(body)["error"]["code"]))
        break
"#;

fn spec(name: &str, script: &str, model_url: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\nfiles = [\"{script}\"]\n\
         command = [\"sh\", \"-c\", \"python3 /mergebench/agent/{script} > $MERGEBENCH_OUT/report.txt 2>&1\"]\n\
         timeout = \"120s\"\nmemory = \"512MiB\"\ncpus = 1.0\n\n\
         [gateway]\napi = \"openai\"\nupstream = \"{model_url}\"\nkey = \"GW_TEST_KEY\"\n\
         base_url_env = [\"GW_BASE\"]\ntoken_env = [\"GW_TOKEN\"]\n{extra}\n\
         [gateway.prices.\"*\"]\ninput = 2.0\noutput = 8.0\n"
    )
}

fn report(f: &Fixture) -> String {
    sqlite(
        &f.db(),
        "SELECT x.bytes FROM artifacts x WHERE x.name = 'report.txt'",
    )
    .first()
    .map(|r| r[0].clone())
    .unwrap_or_default()
}

#[test]
fn the_gateway_measures_every_wire_format_and_keeps_the_key_from_the_agent() {
    let mut lab = Lab::new();
    let model = lab.server("model", &script());
    let f = Fixture::new();
    write(&f.agents(), "hunter.py", HUNTER);
    write(
        &f.agents(),
        "hunter.toml",
        &spec(
            "hunter",
            "hunter.py",
            &format!("http://{model}:8000/v1"),
            "",
        ),
    );
    // The suite's price table wins over the agent's own ("*" at 2 and 8).
    let toml = f.suite().join("suite.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str("[prices.\"scripted-model\"]\ninput = 4.0\noutput = 16.0\n");
    std::fs::write(&toml, text).unwrap();
    let r = f.run_env(&["hunter"], &[], &lab.env(&[("GW_TEST_KEY", SECRET)]));
    let a = attempt(&r, "hunter");
    let report = report(&f);
    assert!(
        report.contains("statuses=200,200,200,200,200"),
        "{report}\n{a}"
    );
    assert!(report.contains("stream-has-data=True"), "{report}");
    assert!(report.contains("no-token=401"), "{report}");
    assert!(report.contains("wrong-token=401"), "{report}");
    assert!(report.contains("key-found=nowhere"), "{report}");
    // Measured: exactly what the server returned over the five calls.
    let m = &a["measured"];
    assert_eq!(m["requests"], 5, "{a}");
    assert_eq!(m["input_tokens"], 100 + 200 + 300 + 400 + 500, "{a}");
    assert_eq!(m["output_tokens"], 10 + 20 + 30 + 40 + 50, "{a}");
    assert_eq!(m["refused"], 2, "{a}");
    let cost = (1500.0 * 4.0 + 150.0 * 16.0) / 1e6;
    assert!(
        (m["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-12,
        "{a}"
    );
    // The self-report is far below: flagged, and the measured figures are counted.
    let mismatch = a["flags"]["usage_mismatch"].as_str().unwrap_or_default();
    assert!(
        mismatch.contains("input tokens: reported 12, measured 1500"),
        "{a}"
    );
    let counted = sqlite(&f.db(), "SELECT cost_usd, input_tokens FROM attempts");
    assert_eq!(counted[0][1], "1500");
    // The server got the real key from the gateway on every forwarded call, never the token.
    let reqs = lab.requests(&model);
    assert_eq!(reqs.len(), 5, "{reqs:?}");
    assert!(reqs.iter().all(|r| r["authorization"] == true));
    // The key is nowhere in the store; the calls are, and `results --calls` shows them.
    let mut stored = Vec::new();
    for p in [f.db(), f.db().with_extension("db-wal")] {
        stored.extend(std::fs::read(p).unwrap_or_default());
    }
    assert!(!stored.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    let id = a["id"].as_i64().unwrap().to_string();
    let out = bin()
        .arg("--db")
        .arg(f.db())
        .args(["results", "--calls", &id, "--json"])
        .output()
        .unwrap();
    crate::fixture::succeeded(&out);
    let calls: Value = serde_json::from_slice(&out.stdout).unwrap();
    let apis: Vec<&str> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["api"].as_str().unwrap())
        .collect();
    assert_eq!(
        apis,
        [
            "openai-chat",
            "openai-chat",
            "anthropic-messages",
            "anthropic-messages",
            "openai-responses",
            "openai-chat",
            "openai-chat"
        ]
    );
    // The trajectory holds each exchange, the stream as it came.
    let t = calls["trajectory"].to_string();
    assert!(
        t.contains("call-stream-messages") && t.contains("message_delta"),
        "{t}"
    );
    let text = bin()
        .arg("--db")
        .arg(f.db())
        .args(["results", "--calls", &id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("measured") && text.contains("1500"), "{text}");
}

#[test]
fn a_looping_agent_stops_at_its_budget_and_a_pinned_run_refuses_other_models() {
    let mut lab = Lab::new();
    let model = lab.server("model", &script());
    let f = Fixture::new();
    write(&f.agents(), "looper.py", LOOPER);
    write(
        &f.agents(),
        "looper.toml",
        &spec(
            "looper",
            "looper.py",
            &format!("http://{model}:8000/v1"),
            "max_requests = 3\n",
        ),
    );
    let r = f.run_env(
        &["looper"],
        &["--pin-model", "scripted-model"],
        &lab.env(&[("GW_TEST_KEY", SECRET)]),
    );
    let a = attempt(&r, "looper");
    let report = report(&f);
    assert!(
        report.contains("other-model=404 model_not_found"),
        "{report}\n{a}"
    );
    assert!(
        report.contains("stopped-after=3 status=429 code=insufficient_quota"),
        "{report}\n{a}"
    );
    assert_eq!(a["measured"]["requests"], 3, "{a}");
    assert_eq!(a["measured"]["refused_model"], 1, "{a}");
    assert_eq!(a["flags"]["budget_exhausted"], "requests", "{a}");
    assert_eq!(a["flags"]["model_refused"], 1, "{a}");
    // Only the budgeted requests reached the server.
    assert_eq!(lab.requests(&model).len(), 3);
    // A pinned agent is another agent: an unpinned run does not resume the pinned one.
    let unpinned = f.run_env(&["looper"], &[], &lab.env(&[("GW_TEST_KEY", SECRET)]));
    assert_ne!(unpinned["evaluation"]["id"], r["evaluation"]["id"]);
}
