//! Protocol v1 against the real router on 127.0.0.1:0. Every test body runs once per
//! backend (see `per_backend!` in common): `sqlite::NAME` always, `postgres::NAME`
//! (`#[ignore]`d unless run through `scripts/with-postgres.sh ... -- --include-ignored`).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use common::*;
use futures_util::future::join_all;
use hmac::{Hmac, Mac};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use pwa_sync_server::auth::AuthMode;
use reqwest::StatusCode;
use serde_json::{json, Value};

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
    pages_of_large_documents_stop_at_the_byte_cap,
    pull_filters_collections,
    concurrent_pushes_get_distinct_versions_in_commit_order,
    hot_key_compare_and_set_is_linearizable,
    users_are_isolated,
    crafted_pushes_cannot_touch_another_users_documents,
    crafted_pulls_never_cross_users,
    event_streams_never_cross_users,
    control_characters_are_rejected_not_500,
    client_id_belongs_to_its_first_user,
    unauthorized_requests_get_401,
    jwt_tokens_are_checked,
    protocol_header_is_required,
    oversized_bodies_and_batches_get_413,
    malformed_requests_get_400,
    health_says_only_healthy,
    events_poke_after_a_push,
    events_accept_query_token,
    unknown_routes_answer_json,
);

async fn push_pull_round_trip(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let resp = api
        .push_ok(
            "alice",
            &batch(
                "c-1",
                vec![
                    put(1, "trips", "t1", json!({"title": "Rome"}), None),
                    put(2, "trips", "t2", json!({"title": "Oslo"}), None),
                ],
            ),
        )
        .await;
    let (v1, v2) = (version_of(&resp, 0), version_of(&resp, 1));
    assert!(v1 >= 1 && v2 > v1);
    assert_eq!(resp["lastMutationId"], 2);
    let page = api.pull_ok("alice", 0, 500).await;
    assert_eq!(
        page,
        json!({"changes": [
            {"collection": "trips", "key": "t1", "version": v1, "value": {"title": "Rome"}, "hlc": hlc(1), "space": "user:alice"},
            {"collection": "trips", "key": "t2", "version": v2, "value": {"title": "Oslo"}, "hlc": hlc(2), "space": "user:alice"}],
            "checkpoint": v2, "hasMore": false})
    );
    // Nothing new after the checkpoint: the checkpoint stays.
    assert_eq!(api.pull_ok("alice", v2, 500).await, json!({"changes": [], "checkpoint": v2, "hasMore": false}));
    // An update with the right base version.
    let resp =
        api.push_ok("alice", &batch("c-1", vec![put(3, "trips", "t1", json!({"title": "Roma"}), Some(v1))])).await;
    let v3 = version_of(&resp, 0);
    assert!(v3 > v2);
    let page = api.pull_ok("alice", v2, 500).await;
    assert_eq!(
        page["changes"],
        json!([{"collection": "trips", "key": "t1", "version": v3, "value": {"title": "Roma"}, "hlc": hlc(3), "space": "user:alice"}])
    );
}

