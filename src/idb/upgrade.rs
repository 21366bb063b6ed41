//! Migrating stored values inside the upgrade (`versionchange`) transaction: every record
//! of the app's collections, every queued outbox entry and every open conflict goes
//! through the app's `migrations`, then the schema stamp is written. All or nothing: the
//! first failure aborts the transaction, so the database stays exactly as it was (stores,
//! indexes and version included) and the open rejects with `migration-failed`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Array;
use serde_json::Value;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;

use pwa_sync_core::config::{ClientConfig, CollectionConfig};
use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::migration::{self, Steps};
use pwa_sync_core::protocol::Op;
use pwa_sync_core::record::STORAGE_FORMAT;
use pwa_sync_core::sorted_map::SortedMap;

use super::codec::{decode, decode_entry_json, decode_record_json, encode_internal};
use super::names::as_u32;
use super::stored;
use crate::crypto::Sealer;
use crate::migrate::Migrations;

/// What an upgrade needs besides the schema: the app's version and migrations, and the
/// sealer of values encrypted at rest.
pub struct Upgrade {
    pub config: ClientConfig,
    pub migrations: Rc<Migrations>,
    pub sealer: Option<Sealer>,
    /// A memory client's in-memory IndexedDB (`[factory, IDBKeyRange]`, the store
    /// script's `memory`); `undefined`: the browser's.
    pub memory: JsValue,
    /// A client's fresh metadata, stored by the upgrade where there is none, and an
    /// upgrade run for that alone when a database is found without it (`open::judge`):
    /// a client's database is never without metadata, which an older library would take
    /// for a new database. `undefined` (the store's tests): `open_meta` stores it later.
    /// Made again, of a new client id, before the store reopens a connection it lost
    /// (`IdbStore::database`): the database may have been deleted meanwhile.
    pub fresh_meta: std::cell::RefCell<JsValue>,
}

/// Each key with queued writes, and its value (unmigrated) before the next of them.
type Before = SortedMap<(String, String), Option<Value>>;

/// What the store's script passes to `Upgrade::migrated`.
const RECORD: u32 = 0;
const ENTRY: u32 = 1;

/// The two functions the store's script calls in the upgrade transaction (`script::open`):
/// `steps(stamp)` and `migrated(kind, collection, object)`. They live until the open
/// settles, and record the first failure in `failure` before the script aborts.
pub(super) struct Callbacks {
    pub(super) steps: Closure<dyn FnMut(JsValue) -> JsValue>,
    pub(super) migrated: Closure<dyn FnMut(u32, JsValue, JsValue) -> JsValue>,
}

