//! The test-harness files of each ecosystem, and what grading must use in place of an agent's
//! edits to them: anything that changes how tests are collected, run or reported is an agent's
//! easiest way to fake a pass (a `pytest.ini` whose `addopts` loads a plugin that rewrites every
//! report, a `[[test]]` target with `harness = false` that prints whatever the parser wants).
//!
//! Two kinds of entry:
//!
//! - **whole files** (`conftest.py`, `pytest.ini`, `.cargo/config.toml`, `jest.config.*`, …):
//!   a new, changed or deleted one goes back to its base content (or away, if it is new);
//! - **parts of shared files** (`[tool:pytest]` in `setup.cfg`, `tool.pytest` in
//!   `pyproject.toml`, `[[test]]` in `Cargo.toml`, `scripts.test` in `package.json`, …): only
//!   that part goes back, so the agent's other edits to the file stay. These apply at any depth
//!   (`tests/pyproject.toml` can be the file pytest picks) and to new files.
//!
//! Whole-file globs match a repository-relative path (with `/` separators) or any suffix of it
//! after a `/`, so `conftest.py` matches `a/b/conftest.py` and `.cargo/config` matches
//! `crates/x/.cargo/config`. A leading `/` anchors a glob at the root; a trailing `/` covers
//! everything below a directory; `*` stays within one directory, `**` crosses them.
//!
//! Pure: bytes in, bytes out, no IO. Inputs may be huge, binary or malformed; nothing here
//! panics on them, and files over [`MAX_PARSED`] bytes are restored whole rather than parsed.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::globs::BadPattern;

/// Files larger than this are not parsed: a changed one is restored whole.
pub const MAX_PARSED: usize = 8 << 20;

/// Files that, whole, decide how tests are collected, run or reported.
const WHOLE: &[&str] = &[
    // pytest imports every conftest.py on the way to a test, and reads its own config files
    // (`pytest.toml` and `.pytest.toml` since pytest 9).
    "conftest.py",
    "pytest.ini",
    ".pytest.ini",
    "pytest.toml",
    ".pytest.toml",
    // The interpreter imports these at start-up, before any test runs.
    "sitecustomize.py",
    "usercustomize.py",
    "*.pth",
    // Cargo configuration can wrap every test binary in a runner of its choosing.
    ".cargo/config",
    ".cargo/config.toml",
    // JavaScript test runners' configuration: reporters, setup files, transforms.
    "jest.config.*",
    "vitest.config.*",
    "vitest.workspace.*",
    ".mocharc*",
];

/// How a shared file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Sections as pytest's reader (iniconfig) finds them.
    Ini,
    Toml,
    Json,
}

/// A shared file and the parts of it that belong to the test harness.
#[derive(Debug)]
pub(crate) struct TableFile {
    /// The file's name, matched at any depth.
    pub name: &'static str,
    pub format: Format,
    /// INI: section names. TOML and JSON: dotted key paths from the document's root.
    pub parts: &'static [&'static str],
}

impl TableFile {
    /// How a part is named in messages: `[tool:pytest]`, `tool.pytest`, `scripts.test`.
    pub fn display(&self, part: &str) -> String {
        match self.format {
            Format::Ini => format!("[{part}]"),
            Format::Toml | Format::Json => part.to_string(),
        }
    }
}

const TABLES: &[TableFile] = &[
    TableFile {
        name: "setup.cfg",
        format: Format::Ini,
        parts: &["tool:pytest"],
    },
    TableFile {
        name: "tox.ini",
        format: Format::Ini,
        parts: &["pytest"],
    },
    TableFile {
        name: "pyproject.toml",
        format: Format::Toml,
        // `tool.pytest` covers `[tool.pytest.ini_options]` and pytest 9's native table; the
        // entry points register a plugin pytest loads on its own (setuptools or Poetry).
        parts: &[
            "tool.pytest",
            "project.entry-points.pytest11",
            "tool.poetry.plugins.pytest11",
        ],
    },
    TableFile {
        name: "Cargo.toml",
        format: Format::Toml,
        // `[[test]]` targets (`harness = false` lets a test binary print anything), and the
        // library's own test switches.
        parts: &["test", "lib.harness", "lib.test"],
    },
    TableFile {
        name: "package.json",
        format: Format::Json,
        // `npm test` runs `pretest` and `posttest` around `test`; `jest` and `mocha` are
        // those runners' configuration.
        parts: &[
            "scripts.test",
            "scripts.pretest",
            "scripts.posttest",
            "jest",
            "mocha",
        ],
    },
];

/// What grading must use for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// Not a harness file, or its protected part is unchanged: use the agent's file.
    Untouched,
    /// A whole harness file was edited: use the base content (`None`: remove the file).
    Whole(Option<Vec<u8>>),
    /// The agent's file with the named protected parts put back as they were at base.
    Part {
        content: Vec<u8>,
        parts: Vec<String>,
    },
}

/// How a path is a harness file.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HarnessKind {
    /// A whole file.
    Whole,
    /// A shared file with protected parts.
    Table(&'static TableFile),
}

