//! The outbox as a whole: dropping every queued write (`discardPending`) and pulling
//! everything again (`resync`). Both hold the flush lock, so no push or pull of any tab
//! or worker runs meanwhile.

use std::rc::Rc;

use super::sync::Locked;
use super::Client;
use crate::channel::Hint;
use pwa_sync_core::metrics::SyncReport;
use pwa_sync_core::store::Store;
use pwa_sync_core::Error;

impl Client {
    /// Drop every queued write and roll its record back to the server's value (with
    /// change events here and hints to other tabs). Resolves to how many were dropped.
    pub async fn discard_pending(self: &Rc<Self>) -> Result<usize, Error> {
        let (_, dropped) = self.holding(Locked::Discard).await?;
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
        self.holding(Locked::ResetCheckpoint).await?;
        self.sync_now().await
    }
}
