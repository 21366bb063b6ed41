//! Read primitives inside a transaction: `getAll` in batches that skip what they cannot
//! use, and decoding raw objects (all at once, or one by one to name the unreadable ones).

use idb::{KeyRange, ObjectStore, Query};
use wasm_bindgen::JsValue;

use pwa_sync_core::error::Result;

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
