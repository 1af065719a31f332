//! The scorer end to end: one hand-made diff per rule with the findings it
//! must produce, hostile inputs, and SARIF checked against the 2.1.0 schema.

use std::collections::BTreeSet;

use super::catalog as id;
use super::config::{Config, ConventionsConfig, CustomRule, LicenseRule, Owners, OwnershipConfig};
use super::gate;
use super::ownership::Ownership;
use super::render::{self, OutputFormat};
use super::report::{ConventionReport, Finding};
use super::{score, Severity};

fn table_config() -> ConventionsConfig {
    let mut c = ConventionsConfig::default();
    c.max_files.limit = Some(3);
    c.max_lines.limit = Some(50);
    c.license_header = LicenseRule {
        text: Some("SPDX-License-Identifier: Apache-2.0".into()),
        globs: Some(vec!["src/**/*.rs".into()]),
        ..LicenseRule::default()
    };
    c.custom.push(CustomRule {
        id: "no-unwrap".into(),
        pattern: r"\.unwrap\(\)".into(),
        message: "handle the error instead of calling unwrap()".into(),
        severity: Some(Severity::Error),
        paths: vec!["src/".into()],
        exclude: vec![],
    });
    c
}

fn ownership() -> Ownership {
    let mut o = OwnershipConfig::default();
    o.entries
        .insert("src/stock/".into(), Owners::One("inventory".into()));
    o.entries
        .insert("src/billing/".into(), Owners::One("billing".into()));
    Ownership::from_config(&o, None).unwrap()
}

fn run(
    diff: &[u8],
    expected_area: &[&str],
    base: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> ConventionReport {
    let area: Vec<String> = expected_area.iter().map(|s| s.to_string()).collect();
    score(diff, &table_config(), &ownership(), &area, base)
}

/// The report's finding of `rule`; the test fails when there is none.
#[track_caller]
fn finding<'a>(r: &'a ConventionReport, rule: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.rule_id == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {:?}", r.findings))
}

fn ids(r: &ConventionReport) -> BTreeSet<String> {
    r.findings.iter().map(|f| f.rule_id.clone()).collect()
}

fn check(diff: &str, expected: &[&str]) {
    check_with(diff.as_bytes(), &[], &|_| None, expected);
}

fn check_with(
    diff: &[u8],
    area: &[&str],
    base: &dyn Fn(&str) -> Option<Vec<u8>>,
    expected: &[&str],
) {
    let r = run(diff, area, base);
    let want: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        ids(&r),
        want,
        "\n--- diff ---\n{}\n--- findings ---\n{:#?}",
        String::from_utf8_lossy(diff),
        r.findings
    );
}

/// A modified file with one hunk: `context` lines around `added`.
fn modify(path: &str, context: &[&str], added: &[&str]) -> String {
    let mut s = format!(
        "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,{} +1,{} @@\n",
        context.len(),
        context.len() + added.len()
    );
    for c in context {
        s.push_str(&format!(" {c}\n"));
    }
    for a in added {
        s.push_str(&format!("+{a}\n"));
    }
    s
}

fn new_file(path: &str, lines: &[&str]) -> String {
    let mut s = format!(
        "diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{} @@\n",
        lines.len()
    );
    for l in lines {
        s.push_str(&format!("+{l}\n"));
    }
    s
}

