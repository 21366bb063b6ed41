//! Fuzzing with proptest (cargo-fuzz needs a nightly toolchain): arbitrary bytes and
//! arbitrary, protocol-shaped JSON into protocol decoding and the engine's checks of the
//! server's answers; JSON Merge Patch `apply`/`compose` on arbitrary nested JSON; and
//! `ClientConfig::from_json` on arbitrary and mutated configs.
//!
//! Properties: nothing panics; an answer the engine refuses as not protocol v1 changes
//! nothing in the store; `compose` has the effect of both patches whenever it answers;
//! config errors are always `invalid-config`.
//!
//! `cargo test` runs 256 cases per target. A longer run:
//! `PWA_SYNC_FUZZ_CASES=100000 cargo test -p pwa-sync-core --lib fuzz:: -- --test-threads=2`.

use std::cell::RefCell;

use pollster::block_on;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Map, Value};

use crate::config::ClientConfig;
use crate::engine::{ensure_checkpoint_scope, sync, LocalWrites, SyncError, Transport, TransportError};
use crate::error::{Error, ErrorClass};
use crate::fake::{FakeServer, Fault, Recorder};
use crate::model::AuditEntry;
use crate::mutation::{LocalOp, LocalWrite};
use crate::patch;
use crate::protocol::{Change, MutationResult, PullResponse, PushRequest, PushResponse, ServerState};
use crate::record::{ConflictRecord, EntityRecord, Meta, OutboxEntry};
use crate::store::memory::MemoryStore;
use crate::store::Store;

/// Cases per property: 256, or `PWA_SYNC_FUZZ_CASES`.
fn cases() -> u32 {
    std::env::var("PWA_SYNC_FUZZ_CASES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(256)
}

fn fuzz_config() -> ProptestConfig {
    ProptestConfig { cases: cases(), max_shrink_iters: 2_000, ..ProptestConfig::default() }
}

// ---- generators ----

/// Field names the protocol, configs and records use, so random objects often hit real
/// fields (with wrong types), plus a few others.
const WORDS: [&str; 44] = [
    "results",
    "lastMutationId",
    "serverTime",
    "changes",
    "checkpoint",
    "hasMore",
    "id",
    "status",
    "version",
    "server",
    "value",
    "hlc",
    "code",
    "message",
    "collection",
    "key",
    "clientId",
    "mutations",
    "op",
    "baseVersion",
    "applied",
    "conflict",
    "rejected",
    "put",
    "patch",
    "delete",
    "trips",
    "notes",
    "k0",
    "k1",
    "name",
    "collections",
    "endpoint",
    "retry",
    "batchSize",
    "strategy",
    "arrays",
    "indexes",
    "omit",
    "event",
    "ttlMs",
    "manualFields",
    "jitter",
    "x",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(&WORDS[..]).prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..8).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite()).prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(1.5)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        word().prop_map(Value::from),
        Just(json!("001700000000000-0000-c-x")),
    ]
}

/// Arbitrary JSON, nested a few levels, with protocol words as keys and strings.
fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..6).prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// JSON objects only (records and patches), nested.
fn any_object() -> impl Strategy<Value = Value> {
    prop::collection::vec((word(), any_json()), 0..6).prop_map(|fields| Value::Object(fields.into_iter().collect()))
}

/// A value as a pulled change or a conflicting server state might carry: usually a
/// record of a known key, sometimes anything.
fn record_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => (key(), any_object()).prop_map(|(k, mut v)| {
            v.as_object_mut().map(|o| o.insert("id".into(), Value::from(k)));
            Some(v)
        }),
        1 => Just(None),
        1 => any_json().prop_map(Some),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(&["k0", "k1", "k2", "k3"][..]).prop_map(str::to_owned), 1 => ".{0,4}"]
}

fn collection() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(&["trips", "notes"][..]).prop_map(str::to_owned), 1 => ".{0,6}"]
}

