//! Canary tests: two tests planted next to a graded run's hidden tests, one that must pass
//! and one that must fail, so that a run whose printed results were forged gives itself away.
//!
//! Code the patch controls runs inside the test process and can print anything, such as a
//! complete report with every test passed followed by an exit with status 0. It cannot know
//! the canaries: their names and values are drawn at random for each grading run and they
//! look like the tests around them. They live in files the test command already runs
//! (beside the fail_to_pass tests), so they run in the same process as the real tests. A
//! forged report then either leaves out the must-pass canary, reports the must-fail one as
//! passed, or exits 0 although a test failed; [`check`] reads that, and [`strip`] removes
//! the canaries before the run is graded.
//!
//! Pure: no IO. The repository is read through the caller's `read`, and the planned
//! [`Edit`]s are applied by the caller.

use crate::testparse::{Format, Summary, TestRun, TestStatus};
use rand::seq::SliceRandom;
use rand::Rng;

/// The two canaries of one grading run and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canaries {
    /// Test id, as the run's parser reports it, of the test that passes when it runs.
    pub must_pass: String,
    /// Test id of the test that fails when it runs.
    pub must_fail: String,
    pub edits: Vec<Edit>,
    /// Set for runners whose ids come from a template the repository may configure
    /// (jest-junit, mocha's TAP): a case is a canary when its id contains the canary's
    /// title, and the unit it shares with real tests is named by [`ByTitle::unit`].
    pub by_title: Option<ByTitle>,
}

/// How canaries are found in a run whose ids carry no file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByTitle {
    /// Required test ids whose title appears (quoted) in the canaries' file: the tests that
    /// run in the same file as the canaries.
    pub unit: Vec<String>,
}

/// Text appended to an existing file, or a new file, relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    Append { path: String, text: String },
    Create { path: String, text: String },
}

impl Canaries {
    /// Canaries whose two tests are appended to `path` as `text`, their ids the
    /// `qualifier` followed by each name.
    fn appended(
        path: &str,
        qualifier: &str,
        (pass_name, fail_name): (&str, &str),
        text: String,
    ) -> Canaries {
        Canaries {
            must_pass: format!("{qualifier}{pass_name}"),
            must_fail: format!("{qualifier}{fail_name}"),
            edits: vec![Edit::Append {
                path: path.to_owned(),
                text,
            }],
            by_title: None,
        }
    }

    /// Whether the run's case `id` is the canary `canary` (one of the two ids).
    fn names(&self, canary: &str, id: &str) -> bool {
        match self.by_title {
            None => id == canary,
            Some(_) => id.contains(canary),
        }
    }

    /// What the run reports of the canary `canary`: the worst status among its cases.
    fn status(&self, run: &TestRun, canary: &str) -> Option<TestStatus> {
        match self.by_title {
            None => run.status(canary),
            Some(_) => run
                .cases
                .iter()
                .filter(|case| case.id.contains(canary))
                .map(|case| case.status)
                .reduce(TestStatus::worst),
        }
    }
}

/// What the run says of the canaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Nothing in the run gives it away.
    Held,
    /// Which canary gave the run away and how, in words a user can act on.
    Forged(String),
}

/// Plans canaries for a run.
///
/// `read` returns a repository file's content in the graded tree (hidden tests already
/// applied); `test_files` are the paths the hidden test patch touches; `rng` makes the
/// names and values. `None`: this format or task has no canary support, and the caller
/// flags the grade `unverified`.
pub fn plan(
    format: &Format,
    command: &str,
    fail_to_pass: &[String],
    pass_to_pass: &[String],
    test_files: &[String],
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    rng: &mut impl Rng,
) -> Option<Canaries> {
    let known = Known {
        fail_to_pass,
        pass_to_pass,
    };
    match format {
        Format::Pytest => plan_pytest(&known, test_files, read, rng),
        Format::Unittest => plan_unittest(&known, read, rng),
        Format::Cargo => plan_cargo(&known, read, rng),
        Format::GoJson => plan_go(&known, test_files, read, rng),
        // vitest's JUnit report names a case `classname::name` with the test file as the
        // class: the canaries go into the first required test's file.
        Format::Junit { .. } if command.contains("vitest") => plan_vitest(&known, read, rng),
        // jest-junit and mocha's TAP name a case by its titles alone: the canaries go into
        // the first hidden test file and are found by their titles.
        Format::Junit { .. } if command.contains("jest") => {
            plan_by_title(&known, test_files, read, rng, Globals::Jest)
        }
        Format::Tap if command.contains("mocha") => {
            plan_by_title(&known, test_files, read, rng, Globals::Mocha)
        }
        Format::Tap if command.contains("--test") => {
            plan_by_title(&known, test_files, read, rng, Globals::NodeTest)
        }
        Format::Junit { .. } | Format::Tap => None,
    }
}

/// Whether a JS file is an ES module: by its extension, else by an `import`/`export` line
/// or its package's `"type": "module"`.
fn is_es_module(path: &str, source: &str, read: &dyn Fn(&str) -> Option<Vec<u8>>) -> bool {
    if path.ends_with(".mjs") || path.ends_with(".mts") {
        return true;
    }
    if path.ends_with(".cjs") || path.ends_with(".cts") {
        return false;
    }
    let statement = source.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("import ") || l.starts_with("import{") || l.starts_with("export ")
    });
    if statement {
        return true;
    }
    // The nearest package.json above the file decides.
    let mut dir = path;
    while let Some((parent, _)) = dir.rsplit_once('/') {
        if let Some(json) = read(&format!("{parent}/package.json")) {
            return package_is_module(&json);
        }
        dir = parent;
    }
    read("package.json").is_some_and(|json| package_is_module(&json))
}

fn package_is_module(json: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(json)
        .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("module"))
}

/// The test functions a JS runner puts in every test file's scope.
#[derive(Clone, Copy)]
enum Globals {
    /// `test` and `expect`.
    Jest,
    /// `it`; no assertion library is global, so a wrong value throws.
    Mocha,
    /// node's own runner: `test` from `node:test`, imported or required as the file is an
    /// ES module or a script, under a name of its own; a wrong value throws.
    NodeTest,
}

/// jest and mocha: two cases appended to the first hidden test file that is a JS/TS test
/// file, written with the runner's global functions (no import, so the file may be a
/// CommonJS script or an ES module). Their titles are drawn so that no required test's id
/// and nothing in the file contains them; the run's cases are then matched by title.
fn plan_by_title(
    known: &Known<'_>,
    test_files: &[String],
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    rng: &mut impl Rng,
    globals: Globals,
) -> Option<Canaries> {
    let is_test_file = |p: &str| {
        safe_path(p)
            && ([".test.", ".spec."].iter().any(|m| p.contains(m))
                || p.split('/')
                    .any(|part| part == "__tests__" || part == "test"))
            && [".ts", ".js", ".mts", ".mjs", ".cjs", ".cts", ".tsx", ".jsx"]
                .iter()
                .any(|e| p.ends_with(e))
    };
    let (path, content) = test_files
        .iter()
        .filter(|p| is_test_file(p))
        .find_map(|p| read(p).map(|c| (p.clone(), c)))?;
    let source = String::from_utf8_lossy(&content).into_owned();
    let (pass_name, fail_name) = two_names(
        rng,
        |name| name.0.join(" "),
        |name| !source.contains(name) && !known.ids().any(|id| id.contains(name)),
    )?;
    let function = match globals {
        Globals::NodeTest => format!("__{}", pick(rng, SUBJECTS)),
        _ => "it".to_owned(),
    };
    let bodies = bodies(rng);
    let case = |name: &str, b: &Body| match globals {
        Globals::Jest => b
            .render(JS_EXPECT_CASE, name)
            .replace("@test@", "test")
            .replace("@expect@", "expect"),
        Globals::Mocha | Globals::NodeTest => {
            b.render(JS_THROW_CASE, name).replace("@test@", &function)
        }
    };
    let header = match globals {
        Globals::NodeTest if is_es_module(&path, &source, read) => {
            format!("import {{ test as {function} }} from 'node:test';\n")
        }
        Globals::NodeTest => format!("const {{ test: {function} }} = require('node:test');\n"),
        _ => String::new(),
    };
    let blocks = in_random_order(rng, (&pass_name, &fail_name), &bodies, case);
    let text = format!(
        "{}\n{header}{}\n{}",
        line_end_for(&content),
        blocks[0],
        blocks[1]
    );
    let unit = known
        .ids()
        .filter(|id| titled_in(id, &source))
        .map(str::to_owned)
        .collect();
    Some(Canaries {
        must_pass: pass_name,
        must_fail: fail_name,
        edits: vec![Edit::Append { path, text }],
        by_title: Some(ByTitle { unit }),
    })
}

/// Whether the test `id` (a jest-junit `classname::name` or a mocha full title) is written
/// in `source`: some trailing run of the words of its last part stands there as a quoted
/// title (`'inner'` for `group inner`).
fn titled_in(id: &str, source: &str) -> bool {
    let last = id.rsplit("::").next().unwrap_or(id);
    let words: Vec<&str> = last.split_whitespace().collect();
    (0..words.len()).any(|start| {
        let title = words[start..].join(" ");
        ['\'', '"', '`']
            .iter()
            .any(|q| source.contains(&format!("{q}{title}{q}")))
    })
}

