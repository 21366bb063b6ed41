//! The query reader (the checks are js/values.js's), the planner's choices, and the property that the
//! planner's answer, page by page, equals a naive filter-and-sort of the same records.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::exec::Answer;
use super::keys::is_key;
use super::plan::plan;
use super::{Op, Query};
use crate::config::{ClientConfig, CollectionConfig};
use crate::record::EntityRecord;
use crate::store::conformance::naive;
use crate::store::memory::MemoryStore;
use crate::store::Store;

fn config() -> ClientConfig {
    let indexes = json!(["a", ["b", "c"], {"field": "tags", "multiEntry": true}, "s", ["b", "s"]]);
    ClientConfig::from_json(json!({"name": "q", "collections": {"t": {"key": "id", "indexes": indexes}}}))
        .expect("test config")
}

fn collection(config: &ClientConfig) -> &CollectionConfig {
    &config.collections[0]
}

fn parse(q: Value) -> Result<Query, crate::Error> {
    Query::parse(collection(&config()), &q)
}

fn explain(q: Value) -> Value {
    let config = config();
    let query = Query::parse(collection(&config), &q).expect("valid query");
    plan(collection(&config), &query).explain()
}

#[test]
fn a_cursor_of_another_query_is_refused_by_the_reader() {
    // The rest of a query's checks are js/values.js's (e2e/values-script.test.mjs).
    let reason = |q: Value| match parse(q) {
        Err(crate::Error::InvalidQuery { collection, reason }) if collection == "t" => reason,
        other => panic!("expected invalid-query, got {other:?}"),
    };
    assert!(reason(json!({"after": "00"})).contains("not a cursor of this query"));
    let first = parse(json!({"orderBy": "a", "limit": 1})).unwrap();
    let next = super::cursor::encode(
        first.fingerprint,
        &super::cursor::Position { values: vec![json!("x")], key: "k".into() },
    );
    assert!(parse(json!({"orderBy": "a", "limit": 1, "after": next.clone()})).is_ok());
    assert!(reason(json!({"orderBy": "b", "after": next})).contains("not a cursor of this query"));
    assert_eq!((first.order.len(), first.limit), (1, Some(1)));
}

#[test]
fn each_part_of_a_query_is_read() {
    let q =
        parse(json!({"where": {"a": 1, "b": {"gte": 2, "lt": 5}, "c": {"in": [1, null]}, "tags": {"startsWith": "x"}},
        "orderBy": ["-b", "a"], "limit": 3}))
        .unwrap();
    let ops: Vec<(&str, &[Op], bool)> =
        q.conditions.iter().map(|c| (c.field.as_str(), c.ops.as_slice(), c.multi_entry)).collect();
    assert_eq!(
        ops,
        [
            ("a", &[Op::Eq(json!(1))][..], false),
            ("b", &[Op::Gte(json!(2)), Op::Lt(json!(5))][..], false),
            ("c", &[Op::In(vec![json!(1), Value::Null])][..], false),
            ("tags", &[Op::StartsWith("x".into())][..], true),
        ]
    );
    let order: Vec<(&str, bool)> = q.order.iter().map(|t| (t.field.as_str(), t.descending)).collect();
    assert_eq!(order, [("b", true), ("a", false)]);
    assert_eq!((q.limit, q.after.is_none()), (Some(3), true));
    let none = parse(Value::Null).unwrap();
    assert!(none.conditions.is_empty() && none.order.is_empty() && none.limit.is_none());
}

