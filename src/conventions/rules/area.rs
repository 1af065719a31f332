//! Edits outside the task's expected area. The area is what the reference
//! fix touches: its files, their directories, and the owners (from the
//! ownership map) of those files. Test files are left to the test-file rule.

use std::collections::BTreeSet;

use super::Toggle;
use crate::conventions::catalog;
use crate::conventions::diff::FileDiff;
use crate::conventions::ownership::Ownership;
use crate::conventions::report::Sink;

pub(crate) struct Area<'a> {
    files: BTreeSet<String>,
    dirs: BTreeSet<String>,
    owners: BTreeSet<String>,
    ownership: &'a Ownership,
}

fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

impl<'a> Area<'a> {
    /// `None` when no expected area is known (the rule then does not run).
    pub fn new(expected: &[String], ownership: &'a Ownership) -> Option<Area<'a>> {
        if expected.is_empty() {
            return None;
        }
        let files: BTreeSet<String> = expected
            .iter()
            .map(|p| crate::conventions::path::normalise(p).0)
            .collect();
        let dirs = files.iter().map(|p| parent(p).to_string()).collect();
        let owners = files
            .iter()
            .filter_map(|p| ownership.owner_of(p).map(str::to_string))
            .collect();
        Some(Area {
            files,
            dirs,
            owners,
            ownership,
        })
    }

    fn contains(&self, path: &str) -> bool {
        self.files.contains(path)
            || self.dirs.contains(parent(path))
            || self
                .ownership
                .owner_of(path)
                .is_some_and(|o| self.owners.contains(o))
    }

    pub fn check(
        &self,
        file: &FileDiff,
        rule: &Toggle,
        is_test: impl Fn(&str) -> bool,
        sink: &mut Sink,
    ) {
        let path = file.path();
        if !rule.applies(path) || is_test(path) || self.contains(path) {
            return;
        }
        sink.push(
            catalog::OUTSIDE_AREA,
            rule.severity,
            Some(path),
            None,
            || {
                let owner = self
                    .ownership
                    .owner_of(path)
                    .map(|o| format!(" (owned by {o})"))
                    .unwrap_or_default();
                format!("`{path}`{owner} is outside the area this task concerns")
            },
        );
    }
}