#[test]
fn one_row_per_rule() {
    let big: Vec<String> = (0..60).map(|i| format!("line {i}")).collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    let rows: Vec<(String, Vec<&str>)> = vec![
        // Clean change: nothing.
        (modify("src/stock/reserve.py", &["def f():"], &["    return 1"]), vec![]),
        // Size.
        (
            ["a.txt", "b.txt", "c.txt", "d.txt"]
                .iter()
                .map(|p| modify(p, &["x"], &["y"]))
                .collect(),
            vec![id::MAX_FILES],
        ),
        (modify("notes.txt", &["x"], &big), vec![id::MAX_LINES]),
        // Paths.
        (modify("tests/test_stock.py", &["def test():"], &["    assert 1"]), vec![id::TEST_FILES]),
        (modify(".github/workflows/ci.yml", &["on: push"], &["jobs: {}"]), vec![id::CI_CONFIG]),
        (modify(".gitlab-ci.yml", &["stages:"], &["  - test"]), vec![id::CI_CONFIG]),
        (modify(".ci/run.sh", &["set -e"], &["make"]), vec![id::CI_CONFIG]),
        (modify("deploy/app.yaml", &["replicas: 1"], &["image: x"]), vec![id::INFRA]),
        (modify("infra/main.tf", &["resource {}"], &["# more"]), vec![id::INFRA]),
        (
            modify("Cargo.toml", &["[dependencies]"], &["regex = \"1\""]),
            vec![id::DEPENDENCIES],
        ),
        (new_file("assets/logo.png.b64", &["aGVsbG8="]), vec![]),
        (
            "diff --git a/assets/logo.png b/assets/logo.png\nnew file mode 100644\nindex 0000000..1234567\nBinary files /dev/null and b/assets/logo.png differ\n".to_string(),
            vec![id::BINARY_FILE],
        ),
        (
            "diff --git a/../../etc/passwd b/../../etc/passwd\n--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-root\n+toor\n".to_string(),
            vec![id::UNSAFE_PATH],
        ),
        (
            "diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc/shadow\n\\ No newline at end of file\n".to_string(),
            vec![id::UNSAFE_PATH],
        ),
        (modify("docs/./guide.txt", &["a"], &["b"]), vec![id::PATH_NORMALISED]),
        // Secrets.
        (
            modify("src/stock/settings.py", &["DEBUG = False"], &["AWS_KEY = \"AKIAIOSFODNN7EXAMPLE\""]),
            vec![id::AWS_KEY],
        ),
        (
            modify("src/stock/ci.py", &["x = 1"], &["TOKEN = 'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789'"]),
            vec![id::GITHUB_TOKEN],
        ),
        (
            modify("src/stock/chat.py", &["x = 1"], &["HOOK = \"xoxb-123456789012-abcdefghijkl\""]),
            vec![id::SLACK_TOKEN],
        ),
        (
            new_file("keys/server.txt", &["-----BEGIN RSA PRIVATE KEY-----", "MIIEow==", "-----END RSA PRIVATE KEY-----"]),
            vec![id::PRIVATE_KEY],
        ),
        (
            modify("src/stock/db.py", &["x = 1"], &["db_password = \"S3cr3t!Pa55w0rd\""]),
            vec![id::ASSIGNMENT],
        ),
        (
            modify("src/stock/blob.py", &["x = 1"], &["BLOB = \"Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZkdISUpLTA9x\""]),
            vec![id::HIGH_ENTROPY],
        ),
        (new_file("config/.env", &["DEBUG=1"]), vec![id::SENSITIVE_FILE]),
        (new_file(".env.example", &["DEBUG=1"]), vec![]),
        // Leftovers.
        (modify("src/stock/a.py", &["def f():"], &["    print(x)"]), vec![id::DEBUG_LEFTOVER]),
        (modify("src/stock/a.py", &["def f():"], &["    breakpoint()"]), vec![id::DEBUG_LEFTOVER]),
        (modify("src/stock/a.py", &["import os"], &["import pdb"]), vec![id::DEBUG_LEFTOVER]),
        (modify("web/app.ts", &["function f() {"], &["  console.log(x);"]), vec![id::DEBUG_LEFTOVER]),
        (modify("src/stock/lib.rs", &["fn f() {"], &["    dbg!(x);"]), vec![id::DEBUG_LEFTOVER]),
        (modify("README.md", &["# Title"], &["Call print(x) to see it."]), vec![]),
        (modify("src/stock/a.py", &["def f():"], &["    # TODO: handle errors"]), vec![id::TODO]),
        (modify("src/stock/a.py", &["def f():"], &["    return todos"]), vec![]),
        // Whitespace.
        (
            "diff --git a/src/stock/a.py b/src/stock/a.py\n--- a/src/stock/a.py\n+++ b/src/stock/a.py\n@@ -1 +1,2 @@\n x = 1\n+y = 2\n\\ No newline at end of file\n".to_string(),
            vec![id::TRAILING_NEWLINE],
        ),
        (
            "diff --git a/src/stock/a.py b/src/stock/a.py\n--- a/src/stock/a.py\n+++ b/src/stock/a.py\n@@ -1 +1 @@\n-x = 1\n\\ No newline at end of file\n+x = 2\n\\ No newline at end of file\n".to_string(),
            vec![],
        ),
        (
            modify("src/stock/a.py", &["a = 1", "b = 2", "c = 3"], &["d = 4\r"]),
            vec![id::LINE_ENDINGS],
        ),
        (
            modify("src/stock/a.py", &["def f():", "    a = 1", "    b = 2", "    c = 3"], &["\td = 4"]),
            vec![id::INDENTATION],
        ),
        (
            modify("Makefile", &["all:", "\tcc a.c", "\tcc b.c", "\tcc c.c"], &["  echo"]),
            vec![],
        ),
        // License header for new Rust sources only.
        (new_file("src/stock/new.rs", &["pub fn f() {}"]), vec![id::LICENSE_HEADER]),
        (
            new_file("src/stock/ok.rs", &["// SPDX-License-Identifier: Apache-2.0", "pub fn f() {}"]),
            vec![],
        ),
        // The suite's own rule.
        (modify("src/stock/lib.rs", &["fn f() {"], &["    let v = x.unwrap();"]), vec!["custom.no-unwrap"]),
        (modify("tools/lib.rs", &["fn f() {"], &["    let v = x.unwrap();"]), vec![]),
    ];
    for (diff, expected) in rows {
        check(&diff, &expected);
    }
}

#[test]
fn expected_area_rule() {
    let area = ["src/stock/reserve.py"];
    let none = |_: &str| None;
    // Same directory: inside.
    check_with(
        modify("src/stock/models.py", &["x"], &["y"]).as_bytes(),
        &area,
        &none,
        &[],
    );
    // Another service: outside.
    check_with(
        modify("src/billing/pay.py", &["x"], &["y"]).as_bytes(),
        &area,
        &none,
        &[id::OUTSIDE_AREA],
    );
    // Tests are left to the test-file rule.
    check_with(
        modify("tests/test_pay.py", &["x"], &["y"]).as_bytes(),
        &area,
        &none,
        &[id::TEST_FILES],
    );
}

#[test]
fn dependency_rule_at_the_last_line_number_does_not_overflow() {
    // Bug pinned (found by tests/fuzz.rs): a removed Cargo.toml line numbered u32::MAX made
    // the rule compute the end of the hunk's old side as u32::MAX + 1 and panic.
    let diff = "diff --git a/Cargo.toml b/Cargo.toml\n--- a/Cargo.toml\n+++ b/Cargo.toml\n\
                @@ -4294967295,1 +4294967295,1 @@\n-serde = \"1\"\n+serde = \"2\"\n";
    let r = run(diff.as_bytes(), &[], &|_| None);
    assert!(
        r.findings.iter().all(|f| !f.message.is_empty()),
        "{:?}",
        r.findings
    );
}

