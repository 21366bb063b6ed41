//! The JS API, driven from Rust through the same wasm-bindgen exports JS uses. Runs in
//! every browser scope (window, dedicated worker, service worker).

use js_sys::{Array, Promise, Reflect, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::idb::IdbStore;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::support::{field, ok, recorder, unique};

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap_or_else(|e| panic!("bad test JSON {text}: {e:?}"))
}

fn config(name: &str) -> JsValue {
    json(&format!(
        r#"{{"name": "{name}", "collections": {{
            "trips": {{"key": "id", "indexes": ["owner"]}},
            "attendees": {{"key": "id", "omit": ["accessCode"],
                          "event": {{"name": "attendee-data-updated", "valueField": "attendee"}}}}}}}}"#
    ))
}

async fn open(name: &str) -> SyncClient {
    SyncClient::open(config(name)).await.unwrap_or_else(|e| panic!("open {name}: {e:?}"))
}

/// Another context opens database `name` with one more collection (an upgrade, which
/// closes every other connection: `versionchange`) and writes `trip` through it.
async fn upgrade_elsewhere(name: &str, trip: &str) -> SyncClient {
    let wider = json(&format!(
        r#"{{"name": "{name}", "collections": {{"trips": {{"key": "id", "indexes": ["owner"]}},
            "attendees": {{"key": "id"}}, "extra": {{"key": "id"}}}}}}"#
    ));
    let other = SyncClient::open(wider).await.unwrap();
    ok(other.put(s("trips"), json(trip))).await;
    other
}

/// The `error` event of `request` (JS over `tx`, a read-only transaction on `trips` of
/// database `name`) when its transaction is aborted before it runs.
async fn aborted_request(name: &str, request: &str) -> JsValue {
    let body = format!(
        "return new Promise((resolve, reject) => {{
            const open = indexedDB.open(name);
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {{
                const tx = open.result.transaction('trips');
                const request = {request};
                tx.abort();
                request.onerror = (event) => {{ event.preventDefault(); open.result.close(); resolve(event); }};
                request.onsuccess = () => reject(new Error('the aborted request succeeded'));
            }};
        }});"
    );
    super::support::js("name", &body, &[s(name)]).await
}

async fn done(client: SyncClient, name: &str) {
    client.close();
    IdbStore::delete_database(name).await.unwrap();
}

/// The `code` of a rejection, after checking it is a real `Error` named PwaSyncError.
async fn code(promise: Promise) -> String {
    match JsFuture::from(promise).await {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(e) => error_code(&e),
    }
}

fn error_code(e: &JsValue) -> String {
    assert!(e.is_instance_of::<js_sys::Error>(), "not an Error: {e:?}");
    let name = Reflect::get(e, &"name".into()).unwrap().as_string();
    assert_eq!(name.as_deref(), Some("PwaSyncError"));
    Reflect::get(e, &"code".into()).unwrap().as_string().unwrap_or_default()
}

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

