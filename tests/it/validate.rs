//! `tasks validate` in Docker, and grading a patch that does not apply.

use crate::fixture::{bin, Fixture};
use mergebench::config::suite::load_suite;
use mergebench::repo::patch::Patch;
use mergebench::repo::workspace::{graded_tree, prepare_base, Graded};

#[test]
fn a_good_task_validates_and_a_broken_one_is_reported() {
    let f = Fixture::new();
    // A second task whose fail_to_pass test already passes at the base: invalid.
    let src = f.suite().join("calc-001");
    let dst = f.suite().join("calc-002");
    std::fs::create_dir_all(&dst).unwrap();
    for name in ["problem.md", "gold.patch", "tests.patch"] {
        std::fs::copy(src.join(name), dst.join(name)).unwrap();
    }
    let toml = std::fs::read_to_string(src.join("task.toml")).unwrap();
    std::fs::write(
        dst.join("task.toml"),
        toml.replace("calc-001", "calc-002").replace(
            "fail_to_pass = [\"tests/test_calc.py::test_add\"]",
            "fail_to_pass = [\"tests/test_calc.py::test_mul\"]",
        ),
    )
    .unwrap();
    let out = bin()
        .args(["tasks", "validate", "--json", "--repeat", "2", "--suite"])
        .arg(f.suite())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_id = |id: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|t| t["task"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("calc-001")["valid"], true, "{v}");
    assert_eq!(by_id("calc-002")["valid"], false);
    let problems = by_id("calc-002")["problems"].to_string();
    assert!(
        problems.contains("already passes without the fix"),
        "{problems}"
    );
}

#[test]
fn a_patch_that_does_not_apply_is_patch_failed_and_hidden_tests_are_restored() {
    let f = Fixture::new();
    let suite = load_suite(&f.suite()).unwrap();
    let task = &suite.tasks[0];
    let base = prepare_base(task).unwrap();
    let bogus = Patch::new(b"diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n-def nothing_like_this():\n-    pass\n+def add(a, b):\n+    return a + b\n".to_vec());
    assert!(matches!(
        graded_tree(&base, &bogus, &task.tests.patch).unwrap(),
        Graded::PatchFailed(_)
    ));
    // A patch that rewrites the hidden test file: the hidden version wins.
    let tamper = Patch::new(b"diff --git a/tests/test_calc.py b/tests/test_calc.py\n--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -1,5 +1,2 @@\n-from calc import add, mul\n-\n-\n-def test_mul():\n-    assert mul(3, 4) == 12\n+def test_add():\n+    pass\n".to_vec());
    match graded_tree(&base, &tamper, &task.tests.patch).unwrap() {
        Graded::Ready { tree, .. } => {
            let t = std::fs::read_to_string(tree.join("tests/test_calc.py")).unwrap();
            assert!(
                t.contains("assert add(2, 3) == 5") && t.contains("assert mul(3, 4) == 12"),
                "{t}"
            );
        }
        _ => panic!("the tampering patch applies; the hidden tests must then be restored"),
    }
    // Deny globs never reach the tree.
    assert!(!base.path().join("deploy/secret.pem").exists());
    assert!(base.path().join("calc.py").exists());
}
