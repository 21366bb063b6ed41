//! The binding pwa-sync's module calls through JS: `Cipher.fromKey(key)` (a Uint8Array,
//! an ArrayBuffer or a base64 string; throws `BadKey`'s message), `seal(text)`,
//! `open(stored)` (`undefined` for a string that is not sealed; throws why one does not
//! open).

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::{BadKey, Key};

#[wasm_bindgen]
pub struct Cipher {
    key: Key,
}

#[wasm_bindgen]
impl Cipher {
    #[wasm_bindgen(js_name = fromKey)]
    pub fn from_key(key: &JsValue) -> Result<Cipher, JsError> {
        let key = if let Some(text) = key.as_string() {
            Key::from_base64(&text)
        } else if key.is_instance_of::<Uint8Array>() || key.is_instance_of::<js_sys::ArrayBuffer>() {
            Key::from_bytes(&Uint8Array::new(key).to_vec())
        } else {
            Err(BadKey("`encryption.key` must be 32 bytes: a Uint8Array or a base64 string".into()))
        };
        key.map(|key| Cipher { key }).map_err(|BadKey(why)| JsError::new(&why))
    }

    pub fn seal(&self, plain: &str) -> Result<String, JsError> {
        self.key.seal(random_nonce()?, plain.as_bytes()).map_err(|e| JsError::new(&e))
    }

    pub fn open(&self, stored: &str) -> Result<Option<String>, JsError> {
        match self.key.open(stored) {
            None => Ok(None),
            Some(Err(why)) => Err(JsError::new(&why)),
            Some(Ok(plain)) => String::from_utf8(plain)
                .map(Some)
                .map_err(|e| JsError::new(&format!("a sealed value is not UTF-8: {e}"))),
        }
    }
}

#[wasm_bindgen]
extern "C" {
    type Crypto;
    #[wasm_bindgen(method, catch, js_name = getRandomValues)]
    fn get_random_values(this: &Crypto, bytes: &Uint8Array) -> Result<JsValue, JsValue>;
}

/// 12 bytes from the platform's CSPRNG (`crypto` on the global scope of pages and
/// workers alike).
fn random_nonce() -> Result<[u8; 12], JsError> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .filter(|c| c.is_object())
        .ok_or_else(|| JsError::new("crypto.getRandomValues is not available in this context"))?;
    let bytes = Uint8Array::new_with_length(12);
    crypto
        .unchecked_ref::<Crypto>()
        .get_random_values(&bytes)
        .map_err(|_| JsError::new("crypto.getRandomValues failed"))?;
    let mut nonce = [0u8; 12];
    bytes.copy_to(&mut nonce);
    Ok(nonce)
}
