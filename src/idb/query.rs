//! Queries on IndexedDB: read what the core's plan names (its key ranges on the chosen
//! index, or the whole store in key order) and let `query::exec::finish` decide the
//! page. With encryption at rest the values are sealed, so no index over a value field
//! can be used: every live record is read and opened, and the same `finish` runs.

use idb::{CursorDirection, KeyRange, ObjectStore, Query as IdbQuery, TransactionMode};
use serde_json::Value;
use wasm_bindgen::JsValue;

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::query::exec::{finish, Answer, Candidate};
use pwa_sync_core::query::plan::{Plan, Range};
use pwa_sync_core::query::walk::Walk;
use pwa_sync_core::query::Query;
use pwa_sync_core::store::Durability;

use super::codec::{decode_hit, key_text, Listed};
use super::error::in_tx;
use super::names::to_u32;
use super::scan::{decode_all, scan, Decoder};
use super::store::IdbStore;
use super::transaction::finish as finish_tx;
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
        let tx = self.transaction(&[collection], TransactionMode::ReadOnly, Durability::Default).await?;
        let mut skipped = Vec::new();
        let result = async {
            let store = tx.object_store(collection).map_err(in_tx(&tx))?;
            let (candidates, page) = match (&plan.index, Walk::new(plan, query)) {
                (Some(index), Some(walk)) if self.sealer().is_none() => {
                    let (kept, walk) = walk_index(&tx, &store, &index.name, query, walk, &mut skipped, decode).await?;
                    let page = walk.page(query, &as_candidates(&kept));
                    (kept, page)
                }
                (Some(index), None) if self.sealer().is_none() => {
                    let read = self.read_ranges(&tx, &store, &index.name, &plan.ranges, &mut skipped, decode).await?;
                    let page = finish(query, &as_candidates(&read));
                    (read, page)
                }
                _ => {
                    let label = |key: &JsValue| format!("{collection}/{}", key_text(key));
                    let all =
                        scan(&tx, &store, "key", None, &|r: &T| r.is_live(), &label, &mut skipped, decode).await?;
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
        finish_tx(tx, result, false).await
    }

    /// Live records under each range of the index, in the order read (duplicates from a
    /// multi-entry index or overlapping `in` values are dropped by `finish`).
    async fn read_ranges<T: Listed>(
        &self,
        tx: &idb::Transaction,
        store: &ObjectStore,
        index: &str,
        ranges: &[Range],
        skipped: &mut Vec<String>,
        decode: &Decoder<'_, T>,
    ) -> Result<Vec<T>> {
        let (index, label) = open_index(tx, store, index)?;
        let mut out = Vec::new();
        for range in ranges {
            let raw = index.get_all(key_range(range)?, None).map_err(in_tx(tx))?.await.map_err(in_tx(tx))?;
            out.extend(decode_all(raw, &label, &|r: &T| r.is_live(), skipped, decode));
        }
        Ok(out)
    }

    /// `Store::count`: an exact plan is counted by its index alone; anything else by
    /// reading the records (their metadata only, unless values are sealed).
    pub(super) async fn count_records(&self, query: &Query, plan: &Plan) -> Result<usize> {
        let index = match &plan.index {
            Some(index) if plan.exact && self.sealer().is_none() => index,
            _ => {
                return self.query_records(query, plan).await.map(|a| a.records.len());
            }
        };
        self.check(&query.collection)?;
        let collection = query.collection.as_str();
        let tx = self.transaction(&[collection], TransactionMode::ReadOnly, Durability::Default).await?;
        let result = async {
            let index = tx.object_store(collection).and_then(|s| s.index(&index.name)).map_err(in_tx(&tx))?;
            let mut total = 0usize;
            for range in &plan.ranges {
                let n = index.count(key_range(range)?).map_err(in_tx(&tx))?.await.map_err(in_tx(&tx))?;
                total = total.saturating_add(n as usize);
            }
            Ok(total)
        }
        .await;
        finish_tx(tx, result, false).await
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

/// The index `name` of `store`, and how to name a stored object read from it (in a
/// report of what could not be read).
fn open_index(
    tx: &idb::Transaction,
    store: &ObjectStore,
    name: &str,
) -> Result<(idb::Index, impl Fn(&JsValue) -> String)> {
    let index = store.index(name).map_err(in_tx(tx))?;
    let collection = store.name();
    Ok((index, move |js: &JsValue| format!("{collection}/{}", key_text(&prop(js, "key")))))
}

/// Limit pushdown (`query::walk`): the plan's index read in the query's order until the
/// walk holds `limit + 1` matching records. Forward in `getAll(range, count)` batches, each
/// resuming where the last ended; backwards through a cursor (`getAll` only reads
/// forward). Returns the records the walk kept and the walk, which decides the page.
#[allow(clippy::too_many_arguments)]
async fn walk_index<T: Listed + Candidate>(
    tx: &idb::Transaction,
    store: &ObjectStore,
    index: &str,
    query: &Query,
    mut walk: Walk,
    skipped: &mut Vec<String>,
    decode: &Decoder<'_, T>,
) -> Result<(Vec<T>, Walk)> {
    let (index, label) = open_index(tx, store, index)?;
    let live = |r: &T| r.is_live();
    let mut out = Vec::new();
    if walk.reverse {
        let Some(range) = walk.range() else { return Ok((out, walk)) };
        let request = index.open_cursor(key_range(range)?, Some(CursorDirection::Prev)).map_err(in_tx(tx))?;
        let mut cursor = request.await.map_err(in_tx(tx))?;
        while let Some(at) = cursor {
            let js = at.value().map_err(in_tx(tx))?;
            for record in decode_all(vec![js], &label, &live, skipped, decode) {
                if walk.offer(query, &record) {
                    out.push(record);
                }
            }
            if walk.done() {
                break;
            }
            cursor = at.next(None).map_err(in_tx(tx))?.await.map_err(in_tx(tx))?;
        }
        return Ok((out, walk));
    }
    while let Some(range) = walk.range() {
        let batch = walk.batch();
        let raw = index.get_all(key_range(range)?, Some(to_u32(batch))).map_err(in_tx(tx))?.await.map_err(in_tx(tx))?;
        let full = raw.len() >= batch;
        let last = raw.last().map(stored);
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
            let raw = index.get_all(key_range(range)?, None).map_err(in_tx(tx))?.await.map_err(in_tx(tx))?;
            out.extend(decode_all(raw, &label, &live, skipped, decode));
            walk.unordered();
            break;
        }
    }
    Ok((out, walk))
}

/// The plan's range as IndexedDB's (`None`: the whole index).
pub(super) fn key_range(range: &Range) -> Result<Option<IdbQuery>> {
    let js = |key: &Value| encode_json(key).map_err(|e| Error::Storage(format!("cannot make an index key: {e}")));
    let failed = |e: idb::Error| Error::Storage(format!("cannot make a key range: {e}"));
    let range = match (&range.lower, &range.upper) {
        (None, None) => return Ok(None),
        (Some(l), None) => KeyRange::lower_bound(&js(&l.key)?, Some(l.open)),
        (None, Some(u)) => KeyRange::upper_bound(&js(&u.key)?, Some(u.open)),
        (Some(l), Some(u)) => KeyRange::bound(&js(&l.key)?, &js(&u.key)?, Some(l.open), Some(u.open)),
    };
    Ok(Some(IdbQuery::KeyRange(range.map_err(failed)?)))
}
