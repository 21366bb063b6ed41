//! Live results without a read (`watch`): how a page a watch holds changes when one
//! record does, decided from the page and the changed record alone, or `Reread` where
//! the answer depends on records the page does not hold. Exact by construction: the page
//! is the first `limit` records of the query's order after its cursor, so a record that
//! stays within the records the page holds (or that the page holds all of) has a known
//! place; one that leaves a page with records beyond it lets in a record nobody has read.

use std::cmp::Ordering;

use serde_json::Value;

use super::exec::{compare_positions, matches, order_values, Candidate};
use super::Query;
use crate::value::AppValue;

/// What a page becomes after one record changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The page stays as it is (the record is not in it and does not enter it).
    Unchanged,
    /// Take out the row at `remove`, then put the changed record at `insert` (a place
    /// among the rows left), then drop the last row if `truncate`. `more`: records may
    /// follow the page (an upper bound: `false` only when the page holds every match).
    Apply { remove: Option<usize>, insert: Option<usize>, truncate: bool, more: bool },
    /// Not knowable from the page: read the query again.
    Reread,
}

impl Edit {
    /// Whether the page's records change (not only what is known beyond them).
    pub fn changes_rows(self) -> bool {
        matches!(self, Edit::Apply { remove, insert, .. } if remove.is_some() || insert.is_some())
    }

    /// Carry out an `Apply` on `rows` (`changed` makes the row of the changed record);
    /// nothing for the others.
    pub fn apply<T>(self, rows: &mut Vec<T>, changed: impl FnOnce() -> T) {
        let Edit::Apply { remove, insert, truncate, .. } = self else { return };
        if let Some(at) = remove.filter(|&at| at < rows.len()) {
            rows.remove(at);
        }
        if let Some(at) = insert {
            rows.insert(at.min(rows.len()), changed());
        }
        if truncate {
            rows.pop();
        }
    }
}

/// The changed record as a query sees it.
struct Changed<'a, V> {
    key: &'a str,
    value: &'a V,
}

impl<V: AppValue> Candidate for Changed<'_, V> {
    fn key(&self) -> &str {
        self.key
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.value.field(name)
    }
}

