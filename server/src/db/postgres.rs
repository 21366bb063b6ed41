//! PostgreSQL store: several server processes may share one database. Pushes serialise on
//! the counter row lock (taken first in each push transaction), which also makes commit
//! order equal version order. Realtime pokes cross processes with NOTIFY (sent inside the
//! push transaction, so only on commit) and a LISTEN task in every process.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use pwa_sync_core::protocol::{PullResponse, PushRequest};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::Postgres;
use tokio::sync::watch;

use super::backend::impl_backend;
use super::sql;
use super::{
    push, push_permits, schema, store_error, with_retries, Claim, Failure, Finish, OutboxRow, PullQuery, PushOutcome,
    Stats, Store, StoreError,
};
use crate::config::Limits;
use crate::notify::Notifier;

impl_backend!(Postgres);

/// The NOTIFY channel; payload `<user>:<checkpoint>`.
pub const CHANNEL: &str = "pwa_sync";
/// Key of the advisory lock held while migrating (two processes may start at once).
const MIGRATION_LOCK: i64 = 0x7077_615f_7379_6e63; // "pwa_sync"

const PG_POOL: u32 = 10;

pub struct PgStore {
    pool: PgPool,
    pushes: tokio::sync::Semaphore,
}

impl PgStore {
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("bad PostgreSQL URL: {e}")))?
            .application_name("pwa-sync-server");
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
        Ok(PgStore { pool, pushes: push_permits(PG_POOL) })
    }
}

impl Store for PgStore {
    fn push<'a>(
        &'a self,
        user: &'a str,
        request: &'a PushRequest,
        limits: Limits,
        webhooks: &'a [String],
    ) -> BoxFuture<'a, Result<PushOutcome, StoreError>> {
        Box::pin(with_retries(move || async move {
            let _permit = self.pushes.acquire().await.map_err(|_| Failure::Db(sqlx::Error::PoolClosed))?;
            let mut tx = self.pool.begin().await?;
            let outcome = push::run(&mut tx, user, request, limits, webhooks).await?;
            if let Some(checkpoint) = outcome.checkpoint() {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(format!("{user}:{checkpoint}"))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(outcome)
        }))
    }

    fn pull<'a>(&'a self, user: &'a str, query: &'a PullQuery) -> BoxFuture<'a, Result<PullResponse, StoreError>> {
        Box::pin(pull_changes(&self.pool, user, query))
    }

    fn stats(&self) -> BoxFuture<'_, Result<Stats, StoreError>> {
        Box::pin(read_stats(&self.pool))
    }

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
            Ok(Some(notification)) => match parse_payload(notification.payload()) {
                Some((user, checkpoint)) => notifier.publish(user, checkpoint),
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

async fn poke_everyone(pool: &PgPool, notifier: &Notifier) {
    match sqlx::query_scalar::<_, i64>("SELECT v FROM counter WHERE id = 1").fetch_one(pool).await {
        Ok(v) => notifier.publish_all(u64::try_from(v).unwrap_or(0)),
        Err(e) => tracing::warn!(error = %e, "cannot read the counter to poke subscribers"),
    }
}

fn parse_payload(payload: &str) -> Option<(&str, u64)> {
    let (user, checkpoint) = payload.rsplit_once(':')?;
    Some((user, checkpoint.parse().ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn payload_keeps_colons_in_user_ids() {
        assert_eq!(super::parse_payload("a:b:17"), Some(("a:b", 17)));
        assert_eq!(super::parse_payload("nocolon"), None);
    }
}
