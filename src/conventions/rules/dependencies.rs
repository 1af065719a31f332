//! Edits to dependency manifests and lockfiles, naming the dependencies the
//! patch adds, updates and removes: a new dependency is a long-term cost and
//! a supply-chain risk, so a reviewer should see it by name.
//!
//! Names are read from the changed lines with per-format patterns. For TOML
//! manifests the table a line belongs to matters (`[dependencies]` versus
//! `[package]`); it is tracked through the hunk and, at a hunk's start,
//! taken from the original file when it is available.

use std::collections::BTreeSet;

use regex::bytes::Regex;

use super::{FileCtx, LineRule, PathCheck};
use crate::conventions::catalog;
use crate::conventions::config::Severity;
use crate::conventions::diff::{DiffLine, LineKind};
use crate::conventions::path;
use crate::conventions::report::Sink;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    CargoToml,
    Pyproject,
    Pipfile,
    PackageJson,
    Requirements,
    GoMod,
    Gemfile,
    Gemspec,
    Gradle,
    Pom,
    TomlLock,
    PackageLock,
    YarnLock,
    GoSum,
    GemfileLock,
    ComposerLock,
    Unknown,
}

impl Format {
    fn of(path: &str) -> Format {
        let name = path::file_name(path);
        match name {
            "Cargo.toml" => Format::CargoToml,
            "pyproject.toml" => Format::Pyproject,
            "Pipfile" => Format::Pipfile,
            "package.json" | "composer.json" => Format::PackageJson,
            "go.mod" => Format::GoMod,
            "Gemfile" => Format::Gemfile,
            "build.gradle" | "build.gradle.kts" => Format::Gradle,
            "pom.xml" => Format::Pom,
            "Cargo.lock" | "poetry.lock" | "uv.lock" => Format::TomlLock,
            "package-lock.json" | "npm-shrinkwrap.json" => Format::PackageLock,
            "yarn.lock" => Format::YarnLock,
            "go.sum" => Format::GoSum,
            "Gemfile.lock" => Format::GemfileLock,
            "composer.lock" => Format::ComposerLock,
            _ if name.ends_with(".gemspec") => Format::Gemspec,
            _ if (name.starts_with("requirements") || name.starts_with("constraints"))
                && (name.ends_with(".txt") || name.ends_with(".in")) =>
            {
                Format::Requirements
            }
            _ if path.contains("requirements/") && name.ends_with(".txt") => Format::Requirements,
            _ => Format::Unknown,
        }
    }

    fn is_lockfile(self) -> bool {
        matches!(
            self,
            Format::TomlLock
                | Format::PackageLock
                | Format::YarnLock
                | Format::GoSum
                | Format::GemfileLock
                | Format::ComposerLock
        )
    }

    fn is_toml(self) -> bool {
        matches!(
            self,
            Format::CargoToml | Format::Pyproject | Format::Pipfile
        )
    }
}

struct Patterns {
    toml_header: Regex,
    toml_key: Regex,
    toml_array_open: Regex,
    quoted: Regex,
    pep508: Regex,
    json_pair: Regex,
    requirement: Regex,
    go_require: Regex,
    gem: Regex,
    gemspec: Regex,
    gradle: Regex,
    pom: Regex,
    lock_name: Regex,
    package_lock: Regex,
    yarn: Regex,
    go_sum: Regex,
    gemfile_lock: Regex,
    composer_lock: Regex,
}

