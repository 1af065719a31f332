//! Task suites: `suite.toml` defaults merged into each `<task>/task.toml`.

use super::{line_of_key, parse_toml, read_file, sha256_hex};
use crate::config::limits::{PatchLimits, MIN_PATCH_BYTES, MIN_PATCH_FILES};
use crate::config::units::{parse_duration, parse_size};
use crate::conventions::{BlastConfig, ConventionsConfig, OwnershipConfig};
use crate::error::Error;
use crate::testparse::Format;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawRepo {
    source: Option<String>,
    base: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    dockerfile: Option<String>,
    image: Option<String>,
    base: Option<String>,
    ca_bundle: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawTests {
    command: Option<String>,
    format: Option<String>,
    patch: Option<String>,
    fail_to_pass: Option<Vec<String>>,
    pass_to_pass: Option<Vec<String>>,
    timeout: Option<String>,
    disk: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawGold {
    patch: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawScope {
    #[serde(default)]
    read_only: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    protect: Vec<String>,
    #[serde(default)]
    unprotect: Vec<String>,
}

/// `[limits]`: how large an agent's patch may be before it is not graded.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    patch_bytes: Option<String>,
    patch_files: Option<u64>,
}

/// `[report]` of suite.toml: how reports group the suite's tasks.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawReport {
    /// `tag:<prefix>` (a task's cluster is the value of its tag `<prefix>:<value>`), `source`
    /// (its repository) or `owner` (the `[ownership]` owner of the first owned path its gold
    /// patch touches); a task's own `cluster` wins.
    cluster: Option<String>,
}

/// suite.toml: every key may be left out.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSuite {
    name: Option<String>,
    description: Option<String>,
    repo: RawRepo,
    environment: RawEnvironment,
    tests: RawTests,
    scope: RawScope,
    conventions: ConventionsConfig,
    ownership: OwnershipConfig,
    blast_radius: BlastConfig,
    limits: RawLimits,
    #[serde(default)]
    report: RawReport,
    /// Model name (or `*`) → USD per million tokens, over every agent gateway's own table.
    prices: BTreeMap<String, super::gateway::Price>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    id: String,
    title: String,
    created: Option<toml::value::Datetime>,
    #[serde(default)]
    tags: Vec<String>,
    /// The group of related tasks (repository, service) reports resample together.
    cluster: Option<String>,
    problem: String,
    #[serde(default)]
    repo: RawRepo,
    #[serde(default)]
    environment: RawEnvironment,
    #[serde(default)]
    tests: RawTests,
    #[serde(default)]
    gold: RawGold,
    #[serde(default)]
    scope: RawScope,
}

