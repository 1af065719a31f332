//! `tasks mine`: tasks from the team's own history rather than a public dataset agents may
//! have trained on.
//!
//! Each commit on the first-parent line (a merged pull request counts as one) that changes
//! both code and tests is a candidate: its test-file changes become the hidden tests, the
//! rest the gold patch, its message the problem statement (checked for leaks). Candidates
//! are then proven in Docker: the whole test command runs at the parent commit and with the
//! fix, both with the hidden tests, `--repeat` times; fail_to_pass and pass_to_pass come out
//! of that, flaky tests are left out, and the task is written only when `tasks validate`
//! accepts it. The fate of every commit lands in the store as the survival funnel.

pub mod classify;
pub mod environment;
pub mod funnel;
pub mod history;
pub mod leak;
pub mod statement;
pub mod write;

use crate::config::suite::{load_settings, load_task_at, Source, SuiteSettings, Task, Tests};
use crate::error::Error;
use crate::grade::{run_graded, Ran};
use crate::harness::images::{Image, ImageCache};
use crate::harness::Docker;
use crate::patch::Patch;
use crate::store::Store;
use crate::validate::validate_task;
use crate::workspace::{globset, graded_tree, prepare_base, BaseRepo, Graded};
use chrono::NaiveDate;
use funnel::{Fate, FunnelRow, Stage};
use history::{Commit, Mirror};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use write::{Staged, TaskFiles};

/// What to do with a candidate whose statement names identifiers the fix adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LeakPolicy {
    /// Replace them with `[redacted]` (unless the hidden tests use them: then drop).
    Redact,
    /// Drop the candidate.
    Drop,
}

/// The environment of a new suite, where the user gives it; the rest is proposed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EnvOptions {
    pub dockerfile: Option<PathBuf>,
    pub image: Option<String>,
    pub base: Option<String>,
    pub test_command: Option<String>,
    pub format: Option<String>,
    /// Test-file globs: what goes into the hidden tests.
    pub tests: Vec<String>,
    pub timeout: Option<String>,
}

