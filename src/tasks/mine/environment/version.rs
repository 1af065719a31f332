//! Version numbers and the few range languages manifests state toolchains in (PEP 440
//! specifiers, npm ranges, plain `1.22`), read only far enough to tell whether the
//! toolchain an image installs is the one a repository asks for.

use std::cmp::Ordering;

/// A dotted version as numbers, `"1.22.3"` → `[1, 22, 3]`; a leading `v` or `go` is
/// skipped and reading stops at the first part that is not a number (`"3.12.0rc1"` →
/// `[3, 12]`). None when it does not start with a number.
pub fn parse(text: &str) -> Option<Vec<u64>> {
    let t = text.trim();
    let t = t.strip_prefix("go").unwrap_or(t);
    let t = t.strip_prefix('v').unwrap_or(t);
    let mut out = Vec::new();
    for part in t.split('.') {
        let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            break;
        }
        out.push(digits.parse().ok()?);
        if digits.len() != part.len() {
            break;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Compares two versions part by part, missing parts counting as 0.
pub fn cmp(a: &[u64], b: &[u64]) -> Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        match x.cmp(&y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    Ordering::Equal
}

/// `1.22` for `[1, 22]`.
pub fn show(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// Whether `version` meets a PEP 440 specifier set such as `>=3.9,<4` or `~=3.10`. None
/// when a part cannot be read, so that an unreadable specifier never yields a wrong note.
pub fn pep440_allows(spec: &str, version: &[u64]) -> Option<bool> {
    let mut all = true;
    for clause in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let op_len = clause
            .find(|c: char| c.is_ascii_digit() || c == ' ')
            .unwrap_or(clause.len());
        let (op, rest) = clause.split_at(op_len);
        let rest = rest.trim();
        let wildcard = rest.ends_with(".*");
        let want = parse(rest.trim_end_matches(".*"))?;
        let ok = match (op.trim(), wildcard) {
            ("==" | "===", true) => prefix_matches(version, &want),
            ("!=", true) => !prefix_matches(version, &want),
            ("==" | "===", false) => cmp(version, &want) == Ordering::Equal,
            ("!=", false) => cmp(version, &want) != Ordering::Equal,
            (">=", _) => cmp(version, &want) != Ordering::Less,
            (">", _) => cmp(version, &want) == Ordering::Greater,
            ("<=", _) => cmp(version, &want) != Ordering::Greater,
            ("<", _) => cmp(version, &want) == Ordering::Less,
            ("~=", _) if want.len() >= 2 => {
                cmp(version, &want) != Ordering::Less
                    && prefix_matches(version, &want[..want.len() - 1])
            }
            _ => return None,
        };
        all &= ok;
    }
    Some(all)
}

fn prefix_matches(version: &[u64], prefix: &[u64]) -> bool {
    prefix
        .iter()
        .enumerate()
        .all(|(i, p)| version.get(i).copied().unwrap_or(0) == *p)
}

/// Whether `version` meets an npm semver range such as `>=18`, `^20.11.0`, `18.x || 20.x`
/// or `>=16 <21`. None when a part cannot be read.
pub fn npm_allows(range: &str, version: &[u64]) -> Option<bool> {
    let mut any = false;
    for alternative in range.split("||") {
        any |= npm_alternative(alternative.trim(), version)?;
    }
    Some(any)
}

fn npm_alternative(alt: &str, version: &[u64]) -> Option<bool> {
    if alt.is_empty() || alt == "*" || alt == "x" {
        return Some(true);
    }
    if let Some((lo, hi)) = alt.split_once(" - ") {
        let (lo, hi) = (npm_partial(lo)?, npm_partial(hi)?);
        return Some(
            cmp(version, &lo.0) != Ordering::Less && cmp(version, &upper(&hi.0, hi.1)).is_lt(),
        );
    }
    // `>= 18` is one comparator written with a space.
    let mut words: Vec<String> = Vec::new();
    for w in alt.split_whitespace() {
        match words.last_mut() {
            Some(last) if last.chars().all(|c| "<>=~^".contains(c)) => last.push_str(w),
            _ => words.push(w.to_string()),
        }
    }
    let mut all = true;
    for w in &words {
        let op_len = w.find(|c: char| !"<>=~^v".contains(c)).unwrap_or(w.len());
        let (op, rest) = w.split_at(op_len);
        let op = op.trim_end_matches('v');
        let (want, given) = npm_partial(rest)?;
        let ok = match op {
            ">=" => cmp(version, &want) != Ordering::Less,
            ">" => cmp(version, &upper(&want, given)) != Ordering::Less,
            "<=" => cmp(version, &upper(&want, given)).is_lt(),
            "<" => cmp(version, &want).is_lt(),
            "^" => {
                // Up to the next change of the first non-zero part.
                let lead = want
                    .iter()
                    .position(|p| *p != 0)
                    .unwrap_or(0)
                    .min(given - 1);
                cmp(version, &want) != Ordering::Less
                    && cmp(version, &upper(&want, lead + 1)).is_lt()
            }
            "~" => {
                cmp(version, &want) != Ordering::Less
                    && cmp(version, &upper(&want, given.clamp(1, 2))).is_lt()
            }
            "" | "=" => {
                cmp(version, &want) != Ordering::Less && cmp(version, &upper(&want, given)).is_lt()
            }
            _ => return None,
        };
        all &= ok;
    }
    Some(all)
}

/// `20`, `20.x`, `20.11.1`: the version with missing parts as 0, and how many were given.
fn npm_partial(text: &str) -> Option<(Vec<u64>, usize)> {
    let t = text.trim().trim_start_matches('v');
    let mut out = Vec::new();
    for part in t.split('.').take(3) {
        if matches!(part, "x" | "X" | "*") {
            break;
        }
        // A pre-release tag ends the number: `18.0.0-beta`.
        let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            return None;
        }
        out.push(digits.parse().ok()?);
    }
    if out.is_empty() {
        return None;
    }
    let given = out.len();
    out.resize(3, 0);
    Some((out, given))
}

/// The first version past everything that starts with `v`'s first `given` parts.
fn upper(v: &[u64], given: usize) -> Vec<u64> {
    let given = given.clamp(1, v.len().max(1));
    let mut out: Vec<u64> = v.iter().take(given).copied().collect();
    if let Some(last) = out.last_mut() {
        *last += 1;
    }
    out
}

/// The lowest major version that a range allows (checked from 0 to 99), for notes such
/// as "asks for Node 20".
pub fn lowest_major(allows: impl Fn(&[u64]) -> Option<bool>) -> Option<u64> {
    (0..100).find(|m| {
        [[*m, 0, 0], [*m, 999, 999]]
            .iter()
            .any(|v| allows(v) == Some(true))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_to_numbers() {
        let cases = [
            ("1.22", Some(vec![1, 22])),
            ("go1.23.4", Some(vec![1, 23, 4])),
            ("v20.11.0", Some(vec![20, 11, 0])),
            ("3.12.0rc1", Some(vec![3, 12, 0])),
            ("3.12rc1", Some(vec![3, 12])),
            ("stable", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), want, "{text}");
        }
    }

    #[test]
    fn pep440_specifiers() {
        // (specifier, version, allowed)
        let cases = [
            (">=3.9", "3.11", Some(true)),
            (">=3.12", "3.11", Some(false)),
            (">=3.8,<3.11", "3.11", Some(false)),
            ("~=3.10", "3.11", Some(true)),
            ("~=3.10.2", "3.11", Some(false)),
            ("==3.11.*", "3.11.2", Some(true)),
            ("!=3.11.*", "3.11.2", Some(false)),
            (">= 3.7", "3.11", Some(true)),
            ("<4", "3.11", Some(true)),
            ("^3.9", "3.11", None),
        ];
        for (spec, v, want) in cases {
            assert_eq!(pep440_allows(spec, &parse(v).unwrap()), want, "{spec}");
        }
    }

    #[test]
    fn npm_ranges() {
        // (range, version, allowed)
        let cases = [
            (">=18", "18.20.4", Some(true)),
            (">=20", "18.20.4", Some(false)),
            (">= 18.12", "18.20.4", Some(true)),
            ("^18.0.0 || ^20.0.0", "18.20.4", Some(true)),
            ("^20.11.0", "18.20.4", Some(false)),
            ("^20.11.0", "20.12.0", Some(true)),
            ("18.x", "18.20.4", Some(true)),
            ("20.x || 22.x", "18.20.4", Some(false)),
            (">=16 <19", "18.20.4", Some(true)),
            (">=16 <18", "18.20.4", Some(false)),
            ("~18.19", "18.20.4", Some(false)),
            ("16 - 18", "18.20.4", Some(true)),
            ("*", "18.20.4", Some(true)),
            ("lts/*", "18.20.4", None),
        ];
        for (range, v, want) in cases {
            assert_eq!(npm_allows(range, &parse(v).unwrap()), want, "{range}");
        }
    }

    #[test]
    fn the_lowest_major_a_range_allows() {
        let cases = [
            (">=20", Some(20)),
            ("^18.12 || >=20", Some(18)),
            ("lts", None),
        ];
        for (range, want) in cases {
            assert_eq!(lowest_major(|v| npm_allows(range, v)), want, "{range}");
        }
    }
}
