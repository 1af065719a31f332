//! `mergebench tasks`: its subcommands, and `tasks mine`'s flags and the options they make.

use super::JudgeOpts;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct MineArgs {
    /// The repository: a folder, a git bundle or a URL.
    #[arg(long)]
    pub repo: String,
    /// The suite folder to write (its suite.toml, if any, gives environment and test globs).
    #[arg(long)]
    pub out: PathBuf,
    /// Only commits that landed on or after this day (YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_day)]
    pub since: Option<chrono::NaiveDate>,
    /// Only commits that landed on or before this day (YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_day)]
    pub until: Option<chrono::NaiveDate>,
    /// Only commits that change a path matching this glob (repeatable).
    #[arg(long = "paths", value_name = "GLOB")]
    pub paths: Vec<String>,
    /// Stop after writing N tasks (newest commits first).
    #[arg(long, value_name = "N")]
    pub max: Option<usize>,
    /// Run each tree N times; tests whose result changes are left out as flaky.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: u32,
    /// Candidates checked at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Every non-merge commit instead of the first-parent line.
    #[arg(long)]
    pub all_commits: bool,
    /// Folder of linked issues' texts (<number>.md or <number>.txt) added to problem statements.
    #[arg(long, value_name = "DIR")]
    pub issues: Option<PathBuf>,
    /// When a commit message names what the fix adds: redact those names, or drop the commit.
    #[arg(long, value_enum, default_value_t = crate::tasks::mine::LeakPolicy::Redact)]
    pub leak: crate::tasks::mine::LeakPolicy,
    /// Rewrite each proven task's problem statement through this judge (judges/<name>.toml
    /// with a [rewrite] table); the rewrite must pass the same leak check.
    #[arg(long, value_name = "JUDGE", help_heading = "Rewrite")]
    pub rewrite: Option<String>,
    #[command(flatten, next_help_heading = "Rewrite")]
    pub judge_opts: JudgeOpts,
    /// New suites: the task image's Dockerfile (copied to env/; default: proposed).
    #[arg(long, help_heading = "New suite")]
    pub dockerfile: Option<PathBuf>,
    /// New suites: a ready image instead of a Dockerfile.
    #[arg(long, help_heading = "New suite")]
    pub image: Option<String>,
    /// New suites: the Dockerfile's ARG BASE (default: the offline base).
    #[arg(long, help_heading = "New suite")]
    pub base: Option<String>,
    /// New suites: the test command (default: from the repository's language).
    #[arg(long, help_heading = "New suite")]
    pub test_command: Option<String>,
    /// New suites: pytest | unittest | cargo | go-json | tap | junit:<path>.
    #[arg(long, help_heading = "New suite")]
    pub format: Option<String>,
    /// New suites: a test-file glob (repeatable); these changes become the hidden tests.
    #[arg(long = "tests", value_name = "GLOB", help_heading = "New suite")]
    pub tests: Vec<String>,
    /// New suites: the test command's time limit.
    #[arg(long, help_heading = "New suite")]
    pub timeout: Option<String>,
    /// New suites: a CA bundle (PEM) for image builds behind a TLS-inspecting proxy
    /// (default: $MERGEBENCH_CA_BUNDLE); recorded in suite.toml.
    #[arg(long, value_name = "FILE", help_heading = "New suite")]
    pub ca_bundle: Option<PathBuf>,
    /// Apply the "New suite" flags to an existing suite.toml instead of refusing them;
    /// tasks already written are kept.
    #[arg(long)]
    pub update: bool,
    #[arg(long)]
    pub json: bool,
}

fn parse_day(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a day like 2026-03-01 ({e})"))
}

impl MineArgs {
    pub fn options(self: Box<Self>) -> crate::tasks::mine::MineOptions {
        crate::tasks::mine::MineOptions {
            repo: self.repo,
            out: self.out,
            since: self.since,
            until: self.until,
            paths: self.paths,
            max: self.max,
            repeat: self.repeat,
            jobs: self.jobs,
            all_commits: self.all_commits,
            issues: self.issues,
            leak: self.leak,
            rewrite: self.rewrite,
            env: crate::tasks::mine::EnvOptions {
                dockerfile: self.dockerfile,
                image: self.image,
                base: self.base,
                test_command: self.test_command,
                format: self.format,
                tests: self.tests,
                timeout: self.timeout,
                ca_bundle: self.ca_bundle,
            },
            update: self.update,
            progress: !self.json,
        }
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum TasksCommand {
    List {
        #[arg(long, default_value = "tasks/demo")]
        suite: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Prove every task in Docker: fail_to_pass fails without the fix, all pass with it.
    Validate {
        #[arg(long, default_value = "tasks/demo")]
        suite: PathBuf,
        /// Run each check N times; tests that change result are flaky.
        #[arg(long, default_value_t = 1)]
        repeat: u32,
        #[arg(long)]
        json: bool,
    },
    /// Tasks from a repository's history: commits that change code and tests, proven in Docker.
    Mine(Box<MineArgs>),
    /// Everything a mining run kept about one commit: why it was dropped, and the evidence
    /// (the image build's log, or both output streams of the failing test run).
    Explain {
        /// The commit (its id or a prefix of it).
        commit: String,
        /// The mining run (default: the latest that looked at the commit).
        #[arg(long)]
        run: Option<String>,
        #[arg(long)]
        json: bool,
    },
}
