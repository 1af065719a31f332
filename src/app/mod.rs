//! What the commands do, above the pipeline: settings resolved from flags and files, the
//! nightly job, the benchmarks and the generated stores they measure.

pub mod bench;
pub mod capacity;
pub mod nightly;
pub mod settings;
pub mod synthetic;
