//! JUnit XML reports (pytest `--junitxml`, Maven Surefire, Gradle, jest-junit, ...):
//! `<testcase>` elements under a `<testsuites>` or a bare `<testsuite>` root. A case's id
//! is `classname::name`, or `name` when it has no class name.
//!
//! The report is written by code under test, so reading it is bounded: a size limit, a
//! nesting limit, and no DTD processing (quick-xml never loads external entities or
//! expands declared ones, and unknown entity references are kept as written).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{ParseError, Results, Summary, TestRun, TestStatus};

/// Largest report read. Real reports, even with captured output, are far smaller.
const MAX_REPORT: usize = 256 * 1024 * 1024;
/// Deepest element nesting accepted. JUnit needs four levels; the slack allows wrappers.
const MAX_DEPTH: usize = 64;

pub(super) fn parse(path: &str, report: &[u8]) -> Result<TestRun, ParseError> {
    if report.len() > MAX_REPORT {
        return Err(ParseError::ReportTooLarge {
            path: path.to_owned(),
            size: report.len(),
            limit: MAX_REPORT,
        });
    }
    let malformed = |position: u64, message: String| {
        let (line, column) = line_and_column(report, position);
        ParseError::MalformedXml {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };

    let mut reader = Reader::from_reader(report);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut results = Results::new(report.len());
    // Names of the open elements, outermost first.
    let mut open: Vec<String> = Vec::new();
    // The open `<testcase>` elements as (depth, id, status), innermost last.
    let mut cases: Vec<(usize, String, TestStatus)> = Vec::new();
    let mut root_seen = false;
    let mut root_counts: Option<Summary> = None;
    let mut suite_counts: Option<Summary> = None;

    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|err| malformed(reader.error_position(), err.to_string()))?;
        let (element, is_empty) = match event {
            Event::Start(element) => (element, false),
            Event::Empty(element) => (element, true),
            Event::End(_) => {
                open.pop();
                if cases
                    .last()
                    .is_some_and(|(depth, _, _)| *depth == open.len())
                {
                    if let Some((_, id, status)) = cases.pop() {
                        results.record(&id, status);
                    }
                }
                continue;
            }
            Event::Eof => break,
            // Text, CDATA, comments, processing instructions and the DOCTYPE carry no
            // results; the DOCTYPE is deliberately never interpreted.
            _ => continue,
        };

        let name = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
        let depth = open.len();
        if depth == 0 {
            if root_seen {
                return Err(malformed(
                    position,
                    format!("a second root element <{name}> after the first one closed"),
                ));
            }
            root_seen = true;
            if name != "testsuites" && name != "testsuite" {
                return Err(malformed(
                    position,
                    format!("the root element is <{name}>, expected <testsuites> or <testsuite>"),
                ));
            }
        }
        if depth >= MAX_DEPTH {
            return Err(malformed(
                position,
                format!("elements nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        let attr = |key: &str| attribute(&element, key).map_err(|err| malformed(position, err));

        match name.as_str() {
            "testsuites" if depth == 0 => root_counts = suite_summary(&attr)?,
            "testsuite" if depth == 0 => root_counts = suite_summary(&attr)?,
            // The suites directly under <testsuites> add up when the root has no counts.
            "testsuite" if depth == 1 => {
                if let Some(counts) = suite_summary(&attr)? {
                    suite_counts
                        .get_or_insert_with(Summary::default)
                        .add(counts);
                }
            }
            "testcase" => {
                let case_name = attr("name")?.unwrap_or_default();
                let class = attr("classname")?.unwrap_or_default();
                let id = if class.is_empty() {
                    case_name
                } else {
                    format!("{class}::{case_name}")
                };
                if is_empty {
                    results.record(&id, TestStatus::Passed);
                } else {
                    cases.push((depth, id, TestStatus::Passed));
                }
            }
            // Only these mark the outcome: Surefire's flakyFailure, rerunFailure and the
            // like sit next to them and describe earlier attempts.
            "failure" | "error" | "skipped" => {
                let status = match name.as_str() {
                    "failure" => TestStatus::Failed,
                    "error" => TestStatus::Error,
                    _ => TestStatus::Skipped,
                };
                if let Some((_, _, kept)) = cases.last_mut() {
                    *kept = kept.worst(status);
                }
            }
            _ => {}
        }
        if !is_empty {
            open.push(name);
        }
    }

    if let Some(unclosed) = open.last() {
        return Err(malformed(
            report.len() as u64,
            format!("the report ends inside <{unclosed}>"),
        ));
    }
    if !root_seen {
        return Err(malformed(
            0,
            "no <testsuites> or <testsuite> element".to_owned(),
        ));
    }
    Ok(results.finish(root_counts.or(suite_counts)))
}

/// An attribute's value, unescaped. An unknown entity reference (for instance one a DTD
/// declared) is kept as written rather than resolved.
fn attribute(element: &BytesStart<'_>, key: &str) -> Result<Option<String>, String> {
    for attr in element.attributes() {
        let attr = attr.map_err(|err| err.to_string())?;
        if attr.key.local_name().as_ref() != key.as_bytes() {
            continue;
        }
        let raw = String::from_utf8_lossy(&attr.value);
        let value = match quick_xml::escape::unescape(&raw) {
            Ok(value) => value.into_owned(),
            Err(_) => raw.into_owned(),
        };
        return Ok(Some(value));
    }
    Ok(None)
}

/// The counts on a `<testsuites>` or `<testsuite>` element: `tests`, `failures`,
/// `errors`, `skipped`. Passes are what remains of `tests`.
fn suite_summary(
    attribute: &impl Fn(&str) -> Result<Option<String>, ParseError>,
) -> Result<Option<Summary>, ParseError> {
    let count = |key: &str| -> Result<Option<u64>, ParseError> {
        Ok(attribute(key)?.and_then(|value| value.trim().parse().ok()))
    };
    let Some(tests) = count("tests")? else {
        return Ok(None);
    };
    let failed = count("failures")?.unwrap_or(0);
    let errors = count("errors")?.unwrap_or(0);
    let skipped = count("skipped")?.unwrap_or(0);
    Ok(Some(Summary {
        passed: tests
            .saturating_sub(failed)
            .saturating_sub(errors)
            .saturating_sub(skipped),
        failed,
        skipped,
        errors,
    }))
}

/// 1-based line and column (in bytes) of a byte offset, for error messages.
fn line_and_column(text: &[u8], position: u64) -> (u64, u64) {
    let position = usize::try_from(position)
        .unwrap_or(usize::MAX)
        .min(text.len());
    let before = &text[..position];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1);
    (line, (position - line_start) as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testparse::{parse, Format, Output};

    const PATH: &str = "reports/junit.xml";

    fn format() -> Format {
        Format::Junit { path: PATH.into() }
    }

    #[track_caller]
    fn check(report: &str, expected: &str) {
        check_bytes(report.as_bytes(), expected);
    }

    #[track_caller]
    fn check_bytes(report: &[u8], expected: &str) {
        // The console output is ignored for JUnit; give it something misleading.
        let run = parse(
            &format(),
            &Output::merged(b"PASSED everything"),
            Some(report),
        )
        .unwrap();
        crate::testparse::tests::assert_renders(&run, expected);
    }

    #[track_caller]
    fn check_error(report: &[u8], expected: &str) {
        let err = parse(&format(), &Output::default(), Some(report)).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }

    // pytest 8.4.2 `--junitxml=reports/junit.xml`, written on one line as pytest does.
    const PYTEST: &str = concat!(
        r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="2" failures="3" skipped="2" tests="15" time="0.061" timestamp="2026-11-25T09:05:38.510282+00:00" hostname="ci-runner">"#,
        r#"<testcase classname="tests.test_stock" name="test_add" time="0.001" />"#,
        r#"<testcase classname="tests.test_stock" name="test_reserve_is_atomic" time="0.001"><failure message="assert [1, 2] == [1, 3]&#10;  &#10;  At index 1 diff: 2 != 3">def test_reserve_is_atomic():
&gt;       assert [1, 2] == [1, 3]
E       assert [1, 2] == [1, 3]

tests/test_stock.py:7: AssertionError</failure></testcase>"#,
        r#"<testcase classname="tests.test_stock" name="test_db" time="0.000"><skipped type="pytest.skip" message="needs a database">/workspace/tests/test_stock.py:9: needs a database</skipped></testcase>"#,
        r#"<testcase classname="tests.test_stock" name="test_xf" time="0.001"><skipped type="pytest.xfail" message="known bug" /></testcase>"#,
        r#"<testcase classname="tests.test_stock" name="test_xp" time="0.000" />"#,
        r#"<testcase classname="tests.test_stock" name="test_uses_broken" time="0.000"><error message="failed on setup with &quot;RuntimeError: fixture exploded&quot;">@pytest.fixture
    def broken():
&gt;       raise RuntimeError("fixture exploded")
E       RuntimeError: fixture exploded

tests/test_stock.py:23: RuntimeError</error></testcase>"#,
        r#"<testcase classname="tests.test_stock" name="test_param[a b]" time="0.000" />"#,
        r#"<testcase classname="tests.test_stock" name="test_param[x - y]" time="0.000"><failure message="AssertionError: assert 'x - y' != 'x - y'">s = 'x - y'</failure></testcase>"#,
        r#"<testcase classname="tests.test_stock" name="test_param[\xfc]" time="0.000" />"#,
        r#"<testcase classname="tests.test_stock.TestWarehouse" name="test_move" time="0.000"><system-out>moving &lt;testcase name="x"&gt;&lt;failure/&gt;</system-out></testcase>"#,
        r#"<testcase classname="tests.test_stock.TestWarehouse" name="test_count[1]" time="0.000" />"#,
        r#"<testcase classname="tests.test_stock.TestWarehouse" name="test_count[2]" time="0.001"><failure message="assert 2 == 1">self = &lt;tests.test_stock.TestWarehouse object at 0x7f16622af170&gt;, n = 2</failure></testcase>"#,
        r#"<testcase classname="tests.test_stock" name="test_teardown_err" time="0.000"><error message="failed on teardown with &quot;ValueError: teardown boom&quot;">ValueError: teardown boom</error></testcase>"#,
        r#"</testsuite></testsuites>"#,
    );

    #[test]
    fn pytest_junitxml() {
        check(
            PYTEST,
            r"
            passed  tests.test_stock.TestWarehouse::test_count[1]
            failed  tests.test_stock.TestWarehouse::test_count[2]
            passed  tests.test_stock.TestWarehouse::test_move
            passed  tests.test_stock::test_add
            skipped tests.test_stock::test_db
            passed  tests.test_stock::test_param[\xfc]
            passed  tests.test_stock::test_param[a b]
            failed  tests.test_stock::test_param[x - y]
            failed  tests.test_stock::test_reserve_is_atomic
            error   tests.test_stock::test_teardown_err
            error   tests.test_stock::test_uses_broken
            skipped tests.test_stock::test_xf
            passed  tests.test_stock::test_xp
            summary: 8 passed, 3 failed, 2 skipped, 2 errors
            ",
        );
    }

    // Maven Surefire 3 `TEST-*.xml`: a bare <testsuite> root with properties, a flaky test
    // that passed on rerun, one that failed every rerun, and a disabled one.
    const SUREFIRE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report-3.0.xsd" version="3.0" name="com.example.stock.InventoryTest" time="0.412" tests="6" errors="1" skipped="1" failures="1" flakes="1">
  <properties>
    <property name="java.version" value="21.0.2"/>
    <property name="os.name" value="Linux"/>
  </properties>
  <testcase name="addsStock" classname="com.example.stock.InventoryTest" time="0.011"/>
  <testcase name="reserveIsAtomic" classname="com.example.stock.InventoryTest" time="0.034">
    <failure message="expected: &lt;0&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <0> but was: <3>
	at com.example.stock.InventoryTest.reserveIsAtomic(InventoryTest.java:42)
]]></failure>
    <rerunFailure message="expected: &lt;0&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError"/>
    <system-out><![CDATA[<testcase name="fake"/> reserved 3
]]></system-out>
  </testcase>
  <testcase name="loadsFixtures" classname="com.example.stock.InventoryTest" time="0.002">
    <error message="fixtures.json (No such file or directory)" type="java.io.FileNotFoundException">java.io.FileNotFoundException: fixtures.json (No such file or directory)</error>
  </testcase>
  <testcase name="syncsWarehouse" classname="com.example.stock.InventoryTest" time="0.120">
    <flakyFailure message="timeout" type="java.util.concurrent.TimeoutException">
      <stackTrace>java.util.concurrent.TimeoutException: timeout</stackTrace>
    </flakyFailure>
  </testcase>
  <testcase name="exportsCsv" classname="com.example.stock.InventoryTest" time="0">
    <skipped message="Disabled until CSV-12 lands"/>
  </testcase>
  <testcase name="countsByLocation(String)[1] &quot;north&quot;" classname="com.example.stock.InventoryTest" time="0.005"/>
</testsuite>
"#;

    #[test]
    fn surefire_bare_testsuite() {
        check(
            SUREFIRE,
            r#"
            passed  com.example.stock.InventoryTest::addsStock
            passed  com.example.stock.InventoryTest::countsByLocation(String)[1] "north"
            skipped com.example.stock.InventoryTest::exportsCsv
            error   com.example.stock.InventoryTest::loadsFixtures
            failed  com.example.stock.InventoryTest::reserveIsAtomic
            passed  com.example.stock.InventoryTest::syncsWarehouse
            summary: 3 passed, 1 failed, 1 skipped, 1 errors
            "#,
        );
    }

    #[test]
    fn suites_add_up_when_the_root_has_no_counts() {
        check(
            r#"<testsuites>
  <testsuite name="unit" tests="2" failures="1">
    <testcase name="a" classname=""/>
    <testcase name="b"><failure/></testcase>
  </testsuite>
  <testsuite name="e2e" tests="1" skipped="1">
    <testcase name="c" classname="flows"><skipped/></testcase>
  </testsuite>
</testsuites>"#,
            "
            passed  a
            failed  b
            skipped flows::c
            summary: 1 passed, 1 failed, 1 skipped, 0 errors
            ",
        );
    }

    #[test]
    fn no_counts_anywhere() {
        check(
            r#"<testsuites><testsuite name="jest"><testcase name="renders" classname="App"/></testsuite></testsuites>"#,
            "
            passed  App::renders
            summary: none
            ",
        );
        check("<testsuites/>", "summary: none");
    }

    // Bug pinned: a report listing the same case twice (reruns, or a forged extra element)
    // keeps the failure.
    #[test]
    fn duplicate_cases_keep_the_worst_status() {
        check(
            r#"<testsuite tests="3">
  <testcase classname="stock" name="reserve"><failure message="boom"/></testcase>
  <testcase classname="stock" name="reserve"/>
  <testcase classname="stock" name="skipped_then_passed"><skipped/></testcase>
  <testcase classname="stock" name="skipped_then_passed"></testcase>
</testsuite>"#,
            "
            failed  stock::reserve
            skipped stock::skipped_then_passed
            summary: 3 passed, 0 failed, 0 skipped, 0 errors
            ",
        );
    }

    #[test]
    fn failure_and_error_in_one_case() {
        check(
            r#"<testsuite><testcase name="t"><failure/><error/></testcase><testcase name="u"><error/><skipped/></testcase></testsuite>"#,
            "
            error   t
            error   u
            summary: none
            ",
        );
    }

    #[test]
    fn namespaced_and_non_utf8_names() {
        check_bytes(
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\r\n<j:testsuites xmlns:j=\"urn:x\">\r\n<j:testsuite><j:testcase j:classname=\"Caf\xe9\" name=\"na&#239;ve\"/></j:testsuite></j:testsuites>\r\n",
            "
            passed  Caf\u{fffd}::na\u{ef}ve
            summary: none
            ",
        );
    }

    #[test]
    fn utf8_bom() {
        check_bytes(
            b"\xef\xbb\xbf<testsuite><testcase name=\"a\"/></testsuite>",
            "
            passed  a
            summary: none
            ",
        );
    }

    // External entities are never fetched and declared entities never expanded: the
    // reference stays as written, and the document parses.
    #[test]
    fn external_entities_are_not_resolved() {
        check(
            r#"<?xml version="1.0"?>
<!DOCTYPE testsuites [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<testsuites><testsuite><testcase classname="&xxe;" name="&lol2;"/></testsuite></testsuites>"#,
            "
            passed  &xxe;::&lol2;
            summary: none
            ",
        );
    }

    #[test]
    fn malformed_xml_reports_line_and_column() {
        check_error(
            b"<testsuites>\n  <testsuite>\n    <testcase name=\"a\">\n  </testsuite>\n</testsuites>\n",
            "malformed JUnit XML in `reports/junit.xml` at line 4, column 3: \
             ill-formed document: expected `</testcase>`, but `</testsuite>` was found",
        );
    }

    #[test]
    fn truncated_report() {
        check_error(
            b"<testsuites>\n<testsuite>\n<testcase name=\"a\"/>\n",
            "malformed JUnit XML in `reports/junit.xml` at line 4, column 1: \
             the report ends inside <testsuite>",
        );
        check_error(
            b"<testsuites><testcase name=\"a",
            "malformed JUnit XML in `reports/junit.xml` at line 1, column 13: \
             syntax error: tag not closed: `>` not found before end of input",
        );
    }

    #[test]
    fn not_a_junit_report() {
        check_error(
            b"",
            "malformed JUnit XML in `reports/junit.xml` at line 1, column 1: \
             no <testsuites> or <testsuite> element",
        );
        check_error(
            b"<?xml version=\"1.0\"?>\n<html><body>502 Bad Gateway</body></html>",
            "malformed JUnit XML in `reports/junit.xml` at line 2, column 1: \
             the root element is <html>, expected <testsuites> or <testsuite>",
        );
        check_error(
            b"<testsuite/>\n<testsuite/>",
            "malformed JUnit XML in `reports/junit.xml` at line 2, column 1: \
             a second root element <testsuite> after the first one closed",
        );
    }

    #[test]
    fn duplicate_attributes_are_malformed() {
        let err = parse(
            &format(),
            &Output::default(),
            Some(b"<testsuite><testcase name=\"a\" name=\"b\"/></testsuite>"),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ParseError::MalformedXml {
                    line: 1,
                    column: 12,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut report = String::from("<testsuites>");
        for _ in 0..10_000 {
            report.push_str("<a>");
        }
        let err = parse(&format(), &Output::default(), Some(report.as_bytes())).unwrap_err();
        assert!(
            err.to_string()
                .ends_with(&format!("elements nest deeper than {MAX_DEPTH} levels")),
            "{err}"
        );
    }

    #[test]
    fn oversized_report_is_refused() {
        let report = vec![b' '; MAX_REPORT + 1];
        let err = parse(&format(), &Output::default(), Some(&report)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the JUnit report `reports/junit.xml` is {} bytes, more than the {MAX_REPORT}-byte limit",
                MAX_REPORT + 1
            )
        );
    }

    #[test]
    fn line_and_column_count_bytes() {
        assert_eq!(line_and_column(b"", 0), (1, 1));
        assert_eq!(line_and_column(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_and_column(b"ab\ncd", 99), (2, 3));
    }
}
