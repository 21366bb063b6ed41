//! Bearer tokens: `dev:<user>` with `--dev-auth`; JWTs (`sub` = user, `exp` required) with
//! `--jwt-secret` (HS256), `--jwt-public-key` (RS256 or ES256, a PEM file) and `--jwks`
//! (RS256 and ES256 keys by `kid`, a file or an URL; see [`jwks`]), in any combination.
//! A JWT may carry `spaces: {"<space>": "reader" | "writer" | "owner"}`: grants the app's
//! backend made (recorded as the user's token grants, see `db::members`).

pub mod jwks;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use pwa_sync_core::protocol::{is_valid_space_id, Role};
use serde::Deserialize;

use jwks::Jwks;

/// Longest accepted user id (it is stored with every document).
pub const MAX_USER_LEN: usize = 256;

#[derive(Clone)]
pub enum AuthMode {
    /// `dev:<user>` authenticates as `<user>`. Development only.
    Dev,
    Jwt(Arc<JwtKeys>),
}

/// The keys JWTs are checked with; at least one is set.
#[derive(Default)]
pub struct JwtKeys {
    /// HS256 tokens: the shared secret.
    pub secret: Option<DecodingKey>,
    /// RS256 or ES256 tokens without a `kid` (or with one the JWKS lacks): a PEM key.
    pub public_key: Option<(DecodingKey, Algorithm)>,
    /// RS256 or ES256 tokens by `kid`.
    pub jwks: Option<Jwks>,
}

impl fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::Dev => f.write_str("Dev"),
            AuthMode::Jwt(keys) => write!(
                f,
                "Jwt(HS256 secret: {}, public key: {:?}, JWKS: {})",
                keys.secret.is_some(),
                keys.public_key.as_ref().map(|(_, alg)| alg),
                keys.jwks.as_ref().map_or("none".to_string(), |j| j.describe()),
            ),
        }
    }
}

/// Who a token authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    /// The token's grants (`spaces` claim; empty when it has none); `None` for dev tokens,
    /// which carry no grants and leave the recorded ones alone.
    pub spaces: Option<BTreeMap<String, Role>>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    spaces: BTreeMap<String, Role>,
}

/// Why a token was refused (the message is safe to show the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError(pub String);

impl AuthMode {
    /// HS256 only (the server's original mode).
    pub fn jwt(secret: &[u8]) -> AuthMode {
        AuthMode::Jwt(Arc::new(JwtKeys { secret: Some(DecodingKey::from_secret(secret)), ..JwtKeys::default() }))
    }

    /// Who a bearer token authenticates, or why not.
    pub async fn authenticate(&self, token: &str) -> Result<Identity, AuthError> {
        let identity = match self {
            AuthMode::Dev => Identity {
                user: token
                    .strip_prefix("dev:")
                    .ok_or_else(|| AuthError("expected a token of the form dev:<user>".into()))?
                    .to_owned(),
                spaces: None,
            },
            AuthMode::Jwt(keys) => {
                let claims = keys.verify(token).await?;
                if let Some(space) = claims.spaces.keys().find(|s| !is_valid_space_id(s)) {
                    return Err(AuthError(format!("invalid token: spaces claim names an invalid space {space:?}")));
                }
                Identity { user: claims.sub, spaces: Some(claims.spaces) }
            }
        };
        let user = &identity.user;
        if user.is_empty() || user.len() > MAX_USER_LEN || user.chars().any(char::is_control) {
            return Err(AuthError(format!("the user id must be 1 to {MAX_USER_LEN} bytes without control characters")));
        }
        Ok(identity)
    }
}

/// What every JWT must satisfy, for the one algorithm its key takes.
fn validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation.validate_exp = true;
    // A token not valid yet (`nbf` in the future) is refused too, when it has one.
    validation.validate_nbf = true;
    validation.leeway = 5;
    validation
}

impl JwtKeys {
    /// The claims of a token signed by one of the keys. The key is chosen by the header's
    /// algorithm and `kid`, and checked with that algorithm only: an HS256 token is only
    /// ever checked with the secret (never with a public key's bytes), `none` and other
    /// algorithms are refused before any signature is looked at.
    async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let invalid = |e: jsonwebtoken::errors::Error| AuthError(format!("invalid token: {e}"));
        let header = decode_header(token).map_err(invalid)?;
        let key = match header.alg {
            Algorithm::HS256 => {
                self.secret.clone().ok_or_else(|| AuthError("invalid token: HS256 tokens are not accepted".into()))?
            }
            Algorithm::RS256 | Algorithm::ES256 => self.public_key_for(header.alg, header.kid.as_deref()).await?,
            other => return Err(AuthError(format!("invalid token: algorithm {other:?} is not accepted"))),
        };
        decode::<Claims>(token, &key, &validation(header.alg)).map(|data| data.claims).map_err(invalid)
    }

    async fn public_key_for(&self, alg: Algorithm, kid: Option<&str>) -> Result<DecodingKey, AuthError> {
        if let (Some(jwks), Some(kid)) = (&self.jwks, kid) {
            return match jwks.key(kid).await {
                Ok(Some((key, key_alg))) if key_alg == alg => Ok(key),
                Ok(Some((_, key_alg))) => {
                    Err(AuthError(format!("invalid token: key {kid:?} is for {key_alg:?}, the token says {alg:?}")))
                }
                Ok(None) => Err(AuthError(format!("invalid token: unknown key id {kid:?}"))),
                Err(e) => {
                    tracing::warn!(error = %e, "JWKS unavailable");
                    Err(AuthError("cannot check the token: the key set is unavailable".into()))
                }
            };
        }
        match &self.public_key {
            Some((key, key_alg)) if *key_alg == alg => Ok(key.clone()),
            _ => Err(AuthError(format!(
                "invalid token: no key for {alg:?} tokens{}",
                if kid.is_none() && self.jwks.is_some() { " without a kid" } else { "" }
            ))),
        }
    }
}

/// A PEM public key (RSA or P-256) and the algorithm its tokens use.
pub fn pem_key(pem: &[u8]) -> Result<(DecodingKey, Algorithm), String> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((key, Algorithm::RS256));
    }
    DecodingKey::from_ec_pem(pem)
        .map(|key| (key, Algorithm::ES256))
        .map_err(|e| format!("not an RSA or EC (P-256) public key in PEM: {e}"))
}
