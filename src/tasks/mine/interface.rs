//! What a mined task must state so that an agent can solve it at all: the **interface** the
//! hidden tests call that the fix adds (names and signatures taken from the gold patch, never
//! the bodies), and the **exact text** the tests compare that the fix adds. A task without
//! them asks an agent to guess names and messages; with them it asks for the behaviour.
//! Also whether a statement is too thin to work from. Pure: patches in, Markdown out.

use std::collections::BTreeSet;

/// Below this many words (with no linked issue), a statement says too little.
pub const THIN_WORDS: usize = 30;

/// At most this many names or strings are listed; past it the task is mostly new API.
pub const MAX_LISTED: usize = 20;

/// The added lines of a unified diff (without the `+`), skipping file headers.
fn added_lines(patch: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(patch)
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .map(|l| l[1..].to_string())
        .collect()
}

/// Identifier-like words of a line.
fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty() && !w.starts_with(|c: char| c.is_ascii_digit()))
}

/// The declaration of `name` among the fix's added lines, cut before its body: `def f(a, b)`,
/// `pub fn parse(s: &str) -> Result<Version, Error>`, `func (s *Stock) Reserve(n int) error`.
fn signature(gold_added: &[String], name: &str) -> Option<String> {
    const INTRODUCERS: &[&str] = &[
        "def ",
        "async def ",
        "class ",
        "fn ",
        "struct ",
        "enum ",
        "trait ",
        "type ",
        "const ",
        "static ",
        "func ",
        "function ",
        "interface ",
        "let ",
        "var ",
        "mod ",
    ];
    for line in gold_added {
        let t = line.trim();
        let Some(at) = find_word(t, name) else {
            continue;
        };
        let head = &t[..at];
        let declares = INTRODUCERS
            .iter()
            .any(|i| head.trim_end().ends_with(i.trim_end()))
            || head.starts_with("func (")
            || (head.trim().is_empty() && t[at + name.len()..].trim_start().starts_with('('))
                && (t.ends_with('{') || t.ends_with(':'));
        if !declares {
            continue;
        }
        let cut = t
            .find(['{', ';'])
            .map(|i| &t[..i])
            .unwrap_or(t)
            .trim_end()
            .trim_end_matches(':')
            .trim_end();
        return Some(cut.chars().take(300).collect());
    }
    None
}

