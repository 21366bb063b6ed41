//! One client's sync session: the status the UI shows (state, pending count, last sync
//! time, last error), the schedule, the metrics, and whether a sync runs. Things that
//! happen come in as method calls (a sync started or finished, a trigger, going offline,
//! the event stream ending); what the web layer must do about them comes out as
//! [`Command`]s, in the order to carry them out. Pure: time and randomness are arguments,
//! so every status rule is tested here rather than only in a browser.

use crate::config::RetryConfig;
use crate::engine::{SyncError, SyncFailure};
use crate::error::ErrorClass;
use crate::metrics::{Health, HealthLimits, Metrics, MetricsSnapshot, SyncReport};
use crate::record::Failure;
use crate::schedule::{Next, Scheduler, Trigger};
use crate::Error;

/// What the status says a client is doing (`status().state` in JS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No server, not connected, or the last sync could not reach the server.
    Offline,
    Syncing,
    Synced,
    /// The last sync failed for a reason other than the connection.
    Error,
}

impl Status {
    /// The name apps see; never rename one.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Offline => "offline",
            Status::Syncing => "syncing",
            Status::Synced => "synced",
            Status::Error => "error",
        }
    }
}

/// Why the last sync failed (`status().lastError` in JS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub code: String,
    pub message: String,
}

impl LastError {
    pub fn of(error: &Error) -> LastError {
        LastError { code: error.code().to_owned(), message: error.to_string() }
    }
}

/// What the web layer does, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The status changed: announce it (`pwa-sync:status`).
    EmitStatus,
    /// Tell other tabs that the pending count and the last sync time changed.
    HintStatus,
    /// Start a sync in this many ms, unless one is due sooner.
    Schedule { after_ms: u64 },
    /// From a page: ask the service worker's Background Sync to flush once the browser
    /// is online again, even if the page is closed by then.
    RequestBackgroundSync,
    /// Store why the sync failed, so a page opened later can still say it.
    RecordFailure(Failure),
    /// The server refused the token: `pwa-sync:auth-required`.
    EmitAuthRequired { message: String },
    /// Storage failed under a sync: `pwa-sync:storage-error`.
    ReportStorageError(Error),
    /// Connect to the server's event stream again after this many ms.
    ReconnectStream { after_ms: u64 },
}

/// What a client knows when it opens, for its first status.
#[derive(Debug, Clone, Default)]
pub struct Opening {
    pub retry: RetryConfig,
    /// It has an endpoint.
    pub has_server: bool,
    /// `navigator.onLine`.
    pub online: bool,
    pub auto_sync: bool,
    pub pending: usize,
    pub last_synced_at: Option<f64>,
    pub last_failure: Option<Failure>,
}

/// How a sync ended, besides its result.
#[derive(Debug, Clone, Copy)]
pub struct Finish {
    pub duration_ms: u64,
    /// The outbox size read after the sync; `None` if it could not be read.
    pub pending: Option<usize>,
    pub now_ms: u64,
    /// In [0, 1), for the backoff's jitter.
    pub random: f64,
    /// Whether the context is online as the sync ends (`navigator.onLine`).
    pub online: bool,
}

/// A finished sync: what the caller of `sync()` gets, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub result: Result<SyncReport, Error>,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone)]
pub struct Session {
    status: Status,
    last_error: Option<LastError>,
    pending: usize,
    /// ms since the epoch (a JS number), as stored in the metadata.
    last_synced_at: Option<f64>,
    scheduler: Scheduler,
    metrics: Metrics,
    running: bool,
    /// Something asked for a sync while one ran: run again after it.
    rerun: bool,
    /// The `online` event came while a sync ran: a failure of that sync (the connection
    /// was down when it started) tries again at once, not after its backoff.
    online_during_run: bool,
    /// Event-stream connections in a row that failed to connect.
    stream_failures: u32,
}

