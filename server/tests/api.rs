//! Protocol v1 against the real router on 127.0.0.1:0. Every test body runs once per
//! backend: `sqlite::NAME` always, `postgres::NAME` against a fresh database when
//! PWA_SYNC_TEST_POSTGRES is set. The PostgreSQL ones are `#[ignore]`d so that a plain
//! `cargo test` reports them as not run; `make test-host` runs them through
//! `scripts/with-postgres.sh ... -- --include-ignored`.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use pwa_sync_server::auth::AuthMode;
use reqwest::StatusCode;
use serde_json::{json, Value};

macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh (make test-host does)"]
                async fn $name() {
                    let backend = crate::common::Backend::postgres()
                        .unwrap_or_else(|| panic!("{} is not set: run through scripts/with-postgres.sh", crate::common::POSTGRES_ENV));
                    super::$name(backend).await
                }
            )*
        }
    };
}

per_backend!(
    stamps_from_the_future_are_clamped,
    push_pull_round_trip,
    conflict_answer_carries_server_state,
    own_earlier_mutation_is_not_a_conflict,
    patch_and_delete_semantics,
    validation_rejections_are_recorded,
    duplicate_batch_is_answered_as_before_and_applied_once,
    concurrent_duplicate_batches_apply_once,
    checkpoints_page_through_many_changes,
    pull_filters_collections,
    concurrent_pushes_get_distinct_versions_in_commit_order,
    hot_key_compare_and_set_is_linearizable,
    users_are_isolated,
    client_id_belongs_to_its_first_user,
    unauthorized_requests_get_401,
    jwt_tokens_are_checked,
    protocol_header_is_required,
    oversized_bodies_and_batches_get_413,
    malformed_requests_get_400,
    health_reports_counts,
    events_poke_after_a_push,
    events_accept_query_token,
    unknown_routes_answer_json,
);

async fn push_pull_round_trip(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let resp = api
        .push_ok("alice", &batch("c-1", vec![put(1, "trips", "t1", json!({"title": "Rome"}), None), put(2, "trips", "t2", json!({"title": "Oslo"}), None)]))
        .await;
    let (v1, v2) = (version_of(&resp, 0), version_of(&resp, 1));
    assert!(v1 >= 1 && v2 > v1);
    assert_eq!(resp["lastMutationId"], 2);
    let page = api.pull_ok("alice", 0, 500).await;
    assert_eq!(
        page,
        json!({"changes": [
            {"collection": "trips", "key": "t1", "version": v1, "value": {"title": "Rome"}, "hlc": hlc(1)},
            {"collection": "trips", "key": "t2", "version": v2, "value": {"title": "Oslo"}, "hlc": hlc(2)}],
            "checkpoint": v2, "hasMore": false})
    );
    // Nothing new after the checkpoint: the checkpoint stays.
    assert_eq!(api.pull_ok("alice", v2, 500).await, json!({"changes": [], "checkpoint": v2, "hasMore": false}));
    // An update with the right base version.
    let resp = api.push_ok("alice", &batch("c-1", vec![put(3, "trips", "t1", json!({"title": "Roma"}), Some(v1))])).await;
    let v3 = version_of(&resp, 0);
    assert!(v3 > v2);
    let page = api.pull_ok("alice", v2, 500).await;
    assert_eq!(page["changes"], json!([{"collection": "trips", "key": "t1", "version": v3, "value": {"title": "Roma"}, "hlc": hlc(3)}]));
}

