//! The reference agent's four tools: run a shell command, read a file, write a file, finish.
//! Their JSON schemas go to the model; their results go back as tool messages.
//!
//! The container is the sandbox, so the tools do not confine paths: relative paths are taken
//! from the workspace, and a command may do whatever the container lets it.

use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// A tool result longer than this keeps its head and tail: the model needs the start of a
/// listing and the end of a traceback more than the middle.
pub const OUTPUT_CAP: usize = 16 * 1024;
const READ_LINES_CAP: usize = 2000;

pub fn definitions() -> Value {
    json!([
        function(
            "run_shell",
            "Run a shell command (sh -c) in the repository's root and return its exit code and combined stdout and stderr. Each call starts a fresh shell.",
            json!({"command": {"type": "string", "description": "The command to run"}}),
            &["command"],
        ),
        function(
            "read_file",
            "Read a text file, with line numbers. Paths are relative to the repository's root.",
            json!({
                "path": {"type": "string"},
                "start_line": {"type": "integer", "description": "First line to show (1-based, default 1)"},
                "end_line": {"type": "integer", "description": "Last line to show (default: the end, at most 2000 lines)"}
            }),
            &["path"],
        ),
        function(
            "write_file",
            "Create or overwrite a file with the given content. Paths are relative to the repository's root.",
            json!({
                "path": {"type": "string"},
                "content": {"type": "string", "description": "The whole new content of the file"}
            }),
            &["path", "content"],
        ),
        function(
            "finish",
            "End the task once the change is complete.",
            json!({"summary": {"type": "string", "description": "What was changed and why"}}),
            &["summary"],
        ),
    ])
}

/// One tool's definition: its name, what it does, and its arguments' JSON schema.
fn function(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({"type": "function", "function": {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required}
    }})
}

/// What one tool call did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Text for the model.
    Output(String),
    /// The agent is done.
    Finish(String),
}

pub struct Tools {
    pub workspace: PathBuf,
    pub command_timeout: Duration,
}

#[derive(Deserialize)]
struct Shell {
    command: String,
}

#[derive(Deserialize)]
struct Read {
    path: String,
    start_line: Option<usize>,
    end_line: Option<usize>,
}

#[derive(Deserialize)]
struct Write {
    path: String,
    content: String,
}

#[derive(Deserialize)]
struct Finish {
    #[serde(default)]
    summary: String,
}

fn args<T: serde::de::DeserializeOwned>(name: &str, arguments: &str) -> Result<T, String> {
    serde_json::from_str(arguments)
        .map_err(|e| format!("error: the arguments of {name} do not fit its schema ({e})"))
}

