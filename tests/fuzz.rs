//! Fuzz targets for every parser that reads outside input: the diff parser, the test-output
//! parsers, durations and sizes, the TOML loaders of suites, tasks, agents, judges and
//! `mergebench.toml`, hunk headers (the labeling diff view and `repo::patch`), and the model
//! gateway's readers of provider responses (whole and server-sent events), of its
//! configuration and of its log.
//!
//! Each target mutates a small corpus of real inputs (bit flips, inserted tokens and odd
//! numbers, cut, copied and spliced ranges, multibyte and invalid UTF-8, random bytes) with a
//! seeded generator, so a run is reproducible, and checks that the parser returns instead of
//! panicking and that what it returns holds together. `cargo test --test fuzz` runs a fixed,
//! small number of cases per target; `MERGEBENCH_FUZZ_CASES` runs more and
//! `MERGEBENCH_FUZZ_SEED` another sequence (docs/fuzzing.md).

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use mergebench::config::units::{format_duration, parse_duration, parse_size, MAX_DURATION};
use mergebench::error::Error;
use mergebench::testparse::{self, Format, Output};

// ---------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------

/// Inputs are cut to this size: larger ones only make a case slower.
const MAX_INPUT: usize = 64 * 1024;

/// Numbers and tokens parsers mishandle: limits of the integer types, floats past any
/// range, signs, empty parts.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "65535",
    "65536",
    "2147483647",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999",
    "1e308",
    "1e309",
    "NaN",
    "inf",
    "0.0",
    ".",
    "..",
    "1.",
    ".5",
    "",
];

/// Characters that are more than one byte, invisible, or not UTF-8 at all.
const ODD_BYTES: &[&[u8]] = &[
    "é".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{200b}".as_bytes(),
    "\u{feff}".as_bytes(),
    "😀".as_bytes(),
    "\u{2028}".as_bytes(),
    b"\xff",
    b"\xc3",
    b"\xe2\x80",
    b"\0",
    b"\r",
    b"\r\n",
    b"\t",
    b"\x1b[31m",
    b"\\",
    b"\"",
];

