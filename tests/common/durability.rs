//! Storage that stays, or says it does not: persistent storage, usage and quota, a
//! database the browser evicted, IndexedDB refusing to open (private modes) and the
//! memory-only client an app falls back to.

use js_sys::{Function, Reflect, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::idb::IdbStore;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::support::{field, ok, recorder, server, unique};

/// A syncing config for `user` (autoSync off), with `extra` JSON fields.
fn config(name: &str, user: &str, extra: &str) -> JsValue {
    let config = JSON::parse(&format!(
        r#"{{"name": "{name}", "endpoint": "{}/sync", "autoSync": false, {extra}
            "collections": {{"trips": {{"key": "id"}}}}}}"#,
        server()
    ))
    .unwrap();
    Reflect::set(&config, &"token".into(), &format!("dev:{user}").into()).unwrap();
    config
}

/// Run a JS function body (no arguments) and wait for what it returns.
async fn run_js(body: &str) -> JsValue {
    let value = Function::new_no_args(body).call0(&JsValue::UNDEFINED).unwrap();
    JsFuture::from(js_sys::Promise::resolve(&value)).await.unwrap()
}

fn local_storage() -> Option<web_sys::Storage> {
    let global = js_sys::global();
    // A worker has none; reading it never throws here (a normal origin).
    Reflect::get(&global, &"localStorage".into()).ok().and_then(|s| s.dyn_into().ok())
}

