//! Labels in and out of the store, as JSONL or CSV, so labels from an earlier tool come in
//! and go out. Export writes the dev split only: held-out labels never leave for tuning.

use super::csv::{read_records, write_record};
use super::is_reason;
use super::split::split_of;
use crate::error::Error;
use crate::judge::verdict::Decision;
pub use crate::store::LabelLine;
use crate::store::{LabelBody, NewLabel, NewLabelItem, Store};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    /// `--format`, else the file's extension (`.csv` is CSV, anything else JSONL).
    pub fn pick(given: Option<&str>, path: Option<&Path>) -> Result<Format, Error> {
        match given {
            Some("jsonl") | Some("json") => Ok(Format::Jsonl),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(Error::Usage(format!(
                "unknown label format `{other}`: use jsonl or csv"
            ))),
            None => Ok(
                if path.and_then(|p| p.extension()).is_some_and(|e| e == "csv") {
                    Format::Csv
                } else {
                    Format::Jsonl
                },
            ),
        }
    }
}

pub const CSV_COLUMNS: [&str; 10] = [
    "task_id",
    "task_hash",
    "patch_sha256",
    "reviewer",
    "verdict",
    "reasons",
    "comment",
    "seconds",
    "rubric_version",
    "created_at",
];

/// The dev split's labels, history included, in the format asked for.
pub fn export(store: &Store, format: Format) -> Result<(String, usize), Error> {
    let lines: Vec<LabelLine> = store.dev_labels()?.into_iter().map(|l| l.line).collect();
    let mut out = String::new();
    match format {
        Format::Jsonl => {
            for l in &lines {
                // cannot fail: a label line is strings and numbers.
                out.push_str(&serde_json::to_string(l).expect("json"));
                out.push('\n');
            }
        }
        Format::Csv => {
            out.push_str(&write_record(&CSV_COLUMNS));
            for l in &lines {
                let reasons = l.body.reasons.join(";");
                let seconds = l.body.seconds.map(|s| format!("{s}")).unwrap_or_default();
                out.push_str(&write_record(&[
                    &l.task_id,
                    &l.task_hash,
                    &l.patch_sha256,
                    &l.reviewer,
                    &l.body.verdict,
                    &reasons,
                    &l.body.comment,
                    &seconds,
                    &l.body.rubric_version,
                    &l.created_at,
                ]));
            }
        }
    }
    Ok((out, lines.len()))
}

fn parse(text: &str, format: Format, file: &Path) -> Result<Vec<(usize, LabelLine)>, Error> {
    // A byte-order mark, as spreadsheets write before the header, is not part of it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bad = |line: usize, m: String, fix: &str| Error::input(file, Some(line), m, fix);
    match format {
        Format::Jsonl => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map(|v| (i + 1, v))
                    .map_err(|e| bad(i + 1, format!("not a label: {e}"), "one JSON object per line with task_id, task_hash, patch_sha256, reviewer, verdict and created_at"))
            })
            .collect(),
        Format::Csv => {
            let recs = read_records(text).map_err(|(l, m)| bad(l, m, "quote fields that hold commas, quotes or line breaks"))?;
            let Some((_, header)) = recs.first() else {
                return Ok(Vec::new());
            };
            let col = |name: &str| header.iter().position(|h| h.trim() == name);
            for required in ["task_id", "task_hash", "patch_sha256", "reviewer", "verdict", "created_at"] {
                if col(required).is_none() {
                    return Err(bad(1, format!("the header has no `{required}` column"), &format!("the header is: {}", CSV_COLUMNS.join(","))));
                }
            }
            recs[1..]
                .iter()
                .map(|(line, r)| {
                    let get = |name: &str| col(name).and_then(|i| r.get(i)).cloned().unwrap_or_default();
                    let seconds = get("seconds");
                    Ok((
                        *line,
                        LabelLine {
                            task_id: get("task_id"),
                            task_hash: get("task_hash"),
                            patch_sha256: get("patch_sha256"),
                            reviewer: get("reviewer"),
                            body: LabelBody {
                                verdict: get("verdict"),
                                reasons: get("reasons").split(';').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
                                comment: get("comment"),
                                seconds: if seconds.trim().is_empty() {
                                    None
                                } else {
                                    Some(seconds.trim().parse().map_err(|_| bad(*line, format!("seconds `{seconds}` is not a number"), "write a number of seconds, or leave it empty"))?)
                                },
                                rubric_version: get("rubric_version"),
                            },
                            created_at: get("created_at"),
                        },
                    ))
                })
                .collect()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub imported: usize,
    /// Already in the store (same item, reviewer and time).
    pub skipped: usize,
    /// Items the import queued because no sample had drawn them.
    pub items_added: usize,
}

