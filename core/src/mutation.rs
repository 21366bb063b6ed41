//! Local writes: how one `put`, `patch` or `delete` changes the entity record and the
//! outbox. Both stores call [`plan_local_write`] between reading and writing inside one
//! transaction, so the rules live in one place and are tested on the host.
//!
//! Coalescing: while the newest outbox entry for a key has not been sent, a new write
//! for that key folds into it (put then patch = one put, patch then patch = one merged
//! patch, create then delete of a never-synced key = nothing). An entry already sent is
//! never rewritten, because the server may have applied exactly what it received.

use serde_json::Value;

use crate::clock::HlcStamp;
use crate::config::SpaceRule;
use crate::error::{Error, Result};
use crate::patch;
use crate::protocol::Op;
use crate::record::{EntityRecord, Meta, OutboxEntry};
use crate::value::AppValue;

#[derive(Debug, Clone, PartialEq)]
pub enum LocalOp<V = Value> {
    /// A full value, already checked and stripped by `record::prepare_value`.
    Put(V),
    /// A merge patch, already checked by `record::prepare_patch`.
    Patch(V),
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LocalWrite<V = Value> {
    pub collection: String,
    pub key: String,
    pub op: LocalOp<V>,
    pub now_ms: u64,
    /// Where the collection's records live.
    pub space: SpaceRule,
    /// Spaces the client knows it may only read: a write there is refused at once.
    pub read_only: Vec<String>,
}

impl<V: AppValue> LocalWrite<V> {
    /// A write to a private collection (the space rules are set by the caller if any).
    pub fn new(collection: String, key: String, op: LocalOp<V>, now_ms: u64) -> LocalWrite<V> {
        LocalWrite { collection, key, op, now_ms, space: SpaceRule::Private, read_only: Vec::new() }
    }

    /// The space the write goes to, from the value it leaves (or, for a delete, the value
    /// it removes). A record never moves: another space is another record.
    fn space(&self, before: Option<&V>, after: Option<&V>) -> Result<Option<String>> {
        let Some(value) = after.or(before) else { return Ok(None) };
        let space = self.space.space_of(&self.collection, value)?;
        if let (Some(before), Some(_)) = (before, after) {
            let was = self.space.space_of(&self.collection, before)?;
            if was != space {
                return Err(Error::invalid_value(
                    &self.collection,
                    format!(
                        "record \"{}\" lives in space {}, not {}: a record cannot move between spaces (delete it and create it under a new key)",
                        self.key,
                        crate::json::quoted(&was.unwrap_or_default()),
                        crate::json::quoted(&space.unwrap_or_default())
                    ),
                ));
            }
        }
        if let Some(space) = space.as_ref().filter(|s| self.read_only.contains(s)) {
            return Err(Error::Forbidden { space: space.clone(), reason: "this user may only read it".into() });
        }
        Ok(space)
    }
}

/// What the store must write, all in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct WritePlan<V = Value> {
    /// `Some` upserts the record; `None` removes it (a never-synced key created and
    /// deleted before it was sent leaves nothing behind).
    pub record: Option<EntityRecord<V>>,
    /// Entries to insert or replace (by id).
    pub outbox_put: Option<OutboxEntry<V>>,
    /// Entries to remove.
    pub outbox_delete: Option<u64>,
    /// The metadata with the clock ticked (kept for the next write of a batch; a local
    /// write stores no metadata).
    pub meta: Meta,
    pub outcome: WriteOutcome<V>,
}

/// What a caller learns about a committed local write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome<V = Value> {
    /// The value now visible for the key (`None`: deleted).
    pub value: Option<V>,
    /// An outbox entry carries this write (new, or folded into the key's open one).
    pub queued: bool,
    pub version: Option<u64>,
    /// False when the write changed nothing (deleting a key that does not exist).
    pub changed: bool,
    /// How the number of outbox entries changed: +1 new entry, 0 folded, -1 cancelled.
    pub pending_delta: i64,
}