/// vitest: two `test(...)` cases appended to the test file of the first required test that
/// is a JS/TS test file, importing vitest's `test` and `expect` under names of their own (an
/// `import` anywhere at the top level of a module is hoisted).
fn plan_vitest(
    known: &Known<'_>,
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    rng: &mut impl Rng,
) -> Option<Canaries> {
    let is_test_file = |p: &str| {
        safe_path(p)
            && [".test.", ".spec."].iter().any(|m| p.contains(m))
            && [".ts", ".js", ".mts", ".mjs", ".tsx", ".jsx"]
                .iter()
                .any(|e| p.ends_with(e))
    };
    let (path, content) = known
        .ids()
        .filter_map(|id| id.split_once("::").map(|(file, _)| file))
        .filter(|file| is_test_file(file))
        .find_map(|file| read(file).map(|c| (file.to_string(), c)))?;
    let source = String::from_utf8_lossy(&content).into_owned();
    let (pass_name, fail_name) = two_names(
        rng,
        |name| name.0.join(" "),
        |name| !source.contains(name) && !known.contains(&format!("{path}::{name}")),
    )?;
    let bodies = bodies(rng);
    let (t, e) = (
        format!("__{}", pick(rng, SUBJECTS)),
        format!("__{}", pick(rng, OBJECTS)),
    );
    let case = |name: &str, b: &Body| {
        b.render(JS_EXPECT_CASE, name)
            .replace("@test@", &t)
            .replace("@expect@", &e)
    };
    let blocks = in_random_order(rng, (&pass_name, &fail_name), &bodies, case);
    let text = format!(
        "{}\nimport {{ test as {t}, expect as {e} }} from 'vitest';\n\n{}\n{}",
        line_end_for(&content),
        blocks[0],
        blocks[1]
    );
    let qualifier = format!("{path}::");
    Some(Canaries::appended(
        &path,
        &qualifier,
        (&pass_name, &fail_name),
        text,
    ))
}

/// Why a task's test command cannot carry canaries, if it cannot: it stops at the first
/// failure (the must-fail canary would stop it, or a real failure would skip the canaries),
/// picks tests by name (the canaries would not be picked), or hides the runner's exit
/// status (a pipe or `||`). Such a task is graded as before and flagged `unverified`.
pub fn command_refuses(format: &Format, command: &str) -> Option<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let has = |flag: &str| {
        words
            .iter()
            .any(|w| *w == flag || w.starts_with(&format!("{flag}=")))
    };
    if command.contains('|') {
        return Some(
            "the test command pipes its output or uses `||`, which can hide the runner's exit \
             status, so grading canaries cannot be checked; run the runner directly"
                .into(),
        );
    }
    let refused: Option<&str> = match format {
        Format::Pytest => [
            "-x",
            "--exitfirst",
            "--maxfail",
            "-k",
            "--lf",
            "--last-failed",
            "--sw",
            "--stepwise",
            "--deselect",
        ]
        .into_iter()
        .find(|f| has(f))
        .or_else(|| {
            words
                .iter()
                .any(|w| w.contains("::"))
                .then_some("a test id")
        }),
        Format::Unittest => ["-f", "--failfast", "-k"].into_iter().find(|f| has(f)),
        Format::Cargo => {
            if !has("--no-fail-fast") {
                return Some(
                    "`cargo test` stops at the first failing test binary without \
                     `--no-fail-fast`, so grading canaries cannot run beside every test; add \
                     `--no-fail-fast` to the test command"
                        .into(),
                );
            }
            // After `--`, only flags for the test binaries; a word there filters by name.
            let filters = words
                .iter()
                .skip_while(|w| **w != "--")
                .skip(1)
                .any(|w| !w.starts_with('-'));
            filters.then_some("a test-name filter after `--`")
        }
        Format::GoJson => ["-failfast", "-run", "--failfast", "--run"]
            .into_iter()
            .find(|f| has(f)),
        Format::Junit { .. } if !command.contains("vitest") && !command.contains("jest") => {
            return Some(
                "grading canaries are written for vitest and jest among the JUnit runners; \
                 this command's report cannot be checked against them"
                    .into(),
            )
        }
        Format::Junit { .. } => [
            "-t",
            "--testNamePattern",
            "--bail",
            "-o",
            "--onlyChanged",
            "--onlyFailures",
            "--findRelatedTests",
            "--testPathPattern",
        ]
        .into_iter()
        .find(|f| has(f)),
        Format::Tap if command.contains("mocha") => {
            ["-b", "--bail", "-g", "--grep", "-f", "--fgrep"]
                .into_iter()
                .find(|f| has(f))
        }
        Format::Tap if command.contains("--test") => {
            ["--test-name-pattern", "--test-skip-pattern", "--test-only"]
                .into_iter()
                .find(|f| has(f))
        }
        Format::Tap => None,
    };
    refused.map(|what| {
        format!(
            "the test command uses {what}, so it may stop early or leave tests out, and \
             grading canaries cannot be checked; run whole test files to the end"
        )
    })
}

/// Reads what the run says of the canaries; `exit_code` is the test command's.
///
/// A run that reported no test at all (it did not build, or did not collect) is `Held`:
/// nothing printed is there to believe, and the required tests will all be missing anyway.
pub fn check(c: &Canaries, run: &TestRun, exit_code: i64) -> Check {
    if run.cases.is_empty() {
        return Check::Held;
    }
    if c.status(run, &c.must_fail) == Some(TestStatus::Passed) {
        return Check::Forged(format!(
            "`{}` was reported as passed, but it is a test added at grading time that fails \
             whenever it really runs (it asserts a wrong value): the printed results did not \
             come from the test runner, so none of them count. {LOOK_IN_THE_PATCH}",
            c.must_fail
        ));
    }
    if exit_code == 0 {
        return Check::Forged(format!(
            "the test command exited 0, but `{}`, a test added at grading time that fails \
             whenever it really runs, was part of the run, so an honest run exits non-zero: \
             the exit status was forged or hidden. {LOOK_IN_THE_PATCH} If the patch does not, \
             the task's test command hides the runner's status (`|| true`, or a pipe without \
             `set -o pipefail`) and must pass it on.",
            c.must_fail
        ));
    }
    let status = c.status(run, &c.must_pass);
    if status == Some(TestStatus::Passed) {
        return Check::Held;
    }
    if let Some(by_title) = &c.by_title {
        // The unit is the required tests found in the canaries' file.
        let unit_passed = run
            .cases
            .iter()
            .any(|case| case.status == TestStatus::Passed && by_title.unit.contains(&case.id));
        if !unit_passed {
            return Check::Held;
        }
        let what = match status {
            None => "is missing from the printed results".to_owned(),
            Some(status) => format!("was reported {status}"),
        };
        return Check::Forged(format!(
            "`{}`, a test added at grading time next to the hidden tests that passes whenever \
             it really runs, {what} although tests of its file were reported as passed: the \
             printed results did not come from the test runner, so none of them count. \
             {LOOK_IN_THE_PATCH}",
            c.must_pass
        ));
    }
    // The canaries share a file (a module, a test binary, a package) with real hidden tests.
    // When nothing there passed, that whole unit failed to build, collect or run, which is
    // an honest failure: nothing in it is believed, and the required tests in it do not
    // pass. Only a unit that reports passes while its must-pass canary did not pass was
    // forged.
    let unit = unit_of(&c.must_pass);
    let unit_passed = run.cases.iter().any(|case| {
        case.status == TestStatus::Passed
            && case.id != c.must_pass
            && case.id != c.must_fail
            && in_unit(&case.id, unit)
    });
    if !unit_passed {
        return Check::Held;
    }
    let what = match status {
        None => "is missing from the printed results".to_owned(),
        Some(status) => format!("was reported {status}"),
    };
    Check::Forged(format!(
        "`{}`, a test added at grading time next to the hidden tests that passes whenever it \
         really runs, {what} although other tests of `{}` were reported as passed: the \
         printed results did not come from the test runner, so none of them count. \
         {LOOK_IN_THE_PATCH} If the patch does not, the task's test command selects tests by \
         name (`-k`, node ids, a name filter) or stops at the first failure, and must run \
         whole files to the end instead.",
        c.must_pass, unit.0
    ))
}

/// The advice every forged verdict ends with.
const LOOK_IN_THE_PATCH: &str = "Look in the patch for code that prints test results or \
    ends the test process early (a conftest.py, sitecustomize.py or usercustomize.py, \
    `os._exit`, `std::process::exit`, `os.Exit`, a replaced test runner).";

/// The run without the canaries, so they never reach test lists, counts or reports.
///
/// The runner's closing counts lose what each canary was reported as (one fewer passed
/// for a passing must-pass canary, one fewer failed for a failing must-fail canary),
/// saturating at zero.
pub fn strip(c: &Canaries, mut run: TestRun) -> TestRun {
    let mut summary = run.summary;
    run.cases.retain(|case| {
        let canary = c.names(&c.must_pass, &case.id) || c.names(&c.must_fail, &case.id);
        if canary {
            if let Some(summary) = summary.as_mut() {
                uncount(summary, case.status);
            }
        }
        !canary
    });
    run.summary = summary;
    run
}

fn uncount(summary: &mut Summary, status: TestStatus) {
    let count = match status {
        TestStatus::Passed => &mut summary.passed,
        TestStatus::Failed => &mut summary.failed,
        TestStatus::Skipped => &mut summary.skipped,
        TestStatus::Error => &mut summary.errors,
    };
    *count = count.saturating_sub(1);
}

/// The part of a canary id that names the file, module or package it lives in, and what
/// separates it from the rest of an id: `tests/t.py` of `tests/t.py::test_a`,
/// `example.com/stock` of `example.com/stock::TestA`, `src/lib.rs` of `src/lib.rs::m::a`,
/// `pkg.mod` of `pkg.mod.Class.test_a`.
fn unit_of(id: &str) -> (&str, &'static str) {
    match id.split_once("::") {
        Some((unit, _)) => (unit, "::"),
        // unittest: module, class, method.
        None => (id.rsplitn(3, '.').nth(2).unwrap_or(id), "."),
    }
}

