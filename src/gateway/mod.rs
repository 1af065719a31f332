//! The model gateway (`mergebench gateway`): it runs in an attempt's gateway container on the
//! attempt's internal network, between the agent and the real model provider. The agent holds
//! a per-attempt token and the gateway's URL; the gateway holds the real key (from its own
//! environment), forwards each request with it, measures usage from the provider's own
//! responses, enforces the attempt's budgets and model pin, and logs every call.
//!
//! `config` is the JSON file the harness writes, `usage` what a response says it used (pure),
//! `log` the call log and its summary (pure), `server` the server itself, `stored` what the
//! store keeps of a gateway's run (the compressed trajectory) and how `results --calls` shows it.

pub mod config;
pub mod log;
pub mod server;
pub mod stored;
pub mod usage;

pub use config::{Api, Budget, GatewayConfig, Price};
pub use log::{summarize, CallRecord, Measured};
pub use server::{start, start_with_key, Running};
