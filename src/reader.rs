//! Rust values read field by field off JS objects (what `JSON.parse` made of an answer,
//! what IndexedDB gives back), with serde's verdicts: a missing field or one of the
//! wrong type makes the object unreadable, `null` or absent is `None` for an optional
//! field, unknown fields are ignored, whole numbers must be safe integers. serde's
//! derives, through serde-wasm-bindgen, compiled a struct reader and its visitors per
//! type (bench/README.md "Size"); these readers share one set of field checks.

use js_sys::{Array, Number};
use serde_json::Value;
use wasm_bindgen::JsValue;

use crate::convert::{json_of, prop};

pub(crate) type Read<T> = Result<T, String>;

/// How an object is named in messages: `the pull answer`, `changes[3]`, `the client
/// metadata`. Only a message formats it (a pull page has hundreds of changes).
#[derive(Clone, Copy)]
pub(crate) enum Name<'a> {
    Plain(&'a str),
    Item(&'static str, usize),
}

impl std::fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Name::Plain(name) => f.write_str(name),
            Name::Item(list, i) => write!(f, "{list}[{i}]"),
        }
    }
}

/// The fields of one JSON object.
pub(crate) struct Fields<'a> {
    object: &'a JsValue,
    pub name: Name<'a>,
}

impl<'a> Fields<'a> {
    pub fn of(object: &'a JsValue, name: Name<'a>) -> Read<Fields<'a>> {
        match object.is_object() && !Array::is_array(object) {
            true => Ok(Fields { object, name }),
            false => Err(format!("{name} must be an object")),
        }
    }

    pub fn get(&self, field: &str) -> JsValue {
        prop(self.object, field)
    }

    pub fn wrong(&self, field: &str, must_be: &str) -> String {
        format!("`{field}` in {} must be {must_be}", self.name)
    }

    // Each reader takes the field's value (`get`, or read with a cached name where an
    // answer has thousands of objects) and its name for the message.

    /// `None` when absent or `null`, as serde reads an `Option`.
    pub fn optional(value: JsValue) -> Option<JsValue> {
        Some(value).filter(|v| !v.is_undefined() && !v.is_null())
    }

    pub fn required(&self, field: &str, value: JsValue) -> Read<JsValue> {
        match value.is_undefined() {
            true => Err(format!("missing field `{field}` in {}", self.name)),
            false => Ok(value),
        }
    }

    pub fn whole(&self, field: &str, value: JsValue, max: u64) -> Read<u64> {
        // A safe integer (what serde-wasm-bindgen reads as an integer), from 0 to `max`.
        match value.as_f64() {
            Some(n) if Number::is_safe_integer(&value) && n >= 0.0 && n <= max as f64 => Ok(n as u64),
            _ => Err(self.wrong(field, &format!("a whole number from 0 to {}", max.min(MAX_SAFE)))),
        }
    }

    /// A whole number from 0 to `max`, which must be there.
    pub fn bounded(&self, field: &str, value: JsValue, max: u64) -> Read<u64> {
        self.whole(field, self.required(field, value)?, max)
    }

    pub fn u64(&self, field: &str, value: JsValue) -> Read<u64> {
        self.bounded(field, value, u64::MAX)
    }

    pub fn optional_u64(&self, field: &str, value: JsValue) -> Read<Option<u64>> {
        Fields::optional(value).map(|v| self.whole(field, v, u64::MAX)).transpose()
    }

    pub fn optional_u32(&self, field: &str, value: JsValue) -> Read<Option<u32>> {
        Fields::optional(value).map(|v| self.whole(field, v, u32::MAX.into()).map(|n| n as u32)).transpose()
    }

    pub fn text(&self, field: &str, value: JsValue) -> Read<String> {
        value.as_string().ok_or_else(|| self.wrong(field, "a string"))
    }

    pub fn string(&self, field: &str, value: JsValue) -> Read<String> {
        self.text(field, self.required(field, value)?)
    }

    pub fn optional_string(&self, field: &str, value: JsValue) -> Read<Option<String>> {
        Fields::optional(value).map(|v| self.text(field, v)).transpose()
    }

    pub fn bool(&self, field: &str, value: JsValue) -> Read<bool> {
        self.required(field, value)?.as_bool().ok_or_else(|| self.wrong(field, "true or false"))
    }

    /// `None` when absent: a field serde fills with its default (`null` is still read,
    /// and refused where the type has no `null`).
    pub fn present(value: JsValue) -> Option<JsValue> {
        Some(value).filter(|v| !v.is_undefined())
    }

    pub fn u32(&self, field: &str, value: JsValue) -> Read<u32> {
        Ok(self.bounded(field, value, u32::MAX.into())? as u32)
    }

    /// A safe integer of either sign.
    pub fn i64(&self, field: &str, value: JsValue) -> Read<i64> {
        match value.as_f64() {
            Some(n) if Number::is_safe_integer(&value) => Ok(n as i64),
            _ => Err(self.wrong(field, "a whole number")),
        }
    }

    fn number(&self, field: &str, value: JsValue) -> Read<f64> {
        value.as_f64().ok_or_else(|| self.wrong(field, "a number"))
    }

    pub fn f64(&self, field: &str, value: JsValue) -> Read<f64> {
        self.number(field, self.required(field, value)?)
    }

    pub fn optional_f64(&self, field: &str, value: JsValue) -> Read<Option<f64>> {
        Fields::optional(value).map(|v| self.number(field, v)).transpose()
    }

    /// A JSON value (an app value on the conflict path), `None` when absent or `null`.
    pub fn optional_json(&self, field: &str, value: JsValue) -> Read<Option<Value>> {
        Fields::optional(value).map(|v| json_of(&v).map_err(|e| format!("`{field}` in {}: {e}", self.name))).transpose()
    }

    /// The list `field`, each item read by `item` (given its index, for messages).
    pub fn list<T>(&self, field: &str, item: impl Fn(&JsValue, usize) -> Read<T>) -> Read<Vec<T>> {
        let value = self.required(field, self.get(field))?;
        if !Array::is_array(&value) {
            return Err(self.wrong(field, "a list"));
        }
        let array = Array::from(&value);
        let mut read = Vec::with_capacity(array.length() as usize);
        for (i, js) in array.iter().enumerate() {
            read.push(item(&js, i)?);
        }
        Ok(read)
    }

    /// A list of strings, or none when the field is absent (serde's `default`).
    pub fn strings(&self, field: &str) -> Read<Vec<String>> {
        match self.get(field).is_undefined() {
            true => Ok(Vec::new()),
            false => self.list(field, |item, _| self.text(field, item.clone())),
        }
    }
}

/// 2^53 - 1: the largest whole number a JSON number carries exactly into JS.
const MAX_SAFE: u64 = 9_007_199_254_740_991;
