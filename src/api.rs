//! `SyncClient`: the JS API. Every JS argument and option is parsed here, and the client
//! (`client/`) gets Rust types: the collection's config, keys as strings, parsed queries
//! and choices. Record values stay JS values; the client converts them. Each method turns
//! the outcome into a Promise that rejects with a `PwaSyncError`. Nothing imports this
//! module: it is the top layer.

use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::EventTarget;

use crate::client::{Client, ConflictChoice, Extras, Locked, Report, WatchTarget};
use crate::convert;
use crate::error::to_js;
use crate::migrate::Migrations;
use crate::value::JsVal;
use pwa_sync_core::config::{ClientConfig, CollectionConfig};
use pwa_sync_core::export::Format;
use pwa_sync_core::json::{JsonText, ToJson};
use pwa_sync_core::metrics::SyncReport;
use pwa_sync_core::names::CLIENT_METHODS;
use pwa_sync_core::query::Query;
use pwa_sync_core::record::ListQuery;
use pwa_sync_core::Error;

/// An open sync client over one IndexedDB database. Its TypeScript declaration is written
/// by hand in `types.rs` (generic over the app's collections, which wasm-bindgen's
/// generated classes cannot be); e2e/package.test.mjs checks the two list the same members.
#[wasm_bindgen(skip_typescript)]
pub struct SyncClient {
    client: Rc<Client>,
}

/// What `sync()` resolves to. Public for the browser suites' test of its text.
pub struct SyncResult {
    pub pushed: usize,
    pub pulled: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub duration_ms: f64,
}

impl ToJson for SyncResult {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("pushed", &self.pushed);
        out.field("pulled", &self.pulled);
        out.field("conflicts", &self.conflicts);
        out.field("rejected", &self.rejected);
        out.field("durationMs", &self.duration_ms);
        out.close_object();
    }
}

/// A method's number: its place in `CLIENT_METHODS`, found when compiling (a name not
/// there fails the build).
macro_rules! number {
    ($name:literal) => {
        const { method_number($name) }
    };
}

const fn method_number(name: &str) -> u32 {
    let mut at = 0;
    while at < CLIENT_METHODS.len() {
        let listed = CLIENT_METHODS[at].as_bytes();
        let (name, mut same) = (name.as_bytes(), listed.len() == name.len());
        let mut i = 0;
        while same && i < name.len() {
            same = listed[i] == name[i];
            i += 1;
        }
        if same {
            return at as u32;
        }
        at += 1;
    }
    panic!("not a name of CLIENT_METHODS")
}

#[wasm_bindgen]
impl SyncClient {
    /// Open (or create) the database described by `config`. With an `endpoint`, the client
    /// starts syncing in the background at once.
    /// Not an `async fn`: its future goes through the same boxed promise glue as every
    /// other method's (`sys::promise`) instead of a `future_to_promise` of its own (Rust
    /// callers use [`SyncClient::open`]).
    #[wasm_bindgen(js_name = open, unchecked_return_type = "Promise<SyncClient>")]
    pub fn open_js(#[wasm_bindgen(unchecked_param_type = "SyncConfig")] config: JsValue) -> Promise {
        crate::sys::promise(Box::pin(async move {
            SyncClient::start(&config).await.map(JsValue::from).map_err(|e| to_js(&e))
        }))
    }

