//! Real Docker, real registries (through the machine's CA bundle), default options: histories
//! that look like real ones in four ecosystems, each with dependencies, mined with nothing
//! beyond `--max`, validated, and run with the oracle (resolves every task) and noop (none).
//!
//! - a Python package with a `src/` layout and a PyPI test dependency;
//! - a Rust crate with a crates.io dependency, unit tests beside the code and a tests/ file;
//! - a Go module with `_test.go` files beside the code;
//! - a TypeScript library tested with vitest (npm, with a lockfile);
//! - JavaScript libraries tested with jest (JUnit), mocha and node's own runner (TAP), whose
//!   reports carry no file path.
//! - a Python package that gains a dependency mid-history: older tasks get an environment
//!   of their own.

use crate::fixture::{bin, git, oracle_and_noop, write};
use std::path::{Path, PathBuf};
use std::process::Command;

const CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A repository built commit by commit: each step writes files, then commits.
struct History {
    dir: PathBuf,
    day: u32,
}

impl History {
    fn new(dir: &Path) -> History {
        std::fs::create_dir_all(dir).unwrap();
        git(dir, &["init", "-q", "-b", "main"]);
        History {
            dir: dir.to_path_buf(),
            day: 1,
        }
    }

    fn commit(&mut self, message: &str, files: &[(&str, &str)]) {
        for (path, text) in files {
            write(&self.dir, path, text);
        }
        git(&self.dir, &["add", "-A"]);
        let date = format!("2026-03-{:02}T10:00:00Z", self.day);
        self.day += 1;
        let out = Command::new("git")
            .current_dir(&self.dir)
            .args(["commit", "-qm", message])
            .env("GIT_AUTHOR_NAME", "dev")
            .env("GIT_AUTHOR_EMAIL", "dev@example.com")
            .env("GIT_COMMITTER_NAME", "dev")
            .env("GIT_COMMITTER_EMAIL", "dev@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        crate::fixture::succeeded(&out);
    }
}

/// Runs mergebench in `dir`; returns (exit code, stdout, stderr).
fn mergebench(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bin()
        .args(args)
        .current_dir(dir)
        .env("MERGEBENCH_CA_BUNDLE", CA)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes package-lock.json for the package in `repo` (resolved through the registry,
/// nothing installed).
fn npm_lockfile(repo: &Path) {
    let lock = Command::new("npm")
        .current_dir(repo)
        .args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
        ])
        .output()
        .unwrap();
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
}

/// Mines `repo` with default options (only `--max`), then validates the suite and runs the
/// oracle and noop on it. Returns how many tasks were written.
fn mine_validate_run(work: &Path, repo: &Path, max: usize) -> usize {
    std::fs::create_dir_all(work).unwrap();
    let suite = work.join("suite");
    let db = work.join("m.db");
    let (code, out, err) = mergebench(
        work,
        &[
            "--db",
            db.to_str().unwrap(),
            "tasks",
            "mine",
            "--json",
            "--repo",
            repo.to_str().unwrap(),
            "--out",
            suite.to_str().unwrap(),
            "--max",
            &max.to_string(),
        ],
    );
    assert_eq!(code, 0, "tasks mine failed:\n{err}\n{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let written = report["written"].as_array().unwrap().len();
    // Every dropped candidate carries its cause.
    for c in report["commits"].as_array().unwrap() {
        if c["reason"].is_string() && c["reached"] != "scanned" {
            assert!(c["cause"].is_string(), "a drop without a cause: {c}");
        }
    }
    let fates: Vec<String> = report["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} | {} | {} | {}",
                c["subject"], c["reached"], c["reason"], c["evidence"]
            )
        })
        .collect();
    assert!(
        written >= 2,
        "{written} tasks written from {}:\n{}\n{err}",
        repo.display(),
        fates.join("\n")
    );
    let toml = std::fs::read_to_string(suite.join("suite.toml")).unwrap();
    assert!(
        toml.contains("ca_bundle"),
        "the CA bundle is recorded: {toml}"
    );

