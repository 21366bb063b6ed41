//! The sync state machine: push the outbox in batches, then pull until caught up. It
//! runs over traits (`Store`, `Transport`, `Observer`) so the same code runs in the
//! browser and under host tests with a fake server and clock.

use futures_util::future::join;
use serde_json::Value;

use crate::config::{ClientConfig, CollectionConfig};
use crate::conflict::Sides;
use crate::error::{Error, ErrorClass};
use crate::metrics::SyncReport;
use crate::migration::{self, Pulled, Steps};
use crate::model::{AuditEntry, AuditKind, Effect, KeyRef, Writes};
use crate::mutation::{LocalWrite, WriteOutcome};
use crate::protocol::{is_private_space, Mutation, MutationResult, PullResponse, PushRequest, PushResponse};
use crate::record::{ConflictRecord, ListQuery, OutboxEntry};
use crate::store::{Durability, Scope, Store};
use crate::sync::{plan_discard, plan_local_batch, plan_pull, plan_push, plan_resolve, plan_revoke, Applied, Choice};
use crate::value::AppValue;

/// Local writes on any [`Store`]: planned by `sync::plan_local_batch` (following
/// `mutation::plan_local_write`) and committed in one `Scope::LocalWrite` transaction
/// (invariant 1). Here rather than in the storage contract, which calls no planner.
#[allow(async_fn_in_trait)]
pub trait LocalWrites: Store {
    /// Apply a local write: entity, outbox and meta in one transaction.
    async fn write_local(&self, write: &LocalWrite<Self::Value>) -> Result<WriteOutcome<Self::Value>, Error>;

    /// Apply local writes in order, all in one transaction (`putMany`): all or nothing.
    async fn write_local_batch(
        &self,
        batch: &[LocalWrite<Self::Value>],
    ) -> Result<Vec<WriteOutcome<Self::Value>>, Error>;
}

impl<S: Store> LocalWrites for S {
    /// A batch of one: one transaction for both in the module (bench/README.md "Size").
    async fn write_local(&self, write: &LocalWrite<S::Value>) -> Result<WriteOutcome<S::Value>, Error> {
        let mut outcomes = self.write_local_batch(std::slice::from_ref(write)).await?;
        outcomes.pop().ok_or_else(|| Error::Storage("a local write planned no outcome".into()))
    }

    async fn write_local_batch(&self, batch: &[LocalWrite<S::Value>]) -> Result<Vec<WriteOutcome<S::Value>>, Error> {
        let mut keys: Vec<KeyRef> = batch.iter().map(|w| (w.collection.clone(), w.key.clone())).collect();
        crate::sort::sort(&mut keys);
        keys.dedup();
        crate::transact!(self, &keys, Scope::LocalWrite, |snapshot| plan_local_batch(snapshot, batch))
    }
}

/// Upper bound of one push body; the reference server accepts 1 MiB.
pub const PUSH_BYTE_CAP: usize = 512 * 1024;
/// Changes asked for per pull request: the reference server's maximum (`MAX_PULL_LIMIT`).
/// Each page is one transaction; 1,000 rather than 500 took the initial sync of 50,000
/// from 6.63 to 5.80 s, and 2,500 rather than 1,000 about 7 % more off (bench/README).
/// A page over the size limit is asked for again with half the limit, so a server whose
/// pages of large documents (past ~13 KB each at 2,500) pass it costs a request more per
/// halving, once a sync, not a stuck sync; the reference server's pages stop at 8 MiB
/// (`MAX_PULL_BYTES`).
pub const PULL_LIMIT: usize = 2500;

/// A failed request, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportError {
    pub class: ErrorClass,
    pub status: Option<u16>,
    pub retry_after_ms: Option<u64>,
    pub message: String,
    /// The answer was over the client's size limit (a `protocol` error): a pull asks
    /// again for a smaller page.
    pub too_large: bool,
}

impl TransportError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> TransportError {
        TransportError { class, status: None, retry_after_ms: None, message: message.into(), too_large: false }
    }
}

/// The server, as the engine sees it; `V` is how values come back from a pull (and go
/// out in a push), as the store holds them.
#[allow(async_fn_in_trait)]
pub trait Transport<V = Value> {
    /// A push on its way (`send`), whose answer `answer` waits for.
    type Sending;
    /// Start pushing `request`: it leaves now, so the next batch travels while the answer
    /// before it is stored.
    fn send(&self, request: &PushRequest<V>) -> Self::Sending;
    async fn answer(&self, sending: Self::Sending) -> Result<PushResponse, TransportError>;
    async fn pull(
        &self,
        checkpoint: u64,
        limit: usize,
        collections: &[String],
    ) -> Result<PullResponse<V>, TransportError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Push,
    Pull,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Push => "push",
            Phase::Pull => "pull",
        }
    }
}

/// Told what happened as each transaction commits, so the UI updates as sync goes; and
/// asked for the app's resolver when a collection has one.
pub trait Observer<V = Value> {
    fn effects(&self, effects: &[Effect<V>]);
    fn progress(&self, phase: Phase, done: usize, total: Option<usize>);
    fn now_ms(&self) -> u64;

    /// Run the app's resolver of `config`'s collection: `Some(value)` or `None` (it threw,
    /// or returned something unusable, or there is none): the conflict goes to `manual`.
    fn resolve_custom(&self, config: &CollectionConfig, sides: &Sides<'_>) -> Option<Option<Value>> {
        let _ = (config, sides);
        None
    }

    /// Run the app's `migrations` `steps` over a pulled value of `config`'s collection
    /// (checked with `migration::check_answer`). Without migrations: the value as it is.
    fn migrate(&self, config: &CollectionConfig, key: &str, value: Value, steps: Steps) -> Result<Value, Error> {
        let _ = (config, key, steps);
        Ok(value)
    }
}

/// Note in `report` the server's clock offset, from an answer that gave its time.
fn saw_server_time(report: &mut SyncReport, server_time: Option<u64>, now_ms: u64) {
    if let Some(server) = server_time {
        // Checked to be a plausible time first (`check_server_time`); computed wide
        // so no answer can overflow it.
        let offset = i128::from(server) - i128::from(now_ms);
        report.clock_offset_ms = Some(offset.clamp(i64::MIN.into(), i64::MAX.into()) as i64);
    }
}

/// The correction to keep: none while our clock is within the drift the HLC tolerates
/// (network delay alone makes small offsets noisy).
fn clock_correction(offset_ms: i64) -> i64 {
    if offset_ms.unsigned_abs() <= crate::clock::MAX_FORWARD_DRIFT_MS {
        0
    } else {
        offset_ms
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SyncError {
    Transport(TransportError),
    /// Storage failed: nothing of the failed step was written.
    Store(Error),
}

impl SyncError {
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            SyncError::Transport(e) => Some(e.class),
            SyncError::Store(_) => None,
        }
    }

    pub fn message(&self) -> String {
        match self {
            SyncError::Transport(e) => e.message.clone(),
            SyncError::Store(e) => e.to_string(),
        }
    }

    fn protocol(message: impl Into<String>) -> SyncError {
        SyncError::Transport(TransportError::new(ErrorClass::Protocol, message))
    }
}

impl From<Error> for SyncError {
    fn from(e: Error) -> SyncError {
        SyncError::Store(e)
    }
}

/// A sync that stopped part way: what it did before, and why it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncFailure {
    pub error: SyncError,
    pub report: SyncReport,
}

/// The scope string of the configured collections (see `Meta::checkpoint_scope`).
pub fn checkpoint_scope(config: &ClientConfig) -> String {
    let mut names: Vec<&str> = config.collections.iter().map(|c| c.name.as_str()).collect();
    crate::sort::sort(&mut names);
    crate::text::joined(&names, ",")
}

/// Restart pulling from 0 when the set of collections changed since the checkpoint was
/// stored: a new collection's old changes lie before it.
pub async fn ensure_checkpoint_scope<S: Store>(store: &S, config: &ClientConfig) -> Result<(), Error> {
    let scope = checkpoint_scope(config);
    let mut rescope = |meta: &mut crate::record::Meta| {
        if meta.checkpoint_scope.as_deref() == Some(scope.as_str()) {
            return false;
        }
        meta.checkpoint = 0;
        meta.checkpoint_scope = Some(scope.clone());
        true
    };
    crate::transact!(store, &[], Scope::Sync(Durability::Default), |snapshot| {
        Ok((Writes::of_meta(snapshot, &mut rescope), ()))
    })
}

/// Settle open conflict `id` with what `choose` makes of it (it can refuse, e.g. a
/// chosen record of another key). `unknown-conflict` if it is not open.
pub async fn resolve_conflict<S: Store>(
    store: &S,
    id: u64,
    now_ms: u64,
    choose: impl FnOnce(&ConflictRecord) -> Result<Choice, Error>,
) -> Result<Vec<Effect<S::Value>>, Error> {
    let conflicts = store.conflicts().await?;
    let conflict = conflicts.iter().find(|c| c.id == id).ok_or(Error::UnknownConflict(id))?;
    let choice = choose(conflict)?;
    let key = (conflict.collection.clone(), conflict.key.clone());
    let keys = std::slice::from_ref(&key);
    crate::transact!(store, keys, Scope::Sync(Durability::Default), |s| plan_resolve(s, &key, id, choice, now_ms))
}

/// Remember why a sync failed (until one succeeds).
pub async fn record_failure<S: Store>(store: &S, failure: crate::record::Failure) -> Result<(), Error> {
    let mut failure = Some(failure);
    let mut record = |meta: &mut crate::record::Meta| {
        meta.last_failure = failure.take();
        true
    };
    crate::transact!(store, &[], Scope::Sync(Durability::Default), |snapshot| {
        Ok((Writes::of_meta(snapshot, &mut record), ()))
    })
}

