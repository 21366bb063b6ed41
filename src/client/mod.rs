//! The client behind `SyncClient`: local operations, status, and running syncs. The JS
//! wrapper in `api.rs` only converts arguments and results.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Function, Reflect};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};

mod tabs;

use crate::background::{self, Background};
use crate::convert;
use crate::events::{self, Events, Origin};
use crate::idb::IdbStore;
use crate::locks;
use self::tabs::{Hint, Tabs};
use crate::transport::{Auth, HttpTransport};
use pwa_sync_core::config::{ClientConfig, CollectionConfig};
use pwa_sync_core::conflict::Sides;
use pwa_sync_core::engine::{self, Observer, Phase, SyncError, SyncReport};
use pwa_sync_core::export::{self, Format};
use pwa_sync_core::metrics::{Health, HealthLimits, Metrics, MetricsSnapshot};
use pwa_sync_core::mutation::{LocalOp, LocalWrite, WriteOutcome};
use pwa_sync_core::record::{self, ListQuery};
use pwa_sync_core::record::{ConflictRecord, Failure};
use pwa_sync_core::retry::ErrorClass;
use pwa_sync_core::schedule::{Scheduler, Trigger};
use pwa_sync_core::store::Store;
use pwa_sync_core::sync::{AuditEntry, Choice, Effect};
use pwa_sync_core::Error;

pub(crate) fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// Sync bookkeeping of one client.
pub(crate) struct SyncState {
    pub scheduler: Scheduler,
    pub metrics: Metrics,
    pub running: bool,
    /// Something asked for a sync while one ran: run again after it.
    pub rerun: bool,
    pub state: &'static str,
    pub last_error: Option<(String, String)>,
}

pub(crate) struct Client {
    pub config: ClientConfig,
    pub store: IdbStore,
    pub events: Events,
    pub transport: Option<HttpTransport>,
    pub client_id: RefCell<String>,
    #[allow(dead_code)] // Used by the conflict work: app resolvers.
    pub resolvers: HashMap<String, Function>,
    pub pending: Cell<i64>,
    pub last_synced_at: Cell<Option<f64>>,
    pub closed: Cell<bool>,
    pub sync: RefCell<SyncState>,
    pub background: RefCell<Option<Background>>,
    tabs: RefCell<Option<Tabs>>,
    /// `status()` returns the same object until something changes, so React's
    /// `useSyncExternalStore` can use it as a snapshot directly.
    status_snapshot: RefCell<Option<JsValue>>,
}

/// Records per JSON text when `putMany` converts its input.
const CONVERT_CHUNK: usize = 256;

/// The non-JSON parts of the config, taken out by the API layer.
pub(crate) struct Extras {
    pub event_target: Option<web_sys::EventTarget>,
    pub token: Option<JsValue>,
    pub resolvers: HashMap<String, Function>,
    pub sealer: Option<crate::crypto::Sealer>,
}

impl Client {
    pub async fn open(config: ClientConfig, extras: Extras) -> Result<Rc<Client>, Error> {
        let store = IdbStore::open_sealed(&config, extras.sealer).await?;
        let meta = store.open_meta(&new_client_id()?).await?;
        // Most opens find the checkpoint already theirs: skip the write transaction then
        // (a cold start waits for every transaction of `open`).
        if meta.checkpoint_scope.as_deref() != Some(engine::checkpoint_scope(&config).as_str()) {
            engine::ensure_checkpoint_scope(&store, &config).await?;
        }
        let pending = store.pending_count().await?;
        let transport =
            config.endpoint.as_deref().map(|endpoint| HttpTransport::new(endpoint, Auth::new(extras.token)));
        // Honest from the first snapshot: no server, not connected, about to sync, or
        // as of the last sync.
        let state = match (&transport, is_online(), config.auto_sync, meta.last_synced_at) {
            (None, _, _, _) | (_, false, _, _) => "offline",
            (_, true, true, _) => "syncing",
            (_, true, false, Some(_)) => "synced",
            (_, true, false, None) => "offline",
        };
        let events = Events::new(extras.event_target, &config.name);
        let client = Rc::new(Client {
            client_id: RefCell::new(meta.client_id),
            last_synced_at: Cell::new(meta.last_synced_at),
            sync: RefCell::new(SyncState {
                scheduler: Scheduler::new(config.retry),
                metrics: Metrics::default(),
                running: false,
                rerun: false,
                state,
                last_error: meta.last_failure.as_ref().map(|f| (f.code.clone(), f.message.clone())),
            }),
            config,
            store,
            events,
            transport,
            resolvers: extras.resolvers,
            pending: Cell::new(pending as i64),
            closed: Cell::new(false),
            background: RefCell::new(None),
            tabs: RefCell::new(None),
            status_snapshot: RefCell::new(None),
        });
        *client.tabs.borrow_mut() = Tabs::start(&client);
        if client.transport.is_some() && client.config.auto_sync {
            let background = Background::start(&client);
            *client.background.borrow_mut() = Some(background);
            Background::trigger(&client, Trigger::Online);
        }
        Ok(client)
    }

