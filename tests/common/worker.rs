//! What the service-worker helper relies on, in every scope: `flush` for the `sync`
//! event, the last failure kept across reopening, and the event relay from workers.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Promise, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::events::in_worker;
use pwa_sync::idb::IdbStore;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::support::{field, unique};

/// A client whose server refuses connections (port 9 on loopback), so every sync fails
/// with a network error.
async fn unreachable_client(db: &str) -> SyncClient {
    let config = JSON::parse(&format!(
        r#"{{"name": "{db}", "endpoint": "http://127.0.0.1:9/sync", "token": "dev:x", "autoSync": false,
            "collections": {{"items": {{"key": "id"}}}}}}"#
    ))
    .unwrap();
    SyncClient::open(config).await.unwrap()
}

async fn settle(promise: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}

#[wasm_bindgen_test]
async fn flush_rejects_so_the_browser_retries_but_resolves_on_the_last_chance() {
    let db = unique("flush");
    let client = unreachable_client(&db).await;
    settle(client.put("items".into(), JSON::parse(r#"{"id": "a"}"#).unwrap())).await.unwrap();
    let err = settle(client.flush(JsValue::UNDEFINED)).await.expect_err("a failed flush rejects");
    assert_eq!(field(&err, "code"), "network");
    let last =
        settle(client.flush(JSON::parse(r#"{"lastChance": true}"#).unwrap())).await.expect("the last chance resolves");
    assert!(last.is_null());
    assert_eq!(settle(client.pending(JsValue::UNDEFINED)).await.unwrap(), 1.0, "the outbox is left as it was");
    assert_eq!(field(&field(&client.status(), "lastError"), "code"), "network");
    // Why it failed is kept: a page opened later still says so.
    client.close();
    let again = unreachable_client(&db).await;
    assert_eq!(field(&field(&again.status(), "lastError"), "code"), "network");
    again.close();
    IdbStore::delete_database(&db).await.unwrap();
}

#[wasm_bindgen_test]
async fn workers_relay_their_events_to_pages_and_pages_do_not() {
    let db = unique("relay");
    let relayed = Rc::new(RefCell::new(Vec::new()));
    let channel = web_sys::BroadcastChannel::new(&format!("pwa-sync:{db}:events")).unwrap();
    let listener = {
        let relayed = relayed.clone();
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            relayed.borrow_mut().push(field(&e.data(), "name").as_string().unwrap_or_default());
        })
    };
    channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
    let client = SyncClient::open(
        JSON::parse(&format!(r#"{{"name": "{db}", "collections": {{"items": {{"key": "id"}}}}}}"#)).unwrap(),
    )
    .await
    .unwrap();
    settle(client.put("items".into(), JSON::parse(r#"{"id": "a"}"#).unwrap())).await.unwrap();
    for _ in 0..30 {
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    let names = relayed.borrow().clone();
    if in_worker() {
        assert!(names.iter().any(|n| n == "pwa-sync:change"), "{names:?}");
        assert!(names.iter().any(|n| n == "pwa-sync:status"), "{names:?}");
    } else {
        assert!(names.is_empty(), "a page dispatches its own events and relays none: {names:?}");
    }
    channel.close();
    client.close();
    IdbStore::delete_database(&db).await.unwrap();
}
