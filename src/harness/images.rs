//! Images: the offline base, an optional CA layer, task environments and agent layers.
//!
//! Each built image is tagged by a hash of what defines it (Dockerfile folder, base, CA
//! bundle), so it is built once and shared by every task and agent that use it.

use super::container::image_id;
use super::{unreachable, Docker, LABEL_KIND};
use crate::config::agent::AgentSpec;
use crate::config::sha256_hex;
use crate::config::suite::{EnvKind, Environment};
use crate::error::Error;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tokio::sync::Mutex;

pub const DEFAULT_BASE: &str = "mergebench-base:bookworm";
const BUILD_BASE_SCRIPT: &str = include_str!("../../harness/base/build-base.sh");
const PROXY_DOCKERFILE: &str = include_str!("../../harness/proxy/Dockerfile");
const PROXY_SCRIPT: &str = include_str!("../../harness/proxy/proxy.py");
/// The gateway's image: the base and the binary, run as the unprivileged user.
const GATEWAY_DOCKERFILE: &str =
    "ARG BASE\nFROM ${BASE}\nCOPY mergebench /usr/local/bin/mergebench\nUSER 1000:1000\n";

pub fn default_base() -> String {
    std::env::var("MERGEBENCH_BASE_IMAGE").unwrap_or_else(|_| DEFAULT_BASE.to_string())
}

/// Builds images at most once per process, even when many tasks ask at the same time; an
/// image whose build failed is not tried again for every task that uses it.
#[derive(Clone, Default)]
pub struct ImageCache {
    /// Each tag's image id, or why its build failed (the Dockerfile's fault, kept as the
    /// error's file, message and fix).
    built: Arc<Mutex<HashMap<String, Result<String, Failed>>>>,
}

/// A build that failed through its own input, answered again as it was.
#[derive(Clone)]
struct Failed {
    file: PathBuf,
    message: String,
    fix: String,
}

#[derive(Debug, Clone)]
pub struct Image {
    pub tag: String,
    pub id: String,
}

impl ImageCache {
    /// The image a task's environment runs in.
    pub async fn environment(
        &self,
        docker: &Docker,
        env: &Environment,
        dockerfile_for_errors: &Path,
    ) -> Result<Image, Error> {
        match &env.kind {
            EnvKind::Image(name) => {
                let id = image_id(docker, name).await?.ok_or_else(|| {
                    Error::env(
                        format!("image {name} named by {} is not present", dockerfile_for_errors.display()),
                        format!("pull or build it first (docker pull {name}), or use `dockerfile =` instead"),
                    )
                })?;
                Ok(Image {
                    tag: name.clone(),
                    id,
                })
            }
            EnvKind::Dockerfile { path, context } => {
                let base = self.base(docker, env).await?;
                let tag = format!(
                    "mergebench-env:{}",
                    &sha256_hex(format!("{}\n{}", env.context_hash, base.id).as_bytes())[..16]
                );
                let args = HashMap::from([("BASE".to_string(), base.tag.clone())]);
                let folder = Folder {
                    context,
                    dockerfile: path,
                    extra: Vec::new(),
                };
                self.build(docker, &tag, folder, args, "env").await
            }
        }
    }

    /// The image an agent runs in: the task's environment, plus the agent's own layer if any.
    pub async fn agent(
        &self,
        docker: &Docker,
        env_image: &Image,
        agent: &AgentSpec,
    ) -> Result<Image, Error> {
        let Some(df) = &agent.dockerfile else {
            return Ok(env_image.clone());
        };
        let mut key = format!(
            "{}\n{}",
            agent.image_hash.as_deref().unwrap_or(&agent.hash),
            env_image.id
        );
        let mut extra = Vec::new();
        if agent.mergebench_binary {
            let own = own_binary()?;
            key.push_str(&own.sha256);
            extra.push(ExtraFile {
                name: "mergebench",
                path: own.path.clone(),
                mode: 0o755,
            });
        }
        let tag = format!(
            "mergebench-agent-{}:{}",
            agent.name.to_ascii_lowercase(),
            &sha256_hex(key.as_bytes())[..16]
        );
        let args = HashMap::from([("BASE".to_string(), env_image.tag.clone())]);
        let context = df.parent().ok_or_else(|| {
            Error::infra(format!(
                "agent {}: Dockerfile {} has no folder to build in",
                agent.name,
                df.display()
            ))
        })?;
        let folder = Folder {
            context,
            dockerfile: df,
            extra,
        };
        self.build(docker, &tag, folder, args, "agent").await
    }

