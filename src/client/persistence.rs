//! Storage that stays: asking for persistent storage, reporting usage and quota, and
//! noticing a database the browser evicted (the core's `eviction` decides; the marker
//! it reads lives in `localStorage`, where the context has one).

use std::rc::Rc;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::Client;
use crate::events;
use pwa_sync_core::eviction::{self, Evicted};
use pwa_sync_core::metrics::StorageReport;

#[wasm_bindgen(js_namespace = pwaSyncStore)]
extern "C" {
    /// `js/store.js`'s `persist`: whether the storage is now persistent; rejects with a
    /// `storage` error that says why not.
    pub fn persist() -> Promise;

    /// `js/store.js`'s `estimate`: `[usage, quota, persisted]`, `undefined` where unknown.
    fn estimate() -> Promise;

    /// `js/store.js`'s `marker`: `localStorage`'s item `key` read (`value` undefined: a
    /// string or undefined), set (a string: whether it was stored) or removed (`null`).
    fn marker(key: &str, value: &JsValue) -> JsValue;
}

impl Client {
    /// Where the data lives, and the origin's usage, quota and persistence as the browser
    /// tells them (`None` where it does not: no `navigator.storage`, or it refused).
    pub(super) async fn storage_report(&self) -> StorageReport {
        let durable = self.store.is_durable();
        let told = match JsFuture::from(estimate()).await {
            Ok(told) => Array::from(&told),
            Err(_) => Array::new(),
        };
        StorageReport {
            kind: if durable { "indexeddb" } else { "memory" },
            durable,
            usage: told.get(0).as_f64().map(|n| n as u64),
            quota: told.get(1).as_f64().map(|n| n as u64),
            persisted: told.get(2).as_bool(),
        }
    }

    /// The marker of this device's database, if a previous session left one.
    pub(super) fn device_marker(&self) -> Option<String> {
        self.marker(&JsValue::UNDEFINED).as_string()
    }

    /// This database's eviction marker read, set or removed (`marker`'s `value`).
    fn marker(&self, value: &JsValue) -> JsValue {
        marker(&eviction::marker_key(&self.config.name), value)
    }

    /// Leave the marker that says this device's database holds something (queued writes
    /// or a checkpoint), once per client; nothing for memory storage.
    pub(super) fn remember_device(&self) {
        if self.marked.get() || !self.store.is_durable() {
            return;
        }
        // A refusal (quota, disabled storage, no `localStorage` in workers) leaves no
        // marker: eviction is then noticed only with the app's `expectStoredData`.
        let id = JsValue::from_str(&self.client_id());
        if self.marker(&id).is_truthy() {
            self.marked.set(true);
        }
    }

    /// The database was deleted while this client had it open, and its store made a new
    /// one under `client_id` (`IdbStore::take_recreated`): the client goes on under that
    /// identity, says so as an eviction, and the sync under way pulls from the start.
    pub(super) fn adopt_recreated(&self, client_id: String) {
        let previous = self.client_id.replace(client_id);
        self.marked.set(false);
        self.announce_eviction(&Evicted { previous_client_id: Some(previous), evidence: "reopened" });
    }

    fn announce_eviction(&self, evicted: &Evicted) {
        match crate::convert::to_js(evicted) {
            Ok(detail) => self.events.emit(events::EVICTED, &detail),
            Err(e) => self.report_storage_error(&e),
        }
    }

    /// `clear()` empties the database on purpose: no marker until it holds something again.
    pub(super) fn forget_device(&self) {
        self.marked.set(false);
        // A refusal leaves the old marker: harmless, as the database keeps its (new)
        // client metadata, so opening it never looks like an eviction.
        self.marker(&JsValue::NULL);
    }

    /// The database was evicted: say so, and refill it with a full pull (it starts at
    /// checkpoint 0), also when the app syncs only by hand.
    pub(super) fn recover_from_eviction(self: &Rc<Self>, evicted: &Evicted) {
        self.announce_eviction(evicted);
        if self.transport.is_some() {
            self.sync_soon();
        }
    }
}
