//! The command line, a leaf nothing else imports: `args` is its shape, `exit` its one
//! exit-code table, and each command starts in the file of its group:
//!
//! | command | starts in |
//! |---|---|
//! | `demo`, `run`, `results` | `run.rs` |
//! | `judge`, `judge checkpoints` | `judge.rs` |
//! | `tasks list`, `tasks validate`, `tasks mine` | `tasks.rs` |
//! | `label serve`, `labels ...`, `reviewers ...`, `drift` | `review.rs` |
//! | `report leaderboard`, `report compare`, `report drift` | `report.rs` |
//! | `gate` | `gate.rs` |
//! | `nightly` | `nightly.rs` |
//! | `images ...`, `gc`, `bench`, `agent`, `gateway` | `ops.rs` |
#![allow(clippy::print_stdout)]

pub mod args;
pub mod exit;
mod gate;
mod judge;
mod nightly;
mod ops;
mod print;
mod report;
mod review;
mod run;
mod scale;
mod tasks;

use crate::error::Error;
use crate::store::{self, Store};
use args::{Cli, Command};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;

/// Parses the command line, runs the command, and answers its exit code.
pub fn main() -> i32 {
    // A reader that stops early (`results --json | head -1`) ends the process quietly, as
    // it does for every other command-line tool, instead of a panic in `println!`.
    // SAFETY: called before any thread starts; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
    // Whatever a command's result, the containers it was still removing are gone before exit.
    match rt.block_on(async {
        let result = dispatch(cli).await;
        crate::harness::settle_all().await;
        result
    }) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            exit::of_error(&e)
        }
    }
}

/// Hands each command to the file of its group.
async fn dispatch(cli: Cli) -> Result<i32, Error> {
    let db = cli.db;
    match cli.command {
        Command::Demo {
            jobs,
            new,
            judge,
            judge_opts,
            json,
        } => run::demo(&db, jobs, new, &judge, &judge_opts, json).await,
        Command::Run(args) => run::run(&db, args).await,
        Command::Results {
            calls: Some(id),
            json,
            ..
        } => run::calls(&db, id, json),
        Command::Results { eval, json, .. } => run::results(&db, eval.as_deref(), json),
        Command::Judge {
            command,
            eval,
            judge,
            suite,
            judge_opts,
            json,
        } => judge::judge(&db, command, eval, &judge, suite, &judge_opts, json).await,
        Command::Tasks { command } => tasks::tasks(&db, command).await,
        Command::Label { command } => review::label(&db, command).await,
        Command::Labels { command } => review::labels(&db, command),
        Command::Reviewers { command } => review::reviewers(&db, command),
        Command::Drift { opts, json } => review::drift(&db, &opts, json),
        Command::Report { command } => report::report(&db, command),
        Command::Gate {
            diff,
            range,
            repo,
            format,
            out,
        } => gate::gate(diff, range, &repo, &format, out.as_deref()),
        Command::Nightly {
            config,
            shard,
            report_only,
        } => nightly::nightly(&db, &config, shard, report_only).await,
        Command::Merge { stores, into, json } => scale::merge(&stores, &into, json),
        Command::Plan {
            machines,
            jobs,
            eval,
            deadline,
            json,
        } => scale::plan(
            &db,
            machines,
            jobs,
            eval.as_deref(),
            deadline.as_deref(),
            json,
        ),
        Command::Images { command } => ops::images(&db, command).await,
        Command::Gc { all, json } => ops::gc(all, json).await,
        Command::Bench {
            quick,
            leaderboard,
            attempts,
            gateway,
        } => {
            if gateway {
                ops::bench_gateway(quick).await
            } else {
                ops::bench(&db, quick, leaderboard, attempts).await
            }
        }
        Command::Agent(a) => ops::agent(a).await,
        Command::Gateway { config } => ops::gateway(&config).await,
    }
}

/// The store: `--db`, else `$MERGEBENCH_DB`, else mergebench.db here.
fn open_store(db: &Option<PathBuf>) -> Result<Arc<Store>, Error> {
    let path = db.clone().unwrap_or_else(store::default_path);
    Ok(Arc::new(Store::open(&path)?))
}

/// The store for a command that only reads: it must exist.
fn read_store(db: &Option<PathBuf>) -> Result<Arc<Store>, Error> {
    let path = db.clone().unwrap_or_else(store::default_path);
    Ok(Arc::new(Store::open_existing(&path)?))
}

/// The evaluation `eval` names, or the latest.
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
