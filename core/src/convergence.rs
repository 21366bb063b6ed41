//! Property tests: random concurrent edit histories on two or three replicas, synced
//! through the fake server in random order. After quiescence every replica equals the
//! server, nothing is pending, and each mutation was applied at most once, under every
//! strategy. Also: `merge` never drops a field changed on one side only, and the whole
//! history replays to the same result.

use std::collections::BTreeMap;

use pollster::block_on;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::config::ClientConfig;
use crate::conflict::{resolve, Resolution, Sides};
use crate::engine::{ensure_checkpoint_scope, resolve_conflict, sync, LocalWrites};
use crate::fake::{FakeServer, Recorder};
use crate::model::KeyRef;
use crate::mutation::{LocalOp, LocalWrite};
use crate::record::ListQuery;
use crate::store::memory::MemoryStore;
use crate::store::Store;
use crate::sync::Choice;

const KEYS: [&str; 3] = ["k0", "k1", "k2"];
const FIELDS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Step {
    Put { replica: usize, key: usize, a: u8, b: u8 },
    Patch { replica: usize, key: usize, field: usize, value: u8 },
    AddTag { replica: usize, key: usize, tag: u8 },
    Delete { replica: usize, key: usize },
    Sync { replica: usize },
    Tick { replica: usize, ms: u32 },
}

fn step(replicas: usize) -> impl Strategy<Value = Step> {
    let r = 0..replicas;
    prop_oneof![
        (r.clone(), 0..KEYS.len(), 0u8..4, 0u8..4).prop_map(|(replica, key, a, b)| Step::Put { replica, key, a, b }),
        (r.clone(), 0..KEYS.len(), 0..FIELDS.len(), 0u8..4).prop_map(|(replica, key, field, value)| Step::Patch {
            replica,
            key,
            field,
            value
        }),
        (r.clone(), 0..KEYS.len(), 0u8..6).prop_map(|(replica, key, tag)| Step::AddTag { replica, key, tag }),
        (r.clone(), 0..KEYS.len()).prop_map(|(replica, key)| Step::Delete { replica, key }),
        r.clone().prop_map(|replica| Step::Sync { replica }),
        (r, 1u32..400_000).prop_map(|(replica, ms)| Step::Tick { replica, ms }),
    ]
}

fn history() -> impl Strategy<Value = (usize, Vec<Step>)> {
    (2usize..=3).prop_flat_map(|n| (Just(n), prop::collection::vec(step(n), 1..40)))
}

struct Replica {
    config: ClientConfig,
    store: MemoryStore,
    observer: Recorder,
}

fn config(conflict: &Value) -> ClientConfig {
    let config = json!({"name": "p", "batchSize": 3, "collections": {"docs": {"key": "id", "conflict": conflict}}});
    ClientConfig::from_json(config).unwrap_or_else(|e| panic!("{e}"))
}

impl Replica {
    fn new(i: usize, conflict: &Value) -> Replica {
        let config = config(conflict);
        let store = MemoryStore::new(&config);
        block_on(store.open_meta(&format!("c-{i}"))).unwrap();
        block_on(ensure_checkpoint_scope(&store, &config)).unwrap();
        let observer = Recorder::default();
        // Clocks disagree by up to an hour between replicas.
        observer.now.set(1_700_000_000_000 + i as u64 * 1_234_567);
        Replica { config, store, observer }
    }

    fn write(&self, key: &str, op: LocalOp) {
        let w = LocalWrite::new("docs".into(), key.into(), op, self.observer.now.get());
        // A patch of a deleted or unknown key is refused; that is a valid outcome here.
        let _ = block_on(self.store.write_local(&w));
    }

    fn value(&self, key: &str) -> Option<Value> {
        block_on(self.store.get("docs", key)).unwrap().and_then(|r| r.value)
    }

    fn sync(&self, server: &FakeServer) {
        block_on(sync(&self.config, &self.store, server, &self.observer))
            .unwrap_or_else(|f| panic!("sync failed: {f:?}"));
    }

    fn live(&self) -> BTreeMap<KeyRef, Value> {
        let records = block_on(self.store.list("docs", &ListQuery::default())).unwrap();
        records.into_iter().map(|r| (("docs".to_owned(), r.key), r.value.unwrap_or(Value::Null))).collect()
    }

    fn pending(&self) -> usize {
        block_on(self.store.pending_count()).unwrap()
    }

    /// The app settles every open manual conflict, alternating its choices.
    fn settle_manual(&self) {
        for (i, conflict) in block_on(self.store.conflicts()).unwrap().into_iter().enumerate() {
            let choice = if i % 2 == 0 { Choice::Local } else { Choice::Server };
            block_on(resolve_conflict(&self.store, conflict.id, self.observer.now.get(), |_| Ok(choice))).unwrap();
        }
    }
}

