//! `GET /sync/spaces`, `POST /sync/spaces`, and what every endpoint does with the
//! caller's spaces: record a JWT's (and `--everyone`'s) grants, read the caller's access,
//! and tell streams about changes.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pwa_sync_core::protocol::{is_valid_space_id, Change, Role, SpaceRole, SpacesResponse};
use serde::Deserialize;

use crate::auth::Identity;
use crate::db::{space_pokes, Access};
use crate::error::ApiError;
use crate::extract::{ApiJson, AuthUser};
use crate::notify::Poke;
use crate::state::AppState;

/// `{"spaces": [{"id", "role"}]}`: every space the caller reads, private space included.
pub(super) async fn spaces(
    State(app): State<AppState>,
    AuthUser(who): AuthUser,
) -> Result<Json<SpacesResponse>, ApiError> {
    let access = caller_access(&app, &who).await?;
    Ok(Json(SpacesResponse { spaces: access.list() }))
}

/// What users may create: spaces named `group:…`. Other names are the operator's to
/// hand out (admin API, `--everyone`, token claims), so no user can take `conference`
/// before the operator grants it.
pub const USER_SPACE_PREFIX: &str = "group:";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSpace {
    id: String,
}

/// `POST /sync/spaces` `{"id": "group:…"}` → 201 `{"id", "role": "owner"}`: a new shared
/// space with the caller as its owner, who then adds members with the member endpoints.
/// 409 `space-exists` when the space was ever used.
pub(super) async fn create_space(
    State(app): State<AppState>,
    AuthUser(who): AuthUser,
    body: Result<ApiJson<NewSpace>, ApiError>,
) -> Result<(StatusCode, Json<SpaceRole>), ApiError> {
    let ApiJson(NewSpace { id }) = body?;
    if !is_valid_space_id(&id) || !id.starts_with(USER_SPACE_PREFIX) || id.len() == USER_SPACE_PREFIX.len() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            format!("space {id:?} must start with {USER_SPACE_PREFIX} and be 1 to 128 characters of [A-Za-z0-9_.:-]"),
        ));
    }
    let Some(version) = app.store.create_space(&id, &who.user).await? else {
        return Err(ApiError::new(StatusCode::CONFLICT, "space-exists", format!("space {id} already exists")));
    };
    member_changed(&app, &who.user, version).await;
    Ok((StatusCode::CREATED, Json(SpaceRole { id, role: Role::Owner })))
}

/// The caller's access, after recording the grants of their token (when it has some).
pub(super) async fn caller_access(app: &AppState, who: &Identity) -> Result<Access, ApiError> {
    record_token_grants(app, who).await?;
    Ok(app.store.access(&who.user).await?)
}

/// Make the recorded token grants those of the caller's token and of `--everyone`; a
/// change reaches the caller's streams (in this process; other processes hear it by
/// NOTIFY). Recorded on first sight, so a user's first pull after it backfills the space.
pub(super) async fn record_token_grants(app: &AppState, who: &Identity) -> Result<(), ApiError> {
    let Some(claims) = token_grants(who, &app.config.everyone) else { return Ok(()) };
    if let Some(version) = app.store.sync_token_grants(&who.user, &claims).await? {
        member_changed(app, &who.user, version).await;
    }
    Ok(())
}

/// The token's grants with `everyone`'s, the stronger role where both name a space;
/// `None` (leave the recorded ones alone) for a dev token when there are no `everyone`.
fn token_grants(who: &Identity, everyone: &BTreeMap<String, Role>) -> Option<BTreeMap<String, Role>> {
    if who.spaces.is_none() && everyone.is_empty() {
        return None;
    }
    let mut grants = who.spaces.clone().unwrap_or_default();
    for (space, role) in everyone {
        let held = grants.entry(space.clone()).or_insert(*role);
        *held = (*held).max(*role);
    }
    Some(grants)
}

/// `user`'s memberships changed at `version`: their streams here read their spaces again
/// and are poked (the next pull backfills or revokes).
pub(super) async fn member_changed(app: &AppState, user: &str, version: u64) {
    if app.notifier.is_subscribed(user) {
        match app.store.access(user).await {
            Ok(access) => app.notifier.set_spaces(user, access.spaces.into_keys().collect()),
            // The poke still goes out: the next pull reads memberships afresh.
            Err(e) => tracing::warn!(error = %e, "cannot read a member's spaces after a membership change"),
        }
    }
    app.notifier.publish_user(user, version);
}

/// Applied changes reach the streams of their spaces' readers (here; other processes by
/// NOTIFY) and wake the webhook delivery.
pub(super) fn announce(app: &AppState, changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    for poke in space_pokes(changes) {
        if let Poke::Space(space, version) = poke {
            app.notifier.publish_space(&space, version);
        }
    }
    if app.config.webhooks.enabled() {
        app.webhook_wake.notify_one();
    }
}