async fn conflict_answer_carries_server_state(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let v1 = version_of(&api.push_ok("alice", &batch("c-1", vec![put(1, "trips", "t1", json!({"n": 1}), None)])).await, 0);
    let v2 = version_of(&api.push_ok("alice", &batch("c-2", vec![put(1, "trips", "t1", json!({"n": 2}), Some(v1))])).await, 0);
    // c-1 still thinks v1 is current.
    let resp = api.push_ok("alice", &batch("c-1", vec![put(2, "trips", "t1", json!({"n": 3}), Some(v1))])).await;
    assert_eq!(resp["results"][0], json!({"id": 2, "status": "conflict", "server": {"version": v2, "value": {"n": 2}, "hlc": hlc(1)}}));
    assert_eq!(resp["lastMutationId"], 2);
    // A key that exists, written as if new.
    let resp = api.push_ok("alice", &batch("c-3", vec![put(1, "trips", "t1", json!({"n": 4}), None)])).await;
    assert_eq!(resp["results"][0]["status"], "conflict");
    assert_eq!(resp["results"][0]["server"]["version"], v2);
    // Not applied: the pull still shows n = 2.
    let page = api.pull_ok("alice", 0, 500).await;
    assert_eq!(page["changes"][0]["value"], json!({"n": 2}));
    // After a delete, the conflict carries the tombstone (value null).
    let v3 = version_of(&api.push_ok("alice", &batch("c-2", vec![delete(2, "trips", "t1", Some(v2))])).await, 0);
    let resp = api.push_ok("alice", &batch("c-1", vec![put(3, "trips", "t1", json!({"n": 5}), Some(v2))])).await;
    assert_eq!(resp["results"][0]["server"], json!({"version": v3, "value": null, "hlc": hlc(2)}));
}

async fn own_earlier_mutation_is_not_a_conflict(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    // One batch: create, then two edits built on the client's own unacknowledged write.
    let resp = api
        .push_ok(
            "alice",
            &batch("c-1", vec![
                put(1, "trips", "t1", json!({"title": "Rome", "days": 3}), None),
                patch(2, "trips", "t1", json!({"days": 4}), None),
                put(3, "trips", "t1", json!({"title": "Roma", "days": 4}), None),
            ]),
        )
        .await;
    let (a, b, c) = (version_of(&resp, 0), version_of(&resp, 1), version_of(&resp, 2));
    assert!(a < b && b < c);
    // A later batch still built on mutation 3 (the client has not seen version c yet).
    let resp = api.push_ok("alice", &batch("c-1", vec![patch(4, "trips", "t1", json!({"days": 5}), None)])).await;
    let d = version_of(&resp, 0);
    assert_eq!(api.pull_ok("alice", c, 10).await["changes"][0]["value"], json!({"title": "Roma", "days": 5}));
    // Another client's write in between makes c-1's stale base a conflict again.
    let e = version_of(&api.push_ok("alice", &batch("c-2", vec![patch(1, "trips", "t1", json!({"days": 6}), Some(d))])).await, 0);
    let resp = api.push_ok("alice", &batch("c-1", vec![patch(5, "trips", "t1", json!({"days": 7}), Some(c))])).await;
    assert_eq!(resp["results"][0]["status"], "conflict");
    assert_eq!(resp["results"][0]["server"]["version"], e);
}

async fn patch_and_delete_semantics(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let resp = api.push_ok("alice", &batch("c-1", vec![patch(1, "trips", "nope", json!({"a": 1}), None)])).await;
    assert_eq!(resp["results"][0]["status"], "rejected");
    assert_eq!(resp["results"][0]["code"], "not-found");
    let v1 = version_of(
        &api.push_ok("alice", &batch("c-1", vec![put(2, "trips", "t1", json!({"a": 1, "m": {"x": 1, "y": 2}}), None)])).await,
        0,
    );
    let v2 = version_of(&api.push_ok("alice", &batch("c-2", vec![patch(1, "trips", "t1", json!({"b": 2, "m": {"x": null}}), Some(v1))])).await, 0);
    let page = api.pull_ok("alice", v1, 10).await;
    assert_eq!(page["changes"][0]["value"], json!({"a": 1, "b": 2, "m": {"y": 2}}));
    // Delete: a tombstone with a new version, visible in pulls with value null.
    let v3 = version_of(&api.push_ok("alice", &batch("c-2", vec![delete(2, "trips", "t1", Some(v2))])).await, 0);
    assert!(v3 > v2);
    let page = api.pull_ok("alice", v2, 10).await;
    assert_eq!(page["changes"], json!([{"collection": "trips", "key": "t1", "version": v3, "value": null, "hlc": hlc(2)}]));
    assert_eq!(api.pull_ok("alice", 0, 10).await["changes"].as_array().unwrap().len(), 1);
    // Patch of a tombstone: not-found.
    let resp = api.push_ok("alice", &batch("c-2", vec![patch(3, "trips", "t1", json!({"a": 9}), Some(v3))])).await;
    assert_eq!(resp["results"][0]["code"], "not-found");
    // Put on the tombstone with its version re-creates.
    let v4 = version_of(&api.push_ok("alice", &batch("c-3", vec![put(1, "trips", "t1", json!({"again": true}), Some(v3))])).await, 0);
    let page = api.pull_ok("alice", v3, 10).await;
    assert_eq!(page["changes"][0]["value"], json!({"again": true}));
    assert_eq!(page["changes"][0]["version"], v4);
}

