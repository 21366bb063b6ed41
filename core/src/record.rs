//! What the stores hold: entity records, outbox entries and client metadata. These are
//! the shapes written to IndexedDB (camelCase), so a person reading the raw database
//! sees the same names as the wire protocol.

use crate::json::{JsonText, ToJson};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::HlcState;
use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::fields::kind;
use crate::protocol::{Mutation, Op};
use crate::value::AppValue;

/// Bumped when the stored record shapes change; a database written by a newer format is
/// refused rather than misread.
pub const STORAGE_FORMAT: u32 = SENT_MARK_FORMAT;
/// The format of a database without app schema versions, which every library reads.
pub const BASE_FORMAT: u32 = 1;
/// The format of a database whose values an app `version` above 1 shaped (the web store
/// sets it): a library older than versions refuses it (`schema-downgrade`) rather than
/// write values the migrations would never see.
pub const VERSIONED_FORMAT: u32 = 2;
/// The format of a database whose outbox numbers its entries by the store's own key
/// generator (IndexedDB's auto-increment), not by `Meta::next_mutation_id`: a library
/// that still counts in the metadata refuses it (`schema-downgrade`) rather than give a
/// new write an id the generator already gave another, overwriting it.
pub const KEYED_OUTBOX_FORMAT: u32 = 3;
/// The format of a database whose push flags the entries it takes by one mark (the
/// highest id taken, in `meta`), not on each entry: a library that reads only each
/// entry's flag refuses it (`schema-downgrade`) rather than fold a new write into an
/// entry the server may already have applied, losing the write.
pub const SENT_MARK_FORMAT: u32 = 4;

/// Ids of the outbox entries a plan creates, until the store numbers them: the store's
/// key generator gives each new entry its id as it writes it (atomically across tabs and
/// workers), so a local write reads no counter first. Stored ids stay below this
/// (JavaScript's safe integers); plans number their new entries from it, in order.
pub const NEW_ENTRY_IDS: u64 = 1 << 53;

/// An entry a plan created and the store has not numbered yet.
pub fn is_new_entry(id: u64) -> bool {
    id >= NEW_ENTRY_IDS
}

fn is_provisional(id: &u64) -> bool {
    is_new_entry(*id)
}

/// Stored shapes and the app values inside them: what encryption at rest seals.
pub trait AppValues {
    fn app_values(&mut self) -> Vec<&mut Value>;
}

fn some_values<'a>(fields: impl IntoIterator<Item = &'a mut Option<Value>>) -> Vec<&'a mut Value> {
    fields.into_iter().filter_map(Option::as_mut).collect()
}

/// One entity and its sync metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRecord<V = Value> {
    pub key: String,
    /// The value the app sees; `None` is a tombstone (deleted locally or on the server).
    pub value: Option<V>,
    /// The last server version seen for this key; `None` if never synced.
    pub version: Option<u64>,
    /// The last value the server sent: the base of a three-way merge.
    pub base: Option<V>,
    pub hlc: String,
    /// Outbox entries not yet acknowledged for this key.
    pub pending: u32,
    pub updated_at: f64,
    /// The open manual conflict of this key, if any (its id in `conflicts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<u64>,
    /// Revived by a conflict over the server's delete: the server holds a tombstone at
    /// `version`, and `base` is the value before that delete, the ancestor the revival's
    /// edits were made against (for the next three-way merge), not the server's value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub revived: bool,
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

/// A local mutation waiting for the server's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry<V = Value> {
    /// Left out of the stored shape while provisional ([`NEW_ENTRY_IDS`]): the store's key
    /// generator gives it (and IndexedDB clones an object whose first field was deleted,
    /// which leaves it in V8's slow mode, measurably slower).
    #[serde(skip_serializing_if = "is_provisional")]
    pub id: u64,
    pub collection: String,
    pub key: String,
    pub op: Op,
    /// The full value for `put`, the merge patch for `patch`, null for `delete`.
    pub value: V,
    pub base_version: Option<u64>,
    pub hlc: String,
    /// Set once the entry went out in a push. A sent entry is never rewritten: the
    /// server may already have applied exactly those bytes.
    pub sent: bool,
    pub created_at: f64,
    /// The space the write goes to; absent: the private space (also every entry written
    /// before spaces existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    /// How many pushes carried this entry (it stays queued while none was answered).
    #[serde(default)]
    pub attempts: u32,
}

