//! Git, on the host only: the base repository an attempt starts from, the trees a patch is
//! graded on, and patches themselves (content-addressed, their paths and stats).

pub mod patch;
pub mod workspace;
