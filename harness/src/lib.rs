//! The lab's harness as a library: the `harness` binary is a thin `main` over
//! `cli::run`, and integration tests and the test fixture reach the probes,
//! targets and results through here.

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