    /// Every other method, and the properties `clientId` and `name`, by its number in
    /// `CLIENT_METHODS` (the JS class's methods and properties, which
    /// `scripts/package.mjs` defines, call this): one export, where each method's own was
    /// ~175 bytes of the module (bench/README.md "Size").
    #[wasm_bindgen(js_name = "__call")]
    pub fn call(&self, method: u32, a: JsValue, b: JsValue, c: JsValue) -> Result<JsValue, JsValue> {
        Ok(match method {
            n if n == number!("put") => self.put(a, b).into(),
            n if n == number!("putMany") => self.put_many(a, b).into(),
            n if n == number!("patch") => self.patch(a, b, c).into(),
            n if n == number!("delete") => self.delete(a, b).into(),
            n if n == number!("get") => self.get(a, b).into(),
            n if n == number!("getFresh") => self.get_fresh(a, b, c).into(),
            n if n == number!("list") => self.list(a, b).into(),
            n if n == number!("query") => self.query(a, b).into(),
            n if n == number!("count") => self.count(a, b).into(),
            n if n == number!("explain") => self.explain(a, b).into(),
            n if n == number!("watch") => self.watch(a, b, c)?.into(),
            n if n == number!("sync") => self.sync().into(),
            n if n == number!("flush") => self.flush(a).into(),
            n if n == number!("discardPending") => self.discard_pending().into(),
            n if n == number!("resync") => self.resync().into(),
            n if n == number!("pending") => self.pending(a).into(),
            n if n == number!("status") => self.status(),
            n if n == number!("metrics") => self.metrics().into(),
            n if n == number!("persist") => self.persist().into(),
            n if n == number!("health") => self.health().into(),
            n if n == number!("conflicts") => self.conflicts().into(),
            n if n == number!("resolveConflict") => self.resolve_conflict(a, b).into(),
            n if n == number!("audit") => self.audit(a).into(),
            n if n == number!("export") => self.export_data(a).into(),
            n if n == number!("clear") => self.clear().into(),
            n if n == number!("close") => {
                self.close();
                JsValue::UNDEFINED
            }
            n if n == number!("spaces") => self.spaces().into(),
            n if n == number!("on") => self.on(a, b)?.into(),
            n if n == number!("clientId") => self.client_id().into(),
            n if n == number!("name") => self.name().into(),
            // Only a glue of another build calls a number this module does not have.
            _ => return Err(to_js(&Error::invalid_value("", format!("SyncClient has no method {method}")))),
        })
    }
}

/// The methods `call` dispatches to, and the suites' (Rust's) API.
impl SyncClient {
    /// The id this client sends with its mutations.
    pub fn client_id(&self) -> String {
        self.client.client_id()
    }

    /// The database name from the config.
    pub fn name(&self) -> String {
        self.client.config().name.clone()
    }

    /// Store a whole record (its key field says which). Resolves to the stored value.
    pub fn put(&self, collection: JsValue, value: JsValue) -> Promise {
        // Copied now, not when the operation runs: the app may change its object as soon
        // as `put` returns, and what is stored and sent is what it passed.
        let copy = JsVal::copy_of("", &value);
        self.run(Call::Record(collection, RecordCall::Put(copy)))
    }

    /// Store many whole records of one collection in one transaction: all of them, or
    /// none if any is invalid (the error names its index) or storage fails. Each record
    /// is a local write as with `put` (one change event each). Resolves to the count.
    pub fn put_many(&self, collection: JsValue, values: JsValue) -> Promise {
        let copy = JsVal::copy_of("", &values);
        self.run(Call::Record(collection, RecordCall::PutMany(values, copy)))
    }

    /// Merge `partial` into the stored record (JSON Merge Patch: `null` removes a field).
    /// Resolves to the whole new value; rejects with `not-found` if there is no record.
    pub fn patch(&self, collection: JsValue, key: JsValue, partial: JsValue) -> Promise {
        let copy = JsVal::copy_of("", &partial);
        self.run(Call::Record(collection, RecordCall::Patch(key, copy)))
    }

    /// Delete a record. Deleting a key that does not exist does nothing.
    pub fn delete(&self, collection: JsValue, key: JsValue) -> Promise {
        self.run(Call::Record(collection, RecordCall::Delete(key)))
    }

    /// The record, or `undefined`.
    pub fn get(&self, collection: JsValue, key: JsValue) -> Promise {
        if let Some(read) = self.client.get_now(&collection, &key) {
            return read;
        }
        self.run(Call::Record(collection, RecordCall::Get(key, None)))
    }

