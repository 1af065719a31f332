//! The survival funnel of a mining run: how many commits reached each stage, and why every
//! other one stopped where it did. Pure: built from the fate of each commit.

use super::cause::{Cause, Evidence};
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
    /// Why it was dropped, grouped for the funnel; None for written tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// What shows the cause: build log or both streams' tails of the failing run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

impl Fate {
    /// The same fate with its cause and evidence.
    pub fn because(mut self, cause: Cause, evidence: Option<Evidence>) -> Fate {
        self.cause = Some(cause);
        self.evidence = evidence.filter(|e| !e.is_empty());
        self
    }

    pub fn to_row(&self) -> MineCommitRow {
        MineCommitRow {
            commit: self.commit.clone(),
            subject: self.subject.clone(),
            committed_at: self.committed_at.clone(),
            reached: self.reached.as_str().to_string(),
            reason: self.reason.clone(),
            task_id: self.task_id.clone(),
            notes: self.notes.clone(),
            cause: self.cause.map(|c| c.label().to_string()),
            evidence: self.evidence.clone(),
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
    out.push_str(&by_cause(fates));
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

/// Drops of candidates (commits that got past the scan) grouped by cause, most first, each
/// with one example and the fix; when one cause took most of them, a headline says so first.
pub fn by_cause(fates: &[Fate]) -> String {
    let mut groups: Vec<(Cause, Vec<&Fate>)> = Vec::new();
    for f in fates.iter().filter(|f| f.reason.is_some()) {
        let Some(cause) = f.cause else { continue };
        if cause == Cause::NotACandidate {
            continue;
        }
        match groups.iter_mut().find(|(c, _)| *c == cause) {
            Some((_, v)) => v.push(f),
            None => groups.push((cause, vec![f])),
        }
    }
    if groups.is_empty() {
        return String::new();
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let total: usize = groups.iter().map(|(_, v)| v.len()).sum();
    let mut out = String::new();
    let (top, top_fates) = &groups[0];
    if top_fates.len() * 2 > total && total >= 2 {
        out.push_str(&format!(
            "most candidates were dropped for one cause: {} ({} of {total})\n",
            top.label(),
            top_fates.len()
        ));
        if let Some(fix) = top.fix() {
            out.push_str(&format!("  fix: {fix}\n"));
        }
    }
    out.push_str("dropped candidates by cause:\n");
    for (cause, v) in &groups {
        let example = v[0];
        out.push_str(&format!(
            "  {:<32} {:>4}  e.g. {} {}\n",
            cause.label(),
            v.len(),
            &example.commit[..example.commit.len().min(10)],
            example.subject
        ));
        if let Some(line) = example.evidence.as_ref().and_then(telling_line) {
            out.push_str(&format!("      {line}\n"));
        }
    }
    out.push_str("  (`mergebench tasks explain COMMIT` prints a commit's whole evidence)\n");
    out
}

/// The line of the evidence most likely to say what went wrong: the last one that names an
/// error, else the last non-empty one.
fn telling_line(e: &super::cause::Evidence) -> Option<String> {
    let text = [&e.build_log, &e.stderr, &e.stdout]
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let pick = lines
        .iter()
        .rev()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error") || l.contains("not found") || l.contains("no module")
        })
        .or(lines.last())?;
    Some(pick.chars().take(200).collect())
}

/// The whole evidence of one commit's fate, for `tasks explain`.
pub fn explain(f: &MineCommitRow) -> String {
    let mut out = format!("{} {}\n  reached: {}\n", f.commit, f.subject, f.reached);
    if let Some(r) = &f.reason {
        out.push_str(&format!("  dropped: {r}\n"));
    }
    if let Some(c) = &f.cause {
        out.push_str(&format!("  cause: {c}\n"));
    }
    for n in &f.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    if let Some(e) = &f.evidence {
        if let Some(code) = e.exit_code {
            out.push_str(&format!("  exit status: {code}\n"));
        }
        for (what, text) in [
            ("image build log", &e.build_log),
            ("stdout (last part)", &e.stdout),
            ("stderr (last part)", &e.stderr),
        ] {
            if !text.is_empty() {
                out.push_str(&format!("--- {what} ---\n{}\n", text.trim_end()));
            }
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
            cause: None,
            evidence: None,
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
