//! Typed bindings for the browser APIs web-sys lacks, or has only on `Window` and
//! `WorkerGlobalScope` separately: the global scope as one type (pages and workers alike)
//! and its navigator's `onLine`, and `JSON.parse` of a JS string. What else the module
//! asks of the browser is the scripts' (`js/*.js`, installed here for the browser suites).
//! Getters that a context may lack return `Option`; calls that may throw return `Result`.

use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// The global scope: `window` in a page, `self` in a worker.
    #[wasm_bindgen(extends = Object)]
    pub type Global;

    #[wasm_bindgen(method, getter)]
    pub fn navigator(this: &Global) -> Option<Navigator>;

    /// `Navigator` in a page, `WorkerNavigator` in a worker: the members both have.
    pub type Navigator;

    /// Absent where the browser cannot tell.
    #[wasm_bindgen(method, getter, js_name = onLine)]
    pub fn on_line(this: &Navigator) -> Option<bool>;

    /// `JSON.parse` of a JS string (js-sys's takes a Rust `&str`).
    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    pub fn json_parse(text: &js_sys::JsString) -> Result<JsValue, JsValue>;
}

/// The JS string of a name: a field, event or collection name, an origin. Made once per
/// name (each `JsValue::from(&str)` is another `TextDecoder` run, and a pulled page paid
/// a dozen of those per record for the same few names); at most `NAMES` kept, so text
/// that is not a name (a key, a value) only costs the decoding it always did.
pub fn name(text: &str) -> JsValue {
    const NAMES: usize = 96;
    thread_local! {
        static MADE: std::cell::RefCell<Vec<(Box<str>, JsValue)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    MADE.with(|made| {
        let mut made = made.borrow_mut();
        if let Some((_, js)) = made.iter().find(|(t, _)| **t == *text) {
            return js.clone();
        }
        let js = JsValue::from_str(text);
        if made.len() < NAMES {
            made.push((text.into(), js.clone()));
        }
        js
    })
}

/// Field names read off every stored record, queued entry, pulled change and finished
/// request, as JS strings made once. One lazily made set, not a `thread_local!` per
/// list: each of those compiled a lazy initialiser of its own (nine of them, 1,656 raw
/// bytes in the names map).
pub struct FieldNames {
    /// A stored record's metadata (`RECORD_METADATA_FIELDS`).
    pub record: [JsValue; 7],
    /// A queued entry's metadata (`ENTRY_METADATA_FIELDS`).
    pub entry: [JsValue; 10],
    /// A pulled change: collection, key, version, value, hlc, space, schemaVersion.
    pub change: [JsValue; 7],
    pub value: JsValue,
    pub base: JsValue,
    /// A finished request's event: target, error, result.
    pub target: JsValue,
    pub error: JsValue,
    pub result: JsValue,
}

thread_local! {
    // Leaked once: the names live as long as the module, and a `'static` reference lets
    // every reader take them through one accessor (`with` compiled once per closure).
    static FIELD_NAMES: &'static FieldNames = Box::leak(Box::new(FieldNames {
        record: pwa_sync_core::record::RECORD_METADATA_FIELDS.map(JsValue::from_str),
        entry: pwa_sync_core::record::ENTRY_METADATA_FIELDS.map(JsValue::from_str),
        change: ["collection", "key", "version", "value", "hlc", "space", "schemaVersion"].map(JsValue::from_str),
        value: JsValue::from_str("value"),
        base: JsValue::from_str("base"),
        target: JsValue::from_str("target"),
        error: JsValue::from_str("error"),
        result: JsValue::from_str("result"),
    }));
}

/// The field names, made on the first call.
pub fn field_names() -> &'static FieldNames {
    FIELD_NAMES.with(|names| *names)
}

/// A JS array of `items`. Not `collect::<Array>()`, which compiles `Array`'s
/// `FromIterator` and `Extend` again for every iterator type (22 of them, ~3 KB).
pub fn array(items: &[JsValue]) -> Array {
    let array = Array::new();
    for item in items {
        array.push(item);
    }
    array
}

