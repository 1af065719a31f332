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

    use crate::testparse::tests::{check, check_fixture};
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
    #[test]
    fn collection_error_names_the_module() {
        check_fixture(&Format::Pytest, "pytest8-collection-error");
    }

    #[test]
    fn collection_error_with_message_and_deselected() {
        check_fixture(&Format::Pytest, "pytest-collection-error-deselected");
    }

    // `pytest -rA -q`: no session header and the closing counts without the `=` frame.
    #[test]
    fn quiet_mode() {
        check_fixture(&Format::Pytest, "pytest-quiet-mode");
    }

    // pytest 8.4.2 with `--color=yes`, as CI variables such as FORCE_COLOR cause.
    #[test]
    fn coloured_output() {
        check_fixture(&Format::Pytest, "pytest8-color");
    }

    #[test]
    fn xdist_worker_lines() {
        check_fixture(&Format::Pytest, "pytest-xdist-worker-lines");
    }

    // Bug pinned: a test that prints pytest-looking lines (here in its captured output,
    // a whole fake summary section) must not turn its real failure into a pass.
    #[test]
    fn forged_passed_lines_do_not_override_a_failure() {
        check_fixture(&Format::Pytest, "pytest-forged-passed-lines");
    }

    // Without `-v` the short summary is the only source; a forged line printed after it
    // (from an atexit hook, say) still cannot beat the real FAILED line.
    #[test]
    fn forged_line_after_the_summary() {
        check_fixture(&Format::Pytest, "pytest-forged-line-after-the-summary");
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
        check_fixture(&Format::Pytest, "pytest-crlf-and-invalid-utf8");
    }

    #[test]
    fn parametrized_ids_with_separators_and_brackets() {
        check_fixture(&Format::Pytest, "pytest-parametrized-ids");
    }

    #[test]
    fn lines_that_only_look_like_results_are_ignored() {
        check_fixture(&Format::Pytest, "pytest-lookalike-lines");
    }
}
