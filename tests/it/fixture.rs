//! A tiny real suite built in a temporary folder: a Python repository with a bug, its hidden
//! test and its fix, plus agent specs written by each test.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mergebench"));
    c.env_remove("MERGEBENCH_DB").env("NO_COLOR", "1");
    c
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that a command succeeded, showing its error output when it did not.
#[track_caller]
pub fn succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

const CALC_BUGGY: &str = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n";
const CALC_FIXED: &str = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n";
const TESTS_BASE: &str =
    "from calc import add, mul\n\n\ndef test_mul():\n    assert mul(3, 4) == 12\n";
const TESTS_HIDDEN: &str = "from calc import add, mul\n\n\ndef test_mul():\n    assert mul(3, 4) == 12\n\n\ndef test_add():\n    assert add(2, 3) == 5\n";

impl Fixture {
    /// One task (`calc-001`): `add` subtracts; the hidden test `test_add` catches it.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        write(&repo, "calc.py", CALC_BUGGY);
        write(&repo, "tests/test_calc.py", TESTS_BASE);
        write(&repo, "README.md", "calc\n");
        write(&repo, "deploy/secret.pem", "-----BEGIN FAKE KEY-----\n");
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-qm", "base"]);
        let base = git(&repo, &["rev-parse", "HEAD"]).trim().to_string();
        write(&repo, "calc.py", CALC_FIXED);
        let gold = git(&repo, &["diff", "--binary"]);
        git(&repo, &["checkout", "-q", "calc.py"]);
        write(&repo, "tests/test_calc.py", TESTS_HIDDEN);
        let tests = git(&repo, &["diff", "--binary"]);
        git(&repo, &["checkout", "-q", "tests/test_calc.py"]);

        let suite = dir.path().join("suite");
        write(
            &suite,
            "env/Dockerfile",
            "ARG BASE=mergebench-base:bookworm\nFROM ${BASE}\n",
        );
        write(
            &suite,
            "suite.toml",
            "name = \"fixture\"\n[repo]\nsource = \"../repo\"\n[environment]\ndockerfile = \"env/Dockerfile\"\n[tests]\ncommand = \"python3 -m pytest -rA -p no:cacheprovider\"\nformat = \"pytest\"\ntimeout = \"2m\"\n[scope]\nread_only = [\"tests/**\", \"conftest.py\"]\ndeny = [\"deploy/**\"]\n",
        );
        write(
            &suite,
            "calc-001/problem.md",
            "`add(2, 3)` returns -1. It should return 5.\n",
        );
        write(&suite, "calc-001/gold.patch", &gold);
        write(&suite, "calc-001/tests.patch", &tests);
        write(
            &suite,
            "calc-001/task.toml",
            &format!(
                "id = \"calc-001\"\ntitle = \"add subtracts\"\ncreated = 2026-03-01\ntags = [\"python\"]\nproblem = \"problem.md\"\n[repo]\nbase = \"{base}\"\n[tests]\npatch = \"tests.patch\"\nfail_to_pass = [\"tests/test_calc.py::test_add\"]\npass_to_pass = [\"tests/test_calc.py::test_mul\"]\n[gold]\npatch = \"gold.patch\"\n"
            ),
        );
        std::fs::create_dir_all(dir.path().join("agents")).unwrap();
        Fixture { dir }
    }

    pub fn suite(&self) -> PathBuf {
        self.dir.path().join("suite")
    }

    pub fn agents(&self) -> PathBuf {
        self.dir.path().join("agents")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("m.db")
    }

    /// An agent whose command is one shell script.
    pub fn agent(&self, name: &str, script: &str, extra: &str) {
        let default = |key: &str, value: &str| {
            if extra.contains(&format!("{key} =")) {
                String::new()
            } else {
                format!("{key} = \"{value}\"\n")
            }
        };
        write(&self.agents(), &format!("{name}.sh"), script);
        write(
            &self.agents(),
            &format!("{name}.toml"),
            &format!("name = \"{name}\"\nfiles = [\"{name}.sh\"]\ncommand = [\"sh\", \"/mergebench/agent/{name}.sh\"]\ncpus = 1.0\n{extra}{}{}", default("timeout", "60s"), default("memory", "256MiB")),
        );
    }

    /// `mergebench run` on the fixture suite; returns `results --json`.
    pub fn run(&self, agents: &[&str], extra: &[&str]) -> serde_json::Value {
        self.run_env(agents, extra, &[])
    }

    pub fn run_env(
        &self,
        agents: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> serde_json::Value {
        let mut c = bin();
        c.envs(env.iter().copied());
        c.arg("--db")
            .arg(self.db())
            .arg("run")
            .arg("--suite")
            .arg(self.suite())
            .arg("--agents-dir")
            .arg(self.agents())
            .arg("--json")
            .arg("--agent");
        c.args(agents);
        c.args(extra);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "run failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
}

/// The attempt of `agent` in a `results --json` document.
pub fn attempt<'a>(results: &'a serde_json::Value, agent: &str) -> &'a serde_json::Value {
    results["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == agent)
        .unwrap_or_else(|| panic!("no attempt for {agent}"))
}

