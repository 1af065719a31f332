//! A second Docker daemon that a test starts on this machine and removes afterwards: its
//! own data root, exec root, socket, bridge, address pool and TLS certificates (a CA, a
//! server certificate for 127.0.0.1 and a client certificate), listening on a unix socket
//! and on a loopback TCP port that requires mutual TLS.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct TestDaemon {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub port: u16,
    bridge: String,
    child: Child,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (bash scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`: the client
/// side as DOCKER_CERT_PATH expects it (ca.pem, cert.pem, key.pem).
fn certificates(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let days = ["-days", "2"];
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            days[0],
            days[1],
            "-subj",
            "/CN=mergebench-test-ca",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (who, key, cert, ext) in [
        (
            "127.0.0.1",
            "server-key.pem",
            "server-cert.pem",
            "server.ext",
        ),
        ("client", "key.pem", "cert.pem", "client.ext"),
    ] {
        let csr = format!("{cert}.csr");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={who}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-out",
                cert,
                days[0],
                days[1],
                "-extfile",
                ext,
            ],
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestDaemon {
    pub fn start() -> TestDaemon {
        // A short path: a unix socket's path must fit in 108 bytes.
        let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        let dir = PathBuf::from(format!("/tmp/mbd-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        certificates(&dir.join("certs"));
        // Its own bridge: the default one's name belongs to the machine's daemon.
        let bridge = format!("mbd{tag}");
        let third = 100 + (rand::random::<u8>() % 100);
        for args in [
            vec!["link", "add", &bridge, "type", "bridge"],
            vec!["addr", "add", &format!("10.{third}.0.1/24"), "dev", &bridge],
            vec!["link", "set", &bridge, "up"],
        ] {
            let ok = Command::new("ip").args(&args).status().unwrap().success();
            assert!(ok, "ip {args:?}");
        }
        let port = free_port();
        let socket = dir.join("docker.sock");
        let certs = dir.join("certs");
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("-H")
            .arg(format!("tcp://127.0.0.1:{port}"))
            .arg("--tlsverify")
            .arg("--tlscacert")
            .arg(certs.join("ca.pem"))
            .arg("--tlscert")
            .arg(certs.join("server-cert.pem"))
            .arg("--tlskey")
            .arg(certs.join("server-key.pem"))
            .arg("--bridge")
            .arg(&bridge)
            .args(["--iptables=false", "--ip6tables=false"])
            .arg("--default-address-pool")
            .arg(format!("base=10.{}.0.0/16,size=24", third + 1))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd (bash scripts/setup.sh installs docker.io)");
        let d = TestDaemon {
            dir,
            socket,
            port,
            bridge,
            child,
        };
        let start = Instant::now();
        while !d.cli(&["info", "--format", "{{.ID}}"]).status.success() {
            if start.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(d.dir.join("dockerd.log")).unwrap_or_default();
                panic!("the test daemon did not answer in 60 s:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        d
    }

    /// `DOCKER_HOST` for its unix socket.
    pub fn unix_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The environment a client needs to reach it over TCP with TLS.
    pub fn tls_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DOCKER_HOST", format!("tcp://127.0.0.1:{}", self.port)),
            ("DOCKER_TLS_VERIFY", "1".into()),
            (
                "DOCKER_CERT_PATH",
                self.dir.join("certs").display().to_string(),
            ),
        ]
    }

    /// The docker CLI against this daemon (over its unix socket).
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", self.unix_host())
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .args(args)
            .output()
            .unwrap()
    }

    /// Copies an image from the machine's daemon (no registry is reachable).
    pub fn load_from_host(&self, image: &str) {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "docker save {image} | DOCKER_HOST={} docker load -q",
                self.unix_host()
            ))
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "loading {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        // Swarm leaves a bridge of its own on the host; remove it with the swarm.
        let _ = self.cli(&["swarm", "leave", "--force"]);
        let _ = self.cli(&["network", "rm", "docker_gwbridge"]);
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
        // What the daemon leaves mounted under its roots (network namespaces of a swarm's
        // ingress) would keep the folder from going.
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let prefix = format!("{}/", self.dir.display());
        let mut left: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        left.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in left {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An sshd a test starts on a loopback port, for `DOCKER_HOST=ssh://`: its own host key,
/// one authorized client key, and a client home whose ssh config uses that key and trusts
/// that host key alone. A session's `docker` talks to `docker_host`.
pub struct SshServer {
    pub dir: PathBuf,
    pub port: u16,
    child: Child,
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen (bash scripts/setup.sh installs openssh-client)");
    crate::fixture::succeeded(&out);
}

impl SshServer {
    pub fn start(docker_host: &str) -> SshServer {
        let dir = tempfile::Builder::new()
            .prefix("mbssh-")
            .tempdir()
            .unwrap()
            .keep();
        keygen(&dir.join("host_key"));
        let home = dir.join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        keygen(&home.join(".ssh/id_ed25519"));
        std::fs::copy(
            home.join(".ssh/id_ed25519.pub"),
            dir.join("authorized_keys"),
        )
        .unwrap();
        let port = free_port();
        let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
        std::fs::write(
            home.join(".ssh/known_hosts"),
            format!("[127.0.0.1]:{port} {host_pub}"),
        )
        .unwrap();
        std::fs::write(
            home.join(".ssh/config"),
            format!(
                "Host mergebench-test-docker\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
                home.join(".ssh/id_ed25519").display(),
                home.join(".ssh/known_hosts").display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 UsePAM no\nStrictModes no\nPidFile {d}/sshd.pid\nSetEnv DOCKER_HOST={docker_host}\n",
                d = dir.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let wrapper = dir.join("bin/ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
                home.join(".ssh/config").display()
            ),
        )
        .unwrap();
        let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&wrapper, perms).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("sshd (bash scripts/setup.sh installs openssh-server)");
        let s = SshServer { dir, port, child };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(20) {
                let log = std::fs::read_to_string(s.dir.join("sshd.log")).unwrap_or_default();
                panic!("the test sshd did not listen in 20 s:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    /// The client's environment: DOCKER_HOST naming the host alias, and PATH led by a
    /// folder whose `ssh` is the system one reading this server's client config (a host
    /// alias carrying the port, the key, the known host): ssh finds its user config through
    /// the password database, not HOME, and the machine's own must stay untouched.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "PATH",
                format!(
                    "{}:{}",
                    self.dir.join("bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            ),
            ("DOCKER_HOST", "ssh://root@mergebench-test-docker".into()),
        ]
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
