//! The outbox as a whole: dropping every queued write (`discardPending`), holding the
//! flush lock (`Client::locked`), so no push or pull of any tab or worker runs meanwhile.

use std::rc::Rc;

use super::observer::WebObserver;
use super::Client;
use crate::channel::Hint;
use pwa_sync_core::engine;
use pwa_sync_core::store::Store;
use pwa_sync_core::Error;

impl Client {
    /// `discardPending`'s work, holding the flush lock: drop every queued write and roll
    /// its record back to the server's value (with change events here and hints to other
    /// tabs). Answers how many were dropped.
    pub(super) async fn discard_here(self: &Rc<Self>) -> Result<usize, Error> {
        let dropped = engine::discard_pending(&self.store, &WebObserver { client: self }).await?;
        let pending = self.store.pending_count().await?;
        let commands = self.session.borrow_mut().set_pending(pending);
        self.carry_out_now(commands);
        self.hint(Hint::Status);
        Ok(dropped)
    }
}
