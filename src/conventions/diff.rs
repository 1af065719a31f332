//! A unified diff parser for git's patch format (and plain `diff -u` output).
//!
//! It works on bytes, because patches carry whatever the files carry: Latin-1
//! source, CRLF endings, binary junk. It reads one line at a time with no
//! look-ahead beyond the current line, so it can be fed a stream, and it keeps
//! only per-file metadata plus the byte ranges of each hunk: the lines
//! themselves are read back from the input on demand, so a 50 MB patch costs
//! little more memory than the 50 MB it occupies.
//!
//! It is tolerant: renames, copies, mode changes, binary markers,
//! `\ No newline at end of file`, quoted and non-UTF-8 paths, e-mail
//! preambles from `git format-patch`, hunks whose counts are wrong. What it
//! cannot make sense of becomes a [`DiffNote`], never a panic.

use serde::Serialize;

use super::path::{self, PathIssue};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Added,
    Deleted,
    Modified,
    Renamed,
    Copied,
}

/// One hunk: its header numbers and where its lines sit in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hunk {
    pub old_start: u32,
    pub old_count: u32,
    pub new_start: u32,
    pub new_count: u32,
    body_start: usize,
    body_end: usize,
}

/// Everything the patch says about one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileDiff {
    /// Path before the change; `None` for an added file.
    pub old_path: Option<String>,
    /// Path after the change; `None` for a deleted file.
    pub new_path: Option<String>,
    pub status: FileStatus,
    pub old_mode: Option<String>,
    pub new_mode: Option<String>,
    pub similarity: Option<u32>,
    pub binary: bool,
    pub added: u64,
    pub removed: u64,
    pub path_issues: Vec<PathIssue>,
    #[serde(skip)]
    pub hunks: Vec<Hunk>,
}

impl FileDiff {
    /// The path a reviewer would name: the new one, or the old one when the
    /// file is deleted.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or(".")
    }

    /// Both paths when they differ (a rename touches two places).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        let old = match (&self.old_path, &self.new_path) {
            (Some(o), Some(n)) if o != n => Some(o.as_str()),
            (Some(o), None) => Some(o.as_str()),
            _ => None,
        };
        self.new_path.as_deref().into_iter().chain(old)
    }

    pub fn is_symlink(&self) -> bool {
        self.new_mode.as_deref() == Some("120000")
    }

    pub fn lines_changed(&self) -> u64 {
        self.added + self.removed
    }
}

/// Something the parser skipped or repaired, with the input line it was on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffNote {
    pub line: u64,
    pub message: String,
}

/// Notes beyond this many are counted, not kept.
const MAX_NOTES: usize = 100;

/// A parsed patch. It borrows the input so hunk lines are never copied.
#[derive(Debug, Clone, Serialize)]
pub struct ParsedDiff<'a> {
    #[serde(skip)]
    input: &'a [u8],
    pub files: Vec<FileDiff>,
    pub notes: Vec<DiffNote>,
    pub notes_dropped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Context,
    Added,
    Removed,
}

/// One line of a hunk, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub struct DiffLine<'a> {
    pub kind: LineKind,
    /// Line number in the old file (context and removed lines).
    pub old_line: Option<u32>,
    /// Line number in the new file (context and added lines).
    pub new_line: Option<u32>,
    /// The content without the `+`/`-`/` ` prefix and without `\n`; a `\r`
    /// from a CRLF file is kept so line-ending rules can see it.
    pub raw: &'a [u8],
    /// Followed by `\ No newline at end of file`.
    pub no_newline: bool,
    /// On the first line of each hunk: the hunk's (old_start, new_start).
    pub hunk_start: Option<(u32, u32)>,
}

impl<'a> DiffLine<'a> {
    /// The content without a trailing `\r`.
    pub fn text(&self) -> &'a [u8] {
        self.raw.strip_suffix(b"\r").unwrap_or(self.raw)
    }

    pub fn has_cr(&self) -> bool {
        self.raw.last() == Some(&b'\r')
    }
}

