//! Bad input, in every browser scope: from the server (through the fault proxy's
//! `replace_body`, `status` and `cut_body`, and a `fetch` stand-in for bodies the proxy
//! cannot make), from the app (configs, values, keys), from storage (records, outbox
//! entries and metadata corrupted by hand, a full quota, no IndexedDB), and across app
//! versions (an upgrade while an old tab stays open, a newer storage format).
//!
//! What each must give: a classified error (`code`), announced (`pwa-sync:status`,
//! `pwa-sync:storage-error`), with the outbox, the data and the checkpoint as they were,
//! and a client that works again once the input is good.

use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::idb::IdbStore;
use pwa_sync_core::config::ClientConfig;
use pwa_sync_core::record::{OutboxEntry, STORAGE_FORMAT};
use pwa_sync_core::store::Store;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::support::{faults, field, js, ok, proxy, raw, recorder, server, step, storage_errors, unique, Seen};
use web_sys::EventTarget;

// ---- helpers ----

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap_or_else(|e| panic!("bad test JSON {text}: {e:?}"))
}

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

fn text(value: &JsValue) -> String {
    match JSON::stringify(value) {
        Ok(json) if json.is_string() => json.into(),
        _ => format!("{value:?}"),
    }
}

/// `(code, message)` of a rejection, after checking it is a `PwaSyncError`.
async fn rejection(promise: Promise) -> (String, String) {
    match JsFuture::from(promise).await {
        Ok(v) => panic!("expected a rejection, got {}", text(&v)),
        Err(e) => error_parts(&e),
    }
}

async fn code(promise: Promise) -> String {
    rejection(promise).await.0
}

fn error_parts(e: &JsValue) -> (String, String) {
    assert!(e.is_instance_of::<js_sys::Error>(), "not an Error: {e:?}");
    assert_eq!(field(e, "name").as_string().as_deref(), Some("PwaSyncError"), "{e:?}");
    (field(e, "code").as_string().unwrap_or_default(), field(e, "message").as_string().unwrap_or_default())
}

/// Put `value` (JSON text; `key` for out-of-line stores) straight into an object store.
async fn raw_put(db: &str, store: &str, value: &str, key: Option<&str>) {
    let value = JSON::parse(value).unwrap();
    match key {
        None => raw(db, store, "put", &[value]).await,
        Some(key) => raw(db, store, "put", &[value, s(key)]).await,
    };
}

/// What an object store holds under `key`, read straight from IndexedDB.
async fn raw_get(db: &str, store: &str, key: &str) -> JsValue {
    raw(db, store, "get", &[s(key)]).await
}

/// A JSON string literal of `text`.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

async fn delete_db(name: &str) {
    IdbStore::delete_database(name).await.unwrap_or_else(|e| panic!("delete {name}: {e}"));
}

// ---- 1. bad input from the server ----

const TRIPS: &str = r#"{"trips": {"key": "id", "conflict": "serverWins"}}"#;

fn sync_config(db: &str, endpoint: &str, user: &str, target: Option<&EventTarget>) -> JsValue {
    let config = json(&format!(
        r#"{{"name": "{db}", "endpoint": "{endpoint}/sync", "autoSync": false, "token": "dev:{user}", "collections": {TRIPS}}}"#
    ));
    if let Some(target) = target {
        Reflect::set(&config, &"eventTarget".into(), target).unwrap();
    }
    config
}

/// The client under test (through the proxy), another device of the same user (straight
/// to the server), and a second connection to the client's database for looking inside.
struct Scene {
    client: SyncClient,
    db: String,
    other: SyncClient,
    other_db: String,
    store: IdbStore,
    seen: Seen,
    round: usize,
}

/// What must not change when an answer is refused.
#[derive(Debug, PartialEq)]
struct Inside {
    outbox: Vec<OutboxEntry>,
    checkpoint: u64,
    records: Vec<(Option<serde_json::Value>, Option<u64>, u32)>,
    list: String,
}

