//! The lab's harness as a library: the `harness` binary is a thin `main` over
//! `cli::run`, and integration tests and the test fixture reach the probes,
//! targets and results through here.
//!
//! # Layers
//!
//! Bottom first. A module may use the modules of its own layer and of the
//! layers below it, never one above (`tests/layers.rs` checks it; `just
//! lint` runs that test):
//!
//! 1. `rng`, `environment`, `interrupt`, `placement`, `scenario`, `stats`: the
//!    ground every job stands on;
//! 2. `wire`: every client the harness speaks;
//! 3. `target`: the services, built and started;
//! 4. `load`: the load engine;
//! 5. `probe`: what is read of a service and the machine around a run;
//! 6. `conformance`: the referee;
//! 7. `results`, `suite`: the file formats written and read;
//! 8. `report`: analysis and rendering;
//! 9. `runner`, `drain`, `startup`, `images`, `loadgen_bench`, `bench`,
//!    `stability`, `pages`: the jobs;
//! 10. `commands`: one per subcommand;
//! 11. `cli`: parsing and dispatch.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod conformance;
pub mod drain;
pub mod environment;
pub mod images;
pub mod interrupt;
pub mod load;
pub mod loadgen_bench;
pub mod pages;
pub mod placement;
pub mod probe;
pub mod report;
pub mod results;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod stability;
pub mod startup;
pub mod stats;
pub mod suite;
pub mod target;
pub mod wire;
