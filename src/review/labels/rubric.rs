//! The guidelines reviewers label by: what each verdict means, the reason categories, and the
//! questions of the suite's judge rubric. Its hash is the rubric version stored with every
//! label, so labels given under different guidelines can be told apart.

use super::REASONS;
use crate::judge::spec::Criterion;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Guideline {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rubric {
    /// Where the criteria come from (the judge file's name).
    pub source: String,
    pub verdicts: Vec<Guideline>,
    pub reasons: Vec<Guideline>,
    pub criteria: Vec<Guideline>,
    /// sha256 of everything above, 12 hex digits.
    pub version: String,
}

const VERDICTS: &[(&str, &str)] = &[
    ("merge", "You would merge it as it is: it solves the stated problem, breaks nothing, stays in scope and reads like the rest of the code."),
    ("revise", "Right direction, but you would ask for changes before merging (scope, conventions, missing tests, style)."),
    ("reject", "You would close it: it does not solve the problem, breaks other code, edits the tests to pass, or is unsafe."),
];

impl Rubric {
    pub fn new(source: &str, criteria: &[Criterion]) -> Rubric {
        let g = |(n, t): &(&str, &str)| Guideline {
            name: n.to_string(),
            text: t.to_string(),
        };
        let mut r = Rubric {
            source: source.into(),
            verdicts: VERDICTS.iter().map(g).collect(),
            reasons: REASONS.iter().map(g).collect(),
            criteria: criteria
                .iter()
                .map(|c| Guideline {
                    name: c.name.clone(),
                    text: c.question.clone(),
                })
                .collect(),
            version: String::new(),
        };
        // cannot fail: lists of plain structs of strings serialize.
        let doc = serde_json::to_string(&(&r.verdicts, &r.reasons, &r.criteria)).expect("json");
        r.version = crate::config::sha256_hex(doc.as_bytes())[..12].to_string();
        r
    }
}
