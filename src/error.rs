//! The error type every library function returns. Errors carry their context (file, line,
//! fix) so that the command line only has to print them; `cli::exit` maps them to exit codes.

use std::path::PathBuf;

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
    /// The same, caused by another error, which is kept (not flattened) as the source.
    #[error("{}", with_context(.context, .source.as_ref()))]
    InfraSource {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("database {path}: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("interrupted")]
    Interrupted,
    /// A spending ceiling stopped the run before every attempt was started; what finished
    /// is kept and the same command resumes.
    #[error("{message}\n  fix: {fix}")]
    Budget { message: String, fix: String },
}

fn with_context(context: &str, source: &(dyn std::error::Error + Send + Sync)) -> String {
    if context.is_empty() {
        source.to_string()
    } else {
        format!("{context}: {source}")
    }
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

    /// An infra error caused by `source`: shown as "context: source" (only the source when
    /// `context` is empty), with the source kept.
    pub fn infra_from(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::InfraSource {
            context: context.into(),
            source: source.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
