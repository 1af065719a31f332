//! Git, on the host only: the base repository an attempt starts from, the trees a patch is
//! graded on, and patches themselves (content-addressed, their paths and stats); and which
//! lines of a Rust file are its tests, for mining and for grading alike.

pub mod patch;
pub mod rust_tests;
pub mod workspace;
