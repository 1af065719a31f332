//! Human review in the store: reviewers, the labeling queue (items, their split, who each is
//! assigned to), immutable labels, and the judge's verdicts on the items (checkpoints).
//!
//! The holdout wall lives here. Label contents (verdict, reasons, comment) are read by two
//! methods only: `dev_labels`, which filters the dev split in its SQL, and `drift_labels`,
//! which feeds the drift computation. Everything else sees whether a label exists, never what
//! it says. A test below reads this module's source and fails when a query breaks that rule.

use super::{now, Store};
use crate::error::Error;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct Reviewer {
    pub id: i64,
    pub name: String,
    /// False for reviewers that came in with imported labels and were never given a token.
    pub can_log_in: bool,
    pub created_at: String,
}

/// The attempt, and through it the (task, patch), that a labeling item puts before reviewers.
#[derive(Debug, Clone, Serialize)]
pub struct LabelSubject {
    pub suite: String,
    pub eval_id: String,
    pub attempt_id: i64,
    pub task_id: String,
    pub task_hash: String,
    pub patch_sha256: String,
}

/// Reads a subject from six columns in `LabelSubject`'s order, starting at `at`.
fn subject_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<LabelSubject> {
    Ok(LabelSubject {
        suite: r.get(at)?,
        eval_id: r.get(at + 1)?,
        attempt_id: r.get(at + 2)?,
        task_id: r.get(at + 3)?,
        task_hash: r.get(at + 4)?,
        patch_sha256: r.get(at + 5)?,
    })
}

/// An attempt whose (task, patch) could become a labeling item.
#[derive(Debug, Clone, Serialize)]
pub struct LabelCandidate {
    #[serde(flatten)]
    pub subject: LabelSubject,
    pub agent: String,
    pub outcome: String,
}

#[derive(Debug, Clone)]
pub struct NewLabelItem {
    pub subject: LabelSubject,
    /// `dev` or `holdout`.
    pub split: String,
    /// Needs two different reviewers: the reviewers' own agreement is measured on these.
    pub overlap: bool,
    pub stratum: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabelItem {
    pub id: i64,
    #[serde(flatten)]
    pub subject: LabelSubject,
    pub split: String,
    pub overlap: bool,
    pub created_at: String,
}

/// What a reviewer said of an item: the verdict, its reasons and comment, the time taken
/// and the rubric it was given under. The same in the store, the web form and a label file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelBody {
    pub verdict: String,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub seconds: Option<f64>,
    #[serde(default)]
    pub rubric_version: String,
}

#[derive(Debug, Clone)]
pub struct NewLabel {
    pub item_id: i64,
    pub reviewer_id: i64,
    pub body: LabelBody,
    /// `web` or `import`.
    pub source: String,
    /// Kept from an import; now otherwise.
    pub created_at: Option<String>,
}

/// One label as it travels: the item by content (task hash, patch sha256), never by row id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelLine {
    pub task_id: String,
    pub task_hash: String,
    pub patch_sha256: String,
    pub reviewer: String,
    #[serde(flatten)]
    pub body: LabelBody,
    pub created_at: String,
}

/// A stored label: its line, with the row id and where it came from (`web` or `import`).
#[derive(Debug, Clone, Serialize)]
pub struct LabelRecord {
    pub id: i64,
    #[serde(flatten)]
    pub line: LabelLine,
    pub source: String,
}

/// A reviewer's latest verdict on an item, for the drift computation.
#[derive(Debug, Clone)]
pub struct DriftLabel {
    pub item_id: i64,
    pub split: String,
    pub reviewer_id: i64,
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointVerdict {
    pub item_id: i64,
    pub judge: String,
    pub judge_version: String,
    pub model: Option<String>,
    /// None: a judge_error.
    pub verdict: Option<String>,
    pub judged_at: String,
}

/// One item in a reviewer's queue, in the order it was assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSlot {
    pub item_id: i64,
    pub labeled: bool,
}

/// How long a claim on an item lasts and how many unlabeled items a reviewer holds at once.
/// A claim is an assignment the reviewer has not labeled yet: it lapses when it expires or
/// when the reviewer skips the item, and the item goes back to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimPolicy {
    pub expiry: std::time::Duration,
    pub max_held: usize,
}

