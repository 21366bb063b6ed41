//! Transaction primitives: starting one (with `durability: "strict"` when asked) and
//! ending one (commit awaited, or an explicit abort on every error path).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use idb::TransactionMode;
use js_sys::Array;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Event, IdbDatabase, IdbTransaction, IdbTransactionMode};

use pwa_sync_core::error::{Error, Result};
use pwa_sync_core::store::Durability;

use super::error::classify;
use crate::sys::{Database, TransactionOptions};

pub(super) fn start_transaction(
    db: &IdbDatabase,
    stores: &[&str],
    mode: TransactionMode,
    durability: Durability,
) -> Result<idb::Transaction, JsValue> {
    let names = || -> Array { stores.iter().map(|s| JsValue::from_str(s)).collect() };
    let tx = match (durability, stores) {
        // The common cases through the direct binding; one store by name, not in an
        // array (Chrome's `transaction()` takes a string faster than a sequence).
        (Durability::Default, [store]) => db.transaction_with_str_and_mode(store, web_mode(mode))?,
        (Durability::Default, _) => db.transaction_with_str_sequence_and_mode(&names(), web_mode(mode))?,
        (Durability::Strict, _) => {
            let mode = match mode {
                TransactionMode::ReadWrite => "readwrite",
                _ => "readonly",
            };
            db.unchecked_ref::<Database>().transaction_with_options(&names(), mode, &TransactionOptions::strict())?
        }
    };
    Ok(idb::Transaction::from(tx))
}

fn web_mode(mode: TransactionMode) -> IdbTransactionMode {
    match mode {
        TransactionMode::ReadWrite => IdbTransactionMode::Readwrite,
        _ => IdbTransactionMode::Readonly,
    }
}

/// End a transaction: on success wait for `complete` if asked (an `abort` instead is an
/// error); on error abort it explicitly, so nothing it wrote commits.
pub(super) async fn finish<T>(tx: idb::Transaction, result: Result<T>, wait: bool) -> Result<T> {
    match result {
        Ok(value) if wait => {
            let tx = IdbTransaction::from(tx);
            if Settled::new(tx.clone()).await {
                Ok(value)
            } else {
                Err(match tx.error() {
                    Some(cause) => classify(&cause),
                    None => Error::Storage("the transaction was aborted".into()),
                })
            }
        }
        Ok(value) => Ok(value),
        Err(error) => {
            // Throws only if the transaction already ended, and then there is nothing
            // left to undo.
            let _ = tx.abort();
            Err(error)
        }
    }
}

/// Resolves when a transaction ends: `true` on `complete`, `false` on `abort`. Unlike
/// idb's `TransactionFuture` it does not resolve on a bubbled request `error` (which is
/// followed by `abort`, whose handler would by then be dropped) and unhooks itself.
struct Settled {
    tx: IdbTransaction,
    state: Rc<RefCell<(Option<bool>, Option<Waker>)>>,
    _on_complete: Closure<dyn FnMut(Event)>,
    _on_abort: Closure<dyn FnMut(Event)>,
}

impl Settled {
    fn new(tx: IdbTransaction) -> Settled {
        let state: Rc<RefCell<(Option<bool>, Option<Waker>)>> = Rc::new(RefCell::new((None, None)));
        let handler = |committed: bool| {
            let state = state.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                let waker = {
                    let mut state = state.borrow_mut();
                    state.0.get_or_insert(committed);
                    state.1.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            })
        };
        let (on_complete, on_abort) = (handler(true), handler(false));
        tx.set_oncomplete(Some(on_complete.as_ref().unchecked_ref()));
        tx.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
        Settled { tx, state, _on_complete: on_complete, _on_abort: on_abort }
    }
}

impl Future for Settled {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut state = self.state.borrow_mut();
        match state.0 {
            Some(committed) => Poll::Ready(committed),
            None => {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        self.tx.set_oncomplete(None);
        self.tx.set_onabort(None);
    }
}
