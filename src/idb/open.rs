//! Opening the database: the schema the config declares, opening at the current version
//! and upgrading by one while something declared is missing or the stored values are of
//! an older app schema version (migrated inside that upgrade), and the connection's hooks
//! that step aside for another context's upgrade.

use std::cell::{Cell, RefCell};
use std::future::IntoFuture;
use std::rc::Rc;

use idb::event::VersionChangeEvent;
use idb::{Event as _, Factory, IndexParams, KeyPath, ObjectStoreParams, Request as _, TransactionMode};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Event, IdbDatabase};

use pwa_sync_core::config::{ClientConfig, IndexSpec};
use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::migration;
use pwa_sync_core::record::{KEYED_OUTBOX_FORMAT, STORAGE_FORMAT};
use pwa_sync_core::store::Durability;

use super::error::{classify, classify_idb, describe, failure_parts, in_context, in_tx, with_context};
use super::names::{as_u32, AUDIT, BY_KEY, CONFLICTS, LEGACY_OUTBOX, META, META_KEY, OUTBOX, SCHEMA_KEY};
use super::transaction::{finish, start_transaction};
use super::upgrade::Upgrade;
use crate::convert::prop;

/// Opening tries at most this many times to bring the schema up to date; each retry
/// means another tab changed the version in between.
const MAX_OPEN_ATTEMPTS: usize = 5;

/// One object store the app needs, with its indexes.
#[derive(Debug, Clone)]
pub(super) struct StoreSpec {
    name: String,
    /// `None`: out-of-line keys.
    key_path: Option<KeyPath>,
    auto_increment: bool,
    /// Index name, key path, multi-entry; all non-unique.
    indexes: Vec<(String, KeyPath, bool)>,
}

impl StoreSpec {
    fn new(name: &str, key_path: Option<KeyPath>) -> StoreSpec {
        StoreSpec { name: name.to_owned(), key_path, auto_increment: false, indexes: Vec::new() }
    }

    fn params(&self) -> ObjectStoreParams {
        let mut params = ObjectStoreParams::new();
        params.key_path(self.key_path.clone());
        params.auto_increment(self.auto_increment);
        params
    }
}

/// Every store and index the config declares.
pub(super) fn schema(config: &ClientConfig) -> Vec<StoreSpec> {
    let mut specs: Vec<StoreSpec> = config
        .collections
        .iter()
        .map(|c| StoreSpec {
            indexes: c.indexes.iter().map(index_spec).collect(),
            ..StoreSpec::new(&c.name, Some(KeyPath::new_single("key")))
        })
        .collect();
    // Auto-increment: the key generator numbers new entries (invariant 3).
    specs.push(StoreSpec {
        auto_increment: true,
        indexes: vec![(BY_KEY.to_owned(), KeyPath::new_array(["collection", "key"]), false)],
        ..StoreSpec::new(OUTBOX, Some(KeyPath::new_single("id")))
    });
    specs.push(StoreSpec::new(CONFLICTS, Some(KeyPath::new_single("id"))));
    specs.push(StoreSpec { auto_increment: true, ..StoreSpec::new(AUDIT, Some(KeyPath::new_single("id"))) });
    specs.push(StoreSpec::new(META, None));
    specs
}

/// A declared index over the record's value, which lives at `value.<field>`.
fn index_spec(index: &IndexSpec) -> (String, KeyPath, bool) {
    let paths: Vec<String> = index.fields.iter().map(|f| format!("value.{f}")).collect();
    let key_path = match paths.as_slice() {
        [one] => KeyPath::new_single(one),
        many => KeyPath::new_array(many.iter().map(String::as_str)),
    };
    (index.name.clone(), key_path, index.multi_entry)
}

/// An open connection and the handlers that notice when it stops being usable.
pub(super) struct Connection {
    pub(super) db: IdbDatabase,
    /// Set by `versionchange` (after closing) and by `close`; the store then reopens.
    pub(super) closed: Rc<Cell<bool>>,
    _on_version_change: Closure<dyn FnMut(Event)>,
    _on_close: Closure<dyn FnMut(Event)>,
}

impl Connection {
    fn new(db: IdbDatabase) -> Connection {
        let closed = Rc::new(Cell::new(false));
        let on_version_change = {
            let (db, closed) = (db.clone(), closed.clone());
            // Another context wants to upgrade or delete the database: step aside at
            // once, so it is never blocked. Running transactions still finish.
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                closed.set(true);
                db.close();
            })
        };
        let on_close = {
            let closed = closed.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| closed.set(true))
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