#[test]
fn dependency_rule_names_what_was_added() {
    let base = |p: &str| -> Option<Vec<u8>> {
        (p == "Cargo.toml").then(|| {
            b"[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\ntoml = \"0.7\"\n".to_vec()
        })
    };
    // The hunk starts inside [dependencies]: the base file tells us so.
    let diff = "diff --git a/Cargo.toml b/Cargo.toml\n--- a/Cargo.toml\n+++ b/Cargo.toml\n@@ -6,2 +6,3 @@\n serde = \"1\"\n-toml = \"0.7\"\n+toml = \"0.8\"\n+regex = \"1\"\n";
    let r = run(diff.as_bytes(), &[], &base);
    let f = finding(&r, id::DEPENDENCIES);
    assert!(f.message.contains("adds regex"), "{}", f.message);
    assert!(f.message.contains("updates toml"), "{}", f.message);

    // A version bump in [package] is not a dependency.
    let diff = "diff --git a/Cargo.toml b/Cargo.toml\n--- a/Cargo.toml\n+++ b/Cargo.toml\n@@ -2,2 +2,2 @@\n name = \"x\"\n-version = \"0.1.0\"\n+version = \"0.2.0\"\n";
    let r = run(diff.as_bytes(), &[], &base);
    let f = finding(&r, id::DEPENDENCIES);
    assert!(!f.message.contains("version"), "{}", f.message);

    let rows: &[(&str, &[&str], &str)] = &[
        (
            "package.json",
            &["  \"dependencies\": {", "    \"react\": \"^18.0.0\","],
            "adds react",
        ),
        (
            "requirements.txt",
            &[
                "flask==3.0",
                "# comment",
                "-r base.txt",
                "requests[socks]>=2",
            ],
            "adds flask, requests",
        ),
        (
            "go.mod",
            &["require github.com/pkg/errors v0.9.1"],
            "adds github.com/pkg/errors",
        ),
        ("Gemfile", &["gem 'rails', '~> 7.0'"], "adds rails"),
        (
            "Cargo.lock",
            &["[[package]]", "name = \"itoa\"", "version = \"1.0.0\""],
            "lockfile `Cargo.lock`: adds itoa",
        ),
        (
            "pyproject.toml",
            &["[project]", "dependencies = [", "  \"httpx>=0.27\",", "]"],
            "adds httpx",
        ),
    ];
    for (path, lines, want) in rows {
        let r = run(new_file(path, lines).as_bytes(), &[], &|_| None);
        let f = r
            .findings
            .iter()
            .find(|f| f.rule_id == id::DEPENDENCIES)
            .unwrap_or_else(|| panic!("{path}: {:?}", r.findings));
        assert!(f.message.contains(want), "{path}: {}", f.message);
    }
}

#[test]
fn indentation_and_line_endings_use_the_base_file_when_context_is_thin() {
    let base = |_: &str| Some(b"def f():\r\n    a = 1\r\n    b = 2\r\n    c = 3\r\n".to_vec());
    // No context at all in the hunk; the base says CRLF and spaces.
    let diff = b"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -4,0 +5 @@\n+\td = 4\n";
    check_with(diff, &[], &base, &[id::LINE_ENDINGS, id::INDENTATION]);
}

#[test]
fn license_header_removed() {
    let diff = "diff --git a/src/stock/a.rs b/src/stock/a.rs\n--- a/src/stock/a.rs\n+++ b/src/stock/a.rs\n@@ -1,2 +1 @@\n-// SPDX-License-Identifier: Apache-2.0\n pub fn f() {}\n";
    check(diff, &[id::LICENSE_HEADER]);
}

/// A hunk of a modified file at `start` (old and new), with its context
/// and the lines it removes and adds, in that order.
fn hunk(path: &str, start: u32, context: &[&str], removed: &[&str], added: &[&str]) -> String {
    let mut s = format!(
        "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -{start},{} +{start},{} @@\n",
        context.len() + removed.len(),
        context.len() + added.len()
    );
    for c in context {
        s.push_str(&format!(" {c}\n"));
    }
    for r in removed {
        s.push_str(&format!("-{r}\n"));
    }
    for a in added {
        s.push_str(&format!("+{a}\n"));
    }
    s
}

