//! `SyncClient`: the JS API. Thin: each method checks its JS arguments, calls the core
//! and the store, and turns the outcome into JS values and events.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;
use web_sys::EventTarget;

use crate::core::config::{ClientConfig, CollectionConfig};
use crate::core::export::{self, Format};
use crate::core::mutation::{LocalOp, LocalWrite, WriteOutcome};
use crate::core::record::{self, ListQuery};
use crate::core::store::Store;
use crate::core::Error;
use crate::web::convert;
use crate::web::error::describe;
use crate::web::events::{self, Events, Origin};
use crate::web::idb::IdbStore;

/// An open sync client over one IndexedDB database.
#[wasm_bindgen]
pub struct SyncClient {
    inner: Rc<Inner>,
}

struct Inner {
    config: ClientConfig,
    store: IdbStore,
    events: Events,
    client_id: RefCell<String>,
    /// Taken out of the config before parsing; used by the sync engine.
    #[allow(dead_code)]
    token: Option<JsValue>,
    #[allow(dead_code)]
    resolvers: HashMap<String, Function>,
    pending: Cell<i64>,
    last_synced_at: Cell<Option<f64>>,
    closed: Cell<bool>,
    /// `status()` returns the same object until something changes, so React's
    /// `useSyncExternalStore` can use it as a snapshot directly.
    status_snapshot: RefCell<Option<JsValue>>,
}

#[wasm_bindgen]
impl SyncClient {
    /// Open (or create) the database described by `config`.
    #[wasm_bindgen(js_name = open)]
    pub async fn open(#[wasm_bindgen(unchecked_param_type = "SyncConfig")] config: JsValue) -> Result<SyncClient, JsValue> {
        Ok(SyncClient { inner: Rc::new(Inner::open(config).await?) })
    }

    /// Store a whole record (its key field says which). Resolves to the stored value.
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncRecord>")]
    pub fn put(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] collection: JsValue,
        #[wasm_bindgen(unchecked_param_type = "SyncRecord")] value: JsValue,
    ) -> Promise {
        self.run(move |inner| async move { inner.put(&collection, &value).await })
    }

    /// Merge `partial` into the stored record (JSON Merge Patch: `null` removes a field).
    /// Resolves to the whole new value; rejects with `not-found` if there is no record.
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncRecord>")]
    pub fn patch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] collection: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Partial<SyncRecord>")] partial: JsValue,
    ) -> Promise {
        self.run(move |inner| async move { inner.patch(&collection, &key, &partial).await })
    }

    /// Delete a record. Deleting a key that does not exist does nothing.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] collection: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> Promise {
        self.run(move |inner| async move { inner.delete(&collection, &key).await })
    }

    /// The record, or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncRecord | undefined>")]
    pub fn get(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] collection: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> Promise {
        self.run(move |inner| async move { inner.get(&collection, &key).await })
    }

    /// Records in key order: all, or those whose indexed field equals a value.
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncRecord[]>")]
    pub fn list(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] collection: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ListQuery | undefined")] query: JsValue,
    ) -> Promise {
        self.run(move |inner| async move { inner.list(&collection, &query).await })
    }

    /// Number of local writes not yet acknowledged by the server, read from storage.
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn pending(&self) -> Promise {
        self.run(|inner| async move {
            let count = inner.store.pending_count().await?;
            inner.set_pending(count as i64);
            Ok(JsValue::from(count as f64))
        })
    }

    /// The current status. The same object is returned until something changes.
    #[wasm_bindgen(unchecked_return_type = "SyncStatus")]
    pub fn status(&self) -> JsValue {
        self.inner.status()
    }

    /// Every live record, as JSON (`{collections: {name: [...]}}`) or one CSV table.
    #[wasm_bindgen(js_name = "export", unchecked_return_type = "Promise<string>")]
    pub fn export_data(&self, #[wasm_bindgen(unchecked_param_type = "ExportOptions")] options: JsValue) -> Promise {
        self.run(move |inner| async move { inner.export(&options).await })
    }

    /// Remove every record, pending write, conflict and audit entry (logout). The client
    /// stays open and continues under a new client id.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn clear(&self) -> Promise {
        self.run(|inner| async move { inner.clear().await })
    }

    /// Close the database connection. Later calls reject with code `closed`.
    pub fn close(&self) {
        if !self.inner.closed.replace(true) {
            self.inner.store.close();
        }
    }

    /// The id this client sends with its mutations.
    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.inner.client_id.borrow().clone()
    }

    /// The database name from the config.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.config.name.clone()
    }
}

impl SyncClient {
    /// Run an async operation as a Promise that rejects with a `PwaSyncError`.
    fn run<F, Fut>(&self, operation: F) -> Promise
    where
        F: FnOnce(Rc<Inner>) -> Fut,
        Fut: std::future::Future<Output = Result<JsValue, Error>> + 'static,
    {
        let inner = self.inner.clone();
        if inner.closed.get() {
            return Promise::reject(&Error::Closed.into());
        }
        let future = operation(inner);
        future_to_promise(async move { future.await.map_err(JsValue::from) })
    }
}

