//! Web Locks (`navigator.locks`): one flusher at a time across tabs, workers and the
//! service worker. The browser releases a lock when its holder's context dies, so a
//! crashed or killed holder never blocks the others. The request is the tabs' script's
//! (`js/tabs.js`, `withLock`); the work done under the lock is Rust's.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::describe;
use crate::sys;
use pwa_sync_core::Error;

#[wasm_bindgen(js_namespace = pwaSyncTabs)]
extern "C" {
    /// Run `work` (a function answering a promise) holding the exclusive lock `name`:
    /// `true` once it ran, `false` when `wait` is false and another context holds it.
    #[wasm_bindgen(catch, js_name = withLock)]
    fn with_web_lock(name: &str, wait: bool, work: &JsValue) -> Result<Promise, JsValue>;
}

/// Run `work` while holding the exclusive lock `name`. With `wait: false`, return
/// `Ok(None)` at once if another context holds it. Without Web Locks, just run `work`.
pub async fn with_lock<T, Fut>(name: &str, wait: bool, work: impl FnOnce() -> Fut + 'static) -> Result<Option<T>, Error>
where
    T: 'static,
    Fut: Future<Output = T> + 'static,
{
    let slot: Rc<RefCell<Option<T>>> = Rc::new(RefCell::new(None));
    let out = slot.clone();
    hold(name, wait, Box::new(move || Box::pin(async move { *out.borrow_mut() = Some(work().await) }))).await?;
    let result = slot.borrow_mut().take();
    Ok(result)
}

/// The work done under a lock, boxed: the lock's JS callback and its glue are compiled
/// once, not once per caller.
type LockedWork = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>>>;

async fn hold(name: &str, wait: bool, work: LockedWork) -> Result<(), Error> {
    let mut work = Some(work);
    // Kept until the lock's promise settles, called at most once; dropped uncalled when
    // another context held the lock.
    let callback = Closure::<dyn FnMut() -> Promise>::new(move || match work.take() {
        Some(work) => sys::promise(Box::pin(async move {
            work().await;
            Ok(JsValue::TRUE)
        })),
        None => Promise::resolve(&JsValue::FALSE),
    });
    let promise = with_web_lock(name, wait, callback.as_ref())
        .map_err(|e| Error::Storage(format!("navigator.locks.request failed: {}", describe(&e))))?;
    JsFuture::from(promise).await.map_err(|e| Error::Storage(format!("the lock {name} failed: {}", describe(&e))))?;
    drop(callback);
    Ok(())
}
