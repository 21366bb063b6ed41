//! Wire protocol v1 types (JSON, camelCase). Shared by the client and the reference server.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const PROTOCOL_VERSION: &str = "1";
pub const PROTOCOL_HEADER: &str = "X-Sync-Protocol";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Put,
    Patch,
    Delete,
}

/// One local write as the server sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mutation {
    pub id: u64,
    pub collection: String,
    pub key: String,
    pub op: Op,
    /// The full value for `put`, the merge patch for `patch`, null for `delete`.
    pub value: Value,
    /// The server version this client last saw for the key; `None` if it never saw one.
    pub base_version: Option<u64>,
    pub hlc: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushRequest {
    pub client_id: String,
    pub mutations: Vec<Mutation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerState {
    pub version: u64,
    /// `None` when the server holds a tombstone for the key.
    pub value: Option<Value>,
    pub hlc: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum MutationResult {
    Applied { id: u64, version: u64 },
    Conflict { id: u64, server: ServerState },
    Rejected { id: u64, code: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushResponse {
    pub results: Vec<MutationResult>,
    pub last_mutation_id: u64,
    /// The server's clock (ms since the epoch), so clients can correct a skewed clock.
    /// An addition to v1 that older peers ignore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub collection: String,
    pub key: String,
    pub version: u64,
    pub value: Option<Value>,
    pub hlc: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullResponse {
    pub changes: Vec<Change>,
    pub checkpoint: u64,
    pub has_more: bool,
    /// As in `PushResponse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<u64>,
}

/// The body of every error answer: `{"error": {"code": "...", "message": "..."}}`. The
/// reference server and the fault proxy send it; the client reads the message from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Machine-readable, kebab-case (`unauthorized`, `malformed-json`, …). Defaults to
    /// empty when absent, so a client still reads the message of a server that sends none.
    #[serde(default)]
    pub code: String,
    /// A sentence for people (logs, error messages); not meant to be matched on.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: code.into(), message: message.into() } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn push_matches_the_documented_wire_shape() {
        let wire = json!({"clientId":"c-1","mutations":[
            {"id":17,"collection":"attendees","key":"a1","op":"put","value":{"n":1},"baseVersion":41,"hlc":"h"},
            {"id":19,"collection":"trips","key":"t3","op":"delete","value":null,"baseVersion":null,"hlc":"h"}]});
        let req: PushRequest = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(req.mutations[1].op, Op::Delete);
        assert_eq!(req.mutations[1].base_version, None);
        assert_eq!(serde_json::to_value(&req).unwrap(), wire);
    }

    #[test]
    fn results_are_tagged_by_status() {
        let wire = json!({"results":[
            {"id":17,"status":"applied","version":57},
            {"id":18,"status":"conflict","server":{"version":55,"value":{"a":1},"hlc":"h"}},
            {"id":19,"status":"rejected","code":"validation","message":"m"}],
            "lastMutationId":19});
        let res: PushResponse = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(res.results[0], MutationResult::Applied { id: 17, version: 57 });
        assert_eq!(serde_json::to_value(&res).unwrap(), wire);
    }

    #[test]
    fn error_body_matches_the_wire_shape() {
        let body = ErrorBody::new("unauthorized", "missing Authorization: Bearer <token>");
        // Byte for byte what the server has always sent (fields in this order).
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":{"code":"unauthorized","message":"missing Authorization: Bearer <token>"}}"#
        );
        let read: ErrorBody =
            serde_json::from_value(json!({"error": {"message": "m", "code": "c", "extra": 1}, "more": 2})).unwrap();
        assert_eq!(read, ErrorBody::new("c", "m"));
        let no_code: ErrorBody = serde_json::from_value(json!({"error": {"message": "m"}})).unwrap();
        assert_eq!(no_code.error.message, "m");
        assert!(serde_json::from_value::<ErrorBody>(json!({"message": "m"})).is_err());
    }
}
