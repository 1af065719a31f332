//! `mergebench plan`: capacity planning by replaying an evaluation's stored durations. Each
//! attempt takes what it took (agent plus grading); tasks are split over machines exactly as
//! `--shard I/N` splits them, and each machine runs its attempts in plan order, J at a time,
//! each starting as soon as a slot is free (as `run --jobs J` does). The prediction is the
//! latest machine's finish. Image builds and the judge pass are not in the stored attempt
//! durations, so they are not in the prediction either.

use crate::run::plan::Shard;
use crate::store::AttemptRow;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

/// One attempt's place in the plan and how long it took.
#[derive(Debug, Clone)]
pub struct Work {
    pub task: String,
    pub seconds: f64,
}

/// The stored attempts of an evaluation as work, in plan order (task, agent, attempt). An
/// attempt without a recorded duration counts as its agent plus grading time, or zero.
pub fn work_of(rows: &[AttemptRow], task_order: &[String]) -> Vec<Work> {
    let pos: BTreeMap<&str, usize> = task_order
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut rows: Vec<&AttemptRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        (
            pos.get(a.key.task_id.as_str()),
            &a.key.task_id,
            &a.key.agent,
            a.key.attempt,
        )
            .cmp(&(
                pos.get(b.key.task_id.as_str()),
                &b.key.task_id,
                &b.key.agent,
                b.key.attempt,
            ))
    });
    rows.iter()
        .map(|r| Work {
            task: r.key.task_id.clone(),
            seconds: r
                .run
                .total_seconds
                .unwrap_or_else(|| {
                    r.run.agent_seconds.unwrap_or(0.0) + r.run.grade_seconds.unwrap_or(0.0)
                })
                .max(0.0),
        })
        .collect()
}

/// A min-heap entry: when a slot is free (ordered in reverse, so the heap pops the earliest).
#[derive(PartialEq)]
struct Free(f64);
impl Eq for Free {}
impl PartialOrd for Free {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Free {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .0
            .partial_cmp(&self.0)
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

/// When one machine finishes `work` with `jobs` slots, each attempt starting in order as
/// soon as a slot is free.
fn makespan(work: &[&Work], jobs: usize) -> f64 {
    let mut slots: BinaryHeap<Free> = (0..jobs.max(1)).map(|_| Free(0.0)).collect();
    let mut end: f64 = 0.0;
    for w in work {
        let start = slots.pop().map(|f| f.0).unwrap_or(0.0);
        let done = start + w.seconds;
        end = end.max(done);
        slots.push(Free(done));
    }
    end
}

/// The predicted wall time of the plan on `machines` × `jobs`, in seconds, and each
/// machine's share.
pub fn predict(work: &[Work], machines: u32, jobs: usize) -> (f64, Vec<f64>) {
    let machines = machines.max(1);
    let mut tasks: Vec<&str> = work.iter().map(|w| w.task.as_str()).collect();
    tasks.sort_unstable();
    tasks.dedup();
    let per_machine: Vec<f64> = (1..=machines)
        .map(|index| {
            let shard = Shard {
                index,
                count: machines,
            };
            let mine: std::collections::HashSet<&str> = tasks
                .iter()
                .enumerate()
                .filter(|(i, _)| shard.holds(*i))
                .map(|(_, t)| *t)
                .collect();
            let part: Vec<&Work> = work
                .iter()
                .filter(|w| mine.contains(w.task.as_str()))
                .collect();
            makespan(&part, jobs)
        })
        .collect();
    let wall = per_machine.iter().copied().fold(0.0, f64::max);
    (wall, per_machine)
}

/// The fewest machines (each with `jobs` slots) that finish within `deadline`, or none when
/// even one machine per task does not (the longest task alone is too long).
pub fn machines_for(work: &[Work], jobs: usize, deadline: Duration) -> Option<u32> {
    let mut tasks: Vec<&str> = work.iter().map(|w| w.task.as_str()).collect();
    tasks.sort_unstable();
    tasks.dedup();
    let limit = deadline.as_secs_f64();
    (1..=tasks.len().max(1) as u32).find(|m| predict(work, *m, jobs).0 <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(task: &str, seconds: f64) -> Work {
        Work {
            task: task.into(),
            seconds,
        }
    }

    #[test]
    fn one_machine_one_job_is_the_sum_and_more_jobs_overlap() {
        let work = vec![w("a", 10.0), w("a", 20.0), w("b", 30.0), w("c", 5.0)];
        assert_eq!(predict(&work, 1, 1).0, 65.0);
        // Two slots: a1 [0,10], a2 [0,20], b [10,40], c [20,25].
        assert_eq!(predict(&work, 1, 2).0, 40.0);
        // Three machines, one task each: the longest task decides.
        let (wall, each) = predict(&work, 3, 1);
        assert_eq!(wall, 30.0);
        assert_eq!(each, vec![30.0, 30.0, 5.0]);
    }

    #[test]
    fn a_deadline_asks_for_the_fewest_machines_that_meet_it() {
        let work: Vec<Work> = (0..8).map(|i| w(&format!("t{i}"), 60.0)).collect();
        assert_eq!(machines_for(&work, 1, Duration::from_secs(480)), Some(1));
        assert_eq!(machines_for(&work, 1, Duration::from_secs(240)), Some(2));
        assert_eq!(machines_for(&work, 2, Duration::from_secs(120)), Some(2));
        assert_eq!(machines_for(&work, 1, Duration::from_secs(59)), None);
    }
}
