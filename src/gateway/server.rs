//! The gateway at work: an axum server that checks each request's token, model and budget,
//! forwards it with the real key, streams the answer back as it arrives while measuring its
//! usage, and logs it (`log::CallRecord`) with its bodies in the trajectory, redacted.

use super::config::{Api, GatewayConfig, Price};
use super::log::CallRecord;
use super::usage::{self, StreamMeter, Usage, WireApi};
use crate::error::Error;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::Router;
use serde_json::{json, Value};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The largest request body accepted.
pub const MAX_REQUEST_BODY: usize = 32 << 20;
/// The trajectory's size cap; past it a call is written as `{"seq":n,"omitted":true}`.
pub const TRAJECTORY_CAP: u64 = 16 << 20;
/// The largest whole (not streamed) response read for its usage; it still passes whole.
const MAX_MEASURED_BODY: usize = 32 << 20;
/// One request, from sending to the last byte of its response.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the provider is still read after the client left, for the usage it reports last.
const DRAIN_GRACE: Duration = Duration::from_secs(10);
/// How long `stop` waits for requests in flight.
const STOP_GRACE: Duration = Duration::from_secs(15);

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What has been spent so far.
#[derive(Debug, Default)]
struct Account {
    /// Requests forwarded (or on their way).
    requests: u64,
    /// Input plus output tokens measured.
    tokens: u64,
    cost: f64,
}

/// One call in the trajectory, fields in this order.
#[derive(serde::Serialize)]
struct Step {
    seq: u64,
    request: Value,
    response: Value,
}

struct Trajectory {
    file: std::fs::File,
    written: u64,
}

struct Shared {
    cfg: GatewayConfig,
    origin: String,
    key: Option<String>,
    client: reqwest::Client,
    seq: AtomicU64,
    in_flight: AtomicUsize,
    account: Mutex<Account>,
    log: Mutex<std::fs::File>,
    trajectory: Mutex<Trajectory>,
}

/// The error shape of an answer the gateway gives itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Openai,
    Anthropic,
}

impl Shape {
    fn for_path(path: &str, api: Api) -> Shape {
        match WireApi::from_path(path) {
            WireApi::AnthropicMessages => Shape::Anthropic,
            WireApi::OpenaiChat | WireApi::OpenaiResponses => Shape::Openai,
            WireApi::Other => match api {
                Api::Openai => Shape::Openai,
                Api::Anthropic => Shape::Anthropic,
            },
        }
    }
}

/// Why the gateway answered a request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Token,
    Model,
    Requests,
    Tokens,
    Cost,
    TooLarge,
    Unreachable,
    Endpoint,
}

/// The endpoints forwarded: those whose usage comes back in their own answer (or that cost
/// nothing). Anything else (batches, files, assistants, background responses) would be spent
/// where the gateway cannot measure it, so it is refused.
fn metered(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    [
        "/chat/completions",
        "/completions",
        "/responses",
        "/messages",
        "/messages/count_tokens",
        "/embeddings",
        "/models",
    ]
    .iter()
    .any(|e| p.ends_with(e))
        || p.rsplit_once('/')
            .is_some_and(|(head, _)| head.ends_with("/models"))
}

impl Refusal {
    fn logged(self) -> Option<&'static str> {
        match self {
            Refusal::Token => Some("token"),
            Refusal::Model => Some("model"),
            Refusal::Requests => Some("budget:requests"),
            Refusal::Tokens => Some("budget:tokens"),
            Refusal::Cost => Some("budget:cost"),
            Refusal::Endpoint => Some("endpoint"),
            Refusal::TooLarge | Refusal::Unreachable => None,
        }
    }

    /// The status and body, in the provider's own shape.
    fn answer(self, shape: Shape, message: &str) -> (StatusCode, Value) {
        let (status, oa_type, oa_code, param, an_type) = match self {
            Refusal::Token => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                None,
                "authentication_error",
            ),
            Refusal::Model => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                Some("model"),
                "not_found_error",
            ),
            Refusal::Requests | Refusal::Tokens | Refusal::Cost => (
                StatusCode::TOO_MANY_REQUESTS,
                "insufficient_quota",
                "insufficient_quota",
                None,
                "invalid_request_error",
            ),
            Refusal::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "request_too_large",
                None,
                "request_too_large",
            ),
            Refusal::Endpoint => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "unknown_url",
                None,
                "not_found_error",
            ),
            Refusal::Unreachable => (
                StatusCode::BAD_GATEWAY,
                "api_error",
                "upstream_unreachable",
                None,
                "api_error",
            ),
        };
        match shape {
            Shape::Openai => (
                status,
                json!({"error": {"message": message, "type": oa_type, "param": param, "code": oa_code}}),
            ),
            Shape::Anthropic => {
                let status = if status == StatusCode::TOO_MANY_REQUESTS {
                    StatusCode::BAD_REQUEST
                } else {
                    status
                };
                (
                    status,
                    json!({"type": "error", "error": {"type": an_type, "message": message}}),
                )
            }
        }
    }
}