async fn validation_rejections_are_recorded(backend: Backend) {
    let s = start_with(&backend, |c| c.limits.max_value_bytes = 1000).await;
    let api = s.api();
    let long = "x".repeat(257);
    let body = batch("c-1", vec![
        put(1, "", "k", json!({}), None),
        put(2, "trips", "", json!({}), None),
        put(3, &long, "k", json!({}), None),
        put(4, "trips", &long, json!({}), None),
        put(5, "trips", "k", json!([1, 2]), None),
        patch(6, "trips", "k", json!("text"), None),
        put(7, "trips", "k", json!({"big": "y".repeat(2000)}), None),
        put(8, "trips", "ok", json!({"fine": true}), None),
    ]);
    let first = api.push_ok("alice", &body).await;
    for i in 0..7 {
        assert_eq!(first["results"][i]["status"], "rejected", "{}", first["results"][i]);
        assert_eq!(first["results"][i]["code"], "validation");
        assert!(first["results"][i]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let v = version_of(&first, 7);
    assert_eq!(first["lastMutationId"], 8);
    // Re-sent: the same answers, nothing applied twice.
    let second = api.push_ok("alice", &body).await;
    assert_eq!(first, second);
    let (changes, checkpoint) = api.pull_all("alice", 0, 100).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(checkpoint, v);
}

async fn duplicate_batch_is_answered_as_before_and_applied_once(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let v0 = version_of(&api.push_ok("alice", &batch("c-0", vec![put(1, "trips", "t0", json!({"n": 0}), None)])).await, 0);
    let body = batch("c-1", vec![
        put(1, "trips", "t1", json!({"n": 1}), None),
        put(2, "trips", "t0", json!({"n": 2}), Some(v0 + 100)), // a conflict
        patch(3, "trips", "t0", json!({"p": 1}), Some(v0)),
        delete(4, "trips", "t2", None),
    ]);
    let first = api.push_ok("alice", &body).await;
    assert_eq!(first["results"][1]["status"], "conflict");
    let (changes_before, cp_before) = api.pull_all("alice", 0, 100).await;
    // The response was lost; the client sends the same batch again, twice.
    let second = api.push_ok("alice", &body).await;
    let third = api.push_ok("alice", &body).await;
    assert_eq!(first, second);
    assert_eq!(first, third);
    let (changes_after, cp_after) = api.pull_all("alice", 0, 100).await;
    assert_eq!(changes_before, changes_after);
    assert_eq!(cp_before, cp_after);
    // The version sequence did not move: the next write gets the next number.
    let next = version_of(&api.push_ok("alice", &batch("c-1", vec![put(5, "trips", "t3", json!({}), None)])).await, 0);
    assert_eq!(next, cp_after + 1);
    // A batch mixing old ids and a new one: old ones answered as before, the new one applied.
    let mixed = batch("c-1", vec![put(1, "trips", "t1", json!({"n": "changed"}), None), put(6, "trips", "t4", json!({}), None)]);
    let resp = api.push_ok("alice", &mixed).await;
    assert_eq!(resp["results"][0], first["results"][0]);
    assert_eq!(version_of(&resp, 1), next + 1);
    assert_eq!(resp["lastMutationId"], 6);
    let (changes, _) = api.pull_all("alice", 0, 100).await;
    let t1 = changes.iter().find(|c| c["key"] == "t1").unwrap();
    assert_eq!(t1["value"], json!({"n": 1}));
}

async fn concurrent_duplicate_batches_apply_once(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let body = batch("c-1", (1..=20).map(|i| put(i, "trips", &format!("t{i}"), json!({"i": i}), None)).collect());
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (api, body) = (api.clone(), body.clone());
        tasks.push(tokio::spawn(async move { api.push_ok("alice", &body).await }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "every sender got the same answer");
    let (changes, _) = api.pull_all("alice", 0, 100).await;
    assert_eq!(changes.len(), 20);
    let (status, health) = api.get("/sync/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["mutations"], 20);
}

async fn checkpoints_page_through_many_changes(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let mut versions = Vec::new();
    for chunk in 0..5u64 {
        let muts = (0..50u64).map(|i| {
            let n = chunk * 50 + i + 1;
            put(n, "items", &format!("k{n:03}"), json!({"n": n}), None)
        });
        let resp = api.push_ok("alice", &batch("c-1", muts.collect())).await;
        versions.extend((0..50).map(|i| version_of(&resp, i)));
    }
    let mut checkpoint = 0;
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page = api.pull_ok("alice", checkpoint, 100).await;
        let changes = page["changes"].as_array().unwrap();
        pages.push((changes.len(), page["hasMore"].as_bool().unwrap()));
        seen.extend(changes.iter().map(|c| c["version"].as_u64().unwrap()));
        assert_eq!(page["checkpoint"], changes.last().map_or(json!(checkpoint), |c| c["version"].clone()));
        checkpoint = page["checkpoint"].as_u64().unwrap();
        if !page["hasMore"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(pages, vec![(100, true), (100, true), (50, false)]);
    assert_eq!(seen, versions);
    // Default and maximum page sizes.
    let page = api.pull_ok("alice", 0, 5000).await;
    assert_eq!(page["changes"].as_array().unwrap().len(), 250);
    let (_, page) = api.pull("alice", "").await;
    assert_eq!(page["changes"].as_array().unwrap().len(), 250);
    assert_eq!(page["hasMore"], false);
}

async fn pull_filters_collections(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    api.push_ok(
        "alice",
        &batch("c-1", vec![
            put(1, "a", "1", json!({}), None),
            put(2, "b", "1", json!({}), None),
            put(3, "c", "1", json!({}), None),
            put(4, "a", "2", json!({}), None),
        ]),
    )
    .await;
    let (status, page) = api.pull("alice", "checkpoint=0&collections=a,c").await;
    assert_eq!(status, StatusCode::OK);
    let got: Vec<(String, String)> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["collection"].as_str().unwrap().into(), c["key"].as_str().unwrap().into()))
        .collect();
    assert_eq!(got, vec![("a".into(), "1".into()), ("c".into(), "1".into()), ("a".into(), "2".into())]);
    let (_, page) = api.pull("alice", "checkpoint=0&collections=a&limit=1").await;
    assert_eq!(page["changes"].as_array().unwrap().len(), 1);
    assert_eq!(page["hasMore"], true);
}

async fn concurrent_pushes_get_distinct_versions_in_commit_order(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            for round in 0..5u64 {
                let muts = (0..4u64).map(|i| put(round * 4 + i + 1, "k", &format!("t{t}-{round}-{i}"), json!({"t": t}), None));
                let resp = api.push_ok("alice", &batch(&format!("c-{t}"), muts.collect())).await;
                versions.extend((0..4).map(|i| version_of(&resp, i)));
            }
            versions
        }));
    }
    // A puller running meanwhile must never skip a version (RxDB #7259).
    let puller = {
        let api = api.clone();
        tokio::spawn(async move {
            let (mut checkpoint, mut seen) = (0u64, Vec::new());
            for _ in 0..40 {
                let (changes, cp) = api.pull_all("alice", checkpoint, 7).await;
                seen.extend(changes.iter().map(|c| c["version"].as_u64().unwrap()));
                checkpoint = cp;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (seen, checkpoint)
        })
    };
    let mut all = BTreeSet::new();
    for t in tasks {
        for v in t.await.unwrap() {
            assert!(all.insert(v), "version {v} given twice");
        }
    }
    let (mut seen, checkpoint) = puller.await.unwrap();
    let (rest, _) = api.pull_all("alice", checkpoint, 7).await;
    seen.extend(rest.iter().map(|c| c["version"].as_u64().unwrap()));
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "pulled versions in order, each once");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), all);
    assert_eq!(all.len(), 160);
}

