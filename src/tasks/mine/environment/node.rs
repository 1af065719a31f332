//! Node and TypeScript: dependencies installed from package.json and its lockfile into
//! /opt/deps while the image builds, the test runner (vitest, jest, mocha or node's own)
//! run with a report mergebench reads.
//!
//! Dependencies cannot live in /workspace: that folder is the repository at test time. Node
//! looks for `node_modules` in every parent folder of the importing file, up to
//! `/node_modules`, for `require` and `import` alike (NODE_PATH serves `require` only), so
//! a link there makes /opt/deps/node_modules visible from anywhere under /workspace.

use super::command::{self, split_env, unknowable, words};
use super::version::{self, npm_allows};
use super::{dockerfile_head, end_of_day, shell_quote, strings, Apt, Language, Proposal, Repo};
use super::{Toolchain, MANIFESTS_DIR};
use crate::testparse::Format;
use chrono::NaiveDate;
use serde_json::Value;
use std::collections::BTreeSet;

/// Debian bookworm's nodejs.
const NODE: &[u64] = &[18, 20];
const JUNIT: &str = "mergebench-junit.xml";
/// jest's JUnit reporter, installed apart from the project's dependencies so that it works
/// whatever installed those.
const JEST_JUNIT: &str = "/opt/jest-junit/node_modules/jest-junit";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    Vitest,
    Jest,
    Mocha,
    NodeTest,
}

pub fn propose(repo: &Repo, date: Option<NaiveDate>) -> Proposal {
    let mut notes = Vec::new();
    let package: Value = match repo.text("package.json").map(|t| serde_json::from_str(&t)) {
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            notes.push("package.json is not valid JSON, so no dependency is installed".into());
            Value::Null
        }
        None => Value::Null,
    };
    let scripts = package.get("scripts").cloned().unwrap_or(Value::Null);
    let deps: BTreeSet<String> = ["dependencies", "devDependencies"]
        .iter()
        .filter_map(|k| package.get(*k).and_then(|v| v.as_object()))
        .flat_map(|o| o.keys().cloned())
        .collect();

    // The command: the repository's CI, then scripts.test, then the runner it depends on.
    let from_ci = command::first_mapped(repo, |w| node_command(w, &scripts, 0));
    let from_script = || {
        let text = scripts.get("test")?.as_str()?;
        let found = command::segments(text)
            .iter()
            .find_map(|s| words(s).and_then(|w| node_command(&w, &scripts, 1)))?;
        Some((found, "package.json scripts.test".to_string()))
    };
    let ((command, runner), command_source) = match from_ci.or_else(from_script) {
        Some(((c, r), source)) => ((c, r), source),
        None => {
            let runner = [
                ("vitest", Runner::Vitest),
                ("jest", Runner::Jest),
                ("mocha", Runner::Mocha),
            ]
            .iter()
            .find(|(name, _)| deps.contains(*name))
            .map(|(_, r)| *r)
            .unwrap_or(Runner::NodeTest);
            (
                (invocation(runner, Vec::new(), Vec::new()), runner),
                "default for node".to_string(),
            )
        }
    };
    let format = match runner {
        Runner::Vitest | Runner::Jest => Format::Junit { path: JUNIT.into() },
        Runner::Mocha | Runner::NodeTest => Format::Tap,
    };

    let mut manifests: BTreeSet<String> = BTreeSet::new();
    if repo.has("package.json") {
        manifests.insert("package.json".into());
    }
    let install = installer(repo, &package, date, &mut manifests, &mut notes);
    let members = workspace_members(repo, &package);
    if !members.is_empty() {
        notes.push(
            "the workspace's packages are linked to their folders in /workspace; dependencies \
             that only one package needs in another version than the rest may be missing"
                .into(),
        );
    }
    let mut links = Vec::new();
    for dir in &members {
        let manifest = format!("{dir}/package.json");
        manifests.insert(manifest.clone());
        let name = repo
            .text(&manifest)
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string));
        if let Some(name) = name.filter(|n| safe_package_name(n)) {
            links.push((name, dir.clone()));
        }
    }
    if let Some(text) = repo.text(".npmrc") {
        let secret = text.contains("${") || text.contains("_auth") || text.contains("//");
        if secret {
            notes.push(
                ".npmrc names a registry's credentials or variables, so it is not copied: the \
                 image build uses the public npm registry"
                    .into(),
            );
        } else {
            manifests.insert(".npmrc".into());
        }
    }
    let toolchain = toolchain(&package, &mut notes);
    // Releases known to have left Node 18 behind.
    for (name, major, needs) in [("vitest", 4, 20), ("vite", 7, 20)] {
        let wanted = ["devDependencies", "dependencies"]
            .iter()
            .find_map(|k| package.get(*k)?.get(name)?.as_str())
            .and_then(|v| version::parse(v.trim_start_matches(['^', '~', '=', '>', ' '])));
        if wanted.is_some_and(|v| v[0] >= major) && toolchain.available {
            notes.push(format!(
                "package.json depends on {name} {major} or newer, which needs Node {needs}; \
                 Debian bookworm's nodejs is 18: set [environment] base to an image with Node {needs}"
            ));
        }
    }
    let manifests: Vec<String> = manifests.into_iter().collect();
    Proposal {
        language: Language::Node,
        command,
        format,
        command_source,
        test_globs: strings(&[
            "**/*.test.*",
            "**/*.spec.*",
            "**/__tests__/**",
            "test/**",
            "tests/**",
        ]),
        dockerfile: dockerfile(&manifests, &install, &links, runner == Runner::Jest),
        dockerfile_key: None,
        manifests,
        sources: Vec::new(),
        toolchain,
        notes,
    }
}

