//! PostgreSQL store: several server processes may share one database. Pushes serialise on
//! the counter row lock (taken in each push transaction before anything that depends on
//! order), which also makes commit order equal version order. Each process applies its
//! pushes in groups on one connection of its own (see `db::PushJob`). Realtime pokes cross processes with NOTIFY (sent inside the
//! push transaction, so only on commit) and a LISTEN task in every process.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::Postgres;
use tokio::sync::watch;

use super::backend::impl_backend;
use super::sql;
use super::{push_permits, schema, store_error, Claim, Finish, OutboxRow, Store, StoreError};
use crate::notify::{Notifier, Poke};

impl_backend!(Postgres, PgStore);

/// The NOTIFY channel; payloads are [`Poke::encode`]d.
pub const CHANNEL: &str = "pwa_sync";
/// Key of the advisory lock held while migrating (two processes may start at once).
const MIGRATION_LOCK: i64 = 0x7077_615f_7379_6e63; // "pwa_sync"

const PG_POOL: u32 = 10;

pub struct PgStore {
    pool: PgPool,
    pushes: tokio::sync::Semaphore,
    writer: tokio::sync::mpsc::Sender<crate::db::PushJob>,
}

impl PgStore {
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("bad PostgreSQL URL: {e}")))?
            .application_name("pwa-sync-server");
        // The push writer's own connection: pushes never queue behind pulls for one.
        let writes = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options.clone());
        let pool = PgPoolOptions::new()
            .max_connections(PG_POOL)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| store_error(&e))?;
        let mut tx = pool.begin().await.map_err(|e| store_error(&e))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error(&e))?;
        migrate(&mut tx, schema::Dialect::Postgres).await?;
        tx.commit().await.map_err(|e| store_error(&e))?;
        let writer = start_push_writer(writes);
        Ok(PgStore { pool, pushes: push_permits(PG_POOL), writer })
    }

    /// One snapshot for the whole pull (READ COMMITTED would take one per statement, and
    /// a grant committed between them could be missed).
    async fn begin_read(&self) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await
    }
}

async fn begin_write(pool: &PgPool) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin().await
}

/// NOTIFY inside the transaction: sent on commit only, to every process. One
/// statement for all pokes (the counter lock is held across it).
async fn announce(tx: &mut sqlx::Transaction<'static, Postgres>, pokes: &[Poke]) -> Result<(), sqlx::Error> {
    if pokes.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = pokes.iter().map(Poke::encode).collect();
    sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
        .bind(CHANNEL)
        .bind(payloads)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store for PgStore {
    crate::db::backend::store_methods!();

    fn claim_webhooks<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Vec<OutboxRow>, StoreError>> {
        Box::pin(claim_webhooks(&self.pool, sql::CLAIM_WEBHOOKS_PG, claim))
    }

    fn finish_webhook<'a>(
        &'a self,
        id: i64,
        claimed_by: &'a str,
        outcome: &'a Finish,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(finish_webhook(&self.pool, id, claimed_by, outcome))
    }

    fn start_realtime(
        &self,
        notifier: Arc<Notifier>,
        shutdown: watch::Receiver<bool>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let listener = listen(&self.pool).await.map_err(|e| store_error(&e))?;
            tokio::spawn(forward(self.pool.clone(), listener, notifier, shutdown));
            Ok(())
        })
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Forward NOTIFY payloads to local subscribers until shutdown. On a lost connection the
/// listener reconnects; notifications sent meanwhile are lost, so every local subscriber
/// is poked with the current counter and pulls.
async fn forward(pool: PgPool, mut listener: PgListener, notifier: Arc<Notifier>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let received = tokio::select! {
            r = listener.try_recv() => r,
            _ = shutdown.changed() => return,
        };
        match received {
            Ok(Some(notification)) => match Poke::decode(notification.payload()) {
                Some(Poke::Space(space, checkpoint)) => notifier.publish_space(&space, checkpoint),
                Some(Poke::Member(user, checkpoint)) => member_changed(&pool, &notifier, &user, checkpoint).await,
                None => tracing::warn!(payload = notification.payload(), "ignoring malformed notification"),
            },
            Ok(None) => {
                tracing::warn!("LISTEN connection lost; reconnecting and poking every subscriber");
                poke_everyone(&pool, &notifier).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN failed; retrying in 1 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
                match listen(&pool).await {
                    Ok(l) => {
                        listener = l;
                        poke_everyone(&pool, &notifier).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "LISTEN reconnect failed"),
                }
            }
        }
    }
}

/// A member's spaces changed (in any process): read them again for this process's
/// streams of that user, then poke them.
async fn member_changed(pool: &PgPool, notifier: &Notifier, user: &str, checkpoint: u64) {
    if !notifier.is_subscribed(user) {
        return;
    }
    let access = match pool.acquire().await {
        Ok(mut conn) => load_access(&mut conn, user).await,
        Err(e) => Err(store_error(&e)),
    };
    match access {
        Ok(access) => notifier.set_spaces(user, access.spaces.into_keys().collect()),
        // The poke still goes out: the stream's next pull reads memberships afresh.
        Err(e) => tracing::warn!(error = %e, "cannot read a member's spaces after a membership change"),
    }
    notifier.publish_user(user, checkpoint);
}

async fn poke_everyone(pool: &PgPool, notifier: &Notifier) {
    match sqlx::query_scalar::<_, i64>("SELECT v FROM counter WHERE id = 1").fetch_one(pool).await {
        Ok(v) => notifier.publish_all(u64::try_from(v).unwrap_or(0)),
        Err(e) => tracing::warn!(error = %e, "cannot read the counter to poke subscribers"),
    }
}
