//! What reports read from a large store without reading every attempt: per (evaluation,
//! agent, task) counts computed by SQLite (`GROUP BY`), and the reported night's attempts
//! streamed a few columns at a time.

use super::model::{counted_cost, AttemptBrief, MeasuredUsage, TaskTally, Usage, VerdictCount};
use super::Store;
use crate::error::Error;
use crate::score::outcome::{Flags, Outcome};
use rusqlite::Connection;

/// Each attempt row carries what mergeability reads from it as counters the tallies add up,
/// three to a column, `FIELD` bits each, so one `SUM` counts three facts: `tally_outcome` is
/// counted (not an infra error) + resolved · 2^21 + mergeable without a judge · 2^42, and
/// `tally_review` is scope violation + conventions scored · 2^21 + conventions passed · 2^42
/// (the last two of counted attempts only). A tally of 2^21 attempts or more would carry
/// into the next counter; it is refused instead.
const FIELD: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD) - 1;

fn pack(a: bool, b: bool, c: bool) -> i64 {
    a as i64 | (b as i64) << FIELD | (c as i64) << (2 * FIELD)
}

/// `tally_outcome` and `tally_review` for one attempt, by `score::merge`'s rules (conventions
/// passed: the conventions JSON's `passed`, when it is a boolean).
pub(super) fn tally_columns(
    outcome: Outcome,
    flags: &Flags,
    conventions_json: Option<&str>,
) -> (i64, i64) {
    let passed = conventions_json
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|c| c["passed"].as_bool());
    let counted = outcome != Outcome::InfraError;
    let resolved = outcome == Outcome::Resolved;
    (
        pack(
            counted,
            resolved,
            resolved && passed != Some(false) && !flags.scope_violation,
        ),
        pack(
            flags.scope_violation,
            counted && passed.is_some(),
            counted && passed == Some(true),
        ),
    )
}

/// The latest judgement `j` of attempt `a`: the latest by time, then by row, as
/// `Store::attempts` shows it.
const LATEST_JUDGEMENT: &str = "judgements j ON j.attempt_id = a.id AND NOT EXISTS (
        SELECT 1 FROM judgements k
        WHERE k.attempt_id = a.id AND (k.created_at, k.rowid) > (j.created_at, j.rowid))";

/// Per (agent, task, hash): attempts, the two packed sums, the judge sum over every attempt
/// (judged + mergeable with a judge · 2^21), and over counted attempts (judged + verdict ·
/// 2^21 + merge verdict · 2^42).
fn tally_sql() -> String {
    let has = "(j.attempt_id IS NOT NULL)";
    let verdict = "(j.verdict IS NOT NULL)";
    let merge = "(j.verdict IS 'merge')";
    format!(
        "SELECT a.agent, a.task_id, a.task_hash, MAX(a.attempt), COUNT(*),
            SUM(a.tally_outcome), SUM(a.tally_review),
            SUM({has} + ((((a.tally_outcome >> {two}) & 1) * {merge}) << {one})),
            SUM((a.tally_outcome & 1) * ({has} + ({verdict} << {one}) + ({merge} << {two})))
        FROM attempts a LEFT JOIN {LATEST_JUDGEMENT}
        WHERE a.eval_id = ?1
        GROUP BY a.agent, a.task_id, a.task_hash
        ORDER BY a.agent, a.task_id, MAX(a.attempt), a.task_hash",
        one = FIELD,
        two = 2 * FIELD,
    )
}

fn tally_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TaskTally> {
    let attempts: u64 = r.get(4)?;
    if attempts > FIELD_MASK {
        return Err(rusqlite::Error::IntegralValueOutOfRange(4, attempts as i64));
    }
    let field = |i: usize, k: u32| -> rusqlite::Result<u64> {
        Ok((r.get::<_, i64>(i)? as u64 >> (k * FIELD)) & FIELD_MASK)
    };
    let counted = field(5, 0)?;
    Ok(TaskTally {
        agent: r.get(0)?,
        task_id: r.get(1)?,
        task_hash: r.get(2)?,
        last_attempt: r.get(3)?,
        attempts,
        infra_errors: attempts - counted,
        resolved: field(5, 1)?,
        mergeable_unjudged: field(5, 2)?,
        scope_violations: field(6, 0)?,
        conventions_scored: field(6, 1)?,
        conventions_passed: field(6, 2)?,
        judged_any: field(7, 0)?,
        mergeable_judged: field(7, 1)?,
        judged: field(8, 0)?,
        verdicts: field(8, 1)?,
        judge_merges: field(8, 2)?,
    })
}

fn verdict_sql() -> String {
    format!(
        "SELECT a.agent, a.task_hash, j.judge_version, COUNT(*)
        FROM attempts a JOIN {LATEST_JUDGEMENT}
        WHERE a.eval_id = ?1 AND a.tally_outcome & 1 AND j.verdict IS NOT NULL
        GROUP BY a.agent, a.task_hash, j.judge_version
        ORDER BY a.agent, a.task_hash, j.judge_version"
    )
}