/// Each pair of `[key, function, key, function, …]`, as js/config.js answers a config's
/// resolvers and migrations; none for what is not an array.
pub fn each_function_pair(js: &JsValue, each: &mut dyn FnMut(JsValue, Function)) {
    if let Some(items) = js.dyn_ref::<Array>() {
        let mut i = 0;
        while i + 1 < items.length() {
            each(items.get(i), items.get(i + 1).unchecked_into::<Function>());
            i += 2;
        }
    }
}

/// A JS array of `ids` as numbers.
pub fn numbers(ids: &[u64]) -> Array {
    let array = Array::new();
    for id in ids {
        array.push(&JsValue::from_f64(*id as f64));
    }
    array
}

/// Run `task` on this thread's queue. Boxed: `spawn_local` compiles the executor's task
/// code again for every future type it is given (a dozen of them, ~300 bytes each).
pub fn spawn(task: impl std::future::Future<Output = ()> + 'static) {
    let task: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> = Box::pin(task);
    wasm_bindgen_futures::spawn_local(task);
}

/// The promise of `work`'s outcome, boxed for the same reason as [`spawn`].
pub fn promise(work: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>>) -> Promise {
    wasm_bindgen_futures::future_to_promise(work)
}

/// The global scope of this context.
pub fn global() -> Global {
    js_sys::global().unchecked_into()
}

/// The wall clock in whole ms since the epoch.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// `navigator.onLine`; true where it cannot be read (then only a failed request tells).
pub fn is_online() -> bool {
    global().navigator().and_then(|n| n.on_line()).unwrap_or(true)
}

/// The browser suites link the crate without the package's glue, which carries the
/// scripts (`js/store.js`, reached as `pwaSyncStore`, `js/http.js`, as `pwaSyncHttp`,
/// `js/tabs.js`, as `pwaSyncTabs`, `js/events.js`, as `pwaSyncEvents`,
/// `js/background.js`, as `pwaSyncBackground`, `js/export.js`, as `pwaSyncExport`,
/// `js/config.js`, as `pwaSyncConfig`, and `js/values.js`, as `pwaSyncValues`):
/// evaluate them into the global scope once, where the imports find them.
/// With them the in-memory IndexedDB of memory clients, which the package loads as its
/// module `memory/idb.js` and the suites find as `pwaSyncMemoryIdb` (the Makefile's
/// `target/js/memory-idb.js`, fake-indexeddb bundled as a classic script).
#[cfg(feature = "testing")]
pub fn install_scripts_for_tests() {
    // js/config.js and js/http.js use js/values.js's helpers: installed first, as the
    // package puts it first.
    install(concat!(include_str!("../js/values.js"), "\nreturn pwaSyncValues;"), "pwaSyncValues");
    install(concat!(include_str!("../js/store.js"), "\nreturn pwaSyncStore;"), "pwaSyncStore");
    install(concat!(include_str!("../js/http.js"), "\nreturn pwaSyncHttp;"), "pwaSyncHttp");
    install(concat!(include_str!("../js/tabs.js"), "\nreturn pwaSyncTabs;"), "pwaSyncTabs");
    install(concat!(include_str!("../js/events.js"), "\nreturn pwaSyncEvents;"), "pwaSyncEvents");
    install(concat!(include_str!("../js/background.js"), "\nreturn pwaSyncBackground;"), "pwaSyncBackground");
    install(concat!(include_str!("../js/export.js"), "\nreturn pwaSyncExport;"), "pwaSyncExport");
    install(concat!(include_str!("../js/config.js"), "\nreturn pwaSyncConfig;"), "pwaSyncConfig");
    install(concat!(include_str!("../target/js/memory-idb.js"), "\nreturn pwaSyncMemoryIdb;"), "pwaSyncMemoryIdb");
}

#[cfg(feature = "testing")]
fn install(source: &str, name: &str) {
    let global = js_sys::global();
    let name = JsValue::from_str(name);
    if js_sys::Reflect::has(&global, &name).unwrap_or(false) {
        return;
    }
    if let Ok(script) = Function::new_no_args(source).call0(&JsValue::UNDEFINED) {
        let _ = js_sys::Reflect::set(&global, &name, &script);
    }
}
