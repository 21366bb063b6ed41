//! Schema versions through the engine, against the fake server: pushes carry the app's
//! version, the server keeps each document's, older pulled documents go through the
//! migrations before they are stored, newer ones are stored as they are and announced,
//! and a failing step stores nothing of the page.

use pollster::block_on;
use serde_json::{json, Value};

use crate::config::{ClientConfig, CollectionConfig};
use crate::engine::{ensure_checkpoint_scope, sync, LocalWrites, Observer, Phase};
use crate::error::Error;
use crate::fake::{FakeServer, Recorder};
use crate::migration::{check_answer, Steps};
use crate::model::Effect;
use crate::mutation::{LocalOp, LocalWrite};
use crate::store::memory::MemoryStore;
use crate::store::Store;

/// Version 3 of an app whose step 2 adds `title` from `name` and step 3 adds `v3`; a
/// value with `"fail": true` makes step 3 fail.
struct Migrating(Recorder);

impl Observer for Migrating {
    fn effects(&self, effects: &[Effect]) {
        self.0.effects(effects);
    }
    fn progress(&self, phase: Phase, done: usize, total: Option<usize>) {
        self.0.progress(phase, done, total);
    }
    fn now_ms(&self) -> u64 {
        self.0.now_ms()
    }
    fn migrate(&self, config: &CollectionConfig, key: &str, mut value: Value, steps: Steps) -> Result<Value, Error> {
        for version in steps.versions() {
            if version == 2 {
                value["title"] = value["name"].clone();
            }
            if version == 3 {
                if value["fail"] == json!(true) {
                    return Err(Error::migration_failed(&config.name, key, version, "boom"));
                }
                value["v3"] = json!(true);
            }
            value = check_answer(config, key, version, value, false)?;
        }
        Ok(value)
    }
}

fn device(version: u32) -> (ClientConfig, MemoryStore, Migrating) {
    let config = ClientConfig::from_json(json!({"name": "m", "version": version, "collections": {
        "trips": {"key": "id"}}}))
    .unwrap();
    let store = MemoryStore::new(&config);
    block_on(store.open_meta(&format!("c-v{version}"))).unwrap();
    block_on(ensure_checkpoint_scope(&store, &config)).unwrap();
    let observer = Migrating(Recorder::default());
    observer.0.now.set(1_700_000_000_000);
    (config, store, observer)
}

fn get(store: &MemoryStore, key: &str) -> Option<Value> {
    block_on(store.get("trips", key)).unwrap().and_then(|r| r.value)
}

#[test]
fn pushes_carry_the_apps_version_and_an_unversioned_app_sends_none() {
    let server = FakeServer::new();
    for (version, key, expected) in [(3, "a", Some(3)), (1, "b", None)] {
        let (config, store, observer) = device(version);
        let write = LocalWrite::new("trips".into(), key.into(), LocalOp::Put(json!({"id": key})), 1);
        block_on(store.write_local(&write)).unwrap();
        block_on(sync(&config, &store, &server, &observer)).unwrap();
        assert_eq!(server.doc("trips", key).unwrap().schema_version, expected);
    }
}

#[test]
fn older_pulled_documents_are_migrated_and_newer_ones_stored_as_they_are_and_announced() {
    let server = FakeServer::new();
    server.external_put_at("trips", "old", json!({"id": "old", "name": "Lisbon"}), None);
    server.external_put_at("trips", "two", json!({"id": "two", "name": "Porto", "title": "Porto"}), Some(2));
    server.external_put_at("trips", "same", json!({"id": "same", "title": "Faro", "v3": true}), Some(3));
    server.external_put_at("trips", "new", json!({"id": "new", "shape": "v4"}), Some(4));
    let (config, store, observer) = device(3);
    block_on(sync(&config, &store, &server, &observer)).unwrap();
    assert_eq!(get(&store, "old"), Some(json!({"id": "old", "name": "Lisbon", "title": "Lisbon", "v3": true})));
    assert_eq!(get(&store, "two"), Some(json!({"id": "two", "name": "Porto", "title": "Porto", "v3": true})));
    assert_eq!(get(&store, "same"), Some(json!({"id": "same", "title": "Faro", "v3": true})), "current: untouched");
    assert_eq!(get(&store, "new"), Some(json!({"id": "new", "shape": "v4"})), "newer: stored as it is");
    let effects = observer.0.effects.borrow();
    let newer: Vec<&Effect> = effects.iter().filter(|e| matches!(e, Effect::NewerSchema { .. })).collect();
    assert_eq!(newer, vec![&Effect::NewerSchema { collection: "trips".into(), key: "new".into(), schema_version: 4 }]);
}

#[test]
fn a_conflicts_older_server_value_is_migrated_before_it_is_settled() {
    let server = FakeServer::new();
    server.external_put_at("trips", "c", json!({"id": "c", "name": "Theirs"}), None);
    let (config, store, observer) = device(3);
    let write = LocalWrite::new("trips".into(), "c".into(), LocalOp::Put(json!({"id": "c", "title": "Mine"})), 1);
    block_on(store.write_local(&write)).unwrap();
    block_on(sync(&config, &store, &server, &observer)).unwrap();
    let effects = observer.0.effects.borrow();
    let servers: Vec<Option<Value>> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Conflict(entry) => Some(entry.server.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(servers, vec![Some(json!({"id": "c", "name": "Theirs", "title": "Theirs", "v3": true}))]);
}

#[test]
fn a_conflicts_newer_server_value_is_settled_as_it_is_and_announced() {
    let server = FakeServer::new();
    server.external_put_at("trips", "c", json!({"id": "c", "shape": "v4"}), Some(4));
    let (config, store, observer) = device(3);
    let write = LocalWrite::new("trips".into(), "c".into(), LocalOp::Put(json!({"id": "c", "title": "Mine"})), 1);
    block_on(store.write_local(&write)).unwrap();
    block_on(sync(&config, &store, &server, &observer)).unwrap();
    let effects = observer.0.effects.borrow();
    let conflicts = effects.iter().filter(|e| matches!(e, Effect::Conflict(_))).count();
    let newer: Vec<&Effect> = effects.iter().filter(|e| matches!(e, Effect::NewerSchema { .. })).collect();
    assert_eq!(conflicts, 1);
    assert_eq!(newer, vec![&Effect::NewerSchema { collection: "trips".into(), key: "c".into(), schema_version: 4 }]);
}

#[test]
fn a_failing_migration_fails_the_sync_and_stores_nothing_of_the_page() {
    let server = FakeServer::new();
    server.external_put_at("trips", "a", json!({"id": "a", "name": "A"}), Some(2));
    server.external_put_at("trips", "b", json!({"id": "b", "fail": true}), Some(2));
    let (config, store, observer) = device(3);
    let failure = block_on(sync(&config, &store, &server, &observer)).unwrap_err();
    assert!(failure.error.message().contains("\"b\""), "{}", failure.error.message());
    assert_eq!(get(&store, "a"), None);
    assert_eq!(block_on(store.meta()).unwrap().unwrap().checkpoint, 0, "the checkpoint stays");
}
