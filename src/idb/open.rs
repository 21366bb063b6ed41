//! Opening the database: the schema the config declares, opening at the current version
//! and upgrading by one while something declared is missing or the stored values are of
//! an older app schema version (migrated inside that upgrade), and the connection's hooks
//! that step aside for another context's upgrade. The requests are the store's script's
//! (`open`, `inspect`); the decisions are made here.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Array;
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
const MAX_OPEN_ATTEMPTS: usize = 5;

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

/// An open connection and the handlers that notice when it stops being usable.
pub(super) struct Connection {
    pub(super) db: IdbDatabase,
    /// Set by `versionchange` (after closing) and by `close`; the store then reopens.
    pub(super) closed: Rc<Cell<bool>>,
    _on_version_change: Closure<dyn FnMut(JsValue)>,
    _on_close: Closure<dyn FnMut(JsValue)>,
}

impl Connection {
    fn new(db: IdbDatabase) -> Connection {
        let closed = Rc::new(Cell::new(false));
        let on_version_change = {
            let (db, closed) = (db.clone(), closed.clone());
            // Another context wants to upgrade or delete the database: step aside at
            // once, so it is never blocked. Running transactions still finish.
            Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
                closed.set(true);
                db.close();
            })
        };
        let on_close = {
            let closed = closed.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| closed.set(true))
        };
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        db.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Connection { db, closed, _on_version_change: on_version_change, _on_close: on_close }
    }

    pub(super) fn is_open(&self) -> bool {
        !self.closed.get()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Unhook first: the closures die with `self`.
        self.db.set_onversionchange(None);
        self.db.set_onclose(None);
        self.db.close();
    }
}

enum OpenFailure {
    /// Another context moved the database past the version we asked for: retry.
    VersionRace,
    Failed(Error),
}

