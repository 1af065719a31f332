//! Joining stores: the evaluations that shards ran on several machines (`run --shard I/N`)
//! become one evaluation in one store, with their attempts, patches, logs, artifacts,
//! grades, conventions, judge samples, calls and judgements.
//!
//! The rules:
//! - Everything happens in one transaction: a refused or failed merge writes nothing.
//! - Merging again changes nothing: a shard evaluation already joined is skipped, rows keyed
//!   by content are inserted only when missing, and an attempt already present is kept.
//! - Shards join only when they agree: the same suite, task hashes, agent hashes, attempts
//!   and mergebench version. Otherwise the merge is refused, naming what differs.
//! - Labels are not copied. A label belongs to the store where its reviewer gave it, behind
//!   that store's holdout split; copying it would put an item on both sides of two walls.

use super::{migrations, now, Store};
use crate::error::Error;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// What one `merge` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct MergeSummary {
    /// One line per source evaluation: what it joined and how many attempts it brought.
    pub evaluations: Vec<MergedEvaluation>,
    pub attempts_copied: usize,
    pub attempts_present: usize,
    /// Labels in the sources, which are never copied.
    pub labels_left: usize,
}

#[derive(Debug, serde::Serialize)]
pub struct MergedEvaluation {
    pub store: PathBuf,
    pub source: String,
    pub shard: Option<String>,
    pub into: String,
    /// False when this evaluation had been merged before (nothing was copied).
    pub copied: bool,
    /// True once every shard of `into` is there and each had finished.
    pub complete: bool,
}

/// A source evaluation as read from its store.
#[derive(Debug, Clone)]
pub struct SourceEval {
    id: String,
    key: String,
    suite: String,
    suite_dir: String,
    agents_json: String,
    attempts: u32,
    created_at: String,
    finished_at: Option<String>,
    version: String,
    label: Option<String>,
    shard: Option<String>,
    manifest: Option<String>,
}

const EVAL_COLUMNS: &str = "id, key, suite, suite_dir, agents_json, attempts, created_at, finished_at, mergebench_version, label, shard, manifest_json";

fn read_eval(r: &rusqlite::Row) -> rusqlite::Result<SourceEval> {
    Ok(SourceEval {
        id: r.get(0)?,
        key: r.get(1)?,
        suite: r.get(2)?,
        suite_dir: r.get(3)?,
        agents_json: r.get(4)?,
        attempts: r.get(5)?,
        created_at: r.get(6)?,
        finished_at: r.get(7)?,
        version: r.get(8)?,
        label: r.get(9)?,
        shard: r.get(10)?,
        manifest: r.get(11)?,
    })
}

/// `I/N` → N.
fn shard_count(shard: &str) -> Option<u32> {
    shard.split_once('/').and_then(|(_, n)| n.parse().ok())
}

