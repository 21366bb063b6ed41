//! Read primitives inside a transaction: `getAll` in batches that skip what they cannot
//! use, decoding raw objects (all at once, or one by one to name the unreadable ones),
//! and the key probe that spares a large batch its reads.

use std::future::IntoFuture;

use idb::{KeyRange, ObjectStore, Query};
use js_sys::Array;
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

/// What the probe of a large batch learned, for `transact_in`'s reads: keys known not to
/// be stored, and stored objects already read.
///
/// One `getAllKeys` over each collection's key range tells which keys of the batch are
/// stored: a page of new records (`putMany`, a first pull) then reads nothing more. When
/// the stored keys of the batch are most of that range (a push answer or a pull of
/// records the client holds, keys written together), one `getAll` over the same range
/// reads them all, in place of a `get` per key. A range crowded with other keys (more
/// than four per batch key) is not probed further, and its keys are read one by one.
///
/// Sorted lists stand in for sets here (each set type is a whole hash table in the
/// module): lookups are binary searches.
pub(super) async fn probe_keys<'k>(tx: &idb::Transaction, keys: &'k [KeyRef]) -> Result<Probed<'k>> {
    let err = in_tx(tx);
    let mut probed = Probed { absent: Vec::new(), read: Vec::new() };
    for (collection, batch) in large_batches(keys) {
        let limit = to_u32(batch.len().saturating_mul(4));
        let range = || key_range(&batch, &|key: &KeyRef| JsValue::from_str(&key.1)).map_err(err);
        let store = tx.object_store(collection).map_err(err)?;
        let stored = store.get_all_keys(Some(range()?), Some(limit)).map_err(err)?.await.map_err(err)?;
        if stored.len() >= limit as usize {
            continue;
        }
        let stored: Vec<String> = stored.iter().filter_map(JsValue::as_string).collect();
        // Where each stored key sits in the batch (sorted as IndexedDB sorts); `None` for
        // a key of the range that is not the batch's.
        let places: Vec<Option<usize>> =
            stored.iter().map(|key| batch.binary_search_by(|k| key_order(&k.1, key)).ok()).collect();
        let mut is_stored = vec![false; batch.len()];
        for &at in places.iter().flatten() {
            is_stored[at] = true;
        }
        probed.absent.extend(batch.iter().zip(&is_stored).filter(|(_, s)| !**s).map(|(k, _)| *k));
        let present = is_stored.iter().filter(|s| **s).count();
        if present < PROBE_AT || stored.len() > present + present / 2 {
            continue;
        }
        // The same range in the same transaction: the objects come in the order of
        // `stored`'s keys.
        let values = store.get_all(Some(range()?), Some(to_u32(stored.len()))).map_err(err)?.await.map_err(err)?;
        if values.len() != stored.len() {
            continue;
        }
        for (place, value) in places.iter().zip(values) {
            if let Some(at) = place {
                probed.read.push((batch[*at], value));
            }
        }
    }
    pwa_sync_core::sort::sort(&mut probed.absent);
    pwa_sync_core::sort::sort_by(&mut probed.read, |a, b| a.0.cmp(b.0));
    Ok(probed)
}

/// The keys of `keys` in collections that have at least `PROBE_AT` of them, by
/// collection, each list in IndexedDB's key order (so its first and last key bound a
/// range that holds them all; Rust's byte order could leave some out). A list, not a
/// map: a batch spans a few collections, and a map type is a whole B-tree in the module.
fn large_batches(keys: &[KeyRef]) -> Vec<(&str, Vec<&KeyRef>)> {
    let mut by_collection: Vec<(&str, Vec<&KeyRef>)> = Vec::new();
    for key in keys {
        match by_collection.iter_mut().find(|(c, _)| *c == key.0) {
            Some((_, batch)) => batch.push(key),
            None => by_collection.push((key.0.as_str(), vec![key])),
        }
    }
    by_collection.retain(|(_, batch)| batch.len() >= PROBE_AT);
    for (_, batch) in &mut by_collection {
        pwa_sync_core::sort::sort_by(batch, |a, b| key_order(&a.1, &b.1));
    }
    by_collection
}

/// The range from the first to the last of `batch` (sorted), as `as_key` makes them.
fn key_range(batch: &[&KeyRef], as_key: &dyn Fn(&KeyRef) -> JsValue) -> std::result::Result<Query, idb::Error> {
    let (low, high) = match (batch.first(), batch.last()) {
        (Some(low), Some(high)) => (as_key(low), as_key(high)),
        _ => (JsValue::NULL, JsValue::NULL),
    };
    KeyRange::bound(&low, &high, None, None).map(Query::KeyRange)
}