    let (code, out, err) = mergebench(
        work,
        &[
            "tasks",
            "validate",
            "--json",
            "--suite",
            suite.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "tasks validate rejects mined tasks:\n{out}\n{err}");

    let agents = work.join("agents");
    oracle_and_noop(&agents);
    let (code, out, err) = mergebench(
        work,
        &[
            "--db",
            db.to_str().unwrap(),
            "run",
            "--json",
            "--suite",
            suite.to_str().unwrap(),
            "--agents-dir",
            agents.to_str().unwrap(),
            "--agent",
            "oracle",
            "noop",
        ],
    );
    assert_eq!(code, 0, "run failed:\n{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    for a in r["attempts"].as_array().unwrap() {
        match a["agent"].as_str().unwrap() {
            "oracle" => {
                assert_eq!(a["outcome"], "resolved", "{a}");
                assert_eq!(a["flags"]["tests_forged"], false, "{a}");
                // Every one of these runners carries the grading canaries.
                assert_eq!(a["flags"]["unverified"], false, "{a}");
            }
            _ => assert_ne!(a["outcome"], "resolved", "{a}"),
        }
    }
    written
}

#[test]
fn a_python_package_with_a_src_layout_and_a_pypi_test_dependency() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let mut h = History::new(&repo);
    // Its dependencies are set on the day six joins them in `cart_history`, so both proposals
    // resolve packages as of the same day and share one image.
    h.day = 2;
    h.commit(
        "Start the cart package",
        &[
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"cart\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\n\n[project.optional-dependencies]\ntest = [\"pytest\", \"six==1.16.0\"]\n\n[tool.setuptools.packages.find]\nwhere = [\"src\"]\n",
            ),
            ("src/cart/__init__.py", ""),
            (
                "src/cart/money.py",
                "import six\n\n\ndef cents(amount):\n    return int(amount * 100)\n\n\ndef label(amount):\n    return six.text_type(amount) + ' EUR'\n",
            ),
            (
                "tests/test_money.py",
                "import six\nfrom cart.money import cents, label\n\n\ndef test_cents():\n    assert cents(2) == 200\n\n\ndef test_label():\n    assert isinstance(label(1), six.text_type)\n",
            ),
        ],
    );
    h.commit(
        "Round cents half up instead of truncating",
        &[
            (
                "src/cart/money.py",
                "import six\nfrom decimal import Decimal, ROUND_HALF_UP\n\n\ndef cents(amount):\n    return int((Decimal(str(amount)) * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP))\n\n\ndef label(amount):\n    return six.text_type(amount) + ' EUR'\n",
            ),
            (
                "tests/test_money.py",
                "import six\nfrom cart.money import cents, label\n\n\ndef test_cents():\n    assert cents(2) == 200\n\n\ndef test_label():\n    assert isinstance(label(1), six.text_type)\n\n\ndef test_cents_round_half_up():\n    assert cents(0.125) == 13\n    assert cents(19.99) == 1999\n",
            ),
        ],
    );
    h.commit(
        "Labels show two decimals, as invoices do",
        &[
            (
                "src/cart/money.py",
                "import six\nfrom decimal import Decimal, ROUND_HALF_UP\n\n\ndef cents(amount):\n    return int((Decimal(str(amount)) * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP))\n\n\ndef label(amount):\n    return six.text_type('%.2f' % amount) + ' EUR'\n",
            ),
            (
                "tests/test_money.py",
                "import six\nfrom cart.money import cents, label\n\n\ndef test_cents():\n    assert cents(2) == 200\n\n\ndef test_label():\n    assert isinstance(label(1), six.text_type)\n\n\ndef test_cents_round_half_up():\n    assert cents(0.125) == 13\n    assert cents(19.99) == 1999\n\n\ndef test_label_two_decimals():\n    assert label(3) == '3.00 EUR'\n",
            ),
        ],
    );
    mine_validate_run(&tmp.path().join("work"), &repo, 5);
}

