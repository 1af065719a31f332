//! Edits to the test harness: files and settings that change how tests are collected, run or
//! reported (`conftest.py`, `[tool:pytest]`, `[[test]]` targets, `scripts.test`, …), as listed
//! by [`HarnessFiles`]. A patch that touches them can make failing tests report a pass, so
//! graders put them back; the gate says so before anyone relies on the patch's test results.
//!
//! A whole harness file counts on any change. For a shared file (`setup.cfg`, `pyproject.toml`,
//! `Cargo.toml`, `package.json`, …) only the protected part counts, and a diff shows only part
//! of the file: each line of both sides is placed in its section, table or key path by
//! following the file from the top, with the unchanged stretches between hunks read from the
//! base content when the rule is given it. The finding fires when the lines that lie in a
//! protected part differ between the two sides (ignoring whitespace and trailing commas), so
//! re-indenting or adding a sibling key after `"test"` is not an edit, while a header renamed
//! into a protected table is, for every line it drags in.
//!
//! Limits, because a diff is not the file:
//! - without the base content, a hunk that does not start at the file's first line is read
//!   from an unknown place until a header in it says where it is (INI, TOML), or not at all
//!   (JSON);
//! - a line is placed by its own text: a TOML header or key inside a multi-line string or
//!   array is taken at face value, and the continuation lines of a multi-line value belong to
//!   a protected part only through their table (`[tool.pytest.ini_options]`), not through
//!   their key (`test = [` at the top level);
//! - a binary diff, a symbolic link, or a move or copy whose content the rule cannot read is
//!   reported without looking inside.
//!
//! Grading does not rely on any of this: it restores the parts from the real files
//! ([`HarnessFiles::restore`]).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::{CompileError, FileCtx, LineRule, Toggle};
use crate::conventions::catalog;
use crate::conventions::config::{RuleToggle, Severity};
use crate::conventions::diff::{DiffLine, FileDiff, FileStatus, LineKind};
use crate::conventions::harness_files::{
    ini_header, ini_ignored, ini_opens, parse_toml, py_lines, py_space, toml_get, Format,
    HarnessFiles, HarnessKind, TableFile, MAX_PARSED,
};
use crate::conventions::report::Sink;

const WHY: &str = "it changes how tests are collected or reported; graders restore it";

/// Containers deeper than this lose the JSON reader its place (nothing protected lies there).
const MAX_JSON_DEPTH: usize = 512;
/// Strings longer than this are not kept whole: no protected key is that long.
const MAX_JSON_STRING: usize = 1024;

pub(crate) struct HarnessRule {
    toggle: Toggle,
    files: HarnessFiles,
}

impl HarnessRule {
    pub fn compile(cfg: &RuleToggle) -> Result<HarnessRule, CompileError> {
        Ok(HarnessRule {
            toggle: Toggle::compile(
                "conventions.harness_files.exclude glob",
                cfg,
                catalog::HARNESS_EDITED,
            )?,
            files: HarnessFiles::default(),
        })
    }
}

/// Whole harness files: any change to one, at either end of a rename, counts.
pub(crate) fn check_whole(file: &FileDiff, rule: &HarnessRule, sink: &mut Sink) {
    if rule.toggle.severity == Severity::Off {
        return;
    }
    for p in file.paths() {
        if rule.toggle.exclude.is_match(p) {
            continue;
        }
        if let Some(pattern) = rule.files.whole_match(p) {
            let verb = super::paths::verb(file, p);
            sink.push(
                catalog::HARNESS_EDITED,
                rule.toggle.severity,
                Some(p),
                None,
                || format!("{verb} test-harness file `{p}` (matches `{pattern}`): {WHY}"),
            );
            return;
        }
    }
}

// ---- where a line sits, one side of the diff at a time ----

/// An INI side: the protected section the reader is in, if any.
/// A TOML side: the table the reader is in.
/// A JSON side: the reader's place in the document.
#[derive(Debug, Clone, PartialEq)]
enum Side {
    Ini(Option<&'static str>),
    Toml(Vec<String>),
    Json(JsonScan),
}

impl Side {
    fn top(format: Format) -> Side {
        match format {
            Format::Ini => Side::Ini(None),
            Format::Toml => Side::Toml(Vec::new()),
            Format::Json => Side::Json(JsonScan::default()),
        }
    }

