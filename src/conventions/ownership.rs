//! Who owns a path: the `[ownership]` table of `glob = "owner"` and, for
//! repositories that already keep one, a CODEOWNERS file. An owner names a
//! service or team; blast radius counts the owners a patch touches.
//!
//! Precedence follows each source's own convention: in CODEOWNERS the last
//! matching line wins; in the TOML table (whose keys have no order) the most
//! specific glob wins. The table is consulted before CODEOWNERS.

use super::config::{Config, ConfigError, OwnershipConfig};
use super::globs::{BadPattern, PathSet};

#[derive(Debug, Clone)]
struct Source {
    set: PathSet,
    /// Owner per pattern, in the order `set` was built; empty = explicitly
    /// unowned (a CODEOWNERS line with no owners).
    owners: Vec<String>,
}

impl Source {
    fn build(rules: Vec<(String, String)>) -> Result<Source, BadPattern> {
        let patterns: Vec<&str> = rules.iter().map(|(p, _)| p.as_str()).collect();
        let set = PathSet::new(&patterns)?;
        Ok(Source {
            set,
            owners: rules.into_iter().map(|(_, o)| o).collect(),
        })
    }

    fn lookup(&self, path: &str) -> Option<&str> {
        let i = self.set.last_match_index(path)?;
        Some(self.owners[i].as_str())
    }
}

/// A compiled ownership map.
#[derive(Debug, Clone)]
pub struct Ownership {
    table: Option<Source>,
    codeowners: Option<Source>,
}

impl Default for Ownership {
    fn default() -> Self {
        Ownership::empty()
    }
}

impl Ownership {
    pub fn empty() -> Ownership {
        Ownership {
            table: None,
            codeowners: None,
        }
    }

    /// From the `[ownership]` table and, optionally, CODEOWNERS text.
    pub fn from_config(
        cfg: &OwnershipConfig,
        codeowners: Option<&str>,
    ) -> Result<Ownership, BadPattern> {
        let mut rules: Vec<(String, String)> = cfg
            .entries
            .iter()
            .map(|(p, o)| (p.clone(), o.joined()))
            .collect();
        // Least specific first, so "last match wins" picks the most specific.
        rules.sort_by_key(|(p, _)| specificity(p));
        let table = if rules.is_empty() {
            None
        } else {
            Some(Source::build(rules)?)
        };
        let codeowners = match codeowners {
            Some(text) => Some(Source::build(parse_codeowners(text))?),
            None => None,
        };
        Ok(Ownership { table, codeowners })
    }

    /// From CODEOWNERS text alone.
    pub fn from_codeowners(text: &str) -> Result<Ownership, BadPattern> {
        Ownership::from_config(&OwnershipConfig::default(), Some(text))
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_none() && self.codeowners.is_none()
    }

    /// The owner of `path`, if any source assigns one.
    pub fn owner_of(&self, path: &str) -> Option<&str> {
        if let Some(t) = &self.table {
            if let Some(o) = t.lookup(path) {
                return Some(o).filter(|o| !o.is_empty());
            }
        }
        self.codeowners
            .as_ref()
            .and_then(|c| c.lookup(path))
            .filter(|o| !o.is_empty())
    }
}

/// Literal characters count most; anchoring breaks ties.
fn specificity(pattern: &str) -> (usize, usize) {
    let literal = pattern
        .chars()
        .filter(|c| !matches!(c, '*' | '?' | '[' | ']' | '{' | '}'))
        .count();
    (literal, pattern.len())
}

/// Parses CODEOWNERS: `pattern owner...` per line, `#` comments, `\#` and
/// `\ ` escapes in patterns, GitLab `[Section]` headers skipped.
pub fn parse_codeowners(text: &str) -> Vec<(String, String)> {
    let mut rules = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') || line.starts_with("^[") {
            // GitLab section header, possibly with default owners after it.
            continue;
        }
        let (pattern, rest) = split_pattern(line);
        let owners: Vec<&str> = rest
            .split_whitespace()
            .take_while(|t| !t.starts_with('#'))
            .collect();
        rules.push((pattern, owners.join(" ")));
    }
    rules
}

/// The pattern up to the first unescaped space, with escapes removed.
fn split_pattern(line: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    if n == ' ' || n == '#' {
                        out.push(n);
                    } else {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            c if c.is_whitespace() => return (out, &line[i..]),
            c => out.push(c),
        }
    }
    (out, "")
}

impl Config {
    /// The ownership map: the `[ownership]` table, then CODEOWNERS for paths
    /// the table does not cover.
    pub fn ownership(&self) -> Result<Ownership, ConfigError> {
        Ownership::from_config(&self.ownership, self.codeowners_text.as_deref())
            .map_err(|e| ConfigError::pattern("mergebench.toml", "", "ownership glob", e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::Owners;
    use super::*;

    #[test]
    fn codeowners_last_match_wins() {
        let text = "# comment\n*       @org/everyone\n/services/billing/ @org/billing\n*.md    @org/docs\n/services/billing/README.md\n[Docs]\ndocs/ @org/writers # trailing\n";
        let o = Ownership::from_codeowners(text).unwrap();
        let rows = [
            ("src/main.rs", Some("@org/everyone")),
            ("services/billing/pay.py", Some("@org/billing")),
            ("services/billing/guide.md", Some("@org/docs")),
            ("services/billing/README.md", None),
            ("docs/a.txt", Some("@org/writers")),
        ];
        for (path, want) in rows {
            assert_eq!(o.owner_of(path), want, "{path}");
        }
    }

    #[test]
    fn table_most_specific_wins_and_beats_codeowners() {
        let mut cfg = OwnershipConfig::default();
        cfg.entries
            .insert("services/".into(), Owners::One("platform".into()));
        cfg.entries
            .insert("services/billing/".into(), Owners::One("billing".into()));
        cfg.entries.insert(
            "services/auth/**".into(),
            Owners::Many(vec!["@a".into(), "@b".into()]),
        );
        let o = Ownership::from_config(&cfg, Some("* @fallback\n")).unwrap();
        assert_eq!(o.owner_of("services/billing/x.py"), Some("billing"));
        assert_eq!(o.owner_of("services/search/x.py"), Some("platform"));
        assert_eq!(o.owner_of("services/auth/x.py"), Some("@a @b"));
        assert_eq!(o.owner_of("README.md"), Some("@fallback"));
        assert_eq!(Ownership::empty().owner_of("x"), None);
    }

    #[test]
    fn escaped_spaces_in_patterns() {
        let rules = parse_codeowners("my\\ dir/ @x\n\\#notes.txt @y\n");
        assert_eq!(rules[0], ("my dir/".to_string(), "@x".to_string()));
        assert_eq!(rules[1], ("#notes.txt".to_string(), "@y".to_string()));
    }
}
