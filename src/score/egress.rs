//! What an agent's egress proxy recorded: its JSON-lines log read into per-destination
//! totals, and the count of refused connections that results show beside the outcome.
//!
//! Pure: the log's bytes in, a summary out. The proxy itself is `harness/proxy/proxy.py`,
//! started per attempt by `harness::egress`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One request line of the proxy's log.
#[derive(Debug, Clone, Default, Deserialize)]
struct Line {
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: u16,
    #[serde(default)]
    allowed: bool,
    #[serde(default)]
    bytes_up: u64,
    #[serde(default)]
    bytes_down: u64,
}

/// All requests to one host:port with one verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub host: String,
    pub port: u16,
    pub allowed: bool,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressSummary {
    pub allowed: u64,
    pub refused: u64,
    /// Allowed destinations first, then refused ones; each sorted by host and port.
    pub destinations: Vec<Destination>,
}

/// Reads the proxy's log. Lines that do not parse (a log cut at its cap) are skipped; the
/// summary line, when the proxy lived to write it, has the last word on the totals.
pub fn summarize(log: &[u8]) -> EgressSummary {
    let mut by: BTreeMap<(bool, String, u16), Destination> = BTreeMap::new();
    let mut totals: Option<(u64, u64)> = None;
    for raw in log.split(|b| *b == b'\n') {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(raw) else {
            continue;
        };
        // The last line, when the proxy lived to write it: totals that still count what
        // the capped log no longer holds.
        if v.get("summary") == Some(&serde_json::Value::Bool(true)) {
            let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
            totals = Some((n("allowed"), n("refused")));
            continue;
        }
        let Ok(line) = serde_json::from_value::<Line>(v) else {
            continue;
        };
        // Sorted with `!allowed` so that allowed destinations come first.
        let d = by
            .entry((!line.allowed, line.host.clone(), line.port))
            .or_insert_with(|| Destination {
                host: line.host.clone(),
                port: line.port,
                allowed: line.allowed,
                requests: 0,
                bytes_up: 0,
                bytes_down: 0,
            });
        d.requests += 1;
        d.bytes_up += line.bytes_up;
        d.bytes_down += line.bytes_down;
    }
    let destinations: Vec<Destination> = by.into_values().collect();
    let counted = |allowed: bool| {
        destinations
            .iter()
            .filter(|d| d.allowed == allowed)
            .map(|d| d.requests)
            .sum::<u64>()
    };
    let (allowed, refused) = match totals {
        // The summary can only be larger: it counts lines the cap dropped.
        Some((a, r)) => (a.max(counted(true)), r.max(counted(false))),
        None => (counted(true), counted(false)),
    };
    EgressSummary {
        allowed,
        refused,
        destinations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_summed_per_destination_and_verdict() {
        let log = br#"{"host":"api.openai.com","port":443,"allowed":true,"status":200,"bytes_up":100,"bytes_down":2000,"method":"CONNECT"}
{"host":"api.openai.com","port":443,"allowed":true,"status":200,"bytes_up":50,"bytes_down":10,"method":"CONNECT"}
{"host":"github.com","port":443,"allowed":false,"status":403,"bytes_up":0,"bytes_down":0,"method":"CONNECT"}
{"host":"api.openai.com","port":80,"allowed":false,"status":403,"bytes_up":0,"bytes_down":0,"method":"GET"}
{"host":"github.c
"#;
        let s = summarize(log);
        assert_eq!((s.allowed, s.refused), (2, 2));
        assert_eq!(s.destinations.len(), 3);
        assert_eq!(
            s.destinations[0],
            Destination {
                host: "api.openai.com".into(),
                port: 443,
                allowed: true,
                requests: 2,
                bytes_up: 150,
                bytes_down: 2010
            }
        );
        assert!(!s.destinations[1].allowed && s.destinations[1].port == 80);
        assert_eq!(s.destinations[2].host, "github.com");
    }

    #[test]
    fn the_summary_line_counts_what_the_capped_log_dropped() {
        let log = br#"{"host":"x","port":1,"allowed":false}
{"summary":true,"allowed":0,"refused":25000,"dropped_lines":24999}
"#;
        let s = summarize(log);
        assert_eq!((s.allowed, s.refused), (0, 25000));
        assert_eq!(s.destinations[0].requests, 1);
        assert_eq!(summarize(b""), EgressSummary::default());
    }
}
