//! The problem statement of a mined task: the commit message (for a merged pull request, the
//! merge's description or else its commits' messages), plus the text of any issue it links.
//!
//! Pure: issue texts come in through a lookup the caller provides (`--issues DIR`). The
//! statement is checked for leaks afterwards (`leak`); rewriting it through a judge provider
//! is future work and must pass the same check.

use std::collections::BTreeSet;

/// Longest title kept, in characters.
const TITLE_MAX: usize = 100;

/// The title of a statement whose message says nothing.
pub const NO_MESSAGE: &str = "(no message)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub title: String,
    /// problem.md: `# title`, the message's body, then each linked issue's text.
    pub problem: String,
    /// Issue numbers the message links, in order.
    pub issues: Vec<u64>,
    /// Linked issues that had no text to add.
    pub missing_issues: Vec<u64>,
}

/// Builds the statement from a commit message. `branch_messages` are the messages of a
/// merged branch's commits, used when the merge commit says nothing but "Merge ...".
pub fn from_message(
    message: &str,
    branch_messages: &[String],
    issue_text: impl Fn(u64) -> Option<String>,
) -> Statement {
    let (pr, text) = strip_merge_line(message);
    let text = strip_trailers(&text);
    let text = if text.trim().is_empty() {
        branch_messages
            .iter()
            .map(|m| strip_trailers(m).trim().to_string())
            .filter(|m| !m.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n")
    } else {
        text
    };
    let mut lines = text.trim().lines();
    let title: String = lines
        .next()
        .unwrap_or(NO_MESSAGE)
        .trim()
        .chars()
        .take(TITLE_MAX)
        .collect();
    let body = lines.collect::<Vec<_>>().join("\n").trim().to_string();
    let issues: Vec<u64> = issue_refs(message)
        .into_iter()
        .filter(|n| Some(*n) != pr)
        .collect();
    let mut problem = format!("# {title}\n");
    if !body.is_empty() {
        problem.push('\n');
        problem.push_str(&body);
        problem.push('\n');
    }
    let mut missing_issues = Vec::new();
    for n in &issues {
        match issue_text(*n) {
            Some(t) if !t.trim().is_empty() => {
                problem.push_str(&format!("\n## Issue #{n}\n\n{}\n", t.trim()));
            }
            _ => missing_issues.push(*n),
        }
    }
    Statement {
        title,
        problem,
        issues,
        missing_issues,
    }
}

/// Drops a leading "Merge pull request #N from ..." or "Merge branch ..." line; returns the
/// pull request's number (which is not an issue) and the rest.
fn strip_merge_line(message: &str) -> (Option<u64>, String) {
    let mut lines = message.lines();
    let first = lines.next().unwrap_or("").trim();
    if !first.starts_with("Merge ") {
        return (None, message.to_string());
    }
    let pr = first
        .strip_prefix("Merge pull request #")
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok());
    (pr, lines.collect::<Vec<_>>().join("\n"))
}

/// Removes a closing paragraph of trailers (`Signed-off-by: ...`, `Co-authored-by: ...`):
/// they name people, not the problem.
fn strip_trailers(message: &str) -> String {
    let trimmed = message.trim_end();
    let (head, last) = match trimmed.rfind("\n\n") {
        Some(i) => (&trimmed[..i], &trimmed[i + 2..]),
        None => return trimmed.to_string(),
    };
    let is_trailer = |l: &str| {
        l.split_once(": ").is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    };
    if last.lines().all(is_trailer) {
        head.to_string()
    } else {
        trimmed.to_string()
    }
}

/// Issue numbers a message refers to: `#12`, `GH-12`, `.../issues/12`, in order, once each.
pub fn issue_refs(message: &str) -> Vec<u64> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let bytes = message.as_bytes();
    let mut push = |digits: &str| {
        if let Ok(n) = digits.parse::<u64>() {
            if seen.insert(n) {
                out.push(n);
            }
        }
    };
    let digits_at = |i: usize| -> &str {
        let end = message[i..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(message.len(), |e| i + e);
        &message[i..end]
    };
    for (i, _) in message.match_indices('#') {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'&';
        let d = digits_at(i + 1);
        if starts_word && !d.is_empty() {
            push(d);
        }
    }
    for marker in ["GH-", "/issues/"] {
        for (i, _) in message.match_indices(marker) {
            let d = digits_at(i + marker.len());
            if !d.is_empty() {
                push(d);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_issues(_: u64) -> Option<String> {
        None
    }

    #[test]
    fn a_commit_message_becomes_title_and_body() {
        let s = from_message(
            "Round VAT half up\n\nInvoice.tax() rounded half to even.\n\nSigned-off-by: A <a@x>\nReviewed-by: B <b@x>\n",
            &[],
            no_issues,
        );
        assert_eq!(s.title, "Round VAT half up");
        assert_eq!(
            s.problem,
            "# Round VAT half up\n\nInvoice.tax() rounded half to even.\n"
        );
    }

    #[test]
    fn a_merged_pull_request_uses_its_description_and_linked_issue() {
        let issue = |n: u64| (n == 3).then(|| "mul('a', 2) returns 'aa'.".to_string());
        let s = from_message(
            "Merge pull request #7 from team/mul-types\n\nReject strings in mul\n\nFixes #3.\n",
            &[],
            issue,
        );
        assert_eq!(s.title, "Reject strings in mul");
        assert_eq!(
            s.issues,
            vec![3],
            "the pull request's own number is no issue"
        );
        assert!(
            s.problem
                .ends_with("Fixes #3.\n\n## Issue #3\n\nmul('a', 2) returns 'aa'.\n"),
            "{}",
            s.problem
        );
        // A bare merge line: the branch's commits tell what happened.
        let s = from_message(
            "Merge branch 'fix'\n",
            &["Fix add\n\nadd subtracted.".into()],
            no_issues,
        );
        assert_eq!(s.title, "Fix add");
        assert_eq!(s.problem, "# Fix add\n\nadd subtracted.\n");
    }

    #[test]
    fn issue_references() {
        assert_eq!(
            issue_refs("Fixes #12, see GH-4 and https://x/y/issues/12; not a#5 or &#38;"),
            vec![12, 4]
        );
        let s = from_message("Fix it\n\nCloses #9", &[], no_issues);
        assert_eq!(s.missing_issues, vec![9]);
    }
}
