//! The REST router: every resource's router merged here, the contract's 404 and
//! 405, the handling of unread request bodies (`unread_body`), and the metrics
//! middleware around all of it.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::AppState;
use crate::handlers::{self, Unmatched};

mod unread_body;

/// Route label for requests that no route handles (404 and 405).
pub const UNMATCHED_ROUTE: &str = "unmatched";

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(handlers::health::router(Arc::clone(&state)))
        .merge(handlers::metrics::router(Arc::clone(&state)))
        .merge(handlers::users::router(Arc::clone(&state)))
        .merge(handlers::products::router(Arc::clone(&state)))
        .merge(handlers::orders::router(Arc::clone(&state)))
        .merge(handlers::echo::router(Arc::clone(&state)))
        .fallback(handlers::no_such_route)
        // Applies to the routes registered above, so it comes after the merges.
        .method_not_allowed_fallback(handlers::method_not_allowed)
        // Hand-written: `middleware::from_fn` cost every request an
        // allocation-heavy wrapper (measured GET 81.6k vs 100.1k req/s).
        .layer(unread_body::UnreadBodyLayer)
        // `Router::layer` wraps each route (and the fallback) after routing, so
        // the middleware sees `MatchedPath`. Added last, it is the outermost.
        .layer(middleware::from_fn_with_state(state, record_metrics))
}

/// Records `http_requests_total` and `http_request_duration_seconds`.
async fn record_metrics(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = match &route {
        Some(path) if response.extensions().get::<Unmatched>().is_none() => path.as_str(),
        _ => UNMATCHED_ROUTE,
    };
    state.metrics.observe_http(
        method.as_str(),
        route,
        response.status().as_str(),
        start.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests;
