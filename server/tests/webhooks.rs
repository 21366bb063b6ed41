//! Outbound webhooks end to end: a receiver (an axum app on 127.0.0.1:0 in the test)
//! gets the server's signed POSTs and checks each one with `webhook::verify`. Each test
//! runs once per backend (see `per_backend!` in common); the two-process test needs
//! PostgreSQL. Every wait is bounded.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::*;
use pwa_sync_server::config::Webhooks;
use pwa_sync_server::webhook::{verify, VerifyError, SIGNATURE_HEADER};
use serde_json::{json, Value};
use tokio::time::Instant;

const SECRET: &str = "whsec_test_secret_0123456789";

per_backend!(
    webhooks_deliver_signed_events_in_version_order,
    webhooks_retry_with_backoff_until_the_receiver_recovers,
    webhooks_end_dead_after_max_attempts,
    webhook_outbox_survives_a_restart,
    webhooks_time_out_on_a_receiver_that_never_answers,
);

#[derive(Debug, Clone)]
struct Hit {
    signature: String,
    content_type: String,
    body: String,
    status: u16,
    at: Instant,
}

type Answer = dyn Fn(usize) -> u16 + Send + Sync;

#[derive(Clone)]
struct ReceiverState {
    hits: Arc<Mutex<Vec<Hit>>>,
    answer: Arc<Answer>,
    delay: Duration,
}

