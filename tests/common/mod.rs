//! Tests shared by every browser scope: one file per scope (`tests/window.rs`,
//! `tests/dedicated_worker.rs`, `tests/service_worker.rs`) configures where they run.

pub mod api;
pub mod bad_input;
pub mod durability;
pub mod health;
pub mod migrations;
pub mod query;
pub mod security;
pub mod spaces;
pub mod store;
pub mod stored;
pub mod support;
pub mod sync;
pub mod wire;
pub mod worker;
