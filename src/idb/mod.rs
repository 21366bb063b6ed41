//! The IndexedDB [`Store`]: the browser's implementation of the core's storage contract.
//! It behaves like `pwa_sync_core::store::memory::MemoryStore` (the same conformance suite runs
//! on both) and keeps the storage invariants of ARCHITECTURE.md:
//!
//! - every `Store` method is one IndexedDB transaction; a local write
//!   (`engine::LocalWrites`, through `run_transaction` in `Scope::LocalWrite`) reads,
//!   plans and writes entity, outbox and meta in one readwrite transaction (invariant 1),
//!   awaiting nothing but IndexedDB requests inside it, and
//!   aborting it explicitly on every error path (a transaction left half-way would
//!   otherwise commit what it already wrote);
//! - transactions that remove outbox entries or write acknowledgements ask for
//!   `durability: "strict"` (invariant 2);
//! - versions are integers chosen automatically: the database is opened at its current
//!   version and upgraded by one only when a declared store or index is missing. An
//!   upgrade only ever creates: a store or index this app does not declare belongs to
//!   another version of the app and is left alone (invariant 6);
//! - the connection closes itself on `versionchange` (another tab's upgrade, or a
//!   `deleteDatabase`) and on `close` (the browser closed it), and the next call
//!   reopens it.
//!
//! IndexedDB is reached through the global scope, never `window`, so the store works in
//! windows, dedicated workers and service workers.
//!
//! By job: `store` (the store itself, its connection and its `Store` methods), `reads`
//! (get and list, as records or as views for the JS API), `query` (a query plan's
//! ranges read from its index, the page decided by the core), `writes` (the
//! snapshot-plan-write body of `run_transaction`, the metadata record, marking sent),
//! `script` (`js/store.js`, which issues the requests, opens, upgrades and inspects the
//! database; `count_now` alone issues its own through web-sys),
//! `open` (schema, opening, upgrading, the connection's `versionchange` and `close`
//! hooks), `upgrade` (the app's migrations over stored values, called by the script in the upgrade), `scan` (getAll in batches, decoding), `transaction` (starting one
//! with its durability, ending it), `codec` (records to and from JS objects), `stored` (the
//! metadata, conflicts and audit entries read field by field), `error`
//! (DOMException to `Error`) and `names` (store names and keys). This file only declares
//! them and re-exports the public types.

mod codec;
mod error;
mod names;
mod open;
mod query;
mod reads;
mod scan;
mod script;
mod store;
mod stored;
mod transaction;
mod upgrade;
mod writes;

pub use reads::{count_outcome, read_outcome};
pub use store::IdbStore;
