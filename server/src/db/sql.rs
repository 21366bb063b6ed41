//! SQL shared by both backends: `$N` placeholders work in SQLite through sqlx too, and
//! both take `ON CONFLICT … DO UPDATE` and `UPDATE … RETURNING`.

pub(crate) const LOCK_COUNTER: &str = "UPDATE counter SET v = v WHERE id = 1 RETURNING v";
pub(crate) const NEXT_VERSION: &str = "UPDATE counter SET v = v + 1 WHERE id = 1 RETURNING v";
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
/// A pull's view of the caller's memberships: their live grants (space, role, since), and
/// the spaces they read at checkpoint `$2` (granted at or before it) and have lost since,
/// with the version of the loss (space, NULL, changed).
pub(crate) const GRANTS_AND_REVOKED: &str = "SELECT space, role, since FROM members \
    WHERE user_id = $1 AND role IS NOT NULL UNION ALL \
    SELECT space, CAST(NULL AS TEXT), MAX(changed) FROM members WHERE user_id = $1 GROUP BY space \
    HAVING COUNT(role) = 0 AND MAX(changed) > $2 AND MIN(since) <= $2";
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
    /// `false`: `LIMIT $2`, after the row at (`$1`, the last placeholder: position and
    /// version; a version of `i64::MAX` reads from position `$1` on); `true`: every row with
    /// position `<= $2` (a backfill group that opens a page, read whole past the limit and
    /// the byte cap; see `pull_changes`).
    pub up_to: bool,
}

/// A pull page: rows (space, collection, doc_key, version, doc_value, hlc, schema_version, pos)
/// after a position (`pos > $1`, or the same position and a later version), ordered by
/// (pos, version). A page is read in chunks, each after the last row of the one before
/// (`db::pull::Reading`). Current spaces' rows, at `pos = version`, are read with
/// `version > $1`: no row of theirs shares a position with another row, since no document
/// shares a version with a grant's `since` (a grant takes a version of its own).
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
    let after = if shape.up_to {
        "pos > $1 AND pos <= $2 ORDER BY pos, version".to_string()
    } else {
        format!("(pos > $1 OR (pos = $1 AND version > {})) ORDER BY pos, version LIMIT $2", next())
    };
    format!("SELECT {COLUMNS}, pos FROM ({}) AS page WHERE {after}", parts.join(" UNION ALL "))
}

// The batched statements of a push: everything a push reads or writes under the counter
// lock goes in a few statements, not a few per mutation (the lock is held across every
// round trip; see ARCHITECTURE.md, "Push under load").

/// Most rows one batched statement reads or writes (a push of more runs several).
pub(crate) const BATCH_ROWS: usize = 500;

