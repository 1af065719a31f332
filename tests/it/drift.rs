//! Sampling, the holdout wall, label import and export, `judge checkpoints` with two judge
//! versions that disagree, and `drift` / `report drift` raising the alarm for the worse one.
//! The store is filled through the library; the judges are the offline heuristic ones.

use crate::fixture::sqlite;
use crate::label::{repo, write, LabelDb};
use serde_json::Value;

/// What a reviewer says of each kind of patch: the oracle's fix is merged, the overreaching
/// one needs revising, the one that breaks a test is rejected.
fn human(kind: &str) -> &'static str {
    match kind {
        "oracle" => "merge",
        "overreach" => "revise",
        _ => "reject",
    }
}

/// Three agents on all fourteen demo tasks, 30 items sampled, every item labeled by `ana`
/// and the overlap items by `ben` too (through `labels import`).
fn labeled() -> LabelDb {
    let mut attempts = Vec::new();
    for t in 0..14 {
        for kind in ["oracle", "overreach", "regressor"] {
            attempts.push((kind, kind, t));
        }
    }
    let d = LabelDb::new(&attempts);
    let out = d.ok(&[
        "labels",
        "sample",
        "--eval",
        &d.eval,
        "--n",
        "30",
        "--holdout",
        "0.5",
        "--overlap",
        "0.2",
        "--json",
    ]);
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["added"], 30);
    assert_eq!(s["overlap"], 6);
    for stratum in [
        "oracle/resolved",
        "overreach/resolved",
        "regressor/unresolved",
    ] {
        assert_eq!(s["strata"][stratum], 10, "{s}");
    }
    assert!(
        s["holdout"].as_u64().unwrap() >= 5 && s["dev"].as_u64().unwrap() >= 5,
        "{s}"
    );
    let mut jsonl = String::new();
    for (n, item) in d.store.label_items().unwrap().iter().enumerate() {
        let agent = d
            .store
            .attempt(item.subject.attempt_id)
            .unwrap()
            .unwrap()
            .key
            .agent;
        let reviewers: &[&str] = if item.overlap {
            &["ana", "ben"]
        } else {
            &["ana"]
        };
        for r in reviewers {
            jsonl.push_str(
                &serde_json::json!({
                    "task_id": item.subject.task_id, "task_hash": item.subject.task_hash, "patch_sha256": item.subject.patch_sha256,
                    "reviewer": r, "verdict": human(&agent), "reasons": if agent == "oracle" { vec![] } else { vec!["scope"] },
                    "comment": format!("HUMAN-COMMENT-{}", item.id), "seconds": 30.0 + n as f64,
                    "rubric_version": "earlier-tool", "created_at": format!("2026-11-0{}T10:00:00Z", 1 + n % 9),
                })
                .to_string(),
            );
            jsonl.push('\n');
        }
    }
    let file = d.db.with_file_name("labels.jsonl");
    write(&file, &jsonl);
    let out = d.ok(&["labels", "import", file.to_str().unwrap(), "--json"]);
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["imported"], 36, "{s}");
    d
}