async fn conflict_answer_carries_server_state(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let v1 =
        version_of(&api.push_ok("alice", &batch("c-1", vec![put(1, "trips", "t1", json!({"n": 1}), None)])).await, 0);
    let v2 = version_of(
        &api.push_ok("alice", &batch("c-2", vec![put(1, "trips", "t1", json!({"n": 2}), Some(v1))])).await,
        0,
    );
    // c-1 still thinks v1 is current.
    let resp = api.push_ok("alice", &batch("c-1", vec![put(2, "trips", "t1", json!({"n": 3}), Some(v1))])).await;
    assert_eq!(
        resp["results"][0],
        json!({"id": 2, "status": "conflict", "server": {"version": v2, "value": {"n": 2}, "hlc": hlc(1)}})
    );
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
            &batch(
                "c-1",
                vec![
                    put(1, "trips", "t1", json!({"title": "Rome", "days": 3}), None),
                    patch(2, "trips", "t1", json!({"days": 4}), None),
                    put(3, "trips", "t1", json!({"title": "Roma", "days": 4}), None),
                ],
            ),
        )
        .await;
    let (a, b, c) = (version_of(&resp, 0), version_of(&resp, 1), version_of(&resp, 2));
    assert!(a < b && b < c);
    // A later batch still built on mutation 3 (the client has not seen version c yet).
    let resp = api.push_ok("alice", &batch("c-1", vec![patch(4, "trips", "t1", json!({"days": 5}), None)])).await;
    let d = version_of(&resp, 0);
    assert_eq!(api.pull_ok("alice", c, 10).await["changes"][0]["value"], json!({"title": "Roma", "days": 5}));
    // Another client's write in between makes c-1's stale base a conflict again.
    let e = version_of(
        &api.push_ok("alice", &batch("c-2", vec![patch(1, "trips", "t1", json!({"days": 6}), Some(d))])).await,
        0,
    );
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
        &api.push_ok("alice", &batch("c-1", vec![put(2, "trips", "t1", json!({"a": 1, "m": {"x": 1, "y": 2}}), None)]))
            .await,
        0,
    );
    let v2 = version_of(
        &api.push_ok(
            "alice",
            &batch("c-2", vec![patch(1, "trips", "t1", json!({"b": 2, "m": {"x": null}}), Some(v1))]),
        )
        .await,
        0,
    );
    let page = api.pull_ok("alice", v1, 10).await;
    assert_eq!(page["changes"][0]["value"], json!({"a": 1, "b": 2, "m": {"y": 2}}));
    // Delete: a tombstone with a new version, visible in pulls with value null.
    let v3 = version_of(&api.push_ok("alice", &batch("c-2", vec![delete(2, "trips", "t1", Some(v2))])).await, 0);
    assert!(v3 > v2);
    let page = api.pull_ok("alice", v2, 10).await;
    assert_eq!(
        page["changes"],
        json!([{"collection": "trips", "key": "t1", "version": v3, "value": null, "hlc": hlc(2), "space": "user:alice"}])
    );
    assert_eq!(api.pull_ok("alice", 0, 10).await["changes"].as_array().unwrap().len(), 1);
    // Patch of a tombstone: not-found.
    let resp = api.push_ok("alice", &batch("c-2", vec![patch(3, "trips", "t1", json!({"a": 9}), Some(v3))])).await;
    assert_eq!(resp["results"][0]["code"], "not-found");
    // Put on the tombstone with its version re-creates.
    let v4 = version_of(
        &api.push_ok("alice", &batch("c-3", vec![put(1, "trips", "t1", json!({"again": true}), Some(v3))])).await,
        0,
    );
    let page = api.pull_ok("alice", v3, 10).await;
    assert_eq!(page["changes"][0]["value"], json!({"again": true}));
    assert_eq!(page["changes"][0]["version"], v4);
}

