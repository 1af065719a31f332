//! How a report groups tasks for its intervals: every task on its own, each task with its
//! attempts kept together, or the suite's declared clusters (task.toml `cluster`, or the
//! suite's `[report] cluster` rule) with every task of a cluster kept together. Reports say
//! which one they used.

use crate::store::{AttemptRow, TaskTally};
use serde::Serialize;
use std::collections::HashMap;

/// The grouping behind a report's intervals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clustering {
    /// `task` (tasks resampled, each with all its attempts) or `declared` (the suite's
    /// clusters resampled, each with all its tasks and their attempts).
    pub by: &'static str,
    /// Clusters resampled: the tasks themselves under `task`.
    pub clusters: usize,
    pub tasks: usize,
    /// The most attempts any task had.
    pub attempts_per_task: u64,
    /// One sentence saying so, for the reports.
    pub note: String,
}

/// Each task id's declared cluster, from the rows' task hashes and the store's clusters by
/// hash.
pub fn of_rows<'a>(
    rows: impl IntoIterator<Item = &'a AttemptRow>,
    by_hash: &HashMap<String, String>,
) -> HashMap<String, String> {
    rows.into_iter()
        .filter_map(|r| {
            Some((
                r.key.task_id.clone(),
                by_hash.get(&r.key.task_hash)?.clone(),
            ))
        })
        .collect()
}

/// Each task id's declared cluster, from the tallies' task hashes (in their attempts' order,
/// as `of_rows`) and the store's clusters by hash.
pub fn of_tallies<'a>(
    tallies: impl IntoIterator<Item = &'a TaskTally>,
    by_hash: &HashMap<String, String>,
) -> HashMap<String, String> {
    tallies
        .into_iter()
        .filter_map(|t| Some((t.task_id.clone(), by_hash.get(&t.task_hash)?.clone())))
        .collect()
}

/// Cluster indices for `tasks` (in order) and the clustering they describe. A task without a
/// declared cluster is a cluster of its own.
pub fn assign(
    tasks: &[&str],
    declared: &HashMap<String, String>,
    attempts_per_task: u64,
) -> (Vec<usize>, Clustering) {
    let labels: Vec<(bool, &str)> = tasks
        .iter()
        .map(|t| match declared.get(*t) {
            Some(c) => (true, c.as_str()),
            None => (false, *t),
        })
        .collect();
    let any_declared = labels.iter().any(|(d, _)| *d);
    let (idx, g) = crate::stats::cluster_index(&labels);
    // One cluster holding every task says nothing about spread between clusters: the
    // interval is then over tasks, and says why.
    if any_declared && g < 2 {
        let (idx, mut c) = assign(tasks, &HashMap::new(), attempts_per_task);
        c.note = format!("{}; every task is in one declared cluster", c.note);
        return (idx, c);
    }
    let n = tasks.len();
    let attempts = if attempts_per_task > 1 {
        format!(", each task's attempts (up to {attempts_per_task}) kept together")
    } else {
        String::new()
    };
    let clustering = if any_declared {
        Clustering {
            by: "declared",
            clusters: g,
            tasks: n,
            attempts_per_task,
            note: format!(
                "cluster bootstrap over {g} declared clusters of {n} tasks (tasks of one cluster resampled together{attempts})"
            ),
        }
    } else if attempts_per_task > 1 {
        Clustering {
            by: "task",
            clusters: n,
            tasks: n,
            attempts_per_task,
            note: format!("cluster bootstrap over {n} tasks{attempts}; no clusters declared"),
        }
    } else {
        Clustering {
            by: "task",
            clusters: n,
            tasks: n,
            attempts_per_task,
            note: format!("bootstrap over {n} tasks, one attempt each; no clusters declared"),
        }
    };
    (idx, clustering)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_clusters_group_tasks_and_the_rest_stand_alone() {
        let declared: HashMap<String, String> =
            [("t1", "billing"), ("t2", "billing"), ("t4", "t3")]
                .iter()
                .map(|(t, c)| (t.to_string(), c.to_string()))
                .collect();
        // t3 has no cluster; t4's cluster happens to be named "t3": still not t3's.
        let (idx, c) = assign(&["t1", "t2", "t3", "t4"], &declared, 1);
        assert_eq!(idx, [0, 0, 1, 2]);
        assert_eq!((c.by, c.clusters, c.tasks), ("declared", 3, 4));
        assert!(
            c.note.contains("3 declared clusters of 4 tasks"),
            "{}",
            c.note
        );

        let (idx, c) = assign(&["t1", "t3"], &HashMap::new(), 3);
        assert_eq!(idx, [0, 1]);
        assert_eq!((c.by, c.clusters), ("task", 2));
        assert!(
            c.note
                .contains("each task's attempts (up to 3) kept together"),
            "{}",
            c.note
        );
        let (_, c) = assign(&["t1"], &HashMap::new(), 1);
        assert!(c.note.contains("one attempt each"), "{}", c.note);
        let (idx, c) = assign(&["t1", "t2"], &declared, 1);
        assert_eq!((idx, c.by), (vec![0, 1], "task"));
        assert!(
            c.note.ends_with("every task is in one declared cluster"),
            "{}",
            c.note
        );
    }
}