impl Scene {
    async fn new() -> Scene {
        let user = unique("u");
        let (db, other_db) = (unique("sync"), unique("other"));
        let (target, seen) = recorder(&["pwa-sync:status", "pwa-sync:storage-error"]);
        let other = SyncClient::open(sync_config(&other_db, server(), &user, None)).await.unwrap();
        ok(other.put(s("trips"), json(r#"{"id": "x0", "n": 0}"#))).await;
        ok(other.sync()).await;
        let client = SyncClient::open(sync_config(&db, proxy(), &user, Some(&target))).await.unwrap();
        assert_eq!(field(&ok(client.sync()).await, "pulled"), 1.0);
        let core = ClientConfig::from_json(
            serde_json::from_str(&format!(r#"{{"name": "{db}", "collections": {TRIPS}}}"#)).unwrap(),
        )
        .unwrap();
        let store = IdbStore::open(&core).await.unwrap();
        Scene { client, db, other, other_db, store, seen, round: 0 }
    }

    /// A local write waiting to be pushed, and a change on the server waiting to be pulled.
    async fn prepare(&mut self) {
        self.round += 1;
        let r = self.round;
        ok(self.client.put(s("trips"), json(&format!(r#"{{"id": "a{r}", "n": {r}}}"#)))).await;
        ok(self.other.put(s("trips"), json(&format!(r#"{{"id": "x{r}", "n": {r}}}"#)))).await;
        ok(self.other.sync()).await;
    }

    async fn inside(&self) -> Inside {
        let mut outbox = pwa_sync_core::store::conformance::json_outbox(&self.store, 1000).await.unwrap();
        // Marked sent (and counted as an attempt) before the request leaves: that is
        // expected, not a change.
        outbox.iter_mut().for_each(|e| {
            e.sent = false;
            e.attempts = 0;
        });
        let mut records = Vec::new();
        for key in ["x0", &format!("a{}", self.round), &format!("x{}", self.round)] {
            let r = pwa_sync_core::store::conformance::json_get(&self.store, "trips", key).await.unwrap();
            records.push(r.map_or((None, None, 0), |r| (r.value, r.version, r.pending)));
        }
        let checkpoint = self.store.meta().await.unwrap().unwrap().checkpoint;
        let list = text(&ok(self.client.list(s("trips"), JsValue::UNDEFINED)).await);
        Inside { outbox, checkpoint, records, list }
    }

    async fn done(self) {
        faults("[]").await;
        self.store.close();
        self.client.close();
        self.other.close();
        delete_db(&self.db).await;
        delete_db(&self.other_db).await;
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Step {
    Push,
    Pull,
}

/// One bad answer: where it comes, the fault (given the checkpoint and the mutation id
/// in flight), and the code the sync must fail with.
struct Bad {
    name: &'static str,
    step: Step,
    fault: fn(u64, u64) -> String,
    code: &'static str,
}

fn replace(status: u16, content_type: &str, body: &str) -> String {
    format!(
        r#"{{"kind": "replace_body", "status": {status}, "contentType": {}, "body": {}}}"#,
        quoted(content_type),
        quoted(body)
    )
}

fn replace_json(body: &str) -> String {
    replace(200, "application/json", body)
}

const HTML: &str =
    "<!doctype html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>";
/// What the reference server answers to an `X-Sync-Protocol` it does not speak.
const WRONG_PROTOCOL: &str = r#"{"error": {"code": "unsupported-protocol", "message": "unsupported protocol \"1\"; this server speaks protocol 2"}}"#;
/// 16 bytes, repeated past the 32 MiB limit.
const HUGE_REPEAT: u64 = 2_200_000;

fn huge(status: u16, content_type: &str) -> String {
    format!(
        r#"{{"kind": "replace_body", "status": {status}, "contentType": "{content_type}", "body": "0123456789abcdef", "repeat": {HUGE_REPEAT}}}"#
    )
}

fn push_cases() -> Vec<Bad> {
    use Step::Push;
    vec![
        Bad {
            name: "malformed JSON",
            step: Push,
            fault: |_, _| replace_json(r#"{"results": [{"id": 1, "status": "appl"#),
            code: "protocol",
        },
        Bad {
            name: "results is a string",
            step: Push,
            fault: |_, _| replace_json(r#"{"results": "x", "lastMutationId": 1}"#),
            code: "protocol",
        },
        Bad {
            name: "version as a string",
            step: Push,
            fault: |_, id| {
                replace_json(&format!(
                    r#"{{"results": [{{"id": {id}, "status": "applied", "version": "7"}}], "lastMutationId": {id}}}"#
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "id as a string",
            step: Push,
            fault: |_, id| {
                replace_json(&format!(
                    r#"{{"results": [{{"id": "{id}", "status": "applied", "version": 7}}], "lastMutationId": {id}}}"#
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "missing version",
            step: Push,
            fault: |_, id| {
                replace_json(&format!(
                    r#"{{"results": [{{"id": {id}, "status": "applied"}}], "lastMutationId": {id}}}"#
                ))
            },
            code: "protocol",
        },
        Bad { name: "missing everything", step: Push, fault: |_, _| replace_json("{}"), code: "protocol" },
        Bad {
            name: "unknown status",
            step: Push,
            fault: |_, id| {
                replace_json(&format!(
                    r#"{{"results": [{{"id": {id}, "status": "accepted", "version": 7}}], "lastMutationId": {id}}}"#
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "answer for a mutation never sent",
            step: Push,
            fault: |_, _| {
                replace_json(
                    r#"{"results": [{"id": 999999, "status": "applied", "version": 7}], "lastMutationId": 999999}"#,
                )
            },
            code: "protocol",
        },
        Bad {
            name: "no results",
            step: Push,
            fault: |_, id| replace_json(&format!(r#"{{"results": [], "lastMutationId": {id}}}"#)),
            code: "protocol",
        },
        Bad {
            name: "two answers for one mutation",
            step: Push,
            fault: |_, id| {
                replace_json(&format!(
                    r#"{{"results": [{{"id": {id}, "status": "applied", "version": 7}}, {{"id": {id}, "status": "rejected", "code": "x", "message": "y"}}], "lastMutationId": {id}}}"#
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "conflict whose server value is not a record",
            step: Push,
            fault: |_, id| {
                replace_json(&format!(
                    r#"{{"results": [{{"id": {id}, "status": "conflict", "server": {{"version": 7, "value": "x", "hlc": "h"}}}}], "lastMutationId": {id}}}"#
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "server time out of range",
            step: Push,
            fault: |_, id| {
                replace_json(&format!(
                    r#"{{"results": [{{"id": {id}, "status": "applied", "version": 7}}], "lastMutationId": {id}, "serverTime": 18446744073709551615}}"#
                ))
            },
            code: "protocol",
        },
        Bad { name: "null", step: Push, fault: |_, _| replace_json("null"), code: "protocol" },
        Bad { name: "empty body", step: Push, fault: |_, _| replace_json(""), code: "protocol" },
        Bad { name: "200 text/html", step: Push, fault: |_, _| replace(200, "text/html", HTML), code: "protocol" },
        Bad {
            name: "502 text/html",
            step: Push,
            fault: |_, _| {
                format!(r#"{{"kind": "status", "status": 502, "contentType": "text/html", "body": {}}}"#, quoted(HTML))
            },
            code: "server",
        },
        Bad {
            name: "409 unknown protocol version",
            step: Push,
            fault: |_, _| {
                format!(
                    r#"{{"kind": "status", "status": 409, "contentType": "application/json", "body": {}}}"#,
                    quoted(WRONG_PROTOCOL)
                )
            },
            code: "protocol",
        },
        Bad {
            name: "over 32 MiB (Content-Length)",
            step: Push,
            fault: |_, _| huge(200, "application/json"),
            code: "protocol",
        },
        Bad { name: "502 with a body over 32 MiB", step: Push, fault: |_, _| huge(502, "text/html"), code: "server" },
        Bad { name: "body cut mid-way", step: Push, fault: |_, _| r#"{"kind": "cut_body"}"#.into(), code: "network" },
    ]
}

fn pull_cases() -> Vec<Bad> {
    use Step::Pull;
    vec![
        Bad {
            name: "malformed JSON",
            step: Pull,
            fault: |_, _| replace_json(r#"{"changes": [{"collection": "trips", "key""#),
            code: "protocol",
        },
        Bad {
            name: "changes is a string",
            step: Pull,
            fault: |c, _| replace_json(&format!(r#"{{"changes": "x", "checkpoint": {}, "hasMore": false}}"#, c + 1)),
            code: "protocol",
        },
        Bad {
            name: "version as a string",
            step: Pull,
            fault: |c, _| {
                replace_json(&format!(
                    r#"{{"changes": [{{"collection": "trips", "key": "evil", "version": "{0}", "value": {{"id": "evil"}}, "hlc": "h"}}], "checkpoint": {0}, "hasMore": false}}"#,
                    c + 1
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "checkpoint as a string",
            step: Pull,
            fault: |c, _| replace_json(&format!(r#"{{"changes": [], "checkpoint": "{}", "hasMore": false}}"#, c + 1)),
            code: "protocol",
        },
        Bad {
            name: "negative checkpoint",
            step: Pull,
            fault: |_, _| replace_json(r#"{"changes": [], "checkpoint": -1, "hasMore": false}"#),
            code: "protocol",
        },
        Bad {
            name: "missing checkpoint and hasMore",
            step: Pull,
            fault: |_, _| replace_json(r#"{"changes": []}"#),
            code: "protocol",
        },
        Bad {
            name: "a change without a key",
            step: Pull,
            fault: |c, _| {
                replace_json(&format!(
                    r#"{{"changes": [{{"collection": "trips", "version": {0}, "value": null, "hlc": "h"}}], "checkpoint": {0}, "hasMore": false}}"#,
                    c + 1
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "checkpoint going backwards",
            step: Pull,
            fault: |c, _| replace_json(&format!(r#"{{"changes": [], "checkpoint": {}, "hasMore": false}}"#, c - 1)),
            code: "protocol",
        },
        Bad {
            name: "a change at or before the checkpoint",
            step: Pull,
            fault: |c, _| {
                replace_json(&format!(
                    r#"{{"changes": [{{"collection": "trips", "key": "x0", "version": {c}, "value": {{"id": "x0", "evil": 1}}, "hlc": "h"}}], "checkpoint": {}, "hasMore": false}}"#,
                    c + 1
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "a change past the claimed checkpoint",
            step: Pull,
            fault: |c, _| {
                replace_json(&format!(
                    r#"{{"changes": [{{"collection": "trips", "key": "evil", "version": {}, "value": {{"id": "evil"}}, "hlc": "h"}}], "checkpoint": {}, "hasMore": false}}"#,
                    c + 50,
                    c + 1
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "changes out of order",
            step: Pull,
            fault: |c, _| {
                replace_json(&format!(
                    r#"{{"changes": [{{"collection": "trips", "key": "e1", "version": {0}, "value": {{"id": "e1"}}, "hlc": "h"}}, {{"collection": "trips", "key": "e2", "version": {1}, "value": {{"id": "e2"}}, "hlc": "h"}}], "checkpoint": {0}, "hasMore": false}}"#,
                    c + 3,
                    c + 2
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "hasMore without moving on",
            step: Pull,
            fault: |c, _| replace_json(&format!(r#"{{"changes": [], "checkpoint": {c}, "hasMore": true}}"#)),
            code: "protocol",
        },
        Bad {
            name: "a value that is not a record",
            step: Pull,
            fault: |c, _| {
                replace_json(&format!(
                    r#"{{"changes": [{{"collection": "trips", "key": "evil", "version": {0}, "value": 5, "hlc": "h"}}], "checkpoint": {0}, "hasMore": false}}"#,
                    c + 1
                ))
            },
            code: "protocol",
        },
        Bad {
            // An array is an object to JS: the JS value path must still refuse it.
            name: "a value that is an array holding the record",
            step: Pull,
            fault: |c, _| {
                replace_json(&format!(
                    r#"{{"changes": [{{"collection": "trips", "key": "evil", "version": {0}, "value": [{{"id": "evil"}}], "hlc": "h"}}], "checkpoint": {0}, "hasMore": false}}"#,
                    c + 1
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "a record of another key",
            step: Pull,
            fault: |c, _| {
                replace_json(&format!(
                    r#"{{"changes": [{{"collection": "trips", "key": "x0", "version": {0}, "value": {{"id": "x9"}}, "hlc": "h"}}], "checkpoint": {0}, "hasMore": false}}"#,
                    c + 1
                ))
            },
            code: "protocol",
        },
        Bad {
            name: "server time out of range",
            step: Pull,
            fault: |c, _| {
                replace_json(&format!(
                    r#"{{"changes": [], "checkpoint": {c}, "hasMore": false, "serverTime": 9223372036854775808}}"#
                ))
            },
            code: "protocol",
        },
        Bad { name: "an array", step: Pull, fault: |_, _| replace_json("[]"), code: "protocol" },
        Bad {
            name: "200 text/html",
            step: Pull,
            fault: |_, _| replace(200, "text/html; charset=utf-8", HTML),
            code: "protocol",
        },
        Bad {
            name: "502 text/html",
            step: Pull,
            fault: |_, _| {
                format!(r#"{{"kind": "status", "status": 502, "contentType": "text/html", "body": {}}}"#, quoted(HTML))
            },
            code: "server",
        },
        Bad {
            name: "409 unknown protocol version",
            step: Pull,
            fault: |_, _| {
                format!(
                    r#"{{"kind": "status", "status": 409, "contentType": "application/json", "body": {}}}"#,
                    quoted(WRONG_PROTOCOL)
                )
            },
            code: "protocol",
        },
        Bad { name: "body cut mid-way", step: Pull, fault: |_, _| r#"{"kind": "cut_body"}"#.into(), code: "network" },
    ]
}

/// Each case in turn on one scene: a pending write and a server change, the bad answer,
/// then what must hold, then a clean sync that must catch up exactly.
async fn refuse_each(cases: Vec<Bad>) {
    let mut scene = Scene::new().await;
    for case in cases {
        let what = format!("{:?} / {}", case.step, case.name);
        scene.prepare().await;
        let before = scene.inside().await;
        let id = before.outbox.last().map_or(0, |e| e.id);
        assert_eq!(before.outbox.len(), 1, "{what}");
        let path = match case.step {
            Step::Push => "/sync/push",
            Step::Pull => "/sync/pull",
        };
        faults(&format!(r#"[{{"path": "{path}", "fault": {}}}]"#, (case.fault)(before.checkpoint, id))).await;
        scene.seen.borrow_mut().clear();

        let (code, message) = rejection(scene.client.sync()).await;
        assert_eq!(code, case.code, "{what}: {message}");
        let status = scene.client.status();
        assert_eq!(field(&field(&status, "lastError"), "code"), case.code, "{what}");
        let expected_state = if case.code == "network" { "offline" } else { "error" };
        assert_eq!(field(&status, "state"), expected_state, "{what}");
        let announced =
            scene.seen.borrow().iter().any(|(name, detail)| {
                name == "pwa-sync:status" && field(&field(detail, "lastError"), "code") == case.code
            });
        assert!(announced, "{what}: no pwa-sync:status with lastError.code {}", case.code);

        let after = scene.inside().await;
        match case.step {
            // Nothing of the answer was kept: the write waits, data and checkpoint as before.
            Step::Push => assert_eq!(after, before, "{what}"),
            // The push before the pull was answered properly and is acknowledged; nothing
            // of the bad page was stored and the checkpoint did not move.
            Step::Pull => {
                assert!(after.outbox.is_empty(), "{what}: {:?}", after.outbox);
                assert_eq!(after.checkpoint, before.checkpoint, "{what}");
                assert_eq!(after.list, before.list, "{what}");
                assert_eq!(after.records[0], before.records[0], "{what}: x0");
                assert_eq!((&after.records[1].0, after.records[1].2), (&before.records[1].0, 0), "{what}: own write");
                assert!(after.records[1].1.is_some(), "{what}: own write acknowledged");
                assert_eq!(after.records[2], (None, None, 0), "{what}: the server's change is not stored");
            }
        }
        assert_eq!(ok(scene.client.pending(JsValue::UNDEFINED)).await, after.outbox.len() as f64, "{what}");

        // A clean sync catches up exactly: the pending write goes (again; the server
        // answers as before), and it pulls what lies after the untouched checkpoint: the
        // other device's change and our own write. A checkpoint moved forward would pull
        // less, one moved back more.
        let result = ok(scene.client.sync()).await;
        let pushed = if case.step == Step::Push { 1.0 } else { 0.0 };
        assert_eq!((field(&result, "pushed"), field(&result, "pulled")), (pushed.into(), 2.0.into()), "{what}");
        assert!(field(&scene.client.status(), "lastError").is_null(), "{what}");
        assert_eq!(ok(scene.client.pending(JsValue::UNDEFINED)).await, 0.0, "{what}");
        ok(scene.other.sync()).await;
        let (mine, theirs) = (
            text(&ok(scene.client.list(s("trips"), JsValue::UNDEFINED)).await),
            text(&ok(scene.other.list(s("trips"), JsValue::UNDEFINED)).await),
        );
        assert_eq!(mine, theirs, "{what}");
        assert!(!mine.contains("evil"), "{what}: {mine}");
    }
    scene.done().await;
}

#[wasm_bindgen_test]
async fn bad_push_answers_are_classified_and_change_nothing() {
    faults("[]").await;
    refuse_each(push_cases()).await;
}

#[wasm_bindgen_test]
async fn bad_pull_answers_are_classified_and_change_nothing() {
    faults("[]").await;
    refuse_each(pull_cases()).await;
}

/// Replace the global `fetch` with `body` (a JS function body given `url, init`) for the
/// duration of `run`.
async fn with_fetch<F: std::future::Future<Output = ()>>(body: &str, run: F) {
    let global = js_sys::global();
    let original = Reflect::get(&global, &"fetch".into()).unwrap();
    Reflect::set(&global, &"fetch".into(), &Function::new_with_args("url, init", body)).unwrap();
    run.await;
    Reflect::set(&global, &"fetch".into(), &original).unwrap();
}

#[wasm_bindgen_test]
async fn an_endless_body_without_a_length_is_cut_off_at_the_limit() {
    // A body with no Content-Length (chunked) that never ends: the proxy always sends a
    // length, so a stand-in `fetch` serves it. Read whole, it would exhaust memory.
    let db = unique("endless");
    let client = SyncClient::open(sync_config(&db, "http://127.0.0.1:9", "x", None)).await.unwrap();
    ok(client.put(s("trips"), json(r#"{"id": "a1"}"#))).await;
    Reflect::set(&js_sys::global(), &"__pwaSyncChunks".into(), &0.into()).unwrap();
    with_fetch(
        "const chunk = new Uint8Array(1 << 20).fill(32);
         const body = new ReadableStream({ pull(c) { globalThis.__pwaSyncChunks++; c.enqueue(chunk); } });
         return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } }));",
        async {
            let (code, message) = rejection(client.sync()).await;
            assert_eq!(code, "protocol", "{message}");
            assert!(message.contains("over the"), "{message}");
        },
    )
    .await;
    let chunks = field(&js_sys::global(), "__pwaSyncChunks").as_f64().unwrap();
    assert!(chunks <= 40.0, "read {chunks} MiB of an endless body");
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0);
    assert_eq!(field(&field(&client.status(), "lastError"), "code"), "protocol");
    client.close();
    delete_db(&db).await;
}

#[wasm_bindgen_test]
async fn a_body_shorter_than_its_content_length_is_a_network_failure_in_every_engine() {
    // WebKit ends a body cut mid-way as if it were complete; Chromium and Firefox fail the
    // read. A stand-in `fetch` serves the WebKit shape everywhere: half an answer, with
    // the whole answer's Content-Length. It must be retried as `network`, not `protocol`.
    let db = unique("short");
    let client = SyncClient::open(sync_config(&db, "http://127.0.0.1:9", "x", None)).await.unwrap();
    ok(client.put(s("trips"), json(r#"{"id": "a1"}"#))).await;
    with_fetch(
        "const body = '{\"results\":[{\"status\":\"applied\",\"id\":1,\"version\":7';
         return Promise.resolve(new Response(body, { status: 200,
           headers: { 'Content-Type': 'application/json', 'Content-Length': String(body.length * 2) } }));",
        async {
            let (code, message) = rejection(client.sync()).await;
            assert_eq!(code, "network", "{message}");
            assert!(message.contains("cut off"), "{message}");
        },
    )
    .await;
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0);
    let status = client.status();
    assert_eq!(field(&field(&status, "lastError"), "code"), "network");
    assert_eq!(field(&status, "state"), "offline");
    client.close();
    delete_db(&db).await;
}

#[wasm_bindgen_test]
async fn a_pulled_page_over_32_mib_is_asked_for_again_with_half_the_limit() {
    // Large documents: a page of 2,500 is over the limit (said by its Content-Length, so
    // nothing is downloaded), a page of 1,250 is not. The sync must not be stuck on it.
    let db = unique("halved");
    let client = SyncClient::open(sync_config(&db, "http://127.0.0.1:9", "x", None)).await.unwrap();
    Reflect::set(&js_sys::global(), &"__pwaSyncPulls".into(), &Array::new()).unwrap();
    with_fetch(
        "globalThis.__pwaSyncPulls.push(url);
         if (url.includes('limit=2500')) return Promise.resolve(new Response('{}', { status: 200,
           headers: { 'Content-Type': 'application/json', 'Content-Length': '40000000' } }));
         const body = JSON.stringify({ changes: [{ collection: 'trips', key: 't1', version: 1,
           value: { id: 't1' }, hlc: '001700000000000-0000-c-x', space: 'user:x' }], checkpoint: 1, hasMore: false });
         return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } }));",
        async {
            let report = ok(client.sync()).await;
            assert_eq!(field(&report, "pulled"), 1.0);
        },
    )
    .await;
    let pulls: Vec<String> =
        Array::from(&field(&js_sys::global(), "__pwaSyncPulls")).iter().filter_map(|u| u.as_string()).collect();
    assert_eq!(pulls.len(), 2, "{pulls:?}");
    assert!(pulls[0].contains("checkpoint=0&limit=2500"), "{pulls:?}");
    assert!(pulls[1].contains("checkpoint=0&limit=1250"), "{pulls:?}");
    assert_eq!(text(&ok(client.get(s("trips"), s("t1"))).await), r#"{"id":"t1"}"#);
    assert_eq!(field(&client.status(), "state"), "synced");
    client.close();
    delete_db(&db).await;
}

#[wasm_bindgen_test]
async fn a_whole_answer_shorter_than_its_content_length_is_accepted() {
    // A Content-Length that counts encoded bytes (gzip) can exceed the decoded body, and a
    // cross-origin page does not see Content-Encoding unless the server exposes it: an
    // answer that parses is whole, whatever the length said.
    let db = unique("whole");
    let client = SyncClient::open(sync_config(&db, "http://127.0.0.1:9", "x", None)).await.unwrap();
    with_fetch(
        "const body = '{\"changes\":[],\"checkpoint\":0,\"hasMore\":false}';
         return Promise.resolve(new Response(body, { status: 200,
           headers: { 'Content-Type': 'application/json', 'Content-Length': String(body.length + 40) } }));",
        async {
            let report = ok(client.sync()).await;
            assert_eq!(field(&report, "pulled"), 0.0);
        },
    )
    .await;
    assert_eq!(field(&client.status(), "state"), "synced");
    client.close();
    delete_db(&db).await;
}

/// With `fetch` standing in as `fetch_body`, `client.sync()` must fail with `code` and a
/// message that says `says`, and keep the queued write.
async fn sync_fails_with(client: &SyncClient, fetch_body: &str, code: &str, says: &str) {
    with_fetch(fetch_body, async {
        let (got, message) = rejection(client.sync()).await;
        assert_eq!(got, code, "{message}");
        assert!(message.contains(says), "{message}");
    })
    .await;
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0);
}

/// A client of a fresh database, with one write queued.
async fn client_with_a_write(db: &str) -> SyncClient {
    let client = SyncClient::open(sync_config(db, "http://127.0.0.1:9", "x", None)).await.unwrap();
    ok(client.put(s("trips"), json(r#"{"id": "a1"}"#))).await;
    client
}

#[wasm_bindgen_test]
async fn an_error_status_is_classified_by_its_status_whatever_its_body() {
    // A 500 whose body fails half-way, and one whose body is over the size limit: both are
    // the server's failure (`server`, retried with backoff), not a network or protocol
    // one, and neither body is downloaded whole.
    let db = unique("status");
    let client = client_with_a_write(&db).await;
    let broken = "const body = new ReadableStream({ start(c) {
             c.enqueue(new TextEncoder().encode('{\"error\": \"bro'));
             c.error(new TypeError('connection reset'));
         } });
         return Promise.resolve(new Response(body, { status: 500, headers: { 'Content-Type': 'application/json' } }));";
    sync_fails_with(&client, broken, "server", "HTTP 500").await;
    let huge = "return Promise.resolve(new Response('{}', { status: 502,
           headers: { 'Content-Type': 'application/json', 'Content-Length': '40000000' } }));";
    sync_fails_with(&client, huge, "server", "HTTP 502").await;
    client.close();
    delete_db(&db).await;
}

#[wasm_bindgen_test]
async fn a_fetch_that_answers_no_response_is_a_network_failure_that_says_why() {
    // A service worker or a wrapper around `fetch` that resolves to something else: the
    // sync fails as a network failure (retried), with what went wrong in its message.
    let db = unique("noresponse");
    let client = client_with_a_write(&db).await;
    sync_fails_with(&client, "return Promise.resolve({});", "network", "TypeError").await;
    client.close();
    delete_db(&db).await;
}

#[wasm_bindgen_test]
async fn a_body_that_stalls_after_the_headers_times_out() {
    // The request deadline (`timeoutMs`) covers the body too.
    let db = unique("stall");
    let config = sync_config(&db, "http://127.0.0.1:9", "x", None);
    Reflect::set(&config, &"timeoutMs".into(), &JsValue::from(300)).unwrap();
    let client = SyncClient::open(config).await.unwrap();
    ok(client.put(s("trips"), json(r#"{"id": "a1"}"#))).await;
    with_fetch(
        "const body = new ReadableStream({ start(c) {
             init.signal.addEventListener('abort', () => c.error(new DOMException('The operation was aborted.', 'AbortError')));
         } });
         return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } }));",
        async {
            let (code, message) = rejection(client.sync()).await;
            assert_eq!(code, "timeout", "{message}");
        },
    )
    .await;
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0);
    client.close();
    delete_db(&db).await;
}

// ---- 2. bad input from the app ----

#[wasm_bindgen_test]
async fn invalid_configs_of_every_shape_reject_with_invalid_config() {
    // (api.rs has an unknown strategy and a number.)
    let name = unique("config");
    let c = |collections: &str| format!(r#"{{"name": "{name}", "collections": {collections}}}"#);
    let t = |spec: &str| c(&format!(r#"{{"trips": {spec}}}"#));
    let with = |extra: &str| format!(r#"{{"name": "{name}", {extra}, "collections": {{"trips": {{"key": "id"}}}}}}"#);
    let mut bad: Vec<(String, JsValue)> = [
        "null".to_owned(),
        r#""trips""#.into(),
        "true".into(),
        "[]".into(),
        "{}".into(),
        r#"{"collections": {"trips": {"key": "id"}}}"#.into(),
        r#"{"name": 5, "collections": {"trips": {"key": "id"}}}"#.into(),
        r#"{"name": "   ", "collections": {"trips": {"key": "id"}}}"#.into(),
        format!(r#"{{"name": "{name}"}}"#),
        c("5"),
        c("[]"),
        c("{}"),
        c(r#"[{"key": "id"}]"#),
        c(r#"[{"name": "t", "key": "id"}, {"name": "t", "key": "id"}]"#),
        c(r#"{"outbox": {"key": "id"}}"#),
        c(r#"{"meta": {"key": "id"}}"#),
        c(r#"{"": {"key": "id"}}"#),
        t(r#""id""#),
        t("{}"),
        t(r#"{"key": 5}"#),
        t(r#"{"key": ""}"#),
        t(r#"{"key": "id", "indexes": "owner"}"#),
        t(r#"{"key": "id", "indexes": ["a", "a"]}"#),
        t(r#"{"key": "id", "indexes": [""]}"#),
        t(r#"{"key": "id", "indexes": [5]}"#),
        t(r#"{"key": "id", "omit": ["id"]}"#),
        t(r#"{"key": "id", "omit": "secret"}"#),
        t(r#"{"key": "id", "indexes": ["x"], "omit": ["x"]}"#),
        t(r#"{"key": "id", "conflict": 5}"#),
        t(r#"{"key": "id", "conflict": {"arrays": {}}}"#),
        t(r#"{"key": "id", "conflict": {"strategy": "merge", "arrays": {"tags": "zip"}}}"#),
        t(r#"{"key": "id", "conflict": {"strategy": "merge", "manualFields": "title"}}"#),
        t(r#"{"key": "id", "conflict": {"strategy": "lastWriteWins", "manualWithinMs": -1}}"#),
        t(r#"{"key": "id", "event": ""}"#),
        t(r#"{"key": "id", "event": {"valueField": "v"}}"#),
        t(r#"{"key": "id", "event": {"name": "e", "valueField": ""}}"#),
        t(r#"{"key": "id", "ttlMs": -1}"#),
        t(r#"{"key": "id", "ttlMs": "1h"}"#),
        t(r#"{"key": "id", "colour": "red"}"#),
        with(r#""bogus": true"#),
        with(r#""endpoint": """#),
        with(r#""endpoint": 5"#),
        with(r#""batchSize": 0"#),
        with(r#""batchSize": -1"#),
        with(r#""batchSize": 1.5"#),
        with(r#""batchSize": "10""#),
        with(r#""auditLimit": 0"#),
        with(r#""pullIntervalMs": -5"#),
        with(r#""realtime": "yes""#),
        with(r#""autoSync": 1"#),
        with(r#""retry": 3"#),
        with(r#""retry": {"jitter": 2}"#),
        with(r#""retry": {"jitter": -0.5}"#),
        with(r#""retry": {"baseDelayMs": 10, "maxDelayMs": 1}"#),
        with(r#""retry": {"maxAttempts": -1}"#),
        with(r#""retry": {"bogus": 1}"#),
        with(r#""token": 5"#),
        with(r#""token": {}"#),
        with(r#""eventTarget": "window""#),
        with(r#""eventTarget": {}"#),
    ]
    .into_iter()
    .map(|text| (text.clone(), json(&text)))
    .collect();
    // Shapes JSON cannot write.
    let base = || json(&with(r#""realtime": false"#));
    bad.push(("undefined".into(), JsValue::UNDEFINED));
    bad.push(("a function".into(), Function::new_no_args("return 1").into()));
    let big = base();
    Reflect::set(&big, &"batchSize".into(), &js_sys::BigInt::from(10u32).into()).unwrap();
    bad.push(("batchSize: 10n".into(), big));
    let cyclic = base();
    let trips = field(&field(&cyclic, "collections"), "trips");
    Reflect::set(&trips, &"self".into(), &trips).unwrap();
    bad.push(("a cycle".into(), cyclic));
    let dated = base();
    Reflect::set(&dated, &"pullIntervalMs".into(), &js_sys::Date::new_0().into()).unwrap();
    bad.push(("pullIntervalMs: a Date".into(), dated));
    // A config whose reading throws (a getter) is refused, not thrown through the module.
    let getter = Function::new_with_args(
        "base",
        "return Object.defineProperty(base, 'token', { get() { throw new Error('no token') }, enumerable: true })",
    );
    bad.push(("a throwing getter".into(), getter.call1(&JsValue::NULL, &base()).unwrap()));

    for (what, config) in bad {
        let err = SyncClient::open(config).await.err().unwrap_or_else(|| panic!("{what} was accepted"));
        let (code, message) = error_parts(&err);
        assert_eq!(code, "invalid-config", "{what}: {message}");
        assert!(message.len() > "invalid config: ".len(), "{what}: {message}");
    }
    // Nothing was created along the way: a valid config opens a fresh database.
    let client = SyncClient::open(json(&c(r#"{"trips": {"key": "id"}}"#))).await.unwrap();
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 0.0);
    client.close();
    delete_db(&name).await;
}

#[wasm_bindgen_test]
async fn values_keys_and_queries_of_the_wrong_shape_reject_and_write_nothing() {
    // (api.rs covers puts of non-objects, cycles, BigInt and a few key types.)
    let name = unique("values");
    let (target, seen) = recorder(&["pwa-sync:change"]);
    let config =
        json(&format!(r#"{{"name": "{name}", "collections": {{"trips": {{"key": "id", "indexes": ["owner"]}}}}}}"#));
    Reflect::set(&config, &"eventTarget".into(), &target).unwrap();
    let client = SyncClient::open(config).await.unwrap();
    ok(client.put(s("trips"), json(r#"{"id": "t1", "owner": "ana"}"#))).await;
    seen.borrow_mut().clear();

    let keys: Vec<(&str, JsValue)> = vec![
        ("undefined", JsValue::UNDEFINED),
        ("null", JsValue::NULL),
        ("a number", JsValue::from(1)),
        ("NaN", JsValue::from(f64::NAN)),
        ("true", JsValue::TRUE),
        ("an object", json(r#"{"id": "t1"}"#)),
        ("an array", json(r#"["t1"]"#)),
        ("empty", s("")),
        ("a symbol", js_sys::Symbol::for_("t1").into()),
        ("a String object", js("", "return new String('t1')", &[]).await),
    ];
    for (what, key) in &keys {
        for (op, promise) in [
            ("get", client.get(s("trips"), key.clone())),
            ("getFresh", client.get_fresh(s("trips"), key.clone(), JsValue::UNDEFINED)),
            ("patch", client.patch(s("trips"), key.clone(), json(r#"{"n": 1}"#))),
            ("delete", client.delete(s("trips"), key.clone())),
        ] {
            assert_eq!(code(promise).await, "invalid-value", "{op} with a key that is {what}");
        }
    }
    let throwing_json = js("", "return { id: 't2', toJSON() { throw new Error('no') } }", &[]).await;
    let throwing_getter = js("", "return { id: 't2', get n() { throw new Error('no') } }", &[]).await;
    let deep = js("", "let v = {id: 't2'}; for (let i = 0; i < 300; i++) v = {id: 't2', v}; return v;", &[]).await;
    let very_deep = js("", "let v = {}; for (let i = 0; i < 200000; i++) v = {v}; v.id = 't2'; return v;", &[]).await;
    let values: Vec<(&str, JsValue)> = vec![
        ("key true", json(r#"{"id": true}"#)),
        ("key null", json(r#"{"id": null}"#)),
        ("key an object", json(r#"{"id": {"k": "t2"}}"#)),
        ("key an array", json(r#"{"id": ["t2"]}"#)),
        ("a Date", js_sys::Date::new_0().into()),
        ("a Map", js("", "return new Map([['id', 't2']])", &[]).await),
        ("a symbol", js_sys::Symbol::for_("t2").into()),
        ("a function", Function::new_no_args("return 1").into()),
        ("toJSON throws", throwing_json),
        ("a getter throws", throwing_getter),
        ("nested 300 deep", deep),
        ("nested 200000 deep", very_deep),
    ];
    for (what, value) in &values {
        assert_eq!(code(client.put(s("trips"), value.clone())).await, "invalid-value", "put of {what}");
    }
    for (what, partial) in [
        ("an array", json("[1]")),
        ("a string", s("x")),
        ("a number", JsValue::from(5)),
        ("null", JsValue::NULL),
        ("undefined", JsValue::UNDEFINED),
        ("true", JsValue::TRUE),
        ("a key change", json(r#"{"id": "t9"}"#)),
        ("a key of another type", json(r#"{"id": 5}"#)),
    ] {
        assert_eq!(code(client.patch(s("trips"), s("t1"), partial)).await, "invalid-value", "patch with {what}");
    }
    for (what, collection) in [("null", JsValue::NULL), ("undefined", JsValue::UNDEFINED), ("an object", json("{}"))] {
        assert_eq!(
            code(client.put(collection.clone(), json(r#"{"id": "t3"}"#))).await,
            "invalid-value",
            "collection {what}"
        );
        assert_eq!(
            code(client.list(collection, JsValue::UNDEFINED)).await,
            "invalid-value",
            "list of collection {what}"
        );
    }
    for (what, query) in [
        ("a string", s("owner")),
        ("a number", JsValue::from(3)),
        ("limit as a string", json(r#"{"limit": "5"}"#)),
        ("limit 1.5", json(r#"{"limit": 1.5}"#)),
        ("index as a number", json(r#"{"index": 5, "equals": "ana"}"#)),
        ("equals without index", json(r#"{"equals": "ana"}"#)),
    ] {
        assert_eq!(code(client.list(s("trips"), query)).await, "invalid-value", "list with {what}");
    }
    for options in [JsValue::UNDEFINED, JsValue::NULL, json(r#"{"format": 5}"#)] {
        assert_eq!(code(client.export_data(options)).await, "invalid-value");
    }
    // Nothing was written, announced or queued; the client still works.
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0);
    assert_eq!(text(&ok(client.list(s("trips"), JsValue::UNDEFINED)).await), r#"[{"id":"t1","owner":"ana"}]"#);
    ok(client.patch(s("trips"), s("t1"), json(r#"{"n": 1}"#))).await;
    client.close();
    delete_db(&name).await;
}

// ---- 3. bad input from storage ----

fn local_config(db: &str, target: &EventTarget) -> JsValue {
    let config =
        json(&format!(r#"{{"name": "{db}", "collections": {{"trips": {{"key": "id", "indexes": ["owner"]}}}}}}"#));
    Reflect::set(&config, &"eventTarget".into(), target).unwrap();
    config
}

/// A written value's copy is measured for depth in `js/values.js`: the same verdicts as
/// the core's `nests_deeper_than`, brackets inside strings and escapes included.
#[wasm_bindgen_test]
fn the_values_script_measures_depth_as_the_core_does() {
    use pwa_sync::value::script_nests_deeper_than;
    use pwa_sync_core::value::nests_deeper_than;
    let nested = |depth: usize, open: &str, close: &str| format!("{}{}", open.repeat(depth), close.repeat(depth));
    let mut texts = Vec::new();
    for depth in [0, 1, 2, 3, 60, 119, 120, 121, 122, 300] {
        texts.push(nested(depth, "[", "]"));
        texts.push(nested(depth, r#"{"a":"#, "}"));
        texts.push(format!("[{}]", nested(depth, "[1,", "]").repeat(2)));
    }
    let brackets = nested(130, "[", "]");
    texts.push(format!(r#"["{}"]"#, "[".repeat(300)));
    texts.push(format!(r#"[""{}"]"#, "[".repeat(300)));
    texts.push(format!(r#"["\"{brackets}]"#));
    texts.push(format!(r#"["\"{brackets}"]"#));
    texts.push(format!(r#"{{"k{{[": "]}}", "v": {brackets}}}"#));
    texts.push("[1],".repeat(500));
    let mut deeper = 0;
    for text in &texts {
        for max in [2, 3, 120] {
            let core = nests_deeper_than(text, max);
            deeper += usize::from(core);
            let start: String = text.chars().take(60).collect();
            assert_eq!(script_nests_deeper_than(text, max), core, "max {max}, {} chars: {start}", text.len());
        }
    }
    assert!(deeper > 20 && deeper < texts.len() * 3 - 20, "both verdicts present: {deeper} deeper");
}

#[wasm_bindgen_test]
async fn corrupted_records_are_skipped_and_reported_by_list_get_and_export() {
    let db = unique("corrupt");
    let (target, seen) = recorder(&["pwa-sync:storage-error"]);
    let client = SyncClient::open(local_config(&db, &target)).await.unwrap();
    for id in ["t1", "t3"] {
        ok(client.put(s("trips"), json(&format!(r#"{{"id": "{id}", "owner": "ana"}}"#)))).await;
    }
    // Not records of ours: a number as value, and a good value with metadata of the wrong type.
    raw_put(&db, "trips", r#"{"key": "t2", "value": 5, "version": "x"}"#, None).await;
    raw_put(
        &db,
        "trips",
        r#"{"key": "t4", "value": {"id": "t4", "owner": "ana"}, "version": "x", "pending": -1}"#,
        None,
    )
    .await;
    let ids =
        |list: JsValue| Array::from(&list).iter().map(|v| field(&v, "id").as_string().unwrap()).collect::<Vec<_>>();

    assert_eq!(ids(ok(client.list(s("trips"), JsValue::UNDEFINED)).await), ["t1", "t3"]);
    let errors = storage_errors(&seen);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|(code, _)| code == "storage"), "{errors:?}");
    assert!(errors[0].1.contains("trips/t2") && errors[1].1.contains("trips/t4"), "{errors:?}");
    seen.borrow_mut().clear();

    assert_eq!(ids(ok(client.list(s("trips"), json(r#"{"index": "owner", "equals": "ana"}"#))).await), ["t1", "t3"]);
    assert_eq!(storage_errors(&seen).len(), 1, "t4 is indexed under ana and skipped");
    assert_eq!(
        ids(ok(client.list(s("trips"), json(r#"{"limit": 2}"#))).await),
        ["t1", "t3"],
        "unreadable records take no place in a limit"
    );
    seen.borrow_mut().clear();
    // A query reads the index (t4 is under ana) and a scan every record: the same skips.
    let records = |page: JsValue| Reflect::get(&page, &"records".into()).unwrap();
    let by_owner = ok(client.query(s("trips"), json(r#"{"where": {"owner": "ana"}}"#))).await;
    assert_eq!(ids(records(by_owner)), ["t1", "t3"]);
    assert_eq!(storage_errors(&seen).len(), 1, "t4 skipped by the query");
    let all = ok(client.query(s("trips"), json("{}"))).await;
    assert_eq!(ids(records(all)), ["t1", "t3"]);
    assert_eq!(storage_errors(&seen).len(), 3, "t2 and t4 skipped by the scan");
    seen.borrow_mut().clear();

    let (code, message) = rejection(client.get(s("trips"), s("t2"))).await;
    assert_eq!(code, "storage");
    assert!(message.contains("trips/t2"), "{message}");
    assert_eq!(storage_errors(&seen).len(), 1);
    // A good value under metadata of the wrong type: the metadata check alone refuses it.
    let (code, message) = rejection(client.get(s("trips"), s("t4"))).await;
    assert_eq!(code, "storage");
    assert!(message.contains("trips/t4"), "{message}");
    assert_eq!(storage_errors(&seen).len(), 2);
    assert_eq!(field(&ok(client.get(s("trips"), s("t1"))).await, "owner"), "ana");
    seen.borrow_mut().clear();

    let exported = ok(client.export_data(json(r#"{"format": "json"}"#))).await.as_string().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(parsed["collections"]["trips"].as_array().unwrap().len(), 2, "{exported}");
    let csv = ok(client.export_data(json(r#"{"format": "csv"}"#))).await.as_string().unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert_eq!(storage_errors(&seen).len(), 4, "two skipped per export");
    // The readable records still take writes, and the pending writes are intact.
    ok(client.patch(s("trips"), s("t1"), json(r#"{"n": 1}"#))).await;
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 2.0);
    client.close();
    delete_db(&db).await;
}

#[wasm_bindgen_test]
async fn a_corrupted_outbox_entry_stays_queued_and_reported_while_the_rest_syncs() {
    let user = unique("u");
    let db = unique("outbox");
    let (target, seen) = recorder(&["pwa-sync:storage-error"]);
    let config = sync_config(&db, server(), &user, Some(&target));
    let client = SyncClient::open(config).await.unwrap();
    ok(client.put(s("trips"), json(r#"{"id": "t1"}"#))).await;
    raw_put(&db, "outbox", r#"{"id": 99, "collection": "trips", "key": "zz", "op": "teleport"}"#, None).await;
    assert_eq!(
        ok(client.pending(JsValue::UNDEFINED)).await,
        2.0,
        "an entry that cannot be read still counts as waiting"
    );
    let result = ok(client.sync()).await;
    assert_eq!(field(&result, "pushed"), 1.0);
    // Kept (it may be a write of the user's), and never sent.
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0);
    ok(client.list(s("trips"), JsValue::UNDEFINED)).await;
    let errors = storage_errors(&seen);
    assert!(errors.iter().any(|(code, m)| code == "storage" && m.contains("outbox/99")), "{errors:?}");
    assert!(ok(client.sync()).await.is_object(), "the next sync is not blocked by it");
    client.close();
    delete_db(&db).await;
}

#[wasm_bindgen_test]
async fn corrupted_metadata_fails_syncs_and_opens_with_storage_keeps_writes_and_wipes_nothing() {
    let user = unique("u");
    let db = unique("meta");
    let (target, seen) = recorder(&["pwa-sync:storage-error", "pwa-sync:status"]);
    let client = SyncClient::open(sync_config(&db, server(), &user, Some(&target))).await.unwrap();
    ok(client.put(s("trips"), json(r#"{"id": "t1", "n": 1}"#))).await;
    raw_put(&db, "meta", r#""garbage""#, Some("client")).await;
    seen.borrow_mut().clear();

    // A local write does not read the metadata (ids come from the outbox's key
    // generator): it is kept, and queued.
    ok(client.put(s("trips"), json(r#"{"id": "t2"}"#))).await;
    assert!(storage_errors(&seen).is_empty());
    assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 2.0);
    // (Refused before the sync starts: `Client::sync_here` reads the metadata with `?`,
    // so the status and the storage-error event do not show it.)
    assert_eq!(self::code(client.sync()).await, "storage");
    // Reading does not need the metadata.
    assert_eq!(field(&ok(client.get(s("trips"), s("t1"))).await, "n"), 1.0);
    client.close();

    // Opening again refuses clearly, and wipes nothing.
    let err = SyncClient::open(sync_config(&db, server(), &user, None)).await.err().expect("open must fail");
    let (code, message) = error_parts(&err);
    assert_eq!(code, "storage");
    assert!(message.contains("metadata"), "{message}");
    assert_eq!(field(&field(&raw_get(&db, "trips", "t1").await, "value"), "n"), 1.0);
    assert_eq!(field(&field(&raw_get(&db, "trips", "t2").await, "value"), "id"), "t2");
    assert_eq!(raw_get(&db, "meta", "client").await, "garbage");
    delete_db(&db).await;
}

/// Make `put` and `add` of `IDBObjectStore.prototype` on `outbox` fail as a full disk does, until the
/// returned function is called. `abort`: as Chrome near the quota, the transaction
/// aborts after the requests were made, its `error` a `QuotaExceededError` (the requests'
/// own errors are `AbortError`); otherwise `put` throws the `QuotaExceededError`.
async fn quota_full(abort: bool) -> Function {
    js(
        "abort",
        "const proto = IDBObjectStore.prototype;
         const originals = { put: proto.put, add: proto.add };
         const quota = () => new DOMException('simulated: the storage quota is exhausted', 'QuotaExceededError');
         for (const [name, original] of Object.entries(originals)) {
             proto[name] = function (...args) {
                 if (this.name !== 'outbox') return original.apply(this, args);
                 if (!abort) throw quota();
                 const request = original.apply(this, args);
                 const tx = this.transaction;
                 Object.defineProperty(tx, 'error', { get: quota, configurable: true });
                 queueMicrotask(() => { try { tx.abort(); } catch (e) {} });
                 return request;
             };
         }
         return () => { Object.assign(proto, originals); };",
        &[JsValue::from(abort)],
    )
    .await
    .unchecked_into()
}

#[wasm_bindgen_test]
async fn a_full_quota_rejects_the_write_with_quota_exceeded_and_writes_nothing() {
    // A real quota is out of reach in a bounded test (headless Chromium and Firefox both
    // report a 10 GiB quota from `navigator.storage.estimate()`), so the browser's error
    // is simulated at the IndexedDB API.
    for abort in [true, false] {
        let db = unique("quota");
        let (target, seen) = recorder(&["pwa-sync:storage-error", "pwa-sync:change"]);
        let client = SyncClient::open(local_config(&db, &target)).await.unwrap();
        ok(client.put(s("trips"), json(r#"{"id": "t1", "n": 1}"#))).await;
        let core = ClientConfig::from_json(
            serde_json::json!({"name": db, "collections": {"trips": {"key": "id", "indexes": ["owner"]}}}),
        )
        .unwrap();
        let store = IdbStore::open(&core).await.unwrap();
        seen.borrow_mut().clear();

        let restore = quota_full(abort).await;
        let mut outcomes = Vec::new();
        for promise in [
            client.put(s("trips"), json(r#"{"id": "t2", "n": 2}"#)),
            client.patch(s("trips"), s("t1"), json(r#"{"n": 5}"#)),
            client.put(s("trips"), json(r#"{"id": "t1", "n": 9}"#)),
        ] {
            outcomes.push(JsFuture::from(promise).await);
        }
        // Put back before anything can panic: later tests need a working IndexedDB.
        restore.call0(&JsValue::NULL).unwrap();
        for outcome in outcomes {
            let err = outcome.expect_err("a write into a full quota succeeded");
            let (code, message) = error_parts(&err);
            assert_eq!(code, "quota-exceeded", "abort {abort}: {message}");
        }

        let names: Vec<String> = seen.borrow().iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, ["pwa-sync:storage-error"; 3], "abort {abort}: no change announced");
        assert!(storage_errors(&seen).iter().all(|(c, _)| c == "quota-exceeded"));
        // Nothing half-written: no record, no outbox entry.
        assert!(ok(client.get(s("trips"), s("t2"))).await.is_undefined());
        assert_eq!(field(&ok(client.get(s("trips"), s("t1"))).await, "n"), 1.0);
        assert_eq!(ok(client.pending(JsValue::UNDEFINED)).await, 1.0);
        assert!(store.get("trips", "t2").await.unwrap().is_none());
        // With room again, the same write goes through.
        ok(client.put(s("trips"), json(r#"{"id": "t2", "n": 2}"#))).await;
        let outbox = store.outbox(10).await.unwrap();
        assert_eq!(outbox.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["t1", "t2"]);
        assert!(outbox[1].id > 1, "{:?}", outbox[1].id);
        store.close();
        client.close();
        delete_db(&db).await;
    }
}

#[wasm_bindgen_test]
async fn without_indexeddb_open_fails_clearly_with_storage() {
    let global = js_sys::global();
    let name = unique("noidb");
    let config = || json(&format!(r#"{{"name": "{name}", "collections": {{"trips": {{"key": "id"}}}}}}"#));
    let shadows: Vec<(&str, Object)> = vec![
        ("undefined", json(r#"{"value": null, "configurable": true, "writable": true}"#).unchecked_into()),
        ("not a factory", json(r#"{"value": {}, "configurable": true, "writable": true}"#).unchecked_into()),
        (
            "throwing on access",
            js("", "return { get() { throw new DOMException('The operation is insecure.', 'SecurityError'); }, configurable: true };", &[])
                .await
                .unchecked_into(),
        ),
    ];
    for (what, descriptor) in shadows {
        if what == "undefined" {
            Reflect::set(&descriptor, &"value".into(), &JsValue::UNDEFINED).unwrap();
        }
        // On a window `indexedDB` is an own accessor of the global (a [Global] interface);
        // in workers it is inherited. Put back exactly what was there.
        let original = Reflect::get_own_property_descriptor(&global, &"indexedDB".into()).unwrap();
        assert!(Reflect::define_property(&global, &"indexedDB".into(), &descriptor).unwrap(), "{what}");
        let result = SyncClient::open(config()).await;
        if original.is_object() {
            assert!(
                Reflect::define_property(&global, &"indexedDB".into(), original.unchecked_ref()).unwrap(),
                "{what}"
            );
        } else {
            assert!(Reflect::delete_property(&global, &"indexedDB".into()).unwrap(), "{what}");
        }
        assert!(field(&global, "indexedDB").is_object(), "{what}: indexedDB was not restored");
        let err = result.err().unwrap_or_else(|| panic!("{what}: open succeeded"));
        let (code, message) = error_parts(&err);
        assert_eq!(code, "storage", "{what}: {message}");
        assert!(message.contains("IndexedDB"), "{what}: {message}");
    }
    // Restored: the same config opens.
    let client = SyncClient::open(config()).await.unwrap();
    client.close();
    delete_db(&name).await;
}

// ---- 4. upgrades ----

#[wasm_bindgen_test]
async fn a_new_app_version_upgrades_while_an_old_tab_stays_open_and_keeps_working() {
    let db = unique("upgrade");
    let older = format!(r#"{{"name": "{db}", "collections": {{"trips": {{"key": "id", "indexes": ["owner"]}}}}}}"#);
    let newer = format!(
        r#"{{"name": "{db}", "collections": {{"trips": {{"key": "id", "indexes": ["owner", "year"]}}, "packing": {{"key": "id", "indexes": ["tripId"]}}}}}}"#
    );
    let ids =
        |list: JsValue| Array::from(&list).iter().map(|v| field(&v, "id").as_string().unwrap()).collect::<Vec<_>>();
    let old = SyncClient::open(json(&older)).await.unwrap();
    ok(old.put(s("trips"), json(r#"{"id": "t1", "owner": "ana", "year": 2024}"#))).await;
    ok(old.put(s("trips"), json(r#"{"id": "t2", "owner": "bo", "year": 2025}"#))).await;

    // The new version opens while the old one is open: not blocked, nothing lost, the new
    // index covers the old records.
    let new = SyncClient::open(json(&newer)).await.unwrap();
    assert_eq!(field(&ok(new.get(s("trips"), s("t1"))).await, "owner"), "ana");
    assert_eq!(ids(ok(new.list(s("trips"), json(r#"{"index": "year", "equals": 2024}"#))).await), ["t1"]);
    ok(new.put(s("packing"), json(r#"{"id": "p1", "tripId": "t1"}"#))).await;
    assert_eq!(ids(ok(new.list(s("packing"), json(r#"{"index": "tripId", "equals": "t1"}"#))).await), ["p1"]);

    // The old tab goes on working on the upgraded database.
    ok(old.put(s("trips"), json(r#"{"id": "t3", "owner": "ana"}"#))).await;
    ok(old.patch(s("trips"), s("t1"), json(r#"{"title": "Lisbon"}"#))).await;
    assert_eq!(ids(ok(old.list(s("trips"), json(r#"{"index": "owner", "equals": "ana"}"#))).await), ["t1", "t3"]);
    assert_eq!(code(old.get(s("packing"), s("p1"))).await, "unknown-collection");
    assert_eq!(
        ok(old.pending(JsValue::UNDEFINED)).await,
        4.0,
        "t1 (patched into its queued put), t2, t3 and the new tab's p1"
    );
    let exported = ok(old.export_data(json(r#"{"format": "json"}"#))).await.as_string().unwrap();
    assert!(exported.contains("Lisbon") && !exported.contains("p1"), "{exported}");
    // And the new one sees the old one's writes.
    assert_eq!(field(&ok(new.get(s("trips"), s("t1"))).await, "title"), "Lisbon");
    assert_eq!(ids(ok(new.list(s("trips"), JsValue::UNDEFINED)).await), ["t1", "t2", "t3"]);
    assert_eq!(ok(new.pending(JsValue::UNDEFINED)).await, 4.0);

    // Reopened, each version finds everything it knows.
    old.close();
    new.close();
    let old = SyncClient::open(json(&older)).await.unwrap();
    assert_eq!(ids(ok(old.list(s("trips"), JsValue::UNDEFINED)).await), ["t1", "t2", "t3"]);
    old.close();
    let new = SyncClient::open(json(&newer)).await.unwrap();
    assert_eq!(ids(ok(new.list(s("packing"), JsValue::UNDEFINED)).await), ["p1"]);
    assert_eq!(ids(ok(new.list(s("trips"), json(r#"{"index": "year", "equals": 2025}"#))).await), ["t2"]);
    new.close();
    delete_db(&db).await;
}

#[wasm_bindgen_test]
async fn an_old_tab_syncing_during_an_upgrade_loses_nothing_for_the_new_one() {
    let user = unique("u");
    let (db, device_db) = (unique("upsync"), unique("device"));
    let cfg = |db: &str, collections: &str| {
        json(&format!(
            r#"{{"name": "{db}", "endpoint": "{}/sync", "autoSync": false, "token": "dev:{user}", "collections": {collections}}}"#,
            server()
        ))
    };
    let (older, newer) = (r#"{"trips": {"key": "id"}}"#, r#"{"trips": {"key": "id"}, "packing": {"key": "id"}}"#);
    let old = step("open old", SyncClient::open(cfg(&db, older))).await.unwrap();
    step("old syncs", ok(old.sync())).await;
    let new = step("open new (upgrade)", SyncClient::open(cfg(&db, newer))).await.unwrap();
    // Another device of the user writes both collections.
    let device = step("open device", SyncClient::open(cfg(&device_db, newer))).await.unwrap();
    step("device puts p1", ok(device.put(s("packing"), json(r#"{"id": "p1"}"#)))).await;
    step("device puts t1", ok(device.put(s("trips"), json(r#"{"id": "t1"}"#)))).await;
    step("device syncs", ok(device.sync())).await;

    // The old tab syncs first: it must not move the shared checkpoint past the packing
    // change it does not store (the new tab would never pull it).
    let by_old = step("old syncs after the upgrade", ok(old.sync())).await;
    step("new puts p2", ok(new.put(s("packing"), json(r#"{"id": "p2"}"#)))).await;
    let result = step("new syncs", ok(new.sync())).await;
    assert_eq!(field(&result, "pushed"), 1.0);
    assert_eq!(
        field(&step("new gets p1", ok(new.get(s("packing"), s("p1")))).await, "id"),
        "p1",
        "the new tab missed a change"
    );
    assert_eq!(field(&by_old, "pulled"), 0.0, "the checkpoint belongs to the new version");
    assert_eq!(field(&step("new gets t1", ok(new.get(s("trips"), s("t1")))).await, "id"), "t1");
    // The old tab sees what the new one pulled, through the shared database.
    assert_eq!(field(&step("old gets t1", ok(old.get(s("trips"), s("t1")))).await, "id"), "t1");
    assert_eq!(step("old pending", ok(old.pending(JsValue::UNDEFINED))).await, 0.0);
    step("device syncs again", ok(device.sync())).await;
    assert_eq!(field(&step("device gets p2", ok(device.get(s("packing"), s("p2")))).await, "id"), "p2");
    for client in [old, new, device] {
        client.close();
    }
    step("delete the shared database", delete_db(&db)).await;
    step("delete the device's database", delete_db(&device_db)).await;
}

#[wasm_bindgen_test]
async fn a_database_of_a_newer_storage_format_is_refused_and_not_wiped() {
    let db = unique("downgrade");
    let config = || json(&format!(r#"{{"name": "{db}", "collections": {{"trips": {{"key": "id"}}}}}}"#));
    let client = SyncClient::open(config()).await.unwrap();
    ok(client.put(s("trips"), json(r#"{"id": "t1", "n": 1}"#))).await;
    client.close();
    // A newer version of the library wrote its format number.
    let meta = raw_get(&db, "meta", "client").await;
    Reflect::set(&meta, &"format".into(), &JsValue::from(STORAGE_FORMAT + 1)).unwrap();
    raw_put(&db, "meta", &text(&meta), Some("client")).await;

    for _ in 0..2 {
        let err = SyncClient::open(config()).await.err().expect("an older library must refuse");
        let (code, message) = error_parts(&err);
        assert_eq!(code, "schema-downgrade", "{message}");
        assert!(message.contains(&(STORAGE_FORMAT + 1).to_string()), "{message}");
    }
    // Nothing was wiped or rewritten.
    assert_eq!(field(&field(&raw_get(&db, "trips", "t1").await, "value"), "n"), 1.0);
    assert_eq!(field(&raw_get(&db, "meta", "client").await, "format"), f64::from(STORAGE_FORMAT + 1));
    assert_eq!(js("db", "return new Promise(r => { const o = indexedDB.open(db); o.onsuccess = () => { r(o.result.objectStoreNames.contains('outbox')); o.result.close(); }; })", &[s(&db)]).await, JsValue::TRUE);
    delete_db(&db).await;
}

#[wasm_bindgen_test]
fn any_thrown_value_is_described_for_a_message() {
    use pwa_sync::error::describe;
    let thrown = |source: &str| Function::new_no_args(&format!("return {source}")).call0(&JsValue::NULL).unwrap();
    assert_eq!(describe(&thrown("new TypeError('bad token')")), "TypeError: bad token");
    assert_eq!(describe(&thrown("new DOMException('gone', 'AbortError')")), "AbortError: gone");
    assert_eq!(describe(&thrown("'plain text'")), "plain text");
    // Anything else is named by its text (the scripts' `describe`, which never throws: an
    // object without `toString` is "a value that cannot be shown").
    let cannot = "a value that cannot be shown";
    for (source, shown) in [("42", "42"), ("Symbol('s')", "Symbol(s)"), ("Object.create(null)", cannot)] {
        let described = describe(&thrown(source));
        assert!(described.contains(shown), "{source}: {described}");
    }
}
