//! Stored objects to and from Rust. Records and outbox entries keep their app values in
//! JS ([`JsVal`]): their metadata is read field by field once the store's script has
//! checked it (`recordProblem`, `entryProblem`: the checks serde made of its JSON text)
//! and written as JSON texts that the store's script parses and puts
//! together with their `value`/`base` ([`Batch`]); the values are read off the stored
//! objects and passed as they are, sealed first with encryption at rest. Everything else
//! (metadata, conflicts, audit entries, and the migrations' records) is written whole
//! (`pwa_sync_core::json`) and read by `stored`'s readers (the migrations' records as records, their
//! values then read into JSON).

use std::borrow::Cow;

use js_sys::{Array, Reflect};
use wasm_bindgen::JsValue;

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::json::ToJson;
use pwa_sync_core::model::Writes;
use pwa_sync_core::protocol::Op;
use pwa_sync_core::record::{AppValues, EntityRecord, Meta, OutboxEntry};
use pwa_sync_core::value::AppValue;

use super::script;
use crate::convert::{encode_json, json_of, json_texts};
use crate::crypto::Sealer;
use crate::error::describe;
use crate::reader::{number, text, whole, Read};
use crate::sys;
use crate::value::{JsVal, KeyedValue};

/// What `list_in` needs of what it lists.
pub(super) trait Listed {
    /// Not a tombstone.
    fn is_live(&self) -> bool;
    /// A top-level field of the value, for a scan by an undeclared field.
    fn field(&self, name: &str) -> Option<serde_json::Value>;
}

impl Listed for KeyedValue {
    fn is_live(&self) -> bool {
        !self.value.0.is_null() && !self.value.0.is_undefined()
    }
    fn field(&self, name: &str) -> Option<serde_json::Value> {
        self.value.field(name)
    }
}

impl<V: AppValue> Listed for EntityRecord<V> {
    fn is_live(&self) -> bool {
        self.value.is_some()
    }
    fn field(&self, name: &str) -> Option<serde_json::Value> {
        self.value.as_ref().and_then(|v| v.field(name))
    }
}

/// A stored app value (`null`/absent: none), opened if it was sealed.
fn stored_value(js: JsValue, sealer: Option<&Sealer>) -> std::result::Result<Option<JsVal>, String> {
    if js.is_null() || js.is_undefined() {
        return Ok(None);
    }
    match sealer {
        Some(sealer) => sealer.open_value(js).map(Some),
        None => Ok(Some(JsVal(js))),
    }
}

/// A property of a stored object (`null` when it cannot be read).
fn stored_prop(js: &JsValue, name: &JsValue) -> JsValue {
    Reflect::get(js, name).unwrap_or(JsValue::NULL)
}

/// A record's checked metadata around the values of the stored object `js`.
fn with_stored_values(
    record: EntityRecord<()>,
    js: &JsValue,
    sealer: Option<&Sealer>,
) -> std::result::Result<EntityRecord<JsVal>, String> {
    let names = sys::field_names();
    let (value, base) = (stored_prop(js, &names.value), stored_prop(js, &names.base));
    Ok(record.with_values(stored_value(value, sealer)?, stored_value(base, sealer)?))
}

/// A stored record: its metadata checked, its values as IndexedDB returned them (a fresh
/// structured clone each read, so the app may keep or change them).
pub(super) fn decode_record(js: &JsValue, sealer: Option<&Sealer>) -> std::result::Result<EntityRecord<JsVal>, String> {
    with_stored_values(record_metadata(js)?, js, sealer)
}

/// A stored record as a query answers it: its key and value (opened if sealed), its
/// metadata checked; the reason if it is unreadable.
pub(super) fn decode_hit(js: &JsValue, sealer: Option<&Sealer>) -> std::result::Result<KeyedValue, String> {
    let record = decode_record(js, sealer)?;
    Ok(KeyedValue { key: record.key, value: record.value.unwrap_or(JsVal(JsValue::NULL)) })
}

