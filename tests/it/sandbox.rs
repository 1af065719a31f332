//! Real Docker: every outcome and flag, and agents that try to escape, flood, forge or hide.

use crate::fixture::{attempt, bin, sqlite, Fixture};

const APPLY_GOLD: &str =
    "set -e\ncd \"$MERGEBENCH_WORKSPACE\"\ngit apply \"$MERGEBENCH_GOLD_PATCH\"\n";

#[test]
fn every_outcome_and_flag() {
    let f = Fixture::new();
    // Test runs may write 256 MiB to their container's filesystem.
    let suite_toml = f.suite().join("suite.toml");
    let text = std::fs::read_to_string(&suite_toml).unwrap();
    std::fs::write(
        &suite_toml,
        text.replace(
            "timeout = \"2m\"\n",
            "timeout = \"2m\"\ndisk = \"256MiB\"\n",
        ),
    )
    .unwrap();
    f.agent("oracle", APPLY_GOLD, "gold_patch = true\n");
    f.agent("wrongfix", "sed -i 's/a - b/a * b/' calc.py\n", "");
    f.agent(
        "breaker",
        &format!("{APPLY_GOLD}sed -i 's/a \\* b/a + b/' calc.py\n"),
        "gold_patch = true\n",
    );
    f.agent("noop", "true\n", "");
    f.agent(
        "sleeper",
        "echo partial > partial.txt\nsleep 300\n",
        "timeout = \"2s\"\n",
    );
    f.agent(
        "test-editor",
        "printf '\\ndef test_add():\\n    assert True\\n' >> tests/test_calc.py\n",
        "",
    );
    f.agent(
        "exit3",
        &format!("{APPLY_GOLD}exit 3\n"),
        "gold_patch = true\n",
    );
    f.agent(
        "memhog",
        "exec python3 -c 'x = bytearray(1024 * 1024 * 1024); print(len(x))'\n",
        "memory = \"96MiB\"\n",
    );
    // The patch makes the code print fake passing lines in both of pytest's formats, then
    // the real test still fails: printed text alone must not make it pass.
    f.agent(
        "forger",
        "cat >> calc.py <<'PY'\nimport os\nos.write(1, b'tests/test_calc.py::test_add PASSED\\nPASSED tests/test_calc.py::test_add\\n')\nprint('PASSED tests/test_calc.py::test_add')\nPY\n",
        "",
    );
    // Writes far more than its disk limit outside /workspace, then would sleep for minutes.
    f.agent(
        "diskhog",
        "echo started > started.txt\ndd if=/dev/zero of=/var/tmp/fill bs=1M count=300 2>/dev/null\nsleep 300\n",
        "disk = \"128MiB\"\ntimeout = \"4m\"\n",
    );
    // Its patch makes the code under test write far more than the test run may, then hang.
    f.agent(
        "testhog",
        "cat >> calc.py <<'PY'\nwith open('/var/tmp/fill', 'wb') as out:\n    for _ in range(400):\n        out.write(bytes(1 << 20))\nimport time\ntime.sleep(300)\nPY\n",
        "",
    );
    crate::fixture::write(&f.agents(), "badcmd.toml", "name = \"badcmd\"\ncommand = [\"/no/such/program\"]\ntimeout = \"30s\"\nmemory = \"128MiB\"\n");
    let agents = [
        "oracle",
        "wrongfix",
        "breaker",
        "noop",
        "sleeper",
        "test-editor",
        "exit3",
        "memhog",
        "forger",
        "diskhog",
        "testhog",
        "badcmd",
    ];
    let r = f.run(&agents, &["--jobs", "4"]);
    let outcome = |a: &str| attempt(&r, a)["outcome"].as_str().unwrap().to_string();
    let flag = |a: &str, k: &str| attempt(&r, a)["flags"][k].clone();
    assert_eq!(outcome("oracle"), "resolved");
    assert_eq!(outcome("wrongfix"), "unresolved");
    assert_eq!(outcome("breaker"), "unresolved");
    assert_eq!(outcome("noop"), "empty_patch");
    assert_eq!(outcome("sleeper"), "agent_timeout");
    assert_eq!(outcome("test-editor"), "unresolved");
    assert_eq!(outcome("exit3"), "resolved");
    assert_eq!(outcome("forger"), "unresolved");
    assert_eq!(outcome("badcmd"), "infra_error");
    assert_eq!(
        attempt(&r, "badcmd")["infra_retries"],
        2,
        "infra errors are retried twice"
    );
    assert_eq!(flag("exit3", "agent_exit_code"), 3);
    assert_eq!(flag("oracle", "agent_exit_code"), 0);
    assert_eq!(flag("test-editor", "scope_violation"), true);
    assert_eq!(flag("test-editor", "tests_tampered"), true);
    assert_eq!(flag("oracle", "scope_violation"), false);
    assert_eq!(flag("memhog", "oom_killed"), true);
    assert_eq!(flag("oracle", "oom_killed"), false);
    // Killed for its writes, not at its deadline; what it left in /workspace was graded.
    assert_eq!(flag("diskhog", "disk_limit"), true);
    assert_eq!(outcome("diskhog"), "unresolved");
    assert_eq!(flag("oracle", "disk_limit"), false);
    // The test run it caused was killed for its writes, not at the tests' deadline.
    assert_eq!(flag("testhog", "tests_disk_limit"), true);
    assert_eq!(flag("testhog", "tests_timed_out"), false);
    assert_eq!(outcome("testhog"), "unresolved");
    assert_eq!(flag("oracle", "tests_disk_limit"), false);

    // Which tests passed, per agent.
    let status =
        |a: &str, kind: &str| attempt(&r, a)["grade"]["verdict"][kind][0]["status"].clone();
    assert_eq!(status("breaker", "fail_to_pass"), "passed");
    assert_eq!(status("breaker", "pass_to_pass"), "failed");
    assert_eq!(status("forger", "fail_to_pass"), "failed");

    // The timed-out agent's partial patch is kept and graded.
    let db = f.db();
    let partial = sqlite(&db, "SELECT p.bytes FROM attempts a JOIN patches p ON p.sha256 = a.raw_patch_sha256 WHERE a.agent = 'sleeper'");
    assert!(partial[0][0].contains("partial.txt"), "{partial:?}");
    // The test editor's changes are recorded raw but reverted before grading.
    let te = sqlite(&db, "SELECT (SELECT bytes FROM patches WHERE sha256 = a.raw_patch_sha256), (SELECT size FROM patches WHERE sha256 = a.patch_sha256) FROM attempts a WHERE a.agent = 'test-editor'");
    assert!(te[0][0].contains("tests/test_calc.py"));
    assert_eq!(te[0][1], "0");

    // Provenance on every attempt row.
    let rows = sqlite(&db, "SELECT task_hash, agent_hash, env_image, mergebench_version, grader_version FROM attempts WHERE outcome != 'infra_error'");
    assert_eq!(rows.len(), agents.len() - 1);
    for row in rows {
        assert!(row.iter().all(|v| v != "NULL" && !v.is_empty()), "{row:?}");
        assert!(row[2].starts_with("sha256:"), "{row:?}");
    }
    // Nothing of this run is left in Docker.
    assert_eq!(leftover_containers(), "", "containers left behind");
}

