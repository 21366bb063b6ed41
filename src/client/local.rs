//! Local operations: reads and writes of this device's data, export, audit and clear.
//! Arguments come parsed from the API (the collection's config, the key as a string);
//! values are still JS values and are converted here.

use std::rc::Rc;

use serde_json::Value;
use wasm_bindgen::JsValue;

use super::{new_client_id, Client};
use crate::background_sync::request_background_sync;
use crate::channel::Hint;
use crate::convert;
use crate::events::{self, Origin};
use crate::locks;
use crate::sys::{is_online, now_ms};
use pwa_sync_core::config::CollectionConfig;
use pwa_sync_core::engine::{self, LocalWrites};
use pwa_sync_core::export::{self, Format};
use pwa_sync_core::model::AuditEntry;
use pwa_sync_core::mutation::{LocalOp, LocalWrite, WriteOutcome};
use pwa_sync_core::record::{self, ListQuery};
use pwa_sync_core::schedule::Trigger;
use pwa_sync_core::store::Store;
use pwa_sync_core::Error;

/// Records per JSON text when `putMany` converts its input.
const CONVERT_CHUNK: usize = 256;

impl Client {
    /// A local write with its collection's space rule and the spaces known to be read-only.
    fn local_write(&self, config: &CollectionConfig, key: String, op: LocalOp, now_ms: u64) -> LocalWrite {
        let mut write = LocalWrite::new(config.name.clone(), key, op, now_ms);
        write.space = config.space.clone();
        write.read_only = self.read_only_spaces();
        write
    }

