//! Queries on IndexedDB: read what the core's plan names (its key ranges on the chosen
//! index, or the whole store in key order) and let `query::exec::finish` decide the
//! page. With encryption at rest the values are sealed, so no index over a value field
//! can be used: every live record is read and opened, and the same `finish` runs.

use idb::{KeyRange, ObjectStore, Query as IdbQuery, TransactionMode};
use serde_json::Value;
use wasm_bindgen::JsValue;

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::query::exec::{finish, Answer, Candidate};
use pwa_sync_core::query::plan::{Plan, Range};
use pwa_sync_core::query::Query;
use pwa_sync_core::store::Durability;

use super::codec::{decode_record, decode_records, key_text, Listed};
use super::error::in_tx;
use super::scan::{decode_all, scan, Decoder};
use super::store::IdbStore;
use super::transaction::finish as finish_tx;
use crate::convert::{encode_json, prop};
use crate::value::JsVal;

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
            let candidates = match &plan.index {
                Some(index) if self.sealer().is_none() => {
                    self.read_ranges(&tx, &store, &index.name, &plan.ranges, &mut skipped, decode).await?
                }
                _ => {
                    let label = |key: &JsValue| format!("{collection}/{}", key_text(key));
                    scan(&tx, &store, "key", None, &|r: &T| r.is_live(), &label, &mut skipped, decode).await?
                }
            };
            let page = finish(query, &candidates.iter().map(|c| c as &dyn Candidate).collect::<Vec<_>>());
            let mut slots: Vec<Option<T>> = candidates.into_iter().map(Some).collect();
            let picked = page.picked.iter().filter_map(|&at| slots.get_mut(at).and_then(Option::take)).collect();
            Ok((picked, page.next))
        }
        .await;
        self.report_skipped(skipped);
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
        let index = store.index(index).map_err(in_tx(tx))?;
        let collection = store.name();
        let label = |js: &JsValue| format!("{collection}/{}", key_text(&prop(js, "key")));
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

    /// `Store::query`: the page's records, their values left in JS (opened if sealed).
    pub(super) async fn query_records(&self, query: &Query, plan: &Plan) -> Result<Answer<JsVal>> {
        let many = |raw: &[JsValue]| decode_records(raw, self.sealer());
        let decoder = Decoder { one: &|js| decode_record(js, self.sealer()), many: Some(&many) };
        let (records, next) = self.query_with(query, plan, &decoder).await?;
        Ok(Answer { records, next })
    }
}

/// The plan's range as IndexedDB's (`None`: the whole index).
fn key_range(range: &Range) -> Result<Option<IdbQuery>> {
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
