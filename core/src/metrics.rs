//! Counters, sync latencies and a health verdict, kept in memory per client; and the
//! report of one sync ([`SyncReport`]) they are counted from, which the engine returns.

use crate::json::{JsonText, ToJson};
use serde::Serialize;

/// What one sync did (the engine's answer), as `Metrics` adds it up and `sync()` returns it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    pub pushed: usize,
    pub pulled: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub batches: usize,
    /// The server's clock minus ours, from its last answer that said.
    pub clock_offset_ms: Option<i64>,
    /// The shared (not private) spaces the pulled changes came from: one the client did
    /// not know of means it joined, and asks the server for its spaces again. Each once,
    /// in the order first seen (a list: a client is in a few spaces).
    pub shared_spaces: Vec<String>,
}

/// Latencies and outcomes remembered for percentiles and the failure rate.
const WINDOW: usize = 100;

#[derive(Debug, Clone, Default)]
pub struct Metrics {
    syncs: u64,
    pushes: u64,
    mutations_sent: u64,
    failures: u64,
    retries: u64,
    conflicts: u64,
    rejected: u64,
    pulled: u64,
    latencies_ms: Vec<u64>,
    outcomes: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSnapshot {
    pub syncs: u64,
    pub pushes: u64,
    pub mutations_sent: u64,
    pub failures: u64,
    pub retries: u64,
    pub conflicts: u64,
    pub rejected: u64,
    pub pulled_changes: u64,
    pub p50_sync_ms: Option<u64>,
    pub p95_sync_ms: Option<u64>,
    pub pending: usize,
    pub oldest_pending_age_ms: Option<u64>,
    /// Set by the web layer, which asks the browser.
    pub storage: Option<StorageReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub status: HealthStatus,
    pub reasons: Vec<String>,
    /// Set by [`Health::with_storage`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageReport>,
}

/// Where a client's data lives and how much room the origin has, as `health()` and
/// `metrics()` report it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageReport {
    /// `"indexeddb"` or `"memory"`.
    pub kind: &'static str,
    /// Whether the data outlives the page or worker (false for memory only).
    pub durable: bool,
    /// `navigator.storage.estimate()`: bytes the origin uses and may use; `None` where
    /// the browser does not say.
    pub usage: Option<u64>,
    pub quota: Option<u64>,
    /// `navigator.storage.persisted()`: exempt from eviction; `None` where unknown.
    pub persisted: Option<bool>,
}

/// Storage fuller than this (usage / quota) makes `health()` degraded.
pub const STORAGE_FULL_RATIO: f64 = 0.9;

impl Health {
    /// This verdict with what the storage adds: memory only (queued writes die with the
    /// context) and an origin over [`STORAGE_FULL_RATIO`] of its quota are reasons, and
    /// make a healthy client degraded.
    pub fn with_storage(mut self, storage: StorageReport) -> Health {
        let before = self.reasons.len();
        if !storage.durable {
            self.reasons.push(
                "storage is in memory only: data and queued writes are lost when this page or worker ends".into(),
            );
        }
        if let (Some(usage), Some(quota)) = (storage.usage, storage.quota) {
            if quota > 0 && usage as f64 / quota as f64 > STORAGE_FULL_RATIO {
                self.reasons.push(format!(
                    "storage is {} % full ({usage} of {quota} bytes)",
                    percent(usage as f64 / quota as f64)
                ));
            }
        }
        if self.reasons.len() > before && self.status == HealthStatus::Healthy {
            self.status = HealthStatus::Degraded;
        }
        self.storage = Some(storage);
        self
    }
}

/// Thresholds of `health()`.
#[derive(Debug, Clone, Copy)]
pub struct HealthLimits {
    pub failure_rate: f64,
    pub pending: usize,
    pub oldest_pending_ms: u64,
}

impl Default for HealthLimits {
    fn default() -> Self {
        HealthLimits { failure_rate: 0.10, pending: 100, oldest_pending_ms: 60 * 60 * 1000 }
    }
}

impl Metrics {
    pub fn record_success(&mut self, report: &SyncReport, duration_ms: u64) {
        self.syncs += 1;
        self.add_report(report);
        push_bounded(&mut self.latencies_ms, duration_ms);
        push_bounded(&mut self.outcomes, true);
    }

