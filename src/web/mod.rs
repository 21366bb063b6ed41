//! The browser layer (wasm32 only): IndexedDB store, events, and the JS API. Everything
//! reaches browser APIs through the global scope, so it runs in windows, dedicated
//! workers and service workers alike.

pub mod api;
pub mod background;
pub mod client;
pub mod convert;
pub mod crypto;
pub mod error;
pub mod events;
pub mod idb;
pub mod locks;
pub mod tabs;
pub mod transport;
pub mod types;
