//! The check of an app's conflict resolver answer. The web layer calls the JS function
//! and says what came back; this decides whether the answer settles the conflict or the
//! conflict goes to `manual`, and why.

use serde_json::Value;
use thiserror::Error as ThisError;

use crate::config::CollectionConfig;
use crate::conflict::Sides;
use crate::record;
use crate::Error;

/// What an app's resolver gave back, as the web layer saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// It threw; a description of what it threw.
    Threw(String),
    /// `null` or `undefined`: the record is deleted.
    Nothing,
    /// A Promise: the resolver runs inside a store transaction, which cannot wait.
    Promise,
    /// Anything else, converted to JSON, or why it could not be.
    Value(Result<Value, Error>),
}

/// Why an answer was refused: the conflict goes to `manual`, and the app is told.
#[derive(Debug, Clone, PartialEq, ThisError)]
pub enum Refusal {
    #[error("the conflict resolver of \"{collection}\" threw: {thrown}; the conflict goes to manual")]
    Threw { collection: String, thrown: String },

    #[error(
        "the conflict resolver of \"{collection}\" returned a Promise (resolvers must be synchronous); the conflict goes to manual"
    )]
    Promise { collection: String },

    #[error("the conflict resolver of \"{collection}\" returned a record with key \"{key}\" for another key; the conflict goes to manual")]
    OtherKey { collection: String, key: String },

    #[error(
        "the conflict resolver of \"{collection}\" returned an unusable value: {reason}; the conflict goes to manual"
    )]
    Unusable { collection: String, reason: Error },
}

impl Refusal {
    /// The `code` of the `pwa-sync:storage-error` event that announces it.
    pub fn code(&self) -> &'static str {
        "resolver"
    }
}

/// The value that settles the conflict (`None` deletes), or why the answer cannot: it
/// must be a record of the conflict's own key, stored as `put` would store it.
pub fn check(config: &CollectionConfig, sides: &Sides<'_>, answer: Answer) -> Result<Option<Value>, Refusal> {
    let collection = || config.name.clone();
    let value = match answer {
        Answer::Threw(thrown) => return Err(Refusal::Threw { collection: collection(), thrown }),
        Answer::Nothing => return Ok(None),
        Answer::Promise => return Err(Refusal::Promise { collection: collection() }),
        Answer::Value(value) => value,
    };
    let key = sides.local.or(sides.server).and_then(|v| v.get(&config.key)).and_then(Value::as_str);
    match value.and_then(|v| record::prepare_value(config, v)) {
        Ok((k, value)) if Some(k.as_str()) == key => Ok(Some(value)),
        Ok((key, _)) => Err(Refusal::OtherKey { collection: collection(), key }),
        Err(reason) => Err(Refusal::Unusable { collection: collection(), reason }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::ClientConfig;

    fn config() -> CollectionConfig {
        let config = json!({"name": "db", "collections": {"notes": {"key": "id", "omit": ["draft"]}}});
        let config = ClientConfig::from_json(config).expect("a valid config");
        config.collection("notes").expect("declared").clone()
    }

    fn check_with(local: Option<&Value>, server: Option<&Value>, answer: Answer) -> Result<Option<Value>, Refusal> {
        let sides = Sides { local, server, base: None, local_hlc: "", server_hlc: "" };
        check(&config(), &sides, answer)
    }

    #[test]
    fn a_record_of_the_same_key_settles_it_as_put_stores_it() {
        let local = json!({"id": "a", "n": 1});
        let answer = Answer::Value(Ok(json!({"id": "a", "n": 3, "draft": "x"})));
        assert_eq!(check_with(Some(&local), None, answer), Ok(Some(json!({"id": "a", "n": 3}))));
        // The key comes from the server's side when the local one is deleted.
        let server = json!({"id": "a"});
        assert_eq!(check_with(None, Some(&server), Answer::Value(Ok(server.clone()))), Ok(Some(server.clone())));
    }

    #[test]
    fn nothing_deletes() {
        assert_eq!(check_with(Some(&json!({"id": "a"})), None, Answer::Nothing), Ok(None));
    }

    #[test]
    fn refusals_say_why() {
        let local = json!({"id": "a"});
        let refused = |answer| check_with(Some(&local), None, answer).map_err(|r| r.to_string());
        assert_eq!(
            refused(Answer::Threw("Error: boom".into())),
            Err("the conflict resolver of \"notes\" threw: Error: boom; the conflict goes to manual".into())
        );
        assert_eq!(
            refused(Answer::Promise),
            Err("the conflict resolver of \"notes\" returned a Promise (resolvers must be synchronous); the conflict goes to manual".into())
        );
        assert_eq!(
            refused(Answer::Value(Ok(json!({"id": "b"})))),
            Err("the conflict resolver of \"notes\" returned a record with key \"b\" for another key; the conflict goes to manual".into())
        );
        let unusable = refused(Answer::Value(Ok(json!([1, 2])))).unwrap_err();
        assert!(unusable.starts_with("the conflict resolver of \"notes\" returned an unusable value: invalid value"));
        let unconvertible = Answer::Value(Err(Error::invalid_value("notes", "not serialisable as JSON (cycle)")));
        assert!(refused(unconvertible).unwrap_err().contains("not serialisable as JSON (cycle)"));
        assert_eq!(Refusal::Promise { collection: "notes".into() }.code(), "resolver");
    }
}
