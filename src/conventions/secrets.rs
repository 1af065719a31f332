//! Finds credentials in added lines: known key formats (AWS, GitHub, Slack,
//! Google, Stripe, private keys), literal values assigned to password/token/
//! key names, and long random-looking tokens by their Shannon entropy.
//!
//! A secret split to dodge a scanner (`"AKIA" + "IOSFODNN7EXAMPLE"`, or a
//! line ending in `"AKIAIOSF" +` continued on the next) is found by scanning
//! the text again with quotes, `+`, `.`, backslashes and whitespace removed,
//! within one line and across two consecutive added lines.
//!
//! A finding never carries the secret: only its first four characters.

use regex::bytes::{Regex, RegexSet};

use super::catalog;

/// One suspected secret on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHit {
    pub rule_id: &'static str,
    pub what: &'static str,
    /// The first four characters, then its length.
    pub redacted: String,
    /// Only its entropy makes it suspicious (reported at the lower severity).
    pub entropy_only: bool,
    /// Found only after joining string pieces.
    pub split: bool,
}

struct Known {
    rule_id: &'static str,
    what: &'static str,
    raw: &'static str,
    /// The same format without word boundaries, for text whose separators
    /// were stripped; `None` where splitting makes no sense.
    joined: Option<&'static str>,
}

impl Known {
    /// A hit of this pattern on `secret`; `split` when found only after joining pieces.
    fn hit(&self, secret: &[u8], split: bool) -> SecretHit {
        SecretHit {
            rule_id: self.rule_id,
            what: self.what,
            redacted: redact(secret),
            entropy_only: false,
            split,
        }
    }
}

const KNOWN: &[Known] = &[
    Known {
        rule_id: catalog::AWS_KEY,
        what: "AWS access key id",
        raw: r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b)",
        joined: Some(r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"),
    },
    Known {
        rule_id: catalog::GITHUB_TOKEN,
        what: "GitHub token",
        raw: r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,255})(?-u:\b)",
        joined: Some(r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,255}"),
    },
    Known {
        rule_id: catalog::SLACK_TOKEN,
        what: "Slack token",
        raw: r"(?-u:\b)xox[abeoprs]-[A-Za-z0-9-]{10,}",
        joined: Some(r"xox[abeoprs]-[A-Za-z0-9-]{10,}"),
    },
    Known {
        rule_id: catalog::GOOGLE_KEY,
        what: "Google API key",
        raw: r"(?-u:\b)AIza[0-9A-Za-z_-]{35}",
        joined: Some(r"AIza[0-9A-Za-z_-]{35}"),
    },
    Known {
        rule_id: catalog::STRIPE_KEY,
        what: "Stripe secret key",
        raw: r"(?-u:\b)[sr]k_live_[0-9A-Za-z]{24,}",
        joined: Some(r"[sr]k_live_[0-9A-Za-z]{24,}"),
    },
    Known {
        rule_id: catalog::PRIVATE_KEY,
        what: "private key",
        raw: r"-----BEGIN (?:(?:RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?-----",
        joined: None,
    },
];

/// `db_password = "..."`, `API_KEY: ...`, `"client_secret": "..."`: the name
/// must end in the keyword, so `secret_name` or `token_url` do not count.
const ASSIGNMENT: &str = r#"(?i)(?:^|[^A-Za-z0-9_])([A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|secret[_-]?key|api[_-]?key|apikey|access[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|private[_-]?key|token))["']?\s*(?::=|=>|=|:)\s*(?:"([^"\s]{8,})"|'([^'\s]{8,})'|([A-Za-z0-9+/=_\-~!@#$%^&*]{8,})(?:\s|;|,|$))"#;

/// Two string literals meeting on one line (`"a" + "b"`, `"a" "b"`,
/// `'a' . 'b'`): only such lines get the joined-pieces scan.
const LITERAL_SEAM: &str = r#"["'`]\s*[+.]?\s*["'`]"#;

/// Candidate tokens for the entropy check.
const TOKEN: &str = r"(?-u)[A-Za-z0-9+/_\-]{20,}={0,2}";

/// Values that are obviously not real credentials.
const PLACEHOLDER_WORDS: &[&str] = &[
    "your",
    "here",
    "placeholder",
    "dummy",
    "changeme",
    "redacted",
    "xxxx",
    "****",
    "example",
    "sample",
    "secret",
    "password",
    "insert",
    "replace",
    "todo",
];

