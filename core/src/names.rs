//! Names that cross from Rust to JavaScript, defined once. The wasm crate uses them
//! directly; `scripts/package.mjs` writes them into `pkg/names.js` and `pkg/names.d.ts`
//! (from `cargo run -p pwa-sync-core --example names`) for the service-worker helper, the
//! React hooks and the TypeScript types. Renaming one breaks apps: never do.

use serde_json::{json, Value};

/// The DOM events a client dispatches: (JS constant name, event name, TypeScript detail).
pub mod event {
    pub const CHANGE: &str = "pwa-sync:change";
    pub const STATUS: &str = "pwa-sync:status";
    pub const STORAGE_ERROR: &str = "pwa-sync:storage-error";
    pub const CONFLICT: &str = "pwa-sync:conflict";
    pub const REJECTED: &str = "pwa-sync:rejected";
    pub const PROGRESS: &str = "pwa-sync:progress";
    pub const AUTH_REQUIRED: &str = "pwa-sync:auth-required";
    pub const CLEARED: &str = "pwa-sync:cleared";
    pub const SPACES: &str = "pwa-sync:spaces";
    pub const EVICTED: &str = "pwa-sync:evicted";
    pub const NEWER_SCHEMA: &str = "pwa-sync:newer-schema";

    /// Every event with its key in JS's `EVENTS` and the TypeScript type of its detail
    /// (types declared in the package's `pwa_sync.d.ts`; `C` is the client's collection
    /// types, the parameter of `SyncEventMap<C>`).
    pub const ALL: [(&str, &str, &str); 11] = [
        ("change", CHANGE, "ChangeDetail<C>"),
        ("status", STATUS, "SyncStatus"),
        ("storageError", STORAGE_ERROR, "StorageErrorDetail"),
        ("conflict", CONFLICT, "ConflictDetail"),
        ("rejected", REJECTED, "RejectedDetail"),
        ("progress", PROGRESS, "ProgressDetail"),
        ("authRequired", AUTH_REQUIRED, "{ message: string }"),
        ("cleared", CLEARED, "{ origin: \"local\" | \"tab\" }"),
        ("spaces", SPACES, "SpacesDetail"),
        ("evicted", EVICTED, "EvictedDetail"),
        ("newerSchema", NEWER_SCHEMA, "NewerSchemaDetail"),
    ];
}

/// The Background Sync (and Periodic Sync) tag a page registers and the service worker
/// answers, unless the config's `syncTag` says otherwise.
pub const SYNC_TAG: &str = "pwa-sync";

/// The message a page posts to the service worker to ask for a flush (`requestFlush`).
pub const FLUSH_MESSAGE: &str = "pwa-sync:flush";

/// Every `error.code` a rejection of this library can carry: the codes of
/// [`crate::Error::code`], where a failed sync carries its error class.
pub const ERROR_CODES: [&str; 20] = [
    "invalid-config",
    "unknown-collection",
    "invalid-value",
    "not-found",
    "storage",
    "quota-exceeded",
    "schema-downgrade",
    "closed",
    "local-only",
    "unknown-conflict",
    "forbidden",
    "migration-failed",
    "invalid-query",
    "network",
    "timeout",
    "auth",
    "rate-limited",
    "server",
    "validation",
    "protocol",
];

/// `SyncClient`'s methods, numbered by their place here. The module exports one function
/// for all of them, `__call(method, a, b, c)`, and `scripts/package.mjs` gives the JS class
/// a method of each name that calls it with its number: one export's shim, where each
/// method's own was ~175 bytes of the module (bench/README.md "Size"). Appending keeps
/// the numbers of the others; the names are the public API.
pub const CLIENT_METHODS: [&str; 30] = [
    "put",
    "putMany",
    "patch",
    "delete",
    "get",
    "getFresh",
    "list",
    "query",
    "count",
    "explain",
    "watch",
    "sync",
    "flush",
    "discardPending",
    "resync",
    "pending",
    "status",
    "metrics",
    "persist",
    "health",
    "conflicts",
    "resolveConflict",
    "audit",
    "export",
    "clear",
    "close",
    "spaces",
    "on",
    "clientId",
    "name",
];

/// Of `CLIENT_METHODS`, the read-only properties (`client.clientId`), not methods.
pub const CLIENT_GETTERS: [&str; 2] = ["clientId", "name"];

/// What `pkg/names.js` exports, as JSON.
pub fn to_json() -> Value {
    let events: serde_json::Map<String, Value> =
        event::ALL.iter().map(|(key, name, _)| ((*key).to_owned(), json!(name))).collect();
    let details: serde_json::Map<String, Value> =
        event::ALL.iter().map(|(_, name, detail)| ((*name).to_owned(), json!(detail))).collect();
    json!({
        "events": events,
        "eventDetails": details,
        "syncTag": SYNC_TAG,
        "flushMessage": FLUSH_MESSAGE,
        "errorCodes": ERROR_CODES,
        "clientMethods": CLIENT_METHODS,
        "clientGetters": CLIENT_GETTERS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::error::ErrorClass;

    /// One error of every variant: the match makes a new variant a compile error here.
    fn every_error() -> Vec<Error> {
        let sample = |e: &Error| match e {
            Error::InvalidConfig(_)
            | Error::UnknownCollection(_)
            | Error::InvalidValue { .. }
            | Error::NotFound { .. }
            | Error::QuotaExceeded(_)
            | Error::Storage(_)
            | Error::SchemaDowngrade { .. }
            | Error::Closed
            | Error::LocalOnly
            | Error::UnknownConflict(_)
            | Error::Forbidden { .. }
            | Error::MigrationFailed(_)
            | Error::InvalidQuery { .. }
            | Error::Sync { .. } => (),
        };
        let classes = ErrorClass::ALL;
        let mut all = vec![
            Error::InvalidConfig("x".into()),
            Error::UnknownCollection("x".into()),
            Error::invalid_value("c", "r"),
            Error::NotFound { collection: "c".into(), key: "k".into() },
            Error::QuotaExceeded("q".into()),
            Error::Storage("s".into()),
            Error::SchemaDowngrade { found: 2, declared: 1 },
            Error::Closed,
            Error::LocalOnly,
            Error::UnknownConflict(1),
            Error::Forbidden { space: "s".into(), reason: "r".into() },
            Error::migration_failed("c", "k", 2, "r"),
            Error::InvalidQuery { collection: "c".into(), reason: "r".into() },
        ];
        all.extend(classes.map(|class| Error::Sync { class, message: "m".into() }));
        all.iter().for_each(sample);
        all
    }

    #[test]
    fn error_codes_are_exactly_the_codes_errors_carry() {
        let mut carried: Vec<&str> = every_error().iter().map(Error::code).collect();
        carried.sort_unstable();
        carried.dedup();
        let mut listed = ERROR_CODES.to_vec();
        listed.sort_unstable();
        assert_eq!(carried, listed);
    }

    #[test]
    fn event_names_are_unique_and_prefixed() {
        let mut names: Vec<&str> = event::ALL.iter().map(|(_, name, _)| *name).collect();
        assert!(names.iter().all(|n| n.starts_with("pwa-sync:")));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), event::ALL.len());
    }

    #[test]
    fn json_carries_every_name() {
        let names = to_json();
        assert_eq!(names["events"]["authRequired"], "pwa-sync:auth-required");
        assert_eq!(names["eventDetails"]["pwa-sync:change"], "ChangeDetail<C>");
        assert_eq!(names["syncTag"], "pwa-sync");
        assert_eq!(names["errorCodes"].as_array().map(Vec::len), Some(ERROR_CODES.len()));
    }
}
