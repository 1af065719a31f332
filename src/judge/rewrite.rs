//! Rewriting a mined task's problem statement through a judge's provider: a commit message
//! often says how the bug was fixed, and a statement should say only what is wrong.
//!
//! The answer follows `statement_schema` and then the caller's own check (mining's leak
//! check: no identifier the fix adds may appear). A failed check goes back to the model as
//! the one repair request, saying which names it used; a second failure is the caller's to
//! handle (mining keeps the commit message's statement, redacted, or drops the task).

use super::budget::Budget;
use super::engine::{Halt, Judge};
use super::prompt::RewriteInput;
use super::schema::{statement_schema, validate};
use super::verdict::{reply_json, ReplyOutput};
use crate::store::Store;
use serde::{Deserialize, Serialize};

/// Longest title kept, in characters (as for statements drawn from commit messages).
pub const MAX_TITLE: usize = 100;
/// Longest statement accepted, in characters: a statement, not a design document.
pub const MAX_STATEMENT: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub title: String,
    pub statement: String,
}

/// Reads a rewritten statement; the error says what is wrong, for the repair request.
pub fn read_statement(output: &ReplyOutput) -> Result<Statement, String> {
    let v = reply_json(output)?;
    validate(&statement_schema(), &v)?;
    let s: Statement =
        serde_json::from_value(v).map_err(|e| format!("the reply does not fit: {e}"))?;
    let title = s.title.trim().trim_start_matches('#').trim().to_string();
    let statement = s.statement.trim().to_string();
    if title.is_empty() || statement.is_empty() {
        return Err("the title and the statement must both say something".into());
    }
    if title.contains('\n') {
        return Err("the title must be one line".into());
    }
    if title.chars().count() > MAX_TITLE {
        return Err(format!("the title is longer than {MAX_TITLE} characters"));
    }
    if statement.chars().count() > MAX_STATEMENT {
        return Err(format!(
            "the statement is longer than {MAX_STATEMENT} characters"
        ));
    }
    Ok(Statement { title, statement })
}

impl Judge {
    /// The problem statement of `input` rewritten, read and then passed through `check`.
    /// `Ok(Err(..))`: the request failed, or the answer was unusable twice.
    pub async fn rewrite_statement(
        &self,
        store: &Store,
        budget: &Budget,
        input: &RewriteInput,
        check: impl Fn(&Statement) -> Result<(), String>,
    ) -> Result<Result<Statement, String>, Halt> {
        let req = self.prompts().rewrite_request(&self.spec, input)?;
        self.answer_uncached(store, budget, req, |o| {
            let s = read_statement(o)?;
            check(&s)?;
            Ok(s)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_statement_is_a_title_line_and_a_body() {
        let ok = read_statement(&ReplyOutput::Json(
            json!({"title": "# add subtracts ", "statement": " add(2, 3) gives -1.\n"}),
        ))
        .unwrap();
        assert_eq!(ok.title, "add subtracts");
        assert_eq!(ok.statement, "add(2, 3) gives -1.");
        let long = "x".repeat(MAX_TITLE + 1);
        // (reply, part of the error)
        let cases: &[(serde_json::Value, &str)] = &[
            (
                json!({"title": "t"}),
                "missing required property `statement`",
            ),
            (json!({"title": "t", "statement": "  "}), "must both say"),
            (json!({"title": "a\nb", "statement": "s"}), "one line"),
            (json!({"title": long, "statement": "s"}), "longer than 100"),
            (
                json!({"title": "t", "statement": "s", "fix": "use _plus"}),
                "unexpected property `fix`",
            ),
        ];
        for (reply, expected) in cases {
            let err = read_statement(&ReplyOutput::Json(reply.clone())).unwrap_err();
            assert!(err.contains(expected), "expected `{expected}` in `{err}`");
        }
        assert!(read_statement(&ReplyOutput::Text("The fix is easy.".into())).is_err());
    }
}
