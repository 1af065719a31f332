//! What stands behind a labeling item: its attempt, the task from the suite it ran on, and
//! its patch, built into the `ReviewInput` a judge is given. Reviewers see the same problem,
//! patch and test results; neither sees a label, the agent or the split.

use crate::config::suite::{load_suite, Suite};
use crate::error::Error;
use crate::judge::input::ReviewInput;
use crate::store::{LabelItem, Store};
use std::collections::HashMap;
use std::path::PathBuf;

/// Builds what the judge is told about an item: from its attempt, the suite it ran on and
/// its patch. Err is why the item cannot be judged.
pub fn item_input(
    store: &Store,
    suites: &mut HashMap<PathBuf, Suite>,
    item: &LabelItem,
    suite_override: Option<&PathBuf>,
) -> Result<Result<ReviewInput, String>, Error> {
    let Some(row) = store.attempt(item.subject.attempt_id)? else {
        return Ok(Err(format!(
            "item {}: attempt {} is gone",
            item.id, item.subject.attempt_id
        )));
    };
    let dir = match suite_override {
        Some(d) => d.clone(),
        None => match store.evaluation(Some(&item.subject.eval_id))? {
            Some(ev) => PathBuf::from(ev.suite_dir),
            None => {
                return Ok(Err(format!(
                    "item {}: evaluation {} is gone",
                    item.id, item.subject.eval_id
                )))
            }
        },
    };
    if !suites.contains_key(&dir) {
        suites.insert(dir.clone(), load_suite(&dir)?);
    }
    let suite = &suites[&dir];
    let Some(task) = suite
        .tasks
        .iter()
        .find(|t| t.hash == item.subject.task_hash)
    else {
        return Ok(Err(format!(
            "item {}: task {} with hash {} is not in the suite at {} (pass --suite)",
            item.id,
            item.subject.task_id,
            &item.subject.task_hash[..item.subject.task_hash.len().min(12)],
            dir.display()
        )));
    };
    let Some(bytes) = store.patch(&item.subject.patch_sha256)? else {
        return Ok(Err(format!(
            "item {}: patch {} is missing",
            item.id, item.subject.patch_sha256
        )));
    };
    Ok(Ok(ReviewInput::build(task, &row, &bytes)))
}
