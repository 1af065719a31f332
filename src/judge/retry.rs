//! When to try a provider request again: exponential backoff with jitter after 429s, 5xx
//! answers and timeouts, or exactly the delay the server asked for in `Retry-After`.

use rand::Rng;
use std::time::Duration;

/// The longest wait between two tries, whatever the server asks: a run that would sleep for
/// longer is better stopped and resumed (cached verdicts are kept).
pub const MAX_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first delay; each retry doubles it.
    pub base: Duration,
    pub max_retries: u32,
}

impl Backoff {
    /// The wait before retry number `retry` (0-based). Without a server hint: a random delay
    /// between half and all of `base * 2^retry`, so that concurrent requests spread out.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(MAX_WAIT);
        }
        let full = self
            .base
            .saturating_mul(1u32 << retry.min(16))
            .min(MAX_WAIT);
        let half = full / 2;
        half + full
            .saturating_sub(half)
            .mul_f64(rand::thread_rng().gen::<f64>())
    }
}

/// Reads `retry-after-ms` (OpenAI's) or `Retry-After` (seconds or an HTTP date).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    parse_retry_after(get("retry-after")?, chrono::Utc::now())
}

pub fn parse_retry_after(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_honours_the_server() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max_retries: 5,
        };
        for retry in 0..4 {
            let full = Duration::from_millis(100 << retry);
            for _ in 0..20 {
                let d = b.delay(retry, None);
                assert!(d >= full / 2 && d <= full, "{retry}: {d:?}");
            }
        }
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(b.delay(0, Some(Duration::from_secs(9999))), MAX_WAIT);
    }
}