async fn hot_key_compare_and_set_is_linearizable(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    // Several clients race on one key, each writing on top of the version it last saw.
    let mut tasks = Vec::new();
    for t in 0..6u64 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let (mut base, mut applied) = (None::<u64>, Vec::new());
            for id in 1..=8u64 {
                let resp = api.push_ok("alice", &batch(&format!("c-{t}"), vec![put(id, "n", "hot", json!({"t": t, "id": id}), base)])).await;
                let r = &resp["results"][0];
                match r["status"].as_str().unwrap() {
                    "applied" => {
                        let v = r["version"].as_u64().unwrap();
                        applied.push((base, v));
                        base = Some(v);
                    }
                    "conflict" => base = Some(r["server"]["version"].as_u64().unwrap()),
                    other => panic!("unexpected {other}: {resp}"),
                }
            }
            applied
        }));
    }
    let mut applied = Vec::new();
    for t in tasks {
        applied.extend(t.await.unwrap());
    }
    // Every applied write was built on the write applied just before it: no lost update.
    applied.sort_by_key(|(_, v)| *v);
    let mut previous = None;
    for (base, v) in &applied {
        assert_eq!(*base, previous, "write {v} was based on {base:?}, but the key was at {previous:?}");
        previous = Some(*v);
    }
    let page = api.pull_ok("alice", 0, 10).await;
    assert_eq!(page["changes"][0]["version"].as_u64(), previous);
}

