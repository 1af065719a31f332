//! Outcomes of one attempt, the flags beside them, and the rule that picks the outcome.
//!
//! Pure: no IO. The grading facts come in; one outcome goes out.

use crate::testparse::{TestRun, TestStatus};
use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Resolved,
    Unresolved,
    PatchFailed,
    EmptyPatch,
    AgentTimeout,
    /// The default of an attempt that has not reached a verdict.
    #[default]
    InfraError,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Resolved,
        Outcome::Unresolved,
        Outcome::PatchFailed,
        Outcome::EmptyPatch,
        Outcome::AgentTimeout,
        Outcome::InfraError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::Unresolved => "unresolved",
            Outcome::PatchFailed => "patch_failed",
            Outcome::EmptyPatch => "empty_patch",
            Outcome::AgentTimeout => "agent_timeout",
            Outcome::InfraError => "infra_error",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Defaults fill fields newer than a stored row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Flags {
    /// The agent changed read-only paths; they were reverted before grading.
    pub scope_violation: bool,
    /// The agent's patch edits paths the hidden tests own.
    pub tests_tampered: bool,
    pub oom_killed: bool,
    /// The agent wrote more than its disk limit and was killed; what it wrote was graded.
    pub disk_limit: bool,
    pub agent_exit_code: Option<i64>,
    /// The agent's log hit its cap; the rest was counted, not kept.
    pub log_truncated: bool,
    /// The test output claimed success the exit status or the runner's counts deny.
    pub output_inconsistent: bool,
    pub tests_timed_out: bool,
    /// The test run was killed for writing more than the task's `[tests] disk`.
    pub tests_disk_limit: bool,
    /// Connections the egress proxy refused: the agent tried a host off its allowlist.
    pub egress_refused: u64,
    /// The patch was over a patch limit (size or files): kept as its hash, size, count and
    /// first part, and not graded.
    pub patch_too_large: bool,
    /// A grading canary gave the printed results away: they were void.
    pub tests_forged: bool,
    /// The test format has no canaries: printed results could not be verified.
    pub unverified: bool,
    /// Test-harness files (or parts) the patch changed, restored to the base before
    /// grading; any makes `tests_tampered`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub harness_restored: Vec<String>,
    /// The agent's self-reported usage.json had impossible values (negative, not a number,
    /// fractional or absurdly large token counts): those were not believed, and are said here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub usage_invalid: Vec<String>,
    /// The agent's self-reported usage disagrees with what its gateway measured, beyond the
    /// tolerance: the measured figures are the ones counted, and the difference is said here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_mismatch: Option<String>,
    /// The gateway refused a request past one of the attempt's budgets (which one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_exhausted: Option<String>,
    /// Requests for another model than the evaluation's pinned one, refused by the gateway.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub model_refused: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Flags {
    /// Names of the flags that are set, for tables.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.scope_violation, "scope_violation"),
            (self.tests_tampered, "tests_tampered"),
            (self.oom_killed, "oom_killed"),
            (self.disk_limit, "disk_limit"),
            (self.log_truncated, "log_truncated"),
            (self.output_inconsistent, "output_inconsistent"),
            (self.tests_timed_out, "tests_timed_out"),
            (self.tests_disk_limit, "tests_disk_limit"),
            (self.patch_too_large, "patch_too_large"),
            (self.tests_forged, "tests_forged"),
            (self.unverified, "unverified"),
            (!self.usage_invalid.is_empty(), "usage_invalid"),
            (self.usage_mismatch.is_some(), "usage_mismatch"),
            (self.budget_exhausted.is_some(), "budget_exhausted"),
            (self.model_refused > 0, "model_refused"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }
}

