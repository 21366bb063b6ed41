//! What the UI sees of the session: the status snapshot and its event, metrics and
//! health, and reports of storage problems.

use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::Client;
use crate::convert;
use crate::events;
use crate::sys::{self, now_ms};
use pwa_sync_core::record;
use pwa_sync_core::store::Store;
use pwa_sync_core::Error;

/// What [`Client::report`] answers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// The outbox's size.
    Pending,
    /// One entry per queued write.
    PendingDetails,
    Metrics,
    Health,
    /// The newest audit entries, at most this many.
    Audit(usize),
    Conflicts,
}

impl Client {
    /// The current status; the same object until something changes.
    pub fn status(&self) -> JsValue {
        if let Some(snapshot) = self.status_snapshot.borrow().as_ref() {
            return snapshot.clone();
        }
        let session = self.session.borrow();
        let (code, message) = match session.last_error() {
            Some(error) => (sys::name(error.code.as_str()), JsValue::from_str(&error.message)),
            None => (JsValue::UNDEFINED, JsValue::UNDEFINED),
        };
        let snapshot = events::status_object(
            &sys::name(session.status().as_str()),
            session.pending() as f64,
            &session.last_synced_at().map_or(JsValue::NULL, JsValue::from),
            &code,
            &message,
        );
        *self.status_snapshot.borrow_mut() = Some(snapshot.clone());
        snapshot
    }

    /// `pwa-sync:status` with a fresh snapshot.
    pub(super) fn status_changed(&self) {
        self.status_snapshot.borrow_mut().take();
        self.events.emit(events::STATUS, &self.status());
    }

    /// Re-read what the status shows from storage (another tab may have changed it).
    pub(super) async fn refresh_status(self: &Rc<Self>) {
        let pending = self.store.pending_count().await;
        let meta = self.store.meta().await;
        // A closed client announces no status (a wipe in another tab closed it).
        if self.is_closed() {
            return;
        }
        if let Ok(Some(meta)) = meta {
            let commands =
                self.session.borrow_mut().on_synced_elsewhere(meta.last_synced_at, meta.last_failure.as_ref());
            self.carry_out_now(commands);
        }
        match pending {
            Ok(pending) => {
                let commands = self.session.borrow_mut().set_pending(pending);
                self.carry_out_now(commands);
            }
            Err(e) => self.report_storage_error(&e),
        }
    }

    /// What `pending()`, `pending({details: true})`, `metrics()`, `health()`, `audit()` and
    /// `conflicts()` answer, as the app gets it. One state machine for the six, which read
    /// from the store and convert what they read: four of them read the same things (the
    /// outbox's size and entries, the metadata, the storage estimate), and each method had
    /// its own state machine with its own copy of these reads' futures (bench/README.md
    /// "Size").
    pub async fn report(self: &Rc<Self>, report: Report) -> Result<JsValue, Error> {
        match report {
            Report::Audit(limit) => {
                let entries = self.store.audit(limit).await?;
                self.report_skipped();
                return convert::to_js(&entries);
            }
            Report::Conflicts => {
                let conflicts = self.store.conflicts().await?;
                self.report_skipped();
                return convert::to_js(&conflicts);
            }
            _ => {}
        }
        let details = report == Report::PendingDetails;
        let pending = if details { 0 } else { self.store.pending_count().await? };
        if report == Report::Pending {
            // The outbox size is shown in the status too.
            let commands = self.session.borrow_mut().set_pending(pending);
            self.carry_out_now(commands);
            return Ok(JsValue::from(pending as f64));
        }
        // Every entry for the details, the oldest for the vitals.
        let entries = self.store.outbox(if details { usize::MAX } else { 1 }).await?;
        if details {
            // One entry per queued write, oldest first, with why the last attempt failed.
            let meta = self.store.meta().await?;
            let last_failure = meta.as_ref().and_then(|m| m.last_failure.as_ref());
            return convert::to_js(&record::PendingWrite::describe(entries, last_failure));
        }
        let oldest = entries.first().map(|e| now_ms().saturating_sub(e.created_at as u64));
        let storage = self.storage_report().await;
        let session = self.session.borrow();
        if report == Report::Health {
            return convert::to_js(&session.health(pending, oldest, now_ms()).with_storage(storage));
        }
        let mut metrics = session.metrics(pending, oldest);
        metrics.storage = Some(storage);
        convert::to_js(&metrics)
    }

    /// Records IndexedDB gave back that we could not read: announce each, keep going.
    pub(super) fn report_skipped(&self) {
        for problem in self.store.take_skipped() {
            self.report_storage_error(&Error::Storage(format!("skipped an unreadable record: {problem}")));
        }
    }

    pub(super) fn report_storage_error(&self, error: &Error) {
        if matches!(error, Error::Storage(_) | Error::QuotaExceeded(_)) {
            let detail = events::object(&[("code", error.code().into()), ("message", error.to_string().into())]);
            self.events.emit(events::STORAGE_ERROR, &detail);
        }
    }
}
