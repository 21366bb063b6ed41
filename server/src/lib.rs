//! pwa-sync reference server: wire protocol v1 (ARCHITECTURE.md) over axum, with
//! SQLite (default, embedded) or PostgreSQL (several processes on one database) storage.
//!
//! Modules:
//! - [`config`]: command line and the validated configuration;
//! - [`auth`]: bearer tokens (`dev:<user>`, or JWTs: HS256, RS256/ES256 by PEM or JWKS);
//! - [`state`]: what every handler shares ([`state::AppState`]);
//! - [`error`]: the API's error, answered as the core's `ErrorBody`;
//! - `extract`: axum extractors refusing with that error (the user, a JSON body);
//! - [`routes`]: the HTTP surface, one module per endpoint (`/sync/push`, `/sync/pull`,
//!   `/sync/events`, `/sync/health`, `/sync/spaces`, `/sync/admin/…`), and static files;
//! - [`notify`]: pokes to the readers of a space, and PostgreSQL LISTEN/NOTIFY;
//! - [`streams`]: the caps on open event streams;
//! - [`db`]: the [`db::Store`] trait, the push algorithm, SQLite and PostgreSQL stores;
//! - [`webhook`]: outbound webhook events, their `Sync-Signature`, and [`webhook::verify`]
//!   for receivers;
//! - [`http`]: the outbound HTTP client (webhooks, JWKS);
//! - [`delivery`]: the task that sends the webhook outbox, with retries and a dead state.

pub mod auth;
pub mod config;
pub mod db;
pub mod delivery;
pub mod error;
mod extract;
pub mod http;
pub mod notify;
pub mod routes;
pub mod server;
pub mod state;
pub mod streams;
pub mod webhook;

pub use config::{Cli, Config};
pub use server::Server;
