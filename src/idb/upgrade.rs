//! Migrating stored values inside the upgrade (`versionchange`) transaction: every record
//! of the app's collections, every queued outbox entry and every open conflict goes
//! through the app's `migrations`, then the schema stamp is written. All or nothing: the
//! first failure aborts the transaction, so the database stays exactly as it was (stores,
//! indexes and version included) and the open rejects with `migration-failed`.

use std::cell::RefCell;
use std::future::IntoFuture;
use std::rc::Rc;

use js_sys::Reflect;
use serde_json::Value;
use wasm_bindgen::JsValue;

use pwa_sync_core::config::{ClientConfig, CollectionConfig};
use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::migration::{self, Steps};
use pwa_sync_core::protocol::Op;
use pwa_sync_core::record::STORAGE_FORMAT;

use super::codec::{decode, decode_entry_json, decode_record_json, encode_internal};
use super::error::in_tx;
use super::names::{as_u32, CONFLICTS, LEGACY_OUTBOX, META, META_KEY, OUTBOX, SCHEMA_KEY};
use super::stored;
use crate::convert::prop;
use crate::crypto::Sealer;
use crate::migrate::Migrations;

/// What an upgrade needs besides the schema: the app's version and migrations, and the
/// sealer of values encrypted at rest.
pub struct Upgrade {
    pub config: ClientConfig,
    pub migrations: Rc<Migrations>,
    pub sealer: Option<Sealer>,
}

