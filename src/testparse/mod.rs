//! Turns what a test runner printed (or the JUnit report it wrote) into one status per test
//! id, plus the runner's own closing counts when it printed them.
//!
//! The text being parsed comes from running untrusted code, so every parser here is
//! defensive: input is bytes and decoded lossily, lines are read one at a time and capped
//! in length, and when one id is reported more than once the least favourable status wins
//! (see [`TestStatus::worst`]), so a forged "PASSED" line cannot hide a real failure.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

mod cargo;
mod gojson;
mod junit;
mod pytest;
mod tap;
mod unittest;

/// The outcome of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    Passed,
    Failed,
    Skipped,
    Error,
}

impl TestStatus {
    /// The status to keep when one id is reported twice.
    ///
    /// A pass is the only status that counts in the patch's favour, so anything else
    /// reported for the same id wins over it: Error > Failed > Skipped > Passed. A skip
    /// beats a pass too, because a skipped test proved nothing and printed text must not
    /// turn it into a pass.
    pub fn worst(self, other: TestStatus) -> TestStatus {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// The position in the order from best to worst.
    fn severity(self) -> usize {
        const BEST_TO_WORST: [TestStatus; 4] = [
            TestStatus::Passed,
            TestStatus::Skipped,
            TestStatus::Failed,
            TestStatus::Error,
        ];
        BEST_TO_WORST
            .iter()
            .position(|s| *s == self)
            .unwrap_or(BEST_TO_WORST.len())
    }

    fn as_str(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::Skipped => "skipped",
            TestStatus::Error => "error",
        }
    }
}

impl fmt::Display for TestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One test and its status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestCase {
    pub id: String,
    pub status: TestStatus,
}

/// The counts a runner printed at the end of its run, in this module's four categories.
///
/// `passed` is never less than the number of cases read as passed in an honest run, so
/// more passing cases than `passed` means lines were forged. Where the runner prints a
/// pass count (pytest, libtest, node's TAP counts) it is that count; where it prints only
/// a total (unittest's "Ran N tests", JUnit's `tests`) it is the total minus the outcomes
/// known not to be passes, an upper bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub errors: u64,
}

impl Summary {
    fn add(&mut self, other: Summary) {
        self.passed = self.passed.saturating_add(other.passed);
        self.failed = self.failed.saturating_add(other.failed);
        self.skipped = self.skipped.saturating_add(other.skipped);
        self.errors = self.errors.saturating_add(other.errors);
    }
}

/// Everything read from one run of a test command.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestRun {
    /// Sorted by id, one entry per id.
    pub cases: Vec<TestCase>,
    /// The runner's own closing counts, when it printed them.
    pub summary: Option<Summary>,
}

impl TestRun {
    /// The status recorded for `id`; `None` when the run never reported it.
    pub fn status(&self, id: &str) -> Option<TestStatus> {
        self.cases
            .binary_search_by(|case| case.id.as_str().cmp(id))
            .ok()
            .map(|index| self.cases[index].status)
    }
}

/// How a task's test command reports its results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `pytest -rA`, optionally with `-v`.
    Pytest,
    /// `python -m unittest -v`, and runners that print the same lines.
    Unittest,
    /// libtest, as printed by `cargo test`.
    Cargo,
    /// `go test -json`.
    GoJson,
    /// The Test Anything Protocol.
    Tap,
    /// A JUnit XML report the command writes to `path` inside the container.
    Junit { path: String },
}

const JUNIT_PREFIX: &str = "junit:";

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Pytest => f.write_str("pytest"),
            Format::Unittest => f.write_str("unittest"),
            Format::Cargo => f.write_str("cargo"),
            Format::GoJson => f.write_str("go-json"),
            Format::Tap => f.write_str("tap"),
            Format::Junit { path } => write!(f, "{JUNIT_PREFIX}{path}"),
        }
    }
}

