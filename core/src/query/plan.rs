//! The planner: which declared index answers a query, over which key ranges, and whether
//! the index's order is the query's. Equality on a leading run of an index's fields, then
//! a range on the next, scores highest; an index whose order is the query's breaks ties;
//! nothing usable means a scan of the collection in key order. A plan only narrows the
//! candidates: `exec::finish` still checks every condition, so a plan is never wrong,
//! only more or less work.

use serde_json::Value;

use super::keys::{compare, is_key};
use super::{Condition, Op, Query};
use crate::config::{CollectionConfig, IndexSpec};

/// One end of a key range.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub key: Value,
    /// Exclusive.
    pub open: bool,
}

/// A key range on the plan's index (`None` ends are unbounded).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Range {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

impl Range {
    pub fn contains(&self, key: &Value) -> bool {
        let above = self.lower.as_ref().is_none_or(|b| {
            let o = compare(key, &b.key);
            o.is_gt() || (o.is_eq() && !b.open)
        });
        let below = self.upper.as_ref().is_none_or(|b| {
            let o = compare(key, &b.key);
            o.is_lt() || (o.is_eq() && !b.open)
        });
        above && below
    }

    /// Whether no key can lie in it (IndexedDB refuses such a range, so it is not asked).
    pub fn is_empty(&self) -> bool {
        match (&self.lower, &self.upper) {
            (Some(l), Some(u)) => {
                let o = compare(&l.key, &u.key);
                o.is_gt() || (o.is_eq() && (l.open || u.open))
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The index, or `None` for a scan of the collection in key order.
    pub index: Option<IndexSpec>,
    /// Ranges to read (on the index, or on keys for a scan); empty: nothing can match.
    pub ranges: Vec<Range>,
    /// Reading the ranges in order (backwards if `reverse`) yields the query's order.
    pub order_served: bool,
    pub reverse: bool,
    /// The ranges hold exactly the records of the answer, once each: a count can ask the
    /// index instead of reading records, and a walk need not check a condition.
    pub exact: bool,
}

impl Plan {
    /// What `client.explain` answers.
    pub fn explain(&self) -> Value {
        // Built by hand: `json!` with expressions goes through `serde_json::to_value`,
        // whose serializer into a `Value` nothing else in the module needs.
        let mut explained = serde_json::Map::new();
        let index = self.index.as_ref().map_or(Value::Null, |i| Value::String(i.name.clone()));
        explained.insert("index".into(), index);
        explained.insert("scan".into(), Value::Bool(self.index.is_none()));
        explained.insert("orderByIndex".into(), Value::Bool(self.order_served));
        Value::Object(explained)
    }

    /// The key a record has in the plan's index (several for a multi-entry index; none
    /// if the index leaves it out), for stores that evaluate a plan themselves.
    pub fn index_keys(index: &IndexSpec, field: &dyn Fn(&str) -> Option<Value>) -> Vec<Value> {
        if index.multi_entry {
            let value = field(&index.fields[0]);
            return value.map(|v| super::keys::entries(&v, true).into_iter().cloned().collect()).unwrap_or_default();
        }
        let mut parts = Vec::with_capacity(index.fields.len());
        for name in &index.fields {
            match field(name).filter(is_key) {
                Some(part) => parts.push(part),
                None => return Vec::new(),
            }
        }
        if parts.len() == 1 {
            parts
        } else {
            vec![Value::Array(parts)]
        }
    }
}

/// The best plan for `query` among `config`'s indexes.
pub fn plan(config: &CollectionConfig, query: &Query) -> Plan {
    let order_served = query.order.is_empty();
    let scan = Plan { index: None, ranges: vec![Range::default()], order_served, reverse: false, exact: false };
    let mut best: Option<((usize, usize, bool), Plan)> = None;
    for index in &config.indexes {
        if let Some((score, plan)) = candidate(index, query) {
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, plan));
            }
        }
    }
    best.map_or(scan, |(_, plan)| plan)
}

