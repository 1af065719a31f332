//! `python -m unittest -v` output (and runners that print the same lines, such as
//! Django's): `test_add (pkg.mod.Class.test_add) ... ok` per test, the `FAIL:`/`ERROR:`
//! headings of the failure details, and the closing `Ran N tests` with `OK`/`FAILED (...)`.

use super::{lines, Results, Summary, TestRun, TestStatus};

pub(super) fn parse(output: &[u8]) -> TestRun {
    let mut results = Results::new(output.len());
    // The test whose status has not been printed yet: after a docstring line, or when the
    // test wrote its own output between the description and the status.
    let mut pending: Option<String> = None;
    let mut ran: Option<u64> = None;
    let mut summary = None;
    for line in lines(output) {
        let line = line.trim_end();
        if let Some((status, description)) = detail_heading(line) {
            if let Some(test) = parse_description(description) {
                results.record(&test.id, status);
            }
            pending = None;
            continue;
        }
        if is_separator(line) {
            pending = None;
            continue;
        }
        if let Some(count) = ran_line(line) {
            ran = Some(count);
            pending = None;
            continue;
        }
        if let Some(total) = ran {
            if let Some(counts) = outcome_line(line, total) {
                // The last run's closing lines are the runner's own; earlier ones may be
                // text a test printed.
                summary = Some(counts);
                ran = None;
                continue;
            }
        }
        // A status-less description ends in " ... " whose last space was trimmed.
        let described = line.split_once(" ... ").or_else(|| {
            line.strip_suffix(" ...")
                .map(|description| (description, ""))
        });
        if let Some((description, tail)) = described {
            if let Some(test) = parse_description(description.trim_start()) {
                let status = status_text(tail);
                if test.subtest {
                    // Only failing subtests are printed; they fail their parent test,
                    // which gets no status line of its own.
                    if let Some(status @ (TestStatus::Failed | TestStatus::Error)) = status {
                        results.record(&test.id, status);
                    }
                } else {
                    if let Some(status) = status {
                        results.record(&test.id, status);
                    }
                    pending = Some(test.id);
                }
                continue;
            }
        }
        if let Some(test) = parse_description(line) {
            if !test.subtest {
                // With a docstring, the description stands alone and the status follows
                // the docstring's first line.
                pending = Some(test.id);
                continue;
            }
        }
        if let Some(id) = &pending {
            // Every status line seen while a test is pending counts, so text the test
            // printed before its real status cannot replace that status.
            if let Some(status) = status_text(line).or_else(|| status_after_docstring(line)) {
                results.record(id, status);
            }
        }
    }
    results.finish(summary)
}

/// `FAIL: description`, `ERROR: description`, `UNEXPECTED SUCCESS: description` (3.12+).
fn detail_heading(line: &str) -> Option<(TestStatus, &str)> {
    if let Some(rest) = line.strip_prefix("FAIL: ") {
        Some((TestStatus::Failed, rest))
    } else if let Some(rest) = line.strip_prefix("ERROR: ") {
        Some((TestStatus::Error, rest))
    } else {
        line.strip_prefix("UNEXPECTED SUCCESS: ")
            .map(|rest| (TestStatus::Failed, rest))
    }
}

fn is_separator(line: &str) -> bool {
    line.len() >= 20 && (line.bytes().all(|b| b == b'=') || line.bytes().all(|b| b == b'-'))
}

/// The text unittest prints after ` ... `.
fn status_text(text: &str) -> Option<TestStatus> {
    let text = text.trim();
    match text {
        "ok" => Some(TestStatus::Passed),
        "FAIL" | "unexpected success" => Some(TestStatus::Failed),
        "ERROR" => Some(TestStatus::Error),
        "skipped" | "expected failure" => Some(TestStatus::Skipped),
        _ if text.starts_with("skipped '") || text.starts_with("skipped \"") => {
            Some(TestStatus::Skipped)
        }
        _ => None,
    }
}

