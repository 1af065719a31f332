//! The SQLite store: the only module that runs SQL.
//!
//! One file a user can open with `sqlite3`, in WAL mode so reports read while a run writes.
//! Every attempt is written in one transaction with its patch, logs and artifacts, so a
//! killed run leaves either the whole attempt or nothing.

mod labels;
mod merge;
mod migrations;
mod model;
mod tally;

pub use labels::*;
pub use merge::{MergeSummary, MergedEvaluation, Sources};
pub use model::*;

use crate::error::Error;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

pub fn default_path() -> PathBuf {
    std::env::var("MERGEBENCH_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("mergebench.db"))
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Opens a store that must already exist: for commands that only read, so that a
    /// mistyped `--db` is an error instead of a new, empty database.
    pub fn open_existing(path: &Path) -> Result<Store, Error> {
        if !path.is_file() {
            return Err(Error::input(
                path,
                None,
                format!("no database at {}", path.display()),
                "check --db (or MERGEBENCH_DB); `mergebench run` or `demo` creates one",
            ));
        }
        Store::open(path)
    }

    pub fn open(path: &Path) -> Result<Store, Error> {
        let wrap = |source| Error::Store {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        // A store written by a newer mergebench has tables this one does not know: reading
        // it would misreport and writing it would corrupt it.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(wrap)?;
        if version < 0 || version as usize > migrations::MIGRATIONS.len() {
            return Err(Error::env(
                format!(
                    "database {} has schema version {version}, and this mergebench {} knows \
                     versions up to {}",
                    path.display(),
                    crate::VERSION,
                    migrations::MIGRATIONS.len()
                ),
                "use the mergebench that wrote it (or a newer one), or point --db at another file",
            ));
        }
        migrations::migrate(&mut conn).map_err(wrap)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Store {
            path: self.path.clone(),
            source,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, Error> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c).map_err(|e| self.err(e))
    }

    /// The first row `sql` finds, read by `read`, or None when it finds none.
    fn optional_row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, Error> {
        self.with(|c| c.query_row(sql, params, read).optional())
    }

    /// Runs one statement that returns no rows.
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<(), Error> {
        self.with(|c| c.execute(sql, params).map(|_| ()))
    }

    /// Every row `sql` finds, each read by `read`.
    fn all_rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, Error> {
        self.with(|c| c.prepare(sql)?.query_map(params, read)?.collect())
    }

    /// The evaluation to resume for `key`, or a new one.
    pub fn open_evaluation(
        &self,
        new: NewEvaluation,
        force_new: bool,
    ) -> Result<Evaluation, Error> {
        self.with(|c| {
            if !force_new {
                let found = c
                    .query_row(
                        "SELECT id FROM evaluations WHERE key = ?1 AND shard IS ?2
                         ORDER BY created_at DESC LIMIT 1",
                        params![&new.key, &new.shard],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()?;
                if let Some(id) = found {
                    return load_eval(c, &id)
                        .and_then(|e| e.ok_or(rusqlite::Error::QueryReturnedNoRows));
                }
            }
            let id = format!("ev-{}-{:06x}", chrono::Utc::now().format("%Y%m%d-%H%M%S"), rand::random::<u32>() & 0xff_ffff);
            // cannot fail, the `unwrap` below: a list of strings serializes.
            c.execute(
                "INSERT INTO evaluations (id, key, suite, suite_dir, agents_json, attempts, created_at, mergebench_version, label, shard, manifest_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![id, new.key, new.suite, new.suite_dir, serde_json::to_string(&new.agents).unwrap(), new.attempts, now(), crate::VERSION, new.label, new.shard, new.manifest],
            )?;
            load_eval(c, &id).and_then(|e| e.ok_or(rusqlite::Error::QueryReturnedNoRows))
        })
    }

    pub fn finish_evaluation(&self, id: &str) -> Result<(), Error> {
        self.stamp_finished("evaluations", id)
    }

    /// Sets `finished_at` to now on one row of a table that has it (evaluations, mining runs).
    fn stamp_finished(&self, table: &'static str, id: &str) -> Result<(), Error> {
        self.exec(
            &format!("UPDATE {table} SET finished_at = ?2 WHERE id = ?1"),
            params![id, now()],
        )
    }

    pub fn evaluation(&self, id: Option<&str>) -> Result<Option<Evaluation>, Error> {
        self.with(|c| match id {
            Some(id) => load_eval(c, id),
            None => {
                let id: Option<String> = c
                    .query_row(
                        "SELECT id FROM evaluations ORDER BY created_at DESC, rowid DESC LIMIT 1",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?;
                match id {
                    Some(id) => load_eval(c, &id),
                    None => Ok(None),
                }
            }
        })
    }

    /// The newest finished evaluation of a suite (the night `nightly --report-only` reports).
    pub fn latest_finished_evaluation(&self, suite: &str) -> Result<Option<Evaluation>, Error> {
        self.with(|c| {
            let id: Option<String> = c
                .query_row(
                    "SELECT id FROM evaluations WHERE suite = ?1 AND finished_at IS NOT NULL
                       AND shard IS NULL
                     ORDER BY created_at DESC, rowid DESC LIMIT 1",
                    [suite],
                    |r| r.get(0),
                )
                .optional()?;
            match id {
                Some(id) => load_eval(c, &id),
                None => Ok(None),
            }
        })
    }

    /// How many shard evaluations were merged into this one (0 for one run on one machine).
    pub fn merged_shard_count(&self, eval_id: &str) -> Result<usize, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM merged_shards WHERE into_eval_id = ?1",
                [eval_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
        })
    }

    pub fn evaluations(&self) -> Result<Vec<Evaluation>, Error> {
        self.with(|c| {
            let ids: Vec<String> = c
                .prepare("SELECT id FROM evaluations ORDER BY created_at, rowid")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::new();
            for id in ids {
                out.extend(load_eval(c, &id)?);
            }
            Ok(out)
        })
    }

    pub fn save_task(
        &self,
        hash: &str,
        suite: &str,
        task_id: &str,
        title: &str,
        created: Option<&str>,
        spec_json: &str,
    ) -> Result<(), Error> {
        self.exec(
                // The hash is the task's content; what may change under one hash is only what
                // the hash leaves out (its cluster, where its files sit), so the latest wins.
                "INSERT INTO tasks (hash, suite, task_id, title, created, spec_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(hash) DO UPDATE SET spec_json = excluded.spec_json",
                params![hash, suite, task_id, title, created, spec_json],
        )
    }

    pub fn save_agent(&self, hash: &str, name: &str, spec_json: &str) -> Result<(), Error> {
        self.exec(
            "INSERT OR IGNORE INTO agents (hash, name, spec_json) VALUES (?1, ?2, ?3)",
            params![hash, name, spec_json],
        )
    }

    /// What the agents of an evaluation reported spending, in USD.
    pub fn agent_cost(&self, eval_id: &str) -> Result<f64, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT COALESCE(SUM(cost_usd), 0.0) FROM attempts WHERE eval_id = ?1",
                [eval_id],
                |r| r.get(0),
            )
        })
    }

    /// (task, agent, attempt) keys already finished in this evaluation.
    pub fn finished(&self, eval_id: &str) -> Result<HashSet<(String, String, u32)>, Error> {
        self.with(|c| {
            c.prepare("SELECT task_id, agent, attempt FROM attempts WHERE eval_id = ?1")?
                .query_map([eval_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
    }

    pub fn cached_grade(&self, key: &GradeKey) -> Result<Option<String>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT result_json FROM grades WHERE patch_sha256 = ?1 AND task_hash = ?2 AND grader_version = ?3",
                params![key.patch_sha256, key.task_hash, key.grader_version],
                |r| r.get(0),
            )
            .optional()
        })
    }

    pub fn save_grade(
        &self,
        key: &GradeKey,
        env_image: &str,
        result_json: &str,
    ) -> Result<(), Error> {
        self.exec(
                "INSERT OR REPLACE INTO grades (patch_sha256, task_hash, grader_version, env_image, result_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![key.patch_sha256, key.task_hash, key.grader_version, env_image, result_json, now()],
        )
    }

    /// Writes one attempt, its patches, logs and artifacts in a single transaction.
    pub fn record_attempt(&self, a: &NewAttempt) -> Result<i64, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let id = insert_attempt(&tx, a)?;
            tx.commit()?;
            Ok(id)
        })
    }

    /// One attempt, without its judgement (the labeling page must not see it).
    pub fn attempt(&self, id: i64) -> Result<Option<AttemptRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = ?1"),
                [id],
                AttemptRow::from_row,
            )
            .optional()
        })
    }

    /// Writes many attempts in one transaction (generated stores, imports): the same rows
    /// `record_attempt` writes, without a commit per attempt.
    pub fn record_attempts(&self, attempts: &[NewAttempt]) -> Result<Vec<i64>, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut ids = Vec::with_capacity(attempts.len());
            for a in attempts {
                ids.push(insert_attempt(&tx, a)?);
            }
            tx.commit()?;
            Ok(ids)
        })
    }

    /// Records many judgements in one transaction (see `save_judgement`).
    pub fn save_judgements(&self, judgements: &[(i64, JudgementRow)]) -> Result<(), Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            for (id, j) in judgements {
                insert_judgement(&tx, *id, j)?;
            }
            tx.commit()
        })
    }

    /// When each stored task's fix landed (`created` in task.toml), by task hash: reports use
    /// it to keep only tasks newer than an agent's training cut-off.
    pub fn task_created_dates(&self) -> Result<HashMap<String, String>, Error> {
        self.with(|c| {
            c.prepare("SELECT hash, created FROM tasks WHERE created IS NOT NULL")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// Each task's declared cluster (task.toml `cluster`, or the suite's `[report] cluster`
    /// rule), by task hash; tasks without one are absent.
    pub fn task_clusters(&self) -> Result<HashMap<String, String>, Error> {
        self.with(|c| {
            c.prepare(
                "SELECT hash, json_extract(spec_json, '$.cluster') FROM tasks
                 WHERE json_valid(spec_json) AND json_extract(spec_json, '$.cluster') IS NOT NULL",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
        })
    }

    /// Every attempt of an evaluation, each with its latest judgement.
    pub fn attempts(&self, eval_id: &str) -> Result<Vec<AttemptRow>, Error> {
        self.with(|c| evaluation_attempts(c, eval_id, true))
    }

    /// Every attempt of each evaluation, for reports: each with its latest verdict, but
    /// without the grade's test-by-test detail or the judge's reasons, which no report
    /// shows and which dominate reading a large store. Evaluations are read in parallel,
    /// each thread on its own read-only connection (WAL lets readers share the file).
    pub fn attempts_for_reports(&self, eval_ids: &[String]) -> Result<Vec<Vec<AttemptRow>>, Error> {
        self.per_evaluation(eval_ids, |c, id| evaluation_attempts(c, id, false))
    }

    /// `read` for each evaluation, in order. Evaluations are read in parallel, each thread on
    /// its own read-only connection (WAL lets readers share the file).
    fn per_evaluation<T: Send>(
        &self,
        eval_ids: &[String],
        read: impl Fn(&Connection, &str) -> rusqlite::Result<T> + Sync,
    ) -> Result<Vec<T>, Error> {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(eval_ids.len());
        if threads <= 1 {
            return self.with(|c| eval_ids.iter().map(|id| read(c, id)).collect());
        }
        let chunk = eval_ids.len().div_ceil(threads);
        let results: Vec<rusqlite::Result<Vec<T>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = eval_ids
                .chunks(chunk)
                .map(|ids| {
                    let read = &read;
                    scope.spawn(move || {
                        let c = Connection::open_with_flags(
                            &self.path,
                            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                        )?;
                        c.busy_timeout(std::time::Duration::from_secs(30))?;
                        ids.iter().map(|id| read(&c, id)).collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                // A reader that panicked is passed on as the panic it was.
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let mut out = Vec::with_capacity(eval_ids.len());
        for r in results {
            out.extend(r.map_err(|e| self.err(e))?);
        }
        Ok(out)
    }

    pub fn cached_judge_sample(
        &self,
        key: &JudgeSampleKey,
    ) -> Result<Option<JudgeSampleRow>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT judge, model, verdict_json, error, input_tokens, output_tokens, cost_usd, requests FROM judge_samples
                 WHERE patch_sha256 = ?1 AND task_hash = ?2 AND judge_version = ?3 AND sample = ?4",
                params![key.patch_sha256, key.task_hash, key.judge_version, key.sample],
                |r| {
                    Ok(JudgeSampleRow {
                        judge: r.get(0)?,
                        model: r.get(1)?,
                        verdict_json: r.get(2)?,
                        error: r.get(3)?,
                        spend: Spend {
                            input_tokens: r.get(4)?,
                            output_tokens: r.get(5)?,
                            cost_usd: r.get(6)?,
                        },
                        requests: r.get(7)?,
                    })
                },
            )
            .optional()
        })
    }

    pub fn save_judge_sample(
        &self,
        key: &JudgeSampleKey,
        row: &JudgeSampleRow,
    ) -> Result<(), Error> {
        self.exec(
                "INSERT OR REPLACE INTO judge_samples (patch_sha256, task_hash, judge_version, sample, judge, model, verdict_json, error,
                    input_tokens, output_tokens, cost_usd, requests, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    key.patch_sha256, key.task_hash, key.judge_version, key.sample, row.judge, row.model, row.verdict_json,
                    row.error, row.spend.input_tokens, row.spend.output_tokens, row.spend.cost_usd, row.requests, now()
                ],
        )
    }

    pub fn record_judge_call(&self, call: &JudgeCallRecord) -> Result<(), Error> {
        self.exec(
                "INSERT INTO judge_calls (judge, judge_version, patch_sha256, task_hash, sample, purpose, status, error,
                    input_tokens, output_tokens, cost_usd, seconds, mergebench_version, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    call.judge, call.judge_version, call.patch_sha256, call.task_hash, call.sample, call.purpose, call.status,
                    call.error, call.spend.input_tokens, call.spend.output_tokens, call.spend.cost_usd, call.seconds, crate::VERSION, now()
                ],
        )
    }

    /// Records a judgement of an attempt (replacing an earlier one by the same judge version).
    pub fn save_judgement(&self, attempt_id: i64, j: &JudgementRow) -> Result<(), Error> {
        self.with(|c| insert_judgement(c, attempt_id, j))
    }

    pub fn cached_conventions(
        &self,
        patch_sha256: &str,
        task_hash: &str,
        version: &str,
    ) -> Result<Option<String>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT result_json FROM convention_results WHERE patch_sha256 = ?1 AND task_hash = ?2 AND version = ?3",
                params![patch_sha256, task_hash, version],
                |r| r.get(0),
            )
            .optional()
        })
    }

    pub fn save_conventions(
        &self,
        patch_sha256: &str,
        task_hash: &str,
        version: &str,
        result_json: &str,
    ) -> Result<(), Error> {
        self.exec(
                "INSERT OR REPLACE INTO convention_results (patch_sha256, task_hash, version, result_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![patch_sha256, task_hash, version, result_json, now()],
        )
    }

    pub fn patch(&self, sha256: &str) -> Result<Option<Vec<u8>>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT bytes FROM patches WHERE sha256 = ?1",
                [sha256],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// The texts of many patches (lossy UTF-8) by sha256, read under one lock with one
    /// prepared statement; unknown ones are absent.
    pub fn patch_texts<'a>(
        &self,
        shas: impl IntoIterator<Item = &'a str>,
    ) -> Result<std::collections::BTreeMap<String, String>, Error> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT bytes FROM patches WHERE sha256 = ?1")?;
            let mut out = std::collections::BTreeMap::new();
            for sha in shas {
                if out.contains_key(sha) {
                    continue;
                }
                let bytes: Option<Vec<u8>> = stmt.query_row([sha], |r| r.get(0)).optional()?;
                if let Some(bytes) = bytes {
                    out.insert(
                        sha.to_string(),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    );
                }
            }
            Ok(out)
        })
    }

    pub fn log(&self, attempt_id: i64, kind: &str) -> Result<Option<Vec<u8>>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT bytes FROM logs WHERE attempt_id = ?1 AND kind = ?2",
                params![attempt_id, kind],
                |r| r.get(0),
            )
            .optional()
        })
    }

    pub fn artifacts(&self, attempt_id: i64) -> Result<Vec<(String, Vec<u8>)>, Error> {
        self.with(|c| {
            c.prepare("SELECT name, bytes FROM artifacts WHERE attempt_id = ?1 ORDER BY name")?
                .query_map([attempt_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// Image ids any stored attempt used: `images prune` keeps them.
    pub fn used_images(&self) -> Result<HashSet<String>, Error> {
        self.with(|c| {
            c.prepare("SELECT env_image FROM attempts WHERE env_image IS NOT NULL UNION SELECT agent_image FROM attempts WHERE agent_image IS NOT NULL UNION SELECT env_image FROM grades")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
    }
}

/// One attempt with its patches, logs and artifacts, inside the caller's transaction.
fn insert_attempt(c: &Connection, a: &NewAttempt) -> rusqlite::Result<i64> {
    const PATCH_SQL: &str =
        "INSERT OR IGNORE INTO patches (sha256, bytes, size, files, added, removed)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    const ATTEMPT_SQL: &str = "INSERT INTO attempts (eval_id, task_id, task_hash, agent, agent_hash, attempt, outcome, flags_json, agent_exit_code,
                patch_sha256, raw_patch_sha256, grade_json, error, env_image, agent_image, agent_seconds, grade_seconds,
                total_seconds, usage_json, cost_usd, input_tokens, output_tokens, mergebench_version, grader_version,
                started_at, finished_at, infra_retries, files_changed, lines_added, lines_removed, conventions_json, egress_json,
                tally_outcome, tally_review, measured_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35)";
    const LOG_SQL: &str = "INSERT INTO logs (attempt_id, kind, bytes, total_bytes, truncated)
        VALUES (?1, ?2, ?3, ?4, ?5)";
    // Each patch's stats, read once (a generated store writes a million of them).
    let graded_stats = a.graded_patch.as_ref().map(|p| p.stats());
    for p in [&a.raw_patch, &a.graded_patch].into_iter().flatten() {
        let s = match (&a.graded_patch, graded_stats) {
            (Some(g), Some(s)) if g.sha256 == p.sha256 => s,
            _ => p.stats(),
        };
        c.prepare_cached(PATCH_SQL)?.execute(params![
            p.sha256,
            p.bytes,
            p.bytes.len() as i64,
            s.files,
            s.added,
            s.removed
        ])?;
    }
    let (k, r) = (&a.key, &a.run);
    let counted = model::counted(r.usage.as_ref(), r.measured.as_ref());
    let (tally_outcome, tally_review) =
        tally::tally_columns(r.outcome, &r.flags, a.conventions_json.as_deref());
    // cannot fail, each `unwrap` below: flags, usage and egress are plain structs with string
    // keys.
    c.prepare_cached(ATTEMPT_SQL)?.execute(params![
        k.eval_id,
        k.task_id,
        k.task_hash,
        k.agent,
        k.agent_hash,
        k.attempt,
        r.outcome.as_str(),
        // cannot fail: as above.
        serde_json::to_string(&r.flags).unwrap(),
        r.flags.agent_exit_code,
        a.graded_patch.as_ref().map(|p| p.sha256.clone()),
        a.raw_patch.as_ref().map(|p| p.sha256.clone()),
        a.grade_json,
        r.error,
        r.env_image,
        r.agent_image,
        r.agent_seconds,
        r.grade_seconds,
        r.total_seconds,
        // cannot fail: as above.
        r.usage.as_ref().map(|u| serde_json::to_string(u).unwrap()),
        // The counted figures: measured by the gateway when it saw requests, else reported.
        counted.cost_usd,
        counted.input_tokens,
        counted.output_tokens,
        crate::VERSION,
        r.grader_version,
        r.started_at,
        r.finished_at,
        r.infra_retries,
        graded_stats.map(|s| s.files).unwrap_or(0),
        graded_stats.map(|s| s.added).unwrap_or(0),
        graded_stats.map(|s| s.removed).unwrap_or(0),
        a.conventions_json,
        // cannot fail: as above.
        r.egress.as_ref().map(|e| serde_json::to_string(e).unwrap()),
        // What mergeability reads, as the counters reports' tallies add up (`store::tally`).
        tally_outcome,
        tally_review,
        // cannot fail: as above.
        r.measured
            .as_ref()
            .map(|m| serde_json::to_string(m).unwrap()),
    ])?;
    let id = c.last_insert_rowid();
    for l in &a.logs {
        c.prepare_cached(LOG_SQL)?.execute(params![
            id,
            l.kind,
            l.bytes,
            l.total_bytes as i64,
            l.truncated
        ])?;
    }
    for (name, bytes) in &a.artifacts {
        c.prepare_cached("INSERT INTO artifacts (attempt_id, name, bytes) VALUES (?1, ?2, ?3)")?
            .execute(params![id, name, bytes])?;
    }
    Ok(id)
}

fn insert_judgement(c: &Connection, attempt_id: i64, j: &JudgementRow) -> rusqlite::Result<()> {
    const SQL: &str = "INSERT OR REPLACE INTO judgements (attempt_id, judge, judge_version, model, verdict, error,
            agreement, samples, injection_suspected, input_tokens, output_tokens, cost_usd, result_json,
            mergebench_version, created_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
    c.prepare_cached(SQL)?.execute(params![
        attempt_id,
        j.judge,
        j.judge_version,
        j.model,
        j.verdict,
        j.error,
        j.agreement,
        j.samples,
        j.injection_suspected,
        j.input_tokens,
        j.output_tokens,
        j.cost_usd,
        j.detail.to_string(),
        crate::VERSION,
        now()
    ])?;
    Ok(())
}

/// Every attempt of an evaluation, in order, each with its latest judgement; with `detail`,
/// also the grade's test-by-test result and the judge's reasons (`Store::attempts`), without
/// it neither (`Store::attempts_for_reports`).
fn evaluation_attempts(
    c: &Connection,
    eval_id: &str,
    detail: bool,
) -> rusqlite::Result<Vec<AttemptRow>> {
    let columns = if detail {
        ATTEMPT_COLUMNS.to_string()
    } else {
        ATTEMPT_COLUMNS.replace("grade_json", "NULL")
    };
    let mut rows: Vec<AttemptRow> = c
        .prepare_cached(&format!(
            "SELECT {columns} FROM attempts WHERE eval_id = ?1 ORDER BY agent, task_id, attempt"
        ))?
        .query_map([eval_id], AttemptRow::from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let mut latest = judgements(c, eval_id, detail)?;
    for r in &mut rows {
        r.judge = latest.remove(&r.id);
    }
    Ok(rows)
}

/// The latest judgement of each attempt of an evaluation; `detail` says whether to read the
/// scores, reasons and samples too (`Null` otherwise).
fn judgements(
    c: &Connection,
    eval_id: &str,
    detail: bool,
) -> rusqlite::Result<HashMap<i64, JudgementRow>> {
    let mut out = HashMap::new();
    let mut stmt = c.prepare_cached(&format!(
        "SELECT j.attempt_id, j.judge, j.judge_version, j.model, j.verdict, j.error, j.agreement, j.samples,
                j.injection_suspected, j.input_tokens, j.output_tokens, j.cost_usd, j.created_at, {}
         FROM judgements j JOIN attempts a ON a.id = j.attempt_id
         WHERE a.eval_id = ?1 ORDER BY j.created_at, j.rowid",
        if detail { "j.result_json" } else { "'null'" }
    ))?;
    let rows = stmt.query_map([eval_id], |r| {
        let verdict: Option<String> = r.get(4)?;
        let detail: String = r.get(13)?;
        Ok((
            r.get::<_, i64>(0)?,
            JudgementRow {
                judge: r.get(1)?,
                judge_version: r.get(2)?,
                model: r.get(3)?,
                status: if verdict.is_some() {
                    "ok"
                } else {
                    "judge_error"
                }
                .into(),
                verdict,
                error: r.get(5)?,
                agreement: r.get(6)?,
                samples: r.get(7)?,
                injection_suspected: r.get(8)?,
                input_tokens: r.get(9)?,
                output_tokens: r.get(10)?,
                cost_usd: r.get(11)?,
                created_at: r.get(12)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            },
        ))
    })?;
    for row in rows {
        let (id, j) = row?;
        out.insert(id, j);
    }
    Ok(out)
}

impl Store {
    /// Starts recording a `tasks mine` run; returns its id.
    pub fn start_mine_run(
        &self,
        repo: &str,
        suite_dir: &str,
        options: &serde_json::Value,
    ) -> Result<String, Error> {
        let id = format!(
            "mine-{}-{:06x}",
            chrono::Utc::now().format("%Y%m%d-%H%M%S"),
            rand::random::<u32>() & 0xff_ffff
        );
        self.exec(
                "INSERT INTO mine_runs (id, repo, suite_dir, options_json, started_at, mergebench_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, repo, suite_dir, options.to_string(), now(), crate::VERSION],
        )?;
        Ok(id)
    }

    /// Records the fate of one commit; a commit is recorded once per run, in scan order.
    pub fn record_mine_commit(&self, run_id: &str, row: &MineCommitRow) -> Result<(), Error> {
        self.exec(
                "INSERT INTO mine_commits (run_id, seq, commit_sha, subject, committed_at, reached, reason, task_id, notes_json, cause, evidence_json)
                 VALUES (?1, (SELECT COUNT(*) FROM mine_commits WHERE run_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    run_id, row.commit, row.subject, row.committed_at, row.reached, row.reason, row.task_id,
                    serde_json::to_string(&row.notes).unwrap_or_else(|_| "[]".into()),
                    row.cause,
                    row.evidence.as_ref().and_then(|e| serde_json::to_string(e).ok()),
                ],
        )
    }

    pub fn finish_mine_run(&self, run_id: &str) -> Result<(), Error> {
        self.stamp_finished("mine_runs", run_id)
    }

    /// A mining run by id, or the latest one.
    pub fn mine_run(&self, id: Option<&str>) -> Result<Option<MineRun>, Error> {
        self.with(|c| {
            let sql = "SELECT id, repo, suite_dir, options_json, started_at, finished_at, mergebench_version FROM mine_runs";
            let read = |r: &rusqlite::Row<'_>| {
                Ok(MineRun {
                    id: r.get(0)?,
                    repo: r.get(1)?,
                    suite_dir: r.get(2)?,
                    options: serde_json::from_str(&r.get::<_, String>(3)?)
                        .unwrap_or(serde_json::Value::Null),
                    started_at: r.get(4)?,
                    finished_at: r.get(5)?,
                    mergebench_version: r.get(6)?,
                })
            };
            match id {
                Some(id) => c
                    .query_row(&format!("{sql} WHERE id = ?1"), [id], read)
                    .optional(),
                None => c
                    .query_row(
                        &format!("{sql} ORDER BY started_at DESC, rowid DESC LIMIT 1"),
                        [],
                        read,
                    )
                    .optional(),
            }
        })
    }

    /// Every mining run's id, the latest first.
    pub fn mine_run_ids(&self) -> Result<Vec<String>, Error> {
        self.with(|c| {
            c.prepare("SELECT id FROM mine_runs ORDER BY started_at DESC, rowid DESC")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
    }

    /// Every commit a mining run recorded, in scan order.
    pub fn mine_commits(&self, run_id: &str) -> Result<Vec<MineCommitRow>, Error> {
        self.with(|c| {
            c.prepare(
                "SELECT commit_sha, subject, committed_at, reached, reason, task_id, notes_json, cause, evidence_json
                 FROM mine_commits WHERE run_id = ?1 ORDER BY seq",
            )?
            .query_map([run_id], |r| {
                Ok(MineCommitRow {
                    commit: r.get(0)?,
                    subject: r.get(1)?,
                    committed_at: r.get(2)?,
                    reached: r.get(3)?,
                    reason: r.get(4)?,
                    task_id: r.get(5)?,
                    notes: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
                    cause: r.get(7)?,
                    evidence: r
                        .get::<_, Option<String>>(8)?
                        .and_then(|j| serde_json::from_str(&j).ok()),
                })
            })?
            .collect()
        })
    }
}

fn load_eval(c: &Connection, id: &str) -> rusqlite::Result<Option<Evaluation>> {
    c.query_row(
        "SELECT id, key, suite, suite_dir, agents_json, attempts, created_at, finished_at, mergebench_version, label, shard FROM evaluations WHERE id = ?1",
        [id],
        |r| {
            Ok(Evaluation {
                id: r.get(0)?,
                key: r.get(1)?,
                suite: r.get(2)?,
                suite_dir: r.get(3)?,
                agents: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                attempts: r.get(5)?,
                created_at: r.get(6)?,
                finished_at: r.get(7)?,
                mergebench_version: r.get(8)?,
                label: r.get(9)?,
                shard: r.get(10)?,
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::patch::Patch;
    use crate::score::outcome::{Flags, Outcome};

    pub(super) fn attempt(eval: &str, n: u32) -> NewAttempt {
        NewAttempt {
            key: AttemptKey {
                eval_id: eval.into(),
                task_id: "t1".into(),
                task_hash: "th".into(),
                agent: "a".into(),
                agent_hash: "ah".into(),
                attempt: n,
            },
            run: AttemptRun {
                outcome: Outcome::Resolved,
                flags: Flags::default(),
                grader_version: "g1".into(),
                ..Default::default()
            },
            raw_patch: Some(Patch::new(b"diff".to_vec())),
            graded_patch: Some(Patch::new(b"diff".to_vec())),
            logs: vec![LogRecord {
                kind: "agent".into(),
                bytes: b"hi".to_vec(),
                total_bytes: 2,
                truncated: false,
            }],
            artifacts: vec![("usage.json".into(), b"{}".to_vec())],
            ..Default::default()
        }
    }

    /// A whole evaluation of the demo suite by agent `a`, one attempt per task, under `key`.
    fn evaluation(key: &str) -> NewEvaluation {
        NewEvaluation {
            key: key.into(),
            suite: "demo".into(),
            suite_dir: "tasks/demo".into(),
            agents: vec!["a".into()],
            attempts: 1,
            label: None,
            shard: None,
            manifest: None,
        }
    }

    #[test]
    fn each_shard_resumes_its_own_evaluation() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("m.db")).unwrap();
        let open = |shard: Option<&str>| {
            store
                .open_evaluation(
                    NewEvaluation {
                        shard: shard.map(str::to_string),
                        ..evaluation("k")
                    },
                    false,
                )
                .unwrap()
        };
        let (one, two, whole) = (open(Some("1/2")), open(Some("2/2")), open(None));
        assert_eq!(open(Some("1/2")).id, one.id);
        assert_eq!(open(Some("2/2")).id, two.id);
        assert_eq!(open(None).id, whole.id);
        assert!(one.id != two.id && one.id != whole.id && two.id != whole.id);
        assert_eq!(one.shard.as_deref(), Some("1/2"));
        assert_eq!(whole.shard, None);
    }

    #[test]
    fn task_clusters_follow_the_latest_spec_of_a_hash() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("m.db")).unwrap();
        store.save_task("h1", "s", "t1", "T", None, "{}").unwrap();
        store
            .save_task("h2", "s", "t2", "T", None, r#"{"cluster": "billing"}"#)
            .unwrap();
        let c = store.task_clusters().unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c["h2"], "billing");
        // A cluster added later to an unchanged task (same hash) is what reports see.
        store
            .save_task("h1", "s", "t1", "T", None, r#"{"cluster": "search"}"#)
            .unwrap();
        assert_eq!(store.task_clusters().unwrap()["h1"], "search");
    }

    #[test]
    fn resumes_the_same_evaluation_and_keeps_attempts_unique() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("m.db")).unwrap();
        let new = || evaluation("k");
        let e1 = store.open_evaluation(new(), false).unwrap();
        store.record_attempt(&attempt(&e1.id, 1)).unwrap();
        let e2 = store.open_evaluation(new(), false).unwrap();
        assert_eq!(e1.id, e2.id);
        assert_eq!(store.finished(&e1.id).unwrap().len(), 1);
        // The same attempt twice is refused by the schema, not just by the runner.
        assert!(store.record_attempt(&attempt(&e1.id, 1)).is_err());
        let rows = store.attempts(&e1.id).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            store
                .patch(rows[0].patch_sha256.as_deref().unwrap())
                .unwrap()
                .unwrap(),
            b"diff"
        );
        assert_eq!(store.log(rows[0].id, "agent").unwrap().unwrap(), b"hi");
        let e3 = store.open_evaluation(new(), true).unwrap();
        assert_ne!(e1.id, e3.id);
    }

    #[test]
    fn grade_cache_is_keyed_by_patch_task_and_version() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("m.db")).unwrap();
        let key = GradeKey {
            patch_sha256: "p".into(),
            task_hash: "t".into(),
            grader_version: "g1".into(),
        };
        store.save_grade(&key, "img", "{\"x\":1}").unwrap();
        assert_eq!(
            store.cached_grade(&key).unwrap().as_deref(),
            Some("{\"x\":1}")
        );
        for other in [
            GradeKey {
                patch_sha256: "q".into(),
                ..key.clone()
            },
            GradeKey {
                task_hash: "u".into(),
                ..key.clone()
            },
            GradeKey {
                grader_version: "g2".into(),
                ..key.clone()
            },
        ] {
            assert_eq!(store.cached_grade(&other).unwrap(), None);
        }
    }

    #[test]
    fn mining_runs_keep_every_commit_in_scan_order() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("m.db")).unwrap();
        let run = store
            .start_mine_run("repo", "tasks/x", &serde_json::json!({"max": 5}))
            .unwrap();
        let row = |sha: &str, reached: &str, reason: Option<&str>| MineCommitRow {
            commit: sha.into(),
            subject: format!("subject {sha}"),
            committed_at: "2026-01-01T00:00:00Z".into(),
            reached: reached.into(),
            reason: reason.map(Into::into),
            task_id: None,
            notes: vec!["a note".into()],
            cause: reason.map(|_| "not a candidate".into()),
            evidence: reason.map(|_| crate::store::Evidence {
                stderr: "ModuleNotFoundError: No module named 'x'".into(),
                exit_code: Some(2),
                ..Default::default()
            }),
        };
        let rows = [
            row("b", "written", None),
            row("a", "scanned", Some("changes no test file")),
        ];
        for r in &rows {
            store.record_mine_commit(&run, r).unwrap();
        }
        // A commit is recorded once per run.
        assert!(store.record_mine_commit(&run, &rows[0]).is_err());
        store.finish_mine_run(&run).unwrap();
        assert_eq!(store.mine_commits(&run).unwrap(), rows);
        let latest = store.mine_run(None).unwrap().unwrap();
        assert_eq!(latest.id, run);
        assert_eq!(latest.options["max"], 5);
        assert!(latest.finished_at.is_some());
    }

    #[test]
    fn report_reads_match_full_reads_without_the_detail() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("m.db")).unwrap();
        let mut ids = Vec::new();
        for key in ["k1", "k2", "k3"] {
            let e = store
                .open_evaluation(
                    NewEvaluation {
                        attempts: 2,
                        ..evaluation(key)
                    },
                    true,
                )
                .unwrap();
            let mut a = attempt(&e.id, 1);
            a.grade_json = Some("{\"tests\": []}".into());
            let b = attempt(&e.id, 2);
            store.record_attempts(&[a, b]).unwrap();
            ids.push(e.id);
        }
        let lean = store.attempts_for_reports(&ids).unwrap();
        assert_eq!(lean.len(), 3);
        for (id, rows) in ids.iter().zip(&lean) {
            let full = store.attempts(id).unwrap();
            assert_eq!(rows.len(), full.len());
            for (l, f) in rows.iter().zip(&full) {
                assert_eq!(
                    (l.id, &l.key.eval_id, l.key.attempt),
                    (f.id, &f.key.eval_id, f.key.attempt)
                );
                assert!(l.grade.is_none(), "reports never read the grade detail");
            }
            assert!(full[0].grade.is_some());
        }
    }

    #[test]
    fn migrations_are_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("m.db");
        drop(Store::open(&p).unwrap());
        let s = Store::open(&p).unwrap();
        let v: i64 = s
            .with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(v as usize, migrations::LATEST);
    }
}