fn hlc() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..=999_999_999_999_999, 0u16..=9999).prop_map(|(w, c)| format!("{w:015}-{c:04}-c-s")),
        Just("001700000000000-0000-c-x".to_owned()),
        ".{0,24}",
    ]
}

fn small_or_any_u64() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..40, 1 => any::<u64>()]
}

fn server_time() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        2 => Just(None),
        1 => (1_600_000_000_000u64..1_800_000_000_000).prop_map(Some),
        1 => any::<u64>().prop_map(Some),
        // Where `server as i64 - now as i64` overflowed.
        1 => ((1u64 << 63)..(1u64 << 63) + 2_000_000_000_000).prop_map(Some),
    ]
}

fn mutation_result() -> impl Strategy<Value = MutationResult> {
    let id = || prop_oneof![4 => 0u64..8, 1 => any::<u64>()];
    prop_oneof![
        (id(), small_or_any_u64()).prop_map(|(id, version)| MutationResult::Applied { id, version }),
        (id(), small_or_any_u64(), record_value(), hlc()).prop_map(|(id, version, value, hlc)| {
            MutationResult::Conflict { id, server: ServerState { version, value, hlc, schema_version: None } }
        }),
        (id(), word(), ".{0,12}").prop_map(|(id, code, message)| MutationResult::Rejected { id, code, message }),
    ]
}

/// Well-typed push answers with arbitrary contents: ids sent or not, repeated, versions
/// anywhere, server values of any shape.
fn push_response() -> impl Strategy<Value = PushResponse> {
    (prop::collection::vec(mutation_result(), 0..6), small_or_any_u64(), server_time())
        .prop_map(|(results, last_mutation_id, server_time)| PushResponse { results, last_mutation_id, server_time })
}

fn change() -> impl Strategy<Value = Change> {
    (collection(), key(), small_or_any_u64(), record_value(), hlc()).prop_map(
        |(collection, key, version, value, hlc)| Change {
            collection,
            key,
            version,
            value,
            hlc,
            space: None,
            schema_version: None,
        },
    )
}

/// Well-typed pull pages with arbitrary contents: versions in or out of range, in or out
/// of order, a checkpoint anywhere.
fn pull_response() -> impl Strategy<Value = PullResponse> {
    (prop::collection::vec(change(), 0..6), small_or_any_u64(), any::<bool>(), server_time()).prop_map(
        |(changes, checkpoint, has_more, server_time)| PullResponse {
            changes,
            checkpoint,
            has_more,
            server_time,
            revoked: vec![],
        },
    )
}

// ---- a client on the fake server ----

const COLLECTIONS: [&str; 2] = ["trips", "notes"];
const KEYS: [&str; 4] = ["k0", "k1", "k2", "k3"];

struct Client {
    config: ClientConfig,
    store: MemoryStore,
    observer: Recorder,
}

/// Everything the store holds that a sync may change (tombstones included).
#[derive(Debug, Clone, PartialEq)]
struct State {
    records: Vec<Option<EntityRecord>>,
    outbox: Vec<OutboxEntry>,
    meta: Option<Meta>,
    conflicts: Vec<ConflictRecord>,
    audit: Vec<AuditEntry>,
}

#[derive(Debug, Clone)]
enum Write {
    Put(usize, usize, u8),
    Patch(usize, usize, u8),
    Delete(usize, usize),
}

fn writes() -> impl Strategy<Value = Vec<Write>> {
    let one = prop_oneof![
        (0..2usize, 0..4usize, any::<u8>()).prop_map(|(c, k, n)| Write::Put(c, k, n)),
        (0..2usize, 0..4usize, any::<u8>()).prop_map(|(c, k, n)| Write::Patch(c, k, n)),
        (0..2usize, 0..4usize).prop_map(|(c, k)| Write::Delete(c, k)),
    ];
    prop::collection::vec(one, 0..6)
}

