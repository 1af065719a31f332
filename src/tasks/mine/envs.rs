//! Environments keyed by dependencies. Dependencies change over history, so each candidate's
//! parent commit gets the environment its own dependencies call for: the suite's (`env/`)
//! when it equals what `env/` holds, else one of its own in `envs/<key>/`, named by the hash
//! of its build context and shared by every task whose context is the same. Host files and
//! git only.
//!
//! When `env/Dockerfile` is the proposal for HEAD as it is, a commit's environment is the
//! proposal at that commit: for Python the requirements are in the Dockerfile itself. Its
//! packages resolve as of the day the commit's dependencies took their content, the day of
//! the last commit at or before it (on its first-parent line) that changed a file the
//! proposal reads them from ([`proposal_at`]). That day is never after the commit's own, so
//! a task never runs on packages released after its fix, and every commit whose dependency
//! files are unchanged since then gets the same day, so equal dependencies still give equal
//! contexts and share one image (HEAD's among them: the suite's). When it is not (it was
//! edited, or HEAD moved on since it was proposed), it is that Dockerfile with the commit's
//! copies of the manifests in `env/manifests/`.

use super::environment::{self, Proposal, MANIFESTS_DIR};
use super::history::Mirror;
use crate::config::sha256_hex;
use crate::config::suite::{EnvKind, SuiteSettings};
use crate::error::Error;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Component, Path};

/// The folder of the suite that holds environments of their own, one folder per key.
pub const ENVS_DIR: &str = "envs";

/// How many hex digits of a context's hash name its folder.
const KEY_LEN: usize = 12;

/// What the first line of a proposed Dockerfile says: a Dockerfile given with
/// `--dockerfile` is never replaced by a proposal.
const PROPOSED: &str = "# Proposed by `mergebench tasks mine`";

/// A Dockerfile and the manifests beside it, by their path in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildContext {
    pub dockerfile: Vec<u8>,
    pub manifests: BTreeMap<String, Vec<u8>>,
    /// What of the Dockerfile keys the context: all of it but what only follows the file
    /// tree (Rust's stub targets).
    pub keyed: Vec<u8>,
}

impl BuildContext {
    /// The hash of the context's keyed part and its manifests: contexts whose dependencies
    /// are equal have equal keys.
    pub fn key(&self) -> String {
        let mut text = Vec::new();
        text.extend_from_slice(&self.keyed);
        for (path, bytes) in &self.manifests {
            text.push(0);
            text.extend_from_slice(path.as_bytes());
            text.push(0);
            text.extend_from_slice(sha256_hex(bytes).as_bytes());
        }
        sha256_hex(&text)
    }

    /// The folder name under `envs/`.
    pub fn short_key(&self) -> String {
        self.key()[..KEY_LEN].to_string()
    }

    /// What a suite's environment folder holds: its Dockerfile and `manifests/`.
    fn read_dir(dir: &Path) -> std::io::Result<BuildContext> {
        let dockerfile = std::fs::read(dir.join("Dockerfile"))?;
        let root = dir.join(MANIFESTS_DIR);
        let mut files = Vec::new();
        if root.is_dir() {
            crate::config::collect_files(&root, &root, &mut files)?;
        }
        let mut manifests = BTreeMap::new();
        for rel in files {
            let bytes = std::fs::read(root.join(&rel))?;
            manifests.insert(rel, bytes);
        }
        Ok(BuildContext {
            keyed: dockerfile.clone(),
            dockerfile,
            manifests,
        })
    }

    /// Whether the files written would be the same.
    fn same_files(&self, other: &BuildContext) -> bool {
        self.dockerfile == other.dockerfile && self.manifests == other.manifests
    }

