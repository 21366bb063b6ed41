//! The browser-free core: everything here builds and is tested on the host.

pub mod clock;
pub mod config;
pub mod engine;
pub mod conflict;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod convergence;
pub mod error;
pub mod export;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod fuzz;
pub mod metrics;
#[cfg(test)]
pub mod fake;
pub mod mutation;
pub mod patch;
pub mod protocol;
pub mod record;
pub mod retry;
pub mod schedule;
pub mod store;
pub mod sync;

pub use error::{Error, Result};
