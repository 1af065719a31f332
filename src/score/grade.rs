//! Test grading: a patch against a task's hidden tests.
//!
//! The tree is made here with git (apply with fallbacks, hidden-test paths restored, hidden
//! tests applied); the tests run in a fresh container through the harness; the verdict is
//! read by `outcome::verdict`. Results are cached under (patch, task, grader version).

use crate::config::suite::Task;
use crate::error::Error;
use crate::harness::images::Image;
use crate::harness::testrun::{run_tests, TestInput};
use crate::harness::Docker;
use crate::repo::patch::touched_paths;
use crate::repo::patch::Patch;
use crate::repo::workspace::{graded_tree, ApplyMethod, BaseRepo, Graded};
use crate::score::canary::{self, Canaries, Check, Edit};
use crate::score::outcome::{verdict, TestVerdict};
use crate::store::{GradeKey, Store};
use crate::testparse::{self, Format, TestRun};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bumped whenever grading could give a different answer for the same patch and task.
pub const GRADER_VERSION: &str = "tests-3";
/// How much test output a grade keeps (head and tail).
const KEEP_OUTPUT: usize = 32 << 10;
/// How much of each stream's end a grade keeps.
const KEEP_TAIL: usize = 4 << 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grade {
    pub applied: bool,
    pub apply_method: Option<ApplyMethod>,
    pub apply_error: Option<String>,
    pub verdict: Option<TestVerdict>,
    /// Head and tail of the test output, both streams interleaved.
    pub output: String,
    /// The last part of each stream on its own: where a failing run says why.
    #[serde(default)]
    pub stdout_tail: String,
    #[serde(default)]
    pub stderr_tail: String,
    pub output_bytes: u64,
    pub parse_error: Option<String>,
    pub oom_killed: bool,
    /// The test run was killed for writing more than the task's `[tests] disk`.
    #[serde(default)]
    pub disk_exceeded: bool,
    pub seconds: f64,
}

impl Grade {
    pub fn resolved(&self) -> bool {
        self.verdict.as_ref().is_some_and(TestVerdict::all_pass)
    }
}

/// Grades `patch`, from the cache when this exact (patch, task, grader) was graded before.
pub async fn grade_cached(
    docker: &Docker,
    store: &Store,
    task: &Task,
    base: &Arc<BaseRepo>,
    image: &Image,
    patch: &Patch,
) -> Result<(Grade, bool), Error> {
    let key = GradeKey {
        patch_sha256: patch.sha256.clone(),
        task_hash: task.hash.clone(),
        grader_version: GRADER_VERSION.into(),
    };
    crate::score::cached::or_compute(
        store.cached_grade(&key)?,
        grade(docker, task, base, image, patch),
        |json| store.save_grade(&key, &image.id, json),
    )
    .await
}

pub async fn grade(
    docker: &Docker,
    task: &Task,
    base: &Arc<BaseRepo>,
    image: &Image,
    patch: &Patch,
) -> Result<Grade, Error> {
    let ran = match run_graded(docker, task, base, image, patch).await? {
        Ran::PatchFailed(err) => {
            return Ok(Grade {
                applied: false,
                apply_method: None,
                apply_error: Some(err),
                verdict: None,
                output: String::new(),
                stdout_tail: String::new(),
                stderr_tail: String::new(),
                output_bytes: 0,
                parse_error: None,
                oom_killed: false,
                disk_exceeded: false,
                seconds: 0.0,
            })
        }
        Ran::Tests(r) => r,
    };
    let mut v = verdict(
        &ran.run,
        ran.exit_code,
        ran.timed_out,
        ran.canaries == CanaryState::Held,
        &task.tests.fail_to_pass,
        &task.tests.pass_to_pass,
    );
    match ran.canaries {
        CanaryState::Held => {}
        CanaryState::Forged(why) => v = v.forged(why),
        CanaryState::Unverified(why) => v.unverified = Some(why),
    }
    Ok(Grade {
        applied: true,
        apply_method: ran.method,
        apply_error: None,
        verdict: Some(v),
        output: head_tail(&ran.output, KEEP_OUTPUT),
        stdout_tail: tail(&ran.stdout, KEEP_TAIL),
        stderr_tail: tail(&ran.stderr, KEEP_TAIL),
        output_bytes: ran.output.len() as u64,
        parse_error: ran.parse_error,
        oom_killed: ran.oom_killed,
        disk_exceeded: ran.disk_exceeded,
        seconds: ran.seconds,
    })
}