impl<'a> ParsedDiff<'a> {
    pub fn input(&self) -> &'a [u8] {
        self.input
    }

    /// The hunk lines of one file, in order.
    pub fn lines(&self, file: &'a FileDiff) -> Lines<'a> {
        Lines::over(self.input, &file.hunks)
    }

    pub fn total_added(&self) -> u64 {
        self.files.iter().map(|f| f.added).sum()
    }

    pub fn total_removed(&self) -> u64 {
        self.files.iter().map(|f| f.removed).sum()
    }

    /// Where a line of the old file ends up in the new one: `None` when the
    /// patch removed it. Lines outside every hunk move by the hunks above.
    pub fn map_old_line(&self, file: &FileDiff, old_line: u32) -> Option<u32> {
        let mut shift: i64 = 0;
        for h in &file.hunks {
            let old_end = h.old_start.saturating_add(h.old_count);
            if old_line < h.old_start || (h.old_count == 0 && old_line <= h.old_start) {
                break;
            }
            if old_line < old_end {
                // Inside the hunk: walk it.
                for l in Lines::over(self.input, std::slice::from_ref(h)) {
                    if l.old_line == Some(old_line) {
                        return l.new_line;
                    }
                }
                return None;
            }
            shift += i64::from(h.new_count) - i64::from(h.old_count);
        }
        u32::try_from(i64::from(old_line) + shift).ok()
    }
}

/// Iterator over a file's hunk lines; see [`ParsedDiff::lines`].
pub struct Lines<'a> {
    input: &'a [u8],
    hunks: &'a [Hunk],
    next_hunk: usize,
    pos: usize,
    end: usize,
    old_no: u32,
    new_no: u32,
    at_hunk_start: bool,
}

impl<'a> Lines<'a> {
    /// The lines of `hunks`, from the first.
    fn over(input: &'a [u8], hunks: &'a [Hunk]) -> Lines<'a> {
        Lines {
            input,
            hunks,
            next_hunk: 0,
            pos: 0,
            end: 0,
            old_no: 0,
            new_no: 0,
            at_hunk_start: false,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = DiffLine<'a>;

    fn next(&mut self) -> Option<DiffLine<'a>> {
        loop {
            if self.pos >= self.end {
                let h = self.hunks.get(self.next_hunk)?;
                self.next_hunk += 1;
                self.pos = h.body_start;
                self.end = h.body_end;
                self.old_no = h.old_start;
                self.new_no = h.new_start;
                self.at_hunk_start = true;
                continue;
            }
            let (line, next) = take_line(self.input, self.pos, self.end);
            self.pos = next;
            let (kind, raw) = match line.first() {
                Some(b'+') => (LineKind::Added, &line[1..]),
                Some(b'-') => (LineKind::Removed, &line[1..]),
                Some(b' ') => (LineKind::Context, &line[1..]),
                // A blank line inside a hunk is a context line whose leading
                // space was stripped by a mailer or an editor.
                None => (LineKind::Context, line),
                Some(b'\r') if line.len() == 1 => (LineKind::Context, line),
                _ => continue,
            };
            let mut no_newline = false;
            if self.pos < self.end && self.input[self.pos] == b'\\' {
                no_newline = true;
                let (_, after) = take_line(self.input, self.pos, self.end);
                self.pos = after;
            }
            let (old_line, new_line) = match kind {
                LineKind::Added => {
                    let n = self.new_no;
                    self.new_no = self.new_no.saturating_add(1);
                    (None, Some(n))
                }
                LineKind::Removed => {
                    let o = self.old_no;
                    self.old_no = self.old_no.saturating_add(1);
                    (Some(o), None)
                }
                LineKind::Context => {
                    let (o, n) = (self.old_no, self.new_no);
                    self.old_no = self.old_no.saturating_add(1);
                    self.new_no = self.new_no.saturating_add(1);
                    (Some(o), Some(n))
                }
            };
            let hunk_start = if self.at_hunk_start {
                self.at_hunk_start = false;
                let h = &self.hunks[self.next_hunk - 1];
                Some((h.old_start, h.new_start))
            } else {
                None
            };
            return Some(DiffLine {
                kind,
                old_line,
                new_line,
                raw,
                no_newline,
                hunk_start,
            });
        }
    }
}

/// The line starting at `pos` (without `\n`) and where the next one starts.
fn take_line(input: &[u8], pos: usize, end: usize) -> (&[u8], usize) {
    let rest = &input[pos..end];
    match find_newline(rest) {
        Some(i) => (&rest[..i], pos + i + 1),
        None => (rest, end),
    }
}

/// Finds the next `\n`. This runs over every byte of the patch; the regex
/// engine's literal search is vectorised and compiled with optimisations
/// even in a debug build of this crate, where a hand-written loop is slow.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    static NEWLINE: std::sync::OnceLock<regex::bytes::Regex> = std::sync::OnceLock::new();
    NEWLINE
        // cannot fail: a one-character literal pattern.
        .get_or_init(|| regex::bytes::Regex::new("\n").expect("literal pattern"))
        .find(bytes)
        .map(|m| m.start())
}

