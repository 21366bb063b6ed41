//! The user's spaces and roles: asked of the server (`spaces()`), kept to refuse writes a
//! reader cannot make, and announced (`pwa-sync:spaces`) when they change, also when a
//! pull says a space was revoked.

use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::Client;
use crate::convert;
use crate::events;
use pwa_sync_core::json::{JsonText, ToJson};
use pwa_sync_core::metrics::SyncReport;
use pwa_sync_core::protocol::SpaceRole;
use pwa_sync_core::Error;

/// `pwa-sync:spaces` detail.
pub struct SpacesDetail<'a> {
    pub spaces: &'a [SpaceRole],
    pub revoked: &'a [String],
}

impl ToJson for SpacesDetail<'_> {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("spaces", self.spaces);
        out.field("revoked", self.revoked);
        out.close_object();
    }
}

impl Client {
    /// Spaces this client knows it may only read.
    pub(super) fn read_only_spaces(&self) -> Vec<String> {
        // A loop, not a collect over `flatten`: that adapter's `from_iter` was ~800 bytes.
        let mut read_only = Vec::new();
        for space in self.spaces.borrow().iter().flatten() {
            if !space.role.can_write() {
                read_only.push(space.id.clone());
            }
        }
        read_only
    }

    /// The user's spaces and roles, from the server.
    pub async fn spaces(self: &Rc<Self>) -> Result<JsValue, Error> {
        let transport = self.transport.as_ref().ok_or(Error::LocalOnly)?;
        let answer = transport.spaces().await.map_err(|e| Error::Sync { class: e.class, message: e.message })?;
        self.learn_spaces(answer.spaces.clone(), &[]);
        convert::to_js(&answer.spaces)
    }

    /// After a sync, ask the server for the user's spaces again (which announces any
    /// change) when they may have changed:
    /// - a pulled change came from a shared space this client did not know: the user
    ///   joined it (or `spaces()` was never asked);
    /// - the server poked this client and the sync moved nothing, while the app follows
    ///   spaces: a poke with nothing to pull is what a membership change sends, such as
    ///   a role changed (joins and losses also show in the pull itself).
    ///
    /// A failure here is not the sync's: the next such sync asks again, and `spaces()`
    /// reports its own errors to the app.
    pub(super) async fn learn_changed_spaces(self: &Rc<Self>, report: &SyncReport, poked: bool) {
        let (unknown, followed) = {
            let known = self.spaces.borrow();
            let unknown = report.shared_spaces.iter().any(|s| !known.iter().flatten().any(|k| &k.id == s));
            (unknown, known.is_some())
        };
        let idle_poke = poked && followed && report.pulled == 0 && report.pushed == 0;
        if unknown || idle_poke {
            let _ = self.spaces().await;
        }
    }

    /// A pull said these spaces were revoked (their records are gone by now).
    pub(super) fn spaces_revoked(&self, revoked: &[String]) {
        let known = self.spaces.borrow().clone().unwrap_or_default();
        self.learn_spaces(known.into_iter().filter(|s| !revoked.contains(&s.id)).collect(), revoked);
    }

    fn learn_spaces(&self, mut spaces: Vec<SpaceRole>, revoked: &[String]) {
        pwa_sync_core::sort::sort_by(&mut spaces, |a, b| a.id.cmp(&b.id));
        let changed = self.spaces.borrow().as_ref() != Some(&spaces) || !revoked.is_empty();
        *self.spaces.borrow_mut() = Some(spaces);
        if changed {
            let known = self.spaces.borrow();
            let detail = SpacesDetail { spaces: known.as_deref().unwrap_or_default(), revoked };
            if let Ok(detail) = convert::to_js(&detail) {
                self.events.emit(events::SPACES, &detail);
            }
        }
    }
}
