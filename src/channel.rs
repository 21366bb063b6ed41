//! BroadcastChannels between the contexts (tabs, workers) of one origin: a channel that
//! closes when dropped, and the hints a client sends its peers on the database's channel,
//! with their encoding and the batching of changed keys. What a client does with a hint
//! it receives is the client's business (`client::tabs`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_events::EventListener;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

use crate::convert;
use crate::events;

/// A BroadcastChannel and its listener; closed when dropped.
pub(crate) struct Channel {
    channel: BroadcastChannel,
    _listener: EventListener,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.channel.close();
    }
}

impl Channel {
    /// `None` where BroadcastChannel does not exist.
    pub fn open(name: &str, on_message: impl Fn(JsValue) + 'static) -> Option<Channel> {
        let channel = BroadcastChannel::new(name).ok()?;
        let listener = EventListener::new(&channel, "message", move |event| {
            if let Some(event) = event.dyn_ref::<MessageEvent>() {
                on_message(event.data());
            }
        });
        Some(Channel { channel, _listener: listener })
    }
}

/// Posted as `{kind: "change" | "changes" | "status" | "wipe", collection?, key?, keys?,
/// worker?}`, built and read property by property ([`Hint::to_js`], [`Hint::from_js`]):
/// serde's derive for an internally tagged enum buffers every message in its `Content`
/// tree, ~10 KB of wasm for four small shapes (bench/README.md "Size").
#[derive(Debug, Clone)]
pub(crate) enum Hint {
    /// A key changed (a local write, or a sync result). `worker`: said by a worker, whose
    /// events pages also get relayed (so pages skip these hints). Read for tabs of
    /// earlier versions; this version sends `Changes`.
    Change { collection: String, key: String, worker: bool },
    /// Keys of one collection changed: every change within `HINT_DELAY_MS` (a `putMany`,
    /// a pulled page, a run of `put`s) in one message instead of one per key.
    Changes { collection: String, keys: Vec<String>, worker: bool },
    /// Pending count or last sync time changed.
    Status,
    /// `clear()` (logout) ran in another context: close, the data is gone.
    Wipe,
}

impl Hint {
    /// The message posted for this hint.
    pub fn to_js(&self) -> JsValue {
        let message = Object::new();
        let set = |name: &str, value: &JsValue| {
            // Setting a property of a fresh plain object cannot fail.
            let _ = Reflect::set(&message, &name.into(), value);
        };
        let (kind, collection, worker) = match self {
            Hint::Change { collection, key, worker } => {
                set("key", &key.into());
                ("change", Some(collection), Some(*worker))
            }
            Hint::Changes { collection, keys, worker } => {
                let names = Array::new();
                for key in keys {
                    names.push(&JsValue::from_str(key));
                }
                set("keys", &names);
                ("changes", Some(collection), Some(*worker))
            }
            Hint::Status => ("status", None, None),
            Hint::Wipe => ("wipe", None, None),
        };
        set("kind", &kind.into());
        if let Some(collection) = collection {
            set("collection", &collection.into());
        }
        if let Some(worker) = worker {
            set("worker", &worker.into());
        }
        message.into()
    }

    /// The hint a message carries; `None` for anything else on the channel (a newer
    /// version's message, a field missing or of another type).
    pub fn from_js(message: &JsValue) -> Option<Hint> {
        if !message.is_object() {
            return None;
        }
        let string = |name: &str| convert::prop(message, name).as_string();
        let worker = || convert::prop(message, "worker").as_bool();
        match string("kind")?.as_str() {
            "change" => {
                Some(Hint::Change { collection: string("collection")?, key: string("key")?, worker: worker()? })
            }
            "changes" => {
                let sent = convert::prop(message, "keys").dyn_into::<Array>().ok()?;
                let mut keys = Vec::with_capacity(sent.length() as usize);
                for key in sent.iter() {
                    keys.push(key.as_string()?);
                }
                Some(Hint::Changes { collection: string("collection")?, keys, worker: worker()? })
            }
            "status" => Some(Hint::Status),
            "wipe" => Some(Hint::Wipe),
            _ => None,
        }
    }
}

