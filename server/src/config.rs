//! Command line and the validated server configuration.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use pwa_sync_core::protocol::{is_private_space, is_valid_space_id, Role};
use std::collections::BTreeMap;

use std::sync::Arc;

use crate::auth::jwks::Jwks;
use crate::auth::{pem_key, AuthMode, JwtKeys};

pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_MAX_BATCH: usize = 500;
pub const DEFAULT_MAX_VALUE_BYTES: usize = 256 * 1024;
pub const DEFAULT_WEBHOOK_MAX_ATTEMPTS: u32 = 8;
pub const DEFAULT_WEBHOOK_BACKOFF_BASE_MS: u64 = 1000;
pub const DEFAULT_WEBHOOK_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_MAX_STREAMS_PER_USER: usize = 16;
pub const DEFAULT_MAX_STREAMS: usize = 10_000;

/// `pwa-sync-server --listen 127.0.0.1:8787 --database sqlite://data/sync.db --dev-auth`
#[derive(Debug, Clone, Parser)]
#[command(name = "pwa-sync-server", version, about = "Reference sync server for pwa-sync (wire protocol v1)")]
pub struct Cli {
    /// Address to listen on; port 0 picks a free port (the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// `sqlite://path/to/file.db` (created if missing) or `postgres://user@host:port/db`.
    #[arg(long, default_value = "sqlite://data/sync.db")]
    pub database: String,
    /// Serve this directory at `/`, falling back to its index.html (single-page app).
    #[arg(long = "static", value_name = "DIR")]
    pub static_dir: Option<PathBuf>,
    /// Accept HS256 JWTs signed with this secret (`sub` = user, `exp` required).
    #[arg(long, env = "PWA_SYNC_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Accept RS256 or ES256 JWTs signed by this public key (a PEM file: RSA or P-256).
    #[arg(long, value_name = "PEM_FILE")]
    pub jwt_public_key: Option<PathBuf>,
    /// Accept RS256 and ES256 JWTs signed by the key of their `kid` in this JSON Web Key
    /// Set: a file, or an http(s) URL fetched when first needed and again on an unknown kid.
    #[arg(long, value_name = "FILE_OR_URL")]
    pub jwks: Option<String>,
    /// Enables the admin API (`/sync/admin/…`) for `Authorization: Bearer <this token>`.
    #[arg(long, env = "PWA_SYNC_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Accept `POST /sync/admin/writes` signed with this secret (`Sync-Signature`).
    #[arg(long, env = "PWA_SYNC_INBOUND_SECRET", hide_env_values = true)]
    pub inbound_secret: Option<String>,
    /// Every signed-in user has at least ROLE in SPACE (repeatable), as if their token
    /// granted it: a conference programme everyone reads, `--everyone conference=reader`.
    #[arg(long = "everyone", value_name = "SPACE=ROLE")]
    pub everyone: Vec<String>,
    /// Most open `/sync/events` streams per user; the next one gets 429.
    #[arg(long, default_value_t = DEFAULT_MAX_STREAMS_PER_USER)]
    pub max_streams_per_user: usize,
    /// Most open `/sync/events` streams in all; the next one gets 429.
    #[arg(long, default_value_t = DEFAULT_MAX_STREAMS)]
    pub max_streams: usize,
    /// Development only: the bearer token `dev:<user>` authenticates as `<user>`.
    #[arg(long)]
    pub dev_auth: bool,
    /// Allow cross-origin requests from any origin (browser tests on another origin).
    #[arg(long)]
    pub cors_any_origin: bool,
    /// Largest accepted request body; larger ones get 413.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Most mutations accepted in one push; more get 413 (the client splits the batch).
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH)]
    pub max_batch: usize,
    /// Largest accepted document value (serialized JSON); larger ones are rejected.
    #[arg(long, default_value_t = DEFAULT_MAX_VALUE_BYTES)]
    pub max_value_bytes: usize,
    /// POST a signed `document.changed` event to this http(s) URL for every applied change
    /// (repeatable). Needs --webhook-secret.
    #[arg(long = "webhook", value_name = "URL")]
    pub webhooks: Vec<String>,
    /// Key of the HMAC-SHA256 `Sync-Signature` header on webhook requests.
    #[arg(long, env = "PWA_SYNC_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Attempts per event before it is marked dead.
    #[arg(long, default_value_t = DEFAULT_WEBHOOK_MAX_ATTEMPTS)]
    pub webhook_max_attempts: u32,
    /// Wait after the first failed attempt; it doubles on each further failure (±10 %
    /// jitter), up to an hour.
    #[arg(long, default_value_t = DEFAULT_WEBHOOK_BACKOFF_BASE_MS)]
    pub webhook_backoff_base_ms: u64,
    /// Time limit of one webhook request (connect to end of response).
    #[arg(long, default_value_t = DEFAULT_WEBHOOK_TIMEOUT_SECS)]
    pub webhook_timeout_secs: u64,
}

