//! Reports: the leaderboard and the comparison built from stores filled through the store
//! API (no Docker), their Markdown, JSON and text snapshots, the HTML page in a real headless
//! Chromium, and `nightly` end to end with a planted regression (Docker).

use crate::fixture::bin;
use mergebench::repo::patch::Patch;
use mergebench::report::leaderboard::LeaderboardOptions;
use mergebench::report::{compare_from_store, leaderboard_from_store, render, Format};
use mergebench::score::outcome::{Flags, Outcome};
use mergebench::store::{
    AttemptKey, AttemptRun, JudgementRow, NewAttempt, NewEvaluation, Store, Usage,
};
use std::path::Path;

/// One generated attempt: outcome, the judge's verdict (None: not judged) and its cost.
struct Gen {
    task: usize,
    attempt: u32,
    outcome: Outcome,
    verdict: Option<&'static str>,
    scope_violation: bool,
}

fn task_id(t: usize) -> String {
    format!("shop-{t:03}")
}

fn night(store: &Store, label: &str, agents: &[(&str, f64, f64, Vec<Gen>)]) -> String {
    let eval = store
        .open_evaluation(
            NewEvaluation {
                key: label.into(),
                suite: "shop".into(),
                suite_dir: "tasks/shop".into(),
                agents: agents.iter().map(|a| a.0.to_string()).collect(),
                attempts: 1,
                label: Some(label.into()),
                shard: None,
                manifest: None,
            },
            true,
        )
        .unwrap();
    for (agent, cost, seconds, gens) in agents {
        let batch: Vec<NewAttempt> = gens
            .iter()
            .map(|g| {
                let patch = (g.outcome != Outcome::EmptyPatch).then(|| {
                    Patch::new(
                        format!(
                            "diff --git a/shop/m{t}.py b/shop/m{t}.py\n--- a/shop/m{t}.py\n+++ b/shop/m{t}.py\n@@ -1 +1 @@\n-x = 1\n+x = 2  # {agent} <b>&amp;</b> | v{a}\n",
                            t = g.task,
                            a = g.attempt
                        )
                        .into_bytes(),
                    )
                });
                NewAttempt {
                    key: AttemptKey {
                        eval_id: eval.id.clone(),
                        task_id: task_id(g.task),
                        task_hash: format!("th-{}", g.task),
                        agent: agent.to_string(),
                        agent_hash: format!("ah-{agent}"),
                        attempt: g.attempt,
                    },
                    run: AttemptRun {
                        outcome: g.outcome,
                        flags: Flags {
                            scope_violation: g.scope_violation,
                            ..Flags::default()
                        },
                        agent_seconds: Some(seconds + g.task as f64),
                        usage: Some(Usage {
                            cost_usd: Some(*cost),
                            ..Usage::default()
                        }),
                        grader_version: "g".into(),
                        ..Default::default()
                    },
                    conventions_json: patch.as_ref().map(|_| {
                        format!(
                            "{{\"passed\": {}, \"tier\": \"{}\", \"errors\": 0}}",
                            !g.scope_violation,
                            if g.task % 3 == 0 { "medium" } else { "low" }
                        )
                    }),
                    raw_patch: patch.clone(),
                    graded_patch: patch,
                    ..Default::default()
                }
            })
            .collect();
        let ids = store.record_attempts(&batch).unwrap();
        let judgements: Vec<(i64, JudgementRow)> = gens
            .iter()
            .zip(ids)
            .filter_map(|(g, id)| {
                Some((
                    id,
                    JudgementRow {
                        judge: "j".into(),
                        judge_version: "v".into(),
                        model: None,
                        status: "ok".into(),
                        verdict: Some(g.verdict?.into()),
                        error: None,
                        agreement: Some(1.0),
                        samples: 1,
                        injection_suspected: false,
                        input_tokens: 0,
                        output_tokens: 0,
                        cost_usd: None,
                        created_at: String::new(),
                        detail: serde_json::Value::Null,
                    },
                ))
            })
            .collect();
        store.save_judgements(&judgements).unwrap();
    }
    eval.id
}

