//! Versioned schema migrations, tracked in SQLite's `user_version`.

use rusqlite::Connection;

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the core loop.
    "CREATE TABLE evaluations (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        suite TEXT NOT NULL,
        suite_dir TEXT NOT NULL,
        agents_json TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        mergebench_version TEXT NOT NULL,
        label TEXT
    );
    CREATE INDEX evaluations_key ON evaluations(key);
    CREATE TABLE tasks (
        hash TEXT PRIMARY KEY,
        suite TEXT NOT NULL,
        task_id TEXT NOT NULL,
        title TEXT NOT NULL,
        created TEXT,
        spec_json TEXT NOT NULL
    );
    CREATE TABLE agents (
        hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        spec_json TEXT NOT NULL
    );
    CREATE TABLE patches (
        sha256 TEXT PRIMARY KEY,
        bytes BLOB NOT NULL,
        size INTEGER NOT NULL,
        files INTEGER NOT NULL,
        added INTEGER NOT NULL,
        removed INTEGER NOT NULL
    );
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        eval_id TEXT NOT NULL REFERENCES evaluations(id),
        task_id TEXT NOT NULL,
        task_hash TEXT NOT NULL,
        agent TEXT NOT NULL,
        agent_hash TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        flags_json TEXT NOT NULL,
        agent_exit_code INTEGER,
        patch_sha256 TEXT REFERENCES patches(sha256),
        raw_patch_sha256 TEXT REFERENCES patches(sha256),
        grade_json TEXT,
        error TEXT,
        env_image TEXT,
        agent_image TEXT,
        agent_seconds REAL,
        grade_seconds REAL,
        total_seconds REAL,
        usage_json TEXT,
        cost_usd REAL,
        input_tokens INTEGER,
        output_tokens INTEGER,
        mergebench_version TEXT NOT NULL,
        grader_version TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        infra_retries INTEGER NOT NULL DEFAULT 0,
        files_changed INTEGER NOT NULL DEFAULT 0,
        lines_added INTEGER NOT NULL DEFAULT 0,
        lines_removed INTEGER NOT NULL DEFAULT 0,
        UNIQUE(eval_id, task_id, agent, attempt)
    );
    CREATE INDEX attempts_agent ON attempts(agent);
    CREATE TABLE grades (
        patch_sha256 TEXT NOT NULL,
        task_hash TEXT NOT NULL,
        grader_version TEXT NOT NULL,
        env_image TEXT NOT NULL,
        result_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (patch_sha256, task_hash, grader_version)
    );
    CREATE TABLE logs (
        attempt_id INTEGER NOT NULL REFERENCES attempts(id),
        kind TEXT NOT NULL,
        bytes BLOB NOT NULL,
        total_bytes INTEGER NOT NULL,
        truncated INTEGER NOT NULL,
        PRIMARY KEY (attempt_id, kind)
    );
    CREATE TABLE artifacts (
        attempt_id INTEGER NOT NULL REFERENCES attempts(id),
        name TEXT NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (attempt_id, name)
    );",
    // 2: the LLM judge. Samples are cached per (patch, task, judge version, sample); every
    // request to a provider is recorded with what it cost; judgements attach to attempts.
    "CREATE TABLE judge_samples (
        patch_sha256 TEXT NOT NULL,
        task_hash TEXT NOT NULL,
        judge_version TEXT NOT NULL,
        sample INTEGER NOT NULL,
        judge TEXT NOT NULL,
        model TEXT,
        verdict_json TEXT,
        error TEXT,
        input_tokens INTEGER,
        output_tokens INTEGER,
        cost_usd REAL,
        requests INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (patch_sha256, task_hash, judge_version, sample)
    );
    CREATE TABLE judge_calls (
        id INTEGER PRIMARY KEY,
        judge TEXT NOT NULL,
        judge_version TEXT NOT NULL,
        patch_sha256 TEXT,
        task_hash TEXT,
        sample INTEGER,
        purpose TEXT NOT NULL,
        status INTEGER,
        error TEXT,
        input_tokens INTEGER,
        output_tokens INTEGER,
        cost_usd REAL,
        seconds REAL NOT NULL,
        mergebench_version TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE judgements (
        attempt_id INTEGER NOT NULL REFERENCES attempts(id),
        judge TEXT NOT NULL,
        judge_version TEXT NOT NULL,
        model TEXT,
        verdict TEXT,
        error TEXT,
        agreement REAL,
        samples INTEGER NOT NULL,
        injection_suspected INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd REAL,
        result_json TEXT NOT NULL,
        mergebench_version TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (attempt_id, judge_version)
    );",
    // 3: the conventions scorer. Results are cached per (patch, task, scorer version); the
    // attempt keeps its own copy for results and reports.
    "CREATE TABLE convention_results (
        patch_sha256 TEXT NOT NULL,
        task_hash TEXT NOT NULL,
        version TEXT NOT NULL,
        result_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (patch_sha256, task_hash, version)
    );
    ALTER TABLE attempts ADD COLUMN conventions_json TEXT;",
    // 4: `tasks mine` runs and the fate of every commit they looked at (the survival funnel).
    "CREATE TABLE mine_runs (
        id TEXT PRIMARY KEY,
        repo TEXT NOT NULL,
        suite_dir TEXT NOT NULL,
        options_json TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        mergebench_version TEXT NOT NULL
    );
    CREATE TABLE mine_commits (
        run_id TEXT NOT NULL REFERENCES mine_runs(id),
        seq INTEGER NOT NULL,
        commit_sha TEXT NOT NULL,
        subject TEXT NOT NULL,
        committed_at TEXT NOT NULL,
        reached TEXT NOT NULL,
        reason TEXT,
        task_id TEXT,
        notes_json TEXT NOT NULL,
        PRIMARY KEY (run_id, commit_sha)
    );",
    // 5: allowlisted egress: what the agent's proxy passed and refused, per destination.
    "ALTER TABLE attempts ADD COLUMN egress_json TEXT;",
    // 6: human review. Reviewers log in with a token whose hash alone is stored. An item is
    // a (task, patch) drawn into the queue, split once into dev or holdout by a salted hash.
    // Labels are immutable (the triggers refuse UPDATE and DELETE): a change is a new row and
    // the latest row of a reviewer counts. Checkpoint verdicts are the judge's answers on the
    // items, one row per judging run, so drift can be followed week by week.
    "CREATE TABLE reviewers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        token_sha256 TEXT UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE holdout_salts (
        suite TEXT PRIMARY KEY,
        salt TEXT NOT NULL,
        fraction REAL NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE label_items (
        id INTEGER PRIMARY KEY,
        suite TEXT NOT NULL,
        eval_id TEXT NOT NULL REFERENCES evaluations(id),
        attempt_id INTEGER NOT NULL REFERENCES attempts(id),
        task_id TEXT NOT NULL,
        task_hash TEXT NOT NULL,
        patch_sha256 TEXT NOT NULL REFERENCES patches(sha256),
        split TEXT NOT NULL CHECK (split IN ('dev', 'holdout')),
        overlap INTEGER NOT NULL,
        stratum TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (task_hash, patch_sha256)
    );
    CREATE TABLE label_assignments (
        item_id INTEGER NOT NULL REFERENCES label_items(id),
        reviewer_id INTEGER NOT NULL REFERENCES reviewers(id),
        assigned_at TEXT NOT NULL,
        PRIMARY KEY (item_id, reviewer_id)
    );
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES label_items(id),
        reviewer_id INTEGER NOT NULL REFERENCES reviewers(id),
        verdict TEXT NOT NULL CHECK (verdict IN ('merge', 'revise', 'reject')),
        reasons_json TEXT NOT NULL,
        comment TEXT NOT NULL,
        seconds REAL,
        rubric_version TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX labels_item ON labels(item_id, reviewer_id);
    CREATE TRIGGER labels_are_immutable BEFORE UPDATE ON labels
        BEGIN SELECT RAISE(ABORT, 'labels are immutable: record a new label instead'); END;
    CREATE TRIGGER labels_are_kept BEFORE DELETE ON labels
        BEGIN SELECT RAISE(ABORT, 'labels are immutable: record a new label instead'); END;
    CREATE TABLE checkpoint_verdicts (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES label_items(id),
        judge TEXT NOT NULL,
        judge_version TEXT NOT NULL,
        model TEXT,
        verdict TEXT,
        error TEXT,
        judged_at TEXT NOT NULL
    );
    CREATE INDEX checkpoint_verdicts_item ON checkpoint_verdicts(item_id, judge_version);",
    // 7: why each mined commit was dropped, and the evidence (build log, both streams' tails).
    "ALTER TABLE mine_commits ADD COLUMN cause TEXT;
    ALTER TABLE mine_commits ADD COLUMN evidence_json TEXT;",
    // 8: labels stay append-only against any SQL: `INSERT OR REPLACE` on an existing id
    // would delete the old row without firing the delete trigger.
    "CREATE TRIGGER labels_are_not_replaced BEFORE INSERT ON labels
        WHEN EXISTS (SELECT 1 FROM labels WHERE id = NEW.id)
        BEGIN SELECT RAISE(ABORT, 'labels are immutable: record a new label instead'); END;",
    // 9: claims lapse. An assignment not labeled yet is a claim: skipping the item releases
    // it (released_at) and it expires after `label serve --claim-expiry`, so one reviewer
    // browsing the queue does not keep it from the others.
    "ALTER TABLE label_assignments ADD COLUMN released_at TEXT;
    CREATE INDEX label_assignments_reviewer ON label_assignments(reviewer_id, assigned_at);",
    // 10: evaluations split over machines. A shard's own evaluation says which part it ran
    // (`I/N`); each evaluation keeps the task and agent hashes it covers, so that `merge`
    // can say where two shards disagree; and a merged evaluation remembers which shard
    // evaluations it was joined from, so that merging again changes nothing.
    "ALTER TABLE evaluations ADD COLUMN shard TEXT;
    ALTER TABLE evaluations ADD COLUMN manifest_json TEXT;
    CREATE TABLE merged_shards (
        source_eval_id TEXT PRIMARY KEY,
        into_eval_id TEXT NOT NULL REFERENCES evaluations(id),
        shard TEXT NOT NULL,
        source_store TEXT NOT NULL,
        source_finished_at TEXT NOT NULL,
        merged_at TEXT NOT NULL
    );",
    // 11: reports count attempts in SQL (`store::tally`). What mergeability reads from an
    // attempt (its outcome, flags and conventions JSON) becomes two columns of counters
    // (filled here for the attempts already stored; see `tally::tally_columns`), and indexes
    // cover the counting and each attempt's latest judgement, so that a year of nights is
    // counted without parsing a row.
    "ALTER TABLE attempts ADD COLUMN tally_outcome INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE attempts ADD COLUMN tally_review INTEGER NOT NULL DEFAULT 0;
    UPDATE attempts SET
        tally_outcome = f.counted | (f.resolved << 21)
            | ((f.resolved AND f.passed IS NOT 0 AND NOT f.scope) << 42),
        tally_review = f.scope | ((f.counted AND f.passed IS NOT NULL) << 21)
            | ((f.counted AND f.passed IS 1) << 42)
    FROM (
        SELECT id,
            outcome IN ('resolved', 'unresolved', 'patch_failed', 'empty_patch', 'agent_timeout') AS counted,
            outcome = 'resolved' AS resolved,
            CASE WHEN json_valid(flags_json)
                THEN json_type(flags_json, '$.scope_violation') IS 'true' ELSE 0 END AS scope,
            CASE WHEN json_valid(conventions_json)
                THEN CASE json_type(conventions_json, '$.passed') WHEN 'true' THEN 1 WHEN 'false' THEN 0 END
                END AS passed
        FROM attempts
    ) AS f
    WHERE f.id = attempts.id;
    CREATE INDEX attempts_tally ON attempts(eval_id, agent, task_id, task_hash, attempt,
        tally_outcome, tally_review);
    CREATE INDEX judgements_latest ON judgements(attempt_id, created_at, judge_version, verdict);",
    // 12: the model gateway. What it measured over an attempt's requests (tokens, cost,
    // refusals), beside the agent's own usage.json; the `cost_usd` and token columns hold the
    // counted figures (measured when there were requests through the gateway).
    "ALTER TABLE attempts ADD COLUMN measured_json TEXT;",
];

#[cfg(test)]
pub const LATEST: usize = MIGRATIONS.len();

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
