//! The admin API, under `/sync/admin`: members of a space, and server-authored writes.
//!
//! - Without `--admin-token` it does not exist (404), except `POST /sync/admin/writes`
//!   when `--inbound-secret` is set.
//! - `Authorization: Bearer <admin token>` may call every endpoint.
//! - A space's owner may call that space's member endpoints with their own token; any
//!   other valid token gets 403, a missing or invalid one 401.
//! - `POST /sync/admin/writes` without `Authorization` needs a `Sync-Signature` valid under
//!   `--inbound-secret` (the outbound format, five minutes' tolerance; 401 otherwise).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use pwa_sync_core::protocol::{is_valid_space_id, Role};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::spaces::{announce, caller_access, member_changed};
use crate::auth::MAX_USER_LEN;
use crate::db::{now_ms, server_write, ServerWrite};
use crate::error::ApiError;
use crate::extract::{authenticate, bearer, decode, unreadable, ApiJson};
use crate::state::AppState;
use crate::webhook::{self, SIGNATURE_HEADER};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleBody {
    role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WritesBody {
    writes: Vec<ServerWrite>,
}

/// `PUT /sync/admin/spaces/{space}/members/{user}` `{"role": …}`.
pub(super) async fn put_member(
    State(app): State<AppState>,
    Path((space, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<ApiJson<RoleBody>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    // Who asks is answered before what the body says.
    member_request(&app, &headers, &space, Some(&user)).await?;
    let ApiJson(RoleBody { role }) = body?;
    if let Some(version) = app.store.set_member(&space, &user, Some(role)).await? {
        member_changed(&app, &user, version).await;
    }
    Ok(Json(json!({"space": space, "user": user, "role": role})))
}

/// `DELETE /sync/admin/spaces/{space}/members/{user}`: removes the grant made here (a
/// JWT's `spaces` claim grants on its own).
pub(super) async fn delete_member(
    State(app): State<AppState>,
    Path((space, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    member_request(&app, &headers, &space, Some(&user)).await?;
    if let Some(version) = app.store.set_member(&space, &user, None).await? {
        member_changed(&app, &user, version).await;
    }
    Ok(Json(json!({"space": space, "user": user, "role": null})))
}

/// `GET /sync/admin/spaces/{space}/members` → `{"members": [{"user", "role"}]}`.
pub(super) async fn list_members(
    State(app): State<AppState>,
    Path(space): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    member_request(&app, &headers, &space, None).await?;
    let members: Vec<Value> =
        app.store.members(&space).await?.into_iter().map(|(user, role)| json!({"user": user, "role": role})).collect();
    Ok(Json(json!({ "members": members })))
}

/// `POST /sync/admin/writes` → `{"results": [{"version": N}]}`, all or nothing.
pub(super) async fn writes(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let admin = &app.config.admin;
    if admin.token.is_none() && admin.inbound_secret.is_none() {
        return Err(ApiError::not_found());
    }
    let body = body.map_err(|r| unreadable(&r, app.config.limits.max_body_bytes))?;
    match bearer(&headers)? {
        Some(token) => admin_token(&app, token, "server writes need the admin token or a signature").await?,
        None => signed(&app, &headers, &body)?,
    }
    let WritesBody { writes } = decode(&body)?;
    let limits = app.config.limits;
    if writes.len() > limits.max_batch {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch-too-large",
            format!("{} writes in one request, more than {}; split them", writes.len(), limits.max_batch),
        ));
    }
    server_write::check(&writes, limits).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid-request", m))?;
    let applied = app.store.server_writes(&writes, limits, &app.config.webhooks.urls).await?;
    announce(&app, &applied);
    tracing::info!(writes = applied.len(), "server writes");
    let results: Vec<Value> = applied.iter().map(|c| json!({"version": c.version})).collect();
    Ok(Json(json!({ "results": results })))
}

/// 404 without an admin token; 400 for an invalid space or user id; then the admin
/// token, or the space's owner (401 for no or an invalid token, 403 for anyone else).
async fn member_request(app: &AppState, headers: &HeaderMap, space: &str, user: Option<&str>) -> Result<(), ApiError> {
    if app.config.admin.token.is_none() {
        return Err(ApiError::not_found());
    }
    if !is_valid_space_id(space) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            format!("space {space:?} is not 1 to 128 characters of [A-Za-z0-9_.:-]"),
        ));
    }
    if let Some(user) = user {
        if user.is_empty() || user.len() > MAX_USER_LEN || user.chars().any(char::is_control) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                format!("the user id must be 1 to {MAX_USER_LEN} bytes without control characters"),
            ));
        }
    }
    let token = bearer(headers)?.ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
    if is_admin_token(app, token) {
        return Ok(());
    }
    let who = authenticate(app, Some(token)).await?;
    if caller_access(app, &who).await?.role(space) == Some(Role::Owner) {
        return Ok(());
    }
    Err(forbidden(format!("only the admin token or an owner of {space} may manage its members")))
}

/// Endpoints for the admin token alone: 404 without `--admin-token`, 401 for no or an
/// invalid token, 403 for a user's.
pub(super) async fn admin_only(app: &AppState, headers: &HeaderMap, refusal: &str) -> Result<(), ApiError> {
    if app.config.admin.token.is_none() {
        return Err(ApiError::not_found());
    }
    let token = bearer(headers)?.ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
    admin_token(app, token, refusal).await
}

/// The bearer of a writes request must hold the admin token: 401 for one that is not a
/// token at all, 403 for a user's.
async fn admin_token(app: &AppState, token: &str, refusal: &str) -> Result<(), ApiError> {
    if is_admin_token(app, token) {
        return Ok(());
    }
    authenticate(app, Some(token)).await?;
    Err(forbidden(refusal.into()))
}

/// A `Sync-Signature` valid under `--inbound-secret` for this exact body, or 401.
fn signed(app: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let secret = app.config.admin.inbound_secret.as_deref().ok_or_else(|| {
        ApiError::unauthorized("missing Authorization: Bearer <admin token> (this server takes no signed writes)")
    })?;
    let header = headers
        .get(SIGNATURE_HEADER)
        .ok_or_else(|| ApiError::unauthorized(format!("missing Authorization or {SIGNATURE_HEADER}")))?
        .to_str()
        .map_err(|_| ApiError::unauthorized(format!("the {SIGNATURE_HEADER} header is not text")))?;
    webhook::verify(secret, header, body, now_ms() / 1000)
        .map_err(|e| ApiError::unauthorized(format!("{SIGNATURE_HEADER} refused: {e}")))
}

/// Compares digests, so the time taken does not depend on how much of the token matched.
fn is_admin_token(app: &AppState, token: &str) -> bool {
    let Some(expected) = app.config.admin.token.as_deref() else { return false };
    let (a, b) = (Sha256::digest(token.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}
