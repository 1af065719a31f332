//! What the convention scorer found: findings, the per-rule counts of those
//! over the cap, and the descriptions of the rules involved. Stored as JSON
//! next to each attempt, and the input to SARIF and the renderers.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::catalog::RuleInfo;
use super::config::Severity;

/// One rule violation. `line` is in the new file (or the old one for a
/// deletion); `None` when the finding is about the file or the whole patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub path: Option<String>,
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    pub message: String,
}

/// Size of the patch, as the scorer saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffStats {
    pub files: u64,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub binary_files: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConventionReport {
    pub findings: Vec<Finding>,
    /// Findings beyond `max_findings_per_rule`, counted per rule id.
    pub suppressed: BTreeMap<String, u64>,
    /// Every rule that has a finding, for SARIF's rule table.
    pub rules: Vec<RuleInfo>,
    pub stats: DiffStats,
    /// What the diff parser skipped or repaired.
    pub notes: Vec<String>,
}

impl ConventionReport {
    /// True when no error-severity rule fired.
    pub fn passed(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
            && !self
                .suppressed
                .keys()
                .any(|id| self.rule_severity(id) == Some(Severity::Error))
    }

    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    pub fn error_count(&self) -> u64 {
        self.count(Severity::Error)
    }

    pub fn warning_count(&self) -> u64 {
        self.count(Severity::Warn)
    }

    fn count(&self, sev: Severity) -> u64 {
        let kept = self.findings.iter().filter(|f| f.severity == sev).count() as u64;
        let over: u64 = self
            .suppressed
            .iter()
            .filter(|(id, _)| self.rule_severity(id) == Some(sev))
            .map(|(_, n)| *n)
            .sum();
        kept + over
    }

    fn rule_severity(&self, id: &str) -> Option<Severity> {
        self.findings
            .iter()
            .find(|f| f.rule_id == id)
            .map(|f| f.severity)
    }

    /// Adds findings computed elsewhere (command rules run in a container),
    /// honouring the same per-rule cap.
    pub fn absorb(&mut self, findings: Vec<Finding>, cap: u32, info: Option<RuleInfo>) {
        let mut sink = Sink::new(cap);
        for f in &self.findings {
            *sink.kept.entry(f.rule_id.clone()).or_default() += 1;
        }
        for f in findings {
            if sink.accept(&f.rule_id) {
                self.findings.push(f);
            } else {
                *self.suppressed.entry(f.rule_id).or_default() += 1;
            }
        }
        if let Some(info) = info {
            let used = self.findings.iter().any(|f| f.rule_id == info.id)
                || self.suppressed.contains_key(&info.id);
            if used && !self.rules.iter().any(|r| r.id == info.id) {
                self.rules.push(info);
            }
        }
    }
}

/// Collects findings while rules run, keeping at most `cap` per rule so a
/// hostile patch cannot grow the report without bound.
pub struct Sink {
    cap: u32,
    kept: HashMap<String, u32>,
    pub findings: Vec<Finding>,
    pub suppressed: BTreeMap<String, u64>,
}

impl Sink {
    pub fn new(cap: u32) -> Sink {
        Sink {
            cap: cap.max(1),
            kept: HashMap::new(),
            findings: Vec::new(),
            suppressed: BTreeMap::new(),
        }
    }

    /// Reserves a slot for a finding of `rule_id`; false (and counted) when
    /// the rule is at its cap.
    fn accept(&mut self, rule_id: &str) -> bool {
        if let Some(n) = self.kept.get_mut(rule_id) {
            if *n >= self.cap {
                return false;
            }
            *n += 1;
        } else {
            self.kept.insert(rule_id.to_string(), 1);
        }
        true
    }

    /// Records a finding; `message` is only built when it will be kept.
    pub fn push(
        &mut self,
        rule_id: &str,
        severity: Severity,
        path: Option<&str>,
        line: Option<u32>,
        message: impl FnOnce() -> String,
    ) {
        if severity == Severity::Off {
            return;
        }
        if self.accept(rule_id) {
            self.findings.push(Finding {
                rule_id: rule_id.to_string(),
                severity,
                path: path.map(str::to_string),
                line,
                column: None,
                message: message(),
            });
        } else {
            *self.suppressed.entry(rule_id.to_string()).or_default() += 1;
        }
    }

    pub fn push_finding(&mut self, f: Finding) {
        if f.severity == Severity::Off {
            return;
        }
        if self.accept(&f.rule_id) {
            self.findings.push(f);
        } else {
            *self.suppressed.entry(f.rule_id).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_counts_the_rest() {
        let mut s = Sink::new(2);
        for i in 0..5 {
            s.push("r", Severity::Warn, Some("a"), Some(i), || format!("n{i}"));
        }
        assert_eq!(s.findings.len(), 2);
        assert_eq!(s.suppressed["r"], 3);
    }

    #[test]
    fn passed_only_without_errors() {
        let mut r = ConventionReport::default();
        assert!(r.passed());
        r.findings.push(Finding {
            rule_id: "x".into(),
            severity: Severity::Warn,
            path: None,
            line: None,
            column: None,
            message: "m".into(),
        });
        assert!(r.passed());
        r.findings[0].severity = Severity::Error;
        assert!(!r.passed());
    }
}
