//! `GET /sync/admin/status` from outside: only the admin token reads it, and it reports
//! totals, rejected pushes and failing webhook deliveries, failure rates and each URL's
//! queue. Each test runs once per backend (see `per_backend!` in common).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use pwa_sync_server::auth::AuthMode;
use pwa_sync_server::config::Webhooks;
use serde_json::{json, Value};
use tokio::time::Instant;

const ADMIN: &str = "status-admin-token";

per_backend!(
    admin_status_needs_the_admin_token,
    admin_status_refuses_user_jwts,
    admin_status_reports_failures_and_queues
);

async fn status(api: &Api, auth: Option<&str>) -> (StatusCode, Value) {
    let auth = auth.map(|token| format!("Bearer {token}"));
    api.get("/sync/admin/status", auth.as_deref(), None).await
}

async fn admin_status_needs_the_admin_token(backend: Backend) {
    let s = start_with(&backend, |c| c.admin.token = Some(ADMIN.into())).await;
    let api = s.api();
    let (code, body) = status(&api, None).await;
    assert_error(code, &body, 401, "unauthorized");
    let (code, body) = status(&api, Some("not-the-admin-token")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{body}");
    let (code, body) = status(&api, Some(&format!("{ADMIN}x"))).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{body}");
    // A valid user token is not the admin's.
    let (code, body) = status(&api, Some("dev:alice")).await;
    assert_error(code, &body, 403, "forbidden");
    let (code, body) = status(&api, Some(ADMIN)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["totals"]["documents"], 0);
    // Without --admin-token the endpoint does not exist, whatever the caller holds.
    let plain = start(&backend).await;
    for auth in [None, Some(ADMIN), Some("dev:alice")] {
        let (code, body) = status(&plain.api(), auth).await;
        assert_error(code, &body, 404, "not-found");
    }
}

async fn admin_status_refuses_user_jwts(backend: Backend) {
    const SECRET: &str = "status-jwt-secret";
    let s = start_with(&backend, |c| {
        c.admin.token = Some(ADMIN.into());
        c.auth = AuthMode::jwt(SECRET.as_bytes());
    })
    .await;
    let api = s.api();
    let exp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 600;
    let jwt = |key: &str| {
        let claims = json!({"sub": "alice", "exp": exp});
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
    };
    // A valid user JWT is a user, not the admin.
    let (code, body) = status(&api, Some(&jwt(SECRET))).await;
    assert_error(code, &body, 403, "forbidden");
    // Signed by another key, or a dev token on a JWT server: not a token at all.
    for token in [jwt("another secret"), "dev:alice".to_string()] {
        let (code, body) = status(&api, Some(&token)).await;
        assert_error(code, &body, 401, "unauthorized");
    }
    let (code, body) = status(&api, Some(ADMIN)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

async fn admin_status_reports_failures_and_queues(backend: Backend) {
    let failing = receiver(StatusCode::SERVICE_UNAVAILABLE).await;
    let working = receiver(StatusCode::OK).await;
    let urls = vec![failing.clone(), working.clone()];
    let s = start_with(&backend, |c| {
        c.admin.token = Some(ADMIN.into());
        c.webhooks = Webhooks {
            urls,
            secret: b"status-secret".to_vec(),
            max_attempts: 2,
            backoff_base: Duration::from_millis(20),
            ..Webhooks::default()
        };
    })
    .await;
    let api = s.api();
    let resp = api
        .push_ok(
            "alice",
            &batch(
                "c-1",
                vec![
                    put(1, "n", "a", json!({}), None),
                    put(2, "n", "b", json!({}), None),
                    patch(3, "n", "missing", json!({}), None),
                ],
            ),
        )
        .await;
    let statuses: Vec<&Value> = (0..3).map(|i| &resp["results"][i]["status"]).collect();
    assert_eq!(statuses, ["applied", "applied", "rejected"]);
    let rejected = resp["results"][2].clone();
    // Another client of alice's creates a key that exists: a conflict, not a failure.
    let resp = api.push_ok("alice", &batch("c-3", vec![put(1, "n", "a", json!({}), None)])).await;
    assert_eq!(resp["results"][0]["status"], "conflict");
    api.push_ok("bob", &batch("c-2", vec![put(1, "n", "x", json!({}), None)])).await;

    // Three events per URL: all dead after two attempts at one, delivered at the other.
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        let (code, body) = status(&api, Some(ADMIN)).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        // The report's queries are not one snapshot: the failure list may lag the counts
        // by an attempt, so wait until both show the end state.
        let dead_listed =
            body["recentFailures"].as_array().map_or(0, |f| f.iter().filter(|f| f["state"] == "dead").count());
        if body["totals"]["webhooksDead"] == 3 && body["totals"]["webhooksDelivered"] == 3 && dead_listed == 3 {
            break body;
        }
        assert!(Instant::now() < deadline, "deliveries did not settle: {body}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(
        body["totals"],
        json!({"documents": 3, "spaces": 2, "members": 0, "mutationsApplied": 3, "mutationsConflicted": 1,
               "mutationsRejected": 1, "webhooksPending": 0, "webhooksDelivered": 3, "webhooksDead": 3})
    );
    // 1 rejected of 5 results; 6 failed of 9 attempts.
    assert_eq!(body["failureRate"], json!({"pushes": 0.2, "webhookAttempts": 6.0 / 9.0}));
    assert_eq!(
        body["webhooks"],
        json!([
            {"url": failing, "pending": 0, "delivered": 0, "dead": 3, "attempts": 6, "failureRate": 1.0,
             "oldestPendingAt": null, "lastError": "HTTP 503 Service Unavailable"},
            {"url": working, "pending": 0, "delivered": 3, "dead": 0, "attempts": 3, "failureRate": 0.0,
             "oldestPendingAt": null, "lastError": null},
        ])
        .as_array()
        .map(|a| {
            // The two URLs come sorted.
            let mut a = a.clone();
            a.sort_by_key(|u| u["url"].as_str().map(str::to_string));
            Value::Array(a)
        })
        .unwrap()
    );
    let failures = body["recentFailures"].as_array().unwrap();
    assert_eq!(failures.len(), 4, "one rejected push, three dead deliveries: {failures:?}");
    let ats: Vec<i64> = failures.iter().map(|f| f["at"].as_i64().unwrap()).collect();
    assert!(ats.windows(2).all(|w| w[0] >= w[1]), "newest first: {ats:?}");
    let push: Vec<&Value> = failures.iter().filter(|f| f["kind"] == "push-rejected").collect();
    assert_eq!(push.len(), 1);
    assert_eq!(
        (push[0]["user"].clone(), push[0]["clientId"].clone(), push[0]["mutationId"].clone()),
        (json!("alice"), json!("c-1"), json!(3))
    );
    assert_eq!(
        (push[0]["code"].clone(), push[0]["lastError"].clone()),
        (rejected["code"].clone(), rejected["message"].clone())
    );
    let hooks: Vec<&Value> = failures.iter().filter(|f| f["kind"] == "webhook-failed").collect();
    assert_eq!(hooks.len(), 3);
    for hook in hooks {
        assert_eq!((hook["url"].as_str(), hook["state"].as_str()), (Some(failing.as_str()), Some("dead")), "{hook}");
        assert_eq!(hook["attempts"], 2);
        assert_eq!(hook["lastError"], "HTTP 503 Service Unavailable");
        assert!(hook["eventId"].as_str().is_some_and(|id| id.starts_with("evt_")), "{hook}");
    }
}

/// A webhook receiver answering every request with `answer`; its URL.
async fn receiver(answer: StatusCode) -> String {
    let app = Router::new().route("/hook", post(move || async move { answer }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