/// One full sync: push everything queued, then pull until the server has no more.
pub async fn sync<S, T, O>(
    config: &ClientConfig,
    store: &S,
    transport: &T,
    observer: &O,
) -> Result<SyncReport, SyncFailure>
where
    S: Store,
    T: Transport<S::Value>,
    O: Observer<S::Value>,
{
    let mut report = SyncReport::default();
    let outcome = async {
        push_all(config, store, transport, observer, &mut report).await?;
        pull_all(config, store, transport, observer, &mut report).await?;
        let now = observer.now_ms();
        let offset = report.clock_offset_ms;
        let mut synced = |meta: &mut crate::record::Meta| {
            meta.last_synced_at = Some(now as f64);
            meta.last_failure = None;
            if let Some(offset) = offset {
                meta.clock_offset_ms = clock_correction(offset);
                let corrected = meta.corrected(now);
                meta.hlc.pull_back(corrected);
            }
            true
        };
        crate::transact!(store, &[], Scope::Sync(Durability::Default), |snapshot| {
            Ok((Writes::of_meta(snapshot, &mut synced), ()))
        })?;
        Ok::<(), SyncError>(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(report),
        Err(error) => Err(SyncFailure { error, report }),
    }
}

async fn push_all<S: Store, T: Transport<S::Value>, O: Observer<S::Value>>(
    config: &ClientConfig,
    store: &S,
    transport: &T,
    observer: &O,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let client_id = match store.meta().await? {
        Some(meta) => meta.client_id,
        None => return Err(SyncError::Store(Error::Storage("metadata missing".into()))),
    };
    let total = store.pending_count().await?;
    // Conflicts may queue a resolved value, which goes out in a later batch of this same
    // sync; the bound keeps a server that conflicts forever from holding us here.
    let mut max_batches = total / config.batch_size.max(1) + 5;
    let mut batch_size = config.batch_size.max(1);
    let mut byte_cap = PUSH_BYTE_CAP;
    let mut done = 0;
    // Entries up to this id were answered: the next batch starts after them, though the
    // answer that removes them from the outbox may not be stored yet.
    let mut after = 0;
    // An answer read but not stored: the next batch is taken and sent first, so the
    // request travels while IndexedDB writes.
    let mut unstored: Option<(Vec<OutboxEntry<S::Value>>, PushResponse)> = None;
    let mut taken = 0;
    loop {
        // Read and flagged as sent in one transaction, before the request leaves: from
        // here on these entries are never rewritten (entries past the byte cap are
        // flagged too; that only stops later writes folding into them). The bound counts
        // batches sent; past it, only the last answer is stored.
        let batch = if taken < max_batches {
            take_by_bytes(store.take_batch(after, batch_size).await?, byte_cap)
        } else {
            Vec::new()
        };
        taken += usize::from(!batch.is_empty());
        let request = PushRequest {
            client_id: client_id.clone(),
            // Every queued value of a declared collection is at the app's version: opening
            // migrated older ones. One of a collection this version dropped was not migrated:
            // it goes out unlabelled (version 1), so a reader migrates it rather than never.
            mutations: batch
                .iter()
                .map(|e| Mutation {
                    schema_version: config.collection(&e.collection).ok().and(migration::pushed(config.version)),
                    ..e.to_mutation()
                })
                .collect(),
        };
        let sending = (!batch.is_empty()).then(|| transport.send(&request));
        let stored = unstored.is_some();
        if let Some((answered, response)) = unstored.take() {
            apply_push(config, store, observer, &answered, &response, report).await?;
            done += response.results.len();
            observer.progress(Phase::Push, done, Some(total.max(done)));
        }
        let Some(sending) = sending else {
            // The answer just stored may have queued a resolved value: look again.
            if stored {
                continue;
            }
            break;
        };
        let response = match transport.answer(sending).await {
            Ok(response) => {
                check_push_response(config, &request.mutations, &response)?;
                saw_server_time(report, response.server_time, observer.now_ms());
                response
            }
            Err(e) if e.status == Some(413) && batch.len() > 1 => {
                // Too large for the server: halve and go again. Halving ends by itself
                // (one entry too large is rejected below), so a refused batch does not
                // count against the bound, which grows to what the rest takes at the
                // smaller size: else a server that takes only small batches would stop
                // every sync before anything is stored, and none would follow.
                batch_size = (batch.len() / 2).max(1);
                byte_cap = (byte_cap / 2).max(1024);
                taken -= 1;
                max_batches = max_batches.max(taken + total.saturating_sub(done) / batch_size + 5);
                continue;
            }
            // A single mutation the server will never take: rejected here, like the
            // server would, so it does not block the outbox forever. Stored as an
            // answer, through the one `apply_push` of the loop.
            Err(e) if e.status == Some(413) => PushResponse {
                results: vec![MutationResult::Rejected {
                    id: batch[0].id,
                    code: "too-large".into(),
                    message: format!("the server refused this mutation as too large: {}", e.message),
                }],
                last_mutation_id: batch[0].id,
                server_time: None,
            },
            Err(e) => return Err(SyncError::Transport(e)),
        };
        after = answered_through(&batch, &response, after);
        unstored = Some((batch, response));
    }
    Ok(())
}

/// The last id of `batch`'s answered beginning: an entry the answer left out is taken
/// again by the next batch, as it would be once the answer is stored.
fn answered_through<V>(batch: &[OutboxEntry<V>], response: &PushResponse, after: u64) -> u64 {
    let mut through = after;
    for entry in batch {
        if !response.results.iter().any(|r| r.id() == entry.id) {
            break;
        }
        through = entry.id;
    }
    through
}

async fn apply_push<S: Store, O: Observer<S::Value>>(
    config: &ClientConfig,
    store: &S,
    observer: &O,
    batch: &[OutboxEntry<S::Value>],
    response: &PushResponse,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    // Entries of a collection this version of the app no longer declares (queued before
    // an update dropped it) went out too: the store has no such collection to read, so
    // they are not planned, and every answer settles them. Applied, or refused for good,
    // they leave the outbox; in conflict, the server's value stands (no strategy of the
    // app's settles a collection it does not declare; sent again, the entry would meet the
    // same conflict at every sync) and the entry leaves, kept in the audit log.
    let mut keys = Vec::new();
    let (mut dropped, mut audit, mut conflicts, mut rejected) = (Vec::new(), Vec::new(), 0, 0);
    let now = observer.now_ms();
    for entry in batch {
        if config.collection(&entry.collection).is_ok() {
            keys.push((entry.collection.clone(), entry.key.clone()));
            continue;
        }
        let Some(result) = response.results.iter().find(|r| r.id() == entry.id) else { continue };
        dropped.push(entry.id);
        let local = (entry.op != crate::protocol::Op::Delete).then(|| entry.value.to_json());
        let (kind, strategy, decided_by, server, server_version) = match result {
            MutationResult::Applied { .. } => continue,
            MutationResult::Rejected { code, .. } => {
                rejected += 1;
                (AuditKind::Rejected, code.clone(), "server", None, None)
            }
            MutationResult::Conflict { server, .. } => {
                conflicts += 1;
                (AuditKind::Conflict, "serverWins".into(), "auto", server.value.clone(), Some(server.version))
            }
        };
        audit.push(AuditEntry {
            at: now as f64,
            kind,
            collection: entry.collection.clone(),
            key: entry.key.clone(),
            strategy,
            decided_by: decided_by.into(),
            local,
            result: server.clone(),
            server,
            base: None,
            server_version,
        });
    }
    let keys = unique_keys(keys.into_iter());
    let (results, newer) = migrate_conflicts(config, observer, batch, &response.results)?;
    let applied: Applied<S::Value> = crate::transact!(store, &keys, Scope::Sync(Durability::Strict), |snapshot| {
        let (mut writes, applied) = plan_push(config, snapshot, &results, now, &|c, s| observer.resolve_custom(c, s))?;
        writes.outbox_delete.extend_from_slice(&dropped);
        writes.audit.append(&mut audit);
        Ok((writes, applied))
    })?;
    report.pushed += applied.applied + dropped.len() - conflicts - rejected;
    report.conflicts += applied.conflicts + conflicts;
    report.rejected += applied.rejected + rejected;
    report.batches += 1;
    observer.effects(&applied.effects);
    if !newer.is_empty() {
        observer.effects(&newer);
    }
    Ok(())
}

async fn pull_all<S: Store, T: Transport<S::Value>, O: Observer<S::Value>>(
    config: &ClientConfig,
    store: &S,
    transport: &T,
    observer: &O,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let collections: Vec<String> = config.collections.iter().map(|c| c.name.clone()).collect();
    let scope = checkpoint_scope(config);
    let Some(meta) = store.meta().await? else { return Ok(()) };
    if !owns_checkpoint(&meta, &scope, meta.checkpoint) {
        return Ok(());
    }
    let mut checkpoint = meta.checkpoint;
    let mut prefetched = None;
    let mut revoked: Vec<String> = Vec::new();
    // Halved while a page is over the client's size limit (large documents), so a sync
    // is slower for them but never stuck; at 1 the error stands.
    let mut limit = PULL_LIMIT;
    loop {
        let page = match prefetched.take() {
            Some(page) => page,
            None => transport.pull(checkpoint, limit, &collections).await,
        };
        let page = match page {
            Err(e) if e.too_large && limit > 1 => {
                limit /= 2;
                continue;
            }
            page => page.map_err(SyncError::Transport)?,
        };
        check_pull_page(config, checkpoint, &page)?;
        let mut page = page;
        let newer = migrate_pulled(config, observer, &mut page.changes)?;
        saw_server_time(report, page.server_time, observer.now_ms());
        // The server repeats `revoked` on every page of a pull: dropped once.
        let mut newly: Vec<String> = Vec::new();
        for space in &page.revoked {
            if !revoked.contains(space) {
                newly.push(space.clone());
            }
        }
        if !newly.is_empty() {
            revoke(config, store, observer, &newly, report).await?;
            revoked.extend(newly);
        }
        // Changes of collections we did not ask for are ignored (`plan_pull` skips them),
        // so their keys are not asked of the store, which knows no such collection.
        // Pushed in a loop (a collect over `filter` is a generic instance of its own).
        let mut keys: Vec<KeyRef> = Vec::with_capacity(page.changes.len());
        for change in &page.changes {
            if config.collection(&change.collection).is_ok() {
                keys.push((change.collection.clone(), change.key.clone()));
            }
        }
        crate::sort::sort_unique(&mut keys);
        let now = observer.now_ms();
        let store_page = store.transact(&keys, Durability::Default, |snapshot| {
            if !owns_checkpoint(&snapshot.meta, &scope, checkpoint) {
                // Another version of the app took the checkpoint over meanwhile.
                return Ok((Writes::default(), None));
            }
            plan_pull(config, snapshot, &page.changes, page.checkpoint, now, &|c, s| observer.resolve_custom(c, s))
                .map(|(writes, applied)| (writes, Some(applied)))
        });
        // The next page is fetched while this one is stored: the network and IndexedDB
        // overlap. It is only used once this page has committed.
        let applied = if page.has_more {
            let (applied, next) = join(store_page, transport.pull(page.checkpoint, limit, &collections)).await;
            prefetched = Some(next);
            applied?
        } else {
            store_page.await?
        };
        let Some(applied) = applied else { return Ok(()) };
        report.pulled += page.changes.len();
        report.conflicts += applied.conflicts;
        for space in page.changes.iter().filter_map(|c| c.space.as_deref()).filter(|s| !is_private_space(s)) {
            if !report.shared_spaces.iter().any(|known| known == space) {
                report.shared_spaces.push(space.to_owned());
            }
        }
        checkpoint = page.checkpoint;
        observer.effects(&applied.effects);
        if !newer.is_empty() {
            observer.effects(&newer);
        }
        observer.progress(Phase::Pull, report.pulled, None);
        if !page.has_more {
            return Ok(());
        }
    }
}

/// Bring pulled values written at an older schema version up to the app's (before they
/// are planned, so merges and stores see one shape); one written at a newer version is
/// stored as it is and announced. A failing step fails the sync before the page is
/// stored: the checkpoint stays, so nothing is skipped.
fn migrate_pulled<V: AppValue, O: Observer<V>>(
    config: &ClientConfig,
    observer: &O,
    changes: &mut [crate::protocol::Change<V>],
) -> Result<Vec<Effect<V>>, SyncError> {
    let mut newer = Vec::new();
    for change in changes.iter_mut() {
        let Ok(collection) = config.collection(&change.collection) else { continue };
        match migration::pulled(change.schema_version, config.version) {
            Pulled::Current => {}
            Pulled::Older(steps) => {
                // A migration computes a new value: the explicit conversion.
                if let Some(value) = change.value.take() {
                    let migrated = observer.migrate(collection, &change.key, value.to_json(), steps)?;
                    change.value = Some(V::from_json(migrated));
                }
            }
            Pulled::Newer(schema_version) => newer.push(Effect::NewerSchema {
                collection: change.collection.clone(),
                key: change.key.clone(),
                schema_version,
            }),
        }
    }
    Ok(newer)
}

/// A conflict's server value of an older schema version, migrated like a pulled one, so
/// the conflict is settled between values of one shape; one of a newer version is settled
/// as it is and announced, as a pulled one is (the effects returned beside the results).
#[allow(clippy::type_complexity)]
fn migrate_conflicts<'a, V, O: Observer<V>>(
    config: &ClientConfig,
    observer: &O,
    batch: &[OutboxEntry<V>],
    results: &'a [MutationResult],
) -> Result<(std::borrow::Cow<'a, [MutationResult]>, Vec<Effect<V>>), SyncError> {
    let mut migrated = std::borrow::Cow::Borrowed(results);
    let mut newer = Vec::new();
    for (at, result) in results.iter().enumerate() {
        let MutationResult::Conflict { id, server } = result else { continue };
        // Most conflicts are of the app's own version: no entry is looked up for them.
        let pulled = migration::pulled(server.schema_version, config.version);
        if pulled == Pulled::Current {
            continue;
        }
        let Some(entry) = batch.iter().find(|e| e.id == *id) else { continue };
        // An entry of a collection the app does not declare is settled without its value
        // (`apply_push`): nothing to migrate or announce.
        let Ok(collection) = config.collection(&entry.collection) else { continue };
        let steps = match pulled {
            Pulled::Older(steps) => steps,
            Pulled::Newer(schema_version) => {
                let (collection, key) = (entry.collection.clone(), entry.key.clone());
                newer.push(Effect::NewerSchema { collection, key, schema_version });
                continue;
            }
            Pulled::Current => continue,
        };
        let MutationResult::Conflict { server, .. } = &mut migrated.to_mut()[at] else { continue };
        if let Some(value) = server.value.take() {
            server.value = Some(observer.migrate(collection, &entry.key, value, steps)?);
        }
        server.schema_version = None;
    }
    Ok((migrated, newer))
}

