//! Bearer tokens: `dev:<user>` with `--dev-auth`, HS256 JWTs (`sub`, `exp`) with `--jwt-secret`.

use std::fmt;

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Longest accepted user id (it is stored with every document).
pub const MAX_USER_LEN: usize = 256;

#[derive(Clone)]
pub enum AuthMode {
    /// `dev:<user>` authenticates as `<user>`. Development only.
    Dev,
    Jwt(Box<JwtKey>),
}

pub struct JwtKey {
    key: DecodingKey,
    validation: Validation,
}

impl Clone for JwtKey {
    fn clone(&self) -> Self {
        JwtKey { key: self.key.clone(), validation: self.validation.clone() }
    }
}

impl fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::Dev => f.write_str("Dev"),
            AuthMode::Jwt(_) => f.write_str("Jwt(HS256, secret hidden)"),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

/// Why a token was refused (the message is safe to show the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError(pub String);

impl AuthMode {
    pub fn jwt(secret: &[u8]) -> AuthMode {
        // Only HS256: a token whose header names another algorithm, or `none`, is refused
        // before its signature is looked at.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = true;
        // A token not valid yet (`nbf` in the future) is refused too, when it has one.
        validation.validate_nbf = true;
        validation.leeway = 5;
        AuthMode::Jwt(Box::new(JwtKey { key: DecodingKey::from_secret(secret), validation }))
    }

    /// The user a bearer token authenticates, or why not.
    pub fn authenticate(&self, token: &str) -> Result<String, AuthError> {
        let user = match self {
            AuthMode::Dev => token
                .strip_prefix("dev:")
                .ok_or_else(|| AuthError("expected a token of the form dev:<user>".into()))?
                .to_owned(),
            AuthMode::Jwt(jwt) => {
                decode::<Claims>(token, &jwt.key, &jwt.validation)
                    .map_err(|e| AuthError(format!("invalid token: {e}")))?
                    .claims
                    .sub
            }
        };
        if user.is_empty() || user.len() > MAX_USER_LEN || user.chars().any(char::is_control) {
            return Err(AuthError(format!("the user id must be 1 to {MAX_USER_LEN} bytes without control characters")));
        }
        Ok(user)
    }
}
