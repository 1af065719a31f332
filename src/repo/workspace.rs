//! The repository at a task's base commit, on this machine: the one-commit repository an agent
//! starts from, the patch between it and what the agent left, and the tree tests are run on.
//!
//! Only `git` runs here, never Docker: trees travel to and from containers as tar archives
//! (see `harness`). Git runs with no system or user configuration, so neither this machine's
//! settings nor anything an agent wrote can change what a diff or an apply does.

use crate::config::limits::PatchLimits;
use crate::config::suite::{Source, Task};
use crate::conventions::harness_files::{HarnessFiles, Restore};
use crate::error::Error;
use crate::repo::patch::Patch;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The fixed identity and date of the one commit an agent sees, so equal trees give equal ids.
const BASE_DATE: &str = "2000-01-01T00:00:00Z";

pub fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "mergebench")
        .env("GIT_AUTHOR_EMAIL", "mergebench@localhost")
        .env("GIT_COMMITTER_NAME", "mergebench")
        .env("GIT_COMMITTER_EMAIL", "mergebench@localhost")
        .env("GIT_AUTHOR_DATE", BASE_DATE)
        .env("GIT_COMMITTER_DATE", BASE_DATE)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.autocrlf=false",
            "-c",
            "advice.detachedHead=false",
        ]);
    c
}