/// `First line of the docstring ... ok`: the docstring may itself hold " ... ", so every
/// occurrence is tried from the left.
fn status_after_docstring(line: &str) -> Option<TestStatus> {
    line.match_indices(" ... ")
        .find_map(|(index, sep)| status_text(&line[index + sep.len()..]))
}

struct Described {
    id: String,
    /// The description names a subtest, as in `test_x (m.C.test_x) (i=2)`.
    subtest: bool,
}

/// `test_add (pkg.mod.Class.test_add)` (3.11+) or `test_add (pkg.mod.Class)` (up to 3.10),
/// optionally followed by a subtest's parameters; the id is `pkg.mod.Class.test_add`.
fn parse_description(text: &str) -> Option<Described> {
    let (name, rest) = text.split_once(" (")?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let (qualified, after) = rest.split_once(')')?;
    // Always at least `module.Class`; requiring the dot keeps log lines such as
    // `Connecting (retry)` from passing for descriptions.
    if !qualified.contains('.') || qualified.contains(char::is_whitespace) {
        return None;
    }
    let id = match qualified.strip_suffix(name) {
        Some(class) if class.ends_with('.') => qualified.to_owned(),
        _ => format!("{qualified}.{name}"),
    };
    Some(Described {
        id,
        subtest: !after.trim().is_empty(),
    })
}

/// `Ran 12 tests in 0.003s`.
fn ran_line(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("Ran ")?;
    let (count, rest) = rest.split_once(' ')?;
    if !(rest.starts_with("tests in ") || rest.starts_with("test in ")) {
        return None;
    }
    count.parse().ok()
}

