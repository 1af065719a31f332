//! `go test -json` output: one test2json event per line. A test's final action (`pass`,
//! `fail`, `skip`) gives its status; a test that started (`run`) but never finished, as
//! when the binary times out or exits, failed.

use std::borrow::Cow;
use std::collections::HashMap;

use super::{lines, Results, TestRun, TestStatus, MAX_CASES};

/// The fields of a test2json event that matter here; `Output` and the rest are skipped
/// without being copied.
#[derive(serde::Deserialize)]
struct Event<'a> {
    #[serde(rename = "Action", borrow)]
    action: Cow<'a, str>,
    #[serde(rename = "Package", borrow, default)]
    package: Option<Cow<'a, str>>,
    #[serde(rename = "Test", borrow, default)]
    test: Option<Cow<'a, str>>,
}

#[derive(Default)]
struct Progress {
    /// Where the test name starts in the key, after the package name.
    test_start: usize,
    ran: bool,
    outcome: Option<TestStatus>,
}

impl Progress {
    fn update(&mut self, outcome: Option<TestStatus>) {
        match outcome {
            None => self.ran = true,
            Some(status) => {
                self.outcome = Some(self.outcome.map_or(status, |kept| kept.worst(status)));
            }
        }
    }
}

pub(super) fn parse(output: &[u8]) -> TestRun {
    // Keyed by package too: two packages may both have a `TestNew`, and one finishing
    // must not stand in for the other that never did. The key is the package name and
    // the test name, built in a reused buffer so lookups do not allocate.
    let mut tests: HashMap<String, Progress> = HashMap::new();
    let mut key = String::new();
    for line in lines(output) {
        let line = line.trim();
        // go test mixes plain text (build errors, `FAIL pkg [build failed]`) into the
        // stream; only whole JSON objects are events.
        if !line.starts_with('{') {
            continue;
        }
        let Ok(event) = serde_json::from_str::<Event<'_>>(line) else {
            continue;
        };
        let Some(test) = event.test else {
            continue;
        };
        let outcome = match event.action.as_ref() {
            "run" => None,
            "pass" => Some(TestStatus::Passed),
            "fail" => Some(TestStatus::Failed),
            "skip" => Some(TestStatus::Skipped),
            _ => continue,
        };
        key.clear();
        key.push_str(event.package.as_deref().unwrap_or_default());
        // NUL cannot occur in an import path, so no two (package, test) pairs share a key.
        key.push('\0');
        let test_start = key.len();
        key.push_str(&test);
        if let Some(progress) = tests.get_mut(key.as_str()) {
            progress.update(outcome);
        } else if tests.len() < MAX_CASES {
            // The same bound on distinct tests as for every other format.
            let mut progress = Progress {
                test_start,
                ..Progress::default()
            };
            progress.update(outcome);
            tests.insert(key.clone(), progress);
        }
    }
    let mut results = Results::new(output.len());
    for (key, progress) in &tests {
        let status = match progress.outcome {
            Some(status) => status,
            None if progress.ran => TestStatus::Failed,
            None => continue,
        };
        // Qualified by package (`example.com/stock::TestAdd`): two packages may share a
        // test name.
        let package = &key[..progress.test_start.saturating_sub(1)];
        let test = &key[progress.test_start..];
        if package.is_empty() {
            results.record(test, status);
        } else {
            results.record(&format!("{package}::{test}"), status);
        }
    }
    // go test prints no closing counts.
    results.finish(None)
}

#[cfg(test)]
mod tests {
    use crate::testparse::tests::check;
    use crate::testparse::Format;

    // go 1.22 `go test -json ./...`: subtests, a skip, a panicking test (testing prints
    // `--- FAIL` for it and its parents before the binary dies, which test2json turns into
    // fail events), a package that does not build, and a package that hits `-timeout`.
    const GO_JSON: &str = include_str!("../../tests/fixtures/testparse/go-test.jsonl");

    #[test]
    fn packages_subtests_panic_and_timeout() {
        // `TestAdd` passed in one package and timed out in the other: each keeps its own
        // status, since ids are qualified by package.
        check(
            &Format::GoJson,
            GO_JSON.as_bytes(),
            "
            failed  example.com/stock/sync::TestAdd
            failed  example.com/stock/sync::TestDrain
            passed  example.com/stock::TestAdd
            skipped example.com/stock::TestDatabase
            failed  example.com/stock::TestParse
            failed  example.com/stock::TestParse/nil_input
            failed  example.com/stock::TestReserve
            passed  example.com/stock::TestReserve/caf\u{e9}_[x_y]
            passed  example.com/stock::TestReserve/in_stock
            failed  example.com/stock::TestReserve/out_of_stock
            summary: none
            ",
        );
    }

    // Bug pinned: a test printing test2json-looking text only produces "output" events,
    // and even a raw forged event cannot undo a real failure.
    #[test]
    fn forged_events() {
        check(
            &Format::GoJson,
            br#"{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":\"TestA\"}\n"}
{"Action":"fail","Package":"p","Test":"TestA","Elapsed":0}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0}
{"Action":"output","Package":"p","Test":"TestB","Output":"{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":\"TestB\"}\n"}
"#,
            "
            failed  p::TestA
            summary: none
            ",
        );
    }

    #[test]
    fn junk_lines_and_malformed_json_are_ignored() {
        check(
            &Format::GoJson,
            b"go: downloading example.com/dep v1.2.3\r\n\
{\"Action\":\"run\",\"Package\":\"p\",\"Test\":\"TestOk\"}\r\n\
{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":\"TestOk\",\"Elapsed\":0}\r\n\
{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":\"TestTrunc\r\n\
{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":42}\r\n\
{\"Action\":\"pass\",\"Package\":\"p\"}\r\n\
[\"pass\"]\r\n\
{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":\"Test\xff\"}\r\n\
\x00\xff\xfe garbage\r\n",
            "
            passed  p::TestOk
            passed  p::Test\u{fffd}
            summary: none
            ",
        );
    }

    #[test]
    fn skipped_without_run_event() {
        check(
            &Format::GoJson,
            br#"{"Action":"skip","Package":"p","Test":"TestWindowsOnly","Elapsed":0}"#,
            "
            skipped p::TestWindowsOnly
            summary: none
            ",
        );
    }

    #[test]
    fn empty_output() {
        check(&Format::GoJson, b"", "summary: none");
    }
}
