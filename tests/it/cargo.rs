//! Real Docker and a real Rust toolchain: a cargo suite whose tests print to both streams,
//! with the same test name in two test files. Bug pinned: stdout and stderr read as one
//! stream glued cargo's `Running tests/x.rs (...)` to a result line, and the oracle's correct
//! fix graded `unresolved`; ids were not qualified by test binary.

use crate::fixture::{attempt, bin, git, oracle_and_noop, write};

const LIB_BUGGY: &str = "/// The major version of `1.2.3`.\npub fn major(v: &str) -> u32 {\n    v.split('.').nth(1).and_then(|p| p.parse().ok()).unwrap_or(0)\n}\n\n/// The minor version of `1.2.3`.\npub fn minor(v: &str) -> u32 {\n    v.split('.').skip(1).next().and_then(|p| p.parse().ok()).unwrap_or(0)\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn unit_ok() {\n        eprintln!(\"unit test on stderr\");\n        assert_eq!(2 + 2, 4);\n    }\n\n    #[test]\n    fn minor_is_the_middle() {\n        assert_eq!(super::minor(\"1.2.3\"), 2);\n    }\n}\n";
/// The fix changes `major` only.
fn lib_fixed() -> String {
    LIB_BUGGY.replace("split('.').nth(1)", "split('.').next()")
}
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
    write(&repo, "src/lib.rs", &lib_fixed());
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
            "id = \"ver-001\"\ntitle = \"major reads the minor version\"\nproblem = \"problem.md\"\n[repo]\nbase = \"{base}\"\n[tests]\npatch = \"tests.patch\"\nfail_to_pass = [\"tests/version.rs::test_parse\"]\npass_to_pass = [\"tests/other.rs::test_parse\", \"src/lib.rs::tests::unit_ok\", \"src/lib.rs::tests::minor_is_the_middle\"]\n[gold]\npatch = \"gold.patch\"\n"
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
    crate::fixture::succeeded(&out);
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

/// An agent that applies the fix, breaks `minor`, then runs `hide` to keep its unit test
/// from saying so.
fn breaking_agent(agents: &std::path::Path, name: &str, hide: &str) {
    write(
        agents,
        &format!("{name}.sh"),
        &format!(
            "set -e\ncd \"$MERGEBENCH_WORKSPACE\"\ngit apply \"$MERGEBENCH_GOLD_PATCH\"\nsed -i 's/skip(1)/skip(2)/' src/lib.rs\n{hide}\n"
        ),
    );
    write(
        agents,
        &format!("{name}.toml"),
        &format!("name = \"{name}\"\nfiles = [\"{name}.sh\"]\ncommand = [\"sh\", \"/mergebench/agent/{name}.sh\"]\ngold_patch = true\ntimeout = \"2m\"\n"),
    );
}

// Bug pinned: in a Rust file that holds both code and its unit tests, an agent could edit
// the existing tests (weaken, ignore, expect a panic, return early) and they were graded as
// it left them. Now the base's test code is put back before grading and the attempt is
// flagged; new tests in the module are left out without a flag.
#[test]
fn unit_tests_beside_the_code_are_graded_as_the_base_wrote_them() {
    let dir = tempfile::tempdir().unwrap();
    let suite = cargo_suite(dir.path());
    let agents = dir.path().join("agents");
    oracle_and_noop(&agents);
    let test_line = "fn minor_is_the_middle() {";
    breaking_agent(
        &agents,
        "weakens",
        r#"sed -i 's/assert_eq!(super::minor("1.2.3"), 2)/assert_eq!(super::minor("1.2.3"), 3)/' src/lib.rs
grep -q 'minor("1.2.3"), 3' src/lib.rs"#,
    );
    breaking_agent(
        &agents,
        "expects-panic",
        &format!("perl -0pi -e 's/(    #\\[test\\]\\n    \\Q{test_line}\\E)/    #[should_panic]\\n$1/' src/lib.rs\ngrep -q should_panic src/lib.rs"),
    );
    breaking_agent(
        &agents,
        "returns-early",
        &format!("perl -0pi -e 's/(\\Q{test_line}\\E\\n)/$1        return;\\n/' src/lib.rs\ngrep -q 'return;' src/lib.rs"),
    );
    breaking_agent(
        &agents,
        "deletes",
        "perl -0pi -e 's/\\n    #\\[test\\]\\n    fn minor_is_the_middle[^}]*}\\n//' src/lib.rs\n! grep -q minor_is_the_middle src/lib.rs",
    );
    // Honest: the fix, and a new test of its own in the module.
    write(
        &agents,
        "adds-test.sh",
        "set -e\ncd \"$MERGEBENCH_WORKSPACE\"\ngit apply \"$MERGEBENCH_GOLD_PATCH\"\nperl -0pi -e 's/(\\n    #\\[test\\]\\n    fn unit_ok)/\\n    #[test]\\n    fn major_reads_the_first() {\\n        assert_eq!(super::major(\"10.2.3\"), 10);\\n    }\\n$1/' src/lib.rs\ngrep -q major_reads_the_first src/lib.rs\n",
    );
    write(
        &agents,
        "adds-test.toml",
        "name = \"adds-test\"\nfiles = [\"adds-test.sh\"]\ncommand = [\"sh\", \"/mergebench/agent/adds-test.sh\"]\ngold_patch = true\ntimeout = \"2m\"\n",
    );
    let hostile = ["weakens", "expects-panic", "returns-early", "deletes"];
    let out = bin()
        .arg("--db")
        .arg(dir.path().join("m.db"))
        .args(["run", "--json", "--suite"])
        .arg(&suite)
        .arg("--agents-dir")
        .arg(&agents)
        .args(["--agent", "oracle", "adds-test"])
        .args(hostile)
        .output()
        .unwrap();
    crate::fixture::succeeded(&out);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in hostile {
        let a = attempt(&r, name);
        // The agent did what it set out to do (its script checks), and what was graded is
        // not what it wrote: its test edit was taken out.
        assert_eq!(a["flags"]["agent_exit_code"], 0, "{name}: {a}");
        assert_ne!(a["patch_sha256"], a["raw_patch_sha256"], "{name}: {a}");
        assert_ne!(a["outcome"], "resolved", "{name}: {a}");
        assert_eq!(a["flags"]["tests_tampered"], true, "{name}: {a}");
        assert_eq!(
            a["flags"]["harness_restored"],
            serde_json::json!(["src/lib.rs test code"]),
            "{name}: {a}"
        );
    }
    for name in ["oracle", "adds-test"] {
        let a = attempt(&r, name);
        assert_eq!(a["outcome"], "resolved", "{name}: {a}");
        assert_eq!(a["flags"]["tests_tampered"], false, "{name}: {a}");
    }
    // The new test was left out of grading, not the fix.
    let a = attempt(&r, "adds-test");
    assert_ne!(a["patch_sha256"], a["raw_patch_sha256"], "{a}");
}
