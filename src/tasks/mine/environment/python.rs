//! Python: the project's dependencies (and its test extras, groups and requirement files)
//! installed into a virtualenv as of the day given, pytest run on the source through
//! PYTHONPATH. The project itself is never installed: the build context has no source.

use super::command::{self, first_mapped, ini_values, split_env, unknowable};
use super::version::{self, pep440_allows};
use super::{dockerfile_head, end_of_day, shell_quote, strings, Apt, Language, Proposal, Repo};
use super::{Toolchain, MANIFESTS_DIR};
use crate::testparse::Format;
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};

/// Debian bookworm's python3.
const PYTHON: &[u64] = &[3, 11];
/// Extras and dependency groups that hold what the tests need.
const TEST_EXTRAS: &[&str] = &["test", "tests", "testing", "dev"];
/// `python3`, not `python`: Debian has no `python` outside a virtualenv, and the image
/// has none when pytest is all the tests need.
const DEFAULT_COMMAND: &str =
    "python3 -m pytest -rA -p no:cacheprovider --continue-on-collection-errors";
/// Debian bookworm's python3-pytest, in the base image.
const DEBIAN_PYTEST: &[u64] = &[7, 2, 1];

pub fn propose(repo: &Repo, date: Option<NaiveDate>) -> Proposal {
    let mut deps = Deps::default();
    let project = Project::read(repo, &mut deps.notes);
    deps.project_name = project.name.clone();
    deps.extras = project.extras.clone();
    deps.add_all(&project.dependencies, &project.source);
    for extra in TEST_EXTRAS {
        deps.add_extra(extra, &project.source);
    }
    for (group, reqs) in &project.groups {
        deps.add_all(reqs, &format!("{} {group}", project.source));
    }
    for path in requirement_files(repo) {
        deps.read_requirements(repo, &path, 0);
    }
    tox_deps(repo, &mut deps);
    deps.add_plugin("pytest");
    for plugin in pytest_plugins(repo) {
        deps.add_plugin(plugin);
    }

    let mut notes = std::mem::take(&mut deps.notes);
    let toolchain = toolchain(repo, &project, &mut notes);
    let src_layout = repo
        .paths()
        .any(|p| p.starts_with("src/") && p.ends_with(".py"));
    let (command, command_source) = first_mapped(repo, pytest_command).unwrap_or_else(|| {
        (
            DEFAULT_COMMAND.to_string(),
            "default for python".to_string(),
        )
    });
    let manifests: Vec<String> = deps.constraints.iter().cloned().collect();
    Proposal {
        language: Language::Python,
        command,
        format: Format::Pytest,
        command_source,
        test_globs: strings(&[
            "tests/**",
            "test/**",
            "**/tests/**",
            "**/test_*.py",
            "**/*_test.py",
            "conftest.py",
            "**/conftest.py",
        ]),
        dockerfile: dockerfile(&deps, &manifests, src_layout, date),
        dockerfile_key: None,
        manifests,
        sources: Vec::new(),
        toolchain,
        notes,
    }
}

/// Whether pytest is all the tests need, in a version Debian's python3-pytest is: then the
/// image needs no virtualenv and no package index at all.
fn only_debian_pytest(deps: &Deps) -> bool {
    deps.constraints.is_empty()
        && deps.list.iter().all(|r| {
            let (name, extras) = name_and_extras(r);
            let spec = r
                .find(['<', '>', '=', '!', '~'])
                .map_or("", |i| &r[i..])
                .trim();
            name == "pytest"
                && extras.is_empty()
                && !r.contains(';')
                && (spec.is_empty() || pep440_allows(spec, DEBIAN_PYTEST) == Some(true))
        })
}

fn dockerfile(
    deps: &Deps,
    manifests: &[String],
    src_layout: bool,
    date: Option<NaiveDate>,
) -> String {
    let pythonpath = if src_layout {
        "/workspace/src:/workspace"
    } else {
        "/workspace"
    };
    if only_debian_pytest(deps) {
        let mut text = dockerfile_head(
            Language::Python,
            &[Apt::unless(
                "python3 -m pytest --version >/dev/null 2>&1",
                "python3 python3-pytest",
            )],
        );
        text.push_str(&format!(
            "# pytest is all the tests need, and Debian's python3-pytest (7.2) serves: no package\n\
# index is needed. Tests import the project from /workspace.\n\
ENV PYTHONPATH={pythonpath}\n\
RUN python3 -m pytest --version\n"
        ));
        return text;
    }
    let mut text = dockerfile_head(
        Language::Python,
        &[Apt::unless(
            "python3 -c 'import venv, ensurepip' >/dev/null 2>&1",
            "python3-venv",
        )],
    );
    text.push_str(&format!(
        "# Dependencies go into a virtualenv that uid 1000 can read; the project itself is not\n\
# installed (the build context has no source): tests import it from /workspace.\n\
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONPATH={pythonpath}\n"
    ));
    if !manifests.is_empty() {
        text.push_str(&format!("COPY {MANIFESTS_DIR}/ /opt/manifests/\n"));
    }
    let bound = match date {
        Some(d) => {
            text.push_str(&format!(
                "# Packages as they were on {d}: uv leaves out anything released later (--exclude-newer),\n\
# so a newer release cannot break an old commit. Where uv cannot be installed, pip installs\n\
# the same list without that bound.\n"
            ));
            format!(" --exclude-newer {}", end_of_day(d))
        }
        None => String::new(),
    };
    let mut args: Vec<String> = deps.list.iter().map(|r| shell_quote(r)).collect();
    args.extend(
        manifests
            .iter()
            .map(|c| format!("-c {}", shell_quote(&format!("/opt/manifests/{c}")))),
    );
    text.push_str(&format!(
        "RUN set -eu; \\\n    \
python3 -m venv /opt/venv; \\\n    \
if /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --quiet uv; then \\\n        \
set -- /opt/venv/bin/uv pip install --python /opt/venv/bin/python --no-cache{bound}; \\\n    \
else \\\n        \
set -- /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check; \\\n    \
fi; \\\n    \
\"$@\" \\\n        {args}; \\\n    \
{cleanup}\
chmod -R a+rX /opt/venv; \\\n    \
python -m pytest --version\n",
        args = args.join(" \\\n        "),
        cleanup = if manifests.is_empty() {
            ""
        } else {
            "rm -rf /opt/manifests; \\\n    "
        },
    ));
    text
}

