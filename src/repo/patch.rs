//! Patches: content-addressed git diffs, and the file paths they touch.

use crate::config::sha256_hex;
use std::collections::BTreeSet;

/// A patch is identified by the sha256 of its bytes; everything computed from it is cached
/// under that id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

impl Patch {
    pub fn new(bytes: Vec<u8>) -> Self {
        let sha256 = sha256_hex(&bytes);
        Patch { bytes, sha256 }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.iter().all(|b| b.is_ascii_whitespace())
    }

    pub fn stats(&self) -> DiffStats {
        stats(&self.bytes)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DiffStats {
    pub files: u32,
    pub added: u32,
    pub removed: u32,
}

/// Counts files and changed lines in a git diff without interpreting hunks deeply.
pub fn stats(patch: &[u8]) -> DiffStats {
    let mut s = DiffStats::default();
    let mut in_header = false;
    for line in patch.split(|&b| b == b'\n') {
        if line.starts_with(b"diff --git ") {
            s.files += 1;
            in_header = true;
        } else if line.starts_with(b"@@") {
            in_header = false;
        } else if in_header {
            continue;
        } else if line.starts_with(b"+") {
            s.added += 1;
        } else if line.starts_with(b"-") {
            s.removed += 1;
        }
    }
    s
}

/// Every path a git diff touches (old and new names of renames included).
pub fn touched_paths(patch: &[u8]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for raw in patch.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix("diff --git ") {
            if let Some((a, b)) = split_diff_git(rest) {
                out.insert(a);
                out.insert(b);
            }
        } else if let Some(p) = line
            .strip_prefix("--- ")
            .or_else(|| line.strip_prefix("+++ "))
        {
            let p = unquote(p.split('\t').next().unwrap_or(p));
            if p != "/dev/null" {
                if let Some(stripped) = p.strip_prefix("a/").or_else(|| p.strip_prefix("b/")) {
                    out.insert(stripped.to_string());
                }
            }
        } else if let Some(p) = line
            .strip_prefix("rename from ")
            .or_else(|| line.strip_prefix("rename to "))
        {
            out.insert(unquote(p));
        } else if let Some(p) = line
            .strip_prefix("copy from ")
            .or_else(|| line.strip_prefix("copy to "))
        {
            out.insert(unquote(p));
        }
    }
    // A header with no name after it (`+++ b/`, `rename to `) names no file; an empty path
    // would stand for the tree's root to whoever restores or removes it.
    out.remove("");
    out
}

/// One file's part of a git diff: from its `diff --git` line to the next one. Whatever
/// comes before the first such line is a part of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section<'a> {
    pub bytes: &'a [u8],
    /// The path of the text file this part changes in place: same path before and after,
    /// at least one hunk, and no creation, deletion, rename, copy, mode change or binary
    /// content. None for anything else.
    pub in_place: Option<String>,
}

/// Header lines that make a file's change more than an edit of its lines.
const NOT_IN_PLACE: [&[u8]; 12] = [
    b"new file mode",
    b"deleted file mode",
    b"old mode",
    b"new mode",
    b"rename from",
    b"rename to",
    b"copy from",
    b"copy to",
    b"similarity index",
    b"dissimilarity index",
    b"GIT binary patch",
    b"Binary files",
];

/// A git diff cut into its files' parts, in order; their bytes put together are the diff.
pub fn sections(patch: &[u8]) -> Vec<Section<'_>> {
    let mut starts: Vec<usize> = Vec::new();
    let mut at = 0;
    for line in patch.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"diff --git ") {
            starts.push(at);
        }
        at += line.len();
    }
    let mut out = Vec::new();
    let preamble = starts.first().copied().unwrap_or(patch.len());
    if preamble > 0 {
        out.push(Section {
            bytes: &patch[..preamble],
            in_place: None,
        });
    }
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(patch.len());
        let bytes = &patch[start..end];
        out.push(Section {
            bytes,
            in_place: in_place(bytes),
        });
    }
    out
}

fn in_place(section: &[u8]) -> Option<String> {
    let mut lines = section.split(|&b| b == b'\n');
    let first = String::from_utf8_lossy(lines.next()?);
    let (a, b) = split_diff_git(first.trim_end_matches('\r').strip_prefix("diff --git ")?)?;
    if a != b {
        return None;
    }
    for line in lines {
        if line.starts_with(b"@@ ") {
            return Some(a);
        }
        if NOT_IN_PLACE.iter().any(|h| line.starts_with(h)) {
            return None;
        }
    }
    None
}

/// The paths a git diff changes in place (see [`Section::in_place`]).
pub fn in_place_paths(patch: &[u8]) -> BTreeSet<String> {
    sections(patch)
        .into_iter()
        .filter_map(|s| s.in_place)
        .collect()
}

/// Splits `a/x b/y` (possibly quoted) into (x, y).
fn split_diff_git(rest: &str) -> Option<(String, String)> {
    if rest.starts_with('"') {
        let end = find_closing_quote(rest)?;
        let a = unquote(&rest[..=end]);
        let b = unquote(rest[end + 1..].trim_start());
        return Some((strip_ab(&a), strip_ab(&b)));
    }
    // Unquoted: the two halves are the same length when the path did not change.
    if let Some(idx) = rest.find(" b/") {
        let a = &rest[..idx];
        let b = &rest[idx + 1..];
        let b = if b.starts_with('"') {
            unquote(b)
        } else {
            b.to_string()
        };
        return Some((strip_ab(a), strip_ab(&b)));
    }
    None
}

