//! Other tabs and workers of the same app share the IndexedDB database. After a change the
//! client posts a hint on the database's channel; the others re-read IndexedDB and fire
//! `pwa-sync:change` with `origin: "tab"`. In a page, events relayed by workers are
//! re-dispatched too, so a UI listens in one place. The channels, the hints' encoding and
//! the batching of changed keys are the tabs' script's (`js/tabs.js`, through
//! `crate::channel`); what a hint means for this client is decided here.

use std::rc::{Rc, Weak};

use js_sys::Array;
use wasm_bindgen::JsValue;

use super::Client;
use crate::channel::{Heard, Hint, TabLinks};
use crate::events::{self, Origin};
use pwa_sync_core::config::CollectionConfig;
use pwa_sync_core::store::Store;

/// Connect `client` to the other contexts of its database (in a page, also to the events
/// workers relay). `None` where BroadcastChannel does not exist: tabs then learn on their
/// next read.
pub(super) fn connect(client: &Rc<Client>) -> Option<TabLinks> {
    let weak = Rc::downgrade(client);
    let heard = Heard::new(move |kind: JsValue, collection: JsValue, keys: JsValue| {
        crate::sys::spawn(receive(weak.clone(), kind.as_string(), collection.as_string(), keys));
    });
    let weak = Rc::downgrade(client);
    let relayed = Heard::new(move |name: JsValue, detail: JsValue, _: JsValue| {
        if let (Some(client), Some(name)) = (weak.upgrade(), name.as_string()) {
            client.relayed(&name, &detail);
        }
    });
    TabLinks::open(&client.config.name, events::in_worker(), heard, relayed)
}

async fn receive(weak: Weak<Client>, kind: Option<String>, collection: Option<String>, keys: JsValue) {
    let Some(client) = weak.upgrade() else { return };
    if client.closed.get() {
        return;
    }
    match (kind.as_deref(), collection) {
        (Some("change"), Some(collection)) => client.changed_in_another_tab(&collection, &Array::from(&keys)).await,
        (Some("status"), _) => client.refresh_status().await,
        (Some("wipe"), _) => client.wiped_elsewhere(),
        _ => {}
    }
}

impl Client {
    pub(super) fn hint(&self, hint: Hint) {
        if let Some(tabs) = self.tabs.borrow().as_ref() {
            tabs.post(hint);
        }
    }

    /// A record changed here (a local write, a pulled or pushed change): the change
    /// events, and a hint to the other contexts. The key is made a JS string once for
    /// both.
    pub(super) fn announce_change(
        &self,
        config: &CollectionConfig,
        key: &str,
        value: JsValue,
        origin: Origin,
        version: Option<u64>,
    ) {
        let key = JsValue::from_str(key);
        self.events.change_js(config, &key, value, origin, version);
        if let Some(tabs) = self.tabs.borrow().as_ref() {
            tabs.post_change(&crate::sys::name(&config.name), &key);
        }
    }

    /// An event a worker of this database relayed: dispatched here too.
    fn relayed(self: &Rc<Self>, name: &str, detail: &JsValue) {
        if !name.starts_with("pwa-sync:") && !self.is_collection_event(name) {
            return;
        }
        // A worker's status describes the worker; this page's status is re-read from the
        // shared database instead.
        if name != events::STATUS {
            self.relaying.set(true);
            self.events.dispatch(name, detail);
            self.relaying.set(false);
        }
        // A worker's sync moved the shared outbox and checkpoint.
        if name == events::CHANGE || name == events::STATUS {
            // As a status hint from another tab is taken: one spawned future type for both.
            let status = Some("status".to_owned());
            crate::sys::spawn(receive(Rc::downgrade(self), status, None, JsValue::UNDEFINED));
        }
    }

    fn is_collection_event(&self, name: &str) -> bool {
        self.config.collections.iter().any(|c| c.event.as_ref().is_some_and(|e| e.name == name))
    }

    /// Another tab changed `keys`: read them back and tell this tab's UI.
    async fn changed_in_another_tab(self: &Rc<Self>, collection: &str, keys: &Array) {
        let Ok(config) = self.config.collection(collection) else { return };
        for key_js in keys.iter() {
            // The script passes strings only.
            let Some(key) = key_js.as_string() else { continue };
            let read = self.store.get(collection, &key).await;
            // Closed meanwhile (another tab's wipe comes right after its last changes):
            // nothing more is announced, neither the old records nor the failed reads.
            if self.is_closed() {
                return;
            }
            match read {
                Ok(record) => {
                    let version = record.as_ref().and_then(|r| r.version);
                    let value = record.and_then(|r| r.value).map_or(wasm_bindgen::JsValue::NULL, |v| v.0);
                    self.events.change_js(config, &key_js, value, Origin::Tab, version);
                }
                Err(e) => self.report_storage_error(&e),
            }
        }
        self.refresh_status().await;
    }
}
