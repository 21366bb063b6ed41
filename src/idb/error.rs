//! IndexedDB failures as `Error`s: `QuotaExceededError` is `Error::QuotaExceeded`,
//! anything else `Error::Storage` with the exception's name and message, and a request
//! failed by its transaction's abort reports the transaction's own error.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::DomException;

use pwa_sync_core::error::Error;

use crate::convert::prop;

/// Map a thrown JS value: `QuotaExceededError` is `Error::QuotaExceeded`; anything else
/// is `Error::Storage` with the exception's name and message.
pub(super) fn classify(js: &JsValue) -> Error {
    let (name, message) = js_parts(js);
    from_parts(None, name, message)
}

/// The same for an `idb` error, keeping idb's description of what failed.
pub(super) fn classify_idb(error: idb::Error) -> Error {
    let (name, message) = failure_parts(&error);
    let context = error.to_string();
    let context = context.split(": ").next().unwrap_or_default().to_owned();
    from_parts(Some(context), name, message)
}

/// Errors of requests inside `tx`: a request that failed because the transaction was
/// aborted reports the transaction's own error (Chrome reports `AbortError` for a
/// request and `QuotaExceededError` for its transaction near the quota).
pub(super) fn in_tx(tx: &idb::Transaction) -> impl Fn(idb::Error) -> Error + Copy + '_ {
    move |error| {
        let (name, _) = failure_parts(&error);
        match tx.error() {
            Some(cause) if name.as_deref() == Some("AbortError") => classify(&cause),
            _ => classify_idb(error),
        }
    }
}

/// The same rule for a request issued outside idb (`reads::read_now`), given the failed
/// `IDBRequest` itself.
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

fn from_parts(context: Option<String>, name: Option<String>, message: String) -> Error {
    if name.as_deref() == Some("QuotaExceededError") {
        return Error::QuotaExceeded(message);
    }
    let mut text = context.filter(|c| !c.is_empty()).map(|c| format!("{c}: ")).unwrap_or_default();
    if let Some(name) = name {
        text.push_str(&name);
        if !message.is_empty() {
            text.push_str(": ");
        }
    }
    text.push_str(&message);
    Error::Storage(text)
}

pub(super) fn dom_name(js: &JsValue) -> Option<String> {
    js_parts(js).0
}

/// `(name, message)` of a DOMException, an Error, or anything thrown.
fn js_parts(js: &JsValue) -> (Option<String>, String) {
    if let Some(exception) = js.dyn_ref::<DomException>() {
        return (Some(exception.name()), exception.message());
    }
    let name = prop(js, "name").as_string();
    match prop(js, "message").as_string() {
        Some(message) => (name, message),
        None => (name, js.as_string().unwrap_or_else(|| format!("{js:?}"))),
    }
}

/// The JS exception inside an idb error, split into name and message.
pub(super) fn failure_parts(error: &idb::Error) -> (Option<String>, String) {
    use idb::Error as E;
    let js: Option<JsValue> = match error {
        E::DomException(e) => Some(e.clone().into()),
        E::AddFailed(js)
        | E::ClearFailed(js)
        | E::CountFailed(js)
        | E::CursorAdvanceFailed(js)
        | E::CursorContinueFailed(js)
        | E::CursorKeyNotFound(js)
        | E::CursorPrimaryKeyNotFound(js)
        | E::CursorValueNotFound(js)
        | E::DeleteFailed(js)
        | E::GetAllFailed(js)
        | E::GetAllKeysFailed(js)
        | E::GetFailed(js)
        | E::GetKeyFailed(js)
        | E::IndexCreateFailed(js)
        | E::IndexDeleteFailed(js)
        | E::IndexedDbDeleteFailed(js)
        | E::IndexedDbNotFound(js)
        | E::IndexedDbOpenFailed(js)
        | E::IndexNotFound(js)
        | E::KeyPathNotFound(js)
        | E::KeyRangeBoundNotFound(js)
        | E::KeyRangeCreateFailed(js)
        | E::KeyRangeIncludesFailed(js)
        | E::ObjectStoreCreateFailed(js)
        | E::ObjectStoreDeleteFailed(js)
        | E::ObjectStoreNotFound(js)
        | E::OpenCursorFailed(js)
        | E::OpenKeyCursorFailed(js)
        | E::RequestErrorNotFound(js)
        | E::RequestResultNotFound(js)
        | E::TransactionAbortError(js)
        | E::TransactionCommitError(js)
        | E::TransactionModeNotFound(js)
        | E::TransactionOpenFailed(js)
        | E::UpdateFailed(js) => Some(js.clone()),
        _ => None,
    };
    match js {
        Some(js) => js_parts(&js),
        None => (None, error.to_string()),
    }
}
