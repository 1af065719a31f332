//! `mergebench gate`: conventions and blast radius for a real pull request,
//! with a pass/fail verdict and an exit code for CI.
//!
//! [`run`] is pure: diff bytes and configuration in, [`Report`] out. The
//! helpers around it read a diff from a file or stdin, ask git for the diff
//! of a range, and load `mergebench.toml` (plus CODEOWNERS) from a checkout
//! or, better for CI, from the base revision, so that a pull request cannot
//! switch off the rules it is judged by.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::blast::{self, BlastRadius, Tier};
use super::catalog;
use super::config::{Config, ConfigError, Severity};
use super::diff;
use super::report::{ConventionReport, Finding};
use super::rules::{self, RuleSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub passed: bool,
    pub conventions: ConventionReport,
    pub blast_radius: BlastRadius,
    pub fail_on: Option<Tier>,
    /// The tier reached `fail_on`.
    pub tier_failed: bool,
}

impl Report {
    /// Combines the two scores; a tier at or above `fail_on` becomes an
    /// error finding so every output format shows why the gate failed.
    pub fn new(
        mut conventions: ConventionReport,
        blast: BlastRadius,
        fail_on: Option<Tier>,
    ) -> Report {
        let reached = fail_on.filter(|t| blast.tier >= *t);
        let tier_failed = reached.is_some();
        if let Some(t) = reached {
            conventions.findings.push(Finding {
                rule_id: catalog::RISK_TIER.to_string(),
                severity: Severity::Error,
                path: None,
                line: None,
                column: None,
                message: format!(
                    "risk tier {} reaches fail_on = \"{t}\" ({})",
                    blast.tier,
                    blast.reasons.join("; ")
                ),
            });
            if !conventions.rules.iter().any(|r| r.id == catalog::RISK_TIER) {
                conventions
                    .rules
                    .push(catalog::describe(catalog::RISK_TIER));
            }
        }
        let passed = conventions.passed();
        Report {
            passed,
            conventions,
            blast_radius: blast,
            fail_on,
            tier_failed,
        }
    }

    pub fn passed(&self) -> bool {
        self.passed
    }

