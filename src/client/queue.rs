//! The outbox as a whole: dropping every queued write (`discardPending`) and pulling
//! everything again (`resync`). Both hold the flush lock, so no push or pull of any tab
//! or worker runs meanwhile.

use std::rc::Rc;

use super::observer::WebObserver;
use super::Client;
use crate::channel::Hint;
use crate::locks;
use pwa_sync_core::engine;
use pwa_sync_core::metrics::SyncReport;
use pwa_sync_core::store::Store;
use pwa_sync_core::Error;

impl Client {
    /// Drop every queued write and roll its record back to the server's value (with
    /// change events here and hints to other tabs). Resolves to how many were dropped.
    pub async fn discard_pending(self: &Rc<Self>) -> Result<usize, Error> {
        let client = self.clone();
        let dropped = locks::with_lock(&self.flush_lock(), true, move || async move {
            engine::discard_pending(&client.store, &WebObserver { client: &client }).await
        })
        .await?
        .unwrap_or_else(|| Err(Error::Storage("the flush lock was not granted".into())))?;
        let pending = self.store.pending_count().await?;
        let commands = self.session.borrow_mut().set_pending(pending);
        self.carry_out_now(commands);
        self.hint(Hint::Status);
        Ok(dropped)
    }

    /// Pull every document again from the start, keeping pending writes: the checkpoint
    /// goes back to 0 (for every tab: it is shared), then a sync runs.
    pub async fn resync(self: &Rc<Self>) -> Result<SyncReport, Error> {
        if self.transport.is_none() {
            return Err(Error::LocalOnly);
        }
        let client = self.clone();
        locks::with_lock(
            &self.flush_lock(),
            true,
            move || async move { engine::reset_checkpoint(&client.store).await },
        )
        .await?
        .unwrap_or_else(|| Err(Error::Storage("the flush lock was not granted".into())))?;
        self.sync_now().await
    }
}
