//! Identity providers: RS256 and ES256 JWTs checked with a PEM key, a JWKS file and a JWKS
//! served on 127.0.0.1 by the test (cached, fetched again for an unknown kid), with keys
//! the test generates; wrong, expired, forged and unknown-key tokens get 401; and the
//! `spaces` claim grants, changes and revokes access. Once per backend.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use common::*;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{encode, Algorithm, DecodingKey, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use pwa_sync_server::auth::jwks::{Jwks, REFETCH_INTERVAL};
use pwa_sync_server::auth::{pem_key, AuthMode, JwtKeys};
use rand_core::OsRng;
use reqwest::StatusCode;
use serde_json::{json, Value};

per_backend!(
    rs256_tokens_by_pem_key,
    es256_tokens_by_jwks_file,
    jwks_url_is_cached_and_fetched_again_for_a_new_kid,
    spaces_claim_grants_changes_and_revokes,
);

const SECRET: &str = "hs256-secret";

struct KeyPair {
    private_pem: String,
    public_pem: String,
    alg: Algorithm,
}

fn rsa_pair() -> KeyPair {
    let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
    KeyPair {
        private_pem: key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        public_pem: key.to_public_key().to_public_key_pem(LineEnding::LF).unwrap(),
        alg: Algorithm::RS256,
    }
}

fn ec_pair() -> KeyPair {
    let key = p256::SecretKey::random(&mut OsRng);
    KeyPair {
        private_pem: key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        public_pem: key.public_key().to_public_key_pem(LineEnding::LF).unwrap(),
        alg: Algorithm::ES256,
    }
}

impl KeyPair {
    fn encoding(&self) -> EncodingKey {
        match self.alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(self.private_pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ec_pem(self.private_pem.as_bytes()).unwrap(),
        }
    }

    fn token(&self, kid: Option<&str>, claims: Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = kid.map(String::from);
        encode(&header, &claims, &self.encoding()).unwrap()
    }

    fn jwk(&self, kid: &str) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.encoding(), self.alg).unwrap();
        jwk.common.key_id = Some(kid.to_string());
        jwk
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn claims(user: &str) -> Value {
    json!({"sub": user, "exp": now() + 600})
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An HS256 token whose HMAC key is `key` (e.g. a public key's PEM text).
fn hs256(key: &[u8], claims: &Value) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key)).unwrap()
}

async fn start_jwt(backend: &Backend, keys: JwtKeys) -> TestServer {
    start_with(backend, |c| c.auth = AuthMode::Jwt(Arc::new(keys))).await
}

/// The status of `GET /sync/spaces` with this token, and the body.
async fn spaces(s: &TestServer, token: &str) -> (StatusCode, Value) {
    s.api().get("/sync/spaces", Some(&format!("Bearer {token}")), Some("1")).await
}

async fn assert_refused(s: &TestServer, token: &str, why: &str) {
    let (status, body) = spaces(s, token).await;
    assert_error(status, &body, 401, "unauthorized");
    assert!(body.get("spaces").is_none(), "{why}: {body}");
}

