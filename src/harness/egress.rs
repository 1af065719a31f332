//! Allowlisted egress for one attempt: an internal Docker network that has no route out, and
//! on it the egress proxy (`harness/proxy/proxy.py`), the only container there that is also
//! attached to a network with a way out.
//!
//! The agent joins the internal network and gets `HTTPS_PROXY`/`HTTP_PROXY` pointing at the
//! proxy's address. The proxy passes CONNECT tunnels and plain-HTTP requests to the spec's
//! host:port pairs only and logs every request; the log comes back when the attempt ends,
//! and the proxy and the network are removed with it (and, after a kill, by `gc`: both carry
//! the run's labels).

use super::container::{attach_output, locked_down, unique_name, Limits};
use super::images::Image;
use super::{unreachable, Docker};
use crate::error::Error;
use bollard::models::{ContainerCreateBody, NetworkConnectRequest, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;

pub const PROXY_PORT: u16 = 3128;
const PROXY_LOG: &str = "/tmp/egress.jsonl";
/// The proxy's log is capped by the proxy itself (lines); this caps the bytes read back.
pub const PROXY_LOG_CAP: u64 = 16 << 20;
const READY_LINE: &str = "mergebench-proxy ready";
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The network the proxy reaches the outside through: Docker's default bridge unless
/// `MERGEBENCH_EGRESS_NETWORK` names another (a network where a local model server or an
/// internal gateway runs, reached by its container name).
pub fn outbound_network() -> String {
    std::env::var("MERGEBENCH_EGRESS_NETWORK")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "bridge".to_string())
}

/// A running proxy and its network; `stop` tears both down and returns the log.
pub struct Egress {
    network: String,
    proxy: String,
    /// `http://ip:port` of the proxy on the internal network.
    pub proxy_url: String,
}

/// What the proxy recorded, read back when the attempt ended.
#[derive(Debug, Default)]
pub struct EgressLog {
    pub bytes: Vec<u8>,
    pub truncated: bool,
}

fn infra(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::infra_from(format!("egress {what}"), e)
}

