//! The writing transactions' bodies: `run_transaction`'s snapshot, plan and write in one
//! transaction, creating the client metadata (`open_meta`) and marking outbox entries sent.

use js_sys::Array;
use wasm_bindgen::closure::ScopedClosure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::IdbTransaction;

use crate::sys;

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::model::{KeyRef, Snapshot, Writes};
use pwa_sync_core::record::{ConflictRecord, Meta, OutboxEntry};
use pwa_sync_core::store::Durability;

use super::codec::{decode, decode_entry, decode_record, encode_batch, encode_internal, fresh_meta, key_text};
use super::error::classify;
use super::names::{CONFLICTS, META};
use super::script;
use super::store::IdbStore;
use super::stored;
use super::transaction::{not_committed, Mode};
use crate::convert::prop;
use crate::value::JsVal;

impl IdbStore {
    /// The stored client metadata, or a fresh one stored in its place.
    pub(super) async fn open_meta_in(&self, tx: &IdbTransaction, fresh_client_id: &str) -> Result<Meta> {
        let (fresh, encoded) = fresh_meta(fresh_client_id)?;
        let stored = script::answer(script::open_meta(tx, &encoded)).await?;
        if stored.is_undefined() {
            return Ok(self.remember_meta(fresh));
        }
        self.remember_stored_meta(&stored)
    }

    /// One transaction over `base` and the collections of `keys`: snapshot, plan, write.
    /// Without the conflicts store in scope, records' open conflicts are not read. The
    /// plan gets `known_meta`, or, when that is `None`, the metadata read (and written
    /// back if it changes) in this transaction. The store's script runs the transaction's
    /// steps (`transact`) and calls back into `step` between its reads, synchronously:
    /// the snapshot read, decoded here, the plan made and encoded here, the writes issued
    /// there. Any failure before the last write aborts it, so nothing of it commits.
    pub(super) async fn run_transaction_over(
        &self,
        base: &[&'static str],
        keys: &[KeyRef],
        durability: Durability,
        known_meta: Option<Meta>,
        plan: &mut dyn FnMut(Snapshot<JsVal>) -> Result<Writes<JsVal>>,
    ) -> Result<()> {
        // `meta` always: the outbox's sent mark is read with a key's queued entries.
        let mut stores: Vec<&str> = base.to_vec();
        stores.push(META);
        for (collection, _) in keys {
            self.check(collection)?;
            if !stores.contains(&collection.as_str()) {
                stores.push(collection);
            }
        }
        let tx = self.transaction(&stores, Mode::Write, durability).await?;
        #[cfg(feature = "testing")]
        let fault = self.fail_after_entity.get();
        let reads_meta = known_meta.is_none();
        let mut steps = Steps {
            store: self,
            keys,
            read_conflicts: base.contains(&CONFLICTS),
            reads_meta,
            known_meta,
            plan,
            snapshot: None,
            pending_keys: Vec::new(),
            conflict_ids: Vec::new(),
            failure: None,
        };
        let mut step = |phase: u32, a: JsValue, b: JsValue| -> JsValue {
            let done = if phase == 0 { steps.snapshot(&a, &b) } else { steps.plan(&a, &b) };
            done.unwrap_or_else(|error| {
                steps.failure = Some(error);
                JsValue::NULL
            })
        };
        let step = ScopedClosure::<dyn FnMut(u32, JsValue, JsValue) -> JsValue>::borrow_mut(&mut step);
        let ended =
            script::transact(&tx, &pairs(&mut keys.iter()), reads_meta, step.as_ref()).map_err(|e| classify(&e))?;
        let ended = JsFuture::from(ended).await;
        drop(step);
        let Err(cause) = ended else { return Ok(()) };
        if let Some(error) = steps.failure {
            return Err(error);
        }
        #[cfg(feature = "testing")]
        if fault && !self.fail_after_entity.get() {
            return Err(Error::Storage("injected fault".into()));
        }
        Err(not_committed(cause))
    }

    pub(super) async fn mark_sent_in(&self, tx: &IdbTransaction, ids: &[u64]) -> Result<()> {
        let ids = sys::numbers(ids);
        script::answer(script::mark_sent(tx, &ids)).await.map(drop)
    }
}

/// A writing transaction's steps between the script's reads (`run_transaction_over`),
/// and what the first leaves for the second.
struct Steps<'s, 'p> {
    store: &'s IdbStore,
    keys: &'s [KeyRef],
    read_conflicts: bool,
    /// The metadata is read (and may be written) in this transaction.
    reads_meta: bool,
    known_meta: Option<Meta>,
    plan: &'p mut dyn FnMut(Snapshot<JsVal>) -> Result<Writes<JsVal>>,
    snapshot: Option<Snapshot<JsVal>>,
    /// The keys whose queued writes the second read brings, in its order, and the open
    /// conflicts it brings.
    pending_keys: Vec<&'s KeyRef>,
    conflict_ids: Vec<u64>,
    /// Why a step failed (the script then aborts the transaction).
    failure: Option<Error>,
}

impl Steps<'_, '_> {
    /// The metadata and the records read: what else to read, `[pairs, conflict ids]`, or
    /// `undefined` for nothing (most writes).
    fn snapshot(&mut self, meta_js: &JsValue, found: &JsValue) -> Result<JsValue> {
        let store = self.store;
        let meta: Meta = match (meta_js.is_undefined(), self.known_meta.take()) {
            (false, _) => store.remember_stored_meta(meta_js)?,
            (true, Some(meta)) => meta,
            (true, None) => return Err(Error::Storage("metadata missing: open_meta was not called".into())),
        };
        let mut snapshot = Snapshot::new(meta);
        let conflict_ids = &mut self.conflict_ids;
        let mut skipped = Vec::new();
        for (at, js) in places(found.unchecked_ref(), self.keys.len()) {
            let key = &self.keys[at];
            let record = match decode_record(&js, store.sealer()) {
                Ok(record) => record,
                Err(reason) => {
                    // One record broken by hand must not stop every sync and every write
                    // of its key: it reads as absent (and is reported); its queued
                    // writes, if any, are still read by key.
                    skipped.push(format!("{}/{}: {reason}", key.0, key.1));
                    self.pending_keys.push(key);
                    continue;
                }
            };
            if record.pending > 0 {
                self.pending_keys.push(key);
            }
            conflict_ids.extend(record.conflict);
            snapshot.records.insert(key.clone(), record);
        }
        store.report_skipped(skipped);
        self.snapshot = Some(snapshot);
        if !self.read_conflicts {
            conflict_ids.clear();
        }
        // Only when a key has queued writes or a record an open conflict: most writes
        // read nothing more.
        if self.pending_keys.is_empty() && conflict_ids.is_empty() {
            return Ok(JsValue::UNDEFINED);
        }
        let pending = pairs(&mut self.pending_keys.iter().copied());
        Ok(sys::array(&[pending.into(), sys::numbers(conflict_ids).into()]).into())
    }

