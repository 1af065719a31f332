//! `mergebench gate` on real diffs and git ranges, and the conventions scorer inside a run.

use crate::fixture::{attempt, bin, git, write, Fixture};

const AWS_AND_CI: &str = "diff --git a/app/config.py b/app/config.py
--- a/app/config.py
+++ b/app/config.py
@@ -1,2 +1,3 @@
 REGION = \"eu-west-1\"
+AWS_ACCESS_KEY_ID = \"AKIAZ7Q3XMPLE4KEYS27\"
 DEBUG = False
diff --git a/.github/workflows/ci.yml b/.github/workflows/ci.yml
--- a/.github/workflows/ci.yml
+++ b/.github/workflows/ci.yml
@@ -1,3 +1,3 @@
 on: [push]
 jobs:
-  test: {runs-on: ubuntu-latest}
+  test: {runs-on: self-hosted}
";

const README_ONLY: &str = "diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1 +1,2 @@
 # app
+Run `make test` before sending a change.
";

fn gate(args: &[&str], stdin: Option<&str>, cwd: &std::path::Path) -> (i32, String, String) {
    use std::io::Write;
    let mut c = bin();
    c.arg("gate").args(args).current_dir(cwd);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sarif_schema() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../data/sarif-2.1.0-schema.json")).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn an_aws_key_and_a_ci_edit_fail_the_gate_with_valid_sarif() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pr.diff", AWS_AND_CI);
    let (code, out, err) = gate(
        &["--diff", "pr.diff", "--format", "sarif"],
        None,
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    let sarif: serde_json::Value = serde_json::from_str(&out).unwrap();
    let validator = sarif_schema();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "invalid SARIF: {errors:?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let uri = |r: &serde_json::Value| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let secret = results
        .iter()
        .find(|r| uri(r) == "app/config.py")
        .expect("the key is reported");
    assert_eq!(
        secret["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
    assert!(
        results.iter().any(|r| uri(r) == ".github/workflows/ci.yml"),
        "{out}"
    );
    assert!(
        !out.contains("AKIAZ7Q3XMPLE4KEYS27"),
        "the key itself must not be printed"
    );
}

#[test]
fn a_readme_only_change_passes_and_stdin_works() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = gate(&["--diff", "-"], Some(README_ONLY), dir.path());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = gate(
        &["--diff", "-", "--format", "json"],
        Some(README_ONLY),
        dir.path(),
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["blast_radius"]["tier"], "low");
    let (code, out, _) = gate(
        &["--diff", "-", "--format", "markdown"],
        Some(AWS_AND_CI),
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(
        out.len() < 60_000 && out.contains(".github/workflows/ci.yml"),
        "{out}"
    );
}

#[test]
fn bad_gate_input_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "notes.txt", "just some words\n");
    let (code, _, err) = gate(&["--diff", "notes.txt"], None, dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("not a unified diff") && err.contains("fix:"),
        "{err}"
    );
    let (code, _, err) = gate(&["--diff", "missing.diff"], None, dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("missing.diff"), "{err}");
    let (code, _, err) = gate(
        &["--diff", "-", "--format", "pdf"],
        Some(README_ONLY),
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    write(
        dir.path(),
        "mergebench.toml",
        "[conventions]\nmax_files = { limit = \"many\" }\n",
    );
    let (code, _, err) = gate(&["--diff", "-"], Some(README_ONLY), dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("mergebench.toml:2"), "{err}");
}

#[test]
fn gate_on_a_git_range_reads_the_rules_from_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    write(repo, "src/app.py", "def main():\n    return 1\n");
    // The base forbids TODOs; the pull request tries to switch that rule off and add one.
    write(
        repo,
        "mergebench.toml",
        "[conventions]\ntodo = { severity = \"error\" }\n",
    );
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "base"]);
    write(
        repo,
        "src/app.py",
        "def main():\n    # TODO: handle errors\n    return 1\n",
    );
    write(
        repo,
        "mergebench.toml",
        "[conventions]\ntodo = { severity = \"off\" }\n",
    );
    git(repo, &["commit", "-qam", "change"]);
    let (code, out, err) = gate(&["--range", "HEAD~1..HEAD"], None, repo);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("src/app.py") && out.to_lowercase().contains("todo"),
        "{out}"
    );
    let (code, _, err) = gate(&["--range", "nope..HEAD"], None, repo);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn command_rules_count_only_findings_the_patch_introduced() {
    let f = Fixture::new();
    // A linter that reports every `return`: the base already has two findings.
    let suite = f.suite().join("suite.toml");
    let mut text = std::fs::read_to_string(&suite).unwrap();
    text.push_str("[conventions]\n[[conventions.commands]]\nname = \"returns\"\nrun = \"awk '/return/ {print FILENAME \\\":\\\" FNR \\\": return statement\\\"}' calc.py\"\nformat = \"gcc\"\nseverity = \"error\"\n");
    std::fs::write(&suite, text).unwrap();
    f.agent(
        "oracle",
        "set -e\ngit apply \"$MERGEBENCH_GOLD_PATCH\"\n",
        "gold_patch = true\n",
    );
    f.agent("adder", "set -e\ngit apply \"$MERGEBENCH_GOLD_PATCH\"\nprintf '\\n\\ndef sub(a, b):\\n    return a - b\\n' >> calc.py\n", "gold_patch = true\n");
    let r = f.run(&["oracle", "adder"], &[]);
    let conv = |a: &str| attempt(&r, a)["conventions"].clone();
    assert_eq!(conv("oracle")["passed"], true, "{}", conv("oracle"));
    assert_eq!(conv("adder")["passed"], false, "{}", conv("adder"));
    let adder = conv("adder");
    let findings: Vec<&serde_json::Value> = adder["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == "command.returns")
        .collect();
    assert_eq!(
        findings.len(),
        1,
        "only the new return counts: {findings:?}"
    );
    assert_eq!(findings[0]["path"], "calc.py");
    assert_eq!(findings[0]["line"], 10);
    assert_eq!(attempt(&r, "adder")["outcome"], "resolved");
    assert_eq!(
        attempt(&r, "adder")["mergeable"],
        false,
        "failing conventions is not mergeable"
    );
    assert_eq!(attempt(&r, "oracle")["mergeable"], true);
}
