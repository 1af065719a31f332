//! The rule ids and their descriptions: what SARIF's rule table shows and
//! what a reviewer reads to learn why a rule exists and how to satisfy it.

use serde::{Deserialize, Serialize};

use super::config::Severity;

pub const MAX_FILES: &str = "diff.max-files";
pub const MAX_LINES: &str = "diff.max-lines";
pub const OUTSIDE_AREA: &str = "diff.outside-expected-area";
pub const TEST_FILES: &str = "diff.test-files";
pub const CI_CONFIG: &str = "diff.ci-config";
pub const INFRA: &str = "diff.infra";
pub const DEPENDENCIES: &str = "diff.dependencies";
pub const BINARY_FILE: &str = "diff.binary-file";
pub const UNSAFE_PATH: &str = "diff.unsafe-path";
pub const PATH_NORMALISED: &str = "diff.path-normalised";
pub const AWS_KEY: &str = "secrets.aws-access-key";
pub const GITHUB_TOKEN: &str = "secrets.github-token";
pub const SLACK_TOKEN: &str = "secrets.slack-token";
pub const PRIVATE_KEY: &str = "secrets.private-key";
pub const GOOGLE_KEY: &str = "secrets.google-api-key";
pub const STRIPE_KEY: &str = "secrets.stripe-key";
pub const ASSIGNMENT: &str = "secrets.assignment";
pub const HIGH_ENTROPY: &str = "secrets.high-entropy";
pub const SENSITIVE_FILE: &str = "secrets.sensitive-file";
pub const DEBUG_LEFTOVER: &str = "style.debug-leftover";
pub const TODO: &str = "style.todo";
pub const TRAILING_NEWLINE: &str = "style.trailing-newline";
pub const HIDDEN_UNICODE: &str = "diff.hidden-unicode";
pub const LINE_ENDINGS: &str = "style.line-endings";
pub const INDENTATION: &str = "style.indentation";
pub const LICENSE_HEADER: &str = "style.license-header";
pub const HARNESS_EDITED: &str = "tests.harness-edited";
pub const RISK_TIER: &str = "blast.risk-tier";
pub const CONFIG_INVALID: &str = "config.invalid";

/// A rule as SARIF and the reports describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    /// PascalCase name, as SARIF tools display it.
    pub name: String,
    pub description: String,
    /// How to satisfy the rule.
    pub help: String,
    pub default_severity: Severity,
    /// Security rules get a security-severity so code-scanning UIs rank them.
    pub security: bool,
}

