//! Debugging leftovers in added code, by language. Two kinds:
//!
//! - **stops**: `dbg!`, `breakpoint()`, `pdb`, `debugger`, `binding.pry`, `var_dump`,
//!   `spew.Dump`... never meant to be committed, flagged everywhere but in tests;
//! - **prints**: `println!`/`eprintln!`/`print!`/`eprint!` (Rust), `fmt.Print*` and
//!   `println` (Go), `print(` (Python), `console.log` (JS/TS), `System.out.print*`
//!   (Java)... a leftover in library code, the point of tests, binaries and examples, so
//!   those are left alone: test paths and Rust `#[cfg(test)]` modules, and entry points
//!   (Rust `src/main.rs`, `src/bin/`, `build.rs`, `examples/`, `benches/`; Go `cmd/`,
//!   `main.go` and any `package main`; `bin/`, `scripts/`, `__main__.py`).
//!
//! Which patterns apply depends on the file's extension, so prose and docs are left alone.
//! A repository that prints on purpose lists the calls in `allow` (`["println!"]`).

use regex::bytes::Regex;

use super::{CompileError, FileCtx, LineRule, Toggle};
use crate::conventions::catalog;
use crate::conventions::config::DebugRule as DebugConfig;
use crate::conventions::defaults;
use crate::conventions::diff::{DiffLine, LineKind};
use crate::conventions::globs::PathSet;
use crate::conventions::path;
use crate::conventions::report::Sink;

/// A language: its extensions, its stops and its prints (`None`: nothing of that kind).
struct Lang {
    exts: &'static [&'static str],
    stops: Option<&'static str>,
    prints: Option<&'static str>,
}

const LANGUAGES: &[Lang] = &[
    Lang {
        exts: &["py", "pyw"],
        stops: Some(
            r"(?-u:\b)breakpoint\s*\(\s*\)|^\s*(?:import|from)\s+i?pdb(?-u:\b)|(?-u:\b)i?pdb\.set_trace\s*\(",
        ),
        prints: Some(r"^\s*print\s*\("),
    },
    Lang {
        exts: &["rs"],
        stops: Some(r"(?-u:\b)dbg!\s*\("),
        prints: Some(r"(?-u:\b)e?print(?:ln)?!\s*[(\[{]"),
    },
    Lang {
        exts: &["js", "jsx", "ts", "tsx", "mjs", "cjs", "vue", "svelte"],
        stops: Some(r"^\s*debugger\s*;?\s*$"),
        prints: Some(r"(?-u:\b)console\.(?:log|debug|trace|dir)\s*\("),
    },
    Lang {
        exts: &["go"],
        stops: Some(r"(?-u:\b)spew\.(?:Dump|Printf?)\s*\("),
        prints: Some(r"^\s*println\s*\(|(?-u:\b)fmt\.Print(?:ln|f)?\s*\("),
    },
    Lang {
        exts: &["rb"],
        stops: Some(r"(?-u:\b)binding\.(?:pry|irb)(?-u:\b)|^\s*byebug(?-u:\b)"),
        prints: None,
    },
    Lang {
        exts: &["php"],
        stops: Some(r"(?-u:\b)(?:var_dump|print_r|dd)\s*\("),
        prints: None,
    },
    Lang {
        exts: &["java", "kt", "scala"],
        stops: Some(r"\.printStackTrace\s*\(\s*\)"),
        prints: Some(r"(?-u:\b)System\.(?:out|err)\.print(?:ln)?\s*\("),
    },
];

/// Where printing is the point: binaries, build scripts, examples, benchmarks, scripts.
const ENTRY_POINTS: &[&str] = &[
    "src/main.rs",
    "src/bin/",
    "build.rs",
    "examples/",
    "example/",
    "benches/",
    "cmd/",
    "main.go",
    "bin/",
    "scripts/",
    "__main__.py",
];

pub(crate) struct DebugRule {
    toggle: Toggle,
    languages: Vec<(&'static [&'static str], Option<Regex>, Option<Regex>)>,
    allow: Vec<String>,
    tests: PathSet,
    entry_points: PathSet,
}

impl DebugRule {
    pub fn compile(cfg: &DebugConfig) -> Result<DebugRule, CompileError> {
        let toggle = super::RuleToggle {
            severity: cfg.severity,
            exclude: cfg.exclude.clone(),
        };
        // cannot fail: constant patterns, compiled by every test of this rule.
        let re = |p: Option<&str>| p.map(|p| Regex::new(p).expect("built-in pattern"));
        Ok(DebugRule {
            toggle: Toggle::compile(
                "conventions.debug_leftovers.exclude glob",
                &toggle,
                catalog::DEBUG_LEFTOVER,
            )?,
            languages: LANGUAGES
                .iter()
                .map(|l| (l.exts, re(l.stops), re(l.prints)))
                .collect(),
            allow: cfg.allow.iter().map(|a| a.trim().to_string()).collect(),
            // cannot fail: constant globs, compiled by every test of this rule.
            tests: PathSet::new(defaults::TEST_FILES).expect("built-in globs"),
            entry_points: PathSet::new(ENTRY_POINTS).expect("built-in globs"),
        })
    }

