//! Limits on the size of the whole patch: large patches are hard to review
//! and are where unrelated edits hide.

use crate::conventions::catalog;
use crate::conventions::config::Severity;
use crate::conventions::diff::ParsedDiff;
use crate::conventions::report::Sink;

pub(crate) fn check(
    diff: &ParsedDiff,
    (files_sev, max_files): (Severity, u64),
    (lines_sev, max_lines): (Severity, u64),
    sink: &mut Sink,
) {
    let files = diff.files.len() as u64;
    if files > max_files {
        sink.push(catalog::MAX_FILES, files_sev, None, None, || {
            format!("the patch changes {files} files; the limit is {max_files}")
        });
    }
    let lines = diff.total_added() + diff.total_removed();
    if lines > max_lines {
        sink.push(catalog::MAX_LINES, lines_sev, None, None, || {
            format!(
                "the patch changes {lines} lines (+{} -{}); the limit is {max_lines}",
                diff.total_added(),
                diff.total_removed()
            )
        });
    }
}
