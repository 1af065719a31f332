//! Debugging leftovers in added code: `print(`, `breakpoint()`, `pdb`,
//! `dbg!`, `console.log`, `debugger`, `binding.pry`, `var_dump`... Which
//! patterns apply depends on the file's language, so prose and docs are left
//! alone.

use regex::bytes::Regex;

use super::{CompileError, FileCtx, LineRule, Toggle};
use crate::conventions::catalog;
use crate::conventions::config::RuleToggle;
use crate::conventions::diff::{DiffLine, LineKind};
use crate::conventions::path;
use crate::conventions::report::Sink;

/// (extensions, pattern)
const LANGUAGES: &[(&[&str], &str)] = &[
    (
        &["py", "pyw"],
        r"^\s*print\s*\(|(?-u:\b)breakpoint\s*\(\s*\)|^\s*(?:import|from)\s+i?pdb(?-u:\b)|(?-u:\b)i?pdb\.set_trace\s*\(",
    ),
    (&["rs"], r"(?-u:\b)dbg!\s*\("),
    (
        &["js", "jsx", "ts", "tsx", "mjs", "cjs", "vue", "svelte"],
        r"(?-u:\b)console\.(?:log|debug|trace|dir)\s*\(|^\s*debugger\s*;?\s*$",
    ),
    (
        &["go"],
        r"^\s*println\s*\(|(?-u:\b)spew\.(?:Dump|Printf?)\s*\(",
    ),
    (
        &["rb"],
        r"(?-u:\b)binding\.(?:pry|irb)(?-u:\b)|^\s*byebug(?-u:\b)",
    ),
    (&["php"], r"(?-u:\b)(?:var_dump|print_r|dd)\s*\("),
    (
        &["java", "kt", "scala"],
        r"(?-u:\b)System\.(?:out|err)\.print(?:ln)?\s*\(|\.printStackTrace\s*\(\s*\)",
    ),
];

pub(crate) struct DebugRule {
    toggle: Toggle,
    languages: Vec<(&'static [&'static str], Regex)>,
}

impl DebugRule {
    pub fn compile(cfg: &RuleToggle) -> Result<DebugRule, CompileError> {
        Ok(DebugRule {
            toggle: Toggle::compile(
                "conventions.debug_leftovers.exclude glob",
                cfg,
                catalog::DEBUG_LEFTOVER,
            )?,
            languages: LANGUAGES
                .iter()
                // cannot fail: constant patterns, compiled by every test of this rule.
                .map(|(exts, p)| (*exts, Regex::new(p).expect("built-in pattern")))
                .collect(),
        })
    }

    pub fn visitor(&self) -> DebugVisitor<'_> {
        DebugVisitor {
            rule: self,
            re: None,
        }
    }
}

pub(crate) struct DebugVisitor<'a> {
    rule: &'a DebugRule,
    re: Option<&'a Regex>,
}

impl LineRule for DebugVisitor<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        if !self.rule.toggle.applies(ctx.path) {
            return false;
        }
        let ext = path::extension(ctx.path).unwrap_or_default();
        self.re = self
            .rule
            .languages
            .iter()
            .find(|(exts, _)| exts.contains(&ext.as_str()))
            .map(|(_, re)| re);
        self.re.is_some()
    }

    fn line(&mut self, ctx: &FileCtx, line: &DiffLine, sink: &mut Sink) {
        if line.kind != LineKind::Added {
            return;
        }
        let Some(re) = self.re else { return };
        if let Some(m) = re.find(line.text()) {
            sink.push(
                catalog::DEBUG_LEFTOVER,
                self.rule.toggle.severity,
                Some(ctx.path),
                line.new_line,
                || {
                    format!(
                        "debugging leftover `{}`",
                        String::from_utf8_lossy(m.as_bytes()).trim()
                    )
                },
            );
        }
    }

    fn end(&mut self, _: &FileCtx, _: &mut Sink) {}
}