async fn users_are_isolated(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let va = version_of(&api.push_ok("alice", &batch("a-1", vec![put(1, "notes", "k", json!({"secret": "alice's"}), None)])).await, 0);
    // Bob sees nothing of Alice's.
    assert_eq!(api.pull_ok("bob", 0, 500).await, json!({"changes": [], "checkpoint": 0, "hasMore": false}));
    // Bob writing the same key, as new or with Alice's version, creates his own document.
    let resp = api.push_ok("bob", &batch("b-1", vec![put(1, "notes", "k", json!({"mine": "bob"}), Some(va))])).await;
    assert_eq!(resp["results"][0]["status"], "conflict", "bob has no such key");
    assert_eq!(resp["results"][0]["server"], json!({"version": 0, "value": null, "hlc": ""}), "nothing of alice leaks");
    let resp = api.push_ok("bob", &batch("b-1", vec![put(2, "notes", "k", json!({"mine": "bob"}), None)])).await;
    let vb = version_of(&resp, 0);
    // Bob's patch and delete only ever touch his own copy.
    api.push_ok("bob", &batch("b-1", vec![patch(3, "notes", "k", json!({"x": 1}), Some(vb)), delete(4, "notes", "k", None)]))
        .await;
    let alice = api.pull_ok("alice", 0, 500).await;
    assert_eq!(alice["changes"], json!([{"collection": "notes", "key": "k", "version": va, "value": {"secret": "alice's"}, "hlc": hlc(1)}]));
    let (bob, _) = api.pull_all("bob", 0, 500).await;
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0]["value"], Value::Null);
    // Bob's patch of a key only Alice has: not-found, not Alice's data.
    let resp = api.push_ok("bob", &batch("b-1", vec![patch(5, "notes2", "x", json!({"y": 1}), None)])).await;
    assert_eq!(resp["results"][0]["code"], "not-found");
    // SSE: Bob's stream hears nothing of Alice's writes.
    let mut bob_events = api.events("bob").await;
    let mut alice_events = api.events("alice").await;
    let v = version_of(&api.push_ok("alice", &batch("a-1", vec![put(2, "notes", "k2", json!({}), None)])).await, 0);
    assert!(alice_events.wait_for_checkpoint(v, Duration::from_secs(10)).await);
    assert_eq!(bob_events.next_data(Duration::from_millis(700)).await, None);
}

