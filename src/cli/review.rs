//! Human review: `label serve` (the labeling app), `labels sample|import|export`,
//! `reviewers add|list`, and `drift` (how far the judge is from people).

use super::args::{DriftArgs, LabelCommand, LabelsCommand, ReviewersCommand};
use super::{exit, find_evaluation, open_store, print, read_store};
use crate::error::Error;
use crate::judge::find_judge;
use std::path::PathBuf;

/// `label serve`: the labeling app until Ctrl-C.
pub async fn label(db: &Option<PathBuf>, command: LabelCommand) -> Result<i32, Error> {
    let LabelCommand::Serve {
        bind,
        judge,
        judges_dir,
        suite,
        hide_tests,
        secure_cookies,
        claim_expiry,
        max_claims,
    } = command;
    let spec = find_judge(&judges_dir, &judge)?;
    let rubric = crate::review::labels::rubric::Rubric::new(&spec.name, &spec.rubric);
    let store = open_store(db)?;
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| {
        Error::env(
            format!("cannot listen on {bind}: {e}"),
            "choose another --bind address or port",
        )
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::infra_from("", e))?;
    eprintln!(
        "labeling at http://{addr}/ (rubric {}); Ctrl-C stops",
        rubric.version
    );
    if !addr.ip().is_loopback() && !secure_cookies {
        eprintln!(
            "warning: listening on {addr}, beyond this machine, with cookies that are not \
             marked Secure: reviewers' session cookies travel in clear over plain HTTP. Put \
             the app behind HTTPS and pass --secure-cookies, or bind 127.0.0.1"
        );
    }
    let app = crate::review::web::App::new(
        store,
        crate::review::web::Options {
            rubric,
            suite,
            show_tests: !hide_tests,
            secure_cookies,
            claims: crate::store::ClaimPolicy {
                expiry: claim_expiry,
                max_held: usize::from(max_claims),
            },
        },
    );
    tokio::select! {
        r = crate::review::web::serve(listener, app) => r.map_err(|e| Error::infra_from("the labeling server stopped", e))?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(exit::OK)
}

/// `reviewers add` (prints the token once) and `reviewers list`.
pub fn reviewers(db: &Option<PathBuf>, command: ReviewersCommand) -> Result<i32, Error> {
    let store = open_store(db)?;
    match command {
        ReviewersCommand::Add { name } => {
            let token = crate::review::reviewers::add(&store, &name)?;
            eprintln!(
                "reviewer `{}` added; their token (shown only now, store it safely):",
                name.trim()
            );
            println!("{token}");
        }
        ReviewersCommand::List { json } => {
            let all = store.reviewers()?;
            if json {
                print::json(&all);
            } else {
                let mut rows = vec![vec![
                    "name".to_string(),
                    "can log in".into(),
                    "since".into(),
                ]];
                for r in all {
                    rows.push(vec![
                        r.name,
                        if r.can_log_in { "yes" } else { "no (imported)" }.into(),
                        r.created_at,
                    ]);
                }
                print!("{}", print::format_table(&rows));
            }
        }
    }
    Ok(exit::OK)
}

/// `drift`: the judge's agreement with held-out labels; exit 1 on an alarm.
pub fn drift(db: &Option<PathBuf>, opts: &DriftArgs, json: bool) -> Result<i32, Error> {
    let report = drift_report(db, opts)?;
    let format = if json {
        crate::review::drift::render::Format::Json
    } else {
        crate::review::drift::render::Format::Markdown
    };
    print!("{}", crate::review::drift::render::render(&report, format)?);
    for a in &report.alarms {
        eprintln!("alarm: {a}");
    }
    Ok(exit::of_check(!report.alarmed()))
}

/// The drift report over the store's held-out labels and checkpoint verdicts.
pub(super) fn drift_report(
    db: &Option<PathBuf>,
    o: &DriftArgs,
) -> Result<crate::review::drift::DriftReport, Error> {
    if !(o.margin.is_finite() && o.margin >= 0.0 && o.floor.is_finite()) {
        return Err(Error::Usage(
            "--margin must be a non-negative number and --floor a number".into(),
        ));
    }
    let store = read_store(db)?;
    Ok(crate::review::drift::compute(
        &store.drift_labels()?,
        &store.checkpoint_verdicts()?,
        &crate::review::drift::DriftOptions {
            baseline: o.baseline.clone(),
            margin: o.margin,
            floor: o.floor,
            ..Default::default()
        },
    ))
}

/// `labels sample|import|export`.
pub fn labels(db: &Option<PathBuf>, command: LabelsCommand) -> Result<i32, Error> {
    use crate::review::labels::transfer::{export, import, Format};
    let store = match &command {
        LabelsCommand::Export { .. } => read_store(db)?,
        _ => open_store(db)?,
    };
    match command {
        LabelsCommand::Sample {
            eval,
            n,
            holdout,
            overlap,
            json,
        } => {
            let ev = find_evaluation(&store, eval.as_deref())?;
            let s = crate::review::labels::sample::sample(
                &store,
                &ev,
                crate::review::labels::sample::SampleOptions {
                    n,
                    holdout,
                    overlap,
                },
            )?;
            if json {
                print::json(&s);
            } else {
                println!(
                    "evaluation {} (suite {}): {} items queued of {} available ({} held out, {} dev, {} for two reviewers; holdout fraction {})",
                    s.evaluation, s.suite, s.added, s.available, s.holdout, s.dev, s.overlap, s.holdout_fraction
                );
                for (k, v) in &s.strata {
                    println!("  {k}: {v}");
                }
            }
        }
        LabelsCommand::Import { file, format, json } => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                Error::input(
                    &file,
                    None,
                    format!("cannot read: {e}"),
                    "give a readable JSONL or CSV file",
                )
            })?;
            let format = Format::pick(format.as_deref(), Some(&file))?;
            let s = import(&store, &text, format, &file)?;
            if json {
                print::json(&s);
            } else {
                println!(
                    "{} labels imported, {} already present; {} items added to the queue",
                    s.imported, s.skipped, s.items_added
                );
            }
        }
        LabelsCommand::Export { out, format } => {
            let format = Format::pick(format.as_deref(), out.as_deref())?;
            let (text, n) = export(&store, format)?;
            match out {
                Some(path) => {
                    crate::report::write_report(&path, &text)?;
                    eprintln!(
                        "{n} dev labels written to {} (held-out labels are never exported)",
                        path.display()
                    );
                }
                None => print!("{text}"),
            }
        }
    }
    Ok(exit::OK)
}