impl Inner {
    async fn open(js_config: JsValue) -> Result<Inner, Error> {
        let parts = split_config(&js_config)?;
        let config = ClientConfig::from_json(parts.json)?;
        let store = IdbStore::open(&config).await?;
        let meta = store.open_meta(&new_client_id()?).await?;
        let pending = store.pending_count().await?;
        Ok(Inner {
            client_id: RefCell::new(meta.client_id),
            last_synced_at: Cell::new(meta.last_synced_at),
            config,
            store,
            events: Events::new(parts.event_target),
            token: parts.token,
            resolvers: parts.resolvers,
            pending: Cell::new(pending as i64),
            closed: Cell::new(false),
            status_snapshot: RefCell::new(None),
        })
    }

    fn collection(&self, name: &JsValue) -> Result<&CollectionConfig, Error> {
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

    async fn write(&self, config: &CollectionConfig, key: String, op: LocalOp) -> Result<WriteOutcome, Error> {
        let write = LocalWrite { collection: config.name.clone(), key, op, now_ms: js_sys::Date::now() as u64 };
        let outcome = self.store.write_local(&write).await?;
        if outcome.changed {
            self.events.change(config, &write.key, outcome.value.as_ref(), Origin::Local, outcome.version);
        }
        if outcome.pending_delta != 0 {
            self.set_pending(self.pending.get() + outcome.pending_delta);
        }
        Ok(outcome)
    }

    async fn put(&self, collection: &JsValue, value: &JsValue) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let (key, value) = record::prepare_value(config, convert::to_json(&config.name, value)?)?;
        let outcome = self.write(config, key, LocalOp::Put(value)).await?;
        outcome.value.as_ref().map_or(Ok(JsValue::UNDEFINED), convert::to_js)
    }