    /// The stored record at once; if the data is older than the collection's `ttlMs`, a
    /// sync runs in the background and the collection's event fires when it changes.
    pub fn get_fresh(&self, collection: JsValue, key: JsValue, options: JsValue) -> Promise {
        let details = Reflect::get(&options, &"details".into()).ok().and_then(|v| v.as_bool()).unwrap_or(false);
        self.run(Call::Record(collection, RecordCall::Get(key, Some(details))))
    }

    /// Records in key order: all, or those whose indexed field equals a value.
    pub fn list(&self, collection: JsValue, query: JsValue) -> Promise {
        self.run(Call::Record(collection, RecordCall::List(query)))
    }

    // ---- queries (issue 17) ----

    /// A page of records matching `where`, in `orderBy` order: `{records, next}`; give
    /// `next` back as `after` for the following page (`null` on the last).
    pub fn query(&self, collection: JsValue, query: JsValue) -> Promise {
        let parsed = collection_of(&self.client, &collection).and_then(|config| parse_query(config, &query, false));
        self.run(Call::Query(parsed, false))
    }

    /// How many records match `where`.
    pub fn count(&self, collection: JsValue, query: JsValue) -> Promise {
        // Parsed once: in one request and one promise where it can be (`Client::count_now`),
        // else through the store, which also rejects bad arguments.
        let parsed = collection_of(&self.client, &collection).and_then(|config| parse_query(config, &query, true));
        if let Ok(query) = &parsed {
            if let Some(counting) = self.client.count_now(query) {
                return counting;
            }
        }
        self.run(Call::Query(parsed, true))
    }

    /// Which index a query would use, and whether it scans: `{index, scan, orderByIndex}`.
    pub fn explain(&self, collection: JsValue, query: JsValue) -> Promise {
        self.run(Call::Explain(collection, query))
    }

    /// Call `callback` with the records of `query` (or the record of a key) now and
    /// whenever they change; returns the function that stops it.
    pub fn watch(&self, collection: JsValue, target: JsValue, callback: JsValue) -> Result<Function, JsValue> {
        let start = || {
            if self.client.is_closed() {
                return Err(Error::Closed);
            }
            let config = collection_of(&self.client, &collection)?;
            let callback: Function = callback
                .dyn_into()
                .map_err(|_| Error::invalid_value(&config.name, "watch() needs a callback function"))?;
            let target = match target.as_string() {
                Some(key) => WatchTarget::Key(key_of(config, &JsValue::from(key))?),
                None => WatchTarget::Query(parse_query(config, &target, false)?),
            };
            self.client.watch(config, target, callback)
        };
        start().map_err(|e| to_js(&e))
    }

    /// Push everything queued, then pull until caught up. Rejects with the failure's class
    /// as `code` (`network`, `timeout`, `auth`, `rate-limited`, `server`, `validation`,
    /// `protocol`), or `local-only` without an endpoint.
    pub fn sync(&self) -> Promise {
        self.run(Call::Locked(Locked::Sync, false))
    }

    /// For a service worker's `sync` event: like `sync()`, but with `{lastChance: true}` a
    /// failure resolves (to `null`) instead of rejecting, leaving the outbox as it is and
    /// the reason in `status().lastError`, since the browser will not try again.
    pub fn flush(&self, options: JsValue) -> Promise {
        let last_chance = Reflect::get(&options, &"lastChance".into()).ok().and_then(|v| v.as_bool()).unwrap_or(false);
        self.run(Call::Locked(Locked::Sync, last_chance))
    }

    /// Drop every queued write and roll its record back to the server's value (change
    /// events fire); the outbox is empty afterwards. Resolves to how many were dropped.
    pub fn discard_pending(&self) -> Promise {
        self.run(Call::Locked(Locked::Discard, false))
    }

    /// Pull every document again from the start while keeping pending writes, then sync.
    pub fn resync(&self) -> Promise {
        self.run(Call::Locked(Locked::Resync, false))
    }

    /// Number of local writes not yet acknowledged by the server, read from storage;
    /// with `{details: true}`, one entry per queued write.
    pub fn pending(&self, options: JsValue) -> Promise {
        let details = Reflect::get(&options, &"details".into()).ok().and_then(|v| v.as_bool()).unwrap_or(false);
        let report = if details { Report::PendingDetails } else { Report::Pending };
        self.run(Call::Report(report))
    }

