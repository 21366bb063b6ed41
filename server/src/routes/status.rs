//! `GET /sync/admin/status`: what an operator monitors, for the admin token only (see
//! [`super::admin::admin_only`]). Totals, the latest failures (rejected pushes, failing
//! webhook deliveries with their last error), failure rates, and each webhook URL's queue.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::admin::admin_only;
use crate::db::status::{RejectedPush, UrlStatus, WebhookFailure, RECENT_FAILURES};
use crate::error::ApiError;
use crate::http::redact;
use crate::state::AppState;
use crate::webhook::event_id;

pub(super) async fn status(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    admin_only(&app, &headers, "the server status needs the admin token").await?;
    let status = app.store.status().await?;
    let t = status.totals;
    let mut failures: Vec<(i64, Value)> = status.rejected_pushes.iter().map(push_failure).collect();
    failures.extend(status.webhook_failures.iter().map(webhook_failure));
    // Newest first over both kinds, bounded like each list.
    failures.sort_by_key(|f| std::cmp::Reverse(f.0));
    failures.truncate(usize::try_from(RECENT_FAILURES).unwrap_or(usize::MAX));
    let attempts: u64 = status.webhooks.iter().map(|u| u.attempts).sum();
    let delivered: u64 = status.webhooks.iter().map(|u| u.delivered).sum();
    Ok(Json(json!({
        "totals": {
            "documents": t.documents,
            "spaces": t.spaces,
            "members": t.members,
            "mutationsApplied": t.applied,
            "mutationsConflicted": t.conflicts,
            "mutationsRejected": t.rejected,
            "webhooksPending": status.webhooks.iter().map(|u| u.pending).sum::<u64>(),
            "webhooksDelivered": delivered,
            "webhooksDead": status.webhooks.iter().map(|u| u.dead).sum::<u64>(),
        },
        "failureRate": {
            "pushes": rate(t.rejected, t.applied + t.conflicts + t.rejected),
            "webhookAttempts": rate(attempts.saturating_sub(delivered), attempts),
        },
        "recentFailures": failures.into_iter().map(|(_, f)| f).collect::<Vec<_>>(),
        "webhooks": status.webhooks.iter().map(url_status).collect::<Vec<_>>(),
    })))
}

/// `failed / total`, 0 when nothing was tried.
fn rate(failed: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        failed as f64 / total as f64
    }
}

fn push_failure(p: &RejectedPush) -> (i64, Value) {
    // The stored result is the answer the client got; were it unreadable, the raw text
    // still tells the operator what happened.
    let stored: Option<Value> = serde_json::from_str(&p.result).ok();
    let field = |name: &str| stored.as_ref().and_then(|r| r.get(name)).cloned().unwrap_or(Value::Null);
    let last_error = match field("message") {
        Value::String(m) => m,
        _ => p.result.clone(),
    };
    let body = json!({
        "at": p.at,
        "kind": "push-rejected",
        "user": p.user,
        "clientId": p.client_id,
        "mutationId": p.mutation_id,
        "code": field("code"),
        "lastError": last_error,
    });
    (p.at, body)
}

fn webhook_failure(w: &WebhookFailure) -> (i64, Value) {
    let body = json!({
        "at": w.at,
        "kind": "webhook-failed",
        "url": redact(&w.url),
        "eventId": event_id(w.id),
        "state": w.state,
        "attempts": w.attempts,
        "lastError": w.last_error,
    });
    (w.at, body)
}

fn url_status(u: &UrlStatus) -> Value {
    json!({
        "url": redact(&u.url),
        "pending": u.pending,
        "delivered": u.delivered,
        "dead": u.dead,
        "attempts": u.attempts,
        "failureRate": rate(u.attempts.saturating_sub(u.delivered), u.attempts),
        "oldestPendingAt": u.oldest_pending_at,
        "lastError": u.last_error,
    })
}
