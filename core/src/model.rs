//! The store model: the data a plan reads ([`Snapshot`]) and writes ([`Writes`]) inside
//! one store transaction, what the app is told after it commits ([`Effect`]), and the
//! audit log's lines. The storage contract (`store`) and the planners (`sync`) both speak
//! it; it depends on nothing above the records.

use crate::json::{JsonText, ToJson};
use crate::sorted_map::SortedMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::{AppValues, ConflictRecord, EntityRecord, Meta, OutboxEntry};

/// (collection, key)
pub type KeyRef = (String, String);

// A plan's sets of ids and its conflicts are lists: a transaction holds a few (a batch at
// most), and each map or set type would be a whole B-tree compiled into the module
// (bench/README.md "Size").

/// Outbox entry or conflict ids, each at most once ([`add_id`]).
pub type Ids = Vec<u64>;

/// Conflict records by id, ascending (the order they were opened in), each id at most
/// once ([`put_conflict`]).
pub type Conflicts = Vec<ConflictRecord>;

pub fn add_id(ids: &mut Ids, id: u64) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

pub fn remove_id(ids: &mut Ids, id: u64) {
    ids.retain(|other| *other != id);
}

/// Put `conflict` in `list` in id order, in place of the one with its id if there is one.
pub fn put_conflict(list: &mut Conflicts, conflict: ConflictRecord) {
    let at = list.partition_point(|c| c.id < conflict.id);
    match list.get_mut(at).filter(|c| c.id == conflict.id) {
        Some(slot) => *slot = conflict,
        None => list.insert(at, conflict),
    }
}

/// The conflict of `id`, taken out of `list`.
pub fn take_conflict(list: &mut Conflicts, id: u64) -> Option<ConflictRecord> {
    let at = list.iter().position(|c| c.id == id)?;
    Some(list.remove(at))
}

/// What a store reads for a plan: the metadata, the records of the keys asked for, the
/// outbox entries of those that have pending writes (oldest first), and their open
/// conflicts.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot<V = Value> {
    pub meta: Meta,
    /// The id a plan gives the next outbox entry it creates (`record::NEW_ENTRY_IDS` on):
    /// the store numbers new entries as it writes them.
    pub next_new_id: u64,
    pub records: SortedMap<KeyRef, EntityRecord<V>>,
    pub queued: SortedMap<KeyRef, Vec<OutboxEntry<V>>>,
    pub conflicts: Conflicts,
}

impl<V> Snapshot<V> {
    pub fn new(meta: Meta) -> Snapshot<V> {
        Snapshot {
            meta,
            next_new_id: crate::record::NEW_ENTRY_IDS,
            records: SortedMap::new(),
            queued: SortedMap::new(),
            conflicts: Vec::new(),
        }
    }
}

/// What a plan writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Writes<V = Value> {
    /// `None` removes the record.
    pub records: SortedMap<KeyRef, Option<EntityRecord<V>>>,
    pub outbox_put: SortedMap<u64, OutboxEntry<V>>,
    pub outbox_delete: Ids,
    pub audit: Vec<AuditEntry>,
    pub conflicts_put: Conflicts,
    pub conflicts_delete: Ids,
    pub meta: Option<Meta>,
}

impl<V> Writes<V> {
    /// Number the entries the plan created (`record::is_new_entry`) from `next_id`, in the
    /// order it made them: what IndexedDB's key generator does as they are added.
    pub fn number_new_entries(&mut self, next_id: &mut u64) {
        // In id order, the new ones last: renumbered in that order, each map is built
        // by appending.
        let entries = std::mem::take(&mut self.outbox_put).into_iter();
        self.outbox_put = entries
            .map(|(id, mut entry)| {
                if crate::record::is_new_entry(id) {
                    entry.id = *next_id;
                    *next_id += 1;
                }
                (entry.id, entry)
            })
            .collect();
    }
}

// Not derived: a derive would ask `V: Default`, which no value needs to be.
impl<V> Default for Writes<V> {
    fn default() -> Self {
        Writes {
            records: SortedMap::new(),
            outbox_put: SortedMap::new(),
            outbox_delete: Vec::new(),
            audit: Vec::new(),
            conflicts_put: Vec::new(),
            conflicts_delete: Vec::new(),
            meta: None,
        }
    }
}

