//! Blast radius: how far a patch reaches (files, lines, modules, services)
//! and a risk tier that says how carefully it should be rolled out.
//!
//! - `low`: only tests and documentation;
//! - `medium`: code within one service;
//! - `high`: code across several services, or shared libraries;
//! - `critical`: CI, infrastructure, runtime configuration, authentication,
//!   migrations, dependency manifests.
//!
//! A dependency manifest or lockfile edit that changes only the package's own metadata (a
//! release version, an edition, `rust-version`, the `go` directive; see `manifest`) is
//! graded like code instead: `medium` in one service.
//!
//! Above the configured thresholds a patch is flagged `staged_rollout`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use super::config::Tier;
use super::config::{BlastConfig, ConfigError};
use super::defaults;
use super::diff::ParsedDiff;
use super::globs::{BadPattern, PathSet};
use super::manifest;
use super::ownership::Ownership;

/// Lists in a [`BlastRadius`] keep at most this many entries.
const MAX_LISTED: usize = 200;
const MAX_REASONS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlastRadius {
    pub files: u64,
    pub lines_added: u64,
    pub lines_removed: u64,
    /// Leading directories of the touched files (see `module_depth`).
    pub modules: Vec<String>,
    pub modules_total: u64,
    /// Owners (services or teams) of the touched files, per the ownership map.
    pub services: Vec<String>,
    pub services_total: u64,
    pub unowned_files: u64,
    pub crosses_services: bool,
    pub tier: Tier,
    /// Why the tier is what it is.
    pub reasons: Vec<String>,
    pub staged_rollout: bool,
    pub staged_rollout_reasons: Vec<String>,
}

/// A [`BlastConfig`] with its globs compiled.
pub struct CompiledBlast {
    cfg: BlastConfig,
    critical: Vec<(String, PathSet)>,
    shared: PathSet,
    tests: PathSet,
    docs: PathSet,
}

impl CompiledBlast {
    pub fn compile(cfg: &BlastConfig) -> Result<CompiledBlast, BadPattern> {
        let mut critical = Vec::new();
        match &cfg.critical {
            Some(list) => critical.push(("critical path".to_string(), PathSet::new(list)?)),
            None => {
                for (why, list) in defaults::critical_groups() {
                    critical.push((why.to_string(), PathSet::new(list)?));
                }
            }
        }
        if !cfg.extra_critical.is_empty() {
            critical.push((
                "critical path".to_string(),
                PathSet::new(&cfg.extra_critical)?,
            ));
        }
        let list = |o: &Option<Vec<String>>, d: &[&str]| -> Result<PathSet, BadPattern> {
            match o {
                Some(l) => PathSet::new(l),
                None => PathSet::new(d),
            }
        };
        Ok(CompiledBlast {
            cfg: cfg.clone(),
            critical,
            shared: list(&cfg.shared, defaults::SHARED)?,
            tests: list(&cfg.tests, defaults::TEST_FILES)?,
            docs: list(&cfg.docs, defaults::DOCS)?,
        })
    }

    fn critical_reason(&self, path: &str) -> Option<&str> {
        self.critical
            .iter()
            .find(|(_, set)| set.is_match(path))
            .map(|(why, _)| why.as_str())
    }

    /// Whether every critical group that picks out `path` is a dependency manifest or
    /// lockfile group (built-in): only those are graded by what the edit changes.
    fn only_manifest_groups(&self, path: &str) -> bool {
        self.critical
            .iter()
            .filter(|(_, set)| set.is_match(path))
            .all(|(why, _)| why == defaults::MANIFEST_GROUP || why == defaults::LOCKFILE_GROUP)
    }

