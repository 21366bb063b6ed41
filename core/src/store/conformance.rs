//! The store conformance suite: every [`Store`] must pass these. The host runs them on
//! `MemoryStore` (`cargo test`); the browser suites in `tests/` run them on IndexedDB.
//! Each test takes a fresh store opened with [`config`]. Test code: panics are the
//! failure report.

use serde_json::{json, Value};

use crate::config::ClientConfig;
use crate::engine::LocalWrites;
use crate::error::Error;
use crate::mutation::{LocalOp, LocalWrite, WriteOutcome};
use crate::protocol::Op;
use std::cmp::Ordering;

use crate::model::{KeyRef, Writes};
use crate::query::exec::{matches, Candidate};
use crate::query::exec::{Answer, Hit};
use crate::query::plan::plan;
use crate::query::plan::Plan;
use crate::query::{keys, Query};
use crate::record::OutboxEntry;
use crate::record::{key_order, EntityRecord, ListQuery, STORAGE_FORMAT};
use crate::store::{Durability, Store};
use crate::value::AppValue;

/// Calls `$m!(test_name)` for every test in the suite, so each backend gets one named
/// test per case.
#[macro_export]
macro_rules! for_each_store_test {
    ($m:ident) => {
        $m!(put_then_get_round_trips);
        $m!(entity_and_outbox_move_together);
        $m!(put_then_patch_is_one_entry);
        $m!(create_then_delete_leaves_nothing);
        $m!(sent_entries_are_never_rewritten);
        $m!(batches_are_taken_after_an_id_and_flagged_sent);
        $m!(mutation_ids_increase_and_persist);
        $m!(list_skips_tombstones_in_key_order_with_limit);
        $m!(list_by_index_matches_equal_values);
        $m!(list_orders_keys_as_indexeddb_does);
        $m!(failed_write_changes_nothing);
        $m!(unknown_collection_is_refused);
        $m!(outbox_is_in_id_order_and_limited);
        $m!(clear_removes_everything);
        $m!(batch_applies_in_order_as_one_write_each);
        $m!(batch_with_a_bad_write_writes_nothing);
        $m!(large_batches_find_stored_keys_in_sparse_and_crowded_ranges);
        $m!(query_answers_like_a_naive_filter_and_sort);
        $m!(query_pages_neither_repeat_nor_skip_across_writes);
        $m!(query_orders_an_equal_field_by_key_in_its_direction);
    };
}

pub fn config() -> ClientConfig {
    let config = json!({"name": "conformance", "collections": {
        "items": {"key": "id", "indexes": ["tripId", "rank"]},
        "notes": {"key": "id"},
        "places": {"key": "id", "indexes": ["a", ["b", "c"], {"field": "tags", "multiEntry": true}, "s", ["b", "s"]]}}});
    match ClientConfig::from_json(config) {
        Ok(c) => c,
        Err(e) => panic!("conformance config: {e}"),
    }
}

const CLIENT: &str = "c-conformance";

// The suite speaks JSON; each store holds values its own way (`Store::Value`). These
// convert at the store's edge, so every store is held to the same JSON.

pub fn to_store<V: AppValue>(op: LocalOp) -> LocalOp<V> {
    match op {
        LocalOp::Put(v) => LocalOp::Put(V::from_json(v)),
        LocalOp::Patch(v) => LocalOp::Patch(V::from_json(v)),
        LocalOp::Delete => LocalOp::Delete,
    }
}

pub fn json_record<V: AppValue>(r: EntityRecord<V>) -> EntityRecord {
    let (value, base) = (r.value.as_ref().map(V::to_json), r.base.as_ref().map(V::to_json));
    r.with_values(value, base)
}

pub fn json_entry<V: AppValue>(e: OutboxEntry<V>) -> OutboxEntry {
    let value = e.value.to_json();
    e.with_value(value)
}

pub fn json_outcome<V: AppValue>(o: WriteOutcome<V>) -> WriteOutcome {
    WriteOutcome {
        value: o.value.as_ref().map(V::to_json),
        queued: o.queued,
        version: o.version,
        changed: o.changed,
        pending_delta: o.pending_delta,
    }
}