async fn client_id_belongs_to_its_first_user(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    api.push_ok("alice", &batch("shared", vec![put(1, "n", "k", json!({"a": 1}), None)])).await;
    let (status, body) = api.push("bob", &batch("shared", vec![put(2, "n", "k", json!({"b": 1}), None)])).await;
    assert_error(status, &body, 403, "forbidden");
    // Re-sending Alice's mutation id as Bob does not reveal her stored answer either.
    let (status, body) = api.push("bob", &batch("shared", vec![put(1, "n", "k", json!({}), None)])).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = api.push("bob", &batch("shared", vec![])).await;
    assert_error(status, &body, 403, "forbidden");
    assert_eq!(api.pull_ok("bob", 0, 10).await["changes"], json!([]));
    // Alice keeps using it.
    api.push_ok("alice", &batch("shared", vec![put(2, "n", "k2", json!({}), None)])).await;
}

async fn unauthorized_requests_get_401(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let body = batch("c-1", vec![put(1, "n", "k", json!({}), None)]).to_string();
    for auth in [None, Some("Bearer nope"), Some("Basic dev:alice"), Some("Bearer "), Some("Bearer dev:")] {
        let (status, resp) = api.push_raw(auth, Some("1"), body.clone()).await;
        assert_error(status, &resp, 401, "unauthorized");
        let (status, resp) = api.get("/sync/pull?checkpoint=0", auth, Some("1")).await;
        assert_error(status, &resp, 401, "unauthorized");
        let (status, resp) = api.get("/sync/events", auth, Some("1")).await;
        assert_error(status, &resp, 401, "unauthorized");
    }
    let resp = api.http.post(format!("{}/sync/push", api.base)).header("x-sync-protocol", "1").body(body).send().await.unwrap();
    assert_eq!(resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn jwt(secret: &str, alg: Algorithm, claims: Value) -> String {
    encode(&Header::new(alg), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn jwt_tokens_are_checked(backend: Backend) {
    const SECRET: &str = "test-secret-of-some-length-0123456789";
    let s = start_with(&backend, |c| c.auth = AuthMode::jwt(SECRET.as_bytes())).await;
    let api = s.api();
    let exp = now_secs() + 3600;
    let body = batch("c-1", vec![put(1, "n", "k", json!({"v": 1}), None)]).to_string();
    let good = jwt(SECRET, Algorithm::HS256, json!({"sub": "alice", "exp": exp}));
    let (status, resp) = api.push_raw(Some(&format!("Bearer {good}")), Some("1"), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = json!({"sub": "alice", "exp": exp});
    let bad = [
        ("wrong signature", jwt("another-secret-0123456789-0123456789", Algorithm::HS256, claims.clone())),
        ("expired", jwt(SECRET, Algorithm::HS256, json!({"sub": "alice", "exp": now_secs() - 3600}))),
        ("no exp", jwt(SECRET, Algorithm::HS256, json!({"sub": "alice"}))),
        ("no sub", jwt(SECRET, Algorithm::HS256, json!({"exp": exp}))),
        ("other algorithm", jwt(SECRET, Algorithm::HS512, claims.clone())),
        ("alg none", format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims))),
        ("alg none, signed", {
            let signed = jwt(SECRET, Algorithm::HS256, claims.clone());
            let sig = signed.rsplit('.').next().unwrap().to_string();
            format!("{}.{}.{}", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims), sig)
        }),
        ("dev token", "dev:alice".to_string()),
        ("garbage", "a.b.c".to_string()),
    ];
    for (what, token) in bad {
        let (status, resp) = api.push_raw(Some(&format!("Bearer {token}")), Some("1"), body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {resp}");
        assert_error(status, &resp, 401, "unauthorized");
    }
    // The JWT's user owns the data.
    let (status, page) = api.get("/sync/pull?checkpoint=0", Some(&format!("Bearer {good}")), Some("1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["changes"][0]["value"], json!({"v": 1}));
}

async fn protocol_header_is_required(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let auth = Some("Bearer dev:alice");
    for protocol in [None, Some("2"), Some("0"), Some("1.0"), Some("")] {
        // Checked before the body: a malformed body still gets 409.
        let (status, resp) = api.push_raw(auth, protocol, "{not json".into()).await;
        assert_error(status, &resp, 409, "unsupported-protocol");
        let (status, resp) = api.get("/sync/pull?checkpoint=0", auth, protocol).await;
        assert_error(status, &resp, 409, "unsupported-protocol");
        let (status, resp) = api.get("/sync/events", auth, protocol).await;
        assert_error(status, &resp, 409, "unsupported-protocol");
    }
    let (status, resp) = api.get("/sync/events?token=dev:alice&protocol=2", None, None).await;
    assert_error(status, &resp, 409, "unsupported-protocol");
}

async fn oversized_bodies_and_batches_get_413(backend: Backend) {
    let s = start_with(&backend, |c| {
        c.limits.max_body_bytes = 16 * 1024;
        c.limits.max_batch = 3;
    })
    .await;
    let api = s.api();
    let big = batch("c-1", vec![put(1, "n", "k", json!({"pad": "x".repeat(20 * 1024)}), None)]);
    let (status, resp) = api.push("alice", &big).await;
    assert_error(status, &resp, 413, "payload-too-large");
    let four = batch("c-1", (1..=4).map(|i| put(i, "n", &format!("k{i}"), json!({}), None)).collect());
    let (status, resp) = api.push("alice", &four).await;
    assert_error(status, &resp, 413, "batch-too-large");
    // Nothing of either was applied; the split batch goes through.
    assert_eq!(api.pull_ok("alice", 0, 10).await["changes"], json!([]));
    let three = batch("c-1", (1..=3).map(|i| put(i, "n", &format!("k{i}"), json!({}), None)).collect());
    api.push_ok("alice", &three).await;
    // A body over the default 1 MiB limit, on a server with defaults.
    let s2 = start(&backend).await;
    let huge = batch("c-1", vec![put(1, "n", "k", json!({"pad": "x".repeat(1_100_000)}), None)]);
    let (status, resp) = s2.api().push("alice", &huge).await;
    assert_error(status, &resp, 413, "payload-too-large");
}

async fn malformed_requests_get_400(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let auth = Some("Bearer dev:alice");
    let cases = [
        ("{not json", "malformed-json"),
        ("", "malformed-json"),
        ("[]", "invalid-request"),
        (r#"{"clientId": "c", "mutations": "no"}"#, "invalid-request"),
        (r#"{"clientId": 5, "mutations": []}"#, "invalid-request"),
        (r#"{"mutations": []}"#, "invalid-request"),
        (r#"{"clientId": "c", "mutations": [{"id": "1", "collection": "n", "key": "k", "op": "put", "value": {}, "baseVersion": null, "hlc": "h"}]}"#, "invalid-request"),
        (r#"{"clientId": "c", "mutations": [{"id": -1, "collection": "n", "key": "k", "op": "put", "value": {}, "baseVersion": null, "hlc": "h"}]}"#, "invalid-request"),
        (r#"{"clientId": "c", "mutations": [{"id": 1, "collection": "n", "key": "k", "op": "upsert", "value": {}, "baseVersion": null, "hlc": "h"}]}"#, "invalid-request"),
        (r#"{"clientId": "c", "mutations": [{"id": 1, "collection": "n", "key": "k", "op": "put", "value": {}, "baseVersion": "3", "hlc": "h"}]}"#, "invalid-request"),
        (r#"{"clientId": "c", "mutations": [{"id": 18446744073709551615, "collection": "n", "key": "k", "op": "put", "value": {}, "baseVersion": null, "hlc": "h"}]}"#, "invalid-request"),
        (r#"{"clientId": "", "mutations": []}"#, "invalid-request"),
    ];
    for (body, code) in cases {
        let (status, resp) = api.push_raw(auth, Some("1"), body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {resp}");
        assert_error(status, &resp, 400, code);
    }
    for query in ["checkpoint=abc", "checkpoint=-1", "limit=0", "limit=x"] {
        let (status, resp) = api.pull("alice", query).await;
        assert_error(status, &resp, 400, "bad-request");
    }
    // Nothing was recorded for client "c".
    let resp = api.push_ok("alice", &batch("c", vec![])).await;
    assert_eq!(resp, json!({"results": [], "lastMutationId": 0}));
}

async fn health_reports_counts(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let (status, h) = api.get("/sync/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["status"], "ok");
    assert_eq!(h["database"], "ok");
    assert_eq!(h["documents"], 0);
    assert_eq!(h["mutations"], 0);
    assert!(h["uptimeSeconds"].as_u64().is_some());
    api.push_ok("alice", &batch("c-1", vec![put(1, "n", "a", json!({}), None), put(2, "n", "b", json!({}), None), patch(3, "n", "zz", json!({}), None)]))
        .await;
    let (_, h) = api.get("/sync/health", None, None).await;
    assert_eq!(h["documents"], 2);
    assert_eq!(h["mutations"], 3);
}

async fn events_poke_after_a_push(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let mut events = api.events("alice").await;
    let mut second = api.events("alice").await;
    let resp = api.push_ok("alice", &batch("c-1", vec![put(1, "n", "a", json!({}), None), put(2, "n", "b", json!({}), None)])).await;
    let v = version_of(&resp, 1);
    assert_eq!(events.next_data(Duration::from_secs(10)).await, Some(json!({"checkpoint": v})));
    assert_eq!(second.next_data(Duration::from_secs(10)).await, Some(json!({"checkpoint": v})));
    // A push that applied nothing (a duplicate, a conflict) pokes no one.
    api.push_ok("alice", &batch("c-1", vec![put(1, "n", "a", json!({}), None)])).await;
    api.push_ok("alice", &batch("c-2", vec![put(1, "n", "a", json!({}), None)])).await;
    assert_eq!(events.next_data(Duration::from_millis(500)).await, None);
}

async fn events_accept_query_token(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let resp = api.http.get(format!("{}/sync/events?token=dev:alice&protocol=1", api.base)).send().await.unwrap();
    let mut events = EventStream::open(resp).await;
    let v = version_of(&api.push_ok("alice", &batch("c-1", vec![put(1, "n", "a", json!({}), None)])).await, 0);
    assert_eq!(events.next_data(Duration::from_secs(10)).await, Some(json!({"checkpoint": v})));
    let (status, resp) = api.get("/sync/events?protocol=1", None, None).await;
    assert_error(status, &resp, 401, "unauthorized");
    let (status, resp) = api.get("/sync/events?token=dev:alice", None, None).await;
    assert_error(status, &resp, 409, "unsupported-protocol");
    let (status, resp) = api.get("/sync/events?token=bogus&protocol=1", None, None).await;
    assert_error(status, &resp, 401, "unauthorized");
    // The query token is for /sync/events only.
    let (status, resp) = api.get("/sync/pull?token=dev:alice&protocol=1", None, Some("1")).await;
    assert_error(status, &resp, 401, "unauthorized");
}

async fn unknown_routes_answer_json(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let (status, resp) = api.get("/sync/nope", None, None).await;
    assert_error(status, &resp, 404, "not-found");
    let (status, resp) = api.get("/elsewhere", None, None).await;
    assert_error(status, &resp, 404, "not-found");
    let (status, resp) = api.get("/sync/push", Some("Bearer dev:a"), Some("1")).await;
    assert_error(status, &resp, 405, "method-not-allowed");
}

/// A device whose clock runs hours ahead must not win every later lastWriteWins: the
/// server keeps stamps within a minute of its own clock (and says what its clock is).
async fn stamps_from_the_future_are_clamped(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let mutation = json!({"id": 1, "collection": "trips", "key": "t1", "op": "put", "value": {"n": 1},
                          "baseVersion": null, "hlc": "009999999999999-0003-c-fast"});
    api.push_ok("alice", &json!({"clientId": "c-fast", "mutations": [mutation]})).await;
    let page = api.pull_ok("alice", 0, 10).await;
    let hlc = page["changes"][0]["hlc"].as_str().unwrap().to_owned();
    let wall: u64 = hlc[..15].parse().unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(wall <= now + 60_000 && wall + 60_000 >= now, "{hlc} is not within a minute of now");
    assert!(hlc.ends_with("-0003-c-fast"), "{hlc}");
}