/// A gateway listening; `stop` ends it.
pub struct Running {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Where it listens (the real port when the configuration asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening, lets requests in flight end (up to a grace period) and flushes the
    /// log and the trajectory.
    pub async fn stop(self) -> Result<(), Error> {
        let _ = self.shutdown.send(());
        let deadline = Instant::now() + STOP_GRACE;
        let mut task = self.task;
        let served = tokio::time::timeout(STOP_GRACE, &mut task).await;
        if served.is_err() {
            task.abort();
        }
        while self.shared.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let flushed = lock(&self.shared.log)
            .sync_all()
            .and_then(|()| lock(&self.shared.trajectory).file.sync_all());
        flushed.map_err(|e| Error::infra_from("gateway: cannot flush the log", e))?;
        match served {
            Ok(Ok(Err(e))) => Err(Error::infra_from("gateway: the server failed", e)),
            _ => Ok(()),
        }
    }
}

/// The real key from the environment variable the configuration names.
pub fn key_from_env(cfg: &GatewayConfig) -> Result<Option<String>, Error> {
    let Some(name) = &cfg.key_env else {
        return Ok(None);
    };
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
        _ => Err(Error::env(
            format!("gateway: the key variable {name} is not set (or empty)"),
            format!("set {name} in the gateway container's environment"),
        )),
    }
}

/// Starts the gateway with the key from its environment (`key_env`).
pub async fn start(cfg: GatewayConfig) -> Result<Running, Error> {
    let key = key_from_env(&cfg)?;
    start_with_key(cfg, key).await
}

fn open_append(path: &std::path::Path) -> Result<std::fs::File, Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::infra_from(format!("gateway: cannot create {}", dir.display()), e)
        })?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::infra_from(format!("gateway: cannot open {}", path.display()), e))
}

/// Starts the gateway with this key (none: no key is sent upstream).
pub async fn start_with_key(cfg: GatewayConfig, key: Option<String>) -> Result<Running, Error> {
    let origin = cfg
        .upstream_origin()
        .map_err(|e| Error::Usage(format!("gateway: upstream `{}`: {e}", cfg.upstream)))?;
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .map_err(|e| {
            Error::env(
                format!("gateway: cannot set up the HTTP client: {e}"),
                "check the container's TLS set-up",
            )
        })?;
    let log = open_append(&cfg.log)?;
    let trajectory = open_append(&cfg.trajectory)?;
    let written = trajectory.metadata().map(|m| m.len()).unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| {
            Error::env(
                format!("gateway: cannot listen on {}: {e}", cfg.listen),
                "choose a free address and port for listen",
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::infra_from("gateway: no local address", e))?;
    let shared = Arc::new(Shared {
        cfg,
        origin,
        key: key.filter(|k| !k.is_empty()),
        client,
        seq: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        account: Mutex::new(Account::default()),
        log: Mutex::new(log),
        trajectory: Mutex::new(Trajectory {
            file: trajectory,
            written,
        }),
    });
    let app = Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&shared));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running {
        addr,
        shared,
        shutdown: tx,
        task,
    })
}

