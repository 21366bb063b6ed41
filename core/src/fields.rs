//! The fields of a JSON object read by hand, as the client config is: each field taken
//! once, by name and type, and whatever is left refused as unknown. serde's derive does
//! the same through a `Deserializer` over `serde_json::Value`, whose code is compiled again
//! for every struct and visitor (bench/README.md "Size").

use serde_json::{Map, Value};

pub struct Fields {
    object: Map<String, Value>,
    /// How the object is named in messages (`retry`), or "" at the top.
    path: &'static str,
    known: &'static [&'static str],
}

impl Fields {
    /// The fields of `value`, which must be an object; `known` are the ones it may have.
    pub fn of(value: Value, path: &'static str, known: &'static [&'static str]) -> Result<Fields, String> {
        match value {
            Value::Object(object) => Ok(Fields { object, path, known }),
            other if path.is_empty() => Err(format!("the config must be an object, got {}", kind(&other))),
            other => Err(format!("`{path}` must be an object, got {}", kind(&other))),
        }
    }

    /// `name` as it is written in messages (`retry.jitter`).
    pub fn name(&self, name: &str) -> String {
        if self.path.is_empty() {
            format!("`{name}`")
        } else {
            format!("`{}.{name}`", self.path)
        }
    }

    /// The value of `name`; `None` when absent or `null`. (Copied, not removed: see
    /// [`without`].)
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.object.get(name).filter(|v| !v.is_null()).cloned()
    }

    /// The value of `name`, which must be there (`null` too: the caller checks its type).
    pub fn required(&mut self, name: &str) -> Result<Value, String> {
        self.object.get(name).cloned().ok_or_else(|| format!("missing field `{name}`"))
    }

    pub fn string(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong(name, "a string", &other)),
        }
    }

    /// A whole number in `0..=max`.
    pub fn whole(&mut self, name: &str, max: u64) -> Result<Option<u64>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(value) => match value.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(self.wrong(name, &format!("a whole number from 0 to {max}"), &value)),
            },
        }
    }

    pub fn number(&mut self, name: &str) -> Result<Option<f64>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(value) => value.as_f64().map(Some).ok_or_else(|| self.wrong(name, "a number", &value)),
        }
    }

    pub fn bool(&mut self, name: &str) -> Result<Option<bool>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(self.wrong(name, "true or false", &other)),
        }
    }

    /// An array of strings.
    pub fn strings(&mut self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(value) => {
                strings(value.clone()).map(Some).ok_or_else(|| self.wrong(name, "an array of strings", &value))
            }
        }
    }

    /// The object has no field but the known ones.
    pub fn finish(self) -> Result<(), String> {
        let Some(unknown) = self.object.keys().find(|k| !self.known.contains(&k.as_str())) else { return Ok(()) };
        let known: Vec<String> = self.known.iter().map(|k| format!("`{k}`")).collect();
        Err(format!("unknown field {}, expected one of {}", self.name(unknown), known.join(", ")))
    }

    fn wrong(&self, name: &str, expected: &str, got: &Value) -> String {
        format!("{} must be {expected}, got {}", self.name(name), kind(got))
    }
}

/// `object` without the fields `drop` names. Rebuilt rather than removed from: a
/// `Map::remove` compiles the B-tree's rebalancing into the module (~2 KB gzipped), and
/// the objects this is for (a patch, a value with omitted fields, a collection's
/// settings) are small.
pub fn without(object: &mut Map<String, Value>, drop: &dyn Fn(&str) -> bool) {
    if object.keys().any(|k| drop(k)) {
        *object = std::mem::take(object).into_iter().filter(|(k, _)| !drop(k)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KNOWN: &[&str] = &["a", "b", "c", "d", "e"];

    fn fields(value: Value) -> Fields {
        Fields::of(value, "retry", KNOWN).unwrap()
    }

    #[test]
    fn each_type_is_read_and_anything_else_named_in_the_message() {
        let mut f = fields(json!({"a": "x", "b": 7, "c": 1.5, "d": true, "e": ["p", "q"]}));
        assert_eq!(f.string("a"), Ok(Some("x".into())));
        assert_eq!(f.whole("b", 10), Ok(Some(7)));
        assert_eq!(f.number("c"), Ok(Some(1.5)));
        assert_eq!(f.bool("d"), Ok(Some(true)));
        assert_eq!(f.strings("e"), Ok(Some(vec!["p".into(), "q".into()])));
        assert_eq!(f.finish(), Ok(()));

        let mut f = fields(json!({"a": 5, "b": -1, "c": "1", "d": 1, "e": ["p", 2]}));
        assert_eq!(f.string("a"), Err("`retry.a` must be a string, got a number".into()));
        assert_eq!(f.whole("b", 10), Err("`retry.b` must be a whole number from 0 to 10, got a number".into()));
        assert_eq!(f.number("c"), Err("`retry.c` must be a number, got a string".into()));
        assert_eq!(f.bool("d"), Err("`retry.d` must be true or false, got a number".into()));
        assert_eq!(f.strings("e"), Err("`retry.e` must be an array of strings, got an array".into()));
    }

    #[test]
    fn whole_numbers_are_bounded_and_fractions_refused() {
        let mut f = fields(json!({"a": 11, "b": 2.5, "c": 10}));
        assert!(f.whole("a", 10).is_err());
        assert!(f.whole("b", 10).is_err());
        assert_eq!(f.whole("c", 10), Ok(Some(10)));
    }

    #[test]
    fn absent_and_null_are_none_and_required_says_what_is_missing() {
        let mut f = fields(json!({"a": null, "d": null}));
        assert_eq!(f.string("a"), Ok(None));
        assert_eq!(f.whole("b", 1), Ok(None));
        assert_eq!(f.required("c"), Err("missing field `c`".into()));
        assert_eq!(f.required("d"), Ok(Value::Null));
    }

    #[test]
    fn a_field_left_over_is_unknown_and_a_non_object_refused() {
        let f = Fields::of(json!({"colour": 1}), "", KNOWN).unwrap();
        assert_eq!(f.finish(), Err("unknown field `colour`, expected one of `a`, `b`, `c`, `d`, `e`".into()));
        assert_eq!(Fields::of(json!(3), "retry", KNOWN).err(), Some("`retry` must be an object, got a number".into()));
    }
}