#[wasm_bindgen_test]
async fn indexeddb_refusing_to_open_rejects_with_storage_and_a_memory_client_syncs_instead() {
    let user = unique("u");
    let name = unique("private");
    // What some private modes do: `indexedDB` is there, every open throws.
    run_js(
        "globalThis.__pwaSyncOpen = IDBFactory.prototype.open;
         IDBFactory.prototype.open = function () {
           throw new DOMException('A mutation operation was attempted on a database that did not allow mutations.', 'InvalidStateError');
         };",
    )
    .await;
    let refused = SyncClient::open(config(&name, &user, "")).await;
    let memory = SyncClient::open(config(&name, &user, r#""storage": "memory","#)).await;
    run_js("IDBFactory.prototype.open = globalThis.__pwaSyncOpen; delete globalThis.__pwaSyncOpen;").await;

    let err = refused.err().expect("open succeeded although IndexedDB refused");
    let message = field(&err, "message").as_string().unwrap_or_default();
    assert_eq!(field(&err, "code"), "storage", "{message}");
    assert!(message.contains("IndexedDB refused to open") && message.contains("private browsing"), "{message}");

    // The memory client works without IndexedDB, syncs like any other, and says it is
    // not durable.
    let memory = memory.unwrap_or_else(|e| panic!("memory client: {e:?}"));
    ok(memory.put("trips".into(), JSON::parse(r#"{"id": "t1", "title": "Lisbon"}"#).unwrap())).await;
    assert_eq!(ok(memory.pending(JsValue::UNDEFINED)).await, 1.0);
    assert_eq!(field(&ok(memory.sync()).await, "pushed"), 1.0);
    assert_eq!(ok(memory.pending(JsValue::UNDEFINED)).await, 0.0);
    let health = ok(memory.health()).await;
    assert_eq!(field(&health, "status"), "degraded");
    let reasons: Vec<String> =
        js_sys::Array::from(&field(&health, "reasons")).iter().filter_map(|r| r.as_string()).collect();
    assert!(reasons.iter().any(|r| r.contains("memory only")), "{reasons:?}");
    assert_eq!(field(&field(&health, "storage"), "durable"), false);
    assert_eq!(field(&field(&health, "storage"), "kind"), "memory");
    assert_eq!(field(&field(&ok(memory.metrics()).await, "storage"), "durable"), false);
    memory.close();

    // What it pushed reaches another device of the user.
    let other = unique("other");
    let device = SyncClient::open(config(&other, &user, "")).await.unwrap();
    assert_eq!(field(&ok(device.sync()).await, "pulled"), 1.0);
    assert_eq!(field(&ok(device.get("trips".into(), "t1".into())).await, "title"), "Lisbon");
    device.close();
    IdbStore::delete_database(&other).await.unwrap();
}

#[wasm_bindgen_test]
async fn persist_resolves_whether_storage_is_persistent() {
    let name = unique("persist");
    let client = SyncClient::open(config(&name, "p", "")).await.unwrap();
    let granted = ok(client.persist()).await;
    let granted = granted.as_bool().unwrap_or_else(|| panic!("persist() resolved {granted:?}"));
    let can_ask = run_js("return typeof navigator.storage?.persist === 'function';").await;
    if can_ask.as_bool() == Some(true) {
        // What the browser now says about this origin is what persist() answered.
        let persisted = run_js("return navigator.storage.persisted();").await;
        assert_eq!(persisted.as_bool(), Some(granted));
        assert_eq!(field(&field(&ok(client.health()).await, "storage"), "persisted"), granted);
    } else {
        assert!(!granted, "persist() granted where navigator.storage.persist does not exist");
    }
    client.close();
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn health_and_metrics_report_storage_usage_and_quota() {
    let name = unique("estimate");
    let client = SyncClient::open(config(&name, "q", "")).await.unwrap();
    ok(client.put("trips".into(), JSON::parse(r#"{"id": "t1"}"#).unwrap())).await;
    let expected = run_js("return navigator.storage?.estimate ? navigator.storage.estimate() : null;").await;
    for (what, report) in [
        ("health", field(&ok(client.health()).await, "storage")),
        ("metrics", field(&ok(client.metrics()).await, "storage")),
    ] {
        assert_eq!(field(&report, "kind"), "indexeddb", "{what}");
        assert_eq!(field(&report, "durable"), true, "{what}");
        if expected.is_null() {
            assert!(field(&report, "usage").is_null() && field(&report, "quota").is_null(), "{what}");
        } else {
            let usage = field(&report, "usage").as_f64().unwrap_or_else(|| panic!("{what}: no usage"));
            let quota = field(&report, "quota").as_f64().unwrap_or_else(|| panic!("{what}: no quota"));
            assert!(quota > 0.0 && usage >= 0.0 && usage <= quota, "{what}: {usage} of {quota}");
            // Chromium's quota follows the free disk space, which other processes change
            // between two estimates: the report must be the browser's figure, within 1 %.
            let browser = field(&expected, "quota").as_f64().unwrap_or(f64::NAN);
            assert!((quota - browser).abs() <= browser * 0.01, "{what}: quota {quota}, browser says {browser}");
        }
    }
    client.close();
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn an_evicted_database_is_announced_and_refilled_by_a_full_pull() {
    let user = unique("u");
    let name = unique("evict");
    let marker = local_storage();
    // Where there is no localStorage (workers) only the app's hint can tell: the app
    // gives it once it knows this device stored data (not on the first visit).
    let hint = if marker.is_some() { "" } else { r#""expectStoredData": true,"# };
    let (target, seen) = recorder(&["pwa-sync:evicted"]);
    let with_target = |config: JsValue| {
        Reflect::set(&config, &"eventTarget".into(), &target).unwrap();
        config
    };

    let before = SyncClient::open(with_target(config(&name, &user, ""))).await.unwrap();
    ok(before.put("trips".into(), JSON::parse(r#"{"id": "t1", "title": "Lisbon"}"#).unwrap())).await;
    assert_eq!(field(&ok(before.sync()).await, "pushed"), 1.0);
    let old_id = before.client_id();
    before.close();
    assert!(seen.borrow().is_empty(), "evicted announced while nothing was evicted");

    // The browser evicts the database.
    IdbStore::delete_database(&name).await.unwrap();

    let after = SyncClient::open(with_target(config(&name, &user, hint))).await.unwrap();
    let events = seen.borrow().clone();
    assert_eq!(events.len(), 1, "one pwa-sync:evicted on open");
    let detail = &events[0].1;
    if marker.is_some() {
        assert_eq!(field(detail, "evidence"), "marker");
        assert_eq!(field(detail, "previousClientId").as_string(), Some(old_id));
    } else {
        assert_eq!(field(detail, "evidence"), "hint");
        assert!(field(detail, "previousClientId").is_null());
    }
    // Refilled by a full pull the client started itself (autoSync is off).
    let mut value = JsValue::UNDEFINED;
    for _ in 0..200 {
        value = ok(after.get("trips".into(), "t1".into())).await;
        if !value.is_undefined() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(25).await;
    }
    assert_eq!(field(&value, "title"), "Lisbon", "the full pull did not bring the record back");
    after.close();
    IdbStore::delete_database(&name).await.unwrap();
    if let Some(storage) = marker {
        storage.remove_item(&format!("pwa-sync:{name}:device")).unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_first_visit_and_a_cleared_database_are_not_taken_for_evictions() {
    let user = unique("u");
    let name = unique("fresh");
    let (target, seen) = recorder(&["pwa-sync:evicted"]);
    let with_target = |config: JsValue| {
        Reflect::set(&config, &"eventTarget".into(), &target).unwrap();
        config
    };
    let first = SyncClient::open(with_target(config(&name, &user, ""))).await.unwrap();
    ok(first.put("trips".into(), JSON::parse(r#"{"id": "t1"}"#).unwrap())).await;
    // Logout empties the database on purpose: its marker goes with it.
    ok(first.clear()).await;
    first.close();
    IdbStore::delete_database(&name).await.unwrap();
    let again = SyncClient::open(with_target(config(&name, &user, ""))).await.unwrap();
    again.close();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_database_deleted_under_an_open_client_loses_no_write_made_after() {
    let (name, user) = (unique("deleted"), unique("del"));
    let (target, seen) = recorder(&["pwa-sync:evicted"]);
    let config_with_target = config(&name, &user, "");
    Reflect::set(&config_with_target, &"eventTarget".into(), &target).unwrap();
    let client = SyncClient::open(config_with_target).await.unwrap();
    let first = client.client_id();
    ok(client.put("trips".into(), JSON::parse(r#"{"id": "t1", "title": "one"}"#).unwrap())).await;
    assert_eq!(field(&ok(client.sync()).await, "pushed"), 1.0);
    // Deleted from outside while the client is open (site data cleared, an eviction):
    // its connection closes, and its next call opens a new database.
    IdbStore::delete_database(&name).await.unwrap();
    ok(client.put("trips".into(), JSON::parse(r#"{"id": "t2", "title": "two"}"#).unwrap())).await;
    // The new database numbers its outbox from 1 again: under the first client id the
    // server would have answered the write as t1's, already applied, and dropped it.
    let result = ok(client.sync()).await;
    assert_eq!(field(&result, "pushed"), 1.0);
    assert_eq!(field(&result, "pulled"), 2.0, "the new database pulled from the start");
    assert_ne!(client.client_id(), first, "a new database, a new client id");
    let evicted = seen.borrow().first().map(|(_, detail)| detail.clone()).expect("pwa-sync:evicted fired");
    assert_eq!(field(&evicted, "evidence"), "reopened");
    assert_eq!(field(&evicted, "previousClientId"), first.as_str());
    let other = unique("other");
    let device = SyncClient::open(config(&other, &user, "")).await.unwrap();
    ok(device.sync()).await;
    let t2 = ok(device.get("trips".into(), "t2".into())).await;
    assert_eq!(field(&t2, "title"), "two", "the write made after the deletion reached the server");
    assert_eq!(field(&ok(client.get("trips".into(), "t1".into())).await, "title"), "one");
    device.close();
    client.close();
    IdbStore::delete_database(&other).await.unwrap();
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn two_contexts_of_a_database_deleted_under_them_both_go_on_under_its_new_identity() {
    let (name, user) = (unique("deleted2"), unique("del2"));
    let a = SyncClient::open(config(&name, &user, "")).await.unwrap();
    // The other context: its own client on the same database, its events recorded.
    let (target, seen) = recorder(&["pwa-sync:cleared", "pwa-sync:evicted"]);
    let b_config = config(&name, &user, "");
    Reflect::set(&b_config, &"eventTarget".into(), &target).unwrap();
    let b = SyncClient::open(b_config).await.unwrap();
    let first = a.client_id();
    IdbStore::delete_database(&name).await.unwrap();
    // A makes the new database; B reopens the one A made.
    ok(a.put("trips".into(), JSON::parse(r#"{"id": "t1", "title": "from a"}"#).unwrap())).await;
    ok(b.put("trips".into(), JSON::parse(r#"{"id": "t2", "title": "from b"}"#).unwrap())).await;
    ok(a.sync()).await;
    // B's sync finds the identity A's store made: not a logout, a new database.
    ok(b.sync()).await;
    let names: Vec<String> = seen.borrow().iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(names, ["pwa-sync:evicted"], "B goes on, told of the deletion");
    assert_ne!(a.client_id(), first);
    assert_eq!(b.client_id(), a.client_id(), "one database, one identity");
    assert_eq!(ok(b.pending(JsValue::UNDEFINED)).await, 0.0);
    let other = unique("other2");
    let device = SyncClient::open(config(&other, &user, "")).await.unwrap();
    ok(device.sync()).await;
    for (key, title) in [("t1", "from a"), ("t2", "from b")] {
        assert_eq!(field(&ok(device.get("trips".into(), key.into())).await, "title"), title);
    }
    for client in [a, b, device] {
        client.close();
    }
    IdbStore::delete_database(&other).await.unwrap();
    IdbStore::delete_database(&name).await.unwrap();
}
