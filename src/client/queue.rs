//! The outbox as a whole: dropping every queued write (`discardPending`), holding the
//! flush lock (`Client::locked`), so no push or pull of any tab or worker runs meanwhile.

use std::rc::Rc;

use super::observer::WebObserver;
use super::Client;
use crate::channel::Hint;
use pwa_sync_core::engine;
use pwa_sync_core::Error;

impl Client {
    /// `discardPending`'s work, holding the flush lock: drop every queued write and roll
    /// its record back to the server's value (with change events here and hints to other
    /// tabs). Answers how many were dropped.
    pub(super) async fn discard_here(self: &Rc<Self>) -> Result<usize, Error> {
        let dropped = engine::discard_pending(&self.store, &WebObserver { client: self }).await?;
        // The outbox's new size, as another tab's hint is taken: the writes are dropped, so
        // a failed read is reported, not this call's rejection.
        self.refresh_status().await;
        self.hint(Hint::Status);
        Ok(dropped)
    }
}
