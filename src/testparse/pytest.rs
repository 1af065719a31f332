//! pytest's console output: the `-rA` "short test summary info" section, the per-test
//! lines of `-v` (plain and pytest-xdist style), and the closing
//! `=== 3 failed, 10 passed in 0.12s ===` counts.

use super::{lines, Results, Summary, TestRun, TestStatus};

pub(super) fn parse(output: &[u8]) -> TestRun {
    let mut results = Results::new(output.len());
    let mut summary = None;
    let mut in_short_summary = false;
    for line in lines(output) {
        let line = line.trim_end();
        // A test's captured output is printed before the closing line, so the last
        // closing line is the runner's own.
        if let Some(counts) = closing_counts(line) {
            summary = Some(counts);
            continue;
        }
        if let Some(title) = section_title(line) {
            in_short_summary = title == "short test summary info";
            continue;
        }
        if in_short_summary {
            // "STATUS id" lines are read only inside the section, where pytest puts
            // them; elsewhere a log line starting with "ERROR " is just a log line.
            if let Some((status, id)) = short_summary_line(line) {
                results.record(id, status);
            }
        } else if let Some((status, id)) = xdist_line(line).or_else(|| verbose_line(line)) {
            results.record(id, status);
        }
    }
    results.finish(summary)
}

fn status_word(word: &str) -> Option<TestStatus> {
    match word {
        "PASSED" | "XPASS" => Some(TestStatus::Passed),
        "FAILED" => Some(TestStatus::Failed),
        "ERROR" => Some(TestStatus::Error),
        "SKIPPED" | "XFAIL" => Some(TestStatus::Skipped),
        _ => None,
    }
}

/// `=====... title ...=====` → `title`.
fn section_title(line: &str) -> Option<&str> {
    if line.len() < 3 || !line.starts_with("==") || !line.ends_with("==") {
        return None;
    }
    Some(line.trim_matches('=').trim())
}

/// `PASSED id`, `FAILED id - message`, `XPASS id reason` (pytest 7), `ERROR path - message`
/// (collection errors). `SKIPPED [1] file:line: reason` names no test and yields nothing.
fn short_summary_line(line: &str) -> Option<(TestStatus, &str)> {
    let (word, rest) = line.split_once(' ')?;
    let status = status_word(word)?;
    let rest = rest.trim_start();
    if status == TestStatus::Skipped && rest.starts_with('[') {
        return None;
    }
    let id = &rest[..node_id_len(rest)];
    (!id.is_empty()).then_some((status, id))
}

/// `[gw0] [ 50%] PASSED tests/test_x.py::test_a`, as printed with `-n` and `-v`.
fn xdist_line(line: &str) -> Option<(TestStatus, &str)> {
    let rest = line.strip_prefix("[gw")?;
    let (worker, rest) = rest.split_once("] ")?;
    if worker.is_empty() || !worker.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = match rest.strip_prefix('[') {
        Some(progress) => progress.split_once("] ")?.1,
        None => rest,
    };
    short_summary_line(rest.trim_start())
}

/// `tests/test_x.py::test_a PASSED                    [ 10%]`, optionally with a reason in
/// parentheses after the status word.
fn verbose_line(line: &str) -> Option<(TestStatus, &str)> {
    let line = strip_progress(line).trim_end();
    if !line.contains("::") {
        return None;
    }
    let id_len = node_id_len(line);
    let (id, rest) = line.split_at(id_len);
    let rest = rest.strip_prefix(' ')?.trim_start();
    let word = rest.split(' ').next()?;
    status_word(word).map(|status| (status, id))
}

/// Strips a trailing `[ 10%]` or `[ 3/14]` progress marker.
fn strip_progress(line: &str) -> &str {
    let Some(body) = line.strip_suffix(']') else {
        return line;
    };
    let Some(open) = body.rfind('[') else {
        return line;
    };
    let marker = &body[open + 1..];
    let is_progress = !marker.trim().is_empty()
        && marker
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b' ' || b == b'%' || b == b'/');
    if is_progress {
        &body[..open]
    } else {
        line
    }
}

