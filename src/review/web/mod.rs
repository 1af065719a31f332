//! `mergebench label serve`: the labeling web app. Server-rendered pages (minijinja with
//! autoescape) and one small script; reviewers log in with a token, see one item at a time
//! blind (no agent, no judge verdict), and label it from the keyboard.
//!
//! Security, in layers: the session cookie is HttpOnly and SameSite=Strict; every form carries
//! a CSRF token checked against the session; a strict Content-Security-Policy allows only this
//! server's own script and stylesheet, so even markup that slipped through could not run or
//! call another host; every byte of a patch or problem reaches the page escaped.

pub mod auth;
pub mod diffview;
pub mod markdown;
mod pages;

use crate::config::suite::Suite;
use crate::review::labels::rubric::Rubric;
use crate::store::{ClaimPolicy, Store};
use axum::http::{header, HeaderName, HeaderValue};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tower_http::set_header::SetResponseHeaderLayer;

/// Nothing but this server's own script, stylesheet and forms; no frames, no other hosts.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Diff lines per page: a long diff is paged rather than sent whole.
pub const PAGE_LINES: usize = 400;

pub struct Options {
    pub rubric: Rubric,
    /// The suite folder to read tasks from, instead of the one each evaluation recorded.
    pub suite: Option<PathBuf>,
    /// Show what the hidden tests said beside the diff.
    pub show_tests: bool,
    /// Mark cookies Secure: the app is reached over HTTPS (a TLS proxy in front of it).
    pub secure_cookies: bool,
    /// How long a claim on an item lasts and how many a reviewer holds at once.
    pub claims: ClaimPolicy,
}

pub struct App {
    store: Arc<Store>,
    options: Options,
    sessions: auth::Sessions,
    templates: minijinja::Environment<'static>,
    suites: Mutex<HashMap<PathBuf, Suite>>,
}

fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    for (name, text) in [
        (
            "base.html",
            include_str!("../../../web/templates/base.html"),
        ),
        (
            "login.html",
            include_str!("../../../web/templates/login.html"),
        ),
        (
            "item.html",
            include_str!("../../../web/templates/item.html"),
        ),
        (
            "message.html",
            include_str!("../../../web/templates/message.html"),
        ),
        (
            "guidelines.html",
            include_str!("../../../web/templates/guidelines.html"),
        ),
    ] {
        // cannot fail: the templates are compiled into the binary and rendered by the tests.
        env.add_template(name, text)
            .expect("bundled templates compile");
    }
    env
}

impl App {
    pub fn new(store: Arc<Store>, options: Options) -> Arc<App> {
        Arc::new(App {
            store,
            options,
            sessions: auth::Sessions::default(),
            templates: templates(),
            suites: Mutex::new(HashMap::new()),
        })
    }
}

pub fn router(app: Arc<App>) -> axum::Router {
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    pages::routes()
        .with_state(app)
        .layer(set(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(header::X_FRAME_OPTIONS, "DENY"))
        .layer(set(header::REFERRER_POLICY, "no-referrer"))
        .layer(set(header::CACHE_CONTROL, "no-store"))
        .layer(set(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
}

/// Serves until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, app: Arc<App>) -> std::io::Result<()> {
    axum::serve(listener, router(app)).await
}