impl ClaimPolicy {
    /// 30 minutes per claim, 3 unlabeled items per reviewer (docs/labeling.md).
    pub const DEFAULT_EXPIRY: std::time::Duration = std::time::Duration::from_secs(30 * 60);
    pub const DEFAULT_MAX_HELD: usize = 3;

    /// Claims made before this moment have expired (same text form as `now()`, so the
    /// comparison is the text order).
    fn cutoff(&self) -> String {
        let expiry = chrono::Duration::from_std(self.expiry).unwrap_or(chrono::Duration::MAX);
        let at = chrono::Utc::now()
            .checked_sub_signed(expiry)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

impl Default for ClaimPolicy {
    fn default() -> Self {
        ClaimPolicy {
            expiry: Self::DEFAULT_EXPIRY,
            max_held: Self::DEFAULT_MAX_HELD,
        }
    }
}

/// SQL: assignment `s` has its reviewer's label (whether one exists, never what it says).
const LABELED: &str =
    "EXISTS (SELECT 1 FROM labels l WHERE l.item_id = s.item_id AND l.reviewer_id = s.reviewer_id)";
/// SQL: assignment `s` takes a place on its item: labeled, or a claim neither released nor
/// older than the cutoff (parameter 2).
const COUNTS: &str =
    "EXISTS (SELECT 1 FROM labels l WHERE l.item_id = s.item_id AND l.reviewer_id = s.reviewer_id)
     OR (s.released_at IS NULL AND s.assigned_at >= ?2)";
/// SQL: item `i` has room for another reviewer (two places for an overlap item).
const ROOM: &str = "(SELECT count(*) FROM label_assignments s WHERE s.item_id = i.id
       AND (EXISTS (SELECT 1 FROM labels l WHERE l.item_id = s.item_id AND l.reviewer_id = s.reviewer_id)
            OR (s.released_at IS NULL AND s.assigned_at >= ?2))) < (CASE WHEN i.overlap THEN 2 ELSE 1 END)";

/// Releases the reviewer's oldest live claims until a new one fits under `max_held`.
fn release_over_cap(
    tx: &rusqlite::Transaction<'_>,
    reviewer_id: i64,
    cutoff: &str,
    max_held: usize,
) -> rusqlite::Result<()> {
    let keep = max_held.max(1) - 1;
    tx.execute(
        &format!(
            "UPDATE label_assignments SET released_at = ?3 WHERE rowid IN (
                SELECT s.rowid FROM label_assignments s
                WHERE s.reviewer_id = ?1 AND s.released_at IS NULL AND s.assigned_at >= ?2 AND NOT {LABELED}
                ORDER BY s.assigned_at DESC, s.rowid DESC LIMIT -1 OFFSET ?4)"
        ),
        params![reviewer_id, cutoff, now(), keep as i64],
    )?;
    Ok(())
}

const ITEM_COLUMNS: &str =
    "id, suite, eval_id, attempt_id, task_id, task_hash, patch_sha256, split, overlap, created_at";

fn item_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LabelItem> {
    Ok(LabelItem {
        id: r.get(0)?,
        subject: subject_row(r, 1)?,
        split: r.get(7)?,
        overlap: r.get(8)?,
        created_at: r.get(9)?,
    })
}

const REVIEWER_COLUMNS: &str = "id, name, token_sha256 IS NOT NULL, created_at";

fn reviewer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Reviewer> {
    Ok(Reviewer {
        id: r.get(0)?,
        name: r.get(1)?,
        can_log_in: r.get(2)?,
        created_at: r.get(3)?,
    })
}

fn candidate_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LabelCandidate> {
    Ok(LabelCandidate {
        subject: subject_row(r, 0)?,
        agent: r.get(6)?,
        outcome: r.get(7)?,
    })
}

const CANDIDATE_SELECT: &str = "SELECT e.suite, a.eval_id, a.id, a.task_id, a.task_hash, a.raw_patch_sha256, a.agent, a.outcome
     FROM attempts a JOIN evaluations e ON e.id = a.eval_id JOIN patches p ON p.sha256 = a.raw_patch_sha256
     WHERE p.size > 0 AND a.outcome != 'infra_error'";

