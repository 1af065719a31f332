//! What a report is built from. The leaderboard reads the reported evaluation and the nights
//! before it as per (agent, task) tallies the store counts in SQL, and the reported night's
//! attempts a few columns at a time (times, costs, first patches, labeled patches), never
//! every attempt at once; the comparison, which lists one evaluation's tasks with their
//! patches, reads that evaluation's attempt rows. `load` and `load_night` are the only parts
//! of the report module that read the store.

use crate::error::Error;
use crate::score::outcome::Outcome;
use crate::store::{AttemptRow, Evaluation, Store, TaskTally, VerdictCount};
use std::collections::{BTreeMap, HashMap};

/// One evaluation counted per (agent, task): a point in the history.
#[derive(Debug, Clone)]
pub struct Night {
    pub evaluation: Evaluation,
    /// In the order of their attempts (agent, task id, attempt).
    pub tallies: Vec<TaskTally>,
    /// Which judge versions gave the verdicts, on the reported night only (the calibrated
    /// merge rate corrects with the version that judged most).
    pub verdicts: Vec<VerdictCount>,
    /// Whether a judge judged this evaluation (then mergeable needs a merge verdict). Fixed
    /// at load, so that filtering tasks out cannot change what mergeable means.
    pub judged: bool,
}

/// One evaluation with every attempt row: what the comparison lists.
#[derive(Debug, Clone)]
pub struct NightRows {
    pub evaluation: Evaluation,
    pub rows: Vec<AttemptRow>,
    /// As `Night::judged`.
    pub judged: bool,
}

/// The first attempt of one agent on one task: the first that is not an infra error, else the
/// first.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstAttempt {
    pub attempt: u32,
    pub outcome: Outcome,
    pub patch_sha256: Option<String>,
}

/// What the reported night's attempts say per agent beyond the tallies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentDetail {
    /// Agent seconds of the attempts that count (no infra error), in report order.
    pub seconds: Vec<f64>,
    /// The costs the agent reported on those attempts, summed in report order; None when none
    /// reported one.
    pub cost_usd: Option<f64>,
    /// Of those attempts, the ones whose proposed patch people labeled (dev split), and
    /// those people would merge.
    pub human_labels: usize,
    pub human_merges: usize,
    /// Each task's first attempt, by task id.
    pub first: HashMap<String, FirstAttempt>,
}

/// The reported night, attempt by attempt, kept only as the leaderboard shows it.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    /// Every agent with an attempt on a kept task, in name order.
    pub agents: BTreeMap<String, AgentDetail>,
}

#[derive(Debug, Clone, Default)]
pub struct ReportData {
    /// Oldest first; the last one is the evaluation being reported.
    pub nights: Vec<Night>,
    /// The reported night's attempts, as far as the leaderboard shows them.
    pub detail: Detail,
    /// When each task's fix landed, by task hash (absent: unknown).
    pub task_created: HashMap<String, String>,
    /// Patch texts by sha256 (lossy UTF-8): each task's first patch of each agent on the
    /// reported night.
    pub patches: BTreeMap<String, String>,
    /// Each task's declared cluster, by task hash (absent: the task is its own cluster).
    pub clusters: HashMap<String, String>,
}

impl ReportData {
    pub fn current(&self) -> Option<&Night> {
        self.nights.last()
    }
}

/// What the comparison is built from.
#[derive(Debug, Clone)]
pub struct NightData {
    pub night: NightRows,
    /// Patch texts by sha256, for the patches of the night (lossy UTF-8).
    pub patches: BTreeMap<String, String>,
    /// Each task's declared cluster, by task hash.
    pub clusters: HashMap<String, String>,
}

/// Whether a task counts under `--since` (YYYY-MM-DD): created after it, so an agent cannot
/// have seen it in training. A task with no recorded date does not, since nothing shows it is
/// new.
fn kept(created: &HashMap<String, String>, since: Option<&str>, task_hash: &str) -> bool {
    since.is_none_or(|since| created.get(task_hash).is_some_and(|d| d.as_str() > since))
}

/// Which evaluations a report covers.
#[derive(Debug, Clone, Default)]
pub struct Selection<'a> {
    /// The evaluation to report (default: the latest).
    pub eval: Option<&'a str>,
    /// How many nights of history, the reported one included.
    pub history: usize,
    /// Only evaluations that ran all of these agents (compare picks its evaluation this way).
    pub agents: &'a [String],
    /// Keep only attempts on tasks created after this date (YYYY-MM-DD).
    pub since: Option<&'a str>,
}

