//! Outbound webhooks: the event body, its signature, and how a receiver checks it.
//!
//! For every change a push applies, the server POSTs one event to each `--webhook` URL:
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! Sync-Signature: t=1763769600,v1=5f2b…(64 hex digits)
//!
//! {"at":1763769600123,"attempt":1,"collection":"trips","hlc":"…","id":"evt_42","key":"t1",
//!  "space":"user:alice","type":"document.changed","user":"alice","value":{…},"version":57}
//! ```
//!
//! - `id` names this delivery (one event to one URL): the same on every retry of it, so a
//!   receiver can dedupe by it; `attempt` counts from 1 and grows on each retry.
//!
//! - `v1` is the hex HMAC-SHA256, keyed with `--webhook-secret`, of `"<t>.<body>"` (the
//!   timestamp, a dot, then the exact body bytes). A header may carry several `v1`
//!   entries (during a secret rotation); one valid entry is enough.
//! - `value` is `null` for a delete; `at` is the server's time of the push in Unix
//!   milliseconds; `version` is the global version the change got (the pull checkpoint).
//! - Delivery is **at least once**: events wait in a durable outbox (written in the same
//!   transaction as the change) and are retried with exponential backoff; a crash between
//!   sending and recording the answer sends the event again, and events retried after a
//!   failure may arrive after newer ones. Receivers dedupe by `id` (or by `(space,
//!   collection, key, version)`) and may ignore an event whose `version` is below one already seen for that
//!   `(space, collection, key)`. `space` is the document's space; `user` its writer, null
//!   for a server write (`POST /sync/admin/writes`).
//!
//! A receiver checks each request with [`verify`]: a signature by the shared secret, made
//! within [`TOLERANCE_SECS`] of now.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use pwa_sync_core::protocol::Change;
use serde_json::json;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The request header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Sync-Signature";
/// The `type` of every event this server sends.
pub const EVENT_TYPE: &str = "document.changed";
/// How far a signature's timestamp may be from the receiver's clock, either way (replay
/// protection): five minutes.
pub const TOLERANCE_SECS: i64 = 300;

/// The JSON body of the event for one applied change written by `user` (`None`: a server
/// write, `POST /sync/admin/writes`), made at `at_ms`.
pub fn event_body(user: Option<&str>, change: &Change, at_ms: i64) -> String {
    json!({
        "type": EVENT_TYPE,
        "user": user,
        "space": change.space,
        "collection": change.collection,
        "key": change.key,
        "version": change.version,
        "value": change.value,
        "hlc": change.hlc,
        "at": at_ms,
    })
    .to_string()
}

/// The `id` of the delivery kept in outbox row `row`.
pub fn event_id(row: i64) -> String {
    format!("evt_{row}")
}

/// The body sent for one attempt: the stored event with this delivery's `id` (the outbox
/// row's) and `attempt` number (from 1) added. Keys come out sorted.
pub fn delivery_body(stored: &str, id: i64, attempt: u32) -> Result<String, serde_json::Error> {
    let mut event: serde_json::Map<String, serde_json::Value> = serde_json::from_str(stored)?;
    event.insert("id".into(), json!(event_id(id)));
    event.insert("attempt".into(), json!(attempt));
    serde_json::to_string(&event)
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of every length (longer ones are hashed), so the fallback never
    // runs; were it to, its all-zero key would make verification fail, not panic.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Sync-Signature` header value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Why a webhook request is not to be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The header is not `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`.
    Malformed(&'static str),
    /// No `v1` signature matches the body under this secret.
    Mismatch,
    /// Signed more than [`TOLERANCE_SECS`] ago: possibly a replay.
    TooOld { age_secs: i64 },
    /// Signed more than [`TOLERANCE_SECS`] in the future.
    InFuture { ahead_secs: i64 },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Malformed(why) => write!(f, "malformed {SIGNATURE_HEADER} header: {why}"),
            VerifyError::Mismatch => f.write_str("no signature matches the body"),
            VerifyError::TooOld { age_secs } => {
                write!(f, "signed {age_secs} s ago, more than the {TOLERANCE_SECS} s tolerated")
            }
            VerifyError::InFuture { ahead_secs } => {
                write!(f, "signed {ahead_secs} s in the future, more than the {TOLERANCE_SECS} s tolerated")
            }
        }
    }
}

impl std::error::Error for VerifyError {}

