//! The reference agent (`mergebench agent`): a small tool-using loop for any
//! OpenAI-compatible chat endpoint, so every team has a baseline it can run against a local
//! model (vLLM, Ollama, llama.cpp) with no vendor account.
//!
//! It runs inside an agent's container (`harness/agents/reference.toml` copies this very
//! binary into the image), never in the process that runs an evaluation: the model is asked
//! for tool calls (`tools`), they run in the workspace, their results go back, until the
//! model calls `finish` or a limit on steps, tokens or cost stops it. Usage and the
//! trajectory are written as it goes (`record`).

pub mod chat;
pub mod record;
pub mod tools;

use chat::Client;
use record::{Recorder, Spent};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tools::{Outcome, Tools};

pub struct Config {
    pub problem: PathBuf,
    pub workspace: PathBuf,
    pub out: PathBuf,
    /// Up to and including `/v1`: `{base_url}/chat/completions` is called.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub max_steps: u32,
    /// Input plus output tokens over the whole run.
    pub max_tokens: u64,
    /// USD; 0 disables the limit.
    pub max_cost: f64,
    /// USD per million tokens, for endpoints that do not report cost themselves.
    pub input_price: f64,
    pub output_price: f64,
    pub command_timeout: Duration,
    pub temperature: Option<f64>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Finished,
    StepLimit,
    TokenLimit,
    CostLimit,
    /// The model stopped calling tools without calling `finish`.
    NoAction,
    /// The endpoint failed past its retries.
    ModelError,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Finished => "finished",
            Status::StepLimit => "step_limit",
            Status::TokenLimit => "token_limit",
            Status::CostLimit => "cost_limit",
            Status::NoAction => "no_action",
            Status::ModelError => "model_error",
        }
    }
}

const SYSTEM: &str = "You are a software engineer fixing a problem in a repository. \
The repository is your working directory. Use the tools to read the code, make the change, \
and check it (run the relevant tests if the repository has them). Each run_shell call starts \
a fresh `sh` in the repository's root. Change only what the problem needs, keep the \
repository's style, and never weaken or delete tests to make them pass. \
When the change is complete, call finish with a short summary.";

const NUDGE: &str = "Continue by calling a tool. Call finish when the change is complete.";

/// Answers without a tool call in a row before the run is given up.
const MAX_IDLE_REPLIES: u32 = 2;