impl<V> Writes<V> {
    /// The writes of a plan that only changes the client metadata: `edit` changes the
    /// snapshot's and says whether to write it. One function for the plans that do only
    /// that (a checkpoint reset or rescoped, a sync's end, a failure recorded), so the
    /// snapshot's drop and the writes' construction are compiled once, not in each.
    #[inline(never)]
    pub fn of_meta(snapshot: Snapshot<V>, edit: &mut dyn FnMut(&mut Meta) -> bool) -> Writes<V> {
        let mut meta = snapshot.meta;
        let changed = edit(&mut meta);
        Writes { meta: changed.then_some(meta), ..Writes::default() }
    }

    /// Removing outbox entries acknowledges the server: that must reach the disk before
    /// the transaction reports success (invariant 2).
    pub fn needs_strict_durability(&self) -> bool {
        !self.outbox_delete.is_empty()
    }
}

/// One line of the audit log: a conflict or a rejection, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub at: f64,
    pub kind: AuditKind,
    pub collection: String,
    pub key: String,
    /// The strategy that decided (e.g. "serverWins"), or the rejection code.
    pub strategy: String,
    /// "auto" or "app".
    pub decided_by: String,
    pub local: Option<Value>,
    pub server: Option<Value>,
    pub base: Option<Value>,
    pub result: Option<Value>,
    pub server_version: Option<u64>,
}

impl AppValues for AuditEntry {
    fn app_values(&mut self) -> Vec<&mut Value> {
        [&mut self.local, &mut self.server, &mut self.base, &mut self.result]
            .into_iter()
            .filter_map(Option::as_mut)
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditKind {
    Conflict,
    Rejected,
}

/// What the app is told after a plan commits.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect<V = Value> {
    /// A key's visible value changed because of the server.
    Changed {
        collection: String,
        key: String,
        value: Option<V>,
        version: Option<u64>,
    },
    Conflict(AuditEntry),
    /// A conflict was stored for a person to decide.
    ManualConflict(ConflictRecord),
    Rejected {
        collection: String,
        key: String,
        mutation_id: u64,
        code: String,
        message: String,
    },
    /// The server says this user can no longer read these spaces (their records are gone).
    SpacesRevoked(Vec<String>),
    /// A pulled document was written at a schema version newer than the app's: stored as
    /// it is (the app should ask the user to update).
    NewerSchema {
        collection: String,
        key: String,
        schema_version: u32,
    },
}

impl ToJson for AuditEntry {
    fn write_json(&self, out: &mut JsonText) {
        out.open_object();
        out.field("at", &self.at);
        out.field("kind", &self.kind);
        out.field("collection", &self.collection);
        out.field("key", &self.key);
        out.field("strategy", &self.strategy);
        out.field("decidedBy", &self.decided_by);
        out.field("local", &self.local);
        out.field("server", &self.server);
        out.field("base", &self.base);
        out.field("result", &self.result);
        out.field("serverVersion", &self.server_version);
        out.close_object();
    }
}

impl ToJson for AuditKind {
    fn write_json(&self, out: &mut JsonText) {
        out.string(match self {
            AuditKind::Conflict => "conflict",
            AuditKind::Rejected => "rejected",
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{Snapshot, Writes};
    use crate::record::Meta;

    #[test]
    fn meta_only_writes_hold_the_edited_metadata_when_the_edit_says_so_and_nothing_else() {
        let snapshot = || Snapshot::<serde_json::Value>::new(Meta::new("c-1".into()));
        let writes = Writes::of_meta(snapshot(), &mut |meta| {
            meta.checkpoint = 9;
            true
        });
        assert_eq!(writes.meta.as_ref().map(|m| m.checkpoint), Some(9));
        assert_eq!(Writes { meta: None, ..writes }, Writes::default());
        let unchanged = Writes::of_meta(snapshot(), &mut |meta| {
            meta.checkpoint = 9;
            false
        });
        assert_eq!(unchanged, Writes::default());
    }
}
