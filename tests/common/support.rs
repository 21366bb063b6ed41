//! Helpers every browser suite uses: where the test server and the fault proxy are,
//! unique database names, awaiting promises, recording events.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use js_sys::{Array, Function, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CustomEvent, EventTarget};

/// The reference server `scripts/with-server.sh` started, passed at build time.
pub fn server() -> &'static str {
    match option_env!("PWA_SYNC_TEST_SERVER") {
        Some(url) => url,
        None => {
            panic!("PWA_SYNC_TEST_SERVER is unset: run browser tests through `make test-chrome` / `make test-firefox`")
        }
    }
}

/// The fault proxy in front of it.
pub fn proxy() -> &'static str {
    match option_env!("PWA_SYNC_TEST_PROXY") {
        Some(url) => url,
        None => {
            panic!("PWA_SYNC_TEST_PROXY is unset: run browser tests through `make test-chrome` / `make test-firefox`")
        }
    }
}

/// A name no other test (or earlier run) uses.
pub fn unique(what: &str) -> String {
    format!("{what}-{}-{}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e9) as u64)
}

/// `Some(output)`, or `None` if `future` takes longer than `ms`.
pub async fn within<T>(ms: u32, future: impl Future<Output = T>) -> Option<T> {
    let mut future = pin!(future);
    let mut timer = pin!(gloo_timers::future::TimeoutFuture::new(ms));
    poll_fn(|cx| {
        if let Poll::Ready(value) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(value));
        }
        timer.as_mut().poll(cx).map(|_| None)
    })
    .await
}

/// `future`'s output, or a panic naming `what` after 20 s: a step that stalls fails its
/// test by name, where it would otherwise hold the whole suite until the runner gives up
/// on it and names no test (bad_input's old-tab upgrade test stalled WebKit's
/// service-worker suite so, once in 41 runs, and its dedicated-worker suite in CI on
/// 2026-12-03). The panic says what a stall needs to be told apart: the Web Locks held
/// and waited for at 20 s, and whether the step finished within 40 s more (slow) or not
/// (stuck).
pub async fn step<T>(what: &str, future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    if let Some(output) = within(20_000, future.as_mut()).await {
        return output;
    }
    let locks = within(2_000, js("", LOCKS, &[])).await.map_or_else(|| "no answer".into(), |l| format!("{l:?}"));
    match within(40_000, future).await {
        Some(_) => panic!("{what}: not done after 20 s (finished within 60 s); Web Locks at 20 s: {locks}"),
        None => panic!("{what}: not done after 20 s (nor after 60 s); Web Locks at 20 s: {locks}"),
    }
}

/// The Web Locks of this origin as `held [...] pending [...]` (names only). A query that
/// fails answers why, so the stalled step's own panic, which names it, still comes.
const LOCKS: &str = "if (!globalThis.navigator?.locks) return 'none here'; \
  return navigator.locks.query().then(q => `held ${JSON.stringify((q.held || []).map(l => l.name))} \
  pending ${JSON.stringify((q.pending || []).map(l => l.name))}`, e => `query failed: ${e}`)";

/// `value[name]`; `undefined` where `value` has no properties (`null`, a number), so a
/// chain such as `field(&field(&status, "lastError"), "code")` fails its assertion with
/// the values instead of a panic in the getter.
pub fn field(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// The promise's value; a rejection fails the test.
pub async fn ok(promise: Promise) -> JsValue {
    JsFuture::from(promise).await.unwrap_or_else(|e| panic!("rejected: {e:?}"))
}

pub type Seen = Rc<RefCell<Vec<(String, JsValue)>>>;

/// A fresh event target recording the type and `detail` of every event of `names`.
pub fn recorder(names: &[&str]) -> (EventTarget, Seen) {
    let target = EventTarget::new().unwrap();
    let seen: Seen = Rc::new(RefCell::new(Vec::new()));
    for name in names {
        let seen = seen.clone();
        let listener = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let e: CustomEvent = e.unchecked_into();
            seen.borrow_mut().push((e.type_(), e.detail()));
        });
        target.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref()).unwrap();
        listener.forget();
    }
    (target, seen)
}

