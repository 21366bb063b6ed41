//! The IndexedDB store: the shared conformance suite, then what only a real database
//! can show (atomicity under a fault, persistence, upgrades, versionchange, corrupted
//! records). Each test uses its own database and deletes it.

use js_sys::{Reflect, JSON};
use pwa_sync::idb::IdbStore;
use pwa_sync::value::JsVal;
use pwa_sync_core::config::ClientConfig;
use pwa_sync_core::engine::LocalWrites;
use pwa_sync_core::error::Error;
use pwa_sync_core::mutation::{LocalOp, LocalWrite};
use pwa_sync_core::query::plan::plan;
use pwa_sync_core::query::Query;
use pwa_sync_core::record::{ListQuery, STORAGE_FORMAT};
use pwa_sync_core::store::conformance::{self, json_get, json_list, json_outbox};
use pwa_sync_core::store::Store;
use pwa_sync_core::value::AppValue;

use super::support::{js, unique, within};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

fn named(mut config: ClientConfig, name: &str) -> ClientConfig {
    config.name = name.to_owned();
    config
}

fn config(name: &str, collections: Value) -> ClientConfig {
    ClientConfig::from_json(json!({"name": name, "collections": collections})).unwrap()
}

async fn open(config: &ClientConfig) -> IdbStore {
    IdbStore::open(config).await.unwrap_or_else(|e| panic!("open {}: {e}", config.name))
}

async fn dispose(store: IdbStore) {
    let name = store.name().to_owned();
    store.close();
    IdbStore::delete_database(&name).await.unwrap();
}

fn write(collection: &str, key: &str, op: LocalOp) -> LocalWrite<JsVal> {
    LocalWrite::new(collection.into(), key.into(), conformance::to_store(op), 1_700_000_000_000)
}

fn put(collection: &str, value: Value) -> LocalWrite<JsVal> {
    let key = value["id"].as_str().unwrap().to_owned();
    write(collection, &key, LocalOp::Put(value))
}

async fn keys(store: &IdbStore, collection: &str, query: ListQuery) -> Vec<String> {
    json_list(store, collection, &query).await.unwrap().into_iter().map(|r| r.key).collect()
}

async fn outbox_ids(store: &IdbStore) -> Vec<u64> {
    json_outbox(store, 100).await.unwrap().into_iter().map(|e| e.id).collect()
}

fn by(field: &str, value: Value) -> ListQuery {
    ListQuery { index: Some((field.into(), value)), limit: None }
}

/// Write a raw JS value straight into an object store, behind the store's back.
async fn raw_put(db_name: &str, store: &str, value: &str, key: Option<&str>) {
    let db = idb::Factory::new().unwrap().open(db_name, None).unwrap().await.unwrap();
    let tx = db.transaction(&[store], idb::TransactionMode::ReadWrite).unwrap();
    let value = JSON::parse(value).unwrap();
    let key = key.map(JsValue::from_str);
    tx.object_store(store).unwrap().put(&value, key.as_ref()).unwrap().await.unwrap();
    assert!(tx.await.unwrap().is_committed());
    db.close();
}

// ---- the conformance suite, on IndexedDB ----

macro_rules! on_indexeddb {
    ($name:ident) => {
        #[wasm_bindgen_test]
        async fn $name() {
            let store = open(&named(conformance::config(), &unique(stringify!($name)))).await;
            conformance::$name(&store).await;
            dispose(store).await;
        }
    };
}

pwa_sync_core::for_each_store_test!(on_indexeddb);

// ---- invariant 1: entity, outbox and meta commit together or not at all ----

#[wasm_bindgen_test]
async fn a_fault_after_the_entity_write_leaves_nothing_behind() {
    let store = open(&named(conformance::config(), &unique("fault"))).await;
    let before = store.open_meta("c-1").await.unwrap();

    store.fail_next_write_after_entity();
    let err = store.write_local(&put("items", json!({"id": "a", "n": 1}))).await;
    assert_eq!(err.map(|_| ()), Err(Error::Storage("injected fault".into())));
    assert_eq!(json_get(&store, "items", "a").await.unwrap(), None, "the entity write was rolled back");
    assert_eq!(store.pending_count().await.unwrap(), 0);
    assert_eq!(store.open_meta("c-other").await.unwrap(), before, "meta unchanged: the mutation id is not spent");

    // An existing record keeps its value when an edit of it fails.
    assert!(store.write_local(&put("items", json!({"id": "a", "n": 1}))).await.unwrap().queued);
    assert_eq!(outbox_ids(&store).await, [1], "the failed write took no id");
    store.mark_sent(&[1]).await.unwrap();
    store.fail_next_write_after_entity();
    assert!(store.write_local(&write("items", "a", LocalOp::Patch(json!({"n": 2})))).await.is_err());
    let record = json_get(&store, "items", "a").await.unwrap().unwrap();
    assert_eq!((record.value, record.pending), (Some(json!({"id": "a", "n": 1})), 1));
    let outbox = json_outbox(&store, 10).await.unwrap();
    assert_eq!((outbox.len(), outbox[0].sent), (1, true));

    // The hook fires once; the next write is normal.
    let out = store.write_local(&write("items", "a", LocalOp::Patch(json!({"n": 3})))).await.unwrap();
    assert!(out.queued);
    assert_eq!(outbox_ids(&store).await, [1, 2]);
    dispose(store).await;
}

// ---- persistence ----

