//! Whether a mined statement gives any **basis** for what its hidden tests require. The
//! statement (title and message, before the Interface and Exact text sections) has one when
//! it shares at least one meaningful term with the words of the fail_to_pass tests' names,
//! the names of the definitions the fix adds or changes, or the stems of the files it
//! changes. A statement that shares none ("Bump deps" over tests of tax rounding) leaves an
//! agent to guess what will be checked: the task is tagged `no_basis`, never dropped.
//!
//! The rule is word overlap after light stemming (`parsing`, `parsed`, `parses` and `parse`
//! are one term), so every verdict is explained by the terms it lists. Pure and
//! deterministic: statement, test names and gold patch in, terms out.

use super::statement::NO_MESSAGE;
use crate::repo::patch::touched_paths;
use std::collections::BTreeSet;

/// Terms shorter than this many letters are too often abbreviations or function words.
const MIN_LETTERS: usize = 3;

/// At most this many unmentioned terms are named in the note.
const SHOWN: usize = 6;

/// Words that say nothing about what a test checks: test vocabulary, function words, file
/// extensions, and the file stems every project has. Compared after stemming.
const STOP: &[&str] = &[
    "test",
    "tests",
    "spec",
    "should",
    "must",
    "returns",
    "return",
    "the",
    "and",
    "when",
    "with",
    "for",
    "that",
    "this",
    "these",
    "from",
    "into",
    "not",
    "are",
    "does",
    "doesn",
    "can",
    "cannot",
    "get",
    "has",
    "have",
    "its",
    "but",
    "all",
    "any",
    "then",
    "than",
    "was",
    "were",
    "will",
    "only",
    "also",
    "works",
    "correct",
    "correctly",
    "properly",
    "handles",
    "case",
    "check",
    "given",
    "expected",
    "example",
    "foo",
    "bar",
    "baz",
    "qux",
    "tsx",
    "jsx",
    "mjs",
    "cjs",
    "init",
    "mod",
    "lib",
    "main",
    "index",
    "self",
    "none",
    "true",
    "false",
];

/// Words that introduce a function's or a type's name, after any modifiers.
const DEFINERS: &[&str] = &[
    "def",
    "class",
    "fn",
    "struct",
    "enum",
    "trait",
    "union",
    "type",
    "func",
    "function",
    "interface",
    "impl",
];

/// Words that may stand before a definer: `pub async fn`, `export default function`.
const MODIFIERS: &[&str] = &[
    "pub",
    "async",
    "export",
    "default",
    "public",
    "private",
    "protected",
    "static",
    "abstract",
    "final",
    "unsafe",
    "extern",
    "override",
    "const",
    "inline",
    "open",
    "data",
    "sealed",
];

/// One term the hidden tests require: its stem (what is compared) and the word it was
/// first seen as (what a note shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub stem: String,
    pub word: String,
}

/// The words of an identifier or a sentence, lower-cased: split at every character that is
/// not a letter and at camelCase boundaries (`parseCode`, `HTTPServer`), at least
/// [`MIN_LETTERS`] letters each.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in text.split(|c: char| !c.is_alphabetic()) {
        let chars: Vec<char> = run.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let (prev, c) = (chars[i - 1], chars[i]);
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if c.is_uppercase() && (prev.is_lowercase() || (prev.is_uppercase() && next_lower)) {
                out.push(chars[start..i].iter().collect::<String>());
                start = i;
            }
        }
        out.push(chars[start..].iter().collect::<String>());
    }
    out.into_iter()
        .filter(|w| w.chars().count() >= MIN_LETTERS)
        .map(|w| w.to_lowercase())
        .collect()
}

/// Light stemming: a trailing `ing`, `ed`, `es` or `s` (never the `s` of `ss`), then a
/// trailing `e`, each only while three letters are left; `ies` becomes `y`. `parsing`,
/// `parsed`, `parses` and `parse` all give `pars`.
pub fn stem(word: &str) -> String {
    let long_enough = |s: &str| s.chars().count() >= MIN_LETTERS;
    let mut w = word.to_string();
    if let Some(base) = w.strip_suffix("ies").filter(|b| long_enough(b)) {
        return format!("{base}y");
    }
    for suffix in ["ing", "ed", "es", "s"] {
        if suffix == "s" && w.ends_with("ss") {
            break;
        }
        if let Some(base) = w.strip_suffix(suffix).filter(|b| long_enough(b)) {
            w = base.to_string();
            break;
        }
    }
    if let Some(base) = w.strip_suffix('e').filter(|b| long_enough(b)) {
        w = base.to_string();
    }
    w
}

