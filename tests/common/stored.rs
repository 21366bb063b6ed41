//! The client metadata, conflicts and audit entries are read field by field off the
//! stored objects (`idb::stored`). Each field set to each kind of JS value in turn, or
//! left out: the store reads exactly the objects serde-wasm-bindgen's derives read before
//! (they are the oracle here), into the same values, and refuses the others.

use std::fmt::Debug;

use js_sys::{Reflect, JSON};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

use pwa_sync::idb::IdbStore;
use pwa_sync_core::model::AuditEntry;
use pwa_sync_core::record::{ConflictRecord, Meta};
use pwa_sync_core::store::{conformance, Store};

use super::store::metadata_kinds;
use super::support::unique;

/// `base` with the field at `path` (`"hlc.wallMs"`: one level down) set to `kind`, or
/// left out for `None`.
fn variant(base: &str, path: &str, kind: &Option<JsValue>) -> JsValue {
    let object = JSON::parse(base).unwrap();
    let (parent, field) = match path.split_once('.') {
        Some((outer, inner)) => (Reflect::get(&object, &outer.into()).unwrap(), inner),
        None => (object.clone(), path),
    };
    match kind {
        Some(value) => Reflect::set(&parent, &field.into(), value).unwrap(),
        None => Reflect::delete_property(parent.unchecked_ref::<js_sys::Object>(), &field.into()).unwrap(),
    };
    object
}

/// What serde-wasm-bindgen's derive reads from `js`, as Debug text (NaN equals NaN
/// there); `None` if it refuses.
fn serde_read<T: DeserializeOwned + Debug>(js: &JsValue) -> Option<String> {
    serde_wasm_bindgen::from_value::<T>(js.clone()).ok().map(|value| format!("{value:?}"))
}

/// Where the readers differ from serde-wasm-bindgen on purpose, left out of the
/// comparison: a BigInt (serde-wasm-bindgen took it for a number; nothing stores one)
/// and a string for a list (it took the string as the list of its characters) are
/// refused now (`a_bigint_or_a_string_for_a_list_is_refused`); a field with a default
/// that holds `undefined` is absent now, as in the object's JSON (serde-wasm-bindgen
/// refused it). Nothing we write holds either: stored objects are parsed JSON.
fn differs_on_purpose(path: &str, kind: &Option<JsValue>) -> bool {
    let defaulted = ["nextConflictId", "clockOffsetMs", "fields"].contains(&path);
    kind.as_ref()
        .is_some_and(|k| k.is_bigint() || (path == "fields" && k.is_string()) || (defaulted && k.is_undefined()))
}

/// Every (path, kind) the comparison covers.
fn variants(paths: &[&'static str]) -> Vec<(&'static str, Option<JsValue>)> {
    let mut kinds = metadata_kinds();
    kinds.extend(["conflict", "rejected", "Conflict"].map(|k| Some(JsValue::from_str(k))));
    paths
        .iter()
        .flat_map(|path| kinds.iter().map(move |kind| (*path, kind.clone())))
        .filter(|(path, kind)| !differs_on_purpose(path, kind))
        .collect()
}

/// A raw connection to the store's database, to write objects no client would.
async fn raw(store: &IdbStore) -> idb::Database {
    idb::Factory::new().unwrap().open(store.name(), None).unwrap().await.unwrap()
}

async fn put_raw(db: &idb::Database, object_store: &str, objects: &[JsValue], key: Option<&str>) {
    let tx = db.transaction(&[object_store], idb::TransactionMode::ReadWrite).unwrap();
    let store = tx.object_store(object_store).unwrap();
    for object in objects {
        store.put(object, key.map(JsValue::from_str).as_ref()).unwrap().await.unwrap();
    }
    assert!(tx.await.unwrap().is_committed());
}

async fn open(name: &str) -> IdbStore {
    let mut config = conformance::config();
    config.name = unique(name);
    let store = IdbStore::open(&config).await.unwrap();
    store.open_meta("c-1").await.unwrap();
    store
}

async fn dispose(store: IdbStore, db: idb::Database) {
    db.close();
    let name = store.name().to_owned();
    store.close();
    IdbStore::delete_database(&name).await.unwrap();
}

const META: &str = r#"{"clientId": "c-1", "nextMutationId": 4, "checkpoint": 7,
    "hlc": {"wallMs": 1700000000000, "counter": 2}, "lastSyncedAt": 1.5, "format": 3,
    "checkpointScope": "items", "nextConflictId": 5, "clockOffsetMs": -20,
    "lastFailure": {"at": 2.5, "code": "network", "message": "offline"}, "unknown": true}"#;