/// How current one record is: `getFresh(collection, key, {details: true})`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Freshness {
    /// When the server last confirmed what this device shows for the key (ms since the
    /// epoch): the last completed sync, since a sync that brings nothing for a key
    /// confirms it; `None` while local writes to it are pending, or before any sync.
    pub fetched_at: Option<f64>,
    /// Whether `fetched_at` is within the collection's `ttlMs`.
    pub fresh: bool,
    /// When the value was last changed, by this device or on the server (the wall clock
    /// of its HLC stamp, which the server caps at its own time); `None` without a record.
    pub updated_at: Option<u64>,
    /// The server version of the record; `None` if the server never had it.
    pub version: Option<u64>,
    /// Local writes to it not yet acknowledged.
    pub pending: u32,
}

impl Freshness {
    pub fn of<V>(record: Option<&EntityRecord<V>>, last_synced_at: Option<f64>, ttl_ms: u64, now_ms: u64) -> Freshness {
        let pending = record.map_or(0, |r| r.pending);
        let fetched_at = last_synced_at.filter(|_| pending == 0);
        Freshness {
            fetched_at,
            fresh: fetched_at.is_some_and(|at| now_ms as f64 - at <= ttl_ms as f64),
            updated_at: record.and_then(|r| r.hlc.parse::<crate::clock::HlcStamp>().ok()).map(|s| s.wall_ms),
            version: record.and_then(|r| r.version),
            pending,
        }
    }
}

/// One queued write as `pending({details: true})` describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingWrite {
    pub collection: String,
    pub key: String,
    pub op: Op,
    pub attempts: u32,
    /// Why the last attempt failed: the client's last sync failure, for an entry that was
    /// tried and is still queued (an answered entry leaves the outbox).
    pub last_error: Option<Failure>,
    pub queued_at: f64,
}

impl PendingWrite {
    pub fn describe<V>(entries: Vec<OutboxEntry<V>>, last_failure: Option<&Failure>) -> Vec<PendingWrite> {
        entries
            .into_iter()
            .map(|e| PendingWrite {
                last_error: last_failure.filter(|_| e.attempts > 0).cloned(),
                collection: e.collection,
                key: e.key,
                op: e.op,
                attempts: e.attempts,
                queued_at: e.created_at,
            })
            .collect()
    }
}

/// Every field of a stored [`EntityRecord`] but the two app values (`value`, `base`):
/// the browser store checks these alone when it hands the stored value to the app as it
/// is, without a trip through Rust.
pub const RECORD_METADATA_FIELDS: [&str; 7] = ["key", "version", "hlc", "pending", "updatedAt", "conflict", "revived"];

/// Every field of a stored [`OutboxEntry`] but its app value (`value`): likewise.
pub const ENTRY_METADATA_FIELDS: [&str; 10] =
    ["id", "collection", "key", "op", "baseVersion", "hlc", "sent", "createdAt", "space", "attempts"];

impl AppValues for EntityRecord {
    fn app_values(&mut self) -> Vec<&mut Value> {
        some_values([&mut self.value, &mut self.base])
    }
}

impl AppValues for OutboxEntry {
    fn app_values(&mut self) -> Vec<&mut Value> {
        vec![&mut self.value]
    }
}

impl AppValues for ConflictRecord {
    fn app_values(&mut self) -> Vec<&mut Value> {
        some_values([&mut self.local, &mut self.server, &mut self.base])
    }
}

impl AppValues for Meta {
    fn app_values(&mut self) -> Vec<&mut Value> {
        Vec::new()
    }
}

impl<V: AppValue> EntityRecord<V> {
    /// A copy whose values share nothing with this one's (see `AppValue::detached`).
    pub fn detached(&self) -> Self {
        EntityRecord {
            value: self.value.as_ref().map(V::detached),
            base: self.base.as_ref().map(V::detached),
            ..self.clone()
        }
    }
}

