//! End-to-end tests: a tiny upstream app and the proxy, both in-process on 127.0.0.1:0.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream};
use pwa_sync_fault_proxy::{Config, FaultProxy};
use serde_json::{json, Value};
use tokio::net::TcpListener;

const SSE_GAP: Duration = Duration::from_millis(300);

struct Env {
    proxy: SocketAddr,
    count: Arc<AtomicU64>,
    http: reqwest::Client,
}

async fn push(State(count): State<Arc<AtomicU64>>) -> Json<Value> {
    let n = count.fetch_add(1, Ordering::SeqCst) + 1;
    Json(json!({"count": n}))
}

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "xTest": header("x-test"),
        "authorization": header("authorization"),
        "host": header("host"),
        "body": String::from_utf8_lossy(&body),
    }))
}

async fn events() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(stream::unfold(0u32, |i| async move {
        if i == 3 {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(SSE_GAP).await;
        }
        Some((Ok(Event::default().data(format!("{{\"checkpoint\":{i}}}"))), i + 1))
    }))
}

async fn start_upstream() -> (SocketAddr, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route("/sync/push", post(push))
        .route("/sync/events", get(events))
        .route("/data", get(|| async { "0123456789".repeat(100) }))
        .route("/echo", post(echo))
        .with_state(count.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, count)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().unwrap()
}

async fn start_with(seed: u64, rate: f64, cors: bool) -> Env {
    let (upstream, count) = start_upstream().await;
    let config = Config { upstream: format!("http://{upstream}"), seed, rate, cors_any_origin: cors };
    let (proxy, _task) = FaultProxy::new(config).unwrap().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Env { proxy, count, http: client() }
}

async fn start() -> Env {
    start_with(0, 0.0, false).await
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.proxy)
    }
    fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
    async fn faults(&self, body: Value) -> Value {
        let r = self.http.post(self.url("/_faults")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200, "POST /_faults {body}");
        r.json().await.unwrap()
    }
    async fn state(&self) -> Value {
        self.http.get(self.url("/_faults")).send().await.unwrap().json().await.unwrap()
    }
    async fn push(&self) -> reqwest::Result<reqwest::Response> {
        self.http.post(self.url("/sync/push")).json(&json!({"clientId": "c-1", "mutations": []})).send().await
    }
    async fn rule(&self, fault: Value) {
        self.faults(json!({"rules": [{"path": "/sync/push", "method": "POST", "fault": fault}]})).await;
    }
}

/// Reads the body chunk by chunk: the bytes that arrived and whether reading failed.
async fn read_all(mut r: reqwest::Response) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    loop {
        match r.chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => return (got, false),
            Err(_) => return (got, true),
        }
    }
}

#[tokio::test]
async fn forwards_method_path_query_headers_and_body() {
    let env = start().await;
    let r = env
        .http
        .post(env.url("/echo?x=1&y=two"))
        .header("x-test", "abc")
        .header("authorization", "Bearer t0k")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/echo");
    assert_eq!(v["query"], "x=1&y=two");
    assert_eq!(v["xTest"], "abc");
    assert_eq!(v["authorization"], "Bearer t0k");
    assert_eq!(v["body"], "hello");
    let r = env.push().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"count": 1}));
    let s = env.state().await;
    assert_eq!(s["forwarded"], 2);
    assert_eq!(s["requests"], 2);
    assert_eq!(s["injectedTotal"], 0);
}

#[tokio::test]
async fn drop_request_never_reaches_upstream() {
    let env = start().await;
    env.rule(json!({"kind": "drop_request"})).await;
    assert!(env.push().await.is_err(), "client must see a network error");
    assert_eq!(env.count(), 0);
    // times defaults to 1: the next push goes through
    let r = env.push().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"count": 1}));
    let s = env.state().await;
    assert_eq!(s["injected"]["drop_request"], 1);
    assert_eq!(s["forwarded"], 1);
}

