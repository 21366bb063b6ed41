//! The store's script (`js/store.js`, reached as `pwaSyncStore`): a writing transaction's
//! reads and writes run as JavaScript, started and decided in Rust (`writes`), and so do
//! opening, upgrading and inspecting the database, decided in Rust (`open`). Each
//! function answers a promise; one that throws (the script missing, a name IndexedDB
//! refuses) is an `Err` here.

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use web_sys::{IdbDatabase, IdbTransaction};

use super::error::classify;

#[wasm_bindgen(js_namespace = pwaSyncStore)]
extern "C" {
    /// What is wrong with a stored record's metadata, if anything (serde's verdicts on
    /// its JSON text).
    #[wasm_bindgen(js_name = recordProblem)]
    pub(super) fn record_problem(record: &JsValue) -> Option<String>;

    /// What is wrong with a stored outbox entry's metadata, if anything.
    #[wasm_bindgen(js_name = entryProblem)]
    pub(super) fn entry_problem(entry: &JsValue) -> Option<String>;

    /// A writing transaction's requests (`writes::run_transaction_over`): the records of
    /// `pairs` (flat `[collection, key, ...]`) and, when `read_meta`, the metadata read,
    /// `step(0, meta, found)` answering what else to read (`[pairs, conflict ids]`, or
    /// `undefined`), that read, then `step(1, queued, conflicts)` answering the writes'
    /// arguments, which are issued. `step` answers `null` when it failed (its reason is
    /// Rust's): the transaction is aborted. Settles when the transaction has ended.
    #[wasm_bindgen(catch)]
    pub(super) fn transact(
        tx: &IdbTransaction,
        pairs: &Array,
        read_meta: bool,
        step: &JsValue,
    ) -> Result<Promise, JsValue>;

    /// Open (and upgrade) the database until `judge(missing, meta, stamp)` answers 0, at
    /// most `attempts` times (`open::open_connection`): in `upgradeneeded`, once what
    /// `specs` lacks exists, the data brought to this library's format and, when
    /// `steps(stamp version)` answers `true`, every record of the collections, outbox entry
    /// and conflict passed through `migrated(kind, collection, object)` and the schema
    /// stamped (`settings`: `[format, collections, version, fresh metadata]`;
    /// `upgrade::Upgrade::callbacks`). Resolves to `[db, hooks, meta, pending]`; rejects
    /// with `[why, error]` (`open::failed`).
    #[wasm_bindgen(catch)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn connect(
        name: &str,
        specs: &Array,
        settings: &Array,
        steps: &JsValue,
        migrated: &JsValue,
        memory: &JsValue,
        judge: &JsValue,
        attempts: u32,
    ) -> Result<Promise, JsValue>;

    /// Let a connection go: its hooks off, then closed.
    pub(super) fn release(db: &IdbDatabase);

    /// Delete the database `name`.
    #[wasm_bindgen(catch)]
    pub(super) fn remove(name: &str) -> Result<Promise, JsValue>;

    /// Settles when `tx` ends: resolves on commit, rejects with its error (`null`: an
    /// abort without one).
    pub(super) fn ended(tx: &IdbTransaction) -> Promise;

    /// `bounds` (`query::bounds`) as a key range of `tx`'s database, `null` for the
    /// whole index.
    #[wasm_bindgen(catch, js_name = keyRange)]
    pub(super) fn key_range(bounds: &JsValue, tx: &IdbTransaction) -> Result<JsValue, JsValue>;

    /// The stored object under `key` (`undefined`: none).
    #[wasm_bindgen(catch)]
    pub(super) fn get(tx: &IdbTransaction, store: &str, key: &JsValue) -> Result<Promise, JsValue>;

    /// `get` as the app gets it: one request in a transaction of its own on `db`, resolved
    /// with a readable record's value; a failed request or an unreadable record settles
    /// through `settle(collection, key, event)`. Throws where the transaction cannot start.
    #[wasm_bindgen(catch, js_name = getNow)]
    pub(super) fn get_now(
        db: &IdbDatabase,
        collection: &JsValue,
        key: &JsValue,
        settle: &js_sys::Function,
    ) -> Result<Promise, JsValue>;

    /// A transaction on `db` over `stores` (`transaction::start_transaction`), read-write
    /// when `write`, with `{durability: "strict"}` when `strict`. Throws as IndexedDB's
    /// `transaction()` does.
    #[wasm_bindgen(catch)]
    pub(super) fn begin(db: &IdbDatabase, stores: &Array, write: bool, strict: bool)
        -> Result<IdbTransaction, JsValue>;

    /// `count` in one promise (`IdbStore::count_now`): `index` of `collection` counted
    /// within each of `ranges` (bounds each), summed, settled by `settle(collection,
    /// undefined, event)` with a `success` or `error` event.
    #[wasm_bindgen(catch, js_name = countNow)]
    pub(super) fn count_now(
        db: &IdbDatabase,
        collection: &str,
        index: &str,
        ranges: &Array,
        settle: &js_sys::Function,
    ) -> Result<Promise, JsValue>;

    /// The stored objects of `store` (or its `index`) within `bounds` (`query::bounds`), in
    /// order, at most `count`.
    #[wasm_bindgen(catch, js_name = getAll)]
    pub(super) fn get_all(
        tx: &IdbTransaction,
        store: &str,
        index: Option<&str>,
        bounds: &JsValue,
        count: Option<u32>,
    ) -> Result<Promise, JsValue>;

    /// How many stored objects lie in any of `ranges` (each bounds or `null`).
    #[wasm_bindgen(catch)]
    pub(super) fn count(
        tx: &IdbTransaction,
        store: &str,
        index: Option<&str>,
        ranges: &Array,
    ) -> Result<Promise, JsValue>;

    /// A cursor walking `bounds` of `index` backwards, read by `take`.
    #[wasm_bindgen(catch)]
    pub(super) fn backwards(
        tx: &IdbTransaction,
        store: &str,
        index: &str,
        bounds: &JsValue,
    ) -> Result<JsValue, JsValue>;

    /// The next `n` values of a `backwards` cursor (fewer at its end).
    #[wasm_bindgen(catch)]
    pub(super) fn take(walk: &JsValue, n: u32) -> Result<Promise, JsValue>;

    /// `list`'s live values (`IdbStore::list_values`): `[values, unreadable]`, read from
    /// `store` in key order or from its `index` at the key `only`, at most `limit`.
    #[wasm_bindgen(catch, js_name = listLive)]
    pub(super) fn list_live(
        tx: &IdbTransaction,
        store: &str,
        index: Option<&str>,
        only: &JsValue,
        limit: Option<u32>,
    ) -> Result<Promise, JsValue>;

    /// The first page of an exact forward walk (`IdbStore::page_values`): `[values,
    /// objects]` of at most `count` stored objects within `bounds` of `index`, or `null`
    /// when one of them is no readable live record.
    #[wasm_bindgen(catch, js_name = pageLive)]
    pub(super) fn page_live(
        tx: &IdbTransaction,
        store: &str,
        index: &str,
        bounds: &JsValue,
        count: u32,
    ) -> Result<Promise, JsValue>;

    /// Put each object (in-line keys) into `store`.
    #[wasm_bindgen(catch, js_name = putAll)]
    pub(super) fn put_all(tx: &IdbTransaction, store: &str, objects: &Array) -> Result<(), JsValue>;

    /// A push's batch: the first `limit` outbox entries above id `after`, each flagged
    /// sent and counted as one more attempt, as the push sends them.
    #[wasm_bindgen(catch, js_name = takeBatch)]
    pub(super) fn take_batch(tx: &IdbTransaction, after: f64, limit: u32) -> Result<Promise, JsValue>;

    /// The stored client metadata, or `undefined` after storing `fresh` in its place.
    #[wasm_bindgen(catch, js_name = openMeta)]
    pub(super) fn open_meta(tx: &IdbTransaction, fresh: &JsValue) -> Result<Promise, JsValue>;

    /// Mark the outbox entries `ids` sent.
    #[wasm_bindgen(catch, js_name = markSent)]
    pub(super) fn mark_sent(tx: &IdbTransaction, ids: &Array) -> Result<Promise, JsValue>;

    /// Empty every store of `tx`, then put the schema `stamp` back (unless `undefined`)
    /// and the `fresh` client metadata.
    #[wasm_bindgen(catch)]
    pub(super) fn clear(tx: &IdbTransaction, stamp: &JsValue, fresh: &JsValue) -> Result<(), JsValue>;
}

/// Bounds as `keyRange` takes them: `[lower, upper, lowerOpen, upperOpen]`, `undefined`
/// for an open end.
pub(super) fn key_bounds(lower: JsValue, upper: JsValue, lower_open: bool, upper_open: bool) -> JsValue {
    crate::sys::array(&[lower, upper, JsValue::from_bool(lower_open), JsValue::from_bool(upper_open)]).into()
}

/// What a script's promise resolved to, or why it failed.
pub(super) async fn answer(promise: Result<Promise, JsValue>) -> pwa_sync_core::error::Result<JsValue> {
    let promise = promise.map_err(|e| classify(&e))?;
    wasm_bindgen_futures::JsFuture::from(promise).await.map_err(|e| classify(&e))
}

/// The same for an answer that is an array.
pub(super) async fn answer_array(promise: Result<Promise, JsValue>) -> pwa_sync_core::error::Result<Array> {
    use wasm_bindgen::JsCast;
    answer(promise)
        .await?
        .dyn_into::<Array>()
        .map_err(|_| pwa_sync_core::error::Error::Storage("the store's script answered no array".into()))
}