    /// The base image the Dockerfile's `ARG BASE` receives, with the CA layer when asked.
    async fn base(&self, docker: &Docker, env: &Environment) -> Result<Image, Error> {
        let base = self.plain_base(docker, env.base.as_deref()).await?;
        let ca = env
            .ca_bundle
            .clone()
            .or_else(|| std::env::var("MERGEBENCH_CA_BUNDLE").ok().map(Into::into));
        match ca {
            None => Ok(base),
            Some(bundle) => self.ca_layer(docker, &base, &bundle).await,
        }
    }

    /// A named base, or the offline default (built with debootstrap when it is missing).
    async fn plain_base(&self, docker: &Docker, named: Option<&str>) -> Result<Image, Error> {
        let name = named.map(str::to_string).unwrap_or_else(default_base);
        let id = match image_id(docker, &name).await? {
            Some(id) => id,
            None if named.is_none() => {
                let _guard = self.built.lock().await;
                match image_id(docker, &name).await? {
                    Some(id) => id,
                    None => build_offline_base(&name).await.and(image_id(docker, &name).await)?.ok_or_else(|| {
                        Error::env(format!("the base image {name} is still missing after building it"), "run harness/base/build-base.sh by hand and read its output")
                    })?,
                }
            }
            None => {
                return Err(Error::env(
                    format!("base image {name} is not present and no registry is used to fetch it"),
                    format!("pull it where a registry is reachable (docker pull {name}) or drop `base` to use the offline base"),
                ))
            }
        };
        Ok(Image { tag: name, id })
    }

    /// The egress proxy's image: the offline base plus `harness/proxy/proxy.py`. Built from
    /// copies compiled into mergebench, so it matches the binary that starts it.
    pub async fn proxy(&self, docker: &Docker) -> Result<Image, Error> {
        let base = self.plain_base(docker, None).await?;
        let tag = format!(
            "mergebench-proxy:{}",
            &sha256_hex(format!("{}\n{PROXY_DOCKERFILE}\n{PROXY_SCRIPT}", base.id).as_bytes())
                [..16]
        );
        let context = tar_files(&[
            ("Dockerfile", PROXY_DOCKERFILE.as_bytes()),
            ("proxy.py", PROXY_SCRIPT.as_bytes()),
        ])?;
        let args = HashMap::from([("BASE".to_string(), base.tag.clone())]);
        self.build_from_tar(
            docker,
            &tag,
            context,
            args,
            "proxy",
            Path::new("harness/proxy/Dockerfile"),
        )
        .await
    }

    /// The model gateway's image: the offline base (with the CA layer when
    /// `MERGEBENCH_CA_BUNDLE` names one, for a TLS-inspecting proxy) plus the running
    /// mergebench binary, which serves `mergebench gateway`.
    pub async fn gateway(&self, docker: &Docker) -> Result<Image, Error> {
        let mut base = self.plain_base(docker, None).await?;
        if let Some(bundle) = std::env::var_os("MERGEBENCH_CA_BUNDLE").filter(|b| !b.is_empty()) {
            base = self.ca_layer(docker, &base, Path::new(&bundle)).await?;
        }
        let own = own_binary()?;
        let tag = format!(
            "mergebench-gateway:{}",
            &sha256_hex(format!("{}\n{GATEWAY_DOCKERFILE}\n{}", base.id, own.sha256).as_bytes())
                [..16]
        );
        let args = HashMap::from([("BASE".to_string(), base.tag.clone())]);
        self.once(docker, &tag, || async {
            let binary = std::fs::read(&own.path)
                .map_err(|e| Error::infra_from(format!("cannot read {}", own.path.display()), e))?;
            let context = tar_files_with_modes(&[
                ("Dockerfile", GATEWAY_DOCKERFILE.as_bytes(), 0o644),
                ("mergebench", &binary[..], 0o755),
            ])?;
            build_tar(
                docker,
                &tag,
                "Dockerfile",
                context,
                args,
                "gateway",
                Path::new("mergebench-gateway"),
            )
            .await
        })
        .await
    }

