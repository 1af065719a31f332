//! Judge drift: how far each judge version agrees with the human label, per week, on the dev
//! and the held-out items side by side, beside the reviewers' own agreement (the ceiling no
//! judge can be asked to beat), and an alarm when held-out agreement falls.
//!
//! Pure: `compute` takes what the store's `drift_labels` and `checkpoint_verdicts` return.
//! `render` writes the report as Markdown, JSON or HTML.

pub mod render;

use crate::judge::verdict::Decision;
use crate::review::agreement::{confusion, kappa_ci, krippendorff_alpha_nominal};
use crate::stats::Interval;
use crate::store::{CheckpointVerdict, DriftLabel};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone)]
pub struct DriftOptions {
    /// The version others are compared with (a prefix of its hash); default: the version
    /// judged first.
    pub baseline: Option<String>,
    /// Alarm when a version's held-out kappa is more than this below the baseline's.
    pub margin: f64,
    /// Alarm when a version's held-out kappa is below this, whatever the baseline says.
    pub floor: f64,
    pub resamples: usize,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            baseline: None,
            margin: 0.10,
            floor: 0.40,
            resamples: 2000,
        }
    }
}

/// A judge against the human label on a set of items.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Agreement {
    pub n: usize,
    /// Cohen's kappa with its 95% bootstrap interval; None when undefined.
    pub kappa: Option<Interval>,
    pub accuracy: Option<f64>,
    /// Of the patches people would merge, the share the judge says merge.
    pub true_merge_rate: Option<f64>,
    /// Of the patches people would reject, the share the judge says reject.
    pub true_reject_rate: Option<f64>,
    /// Rows: the human label (merge, revise, reject); columns: the judge's verdict.
    pub confusion: Vec<Vec<u64>>,
}

impl Agreement {
    pub fn of(pairs: &[(usize, usize)], resamples: usize) -> Agreement {
        let m = confusion(pairs, 3);
        let n = pairs.len();
        let rate = |row: usize| {
            let total: u64 = m[row].iter().sum();
            (total > 0).then(|| m[row][row] as f64 / total as f64)
        };
        Agreement {
            n,
            kappa: kappa_ci(pairs, 3, resamples),
            accuracy: (n > 0).then(|| (0..3).map(|c| m[c][c]).sum::<u64>() as f64 / n as f64),
            true_merge_rate: rate(Decision::Merge.index()),
            true_reject_rate: rate(Decision::Reject.index()),
            confusion: m,
        }
    }

