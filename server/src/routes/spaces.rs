//! `GET /sync/spaces`, and what every endpoint does with the caller's spaces: record a
//! JWT's grants, read the caller's access, and tell streams about changes.

use axum::extract::State;
use axum::Json;
use pwa_sync_core::protocol::{Change, SpacesResponse};

use crate::auth::Identity;
use crate::db::{space_pokes, Access};
use crate::error::ApiError;
use crate::extract::AuthUser;
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

/// The caller's access, after recording the grants of their token (when it has some).
pub(super) async fn caller_access(app: &AppState, who: &Identity) -> Result<Access, ApiError> {
    record_token_grants(app, who).await?;
    Ok(app.store.access(&who.user).await?)
}

/// Make the recorded token grants those of the caller's token; a change reaches the
/// caller's streams (in this process; other processes hear it by NOTIFY).
pub(super) async fn record_token_grants(app: &AppState, who: &Identity) -> Result<(), ApiError> {
    let Some(claims) = &who.spaces else { return Ok(()) };
    if let Some(version) = app.store.sync_token_grants(&who.user, claims).await? {
        member_changed(app, &who.user, version).await;
    }
    Ok(())
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
