//! Markers of unfinished work (`TODO`, `FIXME`) added by the patch.

use regex::bytes::Regex;

use super::{CompileError, FileCtx, LineRule};
use crate::conventions::catalog;
use crate::conventions::config::{Severity, TodoRule as TodoConfig};
use crate::conventions::diff::{DiffLine, LineKind};
use crate::conventions::globs::PathSet;
use crate::conventions::report::Sink;

pub(crate) struct TodoRule {
    severity: Severity,
    re: Option<Regex>,
    exclude: PathSet,
}

impl TodoRule {
    pub fn compile(cfg: &TodoConfig) -> Result<TodoRule, CompileError> {
        let markers = cfg
            .markers
            .clone()
            .unwrap_or_else(|| vec!["TODO".to_string(), "FIXME".to_string()]);
        let re = if markers.is_empty() {
            None
        } else {
            let alt = markers
                .iter()
                .map(|m| regex::escape(m))
                .collect::<Vec<_>>()
                .join("|");
            Some(super::regex(
                "conventions.todo.markers regex",
                &format!(r"(?-u:\b)(?:{alt})(?-u:\b)"),
            )?)
        };
        Ok(TodoRule {
            severity: cfg
                .severity
                .unwrap_or(catalog::default_severity(catalog::TODO)),
            re,
            exclude: super::globs("conventions.todo.exclude glob", &cfg.exclude)?,
        })
    }

    pub fn visitor(&self) -> TodoVisitor<'_> {
        TodoVisitor { rule: self }
    }
}

pub(crate) struct TodoVisitor<'a> {
    rule: &'a TodoRule,
}

impl LineRule for TodoVisitor<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        self.rule.severity != Severity::Off
            && self.rule.re.is_some()
            && !self.rule.exclude.is_match(ctx.path)
    }

    fn line(&mut self, ctx: &FileCtx, line: &DiffLine, sink: &mut Sink) {
        if line.kind != LineKind::Added {
            return;
        }
        let Some(re) = &self.rule.re else { return };
        if let Some(m) = re.find(line.text()) {
            sink.push(
                catalog::TODO,
                self.rule.severity,
                Some(ctx.path),
                line.new_line,
                || format!("adds a `{}` marker", String::from_utf8_lossy(m.as_bytes())),
            );
        }
    }

    fn end(&mut self, _: &FileCtx, _: &mut Sink) {}
}