#[test]
fn harness_rule_rows() {
    let h = id::HARNESS_EDITED;
    let rows: Vec<(String, Vec<&str>)> = vec![
        // Whole files: any change.
        (modify("tests/conftest.py", &["import pytest"], &["pytest_plugins = ['x']"]), vec![id::TEST_FILES, h]),
        (new_file("pytest.ini", &["[pytest]", "addopts = -p pkg._helpers"]), vec![h]),
        (new_file("src/pkg/evil.pth", &["import pkg._helpers"]), vec![h]),
        (modify("crates/a/.cargo/config.toml", &["[build]"], &["[target.'cfg(all())']", "runner = 'fake'"]), vec![h]),
        (modify("web/jest.config.js", &["module.exports = {"], &["  reporters: ['./r.js'],"]), vec![h]),
        (
            "diff --git a/scripts/h.py b/tests/conftest.py\nsimilarity index 100%\nrename from scripts/h.py\nrename to tests/conftest.py\n".to_string(),
            vec![id::TEST_FILES, h],
        ),
        (modify("src/jest.setup.js", &["import x;"], &["import y;"]), vec![]),
        // INI sections.
        (modify("setup.cfg", &["[tool:pytest]"], &["addopts = -p pkg._helpers"]), vec![id::DEPENDENCIES, h]),
        (modify("setup.cfg", &["[flake8]"], &["max-line-length = 100"]), vec![id::DEPENDENCIES]),
        (modify("tox.ini", &["[tox]", "envlist = py"], &["", "[pytest]", "addopts = -p x"]), vec![h]),
        (modify("tox.ini", &["[pytest]", "addopts = -q"], &["", "[flake8]", "x = 1"]), vec![]),
        (modify("tox.ini", &["[tox]"], &["x = 1\x0c[pytest]\x0caddopts = -p evil"]), vec![h]),
        (hunk("tox.ini", 1, &["[pytest]"], &["addopts = -q"], &["addopts = -q   "]), vec![]),
        (hunk("tox.ini", 1, &["[pytest]", "addopts ="], &["  -q"], &["-q"]), vec![h]),
        // TOML tables, however the key is spelled.
        (
            modify("pyproject.toml", &["[project]", "name = \"x\""], &["[tool.pytest.ini_options]", "addopts = \"-p x\""]),
            vec![id::DEPENDENCIES, h],
        ),
        (modify("pyproject.toml", &["# settings"], &["tool.pytest.ini_options.addopts = \"-p x\""]), vec![id::DEPENDENCIES, h]),
        (modify("pyproject.toml", &["[tool]"], &["pytest = { ini_options = { addopts = \"-p x\" } }"]), vec![id::DEPENDENCIES, h]),
        (modify("pyproject.toml", &["[project]"], &["tool.pytest.ini_options.addopts = \"-p x\""]), vec![id::DEPENDENCIES]),
        (modify("pyproject.toml", &["[project.entry-points.pytest11]"], &["h = \"pkg._helpers\""]), vec![id::DEPENDENCIES, h]),
        (modify("pyproject.toml", &["[tool.ruff]"], &["line-length = 100"]), vec![id::DEPENDENCIES]),
        (new_file("sub/pyproject.toml", &["[tool.pytest.ini_options]", "addopts = \"-p x\""]), vec![id::DEPENDENCIES, h]),
        (modify("Cargo.toml", &["[lib]", "path = \"src/lib.rs\""], &["harness = false"]), vec![id::DEPENDENCIES, h]),
        (modify("Cargo.toml", &["[package]", "name = \"x\""], &["version = \"2\""]), vec![id::DEPENDENCIES]),
        (modify("Cargo.toml", &["[package]", "name = \"x\""], &["", "[[test]]", "name = \"fake\"", "harness = false"]), vec![id::DEPENDENCIES, h]),
        (modify("Cargo.toml", &["[package]"], &["", "[[bench]]", "name = \"b\"", "harness = false"]), vec![id::DEPENDENCIES]),
        // JSON keys.
        (
            modify("package.json", &["{", "  \"name\": \"x\",", "  \"scripts\": {"], &["    \"test\": \"echo ok\","]),
            vec![id::DEPENDENCIES, h],
        ),
        (
            modify("package.json", &["{", "  \"scripts\": {"], &["    \"\\u0070retest\": \"node patch.js\","]),
            vec![id::DEPENDENCIES, h],
        ),
        (
            modify("package.json", &["{"], &["  \"jest\": {", "    \"reporters\": [\"./r.js\"]", "  },"]),
            vec![id::DEPENDENCIES, h],
        ),
        // A sibling added after the test script changes the script's line, not the script.
        (
            hunk("package.json", 1, &["{", "  \"scripts\": {"], &["    \"test\": \"jest\""], &["    \"test\": \"jest\",", "    \"lint\": \"eslint .\""]),
            vec![id::DEPENDENCIES],
        ),
        (
            hunk("package.json", 1, &["{", "  \"devDependencies\": {"], &["    \"jest\": \"^28\""], &["    \"jest\": \"^29\""]),
            vec![id::DEPENDENCIES],
        ),
    ];
    for (diff, expected) in rows {
        check(&diff, &expected);
    }
}

#[test]
fn harness_rule_reads_the_base_where_the_diff_is_silent() {
    let h = id::HARNESS_EDITED;
    let setup_cfg = b"[metadata]\nname = x\n\n[tool:pytest]\naddopts = -q\ntestpaths = tests\nx = 1\ny = 2\nz = 3\n".to_vec();
    let base = move |p: &str| (p == "setup.cfg").then(|| setup_cfg.clone());
    // The section header is outside the hunk's context: the base says where the hunk is.
    let diff = hunk(
        "setup.cfg",
        7,
        &["x = 1", "y = 2", "z = 3"],
        &[],
        &["  -p evil"],
    );
    check_with(diff.as_bytes(), &[], &base, &[id::DEPENDENCIES, h]);
    // Without the base the hunk's place is unknown (the documented limit).
    check(&diff, &[id::DEPENDENCIES]);

    // A header renamed into a protected table drags the unchanged lines below it in.
    let pkg = b"{\n  \"name\": \"x\",\n  \"config\": {\n    \"test\": \"node evil.js\"\n  }\n}\n"
        .to_vec();
    let base = move |p: &str| (p == "package.json").then(|| pkg.clone());
    let diff = hunk(
        "package.json",
        1,
        &["{", "  \"name\": \"x\","],
        &["  \"config\": {"],
        &["  \"scripts\": {"],
    );
    let r = run(diff.as_bytes(), &[], &base);
    let f = finding(&r, h);
    assert!(f.message.contains("`scripts.test`"), "{}", f.message);
    assert_eq!(f.line, Some(4));
    let cfg = b"[tox]\nenvlist = py\n[other]\naddopts = -p evil\n".to_vec();
    let base = move |p: &str| (p == "tox.ini").then(|| cfg.clone());
    let diff = hunk(
        "tox.ini",
        1,
        &["[tox]", "envlist = py"],
        &["[other]"],
        &["[pytest]"],
    );
    check_with(diff.as_bytes(), &[], &base, &[h]);

    // Moves and copies carry the parts with them; without the base, assume they do.
    let carrying = b"[tool:pytest]\naddopts = -p evil\n".to_vec();
    let base = move |p: &str| (p == "docs/example.cfg").then(|| carrying.clone());
    let moved = "diff --git a/docs/example.cfg b/setup.cfg\nsimilarity index 100%\nrename from docs/example.cfg\nrename to setup.cfg\n";
    check_with(moved.as_bytes(), &[], &base, &[id::DEPENDENCIES, h]);
    check(moved, &[id::DEPENDENCIES, h]);
    let plain = |_: &str| Some(b"[metadata]\nname = x\n".to_vec());
    check_with(moved.as_bytes(), &[], &plain, &[id::DEPENDENCIES]);

    // A binary diff or a symbolic link cannot be read: reported.
    let binary = "diff --git a/setup.cfg b/setup.cfg\nindex 1234567..89abcde 100644\nBinary files a/setup.cfg and b/setup.cfg differ\n";
    check(binary, &[id::DEPENDENCIES, id::BINARY_FILE, h]);
    let link = "diff --git a/tox.ini b/tox.ini\nnew file mode 120000\n--- /dev/null\n+++ b/tox.ini\n@@ -0,0 +1 @@\n+other/tox.ini\n\\ No newline at end of file\n";
    check(link, &[h]);
}