/// Decide the effect of `write`, given the key's current record and its outbox entries
/// (oldest first); a new entry gets `new_id` (the store numbers it as it writes it).
/// Pure: no I/O, no clock but `write.now_ms`.
pub fn plan_local_write<V: AppValue>(
    meta: &Meta,
    existing: Option<&EntityRecord<V>>,
    queued: &[OutboxEntry<V>],
    write: &LocalWrite<V>,
    new_id: u64,
) -> Result<WritePlan<V>> {
    let visible = existing.and_then(|r| r.value.as_ref());
    let not_found = || Error::NotFound { collection: write.collection.clone(), key: write.key.clone() };

    let new_value = match &write.op {
        LocalOp::Put(value) => Some(value.clone()),
        LocalOp::Patch(partial) => {
            // A merge patch computes a new value: the explicit conversion of the rare path.
            let mut value = visible.map(V::to_json).ok_or_else(not_found)?;
            patch::apply(&mut value, &partial.to_json());
            Some(V::from_json(value))
        }
        LocalOp::Delete if visible.is_none() => {
            return Ok(WritePlan {
                record: existing.cloned(),
                outbox_put: None,
                outbox_delete: None,
                meta: meta.clone(),
                outcome: WriteOutcome {
                    value: None,
                    queued: false,
                    version: existing.and_then(|r| r.version),
                    changed: false,
                    pending_delta: 0,
                },
            });
        }
        LocalOp::Delete => None,
    };

    // A record deleted here but not yet on the server still lives where the server has it
    // (its base): a put of the key in another space would fold into the queued delete.
    let space = write.space(visible.or(existing.and_then(|r| r.base.as_ref())), new_value.as_ref())?;
    let mut meta = meta.clone();
    let now = meta.corrected(write.now_ms);
    // The metadata's clock is not stored by local writes (they read and write no
    // metadata), so the key's own last stamp keeps its stamps increasing, in every tab.
    // Not one from the future: a clock found to be ahead was pulled back, and its old
    // stamps must not drag the next write ahead of other devices' (last write wins).
    if let Some(last) = existing.and_then(|r| r.hlc.parse::<HlcStamp>().ok()).filter(|s| s.wall_ms <= now) {
        meta.hlc.observe(&last, now);
    }
    let hlc = meta.hlc.tick(now, &meta.client_id).to_string();
    let base_version = existing.and_then(|r| r.version);
    let open_entry = queued.last().filter(|e| !e.sent);

    let (op, wire_value) = match &write.op {
        LocalOp::Put(value) => (Op::Put, value.clone()),
        LocalOp::Patch(partial) => (Op::Patch, partial.clone()),
        LocalOp::Delete => (Op::Delete, V::from_json(Value::Null)),
    };
    let folded = open_entry.and_then(|entry| fold(entry, op, &wire_value));

    let mut outbox_put = None;
    let mut outbox_delete = None;
    let mut pending = queued.len() as u32;
    let mut record_removed = false;
    let queued_write = match (folded, open_entry) {
        (Some(Folded::Cancelled), Some(entry)) => {
            // Only a create nobody else has seen may vanish: no server version, and the
            // open entry is the key's only one.
            if base_version.is_none() && queued.len() == 1 {
                outbox_delete = Some(entry.id);
                pending -= 1;
                record_removed = true;
                false
            } else {
                outbox_put = Some(OutboxEntry {
                    op: Op::Delete,
                    value: V::from_json(Value::Null),
                    hlc: hlc.clone(),
                    ..entry.clone()
                });
                true
            }
        }
        (Some(Folded::Into(op, value)), Some(entry)) => {
            outbox_put = Some(OutboxEntry { op, value, hlc: hlc.clone(), ..entry.clone() });
            true
        }
        _ => {
            pending += 1;
            outbox_put = Some(OutboxEntry {
                id: new_id,
                collection: write.collection.clone(),
                key: write.key.clone(),
                op,
                value: wire_value,
                base_version,
                hlc: hlc.clone(),
                sent: false,
                created_at: write.now_ms as f64,
                space,
                attempts: 0,
            });
            true
        }
    };

    let record = (!record_removed).then(|| EntityRecord {
        key: write.key.clone(),
        value: new_value.clone(),
        version: base_version,
        base: existing.and_then(|r| r.base.clone()),
        hlc,
        pending,
        updated_at: write.now_ms as f64,
        conflict: existing.and_then(|r| r.conflict),
        revived: existing.is_some_and(|r| r.revived),
    });

    Ok(WritePlan {
        record,
        outbox_put,
        outbox_delete,
        meta,
        outcome: WriteOutcome {
            value: new_value,
            queued: queued_write,
            version: base_version,
            changed: true,
            pending_delta: i64::from(pending) - queued.len() as i64,
        },
    })
}

enum Folded<V> {
    Into(Op, V),
    /// A delete folded into an unsent create or edit.
    Cancelled,
}