#[wasm_bindgen_test]
async fn data_survives_close_and_reopen() {
    let config = named(conformance::config(), &unique("reopen"));
    let store = open(&config).await;
    store.open_meta("c-first").await.unwrap();
    store.write_local(&put("items", json!({"id": "a", "tripId": "t1"}))).await.unwrap();
    store.write_local(&put("notes", json!({"id": "b", "text": "x"}))).await.unwrap();
    store.mark_sent(&[1]).await.unwrap();
    store.close();
    assert_eq!(json_get(&store, "items", "a").await, Err(Error::Closed));

    let store = open(&config).await;
    let meta = store.open_meta("c-second").await.unwrap();
    assert_eq!(meta.client_id, "c-first");
    assert_eq!(json_get(&store, "items", "a").await.unwrap().unwrap().value, Some(json!({"id": "a", "tripId": "t1"})));
    assert_eq!(keys(&store, "items", by("tripId", json!("t1"))).await, ["a"]);
    let outbox = json_outbox(&store, 10).await.unwrap();
    let summary: Vec<(u64, &str, bool)> = outbox.iter().map(|e| (e.id, e.key.as_str(), e.sent)).collect();
    assert_eq!(summary, [(1, "a", true), (2, "b", false)]);
    store.write_local(&put("notes", json!({"id": "c"}))).await.unwrap();
    assert_eq!(outbox_ids(&store).await, [1, 2, 3], "the key generator went on where it was");
    dispose(store).await;
}

// ---- automatic versioning ----

#[wasm_bindgen_test]
async fn upgrades_add_stores_and_indexes_and_older_apps_still_open() {
    let name = unique("upgrade");
    let older = config(&name, json!({"trips": {"key": "id", "indexes": ["owner"]}}));
    let newer = config(
        &name,
        json!({
        "trips": {"key": "id", "indexes": ["owner", "year"]},
        "packing": {"key": "id", "indexes": ["tripId"]}}),
    );

    let store = open(&older).await;
    store.open_meta("c-1").await.unwrap();
    store.write_local(&put("trips", json!({"id": "t1", "owner": "ana", "year": 2024}))).await.unwrap();
    store.close();

    let store = open(&newer).await;
    assert_eq!(json_get(&store, "trips", "t1").await.unwrap().unwrap().value.unwrap()["owner"], "ana");
    assert_eq!(keys(&store, "trips", by("year", json!(2024))).await, ["t1"], "the new index covers old records");
    assert_eq!(keys(&store, "trips", by("owner", json!("ana"))).await, ["t1"]);
    store.write_local(&put("packing", json!({"id": "p1", "tripId": "t1"}))).await.unwrap();
    assert_eq!(keys(&store, "packing", by("tripId", json!("t1"))).await, ["p1"]);
    store.close();

    // The older app opens the upgraded database without touching what it does not know.
    let store = open(&older).await;
    assert_eq!(keys(&store, "trips", ListQuery::default()).await, ["t1"]);
    assert_eq!(json_get(&store, "packing", "p1").await, Err(Error::UnknownCollection("packing".into())));
    store.write_local(&put("trips", json!({"id": "t2", "owner": "bo", "year": 2025}))).await.unwrap();
    store.close();

    let store = open(&newer).await;
    assert_eq!(keys(&store, "packing", ListQuery::default()).await, ["p1"], "the older app left packing alone");
    assert_eq!(keys(&store, "trips", by("year", json!(2025))).await, ["t2"]);
    assert_eq!(store.pending_count().await.unwrap(), 3);
    dispose(store).await;
}