impl Store {
    /// A new reviewer; `token_sha256` None makes one who cannot log in (imported labels).
    pub fn add_reviewer(&self, name: &str, token_sha256: Option<&str>) -> Result<i64, Error> {
        let exists = self.with(|c| {
            c.query_row(
                "SELECT 1 FROM reviewers WHERE name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()
        })?;
        if exists.is_some() {
            return Err(Error::Usage(format!(
                "reviewer `{name}` exists already: choose another name"
            )));
        }
        self.with(|c| {
            c.execute(
                "INSERT INTO reviewers (name, token_sha256, created_at) VALUES (?1, ?2, ?3)",
                params![name, token_sha256, now()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// The reviewer with this name, created (without a token) when missing: for imports.
    pub fn reviewer_id_or_create(&self, name: &str) -> Result<i64, Error> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO reviewers (name, token_sha256, created_at) VALUES (?1, NULL, ?2)",
                params![name, now()],
            )?;
            c.query_row("SELECT id FROM reviewers WHERE name = ?1", [name], |r| {
                r.get(0)
            })
        })
    }

    pub fn reviewer_by_token(&self, token_sha256: &str) -> Result<Option<Reviewer>, Error> {
        self.optional_row(
            &format!("SELECT {REVIEWER_COLUMNS} FROM reviewers WHERE token_sha256 = ?1"),
            [token_sha256],
            reviewer_row,
        )
    }

    pub fn reviewers(&self) -> Result<Vec<Reviewer>, Error> {
        self.all_rows(
            &format!("SELECT {REVIEWER_COLUMNS} FROM reviewers ORDER BY id"),
            [],
            reviewer_row,
        )
    }

    /// The suite's holdout salt and fraction, made on first use. The fraction is fixed then:
    /// a different one later would move items across the wall, so it is refused.
    pub fn holdout_salt(&self, suite: &str, wanted: Option<f64>) -> Result<(String, f64), Error> {
        let found: Option<(String, f64)> = self.with(|c| {
            c.query_row(
                "SELECT salt, fraction FROM holdout_salts WHERE suite = ?1",
                [suite],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })?;
        match (found, wanted) {
            (Some((salt, f)), Some(w)) if (f - w).abs() > 1e-9 => {
                let _ = salt;
                Err(Error::Usage(format!(
                    "suite `{suite}` splits its items with --holdout {f} (fixed when its first items were sampled); \
                     another fraction would move labeled items across the holdout wall: drop --holdout or pass {f}"
                )))
            }
            (Some(found), _) => Ok(found),
            (None, wanted) => {
                let fraction = wanted.unwrap_or(0.5);
                let salt = hex::encode(rand::random::<[u8; 16]>());
                self.with(|c| {
                    c.execute(
                        "INSERT INTO holdout_salts (suite, salt, fraction, created_at) VALUES (?1, ?2, ?3, ?4)",
                        params![suite, salt, fraction, now()],
                    )
                })?;
                Ok((salt, fraction))
            }
        }
    }

    /// Attempts of an evaluation with a non-empty patch whose (task, patch) is not queued yet.
    pub fn label_candidates(&self, eval_id: &str) -> Result<Vec<LabelCandidate>, Error> {
        self.all_rows(
            &format!(
                "{CANDIDATE_SELECT} AND a.eval_id = ?1
                 AND NOT EXISTS (SELECT 1 FROM label_items i WHERE i.task_hash = a.task_hash AND i.patch_sha256 = a.raw_patch_sha256)
                 ORDER BY a.id"
            ),
            [eval_id],
            candidate_row,
        )
    }

    /// The latest attempt that produced this patch for this task, in any evaluation.
    pub fn candidate_for(
        &self,
        task_hash: &str,
        patch_sha256: &str,
    ) -> Result<Option<LabelCandidate>, Error> {
        self.optional_row(
            &format!("{CANDIDATE_SELECT} AND a.task_hash = ?1 AND a.raw_patch_sha256 = ?2 ORDER BY a.id DESC LIMIT 1"),
            params![task_hash, patch_sha256],
            candidate_row,
        )
    }

    /// Queues items (an item already queued is left as it is); returns how many were added.
    pub fn add_label_items(&self, items: &[NewLabelItem]) -> Result<usize, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut added = 0;
            for i in items {
                added += tx.execute(
                    "INSERT OR IGNORE INTO label_items (suite, eval_id, attempt_id, task_id, task_hash, patch_sha256, split, overlap, stratum, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![i.subject.suite, i.subject.eval_id, i.subject.attempt_id, i.subject.task_id, i.subject.task_hash, i.subject.patch_sha256, i.split, i.overlap, i.stratum, now()],
                )?;
            }
            tx.commit()?;
            Ok(added)
        })
    }

