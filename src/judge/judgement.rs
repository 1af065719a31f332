//! A judge's finding on one patch: the aggregated verdict of its samples, or a judge_error,
//! with the injection findings beside it and what it cost. This is what is stored per attempt.

use super::aggregate::aggregate;
use super::injection::Finding;
use super::verdict::{Decision, Verdict};
use crate::store::{JudgementRow, Spend};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One sample as it ended up: a verdict, or why there is none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleSummary {
    pub sample: u32,
    pub verdict: Option<Verdict>,
    pub error: Option<String>,
    /// Read from the cache: no request was made for it in this run.
    pub cached: bool,
    pub requests: u32,
    #[serde(flatten)]
    pub spend: Spend,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Judgement {
    pub judge: String,
    pub judge_version: String,
    pub model: String,
    /// None: a judge_error (see `error`).
    pub verdict: Option<Decision>,
    pub agreement: Option<f64>,
    pub votes: BTreeMap<Decision, usize>,
    pub scores: BTreeMap<String, f64>,
    pub reasons: Vec<String>,
    pub rationale: String,
    pub error: Option<String>,
    pub samples: Vec<SampleSummary>,
    pub injection: Vec<Finding>,
    pub injection_suspected: bool,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// None when neither the provider nor the judge's price table gives a cost.
    pub cost_usd: Option<f64>,
    /// Requests this run made for it; 0 means every sample came from the cache.
    pub requests: u64,
}

impl Judgement {
    /// Combines the samples. `failure` is a request that failed for good in this run: then
    /// there is no verdict, whatever the other samples said, and nothing guessed.
    pub fn new(
        judge: &str,
        judge_version: &str,
        model: &str,
        samples: Vec<SampleSummary>,
        failure: Option<String>,
        injection: Vec<Finding>,
    ) -> Judgement {
        let votes: Vec<(u32, Option<&Verdict>)> = samples
            .iter()
            .map(|s| (s.sample, s.verdict.as_ref()))
            .collect();
        let agg = aggregate(&votes);
        let rep = agg
            .representative
            .and_then(|n| samples.iter().find(|s| s.sample == n))
            .and_then(|s| s.verdict.as_ref());
        let error = match (&failure, agg.verdict) {
            (Some(f), _) => Some(f.clone()),
            (None, None) => Some(
                samples
                    .iter()
                    .find_map(|s| s.error.clone())
                    .unwrap_or_else(|| "no sample gave a verdict".into()),
            ),
            (None, Some(_)) => None,
        };
        let costs: Vec<f64> = samples.iter().filter_map(|s| s.spend.cost_usd).collect();
        Judgement {
            judge: judge.into(),
            judge_version: judge_version.into(),
            model: model.into(),
            verdict: if failure.is_some() { None } else { agg.verdict },
            agreement: if failure.is_some() {
                None
            } else {
                agg.agreement
            },
            votes: agg.votes,
            scores: agg.scores,
            reasons: rep.map(|v| v.reasons.clone()).unwrap_or_default(),
            rationale: rep.map(|v| v.rationale.clone()).unwrap_or_default(),
            error,
            injection_suspected: !injection.is_empty(),
            injection,
            input_tokens: samples.iter().filter_map(|s| s.spend.input_tokens).sum(),
            output_tokens: samples.iter().filter_map(|s| s.spend.output_tokens).sum(),
            cost_usd: (!costs.is_empty()).then(|| costs.iter().sum()),
            requests: samples
                .iter()
                .filter(|s| !s.cached)
                .map(|s| s.requests as u64)
                .sum(),
            samples,
        }
    }

    /// `merge`, `revise`, `reject` or `judge_error`.
    pub fn label(&self) -> &'static str {
        self.verdict.map(Decision::as_str).unwrap_or("judge_error")
    }

    pub fn to_row(&self) -> JudgementRow {
        JudgementRow {
            judge: self.judge.clone(),
            judge_version: self.judge_version.clone(),
            model: Some(self.model.clone()),
            status: if self.verdict.is_some() {
                "ok"
            } else {
                "judge_error"
            }
            .into(),
            verdict: self.verdict.map(|d| d.as_str().to_string()),
            error: self.error.clone(),
            agreement: self.agreement,
            samples: self.samples.len() as u32,
            injection_suspected: self.injection_suspected,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cost_usd: self.cost_usd,
            created_at: String::new(),
            // cannot fail: a judgement is plain structs with string keys.
            detail: serde_json::to_value(self).expect("serializable"),
        }
    }
}
