//! Queries on IndexedDB: read what the core's plan names (its key ranges on the chosen
//! index, or the whole store in key order) and let `query::exec::finish` decide the
//! page. With encryption at rest the values are sealed, so no index over a value field
//! can be used: every live record is read and opened, and the same `finish` runs.

use js_sys::Array;
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::IdbTransaction;

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::query::exec::{finish, Answer, Candidate};
use pwa_sync_core::query::plan::{Plan, Range};
use pwa_sync_core::query::walk::{cursor_after, Walk};
use pwa_sync_core::query::Query;
use pwa_sync_core::store::Durability;

use super::codec::{decode_hit, key_text, Listed};
use super::error::classify;
use super::names::to_u32;
use super::scan::{decode_all, scan, Decoder};
use super::script;
use super::store::IdbStore;
use super::transaction::Mode;
use crate::convert::{encode_json, prop};
use crate::value::{JsVal, KeyedValue};

/// A stored object as the index saw it (its key and value fields), readable or not:
/// where a forward walk resumes.
fn stored(js: &JsValue) -> Option<KeyedValue> {
    Some(KeyedValue { key: prop(js, "key").as_string()?, value: JsVal(prop(js, "value")) })
}

impl IdbStore {
    async fn query_with<T: Listed + Candidate + 'static>(
        &self,
        query: &Query,
        plan: &Plan,
        decode: &Decoder<'_, T>,
    ) -> Result<(Vec<T>, Option<String>)> {
        self.check(&query.collection)?;
        let collection = query.collection.as_str();
        let tx = self.transaction(&[collection], Mode::Read, Durability::Default).await?;
        let mut skipped = Vec::new();
        let result = async {
            let (candidates, page) = match (&plan.index, Walk::new(plan, query)) {
                (Some(index), Some(walk)) if self.sealer().is_none() => {
                    let (kept, walk) =
                        walk_index(&tx, collection, &index.name, query, walk, &mut skipped, decode).await?;
                    let page = walk.page(query, &as_candidates(&kept));
                    (kept, page)
                }
                (Some(index), None) if self.sealer().is_none() => {
                    let read = read_ranges(&tx, collection, &index.name, &plan.ranges, &mut skipped, decode).await?;
                    let page = finish(query, &as_candidates(&read));
                    (read, page)
                }
                _ => {
                    let label = |key: &JsValue| format!("{collection}/{}", key_text(key));
                    let all =
                        scan(&tx, collection, "key", None, &|r: &T| r.is_live(), &label, &mut skipped, decode).await?;
                    let page = finish(query, &as_candidates(&all));
                    (all, page)
                }
            };
            let mut slots: Vec<Option<T>> = candidates.into_iter().map(Some).collect();
            let picked = page.picked.iter().filter_map(|&at| slots.get_mut(at).and_then(Option::take)).collect();
            Ok((picked, page.next))
        }
        .await;
        // A forward walk may read a record twice (a batch resuming inside a run of equal
        // index keys): name an unreadable one once.
        let mut named: Vec<String> = Vec::with_capacity(skipped.len());
        for name in skipped {
            if !named.contains(&name) {
                named.push(name);
            }
        }
        self.report_skipped(named);
        result
    }

    /// `query` as the app gets it, where one read answers it (`Walk::one_read`: an exact
    /// plan read forward from its start): the page's values in one JS array, read and
    /// checked by the store's script (`pageLive`, the checks of `list_values`), not
    /// decoded record by record into Rust, and its `next` cursor, from the page's last
    /// record. The same page as `query_records`. `None` where that path must run: values
    /// sealed, any other plan, or a stored object in the read that is no readable live
    /// record (that path names or passes over it).
    pub async fn page_values(&self, query: &Query, plan: &Plan) -> Result<Option<(Array, Option<String>)>> {
        let (Some(index), Some(walk), Some(limit)) = (&plan.index, Walk::new(plan, query), query.limit) else {
            return Ok(None);
        };
        let Some(range) = walk.range().filter(|_| walk.one_read() && self.sealer().is_none()) else {
            return Ok(None);
        };
        self.check(&query.collection)?;
        let collection = query.collection.as_str();
        let tx = self.transaction(&[collection], Mode::Read, Durability::Default).await?;
        let read = script::page_live(&tx, collection, &index.name, &bounds(range)?, to_u32(walk.batch()));
        let Ok(answer) = script::answer(read).await?.dyn_into::<Array>() else { return Ok(None) };
        let values: Array = answer.get(0).unchecked_into();
        if (values.length() as usize) <= limit {
            return Ok(Some((values, None)));
        }
        values.set_length(to_u32(limit));
        let Some(last) = limit.checked_sub(1) else { return Ok(Some((values, None))) };
        let records: Array = answer.get(1).unchecked_into();
        match decode_hit(&records.get(to_u32(last)), None).ok().and_then(|last| cursor_after(query, &last)) {
            Some(next) => Ok(Some((values, Some(next)))),
            None => Ok(None),
        }
    }

    /// `Store::query`: the page's records as key and value, their values left in JS
    /// (opened if sealed), their metadata checked (`decode_hit`).
    pub(super) async fn query_records(&self, query: &Query, plan: &Plan) -> Result<Answer<JsVal>> {
        let decoder = |js: &JsValue| decode_hit(js, self.sealer());
        let (records, next) = self.query_with(query, plan, &decoder).await?;
        Ok(Answer { records, next })
    }
}

