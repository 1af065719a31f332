//! `gate`: conventions and blast radius on a real diff, for CI; exit 1 when it fails.

use super::exit;
use crate::conventions::gate::{self, Source};
use crate::conventions::render;
use crate::error::Error;
use std::path::Path;

pub fn gate(
    diff: Option<String>,
    range: Option<String>,
    repo: &Path,
    format: &str,
    out: Option<&Path>,
) -> Result<i32, Error> {
    let format: render::OutputFormat = format.parse().map_err(|e: String| Error::Usage(e))?;
    let source = match (&diff, &range) {
        (Some(d), None) => Source::Diff(d),
        (None, Some(r)) => Source::Range(r),
        _ => {
            return Err(Error::Usage(
                "give exactly one of --diff FILE (or -) and --range A..B".into(),
            ))
        }
    };
    let report = gate::gate(repo, source).map_err(exit::gate_error)?;
    let text = render::render(&report, format, crate::VERSION);
    if let Some(path) = out {
        crate::report::write_report(path, &text)?;
    }
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(exit::of_check(report.passed()))
}