impl Egress {
    /// Creates the internal network and starts the proxy on it with `allow` as its list.
    /// Whatever was created before a failure is removed before the error returns.
    pub async fn start(docker: &Docker, image: &Image, allow: &[String]) -> Result<Egress, Error> {
        let network = unique_name(docker, "egress");
        let mut options = HashMap::new();
        // Without an address on the bridge the host itself is unreachable from the network:
        // an internal network still lets containers reach the host's own services otherwise.
        options.insert(
            "com.docker.network.bridge.inhibit_ipv4".to_string(),
            "true".to_string(),
        );
        docker
            .api
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                driver: Some("bridge".into()),
                internal: Some(true),
                labels: Some(docker.labels("egress")),
                options: Some(options),
                ..Default::default()
            })
            .await
            .map_err(|e| infra("network create", e))?;
        let mut egress = Egress {
            network,
            proxy: String::new(),
            proxy_url: String::new(),
        };
        match egress.start_proxy(docker, image, allow).await {
            Ok(()) => Ok(egress),
            Err(e) => {
                egress.remove(docker).await;
                Err(e)
            }
        }
    }

    async fn start_proxy(
        &mut self,
        docker: &Docker,
        image: &Image,
        allow: &[String],
    ) -> Result<(), Error> {
        let name = unique_name(docker, "proxy");
        let config = ContainerCreateBody {
            image: Some(image.tag.clone()),
            env: Some(vec![
                format!("MERGEBENCH_ALLOW={}", allow.join(",")),
                format!("MERGEBENCH_EGRESS_LOG={PROXY_LOG}"),
                format!("MERGEBENCH_PROXY_PORT={PROXY_PORT}"),
            ]),
            user: Some("1000:1000".into()),
            labels: Some(docker.labels("proxy")),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            host_config: Some(locked_down(
                Limits {
                    memory: 256 << 20,
                    cpus: 1.0,
                    pids: 256,
                    disk: None,
                },
                Some(&self.network),
            )),
            ..Default::default()
        };
        let created = docker
            .api
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                config,
            )
            .await
            .map_err(|e| infra("proxy create", e))?;
        self.proxy = created.id;
        let outbound = outbound_network();
        docker
            .api
            .connect_network(
                &outbound,
                NetworkConnectRequest {
                    container: self.proxy.clone(),
                    endpoint_config: None,
                },
            )
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    message,
                } => Error::env(
                    format!("the egress network `{outbound}` does not exist: {message}"),
                    "create it (docker network create NAME) or unset MERGEBENCH_EGRESS_NETWORK to use Docker's bridge",
                ),
                other => infra("proxy connect", other),
            })?;
        let attach = attach_output(docker, &self.proxy)
            .await
            .map_err(|e| infra("proxy attach", e))?;
        docker
            .api
            .start_container(
                &self.proxy,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(|e| infra("proxy start", e))?;
        // The agent starts only once the proxy listens: its first request must not race it.
        let mut output = attach.output;
        let mut seen = Vec::new();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Some(Ok(chunk)) = output.next().await {
                seen.extend_from_slice(&chunk.into_bytes());
                if String::from_utf8_lossy(&seen).contains(READY_LINE) {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        if !ready {
            return Err(Error::infra(format!(
                "egress proxy start: the proxy did not become ready: {}",
                String::from_utf8_lossy(&seen).trim()
            )));
        }
        let inspected = docker
            .api
            .inspect_container(
                &self.proxy,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(unreachable)?;
        let ip = inspected
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|n| n.get(&self.network).cloned())
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| {
                Error::infra("egress proxy start: the proxy has no address on its network")
            })?;
        self.proxy_url = format!("http://{ip}:{PROXY_PORT}");
        Ok(())
    }

    /// The network the agent's container joins.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The variables that route an agent's HTTP through the proxy. Both spellings: tools
    /// differ in which one they read.
    pub fn env(&self) -> Vec<String> {
        let u = &self.proxy_url;
        let none = "localhost,127.0.0.1,::1";
        vec![
            format!("HTTPS_PROXY={u}"),
            format!("https_proxy={u}"),
            format!("HTTP_PROXY={u}"),
            format!("http_proxy={u}"),
            format!("ALL_PROXY={u}"),
            format!("all_proxy={u}"),
            format!("NO_PROXY={none}"),
            format!("no_proxy={none}"),
        ]
    }

    /// Stops the proxy (it logs the connections still open, then a summary), reads its
    /// log, and removes the proxy and the network. Never fails: a log that cannot be read
    /// is reported empty and truncated.
    pub async fn stop(self, docker: &Docker) -> EgressLog {
        let _ = docker
            .api
            .stop_container(
                &self.proxy,
                Some(StopContainerOptionsBuilder::default().t(5).build()),
            )
            .await;
        let log = read_log(docker, &self.proxy)
            .await
            .unwrap_or_else(|| EgressLog {
                bytes: Vec::new(),
                truncated: true,
            });
        self.remove(docker).await;
        log
    }

    async fn remove(&self, docker: &Docker) {
        if !self.proxy.is_empty() {
            let _ = docker
                .api
                .remove_container(&self.proxy, Some(super::force_removal()))
                .await;
        }
        let _ = docker.api.remove_network(&self.network).await;
    }
}

/// The proxy's log file out of its (stopped) container.
async fn read_log(docker: &Docker, id: &str) -> Option<EgressLog> {
    use std::io::Read;
    let mut stream = docker.api.download_from_container(
        id,
        Some(
            DownloadFromContainerOptionsBuilder::default()
                .path(PROXY_LOG)
                .build(),
        ),
    );
    let mut tar_bytes = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.ok()?;
        if tar_bytes.len() as u64 + chunk.len() as u64 > PROXY_LOG_CAP + 4096 {
            truncated = true;
            break;
        }
        tar_bytes.extend_from_slice(&chunk);
    }
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut bytes = Vec::new();
    for entry in archive.entries().ok()?.flatten() {
        if entry.header().entry_type().is_file() {
            // A cut archive yields what it holds up to the cut.
            let _ = entry.take(PROXY_LOG_CAP).read_to_end(&mut bytes);
            break;
        }
    }
    Some(EgressLog { bytes, truncated })
}
