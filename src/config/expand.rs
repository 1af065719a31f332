//! `${NAME}` and `${NAME:-default}` in agent specs, filled from the host environment, so one
//! shipped spec can be pointed at a gateway or a local model server without editing it.
//!
//! Expanded values are stored with the spec (they are part of what the agent was), so a
//! secret must never be expanded: names declared as secrets, and names that look like
//! credentials, are refused.

/// Why a value could not be expanded; the caller adds file, line and fix.
#[derive(Debug, PartialEq, Eq)]
pub enum ExpandError {
    Unterminated,
    BadName(String),
    Unset(String),
    Secret(String),
}

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpandError::Unterminated => write!(f, "`${{` without a closing `}}`"),
            ExpandError::BadName(n) => write!(f, "`{n}` is not a variable name"),
            ExpandError::Unset(n) => write!(f, "${{{n}}} is not set and has no default"),
            ExpandError::Secret(n) => write!(
                f,
                "${{{n}}} looks like a secret, and expanded values are stored with the spec"
            ),
        }
    }
}

/// Names that are never expanded, whatever the spec declares: a word of the name (between
/// underscores) or its end says key, token, secret or password. `MAX_TOKENS` is not one.
fn looks_secret(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "KEY",
        "APIKEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "CREDENTIALS",
    ];
    let n = name.to_ascii_uppercase();
    n.split('_').any(|w| WORDS.contains(&w))
        || ["KEY", "TOKEN", "SECRET", "PASSWORD"]
            .iter()
            .any(|w| n.ends_with(w))
}

/// Expands `${NAME}` and `${NAME:-default}`; `$$` is a literal `$`. `lookup` reads the
/// environment (a parameter so tests do not touch the process's own).
pub fn expand(
    text: &str,
    secrets: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let end = body.find('}').ok_or(ExpandError::Unterminated)?;
        let inner = &body[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        if name.is_empty()
            || name.starts_with(|c: char| c.is_ascii_digit())
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ExpandError::BadName(name.to_string()));
        }
        if secrets.iter().any(|s| s == name) || looks_secret(name) {
            return Err(ExpandError::Secret(name.to_string()));
        }
        match lookup(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(&v),
            None => match default {
                Some(d) => out.push_str(d),
                None => return Err(ExpandError::Unset(name.to_string())),
            },
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<&str, ExpandError>) {
        let env = |k: &str| match k {
            "BASE_URL" => Some("http://gw:8080/v1".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let got = expand(text, &["MY_SECRET_VALUE".into()], &env);
        assert_eq!(got, expected.map(str::to_string), "{text}");
    }

    #[test]
    fn expands_from_the_environment_with_defaults() {
        check("plain", Ok("plain"));
        check("${BASE_URL}", Ok("http://gw:8080/v1"));
        check("x=${BASE_URL:-https://api}/y", Ok("x=http://gw:8080/v1/y"));
        check(
            "${UNSET_HERE:-https://api.openai.com/v1}",
            Ok("https://api.openai.com/v1"),
        );
        check("${EMPTY:-fallback}", Ok("fallback"));
        check("cost $5 and $$HOME", Ok("cost $5 and $HOME"));
        check(
            "${UNSET_HERE}",
            Err(ExpandError::Unset("UNSET_HERE".into())),
        );
        check("${BASE_URL", Err(ExpandError::Unterminated));
        check("${1X}", Err(ExpandError::BadName("1X".into())));
    }

    #[test]
    fn secrets_are_never_expanded() {
        check(
            "${OPENAI_API_KEY:-x}",
            Err(ExpandError::Secret("OPENAI_API_KEY".into())),
        );
        check("${GH_TOKEN}", Err(ExpandError::Secret("GH_TOKEN".into())));
        check(
            "${MY_SECRET_VALUE}",
            Err(ExpandError::Secret("MY_SECRET_VALUE".into())),
        );
        check(
            "${ANTHROPIC_AUTH_TOKEN}",
            Err(ExpandError::Secret("ANTHROPIC_AUTH_TOKEN".into())),
        );
        check("${MAX_TOKENS:-100}", Ok("100"));
        check("${KEYBOARD_LAYOUT:-us}", Ok("us"));
    }
}
