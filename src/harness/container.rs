//! One locked-down container run: create, upload archives, attach, start, wait with a
//! deadline that kills, download archives, remove. Agents and test runs both go through here.

use super::{unreachable, Docker};
use crate::error::Error;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder,
    DownloadFromContainerOptionsBuilder, KillContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory: u64,
    pub cpus: f64,
    pub pids: i64,
    /// Bytes the container may write to its own filesystem (tmpfs counts as memory instead);
    /// past this it is killed. None: not watched.
    pub disk: Option<u64>,
}

/// How often a watched container's writes are measured (less often when measuring is slow).
const DISK_POLL: Duration = Duration::from_secs(2);

pub struct RunSpec<'a> {
    pub image: &'a str,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: &'a str,
    /// Numeric `uid:gid`: never root.
    pub user: &'a str,
    pub limits: Limits,
    /// Label value saying what the container is for (`agent`, `tests`).
    pub kind: &'a str,
    /// Tar archives extracted at `/` before the start.
    pub uploads: Vec<Vec<u8>>,
    /// Paths archived after the exit, each with a byte cap.
    pub downloads: Vec<(String, u64)>,
    pub timeout: Duration,
    pub log_cap: usize,
    /// The Docker network to join; None: no network at all (only loopback).
    pub network: Option<String>,
}

/// Output kept up to a cap; the rest is counted so the report can say how much was cut.
#[derive(Debug, Default, Clone)]
pub struct CappedLog {
    pub bytes: Vec<u8>,
    pub total: u64,
    pub truncated: bool,
    cap: usize,
}

