//! SQL shared by both backends: `$N` placeholders work in SQLite through sqlx too, and
//! both take `ON CONFLICT … DO UPDATE` and `UPDATE … RETURNING`.

pub(crate) const LOCK_COUNTER: &str = "UPDATE counter SET v = v WHERE id = 1 RETURNING v";
pub(crate) const NEXT_VERSION: &str = "UPDATE counter SET v = v + 1 WHERE id = 1 RETURNING v";
pub(crate) const CLAIM_CLIENT: &str =
    "INSERT INTO clients (client_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (client_id) DO NOTHING";
pub(crate) const CLIENT_OWNER: &str = "SELECT user_id FROM clients WHERE client_id = $1";
pub(crate) const STORED_RESULT: &str = "SELECT result FROM mutations WHERE client_id = $1 AND mutation_id = $2";
pub(crate) const RECORD_RESULT: &str = "INSERT INTO mutations \
    (client_id, mutation_id, user_id, status, result, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const DOCUMENT: &str = "SELECT version, doc_value, hlc, writer_client, writer_mutation \
    FROM documents WHERE user_id = $1 AND collection = $2 AND doc_key = $3";
pub(crate) const WRITE_DOCUMENT: &str = "INSERT INTO documents \
    (user_id, collection, doc_key, version, doc_value, hlc, writer_client, writer_mutation, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
    ON CONFLICT (user_id, collection, doc_key) DO UPDATE SET version = excluded.version, \
    doc_value = excluded.doc_value, hlc = excluded.hlc, writer_client = excluded.writer_client, \
    writer_mutation = excluded.writer_mutation, updated_at = excluded.updated_at";
pub(crate) const LAST_MUTATION_ID: &str = "SELECT MAX(mutation_id) FROM mutations WHERE client_id = $1";
pub(crate) const STATS: &str = "SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM mutations), \
    (SELECT COUNT(*) FROM webhook_outbox WHERE state = 'pending'), \
    (SELECT COUNT(*) FROM webhook_outbox WHERE state = 'delivered'), \
    (SELECT COUNT(*) FROM webhook_outbox WHERE state = 'dead')";

// The webhook outbox. A claim moves `next_attempt_at` to the end of the claimer's lease and
// names the claim in `claimed_by`; every later update of the row is conditional on that
// name, so a process whose lease ran out cannot overwrite the next claimer's work.
pub(crate) const ENQUEUE_WEBHOOK: &str = "INSERT INTO webhook_outbox \
    (url, body, user_id, version, attempts, next_attempt_at, state, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, 0, $5, 'pending', $5, $5)";
pub(crate) const ANY_WEBHOOK_DUE: &str =
    "SELECT id FROM webhook_outbox WHERE state = 'pending' AND next_attempt_at <= $1 LIMIT 1";
/// PostgreSQL: rows another process is claiming right now are skipped, not waited for.
pub(crate) const CLAIM_WEBHOOKS_PG: &str = "UPDATE webhook_outbox SET claimed_by = $1, next_attempt_at = $2 \
    WHERE id IN (SELECT id FROM webhook_outbox WHERE state = 'pending' AND next_attempt_at <= $3 \
    ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) \
    RETURNING id, url, body, attempts";
/// SQLite: one writer at a time, so the statement alone is the claim.
pub(crate) const CLAIM_WEBHOOKS_SQLITE: &str = "UPDATE webhook_outbox SET claimed_by = $1, next_attempt_at = $2 \
    WHERE id IN (SELECT id FROM webhook_outbox WHERE state = 'pending' AND next_attempt_at <= $3 \
    ORDER BY id LIMIT $4) \
    RETURNING id, url, body, attempts";
pub(crate) const WEBHOOK_DELIVERED: &str = "UPDATE webhook_outbox \
    SET state = 'delivered', attempts = attempts + 1, claimed_by = NULL, updated_at = $3 \
    WHERE id = $1 AND claimed_by = $2 AND state = 'pending'";
pub(crate) const WEBHOOK_FAILED: &str = "UPDATE webhook_outbox \
    SET state = $3, attempts = attempts + 1, next_attempt_at = $4, last_error = $5, claimed_by = NULL, updated_at = $6 \
    WHERE id = $1 AND claimed_by = $2 AND state = 'pending'";
pub(crate) const WEBHOOK_RELEASE: &str = "UPDATE webhook_outbox SET claimed_by = NULL, next_attempt_at = $3 \
    WHERE id = $1 AND claimed_by = $2 AND state = 'pending'";
pub(crate) const APPLIED_MIGRATIONS: &str = "SELECT version FROM schema_migrations ORDER BY version";
pub(crate) const RECORD_MIGRATION: &str =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)";

/// `SELECT … FROM documents` for a pull; `collections` extra placeholders from `$4`.
pub(crate) fn pull_query(collections: usize) -> String {
    let mut sql = String::from(
        "SELECT collection, doc_key, version, doc_value, hlc FROM documents WHERE user_id = $1 AND version > $2",
    );
    if collections > 0 {
        let list: Vec<String> = (0..collections).map(|i| format!("${}", i + 4)).collect();
        sql.push_str(&format!(" AND collection IN ({})", list.join(", ")));
    }
    sql.push_str(" ORDER BY version LIMIT $3");
    sql
}