impl EnvOptions {
    fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let flags = [
            (self.dockerfile.is_some(), "--dockerfile"),
            (self.image.is_some(), "--image"),
            (self.base.is_some(), "--base"),
            (self.test_command.is_some(), "--test-command"),
            (self.format.is_some(), "--format"),
            (!self.tests.is_empty(), "--tests"),
            (self.timeout.is_some(), "--timeout"),
        ];
        for (set, name) in flags {
            if set {
                v.push(name);
            }
        }
        v
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MineOptions {
    /// A repository folder, a bundle file or a URL.
    pub repo: String,
    /// The suite folder tasks are written into.
    pub out: PathBuf,
    /// Only commits that landed on or after this day (UTC).
    pub since: Option<NaiveDate>,
    /// Only commits that landed on or before this day (UTC).
    pub until: Option<NaiveDate>,
    /// Only commits that change a path matching one of these globs.
    pub paths: Vec<String>,
    /// Stop after writing this many tasks.
    pub max: Option<usize>,
    /// Runs per tree; tests whose result changes between them are flaky.
    pub repeat: u32,
    /// Candidates checked at once.
    pub jobs: usize,
    /// Every non-merge commit instead of the first-parent line.
    pub all_commits: bool,
    /// Texts of linked issues, as `<number>.md` or `<number>.txt`.
    pub issues: Option<PathBuf>,
    pub leak: LeakPolicy,
    pub env: EnvOptions,
    /// Print one line per commit to stderr as it is decided.
    #[serde(skip)]
    pub progress: bool,
}

#[derive(Debug, Serialize)]
pub struct MineReport {
    pub run: String,
    pub suite: PathBuf,
    /// What was proposed or refreshed in the suite's settings, for the user to review.
    pub setup: Vec<String>,
    pub funnel: Vec<FunnelRow>,
    pub commits: Vec<Fate>,
    pub written: Vec<String>,
    /// Candidates whose tests ran in Docker.
    pub candidates_checked: usize,
    pub seconds: f64,
}

impl MineReport {
    /// Candidates checked in Docker per minute of the whole run.
    pub fn checked_per_minute(&self) -> f64 {
        if self.seconds > 0.0 {
            self.candidates_checked as f64 * 60.0 / self.seconds
        } else {
            0.0
        }
    }
}

const DEFAULT_DENY: &[&str] = &[".env", "**/*.pem", "**/*.key"];

pub async fn mine(docker: &Docker, store: &Store, opts: &MineOptions) -> Result<MineReport, Error> {
    check_options(opts)?;
    let started = Instant::now();
    let repo = opts.repo.clone();
    let mirror = tokio::task::spawn_blocking(move || Mirror::clone_from(&repo))
        .await
        .map_err(|e| Error::infra(e.to_string()))??;
    let head = mirror.head()?;
    let (settings, setup) = prepare_suite(&mirror, &head, opts)?;
    if settings.scope.read_only.is_empty() {
        return Err(Error::input(
            &settings.file,
            None,
            "[scope] read_only is empty, so no file counts as a test",
            "list the test files' globs, e.g. `read_only = [\"tests/**\"]`: mining splits them off as the hidden tests",
        ));
    }
    let run_id = store.start_mine_run(
        &opts.repo,
        &opts.out.display().to_string(),
        &serde_json::to_value(opts).unwrap_or_default(),
    )?;
    let ctx = Ctx {
        docker,
        opts,
        tests: globset(&settings.scope.read_only),
        deny: globset(&settings.scope.deny),
        paths: (!opts.paths.is_empty()).then(|| globset(&opts.paths)),
        settings,
        images: ImageCache::default(),
        env: tokio::sync::Mutex::new(None),
        mirror,
    };
    let mut taken: BTreeSet<String> = std::fs::read_dir(&opts.out)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();

    let mut fates: Vec<Fate> = Vec::new();
    let mut written: Vec<String> = Vec::new();
    let mut checked = 0;
    // Decided commits wait here, in scan order, until the wave of candidates among them is
    // checked, so the funnel lists commits in the order they were walked.
    let mut pending: Vec<Pending> = Vec::new();
    let mut wave: Vec<Candidate> = Vec::new();
    let record = |fates: &mut Vec<Fate>, fate: Fate| -> Result<(), Error> {
        store.record_mine_commit(&run_id, &fate.to_row())?;
        if opts.progress {
            eprintln!(
                "{} {:<17} {}",
                &fate.commit[..fate.commit.len().min(10)],
                fate.reached.as_str(),
                fate.task_id
                    .as_deref()
                    .filter(|_| fate.reason.is_none())
                    .or(fate.reason.as_deref())
                    .unwrap_or_default()
            );
        }
        fates.push(fate);
        Ok(())
    };
    let commits = ctx.mirror.walk(opts.all_commits)?;
    let mut walk = commits.iter();
    let mut exhausted = false;
    loop {
        let room = opts
            .max
            .map_or(usize::MAX, |m| m.saturating_sub(written.len()));
        // Walk until a wave of candidates is ready (as many as --jobs, never more than
        // --max still allows) or the history ends. Host git only, between waves: nothing
        // else runs while it blocks.
        while !exhausted && room > 0 && wave.len() < opts.jobs.min(room) {
            let Some(c) = walk.next() else {
                exhausted = true;
                break;
            };
            let day = c.date_utc();
            if opts.since.is_some_and(|s| day.is_some_and(|d| d < s))
                || opts.until.is_some_and(|u| day.is_some_and(|d| d > u))
            {
                continue;
            }
            match ctx.candidate(c, &taken) {
                Ok(cand) => {
                    taken.insert(cand.id.clone());
                    pending.push(Pending::Waiting(wave.len()));
                    wave.push(cand);
                }
                Err(fate) => pending.push(Pending::Decided(fate)),
            }
        }
        checked += wave.len();
        let results = futures_util::future::join_all(wave.iter().map(|cand| ctx.check(cand))).await;
        let mut decided: Vec<Option<Fate>> = Vec::new();
        for r in results {
            let Checked { mut fate, staged } = r?;
            if let Some(staged) = staged {
                let id = fate.task_id.clone().unwrap_or_default();
                match write::commit(staged, &opts.out.join(&id)) {
                    Ok(()) => {
                        fate.reached = Stage::Written;
                        written.push(id);
                    }
                    Err(e) => fate.reason = Some(format!("cannot write the task: {e}")),
                }
            }
            decided.push(Some(fate));
        }
        for p in pending.drain(..) {
            let fate = match p {
                Pending::Decided(f) => *f,
                Pending::Waiting(i) => decided[i].take().expect("each candidate decided once"),
            };
            record(&mut fates, fate)?;
        }
        if wave.is_empty() {
            break;
        }
        wave.clear();
    }
    store.finish_mine_run(&run_id)?;
    Ok(MineReport {
        run: run_id,
        suite: opts.out.clone(),
        setup,
        funnel: funnel::funnel(&fates),
        commits: fates,
        written,
        candidates_checked: checked,
        seconds: started.elapsed().as_secs_f64(),
    })
}

enum Pending {
    Decided(Box<Fate>),
    /// The candidate at this index of the current wave.
    Waiting(usize),
}

fn check_options(opts: &MineOptions) -> Result<(), Error> {
    if opts.repeat == 0 {
        return Err(Error::Usage("--repeat must be at least 1".into()));
    }
    if opts.jobs == 0 {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }
    if opts.max == Some(0) {
        return Err(Error::Usage("--max must be at least 1".into()));
    }
    if let (Some(s), Some(u)) = (opts.since, opts.until) {
        if s > u {
            return Err(Error::Usage(format!(
                "--since {s} is after --until {u}: no commit can match"
            )));
        }
    }
    for (flag, globs) in [("--paths", &opts.paths), ("--tests", &opts.env.tests)] {
        for g in globs {
            globset::Glob::new(g).map_err(|e| {
                Error::Usage(format!(
                    "{flag} `{g}` is not a valid glob ({e}); write one like \"src/**\""
                ))
            })?;
        }
    }
    Ok(())
}

/// The first few of `names`, and how many more there are: reasons stay one readable line.
fn some_of(names: &[String]) -> String {
    const SHOWN: usize = 5;
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!(
            "{} and {} more",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        )
    }
}

