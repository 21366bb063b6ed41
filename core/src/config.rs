//! Client configuration: parsed from the JSON-compatible part of the object given to
//! `SyncClient.open` and validated once, so bad input fails at open with a clear message.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::fields::{self, Fields};
use crate::protocol::is_valid_space_id;
use crate::value::AppValue;

/// Object stores the library owns; no collection may take these names.
pub const RESERVED_STORES: [&str; 4] = ["outbox", "conflicts", "audit", "meta"];

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

// The config is read by hand (`fields::Fields`), each shape a value may take tried in
// turn: serde's derives over `serde_json::Value` compiled a deserializer per struct, and
// its untagged enums buffered the value in a generic `Content` tree (bench/README.md
// "Size").

/// An index: `"owner"`, `["trip", "day"]` or `{field, multiEntry}`.
fn read_index(raw: Value) -> std::result::Result<IndexSpec, String> {
    const SHAPES: &str = "an index must be a field name, an array of field names, or {field, multiEntry}";
    match raw {
        Value::String(field) => Ok(IndexSpec::single(field, false)),
        Value::Array(_) => match fields::strings(raw) {
            Some(fields) if fields.len() < 2 => Err("a compound index needs at least two fields".into()),
            Some(fields) => {
                let name =
                    format!("[{}]", crate::text::joined(&fields.iter().map(String::as_str).collect::<Vec<_>>(), "+"));
                Ok(IndexSpec { name, fields, multi_entry: false })
            }
            None => Err(SHAPES.into()),
        },
        detail => {
            let detailed = || -> std::result::Result<IndexSpec, String> {
                let mut f = Fields::of(detail, "index", &["field", "multiEntry"])?;
                let field = f.required_string("field");
                let multi_entry = f.bool("multiEntry").unwrap_or(false);
                f.finish()?;
                Ok(IndexSpec::single(field, multi_entry))
            };
            detailed().map_err(|_| SHAPES.into())
        }
    }
}

fn parse_index(raw: Value, omit: &[String]) -> std::result::Result<IndexSpec, String> {
    let spec = read_index(raw)?;
    for (i, field) in spec.fields.iter().enumerate() {
        if field.trim().is_empty() {
            return Err("index fields must not be empty".into());
        }
        // IndexedDB reads the index's key path `value.<field>`: a dot would name a nested
        // field (which queries, reading top-level fields, would not see), and anything but
        // an identifier is no key path at all.
        if !is_identifier(field) {
            return Err(format!("index field \"{field}\" must be a top-level identifier (letters, digits, _, $)"));
        }
        if spec.fields[..i].contains(field) {
            return Err(format!("index {} names \"{field}\" twice", spec.name));
        }
        if omit.contains(field) {
            return Err(format!("field \"{field}\" is both indexed and omitted"));
        }
    }
    Ok(spec)
}

/// An ECMAScript identifier name, as an IndexedDB key path's parts must be: ASCII letters,
/// `_` and `$`, then digits too. Other than ASCII, any character passes (Unicode's letter
/// tables would add kilobytes to the module); IndexedDB refuses the rare one that is no
/// identifier part when the index is created.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let part = |c: char, first: bool| {
        c.is_ascii_alphabetic() || c == '_' || c == '$' || !c.is_ascii() || (!first && c.is_ascii_digit())
    };
    chars.next().is_some_and(|c| part(c, true)) && chars.all(|c| part(c, false))
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

