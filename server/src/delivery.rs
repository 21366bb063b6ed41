//! The webhook delivery task: one per server process, sending the events of the durable
//! outbox (`webhook_outbox`, filled by pushes; see [`crate::webhook`] for the format).
//!
//! Loop: claim up to [`BATCH`] due events (oldest first) under a lease, POST each one,
//! record the outcome, repeat; when nothing is due, sleep until the next known retry, the
//! poll interval, or a wake-up from a push in this process. Events of one URL go out one
//! at a time in version order; different URLs are served concurrently.
//!
//! - 2xx: `delivered`. Anything else (other status, timeout, network error): one more
//!   attempt counted, `last_error` kept, due again after `base · 2^(attempts-1)` (at
//!   most an hour, ±10 % jitter); after `max_attempts` attempts: `dead`.
//! - Several processes on one PostgreSQL: a claim takes rows `FOR UPDATE SKIP LOCKED` and
//!   moves them out of the due set until its lease ends, so two processes never send one
//!   event at the same time; every later update is conditional on the claim's name.
//! - At least once: a process that dies (or is stopped) after sending but before
//!   recording the answer leaves the row claimed; when the lease ends another claim sends
//!   it again. Receivers dedupe by the event's `id` (the same on every attempt).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use axum::http::Request;
use futures_util::future::join_all;
use http_body_util::Full;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::config::Webhooks;
use crate::db::{now_ms, Claim, Finish, OutboxRow, Store};
use crate::http::{http_client, redact, HttpClient};
use crate::webhook::{self, SIGNATURE_HEADER};

/// Events claimed at once.
pub const BATCH: u32 = 32;
/// Room left in a lease for recording an outcome after the last send.
const LEASE_MARGIN: Duration = Duration::from_secs(15);
/// Longest error text kept in `last_error`.
const MAX_ERROR_LEN: usize = 500;

pub struct Deliverer {
    store: Arc<dyn Store>,
    config: Webhooks,
    client: HttpClient,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    /// This process's part of claim names.
    tag: String,
    claims: AtomicU64,
}

enum Sent {
    Delivered,
    Failed(String),
    /// Shutdown came first; the request may or may not have reached the receiver.
    Interrupted,
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn Store>,
        config: Webhooks,
        wake: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Deliverer, String> {
        config.check()?;
        let client = http_client()?;
        let tag = format!("{}-{:016x}", std::process::id(), fastrand::u64(..));
        Ok(Deliverer { store, config, client, wake, shutdown, tag, claims: AtomicU64::new(0) })
    }

    /// A claim lasts long enough for a few sends plus the margin; a group that runs out
    /// of lease releases its remaining events instead of sending them late.
    fn lease(&self) -> Duration {
        self.config.timeout.saturating_mul(3) + LEASE_MARGIN
    }

    /// Shutdown was asked for, or whoever could ask for it is gone.
    fn stopping(&self) -> bool {
        *self.shutdown.borrow() || self.shutdown.has_changed().is_err()
    }

    /// Deliver until shutdown.
    pub async fn run(self) {
        tracing::info!(urls = self.config.urls.len(), "webhook delivery started");
        let mut shutdown = self.shutdown.clone();
        // The earliest retry this process scheduled and has not made yet (Unix ms).
        let mut next_retry: Option<i64> = None;
        loop {
            if self.stopping() {
                break;
            }
            let now = now_ms();
            let claim = Claim {
                claimed_by: format!("{}-{}", self.tag, self.claims.fetch_add(1, Ordering::Relaxed)),
                now,
                lease_until: now.saturating_add(millis(self.lease())),
                limit: BATCH,
            };
            // Retries due by now were in this claim (or another process's).
            next_retry = next_retry.filter(|t| *t > now);
            match self.store.claim_webhooks(&claim).await {
                Ok(rows) if !rows.is_empty() => {
                    if let Some(t) = self.deliver(&claim, rows).await {
                        next_retry = Some(next_retry.map_or(t, |n| n.min(t)));
                    }
                    // More may be due already.
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook outbox: cannot claim events; retrying"),
            }
            let until_retry =
                next_retry.map(|t| Duration::from_millis(u64::try_from(t.saturating_sub(now_ms())).unwrap_or(0)));
            let wait = until_retry.map_or(self.config.poll_interval, |d| d.min(self.config.poll_interval));
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                changed = shutdown.changed() => if changed.is_err() { break },
            }
        }
        tracing::info!("webhook delivery stopped");
    }

