//! `health()` in the browser, at and around each of its thresholds: more than 100
//! pending writes, an oldest pending write over an hour old, more than 10 % of recent
//! syncs failed.

use js_sys::{Reflect, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::idb::IdbStore;
use wasm_bindgen::prelude::*;

use super::support::{faults, ok, proxy, unique, ClockAhead};

fn open_config(name: &str, endpoint: Option<&str>) -> JsValue {
    let endpoint = endpoint.map(|e| format!(r#""endpoint": "{e}/sync", "token": "dev:{name}", "#)).unwrap_or_default();
    JSON::parse(&format!(
        r#"{{"name": "{name}", {endpoint}"autoSync": false, "collections": {{"trips": {{"key": "id"}}}}}}"#
    ))
    .unwrap()
}

async fn health(client: &SyncClient) -> (String, Vec<String>) {
    let h = ok(client.health()).await;
    let status = Reflect::get(&h, &"status".into()).unwrap().as_string().unwrap();
    let reasons = js_sys::Array::from(&Reflect::get(&h, &"reasons".into()).unwrap());
    (status, reasons.iter().filter_map(|r| r.as_string()).collect())
}

fn trips(from: usize, count: usize) -> JsValue {
    let items: Vec<String> = (from..from + count).map(|i| format!(r#"{{"id": "t{i}"}}"#)).collect();
    JSON::parse(&format!("[{}]", items.join(","))).unwrap()
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn health_allows_100_pending_writes_and_flags_the_101st() {
    let name = unique("health-pending");
    let client = SyncClient::open(open_config(&name, None)).await.unwrap();
    ok(client.put_many("trips".into(), trips(0, 100))).await;
    assert_eq!(health(&client).await, ("healthy".to_owned(), vec![]));
    ok(client.put("trips".into(), JSON::parse(r#"{"id": "t100"}"#).unwrap())).await;
    let (status, reasons) = health(&client).await;
    assert_eq!(status, "degraded");
    assert_eq!(reasons, ["101 writes pending (limit 100)"]);
    client.close();
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn health_flags_a_pending_write_older_than_an_hour() {
    let name = unique("health-age");
    let client = SyncClient::open(open_config(&name, None)).await.unwrap();
    ok(client.put("trips".into(), JSON::parse(r#"{"id": "t1"}"#).unwrap())).await;
    {
        let _clock = ClockAhead::by(3_600_000.0 - 5_000.0);
        assert_eq!(health(&client).await.0, "healthy", "just under an hour");
    }
    {
        let _clock = ClockAhead::by(3_600_000.0 + 5_000.0);
        let (status, reasons) = health(&client).await;
        assert_eq!(status, "degraded");
        assert!(reasons[0].starts_with("oldest pending write is 360"), "{reasons:?}");
    }
    client.close();
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn health_tolerates_one_failed_sync_in_ten_and_flags_two_in_eleven() {
    let name = unique("health-rate");
    let client = SyncClient::open(open_config(&name, Some(proxy()))).await.unwrap();
    faults(r#"[{"path": "/sync/pull", "fault": {"kind": "status", "status": 500}}]"#).await;
    assert!(wasm_bindgen_futures::JsFuture::from(client.sync()).await.is_err());
    for _ in 0..9 {
        ok(client.sync()).await;
    }
    assert_eq!(health(&client).await, ("healthy".to_owned(), vec![]), "10 % is the limit, not over it");
    faults(r#"[{"path": "/sync/pull", "fault": {"kind": "status", "status": 500}}]"#).await;
    assert!(wasm_bindgen_futures::JsFuture::from(client.sync()).await.is_err());
    let (status, reasons) = health(&client).await;
    assert_eq!(status, "degraded");
    assert_eq!(reasons, ["18 % of recent syncs failed (limit 10 %)"]);
    client.close();
    IdbStore::delete_database(&name).await.unwrap();
}