    /// The current status. The same object is returned until something changes.
    pub fn status(&self) -> JsValue {
        self.client.status()
    }

    /// Counters and sync latencies of this client since it opened.
    pub fn metrics(&self) -> Promise {
        self.run(Call::Report(Report::Metrics))
    }

    /// Ask the browser for persistent storage (`navigator.storage.persist()`), so this
    /// origin's data is not evicted (e.g. by Safari after seven days without a visit).
    /// Resolves whether it is granted; false where the context cannot ask (workers).
    pub fn persist(&self) -> Promise {
        // The store's script asks and words a failure: no Rust future for it.
        match self.client.is_closed() {
            true => Promise::reject(&to_js(&Error::Closed)),
            false => crate::client::persist(),
        }
    }

    /// `healthy`, `degraded` or `unhealthy`, with the reasons.
    pub fn health(&self) -> Promise {
        self.run(Call::Report(Report::Health))
    }

    /// Conflicts waiting for the app to decide, oldest first.
    pub fn conflicts(&self) -> Promise {
        self.run(Call::Report(Report::Conflicts))
    }

    /// Settle an open conflict: keep the local value, take the server's, or use a record of
    /// the app's own (e.g. a merge the person made). The result goes to the server against
    /// the version the conflict showed. Rejects with `unknown-conflict` if it is not open.
    pub fn resolve_conflict(&self, id: JsValue, choice: JsValue) -> Promise {
        self.run(Call::ResolveConflict(id, choice))
    }

    /// The newest audit entries (conflicts and rejections), newest first.
    pub fn audit(&self, limit: JsValue) -> Promise {
        let limit = limit.as_f64().filter(|n| *n >= 0.0).map_or(usize::MAX, |n| n as usize);
        self.run(Call::Report(Report::Audit(limit)))
    }

    /// Every live record, as JSON (`{collections: {name: [...]}}`) or one CSV table.
    /// Each collection's live values are read by `list` (in the config's order), and the
    /// export script (`js/export.js`) renders them once all are read: no state machine of
    /// its own in the module (bench/README.md "Size").
    pub fn export_data(&self, options: JsValue) -> Promise {
        let format = Reflect::get(&options, &"format".into()).ok().and_then(|f| f.as_string());
        let format = match Format::parse(format.as_deref().unwrap_or("<missing>")) {
            Ok(format) => format,
            Err(e) => return Promise::reject(&to_js(&e)),
        };
        let names = Array::new();
        let lists = Array::new();
        for collection in &self.client.config().collections {
            let name = JsValue::from_str(&collection.name);
            lists.push(&self.list(name.clone(), JsValue::UNDEFINED));
            names.push(&name);
        }
        export_text(format == Format::Csv, &names, &lists)
    }

    /// Remove every record, pending write, conflict and audit entry (logout). The client
    /// stays open and continues under a new client id.
    pub fn clear(&self) -> Promise {
        self.run(Call::Locked(Locked::Clear, false))
    }

    /// Stop background sync and close the database connection. Later calls reject with
    /// code `closed`.
    pub fn close(&self) {
        self.client.close();
    }

    /// The user's spaces and roles, from the server (`GET /sync/spaces`); fires
    /// `pwa-sync:spaces` when they differ from what the client knew.
    pub fn spaces(&self) -> Promise {
        self.run(Call::Spaces)
    }

    /// Listen to one of this client's events on its event target (the config's
    /// `eventTarget`, default `globalThis`). Returns a function that stops listening.
    pub fn on(&self, event: JsValue, listener: JsValue) -> Result<Function, JsValue> {
        let bad = |reason: &str| to_js(&Error::invalid_value("", reason));
        let name = event.as_string().filter(|n| !n.is_empty()).ok_or_else(|| bad("on() needs an event name"))?;
        let listener: Function = listener.dyn_into().map_err(|_| bad("on() needs a listener function"))?;
        let target = self.client.event_target();
        target.add_event_listener_with_callback(&name, &listener)?;
        // Removing a listener twice does nothing, so the returned function may be called
        // again (React's strict mode does).
        let stop = Closure::<dyn Fn()>::new(move || {
            let _ = target.remove_event_listener_with_callback(&name, &listener);
        });
        Ok(stop.into_js_value().unchecked_into())
    }
}

