//! The one model call the reference agent makes: OpenAI-compatible chat completions with
//! tools, as served by OpenAI, vLLM, Ollama, llama.cpp's server and most gateways.
//!
//! Proxies come from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (reqwest reads them), which is how
//! an allowlisted agent reaches its endpoint through mergebench's egress proxy.

use serde_json::{json, Value};
use std::time::Duration;

/// Transient failures (rate limits, overloaded servers, dropped connections) are retried
/// this many times, with a doubling pause.
const RETRIES: u32 = 4;
const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// Local models on small machines can take minutes for one answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

pub struct Client {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
}

/// A tool call as the model asked for it; `arguments` is the model's JSON text, unparsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Some gateways (OpenRouter, LiteLLM) report what the call cost.
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Reply {
    /// The assistant message exactly as the server sent it, to send back next turn.
    pub message: Value,
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    pub finish_reason: String,
}

impl Client {
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("mergebench-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client {
            http,
            url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            api_key: api_key.filter(|k| !k.is_empty()),
        })
    }

    /// One chat completion, retried on transient failures.
    pub async fn complete(&self, body: &Value) -> Result<Reply, String> {
        let mut pause = FIRST_PAUSE;
        let mut last = String::new();
        for attempt in 0..=RETRIES {
            if attempt > 0 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            let mut req = self.http.post(&self.url).json(body);
            if let Some(k) = &self.api_key {
                req = req.bearer_auth(k);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    last = format!("request to {} failed: {e}", self.url);
                    continue;
                }
            };
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            if status.is_success() {
                let v: Value = serde_json::from_str(&text).map_err(|e| {
                    format!(
                        "the endpoint's answer is not JSON ({e}): {}",
                        excerpt(&text)
                    )
                })?;
                return parse_reply(&v);
            }
            last = format!("{} answered {status}: {}", self.url, excerpt(&text));
            let transient =
                status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error();
            if !transient {
                break;
            }
        }
        Err(last)
    }
}

fn excerpt(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 500 {
        format!("{}…", s.chars().take(500).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Reads the first choice of a chat completion.
pub fn parse_reply(v: &Value) -> Result<Reply, String> {
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| format!("the answer has no choices: {}", excerpt(&v.to_string())))?;
    let message = choice
        .get("message")
        .cloned()
        .ok_or_else(|| "the answer's choice has no message".to_string())?;
    let content = message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut tool_calls = Vec::new();
    for (i, c) in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let f = c.get("function").cloned().unwrap_or_default();
        // Some servers send arguments as an object rather than the JSON text the API names.
        let arguments = match f.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "{}".to_string(),
        };
        tool_calls.push(ToolCall {
            id: c
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("call_{i}")),
            name: f
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            arguments,
        });
    }
    let u = v.get("usage").cloned().unwrap_or_default();
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    Ok(Reply {
        message: normalised(message, &tool_calls),
        content,
        tool_calls,
        usage: Usage {
            input_tokens: n("prompt_tokens"),
            output_tokens: n("completion_tokens"),
            cost_usd: u.get("cost").and_then(Value::as_f64).filter(|c| *c >= 0.0),
        },
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    })
}

/// The assistant message to send back: ids filled in where the server left them out, so
/// that each tool result can name the call it answers.
fn normalised(mut message: Value, calls: &[ToolCall]) -> Value {
    if let Some(obj) = message.as_object_mut() {
        obj.insert("role".into(), json!("assistant"));
        if !calls.is_empty() {
            obj.insert(
                "tool_calls".into(),
                Value::Array(
                    calls
                        .iter()
                        .map(|c| {
                            json!({
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.name, "arguments": c.arguments},
                            })
                        })
                        .collect(),
                ),
            );
        }
        if obj.get("content").is_none_or(Value::is_null) {
            obj.insert("content".into(), json!(""));
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_with_tool_calls_and_usage() {
        let v = json!({
            "choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "run_shell", "arguments": "{\"command\":\"ls\"}"}},
                    {"type": "function", "function": {"name": "finish", "arguments": {"summary": "done"}}}
                ]}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "cost": 0.002}
        });
        let r = parse_reply(&v).unwrap();
        assert_eq!(r.tool_calls.len(), 2);
        assert_eq!(r.tool_calls[0].arguments, "{\"command\":\"ls\"}");
        assert_eq!(r.tool_calls[1].id, "call_1");
        assert_eq!(r.tool_calls[1].arguments, "{\"summary\":\"done\"}");
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 120,
                output_tokens: 30,
                cost_usd: Some(0.002)
            }
        );
        assert_eq!(r.message["content"], "");
        assert_eq!(r.message["tool_calls"][1]["id"], "call_1");
        assert!(parse_reply(&json!({"error": "x"})).is_err());
    }
}