impl Upgrade {
    /// What the store's script runs in `upgradeneeded`, once what was missing exists: it
    /// brings the data to this library's format and, when `steps` says the stored schema
    /// version is older, passes every stored object through `migrated`, awaiting only
    /// requests of that transaction (the migrations are synchronous), which keeps it
    /// alive; the open request succeeds only once it committed. The transaction itself
    /// stays in the script, which aborts it on the first failure; the reason, when it is
    /// ours (a refused version, a migration that failed), is in `failure` first.
    pub(super) fn callbacks(self: &Rc<Self>, failure: &Rc<RefCell<Option<Error>>>) -> Callbacks {
        let chosen: Rc<Cell<Option<Steps>>> = Rc::new(Cell::new(None));
        let before: RefCell<Before> = RefCell::new(SortedMap::new());
        let fail = {
            let failure = failure.clone();
            move |error: Error| {
                failure.borrow_mut().get_or_insert(error);
            }
        };
        // `null`: refused (a newer app's data), the reason in `failure`.
        let steps = {
            let (this, chosen, fail) = (self.clone(), chosen.clone(), fail.clone());
            Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |stamp: JsValue| {
                match migration::on_open(as_u32(&stamp), this.migrations.declared) {
                    Ok(found) => {
                        chosen.set(found);
                        JsValue::from_bool(found.is_some())
                    }
                    Err(e) => {
                        fail(e);
                        JsValue::NULL
                    }
                }
            })
        };
        // The object migrated, `undefined` to leave it, `false` on failure (in `failure`).
        let migrated = {
            let this = self.clone();
            Closure::<dyn FnMut(u32, JsValue, JsValue) -> JsValue>::new(move |kind, collection: JsValue, js| {
                let Some(steps) = chosen.get() else { return JsValue::UNDEFINED };
                match this.migrated(kind, collection.as_string(), &js, steps, &mut before.borrow_mut()) {
                    Ok(next) => next.unwrap_or(JsValue::UNDEFINED),
                    Err(e) => {
                        fail(e);
                        JsValue::FALSE
                    }
                }
            })
        };
        Callbacks { steps, migrated }
    }

    /// What the script's `upgrade` gets besides the transaction and the callbacks:
    /// `[format, collections, version, fresh metadata]`.
    pub(super) fn settings(&self) -> Array {
        let collections = Array::new();
        for collection in &self.config.collections {
            collections.push(&JsValue::from_str(&collection.name));
        }
        let declared = JsValue::from(self.migrations.declared);
        crate::sys::array(&[
            JsValue::from(STORAGE_FORMAT),
            collections.into(),
            declared,
            self.fresh_meta.borrow().clone(),
        ])
    }

    /// One stored object through the app's migrations, encoded again: `None` to leave it
    /// as it is (unreadable, of a collection this app does not declare, a delete).
    /// `before`: each key with queued writes and its value before the next of them, as
    /// stored (the script passes every record first, then the entries in id order).
    fn migrated(
        &self,
        kind: u32,
        collection: Option<String>,
        js: &JsValue,
        steps: Steps,
        before: &mut Before,
    ) -> Result<Option<JsValue>> {
        let sealer = self.sealer.as_ref();
        match kind {
            RECORD => {
                let Some(collection) = collection.and_then(|c| self.config.collection(&c).ok()) else {
                    return Ok(None);
                };
                // An unreadable record is left as it is (reads skip and report it).
                let Ok(mut record) = decode_record_json(js, sealer) else { return Ok(None) };
                if record.pending > 0 {
                    before.insert((collection.name.clone(), record.key.clone()), record.base.clone());
                }
                record.value = self.run(collection, &record.key, record.value.take(), steps, false)?;
                record.base = self.run(collection, &record.key, record.base.take(), steps, false)?;
                encode_internal(&record, "a migrated record", sealer).map(Some)
            }
            ENTRY => {
                let Ok(mut entry) = decode_entry_json(js, sealer) else { return Ok(None) };
                let Ok(collection) = self.config.collection(&entry.collection) else { return Ok(None) };
                let key = (entry.collection.clone(), entry.key.clone());
                let value = std::mem::take(&mut entry.value);
                let (migrated, after) = match (entry.op, before.get(&key)) {
                    (Op::Delete, _) => {
                        before.insert(key, None);
                        return Ok(None);
                    }
                    (Op::Put, _) => {
                        (self.migrations.run(collection, &entry.key, value.clone(), steps, false)?, Some(value))
                    }
                    // A patch is the change from the record before it to the record after
                    // it, both migrated whole: a step that derives a field from others
                    // cannot be right on a partial value (`{last}` alone would make a
                    // full name of `undefined` and the new last name).
                    (Op::Patch, Some(Some(whole))) => {
                        let mut after = whole.clone();
                        pwa_sync_core::patch::apply(&mut after, &value);
                        let from = self.migrations.run(collection, &entry.key, whole.clone(), steps, false)?;
                        let to = self.migrations.run(collection, &entry.key, after.clone(), steps, false)?;
                        match pwa_sync_core::patch::changes(Some(&from), Some(&to)) {
                            Some(change) => (change, Some(after)),
                            // No merge patch sets a field to `null`: the whole record goes.
                            None => {
                                entry.op = Op::Put;
                                (to, Some(after))
                            }
                        }
                    }
                    // Nothing known before it (its record unreadable): migrated as a
                    // partial value, as the step's documentation allows.
                    (Op::Patch, _) => (self.migrations.run(collection, &entry.key, value, steps, true)?, None),
                };
                before.insert(key, after);
                entry.value = migrated;
                encode_internal(&entry, "a migrated outbox entry", sealer).map(Some)
            }
            _ => {
                let Ok(mut conflict) = decode(js, sealer, stored::conflict) else { return Ok(None) };
                let Ok(collection) = self.config.collection(&conflict.collection) else { return Ok(None) };
                let key = conflict.key.clone();
                conflict.local = self.run(collection, &key, conflict.local.take(), steps, false)?;
                conflict.server = self.run(collection, &key, conflict.server.take(), steps, false)?;
                conflict.base = self.run(collection, &key, conflict.base.take(), steps, false)?;
                encode_internal(&conflict, "a migrated conflict", sealer).map(Some)
            }
        }
    }

    fn run(
        &self,
        collection: &CollectionConfig,
        key: &str,
        value: Option<Value>,
        steps: Steps,
        partial: bool,
    ) -> Result<Option<Value>> {
        value.map(|v| self.migrations.run(collection, key, v, steps, partial)).transpose()
    }
}