    /// Layers a CA bundle into the base so that pip, npm, curl and git trust a TLS-inspecting
    /// proxy during image builds, and every Dockerfile with `ARG BASE` gets it unchanged.
    async fn ca_layer(&self, docker: &Docker, base: &Image, bundle: &Path) -> Result<Image, Error> {
        let pem = std::fs::read(bundle).map_err(|e| {
            Error::input(
                bundle,
                None,
                format!("cannot read the CA bundle: {e}"),
                "point ca_bundle (or MERGEBENCH_CA_BUNDLE) at a PEM file",
            )
        })?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(Error::input(
                bundle,
                None,
                "the CA bundle holds no PEM certificate",
                "use a PEM bundle such as /etc/ssl/certs/ca-certificates.crt",
            ));
        }
        let dockerfile = "ARG BASE\nFROM ${BASE}\nCOPY mergebench-ca.crt /etc/ssl/certs/mergebench-ca.crt\n\
ENV SSL_CERT_FILE=/etc/ssl/certs/mergebench-ca.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/mergebench-ca.crt \
PIP_CERT=/etc/ssl/certs/mergebench-ca.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/mergebench-ca.crt \
CURL_CA_BUNDLE=/etc/ssl/certs/mergebench-ca.crt GIT_SSL_CAINFO=/etc/ssl/certs/mergebench-ca.crt \
npm_config_cafile=/etc/ssl/certs/mergebench-ca.crt CARGO_HTTP_CAINFO=/etc/ssl/certs/mergebench-ca.crt\n";
        let tag = format!(
            "mergebench-ca:{}",
            &sha256_hex(format!("{}\n{}", base.id, sha256_hex(&pem)).as_bytes())[..16]
        );
        let context = tar_files(&[
            ("Dockerfile", dockerfile.as_bytes()),
            ("mergebench-ca.crt", &pem[..]),
        ])?;
        let args = HashMap::from([("BASE".to_string(), base.tag.clone())]);
        self.build_from_tar(docker, &tag, context, args, "ca", bundle)
            .await
    }

    /// Builds an in-memory context once per tag (per process, and not at all when the
    /// daemon already has the tag).
    async fn build_from_tar(
        &self,
        docker: &Docker,
        tag: &str,
        context: Vec<u8>,
        args: HashMap<String, String>,
        kind: &str,
        source: &Path,
    ) -> Result<Image, Error> {
        self.once(docker, tag, || {
            build_tar(docker, tag, "Dockerfile", context, args, kind, source)
        })
        .await
    }

    /// The image `tag`: built by this process already, or found in the daemon, or built by
    /// `build` (which answers the new image's id) while the lock keeps others waiting.
    async fn once<F>(
        &self,
        docker: &Docker,
        tag: &str,
        build: impl FnOnce() -> F,
    ) -> Result<Image, Error>
    where
        F: std::future::Future<Output = Result<String, Error>>,
    {
        let mut guard = self.built.lock().await;
        match guard.get(tag) {
            Some(Ok(id)) => {
                return Ok(Image {
                    tag: tag.to_string(),
                    id: id.clone(),
                })
            }
            Some(Err(f)) => {
                return Err(Error::input(
                    &f.file,
                    None,
                    f.message.clone(),
                    f.fix.clone(),
                ))
            }
            None => {}
        }
        if let Some(id) = image_id(docker, tag).await? {
            guard.insert(tag.to_string(), Ok(id.clone()));
            return Ok(Image {
                tag: tag.to_string(),
                id,
            });
        }
        let id = match build().await {
            Ok(id) => id,
            // The build's own failure (its Dockerfile, or what it fetches) stays one for this
            // process; Docker going away is not kept.
            Err(Error::Input {
                file,
                line,
                message,
                fix,
            }) => {
                let failed = Failed {
                    file: file.clone(),
                    message: message.clone(),
                    fix: fix.clone(),
                };
                guard.insert(tag.to_string(), Err(failed));
                return Err(Error::Input {
                    file,
                    line,
                    message,
                    fix,
                });
            }
            Err(e) => return Err(e),
        };
        guard.insert(tag.to_string(), Ok(id.clone()));
        Ok(Image {
            tag: tag.to_string(),
            id,
        })
    }

    async fn build(
        &self,
        docker: &Docker,
        tag: &str,
        folder: Folder<'_>,
        args: HashMap<String, String>,
        kind: &str,
    ) -> Result<Image, Error> {
        let Folder {
            context,
            dockerfile,
            extra,
        } = folder;
        self.once(docker, tag, || async move {
            eprintln!("building image {tag} from {}", dockerfile.display());
            let ctx = tar_context(context, &extra)?;
            let rel = dockerfile
                .strip_prefix(context)
                .unwrap_or(dockerfile)
                .to_string_lossy()
                .into_owned();
            build_tar(docker, tag, &rel, ctx, args, kind, dockerfile).await
        })
        .await
    }
}

