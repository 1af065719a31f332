//! An agent spec's `[gateway]` table: the model provider the attempt's gateway forwards to,
//! the host variable holding the real key, where the agent is told the gateway's address and
//! its per-attempt token, the attempt's budgets and the price table.

use super::expand::expand;
use super::line_of_key;
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGateway {
    api: String,
    upstream: String,
    key: Option<String>,
    #[serde(default)]
    base_url_env: Vec<String>,
    #[serde(default)]
    token_env: Vec<String>,
    max_requests: Option<u64>,
    max_tokens: Option<u64>,
    max_cost: Option<f64>,
    #[serde(default)]
    prices: BTreeMap<String, Price>,
}

/// The wire format the provider speaks, which decides how the real key is sent upstream.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GatewayApi {
    /// OpenAI-compatible: chat completions and Responses, `Authorization: Bearer`.
    Openai,
    /// Anthropic Messages, `x-api-key`.
    Anthropic,
}

/// USD per million tokens for one model.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Cached input tokens; the input price when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
}

/// What the attempt's gateway is started with (docs/agents.md, "The model gateway").
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GatewaySpec {
    pub api: GatewayApi,
    /// The provider's base URL, e.g. `https://api.openai.com/v1`.
    pub upstream: String,
    /// The host variable holding the provider key: read at run time, given to the gateway
    /// only. None: the provider needs no key (a local server).
    pub key: Option<String>,
    /// Written `NAME?`: the run goes on without a key when the host has none.
    pub key_optional: bool,
    /// Variables set in the agent's container to the gateway's URL (the upstream's path kept).
    pub base_url_env: Vec<String>,
    /// Variables set in the agent's container to the attempt's token.
    pub token_env: Vec<String>,
    pub max_requests: Option<u64>,
    pub max_tokens: Option<u64>,
    pub max_cost: Option<f64>,
    /// Model name (or `*` for any other) → price.
    pub prices: BTreeMap<String, Price>,
    /// Set by `run --pin-model`: requests for any other model are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_model: Option<String>,
}

/// `http(s)://host[:port][/path]`, with a host.
fn http_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
        && !host.is_empty()
        && !host.starts_with(':')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']' | '_'))
}

