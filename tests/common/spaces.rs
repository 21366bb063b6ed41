//! Shared spaces in the client: collections that name their space, and tokens renewed
//! before they expire. (The engine's space rules are tested on the host in
//! pwa-sync-core's `spaces_tests`.)

use js_sys::{Function, Promise, Reflect, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::idb::IdbStore;
use pwa_sync::transport::{expires_within, Auth};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::support::{ok, server, unique};

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
    assert!(!expires_within("a.eyJleHAiOjEwfQ.s", 5_000, 0), "10 s before exp, with a margin of 5 s");
    // Claims with text beyond ASCII (`{"name": "Zoë ✓", "exp": 10}`), and base64url's own
    // characters; a payload that is not base64 never expires.
    assert!(expires_within("a.eyJuYW1lIjogIlpvw6sg4pyTIiwgImV4cCI6IDEwfQ.s", 60_000, 0));
    assert!(!expires_within("a.e.s", 60_000, 0));
}

/// A call to the test server's admin API (`--admin-token test-admin-token` in
/// scripts/with-server.sh); resolves to the HTTP status.
async fn admin(method: &str, path: &str, body: Option<&str>) -> u16 {
    let init = JSON::parse(&format!(
        r#"{{"method": "{method}", "headers": {{"Authorization": "Bearer test-admin-token", "Content-Type": "application/json"}}}}"#
    ))
    .unwrap();
    if let Some(body) = body {
        Reflect::set(&init, &"body".into(), &body.into()).unwrap();
    }
    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into()).unwrap().unchecked_into();
    let url = JsValue::from_str(&format!("{}/sync/admin{path}", server()));
    let promise: Promise = fetch.call2(&js_sys::global(), &url, &init).unwrap().unchecked_into();
    let response = JsFuture::from(promise).await.unwrap();
    Reflect::get(&response, &"status".into()).unwrap().as_f64().unwrap() as u16
}

fn shared_config(db: &str, user: &str) -> JsValue {
    json(&format!(
        r#"{{"name": "{db}", "endpoint": "{}/sync", "autoSync": false, "token": "dev:{user}",
            "collections": {{"lists": {{"key": "id", "spaceField": "groupId"}}}}}}"#,
        server()
    ))
}

async fn list_keys(client: &SyncClient) -> Vec<String> {
    let records = ok(client.list("lists".into(), JsValue::UNDEFINED)).await;
    js_sys::Array::from(&records).iter().map(|r| Reflect::get(&r, &"id".into()).unwrap().as_string().unwrap()).collect()
}

