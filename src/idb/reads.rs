//! The store's reads of app records: one record and a list (by key order or by an
//! index), for the `Store` contract; and one record in a single promise (`read_now`).

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::IdbTransaction;

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::query::plan::Plan;
use pwa_sync_core::record::{index_key_eq, is_index_key, ListQuery};
use pwa_sync_core::store::Durability;

use super::codec::{decode_record, key_text, Listed};
use super::error::{failed_request, in_context};
use super::names::to_u32;
use super::query::bounds;
use super::scan::{decode_all, scan, Decoder};
use super::script;
use super::store::IdbStore;
use super::transaction::Mode;
use crate::convert::prop;
use crate::value::JsVal;

/// What `read_now`'s settling function answers for its finished request (the target of
/// the request's `success` or `error` event): the app value
/// (`undefined` when there is none or the record is a tombstone), or the error: the
/// request's (as `in_tx`: the transaction's own when the abort failed the request), or
/// why the record is unreadable (the checks of every other read).
pub fn read_outcome(collection: &JsValue, key: &JsValue, event: &JsValue) -> Result<JsValue> {
    // Names as JS strings made once (`sys::FieldNames`), and the collection and key turned
    // into Rust strings only for an error: each costs a text conversion per `get` otherwise.
    let text = |js: &JsValue| js.as_string().unwrap_or_default();
    let get = |object: &JsValue, name: &JsValue| Reflect::get(object, name).unwrap_or(JsValue::UNDEFINED);
    let names = crate::sys::field_names();
    let request = get(event, &names.target);
    let failed = get(&request, &names.error).is_object();
    let stored = get(&request, &names.result);
    if failed {
        let context = format!("cannot read {}/{}", text(collection), text(key));
        return Err(in_context(&context, failed_request(&request)));
    }
    if stored.is_undefined() {
        return Ok(JsValue::UNDEFINED);
    }
    decode_record(&stored, None)
        .map(|record| JsVal::or_undefined(record.value))
        .map_err(|reason| unreadable(&text(collection), &text(key), &reason))
}

/// What `count_now`'s settling function answers for its finished `count` request (the
/// target of its `success` or `error` event): the count, or the request's error (as
/// `in_tx`: the transaction's own when the abort failed the request).
pub fn count_outcome(collection: &JsValue, _key: &JsValue, event: &JsValue) -> Result<JsValue> {
    let request = prop(event, "target");
    if prop(&request, "error").is_object() {
        let context = format!("cannot count in {}", collection.as_string().unwrap_or_default());
        return Err(in_context(&context, failed_request(&request)));
    }
    Ok(prop(&request, "result"))
}

/// A list query's wanted value (a string or a number: `is_index_key`) as IndexedDB's key.
fn index_key(wanted: &serde_json::Value) -> JsValue {
    match wanted.as_str() {
        Some(s) => JsValue::from_str(s),
        None => JsValue::from_f64(wanted.as_f64().unwrap_or(f64::NAN)),
    }
}

fn unreadable(collection: &str, key: &str, reason: &str) -> Error {
    Error::Storage(format!("unreadable record {collection}/{key}: {reason}"))
}

impl IdbStore {
    pub(super) async fn get_with<T>(&self, collection: &str, key: &str, decode: &Decoder<'_, T>) -> Result<Option<T>> {
        self.check(collection)?;
        let tx = self.transaction(&[collection], Mode::Read, Durability::Default).await?;
        let stored = script::answer(script::get(&tx, collection, &JsValue::from_str(key))).await?;
        if stored.is_undefined() {
            return Ok(None);
        }
        decode(&stored).map(Some).map_err(|reason| unreadable(collection, key, &reason))
    }

    /// `get` as one IndexedDB request and one promise, run by the store's script
    /// (`getNow`): a readable record's value is answered there, as `list`'s values are,
    /// so a `get` makes no call into Rust after this one; a failed request or an
    /// unreadable record goes to `settle(collection, key, event)` (`read_outcome`), which
    /// makes the error. `None` where `Store::get` must do it: values sealed, no open
    /// connection (it reopens), or a transaction that could not start (it says why).
    pub fn read_now(&self, collection: &JsValue, key: &JsValue, settle: &Function) -> Option<Promise> {
        if self.sealer().is_some() {
            return None;
        }
        let db = self.open_database()?;
        script::get_now(&db, collection, key, settle).ok()
    }