/// `id` is a test of `unit`, or `unit` itself (pytest reports a file that failed to
/// collect under its path).
fn in_unit(id: &str, (unit, separator): (&str, &str)) -> bool {
    id.strip_prefix(unit)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(separator))
}

/// The run's required tests, which no canary id may repeat.
struct Known<'a> {
    fail_to_pass: &'a [String],
    pass_to_pass: &'a [String],
}

impl Known<'_> {
    /// Required ids in the order placement prefers them: fail_to_pass first, so the
    /// canaries run in the same process as the tests that decide the attempt.
    fn ids(&self) -> impl Iterator<Item = &str> {
        self.fail_to_pass
            .iter()
            .chain(self.pass_to_pass)
            .map(String::as_str)
    }

    fn contains(&self, id: &str) -> bool {
        self.ids().any(|known| known == id)
    }
}

// ---- names and values --------------------------------------------------------------------

/// Words for test names shaped like `test_<subject>_<verb>_<object>`. Neutral enough to
/// sit in any codebase's tests; nothing in them hints at what the tests are for.
const SUBJECTS: &[&str] = &[
    "account", "batch", "buffer", "bucket", "budget", "cache", "cart", "catalog", "chunk",
    "column", "config", "cursor", "entry", "field", "filter", "frame", "header", "index",
    "invoice", "item", "journal", "ledger", "limit", "order", "page", "parser", "payload",
    "profile", "queue", "range", "record", "report", "request", "result", "route", "row",
    "schedule", "segment", "session", "shard", "slot", "stock", "summary", "table", "token",
    "total", "window", "writer",
];
const VERBS: &[&str] = &[
    "accepts",
    "carries",
    "collects",
    "combines",
    "computes",
    "counts",
    "groups",
    "holds",
    "keeps",
    "matches",
    "merges",
    "orders",
    "preserves",
    "reports",
    "returns",
    "rounds",
    "sorts",
    "splits",
    "sums",
    "tracks",
    "updates",
    "yields",
];
const OBJECTS: &[&str] = &[
    "amounts",
    "balances",
    "blocks",
    "columns",
    "counts",
    "entries",
    "fields",
    "headers",
    "items",
    "keys",
    "limits",
    "lines",
    "offsets",
    "pages",
    "parts",
    "prices",
    "quantities",
    "ranges",
    "records",
    "rows",
    "sizes",
    "slots",
    "tokens",
    "totals",
    "values",
    "weights",
];
/// Local variable names in the canaries' bodies.
const VARIABLES: &[&str] = &["amounts", "counts", "parts", "sizes", "values", "weights"];

/// How many times a name is redrawn before planning gives up (and the grade is
/// unverified). With tens of thousands of names, only a file that mentions most of them
/// could exhaust it.
const MAX_DRAWS: usize = 64;

fn pick<'a>(rng: &mut impl Rng, words: &[&'a str]) -> &'a str {
    // Every list passed here is a non-empty constant; the fallback is never used.
    words.choose(rng).copied().unwrap_or("item")
}

/// A three-word test name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name([&'static str; 3]);

impl Name {
    fn draw(rng: &mut impl Rng) -> Name {
        Name([pick(rng, SUBJECTS), pick(rng, VERBS), pick(rng, OBJECTS)])
    }

    /// `order_keeps_totals`.
    fn snake(&self) -> String {
        self.0.join("_")
    }

    /// `OrderKeepsTotals`.
    fn camel(&self) -> String {
        self.0.iter().map(|word| capitalized(word)).collect()
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Draws two different names, rendered by `render`, that `free` accepts.
fn two_names(
    rng: &mut impl Rng,
    render: impl Fn(&Name) -> String,
    free: impl Fn(&str) -> bool,
) -> Option<(String, String)> {
    let first = draw_free(rng, |rng| render(&Name::draw(rng)), &free)?;
    let second = draw_free(
        rng,
        |rng| render(&Name::draw(rng)),
        |name: &str| name != first && free(name),
    )?;
    Some((first, second))
}

/// Draws with `make` until `free` accepts, at most [`MAX_DRAWS`] times.
fn draw_free<R: Rng>(
    rng: &mut R,
    make: impl Fn(&mut R) -> String,
    free: impl Fn(&str) -> bool,
) -> Option<String> {
    (0..MAX_DRAWS).map(|_| make(rng)).find(|name| free(name))
}

/// What one canary computes: the sum of literal values, compared with `expected`.
struct Body {
    variable: &'static str,
    values: Vec<u32>,
    expected: u64,
}

impl Body {
    fn list(&self) -> String {
        let values: Vec<String> = self.values.iter().map(u32::to_string).collect();
        values.join(", ")
    }

    /// A canary's source from a language's template: `@name@`, `@var@`, `@list@`,
    /// `@len@` and `@expected@` are replaced by the test's name and this body's values.
    fn render(&self, template: &str, name: &str) -> String {
        template
            .replace("@name@", name)
            .replace("@var@", self.variable)
            .replace("@list@", &self.list())
            .replace("@len@", &self.values.len().to_string())
            .replace("@expected@", &self.expected.to_string())
    }
}

/// A module-level pytest test.
const PYTHON_FUNCTION: &str =
    "def @name@():\n    @var@ = [@list@]\n    assert sum(@var@) == @expected@\n";

/// A method of the canaries' `TestCase`.
const PYTHON_METHOD: &str = "    def @name@(self):\n        @var@ = [@list@]\n        self.assertEqual(sum(@var@), @expected@)\n";

/// A Rust test function (indented by the caller).
const RUST_FUNCTION: &str = "#[test]\nfn @name@() {\n    let @var@: [u64; @len@] = [@list@];\n    assert_eq!(@var@.iter().sum::<u64>(), @expected@);\n}\n";

/// A Go test function, as gofmt lays it out.
const GO_FUNCTION: &str = "func @name@(t *testing.T) {\n\t@var@ := []int{@list@}\n\ttotal := 0\n\tfor _, n := range @var@ {\n\t\ttotal += n\n\t}\n\tif total != @expected@ {\n\t\tt.Errorf(\"total = %d, want %d\", total, @expected@)\n\t}\n}\n";

/// `text` with every non-empty line indented by `indent`.
fn indented(text: &str, indent: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            if line.trim().is_empty() {
                line.to_owned()
            } else {
                format!("{indent}{line}")
            }
        })
        .collect()
}

/// A JS case with an `expect` (vitest's or jest's), `@test@` and `@expect@` being the
/// runner's functions.
const JS_EXPECT_CASE: &str = "@test@('@name@', () => {\n  const @var@ = [@list@];\n  @expect@(@var@.reduce((a, b) => a + b, 0)).toBe(@expected@);\n});\n";

/// A JS case that throws on a wrong value (mocha, node's runner), `@test@` the runner's
/// function.
const JS_THROW_CASE: &str = "@test@('@name@', function () {\n  const @var@ = [@list@];\n  const total = @var@.reduce((a, b) => a + b, 0);\n  if (total !== @expected@) {\n    throw new Error(`expected @expected@, got ${total}`);\n  }\n});\n";

/// The must-pass and must-fail bodies: the same shape and length, the must-fail one
/// expecting a sum that is off by a few, so the two read alike.
fn bodies(rng: &mut impl Rng) -> (Body, Body) {
    let len = rng.gen_range(3..=5);
    let mut body = |wrong: bool| {
        let values: Vec<u32> = (0..len).map(|_| rng.gen_range(2..=999)).collect();
        let sum: u64 = values.iter().map(|&v| u64::from(v)).sum();
        let off = rng.gen_range(1..=9);
        // The sum is at least 6, so only a large enough one may be missed from below.
        let expected = match (wrong, sum > off && rng.gen_bool(0.5)) {
            (false, _) => sum,
            (true, true) => sum - off,
            (true, false) => sum + off,
        };
        Body {
            variable: pick(rng, VARIABLES),
            values,
            expected,
        }
    };
    let pass = body(false);
    let fail = body(true);
    (pass, fail)
}

/// The two canaries' source blocks, each rendered from its name and body (must-pass
/// first), in a random order, so position gives nothing away.
fn in_random_order(
    rng: &mut impl Rng,
    (pass_name, fail_name): (&str, &str),
    (pass, fail): &(Body, Body),
    render: impl Fn(&str, &Body) -> String,
) -> [String; 2] {
    let (pass, fail) = (render(pass_name, pass), render(fail_name, fail));
    if rng.gen_bool(0.5) {
        [pass, fail]
    } else {
        [fail, pass]
    }
}

/// What goes before appended text: a line ending when the file does not end with one.
fn line_end_for(content: &[u8]) -> &'static str {
    if content.is_empty() || content.ends_with(b"\n") {
        ""
    } else {
        "\n"
    }
}