impl Upgrade {
    /// Called in `upgradeneeded`, after the stores exist. The requests are issued from a
    /// task that awaits only requests of this transaction (and calls the synchronous
    /// migrations in between), which keeps it alive; the open request succeeds only once
    /// it committed. On error: `failure` is set first, then the transaction aborts.
    pub(super) fn migrate(self: &Rc<Self>, tx: idb::Transaction, failure: Rc<RefCell<Option<Error>>>) {
        let this = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = this.migrate_in(&tx).await {
                *failure.borrow_mut() = Some(e);
                let _ = tx.abort();
            }
        });
    }

    async fn migrate_in(&self, tx: &idb::Transaction) -> Result<()> {
        bring_to_format(tx).await?;
        let meta = tx.object_store(META).map_err(in_tx(tx))?;
        let stamp = meta.get(JsValue::from_str(SCHEMA_KEY)).map_err(in_tx(tx))?.await.map_err(in_tx(tx))?;
        // Read again here, not trusted from before the upgrade: another tab may have
        // migrated in between, and migrating twice would corrupt.
        let stored = stamp.and_then(|s| as_u32(&prop(&s, "version")));
        let Some(steps) = migration::on_open(stored, self.migrations.declared)? else { return Ok(()) };
        let sealer = self.sealer.as_ref();
        for collection in &self.config.collections {
            let store = tx.object_store(&collection.name).map_err(in_tx(tx))?;
            for js in store.get_all(None, None).map_err(in_tx(tx))?.await.map_err(in_tx(tx))? {
                // An unreadable record is left as it is (reads skip and report it).
                let Ok(mut record) = decode_record_json(&js, sealer) else { continue };
                record.value = self.run(collection, &record.key, record.value.take(), steps, false)?;
                record.base = self.run(collection, &record.key, record.base.take(), steps, false)?;
                drop(store.put(&encode_internal(&record, "a migrated record", sealer)?, None).map_err(in_tx(tx))?);
            }
        }
        let outbox = tx.object_store(OUTBOX).map_err(in_tx(tx))?;
        for js in outbox.get_all(None, None).map_err(in_tx(tx))?.await.map_err(in_tx(tx))? {
            let Ok(mut entry) = decode_entry_json(&js, sealer) else { continue };
            let Ok(collection) = self.config.collection(&entry.collection) else { continue };
            if entry.op == Op::Delete {
                continue;
            }
            // The server gets the migrated write; a patch's partial value is migrated as one.
            let value = std::mem::take(&mut entry.value);
            entry.value = self.migrations.run(collection, &entry.key, value, steps, entry.op == Op::Patch)?;
            drop(outbox.put(&encode_internal(&entry, "a migrated outbox entry", sealer)?, None).map_err(in_tx(tx))?);
        }
        let conflicts = tx.object_store(CONFLICTS).map_err(in_tx(tx))?;
        for js in conflicts.get_all(None, None).map_err(in_tx(tx))?.await.map_err(in_tx(tx))? {
            let Ok(mut conflict) = decode(&js, sealer, stored::conflict) else { continue };
            let Ok(collection) = self.config.collection(&conflict.collection) else { continue };
            let key = conflict.key.clone();
            conflict.local = self.run(collection, &key, conflict.local.take(), steps, false)?;
            conflict.server = self.run(collection, &key, conflict.server.take(), steps, false)?;
            conflict.base = self.run(collection, &key, conflict.base.take(), steps, false)?;
            drop(conflicts.put(&encode_internal(&conflict, "a migrated conflict", sealer)?, None).map_err(in_tx(tx))?);
        }
        let stamp = js_sys::Object::new();
        let _ = Reflect::set(&stamp, &"version".into(), &JsValue::from(self.migrations.declared));
        drop(meta.put(&stamp, Some(&JsValue::from_str(SCHEMA_KEY))).map_err(in_tx(tx))?);
        Ok(())
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

/// Every upgrade leaves the database in this library's format. An outbox from before
/// keyed ids (set aside by `create_missing`) has its entries moved into the new one, as
/// they are, and the key generator starts above every id the old counter gave: the
/// server keeps each (client, id) it applied, so a reused id would be answered as a
/// duplicate and its write lost (invariant 3). The metadata's `format` is raised: a
/// library of an older one reads `format` alone (`open::inspect`) and refuses the
/// database (`schema-downgrade`) instead of writing shapes or ids this one does not expect.
async fn bring_to_format(tx: &idb::Transaction) -> Result<()> {
    let meta = tx.object_store(META).map_err(in_tx(tx))?;
    let key = JsValue::from_str(META_KEY);
    // Both requests out before either is awaited (`into_future` attaches the listener).
    let client = meta.get(key.clone()).map_err(in_tx(tx))?.into_future();
    let legacy = match tx.store_names().iter().any(|name| name == LEGACY_OUTBOX) {
        true => Some(
            tx.object_store(LEGACY_OUTBOX).map_err(in_tx(tx))?.get_all(None, None).map_err(in_tx(tx))?.into_future(),
        ),
        false => None,
    };
    let client = client.await.map_err(in_tx(tx))?;
    if let Some(entries) = legacy {
        let outbox = tx.object_store(OUTBOX).map_err(in_tx(tx))?;
        let mut highest = 0.0_f64;
        for js in entries.await.map_err(in_tx(tx))? {
            highest = highest.max(prop(&js, "id").as_f64().unwrap_or(0.0));
            drop(outbox.put(&js, None).map_err(in_tx(tx))?);
        }
        // A key put explicitly moves the generator past it; deleting it does not move it back.
        let counter = client.as_ref().and_then(|c| prop(c, "nextMutationId").as_f64());
        if let Some(last_given) = counter.map(|next| next - 1.0).filter(|last| *last > highest) {
            let placeholder = js_sys::Object::new();
            let _ = Reflect::set(&placeholder, &"id".into(), &JsValue::from(last_given));
            drop(outbox.put(&placeholder, None).map_err(in_tx(tx))?);
            drop(outbox.delete(JsValue::from(last_given)).map_err(in_tx(tx))?);
        }
        tx.database().delete_object_store(LEGACY_OUTBOX).map_err(in_tx(tx))?;
    }
    if let Some(client) = client.filter(|c| as_u32(&prop(c, "format")).is_some_and(|f| f < STORAGE_FORMAT)) {
        let _ = Reflect::set(&client, &"format".into(), &JsValue::from(STORAGE_FORMAT));
        drop(meta.put(&client, Some(&key)).map_err(in_tx(tx))?);
    }
    Ok(())
}
