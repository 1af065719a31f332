//! Rendering reports: the minijinja templates in `reports/` (compiled into the binary, HTML
//! autoescaped), the number formats they share, and JSON. One place decides how a rate, an
//! interval or a cost reads, so every report says it the same way.

use super::compare::{format_p, Comparison};
use super::leaderboard::Leaderboard;
use minijinja::value::{Kwargs, Value};
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
    Html,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "text" | "txt" => Ok(Format::Text),
            "md" | "markdown" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            other => Err(format!(
                "unknown report format `{other}`: use text, md, json or html"
            )),
        }
    }
}

const TEMPLATES: &[(&str, &str)] = &[
    ("style.css", include_str!("../../reports/style.css")),
    (
        "charts.html.j2",
        include_str!("../../reports/charts.html.j2"),
    ),
    (
        "leaderboard.html.j2",
        include_str!("../../reports/leaderboard.html.j2"),
    ),
    (
        "leaderboard.md.j2",
        include_str!("../../reports/leaderboard.md.j2"),
    ),
    (
        "compare.html.j2",
        include_str!("../../reports/compare.html.j2"),
    ),
    ("compare.md.j2", include_str!("../../reports/compare.md.j2")),
    (
        "compare.txt.j2",
        include_str!("../../reports/compare.txt.j2"),
    ),
];

/// A template filter: a value in, its text out.
type Filter = fn(Value) -> String;

fn num(v: &Value) -> Option<f64> {
    if v.is_undefined() || v.is_none() {
        return None;
    }
    f64::try_from(v.clone()).ok()
}

/// A number shown by `show`, or `n/a` when the value is missing or not a number.
fn shown(v: Value, show: impl FnOnce(f64) -> String) -> String {
    num(&v).map(show).unwrap_or_else(|| "n/a".into())
}

fn pct(v: Value) -> String {
    shown(v, |x| format!("{:.0}%", x * 100.0))
}

fn ci(v: Value) -> String {
    let get = |k: &str| v.get_attr(k).ok().as_ref().and_then(num);
    match (get("estimate"), get("low"), get("high")) {
        (Some(e), Some(l), Some(h)) => {
            format!("{:.0}% ({:.0}–{:.0}%)", e * 100.0, l * 100.0, h * 100.0)
        }
        _ => "n/a".into(),
    }
}

fn ratio(v: Value) -> String {
    shown(v, |x| format!("{x:.2}×"))
}

fn usd(v: Value) -> String {
    shown(v, |x| {
        if x >= 1.0 {
            format!("${x:.2}")
        } else {
            format!("${x:.4}")
        }
    })
}

fn secs(v: Value) -> String {
    shown(v, |x| format!("{x:.1} s"))
}

/// Signed percentage points: +9, −3, 0.
fn pts(v: Value) -> String {
    shown(v, |x| {
        let p = (x * 100.0).round();
        if p > 0.0 {
            format!("+{p:.0}")
        } else if p < 0.0 {
            format!("−{:.0}", -p)
        } else {
            "0".into()
        }
    })
}

/// A regression test's adjusted p-value with its correction and family.
fn adjusted(v: Value) -> String {
    use super::history::{adjusted_text, Correction};
    let get = |k: &str| v.get_attr(k).ok();
    let correction = match get("correction").as_ref().and_then(|c| c.as_str()) {
        Some("holm") => Correction::Holm,
        Some("bh") => Correction::Bh,
        _ => Correction::None,
    };
    let (Some(p), Some(family)) = (
        get("adjusted_p").as_ref().and_then(num),
        get("family").as_ref().and_then(num),
    ) else {
        return "n/a".into();
    };
    adjusted_text(correction, family as usize, p)
}

fn pval(v: Value) -> String {
    num(&v).map(format_p).unwrap_or_else(|| "n/a".into())
}

/// A Markdown table cell: pipes and line breaks would end the cell, emphasis and links are
/// taken literally, and raw HTML tags are shown as text rather than rendered.
fn md(v: Value) -> String {
    let s = v
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '|' => out.push_str("\\|"),
            // Only what could open a tag: "p < 0.001" stays readable.
            '<' if chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?')) =>
            {
                out.push_str("&lt;")
            }
            '\n' | '\r' => out.push(' '),
            '`' | '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    out
}

