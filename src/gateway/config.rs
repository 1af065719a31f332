//! The gateway's configuration: the JSON file the harness writes into an attempt's gateway
//! container (`/mergebench/gateway.json`), read and checked before anything listens.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Which provider's conventions the gateway speaks upstream (how the real key is sent, and
/// the error shape refusals use when the path does not say), and USD per million tokens: the
/// agent spec's own types.
pub use crate::config::gateway::{GatewayApi as Api, Price};

/// An attempt's limits; a limit left out is no limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[serde(default)]
    pub requests: Option<u64>,
    /// Input plus output tokens, as the provider reported them.
    #[serde(default)]
    pub tokens: Option<u64>,
    #[serde(default)]
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The address to listen on, e.g. `0.0.0.0:8090`.
    pub listen: String,
    /// The provider's base URL, e.g. `https://api.openai.com/v1` or `http://model:8000`.
    /// Requests go to its scheme://host:port followed by the incoming path and query.
    pub upstream: String,
    pub api: Api,
    /// The per-attempt token the agent presents (`Authorization: Bearer T` or `x-api-key: T`).
    pub token: String,
    /// The name of the gateway's own environment variable holding the real key; none sends
    /// no key (local servers).
    #[serde(default)]
    pub key_env: Option<String>,
    #[serde(default)]
    pub budget: Budget,
    /// Model name → price; `*` is the default. A model with no price has no cost.
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
    /// When set, a request for any other model is refused.
    #[serde(default)]
    pub pin_model: Option<String>,
    /// One JSON line per request (`log::CallRecord`), written and flushed as it ends.
    pub log: PathBuf,
    /// One JSON line per request with its bodies, redacted, capped at 16 MiB in all.
    pub trajectory: PathBuf,
}

