//! What a query means, shared by every store: whether a record matches (`matches`), its
//! place in the order, and the page (`finish`: filter, drop duplicates, sort, resume
//! after the cursor, cut at the limit, the next cursor). A store hands over candidates,
//! all records or those an index range yielded; the answer is the same either way.

use std::cmp::Ordering;

use serde_json::Value;

use super::cursor::{self, Position};
use super::keys::{compare, entries, equal, is_key};
use super::plan::Plan;
use super::{Condition, Op, OrderTerm, Query};
use crate::record::{key_order, EntityRecord};
use crate::value::AppValue;

/// A record as a query sees it: its key and its top-level fields.
pub trait Candidate {
    fn key(&self) -> &str;
    fn field(&self, name: &str) -> Option<Value>;
}

impl<V: AppValue> Candidate for EntityRecord<V> {
    fn key(&self) -> &str {
        &self.key
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.value.as_ref().and_then(|v| v.field(name))
    }
}

impl<T: Candidate + ?Sized> Candidate for &T {
    fn key(&self) -> &str {
        (*self).key()
    }
    fn field(&self, name: &str) -> Option<Value> {
        (*self).field(name)
    }
}

/// The candidates a plan reads, for a store that evaluates plans itself (the memory
/// store): records with a key of the plan's index inside one of its ranges.
pub fn select<'a, C: Candidate + 'a>(plan: &Plan, records: impl IntoIterator<Item = &'a C>) -> Vec<&'a C> {
    records
        .into_iter()
        .filter(|r| match &plan.index {
            None => !plan.ranges.is_empty(),
            Some(index) => Plan::index_keys(index, &|f| r.field(f))
                .iter()
                .any(|k| plan.ranges.iter().any(|range| range.contains(k))),
        })
        .collect()
}

impl Op {
    /// Whether one value satisfies the operator. Ranges compare keys only, in key order
    /// (so `gt: 5` also takes every string, as an index range does).
    pub fn holds(&self, v: &Value) -> bool {
        let range = |bound: &Value, ok: fn(Ordering) -> bool| is_key(v) && ok(compare(v, bound));
        match self {
            Op::Eq(wanted) => equal(v, wanted),
            Op::Gt(b) => range(b, Ordering::is_gt),
            Op::Gte(b) => range(b, Ordering::is_ge),
            Op::Lt(b) => range(b, Ordering::is_lt),
            Op::Lte(b) => range(b, Ordering::is_le),
            Op::In(values) => values.iter().any(|w| equal(v, w)),
            Op::StartsWith(prefix) => v.as_str().is_some_and(|s| s.starts_with(prefix.as_str())),
        }
    }
}

impl Condition {
    pub fn holds(&self, field: Option<&Value>) -> bool {
        let Some(field) = field else { return false };
        entries(field, self.multi_entry).into_iter().any(|v| self.ops.iter().all(|op| op.holds(v)))
    }
}

/// Whether a live record's fields satisfy every condition.
pub fn matches(query: &Query, record: &dyn Candidate) -> bool {
    query.conditions.iter().all(|c| c.holds(record.field(&c.field).as_ref()))
}

/// The record's order values; `None` when one is not a key: such a record is left out
/// of an ordered query, as an index over that field leaves it out.
pub fn order_values(order: &[OrderTerm], record: &dyn Candidate) -> Option<Vec<Value>> {
    let mut values = Vec::with_capacity(order.len());
    for term in order {
        values.push(record.field(&term.field).filter(is_key)?);
    }
    Some(values)
}

/// The query's total order: its terms, then the key (in the last term's direction, as
/// an index cursor walking that way has it).
pub fn compare_positions(order: &[OrderTerm], a: (&[Value], &str), b: (&[Value], &str)) -> Ordering {
    for (term, (x, y)) in order.iter().zip(a.0.iter().zip(b.0)) {
        let o = compare(x, y);
        if o.is_ne() {
            return if term.descending { o.reverse() } else { o };
        }
    }
    let o = key_order(a.1, b.1);
    if order.last().is_some_and(|t| t.descending) {
        o.reverse()
    } else {
        o
    }
}

/// A page: which candidates, in order (indexes into the slice given), and the cursor to
/// the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub picked: Vec<usize>,
    pub next: Option<String>,
}

/// A store's answer to a query: the page's records and the cursor to the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<V = Value> {
    pub records: Vec<Hit<V>>,
    pub next: Option<String>,
}

/// A live record as a query answers it: its key and value (the sync metadata is not the
/// query's, so a store need not read it).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<V = Value> {
    pub key: String,
    pub value: V,
}

impl<V: AppValue> Candidate for Hit<V> {
    fn key(&self) -> &str {
        &self.key
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.value.field(name)
    }
}

/// The answer over `candidates` (live records; a record read more than once, by a
/// multi-entry index or overlapping `in` ranges, is answered once, as first read).
/// Not generic: one copy of the sort in the wasm module for every store's candidates.
pub fn finish(query: &Query, candidates: &[&dyn Candidate]) -> Page {
    let mut rows: Vec<(usize, Vec<Value>)> = Vec::new();
    for (at, c) in candidates.iter().enumerate() {
        if !matches(query, c) {
            continue;
        }
        let Some(values) = order_values(&query.order, c) else { continue };
        if let Some(after) = &query.after {
            let here = (values.as_slice(), c.key());
            if compare_positions(&query.order, here, (&after.values, &after.key)).is_le() {
                continue;
            }
        }
        rows.push((at, values));
    }
    let position = |row: &(usize, Vec<Value>)| (row.1.clone(), candidates[row.0].key().to_owned());
    crate::sort::sort_by(&mut rows, |a, b| {
        compare_positions(&query.order, (&a.1, candidates[a.0].key()), (&b.1, candidates[b.0].key()))
    });
    // The copies of a record, read in one transaction, sort side by side (same values,
    // same key; stably, the first read first): keep the first. No hash set: the module
    // has no hash table.
    rows.dedup_by(|later, earlier| candidates[later.0].key() == candidates[earlier.0].key());
    let limit = query.limit.unwrap_or(usize::MAX);
    let last = limit.checked_sub(1).and_then(|i| rows.get(i)).filter(|_| rows.len() > limit);
    let next = last.map(|row| {
        let (values, key) = position(row);
        cursor::encode(query.fingerprint, &Position { values, key })
    });
    rows.truncate(limit);
    Page { picked: rows.into_iter().map(|(at, _)| at).collect(), next }
}
