//! Scale-out: an evaluation run as shards (`run --shard I/N`), each into its own store, then
//! joined with `merge`, reports the same as one run on one machine; `plan` replays it.

use crate::fixture::bin;
use serde_json::Value;
use std::path::Path;

const DEMO_AGENTS: &[&str] = &["oracle", "noop", "regressor", "test-editor", "overreach"];

fn mb(db: &Path, args: &[&str]) -> String {
    let out = bin().arg("--db").arg(db).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "mergebench {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_demo(db: &Path, shard: Option<&str>) {
    let mut args = vec![
        "run",
        "--suite",
        "tasks/demo",
        "--judge",
        "heuristic",
        "--json",
    ];
    if let Some(s) = shard {
        args.extend(["--shard", s]);
    }
    args.push("--agent");
    args.extend(DEMO_AGENTS);
    mb(db, &args);
}

/// What must not depend on where an attempt ran: ids, times, durations, the random canary
/// names in the test output and the evaluation's own id are left out; everything that
/// scores (outcome, flags, patches, conventions, the judge's verdict, mergeability) stays.
fn scored(results: &Value) -> Vec<Value> {
    let mut rows: Vec<Value> = results["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            serde_json::json!({
                "task": a["task_id"], "agent": a["agent"], "attempt": a["attempt"],
                "task_hash": a["task_hash"], "agent_hash": a["agent_hash"],
                "outcome": a["outcome"], "flags": a["flags"],
                "patch": a["patch_sha256"], "raw_patch": a["raw_patch_sha256"],
                "files": a["files_changed"], "added": a["lines_added"], "removed": a["lines_removed"],
                "conventions": a["conventions"], "mergeable": a["mergeable"],
                "verdict": a["judge"]["verdict"], "usage": a["usage"],
            })
        })
        .collect();
    rows.sort_by_key(|r| r.to_string());
    rows
}