const BUILTIN: &[(&str, &str, &str, &str, Severity, bool)] = &[
    (MAX_FILES, "TooManyFiles", "The patch changes more files than the configured limit.", "Split the change into smaller pull requests.", Severity::Warn, false),
    (MAX_LINES, "TooManyLines", "The patch changes more lines than the configured limit.", "Split the change into smaller pull requests.", Severity::Warn, false),
    (OUTSIDE_AREA, "OutsideExpectedArea", "The patch edits files outside the area the task concerns.", "Keep the change to the files and owners the task is about.", Severity::Warn, false),
    (TEST_FILES, "TestFilesEdited", "The patch edits test files.", "Do not weaken or rewrite existing tests to make a change pass.", Severity::Warn, false),
    (CI_CONFIG, "CiConfigEdited", "The patch edits CI pipelines or the files that govern review.", "Have a maintainer make or approve CI changes separately.", Severity::Error, true),
    (INFRA, "InfraEdited", "The patch edits infrastructure or deployment files.", "Have the owners of the infrastructure review this change separately.", Severity::Error, false),
    (DEPENDENCIES, "DependenciesChanged", "The patch edits a dependency manifest or lockfile.", "Justify every new dependency; prefer what the project already uses.", Severity::Warn, false),
    (BINARY_FILE, "BinaryFile", "The patch adds or changes a binary file.", "Keep binaries out of source control, or add them in a separate reviewed change.", Severity::Warn, false),
    (UNSAFE_PATH, "UnsafePath", "A path in the patch leaves the repository, is absolute, writes into .git, or a symbolic link points outside the repository.", "Use plain repository-relative paths.", Severity::Error, true),
    (PATH_NORMALISED, "OddPath", "A path in the patch has `.`/`..` segments or is not UTF-8.", "Use plain repository-relative UTF-8 paths.", Severity::Warn, false),
    (AWS_KEY, "AwsAccessKey", "An AWS access key id was added.", "Remove the key, rotate it, and load credentials from the environment.", Severity::Error, true),
    (GITHUB_TOKEN, "GithubToken", "A GitHub token was added.", "Remove the token, revoke it, and use the CI's secret store.", Severity::Error, true),
    (SLACK_TOKEN, "SlackToken", "A Slack token was added.", "Remove the token and revoke it.", Severity::Error, true),
    (PRIVATE_KEY, "PrivateKey", "A private key was added.", "Remove the key, replace it, and keep keys out of the repository.", Severity::Error, true),
    (GOOGLE_KEY, "GoogleApiKey", "A Google API key was added.", "Remove the key and restrict or rotate it.", Severity::Error, true),
    (STRIPE_KEY, "StripeKey", "A Stripe secret key was added.", "Remove the key and roll it in the Stripe dashboard.", Severity::Error, true),
    (ASSIGNMENT, "CredentialAssignment", "A password, token or API key is assigned a literal value.", "Read the value from the environment or a secret store.", Severity::Error, true),
    (HIGH_ENTROPY, "HighEntropyString", "A long random-looking string was added; it may be a credential.", "If it is a secret, remove it; otherwise add it to `secrets.allow`.", Severity::Warn, true),
    (SENSITIVE_FILE, "SensitiveFile", "A file that normally holds credentials was added.", "Remove the file and add it to .gitignore.", Severity::Error, true),
    (DEBUG_LEFTOVER, "DebugLeftover", "Debugging code was added (print, dbg!, console.log, breakpoint, pdb).", "Remove it or use the project's logger.", Severity::Warn, false),
    (TODO, "TodoAdded", "A TODO or FIXME was added.", "Finish the work, or track it in the issue tracker.", Severity::Warn, false),
    (HIDDEN_UNICODE, "HiddenUnicode", "An added line holds a bidirectional control or a zero-width character: it may read differently from how it runs (Trojan Source).", "Remove the invisible character; write it as an escape (\\u{202E}) where it is really meant.", Severity::Error, true),
    (TRAILING_NEWLINE, "MissingTrailingNewline", "A file now ends without a newline.", "End the file with a newline.", Severity::Warn, false),
    (LINE_ENDINGS, "LineEndings", "Added lines use line endings unlike the rest of the file.", "Use the file's own line endings.", Severity::Warn, false),
    (INDENTATION, "Indentation", "Added lines are indented unlike the rest of the file (tabs vs spaces).", "Indent like the surrounding code.", Severity::Warn, false),
    (LICENSE_HEADER, "LicenseHeader", "A new file lacks the license header the project requires, or a header was removed.", "Add the project's license header at the top of the file.", Severity::Error, false),
    (HARNESS_EDITED, "TestHarnessEdited", "The patch edits what decides how tests are collected, run or reported: conftest.py, pytest, Cargo or JavaScript test-runner configuration, the test script.", "Leave the test harness to maintainers: graders restore these files and settings before running the tests, so the change cannot count.", Severity::Error, true),
    (RISK_TIER, "RiskTier", "The patch's risk tier reaches the configured `fail_on`.", "Split out the risky part, or have its owners approve it.", Severity::Error, false),
    (CONFIG_INVALID, "InvalidConfiguration", "The conventions configuration could not be compiled.", "Fix the configuration; `mergebench gate` reports the line.", Severity::Error, false),
];

/// The description of a rule id, including `custom.*` and `command.*` ones
/// when their configuration is given.
pub fn describe(id: &str) -> RuleInfo {
    if let Some(&(id, name, desc, help, sev, security)) =
        BUILTIN.iter().find(|(rid, ..)| *rid == id)
    {
        return RuleInfo {
            id: id.to_string(),
            name: name.to_string(),
            description: desc.to_string(),
            help: help.to_string(),
            default_severity: sev,
            security,
        };
    }
    RuleInfo {
        id: id.to_string(),
        name: pascal(id),
        description: format!("Rule {id}."),
        help: "See the suite's conventions configuration.".to_string(),
        default_severity: Severity::Warn,
        security: false,
    }
}

pub fn default_severity(id: &str) -> Severity {
    describe(id).default_severity
}

/// `custom.no-unwrap` → `CustomNoUnwrap`.
pub fn pascal(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut cs = s.chars();
            match cs.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_names_pascal() {
        let mut ids: Vec<_> = BUILTIN.iter().map(|r| r.0).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), BUILTIN.len());
        assert_eq!(pascal("custom.no-unwrap"), "CustomNoUnwrap");
        assert_eq!(describe(AWS_KEY).default_severity, Severity::Error);
    }
}