impl EventConfig {
    /// An event setting: a name, or `{name, valueField}`.
    fn read(value: Value) -> std::result::Result<EventConfig, String> {
        if let Value::String(name) = value {
            return Ok(EventConfig { name, value_field: None });
        }
        let detailed = || -> std::result::Result<EventConfig, String> {
            let mut f = Fields::of(value, "event", &["name", "valueField"])?;
            let name = f.required_string("name");
            let value_field = f.string("valueField");
            f.finish()?;
            Ok(EventConfig { name, value_field })
        };
        detailed().map_err(|_| "`event` must be an event name or {name, valueField}".into())
    }
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

impl RetryConfig {
    /// `retry`: each field defaults on its own.
    fn read(value: Value) -> std::result::Result<RetryConfig, String> {
        let mut f = Fields::of(value, "retry", &["maxAttempts", "baseDelayMs", "maxDelayMs", "jitter"])?;
        let default = RetryConfig::default();
        let retry = RetryConfig {
            max_attempts: f.whole("maxAttempts", u32::MAX.into()).map_or(default.max_attempts, |n| n as u32),
            base_delay_ms: f.whole("baseDelayMs", u64::MAX).unwrap_or(default.base_delay_ms),
            max_delay_ms: f.whole("maxDelayMs", u64::MAX).unwrap_or(default.max_delay_ms),
            jitter: f.number("jitter").unwrap_or(default.jitter),
        };
        f.finish()?;
        Ok(retry)
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

    /// Parse and validate. `value` is the JSON part of the JS config (functions and DOM
    /// objects such as `token` and `eventTarget` are taken out by the web layer first).
    pub fn from_json(value: Value) -> Result<ClientConfig> {
        let raw = RawConfig::read(value).map_err(invalid)?;
        // Checked all at once, the first that fails answered: one early return, not one
        // per check each compiling the drops of `raw`.
        let checks = [
            (raw.name.trim().is_empty(), "`name` must be a non-empty string"),
            (
                raw.endpoint.as_deref().is_some_and(|e| e.trim().is_empty()),
                "`endpoint` must be a non-empty URL, or left out for local-only use",
            ),
            (raw.audit_limit == Some(0), "`auditLimit` must be at least 1"),
            (raw.sync_tag.as_deref().is_some_and(|t| t.trim().is_empty()), "`syncTag` must be a non-empty string"),
            (
                raw.timeout_ms.is_some_and(|t| t == 0 || t > 600_000),
                "`timeoutMs` must be between 1 and 600000 (10 minutes)",
            ),
            (raw.batch_size == Some(0), "`batchSize` must be at least 1"),
            (!(0.0..=1.0).contains(&raw.retry.jitter), "`retry.jitter` must be between 0 and 1"),
            (
                raw.retry.base_delay_ms > raw.retry.max_delay_ms,
                "`retry.baseDelayMs` must not exceed `retry.maxDelayMs`",
            ),
            (raw.version == Some(0), "`version` must be a whole number of at least 1"),
        ];
        if let Some((_, reason)) = checks.iter().find(|(failed, _)| *failed) {
            return Err(invalid(reason));
        }
        let collections = RawCollections::read(raw.collections)?.into_named()?;
        if collections.is_empty() {
            return Err(invalid("`collections` must declare at least one collection"));
        }
        let mut parsed: Vec<CollectionConfig> = Vec::with_capacity(collections.len());
        for (name, spec) in collections {
            if parsed.iter().any(|c| c.name == name) {
                return Err(invalid(format!("duplicate collection name \"{name}\"")));
            }
            parsed.push(parse_collection(name, spec)?);
        }
        Ok(ClientConfig {
            name: raw.name,
            endpoint: raw.endpoint,
            collections: parsed,
            retry: raw.retry,
            batch_size: raw.batch_size.unwrap_or(100),
            pull_interval_ms: raw.pull_interval_ms,
            realtime: raw.realtime.unwrap_or(false),
            auto_sync: raw.auto_sync.unwrap_or(true),
            audit_limit: raw.audit_limit.unwrap_or(AUDIT_CAP),
            timeout_ms: raw.timeout_ms.map_or(DEFAULT_TIMEOUT_MS, |t| t as u32),
            sync_tag: raw.sync_tag.unwrap_or_else(|| crate::names::SYNC_TAG.to_owned()),
            storage: raw.storage.unwrap_or_default(),
            expect_stored_data: raw.expect_stored_data.unwrap_or(false),
            version: raw.version.unwrap_or(1),
        })
    }
}

fn invalid(reason: impl ToString) -> Error {
    Error::InvalidConfig(reason.to_string())
}

/// The top-level settings, typed; `from_json` validates them.
struct RawConfig {
    name: String,
    endpoint: Option<String>,
    collections: Value,
    retry: RetryConfig,
    batch_size: Option<usize>,
    pull_interval_ms: Option<u64>,
    realtime: Option<bool>,
    auto_sync: Option<bool>,
    audit_limit: Option<usize>,
    timeout_ms: Option<u64>,
    sync_tag: Option<String>,
    storage: Option<StorageKind>,
    expect_stored_data: Option<bool>,
    version: Option<u32>,
}

impl RawConfig {
    fn read(value: Value) -> std::result::Result<RawConfig, String> {
        const KNOWN: &[&str] = &[
            "name",
            "endpoint",
            "collections",
            "retry",
            "batchSize",
            "pullIntervalMs",
            "realtime",
            "autoSync",
            "auditLimit",
            "timeoutMs",
            "syncTag",
            "storage",
            "expectStoredData",
            "version",
        ];
        let mut f = Fields::of(value, "", KNOWN)?;
        let raw = RawConfig {
            name: f.required_string("name"),
            endpoint: f.string("endpoint"),
            collections: f.required("collections"),
            retry: match f.take("retry").map(RetryConfig::read) {
                None => RetryConfig::default(),
                Some(Ok(retry)) => retry,
                Some(Err(problem)) => {
                    f.fail(problem);
                    RetryConfig::default()
                }
            },
            batch_size: f.whole("batchSize", usize::MAX as u64).map(|n| n as usize),
            pull_interval_ms: f.whole("pullIntervalMs", u64::MAX),
            realtime: f.bool("realtime"),
            auto_sync: f.bool("autoSync"),
            audit_limit: f.whole("auditLimit", usize::MAX as u64).map(|n| n as usize),
            timeout_ms: f.whole("timeoutMs", u64::MAX),
            sync_tag: f.string("syncTag"),
            storage: match f.string("storage").as_deref() {
                None => None,
                Some("indexeddb") => Some(StorageKind::IndexedDb),
                Some("memory") => Some(StorageKind::Memory),
                Some(other) => {
                    f.fail(format!("`storage` must be \"indexeddb\" or \"memory\", got \"{other}\""));
                    None
                }
            },
            expect_stored_data: f.bool("expectStoredData"),
            version: f.whole("version", u32::MAX.into()).map(|n| n as u32),
        };
        f.finish()?;
        Ok(raw)
    }
}

/// Collections as an object keyed by name, or as an array of `{name, ...}` (where a
/// name can be given twice, which validation then refuses).
/// (Read by hand, as `RawIndex` is.)
enum RawCollections {
    Map(serde_json::Map<String, Value>),
    List(Vec<Value>),
}

impl RawCollections {
    fn read(value: Value) -> Result<RawCollections> {
        match value {
            Value::Object(map) => Ok(RawCollections::Map(map)),
            Value::Array(list) => Ok(RawCollections::List(list)),
            _ => Err(invalid(
                "`collections` must be an object of collection settings by name, or an array of {name, ...}",
            )),
        }
    }

