//! Probes: what the service under test costs, read from procfs (memory, CPU,
//! affinity), and the machine it ran on.

mod machine;

pub use machine::Machine;
