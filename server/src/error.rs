//! The API's error: a status, the core's [`ErrorBody`] (`{"error": {"code", "message"}}`),
//! and the headers some statuses carry (`Retry-After`, `WWW-Authenticate`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pwa_sync_core::protocol::ErrorBody;

use crate::db::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after_secs: None }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::ClientOfAnotherUser => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this clientId belongs to another user")
            }
            StoreError::Rejected(msg) => ApiError::new(StatusCode::BAD_REQUEST, "invalid-request", msg),
            StoreError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "database unavailable");
                ApiError {
                    retry_after_secs: Some(1),
                    ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "database unavailable, retry later")
                }
            }
            StoreError::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal server error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, code = self.code, message = %self.message, "request failed");
        } else {
            tracing::debug!(status = %self.status, code = self.code, message = %self.message, "request refused");
        }
        let mut response = (self.status, Json(ErrorBody::new(self.code, self.message))).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
