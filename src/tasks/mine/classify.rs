//! Which tests become a mined task's fail_to_pass and pass_to_pass: read from repeated runs
//! of the whole test command at the base commit and with the fix, both with the hidden
//! tests applied. Pure.

use crate::score::outcome::verdict;
use crate::testparse::TestRun;
use std::collections::{BTreeMap, BTreeSet};

/// One run: every test the runner reported, and whether it passed.
pub type Observed = BTreeMap<String, bool>;

/// Reads one run, cross-checked like grading is: when the exit status or the runner's counts
/// deny the printed passes (or the run timed out), no pass is believed. `failure_removed`:
/// a failing grading canary was taken out of `run` (see `score::outcome::verdict`).
pub fn observe(
    run: &TestRun,
    exit_code: i64,
    timed_out: bool,
    failure_removed: bool,
) -> (Observed, bool) {
    let ids: Vec<String> = run.cases.iter().map(|c| c.id.clone()).collect();
    let v = verdict(run, exit_code, timed_out, failure_removed, &ids, &[]);
    let seen = v
        .fail_to_pass
        .iter()
        .map(|r| (r.id.clone(), r.passed()))
        .collect();
    (seen, v.inconsistent)
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Lists {
    /// Fail in every run at the base, pass in every run with the fix.
    pub fail_to_pass: Vec<String>,
    /// Pass in every run, in both.
    pub pass_to_pass: Vec<String>,
    /// Results changed between runs of the same tree: left out of both lists.
    pub flaky: Vec<String>,
    /// Pass at the base, fail with the fix (the commit broke or retired them): left out.
    pub broken_by_fix: Vec<String>,
    /// Fail in both: left out.
    pub failing: Vec<String>,
}

/// Splits every test seen into the lists. A test missing from a run did not pass in it (an
/// import error at the base hides a whole module's tests).
pub fn classify(base: &[Observed], gold: &[Observed]) -> Lists {
    let ids: BTreeSet<&String> = base.iter().chain(gold).flat_map(|r| r.keys()).collect();
    let results = |runs: &[Observed], id: &str| -> BTreeSet<bool> {
        runs.iter()
            .map(|r| r.get(id).copied().unwrap_or(false))
            .collect()
    };
    let mut l = Lists::default();
    for id in ids {
        let (b, g) = (results(base, id), results(gold, id));
        if b.len() > 1 || g.len() > 1 {
            l.flaky.push(id.clone());
            continue;
        }
        match (b.contains(&true), g.contains(&true)) {
            (false, true) => l.fail_to_pass.push(id.clone()),
            (true, true) => l.pass_to_pass.push(id.clone()),
            (true, false) => l.broken_by_fix.push(id.clone()),
            (false, false) => l.failing.push(id.clone()),
        }
    }
    l
}

/// The names of the tests a hidden-test patch adds or changes, read from its added lines:
/// `def test_x`, `fn name` (Rust), `func TestX`, `it("...")` / `test("...")`.
pub fn changed_test_names(tests_patch: &[u8]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in String::from_utf8_lossy(tests_patch).lines() {
        let Some(added) = line.strip_prefix('+').filter(|_| !line.starts_with("+++")) else {
            continue;
        };
        let t = added.trim_start();
        let ident = |rest: &str| -> Option<String> {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        };
        for intro in ["def ", "async def ", "fn ", "async fn ", "pub fn ", "func "] {
            if let Some(rest) = t.strip_prefix(intro) {
                names.extend(ident(rest));
            }
        }
        for intro in ["it(", "test(", "it.only(", "test.only("] {
            if let Some(rest) = t.strip_prefix(intro) {
                let rest = rest.trim_start();
                if let Some(q) = rest
                    .chars()
                    .next()
                    .filter(|c| matches!(c, '"' | '\'' | '`'))
                {
                    if let Some(end) = rest[1..].find(q) {
                        names.insert(rest[1..1 + end].to_string());
                    }
                }
            }
        }
    }
    names
}

/// The test's own name in an id: the last `::` or `.` part, without pytest parameters or
/// go subtests (`tests/a.py::TestX::test_y[1]` → `test_y`, `pkg::TestX/sub` → `TestX`).
pub fn own_name(id: &str) -> &str {
    let id = id.split('[').next().unwrap_or(id);
    let last = id.rsplit("::").next().unwrap_or(id);
    let last = last.split('/').next().unwrap_or(last);
    if last.contains(' ') {
        // JS runners: `suite > name` or a free-text title.
        return last.rsplit(" > ").next().unwrap_or(last);
    }
    last.rsplit('.').next().unwrap_or(last)
}

/// When the parent commit reported no test at all (it does not compile or collect with the
/// hidden tests), every test passing with the fix would read as fail_to_pass. Then only the
/// tests the hidden patch adds or changes are; the other tests passing with the fix are
/// pass_to_pass.
pub fn limit_when_parent_reported_nothing(
    lists: Lists,
    base: &[Observed],
    changed: &BTreeSet<String>,
) -> Lists {
    if base.iter().any(|r| !r.is_empty()) || changed.is_empty() {
        return lists;
    }
    let (f2p, p2p): (Vec<String>, Vec<String>) = lists
        .fail_to_pass
        .into_iter()
        .partition(|id| changed.contains(own_name(id)));
    let mut pass_to_pass = lists.pass_to_pass;
    pass_to_pass.extend(p2p);
    pass_to_pass.sort();
    Lists {
        fail_to_pass: f2p,
        pass_to_pass,
        ..lists
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testparse::{Summary, TestCase, TestStatus};

    #[test]
    fn a_parent_that_does_not_compile_limits_fail_to_pass_to_the_changed_tests() {
        let patch = b"+++ b/tests/api.rs\n+#[test]\n+fn parses_new_syntax() {\n+    assert!(true);\n+}\n+def test_reserve(x):\n+  it('keeps totals', () => {})\n";
        let changed = changed_test_names(patch);
        assert_eq!(
            changed.iter().map(String::as_str).collect::<Vec<_>>(),
            ["keeps totals", "parses_new_syntax", "test_reserve"]
        );
        let gold = [run(&[
            ("tests/api.rs::parses_new_syntax", true),
            ("tests/api.rs::old_one", true),
            ("tests/t.py::test_reserve[1]", true),
        ])];
        let lists = classify(&[run(&[])], &gold);
        assert_eq!(lists.fail_to_pass.len(), 3);
        let l = limit_when_parent_reported_nothing(lists.clone(), &[run(&[])], &changed);
        assert_eq!(
            l.fail_to_pass,
            [
                "tests/api.rs::parses_new_syntax",
                "tests/t.py::test_reserve[1]"
            ]
        );
        assert_eq!(l.pass_to_pass, ["tests/api.rs::old_one"]);
        // A parent that reported tests keeps the lists as they are.
        let base = [run(&[("tests/api.rs::old_one", false)])];
        assert_eq!(
            limit_when_parent_reported_nothing(lists.clone(), &base, &changed),
            lists
        );
    }

    fn run(results: &[(&str, bool)]) -> Observed {
        results.iter().map(|(id, p)| (id.to_string(), *p)).collect()
    }

    #[test]
    fn lists_come_from_agreeing_runs_only() {
        let base = [
            run(&[
                ("t::new", false),
                ("t::old", true),
                ("t::coin", true),
                ("t::gone", true),
            ]),
            run(&[
                ("t::new", false),
                ("t::old", true),
                ("t::coin", false),
                ("t::gone", true),
            ]),
        ];
        let gold = [
            run(&[
                ("t::new", true),
                ("t::old", true),
                ("t::coin", true),
                ("t::broken", false),
            ]),
            run(&[
                ("t::new", true),
                ("t::old", true),
                ("t::coin", true),
                ("t::broken", false),
            ]),
        ];
        let l = classify(&base, &gold);
        assert_eq!(l.fail_to_pass, vec!["t::new"]);
        assert_eq!(l.pass_to_pass, vec!["t::old"]);
        assert_eq!(l.flaky, vec!["t::coin"]);
        // Passing at the base and absent with the fix is a test the fix broke or removed.
        assert_eq!(l.broken_by_fix, vec!["t::gone"]);
        assert_eq!(l.failing, vec!["t::broken"]);
    }

    #[test]
    fn a_test_only_missing_at_the_base_is_fail_to_pass() {
        // The hidden test imports a name the base lacks: the module errors out at collection.
        let l = classify(&[run(&[])], &[run(&[("t::uses_new_name", true)])]);
        assert_eq!(l.fail_to_pass, vec!["t::uses_new_name"]);
    }

    #[test]
    fn printed_passes_a_failing_exit_status_denies_are_not_believed() {
        let r = TestRun {
            cases: vec![TestCase {
                id: "t::a".into(),
                status: TestStatus::Passed,
            }],
            summary: Some(Summary {
                passed: 1,
                ..Default::default()
            }),
        };
        assert_eq!(
            observe(&r, 0, false, false),
            (run(&[("t::a", true)]), false)
        );
        assert_eq!(
            observe(&r, 1, false, false),
            (run(&[("t::a", false)]), true)
        );
        assert_eq!(observe(&r, 0, true, false), (run(&[("t::a", false)]), true));
    }
}
