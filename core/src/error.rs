//! One error type for the core. Each variant carries the data a caller needs, and maps to
//! a stable string `code` that the JS boundary exposes as `error.code`.

use thiserror::Error as ThisError;

use crate::retry::ErrorClass;

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
            Error::Sync { class, .. } => class.as_str(),
        }
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
}