/// What the project's own metadata says: its name, dependencies, extras, test groups and
/// the Python it asks for.
#[derive(Default)]
struct Project {
    name: Option<String>,
    /// The file the metadata came from.
    source: String,
    dependencies: Vec<String>,
    extras: BTreeMap<String, Vec<String>>,
    /// Test and dev dependency groups (PEP 735, Poetry), by name.
    groups: Vec<(String, Vec<String>)>,
    /// `requires-python` (or its like) and the file that says it.
    python: Option<(String, String)>,
}

impl Project {
    fn read(repo: &Repo, notes: &mut Vec<String>) -> Project {
        let mut p = Project {
            source: "pyproject.toml".into(),
            ..Project::default()
        };
        if let Some(text) = repo.text("pyproject.toml") {
            match toml::from_str::<toml::Table>(&text) {
                Ok(doc) => p.pyproject(&doc, notes),
                Err(_) => notes.push(
                    "pyproject.toml is not valid TOML, so its dependencies are left out".into(),
                ),
            }
        }
        if let Some(text) = repo.text("setup.cfg") {
            p.setup_cfg(&text);
        }
        if p.dependencies.is_empty() {
            if let Some(text) = repo.text("setup.py") {
                p.dependencies
                    .extend(setup_py_list(&text, "install_requires"));
                p.dependencies.extend(setup_py_list(&text, "tests_require"));
                if !repo.has("pyproject.toml") {
                    p.source = "setup.py".into();
                }
            }
        }
        p
    }

