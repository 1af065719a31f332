//! `tasks list`, `tasks validate` and `tasks mine`.

use super::args::{MineArgs, TasksCommand};
use super::{exit, open_store, print, read_store};
use crate::app::settings::judge_setup;
use crate::config::suite::load_suite;
use crate::error::Error;
use crate::harness::{Docker, GcScope};
use std::path::{Path, PathBuf};

pub async fn tasks(db: &Option<PathBuf>, command: TasksCommand) -> Result<i32, Error> {
    match command {
        TasksCommand::List { suite, json } => list(&suite, json),
        TasksCommand::Validate {
            suite,
            repeat,
            json,
        } => validate(&suite, repeat, json).await,
        TasksCommand::Mine(args) => mine(db, args).await,
        TasksCommand::Explain { commit, run, json } => explain(db, &commit, run.as_deref(), json),
    }
}

/// `tasks explain COMMIT`: a mined commit's fate with its whole evidence.
fn explain(
    db: &Option<PathBuf>,
    commit: &str,
    run: Option<&str>,
    json: bool,
) -> Result<i32, Error> {
    let store = read_store(db)?;
    let runs: Vec<String> = match run {
        Some(r) => vec![r.to_string()],
        None => store.mine_run_ids()?,
    };
    let wanted = commit.trim();
    if wanted.len() < 4 {
        return Err(Error::Usage(
            "give at least the first 4 characters of the commit id".into(),
        ));
    }
    for run_id in runs {
        let rows = store.mine_commits(&run_id)?;
        if let Some(row) = rows.iter().find(|r| r.commit.starts_with(wanted)) {
            if json {
                print::json(&serde_json::json!({ "run": run_id, "commit": row }));
            } else {
                println!("run {run_id}");
                print!("{}", crate::tasks::mine::funnel::explain(row));
            }
            return Ok(exit::OK);
        }
    }
    Err(Error::Usage(format!(
        "no mining run in {} looked at a commit starting with `{wanted}`",
        store.path().display()
    )))
}

/// `tasks list`: every task of a suite; exit 2 when some task is invalid.
fn list(suite: &Path, json: bool) -> Result<i32, Error> {
    let suite = load_suite(suite)?;
    if json {
        print::json(&serde_json::json!({
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
        print!("{}", print::format_table(&rows));
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

/// `tasks validate`: every task proven in Docker; exit 1 when some task is invalid.
async fn validate(suite: &Path, repeat: u32, json: bool) -> Result<i32, Error> {
    let suite = load_suite(suite)?;
    let docker = Docker::connect().await?;
    let results = crate::tasks::validate::validate_suite(&docker, &suite, repeat).await?;
    let failed = results.iter().filter(|r| !r.valid).count();
    if json {
        print::json(&results);
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

/// `tasks mine`: tasks from a repository's history, proven in Docker.
async fn mine(db: &Option<PathBuf>, args: Box<MineArgs>) -> Result<i32, Error> {
    let json = args.json;
    let limits_given = args.judge_opts.max_calls.is_some() || args.judge_opts.max_cost.is_some();
    if args.rewrite.is_none() && limits_given {
        return Err(Error::Usage(
            "--max-calls and --max-cost limit the judge of --rewrite: add --rewrite JUDGE, or leave them out".into(),
        ));
    }
    let rewriter = args
        .rewrite
        .as_deref()
        .map(|j| judge_setup(j, &args.judge_opts.limits()))
        .transpose()?;
    let opts = args.options();
    let store = open_store(db)?;
    let docker = Docker::connect().await?;
    docker.gc(GcScope::Orphans).await?;
    let report =
        crate::tasks::mine::mine_until_interrupted(&docker, &store, &opts, rewriter.as_ref())
            .await?;
    if json {
        print::json(&serde_json::json!({
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
        print!("{}", crate::tasks::mine::funnel::render(&report.commits));
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
