//! An in-memory [`Store`]: the reference the IndexedDB store is tested against, and the
//! store of host-side tests.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::model::{put_conflict, AuditEntry, Conflicts, KeyRef, Snapshot, Writes};
use crate::query::exec::{finish, select, Answer, Candidate, Hit};
use crate::query::plan::Plan;
use crate::query::Query;
use crate::record::{index_key_eq, key_order, ConflictRecord, EntityRecord, ListQuery, Meta, OutboxEntry};
use crate::store::{Scope, Store};
use crate::value::AppValue;
use serde_json::Value;

#[derive(Debug, Clone)]
struct State<V> {
    /// One map for every collection, keyed as the plans' snapshots are: the module then
    /// carries one B-tree of records, not two (bench/README.md "Size").
    records: BTreeMap<KeyRef, EntityRecord<V>>,
    outbox: BTreeMap<u64, OutboxEntry<V>>,
    /// The outbox's key generator, as IndexedDB's auto-increment: the id the next new
    /// entry gets; never goes down, not even on `clear`.
    next_outbox_id: u64,
    audit: std::collections::VecDeque<AuditEntry>,
    conflicts: Conflicts,
    meta: Option<Meta>,
}

/// Holds app values as `V`: JSON on the host; the browser's memory-only client keeps
/// JS objects. Values are detached (`AppValue::detached`) as they come in and go out, as
/// IndexedDB's structured clone does: nothing a caller does to a value it got or gave
/// changes what is stored.
#[derive(Debug)]
pub struct MemoryStore<V = Value> {
    names: Vec<String>,
    audit_limit: usize,
    state: RefCell<State<V>>,
}

impl<V> MemoryStore<V> {
    pub fn new(config: &ClientConfig) -> MemoryStore<V> {
        let names: Vec<String> = config.collections.iter().map(|c| c.name.clone()).collect();
        let state = State {
            records: BTreeMap::new(),
            outbox: BTreeMap::new(),
            next_outbox_id: 1,
            audit: Default::default(),
            conflicts: Vec::new(),
            meta: None,
        };
        MemoryStore { names, audit_limit: config.audit_limit, state: RefCell::new(state) }
    }

    fn records_of<'s>(state: &'s State<V>, collection: &'s str) -> impl Iterator<Item = &'s EntityRecord<V>> {
        let from = (collection.to_owned(), String::new());
        state.records.range(from..).take_while(move |((c, _), _)| c == collection).map(|(_, r)| r)
    }

    fn check(&self, collection: &str) -> Result<()> {
        if self.names.iter().any(|n| n == collection) {
            Ok(())
        } else {
            Err(Error::UnknownCollection(collection.to_owned()))
        }
    }
}

impl<V: AppValue> Store for MemoryStore<V> {
    type Value = V;

    async fn open_meta(&self, fresh_client_id: &str) -> Result<Meta> {
        let mut state = self.state.borrow_mut();
        Ok(state.meta.get_or_insert_with(|| Meta::new(fresh_client_id.to_owned())).clone())
    }

    async fn get(&self, collection: &str, key: &str) -> Result<Option<EntityRecord<V>>> {
        self.check(collection)?;
        let wanted = (collection.to_owned(), key.to_owned());
        Ok(self.state.borrow().records.get(&wanted).map(EntityRecord::detached))
    }

