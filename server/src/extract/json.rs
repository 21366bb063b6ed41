//! [`ApiJson`]: the request body decoded as JSON, refused with the API's error. Unlike
//! axum's `Json` it does not insist on `Content-Type: application/json`: protocol v1
//! never required clients to send one.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    /// Buffers the body within the router's `DefaultBodyLimit` (`--max-body-bytes`).
    async fn from_request(request: Request, state: &AppState) -> Result<ApiJson<T>, ApiError> {
        let limit = state.config.limits.max_body_bytes;
        let bytes = Bytes::from_request(request, state).await.map_err(|r| unreadable(&r, limit))?;
        decode(&bytes).map(ApiJson)
    }
}

/// 413 over the limit (the client splits its batch), 400 when the body cannot be read.
pub(crate) fn unreadable(rejection: &BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("request body over {limit} bytes; split the batch"),
        )
    } else {
        ApiError::bad_request(format!("cannot read the request body: {}", rejection.body_text()))
    }
}

/// 400 with the decoder's message: `malformed-json` when the text is not JSON,
/// `invalid-request` when it is JSON of the wrong shape.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let code = if e.is_data() { "invalid-request" } else { "malformed-json" };
        ApiError::new(StatusCode::BAD_REQUEST, code, format!("request body: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_text_and_wrong_shapes_get_their_codes() {
        let code = |body: &str| decode::<Vec<u32>>(body.as_bytes()).err().map(|e| (e.status, e.code));
        assert_eq!(code("[1, 2]"), None);
        assert_eq!(code("[1,"), Some((StatusCode::BAD_REQUEST, "malformed-json")));
        assert_eq!(code(""), Some((StatusCode::BAD_REQUEST, "malformed-json")));
        assert_eq!(code("{}"), Some((StatusCode::BAD_REQUEST, "invalid-request")));
        assert_eq!(code("[-1]"), Some((StatusCode::BAD_REQUEST, "invalid-request")));
    }
}
