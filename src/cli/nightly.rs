//! `nightly`: every suite and agent, judged, reported; exit 1 on a regression or drift alarm.

use super::{exit, open_store};
use crate::app::nightly::{nightly as run_night, NightPart, NightlyConfig};
use crate::error::Error;
use crate::run::plan::Shard;
use std::path::{Path, PathBuf};

pub async fn nightly(
    db: &Option<PathBuf>,
    config: &Path,
    shard: Option<Shard>,
    report_only: bool,
) -> Result<i32, Error> {
    let cfg = NightlyConfig::load(config)?;
    let part = match (shard, report_only) {
        (Some(s), _) => NightPart::Shard(s),
        (None, true) => NightPart::ReportOnly,
        (None, false) => NightPart::Whole,
    };
    let store = open_store(db)?;
    let outcome = run_night(&cfg, store, part, &mut |line| println!("{line}")).await?;
    Ok(exit::of_night(outcome))
}