fn dockerfile(
    manifests: &[String],
    install: &[String],
    links: &[(String, String)],
    jest: bool,
) -> String {
    let mut text = dockerfile_head(
        Language::Node,
        &[
            Apt::unless("command -v node >/dev/null 2>&1", "nodejs"),
            Apt::unless("command -v npm >/dev/null 2>&1", "npm"),
        ],
    );
    text.push_str(
        "# Dependencies go in /opt/deps, not /workspace (the repository at test time). Node looks\n\
# for node_modules in each parent folder of the importing file up to /node_modules, for\n\
# require and import alike, so a link there serves /workspace; NODE_PATH covers tools that\n\
# resolve through it, PATH the packages' commands. uid 1000 owns it: tools keep caches there.\n\
ENV NODE_PATH=/opt/deps/node_modules PATH=/opt/deps/node_modules/.bin:$PATH\n",
    );
    let packages: Vec<String> = manifests
        .iter()
        .filter(|m| m.ends_with("package.json"))
        .map(|m| shell_quote(m))
        .collect();
    let mut statements = vec!["mkdir -p /opt/deps".to_string(), "cd /opt/deps".to_string()];
    if !manifests.is_empty() {
        text.push_str(&format!("COPY {MANIFESTS_DIR}/ /opt/deps/\n"));
    }
    if !packages.is_empty() {
        // The project's own lifecycle scripts (prepare, postinstall) would run against a
        // source that is not there; its dependencies' scripts still run.
        statements.push(format!(
            "node -e 'const fs = require(\"fs\"); for (const f of process.argv.slice(1)) {{ const p = JSON.parse(fs.readFileSync(f, \"utf8\")); delete p.scripts; fs.writeFileSync(f, JSON.stringify(p, null, 2)); }}' {}",
            packages.join(" ")
        ));
    }
    statements.extend(install.iter().cloned());
    for (name, dir) in links {
        statements.push(format!(
            "ln -sfn {} {}",
            shell_quote(&format!("/workspace/{dir}")),
            shell_quote(&format!("/opt/deps/node_modules/{name}"))
        ));
    }
    if jest {
        statements.push(
            "npm install --prefix /opt/jest-junit --no-audit --no-fund --no-save jest-junit@16"
                .into(),
        );
    }
    statements.push("mkdir -p /opt/deps/node_modules".into());
    statements.push("ln -sfn /opt/deps/node_modules /node_modules".into());
    statements.push("chown -R 1000:1000 /opt/deps".into());
    statements.push("node --version".into());
    text.push_str(&super::run(&statements));
    text
}

