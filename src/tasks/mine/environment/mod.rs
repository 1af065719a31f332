//! The environment of a mined suite when the user gave none: proposed from the repository's
//! own files at a commit (its language, manifests, lockfiles and CI), and written as
//! `suite.toml`, `env/Dockerfile` and `env/manifests/`.
//!
//! Pure: the caller lists the repository's files, hands over a reader for the few the
//! proposal opens, and writes the texts. Everything a test run needs is installed while the
//! image builds, when Debian's mirror and the package registries are reachable; tests run
//! with no network, so nothing may be fetched later.

mod command;
mod go;
mod node;
mod python;
mod rust;
mod version;

use crate::testparse::Format;
use chrono::NaiveDate;
use std::cell::RefCell;
use std::collections::BTreeSet;

/// The folder beside the Dockerfile, in its build context, that holds copies of the
/// manifests a proposal lists, each under its path in the repository.
pub const MANIFESTS_DIR: &str = "manifests";

/// `rel` from the folder `dir` (empty or ending in `/`), `.` and `..` resolved; None when
/// it climbs out of the repository.
fn join_in_repo(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Python,
    Rust,
    Go,
    Node,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
            Language::Go => "go",
            Language::Node => "node",
        }
    }
}

/// The language and the top-level file that gave it away, checked in this order: a
/// repository with a Python package and a package.json for its docs site is a Python one.
pub fn detect(top_level: &[String]) -> Option<(Language, &'static str)> {
    const MARKERS: &[(&str, Language)] = &[
        ("pyproject.toml", Language::Python),
        ("setup.py", Language::Python),
        ("setup.cfg", Language::Python),
        ("pytest.ini", Language::Python),
        ("tox.ini", Language::Python),
        ("requirements.txt", Language::Python),
        ("Cargo.toml", Language::Rust),
        ("go.mod", Language::Go),
        ("package.json", Language::Node),
    ];
    MARKERS
        .iter()
        .find(|(file, _)| top_level.iter().any(|f| f == file))
        .map(|(file, lang)| (*lang, *file))
}

/// What a suite needs to run a language's tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub language: Language,
    pub command: String,
    pub format: Format,
    /// Where the command came from: a file of the repository that runs its tests
    /// (`.github/workflows/ci.yml`, `tox.ini`, `Makefile`, `package.json scripts.test`), or
    /// `default for <language>`.
    pub command_source: String,
    /// Test files: split off into the hidden tests, read-only for agents.
    pub test_globs: Vec<String>,
    pub dockerfile: String,
    /// The Dockerfile without what only follows the file tree (Rust's stub targets), when
    /// it has such parts: see [`Proposal::keyed_text`].
    pub dockerfile_key: Option<String>,
    /// Paths in the repository, each to be copied to `<Dockerfile's folder>/manifests/<path>`
    /// before the image is built: the Dockerfile installs from them. Their content keys the
    /// image, so tasks whose manifests are equal share it.
    pub manifests: Vec<String>,
    /// Every file the dependencies were read from (the manifests among them), not the CI
    /// and task files only the test command comes from: the last commit that changed one of
    /// them is the day the dependencies took their content. Filled in by `propose_in`.
    pub sources: Vec<String>,
    pub toolchain: Toolchain,
    /// Plain sentences for the user: what the image cannot give and what to set instead.
    pub notes: Vec<String>,
}

impl Proposal {
    /// What of the Dockerfile keys the environment, with the manifests' content: all of it
    /// but what only follows the file tree, so that a commit that adds a binary gets no
    /// environment of its own.
    pub fn keyed_text(&self) -> &str {
        self.dockerfile_key.as_deref().unwrap_or(&self.dockerfile)
    }
}

/// The toolchain a proposal installs, and the one the repository asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// What the image installs, as `go 1.23 (golang-1.23-go from bookworm-backports)`.
    pub provided: String,
    /// What the repository asks for, as `go 1.22`, when it says.
    pub wanted: Option<String>,
    /// The file that says it.
    pub wanted_by: Option<String>,
    /// Whether what is installed gives what is asked (true when nothing is asked, or what
    /// is asked cannot be read).
    pub available: bool,
}

/// The proposal for a language alone, as for a repository with no manifest beyond its
/// marker: the toolchain, its test runner and git.
pub fn propose(language: Language) -> Proposal {
    let none: &dyn Fn(&str) -> Option<Vec<u8>> = &|_| None;
    propose_in(language, &Repo::new(&[], none), None)
}

