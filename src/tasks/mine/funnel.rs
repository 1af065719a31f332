//! The survival funnel of a mining run: how many commits reached each stage, and why every
//! other one stopped where it did. Pure: built from the fate of each commit.

use crate::store::MineCommitRow;
use serde::Serialize;

/// The stages a commit passes on its way to a written task, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Walked: within the date range.
    Scanned,
    /// Changes code and tests, with a usable problem statement.
    Candidate,
    /// The gold and test patches apply to the parent commit.
    PatchesApply,
    /// The environment image exists.
    EnvironmentBuilt,
    /// At least one fail_to_pass test, and `tasks validate` accepts the task.
    Validated,
    /// The task folder is in the suite.
    Written,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Scanned,
        Stage::Candidate,
        Stage::PatchesApply,
        Stage::EnvironmentBuilt,
        Stage::Validated,
        Stage::Written,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Scanned => "scanned",
            Stage::Candidate => "candidate",
            Stage::PatchesApply => "patches_apply",
            Stage::EnvironmentBuilt => "environment_built",
            Stage::Validated => "validated",
            Stage::Written => "written",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Scanned => "commits scanned",
            Stage::Candidate => "candidates",
            Stage::PatchesApply => "patches apply",
            Stage::EnvironmentBuilt => "environment built",
            Stage::Validated => "validated",
            Stage::Written => "written",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    fn next(self) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| *s > self)
    }
}

/// What became of one commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fate {
    pub commit: String,
    pub subject: String,
    pub committed_at: String,
    pub reached: Stage,
    /// Why it went no further; None only for written tasks.
    pub reason: Option<String>,
    pub task_id: Option<String>,
    pub notes: Vec<String>,
}

impl Fate {
    pub fn to_row(&self) -> MineCommitRow {
        MineCommitRow {
            commit: self.commit.clone(),
            subject: self.subject.clone(),
            committed_at: self.committed_at.clone(),
            reached: self.reached.as_str().to_string(),
            reason: self.reason.clone(),
            task_id: self.task_id.clone(),
            notes: self.notes.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunnelRow {
    pub stage: Stage,
    pub label: &'static str,
    pub count: usize,
}

/// How many commits reached each stage (a commit that reached a stage passed every earlier one).
pub fn funnel(fates: &[Fate]) -> Vec<FunnelRow> {
    Stage::ALL
        .into_iter()
        .map(|stage| FunnelRow {
            stage,
            label: stage.label(),
            count: fates.iter().filter(|f| f.reached >= stage).count(),
        })
        .collect()
}

/// The funnel as text: one line per stage with what it lost, then every drop with its reason.
pub fn render(fates: &[Fate]) -> String {
    let rows = funnel(fates);
    let mut out = String::new();
    let mut prev: Option<usize> = None;
    for r in &rows {
        let lost = prev.map(|p| p - r.count).unwrap_or(0);
        if lost > 0 {
            out.push_str(&format!("{:<18} {:>6}  (-{lost})\n", r.label, r.count));
        } else {
            out.push_str(&format!("{:<18} {:>6}\n", r.label, r.count));
        }
        prev = Some(r.count);
    }
    let dropped: Vec<&Fate> = fates.iter().filter(|f| f.reason.is_some()).collect();
    if !dropped.is_empty() {
        out.push_str("dropped:\n");
        for f in dropped {
            let at = f.reached.next().map(Stage::label).unwrap_or("written");
            out.push_str(&format!(
                "  {} {}\n      before {at}: {}\n",
                &f.commit[..f.commit.len().min(10)],
                f.subject,
                f.reason.as_deref().unwrap_or_default()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fate(reached: Stage, reason: Option<&str>) -> Fate {
        Fate {
            commit: "0123456789abcdef".into(),
            subject: "s".into(),
            committed_at: "2026-01-01T00:00:00+00:00".into(),
            reached,
            reason: reason.map(Into::into),
            task_id: None,
            notes: vec![],
        }
    }

    #[test]
    fn each_stage_counts_the_commits_that_reached_it() {
        let fates = [
            fate(Stage::Scanned, Some("root commit")),
            fate(Stage::Candidate, Some("gold does not apply")),
            fate(Stage::Validated, Some("a folder with this id exists")),
            fate(Stage::Written, None),
        ];
        let counts: Vec<usize> = funnel(&fates).iter().map(|r| r.count).collect();
        assert_eq!(counts, vec![4, 3, 2, 2, 2, 1]);
        let text = render(&fates);
        assert!(text.contains("candidates              3  (-1)"), "{text}");
        assert!(
            text.contains("before patches apply: gold does not apply"),
            "{text}"
        );
        assert!(text.contains("before written: a folder"), "{text}");
    }

    #[test]
    fn stage_names_round_trip() {
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()), Some(s));
        }
    }
}
