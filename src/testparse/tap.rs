//! Test Anything Protocol (versions 12 to 14): `ok 1 - description`, `not ok 2 - ...`,
//! `# SKIP` and `# TODO` directives (both read as skipped), indented subtests with
//! `# Subtest: name` headings, and YAML diagnostic blocks, which are skipped.
//!
//! A test's id is its description, or its number when it has none. A subtest under
//! `# Subtest:` headings is prefixed by their names, as in `warehouse > counts`, because
//! describe() blocks often reuse names such as "returns 404". Tests the plan promised
//! but that never reported are not recorded.

use std::borrow::Cow;
use std::fmt::Write;

use super::{lines, Results, Summary, TestRun, TestStatus};

/// Joins a subtest's parents' names and its own description into its id.
const NESTING: &str = " > ";
/// Most enclosing levels tracked, for headings and for implicit numbering alike. Real
/// suites nest a handful of levels; the cap keeps per-line work constant.
const MAX_NESTING: usize = 16;
/// Longest parent path put in front of a subtest's description. Past it the subtest is
/// known by its own description only, so one huge heading is not copied into every id
/// below it.
const MAX_PREFIX: usize = 512;

pub(super) fn parse(output: &[u8]) -> TestRun {
    let mut results = Results::new(output.len());
    // Open `# Subtest: name` headings as (indent, name), innermost last.
    let mut subtests: Vec<(usize, String)> = Vec::new();
    // The last test number seen at each indentation, for tests that print none.
    let mut numbers: Vec<(usize, u64)> = Vec::new();
    // Indentation of the result line just read, while a YAML block may follow it.
    let mut after_result: Option<usize> = None;
    // Indentation of the YAML block being skipped.
    let mut yaml: Option<usize> = None;
    let mut counts = RunnerCounts::default();
    let mut id = String::new();
    for line in lines(output) {
        let line = line.trim_end();
        let body = line.trim_start();
        let indent = line.len() - body.len();
        if let Some(yaml_indent) = yaml {
            // The block's keys sit at the indentation of its "---"; "..." there closes it.
            if body.is_empty() || indent > yaml_indent {
                continue;
            }
            if indent == yaml_indent {
                if body == "..." {
                    yaml = None;
                }
                continue;
            }
            // Less indented than the block: it was never closed.
            yaml = None;
        }
        if body.is_empty() {
            continue;
        }
        if body == "---" && after_result.is_some_and(|result| indent > result) {
            yaml = Some(indent);
            after_result = None;
            continue;
        }
        after_result = None;
        if let Some(name) = body.strip_prefix("# Subtest") {
            let name = name.strip_prefix(':').unwrap_or(name).trim();
            subtests.retain(|&(open, _)| open < indent);
            if subtests.len() < MAX_NESTING {
                subtests.push((indent, unescape(name).into_owned()));
            }
            continue;
        }
        if indent == 0 {
            counts.read(body);
        }
        let Some(result) = parse_result(body) else {
            continue;
        };
        after_result = Some(indent);
        numbers.retain(|&(level, _)| level <= indent);
        let number = match numbers.iter_mut().find(|(level, _)| *level == indent) {
            Some((_, last)) => {
                // Saturating: a test may print any number, u64::MAX included.
                *last = result.number.unwrap_or(last.saturating_add(1));
                *last
            }
            None => {
                let number = result.number.unwrap_or(1);
                if numbers.len() < MAX_NESTING {
                    numbers.push((indent, number));
                }
                number
            }
        };
        let parents = subtests
            .iter()
            .filter(|(open, _)| *open < indent)
            .map(|(_, parent)| parent.as_str());
        let prefix_len: usize = parents.clone().map(|p| p.len() + NESTING.len()).sum();
        id.clear();
        if prefix_len <= MAX_PREFIX {
            for parent in parents {
                id.push_str(parent);
                id.push_str(NESTING);
            }
        }
        if result.description.is_empty() {
            // Writing to a String cannot fail.
            let _ = write!(id, "{number}");
        } else {
            id.push_str(&result.description);
        }
        results.record(&id, result.status);
        // This result closes its own heading and any deeper ones.
        subtests.retain(|&(open, _)| open < indent);
    }
    results.finish(counts.summary())
}

struct TapResult<'a> {
    number: Option<u64>,
    description: Cow<'a, str>,
    status: TestStatus,
}

/// `ok`, `not ok 2`, `ok 3 - description # SKIP reason`, `not ok 4 desc # TODO later`.
fn parse_result(body: &str) -> Option<TapResult<'_>> {
    let (passed, rest) = match body.strip_prefix("not ok") {
        Some(rest) => (false, rest),
        None => (true, body.strip_prefix("ok")?),
    };
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let rest = rest.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let number = rest[..digits].parse().ok();
    let rest = &rest[digits..];
    let (description, directive) = split_directive(rest);
    let description = description.trim();
    let description = description
        .strip_prefix("- ")
        .or_else(|| description.strip_prefix('-'))
        .unwrap_or(description)
        .trim();
    let status = if directive {
        // A TODO test is not expected to work yet, so neither its failure nor a lucky
        // pass is a result; runners count both apart from passes and failures.
        TestStatus::Skipped
    } else if passed {
        TestStatus::Passed
    } else {
        TestStatus::Failed
    };
    Some(TapResult {
        number,
        description: unescape(description),
        status,
    })
}

