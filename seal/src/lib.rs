//! Encryption at rest for pwa-sync, as a module of its own: AES-256-GCM with a fresh
//! random 96-bit nonce per value, sealed values stored as `pwa-sync:sealed:v1:` + base64
//! of nonce and ciphertext. pwa-sync loads it only when a client is configured with
//! `encryption`, so every other app downloads none of it (issue 16).
//!
//! The work is pure ([`Key`], tested on the host); `web` is the thin binding the main
//! module calls (`Cipher.fromKey`, `seal`, `open`).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

#[cfg(target_arch = "wasm32")]
mod web;
#[cfg(target_arch = "wasm32")]
pub use web::Cipher;

/// What a sealed value looks like in IndexedDB: a string with this prefix.
pub const PREFIX: &str = "pwa-sync:sealed:v1:";

/// Why a key is refused: the app's config is wrong (`invalid-config` in pwa-sync).
#[derive(Debug, PartialEq)]
pub struct BadKey(pub String);

/// An AES-256-GCM key. Lives in memory only.
pub struct Key {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Key {
    // Never the key's bytes, not even in a test's panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Key, BadKey> {
        if bytes.len() != 32 {
            return Err(BadKey(format!("`encryption.key` must be 32 bytes (AES-256), got {}", bytes.len())));
        }
        let cipher =
            Aes256Gcm::new_from_slice(bytes).map_err(|_| BadKey("`encryption.key` must be 32 bytes".into()))?;
        Ok(Key { cipher })
    }

    /// 32 bytes as standard base64 (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Key, BadKey> {
        let bytes = STANDARD.decode(text.trim()).map_err(|e| BadKey(format!("`encryption.key` is not base64: {e}")))?;
        Key::from_bytes(&bytes)
    }

    /// `plain` sealed with `nonce` (which must never repeat for this key): the string
    /// stored in its place.
    pub fn seal(&self, nonce: [u8; 12], plain: &[u8]) -> Result<String, String> {
        let sealed = self.cipher.encrypt(&Nonce::from(nonce), plain).map_err(|_| "encryption failed".to_owned())?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// The plaintext inside a sealed string; `None` if `stored` is not one (a value
    /// stored before encryption was turned on, read as it is).
    pub fn open(&self, stored: &str) -> Option<Result<Vec<u8>, String>> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        Key::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_with_its_key_only() {
        let sealed = key(7).seal([1; 12], br#"{"text":"diary"}"#).unwrap();
        assert!(sealed.starts_with(PREFIX));
        assert!(!sealed.contains("diary"));
        assert_eq!(key(7).open(&sealed), Some(Ok(br#"{"text":"diary"}"#.to_vec())));
        let wrong = key(8).open(&sealed).unwrap().unwrap_err();
        assert!(wrong.contains("does not open with this key"), "{wrong}");
    }

    #[test]
    fn nonces_make_equal_values_differ_and_tampering_is_found() {
        let a = key(7).seal([1; 12], b"same").unwrap();
        let b = key(7).seal([2; 12], b"same").unwrap();
        assert_ne!(a, b);
        let mut tampered = a.into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(key(7).open(&tampered).unwrap().is_err());
    }

    #[test]
    fn plain_and_broken_stored_strings_are_told_apart() {
        assert_eq!(key(7).open("a value from before encryption"), None);
        assert!(key(7).open(&format!("{PREFIX}!!")).unwrap().unwrap_err().contains("not base64"));
        assert_eq!(key(7).open(&format!("{PREFIX}AAAA")), Some(Err("a sealed value is too short".to_owned())));
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(Key::from_bytes(&[1; 16]).unwrap_err().0.contains("got 16"));
        assert!(Key::from_base64("not base64!").unwrap_err().0.contains("not base64"));
        assert!(Key::from_base64(" AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE= ").is_ok());
    }
}
