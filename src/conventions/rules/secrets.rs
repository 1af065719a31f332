//! Applies the secret scanner to a patch: each added line, each seam between
//! two consecutive added lines, and the names of added files (`.env`,
//! `id_rsa`, `*.pem`).

use super::{CompileError, FileCtx, LineRule};
use crate::conventions::catalog;
use crate::conventions::config::{SecretsRule as SecretsConfig, Severity};
use crate::conventions::defaults;
use crate::conventions::diff::{DiffLine, FileDiff, FileStatus, LineKind};
use crate::conventions::globs::{BadPattern, PathSet};
use crate::conventions::report::Sink;
use crate::conventions::secrets::{SecretHit, SecretScanner};

pub(crate) struct SecretsRules {
    severity: Severity,
    entropy_severity: Severity,
    scanner: SecretScanner,
    exclude: PathSet,
    entropy_exclude: PathSet,
    sensitive: PathSet,
    templates: PathSet,
}

impl SecretsRules {
    pub fn compile(cfg: &SecretsConfig) -> Result<SecretsRules, CompileError> {
        let scanner = SecretScanner::new(
            &cfg.allow,
            cfg.min_entropy.unwrap_or(4.2),
            cfg.min_token_length.unwrap_or(32),
        )
        .map_err(|(pattern, message)| CompileError {
            what: "conventions.secrets.allow regex".into(),
            bad: BadPattern { pattern, message },
        })?;
        let entropy_exclude = match &cfg.entropy_exclude {
            Some(list) => list.clone(),
            None => defaults::owned(defaults::ENTROPY_EXCLUDE)
                .into_iter()
                .chain(defaults::owned(defaults::LOCKFILES))
                .collect(),
        };
        Ok(SecretsRules {
            severity: cfg
                .severity
                .unwrap_or(catalog::default_severity(catalog::AWS_KEY)),
            entropy_severity: cfg
                .entropy_severity
                .unwrap_or(catalog::default_severity(catalog::HIGH_ENTROPY)),
            scanner,
            exclude: super::globs("conventions.secrets.exclude glob", &cfg.exclude)?,
            entropy_exclude: super::globs(
                "conventions.secrets.entropy_exclude glob",
                &entropy_exclude,
            )?,
            // cannot fail: constant globs, compiled by every test of this rule.
            sensitive: PathSet::new(defaults::SENSITIVE_FILES).expect("built-in globs"),
            templates: PathSet::new(defaults::SENSITIVE_FILE_TEMPLATES).expect("built-in globs"),
        })
    }
}

pub(crate) fn check_sensitive_file(file: &FileDiff, rules: &SecretsRules, sink: &mut Sink) {
    if rules.severity == Severity::Off
        || !matches!(
            file.status,
            FileStatus::Added | FileStatus::Renamed | FileStatus::Copied
        )
    {
        return;
    }
    let Some(p) = file.new_path.as_deref() else {
        return;
    };
    if rules.exclude.is_match(p) || rules.templates.is_match(p) {
        return;
    }
    if let Some(pattern) = rules.sensitive.first_match(p) {
        sink.push(
            catalog::SENSITIVE_FILE,
            rules.severity,
            Some(p),
            None,
            || format!("adds `{p}`, a kind of file that holds credentials (matches `{pattern}`)"),
        );
    }
}

pub(crate) struct SecretLines<'a> {
    rules: &'a SecretsRules,
    entropy: bool,
    /// The tail of the previous added line and its line number, for the seam
    /// scan; kept in a reused buffer so no line is copied whole.
    prev: Vec<u8>,
    prev_line: Option<u32>,
    buf: Vec<u8>,
    hits: Vec<SecretHit>,
}

const TAIL: usize = 128;

impl<'a> SecretLines<'a> {
    pub fn new(rules: &'a SecretsRules) -> Self {
        SecretLines {
            rules,
            entropy: false,
            prev: Vec::with_capacity(TAIL),
            prev_line: None,
            buf: Vec::new(),
            hits: Vec::new(),
        }
    }

    fn report(&mut self, path: &str, line: Option<u32>, note: &str, sink: &mut Sink) {
        for h in self.hits.drain(..) {
            let severity = if h.entropy_only {
                self.rules.entropy_severity
            } else {
                self.rules.severity
            };
            let extra = if h.split && note.is_empty() {
                " (assembled from string pieces)"
            } else {
                note
            };
            sink.push(h.rule_id, severity, Some(path), line, || {
                format!("{} added: {}{extra}", h.what, h.redacted)
            });
        }
    }
}

impl LineRule for SecretLines<'_> {
    fn begin(&mut self, ctx: &FileCtx) -> bool {
        self.prev.clear();
        self.prev_line = None;
        let on = (self.rules.severity != Severity::Off
            || self.rules.entropy_severity != Severity::Off)
            && !self.rules.exclude.is_match(ctx.path);
        self.entropy = self.rules.entropy_severity != Severity::Off
            && !self.rules.entropy_exclude.is_match(ctx.path);
        on
    }

    fn line(&mut self, ctx: &FileCtx, line: &DiffLine, sink: &mut Sink) {
        if line.kind != LineKind::Added {
            if line.kind == LineKind::Context {
                self.prev_line = None;
            }
            return;
        }
        let text = line.text();
        self.rules
            .scanner
            .scan_line(text, self.entropy, &mut self.buf, &mut self.hits);
        self.report(ctx.path, line.new_line, "", sink);

        if let (Some(p), Some(n)) = (self.prev_line, line.new_line) {
            // Checked: a hunk may start at u32::MAX (bug pinned: `p + 1` overflowed).
            if p.checked_add(1) == Some(n) {
                self.rules
                    .scanner
                    .scan_seam(&self.prev, text, &mut self.buf, &mut self.hits);
                if !self.hits.is_empty() {
                    let note = format!(" (split across lines {p}-{n})");
                    self.report(ctx.path, Some(p), &note, sink);
                }
            }
        }
        self.prev.clear();
        self.prev
            .extend_from_slice(&text[text.len().saturating_sub(TAIL)..]);
        self.prev_line = line.new_line;
    }

    fn end(&mut self, _: &FileCtx, _: &mut Sink) {}
}
