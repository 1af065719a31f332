//! Bad input and hostile use of the command line: each case names the bug it pins. None of
//! them may panic (exit 101), pass silently, or write anything half-way.

use crate::fixture::{bin, sqlite, Fixture};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

fn run(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = bin().args(args).current_dir(cwd).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Bug pinned: `gate --diff d --repo cfgrep0` (a typo) printed PASS and exited 0 with the
// repository's error rules silently skipped.
#[test]
fn a_mistyped_gate_repo_is_an_input_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let diff = dir.path().join("d.diff");
    std::fs::write(
        &diff,
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n",
    )
    .unwrap();
    let (code, out, err) = run(
        &[
            "gate",
            "--diff",
            diff.to_str().unwrap(),
            "--repo",
            dir.path().join("cfgrep0").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("no such repository folder"), "{err}");
    assert!(!out.contains("PASS"), "{out}");
}

// Bug pinned: a timeout of "99999999999999999999h" panicked ("cannot convert float seconds
// to Duration"), and "0s" was accepted.
#[test]
fn impossible_timeouts_are_refused_with_the_file_and_line() {
    let f = Fixture::new();
    let suite_toml = f.suite().join("suite.toml");
    let text = std::fs::read_to_string(&suite_toml).unwrap();
    for bad in ["99999999999999999999h", "0s"] {
        std::fs::write(
            &suite_toml,
            text.replace("timeout = \"2m\"", &format!("timeout = \"{bad}\"")),
        )
        .unwrap();
        let (code, _, err) = run(
            &["tasks", "list", "--suite", f.suite().to_str().unwrap()],
            f.dir.path(),
        );
        assert_ne!(code, 101, "{bad} panicked: {err}");
        assert!(
            err.contains("suite.toml") || err.contains("task.toml"),
            "{bad}: {err}"
        );
    }
}

// Bug pinned: a table cell over 65,535 characters panicked ("Formatting argument out of
// range") through `reviewers add "$(python3 -c 'print("y"*65536)')"; reviewers list`.
#[test]
fn a_huge_table_cell_is_printed_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let name = "y".repeat(65_536);
    let (code, _, err) = run(
        &["--db", db.to_str().unwrap(), "reviewers", "add", &name],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(
        &["--db", db.to_str().unwrap(), "reviewers", "list"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&name));
}

// Bug pinned: `results --json | head -1` panicked on the broken pipe.
#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    // A store with many reviewers prints far more than a pipe holds.
    for i in 0..40 {
        let (code, _, err) = run(
            &[
                "--db",
                db.to_str().unwrap(),
                "reviewers",
                "add",
                &format!("reviewer-{i}-{}", "x".repeat(4000)),
            ],
            dir.path(),
        );
        assert_eq!(code, 0, "{err}");
    }
    let mut child = bin()
        .args(["--db", db.to_str().unwrap(), "reviewers", "list", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 10];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(101), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

// Bug pinned: a database from a newer mergebench (user_version 99, or -1) was read and
// written silently; a mistyped --db for a reading command created a new, empty database.
#[test]
fn a_newer_or_missing_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let (code, _, err) = run(
        &["--db", db.to_str().unwrap(), "reviewers", "add", "ana"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    for version in ["99", "-1"] {
        let ok = Command::new("python3")
            .args([
                "-c",
                &format!(
                    "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version={version}'); c.commit()"
                ),
                db.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(ok.success());
        for args in [&["reviewers", "list"][..], &["reviewers", "add", "bo"][..]] {
            let mut full = vec!["--db", db.to_str().unwrap()];
            full.extend_from_slice(args);
            let (code, _, err) = run(&full, dir.path());
            assert_eq!(code, 3, "{args:?} on version {version}: {err}");
            assert!(err.contains(&format!("schema version {version}")), "{err}");
        }
        assert_eq!(
            sqlite(&db, "SELECT count(*) FROM reviewers")[0][0],
            "1",
            "nothing was written to the newer store"
        );
    }
    let missing = dir.path().join("typo.db");
    for args in [
        &["results"][..],
        &["report", "leaderboard"][..],
        &["labels", "export"][..],
    ] {
        let mut full = vec!["--db", missing.to_str().unwrap()];
        full.extend_from_slice(args);
        let (code, _, err) = run(&full, dir.path());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("no database at"), "{args:?}: {err}");
        assert!(!missing.exists(), "{args:?} created a database");
    }
}

// Bug pinned: `labels export --out` and `gate --out` wrote in place, so a failure midway left
// a truncated file where the good one was; reports were created 0600.
#[test]
fn outputs_are_written_whole_with_the_umask_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let diff = dir.path().join("d.diff");
    std::fs::write(
        &diff,
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n",
    )
    .unwrap();
    let out = dir.path().join("gate.json");
    std::fs::write(&out, "the good report\n").unwrap();
    // A folder where the output should go cannot be replaced: the old file stays whole.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir_all(blocked.join("x")).unwrap();
    let (code, _, err) = run(
        &[
            "gate",
            "--diff",
            diff.to_str().unwrap(),
            "--repo",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
            "--out",
            blocked.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(blocked.join("x").is_dir());
    let (code, _, err) = run(
        &[
            "gate",
            "--diff",
            diff.to_str().unwrap(),
            "--repo",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(code == 0 || code == 1, "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.trim_start().starts_with('{'), "{text}");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_ne!(mode, 0o600, "created private");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

// Bug pinned: `INSERT OR REPLACE` overwrote label 2's comment although UPDATE and DELETE were
// refused.
#[test]
fn labels_stay_append_only_against_insert_or_replace() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let (code, _, err) = run(
        &["--db", db.to_str().unwrap(), "reviewers", "add", "ana"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    // Any SQL, not the store's: no item needs to exist for the row.
    conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
    let insert = |verb: &str, comment: &str| {
        conn.execute(
            &format!(
                "{verb} INTO labels (id, item_id, reviewer_id, verdict, reasons_json, comment, rubric_version, source, created_at)
                 VALUES (2, 1, 1, 'merge', '[]', ?1, 'r1', 'web', '2026-01-01T00:00:00Z')"
            ),
            [comment],
        )
    };
    insert("INSERT", "the first word").unwrap();
    let err = insert("INSERT OR REPLACE", "rewritten").unwrap_err();
    assert!(err.to_string().contains("labels are immutable"), "{err}");
    let kept: String = conn
        .query_row("SELECT comment FROM labels WHERE id = 2", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, "the first word");
}

// Bug pinned: bidi controls and zero-width characters were invisible to reviewers and passed
// the gate.
#[test]
fn the_gate_refuses_trojan_source() {
    let dir = tempfile::tempdir().unwrap();
    let diff = dir.path().join("d.diff");
    std::fs::write(
        &diff,
        "diff --git a/auth.py b/auth.py\n--- a/auth.py\n+++ b/auth.py\n@@ -1 +1 @@\n-access_level = \"user\"\n+access_level = \"user\u{202E} \u{2066}// Check if admin\u{2069} \u{2066}\"\n",
    )
    .unwrap();
    let (code, out, err) = run(
        &[
            "gate",
            "--diff",
            diff.to_str().unwrap(),
            "--repo",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("diff.hidden-unicode"), "{out}");
    assert!(out.contains("RIGHT-TO-LEFT OVERRIDE"), "{out}");
}

// Bug pinned: `labels import` accepted reviewer names with ANSI escapes or NUL bytes,
// negative, Inf or NaN seconds and `created_at = "not a date at all"`, and refused a UTF-8
// BOM (what spreadsheets write) with a misleading "no `task_id` column".
#[test]
fn labels_import_checks_what_the_web_app_checks() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let header = "task_id,task_hash,patch_sha256,reviewer,verdict,reasons,comment,seconds,rubric_version,created_at\n";
    let row = |reviewer: &str, seconds: &str, created: &str| {
        format!("t1,h1,p1,{reviewer},merge,,fine,{seconds},r1,{created}\n")
    };
    let cases: &[(String, &str)] = &[
        (
            format!(
                "\u{feff}{header}{}",
                row("ana", "12", "2026-03-01T10:00:00Z")
            ),
            "no attempt",
        ),
        (
            format!(
                "{header}{}",
                row("\u{1b}[31mana", "12", "2026-03-01T10:00:00Z")
            ),
            "must be printable",
        ),
        (
            format!("{header}{}", row("ana", "-5", "2026-03-01T10:00:00Z")),
            "is not a time spent",
        ),
        (
            format!("{header}{}", row("ana", "NaN", "2026-03-01T10:00:00Z")),
            "is not a time spent",
        ),
        (
            format!("{header}{}", row("ana", "12", "not a date at all")),
            "is not a time",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("labels-{i}.csv"));
        std::fs::write(&file, text).unwrap();
        let (code, _, err) = run(
            &[
                "--db",
                db.to_str().unwrap(),
                "labels",
                "import",
                file.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert_eq!(code, 2, "case {i}: {err}");
        assert!(err.contains(expected), "case {i}: {err}");
        assert!(!err.contains("no `task_id` column"), "case {i}: {err}");
        assert!(err.contains(":2:"), "case {i} names the line: {err}");
    }
}

// Bug pinned: `problem = "../../../../etc/passwd"`, an absolute path, a link pointing out,
// `problem = "/dev/zero"`, an agent's `files = ["../../etc/passwd"]` and its
// `dockerfile = "../../etc/hostname"` were all accepted (the labeling page then showed
// /etc/passwd as the problem statement).
#[test]
fn paths_a_suite_or_agent_names_stay_inside_its_folder() {
    let f = Fixture::new();
    let task = f.suite().join("calc-001/task.toml");
    let text = std::fs::read_to_string(&task).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", f.suite().join("calc-001/link.md")).unwrap();
    for (bad, expected) in [
        ("../../../../../../../../etc/passwd", "is outside"),
        ("/etc/passwd", "is outside"),
        ("link.md", "is outside"),
        ("/dev/zero", "is outside"),
    ] {
        std::fs::write(
            &task,
            text.replace("problem = \"problem.md\"", &format!("problem = \"{bad}\"")),
        )
        .unwrap();
        let (code, out, err) = run(
            &[
                "tasks",
                "list",
                "--json",
                "--suite",
                f.suite().to_str().unwrap(),
            ],
            f.dir.path(),
        );
        assert_eq!(code, 2, "{bad}: {out}{err}");
        assert!(
            out.contains(expected) || err.contains(expected),
            "{bad}: {out}{err}"
        );
        assert!(!out.contains("root:x:0:0"), "{bad} was read: {out}");
        assert!(
            out.contains("task.toml:"),
            "{bad}: names the file and line: {out}"
        );
    }
    std::fs::write(&task, &text).unwrap();
    crate::fixture::write(
        &f.agents(),
        "thief.toml",
        "name = \"thief\"\nfiles = [\"../../../../../../../../etc/passwd\"]\ncommand = [\"true\"]\n",
    );
    crate::fixture::write(
        &f.agents(),
        "ctx.toml",
        "name = \"ctx\"\ncommand = [\"true\"]\ndockerfile = \"../../../../../../../../etc/hostname\"\n",
    );
    for agent in ["thief", "ctx"] {
        let (code, _, err) = run(
            &[
                "--db",
                f.db().to_str().unwrap(),
                "run",
                "--suite",
                f.suite().to_str().unwrap(),
                "--agents-dir",
                f.agents().to_str().unwrap(),
                "--agent",
                agent,
            ],
            f.dir.path(),
        );
        assert_eq!(code, 2, "{agent}: {err}");
        assert!(err.contains("is outside"), "{agent}: {err}");
        assert!(err.contains(&format!("{agent}.toml:")), "{agent}: {err}");
    }
}

/// Twenty items of the demo suite, no overlap, and two reviewers' tokens.
fn twenty_items() -> (crate::label::LabelDb, String, String) {
    let attempts: Vec<(&str, &str, usize)> = (0..10)
        .flat_map(|t| [("oracle", "oracle", t), ("overreach", "overreach", t)])
        .collect();
    let d = crate::label::LabelDb::new(&attempts);
    d.ok(&[
        "labels",
        "sample",
        "--eval",
        &d.eval,
        "--n",
        "20",
        "--overlap",
        "0",
    ]);
    let ana = d.reviewer("ana");
    let ben = d.reviewer("ben");
    (d, ana, ben)
}

async fn get(base: &str, path: &str, cookie: &str) -> reqwest::Response {
    crate::label::client()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

// Bug pinned: pressing `n` through 20 items claimed all 20, and a second reviewer then saw
// only the overlap items ("Queue done" with none).
#[tokio::test]
async fn browsing_the_queue_does_not_claim_it() {
    use mergebench::store::ClaimPolicy;
    let (d, ana, ben) = twenty_items();
    let base = crate::label::serve_with(d.store.clone(), ClaimPolicy::default()).await;
    let a = crate::label::login(&base, &ana).await;
    let mut at = get(&base, "/next", &a.cookie).await.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        assert!(at.starts_with("/item/"), "{at}");
        seen.insert(at.clone());
        let html = get(&base, &at, &a.cookie).await.text().await.unwrap();
        let next = html
            .split("id=\"next-link\" href=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .replace("&#x2f;", "/")
            .replace("&amp;", "&");
        let r = get(&base, &next, &a.cookie).await;
        at = r.headers()["location"].to_str().unwrap().to_string();
    }
    assert_eq!(seen.len(), 20, "browsing still shows every item: {seen:?}");
    let held = d
        .store
        .queue_of(1, &ClaimPolicy::default())
        .unwrap()
        .into_iter()
        .filter(|x| !x.labeled)
        .count();
    assert!(held <= ClaimPolicy::DEFAULT_MAX_HELD, "ana holds {held}");
    // Ben is given an item ana is not holding, and can label it.
    let b = crate::label::login(&base, &ben).await;
    let r = get(&base, "/next", &b.cookie).await;
    let item = r.headers()["location"].to_str().unwrap().to_string();
    assert!(item.starts_with("/item/"), "{item}");
    let saved = crate::label::client()
        .post(format!("{base}{item}/label"))
        .header("cookie", &b.cookie)
        .form(&[("verdict", "merge"), ("csrf", b.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 303);
}

// A claim left alone expires (default 30 minutes): the item goes to another reviewer, and the
// first one can no longer label it.
#[tokio::test]
async fn an_expired_claim_goes_back_to_the_queue() {
    use mergebench::store::ClaimPolicy;
    let d = crate::label::LabelDb::new(&[("oracle", "oracle", 0), ("oracle", "oracle", 1)]);
    d.ok(&[
        "labels",
        "sample",
        "--eval",
        &d.eval,
        "--n",
        "2",
        "--overlap",
        "0",
    ]);
    let ana = d.reviewer("ana");
    let ben = d.reviewer("ben");
    let base = crate::label::serve_with(d.store.clone(), ClaimPolicy::default()).await;
    let a = crate::label::login(&base, &ana).await;
    let b = crate::label::login(&base, &ben).await;
    let held_by = |who: &str| {
        sqlite(
            &d.db,
            &format!(
                "SELECT s.item_id FROM label_assignments s JOIN reviewers r ON r.id = s.reviewer_id WHERE r.name = '{who}'"
            ),
        )[0][0]
            .clone()
    };
    let (anas, bens) = (held_by("ana"), held_by("ben"));
    assert_ne!(anas, bens);
    let post = |s: &crate::label::Session, item: &str| {
        crate::label::client()
            .post(format!("{base}/item/{item}/label"))
            .header("cookie", &s.cookie)
            .form(&[("verdict", "merge"), ("csrf", s.csrf.as_str())])
            .send()
    };
    assert_eq!(post(&b, &bens).await.unwrap().status(), 303);
    // Within the expiry, ana's item stays hers.
    let r = get(&base, "/next", &b.cookie).await;
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("Queue done"));
    // Thirty-one minutes later it is anyone's.
    let old = (chrono::Utc::now() - chrono::Duration::minutes(31))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    rusqlite::Connection::open(&d.db)
        .unwrap()
        .execute(
            "UPDATE label_assignments SET assigned_at = ?1 WHERE item_id = ?2",
            rusqlite::params![old, anas],
        )
        .unwrap();
    let r = get(&base, "/next", &b.cookie).await;
    assert_eq!(r.headers()["location"], format!("/item/{anas}").as_str());
    assert_eq!(post(&b, &anas).await.unwrap().status(), 303);
    let late = post(&a, &anas).await.unwrap();
    assert_eq!(late.status(), 403);
    assert!(late.text().await.unwrap().contains("expired"));
}

// A reviewer holds at most a few unlabeled items: claiming one more releases the oldest,
// which the next reviewer is given.
#[test]
fn a_reviewer_holds_at_most_a_few_claims() {
    use mergebench::store::ClaimPolicy;
    let (d, _, _) = twenty_items();
    let claims = ClaimPolicy::default();
    let claimed: Vec<i64> = (0..5)
        .map(|_| d.store.claim_next(1, &claims).unwrap().unwrap())
        .collect();
    let held: Vec<i64> = d
        .store
        .queue_of(1, &claims)
        .unwrap()
        .iter()
        .map(|x| x.item_id)
        .collect();
    assert_eq!(held, claimed[2..], "the newest three are kept");
    assert_eq!(d.store.claim_next(2, &claims).unwrap(), Some(claimed[0]));
    // A skipped item comes back to its reviewer only after every other.
    assert!(d.store.release_claim(claimed[4], 1).unwrap());
    let again = d.store.claim_next(1, &claims).unwrap().unwrap();
    assert!(!claimed.contains(&again), "{again} was claimed before");
    // Ben leaves his claim past its expiry: ana, who held the item before, may take it back
    // when she opens it, and then it is no longer ben's.
    let old = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    rusqlite::Connection::open(&d.db)
        .unwrap()
        .execute(
            "UPDATE label_assignments SET assigned_at = ?1 WHERE reviewer_id = 2",
            rusqlite::params![old],
        )
        .unwrap();
    assert!(d.store.hold(claimed[0], 1, &claims).unwrap());
    assert!(!d.store.hold(claimed[0], 2, &claims).unwrap());
    let held = d.store.queue_of(1, &claims).unwrap();
    assert!(held.len() <= claims.max_held, "{held:?}");
    assert!(held.iter().any(|x| x.item_id == claimed[0]));
}

/// `gate --range HEAD~1..HEAD --format json` in `repo`: the exit code and the report.
fn gate_last_commit(repo: &Path) -> (i32, serde_json::Value) {
    let (code, out, err) = run(
        &["gate", "--range", "HEAD~1..HEAD", "--format", "json"],
        repo,
    );
    assert!(code == 0 || code == 1, "{out}{err}");
    (code, serde_json::from_str(&out).unwrap())
}

/// The findings of one rule as `path:line`.
fn findings(report: &serde_json::Value, rule: &str) -> Vec<String> {
    report["conventions"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == rule)
        .map(|f| format!("{}:{}", f["path"].as_str().unwrap_or(""), f["line"]))
        .collect()
}

fn commit(repo: &Path, files: &[(&str, &str)], message: &str) {
    for (path, text) in files {
        crate::fixture::write(repo, path, text);
    }
    crate::fixture::git(repo, &["add", "-A"]);
    crate::fixture::git(repo, &["commit", "-qm", message]);
}

const CARGO_TOML: &str = "[package]\nname = \"tinyparse\"\nversion = \"0.3.0\"\nauthors = [\"Ana <ana@example.com>\"]\nedition = \"2018\"\nrust-version = \"1.60\"\ndescription = \"A tiny parser\"\nlicense = \"MIT\"\nrepository = \"https://example.com/tinyparse\"\n\n[dependencies]\nmemchr = \"2.5\"\n\n[dev-dependencies]\nproptest = \"1\"\n";
const CARGO_LOCK: &str = "# This file is automatically @generated by Cargo.\nversion = 3\n\n[[package]]\nname = \"memchr\"\nversion = \"2.5.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"2dffe52ecf27772e601905b7522cb4ef790d2cc203488bbd0e2fe85fcb74566d\"\n\n[[package]]\nname = \"tinyparse\"\nversion = \"0.3.0\"\ndependencies = [\n \"memchr\",\n]\n";
const LIB_RS: &str = "//! A tiny parser.\n\npub fn words(input: &str) -> Vec<&str> {\n    input.split_whitespace().collect()\n}\n\npub fn count(input: &str) -> usize {\n    words(input).len()\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn counts() {\n        assert_eq!(count(\"a b\"), 2);\n    }\n}\n";
const MAIN_RS: &str = "fn main() {\n    let input = std::env::args().nth(1).unwrap_or_default();\n    let n = tinyparse::count(&input);\n    let _ = n;\n}\n";

// Bug pinned: every Cargo.toml edit was tier `critical` with "staged rollout recommended",
// a release version, edition and rust-version bump included; `println!`/`eprintln!` were
// never debug leftovers, not even in library code.
#[test]
fn a_rust_release_bump_is_not_critical_and_prints_are_judged_by_place() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    crate::fixture::git(repo, &["init", "-q", "-b", "main"]);
    commit(
        repo,
        &[
            ("Cargo.toml", CARGO_TOML),
            ("Cargo.lock", CARGO_LOCK),
            ("src/lib.rs", LIB_RS),
            ("src/main.rs", MAIN_RS),
            ("CHANGELOG.md", "# Changelog\n\n## 0.3.0\n- first release\n"),
        ],
        "tinyparse 0.3.0",
    );
    // The release: version, edition and rust-version, the lockfile's own entry, the
    // changelog; the binary prints its answer and a unit test prints what it saw.
    commit(
        repo,
        &[
            (
                "Cargo.toml",
                &CARGO_TOML
                    .replace("0.3.0", "0.4.0")
                    .replace("\"2018\"", "\"2021\"")
                    .replace("\"1.60\"", "\"1.70\""),
            ),
            (
                "Cargo.lock",
                &CARGO_LOCK.replace("version = \"0.3.0\"", "version = \"0.4.0\""),
            ),
            (
                "CHANGELOG.md",
                "# Changelog\n\n## 0.4.0\n- edition 2021\n\n## 0.3.0\n- first release\n",
            ),
            (
                "src/main.rs",
                &MAIN_RS.replace("    let _ = n;\n", "    println!(\"{n}\");\n"),
            ),
            (
                "src/lib.rs",
                &LIB_RS.replace(
                    "        assert_eq!(count(\"a b\"), 2);\n",
                    "        println!(\"{:?}\", words(\"a b\"));\n        assert_eq!(count(\"a b\"), 2);\n",
                ),
            ),
        ],
        "Release 0.4.0",
    );
    let (code, r) = gate_last_commit(repo);
    assert_eq!(code, 0, "{r:#}");
    let blast = &r["blast_radius"];
    assert_eq!(blast["tier"], "medium", "{blast:#}");
    assert_eq!(blast["staged_rollout"], false, "{blast:#}");
    let reasons = blast["reasons"].to_string();
    assert!(
        reasons.contains("manifest metadata only: Cargo.toml (edition, rust-version, version)")
            && reasons.contains("Cargo.lock (version)"),
        "{reasons}"
    );
    assert_eq!(findings(&r, "style.debug-leftover"), Vec::<String>::new());

    // Library code that prints, and a new dependency: both are seen.
    commit(
        repo,
        &[
            (
                "Cargo.toml",
                &CARGO_TOML
                    .replace("0.3.0", "0.4.0")
                    .replace("\"2018\"", "\"2021\"")
                    .replace("\"1.60\"", "\"1.70\"")
                    .replace("memchr = \"2.5\"\n", "memchr = \"2.5\"\nregex = \"1.10\"\n"),
            ),
            (
                "src/lib.rs",
                &LIB_RS.replace(
                    "    words(input).len()\n",
                    "    eprintln!(\"counting {input}\");\n    dbg!(words(input).len())\n",
                ),
            ),
        ],
        "Count with a regex",
    );
    let (_, r) = gate_last_commit(repo);
    assert_eq!(r["blast_radius"]["tier"], "critical");
    assert_eq!(r["blast_radius"]["staged_rollout"], true);
    assert_eq!(
        findings(&r, "style.debug-leftover"),
        ["src/lib.rs:8", "src/lib.rs:9"]
    );
    let reasons = r["blast_radius"]["reasons"].to_string();
    assert!(
        reasons.contains("dependency manifest: Cargo.toml") && !reasons.contains("metadata"),
        "{reasons}"
    );
}

// Bug pinned: GitHub Actions pinned to commit SHAs raised one `secrets.high-entropy`
// warning each.
#[test]
fn actions_pinned_to_commits_are_not_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    crate::fixture::git(repo, &["init", "-q", "-b", "main"]);
    let workflow = "name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: cargo test\n";
    commit(
        repo,
        &[
            (".github/workflows/ci.yml", workflow),
            ("README.md", "# x\n"),
        ],
        "CI",
    );
    let pinned = "name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11 # v4.1.1\n      - uses: dtolnay/rust-toolchain@1482605bfc5719782e1267fd0c0cc350fe7646b8 # stable\n      - uses: Swatinem/rust-cache@23bce251a8cd2ffc3c1075eaa2367cf899916d84 # v2.7.3\n      - uses: actions/cache@0c45773b623bea8c8e75f6c82b208c3cf94ea4f9 # v4.0.2\n      - uses: actions/upload-artifact@5d5d22a31266ced268874388b861e4b58bb5c2f3 # v4.3.1\n      - run: cargo test\n      - env:\n          LEAKED: Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZkdISUpLTA9x\n        run: ./upload.sh\n";
    commit(
        repo,
        &[(".github/workflows/ci.yml", pinned)],
        "Pin actions to commits",
    );
    let (_, r) = gate_last_commit(repo);
    // The five pins are not reported; a random string beside them still is.
    assert_eq!(
        findings(&r, "secrets.high-entropy"),
        [".github/workflows/ci.yml:14"]
    );
}

const GO_MOD: &str =
    "module example.com/shelf\n\ngo 1.21\n\nrequire github.com/google/uuid v1.3.0\n";
const GO_SUM: &str = "github.com/google/uuid v1.3.0 h1:t6JiXgmwXMjEs8VusXIJk2BXHsn+wx8BZdTaoZ5fu7I=\ngithub.com/google/uuid v1.3.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=\n";
const STORE_GO: &str = "package store\n\nimport \"github.com/google/uuid\"\n\nfunc NewID() string {\n\treturn uuid.NewString()\n}\n";
const MAIN_GO: &str = "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/shelf/internal/store\"\n)\n\nfunc main() {\n\tid := store.NewID()\n\t_ = id\n\tfmt.Sprint()\n}\n";

// Bug pinned: a `go` directive bump was `critical` like a new module, and `fmt.Println` was
// never a debug leftover.
#[test]
fn a_go_module_is_graded_by_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    crate::fixture::git(repo, &["init", "-q", "-b", "main"]);
    commit(
        repo,
        &[
            ("go.mod", GO_MOD),
            ("go.sum", GO_SUM),
            ("internal/store/store.go", STORE_GO),
            ("cmd/shelf/main.go", MAIN_GO),
            ("tools/gen.go", "package main\n\nfunc main() {\n}\n"),
        ],
        "shelf",
    );
    commit(
        repo,
        &[
            ("go.mod", &GO_MOD.replace("go 1.21", "go 1.22")),
            (
                "internal/store/store.go",
                &STORE_GO.replace(
                    "\treturn uuid.NewString()\n",
                    "\tid := uuid.NewString()\n\tfmt.Println(\"new id\", id)\n\treturn id\n",
                ),
            ),
            (
                "cmd/shelf/main.go",
                &MAIN_GO.replace("\t_ = id\n", "\tfmt.Println(id)\n"),
            ),
            // A `package main` outside cmd/ prints on purpose too.
            (
                "tools/gen.go",
                "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Printf(\"%d\\n\", 1)\n}\n",
            ),
        ],
        "Go 1.22; say which id was made",
    );
    let (code, r) = gate_last_commit(repo);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        findings(&r, "style.debug-leftover"),
        ["internal/store/store.go:7"]
    );
    assert_eq!(
        r["blast_radius"]["tier"], "medium",
        "{:#}",
        r["blast_radius"]
    );
    assert_eq!(r["blast_radius"]["staged_rollout"], false);
    // A new module is a dependency change.
    commit(
        repo,
        &[
            (
                "go.mod",
                &GO_MOD
                    .replace("go 1.21", "go 1.22")
                    .replace("v1.3.0\n", "v1.3.0\nrequire golang.org/x/sync v0.6.0\n"),
            ),
            (
                "go.sum",
                &format!("{GO_SUM}golang.org/x/sync v0.6.0 h1:5BMeUDZ7vkXGfEr1x9B4bRcTH4lpkTkpdh0T/J+qjbQ=\n"),
            ),
        ],
        "Use x/sync",
    );
    let (_, r) = gate_last_commit(repo);
    assert_eq!(r["blast_radius"]["tier"], "critical");
    assert_eq!(findings(&r, "secrets.high-entropy"), Vec::<String>::new());
}

/// A cost ceiling stops starting attempts once the agents' reported cost reaches it; what
/// finished is kept, the run says so with exit 1, and a higher ceiling resumes.
#[test]
fn a_cost_ceiling_stops_new_attempts_and_a_higher_one_resumes() {
    let f = crate::fixture::Fixture::new();
    f.agent(
        "spender",
        "mkdir -p /mergebench/out && echo '{\"model\": \"m\", \"cost_usd\": 1.0}' > /mergebench/out/usage.json\n",
        "",
    );
    let run = |ceiling: &str| {
        crate::fixture::bin()
            .arg("--db")
            .arg(f.db())
            .args(["run", "--suite"])
            .arg(f.suite())
            .arg("--agents-dir")
            .arg(f.agents())
            .args([
                "--agent",
                "spender",
                "--attempts",
                "3",
                "--jobs",
                "1",
                "--max-agent-cost",
                ceiling,
            ])
            .output()
            .unwrap()
    };
    let attempts = || {
        crate::fixture::sqlite(&f.db(), "SELECT COUNT(*), SUM(cost_usd) FROM attempts")[0].clone()
    };
    let out = run("1.5");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "cost ceiling was reached: $2.0000 spent (measured by gateways, else reported) of $1.5000; 1 attempts were not started"
        ),
        "{err}"
    );
    assert!(err.contains("raise --max-agent-cost"), "{err}");
    assert_eq!(attempts(), ["2", "2"]);
    let unfinished = crate::fixture::sqlite(
        &f.db(),
        "SELECT COUNT(*) FROM evaluations WHERE finished_at IS NULL",
    );
    assert_eq!(unfinished[0][0], "1");
    let out = run("10");
    crate::fixture::succeeded(&out);
    assert_eq!(attempts(), ["3", "3"]);
    for bad in ["0", "-1", "lots", "NaN"] {
        let out = run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}
