//! Spaces (issue 14) against the real router on 127.0.0.1:0, once per backend (see
//! `per_backend!` in common): private spaces and v1 clients, roles on push and pull,
//! backfill and revocation across pages, the admin API and its credentials, signed
//! inbound writes, pokes to members, and the caps on event streams.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use pwa_sync_server::webhook::sign;
use reqwest::StatusCode;
use serde_json::{json, Value};

per_backend!(
    v1_clients_keep_their_private_space,
    non_members_read_nothing_and_cannot_write,
    readers_cannot_write_writers_can,
    backfill_on_join_misses_nothing_and_doubles_nothing,
    backfill_follows_changes_made_while_paging,
    backfill_groups_are_read_whole_across_chunks,
    revoked_spaces_are_reported_and_stop,
    owners_manage_members_and_others_cannot,
    admin_api_needs_the_admin_token,
    server_writes_are_atomic_versioned_and_announced,
    signed_inbound_writes,
    pokes_reach_every_member_and_only_members,
    event_streams_are_capped,
    pull_restricts_to_named_spaces,
    everyone_reads_a_space_from_their_first_pull,
    users_create_group_spaces_and_share_them,
);

const ADMIN: &str = "admin-s3cret";
const INBOUND: &str = "inbound-s3cret";

async fn start_admin(backend: &Backend) -> TestServer {
    start_with(backend, |c| {
        c.admin.token = Some(ADMIN.into());
        c.admin.inbound_secret = Some(INBOUND.as_bytes().to_vec());
    })
    .await
}

/// A request to the admin API with `auth` as the bearer token (none when `None`).
async fn admin(
    s: &TestServer,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let url = format!("{}{path}", s.base);
    let mut req = match method {
        "PUT" => s.http.put(url),
        "DELETE" => s.http.delete(url),
        "POST" => s.http.post(url),
        _ => s.http.get(url),
    };
    if let Some(token) = auth {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body.to_string());
    }
    read(req.send().await.unwrap()).await
}

async fn grant(s: &TestServer, space: &str, user: &str, role: &str) {
    let path = format!("/sync/admin/spaces/{space}/members/{user}");
    let (status, body) = admin(s, "PUT", &path, Some(ADMIN), Some(json!({ "role": role }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"space": space, "user": user, "role": role}));
}