fn as_candidates<T: Candidate>(all: &[T]) -> Vec<&dyn Candidate> {
    all.iter().map(|c| c as &dyn Candidate).collect()
}

/// How to name a stored object of `collection` read from an index (in a report of what
/// could not be read).
fn label(collection: &str) -> impl Fn(&JsValue) -> String + '_ {
    move |js: &JsValue| format!("{collection}/{}", key_text(&prop(js, "key")))
}

/// Live records under each range of the index, in the order read (duplicates from a
/// multi-entry index or overlapping `in` values are dropped by `finish`).
async fn read_ranges<T: Listed>(
    tx: &IdbTransaction,
    collection: &str,
    index: &str,
    ranges: &[Range],
    skipped: &mut Vec<String>,
    decode: &Decoder<'_, T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for range in ranges {
        let raw = script::answer_array(script::get_all(tx, collection, Some(index), &bounds(range)?, None)).await?;
        out.extend(decode_all(raw, &label(collection), &|r: &T| r.is_live(), skipped, decode));
    }
    Ok(out)
}

/// Limit pushdown (`query::walk`): the plan's index read in the query's order until the
/// walk holds `limit + 1` matching records. Forward in `getAll(range, count)` batches, each
/// resuming where the last ended; backwards through a cursor read in batches (`getAll`
/// only reads forward). Returns the records the walk kept and the walk, which decides the
/// page.
#[allow(clippy::too_many_arguments)]
async fn walk_index<T: Listed + Candidate>(
    tx: &IdbTransaction,
    collection: &str,
    index: &str,
    query: &Query,
    mut walk: Walk,
    skipped: &mut Vec<String>,
    decode: &Decoder<'_, T>,
) -> Result<(Vec<T>, Walk)> {
    let label = label(collection);
    let live = |r: &T| r.is_live();
    let mut out = Vec::new();
    if walk.reverse {
        let Some(range) = walk.range() else { return Ok((out, walk)) };
        let cursor = script::backwards(tx, collection, index, &bounds(range)?).map_err(|e| classify(&e))?;
        let mut batch = walk.batch();
        loop {
            let raw = script::answer_array(script::take(&cursor, to_u32(batch))).await?;
            let full = raw.length() as usize >= batch;
            for record in decode_all(raw, &label, &live, skipped, decode) {
                if walk.offer(query, &record) {
                    out.push(record);
                    if walk.done() {
                        break;
                    }
                }
            }
            if !full || walk.done() {
                return Ok((out, walk));
            }
            batch = batch.saturating_mul(2).max(MIN_BACKWARD_BATCH);
        }
    }
    while let Some(range) = walk.range() {
        let batch = walk.batch();
        let read = script::get_all(tx, collection, Some(index), &bounds(range)?, Some(to_u32(batch)));
        let raw = script::answer_array(read).await?;
        let full = raw.length() as usize >= batch;
        let last = (raw.length() > 0).then(|| stored(&raw.get(raw.length() - 1)));
        for record in decode_all(raw, &label, &live, skipped, decode) {
            if walk.offer(query, &record) {
                out.push(record);
                if walk.done() {
                    break;
                }
            }
        }
        if !full || walk.done() {
            break;
        }
        if !last.flatten().is_some_and(|last| walk.resume_after(query, &last)) {
            // No position to resume from (a stored object without a key): read the rest
            // of the range at once; `finish` drops what was read twice.
            let Some(range) = walk.range() else { break };
            let raw = script::answer_array(script::get_all(tx, collection, Some(index), &bounds(range)?, None)).await?;
            out.extend(decode_all(raw, &label, &live, skipped, decode));
            walk.unordered();
            break;
        }
    }
    Ok((out, walk))
}

/// After the first batch of a backward walk, each asks for at least this many values.
const MIN_BACKWARD_BATCH: usize = 16;

/// The plan's range as the store's script takes it: `[lower, upper, lowerOpen,
/// upperOpen]` (`undefined` for an open end), `null` for the whole index.
pub(super) fn bounds(range: &Range) -> Result<JsValue> {
    let js = |key: &Value| encode_json(key).map_err(|e| Error::Storage(format!("cannot make an index key: {e}")));
    if range.lower.is_none() && range.upper.is_none() {
        return Ok(JsValue::NULL);
    }
    let end = |bound: &Option<pwa_sync_core::query::plan::Bound>| match bound {
        Some(b) => Ok((js(&b.key)?, b.open)),
        None => Ok((JsValue::UNDEFINED, false)),
    };
    let ((lower, lower_open), (upper, upper_open)) = (end(&range.lower)?, end(&range.upper)?);
    Ok(script::key_bounds(lower, upper, lower_open, upper_open))
}
