//! Command rules, the pure half: read a formatter's or linter's output from
//! the base tree and from the patched tree, and keep only the findings the
//! patch introduced, so no agent is blamed for the repository's old debt.
//!
//! Findings are matched by (path, code, message). Lines move when a patch
//! adds or removes lines above a finding, so a base finding's line is first
//! mapped through the patch's hunks; what still does not line up is matched
//! by count, leaving as new the findings that sit on lines the patch added.
//!
//! Output formats understood: `path:line[:col]: message` (gcc, ruff,
//! flake8, mypy, eslint's unix format, golangci-lint, shellcheck's gcc
//! format, `cargo clippy --message-format short`), rustc's and clippy's
//! human format (`warning: ...` then ` --> path:line:col`), bare path lists
//! (`gofmt -l`, `prettier -l`), and, when nothing else fits, one finding per
//! output line.

use std::collections::{BTreeMap, HashMap};

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::catalog::{self, RuleInfo};
pub use super::config::LintFormat;
use super::config::{CommandLine, CommandRule, Severity};
use super::diff::{LineKind, ParsedDiff};
use super::path;
use super::report::Finding;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintFinding {
    pub path: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub code: Option<String>,
    pub message: String,
}

/// Output lines read per run; a linter gone wild cannot exhaust memory.
const MAX_OUTPUT_LINES: usize = 200_000;

struct Patterns {
    gcc: Regex,
    level: Regex,
    lead_code: Regex,
    tail_bracket: Regex,
    tail_paren: Regex,
    rust_header: Regex,
    rust_arrow: Regex,
    rust_lint: Regex,
}

impl Patterns {
    fn new() -> Patterns {
        // cannot fail: constant patterns, compiled by every test of this module.
        let r = |p: &str| Regex::new(p).expect("built-in pattern");
        Patterns {
            gcc: r(r"^([^\s:][^:]*?):(\d+)(?::(\d+))?(?::|\s)\s*(.*)$"),
            level: r(
                r"^(?i:(error|warning|warn|note|info|help|hint|style|convention|refactor|fatal))(?:\[([^\]]+)\])?\s*:\s*",
            ),
            lead_code: r(r"^(?:\[\*\]\s*)?([A-Z]{1,5}[0-9]{1,5})(?:\s*\[\*\])?(?:\s+|:\s*|$)"),
            tail_bracket: r(r"\s*\[([A-Za-z0-9_\-/.:]+)\]\s*$"),
            tail_paren: r(r"\s*\(([a-z][a-z0-9_\-]*)\)\s*$"),
            rust_header: r(r"^(error|warning)(?:\[([^\]]+)\])?: (.+)$"),
            rust_arrow: r(r"^\s*--> (.+?):(\d+):(\d+)\s*$"),
            rust_lint: r(r"#\[(?:warn|deny|forbid)\(([A-Za-z0-9_:]+)\)\]"),
        }
    }
}

fn clean_path(raw: &str, strip_prefix: &[String]) -> String {
    let mut p = raw.trim();
    for pre in strip_prefix {
        if let Some(rest) = p.strip_prefix(pre.as_str()) {
            p = rest;
            break;
        }
    }
    let p = p.trim_start_matches("./");
    path::normalise(p).0
}

fn looks_like_path(line: &str) -> bool {
    !line.is_empty()
        && line.len() < 4096
        && !line.chars().any(char::is_whitespace)
        && (line.contains('/') || line.contains('.'))
        && !line.ends_with(':')
}

/// Splits a message into (code, message).
fn split_code(p: &Patterns, rest: &str) -> (Option<String>, String) {
    let mut msg = rest.trim().to_string();
    let mut code = None;
    if let Some(c) = p.level.captures(&msg) {
        code = c.get(2).map(|m| m.as_str().to_string());
        msg = msg[c.get_match().end()..].to_string();
    }
    if code.is_none() {
        if let Some(c) = p.lead_code.captures(&msg) {
            code = Some(c[1].to_string());
            msg = msg[c.get_match().end()..].to_string();
        }
    }
    if code.is_none() {
        if let Some(c) = p
            .tail_bracket
            .captures(&msg)
            .or_else(|| p.tail_paren.captures(&msg))
        {
            code = Some(c[1].to_string());
            msg = msg[..c.get_match().start()].to_string();
        }
    }
    let msg = msg
        .trim_start_matches("[*]")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (code, msg)
}

