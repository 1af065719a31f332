//! Rows the store reads and writes.

use crate::egress::EgressSummary;
use crate::outcome::{Flags, Outcome};
use crate::patch::Patch;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub id: String,
    pub key: String,
    pub suite: String,
    pub suite_dir: String,
    pub agents: Vec<String>,
    pub attempts: u32,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub mergebench_version: String,
    pub label: Option<String>,
}

pub struct NewEvaluation {
    /// Same suite, agents and attempts give the same key: a re-run resumes.
    pub key: String,
    pub suite: String,
    pub suite_dir: String,
    pub agents: Vec<String>,
    pub attempts: u32,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeKey {
    pub patch_sha256: String,
    pub task_hash: String,
    pub grader_version: String,
}

/// What the agent wrote to /mergebench/out/usage.json, checked and normalised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct LogRecord {
    pub kind: String,
    pub bytes: Vec<u8>,
    pub total_bytes: u64,
    pub truncated: bool,
}

#[derive(Debug, Default)]
pub struct NewAttempt {
    pub eval_id: String,
    pub task_id: String,
    pub task_hash: String,
    pub agent: String,
    pub agent_hash: String,
    pub attempt: u32,
    pub outcome: Outcome,
    pub flags: Flags,
    pub raw_patch: Option<Patch>,
    pub graded_patch: Option<Patch>,
    pub grade_json: Option<String>,
    pub error: Option<String>,
    pub env_image: Option<String>,
    pub agent_image: Option<String>,
    pub agent_seconds: Option<f64>,
    pub grade_seconds: Option<f64>,
    pub total_seconds: Option<f64>,
    pub usage: Option<Usage>,
    pub grader_version: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub infra_retries: u32,
    pub logs: Vec<LogRecord>,
    pub artifacts: Vec<(String, Vec<u8>)>,
    /// Agents with an allowlist: what their egress proxy passed and refused.
    pub egress: Option<EgressSummary>,
}

pub const ATTEMPT_COLUMNS: &str = "id, eval_id, task_id, task_hash, agent, agent_hash, attempt, outcome, flags_json, patch_sha256, raw_patch_sha256, grade_json, error, env_image, agent_image, agent_seconds, grade_seconds, total_seconds, usage_json, mergebench_version, grader_version, started_at, finished_at, infra_retries, files_changed, lines_added, lines_removed, egress_json";

#[derive(Debug, Clone, Serialize)]
pub struct AttemptRow {
    pub id: i64,
    pub eval_id: String,
    pub task_id: String,
    pub task_hash: String,
    pub agent: String,
    pub agent_hash: String,
    pub attempt: u32,
    pub outcome: Outcome,
    pub flags: Flags,
    pub patch_sha256: Option<String>,
    pub raw_patch_sha256: Option<String>,
    pub grade: Option<serde_json::Value>,
    pub error: Option<String>,
    pub env_image: Option<String>,
    pub agent_image: Option<String>,
    pub agent_seconds: Option<f64>,
    pub grade_seconds: Option<f64>,
    pub total_seconds: Option<f64>,
    pub usage: Option<Usage>,
    pub mergebench_version: String,
    pub grader_version: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub infra_retries: u32,
    pub files_changed: u32,
    pub lines_added: u32,
    pub lines_removed: u32,
    /// Agents with an allowlist: requests per destination, allowed and refused.
    pub egress: Option<EgressSummary>,
}

impl AttemptRow {
    pub fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AttemptRow> {
        let outcome: String = r.get(7)?;
        let flags: String = r.get(8)?;
        let grade: Option<String> = r.get(11)?;
        let usage: Option<String> = r.get(18)?;
        let egress: Option<String> = r.get(27)?;
        Ok(AttemptRow {
            id: r.get(0)?,
            eval_id: r.get(1)?,
            task_id: r.get(2)?,
            task_hash: r.get(3)?,
            agent: r.get(4)?,
            agent_hash: r.get(5)?,
            attempt: r.get(6)?,
            outcome: Outcome::parse(&outcome).unwrap_or(Outcome::InfraError),
            flags: serde_json::from_str(&flags).unwrap_or_default(),
            patch_sha256: r.get(9)?,
            raw_patch_sha256: r.get(10)?,
            grade: grade.and_then(|g| serde_json::from_str(&g).ok()),
            error: r.get(12)?,
            env_image: r.get(13)?,
            agent_image: r.get(14)?,
            agent_seconds: r.get(15)?,
            grade_seconds: r.get(16)?,
            total_seconds: r.get(17)?,
            usage: usage.and_then(|u| serde_json::from_str(&u).ok()),
            mergebench_version: r.get(19)?,
            grader_version: r.get(20)?,
            started_at: r.get(21)?,
            finished_at: r.get(22)?,
            infra_retries: r.get(23)?,
            files_changed: r.get(24)?,
            lines_added: r.get(25)?,
            lines_removed: r.get(26)?,
            egress: egress.and_then(|e| serde_json::from_str(&e).ok()),
        })
    }
}