/// Words that mark a long hex string as a digest rather than a key.
const DIGEST_WORDS: &[&str] = &[
    "sha",
    "hash",
    "digest",
    "checksum",
    "integrity",
    "commit",
    "rev",
    "uuid",
    "md5",
    "etag",
    "fingerprint",
];

/// Compiled scanner; build once per run.
pub struct SecretScanner {
    /// Every pattern below in one automaton: a single pass over a line says
    /// which of them can match, so an ordinary line costs one search.
    any: RegexSet,
    known: Vec<(usize, Regex)>,
    joined: Vec<(usize, Regex)>,
    assignment: Regex,
    token: Regex,
    allow: Vec<Regex>,
    min_entropy: f64,
    min_len: usize,
}

/// Characters removed before looking for split secrets.
fn is_glue(b: u8) -> bool {
    matches!(
        b,
        b'"' | b'\'' | b'`' | b'+' | b'.' | b'\\' | b' ' | b'\t' | b'\r' | b'\n'
    )
}

/// Matches looked at per pattern and line: a line made of nothing but keys
/// must not cost memory in proportion to its length (the report keeps only a
/// capped number of findings anyway).
const MAX_PER_LINE: usize = 16;

/// How much of each line's edge the two-line scan joins; enough for the
/// longest known format.
const EDGE: usize = 96;

impl SecretScanner {
    /// `allow` are regular expressions for values never to report.
    pub fn new(
        allow: &[String],
        min_entropy: f64,
        min_len: usize,
    ) -> Result<SecretScanner, (String, String)> {
        // cannot fail, each `expect` below: the patterns are constants, compiled by every
        // test of this module.
        let any =
            RegexSet::new(
                KNOWN
                    .iter()
                    .map(|k| k.raw)
                    .chain([LITERAL_SEAM, ASSIGNMENT, TOKEN]),
            )
            // cannot fail: constant patterns.
            .expect("built-in patterns");
        let known = KNOWN
            .iter()
            .enumerate()
            // cannot fail: constant patterns.
            .map(|(i, k)| (i, Regex::new(k.raw).expect("built-in pattern")))
            .collect();
        let joined = KNOWN
            .iter()
            .enumerate()
            .filter_map(|(i, k)| {
                k.joined
                    // cannot fail: constant patterns.
                    .map(|j| (i, Regex::new(j).expect("built-in pattern")))
            })
            .collect();
        let mut allowed = Vec::new();
        for a in allow {
            allowed.push(Regex::new(a).map_err(|e| (a.clone(), e.to_string()))?);
        }
        Ok(SecretScanner {
            any,
            known,
            joined,
            // cannot fail, here and on the next line: constant patterns.
            assignment: Regex::new(ASSIGNMENT).expect("built-in pattern"),
            token: Regex::new(TOKEN).expect("built-in pattern"),
            allow: allowed,
            min_entropy,
            min_len: min_len.max(16),
        })
    }

    fn allowed(&self, value: &[u8]) -> bool {
        self.allow.iter().any(|a| a.is_match(value))
    }

