//! Records to and from the JS objects IndexedDB stores: metadata checked in Rust, values
//! as plain JS objects (so index key paths see them), sealed first with encryption at
//! rest, and many at once through one JSON text.

use js_sys::{Array, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::JsValue;

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::model::Writes;
use pwa_sync_core::record::{AppValues, EntityRecord, OutboxEntry, RECORD_METADATA_FIELDS};

use super::error::describe;
use crate::convert::{decode_json, encode_json, encode_many, field_json, prop};
use crate::crypto::Sealer;

/// A stored record as `get` and `list` hand it to the app: its metadata, checked, and
/// the `value` object as IndexedDB returned it (a fresh structured clone, so the app may
/// keep or change it), with no trip through Rust.
pub struct RecordView {
    pub record: EntityRecord,
    /// `undefined` for a tombstone.
    pub value: JsValue,
}

impl RecordView {
    /// `record` (its metadata, checked) with the value of the stored object `js`.
    fn new(record: EntityRecord, js: &JsValue) -> RecordView {
        let value = prop(js, "value");
        RecordView { record, value: if value.is_null() { JsValue::UNDEFINED } else { value } }
    }
}

/// What `list_in` needs of what it lists.
pub(super) trait Listed {
    /// Not a tombstone.
    fn is_live(&self) -> bool;
    /// A top-level field of the value, for a scan by an undeclared field.
    fn field(&self, name: &str) -> Option<Value>;
}

impl Listed for EntityRecord {
    fn is_live(&self) -> bool {
        self.value.is_some()
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.value.as_ref().and_then(|v| v.get(name)).cloned()
    }
}

impl Listed for RecordView {
    fn is_live(&self) -> bool {
        !self.value.is_undefined()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let field = Reflect::get(&self.value, &JsValue::from_str(name)).ok().filter(|f| !f.is_undefined())?;
        field_json(&field)
    }
}

thread_local! {
    static METADATA_FIELDS: Array = RECORD_METADATA_FIELDS.iter().map(|f| JsValue::from_str(f)).collect();
}

/// Check a stored record's metadata as [`decode`] would, but leave its value in JS.
pub(super) fn decode_view(js: JsValue) -> std::result::Result<RecordView, String> {
    let metadata =
        METADATA_FIELDS.with(|fields| js_sys::JSON::stringify_with_replacer(&js, fields)).map_err(|e| describe(&e))?;
    let record: EntityRecord = serde_json::from_str(&String::from(metadata)).map_err(|e| e.to_string())?;
    Ok(RecordView::new(record, &js))
}

/// [`decode_view`] for many records at once: their metadata in one JSON text.
pub(super) fn decode_views(raw: &[JsValue]) -> Option<Vec<RecordView>> {
    let all: Array = raw.iter().collect();
    let metadata = METADATA_FIELDS.with(|fields| js_sys::JSON::stringify_with_replacer(&all, fields)).ok()?;
    let records: Vec<EntityRecord> = serde_json::from_str(&String::from(metadata)).ok()?;
    if records.len() != raw.len() {
        return None;
    }
    Some(records.into_iter().zip(raw).map(|(record, js)| RecordView::new(record, js)).collect())
}

// ---- values ----

/// JSON objects become plain JS objects (so index key paths like `value.tripId` see
/// them), `None` becomes `null`, integers become numbers.
/// With a sealer, app values are encrypted first (see `web::crypto`).
fn encode<T: Serialize + Clone + AppValues>(
    value: &T,
    sealer: Option<&Sealer>,
) -> std::result::Result<JsValue, String> {
    match sealer {
        None => encode_json(value),
        Some(sealer) => encode_json(&sealer.seal(value).map_err(|e| e.to_string())?),
    }
}

/// The records (`None` for a deletion) and outbox entries of `writes` as JS objects, in
/// the order of `writes.records` and `writes.outbox_put`, from one JSON text.
///
/// A record whose base equals its value (every record as the server last sent it) is
/// encoded once, with `base` then referring to the same JS object: IndexedDB's
/// structured clone stores a shared object once and reads it back as two equal fields,
/// so the stored shape is unchanged while the text and the bytes cloned are halved.
/// Such a record's `base` is consumed.
pub(super) fn encode_batch(
    writes: &mut Writes,
    sealer: Option<&Sealer>,
) -> Result<(Vec<Option<JsValue>>, Vec<JsValue>)> {
    let mut shared_base = Vec::with_capacity(writes.records.len());
    for record in writes.records.values_mut().flatten() {
        let shared = record.base.is_some() && record.base == record.value;
        if shared {
            record.base = None;
        }
        shared_base.push(shared);
    }
    let records: Vec<&EntityRecord> = writes.records.values().flatten().collect();
    let entries: Vec<&OutboxEntry> = writes.outbox_put.values().collect();
    let (encoded_records, encoded_entries) = match sealer {
        None => (encode_many(&records), encode_many(&entries)),
        Some(sealer) => {
            let sealed_records = records.iter().map(|r| sealer.seal(*r)).collect::<Result<Vec<_>>>()?;
            let sealed_entries = entries.iter().map(|e| sealer.seal(*e)).collect::<Result<Vec<_>>>()?;
            (encode_many(&sealed_records), encode_many(&sealed_entries))
        }
    };
    let failed = |e: String| Error::Storage(format!("cannot encode records for IndexedDB: {e}"));
    let (encoded_records, encoded_entries) = (encoded_records.map_err(failed)?, encoded_entries.map_err(failed)?);
    let mut next = encoded_records.into_iter().zip(shared_base).map(|(js, shared)| {
        if shared {
            // A fresh object with two own data properties: setting one cannot fail.
            let _ = Reflect::set(&js, &JsValue::from_str("base"), &prop(&js, "value"));
        }
        js
    });
    let mut records_js = Vec::with_capacity(writes.records.len());
    for record in writes.records.values() {
        records_js.push(match record {
            Some(_) => Some(next.next().ok_or_else(|| Error::Storage("a record was lost in encoding".into()))?),
            None => None,
        });
    }
    if encoded_entries.len() != writes.outbox_put.len() {
        return Err(Error::Storage("an outbox entry was lost in encoding".into()));
    }
    Ok((records_js, encoded_entries))
}

pub(super) fn encode_internal<T: Serialize + Clone + AppValues>(
    value: &T,
    what: &str,
    sealer: Option<&Sealer>,
) -> Result<JsValue> {
    encode(value, sealer).map_err(|e| Error::Storage(format!("cannot encode {what}: {e}")))
}

pub(super) fn decode<T: DeserializeOwned + AppValues>(
    js: JsValue,
    sealer: Option<&Sealer>,
) -> std::result::Result<T, String> {
    let mut value: T = decode_json(&js)?;
    if let Some(sealer) = sealer {
        sealer.open(&mut value)?;
    }
    Ok(value)
}

pub(super) fn key_text(key: &JsValue) -> String {
    // Numbers as JS writes them (no float formatting compiled into the module).
    match key.as_string() {
        Some(s) => s,
        None => js_sys::JSON::stringify(key).ok().and_then(|s| s.as_string()).unwrap_or_else(|| format!("{key:?}")),
    }
}