    fn into_named(self) -> Result<Vec<(String, Value)>> {
        match self {
            RawCollections::Map(map) => Ok(map.into_iter().collect()),
            RawCollections::List(list) => {
                let mut named = Vec::with_capacity(list.len());
                for (i, mut spec) in list.into_iter().enumerate() {
                    let name = spec
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| invalid(format!("collections[{i}] needs a string `name`")))?;
                    if let Some(object) = spec.as_object_mut() {
                        crate::fields::without(object, &|field| field == "name");
                    }
                    named.push((name, spec));
                }
                Ok(named)
            }
        }
    }
}

/// A collection's settings but `conflict` (taken out and read first, for messages that
/// name the strategy), typed.
struct RawCollection {
    key: String,
    event: Option<Value>,
    ttl_ms: Option<u64>,
    omit: Vec<String>,
    indexes: Vec<Value>,
    space: Option<String>,
    space_field: Option<String>,
}

impl RawCollection {
    fn read(value: Value) -> std::result::Result<RawCollection, String> {
        const KNOWN: &[&str] = &["key", "conflict", "event", "ttlMs", "omit", "indexes", "space", "spaceField"];
        let mut f = Fields::of(value, "", KNOWN)?;
        let raw = RawCollection {
            key: f.required_string("key"),
            event: f.take("event"),
            ttl_ms: f.whole("ttlMs", u64::MAX),
            omit: f.strings("omit").unwrap_or_default(),
            indexes: match f.take("indexes") {
                None => Vec::new(),
                Some(Value::Array(indexes)) => indexes,
                Some(other) => {
                    f.fail(format!("`indexes` must be an array, got {}", fields::kind(&other)));
                    Vec::new()
                }
            },
            space: f.string("space"),
            space_field: f.string("spaceField"),
        };
        f.finish()?;
        Ok(raw)
    }
}

/// `arrays`, an object of rules by field, as a list.
fn array_rules(value: Value) -> std::result::Result<Vec<(String, ArrayRule)>, String> {
    let Value::Object(rules) = value else { return Err("`arrays` must be an object of rules by field".into()) };
    let mut parsed = Vec::with_capacity(rules.len());
    for (field, rule) in rules {
        match rule.as_str().and_then(ArrayRule::named) {
            Some(named) => parsed.push((field, named)),
            None => {
                let rule = crate::json::text(&rule);
                return Err(format!("`arrays.{field}` must be \"union\", \"append\" or \"replace\", got {rule}"));
            }
        }
    }
    Ok(parsed)
}

const STRATEGY_NAMES: &str = "serverWins, clientWins, lastWriteWins, merge, manual, or a resolver function";

/// A conflict setting: a strategy name, or `{strategy, arrays, manualFields, manualWithinMs}`.
fn parse_conflict(name: &str, spec: Option<Value>) -> Result<ConflictConfig> {
    let fail = |reason: String| invalid(format!("collection \"{name}\": {reason}"));
    let unknown = |s: &str| fail(format!("unknown conflict strategy \"{s}\"; expected {STRATEGY_NAMES}"));
    let shapes = || fail(format!("`conflict` must be a strategy name or {{strategy, ...}}; expected {STRATEGY_NAMES}"));
    let plain =
        |strategy| ConflictConfig { strategy, arrays: Vec::new(), manual_fields: Vec::new(), manual_within_ms: None };
    let detail = match spec {
        // Field-level merge loses the least when nothing is said.
        None => return Ok(plain(Strategy::Merge)),
        Some(Value::String(s)) => return Strategy::named(&s).map(plain).ok_or_else(|| unknown(&s)),
        Some(detail @ Value::Object(_)) => detail,
        Some(_) => return Err(shapes()),
    };
    let in_conflict = |reason: String| fail(format!("conflict: {reason}"));
    let mut f = Fields::of(detail, "conflict", &["strategy", "arrays", "manualFields", "manualWithinMs"])
        .map_err(in_conflict)?;
    let Some(Value::String(s)) = f.take("strategy") else { return Err(shapes()) };
    let strategy = Strategy::named(&s).ok_or_else(|| unknown(&s))?;
    let arrays = match f.take("arrays").map(array_rules) {
        None => Vec::new(),
        Some(Ok(arrays)) => arrays,
        Some(Err(problem)) => {
            f.fail(problem);
            Vec::new()
        }
    };
    let manual_fields = f.strings("manualFields").unwrap_or_default();
    let manual_within_ms = f.whole("manualWithinMs", u64::MAX);
    f.finish().map_err(in_conflict)?;
    Ok(ConflictConfig { strategy, arrays, manual_fields, manual_within_ms })
}

fn parse_collection(name: String, mut spec: Value) -> Result<CollectionConfig> {
    let fail = |reason: String| invalid(format!("collection \"{name}\": {reason}"));
    if name.is_empty() {
        return Err(invalid("a collection name must not be empty"));
    }
    if RESERVED_STORES.contains(&name.as_str()) {
        return Err(invalid(format!(
            "collection name \"{name}\" is reserved (reserved: {})",
            crate::text::joined(&RESERVED_STORES, ", ")
        )));
    }
    let Some(object) = spec.as_object_mut() else {
        return Err(fail("must be an object such as { key: \"id\" }".into()));
    };
    if !object.contains_key("key") {
        return Err(fail("missing `key`: the field that holds each record's id, e.g. { key: \"id\" }".into()));
    }
    let conflict = parse_conflict(&name, object.get("conflict").cloned())?;
    let raw = RawCollection::read(spec).map_err(fail)?;
    // The first problem is kept and answered at the end (as `Fields` does): an early
    // return at each check compiled the drops of everything read before it.
    let mut problem: Option<String> = None;
    let mut refuse = |reason: String| {
        problem.get_or_insert(reason);
    };
    if raw.key.trim().is_empty() {
        refuse("`key` must name a field".into());
    }
    if raw.omit.contains(&raw.key) {
        refuse(format!("`omit` cannot contain the key field \"{}\"", raw.key));
    }
    let mut indexes: Vec<IndexSpec> = Vec::with_capacity(raw.indexes.len());
    for index in raw.indexes {
        match parse_index(index, &raw.omit) {
            Ok(index) if indexes.iter().any(|i| i.name == index.name) => {
                refuse(format!("index \"{}\" is declared twice", index.name))
            }
            Ok(index) => indexes.push(index),
            Err(reason) => refuse(reason),
        }
    }
    // A condition on a field with a multi-entry index matches any element of its array
    // (`query`); another index over that field holds the whole array as one key, and
    // would answer the same condition otherwise.
    for multi in indexes.iter().filter(|i| i.multi_entry) {
        let field = &multi.fields[0];
        if indexes.iter().any(|i| !i.multi_entry && i.fields.contains(field)) {
            refuse(format!("field \"{field}\" has a multi-entry index and cannot be in another index"));
        }
    }
    let event = match raw.event.map(EventConfig::read) {
        None => None,
        Some(Ok(event)) => {
            if event.name.trim().is_empty() || event.value_field.as_deref().is_some_and(|f| f.trim().is_empty()) {
                refuse("`event` needs a non-empty name (and a non-empty valueField if given)".into());
            }
            Some(event)
        }
        Some(Err(reason)) => {
            refuse(reason);
            None
        }
    };
    let space = match (raw.space, raw.space_field) {
        (None, None) => SpaceRule::Private,
        (Some(space), None) if is_valid_space_id(&space) => SpaceRule::Fixed(space),
        (Some(space), None) => {
            refuse(format!("`space` \"{space}\" is not a space id: 1-128 characters of A-Z a-z 0-9 _ . : -"));
            SpaceRule::Private
        }
        (None, Some(field)) if field.trim().is_empty() => {
            refuse("`spaceField` must name a field".into());
            SpaceRule::Private
        }
        (None, Some(field)) if raw.omit.contains(&field) => {
            refuse(format!("`spaceField` \"{field}\" cannot be omitted: it says where the record lives"));
            SpaceRule::Private
        }
        (None, Some(field)) => SpaceRule::Field(field),
        (Some(_), Some(_)) => {
            refuse("give `space` or `spaceField`, not both".into());
            SpaceRule::Private
        }
    };
    if let Some(reason) = problem {
        return Err(fail(reason));
    }
    Ok(CollectionConfig { name, key: raw.key, conflict, event, ttl_ms: raw.ttl_ms, omit: raw.omit, indexes, space })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(config: Value) -> String {
        match ClientConfig::from_json(config) {
            Err(Error::InvalidConfig(msg)) => msg,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_documented_example() {
        let config = ClientConfig::from_json(json!({
            "name": "conf", "endpoint": "/sync", "batchSize": 50,
            "retry": {"maxAttempts": 3},
            "collections": {
                "attendees": {"key": "id", "conflict": "merge", "event": "attendee-data-updated",
                              "ttlMs": 1_800_000, "omit": ["accessCode"], "indexes": ["tripId"]},
                "profiles": {"key": "id", "conflict": {"strategy": "lastWriteWins", "manualWithinMs": 300000}}
            }
        }))
        .unwrap();
        let attendees = config.collection("attendees").unwrap();
        assert_eq!(attendees.conflict.strategy, Strategy::Merge);
        assert_eq!(attendees.event.as_ref().map(|e| e.name.as_str()), Some("attendee-data-updated"));
        assert_eq!(attendees.omit, vec!["accessCode"]);
        assert_eq!(config.collection("profiles").unwrap().conflict.manual_within_ms, Some(300_000));
        assert_eq!(config.batch_size, 50);
        assert_eq!(config.retry.max_attempts, 3);
        assert_eq!(config.retry.max_delay_ms, 30_000);
        assert_eq!(config.collection("nope"), Err(Error::UnknownCollection("nope".into())));
    }

    #[test]
    fn unknown_strategy_names_the_choices() {
        let msg = err(json!({"name": "a", "collections": {"trips": {"key": "id", "conflict": "mrege"}}}));
        assert!(msg.contains("\"trips\"") && msg.contains("\"mrege\"") && msg.contains("lastWriteWins"), "{msg}");
        let msg = err(json!({"name": "a", "collections": {"trips": {"key": "id", "conflict": {"strategy": "nope"}}}}));
        assert!(msg.contains("\"nope\""), "{msg}");
    }

    #[test]
    fn array_rules_are_read_by_field_and_an_unknown_rule_is_refused() {
        let config = |arrays: Value| json!({"name": "a", "collections": {"trips": {"key": "id", "conflict": {"strategy": "merge", "arrays": arrays}}}});
        let parsed =
            ClientConfig::from_json(config(json!({"tags": "union", "log": "append", "ids": "replace"}))).unwrap();
        let mut arrays = parsed.collection("trips").unwrap().conflict.arrays.clone();
        arrays.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            arrays,
            vec![
                ("ids".into(), ArrayRule::Replace),
                ("log".into(), ArrayRule::Append),
                ("tags".into(), ArrayRule::Union)
            ]
        );
        let msg = err(config(json!({"tags": "zip"})));
        assert!(msg.contains("\"trips\"") && msg.contains("zip") && msg.contains("union"), "{msg}");
        let msg = err(config(json!(["tags"])));
        assert!(msg.contains("\"trips\"") && msg.contains("arrays"), "{msg}");
    }

    #[test]
    fn missing_key_path_is_explained() {
        let msg = err(json!({"name": "a", "collections": {"trips": {"indexes": ["x"]}}}));
        assert!(msg.contains("\"trips\"") && msg.contains("missing `key`"), "{msg}");
    }

    #[test]
    fn duplicate_names_are_refused() {
        let msg =
            err(json!({"name": "a", "collections": [{"name": "trips", "key": "id"}, {"name": "trips", "key": "k"}]}));
        assert!(msg.contains("duplicate collection name \"trips\""), "{msg}");
    }

    #[test]
    fn reserved_and_inconsistent_settings_are_refused() {
        assert!(err(json!({"name": "a", "collections": {"outbox": {"key": "id"}}})).contains("reserved"));
        assert!(err(json!({"name": "a", "collections": {"t": {"key": "id", "omit": ["id"]}}})).contains("omit"));
        assert!(err(json!({"name": "a", "collections": {"t": {"key": "id", "indexes": ["x", "x"]}}})).contains("twice"));
        assert!(err(json!({"name": "a", "collections": {"t": {"key": "id", "colour": 1}}})).contains("colour"));
        assert!(err(json!({"name": "", "collections": {"t": {"key": "id"}}})).contains("name"));
        assert!(err(json!({"name": "a", "collections": {}})).contains("at least one"));
        assert!(err(json!({"name": "a", "batchSize": 0, "collections": {"t": {"key": "id"}}})).contains("batchSize"));
        assert!(err(json!({"name": "a", "collections": {"t": {"key": "id"}}, "bogus": true})).contains("bogus"));
        assert!(err(json!({"name": "a", "syncTag": " ", "collections": {"t": {"key": "id"}}})).contains("syncTag"));
        assert!(err(json!({"name": "a", "timeoutMs": 0, "collections": {"t": {"key": "id"}}})).contains("timeoutMs"));
        let timeout = |v: Value| ClientConfig::from_json(v).map(|c| c.timeout_ms);
        assert_eq!(timeout(json!({"name": "a", "collections": {"t": {"key": "id"}}})), Ok(10_000));
        assert_eq!(timeout(json!({"name": "a", "timeoutMs": 250, "collections": {"t": {"key": "id"}}})), Ok(250));
    }

    #[test]
    fn each_top_level_check_answers_its_own_message_and_the_first_failing_one_wins() {
        let with = |extra: Value| {
            let mut config = json!({"name": "a", "collections": {"t": {"key": "id"}}});
            for (field, value) in extra.as_object().unwrap() {
                config[field] = value.clone();
            }
            err(config)
        };
        let cases = [
            (json!({"name": " "}), "`name` must be a non-empty string"),
            (json!({"endpoint": ""}), "`endpoint` must be a non-empty URL"),
            (json!({"auditLimit": 0}), "`auditLimit` must be at least 1"),
            (json!({"syncTag": ""}), "`syncTag` must be a non-empty string"),
            (json!({"timeoutMs": 600_001}), "`timeoutMs` must be between 1 and 600000"),
            (json!({"batchSize": 0}), "`batchSize` must be at least 1"),
            (json!({"retry": {"jitter": 1.5}}), "`retry.jitter` must be between 0 and 1"),
            (json!({"retry": {"baseDelayMs": 2, "maxDelayMs": 1}}), "`retry.baseDelayMs` must not exceed"),
            (json!({"version": 0}), "`version` must be a whole number of at least 1"),
        ];
        for (extra, message) in cases {
            let got = with(extra.clone());
            assert!(got.starts_with(message), "{extra}: {got}");
        }
        assert!(with(json!({"auditLimit": 0, "version": 0})).starts_with("`auditLimit`"));
        assert!(with(json!({"name": "", "batchSize": 0})).starts_with("`name`"));
        let version = |v: Value| ClientConfig::from_json(v).map(|c| c.version);
        assert_eq!(version(json!({"name": "a", "collections": {"t": {"key": "id"}}})), Ok(1));
        assert_eq!(version(json!({"name": "a", "version": 3, "collections": {"t": {"key": "id"}}})), Ok(3));
    }

    #[test]
    fn a_collection_answers_its_first_problem() {
        let collection = |spec: Value| err(json!({"name": "a", "collections": {"t": spec}}));
        let got = collection(json!({"key": " ", "indexes": ["x", "x"], "space": "bad space"}));
        assert_eq!(got, "collection \"t\": `key` must name a field");
        let got = collection(json!({"key": "id", "indexes": ["x", "x"], "space": "bad space"}));
        assert_eq!(got, "collection \"t\": index \"x\" is declared twice");
        let got = collection(json!({"key": "id", "event": "", "space": "bad space"}));
        assert!(got.contains("`event` needs a non-empty name"), "{got}");
        let got = collection(json!({"key": "id", "space": "a", "spaceField": "b"}));
        assert!(got.contains("give `space` or `spaceField`, not both"), "{got}");
    }

    #[test]
    fn sync_tag_defaults_to_the_shared_name() {
        let parse = |v: Value| ClientConfig::from_json(v).map(|c| c.sync_tag);
        assert_eq!(parse(json!({"name": "a", "collections": {"t": {"key": "id"}}})), Ok("pwa-sync".to_owned()));
        let custom = json!({"name": "a", "syncTag": "outbox-a", "collections": {"t": {"key": "id"}}});
        assert_eq!(parse(custom), Ok("outbox-a".to_owned()));
    }

    #[test]
    fn event_takes_a_name_or_a_name_and_value_field() {
        let c = ClientConfig::from_json(json!({"name": "a", "collections": {
            "attendees": {"key": "id", "event": {"name": "attendee-data-updated", "valueField": "attendee"}}}}))
        .unwrap();
        let event = c.collections[0].event.clone().unwrap();
        assert_eq!((event.name.as_str(), event.value_field.as_deref()), ("attendee-data-updated", Some("attendee")));
        assert!(err(json!({"name": "a", "collections": {"t": {"key": "id", "event": ""}}})).contains("event"));
    }

    #[test]
    fn a_collection_lives_in_its_space_a_field_names_it_or_it_is_private() {
        let c = ClientConfig::from_json(json!({"name": "a", "collections": {
            "programme": {"key": "id", "space": "conference"},
            "lists": {"key": "id", "spaceField": "groupId"},
            "notes": {"key": "id"}}}))
        .unwrap();
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
    fn bad_space_settings_are_refused() {
        let bad = |spec: Value| err(json!({"name": "a", "collections": {"t": spec}}));
        assert!(bad(json!({"key": "id", "space": "a b"})).contains("not a space id"));
        assert!(bad(json!({"key": "id", "space": ""})).contains("not a space id"));
        assert!(bad(json!({"key": "id", "space": "s", "spaceField": "g"})).contains("not both"));
        assert!(bad(json!({"key": "id", "spaceField": " "})).contains("spaceField"));
        assert!(bad(json!({"key": "id", "spaceField": "g", "omit": ["g"]})).contains("cannot be omitted"));
    }

    #[test]
    fn indexes_are_fields_compound_or_multi_entry() {
        let c = ClientConfig::from_json(json!({"name": "a", "collections": {"t": {"key": "id",
            "indexes": ["owner", ["trip", "day"], {"field": "tags", "multiEntry": true}, {"field": "day"}]}}}))
        .unwrap();
        let names: Vec<(&str, usize, bool)> =
            c.collections[0].indexes.iter().map(|i| (i.name.as_str(), i.fields.len(), i.multi_entry)).collect();
        assert_eq!(names, [("owner", 1, false), ("[trip+day]", 2, false), ("*tags", 1, true), ("day", 1, false)]);
        let bad = |indexes: Value| err(json!({"name": "a", "collections": {"t": {"key": "id", "indexes": indexes}}}));
        assert!(bad(json!([["trip"]])).contains("at least two"));
        assert!(bad(json!([["a", "a"]])).contains("twice"));
        assert!(bad(json!(["a", {"field": "a"}])).contains("declared twice"));
        assert!(bad(json!([{"field": "a", "unique": true}])).contains("\"t\""));
        assert!(bad(json!([""])).contains("empty"));
        // Key paths: top-level identifiers only.
        for field in ["address.city", "my-field", "1st", "a b"] {
            assert!(bad(json!([field])).contains("must be a top-level identifier"), "{field}");
            assert!(bad(json!([["day", field]])).contains("top-level identifier"), "{field}");
        }
        let ok = |indexes: Value| {
            ClientConfig::from_json(json!({"name": "a", "collections": {"t": {"key": "id", "indexes": indexes}}}))
        };
        assert!(ok(json!(["_private", "$ref", "día", "n2"])).is_ok());
        // A multi-entry field in no other index: a plain or compound one would answer a
        // condition on it by the whole array.
        let multi = json!({"field": "tags", "multiEntry": true});
        assert!(bad(json!(["tags", multi.clone()])).contains("multi-entry index"));
        assert!(bad(json!([["tags", "day"], multi.clone()])).contains("multi-entry index"));
        assert!(ok(json!([["trip", "day"], multi])).is_ok());
    }

    #[test]
    fn default_strategy_is_merge() {
        let c = ClientConfig::from_json(json!({"name": "a", "collections": {"t": {"key": "id"}}})).unwrap();
        assert_eq!(c.collections[0].conflict.strategy, Strategy::Merge);
        assert_eq!(c.endpoint, None);
    }

    #[test]
    fn each_shape_of_an_index_event_and_collections_is_read_and_anything_else_refused() {
        let c = ClientConfig::from_json(json!({"name": "a", "collections": [{"name": "t", "key": "id",
            "event": {"name": "t-changed", "valueField": "t"}, "conflict": {"strategy": "manual"},
            "indexes": ["a", ["a", "b"], {"field": "tags", "multiEntry": true}]}]}))
        .unwrap();
        let t = &c.collections[0];
        let names: Vec<&str> = t.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "[a+b]", "*tags"]);
        assert_eq!(t.event, Some(EventConfig { name: "t-changed".into(), value_field: Some("t".into()) }));
        assert_eq!(t.conflict.strategy, Strategy::Manual);
        let named =
            ClientConfig::from_json(json!({"name": "a", "collections": {"t": {"key": "id", "event": "t-changed"}}}));
        assert_eq!(named.unwrap().collections[0].event.as_ref().map(|e| e.value_field.is_none()), Some(true));
        for (spec, expected) in [
            (json!({"key": "id", "indexes": [5]}), "an index must be a field name"),
            (json!({"key": "id", "indexes": [{"field": "a", "unique": true}]}), "an index must be a field name"),
            (json!({"key": "id", "event": 5}), "`event` must be an event name"),
            (json!({"key": "id", "event": {"name": "e", "other": 1}}), "`event` must be an event name"),
        ] {
            let msg = err(json!({"name": "a", "collections": {"trips": spec}}));
            assert!(msg.contains("\"trips\"") && msg.contains(expected), "{msg}");
        }
        for collections in [json!(null), json!("trips"), json!(3)] {
            let msg = err(json!({"name": "a", "collections": collections}));
            assert!(msg.contains("`collections` must be an object"), "{msg}");
        }
        assert!(err(json!({"name": "a"})).contains("missing field `collections`"));
    }
}