fn parse_gcc(p: &Patterns, text: &str, strip: &[String]) -> Vec<LintFinding> {
    let mut out = Vec::new();
    for line in text.lines().take(MAX_OUTPUT_LINES) {
        let Some(c) = p.gcc.captures(line.trim_end()) else {
            continue;
        };
        let raw_path = &c[1];
        if !(raw_path.contains('.') || raw_path.contains('/')) {
            continue;
        }
        let (code, message) = split_code(p, c.get(4).map_or("", |m| m.as_str()));
        out.push(LintFinding {
            path: Some(clean_path(raw_path, strip)),
            line: c[2].parse().ok(),
            column: c.get(3).and_then(|m| m.as_str().parse().ok()),
            code,
            message,
        });
    }
    out
}

fn parse_rustc(p: &Patterns, text: &str, strip: &[String]) -> Vec<LintFinding> {
    let mut out: Vec<LintFinding> = Vec::new();
    let mut header: Option<(Option<String>, String)> = None;
    let mut last_has_lint = true;
    for line in text.lines().take(MAX_OUTPUT_LINES) {
        if let Some(c) = p.rust_header.captures(line) {
            header = Some((c.get(2).map(|m| m.as_str().to_string()), c[3].to_string()));
            continue;
        }
        if let Some(c) = p.rust_arrow.captures(line) {
            if let Some((code, message)) = header.take() {
                last_has_lint = code.is_some();
                out.push(LintFinding {
                    path: Some(clean_path(&c[1], strip)),
                    line: c[2].parse().ok(),
                    column: c[3].parse().ok(),
                    code,
                    message,
                });
            }
            continue;
        }
        if !last_has_lint {
            if let Some(c) = p.rust_lint.captures(line) {
                if let Some(f) = out.last_mut() {
                    f.code = Some(c[1].to_string());
                    last_has_lint = true;
                }
            }
        }
    }
    out
}

fn parse_paths(text: &str, strip: &[String]) -> Vec<LintFinding> {
    text.lines()
        .take(MAX_OUTPUT_LINES)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| LintFinding {
            path: Some(clean_path(l, strip)),
            line: None,
            column: None,
            code: None,
            message: String::new(),
        })
        .collect()
}

fn parse_lines(text: &str) -> Vec<LintFinding> {
    text.lines()
        .take(MAX_OUTPUT_LINES)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| LintFinding {
            path: None,
            line: None,
            column: None,
            code: None,
            message: l.to_string(),
        })
        .collect()
}

/// Reads a command's output (stdout and stderr together, in any encoding).
pub fn parse_output(
    output: &[u8],
    format: LintFormat,
    strip_prefix: &[String],
) -> Vec<LintFinding> {
    let text = String::from_utf8_lossy(output);
    let p = Patterns::new();
    match format {
        LintFormat::Gcc => parse_gcc(&p, &text, strip_prefix),
        LintFormat::Rustc => parse_rustc(&p, &text, strip_prefix),
        LintFormat::Paths => parse_paths(&text, strip_prefix),
        LintFormat::Lines => parse_lines(&text),
        LintFormat::Auto => {
            let mut found = parse_rustc(&p, &text, strip_prefix);
            found.extend(parse_gcc(&p, &text, strip_prefix));
            if !found.is_empty() {
                return found;
            }
            let nonempty: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            if !nonempty.is_empty() && nonempty.iter().all(|l| looks_like_path(l)) {
                return parse_paths(&text, strip_prefix);
            }
            parse_lines(&text)
        }
    }
}