/// What `probe_keys` learned of a batch.
pub(super) struct Probed<'k> {
    /// Keys of the batch not stored, sorted.
    absent: Vec<&'k KeyRef>,
    /// Stored objects of the batch read whole, with their keys, sorted by key.
    pub read: Vec<(&'k KeyRef, JsValue)>,
}

impl Probed<'_> {
    /// Whether `key` still has to be read: neither known absent nor read already.
    pub fn unread(&self, key: &KeyRef) -> bool {
        self.absent.binary_search(&key).is_err() && self.read.binary_search_by(|(k, _)| (*k).cmp(key)).is_err()
    }
}

/// The raw outbox entries queued for each of `keys`, through the outbox's `byKey` index.
/// Where a collection has many of the keys, one `getAll` over their range of the index
/// reads them all, unless the range holds more than four entries per key (then, and for
/// the rest, one `getAll` per key; every request goes out before the first is awaited).
/// Entries of other keys in a range are left unread: a broken one is not ours to report.
pub(super) async fn queued_entries(
    tx: &idb::Transaction,
    by_key: &idb::Index,
    keys: &[KeyRef],
) -> Result<Vec<(KeyRef, Vec<JsValue>)>> {
    let err = in_tx(tx);
    let pair = |key: &KeyRef| -> JsValue { Array::of2(&JsValue::from_str(&key.0), &JsValue::from_str(&key.1)).into() };
    let mut ranges = Vec::new();
    let large = large_batches(keys);
    for (_, batch) in &large {
        let limit = to_u32(batch.len().saturating_mul(4));
        let request = by_key.get_all(Some(key_range(batch, &pair).map_err(err)?), Some(limit)).map_err(err)?;
        ranges.push((batch, limit, request.into_future()));
    }
    let mut requests = Vec::with_capacity(keys.len());
    let mut one_by_one = |key: &KeyRef| -> Result<()> {
        let only = KeyRange::only(&pair(key)).map_err(err)?;
        requests.push((key.clone(), by_key.get_all(Some(Query::KeyRange(only)), None).map_err(err)?.into_future()));
        Ok(())
    };
    for key in keys.iter().filter(|k| !large.iter().any(|(collection, _)| *collection == k.0)) {
        one_by_one(key)?;
    }
    let mut out = Vec::with_capacity(keys.len());
    for (batch, limit, request) in ranges {
        let raw = request.await.map_err(err)?;
        if raw.len() >= limit as usize {
            // Crowded: this collection's keys one by one after all.
            batch.iter().try_for_each(|k| one_by_one(k))?;
            continue;
        }
        let mut grouped: Vec<(KeyRef, Vec<JsValue>)> = batch.iter().map(|k| (KeyRef::clone(k), Vec::new())).collect();
        for js in raw {
            let Some(key) = prop(&js, "key").as_string() else { continue };
            if let Ok(at) = grouped.binary_search_by(|(k, _)| key_order(&k.1, &key)) {
                grouped[at].1.push(js);
            }
        }
        out.extend(grouped);
    }
    for (key, request) in requests {
        out.push((key, request.await.map_err(err)?));
    }
    Ok(out)
}

/// Delete the outbox entries `ids` (each at most once). A push answer deletes the batch it
/// took, which is every entry between its first and last id: when the outbox holds
/// exactly `ids.len()` entries in that span, one `delete` of the range does it (the
/// count comes first, in the same transaction); otherwise, one `delete` per id.
pub(super) async fn delete_entries(tx: &idb::Transaction, outbox: &ObjectStore, ids: &[u64]) -> Result<()> {
    let err = in_tx(tx);
    let id = |id: &u64| JsValue::from_f64(*id as f64);
    if let (true, Some(low), Some(high)) = (ids.len() >= PROBE_AT, ids.iter().min(), ids.iter().max()) {
        let span = || KeyRange::bound(&id(low), &id(high), None, None).map(Query::KeyRange).map_err(err);
        let held = outbox.count(Some(span()?)).map_err(err)?.await.map_err(err)?;
        if held as usize == ids.len() {
            drop(outbox.delete(span()?).map_err(err)?);
            return Ok(());
        }
    }
    for each in ids {
        drop(outbox.delete(id(each)).map_err(err)?);
    }
    Ok(())
}
