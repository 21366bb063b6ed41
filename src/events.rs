//! DOM `CustomEvent`s to the UI. The target defaults to the global scope, so the same
//! code dispatches on `window` in a page and on `self` in a worker. A worker or service
//! worker has no UI: it also relays each event over a `BroadcastChannel`, and every page's
//! client re-dispatches it, so a UI listens in one place whatever context did the work.

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, CustomEventInit, EventTarget};

use crate::sys;

use pwa_sync_core::config::CollectionConfig;

// Defined once in the core, which also exports them to the package's JS and types.
pub use pwa_sync_core::names::event::{
    AUTH_REQUIRED, CHANGE, CLEARED, CONFLICT, EVICTED, NEWER_SCHEMA, PROGRESS, REJECTED, SPACES, STATUS, STORAGE_ERROR,
};

/// The channel a database's workers relay their events on.
pub fn relay_channel(name: &str) -> String {
    format!("pwa-sync:{name}:events")
}

/// Whether this code runs in a worker (dedicated, shared or service worker). Asked once:
/// in a window the check throws inside the glue (no `WorkerGlobalScope` there), which
/// costs more than a whole write when done per call.
pub fn in_worker() -> bool {
    thread_local! {
        static IN_WORKER: bool = js_sys::global().is_instance_of::<web_sys::WorkerGlobalScope>();
    }
    IN_WORKER.with(|w| *w)
}

/// Where a change came from, as `detail.origin` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Local,
    Remote,
    Tab,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Local => "local",
            Origin::Remote => "remote",
            Origin::Tab => "tab",
        }
    }
}

pub struct Events {
    target: EventTarget,
    /// In a worker: where events are relayed to pages.
    relay: Option<BroadcastChannel>,
}

impl Drop for Events {
    fn drop(&mut self) {
        if let Some(relay) = &self.relay {
            relay.close();
        }
    }
}

impl Events {
    pub fn new(target: Option<EventTarget>, database: &str) -> Events {
        let relay = in_worker().then(|| BroadcastChannel::new(&relay_channel(database)).ok()).flatten();
        Events { target: target.unwrap_or_else(|| js_sys::global().unchecked_into()), relay }
    }

    pub fn emit(&self, name: &str, detail: &JsValue) {
        self.dispatch(name, detail);
        if let Some(relay) = &self.relay {
            // Each context learns of a wipe by itself; relaying it would say it twice.
            if name != CLEARED {
                let message = object(&[("name", sys::name(name)), ("detail", detail.clone())]);
                // Fails only for a closed channel or an uncloneable detail (ours are plain).
                let _ = relay.post_message(&message);
            }
        }
    }

    pub fn target(&self) -> &EventTarget {
        &self.target
    }

    /// Dispatch here only (a relayed event from a worker).
    pub fn dispatch(&self, name: &str, detail: &JsValue) {
        let init = CustomEventInit::new();
        init.set_detail(detail);
        // Both calls fail only for a malformed event type or an event already being
        // dispatched; neither can happen for a fresh event with our constant names.
        if let Ok(event) = sys::NamedEvent::new(&sys::name(name), &init) {
            let _ = self.target.dispatch_event(&event);
        }
    }

    /// `pwa-sync:change`, then the collection's own event when it has one; `js_value` is
    /// the record's value (`null` for a deletion).
    pub fn change_js(
        &self,
        config: &CollectionConfig,
        key: &str,
        js_value: JsValue,
        origin: Origin,
        version: Option<u64>,
    ) {
        let version_js = version.map(|v| JsValue::from(v as f64)).unwrap_or(JsValue::NULL);
        let detail = object(&[
            ("collection", sys::name(&config.name)),
            ("key", key.into()),
            ("value", js_value.clone()),
            ("origin", sys::name(origin.as_str())),
            ("version", version_js.clone()),
        ]);
        self.emit(CHANGE, &detail);
        if let Some(event) = &config.event {
            // A copy: a listener may keep the first detail, which must not change under it.
            let own: JsValue = Object::assign(&Object::new(), detail.unchecked_ref()).into();
            set(&own, "timestamp", &js_sys::Date::now().into());
            set(&own, "syncVersion", &version_js);
            if let Some(field) = &event.value_field {
                set(&own, field, &js_value);
            }
            self.emit(&event.name, &own);
        }
    }
}

/// A plain object from fields.
pub fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object: JsValue = Object::new().into();
    for (name, value) in fields {
        set(&object, name, value);
    }
    object
}

fn set(object: &JsValue, name: &str, value: &JsValue) {
    // Defining a data property on a plain, extensible object cannot fail.
    let _ = Reflect::set(object, &sys::name(name), value);
}
