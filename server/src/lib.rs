//! pwa-sync reference server: wire protocol v1 (see shared DESIGN.md) over axum, with
//! SQLite (default, embedded) or PostgreSQL (several processes on one database) storage.
//!
//! Modules:
//! - [`config`]: command line and the validated configuration;
//! - [`auth`]: bearer tokens (`dev:<user>` or HS256 JWTs);
//! - [`error`]: the JSON error body every failure answers with;
//! - [`routes`]: the HTTP surface (`/sync/push`, `/sync/pull`, `/sync/health`, static files);
//! - [`sse`]: `/sync/events`, realtime pokes;
//! - [`notify`]: per-user broadcast and PostgreSQL LISTEN/NOTIFY;
//! - [`db`]: the [`db::Store`] trait, the push algorithm, SQLite and PostgreSQL stores.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
mod extract;
pub mod notify;
pub mod routes;
pub mod server;
pub mod sse;

pub use config::{Cli, Config};
pub use server::Server;
