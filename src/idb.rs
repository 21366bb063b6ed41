//! The IndexedDB [`Store`]: the browser's implementation of the core's storage contract.
//! It behaves like `pwa_sync_core::store::memory::MemoryStore` (the same conformance suite runs
//! on both) and keeps the storage invariants of DESIGN.md:
//!
//! - every `Store` method is one IndexedDB transaction; `write_local` reads, plans with
//!   `mutation::plan_local_write` and writes entity, outbox and meta in one readwrite
//!   transaction (invariant 1), awaiting nothing but IndexedDB requests inside it, and
//!   aborting it explicitly on every error path (an `idb` transaction that is dropped
//!   half-way would otherwise commit what it already wrote);
//! - transactions that remove outbox entries or write acknowledgements ask for
//!   `durability: "strict"` (invariant 2);
//! - versions are integers chosen automatically: the database is opened at its current
//!   version and upgraded by one only when a declared store or index is missing. An
//!   upgrade only ever creates: a store or index this app does not declare belongs to
//!   another version of the app and is left alone (invariant 6);
//! - the connection closes itself on `versionchange` (another tab's upgrade, or a
//!   `deleteDatabase`) and on `close` (the browser closed it), and the next call
//!   reopens it.
//!
//! IndexedDB is reached through the global scope, never `window`, so the store works in
//! windows, dedicated workers and service workers.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use idb::event::VersionChangeEvent;
use idb::{
    Event as _, Factory, IndexParams, KeyPath, KeyRange, ObjectStore, ObjectStoreParams, Query, Request as _,
    TransactionMode,
};
use js_sys::{Array, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{DomException, Event, IdbDatabase, IdbTransaction, IdbTransactionMode};

use pwa_sync_core::config::ClientConfig;
use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::record::{
    index_key_eq, is_index_key, key_order, AppValues, ConflictRecord, EntityRecord, ListQuery, Meta, OutboxEntry,
    RECORD_METADATA_FIELDS, STORAGE_FORMAT,
};

use crate::convert::{decode_json, encode_json, encode_many};
use crate::crypto::Sealer;
use crate::sys::{Database, TransactionOptions};
use pwa_sync_core::store::{Durability, Store};
use pwa_sync_core::sync::{AuditEntry, KeyRef, Snapshot, Writes};

const OUTBOX: &str = "outbox";
const CONFLICTS: &str = "conflicts";
const AUDIT: &str = "audit";
const META: &str = "meta";
/// The key of the one record in `meta`.
const META_KEY: &str = "client";
/// Index of `outbox` on `[collection, key]`: a key's entries, in id order.
const BY_KEY: &str = "byKey";
/// Opening tries at most this many times to bring the schema up to date; each retry
/// means another tab changed the version in between.
const MAX_OPEN_ATTEMPTS: usize = 5;

/// One object store the app needs, with its indexes.
#[derive(Debug, Clone)]
struct StoreSpec {
    name: String,
    /// `None`: out-of-line keys.
    key_path: Option<KeyPath>,
    auto_increment: bool,
    /// Index name and key path; all non-unique.
    indexes: Vec<(String, KeyPath)>,
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
fn schema(config: &ClientConfig) -> Vec<StoreSpec> {
    let mut specs: Vec<StoreSpec> = config
        .collections
        .iter()
        .map(|c| StoreSpec {
            indexes: c.indexes.iter().map(|f| (f.clone(), KeyPath::new_single(&format!("value.{f}")))).collect(),
            ..StoreSpec::new(&c.name, Some(KeyPath::new_single("key")))
        })
        .collect();
    specs.push(StoreSpec {
        indexes: vec![(BY_KEY.to_owned(), KeyPath::new_array(["collection", "key"]))],
        ..StoreSpec::new(OUTBOX, Some(KeyPath::new_single("id")))
    });
    specs.push(StoreSpec::new(CONFLICTS, Some(KeyPath::new_single("id"))));
    specs.push(StoreSpec { auto_increment: true, ..StoreSpec::new(AUDIT, Some(KeyPath::new_single("id"))) });
    specs.push(StoreSpec::new(META, None));
    specs
}

/// An open connection and the handlers that notice when it stops being usable.
struct Connection {
    db: IdbDatabase,
    /// Set by `versionchange` (after closing) and by `close`; the store then reopens.
    closed: Rc<Cell<bool>>,
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

    fn is_open(&self) -> bool {
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

/// The IndexedDB store. Cheap to keep; not `Send` (browsers run it on one thread).
pub struct IdbStore {
    config: ClientConfig,
    specs: Rc<Vec<StoreSpec>>,
    connection: RefCell<Option<Connection>>,
    /// `close()` was called: every later call fails with `Error::Closed`.
    closed: Cell<bool>,
    /// Records that could not be read, as "collection/key: reason".
    skipped: RefCell<Vec<String>>,
    #[cfg(feature = "testing")]
    fail_after_entity: Cell<bool>,
    /// `encryption: {key}`: app values are sealed at rest.
    sealer: Option<Sealer>,
}

impl fmt::Debug for IdbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdbStore").field("name", &self.config.name).field("closed", &self.closed.get()).finish()
    }
}

impl IdbStore {
    /// Open (creating or upgrading as needed) the database named `config.name`.
    pub async fn open(config: &ClientConfig) -> Result<IdbStore> {
        IdbStore::open_sealed(config, None).await
    }

    /// Like `open`, with app values sealed by `sealer` (encryption at rest).
    pub async fn open_sealed(config: &ClientConfig, sealer: Option<Sealer>) -> Result<IdbStore> {
        let specs = Rc::new(schema(config));
        let connection = open_connection(&config.name, &specs).await?;
        Ok(IdbStore {
            config: config.clone(),
            specs,
            connection: RefCell::new(Some(connection)),
            closed: Cell::new(false),
            skipped: RefCell::new(Vec::new()),
            #[cfg(feature = "testing")]
            fail_after_entity: Cell::new(false),
            sealer,
        })
    }

    /// Close the connection for good: later calls fail with `Error::Closed`.
    pub fn close(&self) {
        self.closed.set(true);
        drop(self.connection.borrow_mut().take());
    }

    /// Delete a whole database. Waits while connections that ignore `versionchange` stay
    /// open (ours close themselves).
    pub async fn delete_database(name: &str) -> Result<()> {
        factory()?.delete(name).map_err(classify_idb)?.await.map_err(classify_idb)
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Records `list` and `outbox` skipped because they could not be read (edited by
    /// hand, or written by something else), as "collection/key: reason", since the last
    /// call. The API layer reports them as `pwa-sync:storage-error`.
    pub fn take_skipped(&self) -> Vec<String> {
        std::mem::take(&mut *self.skipped.borrow_mut())
    }

    /// Test hook: the next `write_local` fails with `Error::Storage("injected fault")`
    /// after issuing its entity write and before its outbox and meta writes, through the
    /// same abort path as any other error.
    #[cfg(feature = "testing")]
    pub fn fail_next_write_after_entity(&self) {
        self.fail_after_entity.set(true);
    }

    fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_ref()
    }

    fn check(&self, collection: &str) -> Result<&pwa_sync_core::config::CollectionConfig> {
        self.config.collection(collection)
    }

    /// The live connection, reopened if `versionchange` or the browser closed it.
    async fn database(&self) -> Result<IdbDatabase> {
        if self.closed.get() {
            return Err(Error::Closed);
        }
        if let Some(connection) = self.connection.borrow().as_ref().filter(|c| c.is_open()) {
            return Ok(connection.db.clone());
        }
        let connection = open_connection(&self.config.name, &self.specs).await?;
        if self.closed.get() {
            return Err(Error::Closed);
        }
        let db = connection.db.clone();
        // A concurrent call may have reopened too; the last one wins, the other closes
        // once its transactions are done.
        *self.connection.borrow_mut() = Some(connection);
        Ok(db)
    }

    /// Start a transaction on the live connection, with `{durability: "strict"}` when
    /// asked (see `start_transaction`).
    async fn transaction(
        &self,
        stores: &[&str],
        mode: TransactionMode,
        durability: Durability,
    ) -> Result<idb::Transaction> {
        let db = self.database().await?;
        match start_transaction(&db, stores, mode, durability) {
            Ok(tx) => Ok(tx),
            // Closed under us between the check and now (`close` not yet delivered):
            // reopen once.
            Err(e) if dom_name(&e).as_deref() == Some("InvalidStateError") => {
                if let Some(connection) = self.connection.borrow().as_ref() {
                    connection.closed.set(true);
                }
                let db = self.database().await?;
                start_transaction(&db, stores, mode, durability).map_err(|e| classify(&e))
            }
            Err(e) => Err(classify(&e)),
        }
    }

    fn report_skipped(&self, skipped: Vec<String>) {
        self.skipped.borrow_mut().extend(skipped);
    }

    async fn open_meta_in(&self, tx: &idb::Transaction, fresh_client_id: &str) -> Result<Meta> {
        let store = tx.object_store(META).map_err(in_tx(tx))?;
        let key = JsValue::from_str(META_KEY);
        if let Some(js) = store.get(key.clone()).map_err(in_tx(tx))?.await.map_err(in_tx(tx))? {
            return decode(js, None).map_err(|reason| Error::Storage(format!("unreadable client metadata: {reason}")));
        }
        let meta = Meta::new(fresh_client_id.to_owned());
        store.put(&encode_internal(&meta, "client metadata", None)?, Some(&key)).map_err(in_tx(tx))?;
        Ok(meta)
    }

    async fn list_in<T: Listed>(
        &self,
        tx: &idb::Transaction,
        collection: &str,
        query: &ListQuery,
        skipped: &mut Vec<String>,
        decode: &Decoder<'_, T>,
    ) -> Result<Vec<T>> {
        let store = tx.object_store(collection).map_err(in_tx(tx))?;
        let label = |key: &JsValue| format!("{collection}/{}", key_text(key));
        let Some((field, wanted)) = &query.index else {
            return scan(tx, &store, "key", query.limit, &|r: &T| r.is_live(), &label, skipped, decode).await;
        };
        if !is_index_key(wanted) {
            // Not an IndexedDB key, so nothing is indexed under it.
            return Ok(Vec::new());
        }
        let declared = self.check(collection)?.indexes.iter().any(|i| i == field);
        if !declared {
            // The API layer refuses undeclared fields; the store still answers like the
            // in-memory one, by a scan.
            let matches = |r: &T| r.field(field).is_some_and(|v| index_key_eq(&v, wanted));
            return scan(tx, &store, "key", query.limit, &matches, &label, skipped, decode).await;
        }
        let key = match wanted.as_str() {
            Some(s) => JsValue::from_str(s),
            None => JsValue::from_f64(wanted.as_f64().unwrap_or(f64::NAN)),
        };
        let index = store.index(field).map_err(in_tx(tx))?;
        let fetch = |limit: Option<usize>| {
            let range = KeyRange::only(&key).map_err(in_tx(tx))?;
            index.get_all(Some(Query::KeyRange(range)), limit.map(to_u32)).map_err(in_tx(tx))
        };
        let raw = fetch(query.limit)?.await.map_err(in_tx(tx))?;
        let fetched = raw.len();
        let by_key = |js: &JsValue| label(&prop(js, "key"));
        let mut bad = Vec::new();
        let mut records = decode_all(raw, &by_key, &|_: &T| true, &mut bad, decode);
        if !bad.is_empty() && query.limit.is_some_and(|l| fetched >= l) {
            // Unreadable records took places in the limit: fetch the rest too.
            bad.clear();
            let raw = fetch(None)?.await.map_err(in_tx(tx))?;
            records = decode_all(raw, &by_key, &|_: &T| true, &mut bad, decode);
            records.truncate(query.limit.unwrap_or(usize::MAX));
        }
        skipped.extend(bad);
        Ok(records)
    }

    /// One transaction over `base` and the collections of `keys`: snapshot, plan, write.
    /// Without the conflicts store in scope, records' open conflicts are not read.
    async fn run_transaction_over(
        &self,
        base: &[&'static str],
        keys: &[KeyRef],
        durability: Durability,
        plan: &mut dyn FnMut(Snapshot) -> Result<Writes>,
    ) -> Result<()> {
        let mut stores: Vec<&str> = base.to_vec();
        for (collection, _) in keys {
            self.check(collection)?;
            if !stores.contains(&collection.as_str()) {
                stores.push(collection);
            }
        }
        let tx = self.transaction(&stores, TransactionMode::ReadWrite, durability).await?;
        let result = self.transact_in(&tx, keys, base.contains(&CONFLICTS), plan).await;
        finish(tx, result, true).await
    }

    /// Read the snapshot for `keys`, plan, write: the body of [`Store::transact`].
    async fn transact_in(
        &self,
        tx: &idb::Transaction,
        keys: &[KeyRef],
        read_conflicts: bool,
        plan: &mut dyn FnMut(Snapshot) -> Result<Writes>,
    ) -> Result<()> {
        let err = in_tx(tx);
        let outbox = tx.object_store(OUTBOX).map_err(err)?;
        let meta_store = tx.object_store(META).map_err(err)?;
        let meta_key = JsValue::from_str(META_KEY);
        let unreadable = |what: String| move |reason: String| Error::Storage(format!("unreadable {what}: {reason}"));

        // Issue every read first, then collect: the requests run back to back.
        // `into_future` now: it attaches the success listener, and a request whose event
        // fires before anyone listens would never resolve.
        let meta_request = meta_store.get(meta_key.clone()).map_err(err)?.into_future();
        let absent = absent_keys(tx, keys).await?;
        let mut record_requests = Vec::with_capacity(keys.len());
        for key in keys.iter().filter(|k| !absent.contains(k)) {
            let store = tx.object_store(&key.0).map_err(err)?;
            record_requests.push((key, store.get(JsValue::from_str(&key.1)).map_err(err)?.into_future()));
        }
        let meta: Meta = match meta_request.await.map_err(err)? {
            Some(js) => decode(js, None).map_err(unreadable("client metadata".into()))?,
            None => return Err(Error::Storage("metadata missing: open_meta was not called".into())),
        };
        let mut snapshot = Snapshot::new(meta);
        let mut pending_keys = Vec::new();
        let mut conflict_ids = Vec::new();
        let mut skipped = Vec::new();
        for (key, request) in record_requests {
            let Some(js) = request.await.map_err(err)? else { continue };
            let record: EntityRecord = match decode(js, self.sealer()) {
                Ok(record) => record,
                Err(reason) => {
                    // One record broken by hand must not stop every sync and every write
                    // of its key: it reads as absent (and is reported); its queued
                    // writes, if any, are still read by key.
                    skipped.push(format!("{}/{}: {reason}", key.0, key.1));
                    pending_keys.push(key.clone());
                    continue;
                }
            };
            if record.pending > 0 {
                pending_keys.push(key.clone());
            }
            conflict_ids.extend(record.conflict);
            snapshot.records.insert(key.clone(), record);
        }
        if read_conflicts && !conflict_ids.is_empty() {
            let conflicts = tx.object_store(CONFLICTS).map_err(err)?;
            for id in conflict_ids {
                let Some(js) = conflicts.get(JsValue::from_f64(id as f64)).map_err(err)?.await.map_err(err)? else {
                    continue;
                };
                let conflict: ConflictRecord =
                    decode(js, self.sealer()).map_err(unreadable(format!("conflict {id}")))?;
                snapshot.conflicts.insert(id, conflict);
            }
        }
        let by_key = outbox.index(BY_KEY).map_err(err)?;
        // All the index reads go out before the first is awaited (a push answer of 100
        // keys would otherwise wait for 100 round trips one after the other).
        let mut queued_requests = Vec::with_capacity(pending_keys.len());
        for key in pending_keys {
            let pair: JsValue = Array::of2(&JsValue::from_str(&key.0), &JsValue::from_str(&key.1)).into();
            let range = KeyRange::only(&pair).map_err(err)?;
            queued_requests.push((key, by_key.get_all(Some(Query::KeyRange(range)), None).map_err(err)?.into_future()));
        }
        for (key, request) in queued_requests {
            let raw = request.await.map_err(err)?;
            let mut queued = Vec::with_capacity(raw.len());
            for js in raw {
                let what = format!("outbox entry {}", key_text(&prop(&js, "id")));
                queued.push(decode::<OutboxEntry>(js, self.sealer()).map_err(unreadable(what))?);
            }
            queued.sort_by_key(|e| e.id);
            if !queued.is_empty() {
                snapshot.queued.insert(key, queued);
            }
        }
        self.report_skipped(skipped);

        let mut writes = plan(snapshot)?;

        // Encode everything before the first write request: records and outbox entries as
        // one JSON text (one `JSON.parse`, one string out of wasm, not two per key).
        let (records_js, entries_js) = encode_batch(&mut writes, self.sealer())?;
        let audit_js = writes
            .audit
            .iter()
            .map(|a| encode_internal(a, "an audit entry", self.sealer()))
            .collect::<Result<Vec<_>>>()?;
        let conflicts_js = writes
            .conflicts_put
            .values()
            .map(|c| encode_internal(c, "a conflict", self.sealer()))
            .collect::<Result<Vec<_>>>()?;
        let meta_js = writes.meta.as_ref().map(|m| encode_internal(m, "client metadata", None)).transpose()?;

        // Write requests are not awaited one by one: a failing one aborts the transaction,
        // and the caller awaits its outcome.
        for (i, ((collection, key), js)) in writes.records.keys().zip(&records_js).enumerate() {
            let store = tx.object_store(collection).map_err(err)?;
            match js {
                Some(js) => drop(store.put(js, None).map_err(err)?),
                None => drop(store.delete(JsValue::from_str(key)).map_err(err)?),
            }
            #[cfg(feature = "testing")]
            if i == 0 && self.fail_after_entity.replace(false) {
                return Err(Error::Storage("injected fault".into()));
            }
        }
        for id in &writes.outbox_delete {
            drop(outbox.delete(JsValue::from_f64(*id as f64)).map_err(err)?);
        }
        for js in &entries_js {
            drop(outbox.put(js, None).map_err(err)?);
        }
        if !audit_js.is_empty() {
            let audit = tx.object_store(AUDIT).map_err(err)?;
            for js in &audit_js {
                drop(audit.add(js, None).map_err(err)?);
            }
            let count = audit.count(None).map_err(err)?.await.map_err(err)? as usize;
            let limit = self.config.audit_limit;
            if count > limit {
                // Oldest first by their increasing ids.
                let oldest = audit.get_all_keys(None, Some(to_u32(count - limit))).map_err(err)?.await.map_err(err)?;
                for key in oldest {
                    drop(audit.delete(key).map_err(err)?);
                }
            }
        }
        if !conflicts_js.is_empty() || !writes.conflicts_delete.is_empty() {
            let conflicts = tx.object_store(CONFLICTS).map_err(err)?;
            for id in &writes.conflicts_delete {
                drop(conflicts.delete(JsValue::from_f64(*id as f64)).map_err(err)?);
            }
            for js in &conflicts_js {
                drop(conflicts.put(js, None).map_err(err)?);
            }
        }
        if let Some(js) = &meta_js {
            drop(meta_store.put(js, Some(&meta_key)).map_err(err)?);
        }
        Ok(())
    }

    async fn mark_sent_in(&self, tx: &idb::Transaction, ids: &[u64]) -> Result<()> {
        let store = tx.object_store(OUTBOX).map_err(in_tx(tx))?;
        for &id in ids {
            let key = JsValue::from_f64(id as f64);
            let Some(entry) = store.get(key).map_err(in_tx(tx))?.await.map_err(in_tx(tx))? else { continue };
            Reflect::set(&entry, &JsValue::from_str("sent"), &JsValue::TRUE).map_err(|e| classify(&e))?;
            drop(store.put(&entry, None).map_err(in_tx(tx))?);
        }
        Ok(())
    }
}

/// Reads for the JS API (see [`RecordView`]). With encryption at rest the values must be
/// opened in Rust: then these return `None` and the caller uses the `Store` reads.
impl IdbStore {
    pub async fn get_view(&self, collection: &str, key: &str) -> Option<Result<Option<RecordView>>> {
        if self.sealer().is_some() {
            return None;
        }
        Some(self.get_with(collection, key, &Decoder::one(&decode_view)).await)
    }

    pub async fn list_views(&self, collection: &str, query: &ListQuery) -> Option<Result<Vec<RecordView>>> {
        if self.sealer().is_some() {
            return None;
        }
        Some(self.list_with(collection, query, &Decoder { one: &decode_view, many: Some(&decode_views) }).await)
    }

    async fn get_with<T>(&self, collection: &str, key: &str, decode: &Decoder<'_, T>) -> Result<Option<T>> {
        self.check(collection)?;
        let tx = self.transaction(&[collection], TransactionMode::ReadOnly, Durability::Default).await?;
        let result = async {
            let store = tx.object_store(collection).map_err(in_tx(&tx))?;
            match store.get(JsValue::from_str(key)).map_err(in_tx(&tx))?.await.map_err(in_tx(&tx))? {
                None => Ok(None),
                Some(js) => (decode.one)(js)
                    .map(Some)
                    .map_err(|reason| Error::Storage(format!("unreadable record {collection}/{key}: {reason}"))),
            }
        }
        .await;
        finish(tx, result, false).await
    }

    async fn list_with<T: Listed>(
        &self,
        collection: &str,
        query: &ListQuery,
        decode: &Decoder<'_, T>,
    ) -> Result<Vec<T>> {
        self.check(collection)?;
        if query.limit == Some(0) {
            // IndexedDB reads a count of 0 as "no limit".
            return Ok(Vec::new());
        }
        let tx = self.transaction(&[collection], TransactionMode::ReadOnly, Durability::Default).await?;
        let mut skipped = Vec::new();
        let result = self.list_in(&tx, collection, query, &mut skipped, decode).await;
        self.report_skipped(skipped);
        finish(tx, result, false).await
    }
}

impl Store for IdbStore {
    async fn open_meta(&self, fresh_client_id: &str) -> Result<Meta> {
        let tx = self.transaction(&[META], TransactionMode::ReadWrite, Durability::Default).await?;
        let result = self.open_meta_in(&tx, fresh_client_id).await;
        finish(tx, result, true).await
    }

    async fn get(&self, collection: &str, key: &str) -> Result<Option<EntityRecord>> {
        self.get_with(collection, key, &Decoder::one(&|js| decode(js, self.sealer()))).await
    }

    async fn list(&self, collection: &str, query: &ListQuery) -> Result<Vec<EntityRecord>> {
        self.list_with(collection, query, &Decoder::one(&|js| decode(js, self.sealer()))).await
    }

    async fn run_transaction(
        &self,
        keys: &[KeyRef],
        durability: Durability,
        plan: &mut dyn FnMut(Snapshot) -> Result<Writes>,
    ) -> Result<()> {
        self.run_transaction_over(&[OUTBOX, META, AUDIT, CONFLICTS], keys, durability, plan).await
    }

    async fn run_local_transaction(
        &self,
        keys: &[KeyRef],
        plan: &mut dyn FnMut(Snapshot) -> Result<Writes>,
    ) -> Result<()> {
        self.run_transaction_over(&[OUTBOX, META], keys, Durability::Default, plan).await
    }

    async fn meta(&self) -> Result<Option<Meta>> {
        let tx = self.transaction(&[META], TransactionMode::ReadOnly, Durability::Default).await?;
        let result = async {
            let store = tx.object_store(META).map_err(in_tx(&tx))?;
            match store.get(JsValue::from_str(META_KEY)).map_err(in_tx(&tx))?.await.map_err(in_tx(&tx))? {
                None => Ok(None),
                Some(js) => decode(js, None)
                    .map(Some)
                    .map_err(|reason| Error::Storage(format!("unreadable client metadata: {reason}"))),
            }
        }
        .await;
        finish(tx, result, false).await
    }

    async fn conflicts(&self) -> Result<Vec<ConflictRecord>> {
        let tx = self.transaction(&[CONFLICTS], TransactionMode::ReadOnly, Durability::Default).await?;
        let mut skipped = Vec::new();
        let result = async {
            let store = tx.object_store(CONFLICTS).map_err(in_tx(&tx))?;
            let label = |id: &JsValue| format!("{CONFLICTS}/{}", key_text(id));
            scan(
                &tx,
                &store,
                "id",
                None,
                &|_: &ConflictRecord| true,
                &label,
                &mut skipped,
                &Decoder::one(&|js| decode(js, self.sealer())),
            )
            .await
        }
        .await;
        self.report_skipped(skipped);
        finish(tx, result, false).await
    }

    async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let tx = self.transaction(&[AUDIT], TransactionMode::ReadOnly, Durability::Default).await?;
        let mut skipped = Vec::new();
        let result = async {
            // At most `auditLimit` entries exist: read them all, newest first.
            let store = tx.object_store(AUDIT).map_err(in_tx(&tx))?;
            let raw = store.get_all(None, None).map_err(in_tx(&tx))?.await.map_err(in_tx(&tx))?;
            let label = |js: &JsValue| format!("{AUDIT}/{}", key_text(&prop(js, "id")));
            let mut entries = decode_all(
                raw,
                &label,
                &|_: &AuditEntry| true,
                &mut skipped,
                &Decoder::one(&|js| decode(js, self.sealer())),
            );
            entries.reverse();
            entries.truncate(limit);
            Ok(entries)
        }
        .await;
        self.report_skipped(skipped);
        finish(tx, result, false).await
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let tx = self.transaction(&[OUTBOX], TransactionMode::ReadOnly, Durability::Default).await?;
        let mut skipped = Vec::new();
        let result = async {
            let store = tx.object_store(OUTBOX).map_err(in_tx(&tx))?;
            let label = |id: &JsValue| format!("{OUTBOX}/{}", key_text(id));
            scan(
                &tx,
                &store,
                "id",
                Some(limit),
                &|_: &OutboxEntry| true,
                &label,
                &mut skipped,
                &Decoder::one(&|js| decode(js, self.sealer())),
            )
            .await
        }
        .await;
        self.report_skipped(skipped);
        finish(tx, result, false).await
    }

    async fn pending_count(&self) -> Result<usize> {
        let tx = self.transaction(&[OUTBOX], TransactionMode::ReadOnly, Durability::Default).await?;
        let result = async {
            let store = tx.object_store(OUTBOX).map_err(in_tx(&tx))?;
            let count = store.count(None).map_err(in_tx(&tx))?.await.map_err(in_tx(&tx))?;
            Ok(count as usize)
        }
        .await;
        finish(tx, result, false).await
    }

    async fn take_batch(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let tx = self.transaction(&[OUTBOX], TransactionMode::ReadWrite, Durability::Strict).await?;
        let mut skipped = Vec::new();
        let result = async {
            let store = tx.object_store(OUTBOX).map_err(in_tx(&tx))?;
            let raw = store.get_all(None, Some(to_u32(limit))).map_err(in_tx(&tx))?.await.map_err(in_tx(&tx))?;
            let mut batch = Vec::with_capacity(raw.len());
            for js in raw {
                match decode::<OutboxEntry>(js.clone(), self.sealer()) {
                    Ok(mut entry) => {
                        if !entry.sent {
                            Reflect::set(&js, &JsValue::from_str("sent"), &JsValue::TRUE).map_err(|e| classify(&e))?;
                            drop(store.put(&js, None).map_err(in_tx(&tx))?);
                            entry.sent = true;
                        }
                        batch.push(entry);
                    }
                    Err(reason) => skipped.push(format!("{OUTBOX}/{}: {reason}", key_text(&prop(&js, "id")))),
                }
            }
            Ok(batch)
        }
        .await;
        self.report_skipped(skipped);
        finish(tx, result, true).await
    }

    async fn mark_sent(&self, ids: &[u64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let tx = self.transaction(&[OUTBOX], TransactionMode::ReadWrite, Durability::Strict).await?;
        let result = self.mark_sent_in(&tx, ids).await;
        finish(tx, result, true).await
    }

    async fn clear(&self) -> Result<()> {
        // Every store in the database, including collections this version of the app
        // does not declare: clearing is how a user's data is wiped (logout).
        let db = self.database().await?;
        let present = db.object_store_names();
        let names: Vec<String> = (0..present.length()).filter_map(|i| present.item(i)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let tx = self.transaction(&names, TransactionMode::ReadWrite, Durability::Strict).await?;
        let result = names.iter().try_for_each(|name| {
            let store = tx.object_store(name).map_err(in_tx(&tx))?;
            store.clear().map_err(in_tx(&tx)).map(drop)
        });
        finish(tx, result, true).await
    }
}

// ---- opening and upgrading ----

fn factory() -> Result<Factory> {
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
async fn open_connection(name: &str, specs: &Rc<Vec<StoreSpec>>) -> Result<Connection> {
    let factory = factory()?;
    let mut version: Option<u32> = None;
    for _ in 0..MAX_OPEN_ATTEMPTS {
        let db = match open_once(&factory, name, version, specs).await {
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
        if !inspection.missing {
            return Ok(connection);
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
) -> Result<IdbDatabase, OpenFailure> {
    let mut request = factory.open(name, version).map_err(|e| OpenFailure::Failed(classify_idb(e)))?;
    let upgrade_error: Rc<RefCell<Option<Error>>> = Rc::new(RefCell::new(None));
    {
        let (specs, upgrade_error) = (specs.clone(), upgrade_error.clone());
        request.on_upgrade_needed(move |event: VersionChangeEvent| {
            if let Err(e) = upgrade(&event, &specs) {
                *upgrade_error.borrow_mut() = Some(e);
                // Aborting the versionchange transaction fails the open request.
                if let Some(tx) = event.target().ok().and_then(|request| request.transaction()) {
                    let _ = tx.abort();
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
                Err(OpenFailure::Failed(classify_idb(e)))
            }
        }
    }
}

/// In `upgradeneeded`: create what is missing, delete nothing.
fn upgrade(event: &VersionChangeEvent, specs: &[StoreSpec]) -> Result<()> {
    let request = event.target().map_err(classify_idb)?;
    let db = request.database().map_err(classify_idb)?;
    let tx = request.transaction().ok_or_else(|| Error::Storage("upgradeneeded without its transaction".into()))?;
    let existing = db.store_names();
    for spec in specs {
        let store = if existing.contains(&spec.name) {
            tx.object_store(&spec.name)
        } else {
            db.create_object_store(&spec.name, spec.params())
        }
        .map_err(|e| with_context(format!("cannot create object store \"{}\"", spec.name), e))?;
        let present = store.index_names();
        for (index, key_path) in &spec.indexes {
            if present.contains(index) {
                continue;
            }
            let mut params = IndexParams::new();
            params.unique(false);
            store
                .create_index(index, key_path.clone(), Some(params))
                .map_err(|e| with_context(format!("cannot create index \"{index}\" on \"{}\"", spec.name), e))?;
        }
    }
    Ok(())
}

struct Inspection {
    /// Some declared store or index does not exist yet.
    missing: bool,
    /// `Meta.format` as stored, if there is metadata.
    format: Option<u32>,
}

async fn inspect(db: &IdbDatabase, specs: &[StoreSpec]) -> Result<Inspection> {
    let names = db.object_store_names();
    let present: Vec<&str> = specs.iter().map(|s| s.name.as_str()).filter(|n| names.contains(n)).collect();
    let inspection = Inspection { missing: present.len() < specs.len(), format: None };
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
        let indexes = tx.object_store(&spec.name).map_err(in_tx(tx))?.index_names();
        if spec.indexes.iter().any(|(name, _)| !indexes.contains(name)) {
            inspection.missing = true;
        }
    }
    if present.contains(&META) {
        let store = tx.object_store(META).map_err(in_tx(tx))?;
        if let Some(meta) = store.get(JsValue::from_str(META_KEY)).map_err(in_tx(tx))?.await.map_err(in_tx(tx))? {
            // Read the one field, not the whole record: a newer format may have changed
            // the rest.
            inspection.format =
                prop(&meta, "format").as_f64().map(|f| if f >= u32::MAX as f64 { u32::MAX } else { f as u32 });
        }
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

// ---- transactions ----

fn start_transaction(
    db: &IdbDatabase,
    stores: &[&str],
    mode: TransactionMode,
    durability: Durability,
) -> Result<idb::Transaction, JsValue> {
    let names = || -> Array { stores.iter().map(|s| JsValue::from_str(s)).collect() };
    let tx = match (durability, stores) {
        // The common cases through the direct binding; one store by name, not in an
        // array (Chrome's `transaction()` takes a string faster than a sequence).
        (Durability::Default, [store]) => db.transaction_with_str_and_mode(store, web_mode(mode))?,
        (Durability::Default, _) => db.transaction_with_str_sequence_and_mode(&names(), web_mode(mode))?,
        (Durability::Strict, _) => {
            let mode = match mode {
                TransactionMode::ReadWrite => "readwrite",
                _ => "readonly",
            };
            db.unchecked_ref::<Database>().transaction_with_options(&names(), mode, &TransactionOptions::strict())?
        }
    };
    Ok(idb::Transaction::from(tx))
}

fn web_mode(mode: TransactionMode) -> IdbTransactionMode {
    match mode {
        TransactionMode::ReadWrite => IdbTransactionMode::Readwrite,
        _ => IdbTransactionMode::Readonly,
    }
}

/// End a transaction: on success wait for `complete` if asked (an `abort` instead is an
/// error); on error abort it explicitly, so nothing it wrote commits.
async fn finish<T>(tx: idb::Transaction, result: Result<T>, wait: bool) -> Result<T> {
    match result {
        Ok(value) if wait => {
            let tx = IdbTransaction::from(tx);
            if Settled::new(tx.clone()).await {
                Ok(value)
            } else {
                Err(match tx.error() {
                    Some(cause) => classify(&cause),
                    None => Error::Storage("the transaction was aborted".into()),
                })
            }
        }
        Ok(value) => Ok(value),
        Err(error) => {
            // Throws only if the transaction already ended, and then there is nothing
            // left to undo.
            let _ = tx.abort();
            Err(error)
        }
    }
}

/// Resolves when a transaction ends: `true` on `complete`, `false` on `abort`. Unlike
/// idb's `TransactionFuture` it does not resolve on a bubbled request `error` (which is
/// followed by `abort`, whose handler would by then be dropped) and unhooks itself.
struct Settled {
    tx: IdbTransaction,
    state: Rc<RefCell<(Option<bool>, Option<Waker>)>>,
    _on_complete: Closure<dyn FnMut(Event)>,
    _on_abort: Closure<dyn FnMut(Event)>,
}

impl Settled {
    fn new(tx: IdbTransaction) -> Settled {
        let state: Rc<RefCell<(Option<bool>, Option<Waker>)>> = Rc::new(RefCell::new((None, None)));
        let handler = |committed: bool| {
            let state = state.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                let waker = {
                    let mut state = state.borrow_mut();
                    state.0.get_or_insert(committed);
                    state.1.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            })
        };
        let (on_complete, on_abort) = (handler(true), handler(false));
        tx.set_oncomplete(Some(on_complete.as_ref().unchecked_ref()));
        tx.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
        Settled { tx, state, _on_complete: on_complete, _on_abort: on_abort }
    }
}

impl Future for Settled {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut state = self.state.borrow_mut();
        match state.0 {
            Some(committed) => Poll::Ready(committed),
            None => {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        self.tx.set_oncomplete(None);
        self.tx.set_onabort(None);
    }
}

// ---- reading many records ----

/// Records of `store` in key order, keeping those `keep` accepts, at most `limit`. Reads
/// in batches of what is still missing, resuming after the last key seen, so skipped
/// records (tombstones, unreadable ones) do not eat into the limit.
#[allow(clippy::too_many_arguments)]
async fn scan<T>(
    tx: &idb::Transaction,
    store: &ObjectStore,
    key_field: &str,
    limit: Option<usize>,
    keep: &dyn Fn(&T) -> bool,
    label: &dyn Fn(&JsValue) -> String,
    skipped: &mut Vec<String>,
    decode: &Decoder<'_, T>,
) -> Result<Vec<T>> {
    let mut out: Vec<T> = Vec::new();
    let mut after: Option<JsValue> = None;
    loop {
        let want = limit.map(|l| l.saturating_sub(out.len()));
        let range = match &after {
            Some(key) => Some(Query::KeyRange(KeyRange::lower_bound(key, Some(true)).map_err(in_tx(tx))?)),
            None => None,
        };
        let raw = store.get_all(range, want.map(to_u32)).map_err(in_tx(tx))?.await.map_err(in_tx(tx))?;
        let fetched = raw.len();
        if let Some(last) = raw.last() {
            after = Some(prop(last, key_field));
        }
        let records = decode_all(raw, &|js| label(&prop(js, key_field)), keep, skipped, decode);
        out.extend(records);
        match (want, limit) {
            (Some(want), Some(limit)) if fetched >= want && want > 0 && out.len() < limit => continue,
            _ => break,
        }
    }
    if let Some(limit) = limit {
        out.truncate(limit);
    }
    Ok(out)
}

/// How raw stored objects become `T`: one at a time, and optionally all at once (one
/// crossing of the JS boundary for a whole `getAll`; `None` if any of them is unreadable,
/// and then they are decoded one by one to say which).
struct Decoder<'a, T> {
    one: &'a dyn Fn(JsValue) -> std::result::Result<T, String>,
    many: Option<&'a DecodeMany<T>>,
}

type DecodeMany<T> = dyn Fn(&[JsValue]) -> Option<Vec<T>>;

impl<'a, T> Decoder<'a, T> {
    fn one(one: &'a dyn Fn(JsValue) -> std::result::Result<T, String>) -> Self {
        Decoder { one, many: None }
    }
}

/// Decode raw records, dropping those `keep` refuses and reporting unreadable ones.
fn decode_all<T>(
    raw: Vec<JsValue>,
    label: &dyn Fn(&JsValue) -> String,
    keep: &dyn Fn(&T) -> bool,
    skipped: &mut Vec<String>,
    decode: &Decoder<'_, T>,
) -> Vec<T> {
    if let Some(all) = decode.many.filter(|_| raw.len() > 1).and_then(|many| many(&raw)) {
        return all.into_iter().filter(|record| keep(record)).collect();
    }
    let mut out = Vec::with_capacity(raw.len());
    for js in raw {
        let name = label(&js);
        match (decode.one)(js) {
            Ok(record) if keep(&record) => out.push(record),
            Ok(_) => {}
            Err(reason) => skipped.push(format!("{name}: {reason}")),
        }
    }
    out
}

/// Batches at least this large first ask which of their keys exist.
const PROBE_AT: usize = 16;

/// Keys of `keys` known not to be stored, learned with one `getAllKeys` over each
/// collection's key range when a batch is large: a page of new records (`putMany`, a
/// first pull) then reads nothing more. A range crowded with other keys (more than four
/// per batch key) is not probed further, and its keys are read one by one as usual.
async fn absent_keys<'k>(tx: &idb::Transaction, keys: &'k [KeyRef]) -> Result<HashSet<&'k KeyRef>> {
    let err = in_tx(tx);
    let mut absent = HashSet::new();
    let mut by_collection: BTreeMap<&str, Vec<&'k KeyRef>> = BTreeMap::new();
    for key in keys {
        by_collection.entry(key.0.as_str()).or_default().push(key);
    }
    for (collection, batch) in by_collection {
        if batch.len() < PROBE_AT {
            continue;
        }
        // The range in IndexedDB's key order: one from Rust's byte-order min to max could
        // miss keys of the batch and call stored records absent.
        let idb_order = |a: &&&KeyRef, b: &&&KeyRef| key_order(&a.1, &b.1);
        let (Some(low), Some(high)) = (batch.iter().min_by(idb_order), batch.iter().max_by(idb_order)) else {
            continue;
        };
        let (low, high) = (&low.1, &high.1);
        let limit = to_u32(batch.len().saturating_mul(4));
        let range = KeyRange::bound(&JsValue::from_str(low), &JsValue::from_str(high), None, None).map_err(err)?;
        let store = tx.object_store(collection).map_err(err)?;
        let stored = store.get_all_keys(Some(Query::KeyRange(range)), Some(limit)).map_err(err)?.await.map_err(err)?;
        if stored.len() >= limit as usize {
            continue;
        }
        let stored: HashSet<String> = stored.iter().filter_map(JsValue::as_string).collect();
        absent.extend(batch.into_iter().filter(|k| !stored.contains(&k.1)));
    }
    Ok(absent)
}

// ---- records as the app reads them ----

/// A stored record as `get` and `list` hand it to the app: its metadata, checked, and
/// the `value` object as IndexedDB returned it (a fresh structured clone, so the app may
/// keep or change it), with no trip through Rust.
pub struct RecordView {
    pub record: EntityRecord,
    /// `undefined` for a tombstone.
    pub value: JsValue,
}

impl RecordView {
    /// `record` (its metadata, checked) with the value of the stored object `js`.
    fn new(record: EntityRecord, js: &JsValue) -> RecordView {
        let value = prop(js, "value");
        RecordView { record, value: if value.is_null() { JsValue::UNDEFINED } else { value } }
    }
}

/// What `list_in` needs of what it lists.
trait Listed {
    /// Not a tombstone.
    fn is_live(&self) -> bool;
    /// A top-level field of the value, for a scan by an undeclared field.
    fn field(&self, name: &str) -> Option<Value>;
}

impl Listed for EntityRecord {
    fn is_live(&self) -> bool {
        self.value.is_some()
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.value.as_ref().and_then(|v| v.get(name)).cloned()
    }
}

impl Listed for RecordView {
    fn is_live(&self) -> bool {
        !self.value.is_undefined()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let field = Reflect::get(&self.value, &JsValue::from_str(name)).ok().filter(|f| !f.is_undefined())?;
        decode_json(&field).ok()
    }
}

thread_local! {
    static METADATA_FIELDS: Array = RECORD_METADATA_FIELDS.iter().map(|f| JsValue::from_str(f)).collect();
}

/// Check a stored record's metadata as [`decode`] would, but leave its value in JS.
fn decode_view(js: JsValue) -> std::result::Result<RecordView, String> {
    let metadata =
        METADATA_FIELDS.with(|fields| js_sys::JSON::stringify_with_replacer(&js, fields)).map_err(|e| describe(&e))?;
    let record: EntityRecord = serde_json::from_str(&String::from(metadata)).map_err(|e| e.to_string())?;
    Ok(RecordView::new(record, &js))
}

/// [`decode_view`] for many records at once: their metadata in one JSON text.
fn decode_views(raw: &[JsValue]) -> Option<Vec<RecordView>> {
    let all: Array = raw.iter().collect();
    let metadata = METADATA_FIELDS.with(|fields| js_sys::JSON::stringify_with_replacer(&all, fields)).ok()?;
    let records: Vec<EntityRecord> = serde_json::from_str(&String::from(metadata)).ok()?;
    if records.len() != raw.len() {
        return None;
    }
    Some(records.into_iter().zip(raw).map(|(record, js)| RecordView::new(record, js)).collect())
}

// ---- values ----

/// JSON objects become plain JS objects (so index key paths like `value.tripId` see
/// them), `None` becomes `null`, integers become numbers.
/// With a sealer, app values are encrypted first (see `web::crypto`).
fn encode<T: Serialize + Clone + AppValues>(
    value: &T,
    sealer: Option<&Sealer>,
) -> std::result::Result<JsValue, String> {
    match sealer {
        None => encode_json(value),
        Some(sealer) => encode_json(&sealer.seal(value).map_err(|e| e.to_string())?),
    }
}

/// The records (`None` for a deletion) and outbox entries of `writes` as JS objects, in
/// the order of `writes.records` and `writes.outbox_put`, from one JSON text.
///
/// A record whose base equals its value (every record as the server last sent it) is
/// encoded once, with `base` then referring to the same JS object: IndexedDB's
/// structured clone stores a shared object once and reads it back as two equal fields,
/// so the stored shape is unchanged while the text and the bytes cloned are halved.
/// Such a record's `base` is consumed.
fn encode_batch(writes: &mut Writes, sealer: Option<&Sealer>) -> Result<(Vec<Option<JsValue>>, Vec<JsValue>)> {
    let mut shared_base = Vec::with_capacity(writes.records.len());
    for record in writes.records.values_mut().flatten() {
        let shared = record.base.is_some() && record.base == record.value;
        if shared {
            record.base = None;
        }
        shared_base.push(shared);
    }
    let records: Vec<&EntityRecord> = writes.records.values().flatten().collect();
    let entries: Vec<&OutboxEntry> = writes.outbox_put.values().collect();
    let (encoded_records, encoded_entries) = match sealer {
        None => (encode_many(&records), encode_many(&entries)),
        Some(sealer) => {
            let sealed_records = records.iter().map(|r| sealer.seal(*r)).collect::<Result<Vec<_>>>()?;
            let sealed_entries = entries.iter().map(|e| sealer.seal(*e)).collect::<Result<Vec<_>>>()?;
            (encode_many(&sealed_records), encode_many(&sealed_entries))
        }
    };
    let failed = |e: String| Error::Storage(format!("cannot encode records for IndexedDB: {e}"));
    let (encoded_records, encoded_entries) = (encoded_records.map_err(failed)?, encoded_entries.map_err(failed)?);
    let mut next = encoded_records.into_iter().zip(shared_base).map(|(js, shared)| {
        if shared {
            // A fresh object with two own data properties: setting one cannot fail.
            let _ = Reflect::set(&js, &JsValue::from_str("base"), &prop(&js, "value"));
        }
        js
    });
    let mut records_js = Vec::with_capacity(writes.records.len());
    for record in writes.records.values() {
        records_js.push(match record {
            Some(_) => Some(next.next().ok_or_else(|| Error::Storage("a record was lost in encoding".into()))?),
            None => None,
        });
    }
    if encoded_entries.len() != writes.outbox_put.len() {
        return Err(Error::Storage("an outbox entry was lost in encoding".into()));
    }
    Ok((records_js, encoded_entries))
}

fn encode_internal<T: Serialize + Clone + AppValues>(
    value: &T,
    what: &str,
    sealer: Option<&Sealer>,
) -> Result<JsValue> {
    encode(value, sealer).map_err(|e| Error::Storage(format!("cannot encode {what}: {e}")))
}

fn decode<T: DeserializeOwned + AppValues>(js: JsValue, sealer: Option<&Sealer>) -> std::result::Result<T, String> {
    let mut value: T = decode_json(&js)?;
    if let Some(sealer) = sealer {
        sealer.open(&mut value)?;
    }
    Ok(value)
}

fn prop(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn key_text(key: &JsValue) -> String {
    // Numbers as JS writes them (no float formatting compiled into the module).
    match key.as_string() {
        Some(s) => s,
        None => js_sys::JSON::stringify(key).ok().and_then(|s| s.as_string()).unwrap_or_else(|| format!("{key:?}")),
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// ---- errors ----

/// Map a thrown JS value: `QuotaExceededError` is `Error::QuotaExceeded`; anything else
/// is `Error::Storage` with the exception's name and message.
fn classify(js: &JsValue) -> Error {
    let (name, message) = js_parts(js);
    from_parts(None, name, message)
}

/// The same for an `idb` error, keeping idb's description of what failed.
fn classify_idb(error: idb::Error) -> Error {
    let (name, message) = failure_parts(&error);
    let context = error.to_string();
    let context = context.split(": ").next().unwrap_or_default().to_owned();
    from_parts(Some(context), name, message)
}

/// Errors of requests inside `tx`: a request that failed because the transaction was
/// aborted reports the transaction's own error (Chrome reports `AbortError` for a
/// request and `QuotaExceededError` for its transaction near the quota).
fn in_tx(tx: &idb::Transaction) -> impl Fn(idb::Error) -> Error + Copy + '_ {
    move |error| {
        let (name, _) = failure_parts(&error);
        match tx.error() {
            Some(cause) if name.as_deref() == Some("AbortError") => classify(&cause),
            _ => classify_idb(error),
        }
    }
}

fn with_context(context: String, error: idb::Error) -> Error {
    match classify_idb(error) {
        Error::Storage(message) => Error::Storage(format!("{context}: {message}")),
        other => other,
    }
}

fn from_parts(context: Option<String>, name: Option<String>, message: String) -> Error {
    if name.as_deref() == Some("QuotaExceededError") {
        return Error::QuotaExceeded(message);
    }
    let mut text = context.filter(|c| !c.is_empty()).map(|c| format!("{c}: ")).unwrap_or_default();
    if let Some(name) = name {
        text.push_str(&name);
        if !message.is_empty() {
            text.push_str(": ");
        }
    }
    text.push_str(&message);
    Error::Storage(text)
}

fn dom_name(js: &JsValue) -> Option<String> {
    js_parts(js).0
}

/// `(name, message)` of a DOMException, an Error, or anything thrown.
fn js_parts(js: &JsValue) -> (Option<String>, String) {
    if let Some(exception) = js.dyn_ref::<DomException>() {
        return (Some(exception.name()), exception.message());
    }
    let name = prop(js, "name").as_string();
    match prop(js, "message").as_string() {
        Some(message) => (name, message),
        None => (name, js.as_string().unwrap_or_else(|| format!("{js:?}"))),
    }
}

fn describe(js: &JsValue) -> String {
    match js_parts(js) {
        (Some(name), message) if !message.is_empty() => format!("{name}: {message}"),
        (Some(name), _) => name,
        (None, message) => message,
    }
}

/// The JS exception inside an idb error, split into name and message.
fn failure_parts(error: &idb::Error) -> (Option<String>, String) {
    use idb::Error as E;
    let js: Option<JsValue> = match error {
        E::DomException(e) => Some(e.clone().into()),
        E::AddFailed(js)
        | E::ClearFailed(js)
        | E::CountFailed(js)
        | E::CursorAdvanceFailed(js)
        | E::CursorContinueFailed(js)
        | E::CursorKeyNotFound(js)
        | E::CursorPrimaryKeyNotFound(js)
        | E::CursorValueNotFound(js)
        | E::DeleteFailed(js)
        | E::GetAllFailed(js)
        | E::GetAllKeysFailed(js)
        | E::GetFailed(js)
        | E::GetKeyFailed(js)
        | E::IndexCreateFailed(js)
        | E::IndexDeleteFailed(js)
        | E::IndexedDbDeleteFailed(js)
        | E::IndexedDbNotFound(js)
        | E::IndexedDbOpenFailed(js)
        | E::IndexNotFound(js)
        | E::KeyPathNotFound(js)
        | E::KeyRangeBoundNotFound(js)
        | E::KeyRangeCreateFailed(js)
        | E::KeyRangeIncludesFailed(js)
        | E::ObjectStoreCreateFailed(js)
        | E::ObjectStoreDeleteFailed(js)
        | E::ObjectStoreNotFound(js)
        | E::OpenCursorFailed(js)
        | E::OpenKeyCursorFailed(js)
        | E::RequestErrorNotFound(js)
        | E::RequestResultNotFound(js)
        | E::TransactionAbortError(js)
        | E::TransactionCommitError(js)
        | E::TransactionModeNotFound(js)
        | E::TransactionOpenFailed(js)
        | E::UpdateFailed(js) => Some(js.clone()),
        _ => None,
    };
    match js {
        Some(js) => js_parts(&js),
        None => (None, error.to_string()),
    }
}