pub async fn json_get<S: Store>(store: &S, collection: &str, key: &str) -> Result<Option<EntityRecord>, Error> {
    Ok(store.get(collection, key).await?.map(json_record))
}

pub async fn json_list<S: Store>(store: &S, collection: &str, query: &ListQuery) -> Result<Vec<EntityRecord>, Error> {
    Ok(store.list(collection, query).await?.into_iter().map(json_record).collect())
}

pub async fn json_outbox<S: Store>(store: &S, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
    Ok(store.outbox(limit).await?.into_iter().map(json_entry).collect())
}

pub async fn json_query<S: Store>(store: &S, query: &Query, plan: &Plan) -> Result<Answer, Error> {
    let answer = store.query(query, plan).await?;
    let json_hit = |h: Hit<S::Value>| Hit { value: h.value.to_json(), key: h.key };
    Ok(Answer { records: answer.records.into_iter().map(json_hit).collect(), next: answer.next })
}

async fn write<S: Store>(store: &S, collection: &str, key: &str, op: LocalOp) -> WriteOutcome {
    try_write(store, collection, key, op).await.unwrap_or_else(|e| panic!("write {collection}/{key}: {e}"))
}

async fn try_write<S: Store>(store: &S, collection: &str, key: &str, op: LocalOp) -> Result<WriteOutcome, Error> {
    let w = LocalWrite::new(collection.into(), key.into(), to_store(op), 1_700_000_000_000);
    store.write_local(&w).await.map(json_outcome)
}

async fn put<S: Store>(store: &S, collection: &str, value: Value) -> WriteOutcome {
    let key = value["id"].as_str().unwrap_or_default().to_owned();
    write(store, collection, &key, LocalOp::Put(value)).await
}

async fn live_keys<S: Store>(store: &S, collection: &str, query: ListQuery) -> Vec<String> {
    json_list(store, collection, &query).await.unwrap().into_iter().map(|r| r.key).collect()
}

pub async fn put_then_get_round_trips<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    let value = json!({"id": "a", "title": "Rome", "nested": {"n": [1, 2.5, "x", null, true]}});
    let out = put(store, "items", value.clone()).await;
    assert!(out.queued);
    assert_eq!(json_outbox(store, 10).await.unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [1]);
    let record = json_get(store, "items", "a").await.unwrap().expect("record stored");
    assert_eq!(record.value, Some(value));
    assert_eq!((record.version, record.pending), (None, 1));
    assert_eq!(json_get(store, "items", "b").await.unwrap(), None);
}

pub async fn entity_and_outbox_move_together<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    put(store, "items", json!({"id": "a", "n": 1})).await;
    put(store, "notes", json!({"id": "a", "text": "same key, other collection"})).await;
    let outbox = json_outbox(store, 100).await.unwrap();
    assert_eq!(outbox.len(), 2);
    assert_eq!((outbox[0].collection.as_str(), outbox[0].op), ("items", Op::Put));
    assert_eq!(outbox[1].collection, "notes");
    assert_eq!(store.pending_count().await.unwrap(), 2);
}

pub async fn put_then_patch_is_one_entry<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    put(store, "items", json!({"id": "a", "n": 1})).await;
    write(store, "items", "a", LocalOp::Patch(json!({"m": 2}))).await;
    let outbox = json_outbox(store, 100).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!((outbox[0].op, &outbox[0].value), (Op::Put, &json!({"id": "a", "n": 1, "m": 2})));
    let record = json_get(store, "items", "a").await.unwrap().unwrap();
    assert_eq!(record.value, Some(json!({"id": "a", "n": 1, "m": 2})));
}

pub async fn create_then_delete_leaves_nothing<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    put(store, "items", json!({"id": "a", "tripId": "t"})).await;
    write(store, "items", "a", LocalOp::Delete).await;
    assert_eq!(json_get(store, "items", "a").await.unwrap(), None);
    assert_eq!(store.pending_count().await.unwrap(), 0);
    assert!(live_keys(store, "items", ListQuery::default()).await.is_empty());
}

