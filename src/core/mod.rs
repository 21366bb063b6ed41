//! The browser-free core: everything here builds and is tested on the host.

pub mod clock;
pub mod config;
pub mod error;
pub mod export;
pub mod mutation;
pub mod patch;
pub mod protocol;
pub mod record;
pub mod store;

pub use error::{Error, Result};