/// Equal without telling how much was equal.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An error with its causes, which say what actually went wrong ("connection refused").
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let t = c.to_string();
        if !text.contains(&t) {
            text = format!("{text}: {t}");
        }
        cause = c.source();
    }
    text
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl Shared {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let token = self.cfg.token.as_bytes();
        let bearer = headers
            .get_all(axum::http::header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .any(|t| same(t.as_bytes(), token));
        let api_key = headers
            .get_all("x-api-key")
            .iter()
            .any(|v| same(v.as_bytes(), token));
        bearer || api_key
    }

    fn redact(&self, text: String) -> String {
        let mut out = text;
        for secret in [self.key.as_deref(), Some(self.cfg.token.as_str())]
            .into_iter()
            .flatten()
        {
            if !secret.is_empty() && out.contains(secret) {
                out = out.replace(secret, "[redacted]");
            }
        }
        out
    }

    fn price(&self, response_model: Option<&str>, request_model: Option<&str>) -> Option<&Price> {
        let prices = &self.cfg.prices;
        response_model
            .and_then(|m| prices.get(m))
            .or_else(|| request_model.and_then(|m| prices.get(m)))
            .or_else(|| prices.get("*"))
    }

    /// Writes the call's log line and flushes it.
    fn write_log(&self, rec: &CallRecord) {
        let Ok(line) = serde_json::to_string(rec) else {
            return;
        };
        let mut line = self.redact(line);
        line.push('\n');
        let mut f = lock(&self.log);
        if f.write_all(line.as_bytes())
            .and_then(|()| f.flush())
            .is_err()
        {
            eprintln!(
                "mergebench gateway: cannot write the log line of call {}",
                rec.seq
            );
        }
    }

    /// Writes the call's bodies to the trajectory, or a marker once the cap is reached.
    fn write_trajectory(&self, seq: u64, request: &[u8], response: Option<&[u8]>) {
        let body = |b: &[u8]| match serde_json::from_slice::<Value>(b) {
            Ok(v) => v,
            Err(_) => Value::String(String::from_utf8_lossy(b).into_owned()),
        };
        let mut t = lock(&self.trajectory);
        let line = match response {
            Some(resp) if t.written + (request.len() + resp.len()) as u64 <= TRAJECTORY_CAP => {
                let step = Step {
                    seq,
                    request: body(request),
                    response: body(resp),
                };
                serde_json::to_string(&step).unwrap_or_default()
            }
            _ => String::new(),
        };
        let mut line = self.redact(line);
        if line.is_empty() || t.written + line.len() as u64 > TRAJECTORY_CAP {
            line = json!({"seq": seq, "omitted": true}).to_string();
        }
        line.push('\n');
        let ok = t
            .file
            .write_all(line.as_bytes())
            .and_then(|()| t.file.flush());
        match ok {
            Ok(()) => t.written += line.len() as u64,
            Err(_) => eprintln!("mergebench gateway: cannot write the trajectory of call {seq}"),
        }
    }

    /// Answers a request itself, and logs it.
    fn refuse(
        &self,
        mut rec: CallRecord,
        start: Instant,
        why: Refusal,
        shape: Shape,
        message: String,
        request: Option<&[u8]>,
    ) -> Response {
        let (status, body) = why.answer(shape, &message);
        let body = body.to_string();
        rec.status = status.as_u16();
        rec.refused = why.logged().map(str::to_string);
        if why.logged().is_none() {
            rec.error = Some(message);
        }
        rec.latency_ms = millis(start.elapsed());
        self.write_log(&rec);
        if let Some(req) = request {
            self.write_trajectory(rec.seq, req, Some(body.as_bytes()));
        }
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }

    /// The budget that is spent, if any; otherwise the request is counted.
    fn reserve(&self) -> Option<(Refusal, String)> {
        let b = &self.cfg.budget;
        let mut a = lock(&self.account);
        let spent =
            |what: String| format!("mergebench gateway: this attempt's budget of {what} is spent");
        if let Some(n) = b.requests.filter(|n| a.requests >= *n) {
            return Some((Refusal::Requests, spent(format!("{n} requests"))));
        }
        if let Some(n) = b.tokens.filter(|n| a.tokens >= *n) {
            return Some((Refusal::Tokens, spent(format!("{n} tokens"))));
        }
        if let Some(c) = b.cost_usd.filter(|c| a.cost >= *c) {
            return Some((Refusal::Cost, spent(format!("{c} USD"))));
        }
        a.requests += 1;
        None
    }

    fn account(&self, usage: &Usage, cost: Option<f64>) {
        let mut a = lock(&self.account);
        let tokens = usage.total().unwrap_or(0).max(0) as u64;
        a.tokens = a.tokens.saturating_add(tokens);
        a.cost += cost.filter(|c| c.is_finite() && *c > 0.0).unwrap_or(0.0);
    }

    /// The headers that go upstream: the client's, less hop-by-hop ones and its credentials,
    /// plus the real key.
    fn upstream_headers(&self, incoming: &HeaderMap) -> HeaderMap {
        let named_by_connection: Vec<String> = incoming
            .get_all(axum::http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|n| n.trim().to_ascii_lowercase())
            .collect();
        let mut out = HeaderMap::new();
        for (name, value) in incoming {
            let n = name.as_str();
            if HOP_BY_HOP.contains(&n)
                || matches!(
                    n,
                    "host" | "authorization" | "x-api-key" | "content-length" | "accept-encoding"
                )
                || named_by_connection.iter().any(|c| c == n)
            {
                continue;
            }
            out.append(name.clone(), value.clone());
        }
        // Plain bytes, so usage can be read from them as they pass.
        out.insert(
            axum::http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        if let Some(key) = &self.key {
            let (name, value) = match self.cfg.api {
                Api::Openai => (
                    axum::http::header::AUTHORIZATION,
                    HeaderValue::from_str(&format!("Bearer {key}")),
                ),
                Api::Anthropic => (
                    HeaderName::from_static("x-api-key"),
                    HeaderValue::from_str(key),
                ),
            };
            if let Ok(mut v) = value {
                v.set_sensitive(true);
                out.insert(name, v);
            }
        }
        out
    }
}

/// Response headers that go back to the client.
fn downstream_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Counts a request in flight until dropped.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(g: &Arc<Shared>) -> InFlight {
        g.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(g))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(State(g): State<Arc<Shared>>, req: Request) -> Response {
    let start = Instant::now();
    let guard = InFlight::new(&g);
    let seq = g.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let wire = WireApi::from_path(&path);
    let shape = Shape::for_path(&path, g.cfg.api);
    let mut rec = CallRecord {
        seq,
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        path: path.clone(),
        api: wire.as_str().to_string(),
        model: None,
        stream: false,
        status: 0,
        latency_ms: 0.0,
        first_byte_ms: None,
        input_tokens: None,
        output_tokens: None,
        cached_tokens: None,
        cost_usd: None,
        refused: None,
        error: None,
    };
    if !g.authorized(&parts.headers) {
        let msg = "mergebench gateway: missing or wrong API key for this attempt".to_string();
        return g.refuse(rec, start, Refusal::Token, shape, msg, None);
    }
    if !metered(&path) {
        let msg = format!(
            "mergebench gateway: `{path}` is not forwarded: only chat completions, completions, \
             responses, messages, embeddings and models, whose usage the gateway measures"
        );
        return g.refuse(rec, start, Refusal::Endpoint, shape, msg, None);
    }
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let msg = format!(
                "mergebench gateway: the request body could not be read or is over {} MiB: {e}",
                MAX_REQUEST_BODY >> 20
            );
            return g.refuse(rec, start, Refusal::TooLarge, shape, msg, None);
        }
    };
    let mut json = serde_json::from_slice::<Value>(&body)
        .ok()
        .filter(Value::is_object);
    let model = json
        .as_ref()
        .and_then(|v| v.get("model"))
        .and_then(Value::as_str)
        .map(str::to_string);
    rec.model = model.clone();
    rec.stream = json
        .as_ref()
        .and_then(|v| v.get("stream"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // A background response is billed when it finishes, where the gateway cannot see it.
    if wire == WireApi::OpenaiResponses
        && json.as_ref().and_then(|v| v.get("background")) == Some(&Value::Bool(true))
    {
        let msg = "mergebench gateway: background responses are not forwarded (their usage \
                   could not be measured); ask without \"background\""
            .to_string();
        return g.refuse(rec, start, Refusal::Endpoint, shape, msg, Some(&body));
    }
    if let Some(pin) = &g.cfg.pin_model {
        let allowed = match &json {
            Some(v) => match v.get("model") {
                Some(Value::String(m)) => m == pin,
                Some(_) => false,
                // Only a model API needs the model named.
                None => wire == WireApi::Other,
            },
            // A body the gateway cannot read could name any model to a laxer parser.
            None => body.is_empty(),
        };
        if !allowed {
            let msg = format!(
                "mergebench gateway: this attempt may use only the model `{pin}`{}",
                match &model {
                    Some(m) => format!(", not `{m}`"),
                    None => String::new(),
                }
            );
            return g.refuse(rec, start, Refusal::Model, shape, msg, Some(&body));
        }
    }
    if let Some((why, msg)) = g.reserve() {
        return g.refuse(rec, start, why, shape, msg, Some(&body));
    }

    // Streamed chat completions report usage only when asked to.
    let mut rewrite = g.cfg.pin_model.is_some();
    let chat_like = wire == WireApi::OpenaiChat
        || (wire == WireApi::Other && path.trim_end_matches('/').ends_with("/completions"));
    if rec.stream && chat_like {
        if let Some(obj) = json.as_mut().and_then(Value::as_object_mut) {
            let opts = obj.entry("stream_options").or_insert_with(|| json!({}));
            if !opts.is_object() {
                *opts = json!({});
            }
            if let Some(o) = opts.as_object_mut() {
                o.insert("include_usage".into(), Value::Bool(true));
            }
            rewrite = true;
        }
    }
    let out_body: Bytes = match (&json, rewrite) {
        (Some(v), true) => Bytes::from(v.to_string()),
        _ => body.clone(),
    };

    let url = match parts.uri.query() {
        Some(q) => format!("{}{}?{q}", g.origin, path),
        None => format!("{}{}", g.origin, path),
    };
    let sent = g
        .client
        .request(parts.method.clone(), &url)
        .headers(g.upstream_headers(&parts.headers))
        .body(out_body)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            // A request that never connected reached no provider, and does not count.
            if e.is_connect() {
                let mut a = lock(&g.account);
                a.requests = a.requests.saturating_sub(1);
            }
            let msg = g.redact(format!(
                "mergebench gateway: the provider could not be reached: {}",
                with_causes(&e)
            ));
            return g.refuse(rec, start, Refusal::Unreachable, shape, msg, Some(&body));
        }
    };
    let status = resp.status();
    let headers = downstream_headers(resp.headers());
    let sse = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    rec.stream = rec.stream || sse;
    rec.status = status.as_u16();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let pump = Pump {
        g: Arc::clone(&g),
        rec,
        start,
        resp,
        tx,
        meter: sse.then(|| StreamMeter::new(wire)),
        wire,
        request: body,
        request_model: model,
        _guard: guard,
    };
    tokio::spawn(pump.run());
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Carries one response from the provider to the client, measuring it as it passes, then
/// accounts and logs the call.
struct Pump {
    g: Arc<Shared>,
    rec: CallRecord,
    start: Instant,
    resp: reqwest::Response,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    meter: Option<StreamMeter>,
    wire: WireApi,
    request: Bytes,
    request_model: Option<String>,
    _guard: InFlight,
}

