//! Repository-relative paths as a diff names them: git's quoted form decoded,
//! `.` and `..` segments resolved, and anything odd about the path recorded.
//!
//! Rules match the path a patch really writes to, so `src/../deploy/run.sh`
//! is judged as `deploy/run.sh`, and a path that climbs out of the repository
//! or into `.git/` is reported instead of being trusted.

use serde::{Deserialize, Serialize};

/// Something about a path that a reviewer should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PathIssue {
    /// The path's bytes are not UTF-8; it is shown with replacement characters.
    NotUtf8 { shown_as: String },
    /// The path had `.`/`..` segments or repeated slashes and was rewritten.
    Normalised { raw: String, normalised: String },
    /// After resolving `..`, the path still points above the repository root.
    EscapesRoot { raw: String },
    /// The path is absolute.
    Absolute { raw: String },
    /// The path writes inside git's own `.git` directory (hooks, config).
    GitInternal { raw: String },
}

impl PathIssue {
    /// Whether the path must be rejected rather than merely noted.
    pub fn is_unsafe(&self) -> bool {
        matches!(
            self,
            PathIssue::EscapesRoot { .. }
                | PathIssue::Absolute { .. }
                | PathIssue::GitInternal { .. }
        )
    }

    pub fn describe(&self) -> String {
        match self {
            PathIssue::NotUtf8 { shown_as } => {
                format!("path `{shown_as}` is not valid UTF-8; shown with replacement characters")
            }
            PathIssue::Normalised { raw, normalised } => {
                format!("path `{raw}` has `.`/`..` segments; it resolves to `{normalised}`")
            }
            PathIssue::EscapesRoot { raw } => format!("path `{raw}` points outside the repository"),
            PathIssue::Absolute { raw } => format!("path `{raw}` is absolute"),
            PathIssue::GitInternal { raw } => format!("path `{raw}` writes inside `.git/`"),
        }
    }
}

/// Decodes a path token as git writes it: either bare bytes, or a
/// double-quoted C-style string (`"a/caf\303\251 \"x\".txt"`) that git uses
/// for names with control characters, quotes, backslashes or non-ASCII bytes.
pub fn unquote(raw: &[u8]) -> Vec<u8> {
    match parse_quoted(raw) {
        Some((bytes, _)) => bytes,
        None => raw.to_vec(),
    }
}

/// Parses a quoted token at the start of `raw`; returns its bytes and how
/// many input bytes it used (both quotes included). `None` when `raw` does not
/// start with a quote or the closing quote is missing.
pub fn parse_quoted(raw: &[u8]) -> Option<(Vec<u8>, usize)> {
    if raw.first() != Some(&b'"') {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 1;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'"' => return Some((out, i + 1)),
            b'\\' if i + 1 < raw.len() => {
                let e = raw[i + 1];
                i += 2;
                match e {
                    b'a' => out.push(0x07),
                    b'b' => out.push(0x08),
                    b't' => out.push(b'\t'),
                    b'n' => out.push(b'\n'),
                    b'v' => out.push(0x0b),
                    b'f' => out.push(0x0c),
                    b'r' => out.push(b'\r'),
                    b'0'..=b'7' => {
                        // Up to three octal digits; git always writes three.
                        let mut value: u32 = u32::from(e - b'0');
                        let mut digits = 1;
                        while digits < 3 && i < raw.len() && (b'0'..=b'7').contains(&raw[i]) {
                            value = value * 8 + u32::from(raw[i] - b'0');
                            i += 1;
                            digits += 1;
                        }
                        out.push((value & 0xff) as u8);
                    }
                    other => out.push(other),
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

/// A path after decoding and normalisation, with what was found on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanPath {
    pub path: String,
    pub issues: Vec<PathIssue>,
}

/// Turns raw path bytes (already unquoted and without the `a/`/`b/` prefix)
/// into a repository-relative path.
pub fn clean(raw: &[u8]) -> CleanPath {
    let mut issues = Vec::new();
    let text = match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let shown = String::from_utf8_lossy(raw).into_owned();
            issues.push(PathIssue::NotUtf8 {
                shown_as: shown.clone(),
            });
            shown
        }
    };
    let (path, mut more) = normalise(&text);
    issues.append(&mut more);
    CleanPath { path, issues }
}

/// Resolves `.`, `..` and repeated slashes without touching the filesystem.
/// `..` that would climb above the root is kept in the result (so the path
/// never silently turns into a different in-repository file) and reported.
pub fn normalise(raw: &str) -> (String, Vec<PathIssue>) {
    let mut issues = Vec::new();
    if raw.starts_with('/') {
        issues.push(PathIssue::Absolute {
            raw: raw.to_string(),
        });
    }
    let mut parts: Vec<&str> = Vec::new();
    let mut escaped = false;
    for seg in raw.split('/') {
        match seg {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ => {
                    escaped = true;
                    parts.push("..");
                }
            },
            other => parts.push(other),
        }
    }
    let path = if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    };
    if escaped {
        issues.push(PathIssue::EscapesRoot {
            raw: raw.to_string(),
        });
    } else if path != raw.trim_start_matches('/') {
        issues.push(PathIssue::Normalised {
            raw: raw.to_string(),
            normalised: path.clone(),
        });
    }
    if parts
        .iter()
        .any(|p| p.eq_ignore_ascii_case(".git") || p.eq_ignore_ascii_case(".git."))
    {
        issues.push(PathIssue::GitInternal {
            raw: raw.to_string(),
        });
    }
    (path, issues)
}