#[test]
fn the_planner_prefers_equality_then_range_then_order() {
    let index = |q: Value| explain(q)["index"].clone();
    assert_eq!(explain(json!({})), json!({"index": null, "scan": true, "orderByIndex": true}));
    assert_eq!(explain(json!({"orderBy": "c"})), json!({"index": null, "scan": true, "orderByIndex": false}));
    assert_eq!(index(json!({"where": {"a": 1}})), json!("a"));
    assert_eq!(index(json!({"where": {"a": {"gt": 1}}})), json!("a"));
    assert_eq!(index(json!({"where": {"a": true}})), json!(null), "booleans are not keys");
    assert_eq!(index(json!({"where": {"b": "x"}})), json!(null), "c is neither bound nor ordered");
    assert_eq!(index(json!({"where": {"b": "x", "c": {"gte": 2}}})), json!("[b+c]"));
    assert_eq!(index(json!({"where": {"b": "x", "s": {"startsWith": "a"}}})), json!("[b+s]"));
    assert_eq!(index(json!({"where": {"a": 1, "b": "x", "c": 2}})), json!("[b+c]"));
    assert_eq!(index(json!({"where": {"tags": "red"}})), json!("*tags"));
    assert_eq!(index(json!({"where": {"s": {"in": ["a", "b"]}}})), json!("s"));
    let ordered = explain(json!({"where": {"b": "x"}, "orderBy": "-c"}));
    assert_eq!(ordered, json!({"index": "[b+c]", "scan": false, "orderByIndex": true}));
    assert_eq!(explain(json!({"orderBy": "a"}))["orderByIndex"], json!(true));
    assert_eq!(explain(json!({"where": {"s": {"gt": "a"}}, "orderBy": "a"}))["orderByIndex"], json!(false));
    let exact = |q: Value| {
        let config = config();
        let query = Query::parse(collection(&config), &q).expect("valid query");
        plan(collection(&config), &query).exact
    };
    assert!(exact(json!({"where": {"a": {"gte": 1, "lt": 3}}})));
    assert!(exact(json!({"where": {"b": "x", "c": {"gt": 1}}})));
    assert!(exact(json!({"where": {"s": {"in": ["a", "b", "a"]}}})));
    assert!(!exact(json!({"where": {"s": {"startsWith": "a"}}})), "U+FFFF");
    assert!(!exact(json!({"where": {"tags": "red"}})), "multi-entry");
    assert!(!exact(json!({"where": {"a": 1, "s": "b"}})), "a condition the index does not hold");
    assert!(!exact(json!({})));
    assert!(exact(json!({"where": {"a": {"gte": 1}}, "orderBy": "a"})));
    assert!(!exact(json!({"where": {"b": "x"}, "orderBy": "-c"})), "c unbound: [x, [1]] sorts past [x, []]");
    assert!(!exact(json!({"orderBy": "a"})), "a unbound");
    assert!(!exact(json!({"where": {"s": {"gt": "a"}}, "orderBy": "a"})), "a is not in the index");
}

// ---- the property: planned answer == naive answer ----

pub(super) fn record(key: String, value: Value) -> EntityRecord {
    EntityRecord {
        key,
        value: Some(value),
        version: None,
        base: None,
        hlc: String::new(),
        pending: 0,
        updated_at: 0.0,
        conflict: None,
        revived: false,
    }
}

#[test]
fn an_answer_holds_each_key_once_as_first_read() {
    // A multi-entry index or overlapping `in` ranges read a record more than once.
    let config = config();
    let read = [
        record("b".into(), json!({"a": 2})),
        record("a".into(), json!({"a": 1})),
        record("b".into(), json!({"a": 2})),
        record("a".into(), json!({"a": 1})),
        record("c".into(), json!({"a": 3})),
    ];
    let candidates: Vec<&dyn super::exec::Candidate> = read.iter().map(|r| r as &dyn super::exec::Candidate).collect();
    let page = |q: Value| {
        let query = Query::parse(collection(&config), &q).expect("valid query");
        super::exec::finish(&query, &candidates)
    };
    assert_eq!(page(json!({})).picked, vec![1, 0, 4]);
    assert_eq!(page(json!({"orderBy": "-a"})).picked, vec![4, 0, 1]);
    let first = page(json!({"limit": 1}));
    assert_eq!(first.picked, vec![1]);
    let rest = page(json!({"after": first.next.expect("a next page")}));
    assert_eq!(rest.picked, vec![0, 4], "a page after the first repeats nothing");
}

/// Every page of the planned answer, following `next`, on the memory store.
fn paged(config: &ClientConfig, q: &Value, records: &[EntityRecord]) -> (Vec<String>, usize) {
    let store = MemoryStore::new(config);
    pollster::block_on(async {
        store.open_meta("c").await.expect("meta");
        let writes = crate::model::Writes {
            records: records.iter().map(|r| (("t".to_owned(), r.key.clone()), Some(r.clone()))).collect(),
            ..Default::default()
        };
        store.transact(&[], crate::store::Durability::Default, |_| Ok((writes, ()))).await.expect("stored");
        let (mut keys, mut pages, mut after) = (Vec::new(), 0, Value::Null);
        loop {
            let mut q = q.clone();
            q["after"] = after;
            let query = Query::parse(collection(config), &q).expect("valid query");
            let Answer { records, next } =
                store.query(&query, &plan(collection(config), &query)).await.expect("answer");
            keys.extend(records.into_iter().map(|r| r.key));
            pages += 1;
            match next {
                Some(cursor) if pages < 100 => after = Value::String(cursor),
                _ => return (keys, pages),
            }
        }
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..4).prop_map(Value::from),
        prop::sample::select(vec!["", "a", "ab", "b", "ba", "\u{e9}", "\u{10000}"]).prop_map(Value::from),
        Just(json!(true)),
        Just(json!(null)),
        Just(json!(1.5)),
    ]
}