/// A stored record's metadata, read field by field once the store's script has checked it
/// (`recordProblem`): a record is readable here exactly when serde reads
/// `EntityRecord<()>` from the object's JSON (browser test
/// `record_metadata_is_read_as_serde_reads_its_json`), without making, passing and parsing
/// that text for every record a list or query reads.
fn record_metadata(js: &JsValue) -> std::result::Result<EntityRecord<()>, String> {
    if let Some(problem) = script::record_problem(js) {
        return Err(problem);
    }
    let [key, version, hlc, pending, updated_at, conflict, revived] = &sys::field_names().record;
    let get = |name: &JsValue| Reflect::get(js, name).unwrap_or(JsValue::UNDEFINED);
    Ok(EntityRecord {
        key: text(get(key)),
        value: None,
        version: optional_whole(get(version)),
        base: None,
        hlc: text(get(hlc)),
        pending: whole(get(pending)) as u32,
        updated_at: number(get(updated_at)),
        conflict: optional_whole(get(conflict)),
        revived: get(revived).is_truthy(),
    })
}

/// Absent, `null`, NaN or an infinity (what serde reads as `None` from the JSON text):
/// none; else the whole number the check let through.
fn optional_whole(js: JsValue) -> Option<u64> {
    let none = js.is_undefined() || js.is_null() || js.as_f64().is_some_and(|n| !n.is_finite());
    (!none).then(|| whole(js))
}

/// A stored outbox entry, its value left in JS (`null` for a delete).
pub(super) fn decode_entry(js: &JsValue, sealer: Option<&Sealer>) -> std::result::Result<OutboxEntry<JsVal>, String> {
    let value = stored_prop(js, &sys::field_names().value);
    Ok(entry_metadata(js)?.with_value(stored_value(value, sealer)?.unwrap_or(JsVal(JsValue::NULL))))
}

/// A stored outbox entry's metadata, read field by field once the store's script has
/// checked it (`entryProblem`): readable here exactly when serde reads
/// `OutboxEntry<Option<()>>` from the JSON text of the object's metadata fields (browser
/// test `entry_metadata_is_read_as_serde_reads_its_json`), as it did before, without that
/// text.
fn entry_metadata(js: &JsValue) -> std::result::Result<OutboxEntry<()>, String> {
    if let Some(problem) = script::entry_problem(js) {
        return Err(problem);
    }
    let [id, collection, key, op, base_version, hlc, sent, created_at, space, attempts] = &sys::field_names().entry;
    let get = |name: &JsValue| Reflect::get(js, name).unwrap_or(JsValue::UNDEFINED);
    Ok(OutboxEntry {
        id: whole(get(id)),
        collection: text(get(collection)),
        key: text(get(key)),
        op: match text(get(op)).as_str() {
            "patch" => Op::Patch,
            "delete" => Op::Delete,
            _ => Op::Put,
        },
        value: (),
        base_version: optional_whole(get(base_version)),
        hlc: text(get(hlc)),
        sent: get(sent).is_truthy(),
        created_at: number(get(created_at)),
        // `null` (or absent): none.
        space: get(space).as_string(),
        attempts: whole(get(attempts)) as u32,
    })
}

/// An app value as stored: the object itself (no new handle to it), or its sealed text.
fn to_store<'v>(value: &'v JsVal, sealer: Option<&Sealer>) -> Result<Cow<'v, JsValue>> {
    match sealer {
        Some(sealer) if !value.0.is_null() => sealer.seal_value(value).map(Cow::Owned),
        _ => Ok(Cow::Borrowed(&value.0)),
    }
}

/// A plan's records and outbox entries as `script::write` takes them.
pub(super) struct Batch {
    /// `[runs, deletes, texts, values]`: `runs` flat `[store, count]` of the stored records
    /// in order; their metadata in the JSON texts `texts`; their `value` and `base` in
    /// `values`, two a record (`undefined`: none); `deletes` flat `[store, key]`.
    pub records: Array,
    /// `[texts, values]`: the entries' metadata in the JSON texts, a value each.
    pub entries: Array,
}