/// The reported evaluation and the `history - 1` evaluations of the same suite before it,
/// oldest first.
fn evaluations(store: &Store, sel: &Selection<'_>) -> Result<Vec<Evaluation>, Error> {
    let all = store.evaluations()?;
    let has_agents = |e: &Evaluation| sel.agents.iter().all(|a| e.agents.contains(a));
    let current = match sel.eval {
        Some(id) => all.iter().find(|e| e.id == id).cloned().ok_or_else(|| {
            Error::Usage(format!(
                "no evaluation `{id}` in {}",
                store.path().display()
            ))
        })?,
        None => all
            .iter()
            .rev()
            .find(|e| has_agents(e))
            .cloned()
            .ok_or_else(|| {
                Error::Usage(if sel.agents.is_empty() {
                    format!(
                        "no evaluation in {} yet: run `mergebench run` or `mergebench demo` first",
                        store.path().display()
                    )
                } else {
                    format!(
                        "no evaluation in {} ran {}",
                        store.path().display(),
                        sel.agents.join(" and ")
                    )
                })
            })?,
    };
    let pos = all.iter().position(|e| e.id == current.id).unwrap_or(0);
    let mut evals: Vec<Evaluation> = all[..pos]
        .iter()
        .filter(|e| e.suite == current.suite)
        .cloned()
        .collect();
    let keep = sel.history.max(1) - 1;
    if evals.len() > keep {
        evals.drain(..evals.len() - keep);
    }
    evals.push(current);
    Ok(evals)
}

/// The reported night beyond its tallies: which judge versions gave its verdicts, its
/// attempts a few columns at a time (`Detail`), and the first patch of each task and agent,
/// tasks before `since` left out.
#[allow(clippy::type_complexity)]
fn reported_night(
    store: &Store,
    eval_id: &str,
    since: Option<&str>,
    task_created: &HashMap<String, String>,
) -> Result<(Vec<VerdictCount>, Detail, BTreeMap<String, String>), Error> {
    let mut verdicts = store.verdict_counts(eval_id)?;
    verdicts.retain(|v| kept(task_created, since, &v.task_hash));
    let human = human_verdicts(store.dev_labels()?);
    // By task hash, then patch: whether people would merge it.
    let mut labeled: HashMap<&str, HashMap<&str, bool>> = HashMap::new();
    for ((task, patch), verdict) in &human {
        labeled
            .entry(task.as_str())
            .or_default()
            .insert(patch.as_str(), verdict == "merge");
    }
    let mut detail = Detail::default();
    store.each_attempt_brief(eval_id, |a| {
        if !kept(task_created, since, a.task_hash) {
            return;
        }
        if !detail.agents.contains_key(a.agent) {
            detail
                .agents
                .insert(a.agent.to_string(), AgentDetail::default());
        }
        let Some(d) = detail.agents.get_mut(a.agent) else {
            return;
        };
        let counted = a.outcome != Outcome::InfraError;
        let first = || FirstAttempt {
            attempt: a.attempt,
            outcome: a.outcome,
            patch_sha256: a.patch_sha256.map(str::to_string),
        };
        match d.first.get_mut(a.task_id) {
            // Attempts come in order: the first that counts replaces an infra error.
            Some(f) if f.outcome == Outcome::InfraError && counted => *f = first(),
            Some(_) => {}
            None => {
                d.first.insert(a.task_id.to_string(), first());
            }
        }
        if !counted {
            return;
        }
        if let Some(s) = a.agent_seconds {
            d.seconds.push(s);
        }
        if let Some(c) = a.cost_usd {
            d.cost_usd = Some(d.cost_usd.unwrap_or(0.0) + c);
        }
        // Reviewers label the patch the agent proposed (the raw patch).
        let merge = a
            .raw_patch_sha256
            .and_then(|raw| labeled.get(a.task_hash)?.get(raw));
        if let Some(merge) = merge {
            d.human_labels += 1;
            d.human_merges += *merge as usize;
        }
    })?;
    let patches = store.patch_texts(
        detail
            .agents
            .values()
            .flat_map(|d| d.first.values())
            .filter_map(|f| f.patch_sha256.as_deref()),
    )?;
    Ok((verdicts, detail, patches))
}

