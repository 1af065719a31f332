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
