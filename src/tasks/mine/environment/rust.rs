//! Rust: the workspace's crates fetched while the image builds (from its manifests and
//! lockfile, with stub targets standing in for the source), and `cargo test` run offline
//! with Debian's rustc-web.

use super::command::{self, first_mapped, split_env, unknowable};
use super::version;
use super::MANIFESTS_DIR;
use super::{dockerfile_head, shell_quote, strings, Apt, Language, Proposal, Repo, Toolchain};
use crate::testparse::Format;
use std::collections::BTreeSet;

/// rustc-web in Debian bookworm; bookworm-security has carried newer ones since.
const RUSTC: &[u64] = &[1, 85];
const DEFAULT_COMMAND: &str = "cargo test --offline --no-fail-fast";

/// Crates that build against a system library, and the Debian package that has it.
const SYSTEM_LIBRARIES: &[(&str, &str)] = &[
    ("openssl-sys", "libssl-dev"),
    ("libz-sys", "zlib1g-dev"),
    ("libsqlite3-sys", "libsqlite3-dev"),
    ("pq-sys", "libpq-dev"),
    ("clang-sys", "libclang-dev"),
    ("cmake", "cmake"),
    ("prost-build", "protobuf-compiler"),
    ("libudev-sys", "libudev-dev"),
    ("alsa-sys", "libasound2-dev"),
    ("libdbus-sys", "libdbus-1-dev"),
    ("freetype-sys", "libfreetype-dev"),
    ("servo-fontconfig-sys", "libfontconfig-dev"),
    ("yeslogic-fontconfig-sys", "libfontconfig-dev"),
];

pub fn propose(repo: &Repo) -> Proposal {
    let mut notes = Vec::new();
    let mut manifests: BTreeSet<String> = BTreeSet::new();
    let mut stubs = Stubs::default();
    let mut wanted: Option<(Vec<u64>, String)> = None;
    let mut queue = vec!["Cargo.toml".to_string()];
    while let Some(path) = queue.pop() {
        if !repo.has(&path) || !manifests.insert(path.clone()) {
            continue;
        }
        let Some(doc) = repo
            .text(&path)
            .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
        else {
            notes.push(format!(
                "{path} is not valid TOML, so its crates may be missing"
            ));
            continue;
        };
        let dir = path.strip_suffix("Cargo.toml").unwrap_or("").to_string();
        queue.extend(members(repo, &doc, &dir));
        queue.extend(path_dependencies(repo, &doc, &dir));
        if doc.contains_key("package") {
            stubs.add_package(repo, &doc, &dir);
        }
        for table in ["package", "workspace"] {
            let rv = doc
                .get(table)
                .and_then(|t| {
                    if table == "workspace" {
                        t.get("package")
                    } else {
                        Some(t)
                    }
                })
                .and_then(|t| t.get("rust-version"))
                .and_then(|v| v.as_str());
            if let Some(v) = rv.and_then(version::parse) {
                if wanted
                    .as_ref()
                    .is_none_or(|(w, _)| version::cmp(&v, w).is_gt())
                {
                    wanted = Some((v, format!("{path} (rust-version)")));
                }
            }
        }
    }
    let lock = repo.text("Cargo.lock");
    if lock.is_some() {
        manifests.insert("Cargo.lock".into());
    }
    let mut toolchain_file = None;
    for f in ["rust-toolchain.toml", "rust-toolchain"] {
        if let Some(text) = repo.text(f) {
            manifests.insert(f.into());
            toolchain_file = Some((f, channel(&text)));
            break;
        }
    }
    let locked = lock.as_deref().map(locked_packages).unwrap_or_default();
    let mut system: BTreeSet<&str> = BTreeSet::new();
    for (name, source) in &locked {
        if let Some((_, pkg)) = SYSTEM_LIBRARIES.iter().find(|(c, _)| c == name) {
            system.insert(pkg);
        }
        if let Some(url) = source.strip_prefix("git+") {
            let url = url.split(['?', '#']).next().unwrap_or(url);
            notes.push(format!(
                "Cargo.lock takes {name} from git ({url}), which the image build cannot reach: \
                 cargo fetch fails unless the crate is vendored or mirrored"
            ));
        }
    }
    if lock.is_none() {
        notes.push(
            "there is no Cargo.lock, so crates resolve to their newest versions when the image \
             is built, not to those of the commit's day"
                .into(),
        );
    }
    let toolchain = toolchain(wanted, toolchain_file, &mut notes);
    let (command, command_source) = first_mapped(repo, cargo_command)
        .unwrap_or_else(|| (DEFAULT_COMMAND.to_string(), "default for rust".to_string()));
    let manifests: Vec<String> = manifests.into_iter().collect();
    let mut packages = String::from("gcc libc6-dev pkg-config");
    for p in &system {
        packages.push(' ');
        packages.push_str(p);
    }
    Proposal {
        language: Language::Rust,
        command,
        format: Format::Cargo,
        command_source,
        test_globs: strings(&[
            "tests/**",
            "**/tests/**",
            "src/**/tests.rs",
            "**/tests/*.rs",
        ]),
        dockerfile: dockerfile(&packages, &stubs, lock.is_some()),
        // Stub targets follow the file tree, not the dependencies: extra stubs are harmless
        // to `cargo fetch`, and a target a manifest names changes that manifest.
        dockerfile_key: Some(dockerfile(&packages, &Stubs::default(), lock.is_some())),
        manifests,
        sources: Vec::new(),
        toolchain,
        notes,
    }
}

