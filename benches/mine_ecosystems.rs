//! How fast `tasks mine` turns a history into tasks in each ecosystem: a generated
//! repository per language (Python with pytest, Rust with cargo, Go, JavaScript with node's
//! own runner), none with dependencies, mined with default options and two candidates at a
//! time. Printed figures, never a timed test:
//!
//!     cargo bench --bench mine_ecosystems                        # 450 commits each
//!     cargo bench --bench mine_ecosystems -- --commits 120 python go
//!
//! Every tenth commit fixes a function and adds its test (a candidate); the others change
//! only a changelog, as most commits of a real history change no test. The goal line is the
//! one a team asks of a first run on its own repository: 450 commits, no dependencies, under
//! five minutes on two cores. The environment image is built once per repository, before
//! the clock of the first candidate starts, and is part of the figure (a first run pays it).

use mergebench::harness::Docker;
use mergebench::store::Store;
use mergebench::tasks::mine::{mine, EnvOptions, LeakPolicy, MineOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One generated codebase: its fixed files, and what the k-th fix changes.
struct Ecosystem {
    name: &'static str,
    /// Files of the first commit besides the source file.
    scaffold: &'static [(&'static str, &'static str)],
    /// The source file's path.
    source: &'static str,
    /// The source file with functions `1..=n`, the first `fixed` of them correct.
    render: fn(n: usize, fixed: usize) -> String,
    /// The test file the k-th fix adds: (path, content).
    test: fn(k: usize) -> (String, String),
}

const ECOSYSTEMS: &[Ecosystem] = &[
    Ecosystem {
        name: "python",
        scaffold: &[(
            "pyproject.toml",
            "[project]\nname = \"calc\"\nversion = \"0.1.0\"\n\n[tool.pytest.ini_options]\npythonpath = [\".\"]\n",
        )],
        source: "calc.py",
        render: |n, fixed| {
            (1..=n)
                .map(|k| {
                    let op = if k <= fixed { '+' } else { '-' };
                    format!("def f_{k}(x):\n    return x {op} {k}\n\n\n")
                })
                .collect()
        },
        test: |k| {
            (
                format!("tests/test_f_{k}.py"),
                format!("from calc import f_{k}\n\n\ndef test_f_{k}_adds_its_offset():\n    assert f_{k}(1) == {}\n", 1 + k),
            )
        },
    },
    Ecosystem {
        name: "rust",
        scaffold: &[
            (
                "Cargo.toml",
                "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            (
                "Cargo.lock",
                "version = 3\n\n[[package]]\nname = \"calc\"\nversion = \"0.1.0\"\n",
            ),
            (".gitignore", "/target\n"),
        ],
        source: "src/lib.rs",
        render: |n, fixed| {
            (1..=n)
                .map(|k| {
                    let op = if k <= fixed { '+' } else { '-' };
                    format!("pub fn f_{k}(x: i64) -> i64 {{\n    x {op} {k}\n}}\n\n")
                })
                .collect()
        },
        test: |k| {
            (
                format!("tests/f_{k}.rs"),
                format!("#[test]\nfn f_{k}_adds_its_offset() {{\n    assert_eq!(calc::f_{k}(1), {});\n}}\n", 1 + k),
            )
        },
    },
    Ecosystem {
        name: "go",
        scaffold: &[("go.mod", "module example.com/calc\n\ngo 1.19\n")],
        source: "calc.go",
        render: |n, fixed| {
            let funcs: String = (1..=n)
                .map(|k| {
                    let op = if k <= fixed { '+' } else { '-' };
                    format!("\nfunc F{k}(x int) int {{\n\treturn x {op} {k}\n}}\n")
                })
                .collect();
            format!("package calc\n{funcs}")
        },
        test: |k| {
            (
                format!("f{k}_test.go"),
                format!("package calc\n\nimport \"testing\"\n\nfunc TestF{k}AddsItsOffset(t *testing.T) {{\n\tif got := F{k}(1); got != {} {{\n\t\tt.Errorf(\"F{k}(1) = %d\", got)\n\t}}\n}}\n", 1 + k),
            )
        },
    },
    Ecosystem {
        name: "node",
        scaffold: &[(
            "package.json",
            "{\n  \"name\": \"calc\",\n  \"version\": \"0.1.0\",\n  \"engines\": { \"node\": \">=18\" },\n  \"scripts\": { \"test\": \"node --test\" }\n}\n",
        )],
        source: "src/calc.js",
        render: |n, fixed| {
            (1..=n)
                .map(|k| {
                    let op = if k <= fixed { '+' } else { '-' };
                    format!("exports.f_{k} = (x) => x {op} {k};\n")
                })
                .collect()
        },
        test: |k| {
            (
                format!("test/f_{k}.test.js"),
                format!("const test = require('node:test');\nconst assert = require('node:assert');\nconst {{ f_{k} }} = require('../src/calc');\n\ntest('f_{k} adds its offset', () => {{\n  assert.strictEqual(f_{k}(1), {});\n}});\n", 1 + k),
            )
        },
    },
];

/// Every tenth commit is a fix with its test.
const FIX_EVERY: usize = 10;

fn git(dir: &Path, args: &[&str], date: &str) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .expect("git runs");
    if !out.status.success() {
        eprintln!(
            "mine bench: git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(1);
    }
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("folder");
    }
    std::fs::write(path, text).expect("file");
}

