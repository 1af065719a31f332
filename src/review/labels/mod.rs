//! Human review: what a label says, how items are drawn into the queue (`sample`) and split
//! behind the holdout wall (`split`), the guidelines reviewers label by (`rubric`), and labels
//! in and out of the store as JSONL or CSV (`transfer`, `csv`).
//!
//! The holdout wall: held-out labels reach nothing that tunes a judge. `transfer` exports the
//! dev split only, judge templates are never given labels, and the store reads held-out labels
//! only for the drift computation.

pub mod csv;
pub mod item;
pub mod rubric;
pub mod sample;
pub mod split;
pub mod transfer;

/// Why a reviewer would not merge a patch as it is: the reason categories of a label.
pub const REASONS: &[(&str, &str)] = &[
    (
        "correctness",
        "does not solve the problem, or solves it wrongly",
    ),
    (
        "breaks_other_code",
        "breaks other code, callers or behaviour",
    ),
    ("scope", "changes more than the problem needs"),
    ("conventions", "ignores the codebase's conventions"),
    ("tests", "missing, weakened or edited tests"),
    ("security", "introduces a security problem"),
    ("style", "naming, formatting, readability"),
];

pub fn is_reason(name: &str) -> bool {
    REASONS.iter().any(|(n, _)| *n == name)
}

/// Verdict values: the judge's decisions, so the two compare directly.
pub use crate::judge::verdict::Decision;