/// Run a history; returns the server's final live data.
fn run(conflict: &Value, replicas: usize, steps: &[Step]) -> BTreeMap<KeyRef, Value> {
    let server = FakeServer::new();
    let rs: Vec<Replica> = (0..replicas).map(|i| Replica::new(i, conflict)).collect();
    for s in steps {
        match *s {
            Step::Put { replica, key, a, b } => {
                rs[replica].write(KEYS[key], LocalOp::Put(json!({"id": KEYS[key], "a": a, "b": b})))
            }
            Step::Patch { replica, key, field, value } => {
                rs[replica].write(KEYS[key], LocalOp::Patch(json!({ FIELDS[field]: value })))
            }
            Step::AddTag { replica, key, tag } => {
                let r = &rs[replica];
                if let Some(current) = r.value(KEYS[key]) {
                    let mut tags = current.get("tags").and_then(Value::as_array).cloned().unwrap_or_default();
                    tags.push(json!(tag));
                    r.write(KEYS[key], LocalOp::Patch(json!({ "tags": tags })));
                }
            }
            Step::Delete { replica, key } => rs[replica].write(KEYS[key], LocalOp::Delete),
            Step::Sync { replica } => rs[replica].sync(&server),
            Step::Tick { replica, ms } => rs[replica].observer.now.set(rs[replica].observer.now.get() + ms as u64),
        }
    }
    // Quiescence: sync everyone until nothing moves.
    for _round in 0..10 {
        for r in &rs {
            r.settle_manual();
            r.sync(&server);
        }
        let settled = rs.iter().all(|r| r.pending() == 0 && block_on(r.store.conflicts()).unwrap().is_empty());
        if settled && rs.iter().all(|r| r.live() == rs[0].live()) {
            break;
        }
    }
    let server_live = server.live();
    for (i, r) in rs.iter().enumerate() {
        assert_eq!(r.pending(), 0, "replica {i} is stuck with pending writes");
        assert_eq!(r.live(), server_live, "replica {i} diverged from the server");
    }
    assert!(
        server.applied.borrow().values().all(|&n| n == 1),
        "a mutation was applied twice: {:?}",
        server.applied.borrow()
    );
    server_live
}

fn strategies() -> Vec<Value> {
    vec![
        json!("serverWins"),
        json!("clientWins"),
        json!("lastWriteWins"),
        json!({"strategy": "lastWriteWins", "manualWithinMs": 300_000}),
        json!({"strategy": "merge", "arrays": {"tags": "union"}}),
        json!({"strategy": "merge", "arrays": {"tags": "append"}, "manualFields": ["c"]}),
        json!("manual"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_strategy_converges_with_nothing_lost_twice((replicas, steps) in history()) {
        for strategy in strategies() {
            run(&strategy, replicas, &steps);
        }
    }

    #[test]
    fn histories_replay_to_the_same_result((replicas, steps) in history()) {
        let strategy = json!({"strategy": "merge", "arrays": {"tags": "append"}});
        prop_assert_eq!(run(&strategy, replicas, &steps), run(&strategy, replicas, &steps));
    }
}

fn object(fields: &BTreeMap<String, u8>) -> Value {
    Value::Object(fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<String, Value>>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Fields changed on only one side survive the merge with that side's value, whatever
    /// else changed and whichever clock is later.
    #[test]
    fn merge_keeps_every_one_sided_change(
        base in prop::collection::btree_map("[a-f]", 0u8..5, 0..6),
        local_changes in prop::collection::btree_map("[a-f]", prop::option::of(0u8..5), 0..4),
        server_changes in prop::collection::btree_map("[a-f]", prop::option::of(0u8..5), 0..4),
        local_later in any::<bool>(),
    ) {
        let apply = |changes: &BTreeMap<String, Option<u8>>| {
            let mut v = base.clone();
            for (k, c) in changes {
                match c { Some(x) => { v.insert(k.clone(), *x); } None => { v.remove(k); } }
            }
            v
        };
        let (local, server) = (apply(&local_changes), apply(&server_changes));
        let (b, l, s) = (object(&base), object(&local), object(&server));
        let (early, late) = ("001700000000000-0000-c-0", "001700000000001-0000-c-1");
        let (lh, sh) = if local_later { (late, early) } else { (early, late) };
        let cfg = config(&json!("merge")).collections.remove(0).conflict;
        let Resolution::Value(Some(merged)) = resolve(&cfg, Sides { local: Some(&l), server: Some(&s), base: Some(&b), local_hlc: lh, server_hlc: sh }, None) else {
            return Err(TestCaseError::fail("merge of objects must give an object"));
        };
        for field in ["a", "b", "c", "d", "e", "f"] {
            let (bv, lv, sv) = (b.get(field), l.get(field), s.get(field));
            let got = merged.get(field);
            if lv != bv && sv == bv {
                // Changed locally only (a removal counts only if the server left it alone).
                prop_assert_eq!(got, lv, "local-only change of {} lost", field);
            } else if sv != bv && lv == bv {
                prop_assert_eq!(got, sv, "server-only change of {} lost", field);
            } else if lv != bv && sv != bv {
                prop_assert!(got == lv || got == sv, "field {} is neither side's", field);
            } else {
                prop_assert_eq!(got, bv);
            }
        }
    }
}