#[tokio::test]
async fn drop_response_after_upstream_applied() {
    let env = start().await;
    env.rule(json!({"kind": "drop_response"})).await;
    let failed = match env.push().await {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(failed, "client must see a network error");
    assert_eq!(env.count(), 1, "upstream applied it");
    assert_eq!(env.state().await["injected"]["drop_response"], 1);
}

#[tokio::test]
async fn duplicate_delivers_twice_and_answers_the_second() {
    let env = start().await;
    env.rule(json!({"kind": "duplicate"})).await;
    let r = env.push().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"count": 2}));
    assert_eq!(env.count(), 2);
    assert_eq!(env.state().await["forwarded"], 2);
}

#[tokio::test]
async fn status_answers_without_forwarding() {
    let env = start().await;
    env.rule(json!({"kind": "status", "status": 503, "body": "<html><body>down</body></html>",
                    "contentType": "text/html", "retryAfterSeconds": 2}))
        .await;
    let r = env.push().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["content-type"], "text/html");
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(r.text().await.unwrap(), "<html><body>down</body></html>");

    env.rule(json!({"kind": "status", "status": 500})).await;
    let r = env.push().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(r.headers().get("retry-after").is_none());
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "injected");
    assert_eq!(env.count(), 0);
    assert_eq!(env.state().await["injected"]["status"], 2);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let env = start().await;
    env.rule(json!({"kind": "rate_limit", "retryAfterSeconds": 7})).await;
    let r = env.push().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate-limited");
    assert!(v["error"]["message"].is_string());
    assert_eq!(env.count(), 0);
}

#[tokio::test]
async fn replace_body_after_upstream_applied() {
    let env = start().await;
    env.rule(json!({"kind": "replace_body", "body": "{\"results\": [", "contentType": "application/json"})).await;
    let r = env.push().await.unwrap();
    assert_eq!(r.status(), 200, "status defaults to the upstream's");
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), "{\"results\": [");
    assert_eq!(env.count(), 1);

    env.rule(
        json!({"kind": "replace_body", "status": 502, "body": "<h1>Bad Gateway</h1>", "contentType": "text/html"}),
    )
    .await;
    let r = env.push().await.unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["content-type"], "text/html");
    assert_eq!(r.text().await.unwrap(), "<h1>Bad Gateway</h1>");
    assert_eq!(env.count(), 2);

    // a huge body, streamed: 3 bytes x 1,000,003 (not a multiple of the chunk size)
    env.rule(json!({"kind": "replace_body", "body": "abc", "repeat": 1_000_003})).await;
    let r = env.push().await.unwrap();
    assert_eq!(r.headers()["content-length"], "3000009");
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), 3_000_009);
    assert!(body.chunks(3).all(|c| c == b"abc"));
    assert_eq!(env.count(), 3);
    assert_eq!(env.state().await["injected"]["replace_body"], 3);
}

#[tokio::test]
async fn cut_body_sends_half_then_closes() {
    let env = start().await;
    env.faults(json!({"rules": [{"path": "/data", "fault": {"kind": "cut_body"}}]})).await;
    let r = env.http.get(env.url("/data")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "1000", "announces the whole body");
    let (got, failed) = read_all(r).await;
    assert!(failed, "reading the body must fail");
    assert!(got.len() <= 500, "got {} bytes", got.len());
    assert_eq!(&got[..], &"0123456789".repeat(50).as_bytes()[..got.len()]);

    // a mutation is applied upstream, its answer cut
    env.rule(json!({"kind": "cut_body"})).await;
    let r = env.push().await.unwrap();
    let (got, failed) = read_all(r).await;
    assert!(failed);
    assert!(serde_json::from_slice::<Value>(&got).is_err());
    assert_eq!(env.count(), 1);

    // an event stream: the first event, then the cut
    env.faults(json!({"rules": [{"path": "/sync/events", "fault": {"kind": "cut_body"}}]})).await;
    let r = env.http.get(env.url("/sync/events")).send().await.unwrap();
    let (got, failed) = read_all(r).await;
    assert!(failed);
    assert_eq!(String::from_utf8_lossy(&got).matches("data:").count(), 1);
}

