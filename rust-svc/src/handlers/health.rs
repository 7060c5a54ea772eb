use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use serde::Serialize;

use crate::AppState;
use crate::apperror::AppError;

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(state)
}

/// 200 `ok` while serving; 503 `draining` from the start of the drain, so
/// that a load balancer stops sending before the listeners close.
async fn health(State(state): State<Arc<AppState>>) -> Result<Response, AppError> {
    if state.is_serving() {
        super::json(StatusCode::OK, &Health { status: "ok" })
    } else {
        super::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &Health { status: "draining" },
        )
    }
}