/// A repository-relative path the caller can write under the repository root: no
/// absolute path, no `..`, no empty component.
fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The first of `paths` that is safe and exists, with its content.
fn first_existing<'a>(
    paths: impl Iterator<Item = &'a str>,
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Option<(&'a str, Vec<u8>)> {
    paths
        .filter(|path| safe_path(path))
        .find_map(|path| read(path).map(|content| (path, content)))
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

// ---- pytest ----------------------------------------------------------------------------

fn plan_pytest(
    known: &Known<'_>,
    test_files: &[String],
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    rng: &mut impl Rng,
) -> Option<Canaries> {
    let from_ids = known
        .ids()
        .filter_map(|id| id.split("::").next())
        .filter(|path| path.ends_with(".py"));
    let from_files = test_files.iter().map(String::as_str).filter(|path| {
        let name = file_name(path);
        name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
    });
    let (path, content) = first_existing(from_ids.chain(from_files), read)?;
    let source = String::from_utf8_lossy(&content);
    let (pass_name, fail_name) = two_names(
        rng,
        |name| format!("test_{}", name.snake()),
        |name| !source.contains(name) && !known.contains(&format!("{path}::{name}")),
    )?;
    let names = (pass_name.as_str(), fail_name.as_str());
    let bodies = bodies(rng);
    let blocks = in_random_order(rng, names, &bodies, |n, b| b.render(PYTHON_FUNCTION, n));
    let text = format!(
        "{}\n\n{}\n\n{}",
        line_end_for(&content),
        blocks[0],
        blocks[1]
    );
    Some(Canaries::appended(path, &format!("{path}::"), names, text))
}

// ---- unittest --------------------------------------------------------------------------

fn plan_unittest(
    known: &Known<'_>,
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    rng: &mut impl Rng,
) -> Option<Canaries> {
    let (module, path, content) = known.ids().find_map(|id| unittest_module(id, read))?;
    let source = String::from_utf8_lossy(&content);
    let free = |name: &str| !source.contains(name);
    // The file's own imports may not include unittest, or may bind the name to something
    // else; an alias of our own always means the module.
    let alias = draw_free(
        rng,
        |rng| format!("_{}_unittest", pick(rng, SUBJECTS)),
        free,
    )?;
    let class = draw_free(
        rng,
        |rng| {
            format!(
                "Test{}{}",
                capitalized(pick(rng, SUBJECTS)),
                capitalized(pick(rng, OBJECTS))
            )
        },
        free,
    )?;
    let (pass_name, fail_name) = two_names(rng, |name| format!("test_{}", name.snake()), free)?;
    let names = (pass_name.as_str(), fail_name.as_str());
    let bodies = bodies(rng);
    let blocks = in_random_order(rng, names, &bodies, |n, b| b.render(PYTHON_METHOD, n));
    let text = format!(
        "{}\n\nimport unittest as {alias}\n\n\nclass {class}({alias}.TestCase):\n{}\n{}",
        line_end_for(&content),
        blocks[0],
        blocks[1]
    );
    Some(Canaries::appended(
        &path,
        &format!("{module}.{class}."),
        names,
        text,
    ))
}

/// The module of a unittest id `pkg.mod.Class.test_x`, its file and the file's content:
/// the longest dotted prefix (leaving at least a class and a method) that names an
/// existing `pkg/mod.py`, or `src/pkg/mod.py`.
fn unittest_module(
    id: &str,
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Option<(String, String, Vec<u8>)> {
    let parts: Vec<&str> = id.split('.').collect();
    let identifier =
        |part: &&str| !part.is_empty() && part.chars().all(|c| c == '_' || c.is_alphanumeric());
    if parts.len() < 3 || !parts.iter().all(identifier) {
        return None;
    }
    (1..=parts.len() - 2).rev().find_map(|len| {
        let module = &parts[..len];
        let path = format!("{}.py", module.join("/"));
        [path.clone(), format!("src/{path}")]
            .into_iter()
            .find_map(|path| read(&path).map(|content| (module.join("."), path, content)))
    })
}

// ---- cargo -----------------------------------------------------------------------------

fn plan_cargo(
    known: &Known<'_>,
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    rng: &mut impl Rng,
) -> Option<Canaries> {
    // `tests/x.rs::name` or `src/lib.rs::tests::name`; doc tests (`src/lib.rs - add
    // (line 3)`) live in no file a test can be added to.
    let roots = known
        .ids()
        .filter(|id| !id.contains(" - "))
        .filter_map(|id| id.split_once("::").map(|(root, _)| root))
        .filter(|root| root.ends_with(".rs"));
    let (root, content) = first_existing(roots, read)?;
    let source = String::from_utf8_lossy(&content);
    let free = |name: &str| !source.contains(name);
    // Follow the file's own naming: `fn test_x` or plain `fn x`.
    let prefix = if source.contains("fn test_") {
        "test_"
    } else {
        ""
    };
    let (pass_name, fail_name) = two_names(rng, |name| format!("{prefix}{}", name.snake()), free)?;
    let bodies = bodies(rng);
    // A crate root under `src/` (library, binary) keeps its unit tests in a `cfg(test)`
    // module; an integration test, bench or example root holds test functions at the top.
    let in_module = root.starts_with("src/") || root.contains("/src/");
    let (indent, module) = if in_module {
        let module = draw_free(
            rng,
            |rng| format!("{}_{}", pick(rng, SUBJECTS), pick(rng, OBJECTS)),
            |name| free(name) && name != pass_name && name != fail_name,
        )?;
        ("    ", Some(module))
    } else {
        ("", None)
    };
    let blocks = in_random_order(rng, (&pass_name, &fail_name), &bodies, |name, body| {
        indented(&body.render(RUST_FUNCTION, name), indent)
    });
    let lead = line_end_for(&content);
    let (text, qualifier) = match &module {
        Some(module) => (
            format!(
                "{lead}\n#[cfg(test)]\nmod {module} {{\n{}\n{}}}\n",
                blocks[0], blocks[1]
            ),
            format!("{root}::{module}::"),
        ),
        None => (
            format!("{lead}\n{}\n{}", blocks[0], blocks[1]),
            format!("{root}::"),
        ),
    };
    let canaries = Canaries::appended(root, &qualifier, (&pass_name, &fail_name), text);
    if known.contains(&canaries.must_pass) || known.contains(&canaries.must_fail) {
        return None;
    }
    Some(canaries)
}

// ---- go --------------------------------------------------------------------------------

/// A directory of Go tests a canary file can join.
struct GoPackage<'a> {
    dir: &'a str,
    /// The package clause of its tests: `stock`, or `stock_test` for external tests.
    package: String,
    import_path: String,
}

fn plan_go(
    known: &Known<'_>,
    test_files: &[String],
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    rng: &mut impl Rng,
) -> Option<Canaries> {
    // Every test file of the hidden tests, read once: their names must not be reused.
    let files: Vec<(&str, String)> = test_files
        .iter()
        .map(String::as_str)
        .filter(|path| path.ends_with("_test.go") && safe_path(path) && go_builds(path))
        .filter_map(|path| {
            read(path).map(|content| (path, String::from_utf8_lossy(&content).into_owned()))
        })
        .collect();
    let packages: Vec<GoPackage<'_>> = files
        .iter()
        .filter_map(|(path, source)| {
            let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
            Some(GoPackage {
                dir,
                package: go_package_clause(source)?.to_owned(),
                import_path: go_import_path(dir, read)?,
            })
        })
        .collect();
    // Each package is its own test process, so the canaries go into the package of the
    // first fail_to_pass test that has one among the hidden test files.
    let chosen = known
        .ids()
        .filter_map(|id| id.split_once("::").map(|(import_path, _)| import_path))
        .find_map(|wanted| packages.iter().find(|p| p.import_path == wanted))
        .or_else(|| packages.first())?;
    let sources: Vec<&str> = files
        .iter()
        .filter(|(path, _)| path.rsplit_once('/').map_or("", |(dir, _)| dir) == chosen.dir)
        .map(|(_, source)| source.as_str())
        .collect();
    let import_path = &chosen.import_path;
    let (pass_name, fail_name) = two_names(
        rng,
        |name| format!("Test{}", name.camel()),
        |name| {
            sources.iter().all(|source| !source.contains(name))
                && !known.contains(&format!("{import_path}::{name}"))
        },
    )?;
    let path = draw_free(
        rng,
        |rng| {
            let file = format!("{}_{}_test.go", pick(rng, SUBJECTS), pick(rng, OBJECTS));
            match chosen.dir {
                "" => file,
                dir => format!("{dir}/{file}"),
            }
        },
        |path| read(path).is_none(),
    )?;
    let bodies = bodies(rng);
    let blocks = in_random_order(rng, (&pass_name, &fail_name), &bodies, |n, b| {
        b.render(GO_FUNCTION, n)
    });
    let text = format!(
        "package {}\n\nimport \"testing\"\n\n{}\n{}",
        chosen.package, blocks[0], blocks[1]
    );
    Some(Canaries {
        must_pass: format!("{import_path}::{pass_name}"),
        must_fail: format!("{import_path}::{fail_name}"),
        edits: vec![Edit::Create { path, text }],
        by_title: None,
    })
}

/// The go tool ignores directories named `testdata` or starting with `_` or `.`, so a test
/// there never runs.
fn go_builds(path: &str) -> bool {
    path.split('/')
        .all(|part| part != "testdata" && !part.starts_with('_') && !part.starts_with('.'))
}

/// The name in a Go file's `package` clause, skipping comments before it.
fn go_package_clause(source: &str) -> Option<&str> {
    let mut rest = source.trim_start_matches('\u{feff}');
    loop {
        rest = rest.trim_start();
        if let Some(comment) = rest.strip_prefix("//") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/")?.1;
        } else {
            break;
        }
    }
    let rest = rest.strip_prefix("package")?;
    if !rest.starts_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let name = rest.trim_start();
    let end = name
        .find(|c: char| !(c == '_' || c.is_alphanumeric()))
        .unwrap_or(name.len());
    let name = &name[..end];
    let starts_well = name.starts_with(|c: char| c == '_' || c.is_alphabetic());
    starts_well.then_some(name)
}