/// How `page` (the query's answer, in order; `more` if records may follow it) changes
/// when the record `key` becomes `value` (`None`: deleted).
pub fn edit<R: Candidate, V: AppValue>(query: &Query, page: &[R], more: bool, key: &str, value: Option<&V>) -> Edit {
    let limit = query.limit.unwrap_or(usize::MAX);
    // A page with records beyond it is a full one; anything else was not `finish`'s.
    if more && page.len() != limit {
        return Edit::Reread;
    }
    let remove = page.iter().position(|r| r.key() == key);
    // Where the changed record goes, if it is in the answer at all (matches, can be
    // ordered, comes after the cursor).
    let position = value.and_then(|value| {
        let changed = Changed { key, value };
        if !matches(query, &changed) {
            return None;
        }
        let values = order_values(&query.order, &changed)?;
        let after = query.after.as_ref().map_or(Ordering::Greater, |after| {
            compare_positions(&query.order, (&values, key), (&after.values, &after.key))
        });
        after.is_gt().then_some(values)
    });
    let place = |values: &[Value]| -> Option<Ordering> {
        // The boundary of what the page knows: its last row, as it was before the change.
        let last = page.last()?;
        let last_values = order_values(&query.order, last)?;
        Some(compare_positions(&query.order, (values, key), (&last_values, last.key())))
    };
    let fits = match &position {
        None => false,
        Some(_) if !more => true,
        Some(values) => match place(values) {
            Some(o) => o.is_le(),
            None => return Edit::Reread,
        },
    };
    if !fits {
        return match remove {
            None => Edit::Unchanged,
            // Left a page holding every match: one row fewer. Left a full page with
            // records beyond it: the first of those is unknown.
            Some(at) if !more => Edit::Apply { remove: Some(at), insert: None, truncate: false, more: false },
            Some(_) => Edit::Reread,
        };
    }
    let Some(values) = position else { return Edit::Reread };
    // Its place among the rows left (every row's position differs from its own: keys
    // are unique and its old row is out).
    let mut insert = 0;
    for (at, row) in page.iter().enumerate() {
        if Some(at) == remove {
            continue;
        }
        let Some(row_values) = order_values(&query.order, row) else { return Edit::Reread };
        if compare_positions(&query.order, (&row_values, row.key()), (&values, key)).is_lt() {
            insert += 1;
        } else {
            break;
        }
    }
    let rows = page.len() - usize::from(remove.is_some()) + 1;
    let truncate = rows > limit;
    if truncate && insert + 1 == rows {
        // It would go last in a page already full: the page stays, records follow it.
        return Edit::Apply { remove: None, insert: None, truncate: false, more: true };
    }
    Edit::Apply { remove, insert: Some(insert), truncate, more: more || truncate }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::{edit, Edit};
    use crate::config::{ClientConfig, CollectionConfig};
    use crate::query::cursor::Position;
    use crate::query::exec::{compare_positions, order_values};
    use crate::query::Query;
    use crate::record::EntityRecord;
    use crate::store::conformance::naive;

    fn config() -> ClientConfig {
        let indexes = json!(["a", ["b", "c"], {"field": "tags", "multiEntry": true}, "s"]);
        ClientConfig::from_json(json!({"name": "q", "collections": {"t": {"key": "id", "indexes": indexes}}}))
            .expect("test config")
    }

    fn collection(config: &ClientConfig) -> &CollectionConfig {
        &config.collections[0]
    }

    fn record(key: &str, value: Value) -> EntityRecord {
        crate::query::tests::record(key.to_owned(), value)
    }

    /// What the query answers over `records`, as `finish` would: the page, and whether
    /// records follow it.
    fn answer(query: &Query, records: &[EntityRecord]) -> (Vec<EntityRecord>, bool) {
        let after = |r: &&EntityRecord| match &query.after {
            None => true,
            Some(after) => order_values(&query.order, *r).is_some_and(|values| {
                compare_positions(&query.order, (&values, &r.key), (&after.values, &after.key)).is_gt()
            }),
        };
        let keys = naive(query, records);
        let mut all: Vec<EntityRecord> =
            keys.iter().filter_map(|k| records.iter().find(|r| &r.key == k)).filter(after).cloned().collect();
        let limit = query.limit.unwrap_or(usize::MAX);
        let more = all.len() > limit;
        all.truncate(limit);
        (all, more)
    }

    fn written(records: &mut Vec<EntityRecord>, key: &str, value: Option<&Value>) {
        records.retain(|r| r.key != key);
        if let Some(value) = value {
            records.push(record(key, value.clone()));
        }
    }

    fn query(q: Value) -> Query {
        Query::parse(collection(&config()), &q).expect("valid query")
    }

    fn step(q: &Query, page: &mut Vec<EntityRecord>, more: &mut bool, key: &str, value: Option<Value>) -> Edit {
        let e = edit(q, page, *more, key, value.as_ref());
        e.apply(page, || record(key, value.clone().unwrap_or(Value::Null)));
        if let Edit::Apply { more: m, .. } = e {
            *more = m;
        }
        e
    }

    #[test]
    fn a_record_moving_inside_a_limited_page_is_placed_without_a_read() {
        let q = query(json!({"where": {"a": {"gte": -5}}, "orderBy": "a", "limit": 3}));
        let records: Vec<EntityRecord> = (0..5).map(|i| record(&format!("k{i}"), json!({"a": i}))).collect();
        let (mut page, mut more) = answer(&q, &records);
        assert!(more);
        // k1 moves before k0: same page, new order.
        assert!(matches!(step(&q, &mut page, &mut more, "k1", Some(json!({"a": -1}))), Edit::Apply { .. }));
        assert_eq!(page.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["k1", "k0", "k2"]);
        // A new record inside the page pushes the last one out.
        let e = step(&q, &mut page, &mut more, "n", Some(json!({"a": 0.5})));
        assert_eq!(e, Edit::Apply { remove: None, insert: Some(2), truncate: true, more: true });
        assert_eq!(page.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["k1", "k0", "n"]);
        // Beyond the page: nothing to do; out of it: the next record is unknown.
        assert_eq!(step(&q, &mut page, &mut more, "k4", Some(json!({"a": 9}))), Edit::Unchanged);
        assert_eq!(step(&q, &mut page, &mut more, "k0", Some(json!({"a": 9}))), Edit::Reread);
        assert_eq!(step(&q, &mut page, &mut more, "k0", None), Edit::Reread);
        // Without a limit the page holds everything: a deletion is known.
        let q = query(json!({"orderBy": "-a"}));
        let (mut page, mut more) = answer(&q, &records);
        assert!(matches!(step(&q, &mut page, &mut more, "k2", None), Edit::Apply { remove: Some(2), .. }));
        assert_eq!(page.len(), 4);
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            (-3i64..4).prop_map(Value::from),
            prop::sample::select(vec!["", "a", "ab", "b"]).prop_map(Value::from),
            Just(json!(true)),
            Just(json!(1.5)),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let tags = prop::collection::vec(prop::sample::select(vec!["red", "blue"]).prop_map(Value::from), 0..3);
        (
            prop::option::of(scalar()),
            prop::option::of(prop::sample::select(vec!["x", "y"])),
            prop::option::of(0i64..4),
            prop::option::of(tags),
            prop::option::of(prop::sample::select(vec!["", "a", "ab", "b"])),
        )
            .prop_map(|(a, b, c, tags, s)| {
                let mut v = json!({});
                for (field, x) in [
                    ("a", a),
                    ("b", b.map(Value::from)),
                    ("c", c.map(Value::from)),
                    ("tags", tags.map(Value::Array)),
                    ("s", s.map(Value::from)),
                ] {
                    if let Some(x) = x {
                        v[field] = x;
                    }
                }
                v
            })
    }

    fn key(i: usize) -> String {
        format!("k{i:02}")
    }

    fn the_query() -> impl Strategy<Value = Value> {
        let condition = prop_oneof![
            Just(json!({})),
            Just(json!({"a": {"gte": 0}})),
            Just(json!({"a": {"gt": -1, "lt": 3}})),
            Just(json!({"b": "x"})),
            Just(json!({"b": "x", "c": {"gte": 1}})),
            Just(json!({"tags": "red"})),
            Just(json!({"s": {"startsWith": "a"}})),
            Just(json!({"c": {"in": [0, 2]}})),
        ];
        let order = prop::sample::select(vec![
            json!(null),
            json!("a"),
            json!("-a"),
            json!("c"),
            json!(["b", "-c"]),
            json!("-s"),
        ]);
        (condition, order, prop::option::of(1usize..5))
            .prop_map(|(w, o, limit)| json!({"where": w, "orderBy": o, "limit": limit}))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// After each of a run of writes, the page a watch holds (edited in memory, or
        /// read again where the edit says so) equals the query run again from scratch,
        /// values included; `more` never says a page is complete when it is not.
        #[test]
        fn an_edited_page_equals_the_query_run_again(
            initial in prop::collection::vec(prop::option::of(value()), 0..14),
            q in the_query(),
            skip in prop::option::of(0usize..6),
            writes in prop::collection::vec((0usize..16, prop::option::of(value())), 1..8),
        ) {
            let mut records: Vec<EntityRecord> = initial
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_ref().map(|v| record(&key(i), v.clone())))
                .collect();
            let mut q = query(q.clone());
            // Sometimes a later page: `after` the position of one of the answer's records.
            if let Some(skip) = skip {
                let keys = naive(&q, &records);
                if let Some(r) = keys.get(skip).and_then(|k| records.iter().find(|r| &r.key == k)) {
                    let values = order_values(&q.order, r).expect("an ordered record");
                    q.after = Some(Position { values, key: r.key.clone() });
                }
            }
            let (mut page, mut more) = answer(&q, &records);
            for (i, value) in writes {
                let k = key(i);
                let before = page.clone();
                written(&mut records, &k, value.as_ref());
                let e = step(&q, &mut page, &mut more, &k, value);
                if e == Edit::Reread {
                    prop_assert!(q.limit.is_some(), "a page without a limit holds every match");
                    (page, more) = answer(&q, &records);
                    continue;
                }
                let (expected, expected_more) = answer(&q, &records);
                prop_assert!(e.changes_rows() || page == before, "{:?}", e);
                prop_assert_eq!(&page, &expected, "after writing {} ({:?})", k, e);
                prop_assert!(more || !expected_more, "claims complete: {:?}", e);
            }
        }
    }
}
