//! Conflicts: the open ones, settling one by the app's choice, and calling the app's
//! resolver functions (whose answers `pwa_sync_core::resolver` checks).

use std::rc::Rc;

use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};

use super::observer::WebObserver;
use super::Client;
use crate::convert;
use crate::events;
use crate::sys::now_ms;
use pwa_sync_core::config::CollectionConfig;
use pwa_sync_core::conflict::Sides;
use pwa_sync_core::engine::{self, Observer};
use pwa_sync_core::record;
use pwa_sync_core::resolver::{self, Answer};
use pwa_sync_core::schedule::Trigger;
use pwa_sync_core::sync::Choice;
use pwa_sync_core::Error;

/// How the app settles an open conflict, as `resolveConflict` was given it. A record is
/// still a JS value: it is checked against the conflict's collection once that is known.
pub(crate) enum ConflictChoice {
    Local,
    Server,
    /// A string that names neither side.
    Unknown(String),
    /// `null`: delete the record.
    Delete,
    Record(JsValue),
}

impl Client {
    /// Settle manual conflict `id` with "local", "server" or a value of the app's own.
    pub async fn resolve_conflict(self: &Rc<Self>, id: u64, choice: ConflictChoice) -> Result<JsValue, Error> {
        let effects = engine::resolve_conflict(&self.store, id, now_ms(), |conflict| {
            let config = self.config.collection(&conflict.collection)?;
            match choice {
                ConflictChoice::Local => Ok(Choice::Local),
                ConflictChoice::Server => Ok(Choice::Server),
                ConflictChoice::Unknown(other) => Err(Error::invalid_value(
                    &config.name,
                    format!("choice must be \"local\", \"server\" or a record, not \"{other}\""),
                )),
                ConflictChoice::Delete => Ok(Choice::Value(None)),
                ConflictChoice::Record(choice) => {
                    let (key, value) = record::prepare_value(config, convert::to_json(&config.name, &choice)?)?;
                    if key != conflict.key {
                        return Err(Error::invalid_value(
                            &config.name,
                            format!("the chosen record has key \"{key}\", the conflict is about \"{}\"", conflict.key),
                        ));
                    }
                    Ok(Choice::Value(Some(value)))
                }
            }
        })
        .await?;
        WebObserver { client: self }.effects(&effects);
        // The outbox's new size (the choice may queue a write), as another tab's hint is
        // taken: the choice is stored, so a failed read is reported, not this call's.
        self.refresh_status().await;
        self.trigger(Trigger::LocalWrite);
        Ok(JsValue::UNDEFINED)
    }

    /// Call the app's resolver synchronously (this runs inside the store transaction, so
    /// it may not await). An answer the core refuses (a throw, a Promise, a value that is
    /// not a record of this key) sends the conflict to `manual`, and the reason is
    /// announced.
    pub(super) fn run_resolver(&self, config: &CollectionConfig, sides: &Sides<'_>) -> Option<Option<Value>> {
        let (_, resolver) = self.resolvers.iter().find(|(name, _)| *name == config.name)?;
        let arg = |v: Option<&Value>| v.map(|v| convert::to_js(v)).transpose().ok().flatten().unwrap_or(JsValue::NULL);
        let answer = match resolver.call3(&JsValue::NULL, &arg(sides.local), &arg(sides.server), &arg(sides.base)) {
            Err(e) => Answer::Threw(crate::error::describe(&e)),
            Ok(result) if result.is_null() || result.is_undefined() => Answer::Nothing,
            Ok(result) if result.is_instance_of::<js_sys::Promise>() => Answer::Promise,
            Ok(result) => Answer::Value(convert::to_json(&config.name, &result)),
        };
        match resolver::check(config, sides, answer) {
            Ok(value) => Some(value),
            Err(refusal) => {
                let detail =
                    events::object(&[("code", refusal.code().into()), ("message", refusal.to_string().into())]);
                self.events.emit(events::STORAGE_ERROR, &detail);
                None
            }
        }
    }
}
