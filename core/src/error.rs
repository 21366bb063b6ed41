//! One error type for the core. Each variant carries the data a caller needs, and maps to
//! a stable string `code` that the JS boundary exposes as `error.code`. Also the classes
//! of a failed sync ([`ErrorClass`]), which retry, scheduling and the engine decide by.

use thiserror::Error as ThisError;

/// Why a sync attempt failed, as apps and metrics see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// No connection, DNS, connection reset, CORS: the request did not complete.
    Network,
    Timeout,
    /// 401/403: the token is missing, expired or refused.
    Auth,
    /// 429 or 503 with `Retry-After`.
    RateLimited,
    /// 5xx.
    Server,
    /// 400 or a mutation the server rejected: a bug or bad data, not worth retrying as is.
    Validation,
    /// The server spoke something that is not protocol v1: wrong version (409), a body
    /// that does not parse, answers for mutations never sent, a checkpoint going back.
    Protocol,
}

impl ErrorClass {
    /// Every class, in declaration order.
    pub const ALL: [ErrorClass; 7] = [
        ErrorClass::Network,
        ErrorClass::Timeout,
        ErrorClass::Auth,
        ErrorClass::RateLimited,
        ErrorClass::Server,
        ErrorClass::Validation,
        ErrorClass::Protocol,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Network => "network",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Auth => "auth",
            ErrorClass::RateLimited => "rate-limited",
            ErrorClass::Server => "server",
            ErrorClass::Validation => "validation",
            ErrorClass::Protocol => "protocol",
        }
    }

    /// Whether trying again later, unchanged, can succeed.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorClass::Network | ErrorClass::Timeout | ErrorClass::RateLimited | ErrorClass::Server)
    }

    /// The class of an HTTP status that is not a success.
    pub fn from_status(status: u16) -> ErrorClass {
        match status {
            401 | 403 => ErrorClass::Auth,
            408 => ErrorClass::Timeout,
            409 => ErrorClass::Protocol,
            429 => ErrorClass::RateLimited,
            503 => ErrorClass::RateLimited,
            500..=599 => ErrorClass::Server,
            _ => ErrorClass::Validation,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which record a migration step failed on, and why (boxed: errors stay small).
#[derive(Debug, Clone, PartialEq, ThisError)]
#[error("migration to version {version} failed for \"{collection}\" key \"{key}\": {reason}")]
pub struct MigrationFailure {
    pub collection: String,
    pub key: String,
    pub version: u32,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, ThisError)]
pub enum Error {
    #[error("invalid config: {0}")]
    InvalidConfig(String),

    #[error("unknown collection \"{0}\"")]
    UnknownCollection(String),

    #[error("invalid value for collection \"{collection}\": {reason}")]
    InvalidValue { collection: String, reason: String },

    #[error("no record \"{key}\" in collection \"{collection}\"")]
    NotFound { collection: String, key: String },

    #[error("storage quota exceeded: {0}")]
    QuotaExceeded(String),

    #[error("storage error: {0}")]
    Storage(String),

    #[error("the database is at schema version {found}, newer than this app's {declared}; refusing to downgrade")]
    SchemaDowngrade { found: u32, declared: u32 },

    #[error("the client is closed")]
    Closed,

    #[error("this client has no endpoint: it is local-only")]
    LocalOnly,

    #[error("no open conflict {0}")]
    UnknownConflict(u64),

    /// A write into a space this user may only read (or no longer belongs to).
    #[error("cannot write to space \"{space}\": {reason}")]
    Forbidden { space: String, reason: String },

    /// A migration (`migrations[version]`) threw or returned something that is not a
    /// record of this key; on open, nothing was changed.
    #[error("{0}")]
    MigrationFailed(Box<MigrationFailure>),

    /// A query the collection cannot answer: unknown operator, bad operand, a cursor of
    /// another query.
    #[error("invalid query on collection \"{collection}\": {reason}")]
    InvalidQuery { collection: String, reason: String },

    /// A sync failed; `class` says why (network, timeout, auth, rate-limited, server,
    /// validation, protocol).
    #[error("sync failed ({}): {message}", class.as_str())]
    Sync { class: ErrorClass, message: String },
}

impl Error {
    /// Stable, documented identifiers. Apps switch on these; never rename one.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidConfig(_) => "invalid-config",
            Error::UnknownCollection(_) => "unknown-collection",
            Error::InvalidValue { .. } => "invalid-value",
            Error::NotFound { .. } => "not-found",
            Error::QuotaExceeded(_) => "quota-exceeded",
            Error::Storage(_) => "storage",
            Error::SchemaDowngrade { .. } => "schema-downgrade",
            Error::Closed => "closed",
            Error::LocalOnly => "local-only",
            Error::UnknownConflict(_) => "unknown-conflict",
            Error::Forbidden { .. } => crate::protocol::FORBIDDEN,
            Error::MigrationFailed(_) => "migration-failed",
            Error::InvalidQuery { .. } => "invalid-query",
            Error::Sync { class, .. } => class.as_str(),
        }
    }

    pub fn migration_failed(collection: &str, key: &str, version: u32, reason: impl Into<String>) -> Self {
        let (collection, key, reason) = (collection.to_owned(), key.to_owned(), reason.into());
        Error::MigrationFailed(Box::new(MigrationFailure { collection, key, version, reason }))
    }

    pub fn invalid_value(collection: &str, reason: impl Into<String>) -> Self {
        Error::InvalidValue { collection: collection.to_owned(), reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Error::InvalidConfig("x".into()).code(), "invalid-config");
        assert_eq!(Error::UnknownCollection("x".into()).code(), "unknown-collection");
        assert_eq!(Error::invalid_value("c", "r").code(), "invalid-value");
        assert_eq!(Error::QuotaExceeded("q".into()).code(), "quota-exceeded");
        assert_eq!(Error::Storage("s".into()).code(), "storage");
        assert_eq!(Error::SchemaDowngrade { found: 3, declared: 2 }.code(), "schema-downgrade");
        assert_eq!(Error::Closed.code(), "closed");
        assert_eq!(Error::LocalOnly.code(), "local-only");
        assert_eq!(Error::Sync { class: ErrorClass::RateLimited, message: "m".into() }.code(), "rate-limited");
    }

    #[test]
    fn messages_name_the_data() {
        let e = Error::invalid_value("trips", "key \"id\" is missing");
        assert_eq!(e.to_string(), "invalid value for collection \"trips\": key \"id\" is missing");
    }

    #[test]
    fn statuses_map_to_classes() {
        assert_eq!(ErrorClass::from_status(401), ErrorClass::Auth);
        assert_eq!(ErrorClass::from_status(429), ErrorClass::RateLimited);
        assert_eq!(ErrorClass::from_status(503), ErrorClass::RateLimited);
        assert_eq!(ErrorClass::from_status(502), ErrorClass::Server);
        assert_eq!(ErrorClass::from_status(409), ErrorClass::Protocol);
        assert_eq!(ErrorClass::from_status(400), ErrorClass::Validation);
        assert!(ErrorClass::Server.is_transient() && !ErrorClass::Validation.is_transient());
    }
}
