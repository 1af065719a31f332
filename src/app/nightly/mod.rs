//! `mergebench nightly`: one command for cron or CI. For every configured suite it runs a new
//! evaluation of every agent, judges it, writes the leaderboard (with history) where the
//! config says, prints the report paths, and answers 1 when an agent regressed.

pub mod config;

use crate::app::settings::{judge_setup, load_agents, JudgeLimits};
use crate::config::suite::load_suite;
use crate::error::Error;
use crate::harness::Docker;
use crate::report::compare::format_p;
use crate::report::history::Regression;
use crate::report::leaderboard::LeaderboardOptions;
use crate::report::{leaderboard_from_store, render, write_report, Format};
use crate::run::plan::Shard;
use crate::run::{run, Prepared, RunOptions};
use crate::store::Store;
pub use config::NightlyConfig;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug)]
pub struct SuiteNight {
    pub suite: String,
    pub evaluation: String,
    pub reports: Vec<(Format, PathBuf)>,
    pub regressions: Vec<Regression>,
}

/// How a regression reads in the nightly log.
pub fn describe(g: &Regression) -> String {
    format!(
        "regression: {} merge rate fell from {:.0}% to {:.0}% on {} shared tasks ({} lost, {} gained; McNemar exact {}, {})",
        g.agent,
        g.from_rate * 100.0,
        g.to_rate * 100.0,
        g.shared_tasks,
        g.lost,
        g.gained,
        format_p(g.p_value),
        crate::report::history::adjusted_text(g.correction, g.family, g.adjusted_p)
    )
}

/// Writes the leaderboard of `eval` in every configured format; returns the paths.
pub fn write_reports(
    store: &Store,
    cfg: &NightlyConfig,
    suite: &str,
    eval: &str,
) -> Result<SuiteNight, Error> {
    let lb = leaderboard_from_store(
        store,
        Some(eval),
        cfg.history,
        &LeaderboardOptions {
            since: cfg.since.clone(),
            policy: cfg.policy,
            calibration: crate::review::drift::held_out_calibrations(store)?,
        },
    )?;
    let paths = cfg.report_paths(suite);
    let mut reports = Vec::new();
    for (format, path) in [
        (Format::Html, paths.html),
        (Format::Markdown, paths.markdown),
        (Format::Json, paths.json),
    ] {
        if let Some(path) = path {
            write_report(&path, &render::leaderboard(&lb, format))?;
            reports.push((format, path));
        }
    }
    Ok(SuiteNight {
        suite: suite.to_string(),
        evaluation: eval.to_string(),
        reports,
        regressions: lb.regressions,
    })
}

/// How a night ended: the command line turns it into an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NightOutcome {
    /// No regression and no drift alarm that the config fails on.
    Passed,
    /// Agents regressed (this many regressions) and the config fails on it.
    Regressed(usize),
    /// The judge drifted from the human labels and the config fails on it.
    JudgeDrifted,
}

impl NightOutcome {
    pub fn failed(self) -> bool {
        self != NightOutcome::Passed
    }
}

/// What part of the night this machine does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NightPart {
    /// Everything: run, judge, reports, checkpoints, drift, verdict.
    Whole,
    /// Run and judge one shard of every suite into this store; nothing else.
    Shard(Shard),
    /// The reports, checkpoints, drift and verdict from evaluations already in the store
    /// (the shards' stores merged into it).
    ReportOnly,
}

