//! The labeling app's pages and form handlers: log in and out, the queue, one item, saving a
//! label, the guidelines, and the static script and stylesheet.

use super::auth::{self, Session, LOGIN_COOKIE, SESSION_COOKIE, SESSION_TTL};
use super::diffview::{paginate, parse};
use super::{markdown, App, PAGE_LINES};
use crate::judge::verdict::Decision;
use crate::review::labels::item::item_input;
use crate::review::labels::{is_reason, REASONS};
use crate::store::{LabelBody, NewLabel};
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{context, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

type AppState = State<Arc<App>>;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/next") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/next", get(next))
        .route("/item/{id}", get(item_page))
        .route("/item/{id}/label", post(save_label))
        .route("/guidelines", get(guidelines))
        .route("/static/app.js", get(script))
        .route("/static/app.css", get(stylesheet))
}

const KEYS: [(&str, &str); 3] = [("merge", "m"), ("revise", "v"), ("reject", "x")];

fn keys() -> HashMap<&'static str, &'static str> {
    KEYS.into_iter().collect()
}

impl App {
    fn render(&self, name: &str, ctx: Value) -> Response {
        match self
            .templates
            .get_template(name)
            .and_then(|t| t.render(ctx))
        {
            Ok(html) => Html(html).into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("template {name}: {e}"),
            )
                .into_response(),
        }
    }

    fn message(
        &self,
        status: StatusCode,
        s: Option<&Session>,
        heading: &str,
        message: &str,
    ) -> Response {
        let mut r = self.render(
            "message.html",
            context! { heading, message, reviewer => s.map(|s| s.reviewer.clone()), csrf => s.map(|s| s.csrf.clone()), reasons => reasons_view() },
        );
        *r.status_mut() = status;
        r
    }

    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        auth::read_cookie(headers, SESSION_COOKIE).and_then(|c| self.sessions.get(&c))
    }

    fn store_error(&self, e: crate::error::Error) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}")).into_response()
    }
}