    pub fn to_sarif(&self, tool_version: &str) -> serde_json::Value {
        super::sarif::to_sarif_with(&self.conventions, tool_version, Some(&self.blast_radius))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{source_name}: this is not a unified diff (no `diff --git` or `---`/`+++` file headers found)\n  fix: pass the output of `git diff` (or `git format-patch`), or use --range A..B inside the repository")]
    NotADiff { source_name: String },
    #[error("cannot read {source_name}: {source}\n  fix: check the path, or pass `-` to read the diff from stdin")]
    Read {
        source_name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid range `{range}`: {why}\n  fix: write it as BASE..HEAD or BASE...HEAD with commit ids, branches or tags")]
    BadRange { range: String, why: String },
    #[error("`git {args}` failed in {repo}: {stderr}\n  fix: run inside a git checkout that has both commits (in CI, fetch with enough depth)")]
    Git {
        repo: String,
        args: String,
        stderr: String,
    },
    #[error("{repo}: no such repository folder, so its rules cannot be read\n  fix: pass --repo the checkout the diff belongs to (the gate never passes without its rules)")]
    NoRepo { repo: String },
    #[error("cannot run git: {source}\n  fix: install git and make sure it is on PATH")]
    GitMissing {
        #[source]
        source: std::io::Error,
    },
}

impl GateError {
    /// The machine lacks something (git); every other error is in the input.
    pub fn is_environment(&self) -> bool {
        matches!(self, GateError::GitMissing { .. })
    }
}

/// What the gate scores: a diff file (`-` for stdin), or a range of the repository.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Diff(&'a str),
    Range(&'a str),
}

/// Scores a real change in `repo`. For a range, the rules come from the range's base, so a
/// pull request cannot switch off its own checks; a diff file is scored by the checkout's.
pub fn gate(repo: &Path, source: Source<'_>) -> Result<Report, GateError> {
    // A CI gate must never pass because --repo was mistyped and no rules were found.
    if !repo.is_dir() {
        return Err(GateError::NoRepo {
            repo: repo.display().to_string(),
        });
    }
    match source {
        Source::Diff(d) => {
            let bytes = read_diff(d)?;
            let cfg = load_repo_config(repo)?;
            let name = if d == "-" { "stdin" } else { d };
            run_named(&bytes, name, &cfg, &[], &|_| None)
        }
        Source::Range(r) => {
            let bytes = diff_for_range(repo, r)?;
            let base = range_base(repo, r)?;
            let cfg = load_repo_config_at(repo, &base)?;
            let reader = git_base_reader(repo, &base);
            run_named(&bytes, r, &cfg, &[], &reader)
        }
    }
}

/// Scores a diff. `expected_area` lists files the change is expected to
/// touch (empty: the rule is skipped); `base_file` returns a file's content
/// before the change, when known.
pub fn run(
    diff_bytes: &[u8],
    cfg: &Config,
    expected_area: &[String],
    base_file: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Report, GateError> {
    run_named(diff_bytes, "the diff", cfg, expected_area, base_file)
}

/// As [`run`], naming the diff's source in errors.
pub fn run_named(
    diff_bytes: &[u8],
    source_name: &str,
    cfg: &Config,
    expected_area: &[String],
    base_file: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Report, GateError> {
    let parsed = diff::parse(diff_bytes);
    if parsed.files.is_empty() && diff_bytes.iter().any(|b| !b.is_ascii_whitespace()) {
        return Err(GateError::NotADiff {
            source_name: source_name.to_string(),
        });
    }
    let ownership = cfg.ownership()?;
    let rule_set = RuleSet::compile(&cfg.conventions)
        .map_err(|e| ConfigError::pattern("mergebench.toml", "", &e.what, e.bad))?;
    let conventions = rules::run(&parsed, &rule_set, &ownership, expected_area, base_file);
    let blast = blast::blast_radius(&parsed, &ownership, &cfg.blast_radius, base_file);
    Ok(Report::new(conventions, blast, cfg.blast_radius.fail_on))
}

/// Reads the diff named on the command line: a file, or `-` for stdin.
pub fn read_diff(arg: &str) -> Result<Vec<u8>, GateError> {
    let mut buf = Vec::new();
    let res = if arg == "-" {
        std::io::stdin().lock().read_to_end(&mut buf).map(|_| ())
    } else {
        std::fs::File::open(arg).and_then(|mut f| f.read_to_end(&mut buf).map(|_| ()))
    };
    res.map_err(|source| GateError::Read {
        source_name: if arg == "-" {
            "stdin".into()
        } else {
            arg.to_string()
        },
        source,
    })?;
    Ok(buf)
}

pub const CONFIG_FILE: &str = "mergebench.toml";
const CODEOWNERS_PLACES: &[&str] = &[".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// Loads `mergebench.toml` from a checkout's root, or the minimal safe
/// defaults when there is none; CODEOWNERS is read too when present.
pub fn load_repo_config(repo_root: &Path) -> Result<Config, ConfigError> {
    let file = repo_root.join(CONFIG_FILE);
    let shown = file.display().to_string();
    let mut cfg = match std::fs::read_to_string(&file) {
        Ok(text) => Config::from_toml(&text, &shown)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::minimal(),
        Err(source) => {
            return Err(ConfigError::Read {
                file: shown,
                source,
            })
        }
    };
    cfg.codeowners_text = match &cfg.codeowners {
        Some(rel) => {
            let p = repo_root.join(rel);
            Some(
                std::fs::read_to_string(&p).map_err(|source| ConfigError::Read {
                    file: p.display().to_string(),
                    source,
                })?,
            )
        }
        None => CODEOWNERS_PLACES
            .iter()
            .find_map(|rel| std::fs::read_to_string(repo_root.join(rel)).ok()),
    };
    Ok(cfg)
}

/// Loads the configuration as it was at `rev` (the pull request's base),
/// so that edits the pull request makes to `mergebench.toml` or CODEOWNERS
/// cannot weaken its own gate.
pub fn load_repo_config_at(repo: &Path, rev: &str) -> Result<Config, GateError> {
    check_rev(rev, rev)?;
    let shown = format!("{rev}:{CONFIG_FILE}");
    let mut cfg = match git_show(repo, rev, CONFIG_FILE)? {
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            Config::from_toml(&text, &shown)?
        }
        None => Config::minimal(),
    };
    let places: Vec<String> = match &cfg.codeowners {
        Some(rel) => vec![rel.clone()],
        None => CODEOWNERS_PLACES.iter().map(|s| s.to_string()).collect(),
    };
    for p in places {
        if let Some(bytes) = git_show(repo, rev, &p)? {
            cfg.codeowners_text = Some(String::from_utf8_lossy(&bytes).into_owned());
            break;
        }
    }
    Ok(cfg)
}

/// Revisions go to git as arguments: refuse anything that git could read
/// as an option or that no ref name can contain.
fn check_rev(range: &str, rev: &str) -> Result<(), GateError> {
    let bad = |why: &str| GateError::BadRange {
        range: range.to_string(),
        why: why.to_string(),
    };
    if rev.is_empty() {
        return Err(bad("a side of the range is empty"));
    }
    if rev.starts_with('-') {
        return Err(bad("a revision may not start with `-`"));
    }
    if rev.len() > 256 || rev.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "a revision may not contain spaces or control characters",
        ));
    }
    Ok(())
}

/// Splits `A..B` / `A...B`; the flag says three dots (diff from the merge
/// base, which is what a pull request shows).
pub fn split_range(range: &str) -> Result<(String, String, bool), GateError> {
    let (a, b, three) = if let Some((a, b)) = range.split_once("...") {
        (a, b, true)
    } else if let Some((a, b)) = range.split_once("..") {
        (a, b, false)
    } else {
        return Err(GateError::BadRange {
            range: range.to_string(),
            why: "no `..` in it".into(),
        });
    };
    check_rev(range, a)?;
    check_rev(range, b)?;
    Ok((a.to_string(), b.to_string(), three))
}

fn git(repo: &Path, args: &[&str]) -> Result<std::process::Output, GateError> {
    Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|source| GateError::GitMissing { source })
}

