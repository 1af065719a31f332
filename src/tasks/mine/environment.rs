//! The environment of a mined suite when the user gave none: proposed from what the
//! repository uses (language, test runner), and written as `suite.toml` and `env/Dockerfile`.
//!
//! Pure: the caller lists the repository's top-level files and writes the texts.

use crate::testparse::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Python,
    Rust,
    Go,
    Node,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
            Language::Go => "go",
            Language::Node => "node",
        }
    }
}

/// The language and the top-level file that gave it away, checked in this order: a
/// repository with a Python package and a package.json for its docs site is a Python one.
pub fn detect(top_level: &[String]) -> Option<(Language, &'static str)> {
    const MARKERS: &[(&str, Language)] = &[
        ("pyproject.toml", Language::Python),
        ("setup.py", Language::Python),
        ("setup.cfg", Language::Python),
        ("pytest.ini", Language::Python),
        ("tox.ini", Language::Python),
        ("requirements.txt", Language::Python),
        ("Cargo.toml", Language::Rust),
        ("go.mod", Language::Go),
        ("package.json", Language::Node),
    ];
    MARKERS
        .iter()
        .find(|(file, _)| top_level.iter().any(|f| f == file))
        .map(|(file, lang)| (*lang, *file))
}

/// What a suite needs to run a language's tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub language: Language,
    pub command: String,
    pub format: Format,
    /// Test files: split off into the hidden tests, read-only for agents.
    pub test_globs: Vec<String>,
    pub dockerfile: String,
}

pub fn propose(language: Language) -> Proposal {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let (command, format, test_globs, packages, check) = match language {
        Language::Python => (
            "python3 -m pytest -rA -p no:cacheprovider",
            Format::Pytest,
            s(&[
                "tests/**",
                "test/**",
                "**/tests/**",
                "**/test_*.py",
                "**/*_test.py",
                "conftest.py",
                "**/conftest.py",
            ]),
            "python3 python3-pytest",
            "python3 -m pytest --version",
        ),
        Language::Rust => (
            "cargo test --no-fail-fast",
            Format::Cargo,
            s(&["tests/**", "**/tests/**"]),
            "cargo rustc",
            "cargo --version",
        ),
        Language::Go => (
            "go test -json ./...",
            Format::GoJson,
            s(&["**/*_test.go", "**/testdata/**"]),
            "golang-go",
            "go version",
        ),
        Language::Node => (
            "node --test --test-reporter=tap",
            Format::Tap,
            s(&[
                "test/**",
                "tests/**",
                "**/__tests__/**",
                "**/*.test.*",
                "**/*.spec.*",
            ]),
            "nodejs",
            "node --version",
        ),
    };
    Proposal {
        language,
        command: command.into(),
        format,
        test_globs,
        dockerfile: dockerfile(language, packages, check),
    }
}

/// A Dockerfile that adds the language's toolchain (and git, which agents use) to the base
/// only when the base lacks it, so that the offline base builds it without a network.
fn dockerfile(language: Language, packages: &str, check: &str) -> String {
    let probe = check.split_whitespace().next().unwrap_or("true");
    let toolchain_missing = match language {
        Language::Python => "! python3 -m pytest --version >/dev/null 2>&1".to_string(),
        _ => format!("! command -v {probe} >/dev/null 2>&1"),
    };
    format!(
        "# Proposed by `mergebench tasks mine` for a {lang} repository: the toolchain, its test\n\
# runner and git. Add what the project needs to build and run its tests (the build context\n\
# is this folder, not the repository); tests run with no network.\n\
ARG BASE=mergebench-base:bookworm\n\
FROM ${{BASE}}\n\
USER root\n\
RUN set -eu; \\\n\
    packages=\"\"; \\\n\
    command -v git >/dev/null 2>&1 || packages=\"$packages git\"; \\\n\
    if {toolchain_missing}; then packages=\"$packages {packages}\"; fi; \\\n\
    if [ -n \"$packages\" ]; then \\\n\
        apt-get update; \\\n\
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages ca-certificates; \\\n\
        rm -rf /var/lib/apt/lists/*; \\\n\
    fi; \\\n\
    git config --system --get-all safe.directory 2>/dev/null | grep -qx '\\*' \\\n\
        || git config --system --add safe.directory '*'; \\\n\
    getent passwd 1000 >/dev/null || useradd --uid 1000 --user-group --create-home --shell /bin/sh agent; \\\n\
    {check}; git --version\n",
        lang = language.as_str(),
    )
}

