//! How storage fails: [`StoreError`] for the HTTP layer (503 worth retrying, 500 not),
//! the classification of database errors behind it, and the rollback-and-rerun of a push
//! that lost a race.

use std::future::Future;
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("this clientId belongs to another user")]
    ClientOfAnotherUser,
    /// The request cannot be applied as a whole (400); nothing was written.
    #[error("{0}")]
    Rejected(String),
    /// The database cannot be reached or is overloaded: worth retrying later (503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data (500).
    #[error("internal error: {0}")]
    Internal(String),
}

/// How a push attempt failed, before retries are decided.
#[derive(Debug)]
pub(crate) enum Failure {
    Forbidden,
    Rejected(String),
    Db(sqlx::Error),
    Corrupt(String),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Failure {
        Failure::Db(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// Transient contention (serialization failure, deadlock, busy, the unique backstop
    /// on a duplicate raced by another process): roll back and run the batch again.
    Retry,
    Unavailable,
    Internal,
}

pub(crate) fn classify(e: &sqlx::Error) -> ErrorClass {
    match e {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return ErrorClass::Retry;
            }
            let code = db.code().unwrap_or_default();
            match code.as_ref() {
                // PostgreSQL: serialization failure, deadlock; SQLite: BUSY, LOCKED, BUSY_SNAPSHOT.
                "40001" | "40P01" | "5" | "6" | "517" | "261" => ErrorClass::Retry,
                c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57P") => ErrorClass::Unavailable,
                _ => ErrorClass::Internal,
            }
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => ErrorClass::Unavailable,
        _ => ErrorClass::Internal,
    }
}

pub(crate) fn store_error(e: &sqlx::Error) -> StoreError {
    match classify(e) {
        ErrorClass::Internal => StoreError::Internal(e.to_string()),
        ErrorClass::Retry | ErrorClass::Unavailable => StoreError::Unavailable(e.to_string()),
    }
}

const PUSH_ATTEMPTS: u32 = 4;

/// Pushes queue on one lock (the counter row, or SQLite's write lock) and hold a pooled
/// connection while they wait: let at most this many in at once, so pulls and health
/// checks always find a connection.
pub(crate) fn push_permits(pool_size: u32) -> tokio::sync::Semaphore {
    tokio::sync::Semaphore::new(pool_size.saturating_sub(2).max(1) as usize)
}

/// Run a push attempt, rolling back and running it again on transient contention.
pub(crate) async fn with_retries<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(Failure::Forbidden) => return Err(StoreError::ClientOfAnotherUser),
            Err(Failure::Rejected(msg)) => return Err(StoreError::Rejected(msg)),
            Err(Failure::Corrupt(msg)) => return Err(StoreError::Internal(msg)),
            Err(Failure::Db(e)) => match classify(&e) {
                ErrorClass::Retry if tries < PUSH_ATTEMPTS => {
                    tracing::info!(error = %e, attempt = tries, "push rolled back on contention, running it again");
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(tries))).await;
                }
                _ => return Err(store_error(&e)),
            },
        }
    }
}
