//! Tests beside code in a Rust file: which lines of a version are test code; a commit's
//! change to such a file split into its code part (for the gold patch) and its test part
//! (for the hidden tests); and an agent's change with its edits to existing test code taken
//! back (for grading).
//!
//! Rust keeps unit tests in `#[cfg(test)] mod tests { ... }` inside the file they test, so
//! splitting a commit by path alone finds no test change in most Rust crates. Here the file
//! is split change by change instead. Pure: the caller reads both versions of the file and
//! its diff with host git, and hashes the contents this returns.

use similar::{Algorithm, DiffOp, DiffTag};
use std::ops::Range;
use std::time::{Duration, Instant};

/// What a commit's change to one Rust file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// No test code changes, or the change is not one that can be split (binary, added,
    /// deleted, renamed, a mode change): the whole file belongs to the fix.
    Code,
    /// Only test code changes: the whole file belongs to the hidden tests.
    Tests,
    /// Both. `code` is the parent's content with the code changes only, `tests` with the
    /// test changes only; each becomes a patch against the parent (see [`file_patch`]).
    Both { code: Vec<u8>, tests: Vec<u8> },
    /// One change mixes test and code lines with no unchanged line between them to cut at:
    /// the whole file belongs to the fix, and the note says where.
    Kept(String),
}

/// Past this the line diff gives up on the smallest diff and returns a coarser one (still
/// a correct one): a generated file must not stall mining.
const DIFF_DEADLINE: Duration = Duration::from_secs(2);

/// Lines of context around each hunk, as git writes them.
const CONTEXT: usize = 3;

/// Nesting deeper than this in a `cfg(...)` is not read: such input is not real code, and
/// recursion must stay bounded whatever the file holds.
const MAX_CFG_DEPTH: usize = 16;

/// The last path segment of attributes that make a function a test (`#[test]`,
/// `#[tokio::test]`, `#[rstest]`, `#[test_case(..)]`, ...).
const TEST_ATTRIBUTES: &[&[u8]] = &[
    b"test",
    b"bench",
    b"rstest",
    b"test_case",
    b"test_matrix",
    b"wasm_bindgen_test",
    b"quickcheck",
    b"proptest",
];

/// Splits the change of one Rust file between its parent (`old`) and the fix (`new`).
/// `diff` is git's diff of that file alone (`--full-index`): only a change in place of a
/// text file whose mode stays is split; anything else is [`Split::Code`].
pub fn split_rust(diff: &[u8], old: Option<&[u8]>, new: Option<&[u8]>) -> Split {
    let (Some(old), Some(new)) = (old, new) else {
        return Split::Code;
    };
    if Header::parse(diff).is_none() {
        return Split::Code;
    }
    let (a, b) = (lines(old), lines(new));
    let (in_old, in_new) = (test_lines(old, a.len()), test_lines(new, b.len()));
    let mut code_blocks = Vec::new();
    let mut test_blocks = Vec::new();
    for block in blocks(&a, &b) {
        let kinds = block
            .old
            .clone()
            .map(|i| kind(a[i], in_old[i]))
            .chain(block.new.clone().map(|i| kind(b[i], in_new[i])));
        let (mut test, mut code) = (false, false);
        for k in kinds {
            match k {
                Kind::Test => test = true,
                Kind::Code => code = true,
                Kind::Blank => {}
            }
        }
        match (test, code) {
            (true, true) => {
                let at = if block.new.is_empty() {
                    format!("line {} of the parent", block.old.start + 1)
                } else {
                    format!("line {}", block.new.start + 1)
                };
                return Split::Kept(format!(
                    "a change at {at} mixes test code and other code with no unchanged line \
                     between them, so the file is kept whole in the fix"
                ));
            }
            (true, false) => test_blocks.push(block),
            // Blank lines alone go with the code: they change nothing a test can see.
            (false, _) => code_blocks.push(block),
        }
    }
    match (code_blocks.is_empty(), test_blocks.is_empty()) {
        (_, true) => Split::Code,
        (true, false) => Split::Tests,
        (false, false) => Split::Both {
            code: apply(&a, &b, &code_blocks),
            tests: apply(&a, &b, &test_blocks),
        },
    }
}

/// A Rust file with the agent's changes to the base's test code undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undone {
    pub content: Vec<u8>,
    /// A base test was altered, removed, given an attribute or had lines slipped into its
    /// body. False when all that was undone is new items added between the items of a base
    /// test module: undone all the same (a new `use` or `macro_rules!` there can change what
    /// the module's tests call), but not a sign of tampering.
    pub tampered: bool,
}

