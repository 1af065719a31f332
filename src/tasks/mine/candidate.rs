//! Candidates: a commit that changes code and tests, split by the suite's test globs into a
//! gold patch and hidden tests (Rust files outside those globs change by change, see
//! `split`), and described by a leak-checked problem statement. Host git only; a commit
//! that is no candidate comes back as its fate, with the reason.

use super::cause::Cause;
use super::funnel::{Fate, Stage};
use super::history::{Commit, Mirror};
use super::{leak, statement, write, Ctx, LeakPolicy};
use crate::error::Error;
use crate::repo::patch::sections;
use crate::repo::rust_tests::{self as split, Split};
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
    /// The environment of its own the parent commit's dependencies call for; None: the
    /// suite's serves it.
    pub(super) environment: Option<super::envs::BuildContext>,
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
        let (mut tests, code): (Vec<String>, Vec<String>) =
            changed.into_iter().partition(|f| self.tests.is_match(f));
        let beside = split_beside(&self.mirror, parent, &c.sha, &code).map_err(git_failed)?;
        tests.extend(beside.tests.iter().cloned());
        let has_code = !beside.code.is_empty() || !beside.split.is_empty();
        let has_tests = !tests.is_empty() || !beside.split.is_empty();
        let reason = match (has_code, has_tests) {
            (false, false) => Some("changes no file"),
            (true, false) if !beside.notes.is_empty() => Some(
                "changes no test file (none matches [scope] read_only), and its Rust test code \
                 cannot be told apart from the code around it (see the notes)",
            ),
            (true, false) if beside.read_rust => Some(
                "changes no test file (none matches [scope] read_only) and no Rust test code \
                 (#[cfg(test)], #[test])",
            ),
            (true, false) => Some("changes no test file (none matches [scope] read_only)"),
            (false, true) => Some("changes only test files"),
            (true, true) => None,
        };
        if let Some(r) = reason {
            return Err(skip(Stage::Scanned, r.into(), beside.notes));
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
        let mut gold = self
            .mirror
            .diff(parent, &c.sha, &beside.code)
            .map_err(git_failed)?;
        gold.extend_from_slice(&beside.gold);
        let mut tests_patch = self
            .mirror
            .diff(parent, &c.sha, &tests)
            .map_err(git_failed)?;
        tests_patch.extend_from_slice(&beside.tests_patch);
        let branch = if c.is_merge() {
            self.mirror.branch_messages(c).map_err(git_failed)?
        } else {
            Vec::new()
        };
        let st = statement::from_message(&c.message, &branch, |n| self.issue_text(n));
        let mut notes = beside.notes;
        if !beside.split.is_empty() {
            notes.push(format!(
                "test code beside the fix went to the hidden tests, the rest to the fix: {}",
                beside.split.join(", ")
            ));
        }
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
            environment: None,
        };
        if taken.contains(&cand.id) {
            return Err(Box::new(
                cand.fate(
                    Stage::Candidate,
                    Some(format!("already in the suite as {}", cand.id)),
                )
                .because(Cause::NotACandidate, None),
            ));
        }
        let mut cand = cand;
        if let Some(k) = &self.keying {
            cand.environment = k.own(&self.mirror, &cand.parent).map_err(git_failed)?;
            if let Some(own) = &cand.environment {
                cand.notes.push(format!(
                    "its parent commit's dependencies differ from the suite's: proven in {}/{}/",
                    super::envs::ENVS_DIR,
                    own.short_key()
                ));
            }
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

/// A commit's code files (those outside the test globs) with its Rust files split change by
/// change: test code to the hidden tests, the rest to the fix.
#[derive(Debug, Default)]
pub(super) struct Beside {
    /// Files whose every change belongs to the fix (all of them but Rust files).
    pub(super) code: Vec<String>,
    /// Rust files whose every change is test code: they join the test files.
    pub(super) tests: Vec<String>,
    /// Rust files with both, and their two parts as patches against the parent.
    pub(super) split: Vec<String>,
    pub(super) gold: Vec<u8>,
    pub(super) tests_patch: Vec<u8>,
    /// Whether any Rust file was read, so the reason for no candidate can say so.
    pub(super) read_rust: bool,
    /// Files that could not be split, and why.
    pub(super) notes: Vec<String>,
}

/// Splits the Rust files among `code` (what the commit changed outside the test globs).
///
/// By file extension rather than by the suite's test format: the split reads Rust syntax,
/// and a Rust file's `#[cfg(test)]` code is test code whatever runs the tests (cargo test,
/// nextest through JUnit, a script). Other ecosystems keep their tests beside code in files
/// of their own (`_test.go`, `test_*.py`, `*.test.ts`), which the test globs match by path.
pub(super) fn split_beside(
    mirror: &Mirror,
    parent: &str,
    commit: &str,
    code: &[String],
) -> Result<Beside, Error> {
    let mut out = Beside::default();
    let (rust, other): (Vec<String>, Vec<String>) =
        code.iter().cloned().partition(|f| f.ends_with(".rs"));
    out.code = other;
    if rust.is_empty() {
        return Ok(out);
    }
    out.read_rust = true;
    // One diff for all of them: files renamed, added or deleted come out as parts that are
    // no change in place, and stay whole with the fix.
    let diff = mirror.diff(parent, commit, &rust)?;
    let mut in_place: Vec<(String, &[u8])> = sections(&diff)
        .into_iter()
        .filter_map(|s| Some((s.in_place?, s.bytes)))
        .collect();
    for f in rust {
        let Some(k) = in_place.iter().position(|(p, _)| *p == f) else {
            out.code.push(f);
            continue;
        };
        let (_, part) = in_place.swap_remove(k);
        let old = mirror.blob(parent, &f)?;
        let new = mirror.blob(commit, &f)?;
        match split::split_rust(part, old.as_deref(), new.as_deref()) {
            Split::Code => out.code.push(f),
            Split::Tests => out.tests.push(f),
            Split::Kept(why) => {
                out.notes.push(format!("{f}: {why}"));
                out.code.push(f);
            }
            Split::Both { code, tests } => {
                let old = old.unwrap_or_default();
                let mut parts = Vec::new();
                for content in [code, tests] {
                    let id = mirror.blob_id(&content)?;
                    match split::file_patch(part, &old, &content, &id) {
                        Some(p) => parts.push(p),
                        None => break,
                    }
                }
                if let [gold, tests] = parts.as_slice() {
                    out.gold.extend_from_slice(gold);
                    out.tests_patch.extend_from_slice(tests);
                    out.split.push(f);
                } else {
                    out.code.push(f);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::patch::Patch;
    use crate::repo::workspace::testing::{base, commit, files, repo};
    use crate::repo::workspace::{graded_tree, Graded};

    const PARENT: &str = "pub fn add(a: u8, b: u8) -> u8 {\n    a - b\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(1, 1), 2);\n    }\n}\n";
    const LIB: &str = "src/lib.rs";

    fn fix_code(s: &str) -> String {
        s.replace("a - b", "a + b")
    }

    fn add_test(s: &str) -> String {
        s.replace(
            "(1, 1), 2);",
            "(1, 1), 2);\n        assert_eq!(add(2, 3), 5);",
        )
    }

    /// A repository whose last commit turns [`PARENT`] into `fixed`: the parent, the commit
    /// and the mirror mining reads them from.
    fn history(fixed: &str) -> (tempfile::TempDir, String, String, Mirror) {
        let dir = repo(&[]);
        let parent = commit(dir.path(), &[(LIB, PARENT), ("go.rs.txt", "a\n")], "parent");
        let fix = commit(dir.path(), &[(LIB, fixed), ("go.rs.txt", "b\n")], "fix");
        let mirror = Mirror::clone_from(&dir.path().to_string_lossy()).unwrap();
        (dir, parent, fix, mirror)
    }

    #[test]
    fn rust_files_are_split_by_their_test_code() {
        let replaced = PARENT.replace(
            "pub fn add(a: u8, b: u8) -> u8 {\n    a - b\n}\n",
            "#[test]\nfn gone() {}\n",
        );
        struct Case<'a> {
            what: &'a str,
            /// The fix's src/lib.rs.
            fixed: String,
            /// What becomes of the files: wholly code, wholly tests, split.
            code: &'a [&'a str],
            tests: &'a [&'a str],
            split: &'a [&'a str],
            notes: usize,
        }
        let cases = [
            Case {
                what: "the function and its test",
                fixed: add_test(&fix_code(PARENT)),
                code: &["go.rs.txt"],
                tests: &[],
                split: &[LIB],
                notes: 0,
            },
            Case {
                what: "the function only",
                fixed: fix_code(PARENT),
                code: &["go.rs.txt", LIB],
                tests: &[],
                split: &[],
                notes: 0,
            },
            Case {
                what: "the test only",
                fixed: add_test(PARENT),
                code: &["go.rs.txt"],
                tests: &[LIB],
                split: &[],
                notes: 0,
            },
            Case {
                what: "code replaced by a test at the same lines",
                fixed: replaced,
                code: &["go.rs.txt", LIB],
                tests: &[],
                split: &[],
                notes: 1,
            },
        ];
        for case in cases {
            let what = case.what;
            let (_dir, parent, fix, mirror) = history(&case.fixed);
            let changed = vec!["go.rs.txt".to_string(), LIB.to_string()];
            let b = split_beside(&mirror, &parent, &fix, &changed).unwrap();
            assert_eq!(b.code, case.code, "{what}");
            assert_eq!(b.tests, case.tests, "{what}");
            assert_eq!(b.split, case.split, "{what}");
            assert_eq!(b.notes.len(), case.notes, "{what}: {:?}", b.notes);
            assert!(b.read_rust, "{what}");
        }
    }

    #[test]
    fn a_split_file_grades_to_the_fix_commit() {
        let fixed = add_test(&fix_code(PARENT));
        let (_dir, parent, fix, mirror) = history(&fixed);
        let b = split_beside(&mirror, &parent, &fix, &[LIB.to_string()]).unwrap();
        let (gold, tests) = (
            String::from_utf8(b.gold.clone()).unwrap(),
            String::from_utf8(b.tests_patch.clone()).unwrap(),
        );
        assert!(
            gold.contains("+    a + b\n") && !gold.contains("add(2, 3)"),
            "{gold}"
        );
        assert!(
            tests.contains("+        assert_eq!(add(2, 3), 5);\n"),
            "{tests}"
        );
        assert!(!tests.contains("a + b"), "{tests}");
        // Each part names the parent's blob and the blob of its own result.
        let parent_blob = mirror.blob_id(PARENT.as_bytes()).unwrap();
        for (part, result) in [(&gold, fix_code(PARENT)), (&tests, add_test(PARENT))] {
            let index = format!(
                "index {parent_blob}..{} 100644\n",
                mirror.blob_id(result.as_bytes()).unwrap()
            );
            assert!(part.contains(&index), "{part}");
        }

        // Graded as grading does it: at the parent the hidden tests alone, and with the
        // gold patch (an agent that wrote the fix) the fix commit's file.
        let base = base(&[(LIB, PARENT)]);
        let cases = [
            ("at the parent", Vec::new(), add_test(PARENT)),
            ("with the fix", b.gold.clone(), fixed.clone()),
        ];
        for (what, patch, want) in cases {
            match graded_tree(&base, &Patch::new(patch), &b.tests_patch).unwrap() {
                Graded::Ready { tree, .. } => {
                    assert_eq!(files(&tree), vec![(LIB.to_string(), want)], "{what}")
                }
                Graded::PatchFailed(e) | Graded::TestsDoNotApply(e) => panic!("{what}: {e}"),
            }
        }
    }
}
