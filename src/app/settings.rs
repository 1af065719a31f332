//! Settings resolved from flags and files before anything runs: which agents, which judge,
//! and the judge's budget for this run (the command line's limits over the judge file's).

use crate::config::agent::{find_agent, AgentSpec};
use crate::error::Error;
use crate::judge::budget::Budget;
use crate::judge::spec::Limits;
use crate::judge::{find_judge, Judge};
use crate::run::JudgeSetup;
use std::path::{Path, PathBuf};

/// Where judges are found and the limits the command line puts on this run's requests.
#[derive(Debug, Clone, Default)]
pub struct JudgeLimits {
    pub judges_dir: PathBuf,
    pub max_calls: Option<u64>,
    pub max_cost: Option<f64>,
}

/// The named agents, each once, in the order given.
pub fn load_agents(dir: &Path, names: &[String]) -> Result<Vec<AgentSpec>, Error> {
    let mut out: Vec<AgentSpec> = Vec::new();
    for n in names {
        let a = find_agent(dir, n)?;
        if out.iter().any(|o| o.name == a.name) {
            return Err(Error::Usage(format!("agent `{}` is given twice", a.name)));
        }
        out.push(a);
    }
    Ok(out)
}

/// Loads a judge (reading its key from the environment) and sets the run's budget: the
/// command line's limits over the judge file's.
pub fn judge_setup(name: &str, o: &JudgeLimits) -> Result<JudgeSetup, Error> {
    if o.max_cost.is_some_and(|c| !(c.is_finite() && c >= 0.0)) {
        return Err(Error::Usage(
            "--max-cost must be a non-negative number of USD".into(),
        ));
    }
    let spec = find_judge(&o.judges_dir, name)?;
    let limits = Limits {
        max_calls: o.max_calls.or(spec.budget.max_calls),
        max_cost: o.max_cost.or(spec.budget.max_cost),
    };
    if limits.max_cost.is_some() && spec.price.is_none() {
        eprintln!(
            "note: judge `{}` has no [price] table: the cost limit counts only costs the provider reports",
            spec.name
        );
    }
    Ok(JudgeSetup {
        judge: Judge::load(spec)?,
        budget: Budget::new(limits),
    })
}