fn value(i: usize) -> impl Strategy<Value = Value> {
    let tags = prop::collection::vec(prop::sample::select(vec!["red", "green", "blue"]).prop_map(Value::from), 0..3);
    (
        prop::option::of(scalar()),
        prop::option::of(prop::sample::select(vec!["x", "y"])),
        prop::option::of(0i64..4),
        prop::option::of(prop_oneof![tags.prop_map(Value::Array), scalar()]),
        prop::option::of(prop::sample::select(vec!["", "a", "ab", "abc", "b", "ba"])),
    )
        .prop_map(move |(a, b, c, tags, s)| {
            let mut v = json!({"id": format!("k{i:02}")});
            for (field, x) in [
                ("a", a),
                ("b", b.map(Value::from)),
                ("c", c.map(Value::from)),
                ("tags", tags),
                ("s", s.map(Value::from)),
            ] {
                if let Some(x) = x {
                    v[field] = x;
                }
            }
            v
        })
}

fn records() -> impl Strategy<Value = Vec<EntityRecord>> {
    (0usize..25).prop_flat_map(|n| (0..n).map(value).collect::<Vec<_>>()).prop_map(|values| {
        values.into_iter().map(|v| record(v["id"].as_str().map(str::to_owned).unwrap_or_default(), v)).collect()
    })
}

fn condition() -> impl Strategy<Value = (String, Value)> {
    let field = prop::sample::select(vec!["a", "b", "c", "tags", "s"]);
    let op = prop::sample::select(vec!["gt", "gte", "lt", "lte"]);
    let bound = prop_oneof![
        (-3i64..4).prop_map(Value::from),
        prop::sample::select(vec!["a", "b", "x", "red"]).prop_map(Value::from)
    ];
    let operand = prop_oneof![
        scalar(),
        (op.clone(), bound.clone()).prop_map(|(op, b)| json!({ op: b })),
        (op.clone(), bound.clone(), op, bound.clone()).prop_map(|(o1, b1, o2, b2)| {
            let mut m = serde_json::Map::new();
            m.insert(o1.to_owned(), b1);
            m.insert(o2.to_owned(), b2);
            Value::Object(m)
        }),
        prop::collection::vec(prop_oneof![scalar(), bound.clone()], 0..3).prop_map(|v| json!({"in": v})),
        prop::collection::vec(scalar().prop_filter("a key", is_key), 1..3).prop_map(|v| json!({"in": v})),
        prop::sample::select(vec!["", "a", "ab", "r", "x"]).prop_map(|p| json!({"startsWith": p})),
        prop::sample::select(vec!["x", "red", "blue"]).prop_map(Value::from),
    ];
    (field, operand).prop_map(|(f, o)| (f.to_owned(), o))
}

fn query() -> impl Strategy<Value = Value> {
    let order = prop::sample::subsequence(vec!["a", "-a", "b", "c", "-c", "s", "-s"], 0..3);
    (prop::collection::vec(condition(), 0..3), order, prop::option::of(1usize..6)).prop_map(|(conds, order, limit)| {
        let mut order: Vec<&str> = order;
        order.dedup_by(|x, y| x.trim_start_matches('-') == y.trim_start_matches('-'));
        let filter: serde_json::Map<String, Value> = conds.into_iter().collect();
        json!({"where": filter, "orderBy": order, "limit": limit})
    })
}

