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

/// Whether the gold patch keeps out of the hidden tests' files. It may share a file the
/// hidden tests change in place when agents may edit that file too (tests beside code, as
/// in a Rust file): grading applies the hidden tests' part on top of the file. A read-only
/// file agents cannot edit, or a file the hidden tests add, delete or rename, it may not.
fn gold_and_tests_apart(gold: &[u8], tests_patch: &[u8], read_only: &[String]) -> bool {
    use crate::repo::patch::{in_place_paths, touched_paths};
    let tests = touched_paths(tests_patch);
    let in_place = in_place_paths(tests_patch);
    let read_only = crate::repo::workspace::globset(read_only);
    touched_paths(gold)
        .intersection(&tests)
        .all(|p| in_place.contains(p) && !read_only.is_match(p))
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
    if !gold_and_tests_apart(&gold.bytes, &task.tests.patch, &task.scope.read_only) {
        problems.push("the gold patch edits paths the hidden test patch also edits".into());
    }
    // Every observed status per (phase, test) across repeats.
    let mut seen: BTreeMap<(&str, String), BTreeSet<bool>> = BTreeMap::new();
    let mut base_built = true;
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
            if phase == "base"
                && v.fail_to_pass
                    .iter()
                    .chain(&v.pass_to_pass)
                    .all(|r| r.status.is_none())
            {
                // Nothing ran at the base: it does not build with the hidden tests (a Rust
                // test file calling what the fix adds stops the whole `cargo test`). That
                // is what an agent starts from; the fix must make every test pass.
                base_built = false;
            }
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
            ("base", false, false) if base_built => {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn modify(path: &str) -> String {
        format!("diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n")
    }

    #[test]
    fn gold_may_share_only_files_the_tests_change_in_place_and_agents_may_edit() {
        let add = "diff --git a/src/t.rs b/src/t.rs\nnew file mode 100644\n--- /dev/null\n+++ b/src/t.rs\n@@ -0,0 +1 @@\n+x\n";
        let cases: &[(&str, String, String, bool)] = &[
            ("apart", modify("src/a.rs"), modify("tests/t.rs"), true),
            (
                "a Rust file with tests beside code",
                modify("src/lib.rs"),
                modify("src/lib.rs"),
                true,
            ),
            (
                "a read-only test file",
                modify("tests/t.rs"),
                modify("tests/t.rs"),
                false,
            ),
            ("a file the tests add", add.into(), add.into(), false),
        ];
        for (what, gold, tests, want) in cases {
            let got = gold_and_tests_apart(gold.as_bytes(), tests.as_bytes(), &["tests/**".into()]);
            assert_eq!(got, *want, "{what}");
        }
    }
}
