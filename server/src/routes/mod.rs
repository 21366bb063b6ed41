//! The HTTP surface: protocol v1 under `/sync`, and optionally a static app at `/`.
//! One module per endpoint; this one maps paths to them and adds the layers every
//! response goes through (body limit, tracing, CORS).

mod admin;
mod events;
mod health;
mod pull;
mod push;
mod spaces;
mod status;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, Method, Request, StatusCode};
use axum::routing::{any, get, post, put};
use axum::Router;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let sync = Router::new()
        .route("/sync/push", post(push::push))
        .route("/sync/pull", get(pull::pull))
        .route("/sync/events", get(events::events))
        .route("/sync/health", get(health::health))
        .route("/sync/spaces", get(spaces::spaces).post(spaces::create_space))
        .route("/sync/admin/spaces/{space}/members", get(admin::list_members))
        .route("/sync/admin/spaces/{space}/members/{user}", put(admin::put_member).delete(admin::delete_member))
        .route("/sync/admin/writes", post(admin::writes))
        .route("/sync/admin/status", get(status::status))
        .route("/sync", any(not_found))
        .route("/sync/{*rest}", any(not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.limits.max_body_bytes))
        .with_state(state);
    let mut router = match &config.static_dir {
        Some(dir) => {
            // Single-page app: any path that is not a file gets index.html.
            let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
            sync.fallback_service(files)
        }
        None => sync.fallback(not_found),
    };
    router = router.layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        // The path only: /sync/events may carry a token in its query string.
        tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
    }));
    if config.cors_any_origin {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("x-sync-protocol"),
                ])
                .expose_headers([header::RETRY_AFTER])
                .max_age(Duration::from_secs(600)),
        );
    }
    router
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "method not allowed on this endpoint")
}
