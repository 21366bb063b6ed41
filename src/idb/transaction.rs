//! Transaction primitives: starting one (with `durability: "strict"` when asked) and
//! ending one (commit awaited, or an explicit abort on every error path).

use js_sys::Array;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbTransaction};

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::store::Durability;

use super::error::classify;
use super::script;

/// Whether a transaction writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Read,
    Write,
}

pub(super) fn start_transaction(
    db: &IdbDatabase,
    stores: &[&str],
    mode: Mode,
    durability: Durability,
) -> Result<IdbTransaction, JsValue> {
    let names = Array::new();
    for store in stores {
        // Made once per name: every local write starts a transaction.
        names.push(&crate::sys::name(store));
    }
    script::begin(db, &names, mode == Mode::Write, durability == Durability::Strict)
}

/// End a transaction: on success wait for its commit if asked (an abort instead is an
/// error); on error abort it explicitly, so nothing it wrote commits.
pub(super) async fn finish<T>(tx: IdbTransaction, result: Result<T>, wait: bool) -> Result<T> {
    match result {
        Ok(value) if wait => JsFuture::from(script::ended(&tx)).await.map(|_| value).map_err(not_committed),
        Ok(value) => Ok(value),
        Err(error) => {
            // Throws only if the transaction already ended, and then there is nothing
            // left to undo.
            let _ = tx.abort();
            Err(error)
        }
    }
}

/// Why a transaction did not commit, from the rejection of its end (`script::ended`):
/// its error, or `null` for an abort without one.
pub(super) fn not_committed(cause: JsValue) -> Error {
    if cause.is_null() {
        Error::Storage("the transaction was aborted".into())
    } else {
        classify(&cause)
    }
}
