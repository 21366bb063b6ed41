//! SQLite store: one file (created with its directory if missing), WAL journal, and
//! `BEGIN IMMEDIATE` push transactions, so concurrent pushes queue for the write lock
//! (with a busy timeout) instead of failing with SQLITE_BUSY halfway.

use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Sqlite;

use super::backend::impl_backend;
use super::sql;
use super::{push_permits, schema, store_error, Claim, Finish, OutboxRow, Store, StoreError};
use crate::notify::Poke;

impl_backend!(Sqlite, SqliteStore);

const SQLITE_POOL: u32 = 8;

pub struct SqliteStore {
    pool: SqlitePool,
    pushes: tokio::sync::Semaphore,
    writer: tokio::sync::mpsc::Sender<crate::db::PushJob>,
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("bad SQLite URL {url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged push survives power loss (the client then drops it
            // from its outbox).
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let in_memory = options.get_filename().to_str() == Some(":memory:");
        if !in_memory {
            if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| StoreError::Internal(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let mut pool_options = SqlitePoolOptions::new().acquire_timeout(Duration::from_secs(30));
        if in_memory {
            // Every connection to :memory: is its own database: keep exactly one forever.
            pool_options = pool_options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
        } else {
            pool_options = pool_options.max_connections(SQLITE_POOL);
        }
        let pool = pool_options.connect_with(options).await.map_err(|e| store_error(&e))?;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| store_error(&e))?;
        migrate(&mut tx, schema::Dialect::Sqlite).await?;
        tx.commit().await.map_err(|e| store_error(&e))?;
        let pushes = push_permits(if in_memory { 3 } else { SQLITE_POOL });
        let writer = start_push_writer(pool.clone());
        Ok(SqliteStore { pool, pushes, writer })
    }

    /// A deferred transaction's first read fixes its snapshot (WAL).
    async fn begin_read(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin().await
    }
}

/// `BEGIN IMMEDIATE`: the write lock first, so a write queues rather than failing halfway
/// with SQLITE_BUSY.
async fn begin_write(pool: &SqlitePool) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// One process: pokes are published by the caller, nothing crosses processes.
async fn announce(_tx: &mut sqlx::Transaction<'static, Sqlite>, _pokes: &[Poke]) -> Result<(), sqlx::Error> {
    Ok(())
}

impl Store for SqliteStore {
    crate::db::backend::store_methods!();

    fn claim_webhooks<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Vec<OutboxRow>, StoreError>> {
        Box::pin(claim_webhooks(&self.pool, sql::CLAIM_WEBHOOKS_SQLITE, claim))
    }

    fn finish_webhook<'a>(
        &'a self,
        id: i64,
        claimed_by: &'a str,
        outcome: &'a Finish,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(finish_webhook(&self.pool, id, claimed_by, outcome))
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;
    use crate::db::schema::pinned;
    use crate::db::PullQuery;