impl<V> EntityRecord<V> {
    /// The value the server holds at `version`, as far as this record knows: what a
    /// rollback of its pending writes shows (a revived record's server holds its delete).
    pub fn server_value(&self) -> Option<&V> {
        self.base.as_ref().filter(|_| !self.revived)
    }

    /// The same record around other values (the browser store's codec: metadata and
    /// values travel apart).
    pub fn with_values<W>(self, value: Option<W>, base: Option<W>) -> EntityRecord<W> {
        EntityRecord {
            key: self.key,
            value,
            version: self.version,
            base,
            hlc: self.hlc,
            pending: self.pending,
            updated_at: self.updated_at,
            conflict: self.conflict,
            revived: self.revived,
        }
    }

    /// Its metadata alone, its values left out (the browser store writes them apart).
    pub fn metadata(&self) -> EntityRecord<()> {
        EntityRecord {
            key: self.key.clone(),
            value: None,
            version: self.version,
            base: None,
            hlc: self.hlc.clone(),
            pending: self.pending,
            updated_at: self.updated_at,
            conflict: self.conflict,
            revived: self.revived,
        }
    }
}

impl<V: AppValue> OutboxEntry<V> {
    /// A copy whose value shares nothing with this one's.
    pub fn detached(&self) -> Self {
        OutboxEntry { value: self.value.detached(), ..self.clone() }
    }
}

impl<V> OutboxEntry<V> {
    /// The same entry around another value.
    pub fn with_value<W>(self, value: W) -> OutboxEntry<W> {
        OutboxEntry {
            id: self.id,
            collection: self.collection,
            key: self.key,
            op: self.op,
            value,
            base_version: self.base_version,
            hlc: self.hlc,
            sent: self.sent,
            created_at: self.created_at,
            space: self.space,
            attempts: self.attempts,
        }
    }

    /// Its metadata alone, its value left out (the browser store writes it apart).
    pub fn metadata(&self) -> OutboxEntry<()> {
        OutboxEntry {
            id: self.id,
            collection: self.collection.clone(),
            key: self.key.clone(),
            op: self.op,
            value: (),
            base_version: self.base_version,
            hlc: self.hlc.clone(),
            sent: self.sent,
            created_at: self.created_at,
            space: self.space.clone(),
            attempts: self.attempts,
        }
    }
}

impl<V: Clone> OutboxEntry<V> {
    pub fn to_mutation(&self) -> Mutation<V> {
        Mutation {
            id: self.id,
            collection: self.collection.clone(),
            key: self.key.clone(),
            op: self.op,
            value: self.value.clone(),
            base_version: self.base_version,
            hlc: self.hlc.clone(),
            space: self.space.clone(),
            // The engine stamps the app's version as it sends (see `migration`).
            schema_version: None,
        }
    }
}

/// Per-database client state, stored as one record in `meta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub client_id: String,
    /// The id counter of databases before `KEYED_OUTBOX_FORMAT`: the store's key generator
    /// continues above it when it takes over (an id is never given twice, invariant 3).
    /// Nothing numbers entries by it any more.
    pub next_mutation_id: u64,
    pub checkpoint: u64,
    pub hlc: HlcState,
    pub last_synced_at: Option<f64>,
    pub format: u32,
    /// The collections the checkpoint covers. When the app's collections change, the
    /// checkpoint no longer means "everything up to here" and pulling starts over.
    #[serde(default)]
    pub checkpoint_scope: Option<String>,
    /// The id the next manual conflict gets.
    #[serde(default = "first_id")]
    pub next_conflict_id: u64,
    /// How far the server's clock is ahead of ours (ms; negative: behind), learned from
    /// its answers when the gap exceeds the allowed drift. HLC stamps use corrected time.
    #[serde(default)]
    pub clock_offset_ms: i64,
    /// Why the last sync failed, kept until one succeeds: a page opened later (or after a
    /// service worker's last background attempt) can still say why data is waiting.
    #[serde(default)]
    pub last_failure: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub at: f64,
    pub code: String,
    pub message: String,
}

