//! The writing transactions' bodies: `run_transaction`'s snapshot, plan and write in one
//! transaction, creating the client metadata (`open_meta`) and marking outbox entries sent.

use std::future::IntoFuture;

use idb::TransactionMode;
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::model::{KeyRef, Snapshot, Writes};
use pwa_sync_core::record::{is_new_entry, ConflictRecord, Meta};
use pwa_sync_core::store::Durability;

use super::codec::{decode, decode_entry, decode_record, encode_batch, encode_internal, key_text};
use super::error::{classify, in_tx};
use super::names::{to_u32, AUDIT, BY_KEY, CONFLICTS, META, META_KEY, OUTBOX};
use super::scan::{delete_entries, probe_keys, queued_entries};
use super::store::IdbStore;
use super::stored;
use super::transaction::finish;
use crate::convert::prop;
use crate::value::JsVal;

impl IdbStore {
    pub(super) async fn open_meta_in(&self, tx: &idb::Transaction, fresh_client_id: &str) -> Result<Meta> {
        let store = tx.object_store(META).map_err(in_tx(tx))?;
        let key = JsValue::from_str(META_KEY);
        if let Some(js) = store.get(key.clone()).map_err(in_tx(tx))?.await.map_err(in_tx(tx))? {
            return self.remember_stored_meta(&js);
        }
        let meta = Meta::new(fresh_client_id.to_owned());
        store.put(&encode_internal(&meta, "client metadata", None)?, Some(&key)).map_err(in_tx(tx))?;
        Ok(self.remember_meta(meta))
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
        let mut stores: Vec<&str> = base.to_vec();
        if known_meta.is_none() {
            stores.push(META);
        }
        for (collection, _) in keys {
            self.check(collection)?;
            if !stores.contains(&collection.as_str()) {
                stores.push(collection);
            }
        }
        let tx = self.transaction(&stores, TransactionMode::ReadWrite, durability).await?;
        let result = self.transact_in(&tx, keys, base.contains(&CONFLICTS), known_meta, plan).await;
        finish(tx, result, true).await
    }