pub async fn run(cfg: &Config) -> Result<Status, String> {
    let problem = std::fs::read_to_string(&cfg.problem)
        .map_err(|e| format!("cannot read the problem {}: {e}", cfg.problem.display()))?;
    let mut rec = Recorder::create(&cfg.out)
        .map_err(|e| format!("cannot write to {}: {e}", cfg.out.display()))?;
    let client = Client::new(&cfg.base_url, cfg.api_key.clone())?;
    let tools = Tools {
        workspace: cfg.workspace.clone(),
        command_timeout: cfg.command_timeout,
    };
    let mut messages = vec![
        json!({"role": "system", "content": SYSTEM}),
        json!({"role": "user", "content": problem}),
    ];
    let mut spent = Spent::default();
    rec.event(
        "start",
        json!({"model": cfg.model, "base_url": cfg.base_url, "max_steps": cfg.max_steps,
               "max_tokens": cfg.max_tokens, "max_cost": cfg.max_cost, "problem": problem}),
    );
    rec.usage(&cfg.model, &spent, "running");
    let mut idle = 0;
    let status = loop {
        if let Some(limit) = limit_reached(cfg, &spent) {
            break limit;
        }
        let mut body = json!({
            "model": cfg.model,
            "messages": messages,
            "tools": tools::definitions(),
            "tool_choice": "auto",
        });
        if let Some(t) = cfg.temperature {
            body["temperature"] = json!(t);
        }
        let started = Instant::now();
        let reply = match client.complete(&body).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("mergebench agent: {e}");
                rec.event("error", json!({"step": spent.steps + 1, "error": e}));
                break Status::ModelError;
            }
        };
        spent.steps += 1;
        spent.input_tokens += reply.usage.input_tokens;
        spent.output_tokens += reply.usage.output_tokens;
        spent.cost_usd += reply.usage.cost_usd.unwrap_or(
            (reply.usage.input_tokens as f64 * cfg.input_price
                + reply.usage.output_tokens as f64 * cfg.output_price)
                / 1e6,
        );
        rec.event(
            "model",
            json!({
                "step": spent.steps,
                "content": reply.content,
                "tool_calls": reply.tool_calls.iter().map(|c| json!({"id": c.id, "name": c.name, "arguments": c.arguments})).collect::<Vec<_>>(),
                "finish_reason": reply.finish_reason,
                "usage": {"input_tokens": reply.usage.input_tokens, "output_tokens": reply.usage.output_tokens, "cost_usd": reply.usage.cost_usd},
                "seconds": started.elapsed().as_secs_f64(),
            }),
        );
        rec.usage(&cfg.model, &spent, "running");
        eprintln!(
            "step {}: {}",
            spent.steps,
            if reply.tool_calls.is_empty() {
                "no tool call".to_string()
            } else {
                reply
                    .tool_calls
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        messages.push(reply.message.clone());
        if reply.tool_calls.is_empty() {
            idle += 1;
            if idle >= MAX_IDLE_REPLIES {
                break Status::NoAction;
            }
            messages.push(json!({"role": "user", "content": NUDGE}));
            continue;
        }
        idle = 0;
        let mut finished = None;
        for call in &reply.tool_calls {
            // Every call gets its answer, even after finish: the API requires one per id.
            let (content, outcome) = if finished.is_some() {
                ("not run: finish was called".to_string(), None)
            } else {
                let started = Instant::now();
                let outcome = tools.call(&call.name, &call.arguments).await;
                let text = match &outcome {
                    Outcome::Output(t) => t.clone(),
                    Outcome::Finish(_) => "finished".to_string(),
                };
                rec.event(
                    "tool",
                    json!({"step": spent.steps, "id": call.id, "name": call.name,
                           "arguments": call.arguments, "output": text,
                           "seconds": started.elapsed().as_secs_f64()}),
                );
                (text, Some(outcome))
            };
            if let Some(Outcome::Finish(summary)) = outcome {
                finished = Some(summary);
            }
            messages.push(tool_message(&call.id, &content));
        }
        if let Some(summary) = finished {
            rec.event("finish", json!({"step": spent.steps, "summary": summary}));
            break Status::Finished;
        }
    };
    rec.event(
        "end",
        json!({"status": status.as_str(), "steps": spent.steps, "input_tokens": spent.input_tokens,
               "output_tokens": spent.output_tokens, "cost_usd": spent.cost_usd}),
    );
    rec.usage(&cfg.model, &spent, status.as_str());
    Ok(status)
}

fn tool_message(id: &str, content: &str) -> Value {
    json!({"role": "tool", "tool_call_id": id, "content": content})
}

