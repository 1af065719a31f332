//! The convention rules and the loop that runs them over a parsed patch.
//!
//! Rules about the patch as a whole or about a file's metadata are plain
//! functions. Rules about lines implement [`LineRule`] and share a single
//! pass over each file's hunk lines, so a large patch is read once, not once
//! per rule.

mod area;
mod binary;
mod custom;
mod debug;
mod dependencies;
mod harness;
mod hidden;
mod indentation;
mod license;
mod line_endings;
mod newline;
mod paths;
mod secrets;
mod size;
mod todo;
mod unsafe_path;

use std::cell::OnceCell;

use super::catalog;
use super::config::{ConfigError, ConventionsConfig, PathRule, RuleToggle, Severity};
use super::defaults;
use super::diff::{DiffLine, FileDiff, FileStatus, ParsedDiff};
use super::globs::{BadPattern, PathSet};
use super::ownership::Ownership;
use super::report::{ConventionReport, DiffStats, Sink};

/// A configuration value that does not compile, and where it sits.
#[derive(Debug, Clone)]
pub struct CompileError {
    pub what: String,
    pub bad: BadPattern,
}

fn globs(what: &str, list: &[String]) -> Result<PathSet, CompileError> {
    PathSet::new(list).map_err(|bad| CompileError {
        what: what.to_string(),
        bad,
    })
}

fn regex(what: &str, pattern: &str) -> Result<regex::bytes::Regex, CompileError> {
    regex::bytes::Regex::new(pattern).map_err(|e| CompileError {
        what: what.to_string(),
        bad: BadPattern {
            pattern: pattern.to_string(),
            message: e.to_string(),
        },
    })
}

fn sev(configured: Option<Severity>, rule_id: &str) -> Severity {
    configured.unwrap_or_else(|| catalog::default_severity(rule_id))
}

/// A path rule's list: the configured one or the built-in, plus extras.
fn path_list(rule: &PathRule, builtin: &[&[&str]]) -> Vec<String> {
    let mut list = match &rule.globs {
        Some(g) => g.clone(),
        None => builtin.iter().flat_map(|l| defaults::owned(l)).collect(),
    };
    list.extend(rule.extra_globs.iter().cloned());
    list
}

#[derive(Debug, Clone)]
pub(crate) struct Toggle {
    pub severity: Severity,
    pub exclude: PathSet,
}

impl Toggle {
    fn compile(what: &str, t: &RuleToggle, rule_id: &str) -> Result<Toggle, CompileError> {
        Ok(Toggle {
            severity: sev(t.severity, rule_id),
            exclude: globs(what, &t.exclude)?,
        })
    }

