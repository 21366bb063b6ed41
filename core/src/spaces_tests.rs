//! Shared spaces through the engine, against the fake server: writes name their space,
//! a known reader's write is refused at once, a server's `forbidden` rolls back, a
//! revoked space leaves nothing behind, and a fixed collection keeps to its space.

use pollster::block_on;
use serde_json::{json, Value};

use crate::config::ClientConfig;
use crate::engine::{ensure_checkpoint_scope, sync, LocalWrites};
use crate::fake::{FakeServer, Fault, Recorder};
use crate::model::Effect;
use crate::mutation::{LocalOp, LocalWrite};
use crate::protocol::{Change, PullResponse};
use crate::record::ListQuery;
use crate::store::memory::MemoryStore;
use crate::store::Store;

struct Device {
    config: ClientConfig,
    store: MemoryStore,
    observer: Recorder,
}

impl Device {
    fn new() -> Device {
        let config = ClientConfig::from_json(json!({"name": "s", "collections": {
            "programme": {"key": "id", "space": "conference"},
            "lists": {"key": "id", "spaceField": "groupId"},
            "notes": {"key": "id"}}}))
        .unwrap();
        let store = MemoryStore::new(&config);
        block_on(store.open_meta("c-a")).unwrap();
        block_on(ensure_checkpoint_scope(&store, &config)).unwrap();
        let observer = Recorder::default();
        observer.now.set(1_700_000_000_000);
        Device { config, store, observer }
    }

    fn write(&self, collection: &str, key: &str, op: LocalOp, read_only: &[&str]) -> Result<(), crate::Error> {
        self.observer.now.set(self.observer.now.get() + 1);
        let mut w = LocalWrite::new(collection.into(), key.into(), op, self.observer.now.get());
        w.space = self.config.collection(collection).unwrap().space.clone();
        w.read_only = read_only.iter().map(|s| (*s).to_owned()).collect();
        block_on(self.store.write_local(&w)).map(|_| ())
    }

    fn put(&self, collection: &str, value: Value) -> Result<(), crate::Error> {
        let key = value["id"].as_str().unwrap().to_owned();
        self.write(collection, &key, LocalOp::Put(value), &[])
    }

    fn get(&self, collection: &str, key: &str) -> Option<Value> {
        block_on(self.store.get(collection, key)).unwrap().and_then(|r| r.value)
    }

    fn keys(&self, collection: &str) -> Vec<String> {
        block_on(self.store.list(collection, &ListQuery::default())).unwrap().into_iter().map(|r| r.key).collect()
    }

    fn sync(&self, server: &FakeServer) {
        block_on(sync(&self.config, &self.store, server, &self.observer)).unwrap();
    }
}

#[test]
fn writes_carry_the_space_of_their_collection_or_record() {
    let server = FakeServer::new();
    let a = Device::new();
    a.put("programme", json!({"id": "s1", "title": "Keynote"})).unwrap();
    a.put("lists", json!({"id": "l1", "groupId": "group:7", "item": "tent"})).unwrap();
    a.put("notes", json!({"id": "n1"})).unwrap();
    a.write("lists", "l1", LocalOp::Patch(json!({"item": "stove"})), &[]).unwrap();
    a.sync(&server);
    assert_eq!(server.doc("programme", "s1").unwrap().space.as_deref(), Some("conference"));
    assert_eq!(server.doc("lists", "l1").unwrap().space.as_deref(), Some("group:7"));
    assert_eq!(server.doc("notes", "n1").unwrap().space, None, "private: the wire leaves it out");
    // A delete goes to the space of the record it removes.
    a.write("lists", "l1", LocalOp::Delete, &[]).unwrap();
    let queued = block_on(a.store.outbox(10)).unwrap();
    assert_eq!(queued[0].space.as_deref(), Some("group:7"));
}

#[test]
fn a_record_without_its_space_field_or_moving_space_is_refused_and_nothing_is_written() {
    let a = Device::new();
    let missing = a.put("lists", json!({"id": "l1", "item": "tent"})).unwrap_err();
    assert_eq!(missing.code(), "invalid-value");
    a.put("lists", json!({"id": "l2", "groupId": "group:7"})).unwrap();
    let moved = a.put("lists", json!({"id": "l2", "groupId": "group:8"})).unwrap_err();
    assert_eq!(moved.code(), "invalid-value");
    assert!(moved.to_string().contains("cannot move between spaces"), "{moved}");
    let patched = a.write("lists", "l2", LocalOp::Patch(json!({"groupId": "group:8"})), &[]).unwrap_err();
    assert_eq!(patched.code(), "invalid-value");
    assert_eq!(a.get("lists", "l2"), Some(json!({"id": "l2", "groupId": "group:7"})));
    assert_eq!(block_on(a.store.pending_count()).unwrap(), 1);
}

#[test]
fn a_write_into_a_space_known_to_be_read_only_is_refused_at_once() {
    let a = Device::new();
    let refused = a.write("programme", "s1", LocalOp::Put(json!({"id": "s1"})), &["conference"]).unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    assert_eq!(a.get("programme", "s1"), None);
    assert_eq!(block_on(a.store.pending_count()).unwrap(), 0);
    // Other spaces stay writable.
    a.write("lists", "l1", LocalOp::Put(json!({"id": "l1", "groupId": "g"})), &["conference"]).unwrap();
}

