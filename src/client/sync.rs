//! Running syncs, and carrying out what the session decides about them: the session
//! (`pwa_sync_core::session`) says what a trigger, a finished sync or a lost connection
//! means; this turns its commands into events, timers, tab hints and storage writes.

use std::rc::Rc;

use super::observer::WebObserver;
use super::Client;
use crate::background::Driven;
use crate::background_sync::request_background_sync;
use crate::channel::Hint;
use crate::events;
use crate::locks;
use crate::sys::{is_online, now_ms};
use crate::transport::HttpTransport;
use pwa_sync_core::engine;
use pwa_sync_core::metrics::SyncReport;
use pwa_sync_core::record::Failure;
use pwa_sync_core::schedule::Trigger;
use pwa_sync_core::session::{Command, Finish};
use pwa_sync_core::store::Store;
use pwa_sync_core::Error;

/// What the app's calls do holding the flush lock (`Client::locked`).
#[derive(Clone, Copy, PartialEq)]
pub enum Locked {
    Sync,
    /// `resync`: the checkpoint back to 0, then a sync.
    Resync,
    /// `discardPending`: every queued write dropped, its record rolled back.
    Discard,
    /// `clear`: everything wiped under a new identity.
    Clear,
    /// A sync nobody waits for (`sync_in_background`); after waiting for the lock, only
    /// if writes are still queued.
    Background,
}

/// The background (timers, listeners, the event stream) drives the client through these.
impl Driven for Client {
    fn trigger(self: &Rc<Self>, trigger: Trigger) {
        Client::trigger(self, trigger)
    }

    fn went_offline(self: &Rc<Self>) {
        let commands = self.session.borrow_mut().on_offline();
        self.carry_out_now(commands);
    }

    fn timer_fired(self: &Rc<Self>) {
        self.sync_soon();
    }

    fn stream_ended(self: &Rc<Self>, connected: bool) -> u32 {
        let commands = self.session.borrow_mut().on_stream_ended(connected, js_sys::Math::random());
        let mut wait = 0;
        for command in commands {
            match command {
                // Carried out by the stream's loop, which waits this long.
                Command::ReconnectStream { after_ms } => wait = after_ms.min(u32::MAX as u64) as u32,
                other => self.carry_out_one(other),
            }
        }
        wait
    }

    fn transport(&self) -> Option<&HttpTransport> {
        Client::transport(self)
    }
}

impl Client {
    /// Something happened that may call for a sync.
    pub fn trigger(self: &Rc<Self>, trigger: Trigger) {
        if self.closed.get() || self.transport.is_none() {
            return;
        }
        if trigger == Trigger::Poke {
            self.poked.set(true);
        }
        let commands = self.session.borrow_mut().on_trigger(trigger, now_ms());
        self.carry_out_now(commands);
    }

    /// One of the app's calls that hold the flush lock (a sync, `resync`,
    /// `discardPending`, `clear`), waiting for it: no push or pull of any tab or worker
    /// runs meanwhile. One await for all of them, where each had its own, through the one
    /// `with_lock` instance (`hold`; bench/README.md "Size"). Answers a sync's report, or how many queued
    /// writes were dropped.
    pub async fn locked(self: &Rc<Self>, work: Locked) -> Result<(SyncReport, usize), Error> {
        if matches!(work, Locked::Sync | Locked::Resync) && self.transport.is_none() {
            return Err(Error::LocalOnly);
        }
        let done = self.hold(work, true).await?;
        let done = done.unwrap_or_else(|| Err(Error::Storage("the flush lock was not granted".into())))?;
        if work == Locked::Clear {
            self.events.emit(events::CLEARED, &events::object(&[("origin", "local".into())]));
        }
        Ok(done)
    }

    /// `work` holding the flush lock: waiting for it, or (`wait` false) `Ok(None)` at once
    /// when another context holds it. The one `with_lock` instance in the module, for the
    /// app's calls and for a background sync alike.
    async fn hold(
        self: &Rc<Self>,
        work: Locked,
        wait: bool,
    ) -> Result<Option<Result<(SyncReport, usize), Error>>, Error> {
        let client = self.clone();
        locks::with_lock(&self.flush_lock(), wait, move || async move {
            let none = SyncReport::default();
            // One await of `sync_here` for the calls that sync (each await is a copy of
            // its future's state in this one).
            let sync = match work {
                Locked::Sync => true,
                // After waiting, the holder may have sent the writes already.
                Locked::Background => !wait || client.store.pending_count().await.is_ok_and(|n| n > 0),
                // Pull every document again from the start, keeping pending writes: the
                // checkpoint (shared by every tab) back to 0, then a sync.
                Locked::Resync => match engine::reset_checkpoint(&client.store).await {
                    Ok(()) => true,
                    Err(e) => return Err(e),
                },
                Locked::Discard => return client.discard_here().await.map(|n| (none, n)),
                Locked::Clear => return client.clear_here().await.map(|()| (none, 0)),
            };
            match sync {
                true => client.sync_here().await.map(|report| (report, 0)),
                false => Ok((none, 0)),
            }
        })
        .await
    }