/// The tightest range one condition's range operators allow (`None` without any).
fn range_of(condition: &Condition) -> Option<Range> {
    let mut range = Range::default();
    let mut any = false;
    let mut lower = |key: &Value, open: bool| {
        let tighter = range.lower.as_ref().is_none_or(|b| {
            let o = compare(key, &b.key);
            o.is_gt() || (o.is_eq() && open)
        });
        if tighter {
            range.lower = Some(Bound { key: key.clone(), open });
        }
    };
    let mut uppers: Vec<Bound> = Vec::new();
    for op in &condition.ops {
        match op {
            Op::Gt(v) => lower(v, true),
            Op::Gte(v) => lower(v, false),
            Op::StartsWith(p) => {
                lower(&Value::String(p.clone()), false);
                if let Some(past) = past_prefix(p) {
                    uppers.push(Bound { key: Value::String(past), open: true });
                }
            }
            Op::Lt(v) => uppers.push(Bound { key: v.clone(), open: true }),
            Op::Lte(v) => uppers.push(Bound { key: v.clone(), open: false }),
            Op::Eq(_) | Op::In(_) => continue,
        }
        any = true;
    }
    for bound in uppers {
        let tighter = range.upper.as_ref().is_none_or(|b| {
            let o = compare(&bound.key, &b.key);
            o.is_lt() || (o.is_eq() && bound.open)
        });
        if tighter {
            range.upper = Some(bound);
        }
    }
    any.then_some(range)
}

/// The first string past every string that starts with `prefix`, in IndexedDB's order
/// (UTF-16 code units): the prefix with trailing U+FFFF dropped and its last code unit one
/// higher; `None` when nothing is left (no string end bounds them). Where that unit would
/// be a lone surrogate, the next character is taken: the strings between are not valid
/// text, and a plan only narrows (`finish` checks the condition).
fn past_prefix(prefix: &str) -> Option<String> {
    let trimmed = prefix.trim_end_matches('\u{ffff}');
    let mut chars = trimmed.chars();
    let last = chars.next_back()?;
    let next = match last {
        // U+10000 is the first of the characters written as two units (D800 DC00), which
        // sort between U+D7FF and U+E000.
        '\u{d7ff}' => '\u{10000}',
        // Two units, DBFF DFFF: U+E000 (one unit) sorts above every pair.
        '\u{10ffff}' => '\u{e000}',
        c => char::from_u32(c as u32 + 1)?,
    };
    let mut past = String::with_capacity(trimmed.len() + 4);
    past.push_str(chars.as_str());
    past.push(next);
    Some(past)
}

fn equality_key(condition: &Condition) -> Option<&Value> {
    condition.ops.iter().find_map(|op| match op {
        Op::Eq(v) if is_key(v) => Some(v),
        _ => None,
    })
}

/// `in` over keys only (another value could match without being in the index), each
/// once, so their ranges never overlap.
fn in_keys(condition: &Condition) -> Option<Vec<Value>> {
    let values = condition.ops.iter().find_map(|op| match op {
        Op::In(values) if values.iter().all(is_key) => Some(values),
        _ => None,
    })?;
    let mut distinct: Vec<Value> = Vec::with_capacity(values.len());
    for v in values {
        if !distinct.iter().any(|d| super::keys::equal(d, v)) {
            distinct.push(v.clone());
        }
    }
    Some(distinct)
}

