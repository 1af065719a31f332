//! Operating the machine and the binary: `images list|prune`, `gc`, `bench`, `agent` (the
//! reference agent, as it runs inside a container) and `gateway` (the model gateway, as it
//! runs inside an attempt's gateway container).

use super::args::{AgentArgs, ImagesCommand};
use super::{exit, open_store, print};
use crate::error::Error;
use crate::harness::{Docker, GcScope};
use std::path::PathBuf;

/// `images list` and `images prune`.
pub async fn images(db: &Option<PathBuf>, command: ImagesCommand) -> Result<i32, Error> {
    let docker = Docker::connect().await?;
    match command {
        ImagesCommand::List { json } => {
            let imgs = crate::harness::images::list(&docker).await?;
            if json {
                print::json(&imgs);
            } else {
                let mut rows = vec![vec![
                    "image".to_string(),
                    "kind".into(),
                    "id".into(),
                    "size".into(),
                ]];
                for i in imgs {
                    rows.push(vec![
                        i.tag,
                        i.kind,
                        i.id.trim_start_matches("sha256:")
                            .chars()
                            .take(12)
                            .collect(),
                        format!("{:.0} MB", i.size_bytes as f64 / 1e6),
                    ]);
                }
                print!("{}", print::format_table(&rows));
            }
        }
        ImagesCommand::Prune { all, json } => {
            let keep = open_store(db)?.used_images()?;
            let removed = crate::harness::images::prune(&docker, &keep, all).await?;
            if json {
                print::json(&removed);
            } else {
                for r in &removed {
                    println!("removed {}", r.tag);
                }
                println!("{} images removed", removed.len());
            }
        }
    }
    Ok(exit::OK)
}

/// `gc`: containers, networks and volumes that killed runs left behind.
pub async fn gc(all: bool, json: bool) -> Result<i32, Error> {
    let docker = Docker::connect().await?;
    let r = docker
        .gc(if all { GcScope::All } else { GcScope::Orphans })
        .await?;
    if json {
        print::json(&r);
    } else {
        println!(
            "removed {} containers, {} networks, {} volumes",
            r.containers, r.networks, r.volumes
        );
    }
    Ok(exit::OK)
}

/// `bench`: harness overhead and `--jobs` scaling, or the leaderboard over a generated store.
pub async fn bench(
    db: &Option<PathBuf>,
    quick: bool,
    leaderboard: bool,
    attempts: usize,
) -> Result<i32, Error> {
    if leaderboard {
        // --db given explicitly keeps the generated store there.
        print!(
            "{}",
            crate::app::bench::bench_leaderboard(attempts, db.as_deref())?
        );
        return Ok(exit::OK);
    }
    let opts = if quick {
        crate::app::bench::BenchOptions {
            attempts: 3,
            scaling_attempts: 4,
            sleep_secs: 2,
        }
    } else {
        crate::app::bench::BenchOptions {
            attempts: 10,
            scaling_attempts: 8,
            sleep_secs: 3,
        }
    };
    print!("{}", crate::app::bench::bench(opts).await?);
    Ok(exit::OK)
}

/// `mergebench agent`: exit 0 when the model called finish, 1 when a limit or the model's
/// silence ended the run, 3 when the endpoint failed.
pub async fn agent(a: AgentArgs) -> Result<i32, Error> {
    use crate::refagent::{run, Config, Status};
    let command_timeout = crate::config::units::parse_duration(&a.command_timeout)
        .map_err(|e| Error::Usage(format!("--command-timeout: {e}")))?;
    if a.model.trim().is_empty() {
        return Err(Error::Usage(
            "--model (or MERGEBENCH_AGENT_MODEL) is empty".into(),
        ));
    }
    let cfg = Config {
        problem: a.problem,
        workspace: a.workspace,
        out: a.out,
        base_url: a.base_url,
        model: a.model,
        api_key: std::env::var(&a.api_key_env).ok(),
        max_steps: a.max_steps,
        max_tokens: a.max_tokens,
        max_cost: a.max_cost,
        input_price: a.input_price,
        output_price: a.output_price,
        command_timeout,
        temperature: a.temperature,
    };
    let status = run(&cfg).await.map_err(Error::Usage)?;
    eprintln!("mergebench agent: {}", status.as_str());
    Ok(match status {
        Status::Finished => exit::OK,
        Status::ModelError => exit::ENVIRONMENT,
        _ => exit::CHECK_FAILED,
    })
}

/// `bench --gateway`: the model gateway's added latency and throughput on loopback.
pub async fn bench_gateway(quick: bool) -> Result<i32, Error> {
    print!("{}", crate::app::bench::bench_gateway(quick).await?);
    Ok(exit::OK)
}

/// `mergebench gateway`: serves until SIGTERM or SIGINT, then exits 0 once the calls in
/// flight have ended and the log is flushed.
pub async fn gateway(config: &std::path::Path) -> Result<i32, Error> {
    use tokio::signal::unix::{signal, SignalKind};
    let cfg = crate::gateway::GatewayConfig::load(config)?;
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| Error::infra_from("gateway: cannot watch for SIGTERM", e))?;
    let running = crate::gateway::start(cfg).await?;
    // The harness waits for this line before it starts the agent.
    eprintln!("mergebench-gateway ready");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    running.stop().await?;
    Ok(exit::OK)
}
