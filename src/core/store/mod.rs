//! The storage contract. Two implementations: [`memory::MemoryStore`] here (host tests and
//! anything without IndexedDB) and the IndexedDB store in `web::idb`. One conformance
//! suite ([`conformance`]) runs against both.

pub mod conformance;
pub mod memory;

use crate::core::error::Result;
use crate::core::mutation::{LocalWrite, WriteOutcome};
use crate::core::record::{EntityRecord, ListQuery, Meta, OutboxEntry};

/// Everything the client keeps. Each method is atomic: it either happens whole or not at
/// all. Futures are not `Send`: browsers run this on one thread.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The client's metadata, created with `fresh_client_id` the first time.
    async fn open_meta(&self, fresh_client_id: &str) -> Result<Meta>;

    /// The record for a key, tombstones included.
    async fn get(&self, collection: &str, key: &str) -> Result<Option<EntityRecord>>;

    /// Live records (no tombstones) in key order, optionally by an index and a limit.
    async fn list(&self, collection: &str, query: &ListQuery) -> Result<Vec<EntityRecord>>;

    /// Apply a local write: entity, outbox and meta in one transaction (invariant 1),
    /// following `mutation::plan_local_write`.
    async fn write_local(&self, write: &LocalWrite) -> Result<WriteOutcome>;

    /// The oldest `limit` outbox entries, in mutation id order.
    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>>;

    /// Number of outbox entries.
    async fn pending_count(&self) -> Result<usize>;

    /// Flag entries as sent, before the push that carries them goes out.
    async fn mark_sent(&self, ids: &[u64]) -> Result<()>;

    /// Remove every record, outbox entry, conflict, audit entry and the metadata.
    async fn clear(&self) -> Result<()>;
}
