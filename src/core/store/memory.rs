//! An in-memory [`Store`]: the reference the IndexedDB store is tested against, and the
//! store of host-side tests.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::core::config::ClientConfig;
use crate::core::error::{Error, Result};
use crate::core::mutation::{plan_local_write, LocalWrite, WriteOutcome};
use crate::core::record::{index_key_eq, EntityRecord, ListQuery, Meta, OutboxEntry};
use crate::core::store::Store;

#[derive(Debug, Default, Clone)]
struct State {
    collections: HashMap<String, BTreeMap<String, EntityRecord>>,
    outbox: BTreeMap<u64, OutboxEntry>,
    meta: Option<Meta>,
}

#[derive(Debug)]
pub struct MemoryStore {
    names: Vec<String>,
    state: RefCell<State>,
}

impl MemoryStore {
    pub fn new(config: &ClientConfig) -> MemoryStore {
        let names: Vec<String> = config.collections.iter().map(|c| c.name.clone()).collect();
        let state = State {
            collections: names.iter().map(|n| (n.clone(), BTreeMap::new())).collect(),
            ..State::default()
        };
        MemoryStore { names, state: RefCell::new(state) }
    }

    fn check(&self, collection: &str) -> Result<()> {
        if self.names.iter().any(|n| n == collection) {
            Ok(())
        } else {
            Err(Error::UnknownCollection(collection.to_owned()))
        }
    }
}

impl Store for MemoryStore {
    async fn open_meta(&self, fresh_client_id: &str) -> Result<Meta> {
        let mut state = self.state.borrow_mut();
        Ok(state.meta.get_or_insert_with(|| Meta::new(fresh_client_id.to_owned())).clone())
    }

    async fn get(&self, collection: &str, key: &str) -> Result<Option<EntityRecord>> {
        self.check(collection)?;
        Ok(self.state.borrow().collections.get(collection).and_then(|c| c.get(key)).cloned())
    }

    async fn list(&self, collection: &str, query: &ListQuery) -> Result<Vec<EntityRecord>> {
        self.check(collection)?;
        let state = self.state.borrow();
        let matches = |r: &&EntityRecord| match (&query.index, &r.value) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some((field, wanted)), Some(value)) => value.get(field).is_some_and(|v| index_key_eq(v, wanted)),
        };
        let records = state.collections.get(collection).into_iter().flat_map(|c| c.values());
        Ok(records.filter(matches).take(query.limit.unwrap_or(usize::MAX)).cloned().collect())
    }

    async fn write_local(&self, write: &LocalWrite) -> Result<WriteOutcome> {
        self.check(&write.collection)?;
        let mut state = self.state.borrow_mut();
        let meta = state.meta.clone().ok_or_else(|| Error::Storage("metadata missing: open_meta was not called".into()))?;
        let existing = state.collections.get(&write.collection).and_then(|c| c.get(&write.key)).cloned();
        let queued: Vec<OutboxEntry> = state
            .outbox
            .values()
            .filter(|e| e.collection == write.collection && e.key == write.key)
            .cloned()
            .collect();
        let plan = plan_local_write(&meta, existing.as_ref(), &queued, write)?;
        // Nothing above changed state, so a planning error leaves it untouched.
        let records = state.collections.entry(write.collection.clone()).or_default();
        match plan.record {
            Some(record) => records.insert(write.key.clone(), record),
            None => records.remove(&write.key),
        };
        if let Some(id) = plan.outbox_delete {
            state.outbox.remove(&id);
        }
        if let Some(entry) = plan.outbox_put {
            state.outbox.insert(entry.id, entry);
        }
        state.meta = Some(plan.meta);
        Ok(plan.outcome)
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        Ok(self.state.borrow().outbox.values().take(limit).cloned().collect())
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

    async fn clear(&self) -> Result<()> {
        let mut state = self.state.borrow_mut();
        for records in state.collections.values_mut() {
            records.clear();
        }
        state.outbox.clear();
        state.meta = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::conformance;

    macro_rules! on_memory_store {
        ($name:ident) => {
            #[test]
            fn $name() {
                let store = MemoryStore::new(&conformance::config());
                pollster::block_on(conformance::$name(&store));
            }
        };
    }

    crate::for_each_store_test!(on_memory_store);
}
