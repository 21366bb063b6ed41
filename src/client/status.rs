//! What the UI sees of the session: the status snapshot and its event, metrics and
//! health, and reports of storage problems.

use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::Client;
use crate::events;
use crate::sys::{self, now_ms};
use pwa_sync_core::metrics::{Health, MetricsSnapshot};
use pwa_sync_core::store::Store;
use pwa_sync_core::Error;

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

    pub async fn metrics(&self) -> Result<MetricsSnapshot, Error> {
        let (pending, oldest) = self.pending_and_oldest().await?;
        let storage = self.storage_report().await;
        let mut metrics = self.session.borrow().metrics(pending, oldest);
        metrics.storage = Some(storage);
        Ok(metrics)
    }

    pub async fn health(&self) -> Result<Health, Error> {
        let (pending, oldest) = self.pending_and_oldest().await?;
        let storage = self.storage_report().await;
        let health = self.session.borrow().health(pending, oldest, now_ms());
        Ok(health.with_storage(storage))
    }

    async fn pending_and_oldest(&self) -> Result<(usize, Option<u64>), Error> {
        let pending = self.store.pending_count().await?;
        let oldest = self.store.outbox(1).await?.first().map(|e| now_ms().saturating_sub(e.created_at as u64));
        Ok((pending, oldest))
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
