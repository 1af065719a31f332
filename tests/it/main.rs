//! The one integration-test binary. Modules that need Docker talk to the real engine
//! (`bash scripts/setup.sh` starts it); the rest run anywhere.

mod cli;
mod fixture;
mod gate;
mod judge;
mod reports;
mod sandbox;
mod validate;
