//! Added lines indented with tabs in a file indented with spaces, or the
//! reverse. The file's style comes from the patch's context lines, or the
//! original file when the context is too thin; a new file is compared with
//! its own majority. Files whose syntax demands tabs in places (Makefiles)
//! and files with no clear style are left alone.

use super::{FileCtx, LineRule, Toggle};
use crate::conventions::catalog;
use crate::conventions::diff::{DiffLine, LineKind};
use crate::conventions::path;
use crate::conventions::report::Sink;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Indent {
    Tab,
    Space,
}

fn classify(text: &[u8]) -> Option<Indent> {
    match text.first()? {
        b'\t' => Some(Indent::Tab),
        b' ' => {
            // A single space is alignment (` * comment`), not indentation.
            let spaces = text.iter().take_while(|&&b| b == b' ').count();
            let rest_blank = text[spaces..].iter().all(|b| b.is_ascii_whitespace());
            (spaces >= 2 && !rest_blank).then_some(Indent::Space)
        }
        _ => None,
    }
}

/// The dominant style of a set of counts, if one clearly dominates.
fn dominant(tabs: u32, spaces: u32) -> Option<Indent> {
    let total = tabs + spaces;
    if total < 3 {
        return None;
    }
    if tabs * 5 >= total * 4 {
        Some(Indent::Tab)
    } else if spaces * 5 >= total * 4 {
        Some(Indent::Space)
    } else {
        None
    }
}

fn name(i: Indent) -> &'static str {
    match i {
        Indent::Tab => "tabs",
        Indent::Space => "spaces",
    }
}

pub(crate) struct IndentationRule<'a> {
    rule: &'a Toggle,
    ctx: [u32; 2],
    added: [u32; 2],
    first_added: [Option<u32>; 2],
}

impl<'a> IndentationRule<'a> {
    pub fn new(rule: &'a Toggle) -> Self {
        IndentationRule {
            rule,
            ctx: [0; 2],
            added: [0; 2],
            first_added: [None; 2],
        }
    }
}

fn idx(i: Indent) -> usize {
    match i {
        Indent::Tab => 0,
        Indent::Space => 1,
    }
}

fn tab_sensitive(p: &str) -> bool {
    let name = path::file_name(p);
    matches!(name, "Makefile" | "GNUmakefile" | "makefile")
        || matches!(
            path::extension(p).as_deref(),
            Some("mk" | "patch" | "diff" | "tsv")
        )
}

impl LineRule for IndentationRule<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        *self = IndentationRule::new(self.rule);
        self.rule.applies(ctx.path) && !tab_sensitive(ctx.path)
    }

    fn line(&mut self, _: &FileCtx, line: &DiffLine, _: &mut Sink) {
        let Some(ind) = classify(line.text()) else {
            return;
        };
        match line.kind {
            LineKind::Context => self.ctx[idx(ind)] += 1,
            LineKind::Added => {
                self.added[idx(ind)] += 1;
                if self.first_added[idx(ind)].is_none() {
                    self.first_added[idx(ind)] = line.new_line;
                }
            }
            LineKind::Removed => {}
        }
    }

    fn end(&mut self, ctx: &FileCtx, sink: &mut Sink) {
        if self.added[0] + self.added[1] == 0 {
            return;
        }
        let mut counts = self.ctx;
        if counts[0] + counts[1] < 3 && !ctx.is_new() {
            if let Some(base) = ctx.base() {
                counts = [0; 2];
                for l in base.split(|&b| b == b'\n') {
                    if let Some(i) = classify(l) {
                        counts[idx(i)] += 1;
                    }
                }
            }
        }
        if counts[0] + counts[1] < 3 {
            // No history to compare with: judge the added lines by their
            // own majority.
            counts = self.added;
        }
        let Some(style) = dominant(counts[0], counts[1]) else {
            return;
        };
        let other = match style {
            Indent::Tab => Indent::Space,
            Indent::Space => Indent::Tab,
        };
        let odd = self.added[idx(other)];
        if odd == 0 {
            return;
        }
        let line = self.first_added[idx(other)];
        sink.push(
            catalog::INDENTATION,
            self.rule.severity,
            Some(ctx.path),
            line,
            || {
                format!(
                    "{odd} added line(s) indented with {}; the file uses {}",
                    name(other),
                    name(style)
                )
            },
        );
    }
}