/// A test format name that is not one of the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error(
        "unknown test format `{0}`: expected one of pytest, unittest, cargo, go-json, tap, \
         junit:<path of the XML report>"
    )]
    Unknown(String),
    #[error(
        "test format `{0}` needs the path of the XML report the tests write, \
         as in `junit:reports/junit.xml`"
    )]
    JunitWithoutPath(String),
}

impl FromStr for Format {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pytest" => Ok(Format::Pytest),
            "unittest" => Ok(Format::Unittest),
            "cargo" => Ok(Format::Cargo),
            "go-json" => Ok(Format::GoJson),
            "tap" => Ok(Format::Tap),
            "junit" => Err(FormatError::JunitWithoutPath(s.to_owned())),
            _ => match s.strip_prefix(JUNIT_PREFIX) {
                Some(path) if path.trim().is_empty() => {
                    Err(FormatError::JunitWithoutPath(s.to_owned()))
                }
                Some(path) => Ok(Format::Junit {
                    path: path.to_owned(),
                }),
                None => Err(FormatError::Unknown(s.to_owned())),
            },
        }
    }
}

// Task files spell the format as a string, so it (de)serializes through the same text
// as `Display` and `FromStr`.
impl serde::Serialize for Format {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Format {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a run's results could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(
        "the JUnit report `{path}` does not exist after the test command ran; \
         check that the command writes it there (e.g. `--junitxml={path}`)"
    )]
    MissingReport { path: String },
    #[error("the JUnit report `{path}` is {size} bytes, more than the {limit}-byte limit")]
    ReportTooLarge {
        path: String,
        size: usize,
        limit: usize,
    },
    #[error("malformed JUnit XML in `{path}` at line {line}, column {column}: {message}")]
    MalformedXml {
        path: String,
        line: u64,
        column: u64,
        message: String,
    },
}

/// What a test command wrote, each stream on its own as it came from the container.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output<'a> {
    pub stdout: &'a [u8],
    pub stderr: &'a [u8],
}

impl<'a> Output<'a> {
    /// Both streams already merged into one (`2>&1`), read as stdout.
    pub fn merged(bytes: &'a [u8]) -> Self {
        Output {
            stdout: bytes,
            stderr: b"",
        }
    }
}

/// Parses one run, each runner from the stream it writes its results to: pytest, libtest,
/// `go test -json` and TAP write to stdout (cargo's binary headers go to stderr);
/// unittest writes to stderr (stdout when the command merged the streams). Either stream
/// may be huge and need not be UTF-8. `report` is the bytes of the JUnit XML file for
/// [`Format::Junit`] (`None` if the command did not write it) and is ignored for the
/// other formats.
pub fn parse(
    format: &Format,
    output: &Output<'_>,
    report: Option<&[u8]>,
) -> Result<TestRun, ParseError> {
    match format {
        Format::Pytest => Ok(pytest::parse(output.stdout)),
        Format::Unittest => {
            let run = unittest::parse(output.stderr);
            if run.cases.is_empty() && run.summary.is_none() {
                Ok(unittest::parse(output.stdout))
            } else {
                Ok(run)
            }
        }
        Format::Cargo => Ok(cargo::parse(output.stdout, output.stderr)),
        Format::GoJson => Ok(gojson::parse(output.stdout)),
        Format::Tap => Ok(tap::parse(output.stdout)),
        Format::Junit { path } => match report {
            Some(report) => junit::parse(path, report),
            None => Err(ParseError::MissingReport { path: path.clone() }),
        },
    }
}

/// Longest prefix of a line that is looked at. Real result lines are far shorter; the cap
/// keeps a multi-gigabyte line of junk from being decoded or scanned as a whole.
const MAX_LINE: usize = 64 * 1024;