    /// Scans one added line. `entropy` enables the entropy check (off for
    /// lockfiles and similar). `buf` is scratch space reused across calls.
    pub fn scan_line(
        &self,
        line: &[u8],
        entropy: bool,
        buf: &mut Vec<u8>,
        out: &mut Vec<SecretHit>,
    ) {
        let first = out.len();
        let hits = self.any.matches(line);
        if !hits.matched_any() {
            return;
        }
        let n = KNOWN.len();
        let mut covered: Vec<(usize, usize)> = Vec::new();
        if (0..n).any(|i| hits.matched(i)) {
            for (i, re) in &self.known {
                if !hits.matched(*i) {
                    continue;
                }
                for m in re.find_iter(line).take(MAX_PER_LINE) {
                    covered.push((m.start(), m.end()));
                    if self.allowed(m.as_bytes()) {
                        continue;
                    }
                    out.push(KNOWN[*i].hit(m.as_bytes(), false));
                }
            }
        }

        // Pieces of one literal joined on the same line.
        if hits.matched(n) {
            strip_into(line, buf);
            for (i, re) in &self.joined {
                let k = &KNOWN[*i];
                if out[first..].iter().any(|h| h.rule_id == k.rule_id) {
                    continue;
                }
                if let Some(m) = re.find(buf) {
                    if !self.allowed(m.as_bytes()) {
                        out.push(k.hit(m.as_bytes(), true));
                    }
                }
            }
        }

        let assignments = if hits.matched(n + 1) {
            Some(self.assignment.captures_iter(line))
        } else {
            None
        };
        for c in assignments.into_iter().flatten().take(MAX_PER_LINE) {
            let Some(v) = c.get(2).or(c.get(3)).or(c.get(4)) else {
                continue;
            };
            let span = (v.start(), v.end());
            if overlaps(&covered, span) {
                continue;
            }
            covered.push(span);
            let value = v.as_bytes();
            let unquoted = c.get(4).is_some();
            if !looks_like_credential(value, unquoted) || self.allowed(value) {
                continue;
            }
            out.push(SecretHit {
                rule_id: catalog::ASSIGNMENT,
                what: "credential assigned a literal value",
                redacted: redact(value),
                entropy_only: false,
                split: false,
            });
        }

        if !entropy || !hits.matched(n + 2) {
            return;
        }
        let mut digest_context: Option<bool> = None;
        let mut reported = 0;
        for m in self.token.find_iter(line) {
            if reported >= MAX_PER_LINE {
                break;
            }
            let tok = m.as_bytes();
            if tok.len() < self.min_len || overlaps(&covered, (m.start(), m.end())) {
                continue;
            }
            if preceded_by(line, m.start(), b"base64,")
                || well_known_non_secret(line, m.start(), tok)
            {
                continue;
            }
            let hex = tok.iter().all(u8::is_ascii_hexdigit);
            let suspicious = if hex {
                let in_digest = *digest_context.get_or_insert_with(|| has_digest_word(line));
                !in_digest && entropy_bits(tok) >= 3.0
            } else {
                mixed_classes(tok) && entropy_bits(tok) >= self.min_entropy
            };
            if suspicious && !self.allowed(tok) {
                reported += 1;
                out.push(SecretHit {
                    rule_id: catalog::HIGH_ENTROPY,
                    what: if hex {
                        "long hex string"
                    } else {
                        "high-entropy string"
                    },
                    redacted: redact(tok),
                    entropy_only: true,
                    split: false,
                });
            }
        }
    }

    /// Scans the seam between two consecutive added lines for a known format
    /// that only exists when they are joined.
    pub fn scan_seam(&self, prev: &[u8], cur: &[u8], buf: &mut Vec<u8>, out: &mut Vec<SecretHit>) {
        // Every known format is made of letters, digits, `_` and `-`; unless
        // such characters meet at the seam, nothing can span it.
        let token = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-';
        let last = prev.iter().rev().find(|b| !is_glue(**b));
        let first = cur.iter().find(|b| !is_glue(**b));
        if !(last.is_some_and(token) && first.is_some_and(token)) {
            return;
        }
        buf.clear();
        let tail_start = prev.len().saturating_sub(EDGE);
        for &b in &prev[tail_start..] {
            if !is_glue(b) {
                buf.push(b);
            }
        }
        let seam = buf.len();
        if seam == 0 {
            return;
        }
        let head_end = cur.len().min(EDGE);
        for &b in &cur[..head_end] {
            if !is_glue(b) {
                buf.push(b);
            }
        }
        if buf.len() == seam {
            return;
        }
        for (i, re) in &self.joined {
            for m in re.find_iter(buf) {
                if m.start() < seam && m.end() > seam && !self.allowed(m.as_bytes()) {
                    out.push(KNOWN[*i].hit(m.as_bytes(), true));
                }
            }
        }
    }
}

fn strip_into(line: &[u8], buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend(line.iter().copied().filter(|&b| !is_glue(b)));
}

fn overlaps(spans: &[(usize, usize)], (s, e): (usize, usize)) -> bool {
    spans.iter().any(|&(a, b)| s < b && a < e)
}

fn preceded_by(line: &[u8], start: usize, what: &[u8]) -> bool {
    start >= what.len() && line[start - what.len()..start].eq_ignore_ascii_case(what)
}

/// Hashes that look random and are public by design: a commit or image digest pinned with
/// `@` (GitHub Actions `uses: owner/repo@<40 hex>`, `go get m@<sha>`, `image@<digest>`), a
/// Go module hash (`h1:…`, as in go.sum), a Subresource Integrity or Nix hash
/// (`sha512-…`, as in package-lock.json and `<script integrity>`).
fn well_known_non_secret(line: &[u8], start: usize, tok: &[u8]) -> bool {
    let hex = |t: &[u8]| t.iter().all(u8::is_ascii_hexdigit);
    let pinned = preceded_by(line, start, b"@")
        && matches!(tok.len(), 40 | 64)
        && hex(tok)
        && tok.iter().all(|b| !b.is_ascii_uppercase());
    let go_module_hash = preceded_by(line, start, b"h1:") && tok.ends_with(b"=");
    let integrity = [&b"sha1-"[..], b"sha256-", b"sha384-", b"sha512-"]
        .iter()
        .any(|p| tok.len() > p.len() + 20 && tok.starts_with(p));
    pinned || go_module_hash || integrity
}