/// Check a `Sync-Signature` header against the raw request `body`: one of its `v1`
/// signatures must be the HMAC-SHA256 of `"<t>.<body>"` under `secret` (compared in
/// constant time), and `t` must be within [`TOLERANCE_SECS`] of `now_unix` (seconds).
/// Unknown `key=value` entries (other schemes) are ignored.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now_unix: i64) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.split_once('=').ok_or(VerifyError::Malformed("an entry without '='"))?;
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(VerifyError::Malformed("more than one t"));
                }
                let t = value.trim();
                if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VerifyError::Malformed("t is not a number of seconds"));
                }
                timestamp = Some(t.parse::<i64>().map_err(|_| VerifyError::Malformed("t is out of range"))?);
            }
            // A signature that is not 32 bytes of hex can match nothing; skipping it keeps
            // one malformed entry from hiding a valid one.
            "v1" => signatures.extend(hex::decode(value.trim()).ok().filter(|s| s.len() == 32)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed("no t"))?;
    if signatures.is_empty() {
        return Err(VerifyError::Malformed("no v1 signature of 64 hex digits"));
    }
    let expected = mac(secret, timestamp, body);
    // verify_slice compares in constant time.
    if !signatures.iter().any(|s| expected.clone().verify_slice(s).is_ok()) {
        return Err(VerifyError::Mismatch);
    }
    let age = now_unix.saturating_sub(timestamp);
    if age > TOLERANCE_SECS {
        return Err(VerifyError::TooOld { age_secs: age });
    }
    if -age > TOLERANCE_SECS {
        return Err(VerifyError::InFuture { ahead_secs: -age });
    }
    Ok(())
}