impl Tools {
    /// Runs one tool call. Mistakes (unknown tool, bad arguments, missing file) are reported
    /// to the model as output, so it can correct itself.
    pub async fn call(&self, name: &str, arguments: &str) -> Outcome {
        let result = match name {
            "run_shell" => match args::<Shell>(name, arguments) {
                Ok(a) => Ok(self.shell(&a.command).await),
                Err(e) => Err(e),
            },
            "read_file" => args::<Read>(name, arguments).and_then(|a| self.read(&a)),
            "write_file" => args::<Write>(name, arguments).and_then(|a| self.write(&a)),
            "finish" => {
                return match args::<Finish>(name, arguments) {
                    Ok(a) => Outcome::Finish(a.summary),
                    Err(_) => Outcome::Finish(String::new()),
                }
            }
            other => Err(format!(
                "error: there is no tool `{other}`; use run_shell, read_file, write_file or finish"
            )),
        };
        Outcome::Output(result.unwrap_or_else(|e| e))
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.workspace.join(p)
        }
    }

    async fn shell(&self, command: &str) -> String {
        let started = Instant::now();
        let mut cmd = tokio::process::Command::new("sh");
        // One stream, in the order things were printed, as a terminal would show it.
        cmd.arg("-c")
            .arg(format!("exec 2>&1\n{command}"))
            .current_dir(&self.workspace)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return format!("error: cannot start sh: {e}"),
        };
        let pgid = child.id();
        // cannot fail: stdout is piped when the command is built and taken once.
        let mut stdout = child.stdout.take().expect("piped stdout");
        let reader = tokio::spawn(async move {
            let mut out = Capped::default();
            let mut buf = vec![0u8; 8192];
            while let Ok(n) = stdout.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                out.push(&buf[..n]);
            }
            out
        });
        let status = tokio::time::timeout(self.command_timeout, child.wait()).await;
        let timed_out = status.is_err();
        if timed_out {
            kill_group(pgid);
            let _ = child.kill().await;
        }
        // A background process can hold the pipe open past the shell's exit.
        let out = match tokio::time::timeout(Duration::from_secs(2), reader).await {
            Ok(Ok(out)) => out,
            _ => {
                kill_group(pgid);
                Capped::default()
            }
        };
        let head = match status {
            Ok(Ok(s)) => match s.code() {
                Some(c) => format!("exit code {c}"),
                None => "killed by a signal".to_string(),
            },
            Ok(Err(e)) => format!("error waiting for the command: {e}"),
            Err(_) => format!(
                "timed out after {:.0}s and was killed",
                started.elapsed().as_secs_f64()
            ),
        };
        format!("{head}\n{}", out.text())
    }

    fn read(&self, a: &Read) -> Result<String, String> {
        let path = self.resolve(&a.path);
        let bytes =
            std::fs::read(&path).map_err(|e| format!("error: cannot read {}: {e}", a.path))?;
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        let start = a.start_line.unwrap_or(1).max(1);
        let end = a
            .end_line
            .unwrap_or(usize::MAX)
            .min(lines.len())
            .min(start.saturating_add(READ_LINES_CAP - 1));
        if lines.is_empty() {
            return Ok(format!("{} is empty", a.path));
        }
        if start > lines.len() {
            return Err(format!(
                "error: {} has {} lines; start_line {start} is past the end",
                a.path,
                lines.len()
            ));
        }
        let mut out = String::new();
        for (i, line) in lines[start - 1..end].iter().enumerate() {
            out.push_str(&format!("{:>6}\t{line}\n", start + i));
        }
        if end < lines.len() {
            out.push_str(&format!(
                "[lines {}–{} of {}; ask for more with start_line]\n",
                start,
                end,
                lines.len()
            ));
        }
        Ok(cap_text(&out))
    }

    fn write(&self, a: &Write) -> Result<String, String> {
        let path = self.resolve(&a.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("error: cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, &a.content)
            .map_err(|e| format!("error: cannot write {}: {e}", a.path))?;
        Ok(format!("wrote {} bytes to {}", a.content.len(), a.path))
    }
}

/// Kills what a command left running: it was started as the leader of its own group.
fn kill_group(pgid: Option<u32>) {
    if let Some(pgid) = pgid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is shared.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Output kept as head and tail, with the middle counted.
#[derive(Default)]
struct Capped {
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    total: usize,
}

impl Capped {
    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len();
        let half = OUTPUT_CAP / 2;
        for &b in chunk {
            if self.head.len() < half {
                self.head.push(b);
            } else {
                self.tail.push_back(b);
                if self.tail.len() > half {
                    self.tail.pop_front();
                }
            }
        }
    }

    fn text(&self) -> String {
        let kept = self.head.len() + self.tail.len();
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        if kept < self.total {
            format!(
                "{}\n[… {} bytes cut …]\n{}",
                String::from_utf8_lossy(&self.head),
                self.total - kept,
                String::from_utf8_lossy(&tail)
            )
        } else {
            format!(
                "{}{}",
                String::from_utf8_lossy(&self.head),
                String::from_utf8_lossy(&tail)
            )
        }
    }
}

fn cap_text(s: &str) -> String {
    let mut c = Capped::default();
    c.push(s.as_bytes());
    c.text()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools(dir: &Path) -> Tools {
        Tools {
            workspace: dir.to_path_buf(),
            command_timeout: Duration::from_secs(2),
        }
    }

    #[tokio::test]
    async fn tools_read_write_and_run() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tools(tmp.path());
        let out = t
            .call(
                "write_file",
                r#"{"path":"src/a.py","content":"x = 1\ny = 2\n"}"#,
            )
            .await;
        assert_eq!(out, Outcome::Output("wrote 12 bytes to src/a.py".into()));
        let out = t
            .call("read_file", r#"{"path":"src/a.py","start_line":2}"#)
            .await;
        assert_eq!(out, Outcome::Output("     2\ty = 2\n".into()));
        let Outcome::Output(out) = t
            .call(
                "run_shell",
                r#"{"command":"cat src/a.py; echo oops >&2; exit 3"}"#,
            )
            .await
        else {
            panic!()
        };
        assert_eq!(out, "exit code 3\nx = 1\ny = 2\noops\n");
        assert_eq!(
            t.call("finish", r#"{"summary":"done"}"#).await,
            Outcome::Finish("done".into())
        );
    }

    #[tokio::test]
    async fn mistakes_are_told_to_the_model() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tools(tmp.path());
        for (name, args, needle) in [
            ("delete_everything", "{}", "there is no tool"),
            ("run_shell", "{\"cmd\":\"ls\"}", "do not fit its schema"),
            (
                "read_file",
                "{\"path\":\"missing.txt\"}",
                "cannot read missing.txt",
            ),
            ("write_file", "not json", "do not fit"),
        ] {
            let Outcome::Output(out) = t.call(name, args).await else {
                panic!()
            };
            assert!(out.contains(needle), "{name}: {out}");
        }
    }

    #[tokio::test]
    async fn commands_that_hang_or_flood_are_cut() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tools(tmp.path());
        let started = Instant::now();
        let Outcome::Output(out) = t
            .call("run_shell", r#"{"command":"sleep 30 & sleep 30"}"#)
            .await
        else {
            panic!()
        };
        assert!(out.starts_with("timed out"), "{out}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let Outcome::Output(out) = t
            .call(
                "run_shell",
                r#"{"command":"head -c 100000 /dev/zero | tr '\\0' a"}"#,
            )
            .await
        else {
            panic!()
        };
        assert!(out.contains("bytes cut"), "{}", &out[..100]);
        assert!(out.len() < OUTPUT_CAP + 200);
    }
}
