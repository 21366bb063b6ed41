//! Live results (issue 17): `watch(collection, query | key, callback)`. A watch follows
//! the `pwa-sync:change` events of its collection on the client's event target (local
//! writes, pulled changes, other tabs' writes: every path announces itself there, with
//! the stored value) and `pwa-sync:cleared`. It holds the answer it last gave; a change
//! is applied to that answer in memory where the core says the result is exact
//! (`query::live::edit`: the record stays among the records the page holds, or the page
//! holds every match), and the query is read again otherwise (a record leaving a full
//! page, an event without a value or relayed from a worker, a wipe, a change during a
//! read; a key's watch reads its one record). It calls back only when the answer changed (keys, or values as
//! JSON), so an unchanged answer keeps its array.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Event, EventTarget};

use pwa_sync_core::config::CollectionConfig;
use pwa_sync_core::query::live::{edit, Edit};
use pwa_sync_core::query::Query;
use pwa_sync_core::value::AppValue;
use pwa_sync_core::Error;

use super::Client;
use crate::events::{CHANGE, CLEARED};
use crate::value::{JsVal, KeyedValue};

/// What a watch follows.
pub(crate) enum Target {
    Query(Query),
    Key(String),
}

/// One record of the answer a watch gave.
type Shown = KeyedValue;

/// Whether `shown` is `key` with `value` (the same JSON document).
fn shows(shown: &Shown, key: &str, value: &JsVal) -> bool {
    shown.key == key && shown.value.same(value)
}

/// The answer last given.
struct Answer {
    rows: Vec<Shown>,
    /// Records may follow the page (a query with a limit).
    more: bool,
    /// The answer is the store's as of the last event heard. `false` after a read
    /// failed: only a read may update it then.
    exact: bool,
}

type Listener = Closure<dyn FnMut(JsValue)>;

struct Watch {
    client: Rc<Client>,
    collection: CollectionConfig,
    target: Target,
    callback: Function,
    active: Cell<bool>,
    /// The watch's task is scheduled or under way (`run`).
    running: Cell<bool>,
    /// A read is under way: a change may or may not be in what it returns.
    reading: Cell<bool>,
    /// Read (again) when the task comes to it.
    dirty: Cell<bool>,
    /// Call back with the answer edited in memory when the task comes to it.
    announcing: Cell<bool>,
    answer: RefCell<Option<Answer>>,
    listener: RefCell<Option<Listener>>,
}

impl Client {
    /// Start watching; returns the function that stops it (safe to call twice).
    pub fn watch(
        self: &Rc<Self>,
        config: &CollectionConfig,
        target: Target,
        callback: Function,
    ) -> Result<Function, Error> {
        let watch = Rc::new(Watch {
            client: self.clone(),
            collection: config.clone(),
            target,
            callback,
            active: Cell::new(true),
            running: Cell::new(false),
            reading: Cell::new(false),
            dirty: Cell::new(false),
            announcing: Cell::new(false),
            answer: RefCell::new(None),
            listener: RefCell::new(None),
        });
        let events = self.event_target();
        let listener = {
            let watch = watch.clone();
            Listener::new(move |event: JsValue| Watch::heard(&watch, event.unchecked_ref()))
        };
        for name in [CHANGE, CLEARED] {
            events
                .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())
                .map_err(|e| Error::Storage(format!("cannot listen to {name}: {}", crate::error::describe(&e))))?;
        }
        *watch.listener.borrow_mut() = Some(listener);
        Watch::trigger(&watch);
        let stop = Closure::<dyn Fn()>::new(move || watch.stop(&events));
        Ok(stop.into_js_value().unchecked_into())
    }
}

impl Watch {
    /// An event on the client's target: a change of this watch's collection (and key)
    /// is applied in memory if it can be exactly, else read; a wipe is read.
    fn heard(watch: &Rc<Watch>, event: &Event) {
        if !watch.active.get() {
            return;
        }
        let detail = Reflect::get(event, &"detail".into()).unwrap_or(JsValue::UNDEFINED);
        // Another client's event on a shared target (another user's database).
        if !crate::events::is_from(&detail, &watch.client.config.name) {
            return;
        }
        if event.type_() == CLEARED {
            return Watch::trigger(watch);
        }
        let field = |name: &str| Reflect::get(&detail, &name.into()).unwrap_or(JsValue::UNDEFINED);
        if field("collection").as_string().as_deref() != Some(watch.collection.name.as_str()) {
            return;
        }
        let Some(key) = field("key").as_string() else { return Watch::trigger(watch) };
        if matches!(&watch.target, Target::Key(k) if *k != key) {
            return;
        }
        // During a read the change may or may not be in what it returns: read again after.
        // So too while a read is still to come: the answer in memory is not the store's.
        // A worker's relayed value may be older than a write made here since.
        if watch.reading.get()
            || watch.dirty.get()
            || watch.client.relaying.get()
            || !watch.apply(&key, &field("value"))
        {
            Watch::trigger(watch);
        }
    }

