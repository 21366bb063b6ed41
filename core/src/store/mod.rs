//! The storage contract. Two implementations: [`memory::MemoryStore`] here (host tests;
//! the reference) and the IndexedDB store in `web::idb` (a browser's `storage: "memory"`
//! client runs it over an in-memory IndexedDB). One conformance
//! suite ([`conformance`]) runs against both.
//!
//! The contract speaks the store model (`model`) and calls no planner: local writes are
//! planned and committed above it (`engine::LocalWrites`), through `transact!` with
//! `Scope::LocalWrite`.

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

/// A plan run once by `run_transaction`, keeping what it answers besides the writes.
pub struct Planned<F, R> {
    plan: Option<F>,
    scope: Scope,
    result: Option<R>,
}

impl<F, R> Planned<F, R> {
    /// For `store`'s values (which also tells a closure's parameter its type).
    pub fn new<S: Store + ?Sized>(_store: &S, scope: Scope, plan: F) -> Planned<F, R>
    where
        F: FnOnce(Snapshot<S::Value>) -> Result<(Writes<S::Value>, R)>,
    {
        Planned { plan: Some(plan), scope, result: None }
    }

    pub fn run<V>(&mut self, snapshot: Snapshot<V>) -> Result<Writes<V>>
    where
        F: FnOnce(Snapshot<V>) -> Result<(Writes<V>, R)>,
    {
        let Some(plan) = self.plan.take() else { return Err(misused("a transaction plan ran twice")) };
        let (writes, r) = plan(snapshot)?;
        // Kept even if the scope check refuses the writes: the transaction then fails,
        // and its caller never asks for the result.
        self.result = Some(r);
        check_scope(self.scope, writes)
    }

    pub fn result(self) -> Result<R> {
        self.result.ok_or_else(|| misused("a transaction committed without running its plan"))
    }
}

/// What `Planned` does alike for every plan, compiled once.
#[inline(never)]
fn check_scope<V>(scope: Scope, writes: Writes<V>) -> Result<Writes<V>> {
    if scope == Scope::LocalWrite
        && !(writes.audit.is_empty() && writes.conflicts_put.is_empty() && writes.conflicts_delete.is_empty())
    {
        return Err(misused("a local write planned conflict or audit writes"));
    }
    Ok(writes)
}

#[inline(never)]
fn misused(what: &str) -> Error {
    Error::Storage(what.to_owned())
}

/// `Store::transact` in `scope`, written out in the caller's own future: the engine's
/// plans go through this, since a generic `async fn` is one more state machine per plan
/// in the module (eleven of them: 2,425 bytes gzipped). Under `Scope::LocalWrite` a plan
/// that writes conflicts or audit entries is refused (see `run_transaction`).
#[macro_export]
macro_rules! transact {
    ($store:expr, $keys:expr, $scope:expr, $plan:expr) => {{
        let scope = $scope;
        let store = $store;
        let mut planned = $crate::store::Planned::new(store, scope, $plan);
        match $crate::store::Store::run_transaction(store, $keys, scope, &mut |s| planned.run(s)).await {
            Ok(()) => planned.result(),
            Err(e) => Err(e),
        }
    }};
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
        transact!(self, keys, Scope::Sync(durability), plan)
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

    /// The oldest `limit` outbox entries of ids above `after`, flagged as sent in the same
    /// transaction that reads them: a local write can then never fold into an entry
    /// between the read that builds a push and the flag that protects it. Entries the
    /// store cannot read are passed over (and reported): empty only when no readable
    /// entry is left above `after`.
    async fn take_batch(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry<Self::Value>>>;

    /// Remove every record, outbox entry, conflict and audit entry, and put fresh metadata
    /// of client `fresh_client_id` in place of the old in the same transaction: the
    /// database is never without metadata, which an older library opening it would take
    /// for a new database and write its own (ARCHITECTURE.md "An older library").
    async fn clear(&self, fresh_client_id: &str) -> Result<Meta>;
}

#[cfg(test)]
mod tests {
    use pollster::block_on;
    use serde_json::json;

    use super::memory::MemoryStore;
    use super::{Durability, Scope, Store};
    use crate::config::ClientConfig;
    use crate::error::Error;
    use crate::model::Writes;

    fn store() -> MemoryStore {
        let config = ClientConfig::from_json(json!({"name": "t", "collections": {"trips": {"key": "id"}}})).unwrap();
        let store = MemoryStore::new(&config);
        block_on(store.open_meta("c-1")).unwrap();
        store
    }

    #[test]
    fn transact_answers_what_the_plan_returns_and_commits_its_writes() {
        let store = store();
        let answer = block_on(async {
            crate::transact!(&store, &[], Scope::Sync(Durability::Default), |mut snapshot| {
                snapshot.meta.checkpoint = 7;
                Ok((Writes { meta: Some(snapshot.meta), ..Writes::default() }, "planned"))
            })
        });
        assert_eq!(answer.unwrap(), "planned");
        assert_eq!(block_on(store.meta()).unwrap().unwrap().checkpoint, 7);
    }

    #[test]
    fn a_local_write_that_plans_conflict_writes_is_refused_and_writes_nothing() {
        let store = store();
        let answer: Result<(), Error> = block_on(async {
            crate::transact!(&store, &[], Scope::LocalWrite, |mut snapshot| {
                snapshot.meta.checkpoint = 7;
                Ok((Writes { meta: Some(snapshot.meta), conflicts_delete: vec![1], ..Writes::default() }, ()))
            })
        });
        assert!(
            matches!(&answer, Err(Error::Storage(m)) if m.contains("a local write planned conflict or audit writes")),
            "{answer:?}"
        );
        assert_eq!(block_on(store.meta()).unwrap().unwrap().checkpoint, 0);
    }

    #[test]
    fn a_failing_plan_answers_its_error() {
        let store = store();
        let answer: Result<(), Error> = block_on(async {
            crate::transact!(&store, &[], Scope::Sync(Durability::Strict), |_| Err(Error::Storage("refused".into())))
        });
        assert!(matches!(&answer, Err(Error::Storage(m)) if m == "refused"), "{answer:?}");
        assert_eq!(block_on(store.meta()).unwrap().unwrap().checkpoint, 0);
    }
}
