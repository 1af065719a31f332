//! `nightly`: every suite and agent, judged, reported; exit 1 on a regression or drift alarm.

use super::{exit, open_store};
use crate::app::nightly::{nightly as run_night, NightlyConfig};
use crate::error::Error;
use std::path::{Path, PathBuf};

pub async fn nightly(db: &Option<PathBuf>, config: &Path) -> Result<i32, Error> {
    let cfg = NightlyConfig::load(config)?;
    let store = open_store(db)?;
    let outcome = run_night(&cfg, store, &mut |line| println!("{line}")).await?;
    Ok(exit::of_night(outcome))
}