/// Reads every line first and checks it, so a bad file imports nothing.
pub fn import(
    store: &Store,
    text: &str,
    format: Format,
    file: &Path,
) -> Result<ImportSummary, Error> {
    let lines = parse(text, format, file)?;
    let mut resolved = Vec::new();
    for (line, l) in &lines {
        let bad = |m: String, fix: &str| Error::input(file, Some(*line), m, fix);
        if Decision::parse(&l.body.verdict).is_none() {
            return Err(bad(
                format!(
                    "verdict `{}` is not merge, revise or reject",
                    l.body.verdict
                ),
                "use merge, revise or reject",
            ));
        }
        if let Some(r) = l.body.reasons.iter().find(|r| !is_reason(r)) {
            return Err(bad(
                format!("reason `{r}` is not a reason category"),
                &format!(
                    "use {}",
                    super::REASONS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if let Err(why) = crate::review::reviewers::checked_name(&l.reviewer) {
            return Err(bad(why, "give every label its reviewer's plain name"));
        }
        if chrono::DateTime::parse_from_rfc3339(l.created_at.trim()).is_err() {
            return Err(bad(
                format!("created_at `{}` is not a time", l.created_at),
                "write the time the label was made as RFC 3339, e.g. 2026-03-01T10:00:00Z",
            ));
        }
        if l.body.seconds.is_some_and(|s| !(s.is_finite() && s >= 0.0)) {
            return Err(bad(
                format!(
                    "seconds {:?} is not a time spent",
                    l.body.seconds.unwrap_or_default()
                ),
                "write a non-negative number of seconds, or leave it empty",
            ));
        }
        let item = store.label_item_by_content(&l.task_hash, &l.patch_sha256)?;
        let candidate = match item {
            Some(_) => None,
            None => Some(store.candidate_for(&l.task_hash, &l.patch_sha256)?.ok_or_else(|| {
                bad(
                    format!("no attempt in {} produced patch {} for task {} ({})", store.path().display(), l.patch_sha256, l.task_id, l.task_hash),
                    "import into the database that holds the evaluation these labels are about",
                )
            })?),
        };
        resolved.push((l, candidate));
    }
    let mut s = ImportSummary::default();
    for (l, candidate) in resolved {
        let item = match store.label_item_by_content(&l.task_hash, &l.patch_sha256)? {
            Some(i) => i.id,
            None => {
                // The candidate was looked up when the item was missing; an item removed
                // since then has none.
                let c = candidate.ok_or_else(|| {
                    Error::infra(format!(
                        "the label item for task {} and patch {} disappeared during the import",
                        l.task_id, l.patch_sha256
                    ))
                })?;
                let (salt, fraction) = store.holdout_salt(&c.subject.suite, None)?;
                s.items_added += store.add_label_items(&[NewLabelItem {
                    split: split_of(
                        &salt,
                        &c.subject.task_hash,
                        &c.subject.patch_sha256,
                        fraction,
                    )
                    .into(),
                    stratum: format!("{}/{}", c.agent, c.outcome),
                    subject: c.subject,
                    overlap: false,
                }])?;
                store
                    .label_item_by_content(&l.task_hash, &l.patch_sha256)?
                    .ok_or_else(|| {
                        Error::infra(format!(
                            "the label item for task {} and patch {} was not stored",
                            l.task_id, l.patch_sha256
                        ))
                    })?
                    .id
            }
        };
        let reviewer = store.reviewer_id_or_create(l.reviewer.trim())?;
        if store.label_recorded(item, reviewer, &l.created_at)? {
            s.skipped += 1;
            continue;
        }
        store.add_label(&NewLabel {
            item_id: item,
            reviewer_id: reviewer,
            body: l.body.clone(),
            source: "import".into(),
            created_at: Some(l.created_at.clone()),
        })?;
        s.imported += 1;
    }
    Ok(s)
}
