//! mergebench: evaluates coding agents on a team's own codebase. Tasks come from the
//! repository's history; agents run in locked-down containers; patches are scored by hidden
//! tests; results land in SQLite. The headline figure is the merge rate.
//!
//! The modules read as the pipeline, from the command line down to the pure engines:
//! `cli` → `app` → `tasks` · `run` · `review` → `score` · `judge` · `report` → `harness` ·
//! `repo` · `store` → `config` · `testparse` · `conventions` · `stats`. See ARCHITECTURE.md
//! for the map of this crate.

// The library prints nothing to stdout: only `cli` does (it allows this lint for itself).
#![deny(clippy::print_stdout)]

pub mod app;
pub mod cli;
pub mod config;
pub mod conventions;
pub mod error;
pub mod gateway;
pub mod harness;
pub mod judge;
pub mod progress;
pub mod refagent;
pub mod repo;
pub mod report;
pub mod review;
pub mod run;
pub mod score;
pub mod stats;
pub mod store;
pub mod tasks;
#[cfg(test)]
mod test_support;
pub mod testparse;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
