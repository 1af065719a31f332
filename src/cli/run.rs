//! `demo`, `run` and `results`: an evaluation run (resuming), then its results printed.

use super::args::{JudgeOpts, RunArgs};
use super::{exit, find_evaluation, open_store, print, read_store};
use crate::app::settings::{judge_setup, load_agents};
use crate::config::suite::load_suite;
use crate::error::Error;
use crate::harness::Docker;
use crate::report::results::{render_text, summarize, views};
use crate::run::{Prepared, RunOptions};
use crate::store::Store;
use std::path::{Path, PathBuf};

/// The agents `demo` runs, all bundled in harness/agents.
pub const DEMO_AGENTS: &[&str] = &["oracle", "noop", "regressor", "test-editor", "overreach"];

/// `mergebench demo`: the whole pipeline on tasks/demo with the bundled agents.
pub async fn demo(
    db: &Option<PathBuf>,
    jobs: usize,
    new: bool,
    judge: &str,
    judge_opts: &JudgeOpts,
    json: bool,
) -> Result<i32, Error> {
    let judge = judge_setup(judge, &judge_opts.limits())?;
    let agents: Vec<String> = DEMO_AGENTS.iter().map(|s| s.to_string()).collect();
    let opts = RunOptions {
        attempts: 1,
        jobs,
        new,
        label: Some("demo".into()),
        progress: !json,
        judge: Some(judge),
        shard: None,
        max_agent_cost: None,
        pin_model: None,
    };
    run_and_print(
        db,
        Path::new("tasks/demo"),
        Path::new("harness/agents"),
        &agents,
        opts,
        json,
    )
    .await
}

/// `mergebench run`: the suite × agents × attempts, resuming the same evaluation.
pub async fn run(db: &Option<PathBuf>, a: RunArgs) -> Result<i32, Error> {
    if a.attempts == 0 {
        return Err(Error::Usage("--attempts must be at least 1".into()));
    }
    let judge = a
        .judge
        .map(|name| judge_setup(&name, &a.judge_opts.limits()))
        .transpose()?;
    let opts = RunOptions {
        attempts: a.attempts,
        jobs: a.jobs,
        new: a.new,
        label: a.label,
        progress: !a.json,
        judge,
        shard: a.shard,
        max_agent_cost: a.max_agent_cost,
        pin_model: a.pin_model,
    };
    run_and_print(db, &a.suite, &a.agents_dir, &a.agents, opts, a.json).await
}

/// `mergebench results`: every attempt of an evaluation and the rates per agent.
pub fn results(db: &Option<PathBuf>, eval: Option<&str>, json: bool) -> Result<i32, Error> {
    let store = read_store(db)?;
    print_results(&store, eval, json)?;
    Ok(exit::OK)
}

/// `mergebench results --calls ID`: one attempt's model calls, as its gateway recorded them.
pub fn calls(db: &Option<PathBuf>, id: i64, json: bool) -> Result<i32, Error> {
    let store = read_store(db)?;
    let Some(row) = store.attempt(id)? else {
        return Err(Error::Usage(format!(
            "no attempt {id} in this store; `mergebench results --json` lists the attempts' ids"
        )));
    };
    let calls = crate::gateway::stored::load(&store, id)?;
    if json {
        print::json(&serde_json::json!({
            "attempt": id,
            "agent": row.key.agent,
            "task": row.key.task_id,
            "measured": row.run.measured,
            "reported": row.run.usage,
            "flags": row.run.flags.names(),
            "calls": calls.records,
            "trajectory": calls.exchanges,
        }));
        return Ok(exit::OK);
    }
    let Some(m) = &row.run.measured else {
        println!(
            "attempt {id} ({}, {}) ran without a gateway: no model calls were measured",
            row.key.agent, row.key.task_id
        );
        return Ok(exit::OK);
    };
    println!("attempt {id}: {} on {}", row.key.agent, row.key.task_id);
    print!(
        "{}",
        crate::gateway::stored::describe(m, row.run.usage.as_ref(), &calls.records)
    );
    Ok(exit::OK)
}

/// Load, run (resuming), then print the evaluation's results.
async fn run_and_print(
    db: &Option<PathBuf>,
    suite: &Path,
    agents_dir: &Path,
    agents: &[String],
    opts: RunOptions,
    json: bool,
) -> Result<i32, Error> {
    let suite = load_suite(suite)?;
    let agents = load_agents(agents_dir, agents)?;
    let store = open_store(db)?;
    let docker = Docker::connect().await?;
    let summary = crate::run::run(
        Prepared {
            docker,
            store: store.clone(),
            suite,
            agents,
        },
        opts,
    )
    .await?;
    if let Some(p) = &summary.judge {
        eprintln!("{}", p.describe());
    }
    print_results(&store, summary.evaluation.map(|e| e.id).as_deref(), json)?;
    Ok(exit::OK)
}

fn print_results(store: &Store, eval: Option<&str>, json: bool) -> Result<(), Error> {
    let ev = find_evaluation(store, eval)?;
    let rows = store.attempts(&ev.id)?;
    let summaries = summarize(&rows, &store.task_clusters()?);
    if json {
        print::json(
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