pub async fn sent_entries_are_never_rewritten<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    put(store, "items", json!({"id": "a", "n": 1})).await;
    store.mark_sent(&[1]).await.unwrap();
    write(store, "items", "a", LocalOp::Patch(json!({"n": 2}))).await;
    let outbox = json_outbox(store, 100).await.unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(outbox[0].sent);
    assert_eq!(outbox[0].value, json!({"id": "a", "n": 1}));
    assert_eq!((outbox[1].id, outbox[1].op, outbox[1].sent), (2, Op::Patch, false));
    // The create may have reached the server, so deleting now leaves a tombstone.
    write(store, "items", "a", LocalOp::Delete).await;
    let tombstone = json_get(store, "items", "a").await.unwrap().expect("tombstone kept");
    assert_eq!((tombstone.value, tombstone.pending), (None, 2));
    assert_eq!(json_outbox(store, 100).await.unwrap()[1].op, Op::Delete);
}

pub async fn batches_are_taken_after_an_id_and_flagged_sent<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    for key in ["a", "b", "c", "d"] {
        put(store, "items", json!({"id": key})).await;
    }
    let taken = |batch: Vec<OutboxEntry<S::Value>>| -> Vec<(u64, bool, u32)> {
        batch.into_iter().map(|e| (e.id, e.sent, e.attempts)).collect()
    };
    assert_eq!(taken(store.take_batch(0, 2).await.unwrap()), [(1, true, 1), (2, true, 1)]);
    // The next batch starts after the last one taken, which is still queued (its answer
    // not stored yet).
    assert_eq!(taken(store.take_batch(2, 10).await.unwrap()), [(3, true, 1), (4, true, 1)]);
    // Taken again from the start (a push that got no answer): a second attempt.
    assert_eq!(taken(store.take_batch(0, 1).await.unwrap()), [(1, true, 2)]);
    let outbox = json_outbox(store, 100).await.unwrap();
    let flags: Vec<(u64, bool, u32)> = outbox.iter().map(|e| (e.id, e.sent, e.attempts)).collect();
    assert_eq!(flags, [(1, true, 2), (2, true, 1), (3, true, 1), (4, true, 1)]);
    // A later write of a taken key is an entry of its own, not folded into the sent one.
    write(store, "items", "d", LocalOp::Patch(json!({"n": 1}))).await;
    assert_eq!(outbox_ids(store).await, [1, 2, 3, 4, 5]);
    assert_eq!(taken(store.take_batch(4, 10).await.unwrap()), [(5, true, 1)]);
    assert!(store.take_batch(5, 10).await.unwrap().is_empty());
}

async fn outbox_ids<S: Store>(store: &S) -> Vec<u64> {
    json_outbox(store, 100).await.unwrap().into_iter().map(|e| e.id).collect()
}

pub async fn mutation_ids_increase_and_persist<S: Store>(store: &S) {
    let first = store.open_meta(CLIENT).await.unwrap();
    assert_eq!(first.client_id, CLIENT);
    for key in ["a", "b", "c"] {
        assert!(put(store, "items", json!({"id": key})).await.queued);
    }
    assert_eq!(outbox_ids(store).await, [1, 2, 3], "the store numbers new entries in write order");
    // A cancelled create spends its id too: ids are never reused.
    put(store, "items", json!({"id": "d"})).await;
    write(store, "items", "d", LocalOp::Delete).await;
    let again = store.open_meta("c-other").await.unwrap();
    assert_eq!(again.client_id, CLIENT);
    put(store, "items", json!({"id": "e"})).await;
    assert_eq!(outbox_ids(store).await, [1, 2, 3, 5]);
    // Nor after the outbox emptied: the server keeps every (client, id) it applied.
    store.clear(CLIENT).await.unwrap();
    put(store, "items", json!({"id": "f"})).await;
    assert_eq!(outbox_ids(store).await, [6]);
    // A key's stamps increase with its writes (ticked past the record's last stamp).
    let ids = outbox_ids(store).await;
    store.mark_sent(&ids).await.unwrap();
    write(store, "items", "f", LocalOp::Patch(json!({"n": 1}))).await;
    let hlcs: Vec<String> = json_outbox(store, 100).await.unwrap().into_iter().map(|e| e.hlc).collect();
    assert!(hlcs.len() == 2 && hlcs[0] < hlcs[1], "hlc not increasing: {hlcs:?}");
}

