//! Storage: one [`Store`] trait, a SQLite and a PostgreSQL implementation, and what both
//! share: the push algorithm ([`push`]), the SQL text (`sql`), the code over it
//! (`backend`), and the schema with its migrations (`schema`).

pub mod access;
mod backend;
mod failure;
pub mod members;
mod postgres;
mod pull;
pub mod push;
mod schema;
pub mod server_write;
mod sql;
mod sqlite;
pub mod status;

use std::sync::Arc;

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use pwa_sync_core::protocol::{Change, PullResponse, PushRequest, PushResponse, Role};
use tokio::sync::watch;

use crate::config::Limits;
use crate::notify::{Notifier, Poke};

pub use access::Access;
pub use failure::StoreError;
pub(crate) use failure::{push_permits, store_error, with_retries, Failure};
pub use postgres::PgStore;
pub use pull::MAX_PULL_BYTES;
pub use server_write::ServerWrite;
pub use sqlite::SqliteStore;
pub use status::Status;

/// Pull page size when the request names none, and the most one page returns. The client
/// asks for the most (`pwa_sync_core::engine::PULL_LIMIT`): each page is a transaction on
/// the device, and fewer of them make a first sync quicker (bench/README "Pull pages of
/// 2,500").
pub const DEFAULT_PULL_LIMIT: u32 = 500;
pub const MAX_PULL_LIMIT: u32 = 2500;

/// What the HTTP layer needs from storage.
pub trait Store: Send + Sync + 'static {
    /// Apply one push batch in one transaction; see [`push::run`] for the rules. Every
    /// applied change also queues one webhook event per URL of `webhooks`, in that
    /// transaction.
    fn push<'a>(
        &'a self,
        user: &'a str,
        request: &'a PushRequest,
        limits: Limits,
        webhooks: &'a [String],
    ) -> BoxFuture<'a, Result<PushOutcome, StoreError>>;

    /// The changes of the user's readable spaces after `query.checkpoint`, backfills of
    /// spaces granted since, and the spaces revoked since (see [`pull`]).
    fn pull<'a>(&'a self, user: &'a str, query: &'a PullQuery) -> BoxFuture<'a, Result<PullResponse, StoreError>>;

    /// The user's readable spaces and roles.
    fn access<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Access, StoreError>>;

    /// Grant `role` in `space` to `user` (`None`: remove the admin grant); the version the
    /// change got, `None` when there was nothing to remove.
    fn set_member<'a>(
        &'a self,
        space: &'a str,
        user: &'a str,
        role: Option<Role>,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>>;

    /// Make `user` the owner of a new `space`; the version of the grant, `None` when the
    /// space was ever used (granted to anyone, or holding a document).
    fn create_space<'a>(&'a self, space: &'a str, user: &'a str) -> BoxFuture<'a, Result<Option<u64>, StoreError>>;

    /// Make the user's token grants those of `claims` (a JWT's `spaces`); the version of
    /// the change, `None` when they already were.
    fn sync_token_grants<'a>(
        &'a self,
        user: &'a str,
        claims: &'a BTreeMap<String, Role>,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>>;

    /// Live members of `space` with their strongest role, by user id.
    fn members<'a>(&'a self, space: &'a str) -> BoxFuture<'a, Result<Vec<(String, Role)>, StoreError>>;

    /// Server-authored writes, in one transaction (see [`server_write`]).
    fn server_writes<'a>(
        &'a self,
        writes: &'a [ServerWrite],
        limits: Limits,
        webhooks: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Change>, StoreError>>;

    /// Counts for `/sync/health`'s verdict; fails when the database is unreachable.
    fn stats(&self) -> BoxFuture<'_, Result<Stats, StoreError>>;

    /// What `GET /sync/admin/status` reports (see [`status`]).
    fn status(&self) -> BoxFuture<'_, Result<Status, StoreError>>;

    /// Claim due webhook events, oldest first, for `claim.lease_until`: no other claim
    /// returns them until then (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so processes never
    /// wait on each other; SQLite: one writer at a time).
    fn claim_webhooks<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Vec<OutboxRow>, StoreError>>;

    /// Record the outcome of a claimed event; `Ok(false)` when the claim had been lost
    /// (its lease ran out and another claim took the row).
    fn finish_webhook<'a>(
        &'a self,
        id: i64,
        claimed_by: &'a str,
        outcome: &'a Finish,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Forward pokes from other server processes to `notifier` (PostgreSQL LISTEN); resolves
    /// once listening. Stores with a single process (SQLite) have nothing to do.
    fn start_realtime(
        &self,
        _notifier: Arc<Notifier>,
        _shutdown: watch::Receiver<bool>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
}

