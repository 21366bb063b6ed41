//! The server's answers read field by field off what `JSON.parse` made: the pull page, the
//! push results, the caller's spaces and an error body. serde's derives would compile a
//! struct reader and its visitor per answer type (bench/README.md "Size"), and the pull
//! page would be written out and parsed again without its values first. The checks are
//! serde's: a missing field, a field of the wrong type, a whole number outside the safe
//! integers (what serde-wasm-bindgen refuses) are unreadable answers; unknown fields are
//! ignored, as the derives do.

use js_sys::{Array, Number, Reflect};
use wasm_bindgen::JsValue;

use pwa_sync_core::protocol::{
    Change, MutationResult, PullResponse, PushResponse, Role, ServerState, SpaceRole, SpacesResponse, WireResult,
};

use crate::convert::{from_js, prop};
use crate::value::JsVal;

type Read<T> = Result<T, String>;

/// How an object of an answer is named in messages: `the pull answer`, `changes[3]`.
/// Only a message formats it (a pull page has hundreds of changes).
#[derive(Clone, Copy)]
enum Name<'a> {
    Plain(&'a str),
    Item(&'static str, usize),
}

impl std::fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Name::Plain(name) => f.write_str(name),
            Name::Item(list, i) => write!(f, "{list}[{i}]"),
        }
    }
}

/// The fields of one JSON object of an answer.
struct Fields<'a> {
    object: &'a JsValue,
    name: Name<'a>,
}

impl<'a> Fields<'a> {
    fn of(object: &'a JsValue, name: Name<'a>) -> Read<Fields<'a>> {
        match object.is_object() && !Array::is_array(object) {
            true => Ok(Fields { object, name }),
            false => Err(format!("{name} must be an object")),
        }
    }

    fn get(&self, field: &str) -> JsValue {
        prop(self.object, field)
    }

    fn wrong(&self, field: &str, must_be: &str) -> String {
        format!("`{field}` in {} must be {must_be}", self.name)
    }

    // Each reader takes the field's value (`get`, or read with a cached name where an
    // answer has thousands of objects) and its name for the message.

    /// `None` when absent or `null`, as serde reads an `Option`.
    fn optional(value: JsValue) -> Option<JsValue> {
        Some(value).filter(|v| !v.is_undefined() && !v.is_null())
    }

    fn required(&self, field: &str, value: JsValue) -> Read<JsValue> {
        match value.is_undefined() {
            true => Err(format!("missing field `{field}` in {}", self.name)),
            false => Ok(value),
        }
    }

    fn whole(&self, field: &str, value: JsValue, max: u64) -> Read<u64> {
        // A safe integer (what serde-wasm-bindgen reads as an integer), from 0 to `max`.
        match value.as_f64() {
            Some(n) if Number::is_safe_integer(&value) && n >= 0.0 && n <= max as f64 => Ok(n as u64),
            _ => Err(self.wrong(field, &format!("a whole number from 0 to {}", max.min(MAX_SAFE)))),
        }
    }

    fn u64(&self, field: &str, value: JsValue) -> Read<u64> {
        self.whole(field, self.required(field, value)?, u64::MAX)
    }

    fn optional_u64(&self, field: &str, value: JsValue) -> Read<Option<u64>> {
        Fields::optional(value).map(|v| self.whole(field, v, u64::MAX)).transpose()
    }

    fn optional_u32(&self, field: &str, value: JsValue) -> Read<Option<u32>> {
        Fields::optional(value).map(|v| self.whole(field, v, u32::MAX.into()).map(|n| n as u32)).transpose()
    }

    fn text(&self, field: &str, value: JsValue) -> Read<String> {
        value.as_string().ok_or_else(|| self.wrong(field, "a string"))
    }

    fn string(&self, field: &str, value: JsValue) -> Read<String> {
        self.text(field, self.required(field, value)?)
    }

    fn optional_string(&self, field: &str, value: JsValue) -> Read<Option<String>> {
        Fields::optional(value).map(|v| self.text(field, v)).transpose()
    }

    fn bool(&self, field: &str, value: JsValue) -> Read<bool> {
        self.required(field, value)?.as_bool().ok_or_else(|| self.wrong(field, "true or false"))
    }

    /// The list `field`, each item read by `item` (given its index, for messages).
    fn list<T>(&self, field: &str, item: impl Fn(&JsValue, usize) -> Read<T>) -> Read<Vec<T>> {
        let value = self.required(field, self.get(field))?;
        if !Array::is_array(&value) {
            return Err(self.wrong(field, "a list"));
        }
        let array = Array::from(&value);
        let mut read = Vec::with_capacity(array.length() as usize);
        for (i, js) in array.iter().enumerate() {
            read.push(item(&js, i)?);
        }
        Ok(read)
    }
}

