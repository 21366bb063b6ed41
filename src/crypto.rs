//! Encryption at rest (`encryption: {key}`): app values are sealed with AES-256-GCM by the
//! package's second module, `seal/` (crate `pwa-sync-seal`), which a client loads only
//! when it is configured with `encryption`: the main module carries no cipher (issue 16).
//! The cipher is synchronous, so sealing happens before a transaction opens and opening
//! inside one. Keys, collection names and sync metadata stay readable; the key itself
//! lives in memory only and is never written anywhere.

use js_sys::{Function, JsString, Reflect};
use serde_json::Value;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::describe;
use crate::sys;
use crate::value::JsVal;
use pwa_sync_core::record::AppValues;
use pwa_sync_core::Error;

thread_local! {
    /// The default `encryption.loadCipher`, set by the package's `init()` (js/index.js):
    /// `import()` of `seal/pwa_sync_seal.js`. Not a wasm-bindgen snippet: the crate has
    /// none, since Firefox's classic service-worker suite (`--target no-modules`) cannot
    /// load one; and a bundler follows an `import()` in the package's own JS.
    static SEAL_LOADER: std::cell::RefCell<Option<Function>> = const { std::cell::RefCell::new(None) };
}

/// Set by js/index.js after `init()`: how a client with `encryption` and no
/// `encryption.loadCipher` loads the cipher module. Not part of the API.
#[wasm_bindgen(js_name = __setSealLoader, skip_typescript)]
pub fn set_seal_loader(loader: Function) {
    SEAL_LOADER.with(|l| *l.borrow_mut() = Some(loader));
}

#[wasm_bindgen]
extern "C" {
    /// `seal/`'s `Cipher`: JS strings in and out, so no value's text is copied into this
    /// module on its way to be sealed.
    type Cipher;
    #[wasm_bindgen(method, catch)]
    fn seal(this: &Cipher, plain: &JsValue) -> Result<JsString, JsValue>;
    /// `undefined` when `stored` is not a sealed string.
    #[wasm_bindgen(method, catch)]
    fn open(this: &Cipher, stored: &JsValue) -> Result<JsValue, JsValue>;
}

pub struct Sealer {
    cipher: Cipher,
}

impl Sealer {
    /// The sealer of `cipher`, a `Cipher` of the cipher module (`seal/`), which the store's
    /// script loaded and made from the config's key (`client::open`).
    pub fn of(cipher: JsValue) -> Sealer {
        Sealer { cipher: cipher.unchecked_into() }
    }

    /// The default `encryption.loadCipher` (`set_seal_loader`), `undefined` when unset.
    pub fn default_loader() -> JsValue {
        SEAL_LOADER.with(|l| l.borrow().clone()).map_or(JsValue::UNDEFINED, JsValue::from)
    }

    /// A value's JSON text sealed: the string IndexedDB stores in its place.
    fn seal_text(&self, plain: &JsValue) -> Result<JsString, Error> {
        self.cipher.seal(plain).map_err(|e| Error::Storage(format!("encryption failed: {}", describe(&e))))
    }

    /// The value inside a sealed string, parsed; `None` if `stored` is not one (a value
    /// stored before encryption was turned on, read as it is).
    fn open_text(&self, stored: &JsValue) -> Option<Result<JsValue, String>> {
        let plain = match self.cipher.open(stored) {
            Ok(plain) => plain.dyn_into::<JsString>().ok()?,
            Err(e) => return Some(Err(field_message(&e))),
        };
        Some(sys::json_parse(&plain).map_err(|e| format!("a sealed value is not JSON: {}", describe(&e))))
    }

    /// An app value held in JS, sealed.
    pub fn seal_value(&self, value: &JsVal) -> Result<JsValue, Error> {
        let text = js_sys::JSON::stringify(&value.0)
            .map_err(|_| Error::Storage("cannot seal a value: it has no JSON text".into()))?;
        Ok(self.seal_text(&text)?.into())
    }

    /// A stored app value, opened if it is sealed.
    pub fn open_value(&self, stored: JsValue) -> Result<JsVal, String> {
        if !stored.is_string() {
            return Ok(JsVal(stored));
        }
        match self.open_text(&stored) {
            None => Ok(JsVal(stored)),
            Some(opened) => opened.map(JsVal),
        }
    }

    /// A copy of `record` with its app values sealed.
    pub fn seal<T: AppValues + Clone>(&self, record: &T) -> Result<T, Error> {
        let mut copy = record.clone();
        self.seal_values(copy.app_values())?;
        Ok(copy)
    }

    /// Open the sealed values of `record` in place. Values stored before encryption was
    /// turned on are read as they are.
    pub fn open<T: AppValues>(&self, record: &mut T) -> Result<(), String> {
        self.open_values(record.app_values())
    }

    // The work of `seal` and `open` out of their generic shells: compiled once, not once
    // per stored type.
    fn seal_values(&self, values: Vec<&mut Value>) -> Result<(), Error> {
        for value in values {
            if value.is_null() {
                continue;
            }
            let plain = pwa_sync_core::json::to_string(value);
            let sealed = self.seal_text(&JsValue::from_str(&plain))?;
            *value = Value::String(sealed.into());
        }
        Ok(())
    }

    fn open_values(&self, values: Vec<&mut Value>) -> Result<(), String> {
        for value in values {
            let Some(stored) = value.as_str() else { continue };
            let Some(parsed) = self.open_text(&JsValue::from_str(stored)) else { continue };
            *value = crate::convert::json_of(&parsed?).map_err(|e| format!("a sealed value is not JSON: {e}"))?;
        }
        Ok(())
    }
}

/// Why the cipher refused (a key, a sealed value): its error's message.
fn field_message(error: &JsValue) -> String {
    Reflect::get(error, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_else(|| describe(error))
}

// The store's script, as `idb::script`'s imports are; bound here, not there, because
// `idb` uses this module (the sealer), and the modules' layering has no cycles.
#[wasm_bindgen(js_namespace = pwaSyncStore)]
extern "C" {
    /// A fresh client id; throws the reason as text where the context has no `crypto`.
    #[wasm_bindgen(catch, js_name = clientId)]
    fn client_id() -> Result<String, JsValue>;
}

/// A fresh client id (`c-` and 16 hex digits): the server keys what it applied by client
/// id and mutation id, so each new database's outbox, numbered from 1, needs one. Made by
/// the store's script from `crypto.getRandomValues` (on the global scope in pages and
/// workers alike): hex written in Rust linked `core::fmt`'s padded integer formatting.
pub fn new_client_id() -> Result<String, Error> {
    client_id().map_err(|e| Error::Storage(format!("crypto.getRandomValues is not available: {}", describe(&e))))
}