    /// Writes the context into `dir` (a Dockerfile and `manifests/`), whole: through a
    /// hidden folder beside it, renamed into place. A folder already there is kept as it is
    /// (an earlier run wrote it, and its tasks use it; it may have been reviewed since).
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        if dir.join("Dockerfile").is_file() {
            return Ok(());
        }
        let parent = dir.parent().unwrap_or(Path::new("."));
        let fail = |what: &Path, e: std::io::Error| {
            Error::infra_from(format!("writing {}", what.display()), e)
        };
        std::fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".env-")
            .tempdir_in(parent)
            .map_err(|e| fail(parent, e))?;
        let mut files = vec![("Dockerfile".to_string(), &self.dockerfile)];
        for (path, bytes) in &self.manifests {
            if !plain(path) {
                return Err(Error::infra(format!(
                    "cannot copy {path} into the build context"
                )));
            }
            files.push((format!("{MANIFESTS_DIR}/{path}"), bytes));
        }
        for (rel, bytes) in files {
            let path = tmp.path().join(&rel);
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p).map_err(|e| fail(p, e))?;
            }
            std::fs::write(&path, bytes).map_err(|e| fail(&path, e))?;
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| fail(tmp.path(), e))?;
        let kept = tmp.keep();
        if let Err(e) = std::fs::rename(&kept, dir) {
            let _ = std::fs::remove_dir_all(&kept);
            // Unless another writer of the same key got there first: its folder is the same.
            if !dir.join("Dockerfile").is_file() {
                return Err(fail(dir, e));
            }
        }
        Ok(())
    }
}

