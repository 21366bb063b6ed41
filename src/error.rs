//! The one place core errors become JS errors: a real `Error` whose `name` is
//! `PwaSyncError` and whose `code` is the stable code from `pwa_sync_core::Error::code`.

use js_sys::Reflect;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use pwa_sync_core::Error;

pub fn to_js(error: &Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("PwaSyncError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&js, &"code".into(), &error.code().into());
    js.into()
}

#[wasm_bindgen(js_namespace = pwaSyncValues)]
extern "C" {
    #[wasm_bindgen(js_name = describe)]
    fn describe_js(value: &JsValue) -> String;
}

/// Describe a thrown JS value (an `Error`, a `DOMException`, anything) for a message:
/// `name: message`, the name or the message alone, else the value as text. The scripts'
/// `describe` (js/values.js), which never throws: one description for both languages,
/// and no `Debug` of a `JsValue` (wasm-bindgen's `debugString` in the glue).
pub fn describe(value: &JsValue) -> String {
    #[cfg(feature = "testing")]
    crate::sys::install_scripts_for_tests();
    describe_js(value)
}