pub async fn list_skips_tombstones_in_key_order_with_limit<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    for key in ["c", "a", "d", "b"] {
        put(store, "items", json!({"id": key})).await;
    }
    let ids: Vec<u64> = json_outbox(store, 100).await.unwrap().into_iter().map(|e| e.id).collect();
    store.mark_sent(&ids).await.unwrap();
    write(store, "items", "a", LocalOp::Delete).await;
    assert_eq!(live_keys(store, "items", ListQuery::default()).await, ["b", "c", "d"]);
    assert_eq!(live_keys(store, "items", ListQuery { index: None, limit: Some(2) }).await, ["b", "c"]);
    assert!(live_keys(store, "notes", ListQuery::default()).await.is_empty());
}

pub async fn list_orders_keys_as_indexeddb_does<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    // UTF-16 code units: "\u{10000}" (D800 DC00) sorts before "\u{FFFF}", unlike UTF-8 bytes.
    for key in ["\u{FFFF}", "\u{10000}", "a"] {
        put(store, "items", json!({"id": key, "tripId": "t"})).await;
    }
    assert_eq!(live_keys(store, "items", ListQuery::default()).await, ["a", "\u{10000}", "\u{FFFF}"]);
    assert_eq!(live_keys(store, "items", ListQuery { index: None, limit: Some(2) }).await, ["a", "\u{10000}"]);
    let by_trip = ListQuery { index: Some(("tripId".into(), json!("t"))), limit: None };
    assert_eq!(live_keys(store, "items", by_trip).await, ["a", "\u{10000}", "\u{FFFF}"]);
}

pub async fn list_by_index_matches_equal_values<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    put(store, "items", json!({"id": "x3", "tripId": "t1", "rank": 2})).await;
    put(store, "items", json!({"id": "x1", "tripId": "t1", "rank": 1.0})).await;
    put(store, "items", json!({"id": "x2", "tripId": "t2", "rank": 1})).await;
    put(store, "items", json!({"id": "x4", "rank": true})).await;
    let by = |field: &str, value: Value, limit| ListQuery { index: Some((field.into(), value)), limit };
    assert_eq!(live_keys(store, "items", by("tripId", json!("t1"), None)).await, ["x1", "x3"]);
    assert_eq!(live_keys(store, "items", by("tripId", json!("t1"), Some(1))).await, ["x1"]);
    assert_eq!(live_keys(store, "items", by("rank", json!(1), None)).await, ["x1", "x2"]);
    assert!(live_keys(store, "items", by("tripId", json!("none"), None)).await.is_empty());
    write(store, "items", "x3", LocalOp::Patch(json!({"tripId": "t2"}))).await;
    assert_eq!(live_keys(store, "items", by("tripId", json!("t2"), None)).await, ["x2", "x3"]);
}

pub async fn failed_write_changes_nothing<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    let err = try_write(store, "items", "ghost", LocalOp::Patch(json!({"n": 1}))).await;
    assert_eq!(err, Err(Error::NotFound { collection: "items".into(), key: "ghost".into() }));
    assert_eq!(json_get(store, "items", "ghost").await.unwrap(), None);
    assert_eq!(store.pending_count().await.unwrap(), 0);
    put(store, "items", json!({"id": "a"})).await;
    assert_eq!(outbox_ids(store).await, [1], "a refused write takes no id");
}

