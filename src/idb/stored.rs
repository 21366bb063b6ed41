//! The stored client metadata, conflicts and audit entries, read field by field off the
//! objects IndexedDB gives back (`reader::Fields`, serde's checks and defaults for each
//! type, as its derive read them before). They are written through serde as JSON text
//! (`codec::encode_internal`).

use wasm_bindgen::JsValue;

use pwa_sync_core::clock::HlcState;
use pwa_sync_core::model::{AuditEntry, AuditKind};
use pwa_sync_core::record::{ConflictRecord, Failure, Meta};

use crate::reader::{Fields, Read};

/// The client record (`meta` under `META_KEY`).
pub(super) fn meta(js: &JsValue) -> Read<Meta> {
    let m = Fields::of(js, "the client metadata")?;
    let hlc = m.required("hlc", m.get("hlc"));
    m.checked()?;
    let hlc = Fields::of(&hlc, "hlc")?;
    let last_failure = match Fields::optional(m.get("lastFailure")) {
        None => None,
        Some(js) => {
            let f = Fields::of(&js, "lastFailure")?;
            let failure = Failure {
                at: f.f64("at", f.get("at")),
                code: f.string("code", f.get("code")),
                message: f.string("message", f.get("message")),
            };
            f.finish()?;
            Some(failure)
        }
    };
    let meta = Meta {
        client_id: m.string("clientId", m.get("clientId")),
        next_mutation_id: m.u64("nextMutationId", m.get("nextMutationId")),
        checkpoint: m.u64("checkpoint", m.get("checkpoint")),
        hlc: HlcState {
            wall_ms: hlc.u64("wallMs", hlc.get("wallMs")),
            counter: hlc.bounded("counter", hlc.get("counter"), u16::MAX.into()) as u16,
        },
        last_synced_at: m.optional_f64("lastSyncedAt", m.get("lastSyncedAt")),
        format: m.u32("format", m.get("format")),
        checkpoint_scope: m.optional_string("checkpointScope", m.get("checkpointScope")),
        next_conflict_id: Fields::present(m.get("nextConflictId")).map_or(1, |id| m.u64("nextConflictId", id)),
        clock_offset_ms: Fields::present(m.get("clockOffsetMs")).map_or(0, |offset| m.i64("clockOffsetMs", offset)),
        last_failure,
    };
    m.finish()?;
    hlc.finish()?;
    Ok(meta)
}

/// A conflict waiting for a person (`conflicts`).
pub(super) fn conflict(js: &JsValue) -> Read<ConflictRecord> {
    let c = Fields::of(js, "a stored conflict")?;
    let conflict = ConflictRecord {
        id: c.u64("id", c.get("id")),
        collection: c.string("collection", c.get("collection")),
        key: c.string("key", c.get("key")),
        local: c.optional_json("local", c.get("local")),
        server: c.optional_json("server", c.get("server")),
        base: c.optional_json("base", c.get("base")),
        detected_at: c.f64("detectedAt", c.get("detectedAt")),
        server_version: c.u64("serverVersion", c.get("serverVersion")),
        fields: c.strings("fields"),
        space: c.optional_string("space", c.get("space")),
    };
    c.finish()?;
    Ok(conflict)
}

/// A line of the audit log (`audit`).
pub(super) fn audit_entry(js: &JsValue) -> Read<AuditEntry> {
    let a = Fields::of(js, "an audit entry")?;
    let entry = AuditEntry {
        at: a.f64("at", a.get("at")),
        kind: match a.string("kind", a.get("kind")).as_str() {
            "conflict" => AuditKind::Conflict,
            "rejected" => AuditKind::Rejected,
            _ => {
                a.wrong("kind", "conflict or rejected");
                AuditKind::Conflict
            }
        },
        collection: a.string("collection", a.get("collection")),
        key: a.string("key", a.get("key")),
        strategy: a.string("strategy", a.get("strategy")),
        decided_by: a.string("decidedBy", a.get("decidedBy")),
        local: a.optional_json("local", a.get("local")),
        server: a.optional_json("server", a.get("server")),
        base: a.optional_json("base", a.get("base")),
        result: a.optional_json("result", a.get("result")),
        server_version: a.optional_u64("serverVersion", a.get("serverVersion")),
    };
    a.finish()?;
    Ok(entry)
}
