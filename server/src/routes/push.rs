//! `POST /sync/push`: apply a batch of mutations, answer one result per mutation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pwa_sync_core::protocol::{PushRequest, PushResponse};

use super::spaces::{announce, record_token_grants};
use crate::db::push::check_request;
use crate::error::ApiError;
use crate::extract::{ApiJson, AuthUser};
use crate::state::AppState;

/// The user is extracted before the body (see [`crate::extract`]); the body limit
/// (`DefaultBodyLimit`) applies while the body is read.
pub(super) async fn push(
    State(app): State<AppState>,
    AuthUser(who): AuthUser,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    let limits = app.config.limits;
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
    // The push reads roles in its transaction: the token's grants must be recorded first.
    record_token_grants(&app, &who).await?;
    let user = who.user;
    let outcome = app.store.push(&user, &request, limits, &app.config.webhooks.urls).await?;
    announce(&app, &outcome.applied);
    tracing::debug!(
        user = %user,
        client = %request.client_id,
        mutations = request.mutations.len(),
        applied = outcome.applied.len(),
        "push"
    );
    Ok(Json(outcome.response))
}
