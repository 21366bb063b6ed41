//! Command line and the validated server configuration.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::auth::AuthMode;

pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_MAX_BATCH: usize = 500;
pub const DEFAULT_MAX_VALUE_BYTES: usize = 256 * 1024;
pub const DEFAULT_WEBHOOK_MAX_ATTEMPTS: u32 = 8;
pub const DEFAULT_WEBHOOK_BACKOFF_BASE_MS: u64 = 1000;
pub const DEFAULT_WEBHOOK_TIMEOUT_SECS: u64 = 10;

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
        }
    }

    /// Validate the command line. The error is a sentence for the operator.
    pub fn from_cli(cli: Cli) -> Result<Config, String> {
        let auth = match (cli.jwt_secret, cli.dev_auth) {
            (Some(_), true) => return Err("pass only one of --jwt-secret SECRET and --dev-auth, not both".into()),
            (None, false) => {
                return Err("no authentication mode: pass --jwt-secret SECRET (HS256 JWTs, `sub` = user) \
                     or --dev-auth (token `dev:<user>`, for development only)"
                    .into())
            }
            (Some(secret), false) if secret.is_empty() => return Err("--jwt-secret must not be empty".into()),
            (Some(secret), false) => AuthMode::jwt(secret.as_bytes()),
            (None, true) => AuthMode::Dev,
        };
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
        })
    }
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
