//! Security in the client: encryption at rest, omitted fields, what `clear()` leaves.

use js_sys::{Function, Promise, Reflect, Uint8Array, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::idb::IdbStore;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::support::{ok, recorder, storage_errors, unique};

async fn code(promise: Promise) -> String {
    let e = JsFuture::from(promise).await.expect_err("expected a rejection");
    Reflect::get(&e, &"code".into()).unwrap().as_string().unwrap_or_default()
}

fn key(byte: u8) -> JsValue {
    Uint8Array::from(&[byte; 32][..]).into()
}

/// `encryption.loadCipher` for these suites: the seal crate linked into the test module,
/// shaped as the package's `seal/` module (`{Cipher: {fromKey}}`), resolved by a promise
/// as `import()` would. The package itself loads `seal/` (e2e/encryption.test.mjs).
fn load_cipher() -> JsValue {
    let from_key = Closure::<dyn Fn(JsValue) -> Result<JsValue, JsValue>>::new(|key: JsValue| {
        pwa_sync_seal::Cipher::from_key(&key).map(JsValue::from).map_err(JsValue::from)
    });
    let class = js_sys::Object::new();
    Reflect::set(&class, &"fromKey".into(), &from_key.into_js_value()).unwrap();
    let module = js_sys::Object::new();
    Reflect::set(&module, &"Cipher".into(), &class).unwrap();
    let module: JsValue = module.into();
    Closure::<dyn Fn() -> Promise>::new(move || Promise::resolve(&module)).into_js_value()
}

async fn open(db: &str, key: Option<JsValue>, extra: &str) -> Result<SyncClient, JsValue> {
    open_with(db, key, extra, None).await
}

/// `open`, the client's events dispatched on `target`.
async fn open_with(
    db: &str,
    key: Option<JsValue>,
    extra: &str,
    target: Option<&web_sys::EventTarget>,
) -> Result<SyncClient, JsValue> {
    let config = JSON::parse(&format!(
        r#"{{"name": "{db}", "collections": {{"notes": {{"key": "id", "omit": ["pin"] {extra}}}}}}}"#
    ))
    .unwrap();
    if let Some(key) = key {
        let encryption = js_sys::Object::new();
        Reflect::set(&encryption, &"key".into(), &key).unwrap();
        Reflect::set(&encryption, &"loadCipher".into(), &load_cipher()).unwrap();
        Reflect::set(&config, &"encryption".into(), &encryption).unwrap();
    }
    if let Some(target) = target {
        Reflect::set(&config, &"eventTarget".into(), target).unwrap();
    }
    SyncClient::open(config).await
}

/// Everything in every store of database `db`, as IndexedDB holds it, as one JSON string.
async fn raw_dump(db: &str) -> String {
    let dump = Function::new_with_args(
        "name",
        "return new Promise((ok, fail) => { const r = indexedDB.open(name); r.onerror = () => fail(r.error);
           r.onsuccess = async () => { const d = r.result; const out = {};
             for (const s of d.objectStoreNames) out[s] = await new Promise((y) => { const q = d.transaction(s).objectStore(s).getAll(); q.onsuccess = () => y(q.result); });
             d.close(); ok(JSON.stringify(out)); }; });",
    );
    let promise: Promise = dump.call1(&JsValue::NULL, &db.into()).unwrap().unchecked_into();
    ok(promise).await.as_string().unwrap()
}

