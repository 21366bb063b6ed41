//! Conflict paths found wanting in review (2026-12-05), engine against the fake server.
//! Each failed before its fix.

use pollster::block_on;
use pwa_sync_core::config::ClientConfig;
use pwa_sync_core::engine::{
    discard_pending, ensure_checkpoint_scope, reset_checkpoint, resolve_conflict, sync, LocalWrites, TransportError,
};
use pwa_sync_core::error::ErrorClass;
use pwa_sync_core::fake::{FakeServer, Fault, Recorder};
use pwa_sync_core::model::KeyRef;
use pwa_sync_core::mutation::{LocalOp, LocalWrite};
use pwa_sync_core::protocol::{MutationResult, PushResponse};
use pwa_sync_core::record::ListQuery;
use pwa_sync_core::store::memory::MemoryStore;
use pwa_sync_core::store::Store;
use pwa_sync_core::sync::Choice;
use serde_json::{json, Value};
use std::collections::BTreeMap;

struct Client {
    config: ClientConfig,
    store: MemoryStore,
    observer: Recorder,
}

impl Client {
    fn new(id: &str, strategy: &str) -> Client {
        let config = ClientConfig::from_json(json!({"name": "r", "collections": {
            "trips": {"key": "id", "conflict": strategy, "omit": ["secret"]}}}))
        .unwrap();
        let store = MemoryStore::new(&config);
        block_on(store.open_meta(id)).unwrap();
        block_on(ensure_checkpoint_scope(&store, &config)).unwrap();
        let observer = Recorder::default();
        observer.now.set(1_700_000_000_000);
        Client { config, store, observer }
    }

    fn write(&self, key: &str, op: LocalOp) {
        self.observer.now.set(self.observer.now.get() + 1);
        let w = LocalWrite::new("trips".into(), key.into(), op, self.observer.now.get());
        block_on(self.store.write_local(&w)).unwrap();
    }

    fn sync(&self, server: &FakeServer) -> bool {
        block_on(sync(&self.config, &self.store, server, &self.observer)).is_ok()
    }

    fn live(&self) -> BTreeMap<KeyRef, Value> {
        let mut out = BTreeMap::new();
        for r in block_on(self.store.list("trips", &ListQuery::default())).unwrap() {
            out.insert(("trips".to_owned(), r.key.clone()), r.value.unwrap());
        }
        out
    }

    fn pending(&self) -> usize {
        block_on(self.store.pending_count()).unwrap()
    }
}

/// A edits t1 offline while B deletes it; under `merge` A's edit revives the record. The
/// revived record keeps the pre-delete value as `base` at the tombstone's version.
fn revived(server: &FakeServer) -> Client {
    let (a, b) = (Client::new("c-a", "merge"), Client::new("c-b", "merge"));
    a.write("t1", LocalOp::Put(json!({"id": "t1", "n": 1})));
    assert!(a.sync(server));
    assert!(b.sync(server));
    b.write("t1", LocalOp::Delete);
    assert!(b.sync(server)); // server: t1 is a tombstone at v2
    a.write("t1", LocalOp::Patch(json!({"n": 2})));
    server.fault(Fault::Pass); // the conflict answer arrives and is stored
    server.fault(Fault::Fail(TransportError::new(ErrorClass::Network, "lost"))); // the revived put is not
    assert!(!a.sync(server));
    assert_eq!(a.pending(), 1);
    a
}

#[test]
fn discarding_a_revived_record_shows_the_servers_delete() {
    let server = FakeServer::new();
    let a = revived(&server);
    block_on(discard_pending(&a.store, &a.observer)).unwrap();
    assert!(a.sync(&server));
    block_on(reset_checkpoint(&a.store)).unwrap();
    assert!(a.sync(&server));
    // Before: A showed {"id":"t1","n":1} for good; the server (and B) have deleted t1.
    assert_eq!(a.live(), server.live());
}

#[test]
fn a_rejected_revival_rolls_back_to_the_servers_delete() {
    let server = FakeServer::new();
    let a = revived(&server);
    let id = block_on(a.store.outbox(1)).unwrap()[0].id;
    server.fault(Fault::Answer(PushResponse {
        results: vec![MutationResult::Rejected { id, code: "validation".into(), message: "no".into() }],
        last_mutation_id: id,
        server_time: None,
    }));
    assert!(a.sync(&server));
    // Before: rolled back to the value before the delete, which the server no longer has.
    assert_eq!(a.live(), server.live());
}

fn edit_both(server: &FakeServer, a: &Client, b: &Client) {
    a.write("t1", LocalOp::Put(json!({"id": "t1", "v": 0})));
    assert!(a.sync(server));
    assert!(b.sync(server));
    a.write("t1", LocalOp::Patch(json!({"v": "a"})));
    b.write("t1", LocalOp::Patch(json!({"v": "b"})));
    assert!(a.sync(server));
    assert!(b.sync(server)); // B: manual conflict c1, local {"v": "b"}
}

