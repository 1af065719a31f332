//! Human review: sampling items to label behind the holdout wall (`labels`), the labeling
//! app (`web`), re-judging labeled checkpoints (`checkpoints`), and how far the judge drifts
//! from people (`agreement`, `drift`).

pub mod agreement;
pub mod checkpoints;
pub mod drift;
pub mod labels;
pub mod reviewers;
pub mod web;