fn dockerfile(packages: &str, stubs: &Stubs, locked: bool) -> String {
    let mut text = dockerfile_head(
        Language::Rust,
        &[
            Apt::unless("command -v cargo >/dev/null 2>&1", "rustc-web cargo-web"),
            Apt::always(packages),
        ],
    );
    let list = |v: &BTreeSet<String>| {
        v.iter()
            .filter(|p| super::printable(p))
            .map(|p| shell_quote(p))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut statements = vec!["cd /opt/manifests".to_string()];
    let (libs, mains) = (list(&stubs.libs), list(&stubs.mains));
    if !libs.is_empty() {
        statements.push(format!(
            "for f in {libs}; do mkdir -p \"$(dirname \"$f\")\"; : > \"$f\"; done"
        ));
    }
    if !mains.is_empty() {
        statements.push(format!(
            "for f in {mains}; do mkdir -p \"$(dirname \"$f\")\"; echo 'fn main() {{}}' > \"$f\"; done"
        ));
    }
    statements.push(if locked {
        // A lockfile a little behind its manifests still gives the crates it pins.
        "cargo fetch --locked || cargo fetch".into()
    } else {
        "cargo fetch".into()
    });
    statements.push("cd /".into());
    statements.push("rm -rf /opt/manifests".into());
    statements.push("chown -R 1000:1000 /opt/cargo".into());
    statements.push("cargo --version".into());
    text.push_str(&format!(
        "# Crates are fetched now into a CARGO_HOME that uid 1000 owns (cargo takes a lock there\n\
# even offline); the manifests get stub targets, since cargo reads every target of a\n\
# package before it fetches. Tests build in /workspace/target, offline.\n\
ENV CARGO_HOME=/opt/cargo\n\
COPY {MANIFESTS_DIR}/ /opt/manifests/\n\
{}\
ENV CARGO_NET_OFFLINE=true\n",
        super::run(&statements)
    ));
    text
}

/// Target files a manifest names or cargo would find, to be stubbed: libraries empty,
/// binaries, build scripts, tests, benches and examples with an empty `main`.
#[derive(Default)]
struct Stubs {
    libs: BTreeSet<String>,
    mains: BTreeSet<String>,
}

impl Stubs {
    fn add_package(&mut self, repo: &Repo, doc: &toml::Table, dir: &str) {
        let at = |p: &str| format!("{dir}{}", p.trim_start_matches("./"));
        let mut any = false;
        if let Some(p) = doc
            .get("lib")
            .and_then(|l| l.get("path"))
            .and_then(|v| v.as_str())
        {
            self.libs.insert(at(p));
            any = true;
        } else if repo.has(&at("src/lib.rs")) || doc.contains_key("lib") {
            self.libs.insert(at("src/lib.rs"));
            any = true;
        }
        if repo.has(&at("src/main.rs")) {
            self.mains.insert(at("src/main.rs"));
            any = true;
        }
        match doc.get("package").and_then(|p| p.get("build")) {
            Some(toml::Value::String(b)) => {
                self.mains.insert(at(b));
            }
            Some(_) => {}
            None if repo.has(&at("build.rs")) => {
                self.mains.insert(at("build.rs"));
            }
            None => {}
        }
        for (kind, folder) in [
            ("bin", "src/bin"),
            ("test", "tests"),
            ("bench", "benches"),
            ("example", "examples"),
        ] {
            for target in doc
                .get(kind)
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
            {
                let path = target
                    .get("path")
                    .and_then(|v| v.as_str())
                    .map(at)
                    .or_else(|| {
                        let name = target.get("name")?.as_str()?;
                        let single = at(&format!("{folder}/{name}.rs"));
                        let nested = at(&format!("{folder}/{name}/main.rs"));
                        Some(if repo.has(&nested) { nested } else { single })
                    });
                if let Some(p) = path {
                    self.mains.insert(p);
                    any |= kind == "bin";
                }
            }
        }
        // Binaries cargo finds by itself: they may share a name with one declared above.
        let bin_dir = at("src/bin/");
        for p in repo.paths().filter(|p| p.starts_with(&bin_dir)) {
            let rest = &p[bin_dir.len()..];
            if (rest.ends_with(".rs") && !rest.contains('/'))
                || rest.ends_with("/main.rs") && rest.matches('/').count() == 1
            {
                self.mains.insert(p.to_string());
                any = true;
            }
        }
        if !any {
            self.libs.insert(at("src/lib.rs"));
        }
    }
}

/// The manifests of a workspace's members, its globs matched against the repository's
/// files, `exclude` honoured.
fn members(repo: &Repo, doc: &toml::Table, dir: &str) -> Vec<String> {
    let Some(ws) = doc.get("workspace").and_then(|v| v.as_table()) else {
        return Vec::new();
    };
    let globs = |key: &str| -> Vec<String> {
        ws.get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(|m| format!("{dir}{}", m.trim_end_matches('/')))
            .collect()
    };
    let set = |patterns: Vec<String>| {
        let mut b = globset::GlobSetBuilder::new();
        for p in patterns {
            if let Ok(g) = globset::GlobBuilder::new(&p)
                .literal_separator(true)
                .build()
            {
                b.add(g);
            }
        }
        b.build().ok()
    };
    let (Some(include), exclude) = (set(globs("members")), set(globs("exclude"))) else {
        return Vec::new();
    };
    repo.paths()
        .filter_map(|p| p.strip_suffix("/Cargo.toml"))
        .filter(|d| include.is_match(d) && !exclude.as_ref().is_some_and(|e| e.is_match(d)))
        .map(|d| format!("{d}/Cargo.toml"))
        .collect()
}

/// The manifests of path dependencies (in any dependency table, target-specific ones,
/// `[workspace.dependencies]` and `[patch.*]`) that are in the repository.
fn path_dependencies(repo: &Repo, doc: &toml::Table, dir: &str) -> Vec<String> {
    let mut tables: Vec<&toml::Table> = Vec::new();
    fn dep_tables(t: &toml::Table) -> Vec<&toml::Table> {
        ["dependencies", "dev-dependencies", "build-dependencies"]
            .iter()
            .filter_map(|k| t.get(*k).and_then(|v| v.as_table()))
            .collect()
    }
    tables.extend(dep_tables(doc));
    if let Some(targets) = doc.get("target").and_then(|v| v.as_table()) {
        for t in targets.values().filter_map(|v| v.as_table()) {
            tables.extend(dep_tables(t));
        }
    }
    if let Some(ws) = doc.get("workspace").and_then(|v| v.as_table()) {
        tables.extend(dep_tables(ws));
    }
    if let Some(patch) = doc.get("patch").and_then(|v| v.as_table()) {
        tables.extend(patch.values().filter_map(|v| v.as_table()));
    }
    let mut out = Vec::new();
    for t in tables {
        for spec in t.values() {
            if let Some(p) = spec.get("path").and_then(|v| v.as_str()) {
                if let Some(m) = super::join_in_repo(dir, p) {
                    let m = if m.is_empty() {
                        "Cargo.toml".to_string()
                    } else {
                        format!("{m}/Cargo.toml")
                    };
                    if repo.has(&m) {
                        out.push(m);
                    }
                }
            }
        }
    }
    out
}

/// `(name, source)` of each package in a Cargo.lock.
fn locked_packages(text: &str) -> Vec<(String, String)> {
    let Ok(doc) = toml::from_str::<toml::Table>(text) else {
        return Vec::new();
    };
    doc.get("package")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?.to_string();
            let source = p
                .get("source")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            Some((name, source))
        })
        .collect()
}