#[test]
fn a_second_manual_conflict_keeps_the_firsts_undecided_change() {
    let server = FakeServer::new();
    let (a, b) = (Client::new("c-a", "manual"), Client::new("c-b", "manual"));
    edit_both(&server, &a, &b);
    b.write("t1", LocalOp::Patch(json!({"note": "x"})));
    a.write("t1", LocalOp::Patch(json!({"v": "a2"})));
    assert!(a.sync(&server));
    assert!(b.sync(&server)); // second conflict on t1
    let open = block_on(b.store.conflicts()).unwrap();
    // One open conflict, whose local side holds both B's undecided "b" (the first
    // conflict's) and B's later note (before, "b" was gone with the first conflict).
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].local, Some(json!({"id": "t1", "v": "b", "note": "x"})), "{open:?}");
    assert_eq!(open[0].server, Some(json!({"id": "t1", "v": "a2"})));
}

#[test]
fn resolving_local_after_own_later_edits_does_not_silently_drop_them() {
    let server = FakeServer::new();
    let (a, b) = (Client::new("c-a", "manual"), Client::new("c-b", "manual"));
    edit_both(&server, &a, &b);
    let c1 = block_on(b.store.conflicts()).unwrap().remove(0);
    b.write("t1", LocalOp::Patch(json!({"note": "x"})));
    assert!(b.sync(&server)); // applied: the server moved on from c1.server_version
    block_on(resolve_conflict(&b.store, c1.id, b.observer.now.get(), |_| Ok(Choice::Local))).unwrap();
    assert!(b.sync(&server));
    let doc = server.doc("trips", "t1").unwrap().value.unwrap();
    // The choice goes out as its change ("v": "b") over B's later note: before, the whole
    // chosen value was put over v3 (the server lets a client's write follow its own) and
    // the note was gone, here and on the server.
    assert_eq!(doc, json!({"id": "t1", "v": "b", "note": "x"}));
    assert_eq!(b.live()[&("trips".to_owned(), "t1".to_owned())], doc);
}

#[test]
fn a_push_conflict_never_stores_omitted_fields() {
    let server = FakeServer::new();
    let a = Client::new("c-a", "serverWins");
    a.write("t1", LocalOp::Put(json!({"id": "t1", "n": 1})));
    assert!(a.sync(&server));
    a.write("t1", LocalOp::Patch(json!({"n": 2})));
    server.external_put("trips", "t1", json!({"id": "t1", "n": 3, "secret": "s"}), "001700000000000-0000-c-x");
    assert!(a.sync(&server));
    // Before: the push-conflict path stored the server value without applying `omit`.
    assert!(a.live()[&("trips".to_owned(), "t1".to_owned())].get("secret").is_none(), "{:?}", a.live());
}

#[test]
fn a_put_in_another_space_over_a_queued_delete_is_a_move_refused() {
    let config =
        ClientConfig::from_json(json!({"name": "s", "collections": {"lists": {"key": "id", "spaceField": "groupId"}}}))
            .unwrap();
    let store: MemoryStore = MemoryStore::new(&config);
    block_on(store.open_meta("c-a")).unwrap();
    block_on(ensure_checkpoint_scope(&store, &config)).unwrap();
    let observer = Recorder::default();
    observer.now.set(1_700_000_000_000);
    let write = |op: LocalOp| {
        observer.now.set(observer.now.get() + 1);
        let mut w = LocalWrite::new("lists".into(), "l1".into(), op, observer.now.get());
        w.space = config.collection("lists").unwrap().space.clone();
        block_on(store.write_local(&w))
    };
    let server = FakeServer::new();
    write(LocalOp::Put(json!({"id": "l1", "groupId": "group:1"}))).unwrap();
    block_on(sync(&config, &store, &server, &observer)).unwrap();
    write(LocalOp::Delete).unwrap();
    // The server still has l1 in group:1 until the delete goes: a put there in group:2
    // is a move, refused as any move is (it folded into the delete's entry and went to
    // group:1, under group:2's field, before).
    let moved = write(LocalOp::Put(json!({"id": "l1", "groupId": "group:2"})));
    assert_eq!(moved.as_ref().map_err(|e| e.code()).err(), Some("invalid-value"), "{moved:?}");
    block_on(sync(&config, &store, &server, &observer)).unwrap();
    assert!(server.doc("lists", "l1").is_some_and(|d| d.value.is_none()), "the delete went through");
    // Once the server has the delete, the key is free to be created in group:2.
    write(LocalOp::Put(json!({"id": "l1", "groupId": "group:2"}))).unwrap();
    block_on(sync(&config, &store, &server, &observer)).unwrap();
    let doc = server.doc("lists", "l1").unwrap();
    assert_eq!(doc.space.as_deref(), Some("group:2"), "{doc:?}");
}
