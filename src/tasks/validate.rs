//! `tasks validate`: proves each task in Docker. Without the gold patch every fail_to_pass
//! test fails and every pass_to_pass test passes; with it, all pass. Repeats expose flaky
//! tests. A task that fails is reported, never silently dropped.

use crate::config::suite::{Suite, Task};
use crate::error::Error;
use crate::harness::images::ImageCache;
use crate::harness::Docker;
use crate::repo::patch::Patch;
use crate::repo::workspace::prepare_base;
use crate::score::grade::grade;
use crate::score::outcome::TestResult;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Debug, Serialize)]
pub struct TaskValidation {
    pub task: String,
    pub file: String,
    pub valid: bool,
    pub problems: Vec<String>,
    /// Tests whose result changed between repeats.
    pub flaky: Vec<String>,
}

pub async fn validate_suite(
    docker: &Docker,
    suite: &Suite,
    repeat: u32,
) -> Result<Vec<TaskValidation>, Error> {
    let images = ImageCache::default();
    let mut out = Vec::new();
    for e in &suite.invalid {
        let (file, message) = match e {
            Error::Input { file, .. } => (file.display().to_string(), e.to_string()),
            other => (suite.dir.display().to_string(), other.to_string()),
        };
        out.push(TaskValidation {
            task: "?".into(),
            file,
            valid: false,
            problems: vec![message],
            flaky: vec![],
        });
    }
    for task in &suite.tasks {
        let v = match validate_task(docker, &images, task, repeat.max(1)).await {
            Ok(v) => v,
            Err(e) => TaskValidation {
                task: task.id.clone(),
                file: task.file.display().to_string(),
                valid: false,
                problems: vec![e.to_string()],
                flaky: vec![],
            },
        };
        out.push(v);
    }
    docker.settle().await;
    Ok(out)
}

pub async fn validate_task(
    docker: &Docker,
    images: &ImageCache,
    task: &Task,
    repeat: u32,
) -> Result<TaskValidation, Error> {
    let mut problems = Vec::new();
    let Some(gold) = &task.gold else {
        return Ok(TaskValidation {
            task: task.id.clone(),
            file: task.file.display().to_string(),
            valid: false,
            problems: vec!["no [gold] patch: the task cannot be proven solvable".into()],
            flaky: vec![],
        });
    };
    let env = images
        .environment(docker, &task.environment, &task.file)
        .await?;
    let t = task.clone();
    let base = Arc::new(
        tokio::task::spawn_blocking(move || prepare_base(&t))
            .await
            .map_err(|e| Error::infra_from("", e))??,
    );
    let gold = Patch::new(gold.clone());
    if !crate::repo::patch::touched_paths(&gold.bytes)
        .is_disjoint(&crate::repo::patch::touched_paths(&task.tests.patch))
    {
        problems.push("the gold patch edits paths the hidden test patch also edits".into());
    }
    // Every observed status per (phase, test) across repeats.
    let mut seen: BTreeMap<(&str, String), BTreeSet<bool>> = BTreeMap::new();
    for _ in 0..repeat {
        for (phase, patch) in [("base", Patch::new(Vec::new())), ("gold", gold.clone())] {
            let g = grade(docker, task, &base, &env, &patch).await?;
            if !g.applied {
                problems.push(format!(
                    "the gold patch does not apply: {}",
                    g.apply_error.unwrap_or_default()
                ));
                continue;
            }
            let Some(v) = g.verdict else { continue };
            let mut record = |r: &TestResult| {
                seen.entry((phase, r.id.clone()))
                    .or_default()
                    .insert(r.passed());
            };
            v.fail_to_pass.iter().for_each(&mut record);
            v.pass_to_pass.iter().for_each(&mut record);
            if let Some(e) = g.parse_error {
                problems.push(format!("{phase}: the test output could not be read: {e}"));
            }
        }
    }
    let mut flaky = BTreeSet::new();
    for ((phase, id), results) in &seen {
        if results.len() > 1 {
            flaky.insert(id.clone());
            continue;
        }
        let passed = results.contains(&true);
        let is_f2p = task.tests.fail_to_pass.contains(id);
        match (*phase, is_f2p, passed) {
            ("base", true, true) => problems.push(format!(
                "fail_to_pass test {id} already passes without the fix"
            )),
            ("base", false, false) => {
                problems.push(format!("pass_to_pass test {id} fails at the base commit"))
            }
            ("gold", _, false) => {
                problems.push(format!("test {id} does not pass with the gold patch"))
            }
            _ => {}
        }
    }
    problems.dedup();
    let flaky: Vec<String> = flaky.into_iter().collect();
    if !flaky.is_empty() {
        problems.push(format!("flaky across {repeat} runs: {}", flaky.join(", ")));
    }
    Ok(TaskValidation {
        task: task.id.clone(),
        file: task.file.display().to_string(),
        valid: problems.is_empty(),
        problems,
        flaky,
    })
}