/// Fold a new write into an unsent entry for the same key, if one entry can say both.
fn fold<V: AppValue>(entry: &OutboxEntry<V>, op: Op, value: &V) -> Option<Folded<V>> {
    match (entry.op, op) {
        (_, Op::Put) => Some(Folded::Into(Op::Put, value.clone())),
        (Op::Put, Op::Patch) => {
            let mut merged = entry.value.to_json();
            patch::apply(&mut merged, &value.to_json());
            Some(Folded::Into(Op::Put, V::from_json(merged)))
        }
        (Op::Patch, Op::Patch) => {
            patch::compose(&entry.value.to_json(), &value.to_json()).map(|p| Folded::Into(Op::Patch, V::from_json(p)))
        }
        (Op::Put | Op::Patch, Op::Delete) => Some(Folded::Cancelled),
        // A patch or delete after a delete cannot reach here: the key is not visible.
        (Op::Delete, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Key {
        meta: Meta,
        record: Option<EntityRecord>,
        outbox: Vec<OutboxEntry>,
        now: u64,
        /// The store's key generator: numbers new entries as they are written.
        next_id: u64,
    }

    impl Key {
        fn new() -> Key {
            Key { meta: Meta::new("c-test".into()), record: None, outbox: vec![], now: 1_000, next_id: 1 }
        }

        fn synced(version: u64, value: Value) -> Key {
            let mut k = Key::new();
            k.record = Some(EntityRecord {
                key: "k".into(),
                value: Some(value.clone()),
                version: Some(version),
                base: Some(value),
                hlc: "000000000000001-0000-s".into(),
                pending: 0,
                updated_at: 0.0,
                conflict: None,
                revived: false,
            });
            k
        }

        fn write(&mut self, op: LocalOp) -> Result<WriteOutcome> {
            self.now += 1;
            let w = LocalWrite::new("c".into(), "k".into(), op, self.now);
            let plan =
                plan_local_write(&self.meta, self.record.as_ref(), &self.outbox, &w, crate::record::NEW_ENTRY_IDS)?;
            self.meta = plan.meta;
            self.record = plan.record;
            if let Some(id) = plan.outbox_delete {
                self.outbox.retain(|e| e.id != id);
            }
            if let Some(mut entry) = plan.outbox_put {
                if crate::record::is_new_entry(entry.id) {
                    entry.id = self.next_id;
                    self.next_id += 1;
                }
                match self.outbox.iter_mut().find(|e| e.id == entry.id) {
                    Some(slot) => *slot = entry,
                    None => self.outbox.push(entry),
                }
            }
            Ok(plan.outcome)
        }

        fn ops(&self) -> Vec<(u64, Op, Value)> {
            self.outbox.iter().map(|e| (e.id, e.op, e.value.clone())).collect()
        }
    }

    #[test]
    fn put_then_patch_is_one_put() {
        let mut k = Key::new();
        assert_eq!(k.write(LocalOp::Put(json!({"id": "k", "a": 1}))).unwrap().pending_delta, 1);
        assert_eq!(k.write(LocalOp::Patch(json!({"b": 2}))).unwrap().pending_delta, 0);
        assert_eq!(k.ops(), vec![(1, Op::Put, json!({"id": "k", "a": 1, "b": 2}))]);
        assert_eq!(k.record.as_ref().unwrap().value, Some(json!({"id": "k", "a": 1, "b": 2})));
        assert_eq!(k.record.as_ref().unwrap().pending, 1);
    }

    #[test]
    fn patch_then_patch_is_one_merged_patch() {
        let mut k = Key::synced(4, json!({"id": "k", "a": 1, "m": {"x": 1}}));
        k.write(LocalOp::Patch(json!({"a": 2, "m": {"y": 2}}))).unwrap();
        k.write(LocalOp::Patch(json!({"m": {"x": null}, "c": 3}))).unwrap();
        assert_eq!(k.ops(), vec![(1, Op::Patch, json!({"a": 2, "c": 3, "m": {"x": null, "y": 2}}))]);
        assert_eq!(k.record.unwrap().value, Some(json!({"id": "k", "a": 2, "c": 3, "m": {"y": 2}})));
        assert_eq!(k.outbox[0].base_version, Some(4));
    }

    #[test]
    fn patches_one_patch_cannot_express_stay_separate() {
        let mut k = Key::synced(4, json!({"id": "k", "m": {"x": 1}}));
        k.write(LocalOp::Patch(json!({"m": null}))).unwrap();
        k.write(LocalOp::Patch(json!({"m": {"y": 2}}))).unwrap();
        assert_eq!(k.ops().len(), 2);
        assert_eq!(k.record.unwrap().value, Some(json!({"id": "k", "m": {"y": 2}})));
    }

    #[test]
    fn create_then_delete_of_a_never_synced_key_is_nothing() {
        let mut k = Key::new();
        k.write(LocalOp::Put(json!({"id": "k"}))).unwrap();
        let out = k.write(LocalOp::Delete).unwrap();
        assert!(k.outbox.is_empty());
        assert_eq!(k.record, None);
        assert_eq!((out.queued, out.pending_delta), (false, -1));
        assert_eq!(k.next_id, 2, "the create's id was given out; the next write gets a new one");
    }

    #[test]
    fn edit_then_delete_of_a_synced_key_is_one_delete() {
        let mut k = Key::synced(9, json!({"id": "k"}));
        k.write(LocalOp::Patch(json!({"a": 1}))).unwrap();
        k.write(LocalOp::Delete).unwrap();
        assert_eq!(k.ops(), vec![(1, Op::Delete, Value::Null)]);
        assert_eq!(k.outbox[0].base_version, Some(9));
        let tombstone = k.record.unwrap();
        assert_eq!((tombstone.value, tombstone.version), (None, Some(9)));
    }

    #[test]
    fn delete_then_put_is_one_put_against_the_same_base() {
        let mut k = Key::synced(9, json!({"id": "k", "a": 1}));
        k.write(LocalOp::Delete).unwrap();
        k.write(LocalOp::Put(json!({"id": "k", "a": 2}))).unwrap();
        assert_eq!(k.ops(), vec![(1, Op::Put, json!({"id": "k", "a": 2}))]);
        assert_eq!(k.outbox[0].base_version, Some(9));
    }

    #[test]
    fn a_sent_entry_is_never_touched() {
        let mut k = Key::new();
        k.write(LocalOp::Put(json!({"id": "k", "a": 1}))).unwrap();
        k.outbox[0].sent = true;
        let before = k.outbox[0].clone();
        k.write(LocalOp::Patch(json!({"b": 2}))).unwrap();
        k.write(LocalOp::Delete).unwrap();
        assert_eq!(k.outbox[0], before);
        // The create may have reached the server, so the delete must follow it there.
        assert_eq!(k.ops()[1..], [(2, Op::Delete, Value::Null)]);
        assert_eq!(k.record.unwrap().value, None);
    }

    #[test]
    fn patch_or_delete_of_a_missing_key() {
        let mut k = Key::new();
        assert_eq!(
            k.write(LocalOp::Patch(json!({"a": 1}))),
            Err(Error::NotFound { collection: "c".into(), key: "k".into() })
        );
        let out = k.write(LocalOp::Delete).unwrap();
        assert!(!out.changed && k.outbox.is_empty() && k.record.is_none());
    }

    #[test]
    fn every_new_entry_gets_a_larger_id_and_a_larger_hlc() {
        let mut k = Key::new();
        k.write(LocalOp::Put(json!({"id": "k"}))).unwrap();
        k.outbox[0].sent = true;
        k.write(LocalOp::Put(json!({"id": "k", "v": 2}))).unwrap();
        k.outbox[1].sent = true;
        k.write(LocalOp::Put(json!({"id": "k", "v": 3}))).unwrap();
        let ids: Vec<u64> = k.outbox.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert!(k.outbox.windows(2).all(|w| w[0].hlc < w[1].hlc));
        assert_eq!(k.record.unwrap().pending, 3);
    }

    #[test]
    fn a_keys_last_stamp_orders_its_next_write_without_the_metadatas_clock() {
        // Local writes store no metadata: another tab, or this one after a reload, ticks
        // a clock that never saw this key's last write, at the same wall time.
        let mut k = Key::new();
        k.write(LocalOp::Put(json!({"id": "k", "a": 1}))).unwrap();
        let first = k.record.as_ref().unwrap().hlc.clone();
        k.meta = Meta::new("c-test".into());
        k.now -= 1;
        k.write(LocalOp::Patch(json!({"a": 2}))).unwrap();
        assert!(k.record.as_ref().unwrap().hlc > first, "{} after {first}", k.record.unwrap().hlc);
    }
}
