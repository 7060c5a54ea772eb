//! Reports: what the harness prints and writes about its runs.

pub mod terminal;
