//! The real router over a store whose database is unreachable: 503 with JSON bodies and
//! Retry-After, and an unhealthy health report.

mod common;

use std::sync::Arc;

use common::*;
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;

use pwa_sync_core::protocol::{Change, PullResponse, PushRequest, Role};
use pwa_sync_server::auth::AuthMode;
use pwa_sync_server::config::Limits;
use pwa_sync_server::db::{
    Access, Claim, Finish, OutboxRow, PullQuery, PushOutcome, ServerWrite, Stats, Status, Store, StoreError,
};
use pwa_sync_server::notify::Notifier;
use pwa_sync_server::routes::router;
use pwa_sync_server::state::AppState;
use pwa_sync_server::Config;
use serde_json::json;

struct Unreachable;

fn down() -> StoreError {
    StoreError::Unavailable("connection refused".into())
}

impl Store for Unreachable {
    fn push<'a>(
        &'a self,
        _: &'a str,
        _: &'a PushRequest,
        _: Limits,
        _: &'a [String],
    ) -> BoxFuture<'a, Result<PushOutcome, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn pull<'a>(&'a self, _: &'a str, _: &'a PullQuery) -> BoxFuture<'a, Result<PullResponse, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn access<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Access, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn set_member<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Option<Role>,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn create_space<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn sync_token_grants<'a>(
        &'a self,
        _: &'a str,
        _: &'a BTreeMap<String, Role>,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn members<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<(String, Role)>, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn server_writes<'a>(
        &'a self,
        _: &'a [ServerWrite],
        _: Limits,
        _: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Change>, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn stats(&self) -> BoxFuture<'_, Result<Stats, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn status(&self) -> BoxFuture<'_, Result<Status, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn claim_webhooks<'a>(&'a self, _: &'a Claim) -> BoxFuture<'a, Result<Vec<OutboxRow>, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn finish_webhook<'a>(&'a self, _: i64, _: &'a str, _: &'a Finish) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async { Err(down()) })
    }
    fn backend(&self) -> &'static str {
        "unreachable"
    }
}

#[tokio::test]
async fn an_unreachable_database_gives_503_and_unhealthy_health() {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "unused", AuthMode::Dev);
    config.admin.token = Some("adm".into());
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let app = AppState {
        config: Arc::new(config),
        store: Arc::new(Unreachable),
        notifier: Arc::new(Notifier::new()),
        shutdown,
        webhook_wake: Default::default(),
        streams: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(app)).await });
    let api = Api::new(&base);

    let resp = api.http.get(format!("{base}/sync/health")).send().await.unwrap();
    assert_eq!(resp.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    let (status, health) = read(resp).await;
    assert_eq!(status.as_u16(), 503);
    // The public answer names no cause: that is in the log.
    assert_eq!(health, json!({"status": "unhealthy"}));

    let resp = api
        .http
        .post(format!("{base}/sync/push"))
        .header("authorization", "Bearer dev:alice")
        .header("x-sync-protocol", "1")
        .body(batch("c-1", vec![put(1, "n", "k", json!({}), None)]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let (status, body) = read(resp).await;
    assert_error(status, &body, 503, "unavailable");
    let (status, body) = api.pull("alice", "checkpoint=0").await;
    assert_error(status, &body, 503, "unavailable");
    let (status, body) = api.get("/sync/admin/status", Some("Bearer adm"), None).await;
    assert_error(status, &body, 503, "unavailable");
}