/// The channel a rust-toolchain file names (`1.80.0`, `stable`, `nightly-2024-05-01`).
fn channel(text: &str) -> String {
    if let Ok(doc) = toml::from_str::<toml::Table>(text) {
        if let Some(c) = doc
            .get("toolchain")
            .and_then(|t| t.get("channel"))
            .and_then(|v| v.as_str())
        {
            return c.to_string();
        }
    }
    text.lines().next().unwrap_or("").trim().to_string()
}

fn toolchain(
    rust_version: Option<(Vec<u64>, String)>,
    toolchain_file: Option<(&str, String)>,
    notes: &mut Vec<String>,
) -> Toolchain {
    let provided = "rust 1.85 or newer (Debian bookworm's rustc-web and cargo-web)".to_string();
    let mut available = true;
    let mut wanted = None;
    let mut by = None;
    if let Some((file, ch)) = toolchain_file {
        wanted = Some(format!("rust {ch}"));
        by = Some(file.to_string());
        if ch.starts_with("nightly") {
            available = false;
            notes.push(format!(
                "{file} asks for a nightly toolchain ({ch}); Debian has stable rustc-web only: \
                 set [environment] base to an image with that toolchain if the tests need it"
            ));
        } else if let Some(v) = version::parse(&ch).filter(|v| version::cmp(v, RUSTC).is_gt()) {
            available = false;
            notes.push(too_new(file, &v));
        }
    }
    if let Some((v, file)) = rust_version {
        if wanted.is_none() {
            wanted = Some(format!("rust {}", version::show(&v)));
            by = Some(file.clone());
        }
        if version::cmp(&v, RUSTC).is_gt() {
            available = false;
            notes.push(too_new(&file, &v));
        }
    }
    Toolchain {
        provided,
        wanted,
        wanted_by: by,
        available,
    }
}

