//! `GET /sync/health`: public, for load balancers and uptime checks, so it says only
//! `{"status": "healthy" | "degraded" | "unhealthy"}` (counts and errors are for the
//! admin token, at `/sync/admin/status`).
//!
//! - unhealthy (503, `Retry-After: 5`): the database does not answer within 3 s.
//! - degraded (200, still serving): a webhook event went dead in the last hour, or the
//!   oldest pending one has waited more than [`BACKLOG_MS`].
//! - healthy (200): otherwise.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::db::{now_ms, Stats};
use crate::state::AppState;

const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
/// A pending webhook event older than this is a backlog: with the default 8 attempts the
/// retries of one event take about two minutes, so ten means deliveries are stuck.
pub const BACKLOG_MS: i64 = 600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Healthy,
    Degraded,
}

fn verdict(stats: &Stats, now: i64) -> Verdict {
    let backlog = stats.oldest_pending_at.is_some_and(|t| now.saturating_sub(t) > BACKLOG_MS);
    if stats.recent_dead > 0 || backlog {
        Verdict::Degraded
    } else {
        Verdict::Healthy
    }
}

pub(super) async fn health(State(app): State<AppState>) -> Response {
    match tokio::time::timeout(HEALTH_TIMEOUT, app.store.stats()).await {
        Ok(Ok(stats)) => {
            let status = match verdict(&stats, now_ms()) {
                Verdict::Healthy => "healthy",
                Verdict::Degraded => "degraded",
            };
            Json(json!({ "status": status })).into_response()
        }
        failed => {
            // The reason goes to the log, not to the public answer.
            let reason = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no answer within {} s", HEALTH_TIMEOUT.as_secs()),
            };
            tracing::warn!(error = %reason, "health check: database unreachable");
            let body = json!({ "status": "unhealthy" });
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000_000;

    fn stats(recent_dead: u64, oldest_pending_at: Option<i64>) -> Stats {
        Stats { recent_dead, oldest_pending_at }
    }

    #[test]
    fn dead_events_and_a_backlog_degrade() {
        assert_eq!(verdict(&stats(0, None), NOW), Verdict::Healthy);
        assert_eq!(verdict(&stats(0, Some(NOW - BACKLOG_MS)), NOW), Verdict::Healthy);
        assert_eq!(verdict(&stats(0, Some(NOW - BACKLOG_MS - 1)), NOW), Verdict::Degraded);
        assert_eq!(verdict(&stats(1, None), NOW), Verdict::Degraded);
    }
}