/// The wait before attempt `attempts + 1`, after `attempts` (≥ 1) failed ones:
/// `base · 2^(attempts-1)`, at most `cap`, then ±10 % jitter (`unit` in [0, 1) picks where).
pub fn backoff(base: Duration, cap: Duration, attempts: u32, unit: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(32);
    let raw = base.saturating_mul(1u32 << exponent.min(31)).min(cap);
    let factor = 0.9 + 0.2 * unit.clamp(0.0, 1.0);
    raw.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_0123456789";
    const NOW: i64 = 1_763_769_600;
    const BODY: &[u8] = br#"{"type":"document.changed","version":7}"#;

    #[test]
    fn a_fresh_signature_verifies() {
        let header = sign(SECRET, NOW, BODY);
        assert!(header.starts_with(&format!("t={NOW},v1=")));
        assert_eq!(header.len(), format!("t={NOW},v1=").len() + 64);
        assert_eq!(verify(SECRET, &header, BODY, NOW), Ok(()));
        assert_eq!(verify(SECRET, &header, BODY, NOW + TOLERANCE_SECS), Ok(()));
        assert_eq!(verify(SECRET, &header, BODY, NOW - TOLERANCE_SECS), Ok(()));
        // Spaces around entries are tolerated, and so are unknown schemes.
        let spaced = header.replace(',', " , ").replace("t=", " t=");
        assert_eq!(verify(SECRET, &format!("{spaced},v0=abc"), BODY, NOW), Ok(()));
    }

    #[test]
    fn known_answer() {
        // HMAC-SHA256("key", "1.{}") computed independently (Python hmac).
        let header = sign(b"key", 1, b"{}");
        assert_eq!(header, "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
    }

    #[test]
    fn a_tampered_body_fails() {
        let header = sign(SECRET, NOW, BODY);
        let tampered = br#"{"type":"document.changed","version":8}"#;
        assert_eq!(verify(SECRET, &header, tampered, NOW), Err(VerifyError::Mismatch));
        assert_eq!(verify(SECRET, &header, b"", NOW), Err(VerifyError::Mismatch));
        // Moving the timestamp breaks the signature too (it is signed with the body).
        let moved = header.replace(&format!("t={NOW}"), &format!("t={}", NOW + 1));
        assert_eq!(verify(SECRET, &moved, BODY, NOW), Err(VerifyError::Mismatch));
    }

    #[test]
    fn a_wrong_secret_fails() {
        let header = sign(b"another secret", NOW, BODY);
        assert_eq!(verify(SECRET, &header, BODY, NOW), Err(VerifyError::Mismatch));
        assert_eq!(verify(b"", &sign(SECRET, NOW, BODY), BODY, NOW), Err(VerifyError::Mismatch));
    }

    #[test]
    fn a_stale_timestamp_fails() {
        let header = sign(SECRET, NOW, BODY);
        assert_eq!(
            verify(SECRET, &header, BODY, NOW + TOLERANCE_SECS + 1),
            Err(VerifyError::TooOld { age_secs: TOLERANCE_SECS + 1 })
        );
        assert_eq!(verify(SECRET, &header, BODY, NOW + 86_400), Err(VerifyError::TooOld { age_secs: 86_400 }));
    }

    #[test]
    fn a_future_timestamp_fails() {
        let header = sign(SECRET, NOW, BODY);
        assert_eq!(
            verify(SECRET, &header, BODY, NOW - TOLERANCE_SECS - 1),
            Err(VerifyError::InFuture { ahead_secs: TOLERANCE_SECS + 1 })
        );
    }

    #[test]
    fn malformed_headers_fail() {
        let sig = sign(SECRET, NOW, BODY);
        let v1 = sig.split_once(",v1=").map(|(_, s)| s.to_string()).unwrap_or_default();
        for header in [
            String::new(),
            "garbage".to_string(),
            format!("v1={v1}"),                        // no t
            format!("t={NOW}"),                        // no v1
            format!("t=,v1={v1}"),                     // empty t
            format!("t=-{NOW},v1={v1}"),               // signed
            format!("t=1e9,v1={v1}"),                  // not digits
            format!("t=99999999999999999999,v1={v1}"), // out of range
            format!("t={NOW},t={NOW},v1={v1}"),        // two t
            format!("t={NOW},v1=zz"),                  // not hex
            format!("t={NOW},v1={}", &v1[..62]),       // too short
            format!("t={NOW};v1={v1}"),                // wrong separator
        ] {
            assert!(matches!(verify(SECRET, &header, BODY, NOW), Err(VerifyError::Malformed(_))), "{header:?}");
        }
    }

    #[test]
    fn one_valid_signature_among_several_is_enough() {
        let good = sign(SECRET, NOW, BODY);
        let good_v1 = good.split_once(",v1=").map(|(_, s)| s.to_string()).unwrap_or_default();
        let old = sign(b"rotated-out secret", NOW, BODY);
        let old_v1 = old.split_once(",v1=").map(|(_, s)| s.to_string()).unwrap_or_default();
        let header = format!("t={NOW},v1={old_v1},v1=nothex,v1={good_v1}");
        assert_eq!(verify(SECRET, &header, BODY, NOW), Ok(()));
        let header = format!("t={NOW},v1={old_v1},v1={old_v1}");
        assert_eq!(verify(SECRET, &header, BODY, NOW), Err(VerifyError::Mismatch));
    }

    #[test]
    fn event_bodies_carry_the_change() {
        let change = Change {
            collection: "trips".into(),
            key: "t1".into(),
            version: 57,
            value: Some(json!({"title": "Rome"})),
            hlc: "001763769600000-0000-c-1".into(),
            space: Some("user:alice".into()),
            schema_version: None,
        };
        let body: serde_json::Value =
            serde_json::from_str(&event_body(Some("alice"), &change, 1_763_769_600_123)).unwrap();
        assert_eq!(
            body,
            json!({"type": "document.changed", "user": "alice", "space": "user:alice", "collection": "trips", "key": "t1", "version": 57,
                   "value": {"title": "Rome"}, "hlc": "001763769600000-0000-c-1", "at": 1_763_769_600_123i64})
        );
        let deleted = Change { value: None, ..change };
        let body: serde_json::Value = serde_json::from_str(&event_body(Some("alice"), &deleted, 1)).unwrap();
        assert_eq!(body["value"], serde_json::Value::Null);
        assert!(body.as_object().is_some_and(|o| o.contains_key("value")));
        // A server write has no user.
        let body: serde_json::Value = serde_json::from_str(&event_body(None, &deleted, 1)).unwrap();
        assert_eq!(body["user"], serde_json::Value::Null);
    }

    #[test]
    fn delivery_bodies_add_the_id_and_the_attempt() {
        let stored = r#"{"type":"document.changed","version":7}"#;
        let body: serde_json::Value = serde_json::from_str(&delivery_body(stored, 42, 3).unwrap()).unwrap();
        assert_eq!(body, json!({"type": "document.changed", "version": 7, "id": "evt_42", "attempt": 3}));
        assert!(delivery_body("[1]", 1, 1).is_err(), "a stored body that is not an object is an error");
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(3600));
        assert_eq!(backoff(base, cap, 1, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(base, cap, 2, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(base, cap, 5, 0.5), Duration::from_secs(16));
        assert_eq!(backoff(base, cap, 13, 0.5), cap);
        assert_eq!(backoff(base, cap, u32::MAX, 0.5), cap);
        assert_eq!(backoff(base, cap, 3, 0.0), Duration::from_millis(3600));
        assert_eq!(backoff(base, cap, 3, 1.0), Duration::from_millis(4400));
        assert_eq!(backoff(base, cap, 0, 0.5), Duration::from_secs(1));
    }
}
