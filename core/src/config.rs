//! Client configuration: read from the JSON part of the object given to
//! `SyncClient.open`, which `js/config.js` checked first, so bad input fails at open with a
//! clear message.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::fields;
use crate::protocol::is_valid_space_id;
use crate::value::AppValue;

/// How long one request (its answer's body included) may take by default (`timeoutMs`).
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;

/// Audit entries kept by default (`auditLimit`); the oldest are dropped first.
pub const AUDIT_CAP: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    ServerWins,
    ClientWins,
    LastWriteWins,
    Merge,
    Manual,
    /// A JS resolver function; the web layer keeps the function itself.
    Custom,
}

impl Strategy {
    /// The strategy a config names (`"lastWriteWins"`).
    pub fn named(name: &str) -> Option<Strategy> {
        Some(match name {
            "serverWins" => Strategy::ServerWins,
            "clientWins" => Strategy::ClientWins,
            "lastWriteWins" => Strategy::LastWriteWins,
            "merge" => Strategy::Merge,
            "manual" => Strategy::Manual,
            "custom" => Strategy::Custom,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayRule {
    Union,
    Append,
    Replace,
}

impl ArrayRule {
    fn named(name: &str) -> Option<ArrayRule> {
        Some(match name {
            "union" => ArrayRule::Union,
            "append" => ArrayRule::Append,
            "replace" => ArrayRule::Replace,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictConfig {
    pub strategy: Strategy,
    /// Per-field rule for arrays under `merge`; fields not named use `replace`. A list,
    /// not a map: a few fields, and a map type is a whole B-tree compiled into the module.
    pub arrays: Vec<(String, ArrayRule)>,
    /// Fields that go to `manual` when both sides changed them under `merge`.
    pub manual_fields: Vec<String>,
    /// Under `lastWriteWins`: edits closer together than this go to `manual`.
    pub manual_within_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionConfig {
    pub name: String,
    /// The field of each value that holds its key (a string).
    pub key: String,
    pub conflict: ConflictConfig,
    /// The collection's own DOM event (e.g. `attendee-data-updated`).
    pub event: Option<EventConfig>,
    pub ttl_ms: Option<u64>,
    /// Top-level fields never written to IndexedDB.
    pub omit: Vec<String>,
    /// Declared IndexedDB indexes (`list` by a single-field one, `query` by any).
    pub indexes: Vec<IndexSpec>,
    /// Which space the collection's records live in.
    pub space: SpaceRule,
}

// ---- indexes (issue 17, queries) ----

/// One declared index: `"owner"`, `["trip", "day"]` (compound) or
/// `{"field": "tags", "multiEntry": true}` (one entry per array element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// The IndexedDB index name: the field, `[trip+day]`, or `*tags` (Dexie's spelling),
    /// so a field's plain and multi-entry indexes never share a name.
    pub name: String,
    /// Top-level fields of the value, in key order.
    pub fields: Vec<String>,
    pub multi_entry: bool,
}

impl IndexSpec {
    fn single(field: String, multi_entry: bool) -> IndexSpec {
        let name = if multi_entry { format!("*{field}") } else { field.clone() };
        IndexSpec { name, fields: vec![field], multi_entry }
    }
}

/// Where a collection's records live on the server (`space` or `spaceField` in its config).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SpaceRule {
    /// The user's private space (the server's default): neither is given.
    #[default]
    Private,
    /// Every record in one space: `space: "conference"`.
    Fixed(String),
    /// A field of each record names its space: `spaceField: "groupId"`.
    Field(String),
}

impl SpaceRule {
    /// The space `value` (a record of `collection`) lives in; `None` is the private space,
    /// which the wire leaves out.
    pub fn space_of<V: AppValue>(&self, collection: &str, value: &V) -> Result<Option<String>> {
        match self {
            SpaceRule::Private => Ok(None),
            SpaceRule::Fixed(space) => Ok(Some(space.clone())),
            SpaceRule::Field(field) => match value.field(field) {
                Some(Value::String(space)) if is_valid_space_id(&space) => Ok(Some(space)),
                _ => Err(Error::invalid_value(
                    collection,
                    format!("field \"{field}\" must name the record's space: 1-128 characters of A-Z a-z 0-9 _ . : -"),
                )),
            },
        }
    }

    /// Whether a pulled change of `space` belongs in this collection. A fixed collection
    /// takes its own space only, a private one private spaces only: a document another
    /// version of the app wrote elsewhere under the same collection name stays out.
    pub fn admits(&self, space: Option<&str>) -> bool {
        match (self, space) {
            (_, None) | (SpaceRule::Field(_), _) => true,
            (SpaceRule::Fixed(own), Some(space)) => own == space,
            (SpaceRule::Private, Some(space)) => crate::protocol::is_private_space(space),
        }
    }

    /// Whether records of this collection can live in `space`.
    pub fn may_hold(&self, space: &str) -> bool {
        match self {
            SpaceRule::Private => false,
            SpaceRule::Fixed(own) => own == space,
            SpaceRule::Field(_) => true,
        }
    }
}

/// A collection's own event: its name, and optionally the detail field that carries the
/// value (`{name: "attendee-data-updated", valueField: "attendee"}` gives
/// `detail.attendee`), so an app's existing listeners keep working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventConfig {
    pub name: String,
    pub value_field: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    pub jitter: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig { max_attempts: 5, base_delay_ms: 1_000, max_delay_ms: 30_000, jitter: 0.1 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Database name: one per app and user.
    pub name: String,
    /// Base URL of the sync API; `None` means local-only.
    pub endpoint: Option<String>,
    pub collections: Vec<CollectionConfig>,
    pub retry: RetryConfig,
    pub batch_size: usize,
    pub pull_interval_ms: Option<u64>,
    pub realtime: bool,
    /// Sync by itself (after writes, when online, on the interval and pokes). Off: only
    /// when the app calls `sync()`.
    pub auto_sync: bool,
    /// Audit entries kept; the oldest are dropped first.
    pub audit_limit: usize,
    /// How long one request, its answer's body included, may take before it fails with
    /// `timeout` (`timeoutMs`).
    pub timeout_ms: u32,
    /// The Background Sync tag pages register, and the service worker helper answers
    /// (`syncTag`; default [`crate::names::SYNC_TAG`]). Both read it from the same config.
    pub sync_tag: String,
    /// Where the data lives (`storage`; default IndexedDB).
    pub storage: StorageKind,
    /// `expectStoredData`: the app knows this device stored data under this name before,
    /// so an empty database on open was evicted (see `eviction`).
    pub expect_stored_data: bool,
    /// The app's schema version of stored data (`version`, default 1); the web layer keeps
    /// the `migrations` functions that lead to it (see `migration`).
    pub version: u32,
}

/// Where a client keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageKind {
    /// IndexedDB (`"indexeddb"`): durable, shared by the tabs and workers of the origin.
    #[default]
    IndexedDb,
    /// Memory only (`"memory"`): for where IndexedDB is unavailable (some private modes).
    /// Syncs the same way; queued writes are lost when the page or worker ends.
    Memory,
}

impl ClientConfig {
    pub fn collection(&self, name: &str) -> Result<&CollectionConfig> {
        self.collections.iter().find(|c| c.name == name).ok_or_else(|| Error::UnknownCollection(name.to_owned()))
    }

    /// Read the JSON part of the JS config (functions and DOM objects such as `token` and
    /// `eventTarget` are taken out by the web layer first), as `js/config.js` checked it.
    ///
    /// The checks are the script's (`check`): every setting known, of its type and in
    /// range, and the first that is not refused with its reason (`invalid-config`).
    /// Compiled into the module, the checks and their messages were ~6 KB of it
    /// (bench/README.md "Size"). So this reads each setting by its type, and one that is
    /// absent or not of its type reads as absent: its default.
    pub fn from_json(value: Value) -> Result<ClientConfig> {
        let unchecked =
            || Error::InvalidConfig("the config must be an object with a `name` (js/config.js checks it)".into());
        let Value::Object(c) = value else { return Err(unchecked()) };
        let name = text(&c, "name").ok_or_else(unchecked)?;
        let mut collections = Vec::new();
        match c.get("collections") {
            Some(Value::Object(named)) => {
                for (name, spec) in named {
                    collections.push(read_collection(name.clone(), spec));
                }
            }
            // A list of `{name, ...}`.
            Some(Value::Array(list)) => {
                for spec in list {
                    let name = spec.get("name").and_then(Value::as_str).unwrap_or_default();
                    collections.push(read_collection(name.to_owned(), spec));
                }
            }
            _ => {}
        }
        let retry = c.get("retry").and_then(Value::as_object).map_or_else(RetryConfig::default, RetryConfig::read);
        Ok(ClientConfig {
            name,
            endpoint: text(&c, "endpoint"),
            collections,
            retry,
            batch_size: whole(&c, "batchSize").map_or(100, |n| n as usize),
            pull_interval_ms: whole(&c, "pullIntervalMs"),
            realtime: flag(&c, "realtime").unwrap_or(false),
            auto_sync: flag(&c, "autoSync").unwrap_or(true),
            audit_limit: whole(&c, "auditLimit").map_or(AUDIT_CAP, |n| n as usize),
            timeout_ms: whole(&c, "timeoutMs").map_or(DEFAULT_TIMEOUT_MS, |t| t as u32),
            sync_tag: text(&c, "syncTag").unwrap_or_else(|| crate::names::SYNC_TAG.to_owned()),
            storage: match c.get("storage").and_then(Value::as_str) {
                Some("memory") => StorageKind::Memory,
                _ => StorageKind::IndexedDb,
            },
            expect_stored_data: flag(&c, "expectStoredData").unwrap_or(false),
            version: whole(&c, "version").map_or(1, |n| n as u32),
        })
    }
}

type Object = serde_json::Map<String, Value>;

fn text(object: &Object, field: &str) -> Option<String> {
    object.get(field)?.as_str().map(str::to_owned)
}

fn whole(object: &Object, field: &str) -> Option<u64> {
    object.get(field)?.as_u64()
}

fn flag(object: &Object, field: &str) -> Option<bool> {
    object.get(field)?.as_bool()
}

fn texts(object: &Object, field: &str) -> Vec<String> {
    object.get(field).cloned().and_then(fields::strings).unwrap_or_default()
}

impl RetryConfig {
    /// `retry`: each field defaults on its own.
    fn read(retry: &Object) -> RetryConfig {
        let default = RetryConfig::default();
        RetryConfig {
            max_attempts: whole(retry, "maxAttempts").map_or(default.max_attempts, |n| n as u32),
            base_delay_ms: whole(retry, "baseDelayMs").unwrap_or(default.base_delay_ms),
            max_delay_ms: whole(retry, "maxDelayMs").unwrap_or(default.max_delay_ms),
            jitter: retry.get("jitter").and_then(Value::as_f64).unwrap_or(default.jitter),
        }
    }
}

fn read_collection(name: String, spec: &Value) -> CollectionConfig {
    let empty = Object::new();
    let c = spec.as_object().unwrap_or(&empty);
    let mut indexes = Vec::new();
    for index in c.get("indexes").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
        indexes.push(read_index(index));
    }
    let event = match c.get("event") {
        Some(Value::String(name)) => Some(EventConfig { name: name.clone(), value_field: None }),
        Some(Value::Object(event)) => {
            Some(EventConfig { name: text(event, "name").unwrap_or_default(), value_field: text(event, "valueField") })
        }
        _ => None,
    };
    let space = match (text(c, "space"), text(c, "spaceField")) {
        (Some(space), _) => SpaceRule::Fixed(space),
        (None, Some(field)) => SpaceRule::Field(field),
        (None, None) => SpaceRule::Private,
    };
    CollectionConfig {
        name,
        key: text(c, "key").unwrap_or_default(),
        conflict: read_conflict(c.get("conflict")),
        event,
        ttl_ms: whole(c, "ttlMs"),
        omit: texts(c, "omit"),
        indexes,
        space,
    }
}

/// A conflict setting: a strategy name, or `{strategy, arrays, manualFields,
/// manualWithinMs}`; field-level merge, which loses the least, when nothing is said.
fn read_conflict(spec: Option<&Value>) -> ConflictConfig {
    let empty = Object::new();
    let (strategy, detail) = match spec {
        Some(Value::String(strategy)) => (Some(strategy.as_str()), &empty),
        Some(Value::Object(detail)) => (detail.get("strategy").and_then(Value::as_str), detail),
        _ => (None, &empty),
    };
    let mut arrays = Vec::new();
    for (field, rule) in detail.get("arrays").and_then(Value::as_object).unwrap_or(&empty) {
        if let Some(rule) = rule.as_str().and_then(ArrayRule::named) {
            arrays.push((field.clone(), rule));
        }
    }
    ConflictConfig {
        strategy: strategy.and_then(Strategy::named).unwrap_or(Strategy::Merge),
        arrays,
        manual_fields: texts(detail, "manualFields"),
        manual_within_ms: whole(detail, "manualWithinMs"),
    }
}

/// An index: `"owner"`, `["trip", "day"]` or `{field, multiEntry}`.
fn read_index(index: &Value) -> IndexSpec {
    match index {
        Value::Array(_) => {
            let fields = fields::strings(index.clone()).unwrap_or_default();
            let name =
                format!("[{}]", crate::text::joined(&fields.iter().map(String::as_str).collect::<Vec<_>>(), "+"));
            IndexSpec { name, fields, multi_entry: false }
        }
        Value::Object(detail) => {
            IndexSpec::single(text(detail, "field").unwrap_or_default(), flag(detail, "multiEntry").unwrap_or(false))
        }
        field => IndexSpec::single(field.as_str().unwrap_or_default().to_owned(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The checks and their messages are `js/config.js`'s (e2e/config-script.test.mjs);
    // these read configs it lets through.

    fn read(config: Value) -> ClientConfig {
        ClientConfig::from_json(config).unwrap()
    }

    fn one(collection: Value) -> CollectionConfig {
        read(json!({"name": "a", "collections": {"t": collection}})).collections.remove(0)
    }

    #[test]
    fn parses_the_documented_example() {
        let config = read(json!({
            "name": "conf", "endpoint": "/sync", "batchSize": 50,
            "retry": {"maxAttempts": 3},
            "collections": {
                "attendees": {"key": "id", "conflict": "merge", "event": "attendee-data-updated",
                              "ttlMs": 1_800_000, "omit": ["accessCode"], "indexes": ["tripId"]},
                "profiles": {"key": "id", "conflict": {"strategy": "lastWriteWins", "manualWithinMs": 300000}}
            }
        }));
        let attendees = config.collection("attendees").unwrap();
        assert_eq!(attendees.conflict.strategy, Strategy::Merge);
        assert_eq!(attendees.event.as_ref().map(|e| e.name.as_str()), Some("attendee-data-updated"));
        assert_eq!(attendees.omit, vec!["accessCode"]);
        assert_eq!(attendees.ttl_ms, Some(1_800_000));
        let profiles = config.collection("profiles").unwrap();
        assert_eq!(profiles.conflict.strategy, Strategy::LastWriteWins);
        assert_eq!(profiles.conflict.manual_within_ms, Some(300_000));
        assert_eq!(config.batch_size, 50);
        assert_eq!(config.retry.max_attempts, 3);
        assert_eq!(config.retry.max_delay_ms, 30_000);
        assert_eq!(config.endpoint.as_deref(), Some("/sync"));
        assert_eq!(config.collection("nope"), Err(Error::UnknownCollection("nope".into())));
    }

    #[test]
    fn each_top_level_setting_is_read_and_an_absent_one_is_its_default() {
        let defaults = read(json!({"name": "a", "collections": {"t": {"key": "id"}}}));
        assert_eq!(
            (defaults.batch_size, defaults.audit_limit, defaults.timeout_ms, defaults.version),
            (100, AUDIT_CAP, DEFAULT_TIMEOUT_MS, 1)
        );
        assert_eq!((defaults.realtime, defaults.auto_sync, defaults.expect_stored_data), (false, true, false));
        assert_eq!((defaults.pull_interval_ms, defaults.endpoint), (None, None));
        assert_eq!((defaults.storage, defaults.sync_tag.as_str()), (StorageKind::IndexedDb, "pwa-sync"));
        assert_eq!(defaults.retry, RetryConfig::default());
        let given = read(json!({"name": "a", "collections": {"t": {"key": "id"}}, "batchSize": 7, "auditLimit": 3,
            "timeoutMs": 250, "version": 3, "realtime": true, "autoSync": false, "expectStoredData": true,
            "pullIntervalMs": 5000, "syncTag": "outbox-a", "storage": "memory",
            "retry": {"maxAttempts": 2, "baseDelayMs": 10, "maxDelayMs": 20, "jitter": 0.5}}));
        assert_eq!((given.batch_size, given.audit_limit, given.timeout_ms, given.version), (7, 3, 250, 3));
        assert_eq!((given.realtime, given.auto_sync, given.expect_stored_data), (true, false, true));
        assert_eq!((given.pull_interval_ms, given.sync_tag.as_str()), (Some(5000), "outbox-a"));
        assert_eq!(given.storage, StorageKind::Memory);
        assert_eq!(given.retry, RetryConfig { max_attempts: 2, base_delay_ms: 10, max_delay_ms: 20, jitter: 0.5 });
    }

    #[test]
    fn what_is_no_object_with_a_name_is_refused_not_read() {
        for config in [json!(null), json!([]), json!({"collections": {"t": {"key": "id"}}}), json!({"name": 5})] {
            assert_eq!(ClientConfig::from_json(config).map_err(|e| e.code()), Err("invalid-config"));
        }
    }

    #[test]
    fn array_rules_are_read_by_field() {
        let mut arrays = one(json!({"key": "id", "conflict": {"strategy": "merge", "manualFields": ["title"],
            "arrays": {"tags": "union", "log": "append", "ids": "replace"}}}))
        .conflict;
        arrays.arrays.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            arrays.arrays,
            vec![
                ("ids".into(), ArrayRule::Replace),
                ("log".into(), ArrayRule::Append),
                ("tags".into(), ArrayRule::Union)
            ]
        );
        assert_eq!(arrays.manual_fields, vec!["title"]);
    }

    #[test]
    fn each_strategy_is_read_by_name_and_merge_is_the_default() {
        for (name, strategy) in [
            ("serverWins", Strategy::ServerWins),
            ("clientWins", Strategy::ClientWins),
            ("lastWriteWins", Strategy::LastWriteWins),
            ("merge", Strategy::Merge),
            ("manual", Strategy::Manual),
            ("custom", Strategy::Custom),
        ] {
            assert_eq!(one(json!({"key": "id", "conflict": name})).conflict.strategy, strategy);
            assert_eq!(one(json!({"key": "id", "conflict": {"strategy": name}})).conflict.strategy, strategy);
        }
        assert_eq!(one(json!({"key": "id"})).conflict.strategy, Strategy::Merge);
    }

    #[test]
    fn event_takes_a_name_or_a_name_and_value_field() {
        let event = one(json!({"key": "id", "event": {"name": "attendee-data-updated", "valueField": "attendee"}}))
            .event
            .unwrap();
        assert_eq!((event.name.as_str(), event.value_field.as_deref()), ("attendee-data-updated", Some("attendee")));
        let named = one(json!({"key": "id", "event": "t-changed"})).event;
        assert_eq!(named, Some(EventConfig { name: "t-changed".into(), value_field: None }));
        assert_eq!(one(json!({"key": "id"})).event, None);
    }

    #[test]
    fn a_collection_lives_in_its_space_a_field_names_it_or_it_is_private() {
        let c = read(json!({"name": "a", "collections": {
            "programme": {"key": "id", "space": "conference"},
            "lists": {"key": "id", "spaceField": "groupId"},
            "notes": {"key": "id"}}}));
        let rule = |name: &str| c.collection(name).unwrap().space.clone();
        assert_eq!(rule("programme"), SpaceRule::Fixed("conference".into()));
        assert_eq!(rule("lists"), SpaceRule::Field("groupId".into()));
        assert_eq!(rule("notes"), SpaceRule::Private);
        let value = json!({"id": "l1", "groupId": "group:7"});
        assert_eq!(rule("lists").space_of("lists", &value), Ok(Some("group:7".into())));
        assert_eq!(rule("programme").space_of("programme", &value), Ok(Some("conference".into())));
        assert_eq!(rule("notes").space_of("notes", &value), Ok(None));
        let missing = rule("lists").space_of("lists", &json!({"id": "l1"})).unwrap_err();
        assert_eq!(missing.code(), "invalid-value");
        assert!(rule("lists").space_of("lists", &json!({"id": "l1", "groupId": "a b"})).is_err());
        // Pulled changes from elsewhere stay out of fixed and private collections.
        assert!(rule("programme").admits(Some("conference")) && !rule("programme").admits(Some("other")));
        assert!(rule("notes").admits(Some("user:ana")) && !rule("notes").admits(Some("conference")));
        assert!(rule("lists").admits(Some("anything")) && rule("notes").admits(None));
        assert!(rule("programme").may_hold("conference") && !rule("notes").may_hold("conference"));
    }

    #[test]
    fn indexes_are_fields_compound_or_multi_entry_named_as_dexie_names_them() {
        let t = one(json!({"key": "id",
            "indexes": ["owner", ["trip", "day"], {"field": "tags", "multiEntry": true}, {"field": "day"}]}));
        let names: Vec<(&str, &[String], bool)> =
            t.indexes.iter().map(|i| (i.name.as_str(), i.fields.as_slice(), i.multi_entry)).collect();
        let fields = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            names,
            [
                ("owner", &fields(&["owner"])[..], false),
                ("[trip+day]", &fields(&["trip", "day"])[..], false),
                ("*tags", &fields(&["tags"])[..], true),
                ("day", &fields(&["day"])[..], false)
            ]
        );
    }

    #[test]
    fn collections_are_read_from_an_object_by_name_or_a_list_of_named_settings() {
        let listed = read(json!({"name": "a", "collections": [{"name": "t", "key": "id", "omit": ["secret"]},
            {"name": "u", "key": "k"}]}));
        let names: Vec<(&str, &str)> = listed.collections.iter().map(|c| (c.name.as_str(), c.key.as_str())).collect();
        assert_eq!(names, [("t", "id"), ("u", "k")]);
        assert_eq!(listed.collections[0].omit, vec!["secret"]);
        let keyed = read(json!({"name": "a", "collections": {"u": {"key": "k"}, "t": {"key": "id"}}}));
        let names: Vec<&str> = keyed.collections.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["t", "u"]);
    }
}