#[tokio::test]
async fn delay_waits_then_forwards() {
    let env = start().await;
    env.rule(json!({"kind": "delay", "ms": 400})).await;
    let t = Instant::now();
    let r = env.push().await.unwrap();
    let waited = t.elapsed();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"count": 1}));
    assert!(waited >= Duration::from_millis(400), "{waited:?}");
    let t = Instant::now();
    env.push().await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(400), "only the next request is delayed");
}

#[tokio::test]
async fn event_stream_is_not_buffered() {
    let env = start().await;
    let mut r = env.http.get(env.url("/sync/events")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let start = Instant::now();
    let mut text = String::new();
    let mut arrivals = Vec::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        let s = String::from_utf8_lossy(&chunk).into_owned();
        for _ in 0..s.matches("data:").count() {
            arrivals.push(start.elapsed());
        }
        text.push_str(&s);
    }
    assert_eq!(arrivals.len(), 3, "{text}");
    for i in 0..3 {
        assert!(text.contains(&format!("data: {{\"checkpoint\":{i}}}")), "{text}");
    }
    // buffered, all three would arrive together; streamed, they are SSE_GAP apart
    let spread = arrivals[2] - arrivals[0];
    assert!(spread >= SSE_GAP + SSE_GAP / 2, "events arrived within {spread:?}: {arrivals:?}");
}

