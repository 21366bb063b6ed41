//! Queries (issue 17): a page of records and its cursor, a count, and the plan in words.
//! The core plans and decides; the store reads what the plan names. Values stay the JS
//! objects the store read.

use std::rc::Rc;

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::JsValue;

use pwa_sync_core::config::CollectionConfig;
use pwa_sync_core::query::plan::{plan, Plan};
use pwa_sync_core::query::Query;
use pwa_sync_core::record::EntityRecord;
use pwa_sync_core::store::Store;
use pwa_sync_core::Error;

use super::local::settler;
use super::Client;
use crate::convert;
use crate::idb;
use crate::value::{JsVal, KeyedValue};

impl Client {
    /// The page `query` asks for, and the cursor to the next one.
    pub(crate) async fn query_rows(
        &self,
        config: &CollectionConfig,
        query: &Query,
    ) -> Result<(Vec<KeyedValue>, Option<String>), Error> {
        self.planned_rows(query, &plan(config, query)).await
    }

    async fn planned_rows(&self, query: &Query, plan: &Plan) -> Result<(Vec<KeyedValue>, Option<String>), Error> {
        let answer = self.store.query(query, plan).await.inspect_err(|e| self.report_storage_error(e))?;
        self.report_skipped();
        Ok((answer.records, answer.next))
    }

    /// One live record as a row (`watch` of a key).
    pub(crate) async fn get_row(&self, config: &CollectionConfig, key: &str) -> Result<Option<KeyedValue>, Error> {
        let record = self.store.get(&config.name, key).await.inspect_err(|e| self.report_storage_error(e))?;
        let live = |r: EntityRecord<JsVal>| Some(KeyedValue { value: r.value?, key: r.key });
        Ok(record.and_then(live).filter(|r| !r.value.0.is_undefined() && !r.value.0.is_null()))
    }

    /// `{records, next}`; with `count`, how many records match (`count`'s query has no
    /// limit or cursor). One function for both calls: one read of rows in the module's
    /// API state machine, not two.
    pub async fn query(&self, config: &CollectionConfig, query: &Query, count: bool) -> Result<JsValue, Error> {
        let plan = plan(config, query);
        if !count {
            // The page read and checked in the store's script, where one read answers it.
            let fast = self.store.page_values(query, &plan).await;
            if let Some((values, next)) = fast.inspect_err(|e| self.report_storage_error(e))? {
                return Ok(page_object(values, next));
            }
        }
        // An exact count was asked of the index where it could be (`count_now`): the rest
        // reads the records, as `Store::count` does.
        let (rows, next) = self.planned_rows(query, &plan).await?;
        if count {
            return Ok(JsValue::from_f64(rows.len() as f64));
        }
        let records = Array::new();
        for row in rows {
            records.push(&row.value.0);
        }
        Ok(page_object(records, next))
    }

    /// `count` in one IndexedDB request and one promise (`IdbStore::count_now`), when it
    /// can be; `None`: the caller takes `count`.
    pub fn count_now(self: &Rc<Self>, query: &Query) -> Option<Promise> {
        if self.is_closed() {
            return None;
        }
        let config = self.collection(&query.collection).ok()?;
        let settle = self.count_settler.get_or_init(|| settler(Rc::downgrade(self), idb::count_outcome));
        self.store.count_now(&config.name, &plan(config, query), settle)
    }

    /// `{index, scan, orderByIndex}`: the index the query would use, if any.
    pub fn explain(&self, config: &CollectionConfig, query: &Query) -> Result<JsValue, Error> {
        convert::to_js(&plan(config, query).explain())
    }
}

pub(crate) fn page_object(records: Array, next: Option<String>) -> JsValue {
    let page = Object::new();
    // Setting fields on a fresh plain object cannot fail.
    let _ = Reflect::set(&page, &"records".into(), &records);
    let _ = Reflect::set(&page, &"next".into(), &next.map_or(JsValue::NULL, JsValue::from));
    page.into()
}
