//! Migrations of stored data (issue 17): opening at a newer `version` migrates records and
//! queued writes inside the upgrade, all or nothing; an older tab steps aside; pulled
//! documents of older versions are migrated, newer ones stored as they are and announced.
//! (The version rules themselves are tested on the host in pwa-sync-core's `migration`.)

use js_sys::{Function, Promise, Reflect, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::idb::IdbStore;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::support::{field, js, ok, raw, recorder, server, unique};

/// A config of database `name` at `version`; `migrations`: (version, JS body over `r`
/// and `c`) pairs; `user`: sync as that user (autoSync off), else local-only.
fn config(name: &str, version: u32, migrations: &[(u32, &str)], user: Option<&str>) -> JsValue {
    let endpoint = user.map(|_| format!(r#""endpoint": "{}/sync", "autoSync": false,"#, server())).unwrap_or_default();
    let config = JSON::parse(&format!(
        r#"{{"name": "{name}", "version": {version}, {endpoint} "collections": {{"trips": {{"key": "id"}}}}}}"#
    ))
    .unwrap();
    if let Some(user) = user {
        Reflect::set(&config, &"token".into(), &format!("dev:{user}").into()).unwrap();
    }
    if !migrations.is_empty() {
        let steps = js_sys::Object::new();
        for (version, body) in migrations {
            Reflect::set(&steps, &version.to_string().into(), &Function::new_with_args("r, c", body)).unwrap();
        }
        Reflect::set(&config, &"migrations".into(), &steps).unwrap();
    }
    config
}

/// Version 2 adds `title` from `name` (and says which collection it ran for).
const TO_2: (u32, &str) = (2, "return { ...r, title: r.name, migratedFor: c };");

async fn open(config: JsValue) -> SyncClient {
    SyncClient::open(config).await.unwrap_or_else(|e| panic!("open rejected: {e:?}"))
}

/// A local-only client of database `name` at version 1 that wrote `records` (queued).
async fn written_at_v1(name: &str, records: &[&str]) -> SyncClient {
    let client = open(config(name, 1, &[], None)).await;
    for record in records {
        ok(client.put("trips".into(), json(record))).await;
    }
    client
}

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap()
}

fn text(value: &JsValue) -> String {
    JSON::stringify(value).unwrap().as_string().unwrap()
}

async fn get(client: &SyncClient, key: &str) -> String {
    text(&ok(client.get("trips".into(), key.into())).await)
}

async fn rejection(promise: Promise) -> JsValue {
    JsFuture::from(promise).await.expect_err("expected a rejection")
}

/// The database's IndexedDB version, read behind the library's back.
async fn idb_version(name: &str) -> f64 {
    js(
        "name",
        "return new Promise((resolve, reject) => { const r = indexedDB.open(name);
           r.onsuccess = () => { const v = r.result.version; r.result.close(); resolve(v); };
           r.onerror = () => reject(r.error); });",
        &[name.into()],
    )
    .await
    .as_f64()
    .unwrap()
}

