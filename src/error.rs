//! The error type every library function returns, and the exit-code policy it maps to.
//!
//! Errors carry their context (file, line, fix) so that `main` only has to print them.

use std::path::PathBuf;

/// Exit codes, one policy for the whole binary (DESIGN.md, "CLI surface").
pub mod exit {
    pub const OK: i32 = 0;
    pub const CHECK_FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const ENVIRONMENT: i32 = 3;
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a file the user wrote, with where and how to fix it.
    #[error("{}", format_input(.file, .line, .message, .fix))]
    Input {
        file: PathBuf,
        line: Option<usize>,
        message: String,
        fix: String,
    },
    /// A usage mistake on the command line.
    #[error("{0}")]
    Usage(String),
    /// The environment is not usable: Docker unreachable, an image missing, a tool absent.
    #[error("{message}\n  fix: {fix}")]
    Environment { message: String, fix: String },
    /// Something inside a run failed (Docker, git, the store). Attempts record it as infra_error.
    #[error("{0}")]
    Infra(String),
    #[error("database {path}: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("interrupted")]
    Interrupted,
}

fn format_input(file: &std::path::Path, line: &Option<usize>, message: &str, fix: &str) -> String {
    let loc = match line {
        Some(l) => format!("{}:{}", file.display(), l),
        None => file.display().to_string(),
    };
    format!("{loc}: {message}\n  fix: {fix}")
}

impl Error {
    pub fn input(
        file: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Error::Input {
            file: file.into(),
            line,
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub fn env(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Environment {
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub fn infra(message: impl Into<String>) -> Self {
        Error::Infra(message.into())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input { .. } | Error::Usage(_) => exit::USAGE,
            Error::Environment { .. } => exit::ENVIRONMENT,
            Error::Infra(_) | Error::Store { .. } => exit::ENVIRONMENT,
            Error::Interrupted => exit::INTERRUPTED,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