/// Drop every queued write and roll its record back to the server's value; resolves to
/// how many writes were dropped. Run it where no push runs at once (the flush lock).
pub async fn discard_pending<S: Store, O: Observer<S::Value>>(store: &S, observer: &O) -> Result<usize, Error> {
    let keys = unique_keys(store.outbox(usize::MAX).await?.into_iter().map(|e| (e.collection, e.key)));
    let now = observer.now_ms();
    let applied = crate::transact!(store, &keys, Scope::Sync(Durability::Strict), |s| plan_discard(s, now))?;
    observer.effects(&applied.effects);
    Ok(applied.applied)
}

/// Pull everything again from the start (`resync`): the checkpoint goes back to 0, pending
/// writes stay. The next sync then brings every document the server has; those already
/// held at their version are skipped.
pub async fn reset_checkpoint<S: Store>(store: &S) -> Result<(), Error> {
    let mut reset = |meta: &mut crate::record::Meta| {
        meta.checkpoint = 0;
        true
    };
    crate::transact!(store, &[], Scope::Sync(Durability::Strict), |snapshot| {
        Ok((Writes::of_meta(snapshot, &mut reset), ()))
    })
}

/// Drop what this device holds of spaces the user lost: the keys that may be theirs are
/// found first (records of collections that can live there, queued writes naming them),
/// then planned and written in one transaction.
async fn revoke<S: Store, O: Observer<S::Value>>(
    config: &ClientConfig,
    store: &S,
    observer: &O,
    revoked: &[String],
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let mut keys = Vec::new();
    for collection in &config.collections {
        if !revoked.iter().any(|s| collection.space.may_hold(s)) {
            continue;
        }
        for record in store.list(&collection.name, &ListQuery::default()).await? {
            keys.push((collection.name.clone(), record.key));
        }
    }
    for entry in store.outbox(usize::MAX).await? {
        if entry.space.as_ref().is_some_and(|s| revoked.contains(s)) {
            keys.push((entry.collection, entry.key));
        }
    }
    let keys = unique_keys(keys.into_iter());
    let now = observer.now_ms();
    let applied =
        crate::transact!(store, &keys, Scope::Sync(Durability::Default), |s| plan_revoke(config, s, revoked, now))?;
    report.rejected += applied.rejected;
    let mut effects = applied.effects;
    effects.push(Effect::SpacesRevoked(revoked.to_vec()));
    observer.effects(&effects);
    Ok(())
}

/// Whether the stored checkpoint is this configuration's, still at `at`. Tabs and workers
/// of two versions of an app share one database and its one checkpoint, which covers
/// the collections of whichever opened last (`ensure_checkpoint_scope`). Pulling our
/// collections on another's checkpoint would move it past changes of collections we do
/// not store, which the other would then never pull: the owner pulls, and its changes
/// reach us through the shared database. (No scope yet: a store never opened by a
/// client; nobody else owns it.)
fn owns_checkpoint(meta: &crate::record::Meta, scope: &str, at: u64) -> bool {
    meta.checkpoint_scope.as_deref().is_none_or(|s| s == scope) && meta.checkpoint == at
}

/// `keys` sorted, each once.
fn unique_keys(keys: impl Iterator<Item = KeyRef>) -> Vec<KeyRef> {
    let mut keys: Vec<KeyRef> = keys.collect();
    crate::sort::sort_unique(&mut keys);
    keys
}

/// The longest prefix of `entries` whose JSON stays under `cap` bytes, never empty.
fn take_by_bytes<V: AppValue>(entries: Vec<OutboxEntry<V>>, cap: usize) -> Vec<OutboxEntry<V>> {
    let mut size = 0;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        size += envelope_len(&entry) + entry.value.json_len() + 1;
        if !out.is_empty() && size > cap {
            break;
        }
        out.push(entry);
    }
    out
}

/// The JSON length of an outbox entry's mutation without its value (`"value":` and
/// the value are counted by the value). Exact for the fields that vary; a few bytes of
/// slack for the rest keep the estimate at or above the real length.
fn envelope_len<V>(entry: &OutboxEntry<V>) -> usize {
    const FIXED: usize =
        r#"{"id":,"collection":"","key":"","op":"patch","value":,"baseVersion":,"hlc":"","space":"","schemaVersion":}"#
            .len();
    let digits = |n: u64| n.checked_ilog10().map_or(1, |d| d as usize + 1);
    FIXED
        + digits(entry.id)
        + json_string_len(&entry.collection)
        + json_string_len(&entry.key)
        + entry.base_version.map_or(4, digits)
        + json_string_len(&entry.hlc)
        + entry.space.as_deref().map_or(0, json_string_len)
        // "delete" is one longer than "patch"; a u32 schema version has up to 10 digits.
        + 11
}

/// The length of `s` inside a JSON string literal (escapes counted at their widest).
fn json_string_len(s: &str) -> usize {
    s.chars().map(|c| if c == '"' || c == '\\' || c.is_control() { 6 } else { c.len_utf8() }).sum()
}

/// An answer must speak only of mutations we sent, each once. Anything else means the
/// server (or something in between) is not speaking protocol v1 to us: apply nothing.
fn check_push_response<V>(
    config: &ClientConfig,
    sent: &[Mutation<V>],
    response: &PushResponse,
) -> Result<(), SyncError> {
    // A list: a batch is at most a few hundred, already searched once per result above.
    let mut seen: Vec<u64> = Vec::with_capacity(response.results.len());
    for result in &response.results {
        let id = result.id();
        let Some(mutation) = sent.iter().find(|m| m.id == id) else {
            return Err(SyncError::protocol(format!("the server answered for mutation {id}, which was not sent")));
        };
        if seen.contains(&id) {
            return Err(SyncError::protocol(format!("the server answered twice for mutation {id}")));
        }
        seen.push(id);
        if let MutationResult::Conflict { server, .. } = result {
            check_record(config, &mutation.collection, &mutation.key, server.value.as_ref())?;
        }
    }
    if response.results.is_empty() {
        return Err(SyncError::protocol("the server answered a push with no results"));
    }
    check_server_time(response.server_time)
}

/// A server value for `collection`/`key` must be a record of that key (or `None`, a
/// tombstone): a JSON object whose key field is `key`, as every client writes them.
/// Changes of collections we do not have are ignored, so they are not checked.
fn check_record<V: AppValue>(
    config: &ClientConfig,
    collection: &str,
    key: &str,
    value: Option<&V>,
) -> Result<(), SyncError> {
    let Ok(spec) = config.collection(collection) else { return Ok(()) };
    match value {
        None => Ok(()),
        // `field` answers only for an object: this is the whole shape check.
        Some(value) if value.field(&spec.key).as_ref().and_then(Value::as_str) == Some(key) => Ok(()),
        Some(other) => {
            let mut shown = crate::json::text(&other.to_json());
            if shown.len() > 80 {
                shown = format!("{}…", crate::text::head(&shown, 80));
            }
            Err(SyncError::protocol(format!(
                "the server's value for {collection}/{key} is not a record with {} \"{key}\": {shown}",
                spec.key
            )))
        }
    }
}

/// The largest wall time an HLC stamp can carry (15 digits of ms).
const MAX_SERVER_TIME_MS: u64 = 999_999_999_999_999;

/// A `serverTime` past what a stamp can carry is not a clock reading: taking it would
/// drag the HLC out of its format (and overflowed the offset arithmetic).
fn check_server_time(server_time: Option<u64>) -> Result<(), SyncError> {
    match server_time {
        Some(time) if time > MAX_SERVER_TIME_MS => {
            Err(SyncError::protocol(format!("the server's time {time} is not a time in ms since 1970")))
        }
        _ => Ok(()),
    }
}