#[test]
fn harness_rule_message_and_configuration() {
    let diff = modify(
        "setup.cfg",
        &["[tool:pytest]"],
        &["addopts = -p pkg._helpers"],
    );
    let r = run(diff.as_bytes(), &[], &|_| None);
    let f = finding(&r, id::HARNESS_EDITED);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.path.as_deref(), Some("setup.cfg"));
    assert_eq!(f.line, Some(2));
    assert!(f.message.contains("`[tool:pytest]`"), "{}", f.message);
    assert!(
        f.message
            .contains("changes how tests are collected or reported; graders restore it"),
        "{}",
        f.message
    );
    assert!(!r.passed());

    let whole = new_file("pytest.ini", &["[pytest]"]);
    let r = run(whole.as_bytes(), &[], &|_| None);
    let f = &r.findings[0];
    assert!(
        f.message.starts_with("adds test-harness file `pytest.ini`"),
        "{}",
        f.message
    );

    // Off, excluded, or in a repository without mergebench.toml: silent.
    let text = "[conventions]\nharness_files = { severity = \"off\" }\n";
    let off = Config::from_toml(text, "mergebench.toml").unwrap();
    let r = gate::run(whole.as_bytes(), &off, &[], &|_| None).unwrap();
    assert!(r.passed(), "{:?}", r.conventions.findings);
    let text = "[conventions]\nharness_files = { severity = \"warn\", exclude = [\"legacy/\"] }\n";
    let warn = Config::from_toml(text, "mergebench.toml").unwrap();
    let r = gate::run(whole.as_bytes(), &warn, &[], &|_| None).unwrap();
    assert_eq!(r.conventions.findings[0].severity, Severity::Warn);
    let legacy = modify("legacy/tox.ini", &["[pytest]"], &["addopts = -x"]);
    let r = gate::run(legacy.as_bytes(), &warn, &[], &|_| None).unwrap();
    assert!(
        r.conventions.findings.is_empty(),
        "{:?}",
        r.conventions.findings
    );
    let r = gate::run(whole.as_bytes(), &Config::minimal(), &[], &|_| None).unwrap();
    assert!(r.passed(), "{:?}", r.conventions.findings);
    let r = gate::run(whole.as_bytes(), &Config::default(), &[], &|_| None).unwrap();
    assert!(!r.passed());
}

#[test]
fn harness_rule_survives_hostile_table_files() {
    // Deep nesting, unterminated strings, non-UTF-8 bytes and huge lines in shared files.
    let deep = "[".repeat(100_000);
    let deep_json = "{\"a\":".repeat(100_000);
    let junk = String::from_utf8_lossy(b"\xff\xfe\"\\").into_owned();
    let long = "x".repeat(1 << 20);
    let odd = [
        "[[[[",
        "]]]]",
        "= = =",
        "\"\"\"",
        "'''",
        "}",
        "]",
        "\u{2028}[pytest]",
    ];
    for path in ["package.json", "pyproject.toml", "setup.cfg", "Cargo.toml"] {
        for lines in [
            vec![deep.as_str()],
            vec![deep_json.as_str()],
            vec!["{\"scripts\": {\"test", junk.as_str()],
            vec![long.as_str(), "[tool.pytest"],
            odd.to_vec(),
        ] {
            for base in [deep.clone(), deep_json.clone()] {
                let base = move |_: &str| Some(base.clone().into_bytes());
                let _ = run(new_file(path, &lines).as_bytes(), &[], &base);
                let _ = run(modify(path, &["{"], &lines).as_bytes(), &[], &base);
                let _ = run(hunk(path, 3, &["x"], &lines, &lines).as_bytes(), &[], &base);
            }
        }
    }
}

// ---- hostile input ----

