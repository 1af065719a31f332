//! The command line: clap definitions and the one exit-code policy.

use crate::config::agent::{find_agent, AgentSpec};
use crate::config::suite::load_suite;
use crate::error::{exit, Error};
use crate::harness::{Docker, GcScope};
use crate::judge::budget::Budget;
use crate::judge::pass::{judge_evaluation, PassOptions, PassSummary};
use crate::judge::spec::Limits;
use crate::judge::{find_judge, Judge};
use crate::results::{format_table, render_text, summarize, views};
use crate::runner::{run, JudgeSetup, Prepared, RunOptions};
use crate::store::{self, Store};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "mergebench",
    version,
    about = "Evaluate coding agents on your own codebase; the headline is the merge rate"
)]
pub struct Cli {
    /// The SQLite database (default: mergebench.db here, or $MERGEBENCH_DB).
    #[arg(long, global = true, env = "MERGEBENCH_DB")]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The whole pipeline on tasks/demo with the bundled agents and the offline heuristic judge.
    Demo {
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// Start a fresh evaluation instead of resuming the last demo.
        #[arg(long)]
        new: bool,
        /// The judge (judges/<name>.toml or a path to a judge file).
        #[arg(long, default_value = "heuristic")]
        judge: String,
        #[command(flatten)]
        judge_opts: JudgeOpts,
        #[arg(long)]
        json: bool,
    },
    /// List and validate task suites.
    Tasks {
        #[command(subcommand)]
        command: TasksCommand,
    },
    /// Run agents on a suite (resumes an unfinished run of the same suite and agents).
    Run {
        #[arg(long)]
        suite: PathBuf,
        /// Agent names (harness/agents/<name>.toml) or paths to spec files.
        #[arg(long = "agent", required = true, num_args = 1..)]
        agents: Vec<String>,
        #[arg(long, default_value_t = 1)]
        attempts: u32,
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// Folder of agent specs.
        #[arg(long, env = "MERGEBENCH_AGENTS", default_value = "harness/agents")]
        agents_dir: PathBuf,
        /// Start a new evaluation even if one with the same suite and agents exists.
        #[arg(long)]
        new: bool,
        /// A free-form label stored with the evaluation (e.g. "nightly 2026-11-25").
        #[arg(long)]
        label: Option<String>,
        /// Judge every attempt after grading (judges/<name>.toml or a path to a judge file).
        #[arg(long)]
        judge: Option<String>,
        #[command(flatten)]
        judge_opts: JudgeOpts,
        #[arg(long)]
        json: bool,
    },
    /// Judge every attempt of an evaluation that has a non-empty patch (cached verdicts are reused).
    #[command(args_conflicts_with_subcommands = true)]
    Judge {
        #[command(subcommand)]
        command: Option<JudgeCommand>,
        #[arg(long = "eval")]
        eval: Option<String>,
        /// The judge (judges/<name>.toml or a path to a judge file).
        #[arg(long, default_value = "merge-review")]
        judge: String,
        /// The suite the evaluation ran (default: the folder recorded with it).
        #[arg(long)]
        suite: Option<PathBuf>,
        #[command(flatten)]
        judge_opts: JudgeOpts,
        #[arg(long)]
        json: bool,
    },
    /// Every attempt of an evaluation and the rates per agent.
    Results {
        #[arg(long = "eval")]
        eval: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The labeling web app for human reviewers.
    Label {
        #[command(subcommand)]
        command: LabelCommand,
    },
    /// The labeling queue and labels: sample items, import and export labels.
    Labels {
        #[command(subcommand)]
        command: LabelsCommand,
    },
    /// Reviewer accounts for the labeling web app.
    Reviewers {
        #[command(subcommand)]
        command: ReviewersCommand,
    },
    /// Judge agreement with human labels per judge version and week; exit 1 on an alarm.
    Drift {
        #[command(flatten)]
        opts: DriftArgs,
        #[arg(long)]
        json: bool,
    },
    /// Images mergebench built.
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// Score a real diff with the conventions and blast-radius rules (for CI on pull requests).
    Gate {
        /// A diff file, or `-` for stdin.
        #[arg(long, conflicts_with = "range", required_unless_present = "range")]
        diff: Option<String>,
        /// A git range (BASE..HEAD) inside the repository.
        #[arg(long)]
        range: Option<String>,
        /// The repository root (mergebench.toml and CODEOWNERS are read there).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// text | json | sarif | markdown
        #[arg(long, default_value = "text")]
        format: String,
        /// Also write the output to this file (stdout still gets it).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the harness's speed beside a docker-CLI baseline, and the --jobs scaling.
    Bench {
        /// Fewer attempts: a quick look rather than a figure to quote.
        #[arg(long)]
        quick: bool,
        /// Instead: render the leaderboard over a generated store (no Docker needed; with --db,
        /// the store is written there and kept).
        #[arg(long)]
        leaderboard: bool,
        /// Attempts in the generated store for --leaderboard.
        #[arg(long, default_value_t = 100_000)]
        attempts: usize,
    },
    /// Reports: the leaderboard with history, paired comparisons of two agents, judge drift.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Run every configured suite and agent, judge, write the leaderboard; exit 1 on a regression.
    Nightly {
        /// The nightly configuration (see nightly.example.toml).
        #[arg(long, default_value = "nightly.toml")]
        config: PathBuf,
    },
    /// The reference agent: a tool-using loop for any OpenAI-compatible endpoint. Runs
    /// inside an agent's container (harness/agents/reference.toml).
    Agent(AgentArgs),
    /// Remove containers, networks and volumes that killed runs left behind.
    Gc {
        /// Remove everything mergebench made, even what a live run is using.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

/// Where judges live and the run's budget for them.
#[derive(clap::Args, Debug, Clone)]
pub struct JudgeOpts {
    /// Folder of judge files.
    #[arg(long, env = "MERGEBENCH_JUDGES", default_value = "judges")]
    pub judges_dir: PathBuf,
    /// Stop after this many requests to the judge's provider (overrides the judge's [budget]).
    #[arg(long)]
    pub max_calls: Option<u64>,
    /// Stop once the judge's requests cost this many USD (overrides the judge's [budget]).
    #[arg(long)]
    pub max_cost: Option<f64>,
}

#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    /// The problem statement.
    #[arg(
        long,
        env = "MERGEBENCH_PROBLEM",
        default_value = "/mergebench/problem.md"
    )]
    pub problem: PathBuf,
    /// The repository to change; commands run here.
    #[arg(long, env = "MERGEBENCH_WORKSPACE", default_value = ".")]
    pub workspace: PathBuf,
    /// Where usage.json and trajectory.jsonl are written.
    #[arg(long, env = "MERGEBENCH_OUT", default_value = "/mergebench/out")]
    pub out: PathBuf,
    /// The endpoint, up to and including /v1 (e.g. http://localhost:11434/v1 for Ollama).
    #[arg(
        long,
        env = "MERGEBENCH_AGENT_BASE_URL",
        default_value = "https://api.openai.com/v1"
    )]
    pub base_url: String,
    /// The model name the endpoint knows (e.g. gpt-4.1, qwen2.5-coder:32b).
    #[arg(long, env = "MERGEBENCH_AGENT_MODEL")]
    pub model: String,
    /// The name of the variable that holds the API key (the key itself never goes on a
    /// command line). Unset or empty: no Authorization header, as local servers expect.
    #[arg(
        long,
        env = "MERGEBENCH_AGENT_API_KEY_ENV",
        default_value = "OPENAI_API_KEY"
    )]
    pub api_key_env: String,
    /// Model calls over the run.
    #[arg(long, env = "MERGEBENCH_AGENT_MAX_STEPS", default_value_t = 50)]
    pub max_steps: u32,
    /// Input plus output tokens over the run.
    #[arg(long, env = "MERGEBENCH_AGENT_MAX_TOKENS", default_value_t = 2_000_000)]
    pub max_tokens: u64,
    /// USD over the run; 0 for no limit.
    #[arg(long, env = "MERGEBENCH_AGENT_MAX_COST", default_value_t = 5.0)]
    pub max_cost: f64,
    /// USD per million input tokens, when the endpoint does not report cost.
    #[arg(long, env = "MERGEBENCH_AGENT_INPUT_PRICE", default_value_t = 0.0)]
    pub input_price: f64,
    /// USD per million output tokens, when the endpoint does not report cost.
    #[arg(long, env = "MERGEBENCH_AGENT_OUTPUT_PRICE", default_value_t = 0.0)]
    pub output_price: f64,
    /// How long one shell command may run (e.g. 2m).
    #[arg(long, env = "MERGEBENCH_AGENT_COMMAND_TIMEOUT", default_value = "2m")]
    pub command_timeout: String,
    /// Sampling temperature (default: the endpoint's).
    #[arg(long, env = "MERGEBENCH_AGENT_TEMPERATURE")]
    pub temperature: Option<f64>,
}