/// Queries the store file directly, not through the library, so a bug there cannot hide.
pub fn sqlite(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let cols = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..cols)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => "NULL".to_string(),
                rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                rusqlite::types::ValueRef::Real(f) => f.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                rusqlite::types::ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
            })
            .collect())
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// mergebench processes a test killed on purpose: what they leave behind until `gc` runs is
/// expected, and other tests running at the same time must not count it as a leak.
pub static KILLED: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Whether a mergebench owner label (`host:pid:start`) names a process that is gone without
/// a test having killed it on purpose.
pub fn owner_leaked(owner: &str) -> bool {
    // Owner-less: an image build's intermediate container, which inherits the labels of a
    // mergebench image and is removed by the build itself.
    if owner.is_empty() {
        return false;
    }
    let pid = owner.split(':').nth(1).unwrap_or("0");
    if KILLED.lock().unwrap().iter().any(|k| k.to_string() == pid) {
        return false;
    }
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// Records attempt 1 of `agent` on `task` with `patch` (raw and graded) and `outcome`, with a
/// passing grade when resolved: an evaluation filled without Docker.
pub fn record_attempt(
    store: &mergebench::store::Store,
    eval_id: &str,
    task: &mergebench::config::suite::Task,
    agent: &str,
    patch: Vec<u8>,
    outcome: mergebench::score::outcome::Outcome,
) {
    let p = mergebench::repo::patch::Patch::new(patch);
    store
        .record_attempt(&mergebench::store::NewAttempt {
            key: mergebench::store::AttemptKey {
                eval_id: eval_id.into(),
                task_id: task.id.clone(),
                task_hash: task.hash.clone(),
                agent: agent.into(),
                agent_hash: "h".into(),
                attempt: 1,
            },
            run: mergebench::store::AttemptRun {
                outcome,
                grader_version: mergebench::score::grade::GRADER_VERSION.into(),
                ..Default::default()
            },
            raw_patch: Some(p.clone()),
            graded_patch: Some(p),
            grade_json: (outcome == mergebench::score::outcome::Outcome::Resolved)
                .then(|| passing_grade(task)),
            ..Default::default()
        })
        .unwrap();
}

/// A stored grade in which every required test of `task` passed: for stores filled without
/// Docker (judge, labeling and report tests).
pub fn passing_grade(task: &mergebench::config::suite::Task) -> String {
    use mergebench::score::grade::Grade;
    use mergebench::score::outcome::{TestResult, TestVerdict};
    use mergebench::testparse::TestStatus;
    let pass = |ids: &[String]| -> Vec<TestResult> {
        ids.iter()
            .map(|id| TestResult {
                id: id.clone(),
                status: Some(TestStatus::Passed),
            })
            .collect()
    };
    serde_json::to_string(&Grade {
        applied: true,
        apply_method: None,
        apply_error: None,
        verdict: Some(TestVerdict {
            fail_to_pass: pass(&task.tests.fail_to_pass),
            pass_to_pass: pass(&task.tests.pass_to_pass),
            exit_code: 0,
            timed_out: false,
            inconsistent: false,
            forged: None,
            unverified: None,
        }),
        output: "== 9 passed in 0.12s ==".into(),
        stdout_tail: "== 9 passed in 0.12s ==".into(),
        stderr_tail: String::new(),
        output_bytes: 23,
        parse_error: None,
        oom_killed: false,
        disk_exceeded: false,
        seconds: 1.0,
    })
    .unwrap()
}

/// Writes the two agents every suite is proven with into `dir`: `oracle` applies the task's
/// gold patch, `noop` changes nothing.
pub fn oracle_and_noop(dir: &Path) {
    write(
        dir,
        "oracle.sh",
        "set -e\ncd \"$MERGEBENCH_WORKSPACE\"\ngit apply \"$MERGEBENCH_GOLD_PATCH\"\n",
    );
    write(
        dir,
        "oracle.toml",
        "name = \"oracle\"\nfiles = [\"oracle.sh\"]\ncommand = [\"sh\", \"/mergebench/agent/oracle.sh\"]\ngold_patch = true\ntimeout = \"2m\"\n",
    );
    write(dir, "noop.sh", "true\n");
    write(
        dir,
        "noop.toml",
        "name = \"noop\"\nfiles = [\"noop.sh\"]\ncommand = [\"sh\", \"/mergebench/agent/noop.sh\"]\ntimeout = \"1m\"\n",
    );
}
