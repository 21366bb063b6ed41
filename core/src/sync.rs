//! Planning what the server's answers do to local state. Each planner is pure: it gets a
//! [`Snapshot`] of the keys involved, read inside a store transaction, and returns the
//! [`Writes`] that same transaction commits, plus what to tell the app ([`Effect`]s).
//!
//! The visible value of a key is always its last server value (`base`) with the pending
//! outbox entries replayed on top; every planner keeps that true.

use crate::sorted_map::SortedMap;

use serde_json::Value;

use crate::clock::HlcStamp;
use crate::config::{ClientConfig, CollectionConfig};
use crate::conflict::{self, Resolution, Sides};
use crate::error::{Error, Result};
use crate::model::{
    add_id, put_conflict, remove_id, take_conflict, AuditEntry, AuditKind, Conflicts, Effect, Ids, KeyRef, Snapshot,
    Writes,
};
use crate::mutation::{plan_local_write, LocalWrite, WriteOutcome};
use crate::patch;
use crate::protocol::{Change, MutationResult, Op, FORBIDDEN};
use crate::record::{is_new_entry, ConflictRecord, EntityRecord, Meta, OutboxEntry};
use crate::value::{json_of, same_value, AppValue};

/// An app's resolver for a collection (`conflict: (local, server, base) => value`):
/// `Some(value)`, or `None` when it threw or returned something unusable.
pub type Custom<'a> = &'a dyn Fn(&CollectionConfig, &Sides<'_>) -> Option<Option<Value>>;

/// A refused write as the audit log and the `rejected` event tell it.
struct Rejection<'a> {
    id: u64,
    code: &'a str,
    message: &'a str,
    /// What the write made of the record, what the server has, and what shows now.
    local: Option<Value>,
    server: Option<Value>,
    result: Option<Value>,
}

/// For callers with no app resolvers.
pub fn no_custom(_: &CollectionConfig, _: &Sides<'_>) -> Option<Option<Value>> {
    None
}

/// How the app settles a manual conflict.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Local,
    Server,
    /// A value of the app's own (already checked; `None` deletes).
    Value(Option<Value>),
}

/// Tallies of one plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied<V = Value> {
    pub applied: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub effects: Vec<Effect<V>>,
}

// Not derived: a derive would ask `V: Default`.
impl<V> Default for Applied<V> {
    fn default() -> Self {
        Applied { applied: 0, conflicts: 0, rejected: 0, effects: Vec::new() }
    }
}

/// The server's state of a key, as a pull or a push conflict brings it.
struct Incoming<V> {
    version: u64,
    /// `None`: the server holds a tombstone.
    value: Option<V>,
    hlc: String,
}

/// Local writes applied in order as one plan (`putMany`, and a single write as a batch of
/// one; see `mutation::plan_local_write`): a later write of the same key
/// sees the earlier one, exactly as if they had been made one after the other, and the
/// first error refuses the whole batch.
pub fn plan_local_batch<V: AppValue>(
    mut snapshot: Snapshot<V>,
    batch: &[LocalWrite<V>],
) -> Result<(Writes<V>, Vec<WriteOutcome<V>>)> {
    let mut writes = Writes::default();
    let mut outcomes = Vec::with_capacity(batch.len());
    for write in batch {
        let key: KeyRef = (write.collection.clone(), write.key.clone());
        let queued = snapshot.queued.get(&key).map(Vec::as_slice).unwrap_or_default();
        let new_id = snapshot.next_new_id;
        let plan = plan_local_write(&snapshot.meta, snapshot.records.get(&key), queued, write, new_id)?;
        let queue = snapshot.queued.get_or_default(&key);
        if let Some(id) = plan.outbox_delete {
            queue.retain(|e| e.id != id);
            writes.outbox_put.remove(&id);
            // An entry of this batch was never stored: nothing to delete.
            if !is_new_entry(id) {
                add_id(&mut writes.outbox_delete, id);
            }
        }
        if let Some(entry) = plan.outbox_put {
            if entry.id == new_id {
                snapshot.next_new_id += 1;
            }
            match queue.iter_mut().find(|e| e.id == entry.id) {
                Some(folded) => *folded = entry.clone(),
                None => queue.push(entry.clone()),
            }
            remove_id(&mut writes.outbox_delete, entry.id);
            writes.outbox_put.insert(entry.id, entry);
        }
        match &plan.record {
            Some(record) => snapshot.records.insert(key.clone(), record.clone()),
            None => snapshot.records.remove(&key),
        };
        writes.records.insert(key, plan.record);
        snapshot.meta = plan.meta;
        outcomes.push(plan.outcome);
    }
    // No metadata: ids come from the store's key generator and each key's stamps from its
    // record, so a local write neither reads nor writes it (`writes.meta` stays `None`).
    Ok((writes, outcomes))
}

/// The server's answers to a pushed batch.
pub fn plan_push<V: AppValue>(
    config: &ClientConfig,
    snapshot: Snapshot<V>,
    results: &[MutationResult],
    now_ms: u64,
    custom: Custom<'_>,
) -> Result<(Writes<V>, Applied<V>)> {
    let mut work = Working::new(snapshot, custom);
    let mut tally = Applied::default();
    for result in results {
        let (id, outcome) = (result.id(), result);
        // An entry already settled (e.g. by a conflict on an earlier entry of its key)
        // needs nothing more.
        let Some(key) = work.key_of(id) else { continue };
        let Ok(collection) = config.collection(&key.0) else { continue };
        match outcome {
            MutationResult::Applied { version, .. } => {
                work.acknowledge(&key, id, *version, now_ms);
                tally.applied += 1;
            }
            MutationResult::Conflict { server, .. } => {
                let mut value = server.value.clone().map(V::from_json);
                // Omitted fields are never stored, whichever way the server's value came.
                if let Some(value) = value.as_mut().filter(|_| !collection.omit.is_empty()) {
                    value.remove_fields(&collection.omit);
                }
                let server = Incoming { version: server.version, value, hlc: server.hlc.clone() };
                // Nobody wrote since the patch's base: the server refused it for its schema
                // alone (a newer app's patch of an older document). The change goes again
                // as a whole value, with no strategy to decide (`serverWins` would drop every
                // such patch for good). Not with `omit`: the whole value would wipe fields
                // only the server holds, so the strategy decides as for any conflict.
                let rebase = collection.omit.is_empty() && work.patched_against(&key, id, server.version);
                if work.resolve(collection, &key, &server, rebase, now_ms, &mut tally.effects) {
                    tally.conflicts += 1;
                }
            }
            MutationResult::Rejected { code, message, .. } => {
                work.reject(&key, id, code, message, now_ms, &mut tally.effects);
                tally.rejected += 1;
            }
        }
    }
    Ok((work.finish(), tally))
}