/// The proposal for a repository: `files` are all its paths at the commit, `read` gives a
/// file's bytes (only manifests, lockfiles and CI files are read), and packages are
/// resolved as they were on `date` where the installer can be told (the caller's day: that
/// of the commit's dependencies, see `envs::proposal_at`). None when no marker of a known
/// language is at its top.
pub fn propose_for_repo(
    files: &[String],
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    date: NaiveDate,
) -> Option<Proposal> {
    let top: Vec<String> = files.iter().filter(|f| !f.contains('/')).cloned().collect();
    let (language, _) = detect(&top)?;
    Some(propose_in(language, &Repo::new(files, read), Some(date)))
}

fn propose_in(language: Language, repo: &Repo, date: Option<NaiveDate>) -> Proposal {
    let mut p = match language {
        Language::Python => python::propose(repo, date),
        Language::Rust => rust::propose(repo),
        Language::Go => go::propose(repo),
        Language::Node => node::propose(repo, date),
    };
    let mut sources = repo.read.take();
    sources.extend(p.manifests.iter().cloned());
    p.sources = sources.into_iter().collect();
    p
}

impl Language {
    /// Whether its proposals resolve packages as of a day (uv's `--exclude-newer`, npm's
    /// `--before`); Rust's and Go's follow their lockfiles and take no day.
    pub fn resolves_as_of_a_day(self) -> bool {
        matches!(self, Language::Python | Language::Node)
    }
}

/// The repository's files at one commit.
pub(super) struct Repo<'a> {
    files: BTreeSet<&'a str>,
    reader: &'a dyn Fn(&str) -> Option<Vec<u8>>,
    /// The files read through [`Repo::text`]: what the proposal's dependencies come from.
    read: RefCell<BTreeSet<String>>,
}

