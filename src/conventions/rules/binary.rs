//! Binary files in a patch: unreviewable, and a classic way to smuggle in a
//! compiled payload.

use super::Toggle;
use crate::conventions::catalog;
use crate::conventions::diff::{FileDiff, FileStatus};
use crate::conventions::report::Sink;

pub(crate) fn check(file: &FileDiff, rule: &Toggle, sink: &mut Sink) {
    if !file.binary || file.status == FileStatus::Deleted || !rule.applies(file.path()) {
        return;
    }
    let path = file.path();
    let verb = if file.status == FileStatus::Added {
        "adds"
    } else {
        "changes"
    };
    sink.push(
        catalog::BINARY_FILE,
        rule.severity,
        Some(path),
        None,
        || format!("{verb} binary file `{path}`"),
    );
}