/// The import path of the package in `dir`: the module of the nearest `go.mod` at or above
/// it, joined with the path from that module's root.
fn go_import_path(dir: &str, read: &dyn Fn(&str) -> Option<Vec<u8>>) -> Option<String> {
    let mut root = dir;
    loop {
        let go_mod = match root {
            "" => "go.mod".to_owned(),
            root => format!("{root}/go.mod"),
        };
        if let Some(content) = read(&go_mod) {
            let module = go_module(&String::from_utf8_lossy(&content))?;
            let inside = match root {
                "" => dir,
                root => dir.strip_prefix(root)?.trim_start_matches('/'),
            };
            return Some(match inside {
                "" => module,
                inside => format!("{module}/{inside}"),
            });
        }
        if root.is_empty() {
            return None;
        }
        root = root.rsplit_once('/').map_or("", |(parent, _)| parent);
    }
}

/// The path of a `go.mod`'s `module` directive, bare or quoted.
fn go_module(go_mod: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let line = line.split("//").next().unwrap_or_default().trim();
        let path = line.strip_prefix("module")?;
        if !path.starts_with(|c: char| c.is_whitespace()) {
            return None;
        }
        let path = path.trim().trim_matches(|c| c == '"' || c == '`');
        let plain = !path.is_empty() && !path.contains(char::is_whitespace);
        plain.then(|| path.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testparse::{self, TestCase};
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::HashMap;

    /// An in-memory repository: path → content.
    struct Repo(HashMap<String, Vec<u8>>);

    impl Repo {
        fn new(files: &[(&str, &str)]) -> Repo {
            Repo(
                files
                    .iter()
                    .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
                    .collect(),
            )
        }

        fn plan(
            &self,
            format: &Format,
            f2p: &[&str],
            p2p: &[&str],
            test_files: &[&str],
            seed: u64,
        ) -> Option<Canaries> {
            let read = |path: &str| self.0.get(path).cloned();
            let command = match format {
                Format::Junit { .. } => "vitest run",
                _ => "",
            };
            plan(
                format,
                command,
                &strings(f2p),
                &strings(p2p),
                &strings(test_files),
                &read,
                &mut StdRng::seed_from_u64(seed),
            )
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The one edit of a plan, as (created, path, text).
    fn only_edit(c: &Canaries) -> (bool, &str, &str) {
        match c.edits.as_slice() {
            [Edit::Append { path, text }] => (false, path, text),
            [Edit::Create { path, text }] => (true, path, text),
            other => panic!("expected one edit, got {other:?}"),
        }
    }

    /// The name after the last `::` or `.` of an id.
    fn leaf(id: &str) -> &str {
        let tail = id.rsplit("::").next().unwrap();
        tail.rsplit('.').next().unwrap()
    }

    /// Braces open before they close and all close.
    #[track_caller]
    fn assert_balanced(text: &str) {
        let mut depth = 0i64;
        for c in text.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            assert!(depth >= 0, "a brace closes before it opens:\n{text}");
        }
        assert_eq!(depth, 0, "unbalanced braces:\n{text}");
    }

    /// Python that at least looks like Python: blocks open with a `:` line, bodies are
    /// indented by four spaces more than their header, nothing else is indented.
    #[track_caller]
    fn assert_python_blocks(text: &str) {
        let mut expected_indent = 0;
        let mut may_dedent_to = vec![0];
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let indent = line.len() - line.trim_start().len();
            assert!(!line.contains('\t'), "tab in {line:?}");
            if indent < expected_indent {
                assert!(
                    may_dedent_to.contains(&indent),
                    "bad dedent: {line:?}\n{text}"
                );
            } else {
                assert_eq!(indent, expected_indent, "bad indent: {line:?}\n{text}");
            }
            let body = line.trim_start();
            let opens = body.starts_with("def ") || body.starts_with("class ");
            if opens {
                assert!(body.ends_with(':'), "header without `:`: {line:?}");
                may_dedent_to.retain(|&level| level <= indent);
                may_dedent_to.push(indent);
                expected_indent = indent + 4;
            } else {
                expected_indent = indent;
            }
        }
    }

    /// The literal values' sum and the expected sum of the canary `name` in `text`,
    /// whatever the language: the first bracket followed by a digit after the name opens
    /// the values, and the last number on the first line that compares is the expectation.
    fn sum_and_expected(text: &str, name: &str) -> (u64, u64) {
        let at = text.find(&format!("{name}(")).expect("canary defined");
        let rest = &text[at..];
        let compares = |line: &&str| {
            ["==", "!=", "assertEqual", "assert_eq!"]
                .iter()
                .any(|op| line.contains(op))
        };
        let compare = rest.lines().find(compares).unwrap();
        let open = rest
            .match_indices(['[', '{'])
            .map(|(i, _)| i + 1)
            .find(|&i| rest[i..].starts_with(|c: char| c.is_ascii_digit()))
            .unwrap();
        let close = open + rest[open..].find([']', '}']).unwrap();
        let sum = rest[open..close]
            .split(',')
            .map(|v| v.trim().parse::<u64>().unwrap())
            .sum();
        let expected = compare
            .split(|c: char| !c.is_ascii_digit())
            .rfind(|part| !part.is_empty())
            .unwrap()
            .parse()
            .unwrap();
        (sum, expected)
    }

    /// The must-pass canary's sum holds and the must-fail one's does not.
    #[track_caller]
    fn assert_sums(c: &Canaries, text: &str) {
        let (sum, expected) = sum_and_expected(text, leaf(&c.must_pass));
        assert_eq!(sum, expected, "must-pass canary must hold:\n{text}");
        let (sum, expected) = sum_and_expected(text, leaf(&c.must_fail));
        assert_ne!(sum, expected, "must-fail canary must fail:\n{text}");
    }

    const STOCK_PY: &str = "import pytest\n\nfrom stock import reserve\n\n\ndef test_reserve():\n    assert reserve(1)\n\n\nclass TestWarehouse:\n    def test_move(self):\n        assert True";

    #[test]
    fn pytest_canaries_join_the_first_fail_to_pass_file() {
        let repo = Repo::new(&[
            ("tests/test_stock.py", STOCK_PY),
            ("tests/test_other.py", ""),
        ]);
        let c = repo
            .plan(
                &Format::Pytest,
                &["tests/test_stock.py::TestWarehouse::test_move[a::b]"],
                &["tests/test_other.py::test_x"],
                &[],
                1,
            )
            .unwrap();
        let (created, path, text) = only_edit(&c);
        assert!(!created);
        assert_eq!(path, "tests/test_stock.py");
        // The file has no final line ending, so the text brings one.
        assert!(text.starts_with("\n\n\ndef test_"), "{text:?}");
        for id in [&c.must_pass, &c.must_fail] {
            let name = id.strip_prefix("tests/test_stock.py::").unwrap();
            assert!(
                name.starts_with("test_") && name.split('_').count() == 4,
                "{name}"
            );
            assert!(text.contains(&format!("\ndef {name}():\n")), "{text}");
        }
        assert_ne!(c.must_pass, c.must_fail);
        assert_python_blocks(&format!("{STOCK_PY}{text}"));
        assert_sums(&c, text);
        for word in ["canary", "forge", "sentinel", "mergebench"] {
            assert!(!text.to_lowercase().contains(word), "{text}");
        }
    }

    #[test]
    fn pytest_falls_back_to_pass_to_pass_then_to_the_test_files() {
        let repo = Repo::new(&[
            ("tests/test_b.py", "def test_b():\n    pass\n"),
            ("tests/helpers.py", ""),
            ("tests/c_test.py", ""),
        ]);
        let gone = ["tests/test_gone.py::test_a"];
        let c = repo
            .plan(&Format::Pytest, &gone, &["tests/test_b.py::test_b"], &[], 2)
            .unwrap();
        let (_, path, text) = only_edit(&c);
        assert_eq!(path, "tests/test_b.py");
        // A file that ends its last line needs no extra line ending.
        assert!(text.starts_with("\n\ndef test_"), "{text:?}");
        let files = ["tests/helpers.py", "tests/test_gone.py", "tests/c_test.py"];
        let c = repo.plan(&Format::Pytest, &gone, &[], &files, 2).unwrap();
        assert_eq!(only_edit(&c).1, "tests/c_test.py");
        assert!(c.must_pass.starts_with("tests/c_test.py::test_"));
        // Nothing that exists, or a path that leaves the repository: no canaries.
        assert_eq!(repo.plan(&Format::Pytest, &gone, &[], &files[..2], 2), None);
        let escape = Repo::new(&[("../test_x.py", "")]);
        assert_eq!(
            escape.plan(&Format::Pytest, &["../test_x.py::test_a"], &[], &[], 2),
            None
        );
    }

    #[test]
    fn names_differ_between_seeds_and_avoid_the_file() {
        let f2p = ["tests/test_stock.py::test_reserve"];
        let repo = Repo::new(&[("tests/test_stock.py", STOCK_PY)]);
        let first = repo.plan(&Format::Pytest, &f2p, &[], &[], 7).unwrap();
        let again = repo.plan(&Format::Pytest, &f2p, &[], &[], 7).unwrap();
        assert_eq!(first, again, "a seed decides everything");
        let other = repo.plan(&Format::Pytest, &f2p, &[], &[], 8).unwrap();
        assert_ne!(first.must_pass, other.must_pass);
        assert_ne!(first.must_fail, other.must_fail);
        // The same seed against a file that already defines both names draws others.
        let taken = format!(
            "{STOCK_PY}\n\ndef {}():\n    pass\n\n\ndef {}():\n    pass\n",
            leaf(&first.must_pass),
            leaf(&first.must_fail)
        );
        let repo = Repo::new(&[("tests/test_stock.py", &taken)]);
        let redrawn = repo.plan(&Format::Pytest, &f2p, &[], &[], 7).unwrap();
        for id in [&redrawn.must_pass, &redrawn.must_fail] {
            assert!(!taken.contains(leaf(id)), "{id} is taken");
        }
    }

    #[test]
    fn bodies_have_one_shape_and_only_the_must_fail_one_is_wrong() {
        for seed in 0..500 {
            let (pass, fail) = bodies(&mut StdRng::seed_from_u64(seed));
            let sum = |b: &Body| b.values.iter().map(|&v| u64::from(v)).sum::<u64>();
            assert_eq!(sum(&pass), pass.expected);
            assert_ne!(sum(&fail), fail.expected);
            assert!(fail.expected.abs_diff(sum(&fail)) < 10);
            assert_eq!(pass.values.len(), fail.values.len());
        }
    }

    #[test]
    fn unittest_canaries_are_a_class_in_the_longest_module_that_exists() {
        let module = "import unittest\n\n\nclass TestApi(unittest.TestCase):\n    def test_get(self):\n        self.assertTrue(True)\n";
        let repo = Repo::new(&[
            ("src/stock/tests/test_api.py", module),
            ("stock.py", "x = 1\n"),
        ]);
        let f2p = ["stock.tests.test_api.TestApi.test_get"];
        let c = repo.plan(&Format::Unittest, &f2p, &[], &[], 3).unwrap();
        let (created, path, text) = only_edit(&c);
        assert!(!created);
        assert_eq!(path, "src/stock/tests/test_api.py");
        let parts: Vec<&str> = c.must_pass.split('.').collect();
        assert_eq!(
            parts[..3],
            ["stock", "tests", "test_api"],
            "{}",
            c.must_pass
        );
        let class = parts[3];
        assert!(class.starts_with("Test") && class != "TestApi", "{class}");
        assert!(c
            .must_fail
            .starts_with(&format!("stock.tests.test_api.{class}.test_")));
        let alias = text
            .lines()
            .find_map(|line| line.strip_prefix("import unittest as "))
            .unwrap();
        assert!(alias.starts_with('_') && !module.contains(alias), "{alias}");
        assert!(
            text.contains(&format!("\nclass {class}({alias}.TestCase):\n")),
            "{text}"
        );
        for id in [&c.must_pass, &c.must_fail] {
            assert!(
                text.contains(&format!("    def {}(self):\n", leaf(id))),
                "{text}"
            );
        }
        assert_python_blocks(&format!("{module}{text}"));
        assert_sums(&c, text);
        let other = repo.plan(&Format::Unittest, &f2p, &[], &[], 4).unwrap();
        assert_ne!(c.must_pass, other.must_pass);
        // The shorter prefix is used when it is the only one that exists.
        let repo = Repo::new(&[("stock.py", "x = 1\n")]);
        let c = repo.plan(&Format::Unittest, &f2p, &[], &[], 3).unwrap();
        assert_eq!(only_edit(&c).1, "stock.py");
        assert_eq!(c.must_pass.split('.').count(), 3);
        // No module file, or ids that are not dotted module paths: no canaries.
        let nothing = Repo::new(&[]);
        assert_eq!(nothing.plan(&Format::Unittest, &f2p, &[], &[], 3), None);
        let odd = ["a..b.C.test", "test_only", "../x.C.t"];
        assert_eq!(repo.plan(&Format::Unittest, &odd, &[], &[], 3), None);
    }

    #[test]
    fn cargo_integration_canaries_are_top_level_tests() {
        let file = "use stock::Version;\n\n#[test]\nfn test_parse() {\n    assert!(Version::parse(\"1\").is_ok());\n}";
        let repo = Repo::new(&[("tests/version.rs", file)]);
        // The doc test comes first but no test can be added to it.
        let f2p = ["src/lib.rs - add (line 3)", "tests/version.rs::test_parse"];
        let c = repo.plan(&Format::Cargo, &f2p, &[], &[], 5).unwrap();
        let (created, path, text) = only_edit(&c);
        assert!(!created);
        assert_eq!(path, "tests/version.rs");
        assert!(text.starts_with("\n\n#[test]\nfn test_"), "{text:?}");
        for id in [&c.must_pass, &c.must_fail] {
            let name = id.strip_prefix("tests/version.rs::").unwrap();
            // The file names its tests `test_...`, and so do the canaries.
            assert!(name.starts_with("test_") && !name.contains("::"), "{id}");
            assert!(
                text.contains(&format!("#[test]\nfn {name}() {{\n")),
                "{text}"
            );
        }
        assert_balanced(&format!("{file}{text}"));
        assert_sums(&c, text);
        let other = repo.plan(&Format::Cargo, &f2p, &[], &[], 6).unwrap();
        assert_ne!(c.must_pass, other.must_pass);
    }

    #[test]
    fn cargo_unit_canaries_are_a_test_module_in_the_crate_root() {
        let lib = "pub fn add(a: u64, b: u64) -> u64 {\n    a + b\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn it_works() {}\n}\n";
        let repo = Repo::new(&[("src/lib.rs", lib)]);
        let c = repo
            .plan(
                &Format::Cargo,
                &["src/lib.rs::tests::it_works"],
                &[],
                &[],
                9,
            )
            .unwrap();
        let (_, path, text) = only_edit(&c);
        assert_eq!(path, "src/lib.rs");
        let rest = c.must_pass.strip_prefix("src/lib.rs::").unwrap();
        let (module, name) = rest.split_once("::").unwrap();
        assert_ne!(module, "tests");
        assert!(
            !name.starts_with("test_"),
            "the file's tests have no prefix"
        );
        assert_eq!(
            c.must_fail,
            format!("src/lib.rs::{module}::{}", leaf(&c.must_fail))
        );
        assert!(
            text.starts_with(&format!("\n#[cfg(test)]\nmod {module} {{\n    #[test]\n")),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
        assert_balanced(&format!("{lib}{text}"));
        assert_sums(&c, text);
        // Binaries are crate roots under `src/` too.
        let repo = Repo::new(&[("src/bin/tool.rs", "fn main() {}")]);
        let c = repo
            .plan(
                &Format::Cargo,
                &[],
                &["src/bin/tool.rs::tests::runs"],
                &[],
                9,
            )
            .unwrap();
        assert!(c.must_pass.starts_with("src/bin/tool.rs::"));
        assert_eq!(c.must_pass.matches("::").count(), 2);
        // Ids without a source path (older parsers) or only doc tests: no canaries.
        let ids = ["tests::it_works", "src/lib.rs - add (line 3)"];
        assert_eq!(repo.plan(&Format::Cargo, &ids, &[], &[], 9), None);
    }

    const GO_MOD: &str = "// the stock service\nmodule example.com/stock // v1\n\ngo 1.22\n";
    const STOCK_TEST_GO: &str = "/* Copyright 2024.\npackage licence */\n\n//go:build !race\n\npackage stock_test\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {}\n";

    #[test]
    fn go_canaries_are_a_new_file_in_the_fail_to_pass_package() {
        let repo = Repo::new(&[
            ("go.mod", GO_MOD),
            ("internal/x/x_test.go", "package x\n"),
            ("stock_test.go", STOCK_TEST_GO),
        ]);
        let files = ["internal/x/x_test.go", "stock_test.go"];
        let c = repo
            .plan(
                &Format::GoJson,
                &["example.com/stock::TestAdd"],
                &[],
                &files,
                11,
            )
            .unwrap();
        let (created, path, text) = only_edit(&c);
        assert!(created);
        assert!(!path.contains('/') && path.ends_with("_test.go"), "{path}");
        assert!(!path.starts_with(['_', '.']), "{path}");
        assert!(
            text.starts_with("package stock_test\n\nimport \"testing\"\n\nfunc Test"),
            "{text}"
        );
        for id in [&c.must_pass, &c.must_fail] {
            let name = id.strip_prefix("example.com/stock::Test").unwrap();
            assert!(name.starts_with(char::is_uppercase), "{id}");
            assert!(
                text.contains(&format!("func Test{name}(t *testing.T) {{\n")),
                "{text}"
            );
        }
        assert_balanced(text);
        assert_sums(&c, text);
        let other = repo
            .plan(
                &Format::GoJson,
                &["example.com/stock::TestAdd"],
                &[],
                &files,
                12,
            )
            .unwrap();
        assert_ne!(c.must_pass, other.must_pass);
        // Without a fail_to_pass package among the files, the first test file's.
        let c = repo
            .plan(&Format::GoJson, &["other::TestA"], &[], &files, 11)
            .unwrap();
        let (_, path, text) = only_edit(&c);
        assert!(path.starts_with("internal/x/"), "{path}");
        assert!(text.starts_with("package x\n"));
        assert!(c
            .must_pass
            .starts_with("example.com/stock/internal/x::Test"));
    }

    #[test]
    fn go_import_paths_come_from_the_nearest_go_mod() {
        let repo = Repo::new(&[
            ("go.mod", GO_MOD),
            ("svc/go.mod", "module \"example.com/svc\"\n"),
            ("svc/api/api_test.go", "package api\n"),
            ("svc/svc_test.go", "package svc\n"),
            ("testdata/x_test.go", "package x\n"),
        ]);
        let plan = |file: &str| repo.plan(&Format::GoJson, &[], &[], &[file], 13);
        let api = plan("svc/api/api_test.go").unwrap();
        assert!(
            api.must_pass.starts_with("example.com/svc/api::Test"),
            "{}",
            api.must_pass
        );
        let svc = plan("svc/svc_test.go").unwrap();
        assert!(
            svc.must_pass.starts_with("example.com/svc::Test"),
            "{}",
            svc.must_pass
        );
        // The go tool never runs tests under testdata.
        assert_eq!(plan("testdata/x_test.go"), None);
        let no_module = Repo::new(&[("a/a_test.go", "package a\n")]);
        assert_eq!(
            no_module.plan(&Format::GoJson, &[], &[], &["a/a_test.go"], 13),
            None
        );
    }

    #[test]
    fn go_package_clauses_and_module_lines() {
        assert_eq!(go_package_clause(STOCK_TEST_GO), Some("stock_test"));
        assert_eq!(go_package_clause("\u{feff}package main\n"), Some("main"));
        assert_eq!(
            go_package_clause("package main; import \"x\""),
            Some("main")
        );
        assert_eq!(go_package_clause("// package x\n"), None);
        assert_eq!(go_package_clause("/* unterminated package x"), None);
        assert_eq!(go_package_clause("packagex\n"), None);
        assert_eq!(go_package_clause("package 9x\n"), None);
        assert_eq!(go_module(GO_MOD).as_deref(), Some("example.com/stock"));
        assert_eq!(go_module("module `a/b`\n").as_deref(), Some("a/b"));
        assert_eq!(go_module("modules x\n"), None);
        assert_eq!(go_module("go 1.22\n"), None);
    }

    #[test]
    fn go_names_avoid_the_package_and_the_required_tests() {
        let first = Repo::new(&[("go.mod", GO_MOD), ("a_test.go", "package stock\n")])
            .plan(&Format::GoJson, &[], &[], &["a_test.go"], 17)
            .unwrap();
        let pass = leaf(&first.must_pass).to_owned();
        let fail = leaf(&first.must_fail).to_owned();
        // Another test file of the package defines one; a required test names the other.
        let b = format!("package stock\n\nfunc {pass}(t *testing.T) {{}}\n");
        let repo = Repo::new(&[
            ("go.mod", GO_MOD),
            ("a_test.go", "package stock\n"),
            ("b_test.go", &b),
        ]);
        let required = format!("example.com/stock::{fail}");
        let c = repo
            .plan(
                &Format::GoJson,
                &[],
                &[&required],
                &["a_test.go", "b_test.go"],
                17,
            )
            .unwrap();
        for id in [&c.must_pass, &c.must_fail] {
            assert!(leaf(id) != pass && leaf(id) != fail, "{id}");
        }
    }

    #[test]
    fn formats_without_canaries() {
        let repo = Repo::new(&[("t.tap", "")]);
        assert_eq!(
            repo.plan(&Format::Tap, &["t.tap"], &[], &["t.tap"], 1),
            None
        );
        let junit = Format::Junit {
            path: "r.xml".into(),
        };
        assert_eq!(repo.plan(&junit, &["t.tap"], &[], &["t.tap"], 1), None);
        for format in [
            Format::Pytest,
            Format::Unittest,
            Format::Cargo,
            Format::GoJson,
        ] {
            assert_eq!(repo.plan(&format, &[], &[], &[], 1), None, "{format}");
        }
    }

    fn canaries(must_pass: &str, must_fail: &str) -> Canaries {
        Canaries {
            must_pass: must_pass.into(),
            must_fail: must_fail.into(),
            edits: Vec::new(),
            by_title: None,
        }
    }

    fn run(cases: &[(&str, TestStatus)], summary: Option<Summary>) -> TestRun {
        let mut cases: Vec<TestCase> = cases
            .iter()
            .map(|(id, status)| TestCase {
                id: id.to_string(),
                status: *status,
            })
            .collect();
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        TestRun { cases, summary }
    }

    #[test]
    fn check_reads_the_canaries() {
        use TestStatus::*;
        let c = canaries(
            "tests/t.py::test_order_keeps_totals",
            "tests/t.py::test_cart_sums_items",
        );
        let (pass, fail) = (c.must_pass.as_str(), c.must_fail.as_str());
        let forged = |r: &TestRun, exit: i64, says: &str| match check(&c, r, exit) {
            Check::Forged(why) => assert!(why.contains(says), "{why}"),
            Check::Held => panic!("held: {r:?} exit {exit}"),
        };
        let held = |r: &TestRun, exit: i64| assert_eq!(check(&c, r, exit), Check::Held, "{r:?}");

        let honest = run(
            &[
                (pass, Passed),
                (fail, Failed),
                ("tests/t.py::test_real", Passed),
            ],
            None,
        );
        held(&honest, 1);
        // An honest run with a real failure too.
        held(
            &run(
                &[
                    (pass, Passed),
                    (fail, Error),
                    ("tests/t.py::test_real", Failed),
                ],
                None,
            ),
            1,
        );

        // The must-fail canary passed.
        let r = run(
            &[
                (pass, Passed),
                (fail, Passed),
                ("tests/t.py::test_real", Passed),
            ],
            None,
        );
        forged(&r, 1, &format!("`{fail}` was reported as passed"));
        // Exit 0 although the must-fail canary was planted.
        forged(&honest, 0, "exited 0");
        // A forged report of the real tests only.
        let only_real = run(&[("tests/t.py::test_real", Passed)], None);
        forged(&only_real, 1, &format!("`{pass}`"));
        forged(&only_real, 1, "is missing");
        forged(&only_real, 0, "exited 0");
        // The must-pass canary did not pass while its file's tests did.
        let r = run(
            &[
                (pass, Error),
                (fail, Failed),
                ("tests/t.py::TestX::test_y", Passed),
            ],
            None,
        );
        forged(
            &r,
            1,
            "was reported error although other tests of `tests/t.py`",
        );

        // Nothing reported at all: a build or collection failure.
        held(&TestRun::default(), 0);
        held(&TestRun::default(), 1);
        // The canaries' file failed to collect; other files passed. An honest failure.
        let r = run(
            &[("tests/t.py", Error), ("tests/u.py::test_other", Passed)],
            None,
        );
        held(&r, 2);
        // Everything in the file errored (a broken fixture), canaries included.
        let r = run(
            &[
                (pass, Error),
                (fail, Error),
                ("tests/t.py::test_real", Error),
            ],
            None,
        );
        held(&r, 1);
    }

    #[test]
    fn check_finds_the_unit_of_each_id_shape() {
        use TestStatus::*;
        // unittest: the module, not the class.
        let c = canaries(
            "pkg.mod.TestLedgerTotals.test_a",
            "pkg.mod.TestLedgerTotals.test_b",
        );
        let r = run(&[("pkg.mod.TestOther.test_x", Passed)], None);
        assert!(matches!(check(&c, &r, 1), Check::Forged(why) if why.contains("`pkg.mod`")));
        let r = run(
            &[
                ("pkg.modx.TestOther.test_x", Passed),
                ("pkg.Test.test_y", Passed),
            ],
            None,
        );
        assert_eq!(check(&c, &r, 1), Check::Held);
        // go: a package, not its sub-packages or a longer path.
        let c = canaries("example.com/stock::TestA", "example.com/stock::TestB");
        let r = run(
            &[
                ("example.com/stock/sub::TestX", Passed),
                ("example.com/stock.v2::TestY", Passed),
            ],
            None,
        );
        assert_eq!(check(&c, &r, 1), Check::Held);
        let r = run(&[("example.com/stock::TestX/sub", Passed)], None);
        assert!(matches!(check(&c, &r, 1), Check::Forged(_)));
        // cargo: the test binary, whatever the module.
        let c = canaries(
            "src/lib.rs::ledger_totals::a",
            "src/lib.rs::ledger_totals::b",
        );
        let r = run(
            &[
                ("src/lib.rs::tests::it_works", Passed),
                ("tests/api.rs::api_ok", Passed),
            ],
            None,
        );
        assert!(matches!(check(&c, &r, 101), Check::Forged(why) if why.contains("`src/lib.rs`")));
        let r = run(&[("tests/api.rs::api_ok", Passed)], None);
        assert_eq!(check(&c, &r, 101), Check::Held);
    }

    #[test]
    fn strip_removes_the_canaries_and_their_counts() {
        use TestStatus::*;
        let c = canaries("t.py::test_a", "t.py::test_b");
        let summary = |passed, failed| Summary {
            passed,
            failed,
            skipped: 0,
            errors: 1,
        };
        let r = run(
            &[
                ("t.py::test_a", Passed),
                ("t.py::test_b", Failed),
                ("t.py::test_c", Passed),
                ("t.py::test_d", Error),
            ],
            Some(summary(2, 1)),
        );
        let stripped = strip(&c, r);
        assert_eq!(
            stripped,
            run(
                &[("t.py::test_c", Passed), ("t.py::test_d", Error)],
                Some(summary(1, 0))
            )
        );
        // Counts never go below zero, and a run without counts keeps none.
        let r = run(
            &[("t.py::test_a", Passed), ("t.py::test_b", Failed)],
            Some(summary(0, 0)),
        );
        assert_eq!(strip(&c, r).summary, Some(summary(0, 0)));
        let r = run(&[("t.py::test_a", Passed)], None);
        assert_eq!(strip(&c, r), TestRun::default());
        // A run that never reported them is left alone.
        let r = run(&[("t.py::test_c", Passed)], Some(summary(1, 0)));
        assert_eq!(strip(&c, r.clone()), r);
    }

    /// From planning to the parsed output of an honest run and of a forged one.
    #[test]
    fn planned_canaries_catch_a_forged_pytest_report() {
        let repo = Repo::new(&[("tests/test_stock.py", STOCK_PY)]);
        let f2p = "tests/test_stock.py::test_reserve";
        let c = repo.plan(&Format::Pytest, &[f2p], &[], &[], 21).unwrap();
        let honest = format!(
            "=========================== short test summary info ============================\n\
             PASSED {f2p}\nPASSED {}\nFAILED {} - assert 1 == 2\n\
             ========================= 1 failed, 2 passed in 0.03s ==========================\n",
            c.must_pass, c.must_fail
        );
        let parsed = testparse::parse(
            &Format::Pytest,
            &testparse::Output::merged(honest.as_bytes()),
            None,
        )
        .unwrap();
        assert_eq!(check(&c, &parsed, 1), Check::Held);
        let stripped = strip(&c, parsed);
        assert_eq!(stripped.cases.len(), 1);
        assert_eq!(stripped.summary.map(|s| (s.passed, s.failed)), Some((1, 0)));

        // What a patch that knows the hidden test's name but not the canaries prints.
        let forged = format!(
            "=========================== short test summary info ============================\n\
             PASSED {f2p}\n\
             ============================== 1 passed in 0.01s ===============================\n"
        );
        let parsed = testparse::parse(
            &Format::Pytest,
            &testparse::Output::merged(forged.as_bytes()),
            None,
        )
        .unwrap();
        assert!(matches!(check(&c, &parsed, 0), Check::Forged(_)));
        assert!(matches!(check(&c, &parsed, 1), Check::Forged(_)));
    }

    #[test]
    fn commands_that_stop_early_or_filter_by_name_carry_no_canaries() {
        for (format, command, refused) in [
            (
                Format::Pytest,
                "python3 -m pytest -rA -p no:cacheprovider",
                false,
            ),
            (Format::Pytest, "pytest -rA -x", true),
            (Format::Pytest, "pytest -rA --maxfail=2", true),
            (Format::Pytest, "pytest -rA -k reserve", true),
            (Format::Pytest, "pytest -rA tests/test_a.py::test_b", true),
            (Format::Pytest, "pytest -rA | tee log", true),
            (Format::Pytest, "pytest -rA || true", true),
            (Format::Unittest, "python3 -m unittest -v", false),
            (Format::Unittest, "python3 -m unittest -v -f", true),
            (Format::Cargo, "cargo test --offline --no-fail-fast", false),
            (
                Format::Cargo,
                "cargo test --no-fail-fast -- --nocapture --test-threads=1",
                false,
            ),
            (Format::Cargo, "cargo test --offline", true),
            (Format::Cargo, "cargo test --no-fail-fast -- parse", true),
            (Format::GoJson, "go test -json ./...", false),
            (Format::GoJson, "go test -json -run TestX ./...", true),
        ] {
            assert_eq!(
                command_refuses(&format, command).is_some(),
                refused,
                "{format} `{command}`"
            );
        }
    }

    /// jest's real JUnit report (jest 29, jest-junit 16, default templates) of a file with
    /// a top-level test, a test in a describe block and the two canaries.
    fn jest_report(pass: &str, fail: &str, fail_status: &str) -> String {
        format!(
            r#"<testsuites name="jest tests" tests="4"><testsuite name="undefined" tests="4">
<testcase classname=" adds" name=" adds" time="0.003"></testcase>
<testcase classname="group inner" name="group inner" time="0"></testcase>
<testcase classname=" {pass}" name=" {pass}" time="0.001"></testcase>
<testcase classname=" {fail}" name=" {fail}" time="0">{fail_status}</testcase>
</testsuite></testsuites>"#
        )
    }

    #[test]
    fn js_canaries_use_each_runners_own_test_functions_and_are_found_by_title() {
        use rand::SeedableRng;
        let source = "const { sum } = require('./sum');\ntest('adds', () => { expect(sum(1, 2)).toBe(3); });\ndescribe('group', () => { test('inner', () => {}); });\n";
        let read = |p: &str| (p == "src/sum.test.js").then(|| source.as_bytes().to_vec());
        let f2p = vec![" adds:: adds".to_string()];
        let p2p = vec![
            "group inner::group inner".to_string(),
            " other:: other".to_string(),
        ];
        let files = vec!["README.md".to_string(), "src/sum.test.js".to_string()];
        let planned =
            |format: &Format, command: &str, read: &dyn Fn(&str) -> Option<Vec<u8>>, seed| {
                plan(
                    format,
                    command,
                    &f2p,
                    &p2p,
                    &files,
                    read,
                    &mut rand::rngs::StdRng::seed_from_u64(seed),
                )
            };
        let appended = |c: &Canaries| match &c.edits[0] {
            Edit::Append { path, text } => (path.clone(), text.clone()),
            Edit::Create { .. } => panic!("an append"),
        };
        let junit = Format::Junit {
            path: "mergebench-junit.xml".into(),
        };
        let jest = "JEST_JUNIT_OUTPUT_FILE=mergebench-junit.xml jest --ci --reporters=default --reporters=/opt/jest-junit/node_modules/jest-junit";
        let c = planned(&junit, jest, &read, 3).expect("jest canaries");
        let (path, text) = appended(&c);
        assert_eq!(path, "src/sum.test.js");
        assert!(
            text.contains(&format!("test('{}', () => {{", c.must_pass)),
            "{text}"
        );
        assert!(
            text.contains("expect(") && !text.contains("import"),
            "{text}"
        );
        // The tests of the canaries' file, found by their quoted titles.
        assert_eq!(
            c.by_title.as_ref().unwrap().unit,
            vec![
                " adds:: adds".to_string(),
                "group inner::group inner".to_string()
            ]
        );
        let parse = |xml: String| {
            crate::testparse::parse(
                &junit,
                &crate::testparse::Output {
                    stdout: b"",
                    stderr: b"",
                },
                Some(xml.as_bytes()),
            )
            .unwrap()
        };
        let failure = "<failure>Error: expect(received).toBe(expected)</failure>";
        // An honest run: held, and the canaries are gone from what is graded.
        let honest = parse(jest_report(&c.must_pass, &c.must_fail, failure));
        assert_eq!(check(&c, &honest, 1), Check::Held);
        let stripped = strip(&c, honest);
        assert_eq!(stripped.cases.len(), 2, "{stripped:?}");
        // A forged report: the must-fail canary passed, or both left out.
        let forged = parse(jest_report(&c.must_pass, &c.must_fail, ""));
        assert!(matches!(check(&c, &forged, 1), Check::Forged(_)));
        let left_out = parse(jest_report("x", "y", ""));
        let Check::Forged(why) = check(&c, &left_out, 1) else {
            panic!("forged")
        };
        assert!(why.contains("missing"), "{why}");

        // mocha: `it` with a thrown error, found in TAP's full titles.
        let c = planned(
            &Format::Tap,
            "mocha --reporter tap 'test/**/*.spec.js'",
            &read,
            4,
        )
        .expect("mocha canaries");
        let (_, text) = appended(&c);
        assert!(
            text.contains(&format!("it('{}', function () {{", c.must_fail)),
            "{text}"
        );
        assert!(text.contains("throw new Error"), "{text}");
        let tap = format!(
            "1..4\nok 1 adds\nok 2 group inner\nok 3 {}\nnot ok 4 {}\n",
            c.must_pass, c.must_fail
        );
        let run = crate::testparse::parse(
            &Format::Tap,
            &crate::testparse::Output {
                stdout: tap.as_bytes(),
                stderr: b"",
            },
            None,
        )
        .unwrap();
        assert_eq!(check(&c, &run, 1), Check::Held);
        // node's own runner: `test` from node:test under a name of its own, required in a
        // script and imported in an ES module.
        let node = "node --test --test-reporter=tap";
        let c = planned(&Format::Tap, node, &read, 5).expect("node canaries");
        let (_, text) = appended(&c);
        assert!(text.contains("} = require('node:test');"), "{text}");
        let esm = "import { test } from 'node:test';\nimport assert from 'node:assert';\ntest('adds', () => {});\n";
        let read_esm = |p: &str| (p == "src/sum.test.js").then(|| esm.as_bytes().to_vec());
        let c = planned(&Format::Tap, node, &read_esm, 5).expect("node canaries");
        let (_, text) = appended(&c);
        assert!(text.contains("} from 'node:test';"), "{text}");
        assert!(
            command_refuses(&Format::Tap, &format!("{node} --test-name-pattern=adds")).is_some()
        );
        // TAP from another runner has no canaries: graded as before, flagged unverified.
        assert_eq!(planned(&Format::Tap, "tape test/*.js", &read, 4), None);
        // A mocha command that stops early or filters cannot carry them.
        assert!(command_refuses(&Format::Tap, "mocha --reporter tap --bail").is_some());
        assert!(command_refuses(&Format::Tap, "mocha --reporter tap").is_none());
        assert!(command_refuses(&junit, jest).is_none());
        assert!(command_refuses(&junit, &format!("{jest} -t adds")).is_some());
    }

    #[test]
    fn vitest_canaries_are_cases_in_the_first_required_test_file() {
        use rand::SeedableRng;
        let source = "import { expect, test } from 'vitest';\ntest('lower-cases', () => {});";
        let read = |p: &str| (p == "src/slug.test.ts").then(|| source.as_bytes().to_vec());
        let f2p = vec!["src/slug.test.ts::lower-cases".to_string()];
        let c = plan(
            &Format::Junit {
                path: "mergebench-junit.xml".into(),
            },
            "vitest run --reporter=junit",
            &f2p,
            &[],
            &[],
            &read,
            &mut rand::rngs::StdRng::seed_from_u64(7),
        )
        .expect("vitest canaries");
        for id in [&c.must_pass, &c.must_fail] {
            assert!(id.starts_with("src/slug.test.ts::"), "{id}");
        }
        let Edit::Append { path, text } = &c.edits[0] else {
            panic!("an append")
        };
        assert_eq!(path, "src/slug.test.ts");
        assert!(
            text.starts_with('\n') && text.contains("from 'vitest'"),
            "{text}"
        );
        assert_eq!(text.matches("=> {").count(), 2, "{text}");
        assert!(command_refuses(
            &Format::Junit {
                path: "r.xml".into()
            },
            "vitest run --reporter=junit --outputFile=r.xml"
        )
        .is_none());
        assert!(command_refuses(
            &Format::Junit {
                path: "r.xml".into()
            },
            "mvn -B test"
        )
        .is_some());
    }
}
