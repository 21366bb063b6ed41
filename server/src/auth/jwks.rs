//! A JSON Web Key Set: RS256 and ES256 public keys by `kid`, read from a file at start or
//! fetched from an URL (http or https) and cached. A token whose `kid` the cached set
//! lacks makes one fetch (the provider may have rotated keys), at most one per
//! [`REFETCH_INTERVAL`], so tokens with made-up key ids cannot make us hammer the provider.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Least time between two fetches of the key set.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(2);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest key set accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

type Keys = HashMap<String, (DecodingKey, Algorithm)>;

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot fetch the key set from {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("the key set is not a JWKS: {0}")]
    Parse(String),
}

pub struct Jwks {
    source: Source,
    cache: Mutex<Cache>,
}

enum Source {
    File(String),
    Url { uri: Uri, client: Box<crate::http::HttpClient> },
}

struct Cache {
    keys: Keys,
    fetched: Option<Instant>,
}

impl Jwks {
    /// A key set from a file (read now) or an http(s) URL (fetched on first use).
    pub fn open(location: &str) -> Result<Jwks, String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            let uri = Uri::try_from(location).map_err(|e| format!("--jwks {location}: not a URL ({e})"))?;
            let client = Box::new(crate::http::http_client()?);
            let cache = Cache { keys: Keys::new(), fetched: None };
            return Ok(Jwks { source: Source::Url { uri, client }, cache: Mutex::new(cache) });
        }
        let text = std::fs::read(location).map_err(|e| format!("--jwks {location}: {e}"))?;
        let keys = parse(&text).map_err(|e| format!("--jwks {location}: {e}"))?;
        let cache = Cache { keys, fetched: Some(Instant::now()) };
        Ok(Jwks { source: Source::File(location.to_owned()), cache: Mutex::new(cache) })
    }

    pub fn describe(&self) -> String {
        match &self.source {
            Source::File(path) => format!("file {path}"),
            Source::Url { uri, .. } => format!("url {uri}"),
        }
    }

    /// The key with id `kid`, fetching the set (again) when it is not known yet.
    pub async fn key(&self, kid: &str) -> Result<Option<(DecodingKey, Algorithm)>, JwksError> {
        // The lock is held across the fetch: concurrent unknown kids make one fetch.
        let mut cache = self.cache.lock().await;
        if let Some(key) = cache.keys.get(kid) {
            return Ok(Some(key.clone()));
        }
        let Source::Url { uri, client } = &self.source else { return Ok(None) };
        if cache.fetched.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return Ok(None);
        }
        cache.fetched = Some(Instant::now());
        cache.keys = fetch(client, uri).await?;
        Ok(cache.keys.get(kid).cloned())
    }
}

async fn fetch(client: &crate::http::HttpClient, uri: &Uri) -> Result<Keys, JwksError> {
    let failed = |reason: String| JwksError::Fetch { url: crate::http::redact(&uri.to_string()), reason };
    let request = Request::get(uri.clone()).body(Full::new(Bytes::new())).map_err(|e| failed(e.to_string()))?;
    let response = tokio::time::timeout(FETCH_TIMEOUT, client.request(request))
        .await
        .map_err(|_| failed(format!("no answer within {} s", FETCH_TIMEOUT.as_secs())))?
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    let body = tokio::time::timeout(FETCH_TIMEOUT, Limited::new(response.into_body(), MAX_JWKS_BYTES).collect())
        .await
        .map_err(|_| failed("the body did not arrive in time".into()))?
        .map_err(|e| failed(e.to_string()))?
        .to_bytes();
    parse(&body)
}

/// The RS256 and ES256 keys of a JWKS document that have a `kid`; others are skipped.
fn parse(text: &[u8]) -> Result<Keys, JwksError> {
    let set: JwkSet = serde_json::from_slice(text).map_err(|e| JwksError::Parse(e.to_string()))?;
    let mut keys = Keys::new();
    for jwk in &set.keys {
        let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), algorithm(jwk)) else { continue };
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => {
                keys.insert(kid, (key, alg));
            }
            Err(e) => tracing::warn!(kid = %kid, error = %e, "skipping an unusable key of the JWKS"),
        }
    }
    Ok(keys)
}

/// RS256 for RSA keys, ES256 for P-256 keys (or what `alg` says, when it is one of those).
fn algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(KeyAlgorithm::RS256) if by_type == Algorithm::RS256 => Some(by_type),
        Some(KeyAlgorithm::ES256) if by_type == Algorithm::ES256 => Some(by_type),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_without_kid_or_of_other_kinds_are_skipped() {
        let set = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]});
        let keys = parse(set.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys.get("e").map(|k| k.1), Some(Algorithm::ES256));
        assert!(parse(b"{}").is_err());
    }
}
