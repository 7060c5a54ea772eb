//! Probes against `lab-fixture`, a small program whose startup delay, memory
//! and CPU use are known: placement, memory and CPU readings, startup time.

mod probes {
    pub mod common;
    pub mod startup;
    pub mod usage;
}