/// `merged` tasks (of `tasks`) resolved with a merge verdict, the rest as `other`.
fn agent_night(tasks: usize, merged: &[usize], other: Outcome, attempts: u32) -> Vec<Gen> {
    let mut out = Vec::new();
    for t in 0..tasks {
        for attempt in 1..=attempts {
            let m = merged.contains(&t);
            out.push(Gen {
                task: t,
                attempt,
                outcome: if m { Outcome::Resolved } else { other },
                verdict: match (m, other) {
                    (true, _) => Some("merge"),
                    (false, Outcome::EmptyPatch) => None,
                    (false, Outcome::Resolved) => Some("revise"),
                    _ => Some("reject"),
                },
                scope_violation: false,
            });
        }
    }
    out
}

/// Two nights of suite `shop` with 10 tasks: `steady` merges 7 both nights (2 attempts per
/// task), `slipping` merges all 10 and then 2 (a regression), `tester` resolves everything
/// and merges nothing, with scope violations. Half the tasks are from 2025, half from 2026.
fn two_nights(db: &Path) -> (Store, String, String) {
    let store = Store::open(db).unwrap();
    for t in 0..10 {
        let created = if t < 5 { "2025-06-01" } else { "2026-06-01" };
        store
            .save_task(
                &format!("th-{t}"),
                "shop",
                &task_id(t),
                "t",
                Some(created),
                "{}",
            )
            .unwrap();
    }
    let steady = agent_night(10, &[0, 1, 2, 3, 5, 6, 7], Outcome::Unresolved, 2);
    let mut tester = agent_night(10, &[], Outcome::Resolved, 1);
    for g in tester.iter_mut().take(3) {
        g.scope_violation = true;
    }
    let first = night(
        &store,
        "night 1",
        &[
            ("steady", 0.20, 30.0, steady),
            (
                "slipping",
                0.05,
                10.0,
                agent_night(10, &(0..10).collect::<Vec<_>>(), Outcome::Unresolved, 1),
            ),
            ("tester", 0.10, 20.0, tester),
        ],
    );
    let steady = agent_night(10, &[0, 1, 2, 3, 5, 6, 8], Outcome::Unresolved, 2);
    let tester = agent_night(10, &[], Outcome::Resolved, 1);
    let second = night(
        &store,
        "night 2",
        &[
            ("steady", 0.20, 30.0, steady),
            (
                "slipping",
                0.05,
                10.0,
                agent_night(10, &[0, 9], Outcome::EmptyPatch, 1),
            ),
            ("tester", 0.10, 20.0, tester),
        ],
    );
    (store, first, second)
}

/// Values that change between runs: evaluation ids, timestamps, the version.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"ev-\d{8}-\d{6}-[0-9a-f]{6}", "[EVAL]"),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]"),
        (r"\d{2}-\d{2} \d{2}:\d{2}", "[NIGHT]"),
        (r"mergebench \d+\.\d+\.\d+", "mergebench [VERSION]"),
        (
            r#""mergebench_version": "[^"]+""#,
            r#""mergebench_version": "[VERSION]""#,
        ),
    ]
}

