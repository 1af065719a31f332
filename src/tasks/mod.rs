//! Task authoring: tasks mined from a repository's history (`mine`) and tasks proven in
//! Docker (`validate`).

pub mod mine;
pub mod validate;