    pub fn label_item(&self, id: i64) -> Result<Option<LabelItem>, Error> {
        self.optional_row(
            &format!("SELECT {ITEM_COLUMNS} FROM label_items WHERE id = ?1"),
            [id],
            item_row,
        )
    }

    pub fn label_item_by_content(
        &self,
        task_hash: &str,
        patch_sha256: &str,
    ) -> Result<Option<LabelItem>, Error> {
        self.optional_row(
            &format!(
                "SELECT {ITEM_COLUMNS} FROM label_items WHERE task_hash = ?1 AND patch_sha256 = ?2"
            ),
            params![task_hash, patch_sha256],
            item_row,
        )
    }

    /// Every queued item, dev and holdout alike: items are not labels.
    pub fn label_items(&self) -> Result<Vec<LabelItem>, Error> {
        self.all_rows(
            &format!("SELECT {ITEM_COLUMNS} FROM label_items ORDER BY id"),
            [],
            item_row,
        )
    }

    /// A reviewer's queue in assignment order, with whether they labeled each item (not
    /// what): the items they labeled and the claims they still hold (not released by a
    /// skip, not expired).
    pub fn queue_of(
        &self,
        reviewer_id: i64,
        claims: &ClaimPolicy,
    ) -> Result<Vec<QueueSlot>, Error> {
        let cutoff = claims.cutoff();
        self.all_rows(
            &format!(
                "SELECT s.item_id, {LABELED} FROM label_assignments s
                 WHERE s.reviewer_id = ?1 AND ({COUNTS}) ORDER BY s.assigned_at, s.rowid"
            ),
            params![reviewer_id, cutoff],
            |r| {
                Ok(QueueSlot {
                    item_id: r.get(0)?,
                    labeled: r.get(1)?,
                })
            },
        )
    }

