//! Wire protocol v1 types (JSON, camelCase). Shared by the client and the reference server.

use crate::json::{JsonText, ToJson};
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
pub struct Mutation<V = Value> {
    pub id: u64,
    pub collection: String,
    pub key: String,
    pub op: Op,
    /// The full value for `put`, the merge patch for `patch`, null for `delete`.
    pub value: V,
    /// The server version this client last saw for the key; `None` if it never saw one.
    pub base_version: Option<u64>,
    pub hlc: String,
    /// The space the document lives in; absent: the caller's private space (`user:<id>`),
    /// which is all a protocol-v1 client without spaces knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    /// The writer's schema version (the app's `version`); absent: 1, as from every
    /// client older than versions. The server keeps it with the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
}

impl<V> Mutation<V> {
    /// The same mutation around another value (the browser's push body: the envelope
    /// serialised apart from the values).
    pub fn with_value<W>(self, value: W) -> Mutation<W> {
        Mutation {
            id: self.id,
            collection: self.collection,
            key: self.key,
            op: self.op,
            value,
            base_version: self.base_version,
            hlc: self.hlc,
            space: self.space,
            schema_version: self.schema_version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushRequest<V = Value> {
    pub client_id: String,
    pub mutations: Vec<Mutation<V>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerState {
    pub version: u64,
    /// `None` when the server holds a tombstone for the key.
    pub value: Option<Value>,
    pub hlc: String,
    /// As a pulled change's: the schema version of `value`; absent: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
}

/// Written as `{"status": "applied" | "conflict" | "rejected", "id", ...}` (an internally
/// tagged enum); read through [`WireResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase", try_from = "WireResult")]
pub enum MutationResult {
    Applied { id: u64, version: u64 },
    Conflict { id: u64, server: ServerState },
    Rejected { id: u64, code: String, message: String },
}

impl MutationResult {
    /// The mutation this answers.
    pub fn id(&self) -> u64 {
        match self {
            MutationResult::Applied { id, .. }
            | MutationResult::Conflict { id, .. }
            | MutationResult::Rejected { id, .. } => *id,
        }
    }
}

/// A [`MutationResult`] as read: one flat struct, then the variant its `status` names.
/// serde's derived reader of an internally tagged enum first buffers the whole object
/// (and the server's value in it) in a generic `Content` tree, which costs ~10 KB of the
/// wasm module (bench/README.md "Size") and a copy of every conflict's value. The browser
/// reads it field by field off the parsed answer (`wire` in the wasm crate).
#[derive(Deserialize)]
pub struct WireResult {
    pub status: String,
    pub id: u64,
    pub version: Option<u64>,
    pub server: Option<ServerState>,
    pub code: Option<String>,
    pub message: Option<String>,
}

impl TryFrom<WireResult> for MutationResult {
    type Error = String;

    fn try_from(wire: WireResult) -> Result<MutationResult, String> {
        let missing = |field: &str| format!("missing field `{field}`");
        let id = wire.id;
        match wire.status.as_str() {
            "applied" => Ok(MutationResult::Applied { id, version: wire.version.ok_or_else(|| missing("version"))? }),
            "conflict" => Ok(MutationResult::Conflict { id, server: wire.server.ok_or_else(|| missing("server"))? }),
            "rejected" => Ok(MutationResult::Rejected {
                id,
                code: wire.code.ok_or_else(|| missing("code"))?,
                message: wire.message.ok_or_else(|| missing("message"))?,
            }),
            other => Err(format!("unknown variant `{other}`, expected one of `applied`, `conflict`, `rejected`")),
        }
    }
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
pub struct Change<V = Value> {
    pub collection: String,
    pub key: String,
    pub version: u64,
    pub value: Option<V>,
    pub hlc: String,
    /// The document's space (a server with spaces always sends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    /// The schema version of the value, as its last writer sent it; absent: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
}

impl<V> Change<V> {
    /// The same change around another value (the browser's pull: the envelope parsed
    /// apart from the values).
    pub fn with_value<W>(self, value: Option<W>) -> Change<W> {
        Change {
            collection: self.collection,
            key: self.key,
            version: self.version,
            value,
            hlc: self.hlc,
            space: self.space,
            schema_version: self.schema_version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullResponse<V = Value> {
    pub changes: Vec<Change<V>>,
    pub checkpoint: u64,
    pub has_more: bool,
    /// As in `PushResponse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<u64>,
    /// Spaces the caller could read at its checkpoint and no longer can: the client drops
    /// its copies of their records and rejects its pending writes there (`forbidden`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<String>,
}

/// What a member may do in a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Pulls.
    Reader,
    /// Pulls and pushes.
    Writer,
    /// Writes, and manages the members.
    Owner,
}

impl std::str::FromStr for Role {
    type Err = String;

    /// The wire name: `reader`, `writer` or `owner`.
    fn from_str(name: &str) -> Result<Role, String> {
        match name {
            "reader" => Ok(Role::Reader),
            "writer" => Ok(Role::Writer),
            "owner" => Ok(Role::Owner),
            other => Err(format!("unknown role {}", crate::json::quoted(other))),
        }
    }
}

impl Role {
    pub fn can_write(self) -> bool {
        self >= Role::Writer
    }
}

/// One of the caller's spaces: `GET /sync/spaces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceRole {
    pub id: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpacesResponse {
    pub spaces: Vec<SpaceRole>,
}

/// The rejection code of a write into a space the caller may not write to.
pub const FORBIDDEN: &str = "forbidden";

/// What every private space's id starts with.
pub const PRIVATE_SPACE_PREFIX: &str = "user:";

/// Whether `space` is some user's private space.
pub fn is_private_space(space: &str) -> bool {
    space.starts_with(PRIVATE_SPACE_PREFIX)
}

/// The private space of user `user`: the default space of every document.
pub fn private_space(user: &str) -> String {
    format!("{PRIVATE_SPACE_PREFIX}{user}")
}

/// A space id is 1-128 characters of `[A-Za-z0-9_.:-]`.
pub fn is_valid_space_id(space: &str) -> bool {
    (1..=128).contains(&space.len())
        && space.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
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

impl ToJson for Op {
    fn write_json(&self, out: &mut JsonText) {
        out.string(match self {
            Op::Put => "put",
            Op::Patch => "patch",
            Op::Delete => "delete",
        });
    }
}

impl<V: ToJson> ToJson for Mutation<V> {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("id", &self.id);
        out.field("collection", &self.collection);
        out.field("key", &self.key);
        out.field("op", &self.op);
        out.field("value", &self.value);
        out.field("baseVersion", &self.base_version);
        out.field("hlc", &self.hlc);
        if let Some(space) = &self.space {
            out.field("space", space);
        }
        if let Some(version) = self.schema_version {
            out.field("schemaVersion", &version);
        }
        out.close_object();
    }
}

impl<V: ToJson> ToJson for PushRequest<V> {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("clientId", &self.client_id);
        out.field("mutations", &self.mutations);
        out.close_object();
    }
}

impl ToJson for Role {
    fn write_json(&self, out: &mut JsonText) {
        out.string(match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Owner => "owner",
        });
    }
}

impl ToJson for SpaceRole {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("id", &self.id);
        out.field("role", &self.role);
        out.close_object();
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
    fn a_result_missing_what_its_status_needs_is_refused() {
        let read = |v: Value| serde_json::from_value::<MutationResult>(v).map_err(|e| e.to_string());
        assert_eq!(read(json!({"status":"applied","id":1})).unwrap_err(), "missing field `version`");
        assert_eq!(read(json!({"status":"conflict","id":1,"version":2})).unwrap_err(), "missing field `server`");
        assert_eq!(read(json!({"status":"rejected","id":1,"code":"c"})).unwrap_err(), "missing field `message`");
        assert!(read(json!({"status":"lost","id":1})).unwrap_err().contains("unknown variant `lost`"));
        assert!(read(json!({"id":1,"version":2})).is_err());
        assert!(read(json!({"status":"applied","version":2})).is_err());
        assert!(read(json!({"status":"conflict","id":1,"server":{"version":"2","value":null,"hlc":"h"}})).is_err());
        // Fields another status would read are ignored, as before.
        assert_eq!(
            read(json!({"status":"applied","id":1,"version":2,"code":"x","extra":[1]})).unwrap(),
            MutationResult::Applied { id: 1, version: 2 }
        );
    }

    #[test]
    fn spaces_are_optional_on_the_wire_and_v1_shapes_are_unchanged() {
        let v1 = json!({"id":1,"collection":"c","key":"k","op":"put","value":{},"baseVersion":null,"hlc":"h"});
        let m: Mutation = serde_json::from_value(v1.clone()).unwrap();
        assert_eq!(m.space, None);
        assert_eq!(serde_json::to_value(&m).unwrap(), v1);
        let shared = Mutation { space: Some("conference".into()), ..m };
        assert_eq!(serde_json::to_value(&shared).unwrap()["space"], "conference");
        let pull = json!({"changes":[{"collection":"c","key":"k","version":3,"value":null,"hlc":"h","space":"g:1"}],
            "checkpoint":3,"hasMore":false,"revoked":["g:2"]});
        let res: PullResponse = serde_json::from_value(pull.clone()).unwrap();
        assert_eq!(res.changes[0].space.as_deref(), Some("g:1"));
        assert_eq!(res.revoked, ["g:2"]);
        assert_eq!(serde_json::to_value(&res).unwrap(), pull);
        let old: PullResponse = serde_json::from_value(json!({"changes":[],"checkpoint":0,"hasMore":false})).unwrap();
        assert!(old.revoked.is_empty());
        assert_eq!(serde_json::to_value(&old).unwrap(), json!({"changes":[],"checkpoint":0,"hasMore":false}));
    }

    #[test]
    fn roles_order_and_space_ids() {
        assert!(Role::Owner.can_write() && Role::Writer.can_write() && !Role::Reader.can_write());
        assert_eq!(serde_json::to_value(Role::Writer).unwrap(), "writer");
        assert_eq!(private_space("ana"), "user:ana");
        assert!(is_valid_space_id("user:ana") && is_valid_space_id("conf-2026.room_1"));
        assert!(!is_valid_space_id("") && !is_valid_space_id("a b") && !is_valid_space_id("é"));
        assert!(is_valid_space_id(&"a".repeat(128)) && !is_valid_space_id(&"a".repeat(129)));
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