/// `agent`'s version of a Rust file with every change to the base's test code undone, or
/// None when it changes none. A run of changed lines goes back to the base whole (with any
/// code change inside that same run: there is no unchanged line to cut at) when it
/// - removes or alters a line of a base test item;
/// - sits inside a base test item (a line added to a test's body, say an early `return`,
///   or a new item in a test module);
/// - ends in an attribute right before a base test item (`#[should_panic]`, `#[ignore]`,
///   `#[cfg(any())]`), which would change what that test means.
///
/// Anything else stays: new code, and new tests in new modules. The test lines are read
/// from the base, so a test the agent renamed, weakened or deleted comes back as it was.
pub fn undo_test_edits(base: &[u8], agent: &[u8]) -> Option<Undone> {
    let (a, b) = (lines(base), lines(agent));
    let ranges = test_ranges(base);
    if ranges.is_empty() {
        return None;
    }
    let in_base = test_lines(base, a.len());
    let depth = line_depths(base, a.len());
    let is_test = |i: usize| in_base.get(i).copied().unwrap_or(false);
    let next_code_line = |from: usize| (from..a.len()).find(|&i| kind(a[i], false) != Kind::Blank);
    // Whether line `k` of a test region lies between the items of a test module (at its
    // body's own depth), rather than inside a test function.
    let between_items = |k: usize| {
        ranges.iter().find(|r| r.contains(&k)).is_some_and(|r| {
            let head = a[r.clone()]
                .iter()
                .map(|l| l.trim_ascii_start())
                .find(|l| !l.is_empty() && !l.starts_with(b"#") && !l.starts_with(b"//"));
            let module = head.is_some_and(|l| {
                l.split(|c| c.is_ascii_whitespace())
                    .take_while(|w| *w != b"{")
                    .any(|w| w == b"mod")
            });
            module && depth[k] == depth[r.start] + 1
        })
    };
    // What a run of changed lines read at one place does: (touches test code, tampers).
    let judge = |o: &Range<usize>, n: &Range<usize>| {
        let alters = o.clone().any(|i| kind(a[i], in_base[i]) == Kind::Test);
        let inside = o.start > 0 && is_test(o.start - 1) && is_test(o.end);
        let last_new = b[n.clone()]
            .iter()
            .rev()
            .find(|l| kind(l, false) != Kind::Blank);
        let attribute = last_new.is_some_and(|l| l.trim_ascii_start().starts_with(b"#["))
            && next_code_line(o.end).is_some_and(is_test);
        (
            alters || inside || attribute,
            alters || attribute || (inside && !between_items(o.end)),
        )
    };
    let (mut kept, mut undone, mut tampered) = (Vec::new(), false, false);
    for block in blocks(&a, &b) {
        // Lines added where the lines around them repeat can be read at several places
        // with the same resulting file (a new test before `#[test] fn adds` also reads as
        // starting after that `#[test]` line; a function appended after a test module's
        // closing brace also reads as ending before it). The file is the same whichever
        // reading is taken, so the kindest one is: it is undone only when every reading
        // touches test code, and tampering only when every reading tampers.
        let mut readings = vec![(block.old.clone(), block.new.clone())];
        if block.old.is_empty() {
            let (mut o, mut n) = (block.old.clone(), block.new.clone());
            while o.start > 0 && n.start > 0 && a[o.start - 1] == b[n.end - 1] {
                (o, n) = (o.start - 1..o.end - 1, n.start - 1..n.end - 1);
                readings.push((o.clone(), n.clone()));
            }
            let (mut o, mut n) = (block.old.clone(), block.new.clone());
            while o.end < a.len() && n.end < b.len() && a[o.end] == b[n.start] {
                (o, n) = (o.start + 1..o.end + 1, n.start + 1..n.end + 1);
                readings.push((o.clone(), n.clone()));
            }
        }
        let judged: Vec<(bool, bool)> = readings.iter().map(|(o, n)| judge(o, n)).collect();
        if judged.iter().all(|j| j.0) {
            undone = true;
            tampered |= judged.iter().all(|j| j.1);
        } else {
            kept.push(block);
        }
    }
    undone.then(|| Undone {
        content: apply(&a, &b, &kept),
        tampered,
    })
}

/// The brace depth at the start of each of the `n` lines of `src` (strings and comments
/// skipped), never below 0.
fn line_depths(src: &[u8], n: usize) -> Vec<usize> {
    let mut depths = vec![0; n];
    let (mut d, mut next): (usize, usize) = (0, 0);
    for t in tokens(src) {
        while next <= t.line && next < n {
            depths[next] = d;
            next += 1;
        }
        match t.tok {
            Tok::Punct(b'{') => d += 1,
            Tok::Punct(b'}') => d = d.saturating_sub(1),
            _ => {}
        }
    }
    for slot in depths.iter_mut().skip(next) {
        *slot = d;
    }
    depths
}