    /// Apply a change to the answer in memory; `false` when that cannot be exact.
    fn apply(self: &Rc<Self>, key: &str, value: &JsValue) -> bool {
        if value.is_undefined() {
            return false; // An event without the value.
        }
        let value = (!value.is_null()).then(|| JsVal(value.clone()));
        // The event's object is also the one `put` resolved to and every listener's:
        // the answer gets a copy of its own, as a read would give.
        let shown = |value: &JsVal| Shown { key: key.to_owned(), value: value.detached() };
        let changed = {
            let mut answer = self.answer.borrow_mut();
            let Some(answer) = answer.as_mut().filter(|a| a.exact) else { return false };
            match &self.target {
                // One record: the event's value is what a `get` would answer, so a
                // `useDoc` shows it as the event arrives.
                Target::Key(_) => {
                    let unchanged = match (answer.rows.first(), value.as_ref()) {
                        (Some(row), Some(value)) => shows(row, key, value),
                        (None, None) => true,
                        _ => false,
                    };
                    if !unchanged {
                        answer.rows = value.as_ref().map(shown).into_iter().collect();
                    }
                    !unchanged
                }
                Target::Query(query) => match edit(query, &answer.rows, answer.more, key, value.as_ref()) {
                    Edit::Reread => return false,
                    Edit::Unchanged => false,
                    // The same record in the same place: another tab telling of a state
                    // already shown, say. Nothing to call back for.
                    Edit::Apply { remove: Some(at), insert: Some(to), truncate: false, .. }
                        if at == to
                            && value.as_ref().zip(answer.rows.get(at)).is_some_and(|(v, row)| shows(row, key, v)) =>
                    {
                        false
                    }
                    change @ Edit::Apply { more, .. } => {
                        answer.more = more;
                        // `edit` places only a record that has a value.
                        let none = JsVal(JsValue::NULL);
                        change.apply(&mut answer.rows, || shown(value.as_ref().unwrap_or(&none)));
                        change.changes_rows()
                    }
                },
            }
        };
        if changed {
            Watch::announce(self);
        }
        true
    }

    /// Call back with the answer edited in memory, once for the events of this turn,
    /// after the event's dispatch (the app's callback runs outside our listener).
    fn announce(watch: &Rc<Watch>) {
        watch.announcing.set(true);
        Watch::run(watch);
    }

    /// Read again now, or after the read under way (many changes: one read after them).
    fn trigger(watch: &Rc<Watch>) {
        watch.dirty.set(true);
        Watch::run(watch);
    }

    /// One task per watch does what is asked of it, a pending call back first (the
    /// answer edited in memory is a state the app must see before a read replaces it).
    fn run(watch: &Rc<Watch>) {
        if !watch.active.get() || watch.running.replace(true) {
            return;
        }
        let watch = watch.clone();
        crate::sys::spawn(async move {
            while watch.active.get() {
                if watch.announcing.replace(false) {
                    watch.call_back();
                } else if watch.dirty.replace(false) {
                    watch.reading.set(true);
                    watch.read().await;
                    watch.reading.set(false);
                } else {
                    break;
                }
            }
            watch.running.set(false);
        });
    }

    async fn read(&self) {
        let read = match &self.target {
            Target::Query(query) => {
                self.client.query_rows(&self.collection, query).await.map(|(rows, next)| (rows, next.is_some()))
            }
            Target::Key(key) => {
                self.client.get_row(&self.collection, key).await.map(|row| (row.into_iter().collect(), false))
            }
        };
        let (fresh, more): (Vec<Shown>, bool) = match read {
            Ok(read) => read,
            // Closed (a logout in another tab closes this client): nothing to show any more.
            Err(Error::Closed) => (Vec::new(), false),
            // Other failures leave the last answer standing, no longer followed in memory;
            // the read reported them as `pwa-sync:storage-error`.
            Err(_) => {
                if let Some(answer) = self.answer.borrow_mut().as_mut() {
                    answer.exact = false;
                }
                return;
            }
        };
        {
            let mut answer = self.answer.borrow_mut();
            match answer.as_mut() {
                Some(shown)
                    if shown.rows.len() == fresh.len()
                        && shown.rows.iter().zip(&fresh).all(|(s, f)| shows(s, &f.key, &f.value)) =>
                {
                    // The same records: keep the objects given out.
                    shown.more = more;
                    shown.exact = true;
                    return;
                }
                _ => *answer = Some(Answer { rows: fresh, more, exact: true }),
            }
        }
        self.call_back();
    }

    /// Hand the answer to the app's callback: the records' array, or the record (`null`).
    fn call_back(&self) {
        if !self.active.get() {
            return;
        }
        let answer: JsValue = {
            let answer = self.answer.borrow();
            let rows = answer.as_ref().map_or(&[][..], |a| a.rows.as_slice());
            match &self.target {
                Target::Query(_) => {
                    let values = Array::new();
                    for row in rows {
                        values.push(&row.value.0);
                    }
                    values.into()
                }
                Target::Key(_) => rows.first().map_or(JsValue::NULL, |r| r.value.0.clone()),
            }
        };
        // An exception in the app's callback is the app's: it must not stop the watch.
        let _ = self.callback.call1(&JsValue::UNDEFINED, &answer);
    }

    fn stop(&self, events: &EventTarget) {
        self.active.set(false);
        if let Some(listener) = self.listener.borrow_mut().take() {
            for name in [CHANGE, CLEARED] {
                // Removing a listener cannot fail for a function we added.
                let _ = events.remove_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            }
        }
    }
}
