//! A file the patch leaves without a trailing newline. Only reported when
//! the patch caused it: a file that already lacked one is left alone.

use super::{FileCtx, LineRule, Toggle};
use crate::conventions::catalog;
use crate::conventions::diff::{DiffLine, LineKind};
use crate::conventions::report::Sink;

pub(crate) struct NewlineRule<'a> {
    rule: &'a Toggle,
    added_without: Option<u32>,
    base_without: bool,
}

impl<'a> NewlineRule<'a> {
    pub fn new(rule: &'a Toggle) -> Self {
        NewlineRule {
            rule,
            added_without: None,
            base_without: false,
        }
    }
}

impl LineRule for NewlineRule<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        self.added_without = None;
        self.base_without = false;
        // A symbolic link's target never ends with a newline.
        self.rule.applies(ctx.path) && !ctx.file.is_symlink()
    }

    fn line(&mut self, _: &FileCtx, line: &DiffLine, _: &mut Sink) {
        if !line.no_newline {
            return;
        }
        match line.kind {
            LineKind::Added => self.added_without = line.new_line,
            LineKind::Removed | LineKind::Context => self.base_without = true,
        }
    }

    fn end(&mut self, ctx: &FileCtx, sink: &mut Sink) {
        if let Some(line) = self.added_without {
            if !self.base_without {
                sink.push(
                    catalog::TRAILING_NEWLINE,
                    self.rule.severity,
                    Some(ctx.path),
                    Some(line),
                    || "the file no longer ends with a newline".to_string(),
                );
            }
        }
    }
}
