//! Anthropic messages: the request body, with the answer's schema as the `input_schema` of a
//! tool the model is required to call (`tool_choice`), and the reply.

use super::{CallError, Reply, Usage};
use crate::judge::prompt::{Purpose, Request};
use crate::judge::spec::JudgeSpec;
use crate::judge::verdict::ReplyOutput;
use serde_json::{json, Value};

pub const API_VERSION: &str = "2023-06-01";

pub fn body(spec: &JudgeSpec, req: &Request) -> Value {
    let mut messages = vec![json!({"role": "user", "content": req.user})];
    if let Some(r) = &req.repair {
        // The rejected answer goes back as plain text, not as a tool call, so the next turn
        // needs no tool_result and the forced tool call asks afresh.
        messages.push(json!({"role": "assistant", "content": r.previous}));
        messages.push(json!({"role": "user", "content": r.instruction()}));
    }
    let description = match req.purpose {
        Purpose::Verdict => "Record your review of the patch: a score per criterion, reasons, a rationale and the verdict.",
        Purpose::Pairwise => "Record which of the two patches you would rather merge, and why.",
        Purpose::Rewrite => "Record the rewritten problem statement: a title and the statement.",
    };
    json!({
        "model": spec.model,
        "max_tokens": spec.max_tokens,
        "temperature": spec.temperature.min(1.0),
        "system": req.system,
        "messages": messages,
        "tools": [{"name": req.purpose.tool_name(), "description": description, "input_schema": req.schema}],
        "tool_choice": {"type": "tool", "name": req.purpose.tool_name()},
    })
}

fn int(v: &Value, path: &str) -> Option<i64> {
    v.pointer(path).and_then(Value::as_i64)
}

pub fn read(v: Value, status: i64, tool: &str) -> Result<Reply, CallError> {
    let Some(content) = v.get("content").and_then(Value::as_array) else {
        return Err(CallError::Failed {
            message: "the reply has no content".into(),
            status: Some(status),
        });
    };
    let tool_input = content.iter().find_map(|b| {
        (b.get("type").and_then(Value::as_str) == Some("tool_use")
            && b.get("name").and_then(Value::as_str) == Some(tool))
        .then(|| b.get("input").cloned())
        .flatten()
    });
    let output = match tool_input {
        Some(input) => ReplyOutput::Json(input),
        None => ReplyOutput::Text(
            content
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
        ),
    };
    // Cached prompt tokens are input tokens too; the price table has one input price.
    let input = [
        "/usage/input_tokens",
        "/usage/cache_creation_input_tokens",
        "/usage/cache_read_input_tokens",
    ]
    .iter()
    .filter_map(|p| int(&v, p))
    .reduce(|a, b| a + b);
    Ok(Reply {
        output,
        usage: Usage {
            input_tokens: input,
            output_tokens: int(&v, "/usage/output_tokens"),
            cost_usd: None,
        },
        model: v.get("model").and_then(Value::as_str).map(str::to_string),
        status: Some(status),
    })
}