/// The lines of `output`, each without its line ending, capped at [`MAX_LINE`] bytes,
/// decoded lossily and stripped of terminal colour codes (runners colour their output
/// when a CI variable or `--color=yes` forces it).
fn lines(output: &[u8]) -> impl Iterator<Item = Cow<'_, str>> {
    output.split(|&byte| byte == b'\n').map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = &line[..line.len().min(MAX_LINE)];
        match String::from_utf8_lossy(line) {
            Cow::Borrowed(text) => strip_ansi(text),
            Cow::Owned(text) => Cow::Owned(strip_ansi(&text).into_owned()),
        }
    })
}

/// Removes ANSI escape sequences (CSI such as colours, OSC such as hyperlinks, and
/// two-byte escapes).
fn strip_ansi(text: &str) -> Cow<'_, str> {
    if !text.contains('\x1b') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // Parameters and intermediates, then one final byte in @..=~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                // Ends at BEL or at ESC \.
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' {
                        chars.next_if_eq(&'\\');
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// Most distinct test ids kept from one run. Far above real suites; it bounds memory
/// when the output is a flood of made-up results.
const MAX_CASES: usize = 1_000_000;

/// Collects statuses by id, keeping the worst one per id.
///
/// Memory stays proportional to the input: past [`MAX_CASES`] ids, or once the ids'
/// bytes exceed a budget derived from the input's size, new ids are dropped. A dropped
/// id reads as a test that never reported, which can only count against the patch.
struct Results {
    cases: HashMap<String, TestStatus>,
    id_bytes: usize,
    id_budget: usize,
}

impl Results {
    /// `input_len` is the size of what is being parsed. Ids are usually pieces of it; the
    /// slack covers ids built from several lines (TAP subtests) in small runs.
    fn new(input_len: usize) -> Self {
        Results {
            cases: HashMap::new(),
            id_bytes: 0,
            id_budget: input_len.saturating_mul(2).saturating_add(16 << 20),
        }
    }

    fn record(&mut self, id: &str, status: TestStatus) {
        let id = id.trim();
        if id.is_empty() {
            return;
        }
        if let Some(kept) = self.cases.get_mut(id) {
            *kept = kept.worst(status);
            return;
        }
        if self.cases.len() >= MAX_CASES || self.id_bytes + id.len() > self.id_budget {
            return;
        }
        self.id_bytes += id.len();
        self.cases.insert(id.to_owned(), status);
    }

    fn finish(self, summary: Option<Summary>) -> TestRun {
        let mut cases: Vec<TestCase> = self
            .cases
            .into_iter()
            .map(|(id, status)| TestCase { id, status })
            .collect();
        cases.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        TestRun { cases, summary }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders a run as one `status id` line per case and a closing summary line, so
    /// each format's tests can state the whole expected result as text.
    fn render(run: &TestRun) -> String {
        let mut out = String::new();
        for case in &run.cases {
            out.push_str(&format!("{:<7} {}\n", case.status, case.id));
        }
        match run.summary {
            Some(s) => out.push_str(&format!(
                "summary: {} passed, {} failed, {} skipped, {} errors\n",
                s.passed, s.failed, s.skipped, s.errors
            )),
            None => out.push_str("summary: none\n"),
        }
        out
    }

    /// Parses `output` as `format` and compares the rendered result with `expected`,
    /// ignoring indentation and blank lines so expectations can be written inline.
    #[track_caller]
    pub(super) fn check(format: &Format, output: &[u8], expected: &str) {
        let run = parse(format, &Output::merged(output), None).expect("text formats never fail");
        assert_renders(&run, expected);
    }

    /// Checks a recorded output in tests/fixtures/testparse: `<name>.txt` parsed as `format`
    /// renders as `<name>.want` says.
    #[track_caller]
    pub(super) fn check_fixture(format: &Format, name: &str) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/testparse");
        let read = |ending: &str| {
            let path = dir.join(format!("{name}.{ending}"));
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let expected = String::from_utf8(read("want")).expect("a .want file is UTF-8");
        check(format, &read("txt"), &expected);
    }

    /// Compares the rendered `run` with `expected` (indentation and blank lines ignored),
    /// then checks the run's invariants.
    #[track_caller]
    pub(super) fn assert_renders(run: &TestRun, expected: &str) {
        let expected: String = expected
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| format!("{line}\n"))
            .collect();
        let actual: String = render(run)
            .lines()
            .map(|line| format!("{}\n", line.trim_end()))
            .collect();
        assert_eq!(actual, expected, "\n--- actual ---\n{actual}");
        assert_invariants(run);
    }