#[test]
fn added_lines_at_the_last_line_number_do_not_overflow() {
    // Bug pinned (found by tests/fuzz.rs): two added lines from a hunk at u32::MAX made the
    // secrets rule's "next line" check overflow and panic.
    let diff = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n\
                @@ -4294967295,0 +4294967295,2 @@\n+KEY = (\"AKIAIOSF\" +\n+       \"ODNN7EXAMPLE\")\n";
    let r = run(diff.as_bytes(), &[], &|_| None);
    assert!(
        r.findings
            .iter()
            .all(|f| f.rule_id != id::AWS_KEY || f.line.is_some()),
        "{:?}",
        r.findings
    );
}

#[test]
fn secret_split_across_two_added_lines() {
    let diff = modify(
        "src/stock/cfg.py",
        &["x = 1"],
        &["KEY = (\"AKIAIOSF\" +", "       \"ODNN7EXAMPLE\")"],
    );
    let r = run(diff.as_bytes(), &[], &|_| None);
    let f = finding(&r, id::AWS_KEY);
    assert_eq!(f.line, Some(2));
    assert!(
        f.message.contains("split across lines 2-3"),
        "{}",
        f.message
    );
    // The finding never repeats the secret.
    assert!(!f.message.contains("IOSFODNN7EXAMPLE"), "{}", f.message);
    assert!(!f.message.contains("ODNN7EXAMPLE"), "{}", f.message);

    let diff = modify(
        "src/stock/cfg.js",
        &["x = 1"],
        &["const k = \"AKIA\" + \"IOSFODNN7EXAMPLE\";"],
    );
    let r = run(diff.as_bytes(), &[], &|_| None);
    assert!(ids(&r).contains(id::AWS_KEY), "{:?}", r.findings);
}

#[test]
fn rename_into_deploy_is_an_infra_edit() {
    let plain = "diff --git a/scripts/run.sh b/deploy/run.sh\nsimilarity index 100%\nrename from scripts/run.sh\nrename to deploy/run.sh\n";
    check(plain, &[id::INFRA]);
    // The same move hidden behind `..`.
    let sneaky = "diff --git a/scripts/run.sh b/scripts/../deploy/run.sh\nsimilarity index 100%\nrename from scripts/run.sh\nrename to scripts/../deploy/run.sh\n";
    check(sneaky, &[id::INFRA, id::PATH_NORMALISED]);
}

#[test]
fn binary_patch_and_non_utf8_bytes() {
    let mut diff = b"diff --git a/img.bin b/img.bin\nnew file mode 100644\nindex 0000000..3f2a9c1\nGIT binary patch\nliteral 16\nXcmZ?wbaKyQU|?ix-Mt!AKIAIOSFODNN7EXAMPLE\n\nliteral 0\nHcmV?d00001\n\n".to_vec();
    // Latin-1 content, a key on a non-UTF-8 line, and a non-UTF-8 path.
    diff.extend_from_slice(b"diff --git a/src/stock/caf\xe9.py b/src/stock/caf\xe9.py\n--- a/src/stock/caf\xe9.py\n+++ b/src/stock/caf\xe9.py\n@@ -1 +1,2 @@\n x = '\xe9'\n+k = 'AKIAIOSFODNN7EXAMPLE' # \xff\xfe\n");
    let r = run(&diff, &[], &|_| None);
    let got = ids(&r);
    assert!(got.contains(id::BINARY_FILE), "{got:?}");
    assert!(got.contains(id::AWS_KEY), "{got:?}");
    assert!(
        got.contains(id::PATH_NORMALISED),
        "non-UTF-8 path noted: {got:?}"
    );
    // The binary payload is not scanned as text.
    let aws: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.rule_id == id::AWS_KEY)
        .collect();
    assert_eq!(aws.len(), 1);
    assert!(aws[0].path.as_deref().unwrap().starts_with("src/stock/caf"));
    // Everything still renders and serialises.
    let report = gate::Report::new(r, blast_for(&diff), None);
    for f in [
        OutputFormat::Text,
        OutputFormat::Json,
        OutputFormat::Sarif,
        OutputFormat::Markdown,
    ] {
        assert!(!render::render(&report, f, "0").is_empty());
    }
}

fn blast_for(diff: &[u8]) -> super::BlastRadius {
    let parsed = super::diff::parse(diff);
    super::blast_radius(
        &parsed,
        &ownership(),
        &super::BlastConfig::default(),
        &|_| None,
    )
}

#[test]
fn dot_dot_paths_are_reported() {
    let diff = modify("src/../../outside.txt", &["a"], &["b"]);
    let r = run(diff.as_bytes(), &[], &|_| None);
    let f = finding(&r, id::UNSAFE_PATH);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("outside the repository"),
        "{}",
        f.message
    );
}

/// A 50 MB patch: every rule has more to say than the cap, and the report
/// stays small. Memory: the parser keeps byte ranges, not lines, and each
/// rule keeps at most `max_findings_per_rule` findings.
#[test]
fn fifty_megabyte_diff_is_scored_with_bounded_findings() {
    let mut diff = Vec::with_capacity(52 << 20);
    let mut files = 0u64;
    while diff.len() < 50 << 20 {
        let path = format!("src/stock/gen_{files}.py");
        diff.extend_from_slice(
            format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,1 +1,2001 @@\n def f():\n").as_bytes(),
        );
        for i in 0..2000 {
            let line: &[u8] = match i % 100 {
                0 => b"+    print(value)  # TODO remove\n",
                1 => b"+    key = \"AKIAIOSFODNN7EXAMPLE\"\n",
                _ => b"+    value = compute(value, 12345, 'some ordinary text here')\n",
            };
            diff.extend_from_slice(line);
        }
        files += 1;
    }
    let started = std::time::Instant::now();
    let r = run(&diff, &[], &|_| None);
    let elapsed = started.elapsed();
    eprintln!(
        "50 MB diff: {} MB, {files} files, scored in {elapsed:?}",
        diff.len() >> 20
    );
    let cap = table_config().max_findings_per_rule as usize;
    for rule in [id::AWS_KEY, id::DEBUG_LEFTOVER, id::TODO] {
        let kept = r.findings.iter().filter(|f| f.rule_id == rule).count();
        assert_eq!(kept, cap, "{rule}");
        assert!(r.suppressed[rule] > 1000, "{rule}: {:?}", r.suppressed);
    }
    assert!(r.findings.len() <= 20 * cap);
    assert_eq!(r.stats.files, files);
    assert_eq!(r.stats.lines_added, files * 2000);
    // The secret never reaches the report, even at this volume.
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("AKIAIOSFODNN7EXAMPLE"));
}