fn reasons_view() -> Vec<Value> {
    REASONS
        .iter()
        .map(|(n, t)| context! { name => *n, text => *t })
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn login_page(State(app): AppState) -> Response {
    login_form(&app, None)
}

/// The login page, with a fresh CSRF token in its form and in a cookie for an hour; with an
/// error, the error shown and the status 401.
fn login_form(app: &App, error: Option<&str>) -> Response {
    let csrf = auth::new_secret("");
    let mut page = app.render(
        "login.html",
        context! { csrf => csrf.clone(), error => error, reasons => reasons_view() },
    );
    if error.is_some() {
        *page.status_mut() = StatusCode::UNAUTHORIZED;
    }
    (
        [(
            header::SET_COOKIE,
            auth::cookie(
                LOGIN_COOKIE,
                &csrf,
                Duration::from_secs(3600),
                app.options.secure_cookies,
            ),
        )],
        page,
    )
        .into_response()
}

async fn login(
    State(app): AppState,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let expected = auth::read_cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let given = field(&form, "csrf").unwrap_or_default();
    if expected.is_empty() || !auth::same_secret(&expected, given) {
        return app.message(StatusCode::FORBIDDEN, None, "Refused", "The login form was not sent by this site (its CSRF token is missing or wrong). Open the login page and try again.");
    }
    let token = field(&form, "token").unwrap_or_default();
    let reviewer = match app.store.reviewer_by_token(&auth::token_hash(token)) {
        Ok(r) => r,
        Err(e) => return app.store_error(e),
    };
    let Some(reviewer) = reviewer else {
        let error = "That token belongs to no reviewer.";
        return login_form(&app, Some(error));
    };
    let cookie = app.sessions.start(reviewer.id, &reviewer.name);
    (
        axum::response::AppendHeaders([
            (
                header::SET_COOKIE,
                auth::cookie(
                    SESSION_COOKIE,
                    &cookie,
                    SESSION_TTL,
                    app.options.secure_cookies,
                ),
            ),
            (
                header::SET_COOKIE,
                auth::cleared_cookie(LOGIN_COOKIE, app.options.secure_cookies),
            ),
        ]),
        Redirect::to("/next"),
    )
        .into_response()
}

async fn logout(
    State(app): AppState,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let Some(s) = app.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    if !auth::same_secret(&s.csrf, field(&form, "csrf").unwrap_or_default()) {
        return app.message(
            StatusCode::FORBIDDEN,
            Some(&s),
            "Refused",
            "This form was not sent by this site (its CSRF token is missing or wrong).",
        );
    }
    if let Some(c) = auth::read_cookie(&headers, SESSION_COOKIE) {
        app.sessions.end(&c);
    }
    (
        [(
            header::SET_COOKIE,
            auth::cleared_cookie(SESSION_COOKIE, app.options.secure_cookies),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

/// The reviewer's progress through their queue and the whole queue's.
fn progress(
    app: &App,
    reviewer_id: i64,
) -> Result<(Vec<crate::store::QueueSlot>, u64, u64), crate::error::Error> {
    let queue = app.store.queue_of(reviewer_id, &app.options.claims)?;
    let (needed, done) = app.store.queue_totals()?;
    Ok((queue, needed, done))
}

/// Skipping an item (`?skip=ID` on an item not labeled) releases its claim. Then: the first
/// item of the queue not labeled yet (after the one just labeled), else a newly claimed one
/// (items skipped earlier come back once nothing new is left), else the end of the queue.
async fn next(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(s) = app.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    let skip: Option<i64> = q.get("skip").and_then(|v| v.parse().ok());
    if let Some(id) = skip {
        if let Err(e) = app.store.release_claim(id, s.reviewer_id) {
            return app.store_error(e);
        }
    }
    let queue = match app.store.queue_of(s.reviewer_id, &app.options.claims) {
        Ok(q) => q,
        Err(e) => return app.store_error(e),
    };
    let after = skip.and_then(|id| queue.iter().position(|x| x.item_id == id));
    let open_after = queue
        .iter()
        .enumerate()
        .find(|(i, x)| !x.labeled && after.is_none_or(|a| *i > a))
        .map(|(_, x)| x.item_id);
    let target = match open_after {
        Some(id) => Some(id),
        None => match app.store.claim_next(s.reviewer_id, &app.options.claims) {
            Ok(id) => id,
            Err(e) => return app.store_error(e),
        },
    };
    match target {
        Some(id) => Redirect::to(&format!("/item/{id}")).into_response(),
        None => {
            let (queue, needed, done) = match progress(&app, s.reviewer_id) {
                Ok(p) => p,
                Err(e) => return app.store_error(e),
            };
            let labeled = queue.iter().filter(|x| x.labeled).count();
            app.render(
                "message.html",
                context! {
                    heading => "Queue done",
                    message => "Nothing is left in the queue for you. Thank you!",
                    progress => context! { labeled, assigned => queue.len(), queue_needed => needed, queue_done => done },
                    reviewer => s.reviewer, csrf => s.csrf, reasons => reasons_view(),
                },
            )
        }
    }
}

async fn item_page(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(s) = app.session(&headers) else {
        return Redirect::to("/login").into_response();
    };
    match app.store.hold(id, s.reviewer_id, &app.options.claims) {
        Ok(true) => {}
        Ok(false) => return app.message(StatusCode::FORBIDDEN, Some(&s), "Not yours", "This item is not in your queue: it is assigned to another reviewer (a claim that was skipped or has expired goes back to the queue), or does not exist."),
        Err(e) => return app.store_error(e),
    }
    let item = match app.store.label_item(id) {
        Ok(Some(i)) => i,
        Ok(None) => {
            return app.message(
                StatusCode::NOT_FOUND,
                Some(&s),
                "No such item",
                "This item does not exist.",
            )
        }
        Err(e) => return app.store_error(e),
    };
    let input = {
        let mut suites = app.suites.lock().unwrap_or_else(|p| p.into_inner());
        item_input(&app.store, &mut suites, &item, app.options.suite.as_ref())
    };
    let input = match input {
        Ok(Ok(i)) => i,
        Ok(Err(why)) => {
            return app.message(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&s),
                "Cannot show this item",
                &why,
            )
        }
        Err(e) => return app.store_error(e),
    };
    let patch = match app.store.patch(&item.subject.patch_sha256) {
        Ok(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        Ok(None) => {
            return app.message(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&s),
                "Cannot show this item",
                "Its patch is missing from the store.",
            )
        }
        Err(e) => return app.store_error(e),
    };
    let (queue, needed, done) = match progress(&app, s.reviewer_id) {
        Ok(p) => p,
        Err(e) => return app.store_error(e),
    };
    let pos = queue.iter().position(|x| x.item_id == id).unwrap_or(0);
    let files = parse(&patch);
    let (added, removed) = files
        .iter()
        .fold((0, 0), |(a, r), f| (a + f.added, r + f.removed));
    let files_total = files.len();
    let pages = paginate(files, PAGE_LINES);
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .clamp(1, pages.len());
    let view = if q.get("view").map(String::as_str) == Some("split") {
        "split"
    } else {
        "unified"
    };
    // Moving on from an item not labeled is a skip, which releases its claim.
    let labeled_here = queue.get(pos).is_some_and(|x| x.labeled);
    let next_href = match queue.get(pos + 1) {
        Some(n) if labeled_here => format!("/item/{}", n.item_id),
        _ => format!("/next?skip={id}"),
    };
    let prev_href = pos
        .checked_sub(1)
        .map(|p| format!("/item/{}", queue[p].item_id));
    let rubric = &app.options.rubric;
    let show = app.options.show_tests;
    let already = queue.get(pos).is_some_and(|x| x.labeled);
    // The model calls name the agent's model and show how it worked: only once the reviewer's
    // own verdict is in, so labeling stays blind.
    let calls = if already {
        match model_calls(&app.store, item.subject.attempt_id) {
            Ok(c) => c,
            Err(e) => return app.store_error(e),
        }
    } else {
        None
    };
    app.render(
        "item.html",
        context! {
            item_id => id,
            position => pos + 1,
            assigned => queue.len(),
            labeled => queue.iter().filter(|x| x.labeled).count(),
            queue_needed => needed,
            queue_done => done,
            already,
            calls,
            prev_href,
            next_href,
            title => input.title,
            task_id => input.task_id,
            problem_html => Value::from_safe_string(markdown::render(&input.problem)),
            tests => show.then(|| Value::from_serialize(&input.tests)),
            flags => if show { input.flags.clone() } else { Vec::new() },
            test_log => if show { input.test_log.clone() } else { String::new() },
            files => Value::from_serialize(&pages[page - 1]),
            files_total,
            added,
            removed,
            page,
            pages => pages.len(),
            view,
            verdicts => Value::from_serialize(&rubric.verdicts),
            reasons => Value::from_serialize(&rubric.reasons),
            keys => keys(),
            reviewer => s.reviewer,
            csrf => s.csrf,
        },
    )
}

/// Bytes of one exchange shown on the page; the rest is in `results --calls`.
const EXCHANGE_SHOWN: usize = 8 << 10;
/// Exchanges shown on the page (every call keeps its row in the table).
const EXCHANGES_SHOWN: usize = 50;

/// The model calls of the attempt behind an item, as its gateway recorded them: what was
/// measured, one row per call, and the first exchanges' first bytes. None when it had no
/// gateway. Everything the agent controls is shown with hidden characters marked.
fn model_calls(
    store: &crate::store::Store,
    attempt_id: i64,
) -> Result<Option<Value>, crate::error::Error> {
    use crate::gateway::stored;
    let Some(row) = store.attempt(attempt_id)? else {
        return Ok(None);
    };
    let Some(m) = row.run.measured else {
        return Ok(None);
    };
    let calls = stored::load(store, attempt_id)?;
    let mut exchanges: HashMap<u64, String> = HashMap::new();
    // The first exchanges only: a long run's whole trajectory is for `results --calls`.
    for v in calls.exchanges.iter().take(EXCHANGES_SHOWN) {
        let Some(seq) = v.get("seq").and_then(serde_json::Value::as_u64) else {
            continue;
        };
        let mut text = serde_json::to_string_pretty(v).unwrap_or_default();
        if text.len() > EXCHANGE_SHOWN {
            let mut cut = EXCHANGE_SHOWN;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("\n… (the rest: mergebench results --calls)");
        }
        exchanges.insert(seq, stored::shown(&text));
    }
    let rows: Vec<Value> = calls
        .records
        .into_iter()
        .map(|c| {
            context! {
                seq => c.seq,
                api => stored::shown(&c.api),
                model => c.model.as_deref().map(stored::shown),
                status => c.status,
                input => c.input_tokens,
                output => c.output_tokens,
                refused => c.refused,
                exchange => exchanges.remove(&c.seq),
            }
        })
        .collect();
    Ok(Some(context! {
        summary => stored::summary(&m, row.run.usage.as_ref()),
        rows,
    }))
}

async fn save_label(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let Some(s) = app.session(&headers) else {
        return app.message(
            StatusCode::UNAUTHORIZED,
            None,
            "Logged out",
            "Log in again; this label was not saved.",
        );
    };
    if !auth::same_secret(&s.csrf, field(&form, "csrf").unwrap_or_default()) {
        return app.message(StatusCode::FORBIDDEN, Some(&s), "Refused", "This form was not sent by this site (its CSRF token is missing or wrong); nothing was saved.");
    }
    match app.store.hold(id, s.reviewer_id, &app.options.claims) {
        Ok(true) => {}
        Ok(false) => {
            return app.message(
                StatusCode::FORBIDDEN,
                Some(&s),
                "Not yours",
                "This item is not in your queue (your claim on it was skipped or expired, and another reviewer took it); nothing was saved.",
            )
        }
        Err(e) => return app.store_error(e),
    }
    let Some(verdict) = field(&form, "verdict").and_then(Decision::parse) else {
        return app.message(
            StatusCode::BAD_REQUEST,
            Some(&s),
            "No verdict",
            "Choose merge, revise or reject; nothing was saved.",
        );
    };
    let reasons: Vec<String> = form
        .iter()
        .filter(|(k, v)| k == "reasons" && is_reason(v))
        .map(|(_, v)| v.clone())
        .collect();
    let comment: String = field(&form, "comment")
        .unwrap_or_default()
        .chars()
        .take(10_000)
        .collect();
    let seconds = field(&form, "seconds")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| x.min(86_400.0));
    let r = app.store.add_label(&NewLabel {
        item_id: id,
        reviewer_id: s.reviewer_id,
        body: LabelBody {
            verdict: verdict.as_str().into(),
            reasons,
            comment,
            seconds,
            rubric_version: app.options.rubric.version.clone(),
        },
        source: "web".into(),
        created_at: None,
    });
    match r {
        Ok(_) => Redirect::to(&format!("/next?skip={id}")).into_response(),
        Err(e) => app.store_error(e),
    }
}

async fn guidelines(State(app): AppState, headers: HeaderMap) -> Response {
    let s = app.session(&headers);
    app.render(
        "guidelines.html",
        context! {
            rubric => Value::from_serialize(&app.options.rubric),
            keys => keys(),
            reasons => reasons_view(),
            reviewer => s.as_ref().map(|s| s.reviewer.clone()),
            csrf => s.map(|s| s.csrf),
        },
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../../web/static/app.js"),
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../../web/static/app.css"),
    )
}