/// What the server runs with, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: String,
    pub static_dir: Option<PathBuf>,
    pub auth: AuthMode,
    pub cors_any_origin: bool,
    pub limits: Limits,
    pub webhooks: Webhooks,
    pub admin: Admin,
    pub streams: StreamLimits,
    /// Grants every user has (`--everyone`), recorded like a JWT's `spaces` claim.
    pub everyone: BTreeMap<String, Role>,
}

/// Who may call the admin API: the bearer of `token`, and for `POST /sync/admin/writes`
/// requests signed with `inbound_secret`. Neither set: the admin API does not exist (404).
#[derive(Clone, Default)]
pub struct Admin {
    pub token: Option<String>,
    pub inbound_secret: Option<Vec<u8>>,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("token", &self.token.as_ref().map(|_| "(hidden)"))
            .field("inbound_secret", &self.inbound_secret.as_ref().map(|_| "(hidden)"))
            .finish()
    }
}

/// Caps on open event streams.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub per_user: usize,
    pub total: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits { per_user: DEFAULT_MAX_STREAMS_PER_USER, total: DEFAULT_MAX_STREAMS }
    }
}

/// Outbound webhooks; none when `urls` is empty.
#[derive(Clone)]
pub struct Webhooks {
    /// Absolute http(s) URLs, each sent every event.
    pub urls: Vec<String>,
    /// HMAC key of the signatures; must not be empty when `urls` is not.
    pub secret: Vec<u8>,
    /// Attempts per event before it is marked `dead` (at least 1).
    pub max_attempts: u32,
    /// Wait after the first failure; doubled per further failure, up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Time limit of one request.
    pub timeout: Duration,
    /// How often each process looks for due events (a push in this process also wakes it).
    pub poll_interval: Duration,
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks {
            urls: Vec::new(),
            secret: Vec::new(),
            max_attempts: DEFAULT_WEBHOOK_MAX_ATTEMPTS,
            backoff_base: Duration::from_millis(DEFAULT_WEBHOOK_BACKOFF_BASE_MS),
            backoff_cap: Duration::from_secs(3600),
            timeout: Duration::from_secs(DEFAULT_WEBHOOK_TIMEOUT_SECS),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhooks")
            .field("urls", &self.urls.len())
            .field("secret", &"(hidden)")
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base", &self.backoff_base)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Webhooks {
    pub fn enabled(&self) -> bool {
        !self.urls.is_empty()
    }

    /// Why this configuration cannot run, if it cannot (a sentence for the operator).
    pub fn check(&self) -> Result<(), String> {
        if !self.enabled() {
            return Ok(());
        }
        if self.secret.is_empty() {
            return Err("--webhook needs a signing secret: pass --webhook-secret SECRET \
                        (or set PWA_SYNC_WEBHOOK_SECRET)"
                .into());
        }
        if self.max_attempts == 0 {
            return Err("--webhook-max-attempts must be at least 1".into());
        }
        if self.timeout.is_zero() || self.poll_interval.is_zero() {
            return Err("--webhook-timeout-secs must be positive".into());
        }
        for url in &self.urls {
            check_webhook_url(url)?;
        }
        Ok(())
    }
}

fn check_webhook_url(url: &str) -> Result<(), String> {
    let parsed = axum::http::Uri::try_from(url).map_err(|e| format!("--webhook {url}: not a URL ({e})"))?;
    if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none_or(str::is_empty) {
        return Err(format!("--webhook {url}: expected an http:// or https:// URL with a host"));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_batch: usize,
    pub max_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch: DEFAULT_MAX_BATCH,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }
}

impl Config {
    /// A configuration with defaults, for tests and embedding.
    pub fn new(listen: SocketAddr, database: impl Into<String>, auth: AuthMode) -> Config {
        Config {
            listen,
            database: database.into(),
            static_dir: None,
            auth,
            cors_any_origin: false,
            limits: Limits::default(),
            webhooks: Webhooks::default(),
            admin: Admin::default(),
            streams: StreamLimits::default(),
            everyone: BTreeMap::new(),
        }
    }