fn git_ok(repo: &Path, args: &[&str]) -> Result<Vec<u8>, GateError> {
    let out = git(repo, args)?;
    if !out.status.success() {
        return Err(GateError::Git {
            repo: repo.display().to_string(),
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// `git show REV:PATH`, or `None` when the file does not exist there.
fn git_show(repo: &Path, rev: &str, path: &str) -> Result<Option<Vec<u8>>, GateError> {
    let spec = format!("{rev}:{path}");
    let out = git(repo, &["show", "--no-textconv", &spec])?;
    Ok(out.status.success().then_some(out.stdout))
}

/// The diff of a range, in the exact format the parser expects: binary
/// payloads included, rename detection on, and every user setting that
/// would change the format (prefixes, colour, external diff drivers,
/// text conversion) overridden.
pub fn diff_for_range(repo: &Path, range: &str) -> Result<Vec<u8>, GateError> {
    split_range(range)?;
    git_ok(
        repo,
        &[
            "diff",
            "--binary",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--find-renames",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            range,
            "--",
        ],
    )
}

/// The commit a range's diff starts from: A for `A..B`, the merge base for
/// `A...B`.
pub fn range_base(repo: &Path, range: &str) -> Result<String, GateError> {
    let (a, b, three) = split_range(range)?;
    if !three {
        return Ok(a);
    }
    let out = git_ok(repo, &["merge-base", &a, &b])?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// A `base_file` reader that asks git for files at `rev`.
pub fn git_base_reader(repo: &Path, rev: &str) -> impl Fn(&str) -> Option<Vec<u8>> {
    let repo = repo.to_path_buf();
    let rev = rev.to_string();
    move |path: &str| git_show(&repo, &rev, path).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS_AND_CI: &str = "diff --git a/src/settings.py b/src/settings.py\n--- a/src/settings.py\n+++ b/src/settings.py\n@@ -1,2 +1,3 @@\n DEBUG = False\n+AWS_ACCESS_KEY_ID = \"AKIAIOSFODNN7EXAMPLE\"\n REGION = \"eu-west-1\"\ndiff --git a/.github/workflows/ci.yml b/.github/workflows/ci.yml\n--- a/.github/workflows/ci.yml\n+++ b/.github/workflows/ci.yml\n@@ -1,3 +1,3 @@\n on: [push]\n-jobs: {}\n+jobs: { x: {} }\n";

    const README_ONLY: &str = "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # Project\n+More words.\n";

    fn none(_: &str) -> Option<Vec<u8>> {
        None
    }

    /// The rule of each finding, in the report's order.
    fn rule_ids(r: &Report) -> Vec<&str> {
        r.conventions
            .findings
            .iter()
            .map(|f| f.rule_id.as_str())
            .collect()
    }

    #[test]
    fn aws_key_and_ci_edit_fail_with_both_named() {
        let r = run(AWS_AND_CI.as_bytes(), &Config::minimal(), &[], &none).unwrap();
        assert!(!r.passed());
        let ids = rule_ids(&r);
        assert!(ids.contains(&catalog::AWS_KEY), "{ids:?}");
        assert!(ids.contains(&catalog::CI_CONFIG), "{ids:?}");
        assert_eq!(r.blast_radius.tier, Tier::Critical);
    }

    #[test]
    fn readme_only_passes() {
        let r = run(README_ONLY.as_bytes(), &Config::minimal(), &[], &none).unwrap();
        assert!(r.passed(), "{:?}", r.conventions.findings);
        assert_eq!(r.blast_radius.tier, Tier::Low);
    }

    #[test]
    fn fail_on_tier() {
        let mut cfg = Config::minimal();
        cfg.blast_radius.fail_on = Some(Tier::Low);
        let r = run(README_ONLY.as_bytes(), &cfg, &[], &none).unwrap();
        assert!(r.tier_failed);
        assert!(!r.passed());
        assert_eq!(r.conventions.findings[0].rule_id, catalog::RISK_TIER);
    }

    #[test]
    fn bad_input_exits_2() {
        let e = run(
            b"\x89PNG\r\n\x1a\n\0\0binary",
            &Config::minimal(),
            &[],
            &none,
        )
        .unwrap_err();
        assert!(!e.is_environment());
        assert!(e.to_string().contains("not a unified diff"));
        // An empty diff is a valid, empty change.
        assert!(run(b"", &Config::minimal(), &[], &none).unwrap().passed());
    }

    #[test]
    fn ranges_are_checked_before_git_sees_them() {
        for bad in [
            "main",
            "--output=/tmp/x..HEAD",
            "a b..c",
            "..HEAD",
            "main..",
        ] {
            let e = split_range(bad).unwrap_err();
            assert!(!e.is_environment(), "{bad}");
        }
        assert_eq!(
            split_range("origin/main...HEAD").unwrap(),
            ("origin/main".into(), "HEAD".into(), true)
        );
    }

    fn git_available() -> bool {
        Command::new("git").arg("--version").output().is_ok()
    }

    #[test]
    fn range_in_a_real_checkout_reads_config_from_the_base() {
        if !git_available() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("mb-gate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sh = |args: &[&str]| {
            let out = Command::new("git")
                .arg("-C")
                .arg(&dir)
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        sh(&["init", "-q"]);
        std::fs::write(
            dir.join("mergebench.toml"),
            "[conventions]\ntodo = { severity = \"error\" }\n",
        )
        .unwrap();
        std::fs::write(dir.join("app.py"), "x = 1\n").unwrap();
        sh(&["add", "."]);
        sh(&["commit", "-q", "-m", "base"]);
        sh(&["tag", "base"]);
        // The change weakens the gate and adds a TODO.
        std::fs::write(
            dir.join("mergebench.toml"),
            "[conventions]\ntodo = { severity = \"off\" }\n",
        )
        .unwrap();
        std::fs::write(dir.join("app.py"), "x = 1\n# TODO later\n").unwrap();
        sh(&["commit", "-q", "-am", "change"]);

        let diff = diff_for_range(&dir, "base..HEAD").unwrap();
        let cfg = load_repo_config_at(&dir, "base").unwrap();
        let reader = git_base_reader(&dir, &range_base(&dir, "base..HEAD").unwrap());
        let r = run(&diff, &cfg, &[], &reader).unwrap();
        let ids = rule_ids(&r);
        assert!(ids.contains(&catalog::TODO), "{ids:?}");
        assert!(
            ids.contains(&catalog::CI_CONFIG),
            "editing mergebench.toml is flagged: {ids:?}"
        );
        assert!(!r.passed());
        // The checkout's own (weakened) file would have let the TODO pass.
        let head_cfg = load_repo_config(&dir).unwrap();
        assert_eq!(head_cfg.conventions.todo.severity, Some(Severity::Off));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