/// Runs git and returns stdout, or an error with git's own words.
pub fn run_git(mut cmd: Command, what: &str) -> Result<Vec<u8>, Error> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        Error::env(
            format!("cannot run git ({what}): {e}"),
            "install git (apt-get install git)",
        )
    })?;
    if !out.status.success() {
        return Err(Error::infra(format!(
            "git {what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

pub(crate) fn run_git_stdin(
    mut cmd: Command,
    input: &[u8],
    what: &str,
) -> Result<std::process::Output, Error> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::env(
                format!("cannot run git ({what}): {e}"),
                "install git (apt-get install git)",
            )
        })?;
    // cannot fail: stdin is piped just above and taken once.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .map_err(|e| Error::infra_from(format!("git {what}"), e))?;
    let _ = writer.join();
    Ok(out)
}

pub fn cache_dir() -> PathBuf {
    if let Ok(d) = std::env::var("MERGEBENCH_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(base) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(base).join("mergebench");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".cache").join("mergebench");
    }
    // No home: a folder of this user's own, never one shared with every user of /tmp
    // (another user could plant a repository mirror there).
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let ours = |d: &Path| {
        std::fs::symlink_metadata(d)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
    };
    let dir = std::env::temp_dir().join(format!("mergebench-cache-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    if ours(&dir) {
        return dir;
    }
    // Someone else made that name first: a fresh one for this process.
    let fresh = std::env::temp_dir().join(format!(
        "mergebench-cache-{uid}-{:08x}",
        rand::random::<u32>()
    ));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&fresh);
    fresh
}

/// A bare mirror of the task's source with the base commit in it; cloned once per source.
pub fn mirror(task: &Task) -> Result<PathBuf, Error> {
    let (url, key) = match &task.source {
        Source::Dir(p) | Source::Bundle(p) => {
            let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            let meta = std::fs::metadata(&abs).ok();
            let stamp = meta
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            (
                abs.to_string_lossy().into_owned(),
                format!("{}:{stamp}", abs.display()),
            )
        }
        Source::Url(u) => (u.clone(), u.clone()),
    };
    let dir = cache_dir()
        .join("repos")
        .join(&crate::config::sha256_hex(key.as_bytes())[..24]);
    let has_base = |d: &Path| {
        let mut c = git(d);
        c.args(["cat-file", "-e", &format!("{}^{{commit}}", task.base)]);
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if dir.join("HEAD").exists() && has_base(&dir) {
        return Ok(dir);
    }
    // One clone at a time in this process: two tasks that start together on a new source
    // would otherwise both clone, and the second would replace the mirror the first is
    // already reading from.
    static CLONING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = CLONING.lock().unwrap_or_else(|p| p.into_inner());
    if dir.join("HEAD").exists() && has_base(&dir) {
        return Ok(dir);
    }
    // cannot fail, here and below: `dir` is `<cache>/repos/<hash>`.
    std::fs::create_dir_all(dir.parent().unwrap())
        .map_err(|e| Error::infra_from(format!("cannot create the cache {}", dir.display()), e))?;
    // Clone beside the final place and rename, so a concurrent or killed clone never leaves
    // a half-made mirror behind.
    let tmp = tempfile::Builder::new()
        .prefix(".clone-")
        // cannot fail: as above.
        .tempdir_in(dir.parent().unwrap())
        .map_err(|e| Error::infra_from("cannot create a temporary folder", e))?;
    let target = tmp.path().join("m.git");
    let mut c = git(tmp.path());
    c.args(["clone", "--quiet", "--mirror", &url]).arg(&target);
    run_git(c, "clone").map_err(|e| {
        Error::input(
            &task.file,
            None,
            format!("cannot read the repository {url}: {e}"),
            "check [repo] source: a git folder, a bundle file or a reachable URL",
        )
    })?;
    if !has_base(&target) {
        return Err(Error::input(
            &task.file,
            None,
            format!("base commit {} is not in {url}", task.base),
            "set [repo] base to a commit of that repository",
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::rename(&target, &dir).is_err() && !(dir.join("HEAD").exists() && has_base(&dir)) {
        return Err(Error::infra(format!(
            "cannot move the mirror into {}",
            dir.display()
        )));
    }
    Ok(dir)
}

pub fn globset(globs: &[String]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        if let Ok(g) = Glob::new(g) {
            b.add(g);
        }
        // `deploy/**` should also match the folder `deploy` itself.
        if let Some(prefix) = g.strip_suffix("/**") {
            if let Ok(g) = Glob::new(prefix) {
                b.add(g);
            }
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

/// The task's repository at its base commit as a one-commit git repository with no remotes,
/// deny globs removed; plus the tar archive of it that goes into containers.
pub struct BaseRepo {
    pub dir: tempfile::TempDir,
    /// `workspace/...` entries owned by the agent's uid.
    pub archive: Vec<u8>,
    pub commit: String,
}

impl BaseRepo {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub const AGENT_UID: u64 = 1000;

pub fn prepare_base(task: &Task) -> Result<BaseRepo, Error> {
    let mirror = mirror(task)?;
    let dir = tempfile::Builder::new()
        .prefix("mergebench-base-")
        .tempdir()
        .map_err(|e| Error::infra_from("temporary folder", e))?;
    let mut c = git(&mirror);
    c.args(["archive", "--format=tar", &task.base]);
    let tar = run_git(c, "archive")?;
    tar::Archive::new(&tar[..])
        .unpack(dir.path())
        .map_err(|e| Error::infra_from("unpacking the base tree", e))?;
    remove_matching(dir.path(), &globset(&task.scope.deny))?;
    let mut c = git(dir.path());
    c.args(["init", "--quiet", "--initial-branch=main"]);
    run_git(c, "init")?;
    let mut c = git(dir.path());
    c.args(["add", "--all", "--force", "."]);
    run_git(c, "add")?;
    let mut c = git(dir.path());
    c.args([
        "commit",
        "--quiet",
        "--allow-empty",
        "--no-verify",
        "-m",
        "base",
    ]);
    run_git(c, "commit")?;
    let mut c = git(dir.path());
    c.args(["rev-parse", "HEAD"]);
    let commit = String::from_utf8_lossy(&run_git(c, "rev-parse")?)
        .trim()
        .to_string();
    let archive = tar_dir(dir.path(), "workspace", AGENT_UID)?;
    Ok(BaseRepo {
        dir,
        archive,
        commit,
    })
}

/// Removes every file or folder whose repository path matches (deny globs).
fn remove_matching(root: &Path, set: &GlobSet) -> Result<(), Error> {
    if set.is_empty() {
        return Ok(());
    }
    let mut files = Vec::new();
    crate::config::collect_files(root, root, &mut files).map_err(|e| Error::infra_from("", e))?;
    for f in files {
        if set.is_match(&f) {
            std::fs::remove_file(root.join(&f))
                .map_err(|e| Error::infra_from(format!("removing {f}"), e))?;
        }
    }
    Ok(())
}

/// Tars `dir` under `prefix/`, owned by `uid`, symlinks as links.
pub fn tar_dir(dir: &Path, prefix: &str, uid: u64) -> Result<Vec<u8>, Error> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Deterministic);
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_uid(uid);
    header.set_gid(uid);
    header.set_size(0);
    b.append_data(&mut header, format!("{prefix}/"), std::io::empty())
        .map_err(|e| Error::infra_from("tar", e))?;
    append_tree(&mut b, dir, dir, prefix, uid)?;
    b.into_inner().map_err(|e| Error::infra_from("tar", e))
}

fn append_tree(
    b: &mut tar::Builder<Vec<u8>>,
    root: &Path,
    dir: &Path,
    prefix: &str,
    uid: u64,
) -> Result<(), Error> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::infra_from(format!("{}", dir.display()), e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        // cannot fail: `dir` is `root` or a folder found under it, and `path` is an entry of `dir`.
        let rel = path.strip_prefix(root).unwrap();
        let name = format!("{prefix}/{}", rel.to_string_lossy());
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::infra_from("", e))?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
        h.set_uid(uid);
        h.set_gid(uid);
        let ft = meta.file_type();
        let res = if ft.is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| Error::infra_from("", e))?;
            h.set_size(0);
            b.append_link(&mut h, &name, target)
        } else if ft.is_dir() {
            h.set_size(0);
            let r = b.append_data(&mut h, format!("{name}/"), std::io::empty());
            append_tree(b, root, &path, prefix, uid)?;
            r
        } else if ft.is_file() {
            let f = std::fs::File::open(&path).map_err(|e| Error::infra_from("", e))?;
            b.append_data(&mut h, &name, f)
        } else {
            continue;
        };
        res.map_err(|e| Error::infra_from(format!("tar {name}"), e))?;
    }
    Ok(())
}

/// What an agent left, as patches against the base.
#[derive(Debug)]
pub struct Extracted {
    /// Everything the agent changed; over a limit, only its first part.
    pub raw: Patch,
    /// What gets graded: `raw` with read-only paths reverted.
    pub graded: Patch,
    pub touched: BTreeSet<String>,
    /// Read-only paths the agent changed (a scope violation).
    pub reverted: Vec<String>,
    /// Test-harness files (or parts of shared files) the agent changed, put back as at the
    /// base in `graded`: `pytest.ini`, `pyproject.toml [tool.pytest]`.
    pub harness_restored: Vec<String>,
    /// New items the agent added inside a base test module of a Rust file, left out of
    /// `graded` (they could change what the module's tests call) without being tampering.
    pub tests_left_out: Vec<String>,
    /// Set when the change is over a patch limit: then it is not graded, and `raw` holds
    /// only its first part.
    pub over_limit: Option<OverLimit>,
}

/// A change too large to keep or grade: what is known of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OverLimit {
    /// sha256 over every changed path, its size and its content, in path order.
    pub sha256: String,
    /// The changed files' bytes (at least; a file changed in place without changing size
    /// is counted only when the whole patch is measured).
    pub bytes: u64,
    /// Files added, changed or deleted (likewise at least).
    pub files: u64,
    /// Which limit it passed, in words: `4 MiB of patch` or `2000 files`.
    pub limit: String,
}

/// How much of an over-limit change is kept as its first part.
pub const FIRST_PART: u64 = 64 << 10;

/// Unpacks the agent's `/workspace` archive next to the base repository and diffs it.
/// The agent's own `.git` is ignored: the base commit and index are ours, so deleting or
/// rewriting `.git` changes nothing, and no hook or config the agent wrote ever runs.
///
/// The change is measured before git hashes any of it: a flood of bytes or files stops at
/// `limits` after one walk of the tree, with its hash, size, file count and first part, and
/// is never diffed whole.
pub fn extract_patch(
    base: &BaseRepo,
    workspace_tar: impl Read,
    read_only: &[String],
    harness: &HarnessFiles,
    limits: PatchLimits,
) -> Result<Extracted, Error> {
    let tmp = tempfile::Builder::new()
        .prefix("mergebench-after-")
        .tempdir()
        .map_err(|e| Error::infra_from("temporary folder", e))?;
    let after = unpack_stripped(workspace_tar, tmp.path(), "workspace")?;
    let _ = std::fs::remove_dir_all(after.join(".git"));
    let _ = std::fs::remove_file(after.join(".git"));
    let index = tmp.path().join("index");
    let gitdir = base.path().join(".git");
    let cmd = |args: &[&str]| {
        let mut c = git(&after);
        c.env("GIT_DIR", &gitdir)
            .env("GIT_WORK_TREE", &after)
            .env("GIT_INDEX_FILE", &index)
            .args(args);
        c
    };
    run_git(cmd(&["read-tree", "HEAD"]), "read-tree")?;
    if let Some(over) = measure(&after, &cmd, limits)? {
        return over_limit(&after, &cmd, over);
    }
    run_git(cmd(&["add", "--all", "."]), "add")?;
    let names = run_git(
        cmd(&[
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--no-renames",
            "HEAD",
        ]),
        "diff --name-only",
    )?;
    let touched: BTreeSet<String> = names
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let raw = Patch::new(run_git(cmd(&diff_staged()), "diff")?);
    if raw.bytes.len() as u64 > limits.bytes || touched.len() as u64 > limits.files {
        let limit = if touched.len() as u64 > limits.files {
            format!("{} files", limits.files)
        } else {
            format!("{} of patch", human_bytes(limits.bytes))
        };
        let first = first_part(&raw.bytes);
        return Ok(Extracted {
            over_limit: Some(OverLimit {
                sha256: raw.sha256.clone(),
                bytes: raw.bytes.len() as u64,
                files: touched.len() as u64,
                limit,
            }),
            raw: Patch::new(first),
            graded: Patch::new(Vec::new()),
            touched,
            reverted: Vec::new(),
            harness_restored: Vec::new(),
            tests_left_out: Vec::new(),
        });
    }
    let ro = globset(read_only);
    let reverted: Vec<String> = touched
        .iter()
        .filter(|p| ro.is_match(p.as_str()))
        .cloned()
        .collect();
    if !reverted.is_empty() {
        // Reverting in the index only: the index goes back to the base for those paths.
        let mut c = cmd(&["reset", "--quiet", "HEAD", "--"]);
        c.args(&reverted);
        run_git(c, "reset")?;
    }
    let (harness_restored, tests_left_out) =
        restore_harness(&after, &cmd, &touched, &reverted, harness)?;
    let graded = if reverted.is_empty() && harness_restored.is_empty() && tests_left_out.is_empty()
    {
        raw.clone()
    } else {
        Patch::new(run_git(cmd(&diff_staged()), "diff")?)
    };
    Ok(Extracted {
        raw,
        graded,
        touched,
        reverted,
        harness_restored,
        tests_left_out,
        over_limit: None,
    })
}

/// Puts every test-harness file the agent changed back as it was at the base, in the index
/// only (nothing is written through a link the agent planted): whole files, or the
/// protected parts of shared ones with the rest of the agent's edit kept. Returns what was
/// restored, as `path` or `path part`, and the Rust files whose added test-module items
/// were left out (see [`undo_rust_test_edits`]).
fn restore_harness(
    after: &Path,
    cmd: &dyn Fn(&[&str]) -> Command,
    touched: &BTreeSet<String>,
    reverted: &[String],
    harness: &HarnessFiles,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let (mut restored, mut left_out) = (Vec::new(), Vec::new());
    for path in touched {
        if !harness.is_harness_path(path) {
            if path.ends_with(".rs") && !reverted.contains(path) {
                match undo_rust_test_edits(after, cmd, path)? {
                    Some(true) => restored.push(format!("{path} test code")),
                    Some(false) => left_out.push(path.clone()),
                    None => {}
                }
            }
            continue;
        }
        if reverted.contains(path) {
            // Already back at the base as a read-only path; still a harness edit.
            restored.push(path.clone());
            continue;
        }
        let base = {
            let mut c = cmd(&["cat-file", "blob"]);
            c.arg(format!("HEAD:{path}"));
            run_git(c, "cat-file").ok()
        };
        // A link or anything but a plain file is not read: the whole file goes back.
        let agent = match std::fs::symlink_metadata(after.join(path)) {
            Ok(m) if m.is_file() => std::fs::read(after.join(path)).ok(),
            Ok(_) => Some(b"\0not a regular file\0".to_vec()),
            Err(_) => None,
        };
        let decision = match std::fs::symlink_metadata(after.join(path)) {
            Ok(m) if !m.is_file() => Restore::Whole(base.clone()),
            _ => harness.restore(path, base.as_deref(), agent.as_deref()),
        };
        match decision {
            Restore::Untouched => continue,
            Restore::Whole(Some(_)) => {
                let mut c = cmd(&["reset", "--quiet", "HEAD", "--"]);
                c.arg(path);
                run_git(c, "reset")?;
                restored.push(path.clone());
            }
            Restore::Whole(None) => {
                let mut c = cmd(&["rm", "--cached", "--quiet", "--ignore-unmatch", "--"]);
                c.arg(path);
                run_git(c, "rm --cached")?;
                restored.push(path.clone());
            }
            Restore::Part { content, parts } => {
                stage_content(cmd, path, &content)?;
                restored.extend(parts.into_iter().map(|p| format!("{path} {p}")));
            }
        }
    }
    Ok((restored, left_out))
}

/// Takes back the agent's edits to the base's test code in one Rust file (its
/// `#[cfg(test)]` items and test functions), in the index only, keeping the rest of the
/// edit: tests beside code are as much the test harness as a test file is. Returns
/// Some(tampered) when anything was taken back (see [`Undone`]).
///
/// [`Undone`]: crate::repo::rust_tests::Undone
fn undo_rust_test_edits(
    after: &Path,
    cmd: &dyn Fn(&[&str]) -> Command,
    path: &str,
) -> Result<Option<bool>, Error> {
    let full = after.join(path);
    if !std::fs::symlink_metadata(&full).is_ok_and(|m| m.is_file()) {
        return Ok(None);
    }
    let base = {
        let mut c = cmd(&["cat-file", "blob"]);
        c.arg(format!("HEAD:{path}"));
        match run_git(c, "cat-file") {
            Ok(b) => b,
            // New in the patch: it has no base tests to change.
            Err(_) => return Ok(None),
        }
    };
    let agent =
        std::fs::read(&full).map_err(|e| Error::infra_from(format!("reading {path}"), e))?;
    let Some(undone) = crate::repo::rust_tests::undo_test_edits(&base, &agent) else {
        return Ok(None);
    };
    stage_content(cmd, path, &undone.content)?;
    Ok(Some(undone.tampered))
}

/// Puts `content` in the index as `path`'s blob (a regular file), nothing in the tree.
fn stage_content(
    cmd: &dyn Fn(&[&str]) -> Command,
    path: &str,
    content: &[u8],
) -> Result<(), Error> {
    let out = run_git_stdin(
        cmd(&["hash-object", "-w", "--stdin"]),
        content,
        "hash-object",
    )?;
    if !out.status.success() {
        return Err(Error::infra(format!(
            "git hash-object failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let blob = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut c = cmd(&["update-index", "--add", "--cacheinfo"]);
    c.arg(format!("100644,{blob},{path}"));
    run_git(c, "update-index")?;
    Ok(())
}

/// How a patch is written: binary-safe, full blob ids, renames found, nothing external run.
/// Every diff stored as a patch is written with these options.
pub const PATCH_FORMAT: [&str; 6] = [
    "--binary",
    "--full-index",
    "-M",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
];

/// The agent's change, staged, against the base commit, written as a patch.
fn diff_staged() -> Vec<&'static str> {
    let mut args = vec!["diff", "--cached"];
    args.extend(PATCH_FORMAT);
    args.push("HEAD");
    args
}

/// The changed paths as far as one walk can tell without hashing: files git does not track
/// (and the agent did not ignore), tracked files whose size changed, tracked files gone.
struct Measured {
    paths: Vec<(String, u64)>,
    deleted: u64,
}

/// Walks the agent's tree against the index (the base); `Some` when the change is already
/// over a limit, before any of it is hashed.
fn measure(
    after: &Path,
    cmd: &dyn Fn(&[&str]) -> Command,
    limits: PatchLimits,
) -> Result<Option<(Measured, String)>, Error> {
    let untracked = run_git(
        cmd(&["ls-files", "--others", "--exclude-standard", "-z"]),
        "ls-files --others",
    )?;
    let mut paths: Vec<(String, u64)> = Vec::new();
    let mut bytes: u64 = 0;
    for name in untracked.split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let size = std::fs::symlink_metadata(after.join(&name))
            .map(|m| m.len())
            .unwrap_or(0);
        bytes = bytes.saturating_add(size);
        paths.push((name, size));
    }
    // Tracked files: sizes at base from the tree, now from the file system.
    let listing = run_git(cmd(&["ls-tree", "-r", "-l", "-z", "HEAD"]), "ls-tree")?;
    let mut deleted = 0u64;
    for entry in listing.split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, name)) = entry.split_once('\t') else {
            continue;
        };
        let base_size: Option<u64> = meta.split_whitespace().nth(3).and_then(|s| s.parse().ok());
        match std::fs::symlink_metadata(after.join(name)) {
            Ok(m) if Some(m.len()) != base_size && m.is_file() => {
                bytes = bytes.saturating_add(m.len());
                paths.push((name.to_string(), m.len()));
            }
            Ok(_) => {}
            Err(_) => deleted += 1,
        }
    }
    let files = paths.len() as u64 + deleted;
    let limit = if files > limits.files {
        format!("{} files", limits.files)
    } else if bytes > limits.bytes {
        format!("{} of patch", human_bytes(limits.bytes))
    } else {
        return Ok(None);
    };
    paths.sort();
    Ok(Some((Measured { paths, deleted }, limit)))
}

