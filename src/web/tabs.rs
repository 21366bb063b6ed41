//! Other tabs and workers of the same app share the IndexedDB database. After a change we
//! post a hint on a `BroadcastChannel` named after the database; the others re-read
//! IndexedDB (the hint carries no data, so a lost or stale hint costs nothing) and fire
//! `pwa-sync:change` with `origin: "tab"`.

use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{BroadcastChannel, MessageEvent};

use crate::web::client::Client;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Hint {
    /// A key changed (a local write, or a sync result).
    Change { collection: String, key: String },
    /// Pending count or last sync time changed.
    Status,
}

pub(crate) struct Tabs {
    channel: BroadcastChannel,
    _listener: EventListener,
}

impl Drop for Tabs {
    fn drop(&mut self) {
        self.channel.close();
    }
}

impl Tabs {
    /// `None` where BroadcastChannel does not exist: tabs then learn on their next read.
    pub fn start(client: &Rc<Client>) -> Option<Tabs> {
        let channel = BroadcastChannel::new(&format!("pwa-sync:{}", client.config.name)).ok()?;
        let weak = Rc::downgrade(client);
        let listener = EventListener::new(&channel, "message", move |event| {
            let Some(event) = event.dyn_ref::<MessageEvent>() else { return };
            let Ok(hint) = serde_wasm_bindgen::from_value::<Hint>(event.data()) else { return };
            spawn_local(receive(weak.clone(), hint));
        });
        Some(Tabs { channel, _listener: listener })
    }

    pub fn post(&self, hint: &Hint) {
        if let Ok(message) = crate::web::convert::to_js(hint) {
            // Fails only after close(), when nobody is listening anyway.
            let _ = self.channel.post_message(&message);
        }
    }
}

async fn receive(weak: Weak<Client>, hint: Hint) {
    let Some(client) = weak.upgrade() else { return };
    if client.closed.get() {
        return;
    }
    match hint {
        Hint::Change { collection, key } => client.changed_in_another_tab(&collection, &key).await,
        Hint::Status => client.refresh_status().await,
    }
}
