//! The server's answers read field by field off what `JSON.parse` made (`reader::Fields`,
//! with serde's checks): the pull page, the push results, the caller's spaces and an
//! error body. serde's derives would compile a struct reader and its visitor per answer
//! type (bench/README.md "Size"), and the pull page would be written out and parsed
//! again without its values first.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use pwa_sync_core::protocol::{
    Change, MutationResult, PullResponse, PushResponse, Role, ServerState, SpaceRole, SpacesResponse, WireResult,
};

use crate::reader::{Fields, Name, Read};
use crate::value::JsVal;

/// A pull page: its envelope checked, each change's value left as the parsed object.
pub fn pull_page(parsed: &JsValue) -> Read<PullResponse<JsVal>> {
    let page = Fields::of(parsed, Name::Plain("the pull answer"))?;
    let revoked = page.strings("revoked");
    let changes = page.list("changes", change);
    let answer = PullResponse {
        changes,
        checkpoint: page.u64("checkpoint", page.get("checkpoint")),
        has_more: page.bool("hasMore", page.get("hasMore")),
        server_time: page.optional_u64("serverTime", page.get("serverTime")),
        revoked,
    };
    page.finish()?;
    Ok(answer)
}

fn change(js: &JsValue, i: usize) -> Read<Change<JsVal>> {
    let c = Fields::of(js, Name::Item("changes", i))?;
    // The field names as JS strings made once (`sys::FieldNames`): a first sync reads
    // 50,000 changes.
    let change = crate::sys::with_field_names(|names| {
        let [collection, key, version, value, hlc, space, schema_version] = &names.change;
        let get = |field: &JsValue| Reflect::get(js, field).unwrap_or(JsValue::UNDEFINED);
        Change {
            collection: c.string("collection", get(collection)),
            key: c.string("key", get(key)),
            version: c.u64("version", get(version)),
            value: Fields::optional(get(value)).map(JsVal),
            hlc: c.string("hlc", get(hlc)),
            space: c.optional_string("space", get(space)),
            schema_version: c.optional_u32("schemaVersion", get(schema_version)),
        }
    });
    c.finish()?;
    Ok(change)
}

/// A push answer: a result per mutation, read flat and then as the variant its `status`
/// names (`WireResult`).
pub fn push_answer(parsed: &JsValue) -> Read<PushResponse> {
    let answer = Fields::of(parsed, Name::Plain("the push answer"))?;
    let results = answer.list("results", result);
    let response = PushResponse {
        results,
        last_mutation_id: answer.u64("lastMutationId", answer.get("lastMutationId")),
        server_time: answer.optional_u64("serverTime", answer.get("serverTime")),
    };
    answer.finish()?;
    Ok(response)
}

fn result(js: &JsValue, i: usize) -> Read<MutationResult> {
    let r = Fields::of(js, Name::Item("results", i))?;
    let server = match Fields::optional(r.get("server")) {
        Some(js) => Some(server_state(&js, &format!("results[{i}].server"))?),
        None => None,
    };
    let wire = WireResult {
        status: r.string("status", r.get("status")),
        id: r.u64("id", r.get("id")),
        version: r.optional_u64("version", r.get("version")),
        server,
        code: r.optional_string("code", r.get("code")),
        message: r.optional_string("message", r.get("message")),
    };
    r.finish()?;
    MutationResult::try_from(wire)
}

fn server_state(js: &JsValue, name: &str) -> Read<ServerState> {
    let s = Fields::of(js, Name::Plain(name))?;
    let state = ServerState {
        version: s.u64("version", s.get("version")),
        // The conflict path compares and merges values in Rust: read whole, as before.
        value: s.optional_json("value", s.get("value")),
        hlc: s.string("hlc", s.get("hlc")),
        schema_version: s.optional_u32("schemaVersion", s.get("schemaVersion")),
    };
    s.finish()?;
    Ok(state)
}

/// `GET /sync/spaces`: the caller's spaces and roles.
pub fn spaces_answer(parsed: &JsValue) -> Read<SpacesResponse> {
    let answer = Fields::of(parsed, Name::Plain("the spaces answer"))?;
    let spaces = answer.list("spaces", |js, i| {
        let space = Fields::of(js, Name::Item("spaces", i))?;
        let role = space.string("role", space.get("role"));
        space.checked()?;
        let role = role.parse::<Role>().map_err(|e| format!("`role` in {}: {e}", space.name))?;
        let id = space.string("id", space.get("id"));
        space.finish()?;
        Ok(SpaceRole { id, role })
    });
    answer.finish()?;
    Ok(SpacesResponse { spaces })
}

/// The message of an error body, `{"error": {"code"?, "message"}}`, if it is one.
pub fn error_message(parsed: &JsValue) -> Option<String> {
    let body = Fields::of(parsed, Name::Plain("the error body")).ok()?;
    let error = body.get("error");
    let detail = Fields::of(&error, Name::Plain("error")).ok()?;
    // `code` may be absent (a server that sends none), but when present it is a string.
    if let Some(code) = Fields::present(detail.get("code")) {
        detail.text("code", code);
    }
    let message = detail.string("message", detail.get("message"));
    detail.finish().ok()?;
    Some(message)
}