    /// The queued entries and conflicts read (`undefined` when nothing more was): the plan,
    /// encoded as the script's `write` takes it (its arguments after the transaction).
    fn plan(&mut self, queued_js: &JsValue, conflicts_js: &JsValue) -> Result<JsValue> {
        let store = self.store;
        let unreadable = |what: String| move |reason: String| Error::Storage(format!("unreadable {what}: {reason}"));
        let Some(mut snapshot) = self.snapshot.take() else {
            return Err(Error::Storage("a transaction planned before its snapshot".into()));
        };
        if !queued_js.is_undefined() {
            for (id, js) in self.conflict_ids.iter().zip(conflicts_js.unchecked_ref::<Array>().iter()) {
                if js.is_undefined() {
                    continue;
                }
                let conflict: ConflictRecord =
                    decode(&js, store.sealer(), stored::conflict).map_err(unreadable(format!("conflict {id}")))?;
                pwa_sync_core::model::put_conflict(&mut snapshot.conflicts, conflict);
            }
            let mut queued: Vec<Vec<OutboxEntry<JsVal>>> = self.pending_keys.iter().map(|_| Vec::new()).collect();
            for (at, js) in places(queued_js.unchecked_ref(), self.pending_keys.len()) {
                let what = format!("outbox entry {}", key_text(&prop(&js, "id")));
                queued[at].push(decode_entry(&js, store.sealer()).map_err(unreadable(what))?);
            }
            for (key, mut entries) in self.pending_keys.iter().zip(queued) {
                pwa_sync_core::sort::sort_by(&mut entries, |a, b| a.id.cmp(&b.id));
                if !entries.is_empty() {
                    snapshot.queued.insert(KeyRef::clone(key), entries);
                }
            }
        }
        let writes = (self.plan)(snapshot)?;

        // Encode everything before the first write request: the metadata of records and
        // outbox entries as JSON texts, their values as they are.
        let batch = encode_batch(&writes, store.sealer())?;
        let audit_js = Array::new();
        for entry in &writes.audit {
            audit_js.push(&encode_internal(entry, "an audit entry", store.sealer())?);
        }
        let conflicts_put = Array::new();
        for conflict in &writes.conflicts_put {
            conflicts_put.push(&encode_internal(conflict, "a conflict", store.sealer())?);
        }
        let meta_js = writes.meta.as_ref().map(|m| encode_internal(m, "client metadata", None)).transpose()?;
        if meta_js.is_some() && !self.reads_meta {
            return Err(Error::Storage("a local write planned a metadata write".into()));
        }
        #[cfg(feature = "testing")]
        let fault = !writes.records.is_empty() && store.fail_after_entity.replace(false);
        #[cfg(not(feature = "testing"))]
        let fault = false;
        let args = sys::array(&[
            batch.records.into(),
            batch.entries.into(),
            sys::numbers(&writes.outbox_delete).into(),
            audit_js.into(),
            JsValue::from(store.config.audit_limit as f64),
            sys::numbers(&writes.conflicts_delete).into(),
            conflicts_put.into(),
            meta_js.unwrap_or(JsValue::UNDEFINED),
            JsValue::from_bool(fault),
        ]);
        if let Some(meta) = writes.meta {
            store.remember_meta(meta);
        }
        Ok(args.into())
    }
}

/// `[collection, key, ...]`, flat, as the script reads pairs.
fn pairs(keys: &mut dyn Iterator<Item = &KeyRef>) -> Array {
    let pairs = Array::new();
    for (collection, key) in keys {
        pairs.push(&sys::name(collection));
        pairs.push(&JsValue::from_str(key));
    }
    pairs
}

/// A flat `[place, object, ...]` answer of the script as pairs, places below `len` only.
fn places(flat: &Array, len: usize) -> impl Iterator<Item = (usize, JsValue)> + '_ {
    (0..flat.length() / 2).filter_map(move |n| {
        let at = flat.get(2 * n).as_f64().filter(|at| *at >= 0.0 && (*at as usize) < len)? as usize;
        Some((at, flat.get(2 * n + 1)))
    })
}
