//! Paths that must not be trusted: ones that climb out of the repository,
//! absolute ones, ones inside `.git/`, and symbolic links whose target lies
//! outside the repository (a link is how a patch reaches a file it cannot
//! name). Paths that merely needed normalising are noted at `warn`.

use super::{FileCtx, LineRule, Toggle};
use crate::conventions::catalog;
use crate::conventions::config::Severity;
use crate::conventions::diff::{DiffLine, FileDiff, LineKind};
use crate::conventions::path;
use crate::conventions::report::Sink;

pub(crate) fn check_paths(file: &FileDiff, rule: &Toggle, sink: &mut Sink) {
    if rule.severity == Severity::Off {
        return;
    }
    let shown = file.path();
    for issue in &file.path_issues {
        let (id, severity) = if issue.is_unsafe() {
            (catalog::UNSAFE_PATH, rule.severity)
        } else {
            (catalog::PATH_NORMALISED, Severity::Warn)
        };
        if rule.exclude.is_match(shown) && !issue.is_unsafe() {
            continue;
        }
        sink.push(id, severity, Some(shown), None, || issue.describe());
    }
}

pub(crate) struct SymlinkRule<'a> {
    rule: &'a Toggle,
}

impl<'a> SymlinkRule<'a> {
    pub fn new(rule: &'a Toggle) -> Self {
        SymlinkRule { rule }
    }
}

impl LineRule for SymlinkRule<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        self.rule.severity != Severity::Off && ctx.file.is_symlink()
    }

    fn line(&mut self, ctx: &FileCtx, line: &DiffLine, sink: &mut Sink) {
        if line.kind != LineKind::Added {
            return;
        }
        let target = String::from_utf8_lossy(line.text());
        if path::resolve_link(ctx.path, &target).is_none() {
            sink.push(
                catalog::UNSAFE_PATH,
                self.rule.severity,
                Some(ctx.path),
                line.new_line,
                || format!("symbolic link points to `{target}`, outside the repository"),
            );
        }
    }

    fn end(&mut self, _: &FileCtx, _: &mut Sink) {}
}