#[wasm_bindgen_test]
async fn a_newer_storage_format_is_refused() {
    let config = named(conformance::config(), &unique("downgrade"));
    let store = open(&config).await;
    store.open_meta("c-1").await.unwrap();
    store.close();
    let newer = format!(
        r#"{{"clientId": "c-1", "nextMutationId": 1, "checkpoint": 0, "hlc": {{"wallMs": 0, "counter": 0}}, "lastSyncedAt": null, "format": {}}}"#,
        STORAGE_FORMAT + 1
    );
    raw_put(&config.name, "meta", &newer, Some("client")).await;
    let err = IdbStore::open(&config).await.map(|_| ());
    assert_eq!(err, Err(Error::SchemaDowngrade { found: STORAGE_FORMAT + 1, declared: STORAGE_FORMAT }));
    IdbStore::delete_database(&config.name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_take_raises_the_sent_mark_and_rewrites_only_entries_taken_again() {
    let config = named(conformance::config(), &unique("sent-mark"));
    let store = open(&config).await;
    store.open_meta("c-1").await.unwrap();
    for key in ["a", "b", "c"] {
        store.write_local(&put("items", json!({"id": key}))).await.unwrap();
    }
    let taken = |batch: Vec<pwa_sync_core::record::OutboxEntry<JsVal>>| -> Vec<(u64, bool, u32)> {
        batch.into_iter().map(|e| (e.id, e.sent, e.attempts)).collect()
    };
    assert_eq!(taken(store.take_batch(0, 2).await.unwrap()), [(1, true, 1), (2, true, 1)]);
    let raw_entry = |id: f64| {
        let name = config.name.clone();
        async move {
            let stored = super::support::raw(&name, "outbox", "get", &[JsValue::from(id)]).await;
            let field = |f: &str| Reflect::get(&stored, &f.into()).unwrap();
            (field("sent").as_bool(), field("attempts").as_f64())
        }
    };
    // Stored: the mark, and the entries as they were written.
    assert_eq!(super::support::raw(&config.name, "meta", "get", &["sent".into()]).await.as_f64(), Some(2.0));
    assert_eq!(raw_entry(1.0).await, (Some(false), Some(0.0)));
    // Taken again (its push got no answer): rewritten with its own flag and count.
    assert_eq!(taken(store.take_batch(0, 1).await.unwrap()), [(1, true, 2)]);
    assert_eq!(raw_entry(1.0).await, (Some(true), Some(2.0)));
    let outbox = json_outbox(&store, 10).await.unwrap();
    let flags: Vec<(u64, bool, u32)> = outbox.iter().map(|e| (e.id, e.sent, e.attempts)).collect();
    assert_eq!(flags, [(1, true, 2), (2, true, 1), (3, false, 0)]);
    // A write of a key whose entry the mark covers is queued apart; one of an untaken key
    // folds into its entry.
    store.write_local(&write("items", "b", LocalOp::Patch(json!({"n": 1})))).await.unwrap();
    store.write_local(&write("items", "c", LocalOp::Patch(json!({"n": 1})))).await.unwrap();
    assert_eq!(outbox_ids(&store).await, [1, 2, 3, 4]);
    store.close();

    // A database of the format before, whose takes flagged each entry: opening raises its
    // format (so a library of that format refuses it, `schema-downgrade`, rather than fold
    // a write into an entry the mark covers), and its flags still count.
    let client = raw_get(&config.name, "meta", "client").await;
    Reflect::set(&client, &"format".into(), &JsValue::from(3)).unwrap();
    super::support::raw(&config.name, "meta", "put", &[client, "client".into()]).await;
    super::support::raw(&config.name, "meta", "delete", &["sent".into()]).await;
    let store = open(&config).await;
    let client = raw_get(&config.name, "meta", "client").await;
    assert_eq!(Reflect::get(&client, &"format".into()).unwrap().as_f64(), Some(f64::from(STORAGE_FORMAT)));
    let flags: Vec<(u64, bool)> = json_outbox(&store, 10).await.unwrap().iter().map(|e| (e.id, e.sent)).collect();
    assert_eq!(flags, [(1, true), (2, false), (3, false), (4, false)]);

    // An attempt count Rust cannot read stays unreadable under the mark: named and
    // passed over, not counted into a readable one.
    store.take_batch(0, 10).await.unwrap();
    let entry = super::support::raw(&config.name, "outbox", "get", &[JsValue::from(2)]).await;
    Reflect::set(&entry, &"attempts".into(), &JsValue::from(-3)).unwrap();
    super::support::raw(&config.name, "outbox", "put", &[entry]).await;
    let ids: Vec<u64> = json_outbox(&store, 10).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 3, 4]);
    let skipped = store.take_skipped();
    assert!(skipped.len() == 1 && skipped[0].starts_with("outbox/2: "), "{skipped:?}");
    dispose(store).await;
}

/// A client's database is never without its metadata, which an older library finding none
/// would take for a new database and write its own of its format, to run beside this one
/// (folding writes into entries the sent mark covers). A new database gets it from the
/// transaction that creates it; one found without it (as an older library's `clear()`
/// leaves it between two transactions) is upgraded to store it, which closes every other
/// connection; `clear` stores the next one in its own transaction.
#[wasm_bindgen_test]
async fn a_client_database_is_never_without_its_metadata() {
    let config = named(conformance::config(), &unique("meta-with-db"));
    let open_for = |client_id: &'static str| {
        let config = config.clone();
        async move {
            let migrations = std::rc::Rc::new(pwa_sync::migrate::Migrations::none());
            IdbStore::open_over(&config, None, migrations, JsValue::UNDEFINED, client_id).await.unwrap()
        }
    };
    let stored = || async {
        let client = raw_get(&config.name, "meta", "client").await;
        let field = |f: &str| Reflect::get(&client, &f.into()).unwrap();
        (field("clientId").as_string(), field("format").as_f64())
    };
    let version = || async {
        js("name", "return new Promise((resolve) => { const r = indexedDB.open(name); r.onsuccess = () => { resolve(r.result.version); r.result.close(); }; });", &[config.name.as_str().into()]).await.as_f64()
    };
    let now = (Some("c-new".to_owned()), Some(f64::from(STORAGE_FORMAT)));

    let store = open_for("c-new").await;
    // The open ran no transaction of its own after creating the database.
    assert_eq!(stored().await, now);
    assert_eq!(store.take_found().unwrap().map(|(meta, _)| meta.client_id).as_deref(), Some("c-new"));
    store.write_local(&put("items", json!({"id": "a"}))).await.unwrap();
    store.close();
    let before = version().await.unwrap();

    super::support::raw(&config.name, "meta", "delete", &["client".into()]).await;
    // Another context's connection, which closes on `versionchange` as every library does.
    js(
        "name",
        "return new Promise((resolve) => { const r = indexedDB.open(name); r.onsuccess = () => {
            const db = r.result; globalThis.__metaTestClosed = false;
            db.onversionchange = () => { globalThis.__metaTestClosed = true; db.close(); }; resolve(); }; });",
        &[config.name.as_str().into()],
    )
    .await;
    let store = open_for("c-second").await;
    assert_eq!(stored().await.0.as_deref(), Some("c-second"));
    assert_eq!(version().await, Some(before + 1.0), "found without metadata: upgraded to store it");
    assert_eq!(js("", "return globalThis.__metaTestClosed;", &[]).await.as_bool(), Some(true));
    assert_eq!(outbox_ids(&store).await, [1], "the upgrade keeps what is stored");

    let meta = store.clear("c-third").await.unwrap();
    assert_eq!(meta.client_id, "c-third");
    assert_eq!(stored().await, (Some("c-third".to_owned()), now.1));
    dispose(store).await;
}

