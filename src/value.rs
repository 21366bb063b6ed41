//! App values as the browser store holds them: JS objects ([`JsVal`]), the core's
//! `AppValue` over a `JsValue`. A value the app writes is copied once in JS
//! (`JSON.parse(JSON.stringify(v))` in `js/values.js`: the JSON the server will see,
//! detached from the app's object) and from then on goes to IndexedDB, the events and `fetch` as it is; a
//! pulled value is the object `JSON.parse` made of the answer. Rust reads a value only
//! where the core asks (a field, the conflict path's conversion).

use js_sys::{Array, Reflect, JSON};
use serde_json::Value;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::convert::json_of;
use crate::error::describe;
#[cfg(feature = "testing")]
use crate::sys;
use pwa_sync_core::query::exec::Hit;
use pwa_sync_core::value::{AppValue, MAX_VALUE_DEPTH};
use pwa_sync_core::Error;

#[wasm_bindgen(js_namespace = pwaSyncValues)]
extern "C" {
    /// `js/values.js`: `[null, the copy]`, or why there is none (`[why, what]`).
    fn copy(value: &JsValue, max_depth: u32) -> JsValue;

    /// `js/values.js`: `[json]`, the checked JSON copy of a query, or why it is refused (a
    /// string; `count`: `count`'s query; `multi_entry`: the collection's fields with a
    /// multi-entry index).
    #[wasm_bindgen(js_name = checkQuery)]
    pub(crate) fn check_query(query: &JsValue, count: bool, multi_entry: &js_sys::Array) -> JsValue;

    /// `list`'s options checked: `[index, equals, limit]`, or why they are refused.
    #[wasm_bindgen(js_name = checkList)]
    pub(crate) fn check_list(query: &JsValue, declared: &js_sys::Array, single: &js_sys::Array) -> JsValue;

    /// `js/values.js`'s depth check, for the test that holds it to the core's.
    #[cfg(feature = "testing")]
    #[wasm_bindgen(js_name = nestsDeeperThan)]
    fn nests_deeper_than_js(text: &str, max: u32) -> bool;
}

/// Whether JSON `text` nests deeper than `max`, as the copy's script measures it (tests).
#[cfg(feature = "testing")]
pub fn script_nests_deeper_than(text: &str, max: usize) -> bool {
    sys::install_scripts_for_tests();
    nests_deeper_than_js(text, max as u32)
}

/// A record's key and its app value: what a query's conditions and order read, for the
/// records an IndexedDB walk reads (`idb::query`), the answers it gives and the rows a
/// watch shows (`client::watch`).
pub(crate) type KeyedValue = Hit<JsVal>;

/// An app value held as a JS object (or any JSON value). Ours alone: copied from the
/// app's object when written, parsed from the server's answer, cloned by IndexedDB when
/// read, so nothing the app does to its objects changes it.
#[derive(Clone, Debug)]
pub struct JsVal(pub JsValue);

impl JsVal {
    /// The JS value of an optional stored value, as the app gets it: `undefined` for none.
    pub fn or_undefined(value: Option<JsVal>) -> JsValue {
        value.map_or(JsValue::UNDEFINED, |v| v.0)
    }

    /// The app's `value` as the JSON value it stands for, detached from the app's object:
    /// `invalid-value` when it has none (undefined, a function, a symbol) or cannot be
    /// written as JSON (a cycle, a BigInt). `Date`s become their ISO strings and
    /// `undefined` fields go, exactly as `JSON.stringify` (and so the server) has them.
    pub fn copy_of(collection: &str, value: &JsValue) -> Result<JsVal, Error> {
        #[cfg(feature = "testing")]
        sys::install_scripts_for_tests();
        let copied = Array::from(&copy(value, MAX_VALUE_DEPTH as u32));
        let (why, what) = (copied.get(0), copied.get(1));
        if why.is_null() {
            return Ok(JsVal(what));
        }
        let reason = match why.as_string().as_deref() {
            Some("none") => "expected an object, got undefined, a function or a symbol".into(),
            Some("deep") => {
                format!("nested more than {MAX_VALUE_DEPTH} levels deep (the server refuses deeper values)")
            }
            _ => format!("not serialisable as JSON ({})", describe(&what)),
        };
        Err(Error::InvalidValue { collection: collection.to_owned(), reason })
    }

    /// The value's JSON text (`None` if it has none, which a value of ours never lacks).
    pub fn text(&self) -> Option<String> {
        JSON::stringify(&self.0).ok().and_then(|t| t.as_string())
    }
}

impl AppValue for JsVal {
    fn to_json(&self) -> Value {
        // Values are JSON by construction (`copy_of`, `JSON.parse`): this cannot fail.
        json_of(&self.0).unwrap_or(Value::Null)
    }

    fn from_json(value: Value) -> Self {
        match &value {
            Value::Null => JsVal(JsValue::NULL),
            Value::String(s) => JsVal(JsValue::from_str(s)),
            Value::Bool(b) => JsVal(JsValue::from_bool(*b)),
            _ => {
                // Serialising a `Value` cannot fail, nor parsing its text.
                let text = pwa_sync_core::json::text(&value);
                JsVal(JSON::parse(&text).unwrap_or(JsValue::NULL))
            }
        }
    }

    fn is_object(&self) -> bool {
        self.0.is_object() && !js_sys::Array::is_array(&self.0)
    }

    fn field(&self, name: &str) -> Option<Value> {
        if !self.is_object() {
            return None;
        }
        let field = Reflect::get(&self.0, &JsValue::from_str(name)).ok().filter(|f| !f.is_undefined())?;
        Some(JsVal(field).to_json())
    }

    fn remove_fields(&mut self, fields: &[String]) {
        if !self.0.is_object() {
            return;
        }
        for field in fields {
            // Deleting a data property of a plain object parsed from JSON cannot throw.
            let _ = Reflect::delete_property(self.0.unchecked_ref::<js_sys::Object>(), &JsValue::from_str(field));
        }
    }

    fn same(&self, other: &Self) -> bool {
        if self.0 == other.0 {
            return true; // The same object, or equal primitives.
        }
        // Equal texts are the same document; texts of unequal length never are (field
        // order changes no length); otherwise compare as documents (field order aside).
        match (self.text(), other.text()) {
            (Some(a), Some(b)) if a == b => true,
            (Some(a), Some(b)) if a.len() != b.len() => false,
            _ => self.to_json() == other.to_json(),
        }
    }

    fn json_len(&self) -> usize {
        self.text().map_or(0, |t| t.len())
    }

    fn detached(&self) -> Self {
        if !self.0.is_object() {
            return self.clone(); // Primitives are values, not shared objects.
        }
        self.text().and_then(|text| JSON::parse(&text).ok()).map_or_else(|| self.clone(), JsVal)
    }
}