impl Client {
    /// A client that synced what another device wrote (so its checkpoint is past 0),
    /// then made `local` writes it has not pushed yet.
    fn new(server: &FakeServer, strategy: &str, local: &[Write]) -> Client {
        let config = ClientConfig::from_json(json!({"name": "fuzz", "batchSize": 3, "collections": {
            "trips": {"key": "id", "conflict": strategy}, "notes": {"key": "id", "conflict": "manual"}}}))
        .unwrap();
        let store = MemoryStore::new(&config);
        block_on(store.open_meta("c-fuzz")).unwrap();
        block_on(ensure_checkpoint_scope(&store, &config)).unwrap();
        let observer = Recorder::default();
        observer.now.set(1_700_000_000_000);
        let client = Client { config, store, observer };
        server.external_put("trips", "k0", json!({"id": "k0", "n": 0, "tags": ["a"]}), "001700000000000-0000-c-o");
        server.external_put("notes", "k1", json!({"id": "k1", "text": "t"}), "001700000000000-0001-c-o");
        block_on(sync(&client.config, &client.store, server, &client.observer)).unwrap();
        for write in local {
            let (c, k, op) = match *write {
                Write::Put(c, k, n) => (c, k, LocalOp::Put(json!({"id": KEYS[k], "n": n, "tags": [n % 3]}))),
                Write::Patch(c, k, n) => (c, k, LocalOp::Patch(json!({"n": n, "m": {"x": n}}))),
                Write::Delete(c, k) => (c, k, LocalOp::Delete),
            };
            client.observer.now.set(client.observer.now.get() + 1);
            let w = LocalWrite::new(COLLECTIONS[c].into(), KEYS[k].into(), op, client.observer.now.get());
            // A patch of a missing record is refused (not-found); that is fine here.
            let _ = block_on(client.store.write_local(&w));
        }
        // Another device moves the server on, so a pull has something to bring.
        server.external_put("trips", "k2", json!({"id": "k2", "n": 2}), "001700000000000-0002-c-o");
        client
    }

    fn state(&self) -> State {
        block_on(async {
            let mut records = Vec::new();
            for c in COLLECTIONS {
                for k in KEYS {
                    records.push(self.store.get(c, k).await.unwrap());
                }
            }
            State {
                records,
                outbox: self.store.outbox(usize::MAX).await.unwrap(),
                meta: self.store.meta().await.unwrap(),
                conflicts: self.store.conflicts().await.unwrap(),
                audit: self.store.audit(usize::MAX).await.unwrap(),
            }
        })
    }
}

/// The fake server, with a look at the store taken just before a scripted answer
/// (`Fault::Answer` / `Fault::AnswerPull`) is handed to the engine.
struct Watched<'a> {
    server: &'a FakeServer,
    client: &'a Client,
    scripted_push: RefCell<Option<PushResponse>>,
    scripted_pull: RefCell<Option<PullResponse>>,
    before: RefCell<Option<State>>,
}

impl<'a> Watched<'a> {
    fn new(
        server: &'a FakeServer,
        client: &'a Client,
        push: Option<PushResponse>,
        pull: Option<PullResponse>,
    ) -> Watched<'a> {
        Watched {
            server,
            client,
            scripted_push: RefCell::new(push),
            scripted_pull: RefCell::new(pull),
            before: RefCell::new(None),
        }
    }
}

impl Transport for Watched<'_> {
    type Sending = Result<PushResponse, TransportError>;

    fn send(&self, request: &PushRequest) -> Self::Sending {
        if let Some(answer) = self.scripted_push.borrow_mut().take() {
            *self.before.borrow_mut() = Some(self.client.state());
            self.server.fault(Fault::Answer(answer));
        }
        self.server.push(request)
    }

    async fn answer(&self, sending: Self::Sending) -> Result<PushResponse, TransportError> {
        sending
    }

    async fn pull(
        &self,
        checkpoint: u64,
        limit: usize,
        collections: &[String],
    ) -> Result<PullResponse, TransportError> {
        if let Some(page) = self.scripted_pull.borrow_mut().take() {
            *self.before.borrow_mut() = Some(self.client.state());
            self.server.fault(Fault::AnswerPull(page));
        }
        self.server.pull(checkpoint, limit, collections).await
    }
}

