//! Server-authored writes (`POST /sync/admin/writes`), written once over [`Tx`]: no
//! client, no base version (the server's word is final), all in one transaction, each
//! applied change announced like a pushed one (a version, a webhook event per URL).

use pwa_sync_core::patch;
use pwa_sync_core::protocol::{is_valid_space_id, Change, Mutation, Op};
use serde::Deserialize;
use serde_json::Value;

use super::push::{check_size, to_u64, validate, DocWrite, Tx, WebhookWrite};
use super::{now_ms, Failure};
use crate::config::Limits;
use crate::webhook;

/// One write of the request body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerWrite {
    pub space: String,
    pub collection: String,
    pub key: String,
    pub op: Op,
    /// The document for `put`, the merge patch for `patch`; absent or null for `delete`.
    #[serde(default)]
    pub value: Value,
    /// The app schema version of `value` (as a client's `schemaVersion`); absent: 1.
    #[serde(default, rename = "schemaVersion")]
    pub schema_version: Option<u32>,
}

/// Stored as the writer of a server write: no client id can be empty.
const SERVER_CLIENT: &str = "";

/// The stamp of a server write: the server's clock, counter 0, node `server`.
fn server_stamp(now: i64) -> String {
    format!("{now:015}-0000-server")
}

/// Checks that need no stored state; the message names the write by its index.
pub fn check(writes: &[ServerWrite], limits: Limits) -> Result<(), String> {
    for (i, w) in writes.iter().enumerate() {
        if !is_valid_space_id(&w.space) {
            return Err(format!("writes[{i}]: space {:?} is not 1 to 128 characters of [A-Za-z0-9_.:-]", w.space));
        }
        validate(&as_mutation(w, String::new()), limits).map_err(|e| format!("writes[{i}]: {e}"))?;
    }
    Ok(())
}

fn as_mutation(w: &ServerWrite, hlc: String) -> Mutation {
    Mutation {
        id: 0,
        collection: w.collection.clone(),
        key: w.key.clone(),
        op: w.op,
        value: w.value.clone(),
        base_version: None,
        hlc,
        space: Some(w.space.clone()),
        schema_version: w.schema_version,
    }
}

/// Apply `writes` (checked by [`check`]) in `tx`; the caller commits on `Ok`. A patch of
/// a missing or deleted document fails the whole request ([`Failure::Rejected`]).
pub(crate) async fn run<T: Tx>(
    tx: &mut T,
    writes: &[ServerWrite],
    limits: Limits,
    webhooks: &[String],
) -> Result<Vec<Change>, Failure> {
    tx.lock_counter().await?;
    let now = now_ms();
    let hlc = server_stamp(now);
    let mut applied = Vec::with_capacity(writes.len());
    for (i, w) in writes.iter().enumerate() {
        let value = match w.op {
            Op::Put => Some(w.value.clone()),
            Op::Delete => None,
            Op::Patch => {
                let current = tx.document(&w.space, &w.collection, &w.key).await?;
                let text = current.and_then(|d| d.value).ok_or_else(|| {
                    Failure::Rejected(format!("writes[{i}]: patch of {}/{}, which does not exist", w.collection, w.key))
                })?;
                let mut value: Value = serde_json::from_str(&text)
                    .map_err(|e| Failure::Corrupt(format!("stored document {}/{}: {e}", w.collection, w.key)))?;
                patch::apply(&mut value, &w.value);
                check_size(&value, limits).map_err(|e| Failure::Rejected(format!("writes[{i}]: {e}")))?;
                Some(value)
            }
        };
        let version = tx.next_version().await?;
        let text = value.as_ref().map(Value::to_string);
        tx.write_document(&DocWrite {
            space: &w.space,
            collection: &w.collection,
            key: &w.key,
            version,
            value: text.as_deref(),
            hlc: &hlc,
            client_id: SERVER_CLIENT,
            mutation_id: 0,
            now,
            schema_version: w.schema_version.map(i64::from),
        })
        .await?;
        let change = Change {
            collection: w.collection.clone(),
            key: w.key.clone(),
            version: to_u64(version)?,
            value,
            hlc: hlc.clone(),
            space: Some(w.space.clone()),
            schema_version: w.schema_version,
        };
        if !webhooks.is_empty() {
            let body = webhook::event_body(None, &change, now);
            for url in webhooks {
                tx.enqueue_webhook(&WebhookWrite { url, body: &body, user: SERVER_CLIENT, version, now }).await?;
            }
        }
        applied.push(change);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_are_checked_before_any_is_applied() {
        let write = |space: &str, op: Op, value: Value| ServerWrite {
            space: space.into(),
            collection: "c".into(),
            key: "k".into(),
            op,
            value,
            schema_version: None,
        };
        let limits = Limits::default();
        assert!(check(&[write("conference", Op::Put, json!({"a": 1}))], limits).is_ok());
        assert!(check(&[write("conference", Op::Delete, Value::Null)], limits).is_ok());
        let err = check(&[write("ok", Op::Put, json!({})), write("bad space", Op::Put, json!({}))], limits);
        assert!(err.is_err_and(|e| e.starts_with("writes[1]")));
        assert!(check(&[write("ok", Op::Put, json!([1]))], limits).is_err());
        assert!(server_stamp(1_763_769_600_000) < server_stamp(1_763_769_600_001));
    }
}