/// The statements that install the dependencies, by lockfile: `npm ci`, pnpm or yarn 1
/// (installed with npm: Debian's nodejs has no corepack) falling back to `npm install`, or
/// `npm install` as of the day given.
fn installer(
    repo: &Repo,
    package: &Value,
    date: Option<NaiveDate>,
    manifests: &mut BTreeSet<String>,
    notes: &mut Vec<String>,
) -> Vec<String> {
    let before = date
        .map(|d| format!(" --before={}", end_of_day(d)))
        .unwrap_or_default();
    let npm_install = format!("npm install --no-audit --no-fund{before}");
    let manager = package
        .get("packageManager")
        .and_then(|v| v.as_str())
        .map(|s| s.split('+').next().unwrap_or(s).to_string());
    let pinned = |tool: &str| {
        manager
            .as_deref()
            .and_then(|m| m.strip_prefix(&format!("{tool}@")))
            .filter(|v| {
                v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
            })
            .map(str::to_string)
    };
    if !repo.has("package.json") {
        return Vec::new();
    }
    for lock in ["package-lock.json", "npm-shrinkwrap.json"] {
        if repo.has(lock) {
            manifests.insert(lock.into());
            return vec!["npm ci --no-audit --no-fund".into()];
        }
    }
    let fallback = |tool: &str, install: String| {
        vec![format!(
            "if {install}; then :; else echo '{tool} failed: npm install resolves package.json instead' >&2; rm -rf node_modules; {npm_install}; fi"
        )]
    };
    if let Some(lock) = repo.text("pnpm-lock.yaml") {
        manifests.insert("pnpm-lock.yaml".into());
        if repo.has("pnpm-workspace.yaml") {
            manifests.insert("pnpm-workspace.yaml".into());
        }
        let version = pinned("pnpm").unwrap_or_else(|| {
            let lockfile = lock
                .lines()
                .find_map(|l| l.strip_prefix("lockfileVersion:"))
                .map(|v| v.trim().trim_matches(['\'', '"']).to_string())
                .unwrap_or_default();
            match lockfile.split('.').next() {
                Some("5") => "7",
                Some("6") => "8",
                _ => "9",
            }
            .to_string()
        });
        notes.push(format!(
            "pnpm-lock.yaml: pnpm {version} is installed from the npm registry (Debian's nodejs \
             has no corepack); if it cannot install the lockfile, npm install resolves \
             package.json instead"
        ));
        return fallback(
            "pnpm",
            format!(
                "npm install --global --no-audit --no-fund pnpm@{version} && pnpm install --frozen-lockfile --config.node-linker=hoisted --config.store-dir=/tmp/pnpm-store && rm -rf /tmp/pnpm-store"
            ),
        );
    }
    if let Some(lock) = repo.text("yarn.lock") {
        if lock.contains("__metadata:") {
            notes.push(
                "yarn.lock is from Yarn 2 or newer, which needs its own release and settings: \
                 npm install resolves package.json instead, as of the day its dependencies took \
                 their content"
                    .into(),
            );
            return vec![npm_install];
        }
        manifests.insert("yarn.lock".into());
        let version = pinned("yarn")
            .filter(|v| v.starts_with("1."))
            .unwrap_or_else(|| "1".into());
        return fallback(
            "yarn",
            format!(
                "npm install --global --no-audit --no-fund yarn@{version} && yarn install --frozen-lockfile --non-interactive --ignore-engines --cache-folder /tmp/yarn-cache && rm -rf /tmp/yarn-cache"
            ),
        );
    }
    if date.is_some() {
        notes.push(
            "there is no lockfile: npm install resolves package.json as of the day its \
             dependencies took their content (--before)"
                .into(),
        );
    }
    vec![npm_install]
}

