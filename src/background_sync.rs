//! Background Sync registration from a page: the browser wakes the service worker with a
//! `sync` event once it is online again, even if every page is closed by then. The
//! registration is `js/background.js`'s (`requestSync`).

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(js_namespace = pwaSyncBackground)]
extern "C" {
    /// Register `tag` with this page's service worker's Background Sync, where there are
    /// both; never fails (a refusal leaves the other flush paths).
    #[wasm_bindgen(js_name = requestSync)]
    fn request_sync(tag: &str);
}

/// From a page: ask the service worker's Background Sync to flush once the browser is
/// online again, with `tag`: the config's `syncTag`, which the service-worker helper
/// (`js/sw.js`, given the same config) answers. Does nothing where there is no service
/// worker or no Background Sync (Firefox, Safari): those flush on the next start, page
/// load, `online` or visibility change instead.
pub(crate) fn request_background_sync(tag: &str) {
    if !crate::events::in_worker() {
        request_sync(tag);
    }
}
