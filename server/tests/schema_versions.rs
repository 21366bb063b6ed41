//! Schema versions of documents (issue 17): the `schemaVersion` a pushed mutation carries
//! is kept with the document and returned on pull and in conflict answers; a mutation
//! without one leaves none (version 1 to clients); a patch newer than its document's version
//! is a conflict. Once per backend (see `per_backend!` in common).

mod common;

use common::*;
use serde_json::{json, Value};

per_backend!(schema_versions_are_kept_with_documents_and_returned_on_pull);

fn versioned(mut mutation: Value, schema: u32) -> Value {
    mutation["schemaVersion"] = json!(schema);
    mutation
}

async fn schema_versions_are_kept_with_documents_and_returned_on_pull(backend: Backend) {
    let s = start(&backend).await;
    let api = s.api();
    let old = put(1, "trips", "old", json!({"name": "Rome"}), None);
    let new = versioned(put(2, "trips", "new", json!({"title": "Oslo"}), None), 3);
    let resp = api.push_ok("alice", &batch("c-1", vec![old, new])).await;
    let (v_old, v_new) = (version_of(&resp, 0), version_of(&resp, 1));
    let page = api.pull_ok("alice", 0, 500).await;
    assert_eq!(
        page["changes"],
        json!([
            {"collection": "trips", "key": "old", "version": v_old, "value": {"name": "Rome"}, "hlc": hlc(1), "space": "user:alice"},
            {"collection": "trips", "key": "new", "version": v_new, "value": {"title": "Oslo"}, "hlc": hlc(2),
             "space": "user:alice", "schemaVersion": 3}])
    );
    // A version 2 patch of the version 1 document is refused: merged into the old shape, the
    // result would carry version 2 and no reader would migrate it. The client answers with a
    // whole value of version 2, which takes the document's place and its version.
    let patched = versioned(patch(3, "trips", "old", json!({"title": "Rome"}), Some(v_old)), 2);
    let resp = api.push_ok("alice", &batch("c-1", vec![patched])).await;
    assert_eq!(resp["results"][0]["status"], "conflict", "{resp}");
    assert_eq!(resp["results"][0]["server"].get("schemaVersion"), None, "{resp}");
    let whole = versioned(put(4, "trips", "old", json!({"name": "Rome", "title": "Rome"}), Some(v_old)), 2);
    let v_whole = version_of(&api.push_ok("alice", &batch("c-1", vec![whole])).await, 0);
    let page = api.pull_ok("alice", v_new, 500).await;
    assert_eq!(page["changes"][0]["schemaVersion"], 2);
    assert_eq!(page["changes"][0]["value"], json!({"name": "Rome", "title": "Rome"}));
    // The last writer's version is the document's: a version 2 patch of it applies, and an
    // unversioned write takes the version away again.
    let patched = versioned(patch(5, "trips", "old", json!({"title": "Roma"}), Some(v_whole)), 2);
    let v_patched = version_of(&api.push_ok("alice", &batch("c-1", vec![patched])).await, 0);
    let page = api.pull_ok("alice", v_whole, 500).await;
    assert_eq!(page["changes"][0]["schemaVersion"], 2);
    assert_eq!(page["changes"][0]["value"], json!({"name": "Rome", "title": "Roma"}));
    let unversioned = put(6, "trips", "old", json!({"name": "Roma"}), Some(v_patched));
    version_of(&api.push_ok("alice", &batch("c-1", vec![unversioned])).await, 0);
    let page = api.pull_ok("alice", v_patched, 500).await;
    assert_eq!(page["changes"][0].get("schemaVersion"), None, "{page}");
    // A later schema version than any client knows is kept as it came.
    let future = versioned(put(5, "trips", "future", json!({"shape": 9}), None), 9);
    let v_future = version_of(&api.push_ok("alice", &batch("c-2", vec![future])).await, 0);
    let page = api.pull_ok("alice", v_future - 1, 500).await;
    assert_eq!(page["changes"][0]["schemaVersion"], 9);
    // A conflict's answer says the version of the server's value, for the client to migrate.
    let stale = versioned(put(7, "trips", "future", json!({"title": "x"}), None), 3);
    let resp = api.push_ok("alice", &batch("c-1", vec![stale])).await;
    assert_eq!(resp["results"][0]["status"], "conflict");
    assert_eq!(resp["results"][0]["server"]["schemaVersion"], 9);
}