    pub fn record_failure(&mut self, partial: &SyncReport, is_retry: bool) {
        self.syncs += 1;
        self.failures += 1;
        if is_retry {
            self.retries += 1;
        }
        self.add_report(partial);
        push_bounded(&mut self.outcomes, false);
    }

    fn add_report(&mut self, report: &SyncReport) {
        self.pushes += report.batches as u64;
        self.mutations_sent += (report.pushed + report.conflicts + report.rejected) as u64;
        self.conflicts += report.conflicts as u64;
        self.rejected += report.rejected as u64;
        self.pulled += report.pulled as u64;
    }

    /// Share of failed attempts among the last ones; 0 before any.
    pub fn failure_rate(&self) -> f64 {
        if self.outcomes.is_empty() {
            return 0.0;
        }
        self.outcomes.iter().filter(|ok| !**ok).count() as f64 / self.outcomes.len() as f64
    }

    pub fn snapshot(&self, pending: usize, oldest_pending_age_ms: Option<u64>) -> MetricsSnapshot {
        MetricsSnapshot {
            syncs: self.syncs,
            pushes: self.pushes,
            mutations_sent: self.mutations_sent,
            failures: self.failures,
            retries: self.retries,
            conflicts: self.conflicts,
            rejected: self.rejected,
            pulled_changes: self.pulled,
            p50_sync_ms: percentile(&self.latencies_ms, 50),
            p95_sync_ms: percentile(&self.latencies_ms, 95),
            pending,
            oldest_pending_age_ms,
            storage: None,
        }
    }

    pub fn health(
        &self,
        limits: &HealthLimits,
        pending: usize,
        oldest_pending_age_ms: Option<u64>,
        breaker_open: bool,
    ) -> Health {
        let mut reasons = Vec::new();
        let rate = self.failure_rate();
        if rate > limits.failure_rate {
            reasons.push(format!(
                "{} % of recent syncs failed (limit {} %)",
                percent(rate),
                percent(limits.failure_rate)
            ));
        }
        if pending > limits.pending {
            reasons.push(format!("{pending} writes pending (limit {})", limits.pending));
        }
        if let Some(age) = oldest_pending_age_ms.filter(|age| *age > limits.oldest_pending_ms) {
            reasons.push(format!(
                "oldest pending write is {} s old (limit {} s)",
                age / 1000,
                limits.oldest_pending_ms / 1000
            ));
        }
        if breaker_open {
            reasons.push("sync is paused after repeated failures".into());
        }
        let status = if breaker_open || rate > 0.5 {
            HealthStatus::Unhealthy
        } else if reasons.is_empty() {
            HealthStatus::Healthy
        } else {
            HealthStatus::Degraded
        };
        Health { status, reasons, storage: None }
    }
}

/// Keep the last `WINDOW` values. A `Vec` whose oldest is removed from the front (a
/// copy of under `WINDOW` small values, once a sync): a `VecDeque` was a ring buffer's
/// code for each of the two element types.
fn push_bounded<T>(window: &mut Vec<T>, value: T) {
    if window.len() == WINDOW {
        window.remove(0);
    }
    window.push(value);
}

/// A ratio from 0 up as a whole percentage, rounded half up: `{:.0}` of a float would
/// link core's exact float formatting, which nothing else needs.
fn percent(ratio: f64) -> u64 {
    (ratio * 100.0 + 0.5) as u64
}

/// Nearest-rank percentile.
fn percentile(values: &[u64], p: usize) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    crate::sort::sort(&mut sorted);
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

impl ToJson for MetricsSnapshot {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("syncs", &self.syncs);
        out.field("pushes", &self.pushes);
        out.field("mutationsSent", &self.mutations_sent);
        out.field("failures", &self.failures);
        out.field("retries", &self.retries);
        out.field("conflicts", &self.conflicts);
        out.field("rejected", &self.rejected);
        out.field("pulledChanges", &self.pulled_changes);
        out.field("p50SyncMs", &self.p50_sync_ms);
        out.field("p95SyncMs", &self.p95_sync_ms);
        out.field("pending", &self.pending);
        out.field("oldestPendingAgeMs", &self.oldest_pending_age_ms);
        out.field("storage", &self.storage);
        out.close_object();
    }
}