/// Where a task's repository comes from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Dir(PathBuf),
    Bundle(PathBuf),
    Url(String),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvKind {
    /// Built from a Dockerfile; the build context is the Dockerfile's folder.
    Dockerfile { path: PathBuf, context: PathBuf },
    /// A ready image.
    Image(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub kind: EnvKind,
    /// Value for the Dockerfile's `ARG BASE`; None means mergebench's offline base.
    pub base: Option<String>,
    /// A CA bundle layered into the base so that builds behind a TLS-inspecting proxy work.
    pub ca_bundle: Option<PathBuf>,
    /// Hash of the Dockerfile's folder (or the image name): part of the image tag.
    pub context_hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tests {
    pub command: String,
    #[serde(serialize_with = "ser_display")]
    pub format: Format,
    #[serde(skip)]
    pub patch: Vec<u8>,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// Bytes a test run may write to its container's filesystem. Left out of the task's
    /// hash at the default, so tasks written before the setting existed keep theirs.
    #[serde(skip_serializing_if = "is_default_test_disk")]
    pub disk: u64,
}

/// What a test run may write unless `[tests] disk` says otherwise: room for builds.
pub const DEFAULT_TEST_DISK: u64 = 16 << 30;

fn is_default_test_disk(d: &u64) -> bool {
    *d == DEFAULT_TEST_DISK
}

/// `[tests] disk` from whichever file gave it, or the default.
fn test_disk(p: Option<Pick<'_, String>>) -> Result<u64, Error> {
    let Some(p) = p else {
        return Ok(DEFAULT_TEST_DISK);
    };
    let at = p.line(Some("tests"), "disk");
    let d =
        parse_size(&p.value).map_err(|e| Error::input(p.file, at, e, "write it like \"16GiB\""))?;
    if d < 64 << 20 {
        return Err(Error::input(
            p.file,
            at,
            "disk below 64MiB leaves no room for the repository",
            "give at least \"1GiB\"",
        ));
    }
    Ok(d)
}

fn ser_display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Scope {
    pub read_only: Vec<String>,
    pub deny: Vec<String>,
    /// Test-harness files beyond the defaults, restored to the base before grading.
    /// Left out of the task's hash when empty, so older tasks keep theirs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protect: Vec<String>,
    /// Default test-harness entries this suite does not protect (by their glob text).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unprotect: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub suite: String,
    pub id: String,
    pub title: String,
    pub created: Option<String>,
    pub tags: Vec<String>,
    /// The group of related tasks (a repository, a service) whose results are not
    /// independent: reports resample clusters, not tasks. From task.toml `cluster`, else the
    /// suite's `[report] cluster` rule; None: the task is its own cluster. Not part of the
    /// task's hash: it says how to read results, not what the task is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip)]
    pub problem: String,
    pub source: Source,
    pub base: String,
    pub environment: Environment,
    pub tests: Tests,
    #[serde(skip)]
    pub gold: Option<Vec<u8>>,
    pub scope: Scope,
    pub file: PathBuf,
    /// sha256 over everything that defines the task: its provenance key.
    pub hash: String,
}

#[derive(Debug)]
pub struct Suite {
    pub name: String,
    pub description: Option<String>,
    pub dir: PathBuf,
    pub tasks: Vec<Task>,
    /// Tasks that could not be loaded: reported, never silently dropped.
    pub invalid: Vec<Error>,
    /// `[conventions]`: the convention rules every attempt's patch is scored by.
    pub conventions: ConventionsConfig,
    /// `[ownership]`: path globs to owners, for blast radius and the expected area.
    pub ownership: OwnershipConfig,
    pub blast_radius: BlastConfig,
    /// `[limits]`: the patch size and file count past which a patch is not graded.
    pub patch_limits: PatchLimits,
    /// `[prices]`: what agents' gateways charge model calls at, over the agents' own tables.
    pub prices: BTreeMap<String, super::gateway::Price>,
}

impl Suite {
    /// Fails with every invalid task listed, for commands that need the whole suite.
    pub fn require_valid(&self) -> Result<(), Error> {
        match self.invalid.len() {
            0 => Ok(()),
            1 => Err(clone_error(&self.invalid[0])),
            n => Err(Error::Usage(format!(
                "{n} tasks in {} cannot be loaded:\n{}",
                self.dir.display(),
                self.invalid
                    .iter()
                    .map(|e| format!("- {e}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ))),
        }
    }
}

fn clone_error(e: &Error) -> Error {
    match e {
        Error::Input {
            file,
            line,
            message,
            fix,
        } => Error::input(file.clone(), *line, message.clone(), fix.clone()),
        other => Error::Usage(other.to_string()),
    }
}

/// A suite's defaults with the suite file's text kept for error locations.
struct Defaults {
    raw: RawSuite,
    file: PathBuf,
    text: String,
}

pub fn load_suite(dir: &Path) -> Result<Suite, Error> {
    let (defaults, name) = read_defaults(dir)?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            Error::input(
                dir,
                None,
                format!("cannot list the suite folder: {e}"),
                "check permissions",
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        // Hidden folders are work in progress (`tasks mine` writes a task into one and
        // renames it into place), never tasks.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .filter(|p| p.join("task.toml").is_file())
        .collect();
    entries.sort();
    let mut tasks = Vec::new();
    let mut invalid = Vec::new();
    for task_dir in entries {
        match load_task(&task_dir.join("task.toml"), &name, &defaults) {
            Ok(t) => tasks.push(t),
            Err(e) => invalid.push(e),
        }
    }
    let mut seen = BTreeMap::new();
    for t in &tasks {
        if let Some(other) = seen.insert(t.id.clone(), t.file.clone()) {
            invalid.push(Error::input(
                &t.file,
                Some(1),
                format!("task id `{}` is also used by {}", t.id, other.display()),
                "give every task in a suite its own id",
            ));
        }
    }
    if tasks.is_empty() && invalid.is_empty() {
        return Err(Error::input(
            dir,
            None,
            "the suite has no tasks",
            "add a folder per task holding task.toml (see docs/tasks.md)",
        ));
    }
    let patch_limits = patch_limits(&defaults)?;
    super::gateway::check_prices(
        &defaults.raw.prices,
        &dir.join("suite.toml"),
        &defaults.text,
        "prices",
    )?;
    let Defaults { raw, .. } = defaults;
    Ok(Suite {
        name,
        description: raw.description,
        dir: dir.to_path_buf(),
        tasks,
        invalid,
        conventions: raw.conventions,
        ownership: raw.ownership,
        blast_radius: raw.blast_radius,
        patch_limits,
        prices: raw.prices,
    })
}

/// `[limits]` of suite.toml, each checked against its floor, defaults where not given.
fn patch_limits(d: &Defaults) -> Result<PatchLimits, Error> {
    let mut limits = PatchLimits::default();
    let at = |key: &str| line_of_key(&d.text, Some("limits"), key);
    let refuse = |key: &str, problem: &str, fix: &str| Error::input(&d.file, at(key), problem, fix);
    if let Some(v) = &d.raw.limits.patch_bytes {
        let bytes = parse_size(v)
            .map_err(|e| Error::input(&d.file, at("patch_bytes"), e, "write it like \"4MiB\""))?;
        if bytes < MIN_PATCH_BYTES {
            let problem = "patch_bytes below 4KiB leaves no room for a fix";
            return Err(refuse("patch_bytes", problem, "give at least \"1MiB\""));
        }
        limits.bytes = bytes;
    }
    if let Some(files) = d.raw.limits.patch_files {
        if files < MIN_PATCH_FILES {
            let problem = "patch_files = 0 would refuse every patch";
            return Err(refuse("patch_files", problem, "give at least 100"));
        }
        limits.files = files;
    }
    Ok(limits)
}

/// Reads `dir/suite.toml` (absent means no defaults) and the suite's name.
fn read_defaults(dir: &Path) -> Result<(Defaults, String), Error> {
    if !dir.is_dir() {
        return Err(Error::input(
            dir,
            None,
            "no such suite folder",
            "pass --suite with a folder that holds suite.toml and one folder per task (e.g. tasks/demo)",
        ));
    }
    let suite_file = dir.join("suite.toml");
    let (raw, text) = if suite_file.exists() {
        let text =
            String::from_utf8_lossy(&read_file(&suite_file, "suite file", None)?).into_owned();
        (
            parse_toml::<RawSuite>(&suite_file, &text, "suite.toml")?,
            text,
        )
    } else {
        (RawSuite::default(), String::new())
    };
    let name = raw.name.clone().unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "suite".into())
    });
    Ok((
        Defaults {
            raw,
            file: suite_file,
            text,
        },
        name,
    ))
}

/// What every task of a suite shares, resolved without any task: `tasks mine` needs it
/// before the first task exists.
#[derive(Debug, Clone)]
pub struct SuiteSettings {
    pub name: String,
    pub file: PathBuf,
    pub source: Source,
    pub environment: Environment,
    pub command: String,
    pub format: Format,
    pub timeout: Duration,
    /// `[tests] disk`, in bytes.
    pub disk: u64,
    pub scope: Scope,
}

/// Reads `dir/suite.toml` as the settings every task would inherit; a setting it lacks is an
/// error naming that file.
pub fn load_settings(dir: &Path) -> Result<SuiteSettings, Error> {
    let (d, name) = read_defaults(dir)?;
    let (file, text) = (d.file.clone(), d.text.clone());
    let none = RawTests::default();
    let src = pick(&None, &d.raw.repo.source, &file, &text, &d)
        .ok_or_else(|| missing(&file, "repo", "source", "\"repo.bundle\""))?;
    let source = resolve_source(&src)?;
    let environment = resolve_environment(&RawEnvironment::default(), &file, &text, &d)?;
    let (command, format) = test_command(&none, &file, &text, &d)?;
    let timeout = match &d.raw.tests.timeout {
        Some(t) => parse_duration(t).map_err(|e| {
            Error::input(
                &file,
                line_of_key(&text, Some("tests"), "timeout"),
                e,
                "write it like \"10m\" or \"90s\"",
            )
        })?,
        None => Duration::from_secs(600),
    };
    let disk = test_disk(pick(&None, &d.raw.tests.disk, &file, &text, &d))?;
    Ok(SuiteSettings {
        name,
        file: file.clone(),
        source,
        environment,
        command,
        format,
        timeout,
        disk,
        scope: Scope {
            read_only: d.raw.scope.read_only.clone(),
            deny: d.raw.scope.deny.clone(),
            protect: d.raw.scope.protect.clone(),
            unprotect: d.raw.scope.unprotect.clone(),
        },
    })
}

/// Loads one task file with the defaults of the suite in `suite_dir`; the file need not sit
/// in a folder `load_suite` would list (a task being written is checked this way first).
pub fn load_task_at(suite_dir: &Path, task_file: &Path) -> Result<Task, Error> {
    let (d, name) = read_defaults(suite_dir)?;
    load_task(task_file, &name, &d)
}

/// A value given in the task file wins over the suite's; errors point at whichever file gave it.
struct Pick<'a, T> {
    value: T,
    file: &'a Path,
    text: &'a str,
    base_dir: &'a Path,
}

impl<T> Pick<'_, T> {
    fn line(&self, section: Option<&str>, key: &str) -> Option<usize> {
        line_of_key(self.text, section, key)
    }
}

fn pick<'a, T: Clone>(
    task: &Option<T>,
    suite: &Option<T>,
    task_file: &'a Path,
    task_text: &'a str,
    d: &'a Defaults,
) -> Option<Pick<'a, T>> {
    if let Some(v) = task {
        Some(Pick {
            value: v.clone(),
            file: task_file,
            text: task_text,
            // cannot fail: the task file was read, so it is not `/` or empty.
            base_dir: task_file.parent().unwrap(),
        })
    } else {
        suite.as_ref().map(|v| Pick {
            value: v.clone(),
            file: &d.file,
            text: &d.text,
            // cannot fail: `d.file` is `<suite>/suite.toml`.
            base_dir: d.file.parent().unwrap(),
        })
    }
}

fn missing(task_file: &Path, section: &str, key: &str, example: &str) -> Error {
    Error::input(
        task_file,
        None,
        format!("no `{key}` in [{section}] here or in the suite's suite.toml"),
        format!("add `[{section}] {key} = {example}` to the task or to suite.toml"),
    )
}

fn load_task(file: &Path, suite: &str, d: &Defaults) -> Result<Task, Error> {
    // Every path a task holds is one of these two joined with text from TOML, so the task
    // serializes (`task_hash`, the store).
    super::utf8_path(file, "task file")?;
    super::utf8_path(&d.file, "suite file")?;
    let text = String::from_utf8_lossy(&read_file(file, "task file", None)?).into_owned();
    let raw: RawTask = parse_toml(file, &text, "task.toml")?;
    // cannot fail: the file was just read, so it is not `/` or empty.
    let dir = file.parent().unwrap();
    // Every file a task names lies inside its suite's folder, links followed.
    let suite_root = d.file.parent().unwrap_or(dir);
    let problem_path = super::inside(
        suite_root,
        &dir.join(&raw.problem),
        "problem statement",
        file,
        line_of_key(&text, None, "problem"),
    )?;
    let problem_bytes = read_file(
        &problem_path,
        "problem statement",
        Some((file, line_of_key(&text, None, "problem"))),
    )?;
    let problem = String::from_utf8(problem_bytes).map_err(|_| {
        Error::input(
            &problem_path,
            None,
            "the problem statement is not UTF-8",
            "save it as UTF-8 text",
        )
    })?;
    if raw.id.trim().is_empty() || raw.id.contains('/') || raw.id.contains(char::is_whitespace) {
        return Err(Error::input(
            file,
            line_of_key(&text, None, "id"),
            format!("task id `{}` is empty or has spaces or slashes", raw.id),
            "use an id like `inventory-007`",
        ));
    }

    // Repository.
    let src = pick(&raw.repo.source, &d.raw.repo.source, file, &text, d)
        .ok_or_else(|| missing(file, "repo", "source", "\"../repo.bundle\""))?;
    let source = resolve_source(&src)?;
    let base = pick(&raw.repo.base, &d.raw.repo.base, file, &text, d)
        .ok_or_else(|| missing(file, "repo", "base", "\"<commit>\""))?;
    if base.value.len() < 4 || !base.value.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::input(
            base.file,
            base.line(Some("repo"), "base"),
            format!("base `{}` is not a commit id", base.value),
            "give the commit the agent starts from, e.g. `base = \"3f2a9c1\"`",
        ));
    }

    // Environment.
    let environment = resolve_environment(&raw.environment, file, &text, d)?;

    // Tests.
    let (command, format) = test_command(&raw.tests, file, &text, d)?;
    let tpatch = pick(&raw.tests.patch, &d.raw.tests.patch, file, &text, d)
        .ok_or_else(|| missing(file, "tests", "patch", "\"tests.patch\""))?;
    let tpatch_path = super::inside(
        suite_root,
        &tpatch.base_dir.join(&tpatch.value),
        "hidden test patch",
        tpatch.file,
        tpatch.line(Some("tests"), "patch"),
    )?;
    let test_patch = read_file(
        &tpatch_path,
        "hidden test patch",
        Some((tpatch.file, tpatch.line(Some("tests"), "patch"))),
    )?;
    let fail_to_pass = raw
        .tests
        .fail_to_pass
        .clone()
        .or(d.raw.tests.fail_to_pass.clone())
        .unwrap_or_default();
    let pass_to_pass = raw
        .tests
        .pass_to_pass
        .clone()
        .or(d.raw.tests.pass_to_pass.clone())
        .unwrap_or_default();
    if fail_to_pass.is_empty() {
        return Err(Error::input(
            file,
            line_of_key(&text, Some("tests"), "fail_to_pass"),
            "fail_to_pass is empty: nothing would show that the task was solved",
            "list the tests the fix makes pass, e.g. `fail_to_pass = [\"tests/test_x.py::test_y\"]`",
        ));
    }
    let timeout = match pick(&raw.tests.timeout, &d.raw.tests.timeout, file, &text, d) {
        Some(p) => parse_duration(&p.value).map_err(|e| {
            Error::input(
                p.file,
                p.line(Some("tests"), "timeout"),
                e,
                "write it like \"10m\" or \"90s\"",
            )
        })?,
        None => Duration::from_secs(600),
    };
    let disk = test_disk(pick(&raw.tests.disk, &d.raw.tests.disk, file, &text, d))?;

    // Gold.
    let gold = match &raw.gold.patch {
        Some(p) => {
            let path = super::inside(
                suite_root,
                &dir.join(p),
                "gold patch",
                file,
                line_of_key(&text, Some("gold"), "patch"),
            )?;
            Some(read_file(
                &path,
                "gold patch",
                Some((file, line_of_key(&text, Some("gold"), "patch"))),
            )?)
        }
        None => None,
    };

    // Scope: the task adds to the suite's defaults.
    let mut scope = Scope {
        read_only: d.raw.scope.read_only.clone(),
        deny: d.raw.scope.deny.clone(),
        protect: d.raw.scope.protect.clone(),
        unprotect: d.raw.scope.unprotect.clone(),
    };
    scope.read_only.extend(raw.scope.read_only.iter().cloned());
    scope.deny.extend(raw.scope.deny.iter().cloned());
    scope.protect.extend(raw.scope.protect.iter().cloned());
    scope.unprotect.extend(raw.scope.unprotect.iter().cloned());
    for (key, globs) in [
        ("read_only", &scope.read_only),
        ("deny", &scope.deny),
        ("protect", &scope.protect),
    ] {
        for g in globs {
            if let Err(e) = globset::Glob::new(g) {
                return Err(Error::input(
                    file,
                    line_of_key(&text, Some("scope"), key),
                    format!("scope.{key} glob `{g}` is invalid: {e}"),
                    "write a glob like \"tests/**\" or \"**/*.pem\"",
                ));
            }
        }
    }

    if let Err(e) =
        crate::conventions::harness_files::HarnessFiles::new(&scope.protect, &scope.unprotect)
    {
        let key = if scope.unprotect.contains(&e.pattern) {
            "unprotect"
        } else {
            "protect"
        };
        return Err(Error::input(
            file,
            line_of_key(&text, Some("scope"), key),
            format!("scope.{key} `{}`: {}", e.pattern, e.message),
            "protect globs like \"tests/helpers/**\"; unprotect only a default entry such as \"conftest.py\"",
        ));
    }

    let created = raw.created.map(|c| match c.date {
        Some(date) => date.to_string(),
        None => c.to_string(),
    });

    let cluster = match raw.cluster {
        Some(c) if c.trim().is_empty() => {
            return Err(Error::input(
                file,
                line_of_key(&text, None, "cluster"),
                "cluster is empty",
                "name the task's group, e.g. cluster = \"payments-api\", or remove the line",
            ))
        }
        Some(c) => Some(c),
        None => suite_cluster(d, &raw.tags, &source, gold.as_deref())?,
    };

    let mut task = Task {
        suite: suite.to_string(),
        id: raw.id,
        title: raw.title,
        created,
        tags: raw.tags,
        cluster,
        problem,
        source,
        base: base.value,
        environment,
        tests: Tests {
            command,
            format,
            patch: test_patch,
            fail_to_pass,
            pass_to_pass,
            timeout,
            disk,
        },
        gold,
        scope,
        file: file.to_path_buf(),
        hash: String::new(),
    };
    task.hash = task_hash(&task);
    Ok(task)
}

