//! SARIF 2.1.0 output, the format code-scanning services (GitHub code
//! scanning, GitLab, Azure DevOps) ingest: one run, a rule table, and one
//! result per finding with its file and line.

use serde_json::{json, Map, Value};

use super::blast::BlastRadius;
use super::catalog::{self, RuleInfo};
use super::config::Severity;
use super::report::{ConventionReport, Finding};

pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The report as a SARIF 2.1.0 log.
pub fn to_sarif(report: &ConventionReport, tool_version: &str) -> Value {
    to_sarif_with(report, tool_version, None)
}

/// As [`to_sarif`], with the blast radius in the run's property bag.
pub fn to_sarif_with(
    report: &ConventionReport,
    tool_version: &str,
    blast: Option<&BlastRadius>,
) -> Value {
    let mut rules: Vec<RuleInfo> = report.rules.clone();
    for f in &report.findings {
        if !rules.iter().any(|r| r.id == f.rule_id) {
            rules.push(catalog::describe(&f.rule_id));
        }
    }
    let rule_index = |id: &str| rules.iter().position(|r| r.id == id);

    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, rule_index(&f.rule_id)))
        .collect();

    let mut props = Map::new();
    props.insert("passed".into(), json!(report.passed()));
    props.insert("stats".into(), json!(report.stats));
    if !report.suppressed.is_empty() {
        props.insert("suppressedFindings".into(), json!(report.suppressed));
    }
    if let Some(b) = blast {
        props.insert("blastRadius".into(), json!(b));
    }

    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "mergebench",
                    "version": tool_version,
                    "rules": rules.iter().map(rule).collect::<Vec<_>>(),
                }
            },
            "invocations": [{ "executionSuccessful": true }],
            "results": results,
            "properties": props,
        }]
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warn => "warning",
        Severity::Off => "none",
    }
}

fn rule(r: &RuleInfo) -> Value {
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "shortDescription": { "text": r.description },
        "fullDescription": { "text": r.description },
        "help": { "text": r.help },
        "defaultConfiguration": { "level": level(r.default_severity) },
    });
    if r.security {
        v["properties"] = json!({
            "tags": ["security"],
            // Code scanning ranks security alerts by this (0.0-10.0).
            "security-severity": if r.default_severity == Severity::Error { "8.0" } else { "5.0" },
        });
    }
    v
}

fn result(f: &Finding, rule_index: Option<usize>) -> Value {
    let mut v = json!({
        "ruleId": f.rule_id,
        "level": level(f.severity),
        "message": { "text": f.message },
        "partialFingerprints": {
            "mergebenchFinding/v1": fingerprint(f),
        },
    });
    if let Some(i) = rule_index {
        v["ruleIndex"] = json!(i);
    }
    if let Some(p) = &f.path {
        let mut physical = json!({
            "artifactLocation": { "uri": uri(p), "uriBaseId": "%SRCROOT%" },
        });
        // Code scanning places an alert only when it has a start line; a
        // finding about a whole file points at its first line.
        let line = f.line.filter(|&l| l > 0).unwrap_or(1);
        let mut region = json!({ "startLine": line });
        if let Some(c) = f.column.filter(|&c| c > 0) {
            region["startColumn"] = json!(c);
        }
        physical["region"] = region;
        v["locations"] = json!([{ "physicalLocation": physical }]);
    }
    v
}

/// A repository-relative path as a URI reference: every byte outside the
/// unreserved set and `/` is percent-encoded, so spaces, `#`, `?`, `%` and
/// non-ASCII names survive.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Stable across runs for the same finding (FNV-1a over rule, path and
/// message), so code scanning can track an alert from one push to the next.
fn fingerprint(f: &Finding) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let parts = [
        f.rule_id.as_bytes(),
        f.path.as_deref().unwrap_or("").as_bytes(),
        f.message.as_bytes(),
    ];
    for part in parts {
        for &b in part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encoding() {
        assert_eq!(uri("src/a b#c.rs"), "src/a%20b%23c.rs");
        assert_eq!(uri("docs/café.md"), "docs/caf%C3%A9.md");
        assert_eq!(uri("x/y-z_1.~"), "x/y-z_1.~");
    }

    #[test]
    fn results_point_at_file_and_line() {
        let report = ConventionReport {
            findings: vec![Finding {
                rule_id: "secrets.aws-access-key".into(),
                severity: Severity::Error,
                path: Some("src/a.py".into()),
                line: Some(3),
                column: None,
                message: "AWS access key id added: AKIA…".into(),
            }],
            ..ConventionReport::default()
        };
        let s = to_sarif(&report, "0.1.0");
        let r = &s["runs"][0]["results"][0];
        assert_eq!(r["ruleId"], "secrets.aws-access-key");
        assert_eq!(r["level"], "error");
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "src/a.py"
        );
        assert_eq!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert_eq!(r["ruleIndex"], 0);
        assert_eq!(
            s["runs"][0]["tool"]["driver"]["rules"][0]["id"],
            "secrets.aws-access-key"
        );
    }
}