async fn validation_rejections_are_recorded(backend: Backend) {
    let s = start_with(&backend, |c| c.limits.max_value_bytes = 1000).await;
    let api = s.api();
    let long = "x".repeat(257);
    let body = batch(
        "c-1",
        vec![
            put(1, "", "k", json!({}), None),
            put(2, "trips", "", json!({}), None),
            put(3, &long, "k", json!({}), None),
            put(4, "trips", &long, json!({}), None),
            put(5, "trips", "k", json!([1, 2]), None),
            patch(6, "trips", "k", json!("text"), None),
            put(7, "trips", "k", json!({"big": "y".repeat(2000)}), None),
            put(8, "trips", "ok", json!({"fine": true}), None),
        ],
    );
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
    let v0 =
        version_of(&api.push_ok("alice", &batch("c-0", vec![put(1, "trips", "t0", json!({"n": 0}), None)])).await, 0);
    let body = batch(
        "c-1",
        vec![
            put(1, "trips", "t1", json!({"n": 1}), None),
            put(2, "trips", "t0", json!({"n": 2}), Some(v0 + 100)), // a conflict
            patch(3, "trips", "t0", json!({"p": 1}), Some(v0)),
            delete(4, "trips", "t2", None),
        ],
    );
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
    let mixed = batch(
        "c-1",
        vec![put(1, "trips", "t1", json!({"n": "changed"}), None), put(6, "trips", "t4", json!({}), None)],
    );
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
    assert_eq!(db_count(&s.db.url, "SELECT COUNT(*) FROM mutations").await, 20);
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

async fn pages_of_large_documents_stop_at_the_byte_cap(backend: Backend) {
    use pwa_sync_server::db::{MAX_PULL_BYTES, MAX_PULL_LIMIT};
    let s = start(&backend).await;
    let api = s.api();
    // 40 documents of ~250 KB (each under the 256 KiB value limit): ~10 MB, over the cap.
    let blob = "x".repeat(250_000);
    let mut versions = Vec::new();
    for chunk in 0..14u64 {
        let muts: Vec<Value> = (0..3u64)
            .map(|i| chunk * 3 + i + 1)
            .filter(|n| *n <= 40)
            .map(|n| put(n, "items", &format!("k{n:02}"), json!({"n": n, "blob": blob}), None))
            .collect();
        let count = muts.len();
        let resp = api.push_ok("alice", &batch("c-1", muts)).await;
        versions.extend((0..count).map(|i| version_of(&resp, i)));
    }
    assert_eq!(versions.len(), 40);
    let mut checkpoint = 0;
    let (mut seen, mut pages) = (Vec::new(), Vec::new());
    loop {
        let page = api.pull_ok("alice", checkpoint, MAX_PULL_LIMIT).await;
        let changes = page["changes"].as_array().unwrap();
        let bytes: usize = changes.iter().map(|c| c["value"].to_string().len()).sum();
        pages.push((changes.len(), bytes, page["hasMore"].as_bool().unwrap()));
        seen.extend(changes.iter().map(|c| c["version"].as_u64().unwrap()));
        checkpoint = page["checkpoint"].as_u64().unwrap();
        if !page["hasMore"].as_bool().unwrap() {
            break;
        }
    }
    // Every document once, in order, over two pages: the first stops one document past
    // the cap, not at the limit of 2,500.
    assert_eq!(seen, versions, "{pages:?}");
    assert_eq!(pages.len(), 2, "{pages:?}");
    let (first, first_bytes, more) = pages[0];
    assert!(more && first < 40, "{pages:?}");
    assert!(first_bytes > MAX_PULL_BYTES - 260_000 && first_bytes < MAX_PULL_BYTES + 260_000, "{pages:?}");
}

async fn pull_filters_collections(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    api.push_ok(
        "alice",
        &batch(
            "c-1",
            vec![
                put(1, "a", "1", json!({}), None),
                put(2, "b", "1", json!({}), None),
                put(3, "c", "1", json!({}), None),
                put(4, "a", "2", json!({}), None),
            ],
        ),
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
                let muts =
                    (0..4u64).map(|i| put(round * 4 + i + 1, "k", &format!("t{t}-{round}-{i}"), json!({"t": t}), None));
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
                let resp = api
                    .push_ok(
                        "alice",
                        &batch(&format!("c-{t}"), vec![put(id, "n", "hot", json!({"t": t, "id": id}), base)]),
                    )
                    .await;
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
    let va = version_of(
        &api.push_ok("alice", &batch("a-1", vec![put(1, "notes", "k", json!({"secret": "alice's"}), None)])).await,
        0,
    );
    // Bob sees nothing of Alice's.
    assert_eq!(api.pull_ok("bob", 0, 500).await, json!({"changes": [], "checkpoint": 0, "hasMore": false}));
    // Bob writing the same key, as new or with Alice's version, creates his own document.
    let resp = api.push_ok("bob", &batch("b-1", vec![put(1, "notes", "k", json!({"mine": "bob"}), Some(va))])).await;
    assert_eq!(resp["results"][0]["status"], "conflict", "bob has no such key");
    assert_eq!(resp["results"][0]["server"], json!({"version": 0, "value": null, "hlc": ""}), "nothing of alice leaks");
    let resp = api.push_ok("bob", &batch("b-1", vec![put(2, "notes", "k", json!({"mine": "bob"}), None)])).await;
    let vb = version_of(&resp, 0);
    // Bob's patch and delete only ever touch his own copy.
    api.push_ok(
        "bob",
        &batch("b-1", vec![patch(3, "notes", "k", json!({"x": 1}), Some(vb)), delete(4, "notes", "k", None)]),
    )
    .await;
    let alice = api.pull_ok("alice", 0, 500).await;
    assert_eq!(
        alice["changes"],
        json!([{"collection": "notes", "key": "k", "version": va, "value": {"secret": "alice's"}, "hlc": hlc(1), "space": "user:alice"}])
    );
    let (bob, _) = api.pull_all("bob", 0, 500).await;
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0]["value"], Value::Null);
    // Alice has nothing new to pull, and her version did not move: her next write on top
    // of `va` applies (no conflict).
    assert_eq!(api.pull_ok("alice", va, 500).await, json!({"changes": [], "checkpoint": va, "hasMore": false}));
    let resp = api.push_ok("alice", &batch("a-1", vec![patch(3, "notes", "k", json!({"more": 1}), Some(va))])).await;
    assert!(version_of(&resp, 0) > vb);
    // Bob's patch of a key only Alice has: not-found, not Alice's data.
    let resp = api.push_ok("bob", &batch("b-1", vec![patch(5, "notes2", "x", json!({"y": 1}), None)])).await;
    assert_eq!(resp["results"][0]["code"], "not-found");
    // SSE: Bob's stream hears nothing of Alice's writes. (First it hears a push of his
    // own: with PostgreSQL the NOTIFY echo of his earlier pushes may still be on its way,
    // and is dropped as old once a newer poke went out.)
    let mut bob_events = api.events("bob").await;
    let mut alice_events = api.events("alice").await;
    let vb2 = version_of(&api.push_ok("bob", &batch("b-1", vec![put(6, "notes", "k3", json!({}), None)])).await, 0);
    assert!(bob_events.wait_for_checkpoint(vb2, Duration::from_secs(10)).await);
    let v = version_of(&api.push_ok("alice", &batch("a-1", vec![put(2, "notes", "k2", json!({}), None)])).await, 0);
    assert!(alice_events.wait_for_checkpoint(v, Duration::from_secs(10)).await);
    assert_eq!(bob_events.next_data(Duration::from_millis(700)).await, None);
}

