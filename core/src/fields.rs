//! Small readers of JSON objects: a copy without some fields, an array of strings, and a
//! value's kind named for messages. (The client config is checked by `js/config.js` and
//! read by `config`.)

use serde_json::{Map, Value};

/// `object` without the fields `drop` names. Rebuilt rather than removed from: a
/// `Map::remove` compiles the B-tree's rebalancing into the module (~2 KB gzipped), and
/// the objects this is for (a patch, a value with omitted fields) are small.
pub fn without(object: &mut Map<String, Value>, drop: &dyn Fn(&str) -> bool) {
    if object.keys().any(|k| drop(k)) {
        // Inserted one at a time, not collected: a map's `FromIterator` is a sort and a
        // bulk build of the B-tree, linked for nothing else.
        let mut kept = Map::new();
        for (field, value) in std::mem::take(object) {
            if !drop(&field) {
                kept.insert(field, value);
            }
        }
        *object = kept;
    }
}

/// `value` as strings, if it is an array of them.
pub fn strings(value: Value) -> Option<Vec<String>> {
    let Value::Array(items) = value else { return None };
    let mut strings = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(s) = item else { return None };
        strings.push(s);
    }
    Some(strings)
}

/// What kind of JSON value this is, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