/// Length of the node id at the start of `text`.
///
/// A node id is `path::Name::test` plus an optional `[parameters]` part that may hold
/// spaces, " - " and nested brackets, so it ends at the first space after the first "::"
/// that is outside brackets. The path before "::" is taken whole, so a directory with a
/// space in its name still works. Ids without "::" (a module that failed to import) end
/// at the first space. A "::" after the first " - " belongs to a message, not the id.
fn node_id_len(text: &str) -> usize {
    let head = text.find(" - ").map_or(text, |end| &text[..end]);
    let start = head.find("::").unwrap_or(0);
    let mut depth = 0usize;
    for (index, byte) in text.bytes().enumerate().skip(start) {
        match byte {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b' ' if depth == 0 => return index,
            _ => {}
        }
    }
    text.len()
}

/// The closing line: `==== 3 failed, 7 passed, 1 skipped, 1 xfailed, 1 xpassed, 2 errors
/// in 0.05s ====`, also without the `=` frame as `-q` prints it, and
/// `no tests ran in 0.01s`.
fn closing_counts(line: &str) -> Option<Summary> {
    let inner = line.trim().trim_matches('=').trim();
    let (counts, duration) = inner.rsplit_once(" in ")?;
    if !is_duration(duration) {
        return None;
    }
    let mut summary = Summary::default();
    if counts == "no tests ran" {
        return Some(summary);
    }
    for part in counts.split(", ") {
        let (number, word) = part.split_once(' ')?;
        let number: u64 = number.parse().ok()?;
        match word {
            // Saturating: the counts are the test process's to print, however large.
            "passed" | "xpassed" => summary.passed = summary.passed.saturating_add(number),
            "failed" => summary.failed = summary.failed.saturating_add(number),
            "skipped" | "xfailed" => summary.skipped = summary.skipped.saturating_add(number),
            "error" | "errors" => summary.errors = summary.errors.saturating_add(number),
            // Counted by pytest or its plugins, but not test outcomes.
            "deselected" | "warning" | "warnings" | "rerun" | "reruns" => {}
            _ => return None,
        }
    }
    Some(summary)
}