/// The limit that stops the next model call, if any.
fn limit_reached(cfg: &Config, spent: &Spent) -> Option<Status> {
    if spent.steps >= cfg.max_steps {
        Some(Status::StepLimit)
    } else if spent.tokens() >= cfg.max_tokens {
        Some(Status::TokenLimit)
    } else if cfg.max_cost > 0.0 && spent.cost_usd >= cfg.max_cost {
        Some(Status::CostLimit)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn config(dir: &std::path::Path, base_url: String) -> Config {
        std::fs::create_dir_all(dir.join("ws")).unwrap();
        std::fs::write(dir.join("problem.md"), "add() subtracts; make it add.\n").unwrap();
        std::fs::write(dir.join("ws/calc.py"), "def add(a, b):\n    return a - b\n").unwrap();
        Config {
            problem: dir.join("problem.md"),
            workspace: dir.join("ws"),
            out: dir.join("out"),
            base_url,
            model: "scripted".into(),
            api_key: Some("sk-test-123".into()),
            max_steps: 10,
            max_tokens: 100_000,
            max_cost: 1.0,
            input_price: 2.0,
            output_price: 8.0,
            command_timeout: Duration::from_secs(10),
            temperature: None,
        }
    }

    fn reply(calls: &[(&str, Value)], input: u64, output: u64) -> ResponseTemplate {
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| json!({"id": format!("c{i}"), "type": "function", "function": {"name": name, "arguments": args.to_string()}}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null, "tool_calls": calls}}],
            "usage": {"prompt_tokens": input, "completion_tokens": output}
        }))
    }

    #[tokio::test]
    async fn a_scripted_conversation_edits_the_file_and_finishes() {
        let server = MockServer::start().await;
        // Answers are picked by what the conversation already holds, like a real model.
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(body_string_contains("bytes to calc.py"))
            .respond_with(reply(
                &[("finish", json!({"summary": "add adds"}))],
                300,
                20,
            ))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(body_string_contains("exit code 0"))
            .respond_with(reply(
                &[(
                    "write_file",
                    json!({"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"}),
                )],
                200,
                40,
            ))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(header("authorization", "Bearer sk-test-123"))
            .respond_with(reply(
                &[("run_shell", json!({"command": "cat calc.py"}))],
                100,
                10,
            ))
            .with_priority(10)
            .mount(&server)
            .await;
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path(), format!("{}/v1", server.uri()));
        assert_eq!(run(&cfg).await.unwrap(), Status::Finished);
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("ws/calc.py")).unwrap(),
            "def add(a, b):\n    return a + b\n"
        );
        let usage: Value =
            serde_json::from_slice(&std::fs::read(tmp.path().join("out/usage.json")).unwrap())
                .unwrap();
        assert_eq!(usage["input_tokens"], 600);
        assert_eq!(usage["output_tokens"], 70);
        assert_eq!(usage["steps"], 3);
        assert_eq!(usage["status"], "finished");
        // 600 × $2 + 70 × $8 per million tokens.
        assert!((usage["cost_usd"].as_f64().unwrap() - 0.00176).abs() < 1e-9);
        let traj = std::fs::read_to_string(tmp.path().join("out/trajectory.jsonl")).unwrap();
        let kinds: Vec<String> = traj
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            kinds,
            ["start", "model", "tool", "model", "tool", "model", "tool", "finish", "end"]
        );
        assert!(
            !traj.contains("sk-test-123"),
            "the key is not in the trajectory"
        );
    }

    #[tokio::test]
    async fn limits_stop_the_loop() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(reply(
                &[("run_shell", json!({"command": "true"}))],
                400,
                100,
            ))
            .mount(&server)
            .await;
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = config(tmp.path(), server.uri());
        cfg.max_steps = 3;
        assert_eq!(run(&cfg).await.unwrap(), Status::StepLimit);
        cfg.max_steps = 100;
        cfg.max_tokens = 1200;
        assert_eq!(run(&cfg).await.unwrap(), Status::TokenLimit);
        cfg.max_tokens = 1_000_000;
        cfg.max_cost = 0.002;
        assert_eq!(run(&cfg).await.unwrap(), Status::CostLimit);
        let usage: Value =
            serde_json::from_slice(&std::fs::read(tmp.path().join("out/usage.json")).unwrap())
                .unwrap();
        // 0.0016 per step: the second step crosses the limit, and no third call is made.
        assert_eq!(usage["steps"], 2);
    }

    #[tokio::test]
    async fn a_failing_endpoint_ends_the_run_with_its_message() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(401).set_body_string("invalid api key"))
            .expect(1)
            .mount(&server)
            .await;
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path(), server.uri());
        assert_eq!(run(&cfg).await.unwrap(), Status::ModelError);
        let traj = std::fs::read_to_string(tmp.path().join("out/trajectory.jsonl")).unwrap();
        assert!(
            traj.contains("401") && traj.contains("invalid api key"),
            "{traj}"
        );
    }
}
