use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};

use crate::AppState;
use crate::apperror::AppError;

use super::decode;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/orders", post(create_order))
        .route("/v1/orders/{id}", get(get_order))
        .with_state(state)
}

async fn create_order(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let body = decode::read_json_body(&headers, body).await?;
    let new = decode::order(&body)?;
    let order = state.services.create_order(new)?;
    super::json(StatusCode::CREATED, &*order)
}

async fn get_order(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let id = super::path_id(id)?;
    let order = state.services.order(id)?;
    super::json(StatusCode::OK, &*order)
}
