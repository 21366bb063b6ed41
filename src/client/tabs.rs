//! Other tabs and workers of the same app share the IndexedDB database. After a change the
//! client posts a hint on the database's channel (`crate::channel`); the others re-read
//! IndexedDB and fire `pwa-sync:change` with `origin: "tab"`. In a page, events relayed
//! by workers are re-dispatched too, so a UI listens in one place.

use std::rc::{Rc, Weak};

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use super::Client;
use crate::channel::{Channel, Hint, Hints, TabLinks};
use crate::events::{self, Origin};
use pwa_sync_core::store::Store;

/// Connect `client` to the other contexts of its database (in a page, also to the events
/// workers relay). `None` where BroadcastChannel does not exist: tabs then learn on their
/// next read.
pub(super) fn connect(client: &Rc<Client>) -> Option<TabLinks> {
    let weak = Rc::downgrade(client);
    let hints = Hints::open(&client.config.name, move |hint| crate::sys::spawn(receive(weak.clone(), hint)))?;
    let relayed = (!events::in_worker()).then(|| relay_listener(client)).flatten();
    Some(TabLinks::new(hints, relayed))
}

async fn receive(weak: Weak<Client>, hint: Hint) {
    let Some(client) = weak.upgrade() else { return };
    if client.closed.get() {
        return;
    }
    match hint {
        Hint::Change { worker: true, .. } | Hint::Changes { worker: true, .. } if !events::in_worker() => {}
        Hint::Change { collection, key, .. } => client.changed_in_another_tab(&collection, &[key]).await,
        Hint::Changes { collection, keys, .. } => client.changed_in_another_tab(&collection, &keys).await,
        Hint::Status => client.refresh_status().await,
        Hint::Wipe => client.wiped_elsewhere(),
    }
}

/// Listen to the events a worker of this database relays, and dispatch them here.
fn relay_listener(client: &Rc<Client>) -> Option<Channel> {
    let weak = Rc::downgrade(client);
    Channel::open(&events::relay_channel(&client.config.name), move |data| {
        let Some(client) = weak.upgrade() else { return };
        let name = Reflect::get(&data, &"name".into()).ok().and_then(|n| n.as_string());
        let detail = Reflect::get(&data, &"detail".into()).unwrap_or(JsValue::NULL);
        if let Some(name) = name.filter(|n| n.starts_with("pwa-sync:") || client.is_collection_event(n)) {
            // A worker's status describes the worker; this page's status is re-read
            // from the shared database instead.
            if name != events::STATUS {
                client.relaying.set(true);
                client.events.dispatch(&name, &detail);
                client.relaying.set(false);
            }
            // A worker's sync moved the shared outbox and checkpoint.
            if name == events::CHANGE || name == events::STATUS {
                let weak = Rc::downgrade(&client);
                crate::sys::spawn(async move {
                    if let Some(client) = weak.upgrade() {
                        client.refresh_status().await;
                    }
                });
            }
        }
    })
}

impl Client {
    pub(super) fn hint(&self, hint: Hint) {
        if let Some(tabs) = self.tabs.borrow().as_ref() {
            tabs.post(&hint);
        }
    }

    pub(super) fn hint_change(&self, collection: &str, key: &str) {
        if let Some(tabs) = self.tabs.borrow().as_ref() {
            tabs.post_change(collection, key);
        }
    }

    fn is_collection_event(&self, name: &str) -> bool {
        self.config.collections.iter().any(|c| c.event.as_ref().is_some_and(|e| e.name == name))
    }

    /// Another tab changed `keys`: read them back and tell this tab's UI.
    async fn changed_in_another_tab(self: &Rc<Self>, collection: &str, keys: &[String]) {
        let Ok(config) = self.config.collection(collection) else { return };
        for key in keys {
            match self.store.get(collection, key).await {
                Ok(record) => {
                    let version = record.as_ref().and_then(|r| r.version);
                    let value = record.and_then(|r| r.value).map_or(wasm_bindgen::JsValue::NULL, |v| v.0);
                    self.events.change_js(config, key, value, Origin::Tab, version);
                }
                Err(e) => self.report_storage_error(&e),
            }
        }
        self.refresh_status().await;
    }
}