/// A history of `commits` commits in `dir`; returns how many of them are fixes.
fn generate(e: &Ecosystem, dir: &Path, commits: usize) -> usize {
    let fixes = (commits - 1) / FIX_EVERY;
    std::fs::create_dir_all(dir).expect("folder");
    git(dir, &["init", "-q", "-b", "main"], "2025-01-01T10:00:00Z");
    for (path, text) in e.scaffold {
        write(dir, path, text);
    }
    write(dir, e.source, &(e.render)(fixes, 0));
    write(dir, "CHANGES.md", "# Changes\n");
    let mut fixed = 0;
    for i in 0..commits {
        // One commit a day, then by the minute: a long history stays in order.
        let date = format!(
            "2025-{:02}-{:02}T{:02}:{:02}:00Z",
            1 + i / (28 * 24 * 60) % 12,
            1 + i / (24 * 60) % 28,
            i / 60 % 24,
            i % 60
        );
        let message = if i == 0 {
            "Start the calc library".to_string()
        } else if i % FIX_EVERY == 0 && fixed < fixes {
            fixed += 1;
            write(dir, e.source, &(e.render)(fixes, fixed));
            let (path, text) = (e.test)(fixed);
            write(dir, &path, &text);
            format!(
                "f_{fixed} subtracts its offset instead of adding it\n\nCalling f_{fixed} with 1 \
                 should give 1 plus the function's offset, {fixed}, like the other functions of \
                 the library; it gave 1 minus that offset, so every total built on it came out \
                 low."
            )
        } else {
            let mut changes = std::fs::read_to_string(dir.join("CHANGES.md")).expect("changes");
            changes.push_str(&format!("- note {i}\n"));
            write(dir, "CHANGES.md", &changes);
            format!("Changelog: note {i}")
        };
        git(dir, &["add", "-A"], &date);
        git(dir, &["commit", "-qm", &message], &date);
    }
    fixes
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut commits = 450;
    let mut chosen: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--commits" => {
                commits = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > FIX_EVERY)
                    .unwrap_or_else(|| {
                        eprintln!("mine bench: --commits takes a number above {FIX_EVERY}");
                        std::process::exit(2);
                    })
            }
            "--bench" => {}
            name if ECOSYSTEMS.iter().any(|e| e.name == name) => chosen.push(
                ECOSYSTEMS
                    .iter()
                    .find(|e| e.name == name)
                    .map(|e| e.name)
                    .unwrap_or_default(),
            ),
            other => {
                eprintln!(
                    "mine bench: unknown argument `{other}`: use --commits N and any of python, rust, go, node"
                );
                std::process::exit(2);
            }
        }
    }
    let docker = match Docker::connect().await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("mine bench: {e}");
            std::process::exit(3);
        }
    };
    let ca_bundle = std::env::var_os("MERGEBENCH_CA_BUNDLE")
        .map(PathBuf::from)
        .or_else(|| {
            let system = PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
            system.exists().then_some(system)
        });
    let jobs = 2;
    println!("tasks mine on generated histories of {commits} commits (one fix in {FIX_EVERY}), {jobs} jobs, default options");
    println!(
        "{:<8}  {:>7}  {:>10}  {:>7}  {:>8}  {:>14}  {:>11}",
        "", "commits", "candidates", "written", "seconds", "checked/minute", "tasks/hour"
    );
    let mut python_seconds = None;
    for e in ECOSYSTEMS
        .iter()
        .filter(|e| chosen.is_empty() || chosen.contains(&e.name))
    {
        let tmp = tempfile::tempdir().expect("temporary folder");
        let repo = tmp.path().join("repo");
        let fixes = generate(e, &repo, commits);
        let store = Store::open(&tmp.path().join("m.db")).expect("store");
        let opts = MineOptions {
            repo: repo.display().to_string(),
            out: tmp.path().join("suite"),
            since: None,
            until: None,
            paths: Vec::new(),
            max: None,
            repeat: 1,
            jobs,
            all_commits: false,
            issues: None,
            leak: LeakPolicy::Redact,
            rewrite: None,
            env: EnvOptions {
                ca_bundle: ca_bundle.clone(),
                ..EnvOptions::default()
            },
            update: false,
            progress: false,
        };
        let report = match mine(&docker, &store, &opts, None).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("mine bench: {e}");
                std::process::exit(1);
            }
        };
        let hours = report.seconds / 3600.0;
        println!(
            "{:<8}  {:>7}  {:>10}  {:>7}  {:>8.1}  {:>14.1}  {:>11.0}",
            e.name,
            commits,
            report.candidates_checked,
            report.written.len(),
            report.seconds,
            report.checked_per_minute(),
            report.written.len() as f64 / hours.max(f64::MIN_POSITIVE)
        );
        if report.written.len() < fixes {
            let dropped: Vec<String> = report
                .commits
                .iter()
                .filter_map(|f| {
                    f.reason
                        .as_ref()
                        .map(|r| format!("{}: {r}", &f.commit[..10]))
                })
                .filter(|r| !r.contains("change no test"))
                .take(3)
                .collect();
            println!(
                "          {} of {fixes} fixes written; first drops: {}",
                report.written.len(),
                dropped.join(" | ")
            );
        }
        if e.name == "python" {
            python_seconds = Some(report.seconds);
        }
    }
    if let Some(s) = python_seconds {
        println!(
            "goal: a {commits}-commit repository with no dependencies mined in under 300 s on 2 cores (python: {s:.0} s{})",
            if commits == 450 { "" } else { "; the goal is stated for 450 commits" }
        );
    }
}
