//! Probes: what the service under test costs, read from procfs (memory, CPU,
//! affinity), and the machine it ran on.

mod machine;
pub mod procfs;
pub mod sampler;
pub mod usage;

pub use machine::Machine;
pub use procfs::{Process, Reading};
pub use usage::{ServerUsage, Watch};
