//! Test harness: a real server on 127.0.0.1:0 over a fresh database (a SQLite file in a
//! temp dir, or a new PostgreSQL database when `PWA_SYNC_TEST_POSTGRES` is set), and a
//! small protocol client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use pwa_sync_server::auth::AuthMode;
use pwa_sync_server::{Config, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

pub const POSTGRES_ENV: &str = "PWA_SYNC_TEST_POSTGRES";

/// Runs each named `async fn NAME(backend: Backend)` once per backend: `sqlite::NAME`
/// always, `postgres::NAME` against a fresh database when PWA_SYNC_TEST_POSTGRES is set.
/// The PostgreSQL ones are `#[ignore]`d so that a plain `cargo test` reports them as not
/// run; `make test-host` runs them through `scripts/with-postgres.sh ... -- --include-ignored`.
#[allow(unused_macros)]
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh (make test-host does)"]
                async fn $name() {
                    let backend = crate::common::Backend::postgres()
                        .unwrap_or_else(|| panic!("{} is not set: run through scripts/with-postgres.sh", crate::common::POSTGRES_ENV));
                    super::$name(backend).await
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use per_backend;

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The URL of a database we may create other databases from.
    Postgres(String),
}

impl Backend {
    pub fn postgres() -> Option<Backend> {
        std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty()).map(Backend::Postgres)
    }
}

/// One test's own database.
pub struct TestDb {
    pub url: String,
    _dir: Option<TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One number read straight from the database at `url`, for tests that count rows
/// (`/sync/health` reports none).
pub async fn db_count(url: &str, sql: &'static str) -> i64 {
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    }
}

pub async fn fresh_db(backend: &Backend) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            // A parent directory that does not exist yet: the server creates it.
            let url = format!("sqlite://{}/data/sync.db", dir.path().display());
            TestDb { url, _dir: Some(dir) }
        }
        Backend::Postgres(admin) => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
            let name = format!("pwa_test_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst), nanos);
            let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
            TestDb { url: with_database(admin, &name), _dir: None }
        }
    }
}

/// `postgres://u@h:p/db?x` with `db` replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    format!("{}/{}{}", &base[..host_end], name, query)
}

pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub db: TestDb,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn start(backend: &Backend) -> TestServer {
    start_with(backend, |_| {}).await
}

pub async fn start_with(backend: &Backend, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let db = fresh_db(backend).await;
    start_on(db, tweak).await
}

/// A server on a database another server used (or uses): `url` is not dropped with it.
pub async fn start_on_url(url: &str, tweak: impl FnOnce(&mut Config)) -> TestServer {
    start_on(TestDb { url: url.to_string(), _dir: None }, tweak).await
}

pub async fn start_on(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), db.url.clone(), AuthMode::Dev);
    tweak(&mut config);
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    TestServer {
        base: format!("http://{addr}"),
        addr,
        http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
        db,
        stop: Some(stop),
    }
}

pub fn put(id: u64, collection: &str, key: &str, value: Value, base: Option<u64>) -> Value {
    json!({"id": id, "collection": collection, "key": key, "op": "put", "value": value, "baseVersion": base, "hlc": hlc(id)})
}

pub fn patch(id: u64, collection: &str, key: &str, value: Value, base: Option<u64>) -> Value {
    json!({"id": id, "collection": collection, "key": key, "op": "patch", "value": value, "baseVersion": base, "hlc": hlc(id)})
}

pub fn delete(id: u64, collection: &str, key: &str, base: Option<u64>) -> Value {
    json!({"id": id, "collection": collection, "key": key, "op": "delete", "value": null, "baseVersion": base, "hlc": hlc(id)})
}

pub fn hlc(id: u64) -> String {
    format!("{:015}-{:04}-n1", 1_763_769_600_000u64 + id, 0)
}

pub fn batch(client: &str, mutations: Vec<Value>) -> Value {
    json!({"clientId": client, "mutations": mutations})
}

/// A protocol client for one base URL.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

/// Check `serverTime` is the current time (within a minute) and take it out.
pub fn without_server_time(mut body: Value) -> Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let time = body.as_object_mut().and_then(|o| o.remove("serverTime")).and_then(|t| t.as_i64());
    let time = time.unwrap_or_else(|| panic!("no serverTime in {body}"));
    assert!((time - now).abs() < 60_000, "serverTime {time} is not now ({now})");
    body
}