/// Matching key: path, code, and the message with whitespace collapsed
/// (and, for findings with no location, digits masked: such lines are
/// usually summaries whose counts change).
fn key(f: &LintFinding) -> (Option<String>, Option<String>, String) {
    let mut m: String = f.message.split_whitespace().collect::<Vec<_>>().join(" ");
    if f.path.is_none() {
        m = m
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
    }
    (f.path.clone(), f.code.clone(), m)
}

/// The findings in `patched` that are not in `base`. With `diff`, base
/// lines and renamed paths are carried through the patch first.
pub fn introduced(
    base: &[LintFinding],
    patched: &[LintFinding],
    diff: Option<&ParsedDiff>,
) -> Vec<LintFinding> {
    // Where each base finding sits after the patch.
    let moved: Vec<LintFinding> = base
        .iter()
        .filter_map(|f| {
            let (Some(d), Some(p)) = (diff, f.path.as_deref()) else {
                return Some(f.clone());
            };
            let Some(file) = d.files.iter().find(|x| x.old_path.as_deref() == Some(p)) else {
                return Some(f.clone());
            };
            let new_path = file.new_path.clone()?;
            // A line the patch removed maps to 0, which matches nothing.
            let line = f.line.map(|l| d.map_old_line(file, l).unwrap_or(0));
            Some(LintFinding {
                path: Some(new_path),
                line,
                ..f.clone()
            })
        })
        .collect();

    let mut added_lines: HashMap<String, Vec<u32>> = HashMap::new();
    let mut on_added = |path: &Option<String>, line: Option<u32>| -> bool {
        let (Some(d), Some(p), Some(l)) = (diff, path.as_deref(), line) else {
            return false;
        };
        let lines = added_lines.entry(p.to_string()).or_insert_with(|| {
            d.files
                .iter()
                .find(|f| f.new_path.as_deref() == Some(p))
                .map(|f| {
                    d.lines(f)
                        .filter(|x| x.kind == LineKind::Added)
                        .filter_map(|x| x.new_line)
                        .collect()
                })
                .unwrap_or_default()
        });
        lines.binary_search(&l).is_ok()
    };

    let mut base_by_key: BTreeMap<_, Vec<Option<u32>>> = BTreeMap::new();
    for f in &moved {
        base_by_key.entry(key(f)).or_default().push(f.line);
    }
    let mut by_key: BTreeMap<_, Vec<usize>> = BTreeMap::new();
    for (i, f) in patched.iter().enumerate() {
        by_key.entry(key(f)).or_default().push(i);
    }

    let mut is_new = vec![false; patched.len()];
    for (k, idxs) in by_key {
        let mut pool = base_by_key.remove(&k).unwrap_or_default();
        let mut rest = Vec::new();
        for i in idxs {
            let l = patched[i].line;
            if let Some(pos) = pool.iter().position(|&b| b == l && l.is_some()) {
                pool.swap_remove(pos);
            } else {
                rest.push(i);
            }
        }
        // Findings away from added lines are the likeliest to be old ones
        // that moved; match those first.
        rest.sort_by_key(|&i| (on_added(&patched[i].path, patched[i].line), patched[i].line));
        for i in rest {
            if pool.pop().is_none() {
                is_new[i] = true;
            }
        }
    }
    patched
        .iter()
        .zip(is_new)
        .filter(|(_, n)| *n)
        .map(|(f, _)| f.clone())
        .collect()
}

fn command_text(run: &CommandLine) -> String {
    match run {
        CommandLine::Shell(s) => s.clone(),
        CommandLine::Argv(v) => v.join(" "),
    }
}

pub fn rule_id(rule: &CommandRule) -> String {
    format!("command.{}", rule.name)
}

/// The SARIF/report description of a command rule.
pub fn rule_info(rule: &CommandRule) -> RuleInfo {
    let id = rule_id(rule);
    RuleInfo {
        name: catalog::pascal(&id),
        id,
        description: format!(
            "New findings of `{}` that the patch introduced.",
            command_text(&rule.run)
        ),
        help: format!(
            "Run `{}` and fix what it reports in the changed code.",
            command_text(&rule.run)
        ),
        default_severity: rule.severity.unwrap_or(Severity::Error),
        security: false,
    }
}

