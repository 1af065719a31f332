//! Edits to path categories a reviewer must see separately: CI
//! configuration, infrastructure and deployment, test files. A rename counts
//! at both ends, so moving a script into `deploy/` is an infra edit.

use super::PathCheck;
use crate::conventions::diff::{FileDiff, FileStatus};
use crate::conventions::report::Sink;

pub(crate) fn check(file: &FileDiff, rule: &PathCheck, rule_id: &str, what: &str, sink: &mut Sink) {
    if rule.severity == crate::conventions::config::Severity::Off {
        return;
    }
    for p in file.paths() {
        if let Some(pattern) = rule.set.first_match(p) {
            let verb = verb(file, p);
            sink.push(rule_id, rule.severity, Some(p), None, || {
                format!("{verb} {what} `{p}` (matches `{pattern}`)")
            });
            return;
        }
    }
}

pub(super) fn verb(file: &FileDiff, p: &str) -> &'static str {
    match file.status {
        FileStatus::Added => "adds",
        FileStatus::Deleted => "deletes",
        FileStatus::Renamed if file.new_path.as_deref() == Some(p) => "moves a file to",
        FileStatus::Renamed => "moves away",
        FileStatus::Copied => "copies to",
        FileStatus::Modified => "edits",
    }
}
