//! The one exit-code table. Every code the binary returns is decided here, from an error, a
//! gate's report, a night's outcome or a check's result; nothing else in the crate knows
//! the numbers.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a check failed: a gate, a regression or drift alarm, an invalid task, an agent that did not finish, a cost ceiling that stopped a run |
//! | 2 | usage or input error (a flag, a file the user wrote) |
//! | 3 | environment error (Docker unreachable, an image or a tool missing, a store or run failure) |
//! | 130 | interrupted |

use crate::app::nightly::NightOutcome;
use crate::conventions::gate::GateError;
use crate::error::Error;

pub const OK: i32 = 0;
pub const CHECK_FAILED: i32 = 1;
pub const USAGE: i32 = 2;
pub const ENVIRONMENT: i32 = 3;
pub const INTERRUPTED: i32 = 130;

/// The code for an error.
pub fn of_error(e: &Error) -> i32 {
    match e {
        Error::Input { .. } | Error::Usage(_) => USAGE,
        Error::Environment { .. } => ENVIRONMENT,
        Error::Infra(_) | Error::InfraSource { .. } | Error::Store { .. } => ENVIRONMENT,
        Error::Interrupted => INTERRUPTED,
        Error::Budget { .. } => CHECK_FAILED,
    }
}

/// 0 when a check passed, 1 when it failed.
pub fn of_check(passed: bool) -> i32 {
    if passed {
        OK
    } else {
        CHECK_FAILED
    }
}

/// A gate error is the input's fault, unless the machine lacks git.
pub fn gate_error(e: GateError) -> Error {
    if e.is_environment() {
        Error::env(e.to_string(), "install git and run inside the repository")
    } else {
        Error::Usage(e.to_string())
    }
}

/// 1 when the night regressed or the judge drifted (and the config fails on it).
pub fn of_night(n: NightOutcome) -> i32 {
    of_check(!n.failed())
}
