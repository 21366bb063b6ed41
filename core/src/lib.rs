//! pwa-sync-core: everything in pwa-sync that decides, with no browser API in its
//! dependency tree, so it builds and is tested on the host. The browser crate (`pwa-sync`)
//! carries its decisions out; the reference server and the fault proxy share its protocol.
//! ARCHITECTURE.md draws the layers; "invariant N" in comments is its storage invariant N.

pub mod clock;
pub mod config;
pub mod conflict;
#[cfg(test)]
mod convergence;
pub mod engine;
pub mod error;
pub mod eviction;
pub mod export;
#[cfg(any(test, feature = "testing"))]
pub mod fake;
mod fields;
#[cfg(test)]
mod fuzz;
pub mod json;
pub mod metrics;
pub mod migration;
#[cfg(test)]
mod migration_tests;
pub mod model;
pub mod mutation;
pub mod names;
pub mod patch;
pub mod protocol;
pub mod query;
pub mod record;
pub mod resolver;
pub mod retry;
pub mod schedule;
pub mod session;
pub mod sort;
pub mod sorted_map;
#[cfg(test)]
mod spaces_tests;
pub mod store;
pub mod sync;
pub mod text;
pub mod value;

pub use error::{Error, Result};
