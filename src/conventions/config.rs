//! The configuration a suite (`suite.toml`) or a repository
//! (`mergebench.toml`) gives the convention scorer and the blast radius: the
//! `[conventions]`, `[ownership]` and `[blast_radius]` tables.
//!
//! Every key is optional. A rule's `severity` left out means the rule's own
//! default; `globs` left out means the built-in list (`defaults.rs`) and
//! `extra_globs` adds to it, so a repository can extend a list without
//! copying it. Errors name the file, the line and the fix.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How much a failed rule matters. `off` disables the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Off,
    /// Reported; does not fail the conventions.
    Warn,
    /// Fails the conventions (and the gate).
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Off => "off",
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

/// A rule with nothing to configure but its severity and where it does not
/// apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Low,
    Medium,
    High,
    Critical,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Medium => "medium",
            Tier::High => "high",
            Tier::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LintFormat {
    /// Try the structured formats; fall back to paths, then lines.
    #[default]
    Auto,
    /// `path:line[:col]: message`.
    Gcc,
    /// rustc/clippy human output.
    Rustc,
    /// One path per line (`gofmt -l`).
    Paths,
    /// Every non-empty line is a finding.
    Lines,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleToggle {
    pub severity: Option<Severity>,
    /// Paths the rule skips.
    pub exclude: Vec<String>,
}

/// Debugging leftovers: a severity, paths to skip, and the calls this repository prints
/// with on purpose (`allow = ["println!", "fmt.Println"]`), named as the finding names them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DebugRule {
    pub severity: Option<Severity>,
    /// Paths the rule skips.
    pub exclude: Vec<String>,
    /// Calls that are not leftovers here.
    pub allow: Vec<String>,
}

/// A numeric limit on the whole patch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitRule {
    pub severity: Option<Severity>,
    pub limit: Option<u64>,
}

/// A rule that fires when the patch touches certain paths.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathRule {
    pub severity: Option<Severity>,
    /// Replaces the built-in list.
    pub globs: Option<Vec<String>>,
    /// Added to the list in use.
    pub extra_globs: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TodoRule {
    pub severity: Option<Severity>,
    /// Words that mark unfinished work; default `TODO`, `FIXME`.
    pub markers: Option<Vec<String>>,
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsRule {
    /// For known key formats, private keys, credential assignments and
    /// sensitive files. Default `error`.
    pub severity: Option<Severity>,
    /// For long tokens that are only suspicious by their entropy. Default
    /// `warn`.
    pub entropy_severity: Option<Severity>,
    /// Regular expressions; a candidate secret matching one is not reported
    /// (documented example keys, test fixtures).
    pub allow: Vec<String>,
    /// Paths not scanned at all.
    pub exclude: Vec<String>,
    /// Paths skipped by the entropy check only; default: lockfiles, SVG,
    /// minified and source-map files.
    pub entropy_exclude: Option<Vec<String>>,
    /// Bits per character a base64-like token needs to be reported; default 4.2.
    pub min_entropy: Option<f64>,
    /// Shortest token the entropy check looks at; default 32.
    pub min_token_length: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LicenseRule {
    /// Default `error` once `text` is set; without `text` the rule is off.
    pub severity: Option<Severity>,
    /// Text every new file must contain near its top, e.g.
    /// `SPDX-License-Identifier: Apache-2.0`.
    pub text: Option<String>,
    /// Which new files need it; default: common source-file extensions.
    pub globs: Option<Vec<String>>,
    /// How many lines from the top may hold it; default 20.
    pub within_lines: Option<u32>,
}

/// A command is given as one shell string or as an argument list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

/// A formatter or linter run on the base tree and on the patched tree; only
/// the findings the patch introduced count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRule {
    /// Short name, used in the rule id `command.<name>`.
    pub name: String,
    pub run: CommandLine,
    /// Default `error`.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// How to read the command's output; default `auto`.
    #[serde(default)]
    pub format: LintFormat,
    /// Prefixes removed from paths in the output (e.g. the container's
    /// working directory) so they match the patch's paths.
    #[serde(default)]
    pub strip_prefix: Vec<String>,
    /// Time limit, e.g. `"5m"`; enforced by whoever runs the command.
    #[serde(default)]
    pub timeout: Option<String>,
}

/// A suite's own rule: a regular expression over added lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    /// Used in the rule id `custom.<id>`.
    pub id: String,
    pub pattern: String,
    pub message: String,
    /// Default `warn`.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Only these paths; empty means every text file.
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// The `[conventions]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConventionsConfig {
    /// Findings kept per rule; the rest are counted.
    pub max_findings_per_rule: u32,
    pub max_files: LimitRule,
    pub max_lines: LimitRule,
    pub expected_area: RuleToggle,
    pub test_files: PathRule,
    pub ci_config: PathRule,
    pub infra: PathRule,
    pub dependencies: PathRule,
    pub secrets: SecretsRule,
    pub debug_leftovers: DebugRule,
    pub todo: TodoRule,
    pub trailing_newline: RuleToggle,
    /// Bidirectional controls and zero-width characters in added lines.
    pub hidden_unicode: RuleToggle,
    pub line_endings: RuleToggle,
    pub indentation: RuleToggle,
    pub license_header: LicenseRule,
    pub binary_files: RuleToggle,
    pub unsafe_paths: RuleToggle,
    /// Edits to test-harness files and settings (conftest.py, `[tool:pytest]`, …).
    pub harness_files: RuleToggle,
    pub commands: Vec<CommandRule>,
    pub custom: Vec<CustomRule>,
}