/// Reads what the leaderboard shows: the selected nights as tallies counted by the store
/// (tasks before `since` left out), the reported night's attempts a few columns at a time,
/// the first patch of each task and agent, task dates and declared clusters.
pub fn load(store: &Store, sel: &Selection<'_>) -> Result<ReportData, Error> {
    let evals = evaluations(store, sel)?;
    let ids: Vec<String> = evals.iter().map(|e| e.id.clone()).collect();
    let task_created = store.task_created_dates()?;
    // The reported night's own reads go through the store's connection while other threads
    // count the tallies on theirs.
    let (tallies, reported) = std::thread::scope(|scope| {
        let counting = scope.spawn(|| store.task_tallies(&ids));
        let reported = match ids.last() {
            Some(id) => reported_night(store, id, sel.since, &task_created).map(Some),
            None => Ok(None),
        };
        let tallies = counting
            .join()
            // A counter that panicked is passed on as the panic it was.
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (tallies, reported)
    });
    let (verdicts, detail, patches) = reported?.unwrap_or_default();
    let mut nights: Vec<Night> = evals
        .into_iter()
        .zip(tallies?)
        .map(|(evaluation, mut tallies)| {
            let judged = tallies.iter().any(|t| t.judged_any > 0);
            if sel.since.is_some() {
                tallies.retain(|t| kept(&task_created, sel.since, &t.task_hash));
            }
            Night {
                evaluation,
                tallies,
                verdicts: Vec::new(),
                judged,
            }
        })
        .collect();
    if let Some(n) = nights.last_mut() {
        n.verdicts = verdicts;
    }
    Ok(ReportData {
        nights,
        detail,
        task_created,
        patches,
        clusters: store.task_clusters()?,
    })
}

/// Reads one evaluation (as `sel` picks it, without history) with every attempt row, the
/// patches of those attempts and the declared clusters: what the comparison lists.
pub fn load_night(store: &Store, sel: &Selection<'_>) -> Result<NightData, Error> {
    let evaluation = evaluations(
        store,
        &Selection {
            history: 1,
            ..sel.clone()
        },
    )?
    .pop()
    .ok_or_else(|| Error::infra("no evaluation selected"))?;
    let rows = store
        .attempts_for_reports(std::slice::from_ref(&evaluation.id))?
        .pop()
        .unwrap_or_default();
    let mut patches = BTreeMap::new();
    for r in &rows {
        if let Some(sha) = &r.patch_sha256 {
            if !patches.contains_key(sha) {
                if let Some(bytes) = store.patch(sha)? {
                    patches.insert(sha.clone(), String::from_utf8_lossy(&bytes).into_owned());
                }
            }
        }
    }
    Ok(NightData {
        night: NightRows {
            evaluation,
            judged: crate::score::merge::judged(&rows),
            rows,
        },
        patches,
        clusters: store.task_clusters()?,
    })
}

/// Majority of each reviewer's latest verdict per item; a tie goes to the more cautious one.
pub fn human_verdicts(labels: Vec<crate::store::LabelRecord>) -> HashMap<(String, String), String> {
    let mut latest: HashMap<(String, String, String), (i64, String)> = HashMap::new();
    for l in labels {
        let key = (l.line.task_hash, l.line.patch_sha256, l.line.reviewer);
        if latest.get(&key).is_none_or(|(id, _)| *id < l.id) {
            latest.insert(key, (l.id, l.line.body.verdict));
        }
    }
    let mut votes: HashMap<(String, String), [u32; 3]> = HashMap::new();
    for ((task, patch, _), (_, verdict)) in latest {
        let slot = match verdict.as_str() {
            "merge" => 0,
            "revise" => 1,
            _ => 2,
        };
        votes.entry((task, patch)).or_default()[slot] += 1;
    }
    votes
        .into_iter()
        .map(|(k, v)| {
            // `v` is an array of three counts, so it has a largest.
            let best = v.iter().copied().max().unwrap_or_default();
            // Most cautious among the most voted: reject, then revise, then merge.
            let verdict = if v[2] == best {
                "reject"
            } else if v[1] == best {
                "revise"
            } else {
                "merge"
            };
            (k, verdict.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(id: i64, patch: &str, reviewer: &str, verdict: &str) -> crate::store::LabelRecord {
        crate::store::LabelRecord {
            id,
            line: crate::store::LabelLine {
                task_id: "t".into(),
                task_hash: "th".into(),
                patch_sha256: patch.into(),
                reviewer: reviewer.into(),
                body: crate::store::LabelBody {
                    verdict: verdict.into(),
                    reasons: vec![],
                    comment: String::new(),
                    seconds: None,
                    rubric_version: "r".into(),
                },
                created_at: String::new(),
            },
            source: "test".into(),
        }
    }

    #[test]
    fn human_verdicts_take_each_reviewers_latest_then_the_majority() {
        let h = human_verdicts(vec![
            // p1: ana changed her mind to merge; ben and cy merge too.
            label(1, "p1", "ana", "reject"),
            label(2, "p1", "ben", "merge"),
            label(3, "p1", "ana", "merge"),
            label(4, "p1", "cy", "merge"),
            // p2: a tie between merge and revise goes to the more cautious one.
            label(5, "p2", "ana", "merge"),
            label(6, "p2", "ben", "revise"),
        ]);
        assert_eq!(h[&("th".to_string(), "p1".to_string())], "merge");
        assert_eq!(h[&("th".to_string(), "p2".to_string())], "revise");
        assert_eq!(h.len(), 2);
    }
}
