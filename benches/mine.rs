//! How fast `tasks mine` turns history into tasks: candidates checked in Docker per minute,
//! on the demo codebase's history, once with one candidate at a time and once with two.
//! Printed figures, never a timed test:
//!
//!     cargo bench --bench mine             # the whole history (14 candidates)
//!     cargo bench --bench mine -- --quick  # the 4 newest candidates
//!
//! Every candidate is proven (tests at the parent commit and with the fix, then
//! `tasks validate`), so the figure includes Docker's container start-up, which dominates.
//! The environment image is built once per repository and shared by every candidate.

use mergebench::harness::Docker;
use mergebench::store::Store;
use mergebench::tasks::mine::funnel::Stage;
use mergebench::tasks::mine::{mine, EnvOptions, LeakPolicy, MineOptions};
use std::path::PathBuf;

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let docker = match Docker::connect().await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("mine bench: {e}");
            std::process::exit(3);
        }
    };
    println!(
        "tasks mine on tasks/demo/repo.bundle{}",
        if quick { " (--quick)" } else { "" }
    );
    println!(
        "{:>5}  {:>10}  {:>7}  {:>8}  {:>16}",
        "jobs", "candidates", "written", "seconds", "checked / minute"
    );
    for jobs in [1, 2] {
        let tmp = tempfile::tempdir().expect("temporary folder");
        let store = Store::open(&tmp.path().join("m.db")).expect("store");
        let opts = MineOptions {
            repo: root.join("tasks/demo/repo.bundle").display().to_string(),
            out: tmp.path().join("mined"),
            since: None,
            until: None,
            paths: Vec::new(),
            max: quick.then_some(4),
            repeat: 1,
            jobs,
            all_commits: false,
            issues: None,
            leak: LeakPolicy::Redact,
            rewrite: None,
            env: EnvOptions::default(),
            update: false,
            progress: false,
        };
        let report = match mine(&docker, &store, &opts, None).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("mine bench: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "{:>5}  {:>10}  {:>7}  {:>8.1}  {:>16.1}",
            jobs,
            report.candidates_checked,
            report.written.len(),
            report.seconds,
            report.checked_per_minute()
        );
        // A candidate the demo history should yield but did not: say why, the figure is off.
        for f in &report.commits {
            if f.reached >= Stage::Candidate && f.reason.is_some() {
                println!(
                    "       dropped {}: {}",
                    &f.commit[..10],
                    f.reason.as_deref().unwrap_or_default()
                );
            }
        }
    }
}