/// An over-limit change: its content address and counts, and a real patch of the first
/// files that fit in [`FIRST_PART`], so a reviewer sees what it was.
fn over_limit(
    after: &Path,
    cmd: &dyn Fn(&[&str]) -> Command,
    (measured, limit): (Measured, String),
) -> Result<Extracted, Error> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    for (name, size) in &measured.paths {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(size.to_le_bytes());
        // Never through a link: an agent's link to /dev/zero or a host file would be read
        // for ever, or read at all. A link counts as its target's text, as git stores it.
        let path = after.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(&path) {
                    hash.update(target.as_os_str().as_encoded_bytes());
                }
            }
            Ok(m) if m.is_file() => {
                if let Ok(f) = std::fs::File::open(&path) {
                    let _ = std::io::copy(&mut std::io::Read::take(f, m.len()), &mut hash);
                }
            }
            _ => {}
        }
        bytes = bytes.saturating_add(*size);
    }
    let mut first: Vec<String> = Vec::new();
    let mut kept = 0u64;
    for (name, size) in &measured.paths {
        if kept.saturating_add(*size) > FIRST_PART || first.len() >= 100 {
            break;
        }
        kept += size;
        first.push(name.clone());
    }
    let part = if first.is_empty() {
        Vec::new()
    } else {
        let mut c = cmd(&["add", "--"]);
        c.args(&first);
        run_git(c, "add")?;
        run_git(cmd(&diff_staged()), "diff")?
    };
    let touched: BTreeSet<String> = first.into_iter().collect();
    Ok(Extracted {
        raw: Patch::new(first_part(&part)),
        graded: Patch::new(Vec::new()),
        touched,
        reverted: Vec::new(),
        harness_restored: Vec::new(),
        tests_left_out: Vec::new(),
        over_limit: Some(OverLimit {
            sha256: hex::encode(hash.finalize()),
            bytes,
            files: measured.paths.len() as u64 + measured.deleted,
            limit,
        }),
    })
}

