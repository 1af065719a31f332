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
    CreateContainerOptionsBuilder, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;

pub const PROXY_PORT: u16 = 3128;
const PROXY_LOG: &str = "/tmp/egress.jsonl";
/// Where the gateway listens, reads its configuration, and writes its call log and trajectory.
pub const GATEWAY_PORT: u16 = 8090;
const GATEWAY_CONFIG: &str = "/mergebench/gateway.json";
pub const GATEWAY_LOG: &str = "/tmp/gateway-calls.jsonl";
pub const GATEWAY_TRAJECTORY: &str = "/tmp/gateway-trajectory.jsonl";
const GATEWAY_READY_LINE: &str = "mergebench-gateway ready";
/// The gateway's trajectory is capped by the gateway itself; this caps the bytes read back.
pub const GATEWAY_TRAJECTORY_CAP: u64 = 17 << 20;
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
    /// The attempt's model gateway, when its agent has one.
    gateway: Option<String>,
    /// The gateway's address, which the agent reaches directly, not through the proxy.
    gateway_host: Option<String>,
}

/// What the gateway recorded, read back when the attempt ended.
#[derive(Debug, Default)]
pub struct GatewayLog {
    pub calls: Vec<u8>,
    pub trajectory: Vec<u8>,
    pub truncated: bool,
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
            gateway: None,
            gateway_host: None,
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
        let env = vec![
            format!("MERGEBENCH_ALLOW={}", allow.join(",")),
            format!("MERGEBENCH_EGRESS_LOG={PROXY_LOG}"),
            format!("MERGEBENCH_PROXY_PORT={PROXY_PORT}"),
        ];
        let side = Sidecar {
            kind: "proxy",
            image,
            env,
            cmd: None,
            upload: None,
            ready_line: READY_LINE,
        };
        let (id, ip) = side.start(docker, &self.network, &mut self.proxy).await?;
        debug_assert_eq!(id, self.proxy);
        self.proxy_url = format!("http://{ip}:{PROXY_PORT}");
        Ok(())
    }

    /// Starts the attempt's model gateway on the internal network (and the outbound one, its
    /// only way to the provider). `env` carries the real key; the agent never sees it.
    pub async fn start_gateway(
        &mut self,
        docker: &Docker,
        image: &Image,
        config_json: &[u8],
        env: &[String],
    ) -> Result<String, Error> {
        let upload = tar_one(GATEWAY_CONFIG, config_json)?;
        let side = Sidecar {
            kind: "gateway",
            image,
            env: env.to_vec(),
            cmd: Some(vec![
                "mergebench".into(),
                "gateway".into(),
                "--config".into(),
                GATEWAY_CONFIG.into(),
            ]),
            upload: Some(upload),
            ready_line: GATEWAY_READY_LINE,
        };
        let mut id = String::new();
        let result = side.start(docker, &self.network, &mut id).await;
        self.gateway = (!id.is_empty()).then_some(id);
        let (_, ip) = result?;
        self.gateway_host = Some(ip.clone());
        Ok(format!("http://{ip}:{GATEWAY_PORT}"))
    }

    /// The network the agent's container joins.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The variables that route an agent's HTTP through the proxy. Both spellings: tools
    /// differ in which one they read.
    pub fn env(&self) -> Vec<String> {
        let u = &self.proxy_url;
        let mut none = "localhost,127.0.0.1,::1".to_string();
        if let Some(g) = &self.gateway_host {
            none.push(',');
            none.push_str(g);
        }
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
    pub async fn stop(self, docker: &Docker) -> (EgressLog, Option<GatewayLog>) {
        let gateway = match &self.gateway {
            Some(id) => Some(stop_gateway(docker, id).await),
            None => None,
        };
        let _ = docker
            .api
            .stop_container(
                &self.proxy,
                Some(StopContainerOptionsBuilder::default().t(5).build()),
            )
            .await;
        let log = read_file(docker, &self.proxy, PROXY_LOG, PROXY_LOG_CAP)
            .await
            .map(|(bytes, truncated)| EgressLog { bytes, truncated })
            .unwrap_or_else(|| EgressLog {
                bytes: Vec::new(),
                truncated: true,
            });
        self.remove(docker).await;
        (log, gateway)
    }

    async fn remove(&self, docker: &Docker) {
        if let Some(g) = &self.gateway {
            let _ = docker
                .api
                .remove_container(g, Some(super::force_removal()))
                .await;
        }
        if !self.proxy.is_empty() {
            let _ = docker
                .api
                .remove_container(&self.proxy, Some(super::force_removal()))
                .await;
        }
        let _ = docker.api.remove_network(&self.network).await;
    }
}

