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
pub(crate) const DOCUMENT: &str = "SELECT version, doc_value, hlc, writer_client, writer_mutation, schema_version \
    FROM documents WHERE space = $1 AND collection = $2 AND doc_key = $3";
pub(crate) const WRITE_DOCUMENT: &str = "INSERT INTO documents \
    (space, collection, doc_key, version, doc_value, hlc, writer_client, writer_mutation, updated_at, schema_version) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
    ON CONFLICT (space, collection, doc_key) DO UPDATE SET version = excluded.version, \
    doc_value = excluded.doc_value, hlc = excluded.hlc, writer_client = excluded.writer_client, \
    writer_mutation = excluded.writer_mutation, updated_at = excluded.updated_at, \
    schema_version = excluded.schema_version";
pub(crate) const LAST_MUTATION_ID: &str = "SELECT MAX(mutation_id) FROM mutations WHERE client_id = $1";
pub(crate) const STATUS_TOTALS: &str = "SELECT (SELECT COUNT(*) FROM documents), \
    (SELECT COUNT(*) FROM (SELECT space FROM documents UNION SELECT space FROM members WHERE role IS NOT NULL) s), \
    (SELECT COUNT(*) FROM (SELECT DISTINCT space, user_id FROM members WHERE role IS NOT NULL) m), \
    (SELECT COUNT(*) FROM mutations WHERE status = 'applied'), \
    (SELECT COUNT(*) FROM mutations WHERE status = 'conflict'), \
    (SELECT COUNT(*) FROM mutations WHERE status = 'rejected')";
pub(crate) const STATUS_REJECTED: &str = "SELECT created_at, user_id, client_id, mutation_id, result \
    FROM mutations WHERE status = 'rejected' ORDER BY created_at DESC, client_id, mutation_id LIMIT $1";
pub(crate) const STATUS_WEBHOOK_FAILURES: &str = "SELECT updated_at, url, id, state, CAST(attempts AS BIGINT), \
    last_error FROM webhook_outbox WHERE last_error IS NOT NULL AND state IN ('pending', 'dead') \
    ORDER BY updated_at DESC, id DESC LIMIT $1";
pub(crate) const STATUS_WEBHOOK_URLS: &str = "SELECT url, \
    CAST(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS BIGINT), \
    CAST(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END) AS BIGINT), \
    CAST(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS BIGINT), \
    CAST(SUM(attempts) AS BIGINT), MIN(CASE WHEN state = 'pending' THEN created_at END), \
    (SELECT e.last_error FROM webhook_outbox e WHERE e.url = o.url AND e.last_error IS NOT NULL \
     ORDER BY e.updated_at DESC, e.id DESC LIMIT 1) \
    FROM webhook_outbox o GROUP BY url ORDER BY url";
// What public health checks read, polled often: no whole-table counts.
pub(crate) const STATS: &str = "SELECT \
    (SELECT COUNT(*) FROM webhook_outbox WHERE state = 'dead' AND updated_at >= $1), \
    (SELECT MIN(created_at) FROM webhook_outbox WHERE state = 'pending')";

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

// Memberships (see schema: one row per (space, user, source); role NULL = removed).
/// The caller's live grants: (space, role, since).
pub(crate) const GRANTS_OF_USER: &str =
    "SELECT space, role, since FROM members WHERE user_id = $1 AND role IS NOT NULL";
/// The caller's live roles in one space (one per source).
pub(crate) const ROLES_IN_SPACE: &str =
    "SELECT role FROM members WHERE space = $1 AND user_id = $2 AND role IS NOT NULL";
/// Spaces the caller read at checkpoint `$2` (granted at or before it) and has lost since,
/// with the version of the loss.
pub(crate) const REVOKED_SINCE: &str = "SELECT space, MAX(changed) FROM members WHERE user_id = $1 GROUP BY space \
    HAVING COUNT(role) = 0 AND MAX(changed) > $2 AND MIN(since) <= $2 ORDER BY space";
/// A new grant gets `since` = its version (the backfill position); a role change keeps it.
pub(crate) const GRANT: &str = "INSERT INTO members (space, user_id, source, role, since, changed) \
    VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (space, user_id, source) DO UPDATE SET role = excluded.role, \
    changed = excluded.changed, since = CASE WHEN members.role IS NULL THEN excluded.since ELSE members.since END";
pub(crate) const REVOKE: &str = "UPDATE members SET role = NULL, changed = $4 \
    WHERE space = $1 AND user_id = $2 AND source = $3 AND role IS NOT NULL";
/// A user's grants of one source, removed ones included: (space, role).
pub(crate) const GRANTS_BY_SOURCE: &str = "SELECT space, role FROM members WHERE user_id = $1 AND source = $2";
/// Whether a space was ever used: a grant (live or removed) or a document names it.
pub(crate) const SPACE_IN_USE: &str = "SELECT EXISTS (SELECT 1 FROM members WHERE space = $1) \
    OR EXISTS (SELECT 1 FROM documents WHERE space = $1)";
pub(crate) const MEMBERS_OF_SPACE: &str =
    "SELECT user_id, role FROM members WHERE space = $1 AND role IS NOT NULL ORDER BY user_id";

/// How many spaces of each kind a pull reads, and how the page ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PullShape {
    /// Spaces read since the checkpoint (`$3…`): their documents with `version > $1`.
    pub current: usize,
    /// Spaces granted after the checkpoint, each with its grant version (pairs of
    /// placeholders after `current`): all their documents, at position max(version, grant).
    pub backfill: usize,
    /// Collection names after those.
    pub collections: usize,
    /// `false`: `LIMIT $2`; `true`: every row with position `<= $2` (the rest of a backfill
    /// group a limit cut; see `pull_changes`).
    pub up_to: bool,
}

/// A pull page: rows (space, collection, doc_key, version, doc_value, hlc, schema_version, pos) with
/// `pos > $1`, ordered by (pos, version).
pub(crate) fn pull_query(shape: PullShape) -> String {
    const COLUMNS: &str = "space, collection, doc_key, version, doc_value, hlc, schema_version";
    let mut n = 2;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let current: Vec<String> = (0..shape.current).map(|_| next()).collect();
    let backfill: Vec<(String, String)> = (0..shape.backfill).map(|_| (next(), next())).collect();
    let collections: Vec<String> = (0..shape.collections).map(|_| next()).collect();
    let in_collections =
        if collections.is_empty() { String::new() } else { format!(" AND collection IN ({})", collections.join(", ")) };
    let mut parts = Vec::new();
    if !current.is_empty() {
        parts.push(format!(
            "SELECT {COLUMNS}, version AS pos FROM documents WHERE space IN ({}) AND version > $1{in_collections}",
            current.join(", ")
        ));
    }
    for (space, since) in &backfill {
        parts.push(format!(
            "SELECT {COLUMNS}, CASE WHEN version > CAST({since} AS BIGINT) THEN version ELSE CAST({since} AS BIGINT) END \
             AS pos FROM documents WHERE space = {space}{in_collections}"
        ));
    }
    if parts.is_empty() {
        // No readable space: an empty page, with the same placeholders bound.
        parts.push(format!("SELECT {COLUMNS}, version AS pos FROM documents WHERE 1 = 0"));
    }
    let end = if shape.up_to { "AND pos <= $2 ORDER BY pos, version" } else { "ORDER BY pos, version LIMIT $2" };
    format!("SELECT {COLUMNS}, pos FROM ({}) AS page WHERE pos > $1 {end}", parts.join(" UNION ALL "))
}