/// A build context of a few files held in memory.
fn tar_files(files: &[(&str, &[u8])]) -> Result<Vec<u8>, Error> {
    let with_modes: Vec<(&str, &[u8], u32)> = files.iter().map(|(n, b)| (*n, *b, 0o644)).collect();
    tar_files_with_modes(&with_modes)
}

fn tar_files_with_modes(files: &[(&str, &[u8], u32)]) -> Result<Vec<u8>, Error> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(*mode);
        b.append_data(&mut h, name, *bytes)
            .map_err(|e| Error::infra_from("", e))?;
    }
    b.into_inner().map_err(|e| Error::infra_from("", e))
}

/// A Dockerfile and its folder (the build context), plus files from elsewhere.
struct Folder<'a> {
    context: &'a Path,
    dockerfile: &'a Path,
    extra: Vec<ExtraFile>,
}

/// A file added to a build context from elsewhere than its folder.
struct ExtraFile {
    name: &'static str,
    path: PathBuf,
    mode: u32,
}

/// The running mergebench executable, for agents that run it inside their container (the
/// reference agent). Hashed once per process; read only when an image is built.
struct OwnBinary {
    path: PathBuf,
    sha256: String,
}

fn own_binary() -> Result<&'static OwnBinary, Error> {
    static OWN: OnceLock<OwnBinary> = OnceLock::new();
    if let Some(own) = OWN.get() {
        return Ok(own);
    }
    let path = std::env::current_exe()
        .map_err(|e| Error::infra_from("cannot find the mergebench executable", e))?;
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::infra_from(format!("cannot read {}", path.display()), e))?;
    Ok(OWN.get_or_init(|| OwnBinary {
        sha256: sha256_hex(&bytes),
        path,
    }))
}

fn tar_context(dir: &Path, extra: &[ExtraFile]) -> Result<Vec<u8>, Error> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).map_err(|e| {
        Error::input(
            dir,
            None,
            format!("cannot pack the build context: {e}"),
            "check the folder's permissions",
        )
    })?;
    for f in extra {
        let mut file = std::fs::File::open(&f.path)
            .map_err(|e| Error::infra_from(format!("cannot read {}", f.path.display()), e))?;
        let mut h = tar::Header::new_gnu();
        h.set_size(file.metadata().map_err(|e| Error::infra_from("", e))?.len());
        h.set_mode(f.mode);
        b.append_data(&mut h, f.name, &mut file)
            .map_err(|e| Error::infra_from(format!("packing {}", f.name), e))?;
    }
    b.into_inner().map_err(|e| Error::infra_from("", e))
}

