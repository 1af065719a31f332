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
}
