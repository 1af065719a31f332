//! Added lines holding characters a reviewer cannot see: bidirectional controls that make
//! code read differently from how it runs (Trojan Source), and zero-width characters. As
//! GitHub and rustc warn about them, the gate refuses them.

use super::{FileCtx, LineRule, Toggle};
use crate::conventions::catalog;
use crate::conventions::diff::{DiffLine, LineKind};
use crate::conventions::report::Sink;
use crate::conventions::unicode;

pub(crate) struct HiddenCharRule<'a> {
    rule: &'a Toggle,
}

impl<'a> HiddenCharRule<'a> {
    pub fn new(rule: &'a Toggle) -> Self {
        HiddenCharRule { rule }
    }
}

impl LineRule for HiddenCharRule<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        self.rule.applies(ctx.path)
    }

    fn line(&mut self, ctx: &FileCtx, line: &DiffLine, sink: &mut Sink) {
        if line.kind != LineKind::Added {
            return;
        }
        let text = String::from_utf8_lossy(line.raw);
        let found = unicode::find(&text);
        let Some((col, c)) = found.first().copied() else {
            return;
        };
        let more = found.len() - 1;
        sink.push(
            catalog::HIDDEN_UNICODE,
            self.rule.severity,
            Some(ctx.path),
            line.new_line,
            || {
                format!(
                    "invisible character U+{:04X} {} at column {col}{}: the line may read \
                     differently from how it runs",
                    c as u32,
                    unicode::name(c),
                    if more > 0 {
                        format!(" (and {more} more)")
                    } else {
                        String::new()
                    }
                )
            },
        );
    }

    fn end(&mut self, _: &FileCtx, _: &mut Sink) {}
}