/// A page of pulled changes and the checkpoint after it, stored together (invariant 4).
pub fn plan_pull<V: AppValue>(
    config: &ClientConfig,
    snapshot: Snapshot<V>,
    changes: &[Change<V>],
    checkpoint: u64,
    now_ms: u64,
    custom: Custom<'_>,
) -> Result<(Writes<V>, Applied<V>)> {
    let mut work = Working::new(snapshot, custom);
    let mut tally = Applied::default();
    for change in changes {
        // Only asked-for collections arrive; anything else is ignored, not stored.
        let Ok(collection) = config.collection(&change.collection) else { continue };
        if !collection.space.admits(change.space.as_deref()) {
            continue; // The same collection name in a space this app does not keep it in.
        }
        let key: KeyRef = (change.collection.clone(), change.key.clone());
        let mut value = change.value.clone();
        if let Some(value) = value.as_mut().filter(|_| !collection.omit.is_empty()) {
            value.remove_fields(&collection.omit);
        }
        // Pulled values are at the app's version by now (`engine::migrate_pulled`).
        let server = Incoming { version: change.version, value, hlc: change.hlc.clone() };
        if work.records.get(&key).and_then(|r| r.version).is_some_and(|v| v >= change.version) {
            continue; // Already have it, e.g. our own write coming back.
        }
        if work.queued.get(&key).is_some_and(|q| !q.is_empty()) {
            // Invariant 5: never overwrite pending local writes silently.
            if work.resolve(collection, &key, &server, false, now_ms, &mut tally.effects) {
                tally.conflicts += 1;
            }
        } else {
            work.accept(&key, &server, now_ms, &mut tally.effects);
        }
        tally.applied += 1;
    }
    work.meta.checkpoint = checkpoint;
    work.meta_dirty = true;
    Ok((work.finish(), tally))
}

/// The app drops every queued write (`discardPending`): each record with pending writes
/// goes back to its last server value, and the outbox is empty. Entries already sent may
/// still be applied by the server; the next pull then brings their effect back.
pub fn plan_discard<V: AppValue>(snapshot: Snapshot<V>, now_ms: u64) -> Result<(Writes<V>, Applied<V>)> {
    let mut work = Working::new(snapshot, &no_custom);
    let mut tally = Applied::default();
    // A loop, not a collect over `filter` (see `plan_revoke`).
    let mut keys: Vec<KeyRef> = Vec::new();
    for (key, queued) in work.queued.iter() {
        if !queued.is_empty() {
            keys.push(key.clone());
        }
    }
    for key in keys {
        let before = work.visible(&key);
        let ids: Vec<u64> = work.queued.get(&key).map(|q| q.iter().map(|e| e.id).collect()).unwrap_or_default();
        for id in &ids {
            work.remove_entry(&key, *id);
        }
        tally.applied += ids.len();
        let (base, version) =
            work.records.get(&key).map(|r| (r.server_value().cloned(), r.version)).unwrap_or_default();
        work.settle(&key, base, version, None, now_ms);
        let after = work.visible(&key);
        if !same_value(before.as_ref(), after.as_ref()) {
            tally.effects.push(Effect::Changed {
                collection: key.0.clone(),
                key: key.1.clone(),
                value: after,
                version,
            });
        }
    }
    Ok((work.finish(), tally))
}

/// Spaces this user can no longer read (`revoked` in a pull answer): each record of theirs
/// goes, as a deletion by the server would, and each pending write there is rejected with
/// `forbidden` (audited, announced). `snapshot` holds the keys that may be theirs.
pub fn plan_revoke<V: AppValue>(
    config: &ClientConfig,
    snapshot: Snapshot<V>,
    revoked: &[String],
    now_ms: u64,
) -> Result<(Writes<V>, Applied<V>)> {
    let mut work = Working::new(snapshot, &no_custom);
    let mut tally = Applied::default();
    // Pushed in loops, not collected: a chain's `from_iter` is one more ~700-byte instance.
    let mut keys: Vec<KeyRef> = Vec::new();
    for key in work.records.keys() {
        keys.push(key.clone());
    }
    for key in work.queued.keys() {
        keys.push(key.clone());
    }
    crate::sort::sort_unique(&mut keys);
    for key in keys {
        let Ok(collection) = config.collection(&key.0) else { continue };
        let Some(space) = work.space_of(collection, &key) else { continue };
        if !revoked.contains(&space) {
            continue;
        }
        let before = work.visible(&key);
        let ids: Vec<u64> = work.queued.get(&key).map(|q| q.iter().map(|e| e.id).collect()).unwrap_or_default();
        let message = format!("no longer a member of space \"{space}\"");
        for id in ids {
            let Some(entry) = work.remove_entry(&key, id) else { continue };
            let local = json_of(replay(None, std::slice::from_ref(&entry)).as_ref());
            let rejection = Rejection { id, code: FORBIDDEN, message: &message, local, server: None, result: None };
            work.record_rejection(&key, rejection, None, now_ms, &mut tally.effects);
            tally.rejected += 1;
        }
        work.settle(&key, None, None, None, now_ms);
        if before.is_some() {
            tally.effects.push(Effect::Changed {
                collection: key.0.clone(),
                key: key.1.clone(),
                value: None,
                version: None,
            });
        }
        tally.applied += 1;
    }
    Ok((work.finish(), tally))
}