#[wasm_bindgen_test]
async fn invalid_config_rejects_with_invalid_config() {
    let bad = json(r#"{"name": "x", "collections": {"trips": {"key": "id", "conflict": "mrege"}}}"#);
    let err = SyncClient::open(bad).await.err().expect("open must fail");
    assert_eq!(error_code(&err), "invalid-config");
    let message = field(&err, "message").as_string().unwrap();
    assert!(message.contains("mrege"), "{message}");
    let err = SyncClient::open(JsValue::from(5)).await.err().expect("open must fail");
    assert_eq!(error_code(&err), "invalid-config");
}

#[wasm_bindgen_test]
async fn put_get_patch_delete_round_trip() {
    let name = unique("crud");
    let client = open(&name).await;
    let stored = ok(client.put(s("trips"), json(r#"{"id": "t1", "owner": "ana", "n": [1, 2]}"#))).await;
    assert_eq!(field(&stored, "owner"), "ana");
    let patched = ok(client.patch(s("trips"), s("t1"), json(r#"{"title": "Lisbon", "n": null}"#))).await;
    assert_eq!(JSON::stringify(&patched).unwrap(), r#"{"id":"t1","owner":"ana","title":"Lisbon"}"#);
    let read = ok(client.get(s("trips"), s("t1"))).await;
    assert_eq!(JSON::stringify(&read).unwrap(), r#"{"id":"t1","owner":"ana","title":"Lisbon"}"#);
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0);
    ok(client.delete(s("trips"), s("t1"))).await;
    assert!(ok(client.get(s("trips"), s("t1"))).await.is_undefined());
    // Created and deleted before it was ever sent: nothing is left to send.
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 0.0);
    assert_eq!(code(client.patch(s("trips"), s("t1"), json("{}"))).await, "not-found");
    done(client, &name).await;
}

/// `get` answers in one IndexedDB request when the connection is open (`get_now`), and
/// through the store when it is not: the same answers either way, each a fresh copy.
#[wasm_bindgen_test]
async fn get_answers_alike_before_and_after_another_context_upgrades_the_database() {
    let name = unique("get-now");
    let client = open(&name).await;
    ok(client.put(s("trips"), json(r#"{"id": "t1", "owner": "ana"}"#))).await;
    ok(client.put(s("trips"), json(r#"{"id": "t2", "owner": "bo"}"#))).await;
    ok(client.delete(s("trips"), s("t2"))).await;
    let answers = |client: &SyncClient| {
        let reads = ["t1", "t2", "t3"].map(|key| client.get(s("trips"), s(key)));
        async move {
            let mut out = Vec::new();
            for read in reads {
                let value = ok(read).await;
                out.push((!value.is_undefined()).then(|| String::from(JSON::stringify(&value).unwrap())));
            }
            out
        }
    };
    let expected = [Some(r#"{"id":"t1","owner":"ana"}"#.to_owned()), None, None];
    assert_eq!(answers(&client).await, expected, "t2 deleted, t3 never written");
    let read = ok(client.get(s("trips"), s("t1"))).await;
    Reflect::set(&read, &"owner".into(), &s("changed by the app")).unwrap();
    assert_eq!(answers(&client).await, expected, "an answer is the app's own copy");

    // The upgrade closes this client's connection; its next `get` reopens it.
    let other = upgrade_elsewhere(&name, r#"{"id": "t3", "owner": "cy"}"#).await;
    let after = [expected[0].clone(), None, Some(r#"{"id":"t3","owner":"cy"}"#.to_owned())];
    assert_eq!(answers(&client).await, after);
    assert_eq!(answers(&client).await, after, "and again on the reopened connection");
    other.close();
    done(client, &name).await;
}

/// A request of `get_now` that failed: a storage error naming the record and the cause.
#[wasm_bindgen_test]
async fn a_failed_get_request_is_a_storage_error_naming_the_record() {
    let name = unique("get-failed");
    let client = open(&name).await;
    ok(client.put(s("trips"), json(r#"{"id": "t1"}"#))).await;
    let failed = aborted_request(&name, "tx.objectStore('trips').get('t1')").await;
    let error = pwa_sync::idb::read_outcome(&s("trips"), &s("t1"), &failed).expect_err("an aborted request");
    assert_eq!(error.code(), "storage");
    let message = error.to_string();
    assert!(message.contains("trips/t1") && message.contains("AbortError"), "{message}");
    done(client, &name).await;
}

/// `count` answers in one IndexedDB request where the plan counts one range of an index
/// (`count_now`), and through the store otherwise (several ranges, a scan, a closed
/// connection): the same counts either way, also for counts issued together and after
/// another context's upgrade closed the connection.
#[wasm_bindgen_test]
async fn count_answers_alike_in_one_request_and_through_the_store() {
    let name = unique("count-now");
    let client = open(&name).await;
    for (id, owner) in [("t1", "ana"), ("t2", "bo"), ("t3", "ana"), ("t4", "cy")] {
        ok(client.put(s("trips"), json(&format!(r#"{{"id": "{id}", "owner": "{owner}"}}"#)))).await;
    }
    ok(client.delete(s("trips"), s("t4"))).await;
    let queries = [
        (r#"{"where": {"owner": "ana"}}"#, 2.0),        // one range of the index
        (r#"{"where": {"owner": {"gte": "b"}}}"#, 1.0), // one open-ended range
        (r#"{"where": {"owner": {"in": ["ana", "bo", "dee"]}}}"#, 3.0), // several ranges
        (r#"{"where": {"id": {"startsWith": "t"}}}"#, 3.0), // no index: a scan
        ("{}", 3.0),
    ];
    let counts = |client: &SyncClient| {
        let pending = queries.map(|(query, _)| client.count(s("trips"), json(query)));
        async move {
            let mut out = Vec::new();
            for count in pending {
                out.push(ok(count).await.as_f64());
            }
            out
        }
    };
    let expected: Vec<Option<f64>> = queries.iter().map(|(_, n)| Some(*n)).collect();
    assert_eq!(counts(&client).await, expected, "issued together");
    // Bad arguments are parsed once and rejected by the store's path.
    assert_eq!(code(client.count(s("nope"), json("{}"))).await, "unknown-collection");
    assert_eq!(code(client.count(s("trips"), json(r#"{"where": {"owner": {"near": 1}}}"#))).await, "invalid-query");
    // The upgrade closes this client's connection; its next count reopens it.
    let other = upgrade_elsewhere(&name, r#"{"id": "t5", "owner": "ana"}"#).await;
    let after: Vec<Option<f64>> = [3.0, 1.0, 4.0, 4.0, 4.0].into_iter().map(Some).collect();
    assert_eq!(counts(&client).await, after, "after the upgrade");
    assert_eq!(counts(&client).await, after, "and again on the reopened connection");
    other.close();
    client.close();
    assert_eq!(code(client.count(s("trips"), json(r#"{"where": {"owner": "ana"}}"#))).await, "closed");
    IdbStore::delete_database(&name).await.unwrap();
}

/// A request of `count_now` that failed: a storage error naming the collection and the
/// cause.
#[wasm_bindgen_test]
async fn a_failed_count_request_is_a_storage_error_naming_the_collection() {
    let name = unique("count-failed");
    let client = open(&name).await;
    ok(client.put(s("trips"), json(r#"{"id": "t1", "owner": "ana"}"#))).await;
    let failed = aborted_request(&name, "tx.objectStore('trips').index('owner').count('ana')").await;
    let error =
        pwa_sync::idb::count_outcome(&s("trips"), &JsValue::UNDEFINED, &failed).expect_err("an aborted request");
    assert_eq!(error.code(), "storage");
    let message = error.to_string();
    assert!(message.contains("trips") && message.contains("AbortError"), "{message}");
    done(client, &name).await;
}

#[wasm_bindgen_test]
async fn values_that_cannot_be_stored_reject_and_write_nothing() {
    let name = unique("invalid");
    let client = open(&name).await;
    let cyclic = json(r#"{"id": "c"}"#);
    Reflect::set(&cyclic, &"self".into(), &cyclic).unwrap();
    let big = json(r#"{"id": "b"}"#);
    Reflect::set(&big, &"n".into(), &js_sys::BigInt::from(5u32).into()).unwrap();
    for bad in [
        json("[1]"),
        s("text"),
        JsValue::from(3),
        JsValue::NULL,
        JsValue::UNDEFINED,
        json(r#"{"n": 1}"#),
        json(r#"{"id": 7}"#),
        json(r#"{"id": ""}"#),
        cyclic,
        big,
    ] {
        assert_eq!(code(client.put(s("trips"), bad.clone())).await, "invalid-value", "{bad:?}");
    }
    assert_eq!(code(client.put(s("nope"), json(r#"{"id": "a"}"#))).await, "unknown-collection");
    assert_eq!(code(client.put(JsValue::from(1), json(r#"{"id": "a"}"#))).await, "invalid-value");
    assert_eq!(code(client.get(s("trips"), JsValue::from(1))).await, "invalid-value");
    assert_eq!(code(client.list(s("trips"), json(r#"{"index": "title", "equals": "x"}"#))).await, "invalid-value");
    assert_eq!(code(client.list(s("trips"), json(r#"{"index": "owner"}"#))).await, "invalid-value");
    assert_eq!(code(client.list(s("trips"), json(r#"{"limit": -1}"#))).await, "invalid-value");
    assert_eq!(code(client.export_data(json(r#"{"format": "xml"}"#))).await, "invalid-value");
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 0.0);
    assert_eq!(Array::from(&ok(client.list(s("trips"), JsValue::UNDEFINED)).await).length(), 0);
    done(client, &name).await;
}

#[wasm_bindgen_test]
async fn omitted_fields_never_reach_indexeddb() {
    let name = unique("omit");
    let client = open(&name).await;
    ok(client.put(s("attendees"), json(r#"{"id": "a1", "dining": "vegan", "accessCode": "4711"}"#))).await;
    ok(client.patch(s("attendees"), s("a1"), json(r#"{"accessCode": "9999", "dining": "any"}"#))).await;
    client.close();
    let store = IdbStore::open(
        &pwa_sync_core::config::ClientConfig::from_json(
            serde_json::from_str(&String::from(JSON::stringify(&config(&name)).unwrap())).unwrap(),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    use pwa_sync_core::store::conformance::{json_get, json_outbox};
    let record = json_get(&store, "attendees", "a1").await.unwrap().unwrap();
    assert_eq!(record.value, Some(serde_json::json!({"id": "a1", "dining": "any"})));
    let outbox = json_outbox(&store, 10).await.unwrap();
    assert!(outbox.iter().all(|e| e.value.get("accessCode").is_none()), "{outbox:?}");
    store.close();
    IdbStore::delete_database(&name).await.unwrap();
}

/// Collects the `detail` of every event of `names` dispatched on a fresh target.
#[wasm_bindgen_test]
async fn local_writes_fire_change_and_collection_events() {
    let name = unique("events");
    let (target, seen) = recorder(&["pwa-sync:change", "attendee-data-updated", "pwa-sync:status"]);
    let cfg = config(&name);
    Reflect::set(&cfg, &"eventTarget".into(), &target).unwrap();
    let client = SyncClient::open(cfg).await.unwrap();
    ok(client.put(s("attendees"), json(r#"{"id": "a1", "dining": "vegan"}"#))).await;
    ok(client.delete(s("attendees"), s("a1"))).await;
    let events = seen.borrow().clone();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "pwa-sync:change",
            "attendee-data-updated",
            "pwa-sync:status",
            "pwa-sync:change",
            "attendee-data-updated",
            "pwa-sync:status"
        ]
    );
    let change = &events[0].1;
    assert_eq!(field(change, "collection"), "attendees");
    assert_eq!(field(change, "key"), "a1");
    assert_eq!(field(change, "origin"), "local");
    assert!(field(change, "version").is_null());
    assert_eq!(field(&field(change, "value"), "dining"), "vegan");
    let own = &events[1].1;
    assert_eq!(field(&field(own, "attendee"), "dining"), "vegan");
    assert!(field(own, "timestamp").as_f64().unwrap() > 0.0);
    assert!(field(own, "syncVersion").is_null(), "a local write the server never saw has no version");
    assert_eq!(field(&events[2].1, "pending"), 1.0);
    assert!(field(&events[3].1, "value").is_null());
    assert_eq!(field(&events[5].1, "pending"), 0.0);
    done(client, &name).await;
}

#[wasm_bindgen_test]
async fn on_listens_on_the_clients_target_until_stopped() {
    let name = unique("on");
    let target = web_sys::EventTarget::new().unwrap();
    let cfg = config(&name);
    Reflect::set(&cfg, &"eventTarget".into(), &target).unwrap();
    let client = SyncClient::open(cfg).await.unwrap();
    let keys = std::rc::Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let sink = keys.clone();
    let listener = Closure::<dyn Fn(web_sys::CustomEvent)>::new(move |event: web_sys::CustomEvent| {
        sink.borrow_mut().push(field(&event.detail(), "key").as_string().unwrap_or_default());
    });
    let stop = client.on(s("pwa-sync:change"), listener.as_ref().clone()).unwrap();
    ok(client.put(s("trips"), json(r#"{"id": "t1"}"#))).await;
    stop.call0(&JsValue::NULL).unwrap();
    // Stopping twice does nothing (React's strict mode runs cleanups again).
    stop.call0(&JsValue::NULL).unwrap();
    ok(client.put(s("trips"), json(r#"{"id": "t2"}"#))).await;
    assert_eq!(*keys.borrow(), ["t1"]);
    let refused = client.on(s("pwa-sync:change"), s("not a function")).unwrap_err();
    assert_eq!(error_code(&refused), "invalid-value");
    done(client, &name).await;
}

#[wasm_bindgen_test]
async fn status_is_a_stable_snapshot_until_something_changes() {
    let name = unique("status");
    let client = open(&name).await;
    let first = client.status();
    assert!(Object::is(&first, &client.status()));
    assert_eq!(field(&first, "state"), "offline");
    assert_eq!(field(&first, "pending"), 0.0);
    assert!(field(&first, "lastSyncedAt").is_null());
    ok(client.put(s("trips"), json(r#"{"id": "t"}"#))).await;
    let second = client.status();
    assert!(!Object::is(&first, &second));
    assert_eq!(field(&second, "pending"), 1.0);
    done(client, &name).await;
}

use js_sys::Object;

#[wasm_bindgen_test]
async fn list_by_index_with_limit() {
    let name = unique("list");
    let client = open(&name).await;
    for (id, owner) in [("t3", "ana"), ("t1", "ana"), ("t2", "bo")] {
        ok(client.put(s("trips"), json(&format!(r#"{{"id": "{id}", "owner": "{owner}"}}"#)))).await;
    }
    let ids =
        |list: JsValue| Array::from(&list).iter().map(|v| field(&v, "id").as_string().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(ok(client.list(s("trips"), JsValue::UNDEFINED)).await), ["t1", "t2", "t3"]);
    assert_eq!(ids(ok(client.list(s("trips"), json(r#"{"index": "owner", "equals": "ana"}"#))).await), ["t1", "t3"]);
    assert_eq!(
        ids(ok(client.list(s("trips"), json(r#"{"index": "owner", "equals": "ana", "limit": 1}"#))).await),
        ["t1"]
    );
    assert_eq!(ids(ok(client.list(s("trips"), json(r#"{"limit": 2}"#))).await), ["t1", "t2"]);
    done(client, &name).await;
}

#[wasm_bindgen_test]
async fn export_json_and_csv() {
    let name = unique("export");
    let client = open(&name).await;
    ok(client.put(s("trips"), json(r#"{"id": "t1", "title": "Rome, \"eternal\""}"#))).await;
    let exported = ok(client.export_data(json(r#"{"format": "json"}"#))).await.as_string().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(parsed["collections"]["trips"][0]["title"], "Rome, \"eternal\"");
    assert_eq!(parsed["collections"]["attendees"], serde_json::json!([]));
    let csv = ok(client.export_data(json(r#"{"format": "csv"}"#))).await.as_string().unwrap();
    assert_eq!(csv, "collection,id,title\r\ntrips,t1,\"Rome, \"\"eternal\"\"\"\r\n");
    done(client, &name).await;
}

#[wasm_bindgen_test]
async fn clear_wipes_everything_and_takes_a_new_client_id() {
    let name = unique("clear");
    let client = open(&name).await;
    let before = client.client_id();
    let hex_id = |id: &str| {
        id.len() == 18
            && id.starts_with("c-")
            && id[2..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    assert!(hex_id(&before), "{before}");
    ok(client.put(s("trips"), json(r#"{"id": "t1"}"#))).await;
    ok(client.put(s("attendees"), json(r#"{"id": "a1"}"#))).await;
    ok(client.clear()).await;
    assert!(ok(client.get(s("trips"), s("t1"))).await.is_undefined());
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 0.0);
    assert_ne!(client.client_id(), before);
    assert!(hex_id(&client.client_id()), "{}", client.client_id());
    // Still usable after a clear.
    ok(client.put(s("trips"), json(r#"{"id": "t2"}"#))).await;
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0);
    done(client, &name).await;
}

#[wasm_bindgen_test]
async fn a_tab_closed_by_another_tabs_wipe_announces_nothing_after_it() {
    let name = unique("wipe-order");
    let a = open(&name).await;
    // The other tab: its own client on the same database, its events recorded.
    let (target, seen) =
        recorder(&["pwa-sync:change", "pwa-sync:cleared", "pwa-sync:status", "pwa-sync:storage-error"]);
    let b_config = config(&name);
    Reflect::set(&b_config, &"eventTarget".into(), &target).unwrap();
    let b = SyncClient::open(b_config).await.unwrap();
    // A writes many keys, then wipes: B hears the keys' hint and reads them one by one,
    // and the wipe, posted right after the keys, closes it while it still reads.
    let trips = Array::new();
    for i in 0..300 {
        trips.push(&json(&format!(r#"{{"id": "t{i}", "owner": "ana"}}"#)));
    }
    ok(a.put_many(s("trips"), trips.into())).await;
    ok(a.clear()).await;
    for _ in 0..100 {
        if seen.borrow().iter().any(|(name, _)| name == "pwa-sync:cleared") {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    gloo_timers::future::TimeoutFuture::new(500).await;
    let names: Vec<String> = seen.borrow().iter().map(|(name, _)| name.clone()).collect();
    let cleared = names.iter().position(|n| n == "pwa-sync:cleared").expect("B heard the wipe");
    assert!(
        names[cleared + 1..].is_empty(),
        "B announced after its wipe: {:?} (of {} events before it)",
        &names[cleared + 1..],
        cleared
    );
    b.close();
    done(a, &name).await;
}

#[wasm_bindgen_test]
async fn closed_client_rejects_with_closed() {
    let name = unique("closed");
    let client = open(&name).await;
    client.close();
    assert_eq!(code(client.put(s("trips"), json(r#"{"id": "t1"}"#))).await, "closed");
    assert_eq!(code(client.get(s("trips"), s("t1"))).await, "closed");
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn data_survives_closing_and_reopening() {
    let name = unique("reopen");
    let client = open(&name).await;
    let id = client.client_id();
    ok(client.put(s("trips"), json(r#"{"id": "t1", "owner": "ana"}"#))).await;
    ok(client.put(s("trips"), json(r#"{"id": "t2", "owner": "bo"}"#))).await;
    client.close();
    let again = open(&name).await;
    assert_eq!(again.client_id(), id);
    assert_eq!(ok(again.pending(JsValue::UNDEFINED)).await, 2.0);
    assert_eq!(field(&ok(again.get(s("trips"), s("t2"))).await, "owner"), "bo");
    done(again, &name).await;
}

#[wasm_bindgen_test]
async fn a_write_in_one_tab_reaches_the_other_as_origin_tab() {
    let name = unique("tabs");
    let (target, seen) = recorder(&["pwa-sync:change"]);
    let other_cfg = config(&name);
    Reflect::set(&other_cfg, &"eventTarget".into(), &target).unwrap();
    let writer = open(&name).await;
    let other = SyncClient::open(other_cfg).await.unwrap();
    ok(writer.put(s("trips"), json(r#"{"id": "t1", "owner": "ana"}"#))).await;
    // The hint travels through BroadcastChannel; give it a few turns of the event loop.
    for _ in 0..100 {
        if !seen.borrow().is_empty() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    let events = seen.borrow().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    let detail = &events[0].1;
    assert_eq!(field(detail, "origin"), "tab");
    assert_eq!(field(detail, "key"), "t1");
    assert_eq!(field(&field(detail, "value"), "owner"), "ana");
    // The other tab's status follows the shared outbox.
    for _ in 0..100 {
        if field(&other.status(), "pending") == 1.0 {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    assert_eq!(field(&other.status(), "pending"), 1.0);
    other.close();
    done(writer, &name).await;
}

fn trips(ids: std::ops::Range<usize>) -> JsValue {
    let records: Vec<String> = ids.map(|i| format!(r#"{{"id": "t{i:03}", "owner": "o{}"}}"#, i % 3)).collect();
    json(&format!("[{}]", records.join(",")))
}

#[wasm_bindgen_test]
async fn put_many_writes_every_record_in_one_call_with_one_event_each() {
    let name = unique("putmany");
    let (target, seen) = recorder(&["pwa-sync:change"]);
    let (other_target, other_seen) = recorder(&["pwa-sync:change"]);
    let cfg = config(&name);
    Reflect::set(&cfg, &"eventTarget".into(), &target).unwrap();
    let other_cfg = config(&name);
    Reflect::set(&other_cfg, &"eventTarget".into(), &other_target).unwrap();
    let client = SyncClient::open(cfg).await.unwrap();
    let other = SyncClient::open(other_cfg).await.unwrap();
    // Stored before: the batch must find it (one pending write, folded into) and not
    // treat it as new.
    ok(client.put(s("trips"), json(r#"{"id": "t005", "owner": "before", "extra": 1}"#))).await;
    seen.borrow_mut().clear();
    // The other tab has heard of that write before the batch (else both hints go in one
    // message, where t005 is one key).
    for _ in 0..200 {
        if !other_seen.borrow().is_empty() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    assert_eq!(other_seen.borrow().len(), 1);
    other_seen.borrow_mut().clear();
    assert_eq!(ok(client.put_many(s("trips"), trips(0..40))).await, 40.0);
    let list = Array::from(&ok(client.list(s("trips"), JsValue::UNDEFINED)).await);
    assert_eq!(list.length(), 40);
    assert_eq!(JSON::stringify(&ok(client.get(s("trips"), s("t005"))).await).unwrap(), r#"{"id":"t005","owner":"o2"}"#);
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 40.0);
    let keys: Vec<String> = seen.borrow().iter().map(|(_, d)| field(d, "key").as_string().unwrap()).collect();
    assert_eq!(keys, (0..40).map(|i| format!("t{i:03}")).collect::<Vec<_>>());
    // The other tab hears of all 40 (in one BroadcastChannel message).
    for _ in 0..200 {
        if other_seen.borrow().len() >= 40 {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    // A little longer, so a duplicate shows.
    gloo_timers::future::TimeoutFuture::new(100).await;
    let heard: Vec<String> = other_seen.borrow().iter().map(|(_, d)| field(d, "key").as_string().unwrap()).collect();
    assert_eq!(heard, (0..40).map(|i| format!("t{i:03}")).collect::<Vec<_>>());
    assert!(other_seen.borrow().iter().all(|(_, d)| field(d, "origin") == "tab"));
    other.close();
    done(client, &name).await;
}

#[wasm_bindgen_test]
async fn put_many_with_a_bad_record_writes_nothing() {
    let name = unique("putmany-bad");
    let client = open(&name).await;
    let batch = trips(0..20);
    batch.unchecked_ref::<Array>().push(&json(r#"{"owner": "no id"}"#));
    let err = JsFuture::from(client.put_many(s("trips"), batch)).await.expect_err("a bad record must reject");
    assert_eq!(error_code(&err), "invalid-value");
    let message = field(&err, "message").as_string().unwrap();
    assert!(message.contains("record 20"), "{message}");
    assert_eq!(Array::from(&ok(client.list(s("trips"), JsValue::UNDEFINED)).await).length(), 0);
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 0.0);
    // Not JSON at all (a cycle), and not a record (undefined): named by index too.
    let cyclic = json(r#"{"id": "c"}"#);
    Reflect::set(&cyclic, &"self".into(), &cyclic).unwrap();
    // (Records convert in chunks of 256: index 300 sits in the second chunk.)
    for (index, bad) in [(2, cyclic.clone()), (1, JsValue::UNDEFINED), (300, cyclic)] {
        let batch = trips(0..400);
        batch.unchecked_ref::<Array>().set(index, bad);
        let err = JsFuture::from(client.put_many(s("trips"), batch)).await.expect_err("a bad record must reject");
        assert_eq!(error_code(&err), "invalid-value");
        let message = field(&err, "message").as_string().unwrap();
        assert!(message.contains(&format!("record {index}")), "{message}");
    }
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 0.0);
    assert_eq!(code(client.put_many(s("trips"), json(r#"{"id": "t"}"#))).await, "invalid-value");
    assert_eq!(code(client.put_many(s("nope"), json("[]"))).await, "unknown-collection");
    assert_eq!(ok(client.put_many(s("trips"), json("[]"))).await, 0.0);
    done(client, &name).await;
}

/// Issue 16: a value is copied once, as the JSON the server will see, when the app calls
/// `put`; from then on it is the library's own.
#[wasm_bindgen_test]
async fn a_written_value_is_a_json_copy_the_app_cannot_change_afterwards() {
    for storage in ["indexeddb", "memory"] {
        let name = unique("copy");
        let (target, seen) = recorder(&["pwa-sync:change"]);
        let cfg = config(&name);
        Reflect::set(&cfg, &"eventTarget".into(), &target).unwrap();
        Reflect::set(&cfg, &"storage".into(), &storage.into()).unwrap();
        let client = SyncClient::open(cfg).await.unwrap();
        let value = super::support::js(
            "",
            "class Trip {
                constructor() {
                    this.id = 't1';
                    this.when = new Date(Date.UTC(2026, 0, 2));
                    this.skip = undefined;
                    this.legs = [[1, [2, null]], [], [undefined]];
                }
                get label() { return 'not an own field'; }
            }
            return new Trip();",
            &[],
        )
        .await;
        let written = client.put(s("trips"), value.clone());
        // Changed as soon as `put` returned, before the write ran, and after it resolved.
        super::support::js("v", "v.legs[0][0] = 99; v.extra = 1;", std::slice::from_ref(&value)).await;
        let resolved = ok(written).await;
        super::support::js("v, r", "v.id = 't2'; r.legs.push('r'); r.more = 2;", &[value.clone(), resolved.clone()])
            .await;
        let expected = r#"{"id":"t1","when":"2026-01-02T00:00:00.000Z","legs":[[1,[2,null]],[],[null]]}"#;
        let stored = ok(client.get(s("trips"), s("t1"))).await;
        assert_eq!(String::from(JSON::stringify(&stored).unwrap()), expected, "{storage}: what get reads");
        let detail_value = field(&seen.borrow()[0].1, "value");
        assert!(!js_sys::Object::is(&detail_value, &value), "{storage}: the event carries a copy");
        // What `get` hands out is the app's to change, too.
        super::support::js("g", "g.legs = [];", &[stored]).await;
        let again = ok(client.get(s("trips"), s("t1"))).await;
        assert_eq!(String::from(JSON::stringify(&again).unwrap()), expected, "{storage}: a read is a copy");
        let listed = ok(client.list(s("trips"), JsValue::UNDEFINED)).await;
        assert_eq!(Array::from(&listed).length(), 1, "{storage}: the key the app set later wrote nothing");
        done(client, &name).await;
    }
}

/// A memory client runs over an in-memory IndexedDB of its own: two of one name share
/// nothing, a third opened after them starts empty, and none makes a database in the
/// browser's IndexedDB.
#[wasm_bindgen_test]
async fn memory_clients_of_one_name_share_nothing_and_leave_indexeddb_alone() {
    let name = unique("memory");
    let memory = || {
        let cfg = config(&name);
        Reflect::set(&cfg, &"storage".into(), &"memory".into()).unwrap();
        cfg
    };
    let a = SyncClient::open(memory()).await.unwrap();
    let b = SyncClient::open(memory()).await.unwrap();
    ok(a.put(s("trips"), json(r#"{"id": "t1", "owner": "ann"}"#))).await;
    ok(b.put(s("trips"), json(r#"{"id": "t2", "owner": "bob"}"#))).await;
    let keys = |client: &SyncClient| {
        let listed = client.list(s("trips"), JsValue::UNDEFINED);
        async move {
            Array::from(&ok(listed).await).iter().map(|r| field(&r, "id").as_string().unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(keys(&a).await, ["t1"]);
    assert_eq!(keys(&b).await, ["t2"]);
    a.close();
    let c = SyncClient::open(memory()).await.unwrap();
    assert!(keys(&c).await.is_empty(), "a memory client opened later starts empty");
    let found = super::support::js(
        "name",
        "return indexedDB.databases().then((all) => all.some((d) => d.name === name));",
        &[s(&name)],
    )
    .await;
    assert_eq!(found, JsValue::FALSE, "a memory client made a database in IndexedDB");
    b.close();
    c.close();
}

/// `sys::name` hands back the JS string of the text it is given, past the names it keeps
/// too, and the same string again when asked twice.
#[wasm_bindgen_test]
fn names_made_once_are_the_texts_they_stand_for() {
    let texts: Vec<String> = (0..200).map(|i| format!("name-{i}")).chain(["", "é ✓ 名"].map(String::from)).collect();
    for _ in 0..2 {
        for text in &texts {
            assert_eq!(pwa_sync::sys::name(text).as_string().as_deref(), Some(text.as_str()));
        }
    }
}

/// `__call`, the one export behind the JS class's methods (`CLIENT_METHODS`, which
/// `scripts/package.mjs` turns into them): each number reaches the method of its name,
/// told apart by what it answers (but `sync`, `resync` and `spaces` alike refuse a
/// local-only client, and `conflicts` and `audit` both answer `[]` here: a swap within
/// either group would pass), and a number past the list is refused, as a glue of another
/// build would call it.
#[wasm_bindgen_test]
async fn each_method_number_reaches_its_method() {
    use pwa_sync_core::names::CLIENT_METHODS;
    let name = unique("methods");
    let client = open(&name).await;
    let mut reached = Vec::new();
    let mut call = |method: &'static str, a: JsValue, b: JsValue, c: JsValue| {
        reached.push(method);
        let number = CLIENT_METHODS.iter().position(|m| *m == method).unwrap() as u32;
        client.call(number, a, b, c).unwrap_or_else(|e| panic!("{method}: {e:?}"))
    };
    let u = || JsValue::UNDEFINED;
    let answer = |v: JsValue| async move { ok(v.unchecked_into()).await };
    let refusal = |v: JsValue| async move { code(v.unchecked_into()).await };
    let trip = |owner: &str| json(&format!(r#"{{"id": "t2", "owner": "{owner}"}}"#));
    let stop = Closure::<dyn Fn()>::new(|| ()).into_js_value();

    answer(call("put", s("trips"), json(r#"{"id": "t1", "owner": "ana"}"#), u())).await;
    assert_eq!(answer(call("putMany", s("trips"), Array::of1(&trip("ana")).into(), u())).await, 1.0);
    assert_eq!(field(&answer(call("patch", s("trips"), s("t2"), json(r#"{"owner": "bo"}"#))).await, "owner"), "bo");
    assert_eq!(field(&answer(call("get", s("trips"), s("t2"), u())).await, "owner"), "bo");
    assert_eq!(field(&answer(call("getFresh", s("trips"), s("t2"), u())).await, "owner"), "bo");
    assert_eq!(Array::from(&answer(call("list", s("trips"), u(), u())).await).length(), 2);
    let by_bo = || json(r#"{"where": {"owner": "bo"}}"#);
    let page = answer(call("query", s("trips"), by_bo(), u())).await;
    assert_eq!(Array::from(&field(&page, "records")).length(), 1);
    assert_eq!(answer(call("count", s("trips"), by_bo(), u())).await, 1.0);
    assert_eq!(field(&answer(call("explain", s("trips"), by_bo(), u())).await, "index"), "owner");
    let unwatch = call("watch", s("trips"), s("t2"), stop.clone());
    unwatch.unchecked_ref::<js_sys::Function>().call0(&JsValue::NULL).unwrap();
    let unlisten = call("on", s("pwa-sync:change"), stop.clone(), u());
    unlisten.unchecked_ref::<js_sys::Function>().call0(&JsValue::NULL).unwrap();
    assert_eq!(answer(call("delete", s("trips"), s("t1"), u())).await, JsValue::UNDEFINED);
    let pending = answer(call("pending", u(), u(), u())).await;
    assert!(pending.as_f64().is_some_and(|n| n >= 1.0), "{pending:?}");
    assert_eq!(field(&call("status", u(), u(), u()), "pending"), pending);
    assert_eq!(field(&answer(call("metrics", u(), u(), u())).await, "pending"), pending);
    assert!(field(&answer(call("health", u(), u(), u())).await, "reasons").is_array());
    assert!(answer(call("persist", u(), u(), u())).await.as_bool().is_some());
    assert_eq!(Array::from(&answer(call("conflicts", u(), u(), u())).await).length(), 0);
    assert_eq!(Array::from(&answer(call("audit", u(), u(), u())).await).length(), 0);
    assert_eq!(refusal(call("resolveConflict", JsValue::from(7), s("local"), u())).await, "unknown-conflict");
    let exported = answer(call("export", json(r#"{"format": "csv"}"#), u(), u())).await.as_string().unwrap();
    assert!(exported.contains("t2"), "{exported}");
    for method in ["sync", "resync", "spaces"] {
        assert_eq!(refusal(call(method, u(), u(), u())).await, "local-only", "{method}");
    }
    let last_chance = json(r#"{"lastChance": true}"#);
    assert_eq!(answer(call("flush", last_chance, u(), u())).await, JsValue::NULL);
    assert_eq!(answer(call("discardPending", u(), u(), u())).await, pending);
    assert_eq!(answer(call("clear", u(), u(), u())).await, JsValue::UNDEFINED);
    assert_eq!(Array::from(&answer(call("list", s("trips"), u(), u())).await).length(), 0);
    assert_eq!(call("clientId", u(), u(), u()), JsValue::from(client.client_id()));
    assert_eq!(call("name", u(), u(), u()), JsValue::from(name.as_str()));
    call("close", u(), u(), u());
    assert_eq!(code(client.get(s("trips"), s("t2"))).await, "closed");
    reached.sort_unstable();
    reached.dedup();
    let mut listed = CLIENT_METHODS.to_vec();
    listed.sort_unstable();
    assert_eq!(reached, listed, "every method is called above");
    let past = client.call(CLIENT_METHODS.len() as u32, u(), u(), u()).unwrap_err();
    assert_eq!(error_code(&past), "invalid-value");
    assert!(field(&past, "message").as_string().unwrap().contains("has no method"));
    IdbStore::delete_database(&name).await.unwrap();
}