#[wasm_bindgen_test]
async fn opening_at_a_newer_version_migrates_records_and_queued_writes() {
    let name = unique("migrate");
    written_at_v1(&name, &[r#"{"id": "t1", "name": "Lisbon"}"#, r#"{"id": "t2", "name": "Porto"}"#]).await.close();
    // A synced record's base goes through the migration too; here nothing has synced.
    let v2 = open(config(&name, 2, &[TO_2], None)).await;
    assert_eq!(get(&v2, "t1").await, r#"{"id":"t1","migratedFor":"trips","name":"Lisbon","title":"Lisbon"}"#);
    // The queued writes carry the migrated values: that is what the server will get.
    let outbox = raw(&name, "outbox", "getAll", &[]).await;
    let values: Vec<String> =
        js_sys::Array::from(&outbox).iter().map(|e| text(&Reflect::get(&e, &"value".into()).unwrap())).collect();
    assert_eq!(
        values,
        [
            r#"{"id":"t1","migratedFor":"trips","name":"Lisbon","title":"Lisbon"}"#,
            r#"{"id":"t2","migratedFor":"trips","name":"Porto","title":"Porto"}"#
        ]
    );
    // Written at version 2 from here on: the next open migrates nothing again.
    ok(v2.put("trips".into(), json(r#"{"id": "t3", "title": "Faro"}"#))).await;
    v2.close();
    let again = open(config(&name, 2, &[TO_2], None)).await;
    assert_eq!(get(&again, "t3").await, r#"{"id":"t3","title":"Faro"}"#);
    again.close();
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_throwing_migration_leaves_the_database_as_it_was_and_rejects_open() {
    let name = unique("migrate-fail");
    written_at_v1(&name, &[r#"{"id": "a", "name": "A"}"#, r#"{"id": "b", "name": "B"}"#]).await.close();
    let before = idb_version(&name).await;
    let throwing = (2, "if (r.id === 'b') throw new Error('cannot migrate b'); return { ...r, title: r.name };");
    let error = SyncClient::open(config(&name, 2, &[throwing], None)).await.err().expect("open succeeded");
    assert_eq!(field(&error, "code"), "migration-failed");
    assert!(error.is_instance_of::<js_sys::Error>());
    let message = field(&error, "message").as_string().unwrap_or_default();
    assert!(
        message.contains("\"trips\"") && message.contains("\"b\"") && message.contains("cannot migrate b"),
        "{message}"
    );
    // Nothing changed: not the version, not record a (migrated before b threw).
    assert_eq!(idb_version(&name).await, before);
    let stored = raw(&name, "trips", "get", &["a".into()]).await;
    assert_eq!(text(&Reflect::get(&stored, &"value".into()).unwrap()), r#"{"id":"a","name":"A"}"#);
    // A Promise is refused too: migrations are synchronous.
    let promising = (2, "return Promise.resolve(r);");
    let error = SyncClient::open(config(&name, 2, &[promising], None)).await.err().expect("open succeeded");
    assert_eq!(field(&error, "code"), "migration-failed");
    // The app at version 1 still opens it as it was.
    let v1 = open(config(&name, 1, &[], None)).await;
    assert_eq!(get(&v1, "a").await, r#"{"id":"a","name":"A"}"#);
    assert_eq!(ok(v1.pending(JsValue::UNDEFINED)).await.as_f64(), Some(2.0));
    v1.close();
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn an_open_client_of_the_older_version_is_closed_when_a_newer_one_opens() {
    let name = unique("migrate-tabs");
    let older = written_at_v1(&name, &[r#"{"id": "t1", "name": "Lisbon"}"#]).await;
    // The older client is still open: its connection steps aside, the upgrade is not blocked.
    let newer = open(config(&name, 2, &[TO_2], None)).await;
    assert_eq!(get(&newer, "t1").await, r#"{"id":"t1","migratedFor":"trips","name":"Lisbon","title":"Lisbon"}"#);
    // The older one cannot reopen a database of a newer version: nothing it writes is lost
    // silently, every call rejects.
    let refused = rejection(older.put("trips".into(), json(r#"{"id": "t2", "name": "x"}"#))).await;
    assert_eq!(field(&refused, "code"), "schema-downgrade");
    assert_eq!(field(&rejection(older.get("trips".into(), "t1".into())).await, "code"), "schema-downgrade");
    assert_eq!(ok(newer.get("trips".into(), "t2".into())).await, JsValue::UNDEFINED);
    older.close();
    newer.close();
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn bad_migration_settings_fail_open_with_invalid_config() {
    let name = unique("migrate-config");
    for (version, steps) in [(2, &[(3, "return r;")][..]), (1, &[(2, "return r;")][..])] {
        let error = SyncClient::open(config(&name, version, steps, None)).await.err().expect("accepted");
        assert_eq!(field(&error, "code"), "invalid-config");
    }
    let zero = SyncClient::open(config(&name, 0, &[], None)).await.err().expect("version 0 accepted");
    assert_eq!(field(&zero, "code"), "invalid-config");
}

#[wasm_bindgen_test]
async fn pulled_documents_of_older_versions_are_migrated_and_newer_ones_stored_and_announced() {
    let user = unique("u");
    let (db1, db2, db3, db4) = (unique("m1"), unique("m2"), unique("m3"), unique("m4"));
    // A device still at version 1 writes; one at version 3 writes its own shape.
    let old = open(config(&db1, 1, &[], Some(&user))).await;
    ok(old.put("trips".into(), json(r#"{"id": "o1", "name": "Lisbon"}"#))).await;
    ok(old.sync()).await;
    let ahead = open(config(&db3, 3, &[], Some(&user))).await;
    ok(ahead.put("trips".into(), json(r#"{"id": "n1", "label": "v3 shape"}"#))).await;
    ok(ahead.sync()).await;
    // A version 1 write queued offline, then the app updates to 2 before it is sent.
    let queued = open(config(&db4, 1, &[], Some(&user))).await;
    ok(queued.put("trips".into(), json(r#"{"id": "q1", "name": "Faro"}"#))).await;
    queued.close();
    let updated = open(config(&db4, 2, &[TO_2], Some(&user))).await;
    ok(updated.sync()).await;
    updated.close();

    let (target, seen) = recorder(&["pwa-sync:newer-schema"]);
    let v2 = config(&db2, 2, &[TO_2], Some(&user));
    Reflect::set(&v2, &"eventTarget".into(), &target).unwrap();
    let v2 = open(v2).await;
    ok(v2.sync()).await;
    assert_eq!(get(&v2, "o1").await, r#"{"id":"o1","migratedFor":"trips","name":"Lisbon","title":"Lisbon"}"#);
    assert_eq!(get(&v2, "n1").await, r#"{"id":"n1","label":"v3 shape"}"#, "newer: stored as it is");
    // The queued write reached the server migrated and marked version 2: not migrated again.
    assert_eq!(get(&v2, "q1").await, r#"{"id":"q1","migratedFor":"trips","name":"Faro","title":"Faro"}"#);
    let announced: Vec<String> = seen.borrow().iter().map(|(_, detail)| text(detail)).collect();
    assert_eq!(announced, [r#"{"collection":"trips","key":"n1","schemaVersion":3,"appVersion":2}"#]);
    // The version 1 device gets it as the server has it, migrated (version 2, newer
    // than it knows: stored as it is).
    ok(old.sync()).await;
    assert_eq!(get(&old, "q1").await, r#"{"id":"q1","migratedFor":"trips","name":"Faro","title":"Faro"}"#);
    close_and_delete([old, ahead, v2], &[&db1, &db2, &db3, &db4]).await;
}

#[wasm_bindgen_test]
async fn a_newer_apps_patch_of_an_older_document_reaches_others_in_the_newer_shape() {
    let user = unique("u");
    let (db1, db3, other_db) = (unique("p1"), unique("p3"), unique("p3o"));
    let to_3 = (3, "return { ...r, tags: r.tags ?? [] };");
    let old = open(config(&db1, 1, &[], Some(&user))).await;
    ok(old.put("trips".into(), json(r#"{"id": "o1", "name": "Rome"}"#))).await;
    ok(old.sync()).await;
    // A device at version 3 pulls the version 1 document (migrated as it is stored) and
    // patches it.
    let v3 = open(config(&db3, 3, &[TO_2, to_3], Some(&user))).await;
    ok(v3.sync()).await;
    ok(v3.patch("trips".into(), "o1".into(), json(r#"{"note": "bring a hat"}"#))).await;
    ok(v3.sync()).await;
    // The server merged that patch into the version 1 document and labelled it 3 before:
    // another device at 3 then stored it unmigrated, without `title` and `tags`.
    let other = open(config(&other_db, 3, &[TO_2, to_3], Some(&user))).await;
    ok(other.sync()).await;
    let stored: serde_json::Value = serde_json::from_str(&get(&other, "o1").await).unwrap();
    let expected = serde_json::json!({
        "id": "o1", "name": "Rome", "title": "Rome", "migratedFor": "trips", "tags": [], "note": "bring a hat"
    });
    assert_eq!(stored, expected);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&get(&v3, "o1").await).unwrap(), expected);
    close_and_delete([old, v3, other], &[&db1, &db3, &other_db]).await;
}

/// The collections of an app version that still has notes.
const TRIPS_AND_NOTES: &str = r#"{"trips": {"key": "id"}, "notes": {"key": "id"}}"#;

/// A syncing config of database `name` declaring `collections` (JSON), autoSync off.
fn declaring(name: &str, user: &str, collections: &str) -> JsValue {
    let config = JSON::parse(&format!(
        r#"{{"name": "{name}", "endpoint": "{}/sync", "autoSync": false, "collections": {collections}}}"#,
        server()
    ))
    .unwrap();
    Reflect::set(&config, &"token".into(), &format!("dev:{user}").into()).unwrap();
    config
}

#[wasm_bindgen_test]
async fn writes_queued_for_a_collection_the_next_app_version_dropped_still_go_out() {
    let user = unique("u");
    let (db, other_db) = (unique("drop"), unique("drop-o"));
    // Version one of the app keeps notes; a note is queued offline, and the app updates.
    let before = open(declaring(&db, &user, TRIPS_AND_NOTES)).await;
    ok(before.put("notes".into(), json(r#"{"id": "n1", "text": "buy stamps"}"#))).await;
    before.close();
    let after = open(declaring(&db, &user, r#"{"trips": {"key": "id"}}"#)).await;
    ok(after.put("trips".into(), json(r#"{"id": "t1", "name": "Oslo"}"#))).await;
    // The note is the user's: it goes out, and then no longer counts as pending. Before,
    // every sync failed on it (`unknown-collection`), so nothing was ever sent again.
    ok(after.sync()).await;
    assert_eq!(ok(after.pending(JsValue::UNDEFINED)).await, 0.0);
    let other = open(declaring(&other_db, &user, TRIPS_AND_NOTES)).await;
    ok(other.sync()).await;
    assert_eq!(text(&ok(other.get("notes".into(), "n1".into())).await), r#"{"id":"n1","text":"buy stamps"}"#);
    assert_eq!(get(&other, "t1").await, r#"{"id":"t1","name":"Oslo"}"#);
    close_and_delete([after, other], &[&db, &other_db]).await;
}

#[wasm_bindgen_test]
async fn a_queued_patch_is_migrated_as_the_change_between_whole_records() {
    let user = unique("u");
    let (db, other_db) = (unique("qp"), unique("qp-o"));
    // Version 2 derives a field from two others: not computable from a patch alone.
    let full_name = (2, "return { ...r, fullName: `${r.first} ${r.last}` };");
    let v1 = open(config(&db, 1, &[], Some(&user))).await;
    ok(v1.put("trips".into(), json(r#"{"id": "p1", "first": "Ana", "last": "Silva"}"#))).await;
    ok(v1.sync()).await;
    ok(v1.patch("trips".into(), "p1".into(), json(r#"{"last": "Costa"}"#))).await;
    v1.close();
    let v2 = open(config(&db, 2, &[full_name], Some(&user))).await;
    // The queued patch is the change between the record before it and after it, each
    // migrated whole (run alone, the step made "undefined Costa").
    let outbox = raw(&db, "outbox", "getAll", &[]).await;
    let entry = js_sys::Array::from(&outbox).get(0);
    assert_eq!(field(&entry, "op"), "patch");
    let patch: serde_json::Value =
        serde_json::from_str(&text(&Reflect::get(&entry, &"value".into()).unwrap())).unwrap();
    assert_eq!(patch, serde_json::json!({"last": "Costa", "fullName": "Ana Costa"}));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&get(&v2, "p1").await).unwrap(),
        serde_json::json!({"id": "p1", "first": "Ana", "last": "Costa", "fullName": "Ana Costa"})
    );
    ok(v2.sync()).await;
    let other = open(config(&other_db, 2, &[full_name], Some(&user))).await;
    ok(other.sync()).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&get(&other, "p1").await).unwrap(),
        serde_json::json!({"id": "p1", "first": "Ana", "last": "Costa", "fullName": "Ana Costa"})
    );
    close_and_delete([v2, other], &[&db, &other_db]).await;
}

#[wasm_bindgen_test]
async fn a_dropped_collections_write_in_conflict_is_settled_for_the_server_and_audited() {
    let user = unique("u");
    let (db, other_db) = (unique("dropc"), unique("dropc-o"));
    let other = open(declaring(&other_db, &user, TRIPS_AND_NOTES)).await;
    ok(other.put("notes".into(), json(r#"{"id": "n1", "text": "first"}"#))).await;
    ok(other.sync()).await;
    // Version one of the app pulls the note and edits it offline; meanwhile another
    // device edits it too; then the app updates and drops notes.
    let before = open(declaring(&db, &user, TRIPS_AND_NOTES)).await;
    ok(before.sync()).await;
    ok(before.put("notes".into(), json(r#"{"id": "n1", "text": "mine"}"#))).await;
    before.close();
    ok(other.put("notes".into(), json(r#"{"id": "n1", "text": "theirs"}"#))).await;
    ok(other.sync()).await;
    let after = open(declaring(&db, &user, r#"{"trips": {"key": "id"}}"#)).await;
    // No strategy of this app settles notes: the server's value stands, the write is kept
    // in the audit log, and it is not sent again at every sync.
    let result = ok(after.sync()).await;
    assert_eq!(field(&result, "pushed"), 0.0);
    assert_eq!(field(&result, "conflicts"), 1.0);
    assert_eq!(ok(after.pending(JsValue::UNDEFINED)).await, 0.0);
    let audit = js_sys::Array::from(&ok(after.audit(JsValue::UNDEFINED)).await);
    assert_eq!(audit.length(), 1);
    let entry = audit.get(0);
    assert_eq!(field(&entry, "kind"), "conflict");
    assert_eq!(field(&entry, "collection"), "notes");
    assert_eq!(text(&field(&entry, "local")), r#"{"id":"n1","text":"mine"}"#);
    assert_eq!(text(&field(&entry, "server")), r#"{"id":"n1","text":"theirs"}"#);
    let again = ok(after.sync()).await;
    assert_eq!(field(&again, "conflicts"), 0.0, "settled once");
    ok(other.sync()).await;
    assert_eq!(text(&ok(other.get("notes".into(), "n1".into())).await), r#"{"id":"n1","text":"theirs"}"#);
    close_and_delete([after, other], &[&db, &other_db]).await;
}

#[wasm_bindgen_test]
async fn a_newer_apps_patch_of_an_older_document_is_no_conflict_for_any_strategy() {
    let user = unique("u");
    let (db1, db2, other_db) = (unique("sw1"), unique("sw2"), unique("sw2o"));
    let server_wins = |name: &str| {
        let config = config(name, 2, &[TO_2], Some(&user));
        let trips = Reflect::get(&Reflect::get(&config, &"collections".into()).unwrap(), &"trips".into()).unwrap();
        Reflect::set(&trips, &"conflict".into(), &"serverWins".into()).unwrap();
        config
    };
    let old = open(config(&db1, 1, &[], Some(&user))).await;
    ok(old.put("trips".into(), json(r#"{"id": "o1", "name": "Rome"}"#))).await;
    ok(old.sync()).await;
    let v2 = open(server_wins(&db2)).await;
    ok(v2.sync()).await;
    ok(v2.patch("trips".into(), "o1".into(), json(r#"{"note": "bring a hat"}"#))).await;
    // The server refuses the patch for the document's older schema alone: nobody wrote
    // since. The change goes again whole, in version 2's shape; no strategy decides, so
    // `serverWins` does not drop it (nor every later patch of the document).
    let result = ok(v2.sync()).await;
    assert_eq!(field(&result, "conflicts"), 0.0);
    let expected =
        serde_json::json!({"id": "o1", "name": "Rome", "title": "Rome", "migratedFor": "trips", "note": "bring a hat"});
    assert_eq!(serde_json::from_str::<serde_json::Value>(&get(&v2, "o1").await).unwrap(), expected);
    assert_eq!(ok(v2.pending(JsValue::UNDEFINED)).await, 0.0);
    let other = open(server_wins(&other_db)).await;
    ok(other.sync()).await;
    assert_eq!(serde_json::from_str::<serde_json::Value>(&get(&other, "o1").await).unwrap(), expected);
    close_and_delete([old, v2, other], &[&db1, &db2, &other_db]).await;
}

/// Close `clients` and delete the databases `names`.
async fn close_and_delete<const N: usize>(clients: [SyncClient; N], names: &[&String]) {
    for client in clients {
        client.close();
    }
    for name in names {
        IdbStore::delete_database(name).await.unwrap();
    }
}
