//! Rust values read off JS objects that a script has checked: the server's answers
//! (`wire`, checked by js/http.js's `answerProblem`) and the client metadata, stored
//! conflicts and audit entries IndexedDB gives back (`idb::stored`, checked by
//! js/values.js's `storedProblem`), with serde's verdicts and messages. Each field is
//! read as the type the check let through. serde's derives, through serde-wasm-bindgen,
//! compiled a struct reader and its visitors per type, and Rust's own checks with their
//! messages cost more than the script's (bench/README.md "Checks out of Rust").

use js_sys::Array;
use serde_json::Value;
use wasm_bindgen::JsValue;

use crate::convert::json_of;

pub(crate) type Read<T> = Result<T, String>;

/// The verdict of a script's check (`problem`, given the kind of object and the object):
/// the first problem it found, or none.
pub(crate) fn checked(problem: fn(&str, &JsValue) -> Option<String>, kind: &str, object: &JsValue) -> Read<()> {
    #[cfg(feature = "testing")]
    crate::sys::install_scripts_for_tests();
    problem(kind, object).map_or(Ok(()), Err)
}

pub(crate) fn text(value: JsValue) -> String {
    value.as_string().unwrap_or_default()
}

pub(crate) fn number(value: JsValue) -> f64 {
    value.as_f64().unwrap_or_default()
}

/// A whole number the check let through, from 0 (a safe integer; a stored record's
/// metadata may hold larger ones, up to 2^64 - 2048, as serde read them from JSON).
pub(crate) fn whole(value: JsValue) -> u64 {
    number(value) as u64
}

/// `None` when absent or `null`, as serde reads an `Option`.
pub(crate) fn optional(value: JsValue) -> Option<JsValue> {
    Some(value).filter(|v| !v.is_undefined() && !v.is_null())
}

pub(crate) fn items(value: &JsValue) -> Array {
    Array::from(value)
}

/// A list of strings; none when absent (serde's `default`).
pub(crate) fn strings(value: JsValue) -> Vec<String> {
    let mut read = Vec::new();
    if !value.is_undefined() {
        for item in items(&value).iter() {
            read.push(text(item));
        }
    }
    read
}

/// A JSON value (an app value), `None` when absent or `null`; one that is not JSON (a
/// function, a BigInt) or is nested too deep is refused, naming `field` of `object`.
pub(crate) fn json(value: JsValue, field: &str, object: &str) -> Read<Option<Value>> {
    match optional(value) {
        None => Ok(None),
        Some(value) => json_of(&value).map(Some).map_err(|e| format!("`{field}` in {object}: {e}")),
    }
}