    pub fn close(&self) {
        if !self.closed.replace(true) {
            // Timers, listeners, the event stream and the channel stop when dropped.
            self.background.borrow_mut().take();
            self.tabs.borrow_mut().take();
            self.store.close();
        }
    }

    pub fn collection(&self, name: &JsValue) -> Result<&CollectionConfig, Error> {
        let name = name.as_string().ok_or_else(|| Error::InvalidValue {
            collection: String::new(),
            reason: "the collection name must be a string".into(),
        })?;
        self.config.collection(&name)
    }

    fn key(config: &CollectionConfig, key: &JsValue) -> Result<String, Error> {
        let key = key.as_string().ok_or_else(|| Error::InvalidValue {
            collection: config.name.clone(),
            reason: format!("the key must be a string, got {}", describe_type(key)),
        })?;
        record::check_key(config, &key)?;
        Ok(key)
    }

    async fn write(
        self: &Rc<Self>,
        config: &CollectionConfig,
        key: String,
        op: LocalOp,
    ) -> Result<WriteOutcome, Error> {
        let write = LocalWrite { collection: config.name.clone(), key, op, now_ms: now_ms() };
        let outcome = self.store.write_local(&write).await.inspect_err(|e| self.report_storage_error(e))?;
        if outcome.changed {
            self.events.change(config, &write.key, outcome.value.as_ref(), Origin::Local, outcome.version);
            self.hint_change(&config.name, &write.key);
        }
        self.after_local_writes(outcome.pending_delta, outcome.mutation_id.is_some());
        Ok(outcome)
    }

    /// Count the outbox change and, if something was queued, schedule its push.
    fn after_local_writes(self: &Rc<Self>, pending_delta: i64, queued: bool) {
        if pending_delta != 0 {
            self.set_pending(self.pending.get() + pending_delta);
        }
        if queued {
            Background::trigger(self, Trigger::LocalWrite);
            if self.transport.is_some() && !is_online() {
                background::request_background_sync();
            }
        }
    }