/// The folders of the workspace's packages (`workspaces` in package.json, or
/// pnpm-workspace.yaml), matched against the repository's package.json files.
fn workspace_members(repo: &Repo, package: &Value) -> Vec<String> {
    let mut patterns: Vec<String> = Vec::new();
    let ws = package.get("workspaces");
    let list = ws.and_then(|w| w.as_array()).or_else(|| {
        ws.and_then(|w| w.get("packages"))
            .and_then(|p| p.as_array())
    });
    patterns.extend(
        list.into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string)),
    );
    if let Some(text) = repo.text("pnpm-workspace.yaml") {
        patterns.extend(command::yaml_commands(&text, &["packages"]));
    }
    let mut include = globset::GlobSetBuilder::new();
    let mut exclude = globset::GlobSetBuilder::new();
    for p in &patterns {
        let (set, p) = match p.strip_prefix('!') {
            Some(rest) => (&mut exclude, rest),
            None => (&mut include, p.as_str()),
        };
        let p = p.trim_start_matches("./").trim_end_matches('/');
        if let Ok(g) = globset::GlobBuilder::new(p).literal_separator(true).build() {
            set.add(g);
        }
    }
    let (Ok(include), Ok(exclude)) = (include.build(), exclude.build()) else {
        return Vec::new();
    };
    repo.paths()
        .filter_map(|p| p.strip_suffix("/package.json"))
        .filter(|d| !d.split('/').any(|part| part == "node_modules"))
        .filter(|d| include.is_match(d) && !exclude.is_match(d))
        .map(str::to_string)
        .collect()
}

/// A name npm could have made a folder of in node_modules (`pkg` or `@scope/pkg`).
fn safe_package_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let ok = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@~".contains(c))
    };
    match parts.as_slice() {
        [one] => ok(one) && !one.starts_with('@'),
        [scope, pkg] => scope.starts_with('@') && ok(scope) && ok(pkg),
        _ => false,
    }
}