impl Patterns {
    fn new() -> Patterns {
        // cannot fail: constant patterns, compiled by every test of this rule.
        let r = |p: &str| Regex::new(p).expect("built-in pattern");
        Patterns {
            toml_header: r(r#"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$"#),
            toml_key: r(r#"^\s*["']?([A-Za-z0-9_][A-Za-z0-9_.\-]*)["']?\s*="#),
            toml_array_open: r(r#"^\s*["']?([A-Za-z0-9_\-]+)["']?\s*=\s*\["#),
            quoted: r(r#""([^"]+)"|'([^']+)'"#),
            pep508: r(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)"),
            json_pair: r(r#"^\s*"([^"]+)"\s*:\s*"([^"]*)""#),
            requirement: r(
                r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)\s*(?:\[[^\]]*\])?\s*(?:[<>=!~;@]|$)",
            ),
            go_require: r(
                r"^\s*(?:require\s+)?([A-Za-z0-9][A-Za-z0-9.\-_~]*\.[A-Za-z]+/\S+)\s+v\d",
            ),
            gem: r(r#"^\s*gem\s+["']([^"']+)["']"#),
            gemspec: r(r#"add_(?:runtime_|development_)?dependency\s*\(?\s*["']([^"']+)["']"#),
            gradle: r(
                r#"(?:implementation|api|compileOnly|runtimeOnly|testImplementation|testRuntimeOnly|kapt|annotationProcessor)\s*\(?\s*["']([^"':\s]+:[^"':\s]+)"#,
            ),
            pom: r(r"<artifactId>\s*([^<\s]+)\s*</artifactId>"),
            lock_name: r(r#"^name\s*=\s*"([^"]+)""#),
            package_lock: r(r#"^\s*"(?:[^"]*/)?node_modules/((?:@[^/"]+/)?[^/"]+)"\s*:\s*\{"#),
            yarn: r(r#"^"?(@?[^@"\s,]+)@"#),
            go_sum: r(r"^(\S+)\s+v[^/\s]+\s+h1:"),
            gemfile_lock: r(r"^    ([A-Za-z0-9_.\-]+) \("),
            composer_lock: r(r#"^\s*"name"\s*:\s*"([^"/]+/[^"]+)""#),
        }
    }
}

/// Keys that sit next to dependencies but are not dependencies.
const NOT_DEPENDENCIES: &[&str] = &[
    "name",
    "version",
    "edition",
    "authors",
    "description",
    "license",
    "license-file",
    "repository",
    "homepage",
    "readme",
    "keywords",
    "categories",
    "rust-version",
    "publish",
    "default-run",
    "build",
    "include",
    "exclude",
    "documentation",
    "resolver",
    "members",
    "path",
    "crate-type",
    "workspace",
    "main",
    "module",
    "types",
    "private",
    "node",
    "npm",
    "yarn",
    "pnpm",
    "python",
    "requires-python",
    "packageManager",
    "type",
    "scripts",
    "engines",
];

const MAX_NAMES: usize = 1000;
const SHOWN: usize = 10;

pub(crate) struct DependencyLines<'a> {
    rule: &'a PathCheck,
    pats: Patterns,
    format: Format,
    added: BTreeSet<String>,
    removed: BTreeSet<String>,
    first_line: Option<u32>,
    // TOML table tracking, for the old and the new side.
    base_headers: Option<Vec<(u32, String)>>,
    old_section: Option<String>,
    new_section: Option<String>,
    prev_old_end: u32,
    in_array_new: bool,
    in_array_old: bool,
}

impl<'a> DependencyLines<'a> {
    pub fn new(rule: &'a PathCheck) -> Self {
        DependencyLines {
            rule,
            pats: Patterns::new(),
            format: Format::Unknown,
            added: BTreeSet::new(),
            removed: BTreeSet::new(),
            first_line: None,
            base_headers: None,
            old_section: None,
            new_section: None,
            prev_old_end: 0,
            in_array_new: false,
            in_array_old: false,
        }
    }

    fn headers_of(&self, base: &[u8]) -> Vec<(u32, String)> {
        base.split(|&b| b == b'\n')
            .enumerate()
            .filter_map(|(i, l)| {
                let c = self.pats.toml_header.captures(l)?;
                Some((
                    i as u32 + 1,
                    String::from_utf8_lossy(&c[1]).replace(['"', '\'', ' '], ""),
                ))
            })
            .collect()
    }

    /// Sets both sides' table at the start of a hunk.
    fn enter_hunk(&mut self, ctx: &FileCtx, old_start: u32) {
        if self.base_headers.is_none() {
            let headers = ctx.base().map(|b| self.headers_of(b)).unwrap_or_default();
            self.base_headers = Some(headers);
        }
        let headers = self.base_headers.as_deref().unwrap_or(&[]);
        let last = headers.iter().rev().find(|(l, _)| *l < old_start);
        self.old_section = last.map(|(_, s)| s.clone());
        match last {
            // The table header lies in unchanged text since the last hunk,
            // so the new side is in the same table.
            Some((l, s)) if *l >= self.prev_old_end => self.new_section = Some(s.clone()),
            // Otherwise the new side carries on from the previous hunk.
            _ if self.prev_old_end > 0 => {}
            _ => self.new_section = self.old_section.clone(),
        }
        self.in_array_new = false;
        self.in_array_old = false;
    }

    fn dep_section(&self, section: Option<&str>) -> Option<bool> {
        let s = section?;
        Some(match self.format {
            Format::CargoToml => s.ends_with("dependencies"),
            Format::Pipfile => s == "packages" || s == "dev-packages",
            Format::Pyproject => {
                (s.starts_with("tool.poetry") && s.ends_with("dependencies"))
                    || s == "project.optional-dependencies"
                    || s == "dependency-groups"
            }
            _ => false,
        })
    }

    /// Dependency names on one line of a TOML manifest; updates the table
    /// and array state of that side.
    fn toml_names(&mut self, text: &[u8], old_side: bool) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(c) = self.pats.toml_header.captures(text) {
            let section = String::from_utf8_lossy(&c[1]).replace(['"', '\'', ' '], "");
            // `[dependencies.serde]` names a dependency in its header.
            if let Some((table, dep)) = section.rsplit_once('.') {
                if self.format == Format::CargoToml && table.ends_with("dependencies") {
                    names.push(dep.to_string());
                }
            }
            if old_side {
                self.old_section = Some(section);
                self.in_array_old = false;
            } else {
                self.new_section = Some(section);
                self.in_array_new = false;
            }
            return names;
        }
        let section = if old_side {
            self.old_section.clone()
        } else {
            self.new_section.clone()
        };
        let in_deps = self.dep_section(section.as_deref());
        let in_array = if old_side {
            self.in_array_old
        } else {
            self.in_array_new
        };
        let opens_array = self
            .pats
            .toml_array_open
            .captures(text)
            .map(|c| String::from_utf8_lossy(&c[1]).into_owned());
        let array_of_requirements = self.format == Format::Pyproject
            && opens_array.as_deref().is_some_and(|key| {
                key == "dependencies"
                    || key == "requires"
                    || in_deps == Some(true)
                    || section.as_deref() == Some("dependency-groups")
            });
        if in_array || array_of_requirements {
            for c in self.pats.quoted.captures_iter(text) {
                let s = c
                    .get(1)
                    .or(c.get(2))
                    .map(|m| m.as_bytes())
                    .unwrap_or_default();
                if let Some(n) = self.pats.pep508.captures(s) {
                    names.push(String::from_utf8_lossy(&n[1]).into_owned());
                }
            }
            let closes = text.contains(&b']');
            let now_in = if in_array {
                !closes
            } else {
                !closes && opens_array.is_some()
            };
            if old_side {
                self.in_array_old = now_in;
            } else {
                self.in_array_new = now_in;
            }
            return names;
        }
        if let Some(c) = self.pats.toml_key.captures(text) {
            let key = String::from_utf8_lossy(&c[1]).into_owned();
            let key = key.split('.').next().unwrap_or_default().to_string();
            let is_dep = match in_deps {
                Some(v) => v,
                // Table unknown (no original file): a key whose value looks
                // like a version or a dependency table.
                None => !NOT_DEPENDENCIES.contains(&key.as_str()) && looks_like_dep_value(text),
            };
            if is_dep && !key.is_empty() {
                names.push(key);
            }
        }
        names
    }

    fn names(&mut self, text: &[u8], old_side: bool) -> Vec<String> {
        let p = &self.pats;
        let one = |re: &Regex| -> Vec<String> {
            re.captures(text)
                .map(|c| vec![String::from_utf8_lossy(&c[1]).into_owned()])
                .unwrap_or_default()
        };
        match self.format {
            Format::CargoToml | Format::Pyproject | Format::Pipfile => {
                self.toml_names(text, old_side)
            }
            Format::PackageJson => match p.json_pair.captures(text) {
                Some(c)
                    if is_version_spec(&c[2])
                        && !NOT_DEPENDENCIES.contains(&&*String::from_utf8_lossy(&c[1])) =>
                {
                    vec![String::from_utf8_lossy(&c[1]).into_owned()]
                }
                _ => Vec::new(),
            },
            Format::Requirements => {
                let t = trim_ascii(text);
                if t.is_empty() || t.starts_with(b"#") || t.starts_with(b"-") {
                    Vec::new()
                } else {
                    one(&p.requirement)
                }
            }
            Format::GoMod => {
                let t = trim_ascii(text);
                if [
                    "module ",
                    "go ",
                    "toolchain ",
                    "replace ",
                    "exclude ",
                    "retract ",
                ]
                .iter()
                .any(|k| t.starts_with(k.as_bytes()))
                {
                    Vec::new()
                } else {
                    one(&p.go_require)
                }
            }
            Format::Gemfile => one(&p.gem),
            Format::Gemspec => one(&p.gemspec),
            Format::Gradle => one(&p.gradle),
            Format::Pom => one(&p.pom),
            Format::TomlLock => one(&p.lock_name),
            Format::PackageLock => one(&p.package_lock),
            Format::YarnLock => {
                if text
                    .first()
                    .is_some_and(|b| b.is_ascii_whitespace() || *b == b'#')
                {
                    Vec::new()
                } else {
                    one(&p.yarn)
                }
            }
            Format::GoSum => one(&p.go_sum),
            Format::GemfileLock => one(&p.gemfile_lock),
            Format::ComposerLock => one(&p.composer_lock),
            Format::Unknown => Vec::new(),
        }
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

fn is_version_spec(v: &[u8]) -> bool {
    let v = trim_ascii(v);
    match v.first() {
        None => false,
        Some(c) if c.is_ascii_digit() => true,
        Some(b'^' | b'~' | b'>' | b'<' | b'=' | b'*') => true,
        _ => {
            v == b"latest"
                || v == b"next"
                || [
                    &b"workspace:"[..],
                    b"npm:",
                    b"git",
                    b"github:",
                    b"file:",
                    b"link:",
                    b"http",
                    b"dev-",
                ]
                .iter()
                .any(|p| v.starts_with(p))
        }
    }
}

/// `"1.0"`, `{ version = "1" }`, `{ path = "../x" }`, `{ workspace = true }`.
fn looks_like_dep_value(line: &[u8]) -> bool {
    let Some(eq) = line.iter().position(|&b| b == b'=') else {
        return false;
    };
    let v = trim_ascii(&line[eq + 1..]);
    if let Some(inner) = v.strip_prefix(b"\"").or_else(|| v.strip_prefix(b"'")) {
        return is_version_spec(inner);
    }
    v.starts_with(b"{")
        && [&b"version"[..], b"path", b"git", b"workspace"]
            .iter()
            .any(|k| v.windows(k.len()).any(|w| w == *k))
}

fn list(names: &[&String]) -> String {
    let shown: Vec<&str> = names.iter().take(SHOWN).map(|s| s.as_str()).collect();
    let mut s = shown.join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

impl LineRule for DependencyLines<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        if self.rule.severity == Severity::Off
            || !ctx.file.paths().any(|p| self.rule.set.is_match(p))
        {
            return false;
        }
        self.format = Format::of(ctx.path);
        self.added.clear();
        self.removed.clear();
        self.first_line = None;
        self.base_headers = None;
        self.old_section = None;
        self.new_section = None;
        self.prev_old_end = 0;
        self.in_array_new = false;
        self.in_array_old = false;
        true
    }

    fn line(&mut self, ctx: &FileCtx, line: &DiffLine, _: &mut Sink) {
        if self.format == Format::Unknown {
            return;
        }
        if let Some((old_start, _)) = line.hunk_start {
            if self.format.is_toml() {
                self.enter_hunk(ctx, old_start);
            }
        }
        if let Some(o) = line.old_line {
            // Saturating: a hunk may start at u32::MAX (bug pinned: `o + 1` overflowed).
            self.prev_old_end = o.saturating_add(1);
        }
        let text = line.text();
        match line.kind {
            LineKind::Added => {
                let names = self.names(text, false);
                if !names.is_empty() && self.first_line.is_none() {
                    self.first_line = line.new_line;
                }
                for n in names {
                    if self.added.len() < MAX_NAMES {
                        self.added.insert(n);
                    }
                }
            }
            LineKind::Removed => {
                for n in self.names(text, true) {
                    if self.removed.len() < MAX_NAMES {
                        self.removed.insert(n);
                    }
                }
            }
            LineKind::Context => {
                if self.format.is_toml() {
                    // Context moves both sides through tables and arrays.
                    let _ = self.toml_names(text, true);
                    let _ = self.toml_names(text, false);
                }
            }
        }
    }

    fn end(&mut self, ctx: &FileCtx, sink: &mut Sink) {
        let path = ctx.path;
        let new: Vec<&String> = self.added.difference(&self.removed).collect();
        let updated: Vec<&String> = self.added.intersection(&self.removed).collect();
        let gone: Vec<&String> = self.removed.difference(&self.added).collect();
        let kind = if self.format.is_lockfile()
            || Format::of(path) == Format::Unknown && path::file_name(path).contains("lock")
        {
            "lockfile"
        } else {
            "dependency manifest"
        };
        let mut parts = Vec::new();
        if !new.is_empty() {
            parts.push(format!("adds {}", list(&new)));
        }
        if !updated.is_empty() {
            parts.push(format!("updates {}", list(&updated)));
        }
        if !gone.is_empty() {
            parts.push(format!("removes {}", list(&gone)));
        }
        let detail = if parts.is_empty() {
            String::new()
        } else {
            format!(": {}", parts.join("; "))
        };
        let line = self.first_line;
        sink.push(
            catalog::DEPENDENCIES,
            self.rule.severity,
            Some(path),
            line,
            || format!("edits {kind} `{path}`{detail}"),
        );
    }
}