async fn remove(s: &TestServer, space: &str, user: &str) {
    let path = format!("/sync/admin/spaces/{space}/members/{user}");
    let (status, body) = admin(s, "DELETE", &path, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Server writes of `(space, key, value)` puts into collection `c`; their versions.
async fn write(s: &TestServer, writes: &[(&str, &str, Value)]) -> Vec<u64> {
    let writes: Vec<Value> = writes
        .iter()
        .map(|(space, key, value)| json!({"space": space, "collection": "c", "key": key, "op": "put", "value": value}))
        .collect();
    let (status, body) = admin(s, "POST", "/sync/admin/writes", Some(ADMIN), Some(json!({ "writes": writes }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"].as_array().unwrap().iter().map(|r| r["version"].as_u64().unwrap()).collect()
}

fn in_space(space: &str, m: Value) -> Value {
    let mut m = m;
    m["space"] = json!(space);
    m
}

/// (space, key) of each change.
fn keys(changes: &[Value]) -> Vec<(String, String)> {
    changes.iter().map(|c| (c["space"].as_str().unwrap().to_string(), c["key"].as_str().unwrap().to_string())).collect()
}

async fn spaces_of(s: &TestServer, user: &str) -> Value {
    let (status, body) = s.api().get("/sync/spaces", Some(&format!("Bearer dev:{user}")), Some("1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn v1_clients_keep_their_private_space(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    // A v1 mutation (no space) lands in the private space, and comes back tagged with it.
    let v = version_of(&api.push_ok("alice", &batch("c-1", vec![put(1, "n", "k", json!({"a": 1}), None)])).await, 0);
    let page = api.pull_ok("alice", 0, 100).await;
    assert_eq!(
        page,
        json!({"changes": [{"collection": "n", "key": "k", "version": v, "value": {"a": 1}, "hlc": hlc(1),
               "space": "user:alice"}], "checkpoint": v, "hasMore": false})
    );
    // Naming the private space is the same document.
    let resp = api
        .push_ok("alice", &batch("c-1", vec![in_space("user:alice", put(2, "n", "k", json!({"a": 2}), Some(v)))]))
        .await;
    let v2 = version_of(&resp, 0);
    assert_eq!(api.pull_ok("alice", v, 100).await["changes"][0]["value"], json!({"a": 2}));
    // Nobody else's: bob's private space is not alice's, and writing into it is forbidden.
    assert_eq!(api.pull_ok("bob", 0, 100).await["changes"], json!([]));
    let resp =
        api.push_ok("bob", &batch("c-2", vec![in_space("user:alice", put(1, "n", "k", json!({}), Some(v2)))])).await;
    assert_eq!(resp["results"][0]["status"], "rejected");
    assert_eq!(resp["results"][0]["code"], "forbidden");
    assert_eq!(spaces_of(&s, "alice").await, json!({"spaces": [{"id": "user:alice", "role": "owner"}]}));
    // An invalid space id is refused before anything is recorded.
    let (status, body) =
        api.push("alice", &batch("c-1", vec![in_space("a b", put(3, "n", "k", json!({}), None))])).await;
    assert_error(status, &body, 400, "invalid-request");
}

async fn non_members_read_nothing_and_cannot_write(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    write(&s, &[("g", "k1", json!({"secret": "g's"})), ("g", "k2", json!({"n": 2}))]).await;
    // bob is no member of g: nothing of it in any pull, even when he names it.
    let (all, _) = api.pull_all("bob", 0, 1).await;
    assert_eq!(all, Vec::<Value>::new());
    let (status, body) = api.pull("bob", "checkpoint=0&spaces=g").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["changes"], json!([]));
    // His write into g is forbidden, the rest of his batch applies, and the answer is
    // stored (a resend gets the same).
    let push = batch(
        "b-1",
        vec![in_space("g", put(1, "c", "k1", json!({"mine": true}), None)), put(2, "n", "own", json!({}), None)],
    );
    let resp = api.push_ok("bob", &push).await;
    assert_eq!(resp["results"][0]["status"], "rejected");
    assert_eq!(resp["results"][0]["code"], "forbidden");
    assert_eq!(resp["results"][1]["status"], "applied");
    assert_eq!(api.push_ok("bob", &push).await, resp);
    let (all, _) = api.pull_all("bob", 0, 10).await;
    assert_eq!(keys(&all), vec![("user:bob".to_string(), "own".to_string())]);
    assert_eq!(spaces_of(&s, "bob").await["spaces"].as_array().unwrap().len(), 1);
}

async fn readers_cannot_write_writers_can(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    let v = write(&s, &[("g", "k", json!({"n": 1}))]).await[0];
    grant(&s, "g", "bob", "reader").await;
    assert_eq!(
        spaces_of(&s, "bob").await["spaces"],
        json!([{"id": "g", "role": "reader"}, {"id": "user:bob", "role": "owner"}])
    );
    let (all, _) = api.pull_all("bob", 0, 10).await;
    assert_eq!(keys(&all), vec![("g".to_string(), "k".to_string())]);
    let resp = api.push_ok("bob", &batch("b-1", vec![in_space("g", put(1, "c", "k", json!({"n": 2}), Some(v)))])).await;
    assert_eq!(resp["results"][0]["code"], "forbidden");
    grant(&s, "g", "bob", "writer").await;
    let resp = api.push_ok("bob", &batch("b-1", vec![in_space("g", put(2, "c", "k", json!({"n": 2}), Some(v)))])).await;
    let v2 = version_of(&resp, 0);
    // Another member sees bob's write in g.
    grant(&s, "g", "carol", "reader").await;
    let (all, _) = api.pull_all("carol", 0, 10).await;
    assert_eq!(all.len(), 1);
    assert_eq!((all[0]["version"].as_u64(), &all[0]["value"]), (Some(v2), &json!({"n": 2})));
}

/// Pages `user` from `checkpoint` with `limit`, returning every change and the checkpoint;
/// asserts that no page is empty while `hasMore` and that checkpoints only grow.
async fn page_all(api: &Api, user: &str, mut checkpoint: u64, limit: u32) -> (Vec<Value>, u64, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let page = api.pull_ok(user, checkpoint, limit).await;
        pages += 1;
        let next = page["checkpoint"].as_u64().unwrap();
        assert!(next >= checkpoint, "checkpoint went back: {checkpoint} -> {next}");
        all.extend(page["changes"].as_array().unwrap().iter().cloned());
        checkpoint = next;
        if !page["hasMore"].as_bool().unwrap() {
            return (all, checkpoint, pages);
        }
    }
}

/// No (space, key, version) twice.
fn assert_no_doubles(changes: &[Value]) {
    let mut seen = BTreeSet::new();
    for c in changes {
        let id = (c["space"].to_string(), c["key"].to_string(), c["version"].as_u64());
        assert!(seen.insert(id.clone()), "delivered twice: {id:?}");
    }
}

/// The latest (version, value) per (space, key) of `changes`.
fn state(changes: &[Value]) -> BTreeMap<(String, String), (u64, Value)> {
    let mut map = BTreeMap::new();
    for c in changes {
        let key = (c["space"].as_str().unwrap().to_string(), c["key"].as_str().unwrap().to_string());
        let version = c["version"].as_u64().unwrap();
        if map.get(&key).is_none_or(|(v, _)| *v < version) {
            map.insert(key, (version, c["value"].clone()));
        }
    }
    map
}

async fn backfill_on_join_misses_nothing_and_doubles_nothing(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    // g has 7 documents (one deleted) before bob joins; bob has his own.
    let g: Vec<(String, Value)> = (0..7).map(|i| (format!("g{i}"), json!({ "i": i }))).collect();
    write(&s, &g.iter().map(|(k, v)| ("g", k.as_str(), v.clone())).collect::<Vec<_>>()).await;
    let del = json!({"writes": [{"space": "g", "collection": "c", "key": "g6", "op": "delete"}]});
    assert_eq!(admin(&s, "POST", "/sync/admin/writes", Some(ADMIN), Some(del)).await.0, StatusCode::OK);
    for i in 0..3 {
        api.push_ok("bob", &batch("b-1", vec![put(i + 1, "c", &format!("b{i}"), json!({}), None)])).await;
    }
    let (before, checkpoint, _) = page_all(&api, "bob", 0, 2).await;
    assert_eq!(before.len(), 3);
    grant(&s, "g", "bob", "reader").await;
    // Changes after the grant, in g and in bob's space.
    write(&s, &[("g", "g0", json!({"i": "changed"})), ("g", "g7", json!({"i": 7}))]).await;
    api.push_ok("bob", &batch("b-1", vec![put(4, "c", "b3", json!({}), None)])).await;
    let (after, end, pages) = page_all(&api, "bob", checkpoint, 2).await;
    assert_no_doubles(&after);
    assert!(pages >= 3, "small pages: {pages}");
    // Everything of g as it is now (tombstone included), plus bob's new change.
    let (alice_view, _, _) = {
        grant(&s, "g", "alice", "reader").await;
        page_all(&api, "alice", 0, 1000).await
    };
    let mut expected: BTreeMap<_, _> = state(&alice_view).into_iter().filter(|((space, _), _)| space == "g").collect();
    assert_eq!(expected.len(), 8);
    assert_eq!(expected[&("g".to_string(), "g6".to_string())].1, Value::Null);
    let b3 = after.iter().find(|c| c["key"] == "b3").cloned().unwrap_or_else(|| panic!("b3 missing: {after:?}"));
    expected.insert(("user:bob".into(), "b3".into()), (b3["version"].as_u64().unwrap(), json!({})));
    assert_eq!(state(&after), expected);
    // Nothing more afterwards, and pulling from 0 gives the same state once.
    assert_eq!(api.pull_ok("bob", end, 2).await["changes"], json!([]));
    let (from_zero, _, _) = page_all(&api, "bob", 0, 3).await;
    assert_no_doubles(&from_zero);
    assert_eq!(state(&from_zero).len(), 8 + 4);
}

/// A backfill group larger than a page's first chunk (32 rows) is read across chunks of
/// the real statements (`db::pull::Reading`: each after the last row's position and
/// version), whole: at a limit that holds it, at one it passes (sent whole), and at one
/// that ends the page before it; with rows of the caller's own space after it.
async fn backfill_groups_are_read_whole_across_chunks(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    let g: Vec<(String, Value)> = (0..60).map(|i| (format!("g{i:02}"), json!({ "i": i }))).collect();
    write(&s, &g.iter().map(|(k, v)| ("g", k.as_str(), v.clone())).collect::<Vec<_>>()).await;
    api.push_ok("bob", &batch("b-1", vec![put(1, "c", "b00", json!({}), None)])).await;
    let (_, checkpoint, _) = page_all(&api, "bob", 0, 2500).await;
    grant(&s, "g", "bob", "reader").await;
    write(&s, &[("g", "g00", json!({"i": "changed"})), ("g", "g60", json!({"i": 60}))]).await;
    let own: Vec<Value> = (1..=40).map(|i| put(i + 1, "c", &format!("b{i:02}"), json!({}), None)).collect();
    api.push_ok("bob", &batch("b-1", own)).await;
    let (expected, _, _) = {
        grant(&s, "g", "alice", "reader").await;
        page_all(&api, "alice", 0, 2500).await
    };
    let expected: BTreeMap<_, _> = state(&expected).into_iter().filter(|((space, _), _)| space == "g").collect();
    assert_eq!(expected.len(), 61);
    for limit in [2500, 100, 35, 7] {
        let (after, _, pages) = page_all(&api, "bob", checkpoint, limit).await;
        assert_no_doubles(&after);
        let got = state(&after);
        let in_g: BTreeMap<_, _> =
            got.iter().filter(|((space, _), _)| space == "g").map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(in_g, expected, "limit {limit}, {pages} pages");
        assert_eq!(got.len(), 61 + 40, "limit {limit}: bob's own writes after the grant");
    }
}

/// Documents of the backfilled space change between pages: each is delivered at its new
/// version, nothing is lost.
async fn backfill_follows_changes_made_while_paging(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    for i in 0..4 {
        api.push_ok("bob", &batch("b-1", vec![put(i + 1, "c", &format!("b{i}"), json!({}), None)])).await;
    }
    let keys_g: Vec<String> = (0..5).map(|i| format!("g{i}")).collect();
    write(&s, &keys_g.iter().map(|k| ("g", k.as_str(), json!({"v": 0}))).collect::<Vec<_>>()).await;
    let (_, checkpoint, _) = page_all(&api, "bob", 0, 100).await;
    grant(&s, "g", "bob", "reader").await;
    api.push_ok("bob", &batch("b-1", vec![put(10, "c", "b9", json!({}), None)])).await;
    // First page, then g changes, then the rest.
    let first = api.pull_ok("bob", checkpoint, 2).await;
    let mut all: Vec<Value> = first["changes"].as_array().unwrap().clone();
    write(&s, &[("g", "g4", json!({"v": 1})), ("g", "g0", json!({"v": 1}))]).await;
    let (rest, _, _) = page_all(&api, "bob", first["checkpoint"].as_u64().unwrap(), 2).await;
    all.extend(rest);
    assert_no_doubles(&all);
    let st = state(&all);
    for k in &keys_g {
        let want = if k == "g4" || k == "g0" { json!({"v": 1}) } else { json!({"v": 0}) };
        assert_eq!(st.get(&("g".to_string(), k.clone())).map(|x| &x.1), Some(&want), "{k}: {all:?}");
    }
    assert!(st.contains_key(&("user:bob".to_string(), "b9".to_string())));
}

async fn revoked_spaces_are_reported_and_stop(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    write(&s, &[("g", "k", json!({}))]).await;
    grant(&s, "g", "bob", "writer").await;
    let (_, checkpoint, _) = page_all(&api, "bob", 0, 10).await;
    remove(&s, "g", "bob").await;
    write(&s, &[("g", "after", json!({}))]).await;
    let page = api.pull_ok("bob", checkpoint, 10).await;
    assert_eq!(page["revoked"], json!(["g"]));
    assert_eq!(page["changes"], json!([]), "nothing of g after the revocation");
    // Said once: a pull from the newer checkpoint does not repeat it (absent = none).
    let (status, again) = api.pull("bob", &format!("checkpoint={}", page["checkpoint"])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(again.get("revoked").is_none(), "{again}");
    // A client that never read g (checkpoint 0) is not told about it either.
    assert!(api.pull_ok("bob", 0, 10).await.get("revoked").is_none());
    // Writes into g are forbidden again, and g is no longer listed.
    let resp = api.push_ok("bob", &batch("b-1", vec![in_space("g", put(1, "c", "x", json!({}), None))])).await;
    assert_eq!(resp["results"][0]["code"], "forbidden");
    assert_eq!(spaces_of(&s, "bob").await["spaces"].as_array().unwrap().len(), 1);
    // Granted again: g comes back whole (the client dropped its copies).
    grant(&s, "g", "bob", "reader").await;
    let (back, _, _) = page_all(&api, "bob", page["checkpoint"].as_u64().unwrap(), 10).await;
    let mut got = keys(&back);
    got.sort();
    assert_eq!(got, vec![("g".to_string(), "after".to_string()), ("g".to_string(), "k".to_string())]);
}

async fn owners_manage_members_and_others_cannot(backend: Backend) {
    let s = start_admin(&backend).await;
    grant(&s, "g", "alice", "owner").await;
    let members = |user: &str| format!("/sync/admin/spaces/g/members/{user}");
    let (status, body) = admin(&s, "PUT", &members("bob"), Some("dev:alice"), Some(json!({"role": "writer"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // bob writes but does not own: he cannot add, list or remove members.
    let (status, body) = admin(&s, "PUT", &members("carol"), Some("dev:bob"), Some(json!({"role": "owner"}))).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = admin(&s, "GET", "/sync/admin/spaces/g/members", Some("dev:bob"), None).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = admin(&s, "DELETE", &members("alice"), Some("dev:bob"), None).await;
    assert_error(status, &body, 403, "forbidden");
    // alice owns g, not h; nor may she write server-side.
    let (status, body) = admin(&s, "GET", "/sync/admin/spaces/h/members", Some("dev:alice"), None).await;
    assert_error(status, &body, 403, "forbidden");
    let writes = json!({"writes": [{"space": "g", "collection": "c", "key": "k", "op": "put", "value": {}}]});
    let (status, body) = admin(&s, "POST", "/sync/admin/writes", Some("dev:alice"), Some(writes)).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = admin(&s, "GET", "/sync/admin/spaces/g/members", Some("dev:alice"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"members": [{"user": "alice", "role": "owner"}, {"user": "bob", "role": "writer"}]}));
    let (status, _) = admin(&s, "DELETE", &members("bob"), Some("dev:alice"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = admin(&s, "GET", "/sync/admin/spaces/g/members", Some(ADMIN), None).await;
    assert_eq!(body, json!({"members": [{"user": "alice", "role": "owner"}]}));
    // A role that does not exist is refused, after the caller was checked.
    let (status, body) = admin(&s, "PUT", &members("bob"), Some("dev:alice"), Some(json!({"role": "admin"}))).await;
    assert_error(status, &body, 400, "invalid-request");
}

async fn admin_api_needs_the_admin_token(backend: Backend) {
    // Without a configured token the admin API does not exist.
    let plain = start(&backend).await;
    for (method, path) in [("GET", "/sync/admin/spaces/g/members"), ("POST", "/sync/admin/writes")] {
        let (status, body) = admin(&plain, method, path, Some(ADMIN), Some(json!({"writes": []}))).await;
        assert_error(status, &body, 404, "not-found");
    }
    drop(plain);
    let s = start_admin(&backend).await;
    let put = |auth: Option<&'static str>| {
        let s = &s;
        async move { admin(s, "PUT", "/sync/admin/spaces/g/members/bob", auth, Some(json!({"role": "reader"}))).await }
    };
    let (status, body) = put(None).await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, body) = put(Some("admin-s3cre")).await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, body) = put(Some("dev:mallory")).await;
    assert_error(status, &body, 403, "forbidden");
    assert_eq!(s.api().pull_ok("bob", 0, 10).await["changes"], json!([]));
    let (status, _) = put(Some(ADMIN)).await;
    assert_eq!(status, StatusCode::OK);
    // Invalid ids get the API's 400.
    let (status, body) =
        admin(&s, "PUT", "/sync/admin/spaces/a%20b/members/bob", Some(ADMIN), Some(json!({"role": "reader"}))).await;
    assert_error(status, &body, 400, "invalid-request");
    let long = "x".repeat(129);
    let (status, body) = admin(&s, "GET", &format!("/sync/admin/spaces/{long}/members"), Some(ADMIN), None).await;
    assert_error(status, &body, 400, "invalid-request");
    let writes = json!({"writes": [{"space": "no spaces", "collection": "c", "key": "k", "op": "put", "value": {}}]});
    let (status, body) = admin(&s, "POST", "/sync/admin/writes", Some(ADMIN), Some(writes)).await;
    assert_error(status, &body, 400, "invalid-request");
    let (status, body) = admin(&s, "POST", "/sync/admin/writes", Some(ADMIN), Some(json!({"writes": 1}))).await;
    assert_error(status, &body, 400, "invalid-request");
}

async fn server_writes_are_atomic_versioned_and_announced(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    grant(&s, "conference", "ana", "reader").await;
    let (_, checkpoint, _) = page_all(&api, "ana", 0, 10).await;
    let mut events = api.events("ana").await;
    let body = json!({"writes": [
        {"space": "conference", "collection": "sessions", "key": "s1", "op": "put", "value": {"room": "A"}},
        {"space": "conference", "collection": "sessions", "key": "s1", "op": "patch", "value": {"time": "9:00"}},
        {"space": "user:ana", "collection": "breakout", "key": "b", "op": "put", "value": {"group": 3}},
        {"space": "conference", "collection": "sessions", "key": "s2", "op": "delete"}]});
    let (status, resp) = admin(&s, "POST", "/sync/admin/writes", Some(ADMIN), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let versions: Vec<u64> =
        resp["results"].as_array().unwrap().iter().map(|r| r["version"].as_u64().unwrap()).collect();
    assert_eq!(versions.len(), 4);
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    assert!(events.wait_for_checkpoint(versions[3], Duration::from_secs(10)).await, "ana is poked");
    let (changes, _, _) = page_all(&api, "ana", checkpoint, 10).await;
    let st = state(&changes);
    assert_eq!(st[&("conference".to_string(), "s1".to_string())].1, json!({"room": "A", "time": "9:00"}));
    assert_eq!(st[&("user:ana".to_string(), "b".to_string())].1, json!({"group": 3}));
    assert_eq!(st[&("conference".to_string(), "s2".to_string())].1, Value::Null);
    assert!(changes.iter().all(|c| c["hlc"].as_str().is_some_and(|h| h.ends_with("-server"))));
    // A patch of a missing document fails the whole request: nothing of it is written.
    let body = json!({"writes": [
        {"space": "conference", "collection": "sessions", "key": "s3", "op": "put", "value": {}},
        {"space": "conference", "collection": "sessions", "key": "nope", "op": "patch", "value": {"a": 1}}]});
    let (status, resp) = admin(&s, "POST", "/sync/admin/writes", Some(ADMIN), Some(body)).await;
    assert_error(status, &resp, 400, "invalid-request");
    let last = versions[3];
    assert_eq!(api.pull_ok("ana", last, 10).await["changes"], json!([]));
    // A client's own writes keep working over a server-written document.
    let resp = api
        .push_ok(
            "ana",
            &batch(
                "a-1",
                vec![in_space("user:ana", patch(1, "breakout", "b", json!({"seen": true}), Some(versions[2])))],
            ),
        )
        .await;
    assert_eq!(resp["results"][0]["status"], "applied");
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn signed_inbound_writes(backend: Backend) {
    let s = start_admin(&backend).await;
    grant(&s, "course", "ana", "reader").await;
    let send = |body: String, signature: Option<String>| {
        let s = &s;
        async move {
            let mut req = s.http.post(format!("{}/sync/admin/writes", s.base)).body(body);
            if let Some(sig) = signature {
                req = req.header("sync-signature", sig);
            }
            read(req.send().await.unwrap()).await
        }
    };
    let body = json!({"writes": [{"space": "course", "collection": "enrolments", "key": "ana", "op": "put",
                                  "value": {"course": "rust"}}]})
    .to_string();
    let now = now_secs();
    // Wrong secret, stale, from the future, tampered body, malformed, missing: 401.
    let refusals = [
        Some(sign(b"wrong secret", now, body.as_bytes())),
        Some(sign(INBOUND.as_bytes(), now - 301, body.as_bytes())),
        // (a margin: the server reads its clock a moment later, maybe a second on)
        Some(sign(INBOUND.as_bytes(), now + 330, body.as_bytes())),
        Some(sign(INBOUND.as_bytes(), now, body.replace("rust", "java").as_bytes())),
        Some("t=abc,v1=00".to_string()),
        None,
    ];
    for signature in refusals {
        let (status, resp) = send(body.clone(), signature.clone()).await;
        assert_error(status, &resp, 401, "unauthorized");
        assert_eq!(s.api().pull_ok("ana", 0, 10).await["changes"], json!([]), "{signature:?} wrote nothing");
    }
    let (status, resp) = send(body.clone(), Some(sign(INBOUND.as_bytes(), now - 250, body.as_bytes()))).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let changes = s.api().pull_ok("ana", 0, 10).await["changes"].clone();
    assert_eq!(changes[0]["value"], json!({"course": "rust"}));
    // A signature is no admin token: member endpoints still need one.
    let sig = sign(INBOUND.as_bytes(), now, b"");
    let resp = s
        .http
        .get(format!("{}/sync/admin/spaces/course/members", s.base))
        .header("sync-signature", sig)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

async fn pokes_reach_every_member_and_only_members(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    grant(&s, "g", "alice", "writer").await;
    grant(&s, "g", "bob", "reader").await;
    let mut bob = api.events("bob").await;
    let mut carol = api.events("carol").await;
    let v = version_of(
        &api.push_ok("alice", &batch("a-1", vec![in_space("g", put(1, "c", "k", json!({}), None))])).await,
        0,
    );
    // (With PostgreSQL, the NOTIFY of bob's own grant may still arrive first: a poke too many
    // costs a pull, a poke too few would lose the change until the next one.)
    assert!(bob.wait_for_checkpoint(v, Duration::from_secs(10)).await, "alice's write pokes bob");
    // carol joins: her open stream is poked (she pulls the backfill), then follows g.
    grant(&s, "g", "carol", "reader").await;
    assert!(carol.next_data(Duration::from_secs(10)).await.is_some(), "carol is poked on joining");
    let v2 = version_of(
        &api.push_ok("alice", &batch("a-1", vec![in_space("g", put(2, "c", "k2", json!({}), None))])).await,
        0,
    );
    assert!(carol.wait_for_checkpoint(v2, Duration::from_secs(10)).await);
    assert!(bob.wait_for_checkpoint(v2, Duration::from_secs(10)).await);
    // bob leaves: poked once for the revocation, then no more pokes of g.
    remove(&s, "g", "bob").await;
    assert!(bob.next_data(Duration::from_secs(10)).await.is_some(), "bob is poked on leaving");
    api.push_ok("alice", &batch("a-1", vec![in_space("g", put(3, "c", "k3", json!({}), None))])).await;
    assert_eq!(bob.next_data(Duration::from_millis(700)).await, None, "no pokes of g after leaving");
    // A change in alice's private space reaches no one else.
    api.push_ok("alice", &batch("a-1", vec![put(4, "c", "mine", json!({}), None)])).await;
    assert!(carol.wait_for_checkpoint(v2 + 1, Duration::from_secs(5)).await, "carol saw k3");
    assert_eq!(carol.next_data(Duration::from_millis(700)).await, None);
}

async fn event_streams_are_capped(backend: Backend) {
    let s = start_with(&backend, |c| {
        c.streams.per_user = 2;
        c.streams.total = 3;
    })
    .await;
    let api = s.api();
    let _a1 = api.events("alice").await;
    let _a2 = api.events("alice").await;
    let open = |user: &str| {
        api.http
            .get(format!("{}/sync/events", api.base))
            .header("authorization", format!("Bearer dev:{user}"))
            .header("x-sync-protocol", "1")
            .send()
    };
    let third = open("alice").await.unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().get("retry-after").is_some_and(|v| v.to_str().unwrap().parse::<u64>().is_ok()));
    let (status, body) = read(third).await;
    assert_error(status, &body, 429, "too-many-streams");
    let _b1 = api.events("bob").await;
    // Three open: the server's cap refuses carol's first.
    let (status, body) = read(open("carol").await.unwrap()).await;
    assert_error(status, &body, 429, "too-many-streams");
    // Pushes and pulls are not streams.
    api.push_ok("carol", &batch("c-1", vec![put(1, "c", "k", json!({}), None)])).await;
}

async fn pull_restricts_to_named_spaces(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    grant(&s, "g", "bob", "reader").await;
    grant(&s, "h", "bob", "reader").await;
    write(&s, &[("g", "kg", json!({})), ("h", "kh", json!({}))]).await;
    api.push_ok("bob", &batch("b-1", vec![put(1, "c", "kb", json!({}), None)])).await;
    let (status, page) = api.pull("bob", "checkpoint=0&spaces=g,user:bob").await;
    assert_eq!(status, StatusCode::OK);
    let mut got = keys(page["changes"].as_array().unwrap());
    got.sort();
    assert_eq!(got, vec![("g".to_string(), "kg".to_string()), ("user:bob".to_string(), "kb".to_string())]);
    let (status, body) = api.pull("bob", "checkpoint=0&spaces=a%20b").await;
    assert_error(status, &body, 400, "bad-request");
}

/// `POST /sync/spaces` as a sync client sends it.
async fn create_space(s: &TestServer, auth: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut req = s.http.post(format!("{}/sync/spaces", s.base)).header("x-sync-protocol", "1");
    if let Some(token) = auth {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    read(req.header("content-type", "application/json").body(body.to_string()).send().await.unwrap()).await
}

async fn everyone_reads_a_space_from_their_first_pull(backend: Backend) {
    let s = start_with(&backend, |c| {
        c.admin.token = Some(ADMIN.into());
        c.everyone = BTreeMap::from([("conference".to_string(), pwa_sync_core::protocol::Role::Reader)]);
    })
    .await;
    let api = s.api();
    write(&s, &[("conference", "s1", json!({"title": "Keynote"}))]).await;
    // A user never seen before reads it (the grant is recorded on first sight, so the
    // first pull, whatever its checkpoint, backfills the space).
    assert_eq!(
        spaces_of(&s, "ana").await["spaces"],
        json!([{"id": "conference", "role": "reader"}, {"id": "user:ana", "role": "owner"}])
    );
    let (all, checkpoint) = api.pull_all("bob", 0, 10).await;
    assert_eq!(keys(&all), vec![("conference".to_string(), "s1".to_string())]);
    // Reading is all: bob's write there is forbidden.
    let resp =
        api.push_ok("bob", &batch("b-1", vec![in_space("conference", put(1, "c", "s1", json!({}), None))])).await;
    assert_eq!(resp["results"][0]["code"], "forbidden");
    // An owner granted by the admin API keeps the stronger role, and writes.
    grant(&s, "conference", "organiser", "owner").await;
    let resp = api
        .push_ok(
            "organiser",
            &batch("o-1", vec![in_space("conference", put(1, "c", "s2", json!({"title": "Panel"}), None))]),
        )
        .await;
    assert_eq!(resp["results"][0]["status"], "applied", "{resp}");
    let roles = spaces_of(&s, "organiser").await;
    assert_eq!(roles["spaces"][0], json!({"id": "conference", "role": "owner"}));
    let (more, _) = api.pull_all("bob", checkpoint, 10).await;
    assert_eq!(keys(&more), vec![("conference".to_string(), "s2".to_string())]);
}

async fn users_create_group_spaces_and_share_them(backend: Backend) {
    let s = start_admin(&backend).await;
    let api = s.api();
    let create = |user: &'static str, body: Value| {
        let s = &s;
        async move { create_space(s, Some(&format!("dev:{user}")), body).await }
    };
    let (status, body) = create("ana", json!({"id": "group:trip-7"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({"id": "group:trip-7", "role": "owner"}));
    // Once created (or ever used), nobody else can take it, nor can ana again.
    let (status, body) = create("bob", json!({"id": "group:trip-7"})).await;
    assert_error(status, &body, 409, "space-exists");
    let (status, body) = create("ana", json!({"id": "group:trip-7"})).await;
    assert_error(status, &body, 409, "space-exists");
    write(&s, &[("group:used", "k", json!({}))]).await;
    let (status, body) = create("bob", json!({"id": "group:used"})).await;
    assert_error(status, &body, 409, "space-exists");
    // Names outside group: are the operator's; bad ids, bodies and tokens are refused.
    for id in ["conference", "user:bob", "group:", "group:a b", &format!("group:{}", "x".repeat(130))] {
        let (status, body) = create("bob", json!({ "id": id })).await;
        assert_error(status, &body, 400, "invalid-request");
    }
    let (status, body) = create("bob", json!({"name": "group:x"})).await;
    assert_error(status, &body, 400, "invalid-request");
    let (status, body) = create_space(&s, None, json!({"id": "group:x"})).await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, body) = create_space(&s, Some("forged"), json!({"id": "group:x"})).await;
    assert_error(status, &body, 401, "unauthorized");
    // The owner shares it: both write, and each reads the other's writes.
    let path = "/sync/admin/spaces/group:trip-7/members/bob";
    let (status, body) = admin(&s, "PUT", path, Some("dev:ana"), Some(json!({"role": "writer"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ana =
        api.push_ok("ana", &batch("a-1", vec![in_space("group:trip-7", put(1, "c", "tent", json!({}), None))])).await;
    let bob =
        api.push_ok("bob", &batch("b-1", vec![in_space("group:trip-7", put(1, "c", "stove", json!({}), None))])).await;
    assert_eq!(
        (ana["results"][0]["status"].as_str(), bob["results"][0]["status"].as_str()),
        (Some("applied"), Some("applied"))
    );
    for user in ["ana", "bob"] {
        let (all, _) = api.pull_all(user, 0, 10).await;
        let mut got = keys(&all);
        got.sort();
        assert_eq!(
            got,
            vec![("group:trip-7".to_string(), "stove".to_string()), ("group:trip-7".to_string(), "tent".to_string())]
        );
    }
}