    /// Reads one line: moves the reader on and says which protected part the line is in.
    /// With `want` false only the reader moves (TOML key lines are not parsed).
    fn step(
        &mut self,
        parts: &'static [&'static str],
        text: &[u8],
        want: bool,
    ) -> Option<&'static str> {
        match self {
            Side::Ini(section) => ini_step(section, parts, text),
            Side::Toml(table) => toml_step(table, parts, text, want),
            Side::Json(scan) => scan.line(parts, text),
        }
    }
}

fn ini_step(
    section: &mut Option<&'static str>,
    parts: &'static [&'static str],
    text: &[u8],
) -> Option<&'static str> {
    let mut hit = None;
    // pytest's reader cuts lines where Python does, not only at `\n`.
    for l in py_lines(text) {
        let c = &text[l.start..l.content_end];
        if let Some(&p) = parts.iter().find(|p| ini_opens(c, p)) {
            *section = Some(p);
            hit = hit.or(Some(p));
        } else if ini_header(c).is_some() {
            *section = None;
        } else if !ini_ignored(c) {
            hit = hit.or(*section);
        }
    }
    hit
}

fn segments(part: &str) -> impl Iterator<Item = &str> {
    part.split('.')
}

/// Whether the key path `path` lies in protected part `part` (equal or below it).
fn within<S: AsRef<str>>(path: &[S], part: &str) -> bool {
    let n = segments(part).count();
    path.len() >= n && segments(part).zip(path).all(|(a, b)| a == b.as_ref())
}

/// The rest of `part` below `path`, when `path` is a strict prefix of it.
fn below<'p>(path: &[String], part: &'p str) -> Option<Vec<&'p str>> {
    let segs: Vec<&str> = segments(part).collect();
    (segs.len() > path.len() && segs.iter().zip(path).all(|(a, b)| a == b))
        .then(|| segs[path.len()..].to_vec())
}

fn toml_step(
    table: &mut Vec<String>,
    parts: &'static [&'static str],
    text: &[u8],
    want: bool,
) -> Option<&'static str> {
    let s = String::from_utf8_lossy(text);
    let t = s.trim_matches(py_space);
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    if t.starts_with('[') {
        if let Some(path) = toml_header(t) {
            *table = path;
            return parts.iter().copied().find(|p| within(table, p));
        }
    }
    // Inside a protected table every line is part of it, continuation lines included.
    if let Some(&p) = parts.iter().find(|p| within(table, p)) {
        return Some(p);
    }
    if !want {
        return None;
    }
    let candidates: Vec<(&'static str, Vec<&str>)> = parts
        .iter()
        .filter_map(|&p| below(table, p).map(|rest| (p, rest)))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    // A key line (dotted keys and inline tables included) read by the TOML parser; a line
    // that opens a multi-line value is read by its key alone.
    let keys = parse_toml(t.as_bytes()).or_else(|| {
        let key = key_text(t)?;
        parse_toml(format!("{key} = 0").as_bytes())
    })?;
    candidates
        .into_iter()
        .find(|(_, rest)| toml_get(&keys, rest).is_some())
        .map(|(p, _)| p)
}

/// The table a header line opens, read by the TOML parser (so quoted and escaped keys are
/// what TOML says they are); `None` when the line is not a header.
fn toml_header(line: &str) -> Option<Vec<String>> {
    let doc = parse_toml(line.as_bytes())?;
    let mut path = Vec::new();
    let mut cur = &doc;
    while cur.len() == 1 {
        let (k, v) = cur.iter().next()?;
        path.push(k.clone());
        cur = match v {
            toml::Value::Table(t) => t,
            toml::Value::Array(a) => match a.as_slice() {
                [toml::Value::Table(t)] if t.is_empty() => break,
                _ => return None,
            },
            // `[` began an inline array on a key line, not a header.
            _ => return None,
        };
    }
    (!path.is_empty()).then_some(path)
}

/// The key of a `key = value` line: the text before the first `=` outside quotes.
fn key_text(line: &str) -> Option<&str> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '=') => return Some(line[..i].trim()).filter(|k| !k.is_empty()),
            _ => {}
        }
        escaped = false;
    }
    None
}

/// A streaming reader of JSON that knows, at each byte, the chain of object keys it is under.
#[derive(Debug, Clone, Default, PartialEq)]
struct JsonScan {
    /// Open containers: whether each is an object, and the key it sits under (`None` for the
    /// root and for array elements).
    stack: Vec<(bool, Option<String>)>,
    in_string: bool,
    escaped: bool,
    /// The string being read, raw (escapes kept), up to [`MAX_JSON_STRING`] bytes.
    buf: Vec<u8>,
    overlong: bool,
    /// A finished string in key position, waiting for its `:`.
    pending: Option<String>,
    /// The key whose value comes next.
    key: Option<String>,
    expect_key: bool,
    /// The protected part the innermost open container lies in.
    inside: Option<&'static str>,
    /// Nested too deep to follow: nothing is placed any more.
    lost: bool,
}

