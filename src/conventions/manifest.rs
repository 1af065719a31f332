//! What an edit to a dependency manifest or lockfile changes: dependencies (a new one, a
//! changed version constraint, a source, a patch or replace) or only the package's own
//! metadata (its release version, edition, `rust-version`, `go` directive, description...).
//! The blast radius grades the two apart: metadata is not a supply-chain change.
//!
//! A whitelist, so an edit counts as metadata only when every changed line is recognised as
//! such; anything unknown stays a dependency change. Recognised: `Cargo.toml` and
//! `pyproject.toml` (the table of each line is tracked through the hunk and, at a hunk's
//! start, read from the original file), `package.json`, `go.mod`, and the package's own
//! `version` lines in `Cargo.lock`, `poetry.lock`, `uv.lock` and `package-lock.json`
//! (a registry or git dependency's entry also changes its checksum, integrity or source).

use std::collections::BTreeSet;

use regex::bytes::Regex;

use super::diff::{FileDiff, FileStatus, LineKind, ParsedDiff};
use super::path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CargoToml,
    Pyproject,
    PackageJson,
    GoMod,
    TomlLock,
    PackageLock,
}

impl Kind {
    fn of(path: &str) -> Option<Kind> {
        Some(match path::file_name(path) {
            "Cargo.toml" => Kind::CargoToml,
            "pyproject.toml" => Kind::Pyproject,
            "package.json" => Kind::PackageJson,
            "go.mod" => Kind::GoMod,
            "Cargo.lock" | "poetry.lock" | "uv.lock" => Kind::TomlLock,
            "package-lock.json" | "npm-shrinkwrap.json" => Kind::PackageLock,
            _ => return None,
        })
    }
}

/// Cargo.toml `[package]` / `[workspace.package]` keys that describe the package.
const CARGO_KEYS: &[&str] = &[
    "version",
    "edition",
    "rust-version",
    "description",
    "license",
    "license-file",
    "repository",
    "homepage",
    "documentation",
    "readme",
    "keywords",
    "categories",
    "authors",
    "publish",
    "exclude",
    "include",
    "default-run",
];

/// pyproject.toml `[project]` / `[tool.poetry]` keys that describe the package.
const PYPROJECT_KEYS: &[&str] = &[
    "version",
    "description",
    "readme",
    "requires-python",
    "license",
    "authors",
    "maintainers",
    "keywords",
    "classifiers",
    "homepage",
    "repository",
    "documentation",
];

fn toml_metadata_key(kind: Kind, section: &str, key: &str) -> bool {
    match kind {
        Kind::CargoToml => match section {
            "package" | "workspace.package" => CARGO_KEYS.contains(&key),
            s => s == "badges" || s.starts_with("package.metadata"),
        },
        Kind::Pyproject => match section {
            "project" | "tool.poetry" => PYPROJECT_KEYS.contains(&key),
            s => s == "project.urls" || s == "tool.poetry.urls",
        },
        _ => false,
    }
}

struct Patterns {
    header: Regex,
    key: Regex,
    json_meta: Regex,
    go_meta: Regex,
    lock_version: Regex,
    json_version: Regex,
}

