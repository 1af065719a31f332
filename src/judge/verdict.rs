//! A judge's verdict on one patch, read from a provider's reply: parsed, validated against
//! the schema, and refused when malformed. Nothing is guessed from prose.

use super::schema::validate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Merge,
    Revise,
    Reject,
}

impl Decision {
    /// Every decision, from the most to the least favourable.
    pub const ALL: [Decision; 3] = [Decision::Merge, Decision::Revise, Decision::Reject];

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The decision's position in `ALL`: the category index agreement statistics use.
    pub fn index(self) -> usize {
        self.caution() as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Merge => "merge",
            Decision::Revise => "revise",
            Decision::Reject => "reject",
        }
    }

    /// How cautious a decision is: ties between samples go to the more cautious one.
    pub fn caution(self) -> u8 {
        match self {
            Decision::Merge => 0,
            Decision::Revise => 1,
            Decision::Reject => 2,
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: Decision,
    pub scores: BTreeMap<String, u8>,
    pub reasons: Vec<String>,
    pub rationale: String,
}

/// What a provider returned: a JSON value (a tool call's input) or text that should be JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyOutput {
    Json(Value),
    Text(String),
}

impl ReplyOutput {
    /// The reply as the text shown back to the model when asking for a repair.
    pub fn as_text(&self) -> String {
        match self {
            ReplyOutput::Json(v) => v.to_string(),
            ReplyOutput::Text(t) => t.clone(),
        }
    }
}

/// Longest reason and rationale kept: a reply is stored, and a judge talked into writing a
/// novel should not fill the database.
const MAX_REASON: usize = 1000;
const MAX_REASONS: usize = 20;
const MAX_RATIONALE: usize = 8000;

/// The reply as a JSON value: a tool input as is; text when it is a JSON object, possibly
/// inside one Markdown code fence (which some servers add even in JSON mode).
pub fn reply_json(output: &ReplyOutput) -> Result<Value, String> {
    match output {
        ReplyOutput::Json(v) => Ok(v.clone()),
        ReplyOutput::Text(t) => {
            let mut s = t.trim();
            if let Some(rest) = s.strip_prefix("```") {
                let rest = rest.strip_prefix("json").unwrap_or(rest);
                s = rest.strip_suffix("```").unwrap_or(rest).trim();
            }
            if s.is_empty() {
                return Err("the reply is empty".into());
            }
            serde_json::from_str(s).map_err(|e| {
                let head: String = s.chars().take(80).collect();
                format!("the reply is not JSON ({e}); it starts: {head}")
            })
        }
    }
}

/// Reads a verdict; the error says what is wrong, for the repair request and the record.
pub fn read_verdict(output: &ReplyOutput, schema: &Value) -> Result<Verdict, String> {
    let v = reply_json(output)?;
    validate(schema, &v)?;
    let mut verdict: Verdict =
        serde_json::from_value(v).map_err(|e| format!("the reply does not fit: {e}"))?;
    verdict.reasons.truncate(MAX_REASONS);
    for r in &mut verdict.reasons {
        truncate(r, MAX_REASON);
    }
    truncate(&mut verdict.rationale, MAX_RATIONALE);
    Ok(verdict)
}

fn truncate(s: &mut String, max: usize) {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
        s.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::verdict_schema;
    use super::super::spec::Criterion;
    use super::*;

    fn schema() -> Value {
        verdict_schema(&[Criterion {
            name: "solves_problem".into(),
            question: "q".into(),
        }])
    }

    #[test]
    fn reads_json_text_tool_input_and_one_code_fence() {
        let body =
            r#"{"verdict":"revise","scores":{"solves_problem":3},"reasons":["a"],"rationale":"r"}"#;
        for out in [
            ReplyOutput::Text(body.into()),
            ReplyOutput::Text(format!("```json\n{body}\n```")),
            ReplyOutput::Json(serde_json::from_str(body).unwrap()),
        ] {
            let v = read_verdict(&out, &schema()).unwrap();
            assert_eq!(v.verdict, Decision::Revise);
            assert_eq!(v.scores["solves_problem"], 3);
        }
    }

    #[test]
    fn prose_is_refused_not_guessed() {
        for text in [
            "I would merge this.",
            "Verdict: merge {\"verdict\": \"merge\"}",
            "",
            "{\"verdict\": \"merge\"",
        ] {
            assert!(read_verdict(&ReplyOutput::Text(text.into()), &schema()).is_err());
        }
    }
}