impl TestServer {
    pub fn api(&self) -> Api {
        Api { base: self.base.clone(), http: self.http.clone() }
    }
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
        }
    }

    /// POST /sync/push with a valid protocol header and `dev:<user>` token.
    pub async fn push(&self, user: &str, body: &Value) -> (StatusCode, Value) {
        self.push_raw(Some(&format!("Bearer dev:{user}")), Some("1"), body.to_string()).await
    }

    pub async fn push_raw(&self, auth: Option<&str>, protocol: Option<&str>, body: String) -> (StatusCode, Value) {
        let mut req = self.http.post(format!("{}/sync/push", self.base)).header("content-type", "application/json");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(p) = protocol {
            req = req.header("x-sync-protocol", p);
        }
        let resp = req.body(body).send().await.unwrap();
        read(resp).await
    }

    /// Push and expect 200; returns the response body without its `serverTime` (checked
    /// to be the server's clock), so answers can be compared as wholes.
    pub async fn push_ok(&self, user: &str, body: &Value) -> Value {
        let (status, resp) = self.push(user, body).await;
        assert_eq!(status, StatusCode::OK, "push answered {resp}");
        without_server_time(resp)
    }

    pub async fn pull(&self, user: &str, query: &str) -> (StatusCode, Value) {
        self.get(&format!("/sync/pull?{query}"), Some(&format!("Bearer dev:{user}")), Some("1")).await
    }

    pub async fn pull_ok(&self, user: &str, checkpoint: u64, limit: u32) -> Value {
        let (status, body) = self.pull(user, &format!("checkpoint={checkpoint}&limit={limit}")).await;
        assert_eq!(status, StatusCode::OK, "pull answered {body}");
        without_server_time(body)
    }

    /// Every change for `user` after `checkpoint`, paging until `hasMore` is false.
    pub async fn pull_all(&self, user: &str, mut checkpoint: u64, limit: u32) -> (Vec<Value>, u64) {
        let mut all = Vec::new();
        loop {
            let page = self.pull_ok(user, checkpoint, limit).await;
            all.extend(page["changes"].as_array().unwrap().iter().cloned());
            checkpoint = page["checkpoint"].as_u64().unwrap();
            if !page["hasMore"].as_bool().unwrap() {
                return (all, checkpoint);
            }
        }
    }

    pub async fn get(&self, path: &str, auth: Option<&str>, protocol: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{}", self.base, path));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(p) = protocol {
            req = req.header("x-sync-protocol", p);
        }
        read(req.send().await.unwrap()).await
    }

    /// Open /sync/events for `user` and wait for the stream's `: connected` comment.
    pub async fn events(&self, user: &str) -> EventStream {
        let resp = self
            .http
            .get(format!("{}/sync/events", self.base))
            .header("authorization", format!("Bearer dev:{user}"))
            .header("x-sync-protocol", "1")
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .unwrap();
        EventStream::open(resp).await
    }
}

pub async fn read(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    (status, body)
}

/// Assert a JSON error body `{"error":{"code","message"}}` with this code.
pub fn assert_error(status: StatusCode, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status.as_u16(), want_status, "body {body}");
    assert_eq!(body["error"]["code"], want_code, "body {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "body {body}");
}

/// A server-sent event stream being read.
pub struct EventStream {
    resp: reqwest::Response,
    buf: String,
}

impl EventStream {
    pub async fn open(resp: reqwest::Response) -> EventStream {
        assert_eq!(resp.status(), StatusCode::OK);
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert!(ct.starts_with("text/event-stream"), "content-type {ct}");
        let mut stream = EventStream { resp, buf: String::new() };
        let first = stream.next_line(Duration::from_secs(10)).await;
        assert_eq!(first.as_deref(), Some(": connected"), "first line of the stream");
        stream
    }

    async fn next_line(&mut self, timeout: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(i) = self.buf.find('\n') {
                let line = self.buf[..i].trim_end_matches('\r').to_string();
                self.buf.drain(..=i);
                if line.is_empty() {
                    continue;
                }
                return Some(line);
            }
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }

    /// The next `data:` payload within `timeout` (comments skipped), parsed as JSON.
    pub async fn next_data(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = self.next_line(left).await?;
            if let Some(data) = line.strip_prefix("data:") {
                return Some(serde_json::from_str(data.trim()).unwrap());
            }
        }
    }

    /// Read pokes until one carries `checkpoint` (or later); false on timeout.
    pub async fn wait_for_checkpoint(&mut self, checkpoint: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_data(left).await {
                Some(v) if v["checkpoint"].as_u64().unwrap_or(0) >= checkpoint => return true,
                Some(_) => continue,
                None => return false,
            }
        }
    }
}

/// `results[i].version` of an applied answer.
pub fn version_of(resp: &Value, i: usize) -> u64 {
    assert_eq!(resp["results"][i]["status"], "applied", "result {i} of {resp}");
    resp["results"][i]["version"].as_u64().unwrap()
}

/// A server binary process on 127.0.0.1:0 (dev auth, plus `extra` arguments and `env`),
/// once it printed its address; killed when dropped.
pub struct Process {
    pub child: Child,
    pub base: String,
}

pub async fn spawn_server(database: &str) -> Process {
    spawn_server_with(database, &[], &[]).await
}

pub async fn spawn_server_with(database: &str, extra: &[&str], env: &[(&str, &str)]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pwa-sync-server"))
        .args(["--listen", "127.0.0.1:0", "--database", database, "--dev-auth"])
        .args(extra)
        .env_remove("PWA_SYNC_JWT_SECRET")
        .env_remove("PWA_SYNC_WEBHOOK_SECRET")
        .env_remove("PWA_SYNC_ADMIN_TOKEN")
        .env_remove("PWA_SYNC_INBOUND_SECRET")
        .envs(env.iter().copied())
        .env("RUST_LOG", "pwa_sync_server=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the server prints its address")
        .unwrap()
        .expect("a line");
    let base = line.strip_prefix("pwa-sync-server listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(!base.ends_with(":0"), "the real port is printed: {base}");
    Process { base: base.to_string(), child }
}