pub async fn unknown_collection_is_refused<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    let unknown = Err(Error::UnknownCollection("nope".into()));
    assert_eq!(json_get(store, "nope", "a").await.map(|_| ()), unknown);
    assert_eq!(json_list(store, "nope", &ListQuery::default()).await.map(|_| ()), unknown);
    assert_eq!(try_write(store, "nope", "a", LocalOp::Put(json!({"id": "a"}))).await.map(|_| ()), unknown);
}

pub async fn outbox_is_in_id_order_and_limited<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    for key in ["k9", "k1", "k5"] {
        put(store, "notes", json!({"id": key})).await;
    }
    let ids = |entries: Vec<crate::record::OutboxEntry>| entries.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(json_outbox(store, 100).await.unwrap()), [1, 2, 3]);
    assert_eq!(ids(json_outbox(store, 2).await.unwrap()), [1, 2]);
}

pub async fn clear_removes_everything<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    put(store, "items", json!({"id": "a"})).await;
    put(store, "notes", json!({"id": "b"})).await;
    let fresh = store.clear("c-fresh").await.unwrap();
    assert_eq!(json_get(store, "items", "a").await.unwrap(), None);
    assert!(live_keys(store, "notes", ListQuery::default()).await.is_empty());
    assert_eq!(store.pending_count().await.unwrap(), 0);
    assert_eq!((fresh.client_id.as_str(), fresh.checkpoint, fresh.format), ("c-fresh", 0, STORAGE_FORMAT));
    // Stored by the clear itself: the metadata is never missing in between.
    assert_eq!(store.meta().await.unwrap().map(|m| m.client_id).as_deref(), Some("c-fresh"));
    assert_eq!(store.open_meta("c-other").await.unwrap().client_id, "c-fresh");
}

fn local<V: AppValue>(collection: &str, key: &str, op: LocalOp) -> LocalWrite<V> {
    LocalWrite::new(collection.into(), key.into(), to_store(op), 1_700_000_000_000)
}

pub async fn batch_applies_in_order_as_one_write_each<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    put(store, "items", json!({"id": "old", "n": 0})).await;
    let batch = [
        local("items", "a", LocalOp::Put(json!({"id": "a", "n": 1}))),
        local("notes", "b", LocalOp::Put(json!({"id": "b"}))),
        // Same key again in the batch: folds into the entry the first write made.
        local("items", "a", LocalOp::Patch(json!({"m": 2}))),
        // A key created and deleted inside the batch leaves nothing.
        local("items", "gone", LocalOp::Put(json!({"id": "gone"}))),
        local("items", "gone", LocalOp::Delete),
        // A key stored before the batch folds too.
        local("items", "old", LocalOp::Patch(json!({"n": 5}))),
    ];
    let outcomes = store.write_local_batch(&batch).await.unwrap();
    let queued: Vec<bool> = outcomes.iter().map(|o| o.queued).collect();
    assert_eq!(queued, [true, true, true, true, false, true]);
    let deltas: Vec<i64> = outcomes.iter().map(|o| o.pending_delta).collect();
    assert_eq!(deltas, [1, 1, 0, 1, -1, 0]);
    assert_eq!(json_get(store, "items", "a").await.unwrap().unwrap().value, Some(json!({"id": "a", "n": 1, "m": 2})));
    assert_eq!(json_get(store, "items", "gone").await.unwrap(), None);
    let outbox = json_outbox(store, 100).await.unwrap();
    let shape: Vec<(u64, &str, &str, Value)> =
        outbox.iter().map(|e| (e.id, e.collection.as_str(), e.key.as_str(), e.value.clone())).collect();
    assert_eq!(
        shape,
        [
            (1, "items", "old", json!({"id": "old", "n": 5})),
            (2, "items", "a", json!({"id": "a", "n": 1, "m": 2})),
            (3, "notes", "b", json!({"id": "b"})),
        ]
    );
    // An entry created and cancelled inside the batch was never stored: no id for it.
    put(store, "items", json!({"id": "next"})).await;
    assert_eq!(outbox_ids(store).await, [1, 2, 3, 4]);
    assert!(store.write_local_batch(&[]).await.unwrap().is_empty());
}