/// What running the hidden tests on a patched tree gave, before any test list is applied:
/// every test the runner reported. `tasks mine` reads it to find the lists in the first place.
#[derive(Debug)]
pub struct TestsRan {
    pub method: Option<ApplyMethod>,
    pub run: TestRun,
    /// -1 when the command left no exit status.
    pub exit_code: i64,
    pub timed_out: bool,
    pub parse_error: Option<String>,
    /// Both streams interleaved, and each on its own.
    pub output: Vec<u8>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub oom_killed: bool,
    pub disk_exceeded: bool,
    pub seconds: f64,
    /// How the grading canaries went: `run` never holds them.
    pub canaries: CanaryState,
}

/// What the grading canaries said of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanaryState {
    /// Both canaries ran as a real run makes them: the must-fail canary failed (so the
    /// run's non-zero exit has a reported cause even when every real test passed).
    Held,
    /// A canary gave the printed results away: they are void.
    Forged(String),
    /// No canaries ran, and why: the format has none, or the command would not run them
    /// whole (it stops at the first failure or picks tests by name).
    Unverified(String),
}

#[derive(Debug)]
pub enum Ran {
    PatchFailed(String),
    Tests(TestsRan),
}

/// Builds the graded tree (patch, hidden-test paths restored, hidden tests applied) and runs
/// the task's test command on it in a fresh container.
pub async fn run_graded(
    docker: &Docker,
    task: &Task,
    base: &Arc<BaseRepo>,
    image: &Image,
    patch: &Patch,
) -> Result<Ran, Error> {
    let (b, p, t) = (base.clone(), patch.clone(), task.tests.patch.clone());
    let tree = tokio::task::spawn_blocking(move || graded_tree(&b, &p, &t))
        .await
        .map_err(|e| Error::infra_from("", e))??;
    let (_dir, tree, method) = match tree {
        Graded::Ready { dir, tree, method } => (dir, tree, method),
        Graded::PatchFailed(err) => return Ok(Ran::PatchFailed(err)),
        Graded::TestsDoNotApply(err) => return Err(Error::input(
            &task.file,
            None,
            format!("the hidden test patch does not apply to the base commit: {err}"),
            "regenerate tests.patch against [repo] base (`mergebench tasks validate` checks this)",
        )),
    };
    let canaries = plant_canaries(task, &tree).await?;
    let report = match &task.tests.format {
        Format::Junit { path } => Some(path.as_str()),
        _ => None,
    };
    let out = run_tests(
        docker,
        TestInput {
            image,
            tree: &tree,
            command: &task.tests.command,
            timeout: task.tests.timeout,
            disk: task.tests.disk,
            report,
        },
    )
    .await?;
    let (run, parse_error) = match testparse::parse(
        &task.tests.format,
        &testparse::Output {
            stdout: &out.stdout,
            stderr: &out.stderr,
        },
        out.report.as_deref(),
    ) {
        Ok(r) => (r, None),
        Err(e) => (Default::default(), Some(e.to_string())),
    };
    let exit_code = out.exit_code.unwrap_or(-1);
    let (run, canaries) = match canaries {
        Err(why) => (run, CanaryState::Unverified(why)),
        // A run killed at its deadline or for its memory or writes never reached the
        // canaries; it is not believed anyway.
        Ok(c) if out.timed_out || out.oom_killed || out.disk_exceeded => {
            (canary::strip(&c, run), CanaryState::Held)
        }
        Ok(c) => {
            let state = match canary::check(&c, &run, exit_code) {
                Check::Held => CanaryState::Held,
                Check::Forged(why) => CanaryState::Forged(why),
            };
            (canary::strip(&c, run), state)
        }
    };
    Ok(Ran::Tests(TestsRan {
        method,
        run,
        canaries,
        exit_code,
        timed_out: out.timed_out,
        parse_error,
        output: out.output,
        stdout: out.stdout,
        stderr: out.stderr,
        oom_killed: out.oom_killed,
        disk_exceeded: out.disk_exceeded,
        seconds: out.seconds,
    }))
}

