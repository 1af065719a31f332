//! The repository's history as mining reads it, through host git with no user or system
//! configuration (`workspace::git`): a private mirror of `--repo`, the commits to walk, what
//! each changed, its split into gold and test patches (and the file contents a split within
//! a file reads), and the suite's copy as a bundle.

use crate::error::Error;
use crate::repo::workspace::{git, run_git, run_git_stdin};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A bare mirror of the repository being mined, removed when dropped.
pub struct Mirror {
    dir: tempfile::TempDir,
}

impl Mirror {
    /// Clones `repo` (a folder, a bundle file or a URL). A local clone hardlinks objects, so
    /// this is quick even for a large repository.
    pub fn clone_from(repo: &str) -> Result<Mirror, Error> {
        let dir = tempfile::Builder::new()
            .prefix("mergebench-mine-")
            .tempdir()
            .map_err(|e| Error::infra_from("temporary folder", e))?;
        let local = Path::new(repo);
        let url = if local.exists() {
            std::fs::canonicalize(local)
                .unwrap_or_else(|_| local.to_path_buf())
                .to_string_lossy()
                .into_owned()
        } else {
            repo.to_string()
        };
        let mut c = git(dir.path());
        c.args(["clone", "--quiet", "--mirror", &url, "m.git"]);
        run_git(c, "clone").map_err(|e| {
            Error::input(
                repo,
                None,
                format!("cannot read the repository: {e}"),
                "pass --repo a git repository folder, a git bundle file or a reachable URL",
            )
        })?;
        Ok(Mirror { dir })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("m.git")
    }

    fn git(&self, args: &[&str], what: &str) -> Result<Vec<u8>, Error> {
        let mut c = git(&self.path());
        c.args(args);
        run_git(c, what)
    }

    /// The commit HEAD names.
    pub fn head(&self) -> Result<String, Error> {
        let out = self
            .git(&["rev-parse", "--verify", "HEAD^{commit}"], "rev-parse")
            .map_err(|_| Error::Usage("the repository has no commits on HEAD".into()))?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// Commits reachable from HEAD, newest first: the first-parent line (merges of pull
    /// requests included) or, with `all`, every commit that is not a merge.
    pub fn walk(&self, all: bool) -> Result<Vec<Commit>, Error> {
        let mut args = vec!["log", "--format=%x1e%H%x00%P%x00%cI%x00%B"];
        args.push(if all { "--no-merges" } else { "--first-parent" });
        args.push("HEAD");
        let out = self.git(&args, "log")?;
        let text = String::from_utf8_lossy(&out);
        Ok(text
            .split('\u{1e}')
            .filter_map(|rec| {
                let mut f = rec.splitn(4, '\0');
                let sha = f.next()?.trim().to_string();
                if sha.is_empty() {
                    return None;
                }
                let parents = f.next()?.split_whitespace().map(str::to_string).collect();
                let committed_at = f.next()?.trim().to_string();
                let message = f.next().unwrap_or("").trim_end().to_string();
                Some(Commit {
                    sha,
                    parents,
                    committed_at,
                    message,
                })
            })
            .collect())
    }

    /// Paths that differ between two commits, renames shown as a deletion and an addition
    /// so that each side is classified on its own.
    pub fn changed_paths(&self, from: &str, to: &str) -> Result<Vec<String>, Error> {
        let out = self.git(
            &["diff", "--name-only", "-z", "--no-renames", from, to],
            "diff --name-only",
        )?;
        Ok(out
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect())
    }

    /// The diff between two commits limited to `paths`, in the form patches are stored
    /// (binary, full index, renames among those paths detected).
    pub fn diff(&self, from: &str, to: &str, paths: &[String]) -> Result<Vec<u8>, Error> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = git(&self.path());
        c.args(["--literal-pathspecs", "diff"]);
        c.args(crate::repo::workspace::PATCH_FORMAT);
        c.args([from, to, "--"]);
        c.args(paths);
        run_git(c, "diff")
    }