/// Splits at the first unescaped `#` that starts a SKIP or TODO directive (any case, as
/// in Perl's `# skip`), and says whether there was one. Other `#`s, escaped or not, stay
/// in the description, so `ok 1 - fixes #42` keeps its whole description.
fn split_directive(text: &str) -> (&str, bool) {
    let bytes = text.as_bytes();
    for (index, _) in text.match_indices('#') {
        if index > 0 && bytes[index - 1] == b'\\' {
            continue;
        }
        let word = text[index + 1..].trim_start().get(..4).unwrap_or_default();
        if word.eq_ignore_ascii_case("skip") || word.eq_ignore_ascii_case("todo") {
            return (&text[..index], true);
        }
    }
    (text, false)
}

/// TAP escapes `#` and `\` in descriptions with a backslash.
fn unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next @ ('#' | '\\')) => out.push(next),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The closing counts node's test runner prints as comments (`# pass 2`, `# fail 1`, ...);
/// TAP itself has none.
#[derive(Default)]
struct RunnerCounts {
    pass: Option<u64>,
    fail: Option<u64>,
    suites: u64,
    cancelled: u64,
    skipped: u64,
    todo: u64,
}

impl RunnerCounts {
    fn read(&mut self, body: &str) {
        let Some(comment) = body.strip_prefix("# ") else {
            return;
        };
        let Some((key, value)) = comment.split_once(' ') else {
            return;
        };
        let Ok(value) = value.trim().parse::<u64>() else {
            return;
        };
        match key {
            "pass" => self.pass = Some(value),
            "fail" => self.fail = Some(value),
            "suites" => self.suites = value,
            "cancelled" => self.cancelled = value,
            "skipped" => self.skipped = value,
            "todo" => self.todo = value,
            _ => {}
        }
    }

