//! Reads: one record, a list (by key order or by an index), `getAll` in batches that
//! skip what they cannot use, and the key probe that spares a large batch its reads.

use std::collections::{BTreeMap, HashSet};

use idb::{KeyRange, ObjectStore, Query, TransactionMode};
use wasm_bindgen::JsValue;

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::model::KeyRef;
use pwa_sync_core::record::{index_key_eq, is_index_key, key_order, ListQuery};
use pwa_sync_core::store::Durability;

use super::codec::{key_text, Listed};
use super::error::in_tx;
use super::names::to_u32;
use super::transaction::finish;
use super::IdbStore;
use crate::convert::prop;

impl IdbStore {
    pub(super) async fn get_with<T>(&self, collection: &str, key: &str, decode: &Decoder<'_, T>) -> Result<Option<T>> {
        self.check(collection)?;
        let tx = self.transaction(&[collection], TransactionMode::ReadOnly, Durability::Default).await?;
        let result = async {
            let store = tx.object_store(collection).map_err(in_tx(&tx))?;
            match store.get(JsValue::from_str(key)).map_err(in_tx(&tx))?.await.map_err(in_tx(&tx))? {
                None => Ok(None),
                Some(js) => (decode.one)(js)
                    .map(Some)
                    .map_err(|reason| Error::Storage(format!("unreadable record {collection}/{key}: {reason}"))),
            }
        }
        .await;
        finish(tx, result, false).await
    }

    pub(super) async fn list_with<T: Listed>(
        &self,
        collection: &str,
        query: &ListQuery,
        decode: &Decoder<'_, T>,
    ) -> Result<Vec<T>> {
        self.check(collection)?;
        if query.limit == Some(0) {
            // IndexedDB reads a count of 0 as "no limit".
            return Ok(Vec::new());
        }
        let tx = self.transaction(&[collection], TransactionMode::ReadOnly, Durability::Default).await?;
        let mut skipped = Vec::new();
        let result = self.list_in(&tx, collection, query, &mut skipped, decode).await;
        self.report_skipped(skipped);
        finish(tx, result, false).await
    }

    pub(super) async fn list_in<T: Listed>(
        &self,
        tx: &idb::Transaction,
        collection: &str,
        query: &ListQuery,
        skipped: &mut Vec<String>,
        decode: &Decoder<'_, T>,
    ) -> Result<Vec<T>> {
        let store = tx.object_store(collection).map_err(in_tx(tx))?;
        let label = |key: &JsValue| format!("{collection}/{}", key_text(key));
        let Some((field, wanted)) = &query.index else {
            return scan(tx, &store, "key", query.limit, &|r: &T| r.is_live(), &label, skipped, decode).await;
        };
        if !is_index_key(wanted) {
            // Not an IndexedDB key, so nothing is indexed under it.
            return Ok(Vec::new());
        }
        let declared = self.check(collection)?.indexes.iter().any(|i| i == field);
        if !declared {
            // The API layer refuses undeclared fields; the store still answers like the
            // in-memory one, by a scan.
            let matches = |r: &T| r.field(field).is_some_and(|v| index_key_eq(&v, wanted));
            return scan(tx, &store, "key", query.limit, &matches, &label, skipped, decode).await;
        }
        let key = match wanted.as_str() {
            Some(s) => JsValue::from_str(s),
            None => JsValue::from_f64(wanted.as_f64().unwrap_or(f64::NAN)),
        };
        let index = store.index(field).map_err(in_tx(tx))?;
        let fetch = |limit: Option<usize>| {
            let range = KeyRange::only(&key).map_err(in_tx(tx))?;
            index.get_all(Some(Query::KeyRange(range)), limit.map(to_u32)).map_err(in_tx(tx))
        };
        let raw = fetch(query.limit)?.await.map_err(in_tx(tx))?;
        let fetched = raw.len();
        let by_key = |js: &JsValue| label(&prop(js, "key"));
        let mut bad = Vec::new();
        let mut records = decode_all(raw, &by_key, &|_: &T| true, &mut bad, decode);
        if !bad.is_empty() && query.limit.is_some_and(|l| fetched >= l) {
            // Unreadable records took places in the limit: fetch the rest too.
            bad.clear();
            let raw = fetch(None)?.await.map_err(in_tx(tx))?;
            records = decode_all(raw, &by_key, &|_: &T| true, &mut bad, decode);
            records.truncate(query.limit.unwrap_or(usize::MAX));
        }
        skipped.extend(bad);
        Ok(records)
    }
}

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

/// How raw stored objects become `T`: one at a time, and optionally all at once (one
/// crossing of the JS boundary for a whole `getAll`; `None` if any of them is unreadable,
/// and then they are decoded one by one to say which).
pub(super) struct Decoder<'a, T> {
    pub(super) one: &'a dyn Fn(JsValue) -> std::result::Result<T, String>,
    pub(super) many: Option<&'a DecodeMany<T>>,
}

pub(super) type DecodeMany<T> = dyn Fn(&[JsValue]) -> Option<Vec<T>>;

impl<'a, T> Decoder<'a, T> {
    pub(super) fn one(one: &'a dyn Fn(JsValue) -> std::result::Result<T, String>) -> Self {
        Decoder { one, many: None }
    }
}

/// Decode raw records, dropping those `keep` refuses and reporting unreadable ones.
pub(super) fn decode_all<T>(
    raw: Vec<JsValue>,
    label: &dyn Fn(&JsValue) -> String,
    keep: &dyn Fn(&T) -> bool,
    skipped: &mut Vec<String>,
    decode: &Decoder<'_, T>,
) -> Vec<T> {
    if let Some(all) = decode.many.filter(|_| raw.len() > 1).and_then(|many| many(&raw)) {
        return all.into_iter().filter(|record| keep(record)).collect();
    }
    let mut out = Vec::with_capacity(raw.len());
    for js in raw {
        let name = label(&js);
        match (decode.one)(js) {
            Ok(record) if keep(&record) => out.push(record),
            Ok(_) => {}
            Err(reason) => skipped.push(format!("{name}: {reason}")),
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
pub(super) async fn absent_keys<'k>(tx: &idb::Transaction, keys: &'k [KeyRef]) -> Result<HashSet<&'k KeyRef>> {
    let err = in_tx(tx);
    let mut absent = HashSet::new();
    let mut by_collection: BTreeMap<&str, Vec<&'k KeyRef>> = BTreeMap::new();
    for key in keys {
        by_collection.entry(key.0.as_str()).or_default().push(key);
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
        let stored: HashSet<String> = stored.iter().filter_map(JsValue::as_string).collect();
        absent.extend(batch.into_iter().filter(|k| !stored.contains(&k.1)));
    }
    Ok(absent)
}
