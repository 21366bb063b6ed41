//! Queries and live results through the JS API (issue 17), on IndexedDB and, where the
//! answer must not depend on the store, on memory too. Runs in every browser scope.

use js_sys::{Array, Function, Promise, Reflect, JSON};
use pwa_sync::api::SyncClient;
use pwa_sync::idb::IdbStore;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::support::{field, js, ok, raw, recorder as events, unique};

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap_or_else(|e| panic!("bad test JSON {text}: {e:?}"))
}

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

fn config(name: &str, storage: &str) -> JsValue {
    json(&format!(
        r#"{{"name": "{name}", "storage": "{storage}", "collections": {{
            "sessions": {{"key": "id", "indexes": ["start", ["day", "start"], {{"field": "tags", "multiEntry": true}}, "title"]}},
            "notes": {{"key": "id"}}}}}}"#
    ))
}

async fn open(name: &str, storage: &str) -> SyncClient {
    SyncClient::open(config(name, storage)).await.unwrap_or_else(|e| panic!("open {name}: {e:?}"))
}

async fn done(client: SyncClient, name: &str) {
    client.close();
    IdbStore::delete_database(name).await.unwrap();
}

const SESSIONS: &str = r#"[
    {"id": "s1", "day": 1, "start": 900, "title": "Keynote", "tags": ["talk", "main"], "room": "A"},
    {"id": "s2", "day": 1, "start": 1030, "title": "Rust in the browser", "tags": ["talk", "rust"], "room": "B"},
    {"id": "s3", "day": 1, "start": 1030, "title": "Lunch", "tags": [], "room": "A"},
    {"id": "s4", "day": 2, "start": 900, "title": "Rust workshop", "tags": ["workshop", "rust"], "room": "C"},
    {"id": "s5", "day": 2, "start": 1400, "title": "Closing", "tags": ["main"], "room": "A"},
    {"id": "s6", "day": 2, "title": "Unscheduled", "tags": "rust", "room": "B"}
]"#;

async fn seeded(storage: &str) -> (SyncClient, String) {
    let name = unique(&format!("query-{storage}"));
    let client = open(&name, storage).await;
    ok(client.put_many(s("sessions"), json(SESSIONS))).await;
    (client, name)
}

/// The ids of a query's records (one page).
async fn ids(client: &SyncClient, query: &str) -> Vec<String> {
    let page = ok(client.query(s("sessions"), json(query))).await;
    let records: Array = field(&page, "records").unchecked_into();
    records.iter().map(|r| field(&r, "id").as_string().unwrap()).collect()
}

async fn rejection_code(promise: Promise) -> String {
    match JsFuture::from(promise).await {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(e) => {
            assert!(e.is_instance_of::<js_sys::Error>(), "not an Error: {e:?}");
            assert_eq!(field(&e, "name"), "PwaSyncError");
            field(&e, "code").as_string().unwrap_or_default()
        }
    }
}

