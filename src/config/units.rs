//! Human-written durations ("90s", "10m", "1h30m") and sizes ("512MiB", "4GiB").

use std::time::Duration;

/// Parses a duration made of number+unit pairs: `s`, `m`, `h`, `ms`.
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
        total += Duration::from_secs_f64(secs);
        rest = &rest[unit_len..];
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
    Ok((value * mult as f64) as u64)
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
        for bad in ["", "10", "m", "10x", "1h30"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
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
    }
}
