//! `judge` (every attempt of an evaluation) and `judge checkpoints` (every labeled item).

use super::args::{JudgeCommand, JudgeOpts};
use super::{exit, find_evaluation, open_store, print};
use crate::app::settings::judge_setup;
use crate::config::suite::load_suite;
use crate::error::Error;
use crate::judge::pass::{judge_evaluation, PassOptions, PassSummary};
use std::path::PathBuf;

pub async fn judge(
    db: &Option<PathBuf>,
    command: Option<JudgeCommand>,
    eval: Option<String>,
    judge: &str,
    suite: Option<PathBuf>,
    judge_opts: &JudgeOpts,
    json: bool,
) -> Result<i32, Error> {
    if let Some(JudgeCommand::Checkpoints {
        judge,
        suite,
        judge_opts,
        json,
    }) = command
    {
        return checkpoints(db, &judge, suite, &judge_opts, json).await;
    }
    let setup = judge_setup(judge, &judge_opts.limits())?;
    let store = open_store(db)?;
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
        print::json(&summary);
    } else {
        println!("evaluation {} (suite {})", ev.id, ev.suite);
        print!("{}", render_judged(&summary));
        println!("{}", summary.describe());
    }
    Ok(exit::OK)
}

/// `judge checkpoints`: re-judge every labeled item with the current judge version.
async fn checkpoints(
    db: &Option<PathBuf>,
    judge: &str,
    suite: Option<PathBuf>,
    judge_opts: &JudgeOpts,
    json: bool,
) -> Result<i32, Error> {
    let setup = judge_setup(judge, &judge_opts.limits())?;
    let store = open_store(db)?;
    let summary =
        crate::review::checkpoints::judge_checkpoints(&store, &setup.judge, &setup.budget, suite)
            .await?;
    if json {
        print::json(&summary);
    } else {
        println!("{}", summary.describe());
    }
    Ok(exit::OK)
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
    print::format_table(&rows)
}
