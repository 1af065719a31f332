//! `report leaderboard`, `report compare` and `report drift`.

use super::args::{DriftArgs, ReportCommand};
use super::{exit, print, read_store};
use crate::error::Error;
use std::path::{Path, PathBuf};

pub fn report(db: &Option<PathBuf>, command: ReportCommand) -> Result<i32, Error> {
    use crate::report::{render, Format};
    match command {
        ReportCommand::Drift { format, out, opts } => report_drift(db, format, out, opts),
        ReportCommand::Leaderboard {
            eval,
            format,
            out,
            since,
            history,
            alpha,
            correction,
        } => {
            let correction: crate::report::history::Correction = correction
                .parse()
                .map_err(|e: String| Error::Usage(format!("--correction: {e}")))?;
            if let Some(s) = &since {
                if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
                    return Err(Error::Usage(format!(
                        "--since {s} is not a date: write it as YYYY-MM-DD"
                    )));
                }
            }
            if !(alpha > 0.0 && alpha < 1.0) {
                return Err(Error::Usage("--alpha must be between 0 and 1".into()));
            }
            let format = report_format(format.as_deref(), out.as_deref(), Format::Markdown)?;
            let store = read_store(db)?;
            let lb = crate::report::leaderboard_from_store(
                &store,
                eval.as_deref(),
                history.max(1),
                &crate::report::leaderboard::LeaderboardOptions {
                    calibration: crate::review::drift::held_out_calibrations(&store)?,
                    since,
                    policy: crate::report::history::RegressionPolicy {
                        alpha,
                        min_drop: 0.0,
                        correction,
                    },
                },
            )?;
            print::emit(&render::leaderboard(&lb, format), out.as_deref())?;
            Ok(exit::OK)
        }
        ReportCommand::Power {
            diff,
            base_rate,
            attempts,
            eval,
            a,
            b,
            format,
        } => {
            use crate::report::power::{plan, render_text, PowerRequest};
            if !(diff > 0.0 && diff < 100.0) {
                return Err(Error::Usage(format!(
                    "--diff {diff} is not a difference in points: give one between 0 and 100, e.g. --diff 5"
                )));
            }
            if let Some(r) = base_rate {
                if !(r > 0.0 && r < 1.0) {
                    return Err(Error::Usage(format!(
                        "--base-rate {r} is not a share: give one between 0 and 1, e.g. --base-rate 0.4"
                    )));
                }
            }
            if attempts == Some(0) {
                return Err(Error::Usage(
                    "--attempts 0: give at least 1 attempt per task".into(),
                ));
            }
            if !matches!(format.as_str(), "text" | "json") {
                return Err(Error::Usage(format!(
                    "--format {format}: report power writes text or json"
                )));
            }
            let comparison = match (&a, &b) {
                (Some(a), Some(b)) => {
                    let store = read_store(db)?;
                    Some(crate::report::compare_from_store(
                        &store,
                        eval.as_deref(),
                        a,
                        b,
                    )?)
                }
                (None, None) if eval.is_some() => {
                    return Err(Error::Usage(
                        "--eval needs the two agents whose discordance to use: add --a A --b B"
                            .into(),
                    ))
                }
                (None, None) => None,
                _ => {
                    return Err(Error::Usage(
                        "--a and --b go together: name both agents, or neither".into(),
                    ))
                }
            };
            let p = plan(
                PowerRequest {
                    diff: diff / 100.0,
                    base_rate,
                    attempts,
                },
                comparison.as_ref(),
            )
            .map_err(Error::Usage)?;
            if format == "json" {
                print::json(&p);
            } else {
                print!("{}", render_text(&p));
            }
            Ok(exit::OK)
        }
        ReportCommand::Compare {
            a,
            b,
            eval,
            format,
            out,
        } => {
            let format = report_format(format.as_deref(), out.as_deref(), Format::Text)?;
            let store = read_store(db)?;
            let c = crate::report::compare_from_store(&store, eval.as_deref(), &a, &b)?;
            print::emit(&render::comparison(&c, format), out.as_deref())?;
            Ok(exit::OK)
        }
    }
}

/// The report format: as given, else from the output file's extension, else `default`.
fn report_format(
    format: Option<&str>,
    out: Option<&Path>,
    default: crate::report::Format,
) -> Result<crate::report::Format, Error> {
    if let Some(f) = format {
        return f.parse().map_err(Error::Usage);
    }
    Ok(
        match out.and_then(|p| p.extension()).and_then(|e| e.to_str()) {
            Some("html" | "htm") => crate::report::Format::Html,
            Some("md") => crate::report::Format::Markdown,
            Some("json") => crate::report::Format::Json,
            Some("txt") => crate::report::Format::Text,
            _ => default,
        },
    )
}

/// `report drift`: written to a file; exit 1 on an alarm.
fn report_drift(
    db: &Option<PathBuf>,
    format: String,
    out: PathBuf,
    opts: DriftArgs,
) -> Result<i32, Error> {
    let format = crate::review::drift::render::parse_format(&format).map_err(Error::Usage)?;
    let report = super::review::drift_report(db, &opts)?;
    let text = crate::review::drift::render::render(&report, format)?;
    crate::report::write_report(&out, &text)?;
    eprintln!("wrote {}", out.display());
    for a in &report.alarms {
        eprintln!("alarm: {a}");
    }
    Ok(exit::of_check(!report.alarmed()))
}