/// A page must move forward and stay inside the range it claims.
fn check_pull_page<V: AppValue>(
    config: &ClientConfig,
    checkpoint: u64,
    page: &PullResponse<V>,
) -> Result<(), SyncError> {
    if page.checkpoint < checkpoint {
        return Err(SyncError::protocol(format!(
            "the server's checkpoint went back from {checkpoint} to {}",
            page.checkpoint
        )));
    }
    let mut last = checkpoint;
    for change in &page.changes {
        // A server with spaces also sends the documents of a space granted since the
        // checkpoint (a backfill): at their own, older versions, at the grant's place in
        // the order. Those only need to lie at or below the new checkpoint.
        if change.space.is_some() && change.version <= page.checkpoint {
            check_record(config, &change.collection, &change.key, change.value.as_ref())?;
            continue;
        }
        if change.version <= checkpoint || change.version > page.checkpoint || change.version < last {
            return Err(SyncError::protocol(format!(
                "change {}/{} has version {}, outside ({checkpoint}, {}] or out of order",
                change.collection, change.key, change.version, page.checkpoint
            )));
        }
        last = change.version;
        check_record(config, &change.collection, &change.key, change.value.as_ref())?;
    }
    if let Some(bad) = page.revoked.iter().find(|s| !crate::protocol::is_valid_space_id(s)) {
        return Err(SyncError::protocol(format!(
            "revoked names {}, which is not a space id",
            crate::json::quoted(bad)
        )));
    }
    if page.has_more && page.checkpoint == checkpoint {
        return Err(SyncError::protocol("the server says it has more but did not move its checkpoint"));
    }
    check_server_time(page.server_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeServer, Fault, Recorder};
    use crate::mutation::{LocalOp, LocalWrite};
    use crate::protocol::{Change, Op};
    use crate::store::memory::MemoryStore;
    use pollster::block_on;
    use serde_json::{json, Value};

    struct Client {
        config: ClientConfig,
        store: MemoryStore,
        observer: Recorder,
    }

    impl Client {
        fn new(id: &str, strategy: &str, batch_size: usize) -> Client {
            let config = ClientConfig::from_json(json!({"name": "e", "batchSize": batch_size, "collections": {
                "trips": {"key": "id", "conflict": strategy, "omit": ["secret"]}, "notes": {"key": "id"}}}))
            .unwrap();
            let store = MemoryStore::new(&config);
            block_on(store.open_meta(id)).unwrap();
            block_on(ensure_checkpoint_scope(&store, &config)).unwrap();
            let observer = Recorder::default();
            observer.now.set(1_700_000_000_000);
            Client { config, store, observer }
        }

        fn write(&self, collection: &str, key: &str, op: LocalOp) {
            self.observer.now.set(self.observer.now.get() + 1);
            let w = LocalWrite::new(collection.into(), key.into(), op, self.observer.now.get());
            block_on(self.store.write_local(&w)).unwrap();
        }

        fn put(&self, key: &str, value: Value) {
            self.write("trips", key, LocalOp::Put(value));
        }

        // The engine's own answer, as big as it is there (returned once per sync).
        #[allow(clippy::result_large_err)]
        fn sync(&self, server: &FakeServer) -> Result<SyncReport, SyncFailure> {
            block_on(sync(&self.config, &self.store, server, &self.observer))
        }

        fn pending(&self) -> usize {
            block_on(self.store.pending_count()).unwrap()
        }

        fn live(&self) -> std::collections::BTreeMap<KeyRef, Value> {
            let mut out = std::collections::BTreeMap::new();
            for c in ["trips", "notes"] {
                for r in block_on(self.store.list(c, &ListQuery::default())).unwrap() {
                    out.insert((c.to_owned(), r.key.clone()), r.value.unwrap());
                }
            }
            out
        }

        fn checkpoint(&self) -> u64 {
            block_on(self.store.meta()).unwrap().unwrap().checkpoint
        }

        fn outbox_base_versions(&self) -> Vec<Option<u64>> {
            block_on(self.store.outbox(100)).unwrap().into_iter().map(|e| e.base_version).collect()
        }
    }

    fn server_error(status: u16) -> Fault {
        Fault::Fail(TransportError {
            status: Some(status),
            ..TransportError::new(ErrorClass::from_status(status), format!("HTTP {status}"))
        })
    }

    /// `take_by_bytes` sizes a push without serialising it: its estimate of each
    /// mutation must never be below the real JSON, or a batch could pass the cap.
    #[test]
    fn push_size_estimate_is_at_least_the_real_json() {
        let entry = |op: Op, value: Value, key: &str, space: Option<&str>, base_version: Option<u64>| OutboxEntry {
            id: u64::MAX,
            collection: "notes\u{1}".into(),
            key: key.into(),
            op,
            value,
            base_version,
            hlc: "000001700000000-0001-c-\"x\"".into(),
            sent: false,
            created_at: 0.0,
            space: space.map(str::to_owned),
            attempts: 0,
        };
        let entries = [
            entry(Op::Put, json!({"id": "k", "t": "é\"\n"}), "k", None, None),
            entry(Op::Delete, Value::Null, "ключ\\\"", Some("group:a.b-c"), Some(u64::MAX)),
            entry(Op::Patch, json!({"n": [1, 2.5, null]}), "", Some("user:\u{7f}"), Some(0)),
        ];
        for e in &entries {
            let real = serde_json::to_vec(&Mutation { schema_version: Some(u32::MAX), ..e.to_mutation() }).unwrap();
            let estimate = envelope_len(e) + e.value.json_len();
            assert!(estimate >= real.len(), "estimate {estimate} < {} for {e:?}", real.len());
            assert!(estimate <= real.len() + 64, "estimate {estimate} far above {} for {e:?}", real.len());
        }
    }

    #[test]
    fn discard_pending_rolls_every_queued_write_back_to_the_server_value() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        a.put("t1", json!({"id": "t1", "n": 1}));
        a.sync(&server).unwrap();
        a.write("trips", "t1", LocalOp::Patch(json!({"n": 2})));
        a.put("t2", json!({"id": "t2"}));
        a.write("notes", "n1", LocalOp::Delete);
        a.observer.effects.borrow_mut().clear();
        assert_eq!(block_on(discard_pending(&a.store, &a.observer)).unwrap(), 2);
        assert_eq!(a.pending(), 0);
        assert_eq!(a.live(), [(("trips".to_owned(), "t1".to_owned()), json!({"id": "t1", "n": 1}))].into());
        let changed: Vec<(String, Option<Value>)> = a
            .observer
            .effects
            .borrow()
            .iter()
            .filter_map(|e| match e {
                Effect::Changed { key, value, .. } => Some((key.clone(), value.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(changed, [("t1".to_owned(), Some(json!({"id": "t1", "n": 1}))), ("t2".to_owned(), None)]);
        // Nothing is left to push.
        assert_eq!(a.sync(&server).unwrap().pushed, 0);
        assert_eq!(server.doc("trips", "t1").unwrap().value, Some(json!({"id": "t1", "n": 1})));
    }

    #[test]
    fn reset_checkpoint_pulls_everything_again_and_keeps_pending_writes() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        server.external_put("trips", "t1", json!({"id": "t1"}), "001700000000000-0000-c-x");
        server.external_put("trips", "t2", json!({"id": "t2"}), "001700000000000-0000-c-x");
        a.sync(&server).unwrap();
        // A record lost locally (e.g. wiped by hand) comes back; a pending write stays.
        let t2 = ("trips".to_owned(), "t2".to_owned());
        block_on(a.store.transact(std::slice::from_ref(&t2), Durability::Default, |_| {
            Ok((Writes { records: [(t2.clone(), None)].into_iter().collect(), ..Writes::default() }, ()))
        }))
        .unwrap();
        assert_eq!(a.live().len(), 1);
        a.put("t3", json!({"id": "t3"}));
        block_on(reset_checkpoint(&a.store)).unwrap();
        assert_eq!(a.checkpoint(), 0);
        let report = a.sync(&server).unwrap();
        assert_eq!(report.pushed, 1);
        assert_eq!(a.live().len(), 3);
        assert_eq!(a.pending(), 0);
    }

    #[test]
    fn offline_writes_reach_the_server_on_sync() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        a.put("t1", json!({"id": "t1", "n": 1}));
        a.write("trips", "t1", LocalOp::Patch(json!({"m": 2})));
        a.put("t2", json!({"id": "t2"}));
        a.write("notes", "n1", LocalOp::Put(json!({"id": "n1"})));
        let report = a.sync(&server).unwrap();
        assert_eq!((report.pushed, report.conflicts, report.rejected), (3, 0, 0));
        assert_eq!(a.pending(), 0);
        assert_eq!(server.doc("trips", "t1").unwrap().value, Some(json!({"id": "t1", "n": 1, "m": 2})));
        assert_eq!(server.live(), a.live());
        assert_eq!(a.checkpoint(), 3, "our own writes come back in the pull and move the checkpoint");
        let last_synced = block_on(a.store.meta()).unwrap().unwrap().last_synced_at;
        assert_eq!(last_synced, Some(a.observer.now.get() as f64));
    }

    #[test]
    fn two_clients_converge() {
        let server = FakeServer::new();
        let (a, b) = (Client::new("c-a", "serverWins", 100), Client::new("c-b", "serverWins", 100));
        a.put("t1", json!({"id": "t1", "by": "a"}));
        b.put("t2", json!({"id": "t2", "by": "b"}));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        a.sync(&server).unwrap();
        assert_eq!(a.live(), b.live());
        assert_eq!(a.live().len(), 2);
        b.write("trips", "t1", LocalOp::Patch(json!({"seen": true})));
        b.write("trips", "t2", LocalOp::Delete);
        b.sync(&server).unwrap();
        a.sync(&server).unwrap();
        assert_eq!(a.live(), b.live());
        assert_eq!(a.live(), server.live());
        assert!(a
            .observer
            .effects
            .borrow()
            .iter()
            .any(|e| matches!(e, Effect::Changed { key, value: None, .. } if key == "t2")));
    }

    #[test]
    fn a_lost_response_is_resent_and_applied_once() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        a.put("t1", json!({"id": "t1"}));
        a.put("t2", json!({"id": "t2"}));
        server.fault(Fault::DropResponse);
        let failure = a.sync(&server).unwrap_err();
        assert_eq!(failure.error.class(), Some(ErrorClass::Network));
        assert_eq!(a.pending(), 2, "nothing is taken out before the server's answer arrives");
        assert!(block_on(a.store.outbox(10)).unwrap().iter().all(|e| e.sent));
        a.sync(&server).unwrap();
        assert_eq!(a.pending(), 0);
        assert!(server.applied.borrow().values().all(|&n| n == 1), "{:?}", server.applied.borrow());
        assert_eq!(server.applied.borrow().len(), 2);
        assert_eq!(server.live(), a.live());
    }

    #[test]
    fn a_server_error_keeps_the_outbox_and_the_next_sync_succeeds() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        a.put("t1", json!({"id": "t1"}));
        server.fault(server_error(500));
        let failure = a.sync(&server).unwrap_err();
        assert_eq!(failure.error.class(), Some(ErrorClass::Server));
        assert_eq!(a.pending(), 1);
        a.sync(&server).unwrap();
        assert_eq!(a.pending(), 0);
    }

    #[test]
    fn the_outbox_goes_out_in_batches() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        for i in 0..250 {
            a.put(&format!("t{i:03}"), json!({"id": format!("t{i:03}")}));
        }
        let report = a.sync(&server).unwrap();
        assert_eq!((report.pushed, report.batches, server.pushes.get()), (250, 3, 3));
        assert_eq!(report.pulled, 250);
        let progress = a.observer.progress.borrow().clone();
        assert!(progress.contains(&(Phase::Push, 100)) && progress.contains(&(Phase::Push, 250)));
    }

    /// Client "c-a" (batches of 100) with `n` records t000… queued.
    fn with_queued(n: usize) -> Client {
        let a = Client::new("c-a", "serverWins", 100);
        for i in 0..n {
            a.put(&format!("t{i:03}"), json!({"id": format!("t{i:03}")}));
        }
        a
    }

    #[test]
    fn too_large_batches_are_split() {
        let server = FakeServer::new();
        server.max_batch.set(Some(30));
        let a = with_queued(100);
        let report = a.sync(&server).unwrap();
        assert_eq!((report.pushed, a.pending()), (100, 0));
    }

    #[test]
    fn a_server_that_takes_only_small_batches_gets_every_write_in_one_sync() {
        // Fewer writes than a batch: the bound was 5 batches, all spent on refused ones
        // (60, 30, 15, 7, 3) before any answer was stored, and no sync ever got further.
        let server = FakeServer::new();
        server.max_batch.set(Some(2));
        let a = with_queued(60);
        let report = a.sync(&server).unwrap();
        assert_eq!((report.pushed, report.rejected, a.pending()), (60, 0, 0));
    }

    #[test]
    fn a_mutation_too_large_alone_is_rejected_not_stuck() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        a.put("big", json!({"id": "big"}));
        a.put("ok", json!({"id": "ok"}));
        server.fault(Fault::Fail(TransportError {
            status: Some(413),
            ..TransportError::new(ErrorClass::Validation, "413")
        }));
        server.fault(Fault::Fail(TransportError {
            status: Some(413),
            ..TransportError::new(ErrorClass::Validation, "413")
        }));
        let report = a.sync(&server).unwrap();
        assert_eq!((report.rejected, report.pushed, a.pending()), (1, 1, 0));
        assert!(a
            .observer
            .effects
            .borrow()
            .iter()
            .any(|e| matches!(e, Effect::Rejected { code, .. } if code == "too-large")));
    }

    #[test]
    fn answers_about_mutations_never_sent_change_nothing() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        a.put("t1", json!({"id": "t1"}));
        server.fault(Fault::Answer(PushResponse {
            results: vec![MutationResult::Applied { id: 99, version: 1 }],
            last_mutation_id: 99,
            server_time: None,
        }));
        let failure = a.sync(&server).unwrap_err();
        assert_eq!(failure.error.class(), Some(ErrorClass::Protocol));
        assert_eq!(a.pending(), 1);
        assert_eq!(block_on(a.store.get("trips", "t1")).unwrap().unwrap().version, None);
        a.sync(&server).unwrap();
        assert_eq!(a.pending(), 0);
    }

    #[test]
    fn a_checkpoint_going_back_changes_nothing() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        server.external_put("trips", "x", json!({"id": "x"}), "001700000000000-0000-c-x");
        a.sync(&server).unwrap();
        assert_eq!(a.checkpoint(), 1);
        let bad = PullResponse {
            changes: vec![Change {
                collection: "trips".into(),
                key: "x".into(),
                version: 1,
                value: Some(json!({"id": "x", "evil": 1})),
                hlc: "h".into(),
                space: None,
                schema_version: None,
            }],
            checkpoint: 0,
            has_more: false,
            server_time: None,
            revoked: vec![],
        };
        server.fault(Fault::AnswerPull(bad));
        assert_eq!(a.sync(&server).unwrap_err().error.class(), Some(ErrorClass::Protocol));
        assert_eq!(a.checkpoint(), 1);
        assert_eq!(a.live().values().next(), Some(&json!({"id": "x"})));
        let stuck = PullResponse { changes: vec![], checkpoint: 1, has_more: true, server_time: None, revoked: vec![] };
        server.fault(Fault::AnswerPull(stuck));
        assert_eq!(a.sync(&server).unwrap_err().error.class(), Some(ErrorClass::Protocol));
    }

    #[test]
    fn pulls_page_until_caught_up() {
        let server = FakeServer::new();
        // Two full pages and part of a third.
        let total = 2 * PULL_LIMIT + 200;
        for i in 0..total {
            server.external_put(
                "notes",
                &format!("n{i:04}"),
                json!({"id": format!("n{i:04}")}),
                "001700000000000-0000-c-x",
            );
        }
        let a = Client::new("c-a", "serverWins", 100);
        let report = a.sync(&server).unwrap();
        assert_eq!(report.pulled, total);
        assert_eq!(a.checkpoint(), total as u64);
        assert_eq!(a.live().len(), total);
        assert_eq!(a.observer.progress.borrow().iter().filter(|(p, _)| *p == Phase::Pull).count(), 3);
    }

    #[test]
    fn pages_over_the_size_limit_are_asked_again_smaller() {
        let server = FakeServer::new();
        for i in 0..300 {
            server.external_put("notes", &format!("n{i:03}"), json!({"id": format!("n{i:03}")}), "h");
        }
        server.max_page.set(Some(100));
        let a = Client::new("c-a", "serverWins", 100);
        let report = a.sync(&server).unwrap();
        assert_eq!((report.pulled, a.live().len(), a.checkpoint()), (300, 300, 300));
        // Halved from PULL_LIMIT until under 100, then kept for the rest of the sync.
        let limits = server.pull_limits.borrow().clone();
        let small = limits.iter().position(|l| *l <= 100).unwrap();
        assert_eq!(small, (PULL_LIMIT / 100).ilog2() as usize + 1, "{limits:?}");
        assert!(limits[small..].iter().all(|l| *l == limits[small]), "{limits:?}");
        assert!(limits[..small].windows(2).all(|w| w[1] == w[0] / 2), "{limits:?}");

        // A single change over the limit: the error stands (after halving down to 1).
        server.max_page.set(Some(0));
        server.external_put("notes", "huge", json!({"id": "huge"}), "h");
        let err = a.sync(&server).unwrap_err();
        assert_eq!(err.error.class(), Some(ErrorClass::Protocol));
        assert_eq!(server.pull_limits.borrow().last(), Some(&1));
        assert_eq!(a.checkpoint(), 300);
    }

    #[test]
    fn a_conflict_is_resolved_and_recorded() {
        let server = FakeServer::new();
        let (a, b) = (Client::new("c-a", "serverWins", 100), Client::new("c-b", "serverWins", 100));
        a.put("t1", json!({"id": "t1", "v": 0}));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        a.write("trips", "t1", LocalOp::Patch(json!({"v": "a"})));
        b.write("trips", "t1", LocalOp::Patch(json!({"v": "b"})));
        a.sync(&server).unwrap();
        let report = b.sync(&server).unwrap();
        assert_eq!(report.conflicts, 1);
        assert_eq!(b.live(), a.live());
        let audit = block_on(b.store.audit(10)).unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].local, Some(json!({"id": "t1", "v": "b"})));
        assert_eq!(audit[0].server, Some(json!({"id": "t1", "v": "a"})));
    }

    #[test]
    fn client_wins_conflicts_are_sent_again_and_converge() {
        let server = FakeServer::new();
        let (a, b) = (Client::new("c-a", "clientWins", 100), Client::new("c-b", "clientWins", 100));
        a.put("t1", json!({"id": "t1", "v": 0}));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        a.write("trips", "t1", LocalOp::Patch(json!({"v": "a"})));
        b.write("trips", "t1", LocalOp::Patch(json!({"v": "b"})));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        a.sync(&server).unwrap();
        assert_eq!(server.doc("trips", "t1").unwrap().value, Some(json!({"id": "t1", "v": "b"})));
        assert_eq!(a.live(), b.live());
        assert_eq!((a.pending(), b.pending()), (0, 0));
    }

    #[test]
    fn own_mutations_in_one_batch_do_not_conflict_with_each_other() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        a.put("t1", json!({"id": "t1", "n": 1}));
        // Sent but unanswered: the next write cannot fold into it.
        block_on(a.store.mark_sent(&[1])).unwrap();
        a.write("trips", "t1", LocalOp::Patch(json!({"n": 2})));
        let entries = block_on(a.store.outbox(10)).unwrap();
        assert_eq!(entries.iter().map(|e| e.op).collect::<Vec<_>>(), [Op::Put, Op::Patch]);
        let report = a.sync(&server).unwrap();
        assert_eq!((report.pushed, report.conflicts), (2, 0));
        assert_eq!(server.doc("trips", "t1").unwrap().value, Some(json!({"id": "t1", "n": 2})));
    }

    #[test]
    fn a_new_collection_restarts_pulling_from_zero() {
        let server = FakeServer::new();
        server.external_put("notes", "n1", json!({"id": "n1"}), "h");
        let config = ClientConfig::from_json(json!({"name": "e", "collections": {"trips": {"key": "id"}}})).unwrap();
        let store = MemoryStore::new(&config);
        block_on(store.open_meta("c-a")).unwrap();
        block_on(ensure_checkpoint_scope(&store, &config)).unwrap();
        let observer = Recorder::default();
        block_on(sync(&config, &store, &server, &observer)).unwrap();
        assert_eq!(
            block_on(store.meta()).unwrap().unwrap().checkpoint,
            0,
            "a change of an unknown collection is not ours"
        );
        server.external_put("trips", "t1", json!({"id": "t1"}), "h");
        block_on(sync(&config, &store, &server, &observer)).unwrap();
        assert_eq!(block_on(store.meta()).unwrap().unwrap().checkpoint, 2);
        let wider = ClientConfig::from_json(
            json!({"name": "e", "collections": {"trips": {"key": "id"}, "notes": {"key": "id"}}}),
        )
        .unwrap();
        block_on(ensure_checkpoint_scope(&store, &wider)).unwrap();
        assert_eq!(block_on(store.meta()).unwrap().unwrap().checkpoint, 0);
    }

    #[test]
    fn an_older_app_version_sharing_the_database_does_not_move_the_checkpoint_of_the_newer() {
        // Two versions of the app open on one database (tabs during an upgrade): the
        // newer one added `packing`. The store and its meta are shared.
        let server = FakeServer::new();
        let older = ClientConfig::from_json(json!({"name": "e", "collections": {"trips": {"key": "id"}}})).unwrap();
        let newer = ClientConfig::from_json(
            json!({"name": "e", "collections": {"trips": {"key": "id"}, "packing": {"key": "id"}}}),
        )
        .unwrap();
        let store = MemoryStore::new(&newer);
        let observer = Recorder::default();
        block_on(store.open_meta("c-a")).unwrap();
        block_on(ensure_checkpoint_scope(&store, &older)).unwrap();
        block_on(sync(&older, &store, &server, &observer)).unwrap();
        // The newer version opens: its scope takes over the checkpoint.
        block_on(ensure_checkpoint_scope(&store, &newer)).unwrap();
        server.external_put("packing", "p1", json!({"id": "p1"}), "h");
        server.external_put("trips", "t1", json!({"id": "t1"}), "h");
        // The older version syncs first: it does not pull on a checkpoint that is not of
        // its collections (it would move it past p1, which it does not store).
        let report = block_on(sync(&older, &store, &server, &observer)).unwrap();
        assert_eq!(report.pulled, 0);
        // The newer one then misses nothing.
        let report = block_on(sync(&newer, &store, &server, &observer)).unwrap();
        assert_eq!(report.pulled, 2);
        for (c, k) in [("packing", "p1"), ("trips", "t1")] {
            assert!(block_on(store.get(c, k)).unwrap().and_then(|r| r.value).is_some(), "{c}/{k}");
        }
    }

    fn resolve(c: &Client, id: u64, choice: crate::sync::Choice) -> Result<(), Error> {
        block_on(resolve_conflict(&c.store, id, c.observer.now.get(), |_| Ok(choice))).map(drop)
    }

    fn edit_both(server: &FakeServer, a: &Client, b: &Client, key: &str) {
        a.put(key, json!({"id": key, "v": 0}));
        a.sync(server).unwrap();
        b.sync(server).unwrap();
        a.write("trips", key, LocalOp::Patch(json!({"v": "a"})));
        b.write("trips", key, LocalOp::Patch(json!({"v": "b"})));
        a.sync(server).unwrap();
    }

    #[test]
    fn manual_conflicts_wait_for_the_app_and_its_choice_sticks() {
        use crate::sync::Choice;
        let server = FakeServer::new();
        let (a, b) = (Client::new("c-a", "manual", 100), Client::new("c-b", "manual", 100));
        edit_both(&server, &a, &b, "t1");
        let report = b.sync(&server).unwrap();
        assert_eq!(report.conflicts, 1);
        let open = block_on(b.store.conflicts()).unwrap();
        assert_eq!(open.len(), 1);
        let c = &open[0];
        assert_eq!(
            (c.local.clone(), c.server.clone(), c.base.clone()),
            (
                Some(json!({"id": "t1", "v": "b"})),
                Some(json!({"id": "t1", "v": "a"})),
                Some(json!({"id": "t1", "v": 0}))
            )
        );
        // Meanwhile the server's value shows and nothing is sent.
        assert_eq!(b.live()[&("trips".to_owned(), "t1".to_owned())], json!({"id": "t1", "v": "a"}));
        assert_eq!(b.pending(), 0);
        assert!(b.observer.effects.borrow().iter().any(|e| matches!(e, Effect::ManualConflict(_))));
        assert_eq!(resolve(&b, 999, Choice::Local), Err(Error::UnknownConflict(999)));
        resolve(&b, c.id, Choice::Local).unwrap();
        assert!(block_on(b.store.conflicts()).unwrap().is_empty());
        assert_eq!(b.outbox_base_versions(), vec![Some(c.server_version)]);
        b.sync(&server).unwrap();
        a.sync(&server).unwrap();
        assert_eq!(server.doc("trips", "t1").unwrap().value, Some(json!({"id": "t1", "v": "b"})));
        assert_eq!(a.live(), b.live());
        let audit = block_on(b.store.audit(10)).unwrap();
        assert_eq!((audit[0].decided_by.as_str(), audit[1].decided_by.as_str()), ("app", "pending"));
        assert_eq!(resolve(&b, c.id, Choice::Server), Err(Error::UnknownConflict(c.id)), "a settled conflict is gone");
    }

    #[test]
    fn choosing_the_server_sends_nothing_and_a_stale_choice_conflicts_again() {
        use crate::sync::Choice;
        let server = FakeServer::new();
        let (a, b) = (Client::new("c-a", "manual", 100), Client::new("c-b", "manual", 100));
        edit_both(&server, &a, &b, "t1");
        edit_both(&server, &a, &b, "t2");
        b.sync(&server).unwrap();
        let open = block_on(b.store.conflicts()).unwrap();
        assert_eq!(open.len(), 2);
        resolve(&b, open[0].id, Choice::Server).unwrap();
        assert_eq!(b.pending(), 0);
        // The server moves on before the second choice is sent: asked again, nothing lost.
        a.write("trips", "t2", LocalOp::Patch(json!({"v": "a2"})));
        a.sync(&server).unwrap();
        resolve(&b, open[1].id, Choice::Local).unwrap();
        b.sync(&server).unwrap();
        let again = block_on(b.store.conflicts()).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].local.clone(), again[0].server.clone()),
            (Some(json!({"id": "t2", "v": "b"})), Some(json!({"id": "t2", "v": "a2"})))
        );
    }

    #[test]
    fn tombstones_do_not_come_back() {
        let server = FakeServer::new();
        let (a, b) = (Client::new("c-a", "serverWins", 100), Client::new("c-b", "serverWins", 100));
        a.put("t1", json!({"id": "t1"}));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        a.write("trips", "t1", LocalOp::Delete);
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        b.sync(&server).unwrap();
        assert!(b.live().is_empty() && a.live().is_empty());
        // A new device pulling from the start sees the delete, not the old value.
        let c = Client::new("c-c", "serverWins", 100);
        c.sync(&server).unwrap();
        assert!(c.live().is_empty());
        assert_eq!(block_on(c.store.get("trips", "t1")).unwrap().map(|r| r.value), Some(None));
        // serverWins: a stale offline edit loses to the delete.
        let d = Client::new("c-d", "serverWins", 100);
        d.put("t2", json!({"id": "t2", "n": 1}));
        d.sync(&server).unwrap();
        a.sync(&server).unwrap();
        d.write("trips", "t2", LocalOp::Patch(json!({"n": 2})));
        a.write("trips", "t2", LocalOp::Delete);
        a.sync(&server).unwrap();
        d.sync(&server).unwrap();
        assert!(!d.live().contains_key(&("trips".to_owned(), "t2".to_owned())));
    }

    #[test]
    fn under_merge_an_edit_beats_a_concurrent_delete() {
        let server = FakeServer::new();
        let (a, b) = (Client::new("c-a", "merge", 100), Client::new("c-b", "merge", 100));
        a.put("t1", json!({"id": "t1", "n": 1}));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        a.write("trips", "t1", LocalOp::Delete);
        b.write("trips", "t1", LocalOp::Patch(json!({"n": 2})));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        a.sync(&server).unwrap();
        assert_eq!(server.doc("trips", "t1").unwrap().value, Some(json!({"id": "t1", "n": 2})));
        assert_eq!(a.live(), b.live());
    }

    #[test]
    fn the_audit_log_keeps_the_newest_entries_up_to_its_limit() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        let config = ClientConfig::from_json(json!({"name": "e", "auditLimit": 3, "collections": {
            "trips": {"key": "id", "conflict": "serverWins"}, "notes": {"key": "id"}}}))
        .unwrap();
        let b = Client { store: MemoryStore::new(&config), config, observer: Recorder::default() };
        block_on(b.store.open_meta("c-b")).unwrap();
        for i in 0..5 {
            let key = format!("t{i}");
            a.put(&key, json!({"id": key, "v": 0}));
            a.sync(&server).unwrap();
            b.sync(&server).unwrap();
            a.write("trips", &key, LocalOp::Patch(json!({"v": "a"})));
            b.write("trips", &key, LocalOp::Patch(json!({"v": "b"})));
            a.sync(&server).unwrap();
            b.sync(&server).unwrap();
        }
        let audit = block_on(b.store.audit(10)).unwrap();
        assert_eq!(audit.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["t4", "t3", "t2"]);
    }

    #[test]
    fn a_clock_hours_ahead_does_not_win_last_write_wins() {
        let server = FakeServer::new();
        let t0 = 1_700_000_000_000;
        server.now.set(t0);
        let (fast, ok) = (Client::new("c-fast", "lastWriteWins", 100), Client::new("c-ok", "lastWriteWins", 100));
        fast.observer.now.set(t0 + 5 * 3_600_000);
        ok.observer.now.set(t0);
        fast.put("p", json!({"id": "p", "city": "Oslo"}));
        fast.sync(&server).unwrap();
        // The server keeps the stamp within a minute of its own clock...
        let stored: crate::clock::HlcStamp = server.doc("trips", "p").unwrap().hlc.parse().unwrap();
        assert!(stored.wall_ms <= t0 + crate::clock::MAX_FORWARD_DRIFT_MS);
        // ...and the fast device learned how far off it is.
        let offset = block_on(fast.store.meta()).unwrap().unwrap().clock_offset_ms;
        assert!((offset + 5 * 3_600_000).abs() < 10, "{offset}");
        ok.sync(&server).unwrap();

        // One minute later (real time) the fast device edits; a minute after that, the other.
        let tick = |c: &Client, ms: u64| c.observer.now.set(c.observer.now.get() + ms);
        tick(&fast, 60_000);
        tick(&ok, 60_000);
        server.now.set(t0 + 60_000);
        fast.write("trips", "p", LocalOp::Patch(json!({"city": "Bergen"})));
        tick(&fast, 60_000);
        tick(&ok, 60_000);
        server.now.set(t0 + 120_000);
        ok.write("trips", "p", LocalOp::Patch(json!({"city": "Tromsø"})));
        ok.sync(&server).unwrap();
        fast.sync(&server).unwrap();
        ok.sync(&server).unwrap();
        // The later edit in real time wins, on every replica.
        assert_eq!(server.doc("trips", "p").unwrap().value, Some(json!({"id": "p", "city": "Tromsø"})));
        assert_eq!(fast.live(), ok.live());
    }

    /// A store whose first `take_batch` is followed at once by a write of the app to the
    /// same key: the moment a sync has built its push but not sent it.
    struct WriteDuringPush {
        inner: MemoryStore,
        write: std::cell::RefCell<Option<LocalWrite>>,
        /// `(after, entries queued)` as each batch is taken.
        takes: std::cell::RefCell<Vec<(u64, usize)>>,
    }

    impl Store for WriteDuringPush {
        type Value = Value;
        async fn open_meta(&self, id: &str) -> Result<crate::record::Meta, Error> {
            self.inner.open_meta(id).await
        }
        async fn get(&self, c: &str, k: &str) -> Result<Option<crate::record::EntityRecord>, Error> {
            self.inner.get(c, k).await
        }
        async fn list(&self, c: &str, q: &ListQuery) -> Result<Vec<crate::record::EntityRecord>, Error> {
            self.inner.list(c, q).await
        }
        async fn query(
            &self,
            q: &crate::query::Query,
            p: &crate::query::plan::Plan,
        ) -> Result<crate::query::exec::Answer, Error> {
            self.inner.query(q, p).await
        }
        async fn run_transaction(
            &self,
            keys: &[KeyRef],
            scope: crate::store::Scope,
            plan: &mut dyn FnMut(crate::model::Snapshot) -> Result<Writes, Error>,
        ) -> Result<(), Error> {
            self.inner.run_transaction(keys, scope, plan).await
        }
        async fn meta(&self) -> Result<Option<crate::record::Meta>, Error> {
            self.inner.meta().await
        }
        async fn audit(&self, limit: usize) -> Result<Vec<crate::model::AuditEntry>, Error> {
            self.inner.audit(limit).await
        }
        async fn conflicts(&self) -> Result<Vec<ConflictRecord>, Error> {
            self.inner.conflicts().await
        }
        async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
            self.inner.outbox(limit).await
        }
        async fn pending_count(&self) -> Result<usize, Error> {
            self.inner.pending_count().await
        }
        async fn mark_sent(&self, ids: &[u64]) -> Result<(), Error> {
            self.inner.mark_sent(ids).await
        }
        async fn take_batch(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
            let queued = self.inner.pending_count().await?;
            self.takes.borrow_mut().push((after, queued));
            let batch = self.inner.take_batch(after, limit).await?;
            let write = self.write.borrow_mut().take();
            if let Some(write) = write {
                self.inner.write_local(&write).await?;
            }
            Ok(batch)
        }
        async fn clear(&self, fresh_client_id: &str) -> Result<crate::record::Meta, Error> {
            self.inner.clear(fresh_client_id).await
        }
    }

    impl WriteDuringPush {
        /// A memory store of `c`'s config, opened as client "c-a".
        fn opened(c: &Client) -> WriteDuringPush {
            let store = WriteDuringPush {
                inner: MemoryStore::new(&c.config),
                write: Default::default(),
                takes: Default::default(),
            };
            block_on(store.open_meta("c-a")).unwrap();
            block_on(ensure_checkpoint_scope(&store, &c.config)).unwrap();
            store
        }
    }

    #[test]
    fn a_write_made_while_a_push_is_built_is_not_lost() {
        let server = FakeServer::new();
        let c = Client::new("c-a", "merge", 100);
        let store = WriteDuringPush::opened(&c);
        let put = |v: &str| LocalWrite::new("trips".into(), "t".into(), LocalOp::Put(json!({"id": "t", "v": v})), 1);
        block_on(store.write_local(&put("first"))).unwrap();
        *store.write.borrow_mut() = Some(put("second"));
        let report = block_on(sync(&c.config, &store, &server, &c.observer)).unwrap();
        // The second write went out after the first (the engine loops while entries remain),
        // before the first's answer was stored, with the base it was queued with: the server
        // takes it, since this client wrote the key last.
        assert_eq!((report.pushed, report.batches, report.conflicts), (2, 2, 0));
        assert_eq!(server.doc("trips", "t").unwrap().value, Some(json!({"id": "t", "v": "second"})));
        assert_eq!(block_on(store.pending_count()).unwrap(), 0);
        assert_eq!(block_on(store.get("trips", "t")).unwrap().unwrap().value, Some(json!({"id": "t", "v": "second"})));
    }

    #[test]
    fn the_next_batch_is_taken_and_sent_before_the_answer_before_it_is_stored() {
        let server = FakeServer::new();
        let c = Client::new("c-a", "merge", 2);
        let store = WriteDuringPush::opened(&c);
        for key in ["a", "b", "c", "d", "e"] {
            let put = LocalWrite::new("trips".into(), key.into(), LocalOp::Put(json!({"id": key})), 1);
            block_on(store.write_local(&put)).unwrap();
        }
        let report = block_on(sync(&c.config, &store, &server, &c.observer)).unwrap();
        assert_eq!((report.pushed, report.batches), (5, 3));
        // Batch 2 is taken after batch 1's ids while all five are still queued (batch 1's
        // answer not stored yet); batch 3 once batch 1's is; then a last look after
        // batch 3's answer is stored, in case it queued a resolved value.
        assert_eq!(*store.takes.borrow(), [(0, 5), (2, 5), (4, 3), (5, 1), (5, 0)]);
        assert_eq!(server.live().len(), 5);
    }

    /// The server, where another client rewrites key "k" before every push lands.
    struct Contested<'a>(&'a FakeServer);

    impl Transport for Contested<'_> {
        type Sending = Result<PushResponse, TransportError>;

        fn send(&self, request: &PushRequest) -> Self::Sending {
            self.0.external_put("trips", "k", json!({"id": "k", "by": "other"}), "001700000000000-0000-c-x");
            self.0.push(request)
        }

        async fn answer(&self, sending: Self::Sending) -> Result<PushResponse, TransportError> {
            sending
        }

        async fn pull(&self, checkpoint: u64, limit: usize, names: &[String]) -> Result<PullResponse, TransportError> {
            self.0.pull(checkpoint, limit, names).await
        }
    }

    #[test]
    fn a_key_the_server_conflicts_on_every_time_does_not_hold_the_sync() {
        let server = FakeServer::new();
        let c = Client::new("c-a", "clientWins", 100);
        c.put("k", json!({"id": "k", "by": "me"}));
        let report = block_on(sync(&c.config, &c.store, &Contested(&server), &c.observer)).unwrap();
        // Each answer a conflict whose resolved value goes again, until the bound: one
        // entry queued, so at most 1 / batchSize + 5 batches.
        assert_eq!((report.batches, report.conflicts), (5, 5));
        assert_eq!(c.pending(), 1, "the resolved value waits for the next sync");
    }

    #[test]
    fn entries_an_answer_left_out_go_again_in_the_same_sync() {
        let server = FakeServer::new();
        let c = Client::new("c-a", "merge", 100);
        for key in ["a", "b", "c"] {
            c.put(key, json!({"id": key}));
        }
        // The first answer covers mutation 1 only; 2 and 3 are taken again at once.
        let partial = PushResponse {
            results: vec![MutationResult::Applied { id: 1, version: 1 }],
            last_mutation_id: 1,
            server_time: None,
        };
        server.fault(Fault::Answer(partial));
        let report = c.sync(&server).unwrap();
        assert_eq!((report.pushed, report.batches), (3, 2));
        assert_eq!(c.pending(), 0);
        assert!(server.doc("trips", "b").is_some() && server.doc("trips", "c").is_some());
    }

    #[test]
    fn a_record_revived_over_a_delete_does_not_beat_a_newer_re_creation() {
        // The chaos harness's finding: A deletes, B edits (edit beats delete under merge),
        // C re-creates after both; B's revival must not bring back A's old fields.
        let server = FakeServer::new();
        let (a, b, c) =
            (Client::new("c-a", "merge", 100), Client::new("c-b", "merge", 100), Client::new("c-c", "merge", 100));
        let at = |client: &Client, ms: u64| client.observer.now.set(1_700_000_000_000 + ms);
        at(&a, 0);
        a.put("k", json!({"id": "k", "a": "A1", "b": "A1", "c": "A1"}));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        c.sync(&server).unwrap();
        at(&a, 1_000);
        a.write("trips", "k", LocalOp::Delete);
        a.sync(&server).unwrap();
        at(&b, 2_000);
        b.write("trips", "k", LocalOp::Patch(json!({"a": "B2"})));
        at(&c, 3_000);
        c.sync(&server).unwrap();
        c.put("k", json!({"id": "k", "a": "C3", "b": "C3", "c": "C3"}));
        // B's patch meets the tombstone; the revived record's push is lost on the way.
        at(&b, 4_000);
        server.fault(Fault::Pass);
        server.fault(Fault::Fail(TransportError::new(ErrorClass::Network, "lost")));
        assert!(b.sync(&server).is_err());
        assert_eq!(b.pending(), 1, "the revived record waits to be sent");
        at(&c, 5_000);
        c.sync(&server).unwrap();
        at(&b, 6_000);
        b.sync(&server).unwrap();
        for client in [&a, &b, &c] {
            client.sync(&server).unwrap();
        }
        // C wrote every field after B's edit: its values stand, nothing of A's comes back.
        assert_eq!(server.doc("trips", "k").unwrap().value, Some(json!({"id": "k", "a": "C3", "b": "C3", "c": "C3"})));
        assert_eq!(a.live(), b.live());
        assert_eq!(b.live(), c.live());
    }

    #[test]
    fn a_push_answer_about_a_mutation_not_sent_or_twice_about_one_is_a_protocol_error() {
        let client = Client::new("c", "merge", 100);
        let sent: Vec<Mutation> = ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, key)| Mutation {
                id: i as u64 + 1,
                collection: "trips".into(),
                key: (*key).into(),
                op: Op::Put,
                value: json!({"id": key}),
                base_version: None,
                hlc: "h".into(),
                space: None,
                schema_version: None,
            })
            .collect();
        let answer = |ids: &[u64]| PushResponse {
            results: ids.iter().map(|&id| MutationResult::Applied { id, version: id }).collect(),
            last_mutation_id: 2,
            server_time: None,
        };
        let message = |ids: &[u64]| match check_push_response(&client.config, &sent, &answer(ids)) {
            Err(e) => (e.class(), e.message()),
            Ok(()) => (None, String::new()),
        };
        assert_eq!(message(&[1, 2]), (None, String::new()));
        assert_eq!(message(&[2]), (None, String::new()), "a partial answer is for the rest of the batch to wait");
        let (class, text) = message(&[1, 2, 1]);
        assert_eq!(
            (class, text.contains("answered twice for mutation 1")),
            (Some(ErrorClass::Protocol), true),
            "{text}"
        );
        let (class, text) = message(&[1, 3]);
        assert_eq!(
            (class, text.contains("mutation 3, which was not sent")),
            (Some(ErrorClass::Protocol), true),
            "{text}"
        );
        assert_eq!(message(&[]).0, Some(ErrorClass::Protocol));
    }

    // Conflict paths found wanting in review (2026-12-05); each failed before its fix.

    /// A edits t1 offline while B deletes it; under `merge` A's edit revives the record. The
    /// revived record keeps the pre-delete value as `base` at the tombstone's version.
    fn revived(server: &FakeServer) -> Client {
        let (a, b) = (Client::new("c-a", "merge", 100), Client::new("c-b", "merge", 100));
        a.write("trips", "t1", LocalOp::Put(json!({"id": "t1", "n": 1})));
        assert!(a.sync(server).is_ok());
        assert!(b.sync(server).is_ok());
        b.write("trips", "t1", LocalOp::Delete);
        assert!(b.sync(server).is_ok()); // server: t1 is a tombstone at v2
        a.write("trips", "t1", LocalOp::Patch(json!({"n": 2})));
        server.fault(Fault::Pass); // the conflict answer arrives and is stored
        server.fault(Fault::Fail(TransportError::new(ErrorClass::Network, "lost"))); // the revived put is not
        assert!(a.sync(server).is_err());
        assert_eq!(a.pending(), 1);
        a
    }

    #[test]
    fn discarding_a_revived_record_shows_the_servers_delete() {
        let server = FakeServer::new();
        let a = revived(&server);
        block_on(discard_pending(&a.store, &a.observer)).unwrap();
        assert!(a.sync(&server).is_ok());
        block_on(reset_checkpoint(&a.store)).unwrap();
        assert!(a.sync(&server).is_ok());
        // Before: A showed {"id":"t1","n":1} for good; the server (and B) have deleted t1.
        assert_eq!(a.live(), server.live());
    }

    #[test]
    fn a_rejected_revival_rolls_back_to_the_servers_delete() {
        let server = FakeServer::new();
        let a = revived(&server);
        let id = block_on(a.store.outbox(1)).unwrap()[0].id;
        server.fault(Fault::Answer(PushResponse {
            results: vec![MutationResult::Rejected { id, code: "validation".into(), message: "no".into() }],
            last_mutation_id: id,
            server_time: None,
        }));
        assert!(a.sync(&server).is_ok());
        // Before: rolled back to the value before the delete, which the server no longer has.
        assert_eq!(a.live(), server.live());
    }

    /// Manual clients A and B; B holds conflict c1 on t1 (its local side `{"v": "b"}`).
    fn manual_conflict_of_b(server: &FakeServer) -> (Client, Client) {
        let (a, b) = (Client::new("c-a", "manual", 100), Client::new("c-b", "manual", 100));
        edit_both(server, &a, &b, "t1");
        b.sync(server).unwrap();
        (a, b)
    }

    #[test]
    fn a_second_manual_conflict_keeps_the_firsts_undecided_change() {
        let server = FakeServer::new();
        let (a, b) = manual_conflict_of_b(&server);
        b.write("trips", "t1", LocalOp::Patch(json!({"note": "x"})));
        a.write("trips", "t1", LocalOp::Patch(json!({"v": "a2"})));
        assert!(a.sync(&server).is_ok());
        assert!(b.sync(&server).is_ok()); // second conflict on t1
        let open = block_on(b.store.conflicts()).unwrap();
        // One open conflict, whose local side holds both B's undecided "b" (the first
        // conflict's) and B's later note (before, "b" was gone with the first conflict).
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0].local, Some(json!({"id": "t1", "v": "b", "note": "x"})), "{open:?}");
        assert_eq!(open[0].server, Some(json!({"id": "t1", "v": "a2"})));
    }

    #[test]
    fn resolving_local_after_own_later_edits_does_not_silently_drop_them() {
        let server = FakeServer::new();
        let (_a, b) = manual_conflict_of_b(&server);
        let c1 = block_on(b.store.conflicts()).unwrap().remove(0);
        b.write("trips", "t1", LocalOp::Patch(json!({"note": "x"})));
        assert!(b.sync(&server).is_ok()); // applied: the server moved on from c1.server_version
        resolve(&b, c1.id, Choice::Local).unwrap();
        assert!(b.sync(&server).is_ok());
        let doc = server.doc("trips", "t1").unwrap().value.unwrap();
        // The choice goes out as its change ("v": "b") over B's later note: before, the whole
        // chosen value was put over v3 (the server lets a client's write follow its own) and
        // the note was gone, here and on the server.
        assert_eq!(doc, json!({"id": "t1", "v": "b", "note": "x"}));
        assert_eq!(b.live()[&("trips".to_owned(), "t1".to_owned())], doc);
    }

    #[test]
    fn a_push_conflict_never_stores_omitted_fields() {
        let server = FakeServer::new();
        let a = Client::new("c-a", "serverWins", 100);
        a.write("trips", "t1", LocalOp::Put(json!({"id": "t1", "n": 1})));
        assert!(a.sync(&server).is_ok());
        a.write("trips", "t1", LocalOp::Patch(json!({"n": 2})));
        server.external_put("trips", "t1", json!({"id": "t1", "n": 3, "secret": "s"}), "001700000000000-0000-c-x");
        assert!(a.sync(&server).is_ok());
        // Before: the push-conflict path stored the server value without applying `omit`.
        assert!(a.live()[&("trips".to_owned(), "t1".to_owned())].get("secret").is_none(), "{:?}", a.live());
    }

    #[test]
    fn a_put_in_another_space_over_a_queued_delete_is_a_move_refused() {
        let config = ClientConfig::from_json(
            json!({"name": "s", "collections": {"lists": {"key": "id", "spaceField": "groupId"}}}),
        )
        .unwrap();
        let store: MemoryStore = MemoryStore::new(&config);
        block_on(store.open_meta("c-a")).unwrap();
        block_on(ensure_checkpoint_scope(&store, &config)).unwrap();
        let observer = Recorder::default();
        observer.now.set(1_700_000_000_000);
        let write = |op: LocalOp| {
            observer.now.set(observer.now.get() + 1);
            let mut w = LocalWrite::new("lists".into(), "l1".into(), op, observer.now.get());
            w.space = config.collection("lists").unwrap().space.clone();
            block_on(store.write_local(&w))
        };
        let server = FakeServer::new();
        write(LocalOp::Put(json!({"id": "l1", "groupId": "group:1"}))).unwrap();
        block_on(sync(&config, &store, &server, &observer)).unwrap();
        write(LocalOp::Delete).unwrap();
        // The server still has l1 in group:1 until the delete goes: a put there in group:2
        // is a move, refused as any move is (it folded into the delete's entry and went to
        // group:1, under group:2's field, before).
        let moved = write(LocalOp::Put(json!({"id": "l1", "groupId": "group:2"})));
        assert_eq!(moved.as_ref().map_err(|e| e.code()).err(), Some("invalid-value"), "{moved:?}");
        block_on(sync(&config, &store, &server, &observer)).unwrap();
        assert!(server.doc("lists", "l1").is_some_and(|d| d.value.is_none()), "the delete went through");
        // Once the server has the delete, the key is free to be created in group:2.
        write(LocalOp::Put(json!({"id": "l1", "groupId": "group:2"}))).unwrap();
        block_on(sync(&config, &store, &server, &observer)).unwrap();
        let doc = server.doc("lists", "l1").unwrap();
        assert_eq!(doc.space.as_deref(), Some("group:2"), "{doc:?}");
    }

    /// B chose with c1's sides before it: another client's later edit of the same field,
    /// which B pulled (nothing pending) but never saw in the conflict, must not be
    /// overwritten without a conflict (d9f26cb sent it against B's new version, and the server
    /// applied it).
    #[test]
    fn a_choice_never_silently_overwrites_another_clients_later_edit() {
        let server = FakeServer::new();
        let (a, b) = manual_conflict_of_b(&server);
        let c1 = block_on(b.store.conflicts()).unwrap().remove(0);
        a.write("trips", "t1", LocalOp::Patch(json!({"v": "a3"})));
        a.sync(&server).unwrap(); // v3, written by A
        b.sync(&server).unwrap(); // B takes v3 (nothing pending there): its version moved
        resolve(&b, c1.id, Choice::Local).unwrap();
        b.sync(&server).unwrap();
        let doc = server.doc("trips", "t1").unwrap().value.unwrap();
        assert_eq!(doc["v"], json!("a3"), "A's later edit was overwritten without a conflict: {doc}");
        assert_eq!(block_on(b.store.conflicts()).unwrap().len(), 1, "a new conflict against A's v3");
    }

    /// A second conflict's local side takes the first's undecided change *under* B's later
    /// edits, not over them: B's newer "b2" survives (d9f26cb put the older "b" over it).
    #[test]
    fn a_second_conflict_keeps_the_later_local_edit_over_the_older_undecided_one() {
        let server = FakeServer::new();
        let (a, b) = manual_conflict_of_b(&server); // c1: local v "b", server v "a"
        b.write("trips", "t1", LocalOp::Patch(json!({"v": "b2"}))); // B's newer edit of v
        a.write("trips", "t1", LocalOp::Patch(json!({"w": 1})));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap(); // second conflict on t1
        let open = block_on(b.store.conflicts()).unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0].local, Some(json!({"id": "t1", "v": "b2"})), "{open:?}");
    }

    /// The first conflict's undecided side clears a field (null), which no merge patch
    /// says: it is carried whole (d9f26cb dropped it, its "b" too).
    #[test]
    fn a_second_conflict_keeps_an_undecided_change_that_clears_a_field() {
        let server = FakeServer::new();
        let (a, b) = (Client::new("c-a", "manual", 100), Client::new("c-b", "manual", 100));
        a.put("t1", json!({"id": "t1", "v": 0, "due": "mon"}));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        a.write("trips", "t1", LocalOp::Patch(json!({"v": "a"})));
        b.put("t1", json!({"id": "t1", "v": "b", "due": null}));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap(); // c1: local {v: "b", due: null}
        b.write("trips", "t1", LocalOp::Patch(json!({"note": "x"})));
        a.write("trips", "t1", LocalOp::Patch(json!({"w": 1})));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap(); // second conflict
        let open = block_on(b.store.conflicts()).unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0].local.as_ref().unwrap()["v"], json!("b"), "{open:?}");
    }

    /// The same with a choice that is no merge patch (a field set to null): the whole value
    /// goes against c1's version, so A's later field is a new conflict, not wiped.
    #[test]
    fn a_whole_value_choice_never_silently_wipes_another_clients_later_edit() {
        let server = FakeServer::new();
        let (a, b) = manual_conflict_of_b(&server);
        let c1 = block_on(b.store.conflicts()).unwrap().remove(0);
        a.write("trips", "t1", LocalOp::Patch(json!({"w": 1})));
        a.sync(&server).unwrap();
        b.sync(&server).unwrap();
        resolve(&b, c1.id, Choice::Value(Some(json!({"id": "t1", "v": "b", "due": null})))).unwrap();
        b.sync(&server).unwrap();
        let doc = server.doc("trips", "t1").unwrap().value.unwrap();
        assert_eq!(doc.get("w"), Some(&json!(1)), "A's later field was wiped without a conflict: {doc}");
    }
}
