//! The server's answers read off what `JSON.parse` made: the pull page, the push results,
//! the caller's spaces and an error body. `js/http.js` checks each answer first, as its
//! exchange ends (`answerProblem`, with the verdicts and messages serde's derives had), so
//! the readers here take each field as the type the check let through (`problem` runs the
//! same check, for the suites that hold each reader and the check together). serde's derives would compile
//! a struct reader and its visitor per answer type (bench/README.md "Size"), and the pull
//! page would be written out and parsed again without its values first; the checks and
//! their messages cost less as JavaScript (bench/README.md "Checks out of Rust").

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use pwa_sync_core::protocol::{
    Change, MutationResult, PullResponse, PushResponse, Role, ServerState, SpaceRole, SpacesResponse,
};

use crate::convert::prop;
use crate::reader::{items, json, optional, strings, text, whole, Read};
use crate::value::JsVal;

// The script's own checks, which its exchange runs before Rust reads an answer: bound
// here for the suites, which hold each reader and the check together.
#[cfg(feature = "testing")]
#[wasm_bindgen::prelude::wasm_bindgen(js_namespace = pwaSyncHttp)]
extern "C" {
    /// The first problem of an answer of `kind` ("pull", "push", "spaces"), if any.
    #[wasm_bindgen(js_name = answerProblem)]
    fn answer_problem(kind: &str, answer: &JsValue) -> Option<String>;

    /// The message of an error body's text, if it is one.
    #[wasm_bindgen(js_name = errorMessage)]
    fn error_message_of(text: &str) -> Option<String>;
}

/// The first problem of an answer of `kind` ("pull", "push", "spaces"), as the exchange
/// refuses it before a reader below sees it.
#[cfg(feature = "testing")]
pub fn problem(kind: &str, answer: &JsValue) -> Read<()> {
    crate::reader::checked(answer_problem, kind, answer)
}

/// A checked pull page, each change's value left as the parsed object.
pub fn pull_page(parsed: &JsValue) -> Read<PullResponse<JsVal>> {
    let get = |field: &str| prop(parsed, field);
    let revoked = strings(get("revoked"));
    let list = items(&get("changes"));
    let mut changes = Vec::with_capacity(list.length() as usize);
    // The field names as JS strings made once (`sys::FieldNames`): a first sync reads
    // 50,000 changes.
    let [collection, key, version, value, hlc, space, schema_version] = &crate::sys::field_names().change;
    {
        for js in list.iter() {
            let get = |field: &JsValue| Reflect::get(&js, field).unwrap_or(JsValue::UNDEFINED);
            changes.push(Change {
                collection: text(get(collection)),
                key: text(get(key)),
                version: whole(get(version)),
                value: optional(get(value)).map(JsVal),
                hlc: text(get(hlc)),
                space: optional(get(space)).map(text),
                schema_version: optional(get(schema_version)).map(|v| whole(v) as u32),
            });
        }
    }
    Ok(PullResponse {
        changes,
        checkpoint: whole(get("checkpoint")),
        has_more: get("hasMore").is_truthy(),
        server_time: optional(get("serverTime")).map(whole),
        revoked,
    })
}

/// A push answer: a result per mutation, as its `status` says.
pub fn push_answer(parsed: &JsValue) -> Read<PushResponse> {
    let list = items(&prop(parsed, "results"));
    let mut results = Vec::with_capacity(list.length() as usize);
    for (i, js) in list.iter().enumerate() {
        let get = |field: &str| prop(&js, field);
        let id = whole(get("id"));
        let status = text(get("status"));
        results.push(match status.as_str() {
            "applied" => MutationResult::Applied { id, version: whole(get("version")) },
            "rejected" => MutationResult::Rejected { id, code: text(get("code")), message: text(get("message")) },
            _ => MutationResult::Conflict { id, server: server_state(&get("server"), i)? },
        });
    }
    Ok(PushResponse {
        results,
        last_mutation_id: whole(prop(parsed, "lastMutationId")),
        server_time: optional(prop(parsed, "serverTime")).map(whole),
    })
}

fn server_state(js: &JsValue, i: usize) -> Read<ServerState> {
    let get = |field: &str| prop(js, field);
    // The conflict path compares and merges values in Rust: read whole, as before (a
    // value nested too deep is refused here).
    Ok(ServerState {
        value: json(get("value"), "value", &format!("results[{i}].server"))?,
        version: whole(get("version")),
        hlc: text(get("hlc")),
        schema_version: optional(get("schemaVersion")).map(|v| whole(v) as u32),
    })
}

/// `GET /sync/spaces`: the caller's spaces and roles.
pub fn spaces_answer(parsed: &JsValue) -> Read<SpacesResponse> {
    let mut spaces = Vec::new();
    for js in items(&prop(parsed, "spaces")).iter() {
        // The check let only the three roles through (`Role::from_str` would link its
        // refusal's message for nothing: +131 bytes).
        let role = match text(prop(&js, "role")).as_str() {
            "owner" => Role::Owner,
            "writer" => Role::Writer,
            _ => Role::Reader,
        };
        spaces.push(SpaceRole { id: text(prop(&js, "id")), role });
    }
    Ok(SpacesResponse { spaces })
}

/// The message of an error body's text, `{"error": {"code"?, "message"}}`, if it is one
/// (the script's exchange words a failed status with it; the suites ask it here).
#[cfg(feature = "testing")]
pub fn error_message(text: &str) -> Option<String> {
    crate::sys::install_scripts_for_tests();
    error_message_of(text)
}