/// A fence long enough that no run of backticks inside the text closes it.
fn fence(v: Value) -> String {
    let s = v.as_str().unwrap_or_default();
    let mut longest = 0;
    let mut run = 0;
    for ch in s.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// Text that ends with exactly the newline a closing fence needs.
fn block(v: Value) -> String {
    let s = v.as_str().unwrap_or_default();
    if s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

/// Inflation as it reads: the ratio and the gap in points; infinite when nothing merges
/// but something resolves.
fn inflation(v: Value) -> String {
    let ratio = v.get_attr("inflation").ok().as_ref().and_then(num);
    let gap = v
        .get_attr("inflation_points")
        .ok()
        .as_ref()
        .and_then(num)
        .unwrap_or(0.0);
    let gap = pts(Value::from(gap));
    match ratio {
        Some(r) => format!("{r:.2}× ({gap} pts)"),
        None if gap != "0" => format!("∞ ({gap} pts)"),
        None => "n/a".into(),
    }
}

fn date(v: Value) -> String {
    super::charts::night_label(v.as_str().unwrap_or_default())
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html.j2") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    for (name, src) in TEMPLATES {
        // cannot fail: the templates are compiled into the binary and rendered by the tests.
        env.add_template(name, src)
            .expect("bundled templates parse");
    }
    let filters: [(&str, Filter); 13] = [
        ("pct", pct),
        ("ci", ci),
        ("ratio", ratio),
        ("usd", usd),
        ("secs", secs),
        ("pts", pts),
        ("pval", pval),
        ("adjusted", adjusted),
        ("md", md),
        ("fence", fence),
        ("night", date),
        ("block", block),
        ("inflation", inflation),
    ];
    for (name, filter) in filters {
        env.add_filter(name, filter);
    }
    env.add_function("palette", |i: usize, _: Kwargs| {
        super::charts::PALETTE[i % super::charts::PALETTE.len()]
    });
    env
}

fn render(template: &str, ctx: Value) -> String {
    environment()
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| panic!("bundled template {template} failed: {e:#}"))
}

fn json(v: &impl Serialize) -> String {
    // cannot fail: reports are plain structs with string keys.
    let mut s = serde_json::to_string_pretty(v).expect("serializable");
    s.push('\n');
    s
}

pub fn leaderboard(l: &Leaderboard, format: Format) -> String {
    let ctx = || {
        minijinja::context! {
            report => Value::from_serialize(l),
            patches => Value::from_serialize(&l.patches),
            rates_chart => Value::from_serialize(&l.rates_chart),
            trend_chart => Value::from_serialize(&l.trend_chart),
        }
    };
    match format {
        Format::Json => json(l),
        Format::Markdown | Format::Text => render("leaderboard.md.j2", ctx()),
        Format::Html => render("leaderboard.html.j2", ctx()),
    }
}

pub fn comparison(c: &Comparison, format: Format) -> String {
    let ctx = || {
        minijinja::context! {
            report => Value::from_serialize(c),
            patches => Value::from_serialize(&c.patches),
        }
    };
    match format {
        Format::Json => json(c),
        Format::Text => render("compare.txt.j2", ctx()),
        Format::Markdown => render("compare.md.j2", ctx()),
        Format::Html => render("compare.html.j2", ctx()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_cannot_break_the_table_or_inject_markup() {
        let cell = md(Value::from("a|b\n<script>x</script> *y* p < 0.05"));
        assert_eq!(cell, "a\\|b &lt;script>x&lt;/script> \\*y\\* p < 0.05");
    }

    #[test]
    fn fences_outlast_the_backticks_inside() {
        assert_eq!(fence(Value::from("plain")), "```");
        assert_eq!(fence(Value::from("a ```` b")), "`````");
    }

    #[test]
    fn numbers_read_the_same_everywhere() {
        assert_eq!(pct(Value::from(0.374)), "37%");
        assert_eq!(pct(Value::from(())), "n/a");
        assert_eq!(pts(Value::from(-0.034)), "−3");
        assert_eq!(pts(Value::from(0.001)), "0");
        assert_eq!(usd(Value::from(0.5)), "$0.5000");
        assert_eq!(usd(Value::from(12.0)), "$12.00");
        let ci_value = Value::from_serialize(crate::stats::Interval {
            estimate: 0.5,
            low: 0.25,
            high: 0.75,
        });
        assert_eq!(ci(ci_value), "50% (25–75%)");
        assert_eq!(format_p(0.0001), "p < 0.001");
        assert_eq!(format_p(0.0042), "p = 0.004");
    }
}