fn too_new(file: &str, v: &[u64]) -> String {
    let v = version::show(v);
    format!(
        "{file} asks for Rust {v}; Debian bookworm's rustc-web is 1.85 (bookworm-security may \
         carry a newer one): if the build fails for it, set [environment] base to an image with \
         Rust {v} (such as rust:{v}-bookworm)"
    )
}

/// A `cargo test` from the repository's CI, run offline to the end: what selects packages,
/// targets or tests is left out, `--offline --no-fail-fast` added.
fn cargo_command(words: &[String]) -> Option<String> {
    let (env, rest) = split_env(words);
    let rest = match rest {
        [c, t, tail @ ..] if c == "cargo" && t.starts_with('+') => match tail {
            [test, tail @ ..] if test == "test" => tail,
            _ => return None,
        },
        [c, test, tail @ ..] if c == "cargo" && test == "test" => tail,
        _ => return None,
    };
    let (cargo_args, test_args) = match rest.iter().position(|w| w == "--") {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    const WITH_VALUE: &[&str] = &[
        "--features",
        "-F",
        "-p",
        "--package",
        "--exclude",
        "--target",
        "-j",
        "--jobs",
        "--manifest-path",
        "--target-dir",
        "--color",
        "--message-format",
        "--profile",
        "--test",
        "--bench",
        "--example",
        "--bin",
        "-Z",
        "--config",
    ];
    const KEEP: &[&str] = &[
        "--workspace",
        "--all",
        "--all-features",
        "--features",
        "-F",
        "--no-default-features",
        "--all-targets",
        "--release",
        "--locked",
        "--frozen",
        "--exclude",
        "--profile",
        "--manifest-path",
        "-v",
        "--verbose",
    ];
    let mut kept = Vec::new();
    let mut i = 0;
    while i < cargo_args.len() {
        let w = &cargo_args[i];
        i += 1;
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if w.starts_with('-') => (f, Some(v)),
            _ => (w.as_str(), None),
        };
        let value = if inline.is_none() && WITH_VALUE.contains(&flag) {
            i += 1;
            cargo_args.get(i - 1).cloned()
        } else {
            None
        };
        // A word that is not a flag is a test-name filter.
        if !w.starts_with('-')
            || !KEEP.contains(&flag)
            || unknowable(w)
            || value.as_deref().is_some_and(unknowable)
        {
            continue;
        }
        kept.push(w.clone());
        kept.extend(value);
    }
    let mut after = Vec::new();
    let mut i = 0;
    while i < test_args.len() {
        let w = &test_args[i];
        i += 1;
        match w.as_str() {
            "--test-threads" => {
                // Joined: a word after `--` that is not a flag reads as a test-name filter.
                if let Some(v) = test_args.get(i).filter(|v| !unknowable(v)) {
                    after.push(format!("--test-threads={v}"));
                }
                i += 1;
            }
            "--nocapture" | "--show-output" | "--include-ignored" => after.push(w.clone()),
            _ if w.starts_with("--test-threads=") && !unknowable(w) => after.push(w.clone()),
            "--skip" | "--format" | "-Z" | "--color" | "--logfile" => i += 1,
            _ => {}
        }
    }
    let mut out = env;
    out.extend(strings(&["cargo", "test"]));
    out.extend(kept);
    out.extend(strings(&["--offline", "--no-fail-fast"]));
    if !after.is_empty() {
        out.push("--".into());
        out.extend(after);
    }
    Some(command::render(&out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_invocations, repo_of, Files};
    use super::*;

    const ROOT: &str = r#"
[workspace]
resolver = "2"
members = ["crates/*"]
exclude = ["crates/scratch"]

[workspace.package]
edition = "2021"
rust-version = "1.80"

[workspace.dependencies]
serde = "1"
shared = { path = "vendor/shared" }
"#;

    const CORE: &str = r#"
[package]
name = "shop-core"
version = "0.1.0"
edition.workspace = true
links = "z"

[dependencies]
serde.workspace = true
libz-sys = "1"
"#;

    const CLI: &str = r#"
[package]
name = "shop-cli"
version = "0.1.0"

[[bin]]
name = "shop"
path = "src/cli.rs"

[[test]]
name = "smoke"

[dependencies]
shop-core = { path = "../core" }
"#;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "libz-sys"
version = "1.1.20"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "patched"
version = "0.1.0"
source = "git+https://github.com/acme/patched?branch=main#abc123"
"#;

    fn propose_files(files: &[(&str, &str)]) -> Proposal {
        let (paths, read) = repo_of(files);
        propose(&Repo::new(&paths, &*read))
    }

    #[test]
    fn a_new_binary_changes_the_stubs_but_not_the_key() {
        let crate_files = [
            ("Cargo.toml", "[package]\nname = \"ledger\"\n"),
            ("Cargo.lock", "version = 3\n"),
            ("src/lib.rs", ""),
        ];
        let before = propose_files(&crate_files);
        let mut more = crate_files.to_vec();
        more.push(("src/bin/admin.rs", "fn main() {}"));
        let after = propose_files(&more);
        assert_ne!(before.dockerfile, after.dockerfile);
        assert!(after.dockerfile.contains("src/bin/admin.rs"));
        assert_eq!(before.keyed_text(), after.keyed_text());
        assert!(!after.keyed_text().contains("src/bin/admin.rs"));
        assert_eq!(before.manifests, after.manifests);
    }

    #[test]
    fn a_workspace_with_two_members_and_a_lockfile() {
        let p = propose_files(&[
            ("Cargo.toml", ROOT),
            ("Cargo.lock", LOCK),
            ("rust-toolchain.toml", "[toolchain]\nchannel = \"1.80.0\"\n"),
            ("crates/core/Cargo.toml", CORE),
            ("crates/core/src/lib.rs", "pub fn f() {}"),
            ("crates/core/build.rs", "fn main() {}"),
            ("crates/cli/Cargo.toml", CLI),
            ("crates/cli/src/cli.rs", "fn main() {}"),
            ("crates/cli/src/bin/admin.rs", "fn main() {}"),
            ("crates/cli/tests/smoke.rs", ""),
            (
                "crates/scratch/Cargo.toml",
                "[package]\nname = \"scratch\"\n",
            ),
            ("vendor/shared/Cargo.toml", "[package]\nname = \"shared\"\n"),
            ("vendor/shared/src/lib.rs", ""),
            ("README.md", "# shop"),
        ]);
        assert_eq!(
            p.manifests,
            vec![
                "Cargo.lock",
                "Cargo.toml",
                "crates/cli/Cargo.toml",
                "crates/core/Cargo.toml",
                "rust-toolchain.toml",
                "vendor/shared/Cargo.toml",
            ]
        );
        let df = &p.dockerfile;
        for want in [
            "rustc-web cargo-web",
            "gcc libc6-dev pkg-config zlib1g-dev",
            "COPY manifests/ /opt/manifests/",
            "for f in crates/core/src/lib.rs vendor/shared/src/lib.rs; do",
            "for f in crates/cli/src/bin/admin.rs crates/cli/src/cli.rs crates/cli/tests/smoke.rs crates/core/build.rs; do",
            "cargo fetch --locked || cargo fetch",
            "ENV CARGO_HOME=/opt/cargo",
            "chown -R 1000:1000 /opt/cargo",
            "ENV CARGO_NET_OFFLINE=true",
            "rm -rf /opt/manifests",
        ] {
            assert!(df.contains(want), "missing {want} in\n{df}");
        }
        assert!(!df.contains("scratch"), "{df}");
        assert!(!df.contains("CARGO_TARGET_DIR"), "{df}");
        assert_eq!(p.command, "cargo test --offline --no-fail-fast");
        assert_eq!(p.command_source, "default for rust");
        assert!(p.test_globs.contains(&"src/**/tests.rs".to_string()));
        assert!(p.toolchain.available);
        assert_eq!(p.toolchain.wanted.as_deref(), Some("rust 1.80.0"));
        assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
        assert!(
            p.notes[0].contains("github.com/acme/patched"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn toolchains_newer_than_debian_s_are_noted() {
        // (files, available, note mentions)
        let cases: &[(Files, bool, &[&str])] = &[
            (
                &[
                    (
                        "Cargo.toml",
                        "[package]\nname = \"a\"\nrust-version = \"1.88\"\n",
                    ),
                    ("Cargo.lock", ""),
                ],
                false,
                &["Rust 1.88", "rust:1.88-bookworm"],
            ),
            (
                &[
                    ("Cargo.toml", "[package]\nname = \"a\"\n"),
                    ("Cargo.lock", ""),
                    ("rust-toolchain", "nightly-2024-05-01\n"),
                ],
                false,
                &["nightly"],
            ),
            (
                &[
                    (
                        "Cargo.toml",
                        "[package]\nname = \"a\"\nrust-version = \"1.70\"\n",
                    ),
                    ("Cargo.lock", ""),
                ],
                true,
                &[],
            ),
            (
                &[("Cargo.toml", "[package]\nname = \"a\"\n")],
                true,
                &["no Cargo.lock"],
            ),
            (
                &[("Cargo.toml", "[package\n"), ("Cargo.lock", "")],
                true,
                &["not valid TOML"],
            ),
        ];
        for (files, available, mentions) in cases {
            let p = propose_files(files);
            assert_eq!(p.toolchain.available, *available, "{files:?}");
            assert_eq!(
                p.notes.len(),
                mentions.len().min(1),
                "{files:?}: {:?}",
                p.notes
            );
            for m in *mentions {
                assert!(p.notes.iter().any(|n| n.contains(m)), "{m}: {:?}", p.notes);
            }
        }
    }

    #[test]
    fn a_package_without_targets_in_the_repository_gets_a_library_stub() {
        let p = propose_files(&[
            ("Cargo.toml", "[package]\nname = \"a\"\n"),
            ("Cargo.lock", ""),
        ]);
        for step in ["for f in src/lib.rs; do", "cargo fetch --locked"] {
            assert!(p.dockerfile.contains(step), "{}", p.dockerfile);
        }
    }

    #[test]
    fn cargo_test_invocations_run_everything_offline() {
        let table = include_str!("testdata/cargo_invocations.txt");
        check_invocations(&Format::Cargo, table, |words| {
            let words: Vec<String> = words
                .into_iter()
                .map(|w| if w.contains("{{") { "$x".into() } else { w })
                .collect();
            cargo_command(&words)
        });
    }
}