impl SyncClient {
    /// `SyncClient.open` for Rust callers (the browser test suites).
    pub async fn open(config: JsValue) -> Result<SyncClient, JsValue> {
        SyncClient::start(&config).await.map_err(|e| to_js(&e))
    }

    async fn start(config: &JsValue) -> Result<SyncClient, Error> {
        let (config, extras) = split_config(config)?;
        let client = Client::open(config, extras).await?;
        Ok(SyncClient { client })
    }

    /// Run an async method as a Promise that rejects with a `PwaSyncError`.
    fn run(&self, call: Call) -> Promise {
        if self.client.is_closed() {
            return Promise::reject(&to_js(&Error::Closed));
        }
        let client = self.client.clone();
        crate::sys::promise(Box::pin(async move { perform(client, call).await.map_err(|e| to_js(&e)) }))
    }
}

fn sync_result(report: &SyncReport, started: f64) -> Result<JsValue, Error> {
    convert::to_js(&SyncResult {
        pushed: report.pushed,
        pulled: report.pulled,
        conflicts: report.conflicts,
        rejected: report.rejected,
        duration_ms: js_sys::Date::now() - started,
    })
}

#[wasm_bindgen(js_namespace = pwaSyncExport)]
extern "C" {
    /// `export()`'s text once every list (`lists[i]`, a promise of `names[i]`'s live
    /// values) is read: CSV when `as_csv`, else JSON.
    #[wasm_bindgen(js_name = text)]
    fn export_text(as_csv: bool, names: &Array, lists: &Array) -> Promise;
}

#[wasm_bindgen(js_namespace = pwaSyncConfig)]
extern "C" {
    /// `js/config.js`: the config's JSON part and what is not JSON, taken apart, or why
    /// the config is refused (a string).
    #[wasm_bindgen(js_name = split)]
    fn split_js(config: &JsValue) -> JsValue;
}

/// Parse the JS config: the JSON part goes to `ClientConfig`, the rest (event target,
/// token, encryption, migrations, resolver functions) is kept aside. The taking apart and
/// every check are `js/config.js`'s, whose JSON part is already what `JSON.parse` made.
fn split_config(js: &JsValue) -> Result<(ClientConfig, Extras), Error> {
    #[cfg(feature = "testing")]
    crate::sys::install_scripts_for_tests();
    let parts = split_js(js);
    if let Some(reason) = parts.as_string() {
        return Err(Error::InvalidConfig(reason));
    }
    let parts: Array = parts.unchecked_into();
    let part = |i: u32| Some(parts.get(i)).filter(|p| !p.is_undefined());
    let json = convert::json_of(&parts.get(0)).map_err(Error::InvalidConfig)?;
    let config = ClientConfig::from_json(json)?;
    let encryption = part(3);
    let migrations = Rc::new(Migrations::from_js(config.version, &parts.get(4)));
    let mut resolvers = Vec::new();
    crate::sys::each_function_pair(&parts.get(5), &mut |name, resolve| {
        resolvers.push((name.as_string().unwrap_or_default(), resolve))
    });
    let event_target = part(1).map(JsCast::unchecked_into::<EventTarget>);
    Ok((config, Extras { event_target, token: part(2), resolvers, encryption, migrations }))
}