pub async fn batch_with_a_bad_write_writes_nothing<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    let batch = [
        local("items", "a", LocalOp::Put(json!({"id": "a"}))),
        local("items", "ghost", LocalOp::Patch(json!({"n": 1}))),
    ];
    let err = store.write_local_batch(&batch).await.map(|o| o.into_iter().map(json_outcome).collect::<Vec<_>>());
    assert_eq!(err, Err(Error::NotFound { collection: "items".into(), key: "ghost".into() }));
    assert_eq!(json_get(store, "items", "a").await.unwrap(), None);
    assert_eq!(store.pending_count().await.unwrap(), 0);
    put(store, "items", json!({"id": "a"})).await;
    assert_eq!(outbox_ids(store).await, [1], "a refused batch takes no ids");
}

pub async fn large_batches_find_stored_keys_in_sparse_and_crowded_ranges<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    let key = |i: usize| format!("k{i:03}");
    let puts: Vec<LocalWrite<S::Value>> =
        (0..100).map(|i| local("items", &key(i), LocalOp::Put(json!({"id": key(i)})))).collect();
    assert_eq!(store.write_local_batch(&puts).await.unwrap().len(), 100);
    // 20 keys spread over 96 stored ones (a crowded range), then 20 neighbours (sparse):
    // a patch of a key the batch wrongly thought absent would fail with not-found.
    for keys in [(0..100).step_by(5).collect::<Vec<_>>(), (40..60).collect()] {
        let patches: Vec<LocalWrite<S::Value>> =
            keys.iter().map(|&i| local("items", &key(i), LocalOp::Patch(json!({"n": i})))).collect();
        let outcomes = store.write_local_batch(&patches).await.unwrap();
        assert!(outcomes.iter().all(|o| o.pending_delta == 0), "patches fold into the queued puts");
    }
    assert_eq!(json_get(store, "items", "k045").await.unwrap().unwrap().value, Some(json!({"id": "k045", "n": 45})));
    assert_eq!(json_get(store, "items", "k051").await.unwrap().unwrap().value, Some(json!({"id": "k051", "n": 51})));
    assert_eq!(store.pending_count().await.unwrap(), 100);
}

// ---- queries (issue 17) ----

/// Every record that matches `query`, in its order, written without the planner: what
/// every store's pages must add up to.
pub fn naive(query: &Query, records: &[EntityRecord]) -> Vec<String> {
    let mut rows: Vec<(&EntityRecord, Vec<Value>)> = records
        .iter()
        .filter(|r| r.value.is_some() && matches(query, *r))
        .filter_map(|r| {
            let values: Option<Vec<Value>> =
                query.order.iter().map(|t| r.field(&t.field).filter(keys::is_key)).collect();
            values.map(|v| (r, v))
        })
        .collect();
    rows.sort_by(|(ra, a), (rb, b)| {
        for (t, (x, y)) in query.order.iter().zip(a.iter().zip(b)) {
            match keys::compare(x, y) {
                Ordering::Equal => continue,
                o if t.descending => return o.reverse(),
                o => return o,
            }
        }
        let o = key_order(&ra.key, &rb.key);
        if query.order.last().is_some_and(|t| t.descending) {
            o.reverse()
        } else {
            o
        }
    });
    rows.into_iter().map(|(r, _)| r.key.clone()).collect()
}

/// A small deterministic generator (xorshift): the suite must not depend on proptest.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())].clone()
    }
}

