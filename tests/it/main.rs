//! The one integration-test binary. Modules that need Docker talk to the real engine
//! (`bash scripts/setup.sh` starts it); the rest run anywhere.

mod agents;
mod browser;
mod cargo;
mod cli;
mod daemon;
mod deploy;
mod drift;
mod ecosystems;
mod fixture;
mod forgery;
mod gate;
mod gateway;
mod hardening;
mod judge;
mod label;
mod mine;
mod reports;
mod sandbox;
mod scale;
mod validate;
