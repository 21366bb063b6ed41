//! Migrations of stored data: the app's schema `version` and its `migrations` steps
//! (JS functions, kept and run by the web layer). This decides which steps run when a
//! database is opened, what becomes of a pulled document written at another version, and
//! whether a step's answer is a record of the same key.

use serde_json::Value;

use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::record::{prepare_patch, prepare_value};

/// The version of anything that does not say: written before versions existed, or by a
/// client that sends none.
pub const UNVERSIONED: u32 = 1;

/// Migration steps `from + 1 ..= to`, in order (step `n` turns a version `n - 1` value
/// into a version `n` one; a version without a function changes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub from: u32,
    pub to: u32,
}

impl Steps {
    pub fn versions(self) -> impl Iterator<Item = u32> {
        self.from.saturating_add(1)..=self.to
    }
}

/// What opening a database stamped `stored` (`None`: no stamp) needs for an app at
/// `declared`: nothing, these steps, or a refusal (a newer app wrote it: reload).
pub fn on_open(stored: Option<u32>, declared: u32) -> Result<Option<Steps>> {
    let from = stored.unwrap_or(UNVERSIONED);
    match from.cmp(&declared) {
        std::cmp::Ordering::Less => Ok(Some(Steps { from, to: declared })),
        std::cmp::Ordering::Equal => Ok(None),
        std::cmp::Ordering::Greater => Err(Error::SchemaDowngrade { found: from, declared }),
    }
}

/// A pulled document, by the schema version its writer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulled {
    /// The app's own version: stored as it is.
    Current,
    /// Older: migrated by these steps before it is stored.
    Older(Steps),
    /// Newer than the app knows: stored as it is and announced (`pwa-sync:newer-schema`).
    Newer(u32),
}

pub fn pulled(schema_version: Option<u32>, declared: u32) -> Pulled {
    let from = schema_version.unwrap_or(UNVERSIONED);
    match from.cmp(&declared) {
        std::cmp::Ordering::Less => Pulled::Older(Steps { from, to: declared }),
        std::cmp::Ordering::Equal => Pulled::Current,
        std::cmp::Ordering::Greater => Pulled::Newer(from),
    }
}

/// The version a pushed mutation carries: none for an app without versions (the same
/// as 1 to the server), so unversioned apps send what they always sent.
pub fn pushed(declared: u32) -> Option<u32> {
    (declared > UNVERSIONED).then_some(declared)
}

/// What a step's answer must be: a whole record of the same key, or for a queued `patch`
/// an object that does not change the key. `omit` fields are removed as on any write.
pub fn check_answer(config: &CollectionConfig, key: &str, version: u32, answer: Value, partial: bool) -> Result<Value> {
    let failed = |reason: String| Error::migration_failed(&config.name, key, version, reason);
    if partial {
        return prepare_patch(config, key, answer).map_err(|e| failed(reason_of(e)));
    }
    match prepare_value(config, answer) {
        Ok((k, value)) if k == key => Ok(value),
        Ok((k, _)) => Err(failed(format!("it returned a record of key \"{k}\""))),
        Err(e) => Err(failed(reason_of(e))),
    }
}

fn reason_of(error: Error) -> String {
    match error {
        Error::InvalidValue { reason, .. } => reason,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;
    use serde_json::json;

    fn trips() -> CollectionConfig {
        ClientConfig::from_json(
            json!({"name": "a", "version": 3, "collections": {"trips": {"key": "id", "omit": ["secret"]}}}),
        )
        .unwrap()
        .collections
        .remove(0)
    }

    #[test]
    fn open_runs_the_steps_from_the_stamp_to_the_app_and_refuses_a_newer_database() {
        assert_eq!(on_open(None, 1), Ok(None), "no stamp is version 1");
        assert_eq!(on_open(Some(3), 3), Ok(None));
        let steps = on_open(Some(1), 3).unwrap().unwrap();
        assert_eq!(steps.versions().collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(on_open(None, 2).unwrap().unwrap().versions().collect::<Vec<_>>(), vec![2]);
        assert_eq!(on_open(Some(4), 3), Err(Error::SchemaDowngrade { found: 4, declared: 3 }));
    }

    #[test]
    fn pulled_documents_are_older_current_or_newer_with_none_as_one() {
        assert_eq!(pulled(None, 1), Pulled::Current);
        assert_eq!(pulled(Some(2), 2), Pulled::Current);
        assert_eq!(pulled(None, 3), Pulled::Older(Steps { from: 1, to: 3 }));
        assert_eq!(pulled(Some(2), 3), Pulled::Older(Steps { from: 2, to: 3 }));
        assert_eq!(pulled(Some(5), 3), Pulled::Newer(5));
        assert_eq!((pushed(1), pushed(4)), (None, Some(4)));
    }

    #[test]
    fn a_step_must_answer_a_record_of_the_same_key() {
        let c = trips();
        assert_eq!(
            check_answer(&c, "t1", 2, json!({"id": "t1", "n": 1, "secret": 1}), false),
            Ok(json!({"id": "t1", "n": 1}))
        );
        let reason = |answer: Value, partial: bool| match check_answer(&c, "t1", 3, answer, partial) {
            Err(e @ Error::MigrationFailed(_)) => {
                assert_eq!(e.code(), "migration-failed");
                e.to_string()
            }
            other => panic!("{other:?}"),
        };
        assert!(reason(json!({"id": "t2"}), false).contains("key \"t2\""));
        assert!(reason(Value::Null, false).contains("expected an object"));
        assert!(reason(json!({"n": 1}), false).contains("missing"));
        let message = reason(json!({"id": "t9"}), true);
        assert!(
            message.contains("\"trips\"") && message.contains("\"t1\"") && message.contains("version 3"),
            "{message}"
        );
        assert_eq!(check_answer(&c, "t1", 2, json!({"n": 2}), true), Ok(json!({"n": 2})), "a patch needs no key");
    }
}