/// A relative path of plain names, safe to join under a folder.
fn plain(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// How a commit's environment is found.
enum Mode {
    /// `env/Dockerfile` is the proposal for HEAD: propose again at the commit, as of its
    /// dependencies' day (this one, HEAD's, when it reads no dependency file).
    Propose(chrono::NaiveDate),
    /// The suite's Dockerfile, with the commit's copies of these manifests.
    SameDockerfile(Vec<String>),
}

/// The suite's environment and how a commit's own one is found.
pub struct Keying {
    suite: BuildContext,
    /// The key of the suite's context: a commit whose context has it uses the suite's.
    suite_key: String,
    mode: Mode,
}

impl Keying {
    /// None when the suite's environment is not a proposed `env/Dockerfile` (an image, or a
    /// Dockerfile the user gave): then every task uses it, as the user set it.
    pub fn new(
        settings: &SuiteSettings,
        out: &Path,
        mirror: &Mirror,
        head: &str,
    ) -> Result<Option<Keying>, Error> {
        let dir = out.join("env");
        let EnvKind::Dockerfile { path, .. } = &settings.environment.kind else {
            return Ok(None);
        };
        let ours =
            std::fs::canonicalize(path).ok() == std::fs::canonicalize(dir.join("Dockerfile")).ok();
        if !ours {
            return Ok(None);
        }
        let Ok(suite) = BuildContext::read_dir(&dir) else {
            return Ok(None);
        };
        if !suite.dockerfile.starts_with(PROPOSED.as_bytes()) {
            return Ok(None);
        }
        let day = mirror.commit_day(head)?;
        let (suite_key, mode) = match proposed_at(mirror, head, day)? {
            Some(p) if p.same_files(&suite) => (p.key(), Mode::Propose(day)),
            _ => (
                suite.key(),
                Mode::SameDockerfile(suite.manifests.keys().cloned().collect()),
            ),
        };
        Ok(Some(Keying {
            suite,
            suite_key,
            mode,
        }))
    }

    /// What the user should know about how commits get their own environments, when it is
    /// not the plain case.
    pub fn note(&self) -> Option<String> {
        match &self.mode {
            Mode::Propose(_) => None,
            Mode::SameDockerfile(_) => Some(format!(
                "env/Dockerfile is not what would be proposed for HEAD now (edited, or HEAD moved \
                 on): a commit whose copies of env/{MANIFESTS_DIR}/ differ gets env/Dockerfile \
                 with its own copies in {ENVS_DIR}/<key>/; requirements written into the \
                 Dockerfile itself are not followed"
            )),
        }
    }

    /// The environment of its own that the commit `rev` needs: None when the suite's serves
    /// it (its context is the same, or none can be proposed at `rev`).
    pub fn own(&self, mirror: &Mirror, rev: &str) -> Result<Option<BuildContext>, Error> {
        let context = match &self.mode {
            Mode::Propose(day) => proposed_at(mirror, rev, *day)?,
            Mode::SameDockerfile(paths) => {
                let manifests = paths
                    .iter()
                    .filter_map(|p| mirror.read(rev, p).map(|b| (p.clone(), b)))
                    .collect();
                Some(BuildContext {
                    dockerfile: self.suite.dockerfile.clone(),
                    keyed: self.suite.keyed.clone(),
                    manifests,
                })
            }
        };
        Ok(context.filter(|c| c.key() != self.suite_key))
    }
}

/// The proposal for the repository at `rev`, its packages resolved as of the day its
/// dependencies took the content they have there: that of the last commit at or before `rev`,
/// on its first-parent line, that changed one of the files the proposal reads them from
/// (`Proposal::sources`). `fallback` (HEAD's day) when it reads none. None when no language
/// is recognised at `rev`.
pub(super) fn proposal_at(
    mirror: &Mirror,
    rev: &str,
    fallback: chrono::NaiveDate,
) -> Result<Option<Proposal>, Error> {
    let files = mirror.files(rev)?;
    // Proposing twice reads the same files: each is asked of git once.
    let cache: RefCell<BTreeMap<String, Option<Vec<u8>>>> = RefCell::default();
    let read = |path: &str| {
        if let Some(bytes) = cache.borrow().get(path) {
            return bytes.clone();
        }
        let bytes = mirror.read(rev, path);
        cache.borrow_mut().insert(path.to_string(), bytes.clone());
        bytes
    };
    // Which files are read does not depend on the day: a first proposal names them.
    let Some(first) = environment::propose_for_repo(&files, &read, fallback) else {
        return Ok(None);
    };
    if !first.language.resolves_as_of_a_day() {
        return Ok(Some(first));
    }
    let day = mirror
        .last_change_day(rev, &first.sources)?
        .unwrap_or(fallback);
    if day == fallback {
        return Ok(Some(first));
    }
    Ok(environment::propose_for_repo(&files, &read, day))
}

/// The context proposed for the repository at `rev` ([`proposal_at`]): None when no
/// language is recognised there, or a manifest it lists cannot be copied.
fn proposed_at(
    mirror: &Mirror,
    rev: &str,
    fallback: chrono::NaiveDate,
) -> Result<Option<BuildContext>, Error> {
    let Some(p) = proposal_at(mirror, rev, fallback)? else {
        return Ok(None);
    };
    let mut manifests = BTreeMap::new();
    for m in &p.manifests {
        match mirror.read(rev, m).filter(|_| plain(m)) {
            Some(bytes) => manifests.insert(m.clone(), bytes),
            None => return Ok(None),
        };
    }
    Ok(Some(BuildContext {
        keyed: p.keyed_text().as_bytes().to_vec(),
        dockerfile: p.dockerfile.into_bytes(),
        manifests,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::suite::load_settings;

    /// Commits `files` into the repository at `dir` (made on first use); answers the commit.
    fn commit(dir: &Path, files: &[(&str, &str)]) -> String {
        commit_at(dir, "2026-03-01T10:00:00Z", files)
    }

    /// [`commit`], authored and committed at `date`.
    fn commit_at(dir: &Path, date: &str, files: &[(&str, &str)]) -> String {
        // The one safe git runner, at this commit's date.
        let git = |args: &[&str]| {
            let out = crate::repo::workspace::git(dir)
                .env("GIT_AUTHOR_DATE", date)
                .env("GIT_COMMITTER_DATE", date)
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        if !dir.join(".git").exists() {
            std::fs::create_dir_all(dir).unwrap();
            git(&["init", "-q", "-b", "main"]);
        }
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        git(&["add", "-A"]);
        git(&["commit", "-qm", "step"]);
        git(&["rev-parse", "HEAD"])
    }

    #[test]
    fn a_commit_whose_lockfile_differs_gets_its_own_context() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let manifest = "[package]\nname = \"ledger\"\nversion = \"0.1.0\"\n";
        let old = commit(
            &repo,
            &[
                ("Cargo.toml", manifest),
                ("Cargo.lock", "version = 3\n# old\n"),
                ("src/lib.rs", ""),
            ],
        );
        let new = commit(&repo, &[("Cargo.lock", "version = 3\n# new\n")]);
        // A binary more changes the stubs, not the dependencies.
        let head = commit(&repo, &[("src/bin/admin.rs", "fn main() {}")]);
        let mirror = Mirror::clone_from(repo.to_str().unwrap()).unwrap();

        // The suite as mining sets it up: the proposal for HEAD.
        let out = tmp.path().join("suite");
        let at_head = proposed_at(&mirror, &head, mirror.commit_day(&head).unwrap())
            .unwrap()
            .unwrap();
        at_head.write(&out.join("env")).unwrap();
        write_suite(&out, &repo, "cargo test", "cargo");
        let settings = load_settings(&out).unwrap();
        let keying = Keying::new(&settings, &out, &mirror, &head)
            .unwrap()
            .unwrap();
        assert_eq!(keying.note(), None);
        assert_eq!(keying.own(&mirror, &new).unwrap(), None);
        assert_eq!(keying.own(&mirror, &head).unwrap(), None);
        let own = keying.own(&mirror, &old).unwrap().unwrap();
        assert_eq!(own.manifests["Cargo.lock"], b"version = 3\n# old\n");

        // Edited: that Dockerfile, with the commit's copies of the manifests.
        let edited = [&at_head.dockerfile[..], b"# reviewed\n"].concat();
        std::fs::write(out.join("env/Dockerfile"), &edited).unwrap();
        let settings = load_settings(&out).unwrap();
        let keying = Keying::new(&settings, &out, &mirror, &head)
            .unwrap()
            .unwrap();
        assert!(keying.note().is_some());
        assert_eq!(keying.own(&mirror, &new).unwrap(), None);
        let own = keying.own(&mirror, &old).unwrap().unwrap();
        assert_eq!(own.dockerfile, edited);
        assert_eq!(own.manifests["Cargo.lock"], b"version = 3\n# old\n");

        // A Dockerfile the user gave is never keyed.
        std::fs::write(out.join("env/Dockerfile"), "FROM x\n").unwrap();
        let settings = load_settings(&out).unwrap();
        assert!(Keying::new(&settings, &out, &mirror, &head)
            .unwrap()
            .is_none());
    }

    #[test]
    fn packages_resolve_as_of_the_day_the_dependencies_took_their_content() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let pyproject =
            |deps: &str| format!("[project]\nname = \"ledger\"\ndependencies = [{deps}]\n");
        let first = pyproject("\"requests\"");
        let deps_set = commit_at(
            &repo,
            "2024-01-10T12:00:00Z",
            &[("pyproject.toml", &first), ("ledger/__init__.py", "")],
        );
        let code = commit_at(&repo, "2024-02-20T12:00:00Z", &[("ledger/a.py", "A = 1\n")]);
        // The CI files name the test command, not the dependencies.
        let ci = commit_at(
            &repo,
            "2024-03-05T12:00:00Z",
            &[
                ("ledger/a.py", "A = 2\n"),
                (
                    ".github/workflows/ci.yml",
                    "jobs:\n  t:\n    steps:\n      - run: python -m pytest\n",
                ),
            ],
        );
        let second = pyproject("\"requests\", \"attrs\"");
        let deps_changed = commit_at(
            &repo,
            "2024-04-15T12:00:00Z",
            &[("pyproject.toml", &second)],
        );
        let head = commit_at(&repo, "2024-05-01T12:00:00Z", &[("ledger/a.py", "A = 3\n")]);
        let mirror = Mirror::clone_from(repo.to_str().unwrap()).unwrap();
        let head_day = mirror.commit_day(&head).unwrap();
        let at = |rev: &str| proposed_at(&mirror, rev, head_day).unwrap().unwrap();

        // Bounded by the day the dependencies were set, not the commit's own or HEAD's.
        let p = proposal_at(&mirror, &code, head_day).unwrap().unwrap();
        assert_eq!(p.sources, vec!["pyproject.toml"]);
        let early = String::from_utf8(at(&code).dockerfile).unwrap();
        assert!(
            early.contains("--exclude-newer 2024-01-11T00:00:00Z"),
            "{early}"
        );
        // Commits with those dependencies share one context.
        assert_eq!(at(&code).key(), at(&deps_set).key());
        assert_eq!(at(&code).key(), at(&ci).key());
        // A change of the dependencies moves the day.
        let late = String::from_utf8(at(&deps_changed).dockerfile).unwrap();
        assert!(
            late.contains("--exclude-newer 2024-04-16T00:00:00Z"),
            "{late}"
        );
        assert_eq!(at(&deps_changed).key(), at(&head).key());
        assert_ne!(at(&deps_changed).key(), at(&code).key());

        // The suite proposed for HEAD serves the commits with HEAD's dependencies.
        let out = tmp.path().join("suite");
        at(&head).write(&out.join("env")).unwrap();
        write_suite(&out, &repo, "python3 -m pytest", "pytest");
        let settings = load_settings(&out).unwrap();
        let keying = Keying::new(&settings, &out, &mirror, &head)
            .unwrap()
            .unwrap();
        assert_eq!(keying.note(), None);
        assert_eq!(keying.own(&mirror, &deps_changed).unwrap(), None);
        let own = keying.own(&mirror, &ci).unwrap().unwrap();
        assert_eq!(own.key(), at(&deps_set).key());
    }

    /// A suite.toml reading the repository at `repo` with this test command and format.
    fn write_suite(out: &Path, repo: &Path, command: &str, format: &str) {
        std::fs::write(
            out.join("suite.toml"),
            format!(
                "[repo]\nsource = {:?}\n[environment]\ndockerfile = \"env/Dockerfile\"\n\
                 [tests]\ncommand = \"{command}\"\nformat = \"{format}\"\n\
                 [scope]\nread_only = [\"tests/**\"]\n",
                repo.display().to_string()
            ),
        )
        .unwrap();
    }

    fn context(dockerfile: &str, manifests: &[(&str, &str)]) -> BuildContext {
        BuildContext {
            dockerfile: dockerfile.as_bytes().to_vec(),
            keyed: dockerfile.as_bytes().to_vec(),
            manifests: manifests
                .iter()
                .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
                .collect(),
        }
    }

    #[test]
    fn keys_follow_the_whole_context() {
        let a = context("FROM x\n", &[("Cargo.lock", "v1")]);
        assert_eq!(a.key(), context("FROM x\n", &[("Cargo.lock", "v1")]).key());
        // (what differs)
        let others = [
            (
                "the manifest's content",
                context("FROM x\n", &[("Cargo.lock", "v2")]),
            ),
            (
                "the manifest's path",
                context("FROM x\n", &[("sub/Cargo.lock", "v1")]),
            ),
            (
                "the Dockerfile",
                context("FROM y\n", &[("Cargo.lock", "v1")]),
            ),
            (
                "a manifest more",
                context("FROM x\n", &[("Cargo.lock", "v1"), ("Cargo.toml", "")]),
            ),
        ];
        for (what, other) in others {
            assert_ne!(a.key(), other.key(), "{what}");
        }
        assert_eq!(a.short_key().len(), KEY_LEN);
        // What only follows the file tree is left out of the key.
        let stubbed = BuildContext {
            dockerfile: b"FROM x\nRUN touch tests/new.rs\n".to_vec(),
            ..a.clone()
        };
        assert_eq!(a.key(), stubbed.key());
    }

    #[test]
    fn a_context_is_written_whole_once_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let a = context(
            "FROM x\n",
            &[("Cargo.lock", "v1"), ("crates/a/Cargo.toml", "[package]\n")],
        );
        let dir = tmp.path().join(ENVS_DIR).join(a.short_key());
        a.write(&dir).unwrap();
        assert_eq!(BuildContext::read_dir(&dir).unwrap(), a);
        // A folder already there is kept, and nothing is left beside it.
        std::fs::write(dir.join("Dockerfile"), "FROM reviewed\n").unwrap();
        a.write(&dir).unwrap();
        assert_eq!(
            std::fs::read(dir.join("Dockerfile")).unwrap(),
            b"FROM reviewed\n"
        );
        assert_eq!(
            std::fs::read_dir(tmp.path().join(ENVS_DIR))
                .unwrap()
                .count(),
            1
        );
        // A path that climbs out of the folder is refused.
        let bad = context("FROM x\n", &[("../escape", "")]);
        assert!(bad.write(&tmp.path().join("bad")).is_err());
        assert!(!tmp.path().join("escape").exists());
    }
}
