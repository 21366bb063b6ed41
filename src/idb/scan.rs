//! Read primitives inside a transaction: `getAll` in batches that skip what they cannot
//! use, decoding raw objects (all at once, or one by one to name the unreadable ones),
//! and the key probe that spares a large batch its reads.

use idb::{KeyRange, ObjectStore, Query};
use wasm_bindgen::JsValue;

use pwa_sync_core::error::Result;
use pwa_sync_core::model::KeyRef;
use pwa_sync_core::record::key_order;

use super::error::in_tx;
use super::names::to_u32;
use crate::convert::prop;

/// Records of `store` in key order, keeping those `keep` accepts, at most `limit`. Reads
/// in batches of what is still missing, resuming after the last key seen, so skipped
/// records (tombstones, unreadable ones) do not eat into the limit.
#[allow(clippy::too_many_arguments)]
pub(super) async fn scan<T>(
    tx: &idb::Transaction,
    store: &ObjectStore,
    key_field: &str,
    limit: Option<usize>,
    keep: &dyn Fn(&T) -> bool,
    label: &dyn Fn(&JsValue) -> String,
    skipped: &mut Vec<String>,
    decode: &Decoder<'_, T>,
) -> Result<Vec<T>> {
    let mut out: Vec<T> = Vec::new();
    let mut after: Option<JsValue> = None;
    loop {
        let want = limit.map(|l| l.saturating_sub(out.len()));
        let range = match &after {
            Some(key) => Some(Query::KeyRange(KeyRange::lower_bound(key, Some(true)).map_err(in_tx(tx))?)),
            None => None,
        };
        let raw = store.get_all(range, want.map(to_u32)).map_err(in_tx(tx))?.await.map_err(in_tx(tx))?;
        let fetched = raw.len();
        if let Some(last) = raw.last() {
            after = Some(prop(last, key_field));
        }
        let records = decode_all(raw, &|js| label(&prop(js, key_field)), keep, skipped, decode);
        out.extend(records);
        match (want, limit) {
            (Some(want), Some(limit)) if fetched >= want && want > 0 && out.len() < limit => continue,
            _ => break,
        }
    }
    if let Some(limit) = limit {
        out.truncate(limit);
    }
    Ok(out)
}

/// How a raw stored object becomes `T` (the reason if it cannot).
pub(super) type Decoder<'a, T> = dyn Fn(&JsValue) -> std::result::Result<T, String> + 'a;

/// Decode raw records, dropping those `keep` refuses and reporting unreadable ones.
pub(super) fn decode_all<T>(
    raw: Vec<JsValue>,
    label: &dyn Fn(&JsValue) -> String,
    keep: &dyn Fn(&T) -> bool,
    skipped: &mut Vec<String>,
    decode: &Decoder<'_, T>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(raw.len());
    for js in &raw {
        match decode(js) {
            Ok(record) if keep(&record) => out.push(record),
            Ok(_) => {}
            Err(reason) => skipped.push(format!("{}: {reason}", label(js))),
        }
    }
    out
}

/// Batches at least this large first ask which of their keys exist.
const PROBE_AT: usize = 16;

/// Keys of `keys` known not to be stored, learned with one `getAllKeys` over each
/// collection's key range when a batch is large: a page of new records (`putMany`, a
/// first pull) then reads nothing more. A range crowded with other keys (more than four
/// per batch key) is not probed further, and its keys are read one by one as usual.
///
/// Sorted lists stand in for sets here (each set type is a whole hash table in the
/// module): `Absent::contains` is a binary search.
pub(super) async fn absent_keys<'k>(tx: &idb::Transaction, keys: &'k [KeyRef]) -> Result<Absent<'k>> {
    let err = in_tx(tx);
    let mut absent = Vec::new();
    // A list, not a map: a batch spans a few collections, and a map type is a whole
    // B-tree compiled into the module.
    let mut by_collection: Vec<(&str, Vec<&'k KeyRef>)> = Vec::new();
    for key in keys {
        match by_collection.iter_mut().find(|(c, _)| *c == key.0) {
            Some((_, batch)) => batch.push(key),
            None => by_collection.push((key.0.as_str(), vec![key])),
        }
    }
    for (collection, batch) in by_collection {
        if batch.len() < PROBE_AT {
            continue;
        }
        // The range in IndexedDB's key order: one from Rust's byte-order min to max could
        // miss keys of the batch and call stored records absent.
        let idb_order = |a: &&&KeyRef, b: &&&KeyRef| key_order(&a.1, &b.1);
        let (Some(low), Some(high)) = (batch.iter().min_by(idb_order), batch.iter().max_by(idb_order)) else {
            continue;
        };
        let (low, high) = (&low.1, &high.1);
        let limit = to_u32(batch.len().saturating_mul(4));
        let range = KeyRange::bound(&JsValue::from_str(low), &JsValue::from_str(high), None, None).map_err(err)?;
        let store = tx.object_store(collection).map_err(err)?;
        let stored = store.get_all_keys(Some(Query::KeyRange(range)), Some(limit)).map_err(err)?.await.map_err(err)?;
        if stored.len() >= limit as usize {
            continue;
        }
        let mut stored: Vec<String> = stored.iter().filter_map(JsValue::as_string).collect();
        pwa_sync_core::sort::sort(&mut stored);
        absent.extend(batch.into_iter().filter(|k| stored.binary_search(&k.1).is_err()));
    }
    pwa_sync_core::sort::sort(&mut absent);
    Ok(Absent(absent))
}

/// The keys `absent_keys` found not stored, sorted.
pub(super) struct Absent<'k>(Vec<&'k KeyRef>);

impl Absent<'_> {
    pub fn contains(&self, key: &KeyRef) -> bool {
        self.0.binary_search(&key).is_ok()
    }
}
