//! libtest's pretty output as `cargo test` prints it: `test path::to::name ... ok` per test
//! and one `test result:` line per test binary (unit tests, each integration test, doc
//! tests), whose counts are added up.
//!
//! libtest writes to stdout; cargo announces each binary on stderr (`Running tests/api.rs
//! (target/debug/deps/api-…)`, `Doc-tests stock`). The streams are read apart, so a header
//! can never be glued to a result line, and the k-th `running N tests` block of stdout is
//! the k-th binary cargo announced. Ids are qualified by that binary's source path
//! (`tests/api.rs::api_ok`, `src/lib.rs::tests::it_works`), since two test files may share
//! a test name; doc tests keep their own names, which already start with the file. When
//! the streams were merged (`2>&1`) the headers are read in line from stdout.

use super::{lines, Results, Summary, TestRun, TestStatus};

/// The test binary a block of results belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Binary {
    /// A unit or integration test binary: its source path and crate name.
    Tests { path: String, krate: String },
    /// The doc tests of a crate (one or more blocks).
    Doc,
}

/// `Running unittests src/lib.rs (target/debug/deps/stock-9f7d49ed058f6a75)`,
/// `Running tests/api.rs (target/debug/deps/api-3ee80cf8c4d9bca0)`, `Doc-tests stock`.
fn header(line: &str) -> Option<Binary> {
    let line = line.trim();
    if line.starts_with("Doc-tests ") {
        return Some(Binary::Doc);
    }
    let rest = line.strip_prefix("Running ")?;
    let rest = rest.strip_prefix("unittests ").unwrap_or(rest);
    let (path, binary) = rest.rsplit_once(" (")?;
    let binary = binary.strip_suffix(')')?;
    let file = binary.rsplit('/').next().unwrap_or(binary);
    let krate = match file.rsplit_once('-') {
        Some((name, hash)) if !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => file,
    };
    let path = path.trim();
    (!path.is_empty()).then(|| Binary::Tests {
        path: path.to_owned(),
        krate: krate.to_owned(),
    })
}

/// The prefix of a block's ids: the binary's source path, with its crate when two binaries
/// of the run share a path (a workspace of several crates, each with `src/lib.rs`).
fn qualifier(binary: Option<&Binary>, all: &[Binary]) -> Option<String> {
    let Some(Binary::Tests { path, krate }) = binary else {
        return None;
    };
    let shared = all
        .iter()
        .filter(|b| matches!(b, Binary::Tests { path: p, .. } if p == path))
        .count()
        > 1;
    Some(if shared {
        format!("{krate}:{path}")
    } else {
        path.clone()
    })
}

pub(super) fn parse(stdout: &[u8], stderr: &[u8]) -> TestRun {
    let announced: Vec<Binary> = lines(stderr).filter_map(|l| header(&l)).collect();
    // Merged streams: the headers are in stdout, read as they come.
    let inline = announced.is_empty();
    let mut inline_headers: Vec<Binary> = Vec::new();
    if inline {
        inline_headers = lines(stdout).filter_map(|l| header(&l)).collect();
    }
    let all = if inline { &inline_headers } else { &announced };
    let mut results = Results::new(stdout.len() + stderr.len());
    let mut total: Option<Summary> = None;
    // Each binary's block starts at "running N tests" and ends with its own
    // "test result:" line. A failing test's captured stdout is printed inside the block
    // before that line, so only the block's last result line counts.
    let mut block_result: Option<Summary> = None;
    let mut pending: Option<String> = None;
    let mut blocks = 0usize;
    let mut current: Option<Binary> = None;
    let mut prefix: Option<String> = None;
    for line in lines(stdout) {
        let line = line.trim_end();
        if inline {
            if let Some(h) = header(line) {
                current = Some(h);
                continue;
            }
        }
        if is_running_line(line) {
            close_block(&mut total, block_result.take());
            pending = None;
            if !inline {
                // Binaries first, in the order cargo announced them; doc-test blocks
                // (one header, possibly two blocks) come after all of them.
                current = match announced.get(blocks) {
                    Some(b) => Some(b.clone()),
                    None => announced.last().cloned(),
                };
            }
            blocks += 1;
            prefix = qualifier(current.as_ref(), all);
            continue;
        }
        if let Some(rest) = line.strip_prefix("test ") {
            if let Some(counts) = rest.strip_prefix("result: ").and_then(result_counts) {
                block_result = Some(counts);
                pending = None;
                continue;
            }
            let described = rest
                .split_once(" ... ")
                .or_else(|| rest.strip_suffix(" ...").map(|name| (name, "")));
            if let Some((name, tail)) = described {
                let name = test_name(name);
                let id = match &prefix {
                    Some(p) => format!("{p}::{name}"),
                    None => name.to_owned(),
                };
                if let Some(status) = status_text(tail) {
                    results.record(&id, status);
                }
                // With `--test-threads=1 --nocapture` the test's own output comes between
                // the name and the status.
                pending = Some(id);
                continue;
            }
        }
        if let Some(id) = &pending {
            if let Some(status) = status_text(line) {
                results.record(id, status);
            }
        }
    }
    close_block(&mut total, block_result);
    results.finish(total)
}

