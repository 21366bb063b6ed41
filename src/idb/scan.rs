//! Read primitives inside a transaction: `getAll` in batches that skip what they cannot
//! use, and decoding raw objects (all at once, or one by one to name the unreadable ones).

use js_sys::Array;
use wasm_bindgen::JsValue;
use web_sys::IdbTransaction;

use pwa_sync_core::error::Result;

use super::names::to_u32;
use super::script;
use crate::convert::prop;

/// Records of `store` in key order, keeping those `keep` accepts, at most `limit`. Reads
/// in batches of what is still missing, resuming after the last key seen, so skipped
/// records (tombstones, unreadable ones) do not eat into the limit.
#[allow(clippy::too_many_arguments)]
pub(super) async fn scan<T>(
    tx: &IdbTransaction,
    store: &str,
    key_field: &str,
    limit: Option<usize>,
    keep: &dyn Fn(&T) -> bool,
    label: &dyn Fn(&JsValue) -> String,
    skipped: &mut Vec<String>,
    decode: &Decoder<'_, T>,
) -> Result<Vec<T>> {
    let mut out: Vec<T> = Vec::new();
    let mut after = JsValue::NULL;
    loop {
        let want = limit.map(|l| l.saturating_sub(out.len()));
        let raw = script::answer_array(script::get_all(tx, store, None, &after, want.map(to_u32))).await?;
        let fetched = raw.length() as usize;
        if fetched > 0 {
            // Past the last key seen.
            let last = prop(&raw.get(raw.length() - 1), key_field);
            after = script::key_bounds(last, JsValue::UNDEFINED, true, false);
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
    raw: Array,
    label: &dyn Fn(&JsValue) -> String,
    keep: &dyn Fn(&T) -> bool,
    skipped: &mut Vec<String>,
    decode: &Decoder<'_, T>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(raw.length() as usize);
    for js in raw.iter() {
        match decode(&js) {
            Ok(record) if keep(&record) => out.push(record),
            Ok(_) => {}
            Err(reason) => skip(skipped, label(&js), reason),
        }
    }
    out
}

/// `decode_all`'s report of an unreadable object, compiled once for its five types.
#[inline(never)]
fn skip(skipped: &mut Vec<String>, label: String, reason: String) {
    skipped.push(format!("{label}: {reason}"));
}