/// Where two evaluations that should agree do not, in words: the suite, each task or agent
/// whose hash differs, the attempts, the mergebench version.
fn disagreement(a: &SourceEval, b: &SourceEval) -> Option<String> {
    if a.suite != b.suite {
        return Some(format!("suite `{}` vs `{}`", a.suite, b.suite));
    }
    if a.version != b.version {
        return Some(format!(
            "mergebench {} vs mergebench {}",
            a.version, b.version
        ));
    }
    if a.key == b.key {
        return None;
    }
    let parse = |m: &Option<String>| -> serde_json::Value {
        m.as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let (ma, mb) = (parse(&a.manifest), parse(&b.manifest));
    let mut diffs = Vec::new();
    for (what, field) in [("task", "tasks"), ("agent", "agents")] {
        let empty = serde_json::Map::new();
        let xa = ma[field].as_object().unwrap_or(&empty);
        let xb = mb[field].as_object().unwrap_or(&empty);
        let mut names: Vec<&String> = xa.keys().chain(xb.keys()).collect();
        names.sort();
        names.dedup();
        for n in names {
            let short = |v: Option<&serde_json::Value>| {
                v.and_then(|v| v.as_str())
                    .map(|h| h.chars().take(12).collect::<String>())
                    .unwrap_or_else(|| "absent".into())
            };
            let (ha, hb) = (short(xa.get(n)), short(xb.get(n)));
            if ha != hb {
                diffs.push(format!("{what} `{n}` is {ha} in one and {hb} in the other"));
            }
        }
    }
    if a.attempts != b.attempts {
        diffs.push(format!("{} vs {} attempts", a.attempts, b.attempts));
    }
    if diffs.is_empty() {
        diffs.push("the evaluation keys differ".into());
    }
    Some(diffs.join("; "))
}

/// The source stores of a merge, read and checked before anything is written: each is a
/// mergebench store at this schema, none is the target, and their shards agree.
pub struct Sources(Vec<(PathBuf, Vec<SourceEval>)>);

impl Sources {
    pub fn read(sources: &[PathBuf], into: &Path) -> Result<Sources, Error> {
        let me = std::fs::canonicalize(into).ok();
        let mut read = Vec::new();
        for path in sources {
            if me.is_some() && std::fs::canonicalize(path).ok() == me {
                return Err(Error::Usage(format!(
                    "{} is both a source and --into: name each store once",
                    path.display()
                )));
            }
            read.push((path.clone(), read_source(path)?));
        }
        check_agreement(&read)?;
        Ok(Sources(read))
    }
}

impl Store {
    /// Joins every evaluation of `sources` into this store (see the module's rules).
    pub fn merge_from(&self, sources: &[PathBuf]) -> Result<MergeSummary, Error> {
        self.merge_sources(Sources::read(sources, self.path())?)
    }

    /// Joins sources already read and checked.
    pub fn merge_sources(&self, sources: Sources) -> Result<MergeSummary, Error> {
        let read = sources.0;
        let mut summary = MergeSummary::default();
        self.with(|c| {
            for (i, (path, _)) in read.iter().enumerate() {
                c.execute(
                    "ATTACH DATABASE ?1 AS ?2",
                    params![path.display().to_string(), format!("src{i}")],
                )?;
            }
            let result = (|| {
                let tx = c.transaction()?;
                for (i, (path, evals)) in read.iter().enumerate() {
                    let db = format!("src{i}");
                    copy_keyed_rows(&tx, &db)?;
                    summary.labels_left +=
                        tx.query_row(&format!("SELECT COUNT(*) FROM {db}.labels"), [], |r| {
                            r.get::<_, i64>(0)
                        })? as usize;
                    for ev in evals {
                        let m = merge_evaluation(&tx, &db, path, ev, &mut summary)?;
                        summary.evaluations.push(m);
                    }
                }
                tx.commit()
            })();
            for i in 0..read.len() {
                c.execute("DETACH DATABASE ?1", [format!("src{i}")])?;
            }
            result
        })?;
        // A merged evaluation is complete once all its shards are in; say so per evaluation
        // (a later shard in the same merge completes an earlier line's target too).
        let complete: HashMap<String, bool> = self.with(|c| {
            let mut out = HashMap::new();
            for m in &summary.evaluations {
                let done: Option<String> = c
                    .query_row(
                        "SELECT finished_at FROM evaluations WHERE id = ?1",
                        [&m.into],
                        |r| r.get(0),
                    )
                    .optional()?
                    .flatten();
                out.insert(m.into.clone(), done.is_some());
            }
            Ok(out)
        })?;
        for m in &mut summary.evaluations {
            m.complete = complete.get(&m.into).copied().unwrap_or(false);
        }
        Ok(summary)
    }
}

/// A source store's evaluations, read without writing to it. It must be at this
/// mergebench's schema.
fn read_source(path: &Path) -> Result<Vec<SourceEval>, Error> {
    if !path.is_file() {
        return Err(Error::input(
            path,
            None,
            format!("no database at {}", path.display()),
            "name the store each shard wrote (its --db)",
        ));
    }
    let wrap = |source| Error::Store {
        path: path.to_path_buf(),
        source,
    };
    let c = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(wrap)?;
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| {
            Error::input(
                path,
                None,
                format!("{} is not a mergebench store ({e})", path.display()),
                "name the store each shard wrote (its --db)",
            )
        })?;
    let latest = migrations::MIGRATIONS.len() as i64;
    if version != latest {
        return Err(Error::input(
            path,
            None,
            format!(
                "{} has schema version {version}; this mergebench {} merges stores at version {latest}",
                path.display(),
                crate::VERSION
            ),
            if version < latest {
                format!(
                    "open it once with this mergebench to upgrade it (`mergebench results --db {}`), then merge",
                    path.display()
                )
            } else {
                "merge with the mergebench that wrote it (or a newer one)".to_string()
            },
        ));
    }
    let mut stmt = c
        .prepare(&format!(
            "SELECT {EVAL_COLUMNS} FROM evaluations ORDER BY created_at, rowid"
        ))
        .map_err(wrap)?;
    let evals = stmt
        .query_map([], read_eval)
        .map_err(wrap)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(wrap)?;
    Ok(evals)
}

