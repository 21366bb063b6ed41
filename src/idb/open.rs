//! Opening the database: the schema the config declares, opening at the current version
//! and upgrading by one while something declared is missing or the stored values are of
//! an older app schema version (migrated inside that upgrade), and the connection's hooks
//! that step aside for another context's upgrade. The requests and the loop of opens are
//! the store's script's (`connect`); the decisions are made here (`judge`).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::IdbDatabase;

use pwa_sync_core::config::{ClientConfig, IndexSpec};
use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::migration;
use pwa_sync_core::record::STORAGE_FORMAT;

use super::error::{classify, in_context};
use super::names::{as_u32, BY_KEY, CONFLICTS, META, OUTBOX};
use super::script;
use super::upgrade::Upgrade;
use crate::convert::prop;
use crate::sys;

/// Opening tries at most this many times to bring the schema up to date; each retry
/// means another tab changed the version in between.
const MAX_OPEN_ATTEMPTS: u32 = 5;

/// Every store and index the config declares, as the store's script takes them: each
/// `[name, keyPath, autoIncrement, [[index, keyPath, multiEntry], ...]]`, all indexes
/// non-unique.
pub(super) fn schema(config: &ClientConfig) -> Array {
    let specs = Array::new();
    let store = |name: &str, key_path: JsValue, auto_increment: bool, indexes: Array| {
        specs.push(&sys::array(&[
            JsValue::from_str(name),
            key_path,
            JsValue::from_bool(auto_increment),
            indexes.into(),
        ]));
    };
    let key = |field: &str| JsValue::from_str(field);
    for collection in &config.collections {
        let indexes = Array::new();
        for index in &collection.indexes {
            indexes.push(&index_spec(index));
        }
        store(&collection.name, key("key"), false, indexes);
    }
    // Auto-increment: the key generator numbers new entries (invariant 3).
    let by_key = sys::array(&[key("collection"), key("key")]);
    let by_key = sys::array(&[JsValue::from_str(BY_KEY), by_key.into(), JsValue::FALSE]);
    store(OUTBOX, key("id"), true, sys::array(&[by_key.into()]));
    store(CONFLICTS, key("id"), false, Array::new());
    store(super::names::AUDIT, key("id"), true, Array::new());
    store(META, JsValue::NULL, false, Array::new());
    specs
}

/// A declared index over the record's value, which lives at `value.<field>`.
fn index_spec(index: &IndexSpec) -> JsValue {
    let path = |field: &String| JsValue::from_str(&format!("value.{field}"));
    let key_path = match index.fields.as_slice() {
        [one] => path(one),
        many => {
            let paths = Array::new();
            for field in many {
                paths.push(&path(field));
            }
            paths.into()
        }
    };
    sys::array(&[JsValue::from_str(&index.name), key_path, JsValue::from_bool(index.multi_entry)]).into()
}

/// An open connection, and its hooks (`js/store.js`'s `connect`): `hooks.closed` turns
/// true on `versionchange` (after the script closed it) and on the browser's `close`; the
/// store then reopens.
pub(super) struct Connection {
    pub(super) db: IdbDatabase,
    hooks: JsValue,
}

impl Connection {
    pub(super) fn is_open(&self) -> bool {
        !prop(&self.hooks, "closed").is_truthy()
    }

    /// Closed under us (a transaction refused to start): reopen at the next call.
    pub(super) fn set_closed(&self) {
        // Setting a property of the script's plain object cannot fail.
        let _ = Reflect::set(&self.hooks, &"closed".into(), &JsValue::TRUE);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        script::release(&self.db);
    }
}