    /// The content of `path` at `rev`; None when `rev` has no such file.
    pub fn blob(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>, Error> {
        match self.git(&["cat-file", "blob", &format!("{rev}:{path}")], "cat-file") {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e @ Error::Environment { .. }) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// The id `content` has as a blob in this repository (in its object format), for the
    /// `index` line of a patch whose result no commit holds.
    pub fn blob_id(&self, content: &[u8]) -> Result<String, Error> {
        let mut c = git(&self.path());
        c.args(["hash-object", "--stdin"]);
        let out = run_git_stdin(c, content, "hash-object")?;
        if !out.status.success() {
            return Err(Error::infra(format!(
                "git hash-object failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The messages of the commits a merge brought in, oldest first, merges skipped.
    pub fn branch_messages(&self, merge: &Commit) -> Result<Vec<String>, Error> {
        let [first, rest @ ..] = merge.parents.as_slice() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for p in rest {
            let range = format!("{first}..{p}");
            let text = self.git(
                &["log", "--reverse", "--no-merges", "--format=%x1e%B", &range],
                "log",
            )?;
            out.extend(
                String::from_utf8_lossy(&text)
                    .split('\u{1e}')
                    .map(|m| m.trim().to_string())
                    .filter(|m| !m.is_empty()),
            );
        }
        Ok(out)
    }

    /// Which of `words` occur as whole words in any text file of `rev`'s tree, or in the
    /// path of any of its files: `deploy/app.yaml` already names `app` and `yaml`.
    pub fn present_in_tree(
        &self,
        rev: &str,
        words: &BTreeSet<String>,
    ) -> Result<BTreeSet<String>, Error> {
        if words.is_empty() {
            return Ok(BTreeSet::new());
        }
        let mut c = git(&self.path());
        c.args(["grep", "-I", "-h", "-o", "-w", "-F"]);
        for w in words {
            c.arg("-e").arg(w);
        }
        c.arg(rev);
        let out = c
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::infra_from("git grep", e))?;
        // Exit status 1 means "nothing found".
        if !out.status.success() && out.status.code() != Some(1) {
            return Err(Error::infra(format!(
                "git grep failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let mut found: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .filter(|w| words.contains(w))
            .collect();
        let paths = self.git(&["ls-tree", "-r", "--name-only", "-z", rev], "ls-tree")?;
        for w in String::from_utf8_lossy(&paths)
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| words.contains(*w))
        {
            found.insert(w.to_string());
        }
        Ok(found)
    }

    /// The names at the top of `rev`'s tree.
    pub fn top_level(&self, rev: &str) -> Result<Vec<String>, Error> {
        let out = self.git(&["ls-tree", "--name-only", "-z", rev], "ls-tree")?;
        Ok(out
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect())
    }

    /// Every file's path in `rev`'s tree.
    pub fn files(&self, rev: &str) -> Result<Vec<String>, Error> {
        let out = self.git(&["ls-tree", "-r", "--name-only", "-z", rev], "ls-tree")?;
        Ok(out
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect())
    }

    /// A file's bytes at `rev`; None when it is not a file there.
    pub fn read(&self, rev: &str, path: &str) -> Option<Vec<u8>> {
        self.git(&["cat-file", "blob", &format!("{rev}:{path}")], "cat-file")
            .ok()
    }

    /// The day `rev` was committed, in UTC.
    pub fn commit_day(&self, rev: &str) -> Result<chrono::NaiveDate, Error> {
        let out = self.git(&["show", "-s", "--format=%cI", rev], "show")?;
        utc_day(rev, &out)
    }

    /// The day, in UTC, of the latest commit at or before `rev` on its first-parent line
    /// that changed any of `paths` (a merge counts for what it brought in): the day those
    /// files took the content they have at `rev`, never after `rev`'s own. None when `paths`
    /// is empty or no commit there touched them.
    pub fn last_change_day(
        &self,
        rev: &str,
        paths: &[String],
    ) -> Result<Option<chrono::NaiveDate>, Error> {
        if paths.is_empty() {
            return Ok(None);
        }
        let mut args = vec![
            "--literal-pathspecs",
            "log",
            "--first-parent",
            "-1",
            "--format=%cI",
            rev,
            "--",
        ];
        args.extend(paths.iter().map(String::as_str));
        let out = self.git(&args, "log")?;
        if out.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        utc_day(rev, &out).map(Some)
    }

    /// Writes the history up to HEAD into a bundle at `dest` (its branch, if HEAD is on one,
    /// and HEAD), through a temporary file beside it so that `dest` is never half-written.
    pub fn bundle(&self, dest: &Path) -> Result<(), Error> {
        let parent = dest.parent().unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".repo.bundle-")
            .tempfile_in(parent)
            .map_err(|e| Error::infra_from(format!("temporary file in {}", parent.display()), e))?;
        let mut refs = vec!["HEAD".to_string()];
        if let Ok(branch) = self.git(&["symbolic-ref", "-q", "HEAD"], "symbolic-ref") {
            let b = String::from_utf8_lossy(&branch).trim().to_string();
            if !b.is_empty() {
                refs.push(b);
            }
        }
        let mut c = git(&self.path());
        c.args(["-c", "pack.threads=1", "bundle", "create", "--quiet"])
            .arg(tmp.path())
            .args(&refs);
        run_git(c, "bundle create")?;
        tmp.persist(dest)
            .map_err(|e| Error::infra_from(format!("writing {}", dest.display()), e))?;
        Ok(())
    }
}

/// The UTC day of the ISO 8601 date git printed for `rev`.
fn utc_day(rev: &str, out: &[u8]) -> Result<chrono::NaiveDate, Error> {
    let text = String::from_utf8_lossy(out).trim().to_string();
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|d| d.with_timezone(&chrono::Utc).date_naive())
        .map_err(|e| Error::infra(format!("git gave {rev} the date `{text}`: {e}")))
}

/// Whether `commit` is one of the heads of the bundle at `path`.
pub fn bundle_has(path: &Path, commit: &str) -> bool {
    let mut c = git(path.parent().unwrap_or(Path::new(".")));
    c.arg("bundle").arg("list-heads").arg(path);
    match run_git(c, "bundle list-heads") {
        Ok(out) => String::from_utf8_lossy(&out)
            .lines()
            .any(|l| l.starts_with(commit)),
        Err(_) => false,
    }
}

#[derive(Debug, Clone)]
pub struct Commit {
    pub sha: String,
    pub parents: Vec<String>,
    /// ISO 8601, with the committer's offset.
    pub committed_at: String,
    pub message: String,
}

impl Commit {
    pub fn subject(&self) -> &str {
        self.message.lines().next().unwrap_or("").trim()
    }

    pub fn is_merge(&self) -> bool {
        self.parents.len() > 1
    }

    /// The day the change landed, in UTC: a task's `created`.
    pub fn date_utc(&self) -> Option<chrono::NaiveDate> {
        chrono::DateTime::parse_from_rfc3339(&self.committed_at)
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc).date_naive())
    }
}