    fn pyproject(&mut self, doc: &toml::Table, notes: &mut Vec<String>) {
        let list = |v: Option<&toml::Value>| -> Vec<String> {
            v.and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        if let Some(project) = doc.get("project").and_then(|v| v.as_table()) {
            self.name = project
                .get("name")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            self.dependencies = list(project.get("dependencies"));
            if let Some(extras) = project
                .get("optional-dependencies")
                .and_then(|v| v.as_table())
            {
                for (k, v) in extras {
                    self.extras.insert(normalize(k), list(Some(v)));
                }
            }
            if let Some(rp) = project.get("requires-python").and_then(|v| v.as_str()) {
                self.python = Some((rp.to_string(), "pyproject.toml (requires-python)".into()));
            }
        }
        if let Some(groups) = doc.get("dependency-groups").and_then(|v| v.as_table()) {
            for name in TEST_EXTRAS {
                let mut seen = BTreeSet::new();
                let reqs = dependency_group(groups, name, &mut seen);
                if groups.contains_key(*name) {
                    self.groups
                        .push((format!("[dependency-groups] {name}"), reqs));
                }
            }
        }
        if let Some(poetry) = doc
            .get("tool")
            .and_then(|t| t.get("poetry"))
            .and_then(|v| v.as_table())
        {
            if self.name.is_none() {
                self.name = poetry
                    .get("name")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
            }
            if let Some(deps) = poetry.get("dependencies").and_then(|v| v.as_table()) {
                if let Some(py) = deps.get("python").and_then(|v| v.as_str()) {
                    if self.python.is_none() {
                        self.python = Some((
                            poetry_constraint(py).unwrap_or_else(|| py.to_string()),
                            "pyproject.toml (tool.poetry.dependencies.python)".into(),
                        ));
                    }
                }
                self.dependencies.extend(poetry_deps(deps, notes));
            }
            let mut groups: Vec<(String, &toml::Table)> = Vec::new();
            if let Some(dev) = poetry.get("dev-dependencies").and_then(|v| v.as_table()) {
                groups.push(("[tool.poetry.dev-dependencies]".into(), dev));
            }
            if let Some(all) = poetry.get("group").and_then(|v| v.as_table()) {
                for name in TEST_EXTRAS {
                    if let Some(deps) = all
                        .get(*name)
                        .and_then(|g| g.get("dependencies"))
                        .and_then(|v| v.as_table())
                    {
                        groups.push((format!("[tool.poetry.group.{name}]"), deps));
                    }
                }
            }
            for (name, deps) in groups {
                self.groups.push((name, poetry_deps(deps, notes)));
            }
        }
    }

    fn setup_cfg(&mut self, text: &str) {
        for (section, key, value) in ini_values(text) {
            let reqs = || {
                value
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            };
            match (section.as_str(), key.as_str()) {
                ("metadata", "name") if self.name.is_none() => self.name = Some(value.clone()),
                ("options", "install_requires") if self.dependencies.is_empty() => {
                    self.dependencies = reqs();
                    self.source = "setup.cfg".into();
                }
                ("options", "python_requires") if self.python.is_none() => {
                    self.python = Some((value.clone(), "setup.cfg (python_requires)".into()));
                }
                ("options.extras_require", extra) => {
                    self.extras.entry(normalize(extra)).or_insert_with(reqs);
                }
                _ => {}
            }
        }
    }
}

/// A PEP 735 group, its `{include-group = "..."}` entries expanded.
fn dependency_group(groups: &toml::Table, name: &str, seen: &mut BTreeSet<String>) -> Vec<String> {
    if !seen.insert(name.to_string()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for item in groups
        .get(name)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(req) = item.as_str() {
            out.push(req.to_string());
        } else if let Some(inc) = item.get("include-group").and_then(|v| v.as_str()) {
            out.extend(dependency_group(groups, inc, seen));
        }
    }
    out
}

/// Poetry's dependency tables as requirements: optional ones (extras) and `python` left out,
/// path, git and URL ones noted.
fn poetry_deps(table: &toml::Table, notes: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, spec) in table {
        if name == "python" {
            continue;
        }
        let req = match spec {
            toml::Value::String(s) => Some(format!(
                "{name}{}",
                poetry_constraint(s).unwrap_or_default()
            )),
            toml::Value::Table(t) => {
                if t.get("optional").and_then(|v| v.as_bool()) == Some(true) {
                    continue;
                }
                if t.contains_key("git") || t.contains_key("url") {
                    notes.push(format!(
                        "pyproject.toml's dependency {name} comes from git or a URL, which the \
                         image build cannot reach: it is left out"
                    ));
                    continue;
                }
                if t.contains_key("path") {
                    continue;
                }
                let extras = t
                    .get("extras")
                    .and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .filter(|e| !e.is_empty())
                    .map(|e| format!("[{e}]"))
                    .unwrap_or_default();
                let version = t
                    .get("version")
                    .and_then(|v| v.as_str())
                    .and_then(poetry_constraint)
                    .unwrap_or_default();
                Some(format!("{name}{extras}{version}"))
            }
            // Several constraints by Python version: the newest that fits is left to the resolver.
            _ => Some(name.clone()),
        };
        out.extend(req);
    }
    out
}

/// A Poetry constraint (`^1.2`, `~1.2.3`, `1.2.*`, `>=1,<2`, `*`) as a PEP 440 specifier;
/// `Some("")` for any version, None when it cannot be read.
fn poetry_constraint(text: &str) -> Option<String> {
    let mut parts = Vec::new();
    for clause in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        if clause.contains("||") || clause.contains('|') {
            return None;
        }
        if clause == "*" {
            continue;
        }
        if let Some(v) = clause.strip_prefix('^') {
            let want = version::parse(v)?;
            let lead = want.iter().position(|p| *p != 0).unwrap_or(want.len() - 1);
            parts.push(format!(">={}", v.trim()));
            parts.push(format!("<{}", bump(&want, lead)));
        } else if let Some(v) = clause.strip_prefix("~=") {
            parts.push(format!("~={}", v.trim()));
        } else if let Some(v) = clause.strip_prefix('~') {
            let want = version::parse(v)?;
            let at = if want.len() >= 2 { 1 } else { 0 };
            parts.push(format!(">={}", v.trim()));
            parts.push(format!("<{}", bump(&want, at)));
        } else if clause.starts_with(['<', '>', '=', '!']) {
            parts.push(clause.replace(' ', ""));
        } else {
            version::parse(clause)?;
            parts.push(format!("=={clause}"));
        }
    }
    Some(parts.join(","))
}

/// `want` with part `at` raised by one and the rest dropped: `bump([1,2,3], 1)` = `1.3`.
fn bump(want: &[u64], at: usize) -> String {
    let mut out: Vec<u64> = want.iter().take(at + 1).copied().collect();
    if let Some(last) = out.last_mut() {
        *last += 1;
    }
    version::show(&out)
}

/// The string literals of `name=[...]` in a setup.py, when it is written as a literal list.
fn setup_py_list(text: &str, name: &str) -> Vec<String> {
    let Some(at) = text
        .find(&format!("{name}="))
        .or_else(|| text.find(&format!("{name} =")))
    else {
        return Vec::new();
    };
    let rest = text[at..]
        .split_once('=')
        .map(|x| x.1)
        .unwrap_or("")
        .trim_start();
    let Some(body) = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|x| x.0)
    else {
        return Vec::new();
    };
    body.split(',')
        .map(str::trim)
        .filter_map(|s| {
            let s = s
                .lines()
                .find(|l| !l.trim().starts_with('#'))
                .unwrap_or("")
                .trim();
            let quoted = s.len() >= 2
                && ((s.starts_with('"') && s.ends_with('"'))
                    || (s.starts_with('\'') && s.ends_with('\'')));
            quoted.then(|| s[1..s.len() - 1].to_string())
        })
        .collect()
}

