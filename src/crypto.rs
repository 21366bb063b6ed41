//! Encryption at rest (`encryption: {key}`): app values are sealed with AES-256-GCM
//! (RustCrypto, synchronous, so sealing happens before a transaction opens), a fresh
//! random 96-bit nonce per value. Keys, collection names and sync metadata stay readable;
//! the key itself lives in memory only and is never written anywhere.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use js_sys::Uint8Array;
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::describe;
use crate::sys;
use crate::value::JsVal;
use pwa_sync_core::record::AppValues;
use pwa_sync_core::Error;

/// What a sealed value looks like in IndexedDB: a string with this prefix.
const PREFIX: &str = "pwa-sync:sealed:v1:";

pub struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    /// From the config's `encryption.key`: 32 bytes, as a Uint8Array / ArrayBuffer or a
    /// base64 string.
    pub fn from_js(key: &JsValue) -> Result<Sealer, Error> {
        let bytes: Vec<u8> = if let Some(text) = key.as_string() {
            STANDARD
                .decode(text.trim())
                .map_err(|e| Error::InvalidConfig(format!("`encryption.key` is not base64: {e}")))?
        } else if key.is_instance_of::<Uint8Array>() || key.is_instance_of::<js_sys::ArrayBuffer>() {
            Uint8Array::new(key).to_vec()
        } else {
            return Err(Error::InvalidConfig(
                "`encryption.key` must be 32 bytes: a Uint8Array or a base64 string".into(),
            ));
        };
        if bytes.len() != 32 {
            return Err(Error::InvalidConfig(format!(
                "`encryption.key` must be 32 bytes (AES-256), got {}",
                bytes.len()
            )));
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes)
            .map_err(|_| Error::InvalidConfig("`encryption.key` must be 32 bytes".into()))?;
        Ok(Sealer { cipher })
    }

    /// `plain` (a value's JSON text) sealed: the string IndexedDB stores in its place.
    fn seal_text(&self, plain: &[u8]) -> Result<String, Error> {
        let nonce = random_bytes::<12>()?;
        let sealed =
            self.cipher.encrypt(&Nonce::from(nonce), plain).map_err(|_| Error::Storage("encryption failed".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// The JSON text inside a sealed string; `None` if `stored` is not one (a value
    /// stored before encryption was turned on, read as it is).
    fn open_text(&self, stored: &str) -> Option<Result<Vec<u8>, String>> {
        let sealed = stored.strip_prefix(PREFIX)?;
        let open = || {
            let bytes = STANDARD.decode(sealed).map_err(|e| format!("a sealed value is not base64: {e}"))?;
            if bytes.len() < 12 {
                return Err("a sealed value is too short".to_owned());
            }
            let (nonce, ciphertext) = bytes.split_at(12);
            let nonce: [u8; 12] = nonce.try_into().map_err(|_| "a sealed value has a bad nonce".to_owned())?;
            self.cipher
                .decrypt(&Nonce::from(nonce), ciphertext)
                .map_err(|_| "a sealed value does not open with this key (wrong key, or tampered)".to_owned())
        };
        Some(open())
    }

    /// An app value held in JS, sealed.
    pub fn seal_value(&self, value: &JsVal) -> Result<JsValue, Error> {
        let text = value.text().ok_or_else(|| Error::Storage("cannot seal a value: it has no JSON text".into()))?;
        Ok(JsValue::from_str(&self.seal_text(text.as_bytes())?))
    }

    /// A stored app value, opened if it is sealed.
    pub fn open_value(&self, stored: JsValue) -> Result<JsVal, String> {
        let Some(text) = stored.as_string() else { return Ok(JsVal(stored)) };
        match self.open_text(&text) {
            None => Ok(JsVal(stored)),
            Some(plain) => {
                let plain = String::from_utf8(plain?).map_err(|e| format!("a sealed value is not UTF-8: {e}"))?;
                js_sys::JSON::parse(&plain)
                    .map(JsVal)
                    .map_err(|e| format!("a sealed value is not JSON: {}", describe(&e)))
            }
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
            let plain = serde_json::to_vec(value).map_err(|e| Error::Storage(format!("cannot seal a value: {e}")))?;
            *value = Value::String(self.seal_text(&plain)?);
        }
        Ok(())
    }

    fn open_values(&self, values: Vec<&mut Value>) -> Result<(), String> {
        for value in values {
            let Some(plain) = value.as_str().and_then(|s| self.open_text(s)) else { continue };
            let plain = String::from_utf8(plain?).map_err(|e| format!("a sealed value is not UTF-8: {e}"))?;
            let parsed =
                js_sys::JSON::parse(&plain).map_err(|e| format!("a sealed value is not JSON: {}", describe(&e)))?;
            *value = crate::convert::from_js(parsed).map_err(|e| format!("a sealed value is not JSON: {e}"))?;
        }
        Ok(())
    }
}

/// `N` random bytes from the platform's CSPRNG (`crypto.getRandomValues`, on the global
/// scope in pages and workers alike).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let unavailable = |detail: String| Error::Storage(format!("crypto.getRandomValues is not available: {detail}"));
    let crypto = sys::global().crypto().ok_or_else(|| unavailable("no `crypto` in this context".into()))?;
    let bytes = Uint8Array::new_with_length(N as u32);
    crypto.get_random_values_with_js_u8_array(&bytes).map_err(|e| unavailable(describe(&e)))?;
    let mut out = [0u8; N];
    bytes.copy_to(&mut out);
    Ok(out)
}