/// The first [`FIRST_PART`] bytes of a patch, cut at a line end.
fn first_part(patch: &[u8]) -> Vec<u8> {
    if patch.len() as u64 <= FIRST_PART {
        return patch.to_vec();
    }
    let cut = &patch[..FIRST_PART as usize];
    match cut.iter().rposition(|&b| b == b'\n') {
        Some(end) => cut[..=end].to_vec(),
        None => cut.to_vec(),
    }
}

/// `4 MiB`, `512 KiB`, `900 B`.
pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 {
        format!("{:.0} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.0} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// Unpacks a tar whose entries sit under `prefix/` into `parent`, returning `parent/prefix`.
/// Entries that would land outside (`..`, writes through symlinks) are refused by `unpack_in`;
/// devices and fifos are skipped, since a patch cannot hold them anyway.
pub fn unpack_stripped(tar: impl Read, parent: &Path, prefix: &str) -> Result<PathBuf, Error> {
    let mut archive = tar::Archive::new(tar);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    for entry in archive
        .entries()
        .map_err(|e| Error::infra_from("reading archive", e))?
    {
        let mut entry = entry.map_err(|e| Error::infra_from("reading archive", e))?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir() || kind.is_symlink() || kind.is_hard_link()) {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| Error::infra_from("", e))?
            .into_owned();
        if !path.starts_with(prefix) {
            continue;
        }
        let ok = entry
            .unpack_in(parent)
            .map_err(|e| Error::infra_from(format!("unpacking {}", path.display()), e))?;
        if !ok {
            return Err(Error::infra(format!(
                "archive entry {} would be written outside the workspace",
                path.display()
            )));
        }
    }
    let root = parent.join(prefix);
    std::fs::create_dir_all(&root).map_err(|e| Error::infra_from("", e))?;
    Ok(root)
}

/// How the agent's patch went onto a clean base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyMethod {
    Plain,
    ThreeWay,
    Fuzzy,
}

