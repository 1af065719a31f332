//! `tasks mine`: the demo codebase's own history mined back into its tasks, and a small
//! history with every kind of commit mining has to tell apart.

use crate::fixture::{bin, sqlite, write};
use mergebench::config::suite::load_suite;
use mergebench::patch::touched_paths;
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
    write(
        tmp.path(),
        "env/Dockerfile",
        "ARG BASE=mergebench-base:bookworm\nFROM ${BASE}\n",
    );
    let out = tmp.path().join("suite");
    let db = tmp.path().join("m.db");
    let report = mine_json(&[
        "--db",
        path(&db),
        "tasks",
        "mine",
        "--repo",
        path(&repo),
        "--out",
        path(&out),
        "--dockerfile",
        path(&tmp.path().join("env/Dockerfile")),
        "--test-command",
        "python3 -m pytest -rA -p no:cacheprovider",
        "--format",
        "pytest",
        "--tests",
        "tests/**",
        "--issues",
        path(&issues),
        // A coin flip shows both faces across 8 runs but for a chance of 1 in 128 per tree.
        "--repeat",
        "8",
        "--json",
    ]);
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
            "would be ignored: drop it or edit that file",
        ),
        (&["--repeat", "0"], 2, "--repeat must be at least 1"),
        (&["--since", "last week"], 2, "is not a day like"),
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
    use mergebench::mine::history::{bundle_has, Mirror};
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
