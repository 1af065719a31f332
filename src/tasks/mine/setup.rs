//! The suite a mining run writes into: its settings read from `suite.toml`, or a new suite
//! set up from the flags and what the repository uses (its copy as `repo.bundle`, an
//! environment, the test globs). Host files and git only.

use super::{environment, history, MineOptions};
use crate::config::suite::{load_settings, Source, SuiteSettings};
use crate::error::Error;
use history::Mirror;
use std::path::Path;

const DEFAULT_DENY: &[&str] = &[".env", "**/*.pem", "**/*.key"];

/// Reads the suite's settings from `--out/suite.toml`, or writes a new suite there: the
/// repository as `repo.bundle`, the environment from the flags or proposed from what the
/// repository uses. Returns the settings and what was set up, for the user to review.
pub(super) fn prepare_suite(
    mirror: &Mirror,
    head: &str,
    opts: &MineOptions,
) -> Result<(SuiteSettings, Vec<String>), Error> {
    let out = &opts.out;
    let suite_file = out.join("suite.toml");
    let bundle = out.join("repo.bundle");
    let mut setup = Vec::new();
    if suite_file.exists() {
        let given = opts.env.given();
        if !given.is_empty() && !opts.update {
            return Err(Error::Usage(format!(
                "{} exists and its settings are what tasks inherit, so {} would be ignored: \
                 add --update to write {} into it (tasks already written are kept), or drop {}",
                suite_file.display(),
                given.join(", "),
                if given.len() == 1 { "it" } else { "them" },
                if given.len() == 1 { "it" } else { "them" },
            )));
        }
        if !given.is_empty() {
            update_suite(out, &opts.env)?;
            setup.push(format!(
                "updated {} with {}",
                suite_file.display(),
                given.join(", ")
            ));
        }
        let settings = load_settings(out)?;
        if settings.environment.ca_bundle.is_none() {
            if let Ok(ca) = std::env::var("MERGEBENCH_CA_BUNDLE") {
                setup.push(format!(
                    "note: MERGEBENCH_CA_BUNDLE={ca} is used for this run's image builds, but \
                     {} names no ca_bundle, so `tasks validate` and `run` elsewhere would build \
                     without it: add --update --ca-bundle {ca} to record it",
                    suite_file.display()
                ));
            }
        }
        // The suite's own copy of the repository follows it, so new commits can be mined.
        if let Source::Bundle(p) = &settings.source {
            let ours = std::fs::canonicalize(p).ok() == std::fs::canonicalize(&bundle).ok();
            if ours && !history::bundle_has(p, head) {
                mirror.bundle(p)?;
                setup.push(format!("updated {} to {head}", p.display()));
            }
        }
        return Ok((settings, setup));
    }
    std::fs::create_dir_all(out).map_err(|e| {
        Error::input(
            out,
            None,
            format!("cannot create the suite folder: {e}"),
            "pass --out a folder you can write",
        )
    })?;
    let env = &opts.env;
    let top = mirror.top_level(head)?;
    let detected = environment::detect(&top);
    // Proposed from the files at HEAD, as of the day HEAD's dependencies took their content
    // (HEAD's own day when it reads none), as `envs` proposes at every commit: it serves
    // every candidate whose dependencies are HEAD's (the others get their own), and the
    // newest manifests are the likeliest to build.
    let proposal = match detected {
        Some(_) => super::envs::proposal_at(mirror, head, mirror.commit_day(head)?)?,
        None => None,
    };
    let needs = (env.dockerfile.is_none() && env.image.is_none())
        || env.test_command.is_none()
        || env.format.is_none()
        || env.tests.is_empty();
    if needs && proposal.is_none() {
        return Err(Error::Usage(format!(
            "cannot tell how {} runs its tests (no pyproject.toml, setup.py, Cargo.toml, go.mod \
             or package.json at its top): pass --dockerfile (or --image), --test-command, \
             --format and --tests, or write {} yourself",
            opts.repo,
            suite_file.display()
        )));
    }
    let format = match &env.format {
        Some(f) => {
            f.parse::<crate::testparse::Format>()
                .map_err(|e| Error::Usage(format!("--format: {e}")))?;
            f.clone()
        }
        // cannot fail: without --format, `needs` holds and a missing proposal returned above.
        None => proposal.as_ref().unwrap().format.to_string(),
    };
    let command = env
        .test_command
        .clone()
        // cannot fail: without --test-command, `needs` holds and a missing proposal returned above.
        .unwrap_or_else(|| proposal.as_ref().unwrap().command.clone());
    let test_globs = if env.tests.is_empty() {
        // cannot fail: without --tests, `needs` holds and a missing proposal returned above.
        proposal.as_ref().unwrap().test_globs.clone()
    } else {
        env.tests.clone()
    };
    let env_spec = match (&env.image, &env.dockerfile) {
        (Some(image), None) => environment::EnvSpec::Image(image.clone()),
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "--image and --dockerfile both name the environment: keep one".into(),
            ))
        }
        (None, Some(df)) => {
            copy_dockerfile(df, out)?;
            setup.push(format!(
                "copied {} to env/Dockerfile (its build context is env/)",
                df.display()
            ));
            environment::EnvSpec::Dockerfile("env/Dockerfile".into())
        }
        (None, None) => {
            // cannot fail: with neither --image nor --dockerfile, `needs` holds and a missing
            // proposal returned above.
            let p = proposal.as_ref().unwrap();
            // The manifests are the build context the Dockerfile installs from; left-overs
            // of an earlier, interrupted setup would change the image.
            let manifests_dir = out.join("env").join(environment::MANIFESTS_DIR);
            if manifests_dir.exists() {
                std::fs::remove_dir_all(&manifests_dir).map_err(|e| {
                    Error::infra_from(format!("removing {}", manifests_dir.display()), e)
                })?;
            }
            for m in &p.manifests {
                let rel = Path::new(m);
                let plain = rel
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
                let bytes = mirror.read(head, m).filter(|_| plain).ok_or_else(|| {
                    Error::infra(format!(
                        "cannot copy {m} from {head} into the build context"
                    ))
                })?;
                write_whole(&manifests_dir.join(rel), &bytes)?;
            }
            write_whole(&out.join("env/Dockerfile"), p.dockerfile.as_bytes())?;
            setup.push(format!(
                "proposed env/Dockerfile for {} (found {}; {})",
                p.language.as_str(),
                detected.map(|d| d.1).unwrap_or_default(),
                match p.manifests.len() {
                    0 => "no manifest copied".to_string(),
                    n => format!(
                        "{n} manifest(s) copied into env/{}/",
                        environment::MANIFESTS_DIR
                    ),
                }
            ));
            setup.push(format!(
                "toolchain: {}{}",
                p.toolchain.provided,
                match (&p.toolchain.wanted, &p.toolchain.wanted_by) {
                    (Some(w), Some(by)) => format!("; {by} asks for {w}"),
                    _ => String::new(),
                }
            ));
            setup.extend(p.notes.iter().map(|n| format!("note: {n}")));
            environment::EnvSpec::Dockerfile("env/Dockerfile".into())
        }
    };
    if env.test_command.is_none() || env.format.is_none() || env.tests.is_empty() {
        let from = match (&env.test_command, &proposal) {
            (None, Some(p)) if p.command_source.starts_with("default") => {
                format!(" ({})", p.command_source)
            }
            (None, Some(p)) => format!(" (from {})", p.command_source),
            _ => String::new(),
        };
        setup.push(format!(
            "tests: `{command}`{from} read as {format}; test files: {}",
            test_globs.join(", ")
        ));
    }
    mirror.bundle(&bundle)?;
    let name = out
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "mined".into());
    let text = environment::suite_toml(&environment::NewSuite {
        name,
        origin: opts.repo.clone(),
        source: "repo.bundle".into(),
        env: env_spec,
        base: env.base.clone(),
        command,
        format,
        timeout: env.timeout.clone().unwrap_or_else(|| "10m".into()),
        test_globs,
        deny: DEFAULT_DENY.iter().map(|s| s.to_string()).collect(),
    });
    // What this run builds images with is what later runs must build them with.
    let text = match ca_bundle(&env.ca_bundle)? {
        Some(ca) => {
            setup.push(format!(
                "recorded ca_bundle = {} in suite.toml",
                ca.display()
            ));
            text.replacen(
                "[environment]\n",
                &format!(
                    "[environment]\nca_bundle = {}\n",
                    toml::Value::String(ca.display().to_string())
                ),
                1,
            )
        }
        None => text,
    };
    // Written last: its presence is what marks the suite as set up.
    write_whole(&suite_file, text.as_bytes())?;
    setup.push(format!(
        "wrote {} (review it: later runs use it as it is)",
        suite_file.display()
    ));
    Ok((load_settings(out)?, setup))
}

