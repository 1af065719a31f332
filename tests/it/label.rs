//! The labeling web app end to end: HTTP-level checks of sessions, CSRF and assignment, and a
//! real headless Chromium driven through WebDriver labeling a queue with the keyboard.
//! The store is filled through the library (no Docker).

use crate::fixture::{bin, sqlite};
use mergebench::config::suite::{load_suite, Task};
use mergebench::review::labels::rubric::Rubric;
use mergebench::score::outcome::Outcome;
use mergebench::store::{ClaimPolicy, NewEvaluation, Store};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A patch no one should ever see run: script tags and an attribute breakout.
pub const HOSTILE_LINES: &str =
    "+<script>window.__xss = 1</script>\n+\"><img src=x onerror=\"window.__xss = 2\">\n";

/// The name of the agent that wrote the hostile patch: the page must never show it.
pub const SECRET_AGENT: &str = "agent-name-must-stay-hidden";

/// What a kind of agent does to a task's gold patch, and the outcome it gets.
pub fn patch_of(kind: &str, task: &Task) -> (Vec<u8>, Outcome) {
    let gold = String::from_utf8(task.gold.clone().unwrap()).unwrap();
    match kind {
        "oracle" => (gold.into_bytes(), Outcome::Resolved),
        // Right fix, plus a file far outside the area the fix belongs to.
        "overreach" => (
            format!("{gold}diff --git a/NOTES.md b/NOTES.md\nnew file mode 100644\n--- /dev/null\n+++ b/NOTES.md\n@@ -0,0 +1 @@\n+rewritten notes\n").into_bytes(),
            Outcome::Resolved,
        ),
        "regressor" => (
            format!("{gold}diff --git a/shop/common/money.py b/shop/common/money.py\n--- a/shop/common/money.py\n+++ b/shop/common/money.py\n@@ -1 +1 @@\n-import decimal\n+import decimal  # broken\n").into_bytes(),
            Outcome::Unresolved,
        ),
        "hostile" => (
            format!("diff --git a/shop/page.html b/shop/page.html\nnew file mode 100644\n--- /dev/null\n+++ b/shop/page.html\n@@ -0,0 +1,2 @@\n{HOSTILE_LINES}").into_bytes(),
            Outcome::Resolved,
        ),
        // One new file of 900 lines: more than two pages.
        "large" => {
            let mut p = String::from("diff --git a/shop/big.py b/shop/big.py\nnew file mode 100644\n--- /dev/null\n+++ b/shop/big.py\n@@ -0,0 +1,900 @@\n");
            for i in 0..900 {
                p.push_str(&format!("+line_{i} = {i}\n"));
            }
            (p.into_bytes(), Outcome::Resolved)
        }
        other => panic!("unknown agent kind {other}"),
    }
}

pub struct LabelDb {
    pub _tmp: tempfile::TempDir,
    pub db: PathBuf,
    pub eval: String,
    pub store: Arc<Store>,
}

impl LabelDb {
    /// An evaluation of the demo suite as `run` would store it: each (agent kind, task)
    /// pair gets one attempt.
    pub fn new(attempts: &[(&str, &str, usize)]) -> LabelDb {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("m.db");
        let suite_dir = repo().join("tasks/demo");
        let suite = load_suite(&suite_dir).unwrap();
        let store = Arc::new(Store::open(&db).unwrap());
        let ev = store
            .open_evaluation(
                NewEvaluation {
                    key: "label-test".into(),
                    suite: "demo".into(),
                    suite_dir: suite_dir.display().to_string(),
                    agents: attempts.iter().map(|a| a.0.to_string()).collect(),
                    attempts: 1,
                    label: None,
                    shard: None,
                    manifest: None,
                },
                true,
            )
            .unwrap();
        for &(agent, kind, task) in attempts {
            let t = &suite.tasks[task];
            let (patch, outcome) = patch_of(kind, t);
            crate::fixture::record_attempt(&store, &ev.id, t, agent, patch, outcome);
        }
        LabelDb {
            _tmp: tmp,
            db,
            eval: ev.id,
            store,
        }
    }

    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = bin()
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .current_dir(repo())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.cli(args);
        assert_eq!(code, 0, "{args:?}: {err}\n{out}");
        out
    }

    /// `reviewers add NAME`: the token it prints.
    pub fn reviewer(&self, name: &str) -> String {
        self.ok(&["reviewers", "add", name]).trim().to_string()
    }
}