fn toolchain(package: &Value, notes: &mut Vec<String>) -> Toolchain {
    let range = package
        .get("engines")
        .and_then(|e| e.get("node"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let allowed = range.as_deref().and_then(|r| npm_allows(r, NODE));
    if let (Some(false), Some(r)) = (allowed, &range) {
        let major = version::lowest_major(|v| npm_allows(r, v))
            .map(|m| m.to_string())
            .unwrap_or_else(|| "that version".into());
        notes.push(format!(
            "package.json engines.node asks for {r}; Debian bookworm's nodejs is 18.20: set \
             [environment] base to an image with Node {major} (such as node:{major}-bookworm)"
        ));
    }
    Toolchain {
        provided: "node 18.20 (Debian bookworm's nodejs and npm)".into(),
        wanted: range.as_ref().map(|r| format!("node {r}")),
        wanted_by: range
            .as_ref()
            .map(|_| "package.json (engines.node)".to_string()),
        available: allowed != Some(false),
    }
}

/// A test run from the repository (`npm test`, a script, or the runner itself) as the
/// runner's invocation with a report mergebench reads; scripts are followed a few deep.
fn node_command(line: &[String], scripts: &Value, depth: usize) -> Option<(String, Runner)> {
    let (mut env, rest) = split_env(line);
    let mut rest: Vec<String> = rest.to_vec();
    // `cross-env A=b cmd` is the portable spelling of `A=b cmd`.
    if rest.first().is_some_and(|w| w == "cross-env") {
        rest.remove(0);
        let (more, tail) = split_env(&rest);
        env.extend(more);
        rest = tail.to_vec();
    }
    let script = |name: &str| -> Option<(String, Runner)> {
        if depth >= 3 {
            return None;
        }
        let text = scripts.get(name)?.as_str()?;
        command::segments(text)
            .iter()
            .find_map(|s| words(s).and_then(|w| node_command(&w, scripts, depth + 1)))
            .map(|(c, r)| (prefixed(&env, c), r))
    };
    let first = rest.first()?.clone();
    let second = rest.get(1).cloned();
    match (first.as_str(), second.as_deref()) {
        ("npm" | "yarn" | "pnpm", Some("test" | "t" | "tst")) => return script("test"),
        ("npm" | "yarn" | "pnpm", Some("run" | "run-script")) => return script(rest.get(2)?),
        ("yarn" | "pnpm", Some(name)) if scripts.get(name).is_some() => return script(name),
        ("npx" | "bunx", _) => {
            let skip = rest[1..].iter().take_while(|w| w.starts_with('-')).count();
            rest.drain(..1 + skip);
        }
        ("pnpm" | "yarn", Some("exec" | "dlx")) => {
            rest.drain(..2);
        }
        ("nyc" | "c8", _) => {
            let skip = rest[1..].iter().take_while(|w| w.starts_with('-')).count();
            rest.drain(..1 + skip);
        }
        _ => {}
    }
    let tool = rest.first()?.rsplit('/').next()?.to_string();
    let args = &rest[1..];
    let (runner, kept) = match tool.as_str() {
        "vitest" => (Runner::Vitest, keep(args, &VITEST)),
        "jest" => (Runner::Jest, keep(args, &JEST)),
        "mocha" => (Runner::Mocha, keep(args, &MOCHA)),
        "node" => {
            // `node --experimental-vm-modules node_modules/jest/bin/jest.js`: jest, with the
            // flags given to Node.
            let at = args.iter().position(|w| !w.starts_with('-'));
            match at.map(|i| (i, args[i].as_str())) {
                Some((i, path)) if path.contains("node_modules/") && path.contains("jest") => {
                    let flags: Vec<&str> = args[..i].iter().map(String::as_str).collect();
                    if !flags.is_empty() && !flags.iter().any(|f| unknowable(f)) {
                        env.push(format!("NODE_OPTIONS={}", flags.join(" ")));
                    }
                    (Runner::Jest, keep(&args[i + 1..], &JEST))
                }
                _ if args.iter().any(|w| w == "--test") => {
                    (Runner::NodeTest, keep(args, &NODE_TEST))
                }
                _ => return None,
            }
        }
        _ => return None,
    };
    Some((prefixed(&env, invocation(runner, Vec::new(), kept)), runner))
}

fn prefixed(env: &[String], command: String) -> String {
    if env.is_empty() {
        return command;
    }
    format!("{} {command}", command::render(env))
}

/// The runner's command line with a report mergebench reads, and the repository's flags
/// that keep every test running.
fn invocation(runner: Runner, env: Vec<String>, kept: Vec<String>) -> String {
    let mut out = env;
    match runner {
        Runner::Vitest => out.extend(strings(&[
            "vitest",
            "run",
            "--reporter=junit",
            &format!("--outputFile={JUNIT}"),
        ])),
        Runner::Jest => out.extend(strings(&[
            &format!("JEST_JUNIT_OUTPUT_FILE={JUNIT}"),
            "jest",
            "--ci",
            "--reporters=default",
            &format!("--reporters={JEST_JUNIT}"),
        ])),
        Runner::Mocha => out.extend(strings(&["mocha", "--reporter", "tap"])),
        Runner::NodeTest => out.extend(strings(&["node", "--test", "--test-reporter=tap"])),
    }
    out.extend(kept);
    command::render(&out)
}

/// Which of a runner's flags survive: those that only configure it. A flag that takes a
/// value takes the next word with it; positionals are kept only where they name test files
/// rather than filter them.
struct Flags {
    /// Kept, with the value they take.
    kept_values: &'static [&'static str],
    /// Kept, and take no value.
    kept_switches: &'static [&'static str],
    /// Dropped, with the value they take.
    dropped_values: &'static [&'static str],
    positionals: bool,
}