/// The database as a library that numbered outbox entries by `nextMutationId` left it: an
/// outbox without a key generator holding entry 4 of record "a", the counter at 9 (ids 5
/// to 8 were acknowledged and removed), the metadata at format 1.
async fn make_counting_database(name: &str) {
    let store = open(&named(conformance::config(), name)).await;
    store.open_meta("c-old").await.unwrap();
    store.close();
    js(
        "name",
        r#"return new Promise((resolve, reject) => {
            const probe = indexedDB.open(name);
            probe.onsuccess = () => {
                const version = probe.result.version;
                probe.result.close();
                const open = indexedDB.open(name, version + 1);
                open.onerror = () => reject(open.error);
                open.onupgradeneeded = () => {
                    const db = open.result, tx = open.transaction;
                    db.deleteObjectStore("outbox");
                    const outbox = db.createObjectStore("outbox", {keyPath: "id"});
                    outbox.createIndex("byKey", ["collection", "key"]);
                    const hlc = "001700000000000-0000-c-old";
                    outbox.put({id: 4, collection: "items", key: "a", op: "put", value: {id: "a", n: 1},
                        baseVersion: null, hlc, sent: false, createdAt: 0, attempts: 0});
                    tx.objectStore("items").put({key: "a", value: {id: "a", n: 1}, version: null, base: null,
                        hlc, pending: 1, updatedAt: 0, conflict: null});
                    const meta = tx.objectStore("meta");
                    meta.get("client").onsuccess = (e) => {
                        meta.put({...e.target.result, nextMutationId: 9, format: 1}, "client");
                    };
                };
                open.onsuccess = () => { open.result.close(); resolve(); };
            };
        })"#,
        &[JsValue::from_str(name)],
    )
    .await;
}

#[wasm_bindgen_test]
async fn an_outbox_numbered_by_the_metadata_is_taken_over_by_the_key_generator() {
    let config = named(conformance::config(), &unique("keyed-ids"));
    make_counting_database(&config.name).await;

    let store = open(&config).await;
    assert_eq!(store.open_meta("c-new").await.unwrap().client_id, "c-old");
    assert_eq!(outbox_ids(&store).await, [4], "the queued entry moved over");
    // A write of "a" still folds into its open entry; a new key gets an id above every
    // one the counter gave (the server may still hold 5 to 8).
    store.write_local(&write("items", "a", LocalOp::Patch(json!({"n": 2})))).await.unwrap();
    store.write_local(&put("items", json!({"id": "b"}))).await.unwrap();
    let outbox = json_outbox(&store, 10).await.unwrap();
    let summary: Vec<(u64, &str, Value)> = outbox.iter().map(|e| (e.id, e.key.as_str(), e.value.clone())).collect();
    assert_eq!(summary, [(4, "a", json!({"id": "a", "n": 2})), (9, "b", json!({"id": "b"}))]);
    store.close();

    // What an older library reads first: `format`, now above the 2 it knows, so it
    // refuses the database (`schema-downgrade`) instead of numbering an entry 9 again.
    let client = raw_get(&config.name, "meta", "client").await;
    assert_eq!(Reflect::get(&client, &"format".into()).unwrap().as_f64(), Some(f64::from(STORAGE_FORMAT)));
    let layout = js(
        "name",
        r#"return new Promise((resolve) => {
            const open = indexedDB.open(name);
            open.onsuccess = () => {
                const db = open.result;
                const answer = [db.transaction("outbox").objectStore("outbox").autoIncrement, [...db.objectStoreNames].join()];
                db.close();
                resolve(answer);
            };
        })"#,
        &[JsValue::from_str(&config.name)],
    )
    .await;
    assert_eq!(JSON::stringify(&layout).unwrap(), r#"[true,"audit,conflicts,items,meta,notes,outbox,places"]"#);
    IdbStore::delete_database(&config.name).await.unwrap();
}

// ---- versionchange: an open store never blocks another context's upgrade ----

#[wasm_bindgen_test]
async fn an_open_store_steps_aside_for_an_upgrade_and_reopens() {
    let name = unique("versionchange");
    let first_config = config(&name, json!({"trips": {"key": "id"}}));
    let second_config = config(&name, json!({"trips": {"key": "id", "indexes": ["owner"]}, "extra": {"key": "id"}}));

    let first = open(&first_config).await;
    first.open_meta("c-1").await.unwrap();
    first.write_local(&put("trips", json!({"id": "t1", "owner": "ana"}))).await.unwrap();

    let second = within(10_000, IdbStore::open(&second_config))
        .await
        .expect("the upgrade was blocked: the first store did not close on versionchange")
        .unwrap();
    assert_eq!(keys(&second, "trips", by("owner", json!("ana"))).await, ["t1"]);
    second.write_local(&put("extra", json!({"id": "e1"}))).await.unwrap();

    // The first store reopens on its next call and sees the other's writes.
    assert_eq!(first.get("trips", "t1").await.unwrap().unwrap().pending, 1);
    first.write_local(&put("trips", json!({"id": "t2", "owner": "ana"}))).await.unwrap();
    assert_eq!(first.pending_count().await.unwrap(), 3);
    assert_eq!(keys(&second, "trips", by("owner", json!("ana"))).await, ["t1", "t2"]);

    // Deleting the database is not blocked by either.
    first.close();
    let second_name = second.name().to_owned();
    within(10_000, IdbStore::delete_database(&second_name))
        .await
        .expect("deleteDatabase was blocked by an open store")
        .unwrap();
    second.close();
}

// ---- records edited by hand ----