/// The labeling app on 127.0.0.1 at a port of its own; returns its base URL.
async fn serve(store: Arc<Store>) -> String {
    serve_with(store, ClaimPolicy::default()).await
}

/// `serve` with its claims lasting and capped as given.
pub async fn serve_with(store: Arc<Store>, claims: ClaimPolicy) -> String {
    let spec = mergebench::judge::find_judge(&repo().join("judges"), "merge-review").unwrap();
    let app = mergebench::review::web::App::new(
        store,
        mergebench::review::web::Options {
            rubric: Rubric::new(&spec.name, &spec.rubric),
            suite: None,
            show_tests: true,
            secure_cookies: false,
            claims,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mergebench::review::web::serve(listener, app));
    format!("http://{addr}")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(String::from)
}

pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// A logged-in reviewer over plain HTTP: their session cookie and CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl Session {
    /// The page at `base` + `path`, as this reviewer sees it.
    pub async fn page(&self, base: &str, path: &str) -> String {
        client()
            .get(format!("{base}{path}"))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

pub async fn login(base: &str, token: &str) -> Session {
    let c = client();
    let page = c.get(format!("{base}/login")).send().await.unwrap();
    let pre = set_cookie(&page, "mb_login").unwrap();
    let pre = pre.split(';').next().unwrap().to_string();
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    // Without the login form's token the login is refused, even with a valid reviewer token.
    let refused = c
        .post(format!("{base}/login"))
        .header("cookie", &pre)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let r = c
        .post(format!("{base}/login"))
        .header("cookie", &pre)
        .form(&[("csrf", csrf.as_str()), ("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = set_cookie(&r, "mb_session").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let next = c
        .get(format!("{base}/next"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let item = next.headers()["location"].to_str().unwrap().to_string();
    let html = c
        .get(format!("{base}{item}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    Session {
        csrf: hidden(&html, "csrf"),
        cookie,
    }
}

#[tokio::test]
async fn sessions_csrf_and_assignment_are_enforced_over_http() {
    let d = LabelDb::new(&[
        ("oracle", "oracle", 0),
        ("oracle", "oracle", 1),
        ("overreach", "overreach", 2),
    ]);
    d.ok(&[
        "labels",
        "sample",
        "--eval",
        &d.eval,
        "--n",
        "3",
        "--overlap",
        "0",
    ]);
    let ana = d.reviewer("ana");
    let ben = d.reviewer("ben");
    // Only the hash of a token is stored.
    let stored = sqlite(&d.db, "SELECT token_sha256 FROM reviewers");
    assert!(stored
        .iter()
        .all(|r| r[0] != ana && r[0] != ben && r[0].len() == 64));
    let base = serve(d.store.clone()).await;
    let c = client();

    // Logged out: every page sends to the login, and the headers are there on every answer.
    let r = c.get(format!("{base}/next")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/login");
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let bad = c
        .post(format!("{base}/login"))
        .form(&[("csrf", "x"), ("token", ana.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status(),
        403,
        "a login without the form's cookie is refused"
    );

    // The guidelines come from the judge's rubric; the script and stylesheet are served here.
    let g = c
        .get(format!("{base}/guidelines"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        g.contains("Rubric version") && g.contains("solves problem"),
        "{g}"
    );
    let js = c.get(format!("{base}/static/app.js")).send().await.unwrap();
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));

    let a = login(&base, &ana).await;
    let queue = d.store.queue_of(1, &ClaimPolicy::default()).unwrap();
    let mine = queue[0].item_id;
    let post = |s: &Session, item: i64, csrf: Option<&str>| {
        let mut form = vec![
            ("verdict", "merge".to_string()),
            ("reasons", "scope".into()),
        ];
        if let Some(t) = csrf {
            form.push(("csrf", t.to_string()));
        }
        c.post(format!("{base}/item/{item}/label"))
            .header("cookie", &s.cookie)
            .form(&form)
            .send()
    };
    // A POST without the CSRF token, or with a wrong one, is refused and saves nothing.
    assert_eq!(post(&a, mine, None).await.unwrap().status(), 403);
    assert_eq!(post(&a, mine, Some("forged")).await.unwrap().status(), 403);
    assert_eq!(sqlite(&d.db, "SELECT count(*) FROM labels")[0][0], "0");

    // Another reviewer cannot see or label an item assigned to ana.
    let b = login(&base, &ben).await;
    let page = c
        .get(format!("{base}/item/{mine}"))
        .header("cookie", &b.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    assert_eq!(post(&b, mine, Some(&b.csrf)).await.unwrap().status(), 403);
    assert_eq!(sqlite(&d.db, "SELECT count(*) FROM labels")[0][0], "0");

    // Ana's own label goes in, with the rubric version, and the queue moves on.
    let r = post(&a, mine, Some(&a.csrf)).await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/next"));
    let rows = sqlite(
        &d.db,
        "SELECT verdict, reasons_json, source, rubric_version FROM labels",
    );
    assert_eq!(rows[0][..3], ["merge", "[\"scope\"]", "web"]);
    assert_eq!(rows[0][3].len(), 12);
    // Labels are immutable in the schema itself.
    let conn = rusqlite::Connection::open(&d.db).unwrap();
    assert!(conn
        .execute("UPDATE labels SET verdict = 'reject'", [])
        .is_err());
    assert!(conn.execute("DELETE FROM labels", []).is_err());
}

#[test]
fn overlap_items_go_to_two_different_reviewers_and_no_third() {
    let d = LabelDb::new(&[("oracle", "oracle", 0), ("overreach", "overreach", 1)]);
    d.ok(&[
        "labels",
        "sample",
        "--eval",
        &d.eval,
        "--n",
        "2",
        "--overlap",
        "1",
    ]);
    let ids: Vec<i64> = ["ana", "ben", "cat"]
        .iter()
        .map(|n| d.store.add_reviewer(n, None).unwrap())
        .collect();
    let claims = ClaimPolicy::default();
    let first = d.store.claim_next(ids[0], &claims).unwrap().unwrap();
    assert_eq!(d.store.claim_next(ids[1], &claims).unwrap(), Some(first));
    let second = d.store.claim_next(ids[2], &claims).unwrap().unwrap();
    assert_ne!(
        second, first,
        "a third reviewer is not given a twice-assigned item"
    );
    assert_eq!(d.store.claim_next(ids[0], &claims).unwrap(), Some(second));
    assert_eq!(d.store.claim_next(ids[1], &claims).unwrap(), None);
    assert_eq!(
        d.store.claim_next(ids[0], &claims).unwrap(),
        None,
        "never the same item twice"
    );
}

#[tokio::test]
async fn the_item_page_is_blind_and_shows_hostile_patches_as_text() {
    let d = LabelDb::new(&[(SECRET_AGENT, "hostile", 0)]);
    let row = &d.store.attempts(&d.eval).unwrap()[0];
    d.store
        .save_judgement(
            row.id,
            &mergebench::store::JudgementRow {
                judge: "heuristic".into(),
                judge_version: "v".into(),
                model: None,
                status: "ok".into(),
                verdict: Some("reject".into()),
                error: None,
                agreement: Some(1.0),
                samples: 1,
                injection_suspected: false,
                input_tokens: 0,
                output_tokens: 0,
                cost_usd: None,
                created_at: String::new(),
                detail: serde_json::json!({"rationale": "JUDGE-RATIONALE-MUST-STAY-HIDDEN"}),
            },
        )
        .unwrap();
    d.ok(&["labels", "sample", "--eval", &d.eval, "--n", "1"]);
    let token = d.reviewer("ana");
    let base = serve(d.store.clone()).await;
    let s = login(&base, &token).await;
    let html = s.page(&base, "/item/1").await;
    assert!(!html.contains(SECRET_AGENT));
    assert!(!html.contains("JUDGE-RATIONALE"));
    assert!(!html.contains("<script>window"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    // minijinja also escapes `/` (as &#x2f;).
    assert!(
        html.contains("&lt;script&gt;window.__xss = 1&lt;&#x2f;script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&quot;&gt;&lt;img src=x onerror=&quot;window.__xss = 2&quot;&gt;"),
        "{html}"
    );
    // The only script is the app's own, loaded from this server.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("<script src=\"/static/app.js\" defer></script>"));
}

#[tokio::test]
async fn a_large_diff_is_paged_and_each_page_has_both_views() {
    let d = LabelDb::new(&[("big", "large", 0)]);
    d.ok(&["labels", "sample", "--eval", &d.eval, "--n", "1"]);
    let token = d.reviewer("ana");
    let base = serve(d.store.clone()).await;
    let s = login(&base, &token).await;
    let get = |q: &'static str| {
        client()
            .get(format!("{base}/item/1{q}"))
            .header("cookie", &s.cookie)
            .send()
    };
    let first = get("").await.unwrap().text().await.unwrap();
    assert!(first.contains("page 1 of 3") && first.contains("id=\"next-page\""));
    assert!(first.contains("line_0 = 0") && !first.contains("line_899 = 899"));
    assert!(first.contains("<body class=\"view-unified\">"));
    let last = get("?page=3&view=split")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(last.contains("page 3 of 3") && last.contains("id=\"prev-page\""));
    assert!(!last.contains("id=\"next-page\""));
    assert!(last.contains("line_899 = 899") && last.contains("(continued)"));
    assert!(last.contains("<body class=\"view-split\">"));
    // A page past the end shows the last one rather than an error.
    let past = get("?page=99").await.unwrap().text().await.unwrap();
    assert!(past.contains("page 3 of 3"));
}

use crate::browser::{chromedriver, Driver};

async fn browser(driver: &Driver) -> fantoccini::Client {
    crate::browser::session(
        driver,
        &["--disable-dev-shm-usage", "--window-size=1280,1000"],
        serde_json::Map::new(),
    )
    .await
}

async fn wait_for_url(c: &fantoccini::Client, not: &str) -> String {
    for _ in 0..100 {
        let u = c.current_url().await.unwrap().to_string();
        if u != not {
            return u;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never left {not}");
}

/// Every URL the page fetched, and every absolute URL in its source, is on this server.
async fn assert_stays_home(c: &fantoccini::Client, base: &str) {
    let fetched = c
        .execute(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; }).concat([location.href]);",
            vec![],
        )
        .await
        .unwrap();
    for u in fetched.as_array().unwrap() {
        assert!(
            u.as_str().unwrap().starts_with(base),
            "a request left for {u}"
        );
    }
    let src = c.source().await.unwrap();
    for (i, _) in src.match_indices("://") {
        let start = src[..i]
            .rfind(|ch: char| !ch.is_ascii_alphabetic())
            .map_or(0, |s| s + 1);
        let url: String = src[start..]
            .chars()
            .take_while(|ch| !ch.is_whitespace() && *ch != '"' && *ch != '<')
            .collect();
        assert!(url.starts_with(base), "the page names another host: {url}");
    }
}

#[tokio::test]
async fn a_reviewer_labels_three_items_with_the_keyboard_in_headless_chromium() {
    let d = LabelDb::new(&[
        (SECRET_AGENT, "hostile", 0),
        ("oracle", "oracle", 1),
        ("overreach", "overreach", 2),
    ]);
    d.ok(&[
        "labels",
        "sample",
        "--eval",
        &d.eval,
        "--n",
        "3",
        "--overlap",
        "0",
    ]);
    let token = d.reviewer("ana");
    let base = serve(d.store.clone()).await;
    let driver = chromedriver();
    let c = browser(&driver).await;
    let result = async {
        use fantoccini::{key::Key, Locator};
        c.goto(&format!("{base}/login")).await?;
        let login_url = c.current_url().await?.to_string();
        c.find(Locator::Id("token"))
            .await?
            .send_keys(&token)
            .await?;
        c.find(Locator::Css("form.login button[type=submit]"))
            .await?
            .click()
            .await?;
        let mut url = wait_for_url(&c, &login_url).await;
        let mut seen_hostile = false;
        // The session cookie is out of a script's reach, and a POST from the page without
        // the form's CSRF token is refused.
        let cookies = c.execute("return document.cookie;", vec![]).await?;
        assert!(!cookies.as_str().unwrap().contains("mb_session"), "{cookies}");
        let item = url.rsplit('/').next().unwrap().to_string();
        let status = c
            .execute(
                "var x = new XMLHttpRequest(); x.open('POST', '/item/' + arguments[0] + '/label', false);
                 x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
                 x.send('verdict=merge'); return x.status;",
                vec![item.into()],
            )
            .await?;
        assert_eq!(status, 403);
        for n in 0..3 {
            assert!(url.starts_with(&format!("{base}/item/")), "{url}");
            let progress = c.find(Locator::Id("progress")).await?.text().await?;
            assert!(progress.contains(&format!("{n} labeled")), "{progress}");
            let src = c.source().await?;
            assert!(
                !src.contains(SECRET_AGENT)
                    && !src.contains("oracle")
                    && !src.contains("overreach")
            );
            let diff = c.find(Locator::Id("diff")).await?.text().await?;
            if diff.contains("window.__xss") {
                seen_hostile = true;
                assert!(diff.contains("<script>window.__xss = 1</script>"), "{diff}");
                assert!(
                    diff.contains("\"><img src=x onerror=\"window.__xss = 2\">"),
                    "{diff}"
                );
                assert!(c
                    .find_all(Locator::Css("#diff img, #diff script"))
                    .await?
                    .is_empty());
                let ran = c.execute("return typeof window.__xss;", vec![]).await?;
                assert_eq!(ran, "undefined", "markup from the patch ran");
            }
            assert_stays_home(&c, &base).await;
            // The help overlay opens and closes from the keyboard.
            let body = c.find(Locator::Css("body")).await?;
            body.send_keys("?").await?;
            assert!(c.find(Locator::Id("help")).await?.is_displayed().await?);
            body.send_keys(&char::from(Key::Escape).to_string()).await?;
            assert!(!c.find(Locator::Id("help")).await?.is_displayed().await?);
            // Verdict, a reason, save.
            body.send_keys("v").await?;
            body.send_keys("3").await?;
            body.send_keys(&char::from(Key::Enter).to_string()).await?;
            url = wait_for_url(&c, &url).await;
        }
        assert!(seen_hostile);
        let done = c.find(Locator::Id("progress")).await?.text().await?;
        assert!(done.contains("You labeled 3 of 3"), "{done}");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.unwrap();
    let rows = sqlite(
        &d.db,
        "SELECT verdict, reasons_json, source, seconds > 0 FROM labels ORDER BY id",
    );
    assert_eq!(rows.len(), 3);
    for r in rows {
        assert_eq!(r, ["revise", "[\"scope\"]", "web", "1"]);
    }
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn label_serve_listens_where_it_is_told_and_says_where() {
    use std::io::{BufRead, Read, Write};
    let d = LabelDb::new(&[("oracle", "oracle", 0)]);
    let mut child = bin()
        .arg("--db")
        .arg(&d.db)
        .args(["label", "serve", "--bind", "127.0.0.1:0"])
        .current_dir(repo())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "GET /login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("name=\"token\""));
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
}

#[tokio::test]
async fn the_model_calls_behind_an_item_are_shown_only_after_its_label() {
    use mergebench::store::{AttemptKey, AttemptRun, LogRecord, MeasuredUsage, NewAttempt};
    let d = LabelDb::new(&[]);
    let suite = load_suite(&repo().join("tasks/demo")).unwrap();
    let t = &suite.tasks[0];
    let (patch, outcome) = patch_of("oracle", t);
    let p = mergebench::repo::patch::Patch::new(patch);
    let call = serde_json::json!({"seq": 1, "at": "2026-12-03T00:00:00Z", "path": "/v1/chat/completions",
        "api": "openai-chat", "model": "model-name-after-labeling", "stream": false, "status": 200,
        "latency_ms": 12.5, "first_byte_ms": 3.0, "input_tokens": 1200, "output_tokens": 80,
        "cached_tokens": 0, "cost_usd": 0.003, "refused": null, "error": null});
    let exchange = serde_json::json!({"seq": 1,
        "request": {"messages": [{"role": "user", "content": "<script>window.__xss = 3</script> access\u{202e}level"}]},
        "response": {"choices": [{"message": {"content": "fixed it"}}]}});
    d.store
        .record_attempt(&NewAttempt {
            key: AttemptKey {
                eval_id: d.eval.clone(),
                task_id: t.id.clone(),
                task_hash: t.hash.clone(),
                agent: "gw-agent".into(),
                agent_hash: "h".into(),
                attempt: 1,
            },
            run: AttemptRun {
                outcome,
                grader_version: mergebench::score::grade::GRADER_VERSION.into(),
                measured: Some(MeasuredUsage {
                    requests: 1,
                    input_tokens: 1200,
                    output_tokens: 80,
                    cost_usd: Some(0.003),
                    models: vec!["model-name-after-labeling".into()],
                    ..Default::default()
                }),
                ..Default::default()
            },
            raw_patch: Some(p.clone()),
            graded_patch: Some(p),
            grade_json: Some(crate::fixture::passing_grade(t)),
            logs: vec![LogRecord {
                kind: "gateway".into(),
                bytes: format!("{call}\n").into_bytes(),
                total_bytes: 0,
                truncated: false,
            }],
            artifacts: vec![(
                mergebench::gateway::stored::TRAJECTORY_ARTIFACT.into(),
                mergebench::gateway::stored::compress(format!("{exchange}\n").as_bytes()).unwrap(),
            )],
            ..Default::default()
        })
        .unwrap();
    d.ok(&["labels", "sample", "--eval", &d.eval, "--n", "1"]);
    let token = d.reviewer("ana");
    let base = serve(d.store.clone()).await;
    let s = login(&base, &token).await;
    // Blind while labeling: no model, no calls.
    let before = s.page(&base, "/item/1").await;
    assert!(!before.contains("model-calls"), "{before}");
    assert!(!before.contains("model-name-after-labeling"));
    let saved = client()
        .post(format!("{base}/item/1/label"))
        .header("cookie", &s.cookie)
        .form(&[
            ("verdict", "merge"),
            ("reasons", "correctness"),
            ("csrf", s.csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_redirection() || saved.status().is_success());
    let after = s.page(&base, "/item/1").await;
    assert!(after.contains("id=\"model-calls\""), "{after}");
    assert!(after.contains("model-name-after-labeling"), "{after}");
    assert!(after.contains("1200"), "{after}");
    // The exchange is shown as text, never as markup.
    assert!(!after.contains("<script>window.__xss = 3"), "{after}");
    assert!(after.contains("&lt;script&gt;window.__xss = 3"), "{after}");
    // Hidden characters in what the agent sent are marked, not passed on.
    assert!(!after.contains('\u{202e}'), "{after}");
    assert!(after.contains("U+202E"), "{after}");
}
