//! OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp's server, gateways):
//! the request body, with the answer's schema as `response_format: json_schema`, and the reply.

use super::{CallError, Reply, Usage};
use crate::judge::prompt::Request;
use crate::judge::spec::{JudgeSpec, ProviderKind, ResponseFormat};
use crate::judge::verdict::ReplyOutput;
use serde_json::{json, Value};

pub fn body(spec: &JudgeSpec, req: &Request) -> Value {
    let mut messages = vec![
        json!({"role": "system", "content": req.system}),
        json!({"role": "user", "content": req.user}),
    ];
    if let Some(r) = &req.repair {
        messages.push(json!({"role": "assistant", "content": r.previous}));
        messages.push(json!({"role": "user", "content": r.instruction()}));
    }
    let mut b = json!({
        "model": spec.model,
        "messages": messages,
        "temperature": spec.temperature,
        "max_tokens": spec.max_tokens,
        // Distinct samples at temperature > 0, reproducible ones where the server honours seeds.
        "seed": req.sample,
    });
    let format = match &spec.provider {
        ProviderKind::Openai {
            response_format, ..
        } => *response_format,
        _ => ResponseFormat::JsonSchema,
    };
    match format {
        ResponseFormat::JsonSchema => {
            b["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": req.purpose.tool_name(), "strict": true, "schema": req.schema},
            })
        }
        ResponseFormat::JsonObject => b["response_format"] = json!({"type": "json_object"}),
        ResponseFormat::None => {}
    }
    b
}

fn int(v: &Value, path: &str) -> Option<i64> {
    v.pointer(path).and_then(Value::as_i64)
}

pub fn read(v: Value, status: i64) -> Result<Reply, CallError> {
    let Some(message) = v.pointer("/choices/0/message") else {
        return Err(CallError::Failed {
            message: format!(
                "the reply has no choices[0].message: {}",
                v.to_string().chars().take(300).collect::<String>()
            ),
            status: Some(status),
        });
    };
    // A refusal comes back as text; it will not validate, and the repair asks again.
    let text = message
        .get("content")
        .and_then(Value::as_str)
        .or_else(|| message.get("refusal").and_then(Value::as_str))
        .unwrap_or("")
        .to_string();
    let cost = v
        .pointer("/usage/cost")
        .or_else(|| v.pointer("/usage/total_cost"))
        .and_then(Value::as_f64)
        .filter(|c| c.is_finite() && *c >= 0.0);
    Ok(Reply {
        output: ReplyOutput::Text(text),
        usage: Usage {
            input_tokens: int(&v, "/usage/prompt_tokens"),
            output_tokens: int(&v, "/usage/completion_tokens"),
            cost_usd: cost,
        },
        model: v.get("model").and_then(Value::as_str).map(str::to_string),
        status: Some(status),
    })
}