/// The test command and its output format, from the task or the suite.
fn test_command(
    tests: &RawTests,
    file: &Path,
    text: &str,
    d: &Defaults,
) -> Result<(String, Format), Error> {
    let command = pick(&tests.command, &d.raw.tests.command, file, text, d)
        .ok_or_else(|| missing(file, "tests", "command", "\"python3 -m pytest -rA\""))?
        .value;
    let fmt = pick(&tests.format, &d.raw.tests.format, file, text, d)
        .ok_or_else(|| missing(file, "tests", "format", "\"pytest\""))?;
    let format = fmt
        .value
        .parse()
        .map_err(|e: crate::testparse::FormatError| {
            Error::input(
                fmt.file,
                fmt.line(Some("tests"), "format"),
                e.to_string(),
                "use one of the formats listed",
            )
        })?;
    Ok((command, format))
}

fn resolve_source(p: &Pick<'_, String>) -> Result<Source, Error> {
    let v = &p.value;
    if v.contains("://") || v.starts_with("git@") {
        return Ok(Source::Url(v.clone()));
    }
    let path = p.base_dir.join(v);
    if path.is_dir() {
        Ok(Source::Dir(path))
    } else if path.is_file() {
        Ok(Source::Bundle(path))
    } else {
        Err(Error::input(
            p.file,
            p.line(Some("repo"), "source"),
            format!("repository source {} does not exist", path.display()),
            "give a git repository folder, a git bundle file or a URL (paths are relative to this file)",
        ))
    }
}