async fn rs256_tokens_by_pem_key(backend: Backend) {
    let pair = rsa_pair();
    let keys = JwtKeys {
        secret: Some(DecodingKey::from_secret(SECRET.as_bytes())),
        public_key: Some(pem_key(pair.public_pem.as_bytes()).unwrap()),
        jwks: None,
    };
    let s = start_jwt(&backend, keys).await;
    let (status, body) = spaces(&s, &pair.token(None, claims("ana"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"spaces": [{"id": "user:ana", "role": "owner"}]}));
    // HS256 with the secret still works alongside.
    assert_eq!(spaces(&s, &hs256(SECRET.as_bytes(), &claims("ana"))).await.0, StatusCode::OK);
    // Signed by another key.
    assert_refused(&s, &rsa_pair().token(None, claims("ana")), "wrong key").await;
    // Expired (past the 5 s leeway), and not valid yet.
    assert_refused(&s, &pair.token(None, json!({"sub": "ana", "exp": now() - 60})), "expired").await;
    assert_refused(&s, &pair.token(None, json!({"sub": "ana", "exp": now() + 600, "nbf": now() + 600})), "nbf").await;
    assert_refused(&s, &pair.token(None, json!({"exp": now() + 600})), "no sub").await;
    // Forged: HS256 keyed with the public key the server trusts, and `none`.
    assert_refused(&s, &hs256(pair.public_pem.as_bytes(), &claims("ana")), "HS256 with the public key").await;
    let unsigned = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims("ana").to_string().as_bytes()));
    assert_refused(&s, &unsigned, "alg none").await;
    // An RS256 signature presented as RS384, and an ES256 token with no EC key configured.
    let good = pair.token(None, claims("ana"));
    let parts: Vec<&str> = good.split('.').collect();
    let relabelled = format!("{}.{}.{}", b64(br#"{"alg":"RS384","typ":"JWT"}"#), parts[1], parts[2]);
    assert_refused(&s, &relabelled, "other algorithm").await;
    assert_refused(&s, &ec_pair().token(None, claims("ana")), "ES256 without a key").await;
    // A tampered payload.
    let tampered = format!("{}.{}.{}", parts[0], b64(claims("mallory").to_string().as_bytes()), parts[2]);
    assert_refused(&s, &tampered, "tampered").await;
}

async fn es256_tokens_by_jwks_file(backend: Backend) {
    let (ec, rsa) = (ec_pair(), rsa_pair());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let set = JwkSet { keys: vec![ec.jwk("e1"), rsa.jwk("r1")] };
    std::fs::write(&path, serde_json::to_string(&set).unwrap()).unwrap();
    let keys = JwtKeys { jwks: Some(Jwks::open(path.to_str().unwrap()).unwrap()), ..JwtKeys::default() };
    let s = start_jwt(&backend, keys).await;
    assert_eq!(spaces(&s, &ec.token(Some("e1"), claims("ana"))).await.0, StatusCode::OK);
    assert_eq!(spaces(&s, &rsa.token(Some("r1"), claims("ana"))).await.0, StatusCode::OK);
    assert_refused(&s, &ec.token(Some("e2"), claims("ana")), "unknown kid").await;
    assert_refused(&s, &ec.token(None, claims("ana")), "no kid").await;
    // The kid of the EC key on an RS256 token, and a token of another EC key under e1.
    assert_refused(&s, &rsa.token(Some("e1"), claims("ana")), "algorithm not the key's").await;
    assert_refused(&s, &ec_pair().token(Some("e1"), claims("ana")), "wrong key").await;
    assert_refused(&s, &hs256(ec.public_pem.as_bytes(), &claims("ana")), "HS256 without a secret").await;
    assert_refused(&s, &ec.token(Some("e1"), json!({"sub": "ana", "exp": now() - 60})), "expired").await;
}

/// A JWKS on 127.0.0.1 whose content the test changes, counting fetches.
struct JwksServer {
    url: String,
    set: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl JwksServer {
    async fn start(set: Value) -> JwksServer {
        let set = Arc::new(Mutex::new(set));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (s, f) = (set.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let (s, f) = (s.clone(), f.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let body = s.lock().unwrap().clone();
                    axum::Json(body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        JwksServer { url, set, fetches, stop: Some(stop) }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn jwks_url_is_cached_and_fetched_again_for_a_new_kid(backend: Backend) {
    let (k1, k2) = (rsa_pair(), ec_pair());
    let mut provider = JwksServer::start(json!({"keys": [k1.jwk("k1")]})).await;
    let keys = JwtKeys { jwks: Some(Jwks::open(&provider.url).unwrap()), ..JwtKeys::default() };
    let s = start_jwt(&backend, keys).await;
    assert_eq!(provider.fetches(), 0, "fetched when first needed");
    for _ in 0..3 {
        assert_eq!(spaces(&s, &k1.token(Some("k1"), claims("ana"))).await.0, StatusCode::OK);
    }
    assert_eq!(provider.fetches(), 1, "cached");
    // Unknown kids right after a fetch do not make the server fetch again.
    for _ in 0..3 {
        assert_refused(&s, &k2.token(Some("k2"), claims("ana")), "unknown kid").await;
    }
    assert_eq!(provider.fetches(), 1, "at most one fetch per {REFETCH_INTERVAL:?}");
    // The provider rotates in k2; a k2 token (after the interval) makes one fetch.
    *provider.set.lock().unwrap() = json!({"keys": [k1.jwk("k1"), k2.jwk("k2")]});
    tokio::time::sleep(REFETCH_INTERVAL + Duration::from_millis(200)).await;
    assert_eq!(spaces(&s, &k2.token(Some("k2"), claims("ana"))).await.0, StatusCode::OK);
    assert_eq!(spaces(&s, &k1.token(Some("k1"), claims("ana"))).await.0, StatusCode::OK);
    assert_eq!(provider.fetches(), 2);
    // A token of another key under k2's id, and an unknown kid once the provider is gone.
    assert_refused(&s, &ec_pair().token(Some("k2"), claims("ana")), "wrong key").await;
    drop(provider.stop.take());
    tokio::time::sleep(REFETCH_INTERVAL + Duration::from_millis(200)).await;
    assert_refused(&s, &k2.token(Some("k3"), claims("ana")), "provider down").await;
    // Known keys still work from the cache.
    assert_eq!(spaces(&s, &k2.token(Some("k2"), claims("ana"))).await.0, StatusCode::OK);
}

async fn spaces_claim_grants_changes_and_revokes(backend: Backend) {
    let s = start_with(&backend, |c| {
        c.auth = AuthMode::jwt(SECRET.as_bytes());
        c.admin.token = Some("adm".into());
    })
    .await;
    let token = |spaces: Value| hs256(SECRET.as_bytes(), &json!({"sub": "ana", "exp": now() + 600, "spaces": spaces}));
    let writes = json!({"writes": [{"space": "conference", "collection": "programme", "key": "s1", "op": "put",
                                    "value": {"title": "Keynote"}}]});
    let resp = s
        .http
        .post(format!("{}/sync/admin/writes", s.base))
        .bearer_auth("adm")
        .body(writes.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let api = s.api();
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| {
        let req = match method {
            "POST" => api.http.post(format!("{}{path}", api.base)).body(body.unwrap_or_default().to_string()),
            _ => api.http.get(format!("{}{path}", api.base)),
        };
        req.header("authorization", format!("Bearer {token}")).header("x-sync-protocol", "1").send()
    };
    let reader = token(json!({"conference": "reader"}));
    let (status, body) = spaces(&s, &reader).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["spaces"], json!([{"id": "conference", "role": "reader"}, {"id": "user:ana", "role": "owner"}]));
    let (_, page) = read(call("GET", "/sync/pull?checkpoint=0", &reader, None).await.unwrap()).await;
    assert_eq!(page["changes"][0]["value"], json!({"title": "Keynote"}));
    // The document's version is the base of an edit (the checkpoint is the grant's position).
    let base = page["changes"][0]["version"].as_u64().unwrap();
    let edit = batch(
        "a-1",
        vec![{
            let mut m = put(1, "programme", "s1", json!({"title": "Mine"}), Some(base));
            m["space"] = json!("conference");
            m
        }],
    );
    let (_, resp) = read(call("POST", "/sync/push", &reader, Some(edit.clone())).await.unwrap()).await;
    assert_eq!(resp["results"][0]["code"], "forbidden");
    let writer = token(json!({"conference": "writer"}));
    let edit = batch(
        "a-1",
        vec![{
            let mut m = put(2, "programme", "s1", json!({"title": "Mine"}), Some(base));
            m["space"] = json!("conference");
            m
        }],
    );
    let (_, resp) = read(call("POST", "/sync/push", &writer, Some(edit)).await.unwrap()).await;
    assert_eq!(resp["results"][0]["status"], "applied", "{resp}");
    let after = resp["results"][0]["version"].as_u64().unwrap();
    // A token without the claim: the space is revoked.
    let plain = token(json!({}));
    let (_, page) = read(call("GET", &format!("/sync/pull?checkpoint={after}"), &plain, None).await.unwrap()).await;
    assert_eq!(page["revoked"], json!(["conference"]), "{page}");
    assert_eq!(spaces(&s, &plain).await.1["spaces"].as_array().unwrap().len(), 1);
    // Claims naming an invalid space or role are refused.
    assert_refused(&s, &token(json!({"a b": "reader"})), "invalid space").await;
    assert_refused(&s, &token(json!({"conference": "admin"})), "invalid role").await;
}