/// The patch that turns `old` into `new` for the file `diff` is about: git's own header
/// (so the path is quoted as git quotes it) with the new blob id `new_id`, and hunks made
/// from the two contents. None when `diff` is not a change in place of a text file.
///
/// Why the two patches of a split file are both made against the parent, rather than the
/// test part against "parent + code part": the hidden tests must apply at the parent (the
/// run without the fix) and on top of whatever code an agent wrote in that file, and only a
/// patch against the parent does both. On top of changed code, `git apply` finds each hunk
/// by its context even where lines moved, and where the code change reaches into that
/// context a three-way merge with the parent's blob (named in the `index` line) puts the
/// test change in; the changes never overlap, since every cut sits on an unchanged line.
pub fn file_patch(diff: &[u8], old: &[u8], new: &[u8], new_id: &str) -> Option<Vec<u8>> {
    let h = Header::parse(diff)?;
    let (a, b) = (lines(old), lines(new));
    let ops = similar::capture_diff_slices_deadline(
        Algorithm::Myers,
        &a,
        &b,
        Some(Instant::now() + DIFF_DEADLINE),
    );
    let mut out = Vec::new();
    for line in [h.diff_git, h.index_line(new_id).as_slice(), h.minus, h.plus] {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    for group in similar::group_diff_ops(ops, CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old_r = first.old_range().start..last.old_range().end;
        let new_r = first.new_range().start..last.new_range().end;
        out.extend_from_slice(
            format!("@@ -{} +{} @@\n", hunk_range(&old_r), hunk_range(&new_r)).as_bytes(),
        );
        for op in &group {
            let (tag, o, n) = op.as_tag_tuple();
            match tag {
                DiffTag::Equal => o.for_each(|i| push_line(&mut out, b' ', a[i])),
                DiffTag::Delete => o.for_each(|i| push_line(&mut out, b'-', a[i])),
                DiffTag::Insert => n.for_each(|i| push_line(&mut out, b'+', b[i])),
                DiffTag::Replace => {
                    o.for_each(|i| push_line(&mut out, b'-', a[i]));
                    n.for_each(|i| push_line(&mut out, b'+', b[i]));
                }
            }
        }
    }
    Some(out)
}

/// `start,count` as a hunk header writes it: 1-based, the count left out when it is 1, and
/// an empty range named by the line before it.
fn hunk_range(r: &Range<usize>) -> String {
    match r.len() {
        0 => format!("{},0", r.start),
        1 => format!("{}", r.start + 1),
        n => format!("{},{n}", r.start + 1),
    }
}

fn push_line(out: &mut Vec<u8>, sign: u8, line: &[u8]) {
    out.push(sign);
    out.extend_from_slice(line);
    if !line.ends_with(b"\n") {
        out.extend_from_slice(b"\n\\ No newline at end of file\n");
    }
}

/// The header of git's diff of one file changed in place: `diff --git`, `index`, `---` and
/// `+++`, nothing else (no mode change, rename, creation, deletion or binary), then hunks.
struct Header<'a> {
    diff_git: &'a [u8],
    old_id: &'a [u8],
    mode: &'a [u8],
    minus: &'a [u8],
    plus: &'a [u8],
}