/// Where a symbolic link at `link_path` pointing to `target` lands, or `None`
/// when it leaves the repository (absolute, or too many `..`).
pub fn resolve_link(link_path: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let dir = match link_path.rfind('/') {
        Some(i) => &link_path[..i],
        None => "",
    };
    let joined = if dir.is_empty() {
        target.to_string()
    } else {
        format!("{dir}/{target}")
    };
    let (p, issues) = normalise(&joined);
    if issues.iter().any(PathIssue::is_unsafe) {
        None
    } else {
        Some(p)
    }
}

/// The lowercase extension of the file name, without the dot.
pub fn extension(path: &str) -> Option<String> {
    let name = file_name(path);
    let dot = name.rfind('.')?;
    if dot == 0 {
        return None;
    }
    Some(name[dot + 1..].to_ascii_lowercase())
}

pub fn file_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_norm(raw: &str, want: &str, unsafe_: bool, noted: bool) {
        let (p, issues) = normalise(raw);
        assert_eq!(p, want, "{raw}");
        assert_eq!(
            issues.iter().any(PathIssue::is_unsafe),
            unsafe_,
            "{raw}: {issues:?}"
        );
        assert_eq!(!issues.is_empty(), noted, "{raw}: {issues:?}");
    }

    #[test]
    fn normalisation_table() {
        check_norm("src/lib.rs", "src/lib.rs", false, false);
        check_norm("src/../deploy/run.sh", "deploy/run.sh", false, true);
        check_norm("./src//a.rs", "src/a.rs", false, true);
        check_norm("../../etc/passwd", "../../etc/passwd", true, true);
        check_norm("a/../../x", "../x", true, true);
        check_norm("/etc/passwd", "etc/passwd", true, true);
        check_norm(".git/hooks/pre-commit", ".git/hooks/pre-commit", true, true);
        check_norm("src/.GIT/config", "src/.GIT/config", true, true);
        check_norm(
            "docs/.github-notes.md",
            "docs/.github-notes.md",
            false,
            false,
        );
    }

    #[test]
    fn quoted_paths_decode_octal_and_escapes() {
        assert_eq!(unquote(br#""a/caf\303\251.txt""#), "a/café.txt".as_bytes());
        assert_eq!(
            unquote(br#""a/tab\there \"q\" \\""#),
            b"a/tab\there \"q\" \\"
        );
        assert_eq!(unquote(b"a/plain name"), b"a/plain name");
        // A missing closing quote leaves the token as written.
        assert_eq!(unquote(b"\"a/open"), b"\"a/open");
    }

    #[test]
    fn non_utf8_paths_are_shown_lossily_and_noted() {
        let c = clean(b"src/\xff\xfe.py");
        assert!(c.path.starts_with("src/"));
        assert!(matches!(c.issues[0], PathIssue::NotUtf8 { .. }));
    }

    #[test]
    fn symlink_targets_are_resolved_against_the_link_directory() {
        assert_eq!(resolve_link("a/b/link", "../c").as_deref(), Some("a/c"));
        assert_eq!(resolve_link("a/link", "../../etc/shadow"), None);
        assert_eq!(resolve_link("link", "/etc/shadow"), None);
    }
}
