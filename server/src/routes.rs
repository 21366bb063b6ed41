//! The HTTP surface: protocol v1 under `/sync`, and optionally a static app at `/`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Query, State};
use axum::http::{header, HeaderMap, HeaderName, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use pwa_sync_core::protocol::{PullResponse, PushRequest, PushResponse};
use serde_json::json;
use tokio::sync::{watch, Notify};
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::db::push::{check_request, MAX_NAME_LEN};
use crate::db::{PullQuery, Store, DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT};
use crate::error::ApiError;
use crate::extract::{authorize, json_body};
use crate::notify::Notifier;
use crate::sse;

/// Most collections one pull may filter on.
const MAX_PULL_COLLECTIONS: usize = 100;
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// Everything a handler needs.
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub notifier: Arc<Notifier>,
    pub started: Instant,
    /// Becomes `true` at shutdown; ends the SSE streams.
    pub shutdown: watch::Receiver<bool>,
    /// Wakes this process's webhook delivery after a push queued events.
    pub webhook_wake: Arc<Notify>,
}

pub fn router(app: App) -> Router {
    let config = app.config.clone();
    let sync = Router::new()
        .route("/sync/push", post(push))
        .route("/sync/pull", get(pull))
        .route("/sync/events", get(sse::events))
        .route("/sync/health", get(health))
        .route("/sync", any(not_found))
        .route("/sync/{*rest}", any(not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.limits.max_body_bytes))
        .with_state(app);
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
                .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
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

async fn push(State(app): State<App>, request: Request<Body>) -> Result<Json<PushResponse>, ApiError> {
    // Header checks come before the body is read: a wrong protocol or a missing token
    // costs no buffering. The body limit (DefaultBodyLimit) applies when it is read.
    let (parts, body) = request.into_parts();
    let user = authorize(&app, &parts.headers)?;
    let limits = app.config.limits;
    let body = Bytes::from_request(Request::from_parts(parts, body), &()).await;
    let request: PushRequest = json_body(body, limits.max_body_bytes)?;
    if request.mutations.len() > limits.max_batch {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch-too-large",
            format!(
                "{} mutations in one push, more than {}; split the batch",
                request.mutations.len(),
                limits.max_batch
            ),
        ));
    }
    check_request(&request).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid-request", m))?;
    let outcome = app.store.push(&user, &request, limits, &app.config.webhooks.urls).await?;
    if let Some(checkpoint) = outcome.checkpoint() {
        app.notifier.publish(&user, checkpoint);
        if app.config.webhooks.enabled() {
            app.webhook_wake.notify_one();
        }
    }
    tracing::debug!(
        user = %user,
        client = %request.client_id,
        mutations = request.mutations.len(),
        applied = outcome.applied.len(),
        "push"
    );
    Ok(Json(outcome.response))
}

async fn pull(
    State(app): State<App>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let user = authorize(&app, &headers)?;
    let Query(params) = query.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let query = pull_query(&params).map_err(ApiError::bad_request)?;
    Ok(Json(app.store.pull(&user, &query).await?))
}

fn pull_query(params: &HashMap<String, String>) -> Result<PullQuery, String> {
    let number = |name: &str| -> Result<Option<u64>, String> {
        params
            .get(name)
            .map(|v| v.parse::<u64>().map_err(|_| format!("{name} must be a non-negative integer, got {v:?}")))
            .transpose()
    };
    let checkpoint = number("checkpoint")?.unwrap_or(0);
    let limit = number("limit")?.unwrap_or(u64::from(DEFAULT_PULL_LIMIT));
    if limit == 0 {
        return Err("limit must be at least 1".into());
    }
    let limit = u32::try_from(limit.min(u64::from(MAX_PULL_LIMIT))).unwrap_or(MAX_PULL_LIMIT);
    let collections = match params.get("collections") {
        None => None,
        Some(list) => {
            let names: Vec<String> =
                list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
            if names.len() > MAX_PULL_COLLECTIONS {
                return Err(format!("at most {MAX_PULL_COLLECTIONS} collections per pull"));
            }
            // The names a push accepts (and PostgreSQL cannot compare text with NUL in it).
            if names.iter().any(|n| n.len() > MAX_NAME_LEN || n.chars().any(char::is_control)) {
                return Err(format!("collection names are at most {MAX_NAME_LEN} bytes, without control characters"));
            }
            (!names.is_empty()).then_some(names)
        }
    };
    Ok(PullQuery { checkpoint, limit, collections })
}

async fn health(State(app): State<App>) -> Response {
    let uptime = app.started.elapsed().as_secs();
    match tokio::time::timeout(HEALTH_TIMEOUT, app.store.stats()).await {
        Ok(Ok(stats)) => Json(json!({
            "status": "ok",
            "database": "ok",
            "uptimeSeconds": uptime,
            "documents": stats.documents,
            "mutations": stats.mutations,
            "webhooks": {
                "pending": stats.webhooks.pending,
                "delivered": stats.webhooks.delivered,
                "dead": stats.webhooks.dead,
            },
        }))
        .into_response(),
        failed => {
            let reason = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no answer within {} s", HEALTH_TIMEOUT.as_secs()),
            };
            tracing::warn!(error = %reason, "health check: database unreachable");
            let body = json!({
                "status": "degraded",
                "database": format!("error: {reason}"),
                "uptimeSeconds": uptime,
                "documents": null,
                "mutations": null,
                "webhooks": null,
            });
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], Json(body)).into_response()
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "method not allowed on this endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn pull_query_defaults_and_bounds() {
        let q = pull_query(&params(&[])).ok();
        assert_eq!(q, Some(PullQuery { checkpoint: 0, limit: DEFAULT_PULL_LIMIT, collections: None }));
        let q = pull_query(&params(&[("limit", "5000"), ("collections", "a, b,,")])).ok();
        assert_eq!(q.as_ref().map(|q| q.limit), Some(MAX_PULL_LIMIT));
        assert_eq!(q.and_then(|q| q.collections), Some(vec!["a".to_string(), "b".to_string()]));
        assert!(pull_query(&params(&[("checkpoint", "-1")])).is_err());
        assert!(pull_query(&params(&[("limit", "0")])).is_err());
        assert!(pull_query(&params(&[("collections", "a,b\u{0}")])).is_err());
        assert!(pull_query(&params(&[("collections", &"x".repeat(MAX_NAME_LEN + 1))])).is_err());
        assert!(pull_query(&params(&[("collections", &"x".repeat(MAX_NAME_LEN))])).is_ok());
    }
}