// ---- SARIF against the 2.1.0 schema ----

const SCHEMA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/sarif-2.1.0-schema.json"
));

fn validate(sarif: &serde_json::Value) -> Result<(), Vec<String>> {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

const AWS_AND_CI: &str = "diff --git a/src/settings.py b/src/settings.py\n--- a/src/settings.py\n+++ b/src/settings.py\n@@ -1,2 +1,3 @@\n DEBUG = False\n+AWS_ACCESS_KEY_ID = \"AKIAIOSFODNN7EXAMPLE\"\n REGION = \"eu-west-1\"\ndiff --git a/.github/workflows/ci.yml b/.github/workflows/ci.yml\n--- a/.github/workflows/ci.yml\n+++ b/.github/workflows/ci.yml\n@@ -1,3 +1,3 @@\n on: [push]\n-jobs: {}\n+jobs: { x: {} }\n";

/// The gate's acceptance case: an AWS key and a CI edit fail the gate with
/// valid SARIF that names both; a README-only change passes.
#[test]
fn gate_sarif_for_aws_key_and_ci_edit_is_valid_and_names_both() {
    let cfg = Config::minimal();
    let r = gate::run(AWS_AND_CI.as_bytes(), &cfg, &[], &|_| None).unwrap();
    assert!(!r.passed());
    let text = render::render(&r, OutputFormat::Sarif, "0.1.0");
    let sarif: serde_json::Value = serde_json::from_str(&text).unwrap();
    validate(&sarif).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let named = |rule: &str, uri: &str| {
        results.iter().any(|res| {
            res["ruleId"] == rule
                && res["level"] == "error"
                && res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == uri
        })
    };
    assert!(named(id::AWS_KEY, "src/settings.py"), "{text}");
    assert!(named(id::CI_CONFIG, ".github/workflows/ci.yml"), "{text}");
    let aws = results.iter().find(|r| r["ruleId"] == id::AWS_KEY).unwrap();
    assert_eq!(
        aws["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
    assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"));

    let readme = "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # Project\n+More words.\n";
    let r = gate::run(readme.as_bytes(), &cfg, &[], &|_| None).unwrap();
    assert!(r.passed());
    validate(&r.to_sarif("0.1.0")).unwrap();
}

#[test]
fn sarif_is_valid_for_every_rule_and_hostile_paths() {
    let mut all = String::new();
    all.push_str(&modify(
        "src/stock/a.py",
        &["def f():"],
        &[
            "    print(x)  # TODO",
            "\tdb_password = \"S3cr3t!Pa55w0rd\"",
        ],
    ));
    all.push_str(&modify("a dir/we#ird?%name.py", &["x"], &["y"]));
    all.push_str(&modify("docs/./x.md", &["x"], &["y"]));
    all.push_str(&new_file("src/stock/new.rs", &["fn f() { x.unwrap(); }"]));
    all.push_str("diff --git \"a/caf\\303\\251 \\\"q\\\".txt\" \"b/caf\\303\\251 \\\"q\\\".txt\"\n--- \"a/caf\\303\\251 \\\"q\\\".txt\"\n+++ \"b/caf\\303\\251 \\\"q\\\".txt\"\n@@ -1 +1 @@\n-a\n+b\n");
    let mut bytes = all.into_bytes();
    bytes.extend_from_slice(b"diff --git a/bad\xff.txt b/bad\xff.txt\n--- a/bad\xff.txt\n+++ b/bad\xff.txt\n@@ -1 +1 @@\n-a\n+b\n");
    let r = run(&bytes, &[], &|_| None);
    assert!(r.findings.len() > 6, "{:?}", r.findings);
    let sarif = super::to_sarif(&r, "0.1.0");
    validate(&sarif).unwrap();
    // Max-files is a finding without a location: still valid.
    assert!(sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["ruleId"] == id::MAX_FILES && x.get("locations").is_none()));
}

#[test]
fn the_schema_rejects_broken_sarif() {
    // Guards against a schema so loose that everything passes.
    let good = super::to_sarif(&ConventionReport::default(), "0.1.0");
    validate(&good).unwrap();
    let mut bad = good.clone();
    bad["version"] = "2.0.0".into();
    assert!(validate(&bad).is_err());
    let mut bad = good.clone();
    bad["runs"][0]["results"] =
        serde_json::json!([{ "ruleId": "x", "level": "fatal", "message": { "text": "m" } }]);
    assert!(validate(&bad).is_err());
    let mut bad = good.clone();
    bad["runs"][0]["results"] = serde_json::json!([{ "ruleId": "x" }]);
    assert!(validate(&bad).is_err(), "a result needs a message");
    let mut bad = good.clone();
    bad["runs"][0]["results"] = serde_json::json!([{ "message": { "text": "m" }, "locations": [{ "physicalLocation": { "artifactLocation": { "uri": "a" }, "region": { "startLine": 0 } } }] }]);
    assert!(validate(&bad).is_err(), "lines start at 1");
    let mut bad = good;
    bad["runs"][0]["tool"]["driver"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert!(validate(&bad).is_err(), "a driver needs a name");
}

/// Whether the debug-leftover rule fires on `diff` under `cfg`.
fn leftover(diff: &str, cfg: &ConventionsConfig) -> Vec<String> {
    score(diff.as_bytes(), cfg, &ownership(), &[], &|_| None)
        .findings
        .into_iter()
        .filter(|f| f.rule_id == id::DEBUG_LEFTOVER)
        .map(|f| f.message)
        .collect()
}

// Issue #15: `println!`, `eprintln!` and `fmt.Println` were never leftovers; printing in
// tests and programs is the point.
#[test]
fn debug_leftovers_know_the_language_and_the_place() {
    let cfg = ConventionsConfig::default();
    let rows: &[(&str, &str, &[&str])] = &[
        (
            "src/stock/lib.rs",
            "    println!(\"{x}\");",
            &["debugging leftover `println!`"],
        ),
        (
            "src/stock/lib.rs",
            "    eprintln!(\"{x}\");",
            &["debugging leftover `eprintln!`"],
        ),
        ("src/stock/lib.rs", "    writeln!(out, \"{x}\")?;", &[]),
        ("src/main.rs", "    println!(\"{x}\");", &[]),
        ("src/bin/tool.rs", "    eprintln!(\"{x}\");", &[]),
        (
            "build.rs",
            "    println!(\"cargo:rerun-if-changed=x\");",
            &[],
        ),
        ("examples/demo.rs", "    println!(\"{x}\");", &[]),
        ("tests/it.rs", "    println!(\"{x}\");", &[]),
        // A stop is a leftover even where printing is the point, but not in tests.
        (
            "src/main.rs",
            "    dbg!(x);",
            &["debugging leftover `dbg!`"],
        ),
        ("tests/it.rs", "    dbg!(x);", &[]),
        (
            "internal/shelf/shelf.go",
            "\tfmt.Println(x)",
            &["debugging leftover `fmt.Println`"],
        ),
        (
            "internal/shelf/shelf.go",
            "\tfmt.Printf(\"%v\", x)",
            &["debugging leftover `fmt.Printf`"],
        ),
        ("internal/shelf/shelf.go", "\tfmt.Fprintln(w, x)", &[]),
        ("cmd/shelf/main.go", "\tfmt.Println(x)", &[]),
        ("internal/shelf/shelf_test.go", "\tfmt.Println(x)", &[]),
        (
            "src/stock/a.py",
            "    print(x)",
            &["debugging leftover `print`"],
        ),
        ("tests/test_a.py", "    print(x)", &[]),
        ("scripts/report.py", "    print(x)", &[]),
        (
            "web/app.ts",
            "  console.log(x);",
            &["debugging leftover `console.log`"],
        ),
        ("web/app.test.ts", "  console.log(x);", &[]),
    ];
    for (path, line, want) in rows {
        let got = leftover(&modify(path, &["fn f() {"], &[line]), &cfg);
        assert_eq!(&got, want, "{path}: {line}");
    }
    // `package main` outside cmd/, seen in the diff.
    let tool = modify(
        "tools/gen.go",
        &["package main", "", "func main() {"],
        &["\tfmt.Println(1)"],
    );
    assert_eq!(leftover(&tool, &cfg), Vec::<String>::new());
    // Below `#[cfg(test)]` in a library file.
    let unit = modify(
        "src/stock/lib.rs",
        &["#[cfg(test)]", "mod tests {", "    fn t() {"],
        &["        println!(\"{x}\");"],
    );
    assert_eq!(leftover(&unit, &cfg), Vec::<String>::new());
}

#[test]
fn debug_leftovers_allow_the_calls_a_suite_names() {
    let mut cfg = ConventionsConfig::default();
    cfg.debug_leftovers.allow = vec!["println!".into(), "fmt.Println".into()];
    let lib = modify(
        "src/stock/lib.rs",
        &["fn f() {"],
        &["    println!(\"{x}\");", "    eprintln!(\"{x}\");"],
    );
    assert_eq!(leftover(&lib, &cfg), ["debugging leftover `eprintln!`"]);
    let go = modify(
        "internal/shelf/shelf.go",
        &["func f() {"],
        &["\tfmt.Println(x)"],
    );
    assert_eq!(leftover(&go, &cfg), Vec::<String>::new());
    // From mergebench.toml.
    let loaded: Config = toml::from_str(
        "[conventions]\ndebug_leftovers = { allow = [\"eprintln!\"], exclude = [\"tools/\"] }\n",
    )
    .unwrap();
    assert_eq!(loaded.conventions.debug_leftovers.allow, ["eprintln!"]);
    assert_eq!(
        leftover(&lib, &loaded.conventions),
        ["debugging leftover `println!`"]
    );
}

// Issue #15: every Cargo.toml edit was `critical`, a release bump included.
#[test]
fn a_release_bump_is_medium_and_a_new_dependency_critical() {
    let bump = "diff --git a/Cargo.toml b/Cargo.toml\n--- a/Cargo.toml\n+++ b/Cargo.toml\n@@ -1,4 +1,4 @@\n [package]\n name = \"stock\"\n-version = \"0.3.0\"\n+version = \"0.4.0\"\n edition = \"2021\"\n";
    let b = blast_for(bump.as_bytes());
    assert_eq!(b.tier, super::Tier::Medium, "{b:?}");
    assert!(!b.staged_rollout, "{b:?}");
    assert_eq!(b.reasons, ["manifest metadata only: Cargo.toml (version)"]);
    let dep = "diff --git a/Cargo.toml b/Cargo.toml\n--- a/Cargo.toml\n+++ b/Cargo.toml\n@@ -5,2 +5,3 @@\n [dependencies]\n serde = \"1\"\n+rand = \"0.8\"\n";
    let b = blast_for(dep.as_bytes());
    assert_eq!(b.tier, super::Tier::Critical, "{b:?}");
    assert!(b.staged_rollout);
}
