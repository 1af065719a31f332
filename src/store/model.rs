//! Rows the store reads and writes.

use crate::repo::patch::Patch;
use crate::score::egress::EgressSummary;
use crate::score::outcome::{Flags, Outcome};
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
    /// `I/N` for the evaluation one shard ran; none for a whole or merged evaluation.
    pub shard: Option<String>,
}

pub struct NewEvaluation {
    /// Same suite, agents and attempts give the same key: a re-run resumes.
    pub key: String,
    pub suite: String,
    pub suite_dir: String,
    pub agents: Vec<String>,
    pub attempts: u32,
    pub label: Option<String>,
    /// `I/N` when this run is one shard of the evaluation.
    pub shard: Option<String>,
    /// The task and agent hashes it covers (JSON), for `merge`'s checks.
    pub manifest: Option<String>,
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

/// What the attempt's model gateway measured over every request the agent made through it,
/// from the provider's own responses (`gateway::log::summarize`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MeasuredUsage {
    /// Requests forwarded to the provider.
    pub requests: u64,
    /// Requests the gateway answered itself: a wrong token, another model than the pinned
    /// one, or a spent budget.
    pub refused: u64,
    /// Of those, requests for another model than the pinned one.
    pub refused_model: u64,
    /// The budget that was spent, when one was (`requests`, `tokens` or `cost`).
    pub budget_exhausted: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Input tokens the provider served from its cache (part of `input_tokens`).
    pub cached_tokens: i64,
    /// From the price table; None when a model had no price.
    pub cost_usd: Option<f64>,
    pub models: Vec<String>,
    /// Requests that failed upstream (unreachable, or a provider error status).
    pub errors: u64,
    /// Log lines that could not be read (a cut last line, or garbage).
    pub unreadable_lines: u64,
}

/// The usage an attempt is counted at: what its gateway measured when the agent made
/// requests through one, otherwise what the agent reported.
pub fn counted(usage: Option<&Usage>, measured: Option<&MeasuredUsage>) -> Usage {
    match measured {
        Some(m) if m.requests > 0 => Usage {
            model: m.models.first().cloned(),
            input_tokens: Some(m.input_tokens),
            output_tokens: Some(m.output_tokens),
            cost_usd: m.cost_usd,
        },
        _ => usage.cloned().unwrap_or_default(),
    }
}

/// The cost an attempt is counted at ([`counted`]).
pub fn counted_cost(usage: Option<&Usage>, measured: Option<&MeasuredUsage>) -> Option<f64> {
    counted(usage, measured).cost_usd
}

#[derive(Debug, Clone)]
pub struct LogRecord {
    pub kind: String,
    pub bytes: Vec<u8>,
    pub total_bytes: u64,
    pub truncated: bool,
}

/// Which attempt: the evaluation, the task and the agent (each with the hash of the
/// definition that ran) and the attempt's number. Written with an attempt and read back
/// with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AttemptKey {
    pub eval_id: String,
    pub task_id: String,
    pub task_hash: String,
    pub agent: String,
    pub agent_hash: String,
    pub attempt: u32,
}

/// How an attempt went, as it is written and as it is read back: outcome and flags, the
/// error, the images, the times, what the agent reported it used, the grader, retries and
/// egress, and what a gateway measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AttemptRun {
    pub outcome: Outcome,
    pub flags: Flags,
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
    /// Agents with an allowlist: requests per destination, allowed and refused.
    pub egress: Option<EgressSummary>,
    /// Agents with a gateway: the usage it measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<MeasuredUsage>,
}

/// An attempt to write: its key and run, with the patches, grade and conventions result
/// as the scorers made them, and its logs and artifacts.
#[derive(Debug, Default)]
pub struct NewAttempt {
    pub key: AttemptKey,
    pub run: AttemptRun,
    pub raw_patch: Option<Patch>,
    pub graded_patch: Option<Patch>,
    pub grade_json: Option<String>,
    pub conventions_json: Option<String>,
    pub logs: Vec<LogRecord>,
    pub artifacts: Vec<(String, Vec<u8>)>,
}

pub const ATTEMPT_COLUMNS: &str = "id, eval_id, task_id, task_hash, agent, agent_hash, attempt, outcome, flags_json, patch_sha256, raw_patch_sha256, grade_json, error, env_image, agent_image, agent_seconds, grade_seconds, total_seconds, usage_json, mergebench_version, grader_version, started_at, finished_at, infra_retries, files_changed, lines_added, lines_removed, conventions_json, egress_json, measured_json";

