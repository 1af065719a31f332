//! What the reference agent leaves in `/mergebench/out`: `usage.json` (rewritten after every
//! model call, so an agent killed at its deadline still reports what it spent) and
//! `trajectory.jsonl` (one JSON object per event, appended and flushed as it happens).

use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Recorder {
    dir: PathBuf,
    trajectory: std::fs::File,
}

/// Running totals of what the model calls used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spent {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub steps: u32,
}

impl Spent {
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

impl Recorder {
    pub fn create(dir: &Path) -> std::io::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        let trajectory = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("trajectory.jsonl"))?;
        Ok(Recorder {
            dir: dir.to_path_buf(),
            trajectory,
        })
    }

    /// Appends one event; a full disk costs the trajectory, never the run.
    pub fn event(&mut self, kind: &str, mut fields: Value) {
        if let Some(o) = fields.as_object_mut() {
            o.insert("type".into(), json!(kind));
            o.insert("time".into(), json!(chrono::Utc::now().to_rfc3339()));
        }
        let _ = writeln!(self.trajectory, "{fields}");
        let _ = self.trajectory.flush();
    }

    /// Rewrites usage.json in the shape mergebench reads (docs/agents.md), plus steps and status.
    pub fn usage(&self, model: &str, spent: &Spent, status: &str) {
        let v = json!({
            "model": model,
            "input_tokens": spent.input_tokens,
            "output_tokens": spent.output_tokens,
            "cost_usd": (spent.cost_usd * 1e6).round() / 1e6,
            "steps": spent.steps,
            "status": status,
        });
        // Written aside and renamed, so a kill mid-write leaves the previous whole file.
        let tmp = self.dir.join(".usage.json.tmp");
        if std::fs::write(&tmp, format!("{v:#}\n")).is_ok() {
            let _ = std::fs::rename(&tmp, self.dir.join("usage.json"));
        }
    }
}