    pub fn visitor(&self) -> DebugVisitor<'_> {
        DebugVisitor {
            rule: self,
            stops: None,
            prints: None,
            ext: String::new(),
            in_test_module: false,
            last_old: 0,
            test_from: None,
            main_package: None,
        }
    }
}

pub(crate) struct DebugVisitor<'a> {
    rule: &'a DebugRule,
    stops: Option<&'a Regex>,
    /// None in a file where printing is the point.
    prints: Option<&'a Regex>,
    ext: String,
    /// A Rust `#[cfg(test)]` line was seen above, in this file's hunks.
    in_test_module: bool,
    /// The last line of the old file seen, to place an added line in the base.
    last_old: u32,
    /// Rust: the base file's first `#[cfg(test)]` line (looked up on the first print).
    test_from: Option<Option<u32>>,
    /// Go: whether the file is `package main` (looked up on the first print).
    main_package: Option<bool>,
}

/// The call a finding names, as `allow` lists it: `println!`, `fmt.Println`, `print`.
fn call_name(found: &[u8]) -> String {
    String::from_utf8_lossy(found)
        .trim()
        .trim_end_matches(['(', '[', '{'])
        .trim()
        .to_string()
}

fn first_cfg_test(text: &[u8]) -> Option<u32> {
    text.split(|&b| b == b'\n')
        .position(|l| l.trim_ascii_start().starts_with(b"#[cfg(test)]"))
        .map(|i| i as u32 + 1)
}

fn is_package_main(text: &[u8]) -> bool {
    text.split(|&b| b == b'\n')
        .any(|l| l.trim_ascii() == b"package main")
}

impl DebugVisitor<'_> {
    /// Whether a print on this added line is test or entry-point code, where it belongs.
    fn printing_is_the_point(&mut self, ctx: &FileCtx) -> bool {
        match self.ext.as_str() {
            "rs" => {
                if self.in_test_module {
                    return true;
                }
                let from = *self
                    .test_from
                    .get_or_insert_with(|| ctx.base().and_then(first_cfg_test));
                from.is_some_and(|from| self.last_old >= from)
            }
            "go" => *self
                .main_package
                .get_or_insert_with(|| ctx.base().is_some_and(is_package_main)),
            _ => false,
        }
    }
}

impl LineRule for DebugVisitor<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        if !self.rule.toggle.applies(ctx.path) {
            return false;
        }
        self.ext = path::extension(ctx.path).unwrap_or_default();
        let Some((_, stops, prints)) = self
            .rule
            .languages
            .iter()
            .find(|(exts, _, _)| exts.contains(&self.ext.as_str()))
        else {
            return false;
        };
        let test_path = self.rule.tests.is_match(ctx.path);
        // In tests nothing is a leftover; in entry points only the stops are.
        self.stops = stops.as_ref().filter(|_| !test_path);
        self.prints = prints
            .as_ref()
            .filter(|_| !test_path && !self.rule.entry_points.is_match(ctx.path));
        self.in_test_module = false;
        self.last_old = 0;
        self.test_from = None;
        self.main_package = None;
        self.stops.is_some() || self.prints.is_some()
    }

    fn line(&mut self, ctx: &FileCtx, line: &DiffLine, sink: &mut Sink) {
        if let Some((old, _)) = line.hunk_start {
            self.last_old = old.saturating_sub(1);
        }
        if let Some(n) = line.old_line {
            self.last_old = n;
        }
        let text = line.text();
        if line.kind != LineKind::Removed {
            let code = text.trim_ascii_start();
            if self.ext == "rs" && code.starts_with(b"#[cfg(test)]") {
                self.in_test_module = true;
            }
            if self.ext == "go" && code.trim_ascii_end() == b"package main" {
                self.main_package = Some(true);
            }
        }
        if line.kind != LineKind::Added {
            return;
        }
        let found = match self.stops.and_then(|re| re.find(text)) {
            Some(m) => Some(m),
            None => match self.prints.and_then(|re| re.find(text)) {
                Some(m) if !self.printing_is_the_point(ctx) => Some(m),
                _ => None,
            },
        };
        let Some(m) = found else { return };
        let name = call_name(m.as_bytes());
        if self.rule.allow.contains(&name) {
            return;
        }
        sink.push(
            catalog::DEBUG_LEFTOVER,
            self.rule.toggle.severity,
            Some(ctx.path),
            line.new_line,
            || format!("debugging leftover `{name}`"),
        );
    }

    fn end(&mut self, _: &FileCtx, _: &mut Sink) {}
}
