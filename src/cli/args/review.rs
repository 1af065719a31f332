//! The human-review commands' clap types: `label serve`, `labels`, `reviewers`.

use clap::Subcommand;
use std::path::PathBuf;

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
        /// How long a reviewer's claim on an item lasts before it goes back to the queue.
        #[arg(long, default_value = "30m", value_parser = crate::config::units::parse_duration)]
        claim_expiry: std::time::Duration,
        /// How many items a reviewer holds unlabeled at once; claiming one more releases
        /// their oldest.
        #[arg(long, default_value_t = crate::store::ClaimPolicy::DEFAULT_MAX_HELD as u16, value_parser = clap::value_parser!(u16).range(1..=1000))]
        max_claims: u16,
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
