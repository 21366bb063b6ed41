//! `GET /sync/events`: a text/event-stream of `data: {"checkpoint":N}` pokes whenever a
//! space the user reads changes (or their memberships do), a `: keepalive` comment every
//! 15 s, and a `: connected` comment first (so a client knows the stream is live before
//! it relies on pokes). Open streams are capped per user and in all (429, `Retry-After`).
//!
//! Browsers' EventSource cannot set headers, so this endpoint also accepts
//! `?token=…&protocol=1` in place of `Authorization` and `X-Sync-Protocol`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::spaces::caller_access;
use crate::error::ApiError;
use crate::extract::StreamUser;
use crate::state::AppState;

const KEEPALIVE: Duration = Duration::from_secs(15);

/// How long a refused stream is told to wait.
const RETRY_AFTER_SECS: u64 = 30;

/// Refusals (protocol, token) come from [`StreamUser`] as the API's JSON errors, then the
/// caps; once open, the stream itself cannot fail.
pub(super) async fn events(State(app): State<AppState>, StreamUser(who): StreamUser) -> Result<Response, ApiError> {
    let user = who.user.clone();
    let slot = app.streams.acquire(&user, app.config.streams).map_err(|full| ApiError {
        retry_after_secs: Some(RETRY_AFTER_SECS),
        ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too-many-streams", full.to_string())
    })?;
    // Subscribe before reading the spaces: a membership change in between still pokes.
    let receiver = app.notifier.subscribe(&user);
    let access = caller_access(&app, &who).await?;
    app.notifier.set_spaces(&user, access.spaces.into_keys().collect());
    tracing::debug!(user = %user, "events stream opened");
    let mut shutdown = app.shutdown.clone();
    let pokes = BroadcastStream::new(receiver).filter_map(|item| async move {
        match item {
            Ok(checkpoint) => {
                Some(Ok::<_, Infallible>(Event::default().data(format!("{{\"checkpoint\":{checkpoint}}}"))))
            }
            // Missed pokes: the next one carries a newer checkpoint anyway.
            Err(BroadcastStreamRecvError::Lagged(_)) => None,
        }
    });
    let stream =
        stream::once(async { Ok(Event::default().comment("connected")) }).chain(pokes).take_until(async move {
            // The stream holds its place until it ends.
            let _slot = slot;
            // Ends the stream at shutdown (graceful shutdown waits for open responses).
            let _ = shutdown.wait_for(|stopping| *stopping).await;
        });
    let mut response = sse_response(stream).into_response();
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn sse_response<S>(stream: S) -> impl IntoResponse
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEPALIVE).text("keepalive"))
}