#[wasm_bindgen_test]
async fn members_share_a_space_readers_cannot_write_and_a_removed_member_loses_it() {
    let (ana, bob) = (unique("ana"), unique("bob"));
    let space = unique("group:g");
    let (db_a, db_b) = (unique("sp-a"), unique("sp-b"));
    let a = SyncClient::open(shared_config(&db_a, &ana)).await.unwrap();
    let (target, seen) = super::support::recorder(&["pwa-sync:spaces"]);
    let b_config = shared_config(&db_b, &bob);
    Reflect::set(&b_config, &"eventTarget".into(), &target).unwrap();
    let b = SyncClient::open(b_config).await.unwrap();
    let item = |id: &str| json(&format!(r#"{{"id": "{id}", "groupId": "{space}", "title": "tent"}}"#));

    // Not a member yet: the server refuses, and the write is rolled back.
    ok(a.put("lists".into(), item("l0"))).await;
    ok(a.sync()).await;
    assert_eq!(list_keys(&a).await, Vec::<String>::new());
    assert_eq!(ok(a.pending(JsValue::UNDEFINED)).await, 0.0);

    // Ana writes, Bob reads.
    let members = format!("/spaces/{space}/members");
    assert_eq!(admin("PUT", &format!("{members}/{ana}"), Some(r#"{"role": "writer"}"#)).await, 200);
    assert_eq!(admin("PUT", &format!("{members}/{bob}"), Some(r#"{"role": "reader"}"#)).await, 200);
    ok(a.put("lists".into(), item("l1"))).await;
    ok(a.sync()).await;
    ok(b.sync()).await;
    assert_eq!(list_keys(&b).await, ["l1"]);
    // The pull brought a space Bob's client did not know: it asked the server, and
    // announced the join before the app asked for spaces itself.
    let joined =
        seen.borrow().last().map(|(_, d)| JSON::stringify(&Reflect::get(d, &"spaces".into()).unwrap()).unwrap());
    assert!(
        joined.is_some_and(|j| String::from(j).contains(&format!(r#""id":"{space}","role":"reader""#))),
        "pwa-sync:spaces on joining"
    );

    // Bob learns his role: his write into the space is refused at once.
    let spaces = ok(b.spaces()).await;
    let roles: Vec<(String, String)> = js_sys::Array::from(&spaces)
        .iter()
        .map(|s| {
            let field = |n: &str| Reflect::get(&s, &n.into()).unwrap().as_string().unwrap();
            (field("id"), field("role"))
        })
        .collect();
    assert!(roles.contains(&(space.clone(), "reader".to_owned())), "{roles:?}");
    assert!(roles.contains(&(format!("user:{bob}"), "owner".to_owned())), "{roles:?}");
    assert_eq!(code(b.put("lists".into(), item("l2"))).await, "forbidden");

    // Removed: the next pull says so, and Bob's copy of the space is gone.
    assert_eq!(admin("DELETE", &format!("{members}/{bob}"), None).await, 200);
    ok(b.sync()).await;
    assert_eq!(list_keys(&b).await, Vec::<String>::new());
    assert_eq!(list_keys(&a).await, ["l1"], "Ana keeps hers");
    let announced =
        seen.borrow().last().map(|(_, d)| JSON::stringify(&Reflect::get(d, &"revoked".into()).unwrap()).unwrap());
    assert_eq!(announced.map(String::from), Some(format!(r#"["{space}"]"#)), "pwa-sync:spaces names the revoked space");
    // Once known read-only or gone, the space no longer counts as Bob's.
    let spaces = JSON::stringify(&Reflect::get(&seen.borrow().last().unwrap().1, &"spaces".into()).unwrap()).unwrap();
    assert!(!String::from(spaces).contains(&space));

    for (client, db) in [(a, db_a), (b, db_b)] {
        client.close();
        IdbStore::delete_database(&db).await.unwrap();
    }
}

/// The role `space` has in the newest `pwa-sync:spaces` event, if any.
fn announced_role(seen: &super::support::Seen, space: &str) -> Option<String> {
    let seen = seen.borrow();
    let spaces = Reflect::get(&seen.last()?.1, &"spaces".into()).ok()?;
    js_sys::Array::from(&spaces).iter().find_map(|s| {
        let id = Reflect::get(&s, &"id".into()).ok()?.as_string()?;
        (id == space).then(|| Reflect::get(&s, &"role".into()).ok()?.as_string()).flatten()
    })
}

#[wasm_bindgen_test]
async fn a_role_change_reaches_a_realtime_client_that_follows_its_spaces() {
    let (bob, space, db) = (unique("bob"), unique("group:r"), unique("sp-r"));
    let member = format!("/spaces/{space}/members/{bob}");
    assert_eq!(admin("PUT", &member, Some(r#"{"role": "reader"}"#)).await, 200);
    let config = json(&format!(
        r#"{{"name": "{db}", "endpoint": "{}/sync", "token": "dev:{bob}", "realtime": true,
            "collections": {{"lists": {{"key": "id", "spaceField": "groupId"}}}}}}"#,
        server()
    ));
    let (target, seen) = super::support::recorder(&["pwa-sync:spaces"]);
    Reflect::set(&config, &"eventTarget".into(), &target).unwrap();
    let b = SyncClient::open(config).await.unwrap();
    // The app follows its spaces (asks once, then listens).
    ok(b.spaces()).await;
    assert_eq!(announced_role(&seen, &space).as_deref(), Some("reader"));
    let item = json(&format!(r#"{{"id": "r1", "groupId": "{space}", "title": "tent"}}"#));
    assert_eq!(code(b.put("lists".into(), item.clone())).await, "forbidden");

    // The event stream is open by now; the server pokes Bob when his role changes, the
    // sync that follows pulls nothing, and the client asks for its spaces again.
    gloo_timers::future::TimeoutFuture::new(1500).await;
    assert_eq!(admin("PUT", &member, Some(r#"{"role": "writer"}"#)).await, 200);
    for _ in 0..150 {
        if announced_role(&seen, &space).as_deref() == Some("writer") {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(100).await;
    }
    assert_eq!(announced_role(&seen, &space).as_deref(), Some("writer"), "pwa-sync:spaces on a role change");
    ok(b.put("lists".into(), item)).await;

    b.close();
    IdbStore::delete_database(&db).await.unwrap();
}