/// Run one sync that meets the scripted answer; check what must hold whatever it said.
fn sync_with(
    strategy: &str,
    local: &[Write],
    push: Option<PushResponse>,
    pull: Option<PullResponse>,
) -> Result<(), TestCaseError> {
    let server = FakeServer::new();
    let client = Client::new(&server, strategy, local);
    let watched = Watched::new(&server, &client, push, pull);
    let outcome = block_on(sync(&client.config, &client.store, &watched, &client.observer));
    if let Err(failure) = &outcome {
        match &failure.error {
            SyncError::Transport(e) => prop_assert_eq!(e.class, ErrorClass::Protocol, "{:?}", e),
            // A value the store refuses is refused before anything is written.
            SyncError::Store(e) => prop_assert!(matches!(e, Error::InvalidValue { .. }), "{:?}", e),
        }
        if let Some(before) = watched.before.borrow_mut().take() {
            // Nothing of a refused answer is kept.
            prop_assert_eq!(client.state(), before);
        }
    }
    // Whatever happened, the client can go on: a clean sync with the real (fake) server
    // neither panics nor is refused.
    let again = block_on(sync(&client.config, &client.store, &server, &client.observer));
    if let Err(failure) = again {
        prop_assert!(false, "a clean sync after the scripted answer failed: {:?}", failure.error);
    }
    Ok(())
}

// ---- protocol decoding ----