/// The leaderboard without its evaluation id, dates and timings.
fn board(lb: &str) -> Value {
    let mut v: Value = serde_json::from_str(lb).unwrap();
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| {
                    !(k == "id"
                        || k == "evaluation"
                        || k == "created_at"
                        || k == "nights"
                        || k.ends_with("_seconds"))
                });
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[test]
fn two_shards_merged_report_what_one_run_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, s1, s2, all) = (
        tmp.path().join("one.db"),
        tmp.path().join("s1.db"),
        tmp.path().join("s2.db"),
        tmp.path().join("all.db"),
    );
    run_demo(&one, None);
    run_demo(&s1, Some("1/2"));
    run_demo(&s2, Some("2/2"));
    // Each shard ran only its own tasks, and together every task once.
    let tasks = |db: &Path| -> Vec<String> {
        let r: Value = serde_json::from_str(&mb(db, &["results", "--json"])).unwrap();
        let mut t: Vec<String> = r["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["task_id"].as_str().unwrap().to_string())
            .collect();
        t.sort();
        t.dedup();
        t
    };
    let (t1, t2) = (tasks(&s1), tasks(&s2));
    assert_eq!(t1.len(), 7);
    assert_eq!(t2.len(), 7);
    assert!(t1.iter().all(|t| !t2.contains(t)), "{t1:?} {t2:?}");

    let said = mb(
        &all,
        &[
            "merge",
            s1.to_str().unwrap(),
            s2.to_str().unwrap(),
            "--into",
            all.to_str().unwrap(),
        ],
    );
    assert!(said.contains("70 attempts copied"), "{said}");
    assert!(said.contains("complete"), "{said}");
    let results =
        |db: &Path| -> Value { serde_json::from_str(&mb(db, &["results", "--json"])).unwrap() };
    let (r_one, r_all) = (results(&one), results(&all));
    assert_eq!(scored(&r_all).len(), 70);
    assert_eq!(scored(&r_one), scored(&r_all));
    assert_eq!(r_one["agents"], r_all["agents"]);
    let lb = |db: &Path| board(&mb(db, &["report", "leaderboard", "--format", "json"]));
    assert_eq!(lb(&one), lb(&all));

    // Merging again changes nothing.
    let again = mb(
        &all,
        &[
            "merge",
            s2.to_str().unwrap(),
            s1.to_str().unwrap(),
            "--into",
            all.to_str().unwrap(),
        ],
    );
    assert!(again.contains("0 attempts copied"), "{again}");
    assert_eq!(scored(&results(&all)), scored(&r_one));

    // The capacity plan replays the merged evaluation: one machine with one job is the sum
    // of the attempts' durations, and two machines are no slower than one.
    let plan = |m: &str, j: &str| -> Value {
        serde_json::from_str(&mb(
            &all,
            &[
                "plan",
                "--machines",
                m,
                "--jobs",
                j,
                "--deadline",
                "1h",
                "--json",
            ],
        ))
        .unwrap()
    };
    let (p11, p21, p24) = (plan("1", "1"), plan("2", "1"), plan("2", "4"));
    let sum: f64 = r_all["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["total_seconds"].as_f64().unwrap())
        .sum();
    let p = |v: &Value| v["predicted_seconds"].as_f64().unwrap();
    assert!((p(&p11) - sum).abs() < 1e-6, "{} vs {sum}", p(&p11));
    assert!(
        p(&p21) <= p(&p11) && p(&p24) <= p(&p21),
        "{p11} {p21} {p24}"
    );
    assert_eq!(p24["measured_machines"], 2);
    assert!(p24["measured_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(p24["machines_for_deadline"], 1);
}

#[test]
fn bad_shards_are_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("m.db");
    for bad in ["0/2", "3/2", "x", "1/0"] {
        let out = bin()
            .arg("--db")
            .arg(&db)
            .args([
                "run",
                "--suite",
                "tasks/demo",
                "--agent",
                "noop",
                "--shard",
                bad,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--shard {bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("I/N"), "{err}");
    }
    assert!(!db.exists());
    // A source that is not a store is refused before the target is created.
    let garbage = tmp.path().join("garbage.db");
    std::fs::write(&garbage, "not a database").unwrap();
    let into = tmp.path().join("into.db");
    let out = bin()
        .arg("merge")
        .arg(&garbage)
        .arg("--into")
        .arg(&into)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a mergebench store"), "{err}");
    assert!(!into.exists());
}

/// `results --json` of a store, from the CLI.
fn results_of(db: &Path) -> Value {
    serde_json::from_str(&mb(db, &["results", "--json"])).unwrap()
}

fn outcomes(results: &Value, agent: &str) -> Vec<String> {
    results["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["agent"] == agent)
        .map(|a| a["outcome"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_shard_runs_on_a_remote_daemon_over_tls_and_a_swarm_job_runs_every_shard() {
    let daemon = crate::daemon::TestDaemon::start();
    daemon.load_from_host("mergebench-base:bookworm");
    let tmp = tempfile::tempdir().unwrap();
    let run = |db: &Path, env: &[(&'static str, String)], shard: &str| {
        bin()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("--db")
            .arg(db)
            .args([
                "run",
                "--suite",
                "tasks/demo",
                "--judge",
                "heuristic",
                "--json",
            ])
            .args(["--shard", shard, "--agent", "oracle", "noop"])
            .output()
            .unwrap()
    };

    // Over TCP without a client certificate the daemon refuses, and mergebench says what to
    // set: TLS is really in force.
    let bare = tmp.path().join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(daemon.dir.join("certs/ca.pem"), bare.join("ca.pem")).unwrap();
    let mut env = daemon.tls_env();
    env[2].1 = bare.display().to_string();
    let out = run(&tmp.path().join("refused.db"), &env, "1/2");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Docker is unreachable at tcp://127.0.0.1") && err.contains("cert.pem"),
        "{err}"
    );

    // With the client certificate, shard 1/2 runs there end to end, and its images are
    // built on that daemon.
    let tls_db = tmp.path().join("tls.db");
    let out = run(&tls_db, &daemon.tls_env(), "1/2");
    crate::fixture::succeeded(&out);
    let images = String::from_utf8_lossy(
        &daemon
            .cli(&["images", "--format", "{{.Repository}}"])
            .stdout,
    )
    .into_owned();
    assert!(images.contains("mergebench-env"), "{images}");
    let tls = results_of(&tls_db);
    assert_eq!(outcomes(&tls, "oracle"), vec!["resolved"; 7]);
    assert_eq!(outcomes(&tls, "noop"), vec!["empty_patch"; 7]);

    // A single-node swarm on that daemon runs every shard as a replicated job and merges.
    let init = daemon.cli(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let build = std::process::Command::new("bash")
        .arg("deploy/runner/build.sh")
        .env("DOCKER_HOST", daemon.unix_host())
        .env("MERGEBENCH_BIN", env!("CARGO_BIN_EXE_mergebench"))
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let out_dir = tmp.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let started = std::time::Instant::now();
    let jobs = std::process::Command::new("bash")
        .arg("deploy/swarm/run-shards.sh")
        .arg("2")
        .arg(&out_dir)
        .args([
            "--",
            "run",
            "--suite",
            "tasks/demo",
            "--judge",
            "heuristic",
            "--agent",
            "oracle",
            "noop",
        ])
        .env("DOCKER_HOST", daemon.unix_host())
        .env("NODE_DOCKER_SOCKET", &daemon.socket)
        .output()
        .unwrap();
    let wall = started.elapsed();
    assert!(
        jobs.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&jobs.stdout),
        String::from_utf8_lossy(&jobs.stderr)
    );
    let merged = out_dir.join("merged.db");
    let all = results_of(&merged);
    assert_eq!(outcomes(&all, "oracle"), vec!["resolved"; 14]);
    assert_eq!(outcomes(&all, "noop"), vec!["empty_patch"; 14]);
    assert!(all["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["agent"] == "oracle")
        .all(|a| a["mergeable"] == true));
    // The swarm's shard 1 is the TLS run's shard 1: the same tasks, outcomes and patches.
    let swarm_shard = results_of(&out_dir.join("shard-1.db"));
    assert_eq!(scored(&swarm_shard), scored(&tls));
    // Its services are gone.
    let left = String::from_utf8_lossy(&daemon.cli(&["service", "ls", "-q"]).stdout).into_owned();
    assert!(left.trim().is_empty(), "{left}");
    // The capacity plan beside the measured wall time of this sharded run.
    let plan: Value = serde_json::from_str(&mb(
        &merged,
        &["plan", "--machines", "2", "--jobs", "4", "--json"],
    ))
    .unwrap();
    eprintln!(
        "swarm: 2 shards, predicted {:.1} s on 2 machines x 4 jobs (agent and grading only), measured {:.1} s for the evaluation, {:.1} s for the whole job script",
        plan["predicted_seconds"].as_f64().unwrap(),
        plan["measured_seconds"].as_f64().unwrap(),
        wall.as_secs_f64()
    );
    // Both shards shared this machine's cores, so each attempt's duration already carries the
    // other shard's load: the replay is in the measured run's range, not a bound of it.
    let (p, m) = (
        plan["predicted_seconds"].as_f64().unwrap(),
        plan["measured_seconds"].as_f64().unwrap(),
    );
    assert!(
        p > 0.0 && p < 3.0 * m && m < 3.0 * p,
        "predicted {p} s, measured {m} s"
    );
}

#[test]
fn nightly_runs_as_shards_then_reports_from_the_merged_store() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = std::env::current_dir().unwrap();
    let config = tmp.path().join("nightly.toml");
    std::fs::write(
        &config,
        format!(
            "suites = [\"{0}/tasks/demo\"]\nagents = [\"oracle\", \"noop\"]\nagents_dir = \"{0}/harness/agents\"\n\
             judges_dir = \"{0}/judges\"\njudge = \"heuristic\"\njobs = 4\ncheckpoints = false\n\
             [report]\njson = \"out/{{suite}}.json\"\nmarkdown = \"out/{{suite}}.md\"\n",
            cwd.display()
        ),
    )
    .unwrap();
    let nightly = |db: &Path, extra: &[&str]| {
        let o = bin()
            .arg("--db")
            .arg(db)
            .arg("nightly")
            .arg("--config")
            .arg(&config)
            .args(extra)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let all = tmp.path().join("all.db");
    // Nothing merged yet: the report step says what to do first.
    let (code, out, err) = nightly(&all, &["--report-only"]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(
        err.contains("no finished evaluation") && err.contains("mergebench merge"),
        "{err}"
    );

    let mut stores = Vec::new();
    for shard in ["1/2", "2/2"] {
        let db = tmp.path().join(format!("s{}.db", &shard[..1]));
        let (code, out, err) = nightly(&db, &["--shard", shard]);
        assert_eq!(code, Some(0), "{out}\n{err}");
        assert!(out.contains(&format!("suite demo: shard {shard}")), "{out}");
        assert!(out.contains("nightly --report-only"), "{out}");
        // A shard writes no report.
        assert!(!tmp.path().join("out/demo.json").exists());
        stores.push(db);
    }
    mb(
        &all,
        &[
            "merge",
            stores[0].to_str().unwrap(),
            stores[1].to_str().unwrap(),
            "--into",
            all.to_str().unwrap(),
        ],
    );
    let (code, out, err) = nightly(&all, &["--report-only"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("nightly: no regression"), "{out}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("out/demo.json")).unwrap())
            .unwrap();
    let oracle = report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "oracle")
        .unwrap();
    assert_eq!(oracle["tasks"], 14);
    assert_eq!(oracle["mergeable_rate"]["estimate"], 1.0);
    assert_eq!(report["judged"], true);
}

#[test]
fn a_shard_runs_on_a_remote_daemon_over_ssh() {
    let daemon = crate::daemon::TestDaemon::start();
    daemon.load_from_host("mergebench-base:bookworm");
    let ssh = crate::daemon::SshServer::start(&daemon.unix_host());
    let tmp = tempfile::tempdir().unwrap();
    // Shard 2/2 with oracle through ssh, into `db`, with `host` as DOCKER_HOST if given.
    let run = |db: &str, host: Option<String>| {
        let mut c = bin();
        c.envs(ssh.client_env()).env_remove("DOCKER_TLS_VERIFY");
        if let Some(h) = host {
            c.env("DOCKER_HOST", h);
        }
        c.arg("--db")
            .arg(tmp.path().join(db))
            .args([
                "run",
                "--suite",
                "tasks/demo",
                "--json",
                "--shard",
                "2/2",
                "--agent",
                "oracle",
            ])
            .output()
            .unwrap()
    };
    let refused = |out: std::process::Output| -> String {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(3), "{err}");
        err
    };
    let out = run("ssh.db", None);
    crate::fixture::succeeded(&out);
    let r = results_of(&tmp.path().join("ssh.db"));
    assert_eq!(outcomes(&r, "oracle"), vec!["resolved"; 7]);
    // The images were built on the daemon behind ssh, not on this machine's.
    let listed = daemon.cli(&["images", "--format", "{{.Repository}}"]);
    let images = String::from_utf8_lossy(&listed.stdout);
    assert!(images.contains("mergebench-env"), "{images}");
    // A port in the URL cannot reach ssh: refused before connecting, with the alias as fix.
    let err = refused(run(
        "port.db",
        Some(format!("ssh://root@127.0.0.1:{}", ssh.port)),
    ));
    assert!(
        err.contains("~/.ssh/config") && err.contains("HostName 127.0.0.1"),
        "{err}"
    );
    // A key the server does not know is refused, with the ssh set-up named as the fix.
    std::fs::write(ssh.dir.join("authorized_keys"), "").unwrap();
    let err = refused(run("refused.db", None));
    assert!(
        err.contains("ssh://root@mergebench-test-docker") && err.contains("~/.ssh/config"),
        "{err}"
    );
}