    async fn patch(&self, collection: &JsValue, key: &JsValue, partial: &JsValue) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let key = Self::key(config, key)?;
        let partial = record::prepare_patch(config, &key, convert::to_json(&config.name, partial)?)?;
        let outcome = self.write(config, key, LocalOp::Patch(partial)).await?;
        outcome.value.as_ref().map_or(Ok(JsValue::UNDEFINED), convert::to_js)
    }

    async fn delete(&self, collection: &JsValue, key: &JsValue) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let key = Self::key(config, key)?;
        self.write(config, key, LocalOp::Delete).await?;
        Ok(JsValue::UNDEFINED)
    }

    async fn get(&self, collection: &JsValue, key: &JsValue) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let key = Self::key(config, key)?;
        let record = self.store.get(&config.name, &key).await.inspect_err(|e| self.report_storage_error(e))?;
        record.and_then(|r| r.value).as_ref().map_or(Ok(JsValue::UNDEFINED), convert::to_js)
    }

    async fn list(&self, collection: &JsValue, query: &JsValue) -> Result<JsValue, Error> {
        let config = self.collection(collection)?;
        let query = parse_list_query(config, query)?;
        let records = self.store.list(&config.name, &query).await?;
        self.report_skipped();
        let values: Vec<Value> = records.into_iter().filter_map(|r| r.value).collect();
        convert::to_js(&values)
    }

    async fn export(&self, options: &JsValue) -> Result<JsValue, Error> {
        let format = Reflect::get(options, &"format".into()).ok().and_then(|f| f.as_string());
        let format = Format::parse(format.as_deref().unwrap_or("<missing>"))?;
        let mut dump = Vec::with_capacity(self.config.collections.len());
        for collection in &self.config.collections {
            let records = self.store.list(&collection.name, &ListQuery::default()).await?;
            dump.push((collection.name.clone(), records.into_iter().filter_map(|r| r.value).collect()));
        }
        self.report_skipped();
        Ok(export::render(format, &dump, js_sys::Date::now() as u64).into())
    }

    async fn clear(&self) -> Result<JsValue, Error> {
        self.store.clear().await?;
        // A fresh identity: the server has seen the old client id's mutation ids, and
        // reusing them from 1 would make it drop the new writes as duplicates.
        let meta = self.store.open_meta(&new_client_id()?).await?;
        *self.client_id.borrow_mut() = meta.client_id;
        self.last_synced_at.set(None);
        self.set_pending(0);
        Ok(JsValue::UNDEFINED)
    }

    fn set_pending(&self, pending: i64) {
        self.pending.set(pending.max(0));
        self.status_snapshot.borrow_mut().take();
        self.events.emit(events::STATUS, &self.status());
    }

    fn status(&self) -> JsValue {
        if let Some(snapshot) = self.status_snapshot.borrow().as_ref() {
            return snapshot.clone();
        }
        let last_synced = self.last_synced_at.get().map_or(JsValue::NULL, JsValue::from);
        let snapshot = events::object(&[
            // No sync engine runs yet: the client is connected to no server.
            ("state", "offline".into()),
            ("pending", JsValue::from(self.pending.get() as f64)),
            ("lastSyncedAt", last_synced),
            ("lastError", JsValue::NULL),
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

/// The parts of the JS config that are not JSON, taken out before parsing the rest.
struct ConfigParts {
    json: Value,
    event_target: Option<EventTarget>,
    token: Option<JsValue>,
    resolvers: HashMap<String, Function>,
}

fn split_config(js: &JsValue) -> Result<ConfigParts, Error> {
    if !js.is_object() || Array::is_array(js) {
        return Err(Error::InvalidConfig("SyncClient.open needs a config object".into()));
    }
    let field = |name: &str| Reflect::get(js, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let event_target = match field("eventTarget") {
        t if t.is_undefined() || t.is_null() => None,
        t => Some(convert::cast::<EventTarget>(t, "`eventTarget`")?),
    };
    let token = match field("token") {
        t if t.is_undefined() || t.is_null() => None,
        t if t.is_string() || t.is_function() => Some(t),
        _ => return Err(Error::InvalidConfig("`token` must be a string or a function returning one".into())),
    };
    // A shallow copy without the non-JSON fields; resolver functions become "custom".
    let copy = js_sys::Object::assign(&js_sys::Object::new(), js.unchecked_ref());
    for name in ["eventTarget", "token"] {
        let _ = Reflect::delete_property(&copy, &name.into());
    }
    let mut resolvers = HashMap::new();
    let collections = field("collections");
    if collections.is_object() && !Array::is_array(&collections) {
        let replaced = js_sys::Object::new();
        for entry in js_sys::Object::entries(collections.unchecked_ref()).iter() {
            let entry: Array = entry.unchecked_into();
            let (name, spec) = (entry.get(0), entry.get(1));
            let conflict = Reflect::get(&spec, &"conflict".into()).unwrap_or(JsValue::UNDEFINED);
            let spec = if let Some(resolver) = conflict.dyn_ref::<Function>() {
                let name = name.as_string().unwrap_or_default();
                resolvers.insert(name, resolver.clone());
                let spec_copy = js_sys::Object::assign(&js_sys::Object::new(), spec.unchecked_ref());
                let _ = Reflect::set(&spec_copy, &"conflict".into(), &"custom".into());
                spec_copy.into()
            } else {
                spec
            };
            let _ = Reflect::set(&replaced, &name, &spec);
        }
        let _ = Reflect::set(&copy, &"collections".into(), &replaced);
    }
    let json = convert::to_json("", &copy).map_err(|e| Error::InvalidConfig(format!("the config must be JSON apart from eventTarget, token and resolvers: {e}")))?;
    Ok(ConfigParts { json, event_target, token, resolvers })
}

fn parse_list_query(config: &CollectionConfig, js: &JsValue) -> Result<ListQuery, Error> {
    if js.is_undefined() || js.is_null() {
        return Ok(ListQuery::default());
    }
    let bad = |reason: &str| Error::InvalidValue { collection: config.name.clone(), reason: reason.to_owned() };
    if !js.is_object() {
        return Err(bad("a list query must be an object such as {index, equals, limit}"));
    }
    let field = |name: &str| Reflect::get(js, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let limit = match field("limit") {
        l if l.is_undefined() => None,
        l => match l.as_f64() {
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => Some(n as usize),
            _ => return Err(bad("`limit` must be a whole number of at least 0")),
        },
    };
    let index = match (field("index"), field("equals")) {
        (i, e) if i.is_undefined() && e.is_undefined() => None,
        (i, e) => {
            let name = i.as_string().ok_or_else(|| bad("`index` must name a declared index"))?;
            if e.is_undefined() {
                return Err(bad("`index` needs `equals`: the value to match"));
            }
            Some((name, convert::to_json(&config.name, &e)?))
        }
    };
    let query = ListQuery { index, limit };
    query.validate(config)?;
    Ok(query)
}

/// `c-` and 16 random hex digits from the platform's CSPRNG (`crypto.getRandomValues`,
/// on the global scope in pages and workers).
fn new_client_id() -> Result<String, Error> {
    let unavailable = |e: JsValue| Error::Storage(format!("crypto.getRandomValues is not available: {}", describe(&e)));
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).map_err(unavailable)?;
    let get_random_values: Function = Reflect::get(&crypto, &"getRandomValues".into())
        .map_err(unavailable)?
        .dyn_into()
        .map_err(unavailable)?;
    let bytes = js_sys::Uint8Array::new_with_length(8);
    get_random_values.call1(&crypto, &bytes).map_err(unavailable)?;
    let hex: String = bytes.to_vec().iter().map(|b| format!("{b:02x}")).collect();
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
