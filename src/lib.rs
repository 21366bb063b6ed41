//! pwa-sync: offline-first data sync for Progressive Web Apps, the browser crate.
//!
//! Everything that decides lives in [`pwa_sync_core`] (pure Rust, tested on the host).
//! This crate carries its decisions out in the browser: the IndexedDB store, the
//! transport, events, locks, tabs, and the `#[wasm_bindgen]` JS API (`SyncClient`).
//! Everything reaches browser APIs through the global scope, so it runs in windows,
//! dedicated workers and service workers alike. See ARCHITECTURE.md for the layers.
#![cfg(target_arch = "wasm32")]

/// The global allocator: rlsf's TLSF (constant-time allocation and freeing), in its
/// variant built for code size, instead of std's dlmalloc: 2.1 KB gzip smaller, no slower
/// and the same memory by the bench (ARCHITECTURE.md "Dependencies", where talc's
/// history is too).
#[global_allocator]
static ALLOCATOR: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

pub mod api;
pub mod background;
pub mod background_sync;
pub mod channel;
pub mod client;
pub mod convert;
pub mod crypto;
pub mod error;
pub mod events;
pub mod idb;
pub mod locks;
pub mod migrate;
pub mod reader;
pub mod sys;
pub mod transport;
pub mod types;
pub mod value;
pub mod wire;
