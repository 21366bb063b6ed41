//! `GET /sync/health`: no authentication; 200 with counts, or 503 `degraded` when the
//! database does not answer in time (for load balancers and `make demo`).

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) async fn health(State(app): State<AppState>) -> Response {
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