/// `list`'s options from JS: checked by `js/values.js` (`checkList`, `invalid-value` for
/// anything wrong), read as it answers them.
fn parse_list_query(config: &CollectionConfig, js: &JsValue) -> Result<ListQuery, Error> {
    let (declared, single) = (Array::new(), Array::new());
    for index in &config.indexes {
        let name = JsValue::from_str(&index.name);
        if index.fields.len() == 1 {
            single.push(&name);
        }
        declared.push(&name);
    }
    let checked = crate::value::check_list(js, &declared, &single);
    if let Some(reason) = checked.as_string() {
        return Err(Error::invalid_value(&config.name, reason));
    }
    let parts: Array = checked.unchecked_into();
    // `equals` is a string or a number, which reads into JSON as it is.
    let index = parts.get(0).as_string().map(|name| (name, convert::json_of(&parts.get(1)).unwrap_or_default()));
    Ok(ListQuery { index, limit: parts.get(2).as_f64().map(|n| n as usize) })
}

/// A query object from JS (`count`: `count`'s, which takes only `where`): checked by
/// `js/values.js`, whose JSON copy the core reads, checking the cursor (`invalid-query`
/// for anything wrong).
fn parse_query(config: &CollectionConfig, js: &JsValue, count: bool) -> Result<Query, Error> {
    let bad = |reason: String| Error::InvalidQuery { collection: config.name.clone(), reason };
    // The fields a query cannot order by: those with a multi-entry index (array fields).
    let multi_entry = Array::new();
    for index in config.indexes.iter().filter(|i| i.multi_entry) {
        multi_entry.push(&JsValue::from_str(&index.fields[0]));
    }
    let checked = crate::value::check_query(js, count, &multi_entry);
    if let Some(problem) = checked.as_string() {
        return Err(bad(problem));
    }
    // What the script checked is what is read: the JSON copy it made.
    let json = convert::json_of(&checked.unchecked_ref::<Array>().get(0))
        .map_err(|e| bad(format!("the query must be JSON: {e}")))?;
    Query::parse(config, &json)
}

/// A call on the records of one collection: its JS arguments after the collection name.
/// One parsing path (and one future type in the module) for all of them.
/// A value as the app passed it, copied when the call was made (see `JsVal::copy_of`):
/// an `invalid-value` error names no collection yet.
type Copied = Result<JsVal, Error>;

enum RecordCall {
    Put(Copied),
    /// The array as passed (to name a bad record), and its copy.
    PutMany(JsValue, Copied),
    /// Key, partial value.
    Patch(JsValue, Copied),
    Delete(JsValue),
    /// Key; for `getFresh`, whether to answer with the freshness details.
    Get(JsValue, Option<bool>),
    List(JsValue),
}

/// An async method of `SyncClient` and its arguments, as `perform` takes them.
enum Call {
    /// A call on one collection's records, named by the first argument.
    Record(JsValue, RecordCall),
    /// The query, parsed, or why it could not be; whether it is `count`'s.
    Query(Result<Query, Error>, bool),
    /// Collection, query.
    Explain(JsValue, JsValue),
    /// What is done holding the flush lock; whether this is the browser's last chance
    /// (`flush({lastChance: true})`).
    Locked(Locked, bool),
    Report(Report),
    /// Conflict id, choice.
    ResolveConflict(JsValue, JsValue),
    Spaces,
}

/// What every async method does once called: one state machine for all of them (each
/// method's own `async` block was a state machine of its own, with its drop glue and
/// vtable; bench/README.md "Size").
async fn perform(c: Rc<Client>, call: Call) -> Result<JsValue, Error> {
    match call {
        Call::Record(collection, call) => records(&c, &collection, call).await,
        Call::Query(parsed, count) => {
            let query = parsed?;
            c.query(c.collection(&query.collection)?, &query, count).await
        }
        Call::Explain(collection, query) => {
            let config = collection_of(&c, &collection)?;
            c.explain(config, &parse_query(config, &query, false)?)
        }
        // A service worker's last chance (`flush`) resolves to `null` on failure, since
        // the browser will not try again (the outbox stays, the reason is in the status).
        // The clock is read before the lock is waited for: a sync's `durationMs` counts
        // from the call, and the other calls no longer read it at all.
        Call::Locked(work, last_chance) => match (js_sys::Date::now(), c.locked(work).await) {
            (_, Ok((_, dropped))) if work == Locked::Discard => Ok(JsValue::from(dropped as f64)),
            (_, Ok(_)) if work == Locked::Clear => Ok(JsValue::UNDEFINED),
            (started, Ok((report, _))) => sync_result(&report, started),
            (_, Err(_)) if last_chance => Ok(JsValue::NULL),
            (_, Err(e)) => Err(e),
        },
        Call::Report(report) => c.report(report).await,
        Call::ResolveConflict(id, choice) => {
            let id = id.as_f64().filter(|n| *n >= 1.0 && n.fract() == 0.0).ok_or(Error::UnknownConflict(0))? as u64;
            c.resolve_conflict(id, conflict_choice(choice)).await
        }
        Call::Spaces => c.spaces().await,
    }
}

