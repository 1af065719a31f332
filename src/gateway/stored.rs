//! What is kept of an attempt's gateway and how it is shown: the trajectory of model calls
//! compressed for the store, the call log read back, and the calls described for
//! `results --calls`.

use super::log::CallRecord;
use crate::error::Error;
use crate::store::{MeasuredUsage, Store, Usage};
use std::fmt::Write as _;
use std::io::{Read, Write};

/// The artifact holding an attempt's trajectory of model calls, gzip-compressed JSON lines.
pub const TRAJECTORY_ARTIFACT: &str = "gateway-trajectory.jsonl.gz";

/// An attempt's model calls as stored: one record per call (the `gateway` log) and each
/// exchange's bodies (the trajectory), in the order they were written.
pub struct Calls {
    pub records: Vec<CallRecord>,
    pub exchanges: Vec<serde_json::Value>,
}

/// The stored calls of attempt `id`; empty when it ran without a gateway.
pub fn load(store: &Store, id: i64) -> Result<Calls, Error> {
    let log = store.log(id, "gateway")?.unwrap_or_default();
    let trajectory = match store
        .artifacts(id)?
        .into_iter()
        .find(|(name, _)| name == TRAJECTORY_ARTIFACT)
    {
        Some((_, bytes)) => decompress(&bytes)?,
        None => Vec::new(),
    };
    Ok(Calls {
        records: records(&log),
        exchanges: trajectory
            .split(|b| *b == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect(),
    })
}

/// Text an agent controls, made safe to show: control characters escaped (they could drive
/// a terminal) and hidden ones marked (they could reorder what a reader sees).
pub fn shown(text: &str) -> String {
    crate::conventions::unicode::mark(&crate::conventions::render::plain(text))
}

/// A stored trajectory is never unpacked past this (the gateway caps what it writes at 16 MiB).
const DECOMPRESSED_CAP: u64 = 64 << 20;

/// gzip of the trajectory's JSON lines.
pub fn compress(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)
        .and_then(|_| enc.finish())
        .map_err(|e| Error::infra_from("compressing the gateway's trajectory", e))
}

/// The trajectory's JSON lines back from the store, at most `DECOMPRESSED_CAP` bytes.
pub fn decompress(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(DECOMPRESSED_CAP)
        .read_to_end(&mut out)
        .map_err(|e| {
            Error::env(
                format!("the stored trajectory cannot be read: {e}"),
                "the store may be damaged; the attempt's other results stand",
            )
        })?;
    Ok(out)
}

/// The call log's readable lines, in order; a cut or garbled line is skipped.
pub fn records(log: &[u8]) -> Vec<CallRecord> {
    log.split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect()
}

fn tokens(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}

/// Measured beside reported, and the budget that was spent if one was.
pub fn summary(m: &MeasuredUsage, reported: Option<&Usage>) -> String {
    let mut s = String::new();
    let cost = |c: Option<f64>| c.map(|c| format!("${c:.4}")).unwrap_or_else(|| "-".into());
    let _ = writeln!(
        s,
        "measured: {} requests, {} input tokens ({} cached), {} output tokens, cost {}{}",
        m.requests,
        m.input_tokens,
        m.cached_tokens,
        m.output_tokens,
        cost(m.cost_usd),
        if m.refused > 0 {
            format!(", {} refused", m.refused)
        } else {
            String::new()
        }
    );
    match reported {
        Some(u) => {
            let _ = writeln!(
                s,
                "reported: {} input tokens, {} output tokens, cost {}",
                tokens(u.input_tokens),
                tokens(u.output_tokens),
                cost(u.cost_usd)
            );
        }
        None => {
            let _ = writeln!(s, "reported: nothing (no usage.json)");
        }
    }
    if let Some(b) = &m.budget_exhausted {
        let _ = writeln!(s, "budget spent: {b}");
    }
    s
}

/// [`summary`], then one line per call.
pub fn describe(m: &MeasuredUsage, reported: Option<&Usage>, calls: &[CallRecord]) -> String {
    let mut s = summary(m, reported);
    let _ = writeln!(
        s,
        "{:>4}  {:<19} {:<20} {:>6} {:>9} {:>9} {:>9}  note",
        "call", "api", "model", "status", "input", "output", "ms"
    );
    for c in calls {
        let note = match (&c.refused, &c.error) {
            (Some(r), _) => format!("refused: {r}"),
            (None, Some(e)) => e.chars().take(60).collect(),
            _ if c.stream => "stream".into(),
            _ => String::new(),
        };
        let model: String = c.model.as_deref().unwrap_or("-").chars().take(20).collect();
        let _ = writeln!(
            s,
            "{:>4}  {:<19} {:<20} {:>6} {:>9} {:>9} {:>9.1}  {}",
            c.seq,
            shown(&c.api),
            shown(&model),
            c.status,
            tokens(c.input_tokens),
            tokens(c.output_tokens),
            c.latency_ms,
            shown(&note)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_agent_controls_cannot_drive_the_terminal_or_hide() {
        let call: CallRecord = serde_json::from_value(serde_json::json!({
            "seq": 1, "at": "t", "path": "/v1/chat/completions", "api": "openai-chat",
            "model": "gpt\u{1b}[2J\u{202e}x", "stream": false, "status": 200, "latency_ms": 1.0,
            "first_byte_ms": null, "input_tokens": 1, "output_tokens": 1, "cached_tokens": null,
            "cost_usd": null, "refused": null, "error": null
        }))
        .unwrap();
        let text = describe(&MeasuredUsage::default(), None, &[call]);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}'),
            "{text}"
        );
        assert!(text.contains("⟪U+202E⟫"), "{text}");
    }

    #[test]
    fn a_trajectory_survives_the_round_trip_and_garbage_is_refused() {
        let lines = b"{\"seq\":1}\n{\"seq\":2}\n".repeat(1000);
        let packed = compress(&lines).unwrap();
        assert!(packed.len() < lines.len() / 10);
        assert_eq!(decompress(&packed).unwrap(), lines);
        assert!(decompress(b"not gzip at all").is_err());
    }
}