/// Where one required test stands after a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub id: String,
    /// None: the runner never reported it (counts as not passing).
    pub status: Option<TestStatus>,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.status == Some(TestStatus::Passed)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestVerdict {
    pub fail_to_pass: Vec<TestResult>,
    pub pass_to_pass: Vec<TestResult>,
    pub exit_code: i64,
    pub timed_out: bool,
    /// Printed results were not believed (see `Flags::output_inconsistent`).
    pub inconsistent: bool,
    /// A grading canary gave the printed results away, and how: they are void.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forged: Option<String>,
    /// Why no canaries ran: the printed results could not be verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
}

impl TestVerdict {
    pub fn all_pass(&self) -> bool {
        !self.inconsistent
            && self.forged.is_none()
            && self
                .fail_to_pass
                .iter()
                .chain(&self.pass_to_pass)
                .all(TestResult::passed)
    }
}

/// Reads the required tests out of a run, cross-checked against the exit status and the
/// runner's own counts so that printed text alone can never make a test pass.
/// `failure_removed`: a failing grading canary was taken out of `run`, so a non-zero exit
/// has a reported cause even when no test left in `run` failed.
pub fn verdict(
    run: &TestRun,
    exit_code: i64,
    timed_out: bool,
    failure_removed: bool,
    f2p: &[String],
    p2p: &[String],
) -> TestVerdict {
    let failed_cases = run
        .cases
        .iter()
        .filter(|c| matches!(c.status, TestStatus::Failed | TestStatus::Error))
        .count() as u64;
    let passed_cases = run
        .cases
        .iter()
        .filter(|c| c.status == TestStatus::Passed)
        .count() as u64;
    let mut inconsistent = false;
    // A failing exit status with no failure anywhere in the output: something printed
    // results the runner did not produce, or the run died. Nothing printed is believed.
    // A required test missing from the run explains a failing exit status too (its binary
    // did not build, its file did not collect): missing never counts as a pass, so the
    // other tests' passes can stand.
    let required_missing = f2p.iter().chain(p2p).any(|id| run.status(id).is_none());
    if exit_code != 0
        && !failure_removed
        && !required_missing
        && failed_cases == 0
        && run.summary.map(|s| s.failed + s.errors).unwrap_or(0) == 0
    {
        inconsistent = true;
    }
    // More passing lines than the runner counted: extra PASSED lines were forged.
    if let Some(s) = run.summary {
        if passed_cases > s.passed {
            inconsistent = true;
        }
    }
    if timed_out {
        inconsistent = true;
    }
    let read = |ids: &[String]| -> Vec<TestResult> {
        ids.iter()
            .map(|id| TestResult {
                id: id.clone(),
                status: if inconsistent && run.status(id) == Some(TestStatus::Passed) {
                    Some(TestStatus::Failed)
                } else {
                    run.status(id)
                },
            })
            .collect()
    };
    TestVerdict {
        fail_to_pass: read(f2p),
        pass_to_pass: read(p2p),
        exit_code,
        timed_out,
        inconsistent,
        forged: None,
        unverified: None,
    }
}

impl TestVerdict {
    /// Voids the printed results: a canary showed they were forged.
    pub fn forged(mut self, why: String) -> TestVerdict {
        for r in self.fail_to_pass.iter_mut().chain(&mut self.pass_to_pass) {
            if r.passed() {
                r.status = Some(TestStatus::Failed);
            }
        }
        self.forged = Some(why);
        self
    }
}

/// What happened in one attempt, as facts; `decide` turns them into one outcome.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub infra_error: bool,
    pub agent_timed_out: bool,
    /// The agent changed nothing at all.
    pub raw_patch_empty: bool,
    pub patch_failed: bool,
    pub tests: Option<TestVerdict>,
}

