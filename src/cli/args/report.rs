//! The flags of `report` and `drift`: which report, in which format, written where.

use clap::Subcommand;
use std::path::PathBuf;

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
        /// Significance level of the regression test (on adjusted p-values).
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
        /// How a night's regression tests across agents are adjusted: holm | bh | none.
        #[arg(long, default_value = "holm")]
        correction: String,
    },
    /// How many tasks a paired comparison needs to detect a difference at 80% power (α = 0.05).
    Power {
        /// The difference in merge rate to detect, in percentage points (5 = 5 points).
        #[arg(long)]
        diff: f64,
        /// The merge rate of the agent compared against, as a share (default 0.4; not used with --eval).
        #[arg(long = "base-rate")]
        base_rate: Option<f64>,
        /// Attempts per task the planned evaluation will run.
        #[arg(long)]
        attempts: Option<u64>,
        /// Use this evaluation's discordance between --a and --b (default with --a/--b: the latest that ran both).
        #[arg(long = "eval")]
        eval: Option<String>,
        #[arg(long)]
        a: Option<String>,
        #[arg(long)]
        b: Option<String>,
        /// text | json
        #[arg(long, default_value = "text")]
        format: String,
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
