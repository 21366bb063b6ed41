//! The storage code both backends share, written once: [`super::push::Tx`], the webhook
//! claims, the migration runner, pull and stats, over the statements of [`super::sql`].
//! A macro rather than generic code over `sqlx::Database`, whose bounds (an `Encode`,
//! `Decode` and `Type` per bound or read type, and `Executor` for each connection type)
//! would outweigh the code; each backend module expands it once for its database.

/// Implements `Tx` for `sqlx::Transaction<'_, $db>`; defines `claim_webhooks`,
/// `finish_webhook`, `migrate`, `pull_changes`, `read_stats` and `read_status` for `$db` in the calling
/// module; and implements the writes of `$store` (push, memberships, server writes) and its
/// reads of access, over the backend module's `begin_write`, `announce` and the store's `begin_read`.
macro_rules! impl_backend {
    ($db:ty, $store:ty) => {
        impl $store {
            /// Hands the push to this process's writer (see [`$crate::db::PushJob`]) and
            /// waits for its answer.
            async fn push_tx(
                &self,
                user: &str,
                request: &pwa_sync_core::protocol::PushRequest,
                limits: $crate::config::Limits,
                webhooks: &[String],
            ) -> Result<$crate::db::PushOutcome, $crate::db::StoreError> {
                let (reply, answer) = tokio::sync::oneshot::channel();
                let job = $crate::db::PushJob {
                    user: user.to_owned(),
                    request: request.clone(),
                    limits,
                    webhooks: webhooks.to_vec(),
                    reply,
                };
                self.writer
                    .send(job)
                    .await
                    .map_err(|_| $crate::db::StoreError::Unavailable("the push writer has stopped".into()))?;
                answer.await.map_err(|_| $crate::db::StoreError::Internal("the push writer dropped a push".into()))?
            }

            async fn set_member_tx(
                &self,
                space: &str,
                user: &str,
                role: Option<pwa_sync_core::protocol::Role>,
            ) -> Result<Option<u64>, $crate::db::StoreError> {
                $crate::db::backend::write_tx!(self, tx => {
                    let source = $crate::db::access::Source::Admin;
                    let version = $crate::db::members::set(&mut tx, space, user, source, role).await?;
                    $crate::db::member_poke(user, version)
                })
            }

            async fn create_space_tx(
                &self,
                space: &str,
                user: &str,
            ) -> Result<Option<u64>, $crate::db::StoreError> {
                $crate::db::backend::write_tx!(self, tx => {
                    let version = $crate::db::members::create(&mut tx, space, user).await?;
                    $crate::db::member_poke(user, version)
                })
            }

            async fn sync_token_tx(
                &self,
                user: &str,
                claims: &std::collections::BTreeMap<String, pwa_sync_core::protocol::Role>,
            ) -> Result<Option<u64>, $crate::db::StoreError> {
                // Most requests carry the grants already recorded: a read settles them,
                // without the write lock.
                let rows: Vec<(String, Option<String>)> = sqlx::query_as($crate::db::sql::GRANTS_BY_SOURCE)
                    .bind(user)
                    .bind($crate::db::access::Source::Token.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::db::store_error(&e))?;
                if $crate::db::members::live_grants(rows).map_err($crate::db::StoreError::Internal)? == *claims {
                    return Ok(None);
                }
                $crate::db::backend::write_tx!(self, tx => {
                    let version = $crate::db::members::sync_token(&mut tx, user, claims).await?;
                    $crate::db::member_poke(user, version)
                })
            }

            async fn server_writes_tx(
                &self,
                writes: &[$crate::db::ServerWrite],
                limits: $crate::config::Limits,
                webhooks: &[String],
            ) -> Result<Vec<pwa_sync_core::protocol::Change>, $crate::db::StoreError> {
                $crate::db::backend::write_tx!(self, tx => {
                    let applied = $crate::db::server_write::run(&mut tx, writes, limits, webhooks).await?;
                    let pokes = $crate::db::space_pokes(&applied);
                    (applied, pokes)
                })
            }

            async fn pull_tx(
                &self,
                user: &str,
                query: &$crate::db::PullQuery,
            ) -> Result<pwa_sync_core::protocol::PullResponse, $crate::db::StoreError> {
                let mut tx = self.begin_read().await.map_err(|e| $crate::db::store_error(&e))?;
                let page = pull_changes(&mut tx, user, query).await?;
                // A read-only transaction: ending it changes nothing.
                tx.rollback().await.map_err(|e| $crate::db::store_error(&e))?;
                Ok(page)
            }

            async fn access_now(&self, user: &str) -> Result<$crate::db::Access, $crate::db::StoreError> {
                let mut conn = self.pool.acquire().await.map_err(|e| $crate::db::store_error(&e))?;
                load_access(&mut conn, user).await
            }

            async fn members_now(
                &self,
                space: &str,
            ) -> Result<Vec<(String, pwa_sync_core::protocol::Role)>, $crate::db::StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as($crate::db::sql::MEMBERS_OF_SPACE)
                    .bind(space)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::db::store_error(&e))?;
                $crate::db::access::strongest_roles(rows).map_err($crate::db::StoreError::Internal)
            }
        }

        impl<'c> $crate::db::push::Tx for sqlx::Transaction<'c, $db> {
            async fn lock_counter(&mut self) -> Result<i64, sqlx::Error> {
                sqlx::query_scalar($crate::db::sql::LOCK_COUNTER).fetch_one(&mut **self).await
            }
            async fn next_version(&mut self) -> Result<i64, sqlx::Error> {
                sqlx::query_scalar($crate::db::sql::NEXT_VERSION).fetch_one(&mut **self).await
            }
            async fn set_counter(&mut self, v: i64) -> Result<(), sqlx::Error> {
                sqlx::query($crate::db::sql::SET_COUNTER).bind(v).execute(&mut **self).await.map(|_| ())
            }
            async fn claim_clients(
                &mut self,
                claims: &[(&str, &str)],
                now: i64,
            ) -> Result<Vec<(String, String)>, sqlx::Error> {
                let mut owners = Vec::with_capacity(claims.len());
                for chunk in claims.chunks($crate::db::sql::BATCH_ROWS) {
                    let sql = $crate::db::sql::claim_clients(chunk.len());
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
                    for (client, user) in chunk {
                        q = q.bind(*client).bind(*user);
                    }
                    q.execute(&mut **self).await?;
                    let sql = $crate::db::sql::client_owners(chunk.len());
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    for (client, _) in chunk {
                        q = q.bind(*client);
                    }
                    owners.extend(q.fetch_all(&mut **self).await?);
                }
                Ok(owners)
            }
            async fn stored_results(
                &mut self,
                asked: &[(&str, Vec<i64>)],
            ) -> Result<Vec<(String, i64, Option<String>)>, sqlx::Error> {
                let pairs: Vec<(&str, i64)> =
                    asked.iter().flat_map(|(client, ids)| ids.iter().map(move |id| (*client, *id))).collect();
                let mut rows: Vec<(String, i64, Option<String>)> = Vec::new();
                // The clients' highest ids ride on the first statement.
                let mut clients: Vec<&str> = asked.iter().map(|(client, _)| *client).collect();
                let mut chunks = pairs.chunks($crate::db::sql::BATCH_ROWS).peekable();
                if chunks.peek().is_none() && clients.is_empty() {
                    return Ok(Vec::new());
                }
                loop {
                    let chunk = chunks.next().unwrap_or(&[]);
                    let sql = $crate::db::sql::stored_results(chunk.len(), clients.len());
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    for (client, id) in chunk {
                        q = q.bind(*client).bind(*id);
                    }
                    for client in clients.drain(..) {
                        q = q.bind(client);
                    }
                    rows.extend(q.fetch_all(&mut **self).await?);
                    if chunks.peek().is_none() {
                        break;
                    }
                }
                Ok(rows)
            }
            async fn record_results(&mut self, writes: &[$crate::db::push::ResultWrite<'_>]) -> Result<(), sqlx::Error> {
                for chunk in writes.chunks($crate::db::sql::BATCH_ROWS) {
                    let sql = $crate::db::sql::record_results(chunk.len());
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for w in chunk {
                        q = q.bind(w.client_id).bind(w.mutation_id).bind(w.user).bind(w.status).bind(w.result).bind(w.version).bind(w.now);
                    }
                    q.execute(&mut **self).await?;
                }
                Ok(())
            }
            async fn documents(
                &mut self,
                keys: &[$crate::db::push::DocKey],
            ) -> Result<Vec<($crate::db::push::DocKey, $crate::db::push::DocRow)>, sqlx::Error> {
                use sqlx::Row;
                let mut docs = Vec::with_capacity(keys.len());
                for chunk in keys.chunks($crate::db::sql::BATCH_ROWS) {
                    let sql = $crate::db::sql::documents(chunk.len());
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (space, collection, key) in chunk {
                        q = q.bind(space.as_str()).bind(collection.as_str()).bind(key.as_str());
                    }
                    for r in q.fetch_all(&mut **self).await? {
                        let key = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                        docs.push((key, $crate::db::push::DocRow {
                            version: r.try_get(3)?,
                            value: r.try_get(4)?,
                            hlc: r.try_get(5)?,
                            writer_client: r.try_get(6)?,
                            writer_mutation: r.try_get(7)?,
                            schema_version: r.try_get(8)?,
                        }));
                    }
                }
                Ok(docs)
            }
            async fn write_documents(&mut self, writes: &[$crate::db::push::DocWrite<'_>]) -> Result<(), sqlx::Error> {
                for chunk in writes.chunks($crate::db::sql::BATCH_ROWS) {
                    let sql = $crate::db::sql::write_documents(chunk.len());
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for w in chunk {
                        q = q
                            .bind(w.space)
                            .bind(w.collection)
                            .bind(w.key)
                            .bind(w.version)
                            .bind(w.value)
                            .bind(w.hlc)
                            .bind(w.client_id)
                            .bind(w.mutation_id)
                            .bind(w.now)
                            .bind(w.schema_version);
                    }
                    q.execute(&mut **self).await?;
                }
                Ok(())
            }
            async fn enqueue_webhooks(&mut self, writes: &[$crate::db::push::WebhookWrite<'_>]) -> Result<(), sqlx::Error> {
                for chunk in writes.chunks($crate::db::sql::BATCH_ROWS) {
                    let sql = $crate::db::sql::enqueue_webhooks(chunk.len());
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for w in chunk {
                        q = q.bind(w.url).bind(w.body).bind(w.user).bind(w.version).bind(w.now);
                    }
                    q.execute(&mut **self).await?;
                }
                Ok(())
            }
            async fn space_in_use(&mut self, space: &str) -> Result<bool, sqlx::Error> {
                sqlx::query_scalar($crate::db::sql::SPACE_IN_USE).bind(space).fetch_one(&mut **self).await
            }
            async fn roles_in_spaces(
                &mut self,
                asked: &[(&str, Vec<&str>)],
            ) -> Result<Vec<(String, String, String)>, sqlx::Error> {
                let pairs: Vec<(&str, &str)> =
                    asked.iter().flat_map(|(user, spaces)| spaces.iter().map(move |space| (*user, *space))).collect();
                let mut rows = Vec::new();
                for chunk in pairs.chunks($crate::db::sql::BATCH_ROWS) {
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe($crate::db::sql::roles_in_spaces(chunk.len())));
                    for (user, space) in chunk {
                        q = q.bind(*user).bind(*space);
                    }
                    rows.extend(q.fetch_all(&mut **self).await?);
                }
                Ok(rows)
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
            async fn grant(&mut self, g: &$crate::db::push::GrantWrite<'_>) -> Result<(), sqlx::Error> {
                sqlx::query($crate::db::sql::GRANT)
                    .bind(g.space)
                    .bind(g.user)
                    .bind(g.source)
                    .bind(g.role)
                    .bind(g.version)
                    .execute(&mut **self)
                    .await
                    .map(|_| ())
            }
            async fn revoke(&mut self, space: &str, user: &str, source: &str, version: i64) -> Result<bool, sqlx::Error> {
                let done = sqlx::query($crate::db::sql::REVOKE)
                    .bind(space)
                    .bind(user)
                    .bind(source)
                    .bind(version)
                    .execute(&mut **self)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
            async fn grants_by_source(
                &mut self,
                user: &str,
                source: &str,
            ) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
                sqlx::query_as($crate::db::sql::GRANTS_BY_SOURCE).bind(user).bind(source).fetch_all(&mut **self).await
            }
        }

        /// Start this process's push writer on `pool`: pushes queue on the returned sender.
        fn start_push_writer(pool: sqlx::Pool<$db>) -> tokio::sync::mpsc::Sender<$crate::db::PushJob> {
            let (sender, receiver) = tokio::sync::mpsc::channel($crate::db::WRITER_QUEUE);
            tokio::spawn(push_writer(pool, receiver));
            sender
        }

        /// Takes every queued push (up to a group's bounds), applies them in one
        /// transaction, answers each; until the store, and with it the sender, is dropped.
        async fn push_writer(
            pool: sqlx::Pool<$db>,
            mut queue: tokio::sync::mpsc::Receiver<$crate::db::PushJob>,
        ) {
            while let Some(first) = queue.recv().await {
                let mut mutations = first.request.mutations.len();
                let mut group = vec![first];
                while group.len() < $crate::db::MAX_GROUP && mutations < $crate::db::MAX_GROUP_MUTATIONS {
                    match queue.try_recv() {
                        Ok(job) => {
                            mutations += job.request.mutations.len();
                            group.push(job);
                        }
                        Err(_) => break,
                    }
                }
                let started = std::time::Instant::now();
                let answers = push_group(&pool, &group).await;
                tracing::debug!(
                    target: "pwa_sync_server::push_group",
                    pushes = group.len(),
                    mutations,
                    ms = started.elapsed().as_secs_f64() * 1000.0,
                    "push group"
                );
                for (job, answer) in group.into_iter().zip(answers) {
                    // An error only means the request went away; its push stands.
                    let _ = job.reply.send(answer);
                }
            }
        }

        /// One transaction for `group`; if it fails as a whole (a corrupt row, the
        /// database), each push runs again on its own so one cannot fail the others.
        async fn push_group(
            pool: &sqlx::Pool<$db>,
            group: &[$crate::db::PushJob],
        ) -> Vec<Result<$crate::db::PushOutcome, $crate::db::StoreError>> {
            let jobs: Vec<$crate::db::push::Job<'_>> = group
                .iter()
                .map(|j| $crate::db::push::Job {
                    user: &j.user,
                    request: &j.request,
                    limits: j.limits,
                    webhooks: &j.webhooks,
                })
                .collect();
            match push_transaction(pool, &jobs).await {
                Ok(outcomes) => return outcomes.into_iter().map(|o| o.map_err($crate::db::job_error)).collect(),
                Err(e) if jobs.len() == 1 => return vec![Err(e)],
                Err(e) => tracing::info!(error = %e, pushes = jobs.len(), "a push group failed; running its pushes one by one"),
            }
            let mut answers = Vec::with_capacity(jobs.len());
            for job in &jobs {
                let answer = match push_transaction(pool, std::slice::from_ref(job)).await {
                    Ok(mut outcomes) => outcomes.pop().map_or_else(
                        || Err($crate::db::StoreError::Internal("a push group of one answered nothing".into())),
                        |o| o.map_err($crate::db::job_error),
                    ),
                    Err(e) => Err(e),
                };
                answers.push(answer);
            }
            answers
        }

        /// `jobs` in one write transaction (retried on contention), announced in it.
        async fn push_transaction(
            pool: &sqlx::Pool<$db>,
            jobs: &[$crate::db::push::Job<'_>],
        ) -> Result<Vec<Result<$crate::db::PushOutcome, $crate::db::Failure>>, $crate::db::StoreError> {
            $crate::db::with_retries(|| async {
                let mut tx = begin_write(pool).await?;
                let outcomes = $crate::db::push::run_group(&mut tx, jobs).await?;
                let applied: Vec<pwa_sync_core::protocol::Change> =
                    outcomes.iter().flatten().flat_map(|o| o.applied.iter().cloned()).collect();
                announce(&mut tx, &$crate::db::space_pokes(&applied)).await?;
                tx.commit().await?;
                Ok(outcomes)
            })
            .await
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

        /// The caller's readable spaces, read in `tx`.
        async fn load_access(
            conn: &mut <$db as sqlx::Database>::Connection,
            user: &str,
        ) -> Result<$crate::db::access::Access, $crate::db::StoreError> {
            let err = |e: sqlx::Error| $crate::db::store_error(&e);
            let rows: Vec<(String, String, i64)> =
                sqlx::query_as($crate::db::sql::GRANTS_OF_USER).bind(user).fetch_all(&mut *conn).await.map_err(err)?;
            let mut grants = Vec::with_capacity(rows.len());
            for (space, role, since) in rows {
                let role = $crate::db::access::parse_role(&role).map_err($crate::db::StoreError::Internal)?;
                grants.push((space, role, u64::try_from(since).unwrap_or(0)));
            }
            Ok($crate::db::access::Access::from_rows(user, grants))
        }

        /// One pull page in one read snapshot (`tx`): memberships and documents agree, and
        /// the snapshot is a prefix of the version order (every writer takes the counter
        /// lock first, so commit order is version order).
        async fn pull_changes(
            tx: &mut sqlx::Transaction<'_, $db>,
            user: &str,
            query: &$crate::db::PullQuery,
        ) -> Result<pwa_sync_core::protocol::PullResponse, $crate::db::StoreError> {
            let err = |e: sqlx::Error| $crate::db::store_error(&e);
            let checkpoint = i64::try_from(query.checkpoint).unwrap_or(i64::MAX);
            // The caller's grants and revocations in one statement (one round trip fewer).
            let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as($crate::db::sql::GRANTS_AND_REVOKED)
                .bind(user)
                .bind(checkpoint)
                .fetch_all(&mut **tx)
                .await
                .map_err(err)?;
            let mut grants = Vec::with_capacity(rows.len());
            let mut revoked: Vec<(String, i64)> = Vec::new();
            for (space, role, number) in rows {
                match role {
                    Some(role) => {
                        let role = $crate::db::access::parse_role(&role).map_err($crate::db::StoreError::Internal)?;
                        grants.push((space, role, u64::try_from(number).unwrap_or(0)));
                    }
                    None if query.wants(&space) => revoked.push((space, number)),
                    None => {}
                }
            }
            revoked.sort();
            let access = $crate::db::access::Access::from_rows(user, grants);
            let plan = $crate::db::pull::Plan::new(&access, query);
            let (rows, has_more) = if plan.is_empty() {
                (Vec::new(), false)
            } else {
                let mut reading = $crate::db::pull::Reading::new(query.limit as usize);
                while let Some((asked, pos, version)) = reading.next_chunk(checkpoint) {
                    read_rows(tx, &plan, (pos, version), asked as i64, &mut |row| reading.take(row)).await?;
                }
                match reading.page() {
                    $crate::db::pull::Page::Rows(rows, has_more) => (rows, has_more),
                    // A backfill group larger than the page: sent whole, and what follows
                    // it comes next page.
                    $crate::db::pull::Page::Group(pos) => {
                        let mut rows = Vec::new();
                        read_rows(tx, &plan, (checkpoint, pos), 0, &mut |row| {
                            rows.push(row);
                            true
                        })
                        .await?;
                        (rows, true)
                    }
                }
            };
            $crate::db::pull::response(rows, query, has_more, revoked).map_err($crate::db::StoreError::Internal)
        }

        /// Rows of a pull page as they stream, each handed to `take` until it answers
        /// `false`. With
        /// `limit` > 0, a chunk (`sql::pull_query`): `limit` rows after `after`, a position
        /// and a version; with `limit` 0, a backfill group: every row after `after.0` with
        /// a position up to `after.1`.
        async fn read_rows(
            tx: &mut sqlx::Transaction<'_, $db>,
            plan: &$crate::db::pull::Plan<'_>,
            after: (i64, i64),
            limit: i64,
            take: &mut (dyn FnMut($crate::db::pull::PageRow) -> bool + Send),
        ) -> Result<(), $crate::db::StoreError> {
            use futures_util::TryStreamExt;
            use sqlx::Row;
            let err = |e: sqlx::Error| $crate::db::store_error(&e);
            let up_to = limit == 0;
            let sql = $crate::db::sql::pull_query(plan.shape(up_to));
            let bound = if up_to { after.1 } else { limit };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after.0).bind(bound);
            for space in &plan.current {
                q = q.bind(*space);
            }
            for (space, since) in &plan.backfill {
                q = q.bind(*space).bind(*since);
            }
            for c in plan.collections {
                q = q.bind(c.as_str());
            }
            if !up_to {
                q = q.bind(after.1);
            }
            let mut rows = q.fetch(&mut **tx);
            while let Some(row) = rows.try_next().await.map_err(err)? {
                let row = $crate::db::pull::PageRow {
                    space: row.try_get(0).map_err(err)?,
                    collection: row.try_get(1).map_err(err)?,
                    key: row.try_get(2).map_err(err)?,
                    version: row.try_get(3).map_err(err)?,
                    value: row.try_get(4).map_err(err)?,
                    hlc: row.try_get(5).map_err(err)?,
                    schema_version: row.try_get(6).map_err(err)?,
                    pos: row.try_get(7).map_err(err)?,
                };
                if !take(row) {
                    break;
                }
            }
            Ok(())
        }

        async fn read_status(pool: &sqlx::Pool<$db>) -> Result<$crate::db::Status, $crate::db::StoreError> {
            use $crate::db::status::{count, RejectedPush, Totals, UrlStatus, WebhookFailure, RECENT_FAILURES};
            use $crate::db::sql;
            let err = |e: sqlx::Error| $crate::db::store_error(&e);
            let t: (i64, i64, i64, i64, i64, i64) =
                sqlx::query_as(sql::STATUS_TOTALS).fetch_one(pool).await.map_err(err)?;
            let totals = Totals {
                documents: count(t.0),
                spaces: count(t.1),
                members: count(t.2),
                applied: count(t.3),
                conflicts: count(t.4),
                rejected: count(t.5),
            };
            let rejected: Vec<(i64, String, String, i64, String)> =
                sqlx::query_as(sql::STATUS_REJECTED).bind(RECENT_FAILURES).fetch_all(pool).await.map_err(err)?;
            let failures: Vec<(i64, String, i64, String, i64, String)> = sqlx::query_as(sql::STATUS_WEBHOOK_FAILURES)
                .bind(RECENT_FAILURES)
                .fetch_all(pool)
                .await
                .map_err(err)?;
            let urls: Vec<(String, i64, i64, i64, i64, Option<i64>, Option<String>)> =
                sqlx::query_as(sql::STATUS_WEBHOOK_URLS).fetch_all(pool).await.map_err(err)?;
            Ok($crate::db::Status {
                totals,
                rejected_pushes: rejected
                    .into_iter()
                    .map(|(at, user, client_id, mutation_id, result)| RejectedPush { at, user, client_id, mutation_id, result })
                    .collect(),
                webhook_failures: failures
                    .into_iter()
                    .map(|(at, url, id, state, attempts, last_error)| WebhookFailure {
                        at,
                        url,
                        id,
                        state,
                        attempts: count(attempts),
                        last_error,
                    })
                    .collect(),
                webhooks: urls
                    .into_iter()
                    .map(|(url, pending, delivered, dead, attempts, oldest_pending_at, last_error)| UrlStatus {
                        url,
                        pending: count(pending),
                        delivered: count(delivered),
                        dead: count(dead),
                        attempts: count(attempts),
                        oldest_pending_at,
                        last_error,
                    })
                    .collect(),
            })
        }

        async fn read_stats(pool: &sqlx::Pool<$db>) -> Result<$crate::db::Stats, $crate::db::StoreError> {
            use sqlx::Row;
            let err = |e: sqlx::Error| $crate::db::store_error(&e);
            let since = $crate::db::now_ms().saturating_sub($crate::db::RECENT_DEAD_MS);
            let row = sqlx::query($crate::db::sql::STATS).bind(since).fetch_one(pool).await.map_err(err)?;
            let count = |i: usize| -> Result<u64, $crate::db::StoreError> {
                let n: i64 = row.try_get(i).map_err(err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok($crate::db::Stats {
                recent_dead: count(0)?,
                oldest_pending_at: row.try_get(1).map_err(err)?,
            })
        }
    };
}

/// One write transaction of `$store`, retried on contention: `$body` (which may use `?`
/// on [`Failure`](crate::db::Failure)) runs with `$tx` open and yields (result, pokes);
/// the pokes are announced in the transaction (PostgreSQL NOTIFY, sent on commit).
macro_rules! write_tx {
    ($store:expr, $tx:ident => $body:block) => {
        $crate::db::with_retries(|| async {
            let _permit =
                $store.pushes.acquire().await.map_err(|_| $crate::db::Failure::Db(sqlx::Error::PoolClosed))?;
            let mut $tx = begin_write(&$store.pool).await?;
            let (result, pokes) = $body;
            announce(&mut $tx, &pokes).await?;
            $tx.commit().await?;
            Ok(result)
        })
        .await
    };
}

/// The `Store` methods both backends implement alike, over what [`impl_backend`] defines;
/// invoked inside each backend's `impl Store`.
macro_rules! store_methods {
    () => {
        fn push<'a>(
            &'a self,
            user: &'a str,
            request: &'a pwa_sync_core::protocol::PushRequest,
            limits: $crate::config::Limits,
            webhooks: &'a [String],
        ) -> futures_util::future::BoxFuture<'a, Result<$crate::db::PushOutcome, $crate::db::StoreError>> {
            Box::pin(self.push_tx(user, request, limits, webhooks))
        }

        fn pull<'a>(
            &'a self,
            user: &'a str,
            query: &'a $crate::db::PullQuery,
        ) -> futures_util::future::BoxFuture<'a, Result<pwa_sync_core::protocol::PullResponse, $crate::db::StoreError>>
        {
            Box::pin(self.pull_tx(user, query))
        }

        fn access<'a>(
            &'a self,
            user: &'a str,
        ) -> futures_util::future::BoxFuture<'a, Result<$crate::db::Access, $crate::db::StoreError>> {
            Box::pin(self.access_now(user))
        }

        fn set_member<'a>(
            &'a self,
            space: &'a str,
            user: &'a str,
            role: Option<pwa_sync_core::protocol::Role>,
        ) -> futures_util::future::BoxFuture<'a, Result<Option<u64>, $crate::db::StoreError>> {
            Box::pin(self.set_member_tx(space, user, role))
        }

        fn create_space<'a>(
            &'a self,
            space: &'a str,
            user: &'a str,
        ) -> futures_util::future::BoxFuture<'a, Result<Option<u64>, $crate::db::StoreError>> {
            Box::pin(self.create_space_tx(space, user))
        }

        fn sync_token_grants<'a>(
            &'a self,
            user: &'a str,
            claims: &'a std::collections::BTreeMap<String, pwa_sync_core::protocol::Role>,
        ) -> futures_util::future::BoxFuture<'a, Result<Option<u64>, $crate::db::StoreError>> {
            Box::pin(self.sync_token_tx(user, claims))
        }

        fn members<'a>(
            &'a self,
            space: &'a str,
        ) -> futures_util::future::BoxFuture<
            'a,
            Result<Vec<(String, pwa_sync_core::protocol::Role)>, $crate::db::StoreError>,
        > {
            Box::pin(self.members_now(space))
        }

        fn server_writes<'a>(
            &'a self,
            writes: &'a [$crate::db::ServerWrite],
            limits: $crate::config::Limits,
            webhooks: &'a [String],
        ) -> futures_util::future::BoxFuture<'a, Result<Vec<pwa_sync_core::protocol::Change>, $crate::db::StoreError>> {
            Box::pin(self.server_writes_tx(writes, limits, webhooks))
        }

        fn stats(&self) -> futures_util::future::BoxFuture<'_, Result<$crate::db::Stats, $crate::db::StoreError>> {
            Box::pin(read_stats(&self.pool))
        }

        fn status(&self) -> futures_util::future::BoxFuture<'_, Result<$crate::db::Status, $crate::db::StoreError>> {
            Box::pin(read_status(&self.pool))
        }
    };
}

pub(crate) use impl_backend;
pub(crate) use store_methods;
pub(crate) use write_tx;