/// Reads the suite's settings from `--out/suite.toml`, or writes a new suite there: the
/// repository as `repo.bundle`, the environment from the flags or proposed from what the
/// repository uses. Returns the settings and what was set up, for the user to review.
fn prepare_suite(
    mirror: &Mirror,
    head: &str,
    opts: &MineOptions,
) -> Result<(SuiteSettings, Vec<String>), Error> {
    let out = &opts.out;
    let suite_file = out.join("suite.toml");
    let bundle = out.join("repo.bundle");
    let mut setup = Vec::new();
    if suite_file.exists() {
        let given = opts.env.given();
        if !given.is_empty() {
            return Err(Error::Usage(format!(
                "{} exists and its settings are what tasks inherit, so {} would be ignored: \
                 drop {} or edit that file",
                suite_file.display(),
                given.join(", "),
                if given.len() == 1 { "it" } else { "them" },
            )));
        }
        let settings = load_settings(out)?;
        // The suite's own copy of the repository follows it, so new commits can be mined.
        if let Source::Bundle(p) = &settings.source {
            let ours = std::fs::canonicalize(p).ok() == std::fs::canonicalize(&bundle).ok();
            if ours && !history::bundle_has(p, head) {
                mirror.bundle(p)?;
                setup.push(format!("updated {} to {head}", p.display()));
            }
        }
        return Ok((settings, setup));
    }
    std::fs::create_dir_all(out).map_err(|e| {
        Error::input(
            out,
            None,
            format!("cannot create the suite folder: {e}"),
            "pass --out a folder you can write",
        )
    })?;
    let env = &opts.env;
    let top = mirror.top_level(head)?;
    let detected = environment::detect(&top);
    let proposal = detected.map(|(lang, _)| environment::propose(lang));
    let needs = (env.dockerfile.is_none() && env.image.is_none())
        || env.test_command.is_none()
        || env.format.is_none()
        || env.tests.is_empty();
    if needs && proposal.is_none() {
        return Err(Error::Usage(format!(
            "cannot tell how {} runs its tests (no pyproject.toml, setup.py, Cargo.toml, go.mod \
             or package.json at its top): pass --dockerfile (or --image), --test-command, \
             --format and --tests, or write {} yourself",
            opts.repo,
            suite_file.display()
        )));
    }
    let format = match &env.format {
        Some(f) => {
            f.parse::<crate::testparse::Format>()
                .map_err(|e| Error::Usage(format!("--format: {e}")))?;
            f.clone()
        }
        None => proposal.as_ref().unwrap().format.to_string(),
    };
    let command = env
        .test_command
        .clone()
        .unwrap_or_else(|| proposal.as_ref().unwrap().command.clone());
    let test_globs = if env.tests.is_empty() {
        proposal.as_ref().unwrap().test_globs.clone()
    } else {
        env.tests.clone()
    };
    let write_file = |path: &Path, bytes: &[u8]| -> Result<(), Error> {
        let parent = path.parent().unwrap();
        std::fs::create_dir_all(parent)
            .and_then(|_| {
                let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
                std::io::Write::write_all(&mut tmp, bytes)?;
                // A temporary file is private; the suite's files are read by everyone.
                use std::os::unix::fs::PermissionsExt;
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(0o644))?;
                tmp.persist(path).map(|_| ()).map_err(|e| e.error)
            })
            .map_err(|e| Error::infra(format!("writing {}: {e}", path.display())))
    };
    let env_spec = match (&env.image, &env.dockerfile) {
        (Some(image), None) => environment::EnvSpec::Image(image.clone()),
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "--image and --dockerfile both name the environment: keep one".into(),
            ))
        }
        (None, Some(df)) => {
            let bytes = std::fs::read(df).map_err(|e| {
                Error::input(
                    df,
                    None,
                    format!("cannot read the Dockerfile: {e}"),
                    "pass --dockerfile an existing file",
                )
            })?;
            write_file(&out.join("env/Dockerfile"), &bytes)?;
            setup.push(format!(
                "copied {} to env/Dockerfile (its build context is env/)",
                df.display()
            ));
            environment::EnvSpec::Dockerfile("env/Dockerfile".into())
        }
        (None, None) => {
            let p = proposal.as_ref().unwrap();
            write_file(&out.join("env/Dockerfile"), p.dockerfile.as_bytes())?;
            setup.push(format!(
                "proposed env/Dockerfile for {} (found {})",
                p.language.as_str(),
                detected.map(|d| d.1).unwrap_or_default()
            ));
            environment::EnvSpec::Dockerfile("env/Dockerfile".into())
        }
    };
    if env.test_command.is_none() || env.format.is_none() || env.tests.is_empty() {
        setup.push(format!(
            "tests: `{command}` read as {format}; test files: {}",
            test_globs.join(", ")
        ));
    }
    mirror.bundle(&bundle)?;
    let name = out
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "mined".into());
    let text = environment::suite_toml(&environment::NewSuite {
        name,
        origin: opts.repo.clone(),
        source: "repo.bundle".into(),
        env: env_spec,
        base: env.base.clone(),
        command,
        format,
        timeout: env.timeout.clone().unwrap_or_else(|| "10m".into()),
        test_globs,
        deny: DEFAULT_DENY.iter().map(|s| s.to_string()).collect(),
    });
    // Written last: its presence is what marks the suite as set up.
    write_file(&suite_file, text.as_bytes())?;
    setup.push(format!(
        "wrote {} (review it: later runs use it as it is)",
        suite_file.display()
    ));
    Ok((load_settings(out)?, setup))
}