/// Every page of `q` read as IndexedDB reads a plan with a limit (`walk::Walk`): forward
/// in `getAll(range, count)` batches resumed from the last record read, backwards one by
/// one through a cursor, stopping once the walk has enough. `None` if the plan cannot
/// stop early. The index is simulated: live records with a key in the plan's index,
/// sorted by index key, then primary key.
fn walked(config: &ClientConfig, q: &Value, records: &[EntityRecord]) -> Option<(Vec<String>, usize)> {
    use super::exec::Candidate;
    use super::keys::compare;
    use super::plan::Plan;
    use super::walk::{cursor_after, Walk};
    use crate::record::key_order;

    let first = Query::parse(collection(config), q).expect("valid query");
    let index = plan(collection(config), &first).index?;
    let mut entries: Vec<(Value, &EntityRecord)> = records
        .iter()
        .filter(|r| r.value.is_some())
        .filter_map(|r| Plan::index_keys(&index, &|f| r.field(f)).pop().map(|k| (k, r)))
        .collect();
    entries.sort_by(|a, b| compare(&a.0, &b.0).then_with(|| key_order(&a.1.key, &b.1.key)));
    let (mut keys, mut pages, mut after) = (Vec::new(), 0, Value::Null);
    loop {
        let mut q = q.clone();
        q["after"] = after;
        let query = Query::parse(collection(config), &q).expect("valid query");
        let mut walk = Walk::new(&plan(collection(config), &query), &query)?;
        // What a store that takes `one_read` at its word answers (IndexedDB's
        // `page_values`): the first `batch()` records of the range, the first `limit` of
        // them the page, `next` after the last of those when more were read.
        let one_read = walk.range().filter(|_| walk.one_read()).map(|range| {
            let read: Vec<&EntityRecord> =
                entries.iter().filter(|(k, _)| range.contains(k)).map(|(_, r)| *r).take(walk.batch()).collect();
            let limit = query.limit.expect("a walk has a limit");
            let next = limit.checked_sub(1).filter(|_| read.len() > limit).and_then(|i| cursor_after(&query, read[i]));
            (read.iter().take(limit).map(|r| r.key.clone()).collect::<Vec<_>>(), next)
        });
        let mut kept: Vec<&EntityRecord> = Vec::new();
        let mut reads = 0;
        while let Some(range) = walk.range().cloned() {
            reads += 1;
            assert!(reads < 1000, "{q}: the walk does not end");
            let in_range = entries.iter().filter(|(k, _)| range.contains(k)).map(|(_, r)| *r);
            if walk.reverse {
                // A cursor: one walk to the end or until done.
                for r in in_range.rev() {
                    if walk.offer(&query, r) {
                        kept.push(r);
                    }
                    if walk.done() {
                        break;
                    }
                }
                break;
            }
            let batch: Vec<&EntityRecord> = in_range.take(walk.batch()).collect();
            for r in &batch {
                if walk.offer(&query, *r) {
                    kept.push(r);
                }
            }
            match batch.last() {
                Some(last) if batch.len() >= walk.batch() && !walk.done() => {
                    assert!(walk.resume_after(&query, *last), "{q}: no index key for {last:?}");
                }
                _ => break,
            }
        }
        let candidates: Vec<&dyn Candidate> = kept.iter().map(|r| *r as &dyn Candidate).collect();
        let page = walk.page(&query, &candidates);
        let picked: Vec<String> = page.picked.iter().map(|&at| kept[at].key.clone()).collect();
        if let Some((one_keys, one_next)) = one_read {
            assert_eq!((&picked, &page.next), (&one_keys, &one_next), "{q}: one read answers otherwise");
        }
        keys.extend(picked);
        pages += 1;
        match page.next {
            Some(cursor) if pages < 100 => after = Value::String(cursor),
            _ => return Some((keys, pages)),
        }
    }
}

#[test]
fn a_walk_resumes_past_a_run_of_equal_keys_longer_than_its_batch() {
    let config = config();
    // Sixty records with a = 1 (one index key); c = 0 on the first nineteen and on k50.
    // With a limit of 20 the second batch (16) lies wholly inside what was read: only a
    // growing batch gets past the run, and the position read so far must not go back.
    let records: Vec<EntityRecord> = (0..60)
        .map(|i| {
            let c = if i < 19 || i == 50 { 0 } else { 1 };
            record(format!("k{i:02}"), json!({"id": format!("k{i:02}"), "a": 1, "c": c}))
        })
        .collect();
    for q in [json!({"where": {"c": 0}, "orderBy": "a", "limit": 20}), json!({"orderBy": "a", "limit": 7})] {
        let query = Query::parse(collection(&config), &q).expect("valid query");
        let (got, _) = walked(&config, &q, &records).expect("a walk");
        assert_eq!(got, naive(&query, &records), "{q}");
    }
}

