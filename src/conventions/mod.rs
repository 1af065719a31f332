//! Conventions and blast radius: how a maintainer would judge a patch beyond
//! its tests. Pure functions over a diff's bytes and configuration; the only
//! process this module ever starts is `git`, in `gate`'s helpers.
//!
//! Entry points:
//!
//! - [`score`] (or [`score_parsed`]): run the convention rules over a patch
//!   → [`ConventionReport`] (`passed()`, `findings()`), serialisable as JSON.
//!   Command rules (linters run on the base and patched trees) are run by
//!   the caller; [`lint::command_findings`] keeps the findings the patch
//!   introduced and [`ConventionReport::absorb`] adds them to the report.
//! - [`blast_radius`]: files, lines, modules, services, risk tier and the
//!   staged-rollout flag of a [`ParsedDiff`] (from [`diff::parse`]).
//! - [`to_sarif`]: a report as a SARIF 2.1.0 log.
//! - [`HarnessFiles::restore`]: what grading must use for a test-harness file
//!   (conftest.py, `[tool:pytest]`, `[[test]]`, …) the patch touched; the
//!   `tests.harness-edited` rule reports the same edits.
//! - [`gate::run`]: both, for `mergebench gate`, with an exit code; with
//!   [`gate::read_diff`], [`gate::diff_for_range`], [`gate::load_repo_config`],
//!   [`gate::load_repo_config_at`] and [`render::render`] around it.
//!
//! Configuration lives in [`config`]: `[conventions]`, `[ownership]` and
//! `[blast_radius]` in a suite's `suite.toml` or a repository's
//! `mergebench.toml` (documented in docs/gate.md).

pub mod blast;
pub mod catalog;
pub mod config;
pub mod defaults;
pub mod diff;
pub mod gate;
pub mod globs;
pub mod harness_files;
pub mod lint;
pub mod load;
pub mod manifest;
pub mod ownership;
pub mod path;
pub mod render;
pub mod report;
pub mod rules;
pub mod sarif;
pub mod secrets;
pub mod unicode;

#[cfg(test)]
mod tests;

pub use blast::{blast_radius, BlastRadius, Tier};
pub use config::{BlastConfig, Config, ConfigError, ConventionsConfig, OwnershipConfig, Severity};
pub use diff::{parse as parse_diff, ParsedDiff};
pub use harness_files::{HarnessFiles, Restore};
pub use ownership::Ownership;
pub use report::{ConventionReport, Finding};
pub use sarif::to_sarif;

/// Scores a patch against the conventions. `expected_area` is the set of
/// files the reference fix touches (empty: that rule is skipped);
/// `base_file` returns a file's content before the patch, which the
/// indentation, line-ending and dependency rules use when the patch's own
/// context is too thin.
pub fn score(
    diff: &[u8],
    cfg: &ConventionsConfig,
    ownership: &Ownership,
    expected_area: &[String],
    base_file: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> ConventionReport {
    let parsed = diff::parse(diff);
    score_parsed(&parsed, cfg, ownership, expected_area, base_file)
}

/// As [`score`], for a patch already parsed (to share it with
/// [`blast_radius`]).
pub fn score_parsed(
    parsed: &ParsedDiff,
    cfg: &ConventionsConfig,
    ownership: &Ownership,
    expected_area: &[String],
    base_file: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> ConventionReport {
    match rules::RuleSet::compile(cfg) {
        Ok(rs) => rules::run(parsed, &rs, ownership, expected_area, base_file),
        Err(e) => {
            // Configuration is validated when loaded; if an unvalidated one
            // gets here, fail loudly rather than pass silently.
            let mut report = ConventionReport::default();
            report.findings.push(Finding {
                rule_id: catalog::CONFIG_INVALID.to_string(),
                severity: Severity::Error,
                path: None,
                line: None,
                column: None,
                message: format!("invalid {} `{}`: {}", e.what, e.bad.pattern, e.bad.message),
            });
            report
                .rules
                .push(catalog::describe(catalog::CONFIG_INVALID));
            report
        }
    }
}
