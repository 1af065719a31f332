//! `mergebench bench`: the harness's speed, printed beside a baseline in the same run.
//!
//! 1. Harness overhead per attempt: an agent that appends one line and tests that print one
//!    passing TAP line, run by mergebench, and the same steps done by a shell script with the
//!    `docker` command line (benches/docker-cli-attempt.sh). Goal: mergebench ≤ 0.7× the script.
//! 2. `--jobs` scaling: agents that sleep, with jobs = 1 and jobs = 4. Goal: ≥ 3.5× faster.
//! 3. A flood: an agent that writes 600 MiB of random bytes into its workspace. The time
//!    from its exit to the recorded attempt, and how much the store grew. Goal: under 30 s,
//!    under 10 MB: the patch limits stop it before git hashes any of it.
//!
//! `--leaderboard` renders the leaderboard over a generated store instead, and `--gateway`
//! measures the model gateway against a scripted upstream on loopback (`bench_gateway`).

use crate::config::agent::load_agent;
use crate::config::suite::load_suite;
use crate::error::Error;
use crate::harness::images::ImageCache;
use crate::harness::Docker;
use crate::run::{run, Prepared, RunOptions};
use crate::store::Store;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

const CLI_SCRIPT: &str = include_str!("../../benches/docker-cli-attempt.sh");

pub struct BenchOptions {
    /// Attempts measured for the overhead comparison.
    pub attempts: u32,
    /// Attempts and sleep for the scaling measurement.
    pub scaling_attempts: u32,
    pub sleep_secs: u32,
}

fn write(dir: &Path, rel: &str, content: &str) -> Result<(), Error> {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::infra_from("", e))?;
    }
    std::fs::write(p, content).map_err(|e| Error::infra_from("", e))
}

fn sh(dir: &Path, args: &[&str]) -> Result<String, Error> {
    let mut c = crate::repo::workspace::git(dir);
    c.args(args);
    crate::repo::workspace::run_git(c, args[0])
        .map(|o| String::from_utf8_lossy(&o).trim().to_string())
}

/// A one-task suite with no-op tests, and the agents the benchmark runs.
fn scaffold(dir: &Path, opts: &BenchOptions) -> Result<(), Error> {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).map_err(|e| Error::infra_from("", e))?;
    sh(&repo, &["init", "-q", "-b", "main"])?;
    write(&repo, "README.md", "bench\n")?;
    sh(&repo, &["add", "-A"])?;
    sh(&repo, &["commit", "-qm", "base"])?;
    let base = sh(&repo, &["rev-parse", "HEAD"])?;
    let s = dir.join("suite");
    write(
        &s,
        "env/Dockerfile",
        "ARG BASE=mergebench-base:bookworm\nFROM ${BASE}\n",
    )?;
    write(&s, "suite.toml", "name = \"bench\"\n[repo]\nsource = \"../repo\"\n[environment]\ndockerfile = \"env/Dockerfile\"\n[tests]\ncommand = \"echo 'ok 1 - t'\"\nformat = \"tap\"\ntimeout = \"1m\"\n")?;
    write(&s, "t1/problem.md", "nothing\n")?;
    write(&s, "t1/tests.patch", "")?;
    write(&s, "t1/task.toml", &format!("id = \"t1\"\ntitle = \"t\"\nproblem = \"problem.md\"\n[repo]\nbase = \"{base}\"\n[tests]\npatch = \"tests.patch\"\nfail_to_pass = [\"t\"]\n"))?;
    let a = dir.join("agents");
    let limits =
        "network = \"none\"\ncpus = 1.0\nmemory = \"512MiB\"\npids = 256\ntimeout = \"2m\"\n";
    write(&a, "touch.toml", &format!("name = \"touch\"\ncommand = [\"sh\", \"-c\", \"cat /proc/sys/kernel/random/uuid >> README.md\"]\n{limits}"))?;
    write(&a, "flood.toml", &format!("name = \"flood\"\ncommand = [\"sh\", \"-c\", \"head -c 629145600 /dev/urandom > blob.bin\"]\ndisk = \"2GiB\"\n{}", limits.replace("timeout = \"2m\"", "timeout = \"5m\"")))?;
    write(
        &a,
        "sleeper.toml",
        &format!(
            "name = \"sleeper\"\ncommand = [\"sleep\", \"{}\"]\n{limits}",
            opts.sleep_secs
        ),
    )?;
    Ok(())
}