    pub fn kappa(&self) -> Option<f64> {
        self.kappa.map(|k| k.estimate)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Period {
    /// ISO week, e.g. 2026-W48.
    pub week: String,
    pub dev: Agreement,
    pub holdout: Agreement,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionDrift {
    pub judge: String,
    pub judge_version: String,
    pub model: Option<String>,
    pub first_judged: String,
    pub last_judged: String,
    /// The latest verdict on each item, over all weeks.
    pub dev: Agreement,
    pub holdout: Agreement,
    /// Items the judge answered with a judge_error (left out of the figures).
    pub judge_errors: usize,
    pub weeks: Vec<Period>,
    /// Judged in the latest week with any checkpoint: the versions the alarm watches.
    pub current: bool,
    pub baseline: bool,
    pub alarm: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HumanCeiling {
    /// Krippendorff's alpha (nominal) among reviewers on items two or more labeled.
    pub alpha: Option<f64>,
    pub items: usize,
    pub reviewers: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub labeled_items: BTreeMap<String, usize>,
    pub human: HumanCeiling,
    pub versions: Vec<VersionDrift>,
    pub margin: f64,
    pub floor: f64,
    pub alarms: Vec<String>,
}

impl DriftReport {
    pub fn alarmed(&self) -> bool {
        !self.alarms.is_empty()
    }
}

/// The human label of an item: the reviewers' majority; a tie goes to the more cautious
/// verdict, as a split judge's does.
pub fn majority(verdicts: &[Decision]) -> Option<Decision> {
    let mut counts = [0usize; 3];
    for v in verdicts {
        counts[v.index()] += 1;
    }
    let top = *counts.iter().max()?;
    if top == 0 {
        return None;
    }
    Decision::ALL
        .into_iter()
        .filter(|d| counts[d.index()] == top)
        .max_by_key(|d| d.caution())
}

/// ISO week of an RFC 3339 timestamp.
pub fn iso_week(ts: &str) -> String {
    use chrono::Datelike;
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => {
            let w = t.with_timezone(&chrono::Utc).iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        Err(_) => "unknown".into(),
    }
}

/// Each judge version's merge verdicts against people on the held-out items, as counts only:
/// what the leaderboard's calibrated merge rate corrects with. People "would merge" an item
/// when its label is merge; the judge when its verdict is merge. Nothing else of a held-out
/// label leaves this module.
pub fn calibrations(report: &DriftReport) -> Vec<crate::report::leaderboard::JudgeCalibration> {
    let (merge, n) = (Decision::Merge.index(), Decision::ALL.len());
    report
        .versions
        .iter()
        .map(|v| {
            let m = &v.holdout.confusion;
            let row = |h: usize| m.get(h).map(|r| r.iter().sum::<u64>()).unwrap_or(0);
            let judged_merge = |h: usize| m.get(h).and_then(|r| r.get(merge)).copied().unwrap_or(0);
            let others: Vec<usize> = (0..n).filter(|h| *h != merge).collect();
            crate::report::leaderboard::JudgeCalibration {
                judge_version: v.judge_version.clone(),
                counts: crate::stats::JudgeErrorCounts {
                    positives: row(merge),
                    positives_judged_merge: judged_merge(merge),
                    negatives: others.iter().map(|h| row(*h)).sum(),
                    negatives_judged_merge: others.iter().map(|h| judged_merge(*h)).sum(),
                },
            }
        })
        .collect()
}

/// `calibrations` of the store's labels and checkpoint verdicts: the one way a report learns
/// how the judge errs on held-out items, through the drift computation and as counts only.
pub fn held_out_calibrations(
    store: &crate::store::Store,
) -> Result<Vec<crate::report::leaderboard::JudgeCalibration>, crate::error::Error> {
    let report = compute(
        &store.drift_labels()?,
        &store.checkpoint_verdicts()?,
        &DriftOptions::default(),
    );
    Ok(calibrations(&report))
}

pub fn compute(
    labels: &[DriftLabel],
    verdicts: &[CheckpointVerdict],
    o: &DriftOptions,
) -> DriftReport {
    // The human label and split of every labeled item.
    let mut by_item: BTreeMap<i64, (String, Vec<Decision>)> = BTreeMap::new();
    let mut reviewers = BTreeSet::new();
    for l in labels {
        let Some(d) = Decision::parse(&l.verdict) else {
            continue;
        };
        reviewers.insert(l.reviewer_id);
        by_item
            .entry(l.item_id)
            .or_insert_with(|| (l.split.clone(), Vec::new()))
            .1
            .push(d);
    }
    let human: HashMap<i64, (String, Decision)> = by_item
        .iter()
        .filter_map(|(id, (split, vs))| majority(vs).map(|m| (*id, (split.clone(), m))))
        .collect();
    let mut labeled_items = BTreeMap::new();
    for (split, _) in human.values() {
        *labeled_items.entry(split.clone()).or_insert(0) += 1;
    }
    let units: Vec<Vec<usize>> = by_item
        .values()
        .filter(|(_, vs)| vs.len() >= 2)
        .map(|(_, vs)| vs.iter().map(|d| d.index()).collect())
        .collect();
    let ceiling = HumanCeiling {
        alpha: krippendorff_alpha_nominal(&units, 3),
        items: units.len(),
        reviewers: reviewers.len(),
    };

    // Per version: the rows in order; the latest answer per item overall and per week.
    let mut order: Vec<String> = Vec::new();
    let mut rows: HashMap<String, Vec<&CheckpointVerdict>> = HashMap::new();
    for v in verdicts {
        if !rows.contains_key(&v.judge_version) {
            order.push(v.judge_version.clone());
        }
        rows.entry(v.judge_version.clone()).or_default().push(v);
    }
    let latest_week = verdicts.iter().map(|v| iso_week(&v.judged_at)).max();
    let split_pairs =
        |latest: &BTreeMap<i64, Option<Decision>>, split: &str| -> Vec<(usize, usize)> {
            latest
                .iter()
                .filter_map(|(item, j)| {
                    let (s, h) = human.get(item)?;
                    (s == split).then_some(())?;
                    Some((h.index(), (*j)?.index()))
                })
                .collect()
        };
    let mut versions: Vec<VersionDrift> = order
        .iter()
        .map(|version| {
            let vs = &rows[version];
            let mut latest: BTreeMap<i64, Option<Decision>> = BTreeMap::new();
            let mut weekly: BTreeMap<String, BTreeMap<i64, Option<Decision>>> = BTreeMap::new();
            for v in vs {
                let d = v.verdict.as_deref().and_then(Decision::parse);
                latest.insert(v.item_id, d);
                weekly
                    .entry(iso_week(&v.judged_at))
                    .or_default()
                    .insert(v.item_id, d);
            }
            let judge_errors = latest
                .iter()
                .filter(|(i, d)| d.is_none() && human.contains_key(i))
                .count();
            let weeks: Vec<Period> = weekly
                .iter()
                .map(|(week, l)| Period {
                    week: week.clone(),
                    dev: Agreement::of(&split_pairs(l, "dev"), o.resamples),
                    holdout: Agreement::of(&split_pairs(l, "holdout"), o.resamples),
                })
                .collect();
            VersionDrift {
                judge: vs[0].judge.clone(),
                judge_version: version.clone(),
                model: vs.last().and_then(|v| v.model.clone()),
                first_judged: vs
                    .iter()
                    .map(|v| v.judged_at.clone())
                    .min()
                    .unwrap_or_default(),
                last_judged: vs
                    .iter()
                    .map(|v| v.judged_at.clone())
                    .max()
                    .unwrap_or_default(),
                dev: Agreement::of(&split_pairs(&latest, "dev"), o.resamples),
                holdout: Agreement::of(&split_pairs(&latest, "holdout"), o.resamples),
                judge_errors,
                current: weekly.keys().next_back() == latest_week.as_ref(),
                baseline: false,
                weeks,
                alarm: None,
            }
        })
        .collect();

    let baseline = match &o.baseline {
        Some(prefix) => versions
            .iter()
            .position(|v| v.judge_version.starts_with(prefix.as_str())),
        None => versions
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.first_judged.cmp(&b.1.first_judged))
            .map(|(i, _)| i),
    };
    let base_kappa = baseline.and_then(|i| versions[i].holdout.kappa());
    let mut alarms = Vec::new();
    for (i, v) in versions.iter_mut().enumerate() {
        v.baseline = Some(i) == baseline;
        if !v.current {
            continue;
        }
        let Some(k) = v.holdout.kappa() else {
            continue;
        };
        let short = &v.judge_version[..v.judge_version.len().min(12)];
        let mut why = Vec::new();
        if k < o.floor {
            why.push(format!(
                "held-out kappa {k:.3} is below the floor {:.3}",
                o.floor
            ));
        }
        if let (Some(b), false) = (base_kappa, v.baseline) {
            if k < b - o.margin {
                why.push(format!(
                    "held-out kappa {k:.3} is more than {:.3} below the baseline's {b:.3}",
                    o.margin
                ));
            }
        }
        if !why.is_empty() {
            let text = why.join("; ");
            alarms.push(format!("judge {} version {short}: {text}", v.judge));
            v.alarm = Some(text);
        }
    }
    DriftReport {
        labeled_items,
        human: ceiling,
        versions,
        margin: o.margin,
        floor: o.floor,
        alarms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(item: i64, split: &str, reviewer: i64, verdict: &str) -> DriftLabel {
        DriftLabel {
            item_id: item,
            split: split.into(),
            reviewer_id: reviewer,
            verdict: verdict.into(),
        }
    }

    fn verdict(item: i64, version: &str, v: &str, at: &str) -> CheckpointVerdict {
        CheckpointVerdict {
            item_id: item,
            judge: "j".into(),
            judge_version: version.into(),
            model: None,
            verdict: Some(v.into()),
            judged_at: at.into(),
        }
    }

    #[test]
    fn calibrations_count_held_out_merge_verdicts_only() {
        // Held-out: 4 items people merge (judge: merge, merge, merge, revise) and 4 they do
        // not (revise → judge merge; reject → judge reject ×3). Dev items agree with people
        // everywhere and must not move the counts.
        let mut labels = Vec::new();
        let mut verdicts = Vec::new();
        let held = [
            ("merge", "merge"),
            ("merge", "merge"),
            ("merge", "merge"),
            ("merge", "revise"),
            ("revise", "merge"),
            ("reject", "reject"),
            ("reject", "reject"),
            ("reject", "reject"),
        ];
        for (i, (human, judge)) in held.iter().enumerate() {
            labels.push(label(i as i64, "holdout", 1, human));
            verdicts.push(verdict(i as i64, "v1", judge, "2026-11-16T10:00:00Z"));
        }
        for i in 100..110 {
            labels.push(label(i, "dev", 1, "reject"));
            verdicts.push(verdict(i, "v1", "merge", "2026-11-16T10:00:00Z"));
        }
        let r = compute(
            &labels,
            &verdicts,
            &DriftOptions {
                resamples: 50,
                ..Default::default()
            },
        );
        let c = calibrations(&r);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].judge_version, "v1");
        assert_eq!(
            c[0].counts,
            crate::stats::JudgeErrorCounts {
                positives: 4,
                positives_judged_merge: 3,
                negatives: 4,
                negatives_judged_merge: 1,
            }
        );
    }

    #[test]
    fn majority_breaks_ties_toward_caution() {
        use Decision::*;
        assert_eq!(majority(&[Merge, Merge, Reject]), Some(Merge));
        assert_eq!(majority(&[Merge, Revise]), Some(Revise));
        assert_eq!(majority(&[Merge, Reject]), Some(Reject));
        assert_eq!(majority(&[]), None);
    }

    #[test]
    fn a_judge_that_agrees_on_dev_but_not_on_holdout_is_seen_and_alarmed() {
        let vs = ["merge", "revise", "reject"];
        let mut labels = Vec::new();
        let mut verdicts = Vec::new();
        for i in 0..30i64 {
            let split = if i % 2 == 0 { "dev" } else { "holdout" };
            let h = vs[(i / 2 % 3) as usize];
            labels.push(label(i, split, 1, h));
            if i < 6 {
                labels.push(label(i, split, 2, h));
            }
            // "good" agrees everywhere; "tuned" agrees on dev and says merge on held-out items.
            verdicts.push(verdict(i, "good", h, "2026-11-16T10:00:00Z"));
            let t = if split == "dev" { h } else { "merge" };
            verdicts.push(verdict(i, "tuned", t, "2026-11-23T10:00:00Z"));
        }
        // The baseline is judged again in the latest week, so it stays current.
        verdicts.push(verdict(0, "good", "merge", "2026-11-24T10:00:00Z"));
        let r = compute(
            &labels,
            &verdicts,
            &DriftOptions {
                resamples: 200,
                ..Default::default()
            },
        );
        assert_eq!(r.labeled_items["dev"], 15);
        assert_eq!(r.human.items, 6);
        assert!((r.human.alpha.unwrap() - 1.0).abs() < 1e-12);
        let good = r
            .versions
            .iter()
            .find(|v| v.judge_version == "good")
            .unwrap();
        let tuned = r
            .versions
            .iter()
            .find(|v| v.judge_version == "tuned")
            .unwrap();
        assert!(good.baseline && good.current && good.alarm.is_none());
        assert!((good.holdout.kappa().unwrap() - 1.0).abs() < 1e-12);
        assert!((tuned.dev.kappa().unwrap() - 1.0).abs() < 1e-12);
        assert!(tuned.holdout.kappa().unwrap().abs() < 1e-12);
        assert_eq!(tuned.holdout.confusion[2][0], 5);
        assert_eq!(tuned.holdout.true_reject_rate, Some(0.0));
        assert_eq!(tuned.holdout.true_merge_rate, Some(1.0));
        assert!(tuned.alarm.as_deref().unwrap().contains("below the floor"));
        assert_eq!(r.alarms.len(), 1);
        assert_eq!(good.weeks.len(), 2);
        assert_eq!(good.weeks[0].week, "2026-W47");
    }
}
