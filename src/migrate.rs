//! The app's `migrations`: the JS functions that bring a value from one schema version to
//! the next, called synchronously (they run inside IndexedDB's upgrade transaction, which
//! cannot wait on a promise) with each answer checked by `pwa_sync_core::migration`.

use js_sys::Function;
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};

use crate::convert;
use crate::error::describe;
use pwa_sync_core::config::CollectionConfig;
use pwa_sync_core::migration::{self, Steps};
use pwa_sync_core::Error;

/// The app's schema version and the functions leading to it, by the version each yields.
#[derive(Default)]
pub struct Migrations {
    pub declared: u32,
    /// By version, ascending (a list: a map type is a whole B-tree in the module).
    steps: Vec<(u32, Function)>,
}

impl Migrations {
    /// None: an app without versions.
    pub fn none() -> Migrations {
        Migrations { declared: migration::UNVERSIONED, steps: Vec::new() }
    }

    /// From the config's `migrations` as `js/config.js` checked them: `[version, function,
    /// …]` in ascending order (`undefined`: none), for an app at `declared`.
    pub fn from_js(declared: u32, js: &JsValue) -> Migrations {
        let mut steps = Vec::new();
        crate::sys::each_function_pair(js, &mut |version, step| {
            steps.push((version.as_f64().unwrap_or_default() as u32, step))
        });
        Migrations { declared, steps }
    }

    /// Run `steps` over `value`, a whole record of `config`'s collection, or the merge patch
    /// of a queued `patch` (`partial`). A throw, a Promise or an answer that is not a
    /// record of `key` is `migration-failed` naming the collection, key and version.
    pub fn run(
        &self,
        config: &CollectionConfig,
        key: &str,
        mut value: Value,
        steps: Steps,
        partial: bool,
    ) -> Result<Value, Error> {
        for version in steps.versions() {
            let Some((_, step)) = self.steps.iter().find(|(v, _)| *v == version) else { continue };
            let failed = |reason: String| Error::migration_failed(&config.name, key, version, reason);
            let arg = convert::to_js(&value).map_err(|e| failed(e.to_string()))?;
            let answer =
                step.call2(&JsValue::NULL, &arg, &JsValue::from_str(&config.name)).map_err(|e| failed(describe(&e)))?;
            if answer.is_instance_of::<js_sys::Promise>() {
                return Err(failed("it returned a Promise: migrations must be synchronous".into()));
            }
            let answer = convert::to_json(&config.name, &answer).map_err(|e| failed(e.to_string()))?;
            value = migration::check_answer(config, key, version, answer, partial)?;
        }
        Ok(value)
    }
}