/// A stored attempt: its key and run (flattened: `results --json` shows one object), the
/// patches by hash and the graded patch's size, the grade and conventions result, and the
/// latest judgement.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRow {
    pub id: i64,
    #[serde(flatten)]
    pub key: AttemptKey,
    #[serde(flatten)]
    pub run: AttemptRun,
    pub patch_sha256: Option<String>,
    pub raw_patch_sha256: Option<String>,
    pub grade: Option<serde_json::Value>,
    pub mergebench_version: String,
    pub files_changed: u32,
    pub lines_added: u32,
    pub lines_removed: u32,
    /// The conventions scorer's result (findings, blast radius, tier), when it ran.
    pub conventions: Option<serde_json::Value>,
    /// The latest judgement of this attempt, if a judge has seen it.
    pub judge: Option<JudgementRow>,
}

impl AttemptRow {
    pub fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AttemptRow> {
        let outcome: String = r.get(7)?;
        let flags: String = r.get(8)?;
        let grade: Option<String> = r.get(11)?;
        let usage: Option<String> = r.get(18)?;
        let egress: Option<String> = r.get(28)?;
        let measured: Option<String> = r.get(29)?;
        Ok(AttemptRow {
            id: r.get(0)?,
            key: AttemptKey {
                eval_id: r.get(1)?,
                task_id: r.get(2)?,
                task_hash: r.get(3)?,
                agent: r.get(4)?,
                agent_hash: r.get(5)?,
                attempt: r.get(6)?,
            },
            run: AttemptRun {
                outcome: Outcome::parse(&outcome).unwrap_or(Outcome::InfraError),
                flags: serde_json::from_str(&flags).unwrap_or_default(),
                error: r.get(12)?,
                env_image: r.get(13)?,
                agent_image: r.get(14)?,
                agent_seconds: r.get(15)?,
                grade_seconds: r.get(16)?,
                total_seconds: r.get(17)?,
                usage: usage.and_then(|u| serde_json::from_str(&u).ok()),
                grader_version: r.get(20)?,
                started_at: r.get(21)?,
                finished_at: r.get(22)?,
                infra_retries: r.get(23)?,
                egress: egress.and_then(|e| serde_json::from_str(&e).ok()),
                measured: measured.and_then(|m| serde_json::from_str(&m).ok()),
            },
            patch_sha256: r.get(9)?,
            raw_patch_sha256: r.get(10)?,
            grade: grade.and_then(|g| serde_json::from_str(&g).ok()),
            mergebench_version: r.get(19)?,
            files_changed: r.get(24)?,
            lines_added: r.get(25)?,
            lines_removed: r.get(26)?,
            conventions: r
                .get::<_, Option<String>>(27)?
                .and_then(|c| serde_json::from_str(&c).ok()),
            judge: None,
        })
    }

    /// The cost this attempt is counted at (`counted_cost`).
    pub fn cost_usd(&self) -> Option<f64> {
        counted_cost(self.run.usage.as_ref(), self.run.measured.as_ref())
    }
}

/// A judge sample is cached under (patch, task, judge version, sample number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeSampleKey {
    pub patch_sha256: String,
    pub task_hash: String,
    pub judge_version: String,
    pub sample: u32,
}

/// Tokens and money spent on model requests; None where the provider said nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
}

impl Spend {
    /// Adds another spend: a figure stays None only when neither side has it.
    pub fn add(&mut self, other: Spend) {
        fn sum<T: std::ops::Add<Output = T> + Default>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
            }
        }
        self.input_tokens = sum(self.input_tokens, other.input_tokens);
        self.output_tokens = sum(self.output_tokens, other.output_tokens);
        self.cost_usd = sum(self.cost_usd, other.cost_usd);
    }
}

/// One cached judge sample: a validated verdict, or the judge_error that malformed output
/// twice earned. Failed requests are never cached, so a later run asks again.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeSampleRow {
    pub judge: String,
    pub model: Option<String>,
    pub verdict_json: Option<String>,
    pub error: Option<String>,
    pub spend: Spend,
    pub requests: u32,
}

/// One request to a model provider, successful or not: what was spent is known per call.
#[derive(Debug, Clone, Default)]
pub struct JudgeCallRecord {
    pub judge: String,
    pub judge_version: String,
    pub patch_sha256: Option<String>,
    pub task_hash: Option<String>,
    pub sample: Option<u32>,
    /// verdict, repair or pairwise.
    pub purpose: String,
    /// HTTP status or the command's exit code.
    pub status: Option<i64>,
    pub error: Option<String>,
    pub spend: Spend,
    pub seconds: f64,
}

/// A judge's finding on one attempt (the latest one is shown with the attempt).
#[derive(Debug, Clone, Serialize)]
pub struct JudgementRow {
    pub judge: String,
    pub judge_version: String,
    pub model: Option<String>,
    /// ok or judge_error.
    pub status: String,
    /// merge, revise or reject; None with status judge_error.
    pub verdict: Option<String>,
    pub error: Option<String>,
    pub agreement: Option<f64>,
    pub samples: u32,
    pub injection_suspected: bool,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: Option<f64>,
    pub created_at: String,
    /// Scores, reasons, rationale, votes, each sample, injection findings.
    pub detail: serde_json::Value,
}

