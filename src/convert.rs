//! Crossing the JS boundary with values. App values go through `JSON.stringify`, the
//! browser's own serializer: it refuses cycles and BigInt with a clear `TypeError`
//! instead of overflowing the wasm stack, and gives the exact JSON the server will see.

use js_sys::{Array, Object};
use pwa_sync_core::json::ToJson;
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::describe;
use pwa_sync_core::value::MAX_VALUE_DEPTH;
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
    json_of(&parsed).map_err(|e| Error::InvalidValue {
        collection: collection.to_owned(),
        reason: format!("not serialisable as JSON ({e})"),
    })
}

/// A Rust value as a plain JS value (objects, not `Map`s), through JSON text.
///
/// One writer (`pwa_sync_core::json`) for every value that crosses the boundary keeps the
/// module small (serde-wasm-bindgen would instantiate every `Serialize`/`Deserialize`
/// again), and `JSON.parse` of one string is faster than building objects a property at
/// a time across the boundary.
pub fn to_js(value: &dyn ToJson) -> Result<JsValue, Error> {
    encode_json(value).map_err(cannot_convert)
}

fn cannot_convert(reason: String) -> Error {
    Error::Storage(format!("cannot convert a value for JS: {reason}"))
}

/// `value` as a JS value, or why not.
pub fn encode_json(value: &dyn ToJson) -> Result<JsValue, String> {
    let text = pwa_sync_core::json::to_string(value);
    js_sys::JSON::parse(&text).map_err(|e| unparsed(&e, &text))
}

/// Why `JSON.parse` refused a text we wrote, which cannot happen. WebKit's
/// browser suites met it once (ARCHITECTURE.md "Browser suites"); there the text itself
/// tells a garbled string from a parser that misread a good one.
#[cfg(feature = "testing")]
fn unparsed(error: &JsValue, text: &str) -> String {
    let head: String = text.chars().take(300).collect();
    let tail: String = text.chars().rev().take(100).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{} (a text of {} bytes: {head} ... {tail})", describe(error), text.len())
}

#[cfg(not(feature = "testing"))]
fn unparsed(error: &JsValue, _text: &str) -> String {
    describe(error)
}

/// Items per JSON text in [`json_texts`]: big enough that crossings do not count, small
/// enough that no text grows to megabytes (wasm memory, once grown, is never returned).
const ENCODE_CHUNK: usize = 256;

/// `items` as JSON texts (JS strings), each the array of a chunk of them, in order: what
/// the store's script parses.
pub fn json_texts<T: ToJson>(items: &[T]) -> Array {
    let texts = Array::new();
    for chunk in items.chunks(ENCODE_CHUNK) {
        texts.push(&JsValue::from_str(&pwa_sync_core::json::to_string(&chunk)));
    }
    texts
}

/// Deeper than this, a JS value is refused rather than read by recursion (the server
/// refuses values nested past `MAX_VALUE_DEPTH`; this bounds the wasm stack).
const MAX_READ_DEPTH: usize = 4 * MAX_VALUE_DEPTH;

/// A JSON value (an object `JSON.parse` or IndexedDB made) as the core's `Value`.
///
/// Read from the objects themselves, not from JSON text: the module has no JSON parser
/// for values. By hand, not through serde-wasm-bindgen: its deserializer compiled a struct
/// reader per type it read (bench/README.md "Size").
pub fn json_of(value: &JsValue) -> Result<Value, String> {
    json_at(value, 0)
}

fn json_at(js: &JsValue, depth: usize) -> Result<Value, String> {
    if let Some(scalar) = json_scalar(js) {
        return Ok(scalar);
    }
    if depth > MAX_READ_DEPTH {
        return Err(format!("nested more than {MAX_READ_DEPTH} levels deep"));
    }
    if Array::is_array(js) {
        let items = Array::from(js);
        let mut values = Vec::with_capacity(items.length() as usize);
        for item in items.iter() {
            values.push(json_at(&item, depth + 1)?);
        }
        return Ok(Value::Array(values));
    }
    if js.is_object() {
        let mut map = serde_json::Map::new();
        for entry in Object::entries(js.unchecked_ref()).iter() {
            let entry = Array::from(&entry);
            let name = entry.get(0).as_string().ok_or("an object key is not a string")?;
            map.insert(name, json_at(&entry.get(1), depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    // What `JSON.stringify` drops or refuses: a function, a symbol, a BigInt.
    Err(format!("{} is not a JSON value", describe(js)))
}

/// A JSON scalar as the core's `Value` (`undefined` as `null`, as serde read it); `None`
/// for objects, arrays and anything that is not JSON.
fn json_scalar(js: &JsValue) -> Option<Value> {
    if js.is_null() || js.is_undefined() {
        return Some(Value::Null);
    }
    if let Some(s) = js.as_string() {
        return Some(Value::String(s));
    }
    if let Some(b) = js.as_bool() {
        return Some(Value::Bool(b));
    }
    let n = js.as_f64()?;
    // Integers as integers, as serde_json parses them from the same JSON; NaN and the
    // infinities as `null`, as JSON has them.
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        return Some(Value::from(n as i64));
    }
    Some(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
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
