use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;

use crate::AppState;
use crate::apperror::AppError;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/users/{id}", get(get_user))
        .with_state(state)
}

async fn get_user(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let id = super::path_id(id)?;
    super::json(StatusCode::OK, state.services.user(id)?)
}