    /// Claims for the reviewer the next item that still needs a reviewer (two for overlap
    /// items, never the same reviewer twice). Expired and released claims leave room for
    /// others; an item this reviewer released comes back to them only after every other, the
    /// one released longest ago first. A reviewer at `max_held` claims gives up the oldest
    /// first. None when the queue has nothing left for them.
    pub fn claim_next(&self, reviewer_id: i64, claims: &ClaimPolicy) -> Result<Option<i64>, Error> {
        let cutoff = claims.cutoff();
        self.with(|c| {
            let tx = c.transaction()?;
            let next: Option<i64> = tx
                .query_row(
                    &format!(
                        "SELECT i.id FROM label_items i LEFT JOIN label_assignments mine
                           ON mine.item_id = i.id AND mine.reviewer_id = ?1
                         WHERE {ROOM}
                           AND NOT EXISTS (SELECT 1 FROM label_assignments s WHERE s.item_id = i.id AND s.reviewer_id = ?1 AND ({COUNTS}))
                         ORDER BY mine.item_id IS NOT NULL, coalesce(mine.released_at, mine.assigned_at), i.id LIMIT 1"
                    ),
                    params![reviewer_id, cutoff],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = next {
                release_over_cap(&tx, reviewer_id, &cutoff, claims.max_held)?;
                tx.execute(
                    "INSERT INTO label_assignments (item_id, reviewer_id, assigned_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (item_id, reviewer_id) DO UPDATE SET assigned_at = excluded.assigned_at, released_at = NULL",
                    params![id, reviewer_id, now()],
                )?;
            }
            tx.commit()?;
            Ok(next)
        })
    }

    /// Gives up the reviewer's claim on an item they have not labeled (a skip), so another
    /// reviewer can take it. Returns whether a claim was released.
    pub fn release_claim(&self, item_id: i64, reviewer_id: i64) -> Result<bool, Error> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE label_assignments SET released_at = ?3
                 WHERE item_id = ?1 AND reviewer_id = ?2 AND released_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.item_id = ?1 AND l.reviewer_id = ?2)",
                params![item_id, reviewer_id, now()],
            )?;
            Ok(n > 0)
        })
    }

    /// Whether the item is the reviewer's to see and label: they labeled it, or hold a
    /// live claim on it, or held one that lapsed (expired or released) while the item still
    /// has room, in which case the claim is taken again, within the reviewer's cap.
    pub fn hold(
        &self,
        item_id: i64,
        reviewer_id: i64,
        claims: &ClaimPolicy,
    ) -> Result<bool, Error> {
        let cutoff = claims.cutoff();
        self.with(|c| {
            let tx = c.transaction()?;
            let counted: bool = tx.query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM label_assignments s WHERE s.item_id = ?1 AND s.reviewer_id = ?3 AND ({COUNTS}))"
                ),
                params![item_id, cutoff, reviewer_id],
                |r| r.get(0),
            )?;
            if counted {
                return Ok(true);
            }
            // Only a reviewer who held it before, and only while nobody filled its place.
            let lapsed: bool = tx.query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM label_items i JOIN label_assignments mine ON mine.item_id = i.id AND mine.reviewer_id = ?3
                                    WHERE i.id = ?1 AND {ROOM})"
                ),
                params![item_id, cutoff, reviewer_id],
                |r| r.get(0),
            )?;
            if !lapsed {
                return Ok(false);
            }
            release_over_cap(&tx, reviewer_id, &cutoff, claims.max_held)?;
            tx.execute(
                "UPDATE label_assignments SET assigned_at = ?3, released_at = NULL WHERE item_id = ?1 AND reviewer_id = ?2",
                params![item_id, reviewer_id, now()],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    /// Labels the whole queue needs (two for an overlap item) and how many it has (counting
    /// one per reviewer and item, however often they changed their mind).
    pub fn queue_totals(&self) -> Result<(u64, u64), Error> {
        self.with(|c| {
            let needed: i64 = c.query_row(
                "SELECT coalesce(sum(CASE WHEN overlap THEN 2 ELSE 1 END), 0) FROM label_items",
                [],
                |r| r.get(0),
            )?;
            let done: i64 = c.query_row(
                "SELECT count(*) FROM (SELECT DISTINCT item_id, reviewer_id FROM labels)",
                [],
                |r| r.get(0),
            )?;
            Ok((needed as u64, done.min(needed) as u64))
        })
    }

    /// Appends a label; an earlier label of the same reviewer stays, the latest counts. The
    /// labeling reviewer is assigned the item if they were not (imports).
    pub fn add_label(&self, l: &NewLabel) -> Result<i64, Error> {
        // Each reason once, in the order first given: a form or file repeating one a
        // hundred thousand times stores it once.
        let mut reasons: Vec<&str> = Vec::new();
        for r in &l.body.reasons {
            if !reasons.contains(&r.as_str()) {
                reasons.push(r);
            }
        }
        let reasons_json = serde_json::to_string(&reasons).unwrap_or_else(|_| "[]".into());
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT OR IGNORE INTO label_assignments (item_id, reviewer_id, assigned_at) VALUES (?1, ?2, ?3)",
                params![l.item_id, l.reviewer_id, now()],
            )?;
            tx.execute(
                "INSERT INTO labels (item_id, reviewer_id, verdict, reasons_json, comment, seconds, rubric_version, source, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    l.item_id, l.reviewer_id, l.body.verdict, reasons_json,
                    l.body.comment, l.body.seconds, l.body.rubric_version, l.source, l.created_at.clone().unwrap_or_else(now)
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(id)
        })
    }

    /// Whether this reviewer's label of this item made at this moment is stored (imports
    /// skip what they brought in before).
    pub fn label_recorded(
        &self,
        item_id: i64,
        reviewer_id: i64,
        created_at: &str,
    ) -> Result<bool, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM labels WHERE item_id = ?1 AND reviewer_id = ?2 AND created_at = ?3)",
                params![item_id, reviewer_id, created_at],
                |r| r.get(0),
            )
        })
    }

    /// Every label of the dev split, history included, oldest first. Held-out labels are
    /// filtered in the SQL itself: this is what `labels export` and any tuning reads.
    pub fn dev_labels(&self) -> Result<Vec<LabelRecord>, Error> {
        self.with(|c| {
            c.prepare(
                "SELECT l.id, i.task_id, i.task_hash, i.patch_sha256, r.name, l.verdict, l.reasons_json, l.comment,
                        l.seconds, l.rubric_version, l.source, l.created_at
                 FROM labels l JOIN label_items i ON i.id = l.item_id JOIN reviewers r ON r.id = l.reviewer_id
                 WHERE i.split = 'dev' ORDER BY l.id",
            )?
            .query_map([], |r| {
                Ok(LabelRecord {
                    id: r.get(0)?,
                    line: LabelLine {
                        task_id: r.get(1)?,
                        task_hash: r.get(2)?,
                        patch_sha256: r.get(3)?,
                        reviewer: r.get(4)?,
                        body: LabelBody {
                            verdict: r.get(5)?,
                            reasons: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
                            comment: r.get(7)?,
                            seconds: r.get(8)?,
                            rubric_version: r.get(9)?,
                        },
                        created_at: r.get(11)?,
                    },
                    source: r.get(10)?,
                })
            })?
            .collect()
        })
    }

    /// Each reviewer's latest verdict on each item, both splits. The one read of held-out
    /// labels: only the drift computation calls it.
    pub fn drift_labels(&self) -> Result<Vec<DriftLabel>, Error> {
        self.all_rows(
            "SELECT l.item_id, i.split, l.reviewer_id, l.verdict
             FROM labels l JOIN label_items i ON i.id = l.item_id
             WHERE l.id = (SELECT max(l2.id) FROM labels l2 WHERE l2.item_id = l.item_id AND l2.reviewer_id = l.reviewer_id)
             ORDER BY l.item_id, l.reviewer_id",
            [],
            |r| {
                Ok(DriftLabel {
                    item_id: r.get(0)?,
                    split: r.get(1)?,
                    reviewer_id: r.get(2)?,
                    verdict: r.get(3)?,
                })
            },
        )
    }

    pub fn save_checkpoint_verdict(
        &self,
        v: &CheckpointVerdict,
        error: Option<&str>,
    ) -> Result<(), Error> {
        self.exec(
            "INSERT INTO checkpoint_verdicts (item_id, judge, judge_version, model, verdict, error, judged_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![v.item_id, v.judge, v.judge_version, v.model, v.verdict, error, v.judged_at],
        )
    }

    pub fn checkpoint_verdicts(&self) -> Result<Vec<CheckpointVerdict>, Error> {
        self.all_rows(
            "SELECT item_id, judge, judge_version, model, verdict, judged_at FROM checkpoint_verdicts ORDER BY id",
            [],
            |r| {
                Ok(CheckpointVerdict {
                    item_id: r.get(0)?,
                    judge: r.get(1)?,
                    judge_version: r.get(2)?,
                    model: r.get(3)?,
                    verdict: r.get(4)?,
                    judged_at: r.get(5)?,
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    /// The holdout wall, read from the source: a function of the store that reads the labels
    /// table and selects what a label says must filter the dev split, or be `drift_labels`.
    #[test]
    fn only_dev_labels_and_drift_labels_read_what_a_label_says() {
        let sources = [include_str!("labels.rs"), include_str!("mod.rs")];
        let content = ["verdict", "reasons_json", "comment", "seconds"];
        let mut readers = Vec::new();
        for src in sources {
            let code = src.split("#[cfg(test)]").next().unwrap();
            for chunk in code.split("    pub fn ").skip(1) {
                let name: String = chunk
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let reads = chunk.contains("FROM labels") || chunk.contains("JOIN labels");
                if !reads {
                    continue;
                }
                // The SQL of a reader, where it selects columns of `labels`.
                let says = content.iter().any(|col| {
                    chunk.contains(&format!("l.{col}")) || chunk.contains(&format!("SELECT {col}"))
                });
                if says {
                    readers.push(name.clone());
                    assert!(
                        name == "drift_labels" || chunk.contains("WHERE i.split = 'dev'"),
                        "`{name}` reads label contents without filtering the dev split"
                    );
                }
            }
        }
        readers.sort();
        assert_eq!(readers, ["dev_labels", "drift_labels"]);
    }
}
