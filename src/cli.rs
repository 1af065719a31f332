//! The command line: clap definitions and the one exit-code policy.

use crate::config::agent::{find_agent, AgentSpec};
use crate::config::suite::load_suite;
use crate::error::{exit, Error};
use crate::harness::{Docker, GcScope};
use crate::results::{format_table, render_text, summarize};
use crate::runner::{run, Prepared, RunOptions};
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
    /// The whole pipeline on tasks/demo with the bundled agents.
    Demo {
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// Start a fresh evaluation instead of resuming the last demo.
        #[arg(long)]
        new: bool,
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
    /// Images mergebench built.
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// Remove containers, networks and volumes that killed runs left behind.
    Gc {
        /// Remove everything mergebench made, even what a live run is using.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
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

fn load_agents(dir: &Path, names: &[String]) -> Result<Vec<AgentSpec>, Error> {
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

pub const DEMO_AGENTS: &[&str] = &["oracle", "noop", "regressor", "test-editor", "overreach"];

async fn dispatch(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Demo { jobs, new, json } => {
            let suite = load_suite(Path::new("tasks/demo"))?;
            let agents = load_agents(
                Path::new("harness/agents"),
                &DEMO_AGENTS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            )?;
            let store = open_store(&cli.db)?;
            let docker = Docker::connect().await?;
            let summary = run(
                Prepared {
                    docker,
                    store: store.clone(),
                    suite,
                    agents,
                },
                RunOptions {
                    attempts: 1,
                    jobs,
                    new,
                    label: Some("demo".into()),
                    progress: !json,
                },
            )
            .await?;
            print_results(&store, summary.evaluation.map(|e| e.id).as_deref(), json)?;
            Ok(exit::OK)
        }
        Command::Run {
            suite,
            agents,
            attempts,
            jobs,
            agents_dir,
            new,
            label,
            json,
        } => {
            if attempts == 0 {
                return Err(Error::Usage("--attempts must be at least 1".into()));
            }
            let suite = load_suite(&suite)?;
            let agents = load_agents(&agents_dir, &agents)?;
            let store = open_store(&cli.db)?;
            let docker = Docker::connect().await?;
            let summary = run(
                Prepared {
                    docker,
                    store: store.clone(),
                    suite,
                    agents,
                },
                RunOptions {
                    attempts,
                    jobs,
                    new,
                    label,
                    progress: !json,
                },
            )
            .await?;
            print_results(&store, summary.evaluation.map(|e| e.id).as_deref(), json)?;
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
            let opts = args.options();
            let store = open_store(&cli.db)?;
            let docker = Docker::connect().await?;
            docker.gc(GcScope::Orphans).await?;
            // Boxed so that dropping it on Ctrl-C removes its staged task folders and stops
            // its test runs before their containers are collected.
            let mut work = Box::pin(crate::mine::mine(&docker, &store, &opts));
            let finished = tokio::select! {
                r = &mut work => Some(r),
                _ = tokio::signal::ctrl_c() => None,
            };
            drop(work);
            let Some(report) = finished else {
                let _ = docker.gc(GcScope::Run(docker.run_id())).await;
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
                }));
            } else {
                for line in &report.setup {
                    println!("{line}");
                }
                print!("{}", crate::mine::funnel::render(&report.commits));
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

fn print_results(store: &Store, eval: Option<&str>, json: bool) -> Result<(), Error> {
    let Some(ev) = store.evaluation(eval)? else {
        return Err(match eval {
            Some(id) => Error::Usage(format!(
                "no evaluation `{id}` in {}",
                store.path().display()
            )),
            None => Error::Usage(format!(
                "no evaluation in {} yet: run `mergebench run` or `mergebench demo` first",
                store.path().display()
            )),
        });
    };
    let rows = store.attempts(&ev.id)?;
    let summaries = summarize(&rows);
    if json {
        print_json(&serde_json::json!({ "evaluation": ev, "attempts": rows, "agents": summaries }));
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
