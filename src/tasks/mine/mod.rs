//! `tasks mine`: tasks from the team's own history rather than a public dataset agents may
//! have trained on.
//!
//! Each commit on the first-parent line (a merged pull request counts as one) that changes
//! both code and tests is a candidate: its test-file changes (and the test code inside Rust
//! files, `split`) become the hidden tests, the rest the gold patch, its message the problem
//! statement (checked for leaks). Candidates are then proven in Docker: the whole test
//! command runs at the parent commit and with the fix, both with the hidden tests,
//! `--repeat` times; fail_to_pass and pass_to_pass come out of that, flaky tests are left
//! out, and the task is written only when `tasks validate` accepts it. The fate of every
//! commit lands in the store as the survival funnel.

pub mod basis;
mod candidate;
pub mod cause;
pub mod classify;
pub mod environment;
pub mod envs;
pub mod funnel;
pub mod history;
pub mod interface;
pub mod leak;
mod prove;
mod rewrite;
mod setup;
pub mod statement;
pub mod write;

use crate::config::suite::{Environment, SuiteSettings};
use crate::error::Error;
use crate::harness::images::{Image, ImageCache};
use crate::harness::Docker;
use crate::repo::workspace::globset;
use crate::run::JudgeSetup;
use crate::store::Store;
use candidate::Candidate;
use chrono::NaiveDate;
use funnel::{Fate, FunnelRow, Stage};
use history::Mirror;
use prove::Checked;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

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
    /// A CA bundle for image builds behind a TLS-inspecting proxy.
    pub ca_bundle: Option<PathBuf>,
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
            (self.ca_bundle.is_some(), "--ca-bundle"),
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
    /// The judge that rewrites problem statements (`--rewrite`), by name or path.
    pub rewrite: Option<String>,
    pub env: EnvOptions,
    /// Apply the environment flags to an existing suite.toml instead of refusing them.
    pub update: bool,
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
    /// What rewriting problem statements did, when `--rewrite` was given.
    pub rewrite: Option<rewrite::RewriteSummary>,
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