#[derive(Subcommand, Debug)]
pub enum JudgeCommand {
    /// Re-judge every labeled item (held-out checkpoints first) with the current judge version.
    Checkpoints {
        /// The judge (judges/<name>.toml or a path to a judge file).
        #[arg(long, default_value = "merge-review")]
        judge: String,
        /// The suite to read tasks from (default: the folder each evaluation recorded).
        #[arg(long)]
        suite: Option<PathBuf>,
        #[command(flatten)]
        judge_opts: JudgeOpts,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum LabelCommand {
    /// Serve the labeling app (reviewers log in with a token from `reviewers add`).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        /// The judge whose rubric the guidelines show.
        #[arg(long, default_value = "merge-review")]
        judge: String,
        #[arg(long, env = "MERGEBENCH_JUDGES", default_value = "judges")]
        judges_dir: PathBuf,
        /// The suite to read tasks from (default: the folder each evaluation recorded).
        #[arg(long)]
        suite: Option<PathBuf>,
        /// Do not show what the hidden tests said.
        #[arg(long)]
        hide_tests: bool,
        /// Mark cookies Secure (when reviewers reach the app over HTTPS through a proxy).
        #[arg(long)]
        secure_cookies: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum LabelsCommand {
    /// Draw items from an evaluation into the labeling queue, stratified by agent and outcome.
    Sample {
        /// The evaluation to draw from (default: the latest).
        #[arg(long = "eval")]
        eval: Option<String>,
        /// How many items to add (fewer when the evaluation has fewer new ones).
        #[arg(long)]
        n: usize,
        /// The share of the suite's items held out (fixed by its first sample; default 0.5).
        #[arg(long)]
        holdout: Option<f64>,
        /// The share of items two different reviewers label.
        #[arg(long, default_value_t = 0.2)]
        overlap: f64,
        #[arg(long)]
        json: bool,
    },
    /// Import labels (JSONL or CSV) from a file, e.g. from an earlier tool.
    Import {
        file: PathBuf,
        /// jsonl | csv (default: from the file's extension)
        #[arg(long)]
        format: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Export the dev split's labels (held-out labels never leave) as JSONL or CSV.
    Export {
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// jsonl | csv (default: from --out's extension, else jsonl)
        #[arg(long)]
        format: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReviewersCommand {
    /// Add a reviewer and print their login token (shown once; only its hash is stored).
    Add { name: String },
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct DriftArgs {
    /// The judge version others are compared with (a prefix of its hash; default: the first judged).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Alarm when held-out kappa falls more than this below the baseline's.
    #[arg(long, default_value_t = 0.10)]
    pub margin: f64,
    /// Alarm when held-out kappa falls below this.
    #[arg(long, default_value_t = 0.40)]
    pub floor: f64,
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// The drift report: judge agreement with human labels; exit 1 on an alarm.
    Drift {
        /// md | json | html
        #[arg(long, default_value = "md")]
        format: String,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        opts: DriftArgs,
    },
    /// Per agent: merge rate with its 95% interval, inflation, time, cost; history and regressions.
    Leaderboard {
        /// The evaluation to report (default: the latest).
        #[arg(long = "eval")]
        eval: Option<String>,
        /// html | md | json (default: from --out's extension, else md).
        #[arg(long)]
        format: Option<String>,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only tasks created after this date (YYYY-MM-DD): tasks newer than an agent's training data.
        #[arg(long)]
        since: Option<String>,
        /// Nights of history shown per agent (the reported one included).
        #[arg(long, default_value_t = 14)]
        history: usize,
        /// Significance level of the regression test.
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
    },
    /// Agents A and B on the tasks both ran: paired statistics, cost per merged patch, risk.
    Compare {
        a: String,
        b: String,
        /// The evaluation (default: the latest that ran both agents).
        #[arg(long = "eval")]
        eval: Option<String>,
        /// text | md | json | html
        #[arg(long)]
        format: Option<String>,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
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
}

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
    #[arg(long, value_enum, default_value_t = crate::mine::LeakPolicy::Redact)]
    pub leak: crate::mine::LeakPolicy,
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
    #[arg(long)]
    pub json: bool,
}

fn parse_day(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a day like 2026-03-01 ({e})"))
}

impl MineArgs {
    pub fn options(self: Box<Self>) -> crate::mine::MineOptions {
        crate::mine::MineOptions {
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
            env: crate::mine::EnvOptions {
                dockerfile: self.dockerfile,
                image: self.image,
                base: self.base,
                test_command: self.test_command,
                format: self.format,
                tests: self.tests,
                timeout: self.timeout,
            },
            progress: !self.json,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ImagesCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove built images no stored attempt used.
    Prune {
        /// Remove every image mergebench built, the offline base included.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ENVIRONMENT;
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

fn open_store(db: &Option<PathBuf>) -> Result<Arc<Store>, Error> {
    let path = db.clone().unwrap_or_else(store::default_path);
    Ok(Arc::new(Store::open(&path)?))
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

pub(crate) fn load_agents(dir: &Path, names: &[String]) -> Result<Vec<AgentSpec>, Error> {
    let mut out: Vec<AgentSpec> = Vec::new();
    for n in names {
        let a = find_agent(dir, n)?;
        if out.iter().any(|o| o.name == a.name) {
            return Err(Error::Usage(format!("agent `{}` is given twice", a.name)));
        }
        out.push(a);
    }
    Ok(out)
}

/// Loads a judge (reading its key from the environment) and sets the run's budget: the
/// command line's limits over the judge file's.
pub(crate) fn judge_setup(name: &str, o: &JudgeOpts) -> Result<JudgeSetup, Error> {
    if o.max_cost.is_some_and(|c| !(c.is_finite() && c >= 0.0)) {
        return Err(Error::Usage(
            "--max-cost must be a non-negative number of USD".into(),
        ));
    }
    let spec = find_judge(&o.judges_dir, name)?;
    let limits = Limits {
        max_calls: o.max_calls.or(spec.budget.max_calls),
        max_cost: o.max_cost.or(spec.budget.max_cost),
    };
    if limits.max_cost.is_some() && spec.price.is_none() {
        eprintln!(
            "note: judge `{}` has no [price] table: the cost limit counts only costs the provider reports",
            spec.name
        );
    }
    Ok(JudgeSetup {
        judge: Judge::load(spec)?,
        budget: Budget::new(limits),
    })
}

pub const DEMO_AGENTS: &[&str] = &["oracle", "noop", "regressor", "test-editor", "overreach"];

async fn dispatch(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Demo {
            jobs,
            new,
            judge,
            judge_opts,
            json,
        } => {
            let judge = judge_setup(&judge, &judge_opts)?;
            let agents: Vec<String> = DEMO_AGENTS.iter().map(|s| s.to_string()).collect();
            let opts = RunOptions {
                attempts: 1,
                jobs,
                new,
                label: Some("demo".into()),
                progress: !json,
                judge: Some(judge),
            };
            run_and_print(
                &cli.db,
                Path::new("tasks/demo"),
                Path::new("harness/agents"),
                &agents,
                opts,
                json,
            )
            .await
        }
        Command::Run {
            suite,
            agents,
            attempts,
            jobs,
            agents_dir,
            new,
            label,
            judge,
            judge_opts,
            json,
        } => {
            if attempts == 0 {
                return Err(Error::Usage("--attempts must be at least 1".into()));
            }
            let judge = judge
                .map(|name| judge_setup(&name, &judge_opts))
                .transpose()?;
            let opts = RunOptions {
                attempts,
                jobs,
                new,
                label,
                progress: !json,
                judge,
            };
            run_and_print(&cli.db, &suite, &agents_dir, &agents, opts, json).await
        }
        Command::Judge {
            command:
                Some(JudgeCommand::Checkpoints {
                    judge,
                    suite,
                    judge_opts,
                    json,
                }),
            ..
        } => {
            let setup = judge_setup(&judge, &judge_opts)?;
            let store = open_store(&cli.db)?;
            let summary = crate::judge::checkpoints::judge_checkpoints(
                &store,
                &setup.judge,
                &setup.budget,
                suite,
            )
            .await?;
            if json {
                print_json(&summary);
            } else {
                println!("{}", summary.describe());
            }
            Ok(exit::OK)
        }
        Command::Judge {
            command: None,
            eval,
            judge,
            suite,
            judge_opts,
            json,
        } => {
            let setup = judge_setup(&judge, &judge_opts)?;
            let store = open_store(&cli.db)?;
            let ev = find_evaluation(&store, eval.as_deref())?;
            let suite_dir = suite.unwrap_or_else(|| PathBuf::from(&ev.suite_dir));
            let suite = load_suite(&suite_dir)?;
            let summary = judge_evaluation(
                &store,
                &ev,
                &suite,
                &setup.judge,
                &setup.budget,
                PassOptions { progress: !json },
            )
            .await?;
            if json {
                print_json(&summary);
            } else {
                println!("evaluation {} (suite {})", ev.id, ev.suite);
                print!("{}", render_judged(&summary));
                println!("{}", summary.describe());
            }
            Ok(exit::OK)
        }
        Command::Results { eval, json } => {
            let store = open_store(&cli.db)?;
            print_results(&store, eval.as_deref(), json)?;
            Ok(exit::OK)
        }
        Command::Tasks {
            command: TasksCommand::List { suite, json },
        } => {
            let suite = load_suite(&suite)?;
            if json {
                print_json(&serde_json::json!({
                    "suite": suite.name,
                    "tasks": suite.tasks,
                    "invalid": suite.invalid.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                }));
            } else {
                let mut rows = vec![vec![
                    "id".to_string(),
                    "title".into(),
                    "created".into(),
                    "tags".into(),
                    "f2p".into(),
                    "p2p".into(),
                ]];
                for t in &suite.tasks {
                    rows.push(vec![
                        t.id.clone(),
                        t.title.clone(),
                        t.created.clone().unwrap_or_else(|| "-".into()),
                        t.tags.join(","),
                        t.tests.fail_to_pass.len().to_string(),
                        t.tests.pass_to_pass.len().to_string(),
                    ]);
                }
                print!("{}", format_table(&rows));
                for e in &suite.invalid {
                    eprintln!("invalid task: {e}");
                }
            }
            Ok(if suite.invalid.is_empty() {
                exit::OK
            } else {
                exit::USAGE
            })
        }
        Command::Tasks {
            command:
                TasksCommand::Validate {
                    suite,
                    repeat,
                    json,
                },
        } => {
            let suite = load_suite(&suite)?;
            let docker = Docker::connect().await?;
            let results = crate::validate::validate_suite(&docker, &suite, repeat).await?;
            let failed = results.iter().filter(|r| !r.valid).count();
            if json {
                print_json(&results);
            } else {
                for r in &results {
                    if r.valid {
                        println!("ok      {}", r.task);
                    } else {
                        println!("INVALID {} ({})", r.task, r.file);
                        for p in &r.problems {
                            println!("        - {p}");
                        }
                    }
                }
                println!("{} valid, {} invalid", results.len() - failed, failed);
            }
            Ok(if failed == 0 {
                exit::OK
            } else {
                exit::CHECK_FAILED
            })
        }
        Command::Tasks {
            command: TasksCommand::Mine(args),
        } => {
            let json = args.json;
            let limits_given =
                args.judge_opts.max_calls.is_some() || args.judge_opts.max_cost.is_some();
            if args.rewrite.is_none() && limits_given {
                return Err(Error::Usage(
                    "--max-calls and --max-cost limit the judge of --rewrite: add --rewrite JUDGE, or leave them out".into(),
                ));
            }
            let rewriter = args
                .rewrite
                .as_deref()
                .map(|j| judge_setup(j, &args.judge_opts))
                .transpose()?;
            let opts = args.options();
            let store = open_store(&cli.db)?;
            let docker = Docker::connect().await?;
            docker.gc(GcScope::Orphans).await?;
            // Boxed so that dropping it on Ctrl-C removes its staged task folders and stops
            // its test runs before their containers are collected.
            let mut work = Box::pin(crate::mine::mine(&docker, &store, &opts, rewriter.as_ref()));
            let finished = tokio::select! {
                r = &mut work => Some(r),
                _ = tokio::signal::ctrl_c() => None,
            };
            drop(work);
            let Some(report) = finished else {
                docker.clean_up_run().await;
                eprintln!("interrupted: tasks already written are kept; the same command again skips them");
                return Err(Error::Interrupted);
            };
            let report = report?;
            if json {
                print_json(&serde_json::json!({
                    "run": report.run,
                    "suite": report.suite,
                    "setup": report.setup,
                    "funnel": report.funnel,
                    "commits": report.commits,
                    "written": report.written,
                    "candidates_checked": report.candidates_checked,
                    "seconds": report.seconds,
                    "checked_per_minute": report.checked_per_minute(),
                    "rewrite": report.rewrite,
                }));
            } else {
                for line in &report.setup {
                    println!("{line}");
                }
                print!("{}", crate::mine::funnel::render(&report.commits));
                if let Some(r) = &report.rewrite {
                    println!(
                        "rewrote {} problem statement{} through judge `{}` ({} request{}, ${:.4}); {} kept the commit message's, {} dropped{}",
                        r.rewritten,
                        if r.rewritten == 1 { "" } else { "s" },
                        r.judge,
                        r.requests,
                        if r.requests == 1 { "" } else { "s" },
                        r.cost_usd,
                        r.kept,
                        r.dropped,
                        if r.budget_exhausted { "; the judge's budget ran out" } else { "" },
                    );
                }
                println!(
                    "wrote {} task{} to {} in {:.0}s ({:.1} candidates checked per minute); run {} in {}",
                    report.written.len(),
                    if report.written.len() == 1 { "" } else { "s" },
                    report.suite.display(),
                    report.seconds,
                    report.checked_per_minute(),
                    report.run,
                    store.path().display(),
                );
            }
            Ok(exit::OK)
        }
        Command::Images { command } => {
            let docker = Docker::connect().await?;
            match command {
                ImagesCommand::List { json } => {
                    let imgs = crate::harness::images::list(&docker).await?;
                    if json {
                        print_json(&imgs);
                    } else {
                        let mut rows = vec![vec![
                            "image".to_string(),
                            "kind".into(),
                            "id".into(),
                            "size".into(),
                        ]];
                        for i in imgs {
                            rows.push(vec![
                                i.tag,
                                i.kind,
                                i.id.trim_start_matches("sha256:")
                                    .chars()
                                    .take(12)
                                    .collect(),
                                format!("{:.0} MB", i.size_bytes as f64 / 1e6),
                            ]);
                        }
                        print!("{}", format_table(&rows));
                    }
                }
                ImagesCommand::Prune { all, json } => {
                    let keep = open_store(&cli.db)?.used_images()?;
                    let removed = crate::harness::images::prune(&docker, &keep, all).await?;
                    if json {
                        print_json(&removed);
                    } else {
                        for r in &removed {
                            println!("removed {}", r.tag);
                        }
                        println!("{} images removed", removed.len());
                    }
                }
            }
            Ok(exit::OK)
        }
        Command::Gate {
            diff,
            range,
            repo,
            format,
            out,
        } => gate(diff, range, &repo, &format, out.as_deref()),
        Command::Bench {
            leaderboard: true,
            attempts,
            ..
        } => {
            // --db given explicitly keeps the generated store there.
            print!(
                "{}",
                crate::bench::bench_leaderboard(attempts, cli.db.as_deref())?
            );
            Ok(exit::OK)
        }
        Command::Report { command } => report(&cli.db, command),
        Command::Nightly { config } => {
            let cfg = crate::nightly::NightlyConfig::load(&config)?;
            let store = open_store(&cli.db)?;
            crate::nightly::nightly(&cfg, store).await
        }
        Command::Bench { quick, .. } => {
            let opts = if quick {
                crate::bench::BenchOptions {
                    attempts: 3,
                    scaling_attempts: 4,
                    sleep_secs: 2,
                }
            } else {
                crate::bench::BenchOptions {
                    attempts: 10,
                    scaling_attempts: 8,
                    sleep_secs: 3,
                }
            };
            print!("{}", crate::bench::bench(opts).await?);
            Ok(exit::OK)
        }
        Command::Agent(a) => run_reference_agent(a).await,
        Command::Label {
            command:
                LabelCommand::Serve {
                    bind,
                    judge,
                    judges_dir,
                    suite,
                    hide_tests,
                    secure_cookies,
                },
        } => {
            let spec = find_judge(&judges_dir, &judge)?;
            let rubric = crate::labels::rubric::Rubric::new(&spec.name, &spec.rubric);
            let store = open_store(&cli.db)?;
            let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| {
                Error::env(
                    format!("cannot listen on {bind}: {e}"),
                    "choose another --bind address or port",
                )
            })?;
            let addr = listener
                .local_addr()
                .map_err(|e| Error::infra(e.to_string()))?;
            eprintln!(
                "labeling at http://{addr}/ (rubric {}); Ctrl-C stops",
                rubric.version
            );
            let app = crate::web::App::new(
                store,
                crate::web::Options {
                    rubric,
                    suite,
                    show_tests: !hide_tests,
                    secure_cookies,
                },
            );
            tokio::select! {
                r = crate::web::serve(listener, app) => r.map_err(|e| Error::infra(format!("the labeling server stopped: {e}")))?,
                _ = tokio::signal::ctrl_c() => {}
            }
            Ok(exit::OK)
        }
        Command::Labels { command } => labels(&cli.db, command),
        Command::Reviewers { command } => {
            let store = open_store(&cli.db)?;
            match command {
                ReviewersCommand::Add { name } => {
                    if name.trim().is_empty() || name.chars().any(char::is_control) {
                        return Err(Error::Usage(
                            "a reviewer name must be printable and not empty".into(),
                        ));
                    }
                    let token = crate::web::auth::new_secret("mbr_");
                    store.add_reviewer(name.trim(), Some(&crate::web::auth::token_hash(&token)))?;
                    eprintln!(
                        "reviewer `{}` added; their token (shown only now, store it safely):",
                        name.trim()
                    );
                    println!("{token}");
                }
                ReviewersCommand::List { json } => {
                    let all = store.reviewers()?;
                    if json {
                        print_json(&all);
                    } else {
                        let mut rows = vec![vec![
                            "name".to_string(),
                            "can log in".into(),
                            "since".into(),
                        ]];
                        for r in all {
                            rows.push(vec![
                                r.name,
                                if r.can_log_in { "yes" } else { "no (imported)" }.into(),
                                r.created_at,
                            ]);
                        }
                        print!("{}", format_table(&rows));
                    }
                }
            }
            Ok(exit::OK)
        }
        Command::Drift { opts, json } => {
            let report = drift_report(&cli.db, &opts)?;
            let format = if json {
                crate::drift::render::Format::Json
            } else {
                crate::drift::render::Format::Markdown
            };
            print!("{}", crate::drift::render::render(&report, format)?);
            for a in &report.alarms {
                eprintln!("alarm: {a}");
            }
            Ok(if report.alarmed() {
                exit::CHECK_FAILED
            } else {
                exit::OK
            })
        }
        Command::Gc { all, json } => {
            let docker = Docker::connect().await?;
            let r = docker
                .gc(if all { GcScope::All } else { GcScope::Orphans })
                .await?;
            if json {
                print_json(&r);
            } else {
                println!(
                    "removed {} containers, {} networks, {} volumes",
                    r.containers, r.networks, r.volumes
                );
            }
            Ok(exit::OK)
        }
    }
}

/// The report format: as given, else from the output file's extension, else `default`.
fn report_format(
    format: Option<&str>,
    out: Option<&Path>,
    default: crate::report::Format,
) -> Result<crate::report::Format, Error> {
    if let Some(f) = format {
        return f.parse().map_err(Error::Usage);
    }
    Ok(
        match out.and_then(|p| p.extension()).and_then(|e| e.to_str()) {
            Some("html" | "htm") => crate::report::Format::Html,
            Some("md") => crate::report::Format::Markdown,
            Some("json") => crate::report::Format::Json,
            Some("txt") => crate::report::Format::Text,
            _ => default,
        },
    )
}

fn emit(text: &str, out: Option<&Path>) -> Result<(), Error> {
    match out {
        Some(path) => {
            crate::report::write_report(path, text)?;
            println!("{}", path.display());
        }
        None => {
            use std::io::Write;
            // A reader that stops early (`| head`) is not an error.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    Ok(())
}

fn report(db: &Option<PathBuf>, command: ReportCommand) -> Result<i32, Error> {
    use crate::report::{render, Format};
    match command {
        ReportCommand::Drift { format, out, opts } => report_drift(db, format, out, opts),
        ReportCommand::Leaderboard {
            eval,
            format,
            out,
            since,
            history,
            alpha,
        } => {
            if let Some(s) = &since {
                if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
                    return Err(Error::Usage(format!(
                        "--since {s} is not a date: write it as YYYY-MM-DD"
                    )));
                }
            }
            if !(alpha > 0.0 && alpha < 1.0) {
                return Err(Error::Usage("--alpha must be between 0 and 1".into()));
            }
            let format = report_format(format.as_deref(), out.as_deref(), Format::Markdown)?;
            let store = open_store(db)?;
            let lb = crate::report::leaderboard_from_store(
                &store,
                eval.as_deref(),
                history.max(1),
                &crate::report::leaderboard::LeaderboardOptions {
                    since,
                    policy: crate::report::history::RegressionPolicy {
                        alpha,
                        min_drop: 0.0,
                    },
                },
            )?;
            emit(&render::leaderboard(&lb, format), out.as_deref())?;
            Ok(exit::OK)
        }
        ReportCommand::Compare {
            a,
            b,
            eval,
            format,
            out,
        } => {
            let format = report_format(format.as_deref(), out.as_deref(), Format::Text)?;
            let store = open_store(db)?;
            let c = crate::report::compare_from_store(&store, eval.as_deref(), &a, &b)?;
            emit(&render::comparison(&c, format), out.as_deref())?;
            Ok(exit::OK)
        }
    }
}

/// The judge command's table: one line per judged attempt.
fn render_judged(p: &PassSummary) -> String {
    let mut rows = vec![vec![
        "task".to_string(),
        "agent".into(),
        "#".into(),
        "outcome".into(),
        "judge".into(),
        "agree".into(),
        "scores".into(),
        "tokens".into(),
        "cost".into(),
        "cached".into(),
        "flags".into(),
    ]];
    for a in &p.judged {
        let j = &a.judgement;
        rows.push(vec![
            a.task_id.clone(),
            a.agent.clone(),
            a.attempt.to_string(),
            a.outcome.to_string(),
            j.label().into(),
            j.agreement
                .map(|x| format!("{:.0}%", x * 100.0))
                .unwrap_or_else(|| "-".into()),
            if j.scores.is_empty() {
                "-".into()
            } else {
                j.scores
                    .values()
                    .map(|v| format!("{v:.0}"))
                    .collect::<Vec<_>>()
                    .join("/")
            },
            format!("{}/{}", j.input_tokens, j.output_tokens),
            j.cost_usd
                .map(|c| format!("${c:.4}"))
                .unwrap_or_else(|| "-".into()),
            if j.requests == 0 { "yes" } else { "no" }.into(),
            if j.injection_suspected {
                "judge_injection_suspected".into()
            } else {
                "-".into()
            },
        ]);
    }
    format_table(&rows)
}

fn find_evaluation(store: &Store, eval: Option<&str>) -> Result<crate::store::Evaluation, Error> {
    store.evaluation(eval)?.ok_or_else(|| match eval {
        Some(id) => Error::Usage(format!(
            "no evaluation `{id}` in {}",
            store.path().display()
        )),
        None => Error::Usage(format!(
            "no evaluation in {} yet: run `mergebench run` or `mergebench demo` first",
            store.path().display()
        )),
    })
}

/// `run` and `demo`: load, run (resuming), then print the evaluation's results.
async fn run_and_print(
    db: &Option<PathBuf>,
    suite: &Path,
    agents_dir: &Path,
    agents: &[String],
    opts: RunOptions,
    json: bool,
) -> Result<i32, Error> {
    let suite = load_suite(suite)?;
    let agents = load_agents(agents_dir, agents)?;
    let store = open_store(db)?;
    let docker = Docker::connect().await?;
    let summary = run(
        Prepared {
            docker,
            store: store.clone(),
            suite,
            agents,
        },
        opts,
    )
    .await?;
    if let Some(p) = &summary.judge {
        eprintln!("{}", p.describe());
    }
    print_results(&store, summary.evaluation.map(|e| e.id).as_deref(), json)?;
    Ok(exit::OK)
}

/// `mergebench agent`: exit 0 when the model called finish, 1 when a limit or the model's
/// silence ended the run, 3 when the endpoint failed.
async fn run_reference_agent(a: AgentArgs) -> Result<i32, Error> {
    use crate::refagent::{run, Config, Status};
    let command_timeout = crate::units::parse_duration(&a.command_timeout)
        .map_err(|e| Error::Usage(format!("--command-timeout: {e}")))?;
    if a.model.trim().is_empty() {
        return Err(Error::Usage(
            "--model (or MERGEBENCH_AGENT_MODEL) is empty".into(),
        ));
    }
    let cfg = Config {
        problem: a.problem,
        workspace: a.workspace,
        out: a.out,
        base_url: a.base_url,
        model: a.model,
        api_key: std::env::var(&a.api_key_env).ok(),
        max_steps: a.max_steps,
        max_tokens: a.max_tokens,
        max_cost: a.max_cost,
        input_price: a.input_price,
        output_price: a.output_price,
        command_timeout,
        temperature: a.temperature,
    };
    let status = run(&cfg).await.map_err(Error::Usage)?;
    eprintln!("mergebench agent: {}", status.as_str());
    Ok(match status {
        Status::Finished => exit::OK,
        Status::ModelError => exit::ENVIRONMENT,
        _ => exit::CHECK_FAILED,
    })
}

fn print_results(store: &Store, eval: Option<&str>, json: bool) -> Result<(), Error> {
    let ev = find_evaluation(store, eval)?;
    let rows = store.attempts(&ev.id)?;
    let summaries = summarize(&rows);
    if json {
        print_json(
            &serde_json::json!({ "evaluation": ev, "attempts": views(&rows), "agents": summaries }),
        );
    } else {
        println!(
            "evaluation {} (suite {}, {} attempts)",
            ev.id,
            ev.suite,
            rows.len()
        );
        print!("{}", render_text(&rows, &summaries));
    }
    Ok(())
}

/// `mergebench gate`: exit 1 when an error-severity rule fails or the tier reaches `fail_on`.
fn gate(
    diff: Option<String>,
    range: Option<String>,
    repo: &Path,
    format: &str,
    out: Option<&Path>,
) -> Result<i32, Error> {
    use crate::conventions::{gate, render};
    let usage = |e: &gate::GateError| match e.exit_code() {
        3 => Error::env(e.to_string(), "install git and run inside the repository"),
        _ => Error::Usage(e.to_string()),
    };
    let config = |e: crate::conventions::ConfigError| Error::Usage(e.to_string());
    let format: render::OutputFormat = format.parse().map_err(|e: String| Error::Usage(e))?;
    let report = match (diff, range) {
        (Some(d), None) => {
            let bytes = gate::read_diff(&d).map_err(|e| usage(&e))?;
            let cfg = gate::load_repo_config(repo).map_err(config)?;
            let name = if d == "-" {
                "stdin".to_string()
            } else {
                d.clone()
            };
            gate::run_named(&bytes, &name, &cfg, &[], &|_| None).map_err(|e| usage(&e))?
        }
        (None, Some(r)) => {
            let bytes = gate::diff_for_range(repo, &r).map_err(|e| usage(&e))?;
            let base = gate::range_base(repo, &r).map_err(|e| usage(&e))?;
            // Rules come from the base, so a pull request cannot switch off its own checks.
            let cfg = gate::load_repo_config_at(repo, &base).map_err(|e| usage(&e))?;
            let reader = gate::git_base_reader(repo, &base);
            gate::run_named(&bytes, &r, &cfg, &[], &reader).map_err(|e| usage(&e))?
        }
        _ => {
            return Err(Error::Usage(
                "give exactly one of --diff FILE (or -) and --range A..B".into(),
            ))
        }
    };
    let text = render::render(&report, format, crate::VERSION);
    if let Some(path) = out {
        std::fs::write(path, &text).map_err(|e| {
            Error::input(
                path,
                None,
                format!("cannot write: {e}"),
                "choose a writable path",
            )
        })?;
    }
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(report.exit_code())
}

fn drift_report(db: &Option<PathBuf>, o: &DriftArgs) -> Result<crate::drift::DriftReport, Error> {
    if !(o.margin.is_finite() && o.margin >= 0.0 && o.floor.is_finite()) {
        return Err(Error::Usage(
            "--margin must be a non-negative number and --floor a number".into(),
        ));
    }
    let store = open_store(db)?;
    Ok(crate::drift::compute(
        &store.drift_labels()?,
        &store.checkpoint_verdicts()?,
        &crate::drift::DriftOptions {
            baseline: o.baseline.clone(),
            margin: o.margin,
            floor: o.floor,
            ..Default::default()
        },
    ))
}

fn labels(db: &Option<PathBuf>, command: LabelsCommand) -> Result<i32, Error> {
    use crate::labels::transfer::{export, import, Format};
    let store = open_store(db)?;
    match command {
        LabelsCommand::Sample {
            eval,
            n,
            holdout,
            overlap,
            json,
        } => {
            let ev = find_evaluation(&store, eval.as_deref())?;
            let s = crate::labels::sample::sample(
                &store,
                &ev,
                crate::labels::sample::SampleOptions {
                    n,
                    holdout,
                    overlap,
                },
            )?;
            if json {
                print_json(&s);
            } else {
                println!(
                    "evaluation {} (suite {}): {} items queued of {} available ({} held out, {} dev, {} for two reviewers; holdout fraction {})",
                    s.evaluation, s.suite, s.added, s.available, s.holdout, s.dev, s.overlap, s.holdout_fraction
                );
                for (k, v) in &s.strata {
                    println!("  {k}: {v}");
                }
            }
        }
        LabelsCommand::Import { file, format, json } => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                Error::input(
                    &file,
                    None,
                    format!("cannot read: {e}"),
                    "give a readable JSONL or CSV file",
                )
            })?;
            let format = Format::pick(format.as_deref(), Some(&file))?;
            let s = import(&store, &text, format, &file)?;
            if json {
                print_json(&s);
            } else {
                println!(
                    "{} labels imported, {} already present; {} items added to the queue",
                    s.imported, s.skipped, s.items_added
                );
            }
        }
        LabelsCommand::Export { out, format } => {
            let format = Format::pick(format.as_deref(), out.as_deref())?;
            let (text, n) = export(&store, format)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text).map_err(|e| {
                        Error::input(
                            &path,
                            None,
                            format!("cannot write: {e}"),
                            "choose a writable path",
                        )
                    })?;
                    eprintln!(
                        "{n} dev labels written to {} (held-out labels are never exported)",
                        path.display()
                    );
                }
                None => print!("{text}"),
            }
        }
    }
    Ok(exit::OK)
}

/// `report drift`: written to a file; exit 1 on an alarm.
fn report_drift(
    db: &Option<PathBuf>,
    format: String,
    out: PathBuf,
    opts: DriftArgs,
) -> Result<i32, Error> {
    let format: crate::drift::render::Format = format.parse().map_err(Error::Usage)?;
    let report = drift_report(db, &opts)?;
    let text = crate::drift::render::render(&report, format)?;
    std::fs::write(&out, text).map_err(|e| {
        Error::input(
            &out,
            None,
            format!("cannot write: {e}"),
            "choose a writable path",
        )
    })?;
    eprintln!("wrote {}", out.display());
    for a in &report.alarms {
        eprintln!("alarm: {a}");
    }
    Ok(if report.alarmed() {
        exit::CHECK_FAILED
    } else {
        exit::OK
    })
}
