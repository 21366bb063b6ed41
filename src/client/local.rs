//! Local operations: reads and writes of this device's data, export, audit and clear.
//! Arguments come parsed from the API (the collection's config, the key as a string);
//! values are still JS values and are converted here.

use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::Client;
use crate::background_sync::request_background_sync;
use crate::channel::Hint;
use crate::convert;
use crate::crypto::new_client_id;
use crate::error::to_js;
use crate::events::Origin;
use crate::idb;
use crate::sys::{is_online, now_ms};
use crate::value::JsVal;
use pwa_sync_core::config::CollectionConfig;
use pwa_sync_core::engine::{self, LocalWrites};
use pwa_sync_core::mutation::{LocalOp, LocalWrite, WriteOutcome};
use pwa_sync_core::record::{self, ListQuery};
use pwa_sync_core::schedule::Trigger;
use pwa_sync_core::store::Store;
use pwa_sync_core::Error;

/// What a single-promise read answers for its finished request: `(collection, key or
/// `undefined`, the request's event)` to the app's value or the error.
pub(super) type Outcome = fn(&JsValue, &JsValue, &JsValue) -> Result<JsValue, Error>;

/// The settling function of a single-promise read (`IdbStore::read_now`, `count_now`),
/// made once per client and kind (a JS function that owns its closure, so a read still
/// pending when the client is dropped settles): a failed request or an unreadable record
/// rejects and is reported as the read's other path reports it.
pub(super) fn settler(client: Weak<Client>, outcome: Outcome) -> Function {
    let settle = move |collection: JsValue, key: JsValue, event: JsValue| {
        outcome(&collection, &key, &event).map_err(|error| {
            if let Some(client) = client.upgrade() {
                client.report_storage_error(&error);
            }
            to_js(&error)
        })
    };
    Closure::<dyn FnMut(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>::new(settle)
        .into_js_value()
        .unchecked_into()
}

impl Client {
    /// A local write with its collection's space rule and the spaces known to be read-only.
    fn local_write(
        &self,
        config: &CollectionConfig,
        key: String,
        op: LocalOp<JsVal>,
        now_ms: u64,
    ) -> LocalWrite<JsVal> {
        let mut write = LocalWrite::new(config.name.clone(), key, op, now_ms);
        write.space = config.space.clone();
        write.read_only = self.read_only_spaces();
        write
    }

    /// The local writes of one call (`put`, `putMany`, `patch`, `delete`), in order and
    /// in one transaction: all of them or, on a storage error, none. Each that changed
    /// something is announced. One await for the four calls, where each had its own
    /// (bench/README.md "Size").
    pub async fn write(
        self: &Rc<Self>,
        config: &CollectionConfig,
        batch: &[LocalWrite<JsVal>],
    ) -> Result<Vec<WriteOutcome<JsVal>>, Error> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let outcomes = self.store.write_local_batch(batch).await.inspect_err(|e| self.report_storage_error(e))?;
        let mut pending_delta = 0;
        for (write, outcome) in batch.iter().zip(&outcomes) {
            if outcome.changed {
                let value = outcome.value.as_ref().map_or(JsValue::NULL, |v| v.0.clone());
                self.announce_change(config, &write.key, value, Origin::Local, outcome.version);
            }
            pending_delta += outcome.pending_delta;
        }
        self.after_local_writes(pending_delta, outcomes.iter().any(|o| o.queued));
        Ok(outcomes)
    }

    /// Count the outbox change and, if something was queued, schedule its push.
    fn after_local_writes(self: &Rc<Self>, pending_delta: i64, queued: bool) {
        if pending_delta != 0 {
            let commands = self.session.borrow_mut().add_pending(pending_delta);
            self.carry_out_now(commands);
        }
        if queued {
            self.remember_device();
            self.trigger(Trigger::LocalWrite);
            if self.transport.is_some() && !is_online() {
                request_background_sync(&self.config.sync_tag);
            }
        }
    }

    /// `put`'s write of a whole record: `value` is the app's, copied when it called
    /// (`JsVal::copy_of`).
    pub fn put_write(&self, config: &CollectionConfig, value: JsVal) -> Result<LocalWrite<JsVal>, Error> {
        let (key, value) = record::prepare_value(config, value)?;
        Ok(self.local_write(config, key, LocalOp::Put(value), now_ms()))
    }

    /// `putMany`'s writes of many whole records (one transaction: all of them or, on any
    /// bad value or storage error, none).
    pub fn put_many_writes(
        &self,
        config: &CollectionConfig,
        values: &js_sys::Array,
        copy: Option<JsVal>,
    ) -> Result<Vec<LocalWrite<JsVal>>, Error> {
        let now_ms = now_ms();
        // The whole array as copied when the app called (one JSON text, in JS); if that
        // failed, one record at a time, so the error names the record that cannot be stored.
        let copied = copy.filter(|copy| js_sys::Array::is_array(&copy.0)).map(|copy| js_sys::Array::from(&copy.0));
        let length = copied.as_ref().map_or(values.length(), js_sys::Array::length);
        let mut batch = Vec::with_capacity(length as usize);
        for index in 0..length {
            let value = match &copied {
                Some(copied) => Ok(JsVal(copied.get(index))),
                None => JsVal::copy_of(&config.name, &values.get(index)),
            };
            let prepared = value.and_then(|v| record::prepare_value(config, v));
            let (key, value) = prepared.map_err(|e| match e {
                Error::InvalidValue { collection, reason } => {
                    Error::InvalidValue { collection, reason: format!("record {index}: {reason}") }
                }
                other => other,
            })?;
            batch.push(self.local_write(config, key, LocalOp::Put(value), now_ms));
        }
        Ok(batch)
    }

    /// `patch`'s write: `partial` merged into the stored record (JSON Merge Patch).
    pub fn patch_write(
        &self,
        config: &CollectionConfig,
        key: String,
        partial: JsVal,
    ) -> Result<LocalWrite<JsVal>, Error> {
        record::check_key(config, &key)?;
        let partial = record::prepare_patch(config, &key, partial)?;
        Ok(self.local_write(config, key, LocalOp::Patch(partial), now_ms()))
    }

    /// `delete`'s write.
    pub fn delete_write(&self, config: &CollectionConfig, key: String) -> Result<LocalWrite<JsVal>, Error> {
        record::check_key(config, &key)?;
        Ok(self.local_write(config, key, LocalOp::Delete, now_ms()))
    }

    /// `get` in one IndexedDB request and one promise (`IdbStore::read_now`), when it can
    /// be; `None`: the caller takes `get`, which also names whatever argument is wrong.
    pub fn get_now(self: &Rc<Self>, collection: &JsValue, key: &JsValue) -> Option<Promise> {
        if self.is_closed() {
            return None;
        }
        let config = self.collection(&collection.as_string()?).ok()?;
        record::check_key(config, &key.as_string()?).ok()?;
        let settle = self.read_settler.get_or_init(|| settler(Rc::downgrade(self), idb::read_outcome));
        self.store.read_now(collection, key, settle)
    }

    /// The stored value (`get`, when `get_now` could not answer it: `fresh` is `None`).
    /// For `getFresh` (`fresh` says whether with details), at once too; when the record
    /// is older than the collection's `ttlMs` (the server has not confirmed it since, or
    /// local writes to it are pending), a sync runs in the background and the
    /// collection's event fires if the value changes. With details,
    /// `{value, fetchedAt, fresh, updatedAt, version, pending}`. One read for both calls.
    pub async fn get(
        self: &Rc<Self>,
        config: &CollectionConfig,
        key: String,
        fresh: Option<bool>,
    ) -> Result<JsValue, Error> {
        record::check_key(config, &key)?;
        let record = self.store.get(&config.name, &key).await.inspect_err(|e| self.report_storage_error(e))?;
        let Some(details) = fresh else { return Ok(JsVal::or_undefined(record.and_then(|r| r.value))) };
        let ttl = config.ttl_ms.unwrap_or(0);
        let freshness = record::Freshness::of(record.as_ref(), self.session.borrow().last_synced_at(), ttl, now_ms());
        if !freshness.fresh && self.transport.is_some() && !self.session.borrow().is_running() {
            self.sync_soon();
        }
        let value = JsVal::or_undefined(record.and_then(|r| r.value));
        if !details {
            return Ok(value);
        }
        let out = convert::to_js(&freshness)?;
        // Setting a field on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&out, &"value".into(), &value);
        Ok(out)
    }

    pub async fn list(&self, config: &CollectionConfig, query: &ListQuery) -> Result<JsValue, Error> {
        // The values read and checked in the store's script, where it can.
        if let Some(values) = self.store.list_values(&config.name, query).await? {
            self.report_skipped();
            return Ok(values.into());
        }
        let records = self.store.list(&config.name, query).await?;
        self.report_skipped();
        let values = js_sys::Array::new();
        for value in records.into_iter().filter_map(|r| r.value) {
            values.push(&value.0);
        }
        Ok(values.into())
    }

    /// `clear`'s work, holding the flush lock so no sync in any context writes the old
    /// session's data back (every other context's client closes): everything wiped
    /// (logout), the client going on under a new client id.
    pub(super) async fn clear_here(self: &Rc<Self>) -> Result<(), Error> {
        self.hint(Hint::Wipe);
        self.forget_device();
        // A fresh identity: the server has seen the old client id's mutation ids, and
        // reusing them from 1 would make it drop the new writes as duplicates.
        let meta = self.store.clear(&new_client_id()?).await?;
        engine::ensure_checkpoint_scope(&self.store, &self.config).await?;
        *self.client_id.borrow_mut() = meta.client_id;
        let commands = self.session.borrow_mut().on_cleared();
        self.carry_out_now(commands);
        Ok(())
    }
}
