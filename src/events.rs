//! DOM `CustomEvent`s to the UI. The target defaults to the global scope, so the same
//! code dispatches on `window` in a page and on `self` in a worker. A worker or service
//! worker has no UI: it also relays each event over a `BroadcastChannel`, and every page's
//! client re-dispatches it, so a UI listens in one place whatever context did the work.
//! The events are made, dispatched and relayed by the events' script (`js/events.js`,
//! reached as `pwaSyncEvents`); which fire, and their details, are decided here.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::EventTarget;

use crate::sys;

use pwa_sync_core::config::CollectionConfig;

// Defined once in the core, which also exports them to the package's JS and types.
pub use pwa_sync_core::names::event::{
    AUTH_REQUIRED, CHANGE, CLEARED, CONFLICT, EVICTED, NEWER_SCHEMA, PROGRESS, REJECTED, SPACES, STATUS, STORAGE_ERROR,
};

#[wasm_bindgen(js_namespace = pwaSyncEvents)]
extern "C" {
    /// A client's events (`pwaSyncEvents.open`).
    type Emitter;

    /// Events dispatched on `target`; in a worker also relayed to pages.
    #[wasm_bindgen(js_name = open)]
    fn open_emitter(target: &EventTarget, database: &str, in_worker: bool) -> Emitter;

    /// Dispatch here only.
    #[wasm_bindgen(method)]
    fn dispatch(this: &Emitter, name: &JsValue, detail: &JsValue);

    /// Whether an event's `detail` was dispatched by the client of `database`.
    #[wasm_bindgen(js_name = isFrom)]
    pub(crate) fn is_from(detail: &JsValue, database: &str) -> bool;

    /// Dispatch, and relay from a worker when `relayed`.
    #[wasm_bindgen(method)]
    fn emit(this: &Emitter, name: &JsValue, detail: &JsValue, relayed: bool);

    /// `changed` with `{collection, key, value, origin, version}`, then `own` (unless
    /// `undefined`) with a copy plus `timestamp`, `syncVersion` and `value_field`.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(method)]
    fn change(
        this: &Emitter,
        changed: &JsValue,
        collection: &JsValue,
        key: &JsValue,
        value: &JsValue,
        origin: &JsValue,
        version: &JsValue,
        own: &JsValue,
        value_field: &JsValue,
    );

    #[wasm_bindgen(method)]
    fn close(this: &Emitter);

    /// `{state, pending, lastSyncedAt, lastError}`; `lastError` is `null` when `code` is
    /// `undefined`, else `{code, message}`.
    #[wasm_bindgen(js_name = status)]
    pub fn status_object(
        state: &JsValue,
        pending: f64,
        last_synced_at: &JsValue,
        code: &JsValue,
        message: &JsValue,
    ) -> JsValue;
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
    emitter: Emitter,
}

impl Drop for Events {
    fn drop(&mut self) {
        self.emitter.close();
    }
}

impl Events {
    pub fn new(target: Option<EventTarget>, database: &str) -> Events {
        let target = target.unwrap_or_else(|| js_sys::global().unchecked_into());
        let emitter = open_emitter(&target, database, in_worker());
        Events { target, emitter }
    }

    pub fn emit(&self, name: &str, detail: &JsValue) {
        // Each context learns of a wipe by itself; relaying it would say it twice.
        self.emitter.emit(&sys::name(name), detail, name != CLEARED);
    }

    pub fn target(&self) -> &EventTarget {
        &self.target
    }

    /// Dispatch here only (a relayed event from a worker).
    pub fn dispatch(&self, name: &str, detail: &JsValue) {
        self.emitter.dispatch(&sys::name(name), detail);
    }

    /// `pwa-sync:change`, then the collection's own event when it has one; `js_value` is
    /// the record's value (`null` for a deletion). One call into the script per change:
    /// a pulled page fires one per record.
    pub fn change_js(
        &self,
        config: &CollectionConfig,
        key: &JsValue,
        js_value: JsValue,
        origin: Origin,
        version: Option<u64>,
    ) {
        let version = version.map_or(JsValue::NULL, |v| JsValue::from(v as f64));
        let (own, value_field) = match &config.event {
            Some(event) => (sys::name(&event.name), event.value_field.as_deref().map_or(JsValue::UNDEFINED, sys::name)),
            None => (JsValue::UNDEFINED, JsValue::UNDEFINED),
        };
        self.emitter.change(
            &sys::name(CHANGE),
            &sys::name(&config.name),
            key,
            &js_value,
            &sys::name(origin.as_str()),
            &version,
            &own,
            &value_field,
        );
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