#[wasm_bindgen_test]
async fn encrypted_values_never_reach_indexeddb_in_plaintext() {
    let db = unique("sealed");
    // Storage errors name any record a read skipped as unreadable: shown if a read misses one.
    let (target, seen) = recorder(&["pwa-sync:storage-error"]);
    let client = open_with(&db, Some(key(7)), "", Some(&target)).await.unwrap();
    // The omitted pin has a `#`: no client id, clock stamp or base64 ciphertext in the dump
    // can hold one by chance (a bare "4711" once turned up inside a random client id).
    ok(client
        .put("notes".into(), JSON::parse(r##"{"id": "n1", "text": "tops3cret diary", "pin": "#4711"}"##).unwrap()))
    .await;
    // Once, in CI's WebKit, this patch found no "n1" (never seen again in 150 local
    // rounds): should it recur, the failure shows what the store held and `get` read.
    let patch = client.patch("notes".into(), "n1".into(), JSON::parse(r#"{"mood": "hush-hush-mood"}"#).unwrap());
    if let Err(e) = JsFuture::from(patch).await {
        let got = JsFuture::from(client.get("notes".into(), "n1".into())).await;
        panic!(
            "patch rejected: {e:?}; get then: {got:?}; storage errors {:?}; IndexedDB held: {}",
            storage_errors(&seen),
            raw_dump(&db).await
        );
    }
    ok(client.put("notes".into(), JSON::parse(r#"{"id": "n2", "text": "tops3cret diary"}"#).unwrap())).await;
    let raw = raw_dump(&db).await;
    for plaintext in ["tops3cret", "hush-hush-mood", "#4711"] {
        assert!(!raw.contains(plaintext), "{plaintext} found in IndexedDB: {raw}");
    }
    assert!(raw.contains("pwa-sync:sealed:v1:"));
    // The same value twice gives two different ciphertexts: a fresh nonce each time.
    let sealed: Vec<&str> = raw.split('"').filter(|s| s.starts_with("pwa-sync:sealed:v1:")).collect();
    let mut unique_sealed = sealed.clone();
    unique_sealed.sort_unstable();
    unique_sealed.dedup();
    assert_eq!(unique_sealed.len(), sealed.len());
    // The app reads its values back as written (the omitted field excepted).
    let note = ok(client.get("notes".into(), "n1".into())).await;
    assert_eq!(JSON::stringify(&note).unwrap(), r#"{"id":"n1","mood":"hush-hush-mood","text":"tops3cret diary"}"#);
    client.close();
    // Once, in CI's WebKit, this list held one note of two (0 of 30 local runs of this test
    // and 6 of the whole WebKit window suite): should it recur, the failure shows which,
    // what the reads reported, and what IndexedDB held.
    let again = open_with(&db, Some(key(7)), "", Some(&target)).await.unwrap();
    let listed = ok(again.list("notes".into(), JsValue::UNDEFINED)).await;
    if js_sys::Array::from(&listed).length() != 2 {
        panic!(
            "listed {:?}; storage errors {:?}; IndexedDB held: {}",
            JSON::stringify(&listed),
            storage_errors(&seen),
            raw_dump(&db).await
        );
    }
    again.close();
    // With another key nothing opens: reads fail or skip, and say why; nothing crashes.
    let wrong = open(&db, Some(key(8)), "").await.unwrap();
    assert_eq!(code(wrong.get("notes".into(), "n1".into())).await, "storage");
    assert_eq!(js_sys::Array::from(&ok(wrong.list("notes".into(), JsValue::UNDEFINED)).await).length(), 0);
    wrong.close();
    IdbStore::delete_database(&db).await.unwrap();
}

#[wasm_bindgen_test]
async fn encryption_keys_are_checked_and_indexes_refused() {
    let db = unique("sealed-config");
    let err =
        open(&db, Some(Uint8Array::from(&[1u8; 16][..]).into()), "").await.err().expect("a 16-byte key is refused");
    assert_eq!(Reflect::get(&err, &"code".into()).unwrap(), "invalid-config");
    let err = open(&db, Some("not base64!".into()), "").await.err().expect("bad base64 is refused");
    assert_eq!(Reflect::get(&err, &"code".into()).unwrap(), "invalid-config");
    let err =
        open(&db, Some(key(1)), r#", "indexes": ["text"]"#).await.err().expect("indexes with encryption are refused");
    let message = Reflect::get(&err, &"message".into()).unwrap().as_string().unwrap();
    assert!(message.contains("indexes"), "{message}");
    // A base64 key works too.
    let b64 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let client = open(&db, Some(b64.into()), "").await.unwrap();
    client.close();
    IdbStore::delete_database(&db).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_cipher_module_that_does_not_load_fails_open_and_writes_nothing() {
    let db = unique("sealed-unloaded");
    let config = |load: JsValue| {
        let config =
            JSON::parse(&format!(r#"{{"name": "{db}", "collections": {{"notes": {{"key": "id"}}}}}}"#)).unwrap();
        let encryption = js_sys::Object::new();
        Reflect::set(&encryption, &"key".into(), &key(7)).unwrap();
        Reflect::set(&encryption, &"loadCipher".into(), &load).unwrap();
        Reflect::set(&config, &"encryption".into(), &encryption).unwrap();
        config
    };
    // Offline, say: the module's fetch failed.
    let failing =
        Function::new_no_args("return Promise.reject(new TypeError('Failed to fetch seal/pwa_sync_seal.js'))");
    let err = SyncClient::open(config(failing.into())).await.err().expect("open must fail without its cipher");
    assert_eq!(Reflect::get(&err, &"code".into()).unwrap(), "storage");
    let message = Reflect::get(&err, &"message".into()).unwrap().as_string().unwrap();
    assert!(message.contains("cipher module") && message.contains("Failed to fetch"), "{message}");
    // A module without the cipher is the same failure, named.
    let empty = Function::new_no_args("return {}");
    let err = SyncClient::open(config(empty.into())).await.err().expect("a module without Cipher");
    assert_eq!(Reflect::get(&err, &"code".into()).unwrap(), "storage");
    // Not a function: the config is wrong.
    let err = SyncClient::open(config("seal/".into())).await.err().expect("loadCipher must be a function");
    assert_eq!(Reflect::get(&err, &"code".into()).unwrap(), "invalid-config");
    // None, and no `init` of the package's index.js to set the default: say how to give one.
    let err = SyncClient::open(config(JsValue::UNDEFINED)).await.err().expect("no loader at all");
    assert_eq!(Reflect::get(&err, &"code".into()).unwrap(), "invalid-config");
    let message = Reflect::get(&err, &"message".into()).unwrap().as_string().unwrap();
    assert!(message.contains("loadCipher") && message.contains("pwa-sync/seal"), "{message}");
    // None of these created the database: nothing could have been stored unsealed.
    let fresh = super::support::js(
        "name",
        "return new Promise((done, fail) => { const q = indexedDB.open(name); let fresh = false;
           q.onupgradeneeded = (e) => { fresh = e.oldVersion === 0; };
           q.onsuccess = () => { q.result.close(); done(fresh); }; q.onerror = () => fail(q.error); })",
        &[db.as_str().into()],
    )
    .await;
    assert_eq!(fresh, JsValue::TRUE, "{db} existed before this check opened it");
    IdbStore::delete_database(&db).await.unwrap();
}

#[wasm_bindgen_test]
async fn clear_leaves_nothing_of_the_users_data_in_indexeddb() {
    let db = unique("cleared");
    let client = open(&db, None, "").await.unwrap();
    ok(client.put("notes".into(), JSON::parse(r#"{"id": "n1", "text": "private words"}"#).unwrap())).await;
    ok(client.clear()).await;
    let raw = raw_dump(&db).await;
    assert!(!raw.contains("private words") && !raw.contains("n1"), "{raw}");
    client.close();
    IdbStore::delete_database(&db).await.unwrap();
}
