//! The DDL of migrations 1 and 2 (written out by hand when they were released), 3
//! (spaces) and 4 (schema versions), kept as released: databases created then have
//! exactly this schema, and a migration is never applied twice, so the rendered migrations must stay equal to it
//! (see `tests`).

pub(crate) const SQLITE: [&str; 4] = [
    "
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
    "
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
    "
ALTER TABLE documents RENAME TO documents_by_user;
CREATE TABLE documents (
    space TEXT NOT NULL,
    collection TEXT NOT NULL,
    doc_key TEXT NOT NULL,
    version INTEGER NOT NULL UNIQUE,
    doc_value TEXT,
    hlc TEXT NOT NULL,
    writer_client TEXT NOT NULL,
    writer_mutation INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (space, collection, doc_key)
);
INSERT INTO documents (space, collection, doc_key, version, doc_value, hlc, writer_client, writer_mutation, updated_at)
    SELECT 'user:' || user_id, collection, doc_key, version, doc_value, hlc, writer_client, writer_mutation, updated_at
    FROM documents_by_user;
DROP TABLE documents_by_user;
CREATE INDEX documents_by_space_version ON documents (space, version);
CREATE TABLE members (
    space TEXT NOT NULL,
    user_id TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('admin', 'token')),
    role TEXT CHECK (role IN ('reader', 'writer', 'owner')),
    since INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    PRIMARY KEY (space, user_id, source)
);
CREATE INDEX members_by_user ON members (user_id);
",
    "
ALTER TABLE documents ADD COLUMN schema_version BIGINT;
",
];

pub(crate) const POSTGRES: [&str; 4] = [
    "
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
    "
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
    "
ALTER TABLE documents RENAME TO documents_by_user;
CREATE TABLE documents (
    space TEXT NOT NULL,
    collection TEXT NOT NULL,
    doc_key TEXT NOT NULL,
    version BIGINT NOT NULL UNIQUE,
    doc_value TEXT,
    hlc TEXT NOT NULL,
    writer_client TEXT NOT NULL,
    writer_mutation BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (space, collection, doc_key)
);
INSERT INTO documents (space, collection, doc_key, version, doc_value, hlc, writer_client, writer_mutation, updated_at)
    SELECT 'user:' || user_id, collection, doc_key, version, doc_value, hlc, writer_client, writer_mutation, updated_at
    FROM documents_by_user;
DROP TABLE documents_by_user;
CREATE INDEX documents_by_space_version ON documents (space, version);
CREATE TABLE members (
    space TEXT NOT NULL,
    user_id TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('admin', 'token')),
    role TEXT CHECK (role IN ('reader', 'writer', 'owner')),
    since BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    PRIMARY KEY (space, user_id, source)
);
CREATE INDEX members_by_user ON members (user_id);
",
    "
ALTER TABLE documents ADD COLUMN schema_version BIGINT;
",
];