/// Parse a record call's arguments in the order the errors are reported (collection,
/// then key or query), and hand them to the client.
async fn records(c: &Rc<Client>, collection: &JsValue, call: RecordCall) -> Result<JsValue, Error> {
    let config = collection_of(c, collection)?;
    // The writes are made ready first, then written through one await (`Client::write`).
    let (batch, answer) = match call {
        RecordCall::Put(value) => (vec![c.put_write(config, in_collection(value, config)?)?], Written::Value),
        RecordCall::PutMany(values, copy) => {
            let values: Array = values.dyn_into().map_err(|values| {
                Error::invalid_value(
                    &config.name,
                    format!("putMany takes an array of records, got {}", describe_type(&values)),
                )
            })?;
            (c.put_many_writes(config, &values, copy.ok())?, Written::Count)
        }
        RecordCall::Patch(key, partial) => {
            let key = key_of(config, &key)?;
            (vec![c.patch_write(config, key, in_collection(partial, config)?)?], Written::Value)
        }
        RecordCall::Delete(key) => (vec![c.delete_write(config, key_of(config, &key)?)?], Written::Nothing),
        RecordCall::Get(key, fresh) => return c.get(config, key_of(config, &key)?, fresh).await,
        RecordCall::List(query) => return c.list(config, &parse_list_query(config, &query)?).await,
    };
    let mut outcomes = c.write(config, &batch).await?;
    Ok(match answer {
        Written::Count => JsValue::from(outcomes.len() as f64),
        Written::Nothing => JsValue::UNDEFINED,
        Written::Value => JsVal::or_undefined(outcomes.pop().and_then(|outcome| outcome.value)),
    })
}

/// What a write call resolves to: the value now stored (`put`, `patch`), nothing
/// (`delete`), or how many records were written (`putMany`).
enum Written {
    Value,
    Nothing,
    Count,
}

/// A copied value's `invalid-value` error, naming the collection now known.
fn in_collection(copy: Copied, config: &CollectionConfig) -> Copied {
    copy.map_err(|e| match e {
        Error::InvalidValue { reason, .. } => Error::InvalidValue { collection: config.name.clone(), reason },
        other => other,
    })
}

/// The config of the collection a JS argument names.
fn collection_of<'c>(client: &'c Client, name: &JsValue) -> Result<&'c CollectionConfig, Error> {
    let name = name.as_string().ok_or_else(|| Error::InvalidValue {
        collection: String::new(),
        reason: "the collection name must be a string".into(),
    })?;
    client.collection(&name)
}

/// A key argument: a string (the client checks it further).
fn key_of(config: &CollectionConfig, key: &JsValue) -> Result<String, Error> {
    key.as_string().ok_or_else(|| Error::InvalidValue {
        collection: config.name.clone(),
        reason: format!("the key must be a string, got {}", describe_type(key)),
    })
}

/// `resolveConflict`'s choice: "local", "server", `null` or a record.
fn conflict_choice(choice: JsValue) -> ConflictChoice {
    match choice.as_string() {
        Some(side) if side == "local" => ConflictChoice::Local,
        Some(side) if side == "server" => ConflictChoice::Server,
        Some(other) => ConflictChoice::Unknown(other),
        None if choice.is_null() => ConflictChoice::Delete,
        None => ConflictChoice::Record(choice),
    }
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
