//! Probes: what the service under test costs, read from procfs (memory, CPU,
//! affinity), the machine it ran on, and the traces it exports (`traces`,
//! an OTLP sink).

mod machine;
pub mod procfs;
pub mod sampler;
pub mod traces;
pub mod usage;

pub use machine::Machine;
pub use procfs::{Process, Reading};
pub use usage::{ServerUsage, Watch};
