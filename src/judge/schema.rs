//! The JSON Schemas of a judge's answers, sent to the provider's structured-output or tool
//! mechanism, and the validator every answer passes before it counts: a provider that
//! ignores the schema is caught here, not trusted.
//!
//! The validator covers the part of JSON Schema these schemas use (type, enum, properties,
//! required, additionalProperties, items, minimum, maximum).

use super::spec::Criterion;
use serde_json::{json, Map, Value};

/// The verdict: a decision, a score per rubric criterion, reasons and a rationale.
pub fn verdict_schema(rubric: &[Criterion]) -> Value {
    let mut scores = Map::new();
    for c in rubric {
        scores.insert(
            c.name.clone(),
            json!({"type": "integer", "minimum": 1, "maximum": 5, "description": c.question}),
        );
    }
    let names: Vec<&str> = rubric.iter().map(|c| c.name.as_str()).collect();
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["reasons", "scores", "rationale", "verdict"],
        "properties": {
            "reasons": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Short, concrete findings about the patch, most important first."
            },
            "scores": {
                "type": "object",
                "additionalProperties": false,
                "required": names,
                "properties": scores,
                "description": "1 (poor) to 5 (excellent) per criterion."
            },
            "rationale": {"type": "string", "description": "Why this verdict, in a few sentences."},
            "verdict": {"type": "string", "enum": ["merge", "revise", "reject"]}
        }
    })
}

/// A pairwise preference between the first and the second patch shown.
pub fn pairwise_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["rationale", "preferred"],
        "properties": {
            "rationale": {"type": "string"},
            "preferred": {"type": "string", "enum": ["first", "second", "tie"]}
        }
    })
}

/// A rewritten problem statement: a one-line title and the statement in Markdown.
pub fn statement_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["title", "statement"],
        "properties": {
            "title": {"type": "string", "description": "One line naming the problem, not the fix."},
            "statement": {
                "type": "string",
                "description": "The problem as a user or maintainer would report it, in Markdown, without naming how to fix it."
            }
        }
    })
}

/// Checks `value` against `schema`; the error names the JSON path that is wrong.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "$")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(schema: &Value, v: &Value, path: &str) -> Result<(), String> {
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let actual = type_name(v);
        let ok = actual == t || (t == "number" && actual == "integer");
        if !ok {
            return Err(format!("{path}: expected {t}, found {actual}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            return Err(format!(
                "{path}: {v} is not one of {}",
                Value::Array(allowed.clone())
            ));
        }
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if n < min {
                return Err(format!("{path}: {v} is below the minimum {min}"));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if n > max {
                return Err(format!("{path}: {v} is above the maximum {max}"));
            }
        }
    }
    if let Value::Object(o) = v {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !o.contains_key(r) {
                    return Err(format!("{path}: missing required property `{r}`"));
                }
            }
        }
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(s, x, &format!("{path}.{k}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{path}: unexpected property `{k}`"))
                }
                None => {}
            }
        }
    }
    if let (Value::Array(a), Some(items)) = (v, schema.get("items")) {
        for (i, x) in a.iter().enumerate() {
            check(items, x, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rubric() -> Vec<Criterion> {
        vec![Criterion {
            name: "solves_problem".into(),
            question: "q".into(),
        }]
    }

    #[test]
    fn accepts_a_verdict_and_names_what_is_wrong() {
        let s = verdict_schema(&rubric());
        let good = json!({"verdict": "merge", "scores": {"solves_problem": 5}, "reasons": ["ok"], "rationale": "fine"});
        assert_eq!(validate(&s, &good), Ok(()));
        let cases: &[(Value, &str)] = &[
            (
                json!({"verdict": "yes", "scores": {"solves_problem": 5}, "reasons": [], "rationale": ""}),
                "$.verdict: \"yes\" is not one of",
            ),
            (
                json!({"verdict": "merge", "scores": {"solves_problem": 9}, "reasons": [], "rationale": ""}),
                "$.scores.solves_problem: 9 is above the maximum 5",
            ),
            (
                json!({"verdict": "merge", "scores": {"solves_problem": 2.5}, "reasons": [], "rationale": ""}),
                "expected integer, found number",
            ),
            (
                json!({"verdict": "merge", "scores": {}, "reasons": [], "rationale": ""}),
                "$.scores: missing required property `solves_problem`",
            ),
            (
                json!({"verdict": "merge", "scores": {"solves_problem": 3}, "reasons": [1], "rationale": ""}),
                "$.reasons[0]: expected string",
            ),
            (
                json!({"verdict": "merge", "scores": {"solves_problem": 3}, "reasons": [], "rationale": "", "score": 10}),
                "unexpected property `score`",
            ),
            (json!(["merge"]), "$: expected object, found array"),
        ];
        for (v, expected) in cases {
            let err = validate(&s, v).unwrap_err();
            assert!(err.contains(expected), "expected `{expected}` in `{err}`");
        }
    }
}
