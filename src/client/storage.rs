//! Where a client keeps its data: IndexedDB (durable), or memory only (`storage: "memory"`
//! in the config, for contexts where IndexedDB is unavailable, such as some private
//! modes). Both are the same [`Store`]; the memory one is the core's `MemoryStore`, the
//! reference the IndexedDB store is conformance-tested against, so a memory client syncs
//! the same way and loses its data when the context ends.

use pwa_sync_core::model::{AuditEntry, KeyRef, Snapshot, Writes};
use pwa_sync_core::query::{exec::Answer, plan::Plan, Query};
use pwa_sync_core::record::{ConflictRecord, EntityRecord, ListQuery, Meta, OutboxEntry};
use pwa_sync_core::store::memory::MemoryStore;
use pwa_sync_core::store::{Durability, Store};
use pwa_sync_core::Error;

use crate::idb::IdbStore;
use crate::value::JsVal;

type Result<T> = std::result::Result<T, Error>;

/// The same call on whichever store this is.
macro_rules! each {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            ClientStore::Idb($s) => $call,
            ClientStore::Memory($s) => $call,
        }
    };
}

// One per client, inside its `Rc`: the size difference costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ClientStore {
    Idb(IdbStore),
    Memory(MemoryStore<JsVal>),
}

impl ClientStore {
    /// Whether the data outlives this context.
    pub fn is_durable(&self) -> bool {
        matches!(self, ClientStore::Idb(_))
    }

    pub fn close(&self) {
        if let ClientStore::Idb(store) = self {
            store.close();
        }
    }

    /// Records skipped as unreadable since the last call (memory never skips).
    pub fn take_skipped(&self) -> Vec<String> {
        match self {
            ClientStore::Idb(store) => store.take_skipped(),
            ClientStore::Memory(_) => Vec::new(),
        }
    }
}

impl Store for ClientStore {
    type Value = JsVal;

    async fn open_meta(&self, fresh_client_id: &str) -> Result<Meta> {
        each!(self, s => s.open_meta(fresh_client_id).await)
    }

    async fn get(&self, collection: &str, key: &str) -> Result<Option<EntityRecord<JsVal>>> {
        each!(self, s => s.get(collection, key).await)
    }

    async fn list(&self, collection: &str, query: &ListQuery) -> Result<Vec<EntityRecord<JsVal>>> {
        each!(self, s => s.list(collection, query).await)
    }

    async fn query(&self, query: &Query, plan: &Plan) -> Result<Answer<JsVal>> {
        each!(self, s => s.query(query, plan).await)
    }

    async fn count(&self, query: &Query, plan: &Plan) -> Result<usize> {
        each!(self, s => s.count(query, plan).await)
    }

    async fn run_transaction(
        &self,
        keys: &[KeyRef],
        durability: Durability,
        plan: &mut dyn FnMut(Snapshot<JsVal>) -> Result<Writes<JsVal>>,
    ) -> Result<()> {
        each!(self, s => s.run_transaction(keys, durability, plan).await)
    }

    async fn run_local_transaction(
        &self,
        keys: &[KeyRef],
        plan: &mut dyn FnMut(Snapshot<JsVal>) -> Result<Writes<JsVal>>,
    ) -> Result<()> {
        each!(self, s => s.run_local_transaction(keys, plan).await)
    }

    async fn meta(&self) -> Result<Option<Meta>> {
        each!(self, s => s.meta().await)
    }

    async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        each!(self, s => s.audit(limit).await)
    }

    async fn conflicts(&self) -> Result<Vec<ConflictRecord>> {
        each!(self, s => s.conflicts().await)
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry<JsVal>>> {
        each!(self, s => s.outbox(limit).await)
    }

    async fn pending_count(&self) -> Result<usize> {
        each!(self, s => s.pending_count().await)
    }

    async fn mark_sent(&self, ids: &[u64]) -> Result<()> {
        each!(self, s => s.mark_sent(ids).await)
    }

    async fn take_batch(&self, limit: usize) -> Result<Vec<OutboxEntry<JsVal>>> {
        each!(self, s => s.take_batch(limit).await)
    }

    async fn clear(&self) -> Result<()> {
        each!(self, s => s.clear().await)
    }
}