/// The app settles manual conflict `id` (of `key`): the chosen value becomes the local
/// value and, unless it is the server's, goes out against the server version the
/// conflict showed (if another client moved the server on since, that is a new
/// conflict). When the key was written here since, it goes out as the patch from the
/// conflict's server value to it: a put of the chosen value would undo those writes.
pub fn plan_resolve<V: AppValue>(
    snapshot: Snapshot<V>,
    key: &KeyRef,
    id: u64,
    choice: Choice,
    now_ms: u64,
) -> Result<(Writes<V>, Vec<Effect<V>>)> {
    let mut work = Working::new(snapshot, &no_custom);
    let Some(conflict) =
        take_conflict(&mut work.conflicts, id).filter(|c| (c.collection.clone(), c.key.clone()) == *key)
    else {
        return Err(Error::UnknownConflict(id));
    };
    add_id(&mut work.conflicts_deleted, id);
    let chosen = match choice {
        Choice::Local => conflict.local.clone(),
        Choice::Server => conflict.server.clone(),
        Choice::Value(value) => value,
    };
    let before = work.visible(key);
    let (base, version, revived) =
        work.records.get(key).map(|r| (r.base.clone(), r.version, r.revived)).unwrap_or_default();
    if let Some(record) = work.records.get_mut(key) {
        record.conflict = None;
    }
    let mut hlc = None;
    // Writes made since the conflict (applied, or still queued): the choice must not undo
    // them, so it goes out as the change it makes to the conflict's server value.
    let moved = version != Some(conflict.server_version) || work.queued.get(key).is_some_and(|q| !q.is_empty());
    if chosen != conflict.server {
        let space = conflict.space.clone();
        // Worked out only when the key was written since. A patch needs a record to apply
        // to: over a delete the choice goes whole.
        let patch = (moved && before.is_some())
            .then(|| crate::patch::changes(conflict.server.as_ref(), chosen.as_ref()))
            .flatten();
        // Against the version the conflict showed, either way: the server takes it over
        // this client's own later writes, and another client's write since is a new
        // conflict, not silently overwritten.
        let against = conflict.server_version;
        hlc = Some(match patch {
            Some(patch) => work.queue_entry(key, Op::Patch, V::from_json(patch), against, None, space, now_ms),
            None => work.queue_value(key, chosen.clone().map(V::from_json), against, None, space, now_ms),
        });
    }
    work.settle(key, base, version, hlc, now_ms);
    if let Some(record) = work.records.get_mut(key) {
        // The same server state as before the choice.
        record.revived = revived;
    }
    let mut effects = Vec::new();
    let entry = AuditEntry {
        at: now_ms as f64,
        kind: AuditKind::Conflict,
        collection: key.0.clone(),
        key: key.1.clone(),
        strategy: "manual".into(),
        decided_by: "app".into(),
        local: conflict.local,
        server: conflict.server,
        base: conflict.base,
        result: chosen,
        server_version: Some(conflict.server_version),
    };
    work.audit.push(entry.clone());
    effects.push(Effect::Conflict(entry));
    let after = work.visible(key);
    if !same_value(before.as_ref(), after.as_ref()) {
        effects.push(Effect::Changed { collection: key.0.clone(), key: key.1.clone(), value: after, version });
    }
    Ok((work.finish(), effects))
}

/// `base` with `entries` applied in order: what the app sees while they are pending.
pub fn replay<V: AppValue>(base: Option<&V>, entries: &[OutboxEntry<V>]) -> Option<V> {
    let mut value = base.cloned();
    for entry in entries {
        value = match entry.op {
            Op::Put => Some(entry.value.clone()),
            Op::Delete => None,
            Op::Patch => {
                // A merge patch computes a new value: the explicit conversion.
                let mut target = value.map_or_else(|| Value::Object(Default::default()), |v| v.to_json());
                patch::apply(&mut target, &entry.value.to_json());
                Some(V::from_json(target))
            }
        };
    }
    value
}

/// A snapshot being changed, remembering what it changed.
struct Working<'c, V> {
    meta: Meta,
    meta_dirty: bool,
    /// The id of the next entry this plan queues; the store numbers it (`is_new_entry`).
    next_new_id: u64,
    records: SortedMap<KeyRef, EntityRecord<V>>,
    queued: SortedMap<KeyRef, Vec<OutboxEntry<V>>>,
    conflicts: Conflicts,
    /// Keys whose record this plan changed, once per change (sorted and
    /// deduplicated by `finish`: a `BTreeSet` would be one more B-tree in the module).
    dirty: Vec<KeyRef>,
    removed_entries: Ids,
    conflicts_added: Conflicts,
    conflicts_deleted: Ids,
    audit: Vec<AuditEntry>,
    custom: Custom<'c>,
}

