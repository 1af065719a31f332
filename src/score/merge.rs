//! Mergeability: the headline rule that joins the scorers. A patch is mergeable when its
//! hidden tests resolve the task, it passes the conventions, it has no scope violation, and
//! the judge (where one has judged the evaluation) says merge. Pure.

use crate::score::outcome::Outcome;
use crate::store::AttemptRow;

/// Whether a judge has judged this evaluation: then its verdict is part of mergeability.
pub fn judged(rows: &[AttemptRow]) -> bool {
    rows.iter().any(|r| r.judge.is_some())
}

/// Whether the attempt's patch passes the conventions (None: not scored, e.g. no patch).
pub fn conventions_passed(row: &AttemptRow) -> Option<bool> {
    row.conventions.as_ref().and_then(|c| c["passed"].as_bool())
}

/// The blast-radius tier of the attempt's patch, when scored.
pub fn tier(row: &AttemptRow) -> Option<&str> {
    row.conventions.as_ref().and_then(|c| c["tier"].as_str())
}

/// A patch is mergeable when it is resolved, passes the conventions, has no scope
/// violation, and the judge (where one is configured) says merge.
pub fn mergeable(row: &AttemptRow, judged: bool) -> bool {
    let judge_says_merge = row
        .judge
        .as_ref()
        .is_some_and(|j| j.verdict.as_deref() == Some("merge"));
    row.run.outcome == Outcome::Resolved
        && conventions_passed(row) != Some(false)
        && !row.run.flags.scope_violation
        && (!judged || judge_says_merge)
}