/// Parses a whole patch held in memory.
pub fn parse(input: &[u8]) -> ParsedDiff<'_> {
    let mut parser = Parser::default();
    let mut pos = 0;
    while pos < input.len() {
        let (line, next) = take_line(input, pos, input.len());
        parser.feed(line, pos, next);
        pos = next;
    }
    let (files, notes, notes_dropped) = parser.finish();
    ParsedDiff {
        input,
        files,
        notes,
        notes_dropped,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Before the first file, or after a file whose format we skip.
    #[default]
    Outside,
    /// In a file's extended header lines (`index`, `rename from`, `---`).
    Header,
    InHunk {
        old_left: u32,
        new_left: u32,
    },
    /// After a hunk of a file: another hunk may follow.
    BetweenHunks,
    /// Inside a `GIT binary patch` payload or a combined diff we skip.
    Skipping,
}

#[derive(Debug, Default)]
struct FileBuilder {
    git: bool,
    header_old: Option<Vec<u8>>,
    header_new: Option<Vec<u8>>,
    minus: Option<Vec<u8>>,
    plus: Option<Vec<u8>>,
    rename_from: Option<Vec<u8>>,
    rename_to: Option<Vec<u8>>,
    copy_from: Option<Vec<u8>>,
    copy_to: Option<Vec<u8>>,
    new_file: bool,
    deleted: bool,
    old_mode: Option<String>,
    new_mode: Option<String>,
    similarity: Option<u32>,
    binary: bool,
    added: u64,
    removed: u64,
    hunks: Vec<Hunk>,
}

#[derive(Debug, Default)]
struct Parser {
    state: State,
    line_no: u64,
    current: Option<FileBuilder>,
    /// A `--- path` line seen outside a git header: a plain unified diff
    /// starts if `+++ path` follows.
    pending_minus: Option<Vec<u8>>,
    files: Vec<FileDiff>,
    notes: Vec<DiffNote>,
    notes_dropped: u64,
}