    /// A file written by an older server (migration 1 only, as released) opens: the newer
    /// migrations are applied and its documents are still there.
    #[tokio::test]
    async fn a_database_of_an_older_server_opens_and_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/old.db", dir.path().display());
        let options = SqliteConnectOptions::from_str(&url).unwrap().create_if_missing(true);
        let mut old = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::raw_sql(schema::MIGRATIONS_TABLE).execute(&mut old).await.unwrap();
        sqlx::raw_sql(pinned::SQLITE[0]).execute(&mut old).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'initial', 0);
             INSERT INTO documents VALUES ('alice', 'n', 'k', 1, '{\"a\":1}', 'h', 'c-1', 1, 0);
             UPDATE counter SET v = 1;",
        )
        .execute(&mut old)
        .await
        .unwrap();
        old.close().await.unwrap();

        let store = SqliteStore::open(&url).await.unwrap();
        let query = PullQuery { checkpoint: 0, limit: 10, collections: None, spaces: None };
        let page = store.pull("alice", &query).await.unwrap();
        assert_eq!(page.changes.len(), 1);
        assert_eq!(page.changes[0].value, Some(serde_json::json!({"a": 1})));
        // Migration 3 moved it into alice's private space.
        assert_eq!(page.changes[0].space.as_deref(), Some("user:alice"));
        // Migration 4's column: none was sent, so none comes back (version 1 to clients).
        assert_eq!(page.changes[0].schema_version, None);
        assert_eq!(page.checkpoint, 1);
        // Migration 2's table is there, and 3's.
        assert_eq!(store.stats().await.unwrap().oldest_pending_at, None);
        let applied: Vec<i64> = sqlx::query_scalar(sql::APPLIED_MIGRATIONS).fetch_all(&store.pool).await.unwrap();
        assert_eq!(applied, [1, 2, 3, 4]);
        assert_eq!(store.access("alice").await.unwrap().list().len(), 1);
    }

    fn put(id: u64, key: &str, base: Option<u64>) -> pwa_sync_core::protocol::Mutation {
        pwa_sync_core::protocol::Mutation {
            id,
            collection: "n".into(),
            key: key.into(),
            op: pwa_sync_core::protocol::Op::Put,
            value: serde_json::json!({"id": id}),
            base_version: base,
            hlc: "h".into(),
            space: None,
            schema_version: None,
        }
    }

    /// Pushes applied in one group answer exactly as if each ran alone after the ones
    /// before it: a later push sees an earlier one's documents and results, and one of
    /// another user's clientId is refused without failing the rest.
    #[tokio::test]
    async fn a_group_of_pushes_applies_them_in_order() {
        use crate::db::push::{run_group, Job};
        use pwa_sync_core::protocol::{MutationResult, PushRequest};
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let req = |client: &str, mutations| PushRequest { client_id: client.into(), mutations };
        let first = req("c1", vec![put(1, "k", None), put(2, "k", None)]);
        let thief = req("c1", vec![put(3, "x", None)]);
        let again = req("c1", vec![put(2, "k", None), put(4, "j", None)]);
        let stale = req("c2", vec![put(1, "k", None)]);
        let job = |user, request| Job { user, request, limits: crate::config::Limits::default(), webhooks: &[] };
        let jobs = [job("alice", &first), job("bob", &thief), job("alice", &again), job("alice", &stale)];
        let mut tx = begin_write(&store.pool).await.unwrap();
        let outcomes = run_group(&mut tx, &jobs).await.unwrap();
        tx.commit().await.unwrap();
        let ok = |i: usize| match &outcomes[i] {
            Ok(o) => o.clone(),
            Err(e) => panic!("push {i} failed: {e:?}"),
        };
        // The second mutation builds on the client's own first one.
        assert_eq!(
            ok(0).response.results,
            vec![MutationResult::Applied { id: 1, version: 1 }, MutationResult::Applied { id: 2, version: 2 }]
        );
        assert!(matches!(outcomes[1], Err(crate::db::Failure::Forbidden)));
        // Mutation 2 again is answered from the group's own record; 4 gets the next version.
        let again = ok(2);
        assert_eq!(
            again.response.results,
            vec![MutationResult::Applied { id: 2, version: 2 }, MutationResult::Applied { id: 4, version: 3 }]
        );
        assert_eq!((again.response.last_mutation_id, again.applied.len()), (4, 1));
        // Another client creating k, which exists now: a conflict at version 2.
        assert!(
            matches!(&ok(3).response.results[..], [MutationResult::Conflict { server, .. }] if server.version == 2)
        );
        let query = PullQuery { checkpoint: 0, limit: 10, collections: None, spaces: None };
        let page = store.pull("alice", &query).await.unwrap();
        let keys: Vec<(String, u64)> = page.changes.iter().map(|c| (c.key.clone(), c.version)).collect();
        assert_eq!(keys, vec![("k".to_string(), 2), ("j".to_string(), 3)]);
        assert_eq!(page.checkpoint, 3);
        // Stored like any push: sent again alone, the same answers.
        let outcome = store.push("alice", &again_request(), crate::config::Limits::default(), &[]).await.unwrap();
        assert_eq!(outcome.response.results, again.response.results);
        assert!(outcome.applied.is_empty());
    }

    fn again_request() -> pwa_sync_core::protocol::PushRequest {
        pwa_sync_core::protocol::PushRequest {
            client_id: "c1".into(),
            mutations: vec![put(2, "k", None), put(4, "j", None)],
        }
    }
}
