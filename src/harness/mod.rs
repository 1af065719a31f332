//! The harness: the only module that talks to Docker.
//!
//! Files go into and out of containers as tar archives through the API, never through bind
//! mounts, so the same runs work against a remote `DOCKER_HOST`. Every container, network and
//! volume carries labels naming its owner process and run, so `gc` and the start of every run
//! can remove what a killed run left.

pub mod container;
pub mod egress;
pub mod images;
pub mod sandbox;
pub mod testrun;

use crate::error::Error;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use std::collections::HashMap;

pub const LABEL: &str = "mergebench";
pub const LABEL_OWNER: &str = "mergebench.owner";

/// Container removals taken off an attempt's critical path, over every connection of this
/// process: `settle` (and `settle_all`, which the command line awaits before it exits) waits
/// for them, so no command leaves a container behind, whether it ends well or not.
static PENDING: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

/// Waits for every deferred removal of this process.
pub async fn settle_all() {
    let tasks: Vec<_> = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|e| e.into_inner()));
    for t in tasks {
        let _ = t.await;
    }
}

pub const LABEL_RUN: &str = "mergebench.run";
pub const LABEL_KIND: &str = "mergebench.kind";

#[derive(Clone)]
pub struct Docker {
    pub(crate) api: bollard::Docker,
    /// `host:pid:start-time` of this process: lets a later run tell a dead owner from a live one.
    owner: String,
    /// One id per mergebench invocation, on everything it creates.
    run_id: String,
}

fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

pub fn unreachable(e: impl std::fmt::Display) -> Error {
    let host = docker_host();
    let fix = if host.starts_with("tcp://") || host.starts_with("https://") {
        if std::env::var_os("DOCKER_TLS_VERIFY").is_some() {
            let dir = std::env::var("DOCKER_CERT_PATH").unwrap_or_else(|_| "~/.docker".into());
            format!(
                "check that the daemon listens there with TLS, and that {dir} (DOCKER_CERT_PATH) holds \
                 ca.pem, cert.pem and key.pem signed by the daemon's CA"
            )
        } else {
            "check that the daemon listens there; a daemon that requires TLS also needs \
             DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (see docs/scale.md)"
                .to_string()
        }
    } else if host.starts_with("ssh://") {
        "check that `ssh` to that host works without a prompt (a key in the agent or \
         ~/.ssh/config) and that the docker CLI is installed there"
            .to_string()
    } else {
        "start the Docker engine (bash scripts/setup.sh installs and starts it) or set DOCKER_HOST"
            .to_string()
    };
    Error::env(format!("Docker is unreachable at {host}: {e}"), fix)
}