impl Default for ConventionsConfig {
    fn default() -> Self {
        ConventionsConfig {
            max_findings_per_rule: 200,
            max_files: LimitRule::default(),
            max_lines: LimitRule::default(),
            expected_area: RuleToggle::default(),
            test_files: PathRule::default(),
            ci_config: PathRule::default(),
            infra: PathRule::default(),
            dependencies: PathRule::default(),
            secrets: SecretsRule::default(),
            debug_leftovers: DebugRule::default(),
            todo: TodoRule::default(),
            trailing_newline: RuleToggle::default(),
            hidden_unicode: RuleToggle::default(),
            line_endings: RuleToggle::default(),
            indentation: RuleToggle::default(),
            license_header: LicenseRule::default(),
            binary_files: RuleToggle::default(),
            unsafe_paths: RuleToggle::default(),
            harness_files: RuleToggle::default(),
            commands: Vec::new(),
            custom: Vec::new(),
        }
    }
}

impl ConventionsConfig {
    /// What `mergebench gate` runs in a repository without `mergebench.toml`:
    /// only the rules nobody disputes (secrets, CI and infra edits, debug
    /// leftovers, unsafe paths), so adopting the gate starts quiet. Test-harness
    /// edits are off too: a maintainer's pull request changes conftest.py or
    /// `[tool:pytest]` as a matter of course.
    pub fn minimal() -> ConventionsConfig {
        let off = Some(Severity::Off);
        let mut c = ConventionsConfig::default();
        c.max_files.severity = off;
        c.max_lines.severity = off;
        c.expected_area.severity = off;
        c.test_files.severity = off;
        c.dependencies.severity = off;
        c.todo.severity = off;
        c.trailing_newline.severity = off;
        c.line_endings.severity = off;
        c.indentation.severity = off;
        c.binary_files.severity = off;
        c.harness_files.severity = off;
        c
    }
}

/// An `[ownership]` value: one owner or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Owners {
    One(String),
    Many(Vec<String>),
}

impl Owners {
    /// The owner as one display string (`@org/a @org/b` for several).
    pub fn joined(&self) -> String {
        match self {
            Owners::One(s) => s.clone(),
            Owners::Many(v) => v.join(" "),
        }
    }
}

/// The `[ownership]` table: `"glob" = "owner"`, where the owner names the
/// service or team. The most specific matching glob wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OwnershipConfig {
    pub entries: BTreeMap<String, Owners>,
}

/// The `[blast_radius]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlastConfig {
    /// How many leading directories name a module (`src/billing/x.rs` →
    /// `src/billing` at depth 2).
    pub module_depth: usize,
    /// Shared-library paths: touching them makes a patch `high`.
    pub shared: Option<Vec<String>>,
    /// Owners whose code is shared by other services.
    pub shared_owners: Vec<String>,
    /// Replaces the built-in critical paths (CI, infra, config, auth,
    /// migrations, dependency manifests).
    pub critical: Option<Vec<String>>,
    pub extra_critical: Vec<String>,
    /// Replaces the built-in test-path list used for the `low` tier.
    pub tests: Option<Vec<String>>,
    /// Replaces the built-in documentation list used for the `low` tier.
    pub docs: Option<Vec<String>>,
    /// Tiers at or above this are flagged for a staged rollout.
    pub staged_rollout_tier: Tier,
    /// Above these the patch is flagged for a staged rollout too.
    pub max_files: u64,
    pub max_lines: u64,
    pub max_services: u64,
    /// `mergebench gate` fails when the tier reaches this; absent: never.
    pub fail_on: Option<Tier>,
}