impl<'c, V: AppValue> Working<'c, V> {
    fn new(snapshot: Snapshot<V>, custom: Custom<'c>) -> Working<'c, V> {
        Working {
            meta: snapshot.meta,
            meta_dirty: false,
            next_new_id: snapshot.next_new_id,
            records: snapshot.records,
            queued: snapshot.queued,
            conflicts: snapshot.conflicts,
            dirty: Vec::new(),
            removed_entries: Vec::new(),
            conflicts_added: Vec::new(),
            conflicts_deleted: Vec::new(),
            audit: Vec::new(),
            custom,
        }
    }

    fn key_of(&self, id: u64) -> Option<KeyRef> {
        self.queued.iter().find(|(_, entries)| entries.iter().any(|e| e.id == id)).map(|(k, _)| k.clone())
    }

    fn entries(&mut self, key: &KeyRef) -> &mut Vec<OutboxEntry<V>> {
        self.queued.get_or_default(key)
    }

    fn remove_entry(&mut self, key: &KeyRef, id: u64) -> Option<OutboxEntry<V>> {
        let entries = self.entries(key);
        let at = entries.iter().position(|e| e.id == id)?;
        let entry = entries.remove(at);
        // Once at most: the entry just left its queue, so it cannot be removed again.
        // (`add_id`'s search made discarding n entries quadratic: ~1.8 s of the 3.56 s that
        // `plan_discard` of 100,000 took on the host.)
        self.removed_entries.push(id);
        Some(entry)
    }

    /// Recompute the record's visible value and pending count from its base and queue.
    fn settle(&mut self, key: &KeyRef, base: Option<V>, version: Option<u64>, hlc: Option<String>, now_ms: u64) {
        let entries = self.queued.get(key).cloned().unwrap_or_default();
        let value = replay(base.as_ref(), &entries);
        let previous = self.records.get(key);
        let record = EntityRecord {
            key: key.1.clone(),
            value,
            version,
            base,
            hlc: hlc.or_else(|| previous.map(|r| r.hlc.clone())).unwrap_or_default(),
            pending: entries.len() as u32,
            updated_at: now_ms as f64,
            conflict: previous.and_then(|r| r.conflict),
            // Settled at a server state: `base` is the server's value again.
            revived: false,
        };
        self.records.insert(key.clone(), record);
        self.dirty.push(key.clone());
    }

    /// The space `key`'s record lives in: that of its pending writes, else of its value.
    fn space_of(&self, collection: &CollectionConfig, key: &KeyRef) -> Option<String> {
        if let Some(space) = self.queued.get(key).and_then(|q| q.iter().find_map(|e| e.space.clone())) {
            return Some(space);
        }
        let record = self.records.get(key)?;
        let value = record.value.as_ref().or(record.base.as_ref())?;
        collection.space.space_of(&collection.name, value).ok().flatten()
    }

    fn visible(&self, key: &KeyRef) -> Option<V> {
        self.records.get(key).and_then(|r| r.value.clone())
    }

    fn observe(&mut self, hlc: &str, now_ms: u64) {
        if let Ok(stamp) = hlc.parse::<HlcStamp>() {
            let now = self.meta.corrected(now_ms);
            self.meta.hlc.observe(&stamp, now);
            self.meta_dirty = true;
        }
    }

    /// The server applied entry `id`: it leaves the outbox, its effect becomes the base,
    /// and the key's later entries now build on the new version.
    fn acknowledge(&mut self, key: &KeyRef, id: u64, version: u64, now_ms: u64) {
        let Some(entry) = self.remove_entry(key, id) else { return };
        let old_base = self.records.get(key).and_then(|r| r.base.clone());
        let base = replay(old_base.as_ref(), std::slice::from_ref(&entry));
        // Rewritten at `finish` with every surviving entry of the key.
        for later in self.entries(key).iter_mut().filter(|e| !e.sent) {
            later.base_version = Some(version);
        }
        self.settle(key, base, Some(version), None, now_ms);
    }

    /// The server refused entry `id`: it leaves the outbox and its effect is rolled back.
    fn reject(&mut self, key: &KeyRef, id: u64, code: &str, message: &str, now_ms: u64, effects: &mut Vec<Effect<V>>) {
        if self.remove_entry(key, id).is_none() {
            return;
        }
        let before = self.visible(key);
        let (base, version) = self.records.get(key).map(|r| (r.server_value().cloned(), r.version)).unwrap_or_default();
        self.settle(key, base.clone(), version, None, now_ms);
        let after = self.visible(key);
        let rejection = Rejection {
            id,
            code,
            message,
            local: json_of(before.as_ref()),
            server: json_of(base.as_ref()),
            result: json_of(after.as_ref()),
        };
        self.record_rejection(key, rejection, version, now_ms, effects);
        if !same_value(before.as_ref(), after.as_ref()) {
            effects.push(Effect::Changed { collection: key.0.clone(), key: key.1.clone(), value: after, version });
        }
    }

    /// Audit a refused write and announce it.
    fn record_rejection(
        &mut self,
        key: &KeyRef,
        rejection: Rejection<'_>,
        server_version: Option<u64>,
        now_ms: u64,
        effects: &mut Vec<Effect<V>>,
    ) {
        self.audit.push(AuditEntry {
            at: now_ms as f64,
            kind: AuditKind::Rejected,
            collection: key.0.clone(),
            key: key.1.clone(),
            strategy: rejection.code.to_owned(),
            decided_by: "server".into(),
            local: rejection.local,
            server: rejection.server,
            base: None,
            result: rejection.result,
            server_version,
        });
        effects.push(Effect::Rejected {
            collection: key.0.clone(),
            key: key.1.clone(),
            mutation_id: rejection.id,
            code: rejection.code.to_owned(),
            message: rejection.message.to_owned(),
        });
    }

    /// A server change for a key with nothing pending: take it.
    fn accept(&mut self, key: &KeyRef, server: &Incoming<V>, now_ms: u64, effects: &mut Vec<Effect<V>>) {
        let before = self.visible(key);
        self.observe(&server.hlc, now_ms);
        self.settle(key, server.value.clone(), Some(server.version), Some(server.hlc.clone()), now_ms);
        if !same_value(before.as_ref(), server.value.as_ref()) {
            effects.push(Effect::Changed {
                collection: key.0.clone(),
                key: key.1.clone(),
                value: server.value.clone(),
                version: Some(server.version),
            });
        }
    }

    /// Queue `value` (a put, or a delete for `None`) for `key` against `base_version`,
    /// under a new mutation id; returns its HLC stamp.
    /// `stamp`: the write's HLC stamp; `None` ticks the clock (a decision made now).
    fn queue_value(
        &mut self,
        key: &KeyRef,
        value: Option<V>,
        base_version: u64,
        stamp: Option<String>,
        space: Option<String>,
        now_ms: u64,
    ) -> String {
        let (op, value) = match value {
            Some(v) => (Op::Put, v),
            None => (Op::Delete, V::from_json(Value::Null)),
        };
        self.queue_entry(key, op, value, base_version, stamp, space, now_ms)
    }

    /// Queue a write of any `op` (`queue_value`'s, or a patch); returns its HLC stamp.
    #[allow(clippy::too_many_arguments)]
    fn queue_entry(
        &mut self,
        key: &KeyRef,
        op: Op,
        value: V,
        base_version: u64,
        stamp: Option<String>,
        space: Option<String>,
        now_ms: u64,
    ) -> String {
        let now = self.meta.corrected(now_ms);
        let stamp = stamp.unwrap_or_else(|| self.meta.hlc.tick(now, &self.meta.client_id).to_string());
        let id = self.next_new_id;
        self.next_new_id += 1;
        self.meta_dirty = true;
        let entry = OutboxEntry {
            id,
            collection: key.0.clone(),
            key: key.1.clone(),
            op,
            value,
            base_version: Some(base_version),
            hlc: stamp.clone(),
            sent: false,
            created_at: now_ms as f64,
            space,
            attempts: 0,
        };
        self.entries(key).push(entry);
        stamp
    }

    /// Whether the queued entry `id` of `key` is a patch written against `version`.
    fn patched_against(&self, key: &KeyRef, id: u64, version: u64) -> bool {
        let entry = self.queued.get(key).and_then(|q| q.iter().find(|e| e.id == id));
        entry.is_some_and(|e| e.op == Op::Patch && e.base_version == Some(version))
    }

    /// The server's state for a key differs from the base its pending writes build on:
    /// settle every queued write of the key by the collection's strategy. Returns whether
    /// there was a conflict at all (the same value on both sides is none). `rebase`: only
    /// the server's schema stood between them (`patched_against`): the local change over
    /// the base, applied to the server's value (both in the app's shape by now), goes
    /// again whole, with no strategy, audit or conflict.
    fn resolve(
        &mut self,
        config: &CollectionConfig,
        key: &KeyRef,
        server: &Incoming<V>,
        rebase: bool,
        now_ms: u64,
        effects: &mut Vec<Effect<V>>,
    ) -> bool {
        let record = self.records.get(key).cloned();
        // A record never moves between spaces: its pending writes say where it lives.
        let space = self.queued.get(key).and_then(|q| q.iter().find_map(|e| e.space.clone()));
        let local_value = record.as_ref().and_then(|r| r.value.clone());
        let base_value = record.as_ref().and_then(|r| r.base.clone());
        let local_hlc = record.as_ref().map(|r| r.hlc.clone()).unwrap_or_default();
        self.observe(&server.hlc, now_ms);
        let ids: Vec<u64> = self.queued.get(key).map(|q| q.iter().map(|e| e.id).collect()).unwrap_or_default();
        let settled: Vec<OutboxEntry<V>> = ids.into_iter().filter_map(|id| self.remove_entry(key, id)).collect();
        if same_value(local_value.as_ref(), server.value.as_ref()) {
            // Both sides reached the same value: nothing to decide.
            self.settle(key, server.value.clone(), Some(server.version), Some(server.hlc.clone()), now_ms);
            return false;
        }
        // Deciding reads the values: the conflict path's explicit conversion to JSON.
        let local = json_of(local_value.as_ref());
        let base = json_of(base_value.as_ref());
        let server_json = json_of(server.value.as_ref());
        let sides = Sides {
            local: local.as_ref(),
            server: server_json.as_ref(),
            base: base.as_ref(),
            local_hlc: &local_hlc,
            server_hlc: &server.hlc,
        };
        let custom = self.custom;
        let resolver = |s: &Sides<'_>| custom(config, s);
        let resolution = match (rebase, &base, &local, &server_json) {
            (true, Some(base), Some(local), Some(server)) => {
                let mut rebased = server.clone();
                crate::patch::apply(&mut rebased, &crate::patch::diff(base, local));
                Resolution::Value(Some(rebased))
            }
            (true, ..) => Resolution::Value(local.clone()),
            (false, ..) => conflict::resolve(&config.conflict, sides, Some(&resolver)),
        };
        let strategy = conflict::strategy_name(config.conflict.strategy);
        let mut audit = AuditEntry {
            at: now_ms as f64,
            kind: AuditKind::Conflict,
            collection: key.0.clone(),
            key: key.1.clone(),
            strategy: strategy.to_owned(),
            decided_by: "auto".into(),
            local: local.clone(),
            server: server_json.clone(),
            base: base.clone(),
            result: None,
            server_version: Some(server.version),
        };
        let resolved = match resolution {
            Resolution::Value(resolved) => resolved,
            Resolution::Manual { fields } => {
                // Kept for a person: the server's value shows meanwhile, the local one
                // waits in the conflict record; nothing is sent until the app decides.
                // A key keeps one open conflict: a new one takes over the old one's
                // undecided local side, with the writes made since (over the old
                // conflict's server value, which showed meanwhile) replayed on it, so
                // replacing it loses no choice the app has not made yet.
                let mut kept_local = local.clone();
                if let Some(old) = record.as_ref().and_then(|r| r.conflict) {
                    add_id(&mut self.conflicts_deleted, old);
                    let earlier = take_conflict(&mut self.conflicts_added, old)
                        .or_else(|| take_conflict(&mut self.conflicts, old));
                    if let Some(undecided) = earlier.and_then(|c| c.local) {
                        kept_local = json_of(replay(Some(&V::from_json(undecided)), &settled).as_ref());
                    }
                }
                let id = self.meta.next_conflict_id;
                self.meta.next_conflict_id += 1;
                self.meta_dirty = true;
                let stored = ConflictRecord {
                    id,
                    collection: key.0.clone(),
                    key: key.1.clone(),
                    local: kept_local,
                    server: server_json.clone(),
                    base,
                    detected_at: now_ms as f64,
                    server_version: server.version,
                    fields,
                    space,
                };
                put_conflict(&mut self.conflicts_added, stored.clone());
                self.settle(key, server.value.clone(), Some(server.version), Some(server.hlc.clone()), now_ms);
                if let Some(r) = self.records.get_mut(key) {
                    r.conflict = Some(id);
                }
                audit.strategy = "manual".into();
                audit.decided_by = "pending".into();
                self.audit.push(audit);
                effects.push(Effect::ManualConflict(stored));
                if local != server_json {
                    effects.push(Effect::Changed {
                        collection: key.0.clone(),
                        key: key.1.clone(),
                        value: server.value.clone(),
                        version: Some(server.version),
                    });
                }
                return true;
            }
        };
        let mut hlc = Some(server.hlc.clone());
        if resolved != server_json {
            // The resolution differs from the server: send it, against the server's version.
            // It is as new as the newer of the writes it is made of, not as new as this
            // moment: a resolution settled late must not beat writes made after its edits.
            let stamp = std::cmp::max(&local_hlc, &server.hlc).clone();
            hlc = Some(self.queue_value(
                key,
                resolved.clone().map(V::from_json),
                server.version,
                Some(stamp),
                space,
                now_ms,
            ));
        }
        // A record revived against a tombstone keeps the last value the server had as its
        // base: its edits were made against that, and the next three-way merge must know
        // which fields they changed (a null base would make every field look changed).
        let revived = server.value.is_none() && resolved.is_some();
        let new_base = if revived { base_value } else { server.value.clone() };
        self.settle(key, new_base, Some(server.version), hlc, now_ms);
        if let Some(r) = self.records.get_mut(key).filter(|_| revived) {
            // A rollback of the revival goes to the server's delete, not to that base.
            r.revived = true;
        }
        audit.result = resolved.clone();
        if !rebase {
            self.audit.push(audit.clone());
            effects.push(Effect::Conflict(audit));
        }
        if local != resolved {
            effects.push(Effect::Changed {
                collection: key.0.clone(),
                key: key.1.clone(),
                value: resolved.map(V::from_json),
                version: Some(server.version),
            });
        }
        !rebase
    }

    fn finish(mut self) -> Writes<V> {
        let mut writes = Writes {
            audit: self.audit,
            conflicts_put: self.conflicts_added,
            conflicts_delete: self.conflicts_deleted,
            ..Writes::default()
        };
        crate::sort::sort_unique(&mut self.dirty);
        for key in &self.dirty {
            let record = self.records.remove(key);
            // A never-synced record whose writes were all rolled back has nothing left.
            let record = record.filter(|r| r.value.is_some() || r.version.is_some() || r.pending > 0);
            writes.records.insert(key.clone(), record);
            for entry in self.queued.get(key).into_iter().flatten() {
                writes.outbox_put.insert(entry.id, entry.clone());
            }
        }
        writes.outbox_delete = self.removed_entries;
        for id in &writes.outbox_delete {
            writes.outbox_put.remove(id);
        }
        // An entry queued and settled within this plan was never stored.
        writes.outbox_delete.retain(|id| !is_new_entry(*id));
        if self.meta_dirty {
            writes.meta = Some(self.meta);
        }
        writes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mutation::LocalOp;
    use crate::protocol::ServerState;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn config(strategy: &str) -> ClientConfig {
        ClientConfig::from_json(json!({"name": "t", "collections": {
            "trips": {"key": "id", "conflict": strategy, "omit": ["secret"]}}}))
        .unwrap()
    }

    /// A replica: writes go through `plan_local_batch`, answers through the planners.
    struct Replica {
        config: ClientConfig,
        meta: Meta,
        records: BTreeMap<KeyRef, EntityRecord>,
        outbox: BTreeMap<u64, OutboxEntry>,
        audit: Vec<AuditEntry>,
        now: u64,
        /// The outbox's key generator.
        next_id: u64,
    }

    fn k(key: &str) -> KeyRef {
        ("trips".into(), key.into())
    }

    impl Replica {
        fn new(strategy: &str) -> Replica {
            Replica {
                config: config(strategy),
                meta: Meta::new("c-me".into()),
                records: BTreeMap::new(),
                outbox: BTreeMap::new(),
                audit: vec![],
                now: 1_000,
                next_id: 1,
            }
        }

        fn snapshot(&self, keys: &[KeyRef]) -> Snapshot {
            let mut snap = Snapshot::new(self.meta.clone());
            for key in keys {
                if let Some(r) = self.records.get(key) {
                    snap.records.insert(key.clone(), r.clone());
                    if r.pending > 0 {
                        let q = self
                            .outbox
                            .values()
                            .filter(|e| (e.collection.clone(), e.key.clone()) == *key)
                            .cloned()
                            .collect();
                        snap.queued.insert(key.clone(), q);
                    }
                }
            }
            snap
        }

        fn commit(&mut self, mut writes: Writes) {
            writes.number_new_entries(&mut self.next_id);
            for (key, record) in writes.records {
                match record {
                    Some(r) => self.records.insert(key, r),
                    None => self.records.remove(&key),
                };
            }
            for id in writes.outbox_delete {
                self.outbox.remove(&id);
            }
            self.outbox.extend(writes.outbox_put);
            self.audit.extend(writes.audit);
            if let Some(meta) = writes.meta {
                self.meta = meta;
            }
        }

        fn write(&mut self, key: &str, op: LocalOp) {
            self.now += 10;
            let w = LocalWrite::new("trips".into(), key.into(), op, self.now);
            let (writes, _) = plan_local_batch(self.snapshot(&[k(key)]), std::slice::from_ref(&w)).unwrap();
            self.commit(writes);
        }

        fn push(&mut self, results: Vec<MutationResult>) -> Applied {
            self.now += 10;
            let keys: Vec<KeyRef> = self.outbox.values().map(|e| (e.collection.clone(), e.key.clone())).collect();
            let (writes, applied) =
                plan_push(&self.config, self.snapshot(&keys), &results, self.now, &no_custom).unwrap();
            assert_eq!(writes.needs_strict_durability(), !writes.outbox_delete.is_empty());
            self.commit(writes);
            applied
        }

        fn pull(&mut self, changes: Vec<Change>, checkpoint: u64) -> Applied {
            self.now += 10;
            let keys: Vec<KeyRef> = changes.iter().map(|c| (c.collection.clone(), c.key.clone())).collect();
            let (writes, applied) =
                plan_pull(&self.config, self.snapshot(&keys), &changes, checkpoint, self.now, &no_custom).unwrap();
            self.commit(writes);
            applied
        }

        fn record(&self, key: &str) -> EntityRecord {
            self.records.get(&k(key)).cloned().expect("record")
        }

        fn check_invariant(&self) {
            for (key, record) in &self.records {
                let queued: Vec<OutboxEntry> =
                    self.outbox.values().filter(|e| (e.collection.clone(), e.key.clone()) == *key).cloned().collect();
                assert_eq!(record.pending as usize, queued.len(), "pending count of {key:?}");
                assert_eq!(record.value, replay(record.base.as_ref(), &queued), "visible = base + queue for {key:?}");
            }
        }
    }

    fn change(key: &str, version: u64, value: Option<Value>) -> Change {
        Change {
            collection: "trips".into(),
            key: key.into(),
            version,
            value,
            hlc: format!("{:015}-0000-c-other", 5_000 + version),
            space: None,
            schema_version: None,
        }
    }

    fn server(version: u64, value: Value, hlc_ms: u64) -> ServerState {
        ServerState { version, value: Some(value), hlc: format!("{hlc_ms:015}-0000-c-other"), schema_version: None }
    }

    /// Every queued entry leaves once: a key's several entries and other keys' alike (the
    /// ids are pushed as entries leave their queues, not searched for first).
    #[test]
    fn discarding_deletes_each_queued_entry_once_and_rolls_records_back() {
        let mut snapshot: Snapshot = Snapshot::new(Meta::new("c".into()));
        let entry = |id: u64, key: &str, n: u64| OutboxEntry {
            id,
            collection: "trips".into(),
            key: key.into(),
            op: Op::Put,
            value: json!({"id": key, "n": n}),
            base_version: None,
            hlc: "h".into(),
            sent: false,
            created_at: 0.0,
            space: None,
            attempts: 0,
        };
        for (key, ids) in [("a", vec![1, 2]), ("b", vec![3]), ("c", vec![4, 5, 6])] {
            let record = EntityRecord {
                key: key.into(),
                value: Some(json!({"id": key, "n": 9})),
                version: (key == "b").then_some(7),
                base: (key == "b").then(|| json!({"id": key, "n": 0})),
                hlc: "h".into(),
                pending: ids.len() as u32,
                updated_at: 0.0,
                conflict: None,
                revived: false,
            };
            snapshot.records.insert(k(key), record);
            snapshot.queued.insert(k(key), ids.iter().map(|id| entry(*id, key, *id)).collect());
        }
        let (writes, applied) = plan_discard(snapshot, 5).unwrap();
        let mut deleted = writes.outbox_delete.clone();
        deleted.sort_unstable();
        assert_eq!(deleted, [1, 2, 3, 4, 5, 6]);
        assert_eq!(writes.outbox_delete.len(), 6, "each once: {:?}", writes.outbox_delete);
        assert_eq!(applied.applied, 6);
        assert!(writes.outbox_put.is_empty());
        // Never-synced records go; a synced one goes back to the server's value.
        assert_eq!(writes.records.get(&k("a")), Some(&None));
        assert_eq!(writes.records.get(&k("c")), Some(&None));
        let b = writes.records.get(&k("b")).cloned().flatten().unwrap();
        assert_eq!((b.value, b.pending, b.version), (Some(json!({"id": "b", "n": 0})), 0, Some(7)));
    }

    #[test]
    fn applied_entries_leave_the_outbox_and_become_the_base() {
        let mut r = Replica::new("serverWins");
        r.write("t1", LocalOp::Put(json!({"id": "t1", "a": 1})));
        r.outbox.get_mut(&1).unwrap().sent = true;
        r.write("t1", LocalOp::Patch(json!({"b": 2})));
        let tally = r.push(vec![MutationResult::Applied { id: 1, version: 7 }]);
        assert_eq!(tally.applied, 1);
        let rec = r.record("t1");
        assert_eq!((rec.version, rec.base.clone(), rec.pending), (Some(7), Some(json!({"id": "t1", "a": 1})), 1));
        assert_eq!(rec.value, Some(json!({"id": "t1", "a": 1, "b": 2})));
        // The later, unsent entry now builds on version 7.
        assert_eq!(r.outbox[&2].base_version, Some(7));
        r.check_invariant();
        r.outbox.get_mut(&2).unwrap().sent = true;
        r.push(vec![MutationResult::Applied { id: 2, version: 9 }]);
        let rec = r.record("t1");
        assert_eq!((rec.version, rec.pending, rec.base.clone()), (Some(9), 0, rec.value.clone()));
        assert!(r.outbox.is_empty());
        r.check_invariant();
    }

    #[test]
    fn a_rejected_write_is_rolled_back_and_reported() {
        let mut r = Replica::new("serverWins");
        r.pull(vec![change("t1", 3, Some(json!({"id": "t1", "a": 1})))], 3);
        r.write("t1", LocalOp::Patch(json!({"a": 2})));
        r.outbox.get_mut(&1).unwrap().sent = true;
        r.write("t1", LocalOp::Patch(json!({"c": 3})));
        let tally = r.push(vec![MutationResult::Rejected {
            id: 1,
            code: "validation".into(),
            message: "a must be odd".into(),
        }]);
        assert_eq!(tally.rejected, 1);
        // Back to the server's value, with the still-pending later write replayed on it.
        assert_eq!(r.record("t1").value, Some(json!({"id": "t1", "a": 1, "c": 3})));
        assert!(tally
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Rejected { mutation_id: 1, code, .. } if code == "validation")));
        assert!(tally.effects.iter().any(|e| matches!(e, Effect::Changed { .. })));
        assert_eq!(r.audit.len(), 1);
        assert_eq!(r.audit[0].kind, AuditKind::Rejected);
        r.check_invariant();
    }

