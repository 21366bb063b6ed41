//! Rust values read field by field off the objects IndexedDB gives back (the client
//! metadata, stored conflicts, audit entries), with serde's verdicts: a missing field or one of the
//! wrong type makes the object unreadable, `null` or absent is `None` for an optional
//! field, unknown fields are ignored, whole numbers must be safe integers. serde's
//! derives, through serde-wasm-bindgen, compiled a struct reader and its visitors per
//! type (bench/README.md "Size"); these readers share one set of field checks.

use std::cell::RefCell;

use js_sys::{Array, Number};
use serde_json::Value;
use wasm_bindgen::JsValue;

use crate::convert::{json_of, prop};

pub(crate) type Read<T> = Result<T, String>;

/// The fields of one JSON object. Each reader answers a default for a field it refuses
/// and notes the first problem, which `finish` answers (as js/config.js's `fields`
/// does): a caller has no early return per field, each of which compiled the drops of
/// everything read before it.
pub(crate) struct Fields<'a> {
    object: &'a JsValue,
    /// How the object is named in messages: `the client metadata`, `hlc`.
    pub name: &'a str,
    problem: RefCell<Option<String>>,
}

impl<'a> Fields<'a> {
    pub fn of(object: &'a JsValue, name: &'a str) -> Read<Fields<'a>> {
        match object.is_object() && !Array::is_array(object) {
            true => Ok(Fields { object, name, problem: RefCell::new(None) }),
            false => Err(format!("{name} must be an object")),
        }
    }

    pub fn get(&self, field: &str) -> JsValue {
        prop(self.object, field)
    }

    /// Note a problem; only the first is kept.
    pub fn fail(&self, problem: String) {
        self.problem.borrow_mut().get_or_insert(problem);
    }

    /// Note that `field` is not what it must be.
    pub fn wrong(&self, field: &str, must_be: &str) {
        self.fail(format!("`{field}` in {} must be {must_be}", self.name));
    }

    /// The first problem met so far, if any.
    pub fn checked(&self) -> Read<()> {
        match self.problem.borrow().as_ref() {
            Some(problem) => Err(problem.clone()),
            None => Ok(()),
        }
    }

    /// The first problem met, if any: the object is unreadable.
    pub fn finish(self) -> Read<()> {
        match self.problem.into_inner() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    // Each reader takes the field's value (`get`, or read with a cached name where an
    // answer has thousands of objects) and its name for the message.

    /// `None` when absent or `null`, as serde reads an `Option`.
    pub fn optional(value: JsValue) -> Option<JsValue> {
        Some(value).filter(|v| !v.is_undefined() && !v.is_null())
    }

    pub fn required(&self, field: &str, value: JsValue) -> JsValue {
        if value.is_undefined() {
            self.fail(format!("missing field `{field}` in {}", self.name));
        }
        value
    }

    pub fn whole(&self, field: &str, value: JsValue, max: u64) -> u64 {
        // A safe integer (what serde-wasm-bindgen reads as an integer), from 0 to `max`.
        match value.as_f64() {
            Some(n) if Number::is_safe_integer(&value) && n >= 0.0 && n <= max as f64 => n as u64,
            _ => {
                self.wrong(field, &format!("a whole number from 0 to {}", max.min(MAX_SAFE)));
                0
            }
        }
    }

    /// A whole number from 0 to `max`, which must be there.
    pub fn bounded(&self, field: &str, value: JsValue, max: u64) -> u64 {
        self.whole(field, self.required(field, value), max)
    }

    pub fn u64(&self, field: &str, value: JsValue) -> u64 {
        self.bounded(field, value, u64::MAX)
    }

    pub fn optional_u64(&self, field: &str, value: JsValue) -> Option<u64> {
        Fields::optional(value).map(|v| self.whole(field, v, u64::MAX))
    }

    pub fn text(&self, field: &str, value: JsValue) -> String {
        value.as_string().unwrap_or_else(|| {
            self.wrong(field, "a string");
            String::new()
        })
    }

    pub fn string(&self, field: &str, value: JsValue) -> String {
        self.text(field, self.required(field, value))
    }

    pub fn optional_string(&self, field: &str, value: JsValue) -> Option<String> {
        Fields::optional(value).map(|v| self.text(field, v))
    }

    /// `None` when absent: a field serde fills with its default (`null` is still read,
    /// and refused where the type has no `null`).
    pub fn present(value: JsValue) -> Option<JsValue> {
        Some(value).filter(|v| !v.is_undefined())
    }

    pub fn u32(&self, field: &str, value: JsValue) -> u32 {
        self.bounded(field, value, u32::MAX.into()) as u32
    }

    /// A safe integer of either sign.
    pub fn i64(&self, field: &str, value: JsValue) -> i64 {
        match value.as_f64() {
            Some(n) if Number::is_safe_integer(&value) => n as i64,
            _ => {
                self.wrong(field, "a whole number");
                0
            }
        }
    }

    fn number(&self, field: &str, value: JsValue) -> f64 {
        value.as_f64().unwrap_or_else(|| {
            self.wrong(field, "a number");
            0.0
        })
    }

    pub fn f64(&self, field: &str, value: JsValue) -> f64 {
        self.number(field, self.required(field, value))
    }

    pub fn optional_f64(&self, field: &str, value: JsValue) -> Option<f64> {
        Fields::optional(value).map(|v| self.number(field, v))
    }

    /// A JSON value (an app value on the conflict path), `None` when absent or `null`.
    pub fn optional_json(&self, field: &str, value: JsValue) -> Option<Value> {
        match json_of(&Fields::optional(value)?) {
            Ok(json) => Some(json),
            Err(e) => {
                self.fail(format!("`{field}` in {}: {e}", self.name));
                None
            }
        }
    }

    /// The list `field`, each item read by `item` (given its index, for messages); empty
    /// when it cannot be read.
    pub fn list<T>(&self, field: &str, item: impl Fn(&JsValue, usize) -> Read<T>) -> Vec<T> {
        let value = self.required(field, self.get(field));
        if !Array::is_array(&value) {
            self.wrong(field, "a list");
            return Vec::new();
        }
        let array = Array::from(&value);
        let mut read = Vec::with_capacity(array.length() as usize);
        for (i, js) in array.iter().enumerate() {
            match item(&js, i) {
                Ok(item) => read.push(item),
                Err(problem) => {
                    self.fail(problem);
                    break;
                }
            }
        }
        read
    }

    /// A list of strings, or none when the field is absent (serde's `default`).
    pub fn strings(&self, field: &str) -> Vec<String> {
        match self.get(field).is_undefined() {
            true => Vec::new(),
            false => self.list(field, |item, _| Ok(self.text(field, item.clone()))),
        }
    }
}

/// 2^53 - 1: the largest whole number a JSON number carries exactly into JS.
const MAX_SAFE: u64 = 9_007_199_254_740_991;