#[test]
fn leaderboard_markdown_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _, second) = two_nights(&tmp.path().join("m.db"));
    let lb = leaderboard_from_store(&store, None, 14, &LeaderboardOptions::default()).unwrap();
    assert_eq!(lb.evaluation.id, second);
    let names: Vec<&str> = lb.agents.iter().map(|a| a.agent.as_str()).collect();
    assert_eq!(names, ["steady", "slipping", "tester"]);
    let steady = &lb.agents[0];
    assert!((steady.mergeable_rate.estimate - 0.7).abs() < 1e-12);
    assert_eq!(steady.pass_at_k.as_ref().unwrap().k, 2);
    // Cost per merged patch: 20 attempts at $0.20 over 14 merged patches.
    assert!((steady.cost_per_merged.unwrap() - 4.0 / 14.0).abs() < 1e-9);
    let tester = &lb.agents[2];
    assert_eq!(tester.resolved_rate.estimate, 1.0);
    assert_eq!(
        tester.inflation, None,
        "resolves everything, merges nothing"
    );
    assert_eq!(tester.human_accept_rate, None);
    // slipping: 10 of 10 merged, then 2 of 10: 8 lost, 0 gained, p = 2/2^8.
    let g = lb
        .regressions
        .iter()
        .find(|g| g.agent == "slipping")
        .unwrap();
    assert_eq!((g.lost, g.gained, g.shared_tasks), (8, 0, 10));
    assert!((g.p_value - 2.0 / 256.0).abs() < 1e-12);
    // Adjusted with the night's two other agents' tests (both p = 1): Holm multiplies the
    // smallest by three.
    assert_eq!(g.family, 3);
    assert!((g.adjusted_p - 3.0 * 2.0 / 256.0).abs() < 1e-12);
    assert_eq!(lb.regression_tests.len(), 3);
    assert_eq!(lb.clustering.by, "task");
    assert_eq!(
        lb.regressions.len(),
        1,
        "steady moved one task each way: no regression"
    );
    assert_eq!(lb.history.nights.len(), 2);

    let md = render::leaderboard(&lb, Format::Markdown);
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("leaderboard_md", md);
    });
    let json: serde_json::Value =
        serde_json::from_str(&render::leaderboard(&lb, Format::Json)).unwrap();
    assert_eq!(
        json["agents"][2]["human_accept_rate"],
        serde_json::Value::Null
    );
    insta::with_settings!({ filters => filters() }, {
        insta::assert_json_snapshot!("leaderboard_json", json);
    });
}

#[test]
fn since_keeps_only_tasks_created_after_the_date() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _, _) = two_nights(&tmp.path().join("m.db"));
    let lb = leaderboard_from_store(
        &store,
        None,
        14,
        &LeaderboardOptions {
            since: Some("2026-01-01".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(lb.agents.iter().all(|a| a.tasks == 5), "{:?}", lb.agents);
    assert!(
        lb.judged,
        "filtering tasks does not change whether the night was judged"
    );
    assert!(lb.matrix.iter().all(|r| r.task.as_str() >= "shop-005"));
}

#[test]
fn compare_text_markdown_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _, _) = two_nights(&tmp.path().join("m.db"));
    let c = compare_from_store(&store, None, "slipping", "steady").unwrap();
    // steady merges 0,1,2,3,5,6,8; slipping 0 and 9: steady wins 6, slipping wins 1.
    assert_eq!((c.b_wins, c.a_wins, c.ties, c.shared_tasks), (6, 1, 3, 10));
    assert!((c.p_value - 16.0 / 128.0).abs() < 1e-12, "2·(1+7)/2^7");
    assert!((c.difference.estimate - 0.5).abs() < 1e-12);
    // $0.20 × 20 / 14 merged over $0.05 × 10 / 2 merged.
    assert!((c.cost_ratio.unwrap() - (4.0 / 14.0) / 0.25).abs() < 1e-9);
    assert!(
        c.sentence
            .starts_with("steady merges 50 points more than slipping (95% CI 10 to 90, p = 0.13) "),
        "{}",
        c.sentence
    );
    assert!(
        c.sentence
            .ends_with(", p = 0.13) at 1.1× the cost per merged patch."),
        "{}",
        c.sentence
    );
    assert_eq!(c.differing.len(), 7);
    let text = render::comparison(&c, Format::Text);
    let md = render::comparison(&c, Format::Markdown);
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("compare_text", text);
        insta::assert_snapshot!("compare_md", md);
    });
    assert!(
        md.contains("```diff\ndiff --git"),
        "both diffs are embedded"
    );
    let json: serde_json::Value =
        serde_json::from_str(&render::comparison(&c, Format::Json)).unwrap();
    assert_eq!(json["b_wins"], 6);
    assert!(json["sentence"]
        .as_str()
        .unwrap()
        .contains("steady merges 50 points more"));
    let err = compare_from_store(&store, None, "steady", "nobody").unwrap_err();
    assert!(err.to_string().contains("nobody"), "{err}");
}