pub fn decide(f: &Facts) -> Outcome {
    if f.infra_error {
        Outcome::InfraError
    } else if f.agent_timed_out {
        Outcome::AgentTimeout
    } else if f.raw_patch_empty {
        Outcome::EmptyPatch
    } else if f.patch_failed {
        Outcome::PatchFailed
    } else if f.tests.as_ref().is_some_and(TestVerdict::all_pass) {
        Outcome::Resolved
    } else {
        Outcome::Unresolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testparse::{Summary, TestCase};

    fn run(cases: &[(&str, TestStatus)], summary: Option<(u64, u64)>) -> TestRun {
        TestRun {
            cases: cases
                .iter()
                .map(|(id, s)| TestCase {
                    id: id.to_string(),
                    status: *s,
                })
                .collect(),
            summary: summary.map(|(passed, failed)| Summary {
                passed,
                failed,
                skipped: 0,
                errors: 0,
            }),
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn verdicts() {
        use TestStatus::*;
        // (run, exit, f2p, p2p, all_pass, inconsistent)
        type Row<'a> = (TestRun, i64, &'a [&'a str], &'a [&'a str], bool, bool);
        let table: Vec<Row> = vec![
            (
                run(&[("a", Passed), ("b", Passed)], Some((2, 0))),
                0,
                &["a"],
                &["b"],
                true,
                false,
            ),
            (
                run(&[("a", Failed), ("b", Passed)], Some((1, 1))),
                1,
                &["a"],
                &["b"],
                false,
                false,
            ),
            // A required test the runner never mentioned does not pass.
            (
                run(&[("b", Passed)], Some((1, 0))),
                0,
                &["a"],
                &["b"],
                false,
                false,
            ),
            // Printed PASSED lines with a failing exit status and no failure: not believed.
            (
                run(&[("a", Passed), ("b", Passed)], None),
                1,
                &["a"],
                &["b"],
                false,
                true,
            ),
            // More PASSED lines than the runner counted: forged.
            (
                run(&[("a", Passed), ("b", Passed)], Some((1, 0))),
                0,
                &["a"],
                &["b"],
                false,
                true,
            ),
            // An unrelated failure elsewhere does not sink the required tests.
            (
                run(&[("a", Passed), ("b", Passed), ("c", Failed)], Some((2, 1))),
                1,
                &["a"],
                &["b"],
                true,
                false,
            ),
            (
                run(&[("a", Skipped)], Some((0, 0))),
                0,
                &["a"],
                &[],
                false,
                false,
            ),
        ];
        for (i, (r, exit, f2p, p2p, pass, inc)) in table.into_iter().enumerate() {
            let v = verdict(&r, exit, false, false, &ids(f2p), &ids(p2p));
            assert_eq!(v.all_pass(), pass, "row {i}");
            assert_eq!(v.inconsistent, inc, "row {i}");
        }
    }

    #[test]
    fn outcome_precedence() {
        let passing = TestVerdict {
            fail_to_pass: vec![TestResult {
                id: "a".into(),
                status: Some(TestStatus::Passed),
            }],
            ..Default::default()
        };
        let failing = TestVerdict {
            fail_to_pass: vec![TestResult {
                id: "a".into(),
                status: None,
            }],
            ..Default::default()
        };
        let check = |f: Facts, o: Outcome| assert_eq!(decide(&f), o, "{f:?}");
        check(
            Facts {
                tests: Some(passing.clone()),
                ..Default::default()
            },
            Outcome::Resolved,
        );
        check(
            Facts {
                tests: Some(failing),
                ..Default::default()
            },
            Outcome::Unresolved,
        );
        check(
            Facts {
                raw_patch_empty: true,
                ..Default::default()
            },
            Outcome::EmptyPatch,
        );
        check(
            Facts {
                patch_failed: true,
                ..Default::default()
            },
            Outcome::PatchFailed,
        );
        check(
            Facts {
                agent_timed_out: true,
                tests: Some(passing.clone()),
                ..Default::default()
            },
            Outcome::AgentTimeout,
        );
        check(
            Facts {
                infra_error: true,
                agent_timed_out: true,
                ..Default::default()
            },
            Outcome::InfraError,
        );
        check(Facts::default(), Outcome::Unresolved);
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
    }
}