    #[test]
    fn a_rejected_create_leaves_nothing() {
        let mut r = Replica::new("serverWins");
        r.write("t1", LocalOp::Put(json!({"id": "t1"})));
        r.outbox.get_mut(&1).unwrap().sent = true;
        r.push(vec![MutationResult::Rejected { id: 1, code: "validation".into(), message: "no".into() }]);
        assert!(r.records.is_empty() && r.outbox.is_empty());
    }

    #[test]
    fn server_wins_conflict_takes_the_server_value_and_is_recorded() {
        let mut r = Replica::new("serverWins");
        r.pull(vec![change("t1", 3, Some(json!({"id": "t1", "a": 1})))], 3);
        r.write("t1", LocalOp::Patch(json!({"a": 2})));
        r.outbox.get_mut(&1).unwrap().sent = true;
        let tally =
            r.push(vec![MutationResult::Conflict { id: 1, server: server(5, json!({"id": "t1", "a": 9}), 9_000) }]);
        assert_eq!(tally.conflicts, 1);
        let rec = r.record("t1");
        assert_eq!((rec.value.clone(), rec.version, rec.pending), (Some(json!({"id": "t1", "a": 9})), Some(5), 0));
        assert!(r.outbox.is_empty());
        let audit = &r.audit[0];
        assert_eq!(
            (audit.kind, audit.strategy.as_str(), audit.decided_by.as_str()),
            (AuditKind::Conflict, "serverWins", "auto")
        );
        assert_eq!(audit.local, Some(json!({"id": "t1", "a": 2})));
        assert_eq!(audit.base, Some(json!({"id": "t1", "a": 1})));
        r.check_invariant();
    }

