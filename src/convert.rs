//! Crossing the JS boundary with values. App values go through `JSON.stringify`, the
//! browser's own serializer: it refuses cycles and BigInt with a clear `TypeError`
//! instead of overflowing the wasm stack, and gives the exact JSON the server will see.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::describe;
use pwa_sync_core::Error;

/// A JS value as JSON, or `invalid-value` naming why it cannot be stored.
pub fn to_json(collection: &str, value: &JsValue) -> Result<Value, Error> {
    if value.is_undefined() || value.is_function() || value.is_symbol() {
        return Err(Error::InvalidValue {
            collection: collection.to_owned(),
            reason: "expected an object, got undefined, a function or a symbol".into(),
        });
    }
    let text = js_sys::JSON::stringify(value).map_err(|e| Error::InvalidValue {
        collection: collection.to_owned(),
        reason: format!("not serialisable as JSON ({})", describe(&e)),
    })?;
    // Parsed back by the browser so the value is exactly its JSON (no `undefined`, a
    // `Date` as its string), then read as a tree.
    let parsed = crate::sys::json_parse(&text).map_err(|e| Error::InvalidValue {
        collection: collection.to_owned(),
        reason: format!("not serialisable as JSON ({})", describe(&e)),
    })?;
    from_js(parsed).map_err(|e| Error::InvalidValue {
        collection: collection.to_owned(),
        reason: format!("not serialisable as JSON ({e})"),
    })
}

/// A Rust value as a plain JS value (objects, not `Map`s), through JSON text.
///
/// One serde path (serde_json) for every value that crosses the boundary keeps the module
/// small (serde-wasm-bindgen would instantiate every `Serialize`/`Deserialize` a second
/// time), and `JSON.parse` of one string is faster than building objects a property at a
/// time across the boundary.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, Error> {
    encode_json(value).map_err(|e| Error::Storage(format!("cannot convert a value for JS: {e}")))
}

/// `value` as a JS value, or why not.
pub fn encode_json<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, String> {
    let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
    js_sys::JSON::parse(&text).map_err(|e| describe(&e))
}

/// Items per JSON text in [`encode_many`]: big enough that crossings do not count, small
/// enough that no text grows to megabytes (wasm memory, once grown, is never returned).
const ENCODE_CHUNK: usize = 256;

/// `items` as JS values, a chunk of them per JSON text.
pub fn encode_many<T: Serialize>(items: &[T]) -> std::result::Result<Vec<JsValue>, String> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(ENCODE_CHUNK) {
        out.extend(js_sys::Array::from(&encode_json(chunk)?).iter());
    }
    Ok(out)
}

/// A JS value (a stored object, or what `JSON.parse` made) read into `T`, or why not.
///
/// Read from the objects themselves (serde-wasm-bindgen), not from JSON text: the module
/// then has no JSON parser, whose code serde_json repeats for every type it reads
/// (~2.8 KB raw each).
pub fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
}

/// The property `name` of `object`, `undefined` if it has none or reading it throws.
pub fn prop(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// A plain string from JS, or `invalid-value` for anything else.
pub fn to_string(what: &str, value: &JsValue) -> Result<String, Error> {
    value
        .as_string()
        .ok_or_else(|| Error::InvalidValue { collection: String::new(), reason: format!("{what} must be a string") })
}

/// Cast after checking, without panicking.
pub fn cast<T: JsCast>(value: JsValue, what: &str) -> Result<T, Error> {
    value.dyn_into::<T>().map_err(|_| Error::InvalidConfig(format!("{what} has the wrong type")))
}