fn first_id() -> u64 {
    1
}

/// A conflict waiting for a person: both sides and the base, kept until the app decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConflictRecord {
    pub id: u64,
    pub collection: String,
    pub key: String,
    pub local: Option<Value>,
    pub server: Option<Value>,
    pub base: Option<Value>,
    pub detected_at: f64,
    pub server_version: u64,
    /// Fields a merge could not settle; empty when the whole record is in question.
    #[serde(default)]
    pub fields: Vec<String>,
    /// The record's space (that of its pending writes), where the settled value goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
}

impl Meta {
    pub fn new(client_id: String) -> Meta {
        Meta {
            client_id,
            next_mutation_id: 1,
            checkpoint: 0,
            hlc: HlcState::default(),
            last_synced_at: None,
            format: STORAGE_FORMAT,
            checkpoint_scope: None,
            next_conflict_id: 1,
            clock_offset_ms: 0,
            last_failure: None,
        }
    }

    /// Wall-clock time corrected by what we learned of the server's clock.
    pub fn corrected(&self, now_ms: u64) -> u64 {
        now_ms.saturating_add_signed(self.clock_offset_ms)
    }
}

/// `list` arguments: everything, or records whose indexed field equals a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    pub index: Option<(String, Value)>,
    pub limit: Option<usize>,
}

/// Whether a value can be an IndexedDB key for our indexes.
pub fn is_index_key(value: &Value) -> bool {
    matches!(value, Value::String(_)) || value.as_f64().is_some_and(f64::is_finite)
}

/// Order of string keys as IndexedDB sorts them: by UTF-16 code units, which differs from
/// Rust's byte order between U+E000..U+FFFF and the supplementary planes.
pub fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Equality as IndexedDB compares keys: numbers by value (1 == 1.0), strings exactly.
pub fn index_key_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        _ => matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y),
    }
}

/// Check a value given to `put` and prepare it for storage: it must be an object whose
/// key field is a non-empty string; fields in `omit` are removed. Returns the key.
pub fn prepare_value<V: AppValue>(config: &CollectionConfig, mut value: V) -> Result<(String, V)> {
    if !value.is_object() {
        // Only the message reads the value's kind: the conversion is on the error path.
        return Err(Error::invalid_value(&config.name, format!("expected an object, got {}", kind(&value.to_json()))));
    }
    let key = match value.field(&config.key) {
        Some(Value::String(key)) if !key.is_empty() => key,
        Some(Value::String(_)) => {
            return Err(Error::invalid_value(&config.name, format!("key \"{}\" is empty", config.key)))
        }
        Some(other) => {
            return Err(Error::invalid_value(
                &config.name,
                format!("key \"{}\" must be a string, got {}", config.key, kind(&other)),
            ))
        }
        None => return Err(Error::invalid_value(&config.name, format!("key \"{}\" is missing", config.key))),
    };
    if !config.omit.is_empty() {
        value.remove_fields(&config.omit);
    }
    Ok((key, value))
}

/// Check a partial value given to `patch`: an object that does not change the key.
pub fn prepare_patch<V: AppValue>(config: &CollectionConfig, key: &str, mut patch: V) -> Result<V> {
    if !patch.is_object() {
        return Err(Error::invalid_value(
            &config.name,
            format!("a patch must be an object, got {}", kind(&patch.to_json())),
        ));
    }
    match patch.field(&config.key) {
        None => {}
        Some(Value::String(k)) if k == key => {}
        Some(_) => {
            return Err(Error::invalid_value(&config.name, format!("a patch cannot change the key \"{}\"", config.key)))
        }
    }
    if !config.omit.is_empty() {
        patch.remove_fields(&config.omit);
    }
    Ok(patch)
}

/// Check a key given to `get`, `patch` or `delete`.
pub fn check_key(config: &CollectionConfig, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid_value(&config.name, "key must be a non-empty string"));
    }
    Ok(())
}

