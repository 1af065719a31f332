//! Why a candidate was dropped, in words a user can act on, and the evidence that says so:
//! the tail of the image build's log, or the tails of both output streams of the failing
//! test run. Pure: the caller hands over the text; this reads it.

use serde::{Deserialize, Serialize};

/// The causes the funnel groups drops by, each with the fix a user can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The commit is not a candidate (no code or no test change, a root commit, --paths).
    NotACandidate,
    /// The fix or the test changes do not apply to the parent commit.
    PatchDoesNotApply,
    /// The environment image does not build.
    ImageBuildFailed,
    /// The test runner or compiler is not in the image.
    ToolchainMissing,
    /// A module or package the tests import is not installed.
    DependencyMissing,
    /// Building or testing wanted the network, which tests never have.
    NetworkNeeded,
    /// The code or the tests do not compile.
    CompileError,
    /// A compiled test binary could not be executed (permissions, a noexec mount).
    CannotExecute,
    /// The test command ran and reported no test at all.
    NoTestsCollected,
    /// The hidden tests already pass at the parent commit: there is nothing to fix.
    TestsAlreadyPass,
    /// The hidden tests fail with the fix too.
    TestsFailWithFix,
    /// The results changed between repeated runs.
    Flaky,
    /// The problem statement would name what the fix adds.
    StatementLeaks,
    /// Anything else; the reason says what.
    Other,
}

impl Cause {
    pub fn label(self) -> &'static str {
        match self {
            Cause::NotACandidate => "not a candidate",
            Cause::PatchDoesNotApply => "patches do not apply",
            Cause::ImageBuildFailed => "image build failed",
            Cause::ToolchainMissing => "toolchain missing",
            Cause::DependencyMissing => "dependency not installed",
            Cause::NetworkNeeded => "dependency fetch needed network",
            Cause::CompileError => "compile error",
            Cause::CannotExecute => "test binaries cannot run",
            Cause::NoTestsCollected => "no tests collected",
            Cause::TestsAlreadyPass => "tests already pass",
            Cause::TestsFailWithFix => "tests fail with the fix",
            Cause::Flaky => "flaky",
            Cause::StatementLeaks => "statement names the fix",
            Cause::Other => "other",
        }
    }

    /// What to do about it, when there is something to do.
    pub fn fix(self) -> Option<&'static str> {
        Some(match self {
            Cause::ImageBuildFailed => "read the build log below; behind a TLS-inspecting proxy pass --ca-bundle /etc/ssl/certs/ca-certificates.crt (or set [environment] ca_bundle); fix the Dockerfile the reason names (env/Dockerfile, or envs/<key>/Dockerfile for commits whose dependencies differ from the suite's) and run again with --update",
            Cause::ToolchainMissing => "install the toolchain in env/Dockerfile (or give --base an image that has it), then run again with --update",
            Cause::DependencyMissing => "install the project's test dependencies in env/Dockerfile (pip install -r requirements-dev.txt, an extra, npm ci ...); with a src/ layout set PYTHONPATH; then run again with --update",
            Cause::NetworkNeeded => "fetch dependencies when the image is built (cargo fetch, go mod download or vendor/, npm ci, pip install), since tests run offline; behind a proxy pass --ca-bundle",
            Cause::CompileError => "if every commit fails to compile, the image lacks a compiler feature or a newer toolchain: check the evidence with `mergebench tasks explain COMMIT`",
            Cause::CannotExecute => "tests must be able to run binaries they build: check the image's user and that nothing is built where it cannot run",
            Cause::NoTestsCollected => "check the test command and format (--test-command, --format) against what the evidence shows the runner printed",
            Cause::TestsAlreadyPass | Cause::TestsFailWithFix | Cause::Flaky => return None,
            Cause::NotACandidate | Cause::PatchDoesNotApply | Cause::StatementLeaks | Cause::Other => return None,
        })
    }

    /// Causes of the environment, not of the commit: when the first candidates all fail
    /// this way, no later commit will do better, so mining stops early.
    pub fn is_environmental(self) -> bool {
        matches!(
            self,
            Cause::ImageBuildFailed
                | Cause::ToolchainMissing
                | Cause::DependencyMissing
                | Cause::NetworkNeeded
                | Cause::CannotExecute
        )
    }
}