/// Plans this run's canaries and writes them into the graded tree, or says why there are
/// none. Names and values are drawn afresh for every run.
async fn plant_canaries(task: &Task, tree: &Path) -> Result<Result<Canaries, String>, Error> {
    if let Some(why) = canary::command_refuses(&task.tests.format, &task.tests.command) {
        return Ok(Err(why));
    }
    let (task, tree) = (task.clone(), tree.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let test_files: Vec<String> = touched_paths(&task.tests.patch).into_iter().collect();
        let read = |path: &str| read_regular(&tree, path);
        let planned = canary::plan(
            &task.tests.format,
            &task.tests.command,
            &task.tests.fail_to_pass,
            &task.tests.pass_to_pass,
            &test_files,
            &read,
            &mut rand::thread_rng(),
        );
        let Some(c) = planned else {
            return Ok(Err(format!(
                "the {} format has no grading canaries here, so a forged report cannot be told \
                 from a real one",
                task.tests.format
            )));
        };
        for edit in &c.edits {
            write_edit(&tree, edit)?;
        }
        Ok(Ok(c))
    })
    .await
    .map_err(|e| Error::infra_from("", e))?
}

/// A regular file of the tree, never through a symbolic link (the patch may plant one that
/// points out of the tree).
fn read_regular(tree: &Path, rel: &str) -> Option<Vec<u8>> {
    let path = inside(tree, rel)?;
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 8 << 20 {
        return None;
    }
    std::fs::read(path).ok()
}

/// `rel` under `tree` when no component of it is a link or leaves the tree.
fn inside(tree: &Path, rel: &str) -> Option<PathBuf> {
    let mut path = tree.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() || *part == "." || *part == ".." {
            return None;
        }
        path.push(part);
        let last = i + 1 == parts.len();
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => return None,
            Ok(m) if !last && !m.is_dir() => return None,
            Ok(_) => {}
            Err(_) if last => {}
            Err(_) => return None,
        }
    }
    Some(path)
}

fn write_edit(tree: &Path, edit: &Edit) -> Result<(), Error> {
    use std::io::Write;
    let (rel, text, create) = match edit {
        Edit::Append { path, text } => (path, text, false),
        Edit::Create { path, text } => (path, text, true),
    };
    let Some(path) = inside(tree, rel) else {
        return Err(Error::infra(format!(
            "a grading canary's file `{rel}` is not a plain file of the tree"
        )));
    };
    let mut opts = std::fs::OpenOptions::new();
    if create {
        opts.write(true).create_new(true);
    } else {
        opts.append(true);
    }
    let mut f = opts
        .open(&path)
        .map_err(|e| Error::infra_from(format!("writing a grading canary to {rel}"), e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::infra_from(format!("writing a grading canary to {rel}"), e))
}

/// The last `keep` bytes of `bytes`, lossily decoded, from a line start where one is near.
pub fn tail(bytes: &[u8], keep: usize) -> String {
    if bytes.len() <= keep {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut cut = &bytes[bytes.len() - keep..];
    if let Some(nl) = cut.iter().position(|&b| b == b'\n') {
        if nl < keep / 4 {
            cut = &cut[nl + 1..];
        }
    }
    format!("[...]\n{}", String::from_utf8_lossy(cut))
}

/// The first and last `keep/2` bytes of `bytes`, lossily decoded: where failures show.
pub fn head_tail(bytes: &[u8], keep: usize) -> String {
    if bytes.len() <= keep {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let half = keep / 2;
    format!(
        "{}\n[... {} bytes omitted ...]\n{}",
        String::from_utf8_lossy(&bytes[..half]),
        bytes.len() - 2 * half,
        String::from_utf8_lossy(&bytes[bytes.len() - half..])
    )
}