impl<'a> Repo<'a> {
    fn new(files: &'a [String], read: &'a dyn Fn(&str) -> Option<Vec<u8>>) -> Repo<'a> {
        Repo {
            // A path with a line break could end a Dockerfile instruction early; no manifest
            // has one.
            files: files
                .iter()
                .map(String::as_str)
                .filter(|f| printable(f))
                .collect(),
            reader: read,
            read: RefCell::new(BTreeSet::new()),
        }
    }

    fn has(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    /// A listed file's text (invalid UTF-8 replaced), or None; the file counts among those
    /// the dependencies come from.
    fn text(&self, path: &str) -> Option<String> {
        let text = self.command_text(path)?;
        self.read.borrow_mut().insert(path.to_string());
        Some(text)
    }

    /// A listed file's text, read only for the test command (CI and task files): it does
    /// not count among those the dependencies come from.
    fn command_text(&self, path: &str) -> Option<String> {
        if !self.has(path) {
            return None;
        }
        (self.reader)(path).map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    fn paths(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.files.iter().copied()
    }
}

/// The exclusive upper bound for packages "as of" a day: anything published after
/// that day ends is left out.
fn end_of_day(date: NaiveDate) -> String {
    let next = date.succ_opt().unwrap_or(date);
    format!("{}T00:00:00Z", next.format("%Y-%m-%d"))
}

/// Text with no control character, safe on one line of a Dockerfile.
fn printable(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// The word as the shell reads it: plain when it is safe, else in single quotes.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,%^".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A Debian package set the image needs, unless the base already has what it gives.
struct Apt {
    /// A shell test that succeeds when the base already has it; None: always installed.
    present: Option<String>,
    packages: String,
    /// Only in bookworm-backports, which the image then adds to apt's sources.
    backports: bool,
}

impl Apt {
    fn always(packages: &str) -> Apt {
        Apt {
            present: None,
            packages: packages.into(),
            backports: false,
        }
    }

    fn unless(present: &str, packages: &str) -> Apt {
        Apt {
            present: Some(present.into()),
            packages: packages.into(),
            backports: false,
        }
    }
}

/// The opening of every proposed Dockerfile: what it is, the base, and a first layer with
/// the Debian packages, git and the uid 1000 user (each only when the base lacks it, so a
/// base that has them builds without a mirror).
fn dockerfile_head(language: Language, apt: &[Apt]) -> String {
    let any_backports = apt.iter().any(|a| a.backports);
    let backports = if any_backports {
        "    if [ -n \"$backports\" ]; then \\\n        \
mirror=$(sed -n 's|^deb \\(http[^ ]*\\) bookworm main.*|\\1|p' /etc/apt/sources.list 2>/dev/null | head -n 1); \\\n        \
echo \"deb ${mirror:-http://deb.debian.org/debian} bookworm-backports main\" > /etc/apt/sources.list.d/bookworm-backports.list; \\\n    \
fi; \\\n"
    } else {
        ""
    };
    let mut needs = String::new();
    if any_backports {
        needs.push_str("    backports=\"\"; \\\n");
    }
    for a in apt {
        let add = if a.backports {
            format!("{{ packages=\"$packages {}\"; backports=1; }}", a.packages)
        } else {
            format!("packages=\"$packages {}\"", a.packages)
        };
        match &a.present {
            Some(test) => needs.push_str(&format!("    {test} || {add}; \\\n")),
            None => needs.push_str(&format!("    {add}; \\\n")),
        }
    }
    format!(
        "# Proposed by `mergebench tasks mine` for a {lang} repository: its toolchain, test runner\n\
# and dependencies, installed while the image builds (Debian's mirror and the package\n\
# registries are reachable then; behind a TLS-inspecting proxy set `ca_bundle` in suite.toml).\n\
# Tests run later as uid 1000 with no network, so nothing may be fetched then. The build\n\
# context is this folder: manifests/ holds copies of the repository's manifests, and their\n\
# content keys the image. Review it; a Debian bookworm base is assumed.\n\
ARG BASE=mergebench-base:bookworm\n\
FROM ${{BASE}}\n\
USER root\n\
# Test runs have no network and so no /etc/hosts entries: `localhost` resolves only through\n\
# nss-myhostname (vitest needs it, and so does any test that starts a local server).\n\
RUN set -eu; \\\n    \
packages=\"\"; \\\n    \
command -v git >/dev/null 2>&1 || packages=\"$packages git\"; \\\n    \
grep -qs myhostname /etc/nsswitch.conf || packages=\"$packages libnss-myhostname\"; \\\n\
{needs}{backports}    \
if [ -n \"$packages\" ]; then \\\n        \
apt-get update; \\\n        \
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages ca-certificates; \\\n        \
rm -rf /var/lib/apt/lists/*; \\\n    \
fi; \\\n    \
git config --system --get-all safe.directory 2>/dev/null | grep -qx '\\*' \\\n        \
|| git config --system --add safe.directory '*'; \\\n    \
getent passwd 1000 >/dev/null || useradd --uid 1000 --user-group --create-home --shell /bin/sh agent\n",
        lang = language.as_str(),
    )
}

/// A `RUN` of shell statements, one a line.
fn run(statements: &[String]) -> String {
    format!("RUN set -eu; \\\n    {}\n", statements.join("; \\\n    "))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Where the environment comes from in a new suite.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSpec {
    /// Relative to suite.toml.
    Dockerfile(String),
    Image(String),
}

/// What a new suite.toml says.
#[derive(Debug, Clone)]
pub struct NewSuite {
    pub name: String,
    pub origin: String,
    pub source: String,
    pub env: EnvSpec,
    pub base: Option<String>,
    pub command: String,
    pub format: String,
    pub timeout: String,
    pub test_globs: Vec<String>,
    pub deny: Vec<String>,
}

/// The text of a new suite.toml.
pub fn suite_toml(s: &NewSuite) -> String {
    let q = |v: &str| toml::Value::String(v.to_string()).to_string();
    let list = |v: &[String]| {
        format!(
            "[{}]",
            v.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ")
        )
    };
    let env = match &s.env {
        EnvSpec::Dockerfile(p) => format!("dockerfile = {}", q(p)),
        EnvSpec::Image(i) => format!("image = {}", q(i)),
    };
    let base = s
        .base
        .as_ref()
        .map(|b| format!("base = {}\n", q(b)))
        .unwrap_or_default();
    format!(
        "# Tasks mined by `mergebench tasks mine` from {origin}.\n\
# Every task inherits what follows; `tasks mine` reads it again on the next run.\n\
name = {name}\n\
\n\
[repo]\n\
source = {source}\n\
\n\
[environment]\n\
{env}\n\
{base}\
\n\
[tests]\n\
command = {command}\n\
format = {format}\n\
timeout = {timeout}\n\
\n\
[scope]\n\
# Test files: mining puts their changes in the hidden tests; agents may not change them.\n\
read_only = {ro}\n\
# Never copied into a container.\n\
deny = {deny}\n",
        origin = s.origin.replace('\n', " "),
        name = q(&s.name),
        source = q(&s.source),
        command = q(&s.command),
        format = q(&s.format),
        timeout = q(&s.timeout),
        ro = list(&s.test_globs),
        deny = list(&s.deny),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    type Reader = Box<dyn Fn(&str) -> Option<Vec<u8>>>;
    /// A repository's files as `(path, content)` pairs.
    pub(super) type Files<'a> = &'a [(&'a str, &'a str)];

    /// A repository's paths and a reader over them, from `(path, content)` pairs.
    pub(super) fn repo_of(files: &[(&str, &str)]) -> (Vec<String>, Reader) {
        let paths = files.iter().map(|(p, _)| p.to_string()).collect();
        let map: std::collections::HashMap<String, Vec<u8>> = files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect();
        (paths, Box::new(move |p: &str| map.get(p).cloned()))
    }

    /// Checks a runner's translation of CI lines against a `table` of cases, one a line:
    /// `CI line => command`, or `CI line => none` (read by `table_cases`). Each CI line
    /// (split into words, then passed through `translate`) gives the wanted command or none,
    /// and every command given is one canaries can be planted in.
    #[track_caller]
    pub(super) fn check_invocations(
        format: &Format,
        table: &str,
        translate: impl Fn(Vec<String>) -> Option<String>,
    ) {
        for (line, want) in crate::test_support::table_cases(table) {
            let want = (want != "none").then_some(want);
            let got = command::words(line).and_then(&translate);
            assert_eq!(got.as_deref(), want, "{line}");
            if let Some(c) = &got {
                assert!(
                    crate::score::canary::command_refuses(format, c).is_none(),
                    "{c}"
                );
            }
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 5, 1).unwrap()
    }

    #[test]
    fn the_language_comes_from_the_first_marker_found() {
        let files = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // (top-level files, language)
        let cases: &[(&[&str], Option<Language>)] = &[
            (&["pyproject.toml", "shop", "tests"], Some(Language::Python)),
            (&["package.json", "setup.py"], Some(Language::Python)),
            (&["Cargo.toml", "src"], Some(Language::Rust)),
            (&["go.mod", "main.go"], Some(Language::Go)),
            (&["package.json", "index.js"], Some(Language::Node)),
            (&["README.md"], None),
        ];
        for (top, lang) in cases {
            assert_eq!(detect(&files(top)).map(|d| d.0), *lang, "{top:?}");
        }
    }

    #[test]
    fn proposals_name_the_runner_and_its_format() {
        // (language, command, format)
        let cases = [
            (
                Language::Python,
                "python3 -m pytest -rA -p no:cacheprovider --continue-on-collection-errors",
                "pytest",
            ),
            (
                Language::Rust,
                "cargo test --offline --no-fail-fast",
                "cargo",
            ),
            (Language::Go, "go test -json ./...", "go-json"),
            (Language::Node, "node --test --test-reporter=tap", "tap"),
        ];
        for (lang, command, format) in cases {
            let p = propose(lang);
            assert_eq!(p.command, command);
            assert_eq!(p.format.to_string(), format);
            assert_eq!(p.command_source, format!("default for {}", lang.as_str()));
            assert!(
                p.dockerfile
                    .contains("ARG BASE=mergebench-base:bookworm\nFROM ${BASE}\nUSER root\n"),
                "{}",
                p.dockerfile
            );
            assert!(!p.test_globs.is_empty());
            assert!(p.toolchain.available);
        }
    }

    #[test]
    fn a_repository_s_proposal_comes_from_its_files_and_is_deterministic() {
        // (files, language, a line of the Dockerfile)
        let cases: &[(Files, Language, &str)] = &[
            (
                &[
                    (
                        "pyproject.toml",
                        "[project]\nname = \"a\"\ndependencies = [\"attrs\"]\n",
                    ),
                    ("src/a/__init__.py", ""),
                ],
                Language::Python,
                "        attrs \\\n",
            ),
            (
                &[
                    ("Cargo.toml", "[package]\nname = \"a\"\n"),
                    ("Cargo.lock", "version = 4\n"),
                    ("src/main.rs", ""),
                ],
                Language::Rust,
                "cargo fetch --locked",
            ),
            (
                &[("go.mod", "module a\n\ngo 1.22\n"), ("a.go", "package a")],
                Language::Go,
                "golang-1.23-go",
            ),
            (
                &[
                    ("package.json", "{}"),
                    ("package-lock.json", "{}"),
                    ("docs/package.json", "{}"),
                ],
                Language::Node,
                "npm ci",
            ),
        ];
        for (files, language, line) in cases {
            let (paths, read) = repo_of(files);
            let p = propose_for_repo(&paths, &*read, day()).unwrap();
            assert_eq!(p.language, *language);
            assert!(
                p.dockerfile.contains(line),
                "{line:?} not in\n{}",
                p.dockerfile
            );
            let again = propose_for_repo(&paths, &*read, day()).unwrap();
            assert_eq!(p, again);
            for m in &p.manifests {
                assert!(paths.contains(m), "{m} is not a file of the repository");
            }
        }
        let (paths, read) = repo_of(&[("README.md", "# hi"), ("docs/package.json", "{}")]);
        assert!(propose_for_repo(&paths, &*read, day()).is_none());
    }

    #[test]
    fn unreadable_files_cost_details_never_a_proposal() {
        let noise = "\u{0}\u{feff}[[[ {{{ \"\"\" :: -- \\";
        for marker in [
            "pyproject.toml",
            "setup.cfg",
            "Cargo.toml",
            "go.mod",
            "package.json",
        ] {
            let files = [
                (marker, noise),
                ("Cargo.lock", noise),
                (
                    "requirements.txt",
                    "-r\n-c\n-e\n--index-url\n[x]\n-ärger\n-rä.txt\n",
                ),
                ("tox.ini", "[testenv]\ndeps =\ncommands = {posargs\n"),
                (
                    ".github/workflows/ci.yml",
                    "run: |\n  pytest \"\n  cargo test '\n",
                ),
                ("Makefile", "test:\n\t$(\n"),
                ("yarn.lock", noise),
                ("pnpm-lock.yaml", noise),
            ];
            let (paths, read) = repo_of(&files);
            let p = propose_for_repo(&paths, &*read, day()).unwrap();
            assert!(p.dockerfile.starts_with("# Proposed by"), "{marker}");
        }
        // Line breaks in names and requirements never reach the Dockerfile.
        let files = [
            (
                "Cargo.toml",
                "[package]\nname = \"a\"\n[lib]\npath = \"src/a\\nRUN x.rs\"\n",
            ),
            ("Cargo.lock", ""),
            ("crates/x\nRUN y/Cargo.toml", ""),
        ];
        let (paths, read) = repo_of(&files);
        let p = propose_for_repo(&paths, &*read, day()).unwrap();
        assert!(
            !p.dockerfile.contains("\nRUN x") && !p.dockerfile.contains("\nRUN y"),
            "{}",
            p.dockerfile
        );
        let files = [(
            "pyproject.toml",
            "[project]\nname = \"a\"\ndependencies = [\"attrs\\nRUN z\", \"six\"]\n",
        )];
        let (paths, read) = repo_of(&files);
        let p = propose_for_repo(&paths, &*read, day()).unwrap();
        assert!(
            !p.dockerfile.contains("\nRUN z") && p.dockerfile.contains("six"),
            "{}",
            p.dockerfile
        );
        // A reader that fails is the same as an empty file.
        let paths = vec!["pyproject.toml".to_string(), "requirements.txt".to_string()];
        let p = propose_for_repo(&paths, &|_| None, day()).unwrap();
        assert_eq!(p.language, Language::Python);
    }

    #[test]
    fn default_commands_carry_grading_canaries() {
        for lang in [Language::Python, Language::Rust, Language::Go] {
            let p = propose(lang);
            assert!(
                crate::score::canary::command_refuses(&p.format, &p.command).is_none(),
                "{}",
                p.command
            );
        }
    }

    #[test]
    fn a_new_suite_toml_is_valid_toml_with_every_setting() {
        let text = suite_toml(&NewSuite {
            name: "shop".into(),
            origin: "/src/shop".into(),
            source: "repo.bundle".into(),
            env: EnvSpec::Dockerfile("env/Dockerfile".into()),
            base: None,
            command: "python3 -m pytest -rA".into(),
            format: "pytest".into(),
            timeout: "10m".into(),
            test_globs: vec!["tests/**".into(), "conftest.py".into()],
            deny: vec![".env".into()],
        });
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["repo"]["source"].as_str(), Some("repo.bundle"));
        assert_eq!(
            v["environment"]["dockerfile"].as_str(),
            Some("env/Dockerfile")
        );
        assert_eq!(v["tests"]["format"].as_str(), Some("pytest"));
        assert_eq!(v["scope"]["read_only"].as_array().unwrap().len(), 2);
    }
}
