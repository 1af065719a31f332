//! Candidates: a commit that changes code and tests, split by the suite's test globs into a
//! gold patch and hidden tests, and described by a leak-checked problem statement. Host git
//! only; a commit that is no candidate comes back as its fate, with the reason.

use super::cause::Cause;
use super::funnel::{Fate, Stage};
use super::history::Commit;
use super::{leak, statement, write, Ctx, LeakPolicy};
use crate::error::Error;
use std::collections::BTreeSet;

/// A commit that changes code and tests, split and described, ready to be checked.
pub(super) struct Candidate {
    pub(super) commit: Commit,
    pub(super) parent: String,
    pub(super) id: String,
    /// The statement as written to problem.md unless rewritten: redacted of leaked names.
    pub(super) title: String,
    pub(super) problem: String,
    /// The statement as the commit message and linked issues give it, before redaction.
    pub(super) original: (String, String),
    /// Identifiers the fix adds that the parent commit never had: no statement may name them.
    pub(super) forbidden: BTreeSet<String>,
    /// Those of them the commit message's statement names.
    pub(super) leaked: Vec<String>,
    pub(super) created: String,
    pub(super) gold: Vec<u8>,
    pub(super) tests: Vec<u8>,
    pub(super) notes: Vec<String>,
}

impl Candidate {
    pub(super) fn fate(&self, reached: Stage, reason: Option<String>) -> Fate {
        Fate {
            commit: self.commit.sha.clone(),
            subject: self.commit.subject().to_string(),
            committed_at: self.commit.committed_at.clone(),
            reached,
            reason,
            task_id: Some(self.id.clone()),
            notes: self.notes.clone(),
            cause: None,
            evidence: None,
        }
    }
}

/// The note on a candidate whose commit-message statement went out redacted.
pub(super) fn redaction_note(leaked: &[String]) -> String {
    format!(
        "redacted from the problem statement (the fix adds them): {}",
        leaked.join(", ")
    )
}

impl Ctx<'_> {
    /// Splits and describes a commit; a commit that is no candidate comes back as its fate.
    pub(super) fn candidate(
        &self,
        c: &Commit,
        taken: &BTreeSet<String>,
    ) -> Result<Candidate, Box<Fate>> {
        let skip = |reached: Stage, reason: String, notes: Vec<String>| {
            Box::new(Fate {
                commit: c.sha.clone(),
                subject: c.subject().to_string(),
                committed_at: c.committed_at.clone(),
                reached,
                reason: Some(reason),
                task_id: None,
                notes,
                cause: Some(if reached == Stage::Scanned {
                    Cause::NotACandidate
                } else {
                    Cause::StatementLeaks
                }),
                evidence: None,
            })
        };
        let git_failed = |e: Error| skip(Stage::Scanned, format!("git: {e}"), vec![]);
        let Some(parent) = c.parents.first() else {
            return Err(skip(
                Stage::Scanned,
                "root commit: there is no parent to start from".into(),
                vec![],
            ));
        };
        let changed = self
            .mirror
            .changed_paths(parent, &c.sha)
            .map_err(git_failed)?;
        if let Some(p) = &self.paths {
            if !changed.iter().any(|f| p.is_match(f)) {
                return Err(skip(
                    Stage::Scanned,
                    "changes nothing matching --paths".into(),
                    vec![],
                ));
            }
        }
        let (tests, code): (Vec<String>, Vec<String>) =
            changed.into_iter().partition(|f| self.tests.is_match(f));
        let reason = match (code.is_empty(), tests.is_empty()) {
            (true, true) => Some("changes no file"),
            (false, true) => Some("changes no test file (none matches [scope] read_only)"),
            (true, false) => Some("changes only test files"),
            (false, false) => None,
        };
        if let Some(r) = reason {
            return Err(skip(Stage::Scanned, r.into(), vec![]));
        }
        let denied: Vec<&String> = code.iter().filter(|f| self.deny.is_match(f)).collect();
        if !denied.is_empty() {
            return Err(skip(
                Stage::Scanned,
                format!(
                    "the fix changes files agents never see ([scope] deny): {}",
                    denied
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                vec![],
            ));
        }
        let gold = self
            .mirror
            .diff(parent, &c.sha, &code)
            .map_err(git_failed)?;
        let tests_patch = self
            .mirror
            .diff(parent, &c.sha, &tests)
            .map_err(git_failed)?;
        let branch = if c.is_merge() {
            self.mirror.branch_messages(c).map_err(git_failed)?
        } else {
            Vec::new()
        };
        let st = statement::from_message(&c.message, &branch, |n| self.issue_text(n));
        let mut notes = Vec::new();
        for n in &st.missing_issues {
            notes.push(match &self.opts.issues {
                Some(d) => format!("links issue #{n}, which {} has no text for", d.display()),
                None => format!("links issue #{n}; pass --issues DIR to add its text"),
            });
        }
        // The leak check: identifiers the fix adds that the parent commit never had.
        let added = leak::added_identifiers(&gold);
        let present = self
            .mirror
            .present_in_tree(parent, &added)
            .map_err(git_failed)?;
        let new: BTreeSet<String> = added.difference(&present).cloned().collect();
        let leaked = leak::leaks(&format!("{}\n{}", st.title, st.problem), &new);
        let original = (st.title.clone(), st.problem.clone());
        let (mut title, mut problem) = (st.title, st.problem);
        if !leaked.is_empty() {
            let used_by_tests = leak::added_words(&tests_patch);
            let interface: Vec<&String> = leaked
                .iter()
                .filter(|w| used_by_tests.contains(*w))
                .collect();
            // With --rewrite the statement is rewritten after the proof, and the policy is
            // applied only if the rewrite fails (`rewrite`).
            if self.opts.leak == LeakPolicy::Drop && self.rewriter.is_none() {
                return Err(skip(
                    Stage::Scanned,
                    format!(
                        "the problem statement names what the fix adds: {}",
                        leaked.join(", ")
                    ),
                    notes,
                ));
            }
            if !interface.is_empty() {
                return Err(skip(
                    Stage::Scanned,
                    format!(
                        "the problem statement names {}, which the fix adds and the hidden tests \
                         use: redacted, the task could not be solved",
                        interface
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    notes,
                ));
            }
            title = leak::redact(&title, &leaked);
            problem = leak::redact(&problem, &leaked);
            if self.rewriter.is_none() {
                notes.push(redaction_note(&leaked));
            }
        }
        let id = write::task_id(&title, &c.sha);
        let created = match c.date_utc() {
            Some(d) => d.to_string(),
            None => {
                return Err(skip(
                    Stage::Scanned,
                    format!("unreadable commit date `{}`", c.committed_at),
                    notes,
                ))
            }
        };
        let cand = Candidate {
            commit: c.clone(),
            parent: parent.clone(),
            id,
            title,
            problem,
            original,
            forbidden: new,
            leaked,
            created,
            gold,
            tests: tests_patch,
            notes,
        };
        if taken.contains(&cand.id) {
            return Err(Box::new(cand.fate(
                Stage::Candidate,
                Some(format!("already in the suite as {}", cand.id)),
            )));
        }
        Ok(cand)
    }

    fn issue_text(&self, n: u64) -> Option<String> {
        let dir = self.opts.issues.as_ref()?;
        ["md", "txt"]
            .iter()
            .find_map(|ext| std::fs::read_to_string(dir.join(format!("{n}.{ext}"))).ok())
    }
}