    /// What every parsed run must satisfy, whatever the input.
    #[track_caller]
    pub(super) fn assert_invariants(run: &TestRun) {
        assert!(
            run.cases.windows(2).all(|pair| pair[0].id < pair[1].id),
            "cases must be sorted and unique"
        );
        if let Some(summary) = run.summary {
            let passed = run
                .cases
                .iter()
                .filter(|case| case.status == TestStatus::Passed)
                .count() as u64;
            assert!(
                passed <= summary.passed,
                "{passed} passing cases but the summary counts {}",
                summary.passed
            );
        }
    }

    #[test]
    fn format_round_trips_through_its_text() {
        for text in [
            "pytest",
            "unittest",
            "cargo",
            "go-json",
            "tap",
            "junit:reports/junit.xml",
            "junit:out/a:b.xml",
        ] {
            let format: Format = text.parse().unwrap();
            assert_eq!(format.to_string(), text);
        }
        assert_eq!(
            "junit:target/surefire-reports/TEST-all.xml".parse::<Format>(),
            Ok(Format::Junit {
                path: "target/surefire-reports/TEST-all.xml".into()
            })
        );
    }

    #[test]
    fn unknown_format_lists_the_accepted_ones() {
        let err = "nose".parse::<Format>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown test format `nose`: expected one of pytest, unittest, cargo, go-json, \
             tap, junit:<path of the XML report>"
        );
        // Names are exact: a near miss is an error rather than a guess.
        assert!("Pytest".parse::<Format>().is_err());
        assert!("go_json".parse::<Format>().is_err());
    }

    #[test]
    fn junit_without_a_path_says_how_to_write_one() {
        for text in ["junit", "junit:", "junit:  "] {
            let err = text.parse::<Format>().unwrap_err();
            assert!(matches!(err, FormatError::JunitWithoutPath(_)), "{text}");
            assert!(err.to_string().contains("junit:reports/junit.xml"));
        }
    }

    #[test]
    fn format_deserializes_from_a_string() {
        let format: Format = serde_json::from_str("\"junit:out/report.xml\"").unwrap();
        assert_eq!(
            format,
            Format::Junit {
                path: "out/report.xml".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&Format::GoJson).unwrap(),
            "\"go-json\""
        );
        let err = serde_json::from_str::<Format>("\"mocha\"").unwrap_err();
        assert!(err.to_string().contains("expected one of"), "{err}");
    }

    #[test]
    fn status_serializes_in_snake_case() {
        let case = TestCase {
            id: "a".into(),
            status: TestStatus::Skipped,
        };
        assert_eq!(
            serde_json::to_string(&case).unwrap(),
            r#"{"id":"a","status":"skipped"}"#
        );
        let back: TestStatus = serde_json::from_str("\"error\"").unwrap();
        assert_eq!(back, TestStatus::Error);
    }

    #[test]
    fn worst_status_wins_whatever_the_order() {
        use TestStatus::*;
        let order = [Passed, Skipped, Failed, Error];
        for (i, &a) in order.iter().enumerate() {
            for (j, &b) in order.iter().enumerate() {
                let expected = order[i.max(j)];
                assert_eq!(a.worst(b), expected, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn run_status_looks_up_by_exact_id() {
        let mut results = Results::new(0);
        results.record("b::two", TestStatus::Failed);
        results.record("a::one", TestStatus::Passed);
        results.record("  ", TestStatus::Passed);
        let run = results.finish(None);
        assert_eq!(run.cases.len(), 2);
        assert_eq!(run.status("a::one"), Some(TestStatus::Passed));
        assert_eq!(run.status("b::two"), Some(TestStatus::Failed));
        assert_eq!(run.status("a::on"), None);
        assert_eq!(TestRun::default().status("a::one"), None);
    }

    #[test]
    fn lines_handle_crlf_invalid_utf8_and_colour() {
        let output =
            b"one\r\ntw\xffo\n\x1b[32mPASSED\x1b[0m x\n\x1b]8;;http://e\x07link\x1b]8;;\x1b\\\n";
        let got: Vec<String> = lines(output).map(Cow::into_owned).collect();
        assert_eq!(got, ["one", "tw\u{fffd}o", "PASSED x", "link", ""]);
    }

    #[test]
    fn very_long_lines_are_capped() {
        let mut output = vec![b'x'; MAX_LINE * 3];
        output.extend_from_slice(b"\nshort");
        let got: Vec<usize> = lines(&output).map(|line| line.len()).collect();
        assert_eq!(got, [MAX_LINE, 5]);
    }

    // Output from untrusted code: huge, binary, with pathological lines for every
    // parser. Each must get through it in one pass without panicking, and report nothing
    // it did not see.
    #[test]
    fn adversarial_output_is_survived() {
        let mut output = Vec::new();
        for pattern in [
            "[".repeat(200_000),
            " ... ".repeat(50_000),
            "# SKIP ".repeat(50_000),
            format!("{{\"Action\":{}", "[".repeat(100_000)),
            format!("tests/t.py::test[{}] PASSED", " - ".repeat(100_000)),
            format!("test {} ... ", "::".repeat(100_000)),
            "=".repeat(200_000),
        ] {
            output.extend_from_slice(pattern.as_bytes());
            output.push(b'\n');
        }
        for i in 0..20_000u32 {
            output.extend_from_slice(&i.to_le_bytes());
            output.extend_from_slice(b"\x00\xff\xfe\r\x1b[");
        }
        output.extend_from_slice(b"\nno newline at the end \x1b");
        for format in [
            Format::Pytest,
            Format::Unittest,
            Format::Cargo,
            Format::GoJson,
            Format::Tap,
        ] {
            let run = parse(&format, &Output::merged(&output), None).unwrap();
            assert!(run.summary.is_none(), "{format}");
            assert!(
                run.cases.iter().all(|case| case.id.len() <= MAX_LINE),
                "{format}"
            );
            assert!(
                run.cases
                    .iter()
                    .all(|case| case.status != TestStatus::Passed),
                "{format}: {:?}",
                run.cases
                    .iter()
                    .map(|c| &c.id[..c.id.len().min(40)])
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn new_ids_stop_at_the_budget_but_known_ones_still_get_worse() {
        let mut results = Results::new(0);
        results.id_budget = 10;
        results.record("tests::a", TestStatus::Passed);
        results.record("tests::b", TestStatus::Passed);
        results.record("tests::a", TestStatus::Failed);
        let run = results.finish(None);
        assert_eq!(run.status("tests::a"), Some(TestStatus::Failed));
        assert_eq!(run.status("tests::b"), None);
    }

    #[test]
    fn junit_report_is_required() {
        let format = Format::Junit {
            path: "build/test-results/junit.xml".into(),
        };
        let err = parse(&format, &Output::merged(b"BUILD SUCCESSFUL"), None).unwrap_err();
        assert!(matches!(err, ParseError::MissingReport { .. }));
        assert!(err
            .to_string()
            .contains("`build/test-results/junit.xml` does not exist"));
    }

    #[test]
    fn text_formats_ignore_a_report() {
        let run = parse(&Format::Cargo, &Output::default(), Some(b"<testsuites/>")).unwrap();
        assert_eq!(run, TestRun::default());
    }
}
