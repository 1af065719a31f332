//! The leak check: a mined problem statement must not name what the fix adds.
//!
//! A commit message often says how the bug was fixed ("parse with csv.reader"). Told that,
//! an agent copies the fix instead of finding it, so no identifier that the gold patch adds
//! to the codebase may appear in the statement. Pure: the caller says which identifiers the
//! base commit already has (`history::present_in_tree`).

use std::collections::BTreeSet;

/// Identifiers shorter than this are too often plain words or abbreviations ("io", "id").
const MIN_LEN: usize = 3;

/// Keywords of the languages mining proposes environments for: never identifiers.
const KEYWORDS: &[&str] = &[
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "const",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "enum",
    "except",
    "false",
    "finally",
    "fn",
    "for",
    "from",
    "func",
    "function",
    "global",
    "if",
    "impl",
    "import",
    "in",
    "interface",
    "is",
    "lambda",
    "let",
    "match",
    "mod",
    "mut",
    "new",
    "nil",
    "None",
    "nonlocal",
    "not",
    "null",
    "or",
    "package",
    "pass",
    "pub",
    "raise",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "this",
    "trait",
    "True",
    "False",
    "true",
    "try",
    "type",
    "undefined",
    "use",
    "var",
    "while",
    "with",
    "yield",
];

/// Words after which the next identifier is being defined or imported.
const DEFINERS: &[&str] = &[
    "def",
    "class",
    "fn",
    "func",
    "function",
    "struct",
    "enum",
    "trait",
    "interface",
    "type",
    "const",
    "let",
    "var",
    "mod",
    "import",
    "from",
    "static",
];

/// The identifiers on the lines a patch adds that read as code rather than prose: with an
/// underscore, with a capital inside (camelCase, PascalCase), called, reached through a dot
/// or defined. Plain words in comments and docstrings ("goods", "available") are left out,
/// since a statement must be free to describe the problem in ordinary words.
pub fn added_identifiers(patch: &[u8]) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(patch);
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if !line.starts_with('+') || line.starts_with("+++ ") {
            continue;
        }
        let line = &line[1..];
        let mut prev_word: Option<&str> = None;
        for (start, word) in words(line) {
            let before = line[..start].chars().next_back();
            let after = line[start + word.len()..].chars().next();
            let code_shaped = word.contains('_') && word.chars().any(|c| c.is_ascii_alphabetic())
                || has_inner_capital(word)
                || before == Some('.')
                || after == Some('(')
                || (after == Some('.')
                    && line[start + word.len() + 1..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_'))
                || prev_word.is_some_and(|p| DEFINERS.contains(&p));
            if code_shaped && is_candidate(word) {
                out.insert(word.to_string());
            }
            prev_word = Some(word);
        }
    }
    out
}

/// Every identifier-like word on the lines a patch adds, however it reads: what the hidden
/// tests use, to tell a name the task's interface needs from one the fix merely uses.
pub fn added_words(patch: &[u8]) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(patch);
    text.lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++ "))
        .flat_map(|l| {
            words(&l[1..])
                .map(|(_, w)| w.to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The identifiers of `added` that appear in `text` as whole words (case-sensitive), sorted.
pub fn leaks(text: &str, added: &BTreeSet<String>) -> Vec<String> {
    let found: BTreeSet<&str> = words(text)
        .map(|(_, w)| w)
        .filter(|w| added.contains(*w))
        .collect();
    found.into_iter().map(str::to_string).collect()
}

/// `text` with every whole-word occurrence of `names` replaced by `[redacted]`.
pub fn redact(text: &str, names: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, word) in words(text) {
        if names.iter().any(|n| n == word) {
            out.push_str(&text[last..start]);
            out.push_str("[redacted]");
            last = start + word.len();
        }
    }
    out.push_str(&text[last..]);
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// (byte offset, word) of every maximal run of identifier characters that does not start
/// with a digit.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        match (is_ident_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, &text[s..]));
    }
    spans
        .into_iter()
        .filter(|(_, w)| !w.starts_with(|c: char| c.is_ascii_digit()))
}

fn has_inner_capital(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_lowercase())
        && word.chars().skip(1).any(|c| c.is_ascii_uppercase())
}

fn is_candidate(word: &str) -> bool {
    word.len() >= MIN_LEN
        && !KEYWORDS.contains(&word)
        && word.chars().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(words: &[&str]) -> BTreeSet<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn code_shaped_words_on_added_lines_are_identifiers() {
        let patch = b"diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,9 @@\n import os\n-old_name = 1\n+import csv\n+reader = csv.reader(io.StringIO(text))\n+number = reader.line_num\n+# goods are what the customer pays for\n+def clamp(value):\n+    raise InsufficientStock(sku)\n+class parseCode:\n+    x = 1\n";
        assert_eq!(
            added_identifiers(patch),
            set(&[
                "InsufficientStock",
                "StringIO",
                "clamp",
                "csv",
                "line_num",
                "parseCode",
                "reader"
            ]),
        );
        // Removed and context lines add nothing; the file header is not a line of code.
        assert!(!added_identifiers(patch).contains("old_name"));
        assert!(added_words(patch).contains("goods"));
    }

    #[test]
    fn leaks_are_whole_words_and_case_sensitive() {
        let added = set(&["csv", "reader", "line_num"]);
        // (statement, leaked identifiers)
        let cases: &[(&str, &[&str])] = &[
            (
                "Parse with csv.reader, which handles quoting.",
                &["csv", "reader"],
            ),
            ("The CSV import fails on quoted fields.", &[]),
            ("parse_stock_csv() splits on commas; readers complain.", &[]),
            ("Take line numbers from line_num.", &["line_num"]),
        ];
        for (text, expected) in cases {
            assert_eq!(leaks(text, &added), *expected, "{text}");
        }
    }

    #[test]
    fn redaction_replaces_whole_words_only() {
        assert_eq!(
            redact(
                "Parse with csv.reader; parse_stock_csv stays.",
                &["csv".into(), "reader".into()]
            ),
            "Parse with [redacted].[redacted]; parse_stock_csv stays."
        );
        assert_eq!(redact("nothing here", &["csv".into()]), "nothing here");
    }
}