/// PEP 503's normal form of a project or extra name.
fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A requirement's project name (normalized) and its extras.
fn name_and_extras(req: &str) -> (String, Vec<String>) {
    let name: String = req
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let rest = req[name.len()..].trim_start();
    let extras = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(e, _)| {
            e.split(',')
                .map(normalize)
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    (normalize(&name), extras)
}

/// The requirements to install, in the order found, each once.
#[derive(Default)]
struct Deps {
    list: Vec<String>,
    seen: BTreeSet<String>,
    /// Constraint files (`-c`), by path in the repository.
    constraints: BTreeSet<String>,
    project_name: Option<String>,
    extras: BTreeMap<String, Vec<String>>,
    extras_added: BTreeSet<String>,
    files_read: BTreeSet<String>,
    notes: Vec<String>,
}

impl Deps {
    fn add_all(&mut self, reqs: &[String], from: &str) {
        for r in reqs {
            self.add(r, from);
        }
    }

    /// One requirement as written in a manifest: the project's own name or a local path
    /// becomes its extras (the project is imported from the source), what only git or a URL
    /// can give is left out with a note.
    fn add(&mut self, req: &str, from: &str) {
        let req = strip_comment(req);
        let req = req.trim();
        if req.is_empty() || !super::printable(req) {
            return;
        }
        let local = req.starts_with('.') || req.starts_with('/') || req.starts_with("file:");
        if local {
            // `.[test]`: the project's own extras.
            if let Some((_, rest)) = req.split_once('[') {
                for e in rest.split(']').next().unwrap_or("").split(',') {
                    self.add_extra(&normalize(e), from);
                }
            }
            return;
        }
        let (name, extras) = name_and_extras(req);
        let remote = req.contains("://") || req.contains(" @ ") || req.contains("@git+");
        if name.is_empty() && !remote {
            return;
        }
        if remote {
            self.notes.push(format!(
                "{from}: `{req}` is fetched from git or a URL, which the image build cannot \
                 reach, so it is left out"
            ));
            return;
        }
        if self.project_name.as_deref().map(normalize).as_deref() == Some(name.as_str()) {
            for e in extras {
                self.add_extra(&e, from);
            }
            return;
        }
        if self.seen.insert(req.to_string()) {
            self.list.push(req.to_string());
        }
    }

    fn add_extra(&mut self, extra: &str, from: &str) {
        let extra = normalize(extra);
        if !self.extras_added.insert(extra.clone()) {
            return;
        }
        if let Some(reqs) = self.extras.get(&extra).cloned() {
            self.add_all(&reqs, &format!("{from} [{extra}]"));
        }
    }

    /// A pytest plugin the configuration needs, unless a requirement already names it.
    fn add_plugin(&mut self, plugin: &str) {
        let have = self.list.iter().any(|r| name_and_extras(r).0 == plugin);
        if !have {
            self.list.push(plugin.to_string());
            self.seen.insert(plugin.to_string());
        }
    }

    /// A requirements file: requirements, `-r` files followed, `-c` files kept as
    /// constraints, `-e` and paths handled as requirements, other options left out.
    fn read_requirements(&mut self, repo: &Repo, path: &str, depth: usize) {
        if depth > 5 || !self.files_read.insert(path.to_string()) {
            return;
        }
        let Some(text) = repo.text(path) else {
            return;
        };
        let dir = path.rsplit_once('/').map(|x| x.0).unwrap_or("");
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        for line in join_continuations(&lines) {
            self.requirement_line(repo, &line, dir, path, depth);
        }
    }

    fn requirement_line(&mut self, repo: &Repo, line: &str, dir: &str, from: &str, depth: usize) {
        let line = strip_comment(line);
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let (option, value) = split_option(line);
        match option {
            Some("-r" | "--requirement") => {
                if let Some(p) = join_path(dir, &value) {
                    self.read_requirements(repo, &p, depth + 1);
                }
            }
            Some("-c" | "--constraint") => {
                if let Some(p) = join_path(dir, &value).filter(|p| repo.has(p)) {
                    self.constraints.insert(p);
                }
            }
            Some("-e" | "--editable") => self.add(&value, from),
            Some("-i" | "--index-url" | "--extra-index-url") => self.notes.push(format!(
                "{from} names a package index ({value}); packages come from PyPI here, so \
                 any only that index has are missing"
            )),
            Some(_) => {}
            None => {
                let req: Vec<&str> = line
                    .split_whitespace()
                    .take_while(|w| !w.starts_with("--"))
                    .collect();
                self.add(&req.join(" "), from);
            }
        }
    }
}

/// `-r file`, `-rfile`, `--requirement=file`: the option and its value; None for a
/// requirement line.
fn split_option(line: &str) -> (Option<&str>, String) {
    if !line.starts_with('-') {
        return (None, String::new());
    }
    if let Some((opt, value)) = line
        .split_once('=')
        .filter(|(o, _)| o.starts_with("--") && !o.contains(' '))
    {
        return (Some(opt), value.trim().to_string());
    }
    let (opt, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    if !opt.starts_with("--") && opt.len() > 2 && opt.is_char_boundary(2) {
        // `-rrequirements.txt`
        return (Some(&opt[..2]), opt[2..].to_string());
    }
    (Some(opt), value.trim().to_string())
}

/// A path relative to `dir`, `..` resolved; None when it leaves the repository or uses a
/// variable.
fn join_path(dir: &str, rel: &str) -> Option<String> {
    let rel = rel.trim();
    let rel = rel
        .strip_prefix("{toxinidir}/")
        .or_else(|| rel.strip_prefix("{tox_root}/"))
        .unwrap_or(rel);
    if rel.is_empty() || rel.starts_with('/') || rel.contains('{') || rel.contains('$') {
        return None;
    }
    super::join_in_repo(dir, rel)
}

fn strip_comment(line: &str) -> String {
    if line.trim_start().starts_with('#') {
        return String::new();
    }
    match line.find(" #").or_else(|| line.find("\t#")) {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

fn join_continuations(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for l in lines {
        match l.trim_end().strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(l);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The requirement files the tests need: the top-level `requirements.txt`, and those named
/// for tests, development or CI (`requirements-dev.txt`, `test-requirements.txt`,
/// `requirements/test.txt`), not those for docs or linting.
fn requirement_files(repo: &Repo) -> Vec<String> {
    let wanted = |stem: &str| {
        let parts: Vec<String> = stem
            .to_ascii_lowercase()
            .split(['-', '_', '.'])
            .map(str::to_string)
            .collect();
        let has = |words: &[&str]| parts.iter().any(|p| words.contains(&p.as_str()));
        if has(&[
            "doc", "docs", "lint", "linting", "mypy", "typing", "bench", "release", "publish",
        ]) {
            return false;
        }
        has(&[
            "test",
            "tests",
            "testing",
            "dev",
            "develop",
            "development",
            "ci",
        ]) || parts.iter().all(|p| p == "requirements")
            || has(&["base", "common", "main", "core", "install", "runtime"])
    };
    repo.paths()
        .filter(|p| {
            let Some(stem) = p.strip_suffix(".txt") else {
                return false;
            };
            match stem.split_once('/') {
                None => stem.to_ascii_lowercase().contains("requirements") && wanted(stem),
                Some(("requirements", name)) => !name.contains('/') && wanted(name),
                Some(_) => false,
            }
        })
        .map(str::to_string)
        .collect()
}

/// tox's `deps` and `extras` of its base test environment.
fn tox_deps(repo: &Repo, deps: &mut Deps) {
    let Some(text) = repo.text("tox.ini") else {
        return;
    };
    for (section, key, value) in ini_values(&text) {
        if section != "testenv" {
            continue;
        }
        match key.as_str() {
            "deps" => {
                for line in value.lines().map(str::trim) {
                    // Factor-conditional lines (`py38: x`) and references to other sections.
                    let conditional = line
                        .split_once(':')
                        .is_some_and(|(f, rest)| !f.contains(' ') && rest.starts_with(' '));
                    if conditional || line.contains("{[") {
                        continue;
                    }
                    deps.requirement_line(repo, line, "", "tox.ini", 0);
                }
            }
            "extras" => {
                for e in value
                    .split([',', '\n'])
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                {
                    deps.add_extra(e, "tox.ini extras");
                }
            }
            _ => {}
        }
    }
}

/// Plugins pytest's own configuration needs to start at all: `--cov` in addopts without
/// pytest-cov is an error, and so on.
fn pytest_plugins(repo: &Repo) -> Vec<&'static str> {
    let mut config = String::new();
    for path in ["pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml"] {
        if let Some(text) = repo.text(path) {
            let relevant = match path {
                "pyproject.toml" => text.contains("[tool.pytest"),
                "tox.ini" | "setup.cfg" => {
                    text.contains("[pytest]") || text.contains("[tool:pytest]")
                }
                _ => true,
            };
            if relevant {
                config.push_str(&text);
                config.push('\n');
            }
        }
    }
    let mut out = Vec::new();
    let words: Vec<&str> = config
        .split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
        .collect();
    let has = |f: &str| {
        words
            .iter()
            .any(|w| *w == f || w.starts_with(&format!("{f}=")))
    };
    if words.iter().any(|w| w.starts_with("--cov")) {
        out.push("pytest-cov");
    }
    if has("-n") || has("--numprocesses") {
        out.push("pytest-xdist");
    }
    if has("--timeout")
        || config
            .lines()
            .any(|l| l.trim_start().starts_with("timeout"))
    {
        out.push("pytest-timeout");
    }
    if config.contains("asyncio_mode") {
        out.push("pytest-asyncio");
    }
    if config.contains("DJANGO_SETTINGS_MODULE") {
        out.push("pytest-django");
    }
    out
}

/// The Python the repository asks for, against Debian's 3.11.
fn toolchain(repo: &Repo, project: &Project, notes: &mut Vec<String>) -> Toolchain {
    let provided = "python 3.11 (Debian bookworm's python3)".to_string();
    let pinned = repo
        .text(".python-version")
        .and_then(|t| t.lines().next().map(|l| l.trim().to_string()))
        .filter(|l| !l.is_empty());
    let (wanted, by, available) = match (&project.python, &pinned) {
        (Some((spec, by)), _) => {
            let ok = pep440_allows(spec, PYTHON);
            (
                Some(format!("python {spec}")),
                Some(by.clone()),
                ok != Some(false),
            )
        }
        (None, Some(pin)) => {
            let ok = version::parse(pin).map(|v| v.iter().take(2).eq(PYTHON.iter()));
            (
                Some(format!("python {pin}")),
                Some(".python-version".to_string()),
                ok != Some(false),
            )
        }
        (None, None) => (None, None, true),
    };
    if let (false, Some(w), Some(b)) = (available, &wanted, &by) {
        let lowest = project
            .python
            .as_ref()
            .and_then(|(spec, _)| {
                (8..20u64)
                    .map(|m| [3, m])
                    .find(|v| pep440_allows(spec, v) == Some(true))
            })
            .map(|v| version::show(&v))
            .or_else(|| pinned.clone())
            .unwrap_or_else(|| "another version".into());
        notes.push(format!(
            "{b} asks for {w}; Debian bookworm's python3 is 3.11: set [environment] base to an \
             image with Python {lowest} (such as python:{lowest}-slim-bookworm)"
        ));
    }
    Toolchain {
        provided,
        wanted,
        wanted_by: by,
        available,
    }
}

/// A pytest invocation from the repository's CI, with what grading needs added (`-rA`, no
/// cache, collection errors not stopping the run) and what stops early or filters left out.
fn pytest_command(words: &[String]) -> Option<String> {
    let (env, rest) = split_env(words);
    // Wrappers that run the command in the project's environment, which the image is.
    let mut rest = rest;
    loop {
        match rest {
            [a, b, tail @ ..]
                if matches!(
                    (a.as_str(), b.as_str()),
                    ("poetry" | "pipenv" | "pdm" | "hatch" | "rye", "run")
                ) =>
            {
                rest = tail
            }
            [a, b, tail @ ..] if a == "uv" && b == "run" => {
                let skip = tail.iter().take_while(|w| w.starts_with('-')).count();
                rest = &tail[skip..];
            }
            [a, tail @ ..] if a == "xvfb-run" => rest = tail,
            _ => break,
        }
    }
    let args: &[String] = match rest {
        [p, tail @ ..] if p == "pytest" || p == "py.test" => tail,
        [py, m, p, tail @ ..] if py.starts_with("python") && m == "-m" && p == "pytest" => tail,
        [c, r, tail @ ..] if c == "coverage" && r == "run" => {
            let at = tail.iter().position(|w| w == "-m")?;
            match &tail[at + 1..] {
                [p, tail @ ..] if p == "pytest" => tail,
                _ => return None,
            }
        }
        _ => return None,
    };
    // Flags whose value is the next word.
    const WITH_VALUE: &[&str] = &[
        "-p",
        "-c",
        "-m",
        "-k",
        "-n",
        "-W",
        "-o",
        "-r",
        "--maxfail",
        "--numprocesses",
        "--dist",
        "--deselect",
        "--ignore",
        "--ignore-glob",
        "--rootdir",
        "--confcutdir",
        "--junitxml",
        "--junit-xml",
        "--cov",
        "--cov-report",
        "--cov-config",
        "--cov-fail-under",
        "--durations",
        "--timeout",
        "--import-mode",
        "--basetemp",
        "--log-level",
        "--override-ini",
        "--reruns",
        "--reruns-delay",
        "--tb",
        "--capture",
        "--color",
    ];
    // Dropped: stopping early, filtering, plugins the image may lack, output it must keep.
    let drop_flag = |f: &str| {
        matches!(
            f,
            "-x" | "--exitfirst"
                | "--maxfail"
                | "-k"
                | "--lf"
                | "--last-failed"
                | "--ff"
                | "--failed-first"
                | "--sw"
                | "--stepwise"
                | "--deselect"
                | "-n"
                | "--numprocesses"
                | "--dist"
                | "--junitxml"
                | "--junit-xml"
                | "--reruns"
                | "--reruns-delay"
                | "--pdb"
                | "--cache-clear"
                | "-r"
                | "-q"
                | "--quiet"
                | "--continue-on-collection-errors"
                | "--no-cov"
        ) || f.starts_with("--cov")
            || f.starts_with("-q")
            || (f.starts_with("-r") && f.len() > 2 && !f.starts_with("--"))
    };
    let mut kept: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        i += 1;
        if matches!(
            w.as_str(),
            "--co" | "--collect-only" | "--help" | "-h" | "--version" | "--fixtures" | "--markers"
        ) {
            return None;
        }
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if w.starts_with("--") => (f, Some(v)),
            _ => (w.as_str(), None),
        };
        let takes_value = inline.is_none() && WITH_VALUE.contains(&flag);
        let value = if takes_value {
            let v = args.get(i).cloned();
            i += 1;
            v
        } else {
            None
        };
        if !w.starts_with('-') {
            // A path; a test id (`file.py::test`) filters, so it goes.
            if !w.contains("::") && !unknowable(w) {
                kept.push(w.clone());
            }
            continue;
        }
        if drop_flag(flag) || unknowable(w) || value.as_deref().is_some_and(unknowable) {
            continue;
        }
        if flag == "-p" && value.as_deref() == Some("no:cacheprovider") {
            continue;
        }
        // A marker expression that selects (`-m integration`) would leave the rest out.
        if flag == "-m" && !value.as_deref().is_some_and(|v| v.starts_with("not ")) {
            continue;
        }
        kept.push(w.clone());
        kept.extend(value);
    }
    let mut out = env;
    out.extend(strings(&[
        "python3",
        "-m",
        "pytest",
        "-rA",
        "-p",
        "no:cacheprovider",
        "--continue-on-collection-errors",
    ]));
    out.extend(kept);
    Some(command::render(&out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_invocations, repo_of, Files};
    use super::*;

    const PYPROJECT: &str = r#"
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "Shop_Core"
version = "1.0"
requires-python = ">=3.9"
dependencies = [
    "requests>=2.28",
    "pydantic[email]>=2,<3",
    "tomli; python_version < '3.11'",
]

[project.optional-dependencies]
test = ["pytest>=7", "shop-core[yaml]", "freezegun"]
yaml = ["pyyaml"]
docs = ["sphinx"]

[dependency-groups]
dev = ["ruff", {include-group = "typing"}]
typing = ["mypy"]

[tool.pytest.ini_options]
addopts = "--cov=shop --strict-markers"
"#;

    fn propose_files(files: &[(&str, &str)]) -> Proposal {
        let (paths, read) = repo_of(files);
        let repo = Repo::new(&paths, &*read);
        propose(&repo, NaiveDate::from_ymd_opt(2024, 5, 1))
    }

    #[test]
    fn a_src_layout_project_installs_its_dependencies_extras_and_groups() {
        let p = propose_files(&[
            ("pyproject.toml", PYPROJECT),
            ("src/shop/__init__.py", ""),
            ("tests/test_cart.py", ""),
        ]);
        let df = &p.dockerfile;
        for want in [
            "'requests>=2.28'",
            "'pydantic[email]>=2,<3'",
            "'tomli; python_version < '\\''3.11'\\'''",
            "'pytest>=7'",
            "pyyaml",
            "freezegun",
            "ruff",
            "mypy",
            "pytest-cov",
            "--exclude-newer 2024-05-02T00:00:00Z",
            "PYTHONPATH=/workspace/src:/workspace",
            "python3 -m venv /opt/venv",
            "pip install --no-cache-dir --disable-pip-version-check --quiet uv",
            "chmod -R a+rX /opt/venv",
            "ARG BASE=mergebench-base:bookworm",
            "FROM ${BASE}",
            "USER root",
            "safe.directory",
            "useradd --uid 1000",
        ] {
            assert!(df.contains(want), "missing {want} in\n{df}");
        }
        // The project itself, its docs extra and self-references are never installed.
        for unwanted in ["sphinx", "shop-core", "Shop_Core", "pip install .", "-e ."] {
            assert!(!df.contains(unwanted), "{unwanted} in\n{df}");
        }
        assert!(p.manifests.is_empty());
        assert_eq!(p.command, DEFAULT_COMMAND);
        assert_eq!(p.command_source, "default for python");
        assert!(p.toolchain.available);
        assert_eq!(p.toolchain.wanted.as_deref(), Some("python >=3.9"));
        assert!(p.notes.is_empty(), "{:?}", p.notes);
    }

    #[test]
    fn requirement_files_are_followed_and_cleaned() {
        let p = propose_files(&[
            ("setup.py", "from setuptools import setup\nsetup(name='shop', install_requires=['click>=8'])\n"),
            ("requirements.txt", "flask==3.0.0 \\\n    --hash=sha256:abc\n# comment\n"),
            (
                "requirements-dev.txt",
                "-r requirements.txt\n-c constraints/pins.txt\n-e .\npytest-mock  # mocks\n--index-url https://pypi.example.com/simple\ngit+https://github.com/x/y.git#egg=y\nlib @ https://example.com/lib.tar.gz\n",
            ),
            ("requirements-docs.txt", "sphinx\n"),
            ("requirements/test.txt", "hypothesis\n"),
            ("constraints/pins.txt", "urllib3<2\n"),
        ]);
        let df = &p.dockerfile;
        for want in [
            "'click>=8'",
            "flask==3.0.0",
            "pytest-mock",
            "hypothesis",
            "-c /opt/manifests/constraints/pins.txt",
            "COPY manifests/ /opt/manifests/",
            "PYTHONPATH=/workspace\n",
        ] {
            assert!(df.contains(want), "missing {want} in\n{df}");
        }
        for unwanted in ["sha256", "sphinx", "github.com", "example.com/lib"] {
            assert!(!df.contains(unwanted), "{unwanted} in\n{df}");
        }
        assert_eq!(p.manifests, vec!["constraints/pins.txt"]);
        assert_eq!(p.notes.len(), 3, "{:?}", p.notes);
        assert!(p.notes[0].contains("pypi.example.com"), "{:?}", p.notes);
        assert!(
            p.notes[1].contains("git+https://github.com/x/y.git"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn the_workflow_s_pytest_step_becomes_the_command() {
        let workflow = "jobs:\n  test:\n    steps:\n      - run: pip install -r requirements-dev.txt\n      - name: Tests\n        run: |\n          python -m pytest -x tests/\n";
        let p = propose_files(&[
            ("requirements-dev.txt", "pytest\n"),
            (".github/workflows/ci.yml", workflow),
        ]);
        assert_eq!(
            p.command,
            "python3 -m pytest -rA -p no:cacheprovider --continue-on-collection-errors tests/"
        );
        assert_eq!(p.command_source, ".github/workflows/ci.yml");
        assert!(crate::score::canary::command_refuses(&p.format, &p.command).is_none());
    }

    #[test]
    fn pytest_invocations_keep_what_runs_every_test() {
        let table = include_str!("testdata/pytest_invocations.txt").replace("$B", DEFAULT_COMMAND);
        check_invocations(&Format::Pytest, &table, |words| pytest_command(&words));
    }

    #[test]
    fn tox_and_poetry_manifests() {
        let pyproject = r#"
[tool.poetry]
name = "legacy"
[tool.poetry.dependencies]
python = "^3.12"
django = "^4.2"
attrs = {version = "~23.1", extras = ["tests"]}
private = {git = "https://github.com/acme/private.git"}
extra-only = {version = "*", optional = true}
[tool.poetry.group.test.dependencies]
pytest-django = ">=4.5"
"#;
        let tox = "[testenv]\ndeps =\n    -r{toxinidir}/requirements/ci.txt\n    py38: backports.zoneinfo\n    {[base]deps}\n    responses\nextras = test\ncommands = pytest {posargs} tests\n";
        let p = propose_files(&[
            ("pyproject.toml", pyproject),
            ("tox.ini", tox),
            ("requirements/ci.txt", "coverage\n"),
        ]);
        let df = &p.dockerfile;
        for want in [
            "'django>=4.2,<5'",
            "'attrs[tests]>=23.1,<23.2'",
            "'pytest-django>=4.5'",
            "coverage",
            "responses",
        ] {
            assert!(df.contains(want), "missing {want} in\n{df}");
        }
        for unwanted in ["backports", "extra-only", "private", "[base]"] {
            assert!(!df.contains(unwanted), "{unwanted} in\n{df}");
        }
        assert_eq!(p.command_source, "tox.ini");
        assert_eq!(
            p.command,
            "python3 -m pytest -rA -p no:cacheprovider --continue-on-collection-errors tests"
        );
        assert!(!p.toolchain.available);
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("asks for python >=3.12,<4")
                    && n.contains("python:3.12-slim-bookworm")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn python_version_files_and_specifiers() {
        // (files, available, note mentions)
        let cases: &[(Files, bool, Option<&str>)] = &[
            (
                &[(".python-version", "3.11.4\n"), ("requirements.txt", "")],
                true,
                None,
            ),
            (
                &[(".python-version", "3.12\n"), ("requirements.txt", "")],
                false,
                Some("Python 3.12"),
            ),
            (
                &[("setup.cfg", "[options]\npython_requires = >=3.13\n")],
                false,
                Some("Python 3.13"),
            ),
            (
                &[(
                    "pyproject.toml",
                    "[project]\nrequires-python = \">=3.8,<3.12\"\n",
                )],
                true,
                None,
            ),
            (
                &[("pyproject.toml", "not toml [")],
                true,
                Some("not valid TOML"),
            ),
        ];
        for (files, available, note) in cases {
            let p = propose_files(files);
            assert_eq!(p.toolchain.available, *available, "{files:?}");
            match note {
                Some(n) => assert!(
                    p.notes.iter().any(|x| x.contains(n)),
                    "{files:?}: {:?}",
                    p.notes
                ),
                None => assert!(p.notes.is_empty(), "{files:?}: {:?}", p.notes),
            }
        }
    }

    #[test]
    fn pytest_alone_needs_no_virtualenv_when_debian_s_will_do() {
        // (test extra, virtualenv)
        let cases = [
            ("[]", false),
            ("[\"pytest>=7.2\"]", false),
            ("[\"pytest\", \"pytest>=7,<9\"]", false),
            ("[\"pytest>=8\"]", true),
            ("[\"pytest[testing]\"]", true),
            ("[\"pytest-mock\"]", true),
        ];
        for (extra, venv) in cases {
            let pyproject = format!(
                "[project]\nname = \"shop\"\ndependencies = []\n[project.optional-dependencies]\ntest = {extra}\n"
            );
            let p = propose_files(&[("pyproject.toml", &pyproject)]);
            let df = &p.dockerfile;
            assert_eq!(df.contains("/opt/venv"), venv, "{extra}:\n{df}");
            assert_eq!(
                df.contains("python3 python3-pytest"),
                !venv,
                "{extra}:\n{df}"
            );
            assert!(df.contains("ENV PYTHONPATH=/workspace\n") || venv, "{df}");
        }
    }

    #[test]
    fn poetry_constraints_become_specifiers() {
        let cases = [
            ("^1.2.3", Some(">=1.2.3,<2")),
            ("^0.2", Some(">=0.2,<0.3")),
            ("~1.2.3", Some(">=1.2.3,<1.3")),
            ("~=1.2", Some("~=1.2")),
            ("1.2.3", Some("==1.2.3")),
            (">= 1.0, < 2", Some(">=1.0,<2")),
            ("*", Some("")),
            ("^1 || ^2", None),
            ("latest", None),
        ];
        for (text, want) in cases {
            assert_eq!(poetry_constraint(text).as_deref(), want, "{text}");
        }
    }
}
