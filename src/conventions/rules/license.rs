//! The license header a suite requires: every new file matching the rule's
//! globs must carry the text near its top, and a patch must not delete it
//! from an existing file.

use super::{CompileError, FileCtx, LineRule};
use crate::conventions::catalog;
use crate::conventions::config::{LicenseRule as LicenseConfig, Severity};
use crate::conventions::diff::{DiffLine, LineKind};
use crate::conventions::globs::PathSet;
use crate::conventions::report::Sink;

const SOURCE_FILES: &[&str] = &[
    "*.rs", "*.py", "*.go", "*.js", "*.jsx", "*.ts", "*.tsx", "*.java", "*.kt", "*.c", "*.h",
    "*.cc", "*.cpp", "*.hpp", "*.cs", "*.rb", "*.php", "*.swift", "*.scala", "*.sh",
];

pub(crate) struct LicenseRule {
    severity: Severity,
    text: Vec<u8>,
    globs: PathSet,
    within: u32,
}

impl LicenseRule {
    /// `None` when no header text is configured.
    pub fn compile(cfg: &LicenseConfig) -> Result<Option<LicenseRule>, CompileError> {
        let Some(text) = cfg.text.as_ref().filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let globs = match &cfg.globs {
            Some(g) => super::globs("conventions.license_header glob", g)?,
            // cannot fail: constant globs, compiled by every test of this rule.
            None => PathSet::new(SOURCE_FILES).expect("built-in globs"),
        };
        Ok(Some(LicenseRule {
            severity: cfg
                .severity
                .unwrap_or(catalog::default_severity(catalog::LICENSE_HEADER)),
            text: text.trim().as_bytes().to_vec(),
            globs,
            within: cfg.within_lines.unwrap_or(20),
        }))
    }

    pub fn visitor(&self) -> LicenseVisitor<'_> {
        LicenseVisitor {
            rule: self,
            found_added: false,
            removed_at: None,
        }
    }
}

pub(crate) struct LicenseVisitor<'a> {
    rule: &'a LicenseRule,
    found_added: bool,
    removed_at: Option<u32>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay.windows(needle.len()).any(|w| w == needle)
}

impl LineRule for LicenseVisitor<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        self.found_added = false;
        self.removed_at = None;
        self.rule.severity != Severity::Off
            && ctx.file.new_path.is_some()
            && self.rule.globs.is_match(ctx.path)
    }

    fn line(&mut self, _: &FileCtx, line: &DiffLine, _: &mut Sink) {
        match line.kind {
            LineKind::Added => {
                if line.new_line.is_some_and(|n| n <= self.rule.within)
                    && contains(line.text(), &self.rule.text)
                {
                    self.found_added = true;
                }
            }
            LineKind::Removed => {
                if self.removed_at.is_none() && contains(line.text(), &self.rule.text) {
                    self.removed_at = line.old_line;
                }
            }
            LineKind::Context => {}
        }
    }

    fn end(&mut self, ctx: &FileCtx, sink: &mut Sink) {
        let text = String::from_utf8_lossy(&self.rule.text);
        if ctx.is_new() && !self.found_added {
            sink.push(
                catalog::LICENSE_HEADER,
                self.rule.severity,
                Some(ctx.path),
                Some(1),
                || {
                    format!(
                        "new file lacks the license header `{text}` in its first {} lines",
                        self.rule.within
                    )
                },
            );
        } else if !ctx.is_new() && self.removed_at.is_some() && !self.found_added {
            sink.push(
                catalog::LICENSE_HEADER,
                self.rule.severity,
                Some(ctx.path),
                Some(1),
                || format!("the patch removes the license header `{text}`"),
            );
        }
    }
}