    async fn write(
        self: &Rc<Self>,
        config: &CollectionConfig,
        key: String,
        op: LocalOp,
    ) -> Result<WriteOutcome, Error> {
        let write = self.local_write(config, key, op, now_ms());
        let outcome = self.store.write_local(&write).await.inspect_err(|e| self.report_storage_error(e))?;
        if outcome.changed {
            self.events.change(config, &write.key, outcome.value.as_ref(), Origin::Local, outcome.version);
            self.hint_change(&config.name, &write.key);
        }
        self.after_local_writes(outcome.pending_delta, outcome.mutation_id.is_some());
        Ok(outcome)
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

    pub async fn put(self: &Rc<Self>, config: &CollectionConfig, value: &JsValue) -> Result<JsValue, Error> {
        let (key, value) = record::prepare_value(config, convert::to_json(&config.name, value)?)?;
        let outcome = self.write(config, key, LocalOp::Put(value)).await?;
        outcome.value.as_ref().map_or(Ok(JsValue::UNDEFINED), convert::to_js)
    }

    /// Store many whole records in one transaction: all of them or, on any bad value or
    /// storage error, none. Resolves to how many were written.
    pub async fn put_many(
        self: &Rc<Self>,
        config: &CollectionConfig,
        values: &js_sys::Array,
    ) -> Result<JsValue, Error> {
        let now_ms = now_ms();
        // A chunk of records per JSON text when it converts; otherwise one record at a
        // time, so the error names the record that cannot be stored.
        let length = values.length() as usize;
        let mut converted: Vec<Result<Value, Error>> = Vec::with_capacity(length);
        for start in (0..length).step_by(CONVERT_CHUNK) {
            let chunk = values.slice(start as u32, (start + CONVERT_CHUNK).min(length) as u32);
            match convert::to_json(&config.name, &chunk) {
                Ok(Value::Array(items)) if items.len() == chunk.length() as usize => {
                    converted.extend(items.into_iter().map(Ok))
                }
                _ => converted.extend(chunk.iter().map(|value| convert::to_json(&config.name, &value))),
            }
        }
        let mut batch = Vec::with_capacity(length);
        for (index, value) in converted.into_iter().enumerate() {
            let prepared = value.and_then(|v| record::prepare_value(config, v));
            let (key, value) = prepared.map_err(|e| match e {
                Error::InvalidValue { collection, reason } => {
                    Error::InvalidValue { collection, reason: format!("record {index}: {reason}") }
                }
                other => other,
            })?;
            batch.push(self.local_write(config, key, LocalOp::Put(value), now_ms));
        }
        if batch.is_empty() {
            return Ok(JsValue::from(0));
        }
        let outcomes = self.store.write_local_batch(&batch).await.inspect_err(|e| self.report_storage_error(e))?;
        // The stored values cross to JS as one JSON text, one element per event.
        let values: Vec<Option<&Value>> = outcomes.iter().map(|o| o.value.as_ref()).collect();
        // (After the commit: a conversion failure must not reject a write that happened.)
        let values = convert::encode_many(&values).unwrap_or_default();
        let mut pending_delta = 0;
        for ((write, outcome), value) in batch.iter().zip(&outcomes).zip(values) {
            self.events.change_js(config, &write.key, value, Origin::Local, outcome.version);
            self.hint_change(&config.name, &write.key);
            pending_delta += outcome.pending_delta;
        }
        self.after_local_writes(pending_delta, outcomes.iter().any(|o| o.mutation_id.is_some()));
        Ok(JsValue::from(batch.len() as f64))
    }

    pub async fn patch(
        self: &Rc<Self>,
        config: &CollectionConfig,
        key: String,
        partial: &JsValue,
    ) -> Result<JsValue, Error> {
        record::check_key(config, &key)?;
        let partial = record::prepare_patch(config, &key, convert::to_json(&config.name, partial)?)?;
        let outcome = self.write(config, key, LocalOp::Patch(partial)).await?;
        outcome.value.as_ref().map_or(Ok(JsValue::UNDEFINED), convert::to_js)
    }

    pub async fn delete(self: &Rc<Self>, config: &CollectionConfig, key: String) -> Result<JsValue, Error> {
        record::check_key(config, &key)?;
        self.write(config, key, LocalOp::Delete).await?;
        Ok(JsValue::UNDEFINED)
    }

    pub async fn get(&self, config: &CollectionConfig, key: String) -> Result<JsValue, Error> {
        record::check_key(config, &key)?;
        if let Some(view) = self.store.get_view(&config.name, &key).await {
            let view = view.inspect_err(|e| self.report_storage_error(e))?;
            return Ok(view.map_or(JsValue::UNDEFINED, |v| v.value));
        }
        let record = self.store.get(&config.name, &key).await.inspect_err(|e| self.report_storage_error(e))?;
        record.and_then(|r| r.value).as_ref().map_or(Ok(JsValue::UNDEFINED), convert::to_js)
    }

    /// The stored value at once; when the record is older than the collection's `ttlMs`
    /// (the server has not confirmed it since, or local writes to it are pending), a sync
    /// runs in the background and the collection's event fires if the value changes.
    /// With `details`, `{value, fetchedAt, fresh, updatedAt, version, pending}`.
    pub async fn get_fresh(
        self: &Rc<Self>,
        config: &CollectionConfig,
        key: String,
        details: bool,
    ) -> Result<JsValue, Error> {
        record::check_key(config, &key)?;
        let record = self.store.get(&config.name, &key).await.inspect_err(|e| self.report_storage_error(e))?;
        let ttl = config.ttl_ms.unwrap_or(0);
        let freshness = record::Freshness::of(record.as_ref(), self.session.borrow().last_synced_at(), ttl, now_ms());
        if !freshness.fresh && self.transport.is_some() && !self.session.borrow().is_running() {
            let client = self.clone();
            // Reported through status and events like any background sync.
            wasm_bindgen_futures::spawn_local(async move { client.sync_in_background().await });
        }
        let value = record.and_then(|r| r.value).as_ref().map_or(Ok(JsValue::UNDEFINED), convert::to_js)?;
        if !details {
            return Ok(value);
        }
        let out = convert::to_js(&freshness)?;
        // Setting a field on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&out, &"value".into(), &value);
        Ok(out)
    }

    pub async fn list(&self, config: &CollectionConfig, query: &ListQuery) -> Result<JsValue, Error> {
        if let Some(views) = self.store.list_views(&config.name, query).await {
            let views = views?;
            self.report_skipped();
            return Ok(views.into_iter().map(|v| v.value).collect::<js_sys::Array>().into());
        }
        let records = self.store.list(&config.name, query).await?;
        self.report_skipped();
        let values: Vec<Value> = records.into_iter().filter_map(|r| r.value).collect();
        convert::to_js(&values)
    }

    pub async fn export(&self, format: Format) -> Result<JsValue, Error> {
        let mut dump = Vec::with_capacity(self.config.collections.len());
        for collection in &self.config.collections {
            let records = self.store.list(&collection.name, &ListQuery::default()).await?;
            dump.push((collection.name.clone(), records.into_iter().filter_map(|r| r.value).collect()));
        }
        self.report_skipped();
        Ok(export::render(format, &dump, now_ms()).into())
    }

    pub async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, Error> {
        let entries = self.store.audit(limit).await?;
        self.report_skipped();
        Ok(entries)
    }

    /// The outbox size, read from storage (and shown in the status).
    pub async fn pending(self: &Rc<Self>) -> Result<usize, Error> {
        let count = self.store.pending_count().await?;
        let commands = self.session.borrow_mut().set_pending(count);
        self.carry_out_now(commands);
        Ok(count)
    }

    /// One entry per queued write, oldest first: what it is, how often a push carried
    /// it, and why the last attempt failed.
    pub async fn pending_details(&self) -> Result<JsValue, Error> {
        let entries = self.store.outbox(usize::MAX).await?;
        let meta = self.store.meta().await?;
        let last_failure = meta.as_ref().and_then(|m| m.last_failure.as_ref());
        convert::to_js(&record::PendingWrite::describe(entries, last_failure))
    }

    /// Wipe everything (logout), holding the flush lock so no sync in any context writes
    /// the old session's data back; every other context's client closes.
    pub async fn clear(self: &Rc<Self>) -> Result<JsValue, Error> {
        let client = self.clone();
        let cleared =
            locks::with_lock(&self.flush_lock(), true, move || async move { client.clear_here().await }).await?;
        let result = cleared.unwrap_or_else(|| Err(Error::Storage("the flush lock was not granted".into())));
        if result.is_ok() {
            self.events.emit(events::CLEARED, &events::object(&[("origin", "local".into())]));
        }
        result
    }

    async fn clear_here(self: &Rc<Self>) -> Result<JsValue, Error> {
        self.hint(Hint::Wipe);
        self.forget_device();
        self.store.clear().await?;
        // A fresh identity: the server has seen the old client id's mutation ids, and
        // reusing them from 1 would make it drop the new writes as duplicates.
        let meta = self.store.open_meta(&new_client_id()?).await?;
        engine::ensure_checkpoint_scope(&self.store, &self.config).await?;
        *self.client_id.borrow_mut() = meta.client_id;
        let commands = self.session.borrow_mut().on_cleared();
        self.carry_out_now(commands);
        Ok(JsValue::UNDEFINED)
    }
}