    /// Start a sync nobody waits for (`sync_in_background`): the one place that spawns
    /// it, so its future is one type in the module, not one per caller.
    pub(super) fn sync_soon(self: &Rc<Self>) {
        let client = self.clone();
        // Reported through status and events like any background sync.
        crate::sys::spawn(async move { client.sync_in_background().await });
    }

    /// A sync nobody waits for: skipped when another context is flushing already (it
    /// posts a status hint when done, and the outbox is shared), unless writes are queued.
    async fn sync_in_background(self: &Rc<Self>) {
        // Failures are reported through status, events and the next scheduled attempt.
        // A loop of at most two turns (try, then wait once) rather than two calls: one
        // await of `hold`, whose `with_lock` instance the app's calls share.
        let mut wait = false;
        loop {
            let ran = self.hold(Locked::Background, wait).await;
            if wait {
                self.awaiting_flush.set(false);
                return;
            }
            // Another context held the lock (a tab, the service worker). Should its attempt
            // fail (it began offline), nothing would send the queued writes before this
            // context's next trigger: wait for the lock once, then sync if writes remain.
            // One waiter at a time: many stale `get`s must not queue a sync each.
            if !matches!(ran, Ok(None)) || self.session.borrow().pending() == 0 || self.awaiting_flush.replace(true) {
                return;
            }
            wait = true;
        }
    }

    /// `pwa-sync:<name>:flush`: held by whoever pushes and pulls for this database.
    pub(super) fn flush_lock(&self) -> String {
        format!("pwa-sync:{}:flush", self.config.name)
    }

    async fn sync_here(self: &Rc<Self>) -> Result<SyncReport, Error> {
        let Some(transport) = &self.transport else { return Err(Error::LocalOnly) };
        while self.session.borrow().is_running() {
            crate::background::sleep(10).await;
        }
        if self.closed.get() {
            return Err(Error::Closed);
        }
        // Another context may have wiped the database (logout) before its message reached
        // us: then the stored identity is not ours, and syncing would bring the old
        // session's data back.
        let stored_id = match self.store.meta().await {
            Ok(meta) => meta.map(|m| m.client_id),
            Err(e) => {
                let commands = self.session.borrow_mut().on_sync_refused(&e);
                self.carry_out_now(commands);
                return Err(e);
            }
        };
        if stored_id.as_deref() != Some(self.client_id.borrow().as_str()) {
            match self.store.take_recreated() {
                // This client's own store made that identity: the database was deleted
                // under it, and the new one holds what was written since (under a new
                // client id, as its outbox numbers entries from 1 again).
                Some(id) if stored_id.as_deref() == Some(id.as_str()) => self.adopt_recreated(id),
                _ => {
                    self.wiped_elsewhere();
                    return Err(Error::Closed);
                }
            }
        }
        let commands = self.session.borrow_mut().on_sync_started();
        self.carry_out_now(commands);
        let started = js_sys::Date::now();
        let result = engine::sync(&self.config, &self.store, transport, &WebObserver { client: self }).await;
        // Outbox entries the sync had to skip as unreadable are announced now.
        self.report_skipped();
        let duration_ms = (js_sys::Date::now() - started) as u64;
        let pending = self.store.pending_count().await.ok();
        let finish =
            Finish { duration_ms, pending, now_ms: now_ms(), random: js_sys::Math::random(), online: is_online() };
        if let Ok(report) = &result {
            // The database now holds a checkpoint: losing it would lose something.
            self.remember_device();
            let poked = self.poked.replace(false);
            self.learn_changed_spaces(report, poked).await;
        }
        let finished = self.session.borrow_mut().on_sync_finished(result, finish);
        self.carry_out(finished.commands).await;
        finished.result
    }

    /// Carry out the session's commands in order, waiting for storage writes.
    async fn carry_out(self: &Rc<Self>, commands: Vec<Command>) {
        for command in commands {
            match command {
                Command::RecordFailure(failure) => self.record_failure(failure).await,
                other => self.carry_out_one(other),
            }
        }
    }

    /// Carry out commands where nothing can wait: a storage write among them goes on
    /// without being waited for (only finished syncs ask for one, and they wait).
    pub(super) fn carry_out_now(self: &Rc<Self>, commands: Vec<Command>) {
        for command in commands {
            self.carry_out_one(command);
        }
    }

    fn carry_out_one(self: &Rc<Self>, command: Command) {
        match command {
            Command::EmitStatus => self.status_changed(),
            Command::HintStatus => self.hint(Hint::Status),
            Command::Schedule { after_ms } => {
                if let Some(background) = self.background.borrow().as_ref() {
                    background.schedule(after_ms);
                }
            }
            Command::RequestBackgroundSync => request_background_sync(&self.config.sync_tag),
            Command::RecordFailure(failure) => {
                let client = self.clone();
                crate::sys::spawn(async move { client.record_failure(failure).await });
            }
            Command::EmitAuthRequired { message } => {
                self.events.emit(events::AUTH_REQUIRED, &events::object(&[("message", message.into())]));
            }
            Command::ReportStorageError(error) => self.report_storage_error(&error),
            // Only the stream's loop asks for this one, and it waits itself.
            Command::ReconnectStream { .. } => {}
        }
    }

    async fn record_failure(&self, failure: Failure) {
        if let Err(e) = engine::record_failure(&self.store, failure).await {
            self.report_storage_error(&e);
        }
    }
}