fn place_value(rng: &mut Seeded, i: usize) -> Value {
    let scalars = [
        json!(-2),
        json!(0),
        json!(1),
        json!(1.5),
        json!(3),
        json!(""),
        json!("a"),
        json!("ab"),
        json!("b"),
        json!("\u{e9}"),
        json!("\u{10000}"),
        json!(true),
        json!(null),
    ];
    let mut v = json!({"id": format!("p{i:02}")});
    if rng.below(5) > 0 {
        v["a"] = rng.pick(&scalars);
    }
    if rng.below(4) > 0 {
        v["b"] = rng.pick(&[json!("x"), json!("y")]);
    }
    if rng.below(4) > 0 {
        v["c"] = json!(rng.below(4));
    }
    match rng.below(4) {
        0 => {}
        1 => v["tags"] = rng.pick(&scalars),
        _ => {
            let tags: Vec<Value> =
                (0..rng.below(4)).map(|_| rng.pick(&[json!("red"), json!("green"), json!("blue"), json!(2)])).collect();
            v["tags"] = Value::Array(tags);
        }
    }
    if rng.below(5) > 0 {
        v["s"] = rng.pick(&[json!(""), json!("a"), json!("ab"), json!("abc"), json!("b"), json!("ba")]);
    }
    v
}

fn place_condition(rng: &mut Seeded) -> (String, Value) {
    let field = rng.pick(&["a", "b", "c", "tags", "s"]);
    let bound = |rng: &mut Seeded| {
        rng.pick(&[
            json!(-1),
            json!(0),
            json!(1),
            json!(2),
            json!(""),
            json!("a"),
            json!("b"),
            json!("red"),
            json!("x"),
        ])
    };
    let op = |rng: &mut Seeded| rng.pick(&["gt", "gte", "lt", "lte"]);
    let operand = match rng.below(7) {
        0 => rng.pick(&[json!(1), json!("a"), json!("x"), json!("red"), json!(2), json!(true), json!(null)]),
        1 => json!({ op(rng): bound(rng) }),
        2 => {
            let (o1, b1, o2, b2) = (op(rng), bound(rng), op(rng), bound(rng));
            let mut both = serde_json::Map::new();
            both.insert(o1.into(), b1);
            both.insert(o2.into(), b2);
            Value::Object(both)
        }
        3 => json!({"in": (0..rng.below(4)).map(|_| bound(rng)).collect::<Vec<_>>()}),
        4 => json!({"startsWith": rng.pick(&["", "a", "ab", "r", "x"])}),
        5 => json!({"in": [true, "b", 0]}),
        _ => json!({"gte": bound(rng), "startsWith": "a"}),
    };
    (field.to_owned(), operand)
}

/// Every page of `q`, following `next`, as keys.
async fn all_pages<S: Store>(store: &S, config: &ClientConfig, q: &Value) -> Vec<String> {
    let places = config.collection("places").unwrap();
    let (mut keys, mut after) = (Vec::new(), Value::Null);
    for _ in 0..200 {
        let mut q = q.clone();
        q["after"] = after;
        let query = Query::parse(places, &q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let answer = json_query(store, &query, &plan(places, &query)).await.unwrap_or_else(|e| panic!("{q}: {e}"));
        keys.extend(answer.records.into_iter().map(|r| r.key));
        match answer.next {
            Some(next) => after = Value::String(next),
            None => return keys,
        }
    }
    panic!("{q}: more than 200 pages")
}

async fn store_places<S: Store>(store: &S, records: &[EntityRecord]) {
    let in_store = |r: &EntityRecord| {
        let (value, base) = (r.value.clone().map(S::Value::from_json), r.base.clone().map(S::Value::from_json));
        r.clone().with_values(value, base)
    };
    let writes = Writes {
        records: records.iter().map(|r| (("places".to_owned(), r.key.clone()), Some(in_store(r)))).collect(),
        ..Default::default()
    };
    // The keys name the transaction's stores (IndexedDB opens it over those only).
    let keys: Vec<KeyRef> = records.iter().map(|r| ("places".to_owned(), r.key.clone())).collect();
    store.transact(&keys, Durability::Default, |_| Ok((writes, ()))).await.unwrap();
}

fn place(key: String, value: Option<Value>) -> EntityRecord {
    EntityRecord {
        key,
        value,
        version: Some(1),
        base: None,
        hlc: String::new(),
        pending: 0,
        updated_at: 0.0,
        conflict: None,
        revived: false,
    }
}

pub async fn query_answers_like_a_naive_filter_and_sort<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    let config = config();
    let mut rng = Seeded(0x5eed_1234_abcd_0017);
    let mut records: Vec<EntityRecord> =
        (0..60).map(|i| place(format!("p{i:02}"), Some(place_value(&mut rng, i)))).collect();
    records.push(place("p99".into(), None)); // a tombstone is never an answer
    store_places(store, &records).await;
    let places = config.collection("places").unwrap();
    let orders = [
        json!(null),
        json!("a"),
        json!("-a"),
        json!(["b", "c"]),
        json!(["b", "-c"]),
        json!("-s"),
        json!(["c", "-s"]),
        json!("c"),
    ];
    for round in 0..150 {
        let conditions: serde_json::Map<String, Value> = (0..rng.below(3)).map(|_| place_condition(&mut rng)).collect();
        let limit = [Value::Null, json!(1), json!(3), json!(7)][round % 4].clone();
        let q = json!({"where": conditions, "orderBy": rng.pick(&orders), "limit": limit});
        let Ok(query) = Query::parse(places, &q) else { panic!("{q}: refused") };
        let expected = naive(&query, &records);
        assert_eq!(all_pages(store, &config, &q).await, expected, "{q} with {:?}", plan(places, &query));
    }
}

