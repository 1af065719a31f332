//! The model providers a judge can ask: OpenAI-compatible chat completions, Anthropic
//! messages, and a local command. Each turns a `Request` into a `Reply` or a classified
//! failure; retries, budgets and validation are the caller's (`engine`).

pub mod anthropic;
pub mod command;
mod http;
pub mod openai;

use super::prompt::Request;
use super::secret::{Redactor, Secret};
use super::spec::{JudgeSpec, ProviderKind};
use super::verdict::ReplyOutput;
use crate::config::line_of_key;
use crate::error::Error;
use std::time::Duration;

/// What one request consumed, as the provider reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    /// A cost the provider states itself (gateways such as OpenRouter do); it wins over
    /// the judge's price table.
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub output: ReplyOutput,
    pub usage: Usage,
    /// The model that answered, when the provider says.
    pub model: Option<String>,
    /// HTTP status or exit code.
    pub status: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// Worth trying again: 429, 5xx, a timeout, a dropped connection.
    Retryable {
        message: String,
        status: Option<i64>,
        retry_after: Option<Duration>,
        /// No connection could be made at all: when retries run out, the provider is down
        /// or the URL is wrong, and every other request would fail the same way.
        unreachable: bool,
    },
    /// This request failed for good; others may not (e.g. a patch too long for the model).
    Failed {
        message: String,
        status: Option<i64>,
    },
    /// No request of this judge can succeed: the key is refused, the URL or model is wrong,
    /// the command does not exist. The run stops rather than fail every attempt alike.
    Unusable {
        message: String,
        status: Option<i64>,
    },
}

impl CallError {
    pub fn message(&self) -> &str {
        match self {
            CallError::Retryable { message, .. }
            | CallError::Failed { message, .. }
            | CallError::Unusable { message, .. } => message,
        }
    }

    pub fn status(&self) -> Option<i64> {
        match self {
            CallError::Retryable { status, .. }
            | CallError::Failed { status, .. }
            | CallError::Unusable { status, .. } => *status,
        }
    }
}

pub enum Provider {
    Openai(http::Http),
    Anthropic(http::Http),
    Command(command::CommandProvider),
}

impl Provider {
    /// Builds the provider; its API key comes from the environment variable the judge names.
    pub fn new(spec: &JudgeSpec) -> Result<(Provider, Redactor), Error> {
        let text = std::fs::read_to_string(&spec.file).unwrap_or_default();
        let key = spec
            .provider
            .api_key_env()
            .map(|name| Secret::from_env(name, &spec.file, line_of_key(&text, None, "api_key_env")))
            .transpose()?;
        let redactor = Redactor::new(key.clone());
        let provider = match &spec.provider {
            ProviderKind::Openai { base_url, .. } => Provider::Openai(http::Http::new(
                format!("{base_url}/chat/completions"),
                key,
                spec.timeout,
                redactor.clone(),
            )?),
            ProviderKind::Anthropic { base_url, .. } => Provider::Anthropic(http::Http::new(
                format!("{base_url}/v1/messages"),
                key,
                spec.timeout,
                redactor.clone(),
            )?),
            ProviderKind::Command { argv, dir } => Provider::Command(command::CommandProvider {
                argv: argv.clone(),
                dir: dir.clone(),
                timeout: spec.timeout,
            }),
        };
        Ok((provider, redactor))
    }

    pub async fn send(&self, spec: &JudgeSpec, req: &Request) -> Result<Reply, CallError> {
        match self {
            Provider::Openai(h) => {
                let headers = h
                    .key
                    .iter()
                    .map(|k| ("authorization", format!("Bearer {}", k.expose())))
                    .collect();
                let (status, v) = h.post(headers, &openai::body(spec, req)).await?;
                openai::read(v, status)
            }
            Provider::Anthropic(h) => {
                let mut headers: Vec<(&str, String)> =
                    vec![("anthropic-version", anthropic::API_VERSION.into())];
                if let Some(k) = &h.key {
                    headers.push(("x-api-key", k.expose().to_string()));
                }
                let (status, v) = h.post(headers, &anthropic::body(spec, req)).await?;
                anthropic::read(v, status, req.purpose.tool_name())
            }
            Provider::Command(c) => c.send(spec, req).await,
        }
    }
}