/// Containers whose owning mergebench process is gone: what a run failed to clean up.
/// (Containers of tests running at the same time have live owners and are not counted.)
fn leftover_containers() -> String {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "label=mergebench",
            "--format",
            "{{.ID}} {{.Label \"mergebench.owner\"}}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| crate::fixture::owner_leaked(l.split(' ').nth(1).unwrap_or("")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn hostile_agents_stay_inside() {
    let f = Fixture::new();
    let marker = f.dir.path().join("pwned");
    f.agent(
        "forkbomb",
        "f() { f | f & }; f\nsleep 30\n",
        "timeout = \"6s\"\npids = 64\n",
    );
    f.agent(
        "flood",
        "head -c 1073741824 /dev/zero\n",
        "timeout = \"120s\"\n",
    );
    f.agent(
        "symlinker",
        "ln -s /etc/passwd leak\nln -s ../../../etc/shadow deep\nmkdir -p d && ln -s /etc d/etc\n",
        "",
    );
    // Writes everywhere it should not, deletes .git, plants a git hook and an fsmonitor that
    // would run on the host if anything there used the agent's .git.
    f.agent(
        "escaper",
        &format!(
            "o=$MERGEBENCH_OUT/report.txt\n\
             (echo x > /etc/evil) 2>/dev/null && echo etc=written >> $o || echo etc=denied >> $o\n\
             (echo x > /mergebench/agent/evil) 2>/dev/null && echo agentdir=written >> $o || echo agentdir=denied >> $o\n\
             (echo x > /mergebench/problem.md) 2>/dev/null && echo problem=written >> $o || echo problem=denied >> $o\n\
             echo x > /tmp/outside\n\
             printf '[core]\\n\\tfsmonitor = touch {m}\\n' >> .git/config\n\
             mkdir -p .git/hooks && printf '#!/bin/sh\\ntouch {m}\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit\n\
             rm -rf .git\n\
             sed -i 's/a - b/a + b/' calc.py\n",
            m = marker.display()
        ),
        "",
    );
    f.agent(
        "inspector",
        "o=$MERGEBENCH_OUT/report.txt\n\
         echo \"uid=$(id -u)\" >> $o\n\
         grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr -s '\\t ' '=' >> $o\n\
         echo \"net=$(ls /sys/class/net | tr '\\n' ' ')\" >> $o\n\
         (getent hosts example.com >/dev/null 2>&1) && echo dns=resolved >> $o || echo dns=none >> $o\n\
         test -e deploy/secret.pem && echo deny=present >> $o || echo deny=absent >> $o\n\
         echo \"hidden=$(grep -c test_add tests/test_calc.py)\" >> $o\n\
         echo \"commits=$(git rev-list --count HEAD) remotes=$(git remote | wc -l)\" >> $o\n\
         test -e /var/run/docker.sock && echo docker=present >> $o || echo docker=absent >> $o\n\
         env | cut -d= -f1 | sort | tr '\\n' ' ' > $MERGEBENCH_OUT/env.txt\n",
        "env = { LOG_LEVEL = \"info\" }\n",
    );
    let r = f.run(
        &["forkbomb", "flood", "symlinker", "escaper", "inspector"],
        &["--jobs", "2"],
    );
    let db = f.db();
    let artifact = |agent: &str, name: &str| -> String {
        sqlite(&db, &format!("SELECT x.bytes FROM artifacts x JOIN attempts a ON a.id = x.attempt_id WHERE a.agent = '{agent}' AND x.name = '{name}'"))
            .first()
            .map(|r| r[0].clone())
            .unwrap_or_default()
    };

    // The fork bomb is contained by the pids limit and the deadline.
    assert!(["agent_timeout", "empty_patch"]
        .contains(&attempt(&r, "forkbomb")["outcome"].as_str().unwrap()));

    // 1 GiB of output: the head is kept up to the cap, the rest counted.
    assert_eq!(attempt(&r, "flood")["flags"]["log_truncated"], true);
    let log = sqlite(&db, "SELECT length(l.bytes), l.total_bytes, l.truncated FROM logs l JOIN attempts a ON a.id = l.attempt_id WHERE a.agent = 'flood' AND l.kind = 'agent'");
    assert_eq!(log[0][0], (1 << 20).to_string());
    assert_eq!(log[0][1], (1u64 << 30).to_string());

    // Symlinks are recorded as links, never followed.
    let patch = &sqlite(&db, "SELECT p.bytes FROM attempts a JOIN patches p ON p.sha256 = a.raw_patch_sha256 WHERE a.agent = 'symlinker'")[0][0];
    assert!(patch.contains("new file mode 120000"), "{patch}");
    assert!(patch.contains("+/etc/passwd"), "{patch}");
    assert!(
        !patch.contains("root:x:0:0"),
        "the link was followed: {patch}"
    );

    // Writes outside the workspace fail or stay in the container; deleting .git changes
    // nothing; no hook or fsmonitor the agent planted runs on this machine.
    let report = artifact("escaper", "report.txt");
    assert!(
        report.contains("etc=denied")
            && report.contains("agentdir=denied")
            && report.contains("problem=denied"),
        "{report}"
    );
    assert_eq!(attempt(&r, "escaper")["outcome"], "resolved");
    assert!(
        !marker.exists(),
        "a hook planted by the agent ran on the host"
    );
    let ep = &sqlite(&db, "SELECT p.bytes FROM attempts a JOIN patches p ON p.sha256 = a.raw_patch_sha256 WHERE a.agent = 'escaper'")[0][0];
    assert!(!ep.contains("outside") && !ep.contains(".git/"), "{ep}");

    // What the agent sees.
    let report = artifact("inspector", "report.txt");
    for expected in [
        "uid=1000",
        "CapEff:=0000000000000000",
        "NoNewPrivs:=1",
        "net=lo ",
        "dns=none",
        "deny=absent",
        "hidden=0",
        "commits=1 remotes=0",
        "docker=absent",
    ] {
        assert!(
            report.contains(expected),
            "missing `{expected}` in:\n{report}"
        );
    }
    let env = artifact("inspector", "env.txt");
    for v in [
        "MERGEBENCH_OUT",
        "MERGEBENCH_PROBLEM",
        "MERGEBENCH_WORKSPACE",
        "LOG_LEVEL",
    ] {
        assert!(env.contains(v), "{env}");
    }
    for leaked in ["CARGO", "RUSTUP", "MERGEBENCH_GOLD_PATCH", "MERGEBENCH_DB"] {
        assert!(
            !env.split(' ').any(|k| k.starts_with(leaked)),
            "{leaked} leaked into {env}"
        );
    }
    assert_eq!(leftover_containers(), "");
}

