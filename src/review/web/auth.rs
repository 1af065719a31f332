//! Reviewer accounts and sessions: tokens shown once and stored only as hashes, session
//! cookies that scripts cannot read and other sites cannot send, and a CSRF token per session
//! that every form carries.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const SESSION_COOKIE: &str = "mb_session";
/// Before login there is no session: the login form's CSRF token is doubled in this cookie.
pub const LOGIN_COOKIE: &str = "mb_login";
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A fresh secret: 32 random bytes as hex, with a prefix saying what it is.
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `Set-Cookie` for a secret only this site's own requests carry; `secure` when the app is
/// reached over HTTPS (behind a proxy), so the browser never sends it in clear.
pub fn cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

pub fn cleared_cookie(name: &str, secure: bool) -> String {
    cookie(name, "", Duration::ZERO, secure)
}

/// A cookie's value from the request's `Cookie` headers.
pub fn read_cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

#[derive(Debug, Clone)]
pub struct Session {
    pub reviewer_id: i64,
    pub reviewer: String,
    pub csrf: String,
    expires: Instant,
}

/// Live sessions, by the hash of their cookie (a leaked memory dump holds no usable cookie).
/// They live in memory: restarting the server logs everyone out, which is fine for a tool
/// run during a labeling session.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session; returns the cookie value.
    pub fn start(&self, reviewer_id: i64, reviewer: &str) -> String {
        let id = new_secret("");
        let s = Session {
            reviewer_id,
            reviewer: reviewer.into(),
            csrf: new_secret(""),
            expires: Instant::now() + SESSION_TTL,
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires > Instant::now());
        map.insert(token_hash(&id), s);
        id
    }

    pub fn get(&self, cookie: &str) -> Option<Session> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&token_hash(cookie))
            .filter(|s| s.expires > Instant::now())
            .cloned()
    }

    pub fn end(&self, cookie: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&token_hash(cookie));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hash_and_compare() {
        let t = new_secret("mbr_");
        assert!(t.starts_with("mbr_") && t.len() == 68);
        assert_ne!(token_hash(&t), t);
        assert_eq!(token_hash(&t), token_hash(&format!(" {t}\n")));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
        let s = Sessions::default();
        let c = s.start(7, "ana");
        assert_eq!(s.get(&c).unwrap().reviewer_id, 7);
        assert!(s.get("nope").is_none());
        s.end(&c);
        assert!(s.get(&c).is_none());
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "a=1; mb_session=xyz".parse().unwrap(),
        );
        assert_eq!(read_cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert!(cookie("a", "b", SESSION_TTL, true).ends_with("; Secure"));
        assert!(!cleared_cookie("a", false).contains("Secure"));
        assert!(cleared_cookie("a", false).contains("Max-Age=0"));
    }
}