/// Open at the current version, then upgrade by one until every declared store and
/// index exists. Bounded: each retry means another context changed the version.
pub(super) async fn open_connection(name: &str, specs: &Array, upgrade: &Rc<Upgrade>) -> Result<(Connection, Found)> {
    let mut version: Option<u32> = None;
    for _ in 0..MAX_OPEN_ATTEMPTS {
        let db = match open_once(name, version, specs, upgrade).await {
            Ok(db) => db,
            Err(OpenFailure::VersionRace) => {
                version = None;
                continue;
            }
            Err(OpenFailure::Failed(e)) => return Err(e),
        };
        // Handlers go on at once, so an upgrade elsewhere never waits for us.
        let connection = Connection::new(db);
        let needs_meta = !upgrade.fresh_meta.borrow().is_undefined();
        let inspection = match inspect(&connection.db, specs, needs_meta).await {
            Ok(inspection) => inspection,
            // Closed by a `versionchange` while we looked: look again.
            Err(_) if !connection.is_open() => {
                version = None;
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(found) = inspection.format {
            if found > STORAGE_FORMAT {
                return Err(Error::SchemaDowngrade { found, declared: STORAGE_FORMAT });
            }
        }
        // Values of an older app version are migrated in an upgrade (so older tabs close
        // on `versionchange`); a newer app's database is refused.
        let migrate = migration::on_open(inspection.schema, upgrade.migrations.declared)?.is_some();
        if !inspection.missing && !migrate {
            return Ok((connection, inspection.found));
        }
        let current = integral_version(connection.db.version())?;
        let next = current
            .checked_add(1)
            .ok_or_else(|| Error::Storage(format!("database \"{name}\" is at the highest version")))?;
        drop(connection);
        version = Some(next);
    }
    Err(Error::Storage(format!(
        "could not bring database \"{name}\" up to date in {MAX_OPEN_ATTEMPTS} attempts: other tabs keep changing its version"
    )))
}

/// One open request (the store's script creates what is missing in `upgradeneeded`),
/// with the app's migrations run in its upgrade transaction.
async fn open_once(
    name: &str,
    version: Option<u32>,
    specs: &Array,
    upgrade: &Rc<Upgrade>,
) -> Result<IdbDatabase, OpenFailure> {
    let upgrade_error: Rc<RefCell<Option<Error>>> = Rc::new(RefCell::new(None));
    // The app's migrations, run by the script in the upgrade transaction: the open
    // succeeds only once it committed, and an error aborts it all. They live until the
    // open settles.
    let callbacks = upgrade.callbacks(&upgrade_error);
    let version = version.map_or(JsValue::UNDEFINED, JsValue::from);
    let opened = script::open(
        name,
        &version,
        specs,
        &upgrade.settings(),
        callbacks.steps.as_ref(),
        callbacks.migrated.as_ref(),
        &upgrade.memory,
    )
    .map_err(|e| OpenFailure::Failed(classify(&e)));
    let failure = match JsFuture::from(opened?).await {
        // Not `dyn_into`: a memory client's database is the in-memory IndexedDB's
        // (`FDBDatabase`), which is no `IDBDatabase` to `instanceof` but answers the same
        // calls (wasm-bindgen calls methods by name).
        Ok(db) if db.is_object() => return Ok(db.unchecked_into::<IdbDatabase>()),
        Ok(_) => return Err(OpenFailure::Failed(Error::Storage("IndexedDB opened no database".into()))),
        Err(failure) => failure,
    };
    if let Some(error) = upgrade_error.borrow_mut().take() {
        return Err(OpenFailure::Failed(error));
    }
    let (why, cause) = (Array::from(&failure).get(0).as_string().unwrap_or_default(), Array::from(&failure).get(1));
    Err(match why.as_str() {
        "version" => OpenFailure::VersionRace,
        "unavailable" if cause.is_null() => OpenFailure::Failed(Error::Storage(
            "IndexedDB is not available in this context: indexedDB is not defined".into(),
        )),
        "unavailable" => {
            OpenFailure::Failed(in_context("IndexedDB is not available in this context", classify(&cause)))
        }
        // The upgrade threw without a reason of ours (that one was returned above).
        "upgrade" => OpenFailure::Failed(classify(&cause)),
        "refused" => OpenFailure::Failed(in_context(
            &format!(
                "IndexedDB refused to open database \"{name}\" (private browsing, or storage disabled for this site?)"
            ),
            classify(&cause),
        )),
        "" => OpenFailure::Failed(classify(&failure)),
        context => OpenFailure::Failed(in_context(context, classify(&cause))),
    })
}

struct Inspection {
    /// Some declared store or index does not exist yet or is not as declared (an outbox
    /// without its key generator), or the metadata's format is older than keyed ids.
    missing: bool,
    /// `Meta.format` as stored, if there is metadata.
    format: Option<u32>,
    /// The app schema version of the stored values, if stamped.
    schema: Option<u32>,
    found: Found,
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

/// What the store's script's `inspect` saw of `db`, read into an `Inspection`. With
/// `needs_meta` (a client's open), a database without client metadata counts as missing
/// something: the upgrade stores it (`Upgrade::fresh_meta`) and closes every other
/// connection. An older library finding no metadata takes the database for new and
/// writes its own, of its format, which this library would then adopt and run beside
/// (ARCHITECTURE.md "An older library"); its `clear()` leaves that gap between two
/// transactions.
async fn inspect(db: &IdbDatabase, specs: &Array, needs_meta: bool) -> Result<Inspection> {
    let seen = script::inspect(db, specs).map_err(|e| classify(&e))?;
    let seen = Array::from(&JsFuture::from(seen).await.map_err(|e| classify(&e))?);
    let (meta, stamp) = (seen.get(1), seen.get(2));
    let mut inspection = Inspection {
        missing: seen.get(0).is_truthy(),
        format: None,
        schema: None,
        found: Found { meta: None, pending: seen.get(3).as_f64().map(|n| n as usize) },
    };
    if meta.is_undefined() {
        inspection.missing |= needs_meta;
    } else {
        // Read the one field, not the whole record: a newer format may have changed the
        // rest.
        inspection.format = as_u32(&prop(&meta, "format"));
        // Written by a library of an older format (ids numbered in the metadata, sent
        // entries flagged one by one): an upgrade raises the format, and closes that
        // library's connections, which then refuse it.
        if inspection.format.is_some_and(|f| f < STORAGE_FORMAT) {
            inspection.missing = true;
        }
        inspection.found.meta = Some(meta);
    }
    if !stamp.is_undefined() {
        inspection.schema = as_u32(&prop(&stamp, "version"));
    }
    Ok(inspection)
}

fn integral_version(version: f64) -> Result<u32> {
    if version.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&version) {
        Ok(version as u32)
    } else {
        Err(Error::Storage(format!(
            "database version {} is not an integer this library can use",
            pwa_sync_core::json::float_text(version)
        )))
    }
}
