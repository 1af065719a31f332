//! The conventions scorer for attempts: the pure `conventions` module over an attempt's patch,
//! plus the suite's command rules (formatters, linters) run in the task's container on the
//! base tree and on the patched tree. Results are cached under (patch, task, scorer version),
//! where the version covers the suite's rule configuration.

use crate::config::suite::{Suite, Task};
use crate::config::units::parse_duration;
use crate::conventions::{
    self, BlastConfig, BlastRadius, ConventionReport, ConventionsConfig, Ownership,
};
use crate::error::Error;
use crate::harness::images::Image;
use crate::harness::testrun::{run_tests, TestInput};
use crate::harness::Docker;
use crate::repo::patch::{touched_paths, Patch};
use crate::repo::workspace::{patched_tree, BaseRepo, Graded};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path};
use std::sync::Arc;
use std::time::Duration;

/// Bumped whenever scoring could answer differently for the same patch and rules.
pub const SCORER_VERSION: &str = "conventions-2";

/// A suite's rules, compiled once per run.
pub struct Settings {
    pub conventions: ConventionsConfig,
    pub ownership: Ownership,
    pub blast: BlastConfig,
    /// SCORER_VERSION plus a hash of the rules: changing a rule re-scores.
    pub version: String,
}

impl Settings {
    pub fn from_suite(suite: &Suite) -> Result<Settings, Error> {
        let ownership = Ownership::from_config(&suite.ownership, None).map_err(|e| {
            Error::input(
                suite.dir.join("suite.toml"),
                None,
                format!("invalid ownership glob: {e:?}"),
                "correct the [ownership] table",
            )
        })?;
        let rules =
            serde_json::to_string(&(&suite.conventions, &suite.ownership, &suite.blast_radius))
                // cannot fail: the configuration is strings, numbers, lists and string-keyed tables.
                .expect("serializable");
        Ok(Settings {
            conventions: suite.conventions.clone(),
            ownership,
            blast: suite.blast_radius.clone(),
            version: format!(
                "{SCORER_VERSION}:{}",
                &crate::config::sha256_hex(rules.as_bytes())[..16]
            ),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConventionsResult {
    pub passed: bool,
    pub errors: u64,
    pub warnings: u64,
    pub tier: String,
    pub staged_rollout: bool,
    pub report: ConventionReport,
    pub blast_radius: BlastRadius,
}

/// The files the reference fix touches, outside the hidden tests: the task's expected area.
pub fn expected_area(task: &Task) -> Vec<String> {
    let tests = touched_paths(&task.tests.patch);
    task.gold
        .as_deref()
        .map(touched_paths)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !tests.contains(p))
        .collect()
}

/// Reads a file of the base tree for the rules that look at a file's original content;
/// paths that would leave the tree read nothing.
fn base_reader(root: &Path) -> impl Fn(&str) -> Option<Vec<u8>> + '_ {
    move |p: &str| {
        let rel = Path::new(p);
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return None;
        }
        let full = root.join(rel);
        let meta = std::fs::symlink_metadata(&full).ok()?;
        if !meta.is_file() || meta.len() > 8 << 20 {
            return None;
        }
        std::fs::read(full).ok()
    }
}

/// Scores one patch for a task: from the cache when this patch, task and conventions
/// version were scored before, else computed and cached.
pub async fn score_cached(
    docker: &Docker,
    store: &Store,
    settings: &Settings,
    task: &Task,
    base: &Arc<BaseRepo>,
    image: &Image,
    patch: &Patch,
) -> Result<ConventionsResult, Error> {
    let compute = async {
        let parsed = conventions::parse_diff(&patch.bytes);
        let area = expected_area(task);
        let read_base = base_reader(base.path());
        let mut report = conventions::score_parsed(
            &parsed,
            &settings.conventions,
            &settings.ownership,
            &area,
            &read_base,
        );
        if !settings.conventions.commands.is_empty() && !patch.is_empty() {
            let (b, p) = (base.clone(), patch.clone());
            let patched = tokio::task::spawn_blocking(move || patched_tree(&b, &p))
                .await
                .map_err(|e| Error::infra_from("", e))??;
            if let Graded::Ready {
                tree: patched,
                dir: _keep,
                ..
            } = &patched
            {
                let base_dir = tempfile::tempdir().map_err(|e| Error::infra_from("", e))?;
                let base_tree = crate::repo::workspace::unpack_stripped(
                    &base.archive[..],
                    base_dir.path(),
                    "workspace",
                )?;
                for rule in &settings.conventions.commands {
                    let command = match &rule.run {
                        conventions::config::CommandLine::Shell(s) => s.clone(),
                        conventions::config::CommandLine::Argv(v) => v
                            .iter()
                            .map(|a| shell_quote(a))
                            .collect::<Vec<_>>()
                            .join(" "),
                    };
                    let timeout = rule
                        .timeout
                        .as_deref()
                        .and_then(|t| parse_duration(t).ok())
                        .unwrap_or(Duration::from_secs(300));
                    // The same command, on the base tree and on the patched one.
                    let run = |tree| {
                        let input = TestInput {
                            image,
                            tree,
                            command: &command,
                            timeout,
                            disk: task.tests.disk,
                            report: None,
                        };
                        run_tests(docker, input)
                    };
                    let before = run(&base_tree).await?;
                    let after = run(patched).await?;
                    let findings = conventions::lint::command_findings(
                        rule,
                        &before.output,
                        &after.output,
                        &parsed,
                    );
                    report.absorb(
                        findings,
                        settings.conventions.max_findings_per_rule,
                        Some(conventions::lint::rule_info(rule)),
                    );
                }
            }
        }
        let blast =
            conventions::blast_radius(&parsed, &settings.ownership, &settings.blast, &read_base);
        Ok(ConventionsResult {
            passed: report.passed(),
            errors: report.error_count(),
            warnings: report.warning_count(),
            tier: blast.tier.to_string(),
            staged_rollout: blast.staged_rollout,
            report,
            blast_radius: blast,
        })
    };
    let (result, _cached) = crate::score::cached::or_compute(
        store.cached_conventions(&patch.sha256, &task.hash, &settings.version)?,
        compute,
        |json| store.save_conventions(&patch.sha256, &task.hash, &settings.version, json),
    )
    .await?;
    Ok(result)
}

fn shell_quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_reader_stays_inside_the_tree() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.py"), "x = 1\n").unwrap();
        let read = base_reader(tmp.path());
        assert_eq!(read("a.py").unwrap(), b"x = 1\n");
        assert_eq!(read("../etc/passwd"), None);
        assert_eq!(read("/etc/passwd"), None);
        assert_eq!(read("missing.py"), None);
    }

    #[test]
    fn argv_rules_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("ruff"), "ruff");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("a b"), "'a b'");
    }
}