pub(super) fn factory() -> Result<Factory> {
    Factory::new().map_err(|e| {
        let detail = match &e {
            idb::Error::IndexedDbNotFound(js) if js.is_undefined() || js.is_null() => {
                "indexedDB is not defined".to_owned()
            }
            idb::Error::IndexedDbNotFound(js) => describe(js),
            other => other.to_string(),
        };
        Error::Storage(format!("IndexedDB is not available in this context: {detail}"))
    })
}

enum OpenFailure {
    /// Another context moved the database past the version we asked for: retry.
    VersionRace,
    Failed(Error),
}

/// Open at the current version, then upgrade by one until every declared store and
/// index exists. Bounded: each retry means another context changed the version.
pub(super) async fn open_connection(
    name: &str,
    specs: &Rc<Vec<StoreSpec>>,
    upgrade: &Rc<Upgrade>,
) -> Result<(Connection, Found)> {
    let factory = factory()?;
    let mut version: Option<u32> = None;
    for _ in 0..MAX_OPEN_ATTEMPTS {
        let db = match open_once(&factory, name, version, specs, upgrade).await {
            Ok(db) => db,
            Err(OpenFailure::VersionRace) => {
                version = None;
                continue;
            }
            Err(OpenFailure::Failed(e)) => return Err(e),
        };
        // Handlers go on at once, so an upgrade elsewhere never waits for us.
        let connection = Connection::new(db);
        let inspection = match inspect(&connection.db, specs).await {
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

async fn open_once(
    factory: &Factory,
    name: &str,
    version: Option<u32>,
    specs: &Rc<Vec<StoreSpec>>,
    upgrade: &Rc<Upgrade>,
) -> Result<IdbDatabase, OpenFailure> {
    // Private modes of some browsers have `indexedDB` but refuse every open (it throws,
    // or the request fails): say so, so the app can fall back to `storage: "memory"`.
    let refused = |e: idb::Error| {
        OpenFailure::Failed(with_context(
            format!(
                "IndexedDB refused to open database \"{name}\" (private browsing, or storage disabled for this site?)"
            ),
            e,
        ))
    };
    let mut request = factory.open(name, version).map_err(refused)?;
    let upgrade_error: Rc<RefCell<Option<Error>>> = Rc::new(RefCell::new(None));
    {
        let (specs, upgrade_error, migrations) = (specs.clone(), upgrade_error.clone(), upgrade.clone());
        request.on_upgrade_needed(move |event: VersionChangeEvent| {
            let tx = event.target().ok().and_then(|request| request.transaction());
            match (create_missing(&event, &specs), tx) {
                // Then the values, in the same transaction: the open succeeds only once
                // it committed, and an error aborts it all (`Upgrade::migrate`).
                (Ok(()), Some(tx)) => migrations.migrate(tx, upgrade_error.clone()),
                (Ok(()), None) => {}
                (Err(e), tx) => {
                    *upgrade_error.borrow_mut() = Some(e);
                    // Aborting the versionchange transaction fails the open request.
                    if let Some(tx) = tx {
                        let _ = tx.abort();
                    }
                }
            }
        });
    }
    // `blocked`: other connections have not closed yet. The request simply waits; ours
    // close on `versionchange`, and it proceeds as soon as the others do.
    match request.await {
        Ok(db) => Ok(IdbDatabase::from(db)),
        Err(e) => {
            if let Some(error) = upgrade_error.borrow_mut().take() {
                return Err(OpenFailure::Failed(error));
            }
            let (name, _) = failure_parts(&e);
            if name.as_deref() == Some("VersionError") {
                Err(OpenFailure::VersionRace)
            } else {
                Err(refused(e))
            }
        }
    }
}

/// In `upgradeneeded`: create what is missing, delete nothing (an outbox without its key
/// generator is replaced, its entries moved over by `Upgrade::migrate`).
fn create_missing(event: &VersionChangeEvent, specs: &[StoreSpec]) -> Result<()> {
    let request = event.target().map_err(classify_idb)?;
    let db = request.database().map_err(classify_idb)?;
    let tx = request.transaction().ok_or_else(|| Error::Storage("upgradeneeded without its transaction".into()))?;
    let existing = db.store_names();
    for spec in specs {
        let cannot_create = |e| with_context(format!("cannot create object store \"{}\"", spec.name), e);
        let store = match existing.contains(&spec.name) {
            true => tx.object_store(&spec.name).map_err(cannot_create)?,
            false => db.create_object_store(&spec.name, spec.params()).map_err(cannot_create)?,
        };
        // An outbox from before keyed ids: set aside under another name, a new one in its
        // place; `Upgrade::migrate` moves the entries over, in this transaction.
        let store = match spec.auto_increment && !store.auto_increment() {
            true => {
                // Through `Reflect`: a throwing setter would not come back as an error.
                let js: JsValue = web_sys::IdbObjectStore::from(store).into();
                js_sys::Reflect::set(&js, &JsValue::from_str("name"), &JsValue::from_str(LEGACY_OUTBOX))
                    .map_err(|e| in_context("cannot set the old outbox aside", classify(&e)))?;
                db.create_object_store(&spec.name, spec.params()).map_err(cannot_create)?
            }
            false => store,
        };
        let present = store.index_names();
        for (index, key_path, multi_entry) in &spec.indexes {
            if present.contains(index) {
                continue;
            }
            let mut params = IndexParams::new();
            params.unique(false);
            params.multi_entry(*multi_entry);
            store
                .create_index(index, key_path.clone(), Some(params))
                .map_err(|e| with_context(format!("cannot create index \"{index}\" on \"{}\"", spec.name), e))?;
        }
    }
    Ok(())
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

async fn inspect(db: &IdbDatabase, specs: &[StoreSpec]) -> Result<Inspection> {
    let names = db.object_store_names();
    let present: Vec<&str> = specs.iter().map(|s| s.name.as_str()).filter(|n| names.contains(n)).collect();
    let inspection =
        Inspection { missing: present.len() < specs.len(), format: None, schema: None, found: Found::default() };
    if present.is_empty() {
        return Ok(inspection);
    }
    let tx =
        start_transaction(db, &present, TransactionMode::ReadOnly, Durability::Default).map_err(|e| classify(&e))?;
    let result = inspect_in(&tx, specs, &present, inspection).await;
    finish(tx, result, false).await
}

async fn inspect_in(
    tx: &idb::Transaction,
    specs: &[StoreSpec],
    present: &[&str],
    mut inspection: Inspection,
) -> Result<Inspection> {
    for spec in specs.iter().filter(|s| present.contains(&s.name.as_str())) {
        let store = tx.object_store(&spec.name).map_err(in_tx(tx))?;
        let indexes = store.index_names();
        if spec.indexes.iter().any(|(name, ..)| !indexes.contains(name))
            || spec.auto_increment != store.auto_increment()
        {
            inspection.missing = true;
        }
    }
    // All requests first (listening at once: `into_future`), then their answers: one
    // round trip, not three.
    let count = match present.contains(&OUTBOX) {
        true => Some(tx.object_store(OUTBOX).map_err(in_tx(tx))?.count(None).map_err(in_tx(tx))?.into_future()),
        false => None,
    };
    if present.contains(&META) {
        let store = tx.object_store(META).map_err(in_tx(tx))?;
        let meta = store.get(JsValue::from_str(META_KEY)).map_err(in_tx(tx))?.into_future();
        let stamp = store.get(JsValue::from_str(SCHEMA_KEY)).map_err(in_tx(tx))?.into_future();
        if let Some(meta) = meta.await.map_err(in_tx(tx))? {
            // Read the one field, not the whole record: a newer format may have changed
            // the rest.
            inspection.format = as_u32(&prop(&meta, "format"));
            // Written by a library that numbers ids in the metadata: an upgrade raises the
            // format, and closes that library's connections, which then refuse it.
            if inspection.format.is_some_and(|f| f < KEYED_OUTBOX_FORMAT) {
                inspection.missing = true;
            }
            inspection.found.meta = Some(meta);
        }
        inspection.schema = stamp.await.map_err(in_tx(tx))?.and_then(|s| as_u32(&prop(&s, "version")));
    }
    if let Some(count) = count {
        inspection.found.pending = Some(count.await.map_err(in_tx(tx))? as usize);
    }
    Ok(inspection)
}

fn integral_version(version: f64) -> Result<u32> {
    if version.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&version) {
        Ok(version as u32)
    } else {
        Err(Error::Storage(format!("database version {version} is not an integer this library can use")))
    }
}
