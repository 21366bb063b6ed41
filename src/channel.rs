//! The channels between the contexts (tabs, workers) of one database: the tabs' script
//! (`js/tabs.js`, reached as `pwaSyncTabs`) opens them, encodes and decodes the hints and
//! batches changed keys; this is its binding. What a client does with a hint it hears is
//! the client's business (`client::tabs`).

use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(js_namespace = pwaSyncTabs)]
extern "C" {
    /// A context's ties to the others of its database (`pwaSyncTabs.open`).
    type Links;

    /// `null` where BroadcastChannel does not exist. `heard(kind, collection, keys)` gets
    /// each hint from another context; in a page, `relayed(name, detail)` each event a
    /// worker relays.
    #[wasm_bindgen(js_name = open)]
    fn open_links(database: &str, in_worker: bool, heard: &JsValue, relayed: &JsValue) -> Option<Links>;

    /// Post `kind` ("status" or "wipe"), after the buffered changes.
    #[wasm_bindgen(method)]
    fn post(this: &Links, kind: &str);

    /// Say that `key` changed, together with every other key changed within 16 ms.
    #[wasm_bindgen(method)]
    fn change(this: &Links, collection: &JsValue, key: &JsValue);

    #[wasm_bindgen(method)]
    fn close(this: &Links);
}

/// What a client tells its peers besides changed keys.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hint {
    /// Pending count or last sync time changed.
    Status,
    /// `clear()` (logout) ran in this context: close, the data is gone.
    Wipe,
}

/// What the script passes on: a hint (`kind`, `collection`, `keys`), or in a page a
/// relayed event (`name`, `detail`, `undefined`). One signature for both, so one shim.
pub(crate) type Heard = Closure<dyn FnMut(JsValue, JsValue, JsValue)>;

/// A client's links to the other contexts of its database; closed when dropped, at once
/// (nothing is posted or heard after the client closes).
pub(crate) struct TabLinks {
    links: Links,
    _heard: Heard,
    _relayed: Heard,
}

impl Drop for TabLinks {
    fn drop(&mut self) {
        self.links.close();
    }
}

impl TabLinks {
    /// `None` where BroadcastChannel does not exist: peers then learn on their next read.
    pub fn open(database: &str, in_worker: bool, heard: Heard, relayed: Heard) -> Option<TabLinks> {
        let links = open_links(database, in_worker, heard.as_ref(), relayed.as_ref())?;
        Some(TabLinks { links, _heard: heard, _relayed: relayed })
    }

    pub fn post(&self, hint: Hint) {
        self.links.post(match hint {
            Hint::Status => "status",
            Hint::Wipe => "wipe",
        });
    }

    /// Say that `key` changed, together with every other key changed within the next
    /// frame (16 ms): one message per collection.
    pub fn post_change(&self, collection: &JsValue, key: &JsValue) {
        self.links.change(collection, key);
    }
}