/// Shards of one evaluation (same suite, same number of shards) must agree on everything
/// the evaluation key covers, and on the mergebench version that graded them.
fn check_agreement(read: &[(PathBuf, Vec<SourceEval>)]) -> Result<(), Error> {
    let mut first: BTreeMap<(String, u32), (&Path, &SourceEval)> = BTreeMap::new();
    for (path, evals) in read {
        for ev in evals {
            let Some(n) = ev.shard.as_deref().and_then(shard_count) else {
                continue;
            };
            if ev.finished_at.is_none() {
                return Err(Error::Usage(format!(
                    "{}: evaluation {} (shard {}) has not finished: run the same `run --shard` \
                     command against that store again (it resumes), then merge",
                    path.display(),
                    ev.id,
                    ev.shard.as_deref().unwrap_or("-"),
                )));
            }
            match first.get(&(ev.suite.clone(), n)) {
                None => {
                    first.insert((ev.suite.clone(), n), (path, ev));
                }
                Some((p0, e0)) => {
                    if let Some(why) = disagreement(e0, ev) {
                        return Err(Error::Usage(format!(
                            "shards of suite `{}` disagree: {} (evaluation {}, shard {}) and {} \
                             (evaluation {}, shard {}): {why}. Run every shard from the same suite \
                             checkout, agents and mergebench, and merge each run's shards in a \
                             merge of their own",
                            ev.suite,
                            p0.display(),
                            e0.id,
                            e0.shard.as_deref().unwrap_or("-"),
                            path.display(),
                            ev.id,
                            ev.shard.as_deref().unwrap_or("-"),
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The column list of a table, for copying rows between stores of one schema.
fn columns(c: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    c.prepare(&format!("PRAGMA main.table_info({table})"))?
        .query_map([], |r| r.get::<_, String>(1))?
        .collect()
}

/// Rows keyed by their content (tasks, agents, patches, cached grades, conventions and
/// judge samples): inserted when missing, never replaced.
fn copy_keyed_rows(c: &Connection, db: &str) -> rusqlite::Result<()> {
    for table in [
        "tasks",
        "agents",
        "patches",
        "grades",
        "convention_results",
        "judge_samples",
    ] {
        let cols = columns(c, table)?.join(", ");
        c.execute(
            &format!("INSERT OR IGNORE INTO main.{table} ({cols}) SELECT {cols} FROM {db}.{table}"),
            [],
        )?;
    }
    // Judge calls have a row id of their own: a call already recorded (same judge version,
    // item, purpose and time) is not recorded twice.
    let cols: Vec<String> = columns(c, "judge_calls")?
        .into_iter()
        .filter(|n| n != "id")
        .collect();
    let list = cols.join(", ");
    c.execute(
        &format!(
            "INSERT INTO main.judge_calls ({list}) SELECT {list} FROM {db}.judge_calls s
             WHERE NOT EXISTS (SELECT 1 FROM main.judge_calls m
                 WHERE m.judge_version = s.judge_version AND m.patch_sha256 IS s.patch_sha256
                   AND m.task_hash IS s.task_hash AND m.sample IS s.sample
                   AND m.purpose = s.purpose AND m.created_at = s.created_at)"
        ),
        [],
    )?;
    Ok(())
}

/// Joins one source evaluation: finds or creates its evaluation here, copies its attempts
/// with their logs, artifacts and judgements, and records the join.
fn merge_evaluation(
    c: &Connection,
    db: &str,
    path: &Path,
    ev: &SourceEval,
    summary: &mut MergeSummary,
) -> rusqlite::Result<MergedEvaluation> {
    let line = |into: String, copied: bool| MergedEvaluation {
        store: path.to_path_buf(),
        source: ev.id.clone(),
        shard: ev.shard.clone(),
        into,
        copied,
        complete: false,
    };
    let already: Option<String> = c
        .query_row(
            "SELECT into_eval_id FROM merged_shards WHERE source_eval_id = ?1",
            [&ev.id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(into) = already {
        return Ok(line(into, false));
    }
    let into = match &ev.shard {
        // A whole evaluation keeps its id; a second merge finds it and adds only what is
        // missing.
        None => {
            let exists: Option<String> = c
                .query_row(
                    "SELECT id FROM main.evaluations WHERE id = ?1",
                    [&ev.id],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_none() {
                c.execute(
                    &format!("INSERT INTO main.evaluations ({EVAL_COLUMNS}) SELECT {EVAL_COLUMNS} FROM {db}.evaluations WHERE id = ?1"),
                    [&ev.id],
                )
                ?;
            }
            ev.id.clone()
        }
        Some(shard) => join_target(c, ev, shard)?,
    };
    let (copied, present) = copy_attempts(c, db, &ev.id, &into)?;
    summary.attempts_copied += copied;
    summary.attempts_present += present;
    if let Some(shard) = &ev.shard {
        c.execute(
            "INSERT INTO merged_shards (source_eval_id, into_eval_id, shard, source_store, source_finished_at, merged_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![ev.id, into, shard, path.display().to_string(), ev.finished_at, now()],
        )
        ?;
        finish_if_complete(c, &into)?;
    } else if ev.finished_at.is_some() {
        c.execute(
            "UPDATE main.evaluations SET finished_at = ?2 WHERE id = ?1 AND finished_at IS NULL",
            params![into, ev.finished_at],
        )?;
    }
    Ok(line(into, true))
}

/// The merged evaluation a shard joins: the newest one of the same key still missing this
/// shard, split the same number of ways; or a new one.
fn join_target(c: &Connection, ev: &SourceEval, shard: &str) -> rusqlite::Result<String> {
    let n = shard_count(shard).unwrap_or(0);
    let candidates: Vec<String> = c
        .prepare(
            "SELECT id FROM main.evaluations WHERE key = ?1 AND shard IS NULL
               AND EXISTS (SELECT 1 FROM merged_shards WHERE into_eval_id = evaluations.id)
             ORDER BY created_at DESC, rowid DESC",
        )?
        .query_map([&ev.key], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in candidates {
        let joined: Vec<String> = c
            .prepare("SELECT shard FROM merged_shards WHERE into_eval_id = ?1")?
            .query_map([&id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let same_split = joined.iter().all(|s| shard_count(s) == Some(n));
        if same_split && !joined.iter().any(|s| s == shard) && joined.len() < n as usize {
            return Ok(id);
        }
    }
    let id = format!(
        "ev-{}-{:06x}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        rand::random::<u32>() & 0xff_ffff
    );
    c.execute(
        "INSERT INTO main.evaluations (id, key, suite, suite_dir, agents_json, attempts, created_at,
             finished_at, mergebench_version, label, shard, manifest_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, NULL, ?10)",
        params![
            id,
            ev.key,
            ev.suite,
            ev.suite_dir,
            ev.agents_json,
            ev.attempts,
            ev.created_at,
            ev.version,
            ev.label,
            ev.manifest
        ],
    )?;
    Ok(id)
}

/// Copies the attempts of `from` (in the attached store) into `into`, with their logs,
/// artifacts and judgements; an attempt `into` already has is kept as it is. Returns
/// (copied, already present).
fn copy_attempts(
    c: &Connection,
    db: &str,
    from: &str,
    into: &str,
) -> rusqlite::Result<(usize, usize)> {
    let cols: Vec<String> = columns(c, "attempts")?
        .into_iter()
        .filter(|n| n != "id")
        .collect();
    let list = cols.join(", ");
    let select = cols
        .iter()
        .map(|n| if n == "eval_id" { "?2" } else { n.as_str() })
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<(i64, String, String, u32)> = c
        .prepare(&format!(
            "SELECT id, task_id, agent, attempt FROM {db}.attempts WHERE eval_id = ?1 ORDER BY id"
        ))?
        .query_map([from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let (mut copied, mut present) = (0, 0);
    for (old, task, agent, n) in rows {
        let exists: Option<i64> = c
            .query_row(
                "SELECT id FROM main.attempts WHERE eval_id = ?1 AND task_id = ?2 AND agent = ?3 AND attempt = ?4",
                params![into, task, agent, n],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            present += 1;
            continue;
        }
        c.execute(
            &format!("INSERT INTO main.attempts ({list}) SELECT {select} FROM {db}.attempts WHERE id = ?1"),
            params![old, into],
        )?;
        let new = c.last_insert_rowid();
        for table in ["logs", "artifacts", "judgements"] {
            let cols: Vec<String> = columns(c, table)?;
            let list = cols.join(", ");
            let select = cols
                .iter()
                .map(|n| if n == "attempt_id" { "?2" } else { n.as_str() })
                .collect::<Vec<_>>()
                .join(", ");
            c.execute(
                &format!("INSERT INTO main.{table} ({list}) SELECT {select} FROM {db}.{table} WHERE attempt_id = ?1"),
                params![old, new],
            )?;
        }
        copied += 1;
    }
    Ok((copied, present))
}

/// Marks a merged evaluation finished once all N shards are in: it then counts as a night
/// in reports, like the evaluation one machine would have run, finished when its last
/// shard finished.
fn finish_if_complete(c: &Connection, into: &str) -> rusqlite::Result<()> {
    let joined: Vec<(String, String)> = c
        .prepare("SELECT shard, source_finished_at FROM merged_shards WHERE into_eval_id = ?1")?
        .query_map([into], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let n = joined
        .first()
        .and_then(|(s, _)| shard_count(s))
        .unwrap_or(0) as usize;
    if joined.len() < n {
        return Ok(());
    }
    let latest = joined.iter().map(|(_, f)| f.clone()).max();
    c.execute(
        "UPDATE main.evaluations SET finished_at = ?2 WHERE id = ?1",
        params![into, latest],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::attempt;
    use super::*;
    use crate::store::{JudgementRow, NewEvaluation};

    /// A shard store: `tasks` of the suite (each with its hash), one attempt per task.
    fn shard(dir: &Path, name: &str, shard: &str, tasks: &[(&str, &str)], finish: bool) -> PathBuf {
        let path = dir.join(name);
        let store = Store::open(&path).unwrap();
        let manifest = serde_json::json!({
            "tasks": tasks.iter().map(|(t, h)| (t.to_string(), h.to_string())).collect::<BTreeMap<_, _>>(),
            "agents": {"a": "ah"}, "attempts": 1,
        });
        let key: String = tasks.iter().map(|(t, h)| format!("{t}={h};")).collect();
        let ev = store
            .open_evaluation(
                NewEvaluation {
                    key,
                    suite: "s".into(),
                    suite_dir: "tasks/s".into(),
                    agents: vec!["a".into()],
                    attempts: 1,
                    label: None,
                    shard: Some(shard.into()),
                    manifest: Some(manifest.to_string()),
                },
                false,
            )
            .unwrap();
        let (i, n) = shard.split_once('/').unwrap();
        let (i, n): (usize, usize) = (i.parse().unwrap(), n.parse().unwrap());
        for (pos, (task, hash)) in tasks.iter().enumerate() {
            if pos % n != i - 1 {
                continue;
            }
            let mut a = attempt(&ev.id, 1);
            a.key.task_id = task.to_string();
            a.key.task_hash = hash.to_string();
            let id = store.record_attempt(&a).unwrap();
            store
                .save_judgements(&[(id, JudgementRow::single_sample("j", "v", Some("merge")))])
                .unwrap();
        }
        if finish {
            store.finish_evaluation(&ev.id).unwrap();
        }
        path
    }

    const TASKS: &[(&str, &str)] = &[("t1", "h1"), ("t2", "h2"), ("t3", "h3")];

    #[test]
    fn shards_join_into_one_finished_evaluation_and_merging_again_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let s1 = shard(tmp.path(), "s1.db", "1/2", TASKS, true);
        let s2 = shard(tmp.path(), "s2.db", "2/2", TASKS, true);
        let into = Store::open(&tmp.path().join("all.db")).unwrap();
        // One shard first: the evaluation waits for the other.
        let first = into.merge_from(std::slice::from_ref(&s1)).unwrap();
        assert_eq!(first.attempts_copied, 2);
        assert!(!first.evaluations[0].complete);
        let ev = &first.evaluations[0].into;
        assert!(into
            .evaluation(Some(ev))
            .unwrap()
            .unwrap()
            .finished_at
            .is_none());
        let second = into.merge_from(&[s1.clone(), s2.clone()]).unwrap();
        assert_eq!(second.attempts_copied, 1);
        assert!(!second.evaluations[0].copied, "s1 was merged already");
        assert_eq!(&second.evaluations[1].into, ev, "s2 joins s1's evaluation");
        assert!(second.evaluations.iter().all(|m| m.complete));
        let rows = into.attempts(ev).unwrap();
        let mut tasks: Vec<&str> = rows.iter().map(|r| r.key.task_id.as_str()).collect();
        tasks.sort();
        assert_eq!(tasks, ["t1", "t2", "t3"]);
        assert!(rows.iter().all(|r| r.judge.is_some()));
        assert_eq!(into.log(rows[0].id, "agent").unwrap().unwrap(), b"hi");
        let merged = into.evaluation(Some(ev)).unwrap().unwrap();
        assert!(merged.finished_at.is_some());
        assert_eq!(merged.shard, None);
        // Again: nothing changes.
        let count =
            |sql: &str| -> i64 { into.with(|c| c.query_row(sql, [], |r| r.get(0))).unwrap() };
        let before = (
            count("SELECT COUNT(*) FROM attempts"),
            count("SELECT COUNT(*) FROM judgements"),
            count("SELECT COUNT(*) FROM logs"),
            count("SELECT COUNT(*) FROM evaluations"),
        );
        let third = into.merge_from(&[s2, s1]).unwrap();
        assert_eq!(third.attempts_copied, 0);
        assert!(third.evaluations.iter().all(|m| !m.copied));
        let after = (
            count("SELECT COUNT(*) FROM attempts"),
            count("SELECT COUNT(*) FROM judgements"),
            count("SELECT COUNT(*) FROM logs"),
            count("SELECT COUNT(*) FROM evaluations"),
        );
        assert_eq!(before, after);
        assert_eq!(before.0, 3);
    }

    #[test]
    fn the_next_run_of_the_same_key_starts_a_new_evaluation() {
        let tmp = tempfile::tempdir().unwrap();
        let into = Store::open(&tmp.path().join("all.db")).unwrap();
        let night1 = [
            shard(tmp.path(), "a1.db", "1/2", TASKS, true),
            shard(tmp.path(), "a2.db", "2/2", TASKS, true),
        ];
        let night2 = [
            shard(tmp.path(), "b1.db", "1/2", TASKS, true),
            shard(tmp.path(), "b2.db", "2/2", TASKS, true),
        ];
        let m1 = into.merge_from(&night1).unwrap();
        let m2 = into.merge_from(&night2).unwrap();
        assert_eq!(m1.evaluations[0].into, m1.evaluations[1].into);
        assert_eq!(m2.evaluations[0].into, m2.evaluations[1].into);
        assert_ne!(m1.evaluations[0].into, m2.evaluations[0].into);
        assert_eq!(into.evaluations().unwrap().len(), 2);
    }

    #[test]
    fn shards_that_disagree_or_have_not_finished_are_refused_and_nothing_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let s1 = shard(tmp.path(), "s1.db", "1/2", TASKS, true);
        let changed = [("t1", "h1"), ("t2", "CHANGED"), ("t3", "h3")];
        let s2 = shard(tmp.path(), "s2.db", "2/2", &changed, true);
        let path = tmp.path().join("all.db");
        let into = Store::open(&path).unwrap();
        let err = into.merge_from(&[s1.clone(), s2]).unwrap_err().to_string();
        assert!(
            err.contains("task `t2` is h2 in one and CHANGED in the other"),
            "{err}"
        );
        assert!(err.contains("s1.db") && err.contains("s2.db"), "{err}");
        let unfinished = shard(tmp.path(), "s3.db", "2/2", TASKS, false);
        let err = into.merge_from(&[s1, unfinished]).unwrap_err().to_string();
        assert!(err.contains("has not finished"), "{err}");
        assert!(into.evaluations().unwrap().is_empty());
        let err = into
            .merge_from(std::slice::from_ref(&path))
            .unwrap_err()
            .to_string();
        assert!(err.contains("both a source and --into"), "{err}");
        let err = into
            .merge_from(&[tmp.path().join("nope.db")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no database at"), "{err}");
    }

    #[test]
    fn a_store_at_another_schema_is_refused_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("old.db");
        let c = Connection::open(&old).unwrap();
        c.pragma_update(None, "user_version", 3).unwrap();
        drop(c);
        let into = Store::open(&tmp.path().join("all.db")).unwrap();
        let err = into.merge_from(&[old]).unwrap_err().to_string();
        assert!(err.contains("schema version 3"), "{err}");
        assert!(err.contains("mergebench results --db"), "{err}");
    }
}