#[test]
fn secrets_reach_the_agent_but_never_the_store() {
    let f = Fixture::new();
    let secret = "sk-test-5f1b2c3d4e5f60718293a4b5";
    f.agent("talker", "echo \"my key is $MB_TEST_SECRET\"\necho \"$MB_TEST_SECRET\" > $MERGEBENCH_OUT/trajectory.jsonl\n", "secrets = [\"MB_TEST_SECRET\"]\n");
    // Missing: refused before anything runs, naming the variable, not a value.
    let out = bin()
        .arg("--db")
        .arg(f.db())
        .args(["run", "--suite"])
        .arg(f.suite())
        .arg("--agents-dir")
        .arg(f.agents())
        .args(["--agent", "talker"])
        .env_remove("MB_TEST_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MB_TEST_SECRET"));
    let r = f.run_env(&["talker"], &[], &[("MB_TEST_SECRET", secret)]);
    assert_eq!(attempt(&r, "talker")["outcome"], "empty_patch");
    let log = sqlite(&f.db(), "SELECT bytes FROM logs WHERE kind = 'agent'");
    assert!(log[0][0].contains("[MB_TEST_SECRET redacted]"), "{log:?}");
    let mut all = Vec::new();
    for p in [f.db(), f.db().with_extension("db-wal")] {
        all.extend(std::fs::read(p).unwrap_or_default());
    }
    assert!(
        !all.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the secret's value is in the database file"
    );
}

