//! Live results (issue 17): `watch(collection, query | key, callback)`. A watch re-reads
//! its query when a `pwa-sync:change` of its collection is dispatched on the client's
//! event target (local writes, pulled changes, other tabs' writes: every path announces
//! itself there) or the client was cleared, and calls back only when the answer differs
//! (keys, versions, HLC stamps, update times), so an unchanged answer keeps its array.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Event, EventTarget};

use pwa_sync_core::config::CollectionConfig;
use pwa_sync_core::query::Query;
use pwa_sync_core::Error;

use super::query::Row;
use super::Client;
use crate::events::{CHANGE, CLEARED};

/// What a watch follows.
pub(crate) enum Target {
    Query(Query),
    Key(String),
}

/// What makes two answers the same: each record's key, version, HLC stamp, update time.
type Signature = Vec<(String, Option<u64>, String, u64)>;

fn signature(rows: &[Row]) -> Signature {
    rows.iter().map(|r| (r.key.clone(), r.version, r.hlc.clone(), r.updated_at.to_bits())).collect()
}

type Listener = Closure<dyn FnMut(Event)>;

struct Watch {
    client: Rc<Client>,
    collection: CollectionConfig,
    target: Target,
    callback: Function,
    active: Cell<bool>,
    running: Cell<bool>,
    /// A change arrived while a read ran: read again after it.
    dirty: Cell<bool>,
    last: RefCell<Option<Signature>>,
    listener: RefCell<Option<Listener>>,
}

impl Client {
    /// Start watching; returns the function that stops it (safe to call twice).
    pub fn watch(
        self: &Rc<Self>,
        config: &CollectionConfig,
        target: Target,
        callback: Function,
    ) -> Result<Function, Error> {
        let watch = Rc::new(Watch {
            client: self.clone(),
            collection: config.clone(),
            target,
            callback,
            active: Cell::new(true),
            running: Cell::new(false),
            dirty: Cell::new(false),
            last: RefCell::new(None),
            listener: RefCell::new(None),
        });
        let events = self.event_target();
        let listener = {
            let watch = watch.clone();
            Listener::new(move |event: Event| {
                if watch.concerns(&event) {
                    Watch::trigger(&watch);
                }
            })
        };
        for name in [CHANGE, CLEARED] {
            events
                .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())
                .map_err(|e| Error::Storage(format!("cannot listen to {name}: {}", crate::error::describe(&e))))?;
        }
        *watch.listener.borrow_mut() = Some(listener);
        Watch::trigger(&watch);
        let stop = Closure::<dyn Fn()>::new(move || watch.stop(&events));
        Ok(stop.into_js_value().unchecked_into())
    }
}

impl Watch {
    /// A change of this watch's collection (and key), or a wipe.
    fn concerns(&self, event: &Event) -> bool {
        if event.type_() == CLEARED {
            return true;
        }
        let detail = Reflect::get(event, &"detail".into()).unwrap_or(JsValue::UNDEFINED);
        let field = |name: &str| Reflect::get(&detail, &name.into()).ok().and_then(|v| v.as_string());
        field("collection").as_deref() == Some(self.collection.name.as_str())
            && match &self.target {
                Target::Query(_) => true,
                Target::Key(key) => field("key").as_deref() == Some(key.as_str()),
            }
    }

    /// Read again now, or after the read under way (many changes: one read after them).
    fn trigger(watch: &Rc<Watch>) {
        if !watch.active.get() {
            return;
        }
        if watch.running.replace(true) {
            watch.dirty.set(true);
            return;
        }
        let watch = watch.clone();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                watch.dirty.set(false);
                watch.read().await;
                if !watch.dirty.get() || !watch.active.get() {
                    break;
                }
            }
            watch.running.set(false);
        });
    }

    async fn read(&self) {
        let rows = match &self.target {
            Target::Query(query) => self.client.query_rows(&self.collection, query).await.map(|(rows, _)| rows),
            Target::Key(key) => self.client.get_row(&self.collection, key).await.map(|row| row.into_iter().collect()),
        };
        let rows = match rows {
            Ok(rows) => rows,
            // Closed (a logout in another tab closes this client): nothing to show any more.
            Err(Error::Closed) => Vec::new(),
            // Other failures leave the last answer standing; the read reported them as
            // `pwa-sync:storage-error`.
            Err(_) => return,
        };
        let new = signature(&rows);
        if !self.active.get() || self.last.borrow().as_ref() == Some(&new) {
            return;
        }
        *self.last.borrow_mut() = Some(new);
        let answer: JsValue = match &self.target {
            Target::Query(_) => rows.into_iter().map(|r| r.value).collect::<Array>().into(),
            Target::Key(_) => rows.into_iter().next().map_or(JsValue::NULL, |r| r.value),
        };
        // An exception in the app's callback is the app's: it must not stop the watch.
        let _ = self.callback.call1(&JsValue::UNDEFINED, &answer);
    }

    fn stop(&self, events: &EventTarget) {
        self.active.set(false);
        if let Some(listener) = self.listener.borrow_mut().take() {
            for name in [CHANGE, CLEARED] {
                // Removing a listener cannot fail for a function we added.
                let _ = events.remove_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            }
        }
    }
}