    #[test]
    fn client_wins_conflict_requeues_against_the_server_version() {
        let mut r = Replica::new("clientWins");
        r.write("t1", LocalOp::Put(json!({"id": "t1", "a": 2})));
        r.outbox.get_mut(&1).unwrap().sent = true;
        r.push(vec![MutationResult::Conflict { id: 1, server: server(5, json!({"id": "t1", "a": 9}), 9_000) }]);
        let entry = r.outbox.values().next().unwrap().clone();
        assert!(entry.id > 1, "a sent id is never reused");
        assert_eq!((entry.op, entry.value, entry.base_version), (Op::Put, json!({"id": "t1", "a": 2}), Some(5)));
        assert_eq!(r.record("t1").value, Some(json!({"id": "t1", "a": 2})));
        r.check_invariant();
    }

    #[test]
    fn last_write_wins_compares_clocks() {
        let mut r = Replica::new("lastWriteWins");
        r.write("t1", LocalOp::Put(json!({"id": "t1", "v": "mine"})));
        r.outbox.get_mut(&1).unwrap().sent = true;
        // The server's write is later than ours (our clock is at ~1 s).
        r.push(vec![MutationResult::Conflict {
            id: 1,
            server: server(5, json!({"id": "t1", "v": "theirs"}), 900_000),
        }]);
        assert_eq!(r.record("t1").value, Some(json!({"id": "t1", "v": "theirs"})));
        assert!(r.outbox.is_empty());
        // Now ours is later: the server's older write loses.
        r.now = 2_000_000;
        r.write("t1", LocalOp::Put(json!({"id": "t1", "v": "mine again"})));
        let id = *r.outbox.keys().next().unwrap();
        r.outbox.get_mut(&id).unwrap().sent = true;
        r.push(vec![MutationResult::Conflict { id, server: server(6, json!({"id": "t1", "v": "old"}), 1_000_000) }]);
        assert_eq!(r.record("t1").value, Some(json!({"id": "t1", "v": "mine again"})));
        assert_eq!(r.outbox.len(), 1);
        r.check_invariant();
    }