/// Bob aims at Alice's keys with her exact versions (and with none): every answer
/// describes his own, empty keyspace, and nothing of Alice's moves.
async fn crafted_pushes_cannot_touch_another_users_documents(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let resp = api
        .push_ok(
            "alice",
            &batch(
                "a-1",
                vec![
                    put(1, "notes", "k1", json!({"secret": "alice-secret-1"}), None),
                    put(2, "notes", "k2", json!({"secret": "alice-secret-2"}), None),
                    put(3, "notes", "gone", json!({"secret": "alice-secret-3"}), None),
                ],
            ),
        )
        .await;
    let (v1, v2, v3) = (version_of(&resp, 0), version_of(&resp, 1), version_of(&resp, 2));
    let v4 = version_of(&api.push_ok("alice", &batch("a-1", vec![delete(4, "notes", "gone", Some(v3))])).await, 0);
    let before = api.pull_all("alice", 0, 500).await;
    let attacks = batch(
        "b-1",
        vec![
            patch(1, "notes", "k1", json!({"secret": "bob was here"}), Some(v1)),
            delete(2, "notes", "k2", Some(v2)),
            put(3, "notes", "gone", json!({"x": 1}), Some(v4)),
            patch(4, "notes", "k2", json!({"y": 1}), None),
            put(5, "notes", "k2", json!({"y": 1}), Some(v2 + 1_000_000)),
            delete(6, "notes", "k1", None),
        ],
    );
    let resp = api.push_ok("bob", &attacks).await;
    assert!(!resp.to_string().contains("alice-secret"), "{resp}");
    let nothing = json!({"version": 0, "value": null, "hlc": ""});
    assert_eq!(resp["results"][0]["code"], "not-found");
    assert_eq!(resp["results"][1]["server"], nothing);
    assert_eq!(resp["results"][2]["server"], nothing);
    assert_eq!(resp["results"][3]["code"], "not-found");
    assert_eq!(resp["results"][4]["server"], nothing);
    // A delete of a key Bob never had, as new: a tombstone of his own.
    let vb = version_of(&resp, 5);
    // Alice: the same documents at the same versions, nothing new to pull, and her own
    // writes on the versions she knows still apply.
    assert_eq!(api.pull_all("alice", 0, 500).await, before);
    assert_eq!(api.pull_ok("alice", before.1, 500).await["changes"], json!([]));
    let resp = api
        .push_ok(
            "alice",
            &batch("a-1", vec![patch(5, "notes", "k1", json!({"n": 2}), Some(v1)), delete(6, "notes", "k2", Some(v2))]),
        )
        .await;
    assert!(version_of(&resp, 0) > vb && version_of(&resp, 1) > vb);
    let (bob, _) = api.pull_all("bob", 0, 500).await;
    assert_eq!(
        bob,
        vec![
            json!({"collection": "notes", "key": "k1", "version": vb, "value": null, "hlc": hlc(6), "space": "user:bob"})
        ]
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Bob's pulls, however crafted (checkpoints from 0 up, Alice's collection names in every
/// spelling, commas, wildcards, quotes, unicode, very long names, extra parameters naming
/// Alice), return his changes only, or a 400.
async fn crafted_pulls_never_cross_users(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let long = "L".repeat(256);
    let names = [
        "notes",
        "a,b",
        "a",
        "b",
        "ünïcødé",
        "%",
        "_",
        "*",
        "' OR '1'='1",
        "notes\u{200b}",
        "NOTES",
        "日本語",
        long.as_str(),
    ];
    let alice_writes = names.iter().zip(1u64..).map(|(c, id)| put(id, c, "k", json!({"secret": "alice-secret"}), None));
    api.push_ok("alice", &batch("a-1", alice_writes.collect())).await;
    let vb = version_of(
        &api.push_ok("bob", &batch("b-1", vec![put(1, "notes", "k", json!({"mine": "bob"}), None)])).await,
        0,
    );
    let bobs = json!({"collection": "notes", "key": "k", "version": vb, "value": {"mine": "bob"}, "hlc": hlc(1), "space": "user:bob"});
    let mut queries: Vec<String> = (0..=vb + 2).map(|cp| format!("checkpoint={cp}")).collect();
    queries.extend(names.iter().map(|n| format!("checkpoint=0&collections={}", urlencode(n))));
    queries
        .push(format!("checkpoint=0&collections={}", names.iter().map(|n| urlencode(n)).collect::<Vec<_>>().join(",")));
    queries.push(format!("collections={}", names.iter().map(|n| urlencode(n)).collect::<Vec<_>>().join("%2C")));
    queries.extend(
        [
            "collections=a,b",
            "collections=a%2Cb",
            "collections=,,,",
            "collections=%25",
            "collections=%FF",
            "collections=notes%00",
            "collections=notes&collections=a,b",
            "checkpoint=0&user=alice",
            "checkpoint=0&sub=alice&token=dev:alice&protocol=1",
            "checkpoint=18446744073709551615",
            "checkpoint=9223372036854775807",
            "checkpoint=9223372036854775808",
            "checkpoint=-0",
            "checkpoint=0x1",
            "limit=1000000000",
        ]
        .map(String::from),
    );
    queries.push(format!("collections={}", "x".repeat(10_000)));
    queries.push(format!("collections={}", vec!["notes"; 100].join(",")));
    queries.push(format!("collections={}", vec!["notes"; 101].join(",")));
    for q in &queries {
        let (status, body) = api.pull("bob", q).await;
        assert!(!body.to_string().contains("alice-secret"), "{q}: {body}");
        match status.as_u16() {
            200 => {
                for change in body["changes"].as_array().unwrap() {
                    assert_eq!(change, &bobs, "{q}");
                }
            }
            400 => assert_error(status, &body, 400, "bad-request"),
            other => panic!("{q}: {other} {body}"),
        }
    }
    // The same crafted names from Alice find her own data (the filter still works).
    let (status, page) = api.pull("alice", &format!("collections={}", urlencode("ünïcødé"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["changes"].as_array().map(Vec::len), Some(1));
    assert_eq!(api.pull_all("alice", 0, 500).await.0.len(), names.len());
}

/// Nobody but Alice hears of Alice's writes: not Bob (also when his request names Alice
/// in a query token the header overrides), not users whose ids only look like hers.
async fn event_streams_never_cross_users(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let open = |url: String, auth: Option<&'static str>| {
        let mut req = api.http.get(url).timeout(Duration::from_secs(3600));
        if let Some(a) = auth {
            req = req.header("authorization", a).header("x-sync-protocol", "1");
        }
        async move { EventStream::open(req.send().await.unwrap()).await }
    };
    let mut bob = [
        api.events("bob").await,
        open(format!("{}/sync/events?token=dev:alice&protocol=1&user=alice", api.base), Some("Bearer dev:bob")).await,
    ];
    let lookalikes = ["Alice", "alice ", "alice\u{200b}", "\u{430}lice", "alice:1", "%", "alice*", "_lice"];
    let mut others = Vec::new();
    for user in lookalikes {
        let token = urlencode(&format!("dev:{user}"));
        others.push(open(format!("{}/sync/events?token={token}&protocol=1", api.base), None).await);
    }
    let mut alice = api.events("alice").await;
    let mut last = 0;
    for id in 1..=3 {
        last = version_of(
            &api.push_ok(
                "alice",
                &batch("a-1", vec![put(id, "n", &format!("k{id}"), json!({"s": "alice-secret"}), None)]),
            )
            .await,
            0,
        );
    }
    assert!(alice.wait_for_checkpoint(last, Duration::from_secs(10)).await);
    let heard =
        join_all(bob.iter_mut().chain(others.iter_mut()).map(|s| s.next_data(Duration::from_millis(500)))).await;
    assert!(heard.iter().all(Option::is_none), "{heard:?}");
    // The streams are live: Bob's own push reaches both of his, and only his.
    let vb = version_of(&api.push_ok("bob", &batch("b-1", vec![put(1, "n", "k1", json!({}), None)])).await, 0);
    for stream in bob.iter_mut() {
        assert_eq!(stream.next_data(Duration::from_secs(10)).await, Some(json!({"checkpoint": vb})));
    }
    let heard = join_all(others.iter_mut().chain([&mut alice]).map(|s| s.next_data(Duration::from_millis(300)))).await;
    assert!(heard.iter().all(Option::is_none), "{heard:?}");
}

/// Control characters in names would be a 500 on PostgreSQL (no NUL in text), retried by
/// the client forever: a push rejects the mutation instead, and a pull answers 400.
async fn control_characters_are_rejected_not_500(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let raw = |id: u64, collection: &str, key: &str, hlc: &str| {
        json!({"id": id, "collection": collection, "key": key, "op": "put", "value": {"v": "text with \u{0} is fine"},
               "baseVersion": null, "hlc": hlc})
    };
    let body = batch(
        "c-1",
        vec![
            raw(1, "n", "a\u{0}b", &hlc(1)),
            raw(2, "n\u{0}", "k", &hlc(2)),
            raw(3, "n", "k", "001763769600000-0000-\u{0}"),
            raw(4, "n", "line\nbreak", &hlc(4)),
            raw(5, "n", "ok", &hlc(5)),
        ],
    );
    let resp = api.push_ok("alice", &body).await;
    for i in 0..4 {
        assert_eq!(resp["results"][i]["code"], "validation", "{}", resp["results"][i]);
    }
    version_of(&resp, 4);
    let page = api.pull_ok("alice", 0, 10).await;
    assert_eq!(page["changes"][0]["value"], json!({"v": "text with \u{0} is fine"}));
    for q in ["collections=n%00", "collections=n%0Ax", "collections=%01"] {
        let (status, body) = api.pull("alice", q).await;
        assert_error(status, &body, 400, "bad-request");
    }
}

async fn client_id_belongs_to_its_first_user(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let mut alice_events = api.events("alice").await;
    let alices = batch("shared", vec![put(1, "n", "k", json!({"a": 1}), None)]);
    let first = api.push_ok("alice", &alices).await;
    // Her own poke (with PostgreSQL, the NOTIFY echo may follow it; it is dropped as old).
    assert!(alice_events.wait_for_checkpoint(version_of(&first, 0), Duration::from_secs(10)).await);
    let (status, body) = api.push("bob", &batch("shared", vec![put(2, "n", "k", json!({"b": 1}), None)])).await;
    assert_error(status, &body, 403, "forbidden");
    // Re-sending Alice's mutation id as Bob does not reveal her stored answer either.
    let (status, body) = api.push("bob", &batch("shared", vec![put(1, "n", "k", json!({}), None)])).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = api.push("bob", &batch("shared", vec![])).await;
    assert_error(status, &body, 403, "forbidden");
    assert_eq!(api.pull_ok("bob", 0, 10).await["changes"], json!([]));
    // Nothing of Alice's moved: her re-sent batch gets the answer it got (lastMutationId
    // still 1), her data is as she wrote it, and her stream heard nothing.
    assert_eq!(api.push_ok("alice", &alices).await, first);
    let page = api.pull_ok("alice", 0, 10).await;
    assert_eq!(page["changes"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["changes"][0]["value"], json!({"a": 1}));
    assert_eq!(alice_events.next_data(Duration::from_millis(300)).await, None);
    // A clientId differing only in case is another client: Bob may have it.
    api.push_ok("bob", &batch("Shared", vec![put(1, "n", "k", json!({"b": 1}), None)])).await;
    // Alice keeps using hers.
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
    let resp = api
        .http
        .post(format!("{}/sync/push", api.base))
        .header("x-sync-protocol", "1")
        .body(body)
        .send()
        .await
        .unwrap();
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
    // A token whose header says `alg` but which is signed with HMAC-SHA256 under the
    // server's own secret (the algorithm-confusion attack: RS256 verified as HS256).
    let forged = |alg: &str, claims: &Value| {
        let signing_input = format!("{}.{}", b64(&json!({"alg": alg, "typ": "JWT"})), b64(claims));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(signing_input.as_bytes());
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    };
    // Sanity: forging with HS256 itself makes a good token (so the forgeries below fail
    // for their header alone).
    let (status, _) = api.get("/sync/pull", Some(&format!("Bearer {}", forged("HS256", &claims))), Some("1")).await;
    assert_eq!(status, StatusCode::OK);
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
        ("empty sub", jwt(SECRET, Algorithm::HS256, json!({"sub": "", "exp": exp}))),
        ("sub not a string", jwt(SECRET, Algorithm::HS256, json!({"sub": 42, "exp": exp}))),
        ("sub with a control character", jwt(SECRET, Algorithm::HS256, json!({"sub": "alice\n", "exp": exp}))),
        ("not valid yet", jwt(SECRET, Algorithm::HS256, json!({"sub": "alice", "exp": exp, "nbf": now_secs() + 3600}))),
        ("HS384", jwt(SECRET, Algorithm::HS384, claims.clone())),
        ("RS256 header, HMAC-signed", forged("RS256", &claims)),
        ("ES256 header, HMAC-signed", forged("ES256", &claims)),
        ("PS256 header, HMAC-signed", forged("PS256", &claims)),
        ("EdDSA header, HMAC-signed", forged("EdDSA", &claims)),
        ("alg None, HMAC-signed", forged("None", &claims)),
        ("alg NONE, unsigned", format!("{}.{}.", b64(&json!({"alg": "NONE"})), b64(&claims))),
        ("alg hs256 (lower case)", forged("hs256", &claims)),
        ("no alg", {
            let input = format!("{}.{}", b64(&json!({"typ": "JWT"})), b64(&claims));
            format!("{input}.{}", good.rsplit('.').next().unwrap())
        }),
        ("two tokens", format!("{good} {good}")),
        ("truncated", good[..good.len() - 3].to_string()),
    ];
    for (what, token) in bad {
        let auth = format!("Bearer {token}");
        let (status, resp) = api.push_raw(Some(&auth), Some("1"), body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {resp}");
        assert_error(status, &resp, 401, "unauthorized");
        let (status, resp) = api.get("/sync/pull?checkpoint=0", Some(&auth), Some("1")).await;
        assert_error(status, &resp, 401, "unauthorized");
        let (status, resp) = api.get("/sync/events", Some(&auth), Some("1")).await;
        assert_error(status, &resp, 401, "unauthorized");
        let (status, resp) = api.get(&format!("/sync/events?protocol=1&token={}", urlencode(&token)), None, None).await;
        assert_error(status, &resp, 401, "unauthorized");
    }
    // A good token in another scheme.
    for scheme in ["Basic", "Token", "JWT", "Bearer:"] {
        let auth = format!("{scheme} {good}");
        let (status, resp) = api.push_raw(Some(&auth), Some("1"), body.clone()).await;
        assert_error(status, &resp, 401, "unauthorized");
        let (status, resp) = api.get("/sync/pull?checkpoint=0", Some(&auth), Some("1")).await;
        assert_error(status, &resp, 401, "unauthorized");
    }
    // The scheme's name is case-insensitive (RFC 9110), the token is not a query parameter.
    let (status, _) = api.get("/sync/pull?checkpoint=0", Some(&format!("bearer {good}")), Some("1")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, resp) = api.get(&format!("/sync/pull?checkpoint=0&token={good}"), None, Some("1")).await;
    assert_error(status, &resp, 401, "unauthorized");
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
    // The limit holds for a chunked body (no Content-Length to refuse up front).
    let (status, resp) = chunked_push(&s.addr, "alice", &big.to_string()).await;
    assert_error(status, &resp, 413, "payload-too-large");
    let (status, resp) =
        chunked_push(&s.addr, "alice", &batch("c-1", vec![put(4, "n", "k4", json!({}), None)]).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    // A body over the default 1 MiB limit, on a server with defaults.
    let s2 = start(&backend).await;
    let huge = batch("c-1", vec![put(1, "n", "k", json!({"pad": "x".repeat(1_100_000)}), None)]);
    let (status, resp) = s2.api().push("alice", &huge).await;
    assert_error(status, &resp, 413, "payload-too-large");
}

/// POST /sync/push with `Transfer-Encoding: chunked` over a raw connection.
async fn chunked_push(addr: &std::net::SocketAddr, user: &str, body: &str) -> (StatusCode, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /sync/push HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer dev:{user}\r\nX-Sync-Protocol: 1\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut request = head.into_bytes();
    for chunk in body.as_bytes().chunks(4096) {
        request.extend(format!("{:x}\r\n", chunk.len()).into_bytes());
        request.extend(chunk);
        request.extend(b"\r\n");
    }
    request.extend(b"0\r\n\r\n");
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = conn.write_all(&request).await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{text}"));
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("{text}"));
    assert!(!headers.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{headers}");
    (StatusCode::from_u16(status).unwrap(), serde_json::from_str(body).unwrap_or_else(|_| panic!("{text}")))
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
        (
            r#"{"clientId": "c", "mutations": [{"id": "1", "collection": "n", "key": "k", "op": "put", "value": {}, "baseVersion": null, "hlc": "h"}]}"#,
            "invalid-request",
        ),
        (
            r#"{"clientId": "c", "mutations": [{"id": -1, "collection": "n", "key": "k", "op": "put", "value": {}, "baseVersion": null, "hlc": "h"}]}"#,
            "invalid-request",
        ),
        (
            r#"{"clientId": "c", "mutations": [{"id": 1, "collection": "n", "key": "k", "op": "upsert", "value": {}, "baseVersion": null, "hlc": "h"}]}"#,
            "invalid-request",
        ),
        (
            r#"{"clientId": "c", "mutations": [{"id": 1, "collection": "n", "key": "k", "op": "put", "value": {}, "baseVersion": "3", "hlc": "h"}]}"#,
            "invalid-request",
        ),
        (
            r#"{"clientId": "c", "mutations": [{"id": 18446744073709551615, "collection": "n", "key": "k", "op": "put", "value": {}, "baseVersion": null, "hlc": "h"}]}"#,
            "invalid-request",
        ),
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

async fn health_says_only_healthy(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let (status, h) = api.get("/sync/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h, json!({"status": "healthy"}));
    api.push_ok(
        "alice",
        &batch(
            "c-1",
            vec![
                put(1, "n", "a", json!({}), None),
                put(2, "n", "b", json!({}), None),
                patch(3, "n", "zz", json!({}), None),
            ],
        ),
    )
    .await;
    // A rejected write is not a health matter; nothing else is told to the public.
    let (status, h) = api.get("/sync/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h, json!({"status": "healthy"}));
}

async fn events_poke_after_a_push(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let mut events = api.events("alice").await;
    let mut second = api.events("alice").await;
    let resp = api
        .push_ok("alice", &batch("c-1", vec![put(1, "n", "a", json!({}), None), put(2, "n", "b", json!({}), None)]))
        .await;
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
