//! Judge configs: `judges/<name>.toml`, which provider and model answer, with which prompt
//! templates, rubric, prices and limits, and the judge version every verdict is stored under.

use crate::config::units::parse_duration;
use crate::config::{line_of_key, parse_toml, read_file, sha256_hex};
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bumped whenever the request mergebench builds around the templates changes (schema, tool
/// name, message layout), since that too can change what a judge answers.
pub const JUDGE_PROTOCOL: &str = "judge-1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJudge {
    #[serde(default)]
    description: String,
    provider: String,
    model: String,
    base_url: Option<String>,
    api_key_env: Option<String>,
    command: Option<Vec<String>>,
    response_format: Option<String>,
    temperature: Option<f64>,
    samples: Option<u32>,
    max_tokens: Option<u32>,
    system: String,
    user: String,
    pairwise: Option<String>,
    rewrite: Option<RawRewrite>,
    timeout: Option<String>,
    concurrency: Option<usize>,
    max_retries: Option<u32>,
    backoff: Option<String>,
    price: Option<Price>,
    #[serde(default)]
    budget: Limits,
    rubric: Vec<Criterion>,
}

/// `[rewrite]`: the templates that rewrite a mined task's problem statement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRewrite {
    system: String,
    user: String,
}

/// USD per million tokens. A cost the provider reports itself wins over this table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

impl Price {
    pub fn cost(&self, input_tokens: i64, output_tokens: i64) -> f64 {
        (input_tokens as f64 * self.input + output_tokens as f64 * self.output) / 1e6
    }
}

/// A per-run budget: the run stops calling the provider once either is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_calls: Option<u64>,
    /// USD.
    pub max_cost: Option<f64>,
}

/// One question of the rubric; the judge scores it from 1 (poor) to 5 (excellent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub name: String,
    pub question: String,
}

/// How the OpenAI-compatible provider asks for JSON: servers differ in what they accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// `response_format: {type: json_schema, strict: true}` (OpenAI, vLLM, llama.cpp, Ollama).
    JsonSchema,
    /// `response_format: {type: json_object}`: JSON without a schema; ours still validates.
    JsonObject,
    /// Nothing: the instructions alone ask for JSON.
    None,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderKind {
    /// Chat completions at `<base_url>/chat/completions`.
    Openai {
        base_url: String,
        api_key_env: Option<String>,
        response_format: ResponseFormat,
    },
    /// Messages at `<base_url>/v1/messages`.
    Anthropic {
        base_url: String,
        api_key_env: Option<String>,
    },
    /// A local executable: the request as JSON on stdin, the verdict as JSON on stdout.
    Command {
        argv: Vec<String>,
        /// Working directory: the judge file's folder, so scripts beside it are found.
        dir: PathBuf,
    },
}

impl ProviderKind {
    pub fn name(&self) -> &'static str {
        match self {
            ProviderKind::Openai { .. } => "openai",
            ProviderKind::Anthropic { .. } => "anthropic",
            ProviderKind::Command { .. } => "command",
        }
    }

    pub fn api_key_env(&self) -> Option<&str> {
        match self {
            ProviderKind::Openai { api_key_env, .. }
            | ProviderKind::Anthropic { api_key_env, .. } => api_key_env.as_deref(),
            ProviderKind::Command { .. } => None,
        }
    }
}

/// A template file and its text.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    pub file: PathBuf,
    #[serde(skip)]
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct JudgeSpec {
    pub name: String,
    pub description: String,
    pub provider: ProviderKind,
    pub model: String,
    pub temperature: f64,
    pub samples: u32,
    pub max_tokens: u32,
    pub system: Template,
    pub user: Template,
    pub pairwise: Option<Template>,
    /// Templates for rewriting mined problem statements (`tasks mine --rewrite`).
    pub rewrite: Option<RewriteTemplates>,
    #[serde(serialize_with = "ser_secs")]
    pub timeout: Duration,
    pub concurrency: usize,
    pub max_retries: u32,
    #[serde(serialize_with = "ser_secs")]
    pub backoff: Duration,
    pub price: Option<Price>,
    pub budget: Limits,
    pub rubric: Vec<Criterion>,
    pub file: PathBuf,
    /// sha256 of provider, model, temperature, templates and rubric: stored with every verdict.
    pub version: String,
}

