//! The store itself: [`IdbStore`], its connection (opened at start, reopened after a
//! `versionchange` or a close by the browser, closed for good by `close`), transactions
//! started on the live connection, and the core's [`Store`] contract on top of them.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use js_sys::Reflect;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use web_sys::{IdbDatabase, IdbTransaction};

use pwa_sync_core::config::ClientConfig;
use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::model::{AuditEntry, KeyRef, Snapshot, Writes};
use pwa_sync_core::query::{exec::Answer, plan::Plan, Query};
use pwa_sync_core::record::{ConflictRecord, EntityRecord, ListQuery, Meta, OutboxEntry};
use pwa_sync_core::store::{Durability, Scope, Store};

use super::codec::{decode, decode_entry, decode_record, fresh_meta, key_text};
use super::error::{classify, dom_name};
use super::names::{to_u32, AUDIT, CONFLICTS, META, META_KEY, OUTBOX};
use super::open::{open_connection, schema, Connection, Found};
use super::scan::{decode_all, scan};
use super::script;
use super::stored;
use super::transaction::{finish, start_transaction, Mode};
use super::upgrade::Upgrade;
use crate::convert::prop;
use crate::crypto::Sealer;
use crate::migrate::Migrations;
use crate::value::JsVal;

thread_local! {
    /// How a memory client loads its in-memory IndexedDB, set by the package's `init()`
    /// (js/index.js): `import()` of `memory/idb.js`, so an app that never asks for memory
    /// never fetches it. Without it the store's script takes the global
    /// `pwaSyncMemoryIdb` (the browser suites install it).
    static MEMORY_LOADER: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Set by js/index.js after `init()`: how a client with `storage: "memory"` loads its
/// in-memory IndexedDB. Not part of the API.
#[wasm_bindgen(js_name = __setMemoryLoader, skip_typescript)]
pub fn set_memory_loader(loader: js_sys::Function) {
    MEMORY_LOADER.with(|l| *l.borrow_mut() = Some(loader));
}

/// The IndexedDB store. Cheap to keep; not `Send` (browsers run it on one thread).
pub struct IdbStore {
    pub(super) config: ClientConfig,
    /// The stores and indexes the config declares, as the store's script takes them.
    specs: js_sys::Array,
    connection: RefCell<Option<Connection>>,
    /// `close()` was called: every later call fails with `Error::Closed`.
    closed: Cell<bool>,
    /// Records that could not be read, as "collection/key: reason".
    skipped: RefCell<Vec<String>>,
    /// The client metadata as this store last read or wrote it. Local writes plan with
    /// it instead of reading it (they need the client id, the clock offset and the
    /// clock, and the key's record keeps its stamps in order): one store fewer in their
    /// transactions, and no read before the write.
    meta: RefCell<Option<Meta>>,
    /// A database this store made on reopening, under this client id (`take_recreated`).
    recreated: RefCell<Option<String>>,
    /// What opening read of the metadata and the outbox, until `take_found`.
    found: RefCell<Option<Found>>,
    #[cfg(feature = "testing")]
    pub(super) fail_after_entity: Cell<bool>,
    /// The app's schema version and migrations, and `encryption: {key}` (app values are
    /// sealed at rest): what opening and reopening need besides the schema.
    upgrade: Rc<Upgrade>,
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
        let migrations = Rc::new(Migrations::none());
        let (memory, fresh_meta) = (JsValue::UNDEFINED, RefCell::new(JsValue::UNDEFINED));
        IdbStore::open_with(Upgrade { config: config.clone(), migrations, sealer, memory, fresh_meta }).await
    }

    /// How a memory client loads its in-memory IndexedDB (`set_memory_loader`),
    /// `undefined` when unset: the store's script then takes the global
    /// `pwaSyncMemoryIdb` (`client::open` has it loaded before the store opens).
    pub fn memory_loader() -> JsValue {
        MEMORY_LOADER.with(|l| l.borrow().clone()).map_or(JsValue::UNDEFINED, JsValue::from)
    }

    /// A client's store: like `open_sealed`, bringing values of an older app schema version
    /// up to `migrations.declared` in the upgrade (see `upgrade`), over `memory` (an
    /// in-memory IndexedDB, as `client::open` loads it) or, when it is `undefined`, the browser's, and
    /// never without client metadata: fresh metadata of `fresh_client_id` is stored by the
    /// transaction that creates the database, or by an upgrade made for it when the
    /// database has none (`Upgrade::fresh_meta`). The client opens either kind here, so its
    /// state machine awaits one opening, not two.
    pub async fn open_over(
        config: &ClientConfig,
        sealer: Option<Sealer>,
        migrations: Rc<Migrations>,
        memory: JsValue,
        fresh_client_id: &str,
    ) -> Result<IdbStore> {
        let fresh_meta = RefCell::new(fresh_meta(fresh_client_id)?.1);
        IdbStore::open_with(Upgrade { config: config.clone(), migrations, sealer, memory, fresh_meta }).await
    }

    async fn open_with(upgrade: Upgrade) -> Result<IdbStore> {
        #[cfg(feature = "testing")]
        crate::sys::install_scripts_for_tests();
        let specs = schema(&upgrade.config);
        let upgrade = Rc::new(upgrade);
        let (connection, found) = open_connection(&upgrade.config.name, &specs, &upgrade).await?;
        Ok(IdbStore {
            found: RefCell::new(Some(found)),
            config: upgrade.config.clone(),
            specs,
            connection: RefCell::new(Some(connection)),
            closed: Cell::new(false),
            skipped: RefCell::new(Vec::new()),
            meta: RefCell::new(None),
            recreated: RefCell::new(None),
            #[cfg(feature = "testing")]
            fail_after_entity: Cell::new(false),
            upgrade,
        })
    }

    /// Whether the data outlives this context (not so over a memory client's IndexedDB).
    pub fn is_durable(&self) -> bool {
        self.upgrade.memory.is_undefined()
    }

    /// Close the connection for good: later calls fail with `Error::Closed`.
    pub fn close(&self) {
        self.closed.set(true);
        drop(self.connection.borrow_mut().take());
    }

    /// Delete a whole database. Waits while connections that ignore `versionchange` stay
    /// open (ours close themselves).
    pub async fn delete_database(name: &str) -> Result<()> {
        #[cfg(feature = "testing")]
        crate::sys::install_scripts_for_tests();
        let removed = super::script::remove(name).map_err(|e| classify(&e))?;
        wasm_bindgen_futures::JsFuture::from(removed).await.map(drop).map_err(|e| classify(&e))
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

    /// Test hook: the next local write fails with `Error::Storage("injected fault")`
    /// after issuing its entity write and before its outbox and meta writes, through the
    /// same abort path as any other error.
    #[cfg(feature = "testing")]
    pub fn fail_next_write_after_entity(&self) {
        self.fail_after_entity.set(true);
    }

    pub(super) fn sealer(&self) -> Option<&Sealer> {
        self.upgrade.sealer.as_ref()
    }

    pub(super) fn check(&self, collection: &str) -> Result<&pwa_sync_core::config::CollectionConfig> {
        self.config.collection(collection)
    }

    /// The live connection, reopened if `versionchange` or the browser closed it.
    async fn database(&self) -> Result<IdbDatabase> {
        if self.closed.get() {
            return Err(Error::Closed);
        }
        if let Some(db) = self.open_database() {
            return Ok(db);
        }
        // The database may have been deleted meanwhile (site data cleared, an eviction):
        // a new one gets metadata of a new client id, since its outbox numbers its entries
        // from 1 again and the server answers an id it saw from a client with what it
        // applied then. Whatever metadata the open found is this store's from now on.
        let mut fresh_id = None;
        if !self.upgrade.fresh_meta.borrow().is_undefined() {
            let id = crate::crypto::new_client_id()?;
            *self.upgrade.fresh_meta.borrow_mut() = fresh_meta(&id)?.1;
            fresh_id = Some(id);
        }
        let (connection, found) = open_connection(&self.config.name, &self.specs, &self.upgrade).await?;
        if self.closed.get() {
            return Err(Error::Closed);
        }
        if let Some(meta) = &found.meta {
            // Another identity than the one this store held: the database was made again,
            // by this reopen (our fresh id) or by another context's that came first (a
            // logout's `clear()` changes the identity too, but closes no connection, so it
            // is never met here).
            let held = self.meta.borrow().as_ref().map(|m| m.client_id.clone());
            let meta = self.remember_stored_meta(meta)?;
            if fresh_id.as_ref() == Some(&meta.client_id) || held.is_some_and(|held| held != meta.client_id) {
                *self.recreated.borrow_mut() = Some(meta.client_id);
            }
        }
        let db = connection.db.clone();
        // A concurrent call may have reopened too; the last one wins, the other closes
        // once its transactions are done.
        *self.connection.borrow_mut() = Some(connection);
        Ok(db)
    }

    /// The connection, if it is open (`None` once closed, for now or for good).
    pub(super) fn open_database(&self) -> Option<IdbDatabase> {
        if self.closed.get() {
            return None;
        }
        self.connection.borrow().as_ref().filter(|c| c.is_open()).map(|c| c.db.clone())
    }

    /// Start a transaction on the live connection, with `{durability: "strict"}` when
    /// asked (see `transaction::start_transaction`).
    pub(super) async fn transaction(
        &self,
        stores: &[&str],
        mode: Mode,
        durability: Durability,
    ) -> Result<IdbTransaction> {
        let db = self.database().await?;
        match start_transaction(&db, stores, mode, durability) {
            Ok(tx) => Ok(tx),
            // Closed under us between the check and now (`close` not yet delivered):
            // reopen once.
            Err(e) if dom_name(&e).as_deref() == Some("InvalidStateError") => {
                if let Some(connection) = self.connection.borrow().as_ref() {
                    connection.set_closed();
                }
                let db = self.database().await?;
                start_transaction(&db, stores, mode, durability).map_err(|e| classify(&e))
            }
            Err(e) => Err(classify(&e)),
        }
    }

    /// The schema stamp `clear` puts back: the app's version, when it declares one.
    fn stamp(&self) -> JsValue {
        let declared = self.upgrade.migrations.declared;
        if declared <= pwa_sync_core::migration::UNVERSIONED {
            return JsValue::UNDEFINED;
        }
        let stamp = js_sys::Object::new();
        let _ = Reflect::set(&stamp, &JsValue::from_str("version"), &JsValue::from(declared));
        stamp.into()
    }

    /// The client id of a database this store made when it reopened a connection it had
    /// lost: the one it had was deleted meanwhile (site data cleared, an eviction). Once.
    pub fn take_recreated(&self) -> Option<String> {
        self.recreated.borrow_mut().take()
    }

    /// The client metadata and the outbox's size as opening read them, once, and only
    /// when there was metadata (a first open creates it: `open_meta`). For the client's
    /// own open, right after this store's: anything written since would make them stale.
    pub fn take_found(&self) -> Result<Option<(Meta, usize)>> {
        let Some(Found { meta: Some(js), pending: Some(pending) }) = self.found.borrow_mut().take() else {
            return Ok(None);
        };
        Ok(Some((self.remember_stored_meta(&js)?, pending)))
    }

    /// The client metadata as stored, checked and kept as the latest this store has seen.
    pub(super) fn remember_stored_meta(&self, js: &JsValue) -> Result<Meta> {
        let meta = decode(js, None, stored::meta)
            .map_err(|reason| Error::Storage(format!("unreadable client metadata: {reason}")))?;
        Ok(self.remember_meta(meta))
    }

    /// Keep `meta` as the latest this store has seen; returns it.
    pub(super) fn remember_meta(&self, meta: Meta) -> Meta {
        *self.meta.borrow_mut() = Some(meta.clone());
        meta
    }

    pub(super) fn report_skipped(&self, skipped: Vec<String>) {
        self.skipped.borrow_mut().extend(skipped);
    }
}

impl Store for IdbStore {
    type Value = JsVal;

    async fn open_meta(&self, fresh_client_id: &str) -> Result<Meta> {
        let tx = self.transaction(&[META], Mode::Write, Durability::Default).await?;
        let result = self.open_meta_in(&tx, fresh_client_id).await;
        finish(tx, result, true).await
    }

    async fn get(&self, collection: &str, key: &str) -> Result<Option<EntityRecord<JsVal>>> {
        self.get_with(collection, key, &|js: &JsValue| decode_record(js, self.sealer())).await
    }

    async fn list(&self, collection: &str, query: &ListQuery) -> Result<Vec<EntityRecord<JsVal>>> {
        self.list_with(collection, query, &|js: &JsValue| decode_record(js, self.sealer())).await
    }

    async fn query(&self, query: &Query, plan: &Plan) -> Result<Answer<JsVal>> {
        self.query_records(query, plan).await
    }

    /// By reading the records: the app's `count` asks the index alone for an exact plan
    /// (`count_now`), so this is the path of the rest (a scan, a condition the index
    /// cannot answer, sealed values) and of an exact plan without an open connection,
    /// which the reading reopens.
    async fn count(&self, query: &Query, plan: &Plan) -> Result<usize> {
        self.query_records(query, plan).await.map(|a| a.records.len())
    }

    async fn run_transaction(
        &self,
        keys: &[KeyRef],
        scope: Scope,
        plan: &mut dyn FnMut(Snapshot<JsVal>) -> Result<Writes<JsVal>>,
    ) -> Result<()> {
        match scope {
            Scope::Sync(durability) => {
                self.run_transaction_over(&[OUTBOX, AUDIT, CONFLICTS], keys, durability, None, plan).await
            }
            // No metadata: ids come from the outbox's key generator (invariant 3). The plan
            // takes it as last seen; it is read once if this store has not seen it yet (a
            // store used without `open_meta`).
            Scope::LocalWrite => {
                let known_meta = self.meta.borrow().clone();
                self.run_transaction_over(&[OUTBOX], keys, Durability::Default, known_meta, plan).await
            }
        }
    }

    async fn meta(&self) -> Result<Option<Meta>> {
        let tx = self.transaction(&[META], Mode::Read, Durability::Default).await?;
        let stored = script::answer(script::get(&tx, META, &JsValue::from_str(META_KEY))).await?;
        if stored.is_undefined() {
            return Ok(None);
        }
        self.remember_stored_meta(&stored).map(Some)
    }

    async fn conflicts(&self) -> Result<Vec<ConflictRecord>> {
        let tx = self.transaction(&[CONFLICTS], Mode::Read, Durability::Default).await?;
        let mut skipped = Vec::new();
        let label = |id: &JsValue| format!("{CONFLICTS}/{}", key_text(id));
        let decode = |js: &JsValue| decode(js, self.sealer(), stored::conflict);
        let result = scan(&tx, CONFLICTS, "id", None, &|_: &ConflictRecord| true, &label, &mut skipped, &decode).await;
        self.report_skipped(skipped);
        result
    }

    async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let tx = self.transaction(&[AUDIT], Mode::Read, Durability::Default).await?;
        // At most `auditLimit` entries exist: read them all, newest first.
        let raw = script::answer_array(script::get_all(&tx, AUDIT, None, &JsValue::NULL, None)).await?;
        let mut skipped = Vec::new();
        let label = |js: &JsValue| format!("{AUDIT}/{}", key_text(&prop(js, "id")));
        let decode = |js: &JsValue| decode(js, self.sealer(), stored::audit_entry);
        let mut entries = decode_all(raw, &label, &|_: &AuditEntry| true, &mut skipped, &decode);
        self.report_skipped(skipped);
        entries.reverse();
        entries.truncate(limit);
        Ok(entries)
    }

    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry<JsVal>>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // `meta` too: the script reads the outbox's entries with its sent mark applied.
        let tx = self.transaction(&[OUTBOX, META], Mode::Read, Durability::Default).await?;
        let mut skipped = Vec::new();
        let label = |id: &JsValue| format!("{OUTBOX}/{}", key_text(id));
        let keep = |_: &OutboxEntry<JsVal>| true;
        let decode = |js: &JsValue| decode_entry(js, self.sealer());
        let result = scan(&tx, OUTBOX, "id", Some(limit), &keep, &label, &mut skipped, &decode).await;
        self.report_skipped(skipped);
        result
    }

    async fn pending_count(&self) -> Result<usize> {
        let tx = self.transaction(&[OUTBOX], Mode::Read, Durability::Default).await?;
        let all = crate::sys::array(&[JsValue::NULL]);
        let counted = script::answer(script::count(&tx, OUTBOX, None, &all)).await?;
        Ok(counted.as_f64().unwrap_or(0.0) as usize)
    }

    async fn take_batch(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry<JsVal>>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let tx = self.transaction(&[OUTBOX, META], Mode::Write, Durability::Strict).await?;
        let mut skipped = Vec::new();
        let result = async {
            let mut after = after as f64;
            loop {
                let raw = script::answer_array(script::take_batch(&tx, after, to_u32(limit))).await?;
                let mut batch = Vec::with_capacity(raw.length() as usize);
                for js in raw.iter() {
                    match decode_entry(&js, self.sealer()) {
                        Ok(entry) => batch.push(entry),
                        Err(reason) => skipped.push(format!("{OUTBOX}/{}: {reason}", key_text(&prop(&js, "id")))),
                    }
                }
                // A whole batch it cannot read (sealed with another key, say) is passed
                // over, reported, not taken for the end of the outbox: the entries after
                // it are taken in its place, else they would never leave.
                if !batch.is_empty() || raw.length() as usize != limit {
                    return Ok(batch);
                }
                match prop(&raw.get(raw.length() - 1), "id").as_f64() {
                    Some(last) if last > after => after = last,
                    _ => return Ok(batch),
                }
            }
        }
        .await;
        self.report_skipped(skipped);
        finish(tx, result, true).await
    }

    async fn mark_sent(&self, ids: &[u64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let tx = self.transaction(&[OUTBOX], Mode::Write, Durability::Strict).await?;
        let result = self.mark_sent_in(&tx, ids).await;
        finish(tx, result, true).await
    }

    async fn clear(&self, fresh_client_id: &str) -> Result<Meta> {
        // Every store in the database, including collections this version of the app
        // does not declare: clearing is how a user's data is wiped (logout).
        let db = self.database().await?;
        let present = db.object_store_names();
        let names: Vec<String> = (0..present.length()).filter_map(|i| present.item(i)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (fresh, encoded) = fresh_meta(fresh_client_id)?;
        let tx = self.transaction(&names, Mode::Write, Durability::Strict).await?;
        // The schema stamp stays: what is written next has the app's version, and must
        // not be migrated again on the next open.
        let result = script::clear(&tx, &self.stamp(), &encoded).map_err(|e| classify(&e));
        self.meta.borrow_mut().take();
        // The identity is this clear's now, whatever a reopen made before.
        self.recreated.borrow_mut().take();
        finish(tx, result, true).await?;
        Ok(self.remember_meta(fresh))
    }
}
