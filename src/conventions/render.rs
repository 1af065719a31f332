//! The gate report for people and programs: plain text for a terminal or a
//! CI log, Markdown sized for a pull-request comment, JSON for storage.
//!
//! Paths and messages come from the patch, so they are untrusted: control
//! characters are escaped in text (no terminal escape sequences), and in
//! Markdown HTML, links and @-mentions are neutralised.

use std::fmt::Write;

use super::config::Severity;
use super::gate::Report;
use super::report::Finding;

/// GitHub rejects comments over 65 536 characters; stay well below.
pub const MARKDOWN_LIMIT: usize = 60_000;
const MESSAGE_LIMIT: usize = 400;

/// Escapes control characters so a hostile path cannot drive the terminal.
pub fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

fn location(f: &Finding) -> String {
    match (&f.path, f.line) {
        (Some(p), Some(l)) => format!("{p}:{l}"),
        (Some(p), None) => p.clone(),
        (None, _) => "(patch)".to_string(),
    }
}

fn sev_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warn => "warning",
        Severity::Off => "off",
    }
}

fn verdict(r: &Report) -> &'static str {
    if r.passed {
        "PASS"
    } else {
        "FAIL"
    }
}

/// Plain text, one finding per line.
pub fn text(r: &Report) -> String {
    let c = &r.conventions;
    let b = &r.blast_radius;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} error(s), {} warning(s); risk tier {}{}",
        verdict(r),
        c.error_count(),
        c.warning_count(),
        b.tier,
        if b.staged_rollout {
            "; staged rollout recommended"
        } else {
            ""
        }
    );
    let mut findings: Vec<&Finding> = c.findings.iter().collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    for f in findings {
        let _ = writeln!(
            out,
            "  {:<7} {:<28} {}  {}",
            sev_word(f.severity),
            f.rule_id,
            plain(&location(f)),
            plain(&f.message)
        );
    }
    for (id, n) in &c.suppressed {
        let _ = writeln!(out, "  ... {n} more finding(s) of {id} not shown");
    }
    let _ = writeln!(
        out,
        "blast radius: {} file(s), +{} -{} lines; services: {}; modules: {}",
        b.files,
        b.lines_added,
        b.lines_removed,
        list_or_none(&b.services, b.services_total),
        list_or_none(&b.modules, b.modules_total),
    );
    for reason in &b.reasons {
        let _ = writeln!(out, "  tier {}: {}", b.tier, plain(reason));
    }
    for reason in &b.staged_rollout_reasons {
        let _ = writeln!(out, "  staged rollout: {}", plain(reason));
    }
    for n in &c.notes {
        let _ = writeln!(out, "  note: {}", plain(n));
    }
    out
}