    /// The blast radius of a parsed patch; `base_file` reads a file before the patch (a
    /// manifest's tables, to tell its metadata from its dependencies).
    pub fn radius(
        &self,
        diff: &ParsedDiff,
        ownership: &Ownership,
        base_file: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) -> BlastRadius {
        let cfg = &self.cfg;
        let mut modules = BTreeSet::new();
        let mut services = BTreeSet::new();
        let mut unowned = 0u64;
        let mut critical: Vec<String> = Vec::new();
        let mut critical_count = 0u64;
        let mut shared: Vec<String> = Vec::new();
        let mut code_files = 0u64;
        let mut low_files = 0u64;
        // Manifest edits that change only the package's own metadata.
        let mut metadata: Vec<String> = Vec::new();

        for file in &diff.files {
            let mut file_critical = None;
            for p in file.paths() {
                modules.insert(module_of(p, cfg.module_depth));
                if file_critical.is_none() {
                    file_critical = self.critical_reason(p).map(|why| (why, p));
                }
            }
            let path = file.path();
            let is_low = self.tests.is_match(path) || self.docs.is_match(path);
            let is_doc = self.docs.is_match(path) && !self.tests.is_match(path);
            let mut owned = false;
            for p in file.paths() {
                if let Some(o) = ownership.owner_of(p) {
                    owned = true;
                    if !is_doc {
                        services.insert(o.to_string());
                    }
                    if cfg.shared_owners.iter().any(|s| s == o) && shared.len() < MAX_REASONS {
                        shared.push(format!("{p} (owned by {o})"));
                    }
                }
            }
            if !owned {
                unowned += 1;
            }
            // A release version, edition or toolchain bump is not a dependency change: it
            // is graded like code, below the tier that asks for a staged rollout.
            let file_critical = file_critical.filter(|(_, p)| {
                if !self.only_manifest_groups(p) {
                    return true;
                }
                let base = file.old_path.as_deref().and_then(base_file);
                match manifest::metadata_only(diff, file, base.as_deref()) {
                    Some(keys) => {
                        if metadata.len() < MAX_REASONS {
                            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                            metadata.push(format!("{p} ({})", keys.join(", ")));
                        }
                        false
                    }
                    None => true,
                }
            });
            if let Some((why, p)) = file_critical {
                critical_count += 1;
                if critical.len() < MAX_REASONS {
                    critical.push(format!("{why}: {p}"));
                }
            } else if is_low {
                low_files += 1;
            } else {
                code_files += 1;
                if self.shared.is_match(path) && shared.len() < MAX_REASONS {
                    shared.push(path.to_string());
                }
            }
        }

        let crosses = services.len() > 1;
        let mut reasons = Vec::new();
        let tier = if critical_count > 0 {
            reasons.extend(critical.iter().cloned());
            if critical_count as usize > critical.len() {
                reasons.push(format!(
                    "and {} more critical files",
                    critical_count as usize - critical.len()
                ));
            }
            Tier::Critical
        } else if code_files == 0 {
            if low_files > 0 {
                reasons.push("only tests and documentation".to_string());
            } else {
                reasons.push("empty patch".to_string());
            }
            Tier::Low
        } else if crosses || !shared.is_empty() {
            if crosses {
                reasons.push(format!(
                    "touches {} services: {}",
                    services.len(),
                    services
                        .iter()
                        .take(10)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            reasons.extend(shared.iter().map(|s| format!("shared library: {s}")));
            reasons.extend(
                metadata
                    .iter()
                    .map(|m| format!("manifest metadata only: {m}")),
            );
            Tier::High
        } else {
            if code_files as usize > metadata.len() {
                reasons.push(match services.iter().next() {
                    Some(s) => format!("code in one service: {s}"),
                    None => "code changes".to_string(),
                });
            }
            reasons.extend(
                metadata
                    .iter()
                    .map(|m| format!("manifest metadata only: {m}")),
            );
            Tier::Medium
        };

        let files = diff.files.len() as u64;
        let (added, removed) = (diff.total_added(), diff.total_removed());
        let mut staged = Vec::new();
        if tier >= cfg.staged_rollout_tier {
            staged.push(format!(
                "tier {tier} is at or above {}",
                cfg.staged_rollout_tier
            ));
        }
        if files > cfg.max_files {
            staged.push(format!("{files} files > {}", cfg.max_files));
        }
        if added + removed > cfg.max_lines {
            staged.push(format!("{} lines > {}", added + removed, cfg.max_lines));
        }
        if services.len() as u64 > cfg.max_services {
            staged.push(format!(
                "{} services > {}",
                services.len(),
                cfg.max_services
            ));
        }

        let modules_total = modules.len() as u64;
        let services_total = services.len() as u64;
        BlastRadius {
            files,
            lines_added: added,
            lines_removed: removed,
            modules: modules.into_iter().take(MAX_LISTED).collect(),
            modules_total,
            services: services.into_iter().take(MAX_LISTED).collect(),
            services_total,
            unowned_files: unowned,
            crosses_services: crosses,
            tier,
            reasons,
            staged_rollout: !staged.is_empty(),
            staged_rollout_reasons: staged,
        }
    }
}

/// `src/billing/api/x.rs` at depth 2 → `src/billing`; a root file → `.`.
pub fn module_of(path: &str, depth: usize) -> String {
    let dirs: Vec<&str> = path.split('/').collect();
    let dirs = &dirs[..dirs.len().saturating_sub(1)];
    if dirs.is_empty() || depth == 0 {
        return ".".to_string();
    }
    dirs[..dirs.len().min(depth)].join("/")
}

/// Computes the blast radius of a parsed patch. Globs are validated when the
/// configuration is loaded; should one still fail here, the built-in lists
/// are used and the reasons say so.
pub fn blast_radius(
    diff: &ParsedDiff,
    ownership: &Ownership,
    cfg: &BlastConfig,
    base_file: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> BlastRadius {
    match CompiledBlast::compile(cfg) {
        Ok(c) => c.radius(diff, ownership, base_file),
        Err(bad) => {
            let fallback = BlastConfig {
                shared: None,
                critical: None,
                extra_critical: Vec::new(),
                tests: None,
                docs: None,
                ..cfg.clone()
            };
            let mut r = CompiledBlast::compile(&fallback)
                // cannot fail: only the built-in lists are left, and the tests compile them.
                .expect("built-in lists compile")
                .radius(diff, ownership, base_file);
            r.reasons.push(format!(
                "configuration glob `{}` is invalid ({}); built-in lists used",
                bad.pattern, bad.message
            ));
            r
        }
    }
}

impl BlastConfig {
    pub fn validate(&self, file: &str, text: &str) -> Result<(), ConfigError> {
        CompiledBlast::compile(self)
            .map(|_| ())
            .map_err(|e| ConfigError::pattern(file, text, "blast_radius glob", e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::{Owners, OwnershipConfig};
    use super::super::diff::parse;
    use super::*;

    fn file(path: &str) -> String {
        format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n")
    }

    fn ownership() -> Ownership {
        let mut cfg = OwnershipConfig::default();
        for (g, o) in [
            ("services/billing/", "billing"),
            ("services/search/", "search"),
            ("libs/", "platform"),
        ] {
            cfg.entries.insert(g.into(), Owners::One(o.into()));
        }
        Ownership::from_config(&cfg, None).unwrap()
    }

    fn tier_of(paths: &[&str]) -> BlastRadius {
        let text: String = paths.iter().map(|p| file(p)).collect();
        let d = parse(text.as_bytes());
        blast_radius(&d, &ownership(), &BlastConfig::default(), &|_| None)
    }

    #[test]
    fn tier_table() {
        let rows: &[(&[&str], Tier)] = &[
            (&["README.md"], Tier::Low),
            (&["tests/test_a.py", "docs/guide.md"], Tier::Low),
            (&[], Tier::Low),
            (&["services/billing/pay.py"], Tier::Medium),
            (
                &[
                    "services/billing/pay.py",
                    "services/billing/tests/test_pay.py",
                ],
                Tier::Medium,
            ),
            (
                &["services/billing/pay.py", "services/search/q.py"],
                Tier::High,
            ),
            (&["libs/money/round.py"], Tier::High),
            (&[".github/workflows/ci.yml"], Tier::Critical),
            (&["services/billing/migrations/0002.sql"], Tier::Critical),
            (&["services/auth/login.py"], Tier::Critical),
            (&["services/billing/auth/tokens.py"], Tier::Critical),
            (&["Cargo.toml"], Tier::Critical),
            (&["config/prod.yml"], Tier::Critical),
            (&["deploy/k8s/app.yaml"], Tier::Critical),
        ];
        for (paths, want) in rows {
            let r = tier_of(paths);
            assert_eq!(r.tier, *want, "{paths:?}: {:?}", r.reasons);
        }
    }

    #[test]
    fn services_modules_and_staged_rollout() {
        let r = tier_of(&[
            "services/billing/pay.py",
            "services/search/q.py",
            "README.md",
        ]);
        assert!(r.crosses_services);
        assert_eq!(r.services, vec!["billing", "search"]);
        assert_eq!(r.modules, vec![".", "services/billing", "services/search"]);
        assert_eq!(r.unowned_files, 1);
        assert!(r.staged_rollout, "high tier ≥ default staged_rollout_tier");
        let r = tier_of(&["services/billing/pay.py"]);
        assert!(!r.staged_rollout);
    }

    #[test]
    fn thresholds_flag_large_patches() {
        let paths: Vec<String> = (0..25)
            .map(|i| format!("services/billing/f{i}.py"))
            .collect();
        let text: String = paths.iter().map(|p| file(p)).collect();
        let d = parse(text.as_bytes());
        let r = blast_radius(&d, &ownership(), &BlastConfig::default(), &|_| None);
        assert_eq!(r.tier, Tier::Medium);
        assert!(r.staged_rollout);
        assert!(r.staged_rollout_reasons[0].contains("25 files"));
    }

    #[test]
    fn rename_into_deploy_is_critical() {
        let d = parse(b"diff --git a/scripts/run.sh b/deploy/run.sh\nsimilarity index 100%\nrename from scripts/run.sh\nrename to deploy/run.sh\n");
        let r = blast_radius(&d, &Ownership::empty(), &BlastConfig::default(), &|_| None);
        assert_eq!(r.tier, Tier::Critical);
    }

    #[test]
    fn module_depth() {
        assert_eq!(module_of("a/b/c/d.rs", 2), "a/b");
        assert_eq!(module_of("a/d.rs", 2), "a");
        assert_eq!(module_of("d.rs", 2), ".");
    }
}