/// Twenty tasks from two repositories (ten each, declared through each task's `cluster`):
/// `alpha` merges all of repository a and none of b; `beta` the same plus three tasks of b.
/// Everything `beta` gains is in one repository, so the clustered standard error is nearly
/// twice the naive one and the comparison says it could not have detected the difference.
#[test]
fn compare_over_two_repositories_uses_their_clusters() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("m.db")).unwrap();
    for t in 0..20 {
        let repo = if t < 10 { "repo-a" } else { "repo-b" };
        store
            .save_task(
                &format!("th-{t}"),
                "shop",
                &task_id(t),
                "t",
                None,
                &format!("{{\"cluster\": \"{repo}\"}}"),
            )
            .unwrap();
    }
    night(
        &store,
        "night 1",
        &[
            (
                "alpha",
                0.1,
                10.0,
                agent_night(20, &(0..10).collect::<Vec<_>>(), Outcome::Unresolved, 1),
            ),
            (
                "beta",
                0.1,
                10.0,
                agent_night(20, &(0..13).collect::<Vec<_>>(), Outcome::Unresolved, 1),
            ),
        ],
    );
    let c = compare_from_store(&store, None, "alpha", "beta").unwrap();
    assert_eq!((c.clustering.by, c.clustering.clusters), ("declared", 2));
    assert!((c.difference.estimate - 0.15).abs() < 1e-12);
    // Resampling the two repositories gives 0 (a, a), 0.15 (a, b) or 0.30 (b, b).
    assert_eq!((c.difference.low, c.difference.high), (0.0, 0.3));
    // Residual sums −1.5 (a) and +1.5 (b): √(2 · 4.5) / 20 = 0.15; naive √(2.55/19/20).
    assert!((c.difference_se.unwrap() - 0.15).abs() < 1e-12);
    assert!((c.naive_se.unwrap() - (2.55f64 / 19.0 / 20.0).sqrt()).abs() < 1e-12);
    assert!((c.power.discordance - 0.15).abs() < 1e-12);
    assert!(c.power.design_effect > 3.0 && c.power.design_effect < 3.5);
    assert_eq!(c.power.detectable_difference, None);
    let md = render::comparison(&c, Format::Markdown);
    assert!(
        md.contains("cluster bootstrap over 2 declared clusters of 20 tasks"),
        "{md}"
    );
    assert!(
        md.contains("standard error 15.0 points clustered by the 2 declared clusters (8.2 if the tasks were independent)"),
        "{md}"
    );
    assert!(md.contains("too few to detect"), "{md}");
    let lb = leaderboard_from_store(&store, None, 14, &LeaderboardOptions::default()).unwrap();
    assert_eq!((lb.clustering.by, lb.clustering.clusters), ("declared", 2));
    assert!(render::leaderboard(&lb, Format::Markdown).contains("2 declared clusters"));
}