#[test]
fn export_writes_the_dev_split_only_and_import_round_trips() {
    let d = labeled();
    let held: Vec<String> = sqlite(
        &d.db,
        "SELECT patch_sha256 FROM label_items WHERE split = 'holdout'",
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    let dev_labels: usize = sqlite(
        &d.db,
        "SELECT count(*) FROM labels l JOIN label_items i ON i.id = l.item_id WHERE i.split = 'dev'",
    )[0][0]
        .parse()
        .unwrap();
    assert!(!held.is_empty() && dev_labels > 0);

    let out = d.ok(&["labels", "export"]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), dev_labels);
    for l in &lines {
        assert!(
            !held.contains(&l["patch_sha256"].as_str().unwrap().to_string()),
            "a held-out label left: {l}"
        );
    }
    let csv = d.db.with_file_name("dev.csv");
    d.ok(&["labels", "export", "--out", csv.to_str().unwrap()]);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("task_id,task_hash,patch_sha256,reviewer,verdict,reasons,comment,seconds,rubric_version,created_at\r\n"));
    assert!(held.iter().all(|h| !text.contains(h.as_str())));

    // Importing what was exported adds nothing: the same labels are recognised.
    let jsonl = d.db.with_file_name("dev.jsonl");
    write(&jsonl, &out);
    for f in [&csv, &jsonl] {
        let s: Value =
            serde_json::from_str(&d.ok(&["labels", "import", f.to_str().unwrap(), "--json"]))
                .unwrap();
        assert_eq!(s["imported"], 0);
        assert_eq!(s["skipped"], dev_labels);
    }

    // A bad line stops the whole import, naming the file and the line.
    let bad = d.db.with_file_name("bad.jsonl");
    let mut first: Value = lines[0].clone();
    first["verdict"] = "maybe".into();
    write(&bad, &format!("{}\n{}\n", lines[1], first));
    let (code, _, err) = d.cli(&["labels", "import", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.jsonl:2") && err.contains("maybe"),
        "{err}"
    );

    // The split cannot be moved once items exist.
    let (code, _, err) = d.cli(&[
        "labels",
        "sample",
        "--eval",
        &d.eval,
        "--n",
        "5",
        "--holdout",
        "0.3",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holdout wall"), "{err}");
}

#[test]
fn judge_templates_cannot_see_labels() {
    let d = labeled();
    // A judge whose template asks for labels does not even load: they are not in its context.
    let dir = d.db.with_file_name("judges");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "merge-review.system.j2",
        "merge-review.pairwise.j2",
        "statement-rewrite.system.j2",
        "statement-rewrite.user.j2",
    ] {
        std::fs::copy(repo().join("judges").join(f), dir.join(f)).unwrap();
    }
    let user = std::fs::read_to_string(repo().join("judges/merge-review.user.j2")).unwrap();
    write(
        &dir.join("peek.user.j2"),
        &format!("{user}\n{{{{ labels }}}}\n"),
    );
    write(&dir.join("merge-review.user.j2"), &user);
    let spy_log = d.db.with_file_name("requests.jsonl");
    let judge = |name: &str, user: &str| {
        let toml = std::fs::read_to_string(repo().join("judges/heuristic.toml"))
            .unwrap()
            .replace(
                "command = [\"python3\", \"heuristic-reviewer.py\"]",
                &format!(
                    "command = [\"sh\", \"-c\", \"tee -a {} | python3 {}\"]",
                    spy_log.display(),
                    repo().join("judges/heuristic-reviewer.py").display()
                ),
            )
            .replace(
                "user = \"merge-review.user.j2\"",
                &format!("user = \"{user}\""),
            );
        let path = dir.join(format!("{name}.toml"));
        write(&path, &toml);
        path
    };
    let peek = judge("peek", "peek.user.j2");
    let (code, _, err) = d.cli(&["judge", "checkpoints", "--judge", peek.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("peek.user.j2") && err.contains("undefined value"),
        "{err}"
    );

    // What a judge is sent about a labeled item holds no label, comment or split.
    let spy = judge("spy", "merge-review.user.j2");
    d.ok(&["judge", "checkpoints", "--judge", spy.to_str().unwrap()]);
    let sent = std::fs::read_to_string(&spy_log).unwrap();
    assert!(
        sent.matches("\"protocol\"").count() >= 30,
        "every item was judged"
    );
    for secret in ["HUMAN-COMMENT", "earlier-tool", "holdout", "\"split\""] {
        assert!(!sent.contains(secret), "a judge request carries `{secret}`");
    }
}

#[test]
fn checkpoints_under_two_judge_versions_and_the_drift_alarm() {
    let d = labeled();
    let s: Value =
        serde_json::from_str(&d.ok(&["judge", "checkpoints", "--judge", "heuristic", "--json"]))
            .unwrap();
    assert_eq!(s["judged"], 30);
    assert!(s["holdout"].as_u64().unwrap() > 0);
    d.ok(&["judge", "checkpoints", "--judge", "heuristic-lenient"]);
    // Nightly again: the same version answers from its cache, and is recorded again.
    let again: Value =
        serde_json::from_str(&d.ok(&["judge", "checkpoints", "--judge", "heuristic", "--json"]))
            .unwrap();
    assert_eq!(again["cached"], 30);
    assert_eq!(again["requests"], 0);

    let (code, out, err) = d.cli(&["drift", "--json"]);
    assert_eq!(code, 1, "the lenient judge must raise the alarm: {err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert!((r["human"]["alpha"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(r["human"]["items"], 6);
    let versions = r["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    let by = |judge: &str| versions.iter().find(|v| v["judge"] == judge).unwrap();
    let (strict, lenient) = (by("heuristic"), by("heuristic-lenient"));
    for split in ["dev", "holdout"] {
        let k = &strict[split]["kappa"];
        assert!((k["estimate"].as_f64().unwrap() - 1.0).abs() < 1e-9, "{k}");
        let lk = &lenient[split]["kappa"];
        assert!(lk["low"].as_f64().unwrap() <= lk["estimate"].as_f64().unwrap());
        assert!(lk["estimate"].as_f64().unwrap() <= lk["high"].as_f64().unwrap());
        assert!(lk["estimate"].as_f64().unwrap() < 0.9, "{lk}");
        // The lenient judge merges what people would revise.
        assert!(lenient[split]["confusion"][1][0].as_u64().unwrap() > 0);
    }
    assert_eq!(strict["baseline"], true);
    assert!(strict["alarm"].is_null());
    assert!(lenient["alarm"]
        .as_str()
        .unwrap()
        .contains("below the baseline"));
    assert_eq!(r["alarms"].as_array().unwrap().len(), 1);
    assert!(err.contains("alarm: judge heuristic-lenient"), "{err}");

    // A looser margin and floor silence it.
    let (code, _, _) = d.cli(&["drift", "--margin", "1", "--floor=-1"]);
    assert_eq!(code, 0);

    for (format, needle) in [
        ("md", "| heuristic-lenient |"),
        ("html", "<td>heuristic-lenient</td>"),
        ("json", "\"alarms\""),
    ] {
        let path = d.db.with_file_name(format!("drift.{format}"));
        let (code, _, err) = d.cli(&[
            "report",
            "drift",
            "--format",
            format,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{err}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(needle), "{format}: {text}");
        if format != "json" {
            assert!(
                text.contains("ALARM") && text.contains("held-out"),
                "{text}"
            );
        }
    }
}

/// `nightly` with `checkpoints = true` re-judges the labeled items with the night's judge;
/// a judge that drifted from people (the lenient heuristic) raises the alarm and exit 1.
#[test]
fn nightly_rejudges_the_checkpoints_and_fails_on_a_drift_alarm() {
    let d = labeled();
    d.ok(&["judge", "checkpoints", "--judge", "heuristic"]);
    let f = crate::fixture::Fixture::new();
    write(
        &f.agents().join("noop.toml"),
        "name = \"noop\"\ncommand = [\"true\"]\ntimeout = \"60s\"\nmemory = \"256MiB\"\n",
    );
    let config = f.dir.path().join("nightly.toml");
    write(
        &config,
        &format!(
            "suites = [\"{}\"]\nagents = [\"noop\"]\nagents_dir = \"{}\"\njudge = \"heuristic-lenient\"\njudges_dir = \"{}\"\ncheckpoints = true\n[report]\njson = \"out/{{suite}}.json\"\n[drift]\nmargin = 0.10\nfloor = 0.40\n",
            f.suite().display(),
            f.agents().display(),
            repo().join("judges").display()
        ),
    );
    let out = crate::fixture::bin()
        .arg("--db")
        .arg(&d.db)
        .args(["nightly", "--config"])
        .arg(&config)
        .current_dir(repo())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("checkpoints: "), "{stdout}");
    assert!(
        stdout.contains("drift alarm: ") && stdout.contains("heuristic-lenient"),
        "{stdout}"
    );
    assert!(
        stdout.contains("nightly: judge drift alarm: exit 1"),
        "{stdout}"
    );
    // The re-judged checkpoints are stored: the lenient version now has verdicts of its own.
    let versions = sqlite(
        &d.db,
        "SELECT count(DISTINCT judge_version) FROM checkpoint_verdicts",
    );
    assert_eq!(versions[0][0], "2");
}

/// The leaderboard's human-accept rate comes from dev-split labels only.
#[test]
fn the_leaderboard_shows_the_human_accept_rate_from_dev_labels() {
    let d = labeled();
    let out = d.ok(&["report", "leaderboard", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let agents = v["agents"].as_array().unwrap();
    let by = |name: &str| agents.iter().find(|a| a["agent"] == name).unwrap().clone();
    let dev: usize = sqlite(
        &d.db,
        "SELECT count(*) FROM label_items WHERE split = 'dev'",
    )[0][0]
        .parse()
        .unwrap();
    let counted: u64 = agents
        .iter()
        .map(|a| a["human_labels"].as_u64().unwrap())
        .sum();
    assert_eq!(
        counted as usize, dev,
        "every dev item and no held-out item counts: {v}"
    );
    let (oracle, regressor) = (by("oracle"), by("regressor"));
    assert!(
        oracle["human_labels"].as_u64().unwrap() > 0
            && regressor["human_labels"].as_u64().unwrap() > 0,
        "{v}"
    );
    assert_eq!(oracle["human_accept_rate"], 1.0);
    assert_eq!(regressor["human_accept_rate"], 0.0);
}

/// The calibrated merge rate reads the judge's held-out error through the drift computation:
/// once the checkpoints are judged by the version that judged the evaluation, the leaderboard
/// names that version's held-out labels, and with fewer than twenty on a side shows no figure.
#[test]
fn the_leaderboard_calibrates_with_the_judge_versions_held_out_labels() {
    let d = labeled();
    d.ok(&["judge", "checkpoints", "--judge", "heuristic"]);
    let drift: Value = serde_json::from_str(&d.cli(&["drift", "--json"]).1).unwrap();
    let version = drift["versions"][0]["judge_version"]
        .as_str()
        .unwrap()
        .to_string();
    let holdout: u64 = drift["versions"][0]["holdout"]["n"].as_u64().unwrap();
    // The evaluation judged by that same version, agreeing with people.
    let judgements: Vec<(i64, mergebench::store::JudgementRow)> = d
        .store
        .attempts(&d.eval)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.id,
                mergebench::store::JudgementRow {
                    judge: "heuristic".into(),
                    judge_version: version.clone(),
                    model: None,
                    status: "ok".into(),
                    verdict: Some(human(&r.key.agent).into()),
                    error: None,
                    agreement: Some(1.0),
                    samples: 1,
                    injection_suspected: false,
                    input_tokens: 0,
                    output_tokens: 0,
                    cost_usd: None,
                    created_at: String::new(),
                    detail: Value::Null,
                },
            )
        })
        .collect();
    d.store.save_judgements(&judgements).unwrap();
    let v: Value =
        serde_json::from_str(&d.ok(&["report", "leaderboard", "--format", "json"])).unwrap();
    let oracle = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "oracle")
        .unwrap()
        .clone();
    assert!(oracle["calibrated_merge_rate"].is_null(), "{oracle}");
    let why = oracle["calibration"].as_str().unwrap();
    assert!(holdout > 0 && holdout < 40, "{holdout}");
    assert!(why.starts_with("too few held-out labels: "), "{why}");
    assert!(why.contains("(20 of each needed)"), "{why}");
}