/// `detail.code` and `detail.message` of the recorded `storage-error` events.
pub fn storage_errors(seen: &Seen) -> Vec<(String, String)> {
    let text = |detail: &JsValue, name: &str| field(detail, name).as_string().unwrap_or_default();
    seen.borrow()
        .iter()
        .filter(|(name, _)| name == "pwa-sync:storage-error")
        .map(|(_, detail)| (text(detail, "code"), text(detail, "message")))
        .collect()
}

/// Script the fault proxy: `rules` is the JSON array of `/_faults` (`[]`: none).
pub async fn faults(rules: &str) {
    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into()).unwrap().unchecked_into();
    let init = JSON::parse(r#"{"method": "POST", "headers": {"Content-Type": "application/json"}}"#).unwrap();
    Reflect::set(&init, &"body".into(), &format!(r#"{{"rules": {rules}}}"#).into()).unwrap();
    let url = JsValue::from_str(&format!("{}/_faults", proxy()));
    let promise: Promise = fetch.call2(&js_sys::global(), &url, &init).unwrap().unchecked_into();
    let response = JsFuture::from(promise).await.unwrap();
    let accepted = Reflect::get(&response, &"ok".into()).unwrap().as_bool().unwrap();
    assert!(accepted, "the fault proxy refused {rules}");
}

/// Call a JS function made from `args` and `body`; await it if it returns a promise.
pub async fn js(args: &str, body: &str, values: &[JsValue]) -> JsValue {
    let f = Function::new_with_args(args, body);
    let result = f.apply(&JsValue::NULL, &values.iter().collect::<Array>()).unwrap_or_else(|e| panic!("{body}: {e:?}"));
    match result.dyn_into::<Promise>() {
        Ok(promise) => JsFuture::from(promise).await.unwrap_or_else(|e| panic!("{body}: {e:?}")),
        Err(value) => value,
    }
}

/// One request on an object store straight in IndexedDB, behind the library's back: `op`
/// is `put`, `get` or `delete` with its arguments; resolves to the request's result once
/// the transaction committed.
pub async fn raw(db: &str, store: &str, op: &str, args: &[JsValue]) -> JsValue {
    js(
        "db, store, op, args",
        "return new Promise((resolve, reject) => {
            const open = indexedDB.open(db);
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
                const conn = open.result;
                const tx = conn.transaction([store], op === 'get' ? 'readonly' : 'readwrite');
                const request = tx.objectStore(store)[op](...args);
                tx.oncomplete = () => { conn.close(); resolve(request.result); };
                tx.onabort = () => { conn.close(); reject(tx.error); };
            };
        });",
        &[db.into(), store.into(), op.into(), args.iter().collect::<Array>().into()],
    )
    .await
}

/// `Date.now` moved forward by `ms` while this lives (the library reads the time there).
pub struct ClockAhead {
    real: JsValue,
}

impl ClockAhead {
    pub fn by(ms: f64) -> ClockAhead {
        let date = Reflect::get(&js_sys::global(), &"Date".into()).unwrap();
        let real = Reflect::get(&date, &"now".into()).unwrap();
        let shifted = Function::new_with_args("real", &format!("return () => real.call(Date) + {ms};"))
            .call1(&JsValue::NULL, &real)
            .unwrap();
        Reflect::set(&date, &"now".into(), &shifted).unwrap();
        ClockAhead { real }
    }
}

impl Drop for ClockAhead {
    fn drop(&mut self) {
        let date = Reflect::get(&js_sys::global(), &"Date".into()).unwrap();
        Reflect::set(&date, &"now".into(), &self.real).unwrap();
    }
}