/// `OK`, `OK (skipped=1)`, `FAILED (failures=1, errors=2)`, `NO TESTS RAN` (3.12+).
fn outcome_line(line: &str, total: u64) -> Option<Summary> {
    let details = if let Some(rest) = line.strip_prefix("OK") {
        rest
    } else if let Some(rest) = line.strip_prefix("FAILED") {
        rest
    } else {
        line.strip_prefix("NO TESTS RAN")?
    };
    let details = details.trim();
    let mut summary = Summary::default();
    // Tests that ran but are known not to have passed, each counted once.
    let mut ran_without_passing = 0u64;
    if !details.is_empty() {
        let inner = details.strip_prefix('(')?.strip_suffix(')')?;
        for part in inner.split(", ") {
            let (key, value) = part.split_once('=')?;
            let value: u64 = value.parse().ok()?;
            match key {
                // Saturating: the counts are the test process's to print, however large.
                "failures" => summary.failed = summary.failed.saturating_add(value),
                "errors" => summary.errors = summary.errors.saturating_add(value),
                "skipped" => summary.skipped = summary.skipped.saturating_add(value),
                "unexpected successes" => {
                    summary.failed = summary.failed.saturating_add(value);
                    ran_without_passing = ran_without_passing.saturating_add(value);
                }
                "expected failures" => {
                    summary.skipped = summary.skipped.saturating_add(value);
                    ran_without_passing = ran_without_passing.saturating_add(value);
                }
                _ => return None,
            }
        }
    }
    // unittest prints no pass count, and the others do not subtract cleanly from "Ran":
    // each failing subtest adds a failure, class and module fixture errors are not tests
    // that ran, and from Python 3.12 on skipped tests are left out of "Ran". So `passed`
    // is an upper bound: what ran, minus the tests known to have run without passing.
    summary.passed = total.saturating_sub(ran_without_passing);
    Some(summary)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_past_u64_saturate() {
        // Bug pinned (found by tests/fuzz.rs): summing the closing counts overflowed and
        // panicked.
        let run = super::parse(
            b"test_a (t.T.test_a) ... ok\n\nRan 5 tests in 0.001s\n\n\
              FAILED (failures=18446744073709551615, unexpected successes=3, \
              expected failures=18446744073709551615)\n",
        );
        let summary = run.summary.expect("the closing counts are read");
        assert_eq!(summary.failed, u64::MAX);
        assert_eq!(summary.skipped, u64::MAX);
        assert_eq!(summary.passed, 0);
    }

    use crate::testparse::tests::{check, check_fixture};
    use crate::testparse::Format;

    /// The cases every version's run of the test_calc fixture reports, one per line.
    const CALC_CASES: &str = "
        error   tests.test_calc.TestBrokenSetup.setUpClass
        passed  tests.test_calc.TestCalc.test_add
        error   tests.test_calc.TestCalc.test_div
        passed  tests.test_calc.TestCalc.test_documented
        failed  tests.test_calc.TestCalc.test_fixed_bug
        skipped tests.test_calc.TestCalc.test_known_bug
        passed  tests.test_calc.TestCalc.test_noisy
        skipped tests.test_calc.TestCalc.test_skipped
        failed  tests.test_calc.TestCalc.test_sub
        failed  tests.test_calc.TestCalc.test_subtests
    ";

    /// Checks a run of the test_calc fixture: its cases, then `summary`.
    #[track_caller]
    fn check_calc(output: &[u8], summary: &str) {
        check(
            &Format::Unittest,
            output,
            &format!("{CALC_CASES}\nsummary: {summary}"),
        );
    }

    // Python 3.12.1, `python -m unittest -v`: setUpClass failure, docstring, subtests,
    // skip, expected failure, unexpected success, and a test that prints "ok" itself.
    const PY312: &str = include_str!("../../tests/fixtures/testparse/unittest-py312.txt");

    #[test]
    fn python312_verbose() {
        check_calc(PY312.as_bytes(), "6 passed, 3 failed, 2 skipped, 2 errors");
    }

    // Python 3.11.7 prints the same lines as 3.12 but counts the setUpClass error as a
    // test that ran.
    #[test]
    fn python311_verbose() {
        let output = PY312.replace("Ran 8 tests in 0.002s", "Ran 9 tests in 0.001s");
        check_calc(output.as_bytes(), "7 passed, 3 failed, 2 skipped, 2 errors");
    }

    // Python 3.10.13: the description names the class only, a class-level error prints a
    // bare "ERROR", failing subtests show only in the details, and unexpected successes
    // get no details heading.
    const PY310: &str = include_str!("../../tests/fixtures/testparse/unittest-py310.txt");

    #[test]
    fn python310_verbose() {
        check_calc(PY310.as_bytes(), "7 passed, 3 failed, 2 skipped, 2 errors");
    }

    #[test]
    fn all_passing_with_skips() {
        check_fixture(&Format::Unittest, "unittest-all-passing-with-skips");
    }

    // A test that prints while running pushes its status onto a later line.
    #[test]
    fn status_after_the_test_output() {
        check_fixture(&Format::Unittest, "unittest-status-after-the-test-output");
    }

    // Bug pinned: a test printing "ok" before unittest prints its real status, or a whole
    // forged line for itself, keeps its real failure.
    #[test]
    fn forged_ok_lines_do_not_override_a_failure() {
        check_fixture(&Format::Unittest, "unittest-forged-ok-lines");
    }

    #[test]
    fn module_that_fails_to_import() {
        check_fixture(&Format::Unittest, "unittest-module-that-fails-to-import");
    }

    #[test]
    fn no_tests_ran() {
        check_fixture(&Format::Unittest, "unittest-no-tests-ran");
    }

    #[test]
    fn killed_before_the_summary() {
        check(
            &Format::Unittest,
            b"test_a (t.T.test_a) ... ok\ntest_b (t.T.test_b) ... Killed\n",
            "
            passed  t.T.test_a
            summary: none
            ",
        );
    }

    #[test]
    fn crlf_and_invalid_utf8() {
        check_fixture(&Format::Unittest, "unittest-crlf-and-invalid-utf8");
    }

    #[test]
    fn empty_output() {
        check(&Format::Unittest, b"", "summary: none");
    }

    #[test]
    fn unrelated_text_is_ignored() {
        check_fixture(&Format::Unittest, "unittest-unrelated-text-is-ignored");
    }
}
