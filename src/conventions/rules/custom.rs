//! A suite's own rules: a regular expression over added lines, with the
//! suite's message and severity.

use regex::bytes::Regex;

use super::{CompileError, FileCtx, LineRule};
use crate::conventions::config::{CustomRule as CustomConfig, Severity};
use crate::conventions::diff::{DiffLine, LineKind};
use crate::conventions::globs::PathSet;
use crate::conventions::report::Sink;

pub(crate) struct CustomRule {
    pub rule_id: String,
    pub message: String,
    pub severity: Severity,
    re: Regex,
    paths: PathSet,
    exclude: PathSet,
}

impl CustomRule {
    pub fn compile(cfg: &CustomConfig) -> Result<CustomRule, CompileError> {
        let what = format!("conventions.custom `{}` regex", cfg.id);
        Ok(CustomRule {
            rule_id: format!("custom.{}", cfg.id),
            message: cfg.message.clone(),
            severity: cfg.severity.unwrap_or(Severity::Warn),
            re: super::regex(&what, &cfg.pattern)?,
            paths: super::globs(
                &format!("conventions.custom `{}` paths glob", cfg.id),
                &cfg.paths,
            )?,
            exclude: super::globs(
                &format!("conventions.custom `{}` exclude glob", cfg.id),
                &cfg.exclude,
            )?,
        })
    }

    pub fn visitor(&self) -> CustomVisitor<'_> {
        CustomVisitor { rule: self }
    }
}

pub(crate) struct CustomVisitor<'a> {
    rule: &'a CustomRule,
}

impl LineRule for CustomVisitor<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        self.rule.severity != Severity::Off
            && (self.rule.paths.is_empty() || self.rule.paths.is_match(ctx.path))
            && !self.rule.exclude.is_match(ctx.path)
    }

    fn line(&mut self, ctx: &FileCtx, line: &DiffLine, sink: &mut Sink) {
        if line.kind == LineKind::Added && self.rule.re.is_match(line.text()) {
            sink.push(
                &self.rule.rule_id,
                self.rule.severity,
                Some(ctx.path),
                line.new_line,
                || self.rule.message.clone(),
            );
        }
    }

    fn end(&mut self, _: &FileCtx, _: &mut Sink) {}
}
