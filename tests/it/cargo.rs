//! Real Docker and a real Rust toolchain: a cargo suite whose tests print to both streams,
//! with the same test name in two test files. Bug pinned: stdout and stderr read as one
//! stream glued cargo's `Running tests/x.rs (...)` to a result line, and the oracle's correct
//! fix graded `unresolved`; ids were not qualified by test binary.

use crate::fixture::{attempt, bin, git, oracle_and_noop, write};

const LIB_BUGGY: &str = "/// The major version of `1.2.3`.\npub fn major(v: &str) -> u32 {\n    v.split('.').nth(1).and_then(|p| p.parse().ok()).unwrap_or(0)\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn unit_ok() {\n        eprintln!(\"unit test on stderr\");\n        assert_eq!(2 + 2, 4);\n    }\n}\n";
const LIB_FIXED: &str = "/// The major version of `1.2.3`.\npub fn major(v: &str) -> u32 {\n    v.split('.').next().and_then(|p| p.parse().ok()).unwrap_or(0)\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn unit_ok() {\n        eprintln!(\"unit test on stderr\");\n        assert_eq!(2 + 2, 4);\n    }\n}\n";
const OTHER_TEST: &str = "#[test]\nfn test_parse() {\n    println!(\"other test on stdout\");\n    eprintln!(\"other test on stderr\");\n    assert_eq!(\"7\".parse::<u32>().unwrap(), 7);\n}\n";
const VERSION_TEST: &str = "#[test]\nfn test_parse() {\n    println!(\"version test on stdout\");\n    eprintln!(\"version test on stderr\");\n    assert_eq!(ver::major(\"3.1.4\"), 3);\n}\n";

/// A crate with a bug in `major`, its hidden test, and an image with Debian's cargo.
fn cargo_suite(root: &std::path::Path) -> std::path::PathBuf {
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(
        &repo,
        "Cargo.toml",
        "[package]\nname = \"ver\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(
        &repo,
        "Cargo.lock",
        "version = 3\n\n[[package]]\nname = \"ver\"\nversion = \"0.1.0\"\n",
    );
    write(&repo, ".gitignore", "/target\n");
    write(&repo, "src/lib.rs", LIB_BUGGY);
    write(&repo, "tests/other.rs", OTHER_TEST);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    write(&repo, "src/lib.rs", LIB_FIXED);
    let gold = git(&repo, &["diff", "--binary"]);
    git(&repo, &["checkout", "-q", "src/lib.rs"]);
    write(&repo, "tests/version.rs", VERSION_TEST);
    git(&repo, &["add", "-N", "tests/version.rs"]);
    let tests = git(&repo, &["diff", "--binary"]);
    git(&repo, &["reset", "-q"]);
    std::fs::remove_file(repo.join("tests/version.rs")).unwrap();

    let suite = root.join("suite");
    write(
        &suite,
        "env/Dockerfile",
        "ARG BASE=mergebench-base:bookworm\nFROM ${BASE}\nUSER root\nRUN apt-get update -q && apt-get install -y -q --no-install-recommends cargo libc6-dev gcc >/dev/null && rm -rf /var/lib/apt/lists/*\n",
    );
    write(
        &suite,
        "suite.toml",
        "name = \"crate\"\n[repo]\nsource = \"../repo\"\n[environment]\ndockerfile = \"env/Dockerfile\"\n[tests]\ncommand = \"cargo test --offline --no-fail-fast -- --nocapture --test-threads=1\"\nformat = \"cargo\"\ntimeout = \"5m\"\n",
    );
    write(
        &suite,
        "ver-001/problem.md",
        "`major(\"3.1.4\")` returns 1. It should return 3.\n",
    );
    write(&suite, "ver-001/gold.patch", &gold);
    write(&suite, "ver-001/tests.patch", &tests);
    write(
        &suite,
        "ver-001/task.toml",
        &format!(
            "id = \"ver-001\"\ntitle = \"major reads the minor version\"\nproblem = \"problem.md\"\n[repo]\nbase = \"{base}\"\n[tests]\npatch = \"tests.patch\"\nfail_to_pass = [\"tests/version.rs::test_parse\"]\npass_to_pass = [\"tests/other.rs::test_parse\", \"src/lib.rs::tests::unit_ok\"]\n[gold]\npatch = \"gold.patch\"\n"
        ),
    );
    suite
}

#[test]
fn a_cargo_suite_printing_to_both_streams_grades_the_gold_patch_resolved_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let suite = cargo_suite(dir.path());
    // 20 gold runs (and 20 at the base): every one must read the same.
    let out = bin()
        .args(["tasks", "validate", "--json", "--repeat", "20", "--suite"])
        .arg(&suite)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success(),
        "{v}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v[0]["valid"], true, "{v}");
    assert_eq!(v[0]["flaky"], serde_json::json!([]), "{v}");

    // Through an evaluation: the oracle resolves it, and nothing is flagged.
    let agents = dir.path().join("agents");
    oracle_and_noop(&agents);
    let out = bin()
        .arg("--db")
        .arg(dir.path().join("m.db"))
        .args(["run", "--json", "--agent", "oracle", "--suite"])
        .arg(&suite)
        .arg("--agents-dir")
        .arg(&agents)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = attempt(&r, "oracle");
    assert_eq!(a["outcome"], "resolved", "{a}");
    for flag in ["tests_forged", "unverified", "output_inconsistent"] {
        assert_eq!(a["flags"][flag], false, "{flag}: {a}");
    }
    // Both streams are kept in the stored grade.
    let grade = &a["grade"];
    assert!(
        grade["stderr_tail"].as_str().unwrap().contains("Running"),
        "{grade}"
    );
    assert!(
        grade["stdout_tail"]
            .as_str()
            .unwrap()
            .contains("test result"),
        "{grade}"
    );
}
