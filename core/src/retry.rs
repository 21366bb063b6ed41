//! Failure handling: exponential backoff with jitter, `Retry-After`, and a circuit
//! breaker. Pure: time and randomness come in as arguments. (The classes of error,
//! `ErrorClass`, live in `error`.)

use crate::config::RetryConfig;

/// Delay before retry number `attempt` (1 = first retry): `base * 2^(attempt-1)`, capped
/// at `max`, then spread by ±`jitter` using `random` in [0, 1). A server's `Retry-After`
/// wins when it asks for longer.
pub fn backoff_delay_ms(config: &RetryConfig, attempt: u32, random: f64, retry_after_ms: Option<u64>) -> u64 {
    let exponent = attempt.saturating_sub(1).min(40);
    let raw = config.base_delay_ms.saturating_mul(1u64 << exponent).min(config.max_delay_ms);
    let spread = (random.clamp(0.0, 1.0) * 2.0 - 1.0) * config.jitter;
    let jittered = (raw as f64 * (1.0 + spread)).round().max(0.0) as u64;
    let jittered = jittered.min(config.max_delay_ms);
    match retry_after_ms {
        Some(asked) if asked > jittered => asked,
        _ => jittered,
    }
}

/// Parse a `Retry-After` header: delta-seconds, or an HTTP date given `now_ms`.
pub fn parse_retry_after(header: &str, now_ms: u64, parse_http_date: impl Fn(&str) -> Option<u64>) -> Option<u64> {
    let header = header.trim();
    if let Ok(seconds) = header.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    parse_http_date(header).map(|at| at.saturating_sub(now_ms))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// No attempts until this time (ms).
    Open {
        until_ms: u64,
    },
    /// One trial attempt is allowed.
    HalfOpen,
}

/// Opens after `threshold` consecutive transient failures, stays open for `cool_down_ms`,
/// then lets one trial through: success closes it, failure opens it again.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    threshold: u32,
    cool_down_ms: u64,
    consecutive_failures: u32,
    state: BreakerState,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cool_down_ms: u64) -> CircuitBreaker {
        CircuitBreaker {
            threshold: threshold.max(1),
            cool_down_ms,
            consecutive_failures: 0,
            state: BreakerState::Closed,
        }
    }

    pub fn state(&self, now_ms: u64) -> BreakerState {
        match self.state {
            BreakerState::Open { until_ms } if now_ms >= until_ms => BreakerState::HalfOpen,
            state => state,
        }
    }

    /// Whether an attempt may start now.
    pub fn allows(&self, now_ms: u64) -> bool {
        !matches!(self.state(now_ms), BreakerState::Open { .. })
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    pub fn record_success(&mut self) {
        self.consecutive_failures = 0;
        self.state = BreakerState::Closed;
    }

    pub fn record_failure(&mut self, now_ms: u64) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let trial_failed = self.state(now_ms) == BreakerState::HalfOpen;
        if trial_failed || self.consecutive_failures >= self.threshold {
            self.state = BreakerState::Open { until_ms: now_ms.saturating_add(self.cool_down_ms) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_defaults() -> RetryConfig {
        RetryConfig::default()
    }

    #[test]
    fn defaults_are_the_seeds() {
        let c = seed_defaults();
        assert_eq!((c.max_attempts, c.base_delay_ms, c.max_delay_ms, c.jitter), (5, 1_000, 30_000, 0.1));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let c = seed_defaults();
        let no_jitter = 0.5; // maps to a spread of 0
        let delays: Vec<u64> = (1..=7).map(|a| backoff_delay_ms(&c, a, no_jitter, None)).collect();
        assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
        assert_eq!(backoff_delay_ms(&c, 500, no_jitter, None), 30_000);
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let c = seed_defaults();
        assert_eq!(backoff_delay_ms(&c, 2, 0.0, None), 1_800);
        assert_eq!(backoff_delay_ms(&c, 2, 0.999_999, None), 2_200);
        for i in 0..100 {
            let d = backoff_delay_ms(&c, 3, i as f64 / 100.0, None);
            assert!((3_600..=4_400).contains(&d), "{d}");
        }
    }

    #[test]
    fn retry_after_wins_when_longer() {
        let c = seed_defaults();
        assert_eq!(backoff_delay_ms(&c, 1, 0.5, Some(45_000)), 45_000);
        assert_eq!(backoff_delay_ms(&c, 3, 0.5, Some(10)), 4_000);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let never = |_: &str| None;
        assert_eq!(parse_retry_after(" 7 ", 0, never), Some(7_000));
        assert_eq!(parse_retry_after("soon", 0, never), None);
        let date = |s: &str| (s == "Wed, 21 Oct 2015 07:28:00 GMT").then_some(10_000);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 4_000, date), Some(6_000));
    }

    #[test]
    fn breaker_opens_cools_down_and_tries_once() {
        let mut b = CircuitBreaker::new(3, 60_000);
        b.record_failure(0);
        b.record_failure(1);
        assert!(b.allows(2));
        b.record_failure(2);
        assert_eq!(b.state(3), BreakerState::Open { until_ms: 60_002 });
        assert!(!b.allows(59_999));
        assert_eq!(b.state(60_002), BreakerState::HalfOpen);
        // The trial fails: open again at once, without waiting for three more failures.
        b.record_failure(60_010);
        assert_eq!(b.state(60_011), BreakerState::Open { until_ms: 120_010 });
        assert_eq!(b.state(120_010), BreakerState::HalfOpen);
        b.record_success();
        assert_eq!((b.state(120_011), b.consecutive_failures()), (BreakerState::Closed, 0));
    }
}