impl ToJson for HealthStatus {
    fn write_json(&self, out: &mut JsonText) {
        out.string(match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        });
    }
}

impl ToJson for Health {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("status", &self.status);
        out.field("reasons", &self.reasons);
        if let Some(storage) = &self.storage {
            out.field("storage", storage);
        }
        out.close_object();
    }
}

impl ToJson for StorageReport {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("kind", self.kind);
        out.field("durable", &self.durable);
        out.field("usage", &self.usage);
        out.field("quota", &self.quota);
        out.field("persisted", &self.persisted);
        out.close_object();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(pushed: usize, pulled: usize) -> SyncReport {
        SyncReport {
            pushed,
            pulled,
            conflicts: 1,
            rejected: 0,
            batches: 1,
            clock_offset_ms: None,
            ..SyncReport::default()
        }
    }

    #[test]
    fn counts_and_percentiles() {
        let mut m = Metrics::default();
        for ms in 1..=100 {
            m.record_success(&report(2, 3), ms);
        }
        m.record_failure(&SyncReport::default(), true);
        let s = m.snapshot(4, Some(1_500));
        assert_eq!((s.syncs, s.pushes, s.mutations_sent, s.pulled_changes, s.conflicts), (101, 100, 300, 300, 100));
        assert_eq!((s.failures, s.retries), (1, 1));
        // The window holds the last 100 latencies: 1..=100.
        assert_eq!((s.p50_sync_ms, s.p95_sync_ms), (Some(50), Some(95)));
        assert_eq!((s.pending, s.oldest_pending_age_ms), (4, Some(1_500)));
    }

    #[test]
    fn the_windows_keep_the_last_hundred() {
        let mut m = Metrics::default();
        for _ in 0..100 {
            m.record_failure(&SyncReport::default(), false);
        }
        for ms in 1..=150 {
            m.record_success(&SyncReport::default(), ms);
        }
        // The oldest 50 latencies and every failure have left the windows.
        let s = m.snapshot(0, None);
        assert_eq!((s.p50_sync_ms, s.p95_sync_ms), (Some(100), Some(145)));
        assert_eq!(m.failure_rate(), 0.0);
    }

    #[test]
    fn health_names_its_reasons() {
        let limits = HealthLimits::default();
        let mut m = Metrics::default();
        assert_eq!(
            m.health(&limits, 0, None, false),
            Health { status: HealthStatus::Healthy, reasons: vec![], storage: None }
        );
        for i in 0..10 {
            if i < 2 {
                m.record_failure(&SyncReport::default(), false);
            } else {
                m.record_success(&SyncReport::default(), 5);
            }
        }
        let h = m.health(&limits, 101, Some(2 * 3_600_000), false);
        assert_eq!(h.status, HealthStatus::Degraded);
        assert_eq!(h.reasons.len(), 3, "{:?}", h.reasons);
        assert!(h.reasons[0].contains("20 %"));
        assert_eq!(m.health(&limits, 0, None, true).status, HealthStatus::Unhealthy);
    }

    #[test]
    fn storage_in_memory_or_nearly_full_degrades_health() {
        let healthy = || Metrics::default().health(&HealthLimits::default(), 0, None, false);
        let report = |durable, usage, quota| StorageReport {
            kind: if durable { "indexeddb" } else { "memory" },
            durable,
            usage,
            quota,
            persisted: None,
        };
        let fine = healthy().with_storage(report(true, Some(10), Some(100)));
        assert_eq!((fine.status, fine.reasons.len()), (HealthStatus::Healthy, 0));
        assert_eq!(fine.storage, Some(report(true, Some(10), Some(100))));
        let unknown = healthy().with_storage(report(true, None, None));
        assert_eq!(unknown.status, HealthStatus::Healthy);
        let memory = healthy().with_storage(report(false, None, None));
        assert_eq!(memory.status, HealthStatus::Degraded);
        assert!(memory.reasons[0].contains("memory only"), "{:?}", memory.reasons);
        let full = healthy().with_storage(report(true, Some(95), Some(100)));
        assert_eq!(full.status, HealthStatus::Degraded);
        assert!(full.reasons[0].contains("95 % full"), "{:?}", full.reasons);
    }
}
