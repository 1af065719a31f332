//! The one path-pattern dialect used everywhere in the configuration: the
//! gitignore/CODEOWNERS rules people already know.
//!
//! - a pattern with no slash except a trailing one matches at any depth
//!   (`*.tf`, `Dockerfile`, `tests/`);
//! - a leading slash, or a slash in the middle, anchors it at the root
//!   (`/config/`, `.github/workflows/`);
//! - a trailing slash, or a plain name that turns out to be a directory,
//!   covers everything below it;
//! - `*` and `?` stay within one path segment, `**` crosses segments.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// A compiled list of patterns that remembers which pattern matched, so a
/// finding can say why a path was picked out.
#[derive(Debug, Clone)]
pub struct PathSet {
    set: GlobSet,
    /// For each compiled glob, the index of the pattern it came from.
    origin: Vec<usize>,
    patterns: Vec<String>,
}

/// A pattern that does not compile, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern {
    pub pattern: String,
    pub message: String,
}

impl PathSet {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<PathSet, BadPattern> {
        let mut builder = GlobSetBuilder::new();
        let mut origin = Vec::new();
        let mut kept = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let p = p.as_ref();
            for glob in expand(p) {
                let g = GlobBuilder::new(&glob)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                    .map_err(|e| BadPattern {
                        pattern: p.to_string(),
                        message: e.kind().to_string(),
                    })?;
                builder.add(g);
                origin.push(i);
            }
            kept.push(p.to_string());
        }
        let set = builder.build().map_err(|e| BadPattern {
            pattern: patterns
                .iter()
                .map(|p| p.as_ref())
                .collect::<Vec<_>>()
                .join(", "),
            message: e.to_string(),
        })?;
        Ok(PathSet {
            set,
            origin,
            patterns: kept,
        })
    }

    pub fn empty() -> PathSet {
        // cannot fail: a set of no globs has nothing to reject.
        PathSet::new::<&str>(&[]).expect("an empty set always compiles")
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn is_match(&self, path: &str) -> bool {
        !self.patterns.is_empty() && self.set.is_match(path)
    }

    /// The first pattern (in the order written) that matches.
    pub fn first_match(&self, path: &str) -> Option<&str> {
        if self.patterns.is_empty() {
            return None;
        }
        let hits = self.set.matches(path);
        hits.iter()
            .map(|&g| self.origin[g])
            .min()
            .map(|i| self.patterns[i].as_str())
    }

    /// The last pattern (in the order written) that matches: the CODEOWNERS
    /// precedence rule.
    pub fn last_match_index(&self, path: &str) -> Option<usize> {
        if self.patterns.is_empty() {
            return None;
        }
        self.set.matches(path).iter().map(|&g| self.origin[g]).max()
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// Translates one gitignore-style pattern into the globs that implement it.
fn expand(pattern: &str) -> Vec<String> {
    let p = pattern.trim();
    let dir_only = p.ends_with('/');
    let body = p.trim_end_matches('/');
    let anchored = body.starts_with('/') || body.contains('/');
    let body = body.trim_start_matches('/');
    if body.is_empty() {
        // `/` or `*` alone: everything.
        return vec!["**".to_string()];
    }
    let base = if anchored || body.starts_with("**") {
        body.to_string()
    } else {
        format!("**/{body}")
    };
    if dir_only {
        vec![format!("{base}/**")]
    } else if base.ends_with("/**") {
        vec![base]
    } else {
        vec![base.clone(), format!("{base}/**")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        PathSet::new(&[pattern]).unwrap().is_match(path)
    }

    #[test]
    fn gitignore_semantics_table() {
        let rows: &[(&str, &str, bool)] = &[
            ("*.tf", "main.tf", true),
            ("*.tf", "infra/modules/net/main.tf", true),
            ("Dockerfile", "services/api/Dockerfile", true),
            ("tests/", "tests/test_a.py", true),
            ("tests/", "pkg/tests/deep/test_a.py", true),
            ("tests/", "tests", false),
            ("/config/", "config/app.yml", true),
            ("/config/", "svc/config/app.yml", false),
            (".github/workflows/", ".github/workflows/ci.yml", true),
            (".github/workflows/", "x/.github/workflows/ci.yml", false),
            ("services/billing", "services/billing/src/a.rs", true),
            ("services/billing/**", "services/billing/src/a.rs", true),
            ("src/*.rs", "src/a/b.rs", false),
            ("src/**/*.rs", "src/a/b.rs", true),
            ("/.gitlab-ci.yml", ".gitlab-ci.yml", true),
            ("*", "anything/at/all", true),
        ];
        for &(pat, path, want) in rows {
            assert_eq!(m(pat, path), want, "{pat} vs {path}");
        }
    }

    #[test]
    fn reports_which_pattern_matched() {
        let s = PathSet::new(&["*.md", "docs/"]).unwrap();
        assert_eq!(s.first_match("docs/a.md"), Some("*.md"));
        assert_eq!(s.last_match_index("docs/a.md"), Some(1));
    }

    #[test]
    fn bad_pattern_is_named() {
        let e = PathSet::new(&["src/[a-"]).unwrap_err();
        assert_eq!(e.pattern, "src/[a-");
    }
}