proptest! {
    #![proptest_config(fuzz_config())]

    #[test]
    fn arbitrary_bytes_never_panic_the_protocol_decoders(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_slice::<PushResponse>(&bytes);
        let _ = serde_json::from_slice::<PullResponse>(&bytes);
        let _ = serde_json::from_slice::<PushRequest>(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics_the_protocol_decoders_and_decoded_answers_round_trip(value in any_json()) {
        let text = value.to_string();
        if let Ok(push) = serde_json::from_str::<PushResponse>(&text) {
            let again: PushResponse = serde_json::from_str(&serde_json::to_string(&push).unwrap()).unwrap();
            prop_assert_eq!(again, push);
        }
        if let Ok(pull) = serde_json::from_str::<PullResponse>(&text) {
            let again: PullResponse = serde_json::from_str(&serde_json::to_string(&pull).unwrap()).unwrap();
            prop_assert_eq!(again, pull);
        }
        let _ = serde_json::from_str::<PushRequest>(&text);
        // Truncated text, as a body cut mid-way gives.
        for cut in [text.len() / 2, text.len().saturating_sub(1)] {
            if let Some(head) = text.get(..cut) {
                let _ = serde_json::from_str::<PushResponse>(head);
                let _ = serde_json::from_str::<PullResponse>(head);
            }
        }
    }

    #[test]
    fn any_push_answer_is_handled_and_a_refused_one_changes_nothing(
        strategy in prop::sample::select(&["serverWins", "clientWins", "lastWriteWins", "merge", "manual"][..]),
        local in writes(),
        answer in push_response(),
    ) {
        sync_with(strategy, &local, Some(answer), None)?;
    }

    #[test]
    fn any_pull_page_is_handled_and_a_refused_one_changes_nothing(
        strategy in prop::sample::select(&["serverWins", "clientWins", "lastWriteWins", "merge", "manual"][..]),
        local in writes(),
        page in pull_response(),
    ) {
        sync_with(strategy, &local, None, Some(page))?;
    }

    #[test]
    fn arbitrary_json_answers_that_decode_are_handled(value in any_json(), local in writes()) {
        if let Ok(answer) = serde_json::from_value::<PushResponse>(value.clone()) {
            sync_with("merge", &local, Some(answer), None)?;
        }
        if let Ok(page) = serde_json::from_value::<PullResponse>(value) {
            sync_with("merge", &local, None, Some(page))?;
        }
    }
}

// ---- JSON Merge Patch ----

fn applied(target: &Value, patches: &[&Value]) -> Value {
    let mut out = target.clone();
    for p in patches {
        patch::apply(&mut out, p);
    }
    out
}

proptest! {
    #![proptest_config(fuzz_config())]

    #[test]
    fn compose_has_the_effect_of_both_patches(target in any_json(), first in any_json(), second in any_json()) {
        let one_by_one = applied(&target, &[&first, &second]);
        if let Some(both) = patch::compose(&first, &second) {
            prop_assert_eq!(applied(&target, &[&both]), one_by_one);
        }
    }

    #[test]
    fn compose_of_object_patches_has_the_effect_of_both(target in any_object(), first in any_object(), second in any_object()) {
        // Objects are what the client composes (`patch` after `patch`); biased to them so
        // the recursive cases are reached often.
        let one_by_one = applied(&target, &[&first, &second]);
        if let Some(both) = patch::compose(&first, &second) {
            prop_assert_eq!(applied(&target, &[&both]), one_by_one);
        }
    }

    #[test]
    fn apply_is_idempotent_and_follows_rfc_7386(target in any_json(), p in any_json()) {
        let once = applied(&target, &[&p]);
        prop_assert_eq!(applied(&once, &[&p]), once.clone());
        match &p {
            Value::Object(fields) => {
                let object = once.as_object().expect("an object patch gives an object");
                for (name, change) in fields {
                    if change.is_null() {
                        prop_assert!(!object.contains_key(name));
                    } else if !change.is_object() {
                        prop_assert_eq!(&object[name], change);
                    }
                }
            }
            other => prop_assert_eq!(&once, other),
        }
    }
}

// ---- config parsing ----

fn config_read(value: Value) -> Result<(), TestCaseError> {
    // The checks are `js/config.js`'s (e2e/config-script.test.mjs holds what an accepted
    // config promises); the reader must answer anything without panicking.
    match ClientConfig::from_json(value.clone()) {
        Ok(_) | Err(Error::InvalidConfig(_)) => {}
        Err(other) => prop_assert!(false, "{value} gave {other:?}, not invalid-config"),
    }
    Ok(())
}

fn valid_config() -> Value {
    json!({
        "name": "fuzz", "endpoint": "/sync", "batchSize": 10, "pullIntervalMs": 1000, "realtime": true,
        "autoSync": false, "auditLimit": 5, "retry": {"maxAttempts": 3, "baseDelayMs": 10, "maxDelayMs": 100, "jitter": 0.5},
        "collections": {
            "trips": {"key": "id", "indexes": ["owner"], "omit": ["secret"], "ttlMs": 5, "event": {"name": "e", "valueField": "v"},
                      "conflict": {"strategy": "merge", "arrays": {"tags": "union"}, "manualFields": ["title"]}},
            "notes": {"key": "id", "conflict": "lastWriteWins", "event": "note-updated"}
        }
    })
}

/// `value` with the thing at `path` (object fields and array items, as far as they go)
/// replaced by `with`, or removed when `with` is `None`.
fn mutate(value: &mut Value, path: &[String], with: Option<Value>) {
    let Some((first, rest)) = path.split_first() else {
        if let Some(with) = with {
            *value = with;
        }
        return;
    };
    match value {
        Value::Object(map) => {
            let name = map.keys().nth(first.len() % map.len().max(1)).cloned().unwrap_or_else(|| first.clone());
            if rest.is_empty() {
                match with {
                    Some(with) => {
                        map.insert(name, with);
                    }
                    None => {
                        map.remove(&name);
                    }
                }
            } else if let Some(child) = map.get_mut(&name) {
                mutate(child, rest, with);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let at = first.len() % items.len();
            mutate(&mut items[at], rest, with);
        }
        other => {
            if let Some(with) = with {
                *other = with;
            }
        }
    }
}

proptest! {
    #![proptest_config(fuzz_config())]

    #[test]
    fn arbitrary_json_configs_are_accepted_or_refused_as_invalid_config(value in any_json()) {
        config_read(value)?;
    }

    #[test]
    fn arbitrary_objects_as_configs_are_accepted_or_refused_as_invalid_config(
        fields in prop::collection::vec((word(), any_json()), 0..8),
        collections in prop::collection::vec((word(), any_json()), 0..4),
    ) {
        let mut object: Map<String, Value> = fields.into_iter().collect();
        object.insert("name".into(), json!("n"));
        object.insert("collections".into(), Value::Object(collections.into_iter().collect()));
        config_read(Value::Object(object))?;
    }

    #[test]
    fn mutated_valid_configs_are_accepted_or_refused_as_invalid_config(
        edits in prop::collection::vec((prop::collection::vec(".{0,6}", 1..5), prop::option::of(any_json())), 1..4),
    ) {
        let mut config = valid_config();
        for (path, with) in edits {
            mutate(&mut config, &path, with);
        }
        config_read(config)?;
    }
}

#[test]
fn the_valid_base_config_parses() {
    ClientConfig::from_json(valid_config()).unwrap();
}

// ---- what the fuzzer (or review of its targets) found, kept as plain tests ----

#[test]
fn changes_of_collections_not_asked_for_are_ignored_not_a_storage_error() {
    // Found by `any_pull_page_is_handled_...`: the engine asked the store for the keys of
    // every change, and the store refused the unknown collection, failing every sync.
    let page = PullResponse {
        changes: vec![
            Change {
                collection: "".into(),
                key: "k0".into(),
                version: 3,
                value: Some(json!({"id": "k0"})),
                hlc: "h".into(),
                space: None,
                schema_version: None,
            },
            Change {
                collection: "trips".into(),
                key: "k3".into(),
                version: 3,
                value: Some(json!({"id": "k3"})),
                hlc: "h".into(),
                space: None,
                schema_version: None,
            },
        ],
        checkpoint: 3,
        has_more: false,
        revoked: vec![],
        server_time: None,
    };
    let server = FakeServer::new();
    let client = Client::new(&server, "serverWins", &[]);
    server.fault(Fault::AnswerPull(page));
    block_on(sync(&client.config, &client.store, &server, &client.observer)).unwrap();
    assert_eq!(block_on(client.store.get("trips", "k3")).unwrap().unwrap().value, Some(json!({"id": "k3"})));
}

#[test]
fn a_server_time_far_outside_the_clock_range_does_not_panic_or_poison_the_clock() {
    for server_time in [1u64 << 63, (1u64 << 63) + 1_700_000_000_000, u64::MAX] {
        let server = FakeServer::new();
        let client = Client::new(&server, "serverWins", &[Write::Put(0, 3, 1)]);
        let answer = PushResponse {
            results: vec![MutationResult::Applied { id: 1, version: 3 }],
            last_mutation_id: 1,
            server_time: Some(server_time),
        };
        let watched = Watched::new(&server, &client, Some(answer), None);
        let before = client.observer.now.get();
        let failure = block_on(sync(&client.config, &client.store, &watched, &client.observer)).unwrap_err();
        assert_eq!(failure.error.class(), Some(ErrorClass::Protocol), "{server_time}");
        assert_eq!(client.state(), watched.before.borrow().clone().unwrap());
        let meta = block_on(client.store.meta()).unwrap().unwrap();
        assert_eq!(meta.clock_offset_ms, 0);
        assert!(meta.hlc.wall_ms <= before + 60_000);
    }
}
