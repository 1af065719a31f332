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
    Judge {
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
    /// Reports: the leaderboard with history, and paired comparisons of two agents.
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

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
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
                    judge: Some(judge),
                },
            )
            .await?;
            if let Some(p) = &summary.judge {
                eprintln!("{}", p.describe());
            }
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
                    judge,
                },
            )
            .await?;
            if let Some(p) = &summary.judge {
                eprintln!("{}", p.describe());
            }
            print_results(&store, summary.evaluation.map(|e| e.id).as_deref(), json)?;
            Ok(exit::OK)
        }
        Command::Judge {
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