impl Pump {
    async fn run(mut self) {
        let cap = if self.meter.is_some() {
            TRAJECTORY_CAP as usize
        } else {
            MAX_MEASURED_BODY
        };
        let mut captured: Vec<u8> = Vec::new();
        let mut over = false;
        let mut first_byte = None;
        let mut left_at: Option<tokio::time::Instant> = None;
        let mut error = None;
        loop {
            let next = match left_at {
                Some(t) => {
                    match tokio::time::timeout_at(t + DRAIN_GRACE, self.resp.chunk()).await {
                        Ok(r) => r,
                        Err(_) => break,
                    }
                }
                None => self.resp.chunk().await,
            };
            match next {
                Ok(Some(chunk)) => {
                    first_byte.get_or_insert_with(|| self.start.elapsed());
                    if let Some(m) = &mut self.meter {
                        m.push(&chunk);
                    }
                    if !over && captured.len() + chunk.len() <= cap {
                        captured.extend_from_slice(&chunk);
                    } else if !over {
                        over = true;
                        captured = Vec::new();
                    }
                    if left_at.is_none() && self.tx.send(Ok(chunk)).await.is_err() {
                        left_at = Some(tokio::time::Instant::now());
                        error = Some("the client left before the response ended".to_string());
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let msg = self.g.redact(format!(
                        "the provider's response broke off: {}",
                        with_causes(&e)
                    ));
                    if left_at.is_none() {
                        let _ = self.tx.send(Err(std::io::Error::other(msg.clone()))).await;
                    }
                    error = Some(msg);
                    break;
                }
            }
        }
        drop(self.tx);
        let usage = match self.meter.take() {
            Some(m) => m.finish(),
            None if !over => usage::from_body(self.wire, &captured),
            None => Usage::default(),
        };
        let price = self
            .g
            .price(usage.model.as_deref(), self.request_model.as_deref());
        let cost = usage::cost(&usage, price);
        self.g.account(&usage, cost);
        let mut rec = self.rec;
        rec.model = usage.model.clone().or(self.request_model);
        rec.input_tokens = usage.input_tokens;
        rec.output_tokens = usage.output_tokens;
        rec.cached_tokens = usage.cached_tokens;
        rec.cost_usd = cost;
        rec.first_byte_ms = Some(millis(first_byte.unwrap_or_else(|| self.start.elapsed())));
        rec.latency_ms = millis(self.start.elapsed());
        rec.error = error;
        self.g.write_log(&rec);
        self.g
            .write_trajectory(rec.seq, &self.request, (!over).then_some(&captured[..]));
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::{Budget, Price};
    use super::super::log::summarize;
    use super::*;
    use axum::routing::post;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Seen {
        auth: Vec<Option<String>>,
        bodies: Vec<Value>,
    }

    /// An upstream answering the three wire formats, whole or streamed, with fixed usage.
    async fn upstream() -> (SocketAddr, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        async fn answer(State(seen): State<Arc<Mutex<Seen>>>, req: Request) -> Response {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            {
                let mut s = seen.lock().unwrap();
                let auth = parts
                    .headers
                    .get("authorization")
                    .or(parts.headers.get("x-api-key"))
                    .map(|h| h.to_str().unwrap().to_string());
                s.auth.push(auth);
                s.bodies.push(v.clone());
            }
            let stream = v["stream"] == json!(true);
            let path = parts.uri.path();
            let (text, ctype) = match (WireApi::from_path(path), stream) {
                (WireApi::OpenaiChat, false) => (json!({"model":"m-1","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":40}}}).to_string(), "application/json"),
                (WireApi::OpenaiChat, true) => ("data: {\"model\":\"m-1\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"model\":\"m-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20,\"prompt_tokens_details\":{\"cached_tokens\":40}}}\n\ndata: [DONE]\n\n".to_string(), "text/event-stream"),
                (WireApi::OpenaiResponses, false) => (json!({"model":"m-1","usage":{"input_tokens":100,"output_tokens":20,"input_tokens_details":{"cached_tokens":40}}}).to_string(), "application/json"),
                (WireApi::OpenaiResponses, true) => ("event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"m-1\",\"usage\":null}}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"m-1\",\"usage\":{\"input_tokens\":100,\"output_tokens\":20,\"input_tokens_details\":{\"cached_tokens\":40}}}}\n\n".to_string(), "text/event-stream"),
                (WireApi::AnthropicMessages, false) => (json!({"model":"m-1","usage":{"input_tokens":50,"cache_read_input_tokens":40,"cache_creation_input_tokens":10,"output_tokens":20}}).to_string(), "application/json"),
                (WireApi::AnthropicMessages, true) => ("event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m-1\",\"usage\":{\"input_tokens\":50,\"cache_read_input_tokens\":40,\"cache_creation_input_tokens\":10,\"output_tokens\":1}}}\r\n\r\nevent: message_delta\r\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":20}}\r\n\r\n".to_string(), "text/event-stream"),
                _ => ("{}".to_string(), "application/json"),
            };
            // Streams go out in small pieces, split inside lines.
            let chunks: Vec<Result<Bytes, std::io::Error>> = text
                .as_bytes()
                .chunks(7)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let mut r = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(ctype));
            r
        }
        let app = Router::new()
            .route("/v1/{*rest}", post(answer))
            .with_state(Arc::clone(&seen));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        (addr, seen)
    }

    fn config(dir: &std::path::Path, upstream: SocketAddr, api: Api) -> GatewayConfig {
        let mut prices = BTreeMap::new();
        prices.insert(
            "m-1".to_string(),
            Price {
                input: 1.0,
                output: 2.0,
                cached_input: Some(0.5),
            },
        );
        GatewayConfig {
            listen: "127.0.0.1:0".into(),
            upstream: format!("http://{upstream}/v1"),
            api,
            token: "attempt-token-123".into(),
            key_env: None,
            budget: Budget::default(),
            prices,
            pin_model: None,
            log: dir.join("log.jsonl"),
            trajectory: dir.join("trajectory.jsonl"),
        }
    }

    const KEY: &str = "sk-real-provider-key-XYZ";

    async fn call(
        gw: &Running,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Value,
    ) -> (u16, String) {
        let mut r = reqwest::Client::new()
            .post(format!("http://{}{}", gw.addr(), path))
            .body(body.to_string())
            .header("content-type", "application/json");
        if let Some((h, v)) = auth {
            r = r.header(h, v);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    fn bearer() -> Option<(&'static str, &'static str)> {
        Some(("authorization", "Bearer attempt-token-123"))
    }

    fn records(dir: &std::path::Path) -> Vec<CallRecord> {
        std::fs::read_to_string(dir.join("log.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn measures_every_format_whole_and_streamed() {
        let (up, seen) = upstream().await;
        let dir = tempfile::tempdir().unwrap();
        let gw = start_with_key(config(dir.path(), up, Api::Openai), Some(KEY.into()))
            .await
            .unwrap();
        for path in ["/v1/chat/completions", "/v1/responses", "/v1/messages"] {
            for stream in [false, true] {
                let (status, text) =
                    call(&gw, path, bearer(), json!({"model":"m-1","stream":stream})).await;
                assert_eq!(status, 200, "{path} {stream}: {text}");
                if stream {
                    assert!(text.contains("data: "), "{text}");
                }
            }
        }
        gw.stop().await.unwrap();
        let recs = records(dir.path());
        assert_eq!(recs.len(), 6);
        for r in &recs {
            assert_eq!(r.status, 200);
            assert_eq!(r.input_tokens, Some(100), "{r:?}");
            assert_eq!(r.output_tokens, Some(20), "{r:?}");
            assert_eq!(r.cached_tokens, Some(40), "{r:?}");
            assert_eq!(r.model.as_deref(), Some("m-1"));
            let want = (60.0 * 1.0 + 40.0 * 0.5 + 20.0 * 2.0) / 1e6;
            assert!((r.cost_usd.unwrap() - want).abs() < 1e-12, "{r:?}");
            assert!(r.refused.is_none() && r.error.is_none(), "{r:?}");
        }
        assert_eq!(recs.iter().filter(|r| r.stream).count(), 3);
        let s = seen.lock().unwrap();
        // The streamed chat request asked for usage.
        assert_eq!(s.bodies[1]["stream_options"]["include_usage"], json!(true));
        assert!(s.bodies[0].get("stream_options").is_none());
        // The real key went upstream in the api's form; the token never did.
        assert!(s
            .auth
            .iter()
            .all(|a| a.as_deref() == Some(&format!("Bearer {KEY}")[..])));
        let m = summarize(&std::fs::read(dir.path().join("log.jsonl")).unwrap());
        assert_eq!((m.requests, m.input_tokens, m.output_tokens), (6, 600, 120));
    }

    #[tokio::test]
    async fn key_reaches_upstream_only() {
        let (up, seen) = upstream().await;
        let dir = tempfile::tempdir().unwrap();
        let gw = start_with_key(config(dir.path(), up, Api::Anthropic), Some(KEY.into()))
            .await
            .unwrap();
        // A body that carries the token and the key is redacted in the trajectory.
        let (status, _) = call(
            &gw,
            "/v1/messages",
            Some(("x-api-key", "attempt-token-123")),
            json!({"model":"m-1","note":format!("attempt-token-123 {KEY}")}),
        )
        .await;
        assert_eq!(status, 200);
        gw.stop().await.unwrap();
        assert_eq!(seen.lock().unwrap().auth, vec![Some(KEY.to_string())]);
        for f in ["log.jsonl", "trajectory.jsonl"] {
            let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
            assert!(
                !text.contains(KEY) && !text.contains("attempt-token-123"),
                "{f}: {text}"
            );
        }
        let t = std::fs::read_to_string(dir.path().join("trajectory.jsonl")).unwrap();
        let v: Value = serde_json::from_str(t.trim()).unwrap();
        assert_eq!(v["seq"], json!(1));
        assert_eq!(v["request"]["note"], json!("[redacted] [redacted]"));
        assert_eq!(v["response"]["usage"]["output_tokens"], json!(20));
    }

    #[tokio::test]
    async fn refuses_wrong_tokens_and_other_models() {
        let (up, seen) = upstream().await;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), up, Api::Openai);
        cfg.pin_model = Some("m-1".into());
        let gw = start_with_key(cfg, Some(KEY.into())).await.unwrap();
        let body = json!({"model":"m-1"});
        let (s, t) = call(&gw, "/v1/chat/completions", None, body.clone()).await;
        assert_eq!(s, 401, "{t}");
        assert_eq!(
            serde_json::from_str::<Value>(&t).unwrap()["error"]["code"],
            json!("invalid_api_key")
        );
        let wrong = Some(("authorization", "Bearer attempt-token-124"));
        assert_eq!(call(&gw, "/v1/messages", wrong, body.clone()).await.0, 401);
        let (s, t) = call(
            &gw,
            "/v1/chat/completions",
            bearer(),
            json!({"model":"big"}),
        )
        .await;
        assert_eq!(s, 404);
        assert_eq!(
            serde_json::from_str::<Value>(&t).unwrap()["error"]["code"],
            json!("model_not_found")
        );
        let (s, t) = call(&gw, "/v1/messages", bearer(), json!({"model":"big"})).await;
        assert_eq!(s, 404);
        assert_eq!(
            serde_json::from_str::<Value>(&t).unwrap()["error"]["type"],
            json!("not_found_error")
        );
        // No model on a model API, and a body nothing can check, are refused too.
        assert_eq!(call(&gw, "/v1/responses", bearer(), json!({})).await.0, 404);
        let (s, _) = call(&gw, "/v1/chat/completions", bearer(), body).await;
        assert_eq!(s, 200);
        gw.stop().await.unwrap();
        assert_eq!(seen.lock().unwrap().bodies.len(), 1);
        let refused: Vec<_> = records(dir.path()).into_iter().map(|r| r.refused).collect();
        assert_eq!(
            refused,
            vec![
                Some("token".to_string()),
                Some("token".into()),
                Some("model".into()),
                Some("model".into()),
                Some("model".into()),
                None
            ]
        );
    }

    #[tokio::test]
    async fn only_endpoints_whose_usage_is_measured_are_forwarded() {
        let (up, _) = upstream().await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), up, Api::Openai);
        let gw = start_with_key(cfg, None).await.unwrap();
        for path in [
            "/v1/batches",
            "/v1/files",
            "/v1/threads/runs",
            "/v1/chat/completions/x/y",
        ] {
            let (s, t) = call(&gw, path, bearer(), json!({"model":"m-1"})).await;
            assert_eq!(s, 404, "{path}: {t}");
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_eq!(v["error"]["code"], "unknown_url", "{path}");
        }
        let (s, t) = call(
            &gw,
            "/v1/responses",
            bearer(),
            json!({"model":"m-1","input":"hi","background":true}),
        )
        .await;
        assert_eq!(s, 404, "{t}");
        assert!(metered("/v1/models/gpt-4.1") && metered("/v1/messages/count_tokens"));
        assert!(metered("/v1/embeddings") && !metered("/v1/models/x/y"));
        assert_eq!(
            call(
                &gw,
                "/v1/chat/completions",
                bearer(),
                json!({"model":"m-1"})
            )
            .await
            .0,
            200
        );
        gw.stop().await.unwrap();
        let m = summarize(&std::fs::read(dir.path().join("log.jsonl")).unwrap());
        assert_eq!((m.requests, m.refused), (1, 5));
    }

    #[tokio::test]
    async fn request_budget_in_both_shapes() {
        let (up, _) = upstream().await;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), up, Api::Openai);
        cfg.budget.requests = Some(1);
        let gw = start_with_key(cfg, None).await.unwrap();
        let body = json!({"model":"m-1"});
        assert_eq!(
            call(&gw, "/v1/chat/completions", bearer(), body.clone())
                .await
                .0,
            200
        );
        let (s, t) = call(&gw, "/v1/chat/completions", bearer(), body.clone()).await;
        assert_eq!(s, 429);
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(
            v,
            json!({"error":{"message":"mergebench gateway: this attempt's budget of 1 requests is spent","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})
        );
        let (s, t) = call(&gw, "/v1/messages", bearer(), body).await;
        assert_eq!(s, 400);
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(
            v,
            json!({"type":"error","error":{"type":"invalid_request_error","message":"mergebench gateway: this attempt's budget of 1 requests is spent"}})
        );
        gw.stop().await.unwrap();
        let m = summarize(&std::fs::read(dir.path().join("log.jsonl")).unwrap());
        assert_eq!(m.budget_exhausted.as_deref(), Some("requests"));
        assert_eq!((m.requests, m.refused), (1, 2));
    }

    #[tokio::test]
    async fn token_budget_is_reached_after_one_call() {
        let (up, _) = upstream().await;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), up, Api::Openai);
        cfg.budget.tokens = Some(100);
        let gw = start_with_key(cfg, None).await.unwrap();
        let body = json!({"model":"m-1","stream":true});
        assert_eq!(
            call(&gw, "/v1/chat/completions", bearer(), body.clone())
                .await
                .0,
            200
        );
        let (s, t) = call(&gw, "/v1/chat/completions", bearer(), body).await;
        assert_eq!(s, 429, "{t}");
        assert!(t.contains("budget of 100 tokens is spent"), "{t}");
        gw.stop().await.unwrap();
        let recs = records(dir.path());
        assert_eq!(recs[1].refused.as_deref(), Some("budget:tokens"));
    }

    #[tokio::test]
    async fn unreachable_upstream_and_garbage() {
        // A port nothing listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = l.local_addr().unwrap();
        drop(l);
        let dir = tempfile::tempdir().unwrap();
        let gw = start_with_key(config(dir.path(), dead, Api::Anthropic), Some(KEY.into()))
            .await
            .unwrap();
        let resp = reqwest::Client::new()
            .post(format!("http://{}/v1/messages", gw.addr()))
            .header("x-api-key", "attempt-token-123")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 502);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], json!("api_error"));
        gw.stop().await.unwrap();
        let recs = records(dir.path());
        assert_eq!(recs[0].status, 502);
        assert!(recs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("could not be reached"));
        assert_eq!(recs[0].input_tokens, None);
    }

    /// An upstream that streams the content at once and the usage a moment later.
    async fn slow_usage_upstream() -> SocketAddr {
        async fn answer() -> Response {
            let parts: Vec<(u64, &'static str)> = vec![
                (0, "data: {\"model\":\"m-1\",\"choices\":[{\"delta\":{\"content\":\"all the content\"},\"finish_reason\":\"stop\"}]}\n\n"),
                (300, "data: {\"model\":\"m-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4}}\n\n"),
                (0, "data: [DONE]\n\n"),
            ];
            let s = futures_util::stream::unfold(parts.into_iter(), |mut it| async move {
                let (wait, text) = it.next()?;
                tokio::time::sleep(Duration::from_millis(wait)).await;
                Some((
                    Ok::<_, std::io::Error>(Bytes::from_static(text.as_bytes())),
                    it,
                ))
            });
            let mut r = Response::new(Body::from_stream(s));
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/event-stream"),
            );
            r
        }
        let app = Router::new().route("/v1/chat/completions", post(answer));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        addr
    }

    #[tokio::test]
    async fn a_client_that_leaves_early_is_still_measured() {
        let up = slow_usage_upstream().await;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), up, Api::Openai);
        cfg.budget.tokens = Some(10);
        let gw = start_with_key(cfg, None).await.unwrap();
        {
            let mut resp = reqwest::Client::new()
                .post(format!("http://{}/v1/chat/completions", gw.addr()))
                .bearer_auth("attempt-token-123")
                .body(json!({"model":"m-1","stream":true}).to_string())
                .send()
                .await
                .unwrap();
            let first = resp.chunk().await.unwrap().unwrap();
            assert!(String::from_utf8_lossy(&first).contains("all the content"));
            // The client hangs up before the usage arrives.
        }
        gw.stop().await.unwrap();
        let recs = records(dir.path());
        assert_eq!(recs.len(), 1);
        assert_eq!(
            (recs[0].input_tokens, recs[0].output_tokens),
            (Some(9), Some(4)),
            "{:?}",
            recs[0]
        );
    }

    #[tokio::test]
    async fn the_trajectory_stops_at_its_cap() {
        let (up, _) = upstream().await;
        let dir = tempfile::tempdir().unwrap();
        let gw = start_with_key(config(dir.path(), up, Api::Openai), None)
            .await
            .unwrap();
        let big = "x".repeat(TRAJECTORY_CAP as usize + 1);
        let (s, _) = call(
            &gw,
            "/v1/chat/completions",
            bearer(),
            json!({"model":"m-1","pad":big}),
        )
        .await;
        assert_eq!(s, 200);
        let (s, _) = call(
            &gw,
            "/v1/chat/completions",
            bearer(),
            json!({"model":"m-1"}),
        )
        .await;
        assert_eq!(s, 200);
        gw.stop().await.unwrap();
        let t = std::fs::read_to_string(dir.path().join("trajectory.jsonl")).unwrap();
        let lines: Vec<Value> = t
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0], json!({"seq":1,"omitted":true}));
        assert_eq!(lines[1]["request"]["model"], json!("m-1"));
        assert_eq!(records(dir.path())[0].input_tokens, Some(100));
    }
}