impl JsonScan {
    fn in_object(&self) -> bool {
        self.stack.last().is_some_and(|(obj, _)| *obj)
    }

    /// The protected part of the innermost open container, or of its member `key`. Below an
    /// array element only the keys above the array count (its members have no key path).
    fn locate(&self, parts: &'static [&'static str], key: Option<&str>) -> Option<&'static str> {
        // A package.json is an object; keys under any other root are not its keys.
        let (root, below) = self.stack.split_first()?;
        if !root.0 {
            return None;
        }
        let mut path: Vec<&str> = below.iter().map_while(|(_, k)| k.as_deref()).collect();
        if path.len() == below.len() {
            path.extend(key);
        }
        parts.iter().copied().find(|p| within(&path, p))
    }

    fn line(&mut self, parts: &'static [&'static str], text: &[u8]) -> Option<&'static str> {
        let mut hit = None;
        for &b in text {
            if self.lost {
                return None;
            }
            if self.in_string {
                self.string_byte(b);
                continue;
            }
            if b.is_ascii_whitespace() {
                continue;
            }
            // Any byte inside a protected object or array belongs to it.
            hit = hit.or(self.inside);
            match b {
                b'"' => {
                    self.in_string = true;
                    self.escaped = false;
                    self.buf.clear();
                    self.overlong = false;
                }
                b':' => {
                    self.key = self.pending.take();
                    self.expect_key = false;
                    hit = hit.or_else(|| self.locate(parts, self.key.as_deref()));
                }
                b'{' | b'[' => {
                    if self.stack.len() >= MAX_JSON_DEPTH {
                        self.lost = true;
                        return hit;
                    }
                    let key = if self.in_object() {
                        self.key.take()
                    } else {
                        None
                    };
                    self.stack.push((b == b'{', key));
                    self.expect_key = b == b'{';
                    self.inside = self.locate(parts, None);
                    hit = hit.or(self.inside);
                }
                b'}' | b']' => {
                    self.stack.pop();
                    self.inside = self.locate(parts, None);
                    self.expect_key = false;
                    self.key = None;
                }
                b',' => {
                    self.expect_key = self.in_object();
                    self.key = None;
                }
                _ => {}
            }
        }
        hit
    }

    fn string_byte(&mut self, b: u8) {
        if self.escaped {
            self.escaped = false;
        } else if b == b'\\' {
            self.escaped = true;
        } else if b == b'"' {
            self.in_string = false;
            if self.expect_key && self.in_object() {
                self.pending = (!self.overlong).then(|| decode_json_string(&self.buf));
            }
            return;
        }
        if self.buf.len() < MAX_JSON_STRING {
            self.buf.push(b);
        } else {
            self.overlong = true;
        }
    }
}

/// A key's text with its escapes decoded (`"\u0074est"` is `test`).
fn decode_json_string(raw: &[u8]) -> String {
    if !raw.contains(&b'\\') {
        return String::from_utf8_lossy(raw).into_owned();
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice(&quoted).unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned())
}

// ---- the rule over a file's hunks ----

type Digest32 = [u8; 32];

/// The lines of one protected part on each side, as digests of their normalised text.
#[derive(Default)]
struct PartLines {
    old: Vec<Digest32>,
    new: Vec<Digest32>,
    /// Where the first of them is, in the new file.
    first: Option<u32>,
}

/// Protected lines of a shared file, on both sides of the diff.
pub(crate) struct HarnessLines<'a> {
    rule: &'a HarnessRule,
    spec: Option<&'static TableFile>,
    /// Each side's reader; `None` while its place in the file is unknown.
    old: Option<Side>,
    new: Option<Side>,
    /// Line ranges of the base content, when the rule has it.
    base_lines: Option<Vec<(usize, usize)>>,
    /// The next base line (1-based) the old side has not read.
    base_pos: u32,
    /// Where in the new file the next line goes, for a removed line's location.
    next_new: u32,
    lines: BTreeMap<&'static str, PartLines>,
    /// Why the change is reported without reading it.
    unread: Option<String>,
}

