//! The database schema, described once and rendered for SQLite and PostgreSQL
//! ([`ddl`]), as numbered migrations applied in order at start. Applied versions are
//! recorded in `schema_migrations`; a database with a version this server does not know
//! (written by a newer server) is refused.
//!
//! Tables:
//! - counter: the one row whose `v` is the global version sequence (and pull checkpoint);
//! - clients: the user each clientId belongs to;
//! - documents: the latest state per (user, collection, key); NULL doc_value = tombstone;
//! - mutations: the stored answer for every (client_id, mutation_id), applied or not;
//! - webhook_outbox (2): one row per (applied change, webhook URL), written in the push
//!   transaction; `body` is the exact JSON sent (and signed); `next_attempt_at` (Unix ms)
//!   is when it is due, and while a process delivers it, the end of that process's lease
//!   (`claimed_by` names the claim); `state` is pending, delivered or dead.
//!
//! - documents (3): keyed by (space, collection, key) instead of (user, …): migration 3
//!   renames the old table, creates the new one and copies every row into its user's
//!   private space `user:<user>`;
//! - members (3): one row per (space, user, source), `source` being `admin` (the admin
//!   API) or `token` (a JWT's `spaces` claim, recorded when seen); `role` is NULL once
//!   the grant was removed; `since` is the counter version the grant got (the pull's
//!   backfill position), `changed` the version of its last change (revocations).
//!
//! - documents (4): `schema_version`, the app schema version its last writer sent
//!   (`schemaVersion`), NULL if none; returned on pull so clients migrate older values.
//!
//! A later change to a table is a new migration with its own steps; the tables below
//! stay as their migration created them (see [`Migration`]).

mod ddl;
#[cfg(test)]
pub(crate) mod pinned;
#[cfg(test)]
mod tests;

use ddl::Type::{BigInt, Int, Serial, Text};
use ddl::{column, Index, Step, Table};
pub(crate) use ddl::{Dialect, Migration};

/// The migration runner's own table. Written out because it predates every migration
/// (it is how they are found), and it is the same text in both dialects.
pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        steps: &[
            Step::Create(&COUNTER),
            Step::Sql("INSERT INTO counter (id, v) VALUES (1, 0)"),
            Step::Create(&CLIENTS),
            Step::Create(&DOCUMENTS),
            Step::Index(&DOCUMENTS_BY_USER_VERSION),
            Step::Create(&MUTATIONS),
        ],
    },
    Migration {
        version: 2,
        name: "webhook outbox",
        steps: &[Step::Create(&WEBHOOK_OUTBOX), Step::Index(&WEBHOOK_OUTBOX_DUE), Step::Index(&WEBHOOK_OUTBOX_STATE)],
    },
    Migration {
        version: 3,
        name: "spaces",
        steps: &[
            // Both dialects keep the old table's indexes with it, and drop them with it.
            Step::Sql("ALTER TABLE documents RENAME TO documents_by_user"),
            Step::Create(&SPACE_DOCUMENTS),
            Step::Sql(
                "INSERT INTO documents (space, collection, doc_key, version, doc_value, hlc, writer_client, \
                 writer_mutation, updated_at) SELECT 'user:' || user_id, collection, doc_key, version, doc_value, \
                 hlc, writer_client, writer_mutation, updated_at FROM documents_by_user",
            ),
            Step::Sql("DROP TABLE documents_by_user"),
            Step::Index(&DOCUMENTS_BY_SPACE_VERSION),
            Step::Create(&MEMBERS),
            Step::Index(&MEMBERS_BY_USER),
        ],
    },
    Migration {
        version: 4,
        name: "schema versions",
        // NULL: written by a client that sent no `schemaVersion` (version 1 to clients).
        steps: &[Step::Sql("ALTER TABLE documents ADD COLUMN schema_version BIGINT")],
    },
];

const COUNTER: Table = Table {
    name: "counter",
    columns: &[column("id", Int).primary_key().check("id = 1"), column("v", BigInt).not_null()],
    primary_key: &[],
};

