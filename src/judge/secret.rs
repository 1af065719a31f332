//! API keys for providers: read from the environment variable a judge config names, kept
//! out of `Debug`, and redacted from every text that leaves a provider call (errors, replies),
//! so no key value can reach the store, a log or an error message.

use crate::error::Error;
use std::path::Path;

#[derive(Clone)]
pub struct Secret {
    pub name: String,
    value: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({}=<redacted>)", self.name)
    }
}

impl Secret {
    /// Reads `$name`; a missing or empty variable is the user's to fix, named in `file`.
    pub fn from_env(name: &str, file: &Path, line: Option<usize>) -> Result<Secret, Error> {
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(Secret {
                name: name.to_string(),
                value: v,
            }),
            _ => Err(Error::input(
                file,
                line,
                format!("the judge needs an API key in ${name}, which is not set"),
                format!(
                    "export {name}=... (the key is read from the environment and never stored)"
                ),
            )),
        }
    }

    pub fn expose(&self) -> &str {
        &self.value
    }
}

/// Replaces every secret's value in a text with `[redacted $NAME]`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<Secret>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = Secret>) -> Redactor {
        Redactor {
            secrets: secrets.into_iter().collect(),
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if !s.value.is_empty() && out.contains(&s.value) {
                out = out.replace(&s.value, &format!("[redacted ${}]", s.name));
            }
        }
        out
    }

    /// Redacts the strings inside a JSON value (a provider's reply may echo a key anywhere).
    pub fn redact_json(&self, v: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        if self.secrets.is_empty() {
            return v;
        }
        match v {
            Value::String(s) => Value::String(self.redact(&s)),
            Value::Array(a) => Value::Array(a.into_iter().map(|x| self.redact_json(x)).collect()),
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .map(|(k, x)| (self.redact(&k), self.redact_json(x)))
                    .collect(),
            ),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_redacted_and_never_debug_printed() {
        let s = Secret {
            name: "K".into(),
            value: "sk-123".into(),
        };
        assert!(!format!("{s:?}").contains("sk-123"));
        let r = Redactor::new([s]);
        assert_eq!(r.redact("bad key sk-123!"), "bad key [redacted $K]!");
        let j = r.redact_json(serde_json::json!({"a": ["x sk-123"], "sk-123": 1}));
        assert!(!j.to_string().contains("sk-123"), "{j}");
    }
}