    #[test]
    fn results_for_entries_already_settled_are_ignored() {
        let mut r = Replica::new("serverWins");
        r.write("t1", LocalOp::Put(json!({"id": "t1"})));
        r.outbox.get_mut(&1).unwrap().sent = true;
        r.write("t1", LocalOp::Patch(json!({"x": 1})));
        r.outbox.get_mut(&2).unwrap().sent = true;
        let tally = r.push(vec![
            MutationResult::Conflict { id: 1, server: server(4, json!({"id": "t1", "s": 1}), 9_000) },
            MutationResult::Conflict { id: 2, server: server(4, json!({"id": "t1", "s": 1}), 9_000) },
        ]);
        assert_eq!(tally.conflicts, 1);
        assert_eq!(r.audit.len(), 1);
        r.check_invariant();
    }

    #[test]
    fn pull_stores_changes_and_the_checkpoint_together() {
        let mut r = Replica::new("serverWins");
        let tally = r.pull(vec![change("t1", 3, Some(json!({"id": "t1", "secret": "x"}))), change("t2", 4, None)], 4);
        assert_eq!(r.meta.checkpoint, 4);
        assert_eq!(r.record("t1").value, Some(json!({"id": "t1"})), "omitted fields are stripped from pulls too");
        let gone = r.record("t2");
        assert_eq!((gone.value, gone.version), (None, Some(4)));
        assert_eq!(tally.effects.len(), 1, "a tombstone for an unknown key changes nothing visible");
        // The same change again (or our own write coming back) is skipped.
        let again = r.pull(vec![change("t1", 3, Some(json!({"id": "t1", "other": 1})))], 4);
        assert!(again.effects.is_empty());
        assert_eq!(r.record("t1").value, Some(json!({"id": "t1"})));
        r.check_invariant();
    }