fn cases(default: usize) -> usize {
    std::env::var("MERGEBENCH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn seed(name: &str) -> u64 {
    let base = std::env::var("MERGEBENCH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0x6d65_7267_6562_656e);
    // Each target draws its own sequence from the one seed.
    name.bytes().fold(base, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

struct Gen<'a> {
    rng: StdRng,
    corpus: &'a [Vec<u8>],
    dict: &'a [&'a [u8]],
}

impl Gen<'_> {
    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.rng.gen_range(0..items.len())]
    }

    fn pos(&mut self, v: &[u8]) -> usize {
        self.rng.gen_range(0..=v.len())
    }

    /// Positions just after a newline (or 0), where line-oriented formats start a line.
    fn line_start(&mut self, v: &[u8]) -> usize {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(
                v.iter()
                    .enumerate()
                    .filter(|(_, &b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        *self.pick(&starts)
    }

    fn input(&mut self) -> Vec<u8> {
        if self.rng.gen_ratio(1, 20) {
            let len = self.rng.gen_range(0..256);
            return (0..len).map(|_| self.rng.gen()).collect();
        }
        let mut v = self.pick(self.corpus).clone();
        let rounds = self.rng.gen_range(1..=8);
        for _ in 0..rounds {
            self.mutate(&mut v);
        }
        v.truncate(MAX_INPUT);
        v
    }

    fn mutate(&mut self, v: &mut Vec<u8>) {
        match self.rng.gen_range(0..12) {
            0 if !v.is_empty() => {
                let i = self.rng.gen_range(0..v.len());
                v[i] ^= 1 << self.rng.gen_range(0..8);
            }
            1 if !self.dict.is_empty() => {
                let token = *self.pick(self.dict);
                let at = if self.rng.gen() {
                    self.line_start(v)
                } else {
                    self.pos(v)
                };
                v.splice(at..at, token.iter().copied());
            }
            2 if !v.is_empty() => {
                let a = self.pos(v);
                let b = (a + self.rng.gen_range(0..64)).min(v.len());
                v.drain(a..b);
            }
            3 if !v.is_empty() => {
                let a = self.pos(v);
                let b = (a + self.rng.gen_range(0..256)).min(v.len());
                let copy = v[a..b].to_vec();
                let at = self.pos(v);
                let times = if self.rng.gen_ratio(1, 10) { 50 } else { 1 };
                for _ in 0..times {
                    v.splice(at..at, copy.iter().copied());
                }
            }
            4 => {
                let other = self.pick(self.corpus).clone();
                let from = self.pos(&other);
                let at = self.pos(v);
                v.truncate(at);
                v.extend_from_slice(&other[from..]);
            }
            5 => {
                let n = self.rng.gen_range(1..8);
                let at = self.pos(v);
                let bytes: Vec<u8> = (0..n).map(|_| self.rng.gen()).collect();
                v.splice(at..at, bytes);
            }
            6 => {
                let number = self.pick(NUMBERS).as_bytes();
                let at = self.pos(v);
                v.splice(at..at, number.iter().copied());
            }
            7 => {
                let odd = *self.pick(ODD_BYTES);
                let at = self.pos(v);
                v.splice(at..at, odd.iter().copied());
            }
            8 => {
                // Replace a run of digits with an odd number.
                let digits: Vec<usize> = v
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.is_ascii_digit())
                    .map(|(i, _)| i)
                    .collect();
                if digits.is_empty() {
                    return;
                }
                let start = *self.pick(&digits);
                let end = v[start..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map_or(v.len(), |n| start + n);
                let number = self.pick(NUMBERS).as_bytes();
                v.splice(start..end, number.iter().copied());
            }
            9 => {
                let at = self.pos(v);
                v.truncate(at);
            }
            10 => {
                // Copy a whole line elsewhere, at a line start.
                let a = self.line_start(v);
                let b = v[a..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(v.len(), |n| a + n + 1);
                let line = v[a..b].to_vec();
                let at = self.line_start(v);
                v.splice(at..at, line);
            }
            _ => {
                // An odd character at a line start: a different line kind.
                let at = self.line_start(v);
                let c = *self.pick(b"+- @\\#{<");
                v.insert(at, c);
            }
        }
    }
}

/// Runs `check` on `default_cases` generated inputs (or `MERGEBENCH_FUZZ_CASES`). On a
/// panic the input is written to a file in the temporary folder and named in the failure,
/// with the seed and case that produced it.
fn fuzz(name: &str, corpus: &[&[u8]], dict: &[&[u8]], default_cases: usize, check: impl Fn(&[u8])) {
    let corpus: Vec<Vec<u8>> = corpus.iter().map(|c| c.to_vec()).collect();
    let seed = seed(name);
    let n = cases(default_cases);
    let mut gen = Gen {
        rng: StdRng::seed_from_u64(seed),
        corpus: &corpus,
        dict,
    };
    let started = Instant::now();
    // The corpus itself first: the inputs every mutation starts from must pass.
    let inputs = corpus
        .clone()
        .into_iter()
        .chain((0..n).map(|_| gen.input()));
    for (case, input) in inputs.enumerate() {
        if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(|| check(&input))) {
            let file = std::env::temp_dir().join(format!("mergebench-fuzz-{name}-{seed}-{case}"));
            let saved = std::fs::write(&file, &input).is_ok();
            let shown = String::from_utf8_lossy(&input[..input.len().min(2000)]).into_owned();
            eprintln!(
                "fuzz target {name}: case {case} of seed {seed} panicked; input {}:\n{shown:?}",
                if saved {
                    file.display().to_string()
                } else {
                    "(not saved)".into()
                }
            );
            panic::resume_unwind(panic);
        }
    }
    eprintln!(
        "fuzz target {name}: {n} cases in {:.1}s, seed {seed}, no panic",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------
// Diffs
// ---------------------------------------------------------------------------------------

const PATCH_MODIFY: &[u8] = b"diff --git a/shop/billing/invoice.py b/shop/billing/invoice.py
index 8212605..7f0e22f 100644
--- a/shop/billing/invoice.py
+++ b/shop/billing/invoice.py
@@ -7,7 +7,7 @@ discounted goods plus shipping; see docs/billing.md.
 from dataclasses import dataclass
 from decimal import Decimal
 
-from shop.common.money import CENT, format_money, round_money, to_money
+from shop.common.money import format_money, round_money, to_money
 from shop.common.sku import normalize_sku
 from shop.shipping.rates import quote
 
@@ -65,7 +65,8 @@ class Invoice:
 
     def tax(self) -> Decimal:
         taxable = self.subtotal() - self.discount_amount() + self.shipping
-        return (taxable * TAX_RATES[self.country]).quantize(CENT)
+        # Decimal.quantize() alone rounds half to even; VAT is rounded half up.
+        return round_money(taxable * TAX_RATES[self.country])
 
     def total(self) -> Decimal:
         return self.subtotal() - self.discount_amount() + self.shipping + self.tax()
";

const PATCH_SHAPES: &[u8] = b"diff --git a/new.txt b/new.txt
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+<script>alert(1)</script>
+token = \"AKIAIOSFODNN7EXAMPLE\"
\\ No newline at end of file
diff --git a/old.txt b/old.txt
deleted file mode 100755
index e69de29..0000000
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone\r
diff --git a/a.rs b/b.rs
similarity index 90%
rename from a.rs
rename to b.rs
--- a/a.rs
+++ b/b.rs
@@ -1 +1 @@
-fn main() {}
+fn main() { dbg!(1); }
diff --git \"a/sp ace\\t.py\" \"b/sp ace\\t.py\"
old mode 100644
new mode 100755
diff --git a/img.png b/img.png
Binary files a/img.png and b/img.png differ
diff --git a/link b/link
new file mode 120000
--- /dev/null
+++ b/link
@@ -0,0 +1 @@
+../../etc/passwd
\\ No newline at end of file
diff --git a/Cargo.toml b/Cargo.toml
--- a/Cargo.toml
+++ b/Cargo.toml
@@ -1,3 +1,4 @@
 [dependencies]
-serde = \"1\"
+serde = \"1.0.200\"
+rand = \"0.8\"
 
";

const PATCH_PLAIN: &[u8] = b"--- calc.py\n+++ calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";

const DIFF_TOKENS: &[&[u8]] = &[
    b"diff --git a/x b/x\n",
    b"diff --git \"a/\\303\\251\" \"b/\\303\\251\"\n",
    b"--- a/x\n",
    b"+++ b/x\n",
    b"--- /dev/null\n",
    b"+++ /dev/null\n",
    b"@@ -1 +1 @@\n",
    b"@@ -0,0 +1,3 @@\n",
    b"@@ -4294967295,4294967295 +4294967295,4294967295 @@\n",
    b"@@ -1,99999999999 +1 @@\n",
    b"@@ \xc3\xa9\xc3\xa9 +1 @@\n",
    b"@@@ -1 -1 +1 @@@\n",
    b"@@ -",
    b"@@",
    b"\\ No newline at end of file\n",
    b"new file mode 100644\n",
    b"deleted file mode 100644\n",
    b"rename from a\nrename to b\n",
    b"copy from a\ncopy to b\n",
    b"similarity index 100%\n",
    b"similarity index 99999999999%\n",
    b"old mode 100644\nnew mode 120000\n",
    b"Binary files a/x and b/x differ\n",
    b"GIT binary patch\nliteral 0\n",
    b"index 0000000..1111111 100644\n",
    b"+\xe2\x80\xae x\n",
    b"-\r\n",
    b" \n",
    b"\"",
];

/// Checks the diff parser: parse, walk every line, map lines.
fn check_diff(input: &[u8]) {
    use mergebench::conventions::{self, diff::LineKind};

    let parsed = conventions::diff::parse(input);
    for f in &parsed.files {
        assert!(
            f.old_path.is_some() || f.new_path.is_some(),
            "a file with no path"
        );
        let (mut added, mut removed) = (0u64, 0u64);
        for l in parsed.lines(f) {
            match l.kind {
                LineKind::Added => {
                    added += 1;
                    assert!(l.new_line.is_some() && l.old_line.is_none());
                }
                LineKind::Removed => {
                    removed += 1;
                    assert!(l.old_line.is_some() && l.new_line.is_none());
                }
                LineKind::Context => assert!(l.old_line.is_some() && l.new_line.is_some()),
            }
            assert!(!l.raw.contains(&b'\n'), "a line holds a newline");
            // The line borrows the input.
            let base = input.as_ptr() as usize;
            let at = l.raw.as_ptr() as usize;
            assert!(l.raw.is_empty() || (at >= base && at + l.raw.len() <= base + input.len()));
        }
        assert_eq!(
            (added, removed),
            (f.added, f.removed),
            "counts of {}",
            f.path()
        );
        for old in [0, 1, 2, 7, 100, u32::MAX] {
            let _ = parsed.map_old_line(f, old);
        }
        let _ = f.lines_changed();
        let _ = f.is_symlink();
    }
    assert_eq!(
        parsed.total_added(),
        parsed.files.iter().map(|f| f.added).sum::<u64>()
    );
}

/// Scores a diff with the default rules (which read line numbers, paths and content the
/// parser hands them) and measures its blast radius.
fn check_conventions(input: &[u8]) {
    use mergebench::conventions;

    let parsed = conventions::diff::parse(input);
    let cfg = conventions::ConventionsConfig::default();
    let owners = conventions::Ownership::default();
    let area = vec!["shop/billing/invoice.py".to_string()];
    let base = |_: &str| Some(b"[dependencies]\nserde = \"1\"\n\tindented\r\n".to_vec());
    let report = conventions::score_parsed(&parsed, &cfg, &owners, &area, &base);
    for finding in report.findings() {
        assert!(!finding.rule_id.is_empty(), "a finding without a rule");
    }
    let _ = serde_json::to_string(&report).expect("a report serialises");
    let _ = conventions::blast_radius(
        &parsed,
        &owners,
        &conventions::BlastConfig::default(),
        &|_| None,
    );
}

#[test]
fn diff_parser() {
    fuzz(
        "diff_parser",
        &[PATCH_MODIFY, PATCH_SHAPES, PATCH_PLAIN, b""],
        DIFF_TOKENS,
        1500,
        check_diff,
    );
}

#[test]
fn conventions_rules() {
    // Fewer cases: each one compiles the whole rule set.
    fuzz(
        "conventions_rules",
        &[PATCH_MODIFY, PATCH_SHAPES, PATCH_PLAIN],
        DIFF_TOKENS,
        60,
        check_conventions,
    );
}

/// The labeling app's diff view: parse, paginate, and every line kept once.
fn check_diffview(input: &[u8]) {
    use mergebench::review::web::diffview;

    let text = String::from_utf8_lossy(input);
    let files = diffview::parse(&text);
    let mut lines = 0;
    for f in &files {
        let (mut added, mut removed) = (0, 0);
        for h in &f.hunks {
            assert!(h.header.starts_with("@@"), "hunk header {:?}", h.header);
            for l in &h.lines {
                match l.kind {
                    "add" => added += 1,
                    "del" => removed += 1,
                    "ctx" | "note" => {}
                    other => panic!("line kind {other}"),
                }
            }
            lines += h.lines.len();
        }
        assert_eq!(
            (added, removed),
            (f.added, f.removed),
            "counts of {}",
            f.path
        );
    }
    for max in [1, 3, 200] {
        let pages = diffview::paginate(files.clone(), max);
        assert!(!pages.is_empty());
        let paged: usize = pages
            .iter()
            .flatten()
            .flat_map(|f| &f.hunks)
            .map(|h| h.lines.len())
            .sum();
        assert_eq!(paged, lines, "pagination by {max} lost or repeated lines");
    }
}

#[test]
fn hunk_headers_diffview() {
    fuzz(
        "hunk_headers_diffview",
        &[PATCH_MODIFY, PATCH_SHAPES, PATCH_PLAIN],
        DIFF_TOKENS,
        1500,
        check_diffview,
    );
}

/// `repo::patch`: stats, paths, sections and in-place paths of any bytes.
fn check_repo_patch(input: &[u8]) {
    use mergebench::repo::patch;

    let stats = patch::stats(input);
    let p = patch::Patch::new(input.to_vec());
    assert_eq!(p.stats(), stats);
    let touched = patch::touched_paths(input);
    if p.is_empty() {
        // Only whitespace: nothing changed, nothing touched.
        assert_eq!(stats, patch::DiffStats::default());
        assert!(touched.is_empty());
    }
    for path in &touched {
        assert!(!path.is_empty(), "an empty touched path");
    }
    let sections = patch::sections(input);
    let rejoined: Vec<u8> = sections
        .iter()
        .flat_map(|s| s.bytes.iter().copied())
        .collect();
    assert_eq!(
        rejoined, input,
        "the sections put together are not the patch"
    );
    let _ = patch::in_place_paths(input);
    let _ = patch::unquote(&String::from_utf8_lossy(input));
}

#[test]
fn hunk_headers_repo_patch() {
    fuzz(
        "hunk_headers_repo_patch",
        &[PATCH_MODIFY, PATCH_SHAPES, PATCH_PLAIN],
        DIFF_TOKENS,
        1500,
        check_repo_patch,
    );
}

// ---------------------------------------------------------------------------------------
// Test output
// ---------------------------------------------------------------------------------------

const PYTEST: &[u8] =
    b"============================= test session starts ==============================
collected 5 items

tests/test_invoice.py::test_tax PASSED                                    [ 20%]
tests/test_invoice.py::test_total FAILED                                  [ 40%]

=========================== short test summary info ============================
PASSED tests/test_invoice.py::test_tax
PASSED tests/test_money.py::test_round[1.005-1.01]
FAILED tests/test_invoice.py::test_total - AssertionError: assert 1 == 2
ERROR tests/test_db.py::test_conn - ConnectionError
SKIPPED [1] tests/test_win.py:3: windows only
XFAIL tests/test_x.py::test_known - bug 12
XPASS tests/test_x.py::test_lucky
============== 1 failed, 2 passed, 1 skipped, 1 error in 0.12s ===============
";

const UNITTEST: &[u8] = b"test_add (tests.test_calc.CalcTest.test_add) ... ok
test_sub (tests.test_calc.CalcTest) ... FAIL
test_div (tests.test_calc.CalcTest.test_div)
Divides. ... ERROR
test_win (tests.test_calc.CalcTest.test_win) ... skipped 'windows only'
test_known (tests.test_calc.CalcTest.test_known) ... expected failure

======================================================================
FAIL: test_sub (tests.test_calc.CalcTest.test_sub)
----------------------------------------------------------------------
Traceback (most recent call last):
AssertionError: 1 != 2

----------------------------------------------------------------------
Ran 5 tests in 0.001s

FAILED (failures=1, errors=1, skipped=1, expected failures=1)
";

const CARGO_OUT: &[u8] = b"
running 4 tests
test money::tests::rounds ... ok
test money::tests::parses ... FAILED
test slow::big ... ignored, takes a minute
test sku::it_works - should panic ... ok

failures:

---- money::tests::parses stdout ----
thread 'money::tests::parses' panicked at src/money.rs:10:5

failures:
    money::tests::parses

test result: FAILED. 2 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

";

const CARGO_ERR: &[u8] = b"   Compiling shop v0.1.0 (/workspace)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 1.2s
     Running unittests src/lib.rs (target/debug/deps/shop-1234)
     Running tests/api.rs (target/debug/deps/api-5678)
   Doc-tests shop
error: test failed, to rerun pass `--lib`
";

const GO_JSON: &[u8] = br#"{"Time":"2024-05-02T10:00:00.101Z","Action":"start","Package":"example.com/stock"}
{"Action":"run","Package":"example.com/stock","Test":"TestReserve"}
{"Action":"output","Package":"example.com/stock","Test":"TestReserve","Output":"=== RUN   TestReserve\n"}
{"Action":"pass","Package":"example.com/stock","Test":"TestReserve","Elapsed":0.01}
{"Action":"run","Package":"example.com/stock","Test":"TestReserve/sub_case"}
{"Action":"fail","Package":"example.com/stock","Test":"TestReserve/sub_case","Elapsed":0}
{"Action":"skip","Package":"example.com/stock","Test":"TestWindowsOnly","Elapsed":0}
{"Action":"fail","Package":"example.com/broken","Elapsed":0}
go: downloading example.com/dep v1.2.3
{"Action":"pass","Package":"example.com/stock","Elapsed":0.02}
"#;

const TAP: &[u8] = b"TAP version 13
1..5
ok 1 - adds numbers
not ok 2 - subtracts # TODO later
ok 3 # SKIP no network
not ok 4 - divides
  ---
  message: 'expected 2'
  ...
# Subtest: nested
    ok 1 - inner
    1..1
ok 5 - nested
Bail out! database gone
# tests 5
# pass 3
# fail 1
";

const JUNIT: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" failures="1" errors="1" skipped="1">
  <testsuite name="pytest" tests="5" failures="1" errors="1" skipped="1">
    <testcase classname="tests.test_calc" name="test_add" time="0.001"/>
    <testcase classname="tests.test_calc" name="test_sub"><failure message="1 != 2">trace</failure></testcase>
    <testcase classname="tests.test_calc" name="test_div"><error message="boom"/></testcase>
    <testcase classname="tests.test_calc" name="test_win"><skipped/></testcase>
    <testcase classname="tests.test_calc" name="test_&amp;&lt;x&gt;"><system-out><![CDATA[out]]></system-out></testcase>
  </testsuite>
</testsuites>
"#;

const TEST_TOKENS: &[&[u8]] = &[
    b"PASSED ",
    b"FAILED ",
    b"ERROR ",
    b"SKIPPED ",
    b" ... ok\n",
    b" ... FAIL\n",
    b"Ran 99999999999999999999 tests in 0.1s\n",
    b"OK (skipped=18446744073709551616)\n",
    b"test  ... ok\n",
    b"test result: ok. 18446744073709551615 passed; 1 failed; 0 ignored;\n",
    b"running 99999999999999999999 tests\n",
    b"=== 1 passed, 99999999999999999999 failed in 1s ===\n",
    b"::",
    b"[",
    b"]",
    br#"{"Action":"pass","Test":"","Package":""}"#,
    br#"{"Action":"output","Output":"--- FAIL: TestX (0.00s)\n"}"#,
    br#"{"Action":"#,
    b"\n",
    b"ok 0\n",
    b"not ok 18446744073709551616 - x\n",
    b"1..18446744073709551616\n",
    b"ok - # SKIP\n",
    b"    ",
    b"<testcase name=\"\"/>",
    b"<testcase classname=\"\" name=\"\">",
    b"<skipped/>",
    b"<failure/>",
    b"</testsuite>",
    b"<![CDATA[",
    b"&#0;",
    b"&bogus;",
    b"tests=\"-1\"",
    b"tests=\"18446744073709551616\"",
];

fn check_test_output(format: &Format, stdout: &[u8], stderr: &[u8], report: Option<&[u8]>) {
    let out = Output { stdout, stderr };
    match testparse::parse(format, &out, report) {
        Ok(run) => {
            for pair in run.cases.windows(2) {
                assert!(pair[0].id < pair[1].id, "cases not sorted and unique");
            }
            for case in &run.cases {
                assert!(!case.id.trim().is_empty(), "an empty test id");
                assert_eq!(run.status(&case.id), Some(case.status));
            }
            let json = serde_json::to_string(&run).expect("a run serialises");
            let back: testparse::TestRun = serde_json::from_str(&json).expect("and reads back");
            assert_eq!(back, run);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Splits one input into two streams at a byte the generator chose, so both are fuzzed.
fn two_streams(input: &[u8]) -> (&[u8], &[u8]) {
    match input.iter().position(|&b| b == 0x1e) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, b""),
    }
}

fn joined(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut v = a.to_vec();
    v.push(0x1e);
    v.extend_from_slice(b);
    v
}

#[test]
fn testparse_pytest() {
    fuzz(
        "testparse_pytest",
        &[PYTEST, UNITTEST],
        TEST_TOKENS,
        1500,
        |i| check_test_output(&Format::Pytest, i, b"", None),
    );
}

#[test]
fn testparse_unittest() {
    let merged = joined(b"", UNITTEST);
    fuzz(
        "testparse_unittest",
        &[UNITTEST, &merged, PYTEST],
        TEST_TOKENS,
        1500,
        |i| {
            let (stdout, stderr) = two_streams(i);
            check_test_output(&Format::Unittest, stdout, stderr, None)
        },
    );
}

#[test]
fn testparse_cargo() {
    let both = joined(CARGO_OUT, CARGO_ERR);
    fuzz(
        "testparse_cargo",
        &[&both, CARGO_OUT],
        TEST_TOKENS,
        1500,
        |i| {
            let (stdout, stderr) = two_streams(i);
            check_test_output(&Format::Cargo, stdout, stderr, None)
        },
    );
}

#[test]
fn testparse_go_json() {
    fuzz("testparse_go_json", &[GO_JSON], TEST_TOKENS, 1500, |i| {
        check_test_output(&Format::GoJson, i, b"", None)
    });
}

#[test]
fn testparse_tap() {
    fuzz("testparse_tap", &[TAP], TEST_TOKENS, 1500, |i| {
        check_test_output(&Format::Tap, i, b"", None)
    });
}

#[test]
fn testparse_junit() {
    let format = Format::Junit {
        path: "reports/junit.xml".into(),
    };
    fuzz("testparse_junit", &[JUNIT], TEST_TOKENS, 1500, |i| {
        check_test_output(&format, b"", b"", Some(i))
    });
}

#[test]
fn testparse_format_names() {
    fuzz(
        "testparse_format_names",
        &[b"pytest", b"junit:reports/junit.xml", b"go-json", b"tap"],
        &[b"junit:", b"junit", b" "],
        1500,
        |i| {
            let text = String::from_utf8_lossy(i);
            if let Ok(format) = text.parse::<Format>() {
                // A format reads back from its own name.
                assert_eq!(format.to_string().parse::<Format>().ok(), Some(format));
            }
        },
    );
}

// ---------------------------------------------------------------------------------------
// Durations and sizes
// ---------------------------------------------------------------------------------------

const UNIT_TOKENS: &[&[u8]] = &[
    b"s", b"m", b"h", b"ms", b"k", b"KiB", b"MiB", b"GiB", b"G", b"b", b"kb", b" ", b".",
];

#[test]
fn units_durations() {
    fuzz(
        "units_durations",
        &[b"90s", b"10m", b"1h30m", b"250ms", b"1.5m", b"2h0m5s100ms"],
        UNIT_TOKENS,
        3000,
        |i| {
            let text = String::from_utf8_lossy(i);
            if let Ok(d) = parse_duration(&text) {
                assert!(!d.is_zero() && d <= MAX_DURATION, "{text:?} gave {d:?}");
                // What the tables print reads back, to the minute it shows (under a minute
                // it is rounded to a tenth of a second, above it cut to the minute).
                if d >= Duration::from_secs(1) {
                    let shown = format_duration(d);
                    let back = parse_duration(&shown)
                        .unwrap_or_else(|e| panic!("{shown:?} (from {text:?}): {e}"));
                    let off = back.abs_diff(d);
                    assert!(off < Duration::from_secs(60), "{shown:?} from {text:?}");
                }
            }
        },
    );
}

#[test]
fn units_durations_round_trip() {
    // Well-formed durations built from parts parse to exactly their sum.
    let mut rng = StdRng::seed_from_u64(seed("units_durations_round_trip"));
    let started = Instant::now();
    let n = cases(3000);
    for _ in 0..n {
        let (h, m, s, ms): (u64, u64, u64, u64) = (
            rng.gen_range(0..9000),
            rng.gen_range(0..600),
            rng.gen_range(0..6000),
            rng.gen_range(0..5000),
        );
        let mut text = String::new();
        for (value, unit) in [(h, "h"), (m, "m"), (s, "s"), (ms, "ms")] {
            if value > 0 || rng.gen_ratio(1, 4) {
                text.push_str(&format!("{value}{unit}"));
            }
        }
        let want = Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + ms);
        match parse_duration(&text) {
            Ok(d) => assert_eq!(d, want, "{text:?}"),
            Err(e) => assert!(
                text.is_empty() || want.is_zero() || want > MAX_DURATION,
                "{text:?} refused: {e}"
            ),
        }
    }
    eprintln!(
        "fuzz target units_durations_round_trip: {n} cases in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn units_sizes() {
    fuzz(
        "units_sizes",
        &[b"512MiB", b"4GiB", b"1G", b"100k", b"1048576", b"1.5 GiB"],
        UNIT_TOKENS,
        3000,
        |i| {
            let text = String::from_utf8_lossy(i);
            if let Ok(bytes) = parse_size(&text) {
                assert!(bytes < u64::MAX, "{text:?}");
            }
        },
    );
    // Whole numbers with a unit are exact.
    let mut rng = StdRng::seed_from_u64(seed("units_sizes_exact"));
    for _ in 0..cases(3000) {
        let (unit, mult) = *[
            ("", 1u64),
            ("k", 1000),
            ("KiB", 1 << 10),
            ("MiB", 1 << 20),
            ("G", 1_000_000_000),
            ("GiB", 1 << 30),
        ]
        .get(rng.gen_range(0..6))
        .expect("in range");
        let n: u64 = rng.gen_range(0..(1u64 << 52) / mult);
        assert_eq!(parse_size(&format!("{n}{unit}")), Ok(n * mult), "{n}{unit}");
    }
}

// ---------------------------------------------------------------------------------------
// TOML files
// ---------------------------------------------------------------------------------------

const SUITE_TOML: &[u8] = include_bytes!("../tasks/demo/suite.toml");
const TASK_TOML: &[u8] = include_bytes!("../tasks/demo/billing-001/task.toml");
const AGENT_ORACLE: &[u8] = include_bytes!("../harness/agents/oracle.toml");
const AGENT_REFERENCE: &[u8] = include_bytes!("../harness/agents/reference.toml");
const JUDGE_REVIEW: &[u8] = include_bytes!("../judges/merge-review.toml");
const JUDGE_HEURISTIC: &[u8] = include_bytes!("../judges/heuristic.toml");

const TOML_TOKENS: &[&[u8]] = &[
    b"[tests]\n",
    b"[repo]\n",
    b"[scope]\n",
    b"[conventions]\n",
    b"[[conventions.custom]]\n",
    b"[limits]\n",
    b"[env]\n",
    b"[budget]\n",
    b"[[rubric]]\n",
    b"timeout = \"99999999999999999999h\"\n",
    b"timeout = \"0s\"\n",
    b"timeout = 5\n",
    b"memory = \"18446744073709551616\"\n",
    b"memory = \"1e400GiB\"\n",
    b"cpus = nan\n",
    b"cpus = -1.0\n",
    b"samples = 0\n",
    b"temperature = inf\n",
    b"problem = \"../../../../etc/passwd\"\n",
    b"problem = \"/dev/zero\"\n",
    b"patch = \"\"\n",
    b"files = [\"../x\"]\n",
    b"dockerfile = \"/\"\n",
    b"format = \"junit:\"\n",
    b"format = \"tap\"\n",
    b"pattern = \"(\"\n",
    b"paths = [\"[\"]\n",
    b"id = \"\"\n",
    b"id = \"a/../b\"\n",
    b"network = { allow = [\"\"] }\n",
    b"network = { allow = [\"${X:-}\"] }\n",
    b"secrets = [\"?\"]\n",
    b"\"${",
    b"\"\"\"",
    b"'''",
    b"= ",
    b"\n",
    b"#",
];

/// A scratch suite: `suite.toml`, one task folder and the files they name.
fn write_suite(dir: &Path, suite: &[u8], task: &[u8]) {
    let t = dir.join("t-001");
    std::fs::create_dir_all(dir.join("env")).expect("scratch folder");
    std::fs::create_dir_all(&t).expect("scratch folder");
    for (path, bytes) in [
        (dir.join("suite.toml"), suite),
        (dir.join("repo.bundle"), b"".as_slice()),
        (dir.join("env/Dockerfile"), b"FROM scratch\n"),
        (t.join("task.toml"), task),
        (t.join("problem.md"), b"# VAT\nRounds down.\n"),
        (t.join("gold.patch"), PATCH_MODIFY),
        (t.join("tests.patch"), PATCH_PLAIN),
    ] {
        std::fs::write(path, bytes).expect("scratch file");
    }
}

fn check_input_error(e: &Error) {
    let text = e.to_string();
    assert!(!text.trim().is_empty(), "an empty error");
    if let Error::Input { file, fix, .. } = e {
        assert!(
            !file.as_os_str().is_empty(),
            "an input error names no file: {text}"
        );
        assert!(
            !fix.trim().is_empty(),
            "an input error names no fix: {text}"
        );
    }
}

#[test]
fn toml_suite_and_task() {
    let dir = tempfile::tempdir().expect("scratch folder");
    // The input is suite.toml and task.toml, separated by a record separator.
    let both = joined(SUITE_TOML, TASK_TOML);
    fuzz("toml_suite_and_task", &[&both], TOML_TOKENS, 400, |i| {
        let (suite, task) = two_streams(i);
        write_suite(dir.path(), suite, task);
        match mergebench::config::suite::load_suite(dir.path()) {
            Ok(s) => {
                assert!(!s.name.is_empty(), "a suite without a name");
                for t in &s.tasks {
                    assert!(!t.id.trim().is_empty(), "a task without an id");
                    assert_eq!(t.hash.len(), 64, "task hash {:?}", t.hash);
                    assert!(!t.tests.timeout.is_zero() && t.tests.timeout <= MAX_DURATION);
                }
                for e in &s.invalid {
                    check_input_error(e);
                }
            }
            Err(e) => check_input_error(&e),
        }
    });
}

#[test]
fn toml_agent() {
    let dir = tempfile::tempdir().expect("scratch folder");
    std::fs::write(dir.path().join("oracle.sh"), "#!/bin/sh\n").expect("scratch file");
    std::fs::create_dir_all(dir.path().join("reference")).expect("scratch folder");
    std::fs::write(dir.path().join("reference/Dockerfile"), "FROM scratch\n")
        .expect("scratch file");
    let file = dir.path().join("agent.toml");
    fuzz(
        "toml_agent",
        &[AGENT_ORACLE, AGENT_REFERENCE],
        TOML_TOKENS,
        1000,
        |i| {
            std::fs::write(&file, i).expect("scratch file");
            match mergebench::config::agent::load_agent(&file) {
                Ok(a) => {
                    assert!(!a.name.trim().is_empty(), "an agent without a name");
                    assert!(!a.timeout.is_zero() && a.timeout <= MAX_DURATION);
                    assert!(a.cpus.is_finite() && a.cpus > 0.0, "cpus {}", a.cpus);
                    for (host, _) in &a.files {
                        assert!(host.starts_with(dir.path()), "{} escapes", host.display());
                    }
                }
                Err(e) => check_input_error(&e),
            }
        },
    );
}

#[test]
fn toml_judge() {
    let dir = tempfile::tempdir().expect("scratch folder");
    for name in [
        "merge-review.system.j2",
        "merge-review.user.j2",
        "merge-review.pairwise.j2",
        "statement-rewrite.system.j2",
        "statement-rewrite.user.j2",
        "heuristic-reviewer.py",
    ] {
        std::fs::copy(Path::new("judges").join(name), dir.path().join(name)).expect("judge file");
    }
    let file = dir.path().join("judge.toml");
    fuzz(
        "toml_judge",
        &[JUDGE_REVIEW, JUDGE_HEURISTIC],
        TOML_TOKENS,
        600,
        |i| {
            std::fs::write(&file, i).expect("scratch file");
            match mergebench::judge::spec::load_judge(&file) {
                Ok(j) => {
                    assert!(!j.name.trim().is_empty(), "a judge without a name");
                    assert!(j.samples > 0, "no samples");
                    assert!(j.temperature.is_finite(), "temperature {}", j.temperature);
                }
                Err(e) => check_input_error(&e),
            }
        },
    );
}

#[test]
fn toml_conventions() {
    let repo_cfg: &[u8] = b"[conventions]
test_files = { severity = \"error\" }
max_files = { limit = 8, severity = \"error\" }
debug_statements = { allow = [\"println!\"] }

[[conventions.custom]]
id = \"float-money\"
pattern = '\\bfloat\\('
message = \"money is Decimal\"
severity = \"error\"
paths = [\"shop/**\"]

[ownership]
\"shop/**\" = \"shop-team\"

[blast_radius]
shared = [\"shop/common/**\"]
";
    fuzz(
        "toml_conventions",
        &[repo_cfg, SUITE_TOML],
        TOML_TOKENS,
        800,
        |i| {
            let text = String::from_utf8_lossy(i);
            match mergebench::conventions::Config::from_toml(&text, "mergebench.toml") {
                // A configuration that loads scores a patch without a config error.
                Ok(cfg) => {
                    let owners = mergebench::conventions::Ownership::default();
                    let report = mergebench::conventions::score(
                        PATCH_MODIFY,
                        &cfg.conventions,
                        &owners,
                        &[],
                        &|_| None,
                    );
                    assert!(
                        report
                            .findings()
                            .iter()
                            .all(|f| f.rule_id != "config.invalid"),
                        "a loaded configuration did not compile"
                    );
                }
                Err(e) => assert!(!e.to_string().trim().is_empty()),
            }
        },
    );
}

// ---------------------------------------------------------------------------------------
// The model gateway: provider responses, its configuration, its log
// ---------------------------------------------------------------------------------------

const SSE_CHAT: &[u8] = b"data: {\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"prompt_tokens_details\":{\"cached_tokens\":2}}}\n\ndata: [DONE]\n\n";
const SSE_RESPONSES: &[u8] = b"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"m\",\"usage\":{\"input_tokens\":11,\"output_tokens\":4,\"input_tokens_details\":{\"cached_tokens\":2}}}}\n\n";
const SSE_ANTHROPIC: &[u8] = b"event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"c\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":3,\"output_tokens\":1}}}\r\n\r\nevent: message_delta\r\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":25}}\r\n\r\n";
const BODY_CHAT: &[u8] = b"{\"model\":\"m\",\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":30,\"prompt_tokens_details\":{\"cached_tokens\":100}}}";
const SSE_TOKENS: &[&[u8]] = &[
    b"data: ",
    b"data:",
    b"event: ",
    b"\n",
    b"\r\n",
    b"\r",
    b"\n\n",
    b": c\n",
    b"[DONE]",
    b"\"usage\":",
    b"null",
    b"{",
    b"}",
    b"\"input_tokens\":",
    b"-1",
    b"9223372036854775807",
    b"1e309",
    b"\"type\":\"message_delta\"",
];

#[test]
fn gateway_usage() {
    use mergebench::gateway::usage::{from_body, StreamMeter, WireApi};
    let apis = [
        WireApi::OpenaiChat,
        WireApi::OpenaiResponses,
        WireApi::AnthropicMessages,
        WireApi::Other,
    ];
    fuzz(
        "gateway_usage",
        &[SSE_CHAT, SSE_RESPONSES, SSE_ANTHROPIC, BODY_CHAT],
        SSE_TOKENS,
        1500,
        |i| {
            for api in apis {
                let _ = from_body(api, i);
                let mut whole = StreamMeter::new(api);
                whole.push(i);
                let whole = whole.finish();
                // Chunks split anywhere measure what the whole stream measures.
                let at = i.len() / 3;
                let mut split = StreamMeter::new(api);
                split.push(&i[..at]);
                split.push(&i[at..]);
                assert_eq!(split.finish(), whole, "split at {at}");
            }
        },
    );
}

#[test]
fn gateway_config_and_log() {
    let config: &[u8] = br#"{"listen":"0.0.0.0:8090","upstream":"https://api.openai.com/v1","api":"openai","token":"t","key_env":"OPENAI_API_KEY","budget":{"requests":5,"tokens":100,"cost_usd":1.5},"prices":{"*":{"input":1,"output":2,"cached_input":0.5}},"pin_model":"m","log":"/l","trajectory":"/t"}"#;
    let log: &[u8] = br#"{"seq":1,"at":"2025-01-01T00:00:00Z","path":"/v1/messages","api":"anthropic-messages","model":"c","stream":true,"status":200,"latency_ms":1.5,"first_byte_ms":0.5,"input_tokens":10,"output_tokens":5,"cached_tokens":2,"cost_usd":0.1,"refused":null,"error":null}
{"seq":2,"at":"2025-01-01T00:00:01Z","path":"/v1/messages","api":"anthropic-messages","model":null,"stream":false,"status":400,"latency_ms":0.1,"first_byte_ms":null,"input_tokens":null,"output_tokens":null,"cached_tokens":null,"cost_usd":null,"refused":"budget:cost","error":null}
"#;
    fuzz(
        "gateway_config_and_log",
        &[config, log],
        &[
            b"\"", b"{", b"}", b":", b",", b"null", b"\n", b"-1", b"1e309", b"0",
        ],
        1500,
        |i| {
            let text = String::from_utf8_lossy(i);
            match mergebench::gateway::GatewayConfig::parse(&text, Path::new("gateway.json")) {
                Ok(c) => {
                    assert!(c.upstream_origin().is_ok());
                    assert!(c.budget.cost_usd.is_none_or(|v| v.is_finite() && v > 0.0));
                }
                Err(e) => check_input_error(&e),
            }
            let m = mergebench::gateway::summarize(i);
            let lines = i.split(|&b| b == b'\n').count() as u64;
            assert!(m.requests + m.refused + m.unreadable_lines <= lines);
            assert!(m.refused_model <= m.refused);
        },
    );
}