/// The channel named after a database, carrying hints. The hints carry no data: peers
/// re-read IndexedDB, so a lost or stale hint costs nothing.
pub(crate) struct Hints {
    /// Closed when dropped, at once: the queued flush's handle is the same JS object, so
    /// nothing is sent after the client closes.
    _channel: Channel,
    outgoing: Rc<Outgoing>,
}

/// How long changed keys wait to be posted together.
const HINT_DELAY_MS: u32 = 16;

impl Hints {
    /// `None` where BroadcastChannel does not exist: peers then learn on their next read.
    pub fn open(database: &str, on_hint: impl Fn(Hint) + 'static) -> Option<Hints> {
        let channel = Channel::open(&format!("pwa-sync:{database}"), move |data| {
            // Anything else on the channel (a newer version's message) is not for us.
            if let Some(hint) = Hint::from_js(&data) {
                on_hint(hint);
            }
        })?;
        let outgoing = Rc::new(Outgoing {
            channel: channel.channel.clone(),
            changed: RefCell::new(Vec::new()),
            flush_queued: Cell::new(false),
        });
        Some(Hints { _channel: channel, outgoing })
    }

    pub fn post(&self, hint: &Hint) {
        self.outgoing.flush();
        self.outgoing.send(hint);
    }

    /// Say that `key` changed, together with every other key changed within the next
    /// frame (16 ms): a `putMany`, a pulled page or a run of awaited `put`s posts once per
    /// collection instead of once per key (a post costs ~0.1 ms of the writer's thread).
    pub fn post_change(&self, collection: &str, key: &str) {
        let outgoing = &self.outgoing;
        let mut changed = outgoing.changed.borrow_mut();
        match changed.iter_mut().find(|(c, _)| c == collection) {
            Some((_, keys)) => keys.push(key.to_owned()),
            None => changed.push((collection.to_owned(), vec![key.to_owned()])),
        }
        drop(changed);
        if !outgoing.flush_queued.replace(true) {
            let outgoing = Rc::clone(outgoing);
            crate::sys::spawn(async move {
                gloo_timers::future::TimeoutFuture::new(HINT_DELAY_MS).await;
                outgoing.flush();
            });
        }
    }
}

/// The sending side, shared with the queued flush.
struct Outgoing {
    channel: BroadcastChannel,
    /// Changed keys by collection, not yet posted. A list, not a map: an app has a few
    /// collections, and a map type is a whole B-tree compiled into the module.
    changed: RefCell<Vec<(String, Vec<String>)>>,
    flush_queued: Cell<bool>,
}

impl Outgoing {
    fn send(&self, hint: &Hint) {
        // Fails only after close(), when nobody is listening anyway.
        let _ = self.channel.post_message(&hint.to_js());
    }

    /// Post the buffered changes (before any other hint, to keep their order).
    fn flush(&self) {
        self.flush_queued.set(false);
        let changed = std::mem::take(&mut *self.changed.borrow_mut());
        let worker = events::in_worker();
        for (collection, keys) in changed {
            self.send(&Hint::Changes { collection, keys, worker });
        }
    }
}

/// A client's ties to the other contexts of its database: the hints it posts and hears,
/// and, in a page, the channel workers relay their events on. Both close when dropped.
pub(crate) struct TabLinks {
    hints: Hints,
    _relayed: Option<Channel>,
}

impl TabLinks {
    pub fn new(hints: Hints, relayed: Option<Channel>) -> TabLinks {
        TabLinks { hints, _relayed: relayed }
    }

    pub fn post(&self, hint: &Hint) {
        self.hints.post(hint);
    }

    pub fn post_change(&self, collection: &str, key: &str) {
        self.hints.post_change(collection, key);
    }
}