/// 2^53 - 1: the largest whole number a JSON number carries exactly into JS.
const MAX_SAFE: u64 = 9_007_199_254_740_991;

/// A pull page: its envelope checked, each change's value left as the parsed object.
pub fn pull_page(parsed: &JsValue) -> Read<PullResponse<JsVal>> {
    let page = Fields::of(parsed, Name::Plain("the pull answer"))?;
    let revoked = match page.get("revoked").is_undefined() {
        true => Vec::new(),
        false => page.list("revoked", |id, _| page.text("revoked", id.clone()))?,
    };
    let changes = page.list("changes", change)?;
    Ok(PullResponse {
        changes,
        checkpoint: page.u64("checkpoint", page.get("checkpoint"))?,
        has_more: page.bool("hasMore", page.get("hasMore"))?,
        server_time: page.optional_u64("serverTime", page.get("serverTime"))?,
        revoked,
    })
}

thread_local! {
    /// A change's field names as JS strings, made once: a first sync reads 50,000 changes.
    static CHANGE_FIELDS: [JsValue; 7] =
        ["collection", "key", "version", "value", "hlc", "space", "schemaVersion"].map(JsValue::from_str);
}

fn change(js: &JsValue, i: usize) -> Read<Change<JsVal>> {
    let c = Fields::of(js, Name::Item("changes", i))?;
    CHANGE_FIELDS.with(|[collection, key, version, value, hlc, space, schema_version]| {
        let get = |field: &JsValue| Reflect::get(js, field).unwrap_or(JsValue::UNDEFINED);
        Ok(Change {
            collection: c.string("collection", get(collection))?,
            key: c.string("key", get(key))?,
            version: c.u64("version", get(version))?,
            value: Fields::optional(get(value)).map(JsVal),
            hlc: c.string("hlc", get(hlc))?,
            space: c.optional_string("space", get(space))?,
            schema_version: c.optional_u32("schemaVersion", get(schema_version))?,
        })
    })
}

/// A push answer: a result per mutation, read flat and then as the variant its `status`
/// names (`WireResult`).
pub fn push_answer(parsed: &JsValue) -> Read<PushResponse> {
    let answer = Fields::of(parsed, Name::Plain("the push answer"))?;
    let results = answer.list("results", result)?;
    Ok(PushResponse {
        results,
        last_mutation_id: answer.u64("lastMutationId", answer.get("lastMutationId"))?,
        server_time: answer.optional_u64("serverTime", answer.get("serverTime"))?,
    })
}

fn result(js: &JsValue, i: usize) -> Read<MutationResult> {
    let r = Fields::of(js, Name::Item("results", i))?;
    let server = match Fields::optional(r.get("server")) {
        Some(js) => Some(server_state(&js, &format!("results[{i}].server"))?),
        None => None,
    };
    MutationResult::try_from(WireResult {
        status: r.string("status", r.get("status"))?,
        id: r.u64("id", r.get("id"))?,
        version: r.optional_u64("version", r.get("version"))?,
        server,
        code: r.optional_string("code", r.get("code"))?,
        message: r.optional_string("message", r.get("message"))?,
    })
}

fn server_state(js: &JsValue, name: &str) -> Read<ServerState> {
    let s = Fields::of(js, Name::Plain(name))?;
    Ok(ServerState {
        version: s.u64("version", s.get("version"))?,
        // The conflict path compares and merges values in Rust: read whole, as before.
        value: Fields::optional(s.get("value")).map(from_js).transpose()?,
        hlc: s.string("hlc", s.get("hlc"))?,
        schema_version: s.optional_u32("schemaVersion", s.get("schemaVersion"))?,
    })
}

/// `GET /sync/spaces`: the caller's spaces and roles.
pub fn spaces_answer(parsed: &JsValue) -> Read<SpacesResponse> {
    let answer = Fields::of(parsed, Name::Plain("the spaces answer"))?;
    let spaces = answer.list("spaces", |js, i| {
        let space = Fields::of(js, Name::Item("spaces", i))?;
        let role = space.string("role", space.get("role"))?;
        let role = role.parse::<Role>().map_err(|e| format!("`role` in {}: {e}", space.name))?;
        Ok(SpaceRole { id: space.string("id", space.get("id"))?, role })
    })?;
    Ok(SpacesResponse { spaces })
}

/// The message of an error body, `{"error": {"code"?, "message"}}`, if it is one.
pub fn error_message(parsed: &JsValue) -> Option<String> {
    let body = Fields::of(parsed, Name::Plain("the error body")).ok()?;
    let error = body.required("error", body.get("error")).ok()?;
    let detail = Fields::of(&error, Name::Plain("error")).ok()?;
    // `code` may be absent (a server that sends none), but when present it is a string.
    match detail.get("code") {
        code if code.is_undefined() => {}
        code => drop(detail.text("code", code).ok()?),
    }
    detail.string("message", detail.get("message")).ok()
}
