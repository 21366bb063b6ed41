//! Background Sync registration from a page: the browser wakes the service worker with a
//! `sync` event once it is online again, even if every page is closed by then.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::sys::{self, ServiceWorkerRegistration};

/// From a page: ask the service worker's Background Sync to flush once the browser is
/// online again, with `tag`: the config's `syncTag`, which the service-worker helper
/// (`js/sw.js`, given the same config) answers. Does nothing where there is no service
/// worker or no Background Sync (Firefox, Safari): those flush on the next start, page
/// load, `online` or visibility change instead.
pub(crate) fn request_background_sync(tag: &str) {
    if crate::events::in_worker() {
        return;
    }
    sys::spawn(register(tag.to_owned()));
}

async fn register(tag: String) {
    let Some(navigator) = sys::global().navigator() else { return };
    let Ok(Some(container)) = navigator.service_worker() else { return };
    // `undefined` when no service worker controls this page's scope.
    let Ok(registration) = JsFuture::from(container.get_registration()).await else { return };
    if !registration.is_object() {
        return;
    }
    let Some(sync) = registration.unchecked_into::<ServiceWorkerRegistration>().sync() else { return };
    if let Ok(promise) = sync.register(&tag) {
        // Refused (e.g. no permission): the other flush paths still run.
        let _ = JsFuture::from(promise).await;
    }
}