/// Open at the current version, then upgrade by one until every declared store and
/// index exists and the stored values are of the app's schema version (the store's
/// script's `connect` opens and looks; `judge` decides). Bounded: each retry means
/// another context changed the version. The app's migrations run in the upgrade
/// transaction (`Upgrade::callbacks`): the open succeeds only once it committed, and an
/// error aborts it all.
pub(super) async fn open_connection(name: &str, specs: &Array, upgrade: &Rc<Upgrade>) -> Result<(Connection, Found)> {
    let failure: Rc<RefCell<Option<Error>>> = Rc::new(RefCell::new(None));
    let callbacks = upgrade.callbacks(&failure);
    let judge = {
        let (upgrade, failure) = (upgrade.clone(), failure.clone());
        // The migrations' signature: one closure shim in the module for both.
        Closure::<dyn FnMut(u32, JsValue, JsValue) -> JsValue>::new(move |missing: u32, meta: JsValue, stamp| {
            let needs_meta = !upgrade.fresh_meta.borrow().is_undefined();
            JsValue::from(match judge(missing != 0, &meta, &stamp, needs_meta, upgrade.migrations.declared) {
                Ok(upgrade) => u32::from(upgrade),
                Err(error) => {
                    failure.borrow_mut().get_or_insert(error);
                    2
                }
            })
        })
    };
    let connecting = script::connect(
        name,
        specs,
        &upgrade.settings(),
        callbacks.steps.as_ref(),
        callbacks.migrated.as_ref(),
        &upgrade.memory,
        judge.as_ref(),
        MAX_OPEN_ATTEMPTS,
    )
    .map_err(|e| classify(&e))?;
    let opened = match JsFuture::from(connecting).await {
        Ok(opened) => Array::from(&opened),
        // A reason of ours (a refused version, a migration that failed) comes first.
        Err(cause) => return Err(failure.borrow_mut().take().unwrap_or_else(|| failed(name, &cause))),
    };
    // Not `dyn_into`: a memory client's database is the in-memory IndexedDB's
    // (`FDBDatabase`), which is no `IDBDatabase` to `instanceof` but answers the same
    // calls (wasm-bindgen calls methods by name).
    let connection = Connection { db: opened.get(0).unchecked_into(), hooks: opened.get(1) };
    let meta = opened.get(2);
    let found =
        Found { meta: (!meta.is_undefined()).then_some(meta), pending: opened.get(3).as_f64().map(|n| n as usize) };
    Ok((connection, found))
}

/// What the inspection read anyway, handed to the client that opened (`IdbStore::
/// take_found`): a cold start then needs no transaction of its own for the metadata and
/// the outbox's size.
#[derive(Default)]
pub(super) struct Found {
    /// The stored client metadata, as stored (not yet checked).
    pub(super) meta: Option<JsValue>,
    /// The number of outbox entries.
    pub(super) pending: Option<usize>,
}

/// Why `connect` failed, from its `[why, error]` (or what it threw).
fn failed(name: &str, failure: &JsValue) -> Error {
    let parts = Array::from(failure);
    let (why, cause) = (parts.get(0).as_string().unwrap_or_default(), parts.get(1));
    match why.as_str() {
        "attempts" => Error::Storage(format!(
            "could not bring database \"{name}\" up to date in {MAX_OPEN_ATTEMPTS} attempts: other tabs keep changing its version"
        )),
        "unavailable" if cause.is_null() => {
            Error::Storage("IndexedDB is not available in this context: indexedDB is not defined".into())
        }
        "unavailable" => in_context("IndexedDB is not available in this context", classify(&cause)),
        // The upgrade threw without a reason of ours (that one was taken first).
        "upgrade" => classify(&cause),
        "refused" => in_context(
            &format!("IndexedDB refused to open database \"{name}\" (private browsing, or storage disabled for this site?)"),
            classify(&cause),
        ),
        "" => classify(failure),
        context => in_context(context, classify(&cause)),
    }
}

/// Whether what the script's `inspect` saw calls for an upgrade: a declared store or
/// index missing or not as declared (`missing`), metadata of an older format, values of
/// an older app schema version than `declared` (migrated in the upgrade, so older tabs
/// close on `versionchange`), or, with `needs_meta` (a client's open), no client
/// metadata: the upgrade stores it (`Upgrade::fresh_meta`) and closes every other
/// connection. An older library finding no metadata takes the database for new and
/// writes its own, of its format, which this library would then adopt and run beside
/// (ARCHITECTURE.md "An older library"); its `clear()` leaves that gap between two
/// transactions. A newer format, or a newer app's values, are refused.
fn judge(missing: bool, meta: &JsValue, stamp: &JsValue, needs_meta: bool, declared: u32) -> Result<bool> {
    let mut upgrade = missing;
    if meta.is_undefined() {
        upgrade |= needs_meta;
    } else if let Some(found) = as_u32(&prop(meta, "format")) {
        // Read the one field, not the whole record: a newer format may have changed the
        // rest.
        if found > STORAGE_FORMAT {
            return Err(Error::SchemaDowngrade { found, declared: STORAGE_FORMAT });
        }
        // Written by a library of an older format (ids numbered in the metadata, sent
        // entries flagged one by one): an upgrade raises the format, and closes that
        // library's connections, which then refuse it.
        upgrade |= found < STORAGE_FORMAT;
    }
    let schema = if stamp.is_undefined() { None } else { as_u32(&prop(stamp, "version")) };
    Ok(migration::on_open(schema, declared)?.is_some() || upgrade)
}