impl<'a> Header<'a> {
    fn parse(diff: &'a [u8]) -> Option<Header<'a>> {
        let mut it = diff.split(|&b| b == b'\n');
        let diff_git = it.next().filter(|l| l.starts_with(b"diff --git "))?;
        let index = it.next()?.strip_prefix(b"index ")?;
        let minus = it
            .next()
            .filter(|l| l.starts_with(b"--- a/") || l.starts_with(b"--- \"a/"))?;
        let plus = it
            .next()
            .filter(|l| l.starts_with(b"+++ b/") || l.starts_with(b"+++ \"b/"))?;
        if !it.next()?.starts_with(b"@@ ") {
            return None;
        }
        // One file only: another section would be left out of what is rebuilt.
        if it.any(|l| l.starts_with(b"diff --git ")) {
            return None;
        }
        let mut parts = index.split(|&b| b == b' ');
        let ids = parts.next()?;
        let mode = parts.next()?;
        if parts.next().is_some() || !(mode == b"100644" || mode == b"100755") {
            return None;
        }
        let dots = ids.windows(2).position(|w| w == b"..")?;
        let old_id = &ids[..dots];
        let hex = |s: &[u8]| s.len() >= 7 && s.iter().all(u8::is_ascii_hexdigit);
        if !hex(old_id) || !hex(&ids[dots + 2..]) {
            return None;
        }
        Some(Header {
            diff_git,
            old_id,
            mode,
            minus,
            plus,
        })
    }

    fn index_line(&self, new_id: &str) -> Vec<u8> {
        let mut l = b"index ".to_vec();
        l.extend_from_slice(self.old_id);
        l.extend_from_slice(b"..");
        l.extend_from_slice(new_id.as_bytes());
        l.push(b' ');
        l.extend_from_slice(self.mode);
        l
    }
}

/// The lines of a file, each with its line end; a last line without one is kept as it is.
fn lines(src: &[u8]) -> Vec<&[u8]> {
    src.split_inclusive(|&b| b == b'\n').collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Test,
    Code,
    /// Whitespace only: goes with whatever it sits between, so a blank line before a new
    /// test module does not make the change a mixed one.
    Blank,
}

fn kind(line: &[u8], in_test: bool) -> Kind {
    if line.iter().all(u8::is_ascii_whitespace) {
        Kind::Blank
    } else if in_test {
        Kind::Test
    } else {
        Kind::Code
    }
}

/// A run of changed lines with no unchanged line in it: old lines replaced by new ones.
#[derive(Debug, Clone)]
struct Block {
    old: Range<usize>,
    new: Range<usize>,
}

fn blocks(a: &[&[u8]], b: &[&[u8]]) -> Vec<Block> {
    let ops = similar::capture_diff_slices_deadline(
        Algorithm::Myers,
        a,
        b,
        Some(Instant::now() + DIFF_DEADLINE),
    );
    let mut out: Vec<Block> = Vec::new();
    let mut open = false;
    for op in &ops {
        if let DiffOp::Equal { .. } = op {
            open = false;
            continue;
        }
        let (o, n) = (op.old_range(), op.new_range());
        match out.last_mut() {
            Some(last) if open => {
                last.old.end = o.end;
                last.new.end = n.end;
            }
            _ => out.push(Block { old: o, new: n }),
        }
        open = true;
    }
    out
}

/// The old lines with the chosen blocks replaced by their new lines.
fn apply(a: &[&[u8]], b: &[&[u8]], chosen: &[Block]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    for block in chosen {
        a[at..block.old.start]
            .iter()
            .for_each(|l| out.extend_from_slice(l));
        b[block.new.clone()]
            .iter()
            .for_each(|l| out.extend_from_slice(l));
        at = block.old.end;
    }
    a[at..].iter().for_each(|l| out.extend_from_slice(l));
    out
}

/// For each of the `n` lines of `src`, whether it is test code.
fn test_lines(src: &[u8], n: usize) -> Vec<bool> {
    let mut mask = vec![false; n];
    for r in test_ranges(src) {
        for slot in mask.iter_mut().take(r.end).skip(r.start) {
            *slot = true;
        }
    }
    mask
}

/// The line ranges (0-based, end exclusive, sorted, disjoint) of test code in a Rust file:
/// items under `#[cfg(test)]` (a `mod tests { ... }`, a helper, a `use`), test functions
/// (`#[test]`, `#[tokio::test]`, `#[rstest]`, ...) wherever they are, each from its first
/// attribute (and the comments right above it) to its closing brace or semicolon, and the
/// block or file an inner `#![cfg(test)]` is in. Strings, raw strings, character literals
/// and comments are skipped, so a brace in them does not count.
pub fn test_ranges(src: &[u8]) -> Vec<Range<usize>> {
    let toks = tokens(src);
    let n_lines = lines(src).len();
    let mut ranges: Vec<Range<usize>> = Vec::new();
    // Open braces: the line of each, and whether an inner `#![cfg(test)]` marked its block.
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        match t.tok {
            Tok::Punct(b'#') if punct(&toks, i + 1, b'!') && punct(&toks, i + 2, b'[') => {
                let (attr, next) = attribute(&toks, i + 2);
                if is_cfg_test(attr) {
                    match open.last_mut() {
                        Some(block) => block.1 = true,
                        None => return std::iter::once(0..n_lines).collect(),
                    }
                }
                i = next;
            }
            Tok::Punct(b'#') if punct(&toks, i + 1, b'[') => {
                let mut j = i;
                let mut test = false;
                while punct(&toks, j, b'#') && punct(&toks, j + 1, b'[') {
                    let (attr, next) = attribute(&toks, j + 1);
                    test |= is_cfg_test(attr) || is_test_attribute(attr);
                    j = next;
                }
                if test {
                    let (end_line, next) = item_end(&toks, j, toks[j - 1].line);
                    ranges.push(t.line..end_line + 1);
                    i = next;
                } else {
                    i = j;
                }
            }
            Tok::Punct(b'{') => {
                open.push((t.line, false));
                i += 1;
            }
            Tok::Punct(b'}') => {
                if let Some((line, true)) = open.pop() {
                    ranges.push(line..t.line + 1);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    // Comments right above an item are part of it.
    let text = lines(src);
    for r in &mut ranges {
        while r.start > 0 && text[r.start - 1].trim_ascii_start().starts_with(b"//") {
            r.start -= 1;
        }
        r.end = r.end.min(n_lines);
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// Where the item starting at token `i` ends: the line of its `;`, of the brace closing its
/// body, or (for a field or an expression) of the `,` after it; and the token after it.
/// A closing bracket of the enclosing block ends it too, at `last_line`.
fn item_end(toks: &[Token<'_>], i: usize, mut last_line: usize) -> (usize, usize) {
    let keyword = item_keyword(toks, i);
    let mut depth = 0usize;
    let mut body = false;
    let mut k = i;
    while k < toks.len() {
        let t = toks[k];
        match t.tok {
            Tok::Punct(c @ (b'(' | b'[' | b'{')) => {
                body |= depth == 0 && c == b'{';
                depth += 1;
            }
            Tok::Punct(c @ (b')' | b']' | b'}')) => {
                if depth == 0 {
                    return (last_line, k);
                }
                depth -= 1;
                if depth == 0 && body && c == b'}' {
                    return (t.line, k + 1);
                }
            }
            Tok::Punct(b';') if depth == 0 => return (t.line, k + 1),
            // Commas also sit between generic parameters of an item, which are not tracked.
            Tok::Punct(b',') if depth == 0 && !keyword => return (t.line, k + 1),
            _ => {}
        }
        last_line = t.line;
        k += 1;
    }
    (last_line, toks.len())
}

/// Whether the tokens from `i` start an item (`fn`, `mod`, `impl`, ...), after its
/// visibility and qualifiers, rather than a field or an expression.
fn item_keyword(toks: &[Token<'_>], mut i: usize) -> bool {
    const QUALIFIERS: &[&[u8]] = &[
        b"pub", b"crate", b"super", b"self", b"in", b"async", b"unsafe", b"default",
    ];
    const ITEMS: &[&[u8]] = &[
        b"fn",
        b"mod",
        b"impl",
        b"struct",
        b"enum",
        b"trait",
        b"type",
        b"const",
        b"static",
        b"use",
        b"let",
        b"union",
        b"macro_rules",
        b"extern",
    ];
    while let Some(t) = toks.get(i) {
        match t.tok {
            Tok::Ident(w) if ITEMS.contains(&w) => return true,
            Tok::Ident(w) if QUALIFIERS.contains(&w) => i += 1,
            Tok::Punct(b'(' | b')' | b':') => i += 1,
            _ => return false,
        }
    }
    false
}

/// The tokens inside the attribute whose `[` is at `open`, and the token after its `]`.
fn attribute<'t, 'a>(toks: &'t [Token<'a>], open: usize) -> (&'t [Token<'a>], usize) {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.tok {
            Tok::Punct(b'(' | b'[' | b'{') => depth += 1,
            Tok::Punct(b')' | b']' | b'}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return (&toks[open + 1..k], k + 1);
                }
            }
            _ => {}
        }
    }
    (toks.get(open + 1..).unwrap_or_default(), toks.len())
}

/// The attribute's path, `tokio::test` of `tokio::test(flavor = "multi_thread")`.
fn attribute_path<'a>(attr: &[Token<'a>]) -> Vec<&'a [u8]> {
    attr.iter()
        .map_while(|t| match t.tok {
            Tok::Ident(w) => Some(Some(w)),
            Tok::Punct(b':') => Some(None),
            _ => None,
        })
        .flatten()
        .collect()
}

fn is_test_attribute(attr: &[Token<'_>]) -> bool {
    attribute_path(attr)
        .last()
        .is_some_and(|last| TEST_ATTRIBUTES.contains(last))
}

/// `cfg(test)`, or any `cfg(...)` that holds only in test builds: `all(test, unix)` does,
/// `any(test, feature = "x")` and `not(test)` do not.
fn is_cfg_test(attr: &[Token<'_>]) -> bool {
    if attribute_path(attr) != [b"cfg".as_slice()] || !punct(attr, 1, b'(') {
        return false;
    }
    let mut i = 2;
    requires_test(attr, &mut i, 0)
}

/// Whether the cfg predicate at `i` requires `test`; moves `i` past it.
fn requires_test(toks: &[Token<'_>], i: &mut usize, depth: usize) -> bool {
    let Some(Tok::Ident(word)) = toks.get(*i).map(|t| t.tok) else {
        *i += 1;
        return false;
    };
    *i += 1;
    if !punct(toks, *i, b'(') {
        return word == b"test";
    }
    *i += 1;
    let mut values = Vec::new();
    while let Some(t) = toks.get(*i) {
        match t.tok {
            Tok::Punct(b')') => {
                *i += 1;
                break;
            }
            Tok::Punct(b',') => *i += 1,
            _ if depth >= MAX_CFG_DEPTH => *i += 1,
            _ => values.push(requires_test(toks, i, depth + 1)),
        }
    }
    match word {
        b"all" => values.iter().any(|v| *v),
        b"any" => !values.is_empty() && values.iter().all(|v| *v),
        _ => false,
    }
}

fn punct(toks: &[Token<'_>], i: usize, c: u8) -> bool {
    toks.get(i).is_some_and(|t| t.tok == Tok::Punct(c))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a [u8]),
    Punct(u8),
}

/// A token and the (0-based) line it is on.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    tok: Tok<'a>,
    line: usize,
}

/// The identifiers and the punctuation that matter for finding items, with strings (raw
/// ones too), character literals, numbers and comments (nested ones too) skipped. Any bytes
/// are read: what is not valid Rust still gives tokens, never a panic.
fn tokens(src: &[u8]) -> Vec<Token<'_>> {
    let n = src.len();
    let mut out = Vec::new();
    let mut line = 0usize;
    let mut i = 0;
    while i < n {
        let c = src[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if src.get(i + 1) == Some(&b'/') => {
                while i < n && src[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if src.get(i + 1) == Some(&b'*') => {
                let mut depth = 1usize;
                i += 2;
                while i < n && depth > 0 {
                    if src[i] == b'\n' {
                        line += 1;
                    }
                    if src[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else if src[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'"' => i = skip_string(src, i + 1, &mut line),
            b'\'' => i = skip_quote(src, i),
            b'0'..=b'9' => {
                while i < n && is_ident_byte(src[i]) {
                    i += 1;
                }
            }
            c if is_ident_byte(c) => {
                let start = i;
                while i < n && is_ident_byte(src[i]) {
                    i += 1;
                }
                let word = &src[start..i];
                if matches!(word, b"r" | b"br" | b"cr") {
                    let hashes = src[i..].iter().take_while(|&&b| b == b'#').count();
                    if src.get(i + hashes) == Some(&b'"') {
                        i = skip_raw_string(src, i + hashes + 1, hashes, &mut line);
                        continue;
                    }
                }
                out.push(Token {
                    tok: Tok::Ident(word),
                    line,
                });
            }
            b'#' | b'!' | b'[' | b']' | b'(' | b')' | b'{' | b'}' | b';' | b',' | b':' => {
                out.push(Token {
                    tok: Tok::Punct(c),
                    line,
                });
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// Letters, digits, `_`, and any byte of a non-ASCII character (Rust allows those in names).
fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Past the end of a string whose body starts at `i`, counting its lines.
fn skip_string(src: &[u8], mut i: usize, line: &mut usize) -> usize {
    while i < src.len() {
        match src[i] {
            b'\\' => {
                if src.get(i + 1) == Some(&b'\n') {
                    *line += 1;
                }
                i += 2;
            }
            b'"' => return i + 1,
            b'\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    src.len()
}

/// Past the end of a raw string with `hashes` hashes whose body starts at `i`.
fn skip_raw_string(src: &[u8], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while i < src.len() {
        match src[i] {
            b'"' if src[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&b| b == b'#')
                .count()
                == hashes =>
            {
                return i + 1 + hashes;
            }
            b'\n' => *line += 1,
            _ => {}
        }
        i += 1;
    }
    src.len()
}

/// Past a character literal (`'a'`, `'{'`, `'\''`, `'\u{1F600}'`, `'é'`) at `i`, or just past
/// the quote of a lifetime or label (`'a`, `'static`).
fn skip_quote(src: &[u8], i: usize) -> usize {
    let j = i + 1;
    match src.get(j) {
        Some(b'\\') => {
            // The longest escape is `\u{10FFFF}`.
            let close = src
                .iter()
                .enumerate()
                .skip(j + 2)
                .take(10)
                .find(|(_, &b)| b == b'\'' || b == b'\n');
            match close {
                Some((k, b'\'')) => k + 1,
                _ => j,
            }
        }
        Some(&c) if c != b'\n' => {
            let len = match c {
                0xf0..=0xff => 4,
                0xe0..=0xef => 3,
                0xc0..=0xdf => 2,
                _ => 1,
            };
            if src.get(j + len) == Some(&b'\'') {
                j + len + 1
            } else {
                j
            }
        }
        _ => j,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ranges as 1-based inclusive line numbers, the way an editor shows them.
    fn shown(src: &str) -> Vec<(usize, usize)> {
        test_ranges(src.as_bytes())
            .into_iter()
            .map(|r| (r.start + 1, r.end))
            .collect()
    }

    #[test]
    fn test_code_is_found_by_its_attributes() {
        // (what, the source, its test ranges)
        type Case<'a> = (&'a str, &'a str, &'a [(usize, usize)]);
        let cases: &[Case] = &[
            (
                "a test module",
                "fn a() {}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {}\n}\n",
                &[(3, 7)],
            ),
            (
                "a declared test module and a cfg(test) helper",
                "#[cfg(test)]\nmod tests;\nfn a() {}\n#[cfg(test)]\npub(crate) fn helper() -> [u8; 2] {\n    [1, 2]\n}\n",
                &[(1, 2), (4, 7)],
            ),
            (
                "test functions outside a test module, with their comments and attributes",
                "fn a() {}\n// Checks a.\n#[tokio::test(flavor = \"multi_thread\")]\n#[should_panic]\nasync fn t() {\n}\n#[rstest]\n#[case(1)]\nfn r(#[case] x: u8) {}\n",
                &[(2, 9)],
            ),
            (
                "cfg that holds only in tests, and ones that do not",
                "#[cfg(all(test, unix))]\nfn a() {}\n#[cfg(not(test))]\nfn b() {}\n#[cfg(any(test, feature = \"x\"))]\nfn c() {}\n#[cfg_attr(test, derive(Debug))]\nstruct D;\n",
                &[(1, 2)],
            ),
            (
                "braces in strings, raw strings, chars and comments do not count",
                "#[cfg(test)]\nmod tests {\n    const S: &str = \"}\";\n    const R: &str = r#\"\"}\"#;\n    const C: char = '}';\n    // }\n    /* } /* } */ } */\n    fn f<'a>(x: &'a str) -> &'a str { x }\n}\nfn after() {}\n",
                &[(1, 9)],
            ),
            (
                "a whole file under an inner cfg(test)",
                "#![cfg(test)]\nuse super::*;\n#[test]\nfn t() {}\n",
                &[(1, 4)],
            ),
            (
                "a block under an inner cfg(test)",
                "fn a() {}\nmod tests {\n    #![cfg(test)]\n    fn t() {}\n}\n",
                &[(2, 5)],
            ),
            (
                "a cfg(test) field ends at its comma",
                "struct S {\n    a: u8,\n    #[cfg(test)]\n    seen: Vec<u8>,\n    b: u8,\n}\n",
                &[(3, 4)],
            ),
            (
                "a quote in a char literal and a raw string holding \"#",
                "fn a() -> char { '\"' }\n#[test]\nfn t() { let s = r##\"\"#}\"##; }\nfn b() {}\n",
                &[(2, 3)],
            ),
            ("no tests", "fn a() { let s = \"#[test]\"; }\n", &[]),
        ];
        for (what, src, want) in cases {
            assert_eq!(shown(src), *want, "{what}");
        }
    }

    #[test]
    fn any_bytes_give_ranges_without_panicking() {
        let inputs: &[&[u8]] = &[
            b"",
            b"#",
            b"#[",
            b"#![",
            b"#[test",
            b"#[test] fn",
            b"#[cfg(test)] mod t {",
            b"'",
            b"'\\",
            b"b'\\u{",
            b"r#\"",
            b"r###",
            b"\"\\",
            b"/* /*",
            b"}}}#[test]}}}",
            b"#[cfg(all(all(all(all(all(all(all(all(all(all(all(all(all(all(all(all(all(all(test",
            b"\xff\xfe#[test]\xc3 fn \xe9() {}\n'\xf0\x9f\x98\x80' \x80",
        ];
        for src in inputs {
            for r in test_ranges(src) {
                assert!(r.start <= r.end, "{src:?}");
            }
            for other in inputs {
                let _ = split_rust(HEADER.as_bytes(), Some(src), Some(other));
                let _ = split_rust(src, Some(src), Some(other));
                let _ = file_patch(HEADER.as_bytes(), src, other, "abcdef0");
            }
        }
    }

    const HEADER: &str = "diff --git a/src/lib.rs b/src/lib.rs\nindex 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n";

    const PARENT: &str = "pub fn add(a: u8, b: u8) -> u8 {\n    a - b\n}\n\nfn other() {}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(1, 1), 2);\n    }\n}\n";

    fn split(old: &str, new: &str) -> Split {
        split_rust(
            HEADER.as_bytes(),
            Some(old.as_bytes()),
            Some(new.as_bytes()),
        )
    }

    #[test]
    fn changes_are_split_into_code_and_tests() {
        let fix = PARENT.replace("a - b", "a + b").replace(
            "(1, 1), 2);",
            "(1, 1), 2);\n        assert_eq!(add(2, 3), 5);",
        );
        let Split::Both { code, tests } = split(PARENT, &fix) else {
            panic!("{:?}", split(PARENT, &fix));
        };
        assert_eq!(
            String::from_utf8(code).unwrap(),
            PARENT.replace("a - b", "a + b")
        );
        assert_eq!(
            String::from_utf8(tests).unwrap(),
            PARENT.replace(
                "(1, 1), 2);",
                "(1, 1), 2);\n        assert_eq!(add(2, 3), 5);"
            )
        );

        let cases: &[(&str, String, Split)] = &[
            ("code only", PARENT.replace("a - b", "a + b"), Split::Code),
            ("tests only", PARENT.replace("(1, 1), 2", "(1, 2), 3"), Split::Tests),
            ("blank lines only", PARENT.replace("}\n\nfn", "}\n\n\nfn"), Split::Code),
            (
                "a new test module after a blank line",
                format!("{PARENT}\n#[cfg(test)]\nmod more {{\n    #[test]\n    fn t() {{}}\n}}\n"),
                Split::Tests,
            ),
            (
                "a function replaced by a test with no line between",
                PARENT.replace("fn other() {}", "#[test]\nfn renamed() {}"),
                Split::Kept("a change at line 5 mixes test code and other code with no unchanged line between them, so the file is kept whole in the fix".into()),
            ),
        ];
        for (what, new, want) in cases {
            assert_eq!(split(PARENT, new), *want, "{what}");
        }
    }

    #[test]
    fn only_changes_in_place_of_text_files_are_split() {
        let fix = PARENT
            .replace("a - b", "a + b")
            .replace("(1, 1), 2", "(1, 2), 3");
        let (old, new) = (Some(PARENT.as_bytes()), Some(fix.as_bytes()));
        let headers = [
            "diff --git a/x.rs b/x.rs\nnew file mode 100644\nindex 0000000..2222222\n--- /dev/null\n+++ b/x.rs\n@@ -0,0 +1 @@\n",
            "diff --git a/x.rs b/x.rs\nold mode 100644\nnew mode 100755\nindex 1111111..2222222\n--- a/x.rs\n+++ b/x.rs\n@@ -1 +1 @@\n",
            "diff --git a/x.rs b/x.rs\nindex 1111111..2222222 100644\nBinary files a/x.rs and b/x.rs differ\n",
            "diff --git a/x.rs b/y.rs\nsimilarity index 90%\nrename from x.rs\nrename to y.rs\nindex 1111111..2222222 100644\n--- a/x.rs\n+++ b/y.rs\n@@ -1 +1 @@\n",
            "diff --git a/x.rs b/x.rs\nindex 1111111..2222222 120000\n--- a/x.rs\n+++ b/x.rs\n@@ -1 +1 @@\n",
            "not a diff",
            "",
        ];
        for h in headers {
            assert_eq!(split_rust(h.as_bytes(), old, new), Split::Code, "{h}");
        }
        assert_eq!(split_rust(HEADER.as_bytes(), None, new), Split::Code);
        assert_eq!(split_rust(HEADER.as_bytes(), old, None), Split::Code);
        assert!(matches!(
            split_rust(HEADER.as_bytes(), old, new),
            Split::Both { .. }
        ));
    }

    #[test]
    fn patches_have_git_headers_and_hunks() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "one line changed",
                "a\nb\nc\n",
                "a\nB\nc\n",
                "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n",
            ),
            (
                "a line added at the top",
                "x\n",
                "top\nx\n",
                "@@ -1 +1,2 @@\n+top\n x\n",
            ),
            ("a file emptied", "x\n", "", "@@ -1 +0,0 @@\n-x\n"),
            (
                "no newline at the end",
                "a\nb",
                "a\nb\n",
                "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
            ),
            (
                "two hunks far apart",
                "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
                "one\n2\n3\n4\n5\n6\n7\n8\n9\nten\n",
                "@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -7,4 +7,4 @@\n 7\n 8\n 9\n-10\n+ten\n",
            ),
        ];
        for (what, old, new, hunks) in cases {
            let p =
                file_patch(HEADER.as_bytes(), old.as_bytes(), new.as_bytes(), "abcdef0").unwrap();
            let want = format!(
                "diff --git a/src/lib.rs b/src/lib.rs\nindex 1111111111111111111111111111111111111111..abcdef0 100644\n--- a/src/lib.rs\n+++ b/src/lib.rs\n{hunks}"
            );
            assert_eq!(String::from_utf8(p).unwrap(), want, "{what}");
        }
        assert!(file_patch(b"diff --git a/x b/x\n", b"", b"", "abcdef0").is_none());
    }

    const BASE: &str = "pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds() {
        assert_eq!(add(2, 2), 4);
    }

    #[test]
    fn adds_negative() {
        assert_eq!(add(-2, 2), 0);
    }
}
";

    fn undo(agent: &str) -> Option<String> {
        undo_test_edits(BASE.as_bytes(), agent.as_bytes()).map(|u| {
            assert!(u.tampered, "{agent}");
            String::from_utf8(u.content).unwrap()
        })
    }

    #[test]
    fn a_weakened_test_comes_back_and_the_code_change_stays() {
        let agent = BASE
            .replace("    a + b\n", "    a.wrapping_add(b)\n")
            .replace("assert_eq!(add(2, 2), 4);", "assert!(true);");
        let expected = BASE.replace("    a + b\n", "    a.wrapping_add(b)\n");
        assert_eq!(undo(&agent).as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn a_deleted_or_renamed_test_comes_back() {
        let deleted = BASE.replace(
            "    #[test]\n    fn adds_negative() {\n        assert_eq!(add(-2, 2), 0);\n    }\n",
            "",
        );
        assert_eq!(undo(&deleted).as_deref(), Some(BASE));
        let renamed = BASE.replace("fn adds()", "fn adds_renamed()");
        assert_eq!(undo(&renamed).as_deref(), Some(BASE));
    }

    #[test]
    fn lines_slipped_into_a_test_or_attributes_above_it_are_undone() {
        let early_return = BASE.replace("    fn adds() {\n", "    fn adds() {\n        return;\n");
        assert_eq!(undo(&early_return).as_deref(), Some(BASE));
        for attr in ["#[should_panic]", "#[ignore]", "#[cfg(any())]"] {
            let agent = BASE.replace(
                "    #[test]\n    fn adds_negative",
                &format!("    {attr}\n    #[test]\n    fn adds_negative"),
            );
            assert_eq!(undo(&agent).as_deref(), Some(BASE), "{attr}");
        }
        // Above the module itself, after the blank line.
        let agent = BASE.replace("\n#[cfg(test)]", "\n#[cfg(any())]\n#[cfg(test)]");
        assert_eq!(undo(&agent).as_deref(), Some(BASE));
    }

    #[test]
    fn code_changes_and_new_test_modules_are_kept() {
        let agent = BASE.replace("    a + b\n}\n", "    a.checked_add(b).unwrap_or(i32::MAX)\n}\n")
            + "\n#[cfg(test)]\nmod more {\n    #[test]\n    fn big() {\n        assert_eq!(super::add(i32::MAX, 1), i32::MAX);\n    }\n}\n";
        assert_eq!(undo(&agent), None);
        assert_eq!(undo(BASE), None);
        // A function appended after the test module, whose last line repeats the module's.
        let appended = format!("{BASE}\npub fn helper() -> u32 {{\n    1\n}}\n");
        assert_eq!(undo(&appended), None);
        // A new test in the base's module is undone too (a `use` or `macro_rules!` added there
        // could change what the module's tests call), but it is not tampering.
        for added in [
            "    #[test]\n    fn adds_zero() {\n        assert_eq!(add(0, 0), 0);\n    }\n\n",
            "    macro_rules! assert_eq { ($a:expr, $b:expr) => {}; }\n\n",
        ] {
            let agent = BASE.replace(
                "    #[test]\n    fn adds()",
                &format!("{added}    #[test]\n    fn adds()"),
            );
            let u = undo_test_edits(BASE.as_bytes(), agent.as_bytes()).unwrap();
            assert_eq!(String::from_utf8(u.content).unwrap(), BASE);
            assert!(!u.tampered, "{added}");
        }
        assert_eq!(
            undo_test_edits(b"fn main() {}\n", b"fn main() { println!(); }\n"),
            None
        );
        // Any bytes: no panic.
        let _ = undo_test_edits(b"#[test]\n}}}{{\n", b"\xff#[cfg(test)]\n");
    }
}