const CLIENTS: Table = Table {
    name: "clients",
    columns: &[
        column("client_id", Text).primary_key(),
        column("user_id", Text).not_null(),
        column("created_at", BigInt).not_null(),
    ],
    primary_key: &[],
};

const DOCUMENTS: Table = Table {
    name: "documents",
    columns: &[
        column("user_id", Text).not_null(),
        column("collection", Text).not_null(),
        column("doc_key", Text).not_null(),
        column("version", BigInt).not_null().unique(),
        column("doc_value", Text),
        column("hlc", Text).not_null(),
        column("writer_client", Text).not_null(),
        column("writer_mutation", BigInt).not_null(),
        column("updated_at", BigInt).not_null(),
    ],
    primary_key: &["user_id", "collection", "doc_key"],
};

/// A pull reads one user's documents in version order.
const DOCUMENTS_BY_USER_VERSION: Index =
    Index { name: "documents_by_user_version", table: "documents", columns: &["user_id", "version"], filter: None };

/// Migration 3's documents: the space replaces the user in the key.
const SPACE_DOCUMENTS: Table = Table {
    name: "documents",
    columns: &[
        column("space", Text).not_null(),
        column("collection", Text).not_null(),
        column("doc_key", Text).not_null(),
        column("version", BigInt).not_null().unique(),
        column("doc_value", Text),
        column("hlc", Text).not_null(),
        column("writer_client", Text).not_null(),
        column("writer_mutation", BigInt).not_null(),
        column("updated_at", BigInt).not_null(),
    ],
    primary_key: &["space", "collection", "doc_key"],
};

/// A pull reads each readable space's documents in version order.
const DOCUMENTS_BY_SPACE_VERSION: Index =
    Index { name: "documents_by_space_version", table: "documents", columns: &["space", "version"], filter: None };

const MEMBERS: Table = Table {
    name: "members",
    columns: &[
        column("space", Text).not_null(),
        column("user_id", Text).not_null(),
        column("source", Text).not_null().check("source IN ('admin', 'token')"),
        column("role", Text).check("role IN ('reader', 'writer', 'owner')"),
        column("since", BigInt).not_null(),
        column("changed", BigInt).not_null(),
    ],
    primary_key: &["space", "user_id", "source"],
};

/// Every pull, push and stream reads the caller's memberships.
const MEMBERS_BY_USER: Index = Index { name: "members_by_user", table: "members", columns: &["user_id"], filter: None };

const MUTATIONS: Table = Table {
    name: "mutations",
    columns: &[
        column("client_id", Text).not_null(),
        column("mutation_id", BigInt).not_null(),
        column("user_id", Text).not_null(),
        column("status", Text).not_null(),
        column("result", Text).not_null(),
        column("version", BigInt),
        column("created_at", BigInt).not_null(),
    ],
    primary_key: &["client_id", "mutation_id"],
};

const WEBHOOK_OUTBOX: Table = Table {
    name: "webhook_outbox",
    columns: &[
        column("id", Serial),
        column("url", Text).not_null(),
        column("body", Text).not_null(),
        column("user_id", Text).not_null(),
        column("version", BigInt).not_null(),
        column("attempts", Int).not_null().default("0"),
        column("next_attempt_at", BigInt).not_null(),
        column("state", Text).not_null().default("'pending'").check("state IN ('pending', 'delivered', 'dead')"),
        column("last_error", Text),
        column("claimed_by", Text),
        column("created_at", BigInt).not_null(),
        column("updated_at", BigInt).not_null(),
    ],
    primary_key: &[],
};

/// Due events, oldest first: what every delivery claim scans.
const WEBHOOK_OUTBOX_DUE: Index = Index {
    name: "webhook_outbox_due",
    table: "webhook_outbox",
    columns: &["next_attempt_at", "id"],
    filter: Some("state = 'pending'"),
};

/// Outbox rows by state (`/sync/health`, `/sync/admin/status`).
const WEBHOOK_OUTBOX_STATE: Index =
    Index { name: "webhook_outbox_state", table: "webhook_outbox", columns: &["state"], filter: None };
