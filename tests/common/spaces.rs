//! Shared spaces in the client: collections that name their space, and tokens renewed
//! before they expire. (The engine's space rules are tested on the host in
//! pwa-sync-core's `spaces_tests`.)

use js_sys::{Function, Promise, Reflect, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::idb::IdbStore;
use pwa_sync::transport::{expires_within, Auth};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::support::{ok, unique};

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap_or_else(|e| panic!("bad test JSON {text}: {e:?}"))
}

async fn code(promise: Promise) -> String {
    let error = JsFuture::from(promise).await.expect_err("expected a rejection");
    Reflect::get(&error, &"code".into()).unwrap().as_string().unwrap_or_default()
}

#[wasm_bindgen_test]
async fn a_space_field_names_each_records_space_and_is_required() {
    let name = unique("spaces");
    let client = SyncClient::open(json(&format!(
        r#"{{"name": "{name}", "collections": {{
            "lists": {{"key": "id", "spaceField": "groupId"}},
            "programme": {{"key": "id", "space": "conference"}}}}}}"#
    )))
    .await
    .unwrap();
    ok(client.put("lists".into(), json(r#"{"id": "l1", "groupId": "group:7"}"#))).await;
    ok(client.put("programme".into(), json(r#"{"id": "s1"}"#))).await;
    assert_eq!(code(client.put("lists".into(), json(r#"{"id": "l2"}"#))).await, "invalid-value");
    let moved = client.patch("lists".into(), "l1".into(), json(r#"{"groupId": "group:8"}"#));
    assert_eq!(code(moved).await, "invalid-value");
    // A local-only client has no server to ask about its spaces.
    assert_eq!(code(client.spaces()).await, "local-only");
    client.close();
    IdbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn bad_space_settings_fail_open_with_invalid_config() {
    let open = |spec: &str| SyncClient::open(json(&format!(r#"{{"name": "x", "collections": {{"t": {spec}}}}}"#)));
    for spec in [r#"{"key": "id", "space": "no spaces"}"#, r#"{"key": "id", "space": "s", "spaceField": "g"}"#] {
        let error = open(spec).await.err().unwrap_or_else(|| panic!("{spec} was accepted"));
        assert_eq!(Reflect::get(&error, &"code".into()).unwrap(), "invalid-config", "{spec}");
    }
}

#[wasm_bindgen_test]
async fn a_jwt_about_to_expire_is_renewed_before_it_is_sent() {
    // The first token expires in 30 s (inside the 60 s margin), the next in an hour.
    let tokens = Function::new_no_args(
        "const n = (globalThis.__jwtCalls = (globalThis.__jwtCalls ?? 0) + 1);
         const exp = Math.floor(Date.now() / 1000) + (n === 1 ? 30 : 3600);
         const claims = btoa(JSON.stringify({ sub: 'ana', exp })).replace(/=+$/, '').replace(/\\+/g, '-').replace(/\\//g, '_');
         return 'eyJhbGciOiJIUzI1NiJ9.' + claims + '.sig';",
    );
    let calls = || Reflect::get(&js_sys::global(), &"__jwtCalls".into()).unwrap().as_f64().unwrap_or(0.0);
    let before = calls();
    let auth = Auth::new(Some(tokens.into()));
    let first = auth.token(false).await.unwrap().unwrap();
    let second = auth.token(false).await.unwrap().unwrap();
    assert_ne!(first, second, "the token near expiry was renewed");
    let third = auth.token(false).await.unwrap().unwrap();
    assert_eq!(second, third, "a token far from expiry is reused");
    assert_eq!(calls() - before, 2.0);
    // Opaque tokens and JWTs without `exp` are never considered expiring.
    assert!(!expires_within("dev:ana", 60_000, 0));
    assert!(!expires_within("a.eyJzdWIiOiJhbmEifQ.s", 60_000, 0));
    assert!(expires_within("a.eyJleHAiOjEwfQ.s", 60_000, 0), "exp 10 s after the epoch, at time 0");
}
