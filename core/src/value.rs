//! App values as the core sees them: opaque, but for the few decisions that read one.
//!
//! Records, outbox entries, pulled changes and local writes carry the app's value as a
//! `V: AppValue`. On the host (tests, the fake server) `V` is `serde_json::Value`; the
//! browser store may use a JS object instead, so a value written by the app or parsed by
//! `fetch` reaches IndexedDB and the events without a trip through Rust. What the core
//! reads of a value goes through this trait: a top-level field (keys, spaces, indexes),
//! and, on the rare paths that compute a new value (merge patches, conflict resolution,
//! migrations, exports), an explicit conversion to and from JSON.

use std::fmt::Debug;

use serde_json::Value;

pub trait AppValue: Clone + Debug {
    /// The value as JSON, for the paths that compute on it. Values are JSON by
    /// construction (checked where they enter), so this cannot fail.
    fn to_json(&self) -> Value;

    /// A value computed as JSON (a merged patch, a resolution, a migration's answer).
    fn from_json(value: Value) -> Self;

    /// Whether the value is a JSON object (not an array, not null).
    fn is_object(&self) -> bool;

    /// A top-level field of an object value, as JSON; `None` if the value is not an
    /// object or has no such field.
    fn field(&self, name: &str) -> Option<Value>;

    /// Remove these top-level fields (a collection's `omit`), if the value is an object.
    fn remove_fields(&mut self, fields: &[String]);

    /// Whether the two are the same JSON document. Only the rare paths ask (conflicts,
    /// discards, rejections); a store's value type may make it as costly as a conversion.
    fn same(&self, other: &Self) -> bool;

    /// The length of the value's JSON text, to keep a push under its byte cap.
    fn json_len(&self) -> usize;

    /// A copy that shares nothing with `self`: what a store that keeps values in memory
    /// holds and hands out, so a caller changing an object it got changes no stored value.
    fn detached(&self) -> Self;
}

impl AppValue for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }

    fn from_json(value: Value) -> Self {
        value
    }

    fn is_object(&self) -> bool {
        Value::is_object(self)
    }

    fn field(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }

    fn remove_fields(&mut self, fields: &[String]) {
        if let Value::Object(object) = self {
            crate::fields::without(object, &|field| fields.iter().any(|f| f == field));
        }
    }

    fn same(&self, other: &Self) -> bool {
        self == other
    }

    fn detached(&self) -> Self {
        self.clone()
    }

    fn json_len(&self) -> usize {
        crate::json::to_vec(self).len()
    }
}

/// How deep a value may nest (objects and arrays). The reference server parses pushes
/// with serde_json, which refuses nesting past 128 levels, and a value sits 3 levels deep
/// in a push body: a deeper value could never be sent, so it is refused when written.
pub const MAX_VALUE_DEPTH: usize = 120;

/// Whether the JSON text `text` nests objects and arrays more than `max` levels deep.
/// A scan of the text (brackets inside strings do not count), for values whose text
/// never entered Rust otherwise.
pub fn nests_deeper_than(text: &str, max: usize) -> bool {
    // Fewer brackets than the limit cannot nest past it.
    if text.len() <= 2 * max {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// [`AppValue::same`] for optional values (`None`: no value, a tombstone).
pub fn same_value<V: AppValue>(a: Option<&V>, b: Option<&V>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.same(b),
        (None, None) => true,
        _ => false,
    }
}

/// The JSON of an optional value (the conflict path's explicit conversion).
pub fn json_of<V: AppValue>(value: Option<&V>) -> Option<Value> {
    value.map(AppValue::to_json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_values_read_fields_and_compare_as_documents() {
        let v = json!({"id": "a", "n": 1});
        assert_eq!(v.field("n"), Some(json!(1)));
        assert_eq!(v.field("missing"), None);
        assert_eq!(json!([1]).field("0"), None);
        assert!(same_value(Some(&v), Some(&json!({"n": 1, "id": "a"}))));
        assert!(!same_value(Some(&v), None));
        assert!(same_value::<Value>(None, None));
        assert_eq!(v.json_len(), r#"{"id":"a","n":1}"#.len());
    }

    #[test]
    fn nesting_depth_counts_brackets_outside_strings() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!nests_deeper_than(&nested(120), 120));
        assert!(nests_deeper_than(&nested(121), 120));
        // Brackets inside strings, escaped quotes included, are text.
        let text = format!(r#"{{"s":"{}\"{}","n":[[1]]}}"#, "[".repeat(300), "{".repeat(300));
        assert!(!nests_deeper_than(&text, 120));
        assert!(nests_deeper_than(&text, 2));
        // Wide is not deep.
        assert!(!nests_deeper_than(&"[1],".repeat(500), 120));
    }
}
