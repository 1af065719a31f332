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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testparse::{Summary, TestCase, TestStatus};

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