/// A webhook receiver answering the n-th request (from 0) with `answer(n)`, after `delay`.
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    async fn start(delay: Duration, answer: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Receiver {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let state = ReceiverState { hits: hits.clone(), answer: Arc::new(answer), delay };
        let app = Router::new().route("/hook", post(hook)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, hits }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Wait until at least `n` requests arrived.
    async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + timeout;
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(Instant::now() < deadline, "{} of {n} webhook requests within {timeout:?}", hits.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn hook(State(state): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut hits = state.hits.lock().unwrap();
    let status = (state.answer)(hits.len());
    hits.push(Hit {
        signature: header(SIGNATURE_HEADER),
        content_type: header("content-type"),
        body: String::from_utf8(body.to_vec()).unwrap(),
        status,
        at: Instant::now(),
    });
    StatusCode::from_u16(status).unwrap()
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn hooks(urls: Vec<String>, backoff_ms: u64, max_attempts: u32) -> Webhooks {
    Webhooks {
        urls,
        secret: SECRET.as_bytes().to_vec(),
        max_attempts,
        backoff_base: Duration::from_millis(backoff_ms),
        ..Webhooks::default()
    }
}

/// Check a request the way a receiver must: signature (by `verify`), content type; then
/// return its event.
fn verified(hit: &Hit) -> Value {
    assert_eq!(hit.content_type, "application/json");
    assert_eq!(verify(SECRET.as_bytes(), &hit.signature, hit.body.as_bytes(), now_secs()), Ok(()), "{hit:?}");
    serde_json::from_str(&hit.body).unwrap()
}

/// The outbox of the database at `url`, counted by state.
async fn counts(url: &str) -> Value {
    let mut by_state = json!({"pending": 0, "delivered": 0, "dead": 0});
    for (_, state, _, _) in outbox(url).await {
        by_state[state.as_str()] = json!(by_state[state.as_str()].as_u64().unwrap() + 1);
    }
    by_state
}

async fn wait_for_counts(url: &str, want: Value, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let got = counts(url).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "webhook counts {got}, expected {want} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The outbox as stored: (url, state, attempts, last_error), in id order.
async fn outbox(url: &str) -> Vec<(String, String, i64, Option<String>)> {
    const SQL: &str = "SELECT url, state, CAST(attempts AS BIGINT), last_error FROM webhook_outbox ORDER BY id";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let rows = sqlx::query_as(SQL).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}

/// The event a change of `user` makes, less its `at`.
fn expected_event(user: &str, change: &Value) -> Value {
    json!({"type": "document.changed", "user": user, "space": change["space"], "collection": change["collection"],
           "key": change["key"], "version": change["version"], "value": change["value"], "hlc": change["hlc"]})
}

async fn webhooks_deliver_signed_events_in_version_order(backend: Backend) {
    let r1 = Receiver::start(Duration::ZERO, |_| 200).await;
    let r2 = Receiver::start(Duration::ZERO, |_| 204).await;
    let urls = vec![r1.url.clone(), r2.url.clone()];
    let s = start_with(&backend, |c| c.webhooks = hooks(urls, 50, 8)).await;
    let api = s.api();
    assert_eq!(counts(&s.db.url).await, json!({"pending": 0, "delivered": 0, "dead": 0}));
    let pushed_at = now_ms();
    let alice = batch(
        "c-1",
        vec![
            put(1, "trips", "t1", json!({"title": "Rome"}), None),
            put(2, "trips", "t2", json!({"title": "Oslo"}), None),
            patch(3, "trips", "t1", json!({"days": 3}), None),
            delete(4, "trips", "t2", None),
        ],
    );
    let resp = api.push_ok("alice", &alice).await;
    let v: Vec<u64> = (0..4).map(|i| version_of(&resp, i)).collect();
    let vb =
        version_of(&api.push_ok("bob", &batch("b-1", vec![put(1, "notes", "n1", json!({"b": 1}), None)])).await, 0);
    // Applied nothing, so no events: a duplicate, a conflict, a rejection.
    api.push_ok("alice", &alice).await;
    let resp = api.push_ok("alice", &batch("c-2", vec![put(1, "trips", "t1", json!({}), None)])).await;
    assert_eq!(resp["results"][0]["status"], "conflict");
    let resp = api.push_ok("alice", &batch("c-2", vec![patch(2, "trips", "nope", json!({}), None)])).await;
    assert_eq!(resp["results"][0]["status"], "rejected");

    // What a receiver must see: one event per applied change (not just the latest state
    // of each key), in version order; a delete's value is null.
    let event = |user: &str, collection: &str, key: &str, version: u64, value: Value, id: u64| {
        json!({"type": "document.changed", "user": user, "space": format!("user:{user}"), "collection": collection,
               "key": key, "version": version, "value": value, "hlc": hlc(id)})
    };
    let expected = vec![
        event("alice", "trips", "t1", v[0], json!({"title": "Rome"}), 1),
        event("alice", "trips", "t2", v[1], json!({"title": "Oslo"}), 2),
        event("alice", "trips", "t1", v[2], json!({"title": "Rome", "days": 3}), 3),
        event("alice", "trips", "t2", v[3], Value::Null, 4),
        event("bob", "notes", "n1", vb, json!({"b": 1}), 1),
    ];
    // The same as the stored state, where pulls show it.
    let (pulled, _) = api.pull_all("alice", 0, 100).await;
    assert_eq!(
        pulled.iter().map(|c| expected_event("alice", c)).collect::<Vec<_>>(),
        vec![expected[2].clone(), expected[3].clone()]
    );

    wait_for_counts(&s.db.url, json!({"pending": 0, "delivered": 10, "dead": 0}), Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for receiver in [&r1, &r2] {
        let hits = receiver.hits();
        assert_eq!(hits.len(), 5, "each event once per URL: {hits:?}");
        let mut events: Vec<Value> = hits.iter().map(verified).collect();
        let mut ids = std::collections::BTreeSet::new();
        for event in &mut events {
            let fields = event.as_object_mut().unwrap();
            let at = fields.remove("at").unwrap().as_i64().unwrap();
            assert!(at >= pushed_at - 1000 && at <= now_ms(), "at {at}");
            assert_eq!(fields.remove("attempt"), Some(json!(1)), "the first attempt");
            let id = fields.remove("id").unwrap();
            assert!(id.as_str().is_some_and(|id| id.starts_with("evt_")), "{id}");
            assert!(ids.insert(id.to_string()), "one id per event: {id}");
        }
        assert_eq!(events, expected);
        // The signature covers the body and the secret: a receiver rejects the rest.
        let hit = &hits[0];
        let tampered = hit.body.replace("Rome", "Rom");
        assert_ne!(tampered, hit.body);
        assert_eq!(
            verify(SECRET.as_bytes(), &hit.signature, tampered.as_bytes(), now_secs()),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"another secret", &hit.signature, hit.body.as_bytes(), now_secs()),
            Err(VerifyError::Mismatch)
        );
        assert!(matches!(
            verify(SECRET.as_bytes(), &hit.signature, hit.body.as_bytes(), now_secs() + 301),
            Err(VerifyError::TooOld { .. })
        ));
    }
    let rows = outbox(&s.db.url).await;
    assert_eq!(rows.len(), 10);
    assert!(
        rows.iter().all(|(_, state, attempts, error)| state == "delivered" && *attempts == 1 && error.is_none()),
        "{rows:?}"
    );
}

async fn webhooks_retry_with_backoff_until_the_receiver_recovers(backend: Backend) {
    let r = Receiver::start(Duration::ZERO, |n| if n < 2 { 500 } else { 200 }).await;
    let url = r.url.clone();
    let s = start_with(&backend, |c| c.webhooks = hooks(vec![url], 100, 8)).await;
    let api = s.api();
    let v = version_of(&api.push_ok("alice", &batch("c-1", vec![put(1, "n", "k", json!({"a": 1}), None)])).await, 0);
    let hits = r.wait_for(3, Duration::from_secs(15)).await;
    wait_for_counts(&s.db.url, json!({"pending": 0, "delivered": 1, "dead": 0}), Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.hits().len(), 3, "delivered on the third attempt, then never again");
    assert_eq!(hits.iter().map(|h| h.status).collect::<Vec<_>>(), vec![500, 500, 200]);
    let first = verified(&hits[0]);
    for (n, hit) in hits.iter().enumerate() {
        let event = verified(hit);
        assert_eq!(event["version"], v);
        assert_eq!(event["id"], first["id"], "the same event id on every retry");
        assert_eq!(event["attempt"], json!(n + 1), "attempts count from 1");
        assert_eq!(event["at"], first["at"]);
    }
    // Backoff: base 100 ms after the first failure, 200 ms after the second (±10 %).
    let (first, second) = (hits[1].at - hits[0].at, hits[2].at - hits[1].at);
    assert!(first >= Duration::from_millis(85) && first < Duration::from_secs(5), "first wait {first:?}");
    assert!(second >= Duration::from_millis(175) && second < Duration::from_secs(5), "second wait {second:?}");
    let rows = outbox(&s.db.url).await;
    assert_eq!(rows.len(), 1);
    let (_, state, attempts, error) = &rows[0];
    assert_eq!((state.as_str(), *attempts), ("delivered", 3));
    assert_eq!(error.as_deref(), Some("HTTP 500 Internal Server Error"), "the last error is kept");
}

async fn webhooks_end_dead_after_max_attempts(backend: Backend) {
    let r = Receiver::start(Duration::ZERO, |_| 503).await;
    // A port nobody listens on: connection refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let urls = vec![r.url.clone(), closed.clone()];
    let s = start_with(&backend, |c| c.webhooks = hooks(urls, 20, 3)).await;
    let api = s.api();
    assert_eq!(api.get("/sync/health", None, None).await, (StatusCode::OK, json!({"status": "healthy"})));
    api.push_ok("alice", &batch("c-1", vec![put(1, "n", "a", json!({}), None), put(2, "n", "b", json!({}), None)]))
        .await;
    wait_for_counts(&s.db.url, json!({"pending": 0, "delivered": 0, "dead": 4}), Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = r.hits();
    assert_eq!(hits.len(), 6, "three attempts per event, then none");
    // Dead events in the last hour: still serving, but degraded.
    assert_eq!(api.get("/sync/health", None, None).await, (StatusCode::OK, json!({"status": "degraded"})));
    for hit in &hits {
        verified(hit);
    }
    let rows = outbox(&s.db.url).await;
    assert_eq!(rows.len(), 4);
    for (url, state, attempts, error) in &rows {
        assert_eq!((state.as_str(), *attempts), ("dead", 3), "{url}");
        let error = error.as_deref().unwrap_or_default();
        if *url == r.url {
            assert_eq!(error, "HTTP 503 Service Unavailable");
        } else {
            assert_eq!(*url, closed);
            assert!(!error.is_empty() && !error.starts_with("HTTP"), "network error kept: {error}");
            assert!(!error.contains("/hook"), "no URL in the error: {error}");
        }
    }
    // Dead events stay dead; a later change gets attempts of its own.
    api.push_ok("alice", &batch("c-1", vec![put(3, "n", "c", json!({}), None)])).await;
    wait_for_counts(&s.db.url, json!({"pending": 0, "delivered": 0, "dead": 6}), Duration::from_secs(20)).await;
    assert_eq!(r.hits().len(), 9);
}

async fn webhook_outbox_survives_a_restart(backend: Backend) {
    let r = Receiver::start(Duration::ZERO, |n| if n == 0 { 500 } else { 200 }).await;
    let db = fresh_db(&backend).await;
    let url = r.url.clone();
    let first = start_on_url(&db.url, |c| c.webhooks = hooks(vec![url], 500, 8)).await;
    let api = first.api();
    api.push_ok("alice", &batch("c-1", vec![put(1, "n", "k", json!({"a": 1}), None)])).await;
    r.wait_for(1, Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while outbox(&db.url).await.first().map(|row| row.2) != Some(1) {
        assert!(Instant::now() < deadline, "the failed attempt is recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Stopped before its retry is due; another server on the same database sends it.
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let url = r.url.clone();
    // Kept running (bound, not dropped) while it delivers.
    let _second = start_on_url(&db.url, |c| c.webhooks = hooks(vec![url], 500, 8)).await;
    let hits = r.wait_for(2, Duration::from_secs(15)).await;
    wait_for_counts(&db.url, json!({"pending": 0, "delivered": 1, "dead": 0}), Duration::from_secs(10)).await;
    let (before, after) = (verified(&hits[0]), verified(&hits[1]));
    assert_eq!(after["id"], before["id"], "the same delivery, resumed");
    assert_eq!((before["attempt"].clone(), after["attempt"].clone()), (json!(1), json!(2)));
    assert_eq!(after["value"], json!({"a": 1}));
    assert_eq!(outbox(&db.url).await[0].2, 2);
}

/// A receiver that accepts connections and never answers: each attempt fails at the
/// configured timeout (300 ms here, 10 s by default) and is retried until dead.
async fn webhooks_time_out_on_a_receiver_that_never_answers(backend: Backend) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let connections = Arc::new(Mutex::new(Vec::new()));
    let held = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            // Kept open and never read from or written to.
            held.lock().unwrap().push(socket);
        }
    });
    assert_eq!(Webhooks::default().timeout, Duration::from_secs(10), "the default timeout");
    let s = start_with(&backend, |c| {
        c.webhooks = hooks(vec![url], 50, 2);
        c.webhooks.timeout = Duration::from_millis(300);
    })
    .await;
    let api = s.api();
    let started = Instant::now();
    api.push_ok("alice", &batch("c-1", vec![put(1, "n", "k", json!({}), None)])).await;
    wait_for_counts(&s.db.url, json!({"pending": 0, "delivered": 0, "dead": 1}), Duration::from_secs(8)).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(600) && took < Duration::from_secs(8), "two attempts of 300 ms: {took:?}");
    assert_eq!(connections.lock().unwrap().len(), 2, "one connection per attempt: the timed-out one is not reused");
    let rows = outbox(&s.db.url).await;
    assert_eq!(rows.len(), 1);
    let (_, state, attempts, error) = &rows[0];
    assert_eq!((state.as_str(), *attempts), ("dead", 2));
    assert_eq!(error.as_deref(), Some("no answer within 300 ms"));
}

/// Two server processes on one PostgreSQL database deliver from one outbox: each event
/// reaches the receiver exactly once (claims skip rows the other process holds).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh (make test-host does)"]
async fn postgres_two_processes_deliver_each_event_once() {
    let backend = Backend::postgres()
        .unwrap_or_else(|| panic!("{POSTGRES_ENV} is not set: run through scripts/with-postgres.sh"));
    let db = fresh_db(&backend).await;
    // A slow receiver, so both processes' claims overlap in time.
    let r = Receiver::start(Duration::from_millis(3), |_| 200).await;
    let args = ["--webhook", r.url.as_str(), "--webhook-secret", SECRET, "--webhook-backoff-base-ms", "50"];
    let (p1, p2) = tokio::join!(spawn_server_with(&db.url, &args, &[]), spawn_server_with(&db.url, &args, &[]));
    let (a1, a2) = (Api::new(&p1.base), Api::new(&p2.base));
    const TASKS: u64 = 4;
    const ROUNDS: u64 = 10;
    const PER: u64 = 5;
    let total = (TASKS * ROUNDS * PER) as usize;
    let mut pushers = Vec::new();
    for t in 0..TASKS {
        let (a1, a2) = (a1.clone(), a2.clone());
        pushers.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let muts = (0..PER)
                    .map(|i| put(round * PER + i + 1, "items", &format!("t{t}-{round}-{i}"), json!({"t": t}), None));
                let api = if (t + round) % 2 == 0 { &a1 } else { &a2 };
                api.push_ok(&format!("user-{t}"), &batch(&format!("c-{t}"), muts.collect())).await;
            }
        }));
    }
    for p in pushers {
        p.await.unwrap();
    }
    r.wait_for(total, Duration::from_secs(60)).await;
    let want = json!({"pending": 0, "delivered": total, "dead": 0});
    wait_for_counts(&db.url, want.clone(), Duration::from_secs(30)).await;
    // Longer than a poll interval: any second delivery would have happened by now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let hits = r.hits();
    let mut per_event: BTreeMap<(String, String, u64), usize> = BTreeMap::new();
    for hit in &hits {
        let event = verified(hit);
        let id = (
            event["user"].as_str().unwrap().to_string(),
            event["key"].as_str().unwrap().to_string(),
            event["version"].as_u64().unwrap(),
        );
        *per_event.entry(id).or_default() += 1;
    }
    assert_eq!(per_event.len(), total, "every event arrived");
    let twice: Vec<_> = per_event.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "{} events delivered more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    assert_eq!(hits.len(), total);
    assert_eq!(counts(&db.url).await, want);
    drop((p1, p2));
}