/// The compiled list of harness files. [`Default`] is the built-in list.
#[derive(Debug, Clone)]
pub struct HarnessFiles {
    patterns: Vec<String>,
    /// Per compiled glob (one per pattern): whether it matches only the full path.
    anchored: Vec<bool>,
    set: GlobSet,
    tables: Vec<&'static TableFile>,
}

impl Default for HarnessFiles {
    fn default() -> Self {
        // cannot fail: the built-in globs are constants that a unit test compiles.
        HarnessFiles::new(&[], &[]).expect("the built-in harness globs compile")
    }
}

impl HarnessFiles {
    /// The built-in list, plus `extra_whole` globs, minus the defaults named in `remove`: a
    /// whole-file glob by its text (`conftest.py`) or a shared file by its name
    /// (`package.json`). Naming something that is not a default is an error, so a typo does
    /// not silently keep the default.
    pub fn new(extra_whole: &[String], remove: &[String]) -> Result<HarnessFiles, BadPattern> {
        for r in remove {
            let r = r.trim();
            if !WHOLE.contains(&r) && !TABLES.iter().any(|t| t.name == r) {
                return Err(BadPattern {
                    pattern: r.to_string(),
                    message: format!(
                        "not a default test-harness file; the defaults are {}, {}",
                        WHOLE.join(", "),
                        TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
        let removed = |name: &str| remove.iter().any(|r| r.trim() == name);
        let patterns: Vec<String> = WHOLE
            .iter()
            .filter(|p| !removed(p))
            .map(|p| p.to_string())
            .chain(extra_whole.iter().map(|p| p.trim().to_string()))
            .collect();
        let mut builder = GlobSetBuilder::new();
        let mut anchored = Vec::with_capacity(patterns.len());
        for p in &patterns {
            let bad = |message: String| BadPattern {
                pattern: p.clone(),
                message,
            };
            let body = p.trim_start_matches('/');
            if body.is_empty() {
                return Err(bad("matches nothing: name a file or a glob".into()));
            }
            let glob = match body.strip_suffix('/') {
                Some(dir) => format!("{dir}/**"),
                None => body.to_string(),
            };
            let g = GlobBuilder::new(&glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| bad(e.kind().to_string()))?;
            builder.add(g);
            anchored.push(p.starts_with('/'));
        }
        let set = builder.build().map_err(|e| BadPattern {
            pattern: patterns.join(", "),
            message: e.to_string(),
        })?;
        Ok(HarnessFiles {
            patterns,
            anchored,
            set,
            tables: TABLES.iter().filter(|t| !removed(t.name)).collect(),
        })
    }

    /// Whether `path` is a whole harness file or a shared file with protected parts.
    pub fn is_harness_path(&self, path: &str) -> bool {
        self.kind(path).is_some()
    }

    /// How `path` is a harness file; a whole-file glob wins over a shared file's name.
    pub(crate) fn kind(&self, path: &str) -> Option<HarnessKind> {
        if self.whole_match(path).is_some() {
            return Some(HarnessKind::Whole);
        }
        self.table(path).map(HarnessKind::Table)
    }

    /// The first whole-file glob (in list order) matching the path or a suffix of it.
    pub(crate) fn whole_match(&self, path: &str) -> Option<&str> {
        if self.patterns.is_empty() {
            return None;
        }
        let mut best: Option<usize> = self.set.matches(path).into_iter().min();
        for (i, _) in path.match_indices('/') {
            let suffix = &path[i + 1..];
            let hit = self
                .set
                .matches(suffix)
                .into_iter()
                .filter(|&g| !self.anchored[g])
                .min();
            best = match (best, hit) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        best.map(|g| self.patterns[g].as_str())
    }

    /// The shared file `path` is, by its name.
    pub(crate) fn table(&self, path: &str) -> Option<&'static TableFile> {
        let name = path.rsplit('/').next().unwrap_or(path);
        self.tables.iter().copied().find(|t| t.name == name)
    }

    /// What grading must use for `path`, given its base content (`None`: absent at base) and
    /// the agent's (`None`: deleted).
    pub fn restore(&self, path: &str, base: Option<&[u8]>, agent: Option<&[u8]>) -> Restore {
        let Some(kind) = self.kind(path) else {
            return Restore::Untouched;
        };
        if base == agent {
            return Restore::Untouched;
        }
        let whole = || Restore::Whole(base.map(<[u8]>::to_vec));
        let table = match kind {
            HarnessKind::Whole => return whole(),
            HarnessKind::Table(t) => t,
        };
        let too_big = |b: Option<&[u8]>| b.is_some_and(|b| b.len() > MAX_PARSED);
        if too_big(base) || too_big(agent) {
            return whole();
        }
        let restored = match table.format {
            Format::Ini => Some(restore_ini(
                table,
                base.unwrap_or_default(),
                agent.unwrap_or_default(),
            )),
            Format::Toml => restore_toml(table, base, agent),
            Format::Json => restore_json(table, base, agent),
        };
        // `None`: the agent's file cannot be read as its format; a broken config is restored
        // whole rather than guessed at.
        restored.unwrap_or_else(whole)
    }
}

// ---- INI ----

/// Python's `str.isspace`: Unicode whitespace plus the information separators.
pub(crate) fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// One line as Python's `str.splitlines` cuts text (pytest's INI reader reads lines that
/// way): `start..content_end` is the text, `content_end..end` its terminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PyLine {
    pub start: usize,
    pub content_end: usize,
    pub end: usize,
}

/// Cuts text where Python would: `\n`, `\r`, `\r\n`, `\v`, `\f`, `\x1c`-`\x1e`, and in UTF-8
/// U+0085, U+2028 and U+2029. Splitting on `\n` alone would let `[x]\x0c[tool:pytest]` hide
/// a section from us that pytest sees.
pub(crate) fn py_lines(text: &[u8]) -> Vec<PyLine> {
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < text.len() {
        let next = |k: usize| text.get(i + k).copied();
        let term = match text[i] {
            b'\r' if next(1) == Some(b'\n') => 2,
            b'\n' | b'\r' | 0x0b | 0x0c | 0x1c | 0x1d | 0x1e => 1,
            0xc2 if next(1) == Some(0x85) => 2,
            0xe2 if next(1) == Some(0x80) && matches!(next(2), Some(0xa8 | 0xa9)) => 3,
            _ => 0,
        };
        if term == 0 {
            i += 1;
            continue;
        }
        out.push(PyLine {
            start,
            content_end: i,
            end: i + term,
        });
        i += term;
        start = i;
    }
    if start < text.len() {
        out.push(PyLine {
            start,
            content_end: text.len(),
            end: text.len(),
        });
    }
    out
}

/// Whether any reader could take this line as the header of section `name`: surrounding
/// whitespace (a byte-order mark too) and whitespace inside the brackets allowed, text after
/// the first or up to the last `]` tried. Generous on purpose: a section is protected from
/// wherever some reader might think it starts.
pub(crate) fn ini_opens(line: &[u8], name: &str) -> bool {
    let s = String::from_utf8_lossy(line);
    let t = s.trim_matches(|c| py_space(c) || c == '\u{feff}');
    let Some(rest) = t.strip_prefix('[') else {
        return false;
    };
    [rest.find(']'), rest.rfind(']')]
        .into_iter()
        .flatten()
        .any(|end| rest[..end].trim_matches(py_space) == name)
}

/// The name of the section this line opens as pytest's reader (iniconfig) reads it: `[` in the
/// first column, comments (`#`, `;`) cut off, then `]` last. Strict on purpose: only a line
/// pytest itself takes as a header ends a protected section.
pub(crate) fn ini_header(line: &[u8]) -> Option<String> {
    if ini_ignored(line) {
        return None;
    }
    let s = String::from_utf8_lossy(line);
    let l = s.trim_end_matches(py_space);
    if !l.starts_with('[') {
        return None;
    }
    let cut = l.find(['#', ';']).map_or(l, |i| &l[..i]);
    let cut = cut.trim_end_matches(py_space);
    cut.strip_prefix('[')?.strip_suffix(']').map(str::to_string)
}

/// Blank and comment lines, which iniconfig skips entirely.
pub(crate) fn ini_ignored(line: &[u8]) -> bool {
    let s = String::from_utf8_lossy(line);
    matches!(
        s.trim_start_matches(py_space).chars().next(),
        None | Some('#' | ';')
    )
}

/// The occurrences of section `name`, as ranges of line indices.
fn ini_regions(text: &[u8], lines: &[PyLine], name: &str) -> Vec<(usize, usize)> {
    let mut regions = Vec::new();
    let mut open: Option<usize> = None;
    for (i, l) in lines.iter().enumerate() {
        let c = &text[l.start..l.content_end];
        if ini_opens(c, name) {
            if let Some(s) = open {
                regions.push((s, i));
            }
            open = Some(i);
        } else if let Some(s) = open {
            if ini_header(c).is_some() {
                regions.push((s, i));
                open = None;
            }
        }
    }
    if let Some(s) = open {
        regions.push((s, lines.len()));
    }
    regions
}

/// What a section says, for comparison: its lines right-trimmed, without the blank and
/// comment lines iniconfig skips; an empty entry marks each occurrence's start.
fn ini_meaning(text: &[u8], lines: &[PyLine], regions: &[(usize, usize)]) -> Vec<String> {
    let mut out = Vec::new();
    for &(s, e) in regions {
        out.push(String::new());
        for l in &lines[s..e] {
            let c = &text[l.start..l.content_end];
            if !ini_ignored(c) {
                out.push(
                    String::from_utf8_lossy(c)
                        .trim_end_matches(py_space)
                        .to_string(),
                );
            }
        }
    }
    out
}

fn restore_ini(table: &TableFile, base: &[u8], agent: &[u8]) -> Restore {
    let base_lines = py_lines(base);
    let mut content = agent.to_vec();
    let mut parts = Vec::new();
    for &name in table.parts {
        let lines = py_lines(&content);
        let have = ini_regions(&content, &lines, name);
        let want = ini_regions(base, &base_lines, name);
        if ini_meaning(&content, &lines, &have) == ini_meaning(base, &base_lines, &want) {
            continue;
        }
        // Every other line stays byte for byte; the base's section goes at the end, where
        // nothing after it can fall into it.
        let mut out = Vec::with_capacity(content.len());
        let mut next = 0;
        for &(s, e) in &have {
            for l in &lines[next..s] {
                out.extend_from_slice(&content[l.start..l.end]);
            }
            next = e;
        }
        for l in &lines[next..] {
            out.extend_from_slice(&content[l.start..l.end]);
        }
        if !want.is_empty() {
            let ends_line = py_lines(&out).last().is_none_or(|l| l.end > l.content_end);
            if !ends_line {
                out.push(b'\n');
            }
            for &(s, e) in &want {
                if let (Some(first), Some(last)) = (base_lines.get(s), base_lines.get(e - 1)) {
                    out.extend_from_slice(&base[first.start..last.end]);
                }
            }
        }
        content = out;
        parts.push(table.display(name));
    }
    if parts.is_empty() {
        Restore::Untouched
    } else {
        Restore::Part { content, parts }
    }
}

// ---- TOML ----

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b)
}

/// A TOML document, or `None` when it is not one (not UTF-8 included).
pub(crate) fn parse_toml(bytes: &[u8]) -> Option<toml::Table> {
    std::str::from_utf8(strip_bom(bytes)).ok()?.parse().ok()
}

/// The value at a key path, through tables only.
pub(crate) fn toml_get<'a, S: AsRef<str>>(
    t: &'a toml::Table,
    path: &[S],
) -> Option<&'a toml::Value> {
    let (last, init) = path.split_last()?;
    let mut cur = t;
    for k in init {
        cur = cur.get(k.as_ref())?.as_table()?;
    }
    cur.get(last.as_ref())
}