impl Default for BlastConfig {
    fn default() -> Self {
        BlastConfig {
            module_depth: 2,
            shared: None,
            shared_owners: Vec::new(),
            critical: None,
            extra_critical: Vec::new(),
            tests: None,
            docs: None,
            staged_rollout_tier: Tier::High,
            max_files: 20,
            max_lines: 500,
            max_services: 1,
            fail_on: None,
        }
    }
}

/// A repository's `mergebench.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub conventions: ConventionsConfig,
    pub ownership: OwnershipConfig,
    pub blast_radius: BlastConfig,
    /// A CODEOWNERS file to read owners from, relative to the repository
    /// root; by default `.github/CODEOWNERS`, `CODEOWNERS`, `docs/CODEOWNERS`.
    pub codeowners: Option<String>,
    /// The CODEOWNERS text found when the configuration was loaded.
    #[serde(skip)]
    pub codeowners_text: Option<String>,
}

impl Config {
    /// The configuration used where there is no `mergebench.toml`.
    pub fn minimal() -> Config {
        Config {
            conventions: ConventionsConfig::minimal(),
            ..Config::default()
        }
    }
}

/// A configuration problem, located and with a suggested fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}:{line}:{column}: {message}\n  fix: {fix}")]
    Toml {
        file: String,
        line: usize,
        column: usize,
        message: String,
        fix: String,
    },
    #[error("{location}: invalid {what} `{pattern}`: {message}\n  fix: {fix}")]
    Pattern {
        location: String,
        what: String,
        pattern: String,
        message: String,
        fix: String,
    },
    #[error("{file}: cannot read: {source}\n  fix: check that the file exists and is readable")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    /// Wraps a TOML error with the line and column of its span.
    pub fn from_toml(file: &str, text: &str, err: &toml::de::Error) -> ConfigError {
        let (line, column) = err
            .span()
            .map(|s| line_col(text, s.start))
            .unwrap_or((1, 1));
        let message = err.message().trim().to_string();
        let fix = toml_fix(&message).to_string();
        ConfigError::Toml {
            file: file.to_string(),
            line,
            column,
            message,
            fix,
        }
    }

    pub(crate) fn pattern(
        file: &str,
        text: &str,
        what: &str,
        bad: super::globs::BadPattern,
    ) -> ConfigError {
        let location = match find_line(text, &bad.pattern) {
            Some(l) => format!("{file}:{l}"),
            None => file.to_string(),
        };
        let fix = if what.contains("regex") {
            "write a valid regular expression (Rust `regex` syntax; escape `.`, `(`, `[` with `\\`, and prefer TOML literal strings '...' so backslashes stay as written)"
        } else if what.contains("name") {
            "give every command rule its own name"
        } else {
            "write a gitignore-style glob: `*` within one directory, `**` across directories, a trailing `/` for a whole directory; close every `[` and `{`"
        };
        ConfigError::Pattern {
            location,
            what: what.to_string(),
            pattern: bad.pattern,
            message: bad.message,
            fix: fix.to_string(),
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

/// The line on which a pattern is written, trying the ways TOML can spell it.
fn find_line(text: &str, pattern: &str) -> Option<usize> {
    let basic = pattern.replace('\\', "\\\\").replace('"', "\\\"");
    let candidates = [
        format!("'{pattern}'"),
        format!("\"{basic}\""),
        format!("\"{pattern}\""),
        pattern.to_string(),
    ];
    candidates
        .iter()
        .filter(|c| !c.is_empty())
        .find_map(|c| text.find(c.as_str()))
        .map(|off| line_col(text, off).0)
}

fn toml_fix(message: &str) -> &'static str {
    if message.contains("unknown field") {
        "remove the key or correct its spelling; the keys allowed here are listed above"
    } else if message.contains("unknown variant") {
        "use one of the values listed above (severities: \"error\", \"warn\", \"off\"; tiers: \"low\", \"medium\", \"high\", \"critical\")"
    } else if message.contains("invalid type") {
        "give the key a value of the type named above (a quoted string, a number, a list [..] or a table { .. })"
    } else if message.contains("missing field") {
        "add the missing key to this table"
    } else if message.contains("duplicate key") {
        "keep only one of the duplicated keys"
    } else {
        "correct the TOML syntax here: quote strings, close brackets, one key = value per line"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::from_toml("", "mergebench.toml").unwrap();
        assert_eq!(c.conventions, ConventionsConfig::default());
        assert_eq!(c.blast_radius.max_files, 20);
    }

    #[test]
    fn full_example_parses() {
        let text = r#"
codeowners = ".github/CODEOWNERS"

[conventions]
max_findings_per_rule = 50
max_files = { limit = 10, severity = "error" }
todo = { severity = "off" }
ci_config = { extra_globs = ["/scripts/release/"] }
secrets = { allow = ['AKIAIOSFODNN7EXAMPLE'], min_entropy = 4.5 }
license_header = { text = "SPDX-License-Identifier: Apache-2.0", globs = ["*.rs"] }

[[conventions.commands]]
name = "ruff"
run = "ruff check --output-format concise ."
format = "gcc"

[[conventions.commands]]
name = "clippy"
run = ["cargo", "clippy", "--message-format", "short"]

[[conventions.custom]]
id = "no-unwrap"
pattern = '\.unwrap\(\)'
message = "handle the error instead of unwrap()"
paths = ["src/"]

[ownership]
"services/billing/" = "billing"
"services/auth/" = ["@org/auth", "@org/security"]

[blast_radius]
fail_on = "critical"
max_lines = 300
"#;
        let c = Config::from_toml(text, "mergebench.toml").unwrap();
        assert_eq!(c.conventions.max_files.limit, Some(10));
        assert_eq!(c.conventions.commands.len(), 2);
        assert_eq!(c.conventions.commands[0].format, LintFormat::Gcc);
        assert_eq!(c.blast_radius.fail_on, Some(Tier::Critical));
        assert_eq!(
            c.ownership.entries["services/auth/"].joined(),
            "@org/auth @org/security"
        );
    }

    #[test]
    fn errors_name_line_and_fix() {
        let rows: &[(&str, usize, &str)] = &[
            (
                "[conventions]\nmax_file = { limit = 3 }\n",
                2,
                "unknown field",
            ),
            (
                "[conventions]\ntodo = { severity = \"fatal\" }\n",
                2,
                "unknown variant",
            ),
            ("[blast_radius]\nmax_files = \"ten\"\n", 2, "invalid type"),
            ("[conventions\n", 1, ""),
            (
                "\n\n[[conventions.custom]]\nid = \"x\"\npattern = '(unclosed'\nmessage = \"m\"\n",
                5,
                "regex",
            ),
            (
                "[conventions]\nci_config = { globs = [\"src/[a-\"] }\n",
                2,
                "glob",
            ),
        ];
        for &(text, line, needle) in rows {
            let err = Config::from_toml(text, "mergebench.toml").unwrap_err();
            let shown = err.to_string();
            assert!(
                shown.starts_with(&format!("mergebench.toml:{line}")),
                "{text:?} → {shown}"
            );
            assert!(shown.contains(needle), "{text:?} → {shown}");
            assert!(shown.contains("fix: "), "{shown}");
        }
    }

    /// The commented example in the user documentation must stay valid.
    #[test]
    fn documented_example_parses() {
        let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/gate.md"));
        let start = doc.find("```toml\n").expect("example present") + "```toml\n".len();
        let end = start + doc[start..].find("```").expect("example closed");
        let c = Config::from_toml(&doc[start..end], "docs/gate.md").unwrap();
        assert_eq!(c.conventions.commands.len(), 2);
        assert_eq!(c.blast_radius.fail_on, Some(Tier::Critical));
        let err =
            Config::from_toml("[conventions]\nmax_file = 1\n", "mergebench.toml").unwrap_err();
        eprintln!("{err}");
    }

    #[test]
    fn minimal_keeps_only_the_undisputed_rules() {
        let m = ConventionsConfig::minimal();
        assert_eq!(m.todo.severity, Some(Severity::Off));
        assert_eq!(m.secrets.severity, None);
        assert_eq!(m.ci_config.severity, None);
        assert_eq!(m.debug_leftovers.severity, None);
        assert_eq!(m.harness_files.severity, Some(Severity::Off));
        assert_eq!(ConventionsConfig::default().harness_files.severity, None);
    }
}
