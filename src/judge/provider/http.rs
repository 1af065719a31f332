//! One JSON POST to a provider over HTTPS (reqwest with rustls), its failure classified for
//! the retry policy and every text that comes back redacted of the API key.

use super::CallError;
use crate::error::Error;
use crate::judge::retry::retry_after;
use crate::judge::secret::{Redactor, Secret};
use serde_json::Value;
use std::time::Duration;

pub struct Http {
    client: reqwest::Client,
    url: String,
    pub key: Option<Secret>,
    redactor: Redactor,
    timeout: Duration,
}

/// The part of an error body worth showing: the provider's own message when it gives one.
fn error_excerpt(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

impl Http {
    pub fn new(
        url: String,
        key: Option<Secret>,
        timeout: Duration,
        redactor: Redactor,
    ) -> Result<Http, Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("mergebench/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::env(
                    format!("cannot set up the HTTP client: {e}"),
                    "check the system's TLS set-up",
                )
            })?;
        Ok(Http {
            client,
            url,
            key,
            redactor,
            timeout,
        })
    }

    /// POSTs `body`; returns the status and the parsed JSON reply of a 2xx answer.
    pub async fn post(
        &self,
        headers: Vec<(&str, String)>,
        body: &Value,
    ) -> Result<(i64, Value), CallError> {
        let r = &self.redactor;
        let mut req = self.client.post(&self.url).json(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let transport = |e: reqwest::Error| {
            let message = if e.is_timeout() {
                format!("no answer from {} within {:?}", self.url, self.timeout)
            } else {
                // reqwest's text names the URL and the cause, never the headers; redacted anyway.
                r.redact(&format!("request to {} failed: {e}", self.url))
            };
            CallError::Retryable {
                message,
                status: None,
                retry_after: None,
                unreachable: e.is_connect(),
            }
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16() as i64;
        let wait = retry_after(resp.headers());
        let text = resp.text().await.map_err(transport)?;
        let text = r.redact(&text);
        if (200..300).contains(&status) {
            return serde_json::from_str(&text)
                .map(|v| (status, r.redact_json(v)))
                .map_err(|e| CallError::Failed {
                    message: format!(
                        "the provider's answer is not JSON ({e}): {}",
                        error_excerpt(&text)
                    ),
                    status: Some(status),
                });
        }
        let excerpt = error_excerpt(&text);
        let message = format!("HTTP {status} from {}: {excerpt}", self.url);
        Err(match status {
            408 | 409 | 425 | 429 | 500..=599 => CallError::Retryable {
                message,
                status: Some(status),
                retry_after: wait,
                unreachable: false,
            },
            401 | 403 => CallError::Unusable {
                message: format!(
                    "{message} (the provider refused the key{})",
                    self.key
                        .as_ref()
                        .map(|k| format!(" in ${}", k.name))
                        .unwrap_or_default()
                ),
                status: Some(status),
            },
            404 => CallError::Unusable {
                message: format!("{message} (check the judge's base_url and model)"),
                status: Some(status),
            },
            _ => CallError::Failed {
                message,
                status: Some(status),
            },
        })
    }
}