impl Parser {
    fn note(&mut self, message: impl Into<String>) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(DiffNote {
                line: self.line_no,
                message: message.into(),
            });
        } else {
            self.notes_dropped += 1;
        }
    }

    /// `line` excludes its `\n`; `start`/`next` are its offset and the offset
    /// of the following line.
    fn feed(&mut self, line: &[u8], start: usize, next: usize) {
        self.line_no += 1;
        if line.starts_with(b"diff --git ") {
            self.finish_file();
            self.start_git_file(trim_cr(&line[11..]));
            return;
        }
        if line.starts_with(b"diff --cc ") || line.starts_with(b"diff --combined ") {
            self.finish_file();
            self.note("combined (merge) diff skipped: score the merge's first-parent diff instead");
            self.state = State::Skipping;
            return;
        }
        match self.state {
            State::InHunk { old_left, new_left } => {
                if old_left == 0 && new_left == 0 {
                    self.state = State::BetweenHunks;
                    self.feed_between(line, start, next);
                    return;
                }
                let (old_dec, new_dec, counted) = match line.first() {
                    Some(b' ') => (1, 1, true),
                    None => (1, 1, true),
                    Some(b'\r') if line.len() == 1 => (1, 1, true),
                    Some(b'-') => (1, 0, true),
                    Some(b'+') => (0, 1, true),
                    Some(b'\\') => (0, 0, false),
                    _ => {
                        self.note("hunk ended before its header's line count");
                        self.state = State::BetweenHunks;
                        self.feed_between(line, start, next);
                        return;
                    }
                };
                // cannot fail: InHunk and Header are entered only with `current` set, which only `finish_file` clears, leaving Outside.
                let cur = self.current.as_mut().expect("a hunk belongs to a file");
                if counted {
                    if old_dec == 1 && new_dec == 0 {
                        cur.removed += 1;
                    } else if old_dec == 0 && new_dec == 1 {
                        cur.added += 1;
                    }
                }
                if let Some(h) = cur.hunks.last_mut() {
                    h.body_end = next;
                }
                self.state = State::InHunk {
                    old_left: old_left.saturating_sub(old_dec),
                    new_left: new_left.saturating_sub(new_dec),
                };
            }
            State::BetweenHunks => self.feed_between(line, start, next),
            State::Header => self.feed_header(line, next),
            State::Outside => self.feed_outside(line),
            State::Skipping => {}
        }
    }

    fn feed_outside(&mut self, line: &[u8]) {
        if let Some(rest) = line.strip_prefix(b"--- ") {
            self.pending_minus = Some(header_path(trim_cr(rest)));
        } else if let Some(rest) = line.strip_prefix(b"+++ ") {
            if let Some(minus) = self.pending_minus.take() {
                self.finish_file();
                let plus = header_path(trim_cr(rest));
                self.current = Some(FileBuilder {
                    minus: Some(minus),
                    plus: Some(plus),
                    ..FileBuilder::default()
                });
                self.state = State::Header;
            }
        } else {
            self.pending_minus = None;
        }
    }

    fn feed_between(&mut self, line: &[u8], start: usize, next: usize) {
        if line.starts_with(b"@@ ") {
            self.start_hunk(line, next);
        } else if line.first() == Some(&b'\\') {
            // `\ No newline at end of file` after the hunk's last counted line.
            if let Some(h) = self.current.as_mut().and_then(|c| c.hunks.last_mut()) {
                if h.body_end == start {
                    h.body_end = next;
                }
            }
        } else {
            // Possibly the next file of a plain unified diff, or trailing
            // text (an e-mail signature).
            self.state = State::Outside;
            self.feed_outside(line);
        }
    }

    fn feed_header(&mut self, line: &[u8], next: usize) {
        let line = trim_cr(line);
        // cannot fail: as above, Header is entered only with `current` set.
        let cur = self.current.as_mut().expect("a header belongs to a file");
        if line.starts_with(b"@@ ") {
            self.start_hunk(line, next);
        } else if let Some(rest) = line.strip_prefix(b"--- ") {
            cur.minus = Some(header_path(rest));
        } else if let Some(rest) = line.strip_prefix(b"+++ ") {
            cur.plus = Some(header_path(rest));
        } else if let Some(rest) = line.strip_prefix(b"rename from ") {
            cur.rename_from = Some(path::unquote(rest));
        } else if let Some(rest) = line.strip_prefix(b"rename to ") {
            cur.rename_to = Some(path::unquote(rest));
        } else if let Some(rest) = line.strip_prefix(b"copy from ") {
            cur.copy_from = Some(path::unquote(rest));
        } else if let Some(rest) = line.strip_prefix(b"copy to ") {
            cur.copy_to = Some(path::unquote(rest));
        } else if let Some(rest) = line.strip_prefix(b"new file mode ") {
            cur.new_file = true;
            cur.new_mode = Some(lossy(rest));
        } else if let Some(rest) = line.strip_prefix(b"deleted file mode ") {
            cur.deleted = true;
            cur.old_mode = Some(lossy(rest));
        } else if let Some(rest) = line.strip_prefix(b"old mode ") {
            cur.old_mode = Some(lossy(rest));
        } else if let Some(rest) = line.strip_prefix(b"new mode ") {
            cur.new_mode = Some(lossy(rest));
        } else if let Some(rest) = line
            .strip_prefix(b"similarity index ")
            .or_else(|| line.strip_prefix(b"dissimilarity index "))
        {
            cur.similarity = std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.trim_end_matches('%').parse().ok());
        } else if line.starts_with(b"index ") {
            // `index abc..def 100644`: the mode is the file's, unchanged.
            if let Some(mode) = line.rsplit(|&b| b == b' ').next() {
                if mode.len() == 6 && mode.iter().all(u8::is_ascii_digit) && cur.new_mode.is_none()
                {
                    cur.new_mode = Some(lossy(mode));
                    cur.old_mode.get_or_insert_with(|| lossy(mode));
                }
            }
        } else if line.starts_with(b"Binary files ") {
            cur.binary = true;
        } else if line == b"GIT binary patch" {
            cur.binary = true;
            self.state = State::Skipping;
        } else if !cur.git {
            self.note("unexpected line in a file header; skipped");
        }
    }

    fn start_git_file(&mut self, rest: &[u8]) {
        let (old, new) = split_git_header(rest);
        self.current = Some(FileBuilder {
            git: true,
            header_old: old,
            header_new: new,
            ..FileBuilder::default()
        });
        self.pending_minus = None;
        self.state = State::Header;
    }

    fn start_hunk(&mut self, line: &[u8], next: usize) {
        let Some((old_start, old_count, new_start, new_count)) = parse_hunk_header(line) else {
            self.note("malformed hunk header skipped");
            self.state = State::BetweenHunks;
            return;
        };
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        cur.hunks.push(Hunk {
            old_start,
            old_count,
            new_start,
            new_count,
            body_start: next,
            body_end: next,
        });
        self.state = State::InHunk {
            old_left: old_count,
            new_left: new_count,
        };
    }

    fn finish_file(&mut self) {
        if let Some(b) = self.current.take() {
            if let Some(f) = build_file(b) {
                self.files.push(f);
            } else {
                self.note("file header without a path skipped");
            }
        }
        self.state = State::Outside;
    }

    fn finish(mut self) -> (Vec<FileDiff>, Vec<DiffNote>, u64) {
        if let State::InHunk { old_left, new_left } = self.state {
            if old_left > 0 || new_left > 0 {
                self.note("patch ends inside a hunk (truncated?)");
            }
        }
        self.finish_file();
        (self.files, self.notes, self.notes_dropped)
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The path on a `---`/`+++` line: unquoted, without the tab and timestamp
/// that `diff -u` (and git, for names with spaces) appends.
fn header_path(rest: &[u8]) -> Vec<u8> {
    if rest.first() == Some(&b'"') {
        return path::unquote(rest);
    }
    let end = rest.iter().position(|&b| b == b'\t').unwrap_or(rest.len());
    rest[..end].to_vec()
}

/// Splits `a/x b/y` from a `diff --git` line. Names with spaces make this
/// ambiguous, so the split that gives two equal names wins, then the one at
/// ` b/`; the `---`/`+++` and `rename` lines, when present, override it.
fn split_git_header(rest: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    if let Some((first, used)) = path::parse_quoted(rest) {
        let tail = rest.get(used..).unwrap_or(&[]);
        let tail = tail.strip_prefix(b" ").unwrap_or(tail);
        return (Some(first), Some(path::unquote(tail)));
    }
    // Unquoted first name, quoted second.
    if let Some(i) = find(rest, b" \"") {
        if rest.last() == Some(&b'"') {
            if let Some((second, _)) = path::parse_quoted(&rest[i + 1..]) {
                return (Some(rest[..i].to_vec()), Some(second));
            }
        }
    }
    if rest.len() % 2 == 1 {
        let mid = rest.len() / 2;
        if rest[mid] == b' ' {
            let (a, b) = (&rest[..mid], &rest[mid + 1..]);
            let strip = |p: &[u8]| -> Vec<u8> {
                match p.iter().position(|&c| c == b'/') {
                    Some(i) => p[i + 1..].to_vec(),
                    None => p.to_vec(),
                }
            };
            if a == b || strip(a) == strip(b) {
                return (Some(a.to_vec()), Some(b.to_vec()));
            }
        }
    }
    if let Some(i) = find(rest, b" b/") {
        return (Some(rest[..i].to_vec()), Some(rest[i + 1..].to_vec()));
    }
    match rest.iter().position(|&b| b == b' ') {
        Some(i) => (Some(rest[..i].to_vec()), Some(rest[i + 1..].to_vec())),
        None => (Some(rest.to_vec()), None),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `@@ -12,5 +12,7 @@ fn context` → (12, 5, 12, 7); a missing count is 1.
fn parse_hunk_header(line: &[u8]) -> Option<(u32, u32, u32, u32)> {
    let rest = line.strip_prefix(b"@@ -")?;
    let (old, rest) = split_once(rest, b' ')?;
    let rest = rest.strip_prefix(b"+")?;
    let (new, rest) = split_once(rest, b' ')?;
    if !rest.starts_with(b"@@") {
        return None;
    }
    let (os, oc) = parse_range(old)?;
    let (ns, nc) = parse_range(new)?;
    Some((os, oc, ns, nc))
}

fn split_once(b: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&c| c == sep)?;
    Some((&b[..i], &b[i + 1..]))
}

fn parse_range(b: &[u8]) -> Option<(u32, u32)> {
    match split_once(b, b',') {
        Some((s, c)) => Some((parse_u32(s)?, parse_u32(c)?)),
        None => Some((parse_u32(b)?, 1)),
    }
}

fn parse_u32(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    u32::try_from(v).ok()
}

const DEV_NULL: &[u8] = b"/dev/null";

fn strip_prefix_component(p: &[u8], prefix: &[u8]) -> Vec<u8> {
    p.strip_prefix(prefix).unwrap_or(p).to_vec()
}

fn build_file(b: FileBuilder) -> Option<FileDiff> {
    let minus_null = b.minus.as_deref() == Some(DEV_NULL);
    let plus_null = b.plus.as_deref() == Some(DEV_NULL);

    // Decide whether `---`/`+++`/header names carry `a/`/`b/` prefixes.
    let (old_raw, new_raw): (Option<Vec<u8>>, Option<Vec<u8>>) = if b.git {
        let prefixed = b
            .header_old
            .as_deref()
            .is_some_and(|p| p.starts_with(b"a/"))
            && b.header_new
                .as_deref()
                .is_some_and(|p| p.starts_with(b"b/"));
        let unprefix = |p: &[u8], pre: &[u8]| {
            if prefixed {
                strip_prefix_component(p, pre)
            } else {
                p.to_vec()
            }
        };
        // A side's path: named by a rename or copy, else by its `---`/`+++` line (unless
        // /dev/null), else by the `diff --git` header.
        let side = |moved: &Option<Vec<u8>>,
                    copied: &Option<Vec<u8>>,
                    marker: &Option<Vec<u8>>,
                    null: bool,
                    header: &Option<Vec<u8>>,
                    pre: &[u8]| {
            moved
                .clone()
                .or(copied.clone())
                .or_else(|| {
                    marker
                        .as_deref()
                        .filter(|_| !null)
                        .map(|p| unprefix(p, pre))
                })
                .or_else(|| header.as_deref().map(|p| unprefix(p, pre)))
        };
        let old = side(
            &b.rename_from,
            &b.copy_from,
            &b.minus,
            minus_null,
            &b.header_old,
            b"a/",
        );
        let new = side(
            &b.rename_to,
            &b.copy_to,
            &b.plus,
            plus_null,
            &b.header_new,
            b"b/",
        );
        (old, new)
    } else {
        let (m, p) = (b.minus.clone()?, b.plus.clone()?);
        let (m, p) = plain_strip(&m, &p);
        (Some(m), Some(p))
    };

    let added_file = b.new_file || minus_null;
    let deleted_file = b.deleted || plus_null;
    let status = if added_file {
        FileStatus::Added
    } else if deleted_file {
        FileStatus::Deleted
    } else if b.rename_from.is_some() || b.rename_to.is_some() {
        FileStatus::Renamed
    } else if b.copy_from.is_some() || b.copy_to.is_some() {
        FileStatus::Copied
    } else {
        FileStatus::Modified
    };

    let mut issues: Vec<PathIssue> = Vec::new();
    let mut clean = |raw: Option<Vec<u8>>| -> Option<String> {
        let raw = raw?;
        let c = path::clean(&raw);
        for i in c.issues {
            if !issues.contains(&i) {
                issues.push(i);
            }
        }
        Some(c.path)
    };
    let old_path = if added_file { None } else { clean(old_raw) };
    let new_path = if deleted_file { None } else { clean(new_raw) };
    if old_path.is_none() && new_path.is_none() {
        return None;
    }
    let (old_mode, new_mode) = match status {
        FileStatus::Added => (None, b.new_mode),
        FileStatus::Deleted => (b.old_mode, None),
        _ => (b.old_mode, b.new_mode),
    };
    Some(FileDiff {
        old_path,
        new_path,
        status,
        old_mode,
        new_mode,
        similarity: b.similarity,
        binary: b.binary,
        added: b.added,
        removed: b.removed,
        path_issues: issues,
        hunks: b.hunks,
    })
}

/// For plain `diff -u` output: strip `a/`+`b/`, or a first directory that
/// the two names share the rest after (`old/src/x.c` vs `new/src/x.c`), the
/// way `patch -p1` would.
fn plain_strip(m: &[u8], p: &[u8]) -> (Vec<u8>, Vec<u8>) {
    if m == DEV_NULL || p == DEV_NULL {
        let strip = |x: &[u8]| -> Vec<u8> {
            if x == DEV_NULL {
                x.to_vec()
            } else if x.starts_with(b"a/") || x.starts_with(b"b/") {
                x[2..].to_vec()
            } else {
                x.to_vec()
            }
        };
        return (strip(m), strip(p));
    }
    if m.starts_with(b"a/") && p.starts_with(b"b/") {
        return (m[2..].to_vec(), p[2..].to_vec());
    }
    let tail = |x: &[u8]| -> Option<Vec<u8>> {
        let i = x.iter().position(|&c| c == b'/')?;
        Some(x[i + 1..].to_vec())
    };
    match (tail(m), tail(p)) {
        (Some(a), Some(b)) if a == b => (a, b),
        _ => (m.to_vec(), p.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(diff: &str) -> FileDiff {
        let d = parse(diff.as_bytes());
        assert_eq!(d.files.len(), 1, "{:?}", d.files);
        d.files.into_iter().next().unwrap()
    }

    #[test]
    fn modified_file_with_counts_and_line_numbers() {
        let text = "diff --git a/src/a.py b/src/a.py\nindex 1..2 100644\n--- a/src/a.py\n+++ b/src/a.py\n@@ -1,3 +1,4 @@ def f():\n x = 1\n-y = 2\n+y = 3\n+z = 4\n w = 5\n";
        let d = parse(text.as_bytes());
        let f = &d.files[0];
        assert_eq!(f.path(), "src/a.py");
        assert_eq!(f.status, FileStatus::Modified);
        assert_eq!((f.added, f.removed), (2, 1));
        assert_eq!(f.new_mode.as_deref(), Some("100644"));
        type Row<'a> = (LineKind, Option<u32>, Option<u32>, &'a [u8]);
        let got: Vec<Row> = d
            .lines(f)
            .map(|l| (l.kind, l.old_line, l.new_line, l.raw))
            .collect();
        assert_eq!(
            got,
            vec![
                (LineKind::Context, Some(1), Some(1), &b"x = 1"[..]),
                (LineKind::Removed, Some(2), None, &b"y = 2"[..]),
                (LineKind::Added, None, Some(2), &b"y = 3"[..]),
                (LineKind::Added, None, Some(3), &b"z = 4"[..]),
                (LineKind::Context, Some(3), Some(4), &b"w = 5"[..]),
            ]
        );
        assert_eq!(d.map_old_line(f, 3), Some(4));
        assert_eq!(d.map_old_line(f, 2), None);
        assert_eq!(d.map_old_line(f, 10), Some(11));
    }

    #[test]
    fn header_table() {
        /// (diff, old path, new path, status, binary)
        type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>, FileStatus, bool);
        let rows: &[Row] = &[
            (
                "diff --git a/x.txt b/x.txt\nnew file mode 100644\nindex 0000000..e69de29\n",
                None,
                Some("x.txt"),
                FileStatus::Added,
                false,
            ),
            (
                "diff --git a/old name.sh b/deploy/new name.sh\nsimilarity index 100%\nrename from old name.sh\nrename to deploy/new name.sh\n",
                Some("old name.sh"),
                Some("deploy/new name.sh"),
                FileStatus::Renamed,
                false,
            ),
            (
                "diff --git a/a.c b/b.c\nsimilarity index 90%\ncopy from a.c\ncopy to b.c\n--- a/a.c\n+++ b/b.c\n@@ -1 +1 @@\n-x\n+y\n",
                Some("a.c"),
                Some("b.c"),
                FileStatus::Copied,
                false,
            ),
            (
                "diff --git a/gone.rs b/gone.rs\ndeleted file mode 100644\n--- a/gone.rs\n+++ /dev/null\n@@ -1 +0,0 @@\n-fn main() {}\n",
                Some("gone.rs"),
                None,
                FileStatus::Deleted,
                false,
            ),
            (
                "diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0000000..1111111\nBinary files /dev/null and b/logo.png differ\n",
                None,
                Some("logo.png"),
                FileStatus::Added,
                true,
            ),
            (
                "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n",
                Some("run.sh"),
                Some("run.sh"),
                FileStatus::Modified,
                false,
            ),
            (
                "diff --git \"a/caf\\303\\251.txt\" \"b/caf\\303\\251.txt\"\n--- \"a/caf\\303\\251.txt\"\n+++ \"b/caf\\303\\251.txt\"\n@@ -1 +1 @@\n-a\n+b\n",
                Some("café.txt"),
                Some("café.txt"),
                FileStatus::Modified,
                false,
            ),
            (
                "--- a/plain.c\t2024-01-01 00:00:00\n+++ b/plain.c\t2024-01-02 00:00:00\n@@ -1 +1 @@\n-a\n+b\n",
                Some("plain.c"),
                Some("plain.c"),
                FileStatus::Modified,
                false,
            ),
            (
                "--- old/src/x.c\n+++ new/src/x.c\n@@ -1 +1 @@\n-a\n+b\n",
                Some("src/x.c"),
                Some("src/x.c"),
                FileStatus::Modified,
                false,
            ),
        ];
        for (text, old, new, status, binary) in rows {
            let f = one(text);
            assert_eq!(f.old_path.as_deref(), *old, "{text}");
            assert_eq!(f.new_path.as_deref(), *new, "{text}");
            assert_eq!(f.status, *status, "{text}");
            assert_eq!(f.binary, *binary, "{text}");
        }
    }

    #[test]
    fn mode_change_is_recorded() {
        let f = one("diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n");
        assert_eq!(f.old_mode.as_deref(), Some("100644"));
        assert_eq!(f.new_mode.as_deref(), Some("100755"));
    }

    #[test]
    fn git_binary_patch_payload_is_skipped() {
        let text = "diff --git a/b.bin b/b.bin\nnew file mode 100644\nindex 0000000..3f2a9c1\nGIT binary patch\nliteral 12\nTcmZ?wbaKyQU|?ix-\n\nliteral 0\nHcmV?d00001\n\ndiff --git a/c.txt b/c.txt\n--- a/c.txt\n+++ b/c.txt\n@@ -1 +1 @@\n-a\n+b\n";
        let d = parse(text.as_bytes());
        assert_eq!(d.files.len(), 2);
        assert!(d.files[0].binary);
        assert_eq!(d.files[0].added, 0);
        assert_eq!(d.files[1].path(), "c.txt");
        assert_eq!(d.files[1].added, 1);
    }

    #[test]
    fn no_newline_marker_attaches_to_the_line_before_it() {
        let text = "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-old\n\\ No newline at end of file\n+new\n\\ No newline at end of file\n";
        let d = parse(text.as_bytes());
        let f = &d.files[0];
        let lines: Vec<_> = d.lines(f).collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].no_newline && lines[1].no_newline);
        assert!(d.notes.is_empty(), "{:?}", d.notes);
    }

    #[test]
    fn removed_line_that_looks_like_a_header_stays_in_its_hunk() {
        // `--- x` inside a hunk is a removed line `-- x`, not a new file.
        let text = "diff --git a/a.sql b/a.sql\n--- a/a.sql\n+++ b/a.sql\n@@ -1,2 +1,1 @@\n--- comment\n keep\n";
        let d = parse(text.as_bytes());
        assert_eq!(d.files.len(), 1);
        assert_eq!(d.files[0].removed, 1);
    }

    #[test]
    fn format_patch_preamble_and_signature_are_ignored() {
        let text = "From 123 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] x\n---\n a.txt | 2 +-\n 1 file changed\n\ndiff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n-- \n2.44.0\n";
        let d = parse(text.as_bytes());
        assert_eq!(d.files.len(), 1);
        assert_eq!((d.files[0].added, d.files[0].removed), (1, 1));
    }

    #[test]
    fn crlf_patch_and_non_utf8_content() {
        let text = b"diff --git a/w.txt b/w.txt\r\n--- a/w.txt\r\n+++ b/w.txt\r\n@@ -1 +1,2 @@\r\n-a\r\n+caf\xe9\r\n+b\r\n";
        let d = parse(text);
        let f = &d.files[0];
        assert_eq!(f.path(), "w.txt");
        let added: Vec<_> = d.lines(f).filter(|l| l.kind == LineKind::Added).collect();
        assert_eq!(added[0].text(), b"caf\xe9");
        assert!(added[0].has_cr());
    }

    #[test]
    fn truncated_or_garbled_input_becomes_notes() {
        let d = parse(b"diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1,5 +1,5 @@\n-x\n");
        assert_eq!(d.files.len(), 1);
        assert!(!d.notes.is_empty());
        let d = parse(b"@@ garbage\n\x00\xff\n+++ nothing\n");
        assert!(d.files.is_empty());
        let d = parse(b"diff --git a/a b/a\n@@ -x +y @@\n");
        assert!(!d.notes.is_empty());
    }

    #[test]
    fn dot_dot_paths_are_normalised_and_reported() {
        let f = one("diff --git a/src/../deploy/x.sh b/src/../deploy/x.sh\nnew file mode 100755\n--- /dev/null\n+++ b/src/../deploy/x.sh\n@@ -0,0 +1 @@\n+echo hi\n");
        assert_eq!(f.path(), "deploy/x.sh");
        assert!(matches!(f.path_issues[0], PathIssue::Normalised { .. }));
    }

    #[test]
    fn find_newline_agrees_with_a_plain_search() {
        let data = b"0123456789abcdef\nxyz\n\n0123456";
        let mut pos = 0;
        while pos < data.len() {
            let want = data[pos..].iter().position(|&b| b == b'\n');
            assert_eq!(find_newline(&data[pos..]), want);
            pos += 1;
        }
    }
}