/// The `[rewrite]` templates and their own version: what could change a rewritten statement.
#[derive(Debug, Clone, Serialize)]
pub struct RewriteTemplates {
    pub system: Template,
    pub user: Template,
    pub version: String,
}

impl JudgeSpec {
    /// The `[rewrite]` templates, or what to add to the judge file to have them.
    pub fn rewrite_templates(&self) -> Result<&RewriteTemplates, Error> {
        self.rewrite.as_ref().ok_or_else(|| {
            Error::input(
                &self.file,
                None,
                format!(
                    "judge `{}` has no [rewrite] templates, so it cannot rewrite problem statements",
                    self.name
                ),
                "add a [rewrite] table with system and user templates (judges/merge-review.toml has one), or name another judge",
            )
        })
    }
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Finds a judge by name in `dir` (`<dir>/<name>.toml`) or by path to a judge file.
pub fn find_judge(dir: &Path, name_or_path: &str) -> Result<JudgeSpec, Error> {
    let file = if name_or_path.ends_with(".toml") {
        PathBuf::from(name_or_path)
    } else {
        dir.join(format!("{name_or_path}.toml"))
    };
    if !file.is_file() {
        let known = list_judges(dir);
        return Err(Error::input(
            &file,
            None,
            format!("no judge named `{name_or_path}`"),
            if known.is_empty() {
                format!("write {} (see docs/judging.md)", file.display())
            } else {
                format!("use one of: {}", known.join(", "))
            },
        ));
    }
    load_judge(&file)
}

pub fn list_judges(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                // A directory entry's path ends in its name, so it has a stem.
                .map(|p| {
                    p.file_stem()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn load_judge(file: &Path) -> Result<JudgeSpec, Error> {
    let text = String::from_utf8_lossy(&read_file(file, "judge file", None)?).into_owned();
    let raw: RawJudge = parse_toml(file, &text, "judge file")?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let at = |key: &str| line_of_key(&text, None, key);
    let bad = |key: &str, message: String, fix: &str| Error::input(file, at(key), message, fix);
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();

    let env_name = |key: &Option<String>| -> Result<Option<String>, Error> {
        match key {
            Some(k) if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Err(bad(
                "api_key_env",
                format!("api_key_env `{k}` is not an environment variable name"),
                "give the NAME of the variable that holds the key (e.g. \"OPENAI_API_KEY\"), never the key itself",
            )),
            other => Ok(other.clone()),
        }
    };
    let base_url = |default: &str| -> Result<String, Error> {
        let u = raw.base_url.clone().unwrap_or_else(|| default.to_string());
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(bad(
                "base_url",
                format!("base_url `{u}` is not an http(s) URL"),
                "write it as e.g. \"http://127.0.0.1:8000/v1\"",
            ));
        }
        Ok(u.trim_end_matches('/').to_string())
    };
    if raw.command.is_some() && raw.provider != "command" {
        return Err(bad(
            "command",
            "command is only used by provider = \"command\"".into(),
            "remove the key, or set provider = \"command\"",
        ));
    }
    let provider = match raw.provider.as_str() {
        "openai" => ProviderKind::Openai {
            base_url: base_url("https://api.openai.com/v1")?,
            api_key_env: env_name(&raw.api_key_env)?,
            response_format: match raw.response_format.as_deref() {
                None | Some("json_schema") => ResponseFormat::JsonSchema,
                Some("json_object") => ResponseFormat::JsonObject,
                Some("none") => ResponseFormat::None,
                Some(other) => {
                    return Err(bad(
                        "response_format",
                        format!("unknown response_format `{other}`"),
                        "use json_schema (default), json_object or none",
                    ))
                }
            },
        },
        "anthropic" => ProviderKind::Anthropic {
            base_url: base_url("https://api.anthropic.com")?,
            api_key_env: env_name(&raw.api_key_env)?,
        },
        "command" => {
            let argv = raw.command.clone().unwrap_or_default();
            if argv.is_empty() {
                return Err(bad(
                    "provider",
                    "provider = \"command\" needs a command".into(),
                    "add e.g. command = [\"python3\", \"my-reviewer.py\"] (run in this file's folder)",
                ));
            }
            ProviderKind::Command {
                argv,
                dir: dir.to_path_buf(),
            }
        }
        other => {
            return Err(bad(
                "provider",
                format!("unknown provider `{other}`"),
                "use openai (any OpenAI-compatible server), anthropic or command",
            ))
        }
    };
    if raw.model.trim().is_empty() {
        return Err(bad(
            "model",
            "model is empty".into(),
            "name the model the provider should use",
        ));
    }
    let temperature = raw.temperature.unwrap_or(0.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(bad(
            "temperature",
            format!("temperature {temperature} is out of range"),
            "use a value from 0 to 2",
        ));
    }
    let samples = raw.samples.unwrap_or(1);
    if !(1..=15).contains(&samples) {
        return Err(bad(
            "samples",
            format!("samples = {samples} is out of range"),
            "use 1 to 15 (an odd number avoids ties)",
        ));
    }
    let concurrency = raw.concurrency.unwrap_or(4);
    if concurrency == 0 {
        return Err(bad(
            "concurrency",
            "concurrency is 0".into(),
            "allow at least one request at a time",
        ));
    }
    let duration = |key: &str, v: &Option<String>, default: Duration| -> Result<Duration, Error> {
        match v {
            None => Ok(default),
            Some(s) => parse_duration(s).map_err(|e| {
                bad(
                    key,
                    format!("{key}: {e}"),
                    "write a duration such as \"30s\" or \"2m\"",
                )
            }),
        }
    };
    let timeout = duration("timeout", &raw.timeout, Duration::from_secs(120))?;
    let backoff = duration("backoff", &raw.backoff, Duration::from_secs(1))?;
    if let Some(p) = &raw.price {
        if !(p.input >= 0.0 && p.output >= 0.0 && p.input.is_finite() && p.output.is_finite()) {
            return Err(Error::input(
                file,
                line_of_key(&text, Some("price"), "input"),
                "prices must be non-negative numbers",
                "give USD per million input and output tokens, e.g. input = 0.4, output = 1.6",
            ));
        }
    }
    if raw.rubric.is_empty() {
        return Err(bad(
            "rubric",
            "the rubric is empty".into(),
            "add at least one [[rubric]] with a name and a question",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in &raw.rubric {
        let usable = !c.name.is_empty()
            && c.name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
        if !usable || !seen.insert(c.name.clone()) {
            return Err(Error::input(
                file,
                text.find(&format!("\"{}\"", c.name))
                    .map(|o| crate::config::line_at(&text, o)),
                format!("rubric criterion `{}` is unusable or given twice", c.name),
                "name each criterion once, in lowercase letters, digits and '_'",
            ));
        }
    }
    let template_in = |table: Option<&str>, key: &str, rel: &str| -> Result<Template, Error> {
        let path = dir.join(rel);
        let line = line_of_key(&text, table, key);
        let bytes = read_file(&path, "prompt template", Some((file, line)))?;
        Ok(Template {
            file: path,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        })
    };
    let template = |key: &str, rel: &str| template_in(None, key, rel);
    let system = template("system", &raw.system)?;
    let user = template("user", &raw.user)?;
    let pairwise = raw
        .pairwise
        .as_deref()
        .map(|p| template("pairwise", p))
        .transpose()?;
    let unreadable = |e: std::io::Error| {
        bad(
            "command",
            format!("a file the command names cannot be read: {e}"),
            "check the command's paths (relative to this file's folder)",
        )
    };
    let version = judge_version(
        &provider,
        &raw.model,
        temperature,
        &system,
        &user,
        &raw.rubric,
    )
    .map_err(unreadable)?;
    let rewrite = match &raw.rewrite {
        None => None,
        Some(r) => {
            let system = template_in(Some("rewrite"), "system", &r.system)?;
            let user = template_in(Some("rewrite"), "user", &r.user)?;
            let version = judge_version(&provider, &raw.model, temperature, &system, &user, &[])
                .map_err(unreadable)?;
            Some(RewriteTemplates {
                system,
                user,
                version,
            })
        }
    };
    Ok(JudgeSpec {
        name,
        description: raw.description,
        provider,
        model: raw.model,
        temperature,
        samples,
        max_tokens: raw.max_tokens.unwrap_or(1024),
        system,
        user,
        pairwise,
        rewrite,
        timeout,
        concurrency,
        max_retries: raw.max_retries.unwrap_or(4),
        backoff,
        price: raw.price,
        budget: raw.budget,
        rubric: raw.rubric,
        file: file.to_path_buf(),
        version,
    })
}

/// The judge version: what could change a verdict, hashed. The base URL, key, prices,
/// limits and sample count are left out on purpose: the same model behind another gateway
/// answers the same, and raising `samples` reuses the samples already cached.
fn judge_version(
    provider: &ProviderKind,
    model: &str,
    temperature: f64,
    system: &Template,
    user: &Template,
    rubric: &[Criterion],
) -> std::io::Result<String> {
    let provider_id = match provider {
        ProviderKind::Command { argv, dir } => {
            // A script's behaviour is its content: hash every file the command names.
            let mut parts = Vec::new();
            for a in argv {
                let p = dir.join(a);
                if p.is_file() {
                    parts.push(format!("{a}={}", sha256_hex(&std::fs::read(&p)?)));
                } else {
                    parts.push(a.clone());
                }
            }
            serde_json::json!({ "kind": "command", "argv": parts })
        }
        other => serde_json::json!({ "kind": other.name() }),
    };
    let doc = serde_json::json!({
        "protocol": JUDGE_PROTOCOL,
        "provider": provider_id,
        "model": model,
        "temperature": temperature,
        "system": system.text,
        "user": user.text,
        "rubric": rubric,
    });
    Ok(sha256_hex(doc.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_judge(dir: &Path, body: &str) -> PathBuf {
        std::fs::write(dir.join("s.j2"), "system").unwrap();
        std::fs::write(dir.join("u.j2"), "user").unwrap();
        let f = dir.join("j.toml");
        std::fs::write(&f, body).unwrap();
        f
    }

    const GOOD: &str = "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:9/v1/\"\napi_key_env = \"K\"\nsystem = \"s.j2\"\nuser = \"u.j2\"\n[price]\ninput = 1.0\noutput = 2.0\n[[rubric]]\nname = \"solves_problem\"\nquestion = \"Does it?\"\n";

    #[test]
    fn loads_and_versions_what_changes_answers() {
        let tmp = tempfile::tempdir().unwrap();
        let f = write_judge(tmp.path(), GOOD);
        let j = load_judge(&f).unwrap();
        assert_eq!(j.name, "j");
        assert!(
            matches!(&j.provider, ProviderKind::Openai { base_url, .. } if base_url == "http://127.0.0.1:9/v1")
        );
        assert_eq!(j.samples, 1);
        let v1 = j.version.clone();
        // Another gateway or price: same version.
        std::fs::write(
            &f,
            GOOD.replace("127.0.0.1:9", "10.0.0.1:8")
                .replace("2.0", "3.0"),
        )
        .unwrap();
        assert_eq!(load_judge(&f).unwrap().version, v1);
        // Another model, template or rubric: another version.
        std::fs::write(&f, GOOD.replace("model = \"m\"", "model = \"n\"")).unwrap();
        assert_ne!(load_judge(&f).unwrap().version, v1);
        std::fs::write(&f, GOOD.replace("Does it?", "Does it really?")).unwrap();
        assert_ne!(load_judge(&f).unwrap().version, v1);
        std::fs::write(&f, GOOD).unwrap();
        std::fs::write(tmp.path().join("u.j2"), "user v2").unwrap();
        assert_ne!(load_judge(&f).unwrap().version, v1);
    }

    #[test]
    fn bad_judge_files_name_line_and_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let cases: &[(&str, &str, &str)] = &[
            (
                "provider = \"openai\"",
                "provider = \"gemini\"",
                "j.toml:1: unknown provider",
            ),
            (
                "api_key_env = \"K\"",
                "api_key_env = \"sk-live-123-abc\"",
                "j.toml:4: api_key_env",
            ),
            (
                "model = \"m\"",
                "model = \"m\"\nsamples = 0",
                "j.toml:3: samples",
            ),
            (
                "user = \"u.j2\"",
                "user = \"nope.j2\"",
                "j.toml:6: prompt template",
            ),
            (
                "name = \"solves_problem\"",
                "name = \"Solves Problem\"",
                "rubric criterion",
            ),
            (
                "model = \"m\"",
                "model = \"m\"\nmodle = \"x\"",
                "unknown field `modle`",
            ),
        ];
        for (from, to, expected) in cases {
            let f = write_judge(tmp.path(), &GOOD.replace(from, to));
            let err = load_judge(&f).unwrap_err().to_string();
            assert!(err.contains(expected), "expected `{expected}` in {err}");
            assert!(err.contains("fix:"), "{err}");
        }
    }

    #[test]
    fn a_rewrite_table_has_its_own_templates_and_version() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("rs.j2"), "rewrite system").unwrap();
        std::fs::write(tmp.path().join("ru.j2"), "rewrite user").unwrap();
        let body = GOOD.replace(
            "[price]",
            "[rewrite]\nsystem = \"rs.j2\"\nuser = \"ru.j2\"\n\n[price]",
        );
        let f = write_judge(tmp.path(), &body);
        let j = load_judge(&f).unwrap();
        let r = j.rewrite.as_ref().unwrap();
        assert_eq!(r.user.text, "rewrite user");
        assert_ne!(r.version, j.version);
        // A rewrite template is no part of what a verdict depends on, and the other way round.
        std::fs::write(tmp.path().join("ru.j2"), "rewrite user v2").unwrap();
        let j2 = load_judge(&f).unwrap();
        assert_eq!(j2.version, j.version);
        assert_ne!(j2.rewrite.unwrap().version, r.version);
        // A missing template names the line inside [rewrite].
        let f = write_judge(tmp.path(), &body.replace("ru.j2", "nope.j2"));
        let err = load_judge(&f).unwrap_err().to_string();
        assert!(err.contains("j.toml:9"), "{err}");
        assert!(load_judge(&write_judge(tmp.path(), GOOD))
            .unwrap()
            .rewrite
            .is_none());
        let f = write_judge(
            tmp.path(),
            &body.replace("user = \"ru.j2\"", "usr = \"ru.j2\""),
        );
        let err = load_judge(&f).unwrap_err().to_string();
        assert!(err.contains("unknown field `usr`"), "{err}");
    }

    #[test]
    fn a_command_judge_is_versioned_by_its_script() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("r.py"), "print(1)").unwrap();
        let body = GOOD
            .replace(
                "provider = \"openai\"",
                "provider = \"command\"\ncommand = [\"python3\", \"r.py\"]",
            )
            .replace("api_key_env = \"K\"\n", "")
            .replace("base_url = \"http://127.0.0.1:9/v1/\"\n", "");
        let f = write_judge(tmp.path(), &body);
        let v1 = load_judge(&f).unwrap().version;
        std::fs::write(tmp.path().join("r.py"), "print(2)").unwrap();
        assert_ne!(load_judge(&f).unwrap().version, v1);
    }
}