async fn timed_run(
    docker: &Docker,
    store: &Arc<Store>,
    dir: &Path,
    agent: &str,
    attempts: u32,
    jobs: usize,
) -> Result<f64, Error> {
    let suite = load_suite(&dir.join("suite"))?;
    let agents = vec![load_agent(
        &dir.join("agents").join(format!("{agent}.toml")),
    )?];
    let start = Instant::now();
    run(
        Prepared {
            docker: docker.clone(),
            store: store.clone(),
            suite,
            agents,
        },
        RunOptions {
            attempts,
            jobs,
            new: true,
            label: Some("bench".into()),
            progress: false,
            judge: None,
            shard: None,
            max_agent_cost: None,
            pin_model: None,
        },
    )
    .await?;
    Ok(start.elapsed().as_secs_f64())
}

pub async fn bench(opts: BenchOptions) -> Result<String, Error> {
    let docker = Docker::connect().await?;
    let tmp = tempfile::tempdir().map_err(|e| Error::infra_from("", e))?;
    let dir = tmp.path();
    scaffold(dir, &opts)?;
    let store = Arc::new(Store::open(&dir.join("bench.db"))?);
    let suite = load_suite(&dir.join("suite"))?;
    let task = &suite.tasks[0];
    let image = ImageCache::default()
        .environment(&docker, &task.environment, &task.file)
        .await?;
    // Warm up: images, the repository mirror, the daemon's caches.
    timed_run(&docker, &store, dir, "touch", 1, 1).await?;

    let n = opts.attempts.max(1);
    let mb = timed_run(&docker, &store, dir, "touch", n, 1).await? / n as f64;

    let base = crate::repo::workspace::prepare_base(task)?;
    let archive = dir.join("workspace.tar");
    std::fs::write(&archive, &base.archive).map_err(|e| Error::infra_from("", e))?;
    let script = dir.join("attempt.sh");
    std::fs::write(&script, CLI_SCRIPT).map_err(|e| Error::infra_from("", e))?;
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).map_err(|e| Error::infra_from("", e))?;
    let start = Instant::now();
    for _ in 0..n {
        let out = Command::new("bash")
            .arg(&script)
            .arg(&image.tag)
            .arg(&archive)
            .arg(&scratch)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .map_err(|e| Error::env(format!("cannot run bash: {e}"), "install bash"))?;
        if !out.status.success() {
            return Err(Error::infra(format!(
                "the docker CLI baseline failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
    }
    let cli = start.elapsed().as_secs_f64() / n as f64;

    let k = opts.scaling_attempts.max(4);
    let j1 = timed_run(&docker, &store, dir, "sleeper", k, 1).await?;
    let j4 = timed_run(&docker, &store, dir, "sleeper", k, 4).await?;

    // The store and its write-ahead log: what a flood would add shows in one or the other.
    let store_bytes = || {
        ["bench.db", "bench.db-wal"]
            .iter()
            .map(|f| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len()))
            .sum::<u64>()
    };
    let before = store_bytes();
    timed_run(&docker, &store, dir, "flood", 1, 1).await?;
    let grew = store_bytes().saturating_sub(before);
    let ev = store
        .evaluation(None)?
        .ok_or_else(|| Error::infra("the flood run recorded no evaluation"))?;
    let flood = store
        .attempts(&ev.id)?
        .into_iter()
        .find(|a| a.key.agent == "flood")
        .ok_or_else(|| Error::infra("the flood run recorded no attempt"))?;
    let after_exit =
        flood.run.total_seconds.unwrap_or(0.0) - flood.run.agent_seconds.unwrap_or(0.0);

    let ratio = mb / cli;
    let speedup = j1 / j4;
    let verdict = |ok: bool| if ok { "meets goal" } else { "MISSES goal" };
    Ok(format!(
        "harness overhead per attempt ({n} attempts, no-op agent, no-op tests)\n\
         \x20 mergebench          {:>8.3} s\n\
         \x20 docker CLI script   {:>8.3} s\n\
         \x20 ratio               {:>8.2}   (goal <= 0.70: {})\n\
         \n\
         --jobs scaling ({k} attempts, agents sleep {} s, {} cores)\n\
         \x20 jobs = 1            {:>8.2} s\n\
         \x20 jobs = 4            {:>8.2} s\n\
         \x20 speed-up            {:>8.2}x  (goal >= 3.5: {})\n\
         \n\
         a 600 MiB workspace flood ({}, flagged patch_too_large: {})\n\
         \x20 after the agent's exit {:>5.1} s  (goal < 30: {})\n\
         \x20 store growth        {:>8.2} MB (goal < 10: {})\n",
        mb,
        cli,
        ratio,
        verdict(ratio <= 0.7),
        opts.sleep_secs,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        j1,
        j4,
        speedup,
        verdict(speedup >= 3.5),
        flood.run.outcome,
        flood.run.flags.patch_too_large,
        after_exit,
        verdict(after_exit < 30.0),
        grew as f64 / 1e6,
        verdict(grew < 10_000_000),
    ))
}

/// Peak resident memory of this process so far (Linux), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time this process has used so far (user and system, every thread; Linux), in seconds.
/// On a shared machine the wall time waits for other processes; this does not.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): utime and stime are the 12th
    // and 13th, in USER_HZ (100 a second).
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split_whitespace().skip(11);
    let utime: f64 = f.next()?.parse().ok()?;
    let stime: f64 = f.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Resets the peak so the figure covers the render alone, not filling the store (Linux ≥ 4.0).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The leaderboard's goal: time and peak memory at a million attempts.
const GOAL_SECS: f64 = 2.0;
const GOAL_MB: f64 = 256.0;
const GOAL_ATTEMPTS: usize = 1_000_000;

/// 3. The leaderboard over a generated store of `attempts` attempts (no Docker): the time
///    from opening the store to the three rendered reports, and the peak memory while doing
///    it, beside the goal (under 2 s and 256 MB at 1,000,000 attempts); then, for
///    comparison, reading every attempt row of the same nights into memory, as reports did
///    before they read tallies.
///    With `keep`, the generated store is written there and kept, to open with `report`.
pub fn bench_leaderboard(attempts: usize, keep: Option<&Path>) -> Result<String, Error> {
    use crate::app::synthetic::{fill, SyntheticOptions};
    use crate::report::data::{load, Selection};
    use crate::report::leaderboard::build;
    use crate::report::{render, Format};
    let tmp = tempfile::tempdir().map_err(|e| Error::infra_from("", e))?;
    let db = match keep {
        Some(p) if p.exists() => {
            return Err(Error::Usage(format!(
                "{} exists: bench --leaderboard writes a new store; give a new --db path",
                p.display()
            )))
        }
        Some(p) => p.to_path_buf(),
        None => tmp.path().join("leaderboard.db"),
    };
    let opts = SyntheticOptions::sized(attempts);
    let start = Instant::now();
    let ids = {
        let store = Store::open(&db)?;
        fill(&store, &opts)?
    };
    let fill_secs = start.elapsed().as_secs_f64();
    let reset = reset_peak_rss();
    let before = peak_rss();
    let cpu_start = cpu_secs();
    let start = Instant::now();
    let store = Store::open(&db)?;
    let data = load(
        &store,
        &Selection {
            history: opts.nights,
            ..Default::default()
        },
    )?;
    let loaded = start.elapsed().as_secs_f64();
    let lb = build(data, &Default::default())
        .ok_or_else(|| Error::infra("the generated store has no evaluation"))?;
    let built = start.elapsed().as_secs_f64();
    let html = render::leaderboard(&lb, Format::Html);
    let md = render::leaderboard(&lb, Format::Markdown);
    let json = render::leaderboard(&lb, Format::Json);
    let total = start.elapsed().as_secs_f64();
    let cpu = cpu_start.zip(cpu_secs()).map(|(a, b)| b - a);
    let peak = peak_rss();
    let sizes = (html.len(), md.len(), json.len());
    drop((lb, html, md, json));

    // For comparison: every attempt row of the same nights in memory at once.
    let reset_rows = reset && reset_peak_rss();
    let start = Instant::now();
    let rows = store.attempts_for_reports(&ids)?;
    let rows_secs = start.elapsed().as_secs_f64();
    let rows_peak = peak_rss();
    drop(rows);

    let mb = |b: u64| b as f64 / 1e6;
    let peak_mb = peak.map(mb).unwrap_or(f64::NAN);
    let verdict = |ok: bool| if ok { "meets goal" } else { "MISSES goal" };
    let size = if opts.total() >= GOAL_ATTEMPTS {
        String::new()
    } else {
        format!(
            "; measured at {} attempts: run with --attempts {GOAL_ATTEMPTS} for the goal's size",
            opts.total()
        )
    };
    Ok(format!(
        "leaderboard over a generated store ({} attempts: {} nights × {} agents × {} tasks × {} attempts)\n\
         \x20 filling the store    {:>8.2} s  (not part of the figure)\n\
         \x20 load from the store  {:>8.2} s  (per agent and task tallies counted in SQL)\n\
         \x20 build (statistics)   {:>8.2} s\n\
         \x20 render html, md, json{:>8.2} s\n\
         \x20 total                {:>8.2} s  (CPU {} s over {} cores: the wall time waits when others share them)\n\
         \x20 peak memory          {:>8.1} MB  ({}; {:.1} MB before loading)\n\
         \x20 goal: < {GOAL_SECS} s, < {GOAL_MB} MB at 1,000,000 attempts: {:.2} s, {:.1} MB, {}{}\n\
         \x20 sizes                html {:.1} MB, md {:.2} MB, json {:.2} MB\n\
         \x20 for comparison, every attempt row in memory (as reports read before tallies):\n\
         \x20   load               {:>8.2} s\n\
         \x20   peak memory        {:>8.1} MB  ({})\n",
        opts.total(),
        opts.nights,
        opts.agents.len(),
        opts.tasks,
        opts.attempts,
        fill_secs,
        loaded,
        built - loaded,
        total - built,
        total,
        cpu.map(|c| format!("{c:.2}")).unwrap_or_else(|| "n/a".into()),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        peak_mb,
        if reset { "high-water mark reset before loading" } else { "process high-water mark, store filling included" },
        before.map(mb).unwrap_or(f64::NAN),
        total,
        peak_mb,
        verdict(total < GOAL_SECS && peak_mb < GOAL_MB),
        size,
        mb(sizes.0 as u64),
        mb(sizes.1 as u64),
        mb(sizes.2 as u64),
        rows_secs,
        rows_peak.map(mb).unwrap_or(f64::NAN),
        if reset_rows { "high-water mark reset before reading" } else { "process high-water mark, everything above included" },
    ))
}

/// The gateway's goal: under this many milliseconds added at the median.
const GATEWAY_GOAL_MS: f64 = 2.0;

/// A scripted OpenAI-compatible upstream on loopback: chat completions with fixed usage,
/// whole or streamed in a few events.
async fn scripted_upstream() -> Result<std::net::SocketAddr, Error> {
    use axum::body::{Body, Bytes};
    use axum::http::{header, HeaderValue};
    use axum::response::Response;
    use axum::serve::ListenerExt;
    async fn answer(body: Bytes) -> Response {
        let stream = serde_json::from_slice::<serde_json::Value>(&body)
            .map(|v| v["stream"] == serde_json::Value::Bool(true))
            .unwrap_or(false);
        let (text, ctype) = if stream {
            let mut t = String::new();
            for word in ["Hello", ", ", "world"] {
                t += &format!(
                    "data: {{\"id\":\"c\",\"model\":\"bench-model\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{word}\"}}}}]}}\n\n"
                );
            }
            t += "data: {\"id\":\"c\",\"model\":\"bench-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":3,\"total_tokens\":123}}\n\ndata: [DONE]\n\n";
            (t, "text/event-stream")
        } else {
            (
                serde_json::json!({"id": "c", "object": "chat.completion", "model": "bench-model",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, world"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 120, "completion_tokens": 3, "total_tokens": 123}})
                .to_string(),
                "application/json",
            )
        };
        let mut r = Response::new(Body::from(text));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        r
    }
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::infra_from("bench: cannot listen on loopback", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::infra_from("bench: no local address", e))?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

async fn one_call(
    client: &reqwest::Client,
    base: &str,
    stream: bool,
) -> Result<std::time::Duration, Error> {
    let body = serde_json::json!({"model": "bench-model", "stream": stream,
        "messages": [{"role": "user", "content": "Say hello"}]});
    let start = Instant::now();
    let resp = client
        .post(format!("{base}/chat/completions"))
        .bearer_auth("bench-token")
        .json(&body)
        .send()
        .await
        .map_err(|e| Error::infra_from("bench: a request failed", e))?;
    let status = resp.status();
    let text = resp
        .bytes()
        .await
        .map_err(|e| Error::infra_from("bench: a response broke off", e))?;
    if !status.is_success() || text.is_empty() {
        return Err(Error::infra(format!("bench: the answer was {status}")));
    }
    Ok(start.elapsed())
}

/// Requests per second with `clients` sending `each` requests at once.
async fn throughput(
    client: &reqwest::Client,
    base: &str,
    stream: bool,
    clients: usize,
    each: usize,
) -> Result<f64, Error> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, base) = (client.clone(), base.to_string());
        tasks.push(tokio::spawn(async move {
            for _ in 0..each {
                one_call(&client, &base, stream).await?;
            }
            Ok::<(), Error>(())
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| Error::infra_from("bench: a client stopped", e))??;
    }
    Ok((clients * each) as f64 / start.elapsed().as_secs_f64())
}

/// `bench --gateway`: the model gateway in front of a scripted upstream on loopback, beside
/// the upstream called directly, with the same reqwest client: N sequential requests each way
/// (interleaved; median, p90, and what the gateway adds at the median) and requests per
/// second with 16 clients at once. Goal: under 2 ms added at the median.
pub async fn bench_gateway(quick: bool) -> Result<String, Error> {
    use crate::gateway::{Api, Budget, GatewayConfig, Price};
    use crate::stats::quantile;
    let (sequential, clients, each) = if quick {
        (300, 16, 50)
    } else {
        (3000, 16, 500)
    };
    let tmp = tempfile::tempdir().map_err(|e| Error::infra_from("", e))?;
    let up = scripted_upstream().await?;
    let mut prices = std::collections::BTreeMap::new();
    prices.insert(
        "*".to_string(),
        Price {
            input: 1.0,
            output: 4.0,
            cached_input: None,
        },
    );
    let cfg = GatewayConfig {
        listen: "127.0.0.1:0".into(),
        upstream: format!("http://{up}/v1"),
        api: Api::Openai,
        token: "bench-token".into(),
        key_env: None,
        budget: Budget::default(),
        prices,
        pin_model: Some("bench-model".into()),
        log: tmp.path().join("gateway.jsonl"),
        trajectory: tmp.path().join("trajectory.jsonl"),
    };
    let gw = crate::gateway::start_with_key(cfg, Some("sk-bench-key".into())).await?;
    let direct = format!("http://{up}/v1");
    let via = format!("http://{}/v1", gw.addr());
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| Error::infra_from("bench: no HTTP client", e))?;
    let mut out = format!(
        "model gateway on loopback: a scripted upstream called directly and through the gateway\n\
         ({sequential} sequential requests each way, interleaved; throughput with {clients} clients \
         × {each} requests)\n\n"
    );
    let mut rows = vec![vec![
        "".to_string(),
        "direct".into(),
        "via gateway".into(),
        "added".into(),
    ]];
    let mut met = true;
    for stream in [false, true] {
        let kind = if stream { "streamed" } else { "whole" };
        for _ in 0..20 {
            one_call(&client, &direct, stream).await?;
            one_call(&client, &via, stream).await?;
        }
        let (mut d, mut g) = (Vec::new(), Vec::new());
        for _ in 0..sequential {
            d.push(one_call(&client, &direct, stream).await?.as_secs_f64() * 1e3);
            g.push(one_call(&client, &via, stream).await?.as_secs_f64() * 1e3);
        }
        for (label, q) in [("median", 0.5), ("p90", 0.9)] {
            let (dq, gq) = (
                quantile(&d, q).unwrap_or(f64::NAN),
                quantile(&g, q).unwrap_or(f64::NAN),
            );
            let added = gq - dq;
            if q == 0.5 && (added.is_nan() || added >= GATEWAY_GOAL_MS) {
                met = false;
            }
            rows.push(vec![
                format!("{kind}: latency {label}"),
                format!("{dq:.3} ms"),
                format!("{gq:.3} ms"),
                format!("{:+.3} ms", gq - dq),
            ]);
        }
        let td = throughput(&client, &direct, stream, clients, each).await?;
        let tg = throughput(&client, &via, stream, clients, each).await?;
        rows.push(vec![
            format!("{kind}: throughput"),
            format!("{td:.0} req/s"),
            format!("{tg:.0} req/s"),
            format!("{:.0}%", (tg / td - 1.0) * 100.0),
        ]);
    }
    gw.stop().await?;
    let log = std::fs::read(tmp.path().join("gateway.jsonl"))
        .map_err(|e| Error::infra_from("bench: cannot read the gateway's log", e))?;
    let m = crate::gateway::summarize(&log);
    out += &table(&rows);
    out += &format!(
        "\ngoal: under {GATEWAY_GOAL_MS} ms added at the median (whole and streamed): {}\n\
         the gateway logged {} requests, {} input and {} output tokens, {} unreadable lines\n",
        if met { "met" } else { "missed" },
        m.requests,
        m.input_tokens,
        m.output_tokens,
        m.unreadable_lines
    );
    Ok(out)
}

/// Left-aligned columns.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s:<w$}", w = widths[i]))
            .collect();
        out += line.join("  ").trim_end();
        out.push('\n');
    }
    out
}