/// `$first, …` for `n` placeholders from `first`.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `(…), (…)`: `rows` groups of `per_row` placeholders from `$first`, each rendered by
/// `row` from its placeholder numbers.
fn value_rows(first: usize, rows: usize, per_row: usize, row: impl Fn(&[String]) -> String) -> String {
    (0..rows)
        .map(|r| {
            let names: Vec<String> = (0..per_row).map(|c| format!("${}", first + r * per_row + c)).collect();
            format!("({})", row(&names))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) const SET_COUNTER: &str = "UPDATE counter SET v = $1 WHERE id = 1";

// Row values against a VALUES list, the primary key's columns. With an OR of hundreds of
// conditions instead, a push group took over twice as long in the load run (not checked
// with EXPLAIN, and on a machine busy with other work: bench/README.md, "Load").

/// (client_id, mutation_id, result) of `pairs` (client_id, mutation_id), placeholders from
/// `$1`; then, for `clients` client ids after those, (client_id, highest mutation id, NULL).
pub(crate) fn stored_results(pairs: usize, clients: usize) -> String {
    let mut parts = Vec::new();
    if pairs > 0 {
        parts.push(format!(
            "SELECT client_id, mutation_id, result FROM mutations WHERE (client_id, mutation_id) IN (VALUES {})",
            value_rows(1, pairs, 2, |p| p.join(", "))
        ));
    }
    if clients > 0 {
        parts.push(format!(
            "SELECT client_id, MAX(mutation_id), CAST(NULL AS TEXT) FROM mutations WHERE client_id IN ({}) \
             GROUP BY client_id",
            placeholders(2 * pairs + 1, clients)
        ));
    }
    parts.join(" UNION ALL ")
}

/// (user_id, space, role) of live grants among `n` (user_id, space) pairs.
pub(crate) fn roles_in_spaces(n: usize) -> String {
    format!(
        "SELECT user_id, space, role FROM members WHERE role IS NOT NULL AND (user_id, space) IN (VALUES {})",
        value_rows(1, n, 2, |p| p.join(", "))
    )
}

/// Claim `n` clients, (client_id, user_id) pairs, all created at `$1`; a claimed one keeps its owner.
pub(crate) fn claim_clients(n: usize) -> String {
    format!(
        "INSERT INTO clients (client_id, user_id, created_at) VALUES {} ON CONFLICT (client_id) DO NOTHING",
        value_rows(2, n, 2, |p| format!("{}, {}, $1", p[0], p[1]))
    )
}

/// The owners of `n` clients.
pub(crate) fn client_owners(n: usize) -> String {
    format!("SELECT client_id, user_id FROM clients WHERE client_id IN ({})", placeholders(1, n))
}

/// The documents of `n` (space, collection, doc_key) triples.
pub(crate) fn documents(n: usize) -> String {
    format!(
        "SELECT space, collection, doc_key, version, doc_value, hlc, writer_client, writer_mutation, schema_version \
         FROM documents WHERE (space, collection, doc_key) IN (VALUES {})",
        value_rows(1, n, 3, |p| p.join(", "))
    )
}

/// Upsert `n` documents (distinct keys: one statement may not update a row twice).
pub(crate) fn write_documents(n: usize) -> String {
    format!(
        "INSERT INTO documents \
         (space, collection, doc_key, version, doc_value, hlc, writer_client, writer_mutation, updated_at, \
         schema_version) \
         VALUES {} ON CONFLICT (space, collection, doc_key) DO UPDATE SET version = excluded.version, \
         doc_value = excluded.doc_value, hlc = excluded.hlc, writer_client = excluded.writer_client, \
         writer_mutation = excluded.writer_mutation, updated_at = excluded.updated_at, \
         schema_version = excluded.schema_version",
        value_rows(1, n, 10, |p| p.join(", "))
    )
}

/// [`RECORD_RESULT`] for `n` rows.
pub(crate) fn record_results(n: usize) -> String {
    format!(
        "INSERT INTO mutations (client_id, mutation_id, user_id, status, result, version, created_at) VALUES {}",
        value_rows(1, n, 7, |p| p.join(", "))
    )
}

/// [`ENQUEUE_WEBHOOK`] for `n` rows.
pub(crate) fn enqueue_webhooks(n: usize) -> String {
    format!(
        "INSERT INTO webhook_outbox \
         (url, body, user_id, version, attempts, next_attempt_at, state, created_at, updated_at) VALUES {}",
        value_rows(1, n, 5, |p| format!(
            "{}, {}, {}, {}, 0, {}, 'pending', {}, {}",
            p[0], p[1], p[2], p[3], p[4], p[4], p[4]
        ))
    )
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    #[test]
    fn batched_statements_number_their_placeholders() {
        assert!(stored_results(2, 1).contains("IN (VALUES ($1, $2), ($3, $4)) UNION ALL"));
        assert!(stored_results(2, 1).contains("client_id IN ($5) GROUP BY"));
        assert!(!stored_results(0, 1).contains("UNION"));
        assert!(roles_in_spaces(2).ends_with("(user_id, space) IN (VALUES ($1, $2), ($3, $4))"));
        assert!(documents(2).ends_with("IN (VALUES ($1, $2, $3), ($4, $5, $6))"));
        assert!(claim_clients(2).contains("VALUES ($2, $3, $1), ($4, $5, $1) ON CONFLICT"));
        assert!(write_documents(2).contains("($11, $12, $13, $14, $15, $16, $17, $18, $19, $20) ON CONFLICT"));
        assert!(record_results(1).ends_with("VALUES ($1, $2, $3, $4, $5, $6, $7)"));
        assert!(enqueue_webhooks(2).ends_with("($6, $7, $8, $9, 0, $10, 'pending', $10, $10)"));
    }
}