impl<'a> HarnessLines<'a> {
    /// Reads a line both sides have: the protected part each side puts it in, when the two
    /// differ. A side whose place is unknown says nothing either way.
    fn step_both(
        old: &mut Option<Side>,
        new: &mut Option<Side>,
        parts: &'static [&'static str],
        text: &[u8],
    ) -> Option<(Option<&'static str>, Option<&'static str>)> {
        let po = old.as_mut().and_then(|o| o.step(parts, text, true));
        let pn = new.as_mut().and_then(|n| n.step(parts, text, true));
        (po != pn && old.is_some() && new.is_some()).then_some((po, pn))
    }

    pub fn new(rule: &'a HarnessRule) -> Self {
        HarnessLines {
            rule,
            spec: None,
            old: None,
            new: None,
            base_lines: None,
            base_pos: 1,
            next_new: 1,
            lines: BTreeMap::new(),
            unread: None,
        }
    }

    fn record(&mut self, part: &'static str, text: &[u8], new_side: bool, line: Option<u32>) {
        let s = String::from_utf8_lossy(text);
        // Only what the file's reader would see differently counts: in INI an indented line
        // continues a value, so only trailing whitespace is noise; a JSON member's trailing
        // comma comes and goes with its siblings.
        let norm = match self.spec.map(|s| s.format) {
            Some(Format::Ini) => s.trim_end_matches(py_space),
            Some(Format::Json) => s
                .trim_matches(py_space)
                .trim_end_matches(',')
                .trim_end_matches(py_space),
            _ => s.trim_matches(py_space),
        };
        let digest: Digest32 = Sha256::digest(norm.as_bytes()).into();
        let entry = self.lines.entry(part).or_default();
        if new_side {
            entry.new.push(digest);
        } else {
            entry.old.push(digest);
        }
        entry.first = entry.first.or(line);
    }

    /// Reads unchanged base lines `[base_pos, until)` on both sides. Where the two readers
    /// are in the same place the lines mean the same on both sides and only one reader needs
    /// to move; where they are not (a header above was renamed), each line's part is compared.
    fn read_base(&mut self, ctx: &FileCtx, until: Option<u32>) {
        let Some(spec) = self.spec else { return };
        let (Some(base), Some(lines)) = (ctx.base(), self.base_lines.as_ref()) else {
            if until.is_some_and(|u| u > self.base_pos) {
                self.old = None;
                self.new = None;
            }
            return;
        };
        let from = self.base_pos.max(1) as usize - 1;
        let to = until.map_or(lines.len(), |u| (u.max(1) as usize - 1).min(lines.len()));
        if from >= to {
            return;
        }
        let same = self.old == self.new;
        let mut hits = Vec::new();
        for (i, &(s, e)) in lines[from..to].iter().enumerate() {
            let text = &base[s..e];
            if same {
                if let Some(old) = self.old.as_mut() {
                    old.step(spec.parts, text, false);
                }
                continue;
            }
            if let Some((po, pn)) = Self::step_both(&mut self.old, &mut self.new, spec.parts, text)
            {
                hits.push((po, pn, s, e, (from + i) as u32 + 1));
            }
        }
        if same {
            self.new = self.old.clone();
        }
        let shift = i64::from(self.next_new) - i64::from(self.base_pos);
        for (po, pn, s, e, old_no) in hits {
            let text = base[s..e].to_vec();
            let new_no = u32::try_from(i64::from(old_no) + shift).ok();
            if let Some(p) = po {
                self.record(p, &text, false, new_no);
            }
            if let Some(p) = pn {
                self.record(p, &text, true, new_no);
            }
        }
        let read = (to - from) as u32;
        self.base_pos = self.base_pos.saturating_add(read);
        self.next_new = self.next_new.saturating_add(read);
    }

    fn enter_hunk(&mut self, ctx: &FileCtx, old_start: u32, new_start: u32) {
        let hunk = ctx
            .file
            .hunks
            .iter()
            .find(|h| h.old_start == old_start && h.new_start == new_start);
        // A hunk that removes nothing inserts after line `old_start`.
        let first_old = match hunk {
            Some(h) if h.old_count == 0 => old_start.saturating_add(1),
            _ => old_start.max(1),
        };
        self.read_base(ctx, Some(first_old));
        self.base_pos = first_old;
        self.next_new = new_start.max(1);
    }
}