/// The shapes as serde writes them (`#[serde(rename_all = "camelCase")]`, the same
/// fields skipped), written without serde: `crate::json`.
impl<V: ToJson> ToJson for EntityRecord<V> {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("key", &self.key);
        out.field("value", &self.value);
        out.field("version", &self.version);
        out.field("base", &self.base);
        out.field("hlc", &self.hlc);
        out.field("pending", &self.pending);
        out.field("updatedAt", &self.updated_at);
        if let Some(conflict) = self.conflict {
            out.field("conflict", &conflict);
        }
        if self.revived {
            out.field("revived", &true);
        }
        out.close_object();
    }
}

impl<V: ToJson> ToJson for OutboxEntry<V> {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        if !is_provisional(&self.id) {
            out.field("id", &self.id);
        }
        out.field("collection", &self.collection);
        out.field("key", &self.key);
        out.field("op", &self.op);
        out.field("value", &self.value);
        out.field("baseVersion", &self.base_version);
        out.field("hlc", &self.hlc);
        out.field("sent", &self.sent);
        out.field("createdAt", &self.created_at);
        if let Some(space) = &self.space {
            out.field("space", space);
        }
        out.field("attempts", &self.attempts);
        out.close_object();
    }
}

impl ToJson for ConflictRecord {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("id", &self.id);
        out.field("collection", &self.collection);
        out.field("key", &self.key);
        out.field("local", &self.local);
        out.field("server", &self.server);
        out.field("base", &self.base);
        out.field("detectedAt", &self.detected_at);
        out.field("serverVersion", &self.server_version);
        out.field("fields", &self.fields);
        if let Some(space) = &self.space {
            out.field("space", space);
        }
        out.close_object();
    }
}

impl ToJson for Meta {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("clientId", &self.client_id);
        out.field("nextMutationId", &self.next_mutation_id);
        out.field("checkpoint", &self.checkpoint);
        out.field("hlc", &self.hlc);
        out.field("lastSyncedAt", &self.last_synced_at);
        out.field("format", &self.format);
        out.field("checkpointScope", &self.checkpoint_scope);
        out.field("nextConflictId", &self.next_conflict_id);
        out.field("clockOffsetMs", &self.clock_offset_ms);
        out.field("lastFailure", &self.last_failure);
        out.close_object();
    }
}

impl ToJson for Freshness {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("fetchedAt", &self.fetched_at);
        out.field("fresh", &self.fresh);
        out.field("updatedAt", &self.updated_at);
        out.field("version", &self.version);
        out.field("pending", &self.pending);
        out.close_object();
    }
}

impl ToJson for PendingWrite {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("collection", &self.collection);
        out.field("key", &self.key);
        out.field("op", &self.op);
        out.field("attempts", &self.attempts);
        out.field("lastError", &self.last_error);
        out.field("queuedAt", &self.queued_at);
        out.close_object();
    }
}

impl ToJson for Failure {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("at", &self.at);
        out.field("code", &self.code);
        out.field("message", &self.message);
        out.close_object();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;
    use serde_json::json;

    #[test]
    fn record_metadata_fields_are_every_field_but_the_values() {
        let record = EntityRecord {
            key: "k".into(),
            value: Some(json!({"id": "k"})),
            version: Some(1),
            base: Some(json!({"id": "k"})),
            hlc: "h".into(),
            pending: 0,
            updated_at: 1.0,
            conflict: Some(2),
            // Every optional field set, so each is in the stored shape.
            revived: true,
        };
        let stored = serde_json::to_value(&record).unwrap();
        let mut fields: Vec<&str> =
            stored.as_object().unwrap().keys().map(String::as_str).filter(|f| !["value", "base"].contains(f)).collect();
        let mut expected = RECORD_METADATA_FIELDS.to_vec();
        fields.sort_unstable();
        expected.sort_unstable();
        assert_eq!(fields, expected);
    }

