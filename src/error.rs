//! The one place core errors become JS errors: a real `Error` whose `name` is
//! `PwaSyncError` and whose `code` is the stable code from `pwa_sync_core::Error::code`.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use pwa_sync_core::Error;

pub fn to_js(error: &Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("PwaSyncError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&js, &"code".into(), &error.code().into());
    js.into()
}

/// Describe a thrown JS value (an `Error`, a `DOMException`, anything) for a message.
pub fn describe(value: &JsValue) -> String {
    let field = |name: &str| Reflect::get(value, &name.into()).ok().and_then(|v| v.as_string());
    match (field("name"), field("message")) {
        (Some(name), Some(message)) if !message.is_empty() => format!("{name}: {message}"),
        (Some(name), _) => name,
        (None, Some(message)) => message,
        (None, None) => value.as_string().unwrap_or_else(|| format!("{value:?}")),
    }
}