    fn summary(&self) -> Option<Summary> {
        Some(Summary {
            // A describe() block reports a result line like a test's, but node counts it
            // only under `# suites`. Counting suites as passes keeps `passed` an upper
            // bound on the passing lines read.
            passed: self.pass?.saturating_add(self.suites),
            failed: self.fail?.saturating_add(self.cancelled),
            skipped: self.skipped.saturating_add(self.todo),
            errors: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_numbers_past_u64_saturate() {
        // Bug pinned (found by tests/fuzz.rs): the test after `ok 18446744073709551615`
        // was numbered by adding one, which overflowed and panicked.
        let run = super::parse(b"ok 18446744073709551615 - first\nok - second\nnot ok - third\n");
        assert_eq!(run.cases.len(), 3, "{:?}", run.cases);
    }

    use super::MAX_PREFIX;
    use crate::testparse::tests::check;
    use crate::testparse::Format;

    // node 20 `node --test --test-reporter=tap`: TAP 13 with `# Subtest` headings, YAML
    // diagnostics, a describe() block with nested tests, SKIP and TODO.
    const NODE: &str = r#"TAP version 13
# Subtest: adds stock
ok 1 - adds stock
  ---
  duration_ms: 1.095969
  ...
# Subtest: reserve is atomic
not ok 2 - reserve is atomic
  ---
  duration_ms: 1.14381
  location: '/workspace/stock.test.js:4:1'
  failureType: 'testCodeFailure'
  error: |-
    Expected values to be strictly equal:

    1 !== 2

  code: 'ERR_ASSERTION'
  name: 'AssertionError'
  expected: 2
  actual: 1
  operator: 'strictEqual'
  stack: |-
    TestContext.<anonymous> (/workspace/stock.test.js:4:42)
    Test.runInAsyncScope (node:async_hooks:206:9)
    Test.run (node:internal/test_runner/test:796:25)
  ...
# Subtest: needs db
ok 3 - needs db # SKIP no database
  ---
  duration_ms: 0.097625
  ...
# Subtest: known bug
not ok 4 - known bug # TODO fix later
  ---
  duration_ms: 0.093378
  location: '/workspace/stock.test.js:6:1'
  failureType: 'testCodeFailure'
  error: 'x'
  code: 'ERR_TEST_FAILURE'
  ...
# Subtest: warehouse
    # Subtest: moves \# items
    ok 1 - moves \# items
      ---
      duration_ms: 0.158185
      ...
    # Subtest: counts
    not ok 2 - counts
      ---
      duration_ms: 8.698343
      location: '/workspace/stock.test.js:9:8'
      failureType: 'testCodeFailure'
      error: |-
        The expression evaluated to a falsy value:

          assert.ok(false)

      code: 'ERR_ASSERTION'
      ...
    1..2
not ok 5 - warehouse
  ---
  duration_ms: 9.222633
  type: 'suite'
  location: '/workspace/stock.test.js:7:6'
  failureType: 'subtestsFailed'
  error: '1 subtest failed'
  code: 'ERR_TEST_FAILURE'
  ...
1..5
# tests 6
# suites 1
# pass 2
# fail 2
# cancelled 0
# skipped 1
# todo 1
# duration_ms 116.902476
"#;

    #[test]
    fn node_test_runner() {
        check(
            &Format::Tap,
            NODE.as_bytes(),
            "
            passed  adds stock
            skipped known bug
            skipped needs db
            failed  reserve is atomic
            failed  warehouse
            failed  warehouse > counts
            passed  warehouse > moves # items
            summary: 3 passed, 2 failed, 2 skipped, 0 errors
            ",
        );
    }

    // Perl's Test::More (TAP 12): tests without descriptions, lowercase `# skip`, a TODO,
    // diagnostics as comments, and a plan of 6 of which only 5 reported.
    const PERL: &str = "1..6
ok 1 - loads config
not ok 2 - parses ports
#   Failed test 'parses ports'
#   at t/basic.t line 3.
#          got: '2'
#     expected: '3'
ok 3 # skip no network
not ok 4 - handles unicode # TODO not yet
#   Failed (TODO) test 'handles unicode'
#   at t/basic.t line 5.
ok 5
# about to die
# Looks like you planned 6 tests but ran 5.
# Looks like you failed 1 test of 5 run.
";

    #[test]
    fn perl_test_more() {
        check(
            &Format::Tap,
            PERL.as_bytes(),
            "
            skipped 3
            passed  5
            skipped handles unicode
            passed  loads config
            failed  parses ports
            summary: none
            ",
        );
    }

    #[test]
    fn descriptions_and_directives() {
        check(
            &Format::Tap,
            b"TAP version 13\r\n\
1..9\r\n\
ok 1 fixes #42 without a dash\r\n\
ok 2 -   padded   \r\n\
not ok 3 - flaky one # todo\r\n\
ok 4 - done early # TODO but it passed\r\n\
not ok 5 - broken # SKIP not on CI\r\n\
ok - numberless\r\n\
ok\r\n\
not ok 8 - caf\xc3\xa9 \xff \\\\ done\r\n\
ok 9 - path\\#1 # Skipped: windows only\r\n\
Bail out! database went away\r\n",
            "
            passed  7
            skipped broken
            failed  caf\u{e9} \u{fffd} \\ done
            skipped done early
            passed  fixes #42 without a dash
            skipped flaky one
            passed  numberless
            passed  padded
            skipped path#1
            summary: none
            ",
        );
    }

    // Bug pinned: a second line for the same description, printed by the code under test,
    // cannot turn a failure into a pass.
    #[test]
    fn forged_ok_line_after_not_ok() {
        check(
            &Format::Tap,
            b"1..2\nnot ok 1 - reserves atomically\nok 1 - reserves atomically\nok 2 - adds\n",
            "
            passed  adds
            failed  reserves atomically
            summary: none
            ",
        );
    }

    // Result-looking lines inside a YAML block are diagnostics, not results.
    #[test]
    fn yaml_blocks_are_skipped() {
        check(
            &Format::Tap,
            b"TAP version 13
not ok 1 - fetch
  ---
  message: 'retrying'
  data:
  ok 2 - fake inside yaml
  ...
ok 2 - store
  ---
  unterminated: true
ok 3 - after an unterminated block
",
            "
            passed  after an unterminated block
            failed  fetch
            passed  store
            summary: none
            ",
        );
    }

    #[test]
    fn nested_subtests_without_headings() {
        // TAP 14 allows indented subtests without a heading; they keep their own names.
        check(
            &Format::Tap,
            b"TAP version 14
    ok 1 - inner a
    ok 2 - inner b
    1..2
ok 1 - outer
    ok - no number
    ok
ok 2 - second
1..2
",
            "
            passed  2
            passed  inner a
            passed  inner b
            passed  no number
            passed  outer
            passed  second
            summary: none
            ",
        );
    }

    #[test]
    fn very_long_parent_names_are_not_prefixed() {
        let long = "h".repeat(MAX_PREFIX);
        let output = format!(
            "# Subtest: outer\n    # Subtest: {long}\n        ok 1 - kept short\n\
             \x20   ok 1 - {long}\nok 1 - outer\n# Subtest: fine\n    ok 1 - child\nok 2 - fine\n"
        );
        check(
            &Format::Tap,
            output.as_bytes(),
            &format!(
                "
                passed  fine
                passed  fine > child
                passed  kept short
                passed  outer
                passed  outer > {long}
                summary: none
                "
            ),
        );
    }

    #[test]
    fn words_that_start_like_results_are_not_results() {
        check(
            &Format::Tap,
            b"okay then\nnot okay\nnot ok\n# ok 5 - commented\n",
            "
            failed  1
            summary: none
            ",
        );
    }

    #[test]
    fn empty_output() {
        check(&Format::Tap, b"", "summary: none");
    }
}