    pub fn applies(&self, path: &str) -> bool {
        self.severity != Severity::Off && !self.exclude.is_match(path)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PathCheck {
    pub severity: Severity,
    pub set: PathSet,
}

/// Every rule of a [`ConventionsConfig`], compiled.
pub struct RuleSet {
    cap: u32,
    max_files: (Severity, u64),
    max_lines: (Severity, u64),
    expected_area: Toggle,
    test_files: PathCheck,
    ci_config: PathCheck,
    infra: PathCheck,
    dependencies: PathCheck,
    secrets: secrets::SecretsRules,
    debug: debug::DebugRule,
    todo: todo::TodoRule,
    trailing_newline: Toggle,
    hidden_unicode: Toggle,
    line_endings: Toggle,
    indentation: Toggle,
    license: Option<license::LicenseRule>,
    binary: Toggle,
    unsafe_paths: Toggle,
    harness: harness::HarnessRule,
    custom: Vec<custom::CustomRule>,
}

impl RuleSet {
    pub fn compile(cfg: &ConventionsConfig) -> Result<RuleSet, CompileError> {
        let path_check = |what: &str, rule: &PathRule, id: &str, builtin: &[&[&str]]| {
            Ok::<_, CompileError>(PathCheck {
                severity: sev(rule.severity, id),
                set: globs(what, &path_list(rule, builtin))?,
            })
        };
        Ok(RuleSet {
            cap: cfg.max_findings_per_rule,
            max_files: (
                sev(cfg.max_files.severity, catalog::MAX_FILES),
                cfg.max_files.limit.unwrap_or(30),
            ),
            max_lines: (
                sev(cfg.max_lines.severity, catalog::MAX_LINES),
                cfg.max_lines.limit.unwrap_or(800),
            ),
            expected_area: Toggle::compile(
                "conventions.expected_area.exclude glob",
                &cfg.expected_area,
                catalog::OUTSIDE_AREA,
            )?,
            test_files: path_check(
                "conventions.test_files glob",
                &cfg.test_files,
                catalog::TEST_FILES,
                &[defaults::TEST_FILES],
            )?,
            ci_config: path_check(
                "conventions.ci_config glob",
                &cfg.ci_config,
                catalog::CI_CONFIG,
                &[defaults::CI_CONFIG],
            )?,
            infra: path_check(
                "conventions.infra glob",
                &cfg.infra,
                catalog::INFRA,
                &[defaults::INFRA],
            )?,
            dependencies: path_check(
                "conventions.dependencies glob",
                &cfg.dependencies,
                catalog::DEPENDENCIES,
                &[defaults::MANIFESTS, defaults::LOCKFILES],
            )?,
            secrets: secrets::SecretsRules::compile(&cfg.secrets)?,
            debug: debug::DebugRule::compile(&cfg.debug_leftovers)?,
            todo: todo::TodoRule::compile(&cfg.todo)?,
            trailing_newline: Toggle::compile(
                "conventions.trailing_newline.exclude glob",
                &cfg.trailing_newline,
                catalog::TRAILING_NEWLINE,
            )?,
            hidden_unicode: Toggle::compile(
                "conventions.hidden_unicode.exclude glob",
                &cfg.hidden_unicode,
                catalog::HIDDEN_UNICODE,
            )?,
            line_endings: Toggle::compile(
                "conventions.line_endings.exclude glob",
                &cfg.line_endings,
                catalog::LINE_ENDINGS,
            )?,
            indentation: Toggle::compile(
                "conventions.indentation.exclude glob",
                &cfg.indentation,
                catalog::INDENTATION,
            )?,
            license: license::LicenseRule::compile(&cfg.license_header)?,
            binary: Toggle::compile(
                "conventions.binary_files.exclude glob",
                &cfg.binary_files,
                catalog::BINARY_FILE,
            )?,
            unsafe_paths: Toggle::compile(
                "conventions.unsafe_paths.exclude glob",
                &cfg.unsafe_paths,
                catalog::UNSAFE_PATH,
            )?,
            harness: harness::HarnessRule::compile(&cfg.harness_files)?,
            custom: cfg
                .custom
                .iter()
                .map(custom::CustomRule::compile)
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn cap(&self) -> u32 {
        self.cap
    }

    pub(crate) fn is_test_path(&self, path: &str) -> bool {
        self.test_files.set.is_match(path)
    }
}

/// What a line rule knows about the file it is looking at.
pub(crate) struct FileCtx<'a> {
    pub file: &'a FileDiff,
    pub path: &'a str,
    base: OnceCell<Option<Vec<u8>>>,
    base_file: &'a dyn Fn(&str) -> Option<Vec<u8>>,
}

impl<'a> FileCtx<'a> {
    /// The file's content before the patch, fetched at most once and only if
    /// a rule asks.
    pub fn base(&self) -> Option<&[u8]> {
        self.base
            .get_or_init(|| match (&self.file.old_path, self.file.status) {
                (_, FileStatus::Added) => None,
                (Some(p), _) => (self.base_file)(p),
                (None, _) => None,
            })
            .as_deref()
    }

    pub fn is_new(&self) -> bool {
        matches!(self.file.status, FileStatus::Added)
    }
}

pub(crate) trait LineRule {
    /// Whether the rule wants this file's lines.
    fn begin(&mut self, ctx: &FileCtx) -> bool;
    fn line(&mut self, ctx: &FileCtx, line: &DiffLine, sink: &mut Sink);
    fn end(&mut self, ctx: &FileCtx, sink: &mut Sink);
}

/// Runs every rule over the patch.
pub(crate) fn run(
    diff: &ParsedDiff,
    rs: &RuleSet,
    ownership: &Ownership,
    expected_area: &[String],
    base_file: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> ConventionReport {
    let mut sink = Sink::new(rs.cap);

    size::check(diff, rs.max_files, rs.max_lines, &mut sink);
    let area = area::Area::new(expected_area, ownership);
    for file in &diff.files {
        unsafe_path::check_paths(file, &rs.unsafe_paths, &mut sink);
        paths::check(
            file,
            &rs.ci_config,
            catalog::CI_CONFIG,
            "CI configuration",
            &mut sink,
        );
        paths::check(
            file,
            &rs.infra,
            catalog::INFRA,
            "infrastructure/deployment file",
            &mut sink,
        );
        paths::check(
            file,
            &rs.test_files,
            catalog::TEST_FILES,
            "test file",
            &mut sink,
        );
        harness::check_whole(file, &rs.harness, &mut sink);
        secrets::check_sensitive_file(file, &rs.secrets, &mut sink);
        binary::check(file, &rs.binary, &mut sink);
        if let Some(area) = &area {
            area.check(file, &rs.expected_area, |p| rs.is_test_path(p), &mut sink);
        }
    }

    let mut line_rules: Vec<Box<dyn LineRule + '_>> = vec![
        Box::new(secrets::SecretLines::new(&rs.secrets)),
        Box::new(rs.debug.visitor()),
        Box::new(rs.todo.visitor()),
        Box::new(newline::NewlineRule::new(&rs.trailing_newline)),
        Box::new(hidden::HiddenCharRule::new(&rs.hidden_unicode)),
        Box::new(line_endings::LineEndingRule::new(&rs.line_endings)),
        Box::new(indentation::IndentationRule::new(&rs.indentation)),
        Box::new(dependencies::DependencyLines::new(&rs.dependencies)),
        Box::new(unsafe_path::SymlinkRule::new(&rs.unsafe_paths)),
        Box::new(harness::HarnessLines::new(&rs.harness)),
    ];
    if let Some(l) = &rs.license {
        line_rules.push(Box::new(l.visitor()));
    }
    for c in &rs.custom {
        line_rules.push(Box::new(c.visitor()));
    }

    let mut active: Vec<usize> = Vec::with_capacity(line_rules.len());
    for file in &diff.files {
        let ctx = FileCtx {
            file,
            path: file.path(),
            base: OnceCell::new(),
            base_file,
        };
        active.clear();
        for (i, r) in line_rules.iter_mut().enumerate() {
            if r.begin(&ctx) {
                active.push(i);
            }
        }
        if active.is_empty() {
            continue;
        }
        for line in diff.lines(file) {
            for &i in &active {
                line_rules[i].line(&ctx, &line, &mut sink);
            }
        }
        for &i in &active {
            line_rules[i].end(&ctx, &mut sink);
        }
    }

    let mut rules = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let ids = sink
        .findings
        .iter()
        .map(|f| f.rule_id.as_str())
        .chain(sink.suppressed.keys().map(String::as_str));
    for id in ids {
        if seen.insert(id.to_string()) {
            let mut info = catalog::describe(id);
            if let Some(c) = rs.custom.iter().find(|c| c.rule_id == id) {
                info.description = c.message.clone();
                info.help = c.message.clone();
                info.default_severity = c.severity;
            }
            rules.push(info);
        }
    }
    ConventionReport {
        findings: sink.findings,
        suppressed: sink.suppressed,
        rules,
        stats: DiffStats {
            files: diff.files.len() as u64,
            lines_added: diff.total_added(),
            lines_removed: diff.total_removed(),
            binary_files: diff.files.iter().filter(|f| f.binary).count() as u64,
        },
        notes: diff
            .notes
            .iter()
            .map(|n| format!("diff line {}: {}", n.line, n.message))
            .chain(
                (diff.notes_dropped > 0)
                    .then(|| format!("{} more diff notes not shown", diff.notes_dropped)),
            )
            .collect(),
    }
}

impl ConventionsConfig {
    /// Compiles every glob and regular expression so mistakes surface when
    /// the file is loaded, not halfway through a run. `text` is the source,
    /// used to find the offending line.
    pub fn validate(&self, file: &str, text: &str) -> Result<(), ConfigError> {
        let mut names = std::collections::BTreeSet::new();
        for c in &self.commands {
            if !names.insert(c.name.as_str()) {
                return Err(ConfigError::pattern(
                    file,
                    text,
                    "command rule name",
                    BadPattern {
                        pattern: c.name.clone(),
                        message: "used by two command rules".into(),
                    },
                ));
            }
        }
        RuleSet::compile(self)
            .map(|_| ())
            .map_err(|e| ConfigError::pattern(file, text, &e.what, e.bad))
    }
}
