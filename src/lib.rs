//! mergebench: evaluates coding agents on a team's own codebase. Tasks come from the
//! repository's history; agents run in locked-down containers; patches are scored by hidden
//! tests; results land in SQLite. The headline figure is the merge rate.
//!
//! See ARCHITECTURE.md for the map of this crate.

pub mod agreement;
pub mod bench;
pub mod cli;
pub mod config;
pub mod conventions;
pub mod conventions_scorer;
pub mod drift;
pub mod egress;
pub mod error;
pub mod grade;
pub mod harness;
pub mod judge;
pub mod labels;
pub mod mine;
pub mod nightly;
pub mod outcome;
pub mod patch;
pub mod refagent;
pub mod report;
pub mod results;
pub mod runner;
pub mod stats;
pub mod store;
pub mod synthetic;
pub mod testparse;
pub mod units;
pub mod validate;
pub mod web;
pub mod workspace;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