#[wasm_bindgen_test]
async fn client_metadata_is_read_as_serde_read_it() {
    let store = open("stored-meta").await;
    let db = raw(&store).await;
    let paths = [
        "clientId",
        "nextMutationId",
        "checkpoint",
        "hlc",
        "hlc.wallMs",
        "hlc.counter",
        "lastSyncedAt",
        "format",
        "checkpointScope",
        "nextConflictId",
        "clockOffsetMs",
        "lastFailure",
        "lastFailure.at",
        "lastFailure.code",
        "lastFailure.message",
    ];
    let (mut read, mut refused) = (0, 0);
    for (path, kind) in variants(&paths) {
        let js = variant(META, path, &kind);
        put_raw(&db, "meta", std::slice::from_ref(&js), Some("client")).await;
        let ours = store.meta().await.map(|meta| format!("{:?}", meta.unwrap()));
        match (&ours, serde_read::<Meta>(&js)) {
            (Ok(ours), Some(serde)) => {
                assert_eq!(*ours, serde, "{path} = {kind:?}");
                read += 1;
            }
            (Err(e), None) => {
                assert!(e.to_string().contains("unreadable client metadata"), "{path} = {kind:?}: {e}");
                refused += 1;
            }
            (ours, serde) => panic!("{path} = {kind:?}: the store read {ours:?}, serde {serde:?}"),
        }
    }
    assert!(read > 60 && refused > 250, "both kinds present: {read} read, {refused} refused");

    // Defaults where serde had them, and a refusal names its field.
    put_raw(&db, "meta", &[variant(META, "nextConflictId", &None)], Some("client")).await;
    assert_eq!(store.meta().await.unwrap().unwrap().next_conflict_id, 1);
    put_raw(&db, "meta", &[variant(META, "clockOffsetMs", &None)], Some("client")).await;
    assert_eq!(store.meta().await.unwrap().unwrap().clock_offset_ms, 0);
    put_raw(&db, "meta", &[variant(META, "hlc.counter", &Some(65_536.into()))], Some("client")).await;
    let e = store.meta().await.unwrap_err().to_string();
    assert!(e.contains("`counter` in hlc must be a whole number from 0 to 65535"), "{e}");
    put_raw(&db, "meta", &[variant(META, "clientId", &None)], Some("client")).await;
    let e = store.meta().await.unwrap_err().to_string();
    assert!(e.contains("missing field `clientId` in the client metadata"), "{e}");
    dispose(store, db).await;
}

const CONFLICT: &str = r#"{"id": 0, "collection": "items", "key": "k", "local": {"a": [1, {"b": null}]},
    "server": {"a": 2.5, "c": "x"}, "base": null, "detectedAt": 1.5, "serverVersion": 3,
    "fields": ["a"], "space": "s1", "unknown": 1}"#;

#[wasm_bindgen_test]
async fn conflicts_are_read_as_serde_read_them() {
    let store = open("stored-conflicts").await;
    let db = raw(&store).await;
    let paths = ["collection", "key", "local", "server", "base", "detectedAt", "serverVersion", "fields", "space"];
    let mut objects = Vec::new();
    let mut expected = Vec::new();
    for (i, (path, kind)) in variants(&paths).into_iter().enumerate() {
        let js = variant(CONFLICT, path, &kind);
        Reflect::set(&js, &"id".into(), &JsValue::from(i as u32 + 1)).unwrap();
        expected.extend(serde_read::<ConflictRecord>(&js));
        objects.push(js);
    }
    put_raw(&db, "conflicts", &objects, None).await;

    let read: Vec<String> = store.conflicts().await.unwrap().iter().map(|c| format!("{c:?}")).collect();
    let skipped = store.take_skipped();
    assert_eq!(read, expected);
    assert_eq!(skipped.len(), objects.len() - expected.len());
    assert!(expected.len() > 60 && skipped.len() > 100, "both kinds present: {} read, {skipped:?}", expected.len());
    dispose(store, db).await;
}

const AUDIT: &str = r#"{"at": 1.5, "kind": "conflict", "collection": "items", "key": "k",
    "strategy": "serverWins", "decidedBy": "auto", "local": {"a": 1}, "server": null,
    "result": {"a": [2]}, "serverVersion": 3, "unknown": 1}"#;

#[wasm_bindgen_test]
async fn audit_entries_are_read_as_serde_read_them() {
    let store = open("stored-audit").await;
    let db = raw(&store).await;
    let paths =
        ["at", "kind", "collection", "key", "strategy", "decidedBy", "local", "base", "result", "serverVersion"];
    let mut objects = Vec::new();
    let mut expected = Vec::new();
    for (path, kind) in variants(&paths) {
        let js = variant(AUDIT, path, &kind);
        expected.extend(serde_read::<AuditEntry>(&js));
        objects.push(js);
    }
    put_raw(&db, "audit", &objects, None).await;

    // Newest first, as `audit` answers.
    expected.reverse();
    let read: Vec<String> = store.audit(usize::MAX).await.unwrap().iter().map(|a| format!("{a:?}")).collect();
    let skipped = store.take_skipped();
    assert_eq!(read, expected);
    assert_eq!(skipped.len(), objects.len() - expected.len());
    assert!(expected.len() > 60 && skipped.len() > 100, "both kinds present: {} read, {skipped:?}", expected.len());
    dispose(store, db).await;
}

#[wasm_bindgen_test]
async fn a_bigint_or_a_string_for_a_list_is_refused() {
    let store = open("stored-refused").await;
    let db = raw(&store).await;
    let bigint = Some(JsValue::from(js_sys::BigInt::from(5u32)));
    put_raw(&db, "meta", &[variant(META, "checkpoint", &bigint)], Some("client")).await;
    let e = store.meta().await.unwrap_err().to_string();
    assert!(e.contains("`checkpoint` in the client metadata must be a whole number"), "{e}");

    let mut objects = Vec::new();
    for (i, (path, kind)) in
        [("fields", Some(JsValue::from_str("ab"))), ("local", bigint.clone())].into_iter().enumerate()
    {
        let js = variant(CONFLICT, path, &kind);
        Reflect::set(&js, &"id".into(), &JsValue::from(i as u32 + 1)).unwrap();
        objects.push(js);
    }
    put_raw(&db, "conflicts", &objects, None).await;
    assert!(store.conflicts().await.unwrap().is_empty());
    let skipped = store.take_skipped();
    assert!(skipped.len() == 2 && skipped[0].contains("`fields`") && skipped[1].contains("`local`"), "{skipped:?}");
    dispose(store, db).await;
}
