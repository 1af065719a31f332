//! The command line: exit codes and the messages users see for bad input.

use crate::fixture::{bin, write, Fixture};

fn run(args: &[&str], cwd: &std::path::Path) -> (i32, String, String) {
    let out = bin().args(args).current_dir(cwd).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_task_files_name_file_line_and_fix() {
    let f = Fixture::new();
    let task = f.suite().join("calc-001/task.toml");
    let good = std::fs::read_to_string(&task).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        // (replace, with, expected fragment)
        ("tags = [\"python\"]", "tags = \"python\"", "task.toml:4"),
        (
            "problem = \"problem.md\"",
            "problem = \"missing.md\"",
            "task.toml:5: problem statement",
        ),
        (
            "fail_to_pass = [\"tests/test_calc.py::test_add\"]",
            "fail_to_pass = []",
            "fail_to_pass is empty",
        ),
        (
            "[gold]",
            "[gold]\ncolour = \"red\"",
            "unknown field `colour`",
        ),
    ];
    for (from, to, expected) in cases {
        std::fs::write(&task, good.replace(from, to)).unwrap();
        let (code, _out, err) = run(
            &["tasks", "list", "--suite", f.suite().to_str().unwrap()],
            f.dir.path(),
        );
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(expected), "expected `{expected}` in:\n{err}");
        assert!(err.contains("fix:"), "{err}");
    }
    std::fs::write(&task, good).unwrap();
    let (code, out, err) = run(
        &[
            "tasks",
            "list",
            "--suite",
            f.suite().to_str().unwrap(),
            "--json",
        ],
        f.dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tasks"][0]["id"], "calc-001");
    assert_eq!(v["tasks"][0]["created"], "2026-03-01");
}

#[test]
fn unknown_agents_and_suites_are_usage_errors() {
    let f = Fixture::new();
    write(
        &f.agents(),
        "noop.toml",
        "name = \"noop\"\ncommand = [\"true\"]\n",
    );
    let suite = f.suite();
    let agents = f.agents();
    let (code, _, err) = run(
        &[
            "run",
            "--suite",
            suite.to_str().unwrap(),
            "--agents-dir",
            agents.to_str().unwrap(),
            "--agent",
            "nope",
        ],
        f.dir.path(),
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("no agent spec named `nope`") && err.contains("use one of: noop"),
        "{err}"
    );
    let (code, _, err) = run(
        &["run", "--suite", "/no/such/suite", "--agent", "noop"],
        f.dir.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("no such suite folder"), "{err}");
    // Reading commands never create a database: a mistyped --db is named.
    let (code, _, err) = run(&["results"], f.dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("no database at"), "{err}");
    assert!(!f.dir.path().join("mergebench.db").exists());
    let (code, _, _) = run(&["run", "--bogus"], f.dir.path());
    assert_eq!(code, 2);
}

#[test]
fn docker_unreachable_is_an_environment_error() {
    let f = Fixture::new();
    write(
        &f.agents(),
        "noop.toml",
        "name = \"noop\"\ncommand = [\"true\"]\n",
    );
    let out = bin()
        .args(["run", "--suite"])
        .arg(f.suite())
        .arg("--agents-dir")
        .arg(f.agents())
        .args(["--agent", "noop"])
        .current_dir(f.dir.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("Docker is unreachable at unix:///nonexistent/docker.sock")
            && err.contains("fix:"),
        "{err}"
    );
    // Nothing was half-written: no evaluation exists.
    assert!(
        !f.dir.path().join("mergebench.db").exists()
            || crate::fixture::sqlite(
                &f.dir.path().join("mergebench.db"),
                "SELECT count(*) FROM evaluations"
            )[0][0]
                == "0"
    );
}

#[test]
fn an_unknown_image_is_an_environment_error_naming_the_file() {
    let f = Fixture::new();
    let suite = f.suite().join("suite.toml");
    let text = std::fs::read_to_string(&suite).unwrap().replace(
        "dockerfile = \"env/Dockerfile\"",
        "image = \"mergebench-no-such-image:1\"",
    );
    std::fs::write(&suite, text).unwrap();
    let (out, err) = run_noop(&f);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("mergebench-no-such-image:1")
            && err.contains("task.toml")
            && err.contains("fix:"),
        "{err}"
    );
}

#[test]
fn a_dockerfile_that_does_not_build_names_the_dockerfile() {
    let f = Fixture::new();
    write(
        &f.suite(),
        "env/Dockerfile",
        "ARG BASE=mergebench-base:bookworm\nFROM ${BASE}\nRUN exit 7\n",
    );
    let (out, err) = run_noop(&f);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("env/Dockerfile")
            && err.contains("image build failed")
            && err.contains("fix:"),
        "{err}"
    );
    // Nothing was half-written: no evaluation was opened.
    assert_eq!(
        crate::fixture::sqlite(&f.db(), "SELECT count(*) FROM evaluations")[0][0],
        "0"
    );
}

/// `run` with a no-op agent on the fixture suite: (output, stderr).
fn run_noop(f: &Fixture) -> (std::process::Output, String) {
    write(
        &f.agents(),
        "noop.toml",
        "name = \"noop\"\ncommand = [\"true\"]\n",
    );
    let out = bin()
        .arg("--db")
        .arg(f.db())
        .args(["run", "--suite"])
        .arg(f.suite())
        .arg("--agents-dir")
        .arg(f.agents())
        .args(["--agent", "noop"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, err)
}

#[test]
fn images_list_shows_the_base_and_built_environments() {
    let f = Fixture::new();
    let (out, err) = run_noop(&f);
    assert!(out.status.success(), "{err}");
    let out = bin().args(["images", "list", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"base"), "{v}");
    assert!(
        v.as_array().unwrap().iter().any(|i| i["tag"]
            .as_str()
            .is_some_and(|t| t.starts_with("mergebench-env:"))),
        "{v}"
    );
}