#[wasm_bindgen_test]
async fn unreadable_records_are_skipped_and_reported_never_a_panic() {
    let config = named(conformance::config(), &unique("corrupt"));
    let store = open(&config).await;
    store.open_meta("c-1").await.unwrap();
    for id in ["a", "c"] {
        store.write_local(&put("items", json!({"id": id, "tripId": "t"}))).await.unwrap();
    }
    raw_put(&config.name, "items", r#"{"key": "b", "value": 5, "version": "x"}"#, None).await;
    raw_put(&config.name, "items", r#"{"key": "b2", "value": {"tripId": "t"}, "version": "x"}"#, None).await;
    raw_put(&config.name, "outbox", r#"{"id": 99, "collection": "items", "key": "zz"}"#, None).await;

    assert_eq!(keys(&store, "items", ListQuery::default()).await, ["a", "c"]);
    let skipped = store.take_skipped();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped[0].starts_with("items/b: ") && skipped[1].starts_with("items/b2: "), "{skipped:?}");
    assert!(store.take_skipped().is_empty(), "take_skipped drains");

    // With a limit the unreadable records do not take places.
    assert_eq!(keys(&store, "items", ListQuery { index: None, limit: Some(2) }).await, ["a", "c"]);
    let limited = ListQuery { index: Some(("tripId".into(), json!("t"))), limit: Some(2) };
    assert_eq!(keys(&store, "items", limited).await, ["a", "c"]);
    assert_eq!(store.take_skipped().len(), 3);

    let outbox = json_outbox(&store, 10).await.unwrap();
    assert_eq!(outbox.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2]);
    let skipped = store.take_skipped();
    assert!(skipped.len() == 1 && skipped[0].starts_with("outbox/99: "), "{skipped:?}");

    let err = json_get(&store, "items", "b").await.unwrap_err();
    assert_eq!(err.code(), "storage");
    assert!(err.to_string().contains("items/b"), "{err}");
    assert_eq!(json_get(&store, "items", "a").await.unwrap().unwrap().key, "a");
    dispose(store).await;
}

/// A push takes a batch of entries it can read: a whole batch it cannot (sealed with
/// another key, hand-edited) is passed over and reported, not taken for the end of the
/// outbox, which would hold every write queued after it forever.
#[wasm_bindgen_test]
async fn a_batch_of_unreadable_entries_does_not_hold_the_entries_after_it() {
    let store = with_queued_items("unreadable-batch", &["a".into(), "b".into(), "c".into()]).await;
    for id in [1, 2] {
        let entry = format!(r#"{{"id": {id}, "collection": "items", "key": "x", "op": 42}}"#);
        raw_put(store.name(), "outbox", &entry, None).await;
    }
    let batch = store.take_batch(0, 2).await.unwrap();
    assert_eq!(batch.iter().map(|e| (e.id, e.key.as_str())).collect::<Vec<_>>(), [(3, "c")]);
    let skipped = store.take_skipped();
    assert!(skipped.len() == 2 && skipped[0].starts_with("outbox/1: "), "{skipped:?}");
    assert_eq!(store.take_batch(3, 2).await.unwrap().len(), 0, "nothing readable is left after it");
    dispose(store).await;
}

/// Every metadata field of a stored record set to each kind of JS value in turn (or left
/// out): a list keeps exactly the records whose metadata serde reads from their JSON text
/// (what it did before records were read field by field) and reports the others.
#[wasm_bindgen_test]
async fn record_metadata_is_read_as_serde_reads_its_json() {
    use pwa_sync_core::record::{EntityRecord, RECORD_METADATA_FIELDS};

    let config = named(conformance::config(), &unique("metadata"));
    let store = open(&config).await;
    store.open_meta("c-1").await.unwrap();
    let kinds = metadata_kinds();

    let fields = ["version", "hlc", "pending", "updatedAt", "conflict", "revived"];
    let mut expected = Vec::new();
    let mut refused = 0;
    let db = idb::Factory::new().unwrap().open(&config.name, None).unwrap().await.unwrap();
    let tx = db.transaction(&["items"], idb::TransactionMode::ReadWrite).unwrap();
    let items = tx.object_store("items").unwrap();
    let replacer: js_sys::Array = RECORD_METADATA_FIELDS.iter().map(|f| JsValue::from_str(f)).collect();
    let mut n = 0;
    for field in fields {
        for kind in &kinds {
            n += 1;
            let key = format!("r{n:03}");
            let stored =
                json!({"key": key, "value": {"id": key}, "version": 3, "hlc": "h", "pending": 0, "updatedAt": 1.5});
            let object = js_sys::Object::from(JSON::parse(&stored.to_string()).unwrap());
            match kind {
                Some(v) => Reflect::set(&object, &field.into(), v).unwrap(),
                None => Reflect::delete_property(&object, &field.into()).unwrap(),
            };
            let text = JSON::stringify_with_replacer(&object, &replacer).map(String::from);
            match text.ok().and_then(|t| serde_json::from_str::<EntityRecord<()>>(&t).ok()) {
                Some(_) => expected.push(key),
                None => refused += 1,
            }
            items.put(&object, None).unwrap().await.unwrap();
        }
    }
    assert!(tx.await.unwrap().is_committed());
    db.close();
    assert!(refused > 40 && expected.len() > 20, "both kinds present: {refused} refused, {expected:?}");

    assert_eq!(keys(&store, "items", ListQuery::default()).await, expected);
    assert_eq!(store.take_skipped().len(), refused);
    // `list`'s own path checks the records in the store's script: the same verdicts.
    let values = store.list_values("items", &ListQuery::default()).await.unwrap().expect("unsealed, no index");
    let ids: Vec<String> =
        values.iter().map(|v| Reflect::get(&v, &"id".into()).unwrap().as_string().unwrap()).collect();
    assert_eq!(ids, expected);
    assert_eq!(store.take_skipped().len(), refused);
    // A query reads the same records, and reports the same ones as unreadable.
    let items = config.collection("items").unwrap();
    let query = Query::parse(items, &json!({})).unwrap();
    let answer = store.query(&query, &plan(items, &query)).await.unwrap();
    assert_eq!(answer.records.iter().map(|r| r.key.clone()).collect::<Vec<_>>(), expected);
    assert_eq!(store.take_skipped().len(), refused);
    dispose(store).await;
}

/// Each kind of JS value a metadata field may hold (`None`: the field left out).
pub(super) fn metadata_kinds() -> Vec<Option<JsValue>> {
    let numbers = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -1.0,
        -0.0,
        0.0,
        1.5,
        4_294_967_295.0,
        4_294_967_296.0,
        9_007_199_254_740_993.0,
        18_446_744_073_709_549_568.0,
        18_446_744_073_709_551_616.0,
        1e21,
    ];
    let mut kinds: Vec<Option<JsValue>> = vec![None, Some(JsValue::NULL), Some(JsValue::UNDEFINED)];
    kinds.extend(numbers.map(|n| Some(JsValue::from_f64(n))));
    kinds.extend(["", "3", "x", "put", "patch", "delete", "Put"].map(|t| Some(JsValue::from_str(t))));
    kinds.extend(
        [JsValue::TRUE, JsValue::FALSE, js_sys::Object::new().into(), js_sys::Array::of1(&1.into()).into()].map(Some),
    );
    kinds.push(Some(js_sys::BigInt::from(5u32).into()));
    kinds
}

/// The same for every metadata field of a stored outbox entry: reading the outbox keeps
/// exactly the entries whose metadata serde reads from its JSON text, and reports the
/// others.
#[wasm_bindgen_test]
async fn entry_metadata_is_read_as_serde_reads_its_json() {
    use pwa_sync_core::record::{OutboxEntry, ENTRY_METADATA_FIELDS};

    let config = named(conformance::config(), &unique("entry-metadata"));
    let store = open(&config).await;
    store.open_meta("c-1").await.unwrap();
    let mut expected = Vec::new();
    let mut refused = 0;
    let db = idb::Factory::new().unwrap().open(&config.name, None).unwrap().await.unwrap();
    let tx = db.transaction(&["outbox"], idb::TransactionMode::ReadWrite).unwrap();
    let outbox = tx.object_store("outbox").unwrap();
    let replacer: js_sys::Array = ENTRY_METADATA_FIELDS.iter().map(|f| JsValue::from_str(f)).collect();
    let mut n = 0;
    for field in ENTRY_METADATA_FIELDS {
        for kind in metadata_kinds() {
            n += 1;
            let key = format!("e{n:03}");
            let stored = json!({"id": n, "collection": "items", "key": key, "op": "put", "value": {"id": key},
                "baseVersion": 3, "hlc": "h", "sent": false, "createdAt": 1.5, "space": "s", "attempts": 2});
            let object = js_sys::Object::from(JSON::parse(&stored.to_string()).unwrap());
            // `id` is the outbox's key: a kind left out would be numbered by the key
            // generator, -0 is the key 0, and IndexedDB refuses what is not a key.
            let minus_zero = kind.as_ref().and_then(JsValue::as_f64).is_some_and(|x| x == 0.0 && x.is_sign_negative());
            if field == "id" && (kind.as_ref().is_none_or(JsValue::is_undefined) || minus_zero) {
                continue;
            }
            match &kind {
                Some(v) => Reflect::set(&object, &field.into(), v).unwrap(),
                None => Reflect::delete_property(&object, &field.into()).unwrap(),
            };
            let Ok(put) = outbox.put(&object, None) else {
                assert_eq!(field, "id", "only a bad key is refused by IndexedDB: {kind:?}");
                continue;
            };
            put.await.unwrap();
            let text = JSON::stringify_with_replacer(&object, &replacer).map(String::from);
            match text.ok().and_then(|t| serde_json::from_str::<OutboxEntry<Option<()>>>(&t).ok()) {
                Some(entry) => expected.push(entry.key),
                None => refused += 1,
            }
        }
    }
    assert!(tx.await.unwrap().is_committed());
    db.close();
    assert!(refused > 60 && expected.len() > 60, "both kinds present: {refused} refused, {expected:?}");

    let mut read: Vec<String> = json_outbox(&store, 10_000).await.unwrap().into_iter().map(|e| e.key).collect();
    read.sort();
    expected.sort();
    assert_eq!(read, expected);
    assert_eq!(store.take_skipped().len(), refused);
    dispose(store).await;
}

// ---- small edges where IndexedDB differs from a map ----

#[wasm_bindgen_test]
async fn limits_of_zero_and_non_key_index_values_return_nothing() {
    let store = open(&named(conformance::config(), &unique("edges"))).await;
    store.open_meta("c-1").await.unwrap();
    store.write_local(&put("items", json!({"id": "a", "tripId": "t", "rank": true}))).await.unwrap();
    assert!(keys(&store, "items", ListQuery { index: None, limit: Some(0) }).await.is_empty());
    assert!(json_outbox(&store, 0).await.unwrap().is_empty());
    assert!(keys(&store, "items", by("rank", json!(true))).await.is_empty());
    assert!(keys(&store, "items", by("tripId", json!(null))).await.is_empty());
    // A field without an index still answers, like the in-memory store.
    assert_eq!(keys(&store, "items", by("id", json!("a"))).await, ["a"]);
    dispose(store).await;
}

#[wasm_bindgen_test]
async fn a_failing_upgrade_is_aborted_and_reported() {
    let name = unique("bad-upgrade");
    // Not a valid IndexedDB key path (the config lets other than ASCII through, and `€` is
    // no identifier part): createIndex throws inside upgradeneeded.
    let bad = config(&name, json!({"trips": {"key": "id", "indexes": ["price€"]}}));
    let err = IdbStore::open(&bad).await.map(|_| ()).unwrap_err();
    assert_eq!(err.code(), "storage");
    assert!(err.to_string().contains("price€") && err.to_string().contains("SyntaxError"), "{err}");
    // Nothing was half-created: a valid config opens and works.
    let store = open(&config(&name, json!({"trips": {"key": "id", "indexes": ["owner"]}}))).await;
    store.open_meta("c-1").await.unwrap();
    store.write_local(&put("trips", json!({"id": "t1", "owner": "ana"}))).await.unwrap();
    assert_eq!(keys(&store, "trips", by("owner", json!("ana"))).await, ["t1"]);
    dispose(store).await;
}

/// A record straight from IndexedDB, behind the store's back.
async fn raw_get(db_name: &str, store: &str, key: &str) -> JsValue {
    let db = idb::Factory::new().unwrap().open(db_name, None).unwrap().await.unwrap();
    let tx = db.transaction(&[store], idb::TransactionMode::ReadOnly).unwrap();
    let value = tx.object_store(store).unwrap().get(JsValue::from_str(key)).unwrap().await.unwrap().unwrap();
    db.close();
    value
}

#[wasm_bindgen_test]
async fn a_record_whose_base_is_its_value_is_stored_once_and_reads_back_whole() {
    use pwa_sync_core::model::Writes;
    use pwa_sync_core::record::EntityRecord;
    use pwa_sync_core::store::Durability;
    let store = open(&config(&unique("shared-base"), json!({"items": {"key": "id"}}))).await;
    store.open_meta("c-shared").await.unwrap();
    let record = |key: &str, value: Value, base: Option<Value>| EntityRecord {
        key: key.into(),
        value: Some(value),
        version: Some(3),
        base,
        hlc: "001763769600000-0000-c-0001".into(),
        pending: 0,
        updated_at: 1.0,
        conflict: None,
        revived: false,
    };
    let synced = record("a", json!({"id": "a", "n": 1}), Some(json!({"id": "a", "n": 1})));
    // Revived: its base the value before the server's delete (the flag reads back too).
    let edited =
        EntityRecord { revived: true, ..record("b", json!({"id": "b", "n": 2}), Some(json!({"id": "b", "n": 1}))) };
    let never_synced = EntityRecord { version: None, ..record("c", json!({"id": "c"}), None) };
    let all = [synced.clone(), edited.clone(), never_synced.clone()];
    let keys: Vec<(String, String)> = all.iter().map(|r| ("items".to_owned(), r.key.clone())).collect();
    store
        .transact(&keys, Durability::Default, |_| {
            let mut writes = Writes::default();
            for r in &all {
                // As the planners make it: a base equal to the value is the same object.
                let value = r.value.clone().map(JsVal::from_json);
                let base = match (&r.base, &value) {
                    (Some(base), Some(value)) if Some(base) == r.value.as_ref() => Some(value.clone()),
                    (base, _) => base.clone().map(JsVal::from_json),
                };
                writes.records.insert(("items".into(), r.key.clone()), Some(r.clone().with_values(value, base)));
            }
            Ok((writes, ()))
        })
        .await
        .unwrap();
    for expected in [&synced, &edited, &never_synced] {
        assert_eq!(json_get(&store, "items", &expected.key).await.unwrap().as_ref(), Some(expected));
    }
    let field = |v: &JsValue, f: &str| Reflect::get(v, &f.into()).unwrap();
    let a = raw_get(store.name(), "items", "a").await;
    assert!(js_sys::Object::is(&field(&a, "value"), &field(&a, "base")), "one shared object for value and base");
    let b = raw_get(store.name(), "items", "b").await;
    assert_eq!(JSON::stringify(&field(&b, "base")).unwrap(), r#"{"id":"b","n":1}"#);
    assert!(field(&raw_get(store.name(), "items", "c").await, "base").is_null());
    dispose(store).await;
}

#[wasm_bindgen_test]
async fn large_batches_find_stored_keys_whatever_their_characters() {
    let store = open(&config(&unique("probe-utf16"), json!({"items": {"key": "id"}}))).await;
    store.open_meta("c-utf16").await.unwrap();
    // By UTF-8 bytes "\u{10000}" sorts after "\u{FFFF}"; IndexedDB (UTF-16 code units)
    // sorts it before: a batch's key range must follow IndexedDB's order.
    let stored = ["a", "\u{E000}", "\u{FFFF}z", "\u{10000}", "\u{1F600}x"];
    for key in stored {
        store.write_local(&put("items", json!({"id": key}))).await.unwrap();
    }
    let mut batch: Vec<LocalWrite<JsVal>> =
        stored.iter().map(|key| write("items", key, LocalOp::Patch(json!({"n": 1})))).collect();
    batch.extend((0..12).map(|i| put("items", json!({"id": format!("new{i}")}))));
    let outcomes = store.write_local_batch(&batch).await.unwrap();
    assert!(
        outcomes[..stored.len()].iter().all(|o| o.pending_delta == 0),
        "patches fold into the stored keys' queued puts"
    );
    for key in stored {
        let record = json_get(&store, "items", key).await.unwrap().unwrap();
        assert_eq!(record.value, Some(json!({"id": key, "n": 1})), "{key:?}");
    }
    dispose(store).await;
}

/// A fresh store whose `items` hold `{id, n}` for each of `keys` (`n` its place), each
/// put still queued: outbox ids 1, 2, … in that order.
async fn with_queued_items(name: &str, keys: &[String]) -> IdbStore {
    let store = open(&config(&unique(name), json!({"items": {"key": "id"}}))).await;
    store.open_meta(&format!("c-{name}")).await.unwrap();
    for (n, key) in keys.iter().enumerate() {
        store.write_local(&put("items", json!({"id": key, "n": n}))).await.unwrap();
    }
    store
}

/// What a transaction over `keys` reads: each stored record's value and pending count,
/// and each key's queued entry ids.
async fn snapshot_of(
    store: &IdbStore,
    keys: &[(String, String)],
) -> (Vec<(String, Value, u32)>, Vec<(String, Vec<u64>)>) {
    store
        .transact(keys, pwa_sync_core::store::Durability::Default, |snapshot| {
            let records = snapshot
                .records
                .iter()
                .map(|((_, k), r)| (k.clone(), r.value.as_ref().map(|v| v.to_json()).unwrap_or(Value::Null), r.pending))
                .collect();
            let queued =
                snapshot.queued.iter().map(|((_, k), q)| (k.clone(), q.iter().map(|e| e.id).collect())).collect();
            Ok((pwa_sync_core::model::Writes::default(), (records, queued)))
        })
        .await
        .unwrap()
}

#[wasm_bindgen_test]
async fn large_batches_read_a_dense_range_at_once_and_only_their_own_keys() {
    let key = |i: usize| format!("k{i:02}");
    let store = with_queued_items("dense", &(0..40).map(key).collect::<Vec<_>>()).await;
    // A second queued write of k07 (its first entry, id 8, is flagged sent, so the next
    // cannot fold into it).
    store.mark_sent(&[8]).await.unwrap();
    store.write_local(&write("items", &key(7), LocalOp::Patch(json!({"m": 1})))).await.unwrap();
    // k20 is in the range but not in the batch, and its entry (id 21) is broken by hand:
    // reading the batch's range of the index must not trip on it.
    raw_put(store.name(), "outbox", r#"{"id": 21, "collection": "items", "key": "k20", "op": 42}"#, None).await;
    // 39 stored keys and 5 that are not: records and entries read by range.
    let batch: Vec<(String, String)> = (0..45).filter(|i| *i != 20).map(|i| ("items".to_owned(), key(i))).collect();
    let (records, queued) = snapshot_of(&store, &batch).await;
    let expected: Vec<(String, Value, u32)> = (0..40)
        .filter(|i| *i != 20)
        .map(|i| {
            let value = if i == 7 { json!({"id": key(i), "n": i, "m": 1}) } else { json!({"id": key(i), "n": i}) };
            (key(i), value, if i == 7 { 2 } else { 1 })
        })
        .collect();
    assert_eq!(records, expected);
    let expected: Vec<(String, Vec<u64>)> =
        (0..40).filter(|i| *i != 20).map(|i| (key(i), if i == 7 { vec![8, 41] } else { vec![i as u64 + 1] })).collect();
    assert_eq!(queued, expected);
    assert!(store.take_skipped().is_empty(), "nothing of the batch was unreadable");
    dispose(store).await;
}

#[wasm_bindgen_test]
async fn a_large_delete_of_entries_takes_their_span_only_when_it_holds_nothing_else() {
    let store = with_queued_items("span-delete", &(0..41).map(|i| format!("k{i:02}")).collect::<Vec<_>>()).await;
    let delete = |ids: Vec<u64>| {
        let store = &store;
        async move {
            store
                .transact(&[], pwa_sync_core::store::Durability::Strict, |_| {
                    Ok((pwa_sync_core::model::Writes { outbox_delete: ids, ..Default::default() }, ()))
                })
                .await
                .unwrap()
        }
    };
    // Ids 1-20 but 10, in no order: the span 1-20 holds 10 too, which must stay.
    delete((1..=20).rev().filter(|id| *id != 10).collect()).await;
    assert_eq!(outbox_ids(&store).await, [10].into_iter().chain(21..=41).collect::<Vec<u64>>());
    // Ids 21-40, all there is between them: gone, and 41 after them stays.
    delete((21..=40).collect()).await;
    assert_eq!(outbox_ids(&store).await, vec![10, 41]);
    dispose(store).await;
}

#[wasm_bindgen_test]
async fn large_batches_in_crowded_ranges_read_key_by_key_with_the_same_answer() {
    let key = |i: usize| format!("k{i:03}");
    // 160 records; the batch is every eighth: its range holds 7 other records per key.
    let store = with_queued_items("crowded", &(0..160).map(key).collect::<Vec<_>>()).await;
    // And the batch's keys queue five entries each (each flagged sent before the next):
    // more than four per key in the index's range.
    let batch_keys: Vec<usize> = (0..160).step_by(8).collect();
    for round in 0..4 {
        let ids: Vec<u64> = json_outbox(&store, 1000).await.unwrap().into_iter().map(|e| e.id).collect();
        store.mark_sent(&ids).await.unwrap();
        for &i in &batch_keys {
            store.write_local(&write("items", &key(i), LocalOp::Patch(json!({"r": round})))).await.unwrap();
        }
    }
    let batch: Vec<(String, String)> = batch_keys.iter().map(|&i| ("items".to_owned(), key(i))).collect();
    let (records, queued) = snapshot_of(&store, &batch).await;
    assert_eq!(records.len(), 20);
    for (k, value, pending) in &records {
        assert_eq!(value["r"], json!(3), "{k}");
        assert_eq!(*pending, 5, "{k}");
    }
    let all = json_outbox(&store, 1000).await.unwrap();
    for (k, ids) in &queued {
        let expected: Vec<u64> = all.iter().filter(|e| &e.key == k).map(|e| e.id).collect();
        assert_eq!((ids.len(), ids), (5, &expected), "{k}");
    }
    assert_eq!(queued.len(), 20);
    dispose(store).await;
}