impl GatewayConfig {
    /// Reads and checks the file.
    pub fn load(path: &Path) -> Result<GatewayConfig, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input(
                path,
                None,
                format!("cannot read the gateway configuration: {e}"),
                "pass the JSON file the harness wrote with --config",
            )
        })?;
        GatewayConfig::parse(&text, path)
    }

    /// Parses and checks the JSON text of `path`.
    pub fn parse(text: &str, path: &Path) -> Result<GatewayConfig, Error> {
        let cfg: GatewayConfig = serde_json::from_str(text).map_err(|e| {
            Error::input(
                path,
                Some(e.line()),
                format!("not a gateway configuration: {e}"),
                "write a JSON object with listen, upstream, api, token, log and trajectory \
                 (and optionally key_env, budget, prices, pin_model)",
            )
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Every field checked, each error naming the field and the fix.
    pub fn validate(&self, path: &Path) -> Result<(), Error> {
        let bad = |message: String, fix: &str| Err(Error::input(path, None, message, fix));
        if self.listen.parse::<SocketAddr>().is_err() {
            return bad(
                format!("listen `{}` is not an address and port", self.listen),
                "write an IP address and port, e.g. \"0.0.0.0:8090\"",
            );
        }
        if let Err(e) = self.upstream_origin() {
            return bad(
                format!("upstream `{}`: {e}", self.upstream),
                "write the provider's base URL, e.g. \"https://api.openai.com/v1\"",
            );
        }
        if self.token.trim().is_empty() || self.token.chars().any(char::is_whitespace) {
            return bad(
                "token is empty or contains whitespace".into(),
                "write the per-attempt token the agent is given",
            );
        }
        if let Some(name) = &self.key_env {
            let ok = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return bad(
                    format!("key_env `{name}` is not an environment variable's name"),
                    "write the variable's name (letters, digits and _), not its value",
                );
            }
        }
        if self.budget.requests == Some(0) || self.budget.tokens == Some(0) {
            return bad(
                "a budget of 0 requests or tokens refuses every request".into(),
                "leave the limit out for no limit, or give a number above 0",
            );
        }
        if let Some(c) = self.budget.cost_usd {
            if !(c.is_finite() && c > 0.0) {
                return bad(
                    format!("budget.cost_usd {c} is not an amount above 0"),
                    "leave it out for no limit, or give USD above 0 (e.g. 2.5)",
                );
            }
        }
        for (model, p) in &self.prices {
            let prices = [Some(p.input), Some(p.output), p.cached_input];
            if prices
                .iter()
                .flatten()
                .any(|v| !(v.is_finite() && *v >= 0.0))
            {
                return bad(
                    format!("prices.{model}: a price is negative or not a number"),
                    "give USD per million tokens, 0 or more",
                );
            }
            if model.is_empty() {
                return bad(
                    "prices has an empty model name".into(),
                    "name the model, or use \"*\" for the default price",
                );
            }
        }
        if self.budget.cost_usd.is_some() && self.price(self.pin_model.as_deref()).is_none() {
            let which = match &self.pin_model {
                Some(m) => format!("the pinned model `{m}` has no price"),
                None => "there is no default price (\"*\") for models without one".to_string(),
            };
            return bad(
                format!("budget.cost_usd is set but {which}, so their calls would cost nothing"),
                "add prices for the model, or a default price under \"*\"",
            );
        }
        if let Some(m) = &self.pin_model {
            if m.trim().is_empty() {
                return bad(
                    "pin_model is empty".into(),
                    "name the one model the agent may use, or leave it out",
                );
            }
        }
        if self.log.as_os_str().is_empty() || self.trajectory.as_os_str().is_empty() {
            return bad(
                "log and trajectory need file paths".into(),
                "give a path for each, e.g. /mergebench/out/gateway.jsonl",
            );
        }
        if self.log == self.trajectory {
            return bad(
                "log and trajectory are the same file".into(),
                "give each its own path",
            );
        }
        Ok(())
    }

    /// The upstream's `scheme://host:port`, where every request goes (with its own path).
    pub fn upstream_origin(&self) -> Result<String, String> {
        let url = reqwest::Url::parse(&self.upstream).map_err(|e| e.to_string())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("scheme `{}` is not http or https", url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in the URL would be sent in the clear to logs".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("a query or fragment has no place in a base URL".into());
        }
        let host = url.host_str().ok_or("no host")?;
        let port = url.port_or_known_default().ok_or("no port")?;
        Ok(format!("{}://{host}:{port}", url.scheme()))
    }

    /// The base URL the agent is given: the gateway at `host` (its name on the attempt's
    /// network) on the port it listens on, with the upstream's path, e.g.
    /// `http://gateway:8090/v1`.
    pub fn agent_base_url(&self, host: &str) -> Result<String, String> {
        let port = self
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| format!("listen `{}`: {e}", self.listen))?
            .port();
        let url = reqwest::Url::parse(&self.upstream).map_err(|e| e.to_string())?;
        Ok(format!(
            "http://{host}:{port}{}",
            url.path().trim_end_matches('/')
        ))
    }

    /// The price for a model: its own, else the default `*`.
    pub fn price(&self, model: Option<&str>) -> Option<&Price> {
        model
            .and_then(|m| self.prices.get(m))
            .or_else(|| self.prices.get("*"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Result<GatewayConfig, Error> {
        let text = format!(
            r#"{{"listen":"127.0.0.1:0","upstream":"https://api.openai.com/v1","api":"openai",
            "token":"tok","log":"/tmp/l.jsonl","trajectory":"/tmp/t.jsonl"{extra}}}"#
        );
        GatewayConfig::parse(&text, Path::new("gateway.json"))
    }

    #[test]
    fn minimal_and_full() {
        let c = cfg("").unwrap();
        assert_eq!(c.api, Api::Openai);
        assert_eq!(c.budget, Budget::default());
        assert_eq!(c.upstream_origin().unwrap(), "https://api.openai.com:443");
        assert_eq!(c.agent_base_url("gateway").unwrap(), "http://gateway:0/v1");
        let c = cfg(
            r#","key_env":"OPENAI_API_KEY","budget":{"requests":5,"cost_usd":1.5},
            "prices":{"*":{"input":1,"output":2},"m":{"input":3,"output":4,"cached_input":0.3}},
            "pin_model":"m""#,
        )
        .unwrap();
        assert_eq!(c.price(Some("m")).unwrap().input, 3.0);
        assert_eq!(c.price(Some("other")).unwrap().input, 1.0);
        assert_eq!(c.price(None).unwrap().input, 1.0);
    }

    #[test]
    fn refusals_name_the_field() {
        for (extra, needle) in [
            (r#","key_env":"sk-abc""#, "key_env"),
            (r#","budget":{"requests":0}"#, "budget of 0"),
            (r#","budget":{"cost_usd":-1}"#, "cost_usd"),
            (r#","budget":{"cost_usd":1}"#, "no default price"),
            (
                r#","budget":{"cost_usd":1},"prices":{"a":{"input":1,"output":1}},"pin_model":"b""#,
                "pinned model `b` has no price",
            ),
            (r#","prices":{"m":{"input":-1,"output":1}}"#, "prices.m"),
            (r#","pin_model":" ""#, "pin_model"),
            (r#","surprise":1"#, "unknown field"),
        ] {
            let e = cfg(extra).unwrap_err().to_string();
            assert!(e.contains(needle), "{extra}: {e}");
        }
        let e = GatewayConfig::parse(
            r#"{"listen":"nowhere","upstream":"ftp://x","api":"openai","token":"t","log":"a","trajectory":"b"}"#,
            Path::new("g.json"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("listen"), "{e}");
    }
}