impl Docker {
    pub async fn connect() -> Result<Docker, Error> {
        let host = docker_host();
        if let Some(rest) = host.strip_prefix("ssh://") {
            // The ssh transport hands `user@host` to the system ssh as it is: a port in the
            // URL would become part of the host name.
            let authority = rest.split('/').next().unwrap_or(rest);
            let after_user = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if let Some((name, port)) = after_user.rsplit_once(':') {
                if port.parse::<u16>().is_ok() {
                    return Err(Error::env(
                        format!("DOCKER_HOST={host} names a port, which the ssh transport cannot pass to ssh"),
                        format!(
                            "give the host an alias in ~/.ssh/config (Host docker-remote / HostName {name} / Port {port}) \
                             and set DOCKER_HOST=ssh://{}docker-remote",
                            authority.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        let api = bollard::Docker::connect_with_defaults().map_err(unreachable)?;
        let api = api.negotiate_version().await.map_err(unreachable)?;
        api.ping().await.map_err(unreachable)?;
        let run_id = format!(
            "{}-{}",
            std::process::id(),
            chrono::Utc::now().format("%Y%m%d%H%M%S%3f")
        );
        Ok(Docker {
            api,
            owner: owner_id(std::process::id()).unwrap_or_default(),
            run_id,
        })
    }

    pub(crate) fn defer(&self, task: tokio::task::JoinHandle<()>) {
        let mut p = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        p.retain(|t| !t.is_finished());
        p.push(task);
    }

    /// Removes everything this run made, after an interruption. Requests that were in
    /// flight when their futures were dropped may still create containers, so it sweeps
    /// until two sweeps in a row find nothing (for at most about ten seconds).
    pub async fn clean_up_run(&self) {
        self.settle().await;
        let mut quiet = 0;
        for _ in 0..20 {
            let removed = self
                .gc(GcScope::Run(&self.run_id))
                .await
                .map(|r| r.containers + r.networks + r.volumes)
                .unwrap_or(0);
            quiet = if removed == 0 { quiet + 1 } else { 0 };
            if quiet >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// Waits until every deferred removal has finished.
    pub async fn settle(&self) {
        settle_all().await;
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn labels(&self, kind: &str) -> HashMap<String, String> {
        HashMap::from([
            (LABEL.to_string(), "1".to_string()),
            (LABEL_OWNER.to_string(), self.owner.clone()),
            (LABEL_RUN.to_string(), self.run_id.clone()),
            (LABEL_KIND.to_string(), kind.to_string()),
        ])
    }

    /// Removes containers, networks and volumes whose owning process is gone (or, with
    /// `all`, every one mergebench made, or with `run`, those of one run). Returns counts.
    pub async fn gc(&self, scope: GcScope<'_>) -> Result<GcReport, Error> {
        let mut report = GcReport::default();
        let filters = HashMap::from([("label".to_string(), vec![LABEL.to_string()])]);
        let keep = |labels: Option<&HashMap<String, String>>| -> bool {
            let labels = match labels {
                Some(l) => l,
                None => return true,
            };
            match scope {
                GcScope::All => false,
                GcScope::Run(id) => labels.get(LABEL_RUN).map(String::as_str) != Some(id),
                // No owner: not made by a run but by an image build, whose intermediate
                // containers inherit the labels of a mergebench base image. The build
                // removes them itself; removing them here would break a build in progress.
                GcScope::Orphans => labels
                    .get(LABEL_OWNER)
                    .map(|o| owner_alive(o))
                    .unwrap_or(true),
            }
        };
        let containers = self
            .api
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(unreachable)?;
        for c in containers {
            if keep(c.labels.as_ref()) {
                continue;
            }
            if let Some(id) = c.id {
                if self
                    .api
                    .remove_container(&id, Some(force_removal()))
                    .await
                    .is_ok()
                {
                    report.containers += 1;
                }
            }
        }
        let networks = self
            .api
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(unreachable)?;
        for n in networks {
            if keep(n.labels.as_ref()) {
                continue;
            }
            if let Some(id) = n.id {
                if self.api.remove_network(&id).await.is_ok() {
                    report.networks += 1;
                }
            }
        }
        let volumes = self
            .api
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(unreachable)?;
        for v in volumes.volumes.unwrap_or_default() {
            if keep(Some(&v.labels)) {
                continue;
            }
            if self
                .api
                .remove_volume(
                    &v.name,
                    None::<bollard::query_parameters::RemoveVolumeOptions>,
                )
                .await
                .is_ok()
            {
                report.volumes += 1;
            }
        }
        Ok(report)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum GcScope<'a> {
    /// Only what dead mergebench processes left.
    Orphans,
    /// What one run of this process made.
    Run(&'a str),
    All,
}

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct GcReport {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    after_comm.split_whitespace().nth(19).map(str::to_string)
}

fn owner_id(pid: u32) -> Option<String> {
    Some(format!("{}:{pid}:{}", hostname(), start_time(pid)?))
}

/// An owner on another host is assumed alive: only its own machine can tell.
fn owner_alive(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if host != hostname() {
        return true;
    }
    match pid.parse::<u32>() {
        Ok(pid) => start_time(pid).as_deref() == Some(start),
        Err(_) => false,
    }
}

/// How a container is removed: stopped if it still runs, with its anonymous volumes.
pub(crate) fn force_removal() -> bollard::query_parameters::RemoveContainerOptions {
    RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_alive_only_while_their_process_is() {
        let me = owner_id(std::process::id()).unwrap();
        assert!(owner_alive(&me));
        // Same pid, different start time: a reused pid is not the owner.
        let reused = format!("{}:{}:1", hostname(), std::process::id());
        assert!(!owner_alive(&reused));
        assert!(!owner_alive(&format!("{}:999999999:1", hostname())));
        assert!(owner_alive("some-other-host:1:1"));
        assert!(!owner_alive("garbage"));
    }
}