    #[test]
    fn pull_never_silently_overwrites_pending_writes() {
        let mut r = Replica::new("clientWins");
        r.pull(vec![change("t1", 3, Some(json!({"id": "t1", "a": 1})))], 3);
        r.write("t1", LocalOp::Patch(json!({"a": 2})));
        let tally = r.pull(vec![change("t1", 8, Some(json!({"id": "t1", "a": 5})))], 8);
        assert_eq!(tally.conflicts, 1);
        assert_eq!(r.audit.len(), 1);
        let rec = r.record("t1");
        assert_eq!(
            (rec.value.clone(), rec.base.clone(), rec.version),
            (Some(json!({"id": "t1", "a": 2})), Some(json!({"id": "t1", "a": 5})), Some(8))
        );
        let entry = r.outbox.values().next().unwrap();
        assert_eq!((entry.op, entry.base_version), (Op::Put, Some(8)));
        r.check_invariant();
    }

    #[test]
    fn unknown_collections_in_a_pull_are_not_stored() {
        let mut r = Replica::new("serverWins");
        let mut c = change("x", 2, Some(json!({"id": "x"})));
        c.collection = "elsewhere".into();
        let tally = r.pull(vec![c], 2);
        assert!(r.records.is_empty() && tally.effects.is_empty());
        assert_eq!(r.meta.checkpoint, 2);
    }
}
