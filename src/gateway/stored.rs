//! What is kept of an attempt's gateway and how it is shown: the trajectory of model calls
//! compressed for the store, the call log read back, and the calls described for
//! `results --calls`.

use super::log::CallRecord;
use crate::error::Error;
use crate::store::{MeasuredUsage, Usage};
use std::fmt::Write as _;
use std::io::{Read, Write};

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

/// Measured beside reported, then one line per call.
pub fn describe(m: &MeasuredUsage, reported: Option<&Usage>, calls: &[CallRecord]) -> String {
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
            "{:>4}  {:<19} {:<20} {:>6} {:>9} {:>9} {:>9.1}  {note}",
            c.seq,
            c.api,
            model,
            c.status,
            tokens(c.input_tokens),
            tokens(c.output_tokens),
            c.latency_ms
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trajectory_survives_the_round_trip_and_garbage_is_refused() {
        let lines = b"{\"seq\":1}\n{\"seq\":2}\n".repeat(1000);
        let packed = compress(&lines).unwrap();
        assert!(packed.len() < lines.len() / 10);
        assert_eq!(decompress(&packed).unwrap(), lines);
        assert!(decompress(b"not gzip at all").is_err());
    }
}