const BRIEF_SQL: &str = "SELECT agent, task_id, task_hash, attempt, outcome, patch_sha256,
        raw_patch_sha256, agent_seconds, usage_json, measured_json
    FROM attempts WHERE eval_id = ?1 ORDER BY agent, task_id, attempt";

fn conversion(i: usize, e: rusqlite::types::FromSqlError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

impl Store {
    /// Each evaluation's tallies, one per (agent, task id, task hash), in the order of their
    /// attempts (agent, task id, attempt). Evaluations are counted in parallel.
    pub fn task_tallies(&self, eval_ids: &[String]) -> Result<Vec<Vec<TaskTally>>, Error> {
        let sql = tally_sql();
        self.per_evaluation(eval_ids, |c: &Connection, id: &str| {
            c.prepare_cached(&sql)?
                .query_map([id], tally_from_row)?
                .collect()
        })
    }

    /// An evaluation's counted attempts with a verdict, per agent, task hash and judge version.
    pub fn verdict_counts(&self, eval_id: &str) -> Result<Vec<VerdictCount>, Error> {
        self.with(|c| {
            c.prepare_cached(&verdict_sql())?
                .query_map([eval_id], |r| {
                    Ok(VerdictCount {
                        agent: r.get(0)?,
                        task_hash: r.get(1)?,
                        judge_version: r.get(2)?,
                        verdicts: r.get(3)?,
                    })
                })?
                .collect()
        })
    }

    /// Every attempt of an evaluation in report order (agent, task id, attempt), a few
    /// columns at a time: `each` sees one attempt and keeps what it needs.
    pub fn each_attempt_brief(
        &self,
        eval_id: &str,
        mut each: impl FnMut(AttemptBrief<'_>),
    ) -> Result<(), Error> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(BRIEF_SQL)?;
            let mut rows = stmt.query([eval_id])?;
            while let Some(r) = rows.next()? {
                let text = |i: usize| r.get_ref(i)?.as_str().map_err(|e| conversion(i, e));
                let opt_text =
                    |i: usize| r.get_ref(i)?.as_str_or_null().map_err(|e| conversion(i, e));
                each(AttemptBrief {
                    agent: text(0)?,
                    task_id: text(1)?,
                    task_hash: text(2)?,
                    attempt: r.get(3)?,
                    outcome: Outcome::parse(text(4)?).unwrap_or(Outcome::InfraError),
                    patch_sha256: opt_text(5)?,
                    raw_patch_sha256: opt_text(6)?,
                    agent_seconds: r.get(7)?,
                    // As `AttemptRow::cost_usd` reads it: from the JSON, not the `cost_usd`
                    // column, whose float serde_json may read back a last bit apart.
                    cost_usd: counted_cost(
                        opt_text(8)?
                            .and_then(|u| serde_json::from_str::<Usage>(u).ok())
                            .as_ref(),
                        opt_text(9)?
                            .and_then(|m| serde_json::from_str::<MeasuredUsage>(m).ok())
                            .as_ref(),
                    ),
                });
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::attempt;
    use super::*;
    use crate::score::merge::{conventions_passed, judged, mergeable};
    use crate::store::{JudgementRow, NewEvaluation};
    use std::collections::BTreeMap;

    /// The tallies SQLite counts are what the rows say under `score::merge`'s rules, for every
    /// mix of outcome, conventions, scope, judgement (none, a verdict, a judge_error, a later
    /// one by another version) and infra error.
    #[test]
    fn tallies_count_what_the_rows_say() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("t.db")).unwrap();
        let e = store
            .open_evaluation(
                NewEvaluation {
                    key: "k".into(),
                    suite: "s".into(),
                    suite_dir: "s".into(),
                    agents: vec!["a".into(), "b".into()],
                    attempts: 4,
                    label: None,
                    shard: None,
                    manifest: None,
                },
                true,
            )
            .unwrap();
        let outcomes = [
            Outcome::Resolved,
            Outcome::Unresolved,
            Outcome::Resolved,
            Outcome::InfraError,
            Outcome::EmptyPatch,
            Outcome::Resolved,
            Outcome::AgentTimeout,
        ];
        let conventions = [
            None,
            Some(r#"{"passed":true,"tier":"low","errors":0}"#),
            Some(r#"{"passed":false,"tier":"high","errors":2}"#),
            Some(r#"{"tier":"low"}"#),
            Some("not json"),
        ];
        let mut batch = Vec::new();
        let mut i = 0usize;
        for agent in ["a", "b"] {
            for task in ["t1", "t2", "t3"] {
                for n in 1..=4 {
                    let mut a = attempt(&e.id, n);
                    a.key.agent = agent.into();
                    a.key.task_id = task.into();
                    // t3's hash changed between attempts.
                    a.key.task_hash = format!("{task}-{}", if task == "t3" { n % 2 } else { 0 });
                    a.run.outcome = outcomes[i % outcomes.len()];
                    a.conventions_json =
                        conventions[(i / 2) % conventions.len()].map(str::to_string);
                    a.run.flags.scope_violation = i.is_multiple_of(5);
                    a.run.usage = Some(Usage {
                        cost_usd: (!i.is_multiple_of(3)).then_some(0.1 * i as f64),
                        ..Default::default()
                    });
                    batch.push(a);
                    i += 1;
                }
            }
        }
        let ids = store.record_attempts(&batch).unwrap();
        for (k, id) in ids.iter().enumerate() {
            let verdict = ["merge", "revise", "merge", "reject"][k % 4];
            match k % 6 {
                0 => continue,
                1 => store
                    .save_judgement(*id, &JudgementRow::single_sample("j", "v1", None))
                    .unwrap(),
                2 => {
                    store
                        .save_judgement(*id, &JudgementRow::single_sample("j", "v1", Some("merge")))
                        .unwrap();
                    store
                        .save_judgement(
                            *id,
                            &JudgementRow::single_sample("j", "v2", Some("revise")),
                        )
                        .unwrap();
                }
                _ => store
                    .save_judgement(*id, &JudgementRow::single_sample("j", "v1", Some(verdict)))
                    .unwrap(),
            }
        }
        let rows = store.attempts(&e.id).unwrap();
        let judged_eval = judged(&rows);
        assert!(judged_eval);
        let mut want: BTreeMap<(String, String, String), TaskTally> = BTreeMap::new();
        let mut versions: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for r in &rows {
            let t = want
                .entry((
                    r.key.agent.clone(),
                    r.key.task_id.clone(),
                    r.key.task_hash.clone(),
                ))
                .or_insert_with(|| TaskTally {
                    agent: r.key.agent.clone(),
                    task_id: r.key.task_id.clone(),
                    task_hash: r.key.task_hash.clone(),
                    ..Default::default()
                });
            let counted = r.run.outcome != Outcome::InfraError;
            let verdict = r.judge.as_ref().and_then(|j| j.verdict.as_deref());
            t.last_attempt = t.last_attempt.max(r.key.attempt);
            t.attempts += 1;
            t.infra_errors += !counted as u64;
            t.resolved += (r.run.outcome == Outcome::Resolved) as u64;
            t.mergeable_unjudged += mergeable(r, false) as u64;
            t.mergeable_judged += mergeable(r, true) as u64;
            t.scope_violations += r.run.flags.scope_violation as u64;
            t.conventions_scored += (counted && conventions_passed(r).is_some()) as u64;
            t.conventions_passed += (counted && conventions_passed(r) == Some(true)) as u64;
            t.judged += (counted && r.judge.is_some()) as u64;
            t.verdicts += (counted && verdict.is_some()) as u64;
            t.judge_merges += (counted && verdict == Some("merge")) as u64;
            t.judged_any += r.judge.is_some() as u64;
            if let (true, Some(j), Some(_)) = (counted, &r.judge, verdict) {
                *versions
                    .entry((
                        r.key.agent.clone(),
                        r.key.task_hash.clone(),
                        j.judge_version.clone(),
                    ))
                    .or_default() += 1;
            }
        }
        let key = |t: &TaskTally| (t.agent.clone(), t.task_id.clone(), t.task_hash.clone());
        let mut got = store
            .task_tallies(std::slice::from_ref(&e.id))
            .unwrap()
            .remove(0);
        // In the order of the attempts.
        let order: Vec<(String, String, u32)> = got
            .iter()
            .map(|t| (t.agent.clone(), t.task_id.clone(), t.last_attempt))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        got.sort_by_key(key);
        let want: Vec<TaskTally> = want.into_values().collect();
        assert_eq!(got, want);
        assert!(
            versions.keys().any(|(_, _, v)| v == "v2"),
            "a later version counts"
        );
        let counts: Vec<VerdictCount> = versions
            .into_iter()
            .map(
                |((agent, task_hash, judge_version), verdicts)| VerdictCount {
                    agent,
                    task_hash,
                    judge_version,
                    verdicts,
                },
            )
            .collect();
        assert_eq!(store.verdict_counts(&e.id).unwrap(), counts);

        // A store from before the columns existed gets them filled from the JSON alike.
        store
            .with(|c| {
                c.execute_batch("UPDATE attempts SET tally_outcome = 0, tally_review = 0")?;
                let fill = super::super::migrations::MIGRATIONS[10]
                    .split(';')
                    .find(|s| s.trim_start().starts_with("UPDATE"))
                    .unwrap();
                c.execute_batch(fill)
            })
            .unwrap();
        let mut again = store
            .task_tallies(std::slice::from_ref(&e.id))
            .unwrap()
            .remove(0);
        again.sort_by_key(key);
        assert_eq!(again, want);

        // The brief rows are the rows, in the same order.
        let mut briefs = Vec::new();
        store
            .each_attempt_brief(&e.id, |a| {
                briefs.push((
                    a.agent.to_string(),
                    a.task_id.to_string(),
                    a.attempt,
                    a.outcome,
                    a.patch_sha256.map(str::to_string),
                    a.cost_usd,
                ))
            })
            .unwrap();
        let full: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.key.agent.clone(),
                    r.key.task_id.clone(),
                    r.key.attempt,
                    r.run.outcome,
                    r.patch_sha256.clone(),
                    r.cost_usd(),
                )
            })
            .collect();
        assert_eq!(briefs, full);
    }
}