#[test]
fn a_descending_order_on_a_field_fixed_by_equality_walks_the_index_backwards() {
    let config = config();
    // Every record has a = 1.5: the order by -a leaves the key to decide, descending.
    let records: Vec<EntityRecord> =
        (0..3).map(|i| record(format!("k{i:02}"), json!({"id": format!("k{i:02}"), "a": 1.5}))).collect();
    let q = json!({"where": {"a": 1.5}, "orderBy": ["-a"], "limit": 1});
    let query = Query::parse(collection(&config), &q).expect("valid query");
    assert!(plan(collection(&config), &query).reverse);
    let (got, pages) = walked(&config, &q, &records).expect("a walk");
    assert_eq!(got, ["k02", "k01", "k00"]);
    assert_eq!(pages, 3);
}

#[test]
fn a_multi_entry_condition_meets_the_elements_an_index_holds() {
    // IndexedDB's multi-entry index holds the elements that are keys (strings, numbers,
    // arrays); `true`, `false` and `null` elements are in no index, so a scan leaves them
    // out too (README "Queries"), and planned and scanned answers agree.
    let config = config();
    let records = vec![
        record("k1".into(), json!({"id": "k1", "tags": [true, "red", null]})),
        record("k2".into(), json!({"id": "k2", "tags": "red"})),
        record("k3".into(), json!({"id": "k3", "tags": [false, 2]})),
    ];
    let keys = |q: Value| paged(&config, &q, &records).0;
    assert_eq!(keys(json!({"where": {"tags": "red"}})), ["k1", "k2"]);
    assert_eq!(keys(json!({"where": {"tags": {"gt": 1, "lt": 5}}})), ["k3"]);
    assert!(keys(json!({"where": {"tags": true}})).is_empty());
    assert!(keys(json!({"where": {"tags": false}})).is_empty());
    assert!(keys(json!({"where": {"tags": null}})).is_empty());
}

#[test]
fn starts_with_through_an_index_reads_every_string_with_the_prefix() {
    // The index range ends at the prefix's successor in UTF-16 order, so a string going
    // on past any number of U+FFFF, or with a character of two code units, is read too.
    let config = config();
    let values = ["a", "ab", "a\u{ffff}\u{ffff}\u{ffff}z", "a\u{10000}", "a\u{10ffff}", "b", "\u{d7ff}", "\u{10000}x"];
    let records: Vec<EntityRecord> = values
        .iter()
        .enumerate()
        .map(|(i, v)| record(format!("k{i}"), json!({"id": format!("k{i}"), "s": v})))
        .collect();
    let keys = |prefix: &str| paged(&config, &json!({"where": {"s": {"startsWith": prefix}}}), &records).0;
    assert_eq!(explain(json!({"where": {"s": {"startsWith": "a"}}}))["index"], json!("s"));
    assert_eq!(keys("a"), ["k0", "k1", "k2", "k3", "k4"]);
    assert_eq!(keys("a\u{ffff}"), ["k2"]);
    assert_eq!(keys("\u{d7ff}"), ["k6"]);
    assert_eq!(keys("\u{10000}"), ["k7"]);
    assert_eq!(keys("a\u{10ffff}"), ["k4"]);
    assert_eq!(keys("\u{ffff}").len(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_walk_that_stops_at_the_limit_pages_like_a_naive_filter_and_sort(records in records(), q in query()) {
        let config = config();
        // `query()` makes only queries js/values.js lets through (orders without a field
        // twice or a multi-entry one), so the reader reads each.
        let query = Query::parse(collection(&config), &q).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Some((got, pages)) = walked(&config, &q, &records) {
            let expected = naive(&query, &records);
            prop_assert_eq!(&got, &expected, "plan {:?}", plan(collection(&config), &query));
            let per_page = query.limit.unwrap_or(usize::MAX);
            prop_assert_eq!(pages, expected.len().div_ceil(per_page).max(1));
        }
    }

    #[test]
    fn the_planned_answer_equals_a_naive_filter_and_sort(records in records(), q in query()) {
        let config = config();
        let query = Query::parse(collection(&config), &q).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = naive(&query, &records);
        let (got, pages) = paged(&config, &q, &records);
        prop_assert_eq!(&got, &expected, "plan {:?}", plan(collection(&config), &query));
        let planned = plan(collection(&config), &query);
        if planned.exact {
            // An exact plan's ranges select the matching records, and only those.
            let selected = super::exec::select(&planned, records.iter().filter(|r| r.value.is_some())).len();
            prop_assert_eq!(selected, expected.len(), "exact plan {:?}", planned);
        }
        let per_page = query.limit.unwrap_or(usize::MAX);
        prop_assert_eq!(pages, expected.len().div_ceil(per_page).max(1));
    }
}
