//! The stored client metadata, conflicts and audit entries, read off the objects
//! IndexedDB gives back once js/values.js's `storedProblem` has checked them (serde's
//! checks and defaults for each type, as its derive read them before). They are written
//! as JSON text (`codec::encode_internal`, `pwa_sync_core::json`).

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use pwa_sync_core::clock::HlcState;
use pwa_sync_core::model::{AuditEntry, AuditKind};
use pwa_sync_core::record::{ConflictRecord, Failure, Meta};

use crate::convert::prop;
use crate::reader::{self, json, number, optional, strings, text, whole, Read};

#[wasm_bindgen(js_namespace = pwaSyncValues)]
extern "C" {
    /// The first problem of a stored object of `kind` ("meta", "conflict", "audit").
    #[wasm_bindgen(js_name = storedProblem)]
    fn stored_problem(kind: &str, object: &JsValue) -> Option<String>;
}

fn checked(kind: &str, js: &JsValue) -> Read<()> {
    reader::checked(stored_problem, kind, js)
}

/// The client record (`meta` under `META_KEY`).
pub(super) fn meta(js: &JsValue) -> Read<Meta> {
    checked("meta", js)?;
    let get = |field: &str| prop(js, field);
    let hlc = get("hlc");
    let last_failure = optional(get("lastFailure")).map(|f| Failure {
        at: number(prop(&f, "at")),
        code: text(prop(&f, "code")),
        message: text(prop(&f, "message")),
    });
    Ok(Meta {
        client_id: text(get("clientId")),
        next_mutation_id: whole(get("nextMutationId")),
        checkpoint: whole(get("checkpoint")),
        hlc: HlcState { wall_ms: whole(prop(&hlc, "wallMs")), counter: whole(prop(&hlc, "counter")) as u16 },
        last_synced_at: optional(get("lastSyncedAt")).map(number),
        format: whole(get("format")) as u32,
        checkpoint_scope: optional(get("checkpointScope")).map(text),
        // Absent: serde's defaults.
        next_conflict_id: Some(get("nextConflictId")).filter(|v| !v.is_undefined()).map_or(1, whole),
        clock_offset_ms: number(get("clockOffsetMs")) as i64,
        last_failure,
    })
}

/// A conflict waiting for a person (`conflicts`).
pub(super) fn conflict(js: &JsValue) -> Read<ConflictRecord> {
    checked("conflict", js)?;
    let get = |field: &str| prop(js, field);
    let name = "a stored conflict";
    Ok(ConflictRecord {
        id: whole(get("id")),
        collection: text(get("collection")),
        key: text(get("key")),
        local: json(get("local"), "local", name)?,
        server: json(get("server"), "server", name)?,
        base: json(get("base"), "base", name)?,
        detected_at: number(get("detectedAt")),
        server_version: whole(get("serverVersion")),
        fields: strings(get("fields")),
        space: optional(get("space")).map(text),
    })
}

/// A line of the audit log (`audit`).
pub(super) fn audit_entry(js: &JsValue) -> Read<AuditEntry> {
    checked("audit", js)?;
    let get = |field: &str| prop(js, field);
    let name = "an audit entry";
    Ok(AuditEntry {
        at: number(get("at")),
        kind: match text(get("kind")).as_str() {
            "rejected" => AuditKind::Rejected,
            _ => AuditKind::Conflict,
        },
        collection: text(get("collection")),
        key: text(get("key")),
        strategy: text(get("strategy")),
        decided_by: text(get("decidedBy")),
        local: json(get("local"), "local", name)?,
        server: json(get("server"), "server", name)?,
        base: json(get("base"), "base", name)?,
        result: json(get("result"), "result", name)?,
        server_version: optional(get("serverVersion")).map(whole),
    })
}