fn resolve_environment(
    raw: &RawEnvironment,
    file: &Path,
    text: &str,
    d: &Defaults,
) -> Result<Environment, Error> {
    let dockerfile = pick(
        &raw.dockerfile,
        &d.raw.environment.dockerfile,
        file,
        text,
        d,
    );
    let image = pick(&raw.image, &d.raw.environment.image, file, text, d);
    let kind = match (dockerfile, image) {
        (Some(df), None) => {
            // The Dockerfile's folder is the build context sent to the daemon: never a
            // folder outside the suite.
            let path = super::inside(
                d.file.parent().unwrap_or(df.base_dir),
                &df.base_dir.join(&df.value),
                "Dockerfile",
                df.file,
                df.line(Some("environment"), "dockerfile"),
            )?;
            if !path.is_file() {
                return Err(Error::input(
                    df.file,
                    df.line(Some("environment"), "dockerfile"),
                    format!("Dockerfile {} does not exist", path.display()),
                    "correct the path (relative to this file) or use `image = \"name:tag\"`",
                ));
            }
            // cannot fail: a regular file (checked above) is not `/` or empty.
            let context = path.parent().unwrap().to_path_buf();
            EnvKind::Dockerfile { path, context }
        }
        (None, Some(img)) => EnvKind::Image(img.value),
        (Some(df), Some(_)) => {
            return Err(Error::input(
                df.file,
                df.line(Some("environment"), "dockerfile"),
                "both `dockerfile` and `image` are set for the environment",
                "keep one of them",
            ))
        }
        (None, None) => {
            return Err(missing(
                file,
                "environment",
                "dockerfile",
                "\"../env/Dockerfile\"",
            ))
        }
    };
    let base = pick(&raw.base, &d.raw.environment.base, file, text, d).map(|p| p.value);
    let ca_bundle = match pick(&raw.ca_bundle, &d.raw.environment.ca_bundle, file, text, d) {
        Some(p) => {
            let path = p.base_dir.join(&p.value);
            if !path.is_file() {
                return Err(Error::input(
                    p.file,
                    p.line(Some("environment"), "ca_bundle"),
                    format!("CA bundle {} does not exist", path.display()),
                    "point ca_bundle at a PEM file, e.g. /etc/ssl/certs/ca-certificates.crt",
                ));
            }
            Some(path)
        }
        None => None,
    };
    let context_hash = match &kind {
        EnvKind::Dockerfile { context, path } => context_hash(context, path)?,
        EnvKind::Image(name) => sha256_hex(name.as_bytes()),
    };
    Ok(Environment {
        kind,
        base,
        ca_bundle,
        context_hash,
    })
}