/// The names a line defines, when it is a function's or a type's declaration: `def tax(`,
/// `pub async fn parse(`, `class Invoice:`, `func (s *Stock) Reserve(`, `impl Display for
/// Version` (both names).
fn defined_names(line: &str) -> Vec<String> {
    let mut rest = line.trim_start();
    loop {
        let Some(word) = rest.split(|c: char| !c.is_alphanumeric()).next() else {
            return Vec::new();
        };
        if !MODIFIERS.contains(&word) {
            break;
        }
        rest = rest[word.len()..].trim_start();
        // `pub(crate)`
        if rest.starts_with('(') && word == "pub" {
            match rest.find(')') {
                Some(i) => rest = rest[i + 1..].trim_start(),
                None => return Vec::new(),
            }
        }
    }
    let Some(definer) = DEFINERS.iter().find(|d| {
        rest.strip_prefix(**d)
            .is_some_and(|r| r.starts_with([' ', '<', '(']))
    }) else {
        return Vec::new();
    };
    let mut rest = rest[definer.len()..].trim_start();
    if *definer == "impl" {
        let head = rest.split('{').next().unwrap_or(rest);
        return head
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty() && *w != "for" && *w != "where")
            .map(str::to_string)
            .collect();
    }
    // Go methods: `func (s *Stock) Reserve(`.
    if *definer == "func" && rest.starts_with('(') {
        match rest.find(')') {
            Some(i) => rest = rest[i + 1..].trim_start(),
            None => return Vec::new(),
        }
    }
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
        .collect();
    if name.is_empty() {
        Vec::new()
    } else {
        vec![name]
    }
}