/// Where the environment comes from in a new suite.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSpec {
    /// Relative to suite.toml.
    Dockerfile(String),
    Image(String),
}

/// What a new suite.toml says.
#[derive(Debug, Clone)]
pub struct NewSuite {
    pub name: String,
    pub origin: String,
    pub source: String,
    pub env: EnvSpec,
    pub base: Option<String>,
    pub command: String,
    pub format: String,
    pub timeout: String,
    pub test_globs: Vec<String>,
    pub deny: Vec<String>,
}

/// The text of a new suite.toml.
pub fn suite_toml(s: &NewSuite) -> String {
    let q = |v: &str| toml::Value::String(v.to_string()).to_string();
    let list = |v: &[String]| {
        format!(
            "[{}]",
            v.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ")
        )
    };
    let env = match &s.env {
        EnvSpec::Dockerfile(p) => format!("dockerfile = {}", q(p)),
        EnvSpec::Image(i) => format!("image = {}", q(i)),
    };
    let base = s
        .base
        .as_ref()
        .map(|b| format!("base = {}\n", q(b)))
        .unwrap_or_default();
    format!(
        "# Tasks mined by `mergebench tasks mine` from {origin}.\n\
# Every task inherits what follows; `tasks mine` reads it again on the next run.\n\
name = {name}\n\
\n\
[repo]\n\
source = {source}\n\
\n\
[environment]\n\
{env}\n\
{base}\
\n\
[tests]\n\
command = {command}\n\
format = {format}\n\
timeout = {timeout}\n\
\n\
[scope]\n\
# Test files: mining puts their changes in the hidden tests; agents may not change them.\n\
read_only = {ro}\n\
# Never copied into a container.\n\
deny = {deny}\n",
        origin = s.origin.replace('\n', " "),
        name = q(&s.name),
        source = q(&s.source),
        command = q(&s.command),
        format = q(&s.format),
        timeout = q(&s.timeout),
        ro = list(&s.test_globs),
        deny = list(&s.deny),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_first_marker_found() {
        let files = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // (top-level files, language)
        let cases: &[(&[&str], Option<Language>)] = &[
            (&["pyproject.toml", "shop", "tests"], Some(Language::Python)),
            (&["package.json", "setup.py"], Some(Language::Python)),
            (&["Cargo.toml", "src"], Some(Language::Rust)),
            (&["go.mod", "main.go"], Some(Language::Go)),
            (&["package.json", "index.js"], Some(Language::Node)),
            (&["README.md"], None),
        ];
        for (top, lang) in cases {
            assert_eq!(detect(&files(top)).map(|d| d.0), *lang, "{top:?}");
        }
    }

    #[test]
    fn proposals_name_the_runner_and_its_format() {
        // (language, command, format)
        let cases = [
            (
                Language::Python,
                "python3 -m pytest -rA -p no:cacheprovider",
                "pytest",
            ),
            (Language::Rust, "cargo test --no-fail-fast", "cargo"),
            (Language::Go, "go test -json ./...", "go-json"),
            (Language::Node, "node --test --test-reporter=tap", "tap"),
        ];
        for (lang, command, format) in cases {
            let p = propose(lang);
            assert_eq!(p.command, command);
            assert_eq!(p.format.to_string(), format);
            assert!(p.dockerfile.contains("ARG BASE"), "{}", p.dockerfile);
            assert!(!p.test_globs.is_empty());
        }
    }

    #[test]
    fn a_new_suite_toml_is_valid_toml_with_every_setting() {
        let text = suite_toml(&NewSuite {
            name: "shop".into(),
            origin: "/src/shop".into(),
            source: "repo.bundle".into(),
            env: EnvSpec::Dockerfile("env/Dockerfile".into()),
            base: None,
            command: "python3 -m pytest -rA".into(),
            format: "pytest".into(),
            timeout: "10m".into(),
            test_globs: vec!["tests/**".into(), "conftest.py".into()],
            deny: vec![".env".into()],
        });
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["repo"]["source"].as_str(), Some("repo.bundle"));
        assert_eq!(
            v["environment"]["dockerfile"].as_str(),
            Some("env/Dockerfile")
        );
        assert_eq!(v["tests"]["format"].as_str(), Some("pytest"));
        assert_eq!(v["scope"]["read_only"].as_array().unwrap().len(), 2);
    }
}