fn valid_name(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks and expands the `[gateway]` table of the spec in `file`.
pub(super) fn parse(
    raw: RawGateway,
    file: &Path,
    text: &str,
    secrets: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<GatewaySpec, Error> {
    let at = |key: &str| line_of_key(text, Some("gateway"), key);
    let api = match raw.api.as_str() {
        "openai" => GatewayApi::Openai,
        "anthropic" => GatewayApi::Anthropic,
        other => {
            return Err(Error::input(
                file,
                at("api"),
                format!("gateway api `{other}` is not known"),
                "use api = \"openai\" (chat completions and Responses) or api = \"anthropic\" (Messages)",
            ))
        }
    };
    let upstream = expand(&raw.upstream, secrets, lookup).map_err(|e| {
        Error::input(
            file,
            at("upstream"),
            format!("cannot expand `{}`: {e}", raw.upstream),
            "set the variable or give a default (${NAME:-https://api.openai.com/v1})",
        )
    })?;
    let upstream = upstream.trim_end_matches('/').to_string();
    if !http_url(&upstream) {
        return Err(Error::input(
            file,
            at("upstream"),
            format!("gateway upstream `{upstream}` is not an http(s) URL"),
            "write the provider's base URL, e.g. \"https://api.openai.com/v1\"",
        ));
    }
    let (key, key_optional) = match raw.key {
        None => (None, false),
        Some(k) => match k.strip_suffix('?') {
            Some(name) => (Some(name.to_string()), true),
            None => (Some(k), false),
        },
    };
    if let Some(k) = &key {
        if !valid_name(k) {
            return Err(Error::input(
                file,
                at("key"),
                format!("gateway key `{k}` is not a variable name"),
                "name the host variable that holds the provider key, e.g. key = \"OPENAI_API_KEY\"",
            ));
        }
    }
    for (list, names) in [
        ("base_url_env", &raw.base_url_env),
        ("token_env", &raw.token_env),
    ] {
        for n in names {
            if !valid_name(n) {
                return Err(Error::input(
                    file,
                    at(list),
                    format!("`{n}` in {list} is not a variable name"),
                    "use letters, digits and '_' only",
                ));
            }
        }
    }
    if raw.base_url_env.is_empty() {
        return Err(Error::input(
            file,
            at("api"),
            "the gateway has no base_url_env: the agent would not know where it is",
            "name the variable the agent reads its endpoint from, e.g. base_url_env = [\"OPENAI_BASE_URL\"]",
        ));
    }
    if raw.max_requests == Some(0) || raw.max_tokens == Some(0) {
        let key = if raw.max_requests == Some(0) {
            "max_requests"
        } else {
            "max_tokens"
        };
        return Err(Error::input(
            file,
            at(key),
            format!("{key} = 0 would refuse every request"),
            "give a positive number, or leave it out for no limit",
        ));
    }
    if let Some(c) = raw.max_cost {
        if !(c.is_finite() && c > 0.0) {
            return Err(Error::input(
                file,
                at("max_cost"),
                format!("max_cost = {c} is not an amount above 0"),
                "give USD as a positive number, e.g. max_cost = 5.0",
            ));
        }
    }
    check_prices(&raw.prices, file, text, "gateway.prices")?;
    if raw.max_cost.is_some() && !raw.prices.contains_key("*") {
        return Err(Error::input(
            file,
            at("max_cost"),
            "max_cost is set but no default price (\"*\") prices models the table does not list",
            "add [gateway.prices.\"*\"] with input and output USD per million tokens, or drop max_cost",
        ));
    }
    Ok(GatewaySpec {
        api,
        upstream,
        key,
        key_optional,
        base_url_env: raw.base_url_env,
        token_env: raw.token_env,
        max_requests: raw.max_requests,
        max_tokens: raw.max_tokens,
        max_cost: raw.max_cost,
        prices: raw.prices,
        pin_model: None,
    })
}

/// Every price of a `[SECTION."model"]` table is a number of USD at or above 0.
pub(super) fn check_prices(
    prices: &BTreeMap<String, Price>,
    file: &Path,
    text: &str,
    section: &str,
) -> Result<(), Error> {
    for (model, p) in prices {
        let all = [Some(p.input), Some(p.output), p.cached_input];
        if all.iter().flatten().any(|v| !(v.is_finite() && *v >= 0.0)) {
            let quoted = format!("{section}.\"{model}\"");
            return Err(Error::input(
                file,
                line_of_key(text, Some(&quoted), "input")
                    .or_else(|| line_of_key(text, Some(section), model))
                    .or_else(|| line_of_key(text, None, section)),
                format!("the price of `{model}` is not a number of USD at or above 0"),
                "give USD per million tokens, e.g. { input = 2.0, output = 8.0 }",
            ));
        }
    }
    Ok(())
}

impl GatewaySpec {
    /// The agent's base URL for a gateway listening at `origin` (`http://ip:port`): the
    /// upstream's path kept, so `https://api.openai.com/v1` becomes `http://ip:port/v1`.
    pub fn agent_base_url(&self, origin: &str) -> String {
        let rest = self
            .upstream
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or("");
        let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
        format!("{origin}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(upstream: &str) -> GatewaySpec {
        GatewaySpec {
            api: GatewayApi::Openai,
            upstream: upstream.into(),
            key: None,
            key_optional: false,
            base_url_env: vec!["X".into()],
            token_env: vec![],
            max_requests: None,
            max_tokens: None,
            max_cost: None,
            prices: BTreeMap::new(),
            pin_model: None,
        }
    }

    #[test]
    fn the_agent_base_url_keeps_the_upstream_path() {
        let o = "http://10.0.0.2:8090";
        assert_eq!(
            spec("https://api.openai.com/v1").agent_base_url(o),
            "http://10.0.0.2:8090/v1"
        );
        assert_eq!(
            spec("https://api.anthropic.com").agent_base_url(o),
            "http://10.0.0.2:8090"
        );
        assert_eq!(
            spec("http://model:8000/openai/v1").agent_base_url(o),
            "http://10.0.0.2:8090/openai/v1"
        );
    }
}
