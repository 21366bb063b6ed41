//! pwa-sync: offline-first data sync for Progressive Web Apps.
//!
//! - [`core`]: pure Rust, no browser APIs. Clock, mutations and their coalescing,
//!   configuration, the [`core::store::Store`] trait with an in-memory store. Built and
//!   tested on the host with `cargo test`.
//! - `web` (wasm32 only): the IndexedDB store, DOM events and the `#[wasm_bindgen]`
//!   JS API (`SyncClient`).

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod web;
