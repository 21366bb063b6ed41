//! Other tabs and workers of the same app share the IndexedDB database. After a change we
//! post a hint on a `BroadcastChannel` named after the database; the others re-read
//! IndexedDB (the hint carries no data, so a lost or stale hint costs nothing) and fire
//! `pwa-sync:change` with `origin: "tab"`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{BroadcastChannel, MessageEvent};

use crate::client::Client;
use crate::events;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Hint {
    /// A key changed (a local write, or a sync result). `worker`: said by a worker, whose
    /// events pages also get relayed (so pages skip these hints). Read for tabs of
    /// earlier versions; this version sends `Changes`.
    Change { collection: String, key: String, worker: bool },
    /// Keys of one collection changed: every change within `HINT_DELAY_MS` (a `putMany`,
    /// a pulled page, a run of `put`s) in one message instead of one per key.
    Changes { collection: String, keys: Vec<String>, worker: bool },
    /// Pending count or last sync time changed.
    Status,
    /// `clear()` (logout) ran in another context: close, the data is gone.
    Wipe,
}

pub(crate) struct Tabs {
    outgoing: Rc<Outgoing>,
    _listener: EventListener,
    /// In a page: events relayed by workers, re-dispatched here.
    relayed: Option<(BroadcastChannel, EventListener)>,
}

impl Drop for Tabs {
    fn drop(&mut self) {
        self.outgoing.channel.close();
        if let Some((relayed, _)) = &self.relayed {
            relayed.close();
        }
    }
}

impl Tabs {
    /// `None` where BroadcastChannel does not exist: tabs then learn on their next read.
    pub fn start(client: &Rc<Client>) -> Option<Tabs> {
        let channel = BroadcastChannel::new(&format!("pwa-sync:{}", client.config.name)).ok()?;
        let weak = Rc::downgrade(client);
        let listener = EventListener::new(&channel, "message", move |event| {
            let Some(event) = event.dyn_ref::<MessageEvent>() else { return };
            let Ok(hint) = crate::convert::decode_json::<Hint>(&event.data()) else { return };
            spawn_local(receive(weak.clone(), hint));
        });
        let relayed = (!events::in_worker()).then(|| relay_listener(client)).flatten();
        let outgoing =
            Rc::new(Outgoing { channel, changed: RefCell::new(BTreeMap::new()), flush_queued: Cell::new(false) });
        Some(Tabs { outgoing, _listener: listener, relayed })
    }

    pub fn post(&self, hint: &Hint) {
        self.outgoing.flush();
        self.outgoing.send(hint);
    }

    /// Say that `key` changed, together with every other key changed within the next
    /// frame (16 ms): a `putMany`, a pulled page or a run of awaited `put`s posts once per
    /// collection instead of once per key (a post costs ~0.1 ms of the writer's thread).
    pub fn post_change(&self, collection: &str, key: &str) {
        let outgoing = &self.outgoing;
        outgoing.changed.borrow_mut().entry(collection.to_owned()).or_default().push(key.to_owned());
        if !outgoing.flush_queued.replace(true) {
            let outgoing = Rc::clone(outgoing);
            spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(HINT_DELAY_MS).await;
                outgoing.flush();
            });
        }
    }
}

/// How long changed keys wait to be posted together.
const HINT_DELAY_MS: u32 = 16;

/// The sending side, shared with the queued flush.
struct Outgoing {
    channel: BroadcastChannel,
    /// Changed keys by collection, not yet posted.
    changed: RefCell<BTreeMap<String, Vec<String>>>,
    flush_queued: Cell<bool>,
}

impl Outgoing {
    fn send(&self, hint: &Hint) {
        if let Ok(message) = crate::convert::to_js(hint) {
            // Fails only after close(), when nobody is listening anyway.
            let _ = self.channel.post_message(&message);
        }
    }

    /// Post the buffered changes (before any other hint, to keep their order).
    fn flush(&self) {
        self.flush_queued.set(false);
        let changed = std::mem::take(&mut *self.changed.borrow_mut());
        let worker = events::in_worker();
        for (collection, keys) in changed {
            self.send(&Hint::Changes { collection, keys, worker });
        }
    }
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
fn relay_listener(client: &Rc<Client>) -> Option<(BroadcastChannel, EventListener)> {
    let channel = BroadcastChannel::new(&events::relay_channel(&client.config.name)).ok()?;
    let weak = Rc::downgrade(client);
    let listener = EventListener::new(&channel, "message", move |event| {
        let Some(event) = event.dyn_ref::<MessageEvent>() else { return };
        let Some(client) = weak.upgrade() else { return };
        let data = event.data();
        let name = js_sys::Reflect::get(&data, &"name".into()).ok().and_then(|n| n.as_string());
        let detail = js_sys::Reflect::get(&data, &"detail".into()).unwrap_or(wasm_bindgen::JsValue::NULL);
        if let Some(name) = name.filter(|n| n.starts_with("pwa-sync:") || client.is_collection_event(n)) {
            // A worker's status describes the worker; this page's status is re-read
            // from the shared database instead.
            if name != events::STATUS {
                client.events.dispatch(&name, &detail);
            }
            // A worker's sync moved the shared outbox and checkpoint.
            if name == events::CHANGE || name == events::STATUS {
                let weak = Rc::downgrade(&client);
                spawn_local(async move {
                    if let Some(client) = weak.upgrade() {
                        client.refresh_status().await;
                    }
                });
            }
        }
    });
    Some((channel, listener))
}
