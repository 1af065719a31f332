//! Scoring a patch: the hidden tests (`grade`, decided by `outcome`), the repository's
//! conventions and blast radius (`conventions`), the attempt's egress record (`egress`), and
//! whether the whole makes a mergeable patch (`merge`). Each scorer's result is cached under
//! (patch, task, scorer version) through `cached`.

pub mod cached;
pub mod canary;
pub mod conventions;
pub mod egress;
pub mod grade;
pub mod merge;
pub mod outcome;