fn has_digest_word(line: &[u8]) -> bool {
    let lower = line.to_ascii_lowercase();
    DIGEST_WORDS
        .iter()
        .any(|w| lower.windows(w.len()).any(|win| win == w.as_bytes()))
}

/// Upper, lower and digit all present: random keys have them, identifiers
/// and prose mostly do not.
fn mixed_classes(tok: &[u8]) -> bool {
    tok.iter().any(u8::is_ascii_uppercase)
        && tok.iter().any(u8::is_ascii_lowercase)
        && tok.iter().any(u8::is_ascii_digit)
}

fn looks_like_credential(value: &[u8], unquoted: bool) -> bool {
    if value.len() < 8 {
        return false;
    }
    let first = value[0];
    if matches!(first, b'$' | b'<' | b'{' | b'%') || value.starts_with(b"{{") {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    if lower.windows(3).any(|w| w == b"://") {
        return false;
    }
    if PLACEHOLDER_WORDS
        .iter()
        .any(|p| lower.windows(p.len()).any(|w| w == p.as_bytes()))
    {
        return false;
    }
    if unquoted {
        // `password = config.password`, `token = get_token`: code, not values.
        let identifier = value
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if identifier && (value.contains(&b'.') || !value.iter().any(u8::is_ascii_digit)) {
            return false;
        }
    }
    entropy_bits(value) >= 3.0
}

/// Shannon entropy in bits per byte, over at most the first 256 bytes.
pub fn entropy_bits(data: &[u8]) -> f64 {
    let data = &data[..data.len().min(256)];
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Keeps the first four characters; the rest is replaced by its length.
pub fn redact(secret: &[u8]) -> String {
    let shown: String = String::from_utf8_lossy(secret).chars().take(4).collect();
    format!("{shown}… ({} chars, redacted)", secret.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(line: &str) -> Vec<&'static str> {
        let s = SecretScanner::new(&[], 4.2, 32).unwrap();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        s.scan_line(line.as_bytes(), true, &mut buf, &mut out);
        out.iter().map(|h| h.rule_id).collect()
    }

    #[test]
    fn line_table() {
        let table = include_str!("testdata/secret_lines.txt");
        for (line, want) in crate::test_support::table_cases(table) {
            let want: Vec<&str> = match want {
                "none" => Vec::new(),
                rules => rules.split(", ").collect(),
            };
            assert_eq!(scan(line), want, "{line}");
        }
    }

    #[test]
    fn secret_split_across_two_lines() {
        let s = SecretScanner::new(&[], 4.2, 32).unwrap();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        s.scan_seam(
            b"    key = \"AKIAIOSF\" +",
            b"          \"ODNN7EXAMPLE\"",
            &mut buf,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule_id, catalog::AWS_KEY);
        assert!(out[0].split);
        // Two complete, unrelated lines produce nothing at the seam.
        out.clear();
        s.scan_seam(
            b"x = \"AKIAIOSFODNN7EXAMPLE\"",
            b"y = 1",
            &mut buf,
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn allow_list_and_redaction() {
        let s = SecretScanner::new(&["EXAMPLE$".to_string()], 4.2, 32).unwrap();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        s.scan_line(b"k = AKIAIOSFODNN7EXAMPLE", true, &mut buf, &mut out);
        assert!(out.is_empty());
        assert_eq!(
            redact(b"AKIAIOSFODNN7EXAMPLE"),
            "AKIA… (20 chars, redacted)"
        );
        assert!(!redact(b"AKIAIOSFODNN7EXAMPLE").contains("IOSF"));
    }

    #[test]
    fn a_line_of_nothing_but_keys_yields_a_bounded_number_of_hits() {
        let s = SecretScanner::new(&[], 4.2, 32).unwrap();
        let line = "AKIAIOSFODNN7EXAMPLE ".repeat(100_000);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        s.scan_line(line.as_bytes(), true, &mut buf, &mut out);
        assert!(
            !out.is_empty() && out.len() <= 3 * MAX_PER_LINE,
            "{}",
            out.len()
        );
    }

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(entropy_bits(b"aaaa"), 0.0);
        assert!((entropy_bits(b"abcd") - 2.0).abs() < 1e-9);
    }
}
