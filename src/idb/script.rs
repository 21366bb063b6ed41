//! The store's script (`js/store.js`, reached as `pwaSyncStore`): a writing transaction's
//! reads and writes run as JavaScript, started and decided in Rust (`writes`), and so do
//! opening, upgrading and inspecting the database, decided in Rust (`open`). Each
//! function answers a promise; one that throws (the script missing, a name IndexedDB
//! refuses) is an `Err` here.

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use web_sys::{IdbDatabase, IdbTransaction};

#[wasm_bindgen(js_namespace = pwaSyncStore)]
extern "C" {
    /// `[meta, found]`: the client metadata (when `read_meta`) and, flat, the place in
    /// `pairs` of each stored record and the record.
    #[wasm_bindgen(catch)]
    pub(super) fn read(tx: &IdbTransaction, pairs: &Array, read_meta: bool) -> Result<Promise, JsValue>;

    /// `[queued, conflicts]`: flat, the place in `pairs` of each queued outbox entry and the
    /// entry; the conflicts `ids`, in their order.
    #[wasm_bindgen(catch, js_name = readQueued)]
    pub(super) fn read_queued(tx: &IdbTransaction, pairs: &Array, ids: &Array) -> Result<Promise, JsValue>;

    /// Issue a plan's writes; the promise settles when the transaction has ended.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(catch)]
    pub(super) fn write(
        tx: &IdbTransaction,
        records: &Array,
        deleted: &Array,
        added: &Array,
        put: &Array,
        audit: &Array,
        audit_limit: f64,
        conflicts_deleted: &Array,
        conflicts_put: &Array,
        meta: &JsValue,
        fault: bool,
    ) -> Result<Promise, JsValue>;

    /// Open (and upgrade) the database; `upgraded` gets the upgrade transaction once what
    /// `specs` lacks exists. Rejects with `[why, error]`.
    #[wasm_bindgen(catch)]
    pub(super) fn open(name: &str, version: &JsValue, specs: &Array, upgraded: &JsValue) -> Result<Promise, JsValue>;

    /// In the upgrade transaction: the data brought to `format`, then, when
    /// `steps(stamp version)` answers `true`, every record of `collections`, outbox entry
    /// and conflict passed through `migrated(kind, collection, object)` and the schema
    /// stamped `version` (`upgrade::Upgrade::migrate`).
    #[wasm_bindgen(catch)]
    pub(super) fn upgrade(
        tx: &IdbTransaction,
        format: u32,
        collections: &Array,
        version: u32,
        steps: &JsValue,
        migrated: &JsValue,
    ) -> Result<Promise, JsValue>;

    /// `[missing, meta, stamp, pending]` of an open database (`open::inspect`).
    #[wasm_bindgen(catch)]
    pub(super) fn inspect(db: &IdbDatabase, specs: &Array) -> Result<Promise, JsValue>;

    /// Delete the database `name`.
    #[wasm_bindgen(catch)]
    pub(super) fn remove(name: &str) -> Result<Promise, JsValue>;
}

/// The browser suites link the crate without the package's glue, which carries the
/// script: evaluate it into the global scope once, where the imports above find it.
#[cfg(feature = "testing")]
pub(super) fn install_for_tests() {
    use js_sys::{Function, Reflect};
    let global = js_sys::global();
    let name = JsValue::from_str("pwaSyncStore");
    if Reflect::has(&global, &name).unwrap_or(false) {
        return;
    }
    let source = concat!(include_str!("../../js/store.js"), "\nreturn pwaSyncStore;");
    if let Ok(store) = Function::new_no_args(source).call0(&JsValue::UNDEFINED) {
        let _ = Reflect::set(&global, &name, &store);
    }
}