/// Parses both outputs of a command rule and turns what the patch
/// introduced into findings. Add them to a report with
/// [`ConventionReport::absorb`](super::report::ConventionReport::absorb).
pub fn command_findings(
    rule: &CommandRule,
    base_output: &[u8],
    patched_output: &[u8],
    diff: &ParsedDiff,
) -> Vec<Finding> {
    let severity = rule.severity.unwrap_or(Severity::Error);
    if severity == Severity::Off {
        return Vec::new();
    }
    let base = parse_output(base_output, rule.format, &rule.strip_prefix);
    let patched = parse_output(patched_output, rule.format, &rule.strip_prefix);
    let id = rule_id(rule);
    let cmd = command_text(&rule.run);
    introduced(&base, &patched, Some(diff))
        .into_iter()
        .map(|f| {
            let message = match (&f.code, f.message.is_empty()) {
                (Some(c), false) => format!("{c}: {}", f.message),
                (Some(c), true) => c.clone(),
                (None, false) => f.message.clone(),
                (None, true) => format!("reported by `{cmd}`"),
            };
            Finding {
                rule_id: id.clone(),
                severity,
                path: f.path,
                line: f.line.filter(|&l| l > 0),
                column: f.column.filter(|&c| c > 0),
                message,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::diff::parse;
    use super::*;

    /// (path, line, code, message)
    type Row = (Option<String>, Option<u32>, Option<String>, String);

    fn codes(out: &str, format: LintFormat) -> Vec<Row> {
        parse_output(out.as_bytes(), format, &["/workspace/".to_string()])
            .into_iter()
            .map(|f| (f.path, f.line, f.code, f.message))
            .collect()
    }

    #[test]
    fn output_format_table() {
        let s = |x: &str| Some(x.to_string());
        let rows: Vec<(&str, LintFormat, Vec<Row>)> = vec![
            (
                "src/a.py:1:8: F401 [*] `os` imported but unused\nFound 1 error.\n",
                LintFormat::Auto,
                vec![(s("src/a.py"), Some(1), s("F401"), "`os` imported but unused".into())],
            ),
            (
                "/workspace/pkg/a.py:12: error: Incompatible types  [assignment]\n",
                LintFormat::Auto,
                vec![(s("pkg/a.py"), Some(12), s("assignment"), "Incompatible types".into())],
            ),
            (
                "warning: unused variable: `x`\n --> src/main.rs:2:9\n  |\n2 |     let x = 1;\n  = note: `#[warn(unused_variables)]` on by default\n\nwarning: `demo` (bin \"demo\") generated 1 warning\n",
                LintFormat::Auto,
                vec![(s("src/main.rs"), Some(2), s("unused_variables"), "unused variable: `x`".into())],
            ),
            (
                "src/main.rs:3:5: error[E0308]: mismatched types\n",
                LintFormat::Gcc,
                vec![(s("src/main.rs"), Some(3), s("E0308"), "mismatched types".into())],
            ),
            (
                "main.go:10:2: Error return value is not checked (errcheck)\n",
                LintFormat::Auto,
                vec![(s("main.go"), Some(10), s("errcheck"), "Error return value is not checked".into())],
            ),
            (
                "cmd/main.go\ninternal/x.go\n",
                LintFormat::Auto,
                vec![
                    (s("cmd/main.go"), None, None, String::new()),
                    (s("internal/x.go"), None, None, String::new()),
                ],
            ),
            (
                "Something odd happened\n\n",
                LintFormat::Auto,
                vec![(None, None, None, "Something odd happened".into())],
            ),
        ];
        for (out, fmt, want) in rows {
            assert_eq!(codes(out, fmt), want, "{out}");
        }
    }

    fn lf(path: &str, line: u32, code: &str, msg: &str) -> LintFinding {
        LintFinding {
            path: Some(path.into()),
            line: Some(line),
            column: None,
            code: Some(code.into()),
            message: msg.into(),
        }
    }

    /// The base tree already has findings; only the one the patch adds
    /// counts, although the old ones moved down by the inserted lines.
    #[test]
    fn only_new_findings_count_even_when_old_ones_move() {
        let diff = "diff --git a/src/a.py b/src/a.py\n--- a/src/a.py\n+++ b/src/a.py\n@@ -1,2 +1,4 @@\n import os\n+import sys\n+import re\n x = 1\n";
        let d = parse(diff.as_bytes());
        let base = vec![
            lf("src/a.py", 1, "F401", "`os` imported but unused"),
            lf("src/b.py", 7, "E501", "line too long"),
            lf("src/a.py", 2, "E225", "missing whitespace"),
        ];
        let patched = vec![
            lf("src/a.py", 1, "F401", "`os` imported but unused"),
            lf("src/a.py", 2, "F401", "`sys` imported but unused"),
            lf("src/b.py", 7, "E501", "line too long"),
            lf("src/a.py", 4, "E225", "missing whitespace"),
        ];
        let new = introduced(&base, &patched, Some(&d));
        assert_eq!(
            new,
            vec![lf("src/a.py", 2, "F401", "`sys` imported but unused")]
        );
    }

    #[test]
    fn same_message_twice_new_one_is_on_the_added_line() {
        let diff = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -5,0 +6 @@\n+y=2\n";
        let d = parse(diff.as_bytes());
        let base = vec![lf("a.py", 3, "E225", "missing whitespace")];
        // The linter moved the old one's line in a way the hunks do not
        // explain (say, it reports statement starts); the added line wins.
        let patched = vec![
            lf("a.py", 6, "E225", "missing whitespace"),
            lf("a.py", 2, "E225", "missing whitespace"),
        ];
        let new = introduced(&base, &patched, Some(&d));
        assert_eq!(new, vec![lf("a.py", 6, "E225", "missing whitespace")]);
    }

    #[test]
    fn renamed_file_keeps_its_old_findings() {
        let diff = "diff --git a/old.py b/new.py\nsimilarity index 100%\nrename from old.py\nrename to new.py\n";
        let d = parse(diff.as_bytes());
        let base = vec![lf("old.py", 3, "E1", "m")];
        let patched = vec![lf("new.py", 3, "E1", "m")];
        assert!(introduced(&base, &patched, Some(&d)).is_empty());
    }

    #[test]
    fn summary_lines_with_changed_counts_are_not_new() {
        let base = parse_output(b"Checked 10 files, 3 problems\n", LintFormat::Lines, &[]);
        let patched = parse_output(b"Checked 11 files, 4 problems\n", LintFormat::Lines, &[]);
        assert!(introduced(&base, &patched, None).is_empty());
    }

    #[test]
    fn command_findings_for_a_linter_with_old_debt() {
        let rule = CommandRule {
            name: "ruff".into(),
            run: CommandLine::Shell("ruff check --output-format concise .".into()),
            severity: None,
            format: LintFormat::Auto,
            strip_prefix: vec![],
            timeout: None,
        };
        let diff = "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1 +1,2 @@\n import os\n+import json\n";
        let d = parse(diff.as_bytes());
        let base = b"app.py:1:8: F401 [*] `os` imported but unused\nlegacy.py:40:1: E722 Do not use bare `except`\nFound 2 errors.\n";
        let patched = b"app.py:1:8: F401 [*] `os` imported but unused\napp.py:2:8: F401 [*] `json` imported but unused\nlegacy.py:40:1: E722 Do not use bare `except`\nFound 3 errors.\n";
        let f = command_findings(&rule, base, patched, &d);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule_id, "command.ruff");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].path.as_deref(), Some("app.py"));
        assert_eq!(f[0].line, Some(2));
        assert_eq!(f[0].message, "F401: `json` imported but unused");
    }
}