struct Ctx<'a> {
    docker: &'a Docker,
    opts: &'a MineOptions,
    settings: SuiteSettings,
    tests: globset::GlobSet,
    deny: globset::GlobSet,
    paths: Option<globset::GlobSet>,
    images: ImageCache,
    /// The suite's environment image, built once; a failure is kept so it is not retried
    /// for every candidate.
    env: tokio::sync::Mutex<Option<Result<Image, String>>>,
    mirror: Mirror,
}

/// A commit that changes code and tests, split and described, ready to be checked.
struct Candidate {
    commit: Commit,
    parent: String,
    id: String,
    title: String,
    problem: String,
    created: String,
    gold: Vec<u8>,
    tests: Vec<u8>,
    notes: Vec<String>,
}

impl Candidate {
    fn fate(&self, reached: Stage, reason: Option<String>) -> Fate {
        Fate {
            commit: self.commit.sha.clone(),
            subject: self.commit.subject().to_string(),
            committed_at: self.commit.committed_at.clone(),
            reached,
            reason,
            task_id: Some(self.id.clone()),
            notes: self.notes.clone(),
        }
    }
}

struct Checked {
    fate: Fate,
    /// The task, written beside the suite and accepted by `tasks validate`.
    staged: Option<Staged>,
}

impl Ctx<'_> {
    /// Splits and describes a commit; a commit that is no candidate comes back as its fate.
    fn candidate(&self, c: &Commit, taken: &BTreeSet<String>) -> Result<Candidate, Box<Fate>> {
        let skip = |reached: Stage, reason: String, notes: Vec<String>| {
            Box::new(Fate {
                commit: c.sha.clone(),
                subject: c.subject().to_string(),
                committed_at: c.committed_at.clone(),
                reached,
                reason: Some(reason),
                task_id: None,
                notes,
            })
        };
        let git_failed = |e: Error| skip(Stage::Scanned, format!("git: {e}"), vec![]);
        let Some(parent) = c.parents.first() else {
            return Err(skip(
                Stage::Scanned,
                "root commit: there is no parent to start from".into(),
                vec![],
            ));
        };
        let changed = self
            .mirror
            .changed_paths(parent, &c.sha)
            .map_err(git_failed)?;
        if let Some(p) = &self.paths {
            if !changed.iter().any(|f| p.is_match(f)) {
                return Err(skip(
                    Stage::Scanned,
                    "changes nothing matching --paths".into(),
                    vec![],
                ));
            }
        }
        let (tests, code): (Vec<String>, Vec<String>) =
            changed.into_iter().partition(|f| self.tests.is_match(f));
        let reason = match (code.is_empty(), tests.is_empty()) {
            (true, true) => Some("changes no file"),
            (false, true) => Some("changes no test file (none matches [scope] read_only)"),
            (true, false) => Some("changes only test files"),
            (false, false) => None,
        };
        if let Some(r) = reason {
            return Err(skip(Stage::Scanned, r.into(), vec![]));
        }
        let denied: Vec<&String> = code.iter().filter(|f| self.deny.is_match(f)).collect();
        if !denied.is_empty() {
            return Err(skip(
                Stage::Scanned,
                format!(
                    "the fix changes files agents never see ([scope] deny): {}",
                    denied
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                vec![],
            ));
        }
        let gold = self
            .mirror
            .diff(parent, &c.sha, &code)
            .map_err(git_failed)?;
        let tests_patch = self
            .mirror
            .diff(parent, &c.sha, &tests)
            .map_err(git_failed)?;
        let branch = if c.is_merge() {
            self.mirror.branch_messages(c).map_err(git_failed)?
        } else {
            Vec::new()
        };
        let st = statement::from_message(&c.message, &branch, |n| self.issue_text(n));
        let mut notes = Vec::new();
        for n in &st.missing_issues {
            notes.push(match &self.opts.issues {
                Some(d) => format!("links issue #{n}, which {} has no text for", d.display()),
                None => format!("links issue #{n}; pass --issues DIR to add its text"),
            });
        }
        // The leak check: identifiers the fix adds that the parent commit never had.
        let added = leak::added_identifiers(&gold);
        let present = self
            .mirror
            .present_in_tree(parent, &added)
            .map_err(git_failed)?;
        let new: BTreeSet<String> = added.difference(&present).cloned().collect();
        let leaked = leak::leaks(&format!("{}\n{}", st.title, st.problem), &new);
        let (mut title, mut problem) = (st.title, st.problem);
        if !leaked.is_empty() {
            let used_by_tests = leak::added_words(&tests_patch);
            let interface: Vec<&String> = leaked
                .iter()
                .filter(|w| used_by_tests.contains(*w))
                .collect();
            if self.opts.leak == LeakPolicy::Drop {
                return Err(skip(
                    Stage::Scanned,
                    format!(
                        "the problem statement names what the fix adds: {}",
                        leaked.join(", ")
                    ),
                    notes,
                ));
            }
            if !interface.is_empty() {
                return Err(skip(
                    Stage::Scanned,
                    format!(
                        "the problem statement names {}, which the fix adds and the hidden tests \
                         use: redacted, the task could not be solved",
                        interface
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    notes,
                ));
            }
            title = leak::redact(&title, &leaked);
            problem = leak::redact(&problem, &leaked);
            notes.push(format!(
                "redacted from the problem statement (the fix adds them): {}",
                leaked.join(", ")
            ));
        }
        let id = write::task_id(&title, &c.sha);
        let created = match c.date_utc() {
            Some(d) => d.to_string(),
            None => {
                return Err(skip(
                    Stage::Scanned,
                    format!("unreadable commit date `{}`", c.committed_at),
                    notes,
                ))
            }
        };
        let cand = Candidate {
            commit: c.clone(),
            parent: parent.clone(),
            id,
            title,
            problem,
            created,
            gold,
            tests: tests_patch,
            notes,
        };
        if taken.contains(&cand.id) {
            return Err(Box::new(cand.fate(
                Stage::Candidate,
                Some(format!("already in the suite as {}", cand.id)),
            )));
        }
        Ok(cand)
    }

    fn issue_text(&self, n: u64) -> Option<String> {
        let dir = self.opts.issues.as_ref()?;
        ["md", "txt"]
            .iter()
            .find_map(|ext| std::fs::read_to_string(dir.join(format!("{n}.{ext}"))).ok())
    }

    /// The task as it would be written, before its test lists are known.
    fn provisional(&self, c: &Candidate) -> Task {
        let s = &self.settings;
        Task {
            suite: s.name.clone(),
            id: c.id.clone(),
            title: c.title.clone(),
            created: Some(c.created.clone()),
            tags: vec!["mined".into()],
            problem: c.problem.clone(),
            source: s.source.clone(),
            base: c.parent.clone(),
            environment: s.environment.clone(),
            tests: Tests {
                command: s.command.clone(),
                format: s.format.clone(),
                patch: c.tests.clone(),
                fail_to_pass: Vec::new(),
                pass_to_pass: Vec::new(),
                timeout: s.timeout,
            },
            gold: Some(c.gold.clone()),
            scope: s.scope.clone(),
            file: self.opts.out.join(&c.id).join("task.toml"),
            hash: String::new(),
        }
    }

    async fn environment(&self) -> Result<Image, String> {
        let mut slot = self.env.lock().await;
        if let Some(r) = &*slot {
            return r.clone();
        }
        let r = self
            .images
            .environment(self.docker, &self.settings.environment, &self.settings.file)
            .await
            .map_err(|e| e.to_string());
        *slot = Some(r.clone());
        r
    }

    /// Proves a candidate in Docker. Errors are only those that stop the whole run (the
    /// suite's source lacks the history, Docker went away); the rest is the candidate's fate.
    async fn check(&self, c: &Candidate) -> Result<Checked, Error> {
        let dropped = |reached: Stage, reason: String| Checked {
            fate: c.fate(reached, Some(reason)),
            staged: None,
        };
        let task = self.provisional(c);
        let t = task.clone();
        let base = match tokio::task::spawn_blocking(move || prepare_base(&t))
            .await
            .map_err(|e| Error::infra(e.to_string()))?
        {
            Ok(b) => Arc::new(b),
            Err(e @ (Error::Input { .. } | Error::Environment { .. })) => return Err(e),
            Err(e) => {
                return Ok(dropped(
                    Stage::Candidate,
                    format!("cannot check out the parent commit: {e}"),
                ))
            }
        };
        if let Err(reason) = self.patches_apply(&base, c).await? {
            return Ok(dropped(Stage::Candidate, reason));
        }
        let image = match self.environment().await {
            Ok(i) => i,
            Err(e) => {
                return Ok(dropped(
                    Stage::PatchesApply,
                    format!("the environment image does not build: {e}"),
                ))
            }
        };
        let mut notes = Vec::new();
        let mut runs = [Vec::new(), Vec::new()];
        let patches = [Patch::new(Vec::new()), Patch::new(c.gold.clone())];
        for _ in 0..self.opts.repeat {
            for (phase, patch) in patches.iter().enumerate() {
                let name = ["at the parent commit", "with the fix"][phase];
                let t = match run_graded(self.docker, &task, &base, &image, patch).await {
                    Ok(Ran::Tests(t)) => t,
                    Ok(Ran::PatchFailed(e)) => {
                        return Ok(dropped(
                            Stage::EnvironmentBuilt,
                            format!("the fix does not apply: {e}"),
                        ))
                    }
                    Err(e @ Error::Environment { .. }) => return Err(e),
                    Err(e) => {
                        return Ok(dropped(
                            Stage::EnvironmentBuilt,
                            format!("the tests could not run {name}: {e}"),
                        ))
                    }
                };
                if let Some(e) = t.parse_error {
                    return Ok(dropped(
                        Stage::EnvironmentBuilt,
                        format!("the test output {name} could not be read: {e}"),
                    ));
                }
                let (seen, inconsistent) = classify::observe(&t.run, t.exit_code, t.timed_out);
                if inconsistent {
                    let why = if t.timed_out {
                        "the tests timed out".to_string()
                    } else {
                        format!(
                            "the test command exited with {} without naming a failing test",
                            t.exit_code
                        )
                    };
                    notes.push(format!("{name}, {why}: no pass of that run was believed"));
                }
                runs[phase].push(seen);
            }
        }
        notes.dedup();
        let lists = classify::classify(&runs[0], &runs[1]);
        let runs_note = |n: u32| {
            if n == 1 {
                "1 run".to_string()
            } else {
                format!("{n} runs")
            }
        };
        if !lists.flaky.is_empty() {
            notes.push(format!(
                "flaky across {} of each tree, left out: {}",
                runs_note(self.opts.repeat),
                lists.flaky.join(", ")
            ));
        }
        if !lists.broken_by_fix.is_empty() {
            notes.push(format!(
                "pass at the parent commit but not with the fix, left out: {}",
                lists.broken_by_fix.join(", ")
            ));
        }
        if lists.fail_to_pass.is_empty() {
            let mut reason =
                "no test fails at the parent commit and passes with the fix".to_string();
            if runs[1].iter().all(|r| r.is_empty()) {
                reason = "the test command reported no tests with the fix".to_string();
            } else {
                if lists.failing.is_empty() {
                    reason.push_str(": its tests already pass without it");
                } else {
                    reason.push_str(&format!(": {} fail with it too", some_of(&lists.failing)));
                }
                if !lists.flaky.is_empty() {
                    reason.push_str(&format!(
                        " (flaky across {} of each tree, left out: {})",
                        runs_note(self.opts.repeat),
                        some_of(&lists.flaky)
                    ));
                }
            }
            let mut f = c.fate(Stage::EnvironmentBuilt, Some(reason));
            f.notes.extend(notes);
            return Ok(Checked {
                fate: f,
                staged: None,
            });
        }
        let files = TaskFiles {
            id: c.id.clone(),
            title: c.title.clone(),
            created: c.created.clone(),
            tags: vec!["mined".into()],
            commit: c.commit.sha.clone(),
            base: c.parent.clone(),
            fail_to_pass: lists.fail_to_pass,
            pass_to_pass: lists.pass_to_pass,
            problem: c.problem.clone(),
            gold: c.gold.clone(),
            tests: c.tests.clone(),
        };
        let mut fate = c.fate(Stage::EnvironmentBuilt, None);
        fate.notes.extend(notes);
        let staged = match write::stage(&self.opts.out, &files) {
            Ok(s) => s,
            Err(e) => {
                fate.reason = Some(format!("cannot write the task: {e}"));
                return Ok(Checked { fate, staged: None });
            }
        };
        // What gets proven is what was written: the files, read back as `tasks validate` reads them.
        let loaded = match load_task_at(&self.opts.out, &staged.task_file()) {
            Ok(t) => t,
            Err(e) => {
                fate.reason = Some(format!("the written task does not load: {e}"));
                return Ok(Checked { fate, staged: None });
            }
        };
        match validate_task(self.docker, &self.images, &loaded, 1).await {
            Ok(v) if v.valid => {
                fate.reached = Stage::Validated;
                Ok(Checked {
                    fate,
                    staged: Some(staged),
                })
            }
            Ok(v) => {
                fate.reason = Some(format!(
                    "`tasks validate` rejects it on a further run: {}",
                    v.problems.join("; ")
                ));
                Ok(Checked { fate, staged: None })
            }
            Err(e @ Error::Environment { .. }) => Err(e),
            Err(e) => {
                fate.reason = Some(format!("`tasks validate` could not run: {e}"));
                Ok(Checked { fate, staged: None })
            }
        }
    }

    /// Whether the fix and the test changes apply to the parent commit, checked on the host
    /// before any container starts: Ok(Err(reason)) when they do not.
    async fn patches_apply(
        &self,
        base: &Arc<BaseRepo>,
        c: &Candidate,
    ) -> Result<Result<(), String>, Error> {
        let (b, gold, tests) = (base.clone(), Patch::new(c.gold.clone()), c.tests.clone());
        let graded = tokio::task::spawn_blocking(move || graded_tree(&b, &gold, &tests))
            .await
            .map_err(|e| Error::infra(e.to_string()))??;
        Ok(match graded {
            Graded::Ready { .. } => Ok(()),
            Graded::PatchFailed(e) => Err(format!("the fix does not apply to its parent: {e}")),
            Graded::TestsDoNotApply(e) => Err(format!(
                "the test changes do not apply to the parent commit: {e}"
            )),
        })
    }
}