/// A helper container of the attempt (the proxy, the gateway): on the internal network and
/// the outbound one, started and waited for until it prints its ready line.
struct Sidecar<'a> {
    kind: &'static str,
    image: &'a Image,
    env: Vec<String>,
    cmd: Option<Vec<String>>,
    /// An archive unpacked at `/` before the start.
    upload: Option<Vec<u8>>,
    ready_line: &'static str,
}

impl Sidecar<'_> {
    /// Creates, connects and starts the container; its id is written to `id` as soon as it
    /// exists, so a caller removes it even when a later step fails. Returns (id, address on
    /// `network`).
    async fn start(
        self,
        docker: &Docker,
        network: &str,
        id: &mut String,
    ) -> Result<(String, String), Error> {
        let kind = self.kind;
        let name = unique_name(docker, kind);
        let config = ContainerCreateBody {
            image: Some(self.image.tag.clone()),
            env: Some(self.env),
            cmd: self.cmd,
            user: Some("1000:1000".into()),
            labels: Some(docker.labels(kind)),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            host_config: Some(locked_down(
                Limits {
                    memory: 256 << 20,
                    cpus: 1.0,
                    pids: 256,
                    disk: None,
                },
                Some(network),
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
            .map_err(|e| infra(&format!("{kind} create"), e))?;
        *id = created.id.clone();
        if let Some(archive) = self.upload {
            docker
                .api
                .upload_to_container(
                    &created.id,
                    Some(UploadToContainerOptionsBuilder::default().path("/").build()),
                    bollard::body_full(archive.into()),
                )
                .await
                .map_err(|e| infra(&format!("{kind} upload"), e))?;
        }
        let outbound = outbound_network();
        docker
            .api
            .connect_network(
                &outbound,
                NetworkConnectRequest {
                    container: created.id.clone(),
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
                other => infra(&format!("{kind} connect"), other),
            })?;
        let attach = attach_output(docker, &created.id)
            .await
            .map_err(|e| infra(&format!("{kind} attach"), e))?;
        docker
            .api
            .start_container(
                &created.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(|e| infra(&format!("{kind} start"), e))?;
        // The agent starts only once the helper listens: its first request must not race it.
        let mut output = attach.output;
        let mut seen = Vec::new();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Some(Ok(chunk)) = output.next().await {
                seen.extend_from_slice(&chunk.into_bytes());
                if String::from_utf8_lossy(&seen).contains(self.ready_line) {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        if !ready {
            return Err(Error::infra(format!(
                "egress {kind} start: the {kind} did not become ready: {}",
                String::from_utf8_lossy(&seen).trim()
            )));
        }
        let inspected = docker
            .api
            .inspect_container(
                &created.id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(unreachable)?;
        let ip = inspected
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|n| n.get(network).cloned())
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| {
                Error::infra(format!(
                    "egress {kind} start: the {kind} has no address on its network"
                ))
            })?;
        Ok((created.id, ip))
    }
}

/// An archive holding one file, readable by the helper's user.
fn tar_one(path: &str, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(bytes.len() as u64);
    b.append_data(&mut h, path.trim_start_matches('/'), bytes)
        .and_then(|_| b.into_inner())
        .map_err(|e| Error::infra_from("packing the gateway's configuration", e))
}

/// Stops the gateway (it finishes the call in flight and flushes) and reads its call log
/// and trajectory.
async fn stop_gateway(docker: &Docker, id: &str) -> GatewayLog {
    let _ = docker
        .api
        .stop_container(
            id,
            Some(StopContainerOptionsBuilder::default().t(5).build()),
        )
        .await;
    let calls = read_file(docker, id, GATEWAY_LOG, PROXY_LOG_CAP).await;
    let trajectory = read_file(docker, id, GATEWAY_TRAJECTORY, GATEWAY_TRAJECTORY_CAP).await;
    let truncated = calls.as_ref().is_none_or(|c| c.1);
    GatewayLog {
        calls: calls.map(|c| c.0).unwrap_or_default(),
        trajectory: trajectory.map(|t| t.0).unwrap_or_default(),
        truncated,
    }
}

/// One file out of a (stopped) helper container, capped: (bytes, whether cut). None when it
/// cannot be read (the file is missing, or the daemon failed).
async fn read_file(docker: &Docker, id: &str, path: &str, cap: u64) -> Option<(Vec<u8>, bool)> {
    use std::io::Read;
    let download = super::container::download(docker, id, path, cap + 4096)
        .await
        .ok()?;
    let truncated = download.truncated;
    let file = download.file?;
    tokio::task::spawn_blocking(move || {
        let mut archive = tar::Archive::new(file);
        let mut bytes = Vec::new();
        for entry in archive.entries().ok()?.flatten() {
            if entry.header().entry_type().is_file() {
                // A cut archive yields what it holds up to the cut.
                let _ = entry.take(cap).read_to_end(&mut bytes);
                break;
            }
        }
        Some((bytes, truncated))
    })
    .await
    .ok()
    .flatten()
}