/// The cart package of the test above, in five commits: two fixes while its test extra is
/// `first_test_extra`, then six joins it (as in the test above, on the same day, so that
/// packages resolve as of the same day and the environment image built there is used
/// again) and a fix that uses it.
fn cart_history(repo: &Path, first_test_extra: &str) {
    let mut h = History::new(repo);
    let pyproject = |test: &str| {
        format!("[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"cart\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\n\n[project.optional-dependencies]\ntest = [{test}]\n\n[tool.setuptools.packages.find]\nwhere = [\"src\"]\n")
    };
    let before = pyproject(first_test_extra);
    let after = pyproject("\"pytest\", \"six==1.16.0\"");
    let cents = |body: &str| {
        format!("from decimal import Decimal, ROUND_HALF_UP\n\n\ndef cents(amount):\n    {body}\n")
    };
    let round =
        "return int((Decimal(str(amount)) * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP))";
    let comma = "return int((Decimal(str(amount).replace(',', '.')) * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP))";
    let tests = |more: &[&str]| {
        let mut t = String::from(
            "from cart.money import cents\n\n\ndef test_cents():\n    assert cents(2) == 200\n",
        );
        for m in more {
            t.push_str(m);
        }
        t
    };
    let half_up = "\n\ndef test_cents_round_half_up():\n    assert cents(0.125) == 13\n";
    let with_comma = "\n\ndef test_cents_with_a_decimal_comma():\n    assert cents('1,5') == 150\n";
    h.day = 1;
    h.commit(
        "Start the cart package",
        &[
            ("pyproject.toml", &before),
            ("src/cart/__init__.py", ""),
            ("src/cart/money.py", &cents("return int(amount * 100)")),
            ("tests/test_money.py", &tests(&[])),
        ],
    );
    h.day = 1;
    h.commit(
        "Round cents half up instead of truncating",
        &[
            ("src/cart/money.py", &cents(round)),
            ("tests/test_money.py", &tests(&[half_up])),
        ],
    );
    h.day = 2;
    h.commit(
        "Read amounts written with a decimal comma",
        &[
            ("src/cart/money.py", &cents(comma)),
            ("tests/test_money.py", &tests(&[half_up, with_comma])),
        ],
    );
    let label = |fmt: &str| {
        format!(
            "import six\n{}\n\ndef label(amount):\n    return six.text_type({fmt}) + ' EUR'\n",
            cents(comma)
        )
    };
    h.day = 2;
    h.commit(
        "Depend on six for labels",
        &[
            ("pyproject.toml", &after),
            ("src/cart/money.py", &label("amount")),
        ],
    );
    h.day = 3;
    h.commit(
        "Labels show two decimals, as invoices do",
        &[
            ("src/cart/money.py", &label("'%.2f' % amount")),
            (
                "tests/test_money.py",
                &format!(
                    "{}\n\ndef test_label_two_decimals():\n    from cart.money import label\n    assert label(3) == '3.00 EUR'\n",
                    tests(&[half_up, with_comma])
                ),
            ),
        ],
    );
}

#[test]
fn dependencies_that_change_over_history_give_older_tasks_an_environment_of_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    // Before six joined the test extra, pytest was all the package needed.
    cart_history(&repo, "\"pytest\"");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // Mined, validated, the oracle resolves every task and noop none.
    assert_eq!(mine_validate_run(&work, &repo, 5), 3);

    let suite = work.join("suite");
    let envs: Vec<PathBuf> = std::fs::read_dir(suite.join("envs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        envs.len(),
        1,
        "one environment for both older tasks: {envs:?}"
    );
    let own = std::fs::read_to_string(envs[0].join("Dockerfile")).unwrap();
    let head = std::fs::read_to_string(suite.join("env/Dockerfile")).unwrap();
    assert!(
        head.contains("six==1.16.0") && !own.contains("six"),
        "{own}"
    );
    let key = envs[0].file_name().unwrap().to_str().unwrap();
    let mined = mergebench::config::suite::load_suite(&suite).unwrap();
    // (subject, whether the parent commit has six)
    let cases = [
        ("Round cents half up instead of truncating", false),
        ("Read amounts written with a decimal comma", false),
        ("Labels show two decimals, as invoices do", true),
    ];
    let by_title = |title: &str| mined.tasks.iter().find(|t| t.title == title).unwrap();
    for (title, six) in cases {
        let task = by_title(title);
        let toml = std::fs::read_to_string(&task.file).unwrap();
        let dockerfile = format!("dockerfile = \"../envs/{key}/Dockerfile\"");
        assert_eq!(toml.contains(&dockerfile), !six, "{title}:\n{toml}");
        assert_eq!(toml.contains("[environment]"), !six, "{title}:\n{toml}");
    }
    // Tasks with the same dependencies share one image's key; the others differ.
    let hash = |title: &str| by_title(title).environment.context_hash.clone();
    assert_eq!(hash(cases[0].0), hash(cases[1].0));
    assert_ne!(hash(cases[0].0), hash(cases[2].0));
}

#[test]
fn an_environment_of_their_own_that_does_not_build_is_tried_once_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    // Before six joined the test extra, it named a package no index has.
    cart_history(
        &repo,
        "\"pytest\", \"mergebench-no-such-package-anywhere==0.0.1\"",
    );
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let suite = work.join("suite");
    let db = work.join("m.db");
    let (code, out, err) = mergebench(
        &work,
        &[
            "--db",
            db.to_str().unwrap(),
            "tasks",
            "mine",
            "--json",
            "--repo",
            repo.to_str().unwrap(),
            "--out",
            suite.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "tasks mine failed:\n{err}\n{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["written"].as_array().unwrap().len(), 1, "{out}");
    let envs: Vec<PathBuf> = std::fs::read_dir(suite.join("envs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(envs.len(), 1, "{envs:?}");
    let key = envs[0].file_name().unwrap().to_str().unwrap().to_string();
    // Both older candidates are dropped for it, and their reason names it; it was built once.
    for subject in [
        "Round cents half up instead of truncating",
        "Read amounts written with a decimal comma",
    ] {
        let fate = report["commits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["subject"] == subject)
            .unwrap();
        assert_eq!(fate["cause"], "image_build_failed", "{fate}");
        let reason = fate["reason"].as_str().unwrap();
        assert!(reason.contains(&format!("envs/{key}/")), "{reason}");
    }
    let builds = |err: &str| {
        err.lines()
            .filter(|l| l.starts_with("building image") && l.contains(&format!("envs/{key}/")))
            .count()
    };
    assert_eq!(builds(&err), 1, "{err}");

    // Two tasks that use it: `tasks validate` tries it once too, and reports both.
    let written = report["written"][0].as_str().unwrap();
    let toml = std::fs::read_to_string(suite.join(written).join("task.toml")).unwrap();
    for copy in ["uses-the-broken-one", "uses-it-too"] {
        let text = toml.replace(&format!("\"{written}\""), &format!("\"{copy}\""))
            + &format!("\n[environment]\ndockerfile = \"../envs/{key}/Dockerfile\"\n");
        write(&suite, &format!("{copy}/task.toml"), &text);
        for f in ["problem.md", "gold.patch", "tests.patch"] {
            std::fs::copy(suite.join(written).join(f), suite.join(copy).join(f)).unwrap();
        }
    }
    let (code, out, err) = mergebench(
        &work,
        &[
            "tasks",
            "validate",
            "--json",
            "--suite",
            suite.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert_eq!(builds(&err), 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for copy in ["uses-the-broken-one", "uses-it-too"] {
        let t = v
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task"] == copy)
            .unwrap_or_else(|| panic!("{copy} in {out}"));
        assert_eq!(t["valid"], false, "{t}");
        assert!(
            t["problems"][0]
                .as_str()
                .unwrap()
                .contains("image build failed"),
            "{t}"
        );
    }
}

#[test]
fn a_rust_crate_with_a_crates_io_dependency_and_unit_tests_beside_the_code() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let mut h = History::new(&repo);
    let manifest = "[package]\nname = \"ledger\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nitoa = \"1\"\n";
    let lib0 = "/// Formats an amount of cents as `12.34`.\npub fn format(cents: u64) -> String {\n    let mut b = itoa::Buffer::new();\n    b.format(cents).to_string()\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn formats_zero() {\n        assert_eq!(format(0).is_empty(), false);\n    }\n}\n";
    h.commit(
        "Start the ledger crate",
        &[
            ("Cargo.toml", manifest),
            ("src/lib.rs", lib0),
            (".gitignore", "/target\n"),
        ],
    );
    // A lockfile, as real crates have: generated from the registry once.
    let lock = Command::new("cargo")
        .current_dir(&repo)
        .args(["generate-lockfile"])
        .output()
        .unwrap();
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    h.commit("Add the lockfile", &[]);
    let lib1 = "/// Formats an amount of cents as `12.34`.\npub fn format(cents: u64) -> String {\n    let mut b = itoa::Buffer::new();\n    let whole = b.format(cents / 100).to_string();\n    format!(\"{whole}.{:02}\", cents % 100)\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn formats_zero() {\n        assert_eq!(format(0).is_empty(), false);\n    }\n\n    #[test]\n    fn formats_cents_with_two_decimals() {\n        assert_eq!(format(1234), \"12.34\");\n        assert_eq!(format(5), \"0.05\");\n    }\n}\n";
    h.commit(
        "Show cents with two decimals instead of a bare number",
        &[("src/lib.rs", lib1)],
    );
    h.commit(
        "Negative balances are written with a minus sign",
        &[
            (
                "src/balance.rs",
                "/// A signed balance in cents, formatted like `-1.50`.\npub fn signed(cents: i64) -> String {\n    let sign = if cents < 0 { \"-\" } else { \"\" };\n    format!(\"{sign}{}\", crate::format(cents.unsigned_abs()))\n}\n",
            ),
            (
                "src/lib.rs",
                &format!("pub mod balance;\n\n{lib1}"),
            ),
            (
                "tests/balance.rs",
                "#[test]\nfn negative_balances_have_a_minus_sign() {\n    assert_eq!(ledger::balance::signed(-150), \"-1.50\");\n    assert_eq!(ledger::balance::signed(7), \"0.07\");\n}\n",
            ),
        ],
    );
    mine_validate_run(&tmp.path().join("work"), &repo, 5);
}

#[test]
fn a_go_module_with_tests_beside_the_code() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let mut h = History::new(&repo);
    h.commit(
        "Start the stock module",
        &[
            ("go.mod", "module example.com/stock\n\ngo 1.19\n"),
            (
                "stock/stock.go",
                "package stock\n\n// Stock counts items per SKU.\ntype Stock struct{ items map[string]int }\n\nfunc New() *Stock { return &Stock{items: map[string]int{}} }\n\n// Add puts n items of sku in stock.\nfunc (s *Stock) Add(sku string, n int) { s.items[sku] += n }\n\n// Count is how many items of sku are in stock.\nfunc (s *Stock) Count(sku string) int { return s.items[sku] }\n\n// Reserve takes n items of sku out of stock.\nfunc (s *Stock) Reserve(sku string, n int) bool {\n\ts.items[sku] -= n\n\treturn true\n}\n",
            ),
            (
                "stock/stock_test.go",
                "package stock\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\ts := New()\n\ts.Add(\"a\", 2)\n\tif s.Count(\"a\") != 2 {\n\t\tt.Fatal(s.Count(\"a\"))\n\t}\n}\n",
            ),
        ],
    );
    h.commit(
        "Reserving more than is in stock must fail and change nothing",
        &[
            (
                "stock/stock.go",
                "package stock\n\n// Stock counts items per SKU.\ntype Stock struct{ items map[string]int }\n\nfunc New() *Stock { return &Stock{items: map[string]int{}} }\n\n// Add puts n items of sku in stock.\nfunc (s *Stock) Add(sku string, n int) { s.items[sku] += n }\n\n// Count is how many items of sku are in stock.\nfunc (s *Stock) Count(sku string) int { return s.items[sku] }\n\n// Reserve takes n items of sku out of stock.\nfunc (s *Stock) Reserve(sku string, n int) bool {\n\tif s.items[sku] < n {\n\t\treturn false\n\t}\n\ts.items[sku] -= n\n\treturn true\n}\n",
            ),
            (
                "stock/stock_test.go",
                "package stock\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\ts := New()\n\ts.Add(\"a\", 2)\n\tif s.Count(\"a\") != 2 {\n\t\tt.Fatal(s.Count(\"a\"))\n\t}\n}\n\nfunc TestReserveTooMuch(t *testing.T) {\n\ts := New()\n\ts.Add(\"a\", 1)\n\tif s.Reserve(\"a\", 2) {\n\t\tt.Fatal(\"reserved more than in stock\")\n\t}\n\tif s.Count(\"a\") != 1 {\n\t\tt.Fatal(s.Count(\"a\"))\n\t}\n}\n",
            ),
        ],
    );
    h.commit(
        "Adding a negative amount is ignored",
        &[
            (
                "stock/stock.go",
                "package stock\n\n// Stock counts items per SKU.\ntype Stock struct{ items map[string]int }\n\nfunc New() *Stock { return &Stock{items: map[string]int{}} }\n\n// Add puts n items of sku in stock.\nfunc (s *Stock) Add(sku string, n int) {\n\tif n <= 0 {\n\t\treturn\n\t}\n\ts.items[sku] += n\n}\n\n// Count is how many items of sku are in stock.\nfunc (s *Stock) Count(sku string) int { return s.items[sku] }\n\n// Reserve takes n items of sku out of stock.\nfunc (s *Stock) Reserve(sku string, n int) bool {\n\tif s.items[sku] < n {\n\t\treturn false\n\t}\n\ts.items[sku] -= n\n\treturn true\n}\n",
            ),
            (
                "stock/add_test.go",
                "package stock\n\nimport \"testing\"\n\nfunc TestAddNegative(t *testing.T) {\n\ts := New()\n\ts.Add(\"a\", -3)\n\tif s.Count(\"a\") != 0 {\n\t\tt.Fatal(s.Count(\"a\"))\n\t}\n}\n",
            ),
        ],
    );
    mine_validate_run(&tmp.path().join("work"), &repo, 5);
}

#[test]
fn a_typescript_library_tested_with_vitest() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let mut h = History::new(&repo);
    let package = "{\n  \"name\": \"slug\",\n  \"version\": \"0.1.0\",\n  \"type\": \"module\",\n  \"engines\": { \"node\": \">=18\" },\n  \"scripts\": { \"test\": \"vitest run\" },\n  \"devDependencies\": { \"vitest\": \"1.6.0\" }\n}\n";
    h.commit(
        "Start the slug library",
        &[
            ("package.json", package),
            (".gitignore", "node_modules/\n"),
            (
                "src/slug.ts",
                "export function slug(text: string): string {\n  return text.toLowerCase().replace(/ /g, '-');\n}\n",
            ),
            (
                "src/slug.test.ts",
                "import { expect, test } from 'vitest';\nimport { slug } from './slug';\n\ntest('lower-cases', () => {\n  expect(slug('Hello')).toBe('hello');\n});\n",
            ),
        ],
    );
    npm_lockfile(&repo);
    h.commit("Add the lockfile", &[]);
    h.commit(
        "Collapse runs of spaces into one dash",
        &[
            (
                "src/slug.ts",
                "export function slug(text: string): string {\n  return text.toLowerCase().trim().replace(/\\s+/g, '-');\n}\n",
            ),
            (
                "src/slug.test.ts",
                "import { expect, test } from 'vitest';\nimport { slug } from './slug';\n\ntest('lower-cases', () => {\n  expect(slug('Hello')).toBe('hello');\n});\n\ntest('collapses spaces', () => {\n  expect(slug('  Hello   World ')).toBe('hello-world');\n});\n",
            ),
        ],
    );
    h.commit(
        "Drop characters that are not letters, digits or dashes",
        &[
            (
                "src/slug.ts",
                "export function slug(text: string): string {\n  return text\n    .toLowerCase()\n    .trim()\n    .replace(/\\s+/g, '-')\n    .replace(/[^a-z0-9-]/g, '');\n}\n",
            ),
            (
                "src/clean.test.ts",
                "import { expect, test } from 'vitest';\nimport { slug } from './slug';\n\ntest('drops punctuation', () => {\n  expect(slug('Hello, World!')).toBe('hello-world');\n});\n",
            ),
        ],
    );
    mine_validate_run(&tmp.path().join("work"), &repo, 5);
}

#[test]
fn a_javascript_library_tested_with_jest() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let mut h = History::new(&repo);
    let package = "{\n  \"name\": \"money\",\n  \"version\": \"0.1.0\",\n  \"engines\": { \"node\": \">=18\" },\n  \"scripts\": { \"test\": \"jest\" },\n  \"devDependencies\": { \"jest\": \"29.7.0\" }\n}\n";
    let test_base = "const { cents } = require('../src/money');\n\ndescribe('cents', () => {\n  test('reads whole amounts', () => {\n    expect(cents('12')).toBe(1200);\n  });\n});\n";
    h.commit(
        "Start the money library",
        &[
            ("package.json", package),
            (".gitignore", "node_modules/\n"),
            (
                "src/money.js",
                "function cents(text) {\n  return Number(text) * 100;\n}\n\nmodule.exports = { cents };\n",
            ),
            ("__tests__/money.test.js", test_base),
        ],
    );
    npm_lockfile(&repo);
    h.commit("Add the lockfile", &[]);
    h.commit(
        "Round amounts with cents to the nearest cent",
        &[
            (
                "src/money.js",
                "function cents(text) {\n  return Math.round(Number(text) * 100);\n}\n\nmodule.exports = { cents };\n",
            ),
            (
                "__tests__/money.test.js",
                &test_base.replace(
                    "  });\n});\n",
                    "  });\n\n  test('rounds to the nearest cent', () => {\n    expect(cents('0.29')).toBe(29);\n  });\n});\n",
                ),
            ),
        ],
    );
    h.commit(
        "Accept a leading currency sign",
        &[
            (
                "src/money.js",
                "function cents(text) {\n  return Math.round(Number(String(text).replace(/^[$€£]/, '')) * 100);\n}\n\nmodule.exports = { cents };\n",
            ),
            (
                "__tests__/sign.test.js",
                "const { cents } = require('../src/money');\n\ntest('drops a dollar sign', () => {\n  expect(cents('$3.10')).toBe(310);\n});\n",
            ),
        ],
    );
    mine_validate_run(&tmp.path().join("work"), &repo, 5);
}

#[test]
fn a_javascript_library_tested_with_mocha() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let mut h = History::new(&repo);
    let package = "{\n  \"name\": \"words\",\n  \"version\": \"0.1.0\",\n  \"engines\": { \"node\": \">=18\" },\n  \"scripts\": { \"test\": \"mocha\" },\n  \"devDependencies\": { \"mocha\": \"10.4.0\" }\n}\n";
    let test_base = "const assert = require('assert');\nconst { count } = require('../lib/words');\n\ndescribe('count', function () {\n  it('counts words', function () {\n    assert.strictEqual(count('a b'), 2);\n  });\n});\n";
    h.commit(
        "Start the words library",
        &[
            ("package.json", package),
            (".gitignore", "node_modules/\n"),
            (
                "lib/words.js",
                "function count(text) {\n  return text.split(' ').length;\n}\n\nmodule.exports = { count };\n",
            ),
            ("test/words.spec.js", test_base),
        ],
    );
    npm_lockfile(&repo);
    h.commit("Add the lockfile", &[]);
    h.commit(
        "Count runs of spaces as one separator",
        &[
            (
                "lib/words.js",
                "function count(text) {\n  return text.split(/\\s+/).filter(Boolean).length;\n}\n\nmodule.exports = { count };\n",
            ),
            (
                "test/words.spec.js",
                &test_base.replace(
                    "  });\n});\n",
                    "  });\n\n  it('ignores extra spaces', function () {\n    assert.strictEqual(count('  a   b '), 2);\n  });\n});\n",
                ),
            ),
        ],
    );
    h.commit(
        "An empty text has no words",
        &[
            (
                "lib/words.js",
                "function count(text) {\n  if (!text) {\n    return 0;\n  }\n  return text.split(/\\s+/).filter(Boolean).length;\n}\n\nmodule.exports = { count };\n",
            ),
            (
                "test/empty.spec.js",
                "const assert = require('assert');\nconst { count } = require('../lib/words');\n\nit('counts nothing in an empty text', function () {\n  assert.strictEqual(count(''), 0);\n  assert.strictEqual(count(undefined), 0);\n});\n",
            ),
        ],
    );
    mine_validate_run(&tmp.path().join("work"), &repo, 5);
}

#[test]
fn an_es_module_library_tested_with_nodes_own_runner() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let mut h = History::new(&repo);
    let package = "{\n  \"name\": \"ranges\",\n  \"version\": \"0.1.0\",\n  \"type\": \"module\",\n  \"engines\": { \"node\": \">=18\" },\n  \"scripts\": { \"test\": \"node --test\" }\n}\n";
    let test_base = "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { span } from '../src/ranges.js';\n\ntest('spans a range', () => {\n  assert.equal(span([1, 4]), 3);\n});\n";
    h.commit(
        "Start the ranges library",
        &[
            ("package.json", package),
            (
                "src/ranges.js",
                "export function span([low, high]) {\n  return high - low;\n}\n",
            ),
            ("test/ranges.test.js", test_base),
        ],
    );
    h.commit(
        "A reversed range spans the same",
        &[
            (
                "src/ranges.js",
                "export function span([low, high]) {\n  return Math.abs(high - low);\n}\n",
            ),
            (
                "test/ranges.test.js",
                &format!("{test_base}\ntest('reversed ranges span the same', () => {{\n  assert.equal(span([4, 1]), 3);\n}});\n"),
            ),
        ],
    );
    h.commit(
        "Ranges can overlap",
        &[
            (
                "src/ranges.js",
                "export function span([low, high]) {\n  return Math.abs(high - low);\n}\n\nexport function overlaps(a, b) {\n  return Math.max(a[0], b[0]) <= Math.min(a[1], b[1]);\n}\n",
            ),
            (
                "test/overlap.test.js",
                "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { overlaps } from '../src/ranges.js';\n\ntest('touching ranges overlap', () => {\n  assert.ok(overlaps([1, 3], [3, 5]));\n  assert.ok(!overlaps([1, 2], [3, 5]));\n});\n",
            ),
        ],
    );
    mine_validate_run(&tmp.path().join("work"), &repo, 5);
}

/// A repository whose tests import a PyPI package that the given image lacks: mining stops
/// early with that cause and its evidence, `tasks explain` prints it whole, and `--update`
/// with a Dockerfile that installs the package writes the tasks into the same suite.
#[test]
fn a_missing_dependency_stops_mining_early_and_update_fixes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let mut h = History::new(&repo);
    let module = |n: usize| {
        (0..n)
            .map(|i| format!("def f{i}(x):\n    return x + {i}\n\n\n"))
            .collect::<String>()
    };
    let tests = |n: usize| {
        let mut t = String::from("import six\nfrom calc import *\n\n\n");
        for i in 0..n {
            t.push_str(&format!(
                "def test_f{i}():\n    assert six.PY3 and f{i}(1) == {}\n\n\n",
                1 + i
            ));
        }
        t
    };
    h.commit(
        "Start calc",
        &[
            (
                "pyproject.toml",
                "[project]\nname = \"calc\"\nversion = \"0.1.0\"\n",
            ),
            ("calc.py", &module(1)),
            ("tests/test_calc.py", &tests(1)),
        ],
    );
    for n in 2..=6 {
        h.commit(
            &format!("Add step {n} to the calculator pipeline"),
            &[("calc.py", &module(n)), ("tests/test_calc.py", &tests(n))],
        );
    }
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let bare = work.join("bare.Dockerfile");
    std::fs::write(&bare, "ARG BASE=mergebench-base:bookworm\nFROM ${BASE}\n").unwrap();
    let suite = work.join("suite");
    let db = work.join("m.db");
    let mine = |extra: &[&str]| {
        let mut args = vec![
            "--db",
            db.to_str().unwrap(),
            "tasks",
            "mine",
            "--repo",
            repo.to_str().unwrap(),
            "--out",
            suite.to_str().unwrap(),
            "--jobs",
            "4",
        ];
        args.extend_from_slice(extra);
        mergebench(&work, &args)
    };
    let (code, out, err) = mine(&["--dockerfile", bare.to_str().unwrap()]);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(err.contains("stopped early"), "{err}");
    assert!(err.contains("dependency not installed"), "{err}");
    assert!(
        err.contains("No module named 'six'"),
        "the evidence is shown: {err}"
    );
    assert!(
        std::fs::read_dir(&suite)
            .unwrap()
            .filter_map(|e| e.ok())
            .all(|e| !e.path().join("task.toml").exists()),
        "no task was written"
    );
    // The whole evidence of one commit, from the store.
    let sha = git(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    let (code, out, err) = mergebench(
        &work,
        &["--db", db.to_str().unwrap(), "tasks", "explain", &sha[..10]],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cause: dependency not installed"), "{out}");
    assert!(out.contains("--- stdout (last part) ---"), "{out}");
    // Flags for an existing suite are refused without --update, applied with it.
    let good = work.join("good.Dockerfile");
    std::fs::write(
        &good,
        "ARG BASE=mergebench-base:bookworm\nFROM ${BASE}\nUSER root\nRUN apt-get update -q && apt-get install -y -q --no-install-recommends python3-six >/dev/null && rm -rf /var/lib/apt/lists/*\n",
    )
    .unwrap();
    let (code, _, err) = mine(&["--dockerfile", good.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--update"), "{err}");
    let (code, out, err) = mine(&["--dockerfile", good.to_str().unwrap(), "--update", "--json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(report["written"].as_array().unwrap().len() >= 4, "{report}");
    let dockerfile = std::fs::read_to_string(suite.join("env/Dockerfile")).unwrap();
    assert!(dockerfile.contains("python3-six"), "{dockerfile}");
}
