//! When to sync next: debounced after local writes, at once on `online` and pokes,
//! backing off after transient failures, paused by the circuit breaker after
//! `retry.maxAttempts` of them in a row. Pure: time and randomness are arguments.

use crate::config::RetryConfig;
use crate::error::ErrorClass;
use crate::retry::{backoff_delay_ms, BreakerState, CircuitBreaker};

/// How long local writes wait for more writes before a sync starts.
pub const WRITE_DEBOUNCE_MS: u64 = 250;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A local write queued something.
    LocalWrite,
    /// The server said there is something new.
    Poke,
    /// The browser went online, the page became visible, the client opened.
    Online,
    /// The pull interval elapsed, or `getFresh` found data older than its TTL.
    Interval,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Start a sync in this many ms (0: now).
    In(u64),
    /// Nothing scheduled: wait for the next trigger.
    Idle,
}

#[derive(Debug, Clone)]
pub struct Scheduler {
    retry: RetryConfig,
    breaker: CircuitBreaker,
    failed_attempts: u32,
}

impl Scheduler {
    pub fn new(retry: RetryConfig) -> Scheduler {
        Scheduler { breaker: CircuitBreaker::new(retry.max_attempts, retry.max_delay_ms), retry, failed_attempts: 0 }
    }

    /// While the breaker is open, background triggers wait for it to cool down, except
    /// `Online`: coming back online is news that the failures may be over (a failure
    /// then opens the breaker again at once).
    pub fn on_trigger(&self, trigger: Trigger, now_ms: u64) -> Next {
        if trigger == Trigger::Online {
            return Next::In(0);
        }
        if let BreakerState::Open { until_ms } = self.breaker.state(now_ms) {
            return Next::In(until_ms.saturating_sub(now_ms));
        }
        match trigger {
            Trigger::LocalWrite | Trigger::Poke => Next::In(WRITE_DEBOUNCE_MS),
            Trigger::Online | Trigger::Interval => Next::In(0),
        }
    }

    pub fn on_success(&mut self) {
        self.failed_attempts = 0;
        self.breaker.record_success();
    }

    /// After a failed sync: when to try again by ourselves. Failures that retrying
    /// cannot fix (auth, validation, protocol) wait for the next trigger instead.
    pub fn on_failure(
        &mut self,
        class: Option<ErrorClass>,
        retry_after_ms: Option<u64>,
        now_ms: u64,
        random: f64,
    ) -> Next {
        let transient = class.is_some_and(ErrorClass::is_transient);
        if !transient {
            return Next::Idle;
        }
        self.failed_attempts = self.failed_attempts.saturating_add(1);
        self.breaker.record_failure(now_ms);
        if let BreakerState::Open { until_ms } = self.breaker.state(now_ms) {
            return Next::In(until_ms.saturating_sub(now_ms).max(retry_after_ms.unwrap_or(0)));
        }
        Next::In(backoff_delay_ms(&self.retry, self.failed_attempts, random, retry_after_ms))
    }

    /// Whether the next attempt retries a failed one (for metrics).
    pub fn is_retrying(&self) -> bool {
        self.failed_attempts > 0
    }

    pub fn breaker_open(&self, now_ms: u64) -> bool {
        matches!(self.breaker.state(now_ms), BreakerState::Open { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_debounced_and_online_is_immediate() {
        let s = Scheduler::new(RetryConfig::default());
        assert_eq!(s.on_trigger(Trigger::LocalWrite, 0), Next::In(WRITE_DEBOUNCE_MS));
        assert_eq!(s.on_trigger(Trigger::Online, 0), Next::In(0));
    }

    #[test]
    fn transient_failures_back_off_then_open_the_breaker() {
        let mut s = Scheduler::new(RetryConfig::default());
        let mut now = 0;
        let mut delays = vec![];
        for _ in 0..5 {
            let Next::In(d) = s.on_failure(Some(ErrorClass::Network), None, now, 0.5) else { panic!("idle") };
            delays.push(d);
            now += d;
        }
        // Four backoffs, then the fifth failure (maxAttempts) opens the breaker for maxDelay.
        assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 30_000]);
        assert!(s.breaker_open(now - 1));
        assert_eq!(s.on_trigger(Trigger::LocalWrite, now - 10_000), Next::In(10_000));
        assert_eq!(s.on_trigger(Trigger::Online, now - 10_000), Next::In(0), "coming back online tries at once");
        // Cooled down: the trial fails and the breaker opens again at once.
        assert_eq!(s.on_failure(Some(ErrorClass::Server), None, now, 0.5), Next::In(30_000));
        s.on_success();
        assert!(!s.breaker_open(now) && !s.is_retrying());
    }

    #[test]
    fn retry_after_is_honoured() {
        let mut s = Scheduler::new(RetryConfig::default());
        assert_eq!(s.on_failure(Some(ErrorClass::RateLimited), Some(12_000), 0, 0.5), Next::In(12_000));
    }

    #[test]
    fn failures_retrying_cannot_fix_wait_for_a_trigger() {
        let mut s = Scheduler::new(RetryConfig::default());
        for class in [ErrorClass::Auth, ErrorClass::Validation, ErrorClass::Protocol] {
            assert_eq!(s.on_failure(Some(class), None, 0, 0.5), Next::Idle);
        }
        assert_eq!(s.on_failure(None, None, 0, 0.5), Next::Idle, "storage errors too");
        assert!(!s.is_retrying());
    }
}