/// The CA bundle a new suite records: `--ca-bundle`, else `$MERGEBENCH_CA_BUNDLE`, made
/// absolute so that the suite works from any folder.
fn ca_bundle(flag: &Option<std::path::PathBuf>) -> Result<Option<std::path::PathBuf>, Error> {
    let Some(path) = flag
        .clone()
        .or_else(|| std::env::var_os("MERGEBENCH_CA_BUNDLE").map(Into::into))
    else {
        return Ok(None);
    };
    std::fs::canonicalize(&path).map(Some).map_err(|e| {
        Error::input(
            &path,
            None,
            format!("cannot read the CA bundle: {e}"),
            "pass --ca-bundle a PEM file, e.g. /etc/ssl/certs/ca-certificates.crt",
        )
    })
}

/// `--update`: writes the given environment flags into an existing suite.toml, as a whole new
/// file (comments are not kept), and copies a `--dockerfile` to env/Dockerfile.
fn update_suite(out: &Path, env: &super::EnvOptions) -> Result<(), Error> {
    let file = out.join("suite.toml");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        Error::input(
            &file,
            None,
            format!("cannot read: {e}"),
            "check the suite folder",
        )
    })?;
    let mut doc: toml::Table = toml::from_str(&text).map_err(|e| {
        Error::input(
            &file,
            e.span().map(|s| crate::config::line_at(&text, s.start)),
            format!("suite.toml: {}", e.message()),
            "correct the TOML syntax, then run again",
        )
    })?;
    let table = |doc: &mut toml::Table, name: &str| -> Result<toml::Table, Error> {
        match doc.remove(name) {
            None => Ok(toml::Table::new()),
            Some(toml::Value::Table(t)) => Ok(t),
            Some(_) => Err(Error::input(
                &file,
                None,
                format!("`{name}` is not a table"),
                format!("write it as a [{name}] table"),
            )),
        }
    };
    let s = |v: &str| toml::Value::String(v.to_string());
    let mut environment = table(&mut doc, "environment")?;
    let mut tests = table(&mut doc, "tests")?;
    let mut scope = table(&mut doc, "scope")?;
    if let Some(df) = &env.dockerfile {
        copy_dockerfile(df, out)?;
        environment.remove("image");
        environment.insert("dockerfile".into(), s("env/Dockerfile"));
    }
    if let Some(image) = &env.image {
        environment.remove("dockerfile");
        environment.insert("image".into(), s(image));
    }
    if let Some(base) = &env.base {
        environment.insert("base".into(), s(base));
    }
    if let Some(ca) = ca_bundle(&env.ca_bundle)?.filter(|_| env.ca_bundle.is_some()) {
        environment.insert("ca_bundle".into(), s(&ca.display().to_string()));
    }
    if let Some(c) = &env.test_command {
        tests.insert("command".into(), s(c));
    }
    if let Some(f) = &env.format {
        f.parse::<crate::testparse::Format>()
            .map_err(|e| Error::Usage(format!("--format: {e}")))?;
        tests.insert("format".into(), s(f));
    }
    if let Some(t) = &env.timeout {
        tests.insert("timeout".into(), s(t));
    }
    if !env.tests.is_empty() {
        scope.insert(
            "read_only".into(),
            toml::Value::Array(env.tests.iter().map(|g| s(g)).collect()),
        );
    }
    for (name, t) in [
        ("environment", environment),
        ("tests", tests),
        ("scope", scope),
    ] {
        if !t.is_empty() {
            doc.insert(name.into(), toml::Value::Table(t));
        }
    }
    let text = format!(
        "# Updated by `mergebench tasks mine --update`.\n{}",
        toml::to_string(&doc).map_err(|e| Error::infra_from("writing suite.toml", e))?
    );
    write_whole(&file, text.as_bytes())
}

/// Writes a file whole (a temporary file renamed into place, its folder made first),
/// readable by everyone: a temporary file is private, the suite's files are not.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .and_then(|_| {
            let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
            std::io::Write::write_all(&mut tmp, bytes)?;
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))?;
            tmp.persist(path).map(|_| ()).map_err(|e| e.error)
        })
        .map_err(|e| Error::infra_from(format!("writing {}", path.display()), e))
}

/// Copies the Dockerfile `--dockerfile` names to the suite's `env/Dockerfile`.
fn copy_dockerfile(df: &Path, out: &Path) -> Result<(), Error> {
    let bytes = std::fs::read(df).map_err(|e| {
        Error::input(
            df,
            None,
            format!("cannot read the Dockerfile: {e}"),
            "pass --dockerfile an existing file",
        )
    })?;
    write_whole(&out.join("env/Dockerfile"), &bytes)
}