pub async fn query_pages_neither_repeat_nor_skip_across_writes<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    let config = config();
    let places = config.collection("places").unwrap();
    let value = |i: usize| json!({"id": format!("p{i:02}"), "b": "x", "c": i % 5});
    store_places(store, &(0..20).map(|i| place(format!("p{i:02}"), Some(value(i)))).collect::<Vec<_>>()).await;
    for q in [
        json!({"where": {"b": "x"}, "orderBy": "c", "limit": 4}),
        json!({"orderBy": "-c", "limit": 3}),
        json!({"limit": 5}),
    ] {
        let (mut seen, mut after, mut extra) = (Vec::<String>::new(), Value::Null, 100);
        loop {
            let mut page_q = q.clone();
            page_q["after"] = after;
            let query = Query::parse(places, &page_q).unwrap();
            let answer = json_query(store, &query, &plan(places, &query)).await.unwrap();
            seen.extend(answer.records.into_iter().map(|r| r.key));
            let Some(next) = answer.next else { break };
            after = Value::String(next);
            // Between pages: new records land before and after the cursor.
            let new: Vec<EntityRecord> = [0, 4]
                .iter()
                .map(|&c| {
                    extra += 1;
                    place(format!("q{extra}"), Some(json!({"id": format!("q{extra}"), "b": "x", "c": c})))
                })
                .collect();
            store_places(store, &new).await;
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{q}: a record came twice: {seen:?}");
        for i in 0..20 {
            assert!(seen.contains(&format!("p{i:02}")), "{q}: p{i:02} was skipped: {seen:?}");
        }
    }
}

pub async fn query_orders_an_equal_field_by_key_in_its_direction<S: Store>(store: &S) {
    store.open_meta(CLIENT).await.unwrap();
    let config = config();
    // Index `a` holds one key for all five: the order by a field the query fixes is the
    // key's order, in that term's direction, on every page.
    let value = |i: usize| json!({"id": format!("p{i}"), "a": 1.5, "b": "x", "c": 2});
    store_places(store, &(0..5).map(|i| place(format!("p{i}"), Some(value(i)))).collect::<Vec<_>>()).await;
    for (q, expected) in [
        (json!({"where": {"a": 1.5}, "orderBy": "-a", "limit": 2}), ["p4", "p3", "p2", "p1", "p0"]),
        (json!({"where": {"a": 1.5}, "orderBy": "a", "limit": 2}), ["p0", "p1", "p2", "p3", "p4"]),
        (json!({"where": {"b": "x", "c": 2}, "orderBy": ["b", "-c"], "limit": 1}), ["p4", "p3", "p2", "p1", "p0"]),
    ] {
        assert_eq!(all_pages(store, &config, &q).await, expected, "{q}");
    }
}