pub use crate::store::Evidence;

/// Reads a test run that reported nothing useful: which cause its output points at.
/// Checked most specific first; `None` when the output says nothing recognisable.
pub fn of_run(stdout: &str, stderr: &str) -> Option<Cause> {
    let text = format!("{stdout}\n{stderr}");
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(&[
        "Could not resolve host",
        "Temporary failure in name resolution",
        "failed to download",
        "failed to get `",
        "no matching package named",
        "dial tcp",
        "proxyconnect",
        "Network is unreachable",
        "network is unreachable",
        "ENOTFOUND",
        "EAI_AGAIN",
        "Failed to establish a new connection",
        "go: downloading",
        "-mod=mod",
        "attempting to make an HTTP request, but --offline was specified",
        "no cached version",
    ]) {
        return Some(Cause::NetworkNeeded);
    }
    if has(&[
        "ModuleNotFoundError",
        "No module named",
        "Cannot find module",
        "cannot find package",
        "ERR_MODULE_NOT_FOUND",
        "unresolved import",
        "can't find crate for",
    ]) {
        return Some(Cause::DependencyMissing);
    }
    if has(&[
        "command not found",
        ": not found",
        "executable file not found",
        "No module named pytest",
        "cgo: C compiler",
        "exec: \"gcc\"",
        "linker `cc` not found",
        "requires rustc",
        "is not supported by this version",
        "go: go.mod requires go",
        "Unsupported engine",
        "SyntaxError: Unexpected token",
    ]) {
        return Some(Cause::ToolchainMissing);
    }
    if has(&["permission denied", "Permission denied", "EACCES"])
        && has(&[".test", "/tmp/", "target/debug", "exec format"])
    {
        return Some(Cause::CannotExecute);
    }
    if has(&[
        "error[E",
        "could not compile",
        "[build failed]",
        "SyntaxError",
        "IndentationError",
        "error TS",
        "compilation failed",
        "undefined:",
    ]) {
        return Some(Cause::CompileError);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_read_for_the_cause_a_user_can_act_on() {
        // (stdout, stderr, cause) from real runners' failures.
        let cases: &[(&str, &str, Option<Cause>)] = &[
            (
                "ImportError while loading conftest '/workspace/tests/conftest.py'.\nE   ModuleNotFoundError: No module named 'hypothesis'",
                "",
                Some(Cause::DependencyMissing),
            ),
            (
                "",
                "error: failed to get `serde` as a dependency of package `ver v0.1.0`\nCaused by:\n  attempting to make an HTTP request, but --offline was specified",
                Some(Cause::NetworkNeeded),
            ),
            (
                "",
                "go: example.com/x@v1.2.3: Get \"https://proxy.golang.org/...\": dial tcp: lookup proxy.golang.org: no such host",
                Some(Cause::NetworkNeeded),
            ),
            ("", "sh: 1: cargo: not found", Some(Cause::ToolchainMissing)),
            (
                "",
                "# runtime/cgo\ncgo: C compiler \"gcc\" not found: exec: \"gcc\": executable file not found in $PATH",
                Some(Cause::ToolchainMissing),
            ),
            (
                "",
                "fork/exec /tmp/go-build123/b001/stock.test: permission denied",
                Some(Cause::CannotExecute),
            ),
            (
                "",
                "error[E0425]: cannot find value `x` in this scope\nerror: could not compile `ver` (lib test)",
                Some(Cause::CompileError),
            ),
            ("collected 0 items\n\n=== no tests ran in 0.01s ===", "", None),
        ];
        for (out, err, cause) in cases {
            assert_eq!(of_run(out, err), *cause, "{out}{err}");
        }
    }

    #[test]
    fn environmental_causes_have_a_fix() {
        for c in [
            Cause::ImageBuildFailed,
            Cause::ToolchainMissing,
            Cause::DependencyMissing,
            Cause::NetworkNeeded,
            Cause::CannotExecute,
        ] {
            assert!(c.is_environmental());
            assert!(c.fix().is_some(), "{c:?}");
        }
        assert!(!Cause::TestsAlreadyPass.is_environmental());
    }
}
