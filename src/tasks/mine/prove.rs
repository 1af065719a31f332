//! Proving a candidate in Docker: the parent commit checked out, the patches applied on the
//! host, the environment image its dependencies call for (shared with every candidate whose
//! dependencies are the same), the whole test command run `--repeat` times at the parent and
//! with the fix, the lists read from runs that agree, and the task written into a hidden
//! folder and accepted by `tasks validate` before it may be renamed into place.

use super::candidate::Candidate;
use super::cause::{of_run, Cause, Evidence};
use super::funnel::{Fate, Stage};
use super::write::{self, Staged, TaskFiles};
use super::{basis, classify, envs, interface, Ctx};
use crate::config::suite::{dockerfile_environment, load_task_at, Environment, Task, Tests};
use crate::error::Error;
use crate::harness::images::Image;
use crate::repo::patch::Patch;
use crate::repo::workspace::{graded_tree, prepare_base, BaseRepo, Graded};
use crate::score::grade::{run_graded, tail, Ran};
use crate::tasks::validate::validate_task;
use std::sync::Arc;

/// How much of each stream a dropped candidate keeps as evidence.
const EVIDENCE_TAIL: usize = 4 << 10;

pub(super) struct Checked {
    pub(super) fate: Fate,
    /// The task, written beside the suite and accepted by `tasks validate`.
    pub(super) staged: Option<Staged>,
}