/// With enough held-out labels for the night's judge version, each agent's judge merge rate
/// is shown corrected for the judge's error (Rogan–Gladen); with too few, no figure and why.
#[test]
fn leaderboard_shows_the_calibrated_merge_rate_when_labels_suffice() {
    use mergebench::report::leaderboard::JudgeCalibration;
    use mergebench::stats::JudgeErrorCounts;
    let tmp = tempfile::tempdir().unwrap();
    let (store, _, _) = two_nights(&tmp.path().join("m.db"));
    let with = |positives, negatives| LeaderboardOptions {
        calibration: vec![JudgeCalibration {
            judge_version: "v".into(),
            // Sensitivity 0.9, specificity 0.8.
            counts: JudgeErrorCounts {
                positives,
                positives_judged_merge: positives * 9 / 10,
                negatives,
                negatives_judged_merge: negatives / 5,
            },
        }],
        ..Default::default()
    };
    let lb = leaderboard_from_store(&store, None, 14, &with(50, 50)).unwrap();
    let by = |name: &str| lb.agents.iter().find(|a| a.agent == name).unwrap();
    // steady: the judge merges 7 of 10 tasks; (0.7 + 0.8 − 1) / (0.9 + 0.8 − 1) = 5/7.
    let steady = by("steady").calibrated_merge_rate.unwrap();
    assert!((steady.estimate - 5.0 / 7.0).abs() < 1e-12, "{steady:?}");
    assert!(steady.low < steady.estimate && steady.high > steady.estimate);
    // tester: the judge merges nothing, below the judge's false-merge floor: 0.
    assert_eq!(by("tester").calibrated_merge_rate.unwrap().estimate, 0.0);
    assert!(by("steady")
        .calibration
        .as_deref()
        .unwrap()
        .contains("on 100 held-out labels: sensitivity 0.90, specificity 0.80"));
    let md = render::leaderboard(&lb, Format::Markdown);
    assert!(md.contains("calibrated merge (95% CI)"), "{md}");
    assert!(md.contains("71% ("), "{md}");

    let few = leaderboard_from_store(&store, None, 14, &with(10, 50)).unwrap();
    let steady = few.agents.iter().find(|a| a.agent == "steady").unwrap();
    assert_eq!(steady.calibrated_merge_rate, None);
    assert!(steady
        .calibration
        .as_deref()
        .unwrap()
        .starts_with("too few held-out labels: 10"));
    let none = leaderboard_from_store(&store, None, 14, &LeaderboardOptions::default()).unwrap();
    assert!(none.agents[0]
        .calibration
        .as_deref()
        .unwrap()
        .starts_with("no held-out labels checked against judge version v"));
}