impl JudgementRow {
    /// A unanimous single-sample judgement with nothing spent and no detail: `ok` with its
    /// verdict, or `judge_error` without one. For generated stores and tests.
    pub fn single_sample(judge: &str, judge_version: &str, verdict: Option<&str>) -> JudgementRow {
        JudgementRow {
            judge: judge.into(),
            judge_version: judge_version.into(),
            model: None,
            status: if verdict.is_some() {
                "ok"
            } else {
                "judge_error"
            }
            .into(),
            verdict: verdict.map(str::to_string),
            error: None,
            agreement: Some(1.0),
            samples: 1,
            injection_suspected: false,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: None,
            created_at: String::new(),
            detail: serde_json::Value::Null,
        }
    }
}

/// One `tasks mine` run.
#[derive(Debug, Clone, Serialize)]
pub struct MineRun {
    pub id: String,
    pub repo: String,
    pub suite_dir: String,
    pub options: serde_json::Value,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub mergebench_version: String,
}

/// What became of one commit a mining run looked at: the last funnel stage it reached and,
/// when it stopped short of a written task, why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MineCommitRow {
    pub commit: String,
    pub subject: String,
    pub committed_at: String,
    /// A funnel stage name: scanned, candidate, patches_apply, environment_built,
    /// validated or written.
    pub reached: String,
    pub reason: Option<String>,
    pub task_id: Option<String>,
    /// What was left out or changed on the way (flaky tests, redacted identifiers).
    pub notes: Vec<String>,
    /// Why it was dropped, as the funnel groups it (`dependency not installed`).
    pub cause: Option<String>,
    /// What shows it: the build log's tail, or both streams' tails of the failing run.
    pub evidence: Option<Evidence>,
}

/// What shows why a candidate was dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// The last lines of the image build, when the build failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub build_log: String,
    /// The last part of each stream of the failing test run.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stdout: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
}

impl Evidence {
    pub fn is_empty(&self) -> bool {
        self.build_log.is_empty() && self.stdout.is_empty() && self.stderr.is_empty()
    }
}

/// One agent's attempts on one task of one evaluation, counted by the store (`GROUP BY`):
/// what the reports' per-task scores and per-agent figures are built from, so that no report
/// holds every attempt in memory. Attempts are grouped by task hash as well, so a task edited
/// between attempts gives one tally per version of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskTally {
    pub agent: String,
    pub task_id: String,
    pub task_hash: String,
    /// The highest attempt number (orders tallies as their attempts were ordered).
    pub last_attempt: u32,
    /// Every attempt, infra errors included.
    pub attempts: u64,
    /// Infra errors (and outcomes this version does not know): never counted against the
    /// agent.
    pub infra_errors: u64,
    pub resolved: u64,
    /// Mergeable when no judge has judged the evaluation: resolved, conventions not failed,
    /// no scope violation.
    pub mergeable_unjudged: u64,
    /// Mergeable when a judge has: the same, and the latest verdict is merge.
    pub mergeable_judged: u64,
    /// Scope violations over every attempt, infra errors included.
    pub scope_violations: u64,
    /// Of the counted attempts (no infra error): the conventions scorer's verdicts, and passes.
    pub conventions_scored: u64,
    pub conventions_passed: u64,
    /// Of the counted attempts: those with a judgement, those whose latest judgement has a
    /// verdict (not a judge_error), and those whose verdict is merge.
    pub judged: u64,
    pub verdicts: u64,
    pub judge_merges: u64,
    /// Every attempt with a judgement, infra errors included: whether a judge has judged the
    /// evaluation.
    pub judged_any: u64,
}

/// Counted attempts with a verdict, per agent, task hash and the judge version of their
/// latest judgement: which version judged most of an agent's attempts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VerdictCount {
    pub agent: String,
    pub task_hash: String,
    pub judge_version: String,
    pub verdicts: u64,
}

impl TaskTally {
    /// Attempts that count for or against the agent (not infra errors).
    pub fn counted(&self) -> u64 {
        self.attempts - self.infra_errors
    }

    /// Mergeable attempts, under whether a judge has judged the evaluation.
    pub fn mergeable(&self, judged: bool) -> u64 {
        if judged {
            self.mergeable_judged
        } else {
            self.mergeable_unjudged
        }
    }
}

/// The few columns of one attempt a report lists per attempt (the reported night's times,
/// costs, first patches and labeled patches), borrowed from the row being read.
#[derive(Debug, Clone, Copy)]
pub struct AttemptBrief<'a> {
    pub agent: &'a str,
    pub task_id: &'a str,
    pub task_hash: &'a str,
    pub attempt: u32,
    pub outcome: Outcome,
    pub patch_sha256: Option<&'a str>,
    pub raw_patch_sha256: Option<&'a str>,
    pub agent_seconds: Option<f64>,
    pub cost_usd: Option<f64>,
}
