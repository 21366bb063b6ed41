//! Sync against the real reference server (and the fault proxy in front of it), both
//! started by `scripts/with-server.sh`, which passes their URLs at build time.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Promise, Reflect, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::idb::IdbStore;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::support::{faults, field, js, ok, proxy, server, step, unique, ClockAhead};

fn config(name: &str, endpoint: &str, token: JsValue) -> JsValue {
    let config = JSON::parse(&format!(
        r#"{{"name": "{name}", "endpoint": "{endpoint}/sync", "autoSync": false,
            "collections": {{"trips": {{"key": "id", "conflict": "serverWins"}}}}}}"#
    ))
    .unwrap();
    Reflect::set(&config, &"token".into(), &token).unwrap();
    config
}

struct Device {
    client: SyncClient,
    db: String,
}

impl Device {
    async fn open(endpoint: &str, token: JsValue) -> Device {
        let db = unique("sync");
        let client = SyncClient::open(config(&db, endpoint, token)).await.unwrap_or_else(|e| panic!("open: {e:?}"));
        Device { client, db }
    }

    async fn for_user(user: &str) -> Device {
        Device::open(server(), JsValue::from_str(&format!("dev:{user}"))).await
    }

    async fn put(&self, id: &str, fields: &str) {
        let value = JSON::parse(&format!(r#"{{"id": "{id}", {fields}}}"#)).unwrap();
        ok(self.client.put("trips".into(), value)).await;
    }

    async fn get(&self, id: &str) -> JsValue {
        ok(self.client.get("trips".into(), id.into())).await
    }

    async fn sync(&self) -> JsValue {
        ok(self.client.sync()).await
    }

    async fn pending(&self) -> f64 {
        ok(self.client.pending(JsValue::UNDEFINED)).await.as_f64().unwrap()
    }

    /// The list as JSON with each object's fields in sorted order: devices converge on
    /// the same documents, while the order of fields is the writer's (each device keeps
    /// its own writes as the app made them, and those from the server as it sends them).
    async fn list(&self) -> String {
        let text: String =
            JSON::stringify(&ok(self.client.list("trips".into(), JsValue::UNDEFINED)).await).unwrap().into();
        serde_json::from_str::<serde_json::Value>(&text).unwrap().to_string()
    }

    async fn done(self) {
        self.client.close();
        IdbStore::delete_database(&self.db).await.unwrap();
    }
}

async fn code(promise: Promise) -> String {
    match JsFuture::from(promise).await {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(e) => Reflect::get(&e, &"code".into()).unwrap().as_string().unwrap_or_default(),
    }
}

#[wasm_bindgen_test]
async fn offline_writes_reach_the_server_and_another_device() {
    let user = unique("u");
    let phone = Device::for_user(&user).await;
    phone.put("t1", r#""title": "Lisbon""#).await;
    phone.put("t2", r#""title": "Porto""#).await;
    ok(phone.client.patch("trips".into(), "t1".into(), JSON::parse(r#"{"days": 4}"#).unwrap())).await;
    assert_eq!(phone.pending().await, 2.0);
    let result = phone.sync().await;
    assert_eq!(field(&result, "pushed"), 2.0);
    assert_eq!(phone.pending().await, 0.0);
    assert_eq!(field(&phone.client.status(), "state"), "synced");
    assert!(field(&phone.client.status(), "lastSyncedAt").as_f64().is_some());

    let laptop = Device::for_user(&user).await;
    let result = laptop.sync().await;
    assert_eq!(field(&result, "pulled"), 2.0);
    assert_eq!(laptop.list().await, phone.list().await);
    assert_eq!(field(&laptop.get("t1").await, "days"), 4.0);

    // Another user sees none of it.
    let stranger = Device::for_user(&unique("other")).await;
    stranger.sync().await;
    assert_eq!(stranger.list().await, "[]");
    for d in [phone, laptop, stranger] {
        d.done().await;
    }
}

#[wasm_bindgen_test]
async fn two_clients_converge() {
    let user = unique("u");
    let (a, b) = (Device::for_user(&user).await, Device::for_user(&user).await);
    a.put("a1", r#""by": "a""#).await;
    b.put("b1", r#""by": "b""#).await;
    a.sync().await;
    b.sync().await;
    a.sync().await;
    assert_eq!(a.list().await, b.list().await);
    ok(b.client.delete("trips".into(), "a1".into())).await;
    ok(a.client.patch("trips".into(), "b1".into(), JSON::parse(r#"{"seen": true}"#).unwrap())).await;
    b.sync().await;
    a.sync().await;
    b.sync().await;
    assert_eq!(a.list().await, b.list().await);
    assert_eq!(a.list().await, r#"[{"by":"b","id":"b1","seen":true}]"#);
    a.done().await;
    b.done().await;
}

#[wasm_bindgen_test]
async fn a_lost_response_is_resent_and_applied_once() {
    let user = unique("u");
    let token = JsValue::from_str(&format!("dev:{user}"));
    let a = Device::open(proxy(), token).await;
    a.put("t1", r#""n": 1"#).await;
    faults(r#"[{"path": "/sync/push", "fault": {"kind": "drop_response"}}]"#).await;
    assert_eq!(code(a.client.sync()).await, "network");
    assert_eq!(a.pending().await, 1.0, "the write stays queued until an answer arrives");
    assert_eq!(field(&a.client.status(), "state"), "offline");

    // The server did apply it: another device sees it at some version.
    let b = Device::for_user(&user).await;
    b.sync().await;
    assert_eq!(field(&b.get("t1").await, "n"), 1.0);

    // The resend is answered as before and not applied again: the server's version of
    // the key stays the one the other device saw.
    a.sync().await;
    assert_eq!(a.pending().await, 0.0);
    let before = b.sync().await;
    assert_eq!(field(&before, "pulled"), 0.0, "a second application would be a new change to pull");
    a.done().await;
    b.done().await;
}

#[wasm_bindgen_test]
async fn a_server_error_then_success() {
    let user = unique("u");
    let a = Device::open(proxy(), JsValue::from_str(&format!("dev:{user}"))).await;
    a.put("t1", r#""n": 1"#).await;
    faults(r#"[{"path": "/sync/push", "fault": {"kind": "status", "status": 500, "body": "<html>oops</html>", "contentType": "text/html"}}]"#).await;
    assert_eq!(code(a.client.sync()).await, "server");
    let status = a.client.status();
    assert_eq!(field(&status, "state"), "error");
    assert_eq!(field(&field(&status, "lastError"), "code"), "server");
    assert_eq!(a.pending().await, 1.0);
    a.sync().await;
    assert_eq!(a.pending().await, 0.0);
    assert!(field(&a.client.status(), "lastError").is_null());
    let metrics = ok(a.client.metrics()).await;
    assert_eq!(field(&metrics, "failures"), 1.0);
    assert_eq!(field(&metrics, "syncs"), 2.0);
    a.done().await;
}

#[wasm_bindgen_test]
async fn rate_limits_are_classified() {
    let a = Device::open(proxy(), JsValue::from_str(&format!("dev:{}", unique("u")))).await;
    a.put("t1", r#""n": 1"#).await;
    faults(r#"[{"path": "/sync/push", "fault": {"kind": "rate_limit", "retryAfterSeconds": 7}}]"#).await;
    assert_eq!(code(a.client.sync()).await, "rate-limited");
    a.sync().await;
    assert_eq!(a.pending().await, 0.0);
    a.done().await;
}

#[wasm_bindgen_test]
async fn a_401_then_a_refreshed_token() {
    let user = unique("u");
    let calls = Rc::new(Cell::new(0));
    let token = {
        let calls = calls.clone();
        let user = user.clone();
        Closure::<dyn FnMut() -> JsValue>::new(move || {
            calls.set(calls.get() + 1);
            // The first token is refused; the refreshed one is good.
            if calls.get() == 1 {
                "expired".into()
            } else {
                format!("dev:{user}").into()
            }
        })
        .into_js_value()
    };
    let a = Device::open(server(), token).await;
    a.put("t1", r#""n": 1"#).await;
    let result = a.sync().await;
    assert_eq!(field(&result, "pushed"), 1.0);
    assert_eq!(calls.get(), 2);
    a.done().await;
}

/// Counts the `pwa-sync:auth-required` events on the global scope while it lives.
struct AuthRequired {
    fired: Rc<Cell<u32>>,
    listener: Closure<dyn FnMut(web_sys::Event)>,
}

impl AuthRequired {
    fn listen() -> AuthRequired {
        let fired = Rc::new(Cell::new(0));
        let listener = {
            let fired = fired.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| fired.set(fired.get() + 1))
        };
        let target: web_sys::EventTarget = js_sys::global().unchecked_into();
        target.add_event_listener_with_callback("pwa-sync:auth-required", listener.as_ref().unchecked_ref()).unwrap();
        AuthRequired { fired, listener }
    }

    fn count(&self) -> u32 {
        self.fired.get()
    }
}

impl Drop for AuthRequired {
    fn drop(&mut self) {
        let target: web_sys::EventTarget = js_sys::global().unchecked_into();
        let _ = target
            .remove_event_listener_with_callback("pwa-sync:auth-required", self.listener.as_ref().unchecked_ref());
    }
}

#[wasm_bindgen_test]
async fn a_token_function_that_throws_rejects_or_gives_no_string_fails_the_sync_with_auth() {
    for (body, says) in [
        ("throw new Error('no session')", "the token function threw: Error: no session"),
        ("return Promise.reject(new TypeError('offline'))", "the token function rejected: TypeError: offline"),
        ("return 5", "the token function must return a string"),
    ] {
        let a = Device::open(server(), js_sys::Function::new_no_args(body).into()).await;
        let fired = AuthRequired::listen();
        a.put("t1", r#""n": 1"#).await;
        let error = JsFuture::from(a.client.sync()).await.expect_err(body);
        // The server refused nothing: the app is not asked to sign the user in again.
        assert_eq!(fired.count(), 0, "{body}: no pwa-sync:auth-required");
        assert_eq!(Reflect::get(&error, &"code".into()).unwrap(), "auth", "{body}");
        let message = Reflect::get(&error, &"message".into()).unwrap().as_string().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
        assert_eq!(a.pending().await, 1.0, "{body}: the write stays queued");
        a.done().await;
    }
}

#[wasm_bindgen_test]
async fn auth_required_when_the_server_refused_the_token_and_the_refresh_failed() {
    // The first token is refused (401); the function asked for a fresh one then throws
    // (its refresh token expired): the user must sign in again.
    js_sys::Reflect::set(&js_sys::global(), &"__pwaSyncTokenCalls".into(), &0.into()).unwrap();
    let token = js_sys::Function::new_no_args(
        "globalThis.__pwaSyncTokenCalls += 1;
         if (globalThis.__pwaSyncTokenCalls === 1) return 'not-a-token';
         throw new Error('the refresh token expired');",
    );
    a_sync_with_this_token_asks_to_sign_in_once(token.into()).await;
}

#[wasm_bindgen_test]
async fn auth_required_when_the_token_stays_bad() {
    a_sync_with_this_token_asks_to_sign_in_once(JsValue::from_str("not-a-token")).await;
}

/// A sync with `token` fails with `auth`, fires `pwa-sync:auth-required` once, and keeps
/// the write queued.
async fn a_sync_with_this_token_asks_to_sign_in_once(token: JsValue) {
    let a = Device::open(server(), token).await;
    let fired = AuthRequired::listen();
    a.put("t1", r#""n": 1"#).await;
    assert_eq!(code(a.client.sync()).await, "auth");
    assert_eq!(fired.count(), 1);
    assert_eq!(a.pending().await, 1.0);
    a.done().await;
}

#[wasm_bindgen_test]
async fn local_only_clients_refuse_to_sync() {
    let db = unique("local");
    let client = SyncClient::open(
        JSON::parse(&format!(r#"{{"name": "{db}", "collections": {{"t": {{"key": "id"}}}}}}"#)).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(code(client.sync()).await, "local-only");
    client.close();
    IdbStore::delete_database(&db).await.unwrap();
}

#[wasm_bindgen_test]
async fn get_fresh_answers_at_once_and_refreshes_stale_data_in_the_background() {
    let user = unique("u");
    let token = JsValue::from_str(&format!("dev:{user}"));
    let cfg = |db: &str| {
        let c = JSON::parse(&format!(
            r#"{{"name": "{db}", "endpoint": "{}/sync", "autoSync": false, "collections": {{
                "attendees": {{"key": "id", "ttlMs": 0, "event": {{"name": "attendee-data-updated", "valueField": "attendee"}}}}}}}}"#,
            server()
        ))
        .unwrap();
        Reflect::set(&c, &"token".into(), &token).unwrap();
        c
    };
    let (db_a, db_b) = (unique("fresh-a"), unique("fresh-b"));
    let organiser = SyncClient::open(cfg(&db_a)).await.unwrap();
    let attendee = SyncClient::open(cfg(&db_b)).await.unwrap();
    ok(organiser.put("attendees".into(), JSON::parse(r#"{"id": "a1", "dining": "vegan"}"#).unwrap())).await;
    ok(organiser.sync()).await;
    ok(attendee.sync()).await;
    ok(organiser.patch("attendees".into(), "a1".into(), JSON::parse(r#"{"dining": "kosher"}"#).unwrap())).await;
    ok(organiser.sync()).await;

    let updates = Rc::new(std::cell::RefCell::new(Vec::new()));
    let listener = {
        let updates = updates.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let detail = e.unchecked_into::<web_sys::CustomEvent>().detail();
            updates.borrow_mut().push((field(&field(&detail, "attendee"), "dining"), field(&detail, "syncVersion")));
        })
    };
    let target: web_sys::EventTarget = js_sys::global().unchecked_into();
    target.add_event_listener_with_callback("attendee-data-updated", listener.as_ref().unchecked_ref()).unwrap();
    // The cached value comes back at once...
    let cached = ok(attendee.get_fresh("attendees".into(), "a1".into(), JsValue::UNDEFINED)).await;
    assert_eq!(field(&cached, "dining"), "vegan");
    // ...and the background refresh announces the new one.
    for _ in 0..300 {
        if !updates.borrow().is_empty() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    target.remove_event_listener_with_callback("attendee-data-updated", listener.as_ref().unchecked_ref()).unwrap();
    let updates = updates.borrow().clone();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].0, "kosher");
    // The event carries the server version of the change: the organiser's second write.
    let version = field(
        &ok(organiser.get_fresh("attendees".into(), "a1".into(), JSON::parse(r#"{"details": true}"#).unwrap())).await,
        "version",
    );
    assert_eq!(updates[0].1, version);
    assert!(version.as_f64().unwrap() >= 2.0);
    assert_eq!(field(&ok(attendee.get("attendees".into(), "a1".into())).await, "dining"), "kosher");
    for (client, db) in [(organiser, db_a), (attendee, db_b)] {
        client.close();
        IdbStore::delete_database(&db).await.unwrap();
    }
}

fn conflict_config(db: &str, user: &str, conflict: JsValue) -> JsValue {
    let c = JSON::parse(&format!(
        r#"{{"name": "{db}", "endpoint": "{}/sync", "autoSync": false, "token": "dev:{user}",
            "collections": {{"profiles": {{"key": "id"}}}}}}"#,
        server()
    ))
    .unwrap();
    let profiles = Reflect::get(&Reflect::get(&c, &"collections".into()).unwrap(), &"profiles".into()).unwrap();
    Reflect::set(&profiles, &"conflict".into(), &conflict).unwrap();
    c
}

/// Two devices of one user edit the same profile; the second to sync has the conflict.
async fn conflicting_edits(user: &str, conflict: JsValue) -> (SyncClient, SyncClient, String, String) {
    let (db_a, db_b) = (unique("conf-a"), unique("conf-b"));
    let a = SyncClient::open(conflict_config(&db_a, user, conflict.clone())).await.unwrap();
    let b = SyncClient::open(conflict_config(&db_b, user, conflict)).await.unwrap();
    ok(a.put("profiles".into(), JSON::parse(r#"{"id": "p1", "name": "A", "n": 1}"#).unwrap())).await;
    ok(a.sync()).await;
    ok(b.sync()).await;
    ok(a.patch("profiles".into(), "p1".into(), JSON::parse(r#"{"name": "Ana", "n": 2}"#).unwrap())).await;
    ok(b.patch("profiles".into(), "p1".into(), JSON::parse(r#"{"name": "Anna", "n": 3}"#).unwrap())).await;
    ok(a.sync()).await;
    (a, b, db_a, db_b)
}

#[wasm_bindgen_test]
async fn manual_conflicts_survive_a_reload_and_the_choice_sticks() {
    let user = unique("u");
    let (a, b, db_a, db_b) = step("conflicting edits", conflicting_edits(&user, "manual".into())).await;
    let result = step("b's sync", ok(b.sync())).await;
    assert_eq!(field(&result, "conflicts"), 1.0);
    // The server's value shows while the person decides.
    assert_eq!(field(&step("b's get", ok(b.get("profiles".into(), "p1".into()))).await, "name"), "Ana");
    // Closed and reopened (a reload): the conflict is still there.
    b.close();
    let b = step("b reopened", SyncClient::open(conflict_config(&db_b, &user, "manual".into()))).await.unwrap();
    let open = js_sys::Array::from(&step("conflicts after reopening", ok(b.conflicts())).await);
    assert_eq!(open.length(), 1);
    let conflict = open.get(0);
    assert_eq!(field(&field(&conflict, "local"), "name"), "Anna");
    assert_eq!(field(&field(&conflict, "server"), "name"), "Ana");
    assert_eq!(field(&field(&conflict, "base"), "name"), "A");
    assert!(field(&conflict, "detectedAt").as_f64().unwrap() > 0.0);
    let unknown = step("an unknown conflict", code(b.resolve_conflict(JsValue::from(987654), "local".into()))).await;
    assert_eq!(unknown, "unknown-conflict");
    let invalid = step("an invalid choice", code(b.resolve_conflict(field(&conflict, "id"), "mine".into()))).await;
    assert_eq!(invalid, "invalid-value");
    // A merged value of the person's own.
    let merged = JSON::parse(r#"{"id": "p1", "name": "Anna", "n": 2}"#).unwrap();
    step("resolved", ok(b.resolve_conflict(field(&conflict, "id"), merged))).await;
    assert_eq!(js_sys::Array::from(&step("conflicts after resolving", ok(b.conflicts())).await).length(), 0);
    assert_eq!(
        field(&step("b's get after resolving", ok(b.get("profiles".into(), "p1".into()))).await, "name"),
        "Anna"
    );
    step("b's sync after resolving", ok(b.sync())).await;
    step("a's sync", ok(a.sync())).await;
    let seen = step("a's get", ok(a.get("profiles".into(), "p1".into()))).await;
    assert_eq!((field(&seen, "name"), field(&seen, "n")), ("Anna".into(), 2.0.into()));
    let gone = step("resolved again", code(b.resolve_conflict(field(&conflict, "id"), "server".into()))).await;
    assert_eq!(gone, "unknown-conflict");
    let audit = js_sys::Array::from(&step("b's audit", ok(b.audit(JsValue::UNDEFINED))).await);
    assert_eq!(field(&audit.get(0), "decidedBy"), "app");
    for (client, db) in [(a, db_a), (b, db_b)] {
        client.close();
        step("database deleted", IdbStore::delete_database(&db)).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn app_resolvers_decide_and_a_throwing_one_falls_back_to_manual() {
    let user = unique("u");
    // Keep the larger n and the local name.
    let resolver = js_sys::Function::new_with_args(
        "local, server, base",
        "return { ...server, name: local.name, n: Math.max(local.n, server.n) };",
    );
    let (a, b, db_a, db_b) = conflicting_edits(&user, resolver.into()).await;
    ok(b.sync()).await;
    ok(a.sync()).await;
    let seen = ok(a.get("profiles".into(), "p1".into())).await;
    assert_eq!((field(&seen, "name"), field(&seen, "n")), ("Anna".into(), 3.0.into()));
    for (client, db) in [(a, db_a), (b, db_b)] {
        client.close();
        IdbStore::delete_database(&db).await.unwrap();
    }

    let throwing = js_sys::Function::new_with_args("local, server", "throw new Error('cannot decide');");
    let (a, b, db_a, db_b) = conflicting_edits(&unique("u"), throwing.into()).await;
    assert_eq!(field(&ok(b.sync()).await, "conflicts"), 1.0);
    let open = js_sys::Array::from(&ok(b.conflicts()).await);
    assert_eq!(open.length(), 1, "nothing lost: the local value waits for the app");
    assert_eq!(field(&field(&open.get(0), "local"), "name"), "Anna");
    for (client, db) in [(a, db_a), (b, db_b)] {
        client.close();
        IdbStore::delete_database(&db).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_rejected_write_rolls_back_and_is_announced() {
    let user = unique("u");
    let a = Device::open(proxy(), JsValue::from_str(&format!("dev:{user}"))).await;
    let (target, names) =
        (js_sys::global().unchecked_into::<web_sys::EventTarget>(), Rc::new(std::cell::RefCell::new(Vec::new())));
    let listener = {
        let names = names.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let detail = e.unchecked_ref::<web_sys::CustomEvent>().detail();
            names.borrow_mut().push((e.type_(), field(&detail, "origin"), field(&detail, "code")));
        })
    };
    for name in ["pwa-sync:rejected", "pwa-sync:change"] {
        target.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref()).unwrap();
    }
    a.put("t1", r#""n": 1"#).await;
    // The server's answer rejects the only mutation of this new client (id 1).
    let answer = r#"{"results": [{"id": 1, "status": "rejected", "code": "validation", "message": "n must be even"}], "lastMutationId": 1}"#;
    // The proxy still forwards the push, so the pull that follows would bring the record
    // back from the server: fail the pull to look at the rollback itself.
    let body = JSON::stringify(&answer.into()).unwrap().as_string().unwrap();
    faults(&format!(
        r#"[{{"path": "/sync/push", "fault": {{"kind": "replace_body", "status": 200, "contentType": "application/json", "body": {body}}}}},
            {{"path": "/sync/pull", "fault": {{"kind": "status", "status": 500, "body": "down"}}}}]"#
    ))
    .await;
    assert_eq!(code(a.client.sync()).await, "server");
    for name in ["pwa-sync:rejected", "pwa-sync:change"] {
        target.remove_event_listener_with_callback(name, listener.as_ref().unchecked_ref()).unwrap();
    }
    // The optimistic value is gone: the server never had the record.
    assert!(a.get("t1").await.is_undefined());
    assert_eq!(a.pending().await, 0.0);
    let seen = names.borrow().clone();
    assert!(seen.iter().any(|(n, _, c)| n == "pwa-sync:rejected" && *c == "validation"), "{seen:?}");
    assert!(seen.iter().any(|(n, o, _)| n == "pwa-sync:change" && *o == "remote"), "{seen:?}");
    a.done().await;
}

/// Forwarded requests per path prefix so far, from the fault proxy's log of what it saw.
async fn proxy_counter(name: &str) -> f64 {
    let fetch: js_sys::Function = Reflect::get(&js_sys::global(), &"fetch".into()).unwrap().unchecked_into();
    let url = JsValue::from_str(&format!("{}/_faults", proxy()));
    let response =
        JsFuture::from(fetch.call1(&js_sys::global(), &url).unwrap().unchecked_into::<Promise>()).await.unwrap();
    let json = JsFuture::from(
        Reflect::get(&response, &"json".into())
            .unwrap()
            .unchecked_into::<js_sys::Function>()
            .call0(&response)
            .unwrap()
            .unchecked_into::<Promise>(),
    )
    .await
    .unwrap();
    field(&json, name).as_f64().unwrap()
}

#[wasm_bindgen_test]
async fn two_contexts_flushing_at_once_send_each_mutation_once() {
    let user = unique("u");
    let db = unique("lock");
    let cfg = || {
        JSON::parse(&format!(
            r#"{{"name": "{db}", "endpoint": "{}/sync", "token": "dev:{user}", "autoSync": false, "collections": {{"trips": {{"key": "id"}}}}}}"#,
            proxy()
        ))
        .unwrap()
    };
    // Two clients of one database, as two tabs would have.
    let (one, two) = (SyncClient::open(cfg()).await.unwrap(), SyncClient::open(cfg()).await.unwrap());
    for i in 0..10 {
        ok(one.put("trips".into(), JSON::parse(&format!(r#"{{"id": "t{i}"}}"#)).unwrap())).await;
    }
    let before = proxy_counter("forwarded").await;
    let (a, b) = futures_join(one.sync(), two.sync()).await;
    let pushed = field(&a, "pushed").as_f64().unwrap() + field(&b, "pushed").as_f64().unwrap();
    assert_eq!(pushed, 10.0, "the ten writes went out once, by whichever flushed first");
    // One push and two pulls: the second flusher waited for the lock and found the outbox empty.
    assert_eq!(proxy_counter("forwarded").await - before, 3.0);
    one.close();
    two.close();
    IdbStore::delete_database(&db).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_background_sync_that_finds_the_flush_lock_taken_sends_the_writes_once_it_is_free() {
    // Another context (a tab, the service worker) holds the flush lock, say in an attempt
    // begun offline that will fail. A write queued meanwhile must go once the lock is free,
    // not wait for this context's next trigger (the `online` that came while it was held).
    let (user, db) = (unique("u"), unique("held"));
    let release = hold_flush_lock(&db).await;
    let config = JSON::parse(&format!(
        r#"{{"name": "{db}", "endpoint": "{}/sync", "token": "dev:{user}", "collections": {{"trips": {{"key": "id"}}}}}}"#,
        server()
    ))
    .unwrap();
    let client = SyncClient::open(config).await.unwrap();
    ok(client.put("trips".into(), JSON::parse(r#"{"id": "t1"}"#).unwrap())).await;
    gloo_timers::future::TimeoutFuture::new(300).await;
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0, "nothing syncs while the lock is held");
    release.call0(&JsValue::NULL).unwrap();
    let mut pending = 1.0;
    for _ in 0..100 {
        pending = ok(client.pending(JsValue::UNDEFINED)).await.as_f64().unwrap();
        if pending == 0.0 {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    assert_eq!(pending, 0.0, "the write went once the lock was free");
    client.close();
    IdbStore::delete_database(&db).await.unwrap();
}

#[wasm_bindgen_test]
async fn background_syncs_waiting_for_a_taken_flush_lock_are_one_attempt_not_one_each() {
    // While another context holds the lock, every stale `getFresh` asks for a background
    // sync. If the holder's attempt fails and so would ours (the server is unreachable),
    // one waiter tries once; a waiter per call would be a burst of failed syncs.
    let db = unique("waiters");
    let release = hold_flush_lock(&db).await;
    let config = JSON::parse(&format!(
        r#"{{"name": "{db}", "endpoint": "http://127.0.0.1:9/sync", "token": "x",
            "retry": {{"baseDelayMs": 60000, "maxDelayMs": 60000}},
            "collections": {{"trips": {{"key": "id", "ttlMs": 1}}}}}}"#
    ))
    .unwrap();
    let client = SyncClient::open(config).await.unwrap();
    ok(client.put("trips".into(), JSON::parse(r#"{"id": "t1"}"#).unwrap())).await;
    for _ in 0..10 {
        ok(client.get_fresh("trips".into(), "t1".into(), JsValue::UNDEFINED)).await;
    }
    gloo_timers::future::TimeoutFuture::new(300).await;
    let syncs = |metrics: &JsValue| Reflect::get(metrics, &"syncs".into()).unwrap().as_f64().unwrap();
    assert_eq!(syncs(&ok(client.metrics()).await), 0.0, "nothing syncs while the lock is held");
    release.call0(&JsValue::NULL).unwrap();
    gloo_timers::future::TimeoutFuture::new(1500).await;
    let metrics = ok(client.metrics()).await;
    assert_eq!(syncs(&metrics), 1.0, "one attempt once the lock was free: {}", JSON::stringify(&metrics).unwrap());
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0, "the write stays queued");
    client.close();
    IdbStore::delete_database(&db).await.unwrap();
}

/// Take database `db`'s flush lock as another context would; it is held until the
/// returned function is called.
async fn hold_flush_lock(db: &str) -> js_sys::Function {
    js(
        "name",
        "return new Promise((granted) => navigator.locks.request(name, () => new Promise((release) => granted(release))));",
        &[JsValue::from_str(&format!("pwa-sync:{db}:flush"))],
    )
    .await
    .unchecked_into()
}

async fn futures_join(a: Promise, b: Promise) -> (JsValue, JsValue) {
    let both = js_sys::Promise::all(&js_sys::Array::of2(&a, &b));
    let values = js_sys::Array::from(&ok(both).await);
    (values.get(0), values.get(1))
}

/// Polls until `check` holds (a hint between tabs takes a few turns of the event loop).
async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    panic!("never: {what}");
}

#[wasm_bindgen_test]
async fn discard_pending_rolls_back_to_the_server_values_in_every_tab() {
    let user = unique("u");
    let a = Device::for_user(&user).await;
    a.put("t1", r#""n": 1"#).await;
    a.sync().await;
    // A second tab of the same database, hearing changes on its own target.
    let (target, seen) = super::support::recorder(&["pwa-sync:change"]);
    let tab_config = config(&a.db, server(), JsValue::from_str(&format!("dev:{user}")));
    Reflect::set(&tab_config, &"eventTarget".into(), &target).unwrap();
    let tab = SyncClient::open(tab_config).await.unwrap();
    a.put("t1", r#""n": 2"#).await;
    a.put("t2", r#""n": 1"#).await;
    eventually("the tab sees 2 pending", || field(&tab.status(), "pending") == 2.0).await;
    seen.borrow_mut().clear();
    assert_eq!(ok(a.client.discard_pending()).await, 2.0);
    assert_eq!(a.pending().await, 0.0);
    assert_eq!(a.list().await, r#"[{"id":"t1","n":1}]"#);
    eventually("the tab's status follows", || field(&tab.status(), "pending") == 0.0).await;
    eventually("the tab hears both keys change", || seen.borrow().len() >= 2).await;
    assert_eq!(JSON::stringify(&ok(tab.get("trips".into(), "t1".into())).await).unwrap(), r#"{"id":"t1","n":1}"#);
    assert!(ok(tab.get("trips".into(), "t2".into())).await.is_undefined());
    // Nothing of the discarded writes reaches the server.
    assert_eq!(field(&a.sync().await, "pushed"), 0.0);
    tab.close();
    a.done().await;
}

#[wasm_bindgen_test]
async fn resync_pulls_everything_again_and_keeps_pending_writes() {
    let user = unique("u");
    let a = Device::for_user(&user).await;
    let b = Device::for_user(&user).await;
    b.put("t1", r#""n": 1"#).await;
    b.put("t2", r#""n": 2"#).await;
    b.sync().await;
    a.sync().await;
    // A record removed from IndexedDB behind the library's back (the app's own code, a
    // browser cleanup): a normal sync does not bring it back, a resync does.
    super::support::raw(&a.db, "trips", "delete", &["t2".into()]).await;
    a.sync().await;
    assert_eq!(a.list().await, r#"[{"id":"t1","n":1}]"#, "a plain sync starts from the checkpoint");
    a.put("t3", r#""n": 3"#).await;
    let result = ok(a.client.resync()).await;
    assert_eq!(field(&result, "pushed"), 1.0);
    assert_eq!(a.list().await, r#"[{"id":"t1","n":1},{"id":"t2","n":2},{"id":"t3","n":3}]"#);
    assert_eq!(a.pending().await, 0.0);
    // A tab of the same database shares the checkpoint and is caught up too.
    let tab = SyncClient::open(config(&a.db, server(), JsValue::from_str(&format!("dev:{user}")))).await.unwrap();
    assert_eq!(field(&ok(tab.sync()).await, "pulled"), 0.0);
    tab.close();
    a.done().await;
    b.done().await;
}

#[wasm_bindgen_test]
async fn pending_details_say_what_is_queued_how_often_it_was_tried_and_why_it_failed() {
    let a = Device::open(proxy(), JsValue::from_str(&format!("dev:{}", unique("u")))).await;
    a.put("t1", r#""n": 1"#).await;
    let fail = r#"[{"path": "/sync/push", "fault": {"kind": "status", "status": 500}}]"#;
    for _ in 0..2 {
        faults(fail).await;
        assert_eq!(code(a.client.sync()).await, "server");
    }
    a.put("t2", r#""n": 2"#).await;
    let details = ok(a.client.pending(JSON::parse(r#"{"details": true}"#).unwrap())).await;
    let details: Vec<JsValue> = js_sys::Array::from(&details).iter().collect();
    assert_eq!(details.len(), 2);
    let (tried, fresh) = (&details[0], &details[1]);
    assert_eq!(
        (field(tried, "collection"), field(tried, "key"), field(tried, "op")),
        ("trips".into(), "t1".into(), "put".into())
    );
    assert_eq!(field(tried, "attempts"), 2.0);
    assert_eq!(field(&field(tried, "lastError"), "code"), "server");
    assert!(field(tried, "queuedAt").as_f64().unwrap() > 1.7e12);
    assert_eq!(field(fresh, "attempts"), 0.0);
    assert!(field(fresh, "lastError").is_null());
    // Without details it stays the count.
    assert_eq!(a.pending().await, 2.0);
    a.sync().await;
    let empty = ok(a.client.pending(JSON::parse(r#"{"details": true}"#).unwrap())).await;
    assert_eq!(js_sys::Array::from(&empty).length(), 0);
    a.done().await;
}

#[wasm_bindgen_test]
async fn get_fresh_details_say_how_old_each_record_is_and_stale_ones_refresh() {
    let user = unique("u");
    let db = unique("fresh");
    let cfg = JSON::parse(&format!(
        r#"{{"name": "{db}", "endpoint": "{}/sync", "autoSync": false, "token": "dev:{user}",
            "collections": {{"trips": {{"key": "id", "ttlMs": 60000}}}}}}"#,
        server()
    ))
    .unwrap();
    let client = SyncClient::open(cfg).await.unwrap();
    let details = || JSON::parse(r#"{"details": true}"#).unwrap();
    let syncs = |client: &SyncClient| {
        let metrics = ok(client.metrics());
        async move { field(&metrics.await, "syncs").as_f64().unwrap() }
    };
    ok(client.put("trips".into(), JSON::parse(r#"{"id": "t1", "n": 1}"#).unwrap())).await;
    // A local write the server has not confirmed: not fresh, and its age is unknown.
    let edited = ok(client.get_fresh("trips".into(), "t1".into(), details())).await;
    assert!(field(&edited, "fetchedAt").is_null());
    assert_eq!((field(&edited, "fresh"), field(&edited, "pending")), (JsValue::FALSE, 1.0.into()));
    ok(client.sync()).await;
    while field(&client.status(), "state") == "syncing" {
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    let before = syncs(&client).await;
    let fresh = ok(client.get_fresh("trips".into(), "t1".into(), details())).await;
    assert_eq!(field(&fresh, "fresh"), JsValue::TRUE);
    assert_eq!(field(&field(&fresh, "value"), "n"), 1.0);
    assert!(field(&fresh, "version").as_f64().unwrap() >= 1.0);
    let now = js_sys::Date::now();
    let fetched = field(&fresh, "fetchedAt").as_f64().unwrap();
    assert!(now - fetched < 10_000.0, "fetched {fetched}, now {now}");
    assert!(field(&fresh, "updatedAt").as_f64().unwrap() <= now);
    gloo_timers::future::TimeoutFuture::new(50).await;
    assert_eq!(syncs(&client).await, before, "a fresh record starts no sync");
    {
        let _clock = ClockAhead::by(61_000.0);
        let stale = ok(client.get_fresh("trips".into(), "t1".into(), details())).await;
        assert_eq!(field(&stale, "fresh"), JsValue::FALSE);
        assert_eq!(field(&field(&stale, "value"), "n"), 1.0, "the stored value, at once");
        for _ in 0..300 {
            if syncs(&client).await > before {
                break;
            }
            gloo_timers::future::TimeoutFuture::new(10).await;
        }
        assert_eq!(syncs(&client).await, before + 1.0, "a stale record starts a background sync");
    }
    client.close();
    IdbStore::delete_database(&db).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_request_slower_than_timeout_ms_fails_with_timeout_and_keeps_the_write() {
    let db = unique("timeout");
    let config = JSON::parse(&format!(
        r#"{{"name": "{db}", "endpoint": "{}/sync", "autoSync": false, "token": "dev:{}", "timeoutMs": 300,
            "collections": {{"trips": {{"key": "id"}}}}}}"#,
        proxy(),
        unique("u")
    ))
    .unwrap();
    let client = SyncClient::open(config).await.unwrap();
    ok(client.put("trips".into(), JSON::parse(r#"{"id": "t1"}"#).unwrap())).await;
    faults(r#"[{"path": "/sync/push", "fault": {"kind": "delay", "ms": 3000}}]"#).await;
    let started = js_sys::Date::now();
    assert_eq!(code(client.sync()).await, "timeout");
    assert!(js_sys::Date::now() - started < 2_500.0, "it gave up at the deadline, not when the proxy answered");
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0);
    // Once answers come in time again, the write goes out (at most once on the server).
    faults("[]").await;
    gloo_timers::future::TimeoutFuture::new(3_000).await; // the delayed push has landed
                                                          // 300 ms is tight for a busy machine (a loaded CI runner): another timeout may come,
                                                          // and must keep the write as the first did; the write goes out within a few tries.
    let mut synced = false;
    for _ in 0..5 {
        match JsFuture::from(client.sync()).await {
            Ok(_) => {
                synced = true;
                break;
            }
            Err(e) => assert_eq!(field(&e, "code"), "timeout", "only a timeout may stop it: {e:?}"),
        }
        assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0, "a timed-out sync keeps the write");
    }
    assert!(synced, "five syncs in a row timed out with no fault set");
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 0.0);
    client.close();
    IdbStore::delete_database(&db).await.unwrap();
}

/// A push the sync stops waiting for (sent while the answer before it was stored, and that
/// store failed) is left to finish on its own: its failure is never an unhandled rejection,
/// which apps report as errors. (Where a scope has no `unhandledrejection` event this
/// cannot fail; every window has one.)
#[wasm_bindgen_test]
async fn a_request_left_unawaited_is_never_an_unhandled_rejection() {
    use pwa_sync::transport::{Auth, HttpTransport};
    use pwa_sync_core::engine::Transport;
    use pwa_sync_core::protocol::PushRequest;
    js(
        "",
        "globalThis.__unhandled = 0;
         globalThis.__countUnhandled = (event) => { globalThis.__unhandled++; event.preventDefault(); };
         globalThis.addEventListener('unhandledrejection', globalThis.__countUnhandled);",
        &[],
    )
    .await;
    // Nothing listens on port 9 of this machine: the request fails at once.
    let transport = HttpTransport::new("http://127.0.0.1:9", Auth::new(None), 2_000);
    drop(transport.send(&PushRequest { client_id: "c-dropped".into(), mutations: Vec::new() }));
    let unhandled = js(
        "",
        "return new Promise((resolve) => setTimeout(() => {
             globalThis.removeEventListener('unhandledrejection', globalThis.__countUnhandled);
             resolve(globalThis.__unhandled);
         }, 500));",
        &[],
    )
    .await;
    assert_eq!(unhandled.as_f64(), Some(0.0));
}