/// `report power`: from an assumed base rate with independent agents, or from two agents'
/// measured discordance in an evaluation; bad flags name the fix.
#[test]
fn report_power_plans_from_an_assumption_or_an_evaluation() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("m.db");
    drop(two_nights(&db));
    let run = |args: &[&str]| {
        let o = bin().arg("--db").arg(&db).args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // 40% against 50%, independent: ψ = 0.5, 390.08 → 391 tasks.
    let (code, out, _) = run(&["report", "power", "--diff", "10"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("To detect a 10-point difference"), "{out}");
    assert!(out.contains(": 391 tasks."), "{out}");
    // slipping and steady differ on 7 of their 10 shared tasks: ψ = 0.7, 547.0 → 548.
    let (code, out, err) = run(&[
        "report", "power", "--diff", "10", "--a", "slipping", "--b", "steady", "--format", "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["tasks_needed"], 548);
    assert!((json["discordance"].as_f64().unwrap() - 0.7).abs() < 1e-12);
    assert!(json["discordance_from"]
        .as_str()
        .unwrap()
        .starts_with("observed: slipping and steady differ by 70% on their 10 shared tasks"));
    for bad in [
        &["report", "power", "--diff", "150"][..],
        &["report", "power", "--diff", "5", "--base-rate", "40"][..],
        &["report", "power", "--diff", "5", "--a", "steady"][..],
        &["report", "power", "--diff", "5", "--eval", "x"][..],
        &[
            "report", "power", "--diff", "5", "--a", "steady", "--b", "nobody",
        ][..],
        &["report", "power", "--diff", "5", "--attempts", "0"][..],
    ] {
        let (code, _, err) = run(bad);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
        assert!(err.contains("error:"), "{bad:?}: {err}");
    }
}

#[test]
fn report_commands_write_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("m.db");
    drop(two_nights(&db));
    for ext in ["html", "md", "json"] {
        let out = tmp.path().join(format!("out/leaderboard.{ext}"));
        let o = bin()
            .arg("--db")
            .arg(&db)
            .args(["report", "leaderboard", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("slipping"), "{ext}");
    }
    let o = bin()
        .arg("--db")
        .arg(&db)
        .args(["report", "compare", "slipping", "steady"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.starts_with("steady merges 50 points more than slipping"),
        "{stdout}"
    );
    for bad in [
        &["report", "leaderboard", "--since", "last week"][..],
        &["report", "leaderboard", "--format", "pdf"][..],
        &["report", "compare", "steady", "steady"][..],
        &["report", "compare", "steady", "nobody"][..],
    ] {
        let o = bin().arg("--db").arg(&db).args(bad).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

use crate::browser::{chromedriver as start_chromedriver, Driver};

/// The browser's console log: the legacy endpoint chromedriver still serves.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type": "browser"}"#.into()))
    }
}

struct PageReport {
    title: String,
    /// Every resource the page fetched (performance entries).
    resources: Vec<String>,
    /// Console entries at SEVERE level.
    errors: Vec<String>,
    svgs: u64,
    matrix_links: u64,
    diff_text: String,
}

async fn open_in_chromium(driver: &Driver, page: &Path) -> PageReport {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:loggingPrefs".into(),
        serde_json::json!({ "browser": "ALL" }),
    );
    let client = crate::browser::session(driver, &[], caps).await;
    client
        .goto(&format!("file://{}", page.display()))
        .await
        .unwrap();
    // Let late loads (images, fonts) land in the performance timeline and the log.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let js = |script: &'static str| {
        let client = client.clone();
        async move { client.execute(script, vec![]).await.unwrap() }
    };
    let resources = js("return performance.getEntriesByType('resource').map(e => e.name)").await;
    let svgs = js("return document.querySelectorAll('svg').length").await;
    let links =
        js("return document.querySelectorAll('table.matrix a[href^=\"#patch-\"]').length").await;
    let diff =
        js("const d = document.querySelector('details pre.diff'); return d ? d.textContent : ''")
            .await;
    let log = client.issue_cmd(BrowserLog).await.unwrap();
    let errors = log
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect();
    let title = client.title().await.unwrap();
    client.close().await.unwrap();
    PageReport {
        title,
        resources: serde_json::from_value(resources).unwrap(),
        errors,
        svgs: svgs.as_u64().unwrap(),
        matrix_links: links.as_u64().unwrap(),
        diff_text: diff.as_str().unwrap_or_default().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_report_renders_offline_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _, _) = two_nights(&tmp.path().join("m.db"));
    let lb = leaderboard_from_store(&store, None, 14, &LeaderboardOptions::default()).unwrap();
    let html = render::leaderboard(&lb, Format::Html);
    // Autoescaped: the patch's own markup is text, never elements.
    assert!(
        html.contains("&lt;b&gt;&amp;amp;&lt;&#x2f;b&gt;")
            || html.contains("&lt;b&gt;&amp;amp;&lt;/b&gt;"),
        "patch text is escaped"
    );
    assert!(!html.contains("<b>&amp;</b>"));
    let page = tmp.path().join("leaderboard.html");
    std::fs::write(&page, &html).unwrap();
    let cmp = compare_from_store(&store, None, "slipping", "steady").unwrap();
    let cmp_page = tmp.path().join("compare.html");
    std::fs::write(&cmp_page, render::comparison(&cmp, Format::Html)).unwrap();

    // A control page that does fetch and does log an error: proves the checks can see both.
    let control = tmp.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><html><head><title>control</title></head><body><img src=\"http://127.0.0.1:9/x.png\"><script>console.error('boom')</script></body></html>",
    )
    .unwrap();

    let driver = start_chromedriver();
    let c = open_in_chromium(&driver, &control).await;
    assert!(
        !c.resources.is_empty(),
        "the control's image request is seen"
    );
    assert!(
        c.errors.iter().any(|e| e.contains("boom")),
        "{:?}",
        c.errors
    );

    let r = open_in_chromium(&driver, &page).await;
    assert_eq!(r.title, "mergebench leaderboard: shop");
    assert!(
        r.resources.is_empty(),
        "the report fetched {:?}",
        r.resources
    );
    assert!(r.errors.is_empty(), "console errors: {:?}", r.errors);
    assert_eq!(r.svgs, 2, "the rates chart and the trend chart");
    assert!(
        r.matrix_links >= 20,
        "matrix cells link to patches: {}",
        r.matrix_links
    );
    assert!(
        r.diff_text.contains("<b>&amp;</b>"),
        "the diff reads as it was written: {}",
        r.diff_text
    );

    let r = open_in_chromium(&driver, &cmp_page).await;
    assert_eq!(r.title, "steady vs slipping");
    assert!(
        r.resources.is_empty(),
        "the comparison fetched {:?}",
        r.resources
    );
    assert!(r.errors.is_empty(), "console errors: {:?}", r.errors);
}

/// `nightly` end to end (Docker): a first night has nothing to regress from and exits 0; a
/// planted night in which `noop` merged all six tasks makes the next real night (empty
/// patches) a significant drop, so it exits 1 and says why.
#[test]
fn nightly_runs_end_to_end_and_fails_on_a_planted_regression() {
    let f = crate::fixture::Fixture::new();
    // Six tasks, so that losing all of them is significant (p = 2/2^6).
    let suite = f.suite();
    let task = std::fs::read_to_string(suite.join("calc-001/task.toml")).unwrap();
    for n in 2..=6 {
        let dir = suite.join(format!("calc-00{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["problem.md", "gold.patch", "tests.patch"] {
            std::fs::copy(suite.join("calc-001").join(file), dir.join(file)).unwrap();
        }
        std::fs::write(
            dir.join("task.toml"),
            task.replace("calc-001", &format!("calc-00{n}")),
        )
        .unwrap();
    }
    crate::fixture::write(
        &f.agents(),
        "noop.toml",
        "name = \"noop\"\ncommand = [\"true\"]\ntimeout = \"60s\"\nmemory = \"256MiB\"\n",
    );
    let config = f.dir.path().join("nightly.toml");
    std::fs::write(
        &config,
        "suites = [\"suite\"]\nagents = [\"noop\"]\nagents_dir = \"agents\"\njobs = 3\ncheckpoints = true\n[report]\nhtml = \"out/{suite}.html\"\nmarkdown = \"out/{suite}.md\"\njson = \"out/{suite}.json\"\n",
    )
    .unwrap();
    let nightly = || {
        let o = bin()
            .arg("--db")
            .arg(f.db())
            .args(["nightly", "--config"])
            .arg(&config)
            .current_dir(f.dir.path())
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = nightly();
    assert_eq!(code, Some(0), "{out}\n{err}");
    for ext in ["html", "md", "json"] {
        let path = f.dir.path().join(format!("out/fixture.{ext}"));
        assert!(out.contains(&path.display().to_string()), "{out}");
        assert!(path.exists());
    }
    // No judge is configured, so there is nothing to re-judge the checkpoints with.
    assert!(
        out.contains("checkpoints: no judge configured; skipped"),
        "{out}"
    );
    assert!(out.contains("drift: no alarm"), "{out}");
    assert!(out.contains("nightly: no regression"), "{out}");

    let store = Store::open(&f.db()).unwrap();
    let eval = store
        .open_evaluation(
            NewEvaluation {
                key: "planted".into(),
                suite: "fixture".into(),
                suite_dir: suite.display().to_string(),
                agents: vec!["noop".into()],
                attempts: 1,
                label: Some("planted".into()),
                shard: None,
                manifest: None,
            },
            true,
        )
        .unwrap();
    let batch: Vec<NewAttempt> = (1..=6)
        .map(|n| NewAttempt {
            key: AttemptKey {
                eval_id: eval.id.clone(),
                task_id: format!("calc-00{n}"),
                task_hash: format!("planted-{n}"),
                agent: "noop".into(),
                agent_hash: "planted".into(),
                attempt: 1,
            },
            run: AttemptRun {
                outcome: Outcome::Resolved,
                grader_version: "planted".into(),
                ..Default::default()
            },
            ..Default::default()
        })
        .collect();
    store.record_attempts(&batch).unwrap();
    drop(store);

    let (code, out, err) = nightly();
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        out.contains("regression: noop merge rate fell from 100% to 0% on 6 shared tasks (6 lost, 0 gained; McNemar exact p = 0.03, Holm-adjusted over 1 agent p = 0.03)"),
        "{out}"
    );
    assert!(out.contains("nightly: 1 regression(s): exit 1"), "{out}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.dir.path().join("out/fixture.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["regressions"][0]["agent"], "noop");
    assert_eq!(json["history"]["nights"].as_array().unwrap().len(), 3);
}