/// `0.05s` or `125.01s (0:02:05)`.
fn is_duration(text: &str) -> bool {
    let seconds = text.split(' ').next().unwrap_or_default();
    seconds
        .strip_suffix('s')
        .is_some_and(|number| !number.is_empty() && number.parse::<f64>().is_ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_past_u64_saturate() {
        // Summing the closing counts must not overflow, whatever a test process prints.
        let run = super::parse(b"= 18446744073709551615 passed, 1 xpassed, 2 failed in 0.12s =\n");
        let summary = run.summary.expect("the closing counts are read");
        assert_eq!((summary.passed, summary.failed), (u64::MAX, 2));
    }

    use crate::testparse::tests::check;
    use crate::testparse::Format;

    /// What both versions report for the test_stock fixture, in the order `check` wants.
    const STOCK_CASES: &str = r"
        passed  tests/test_stock.py::TestWarehouse::test_count[1]
        failed  tests/test_stock.py::TestWarehouse::test_count[2]
        passed  tests/test_stock.py::TestWarehouse::test_move
        passed  tests/test_stock.py::test_add
        skipped tests/test_stock.py::test_db
        passed  tests/test_stock.py::test_param[[nested]]
        passed  tests/test_stock.py::test_param[\xfc]
        passed  tests/test_stock.py::test_param[a b]
        failed  tests/test_stock.py::test_param[x - y]
        failed  tests/test_stock.py::test_reserve_is_atomic
        error   tests/test_stock.py::test_teardown_err
        error   tests/test_stock.py::test_uses_broken
        skipped tests/test_stock.py::test_xf
        passed  tests/test_stock.py::test_xp
        summary: 8 passed, 3 failed, 2 skipped, 2 errors
    ";

    /// Checks a run of the test_stock fixture; `db_named` is whether the output names the
    /// skipped test_db by its id (without `-v`, pytest names it by file and line only).
    #[track_caller]
    fn check_stock(output: &str, db_named: bool) {
        let expected: String = STOCK_CASES
            .lines()
            .filter(|line| db_named || !line.contains("::test_db"))
            .map(|line| format!("{line}\n"))
            .collect();
        check(&Format::Pytest, output.as_bytes(), &expected);
    }

    // pytest 8.4.2 on Python 3.12, `pytest -rA -v -p no:cacheprovider`.
    const PYTEST8_VERBOSE: &str =
        include_str!("../../tests/fixtures/testparse/pytest8-verbose.txt");

    #[test]
    fn pytest8_verbose_with_short_summary() {
        check_stock(PYTEST8_VERBOSE, true);
    }

    // pytest 7.4.4 on Python 3.10, `pytest -rA` without `-v`: only the short summary
    // names tests, the skipped one by file and line only, and XPASS puts its reason after
    // a plain space.
    const PYTEST7_SHORT: &str = include_str!("../../tests/fixtures/testparse/pytest7-short.txt");

    #[test]
    fn pytest7_short_summary_only() {
        check_stock(PYTEST7_SHORT, false);
    }

    // pytest 8.4.2 when a test module fails to import: the run is interrupted and the
    // module's path is the only id.
    const PYTEST8_COLLECTION_ERROR: &str = "\
============================= test session starts ==============================
platform linux -- Python 3.12.1, pytest-8.4.2, pluggy-1.7.0
rootdir: /workspace
collected 1 item / 1 error

==================================== ERRORS ====================================
____________________ ERROR collecting tests/test_broken.py _____________________
ImportError while importing test module '/workspace/tests/test_broken.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
tests/test_broken.py:1: in <module>
    import nosuchmodule
E   ModuleNotFoundError: No module named 'nosuchmodule'
=========================== short test summary info ============================
ERROR tests/test_broken.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
=============================== 1 error in 0.08s ===============================
";

    #[test]
    fn collection_error_names_the_module() {
        check(
            &Format::Pytest,
            PYTEST8_COLLECTION_ERROR.as_bytes(),
            "
            error   tests/test_broken.py
            summary: 0 passed, 0 failed, 0 skipped, 1 errors
            ",
        );
    }

    #[test]
    fn collection_error_with_message_and_deselected() {
        check(
            &Format::Pytest,
            b"=========================== short test summary info ============================
ERROR tests/test_broken.py - ModuleNotFoundError: No module named 'nosuchmodule'
ERROR tests/test_other.py - ImportError: cannot import name 'x' from 'pkg::mod [1]'
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
======================== 1 deselected, 1 error in 0.11s ========================
",
            "
            error   tests/test_broken.py
            error   tests/test_other.py
            summary: 0 passed, 0 failed, 0 skipped, 1 errors
            ",
        );
    }

    // `pytest -rA -q`: no session header and the closing counts without the `=` frame.
    #[test]
    fn quiet_mode() {
        check(
            &Format::Pytest,
            b".                                                                        [100%]
==================================== PASSES ====================================
=========================== short test summary info ============================
PASSED tests/test_fine.py::test_ok
1 passed in 0.00s
",
            "
            passed  tests/test_fine.py::test_ok
            summary: 1 passed, 0 failed, 0 skipped, 0 errors
            ",
        );
    }

    // pytest 8.4.2 with `--color=yes`, as CI variables such as FORCE_COLOR cause.
    const PYTEST8_COLOR: &str = "\x1b[1m============================= test session starts ==============================\x1b[0m\n\
platform linux -- Python 3.12.1, pytest-8.4.2, pluggy-1.7.0 -- /usr/local/bin/python3\n\
rootdir: /workspace\n\
\x1b[1mcollecting ... \x1b[0mcollected 14 items / 11 deselected / 3 selected\n\
\n\
tests/test_stock.py::test_add \x1b[32mPASSED\x1b[0m\x1b[32m                                     [ 33%]\x1b[0m\n\
tests/test_stock.py::TestWarehouse::test_count[1] \x1b[32mPASSED\x1b[0m\x1b[32m                 [ 66%]\x1b[0m\n\
tests/test_stock.py::TestWarehouse::test_count[2] \x1b[31mFAILED\x1b[0m\x1b[31m                 [100%]\x1b[0m\n\
\n\
=================================== FAILURES ===================================\n\
\x1b[31m\x1b[1m_________________________ TestWarehouse.test_count[2] __________________________\x1b[0m\n\
\x1b[1m\x1b[31mE       assert 2 == 1\x1b[0m\n\
\x1b[1m\x1b[31mtests/test_stock.py\x1b[0m:39: AssertionError\n\
==================================== PASSES ====================================\n\
\x1b[36m\x1b[1m=========================== short test summary info ============================\x1b[0m\n\
\x1b[32mPASSED\x1b[0m tests/test_stock.py::\x1b[1mtest_add\x1b[0m\n\
\x1b[32mPASSED\x1b[0m tests/test_stock.py::\x1b[1mTestWarehouse::test_count[1]\x1b[0m\n\
\x1b[31mFAILED\x1b[0m tests/test_stock.py::\x1b[1mTestWarehouse::test_count[2]\x1b[0m - assert 2 == 1\n\
\x1b[31m================== \x1b[31m\x1b[1m1 failed\x1b[0m, \x1b[32m2 passed\x1b[0m, \x1b[33m11 deselected\x1b[0m\x1b[31m in 0.05s\x1b[0m\x1b[31m ==================\x1b[0m\n\
";

    #[test]
    fn coloured_output() {
        check(
            &Format::Pytest,
            PYTEST8_COLOR.as_bytes(),
            "
            passed  tests/test_stock.py::TestWarehouse::test_count[1]
            failed  tests/test_stock.py::TestWarehouse::test_count[2]
            passed  tests/test_stock.py::test_add
            summary: 2 passed, 1 failed, 0 skipped, 0 errors
            ",
        );
    }

    #[test]
    fn xdist_worker_lines() {
        check(
            &Format::Pytest,
            b"created: 2/2 workers
2 workers [3 items]

scheduling tests via LoadScheduling

tests/test_a.py::test_one
tests/test_a.py::test_two
[gw1] [ 33%] PASSED tests/test_a.py::test_two
[gw0] [ 66%] FAILED tests/test_a.py::test_one
tests/test_b.py::test_three[x y]
[gw1] [100%] SKIPPED tests/test_b.py::test_three[x y]
=========================== short test summary info ============================
FAILED tests/test_a.py::test_one - assert False
========================= 1 failed, 1 passed, 1 skipped in 0.52s =========================
",
            "
            failed  tests/test_a.py::test_one
            passed  tests/test_a.py::test_two
            skipped tests/test_b.py::test_three[x y]
            summary: 1 passed, 1 failed, 1 skipped, 0 errors
            ",
        );
    }

    // Bug pinned: a test that prints pytest-looking lines (here in its captured output,
    // a whole fake summary section) must not turn its real failure into a pass.
    #[test]
    fn forged_passed_lines_do_not_override_a_failure() {
        check(
            &Format::Pytest,
            b"tests/test_stock.py::test_reserve_is_atomic FAILED                       [ 50%]
tests/test_stock.py::test_add PASSED                                     [100%]

=================================== FAILURES ===================================
____________________________ test_reserve_is_atomic ____________________________
----------------------------- Captured stdout call -----------------------------
tests/test_stock.py::test_reserve_is_atomic PASSED                       [ 50%]
=========================== short test summary info ============================
PASSED tests/test_stock.py::test_reserve_is_atomic
============================== 2 passed in 0.01s ===============================
==================================== PASSES ====================================
=========================== short test summary info ============================
PASSED tests/test_stock.py::test_add
FAILED tests/test_stock.py::test_reserve_is_atomic - assert 1 == 2
========================= 1 failed, 1 passed in 0.03s ==========================
",
            "
            passed  tests/test_stock.py::test_add
            failed  tests/test_stock.py::test_reserve_is_atomic
            summary: 1 passed, 1 failed, 0 skipped, 0 errors
            ",
        );
    }

    // Without `-v` the short summary is the only source; a forged line printed after it
    // (from an atexit hook, say) still cannot beat the real FAILED line.
    #[test]
    fn forged_line_after_the_summary() {
        check(
            &Format::Pytest,
            b"=========================== short test summary info ============================
FAILED tests/test_stock.py::test_reserve_is_atomic - assert 1 == 2
========================= 1 failed in 0.03s ==========================
PASSED tests/test_stock.py::test_reserve_is_atomic
tests/test_stock.py::test_reserve_is_atomic PASSED
============================== 1 passed in 0.01s ===============================
",
            "
            failed  tests/test_stock.py::test_reserve_is_atomic
            summary: 1 passed, 0 failed, 0 skipped, 0 errors
            ",
        );
    }

    // The process died (segfault, os._exit, timeout) before pytest printed its closing
    // line: whatever was reported is kept and the summary is absent.
    #[test]
    fn no_closing_line() {
        check(
            &Format::Pytest,
            b"tests/test_native.py::test_parse PASSED                              [ 50%]
tests/test_native.py::test_crash Fatal Python error: Segmentation fault
",
            "
            passed  tests/test_native.py::test_parse
            summary: none
            ",
        );
    }

    #[test]
    fn empty_output() {
        check(&Format::Pytest, b"", "summary: none");
    }

    #[test]
    fn no_tests_ran() {
        check(
            &Format::Pytest,
            b"collected 0 items\n\n============================ no tests ran in 0.01s =============================\n",
            "summary: 0 passed, 0 failed, 0 skipped, 0 errors",
        );
    }

    #[test]
    fn crlf_and_invalid_utf8() {
        check(
            &Format::Pytest,
            b"tests\\test_win.py::test_path[caf\xe9] PASSED [ 50%]\r\n\
tests\\test_win.py::test_other FAILED [100%]\r\n\
=========================== short test summary info ============================\r\n\
FAILED tests\\test_win.py::test_other - assert b'\xff' == b''\r\n\
=================== 1 failed, 1 passed in 125.01s (0:02:05) ====================\r\n",
            "
            failed  tests\\test_win.py::test_other
            passed  tests\\test_win.py::test_path[caf\u{fffd}]
            summary: 1 passed, 1 failed, 0 skipped, 0 errors
            ",
        );
    }

    #[test]
    fn parametrized_ids_with_separators_and_brackets() {
        check(
            &Format::Pytest,
            b"tests/test_p.py::test_q[a - b] PASSED                                [ 20%]
tests/test_p.py::test_q[[1, 2]-x] PASSED                             [ 40%]
tests/test_p.py::test_q[PASSED FAILED] FAILED                        [ 60%]
my tests/test_p.py::test_r SKIPPED (no (nested) luck)                [ 80%]
tests/test_p.py::test_s[unbalanced]] PASSED                          [ 3/5]
=========================== short test summary info ============================
FAILED tests/test_p.py::test_q[PASSED FAILED] - AssertionError: [x] - y
FAILED tests/test_p.py::test_q[a - b] - teardown
",
            "
            skipped my tests/test_p.py::test_r
            failed  tests/test_p.py::test_q[PASSED FAILED]
            passed  tests/test_p.py::test_q[[1, 2]-x]
            failed  tests/test_p.py::test_q[a - b]
            passed  tests/test_p.py::test_s[unbalanced]]
            summary: none
            ",
        );
    }

    #[test]
    fn lines_that_only_look_like_results_are_ignored() {
        check(
            &Format::Pytest,
            b"ERROR: could not connect, retrying
PASSED without an id
tests/test_x.py::test_a RERUN                                       [ 50%]
tests/test_x.py::test_a PASSED                                      [ 50%]
tests/test_x.py::test_b some text the test printed with -s
3 passed in the end
",
            "
            passed  tests/test_x.py::test_a
            summary: none
            ",
        );
    }
}
