//! `merge` and `plan`: joining the stores of an evaluation's shards, and predicting the
//! wall time of a plan on many machines from an evaluation's stored durations.

use super::{exit, find_evaluation, print, read_store};
use crate::app::capacity::{machines_for, predict, work_of};
use crate::config::units::{format_duration, parse_duration};
use crate::error::Error;
use crate::store::{Sources, Store};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `mergebench merge STORE... --into STORE`.
pub fn merge(stores: &[PathBuf], into: &Path, json: bool) -> Result<i32, Error> {
    // The sources are read and checked before the target is opened (or created), so a
    // refused merge leaves no new, empty store behind.
    let sources = Sources::read(stores, into)?;
    let store = Store::open(into)?;
    let summary = store.merge_sources(sources)?;
    if json {
        print::json(&serde_json::to_value(&summary).unwrap_or_default());
        return Ok(exit::OK);
    }
    for m in &summary.evaluations {
        let what = match &m.shard {
            Some(s) => format!("shard {s} of evaluation {}", m.into),
            None => format!("evaluation {}", m.into),
        };
        let state = match (m.copied, m.complete) {
            (false, _) => "already merged",
            (true, true) => "merged; complete",
            (true, false) => "merged; waiting for its other shards",
        };
        println!("{}: {} → {what}: {state}", m.store.display(), m.source);
    }
    println!(
        "{} attempts copied, {} already there",
        summary.attempts_copied, summary.attempts_present
    );
    if summary.labels_left > 0 {
        eprintln!(
            "note: {} labels in the sources were not copied: labels stay in the store where \
             reviewers gave them, behind its holdout split",
            summary.labels_left
        );
    }
    Ok(exit::OK)
}

/// `mergebench plan --machines M --jobs J [--eval ID] [--deadline 6h]`.
pub fn plan(
    db: &Option<PathBuf>,
    machines: u32,
    jobs: usize,
    eval: Option<&str>,
    deadline: Option<&str>,
    json: bool,
) -> Result<i32, Error> {
    if machines == 0 || jobs == 0 {
        return Err(Error::Usage(
            "--machines and --jobs must be at least 1".into(),
        ));
    }
    let deadline: Option<Duration> = deadline
        .map(|d| parse_duration(d).map_err(|e| Error::Usage(format!("--deadline: {e}"))))
        .transpose()?;
    let store = read_store(db)?;
    let ev = find_evaluation(&store, eval)?;
    let rows = store.attempts(&ev.id)?;
    if rows.is_empty() {
        return Err(Error::Usage(format!(
            "evaluation {} has no attempts to replay: name a finished one with --eval",
            ev.id
        )));
    }
    let mut tasks: Vec<String> = rows.iter().map(|r| r.key.task_id.clone()).collect();
    tasks.sort();
    tasks.dedup();
    let work = work_of(&rows, &tasks);
    let (wall, each) = predict(&work, machines, jobs);
    let measured = match (
        &ev.finished_at,
        chrono::DateTime::parse_from_rfc3339(&ev.created_at),
    ) {
        (Some(f), Ok(start)) => chrono::DateTime::parse_from_rfc3339(f)
            .ok()
            .map(|end| (end - start).num_milliseconds() as f64 / 1000.0),
        _ => None,
    };
    let ran_on = store.merged_shard_count(&ev.id)?.max(1);
    let needed = deadline.map(|d| (d, machines_for(&work, jobs, d)));
    let secs = |s: f64| format_duration(Duration::from_secs_f64(s.max(0.0)));
    if json {
        print::json(&serde_json::json!({
            "evaluation": ev.id,
            "attempts": work.len(),
            "tasks": tasks.len(),
            "machines": machines,
            "jobs": jobs,
            "predicted_seconds": wall,
            "per_machine_seconds": each,
            "measured_seconds": measured,
            "measured_machines": ran_on,
            "deadline_seconds": needed.map(|(d, _)| d.as_secs_f64()),
            "machines_for_deadline": needed.and_then(|(_, m)| m),
        }));
        return Ok(exit::OK);
    }
    println!(
        "evaluation {}: {} attempts over {} tasks, {} of agent and grading time in all",
        ev.id,
        work.len(),
        tasks.len(),
        secs(work.iter().map(|w| w.seconds).sum())
    );
    println!(
        "predicted wall time on {machines} machine(s) × {jobs} jobs: {} (busiest machine; image builds and the judge pass not included)",
        secs(wall)
    );
    if let Some(m) = measured {
        println!(
            "measured wall time of this evaluation: {} on {ran_on} machine(s), image builds and judging included",
            secs(m)
        );
    }
    if let Some((d, m)) = needed {
        match m {
            Some(m) => println!("to finish within {}: {m} machine(s) × {jobs} jobs", secs(d.as_secs_f64())),
            None => println!(
                "no number of machines finishes within {}: one task's attempts alone take longer; raise --jobs or the deadline",
                secs(d.as_secs_f64())
            ),
        }
    }
    Ok(exit::OK)
}