async fn build_tar(
    docker: &Docker,
    tag: &str,
    dockerfile: &str,
    context: Vec<u8>,
    args: HashMap<String, String>,
    kind: &str,
    source: &Path,
) -> Result<String, Error> {
    // Only the kind, not the `mergebench` label `gc` looks for: a container inherits its
    // image's labels, so a build FROM this image would otherwise run its steps in containers
    // that any mergebench process's `gc` takes for a dead run's leftovers.
    let labels = HashMap::from([(LABEL_KIND.to_string(), kind.to_string())]);
    let opts = BuildImageOptionsBuilder::default()
        .dockerfile(dockerfile)
        .t(tag)
        .rm(true)
        .forcerm(true)
        .buildargs(&args)
        .labels(&labels)
        .build();
    let mut stream = docker
        .api
        .build_image(opts, None, Some(bollard::body_full(context.into())));
    let mut tail: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = info.stream {
                    for line in s.lines().filter(|l| !l.trim().is_empty()) {
                        tail.push(line.to_string());
                    }
                    if tail.len() > 30 {
                        tail.drain(..tail.len() - 30);
                    }
                }
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    return Err(build_failed(source, &detail, &tail));
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                return Err(build_failed(source, &error, &tail))
            }
            Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                return Err(build_failed(source, &message, &tail))
            }
            Err(e) => return Err(unreachable(e)),
        }
    }
    image_id(docker, tag)
        .await?
        .ok_or_else(|| build_failed(source, "the build finished without an image", &tail))
}

fn build_failed(source: &Path, message: &str, tail: &[String]) -> Error {
    Error::input(
        source,
        None,
        format!("image build failed: {}\n  last build output:\n    {}", message.trim(), tail.join("\n    ")),
        "fix the Dockerfile (its base comes in as `ARG BASE`); behind a TLS-inspecting proxy set `ca_bundle` in [environment]",
    )
}

/// Runs the bundled debootstrap script: the base must exist for Dockerfiles to build at all.
async fn build_offline_base(tag: &str) -> Result<(), Error> {
    eprintln!(
        "the offline base image {tag} is missing: building it with debootstrap (about a minute)"
    );
    let dir = tempfile::tempdir().map_err(|e| Error::infra_from("", e))?;
    let script = dir.path().join("build-base.sh");
    std::fs::write(&script, BUILD_BASE_SCRIPT).map_err(|e| Error::infra_from("", e))?;
    let status = tokio::process::Command::new("bash")
        .arg(&script)
        .env("MERGEBENCH_BASE_IMAGE", tag)
        .status()
        .await
        .map_err(|e| Error::env(format!("cannot run bash: {e}"), "install bash"))?;
    if !status.success() {
        return Err(Error::env(
            format!("building the offline base image {tag} failed ({status})"),
            "run `bash harness/base/build-base.sh` and read its output (it needs root, debootstrap and Debian's mirror)",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageInfo {
    pub tag: String,
    pub id: String,
    pub kind: String,
    pub size_bytes: i64,
    pub created: i64,
}

pub async fn list(docker: &Docker) -> Result<Vec<ImageInfo>, Error> {
    let filters = HashMap::from([("label".to_string(), vec![LABEL_KIND.to_string()])]);
    let mut images = docker
        .api
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(unreachable)?;
    let mut out = Vec::new();
    if let Ok(base) = docker.api.inspect_image(&default_base()).await {
        out.push(ImageInfo {
            tag: default_base(),
            id: base.id.unwrap_or_default(),
            kind: "base".into(),
            size_bytes: base.size.unwrap_or(0),
            created: 0,
        });
    }
    images.sort_by(|a, b| a.repo_tags.cmp(&b.repo_tags));
    for i in images {
        let kind = i.labels.get(LABEL_KIND).cloned().unwrap_or_default();
        for tag in i.repo_tags.iter().filter(|t| *t != "<none>:<none>") {
            out.push(ImageInfo {
                tag: tag.clone(),
                id: i.id.clone(),
                kind: kind.clone(),
                size_bytes: i.size,
                created: i.created,
            });
        }
    }
    Ok(out)
}

/// Removes built images no stored attempt used (all of them with `all`, base included).
pub async fn prune(
    docker: &Docker,
    keep_ids: &std::collections::HashSet<String>,
    all: bool,
) -> Result<Vec<ImageInfo>, Error> {
    let mut removed = Vec::new();
    for img in list(docker).await? {
        if img.kind == "base" && !all {
            continue;
        }
        if !all && keep_ids.contains(&img.id) {
            continue;
        }
        let opts = RemoveImageOptionsBuilder::default().force(false).build();
        if docker
            .api
            .remove_image(&img.tag, Some(opts), None)
            .await
            .is_ok()
        {
            removed.push(img);
        }
    }
    Ok(removed)
}