    #[test]
    fn entry_metadata_fields_are_every_field_but_the_value() {
        let entry = OutboxEntry {
            id: 1,
            collection: "c".into(),
            key: "k".into(),
            op: Op::Put,
            value: json!({"id": "k"}),
            base_version: Some(3),
            hlc: "h".into(),
            sent: false,
            created_at: 1.0,
            space: Some("group:a".into()),
            attempts: 0,
        };
        let stored = serde_json::to_value(&entry).unwrap();
        let mut fields: Vec<&str> =
            stored.as_object().unwrap().keys().map(String::as_str).filter(|f| *f != "value").collect();
        let mut expected = ENTRY_METADATA_FIELDS.to_vec();
        fields.sort_unstable();
        expected.sort_unstable();
        assert_eq!(fields, expected);
    }

    #[test]
    fn freshness_is_the_last_sync_for_a_settled_record_and_none_while_writes_are_pending() {
        let record = |pending: u32| EntityRecord {
            key: "a".into(),
            value: Some(json!({"id": "a"})),
            version: Some(7),
            base: Some(json!({"id": "a"})),
            hlc: "001700000000500-0000-c-x".into(),
            pending,
            updated_at: 0.0,
            conflict: None,
            revived: false,
        };
        let synced = Freshness::of(Some(&record(0)), Some(1_000.0), 500, 1_400);
        assert_eq!((synced.fetched_at, synced.fresh, synced.version), (Some(1_000.0), true, Some(7)));
        assert_eq!(synced.updated_at, Some(1_700_000_000_500));
        assert!(!Freshness::of(Some(&record(0)), Some(1_000.0), 500, 1_501).fresh, "older than ttlMs");
        let edited = Freshness::of(Some(&record(1)), Some(1_000.0), 500, 1_001);
        assert_eq!((edited.fetched_at, edited.fresh, edited.pending), (None, false, 1));
        let never = Freshness::of::<Value>(None, None, 500, 1);
        assert_eq!((never.fetched_at, never.fresh, never.updated_at), (None, false, None));
        // A key the last sync did not bring is confirmed absent as of that sync.
        assert!(Freshness::of::<Value>(None, Some(1_000.0), 500, 1_200).fresh);
    }

    fn attendees() -> CollectionConfig {
        ClientConfig::from_json(json!({"name": "a", "collections": {
            "attendees": {"key": "id", "omit": ["accessCode"], "indexes": ["tripId"]}}}))
        .unwrap()
        .collections
        .remove(0)
    }

    #[test]
    fn prepare_value_extracts_the_key_and_strips_omitted_fields() {
        let (key, value) = prepare_value(&attendees(), json!({"id": "a1", "accessCode": "s3cret", "n": 1})).unwrap();
        assert_eq!(key, "a1");
        assert_eq!(value, json!({"id": "a1", "n": 1}));
    }

    #[test]
    fn values_that_cannot_be_stored_are_refused_with_the_reason() {
        let c = attendees();
        let reason = |v: Value| match prepare_value(&c, v) {
            Err(Error::InvalidValue { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(json!([1])).contains("expected an object, got an array"));
        assert!(reason(json!("x")).contains("got a string"));
        assert!(reason(json!({"n": 1})).contains("missing"));
        assert!(reason(json!({"id": 7})).contains("must be a string, got a number"));
        assert!(reason(json!({"id": ""})).contains("empty"));
    }

    #[test]
    fn patches_cannot_move_a_record_to_another_key() {
        let c = attendees();
        assert!(prepare_patch(&c, "a1", json!({"id": "a2"})).is_err());
        assert!(prepare_patch(&c, "a1", json!(3)).is_err());
        assert_eq!(prepare_patch(&c, "a1", json!({"id": "a1", "accessCode": "x"})).unwrap(), json!({"id": "a1"}));
    }

    #[test]
    fn index_keys_are_strings_and_numbers_compared_as_indexeddb_does() {
        assert!(is_index_key(&json!("t1")) && is_index_key(&json!(3)) && is_index_key(&json!(2.5)));
        assert!(!is_index_key(&json!(true)) && !is_index_key(&json!(null)) && !is_index_key(&json!(["a"])));
        assert!(index_key_eq(&json!(1), &json!(1.0)));
        assert!(!index_key_eq(&json!("1"), &json!(1)));
    }
}