/// Runs the night. Each line of the nightly log (evaluations, report paths, regressions,
/// checkpoints, drift, the verdict) goes to `say` as it happens.
pub async fn nightly(
    cfg: &NightlyConfig,
    store: Arc<Store>,
    part: NightPart,
    say: &mut dyn FnMut(&str),
) -> Result<NightOutcome, Error> {
    // Everything that can be wrong with the files is found before the first container starts.
    let suites = cfg
        .suites
        .iter()
        .map(|s| load_suite(s))
        .collect::<Result<Vec<_>, _>>()?;
    for s in &suites {
        s.require_valid()?;
    }
    load_agents(&cfg.agents_dir, &cfg.agents)?;
    let judge_opts = JudgeLimits {
        judges_dir: cfg.judges_dir.clone(),
        max_calls: None,
        max_cost: cfg.max_judge_cost,
    };
    if let Some(j) = &cfg.judge {
        judge_setup(j, &judge_opts)?;
    }
    if part == NightPart::ReportOnly {
        let mut nights = Vec::new();
        for suite in &suites {
            let eval = store.latest_finished_evaluation(&suite.name)?.ok_or_else(|| {
                Error::Usage(format!(
                    "suite {}: no finished evaluation in {}: merge every shard's store into it first \
                     (`mergebench merge SHARD.db... --into {}`)",
                    suite.name,
                    store.path().display(),
                    store.path().display()
                ))
            })?;
            nights.push(report_night(&store, cfg, &suite.name, &eval.id, say)?);
        }
        return verdict(cfg, &store, &judge_opts, nights, say).await;
    }
    let docker = Docker::connect().await?;
    let mut nights = Vec::new();
    for suite in suites {
        let name = suite.name.clone();
        let summary = run(
            Prepared {
                docker: docker.clone(),
                store: store.clone(),
                suite,
                agents: load_agents(&cfg.agents_dir, &cfg.agents)?,
            },
            RunOptions {
                attempts: cfg.attempts,
                jobs: cfg.jobs,
                new: true,
                label: Some(cfg.label.clone()),
                progress: true,
                judge: cfg
                    .judge
                    .as_ref()
                    .map(|j| judge_setup(j, &judge_opts))
                    .transpose()?,
                shard: match part {
                    NightPart::Shard(s) => Some(s),
                    _ => None,
                },
                max_agent_cost: cfg.max_agent_cost,
                pin_model: None,
            },
        )
        .await?;
        if let Some(p) = &summary.judge {
            eprintln!("{}", p.describe());
        }
        let eval = summary
            .evaluation
            .ok_or_else(|| Error::infra(format!("suite {name}: the run recorded no evaluation")))?;
        if let NightPart::Shard(s) = part {
            say(&format!(
                "suite {name}: shard {s}, evaluation {} in {}",
                eval.id,
                store.path().display()
            ));
            continue;
        }
        nights.push(report_night(&store, cfg, &name, &eval.id, say)?);
    }
    if let NightPart::Shard(s) = part {
        say(&format!(
            "nightly: shard {s} done; merge every shard's store (`mergebench merge ... --into STORE`), \
             then run `nightly --report-only` on STORE"
        ));
        return Ok(NightOutcome::Passed);
    }
    verdict(cfg, &store, &judge_opts, nights, say).await
}

/// Writes one suite's reports and says where, and what regressed.
fn report_night(
    store: &Store,
    cfg: &NightlyConfig,
    name: &str,
    eval: &str,
    say: &mut dyn FnMut(&str),
) -> Result<SuiteNight, Error> {
    let night = write_reports(store, cfg, name, eval)?;
    say(&format!("suite {name}: evaluation {}", night.evaluation));
    for (format, path) in &night.reports {
        say(&format!(
            "  {:<9}{}",
            format!("{format:?}").to_lowercase(),
            path.display()
        ));
    }
    for g in &night.regressions {
        say(&format!("  {}", describe(g)));
    }
    Ok(night)
}

/// Checkpoints, drift, and the night's outcome.
async fn verdict(
    cfg: &NightlyConfig,
    store: &Store,
    judge_opts: &JudgeLimits,
    nights: Vec<SuiteNight>,
    say: &mut dyn FnMut(&str),
) -> Result<NightOutcome, Error> {
    if cfg.checkpoints {
        match &cfg.judge {
            Some(j) => {
                let setup = judge_setup(j, judge_opts)?;
                let summary = crate::review::checkpoints::judge_checkpoints(
                    store,
                    &setup.judge,
                    &setup.budget,
                    None,
                )
                .await?;
                say(&format!("checkpoints: {}", summary.describe()));
            }
            None => say("checkpoints: no judge configured; skipped"),
        }
    }
    let drift = crate::review::drift::compute(
        &store.drift_labels()?,
        &store.checkpoint_verdicts()?,
        &crate::review::drift::DriftOptions {
            margin: cfg.drift_margin,
            floor: cfg.drift_floor,
            ..Default::default()
        },
    );
    for a in &drift.alarms {
        say(&format!("drift alarm: {a}"));
    }
    if !drift.alarmed() {
        say("drift: no alarm");
    }
    let regressions: usize = nights.iter().map(|n| n.regressions.len()).sum();
    Ok(if regressions > 0 && cfg.fail_on_regression {
        say(&format!("nightly: {regressions} regression(s): exit 1"));
        NightOutcome::Regressed(regressions)
    } else if drift.alarmed() && cfg.fail_on_drift {
        say("nightly: judge drift alarm: exit 1");
        NightOutcome::JudgeDrifted
    } else {
        say("nightly: no regression");
        NightOutcome::Passed
    })
}
