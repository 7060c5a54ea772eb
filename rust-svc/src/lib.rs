//! `rust-svc`: the Rust service of the lab. REST (axum on hyper, HTTP/1.1 and
//! h2c) and gRPC (tonic) over the same data, as contract/README.md states.
//!
//! `main.rs` only parses flags, builds the runtime and calls [`run`]; tests start
//! the same service in-process with [`Server::bind`] and [`Server::serve`].

pub mod apperror;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod grpcapi;
pub mod handlers;
pub mod limits;
pub mod metrics;
pub mod models;
pub mod routes;
pub mod server;
pub mod services;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use config::Config;
pub use server::{ServeError, Server, run, shutdown_signals};

use metrics::{Metrics, MetricsError};
use services::Services;

/// What every REST handler and gRPC service shares.
#[derive(Debug)]
pub struct AppState {
    pub services: Services,
    pub metrics: Arc<Metrics>,
    /// Readiness: cleared at the start of the drain, when `/health` turns 503.
    serving: AtomicBool,
}

impl AppState {
    pub fn new(services: Services) -> Result<Arc<Self>, MetricsError> {
        Ok(Arc::new(Self {
            services,
            metrics: Arc::new(Metrics::new()?),
            serving: AtomicBool::new(true),
        }))
    }

    /// False once the drain has started.
    pub fn is_serving(&self) -> bool {
        // Nothing else is published with the flag, so no ordering is needed.
        self.serving.load(Ordering::Relaxed)
    }

    /// Turns readiness off for good: the drain has started.
    pub fn stop_serving(&self) {
        self.serving.store(false, Ordering::Relaxed);
    }
}