/// Runs 40 requests with `rate` faults from `seed`; returns (request index, kind) of each fault.
async fn random_run(env: &Env, seed: u64) -> Vec<(u64, String)> {
    env.faults(json!({"rate": 0.5, "seed": seed})).await;
    let base = env.state().await["requests"].as_u64().unwrap();
    for _ in 0..40 {
        if let Ok(r) = env.http.get(env.url("/data")).send().await {
            let _ = r.bytes().await;
        }
    }
    let state = env.http.delete(env.url("/_faults")).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(state["rate"], 0.0);
    state["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["request"].as_u64().unwrap() > base)
        .map(|e| {
            assert_eq!(e["source"], "random");
            (e["request"].as_u64().unwrap() - base, e["kind"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn seeded_rate_replays_the_same_faults() {
    let env = start().await;
    let a = random_run(&env, 42).await;
    let b = random_run(&env, 42).await;
    let c = random_run(&env, 43).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!((5..=35).contains(&a.len()), "{} faults in 40 requests at rate 0.5", a.len());
    // a fresh proxy started with the same seed makes the same choices
    let other = start_with(42, 0.5, false).await;
    for _ in 0..40 {
        if let Ok(r) = other.http.get(other.url("/data")).send().await {
            let _ = r.bytes().await;
        }
    }
    let log: Vec<(u64, String)> = other.state().await["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["request"].as_u64().unwrap(), e["kind"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(log, a);
}

#[tokio::test]
async fn control_api_counters_rules_and_errors() {
    let env = start().await;
    let s = env
        .faults(json!({"rules": [
            {"path": "/sync/push", "method": "GET", "fault": {"kind": "drop_request"}},
            {"path": "/sync/*", "fault": {"kind": "rate_limit"}, "times": 2},
            {"fault": {"kind": "status", "status": 500}}
        ]}))
        .await;
    assert_eq!(s["rules"].as_array().unwrap().len(), 3);
    assert_eq!(env.push().await.unwrap().status(), 429, "GET-only rule skipped for POST");
    assert_eq!(env.push().await.unwrap().status(), 429);
    assert_eq!(env.http.get(env.url("/data")).send().await.unwrap().status(), 500);
    assert_eq!(env.push().await.unwrap().status(), 200, "queue exhausted except the GET rule");
    let s = env.state().await;
    assert_eq!(
        s["rules"],
        json!([{"path": "/sync/push", "method": "GET", "fault": {"kind": "drop_request"}, "times": 1}])
    );
    assert_eq!(s["requests"], 4);
    assert_eq!(s["forwarded"], 1);
    assert_eq!(s["injectedTotal"], 3);
    let injected = s["injected"].as_object().unwrap();
    assert_eq!(injected.len(), 8);
    assert_eq!(injected["rate_limit"], 2);
    assert_eq!(injected["status"], 1);
    assert_eq!(injected["drop_request"], 0);
    assert_eq!(s["log"].as_array().unwrap().len(), 3);
    assert_eq!(
        s["log"][0],
        json!({"request": 1, "method": "POST", "path": "/sync/push", "kind": "rate_limit", "source": "rule"})
    );

    for bad in [
        "not json",
        r#"{"rules": [{"fault": {"kind": "nope"}}]}"#,
        r#"{"rules": [{"fault": {"kind": "status", "status": 5000}}]}"#,
        r#"{"rate": 2}"#,
        r#"{"rules": [], "typo": 1}"#,
    ] {
        let r = env
            .http
            .post(env.url("/_faults"))
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "bad-request");
    }
    assert_eq!(env.state().await["rules"].as_array().unwrap().len(), 1, "bad updates change nothing");

    env.faults(json!({"rate": 1.0})).await;
    let s = env.http.delete(env.url("/_faults")).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(s["rules"], json!([]));
    assert_eq!(s["rate"], 0.0);
    assert_eq!(s["injectedTotal"], 3, "counters survive DELETE");
    assert_eq!(env.push().await.unwrap().status(), 200);
}

#[tokio::test]
async fn cors_any_origin_covers_preflight_faults_and_control() {
    let env = start_with(0, 0.0, true).await;
    env.rule(json!({"kind": "rate_limit", "retryAfterSeconds": 3})).await;
    let r = env
        .http
        .request(Method::OPTIONS, env.url("/sync/push"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,x-sync-protocol,content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let allowed = r.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    for h in ["authorization", "x-sync-protocol", "content-type"] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert!(r.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert_eq!(env.state().await["requests"], 0, "preflights are not proxied nor faulted");

    let r = env.push().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(r.headers()["access-control-expose-headers"], "Retry-After");

    let r = env.push().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");

    let r = env.http.get(env.url("/_faults")).header("origin", "http://localhost:5173").send().await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");

    // without the flag: no CORS headers, OPTIONS is forwarded like anything else
    let plain = start().await;
    let r = plain.push().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let free = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let config = Config { upstream: format!("http://{free}"), seed: 0, rate: 0.0, cors_any_origin: false };
    let (proxy, _task) = FaultProxy::new(config).unwrap().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let r = client().get(format!("http://{proxy}/sync/pull")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "bad-gateway");
}

#[test]
fn bad_config_is_refused() {
    let config = |upstream: &str, rate| Config { upstream: upstream.into(), seed: 0, rate, cors_any_origin: false };
    assert!(FaultProxy::new(config("https://example.invalid", 0.0)).is_err());
    assert!(FaultProxy::new(config("not a url", 0.0)).is_err());
    assert!(FaultProxy::new(config("http://127.0.0.1:1", 1.5)).is_err());
    assert!(FaultProxy::new(config("http://127.0.0.1:1", f64::NAN)).is_err());
}

#[tokio::test]
async fn binary_prints_its_address_and_proxies() {
    use std::io::BufRead;
    let (upstream, count) = start_upstream().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pwa-sync-fault-proxy"))
        .args(["--listen", "127.0.0.1:0", "--upstream", &format!("http://{upstream}"), "--seed", "9"])
        .args(["--rate", "0", "--cors-any-origin"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let url = line.trim_end().strip_prefix("pwa-sync-fault-proxy listening on ").unwrap_or_else(|| panic!("{line:?}"));
    let addr: SocketAddr = url.strip_prefix("http://").unwrap().parse().unwrap();
    assert_ne!(addr.port(), 0);
    let http = client();
    let state: Value = http.get(format!("{url}/_faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["seed"], 9);
    let r = http.post(format!("{url}/sync/push")).body("{}").send().await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"count": 1}));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    child.kill().unwrap();
    child.wait().unwrap();
}