/// Where `name` stands in `line` as a whole word.
fn find_word(line: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = line[from..].find(name) {
        let at = from + i;
        let before = line[..at].chars().next_back();
        let after = line[at + name.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if boundary(before) && boundary(after) {
            return Some(at);
        }
        from = at + name.len();
    }
    None
}

/// String literals of a line: `"..."` and `'...'`, without their quotes, escapes kept as
/// written. Short or blank ones say nothing and are left out.
fn literals(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let q = chars[i];
        if q == '"' || q == '\'' {
            let mut j = i + 1;
            let mut s = String::new();
            while j < chars.len() && chars[j] != q {
                if chars[j] == '\\' && j + 1 < chars.len() {
                    s.push(chars[j]);
                    j += 1;
                }
                s.push(chars[j]);
                j += 1;
            }
            if j < chars.len() && s.trim().len() >= 8 && s.contains(' ') {
                out.push(s);
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// The sections a mined statement gets: the interface the hidden tests call that the fix
/// adds, and the exact text they compare that the fix adds. Empty when there is neither.
pub fn sections(gold: &[u8], tests: &[u8], added: &BTreeSet<String>) -> String {
    stated(gold, tests, added).0
}

/// [`sections`], and how many names and strings the tests need that the sections could not
/// list (past [`MAX_LISTED`] of each): a task asking for those is underspecified.
pub fn stated(gold: &[u8], tests: &[u8], added: &BTreeSet<String>) -> (String, usize) {
    let gold_added = added_lines(gold);
    let test_added = added_lines(tests);
    let used: BTreeSet<&str> = test_added
        .iter()
        .flat_map(|l| words(l).collect::<Vec<_>>())
        .filter(|w| added.contains(*w))
        .collect();
    let mut out = String::new();
    if !used.is_empty() {
        out.push_str(
            "\n## Interface\n\nThe tests use these names, which do not exist yet; add them with \
             these signatures (how they work is up to you):\n\n```\n",
        );
        for name in used.iter().take(MAX_LISTED) {
            out.push_str(&signature(&gold_added, name).unwrap_or_else(|| name.to_string()));
            out.push('\n');
        }
        out.push_str("```\n");
    }
    let gold_text = gold_added.join("\n");
    let mut exact: Vec<String> = test_added
        .iter()
        .flat_map(|l| literals(l))
        .filter(|s| gold_text.contains(s.as_str()))
        .collect();
    exact.sort();
    exact.dedup();
    if !exact.is_empty() {
        out.push_str("\n## Exact text\n\nThe tests compare these strings exactly:\n\n");
        for s in exact.iter().take(MAX_LISTED) {
            out.push_str(&format!("- `{}`\n", s.replace('`', "'")));
        }
    }
    let unstated = used.len().saturating_sub(MAX_LISTED) + exact.len().saturating_sub(MAX_LISTED);
    (out, unstated)
}

/// Whether a statement is too thin to work from: under [`THIN_WORDS`] words.
pub fn is_thin(statement: &str) -> bool {
    statement.split_whitespace().count() < THIN_WORDS
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLD: &str = "--- a/ver.py\n+++ b/ver.py\n@@ -1,2 +1,9 @@\n+class VersionError(ValueError):\n+    pass\n+\n+def parse_version(text: str) -> tuple:\n+    if not text:\n+        raise VersionError(\"version text is empty\")\n+    return tuple(int(p) for p in text.split('.'))\n";
    const TESTS: &str = "--- a/tests/test_ver.py\n+++ b/tests/test_ver.py\n@@ -1,1 +1,8 @@\n+from ver import parse_version, VersionError\n+\n+def test_parse():\n+    assert parse_version('1.2') == (1, 2)\n+\n+def test_empty():\n+    with pytest.raises(VersionError, match=\"version text is empty\"):\n+        parse_version('')\n";

    #[test]
    fn the_interface_and_exact_text_come_from_the_fix() {
        let added: BTreeSet<String> = ["parse_version", "VersionError", "text"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = sections(GOLD.as_bytes(), TESTS.as_bytes(), &added);
        assert!(s.contains("## Interface"), "{s}");
        assert!(s.contains("def parse_version(text: str) -> tuple\n"), "{s}");
        assert!(s.contains("class VersionError(ValueError)\n"), "{s}");
        // The body stays hidden.
        assert!(!s.contains("split"), "{s}");
        assert!(s.contains("- `version text is empty`"), "{s}");
    }

    #[test]
    fn rust_and_go_signatures_stop_before_the_body() {
        let rust = vec!["    pub fn major(v: &str) -> Result<u32, ParseError> {".to_string()];
        assert_eq!(
            signature(&rust, "major").as_deref(),
            Some("pub fn major(v: &str) -> Result<u32, ParseError>")
        );
        let go = vec!["func (s *Stock) Reserve(n int) error {".to_string()];
        assert_eq!(
            signature(&go, "Reserve").as_deref(),
            Some("func (s *Stock) Reserve(n int) error")
        );
        // A call is not a declaration.
        assert_eq!(signature(&["x = major(v)".to_string()], "major"), None);
    }

    #[test]
    fn more_than_can_be_listed_is_counted_as_unstated() {
        let mut gold = String::from("--- a/m.py\n+++ b/m.py\n@@ -0,0 +1,30 @@\n");
        let mut tests = String::from("--- a/t.py\n+++ b/t.py\n@@ -0,0 +1,30 @@\n");
        for i in 0..25 {
            gold.push_str(&format!(
                "+MESSAGE_{i} = \"the value {i} is out of range\"\n"
            ));
            tests.push_str(&format!(
                "+    assert str(e) == \"the value {i} is out of range\"\n"
            ));
        }
        let (text, unstated) = stated(gold.as_bytes(), tests.as_bytes(), &BTreeSet::new());
        assert_eq!(text.matches("\n- `").count(), MAX_LISTED, "{text}");
        assert_eq!(unstated, 25 - MAX_LISTED);
        let (_, none) = stated(GOLD.as_bytes(), TESTS.as_bytes(), &BTreeSet::new());
        assert_eq!(none, 0);
    }

    #[test]
    fn nothing_new_used_means_no_sections() {
        assert_eq!(sections(GOLD.as_bytes(), b"", &BTreeSet::new()), "");
        assert!(is_thin("Fix the parser"));
        assert!(!is_thin(&"word ".repeat(40)));
    }
}
