//! `nightly.toml`: everything one nightly evaluation needs, in one file a cron job or CI
//! points at. Paths are relative to the file. See nightly.example.toml and docs/reports.md.

use crate::config::{line_of_key, parse_toml, read_file};
use crate::error::Error;
use crate::report::history::{Correction, RegressionPolicy};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    suites: Vec<String>,
    agents: Vec<String>,
    #[serde(default = "default_agents_dir")]
    agents_dir: String,
    #[serde(default = "one")]
    attempts: u32,
    #[serde(default = "four")]
    jobs: usize,
    judge: Option<String>,
    #[serde(default = "default_judges_dir")]
    judges_dir: String,
    max_judge_cost: Option<f64>,
    max_agent_cost: Option<f64>,
    #[serde(default = "default_label")]
    label: String,
    #[serde(default)]
    checkpoints: bool,
    #[serde(default)]
    report: RawReport,
    #[serde(default)]
    regression: RawRegression,
    #[serde(default)]
    drift: RawDrift,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    html: Option<String>,
    markdown: Option<String>,
    json: Option<String>,
    #[serde(default = "default_history")]
    history: usize,
    since: Option<toml::value::Datetime>,
}

impl Default for RawReport {
    fn default() -> Self {
        RawReport {
            html: Some("reports/out/{suite}/leaderboard.html".into()),
            markdown: Some("reports/out/{suite}/leaderboard.md".into()),
            json: Some("reports/out/{suite}/leaderboard.json".into()),
            history: default_history(),
            since: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegression {
    #[serde(default = "default_alpha")]
    alpha: f64,
    #[serde(default)]
    min_drop_points: f64,
    #[serde(default = "holm")]
    correction: String,
    #[serde(default = "yes")]
    fail: bool,
}

fn holm() -> String {
    "holm".into()
}

impl Default for RawRegression {
    fn default() -> Self {
        RawRegression {
            alpha: default_alpha(),
            min_drop_points: 0.0,
            correction: holm(),
            fail: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDrift {
    #[serde(default = "yes")]
    fail: bool,
    #[serde(default = "default_margin")]
    margin: f64,
    #[serde(default = "default_floor")]
    floor: f64,
}

fn default_margin() -> f64 {
    0.10
}

fn default_floor() -> f64 {
    0.40
}

impl Default for RawDrift {
    fn default() -> Self {
        RawDrift {
            fail: true,
            margin: default_margin(),
            floor: default_floor(),
        }
    }
}

fn default_agents_dir() -> String {
    "harness/agents".into()
}
fn default_judges_dir() -> String {
    "judges".into()
}
fn default_label() -> String {
    "nightly".into()
}
fn default_history() -> usize {
    14
}
fn default_alpha() -> f64 {
    0.05
}
fn one() -> u32 {
    1
}
fn four() -> usize {
    4
}
fn yes() -> bool {
    true
}

/// Where one suite's reports go (`{suite}` in a configured path becomes the suite's name).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportPaths {
    pub html: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct NightlyConfig {
    pub file: PathBuf,
    pub suites: Vec<PathBuf>,
    pub agents: Vec<String>,
    pub agents_dir: PathBuf,
    pub attempts: u32,
    pub jobs: usize,
    pub judge: Option<String>,
    pub judges_dir: PathBuf,
    pub max_judge_cost: Option<f64>,
    /// Per suite and night: no new attempt starts once the agents' cost (measured by their
    /// gateways, else reported) reaches it.
    pub max_agent_cost: Option<f64>,
    pub label: String,
    /// Re-judge the labeled checkpoints with the night's judge, so a changed provider model
    /// shows up in the drift figures the same night.
    pub checkpoints: bool,
    html: Option<String>,
    markdown: Option<String>,
    json: Option<String>,
    pub history: usize,
    pub since: Option<String>,
    pub policy: RegressionPolicy,
    pub fail_on_regression: bool,
    pub fail_on_drift: bool,
    /// Held-out kappa may fall this far below the baseline judge version's before the alarm.
    pub drift_margin: f64,
    /// Held-out kappa below this raises the alarm whatever the baseline.
    pub drift_floor: f64,
}

impl NightlyConfig {
    pub fn load(path: &Path) -> Result<NightlyConfig, Error> {
        let bytes = read_file(path, "nightly config", None)?;
        let text = String::from_utf8_lossy(&bytes);
        let raw: Raw = parse_toml(path, &text, "nightly.toml")?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let bad = |section: Option<&str>, key: &str, message: String, fix: &str| {
            Error::input(path, line_of_key(&text, section, key), message, fix)
        };
        if raw.suites.is_empty() {
            return Err(bad(
                None,
                "suites",
                "suites is empty".into(),
                "list at least one suite folder, e.g. suites = [\"tasks/demo\"]",
            ));
        }
        if raw.agents.is_empty() {
            return Err(bad(
                None,
                "agents",
                "agents is empty".into(),
                "list the agents to evaluate, e.g. agents = [\"oracle\"]",
            ));
        }
        for (key, value) in [
            ("max_judge_cost", raw.max_judge_cost),
            ("max_agent_cost", raw.max_agent_cost),
        ] {
            if value.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
                return Err(bad(
                    None,
                    key,
                    format!("{key} must be an amount of USD above 0"),
                    "give a ceiling such as 25.0, or leave the key out for none",
                ));
            }
        }
        if raw.attempts == 0 {
            return Err(bad(
                None,
                "attempts",
                "attempts must be at least 1".into(),
                "set attempts = 1 or more",
            ));
        }
        if !(raw.regression.alpha > 0.0 && raw.regression.alpha < 1.0) {
            return Err(bad(
                Some("regression"),
                "alpha",
                format!(
                    "alpha = {} is not a significance level",
                    raw.regression.alpha
                ),
                "use a value between 0 and 1, e.g. alpha = 0.05",
            ));
        }
        if !(0.0..=100.0).contains(&raw.regression.min_drop_points) {
            return Err(bad(
                Some("regression"),
                "min_drop_points",
                "min_drop_points must be between 0 and 100".into(),
                "give the smallest drop that counts, in percentage points",
            ));
        }
        let correction: Correction = raw.regression.correction.parse().map_err(|e: String| {
            bad(
                Some("regression"),
                "correction",
                e,
                "set correction = \"holm\" (any false alarm at most α) or \"bh\" (false-alarm share at most α)",
            )
        })?;
        if raw.report.history == 0 {
            return Err(bad(
                Some("report"),
                "history",
                "history must be at least 1".into(),
                "give how many nights the report shows, e.g. history = 14",
            ));
        }
        let report = raw.report;
        if raw.suites.len() > 1 {
            for (key, p) in [
                ("html", &report.html),
                ("markdown", &report.markdown),
                ("json", &report.json),
            ] {
                if p.as_deref().is_some_and(|p| !p.contains("{suite}")) {
                    return Err(bad(
                        Some("report"),
                        key,
                        format!(
                            "{key} names one file but {} suites are configured",
                            raw.suites.len()
                        ),
                        "put {suite} in the path so each suite gets its own report",
                    ));
                }
            }
        }
        let since = report
            .since
            .map(|d| match d.date {
                Some(date) => Ok(date.to_string()),
                None => Err(bad(
                    Some("report"),
                    "since",
                    "since must be a date".into(),
                    "write a date such as since = 2026-01-01",
                )),
            })
            .transpose()?;
        Ok(NightlyConfig {
            file: path.to_path_buf(),
            suites: raw.suites.iter().map(|s| dir.join(s)).collect(),
            agents: raw.agents,
            agents_dir: dir.join(raw.agents_dir),
            attempts: raw.attempts,
            jobs: raw.jobs.max(1),
            judge: raw.judge,
            judges_dir: dir.join(raw.judges_dir),
            max_judge_cost: raw.max_judge_cost,
            max_agent_cost: raw.max_agent_cost,
            label: raw.label,
            checkpoints: raw.checkpoints,
            html: report.html,
            markdown: report.markdown,
            json: report.json,
            history: report.history,
            since,
            policy: RegressionPolicy {
                alpha: raw.regression.alpha,
                min_drop: raw.regression.min_drop_points / 100.0,
                correction,
            },
            fail_on_regression: raw.regression.fail,
            fail_on_drift: raw.drift.fail,
            drift_margin: raw.drift.margin,
            drift_floor: raw.drift.floor,
        })
    }

    /// The report paths for one suite, relative to the config file.
    pub fn report_paths(&self, suite: &str) -> ReportPaths {
        let dir = self.file.parent().unwrap_or(Path::new("."));
        let path = |p: &Option<String>| p.as_ref().map(|p| dir.join(p.replace("{suite}", suite)));
        ReportPaths {
            html: path(&self.html),
            markdown: path(&self.markdown),
            json: path(&self.json),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<NightlyConfig, Error> {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("nightly.toml");
        std::fs::write(&p, text).unwrap();
        NightlyConfig::load(&p)
    }

    #[test]
    fn cost_ceilings_must_be_amounts_above_zero() {
        let ok = load("suites = [\"s\"]\nagents = [\"a\"]\nmax_agent_cost = 12.5\n").unwrap();
        assert_eq!(ok.max_agent_cost, Some(12.5));
        for bad in [
            "max_agent_cost = -1.0",
            "max_agent_cost = 0.0",
            "max_judge_cost = nan",
        ] {
            let text = format!("suites = [\"s\"]\nagents = [\"a\"]\n{bad}\n");
            let e = load(&text).unwrap_err().to_string();
            assert!(
                e.contains(":3:") && e.contains("must be an amount of USD above 0"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn the_example_file_loads() {
        let c = NightlyConfig::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/nightly.example.toml"
        )))
        .unwrap();
        assert_eq!(c.agents.len(), 5);
        assert!(c.suites[0].ends_with("tasks/demo"));
        assert!(c
            .report_paths("demo")
            .html
            .unwrap()
            .ends_with("reports/out/demo/leaderboard.html"));
        assert_eq!(c.policy.alpha, 0.05);
    }

    #[test]
    fn bad_values_name_the_line_and_the_fix() {
        let e = load("suites = [\"s\"]\nagents = [\"a\"]\n[regression]\nalpha = 2.0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nightly.toml:4") && e.contains("fix:"), "{e}");
        let e = load("suites = [\"s\"]\nagents = [\"a\"]\ncolour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = load("suites = [\"s\", \"t\"]\nagents = [\"a\"]\n[report]\nhtml = \"out.html\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("{suite}") && e.contains("nightly.toml:4"), "{e}");
        let c = load("suites = [\"s\"]\nagents = [\"a\"]\ncheckpoints = true\n[report]\nsince = 2026-01-01\n[regression]\nmin_drop_points = 5\n").unwrap();
        assert!(c.checkpoints);
        assert_eq!(c.since.as_deref(), Some("2026-01-01"));
        assert!((c.policy.min_drop - 0.05).abs() < 1e-12);
        assert_eq!(c.policy.correction, Correction::Holm);
        let c = load("suites = [\"s\"]\nagents = [\"a\"]\n[regression]\ncorrection = \"bh\"\n")
            .unwrap();
        assert_eq!(c.policy.correction, Correction::Bh);
        let e =
            load("suites = [\"s\"]\nagents = [\"a\"]\n[regression]\ncorrection = \"bonferroni\"\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("nightly.toml:4") && e.contains("holm"), "{e}");
    }
}
