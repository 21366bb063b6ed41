//! Migrations: explicit, numbered, applied in order at start, one list per backend.
//! Applied versions are recorded in `schema_migrations`; a database with a version this
//! server does not know (written by a newer server) is refused.

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

// Tables (both backends):
// - counter: the one row whose `v` is the global version sequence (and pull checkpoint);
// - clients: the user each clientId belongs to;
// - documents: the latest state per (user, collection, key); NULL doc_value = tombstone;
// - mutations: the stored answer for every (client_id, mutation_id), applied or not;
// - webhook_outbox (2): one row per (applied change, webhook URL), written in the push
//   transaction; `body` is the exact JSON sent (and signed); `next_attempt_at` (Unix ms)
//   is when it is due, and while a process delivers it, the end of that process's lease
//   (`claimed_by` names the claim); `state` is pending, delivered or dead.

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: "
CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), v INTEGER NOT NULL);
INSERT INTO counter (id, v) VALUES (1, 0);
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE documents (
    user_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    doc_key TEXT NOT NULL,
    version INTEGER NOT NULL UNIQUE,
    doc_value TEXT,
    hlc TEXT NOT NULL,
    writer_client TEXT NOT NULL,
    writer_mutation INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, collection, doc_key)
);
CREATE INDEX documents_by_user_version ON documents (user_id, version);
CREATE TABLE mutations (
    client_id TEXT NOT NULL,
    mutation_id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    version INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, mutation_id)
);
",
    },
    Migration {
        version: 2,
        name: "webhook outbox",
        sql: "
CREATE TABLE webhook_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    last_error TEXT,
    claimed_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_outbox_state ON webhook_outbox (state);
",
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: "
CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), v BIGINT NOT NULL);
INSERT INTO counter (id, v) VALUES (1, 0);
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE documents (
    user_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    doc_key TEXT NOT NULL,
    version BIGINT NOT NULL UNIQUE,
    doc_value TEXT,
    hlc TEXT NOT NULL,
    writer_client TEXT NOT NULL,
    writer_mutation BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, collection, doc_key)
);
CREATE INDEX documents_by_user_version ON documents (user_id, version);
CREATE TABLE mutations (
    client_id TEXT NOT NULL,
    mutation_id BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    version BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, mutation_id)
);
",
    },
    Migration {
        version: 2,
        name: "webhook outbox",
        sql: "
CREATE TABLE webhook_outbox (
    id BIGSERIAL PRIMARY KEY,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    user_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    last_error TEXT,
    claimed_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_outbox_state ON webhook_outbox (state);
",
    },
];
