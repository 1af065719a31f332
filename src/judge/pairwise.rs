//! Pairwise judging of two agents' patches for the same task. Models favour whichever answer
//! they read first (or second), so both orders are asked and only a preference that survives
//! the swap counts; one that flips with the order is recorded as inconsistent.

use super::budget::Budget;
use super::engine::{Halt, Judge};
use super::input::ReviewInput;
use super::schema::validate;
use super::verdict::reply_json;
use crate::store::Store;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    First,
    Second,
    Tie,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairOutcome {
    /// Patch A is preferred in both orders.
    A,
    B,
    /// Both orders call it even.
    Tie,
    /// The preference changed with the order: position decided it, not the patches.
    Inconsistent,
}

impl PairOutcome {
    /// Whether the comparison counts in a tally (an inconsistent one does not).
    pub fn counts(self) -> bool {
        self != PairOutcome::Inconsistent
    }
}

/// Combines the answer with A shown first (`ab`) and with B shown first (`ba`).
pub fn resolve(ab: Preference, ba: Preference) -> PairOutcome {
    use Preference::*;
    match (ab, ba) {
        (First, Second) => PairOutcome::A,
        (Second, First) => PairOutcome::B,
        (Tie, Tie) => PairOutcome::Tie,
        _ => PairOutcome::Inconsistent,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairJudgement {
    pub judge: String,
    pub judge_version: String,
    pub outcome: PairOutcome,
    /// The answers with A first and with B first.
    pub a_first: Preference,
    pub b_first: Preference,
    pub rationales: [String; 2],
}

#[derive(Deserialize)]
struct Answer {
    preferred: Preference,
    rationale: String,
}

/// Judges A against B in both orders. `Ok(Err(..))` is a judge_error (malformed output twice
/// or a failed request in either order): no outcome is guessed from half an answer.
pub async fn judge_pair(
    judge: &Judge,
    store: &Store,
    budget: &Budget,
    a: &ReviewInput,
    b: &ReviewInput,
) -> Result<Result<PairJudgement, String>, Halt> {
    let spec = &judge.spec;
    let mut answers = Vec::new();
    for (first, second) in [(a, b), (b, a)] {
        let req = judge.prompts().pairwise_request(spec, first, second)?;
        let schema = req.schema.clone();
        let read = |o: &_| -> Result<Answer, String> {
            let v = reply_json(o)?;
            validate(&schema, &v)?;
            serde_json::from_value(v).map_err(|e| e.to_string())
        };
        match judge.answer_uncached(store, budget, req, read).await? {
            Ok(ans) => answers.push(ans),
            Err(e) => return Ok(Err(e)),
        }
    }
    let (ab, ba) = (&answers[0], &answers[1]);
    Ok(Ok(PairJudgement {
        judge: spec.name.clone(),
        judge_version: spec.version.clone(),
        outcome: resolve(ab.preferred, ba.preferred),
        a_first: ab.preferred,
        b_first: ba.preferred,
        rationales: [ab.rationale.clone(), ba.rationale.clone()],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Preference::*;

    #[test]
    fn only_a_preference_that_survives_the_swap_counts() {
        let cases = [
            (First, Second, PairOutcome::A),
            (Second, First, PairOutcome::B),
            (Tie, Tie, PairOutcome::Tie),
            // Always the first shown, or always the second: position bias.
            (First, First, PairOutcome::Inconsistent),
            (Second, Second, PairOutcome::Inconsistent),
            // A preference one way and a tie the other is not a preference.
            (First, Tie, PairOutcome::Inconsistent),
            (Tie, First, PairOutcome::Inconsistent),
        ];
        for (ab, ba, expected) in cases {
            assert_eq!(resolve(ab, ba), expected, "{ab:?} {ba:?}");
        }
        assert!(!PairOutcome::Inconsistent.counts());
        assert!(PairOutcome::Tie.counts());
    }
}