pub enum Graded {
    Ready {
        dir: tempfile::TempDir,
        tree: PathBuf,
        method: Option<ApplyMethod>,
    },
    PatchFailed(String),
    /// The hidden tests do not apply: the task is broken, not the agent.
    TestsDoNotApply(String),
}

/// The tree tests run on: base + patch (plain, then three-way, then fuzzy), hidden-test paths
/// restored to base, hidden tests applied. A file the hidden tests change in place that the
/// patch changed too (tests beside code) is not restored: the hidden tests' part of it goes
/// on top of the patch's version, and when it cannot, the patch failed.
pub fn graded_tree(base: &BaseRepo, patch: &Patch, tests_patch: &[u8]) -> Result<Graded, Error> {
    build_tree(base, patch, Some(tests_patch))
}

/// Base + patch only: the tree a linter looks at (no hidden tests).
pub fn patched_tree(base: &BaseRepo, patch: &Patch) -> Result<Graded, Error> {
    build_tree(base, patch, None)
}

fn build_tree(base: &BaseRepo, patch: &Patch, tests_patch: Option<&[u8]>) -> Result<Graded, Error> {
    let dir = tempfile::Builder::new()
        .prefix("mergebench-grade-")
        .tempdir()
        .map_err(|e| Error::infra_from("temporary folder", e))?;
    let tree = unpack_stripped(&base.archive[..], dir.path(), "workspace")?;
    let method = if patch.is_empty() {
        None
    } else {
        let attempts: [(&[&str], ApplyMethod); 3] = [
            (&["apply", "--whitespace=nowarn", "-"], ApplyMethod::Plain),
            (
                &["apply", "--whitespace=nowarn", "--3way", "-"],
                ApplyMethod::ThreeWay,
            ),
            (
                &["apply", "--whitespace=nowarn", "--recount", "-C1", "-"],
                ApplyMethod::Fuzzy,
            ),
        ];
        let mut chosen = None;
        let mut last_err = String::new();
        for (args, m) in attempts {
            let mut c = git(&tree);
            c.args(args);
            let out = run_git_stdin(c, &patch.bytes, "apply")?;
            if out.status.success() {
                chosen = Some(m);
                break;
            }
            last_err = String::from_utf8_lossy(&out.stderr).trim().to_string();
            // Undo whatever a failed three-way apply left before the next try.
            let mut c = git(&tree);
            c.args(["reset", "--quiet", "--hard", "HEAD"]);
            run_git(c, "reset")?;
            let mut c = git(&tree);
            c.args(["clean", "-fdq"]);
            run_git(c, "clean")?;
        }
        match chosen {
            Some(m) => Some(m),
            None => return Ok(Graded::PatchFailed(last_err)),
        }
    };
    let Some(tests_patch) = tests_patch else {
        return Ok(Graded::Ready { dir, tree, method });
    };
    let test_paths = crate::repo::patch::touched_paths(tests_patch);
    // A file the hidden tests change in place and the patch changed too holds both code and
    // tests (Rust keeps unit tests beside the code): restoring it to the base would throw the
    // patch's code away, so the hidden tests go on top of the patch's version instead.
    let shared = shared_files(&tree, &patch.bytes, tests_patch);
    // Restore every other hidden-test path to the base, whatever the patch did to it.
    for p in test_paths.iter().filter(|p| !shared.contains(*p)) {
        let full = tree.join(p);
        if let Ok(meta) = std::fs::symlink_metadata(&full) {
            if meta.is_dir() {
                let _ = std::fs::remove_dir_all(&full);
            } else {
                let _ = std::fs::remove_file(&full);
            }
        }
        let mut c = git(&tree);
        c.args(["checkout", "--quiet", "HEAD", "--", p]);
        c.stderr(Stdio::null());
        let _ = c.status();
    }
    let (onto, rest) = if shared.is_empty() {
        (Vec::new(), tests_patch.to_vec())
    } else {
        let mut parts = (Vec::new(), Vec::new());
        for s in crate::repo::patch::sections(tests_patch) {
            let into = match &s.in_place {
                Some(p) if shared.contains(p) => &mut parts.0,
                _ => &mut parts.1,
            };
            into.extend_from_slice(s.bytes);
        }
        parts
    };
    // A task may keep all its tests in the base (the patch then only has to make them pass).
    if !rest.iter().all(u8::is_ascii_whitespace) {
        let mut c = git(&tree);
        c.args(["apply", "--whitespace=nowarn", "-"]);
        let out = run_git_stdin(c, &rest, "apply tests")?;
        if !out.status.success() {
            return Ok(Graded::TestsDoNotApply(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
    }
    if !onto.is_empty() {
        if let Err(e) = apply_onto(&tree, &onto, &shared)? {
            let files: Vec<&str> = shared.iter().map(String::as_str).collect();
            return Ok(Graded::PatchFailed(format!(
                "the hidden tests do not apply on top of the patch's changes to {}: {e}",
                files.join(", ")
            )));
        }
    }
    Ok(Graded::Ready { dir, tree, method })
}

/// Files the hidden tests change in place that the patch also changed and that are plain
/// files in the patched tree (never a link, nor below one): Rust sources only, whose unit
/// tests live beside the code. Any other test file the patch touched is restored to the
/// base before the hidden tests apply, so an edit to a test file can never survive grading.
fn shared_files(tree: &Path, patch: &[u8], tests_patch: &[u8]) -> BTreeSet<String> {
    if patch.iter().all(u8::is_ascii_whitespace) {
        return BTreeSet::new();
    }
    let changed = crate::repo::patch::touched_paths(patch);
    crate::repo::patch::in_place_paths(tests_patch)
        .into_iter()
        .filter(|p| p.ends_with(".rs") && changed.contains(p) && plain_file_in(tree, p))
        .collect()
}

/// Whether `rel` names a regular file inside `root` through real folders only.
fn plain_file_in(root: &Path, rel: &str) -> bool {
    use std::path::Component;
    let parts: Vec<Component<'_>> = Path::new(rel).components().collect();
    if parts.is_empty() || parts.iter().any(|c| !matches!(c, Component::Normal(_))) {
        return false;
    }
    let mut at = root.to_path_buf();
    for (k, part) in parts.iter().enumerate() {
        at.push(part);
        let Ok(meta) = std::fs::symlink_metadata(&at) else {
            return false;
        };
        let last = k + 1 == parts.len();
        if (last && !meta.is_file()) || (!last && !meta.is_dir()) {
            return false;
        }
    }
    true
}

/// Applies the hidden tests' changes to `files` on top of the patch's version of them:
/// plainly (hunks found by their context, wherever the patch moved them), then as a
/// three-way merge with the base blobs the test patch names, then with less context.
/// Ok(Err(git's words)) when none works; the files are then as the patch left them.
fn apply_onto(
    tree: &Path,
    tests: &[u8],
    files: &BTreeSet<String>,
) -> Result<Result<(), String>, Error> {
    let mut saved = Vec::new();
    for f in files {
        let full = tree.join(f);
        let bytes =
            std::fs::read(&full).map_err(|e| Error::infra_from(format!("reading {f}"), e))?;
        let perms = std::fs::metadata(&full)
            .map_err(|e| Error::infra_from(format!("reading {f}"), e))?
            .permissions();
        saved.push((full, bytes, perms));
    }
    let pathspec = |args: &[&str]| {
        let mut c = git(tree);
        c.arg("--literal-pathspecs")
            .args(args)
            .arg("--")
            .args(files);
        c
    };
    let attempts: [&[&str]; 3] = [
        &["apply", "--whitespace=nowarn", "-"],
        // A three-way apply works on the index: it must hold the patch's version first.
        &["apply", "--whitespace=nowarn", "--3way", "-"],
        &["apply", "--whitespace=nowarn", "--recount", "-C1", "-"],
    ];
    let mut last_err = String::new();
    for args in attempts {
        if args.contains(&"--3way") {
            run_git(pathspec(&["add"]), "add")?;
        }
        let mut c = git(tree);
        c.args(args);
        let out = run_git_stdin(c, tests, "apply tests")?;
        if out.status.success() {
            return Ok(Ok(()));
        }
        last_err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        // A failed three-way apply leaves conflict markers and unmerged entries behind:
        // put the patch's version back before the next try.
        for (full, bytes, perms) in &saved {
            let _ = std::fs::remove_file(full);
            std::fs::write(full, bytes)
                .and_then(|()| std::fs::set_permissions(full, perms.clone()))
                .map_err(|e| Error::infra_from(format!("restoring {}", full.display()), e))?;
        }
        run_git(pathspec(&["reset", "--quiet"]), "reset")?;
    }
    Ok(Err(last_err))
}

/// Real repositories in temporary folders, for tests that run git.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    fn write_files(dir: &Path, files: &[(&str, &str)]) {
        for (path, content) in files {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
    }

    fn git_ok(dir: &Path, args: &[&str]) -> Vec<u8> {
        let mut c = git(dir);
        c.args(args);
        run_git(c, args[0]).unwrap()
    }

    /// A one-commit repository holding `files`.
    pub(crate) fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), files);
        git_ok(dir.path(), &["init", "--quiet", "--initial-branch=main"]);
        commit(dir.path(), files, "base");
        dir
    }

    /// Writes `files` into the repository at `dir` and commits them; the new commit's id.
    pub(crate) fn commit(dir: &Path, files: &[(&str, &str)], message: &str) -> String {
        write_files(dir, files);
        git_ok(dir, &["add", "--all", "."]);
        git_ok(dir, &["commit", "--quiet", "--allow-empty", "-m", message]);
        String::from_utf8(git_ok(dir, &["rev-parse", "HEAD"]))
            .unwrap()
            .trim()
            .to_string()
    }

    /// The base an attempt starts from, holding `files`, as `prepare_base` makes it.
    pub(crate) fn base(files: &[(&str, &str)]) -> BaseRepo {
        let dir = repo(files);
        let commit = String::from_utf8(git_ok(dir.path(), &["rev-parse", "HEAD"]))
            .unwrap()
            .trim()
            .to_string();
        let archive = tar_dir(dir.path(), "workspace", AGENT_UID).unwrap();
        BaseRepo {
            dir,
            archive,
            commit,
        }
    }

    /// The patch from `before` to `after` (files absent from `after` deleted) as patches are
    /// stored: binary, full index.
    pub(crate) fn patch(before: &[(&str, &str)], after: &[(&str, &str)]) -> Vec<u8> {
        let dir = repo(before);
        for (path, _) in before {
            std::fs::remove_file(dir.path().join(path)).unwrap();
        }
        write_files(dir.path(), after);
        git_ok(dir.path(), &["add", "--all", "."]);
        git_ok(dir.path(), &diff_staged())
    }

    /// The tree's files (`.git` left out), path and content.
    pub(crate) fn files(tree: &Path) -> Vec<(String, String)> {
        let mut names = Vec::new();
        crate::config::collect_files(tree, tree, &mut names).unwrap();
        names.sort();
        names
            .into_iter()
            .filter(|n| !n.starts_with(".git/"))
            .map(|n| {
                let content = std::fs::read_to_string(tree.join(&n)).unwrap();
                (n, content)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{base, files, patch};
    use super::*;

    #[test]
    fn deny_globs_match_folders_and_files() {
        let s = globset(&["deploy/**".into(), "**/*.pem".into(), ".env".into()]);
        for p in [
            "deploy/app.yaml",
            "deploy/secrets/db.pem",
            "a/b/key.pem",
            ".env",
        ] {
            assert!(s.is_match(p), "{p}");
        }
        for p in ["src/deploy.py", "env", "a/.env.example"] {
            assert!(!s.is_match(p), "{p}");
        }
    }

    const PARENT: &str = "pub fn add(a: u8, b: u8) -> u8 {\n    a - b\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(1, 1), 2);\n    }\n}\n";

    /// The tree graded from a base of `base_files`, the patch under grading turning them into
    /// `patched`, and hidden tests turning them into `tested`; or why there is none.
    fn graded(
        base_files: &[(&str, &str)],
        patched: &[(&str, &str)],
        tested: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, String> {
        let b = base(base_files);
        let p = if patched == base_files {
            Vec::new()
        } else {
            patch(base_files, patched)
        };
        let t = patch(base_files, tested);
        match graded_tree(&b, &Patch::new(p), &t).unwrap() {
            Graded::Ready { tree, .. } => Ok(files(&tree)),
            Graded::PatchFailed(e) => Err(format!("patch failed: {e}")),
            Graded::TestsDoNotApply(e) => Err(format!("tests do not apply: {e}")),
        }
    }

    fn owned(files: &[(&str, &str)]) -> Vec<(String, String)> {
        files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn hidden_tests_beside_code_go_on_top_of_the_patch() {
        let fixed = PARENT.replace("a - b", "a + b");
        let more_tests = PARENT.replace(
            "(1, 1), 2);",
            "(1, 1), 2);\n        assert_eq!(add(2, 3), 5);",
        );
        let both = fixed.replace(
            "(1, 1), 2);",
            "(1, 1), 2);\n        assert_eq!(add(2, 3), 5);",
        );
        // The test change one unchanged line below the code change: the hidden tests' context
        // holds the patch's change, so only a three-way apply puts them in.
        let near = "fn a() -> u8 {\n    1\n}\n#[test]\nfn t() { assert_eq!(a(), 1); }\n";
        let near_fixed = near.replace("    1\n", "    2\n");
        let near_tests = near.replace("a(), 1", "a(), 2");
        let near_both = near_fixed.replace("a(), 1", "a(), 2");
        let conflicting = PARENT.replace("(1, 1), 2", "(1, 1), 99");
        let lib = "src/lib.rs";
        // (what, the base, the patched file, the file with the hidden tests, the graded file
        // or the start of why there is none)
        type Case<'a> = (&'a str, &'a str, &'a str, &'a str, Result<&'a str, &'a str>);
        let cases: &[Case] = &[
            ("the fix, then the tests", PARENT, &fixed, &more_tests, Ok(&both)),
            ("no change: the tests alone", PARENT, PARENT, &more_tests, Ok(&more_tests)),
            ("a change next to the tests", near, &near_fixed, &near_tests, Ok(&near_both)),
            (
                "the patch rewrote the lines the tests change",
                PARENT,
                &conflicting,
                &more_tests,
                Err("patch failed: the hidden tests do not apply on top of the patch's changes to src/lib.rs"),
            ),
        ];
        for (what, parent, patched, tested, want) in cases {
            let got = graded(&[(lib, parent)], &[(lib, patched)], &[(lib, tested)]);
            match want {
                Ok(content) => assert_eq!(got, Ok(owned(&[(lib, content)])), "{what}"),
                Err(prefix) => {
                    let e = got.expect_err(what);
                    assert!(e.starts_with(prefix), "{what}: {e}");
                }
            }
        }
    }

    #[test]
    fn hidden_test_files_are_restored_before_the_tests_apply() {
        let base_files = [
            ("app.py", "x = 1\n"),
            ("tests/test_app.py", "def test(): pass\n"),
        ];
        let hidden = [
            ("app.py", "x = 1\n"),
            ("tests/test_app.py", "def test(): assert True\n"),
            ("tests/test_new.py", "def test_new(): pass\n"),
        ];
        // Read-only test files never reach here edited: an agent's edits to them are
        // reverted before grading, and a mined fix leaves them out.
        let cases: &[(&str, Vec<(&str, &str)>)] = &[
            (
                "the patch added a file the hidden tests add",
                vec![
                    ("app.py", "x = 2\n"),
                    ("tests/test_app.py", "def test(): pass\n"),
                    ("tests/test_new.py", "agent's\n"),
                ],
            ),
            ("the patch deleted a test file", vec![("app.py", "x = 2\n")]),
        ];
        for (what, patched) in cases {
            let got = graded(&base_files, patched, &hidden).unwrap();
            let mut want = owned(&hidden);
            want[0].1 = "x = 2\n".into();
            assert_eq!(got, want, "{what}");
        }
    }
}
