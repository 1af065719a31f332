//! The gateway's call log: one `CallRecord` per request as a JSON line, and what a whole log
//! says about an attempt (`summarize`), read back by the harness after the attempt.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One request through the gateway, as it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub seq: u64,
    /// RFC 3339, when the request arrived.
    pub at: String,
    pub path: String,
    /// "openai-chat" | "openai-responses" | "anthropic-messages" | "other"
    pub api: String,
    pub model: Option<String>,
    pub stream: bool,
    pub status: u16,
    /// Milliseconds to the end of the response.
    pub latency_ms: f64,
    /// Milliseconds to the provider's first byte (none when nothing was forwarded).
    pub first_byte_ms: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    /// Why the gateway answered itself: "token" | "model" | "budget:requests" |
    /// "budget:tokens" | "budget:cost".
    pub refused: Option<String>,
    pub error: Option<String>,
}

/// What an attempt's gateway log adds up to: the store's row type, written here.
pub use crate::store::MeasuredUsage as Measured;

/// Adds up a log's records; lines that do not parse are counted, not fatal.
pub fn summarize(lines: &[u8]) -> Measured {
    let mut m = Measured::default();
    let mut models = BTreeSet::new();
    let mut cost = 0.0;
    let mut cost_known = true;
    for line in lines.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(r) = serde_json::from_slice::<CallRecord>(line) else {
            m.unreadable_lines += 1;
            continue;
        };
        if r.refused.is_none() {
            m.requests += 1;
        }
        if let Some(why) = &r.refused {
            m.refused += 1;
            if why == "model" {
                m.refused_model += 1;
            }
            if let Some(b) = why.strip_prefix("budget:") {
                m.budget_exhausted.get_or_insert_with(|| b.to_string());
            }
        }
        if r.error.is_some() {
            m.errors += 1;
        }
        m.input_tokens = m.input_tokens.saturating_add(r.input_tokens.unwrap_or(0));
        m.output_tokens = m.output_tokens.saturating_add(r.output_tokens.unwrap_or(0));
        m.cached_tokens = m.cached_tokens.saturating_add(r.cached_tokens.unwrap_or(0));
        match r.cost_usd {
            Some(c) if c.is_finite() => cost += c,
            _ if r.input_tokens.is_some() || r.output_tokens.is_some() => cost_known = false,
            _ => {}
        }
        if r.refused.is_none() {
            if let Some(model) = r.model {
                models.insert(model);
            }
        }
    }
    m.cost_usd = cost_known.then_some(cost);
    m.models = models.into_iter().collect();
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> CallRecord {
        CallRecord {
            seq,
            at: "2025-01-01T00:00:00Z".into(),
            path: "/v1/chat/completions".into(),
            api: "openai-chat".into(),
            model: Some("m".into()),
            stream: false,
            status: 200,
            latency_ms: 1.0,
            first_byte_ms: Some(0.5),
            input_tokens: Some(10),
            output_tokens: Some(5),
            cached_tokens: Some(2),
            cost_usd: Some(0.25),
            refused: None,
            error: None,
        }
    }

    #[test]
    fn summarize_counts_garbage_and_a_truncated_line() {
        let mut log = String::new();
        log += &serde_json::to_string(&rec(1)).unwrap();
        log += "\nnot json at all\n\n";
        let refused = CallRecord {
            model: Some("other".into()),
            input_tokens: None,
            output_tokens: None,
            cached_tokens: None,
            cost_usd: None,
            status: 404,
            refused: Some("model".into()),
            ..rec(2)
        };
        log += &serde_json::to_string(&refused).unwrap();
        log += "\n";
        let budget = CallRecord {
            refused: Some("budget:tokens".into()),
            ..refused.clone()
        };
        log += &serde_json::to_string(&budget).unwrap();
        log += "\n";
        let failed = CallRecord {
            error: Some("unreachable".into()),
            status: 502,
            ..refused.clone()
        };
        log += &serde_json::to_string(&CallRecord {
            refused: None,
            ..failed
        })
        .unwrap();
        log += "\n";
        log += &serde_json::to_string(&rec(5)).unwrap();
        log += "\n";
        let whole = serde_json::to_string(&rec(6)).unwrap();
        log += &whole[..whole.len() / 2];
        let m = summarize(log.as_bytes());
        assert_eq!(m.requests, 3, "forwarded only");
        assert_eq!(m.refused, 2);
        assert_eq!(m.refused_model, 1);
        assert_eq!(m.budget_exhausted.as_deref(), Some("tokens"));
        assert_eq!(
            (m.input_tokens, m.output_tokens, m.cached_tokens),
            (20, 10, 4)
        );
        assert_eq!(m.cost_usd, Some(0.5));
        assert_eq!(m.models, vec!["m".to_string(), "other".to_string()]);
        assert_eq!(m.errors, 1);
        assert_eq!(m.unreadable_lines, 2);
        // A call with tokens and no price leaves the cost unknown.
        let unpriced = serde_json::to_string(&CallRecord {
            cost_usd: None,
            ..rec(1)
        })
        .unwrap();
        assert_eq!(summarize(unpriced.as_bytes()).cost_usd, None);
        assert_eq!(summarize(b"").cost_usd, Some(0.0));
    }
}