/// The environment built from the Dockerfile at `path`, its folder the build context, with
/// the base and CA bundle of `like`: as `dockerfile = ...` in a task.toml gives it.
pub fn dockerfile_environment(path: &Path, like: &Environment) -> Result<Environment, Error> {
    let context = path
        .parent()
        .ok_or_else(|| Error::infra(format!("{} has no folder", path.display())))?
        .to_path_buf();
    Ok(Environment {
        context_hash: context_hash(&context, path)?,
        kind: EnvKind::Dockerfile {
            path: path.to_path_buf(),
            context,
        },
        base: like.base.clone(),
        ca_bundle: like.ca_bundle.clone(),
    })
}

/// The hash of a Dockerfile's build context (its folder) and its name: equal contexts give
/// equal hashes wherever they are, so tasks whose contexts are equal share one image.
fn context_hash(context: &Path, path: &Path) -> Result<String, Error> {
    let ctx = super::hash_dir(context).map_err(|e| {
        Error::input(
            path,
            None,
            format!("cannot read the build context: {e}"),
            "check permissions",
        )
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(sha256_hex(format!("{ctx}\n{name}").as_bytes()))
}

/// A task's cluster under the suite's `[report] cluster` rule, if the suite has one.
fn suite_cluster(
    d: &Defaults,
    tags: &[String],
    source: &Source,
    gold: Option<&[u8]>,
) -> Result<Option<String>, Error> {
    let Some(rule) = d.raw.report.cluster.as_deref() else {
        return Ok(None);
    };
    if rule == "owner" {
        // The owner, under the suite's [ownership] table, of the first path the gold patch
        // touches that has one.
        let ownership =
            crate::conventions::ownership::Ownership::from_config(&d.raw.ownership, None).map_err(
                |e| {
                    Error::input(
                        &d.file,
                        line_of_key(&d.text, Some("report"), "cluster"),
                        format!(
                            "[report] cluster = \"owner\": [ownership] glob `{}` is invalid: {}",
                            e.pattern, e.message
                        ),
                        "fix the [ownership] globs, or cluster by \"tag:<prefix>\" or \"source\"",
                    )
                },
            )?;
        let Some(gold) = gold else { return Ok(None) };
        let parsed = crate::conventions::diff::parse(gold);
        let mut paths: Vec<&str> = parsed.files.iter().flat_map(|f| f.paths()).collect();
        paths.sort_unstable();
        return Ok(paths
            .into_iter()
            .find_map(|p| ownership.owner_of(p))
            .map(str::to_string));
    }
    if rule == "source" {
        return Ok(Some(match source {
            Source::Dir(p) | Source::Bundle(p) => p.display().to_string(),
            Source::Url(u) => u.clone(),
        }));
    }
    match rule.strip_prefix("tag:").filter(|p| !p.is_empty()) {
        Some(prefix) => Ok(tags.iter().find_map(|t| {
            t.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(str::to_string)
        })),
        None => Err(Error::input(
            &d.file,
            line_of_key(&d.text, Some("report"), "cluster"),
            format!("[report] cluster = \"{rule}\" is not a cluster rule"),
            "use cluster = \"tag:<prefix>\" (a task tagged \"repo:billing\" is in cluster billing with \"tag:repo\"), \"source\" (its repository) or \"owner\" (the [ownership] owner of the gold patch's first owned path)",
        )),
    }
}

fn task_hash(t: &Task) -> String {
    // cannot fail: a task is strings, numbers, lists and string-keyed tables, and its paths
    // were checked to be UTF-8 when it was loaded (`config::utf8_path`).
    let mut meta = serde_json::to_value(t).expect("task serializes");
    // Where the files sit on this machine is not part of what the task is, and neither is
    // how reports group it.
    if let Some(o) = meta.as_object_mut() {
        o.remove("cluster");
        o.remove("file");
        o.remove("hash");
        o.remove("source");
        o.remove("suite");
        if let Some(env) = o.get_mut("environment").and_then(|e| e.as_object_mut()) {
            env.remove("kind");
            env.remove("ca_bundle");
        }
    }
    // cannot fail: a JSON value always serializes.
    let mut buf = serde_json::to_vec(&meta).unwrap();
    for part in [
        t.problem.as_bytes(),
        &t.tests.patch,
        t.gold.as_deref().unwrap_or_default(),
    ] {
        buf.extend_from_slice(sha256_hex(part).as_bytes());
    }
    sha256_hex(&buf)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_suite_under_a_non_utf8_folder_is_refused_not_a_panic() {
        use std::os::unix::ffi::OsStrExt;
        // Bug pinned: the task's hash serializes its paths, which panicked on a folder name
        // that is not UTF-8.
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join(std::ffi::OsStr::from_bytes(b"suite-\xff"));
        write(&d, "suite.toml", "[repo]\nsource = \"repo\"\n[environment]\nimage = \"x\"\n[tests]\ncommand = \"pytest\"\nformat = \"pytest\"\n");
        std::fs::create_dir_all(d.join("repo")).unwrap();
        write(&d, "t1/problem.md", "it breaks");
        write(&d, "t1/tests.patch", "");
        write(&d, "t1/task.toml", GOOD);
        let s = load_suite(&d).unwrap();
        assert!(s.tasks.is_empty());
        let e = s.invalid[0].to_string();
        assert!(
            e.contains("t1/task.toml") && e.contains("not valid UTF-8"),
            "{e}"
        );
    }

    use super::*;

    fn write(dir: &Path, rel: &str, content: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn suite_with(task_toml: &str) -> (tempfile::TempDir, Result<Suite, Error>) {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(d, "suite.toml", "[repo]\nsource = \"repo\"\n[environment]\ndockerfile = \"env/Dockerfile\"\n[tests]\ncommand = \"pytest\"\nformat = \"pytest\"\n[scope]\nread_only = [\"tests/**\"]\n");
        write(d, "env/Dockerfile", "FROM x\n");
        std::fs::create_dir_all(d.join("repo")).unwrap();
        write(d, "t1/problem.md", "it breaks");
        write(d, "t1/tests.patch", "");
        write(d, "t1/task.toml", task_toml);
        let s = load_suite(d);
        (tmp, s)
    }

    const GOOD: &str = "id = \"t1\"\ntitle = \"T\"\ncreated = 2026-03-01\nproblem = \"problem.md\"\n[repo]\nbase = \"3f2a9c1\"\n[tests]\npatch = \"tests.patch\"\nfail_to_pass = [\"a\"]\n[scope]\nread_only = [\"docs/**\"]\n";

    #[test]
    fn clusters_come_from_the_task_or_the_suites_rule_and_stay_out_of_the_hash() {
        let declared = GOOD.replace("title = \"T\"\n", "title = \"T\"\ncluster = \"billing\"\n");
        let (_t, plain) = suite_with(GOOD);
        let (_u, with) = suite_with(&declared);
        let (plain, with) = (plain.unwrap(), with.unwrap());
        assert_eq!(plain.tasks[0].cluster, None);
        assert_eq!(with.tasks[0].cluster.as_deref(), Some("billing"));
        assert_eq!(plain.tasks[0].hash, with.tasks[0].hash);
        let (_v, empty) =
            suite_with(&GOOD.replace("title = \"T\"\n", "title = \"T\"\ncluster = \" \"\n"));
        let msg = empty.unwrap().invalid[0].to_string();
        assert!(
            msg.contains("task.toml:3") && msg.contains("cluster is empty"),
            "{msg}"
        );

        let with_rule = |rule: &str, task: &str| {
            let tmp = tempfile::tempdir().unwrap();
            let d = tmp.path();
            write(d, "suite.toml", &format!("[repo]\nsource = \"repo\"\n[environment]\nimage = \"x:1\"\n[tests]\ncommand = \"pytest\"\nformat = \"pytest\"\n[report]\ncluster = \"{rule}\"\n"));
            std::fs::create_dir_all(d.join("repo")).unwrap();
            write(d, "t1/problem.md", "it breaks");
            write(d, "t1/tests.patch", "");
            write(d, "t1/task.toml", task);
            load_suite(d).unwrap()
        };
        let tagged = GOOD.replace(
            "title = \"T\"\n",
            "title = \"T\"\ntags = [\"bugfix\", \"repo:payments\"]\n",
        );
        assert_eq!(
            with_rule("tag:repo", &tagged).tasks[0].cluster.as_deref(),
            Some("payments")
        );
        assert_eq!(
            with_rule("tag:repo", GOOD).tasks[0].cluster,
            None,
            "no such tag: its own cluster"
        );
        assert_eq!(
            with_rule("tag:repo", &declared).tasks[0].cluster.as_deref(),
            Some("billing"),
            "the task's own wins"
        );
        assert!(with_rule("source", GOOD).tasks[0]
            .cluster
            .as_deref()
            .unwrap()
            .ends_with("repo"));
        // "owner": the [ownership] owner of the gold patch's first owned path.
        let owned = |gold: &str| {
            let tmp = tempfile::tempdir().unwrap();
            let d = tmp.path();
            write(d, "suite.toml", "[repo]\nsource = \"repo\"\n[environment]\nimage = \"x:1\"\n[tests]\ncommand = \"pytest\"\nformat = \"pytest\"\n[report]\ncluster = \"owner\"\n[ownership]\n\"shop/billing/**\" = \"billing-team\"\n");
            std::fs::create_dir_all(d.join("repo")).unwrap();
            write(d, "t1/problem.md", "it breaks");
            write(d, "t1/tests.patch", "");
            write(d, "t1/gold.patch", gold);
            write(
                d,
                "t1/task.toml",
                &format!("{GOOD}[gold]\npatch = \"gold.patch\"\n"),
            );
            let s = load_suite(d).unwrap();
            assert!(s.invalid.is_empty(), "{:?}", s.invalid);
            s.tasks[0].cluster.clone()
        };
        let diff = |path: &str| {
            format!(
                "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"
            )
        };
        assert_eq!(
            owned(&format!(
                "{}{}",
                diff("README.md"),
                diff("shop/billing/pay.py")
            ))
            .as_deref(),
            Some("billing-team")
        );
        assert_eq!(
            owned(&diff("README.md")),
            None,
            "no owned path: its own cluster"
        );
        let bad = with_rule("colour", GOOD);
        let msg = bad.invalid[0].to_string();
        assert!(
            msg.contains("suite.toml:9") && msg.contains("tag:<prefix>"),
            "{msg}"
        );
    }

    #[test]
    fn merges_suite_defaults() {
        let (_t, s) = suite_with(GOOD);
        let s = s.unwrap();
        assert!(s.invalid.is_empty(), "{:?}", s.invalid);
        let t = &s.tasks[0];
        assert_eq!(t.created.as_deref(), Some("2026-03-01"));
        assert_eq!(t.tests.command, "pytest");
        assert_eq!(t.scope.read_only, vec!["tests/**", "docs/**"]);
        assert!(matches!(t.source, Source::Dir(_)));
        assert_eq!(t.hash.len(), 64);
    }

    #[test]
    fn bad_tasks_are_reported_with_file_and_line() {
        let check = |toml: &str, expect_line: Option<usize>, needle: &str| {
            let (_t, s) = suite_with(toml);
            let s = s.unwrap();
            assert_eq!(s.invalid.len(), 1, "{toml}");
            let msg = s.invalid[0].to_string();
            assert!(msg.contains(needle), "{msg}");
            if let Some(l) = expect_line {
                assert!(msg.contains(&format!("task.toml:{l}")), "{msg}");
            }
            assert!(msg.contains("fix:"), "{msg}");
        };
        check(
            &GOOD.replace("problem.md", "nope.md"),
            Some(4),
            "problem statement",
        );
        check(
            &GOOD.replace("tests.patch", "nope.patch"),
            Some(8),
            "hidden test patch",
        );
        check(
            &GOOD.replace("fail_to_pass = [\"a\"]", "fail_to_pass = []"),
            Some(9),
            "fail_to_pass is empty",
        );
        check(&GOOD.replace("title", "titel"), Some(2), "unknown field");
        check(
            &GOOD.replace("base = \"3f2a9c1\"", "base = \"not a commit\""),
            Some(6),
            "not a commit",
        );
        check(
            &GOOD.replace(
                "[scope]\nread_only = [\"docs/**\"]",
                "[scope]\nread_only = [\"a/{b\"]",
            ),
            Some(11),
            "invalid",
        );
    }

    #[test]
    fn hidden_folders_are_work_in_progress_not_tasks() {
        let (tmp, s) = suite_with(GOOD);
        assert_eq!(s.unwrap().tasks.len(), 1);
        let half = tmp.path().join(".mine-t1-abc");
        std::fs::create_dir_all(&half).unwrap();
        std::fs::copy(tmp.path().join("t1/task.toml"), half.join("task.toml")).unwrap();
        let s = load_suite(tmp.path()).unwrap();
        assert_eq!(s.tasks.len(), 1, "{:?}", s.invalid);
        assert!(s.invalid.is_empty());
        // Yet a task file there loads on its own, with the suite's defaults.
        std::fs::copy(tmp.path().join("t1/problem.md"), half.join("problem.md")).unwrap();
        std::fs::copy(tmp.path().join("t1/tests.patch"), half.join("tests.patch")).unwrap();
        let t = load_task_at(tmp.path(), &half.join("task.toml")).unwrap();
        assert_eq!(t.tests.command, "pytest");
    }

    #[test]
    fn settings_load_without_tasks_and_name_what_is_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(d, "suite.toml", "[repo]\nsource = \"repo\"\n[environment]\nimage = \"x:1\"\n[tests]\ncommand = \"pytest\"\nformat = \"pytest\"\n[scope]\nread_only = [\"tests/**\"]\n");
        std::fs::create_dir_all(d.join("repo")).unwrap();
        let s = load_settings(d).unwrap();
        assert_eq!(s.scope.read_only, vec!["tests/**"]);
        assert_eq!(s.timeout, Duration::from_secs(600));
        write(
            d,
            "suite.toml",
            "[repo]\nsource = \"repo\"\n[environment]\nimage = \"x:1\"\n",
        );
        let e = load_settings(d).unwrap_err().to_string();
        assert!(
            e.contains("suite.toml") && e.contains("no `command` in [tests]"),
            "{e}"
        );
    }

    #[test]
    fn hash_changes_with_content_not_location() {
        let (_a, s1) = suite_with(GOOD);
        let (_b, s2) = suite_with(GOOD);
        let (_c, s3) = suite_with(&GOOD.replace("[\"a\"]", "[\"b\"]"));
        let h = |s: Result<Suite, Error>| s.unwrap().tasks[0].hash.clone();
        assert_eq!(h(s1), h(s2));
        let (_d, s4) = suite_with(GOOD);
        assert_ne!(h(s3), h(s4));
        // The test runs' disk limit: at the default the hash is what it was before the
        // setting existed (labels and cached grades keep their task); otherwise it changes.
        let with_disk = |d: &str| {
            GOOD.replace(
                "patch = \"tests.patch\"\n",
                &format!("patch = \"tests.patch\"\ndisk = \"{d}\"\n"),
            )
        };
        let (_e, s5) = suite_with(&with_disk("16GiB"));
        let (_f, s6) = suite_with(GOOD);
        assert_eq!(h(s5), h(s6));
        let (_g, s7) = suite_with(&with_disk("2GiB"));
        let s7 = s7.unwrap();
        assert_eq!(s7.tasks[0].tests.disk, 2 << 30);
        assert_ne!(s7.tasks[0].hash, h(suite_with(GOOD).1));
        let (_h, s8) = suite_with(&with_disk("1MiB"));
        let msg = s8.unwrap().invalid[0].to_string();
        assert!(
            msg.contains("task.toml:9") && msg.contains("disk below 64MiB"),
            "{msg}"
        );
    }
}