/// The names of the definitions a patch adds or changes: those its hunk headers name, those
/// on its changed lines, and for every other changed line the nearest definition above it
/// in its hunk (the function the change is in). In order, without repeats.
fn changed_definitions(patch: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(patch);
    let mut out = Vec::new();
    let mut in_hunk = false;
    let mut enclosing: Option<Vec<String>> = None;
    for line in text.lines() {
        if line.starts_with("diff --git ") {
            in_hunk = false;
            enclosing = None;
            continue;
        }
        if let Some(rest) = line.strip_prefix("@@") {
            in_hunk = true;
            let header = rest.split_once("@@").map(|(_, h)| h).unwrap_or("");
            let names = defined_names(header);
            out.extend(names.iter().cloned());
            enclosing = (!names.is_empty()).then_some(names);
            continue;
        }
        if !in_hunk {
            continue;
        }
        let (mark, content) = match line.chars().next() {
            Some(m @ (' ' | '+' | '-')) => (m, &line[1..]),
            _ => continue,
        };
        let names = defined_names(content);
        let changed = mark != ' ';
        if !names.is_empty() {
            if changed {
                out.extend(names.iter().cloned());
            }
            enclosing = Some(names);
        } else if changed {
            if let Some(e) = &enclosing {
                out.extend(e.iter().cloned());
            }
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// What the hidden tests require, as terms without repeats: the words of the fail_to_pass
/// tests' ids (file and name), then of the definitions the fix adds or changes, then of the
/// stems of the files it changes. Stop words are left out.
pub fn required(fail_to_pass: &[String], gold: &[u8]) -> Vec<Term> {
    let stop: BTreeSet<String> = STOP.iter().map(|w| stem(w)).collect();
    let files = touched_paths(gold).into_iter().map(|p| {
        let name = p.rsplit('/').next().unwrap_or(&p).to_string();
        match name.split_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem.to_string(),
            _ => name,
        }
    });
    let sources = fail_to_pass
        .iter()
        .cloned()
        .chain(changed_definitions(gold))
        .chain(files);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for source in sources {
        for word in words(&source) {
            let s = stem(&word);
            if !stop.contains(&s) && seen.insert(s.clone()) {
                out.push(Term { stem: s, word });
            }
        }
    }
    out
}

/// The stems of a statement's words.
fn mentioned(statement: &str) -> BTreeSet<String> {
    words(&statement.replace(NO_MESSAGE, " "))
        .iter()
        .map(|w| stem(w))
        .collect()
}

/// Whether the statement gives no basis for what the hidden tests require: Some(the first
/// few required terms, none of which it mentions) when it shares no term with them; None
/// when it shares one, or when the tests and the fix name nothing to compare with.
pub fn unmentioned(statement: &str, fail_to_pass: &[String], gold: &[u8]) -> Option<Vec<String>> {
    let required = required(fail_to_pass, gold);
    let said = mentioned(statement);
    if required.is_empty() || required.iter().any(|t| said.contains(&t.stem)) {
        return None;
    }
    Some(required.into_iter().take(SHOWN).map(|t| t.word).collect())
}

/// The note of a task without basis: what the tests check, and the fix.
pub fn note(unmentioned: &[String]) -> String {
    format!(
        "no_basis: the statement mentions nothing the hidden tests check (they are about: {}); \
         add issue texts with --issues DIR, restate it with --rewrite JUDGE, or drop the task",
        unmentioned.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::super::{history::Mirror, leak, statement};
    use super::*;
    use crate::config::suite::load_suite;
    use std::path::Path;

    const INVOICE_GOLD: &str = "diff --git a/shop/billing/invoice.py b/shop/billing/invoice.py\n--- a/shop/billing/invoice.py\n+++ b/shop/billing/invoice.py\n@@ -7,7 +7,7 @@ discounted goods plus shipping; see docs/billing.md.\n from decimal import Decimal\n-from shop.common.money import CENT, round_money\n+from shop.common.money import round_money\n@@ -65,7 +65,8 @@ class Invoice:\n \n     def tax(self) -> Decimal:\n         taxable = self.subtotal()\n-        return (taxable * RATE).quantize(CENT)\n+        return round_money(taxable * RATE)\n \n     def total(self) -> Decimal:\n";

    const STOCK_GOLD: &str = "diff --git a/shop/inventory/stock.py b/shop/inventory/stock.py\n--- a/shop/inventory/stock.py\n+++ b/shop/inventory/stock.py\n@@ -40,6 +40,9 @@ class Stock:\n     def remove(self, sku, qty):\n+        if qty > self.available(sku):\n+            raise InsufficientStock(sku)\n         self._on_hand[sku] -= qty\n";

    const GO_GOLD: &str = "diff --git a/internal/sem/version.go b/internal/sem/version.go\n--- a/internal/sem/version.go\n+++ b/internal/sem/version.go\n@@ -10,3 +10,8 @@ import \"strings\"\n+func (v *Version) Compare(o Version) int {\n+\treturn 0\n+}\n";

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn words_split_identifiers_and_stems_join_forms() {
        assert_eq!(
            words("tests/test_invoice.py::test_taxRounds HTTPServer a_b"),
            ["tests", "test", "invoice", "test", "tax", "rounds", "http", "server"]
        );
        for w in ["parse", "parses", "parsed", "parsing"] {
            assert_eq!(stem(w), "pars", "{w}");
        }
        assert_eq!(stem("class"), stem("classes"));
        assert_eq!(stem("categories"), "category");
        assert_eq!(stem("uses"), "use");
    }

    #[test]
    fn definitions_come_from_headers_changed_lines_and_the_enclosing_function() {
        assert_eq!(
            changed_definitions(INVOICE_GOLD.as_bytes()),
            ["Invoice", "tax"]
        );
        assert_eq!(changed_definitions(GO_GOLD.as_bytes()), ["Compare"]);
        assert_eq!(
            defined_names("pub(crate) async fn parse_version(s: &str) {"),
            ["parse_version"]
        );
        assert_eq!(
            defined_names("impl Display for Version {"),
            ["Display", "Version"]
        );
        assert!(defined_names("    return define(x)").is_empty());
    }

    #[test]
    fn statements_are_judged_against_what_the_tests_check() {
        let empty = statement::from_message("", &[], |_| None);
        // (statement, fail_to_pass, gold, flagged)
        let cases: &[(&str, &[&str], &str, bool)] = &[
            // Clear: the statement says what the tests check.
            (
                "VAT is a cent too low\n\nTax on 1.50 at 19 % should round half up.",
                &["tests/test_invoice.py::test_tax_rounds_half_cents_up"],
                INVOICE_GOLD,
                false,
            ),
            // The behaviour in other words: "parsing" is "parse".
            (
                "Scanner exports with quotes break\n\nParsing a quoted name fails.",
                &["tests/test_importer.py::test_parse_quoted_fields"],
                "",
                false,
            ),
            // Only the file the fix changes connects them: still a basis.
            (
                "Write-offs larger than what is on the shelf\n\nOur stock goes negative.",
                &["tests/test_inventory.py::test_remove_more_than_on_hand_raises"],
                STOCK_GOLD,
                false,
            ),
            // Go, camelCase: "compare" is named.
            (
                "Versions cannot be compared",
                &["TestVersionOrdering/prerelease"],
                GO_GOLD,
                false,
            ),
            // A two-word tooling title over tests of something else.
            (
                "Bump deps",
                &["tests/test_invoice.py::test_tax_rounds_half_cents_up"],
                INVOICE_GOLD,
                true,
            ),
            (
                "ci: lint",
                &["TestVersionOrdering/prerelease"],
                GO_GOLD,
                true,
            ),
            // An empty message.
            (
                &empty.problem,
                &["tests/test_stock.py::test_reserve_is_atomic"],
                STOCK_GOLD,
                true,
            ),
            // Tests and fix that name nothing: nothing to judge by.
            ("Bump deps", &["t1"], "", false),
        ];
        for (text, tests, gold, flagged) in cases {
            let got = unmentioned(text, &ids(tests), gold.as_bytes());
            assert_eq!(got.is_some(), *flagged, "{text:?}: {got:?}");
        }
        let terms = unmentioned(
            "Bump deps",
            &ids(&["tests/test_invoice.py::test_tax_rounds_half_cents_up"]),
            INVOICE_GOLD.as_bytes(),
        )
        .unwrap_or_default();
        assert_eq!(terms, ["invoice", "tax", "rounds", "half", "cents"]);
        let n = note(&terms);
        assert!(
            n.starts_with("no_basis:") && n.contains("--issues DIR"),
            "{n}"
        );
    }

    fn demo() -> crate::config::suite::Suite {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tasks/demo");
        let suite = load_suite(&dir).unwrap();
        assert!(suite.invalid.is_empty(), "{:?}", suite.invalid);
        assert_eq!(suite.tasks.len(), 14);
        suite
    }

    #[test]
    fn no_hand_written_demo_task_is_flagged() {
        for t in demo().tasks {
            let statement = format!("{}\n{}", t.title, t.problem);
            let gold = t.gold.clone().unwrap_or_default();
            assert_eq!(
                unmentioned(&statement, &t.tests.fail_to_pass, &gold),
                None,
                "{}",
                t.id
            );
        }
    }

    /// The rule has bite: a demo task's title put over another demo task's tests and fix
    /// shares no term with them in most pairs (what is left shares the domain: stock,
    /// reserved units, delivery dates).
    #[test]
    fn most_titles_of_other_demo_tasks_are_flagged() {
        let suite = demo();
        let (mut flagged, mut pairs) = (0, 0);
        for t in &suite.tasks {
            let gold = t.gold.clone().unwrap_or_default();
            for other in suite.tasks.iter().filter(|o| o.id != t.id) {
                pairs += 1;
                if unmentioned(&other.title, &t.tests.fail_to_pass, &gold).is_some() {
                    flagged += 1;
                }
            }
        }
        assert_eq!((flagged, pairs), (151, 182));
    }

    /// Each demo task's fix commit in the demo history, its statement as mining makes it
    /// (the message, leak-checked and redacted), judged against the task's tests and fix.
    #[test]
    fn no_statement_mined_from_the_demo_history_is_flagged() {
        let suite = demo();
        let bundle = suite.dir.join("repo.bundle");
        let mirror = Mirror::clone_from(&bundle.to_string_lossy()).unwrap();
        let commits = mirror.walk(false).unwrap();
        let mut judged = 0;
        for t in &suite.tasks {
            let c = commits
                .iter()
                .find(|c| c.parents.first() == Some(&t.base))
                .unwrap_or_else(|| panic!("{}: no commit on {}", t.id, t.base));
            let st = statement::from_message(&c.message, &[], |_| None);
            let gold = t.gold.clone().unwrap_or_default();
            let added = leak::added_identifiers(&gold);
            let present = mirror.present_in_tree(&t.base, &added).unwrap();
            let new: BTreeSet<String> = added.difference(&present).cloned().collect();
            let text = format!("{}\n{}", st.title, st.problem);
            let leaked = leak::leaks(&text, &new);
            let text = leak::redact(&text, &leaked);
            assert_eq!(
                unmentioned(&text, &t.tests.fail_to_pass, &gold),
                None,
                "{}: {text}",
                t.id
            );
            judged += 1;
        }
        assert_eq!(judged, 14);
    }
}
