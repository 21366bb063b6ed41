//! What `GET /sync/admin/status` reports, read from the tables that already hold it:
//! `mutations` keeps every push result (rejections included, with their code and
//! message) and `webhook_outbox` every delivery with its attempts and last error.

/// Rows of each failure list returned at most.
pub const RECENT_FAILURES: i64 = 50;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub totals: Totals,
    /// Newest first, at most [`RECENT_FAILURES`].
    pub rejected_pushes: Vec<RejectedPush>,
    /// Deliveries failing now (pending with an error, or dead), newest outcome first, at
    /// most [`RECENT_FAILURES`].
    pub webhook_failures: Vec<WebhookFailure>,
    /// One entry per URL with outbox rows, by URL.
    pub webhooks: Vec<UrlStatus>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub documents: u64,
    /// Spaces with a document or a live member.
    pub spaces: u64,
    /// Live (space, user) grants.
    pub members: u64,
    /// Push results by status.
    pub applied: u64,
    pub conflicts: u64,
    pub rejected: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedPush {
    pub at: i64,
    pub user: String,
    pub client_id: String,
    pub mutation_id: i64,
    /// The stored result: `{"id", "status": "rejected", "code", "message"}`.
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFailure {
    /// When the last attempt's outcome was recorded.
    pub at: i64,
    pub url: String,
    pub id: i64,
    pub state: String,
    pub attempts: u64,
    pub last_error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlStatus {
    pub url: String,
    pub pending: u64,
    pub delivered: u64,
    pub dead: u64,
    /// Attempts made, over all rows; those that failed are `attempts - delivered`.
    pub attempts: u64,
    pub oldest_pending_at: Option<i64>,
    pub last_error: Option<String>,
}

pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