/// The records (deletions apart) and outbox entries of `writes`: their metadata as JSON
/// texts, their values as they are (sealed first with encryption at rest), for the
/// script to put together. Nothing crosses per field, and no object comes back.
///
/// A record whose base is its value (as the server last sent it) passes that one object
/// twice: IndexedDB's structured clone stores a shared object once and reads it back as
/// two equal fields, so the bytes cloned are halved.
pub(super) fn encode_batch(writes: &Writes<JsVal>, sealer: Option<&Sealer>) -> Result<Batch> {
    let (runs, deletes, values) = (Array::new(), Array::new(), Array::new());
    let undefined = JsValue::UNDEFINED;
    let mut metas: Vec<EntityRecord<()>> = Vec::with_capacity(writes.records.len());
    let mut run: Option<(&str, u32)> = None;
    let end_run = |run: Option<(&str, u32)>| {
        if let Some((collection, count)) = run {
            runs.push(&sys::name(collection));
            runs.push(&JsValue::from(count));
        }
    };
    for ((collection, key), record) in writes.records.iter() {
        let Some(record) = record else {
            deletes.push(&sys::name(collection));
            deletes.push(&JsValue::from_str(key));
            continue;
        };
        match &mut run {
            Some((open, count)) if *open == collection.as_str() => *count += 1,
            _ => end_run(run.replace((collection, 1))),
        }
        let value = record.value.as_ref().map(|v| to_store(v, sealer)).transpose()?;
        let value = value.as_deref().unwrap_or(&undefined);
        values.push(value);
        let shared = matches!((&record.value, &record.base), (Some(v), Some(b)) if v.0 == b.0);
        match (&record.base, shared) {
            (Some(_), true) => values.push(value),
            (Some(base), false) => values.push(&*to_store(base, sealer)?),
            (None, _) => values.push(&undefined),
        };
        metas.push(record.metadata());
    }
    end_run(run);
    let entry_values = Array::new();
    for entry in writes.outbox_put.values() {
        entry_values.push(to_store(&entry.value, sealer)?.as_ref());
    }
    let entry_metas: Vec<OutboxEntry<()>> = writes.outbox_put.values().map(OutboxEntry::metadata).collect();
    let records = [runs.into(), deletes.into(), json_texts(&metas).into(), values.into()];
    let entries = [json_texts(&entry_metas).into(), entry_values.into()];
    Ok(Batch { records: crate::sys::array(&records), entries: crate::sys::array(&entries) })
}

/// Metadata, conflicts and audit entries, and the migrations' records (whole, through
/// `pwa_sync_core::json`), with their app values sealed first when encryption is on.
pub(super) fn encode_internal<T: ToJson + Clone + AppValues>(
    value: &T,
    what: &str,
    sealer: Option<&Sealer>,
) -> Result<JsValue> {
    let sealed;
    let value = match sealer {
        None => value,
        Some(sealer) => {
            sealed = sealer.seal(value).map_err(|e| cannot_encode(what, e.to_string()))?;
            &sealed
        }
    };
    encode_json(value).map_err(|e| cannot_encode(what, e))
}

/// Fresh client metadata of `client_id`, and as the store's script stores it.
pub(super) fn fresh_meta(client_id: &str) -> Result<(Meta, JsValue)> {
    let meta = Meta::new(client_id.to_owned());
    let stored = encode_internal(&meta, "client metadata", None)?;
    Ok((meta, stored))
}

/// Out of `encode_internal`'s generic body: compiled once, not per stored type.
#[inline(never)]
fn cannot_encode(what: &str, reason: String) -> Error {
    Error::Storage(format!("cannot encode {what}: {reason}"))
}

/// A stored object read by `read` (`stored`'s readers), its sealed app values opened.
pub(super) fn decode<T: AppValues>(
    js: &JsValue,
    sealer: Option<&Sealer>,
    read: fn(&JsValue) -> Read<T>,
) -> std::result::Result<T, String> {
    let mut value = read(js)?;
    if let Some(sealer) = sealer {
        sealer.open(&mut value)?;
    }
    Ok(value)
}

/// A stored record with its values as JSON, as the migrations take it.
pub(super) fn decode_record_json(js: &JsValue, sealer: Option<&Sealer>) -> std::result::Result<EntityRecord, String> {
    let record = decode_record(js, sealer)?;
    let value = record.value.as_ref().map(|v| json_of(&v.0)).transpose()?;
    let base = record.base.as_ref().map(|v| json_of(&v.0)).transpose()?;
    Ok(record.with_values(value, base))
}

/// A stored outbox entry with its value as JSON, as the migrations take it.
pub(super) fn decode_entry_json(js: &JsValue, sealer: Option<&Sealer>) -> std::result::Result<OutboxEntry, String> {
    let entry = decode_entry(js, sealer)?;
    let value = json_of(&entry.value.0)?;
    Ok(entry.with_value(value))
}

pub(super) fn key_text(key: &JsValue) -> String {
    // Numbers as JS writes them (no float formatting compiled into the module).
    match key.as_string() {
        Some(s) => s,
        None => js_sys::JSON::stringify(key).ok().and_then(|s| s.as_string()).unwrap_or_else(|| describe(key)),
    }
}
