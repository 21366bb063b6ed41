//! The storage code both backends share, written once: [`super::push::Tx`], the webhook
//! claims, the migration runner, pull and stats, over the statements of [`super::sql`].
//! A macro rather than generic code over `sqlx::Database`, whose bounds (an `Encode`,
//! `Decode` and `Type` per bound or read type, and `Executor` for each connection type)
//! would outweigh the code; each backend module expands it once for its database.

/// Implements `Tx` for `sqlx::Transaction<'_, $db>`, and defines `claim_webhooks`,
/// `finish_webhook`, `migrate`, `pull_changes` and `read_stats` for `$db` in the calling module.
macro_rules! impl_backend {
    ($db:ty) => {
        impl<'c> $crate::db::push::Tx for sqlx::Transaction<'c, $db> {
            async fn lock_counter(&mut self) -> Result<i64, sqlx::Error> {
                sqlx::query_scalar($crate::db::sql::LOCK_COUNTER).fetch_one(&mut **self).await
            }
            async fn next_version(&mut self) -> Result<i64, sqlx::Error> {
                sqlx::query_scalar($crate::db::sql::NEXT_VERSION).fetch_one(&mut **self).await
            }
            async fn claim_client(&mut self, client_id: &str, user: &str, now: i64) -> Result<String, sqlx::Error> {
                sqlx::query($crate::db::sql::CLAIM_CLIENT)
                    .bind(client_id)
                    .bind(user)
                    .bind(now)
                    .execute(&mut **self)
                    .await?;
                sqlx::query_scalar($crate::db::sql::CLIENT_OWNER).bind(client_id).fetch_one(&mut **self).await
            }
            async fn stored_result(&mut self, client_id: &str, mutation_id: i64) -> Result<Option<String>, sqlx::Error> {
                sqlx::query_scalar($crate::db::sql::STORED_RESULT)
                    .bind(client_id)
                    .bind(mutation_id)
                    .fetch_optional(&mut **self)
                    .await
            }
            async fn record_result(&mut self, w: &$crate::db::push::ResultWrite<'_>) -> Result<(), sqlx::Error> {
                sqlx::query($crate::db::sql::RECORD_RESULT)
                    .bind(w.client_id)
                    .bind(w.mutation_id)
                    .bind(w.user)
                    .bind(w.status)
                    .bind(w.result)
                    .bind(w.version)
                    .bind(w.now)
                    .execute(&mut **self)
                    .await
                    .map(|_| ())
            }
            async fn document(
                &mut self,
                user: &str,
                collection: &str,
                key: &str,
            ) -> Result<Option<$crate::db::push::DocRow>, sqlx::Error> {
                use sqlx::Row;
                let row = sqlx::query($crate::db::sql::DOCUMENT)
                    .bind(user)
                    .bind(collection)
                    .bind(key)
                    .fetch_optional(&mut **self)
                    .await?;
                row.map(|r| {
                    Ok($crate::db::push::DocRow {
                        version: r.try_get(0)?,
                        value: r.try_get(1)?,
                        hlc: r.try_get(2)?,
                        writer_client: r.try_get(3)?,
                        writer_mutation: r.try_get(4)?,
                    })
                })
                .transpose()
            }
            async fn write_document(&mut self, w: &$crate::db::push::DocWrite<'_>) -> Result<(), sqlx::Error> {
                sqlx::query($crate::db::sql::WRITE_DOCUMENT)
                    .bind(w.user)
                    .bind(w.collection)
                    .bind(w.key)
                    .bind(w.version)
                    .bind(w.value)
                    .bind(w.hlc)
                    .bind(w.client_id)
                    .bind(w.mutation_id)
                    .bind(w.now)
                    .execute(&mut **self)
                    .await
                    .map(|_| ())
            }
            async fn last_mutation_id(&mut self, client_id: &str) -> Result<Option<i64>, sqlx::Error> {
                sqlx::query_scalar($crate::db::sql::LAST_MUTATION_ID).bind(client_id).fetch_one(&mut **self).await
            }
            async fn enqueue_webhook(&mut self, w: &$crate::db::push::WebhookWrite<'_>) -> Result<(), sqlx::Error> {
                sqlx::query($crate::db::sql::ENQUEUE_WEBHOOK)
                    .bind(w.url)
                    .bind(w.body)
                    .bind(w.user)
                    .bind(w.version)
                    .bind(w.now)
                    .execute(&mut **self)
                    .await
                    .map(|_| ())
            }
        }

        /// Claim up to `claim.limit` due webhook rows (oldest first) with `claim_sql`.
        async fn claim_webhooks(
            pool: &sqlx::Pool<$db>,
            claim_sql: &'static str,
            claim: &$crate::db::Claim,
        ) -> Result<Vec<$crate::db::OutboxRow>, $crate::db::StoreError> {
            use sqlx::Row;
            let err = |e: sqlx::Error| $crate::db::store_error(&e);
            // A read first: an idle outbox costs no write (nor SQLite's write lock).
            let due: Option<i64> = sqlx::query_scalar($crate::db::sql::ANY_WEBHOOK_DUE)
                .bind(claim.now)
                .fetch_optional(pool)
                .await
                .map_err(err)?;
            if due.is_none() {
                return Ok(Vec::new());
            }
            let rows = sqlx::query(claim_sql)
                .bind(&claim.claimed_by)
                .bind(claim.lease_until)
                .bind(claim.now)
                .bind(i64::from(claim.limit))
                .fetch_all(pool)
                .await
                .map_err(err)?;
            let mut claimed = Vec::with_capacity(rows.len());
            for row in rows {
                let attempts: i32 = row.try_get(3).map_err(err)?;
                claimed.push($crate::db::OutboxRow {
                    id: row.try_get(0).map_err(err)?,
                    url: row.try_get(1).map_err(err)?,
                    body: row.try_get(2).map_err(err)?,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                });
            }
            // RETURNING promises no order; events go out in id (= version) order.
            claimed.sort_by_key(|r| r.id);
            Ok(claimed)
        }

        /// Record what became of a claimed row; false when the claim was lost meanwhile.
        async fn finish_webhook(
            pool: &sqlx::Pool<$db>,
            id: i64,
            claimed_by: &str,
            outcome: &$crate::db::Finish,
        ) -> Result<bool, $crate::db::StoreError> {
            use $crate::db::Finish;
            let err = |e: sqlx::Error| $crate::db::store_error(&e);
            let query = match outcome {
                Finish::Delivered { now } => {
                    sqlx::query($crate::db::sql::WEBHOOK_DELIVERED).bind(id).bind(claimed_by).bind(*now)
                }
                Finish::Failed { now, next_attempt_at, dead, error } => sqlx::query($crate::db::sql::WEBHOOK_FAILED)
                    .bind(id)
                    .bind(claimed_by)
                    .bind(if *dead { "dead" } else { "pending" })
                    .bind(*next_attempt_at)
                    .bind(error.as_str())
                    .bind(*now),
                Finish::Release { now } => {
                    sqlx::query($crate::db::sql::WEBHOOK_RELEASE).bind(id).bind(claimed_by).bind(*now)
                }
            };
            let done = query.execute(pool).await.map_err(err)?;
            Ok(done.rows_affected() == 1)
        }

        /// Apply the migrations not yet applied, rendered in `dialect`, inside `tx` (the
        /// caller holds the lock that keeps two processes from migrating at once, and commits).
        async fn migrate(
            tx: &mut sqlx::Transaction<'_, $db>,
            dialect: $crate::db::schema::Dialect,
        ) -> Result<Vec<i64>, $crate::db::StoreError> {
            let list = $crate::db::schema::MIGRATIONS;
            let err = |e: sqlx::Error| $crate::db::store_error(&e);
            sqlx::raw_sql($crate::db::schema::MIGRATIONS_TABLE).execute(&mut **tx).await.map_err(err)?;
            let applied: Vec<i64> =
                sqlx::query_scalar($crate::db::sql::APPLIED_MIGRATIONS).fetch_all(&mut **tx).await.map_err(err)?;
            let known = list.iter().map(|m| m.version).max().unwrap_or(0);
            if let Some(newer) = applied.iter().find(|v| **v > known) {
                return Err($crate::db::StoreError::Internal(format!(
                    "the database has schema version {newer}, newer than this server knows ({known}): upgrade the server"
                )));
            }
            let mut done = Vec::new();
            for m in list.iter().filter(|m| !applied.contains(&m.version)) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(m.sql(dialect))).execute(&mut **tx).await.map_err(err)?;
                sqlx::query($crate::db::sql::RECORD_MIGRATION)
                    .bind(m.version)
                    .bind(m.name)
                    .bind($crate::db::now_ms())
                    .execute(&mut **tx)
                    .await
                    .map_err(err)?;
                tracing::info!(version = m.version, name = m.name, "applied migration");
                done.push(m.version);
            }
            Ok(done)
        }

        async fn pull_changes(
            pool: &sqlx::Pool<$db>,
            user: &str,
            query: &$crate::db::PullQuery,
        ) -> Result<pwa_sync_core::protocol::PullResponse, $crate::db::StoreError> {
            use sqlx::Row;
            let err = |e: sqlx::Error| $crate::db::store_error(&e);
            let corrupt = |what: &str| $crate::db::StoreError::Internal(format!("corrupt document: {what}"));
            let collections = query.collections.as_deref().unwrap_or(&[]);
            let sql = $crate::db::sql::pull_query(collections.len());
            let checkpoint = i64::try_from(query.checkpoint).unwrap_or(i64::MAX);
            let limit = i64::from(query.limit);
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user).bind(checkpoint).bind(limit + 1);
            for c in collections {
                q = q.bind(c.as_str());
            }
            let rows = q.fetch_all(pool).await.map_err(err)?;
            let has_more = rows.len() as i64 > limit;
            let mut changes = Vec::with_capacity(rows.len());
            for row in rows.iter().take(query.limit as usize) {
                let version: i64 = row.try_get(2).map_err(err)?;
                let value: Option<String> = row.try_get(3).map_err(err)?;
                let value = match value {
                    None => None,
                    Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt(&e.to_string()))?),
                };
                changes.push(pwa_sync_core::protocol::Change {
                    collection: row.try_get(0).map_err(err)?,
                    key: row.try_get(1).map_err(err)?,
                    version: u64::try_from(version).map_err(|_| corrupt("negative version"))?,
                    value,
                    hlc: row.try_get(4).map_err(err)?,
                    space: None,
                });
            }
            let checkpoint = changes.last().map_or(query.checkpoint, |c| c.version);
            Ok(pwa_sync_core::protocol::PullResponse {
                changes,
                checkpoint,
                has_more,
                server_time: u64::try_from($crate::db::now_ms()).ok(),
                revoked: vec![],
            })
        }

        async fn read_stats(pool: &sqlx::Pool<$db>) -> Result<$crate::db::Stats, $crate::db::StoreError> {
            use sqlx::Row;
            let err = |e: sqlx::Error| $crate::db::store_error(&e);
            let row = sqlx::query($crate::db::sql::STATS).fetch_one(pool).await.map_err(err)?;
            let count = |i: usize| -> Result<u64, $crate::db::StoreError> {
                let n: i64 = row.try_get(i).map_err(err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok($crate::db::Stats {
                documents: count(0)?,
                mutations: count(1)?,
                webhooks: $crate::db::WebhookCounts { pending: count(2)?, delivered: count(3)?, dead: count(4)? },
            })
        }
    };
}

pub(crate) use impl_backend;