fn list_or_none(items: &[String], total: u64) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    let shown: Vec<String> = items.iter().take(10).map(|s| plain(s)).collect();
    let more = total.saturating_sub(shown.len() as u64);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Escapes text outside code spans: Markdown syntax, HTML, mentions.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '~' | '|' | '`' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width space after `@` stops it from pinging anyone.
            '@' => out.push_str("@\u{200b}"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code span that holds any text: backticks are replaced, and `|` is
/// escaped because GFM tables split on it even inside code.
fn md_code(s: &str) -> String {
    let inner: String = s
        .chars()
        .map(|c| match c {
            '`' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    format!("`{}`", inner.replace('|', "\\|"))
}

/// Messages keep their own `code spans`; everything else is escaped.
fn md_message(s: &str) -> String {
    let s: String = if s.chars().count() > MESSAGE_LIMIT {
        s.chars().take(MESSAGE_LIMIT).collect::<String>() + "…"
    } else {
        s.to_string()
    };
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        // Unbalanced backticks: treat it all as text.
        return md_text(&s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| if i % 2 == 1 { md_code(p) } else { md_text(p) })
        .collect()
}

/// Markdown for a pull-request comment, at most `limit` characters; what
/// does not fit is summarised.
pub fn markdown(r: &Report, limit: usize) -> String {
    let c = &r.conventions;
    let b = &r.blast_radius;
    let mut head = String::new();
    let _ = writeln!(
        head,
        "### {} mergebench gate: {}\n",
        if r.passed { "✅" } else { "❌" },
        if r.passed { "passed" } else { "failed" }
    );
    let _ = writeln!(
        head,
        "**{} error(s), {} warning(s)** · risk tier **{}**{}\n",
        c.error_count(),
        c.warning_count(),
        b.tier,
        if b.staged_rollout {
            " · staged rollout recommended"
        } else {
            ""
        }
    );

    let mut tail = String::new();
    let _ = writeln!(tail, "\n<details><summary>Blast radius</summary>\n");
    let _ = writeln!(
        tail,
        "- files: {} (+{} −{})",
        b.files, b.lines_added, b.lines_removed
    );
    let _ = writeln!(
        tail,
        "- services: {}",
        md_text(&list_or_none(&b.services, b.services_total))
    );
    let _ = writeln!(
        tail,
        "- modules: {}",
        md_text(&list_or_none(&b.modules, b.modules_total))
    );
    for reason in b.reasons.iter().take(10) {
        let _ = writeln!(tail, "- tier {}: {}", b.tier, md_message(reason));
    }
    for reason in &b.staged_rollout_reasons {
        let _ = writeln!(tail, "- staged rollout: {}", md_text(reason));
    }
    let _ = writeln!(tail, "\n</details>");

    let mut findings: Vec<&Finding> = c.findings.iter().collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut body = String::new();
    if !findings.is_empty() {
        body.push_str("| | rule | location | message |\n|---|---|---|---|\n");
    }
    // Room for the summary line that replaces rows that do not fit.
    let reserve = 400;
    let budget = limit.saturating_sub(head.len() + tail.len() + reserve);
    let mut shown = 0usize;
    for f in &findings {
        let row = format!(
            "| {} | {} | {} | {} |\n",
            sev_word(f.severity),
            md_code(&f.rule_id),
            md_code(&location(f)),
            md_message(&f.message)
        );
        if body.len() + row.len() > budget {
            break;
        }
        body.push_str(&row);
        shown += 1;
    }
    let hidden = &findings[shown..];
    let suppressed: u64 = c.suppressed.values().sum();
    if !hidden.is_empty() || suppressed > 0 {
        let errors = hidden
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let _ = writeln!(
            body,
            "\n… and {} more finding(s) ({} error(s)) not shown here; see the SARIF or JSON output.",
            hidden.len() as u64 + suppressed,
            errors
        );
    }
    let mut out = head + &body + &tail;
    if out.len() > limit {
        // Only reachable with a tiny limit: cut at a character boundary.
        let mut cut = limit;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// The full report as pretty-printed JSON.
pub fn json(r: &Report) -> String {
    // cannot fail: a report is plain structs with string keys.
    serde_json::to_string_pretty(r).expect("a report always serialises")
}

/// `--format` of `mergebench gate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
    Sarif,
    Markdown,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(OutputFormat::Text),
            "json" => Ok(OutputFormat::Json),
            "sarif" => Ok(OutputFormat::Sarif),
            "markdown" | "md" => Ok(OutputFormat::Markdown),
            other => Err(format!(
                "unknown format `{other}`; use text, json, sarif or markdown"
            )),
        }
    }
}

/// Renders a gate report in the chosen format.
pub fn render(r: &Report, format: OutputFormat, tool_version: &str) -> String {
    match format {
        OutputFormat::Text => text(r),
        OutputFormat::Json => json(r),
        OutputFormat::Markdown => markdown(r, MARKDOWN_LIMIT),
        OutputFormat::Sarif => {
            // cannot fail: SARIF is plain structs with string keys.
            serde_json::to_string_pretty(&r.to_sarif(tool_version)).expect("SARIF serialises")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::blast::{BlastRadius, Tier};
    use super::super::report::ConventionReport;
    use super::*;

    fn report(n: usize) -> Report {
        let findings = (0..n)
            .map(|i| Finding {
                rule_id: "style.todo".into(),
                severity: if i % 2 == 0 {
                    Severity::Error
                } else {
                    Severity::Warn
                },
                path: Some(format!("src/file_{i}.py")),
                line: Some(i as u32 + 1),
                column: None,
                message: "adds a `TODO` marker ".repeat(5),
            })
            .collect();
        let blast = BlastRadius {
            files: 1,
            lines_added: 1,
            lines_removed: 0,
            modules: vec!["src".into()],
            modules_total: 1,
            services: vec![],
            services_total: 0,
            unowned_files: 1,
            crosses_services: false,
            tier: Tier::Medium,
            reasons: vec!["code changes".into()],
            staged_rollout: false,
            staged_rollout_reasons: vec![],
        };
        Report::new(
            ConventionReport {
                findings,
                ..ConventionReport::default()
            },
            blast,
            None,
        )
    }

    #[test]
    fn markdown_is_capped_and_summarises_the_rest() {
        let r = report(5000);
        let md = markdown(&r, MARKDOWN_LIMIT);
        assert!(md.len() <= MARKDOWN_LIMIT, "{}", md.len());
        assert!(md.contains("more finding(s)"));
        assert!(md.contains("</details>"));
        let small = markdown(&report(2), MARKDOWN_LIMIT);
        assert!(!small.contains("more finding(s)"));
    }

    #[test]
    fn hostile_text_is_neutralised() {
        assert_eq!(plain("a\x1b[31mb"), "a\\u{1b}[31mb");
        let m = md_message("edits `x|y` by @org/team <img src=x> [a](javascript:b)");
        assert!(m.contains("`x\\|y`"), "{m}");
        assert!(!m.contains("<img"), "{m}");
        assert!(!m.contains("@org"), "{m}");
        assert!(!m.contains("[a]("), "{m}");
        assert_eq!(md_code("a`b"), "`a'b`");
    }

    #[test]
    fn text_and_json_render() {
        let r = report(2);
        let t = text(&r);
        assert!(
            t.starts_with("FAIL: 1 error(s), 1 warning(s); risk tier medium"),
            "{t}"
        );
        let j: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(j["passed"], false);
        assert_eq!(j["blast_radius"]["tier"], "medium");
    }
}
