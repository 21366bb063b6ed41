//! IndexedDB failures as `Error`s: `QuotaExceededError` is `Error::QuotaExceeded`,
//! anything else `Error::Storage` with the exception's name and message, and a request
//! failed by its transaction's abort reports the transaction's own error.

use wasm_bindgen::JsValue;

use pwa_sync_core::error::Error;

use crate::convert::prop;
use crate::error::describe;

/// Map a thrown JS value: `QuotaExceededError` is `Error::QuotaExceeded`; anything else
/// is `Error::Storage` with the exception's name and message.
pub(super) fn classify(js: &JsValue) -> Error {
    let (name, message) = js_parts(js);
    if name.as_deref() == Some("QuotaExceededError") {
        return Error::QuotaExceeded(message);
    }
    Error::Storage(match name {
        Some(name) if message.is_empty() => name,
        Some(name) => format!("{name}: {message}"),
        None => message,
    })
}

/// A failed request's error: the transaction's own when the request failed because the
/// transaction aborted (Chrome reports `AbortError` for a request and `QuotaExceededError`
/// for its transaction near the quota). For `reads::read_outcome` and `count_outcome`, given
/// the failed `IDBRequest` itself; the store's script applies the same rule to its requests.
pub(super) fn failed_request(request: &JsValue) -> Error {
    let error = prop(request, "error");
    let cause = match dom_name(&error).as_deref() {
        Some("AbortError") => Some(prop(&prop(request, "transaction"), "error")).filter(JsValue::is_object),
        _ => None,
    };
    classify(&cause.unwrap_or(error))
}

/// `error` saying what was being done, when it is a storage error (a full quota stays
/// `QuotaExceeded` as it is).
pub(super) fn in_context(context: &str, error: Error) -> Error {
    match error {
        Error::Storage(message) => Error::Storage(format!("{context}: {message}")),
        other => other,
    }
}

pub(super) fn dom_name(js: &JsValue) -> Option<String> {
    js_parts(js).0
}

/// `(name, message)` of a DOMException, an Error, or anything thrown (a DOMException's
/// are read as any object's: no binding of its own).
fn js_parts(js: &JsValue) -> (Option<String>, String) {
    let name = prop(js, "name").as_string();
    match prop(js, "message").as_string() {
        Some(message) => (name, message),
        // A string thrown is its own description.
        None => (name, describe(js)),
    }
}