    /// Validate the command line. The error is a sentence for the operator.
    pub fn from_cli(cli: Cli) -> Result<Config, String> {
        let auth = auth_mode(&cli)?;
        let nonempty = |flag: &str, value: Option<String>| match value {
            Some(v) if v.is_empty() => Err(format!("{flag} must not be empty")),
            other => Ok(other),
        };
        let admin = Admin {
            token: nonempty("--admin-token", cli.admin_token)?,
            inbound_secret: nonempty("--inbound-secret", cli.inbound_secret)?.map(String::into_bytes),
        };
        if cli.max_streams_per_user == 0 || cli.max_streams == 0 {
            return Err("--max-streams-per-user and --max-streams must be positive".into());
        }
        if cli.max_body_bytes == 0 || cli.max_batch == 0 || cli.max_value_bytes == 0 {
            return Err("--max-body-bytes, --max-batch and --max-value-bytes must be positive".into());
        }
        if let Some(dir) = &cli.static_dir {
            if !dir.is_dir() {
                return Err(format!("--static {}: not a directory", dir.display()));
            }
        }
        let webhooks = Webhooks {
            urls: cli.webhooks,
            secret: cli.webhook_secret.map(String::into_bytes).unwrap_or_default(),
            max_attempts: cli.webhook_max_attempts,
            backoff_base: Duration::from_millis(cli.webhook_backoff_base_ms),
            timeout: Duration::from_secs(cli.webhook_timeout_secs),
            ..Webhooks::default()
        };
        webhooks.check()?;
        let everyone = everyone_grants(&cli.everyone)?;
        Ok(Config {
            listen: cli.listen,
            database: cli.database,
            static_dir: cli.static_dir,
            auth,
            cors_any_origin: cli.cors_any_origin,
            limits: Limits {
                max_body_bytes: cli.max_body_bytes,
                max_batch: cli.max_batch,
                max_value_bytes: cli.max_value_bytes,
            },
            webhooks,
            admin,
            streams: StreamLimits { per_user: cli.max_streams_per_user, total: cli.max_streams },
            everyone,
        })
    }
}

/// `--everyone SPACE=ROLE` flags as grants. Private spaces are their owner's alone.
fn everyone_grants(flags: &[String]) -> Result<BTreeMap<String, Role>, String> {
    let mut grants = BTreeMap::new();
    for flag in flags {
        let parsed = flag.split_once('=').and_then(|(space, role)| Some((space, role.parse::<Role>().ok()?)));
        let Some((space, role)) = parsed else {
            return Err(format!("--everyone {flag}: expected SPACE=ROLE, ROLE being reader, writer or owner"));
        };
        if !is_valid_space_id(space) || is_private_space(space) {
            return Err(format!(
                "--everyone {flag}: the space must be 1 to 128 characters of [A-Za-z0-9_.:-], not a private user: space"
            ));
        }
        if grants.insert(space.to_owned(), role).is_some() {
            return Err(format!("--everyone names {space} twice"));
        }
    }
    Ok(grants)
}

/// `--dev-auth`, or JWTs with any of `--jwt-secret`, `--jwt-public-key` and `--jwks`.
fn auth_mode(cli: &Cli) -> Result<AuthMode, String> {
    let jwt = cli.jwt_secret.is_some() || cli.jwt_public_key.is_some() || cli.jwks.is_some();
    if cli.dev_auth {
        if jwt {
            return Err(
                "pass only one of --dev-auth and JWT keys (--jwt-secret, --jwt-public-key, --jwks), not both".into()
            );
        }
        return Ok(AuthMode::Dev);
    }
    if !jwt {
        return Err("no authentication mode: pass --jwt-secret SECRET (HS256 JWTs, `sub` = user), \
             --jwt-public-key PEM_FILE (RS256/ES256), --jwks FILE_OR_URL, \
             or --dev-auth (token `dev:<user>`, for development only)"
            .into());
    }
    let mut keys = JwtKeys::default();
    if let Some(secret) = &cli.jwt_secret {
        if secret.is_empty() {
            return Err("--jwt-secret must not be empty".into());
        }
        keys.secret = Some(jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()));
    }
    if let Some(path) = &cli.jwt_public_key {
        let pem = std::fs::read(path).map_err(|e| format!("--jwt-public-key {}: {e}", path.display()))?;
        keys.public_key = Some(pem_key(&pem).map_err(|e| format!("--jwt-public-key {}: {e}", path.display()))?);
    }
    if let Some(location) = &cli.jwks {
        keys.jwks = Some(Jwks::open(location)?);
    }
    Ok(AuthMode::Jwt(Arc::new(keys)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let cli =
            Cli::try_parse_from(["pwa-sync-server", "--dev-auth"].iter().chain(args)).map_err(|e| e.to_string())?;
        Config::from_cli(cli)
    }

    #[test]
    fn everyone_grants_are_space_role_pairs() {
        let config =
            parse(&["--everyone", "conference=reader", "--everyone", "wall=writer"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.everyone,
            BTreeMap::from([("conference".to_string(), Role::Reader), ("wall".to_string(), Role::Writer)])
        );
        for bad in ["conference", "conference=admin", "=reader", "user:bob=reader", "a b=reader", "x=reader,y"] {
            let err = parse(&["--everyone", bad]).err().unwrap_or_default();
            assert!(err.contains("--everyone"), "{bad}: {err}");
        }
        let err = parse(&["--everyone", "c=reader", "--everyone", "c=owner"]).err().unwrap_or_default();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn webhooks_need_a_secret_and_valid_urls() {
        let err = parse(&["--webhook", "http://127.0.0.1:9/hook"]).err().unwrap_or_default();
        assert!(err.contains("--webhook-secret"), "{err}");
        let err = parse(&["--webhook", "http://h/x", "--webhook-secret", ""]).err().unwrap_or_default();
        assert!(err.contains("--webhook-secret"), "{err}");
        for bad in ["not a url", "ftp://h/x", "file:///etc/passwd", "/relative"] {
            let err = parse(&["--webhook", bad, "--webhook-secret", "s"]).err().unwrap_or_default();
            assert!(err.contains("--webhook"), "{bad}: {err}");
        }
        let err = parse(&["--webhook", "http://h/x", "--webhook-secret", "s", "--webhook-max-attempts", "0"]);
        assert!(err.is_err());
        let config = parse(&[
            "--webhook",
            "http://a.test/x",
            "--webhook",
            "https://b.test/y",
            "--webhook-secret",
            "s3cret",
            "--webhook-max-attempts",
            "3",
            "--webhook-backoff-base-ms",
            "50",
        ]);
        let webhooks = config.map(|c| c.webhooks).unwrap_or_default();
        assert_eq!(webhooks.urls, vec!["http://a.test/x", "https://b.test/y"]);
        assert_eq!(webhooks.secret, b"s3cret");
        assert_eq!(webhooks.max_attempts, 3);
        assert_eq!(webhooks.backoff_base, Duration::from_millis(50));
        assert!(!format!("{webhooks:?}").contains("s3cret"), "the secret stays out of logs");
        // A secret without webhooks is harmless; no webhooks is the default.
        assert!(parse(&["--webhook-secret", "s"]).is_ok_and(|c| !c.webhooks.enabled()));
    }
}
