//! The user's spaces and roles: asked of the server (`spaces()`), kept to refuse writes a
//! reader cannot make, and announced (`pwa-sync:spaces`) when they change, also when a
//! pull says a space was revoked.

use std::collections::BTreeSet;
use std::rc::Rc;

use serde::Serialize;
use wasm_bindgen::JsValue;

use super::Client;
use crate::convert;
use crate::events;
use pwa_sync_core::protocol::SpaceRole;
use pwa_sync_core::Error;

#[derive(Serialize)]
struct SpacesDetail<'a> {
    spaces: &'a [SpaceRole],
    revoked: &'a [String],
}

impl Client {
    /// Spaces this client knows it may only read.
    pub(super) fn read_only_spaces(&self) -> Vec<String> {
        let known = self.spaces.borrow();
        known.iter().flatten().filter(|s| !s.role.can_write()).map(|s| s.id.clone()).collect()
    }

    /// The user's spaces and roles, from the server.
    pub async fn spaces(self: &Rc<Self>) -> Result<JsValue, Error> {
        let transport = self.transport.as_ref().ok_or(Error::LocalOnly)?;
        let answer = transport.spaces().await.map_err(|e| Error::Sync { class: e.class, message: e.message })?;
        self.learn_spaces(answer.spaces.clone(), &[]);
        convert::to_js(&answer.spaces)
    }

    /// After a sync: a pulled change came from a shared space this client did not know
    /// (the user joined it, or `spaces()` was never asked), so ask the server again, which
    /// announces the change. A failure here is not the sync's: the next pull that brings
    /// the space asks again, and `spaces()` reports its own errors to the app.
    pub(super) async fn learn_joined_spaces(self: &Rc<Self>, seen: &BTreeSet<String>) {
        let unknown = {
            let known = self.spaces.borrow();
            let known = known.as_deref().unwrap_or_default();
            seen.iter().any(|s| !known.iter().any(|k| &k.id == s))
        };
        if unknown {
            let _ = self.spaces().await;
        }
    }

    /// A pull said these spaces were revoked (their records are gone by now).
    pub(super) fn spaces_revoked(&self, revoked: &[String]) {
        let known = self.spaces.borrow().clone().unwrap_or_default();
        self.learn_spaces(known.into_iter().filter(|s| !revoked.contains(&s.id)).collect(), revoked);
    }

    fn learn_spaces(&self, mut spaces: Vec<SpaceRole>, revoked: &[String]) {
        spaces.sort_by(|a, b| a.id.cmp(&b.id));
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
