//! The storage contract. Two implementations: [`memory::MemoryStore`] here (host tests;
//! the reference) and the IndexedDB store in `web::idb` (a browser's `storage: "memory"`
//! client runs it over an in-memory IndexedDB). One conformance
//! suite ([`conformance`]) runs against both.
//!
//! The contract speaks the store model (`model`) and calls no planner: local writes are
//! planned and committed above it (`engine::LocalWrites`), through `transact_in_scope`.

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod memory;

use crate::error::{Error, Result};
use crate::model::{AuditEntry, KeyRef, Snapshot, Writes};
use crate::query::exec::Answer;
use crate::query::plan::Plan;
use crate::query::Query;
use crate::record::{ConflictRecord, EntityRecord, ListQuery, Meta, OutboxEntry};
use crate::value::AppValue;

/// How hard a transaction's commit must reach the disk before it reports success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The browser's default (Chrome: "relaxed" since 121).
    Default,
    /// On disk before `complete`: for acknowledgements that remove outbox entries.
    Strict,
}

/// What a transaction may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A local write: records, outbox entries and the metadata, at default durability.
    LocalWrite,
    /// Anything (push answers, pulls, conflict choices), at this durability.
    Sync(Durability),
}

/// Everything the client keeps. Each method is atomic: it either happens whole or not at
/// all. Futures are not `Send`: browsers run this on one thread.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// How this store holds app values (JSON on the host, JS objects in the browser).
    type Value: AppValue;

    /// The client's metadata, created with `fresh_client_id` the first time.
    async fn open_meta(&self, fresh_client_id: &str) -> Result<Meta>;

    /// The record for a key, tombstones included.
    async fn get(&self, collection: &str, key: &str) -> Result<Option<EntityRecord<Self::Value>>>;

    /// Live records (no tombstones) in key order, optionally by an index and a limit.
    async fn list(&self, collection: &str, query: &ListQuery) -> Result<Vec<EntityRecord<Self::Value>>>;

    /// A page of `query`'s answer, reading what `plan` (made for this query by
    /// `query::plan::plan`) names; `query::exec::finish` decides.
    async fn query(&self, query: &Query, plan: &Plan) -> Result<Answer<Self::Value>>;

    /// How many records match `query` (parsed as a count: no limit, no cursor).
    async fn count(&self, query: &Query, plan: &Plan) -> Result<usize> {
        Ok(self.query(query, plan).await?.records.len())
    }

    /// One transaction: read a [`Snapshot`] of `keys` (meta, their records, the outbox
    /// entries of those with pending writes, and their open conflicts, plus the conflicts
    /// listed in `conflicts`), let `plan` decide, and commit the
    /// [`Writes`] it returns. Only storage requests are awaited in between; an error from
    /// `plan` or from any request aborts the transaction and nothing is written.
    async fn transact<R>(
        &self,
        keys: &[KeyRef],
        durability: Durability,
        plan: impl FnOnce(Snapshot<Self::Value>) -> Result<(Writes<Self::Value>, R)>,
    ) -> Result<R> {
        self.transact_in_scope(keys, Scope::Sync(durability), plan).await
    }

    /// `transact` in `scope`: under `Scope::LocalWrite` the plan may write only records,
    /// outbox entries and the metadata (see `run_transaction`).
    async fn transact_in_scope<R>(
        &self,
        keys: &[KeyRef],
        scope: Scope,
        plan: impl FnOnce(Snapshot<Self::Value>) -> Result<(Writes<Self::Value>, R)>,
    ) -> Result<R> {
        // Stores implement the non-generic `run_transaction` once; a generic body here
        // would be compiled again for every plan (four copies of the IndexedDB code).
        let mut plan = Some(plan);
        let mut result = None;
        let mut run = |snapshot| {
            let plan = plan.take().ok_or_else(|| Error::Storage("a transaction plan ran twice".into()))?;
            let (writes, r) = plan(snapshot)?;
            if scope == Scope::LocalWrite
                && !(writes.audit.is_empty() && writes.conflicts_put.is_empty() && writes.conflicts_delete.is_empty())
            {
                return Err(Error::Storage("a local write planned conflict or audit writes".into()));
            }
            result = Some(r);
            Ok(writes)
        };
        self.run_transaction(keys, scope, &mut run).await?;
        result.ok_or_else(|| Error::Storage("a transaction committed without running its plan".into()))
    }

    /// What `transact` runs: one transaction, `plan` called once with the snapshot. One
    /// method for both scopes, so each plan's caller awaits one future type. Under
    /// `Scope::LocalWrite` the plan touches only records, the outbox and the metadata: a
    /// store may leave conflicts and audit out of the transaction (IndexedDB starts a
    /// transaction over fewer stores faster), and then the snapshot holds no conflicts.
    async fn run_transaction(
        &self,
        keys: &[KeyRef],
        scope: Scope,
        plan: &mut dyn FnMut(Snapshot<Self::Value>) -> Result<Writes<Self::Value>>,
    ) -> Result<()>;

    /// The metadata, if `open_meta` created it.
    async fn meta(&self) -> Result<Option<Meta>>;

    /// The newest `limit` audit entries, newest first.
    async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>>;

    /// Open manual conflicts, oldest first.
    async fn conflicts(&self) -> Result<Vec<ConflictRecord>>;

    /// The oldest `limit` outbox entries, in mutation id order.
    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry<Self::Value>>>;

    /// Number of outbox entries.
    async fn pending_count(&self) -> Result<usize>;

    /// Flag entries as sent, before the push that carries them goes out.
    async fn mark_sent(&self, ids: &[u64]) -> Result<()>;

    /// The oldest `limit` outbox entries, flagged as sent in the same transaction that
    /// reads them: a local write can then never fold into an entry between the read
    /// that builds a push and the flag that protects it.
    async fn take_batch(&self, limit: usize) -> Result<Vec<OutboxEntry<Self::Value>>>;

    /// Remove every record, outbox entry, conflict, audit entry and the metadata.
    async fn clear(&self) -> Result<()>;
}