fn strip_ab(p: &str) -> String {
    p.strip_prefix("a/")
        .or_else(|| p.strip_prefix("b/"))
        .unwrap_or(p)
        .to_string()
}

fn find_closing_quote(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Undoes git's C-style path quoting (`"a/\303\251.txt"`).
pub fn unquote(p: &str) -> String {
    let p = p.trim();
    if !(p.starts_with('"') && p.ends_with('"') && p.len() >= 2) {
        return p.to_string();
    }
    let inner = &p.as_bytes()[1..p.len() - 1];
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        if inner[i] == b'\\' && i + 1 < inner.len() {
            let c = inner[i + 1];
            match c {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'"' => out.push(b'"'),
                b'\\' => out.push(b'\\'),
                b'0'..=b'7' if i + 3 < inner.len() + 1 => {
                    let oct =
                        std::str::from_utf8(&inner[i + 1..(i + 4).min(inner.len())]).unwrap_or("0");
                    out.push(u8::from_str_radix(oct, 8).unwrap_or(b'?'));
                    i += 4;
                    continue;
                }
                other => out.push(other),
            }
            i += 2;
        } else {
            out.push(inner[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn headers_without_a_name_touch_no_path() {
        // Found by tests/fuzz.rs: `+++ b/` and `rename to ` put an empty path, the tree's
        // root, among the touched ones.
        let touched =
            touched_paths(b"diff --git a/x b/x\n--- a/x\n+++ b/\nrename to \ncopy from \n");
        assert_eq!(touched.into_iter().collect::<Vec<_>>(), ["x"]);
    }

    use super::*;

    fn check(patch: &str, expected: &[&str]) {
        let got: Vec<String> = touched_paths(patch.as_bytes()).into_iter().collect();
        assert_eq!(got, expected, "{patch}");
    }

    #[test]
    fn paths_of_every_kind_of_change() {
        check(
            "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n",
            &["x.py"],
        );
        check("diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+x\n", &["new.txt"]);
        check("diff --git a/old.py b/deploy/old.py\nsimilarity index 100%\nrename from old.py\nrename to deploy/old.py\n", &["deploy/old.py", "old.py"]);
        check(
            "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n",
            &["run.sh"],
        );
        check("diff --git a/img.png b/img.png\nnew file mode 100644\nindex 0000000..1111111\nGIT binary patch\nliteral 3\nKcmZ>\n\nliteral 0\n", &["img.png"]);
        check("diff --git \"a/caf\\303\\251 x.txt\" \"b/caf\\303\\251 x.txt\"\n--- \"a/caf\\303\\251 x.txt\"\n+++ \"b/caf\\303\\251 x.txt\"\n", &["café x.txt"]);
        check("diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n", &["link"]);
    }

    #[test]
    fn sections_say_which_files_change_in_place() {
        let modify = "diff --git a/src/lib.rs b/src/lib.rs\nindex 1111111..2222222 100644\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-a\n+b\n";
        let cases: &[(&str, &str, &[Option<&str>])] = &[
            ("one change in place", modify, &[Some("src/lib.rs")]),
            (
                "a preamble, then a new file and a change in place",
                &format!("From x\n\ndiff --git a/n.rs b/n.rs\nnew file mode 100644\n--- /dev/null\n+++ b/n.rs\n@@ -0,0 +1 @@\n+x\n{modify}"),
                &[None, None, Some("src/lib.rs")],
            ),
            (
                "deleted, renamed, mode changed, binary",
                "diff --git a/d b/d\ndeleted file mode 100644\n--- a/d\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\ndiff --git a/r b/s\nsimilarity index 90%\nrename from r\nrename to s\n@@ -1 +1 @@\n-a\n+b\ndiff --git a/m b/m\nold mode 100644\nnew mode 100755\n@@ -1 +1 @@\n-a\n+b\ndiff --git a/p b/p\nindex 1..2 100644\nGIT binary patch\nliteral 1\n",
                &[None, None, None, None],
            ),
            (
                "a hunk line that looks like a header is content",
                "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-new file mode\n+diff --git\n",
                &[Some("x")],
            ),
            ("nothing", "", &[]),
        ];
        for (what, patch, want) in cases {
            let got = sections(patch.as_bytes());
            let paths: Vec<Option<&str>> = got.iter().map(|s| s.in_place.as_deref()).collect();
            assert_eq!(paths, *want, "{what}");
            let whole: Vec<u8> = got.iter().flat_map(|s| s.bytes.iter().copied()).collect();
            assert_eq!(whole, patch.as_bytes(), "{what}");
        }
        assert_eq!(
            in_place_paths(modify.as_bytes())
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["src/lib.rs"]
        );
    }

    #[test]
    fn stats_count_lines_not_headers() {
        let p = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n+c\n ctx\n";
        assert_eq!(
            stats(p.as_bytes()),
            DiffStats {
                files: 1,
                added: 2,
                removed: 1
            }
        );
        assert!(Patch::new(b"\n".to_vec()).is_empty());
        assert_eq!(
            Patch::new(b"abc".to_vec()).sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