/// Mines `opts.repo` into `opts.out`. With `rewriter`, problem statements of proven tasks are
/// rewritten through that judge's provider (and leak-checked again).
/// [`mine`] until it finishes or Ctrl-C: then its staged task folders are removed, its test
/// runs stopped, the run's containers collected, and the answer is `Error::Interrupted`.
/// Tasks already written stay.
pub async fn mine_until_interrupted(
    docker: &Docker,
    store: &Store,
    opts: &MineOptions,
    rewriter: Option<&JudgeSetup>,
) -> Result<MineReport, Error> {
    // Boxed so that dropping it on Ctrl-C removes its staged task folders and stops its test
    // runs before their containers are collected.
    let mut work = Box::pin(mine(docker, store, opts, rewriter));
    let finished = tokio::select! {
        r = &mut work => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    drop(work);
    match finished {
        Some(report) => report,
        None => {
            docker.clean_up_run().await;
            eprintln!(
                "interrupted: tasks already written are kept; the same command again skips them"
            );
            Err(Error::Interrupted)
        }
    }
}

pub async fn mine(
    docker: &Docker,
    store: &Store,
    opts: &MineOptions,
    rewriter: Option<&JudgeSetup>,
) -> Result<MineReport, Error> {
    check_options(opts)?;
    if let Some(r) = rewriter {
        rewrite::check_judge(&r.judge)?;
    }
    let started = Instant::now();
    let repo = opts.repo.clone();
    let mirror = tokio::task::spawn_blocking(move || Mirror::clone_from(&repo))
        .await
        .map_err(|e| Error::infra_from("", e))??;
    let head = mirror.head()?;
    let (settings, mut setup) = setup::prepare_suite(&mirror, &head, opts)?;
    if settings.scope.read_only.is_empty() {
        return Err(Error::input(
            &settings.file,
            None,
            "[scope] read_only is empty, so no file counts as a test",
            "list the test files' globs, e.g. `read_only = [\"tests/**\"]`: mining splits them off as the hidden tests",
        ));
    }
    let keying = envs::Keying::new(&settings, &opts.out, &mirror, &head)?;
    setup.extend(
        keying
            .as_ref()
            .and_then(|k| k.note())
            .map(|n| format!("note: {n}")),
    );
    let run_id = store.start_mine_run(
        &opts.repo,
        &opts.out.display().to_string(),
        &serde_json::to_value(opts).unwrap_or_default(),
    )?;
    let ctx = Ctx {
        docker,
        store,
        rewriter,
        rewrites: rewrite::Counts::default(),
        opts,
        tests: globset(&settings.scope.read_only),
        deny: globset(&settings.scope.deny),
        paths: (!opts.paths.is_empty()).then(|| globset(&opts.paths)),
        settings,
        images: ImageCache::default(),
        keying,
        envs: tokio::sync::Mutex::new(HashMap::new()),
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
                    Err(e) => {
                        fate.reason = Some(format!("cannot write the task: {e}"));
                        fate.cause = Some(cause::Cause::Other);
                    }
                }
            }
            decided.push(Some(fate));
        }
        for p in pending.drain(..) {
            let fate = match p {
                Pending::Decided(f) => *f,
                // cannot fail: each waiting entry names its own index in this wave, once.
                Pending::Waiting(i) => decided[i].take().expect("each candidate decided once"),
            };
            record(&mut fates, fate)?;
        }
        if wave.is_empty() {
            break;
        }
        wave.clear();
        if written.is_empty() {
            if let Some(stop) = early_stop(&fates) {
                store.finish_mine_run(&run_id)?;
                eprint!("{}", funnel::render(&fates));
                return Err(stop);
            }
        }
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
        rewrite: rewriter.map(|r| ctx.rewrites.summary(r)),
    })
}

/// How many candidates in a row must fail the same environmental way before mining stops.
const EARLY_STOP_AFTER: usize = 4;

/// When the first candidates checked in Docker all failed for the same environmental cause
/// (the image, the toolchain, a dependency, the network), no later commit will do better:
/// stop with that cause, its fix and one example's evidence instead of walking the history.
fn early_stop(fates: &[Fate]) -> Option<Error> {
    let checked: Vec<&Fate> = fates
        .iter()
        .filter(|f| f.reached >= Stage::Candidate && f.cause.is_some())
        .collect();
    if checked.len() < EARLY_STOP_AFTER {
        return None;
    }
    let cause = checked[0].cause?;
    if !cause.is_environmental() || checked.iter().any(|f| f.cause != Some(cause)) {
        return None;
    }
    let example = checked[0];
    let evidence = funnel::explain(&example.to_row());
    Some(Error::env(
        format!(
            "stopped early: the first {} candidates all failed the same way ({}); no task was written.\n{}",
            checked.len(),
            cause.label(),
            evidence.trim_end()
        ),
        cause.fix().unwrap_or("see the evidence above"),
    ))
}

/// An environment and its image, or why its image does not build.
type Built = Result<(Environment, Image), String>;

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

struct Ctx<'a> {
    docker: &'a Docker,
    store: &'a Store,
    /// The judge that rewrites problem statements, and its budget.
    rewriter: Option<&'a JudgeSetup>,
    rewrites: rewrite::Counts,
    opts: &'a MineOptions,
    settings: SuiteSettings,
    tests: globset::GlobSet,
    deny: globset::GlobSet,
    paths: Option<globset::GlobSet>,
    images: ImageCache,
    /// How a candidate's own environment is found, when the suite's is a proposed one.
    keying: Option<envs::Keying>,
    /// Each environment and its image, built once, by the key of its build context (`""`
    /// for the suite's); a failure is kept so it is not retried for every candidate.
    envs: tokio::sync::Mutex<HashMap<String, Built>>,
    mirror: Mirror,
}