impl Ctx<'_> {
    /// The task as it would be written, before its test lists are known.
    fn provisional(&self, c: &Candidate) -> Task {
        let s = &self.settings;
        Task {
            suite: s.name.clone(),
            id: c.id.clone(),
            title: c.title.clone(),
            created: Some(c.created.clone()),
            tags: vec!["mined".into()],
            cluster: None,
            problem: c.problem.clone(),
            source: s.source.clone(),
            base: c.parent.clone(),
            environment: s.environment.clone(),
            tests: Tests {
                command: s.command.clone(),
                format: s.format.clone(),
                patch: c.tests.clone(),
                fail_to_pass: Vec::new(),
                pass_to_pass: Vec::new(),
                timeout: s.timeout,
                disk: s.disk,
            },
            gold: Some(c.gold.clone()),
            scope: s.scope.clone(),
            file: self.opts.out.join(&c.id).join("task.toml"),
            hash: String::new(),
        }
    }

    /// The candidate's environment (the suite's, or its own, written into `envs/<key>/`)
    /// and its image: each built once, a failure kept. Err: where it is, and why it failed.
    async fn environment(&self, c: &Candidate) -> Result<(Environment, Image), (String, String)> {
        let (key, dir) = match &c.environment {
            None => (String::new(), None),
            Some(own) => (
                own.key(),
                Some(self.opts.out.join(envs::ENVS_DIR).join(own.short_key())),
            ),
        };
        let mut slots = self.envs.lock().await;
        if !slots.contains_key(&key) {
            let r = async {
                let env = match (&c.environment, &dir) {
                    (Some(own), Some(dir)) => {
                        own.write(dir)?;
                        dockerfile_environment(&dir.join("Dockerfile"), &self.settings.environment)?
                    }
                    _ => self.settings.environment.clone(),
                };
                let image = self
                    .images
                    .environment(self.docker, &env, &self.settings.file)
                    .await?;
                Ok::<_, Error>((env, image))
            }
            .await
            .map_err(|e| e.to_string());
            slots.insert(key.clone(), r);
        }
        // cannot fail: the slot was filled above if it was empty.
        slots[&key].clone().map_err(|e| {
            let name = match &c.environment {
                None => "the environment image".to_string(),
                Some(own) => format!(
                    "the environment image {}/{}/ (the parent commit's dependencies differ from the suite's)",
                    envs::ENVS_DIR,
                    own.short_key()
                ),
            };
            (name, e)
        })
    }

    /// Proves a candidate in Docker. Errors are only those that stop the whole run (the
    /// suite's source lacks the history, Docker went away); the rest is the candidate's fate.
    pub(super) async fn check(&self, c: &Candidate) -> Result<Checked, Error> {
        let dropped_because =
            |reached: Stage, reason: String, cause: Cause, evidence: Option<Evidence>| Checked {
                fate: c.fate(reached, Some(reason)).because(cause, evidence),
                staged: None,
            };
        let dropped =
            |reached: Stage, reason: String| dropped_because(reached, reason, Cause::Other, None);
        let mut task = self.provisional(c);
        let t = task.clone();
        let base = match tokio::task::spawn_blocking(move || prepare_base(&t))
            .await
            .map_err(|e| Error::infra_from("", e))?
        {
            Ok(b) => Arc::new(b),
            Err(e @ (Error::Input { .. } | Error::Environment { .. })) => return Err(e),
            Err(e) => {
                return Ok(dropped(
                    Stage::Candidate,
                    format!("cannot check out the parent commit: {e}"),
                ))
            }
        };
        if let Err(reason) = self.patches_apply(&base, c).await? {
            return Ok(dropped_because(
                Stage::Candidate,
                reason,
                Cause::PatchDoesNotApply,
                None,
            ));
        }
        let image = match self.environment(c).await {
            Ok((env, image)) => {
                task.environment = env;
                image
            }
            Err((name, e)) => {
                // The build log is in the error once; the reason stays one line.
                return Ok(dropped_because(
                    Stage::PatchesApply,
                    format!("{name} does not build (see the evidence)"),
                    Cause::ImageBuildFailed,
                    Some(Evidence {
                        build_log: e,
                        ..Default::default()
                    }),
                ));
            }
        };
        let mut notes = Vec::new();
        let changed = classify::changed_test_names(&c.tests);
        let mut runs = [Vec::new(), Vec::new()];
        // The last run of each tree, kept as evidence for a drop.
        let mut last: [Option<Evidence>; 2] = [None, None];
        let patches = [Patch::new(Vec::new()), Patch::new(c.gold.clone())];
        for _ in 0..self.opts.repeat {
            for (phase, patch) in patches.iter().enumerate() {
                let name = ["at the parent commit", "with the fix"][phase];
                let t = match run_graded(self.docker, &task, &base, &image, patch).await {
                    Ok(Ran::Tests(t)) => t,
                    Ok(Ran::PatchFailed(e)) => {
                        return Ok(dropped_because(
                            Stage::EnvironmentBuilt,
                            format!("the fix does not apply: {e}"),
                            Cause::PatchDoesNotApply,
                            None,
                        ))
                    }
                    Err(e @ Error::Environment { .. }) => return Err(e),
                    Err(e) => {
                        return Ok(dropped(
                            Stage::EnvironmentBuilt,
                            format!("the tests could not run {name}: {e}"),
                        ))
                    }
                };
                let evidence = Evidence {
                    stdout: tail(&t.stdout, EVIDENCE_TAIL),
                    stderr: tail(&t.stderr, EVIDENCE_TAIL),
                    exit_code: Some(t.exit_code),
                    ..Default::default()
                };
                if let Some(e) = t.parse_error {
                    return Ok(dropped_because(
                        Stage::EnvironmentBuilt,
                        format!("the test output {name} could not be read: {e}"),
                        Cause::NoTestsCollected,
                        Some(evidence),
                    ));
                }
                // A test the hidden patch adds that the run never reported (its file did
                // not build at the parent) explains a failing exit status.
                let hidden_missing = changed.iter().any(|name| {
                    !t.run
                        .cases
                        .iter()
                        .any(|case| classify::own_name(&case.id) == name)
                });
                let (seen, inconsistent) = classify::observe(
                    &t.run,
                    t.exit_code,
                    t.timed_out,
                    t.canaries == crate::score::grade::CanaryState::Held || hidden_missing,
                );
                if inconsistent {
                    let why = if t.timed_out {
                        "the tests timed out".to_string()
                    } else {
                        format!(
                            "the test command exited with {} without naming a failing test",
                            t.exit_code
                        )
                    };
                    notes.push(format!("{name}, {why}: no pass of that run was believed"));
                }
                runs[phase].push(seen);
                last[phase] = Some(evidence);
            }
        }
        notes.dedup();
        let lists = classify::limit_when_parent_reported_nothing(
            classify::classify(&runs[0], &runs[1]),
            &runs[0],
            &changed,
        );
        let runs_note = |n: u32| {
            if n == 1 {
                "1 run".to_string()
            } else {
                format!("{n} runs")
            }
        };
        if !lists.flaky.is_empty() {
            notes.push(format!(
                "flaky across {} of each tree, left out: {}",
                runs_note(self.opts.repeat),
                lists.flaky.join(", ")
            ));
        }
        if !lists.broken_by_fix.is_empty() {
            notes.push(format!(
                "pass at the parent commit but not with the fix, left out: {}",
                lists.broken_by_fix.join(", ")
            ));
        }
        if lists.fail_to_pass.is_empty() {
            let mut reason =
                "no test fails at the parent commit and passes with the fix".to_string();
            // The run with the fix says why, if anything does: what its output points at
            // beats what the lists show (a missing module fails every test "with it too").
            let fix_run = last[1].clone().unwrap_or_default();
            let read = of_run(&fix_run.stdout, &fix_run.stderr);
            let (cause, evidence) = if runs[1].iter().all(|r| r.is_empty()) {
                reason = "the test command reported no tests with the fix".to_string();
                (read.unwrap_or(Cause::NoTestsCollected), last[1].clone())
            } else if !lists.flaky.is_empty() && lists.failing.is_empty() {
                (Cause::Flaky, last[1].clone())
            } else if lists.failing.is_empty() {
                (Cause::TestsAlreadyPass, last[0].clone())
            } else {
                (read.unwrap_or(Cause::TestsFailWithFix), last[1].clone())
            };
            if let Some(r) = read {
                reason.push_str(&format!(" ({})", r.label()));
            }
            if runs[1].iter().any(|r| !r.is_empty()) {
                if lists.failing.is_empty() {
                    reason.push_str(": its tests already pass without it");
                } else {
                    reason.push_str(&format!(": {} fail with it too", some_of(&lists.failing)));
                }
                if !lists.flaky.is_empty() {
                    reason.push_str(&format!(
                        " (flaky across {} of each tree, left out: {})",
                        runs_note(self.opts.repeat),
                        some_of(&lists.flaky)
                    ));
                }
            }
            let mut f = c
                .fate(Stage::EnvironmentBuilt, Some(reason))
                .because(cause, evidence);
            f.notes.extend(notes);
            return Ok(Checked {
                fate: f,
                staged: None,
            });
        }
        let statement = match self.statement(c, &lists.fail_to_pass).await? {
            Ok(s) => s,
            Err(reason) => {
                let mut f = c
                    .fate(Stage::EnvironmentBuilt, Some(reason))
                    .because(Cause::StatementLeaks, None);
                f.notes.extend(notes);
                return Ok(Checked {
                    fate: f,
                    staged: None,
                });
            }
        };
        notes.extend(statement.notes);
        let mut tags = vec!["mined".to_string()];
        if interface::is_thin(&statement.problem) {
            tags.push("thin".into());
            notes.push(format!(
                "thin: the statement has under {} words; add issue texts with --issues DIR or \
                 restate it with --rewrite JUDGE",
                interface::THIN_WORDS
            ));
        }
        // The statement as stated, before the sections below say what the tests call.
        if let Some(terms) = basis::unmentioned(
            &format!("{}\n{}", statement.title, statement.problem),
            &lists.fail_to_pass,
            &c.gold,
        ) {
            tags.push("no_basis".into());
            notes.push(basis::note(&terms));
        }
        // Names the hidden tests call and strings they compare, when the fix adds them:
        // stated, so that the task asks for behaviour rather than a guess.
        let (sections, unstated) = interface::stated(&c.gold, &c.tests, &c.forbidden);
        if unstated > 0 {
            tags.push("underspecified".into());
            notes.push(format!(
                "underspecified: the hidden tests need {unstated} more names or exact strings \
                 the fix adds than the statement can list ({} of each); restate it with \
                 --rewrite JUDGE, or drop the task",
                interface::MAX_LISTED
            ));
        }
        let problem = format!("{}{}", statement.problem, sections);
        let files = TaskFiles {
            id: c.id.clone(),
            title: statement.title,
            rewritten_by: statement.rewritten_by,
            created: c.created.clone(),
            tags,
            commit: c.commit.sha.clone(),
            base: c.parent.clone(),
            fail_to_pass: lists.fail_to_pass,
            pass_to_pass: lists.pass_to_pass,
            problem,
            gold: c.gold.clone(),
            tests: c.tests.clone(),
            environment: c
                .environment
                .as_ref()
                .map(|own| format!("../{}/{}/Dockerfile", envs::ENVS_DIR, own.short_key())),
        };
        let mut fate = c.fate(Stage::EnvironmentBuilt, None);
        fate.notes.extend(notes);
        let staged = match write::stage(&self.opts.out, &files) {
            Ok(s) => s,
            Err(e) => {
                fate.reason = Some(format!("cannot write the task: {e}"));
                fate.cause = Some(Cause::Other);
                return Ok(Checked { fate, staged: None });
            }
        };
        // What gets proven is what was written: the files, read back as `tasks validate` reads them.
        let loaded = match load_task_at(&self.opts.out, &staged.task_file()) {
            Ok(t) => t,
            Err(e) => {
                fate.reason = Some(format!("the written task does not load: {e}"));
                fate.cause = Some(Cause::Other);
                return Ok(Checked { fate, staged: None });
            }
        };
        match validate_task(self.docker, &self.images, &loaded, 1).await {
            Ok(v) if v.valid => {
                fate.reached = Stage::Validated;
                Ok(Checked {
                    fate,
                    staged: Some(staged),
                })
            }
            Ok(v) => {
                fate.reason = Some(format!(
                    "`tasks validate` rejects it on a further run: {}",
                    v.problems.join("; ")
                ));
                fate.cause = Some(if v.flaky.is_empty() {
                    Cause::Other
                } else {
                    Cause::Flaky
                });
                Ok(Checked { fate, staged: None })
            }
            Err(e @ Error::Environment { .. }) => Err(e),
            Err(e) => {
                fate.reason = Some(format!("`tasks validate` could not run: {e}"));
                fate.cause = Some(Cause::Other);
                Ok(Checked { fate, staged: None })
            }
        }
    }

    /// Whether the fix and the test changes apply to the parent commit, checked on the host
    /// before any container starts: Ok(Err(reason)) when they do not.
    async fn patches_apply(
        &self,
        base: &Arc<BaseRepo>,
        c: &Candidate,
    ) -> Result<Result<(), String>, Error> {
        let (b, gold, tests) = (base.clone(), Patch::new(c.gold.clone()), c.tests.clone());
        let graded = tokio::task::spawn_blocking(move || graded_tree(&b, &gold, &tests))
            .await
            .map_err(|e| Error::infra_from("", e))??;
        Ok(match graded {
            Graded::Ready { .. } => Ok(()),
            Graded::PatchFailed(e) => Err(format!("the fix does not apply to its parent: {e}")),
            Graded::TestsDoNotApply(e) => Err(format!(
                "the test changes do not apply to the parent commit: {e}"
            )),
        })
    }
}

/// The first few of `names`, and how many more there are: reasons stay one readable line.
fn some_of(names: &[String]) -> String {
    const SHOWN: usize = 5;
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!(
            "{} and {} more",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        )
    }
}
