//! Axum extractors whose rejection is the API's error ([`ApiError`](crate::error::ApiError)),
//! so a refused request gets the API's status and JSON body like any other failure:
//! - [`AuthUser`]: protocol header, then bearer token: the user (push, pull);
//! - [`StreamUser`]: the same, or their query-string stand-ins (`/sync/events`);
//! - [`ApiJson`]: the request body as JSON (413 over the body limit, 400 when malformed).

mod json;
mod user;

pub(crate) use json::{decode, unreadable, ApiJson};
pub(crate) use user::{authenticate, bearer, AuthUser, StreamUser};
