//! `tasks mine`: the demo codebase's own history mined back into its tasks, and a small
//! history with every kind of commit mining has to tell apart.

use crate::fixture::{bin, sqlite, write};
use mergebench::config::suite::load_suite;
use mergebench::repo::patch::touched_paths;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs mergebench; returns (exit code, stdout, stderr).
fn mergebench(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).current_dir(root()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mine_json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = mergebench(args);
    assert_eq!(code, 0, "tasks mine failed:\n{err}\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn funnel(report: &serde_json::Value) -> Vec<(String, u64)> {
    report["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["stage"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn counts(stages: &[(&str, u64)]) -> Vec<(String, u64)> {
    stages.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

/// The commit record whose subject starts with `subject`.
fn commit<'a>(report: &'a serde_json::Value, subject: &str) -> &'a serde_json::Value {
    report["commits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"].as_str().unwrap().starts_with(subject))
        .unwrap_or_else(|| panic!("no commit `{subject}` in {report}"))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes a Dockerfile on the offline base into `dir/env` and returns the flags that give a
/// new suite that environment, pytest and `tests/**` as the test files.
fn given_env(dir: &Path) -> Vec<String> {
    write(
        dir,
        "env/Dockerfile",
        "ARG BASE=mergebench-base:bookworm\nFROM ${BASE}\n",
    );
    [
        "--dockerfile",
        path(&dir.join("env/Dockerfile")),
        "--test-command",
        "python3 -m pytest -rA -p no:cacheprovider",
        "--format",
        "pytest",
        "--tests",
        "tests/**",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn mining_the_demo_history_gives_back_the_hand_written_tasks() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mined");
    let db = tmp.path().join("m.db");
    let report = mine_json(&[
        "--db",
        path(&db),
        "tasks",
        "mine",
        "--repo",
        "tasks/demo/repo.bundle",
        "--out",
        path(&out),
        "--max",
        "5",
        "--json",
    ]);
    // Newest first: five fixes, and between them a refactoring that changes no test.
    assert_eq!(
        funnel(&report),
        counts(&[
            ("scanned", 6),
            ("candidate", 5),
            ("patches_apply", 5),
            ("environment_built", 5),
            ("validated", 5),
            ("written", 5)
        ])
    );
    let refactor = commit(&report, "Render invoice summary rows");
    assert_eq!(refactor["reached"], "scanned");
    assert!(
        refactor["reason"]
            .as_str()
            .unwrap()
            .contains("changes no test file"),
        "{refactor}"
    );

    // The same fail_to_pass tests per base commit as the hand-written suite, the same day,
    // the same files in the fix, and every hand-picked pass_to_pass test among the mined ones.
    let demo = load_suite(&root().join("tasks/demo")).unwrap();
    let by_base: BTreeMap<&str, _> = demo.tasks.iter().map(|t| (t.base.as_str(), t)).collect();
    let mined = load_suite(&out).unwrap();
    assert!(mined.invalid.is_empty(), "{:?}", mined.invalid);
    assert_eq!(mined.tasks.len(), 5);
    // Every commit message says something the hidden tests check: no task lacks a basis.
    for t in &mined.tasks {
        assert!(!t.tags.iter().any(|x| x == "no_basis"), "{}", t.id);
    }
    assert!(!report.to_string().contains("no_basis"), "{report:#}");
    for t in &mined.tasks {
        let hand = by_base
            .get(t.base.as_str())
            .unwrap_or_else(|| panic!("{}: no hand-written task starts at {}", t.id, t.base));
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
        assert_eq!(
            set(&t.tests.fail_to_pass),
            set(&hand.tests.fail_to_pass),
            "{} vs {}",
            t.id,
            hand.id
        );
        assert!(
            set(&hand.tests.pass_to_pass).is_subset(&set(&t.tests.pass_to_pass)),
            "{}",
            t.id
        );
        assert_eq!(t.created, hand.created, "{}", t.id);
        assert_eq!(
            touched_paths(t.gold.as_deref().unwrap()),
            touched_paths(hand.gold.as_deref().unwrap()),
            "{}",
            t.id
        );
        assert_eq!(
            touched_paths(&t.tests.patch),
            touched_paths(&hand.tests.patch)
        );
    }

    // `tasks validate` accepts the mined suite, and agents come out as on the demo suite.
    let (code, stdout, stderr) = mergebench(&["tasks", "validate", "--suite", path(&out)]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (code, stdout, stderr) = mergebench(&[
        "--db",
        path(&db),
        "run",
        "--suite",
        path(&out),
        "--agent",
        "oracle",
        "test-editor",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let results: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for a in results["attempts"].as_array().unwrap() {
        match a["agent"].as_str().unwrap() {
            "oracle" => assert_eq!(a["outcome"], "resolved", "{a}"),
            _ => {
                assert_eq!(a["outcome"], "unresolved", "{a}");
                assert_eq!(a["flags"]["scope_violation"], true, "{a}");
                assert_eq!(a["flags"]["tests_tampered"], true, "{a}");
            }
        }
    }
    assert_eq!(results["attempts"].as_array().unwrap().len(), 10);

    // The funnel is stored: one row per commit looked at.
    let rows = sqlite(
        &db,
        "SELECT reached, COUNT(*) FROM mine_commits GROUP BY reached ORDER BY reached",
    );
    assert_eq!(
        rows,
        vec![
            vec!["scanned".to_string(), "1".into()],
            vec!["written".to_string(), "5".into()]
        ]
    );
}

/// git with a fixed identity and date, and no user or system configuration.
fn git_at(dir: &Path, date: &str, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Functions beside `add` and `mul`, so that moving the file is recognised as a rename.
const CALC_REST: &str = "

def neg(a):
    return -a


def square(a):
    return a * a


def cube(a):
    return a * a * a


def half(a):
    return a / 2
";

/// A history with one commit of each kind, newest first:
/// - a feature whose message names the function it adds, which the new test calls;
/// - a merged pull request that rejects strings in `mul`, linking issue #3;
/// - moving calc.py to arith.py while fixing `add` through a new helper the message names;
/// - a docstring and a test that already passes before it (its tests never fail at base);
/// - a commit that only adds a test;
/// - the root commit, with a test that passes or fails at random.
fn small_history(dir: &Path) -> PathBuf {
    let repo = dir.join("calc");
    std::fs::create_dir_all(&repo).unwrap();
    let g = |date: &str, args: &[&str]| git_at(&repo, date, args);
    g("2026-01-01T10:00:00Z", &["init", "-q", "-b", "main"]);
    write(
        &repo,
        "calc.py",
        &format!(
            "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n{CALC_REST}"
        ),
    );
    let tests = "from calc import add, mul\n\n\ndef test_mul():\n    assert mul(3, 4) == 12\n";
    write(&repo, "tests/test_calc.py", tests);
    write(
        &repo,
        "tests/test_coin.py",
        "import os\n\n\ndef test_coin():\n    assert os.urandom(1)[0] % 2 == 0\n",
    );
    g("2026-01-01T10:00:00Z", &["add", "-A"]);
    g("2026-01-01T10:00:00Z", &["commit", "-qm", "Initial calc"]);

    let tests = format!("{tests}\n\ndef test_mul_by_zero():\n    assert mul(5, 0) == 0\n");
    write(&repo, "tests/test_calc.py", &tests);
    g(
        "2026-01-02T10:00:00Z",
        &["commit", "-qam", "Test mul by zero"],
    );

    write(
        &repo,
        "calc.py",
        &format!("def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    \"\"\"The product.\"\"\"\n    return a * b\n{CALC_REST}"),
    );
    let tests = format!("{tests}\n\ndef test_mul_negative():\n    assert mul(-2, 3) == -6\n");
    write(&repo, "tests/test_calc.py", &tests);
    g(
        "2026-01-03T10:00:00Z",
        &["commit", "-qam", "Describe mul and test negatives"],
    );

    g("2026-01-04T10:00:00Z", &["mv", "calc.py", "arith.py"]);
    write(
        &repo,
        "arith.py",
        &format!("def _plus(a, b):\n    return a + b\n\n\ndef add(a, b):\n    return _plus(a, b)\n\n\ndef mul(a, b):\n    \"\"\"The product.\"\"\"\n    return a * b\n{CALC_REST}"),
    );
    let tests = format!(
        "{}\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        tests.replace("from calc import", "from arith import")
    );
    write(&repo, "tests/test_calc.py", &tests);
    g("2026-01-04T10:00:00Z", &["add", "-A"]);
    g(
        "2026-01-04T10:00:00Z",
        &[
            "commit",
            "-qm",
            "Move calc to arith so that add adds\n\nadd(2, 3) returned -1. It now goes through _plus().",
        ],
    );

    g("2026-01-05T10:00:00Z", &["checkout", "-qb", "mul-types"]);
    let arith = std::fs::read_to_string(repo.join("arith.py")).unwrap();
    write(
        &repo,
        "arith.py",
        &arith.replace(
            "    \"\"\"The product.\"\"\"\n",
            "    \"\"\"The product.\"\"\"\n    if isinstance(a, str) or isinstance(b, str):\n        raise TypeError(\"mul takes numbers\")\n",
        ),
    );
    write(
        &repo,
        "tests/test_calc.py",
        &format!("import pytest\n\n{tests}\n\ndef test_mul_rejects_strings():\n    with pytest.raises(TypeError):\n        mul(\"ab\", 2)\n"),
    );
    g(
        "2026-01-05T10:00:00Z",
        &["commit", "-qam", "Reject strings in mul"],
    );
    g("2026-01-06T10:00:00Z", &["checkout", "-q", "main"]);
    g(
        "2026-01-06T10:00:00Z",
        &[
            "merge",
            "-q",
            "--no-ff",
            "mul-types",
            "-m",
            "Merge pull request #7 from team/mul-types\n\nStrings are not numbers\n\nFixes #3",
        ],
    );

    let arith = std::fs::read_to_string(repo.join("arith.py")).unwrap();
    write(
        &repo,
        "arith.py",
        &format!("{arith}\n\ndef sub_numbers(a, b):\n    return a - b\n"),
    );
    let tests = std::fs::read_to_string(repo.join("tests/test_calc.py")).unwrap();
    write(
        &repo,
        "tests/test_calc.py",
        &format!(
            "{}\n\ndef test_sub_numbers():\n    assert sub_numbers(5, 3) == 2\n",
            tests.replace("import add, mul", "import add, mul, sub_numbers")
        ),
    );
    g(
        "2026-01-07T10:00:00Z",
        &[
            "commit",
            "-qam",
            "Add sub_numbers()\n\nCallers want sub_numbers(a, b).",
        ],
    );
    repo
}

#[test]
fn a_small_history_with_every_kind_of_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = small_history(tmp.path());
    let issues = tmp.path().join("issues");
    write(
        &issues,
        "3.md",
        "mul(\"ab\", 2) returns \"abab\" instead of refusing.\n",
    );
    // A given environment instead of a proposed one (the repository has no pyproject.toml).
    let env = given_env(tmp.path());
    let out = tmp.path().join("suite");
    let db = tmp.path().join("m.db");
    let mut args = vec![
        "--db",
        path(&db),
        "tasks",
        "mine",
        "--repo",
        path(&repo),
        "--out",
        path(&out),
    ];
    args.extend(env.iter().map(String::as_str));
    let report = mine_json(
        &[
            &args[..],
            &[
                "--issues",
                path(&issues),
                // A coin flip shows both faces across 8 runs but for a chance of 1 in 128 per tree.
                "--repeat",
                "8",
                "--json",
            ],
        ]
        .concat(),
    );
    assert_eq!(
        funnel(&report),
        counts(&[
            ("scanned", 6),
            ("candidate", 3),
            ("patches_apply", 3),
            ("environment_built", 3),
            ("validated", 2),
            ("written", 2)
        ]),
        "{report:#}"
    );
    let reason = |subject: &str| {
        commit(&report, subject)["reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(reason("Initial calc").contains("root commit"));
    // Redacting the name the new test calls would leave a task nobody can solve.
    let interface = reason("Add sub_numbers");
    assert!(
        interface.contains("sub_numbers") && interface.contains("hidden tests use"),
        "{interface}"
    );
    assert!(reason("Test mul by zero").contains("changes only test files"));
    let never_fails = reason("Describe mul");
    assert!(
        never_fails.contains("already pass without it"),
        "{never_fails}"
    );
    assert_eq!(
        commit(&report, "Describe mul")["reached"],
        "environment_built"
    );

    let suite = load_suite(&out).unwrap();
    assert!(suite.invalid.is_empty(), "{:?}", suite.invalid);
    let task = |subject: &str| {
        let id = commit(&report, subject)["task_id"]
            .as_str()
            .unwrap()
            .to_string();
        suite.tasks.iter().find(|t| t.id == id).unwrap().clone()
    };

    // The rename: the fix moves the file, the agent is not told the helper's name.
    let moved = task("Move calc to arith");
    let gold = String::from_utf8(moved.gold.clone().unwrap()).unwrap();
    assert!(
        gold.contains("rename from calc.py") && gold.contains("rename to arith.py"),
        "{gold}"
    );
    assert!(!moved.problem.contains("_plus"), "{}", moved.problem);
    assert!(moved.problem.contains("[redacted]"), "{}", moved.problem);
    assert_eq!(moved.created.as_deref(), Some("2026-01-04"));
    assert!(moved
        .tests
        .fail_to_pass
        .contains(&"tests/test_calc.py::test_add".to_string()));
    let notes = commit(&report, "Move calc to arith")["notes"].to_string();
    assert!(
        notes.contains("redacted") && notes.contains("_plus"),
        "{notes}"
    );

    // Both statements say something the hidden tests check ("add adds", "strings").
    for t in &suite.tasks {
        assert!(!t.tags.iter().any(|x| x == "no_basis"), "{}", t.id);
    }

    // The flaky test is in neither list, and why is recorded.
    for t in &suite.tasks {
        let all: Vec<&String> = t
            .tests
            .fail_to_pass
            .iter()
            .chain(&t.tests.pass_to_pass)
            .collect();
        assert!(
            !all.iter().any(|id| id.contains("test_coin")),
            "{}: {all:?}",
            t.id
        );
    }
    assert!(
        notes.contains("flaky") && notes.contains("tests/test_coin.py::test_coin"),
        "{notes}"
    );

    // The merged pull request: one task from the merge's first parent, told by the pull
    // request's description and the issue it links.
    let merged = task("Merge pull request #7");
    let main_before = git_at(&repo, "2026-01-06T10:00:00Z", &["rev-parse", "HEAD~1^1"]);
    assert_eq!(merged.base, main_before);
    assert_eq!(merged.title, "Strings are not numbers");
    assert!(
        merged.problem.contains("## Issue #3") && merged.problem.contains("returns \"abab\""),
        "{}",
        merged.problem
    );
    assert!(!merged.problem.contains("Merge pull request"));
    assert_eq!(
        merged.tests.fail_to_pass,
        vec!["tests/test_calc.py::test_mul_rejects_strings"]
    );
    assert_eq!(merged.created.as_deref(), Some("2026-01-06"));

    // Every drop and its reason is in the store.
    let rows = sqlite(
        &db,
        "SELECT subject, reached, reason FROM mine_commits WHERE reason IS NOT NULL ORDER BY seq",
    );
    let subjects: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        subjects,
        vec![
            "Add sub_numbers()",
            "Describe mul and test negatives",
            "Test mul by zero",
            "Initial calc"
        ]
    );
}

#[test]
fn filters_and_bad_input_are_decided_before_any_container() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("docs-only");
    let db = tmp.path().join("m.db");
    let report = mine_json(&[
        "--db",
        path(&db),
        "tasks",
        "mine",
        "--repo",
        "tasks/demo/repo.bundle",
        "--out",
        path(&out),
        "--since",
        "2026-05-01",
        "--until",
        "2026-05-20",
        "--paths",
        "docs/**",
        "--json",
    ]);
    // 2026-05-05, 05-12 and 05-19 are in range; none of them touches docs/.
    assert_eq!(funnel(&report)[0], ("scanned".to_string(), 3));
    assert_eq!(funnel(&report)[1], ("candidate".to_string(), 0));
    for c in report["commits"].as_array().unwrap() {
        assert_eq!(c["reason"], "changes nothing matching --paths", "{c}");
    }
    // The new suite was proposed from the repository: Python, pytest.
    let suite = std::fs::read_to_string(out.join("suite.toml")).unwrap();
    assert!(suite.contains("format = \"pytest\""), "{suite}");
    assert!(out.join("repo.bundle").is_file() && out.join("env/Dockerfile").is_file());

    // (arguments, expected exit code, expected fragment of the message)
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["--test-command", "pytest"],
            2,
            "would be ignored: add --update to write it into it",
        ),
        (&["--repeat", "0"], 2, "--repeat must be at least 1"),
        (&["--since", "last week"], 2, "is not a day like"),
        (&["--max-calls", "5"], 2, "limit the judge of --rewrite"),
        (
            &["--rewrite", "no-such-judge"],
            2,
            "no judge named `no-such-judge`",
        ),
    ];
    for (extra, code, fragment) in cases {
        let mut args = vec![
            "--db",
            path(&db),
            "tasks",
            "mine",
            "--repo",
            "tasks/demo/repo.bundle",
            "--out",
            path(&out),
        ];
        args.extend_from_slice(extra);
        let (got, _, err) = mergebench(&args);
        assert_eq!(got, *code, "{extra:?}: {err}");
        assert!(err.contains(fragment), "{extra:?}: {err}");
    }
    let (got, _, err) = mergebench(&[
        "--db",
        path(&db),
        "tasks",
        "mine",
        "--repo",
        path(&tmp.path().join("no-such-repo")),
        "--out",
        path(&tmp.path().join("x")),
    ]);
    assert_eq!(got, 2, "{err}");
    assert!(
        err.contains("cannot read the repository") && err.contains("fix:"),
        "{err}"
    );
}

#[test]
fn history_walks_first_parents_and_knows_the_names_in_a_tree() {
    use mergebench::tasks::mine::history::{bundle_has, Mirror};
    let tmp = tempfile::tempdir().unwrap();
    let repo = small_history(tmp.path());
    let m = Mirror::clone_from(path(&repo)).unwrap();
    let subjects = |all: bool| -> Vec<String> {
        m.walk(all)
            .unwrap()
            .iter()
            .map(|c| c.subject().to_string())
            .collect()
    };
    assert_eq!(
        subjects(false),
        vec![
            "Add sub_numbers()",
            "Merge pull request #7 from team/mul-types",
            "Move calc to arith so that add adds",
            "Describe mul and test negatives",
            "Test mul by zero",
            "Initial calc"
        ]
    );
    // Every commit instead: the pull request's own commit, not its merge.
    let all = subjects(true);
    assert!(all.contains(&"Reject strings in mul".to_string()));
    assert!(!all.iter().any(|s| s.starts_with("Merge")));
    let merge = m.walk(false).unwrap().remove(1);
    assert_eq!(
        m.branch_messages(&merge).unwrap(),
        vec!["Reject strings in mul"]
    );
    // Names in file contents and in file paths are there already; others are not.
    let head = m.head().unwrap();
    let words: BTreeSet<String> = ["sub_numbers", "arith", "py", "test_coin", "nowhere_else"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let present = m.present_in_tree(&head, &words).unwrap();
    assert_eq!(
        present.into_iter().collect::<Vec<_>>(),
        vec!["arith", "py", "sub_numbers", "test_coin"]
    );
    let bundle = tmp.path().join("repo.bundle");
    m.bundle(&bundle).unwrap();
    assert!(bundle_has(&bundle, &head));
    assert!(!bundle_has(&bundle, &merge.sha));
}

/// A history of two fixes whose messages name the helper each adds: `_plus` for `add`
/// (calc.py), `_minus` for `sub` (sub.py).
fn helper_history(dir: &Path) -> PathBuf {
    let repo = dir.join("helpers");
    std::fs::create_dir_all(&repo).unwrap();
    let g = |date: &str, args: &[&str]| git_at(&repo, date, args);
    g("2026-02-01T10:00:00Z", &["init", "-q", "-b", "main"]);
    write(&repo, "calc.py", "def add(a, b):\n    return a - b\n");
    write(&repo, "sub.py", "def sub(a, b):\n    return a + b\n");
    write(
        &repo,
        "tests/test_calc.py",
        "from calc import add\n\n\ndef test_add_zero():\n    assert add(0, 0) == 0\n",
    );
    g("2026-02-01T10:00:00Z", &["add", "-A"]);
    g("2026-02-01T10:00:00Z", &["commit", "-qm", "Calc and sub"]);

    write(
        &repo,
        "calc.py",
        "def _plus(a, b):\n    return a + b\n\n\ndef add(a, b):\n    return _plus(a, b)\n",
    );
    write(
        &repo,
        "tests/test_calc.py",
        "from calc import add\n\n\ndef test_add_zero():\n    assert add(0, 0) == 0\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    );
    g(
        "2026-02-02T10:00:00Z",
        &[
            "commit",
            "-qam",
            "Route add through _plus\n\nadd(2, 3) returned -1. It now goes through _plus().",
        ],
    );

    write(
        &repo,
        "sub.py",
        "def _minus(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return _minus(a, b)\n",
    );
    write(
        &repo,
        "tests/test_sub.py",
        "from sub import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n",
    );
    g("2026-02-03T10:00:00Z", &["add", "-A"]);
    g(
        "2026-02-03T10:00:00Z",
        &[
            "commit",
            "-qm",
            "Fix sub with _minus\n\nsub(5, 3) returned 8; _minus() gets it right.",
        ],
    );
    repo
}

/// A model behind an OpenAI-compatible endpoint that rewrites statements: for `add` it names
/// the new helper first and complies when the repair request says so; for `sub` it names
/// the helper every time.
struct Rewriter;

impl wiremock::Respond for Rewriter {
    fn respond(&self, r: &wiremock::Request) -> wiremock::ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let messages = body["messages"].as_array().unwrap();
        let user = messages[1]["content"].as_str().unwrap();
        let answer = if user.contains("Fix sub with") {
            serde_json::json!({"title": "Fix sub with _minus", "statement": "Call _minus() from sub."})
        } else if messages.len() == 2 {
            serde_json::json!({"title": "add should use _plus", "statement": "Route add through _plus()."})
        } else {
            serde_json::json!({"title": "Addition gives wrong results", "statement": "`add(2, 3)` returns -1 instead of 5."})
        };
        wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "model": "rewriter-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.to_string()}}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 40}
        }))
    }
}

/// Runs mergebench off the test's runtime (the model server answers on it) with the key set.
async fn mergebench_with_key(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = bin()
            .args(&args)
            .current_dir(root())
            .env("MB_REWRITE_KEY", "sk-rewrite-test-0123456789")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewritten_statements_pass_the_leak_check_or_the_commit_message_is_kept() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/chat/completions"))
        .respond_with(Rewriter)
        .mount(&server)
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let repo = helper_history(tmp.path());
    let judges = root().join("judges");
    let judge = tmp.path().join("rw.toml");
    std::fs::write(
        &judge,
        std::fs::read_to_string(judges.join("merge-review.toml"))
            .unwrap()
            .replace("https://api.openai.com/v1", &format!("{}/v1", server.uri()))
            .replace("OPENAI_API_KEY", "MB_REWRITE_KEY")
            .replace(
                "\"merge-review.",
                &format!("\"{}/merge-review.", judges.display()),
            )
            .replace(
                "\"statement-rewrite.",
                &format!("\"{}/statement-rewrite.", judges.display()),
            ),
    )
    .unwrap();
    let env = given_env(tmp.path());
    let db = tmp.path().join("m.db");
    let mine_args = |out: &str, extra: &[&str]| -> Vec<String> {
        [
            "--db",
            path(&db),
            "tasks",
            "mine",
            "--repo",
            path(&repo),
            "--out",
            path(&tmp.path().join(out)),
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(env.iter().cloned())
        .chain(
            ["--rewrite", path(&judge), "--json"]
                .iter()
                .chain(extra)
                .map(|s| s.to_string()),
        )
        .collect()
    };

    let (code, out, err) = mergebench_with_key(mine_args("suite", &[])).await;
    assert_eq!(code, 0, "{err}\n{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        funnel(&report),
        counts(&[
            ("scanned", 3),
            ("candidate", 2),
            ("patches_apply", 2),
            ("environment_built", 2),
            ("validated", 2),
            ("written", 2)
        ]),
        "{report:#}"
    );
    let rw = &report["rewrite"];
    assert_eq!(
        (&rw["judge"], &rw["rewritten"], &rw["kept"], &rw["requests"]),
        (&"rw".into(), &1.into(), &1.into(), &4.into()),
        "{rw}"
    );
    let suite = load_suite(&tmp.path().join("suite")).unwrap();
    let task = |subject: &str| {
        let id = commit(&report, subject)["task_id"].as_str().unwrap();
        suite.tasks.iter().find(|t| t.id == id).unwrap().clone()
    };

    // add: the first answer named `_plus`, the repair said so, the second answer is the statement.
    let add = task("Route add through");
    assert_eq!(
        add.problem,
        "# Addition gives wrong results\n\n`add(2, 3)` returns -1 instead of 5.\n"
    );
    assert_eq!(add.title, "Addition gives wrong results");
    assert!(add.id.starts_with("route-add-through-"), "{}", add.id);
    let toml = std::fs::read_to_string(&add.file).unwrap();
    assert!(
        toml.contains("# Problem statement rewritten by judge `rw` (model gpt-4.1-mini"),
        "{toml}"
    );
    assert!(commit(&report, "Route add through")["notes"]
        .to_string()
        .contains("rewritten by judge `rw`"));

    // sub: every answer named `_minus`, so the commit message's statement stays, redacted.
    let sub = task("Fix sub with");
    assert!(
        !sub.problem.contains("_minus") && sub.problem.contains("[redacted]"),
        "{}",
        sub.problem
    );
    let notes = commit(&report, "Fix sub with")["notes"].to_string();
    assert!(
        notes.contains("not rewritten (malformed output twice")
            && notes.contains("names identifiers the fix adds: _minus"),
        "{notes}"
    );

    // What the model was told, and that the key went to it and nowhere else.
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 4);
    for r in &reqs {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            "Bearer sk-rewrite-test-0123456789"
        );
        let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            b["response_format"]["json_schema"]["name"],
            "record_statement"
        );
        let user = b["messages"][1]["content"].as_str().unwrap();
        assert!(user.contains("<<<UNTRUSTED HIDDEN TESTS "), "{user}");
    }
    let repairs: Vec<String> = reqs
        .iter()
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap())
        .filter(|b| b["messages"].as_array().unwrap().len() == 4)
        .map(|b| b["messages"][3]["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(repairs.len(), 2);
    assert!(
        repairs
            .iter()
            .any(|m| m.contains("names identifiers the fix adds: _plus")),
        "{repairs:?}"
    );
    let purposes = sqlite(
        &db,
        "SELECT purpose, count(*) FROM judge_calls GROUP BY purpose ORDER BY purpose",
    );
    assert_eq!(purposes, vec![vec!["repair", "2"], vec!["rewrite", "2"]]);
    let stored = std::fs::read(&db).unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains("sk-rewrite-test-0123456789"));

    // With --leak drop and no budget left, a statement that leaks cannot be kept: dropped,
    // and nothing is asked.
    let (code, out, err) = mergebench_with_key(mine_args(
        "dropped",
        &["--leak", "drop", "--max-calls", "0", "--paths", "sub.py"],
    ))
    .await;
    assert_eq!(code, 0, "{err}\n{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let reason = commit(&report, "Fix sub with")["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("the judge's budget is spent") && reason.contains("_minus"),
        "{reason}"
    );
    assert_eq!(report["written"], serde_json::json!([]));
    assert_eq!(report["rewrite"]["budget_exhausted"], true);
    assert_eq!(server.received_requests().await.unwrap().len(), 4);

    // A judge without [rewrite] templates is refused before anything is mined.
    let (code, _, err) = mergebench_with_key(
        mine_args("none", &[])
            .into_iter()
            .map(|a| {
                if a == path(&judge) {
                    "heuristic-lenient".to_string()
                } else {
                    a
                }
            })
            .collect(),
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no [rewrite] templates") && err.contains("fix:"),
        "{err}"
    );
    assert!(!tmp.path().join("none").exists());
}
