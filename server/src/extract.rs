//! Request checks shared by the endpoints: protocol header, bearer token, JSON body.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use pwa_sync_core::protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::routes::App;

pub(crate) fn unsupported_protocol(got: Option<&str>) -> ApiError {
    let message = match got {
        None => format!("missing {PROTOCOL_HEADER} header; this server speaks protocol {PROTOCOL_VERSION}"),
        Some(v) => format!("unsupported protocol {v:?}; this server speaks protocol {PROTOCOL_VERSION}"),
    };
    ApiError::new(StatusCode::CONFLICT, "unsupported-protocol", message)
}

/// `X-Sync-Protocol: 1`, or 409.
pub(crate) fn check_protocol(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(PROTOCOL_HEADER).map(|v| v.to_str().unwrap_or("(not text)")) {
        Some(v) if v.trim() == PROTOCOL_VERSION => Ok(()),
        other => Err(unsupported_protocol(other)),
    }
}

/// The token of `Authorization: Bearer …`, if there is such a header.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized("expected Authorization: Bearer <token>"));
    }
    Ok(Some(token.trim()))
}

/// The user `token` authenticates, or 401.
pub(crate) fn authenticate(app: &App, token: Option<&str>) -> Result<String, ApiError> {
    let token = token.ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
    app.config.auth.authenticate(token).map_err(|e| ApiError::unauthorized(e.0))
}

/// Protocol header, then bearer token: the user, or the error to answer.
pub(crate) fn authorize(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    check_protocol(headers)?;
    authenticate(app, bearer(headers)?)
}

/// A buffered body (limited by `DefaultBodyLimit`) decoded as JSON: 413 over the limit,
/// 400 with the decoder's message when malformed or of the wrong shape.
pub(crate) fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<T, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                format!("request body over {limit} bytes; split the batch"),
            )
        } else {
            ApiError::bad_request(format!("cannot read the request body: {}", rejection.body_text()))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let code = if e.is_data() { "invalid-request" } else { "malformed-json" };
        ApiError::new(StatusCode::BAD_REQUEST, code, format!("request body: {e}"))
    })
}