fn close_block(total: &mut Option<Summary>, block: Option<Summary>) {
    if let Some(block) = block {
        total.get_or_insert_with(Summary::default).add(block);
    }
}

/// `running 3 tests` / `running 1 test`.
fn is_running_line(line: &str) -> bool {
    line.strip_prefix("running ")
        .and_then(|rest| rest.strip_suffix(" tests").or(rest.strip_suffix(" test")))
        .is_some_and(|count| !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()))
}

/// The test's name without the mode libtest appends for display:
/// `tests::panics - should panic`, `src/lib.rs - add (line 7) - compile fail`.
fn test_name(displayed: &str) -> &str {
    let name = displayed.trim();
    [" - should panic", " - compile fail", " - compile"]
        .iter()
        .find_map(|mode| name.strip_suffix(mode))
        .unwrap_or(name)
}

/// `ok`, `FAILED`, `ignored`, `ignored, reason`, `bench: 1,234 ns/iter (+/- 5)`, each
/// possibly followed by a time (`ok <0.001s>`) or a note (`FAILED (time limit exceeded)`).
fn status_text(text: &str) -> Option<TestStatus> {
    let word = text.split_whitespace().next()?;
    match word {
        "ok" | "bench:" => Some(TestStatus::Passed),
        "FAILED" => Some(TestStatus::Failed),
        "ignored" | "ignored," => Some(TestStatus::Skipped),
        _ => None,
    }
}

