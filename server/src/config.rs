//! Command line and the validated server configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::auth::AuthMode;

pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_MAX_BATCH: usize = 500;
pub const DEFAULT_MAX_VALUE_BYTES: usize = 256 * 1024;

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
        }
    }

    /// Validate the command line. The error is a sentence for the operator.
    pub fn from_cli(cli: Cli) -> Result<Config, String> {
        let auth = match (cli.jwt_secret, cli.dev_auth) {
            (Some(_), true) => {
                return Err("pass only one of --jwt-secret SECRET and --dev-auth, not both".into())
            }
            (None, false) => {
                return Err("no authentication mode: pass --jwt-secret SECRET (HS256 JWTs, `sub` = user) \
                     or --dev-auth (token `dev:<user>`, for development only)"
                    .into())
            }
            (Some(secret), false) if secret.is_empty() => {
                return Err("--jwt-secret must not be empty".into())
            }
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
        })
    }
}