impl Flags {
    fn keeps(&self, flag: &str) -> bool {
        self.kept_values.contains(&flag) || self.kept_switches.contains(&flag)
    }

    fn takes_value(&self, flag: &str) -> bool {
        self.kept_values.contains(&flag) || self.dropped_values.contains(&flag)
    }
}

const VITEST: Flags = Flags {
    kept_values: &[
        "--config",
        "-c",
        "--root",
        "-r",
        "--dir",
        "--environment",
        "--pool",
        "--mode",
    ],
    kept_switches: &["--globals", "--passWithNoTests"],
    dropped_values: &[
        "--reporter",
        "--outputFile",
        "-t",
        "--testNamePattern",
        "--project",
        "--shard",
        "--coverage.provider",
    ],
    positionals: false,
};

const JEST: Flags = Flags {
    kept_values: &[
        "--config",
        "-c",
        "--rootDir",
        "--env",
        "--testEnvironment",
        "--maxWorkers",
        "-w",
    ],
    kept_switches: &[
        "--runInBand",
        "-i",
        "--passWithNoTests",
        "--detectOpenHandles",
        "--forceExit",
    ],
    dropped_values: &[
        "-t",
        "--testNamePattern",
        "--reporters",
        "--selectProjects",
        "--shard",
        "--testPathPattern",
        "--testPathIgnorePatterns",
        "--coverageReporters",
    ],
    positionals: false,
};

const MOCHA: Flags = Flags {
    kept_values: &[
        "--require",
        "-r",
        "--extension",
        "--timeout",
        "-t",
        "--ui",
        "-u",
        "--config",
        "--file",
        "--spec",
        "--ignore",
        "--slow",
        "-s",
        "--node-option",
        "-n",
        "--loader",
    ],
    kept_switches: &[
        "--recursive",
        "--exit",
        "--check-leaks",
        "--full-trace",
        "--sort",
    ],
    dropped_values: &[
        "--grep",
        "-g",
        "--fgrep",
        "-f",
        "--reporter",
        "-R",
        "--reporter-option",
        "--reporter-options",
        "-O",
        "--jobs",
        "-j",
        "--retries",
    ],
    positionals: true,
};

const NODE_TEST: Flags = Flags {
    kept_values: &[
        "--import",
        "--require",
        "-r",
        "--loader",
        "--experimental-loader",
    ],
    kept_switches: &[
        "--enable-source-maps",
        "--experimental-vm-modules",
        "--no-warnings",
    ],
    dropped_values: &[
        "--test-reporter",
        "--test-reporter-destination",
        "--test-name-pattern",
        "--test-skip-pattern",
    ],
    positionals: true,
};

