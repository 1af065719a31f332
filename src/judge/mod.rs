//! The LLM judge, the third scorer: would a maintainer merge this patch? This module is the
//! only code that calls model providers.
//!
//! A judge (`judges/<name>.toml`, `spec`) names a provider, a model, minijinja templates and a
//! rubric; its version hashes what could change its answers. For each attempt the judge is
//! told the problem, the patch and what the tests said (`input`), untrusted text fenced by
//! random markers (`fence`, `prompt`); the answer comes back through the provider's
//! structured-output or tool mechanism (`provider`), is validated (`schema`, `verdict`), given
//! one repair if malformed, and cached per sample (`engine`). Samples are combined by majority
//! (`aggregate`, `judgement`); patches that address their reviewer are flagged (`injection`).
//! Requests are retried with backoff (`retry`) within a run's budget (`budget`), and keys never
//! leave `secret`. `pass` judges a whole evaluation; `pairwise` compares two patches in both
//! orders.

pub mod aggregate;
pub mod budget;
pub mod engine;
pub mod fence;
pub mod injection;
pub mod input;
pub mod judgement;
pub mod pairwise;
pub mod pass;
pub mod prompt;
pub mod provider;
pub mod retry;
pub mod rewrite;
pub mod schema;
pub mod secret;
pub mod spec;
pub mod verdict;

pub use engine::{Halt, Judge};
pub use judgement::Judgement;
pub use spec::{find_judge, load_judge, JudgeSpec};