impl CappedLog {
    pub fn new(cap: usize) -> Self {
        CappedLog {
            cap,
            ..Default::default()
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = self.cap.saturating_sub(self.bytes.len());
        if chunk.len() > room {
            self.truncated = true;
        }
        self.bytes
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
}

/// stdout and stderr kept apart, each up to the same cap as the interleaved log.
#[derive(Debug, Default, Clone)]
pub struct Streams {
    pub stdout: CappedLog,
    pub stderr: CappedLog,
}

#[derive(Debug)]
pub struct Download {
    pub path: String,
    /// The archive, in an unnamed temporary file read from its start (up to a gigabyte of
    /// workspace stays out of memory). None: the path does not exist in the container.
    pub file: Option<std::fs::File>,
    pub truncated: bool,
}

#[derive(Debug)]
pub struct RunResult {
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub oom_killed: bool,
    /// Killed for writing more than `Limits::disk`.
    pub disk_exceeded: bool,
    /// Both streams interleaved as they came: what a person reads.
    pub log: CappedLog,
    /// Each stream on its own, for parsers that read results from one of them.
    pub streams: Streams,
    pub downloads: Vec<Download>,
    pub seconds: f64,
}

fn trace(t0: Instant, what: &str) {
    if std::env::var_os("MERGEBENCH_TRACE").is_some() {
        eprintln!(
            "trace {:>8.1} ms {what}",
            t0.elapsed().as_secs_f64() * 1000.0
        );
    }
}

fn infra(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::infra_from(format!("docker {what}"), e)
}

/// Attaches to a container's stdout and stderr as a stream. Attached before the start,
/// nothing is missed; and with the log driver off there is no log to replay.
pub(crate) async fn attach_output(
    docker: &Docker,
    id: &str,
) -> Result<bollard::container::AttachContainerResults, bollard::errors::Error> {
    docker
        .api
        .attach_container(
            id,
            Some(
                AttachContainerOptionsBuilder::default()
                    .stdout(true)
                    .stderr(true)
                    .stream(true)
                    .logs(false)
                    .build(),
            ),
        )
        .await
}

/// What every container mergebench starts shares: no capabilities, no new privileges, hard
/// limits, no log on the daemon's disk, and no network unless one is named.
pub(crate) fn locked_down(limits: Limits, network: Option<&str>) -> HostConfig {
    HostConfig {
        network_mode: Some(network.unwrap_or("none").to_string()),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        memory: Some(limits.memory as i64),
        memory_swap: Some(limits.memory as i64),
        nano_cpus: Some((limits.cpus * 1e9) as i64),
        pids_limit: Some(limits.pids),
        // Output is read through the attach stream; nothing piles up on the daemon's disk.
        log_config: Some(HostConfigLogConfig {
            typ: Some("none".into()),
            config: None,
        }),
        ..Default::default()
    }
}

/// A name no other container has: the kind, then a hash of the run and the moment.
pub(crate) fn unique_name(docker: &Docker, kind: &str) -> String {
    format!(
        "mergebench-{kind}-{}",
        &crate::config::sha256_hex(format!("{}{:?}", docker.run_id(), Instant::now()).as_bytes())
            [..12]
    )
}

/// Runs one container to completion and removes it, whatever happens in between.
pub async fn run(docker: &Docker, spec: RunSpec<'_>) -> Result<RunResult, Error> {
    let config = ContainerCreateBody {
        image: Some(spec.image.to_string()),
        cmd: Some(spec.cmd.clone()),
        env: Some(spec.env.clone()),
        working_dir: Some(spec.workdir.to_string()),
        user: Some(spec.user.to_string()),
        labels: Some(docker.labels(spec.kind)),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        open_stdin: Some(false),
        network_disabled: Some(spec.network.is_none()),
        host_config: Some(HostConfig {
            // Scratch space in memory, so it counts against the memory limit instead of
            // filling the daemon's disk. (Not for the egress proxy, whose log under /tmp must
            // outlive its container's stop.) Executable: compiled tests (`go test`, build
            // scripts) run from there, and the code they run is the agent's anyway; Docker's
            // default for tmpfs would be noexec.
            tmpfs: Some(HashMap::from([(
                "/tmp".to_string(),
                "rw,exec,nosuid,nodev,size=1g,mode=1777".to_string(),
            )])),
            ..locked_down(spec.limits, spec.network.as_deref())
        }),
        ..Default::default()
    };
    let t0 = Instant::now();
    let name = unique_name(docker, spec.kind);
    let created = docker
        .api
        .create_container(Some(CreateContainerOptionsBuilder::default().name(&name).build()), config)
        .await
        .map_err(|e| match e {
            bollard::errors::Error::DockerResponseServerError { status_code: 404, message } => Error::env(
                format!("image {} is missing: {message}", spec.image),
                "build it again (mergebench builds task images on demand; `mergebench images list` shows what exists)",
            ),
            other => infra("create", other),
        })?;
    let id = created.id;
    trace(t0, "created");
    let result = run_created(docker, &id, &spec, t0).await;
    // Removal is off the attempt's critical path; `Docker::settle` waits for it before exit.
    let api = docker.api.clone();
    docker.defer(tokio::spawn(async move {
        let _ = api
            .remove_container(&id, Some(super::force_removal()))
            .await;
    }));
    trace(t0, "done");
    result
}

async fn run_created(
    docker: &Docker,
    id: &str,
    spec: &RunSpec<'_>,
    t0: Instant,
) -> Result<RunResult, Error> {
    // One archive, one upload: each archive call on a stopped container mounts its filesystem.
    if !spec.uploads.is_empty() {
        let archive = if spec.uploads.len() == 1 {
            spec.uploads[0].clone()
        } else {
            concat_archives(&spec.uploads)?
        };
        docker
            .api
            .upload_to_container(
                id,
                Some(UploadToContainerOptionsBuilder::default().path("/").build()),
                bollard::body_full(archive.into()),
            )
            .await
            .map_err(|e| infra("upload", e))?;
    }
    trace(t0, "uploaded");
    let attach = attach_output(docker, id)
        .await
        .map_err(|e| infra("attach", e))?;
    let cap = spec.log_cap;
    let mut output = attach.output;
    let reader = tokio::spawn(async move {
        let mut log = CappedLog::new(cap);
        let mut streams = Streams {
            stdout: CappedLog::new(cap),
            stderr: CappedLog::new(cap),
        };
        while let Some(item) = output.next().await {
            match item {
                Ok(LogOutput::StdErr { message }) => {
                    log.push(&message);
                    streams.stderr.push(&message);
                }
                // Without a TTY everything else the daemon sends is the process's stdout.
                Ok(chunk) => {
                    let bytes = chunk.into_bytes();
                    log.push(&bytes);
                    streams.stdout.push(&bytes);
                }
                Err(_) => break,
            }
        }
        (log, streams)
    });
    trace(t0, "attached");
    let started = Instant::now();
    docker
        .api
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(|e| infra("start", e))?;
    trace(t0, "started");
    // The run ends when the process exits, at the deadline, or when it has written more
    // than its disk limit; in the last two cases it is killed.
    let (timed_out, disk_exceeded) = tokio::select! {
        _ = wait(docker, id) => (false, false),
        _ = tokio::time::sleep(spec.timeout) => (true, false),
        _ = watch_disk(docker, id, spec.limits.disk) => (false, true),
    };
    if timed_out || disk_exceeded {
        let _ = docker
            .api
            .kill_container(
                id,
                Some(
                    KillContainerOptionsBuilder::default()
                        .signal("SIGKILL")
                        .build(),
                ),
            )
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(30), wait(docker, id)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    trace(t0, "exited");
    // The stream ends when the container does; a reader still busy after that is draining a
    // flood, and what it has is what we keep.
    let (log, streams) = match tokio::time::timeout(Duration::from_secs(20), reader).await {
        Ok(Ok(read)) => read,
        _ => {
            let mut l = CappedLog::new(0);
            l.truncated = true;
            let streams = Streams {
                stdout: l.clone(),
                stderr: l.clone(),
            };
            (l, streams)
        }
    };
    let state = docker
        .api
        .inspect_container(
            id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .map_err(|e| infra("inspect", e))?
        .state
        .unwrap_or_default();
    trace(t0, "inspected");
    // Concurrent: the daemon mounts the filesystem for each, and the mounts overlap.
    let downloads = futures_util::future::try_join_all(
        spec.downloads
            .iter()
            .map(|(path, cap)| download(docker, id, path, *cap)),
    )
    .await?;
    trace(t0, "downloaded");
    // A kill by the kernel's OOM killer can be reported after the exit (cgroup v2 events
    // race the exit event): a SIGKILL nobody here sent is asked about again, briefly.
    let mut oom_killed = state.oom_killed.unwrap_or(false);
    if !oom_killed && !timed_out && !disk_exceeded && state.exit_code == Some(137) {
        for _ in 0..10 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let again = docker
                .api
                .inspect_container(
                    id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
                .ok()
                .and_then(|c| c.state)
                .and_then(|s| s.oom_killed)
                .unwrap_or(false);
            if again {
                oom_killed = true;
                break;
            }
        }
    }
    Ok(RunResult {
        exit_code: if timed_out || disk_exceeded {
            None
        } else {
            state.exit_code
        },
        timed_out,
        oom_killed,
        disk_exceeded,
        log,
        streams,
        downloads,
        seconds,
    })
}

/// Returns once the container has written more than `cap` bytes to its own filesystem;
/// never, without a cap. The daemon measures the container's writable layer on request.
async fn watch_disk(docker: &Docker, id: &str, cap: Option<u64>) {
    let Some(cap) = cap else {
        return std::future::pending().await;
    };
    let opts = bollard::query_parameters::InspectContainerOptionsBuilder::default()
        .size(true)
        .build();
    let mut pause = DISK_POLL;
    loop {
        tokio::time::sleep(pause).await;
        let asked = Instant::now();
        let used = docker
            .api
            .inspect_container(id, Some(opts.clone()))
            .await
            .ok()
            .and_then(|c| c.size_rw)
            .unwrap_or(0);
        if used > 0 && used as u64 > cap {
            return;
        }
        // Measuring walks the container's files: with very many of them, measure less
        // often, so the daemon spends at most a tenth of its time on it.
        pause = DISK_POLL.max(asked.elapsed() * 10);
    }
}

async fn wait(docker: &Docker, id: &str) {
    let mut s = docker
        .api
        .wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
    // A non-zero exit arrives as an error item; either way the container has stopped.
    let _ = s.next().await;
}

/// A path of a container as a tar archive spooled to an unnamed temporary file, cut at `cap`.
pub(super) async fn download(
    docker: &Docker,
    id: &str,
    path: &str,
    cap: u64,
) -> Result<Download, Error> {
    let mut stream = docker.api.download_from_container(
        id,
        Some(
            DownloadFromContainerOptionsBuilder::default()
                .path(path)
                .build(),
        ),
    );
    let spool =
        |e: std::io::Error| Error::infra_from(format!("spooling {path} to a temporary file"), e);
    let mut file = tokio::fs::File::from_std(tempfile::tempfile().map_err(spool)?);
    let mut written = 0u64;
    let mut truncated = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                if written + c.len() as u64 > cap {
                    truncated = true;
                    break;
                }
                file.write_all(&c).await.map_err(spool)?;
                written += c.len() as u64;
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Ok(Download {
                    path: path.to_string(),
                    file: None,
                    truncated: false,
                })
            }
            Err(e) => return Err(infra("download", e)),
        }
    }
    file.flush().await.map_err(spool)?;
    file.rewind().await.map_err(spool)?;
    Ok(Download {
        path: path.to_string(),
        file: Some(file.into_std().await),
        truncated,
    })
}

/// Joins tar archives into one (each alone ends with the end-of-archive marker).
pub fn concat_archives(parts: &[Vec<u8>]) -> Result<Vec<u8>, Error> {
    let mut b = tar::Builder::new(Vec::new());
    for part in parts {
        let mut a = tar::Archive::new(&part[..]);
        for entry in a.entries().map_err(|e| infra("archive", e))? {
            let mut entry = entry.map_err(|e| infra("archive", e))?;
            let mut header = entry.header().clone();
            let path = entry.path().map_err(|e| infra("archive", e))?.into_owned();
            if header.entry_type().is_symlink() || header.entry_type().is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(|e| infra("archive", e))?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                b.append_link(&mut header, &path, target)
                    .map_err(|e| infra("archive", e))?;
            } else {
                b.append_data(&mut header, &path, &mut entry)
                    .map_err(|e| infra("archive", e))?;
            }
        }
    }
    b.into_inner().map_err(|e| infra("archive", e))
}

/// Whether an image exists, and its id.
pub async fn image_id(docker: &Docker, name: &str) -> Result<Option<String>, Error> {
    match docker.api.inspect_image(name).await {
        Ok(i) => Ok(i.id),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(unreachable(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_join_into_one() {
        let make = |name: &str, body: &[u8]| {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, body).unwrap();
            b.into_inner().unwrap()
        };
        let joined = concat_archives(&[make("a/x", b"one"), make("b/y", b"two")]).unwrap();
        let names: Vec<String> = tar::Archive::new(&joined[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a/x", "b/y"]);
    }

    #[test]
    fn capped_log_keeps_the_head_and_counts_the_rest() {
        let mut l = CappedLog::new(5);
        l.push(b"abc");
        l.push(b"defgh");
        l.push(b"ij");
        assert_eq!(l.bytes, b"abcde");
        assert_eq!(l.total, 10);
        assert!(l.truncated);
        let mut l = CappedLog::new(5);
        l.push(b"abcde");
        assert!(!l.truncated);
    }
}
