//! Human-written durations ("90s", "10m", "1h30m") and sizes ("512MiB", "4GiB").

use std::time::Duration;

/// The longest duration accepted: a year, far beyond any run, far within what a
/// `Duration` and the timers that use it can hold.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses a duration made of number+unit pairs: `s`, `m`, `h`, `ms`. Zero, and anything
/// over [`MAX_DURATION`], is refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(|| format!("`{t}` has a number without a unit (use s, m, h or ms)"))?;
        if digits == 0 {
            return Err(format!("`{t}` is not a duration like 90s, 10m or 1h30m"));
        }
        let value: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{t}` is not a duration like 90s, 10m or 1h30m"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            other => {
                return Err(format!(
                    "`{t}` has unknown unit `{other}` (use s, m, h or ms)"
                ))
            }
        };
        // Checked before converting: a huge value would not fit a Duration, and several
        // large terms would overflow their sum.
        if !secs.is_finite() || secs > MAX_DURATION.as_secs_f64() {
            return Err(format!("`{t}` is longer than a year; give a shorter time"));
        }
        total = total
            .checked_add(Duration::from_secs_f64(secs))
            .filter(|d| *d <= MAX_DURATION)
            .ok_or_else(|| format!("`{t}` is longer than a year; give a shorter time"))?;
        rest = &rest[unit_len..];
    }
    if total.is_zero() {
        return Err(format!(
            "`{t}` is no time at all; give a positive duration like 90s"
        ));
    }
    Ok(total)
}

/// Parses a byte size: `512MiB`, `4GiB`, `1G`, `100k`, or plain bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let value: f64 = t[..split]
        .parse()
        .map_err(|_| format!("`{t}` is not a size like 512MiB or 4GiB"))?;
    let mult: u64 = match t[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1000 * 1000,
        "mib" => 1 << 20,
        "g" | "gb" => 1000 * 1000 * 1000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "`{t}` has unknown unit `{other}` (use KiB, MiB, GiB, or k, M, G)"
            ))
        }
    };
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!(
            "`{t}` is larger than any size this machine can use"
        ));
    }
    Ok(bytes as u64)
}

pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let check = |input: &str, secs: f64| {
            assert_eq!(
                parse_duration(input).unwrap().as_secs_f64(),
                secs,
                "{input}"
            )
        };
        check("90s", 90.0);
        check("10m", 600.0);
        check("1h30m", 5400.0);
        check("250ms", 0.25);
        check("1.5m", 90.0);
        for bad in ["", "10", "m", "10x", "1h30", "0s", "0m0s"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
        // Bug pinned: these panicked ("cannot convert float seconds to Duration",
        // "overflow when adding durations").
        for huge in [
            "99999999999999999999h",
            "5000000000000000h5000000000000000h5000000000000000h5000000000000000h5000000000000000h",
            "1e400s",
        ] {
            assert!(parse_duration(huge).is_err(), "{huge} should be rejected");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("4 parsecs").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999999GiB").is_err());
    }
}