impl Patterns {
    fn new() -> Patterns {
        // cannot fail: constant patterns, compiled by every test of this module.
        let r = |p: &str| Regex::new(p).expect("built-in pattern");
        Patterns {
            header: r(r#"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$"#),
            key: r(r#"^\s*["']?([A-Za-z0-9_][A-Za-z0-9_\-]*)["']?\s*="#),
            json_meta: r(
                r#"^\s*"(version|description|license|homepage|author|private)"\s*:\s*(?:"[^"]*"|true|false)\s*,?\s*$"#,
            ),
            go_meta: r(r"^\s*(go|toolchain)\s+(?:go)?\d[\w.\-]*\s*(?://.*)?$"),
            lock_version: r(r#"^version\s*=\s*"[^"]*"\s*$"#),
            json_version: r(r#"^\s*"version"\s*:\s*"[^"]*"\s*,?\s*$"#),
        }
    }
}

fn section_name(p: &Patterns, line: &[u8]) -> Option<String> {
    p.header
        .captures(line)
        .map(|c| String::from_utf8_lossy(&c[1]).replace(['"', '\'', ' '], ""))
}

/// The metadata keys a manifest or lockfile edit changes, when it changes nothing else;
/// None when it changes a dependency, or may (an unknown format, a new, deleted or renamed
/// file, a line that is not recognised). `base` is the file before the patch.
pub fn metadata_only(
    diff: &ParsedDiff,
    file: &FileDiff,
    base: Option<&[u8]>,
) -> Option<BTreeSet<String>> {
    if file.status != FileStatus::Modified || file.binary || file.hunks.is_empty() {
        return None;
    }
    let kind = Kind::of(file.path())?;
    let p = Patterns::new();
    let headers: Vec<(u32, String)> = match (kind, base) {
        (Kind::CargoToml | Kind::Pyproject, Some(b)) => b
            .split(|&c| c == b'\n')
            .enumerate()
            .filter_map(|(i, l)| Some((i as u32 + 1, section_name(&p, l)?)))
            .collect(),
        _ => Vec::new(),
    };
    let mut keys = BTreeSet::new();
    let mut section: Option<String> = None;
    // The metadata key whose multi-line array the lines are in.
    let mut in_array: Option<String> = None;
    for line in diff.lines(file) {
        if let Some((old_start, _)) = line.hunk_start {
            section = headers
                .iter()
                .rev()
                .find(|(l, _)| *l < old_start)
                .map(|(_, s)| s.clone());
            in_array = None;
        }
        let text = line.text();
        let trimmed = text.trim_ascii();
        let changed = line.kind != LineKind::Context;
        // Blank lines and comments change nothing in a TOML file.
        let toml = matches!(kind, Kind::CargoToml | Kind::Pyproject | Kind::TomlLock);
        if changed && toml && (trimmed.is_empty() || trimmed.starts_with(b"#")) {
            continue;
        }
        let key = match kind {
            Kind::CargoToml | Kind::Pyproject => {
                if let Some(s) = section_name(&p, text) {
                    if changed {
                        return None;
                    }
                    section = Some(s);
                    in_array = None;
                    continue;
                }
                let key = match &in_array {
                    Some(k) => Some(k.clone()),
                    None => p
                        .key
                        .captures(text)
                        .map(|c| String::from_utf8_lossy(&c[1]).into_owned()),
                };
                // A multi-line array opens on `key = [` and closes on its `]`.
                if in_array.is_some() {
                    if text.contains(&b']') {
                        in_array = None;
                    }
                } else if let Some(k) = &key {
                    let after = text.splitn(2, |&c| c == b'=').nth(1).unwrap_or_default();
                    let after = after.trim_ascii_start();
                    if after.starts_with(b"[") && !after.contains(&b']') {
                        in_array = Some(k.clone());
                    }
                }
                if !changed {
                    continue;
                }
                let sec = section.as_deref()?;
                match key {
                    Some(k) if toml_metadata_key(kind, sec, &k) => k,
                    _ => return None,
                }
            }
            _ if !changed => continue,
            Kind::PackageJson => {
                let c = p.json_meta.captures(text)?;
                String::from_utf8_lossy(&c[1]).into_owned()
            }
            Kind::GoMod => {
                let c = p.go_meta.captures(text)?;
                String::from_utf8_lossy(&c[1]).into_owned()
            }
            Kind::TomlLock if p.lock_version.is_match(text) => "version".to_string(),
            Kind::PackageLock if p.json_version.is_match(text) => "version".to_string(),
            Kind::TomlLock | Kind::PackageLock => return None,
        };
        keys.insert(key);
    }
    (!keys.is_empty()).then_some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conventions::diff::parse;

    fn check(path: &str, hunk: &str, base: Option<&str>) -> Option<Vec<String>> {
        let text = format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n{hunk}");
        let d = parse(text.as_bytes());
        metadata_only(&d, &d.files[0], base.map(str::as_bytes)).map(|k| k.into_iter().collect())
    }

    const CARGO_BASE: &str = "[package]\nname = \"demo\"\nversion = \"0.3.0\"\nedition = \"2018\"\nrust-version = \"1.60\"\nlicense = \"MIT\"\ndescription = \"x\"\n\n[dependencies]\nserde = \"1.0\"\nregex = { version = \"1.5\", features = [\"std\"] }\n";

    #[test]
    fn cargo_metadata_and_dependencies_are_told_apart() {
        // The header lies outside the hunk: it is read from the original file.
        let bump = "@@ -4,3 +4,3 @@\n-edition = \"2018\"\n-rust-version = \"1.60\"\n+edition = \"2021\"\n+rust-version = \"1.70\"\n license = \"MIT\"\n";
        assert_eq!(
            check("Cargo.toml", bump, Some(CARGO_BASE)),
            Some(vec!["edition".to_string(), "rust-version".to_string()])
        );
        // Without the original file the table is unknown: not metadata.
        assert_eq!(check("Cargo.toml", bump, None), None);
        let release = "@@ -1,4 +1,4 @@\n [package]\n name = \"demo\"\n-version = \"0.3.0\"\n+version = \"0.3.1\"\n edition = \"2018\"\n";
        assert_eq!(
            check("Cargo.toml", release, None),
            Some(vec!["version".to_string()])
        );
        let constraint = "@@ -9,3 +9,3 @@\n [dependencies]\n-serde = \"1.0\"\n+serde = \"1.0.190\"\n regex = { version = \"1.5\", features = [\"std\"] }\n";
        assert_eq!(check("Cargo.toml", constraint, Some(CARGO_BASE)), None);
        let new_dep = "@@ -10,2 +10,3 @@\n serde = \"1.0\"\n regex = { version = \"1.5\", features = [\"std\"] }\n+rand = \"0.8\"\n";
        assert_eq!(check("Cargo.toml", new_dep, Some(CARGO_BASE)), None);
        // `version =` inside a dependency table is a constraint, not the release.
        let dep_table = "@@ -1,3 +1,3 @@\n [dependencies.tokio]\n-version = \"1.0\"\n+version = \"1.30\"\n features = [\"full\"]\n";
        assert_eq!(check("Cargo.toml", dep_table, None), None);
        let new_table = "@@ -8,2 +8,4 @@\n \n [dependencies]\n+[patch.crates-io]\n+serde = { git = \"https://example.com/serde\" }\n";
        assert_eq!(check("Cargo.toml", new_table, Some(CARGO_BASE)), None);
    }

    #[test]
    fn lockfiles_count_as_metadata_only_for_the_packages_own_version() {
        let own = "@@ -10,3 +10,3 @@\n [[package]]\n name = \"demo\"\n-version = \"0.3.0\"\n+version = \"0.3.1\"\n";
        assert_eq!(check("Cargo.lock", own, None), Some(vec!["version".into()]));
        let registry = "@@ -20,4 +20,4 @@\n name = \"serde\"\n-version = \"1.0.188\"\n+version = \"1.0.190\"\n source = \"registry+https://github.com/rust-lang/crates.io-index\"\n-checksum = \"aaaa\"\n+checksum = \"bbbb\"\n";
        assert_eq!(check("Cargo.lock", registry, None), None);
        let go = "@@ -1,3 +1,3 @@\n module example.com/m\n \n-go 1.20\n+go 1.21\n";
        assert_eq!(check("go.mod", go, None), Some(vec!["go".into()]));
        let go_dep = "@@ -3,3 +3,4 @@\n go 1.21\n \n require golang.org/x/text v0.3.0\n+require golang.org/x/sync v0.1.0\n";
        assert_eq!(check("go.mod", go_dep, None), None);
        let npm = "@@ -1,4 +1,4 @@\n {\n   \"name\": \"web\",\n-  \"version\": \"1.2.0\",\n+  \"version\": \"1.3.0\",\n   \"dependencies\": {\n";
        assert_eq!(
            check("package.json", npm, None),
            Some(vec!["version".into()])
        );
        let npm_dep = "@@ -4,3 +4,3 @@\n   \"dependencies\": {\n-    \"left-pad\": \"^1.0.0\"\n+    \"left-pad\": \"^1.3.0\"\n   }\n";
        assert_eq!(check("package.json", npm_dep, None), None);
        assert_eq!(check("setup.py", "@@ -1 +1 @@\n-a\n+b\n", None), None);
    }
}
