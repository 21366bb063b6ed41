//! The writing transactions' bodies: `run_transaction`'s snapshot, plan and write in one
//! transaction, creating the client metadata (`open_meta`) and marking outbox entries sent.

use js_sys::{Array, Promise};
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
    /// back if it changes) in this transaction.
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
        let ended = match self.transact_in(&tx, keys, base.contains(&CONFLICTS), known_meta, plan).await {
            Ok(ended) => ended,
            Err(error) => {
                // Throws only if the transaction already ended, and then there is nothing
                // left to undo.
                let _ = tx.abort();
                return Err(error);
            }
        };
        match JsFuture::from(ended).await {
            Ok(_) => Ok(()),
            #[cfg(feature = "testing")]
            Err(_) if fault && !self.fail_after_entity.get() => Err(Error::Storage("injected fault".into())),
            Err(cause) => Err(not_committed(cause)),
        }
    }

    /// Read the snapshot for `keys`, plan, issue the writes (`js/store.js` does the
    /// requests): the body of [`Store::transact`]. Resolves to the promise of the
    /// transaction's end. `known_meta`: the metadata to plan with, when the transaction
    /// does not cover it.
    async fn transact_in(
        &self,
        tx: &IdbTransaction,
        keys: &[KeyRef],
        read_conflicts: bool,
        known_meta: Option<Meta>,
        plan: &mut dyn FnMut(Snapshot<JsVal>) -> Result<Writes<JsVal>>,
    ) -> Result<Promise> {
        let unreadable = |what: String| move |reason: String| Error::Storage(format!("unreadable {what}: {reason}"));
        let pairs = |keys: &mut dyn Iterator<Item = &KeyRef>| -> Array {
            let pairs = Array::new();
            for (collection, key) in keys {
                pairs.push(&sys::name(collection));
                pairs.push(&JsValue::from_str(key));
            }
            pairs
        };
        let reads_meta = known_meta.is_none();
        let read = script::answer_array(script::read(tx, &pairs(&mut keys.iter()), reads_meta)).await?;
        let (meta_js, found) = (read.get(0), read.get(1).unchecked_into::<Array>());
        let meta: Meta = match (meta_js.is_undefined(), known_meta) {
            (false, _) => self.remember_stored_meta(&meta_js)?,
            (true, Some(meta)) => meta,
            (true, None) => return Err(Error::Storage("metadata missing: open_meta was not called".into())),
        };
        let mut snapshot = Snapshot::new(meta);
        let mut pending_keys: Vec<&KeyRef> = Vec::new();
        let mut conflict_ids = Vec::new();
        let mut skipped = Vec::new();
        for (at, js) in places(&found, keys.len()) {
            let key = &keys[at];
            let record = match decode_record(&js, self.sealer()) {
                Ok(record) => record,
                Err(reason) => {
                    // One record broken by hand must not stop every sync and every write
                    // of its key: it reads as absent (and is reported); its queued
                    // writes, if any, are still read by key.
                    skipped.push(format!("{}/{}: {reason}", key.0, key.1));
                    pending_keys.push(key);
                    continue;
                }
            };
            if record.pending > 0 {
                pending_keys.push(key);
            }
            conflict_ids.extend(record.conflict);
            snapshot.records.insert(key.clone(), record);
        }
        if !read_conflicts {
            conflict_ids.clear();
        }
        // Only when a key has queued writes or a record an open conflict: most writes
        // read nothing more.
        if !pending_keys.is_empty() || !conflict_ids.is_empty() {
            let ids = sys::numbers(&conflict_ids);
            let read =
                script::answer_array(script::read_queued(tx, &pairs(&mut pending_keys.iter().copied()), &ids)).await?;
            let (queued_js, conflicts_js) = (read.get(0).unchecked_into::<Array>(), read.get(1));
            for (id, js) in conflict_ids.iter().zip(conflicts_js.unchecked_into::<Array>().iter()) {
                if js.is_undefined() {
                    continue;
                }
                let conflict: ConflictRecord =
                    decode(&js, self.sealer(), stored::conflict).map_err(unreadable(format!("conflict {id}")))?;
                pwa_sync_core::model::put_conflict(&mut snapshot.conflicts, conflict);
            }
            let mut queued: Vec<Vec<OutboxEntry<JsVal>>> = pending_keys.iter().map(|_| Vec::new()).collect();
            for (at, js) in places(&queued_js, pending_keys.len()) {
                let what = format!("outbox entry {}", key_text(&prop(&js, "id")));
                queued[at].push(decode_entry(&js, self.sealer()).map_err(unreadable(what))?);
            }
            for (key, mut entries) in pending_keys.iter().zip(queued) {
                pwa_sync_core::sort::sort_by(&mut entries, |a, b| a.id.cmp(&b.id));
                if !entries.is_empty() {
                    snapshot.queued.insert(KeyRef::clone(key), entries);
                }
            }
        }
        self.report_skipped(skipped);

        let writes = plan(snapshot)?;

        // Encode everything before the first write request: the metadata of records and
        // outbox entries as JSON texts, their values as they are.
        let batch = encode_batch(&writes, self.sealer())?;
        let audit_js = Array::new();
        for entry in &writes.audit {
            audit_js.push(&encode_internal(entry, "an audit entry", self.sealer())?);
        }
        let conflicts_js = Array::new();
        for conflict in &writes.conflicts_put {
            conflicts_js.push(&encode_internal(conflict, "a conflict", self.sealer())?);
        }
        let meta_js = writes.meta.as_ref().map(|m| encode_internal(m, "client metadata", None)).transpose()?;
        if meta_js.is_some() && !reads_meta {
            return Err(Error::Storage("a local write planned a metadata write".into()));
        }
        #[cfg(feature = "testing")]
        let fault = !writes.records.is_empty() && self.fail_after_entity.replace(false);
        #[cfg(not(feature = "testing"))]
        let fault = false;
        let ended = script::write(
            tx,
            &batch.records,
            &batch.entries,
            &sys::numbers(&writes.outbox_delete),
            &audit_js,
            self.config.audit_limit as f64,
            &sys::numbers(&writes.conflicts_delete),
            &conflicts_js,
            &meta_js.unwrap_or(JsValue::UNDEFINED),
            fault,
        )
        .map_err(|e| classify(&e))?;
        if let Some(meta) = writes.meta {
            self.remember_meta(meta);
        }
        Ok(ended)
    }

    pub(super) async fn mark_sent_in(&self, tx: &IdbTransaction, ids: &[u64]) -> Result<()> {
        let ids = sys::numbers(ids);
        script::answer(script::mark_sent(tx, &ids)).await.map(drop)
    }
}

/// A flat `[place, object, ...]` answer of the script as pairs, places below `len` only.
fn places(flat: &Array, len: usize) -> impl Iterator<Item = (usize, JsValue)> + '_ {
    (0..flat.length() / 2).filter_map(move |n| {
        let at = flat.get(2 * n).as_f64().filter(|at| *at >= 0.0 && (*at as usize) < len)? as usize;
        Some((at, flat.get(2 * n + 1)))
    })
}
