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
        Command::Agent(a) => run_reference_agent(a).await,
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