/// `ok. 3 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.09s`.
fn result_counts(text: &str) -> Option<Summary> {
    let (verdict, counts) = text.split_once(". ")?;
    if verdict != "ok" && verdict != "FAILED" {
        return None;
    }
    let mut summary = Summary::default();
    let mut seen = false;
    for part in counts.split("; ") {
        let Some((number, word)) = part.split_once(' ') else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match word {
            // Benchmarks that ran (`bench:` lines) are reported as passes, so they count
            // as passes here too.
            // Saturating: the counts are the test process's to print, however large.
            "passed" | "measured" => summary.passed = summary.passed.saturating_add(number),
            "failed" => summary.failed = number,
            "ignored" => summary.skipped = number,
            _ => continue,
        }
        seen = true;
    }
    seen.then_some(summary)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_past_u64_saturate() {
        // Summing the closing counts must not overflow, whatever a test process prints.
        let run = super::parse(
            b"test result: ok. 18446744073709551615 passed; 0 failed; 0 ignored; 5 measured; \
              0 filtered out; finished in 0.00s\n",
            b"",
        );
        assert_eq!(
            run.summary.expect("the closing counts are read").passed,
            u64::MAX
        );
    }

    use crate::testparse::tests::{check, check_fixture};
    use crate::testparse::Format;

    // cargo 1.95 `cargo test --no-fail-fast` on a crate with unit tests, one integration
    // test file, and doc tests (merged and standalone).
    const TWO_BINARIES: &str =
        include_str!("../../tests/fixtures/testparse/cargo-two-binaries.txt");

    #[test]
    fn unit_integration_and_doc_tests() {
        check(
            &Format::Cargo,
            TWO_BINARIES.as_bytes(),
            "
            passed  src/lib.rs - add (line 11)
            passed  src/lib.rs - add (line 3)
            passed  src/lib.rs - add (line 7)
            failed  src/lib.rs::tests::it_fails
            passed  src/lib.rs::tests::it_works
            passed  src/lib.rs::tests::nested::deep
            passed  src/lib.rs::tests::panics
            skipped src/lib.rs::tests::slow
            skipped src/lib.rs::tests::slow_no_reason
            passed  tests/api.rs::api_ok
            failed  tests/api.rs::api_should_panic_but_does_not
            summary: 7 passed, 2 failed, 2 skipped, 0 errors
            ",
        );
    }

    /// Splits a merged cargo transcript the way the container's attach stream delivers
    /// it: cargo's own lines (compiling, `Running`, `Doc-tests`, `error:`) to stderr,
    /// libtest's to stdout.
    fn split_streams(merged: &str) -> (String, String) {
        let (mut out, mut err) = (String::new(), String::new());
        for line in merged.lines() {
            let t = line.trim_start();
            let cargo_says = [
                "Compiling ",
                "Finished ",
                "Running ",
                "Doc-tests ",
                "error:",
            ]
            .iter()
            .any(|p| t.starts_with(p));
            let target = if cargo_says { &mut err } else { &mut out };
            target.push_str(line);
            target.push('\n');
        }
        (out, err)
    }

    // Bug pinned: with both streams read as one, cargo's `Running tests/x.rs (...)` on
    // stderr was glued to `test x ... ok` on stdout and the test was lost. Read apart,
    // the blocks get the binaries cargo announced, in order.
    #[test]
    fn streams_read_apart_qualify_each_block_by_its_binary() {
        let (stdout, stderr) = split_streams(TWO_BINARIES);
        let run = crate::testparse::parse(
            &Format::Cargo,
            &crate::testparse::Output {
                stdout: stdout.as_bytes(),
                stderr: stderr.as_bytes(),
            },
            None,
        )
        .expect("text formats never fail");
        let merged = crate::testparse::parse(
            &Format::Cargo,
            &crate::testparse::Output::merged(TWO_BINARIES.as_bytes()),
            None,
        )
        .expect("text formats never fail");
        assert_eq!(run, merged);
        // A header glued to a result line in stderr cannot steal or rename it.
        let glued =
            format!("{stderr}     Running tests/x.rs (target/debug/deps/x-0a)test glued ... ok\n");
        let run = crate::testparse::parse(
            &Format::Cargo,
            &crate::testparse::Output {
                stdout: stdout.as_bytes(),
                stderr: glued.as_bytes(),
            },
            None,
        )
        .expect("text formats never fail");
        assert_eq!(
            run.status("tests/api.rs::api_ok"),
            Some(crate::testparse::TestStatus::Passed)
        );
        assert!(run.cases.iter().all(|c| !c.id.contains("glued")));
    }

    // Two test files may share a test name; qualified by binary they stay two tests.
    // Two crates of a workspace may share a path; then the crate qualifies it too.
    #[test]
    fn same_test_name_in_two_binaries() {
        check_fixture(&Format::Cargo, "cargo-same-test-name-in-two-binaries");
    }

    // Bug pinned: a failing test that prints libtest-looking lines (shown in its
    // "stdout" section) can neither pass itself nor inflate the counts.
    #[test]
    fn forged_lines_in_captured_output() {
        check_fixture(&Format::Cargo, "cargo-forged-lines-in-captured-output");
    }

    // A test binary that dies (stack overflow, abort, OOM kill) prints no result for the
    // test that was running and no result line.
    #[test]
    fn binary_crashed() {
        check_fixture(&Format::Cargo, "cargo-binary-crashed");
    }

    #[test]
    fn single_threaded_with_nocapture() {
        check_fixture(&Format::Cargo, "cargo-single-threaded-with-nocapture");
    }

    #[test]
    fn coloured_crlf_and_invalid_utf8() {
        check_fixture(&Format::Cargo, "cargo-coloured-crlf-and-invalid-utf8");
    }

    #[test]
    fn benchmarks_and_zero_tests() {
        check_fixture(&Format::Cargo, "cargo-benchmarks-and-zero-tests");
    }

    #[test]
    fn empty_and_compile_error() {
        check(&Format::Cargo, b"", "summary: none");
        check_fixture(&Format::Cargo, "cargo-empty-and-compile-error");
    }
}
