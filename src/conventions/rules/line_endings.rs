//! Added lines whose endings differ from the file's own (CRLF in an LF file
//! or the reverse), and new files that mix both. The file's style comes from
//! the context lines in the patch, or from the original file when the
//! context is too thin to tell.

use super::{FileCtx, LineRule, Toggle};
use crate::conventions::catalog;
use crate::conventions::diff::{DiffLine, LineKind};
use crate::conventions::report::Sink;

pub(crate) struct LineEndingRule<'a> {
    rule: &'a Toggle,
    ctx_crlf: u32,
    ctx_lf: u32,
    add_crlf: u32,
    add_lf: u32,
    first_crlf: Option<u32>,
    first_lf: Option<u32>,
}

impl<'a> LineEndingRule<'a> {
    pub fn new(rule: &'a Toggle) -> Self {
        LineEndingRule {
            rule,
            ctx_crlf: 0,
            ctx_lf: 0,
            add_crlf: 0,
            add_lf: 0,
            first_crlf: None,
            first_lf: None,
        }
    }
}

/// Counts (crlf, lf) line endings in a file's content.
fn count_endings(content: &[u8]) -> (u32, u32) {
    let mut crlf = 0;
    let mut lf = 0;
    for (i, &b) in content.iter().enumerate() {
        if b == b'\n' {
            if i > 0 && content[i - 1] == b'\r' {
                crlf += 1;
            } else {
                lf += 1;
            }
        }
    }
    (crlf, lf)
}

impl LineRule for LineEndingRule<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        *self = LineEndingRule::new(self.rule);
        self.rule.applies(ctx.path)
    }

    fn line(&mut self, _: &FileCtx, line: &DiffLine, _: &mut Sink) {
        if line.no_newline {
            // The last line has no ending at all.
            return;
        }
        let cr = line.has_cr();
        match line.kind {
            LineKind::Context => {
                if cr {
                    self.ctx_crlf += 1
                } else {
                    self.ctx_lf += 1
                }
            }
            LineKind::Added => {
                if cr {
                    self.add_crlf += 1;
                    self.first_crlf = self.first_crlf.or(line.new_line);
                } else {
                    self.add_lf += 1;
                    self.first_lf = self.first_lf.or(line.new_line);
                }
            }
            LineKind::Removed => {}
        }
    }

    fn end(&mut self, ctx: &FileCtx, sink: &mut Sink) {
        if self.add_crlf + self.add_lf == 0 {
            return;
        }
        let (mut crlf, mut lf) = (self.ctx_crlf, self.ctx_lf);
        if crlf + lf < 3 && !ctx.is_new() {
            if let Some(base) = ctx.base() {
                (crlf, lf) = count_endings(base);
            }
        }
        let sev = self.rule.severity;
        let path = ctx.path;
        if crlf + lf == 0 {
            // Nothing to compare with: only mixing within the patch counts.
            if self.add_crlf > 0 && self.add_lf > 0 {
                let (n, line) = if self.add_crlf <= self.add_lf {
                    (self.add_crlf, self.first_crlf)
                } else {
                    (self.add_lf, self.first_lf)
                };
                sink.push(catalog::LINE_ENDINGS, sev, Some(path), line, || {
                    format!(
                        "mixed line endings: {} CRLF and {} LF lines added ({n} odd ones out)",
                        self.add_crlf, self.add_lf
                    )
                });
            }
            return;
        }
        let file_is_crlf = crlf > lf;
        let (odd, line, theirs, ours) = if file_is_crlf {
            (self.add_lf, self.first_lf, "LF", "CRLF")
        } else {
            (self.add_crlf, self.first_crlf, "CRLF", "LF")
        };
        if odd > 0 {
            sink.push(catalog::LINE_ENDINGS, sev, Some(path), line, || {
                format!("{odd} added line(s) end with {theirs}; the file uses {ours}")
            });
        }
    }
}
