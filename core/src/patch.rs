//! JSON Merge Patch (RFC 7386): objects merge recursively, `null` removes a field, any
//! other value replaces. Written out because it is a dozen lines, and the `json-patch`
//! crate would bring JSON Pointer and RFC 6902 into the wasm binary for nothing.

use serde_json::{Map, Value};

/// Apply `patch` to `target` in place.
pub fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        crate::fields::without(target, &|field| patch.get(field).is_some_and(Value::is_null));
        for (field, change) in patch.iter().filter(|(_, change)| !change.is_null()) {
            apply(target.entry(field.clone()).or_insert(Value::Null), change);
        }
    }
}

/// A merge patch that turns object `from` into `to`: changed fields set, removed ones
/// `null`, nested objects recursively. (A `null` field of `to` comes out removed: a merge
/// patch cannot set one.)
pub fn diff(from: &Value, to: &Value) -> Value {
    let (Value::Object(a), Value::Object(b)) = (from, to) else { return to.clone() };
    let mut patch = serde_json::Map::new();
    for field in a.keys() {
        if !b.contains_key(field) {
            patch.insert(field.clone(), Value::Null);
        }
    }
    for (field, value) in b {
        match a.get(field) {
            Some(old) if old == value => {}
            Some(old @ Value::Object(_)) if value.is_object() => {
                patch.insert(field.clone(), diff(old, value));
            }
            _ => {
                patch.insert(field.clone(), value.clone());
            }
        }
    }
    Value::Object(patch)
}

/// The merge patch that turns `from` into `to`, when one does (both objects, and no field
/// of `to` is `null`, which a merge patch can only remove).
pub fn changes(from: Option<&Value>, to: Option<&Value>) -> Option<Value> {
    let (Some(from @ Value::Object(_)), Some(to @ Value::Object(_))) = (from, to) else { return None };
    let patch = diff(from, to);
    let mut patched = from.clone();
    apply(&mut patched, &patch);
    (patched == *to).then_some(patch)
}

/// One patch with the effect of `first` then `second` on every target, or `None` when no
/// single merge patch has that effect (e.g. `first` removes an object field that
/// `second` then sets to a new object: one patch would merge into the old object).
pub fn compose(first: &Value, second: &Value) -> Option<Value> {
    let (Value::Object(a), Value::Object(b)) = (first, second) else {
        // A non-object patch replaces the whole target, and so does the composition.
        return if second.is_object() { None } else { Some(second.clone()) };
    };
    let mut out = a.clone();
    for (field, change) in b {
        let merged = match (a.get(field), change) {
            (Some(earlier @ Value::Object(_)), Value::Object(_)) => compose(earlier, change)?,
            // `first` replaced or removed the field; merging an object into that is not
            // what one patch would do to a target holding an object.
            (Some(_), Value::Object(_)) => return None,
            _ => change.clone(),
        };
        out.insert(field.clone(), merged);
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_is_the_patch_from_one_object_to_another() {
        let from = json!({"id": "t", "v": 1, "gone": true, "same": [1], "n": {"a": 1, "b": 2}, "x": 1});
        let to = json!({"id": "t", "v": 2, "same": [1], "n": {"a": 1, "c": 3}, "x": {"y": 1}, "new": "s"});
        let patch = diff(&from, &to);
        assert_eq!(patch, json!({"gone": null, "v": 2, "n": {"b": null, "c": 3}, "x": {"y": 1}, "new": "s"}));
        let mut patched = from.clone();
        apply(&mut patched, &patch);
        assert_eq!(patched, to);
        assert_eq!(diff(&from, &from), json!({}));
    }

    #[test]
    fn apply_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        apply(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn apply_to_a_non_object_starts_from_empty() {
        let mut doc = json!(3);
        apply(&mut doc, &json!({"x": {"y": 1, "z": null}}));
        assert_eq!(doc, json!({"x": {"y": 1}}));
    }

    #[test]
    fn compose_has_the_effect_of_both() {
        let first = json!({"title": "Rome", "meta": {"a": 1}});
        let second = json!({"meta": {"b": 2}, "notes": null});
        let both = compose(&first, &second).unwrap();
        for start in [json!({}), json!({"notes": "x", "meta": {"c": 3}}), json!({"title": "Oslo"})] {
            let mut one_by_one = start.clone();
            apply(&mut one_by_one, &first);
            apply(&mut one_by_one, &second);
            let mut at_once = start;
            apply(&mut at_once, &both);
            assert_eq!(one_by_one, at_once);
        }
    }

    #[test]
    fn compose_refuses_what_one_patch_cannot_say() {
        assert_eq!(compose(&json!({"m": null}), &json!({"m": {"x": 1}})), None);
        assert_eq!(compose(&json!({"m": 5}), &json!({"m": {"x": 1}})), None);
    }
}
