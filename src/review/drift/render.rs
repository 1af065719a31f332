//! The drift report as Markdown (for a terminal or a pull request), JSON, or a standalone
//! HTML page (minijinja with autoescape, `reports/drift.html`).

use super::{Agreement, DriftReport};
use crate::error::Error;
pub use crate::report::render::Format;

/// A drift report's format, named as a report's is; there is no plain-text one.
pub fn parse_format(s: &str) -> Result<Format, String> {
    match s.parse::<Format>() {
        Ok(Format::Text) | Err(_) => Err(format!("unknown format `{s}`: use md, json or html")),
        Ok(format) => Ok(format),
    }
}

const HTML: &str = include_str!("../../../reports/drift.html");

fn f3(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

fn pct(x: Option<f64>) -> String {
    x.map(|x| format!("{:.0}%", x * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// `0.612 [0.41, 0.80]`, or `-` when kappa is undefined.
pub fn kappa_text(a: &Agreement) -> String {
    match a.kappa {
        Some(k) => format!("{:.3} [{:.2}, {:.2}]", k.estimate, k.low, k.high),
        None => "-".into(),
    }
}

fn confusion_text(a: &Agreement) -> String {
    a.confusion
        .iter()
        .map(|r| {
            r.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

pub fn markdown(r: &DriftReport) -> String {
    let mut s = String::from("# Judge drift\n\n");
    s.push_str(&format!(
        "Labeled items: {} dev, {} held-out. Human ceiling (Krippendorff's alpha among {} reviewers on {} overlap items): {}.\n\n",
        r.labeled_items.get("dev").copied().unwrap_or(0),
        r.labeled_items.get("holdout").copied().unwrap_or(0),
        r.human.reviewers,
        r.human.items,
        f3(r.human.alpha)
    ));
    if r.versions.is_empty() {
        s.push_str("No checkpoint verdicts yet: sample and label items (`labels sample`, `label serve`), then run `mergebench judge checkpoints`.\n\n");
    }
    s.push_str("| judge | version | | split | n | kappa [95% CI] | accuracy | true merge | true reject | confusion (rows human m/v/r) |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for v in &r.versions {
        let tag = [
            v.baseline.then_some("baseline"),
            v.current.then_some("current"),
            v.alarm.as_ref().map(|_| "ALARM"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        for (split, a) in [("dev", &v.dev), ("held-out", &v.holdout)] {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                v.judge,
                &v.judge_version[..v.judge_version.len().min(12)],
                tag,
                split,
                a.n,
                kappa_text(a),
                pct(a.accuracy),
                pct(a.true_merge_rate),
                pct(a.true_reject_rate),
                confusion_text(a)
            ));
        }
    }
    s.push_str("\n## Per week (held-out kappa, dev kappa)\n\n| judge | version | week | held-out n | held-out kappa | dev n | dev kappa |\n|---|---|---|---|---|---|---|\n");
    for v in &r.versions {
        for w in &v.weeks {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                v.judge,
                &v.judge_version[..v.judge_version.len().min(12)],
                w.week,
                w.holdout.n,
                kappa_text(&w.holdout),
                w.dev.n,
                kappa_text(&w.dev)
            ));
        }
    }
    s.push('\n');
    if r.alarms.is_empty() {
        s.push_str(&format!(
            "No alarm (floor {:.2}, margin {:.2} below the baseline).\n",
            r.floor, r.margin
        ));
    } else {
        for a in &r.alarms {
            s.push_str(&format!("ALARM: {a}\n"));
        }
    }
    s
}

/// The report in `format`; the Markdown serves as text.
pub fn render(r: &DriftReport, format: Format) -> Result<String, Error> {
    match format {
        Format::Markdown | Format::Text => Ok(markdown(r)),
        Format::Json => serde_json::to_string_pretty(r)
            .map(|s| s + "\n")
            .map_err(|e| Error::infra_from("the drift report as JSON", e)),
        Format::Html => {
            let mut env = minijinja::Environment::new();
            env.add_template("drift.html", HTML)
                .map_err(|e| Error::infra_from("reports/drift.html", e))?;
            // A value that is not an agreement is a template error, not a crash.
            env.add_filter(
                "kappa",
                |a: minijinja::Value| -> Result<String, minijinja::Error> {
                    let a: Agreement = serde::Deserialize::deserialize(a)?;
                    Ok(kappa_text(&a))
                },
            );
            env.add_filter("f3", |x: Option<f64>| f3(x));
            env.add_filter("pct", |x: Option<f64>| pct(x));
            env.add_filter("short", |s: String| s.chars().take(12).collect::<String>());
            env.get_template("drift.html")
                .and_then(|t| t.render(minijinja::context! { r => r }))
                .map_err(|e| Error::infra_from("reports/drift.html", e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::drift::{compute, DriftOptions};

    #[test]
    fn an_empty_report_says_what_to_do_and_every_format_renders() {
        let r = compute(&[], &[], &DriftOptions::default());
        assert!(markdown(&r).contains("mergebench judge checkpoints"));
        for f in [Format::Markdown, Format::Json, Format::Html] {
            assert!(!render(&r, f).unwrap().is_empty());
        }
        assert!(!r.alarmed());
    }
}
