//! The client behind `SyncClient`: one open database, its sync session, and what runs in
//! the background for it. Its fields are private; the JS API (`api.rs`) and the
//! background triggers (`background.rs`) go through methods and hand in parsed Rust
//! types. Split by job:
//! - `open`: opening the database and starting what runs in the background;
//! - `local`: reads and local writes, export, audit, clear;
//! - `query`: queries, counts and their plans; `watch`: live results (issue 17);
//! - `sync`: running syncs and carrying out the session's commands;
//! - `status`: the status snapshot, metrics and health, reports to the UI;
//! - `conflicts`: open conflicts, settling them, and the app's resolvers;
//! - `observer`: the engine's effects as DOM events while a sync runs;
//! - `tabs`: hints to and from the other tabs and workers of the app;
//! - `persistence`: persistent storage, usage and quota, and eviction.

mod conflicts;
mod local;
mod observer;
mod open;
mod persistence;
mod query;
mod queue;
mod spaces;

/// The event details' shapes, for the browser suites' test of their texts.
#[cfg(feature = "testing")]
pub use observer::ConflictDetail;
pub use persistence::persist;
#[cfg(feature = "testing")]
pub use spaces::SpacesDetail;
pub use status::Report;
pub use sync::Locked;
mod status;
mod sync;
mod tabs;
mod watch;

use std::cell::{Cell, RefCell};

use js_sys::Function;
use wasm_bindgen::JsValue;

use crate::background::Background;
use crate::channel::TabLinks;
use crate::events::{self, Events};
use crate::transport::HttpTransport;
use pwa_sync_core::config::{ClientConfig, CollectionConfig};
use pwa_sync_core::protocol::SpaceRole;
use pwa_sync_core::session::Session;
use pwa_sync_core::Error;

pub(crate) use self::conflicts::ConflictChoice;
pub(crate) use self::watch::Target as WatchTarget;

/// The app's conflict resolver functions by collection name: a list (an app has a few,
/// and a map type is a whole hash table compiled into the module).
pub(crate) type Resolvers = Vec<(String, Function)>;

pub(crate) struct Client {
    config: ClientConfig,
    store: crate::idb::IdbStore,
    events: Events,
    transport: Option<HttpTransport>,
    client_id: RefCell<String>,
    /// The app's conflict resolver functions, by collection.
    resolvers: Resolvers,
    /// The app's migrations: pulled values of an older schema version go through them.
    migrations: std::rc::Rc<crate::migrate::Migrations>,
    closed: Cell<bool>,
    /// This client left the marker that its database holds something (`persistence`).
    marked: Cell<bool>,
    session: RefCell<Session>,
    background: RefCell<Option<Background>>,
    tabs: RefCell<Option<TabLinks>>,
    /// `status()` returns the same object until something changes, so React's
    /// `useSyncExternalStore` can use it as a snapshot directly.
    status_snapshot: RefCell<Option<JsValue>>,
    /// The user's spaces and roles as last heard from the server (`spaces()`); `None`
    /// until then. A write into a space known to be read-only is refused at once.
    spaces: RefCell<Option<Vec<SpaceRole>>>,
    /// The server poked this client since its last sync: a sync after a poke that moved
    /// nothing was most likely a change of the user's memberships (see `spaces.rs`).
    poked: Cell<bool>,
    /// An event a worker relayed is being dispatched: its value is the worker's as of its
    /// write, possibly older than this context's since (`watch` reads instead of using it).
    relaying: Cell<bool>,
    /// A background sync waits for the flush lock another context holds: one is enough.
    awaiting_flush: Cell<bool>,
    /// `get_now`'s and `count_now`'s settling functions, made at their first calls.
    read_settler: std::cell::OnceCell<Function>,
    count_settler: std::cell::OnceCell<Function>,
}

/// The non-JSON parts of the config, taken out by the API layer.
pub(crate) struct Extras {
    pub event_target: Option<web_sys::EventTarget>,
    pub token: Option<JsValue>,
    pub resolvers: Resolvers,
    /// The config's `encryption` (its key's type checked): the cipher is loaded when an
    /// IndexedDB store opens.
    pub encryption: Option<JsValue>,
    /// The app's `migrations` (for `version`), for the store's upgrade and pulled values.
    pub migrations: std::rc::Rc<crate::migrate::Migrations>,
}

impl Client {
    pub fn close(&self) {
        if !self.closed.replace(true) {
            // Timers, listeners, the event stream and the channel stop when dropped.
            self.background.borrow_mut().take();
            self.tabs.borrow_mut().take();
            self.store.close();
        }
    }

    /// Another context ran `clear()` (logout): this client closes, so nothing of the old
    /// session writes into the database again; the app reopens after signing in.
    fn wiped_elsewhere(&self) {
        if self.closed.get() {
            return;
        }
        self.close();
        self.events.emit(events::CLEARED, &events::object(&[("origin", "tab".into())]));
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn collection(&self, name: &str) -> Result<&CollectionConfig, Error> {
        self.config.collection(name)
    }

    /// `None` for a local-only client.
    pub fn transport(&self) -> Option<&HttpTransport> {
        self.transport.as_ref()
    }

    /// Where this client dispatches its events.
    pub fn event_target(&self) -> web_sys::EventTarget {
        self.events.target().clone()
    }

    /// The id this client sends with its mutations (it changes on `clear()`).
    pub fn client_id(&self) -> String {
        self.client_id.borrow().clone()
    }
}