fn keep(args: &[String], flags: &Flags) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        i += 1;
        if !w.starts_with('-') {
            // `vitest run`: the subcommand is added back by the invocation.
            if flags.positionals && w != "--test" && !unknowable(w) {
                out.push(w.clone());
            }
            continue;
        }
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (w.as_str(), None),
        };
        let value = if inline.is_none() && flags.takes_value(flag) {
            i += 1;
            args.get(i - 1).cloned()
        } else {
            None
        };
        if flags.keeps(flag) && !unknowable(w) && !value.as_deref().is_some_and(unknowable) {
            out.push(w.clone());
            out.extend(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{repo_of, Files};
    use super::*;

    const PACKAGE: &str = r#"{
  "name": "shop-web",
  "type": "module",
  "engines": { "node": ">=18" },
  "scripts": {
    "prepare": "husky install",
    "test": "tsc --noEmit && vitest --coverage",
    "test:unit": "vitest run --config vitest.unit.ts src"
  },
  "devDependencies": { "vitest": "^1.6.0", "typescript": "^5.4.0" }
}"#;

    fn propose_files(files: &[(&str, &str)]) -> Proposal {
        let (paths, read) = repo_of(files);
        propose(
            &Repo::new(&paths, &*read),
            NaiveDate::from_ymd_opt(2024, 5, 1),
        )
    }

    #[test]
    fn a_vitest_project_with_a_lockfile() {
        let p = propose_files(&[
            ("package.json", PACKAGE),
            ("package-lock.json", "{}"),
            ("src/cart.test.ts", ""),
        ]);
        assert_eq!(
            p.command,
            "vitest run --reporter=junit --outputFile=mergebench-junit.xml"
        );
        assert_eq!(p.format.to_string(), "junit:mergebench-junit.xml");
        assert_eq!(p.command_source, "package.json scripts.test");
        assert_eq!(p.manifests, vec!["package-lock.json", "package.json"]);
        let df = &p.dockerfile;
        for want in [
            "command -v node >/dev/null 2>&1 || packages=\"$packages nodejs\"",
            "COPY manifests/ /opt/deps/",
            "delete p.scripts",
            "npm ci --no-audit --no-fund",
            "ln -sfn /opt/deps/node_modules /node_modules",
            "ENV NODE_PATH=/opt/deps/node_modules PATH=/opt/deps/node_modules/.bin:$PATH",
            "chown -R 1000:1000 /opt/deps",
        ] {
            assert!(df.contains(want), "missing {want} in\n{df}");
        }
        assert!(!df.contains("jest-junit"), "{df}");
        assert!(!df.contains("backports"), "{df}");
        assert!(p.toolchain.available);
        assert_eq!(p.toolchain.wanted.as_deref(), Some("node >=18"));
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        for g in [
            "**/*.test.*",
            "**/*.spec.*",
            "**/__tests__/**",
            "test/**",
            "tests/**",
        ] {
            assert!(p.test_globs.contains(&g.to_string()));
        }
    }

    #[test]
    fn a_workflow_that_runs_a_script_names_the_source() {
        let workflow = "jobs:\n  t:\n    steps:\n      - run: npm ci\n      - run: npm run test:unit -- --reporter=dot\n";
        let p = propose_files(&[
            ("package.json", PACKAGE),
            (".github/workflows/test.yml", workflow),
        ]);
        assert_eq!(
            p.command,
            "vitest run --reporter=junit --outputFile=mergebench-junit.xml --config vitest.unit.ts"
        );
        assert_eq!(p.command_source, ".github/workflows/test.yml");
        // No lockfile: packages as of the day given.
        assert!(
            p.dockerfile
                .contains("npm install --no-audit --no-fund --before=2024-05-02T00:00:00Z"),
            "{}",
            p.dockerfile
        );
        assert!(
            p.notes.iter().any(|n| n.contains("no lockfile")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn runners_and_their_invocations() {
        // (scripts.test, devDependencies, command, format)
        let cases = [
            ("jest --coverage --runInBand -t cart", "jest", "JEST_JUNIT_OUTPUT_FILE=mergebench-junit.xml jest --ci --reporters=default --reporters=/opt/jest-junit/node_modules/jest-junit --runInBand", "junit:mergebench-junit.xml"),
            ("cross-env NODE_ENV=test jest", "jest", "NODE_ENV=test JEST_JUNIT_OUTPUT_FILE=mergebench-junit.xml jest --ci --reporters=default --reporters=/opt/jest-junit/node_modules/jest-junit", "junit:mergebench-junit.xml"),
            ("node --experimental-vm-modules node_modules/jest/bin/jest.js", "jest", "NODE_OPTIONS=--experimental-vm-modules JEST_JUNIT_OUTPUT_FILE=mergebench-junit.xml jest --ci --reporters=default --reporters=/opt/jest-junit/node_modules/jest-junit", "junit:mergebench-junit.xml"),
            ("nyc --reporter=lcov mocha --bail -r ts-node/register 'test/**/*.spec.ts'", "mocha", "mocha --reporter tap -r ts-node/register 'test/**/*.spec.ts'", "tap"),
            ("node --test --test-reporter=spec test/", "typescript", "node --test --test-reporter=tap test/", "tap"),
            ("react-scripts test", "vitest", "vitest run --reporter=junit --outputFile=mergebench-junit.xml", "junit:mergebench-junit.xml"),
            ("echo \"Error: no test specified\" && exit 1", "typescript", "node --test --test-reporter=tap", "tap"),
        ];
        for (script, dev, command, format) in cases {
            let package = serde_json::json!({
                "scripts": { "test": script },
                "devDependencies": { dev: "1.0.0" }
            })
            .to_string();
            let p = propose_files(&[("package.json", &package)]);
            assert_eq!(p.command, command, "{script}");
            assert_eq!(p.format.to_string(), format, "{script}");
            assert_eq!(
                p.dockerfile.contains("jest-junit@16"),
                command.contains("jest-junit"),
                "{script}"
            );
        }
    }

    #[test]
    fn lockfiles_choose_the_installer() {
        // (files besides package.json, statement in the Dockerfile, manifests)
        let cases: &[(Files, &str, &[&str])] = &[
            (
                &[("pnpm-lock.yaml", "lockfileVersion: '6.0'\n")],
                "pnpm@8 && pnpm install --frozen-lockfile",
                &["package.json", "pnpm-lock.yaml"],
            ),
            (
                &[
                    ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n"),
                    ("pnpm-workspace.yaml", "packages:\n  - 'packages/*'\n"),
                    ("packages/ui/package.json", "{\"name\": \"@shop/ui\"}"),
                ],
                "ln -sfn /workspace/packages/ui /opt/deps/node_modules/@shop/ui",
                &[
                    "package.json",
                    "packages/ui/package.json",
                    "pnpm-lock.yaml",
                    "pnpm-workspace.yaml",
                ],
            ),
            (
                &[("yarn.lock", "# yarn lockfile v1\n")],
                "yarn@1 && yarn install --frozen-lockfile",
                &["package.json", "yarn.lock"],
            ),
            (
                &[("yarn.lock", "__metadata:\n  version: 6\n")],
                "npm install --no-audit --no-fund --before=",
                &["package.json"],
            ),
            (
                &[
                    ("npm-shrinkwrap.json", "{}"),
                    (".npmrc", "legacy-peer-deps=true\n"),
                ],
                "npm ci",
                &[".npmrc", "npm-shrinkwrap.json", "package.json"],
            ),
            (
                &[
                    ("package-lock.json", "{}"),
                    (".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"),
                ],
                "npm ci",
                &["package-lock.json", "package.json"],
            ),
        ];
        for (files, statement, manifests) in cases {
            let mut all = vec![("package.json", "{\"devDependencies\": {\"jest\": \"29\"}}")];
            all.extend(files.iter().copied());
            let p = propose_files(&all);
            assert!(
                p.dockerfile.contains(statement),
                "{files:?}: {}",
                p.dockerfile
            );
            assert_eq!(p.manifests, *manifests, "{files:?}");
        }
    }

    #[test]
    fn node_versions_debian_lacks_are_noted() {
        let cases = [
            (
                r#"{"engines": {"node": ">=20"}}"#,
                false,
                Some("Node 20 (such as node:20-bookworm)"),
            ),
            (r#"{"engines": {"node": "^18.12 || >=20"}}"#, true, None),
            (
                r#"{"devDependencies": {"vitest": "^4.0.1"}}"#,
                true,
                Some("vitest 4 or newer, which needs Node 20"),
            ),
            (r#"{"engines": {"node": "lts/*"}}"#, true, None),
            ("not json", true, Some("not valid JSON")),
        ];
        for (package, available, note) in cases {
            let p = propose_files(&[("package.json", package), ("package-lock.json", "{}")]);
            assert_eq!(p.toolchain.available, available, "{package}");
            match note {
                Some(n) => assert!(
                    p.notes.iter().any(|x| x.contains(n)),
                    "{package}: {:?}",
                    p.notes
                ),
                None => assert!(p.notes.is_empty(), "{package}: {:?}", p.notes),
            }
        }
    }
}