    /// Read the snapshot for `keys`, plan, write: the body of [`Store::transact`].
    /// `known_meta`: the metadata to plan with, when the transaction does not cover it.
    pub(super) async fn transact_in(
        &self,
        tx: &idb::Transaction,
        keys: &[KeyRef],
        read_conflicts: bool,
        known_meta: Option<Meta>,
        plan: &mut dyn FnMut(Snapshot<JsVal>) -> Result<Writes<JsVal>>,
    ) -> Result<()> {
        let err = in_tx(tx);
        let outbox = tx.object_store(OUTBOX).map_err(err)?;
        let meta_store = match known_meta {
            None => Some(tx.object_store(META).map_err(err)?),
            Some(_) => None,
        };
        let meta_key = JsValue::from_str(META_KEY);
        let unreadable = |what: String| move |reason: String| Error::Storage(format!("unreadable {what}: {reason}"));

        // Issue every read first, then collect: the requests run back to back.
        // `into_future` now: it attaches the success listener, and a request whose event
        // fires before anyone listens would never resolve.
        let meta_request = match &meta_store {
            Some(store) => Some(store.get(meta_key.clone()).map_err(err)?.into_future()),
            None => None,
        };
        let probed = probe_keys(tx, keys).await?;
        let mut record_requests = Vec::with_capacity(keys.len());
        for key in keys.iter().filter(|k| probed.unread(k)) {
            let store = tx.object_store(&key.0).map_err(err)?;
            record_requests.push((key, store.get(JsValue::from_str(&key.1)).map_err(err)?.into_future()));
        }
        let read = match meta_request {
            Some(request) => request.await.map_err(err)?,
            None => None,
        };
        let meta: Meta = match (read, known_meta) {
            (Some(js), _) => self.remember_stored_meta(&js)?,
            (None, Some(meta)) => meta,
            (None, None) => return Err(Error::Storage("metadata missing: open_meta was not called".into())),
        };
        let mut snapshot = Snapshot::new(meta);
        let mut pending_keys = Vec::new();
        let mut conflict_ids = Vec::new();
        let mut skipped = Vec::new();
        let mut found = probed.read;
        for (key, request) in record_requests {
            if let Some(js) = request.await.map_err(err)? {
                found.push((key, js));
            }
        }
        for (key, js) in found {
            let record = match decode_record(&js, self.sealer()) {
                Ok(record) => record,
                Err(reason) => {
                    // One record broken by hand must not stop every sync and every write
                    // of its key: it reads as absent (and is reported); its queued
                    // writes, if any, are still read by key.
                    skipped.push(format!("{}/{}: {reason}", key.0, key.1));
                    pending_keys.push(key.clone());
                    continue;
                }
            };
            if record.pending > 0 {
                pending_keys.push(key.clone());
            }
            conflict_ids.extend(record.conflict);
            snapshot.records.insert(key.clone(), record);
        }
        if read_conflicts && !conflict_ids.is_empty() {
            let conflicts = tx.object_store(CONFLICTS).map_err(err)?;
            for id in conflict_ids {
                let Some(js) = conflicts.get(JsValue::from_f64(id as f64)).map_err(err)?.await.map_err(err)? else {
                    continue;
                };
                let conflict: ConflictRecord =
                    decode(&js, self.sealer(), stored::conflict).map_err(unreadable(format!("conflict {id}")))?;
                pwa_sync_core::model::put_conflict(&mut snapshot.conflicts, conflict);
            }
        }
        // Only when a key has queued writes: a write of a key with none opens no index.
        let queued_raw = match pending_keys.is_empty() {
            true => Vec::new(),
            false => queued_entries(tx, &outbox.index(BY_KEY).map_err(err)?, &pending_keys).await?,
        };
        for (key, raw) in queued_raw {
            let mut queued = Vec::with_capacity(raw.len());
            for js in raw {
                let what = format!("outbox entry {}", key_text(&prop(&js, "id")));
                queued.push(decode_entry(&js, self.sealer()).map_err(unreadable(what))?);
            }
            pwa_sync_core::sort::sort_by(&mut queued, |a, b| a.id.cmp(&b.id));
            if !queued.is_empty() {
                snapshot.queued.insert(key, queued);
            }
        }
        self.report_skipped(skipped);

        let writes = plan(snapshot)?;

        // Encode everything before the first write request: the metadata of records and
        // outbox entries as one JSON text, their values set on as they are.
        let (records_js, entries_js) = encode_batch(&writes, self.sealer())?;
        let audit_js = writes
            .audit
            .iter()
            .map(|a| encode_internal(a, "an audit entry", self.sealer()))
            .collect::<Result<Vec<_>>>()?;
        let conflicts_js = writes
            .conflicts_put
            .iter()
            .map(|c| encode_internal(c, "a conflict", self.sealer()))
            .collect::<Result<Vec<_>>>()?;
        let meta_js = writes.meta.as_ref().map(|m| encode_internal(m, "client metadata", None)).transpose()?;

        // Write requests are not awaited one by one: a failing one aborts the transaction,
        // and the caller awaits its outcome.
        for ((collection, key), js) in writes.records.keys().zip(&records_js) {
            let store = tx.object_store(collection).map_err(err)?;
            match js {
                Some(js) => drop(store.put(js, None).map_err(err)?),
                None => drop(store.delete(JsValue::from_str(key)).map_err(err)?),
            }
            // After the first entity write: the flag is cleared on the first pass.
            #[cfg(feature = "testing")]
            if self.fail_after_entity.replace(false) {
                return Err(Error::Storage("injected fault".into()));
            }
        }
        delete_entries(tx, &outbox, &writes.outbox_delete).await?;
        for (js, entry) in entries_js.iter().zip(writes.outbox_put.values()) {
            if is_new_entry(entry.id) {
                // The key generator numbers it (invariant 3): atomic across tabs and
                // workers, and in the order of these adds, which is the plan's.
                Reflect::delete_property(js.unchecked_ref::<js_sys::Object>(), &JsValue::from_str("id"))
                    .map_err(|e| classify(&e))?;
                drop(outbox.add(js, None).map_err(err)?);
            } else {
                drop(outbox.put(js, None).map_err(err)?);
            }
        }
        if !audit_js.is_empty() {
            let audit = tx.object_store(AUDIT).map_err(err)?;
            for js in &audit_js {
                drop(audit.add(js, None).map_err(err)?);
            }
            let count = audit.count(None).map_err(err)?.await.map_err(err)? as usize;
            let limit = self.config.audit_limit;
            if count > limit {
                // Oldest first by their increasing ids.
                let oldest = audit.get_all_keys(None, Some(to_u32(count - limit))).map_err(err)?.await.map_err(err)?;
                for key in oldest {
                    drop(audit.delete(key).map_err(err)?);
                }
            }
        }
        if !conflicts_js.is_empty() || !writes.conflicts_delete.is_empty() {
            let conflicts = tx.object_store(CONFLICTS).map_err(err)?;
            for id in &writes.conflicts_delete {
                drop(conflicts.delete(JsValue::from_f64(*id as f64)).map_err(err)?);
            }
            for js in &conflicts_js {
                drop(conflicts.put(js, None).map_err(err)?);
            }
        }
        if let Some(js) = &meta_js {
            let store =
                meta_store.as_ref().ok_or_else(|| Error::Storage("a local write planned a metadata write".into()))?;
            drop(store.put(js, Some(&meta_key)).map_err(err)?);
        }
        if let Some(meta) = writes.meta {
            self.remember_meta(meta);
        }
        Ok(())
    }

    pub(super) async fn mark_sent_in(&self, tx: &idb::Transaction, ids: &[u64]) -> Result<()> {
        let store = tx.object_store(OUTBOX).map_err(in_tx(tx))?;
        for &id in ids {
            let key = JsValue::from_f64(id as f64);
            let Some(entry) = store.get(key).map_err(in_tx(tx))?.await.map_err(in_tx(tx))? else { continue };
            Reflect::set(&entry, &JsValue::from_str("sent"), &JsValue::TRUE).map_err(|e| classify(&e))?;
            drop(store.put(&entry, None).map_err(in_tx(tx))?);
        }
        Ok(())
    }
}