    pub async fn put(self: &Rc<Self>, collection: &JsValue, value: &JsValue) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let (key, value) = record::prepare_value(config, convert::to_json(&config.name, value)?)?;
        let outcome = self.write(config, key, LocalOp::Put(value)).await?;
        outcome.value.as_ref().map_or(Ok(JsValue::UNDEFINED), convert::to_js)
    }

    /// Store many whole records in one transaction: all of them or, on any bad value or
    /// storage error, none. Resolves to how many were written.
    pub async fn put_many(self: &Rc<Self>, collection: &JsValue, values: &JsValue) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let values: &js_sys::Array = values.dyn_ref().ok_or_else(|| Error::InvalidValue {
            collection: config.name.clone(),
            reason: format!("putMany takes an array of records, got {}", describe_type(values)),
        })?;
        let now_ms = now_ms();
        // A chunk of records per JSON text when it converts; otherwise one record at a
        // time, so the error names the record that cannot be stored.
        let length = values.length() as usize;
        let mut converted: Vec<Result<Value, Error>> = Vec::with_capacity(length);
        for start in (0..length).step_by(CONVERT_CHUNK) {
            let chunk = values.slice(start as u32, (start + CONVERT_CHUNK).min(length) as u32);
            match convert::to_json(&config.name, &chunk) {
                Ok(Value::Array(items)) if items.len() == chunk.length() as usize => {
                    converted.extend(items.into_iter().map(Ok))
                }
                _ => converted.extend(chunk.iter().map(|value| convert::to_json(&config.name, &value))),
            }
        }
        let mut batch = Vec::with_capacity(length);
        for (index, value) in converted.into_iter().enumerate() {
            let prepared = value.and_then(|v| record::prepare_value(config, v));
            let (key, value) = prepared.map_err(|e| match e {
                Error::InvalidValue { collection, reason } => {
                    Error::InvalidValue { collection, reason: format!("record {index}: {reason}") }
                }
                other => other,
            })?;
            batch.push(LocalWrite { collection: config.name.clone(), key, op: LocalOp::Put(value), now_ms });
        }
        if batch.is_empty() {
            return Ok(JsValue::from(0));
        }
        let outcomes = self.store.write_local_batch(&batch).await.inspect_err(|e| self.report_storage_error(e))?;
        // The stored values cross to JS as one JSON text, one element per event.
        let values: Vec<Option<&Value>> = outcomes.iter().map(|o| o.value.as_ref()).collect();
        // (After the commit: a conversion failure must not reject a write that happened.)
        let values = convert::encode_many(&values).unwrap_or_default();
        let mut pending_delta = 0;
        for ((write, outcome), value) in batch.iter().zip(&outcomes).zip(values) {
            self.events.change_js(config, &write.key, value, Origin::Local, outcome.version);
            self.hint_change(&config.name, &write.key);
            pending_delta += outcome.pending_delta;
        }
        self.after_local_writes(pending_delta, outcomes.iter().any(|o| o.mutation_id.is_some()));
        Ok(JsValue::from(batch.len() as f64))
    }

    pub async fn patch(
        self: &Rc<Self>,
        collection: &JsValue,
        key: &JsValue,
        partial: &JsValue,
    ) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let key = Self::key(config, key)?;
        let partial = record::prepare_patch(config, &key, convert::to_json(&config.name, partial)?)?;
        let outcome = self.write(config, key, LocalOp::Patch(partial)).await?;
        outcome.value.as_ref().map_or(Ok(JsValue::UNDEFINED), convert::to_js)
    }

    pub async fn delete(self: &Rc<Self>, collection: &JsValue, key: &JsValue) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let key = Self::key(config, key)?;
        self.write(config, key, LocalOp::Delete).await?;
        Ok(JsValue::UNDEFINED)
    }

    pub async fn get(&self, collection: &JsValue, key: &JsValue) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let key = Self::key(config, key)?;
        if let Some(view) = self.store.get_view(&config.name, &key).await {
            let view = view.inspect_err(|e| self.report_storage_error(e))?;
            return Ok(view.map_or(JsValue::UNDEFINED, |v| v.value));
        }
        let record = self.store.get(&config.name, &key).await.inspect_err(|e| self.report_storage_error(e))?;
        record.and_then(|r| r.value).as_ref().map_or(Ok(JsValue::UNDEFINED), convert::to_js)
    }

    /// The stored value at once; when the data is older than the collection's `ttlMs`
    /// (or was never synced), a sync runs in the background and the collection's event
    /// fires if the value changes.
    pub async fn get_fresh(self: &Rc<Self>, collection: &JsValue, key: &JsValue) -> Result<JsValue, Error> {
        let value = self.get(collection, key).await?;
        let config = self.collection(collection)?;
        let ttl = config.ttl_ms.unwrap_or(0) as f64;
        let stale = self.last_synced_at.get().is_none_or(|at| js_sys::Date::now() - at > ttl);
        if stale && self.transport.is_some() && !self.sync.borrow().running {
            let client = self.clone();
            // Reported through status and events like any background sync.
            wasm_bindgen_futures::spawn_local(async move { client.sync_in_background().await });
        }
        Ok(value)
    }

    pub async fn list(&self, collection: &JsValue, query: &JsValue) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let query = crate::api::parse_list_query(config, query)?;
        if let Some(views) = self.store.list_views(&config.name, &query).await {
            let views = views?;
            self.report_skipped();
            return Ok(views.into_iter().map(|v| v.value).collect::<js_sys::Array>().into());
        }
        let records = self.store.list(&config.name, &query).await?;
        self.report_skipped();
        let values: Vec<Value> = records.into_iter().filter_map(|r| r.value).collect();
        convert::to_js(&values)
    }

    pub async fn export(&self, options: &JsValue) -> Result<JsValue, Error> {
        let format = Reflect::get(options, &"format".into()).ok().and_then(|f| f.as_string());
        let format = Format::parse(format.as_deref().unwrap_or("<missing>"))?;
        let mut dump = Vec::with_capacity(self.config.collections.len());
        for collection in &self.config.collections {
            let records = self.store.list(&collection.name, &ListQuery::default()).await?;
            dump.push((collection.name.clone(), records.into_iter().filter_map(|r| r.value).collect()));
        }
        self.report_skipped();
        Ok(export::render(format, &dump, now_ms()).into())
    }

    pub async fn conflicts(&self) -> Result<Vec<ConflictRecord>, Error> {
        let conflicts = self.store.conflicts().await?;
        self.report_skipped();
        Ok(conflicts)
    }

    /// Settle manual conflict `id` with "local", "server" or a value of the app's own.
    pub async fn resolve_conflict(self: &Rc<Self>, id: &JsValue, choice: &JsValue) -> Result<JsValue, Error> {
        let id = id.as_f64().filter(|n| *n >= 1.0 && n.fract() == 0.0).ok_or(Error::UnknownConflict(0))? as u64;
        let effects = engine::resolve_conflict(&self.store, id, now_ms(), |conflict| {
            let config = self.config.collection(&conflict.collection)?;
            match choice.as_string().as_deref() {
                Some("local") => Ok(Choice::Local),
                Some("server") => Ok(Choice::Server),
                Some(other) => Err(Error::invalid_value(
                    &config.name,
                    format!("choice must be \"local\", \"server\" or a record, not \"{other}\""),
                )),
                None if choice.is_null() => Ok(Choice::Value(None)),
                None => {
                    let (key, value) = record::prepare_value(config, convert::to_json(&config.name, choice)?)?;
                    if key != conflict.key {
                        return Err(Error::invalid_value(
                            &config.name,
                            format!("the chosen record has key \"{key}\", the conflict is about \"{}\"", conflict.key),
                        ));
                    }
                    Ok(Choice::Value(Some(value)))
                }
            }
        })
        .await?;
        WebObserver { client: self }.effects(&effects);
        let pending = self.store.pending_count().await?;
        self.set_pending(pending as i64);
        Background::trigger(self, Trigger::LocalWrite);
        Ok(JsValue::UNDEFINED)
    }

    pub async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, Error> {
        let entries = self.store.audit(limit).await?;
        self.report_skipped();
        Ok(entries)
    }

    /// Wipe everything (logout), holding the flush lock so no sync in any context writes
    /// the old session's data back; every other context's client closes.
    pub async fn clear(self: &Rc<Self>) -> Result<JsValue, Error> {
        let client = self.clone();
        let cleared =
            locks::with_lock(&self.flush_lock(), true, move || async move { client.clear_here().await }).await?;
        let result = cleared.unwrap_or_else(|| Err(Error::Storage("the flush lock was not granted".into())));
        if result.is_ok() {
            self.events.emit(events::CLEARED, &events::object(&[("origin", "local".into())]));
        }
        result
    }

    async fn clear_here(&self) -> Result<JsValue, Error> {
        self.hint(Hint::Wipe);
        self.store.clear().await?;
        // A fresh identity: the server has seen the old client id's mutation ids, and
        // reusing them from 1 would make it drop the new writes as duplicates.
        let meta = self.store.open_meta(&new_client_id()?).await?;
        engine::ensure_checkpoint_scope(&self.store, &self.config).await?;
        *self.client_id.borrow_mut() = meta.client_id;
        self.last_synced_at.set(None);
        self.set_pending(0);
        Ok(JsValue::UNDEFINED)
    }

    /// Run one sync now, waiting for one running here or in another context first.
    pub async fn sync_now(self: &Rc<Self>) -> Result<SyncReport, Error> {
        if self.transport.is_none() {
            return Err(Error::LocalOnly);
        }
        let client = self.clone();
        let report =
            locks::with_lock(&self.flush_lock(), true, move || async move { client.sync_here().await }).await?;
        report.unwrap_or_else(|| Err(Error::Storage("the flush lock was not granted".into())))
    }

    /// The service worker's `sync` handler: a sync that rejects on failure so the browser
    /// tries again later, except on its last chance, when it resolves (the outbox stays,
    /// and why it failed is kept in the status).
    pub async fn flush(self: &Rc<Self>, last_chance: bool) -> Result<Option<SyncReport>, Error> {
        match self.sync_now().await {
            Ok(report) => Ok(Some(report)),
            Err(_) if last_chance => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A sync nobody waits for: skipped when another context is flushing already (it
    /// posts a status hint when done, and the outbox is shared).
    pub async fn sync_in_background(self: &Rc<Self>) {
        let client = self.clone();
        // Failures are reported through status, events and the next scheduled attempt.
        let _ = locks::with_lock(&self.flush_lock(), false, move || async move { client.sync_here().await }).await;
    }

    /// `pwa-sync:<name>:flush`: held by whoever pushes and pulls for this database.
    fn flush_lock(&self) -> String {
        format!("pwa-sync:{}:flush", self.config.name)
    }

    async fn sync_here(self: &Rc<Self>) -> Result<SyncReport, Error> {
        let Some(transport) = &self.transport else { return Err(Error::LocalOnly) };
        while self.sync.borrow().running {
            gloo_timers::future::TimeoutFuture::new(10).await;
        }
        if self.closed.get() {
            return Err(Error::Closed);
        }
        // Another context may have wiped the database (logout) before its message reached
        // us: then the stored identity is not ours, and syncing would bring the old
        // session's data back.
        let stored_id = match self.store.meta().await {
            Ok(meta) => meta.map(|m| m.client_id),
            Err(e) => {
                self.set_state("error", Some((e.code().to_owned(), e.to_string())));
                self.report_storage_error(&e);
                return Err(e);
            }
        };
        if stored_id.as_deref() != Some(self.client_id.borrow().as_str()) {
            self.wiped_elsewhere();
            return Err(Error::Closed);
        }
        self.sync.borrow_mut().running = true;
        self.set_state("syncing", None);
        let started = js_sys::Date::now();
        let result = engine::sync(&self.config, &self.store, transport, &WebObserver { client: self }).await;
        // Outbox entries the sync had to skip as unreadable are announced now.
        self.report_skipped();
        let duration = (js_sys::Date::now() - started) as u64;
        let pending = self.store.pending_count().await.unwrap_or(self.pending.get().max(0) as usize);
        let rerun = {
            let mut sync = self.sync.borrow_mut();
            sync.running = false;
            std::mem::take(&mut sync.rerun)
        };
        match result {
            Ok(report) => {
                {
                    let mut sync = self.sync.borrow_mut();
                    sync.scheduler.on_success();
                    sync.metrics.record_success(&report, duration);
                }
                self.last_synced_at.set(Some(now_ms() as f64));
                self.pending.set(pending as i64);
                self.set_state("synced", None);
                self.hint(Hint::Status);
                // Writes made during the sync go out next; an entry that cannot be sent at
                // all (nothing went out this time) must not spin a sync every 250 ms.
                if rerun || (pending > 0 && report.batches > 0) {
                    Background::trigger(self, Trigger::LocalWrite);
                }
                Ok(report)
            }
            Err(failure) => {
                let class = failure.error.class();
                let retry_after = match &failure.error {
                    SyncError::Transport(e) => e.retry_after_ms,
                    SyncError::Store(_) => None,
                };
                let next = {
                    let mut sync = self.sync.borrow_mut();
                    let retrying = sync.scheduler.is_retrying();
                    sync.metrics.record_failure(&failure.report, retrying);
                    sync.scheduler.on_failure(class, retry_after, now_ms(), js_sys::Math::random())
                };
                self.pending.set(pending as i64);
                let error = match failure.error {
                    SyncError::Transport(e) => Error::Sync { class: e.class, message: e.message },
                    SyncError::Store(e) => e,
                };
                let state = match class {
                    Some(ErrorClass::Network | ErrorClass::Timeout) => {
                        background::request_background_sync();
                        "offline"
                    }
                    _ => "error",
                };
                self.set_state(state, Some((error.code().to_owned(), error.to_string())));
                let failure =
                    Failure { at: js_sys::Date::now(), code: error.code().to_owned(), message: error.to_string() };
                if let Err(e) = engine::record_failure(&self.store, failure).await {
                    self.report_storage_error(&e);
                }
                if class == Some(ErrorClass::Auth) {
                    self.events.emit(events::AUTH_REQUIRED, &events::object(&[("message", error.to_string().into())]));
                }
                self.report_storage_error(&error);
                Background::schedule(self, next);
                Err(error)
            }
        }
    }

    pub async fn metrics(&self) -> Result<MetricsSnapshot, Error> {
        let (pending, oldest) = self.pending_and_oldest().await?;
        Ok(self.sync.borrow().metrics.snapshot(pending, oldest))
    }

    pub async fn health(&self) -> Result<Health, Error> {
        let (pending, oldest) = self.pending_and_oldest().await?;
        let sync = self.sync.borrow();
        Ok(sync.metrics.health(&HealthLimits::default(), pending, oldest, sync.scheduler.breaker_open(now_ms())))
    }

    async fn pending_and_oldest(&self) -> Result<(usize, Option<u64>), Error> {
        let pending = self.store.pending_count().await?;
        let oldest = self.store.outbox(1).await?.first().map(|e| now_ms().saturating_sub(e.created_at as u64));
        Ok((pending, oldest))
    }

    fn hint(&self, hint: Hint) {
        if let Some(tabs) = self.tabs.borrow().as_ref() {
            tabs.post(&hint);
        }
    }

    fn hint_change(&self, collection: &str, key: &str) {
        if let Some(tabs) = self.tabs.borrow().as_ref() {
            tabs.post_change(collection, key);
        }
    }

    pub fn is_collection_event(&self, name: &str) -> bool {
        self.config.collections.iter().any(|c| c.event.as_ref().is_some_and(|e| e.name == name))
    }

    /// Another context ran `clear()` (logout): this client closes, so nothing of the old
    /// session writes into the database again; the app reopens after signing in.
    pub fn wiped_elsewhere(&self) {
        if self.closed.get() {
            return;
        }
        self.close();
        self.events.emit(events::CLEARED, &events::object(&[("origin", "tab".into())]));
    }

    /// Another tab changed `keys`: read them back and tell this tab's UI.
    pub async fn changed_in_another_tab(&self, collection: &str, keys: &[String]) {
        let Ok(config) = self.config.collection(collection) else { return };
        for key in keys {
            match self.store.get(collection, key).await {
                Ok(record) => {
                    let value = record.as_ref().and_then(|r| r.value.as_ref());
                    self.events.change(config, key, value, Origin::Tab, record.as_ref().and_then(|r| r.version));
                }
                Err(e) => self.report_storage_error(&e),
            }
        }
        self.refresh_status().await;
    }

    /// Re-read what the status shows from storage (another tab may have changed it).
    pub async fn refresh_status(&self) {
        let pending = self.store.pending_count().await;
        let meta = self.store.meta().await;
        if let Ok(Some(meta)) = meta {
            self.last_synced_at.set(meta.last_synced_at);
        }
        match pending {
            Ok(pending) => self.set_pending(pending as i64),
            Err(e) => self.report_storage_error(&e),
        }
    }

    pub fn set_pending(&self, pending: i64) {
        self.pending.set(pending.max(0));
        self.status_changed();
    }

    pub fn set_state(&self, state: &'static str, error: Option<(String, String)>) {
        {
            let mut sync = self.sync.borrow_mut();
            sync.state = state;
            if state != "syncing" {
                sync.last_error = error;
            }
        }
        self.status_changed();
    }

    fn status_changed(&self) {
        self.status_snapshot.borrow_mut().take();
        self.events.emit(events::STATUS, &self.status());
    }

    pub fn status(&self) -> JsValue {
        if let Some(snapshot) = self.status_snapshot.borrow().as_ref() {
            return snapshot.clone();
        }
        let sync = self.sync.borrow();
        let last_error = match &sync.last_error {
            Some((code, message)) => {
                events::object(&[("code", code.as_str().into()), ("message", message.as_str().into())])
            }
            None => JsValue::NULL,
        };
        let snapshot = events::object(&[
            ("state", sync.state.into()),
            ("pending", JsValue::from(self.pending.get() as f64)),
            ("lastSyncedAt", self.last_synced_at.get().map_or(JsValue::NULL, JsValue::from)),
            ("lastError", last_error),
        ]);
        *self.status_snapshot.borrow_mut() = Some(snapshot.clone());
        snapshot
    }

    /// Records IndexedDB gave back that we could not read: announce each, keep going.
    fn report_skipped(&self) {
        for problem in self.store.take_skipped() {
            self.report_storage_error(&Error::Storage(format!("skipped an unreadable record: {problem}")));
        }
    }

    fn report_storage_error(&self, error: &Error) {
        if matches!(error, Error::Storage(_) | Error::QuotaExceeded(_)) {
            let detail = events::object(&[("code", error.code().into()), ("message", error.to_string().into())]);
            self.events.emit(events::STORAGE_ERROR, &detail);
        }
    }
}

/// Turns the engine's effects into DOM events as each transaction commits.
struct WebObserver<'a> {
    client: &'a Client,
}

impl Observer for WebObserver<'_> {
    fn effects(&self, effects: &[Effect]) {
        let client = self.client;
        // The changed values of a whole page cross to JS as one JSON text.
        let changed: Vec<Option<&Value>> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Changed { value, .. } => Some(value.as_ref()),
                _ => None,
            })
            .collect();
        let values = convert::encode_many(&changed).unwrap_or_default();
        let mut next_value = 0;
        for effect in effects {
            match effect {
                Effect::Changed { collection, key, version, .. } => {
                    let value = values.get(next_value).cloned().unwrap_or(JsValue::UNDEFINED);
                    next_value += 1;
                    if let Ok(config) = client.config.collection(collection) {
                        client.events.change_js(config, key, value, Origin::Remote, *version);
                        client.hint_change(collection, key);
                    }
                }
                Effect::Conflict(entry) => {
                    let detail = ConflictDetail {
                        id: None,
                        open: false,
                        collection: &entry.collection,
                        key: &entry.key,
                        local: entry.local.as_ref(),
                        server: entry.server.as_ref(),
                        base: entry.base.as_ref(),
                        strategy: &entry.strategy,
                        result: entry.result.as_ref(),
                        fields: &[],
                        server_version: entry.server_version,
                    };
                    if let Ok(detail) = convert::to_js(&detail) {
                        client.events.emit(events::CONFLICT, &detail);
                    }
                }
                Effect::ManualConflict(record) => {
                    let detail = ConflictDetail {
                        id: Some(record.id),
                        open: true,
                        collection: &record.collection,
                        key: &record.key,
                        local: record.local.as_ref(),
                        server: record.server.as_ref(),
                        base: record.base.as_ref(),
                        strategy: "manual",
                        result: None,
                        fields: &record.fields,
                        server_version: Some(record.server_version),
                    };
                    if let Ok(detail) = convert::to_js(&detail) {
                        client.events.emit(events::CONFLICT, &detail);
                    }
                }
                Effect::Rejected { collection, key, mutation_id, code, message } => {
                    let detail = events::object(&[
                        ("collection", collection.as_str().into()),
                        ("key", key.as_str().into()),
                        ("mutationId", JsValue::from(*mutation_id as f64)),
                        ("code", code.as_str().into()),
                        ("message", message.as_str().into()),
                    ]);
                    client.events.emit(events::REJECTED, &detail);
                }
            }
        }
    }

    fn progress(&self, phase: Phase, done: usize, total: Option<usize>) {
        let detail = events::object(&[
            ("phase", phase.as_str().into()),
            ("done", JsValue::from(done as f64)),
            ("total", total.map_or(JsValue::NULL, |t| JsValue::from(t as f64))),
        ]);
        self.client.events.emit(events::PROGRESS, &detail);
    }

    fn now_ms(&self) -> u64 {
        now_ms()
    }

    /// Call the app's resolver synchronously (this runs inside the store transaction, so
    /// it may not await). A throw, a Promise, or a value that is not a record of this key
    /// sends the conflict to `manual`, and the reason is announced.
    fn resolve_custom(&self, config: &CollectionConfig, sides: &Sides<'_>) -> Option<Option<Value>> {
        let client = self.client;
        let resolver = client.resolvers.get(&config.name)?;
        let arg = |v: Option<&Value>| v.map(convert::to_js).transpose().ok().flatten().unwrap_or(JsValue::NULL);
        let fail = |why: String| {
            let message = format!("the conflict resolver of \"{}\" {why}; the conflict goes to manual", config.name);
            let detail = events::object(&[("code", "resolver".into()), ("message", message.into())]);
            client.events.emit(events::STORAGE_ERROR, &detail);
            None
        };
        let result = match resolver.call3(&JsValue::NULL, &arg(sides.local), &arg(sides.server), &arg(sides.base)) {
            Ok(result) => result,
            Err(e) => return fail(format!("threw: {}", crate::error::describe(&e))),
        };
        if result.is_null() || result.is_undefined() {
            return Some(None);
        }
        if result.is_instance_of::<js_sys::Promise>() {
            return fail("returned a Promise (resolvers must be synchronous)".into());
        }
        let key = sides.local.or(sides.server).and_then(|v| v.get(&config.key)).and_then(Value::as_str);
        match convert::to_json(&config.name, &result).and_then(|v| record::prepare_value(config, v)) {
            Ok((k, value)) if Some(k.as_str()) == key => Some(Some(value)),
            Ok((k, _)) => fail(format!("returned a record with key \"{k}\" for another key")),
            Err(e) => fail(format!("returned an unusable value: {e}")),
        }
    }
}

/// `pwa-sync:conflict` detail: a conflict settled by a strategy (`open: false`, with the
/// `result`), or one waiting for the app (`open: true`, with its `id`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ConflictDetail<'a> {
    id: Option<u64>,
    open: bool,
    collection: &'a str,
    key: &'a str,
    local: Option<&'a Value>,
    server: Option<&'a Value>,
    base: Option<&'a Value>,
    strategy: &'a str,
    result: Option<&'a Value>,
    fields: &'a [String],
    server_version: Option<u64>,
}

/// `navigator.onLine` from the global scope; true where it cannot be read.
pub(crate) fn is_online() -> bool {
    Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"onLine".into()))
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

/// `c-` and 16 random hex digits.
pub(crate) fn new_client_id() -> Result<String, Error> {
    let hex: String = crate::crypto::random_bytes::<8>()?.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("c-{hex}"))
}

fn describe_type(value: &JsValue) -> &'static str {
    if value.is_undefined() {
        "undefined"
    } else if value.is_null() {
        "null"
    } else if value.as_f64().is_some() {
        "a number"
    } else if value.is_object() {
        "an object"
    } else {
        "another type"
    }
}