/// Sets (or, with `None`, removes) the value at a key path. A non-table in the way is
/// replaced; tables a removal leaves empty go too.
fn toml_set(t: &mut toml::Table, path: &[&str], v: Option<toml::Value>) {
    let Some((&first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match v {
            Some(v) => {
                t.insert(first.to_string(), v);
            }
            None => {
                t.remove(first);
            }
        }
        return;
    }
    match v {
        Some(v) => {
            let entry = t
                .entry(first.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(sub) = entry {
                toml_set(sub, rest, Some(v));
            }
        }
        None => {
            let emptied = match t.get_mut(first) {
                Some(toml::Value::Table(sub)) => {
                    toml_set(sub, rest, None);
                    sub.is_empty()
                }
                _ => false,
            };
            if emptied {
                t.remove(first);
            }
        }
    }
}

/// `None` when the agent's file is not TOML (restored whole). A base that is not TOML has no
/// protected values.
fn restore_toml(table: &TableFile, base: Option<&[u8]>, agent: Option<&[u8]>) -> Option<Restore> {
    let mut doc = match agent {
        Some(a) => parse_toml(a)?,
        None => toml::Table::new(),
    };
    let base_doc = base.and_then(parse_toml);
    let mut parts = Vec::new();
    for &part in table.parts {
        let path: Vec<&str> = part.split('.').collect();
        let want = base_doc.as_ref().and_then(|b| toml_get(b, &path)).cloned();
        if toml_get(&doc, &path) == want.as_ref() {
            continue;
        }
        toml_set(&mut doc, &path, want);
        parts.push(table.display(part));
    }
    if parts.is_empty() {
        return Some(Restore::Untouched);
    }
    let content = toml::to_string(&doc).ok()?.into_bytes();
    Some(Restore::Part { content, parts })
}

// ---- JSON ----

fn json_get<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(v, |cur, k| cur.as_object()?.get(*k))
}

/// As [`toml_set`], for JSON objects.
fn json_set(
    m: &mut serde_json::Map<String, serde_json::Value>,
    path: &[&str],
    v: Option<serde_json::Value>,
) {
    use serde_json::Value;
    let Some((&first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match v {
            Some(v) => {
                m.insert(first.to_string(), v);
            }
            None => {
                m.remove(first);
            }
        }
        return;
    }
    match v {
        Some(v) => {
            let entry = m
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(sub) = entry {
                json_set(sub, rest, Some(v));
            }
        }
        None => {
            let emptied = match m.get_mut(first) {
                Some(Value::Object(sub)) => {
                    json_set(sub, rest, None);
                    sub.is_empty()
                }
                _ => false,
            };
            if emptied {
                m.remove(first);
            }
        }
    }
}

fn parse_json(bytes: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(strip_bom(bytes)).ok()
}

/// `None` when the agent's file is not JSON, or not an object while the base's protected
/// values must go back into it (restored whole).
fn restore_json(table: &TableFile, base: Option<&[u8]>, agent: Option<&[u8]>) -> Option<Restore> {
    let mut doc = match agent {
        Some(a) => parse_json(a)?,
        None => serde_json::Value::Object(serde_json::Map::new()),
    };
    let base_doc = base.and_then(parse_json);
    let mut parts = Vec::new();
    for &part in table.parts {
        let path: Vec<&str> = part.split('.').collect();
        let want = base_doc.as_ref().and_then(|b| json_get(b, &path)).cloned();
        if json_get(&doc, &path) == want.as_ref() {
            continue;
        }
        json_set(doc.as_object_mut()?, &path, want);
        parts.push(table.display(part));
    }
    if parts.is_empty() {
        return Some(Restore::Untouched);
    }
    let mut content = serde_json::to_vec_pretty(&doc).ok()?;
    content.push(b'\n');
    Some(Restore::Part { content, parts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hf() -> HarnessFiles {
        HarnessFiles::default()
    }

    #[test]
    fn the_built_in_list_compiles() {
        let h = HarnessFiles::new(&[], &[]).unwrap();
        assert_eq!(h.patterns.len(), WHOLE.len());
        assert_eq!(h.tables.len(), TABLES.len());
    }

    #[test]
    fn paths() {
        let rows: &[(&str, bool)] = &[
            ("conftest.py", true),
            ("a/b/conftest.py", true),
            ("a/b/conftest.pyc", false),
            ("my_conftest.py", false),
            ("pytest.ini", true),
            ("sub/.pytest.ini", true),
            ("pytest.toml", true),
            ("lib/site-packages/evil.pth", true),
            ("sitecustomize.py", true),
            ("src/usercustomize.py", true),
            (".cargo/config", true),
            (".cargo/config.toml", true),
            ("crates/x/.cargo/config.toml", true),
            (".cargo/credentials.toml", false),
            ("cargo/config.toml", false),
            ("jest.config.js", true),
            ("web/jest.config.ts", true),
            ("jest.setup.js", false),
            ("vitest.config.mts", true),
            ("vitest.workspace.ts", true),
            (".mocharc", true),
            (".mocharc.yml", true),
            ("setup.cfg", true),
            ("tests/pyproject.toml", true),
            ("tox.ini", true),
            ("crates/x/Cargo.toml", true),
            ("cargo.toml", false),
            ("web/package.json", true),
            ("package-lock.json", false),
            ("src/app.py", false),
            ("", false),
            ("/", false),
        ];
        let h = hf();
        for &(path, want) in rows {
            assert_eq!(h.is_harness_path(path), want, "{path}");
        }
    }

    #[test]
    fn extra_and_removed_entries() {
        let h = HarnessFiles::new(
            &["tests/helpers/".into(), "/run_tests.sh".into()],
            &["conftest.py".into(), "package.json".into()],
        )
        .unwrap();
        let rows: &[(&str, bool)] = &[
            ("conftest.py", false),
            ("package.json", false),
            ("tests/helpers/report.py", true),
            ("pkg/tests/helpers/report.py", true),
            ("run_tests.sh", true),
            ("sub/run_tests.sh", false),
            ("pytest.ini", true),
        ];
        for &(path, want) in rows {
            assert_eq!(h.is_harness_path(path), want, "{path}");
        }
        let e = HarnessFiles::new(&[], &["conftest.txt".into()]).unwrap_err();
        assert_eq!(e.pattern, "conftest.txt");
        assert!(e.message.contains("conftest.py"), "{}", e.message);
        let e = HarnessFiles::new(&["src/[a-".into()], &[]).unwrap_err();
        assert_eq!(e.pattern, "src/[a-");
        assert!(HarnessFiles::new(&["/".into()], &[]).is_err());
    }

    fn check(path: &str, base: Option<&str>, agent: Option<&str>, expected: Restore) {
        let got = hf().restore(path, base.map(str::as_bytes), agent.map(str::as_bytes));
        assert_eq!(
            got,
            expected,
            "{path}\n--- base ---\n{base:?}\n--- agent ---\n{agent:?}\n--- got ---\n{}",
            match &got {
                Restore::Part { content, .. } => String::from_utf8_lossy(content).into_owned(),
                _ => String::new(),
            }
        );
    }

    fn whole(s: Option<&str>) -> Restore {
        Restore::Whole(s.map(|s| s.as_bytes().to_vec()))
    }

    fn part(content: &str, parts: &[&str]) -> Restore {
        Restore::Part {
            content: content.as_bytes().to_vec(),
            parts: parts.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn whole_files() {
        let c = "import pytest\n";
        check("conftest.py", Some(c), Some(c), Restore::Untouched);
        check("a/conftest.py", Some(c), Some("evil\n"), whole(Some(c)));
        check("a/conftest.py", None, Some("evil\n"), whole(None));
        check("a/conftest.py", Some(c), None, whole(Some(c)));
        check("a/conftest.py", None, None, Restore::Untouched);
        check("src/app.py", Some(c), Some("x"), Restore::Untouched);
        // A whole-file glob wins over a shared file's name.
        let h = HarnessFiles::new(&["/package.json".into()], &[]).unwrap();
        assert_eq!(
            h.restore("package.json", Some(b"{}"), Some(b"{\"a\":1}")),
            Restore::Whole(Some(b"{}".to_vec()))
        );
    }

    const SETUP_CFG: &str = "[metadata]\nname = x\n\n[tool:pytest]\naddopts = -q\ntestpaths = tests\n\n[flake8]\nmax-line-length = 100\n";

    #[test]
    fn ini_sections() {
        // Other sections edited: untouched.
        let other = SETUP_CFG.replace("100", "120");
        check(
            "setup.cfg",
            Some(SETUP_CFG),
            Some(&other),
            Restore::Untouched,
        );
        // Blank lines, comments and trailing spaces inside the section mean nothing to pytest.
        let cosmetic = SETUP_CFG.replace("addopts = -q\n", "# quiet\naddopts = -q   \n\n");
        check(
            "setup.cfg",
            Some(SETUP_CFG),
            Some(&cosmetic),
            Restore::Untouched,
        );
        // A plugin smuggled in: the section goes back, at the end; other lines stay as they are.
        let evil = SETUP_CFG
            .replace("addopts = -q", "addopts = -q -p pkg._helpers")
            .replace("name = x", "name = y");
        check(
            "setup.cfg",
            Some(SETUP_CFG),
            Some(&evil),
            part(
                "[metadata]\nname = y\n\n[flake8]\nmax-line-length = 100\n[tool:pytest]\naddopts = -q\ntestpaths = tests\n\n",
                &["[tool:pytest]"],
            ),
        );
        // A section the base did not have is removed.
        let base = "[metadata]\nname = x\n";
        check(
            "setup.cfg",
            Some(base),
            Some("[metadata]\nname = x\n[tool:pytest]\naddopts = -p evil\n"),
            part(base, &["[tool:pytest]"]),
        );
        // ... also from a new file, and from a file at any depth.
        check(
            "sub/tox.ini",
            None,
            Some("[tox]\nenvlist = py\n\n[pytest]\naddopts = -p evil\n"),
            part("[tox]\nenvlist = py\n\n", &["[pytest]"]),
        );
        // Deleting the file: the section comes back on its own.
        check(
            "tox.ini",
            Some("[tox]\n[pytest]\naddopts = -q"),
            None,
            part("[pytest]\naddopts = -q", &["[pytest]"]),
        );
        // The agent's file lacks a final newline: the section still starts on its own line.
        check(
            "tox.ini",
            Some("[pytest]\naddopts = -q\n"),
            Some("[tox]\nx = 1"),
            part("[tox]\nx = 1\n[pytest]\naddopts = -q\n", &["[pytest]"]),
        );
        // A header spelled with spaces, a comment, or a second occurrence is still the section.
        for agent in [
            "[tox]\n  [ pytest ]  \naddopts = -p evil\n",
            "[tox]\n[pytest] # the tests\naddopts = -p evil\n",
            "[tox]\n[pytest]\naddopts = -q\n[tox2]\n[pytest]\naddopts = -p evil\n",
        ] {
            let got = hf().restore(
                "tox.ini",
                Some(b"[tox]\n[pytest]\naddopts = -q\n"),
                Some(agent.as_bytes()),
            );
            let Restore::Part { content, .. } = &got else {
                panic!("{agent:?} → {got:?}");
            };
            let text = String::from_utf8_lossy(content);
            assert!(!text.contains("evil"), "{agent:?} → {text:?}");
            assert!(text.ends_with("[pytest]\naddopts = -q\n"), "{text:?}");
        }
        // Case matters, as in pytest: `[PYTEST]` is another section.
        check(
            "tox.ini",
            Some("[tox]\n"),
            Some("[tox]\n[PYTEST]\naddopts = -p evil\n"),
            Restore::Untouched,
        );
        // An indented header is not one to pytest: what follows still belongs to the section.
        check(
            "tox.ini",
            Some("[pytest]\naddopts = -q\n"),
            Some("[pytest]\naddopts = -q\n [other]\n  -p evil\n"),
            part("[pytest]\naddopts = -q\n", &["[pytest]"]),
        );
    }

    #[test]
    fn ini_lines_split_as_python_splits_them() {
        // Python's splitlines cuts at \x0c, \x1c and U+2028: pytest sees a section there.
        for sep in ["\x0c", "\x1c", "\u{2028}", "\r"] {
            let agent = format!("[metadata]{sep}[tool:pytest]{sep}addopts = -p evil{sep}");
            let got = hf().restore("setup.cfg", Some(b"[metadata]\n"), Some(agent.as_bytes()));
            let want = part(&format!("[metadata]{sep}"), &["[tool:pytest]"]);
            assert_eq!(got, want, "{sep:?}");
        }
        // CRLF files keep their line endings.
        check(
            "setup.cfg",
            Some("[tool:pytest]\r\naddopts = -q\r\n"),
            Some("[metadata]\r\nname = x\r\n[tool:pytest]\r\naddopts = -x\r\n"),
            part(
                "[metadata]\r\nname = x\r\n[tool:pytest]\r\naddopts = -q\r\n",
                &["[tool:pytest]"],
            ),
        );
    }

    #[test]
    fn ini_weird_input_does_not_panic() {
        let inputs: &[&[u8]] = &[
            b"",
            b"[",
            b"]",
            b"[]",
            b"[tool:pytest",
            b"\xff\xfe[tool:pytest]\n\xc2",
            b"\xe2\x80",
            b"[tool:pytest]\xe2\x80\xa9addopts=1\xc2\x85",
            b"\r\r\n\n\x0b\x0c",
            b"\xef\xbb\xbf[tool:pytest]\naddopts = -q\n",
        ];
        for base in inputs {
            for agent in inputs {
                let _ = hf().restore("setup.cfg", Some(base), Some(agent));
            }
        }
        // A byte-order mark does not hide a section.
        let got = hf().restore(
            "setup.cfg",
            None,
            Some(b"\xef\xbb\xbf[tool:pytest]\naddopts = -p evil\n"),
        );
        assert_eq!(
            got,
            Restore::Part {
                content: vec![],
                parts: vec!["[tool:pytest]".into()]
            }
        );
    }

    fn toml_of(r: &Restore) -> toml::Table {
        match r {
            Restore::Part { content, .. } => parse_toml(content).expect("valid TOML"),
            other => panic!("not a part: {other:?}"),
        }
    }

    #[test]
    fn toml_tables() {
        let base = "[project]\nname = \"x\"\n\n[tool.pytest.ini_options]\naddopts = \"-q\"\n\n[tool.ruff]\nline-length = 100\n";
        // Formatting only, or another table: untouched.
        check(
            "pyproject.toml",
            Some(base),
            Some("[project]\nname = \"x\"\n[tool.pytest.ini_options]\naddopts = '-q'  # quiet\n[tool.ruff]\nline-length = 120\n"),
            Restore::Untouched,
        );
        check(
            "pyproject.toml",
            Some(base),
            Some("tool.pytest.ini_options.addopts = \"-q\"\n[project]\nname = \"x\"\n[tool.ruff]\nline-length = 100\n"),
            Restore::Untouched,
        );
        // Every spelling of an edit is caught; the agent's other edits stay.
        for agent in [
            "[project]\nname = \"y\"\n[tool.pytest.ini_options]\naddopts = \"-p evil\"\n[tool.ruff]\nline-length = 100\n",
            "tool.pytest.ini_options.addopts = \"-p evil\"\n[project]\nname = \"y\"\n[tool.ruff]\nline-length = 100\n",
            "[project]\nname = \"y\"\n[tool]\npytest = { ini_options = { addopts = \"-p evil\" } }\nruff = { line-length = 100 }\n",
            "[project]\nname = \"y\"\n[tool.\"pytest\".ini_options]\naddopts = \"-p evil\"\n[tool.ruff]\nline-length = 100\n",
        ] {
            let got = hf().restore("pyproject.toml", Some(base.as_bytes()), Some(agent.as_bytes()));
            let t = toml_of(&got);
            assert_eq!(t, parse_toml(base.replace("\"x\"", "\"y\"").as_bytes()).unwrap(), "{agent}");
            let Restore::Part { parts, .. } = got else { unreachable!() };
            assert_eq!(parts, ["tool.pytest"]);
        }
        // A plugin entry point is removed; the table it sat in goes if it is left empty.
        let got = hf().restore(
            "pyproject.toml",
            Some(b"[project]\nname = \"x\"\n"),
            Some(
                b"[project]\nname = \"x\"\n[project.entry-points.pytest11]\nh = \"pkg._helpers\"\n",
            ),
        );
        assert_eq!(
            toml_of(&got),
            parse_toml(b"[project]\nname = \"x\"\n").unwrap()
        );
        // A non-table in the way is replaced.
        let got = hf().restore(
            "pyproject.toml",
            Some(b"[tool.pytest.ini_options]\naddopts = \"-q\"\n"),
            Some(b"tool = 5\n"),
        );
        assert_eq!(
            toml_of(&got),
            parse_toml(b"[tool.pytest.ini_options]\naddopts = \"-q\"\n").unwrap()
        );
        // Broken TOML from the agent: restored whole. A broken base has nothing protected.
        check(
            "pyproject.toml",
            Some(base),
            Some("[tool.pytest\n"),
            whole(Some(base)),
        );
        check("pyproject.toml", None, Some("[tool.pytest\n"), whole(None));
        let got = hf().restore(
            "pyproject.toml",
            Some(b"[tool.pytest\n"),
            Some(b"[tool.pytest.ini_options]\naddopts = \"-p evil\"\n[project]\nname = \"x\"\n"),
        );
        assert_eq!(
            toml_of(&got),
            parse_toml(b"[project]\nname = \"x\"\n").unwrap()
        );
        // Not UTF-8: not TOML.
        let got = hf().restore(
            "pyproject.toml",
            Some(base.as_bytes()),
            Some(b"x = 1\n\xff"),
        );
        assert_eq!(got, whole(Some(base)));
    }

    #[test]
    fn cargo_test_targets() {
        let base =
            "[package]\nname = \"x\"\n\n[lib]\npath = \"src/lib.rs\"\n\n[[test]]\nname = \"it\"\n";
        for agent in [
            "[package]\nname = \"x\"\nversion = \"2\"\n\n[lib]\npath = \"src/lib.rs\"\nharness = false\n\n[[test]]\nname = \"it\"\n",
            "[package]\nname = \"x\"\nversion = \"2\"\n\n[lib]\npath = \"src/lib.rs\"\n\n[[test]]\nname = \"it\"\nharness = false\n",
            "lib = { path = \"src/lib.rs\", test = false }\n[package]\nname = \"x\"\nversion = \"2\"\n\n[[test]]\nname = \"it\"\n[[test]]\nname = \"fake\"\n",
        ] {
            let got = hf().restore("Cargo.toml", Some(base.as_bytes()), Some(agent.as_bytes()));
            let want = parse_toml(base.replace("name = \"x\"\n", "name = \"x\"\nversion = \"2\"\n").as_bytes()).unwrap();
            assert_eq!(toml_of(&got), want, "{agent}");
        }
        check(
            "Cargo.toml",
            Some(base),
            Some(&base.replace("[package]", "[package]\n")),
            Restore::Untouched,
        );
    }

    fn json_of(r: &Restore) -> serde_json::Value {
        match r {
            Restore::Part { content, .. } => serde_json::from_slice(content).expect("valid JSON"),
            other => panic!("not a part: {other:?}"),
        }
    }

    #[test]
    fn package_json() {
        let base = r#"{"name": "x", "scripts": {"test": "jest", "build": "tsc"}, "devDependencies": {"jest": "^29"}}"#;
        check(
            "package.json",
            Some(base),
            Some("{\n  \"name\": \"x\",\n  \"scripts\": {\"build\": \"tsc -b\", \"test\": \"jest\"},\n  \"devDependencies\": {\"jest\": \"^29\", \"ts\": \"5\"}\n}\n"),
            Restore::Untouched,
        );
        let agent = r#"{"name": "x", "scripts": {"test": "echo ok", "pretest": "node patch.js", "build": "tsc"}, "jest": {"reporters": ["./r.js"]}, "devDependencies": {"jest": "^29"}}"#;
        let got = hf().restore(
            "web/package.json",
            Some(base.as_bytes()),
            Some(agent.as_bytes()),
        );
        assert_eq!(
            json_of(&got),
            serde_json::from_str::<serde_json::Value>(base).unwrap()
        );
        let Restore::Part { parts, content } = &got else {
            unreachable!()
        };
        assert_eq!(parts, &["scripts.test", "scripts.pretest", "jest"]);
        assert!(content.ends_with(b"}\n"));
        // The scripts table removed whole: the test script comes back alone.
        let got = hf().restore(
            "package.json",
            Some(base.as_bytes()),
            Some(br#"{"name": "x"}"#),
        );
        assert_eq!(
            json_of(&got),
            serde_json::json!({"name": "x", "scripts": {"test": "jest"}})
        );
        // Duplicate keys: the last one counts, as in JavaScript.
        let got = hf().restore(
            "package.json",
            Some(base.as_bytes()),
            Some(br#"{"name": "x", "scripts": {"test": "jest", "build": "tsc"}, "devDependencies": {"jest": "^29"}, "scripts": {"test": "true"}}"#),
        );
        assert_eq!(
            json_of(&got)["scripts"],
            serde_json::json!({"test": "jest"})
        );
        // Not JSON, or not an object where one is needed: restored whole.
        check(
            "package.json",
            Some(base),
            Some("{\"scripts\": "),
            whole(Some(base)),
        );
        check(
            "package.json",
            Some(base),
            Some("[1, 2]"),
            whole(Some(base)),
        );
        check(
            "package.json",
            Some("[1]"),
            Some("[1, 2]"),
            Restore::Untouched,
        );
        // A byte-order mark is fine.
        check(
            "package.json",
            Some(base),
            Some(&format!("\u{feff}{base}")),
            Restore::Untouched,
        );
    }

    #[test]
    fn huge_files_are_not_parsed() {
        let mut big = b"[tool:pytest]\naddopts = -q\n".to_vec();
        big.resize(MAX_PARSED + 1, b'#');
        let got = hf().restore("setup.cfg", Some(b"[metadata]\n"), Some(&big));
        assert_eq!(got, Restore::Whole(Some(b"[metadata]\n".to_vec())));
        // Deeply nested JSON and TOML are refused by their parsers, not by the stack.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let got = hf().restore("package.json", Some(b"{}"), Some(deep.as_bytes()));
        assert_eq!(got, Restore::Whole(Some(b"{}".to_vec())));
        let deep = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let got = hf().restore("Cargo.toml", Some(b""), Some(deep.as_bytes()));
        assert_eq!(got, Restore::Whole(Some(Vec::new())));
        for deep in [
            format!("{} = 1\n", vec!["a"; 100_000].join(".")),
            format!("[{}]\n", vec!["a"; 100_000].join(".")),
        ] {
            let got = hf().restore("Cargo.toml", Some(b""), Some(deep.as_bytes()));
            assert_eq!(got, Restore::Whole(Some(Vec::new())));
        }
    }
}