impl Session {
    pub fn new(opening: Opening) -> Session {
        Session {
            status: initial_status(&opening),
            last_error: opening.last_failure.map(|f| LastError { code: f.code, message: f.message }),
            pending: opening.pending,
            last_synced_at: opening.last_synced_at,
            scheduler: Scheduler::new(opening.retry),
            metrics: Metrics::default(),
            running: false,
            rerun: false,
            online_during_run: false,
            stream_failures: 0,
        }
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn last_error(&self) -> Option<&LastError> {
        self.last_error.as_ref()
    }

    pub fn pending(&self) -> usize {
        self.pending
    }

    pub fn last_synced_at(&self) -> Option<f64> {
        self.last_synced_at
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Something happened that may call for a sync. While one runs, it runs again after.
    pub fn on_trigger(&mut self, trigger: Trigger, now_ms: u64) -> Vec<Command> {
        if self.running {
            self.rerun = true;
            self.online_during_run |= trigger == Trigger::Online;
            return Vec::new();
        }
        schedule(self.scheduler.on_trigger(trigger, now_ms))
    }

    /// The browser went offline. A running sync will say how it went by itself.
    pub fn on_offline(&mut self) -> Vec<Command> {
        if self.running {
            return Vec::new();
        }
        self.set_status(Status::Offline, None)
    }

    /// The check before a sync could not read storage: no sync starts.
    pub fn on_sync_refused(&mut self, error: &Error) -> Vec<Command> {
        let mut commands = self.set_status(Status::Error, Some(LastError::of(error)));
        commands.extend(storage_report(error));
        commands
    }

    pub fn on_sync_started(&mut self) -> Vec<Command> {
        self.running = true;
        self.set_status(Status::Syncing, None)
    }

    pub fn on_sync_finished(&mut self, result: Result<SyncReport, SyncFailure>, finish: Finish) -> Finished {
        self.running = false;
        let rerun = std::mem::take(&mut self.rerun);
        let online_during_run = std::mem::take(&mut self.online_during_run);
        let pending = finish.pending.unwrap_or(self.pending);
        self.pending = pending;
        match result {
            Ok(report) => {
                self.scheduler.on_success();
                self.metrics.record_success(&report, finish.duration_ms);
                self.last_synced_at = Some(finish.now_ms as f64);
                // A sync that got through just before the connection went stays a success,
                // but the status is what holds now: offline (the `offline` event came while
                // it ran, and its status would otherwise be overwritten).
                let status = if finish.online { Status::Synced } else { Status::Offline };
                let mut commands = self.set_status(status, None);
                commands.push(Command::HintStatus);
                // Writes made during the sync go out next; an entry that cannot be sent at
                // all (nothing went out this time) must not spin a sync every 250 ms.
                if rerun || (pending > 0 && report.batches > 0) {
                    commands.extend(self.on_trigger(Trigger::LocalWrite, finish.now_ms));
                }
                Finished { result: Ok(report), commands }
            }
            Err(failure) => {
                let class = failure.error.class();
                let retry_after = match &failure.error {
                    SyncError::Transport(e) => e.retry_after_ms,
                    SyncError::Store(_) => None,
                };
                // The server refused the token (an HTTP status), not the app's token
                // function failing before any request: only that asks the user to sign in
                // again. (A worker starting before the page handed it the session must not
                // make a page that logs out on `auth-required` wipe its queued writes.)
                let refused = matches!(&failure.error, SyncError::Transport(e) if e.status.is_some());
                let retrying = self.scheduler.is_retrying();
                self.metrics.record_failure(&failure.report, retrying);
                let mut next = self.scheduler.on_failure(class, retry_after, finish.now_ms, finish.random);
                if online_during_run && matches!(class, Some(ErrorClass::Network | ErrorClass::Timeout)) {
                    // It failed on the connection that has just come back.
                    next = Next::In(0);
                }
                let error = match failure.error {
                    SyncError::Transport(e) => Error::Sync { class: e.class, message: e.message },
                    SyncError::Store(e) => e,
                };
                let mut commands = Vec::new();
                // Unreachable rather than broken: the status says offline, and Background
                // Sync flushes when the connection is back.
                let status = match class {
                    Some(ErrorClass::Network | ErrorClass::Timeout) => {
                        commands.push(Command::RequestBackgroundSync);
                        Status::Offline
                    }
                    _ => Status::Error,
                };
                let last = LastError::of(&error);
                commands.extend(self.set_status(status, Some(last.clone())));
                commands.push(Command::RecordFailure(Failure {
                    at: finish.now_ms as f64,
                    code: last.code,
                    message: last.message,
                }));
                // Once stored, other contexts learn how it went (their status may still
                // say syncing: their own sync was skipped while this one held the lock).
                commands.push(Command::HintStatus);
                if class == Some(ErrorClass::Auth) && refused {
                    commands.push(Command::EmitAuthRequired { message: error.to_string() });
                }
                commands.extend(storage_report(&error));
                commands.extend(schedule(next));
                Finished { result: Err(error), commands }
            }
        }
    }

    /// The outbox size, read from storage (another context may have changed it).
    pub fn set_pending(&mut self, pending: usize) -> Vec<Command> {
        self.pending = pending;
        vec![Command::EmitStatus]
    }

    /// Local writes changed the outbox by `delta` entries.
    pub fn add_pending(&mut self, delta: i64) -> Vec<Command> {
        let pending = (self.pending as i64).saturating_add(delta).max(0);
        self.set_pending(pending as usize)
    }

    /// Another context of this database finished a sync (its status hint; `last_synced_at`
    /// and `last_failure` as stored). A status still `syncing` while nothing runs here
    /// (this context's own sync was skipped while the other held the flush lock, or the
    /// first status said a sync was about to start) becomes what that sync came to.
    pub fn on_synced_elsewhere(&mut self, last_synced_at: Option<f64>, last_failure: Option<&Failure>) -> Vec<Command> {
        self.last_synced_at = last_synced_at.or(self.last_synced_at);
        if self.running || self.status != Status::Syncing {
            return Vec::new();
        }
        match (last_failure, self.last_synced_at) {
            (Some(failure), synced) if synced.is_none_or(|at| failure.at > at) => {
                let offline = matches!(failure.code.as_str(), "network" | "timeout");
                let status = if offline { Status::Offline } else { Status::Error };
                let error = LastError { code: failure.code.clone(), message: failure.message.clone() };
                self.set_status(status, Some(error))
            }
            (_, Some(_)) => self.set_status(Status::Synced, None),
            _ => Vec::new(),
        }
    }

    /// Everything was wiped (logout): nothing pending, never synced.
    pub fn on_cleared(&mut self) -> Vec<Command> {
        self.last_synced_at = None;
        self.set_pending(0)
    }

    /// The event stream ended; `connected`: it had connected (and later ended).
    pub fn on_stream_ended(&mut self, connected: bool, random: f64) -> Vec<Command> {
        self.stream_failures = if connected { 0 } else { self.stream_failures.saturating_add(1) };
        vec![Command::ReconnectStream { after_ms: stream_reconnect_delay_ms(self.stream_failures, random) }]
    }

    pub fn metrics(&self, pending: usize, oldest_pending_age_ms: Option<u64>) -> MetricsSnapshot {
        self.metrics.snapshot(pending, oldest_pending_age_ms)
    }

    pub fn health(&self, pending: usize, oldest_pending_age_ms: Option<u64>, now_ms: u64) -> Health {
        let breaker_open = self.scheduler.breaker_open(now_ms);
        self.metrics.health(&HealthLimits::default(), pending, oldest_pending_age_ms, breaker_open)
    }

    /// A status change, always announced. Going to `Syncing` keeps the last error: it
    /// still says why data waits until the sync ends.
    fn set_status(&mut self, status: Status, error: Option<LastError>) -> Vec<Command> {
        self.status = status;
        if status != Status::Syncing {
            self.last_error = error;
        }
        vec![Command::EmitStatus]
    }
}

/// Honest from the first snapshot: no server, not connected, about to sync, or as of the
/// last sync.
fn initial_status(opening: &Opening) -> Status {
    match (opening.has_server, opening.online, opening.auto_sync, opening.last_synced_at) {
        (false, _, _, _) | (_, false, _, _) => Status::Offline,
        (true, true, true, _) => Status::Syncing,
        (true, true, false, Some(_)) => Status::Synced,
        (true, true, false, None) => Status::Offline,
    }
}

fn schedule(next: Next) -> Vec<Command> {
    match next {
        Next::In(after_ms) => vec![Command::Schedule { after_ms }],
        Next::Idle => Vec::new(),
    }
}

/// Storage errors are announced as such; other failures only through the status.
fn storage_report(error: &Error) -> Option<Command> {
    matches!(error, Error::Storage(_) | Error::QuotaExceeded(_)).then(|| Command::ReportStorageError(error.clone()))
}

/// How long the event stream waits before reconnecting after `failures` failed attempts
/// in a row (0 after a connection that worked): 1 s doubling to 30 s, spread by ±20 %
/// (`random` in [0, 1)) so that clients cut off together do not come back together.
pub fn stream_reconnect_delay_ms(failures: u32, random: f64) -> u64 {
    let delay = 1_000u64.saturating_mul(1 << failures.min(5)).min(30_000);
    (delay as f64 * (0.8 + 0.4 * random.clamp(0.0, 1.0))) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::TransportError;
    use crate::schedule::WRITE_DEBOUNCE_MS;

    fn opening() -> Opening {
        Opening {
            retry: RetryConfig::default(),
            has_server: true,
            online: true,
            auto_sync: true,
            pending: 0,
            last_synced_at: None,
            last_failure: None,
        }
    }

    fn finish(pending: usize) -> Finish {
        Finish { duration_ms: 40, pending: Some(pending), now_ms: 10_000, random: 0.5, online: true }
    }

    fn report(batches: usize) -> SyncReport {
        SyncReport { pushed: batches, batches, ..SyncReport::default() }
    }

    fn transport_failure(class: ErrorClass, retry_after_ms: Option<u64>) -> SyncFailure {
        let error = TransportError { retry_after_ms, ..TransportError::new(class, "it failed") };
        SyncFailure { error: SyncError::Transport(error), report: SyncReport::default() }
    }

    fn running() -> Session {
        let mut session = Session::new(opening());
        assert_eq!(session.on_sync_started(), [Command::EmitStatus]);
        session
    }

    fn failure_record(code: &str, message: &str) -> Command {
        Command::RecordFailure(Failure { at: 10_000.0, code: code.into(), message: message.into() })
    }

    #[test]
    fn coming_back_online_during_a_failing_sync_retries_at_once() {
        let failed = || SyncFailure {
            error: SyncError::Transport(TransportError::new(ErrorClass::Network, "offline")),
            report: SyncReport::default(),
        };
        let mut session = Session::new(opening());
        session.on_sync_started();
        assert!(session.on_trigger(Trigger::Online, 10_000).is_empty(), "noted for after the run");
        let done = session.on_sync_finished(Err(failed()), finish(1));
        assert!(done.commands.contains(&Command::Schedule { after_ms: 0 }), "{:?}", done.commands);
        // Without the event during the run, the same failure waits for its backoff.
        session.on_sync_started();
        let done = session.on_sync_finished(Err(failed()), finish(1));
        assert!(!done.commands.contains(&Command::Schedule { after_ms: 0 }), "{:?}", done.commands);
    }

    #[test]
    fn a_sync_that_ends_after_the_connection_went_leaves_the_status_offline() {
        let mut session = Session::new(opening());
        session.on_sync_started();
        session.on_offline();
        let done = session.on_sync_finished(Ok(report(0)), Finish { online: false, ..finish(0) });
        assert!(done.result.is_ok(), "the sync itself succeeded");
        assert_eq!(session.status(), Status::Offline);
        session.on_sync_started();
        session.on_sync_finished(Ok(report(0)), finish(0));
        assert_eq!(session.status(), Status::Synced);
    }

    #[test]
    fn initial_status_table() {
        let cases = [
            // (has server, online, auto sync, synced before) -> status
            ((false, true, true, Some(1.0)), Status::Offline),
            ((false, false, false, None), Status::Offline),
            ((true, false, true, Some(1.0)), Status::Offline),
            ((true, false, false, None), Status::Offline),
            ((true, true, true, None), Status::Syncing),
            ((true, true, true, Some(1.0)), Status::Syncing),
            ((true, true, false, Some(1.0)), Status::Synced),
            ((true, true, false, None), Status::Offline),
        ];
        for ((has_server, online, auto_sync, last_synced_at), expected) in cases {
            let session = Session::new(Opening { has_server, online, auto_sync, last_synced_at, ..opening() });
            assert_eq!(session.status(), expected, "{has_server} {online} {auto_sync} {last_synced_at:?}");
        }
    }

    #[test]
    fn opening_keeps_the_stored_failure_and_counts() {
        let failure = Failure { at: 5.0, code: "auth".into(), message: "refused".into() };
        let session =
            Session::new(Opening { pending: 3, last_synced_at: Some(7.0), last_failure: Some(failure), ..opening() });
        assert_eq!(session.last_error(), Some(&LastError { code: "auth".into(), message: "refused".into() }));
        assert_eq!((session.pending(), session.last_synced_at(), session.is_running()), (3, Some(7.0), false));
    }

    #[test]
    fn starting_keeps_the_last_error_while_syncing() {
        let failure = Failure { at: 5.0, code: "server".into(), message: "down".into() };
        let mut session = Session::new(Opening { last_failure: Some(failure), ..opening() });
        assert_eq!(session.on_sync_started(), [Command::EmitStatus]);
        assert_eq!((session.status(), session.is_running()), (Status::Syncing, true));
        assert_eq!(session.last_error().map(|e| e.code.as_str()), Some("server"));
    }

    #[test]
    fn success_without_rerun_or_pending_is_synced_and_idle() {
        let mut session = running();
        let finished = session.on_sync_finished(Ok(report(1)), finish(0));
        assert_eq!(finished.result, Ok(report(1)));
        assert_eq!(finished.commands, [Command::EmitStatus, Command::HintStatus]);
        assert_eq!((session.status(), session.last_error(), session.is_running()), (Status::Synced, None, false));
        assert_eq!((session.pending(), session.last_synced_at()), (0, Some(10_000.0)));
        let metrics = session.metrics(0, None);
        assert_eq!((metrics.syncs, metrics.failures, metrics.p50_sync_ms), (1, 0, Some(40)));
    }

    #[test]
    fn success_clears_the_last_error() {
        let mut session = running();
        session.on_sync_finished(Err(transport_failure(ErrorClass::Server, None)), finish(0));
        session.on_sync_started();
        session.on_sync_finished(Ok(report(0)), finish(0));
        assert_eq!((session.status(), session.last_error()), (Status::Synced, None));
    }

    #[test]
    fn a_trigger_while_running_runs_again_after() {
        let mut session = running();
        assert_eq!(session.on_trigger(Trigger::Poke, 0), [], "nothing scheduled while running");
        assert_eq!(session.on_trigger(Trigger::LocalWrite, 0), []);
        let finished = session.on_sync_finished(Ok(report(0)), finish(0));
        let rerun = Command::Schedule { after_ms: WRITE_DEBOUNCE_MS };
        assert_eq!(finished.commands, [Command::EmitStatus, Command::HintStatus, rerun]);
        // The rerun is taken once.
        session.on_sync_started();
        let finished = session.on_sync_finished(Ok(report(0)), finish(0));
        assert_eq!(finished.commands, [Command::EmitStatus, Command::HintStatus]);
    }

    #[test]
    fn pending_after_a_sync_that_sent_something_goes_out_next() {
        let mut session = running();
        let finished = session.on_sync_finished(Ok(report(1)), finish(2));
        assert_eq!(finished.commands.last(), Some(&Command::Schedule { after_ms: WRITE_DEBOUNCE_MS }));
        assert_eq!(session.pending(), 2);
    }

    #[test]
    fn pending_that_could_not_be_sent_waits_for_a_trigger() {
        let mut session = running();
        let finished = session.on_sync_finished(Ok(report(0)), finish(2));
        assert_eq!(finished.commands, [Command::EmitStatus, Command::HintStatus], "no spin every 250 ms");
    }

    #[test]
    fn an_unreadable_outbox_keeps_the_count_known_before() {
        let mut session = Session::new(Opening { pending: 4, ..opening() });
        session.on_sync_started();
        session.on_sync_finished(Ok(report(0)), Finish { pending: None, ..finish(0) });
        assert_eq!(session.pending(), 4);
    }

    #[test]
    fn network_and_timeout_failures_are_offline_and_ask_for_background_sync() {
        for (class, code) in [(ErrorClass::Network, "network"), (ErrorClass::Timeout, "timeout")] {
            let mut session = running();
            let finished = session.on_sync_finished(Err(transport_failure(class, None)), finish(1));
            let message = format!("sync failed ({code}): it failed");
            assert_eq!(finished.result, Err(Error::Sync { class, message: "it failed".into() }));
            assert_eq!(
                finished.commands,
                [
                    Command::RequestBackgroundSync,
                    Command::EmitStatus,
                    failure_record(code, &message),
                    Command::HintStatus,
                    Command::Schedule { after_ms: 1_000 },
                ]
            );
            assert_eq!(session.status(), Status::Offline);
            assert_eq!(session.last_error(), Some(&LastError { code: code.into(), message }));
            assert_eq!((session.pending(), session.is_running()), (1, false));
        }
    }

    #[test]
    fn auth_failures_ask_for_a_token_and_wait_for_a_trigger() {
        let mut session = running();
        let mut refused = transport_failure(ErrorClass::Auth, None);
        if let SyncError::Transport(e) = &mut refused.error {
            e.status = Some(401);
        }
        let finished = session.on_sync_finished(Err(refused), finish(0));
        let message = "sync failed (auth): it failed".to_owned();
        assert_eq!(
            finished.commands,
            [
                Command::EmitStatus,
                failure_record("auth", &message),
                Command::HintStatus,
                Command::EmitAuthRequired { message }
            ]
        );
        assert_eq!(session.status(), Status::Error);
    }

    #[test]
    fn a_token_function_failing_is_an_auth_failure_that_asks_no_sign_in() {
        let mut session = running();
        // No HTTP status: the app's token function threw before any request.
        let finished = session.on_sync_finished(Err(transport_failure(ErrorClass::Auth, None)), finish(0));
        let message = "sync failed (auth): it failed".to_owned();
        assert_eq!(finished.commands, [Command::EmitStatus, failure_record("auth", &message), Command::HintStatus]);
        assert_eq!(session.status(), Status::Error);
    }

    #[test]
    fn server_failures_back_off_and_honour_retry_after() {
        let mut session = running();
        let finished = session.on_sync_finished(Err(transport_failure(ErrorClass::Server, None)), finish(0));
        assert_eq!(finished.commands.last(), Some(&Command::Schedule { after_ms: 1_000 }));
        assert_eq!(session.status(), Status::Error);
        session.on_sync_started();
        let limited = transport_failure(ErrorClass::RateLimited, Some(12_000));
        let finished = session.on_sync_finished(Err(limited), finish(0));
        assert_eq!(finished.commands.last(), Some(&Command::Schedule { after_ms: 12_000 }));
        let metrics = session.metrics(0, None);
        assert_eq!((metrics.syncs, metrics.failures, metrics.retries), (2, 2, 1), "the second attempt is a retry");
    }

    #[test]
    fn failures_retrying_cannot_fix_schedule_nothing() {
        for class in [ErrorClass::Validation, ErrorClass::Protocol] {
            let mut session = running();
            let finished = session.on_sync_finished(Err(transport_failure(class, None)), finish(0));
            assert!(!finished.commands.iter().any(|c| matches!(c, Command::Schedule { .. })), "{class:?}");
            assert_eq!(session.status(), Status::Error);
        }
    }

    #[test]
    fn storage_failures_are_reported_as_such() {
        let mut session = running();
        let failure = SyncFailure { error: SyncError::Store(Error::Storage("disk".into())), report: report(1) };
        let finished = session.on_sync_finished(Err(failure), finish(0));
        assert_eq!(finished.result, Err(Error::Storage("disk".into())));
        assert_eq!(
            finished.commands,
            [
                Command::EmitStatus,
                failure_record("storage", "storage error: disk"),
                Command::HintStatus,
                Command::ReportStorageError(Error::Storage("disk".into())),
            ]
        );
        assert_eq!(session.status(), Status::Error);
        assert_eq!(session.metrics(0, None).pushes, 1, "what went out before the failure counts");
    }

    #[test]
    fn a_refused_start_is_an_error_without_a_sync() {
        let mut session = Session::new(opening());
        let error = Error::QuotaExceeded("full".into());
        assert_eq!(session.on_sync_refused(&error), [Command::EmitStatus, Command::ReportStorageError(error)]);
        assert_eq!((session.status(), session.is_running()), (Status::Error, false));
        assert_eq!(session.last_error().map(|e| e.code.as_str()), Some("quota-exceeded"));
    }

    #[test]
    fn triggers_schedule_through_the_scheduler() {
        let mut session = Session::new(opening());
        assert_eq!(session.on_trigger(Trigger::Online, 0), [Command::Schedule { after_ms: 0 }]);
        assert_eq!(session.on_trigger(Trigger::LocalWrite, 0), [Command::Schedule { after_ms: WRITE_DEBOUNCE_MS }]);
    }

    #[test]
    fn going_offline_shows_only_when_no_sync_runs() {
        let mut session = Session::new(Opening { last_failure: None, ..opening() });
        assert_eq!(session.on_offline(), [Command::EmitStatus]);
        assert_eq!((session.status(), session.last_error()), (Status::Offline, None));
        let mut session = running();
        assert_eq!(session.on_offline(), [], "the running sync says how it went");
        assert_eq!(session.status(), Status::Syncing);
    }

    #[test]
    fn going_offline_clears_the_last_error() {
        let failure = Failure { at: 5.0, code: "server".into(), message: "down".into() };
        let mut session = Session::new(Opening { last_failure: Some(failure), ..opening() });
        session.on_offline();
        assert_eq!(session.last_error(), None);
    }

    #[test]
    fn pending_counts_never_go_below_zero() {
        let mut session = Session::new(Opening { pending: 1, ..opening() });
        assert_eq!(session.add_pending(2), [Command::EmitStatus]);
        assert_eq!(session.pending(), 3);
        session.add_pending(-5);
        assert_eq!(session.pending(), 0);
        session.set_pending(7);
        assert_eq!(session.pending(), 7);
    }

    #[test]
    fn clearing_forgets_the_sync() {
        let mut session = Session::new(Opening { pending: 2, last_synced_at: Some(1.0), ..opening() });
        assert_eq!(session.on_cleared(), [Command::EmitStatus]);
        assert_eq!((session.pending(), session.last_synced_at()), (0, None));
    }

    #[test]
    fn a_sync_elsewhere_settles_a_status_left_at_syncing() {
        // Opened online with auto-sync: "syncing", about to sync; its own sync was then
        // skipped because another context held the flush lock.
        let fresh = || Session::new(Opening { has_server: true, online: true, auto_sync: true, ..opening() });
        let mut session = fresh();
        assert_eq!(session.status(), Status::Syncing);
        assert_eq!(session.on_synced_elsewhere(Some(5_000.0), None), [Command::EmitStatus]);
        assert_eq!((session.status(), session.last_synced_at()), (Status::Synced, Some(5_000.0)));
        // The other context's sync failed after the last success: its failure shows.
        let mut session = fresh();
        let failure = Failure { at: 6_000.0, code: "network".into(), message: "offline".into() };
        session.on_synced_elsewhere(Some(5_000.0), Some(&failure));
        assert_eq!(session.status(), Status::Offline);
        assert_eq!(session.last_error().map(|e| e.code.as_str()), Some("network"));
        // A sync running here says how it went by itself; a settled status stays.
        let mut session = running();
        assert_eq!(session.on_synced_elsewhere(Some(5_000.0), None), []);
        assert_eq!(session.status(), Status::Syncing);
        let mut session = fresh();
        session.on_synced_elsewhere(Some(5_000.0), None);
        let old = Failure { at: 4_000.0, code: "server".into(), message: "m".into() };
        assert_eq!(session.on_synced_elsewhere(Some(7_000.0), Some(&old)), []);
        assert_eq!(session.status(), Status::Synced);
    }

    #[test]
    fn health_sees_the_breaker() {
        let mut session = running();
        for _ in 0..5 {
            session.on_sync_finished(Err(transport_failure(ErrorClass::Network, None)), finish(0));
            session.on_sync_started();
        }
        assert!(session.health(0, None, 10_001).reasons.iter().any(|r| r.contains("paused")));
    }

    #[test]
    fn stream_reconnects_back_off_and_reset_after_a_connection() {
        let mut session = Session::new(opening());
        let delays: Vec<_> = (0..7)
            .map(|_| match session.on_stream_ended(false, 0.5).as_slice() {
                [Command::ReconnectStream { after_ms }] => *after_ms,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, [2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
        assert_eq!(session.on_stream_ended(true, 0.5), [Command::ReconnectStream { after_ms: 1_000 }]);
    }

    #[test]
    fn stream_reconnect_jitter_stays_within_20_percent() {
        assert_eq!(stream_reconnect_delay_ms(0, 0.0), 800);
        assert_eq!(stream_reconnect_delay_ms(0, 0.999_999), 1_199);
        assert_eq!(stream_reconnect_delay_ms(40, 0.0), 24_000);
        assert_eq!(stream_reconnect_delay_ms(u32::MAX, 0.999_999), 35_999);
    }
}
