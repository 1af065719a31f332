//! Reports engineering leads read: the leaderboard (per agent, with history and regression
//! flags) and the paired comparison of two agents. Building a report is pure (rows in, a
//! serialisable report out); rendering fills the templates in `reports/`; only `data::load`
//! reads the store.

pub mod charts;
pub mod clusters;
pub mod compare;
pub mod data;
pub mod history;
pub mod leaderboard;
pub mod power;
pub mod render;
pub mod results;
pub mod tasks;

pub use render::Format;

use crate::error::Error;
use crate::store::Store;
use std::path::Path;

/// The leaderboard of an evaluation (default: the latest) with `history` nights.
pub fn leaderboard_from_store(
    store: &Store,
    eval: Option<&str>,
    history: usize,
    opts: &leaderboard::LeaderboardOptions,
) -> Result<leaderboard::Leaderboard, Error> {
    let data = data::load(
        store,
        &data::Selection {
            eval,
            history,
            agents: &[],
            since: opts.since.as_deref(),
        },
    )?;
    leaderboard::build(data, opts).ok_or_else(|| Error::Usage("no evaluation to report".into()))
}

/// Compares agents `a` and `b` in an evaluation (default: the latest that ran both).
pub fn compare_from_store(
    store: &Store,
    eval: Option<&str>,
    a: &str,
    b: &str,
) -> Result<compare::Comparison, Error> {
    if a == b {
        return Err(Error::Usage(format!(
            "compare needs two different agents, got `{a}` twice"
        )));
    }
    let agents = [a.to_string(), b.to_string()];
    let data = data::load_night(
        store,
        &data::Selection {
            eval,
            history: 1,
            agents: if eval.is_some() { &[] } else { &agents },
            since: None,
        },
    )?;
    compare::build(&data.night, &data.patches, a, b, &data.clusters).map_err(Error::Usage)
}

/// Writes a report whole or not at all: to a temporary file beside it, then renamed.
pub fn write_report(path: &Path, text: &str) -> Result<(), Error> {
    let fail = |e: std::io::Error| {
        Error::input(
            path,
            None,
            format!("cannot write: {e}"),
            "choose a writable path for --out",
        )
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    // Written beside the target and renamed over it, so a failure midway never leaves a
    // truncated file where a good one was; created with the umask's mode (as any tool's
    // output), not a temporary file's private 0600.
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.{:08x}.tmp", rand::random::<u32>()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}