    /// Send a claimed batch; returns the earliest retry time it scheduled, if any.
    async fn deliver(&self, claim: &Claim, rows: Vec<OutboxRow>) -> Option<i64> {
        let deadline = Instant::now() + self.lease().saturating_sub(LEASE_MARGIN);
        let mut by_url: BTreeMap<String, Vec<OutboxRow>> = BTreeMap::new();
        for row in rows {
            by_url.entry(row.url.clone()).or_default().push(row);
        }
        let groups = by_url.into_values().map(|rows| self.deliver_group(claim, rows, deadline));
        join_all(groups).await.into_iter().flatten().min()
    }

    /// One URL's events, in order.
    async fn deliver_group(&self, claim: &Claim, rows: Vec<OutboxRow>, deadline: Instant) -> Option<i64> {
        let mut next_retry: Option<i64> = None;
        for row in rows {
            let late = Instant::now() + self.config.timeout > deadline;
            let sent = if late || self.stopping() { Sent::Interrupted } else { self.send(&row).await };
            let now = now_ms();
            let outcome = match sent {
                Sent::Delivered => Finish::Delivered { now },
                Sent::Interrupted => Finish::Release { now },
                Sent::Failed(error) => {
                    let attempts = row.attempts.saturating_add(1);
                    let dead = attempts >= self.config.max_attempts;
                    let delay =
                        webhook::backoff(self.config.backoff_base, self.config.backoff_cap, attempts, fastrand::f64());
                    let next_attempt_at = now.saturating_add(millis(delay));
                    if dead {
                        tracing::warn!(id = row.id, url = %redact(&row.url), attempts, error = %error, "webhook event is dead: no more attempts");
                    } else {
                        tracing::info!(id = row.id, url = %redact(&row.url), attempts, error = %error, retry_in_ms = millis(delay), "webhook attempt failed");
                        next_retry = Some(next_retry.map_or(next_attempt_at, |t| t.min(next_attempt_at)));
                    }
                    Finish::Failed { now, next_attempt_at, dead, error }
                }
            };
            match self.store.finish_webhook(row.id, &claim.claimed_by, &outcome).await {
                Ok(true) => {}
                Ok(false) => tracing::info!(id = row.id, "webhook event was claimed again meanwhile (lease ran out)"),
                // The row stays claimed; when the lease ends it is sent again.
                Err(e) => tracing::warn!(id = row.id, error = %e, "webhook outbox: cannot record an outcome"),
            }
        }
        next_retry
    }

    async fn send(&self, row: &OutboxRow) -> Sent {
        let body = match webhook::delivery_body(&row.body, row.id, row.attempts.saturating_add(1)) {
            Ok(b) => b,
            Err(e) => return Sent::Failed(truncate(format!("the stored event is not a JSON object: {e}"))),
        };
        let timestamp = now_ms() / 1000;
        let signature = webhook::sign(&self.config.secret, timestamp, body.as_bytes());
        let request = Request::post(row.url.as_str())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("pwa-sync-server/", env!("CARGO_PKG_VERSION")))
            .header(SIGNATURE_HEADER, signature)
            .body(Full::new(Bytes::from(body)));
        let request = match request {
            Ok(r) => r,
            Err(e) => return Sent::Failed(truncate(format!("cannot build the request: {e}"))),
        };
        let mut shutdown = self.shutdown.clone();
        let result = tokio::select! {
            r = tokio::time::timeout(self.config.timeout, self.client.request(request)) => r,
            _ = shutdown.wait_for(|stopping| *stopping) => return Sent::Interrupted,
        };
        match result {
            // The status is the answer; the body is not read (dropping it closes the
            // connection rather than reading an unbounded body).
            Ok(Ok(response)) if response.status().is_success() => Sent::Delivered,
            Ok(Ok(response)) => Sent::Failed(truncate(format!("HTTP {}", response.status()))),
            Ok(Err(e)) => Sent::Failed(truncate(error_chain(&e))),
            Err(_) => Sent::Failed(format!("no answer within {} ms", self.config.timeout.as_millis())),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An error and its causes, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_are_cut_on_a_char_boundary() {
        let cut = truncate("é".repeat(400));
        assert!(cut.len() <= MAX_ERROR_LEN && cut.chars().all(|c| c == 'é'));
    }
}
