//! Who is asking. Both extractors read headers only (`FromRequestParts`), and axum runs
//! those before the body extractor: a wrong protocol or a missing token is answered
//! before any body is buffered, and wins over a malformed body.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use pwa_sync_core::protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde::Deserialize;

use crate::auth::Identity;
use crate::error::ApiError;
use crate::state::AppState;

/// The user of a request with `X-Sync-Protocol: 1` and a good `Authorization: Bearer …`:
/// 409 for another protocol, then 401 for a missing or refused token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthUser(pub Identity);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<AuthUser, ApiError> {
        check_protocol(&parts.headers)?;
        authenticate(state, bearer(&parts.headers)?).await.map(AuthUser)
    }
}

/// As [`AuthUser`], for `/sync/events`: browsers' EventSource cannot set headers, so
/// `?protocol=1` and `?token=…` stand in for them. A `protocol` parameter is checked in
/// place of the header; the `Authorization` header, when present, is used in place of
/// `token`. The query string is for this endpoint only (it ends up in access logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamUser(pub Identity);

#[derive(Deserialize, Default)]
struct StreamQuery {
    token: Option<String>,
    protocol: Option<String>,
}

impl FromRequestParts<AppState> for StreamUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<StreamUser, ApiError> {
        // An unreadable query string counts as none: the headers may still do.
        let Query(query) = Query::<StreamQuery>::try_from_uri(&parts.uri).unwrap_or_default();
        match query.protocol.as_deref() {
            Some(p) if p == PROTOCOL_VERSION => {}
            Some(p) => return Err(unsupported_protocol(Some(p))),
            None => check_protocol(&parts.headers)?,
        }
        let token = match bearer(&parts.headers)? {
            Some(t) => Some(t),
            None => query.token.as_deref(),
        };
        authenticate(state, token).await.map(StreamUser)
    }
}

fn unsupported_protocol(got: Option<&str>) -> ApiError {
    let message = match got {
        None => format!("missing {PROTOCOL_HEADER} header; this server speaks protocol {PROTOCOL_VERSION}"),
        Some(v) => format!("unsupported protocol {v:?}; this server speaks protocol {PROTOCOL_VERSION}"),
    };
    ApiError::new(StatusCode::CONFLICT, "unsupported-protocol", message)
}

/// `X-Sync-Protocol: 1`, or 409.
fn check_protocol(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(PROTOCOL_HEADER).map(|v| v.to_str().unwrap_or("(not text)")) {
        Some(v) if v.trim() == PROTOCOL_VERSION => Ok(()),
        other => Err(unsupported_protocol(other)),
    }
}

/// The token of `Authorization: Bearer …`, if there is such a header; 401 for another
/// scheme or an empty token.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized("expected Authorization: Bearer <token>"));
    }
    Ok(Some(token.trim()))
}

/// Who `token` authenticates (dev token or JWT, as configured), or 401.
pub(crate) async fn authenticate(state: &AppState, token: Option<&str>) -> Result<Identity, ApiError> {
    let token = token.ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
    state.config.auth.authenticate(token).await.map_err(|e| ApiError::unauthorized(e.0))
}
