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
    /// The first problem met; `finish` answers it. Each read answers `None` for a field it
    /// refuses and goes on, so a caller has no early return per field (each of which
    /// compiled the drops of everything read before it: bench/README.md "Size").
    problem: Option<String>,
}

impl Fields {
    /// The fields of `value`, which must be an object; `known` are the ones it may have.
    pub fn of(value: Value, path: &'static str, known: &'static [&'static str]) -> Result<Fields, String> {
        match value {
            Value::Object(object) => Ok(Fields { object, path, known, problem: None }),
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

    /// Note a problem; only the first is kept, and `finish` answers it.
    pub fn fail(&mut self, problem: String) {
        self.problem.get_or_insert(problem);
    }

    /// The value of `name`; `None` when absent or `null`. (Copied, not removed: see
    /// [`without`].)
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.object.get(name).filter(|v| !v.is_null()).cloned()
    }

    /// The value of `name`, which must be there (`null` too: the caller checks its type).
    pub fn required(&mut self, name: &str) -> Value {
        match self.object.get(name) {
            Some(value) => value.clone(),
            None => {
                self.fail(format!("missing field `{name}`"));
                Value::Null
            }
        }
    }

    pub fn string(&mut self, name: &str) -> Option<String> {
        match self.take(name) {
            Some(Value::String(s)) => Some(s),
            other => {
                self.wrong(name, "a string", other);
                None
            }
        }
    }

    /// A string that must be there (not `null` either).
    pub fn required_string(&mut self, name: &str) -> String {
        if self.object.get(name).is_none_or(Value::is_null) {
            self.fail(format!("missing field `{name}`"));
            return String::new();
        }
        self.string(name).unwrap_or_default()
    }

    /// A whole number in `0..=max`.
    pub fn whole(&mut self, name: &str, max: u64) -> Option<u64> {
        match self.take(name) {
            Some(value) => match value.as_u64() {
                Some(n) if n <= max => Some(n),
                _ => {
                    self.wrong(name, &format!("a whole number from 0 to {max}"), Some(value));
                    None
                }
            },
            None => None,
        }
    }

    pub fn number(&mut self, name: &str) -> Option<f64> {
        match self.take(name) {
            Some(value) => match value.as_f64() {
                Some(n) => Some(n),
                None => {
                    self.wrong(name, "a number", Some(value));
                    None
                }
            },
            None => None,
        }
    }

    pub fn bool(&mut self, name: &str) -> Option<bool> {
        match self.take(name) {
            Some(Value::Bool(b)) => Some(b),
            other => {
                self.wrong(name, "true or false", other);
                None
            }
        }
    }

    /// An array of strings.
    pub fn strings(&mut self, name: &str) -> Option<Vec<String>> {
        let value = self.take(name)?;
        match strings(value.clone()) {
            Some(strings) => Some(strings),
            None => {
                self.wrong(name, "an array of strings", Some(value));
                None
            }
        }
    }

    /// The first problem met, or else a field that is not a known one.
    pub fn finish(self) -> Result<(), String> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let Some(unknown) = self.object.keys().find(|k| !self.known.contains(&k.as_str())) else { return Ok(()) };
        Err(format!(
            "unknown field {}, expected one of `{}`",
            self.name(unknown),
            crate::text::joined(self.known, "`, `")
        ))
    }

    /// Notes that `name` is not `expected`, when it is there at all.
    fn wrong(&mut self, name: &str, expected: &str, got: Option<Value>) {
        if let Some(got) = got {
            let problem = format!("{} must be {expected}, got {}", self.name(name), kind(&got));
            self.fail(problem);
        }
    }
}

/// `object` without the fields `drop` names. Rebuilt rather than removed from: a
/// `Map::remove` compiles the B-tree's rebalancing into the module (~2 KB gzipped), and
/// the objects this is for (a patch, a value with omitted fields, a collection's
/// settings) are small.
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
        assert_eq!(f.string("a"), Some("x".into()));
        assert_eq!(f.whole("b", 10), Some(7));
        assert_eq!(f.number("c"), Some(1.5));
        assert_eq!(f.bool("d"), Some(true));
        assert_eq!(f.strings("e"), Some(vec!["p".into(), "q".into()]));
        assert_eq!(f.finish(), Ok(()));

        type Refused = fn(&mut Fields) -> bool;
        let wrong: [(&str, Refused, &str); 5] = [
            ("a", |f| f.string("a").is_none(), "`retry.a` must be a string, got a number"),
            ("b", |f| f.whole("b", 10).is_none(), "`retry.b` must be a whole number from 0 to 10, got a number"),
            ("c", |f| f.number("c").is_none(), "`retry.c` must be a number, got a string"),
            ("d", |f| f.bool("d").is_none(), "`retry.d` must be true or false, got a number"),
            ("e", |f| f.strings("e").is_none(), "`retry.e` must be an array of strings, got an array"),
        ];
        let values = json!({"a": 5, "b": -1, "c": "1", "d": 1, "e": ["p", 2]});
        for (name, read, message) in wrong {
            let mut f = fields(json!({ name: values[name] }));
            assert!(read(&mut f), "{name} read as a value");
            assert_eq!(f.finish(), Err(message.to_owned()));
        }
    }

    #[test]
    fn the_first_problem_is_the_one_answered_and_later_reads_go_on() {
        let mut f = fields(json!({"a": 5, "b": "x", "c": 2.5, "colour": 1}));
        assert_eq!(f.string("a"), None);
        assert_eq!(f.string("b"), Some("x".into()));
        assert_eq!(f.whole("c", 10), None);
        f.fail("a later problem".into());
        assert_eq!(f.finish(), Err("`retry.a` must be a string, got a number".into()));
    }

    #[test]
    fn whole_numbers_are_bounded_and_fractions_refused() {
        for (value, expected) in [(json!(11), None), (json!(2.5), None), (json!(10), Some(10))] {
            let mut f = fields(json!({ "a": value }));
            assert_eq!(f.whole("a", 10), expected);
            assert_eq!(f.finish().is_ok(), expected.is_some());
        }
    }

    #[test]
    fn absent_and_null_are_none_and_required_says_what_is_missing() {
        let mut f = fields(json!({"a": null, "d": null}));
        assert_eq!(f.string("a"), None);
        assert_eq!(f.whole("b", 1), None);
        assert_eq!(f.required("d"), Value::Null);
        assert_eq!(f.finish(), Ok(()));
        let mut f = fields(json!({"a": null}));
        assert_eq!(f.required("c"), Value::Null);
        assert_eq!(f.finish(), Err("missing field `c`".into()));
        for given in [json!({"a": null}), json!({})] {
            let mut f = fields(given);
            assert_eq!(f.required_string("a"), "");
            assert_eq!(f.finish(), Err("missing field `a`".into()));
        }
        let mut f = fields(json!({"a": 1}));
        assert_eq!(f.required_string("a"), "");
        assert_eq!(f.finish(), Err("`retry.a` must be a string, got a number".into()));
    }

    #[test]
    fn a_field_left_over_is_unknown_and_a_non_object_refused() {
        let f = Fields::of(json!({"colour": 1}), "", KNOWN).unwrap();
        assert_eq!(f.finish(), Err("unknown field `colour`, expected one of `a`, `b`, `c`, `d`, `e`".into()));
        assert_eq!(Fields::of(json!(3), "retry", KNOWN).err(), Some("`retry` must be an object, got a number".into()));
    }
}
