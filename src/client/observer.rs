//! The engine's effects, turned into DOM events (and hints to other tabs) as each
//! transaction commits.

use serde_json::Value;
use wasm_bindgen::JsValue;

use super::Client;
use crate::convert;
use crate::events::{self, Origin};
use crate::sys::now_ms;
use crate::value::JsVal;
use pwa_sync_core::config::CollectionConfig;
use pwa_sync_core::conflict::Sides;
use pwa_sync_core::engine::{Observer, Phase};
use pwa_sync_core::json::{JsonText, ToJson};
use pwa_sync_core::migration::Steps;
use pwa_sync_core::model::Effect;
use pwa_sync_core::Error;

/// Turns the engine's effects into DOM events as each transaction commits.
pub(super) struct WebObserver<'a> {
    pub client: &'a Client,
}

impl Observer<JsVal> for WebObserver<'_> {
    fn effects(&self, effects: &[Effect<JsVal>]) {
        let client = self.client;
        for effect in effects {
            match effect {
                Effect::Changed { collection, key, version, value } => {
                    // The pulled object itself: no conversion on the way to the event.
                    let value = value.as_ref().map_or(JsValue::NULL, |v| v.0.clone());
                    if let Ok(config) = client.config.collection(collection) {
                        client.announce_change(config, key, value, Origin::Remote, *version);
                    }
                }
                Effect::Conflict(entry) => {
                    let detail = ConflictDetail {
                        id: None,
                        open: false,
                        collection: &entry.collection,
                        key: &entry.key,
                        local: entry.local.as_ref(),
                        server: entry.server.as_ref(),
                        base: entry.base.as_ref(),
                        strategy: &entry.strategy,
                        result: entry.result.as_ref(),
                        fields: &[],
                        server_version: entry.server_version,
                    };
                    if let Ok(detail) = convert::to_js(&detail) {
                        client.events.emit(events::CONFLICT, &detail);
                    }
                }
                Effect::ManualConflict(record) => {
                    let detail = ConflictDetail {
                        id: Some(record.id),
                        open: true,
                        collection: &record.collection,
                        key: &record.key,
                        local: record.local.as_ref(),
                        server: record.server.as_ref(),
                        base: record.base.as_ref(),
                        strategy: "manual",
                        result: None,
                        fields: &record.fields,
                        server_version: Some(record.server_version),
                    };
                    if let Ok(detail) = convert::to_js(&detail) {
                        client.events.emit(events::CONFLICT, &detail);
                    }
                }
                Effect::Rejected { collection, key, mutation_id, code, message } => {
                    let detail = events::object(&[
                        ("collection", collection.as_str().into()),
                        ("key", key.as_str().into()),
                        ("mutationId", JsValue::from(*mutation_id as f64)),
                        ("code", code.as_str().into()),
                        ("message", message.as_str().into()),
                    ]);
                    client.events.emit(events::REJECTED, &detail);
                }
                Effect::SpacesRevoked(revoked) => client.spaces_revoked(revoked),
                Effect::NewerSchema { collection, key, schema_version } => {
                    let detail = events::object(&[
                        ("collection", collection.as_str().into()),
                        ("key", key.as_str().into()),
                        ("schemaVersion", JsValue::from(*schema_version)),
                        ("appVersion", JsValue::from(client.config.version)),
                    ]);
                    client.events.emit(events::NEWER_SCHEMA, &detail);
                }
            }
        }
    }

    fn progress(&self, phase: Phase, done: usize, total: Option<usize>) {
        let detail = events::object(&[
            ("phase", phase.as_str().into()),
            ("done", JsValue::from(done as f64)),
            ("total", total.map_or(JsValue::NULL, |t| JsValue::from(t as f64))),
        ]);
        self.client.events.emit(events::PROGRESS, &detail);
    }

    fn now_ms(&self) -> u64 {
        now_ms()
    }

    /// The app's resolver: called by the client, its answer checked by the core.
    fn resolve_custom(&self, config: &CollectionConfig, sides: &Sides<'_>) -> Option<Option<Value>> {
        self.client.run_resolver(config, sides)
    }

    /// The app's migrations, over a pulled value of an older schema version.
    fn migrate(&self, config: &CollectionConfig, key: &str, value: Value, steps: Steps) -> Result<Value, Error> {
        self.client.migrations.run(config, key, value, steps, false)
    }
}

/// `pwa-sync:conflict` detail: a conflict settled by a strategy (`open: false`, with the
/// `result`), or one waiting for the app (`open: true`, with its `id`).
pub struct ConflictDetail<'a> {
    pub id: Option<u64>,
    pub open: bool,
    pub collection: &'a str,
    pub key: &'a str,
    pub local: Option<&'a Value>,
    pub server: Option<&'a Value>,
    pub base: Option<&'a Value>,
    pub strategy: &'a str,
    pub result: Option<&'a Value>,
    pub fields: &'a [String],
    pub server_version: Option<u64>,
}

impl ToJson for ConflictDetail<'_> {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("id", &self.id);
        out.field("open", &self.open);
        out.field("collection", self.collection);
        out.field("key", self.key);
        out.field("local", &self.local);
        out.field("server", &self.server);
        out.field("base", &self.base);
        out.field("strategy", self.strategy);
        out.field("result", &self.result);
        out.field("fields", self.fields);
        out.field("serverVersion", &self.server_version);
        out.close_object();
    }
}