#[wasm_bindgen_test]
async fn every_operator_and_order_answers_alike_on_indexeddb_and_memory() {
    for storage in ["indexeddb", "memory"] {
        let (c, name) = seeded(storage).await;
        let cases: [(&str, &[&str]); 17] = [
            (r#"{}"#, &["s1", "s2", "s3", "s4", "s5", "s6"]),
            (r#"{"where": {"room": "A"}}"#, &["s1", "s3", "s5"]),
            (r#"{"where": {"start": {"gt": 900}}}"#, &["s2", "s3", "s5"]),
            (r#"{"where": {"start": {"gte": 1030}}, "orderBy": "-start"}"#, &["s5", "s3", "s2"]),
            (r#"{"where": {"start": {"lt": 1030}}}"#, &["s1", "s4"]),
            (r#"{"where": {"start": {"lte": 1030, "gt": 900}}}"#, &["s2", "s3"]),
            (r#"{"where": {"room": {"in": ["B", "C"]}}}"#, &["s2", "s4", "s6"]),
            (r#"{"where": {"start": {"in": [900, 1400]}}, "orderBy": "start"}"#, &["s1", "s4", "s5"]),
            (r#"{"where": {"title": {"startsWith": "Rust"}}}"#, &["s2", "s4"]),
            (r#"{"orderBy": "start"}"#, &["s1", "s4", "s2", "s3", "s5"]),
            (r#"{"orderBy": ["-day", "start"]}"#, &["s4", "s5", "s1", "s2", "s3"]),
            (r#"{"where": {"day": 1}, "orderBy": "-start"}"#, &["s3", "s2", "s1"]),
            (r#"{"where": {"day": 2, "start": {"gte": 1000}}}"#, &["s5"]),
            (r#"{"where": {"tags": "rust"}}"#, &["s2", "s4", "s6"]),
            (r#"{"where": {"tags": {"in": ["main", "talk"]}}, "orderBy": "start"}"#, &["s1", "s2", "s5"]),
            (r#"{"where": {"tags": {"startsWith": "work"}, "room": "C"}}"#, &["s4"]),
            (r#"{"where": {"room": "A"}, "orderBy": "-title", "limit": 2}"#, &["s3", "s1"]),
        ];
        for (query, expected) in cases {
            assert_eq!(ids(&c, query).await, expected, "{storage}: {query}");
        }
        done(c, &name).await;
    }
}

#[wasm_bindgen_test]
async fn explain_names_the_index_or_the_scan() {
    let (c, name) = seeded("indexeddb").await;
    let plan = |q: &str| {
        let p = c.explain(s("sessions"), json(q));
        async move { JSON::stringify(&ok(p).await).unwrap().as_string().unwrap() }
    };
    assert_eq!(plan(r#"{"where": {"room": "A"}}"#).await, r#"{"index":null,"orderByIndex":true,"scan":true}"#);
    assert_eq!(plan(r#"{"orderBy": "room"}"#).await, r#"{"index":null,"orderByIndex":false,"scan":true}"#);
    assert_eq!(
        plan(r#"{"where": {"start": {"gt": 1}}}"#).await,
        r#"{"index":"start","orderByIndex":false,"scan":false}"#
    );
    assert_eq!(
        plan(r#"{"where": {"day": 1}, "orderBy": "start"}"#).await,
        r#"{"index":"[day+start]","orderByIndex":true,"scan":false}"#
    );
    assert_eq!(plan(r#"{"where": {"tags": "rust"}}"#).await, r#"{"index":"*tags","orderByIndex":false,"scan":false}"#);
    done(c, &name).await;
}

#[wasm_bindgen_test]
async fn count_counts_what_matches() {
    for storage in ["indexeddb", "memory"] {
        let (c, name) = seeded(storage).await;
        assert_eq!(ok(c.count(s("sessions"), JsValue::UNDEFINED)).await, 6.0);
        assert_eq!(ok(c.count(s("sessions"), json(r#"{"where": {"tags": "main"}}"#))).await, 2.0);
        assert_eq!(ok(c.count(s("sessions"), json(r#"{"where": {"start": {"gte": 1000}}}"#))).await, 3.0);
        // Counted by the index alone (exact plans): a compound range, and `in` with a repeat.
        let compound = json(r#"{"where": {"day": 2, "start": {"lt": 1400}}}"#);
        assert_eq!(ok(c.count(s("sessions"), compound)).await, 1.0);
        assert_eq!(ok(c.count(s("sessions"), json(r#"{"where": {"start": {"in": [900, 900, 1030]}}}"#))).await, 4.0);
        ok(c.delete(s("sessions"), s("s2"))).await;
        assert_eq!(
            ok(c.count(s("sessions"), json(r#"{"where": {"start": {"gte": 1000}}}"#))).await,
            2.0,
            "tombstones do not count"
        );
        assert_eq!(rejection_code(c.count(s("sessions"), json(r#"{"limit": 2}"#))).await, "invalid-query");
        done(c, &name).await;
    }
}

#[wasm_bindgen_test]
async fn bad_queries_reject_with_invalid_query() {
    let (c, name) = seeded("indexeddb").await;
    for bad in [
        r#"{"where": {"start": {"near": 900}}}"#,
        r#"{"where": {"room": {"in": "A"}}}"#,
        r#"{"orderBy": "tags"}"#,
        r#"{"limit": -1}"#,
        r#"{"after": "not a cursor"}"#,
    ] {
        assert_eq!(rejection_code(c.query(s("sessions"), json(bad))).await, "invalid-query", "{bad}");
    }
    // A cursor of another query.
    let page = ok(c.query(s("sessions"), json(r#"{"orderBy": "start", "limit": 2}"#))).await;
    let next = field(&page, "next");
    assert!(next.is_string());
    let other = json(r#"{"orderBy": "-start", "limit": 2}"#);
    Reflect::set(&other, &"after".into(), &next).unwrap();
    assert_eq!(rejection_code(c.query(s("sessions"), other)).await, "invalid-query");
    // watch refuses at once, with a real error.
    let thrown =
        c.watch(s("sessions"), json(r#"{"where": {"x": {"bad": 1}}}"#), Function::new_no_args("").into()).err();
    assert_eq!(thrown.map(|e| field(&e, "code")), Some(s("invalid-query")));
    // A condition whose value is undefined (a value still loading) would vanish from the
    // query's JSON and match every session: refused, naming the field.
    let loading = || js("", "return { where: { day: undefined } }", &[]);
    let error = js("p", "return p.then(() => null, (e) => e)", &[c.query(s("sessions"), loading().await).into()]).await;
    assert_eq!(field(&error, "code"), s("invalid-query"));
    assert!(field(&error, "message").as_string().unwrap_or_default().contains("`where.day` is undefined"));
    // An operator's undefined operand would drop that bound: refused too.
    let bound = js("", "return { where: { day: { gte: undefined, lt: 5 } } }", &[]).await;
    assert_eq!(rejection_code(c.query(s("sessions"), bound)).await, "invalid-query");
    let listed = js("", "return { where: { day: { in: [1, undefined] } } }", &[]).await;
    assert_eq!(rejection_code(c.query(s("sessions"), listed)).await, "invalid-query");
    assert_eq!(rejection_code(c.count(s("sessions"), loading().await)).await, "invalid-query");
    let thrown = c.watch(s("sessions"), loading().await, Function::new_no_args("").into()).err();
    assert_eq!(thrown.map(|e| field(&e, "code")), Some(s("invalid-query")));
    done(c, &name).await;
}

#[wasm_bindgen_test]
async fn pages_neither_repeat_nor_skip_when_writes_land_between_them() {
    let (c, name) = seeded("indexeddb").await;
    let (mut seen, mut after, mut extra) = (Vec::<String>::new(), JsValue::NULL, 0);
    loop {
        let q = json(r#"{"where": {"start": {"gte": 0}}, "orderBy": "start", "limit": 2}"#);
        Reflect::set(&q, &"after".into(), &after).unwrap();
        let page = ok(c.query(s("sessions"), q)).await;
        let records: Array = field(&page, "records").unchecked_into();
        seen.extend(records.iter().map(|r| field(&r, "id").as_string().unwrap()));
        after = field(&page, "next");
        if after.is_null() {
            break;
        }
        // A new record before the cursor, and an edit of one already seen.
        extra += 1;
        let early = format!(r#"{{"id": "n{extra}", "day": 3, "start": 1, "title": "early"}}"#);
        ok(c.put(s("sessions"), json(&early))).await;
        ok(c.patch(s("sessions"), s("s1"), json(r#"{"title": "Keynote!"}"#))).await;
    }
    assert_eq!(seen, ["s1", "s4", "s2", "s3", "s5"], "the first records once each, in order, nothing skipped");
    assert_eq!(field(&ok(c.query(s("sessions"), JsValue::UNDEFINED)).await, "next"), JsValue::NULL);
    done(c, &name).await;
}

// ---- limit pushdown ----

/// A client on IndexedDB whose storage errors are recorded, holding sessions p01..pNN with
/// `start` 1..N (day 1).
async fn numbered_sessions(prefix: &str, n: usize) -> (SyncClient, String, super::support::Seen) {
    let name = unique(prefix);
    let (target, seen) = events(&["pwa-sync:storage-error"]);
    let cfg = config(&name, "indexeddb");
    Reflect::set(&cfg, &"eventTarget".into(), &target).unwrap();
    let c = SyncClient::open(cfg).await.unwrap_or_else(|e| panic!("open {name}: {e:?}"));
    let sessions: Vec<String> =
        (1..=n).map(|i| format!(r#"{{"id": "p{i:02}", "day": 1, "start": {i}, "title": "t{i}"}}"#)).collect();
    ok(c.put_many(s("sessions"), json(&format!("[{}]", sessions.join(","))))).await;
    (c, name, seen)
}

/// A page with a limit, served in order by an index, stops reading once it has the page
/// (and one record more, for `next`): records beyond it that cannot be read are not even
/// reached, in either direction; a query without a limit reads and reports them.
#[wasm_bindgen_test]
async fn a_page_served_by_an_index_reads_no_further_than_it_needs() {
    let (c, name, seen) = numbered_sessions("pushdown", 30).await;
    // Indexed under start -1 and 100 (the index reads `value.start`), but not records of
    // ours (a version that is not a number): reading them reports a storage error.
    for (key, start) in [("zlow", -1), ("zhigh", 100)] {
        let broken = format!(r#"{{"key": "{key}", "value": {{"id": "{key}", "start": {start}}}, "version": "x"}}"#);
        raw(&name, "sessions", "put", &[json(&broken)]).await;
    }
    let errors = || seen.borrow().len();
    // Forward: zhigh lies in the range, past the page; zlow is outside it.
    let forward = r#"{"where": {"start": {"gte": 0}}, "orderBy": "start", "limit": 5}"#;
    assert_eq!(ids(&c, forward).await, ["p01", "p02", "p03", "p04", "p05"]);
    let first = ok(c.query(s("sessions"), json(forward))).await;
    let second = json(forward);
    Reflect::set(&second, &"after".into(), &field(&first, "next")).unwrap();
    let page: Array = field(&ok(c.query(s("sessions"), second)).await, "records").unchecked_into();
    let page: Vec<String> = page.iter().map(|r| field(&r, "id").as_string().unwrap()).collect();
    assert_eq!(page, ["p06", "p07", "p08", "p09", "p10"]);
    // Backward (a cursor): zlow lies in the range, past the page; zhigh is outside it.
    let backward = ids(&c, r#"{"where": {"start": {"lte": 50}}, "orderBy": "-start", "limit": 5}"#).await;
    assert_eq!(backward, ["p30", "p29", "p28", "p27", "p26"]);
    assert_eq!(errors(), 0, "a limited page read past its end: {:?}", seen.borrow());
    // Without a limit the whole range is read, and both are reported.
    assert_eq!(ids(&c, r#"{"where": {"start": {"gte": -5}}, "orderBy": "start"}"#).await.len(), 30);
    assert_eq!(errors(), 2, "{:?}", seen.borrow());
    done(c, &name).await;
}

/// A first page one read answers is read and checked in the store's script; a stored
/// object in that read that is no record of ours sends the page down Rust's path, which
/// passes over it and reports it, so the page and its cursor are what that path gives.
#[wasm_bindgen_test]
async fn a_page_read_in_one_request_passes_over_what_is_no_record() {
    let (c, name, seen) = numbered_sessions("one-read", 10).await;
    let query = r#"{"where": {"start": {"gte": 0}}, "orderBy": "start", "limit": 4}"#;
    assert_eq!(ids(&c, query).await, ["p01", "p02", "p03", "p04"]);
    // Indexed at start 2, inside the page's read (not its last record), but with a
    // version that is no number.
    raw(&name, "sessions", "put", &[json(r#"{"key": "zmid", "value": {"id": "zmid", "start": 2}, "version": "x"}"#)])
        .await;
    let first = ok(c.query(s("sessions"), json(query))).await;
    assert_eq!(answer_ids(&field(&first, "records")), ["p01", "p02", "p03", "p04"]);
    assert_eq!(seen.borrow().len(), 1, "the unreadable record is reported: {:?}", seen.borrow());
    let second = json(query);
    Reflect::set(&second, &"after".into(), &field(&first, "next")).unwrap();
    let page = answer_ids(&field(&ok(c.query(s("sessions"), second)).await, "records"));
    assert_eq!(page, ["p05", "p06", "p07", "p08"]);
    // The last page, read in one request: no cursor.
    let last =
        ok(c.query(s("sessions"), json(r#"{"where": {"start": {"gte": 7}}, "orderBy": "start", "limit": 4}"#))).await;
    assert_eq!(Array::from(&field(&last, "records")).length(), 4);
    assert_eq!(field(&last, "next"), JsValue::NULL);
    done(c, &name).await;
}

/// Keyset pages read by a walk that stops at the limit (runs of equal index keys longer
/// than a batch, a condition no index serves, forward and backward) still neither repeat
/// nor skip a record while writes land between and during the page reads.
#[wasm_bindgen_test]
async fn pushed_down_pages_neither_repeat_nor_skip_under_concurrent_writes() {
    let name = unique("pushdown-pages");
    let c = open(&name, "indexeddb").await;
    // 150 sessions: start in 7 values (runs of ~21 equal keys), day 1 or 2, room A or B.
    let start = |i: usize| (i % 7) * 100;
    let room = |i: usize| if i % 3 == 0 { "B" } else { "A" };
    let sessions: Vec<String> = (0..150)
        .map(|i| {
            format!(
                r#"{{"id": "s{i:03}", "day": {}, "start": {}, "room": "{}", "title": "t"}}"#,
                1 + i % 2,
                start(i),
                room(i)
            )
        })
        .collect();
    ok(c.put_many(s("sessions"), json(&format!("[{}]", sessions.join(","))))).await;
    type Expected = fn(usize) -> bool;
    let cases: [(&str, Expected, bool); 5] = [
        (r#"{"where": {"start": {"gte": 0}, "room": "A"}, "orderBy": "start", "limit": 7}"#, |i| i % 3 != 0, false),
        (r#"{"where": {"day": 1}, "orderBy": "-start", "limit": 5}"#, |i| i % 2 == 0, true),
        // Backward with a condition no index serves: a page takes several of the cursor's
        // batches.
        (r#"{"where": {"start": {"lte": 600}, "room": "B"}, "orderBy": "-start", "limit": 4}"#, |i| i % 3 == 0, true),
        (r#"{"orderBy": "start", "limit": 3}"#, |_| true, false),
        (
            r#"{"where": {"day": 2, "room": "B"}, "orderBy": ["day", "start"], "limit": 2}"#,
            |i| i % 2 == 1 && i % 3 == 0,
            false,
        ),
    ];
    let mut extra = 0;
    for (query, wanted, descending) in cases {
        let mut expected: Vec<usize> = (0..150).filter(|&i| wanted(i)).collect();
        expected.sort_by_key(|&i| (start(i), i));
        if descending {
            expected.reverse();
        }
        let expected: Vec<String> = expected.iter().map(|i| format!("s{i:03}")).collect();
        let (mut seen, mut after, mut pages) = (Vec::<String>::new(), JsValue::NULL, 0);
        // Each page's size, for a failure's message (a page cut short, or an early end).
        let mut sizes = Vec::new();
        loop {
            let q = json(query);
            Reflect::set(&q, &"after".into(), &after).unwrap();
            // Writes started before the page is read and finished after it: new records
            // on both sides of any cursor (starts 0..600 in the same runs), and an edit of
            // an original record.
            extra += 1;
            let new = format!(
                r#"{{"id": "n{extra:03}", "day": {}, "start": {}, "room": "{}", "title": "new"}}"#,
                1 + extra % 2,
                (extra % 7) * 100,
                room(extra)
            );
            let put = c.put(s("sessions"), json(&new));
            let patch = c.patch(s("sessions"), s(&format!("s{:03}", extra % 150)), json(r#"{"title": "edited"}"#));
            let page = ok(c.query(s("sessions"), q)).await;
            ok(put).await;
            ok(patch).await;
            let records: Array = field(&page, "records").unchecked_into();
            seen.extend(records.iter().map(|r| field(&r, "id").as_string().unwrap()));
            sizes.push(records.length());
            after = field(&page, "next");
            pages += 1;
            assert!(pages < 400, "{query}: pages never end");
            if after.is_null() {
                break;
            }
        }
        let mut unique_ids = seen.clone();
        unique_ids.sort();
        unique_ids.dedup();
        assert_eq!(unique_ids.len(), seen.len(), "{query}: a record came twice: {seen:?}");
        let originals: Vec<String> = seen.iter().filter(|id| id.starts_with('s')).cloned().collect();
        assert_eq!(originals, expected, "{query}: every original record once, in order (page sizes {sizes:?})");
    }
    done(c, &name).await;
}

// ---- watch ----

/// A JS function recording what it is called with (`f.calls`).
async fn recorder() -> Function {
    js("", "const f = (answer) => f.calls.push(answer); f.calls = []; return f;", &[]).await.unchecked_into()
}

fn calls(f: &Function) -> Array {
    field(f, "calls").unchecked_into()
}

/// Wait until `f` was called `n` times (up to ~3 s), then a little longer, so a call too
/// many shows.
async fn settle(f: &Function, n: u32) {
    for _ in 0..300 {
        if calls(f).length() >= n {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    gloo_timers::future::TimeoutFuture::new(100).await;
}

fn answer_ids(answer: &JsValue) -> Vec<String> {
    Array::from(answer).iter().map(|r| field(&r, "id").as_string().unwrap()).collect()
}

#[wasm_bindgen_test]
async fn watch_calls_back_once_per_change_that_matters_and_never_after_unsubscribe() {
    for storage in ["indexeddb", "memory"] {
        let (c, name) = seeded(storage).await;
        let f = recorder().await;
        let stop =
            c.watch(s("sessions"), json(r#"{"where": {"day": 1}, "orderBy": "start"}"#), f.clone().into()).unwrap();
        settle(&f, 1).await;
        assert_eq!(calls(&f).length(), 1, "{storage}: the first answer");
        assert_eq!(answer_ids(&calls(&f).get(0)), ["s1", "s2", "s3"]);
        // Unrelated: another collection, and a record outside the query.
        ok(c.put(s("notes"), json(r#"{"id": "x"}"#))).await;
        ok(c.patch(s("sessions"), s("s5"), json(r#"{"title": "Farewell"}"#))).await;
        settle(&f, 2).await;
        assert_eq!(calls(&f).length(), 1, "{storage}: no call for writes that change nothing");
        // Matters: a new matching record, then an edit of one in the answer.
        ok(c.put(s("sessions"), json(r#"{"id": "s7", "day": 1, "start": 800}"#))).await;
        settle(&f, 2).await;
        assert_eq!(calls(&f).length(), 2, "{storage}");
        assert_eq!(answer_ids(&calls(&f).get(1)), ["s7", "s1", "s2", "s3"]);
        ok(c.patch(s("sessions"), s("s2"), json(r#"{"title": "Rust!"}"#))).await;
        settle(&f, 3).await;
        assert_eq!(calls(&f).length(), 3, "{storage}");
        assert_eq!(field(&Array::from(&calls(&f).get(2)).get(2), "title"), "Rust!");
        stop.call0(&JsValue::UNDEFINED).unwrap();
        ok(c.delete(s("sessions"), s("s1"))).await;
        settle(&f, 4).await;
        assert_eq!(calls(&f).length(), 3, "{storage}: nothing after unsubscribe");
        done(c, &name).await;
    }
}

#[wasm_bindgen_test]
async fn watch_applies_a_change_in_memory_where_exact_and_reads_where_not() {
    for storage in ["indexeddb", "memory"] {
        let (c, name) = seeded(storage).await;
        let f = recorder().await;
        let query = r#"{"where": {"day": 1}, "orderBy": "start", "limit": 2}"#;
        let stop = c.watch(s("sessions"), json(query), f.clone().into()).unwrap();
        settle(&f, 1).await;
        let first = calls(&f).get(0);
        assert_eq!(answer_ids(&first), ["s1", "s2"], "{storage}: s3 (also 1030) is on the next page");
        // A put inside the page: applied in memory, so s1 is the object given before (a
        // read would give new objects); s2 is a copy, not the object `put` resolved to.
        let put = ok(c.put(s("sessions"), json(r#"{"id": "s2", "day": 1, "start": 1030, "title": "v2"}"#))).await;
        settle(&f, 2).await;
        assert_eq!(calls(&f).length(), 2, "{storage}");
        let second = calls(&f).get(1);
        assert_eq!(answer_ids(&second), ["s1", "s2"], "{storage}");
        assert_eq!(Array::from(&second).get(0), Array::from(&first).get(0), "{storage}: s1 not read again");
        assert_eq!(field(&Array::from(&second).get(1), "title"), "v2", "{storage}");
        assert_ne!(Array::from(&second).get(1), put, "{storage}: the answer's own copy");
        assert_ne!(second, first, "{storage}: a new array for a new answer");
        // A new record entering the full page pushes s2 to the next page.
        ok(c.put(s("sessions"), json(r#"{"id": "s0", "day": 1, "start": 800}"#))).await;
        settle(&f, 3).await;
        assert_eq!(calls(&f).length(), 3, "{storage}");
        assert_eq!(answer_ids(&calls(&f).get(2)), ["s0", "s1"], "{storage}");
        assert_eq!(Array::from(&calls(&f).get(2)).get(1), Array::from(&first).get(0), "{storage}: in memory");
        // A write beyond the page changes nothing.
        ok(c.patch(s("sessions"), s("s3"), json(r#"{"title": "later"}"#))).await;
        settle(&f, 4).await;
        assert_eq!(calls(&f).length(), 3, "{storage}: s3 is beyond the page");
        // s1 leaves the full page: what follows it is not in memory, so it is read (s2).
        ok(c.patch(s("sessions"), s("s1"), json(r#"{"start": 2000}"#))).await;
        settle(&f, 4).await;
        assert_eq!(calls(&f).length(), 4, "{storage}");
        assert_eq!(answer_ids(&calls(&f).get(3)), ["s0", "s2"], "{storage}");
        assert_eq!(answer_ids(&calls(&f).get(3)), ids(&c, query).await, "{storage}: what query() answers");
        stop.call0(&JsValue::UNDEFINED).unwrap();
        done(c, &name).await;
    }
}

#[wasm_bindgen_test]
async fn watch_of_a_key_follows_that_record_only() {
    let (c, name) = seeded("indexeddb").await;
    let f = recorder().await;
    let stop = c.watch(s("sessions"), s("s3"), f.clone().into()).unwrap();
    settle(&f, 1).await;
    assert_eq!(field(&calls(&f).get(0), "title"), "Lunch");
    // The record's `get`s from here: the write's own read only, the watch takes the value
    // from the change event (as `useDoc` did before it was a watch).
    js(
        "",
        "const get = IDBObjectStore.prototype.get; globalThis.__sessionGets = 0; globalThis.__realGet = get;
         IDBObjectStore.prototype.get = function (...args) {
             if (this.name === 'sessions') globalThis.__sessionGets++;
             return get.apply(this, args);
         };",
        &[],
    )
    .await;
    ok(c.patch(s("sessions"), s("s2"), json(r#"{"title": "other"}"#))).await;
    ok(c.patch(s("sessions"), s("s3"), json(r#"{"title": "Long lunch"}"#))).await;
    settle(&f, 2).await;
    let gets =
        js("", "IDBObjectStore.prototype.get = globalThis.__realGet; return globalThis.__sessionGets;", &[]).await;
    assert_eq!(calls(&f).length(), 2);
    assert_eq!(field(&calls(&f).get(1), "title"), "Long lunch");
    assert_eq!(gets.as_f64(), Some(2.0), "each patch's own read, no read of the watch's");
    ok(c.delete(s("sessions"), s("s3"))).await;
    settle(&f, 3).await;
    assert_eq!(calls(&f).get(2), JsValue::NULL, "null once deleted");
    stop.call0(&JsValue::UNDEFINED).unwrap();
    stop.call0(&JsValue::UNDEFINED).unwrap();
    done(c, &name).await;
}

/// Two clients (two users' databases) dispatching on one event target, the global scope:
/// a watch follows its own client's changes only.
#[wasm_bindgen_test]
async fn watch_follows_its_own_client_where_two_share_a_target() {
    let (a, a_name) = seeded("indexeddb").await;
    let (b, b_name) = seeded("indexeddb").await;
    let f = recorder().await;
    let stop = a.watch(s("sessions"), json(r#"{"where": {"day": 1}, "orderBy": "start"}"#), f.clone().into()).unwrap();
    settle(&f, 1).await;
    // A record that would enter A's answer, written to B's database.
    ok(b.put(s("sessions"), json(r#"{"id": "s7", "day": 1, "start": 800}"#))).await;
    settle(&f, 2).await;
    assert_eq!(calls(&f).length(), 1, "another database's write is not in A's answer");
    ok(a.put(s("sessions"), json(r#"{"id": "s8", "day": 1, "start": 700}"#))).await;
    settle(&f, 2).await;
    assert_eq!(answer_ids(&calls(&f).get(1)), ["s8", "s1", "s2", "s3"]);
    stop.call0(&JsValue::UNDEFINED).unwrap();
    done(b, &b_name).await;
    done(a, &a_name).await;
}

#[wasm_bindgen_test]
async fn watch_hears_another_tabs_writes() {
    let (writer, name) = seeded("indexeddb").await;
    // The other tab: its own client on the same database, with its own event target.
    let other_config = config(&name, "indexeddb");
    let target = web_sys::EventTarget::new().unwrap();
    Reflect::set(&other_config, &"eventTarget".into(), &target).unwrap();
    let other = SyncClient::open(other_config).await.unwrap();
    let f = recorder().await;
    let stop = other.watch(s("sessions"), json(r#"{"where": {"tags": "rust"}}"#), f.clone().into()).unwrap();
    settle(&f, 1).await;
    assert_eq!(answer_ids(&calls(&f).get(0)), ["s2", "s4", "s6"]);
    ok(writer.put(s("sessions"), json(r#"{"id": "s8", "tags": ["rust"]}"#))).await;
    settle(&f, 2).await;
    let seen: Vec<Vec<String>> = calls(&f).iter().map(|a| answer_ids(&a)).collect();
    assert_eq!(calls(&f).length(), 2, "the other tab's write arrived: {seen:?}");
    assert_eq!(answer_ids(&calls(&f).get(1)), ["s2", "s4", "s6", "s8"]);
    stop.call0(&JsValue::UNDEFINED).unwrap();
    other.close();
    done(writer, &name).await;
}
