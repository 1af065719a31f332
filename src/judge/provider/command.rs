//! The command provider: any local model or script as a judge. The executable runs in the
//! judge file's folder, reads the rendered request as one JSON document on stdin and writes
//! its answer as JSON on stdout (protocol `mergebench-judge/1`, see docs/judging.md). An optional
//! top-level `usage` object (`input_tokens`, `output_tokens`, `cost_usd`) is read and removed
//! before the answer is validated.

use super::{CallError, Reply, Usage};
use crate::judge::prompt::Request;
use crate::judge::spec::JudgeSpec;
use crate::judge::verdict::ReplyOutput;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

pub const PROTOCOL: &str = "mergebench-judge/1";
/// More answer than any verdict needs; the rest is cut, and the answer will not validate.
const MAX_STDOUT: usize = 1 << 20;

pub struct CommandProvider {
    pub argv: Vec<String>,
    pub dir: PathBuf,
    pub timeout: Duration,
}

/// The document a command reads on stdin.
pub fn request_json(spec: &JudgeSpec, req: &Request) -> Value {
    json!({
        "protocol": PROTOCOL,
        "judge": spec.name,
        "judge_version": spec.version,
        "model": spec.model,
        "temperature": spec.temperature,
        "max_tokens": spec.max_tokens,
        "purpose": req.purpose,
        "sample": req.sample,
        "system": req.system,
        "user": req.user,
        "schema": req.schema,
        "rubric": spec.rubric,
        "data": req.data,
        "repair": req.repair.as_ref().map(|r| json!({
            "previous": r.previous,
            "error": r.error,
            "instruction": r.instruction(),
        })),
    })
}

fn tail(bytes: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    let n = s.chars().count();
    if n <= max {
        s.to_string()
    } else {
        format!("…{}", s.chars().skip(n - max).collect::<String>())
    }
}

impl CommandProvider {
    pub async fn send(&self, spec: &JudgeSpec, req: &Request) -> Result<Reply, CallError> {
        let name = self.argv.join(" ");
        let mut child = tokio::process::Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| CallError::Unusable {
                message: format!(
                    "cannot run the judge command `{name}` in {}: {e}",
                    self.dir.display()
                ),
                status: None,
            })?;
        // cannot fail: a JSON value always serializes.
        let input = serde_json::to_vec(&request_json(spec, req)).expect("serializable");
        // cannot fail: stdin is piped when the command is built and taken once.
        let mut stdin = child.stdin.take().expect("piped");
        // Written from its own task: a command that answers before reading all of its input
        // must not deadlock against a full pipe.
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
        let out = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => {
                return Err(CallError::Failed {
                    message: format!("the judge command `{name}` failed: {e}"),
                    status: None,
                })
            }
            Err(_) => {
                return Err(CallError::Retryable {
                    message: format!(
                        "the judge command `{name}` did not answer within {:?}",
                        self.timeout
                    ),
                    status: None,
                    retry_after: None,
                    unreachable: false,
                })
            }
        };
        writer.abort();
        let code = out.status.code().map(i64::from);
        if !out.status.success() {
            return Err(CallError::Failed {
                message: format!(
                    "the judge command `{name}` exited with {}: {}",
                    code.map(|c| c.to_string())
                        .unwrap_or_else(|| "a signal".into()),
                    tail(&out.stderr, 500)
                ),
                status: code,
            });
        }
        let stdout = &out.stdout[..out.stdout.len().min(MAX_STDOUT)];
        let text = String::from_utf8_lossy(stdout).into_owned();
        let (output, usage) = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(mut o)) => {
                let u = o.remove("usage").unwrap_or(Value::Null);
                let num = |k: &str| {
                    u.get(k)
                        .and_then(Value::as_f64)
                        .filter(|x| x.is_finite() && *x >= 0.0)
                };
                (
                    ReplyOutput::Json(Value::Object(o)),
                    Usage {
                        input_tokens: num("input_tokens").map(|x| x as i64),
                        output_tokens: num("output_tokens").map(|x| x as i64),
                        cost_usd: num("cost_usd"),
                    },
                )
            }
            _ => (ReplyOutput::Text(text), Usage::default()),
        };
        Ok(Reply {
            output,
            usage,
            model: None,
            status: code,
        })
    }
}