    /// `Store::count` in a single promise, as `read_now` answers `get`: where the plan's
    /// ranges of an index hold the answer (`Plan::exact`; values unsealed, the connection
    /// open), a `count` request per range, summed, whose promise settles through
    /// `settle(collection, undefined, event)` (`count_outcome`). `None` where the records
    /// must be read (`Client::query` with `count`, as `Store::count` does: a scan, sealed
    /// values, no open connection), or when a call throws: that path then says why.
    pub fn count_now(&self, collection: &str, plan: &Plan, settle: &Function) -> Option<Promise> {
        if self.sealer().is_some() || !plan.exact {
            return None;
        }
        let index = plan.index.as_ref()?;
        let ranges = Array::new();
        for range in &plan.ranges {
            ranges.push(&bounds(range).ok()?);
        }
        let db = self.open_database()?;
        script::count_now(&db, collection, &index.name, &ranges, settle).ok()
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
        let tx = self.transaction(&[collection], Mode::Read, Durability::Default).await?;
        let mut skipped = Vec::new();
        let result = self.list_in(&tx, collection, query, &mut skipped, decode).await;
        self.report_skipped(skipped);
        result
    }

    /// `list` as the app gets it: the live values in one JS array, read, checked and
    /// filtered by the store's script (`listLive`), not decoded record by record into
    /// Rust. The same answer and reports as `list_with(decode_record)`: the script sorts
    /// records out by the check `record_metadata` reads after (`recordProblem`), and the
    /// unreadable ones come back here to be named. `None` where that path must run:
    /// values sealed, a field without a declared index, or a record the script refused
    /// and Rust reads (nothing may go missing from the list, should the two part ways).
    pub async fn list_values(&self, collection: &str, query: &ListQuery) -> Result<Option<Array>> {
        let config = self.check(collection)?;
        let declared = |field: &String| config.indexes.iter().any(|i| i.name == *field && i.fields.len() == 1);
        if self.sealer().is_some() || query.index.as_ref().is_some_and(|(field, _)| !declared(field)) {
            return Ok(None);
        }
        if query.limit == Some(0) || query.index.as_ref().is_some_and(|(_, wanted)| !is_index_key(wanted)) {
            // IndexedDB reads a count of 0 as "no limit"; a value that is no key has no
            // records under it.
            return Ok(Some(Array::new()));
        }
        let tx = self.transaction(&[collection], Mode::Read, Durability::Default).await?;
        let (index, only) = match &query.index {
            Some((field, wanted)) => (Some(field.as_str()), index_key(wanted)),
            None => (None, JsValue::UNDEFINED),
        };
        let limit = query.limit.map(to_u32);
        let answer = script::answer_array(script::list_live(&tx, collection, index, &only, limit)).await?;
        let mut skipped = Vec::new();
        for js in answer.get(1).unchecked_into::<Array>().iter() {
            match decode_record(&js, None) {
                Err(reason) => skipped.push(format!("{collection}/{}: {reason}", key_text(&prop(&js, "key")))),
                Ok(_) => return Ok(None),
            }
        }
        self.report_skipped(skipped);
        Ok(Some(answer.get(0).unchecked_into()))
    }

    async fn list_in<T: Listed>(
        &self,
        tx: &IdbTransaction,
        collection: &str,
        query: &ListQuery,
        skipped: &mut Vec<String>,
        decode: &Decoder<'_, T>,
    ) -> Result<Vec<T>> {
        let label = |key: &JsValue| format!("{collection}/{}", key_text(key));
        let Some((field, wanted)) = &query.index else {
            return scan(tx, collection, "key", query.limit, &|r: &T| r.is_live(), &label, skipped, decode).await;
        };
        if !is_index_key(wanted) {
            // Not an IndexedDB key, so nothing is indexed under it.
            return Ok(Vec::new());
        }
        let declared = self.check(collection)?.indexes.iter().any(|i| i.name == *field && i.fields.len() == 1);
        if !declared {
            // The API layer refuses undeclared fields; the store still answers like the
            // in-memory one, by a scan.
            let matches = |r: &T| r.field(field).is_some_and(|v| index_key_eq(&v, wanted));
            return scan(tx, collection, "key", query.limit, &matches, &label, skipped, decode).await;
        }
        let key = index_key(wanted);
        let only = script::key_bounds(key.clone(), key, false, false);
        let fetch = |limit: Option<usize>| script::get_all(tx, collection, Some(field), &only, limit.map(to_u32));
        let raw = script::answer_array(fetch(query.limit)).await?;
        let fetched = raw.length() as usize;
        let by_key = |js: &JsValue| label(&prop(js, "key"));
        let mut bad = Vec::new();
        let mut records = decode_all(raw, &by_key, &|_: &T| true, &mut bad, decode);
        if !bad.is_empty() && query.limit.is_some_and(|l| fetched >= l) {
            // Unreadable records took places in the limit: fetch the rest too.
            bad.clear();
            let raw = script::answer_array(fetch(None)).await?;
            records = decode_all(raw, &by_key, &|_: &T| true, &mut bad, decode);
            records.truncate(query.limit.unwrap_or(usize::MAX));
        }
        skipped.extend(bad);
        Ok(records)
    }
}
