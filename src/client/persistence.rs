//! Storage that stays: asking for persistent storage, reporting usage and quota, and
//! noticing a database the browser evicted (the core's `eviction` decides; the marker
//! it reads lives in `localStorage`, where the context has one).

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::Client;
use crate::error::describe;
use crate::events;
use crate::sys::{self, StorageEstimate};
use pwa_sync_core::eviction::{self, Evicted};
use pwa_sync_core::metrics::StorageReport;
use pwa_sync_core::Error;

impl Client {
    /// `navigator.storage.persist()`: whether the origin's storage is now exempt from
    /// eviction. False where the context cannot ask (workers, browsers without it).
    pub async fn persist(&self) -> Result<bool, Error> {
        let Some(manager) = sys::storage_manager() else { return Ok(false) };
        let Some(persist) = manager.persist_function() else { return Ok(false) };
        let failed =
            |e: wasm_bindgen::JsValue| Error::Storage(format!("navigator.storage.persist() failed: {}", describe(&e)));
        let answer = persist.call0(&manager).map_err(failed)?;
        let granted = JsFuture::from(Promise::resolve(&answer)).await.map_err(failed)?;
        Ok(granted.as_bool() == Some(true))
    }

    /// Where the data lives, and the origin's usage, quota and persistence as the browser
    /// tells them (`None` where it does not: no `navigator.storage`, or it refused).
    pub(super) async fn storage_report(&self) -> StorageReport {
        let durable = self.store.is_durable();
        let mut report = StorageReport {
            kind: if durable { "indexeddb" } else { "memory" },
            durable,
            usage: None,
            quota: None,
            persisted: None,
        };
        let Some(manager) = sys::storage_manager() else { return report };
        if let Ok(promise) = manager.estimate() {
            if let Ok(estimate) = JsFuture::from(promise).await {
                let estimate: StorageEstimate = estimate.unchecked_into();
                report.usage = estimate.usage().filter(|n| n.is_finite() && *n >= 0.0).map(|n| n as u64);
                report.quota = estimate.quota().filter(|n| n.is_finite() && *n >= 0.0).map(|n| n as u64);
            }
        }
        if let Ok(promise) = manager.persisted() {
            if let Ok(persisted) = JsFuture::from(promise).await {
                report.persisted = persisted.as_bool();
            }
        }
        report
    }

    /// The marker of this device's database, if a previous session left one.
    pub(super) fn device_marker(&self) -> Option<String> {
        let storage = sys::local_storage()?;
        storage.get_item(&eviction::marker_key(&self.config.name)).ok().flatten()
    }

    /// Leave the marker that says this device's database holds something (queued writes
    /// or a checkpoint), once per client; nothing for memory storage.
    pub(super) fn remember_device(&self) {
        if self.marked.get() || !self.store.is_durable() {
            return;
        }
        let Some(storage) = sys::local_storage() else { return };
        // A refusal (quota, disabled storage) leaves no marker: eviction is then noticed
        // only with the app's `expectStoredData`.
        if storage.set_item(&eviction::marker_key(&self.config.name), &self.client_id()).is_ok() {
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
        if let Some(storage) = sys::local_storage() {
            // A refusal leaves the old marker: harmless, as the database keeps its (new)
            // client metadata, so opening it never looks like an eviction.
            let _ = storage.remove_item(&eviction::marker_key(&self.config.name));
        }
    }

    /// The database was evicted: say so, and refill it with a full pull (it starts at
    /// checkpoint 0), also when the app syncs only by hand.
    pub(super) fn recover_from_eviction(self: &Rc<Self>, evicted: &Evicted) {
        self.announce_eviction(evicted);
        if self.transport.is_some() {
            let client = self.clone();
            crate::sys::spawn(async move { client.sync_in_background().await });
        }
    }
}
