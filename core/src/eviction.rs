//! Noticing that the browser evicted a client's database. Browsers may delete an origin's
//! storage under pressure, and Safari deletes it after seven days of use without a visit
//! unless it is persistent (`navigator.storage.persist()`). An evicted database opens as
//! a new, empty one, which looks exactly like a first visit; two things tell them apart:
//! - a marker kept outside IndexedDB (the web layer uses `localStorage`, where there is
//!   one) naming the client id of a database that had queued writes or a checkpoint;
//! - the app saying it expects stored data (`expectStoredData: true` in the config), for
//!   contexts without `localStorage` (workers) or apps that remember it themselves.
//!
//! Recovery is a full pull: the new database starts at checkpoint 0. Writes that were
//! queued in the evicted database are gone and cannot be recovered.

use crate::json::{JsonText, ToJson};
use serde::Serialize;

/// What `pwa-sync:evicted` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evicted {
    /// The client id the marker remembered (`None` when only the app's hint told), or the
    /// open client's own when its database was deleted under it.
    pub previous_client_id: Option<String>,
    /// `"marker"` or `"hint"` (found on open), or `"reopened"` (deleted while the client
    /// had it open: found when the client reopened it).
    pub evidence: &'static str,
}

/// The key of the marker for database `name`.
pub fn marker_key(name: &str) -> String {
    format!("pwa-sync:{name}:device")
}

/// Whether opening found an evicted database: it had no client metadata (`created_now`:
/// open created a fresh client id) although a marker or the app says this device stored
/// data under this name.
pub fn detect(created_now: bool, marker: Option<String>, app_expects_data: bool) -> Option<Evicted> {
    if !created_now {
        return None;
    }
    match marker {
        Some(id) => Some(Evicted { previous_client_id: Some(id), evidence: "marker" }),
        None if app_expects_data => Some(Evicted { previous_client_id: None, evidence: "hint" }),
        None => None,
    }
}

/// Whether a database is worth a marker: it holds queued writes or a checkpoint, so
/// losing it loses something.
pub fn worth_marking(pending: usize, checkpoint: u64, synced: bool) -> bool {
    pending > 0 || checkpoint > 0 || synced
}

impl ToJson for Evicted {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("previousClientId", &self.previous_client_id);
        out.field("evidence", self.evidence);
        out.close_object();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fresh_database_with_evidence_counts_as_evicted() {
        assert_eq!(detect(false, Some("c-1".into()), true), None, "the data is there");
        assert_eq!(detect(true, None, false), None, "a first visit");
        assert_eq!(
            detect(true, Some("c-1".into()), false),
            Some(Evicted { previous_client_id: Some("c-1".into()), evidence: "marker" })
        );
        assert_eq!(detect(true, None, true), Some(Evicted { previous_client_id: None, evidence: "hint" }));
        assert_eq!(marker_key("trips"), "pwa-sync:trips:device");
    }

    #[test]
    fn a_database_is_marked_once_it_holds_something() {
        assert!(!worth_marking(0, 0, false));
        assert!(worth_marking(1, 0, false));
        assert!(worth_marking(0, 7, false));
        assert!(worth_marking(0, 0, true));
    }
}
