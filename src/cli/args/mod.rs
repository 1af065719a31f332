//! The command line's shape, and nothing else: clap types for every command and flag. What
//! each command does starts in the file of its group (see `cli`).

mod agent;
mod mine;
mod report;
mod review;

pub use agent::AgentArgs;
pub use mine::{MineArgs, TasksCommand};
pub use report::{DriftArgs, ReportCommand};
pub use review::{LabelCommand, LabelsCommand, ReviewersCommand};

use crate::run::plan::Shard;
use clap::{Parser, Subcommand};

fn parse_shard(s: &str) -> Result<Shard, String> {
    Shard::parse(s)
}

fn parse_usd(s: &str) -> Result<f64, String> {
    match s.trim().trim_start_matches('$').parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not an amount of USD above 0 (for example 25 or 2.50)"
        )),
    }
}
use std::path::PathBuf;

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
    Run(RunArgs),
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
        /// Instead: one attempt's model calls through its gateway (measured usage beside the
        /// agent's report, then each call); with --json, each call's request and response.
        #[arg(long, value_name = "ATTEMPT_ID")]
        calls: Option<i64>,
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
        /// Instead: the model gateway's added latency and throughput, against a scripted
        /// upstream on loopback (no Docker needed).
        #[arg(long, conflicts_with = "leaderboard")]
        gateway: bool,
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
        /// Run and judge only this part (I/N) of every suite, into this machine's store;
        /// no reports. Merge the shards' stores, then `nightly --report-only`.
        #[arg(long, value_parser = parse_shard, conflicts_with = "report_only")]
        shard: Option<Shard>,
        /// Write the reports, checkpoints and verdict from the newest finished evaluation of
        /// every suite already in the store (after `merge`), without running agents.
        #[arg(long)]
        report_only: bool,
    },
    /// Join the stores that shards wrote (`run --shard I/N`) into one: attempts, patches,
    /// grades, conventions, logs, judge samples and judgements. Merging again changes nothing.
    Merge {
        /// The shards' stores.
        #[arg(required = true, num_args = 1..)]
        stores: Vec<PathBuf>,
        /// The store to merge into (created if missing).
        #[arg(long)]
        into: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Predict the wall time of an evaluation's plan on M machines × J jobs from its stored
    /// durations, and the machines a deadline needs.
    Plan {
        /// Machines, each running one shard.
        #[arg(long, default_value_t = 1)]
        machines: u32,
        /// Attempts at once on each machine (run's --jobs).
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// The evaluation whose durations to replay (default: the newest finished one).
        #[arg(long = "eval")]
        eval: Option<String>,
        /// Also say how many machines finish within this time (e.g. 6h).
        #[arg(long)]
        deadline: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The reference agent: a tool-using loop for any OpenAI-compatible endpoint. Runs
    /// inside an agent's container (harness/agents/reference.toml).
    Agent(AgentArgs),
    /// The model gateway: runs inside an attempt's gateway container, between the agent and
    /// the real provider (holds the key, enforces the budget and model pin, logs each call).
    Gateway {
        /// The gateway's JSON configuration, written by the harness.
        #[arg(long)]
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

/// `mergebench run`'s flags.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[arg(long)]
    pub suite: PathBuf,
    /// Agent names (harness/agents/<name>.toml) or paths to spec files.
    #[arg(long = "agent", required = true, num_args = 1..)]
    pub agents: Vec<String>,
    #[arg(long, default_value_t = 1)]
    pub attempts: u32,
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Folder of agent specs.
    #[arg(long, env = "MERGEBENCH_AGENTS", default_value = "harness/agents")]
    pub agents_dir: PathBuf,
    /// Start a new evaluation even if one with the same suite and agents exists.
    #[arg(long)]
    pub new: bool,
    /// A free-form label stored with the evaluation (e.g. "nightly 2026-11-25").
    #[arg(long)]
    pub label: Option<String>,
    /// Run only part I of N of the evaluation (split by task) into an evaluation of its own;
    /// `mergebench merge` joins the parts' stores.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Stop starting attempts once the agents' cost in this evaluation (measured by their
    /// gateways, else reported) reaches this many USD; the same command with a higher
    /// ceiling resumes.
    #[arg(long, value_parser = parse_usd)]
    pub max_agent_cost: Option<f64>,
    /// Pin every agent to this provider model (a scaffold-only comparison): each agent's
    /// gateway refuses requests for any other model, and they are flagged model_refused.
    #[arg(long)]
    pub pin_model: Option<String>,
    /// Judge every attempt after grading (judges/<name>.toml or a path to a judge file).
    #[arg(long)]
    pub judge: Option<String>,
    #[command(flatten)]
    pub judge_opts: JudgeOpts,
    #[arg(long)]
    pub json: bool,
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

impl JudgeOpts {
    pub fn limits(&self) -> crate::app::settings::JudgeLimits {
        crate::app::settings::JudgeLimits {
            judges_dir: self.judges_dir.clone(),
            max_calls: self.max_calls,
            max_cost: self.max_cost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ClaimPolicy;
    use clap::Parser;

    fn serve(args: &[&str]) -> Result<(std::time::Duration, u16), clap::Error> {
        let cli = Cli::try_parse_from(["mergebench", "label", "serve"].iter().chain(args))?;
        match cli.command {
            Command::Label {
                command:
                    LabelCommand::Serve {
                        claim_expiry,
                        max_claims,
                        ..
                    },
            } => Ok((claim_expiry, max_claims)),
            other => panic!("parsed as {other:?}"),
        }
    }

    /// The documented defaults (docs/labeling.md) are the store's.
    #[test]
    fn claim_flags_default_to_the_documented_policy() {
        let (expiry, max) = serve(&[]).unwrap();
        assert_eq!(expiry, ClaimPolicy::DEFAULT_EXPIRY);
        assert_eq!(usize::from(max), ClaimPolicy::DEFAULT_MAX_HELD);
        assert_eq!(
            serve(&["--claim-expiry", "10m", "--max-claims", "1"]).unwrap(),
            (std::time::Duration::from_secs(600), 1)
        );
        for bad in [["--claim-expiry", "0s"], ["--max-claims", "0"]] {
            assert!(serve(&bad).is_err(), "{bad:?}");
        }
    }
}