/// Waits until run `pid` has stored an attempt and has containers running the next ones.
fn wait_until_running(f: &Fixture, pid: u32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got going"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        let stored =
            f.db().exists() && sqlite(&f.db(), "SELECT count(*) FROM attempts")[0][0] != "0";
        if stored && !containers_of(pid).is_empty() {
            return;
        }
    }
}

/// Containers (running or not) whose owner label names process `pid`.
fn containers_of(pid: u32) -> Vec<String> {
    owned_by(&["ps", "-a"], pid)
}

/// Docker objects of one kind (`ps -a`, `network ls`, `volume ls`) owned by process `pid`,
/// as their owner labels.
fn owned_by(list: &[&str], pid: u32) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(list)
        .args([
            "--filter",
            "label=mergebench",
            "--format",
            "{{.Label \"mergebench.owner\"}}",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker {list:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|owner| owner.split(':').nth(1) == Some(&pid.to_string()))
        .map(str::to_string)
        .collect()
}

#[test]
fn kill_9_mid_run_then_resume_repeats_nothing_and_leaves_nothing() {
    let f = Fixture::new();
    f.agent("slow", "sleep 4\nsed -i 's/a - b/a + b/' calc.py\n", "");
    let args = |c: &mut std::process::Command| {
        c.arg("--db")
            .arg(f.db())
            .args(["run", "--suite"])
            .arg(f.suite())
            .arg("--agents-dir")
            .arg(f.agents())
            .args([
                "--agent",
                "slow",
                "--attempts",
                "6",
                "--jobs",
                "2",
                "--json",
            ]);
    };
    let mut c = bin();
    args(&mut c);
    let mut child = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_until_running(&f, pid);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let done_before: usize = sqlite(&f.db(), "SELECT count(*) FROM attempts")[0][0]
        .parse()
        .unwrap();
    assert!(done_before < 6, "killed too late to test resuming");
    assert!(
        !containers_of(pid).is_empty(),
        "the killed run should have left containers"
    );

    let mut c = bin();
    args(&mut c);
    let out = c.output().unwrap();
    crate::fixture::succeeded(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already finished"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = sqlite(
        &f.db(),
        "SELECT attempt, count(*) FROM attempts GROUP BY attempt ORDER BY attempt",
    );
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(
        rows.iter().all(|r| r[1] == "1"),
        "an attempt was repeated: {rows:?}"
    );
    assert_eq!(
        sqlite(&f.db(), "SELECT count(DISTINCT eval_id) FROM attempts")[0][0],
        "1",
        "resumed the same evaluation"
    );
    assert!(
        containers_of(pid).is_empty(),
        "the killed run's containers are still there"
    );
    assert!(
        owned_by(&["network", "ls"], pid).is_empty(),
        "networks left behind"
    );
    assert!(
        owned_by(&["volume", "ls"], pid).is_empty(),
        "volumes left behind"
    );
}

#[test]
fn patches_are_extracted_exactly() {
    let f = Fixture::new();
    // Every kind of change at once: edit, new, delete, rename, mode, binary, symlink, an
    // ignored file (excluded) and an untracked one (included).
    f.agent(
        "kinds",
        "set -e\n\
         sed -i 's/a - b/a + b/' calc.py\n\
         echo notes > NOTES.md\n\
         git mv README.md README.txt\n\
         printf '#!/bin/sh\\necho hi\\n' > run.sh && chmod +x run.sh\n\
         printf '\\000\\001\\002\\377binary' > blob.bin\n\
         ln -s calc.py alias.py\n\
         echo '*.log' > .gitignore && echo noise > debug.log\n",
        "",
    );
    f.agent("deleter", "git rm -q README.md\n", "");
    f.agent("chmodder", "chmod +x calc.py\n", "");
    let r = f.run(&["kinds", "deleter", "chmodder"], &["--jobs", "3"]);
    let db = f.db();
    let patch = |agent: &str| {
        sqlite(&db, &format!("SELECT p.bytes FROM attempts a JOIN patches p ON p.sha256 = a.raw_patch_sha256 WHERE a.agent = '{agent}'"))[0][0].clone()
    };
    let p = patch("kinds");
    for needle in [
        "rename from README.md",
        "rename to README.txt",
        "new file mode 100755",
        "b/run.sh",
        "GIT binary patch",
        "new file mode 120000",
        "b/alias.py",
        "b/NOTES.md",
        "+*.log",
    ] {
        assert!(p.contains(needle), "missing `{needle}` in:\n{p}");
    }
    assert!(
        !p.contains("debug.log"),
        "an ignored file was included:\n{p}"
    );
    assert_eq!(
        attempt(&r, "kinds")["outcome"],
        "resolved",
        "the exact patch applies on a clean base"
    );
    assert!(patch("deleter").contains("deleted file mode 100644"));
    let c = patch("chmodder");
    assert!(
        c.contains("old mode 100644") && c.contains("new mode 100755"),
        "{c}"
    );
}

#[test]
fn ctrl_c_stops_cleanly_and_keeps_finished_attempts() {
    let f = Fixture::new();
    f.agent("slow", "sleep 4\n", "");
    let mut c = bin();
    c.arg("--db")
        .arg(f.db())
        .args(["run", "--suite"])
        .arg(f.suite())
        .arg("--agents-dir")
        .arg(f.agents())
        .args(["--agent", "slow", "--attempts", "6", "--jobs", "2"]);
    let child = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_until_running(&f, pid);
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(
        containers_of(pid).is_empty(),
        "Ctrl-C left containers behind"
    );
    let kept: usize = sqlite(&f.db(), "SELECT count(*) FROM attempts")[0][0]
        .parse()
        .unwrap();
    assert!((1..6).contains(&kept), "{kept}");
}
