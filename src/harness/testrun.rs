//! Running a task's test command on a prepared tree, in a fresh container from the task
//! image, under a fixed environment and the same lock-down as agents.

use super::container::{self, Limits, RunSpec};
use super::images::Image;
use super::Docker;
use crate::error::Error;
use crate::repo::workspace::{tar_dir, AGENT_UID};
use std::path::Path;
use std::time::Duration;

pub const OUTPUT_CAP: usize = 16 << 20;

/// The fixed environment every test run gets, so results do not depend on the host.
pub const TEST_ENV: &[&str] = &[
    "TZ=UTC",
    "PYTHONHASHSEED=0",
    "LC_ALL=C.UTF-8",
    "SOURCE_DATE_EPOCH=946684800",
    "PYTHONDONTWRITEBYTECODE=1",
    "HOME=/tmp",
    "CI=true",
    // Runners' scratch and caches under the writable, executable /tmp (the workspace stays
    // clean, and HOME is /tmp too). These replace an image's own values for the same names.
    "XDG_CACHE_HOME=/tmp/.cache",
    "GOTMPDIR=/tmp",
    "npm_config_cache=/tmp/.npm",
];

pub struct TestInput<'a> {
    pub image: &'a Image,
    pub tree: &'a Path,
    pub command: &'a str,
    pub timeout: Duration,
    /// Bytes the run may write to its container's filesystem; past this it is killed.
    pub disk: u64,
    /// For `junit:<path>`: the report to bring back, relative to the repository root.
    pub report: Option<&'a str>,
}

#[derive(Debug)]
pub struct TestOutput {
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub oom_killed: bool,
    /// Killed for writing more than `TestInput::disk`.
    pub disk_exceeded: bool,
    /// Both streams interleaved as they came.
    pub output: Vec<u8>,
    pub truncated: bool,
    /// Each stream on its own: parsers read the one their runner writes results to.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub report: Option<Vec<u8>>,
    pub seconds: f64,
}

pub async fn run_tests(docker: &Docker, input: TestInput<'_>) -> Result<TestOutput, Error> {
    let tree = input.tree.to_path_buf();
    let archive = tokio::task::spawn_blocking(move || tar_dir(&tree, "workspace", AGENT_UID))
        .await
        .map_err(|e| Error::infra_from("", e))??;
    let mut downloads = Vec::new();
    if let Some(r) = input.report {
        downloads.push((
            format!("/workspace/{}", r.trim_start_matches("./")),
            64 << 20,
        ));
    }
    let res = container::run(
        docker,
        RunSpec {
            image: &input.image.tag,
            cmd: vec!["sh".into(), "-c".into(), input.command.to_string()],
            env: TEST_ENV.iter().map(|s| s.to_string()).collect(),
            workdir: "/workspace",
            user: "1000:1000",
            limits: Limits {
                memory: 4 << 30,
                cpus: 2.0,
                pids: 1024,
                disk: Some(input.disk),
            },
            kind: "tests",
            uploads: vec![archive],
            downloads,
            timeout: input.timeout,
            log_cap: OUTPUT_CAP,
            network: None,
        },
    )
    .await?;
    let report = res
        .downloads
        .into_iter()
        .next()
        .and_then(|d| d.file)
        .and_then(first_file);
    Ok(TestOutput {
        exit_code: res.exit_code,
        timed_out: res.timed_out,
        oom_killed: res.oom_killed,
        disk_exceeded: res.disk_exceeded,
        truncated: res.log.truncated,
        output: res.log.bytes,
        stdout: res.streams.stdout.bytes,
        stderr: res.streams.stderr.bytes,
        report,
        seconds: res.seconds,
    })
}

fn first_file(archive: impl std::io::Read) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut a = tar::Archive::new(archive);
    for e in a.entries().ok()?.flatten() {
        if e.header().entry_type().is_file() {
            let mut v = Vec::new();
            e.take(64 << 20).read_to_end(&mut v).ok()?;
            return Some(v);
        }
    }
    None
}