/// A push waiting for its process's writer. Every process has one writer task per store:
/// it takes all pushes queued meanwhile (at most [`MAX_GROUP`] of them, or about
/// [`MAX_GROUP_MUTATIONS`] mutations) and applies them in one transaction
/// ([`push::run_group`]), so the counter lock, the commit and the NOTIFY are paid once per
/// group rather than once per push.
pub(crate) struct PushJob {
    pub user: String,
    pub request: PushRequest,
    pub limits: Limits,
    pub webhooks: Vec<String>,
    pub reply: tokio::sync::oneshot::Sender<Result<PushOutcome, StoreError>>,
}

pub(crate) const MAX_GROUP: usize = 64;
pub(crate) const MAX_GROUP_MUTATIONS: usize = 2000;
/// Pushes queued for a writer before senders wait.
pub(crate) const WRITER_QUEUE: usize = 1024;

/// A failure of one push of a group, for the HTTP layer.
pub(crate) fn job_error(failure: Failure) -> StoreError {
    match failure {
        Failure::Forbidden => StoreError::ClientOfAnotherUser,
        Failure::Rejected(message) => StoreError::Rejected(message),
        Failure::Corrupt(message) => StoreError::Internal(message),
        Failure::Db(e) => store_error(&e),
    }
}

/// The answer to a push, with what it changed (for realtime pokes, and later webhooks).
#[derive(Debug, Clone)]
pub struct PushOutcome {
    pub response: PushResponse,
    /// Changes applied by this push (not the duplicates answered from storage).
    pub applied: Vec<Change>,
}

impl PushOutcome {
    /// The highest version this push wrote, if it wrote any.
    pub fn checkpoint(&self) -> Option<u64> {
        self.applied.iter().map(|c| c.version).max()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullQuery {
    pub checkpoint: u64,
    pub limit: u32,
    /// `None`: every collection.
    pub collections: Option<Vec<String>>,
    /// `None`: every readable space.
    pub spaces: Option<Vec<String>>,
}

impl PullQuery {
    /// Whether the pull covers `space`.
    pub fn wants(&self, space: &str) -> bool {
        self.spaces.as_ref().is_none_or(|list| list.iter().any(|s| s == space))
    }
}

/// What `/sync/health` decides by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Webhook events that went dead in the last [`RECENT_DEAD_MS`].
    pub recent_dead: u64,
    /// When the oldest pending webhook event was queued (Unix ms).
    pub oldest_pending_at: Option<i64>,
}

/// How far back [`Stats::recent_dead`] looks: an hour.
pub const RECENT_DEAD_MS: i64 = 3_600_000;

/// A request for due webhook events (times in Unix milliseconds).
#[derive(Debug, Clone)]
pub struct Claim {
    /// Names this claim; unique per claim.
    pub claimed_by: String,
    pub now: i64,
    pub lease_until: i64,
    pub limit: u32,
}

/// A claimed webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub url: String,
    /// The exact JSON text to send (and sign).
    pub body: String,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// What became of a claimed webhook event (times in Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The receiver answered 2xx.
    Delivered { now: i64 },
    /// The attempt failed: due again at `next_attempt_at`, or `dead` (no more attempts).
    Failed { now: i64, next_attempt_at: i64, dead: bool, error: String },
    /// Not attempted (shutdown, lease running out): due again at once, attempts unchanged.
    Release { now: i64 },
}

/// Open the database named by `url` (`sqlite:…` or `postgres://…`), creating it and its
/// tables as needed.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::Internal(format!("unsupported --database URL (expected sqlite://PATH or postgres://…): {url}")))
    }
}

/// One poke per space `changes` touched, at the highest version there.
pub(crate) fn space_pokes(changes: &[Change]) -> Vec<Poke> {
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for change in changes {
        if let Some(space) = change.space.as_deref() {
            let v = last.entry(space).or_insert(0);
            *v = (*v).max(change.version);
        }
    }
    last.into_iter().map(|(space, v)| Poke::Space(space.to_owned(), v)).collect()
}

/// The result of a membership change, with the poke of its member when there was one.
pub(crate) fn member_poke(user: &str, version: Option<i64>) -> (Option<u64>, Vec<Poke>) {
    let version = version.and_then(|v| u64::try_from(v).ok());
    (version, version.map(|v| Poke::Member(user.to_owned(), v)).into_iter().collect())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