    async fn list(&self, collection: &str, query: &ListQuery) -> Result<Vec<EntityRecord<V>>> {
        self.check(collection)?;
        let state = self.state.borrow();
        let matches = |r: &&EntityRecord<V>| match (&query.index, &r.value) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some((field, wanted)), Some(value)) => value.field(field).is_some_and(|v| index_key_eq(&v, wanted)),
        };
        let mut records: Vec<&EntityRecord<V>> = Self::records_of(&state, collection).filter(matches).collect();
        // Key order as IndexedDB has it, not the map's byte order.
        crate::sort::sort_by(&mut records, |a, b| key_order(&a.key, &b.key));
        Ok(records.into_iter().take(query.limit.unwrap_or(usize::MAX)).map(EntityRecord::detached).collect())
    }

    async fn query(&self, query: &Query, plan: &Plan) -> Result<Answer<V>> {
        self.check(&query.collection)?;
        let state = self.state.borrow();
        let live = Self::records_of(&state, &query.collection);
        let candidates = select(plan, live.filter(|r| r.value.is_some()));
        let page = finish(query, &candidates.iter().map(|r| *r as &dyn Candidate).collect::<Vec<_>>());
        let hit = |r: &&EntityRecord<V>| Some(Hit { key: r.key.clone(), value: r.value.clone()? });
        let records = page.picked.iter().filter_map(|&at| candidates.get(at).and_then(hit)).collect();
        Ok(Answer { records, next: page.next })
    }

    async fn run_transaction(
        &self,
        keys: &[KeyRef],
        _scope: Scope,
        plan: &mut dyn FnMut(Snapshot<V>) -> Result<Writes<V>>,
    ) -> Result<()> {
        for (collection, _) in keys {
            self.check(collection)?;
        }
        let mut state = self.state.borrow_mut();
        let meta =
            state.meta.clone().ok_or_else(|| Error::Storage("metadata missing: open_meta was not called".into()))?;
        let mut snapshot = Snapshot::new(meta);
        for key in keys {
            let Some(record) = state.records.get(key) else { continue };
            if let Some(conflict) = record.conflict.and_then(|id| state.conflicts.iter().find(|c| c.id == id)) {
                put_conflict(&mut snapshot.conflicts, conflict.clone());
            }
            if record.pending > 0 {
                let queued = state
                    .outbox
                    .values()
                    .filter(|e| e.collection == key.0 && e.key == key.1)
                    .map(OutboxEntry::detached)
                    .collect();
                snapshot.queued.insert(key.clone(), queued);
            }
            snapshot.records.insert(key.clone(), record.detached());
        }
        // Nothing above changed state, so a planning error leaves it untouched.
        let mut writes = plan(snapshot)?;
        writes.number_new_entries(&mut state.next_outbox_id);
        for (key, record) in writes.records {
            match record {
                Some(record) => state.records.insert(key, record.detached()),
                None => state.records.remove(&key),
            };
        }
        for id in writes.outbox_delete {
            state.outbox.remove(&id);
        }
        state.outbox.extend(writes.outbox_put.into_iter().map(|(id, e)| (id, e.detached())));
        state.conflicts.retain(|c| !writes.conflicts_delete.contains(&c.id));
        for conflict in writes.conflicts_put {
            put_conflict(&mut state.conflicts, conflict);
        }
        for entry in writes.audit {
            state.audit.push_back(entry);
            if state.audit.len() > self.audit_limit {
                state.audit.pop_front();
            }
        }
        if let Some(meta) = writes.meta {
            state.meta = Some(meta);
        }
        Ok(())
    }

    async fn meta(&self) -> Result<Option<Meta>> {
        Ok(self.state.borrow().meta.clone())
    }

    async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        Ok(self.state.borrow().audit.iter().rev().take(limit).cloned().collect())
    }

    async fn conflicts(&self) -> Result<Vec<ConflictRecord>> {
        Ok(self.state.borrow().conflicts.clone())
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry<V>>> {
        Ok(self.state.borrow().outbox.values().take(limit).map(OutboxEntry::detached).collect())
    }

    async fn pending_count(&self) -> Result<usize> {
        Ok(self.state.borrow().outbox.len())
    }

    async fn mark_sent(&self, ids: &[u64]) -> Result<()> {
        let mut state = self.state.borrow_mut();
        for id in ids {
            if let Some(entry) = state.outbox.get_mut(id) {
                entry.sent = true;
            }
        }
        Ok(())
    }

    async fn take_batch(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry<V>>> {
        let mut state = self.state.borrow_mut();
        let batch: Vec<OutboxEntry<V>> = state
            .outbox
            .range_mut(after + 1..)
            .map(|(_, entry)| entry)
            .take(limit)
            .map(|entry| {
                entry.sent = true;
                entry.attempts += 1;
                entry.detached()
            })
            .collect();
        Ok(batch)
    }

    async fn clear(&self, fresh_client_id: &str) -> Result<Meta> {
        let mut state = self.state.borrow_mut();
        state.records.clear();
        state.outbox.clear();
        state.audit.clear();
        state.conflicts.clear();
        Ok(state.meta.insert(Meta::new(fresh_client_id.to_owned())).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    macro_rules! on_memory_store {
        ($name:ident) => {
            #[test]
            fn $name() {
                let store = MemoryStore::<serde_json::Value>::new(&conformance::config());
                pollster::block_on(conformance::$name(&store));
            }
        };
    }

    crate::for_each_store_test!(on_memory_store);
}