#[test]
fn the_servers_forbidden_rolls_the_write_back() {
    let server = FakeServer::new();
    server.read_only.borrow_mut().push("conference".into());
    let a = Device::new();
    a.put("programme", json!({"id": "s1", "title": "mine"})).unwrap();
    a.sync(&server);
    assert_eq!(a.get("programme", "s1"), None);
    assert!(server.doc("programme", "s1").is_none());
    let effects = a.observer.effects.borrow();
    assert!(effects.iter().any(|e| matches!(e, Effect::Rejected { code, .. } if code == "forbidden")));
}

#[test]
fn a_revoked_space_leaves_no_record_and_rejects_its_pending_writes() {
    let server = FakeServer::new();
    let a = Device::new();
    a.put("lists", json!({"id": "l1", "groupId": "group:7"})).unwrap();
    a.put("lists", json!({"id": "l2", "groupId": "group:8"})).unwrap();
    a.put("programme", json!({"id": "s1"})).unwrap();
    a.sync(&server);
    // Offline edits in the space about to be revoked, and one pending delete there.
    a.write("lists", "l1", LocalOp::Patch(json!({"item": "x"})), &[]).unwrap();
    a.write("programme", "s1", LocalOp::Delete, &[]).unwrap();
    let checkpoint = block_on(a.store.meta()).unwrap().unwrap().checkpoint;
    server.fault(Fault::Pass); // the push goes through; the pull answers as follows
    server.fault(Fault::AnswerPull(PullResponse {
        changes: vec![],
        checkpoint,
        has_more: false,
        server_time: None,
        revoked: vec!["group:7".into(), "conference".into()],
    }));
    server.read_only.borrow_mut().extend(["group:7".to_owned(), "conference".to_owned()]);
    a.observer.effects.borrow_mut().clear();
    a.sync(&server);
    assert_eq!(a.keys("lists"), ["l2"]);
    assert_eq!(a.keys("programme"), Vec::<String>::new());
    assert_eq!(block_on(a.store.pending_count()).unwrap(), 0);
    let effects = a.observer.effects.borrow();
    assert!(effects.iter().any(|e| matches!(e, Effect::SpacesRevoked(s) if s.len() == 2)));
    assert!(effects.iter().any(|e| matches!(e, Effect::Changed { key, value: None, .. } if key == "l1")));
}

#[test]
fn a_fixed_collection_keeps_to_its_space_and_a_private_one_to_private_spaces() {
    let server = FakeServer::new();
    let a = Device::new();
    let change = |collection: &str, key: &str, space: &str, version: u64| Change {
        collection: collection.into(),
        key: key.into(),
        version,
        value: Some(json!({"id": key})),
        hlc: "001700000000000-0000-c-x".into(),
        space: Some(space.into()),
        schema_version: None,
    };
    server.fault(Fault::AnswerPull(PullResponse {
        changes: vec![
            change("programme", "s1", "conference", 1),
            change("programme", "s2", "other-conference", 2),
            change("notes", "n1", "user:ana", 3),
            change("notes", "n2", "group:7", 4),
        ],
        checkpoint: 4,
        has_more: false,
        server_time: None,
        revoked: vec![],
    }));
    a.sync(&server);
    assert_eq!(a.keys("programme"), ["s1"]);
    assert_eq!(a.keys("notes"), ["n1"]);
}

#[test]
fn a_backfilled_space_arrives_at_older_versions_and_is_stored_once() {
    let server = FakeServer::new();
    let a = Device::new();
    let change = |key: &str, version: u64| Change {
        collection: "programme".into(),
        key: key.into(),
        version,
        value: Some(json!({"id": key})),
        hlc: "001700000000000-0000-c-x".into(),
        space: Some("conference".into()),
        schema_version: None,
    };
    let page = |changes: Vec<Change>, checkpoint: u64| PullResponse {
        changes,
        checkpoint,
        has_more: false,
        server_time: None,
        revoked: vec![],
    };
    server.fault(Fault::AnswerPull(page(vec![change("s1", 9)], 9)));
    a.sync(&server);
    // Granted the space later: its documents come at their own (older) versions, after a
    // newer change, with the checkpoint at the grant.
    server.fault(Fault::AnswerPull(page(vec![change("s1", 9), change("s0", 3), change("s2", 12)], 14)));
    a.sync(&server);
    assert_eq!(a.keys("programme"), ["s0", "s1", "s2"]);
    assert_eq!(block_on(a.store.meta()).unwrap().unwrap().checkpoint, 14);
    // Without a space (a protocol-v1 server) a change below the checkpoint is still refused.
    let mut old = change("s3", 2);
    old.space = None;
    server.fault(Fault::AnswerPull(page(vec![old], 15)));
    let failed = block_on(sync(&a.config, &a.store, &server, &a.observer)).unwrap_err();
    assert_eq!(failed.error.class(), Some(crate::error::ErrorClass::Protocol));
}