/// How well `index` serves `query`: (equalities, 1 if a range or `in` narrows it,
/// whether its order is the query's), with the plan; `None` if it cannot serve it.
fn candidate(index: &IndexSpec, query: &Query) -> Option<((usize, usize, bool), Plan)> {
    let condition = |field: &str| query.condition(field);
    let plan = |ranges: Vec<Range>, order_served: bool, reverse: bool, exact: bool| Plan {
        index: Some(index.clone()),
        ranges: ranges.into_iter().filter(|r| !r.is_empty()).collect(),
        order_served,
        reverse,
        exact,
    };
    if index.multi_entry {
        let c = condition(&index.fields[0])?;
        let (score, ranges) = narrowing(c)?;
        return Some(((score.0, score.1, false), plan(ranges, false, false, false)));
    }
    let n = index.fields.len();
    let mut prefix: Vec<Value> = Vec::new();
    while let Some(v) = index.fields.get(prefix.len()).and_then(|f| condition(f)).and_then(equality_key) {
        prefix.push(v.clone());
    }
    let k = prefix.len();
    let next = index.fields.get(k).and_then(|f| condition(f));
    let range = next.and_then(range_of);
    // `in` on a single-field index: one range per value.
    let in_values = if n == 1 && k == 0 && range.is_none() { next.and_then(in_keys) } else { None };
    let in_values = in_values.as_deref();
    let bound = k + usize::from(range.is_some() || in_values.is_some());
    // Ordered fields: what is left once equal fields (constant here) are taken out.
    let order: Vec<_> = query.order.iter().filter(|t| !index.fields[..k].contains(&t.field)).collect();
    // The index leaves out records whose fields are not keys. Each field must therefore be
    // bound by a condition (which such records fail) or ordered by (which leaves them out).
    if index.fields[bound..].iter().any(|f| !order.iter().any(|t| t.field == *f)) {
        return None;
    }
    let order_served = if order.is_empty() {
        bound == k && k == n
    } else {
        in_values.is_none()
            && order.len() == n - k
            && order.iter().zip(&index.fields[k..]).all(|(t, f)| t.field == *f)
            && order.iter().all(|t| t.descending == order[0].descending)
            // The key breaks ties in the last term's direction (`exec::compare_positions`).
            && query.order.last().is_some_and(|t| t.descending == order[0].descending)
    };
    if bound == 0 && !order_served {
        return None;
    }
    // Equal index keys come in primary-key order, which the query wants in its last term's
    // direction; with every ordered field bound that term is the only one left to serve.
    let reverse = order_served && query.order.last().is_some_and(|t| t.descending);
    let key = |last: Option<Value>, top: bool| compound_key(&prefix, last, top, n);
    let ranges = match (in_values, range) {
        (Some(values), _) => values.iter().map(|v| Range { lower: exact(v), upper: exact(v) }).collect(),
        (None, Some(r)) => vec![Range {
            lower: Some(r.lower.map_or_else(|| key(None, false), |b| key(Some(b.key), false).open(b.open))),
            upper: Some(r.upper.map_or_else(|| key(None, true), |b| key(Some(b.key), !b.open).open(b.open))),
        }],
        (None, None) if k == 0 => vec![Range::default()],
        (None, None) => vec![Range { lower: Some(key(None, false)), upper: Some(key(None, true)) }],
    };
    let ranges: Vec<Range> = ranges.into_iter().map(Range::unbounded_ends).collect();
    // Exact: every condition is on an index field and said wholly by the ranges, and
    // every field is bound (an unbound one would leave records out, not filter them, and
    // a range on a leading field admits longer keys past its open end); each ordered
    // field is an index field, so a bound one and a key in every matching record.
    let exact = bound == n
        && query.order.iter().all(|t| index.fields.contains(&t.field))
        && query.conditions.iter().all(|c| match index.fields.iter().position(|f| *f == c.field) {
            Some(i) if i < k => matches!(c.ops.as_slice(), [Op::Eq(v)] if is_key(v)),
            Some(i) if i == k && in_values.is_some() => c.ops.len() == 1,
            Some(i) if i == k => c.ops.iter().all(|op| matches!(op, Op::Gt(_) | Op::Gte(_) | Op::Lt(_) | Op::Lte(_))),
            _ => false,
        });
    Some(((k, usize::from(bound > k), order_served), plan(ranges, order_served, reverse, exact)))
}

fn exact(v: &Value) -> Option<Bound> {
    Some(Bound { key: v.clone(), open: false })
}

/// A multi-entry index narrows by equality (score 1,0), `in` or a range (0,1).
fn narrowing(c: &Condition) -> Option<((usize, usize), Vec<Range>)> {
    if let Some(v) = equality_key(c) {
        return Some(((1, 0), vec![Range { lower: exact(v), upper: exact(v) }]));
    }
    if let Some(values) = in_keys(c) {
        return Some(((0, 1), values.iter().map(|v| Range { lower: exact(v), upper: exact(v) }).collect()));
    }
    range_of(c).map(|r| ((0, 1), vec![r]))
}

impl Bound {
    fn open(mut self, open: bool) -> Bound {
        self.open = open;
        self
    }
}

/// A bound on an index of `n` fields whose first fields equal `prefix`: a scalar on a
/// single-field index, else an array. `top` makes it cover every longer key that starts
/// with it, by an empty array after it, which sorts above every string and number
/// (compound indexes hold scalar fields; a nested array there can sort past it).
fn compound_key(prefix: &[Value], last: Option<Value>, top: bool, n: usize) -> Bound {
    let mut parts = prefix.to_vec();
    parts.extend(last);
    if n == 1 {
        // Single field: `last` is the whole key (`None` only with an empty prefix, which
        // `candidate` never asks for; the empty array then bounds nothing wrongly).
        return Bound { key: parts.pop().unwrap_or(Value::Array(Vec::new())), open: false };
    }
    if top && parts.len() < n {
        parts.push(Value::Array(Vec::new()));
    }
    Bound { key: Value::Array(parts), open: false }
}

impl Range {
    /// A single-field range whose end came from no operator is unbounded there.
    fn unbounded_ends(self) -> Range {
        let bounded = |b: Option<Bound>| b.filter(|b| b.key != Value::Array(Vec::new()));
        Range { lower: bounded(self.lower), upper: bounded(self.upper) }
    }
}
