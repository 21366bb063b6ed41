//! Static files with SPA fallback, and CORS (backend-independent: SQLite only).

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_dir_is_served_with_spa_fallback() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html><title>app</title>").unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("assets/app.js"), "console.log(1)").unwrap();
    let path = dir.path().to_path_buf();
    let s = start_with(&Backend::Sqlite, move |c| c.static_dir = Some(path)).await;
    let get = |p: &str| s.http.get(format!("{}{}", s.base, p)).send();
    let r = get("/").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("<title>app</title>"));
    let r = get("/assets/app.js").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "console.log(1)");
    let r = get("/trips/42").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("<title>app</title>"));
    // /sync stays the API.
    let (status, body) = s.api().get("/sync/nope", None, None).await;
    assert_error(status, &body, 404, "not-found");
    let (status, _) = s.api().get("/sync/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_any_origin_allows_the_protocol_headers() {
    let s = start_with(&Backend::Sqlite, |c| c.cors_any_origin = true).await;
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/sync/push", s.base))
        .header("origin", "http://127.0.0.1:9999")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,x-sync-protocol,content-type")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let h = r.headers();
    assert_eq!(h.get("access-control-allow-origin").unwrap(), "*");
    let allowed = h.get("access-control-allow-headers").unwrap().to_str().unwrap().to_ascii_lowercase();
    for name in ["authorization", "x-sync-protocol", "content-type"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    // Errors carry the CORS header too, so a browser can read them.
    let r = s.http.get(format!("{}/sync/pull", s.base)).header("origin", "http://x.test").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.headers().get("access-control-allow-origin").unwrap(), "*");
    // Without the flag: no CORS headers.
    let plain = start(&Backend::Sqlite).await;
    let r =
        plain.http.get(format!("{}/sync/health", plain.base)).header("origin", "http://x.test").send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