impl LineRule for HarnessLines<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        *self = HarnessLines::new(self.rule);
        let rule = self.rule;
        if rule.toggle.severity == Severity::Off
            || ctx.file.paths().any(|p| {
                rule.toggle.exclude.is_match(p)
                    || matches!(rule.files.kind(p), Some(HarnessKind::Whole))
            })
        {
            return false;
        }
        let new_spec = ctx
            .file
            .new_path
            .as_deref()
            .and_then(|p| rule.files.table(p));
        let old_spec = ctx
            .file
            .old_path
            .as_deref()
            .and_then(|p| rule.files.table(p));
        let Some(spec) = new_spec.or(old_spec) else {
            return false;
        };
        self.spec = Some(spec);
        self.old = Some(Side::top(spec.format));
        self.new = Some(Side::top(spec.format));
        self.base_lines = ctx.base().filter(|b| b.len() <= MAX_PARSED).map(|b| {
            let mut out = Vec::new();
            let mut start = 0;
            for (i, _) in b.iter().enumerate().filter(|(_, &c)| c == b'\n') {
                out.push((start, i));
                start = i + 1;
            }
            if start < b.len() {
                out.push((start, b.len()));
            }
            out
        });
        let what = spec
            .parts
            .iter()
            .map(|p| format!("`{}`", spec.display(p)))
            .collect::<Vec<_>>()
            .join(", ");
        let file = ctx.file;
        if file.binary {
            self.unread = Some(format!(
                "changes `{}` as a binary file, so {what} cannot be checked",
                ctx.path
            ));
        } else if file.is_symlink() || file.old_mode.as_deref() == Some("120000") {
            self.unread = Some(format!(
                "makes `{}` a symbolic link or changes one, so {what} may come from elsewhere",
                ctx.path
            ));
        } else if let (Some(old), Some(new)) = (&file.old_path, &file.new_path) {
            // A move takes the protected parts away from where they were read; a copy puts
            // them where they may be read first.
            let moved =
                old != new && matches!(file.status, FileStatus::Renamed | FileStatus::Copied);
            if moved {
                let ends: Vec<&'static TableFile> = match file.status {
                    FileStatus::Copied => new_spec.into_iter().collect(),
                    _ => old_spec.into_iter().chain(new_spec).collect(),
                };
                let carries = match ctx.base() {
                    Some(b) => ends.iter().any(|t| has_parts(t, b)),
                    None => !ends.is_empty(),
                };
                if carries {
                    let verb = if file.status == FileStatus::Copied {
                        "copies"
                    } else {
                        "moves"
                    };
                    self.unread = Some(format!("{verb} `{old}` to `{new}` with {what}"));
                }
            }
        }
        true
    }

    fn line(&mut self, ctx: &FileCtx, line: &DiffLine, _: &mut Sink) {
        let Some(spec) = self.spec else { return };
        if let Some((old_start, new_start)) = line.hunk_start {
            self.enter_hunk(ctx, old_start, new_start);
        }
        let text = line.text();
        let deleted = ctx.file.status == FileStatus::Deleted;
        match line.kind {
            LineKind::Added => {
                if let Some(p) = self
                    .new
                    .as_mut()
                    .and_then(|n| n.step(spec.parts, text, true))
                {
                    self.record(p, text, true, line.new_line);
                }
            }
            LineKind::Removed => {
                let at = if deleted {
                    line.old_line
                } else {
                    Some(self.next_new)
                };
                if let Some(p) = self
                    .old
                    .as_mut()
                    .and_then(|o| o.step(spec.parts, text, true))
                {
                    self.record(p, text, false, at);
                }
            }
            LineKind::Context => {
                if let Some((po, pn)) =
                    Self::step_both(&mut self.old, &mut self.new, spec.parts, text)
                {
                    if let Some(p) = po {
                        self.record(p, text, false, line.new_line);
                    }
                    if let Some(p) = pn {
                        self.record(p, text, true, line.new_line);
                    }
                }
            }
        }
        if let Some(o) = line.old_line {
            self.base_pos = o.saturating_add(1);
        }
        if let Some(n) = line.new_line {
            self.next_new = n.saturating_add(1);
        }
    }

    fn end(&mut self, ctx: &FileCtx, sink: &mut Sink) {
        let Some(spec) = self.spec else { return };
        // Below the last hunk, lines may have changed part if a header above them did.
        if self.old != self.new && self.old.is_some() && self.new.is_some() {
            self.read_base(ctx, None);
        }
        let mut changed = Vec::new();
        let mut first: Option<u32> = None;
        for (part, lines) in self.lines.iter_mut() {
            lines.old.sort_unstable();
            lines.new.sort_unstable();
            if lines.old != lines.new {
                changed.push(format!("`{}`", spec.display(part)));
                first = match (first, lines.first) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        let path = ctx.path;
        let message = match (&self.unread, changed.is_empty()) {
            (Some(why), _) => format!("{why}: {WHY}"),
            (None, false) => format!("edits {} in `{path}`: {WHY}", changed.join(", ")),
            (None, true) => return,
        };
        let line = if self.unread.is_some() { None } else { first };
        sink.push(
            catalog::HARNESS_EDITED,
            self.rule.toggle.severity,
            Some(path),
            line,
            || message,
        );
    }
}

/// Whether content read as `table`'s format holds any of its protected parts.
fn has_parts(table: &TableFile, content: &[u8]) -> bool {
    if content.len() > MAX_PARSED {
        return true;
    }
    match table.format {
        Format::Ini => py_lines(content).iter().any(|l| {
            table
                .parts
                .iter()
                .any(|p| ini_opens(&content[l.start..l.content_end], p))
        }),
        Format::Toml => match parse_toml(content) {
            Some(doc) => table
                .parts
                .iter()
                .any(|p| toml_get(&doc, &p.split('.').collect::<Vec<_>>()).is_some()),
            None => false,
        },
        Format::Json => {
            let mut scan = JsonScan::default();
            let mut found = false;
            for line in content.split(|&b| b == b'\n') {
                found |= scan.line(table.parts, line).is_some();
            }
            found
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts_of(path: &str) -> &'static [&'static str] {
        HarnessFiles::default()
            .table(path)
            .map(|t| t.parts)
            .unwrap()
    }

    /// Each line of a file with the part a reader from the top places it in.
    fn placed(path: &str, format: Format, text: &str) -> Vec<Option<&'static str>> {
        let parts = parts_of(path);
        let mut side = Side::top(format);
        text.lines()
            .map(|l| side.step(parts, l.as_bytes(), true))
            .collect()
    }

    #[test]
    fn ini_lines_are_placed() {
        let text = "[metadata]\nname = x\n[tool:pytest]\naddopts = -q\n# comment\n\n  -p x\n[flake8]\nx = 1\n";
        let p = Some("tool:pytest");
        assert_eq!(
            placed("setup.cfg", Format::Ini, text),
            [None, None, p, p, None, None, p, None, None]
        );
    }

    #[test]
    fn toml_lines_are_placed() {
        let text = "tool.pytest.ini_options.addopts = \"-p x\"\nname = 1\n[project]\nname = \"x\"\nentry-points.pytest11 = { a = \"b\" }\n[project.entry-points]\nconsole_scripts = { a = \"b\" }\npytest11 = { a = \"b\" }\n[tool.\"pytest\".ini_options]\naddopts = [\n  \"-p\",\n]\n[tool]\nruff = {}\npytest = { ini_options = {} }\n";
        let (t, e) = (Some("tool.pytest"), Some("project.entry-points.pytest11"));
        assert_eq!(
            placed("pyproject.toml", Format::Toml, text),
            [t, None, None, None, e, None, None, e, t, t, t, t, None, None, t]
        );
        let text = "[lib]\nname = \"x\"\nharness = false\n[[test]]\nname = \"it\"\n[[bench]]\nharness = false\n";
        let (h, t) = (Some("lib.harness"), Some("test"));
        assert_eq!(
            placed("Cargo.toml", Format::Toml, text),
            [None, None, h, t, t, None, None]
        );
    }

    #[test]
    fn json_lines_are_placed() {
        let text = "{\n  \"name\": \"x\",\n  \"scripts\": {\n    \"build\": \"tsc\",\n    \"test\": \"jest\",\n    \"\\u0070retest\": \"x\"\n  },\n  \"jest\": {\n    \"reporters\": [\"r\"]\n  },\n  \"devDependencies\": { \"jest\": \"^29\" }\n}\n";
        let (t, pre, j) = (Some("scripts.test"), Some("scripts.pretest"), Some("jest"));
        assert_eq!(
            placed("package.json", Format::Json, text),
            [None, None, None, None, t, pre, None, j, j, j, None, None]
        );
    }

    #[test]
    fn key_text_skips_quoted_equals() {
        assert_eq!(key_text("a.\"b=c\" = ["), Some("a.\"b=c\""));
        assert_eq!(key_text("'x=y'.z=1"), Some("'x=y'.z"));
        assert_eq!(key_text("\"a\\\"=\" = 1"), Some("\"a\\\"=\""));
        assert_eq!(key_text("no equals"), None);
    }
}
