//! The push algorithm, written once over [`Tx`] (one open transaction of either backend).
//!
//! Rules (ARCHITECTURE.md, "Wire protocol v1"):
//! - a `clientId` belongs to the first user who pushes with it (claimed first: an owner
//!   never changes, so this needs no order);
//! - then the version counter row is locked, so pushes are serialised across processes
//!   until commit and commit order equals version order (a pull can never skip a version
//!   that commits later: RxDB #7259); every read that decides the push comes after it;
//! - each (clientId, mutation id) is applied at most once: its result is stored in the
//!   same transaction, and a re-sent id is answered with the stored result;
//! - a mutation applies iff its `baseVersion` is the key's current version (null or 0: the
//!   key never existed), or the key was last written by this client with a lower mutation
//!   id (the client built this mutation on top of its own earlier one);
//! - validation failures are recorded and answered `rejected`;
//! - a mutation names its space (absent: the caller's private space); one into a space
//!   where the caller is not writer or owner (roles read after the counter lock, so a
//!   concurrent membership change is either wholly before or after) is recorded and
//!   answered `rejected` with code `forbidden`;
//! - each applied change queues one webhook event per configured URL in the same
//!   transaction: an event exists iff its change committed.
//!
//! The lock is held across every round trip to the database, so the batch is read and
//! written in a fixed number of statements (ARCHITECTURE.md, "Push under load"): the
//! stored results, roles and documents of all its mutations in three reads, decisions in
//! memory (a key written earlier in the batch is seen as written), versions counted from
//! the locked value, and the writes in three multi-row inserts and one counter update.

use pwa_sync_core::clock::clamp_stamp;
use pwa_sync_core::patch;
use std::collections::{BTreeSet, HashMap};

use pwa_sync_core::protocol::{
    is_valid_space_id, private_space, Change, Mutation, MutationResult, Op, PushRequest, PushResponse, Role,
    ServerState, FORBIDDEN,
};
use serde_json::Value;

use super::access::parse_role;
use super::{now_ms, Failure, PushOutcome};
use crate::config::Limits;
use crate::webhook;

/// Longest collection name, key or HLC stamp, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// A document as stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DocRow {
    pub version: i64,
    /// JSON text; `None` for a tombstone.
    pub value: Option<String>,
    pub hlc: String,
    pub writer_client: String,
    pub writer_mutation: i64,
    /// The `schemaVersion` its last writer sent.
    pub schema_version: Option<i64>,
}

/// (space, collection, key).
pub(crate) type DocKey = (String, String, String);

pub(crate) struct DocWrite<'a> {
    pub space: &'a str,
    pub collection: &'a str,
    pub key: &'a str,
    pub version: i64,
    pub value: Option<&'a str>,
    pub hlc: &'a str,
    pub client_id: &'a str,
    pub mutation_id: i64,
    pub now: i64,
    /// The writer's `schemaVersion`; `None`: it sent none.
    pub schema_version: Option<i64>,
}

pub(crate) struct ResultWrite<'a> {
    pub client_id: &'a str,
    pub mutation_id: i64,
    pub user: &'a str,
    pub status: &'static str,
    pub result: &'a str,
    pub version: Option<i64>,
    pub now: i64,
}

pub(crate) struct WebhookWrite<'a> {
    pub url: &'a str,
    pub body: &'a str,
    pub user: &'a str,
    pub version: i64,
    pub now: i64,
}

/// The statements the algorithm needs, on one open transaction.
pub(crate) trait Tx: Send {
    /// Lock the counter row until commit; returns its value.
    async fn lock_counter(&mut self) -> Result<i64, sqlx::Error>;
    /// `UPDATE counter SET v = v + 1 … RETURNING v`.
    async fn next_version(&mut self) -> Result<i64, sqlx::Error>;
    /// `UPDATE counter SET v = $1` (the lock is held already).
    async fn set_counter(&mut self, v: i64) -> Result<(), sqlx::Error>;
    /// Record each `(client_id, user)`'s user as the client's owner unless it has one
    /// (distinct clients, sorted); returns `(client_id, owner)` of each.
    async fn claim_clients(&mut self, claims: &[(&str, &str)], now: i64) -> Result<Vec<(String, String)>, sqlx::Error>;
    /// `(client_id, mutation_id, Some(result))` stored for each client among its ids, and
    /// `(client_id, highest mutation id, None)` of each client with any.
    async fn stored_results(
        &mut self,
        asked: &[(&str, Vec<i64>)],
    ) -> Result<Vec<(String, i64, Option<String>)>, sqlx::Error>;
    /// Store several results (distinct ids).
    async fn record_results(&mut self, writes: &[ResultWrite<'_>]) -> Result<(), sqlx::Error>;
    /// One stored document: the batched read of one key (one statement and row decoding
    /// for both).
    async fn document(&mut self, space: &str, collection: &str, key: &str) -> Result<Option<DocRow>, sqlx::Error> {
        let key: DocKey = (space.to_owned(), collection.to_owned(), key.to_owned());
        Ok(self.documents(std::slice::from_ref(&key)).await?.into_iter().next().map(|(_, row)| row))
    }
    /// The stored documents among `keys` (space, collection, key).
    async fn documents(&mut self, keys: &[DocKey]) -> Result<Vec<(DocKey, DocRow)>, sqlx::Error>;
    /// Write one document: the batched write of one row.
    async fn write_document(&mut self, write: &DocWrite<'_>) -> Result<(), sqlx::Error> {
        self.write_documents(std::slice::from_ref(write)).await
    }
    /// Write several documents (distinct keys).
    async fn write_documents(&mut self, writes: &[DocWrite<'_>]) -> Result<(), sqlx::Error>;
    /// Queue one webhook event (due at once).
    async fn enqueue_webhook(&mut self, write: &WebhookWrite<'_>) -> Result<(), sqlx::Error>;
    /// Queue several webhook events, ids in the order given.
    async fn enqueue_webhooks(&mut self, writes: &[WebhookWrite<'_>]) -> Result<(), sqlx::Error>;
    /// Live grants `(user, space, role)` of each user in its spaces, one per source, as stored.
    async fn roles_in_spaces(
        &mut self,
        asked: &[(&str, Vec<&str>)],
    ) -> Result<Vec<(String, String, String)>, sqlx::Error>;
    /// Grant `role` (see `sql::GRANT`) at counter `version`.
    async fn grant(&mut self, g: &GrantWrite<'_>) -> Result<(), sqlx::Error>;
    /// Remove a grant at counter `version`; whether there was a live one.
    async fn revoke(&mut self, space: &str, user: &str, source: &str, version: i64) -> Result<bool, sqlx::Error>;
    /// Whether a grant (live or removed) or a document names `space`.
    async fn space_in_use(&mut self, space: &str) -> Result<bool, sqlx::Error>;
    /// `user`'s grants of `source`, removed ones (role `None`) included.
    async fn grants_by_source(
        &mut self,
        user: &str,
        source: &str,
    ) -> Result<Vec<(String, Option<String>)>, sqlx::Error>;
}

pub(crate) struct GrantWrite<'a> {
    pub space: &'a str,
    pub user: &'a str,
    pub source: &'a str,
    pub role: &'a str,
    pub version: i64,
}

/// A result decided in a group: the result, its version if applied, its JSON text, and
/// the index of its push.
type Recorded = (MutationResult, Option<i64>, String, usize);

/// One push of a group: who pushes what.
pub(crate) struct Job<'a> {
    pub user: &'a str,
    pub request: &'a PushRequest,
    pub limits: Limits,
    /// Each applied change queues one event per URL.
    pub webhooks: &'a [String],
}

/// Apply several pushes in one transaction, in order, each exactly as if it ran alone
/// after the ones before it (a later push sees what an earlier one wrote). One whose
/// clientId belongs to another user is answered [`Failure::Forbidden`] and writes
/// nothing; any other failure fails the group (the caller rolls back). The caller commits
/// on `Ok`. Every request was checked by [`check_request`] first.
pub(crate) async fn run_group<T: Tx>(
    tx: &mut T,
    jobs: &[Job<'_>],
) -> Result<Vec<Result<PushOutcome, Failure>>, Failure> {
    let now = now_ms();
    // Clients first (an owner never changes, so this needs no order), each claimed for
    // the user of its first push, sorted so two groups cannot deadlock.
    let mut claims: Vec<(&str, &str)> = Vec::new();
    for job in jobs {
        let client = job.request.client_id.as_str();
        if !claims.iter().any(|(c, _)| *c == client) {
            claims.push((client, job.user));
        }
    }
    claims.sort_unstable();
    let owners: HashMap<String, String> = tx.claim_clients(&claims, now).await?.into_iter().collect();
    let allowed: Vec<bool> =
        jobs.iter().map(|j| owners.get(j.request.client_id.as_str()).is_some_and(|owner| owner == j.user)).collect();

    let base = tx.lock_counter().await?;
    // Everything the decisions read, in three statements after the lock.
    let privates: Vec<String> = jobs.iter().map(|j| private_space(j.user)).collect();
    let space_of = |i: usize, m: &'_ Mutation| -> String { m.space.clone().unwrap_or_else(|| privates[i].clone()) };
    let mut asked_ids: Vec<(&str, Vec<i64>)> = Vec::new();
    let mut asked_spaces: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut keys: Vec<DocKey> = Vec::new();
    for (i, job) in jobs.iter().enumerate().filter(|(i, _)| allowed[*i]) {
        let client = job.request.client_id.as_str();
        let ids = job.request.mutations.iter().map(|m| to_i64(m.id)).collect::<Result<Vec<i64>, Failure>>()?;
        match asked_ids.iter_mut().find(|(c, _)| *c == client) {
            Some((_, list)) => list.extend(ids),
            None => asked_ids.push((client, ids)),
        }
        let spaces: Vec<&str> =
            job.request.mutations.iter().filter_map(|m| m.space.as_deref()).filter(|s| *s != privates[i]).collect();
        match asked_spaces.iter_mut().find(|(u, _)| *u == job.user) {
            Some((_, list)) => list.extend(spaces),
            None => asked_spaces.push((job.user, spaces)),
        }
        // Only valid mutations read their document (PostgreSQL cannot even compare a key
        // holding NUL).
        keys.extend(
            job.request
                .mutations
                .iter()
                .filter(|m| validate(m, job.limits).is_ok())
                .map(|m| (space_of(i, m), m.collection.clone(), m.key.clone())),
        );
    }
    for (_, list) in &mut asked_spaces {
        list.sort_unstable();
        list.dedup();
    }
    asked_spaces.retain(|(_, list)| !list.is_empty());
    keys.sort_unstable();
    keys.dedup();
    // Results stored before this group, and each client's highest mutation id.
    let mut stored: HashMap<(String, i64), String> = HashMap::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    for (client, id, text) in tx.stored_results(&asked_ids).await? {
        let top = last.entry(client.clone()).or_insert(id);
        *top = (*top).max(id);
        if let Some(text) = text {
            stored.insert((client, id), text);
        }
    }
    let mut roles: HashMap<(String, String), Role> = HashMap::new();
    for (user, space, text) in tx.roles_in_spaces(&asked_spaces).await? {
        let role = parse_role(&text).map_err(Failure::Corrupt)?;
        let best = roles.entry((user, space)).or_insert(role);
        *best = (*best).max(role);
    }
    let mut docs: HashMap<DocKey, DocRow> = tx.documents(&keys).await?.into_iter().collect();

    // Decisions, in memory and in order: results recorded by an earlier mutation of the
    // group answer a repeated id, and documents written earlier are current.
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut recorded: HashMap<(String, i64), Recorded> = HashMap::new();
    let mut order: Vec<(String, i64)> = Vec::new();
    // The last write of each key in this group (one statement may not update a row twice).
    let mut written: BTreeSet<DocKey> = BTreeSet::new();
    let mut events: Vec<(i64, String, usize)> = Vec::new();
    let mut version = base;
    for (i, job) in jobs.iter().enumerate() {
        if !allowed[i] {
            outcomes.push(Err(Failure::Forbidden));
            continue;
        }
        let (user, client_id, limits) = (job.user, job.request.client_id.as_str(), job.limits);
        let mut results = Vec::with_capacity(job.request.mutations.len());
        let mut applied = Vec::new();
        for m in &job.request.mutations {
            let id = to_i64(m.id)?;
            let at = (client_id.to_owned(), id);
            if let Some(text) = stored.get(&at) {
                let result = serde_json::from_str::<MutationResult>(text)
                    .map_err(|e| Failure::Corrupt(format!("stored result of {client_id}/{id}: {e}")))?;
                results.push(result);
                continue;
            }
            if let Some((result, _, _, _)) = recorded.get(&at) {
                results.push(result.clone());
                continue;
            }
            let space = space_of(i, m);
            let role = if space == privates[i] {
                Some(Role::Owner)
            } else {
                roles.get(&(user.to_owned(), space.clone())).copied()
            };
            let key: DocKey = (space.clone(), m.collection.clone(), m.key.clone());
            let decision = match validate(m, limits) {
                Err(message) => Decision::Reject { code: "validation", message },
                Ok(()) if !role.is_some_and(Role::can_write) => {
                    Decision::Reject { code: FORBIDDEN, message: format!("{user} may not write to space {space}") }
                }
                Ok(()) => decide(m, client_id, docs.get(&key), limits)?,
            };
            let (result, stored_version) = match decision {
                Decision::Apply(value) => {
                    version += 1;
                    // A stamp from a clock running ahead is pulled back to ours (plus the
                    // drift HLC allows), so such a device cannot win every later
                    // lastWriteWins comparison.
                    let hlc = clamp_stamp(&m.hlc, u64::try_from(now).unwrap_or(0));
                    let text = value.as_ref().map(Value::to_string);
                    docs.insert(
                        key.clone(),
                        DocRow {
                            version,
                            value: text,
                            hlc: hlc.clone(),
                            writer_client: client_id.to_owned(),
                            writer_mutation: id,
                            schema_version: m.schema_version.map(i64::from),
                        },
                    );
                    written.insert(key);
                    let version_u = to_u64(version)?;
                    let change = Change {
                        collection: m.collection.clone(),
                        key: m.key.clone(),
                        version: version_u,
                        value,
                        hlc,
                        space: Some(space),
                        schema_version: m.schema_version,
                    };
                    if !job.webhooks.is_empty() {
                        events.push((version, webhook::event_body(Some(user), &change, now), i));
                    }
                    applied.push(change);
                    (MutationResult::Applied { id: m.id, version: version_u }, Some(version))
                }
                Decision::Conflict(server) => (MutationResult::Conflict { id: m.id, server }, None),
                Decision::Reject { code, message } => {
                    (MutationResult::Rejected { id: m.id, code: code.to_owned(), message }, None)
                }
            };
            let text = serde_json::to_string(&result).map_err(|e| Failure::Corrupt(e.to_string()))?;
            results.push(result.clone());
            recorded.insert(at.clone(), (result, stored_version, text, i));
            order.push(at);
            let top = last.entry(client_id.to_owned()).or_insert(id);
            *top = (*top).max(id);
        }
        let last_id = last.get(client_id).copied().unwrap_or(0);
        outcomes.push(Ok(PushOutcome {
            response: PushResponse {
                results,
                last_mutation_id: to_u64(last_id)?,
                server_time: u64::try_from(now_ms()).ok(),
            },
            applied,
        }));
    }

    // The writes: documents, results, events, and the counter.
    let doc_writes: Vec<DocWrite<'_>> = written
        .iter()
        .filter_map(|key| docs.get(key).map(|doc| (key, doc)))
        .map(|((space, collection, key), doc)| DocWrite {
            space,
            collection,
            key,
            version: doc.version,
            value: doc.value.as_deref(),
            hlc: &doc.hlc,
            client_id: &doc.writer_client,
            mutation_id: doc.writer_mutation,
            now,
            schema_version: doc.schema_version,
        })
        .collect();
    tx.write_documents(&doc_writes).await?;
    let result_writes: Vec<ResultWrite<'_>> = order
        .iter()
        .filter_map(|at| recorded.get(at).map(|r| (at, r)))
        .map(|((client_id, id), (result, version, text, i))| ResultWrite {
            client_id,
            mutation_id: *id,
            user: jobs[*i].user,
            status: status_of(result),
            result: text,
            version: *version,
            now,
        })
        .collect();
    tx.record_results(&result_writes).await?;
    let event_writes: Vec<WebhookWrite<'_>> = events
        .iter()
        .flat_map(|(version, body, i)| {
            jobs[*i].webhooks.iter().map(move |url| WebhookWrite {
                url,
                body,
                user: jobs[*i].user,
                version: *version,
                now,
            })
        })
        .collect();
    tx.enqueue_webhooks(&event_writes).await?;
    if version > base {
        tx.set_counter(version).await?;
    }
    Ok(outcomes)
}

/// Checks on the request as a whole: a failure is a 400 for the whole request, since
/// nothing of it could be recorded.
pub fn check_request(request: &PushRequest) -> Result<(), String> {
    let client = &request.client_id;
    if client.is_empty() || client.len() > MAX_NAME_LEN || client.chars().any(char::is_control) {
        return Err(format!("clientId must be 1 to {MAX_NAME_LEN} bytes without control characters"));
    }
    if let Some(m) = request.mutations.iter().find(|m| i64::try_from(m.id).is_err()) {
        return Err(format!("mutation id {} is out of range (at most {})", m.id, i64::MAX));
    }
    // Nothing could be recorded for an id no space can have (nor stored in PostgreSQL).
    if let Some(space) = request.mutations.iter().filter_map(|m| m.space.as_deref()).find(|s| !is_valid_space_id(s)) {
        return Err(format!("space {space:?} is not 1 to 128 characters of [A-Za-z0-9_.:-]"));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// Write this value (`None`: a tombstone).
    Apply(Option<Value>),
    Conflict(ServerState),
    Reject {
        code: &'static str,
        message: String,
    },
}

/// Checks on one mutation that need no stored state.
pub(crate) fn validate(m: &Mutation, limits: Limits) -> Result<(), String> {
    for (what, text) in [("collection", &m.collection), ("key", &m.key)] {
        if text.is_empty() {
            return Err(format!("{what} must not be empty"));
        }
        if text.len() > MAX_NAME_LEN {
            return Err(format!("{what} is longer than {MAX_NAME_LEN} bytes"));
        }
    }
    if m.hlc.len() > MAX_NAME_LEN {
        return Err(format!("hlc is longer than {MAX_NAME_LEN} bytes"));
    }
    // PostgreSQL cannot store NUL in text: without this a key with one would fail the
    // whole push with a 500, which the client retries forever.
    for (what, text) in [("collection", &m.collection), ("key", &m.key), ("hlc", &m.hlc)] {
        if text.chars().any(char::is_control) {
            return Err(format!("{what} must not contain control characters"));
        }
    }
    match m.op {
        Op::Put | Op::Patch if !m.value.is_object() => {
            Err(format!("{} needs a JSON object as its value", op_name(m.op)))
        }
        Op::Put | Op::Patch => check_size(&m.value, limits),
        Op::Delete => Ok(()),
    }
}

pub(crate) fn check_size(value: &Value, limits: Limits) -> Result<(), String> {
    let size = serde_json::to_string(value).map(|s| s.len()).unwrap_or(usize::MAX);
    if size > limits.max_value_bytes {
        return Err(format!("value is {size} bytes, more than the limit of {}", limits.max_value_bytes));
    }
    Ok(())
}

/// What to do with a valid mutation given the key's current document.
pub(crate) fn decide(
    m: &Mutation,
    client_id: &str,
    current: Option<&DocRow>,
    limits: Limits,
) -> Result<Decision, Failure> {
    let Some(doc) = current else {
        if m.op == Op::Patch {
            return Ok(not_found(m));
        }
        return Ok(match m.base_version {
            None | Some(0) => Decision::Apply(new_value(m)),
            // The client saw a version of a key this user never had here: nothing to apply
            // on. Version 0 means "absent"; a later mutation with baseVersion 0 applies.
            Some(_) => {
                Decision::Conflict(ServerState { version: 0, value: None, hlc: String::new(), schema_version: None })
            }
        });
    };
    let base_matches = m.base_version.and_then(|b| i64::try_from(b).ok()) == Some(doc.version);
    let own_earlier = doc.writer_client == client_id && to_i64(m.id).is_ok_and(|id| doc.writer_mutation < id);
    let current_value = match &doc.value {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<Value>(text)
                .map_err(|e| Failure::Corrupt(format!("stored document {}/{}: {e}", m.collection, m.key)))?,
        ),
    };
    // A patch written at a newer schema version than the document's is merged into a
    // value of the older shape, which the result would then be labelled past: nobody would
    // migrate it again. The writer is sent the document (which it migrates) instead, and
    // answers with a whole value of its own shape.
    // (No version: version 1.)
    let older_document = m.op == Op::Patch
        && doc.value.is_some()
        && i64::from(m.schema_version.unwrap_or(1)) > doc.schema_version.unwrap_or(1);
    if !(base_matches || own_earlier) || older_document {
        return Ok(Decision::Conflict(ServerState {
            version: to_u64(doc.version)?,
            value: current_value,
            hlc: doc.hlc.clone(),
            schema_version: doc.schema_version.and_then(|v| u32::try_from(v).ok()),
        }));
    }
    Ok(match m.op {
        Op::Put | Op::Delete => Decision::Apply(new_value(m)),
        Op::Patch => match current_value {
            None => not_found(m),
            Some(mut value) => {
                patch::apply(&mut value, &m.value);
                match check_size(&value, limits) {
                    Ok(()) => Decision::Apply(Some(value)),
                    Err(message) => Decision::Reject { code: "validation", message },
                }
            }
        },
    })
}

fn new_value(m: &Mutation) -> Option<Value> {
    match m.op {
        Op::Delete => None,
        Op::Put | Op::Patch => Some(m.value.clone()),
    }
}

fn not_found(m: &Mutation) -> Decision {
    Decision::Reject {
        code: "not-found",
        message: format!("patch of {}/{}, which does not exist or was deleted", m.collection, m.key),
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Put => "put",
        Op::Patch => "patch",
        Op::Delete => "delete",
    }
}

fn status_of(result: &MutationResult) -> &'static str {
    match result {
        MutationResult::Applied { .. } => "applied",
        MutationResult::Conflict { .. } => "conflict",
        MutationResult::Rejected { .. } => "rejected",
    }
}

pub(crate) fn to_i64(v: u64) -> Result<i64, Failure> {
    i64::try_from(v).map_err(|_| Failure::Corrupt(format!("{v} is out of range")))
}

pub(crate) fn to_u64(v: i64) -> Result<u64, Failure> {
    u64::try_from(v).map_err(|_| Failure::Corrupt(format!("negative number {v} in storage")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mutation(id: u64, op: Op, value: Value, base: Option<u64>) -> Mutation {
        Mutation {
            id,
            collection: "c".into(),
            key: "k".into(),
            op,
            value,
            base_version: base,
            hlc: "h".into(),
            schema_version: None,
            space: None,
        }
    }

    fn doc(version: i64, value: Option<Value>, client: &str, mutation_id: i64) -> DocRow {
        DocRow {
            version,
            value: value.map(|v| v.to_string()),
            hlc: "hs".into(),
            writer_client: client.into(),
            writer_mutation: mutation_id,
            schema_version: None,
        }
    }

    fn decide_ok(m: &Mutation, current: Option<&DocRow>) -> Decision {
        match decide(m, "c1", current, Limits::default()) {
            Ok(d) => d,
            Err(e) => panic!("decide failed: {e:?}"),
        }
    }

    #[test]
    fn base_version_must_match_unless_the_client_wrote_the_key_last() {
        let other = doc(5, Some(json!({"a": 1})), "c2", 9);
        let put = mutation(3, Op::Put, json!({"a": 2}), Some(4));
        assert!(matches!(decide_ok(&put, Some(&other)), Decision::Conflict(ServerState { version: 5, .. })));
        let put = mutation(3, Op::Put, json!({"a": 2}), Some(5));
        assert_eq!(decide_ok(&put, Some(&other)), Decision::Apply(Some(json!({"a": 2}))));
        let own = doc(5, Some(json!({"a": 1})), "c1", 2);
        let put = mutation(3, Op::Put, json!({"a": 2}), None);
        assert_eq!(decide_ok(&put, Some(&own)), Decision::Apply(Some(json!({"a": 2}))));
        // The client's own *later* mutation does not count.
        let own_later = doc(5, Some(json!({"a": 1})), "c1", 7);
        assert!(matches!(decide_ok(&put, Some(&own_later)), Decision::Conflict(_)));
    }

    #[test]
    fn patch_merges_and_needs_a_live_document() {
        let live = doc(5, Some(json!({"a": 1, "b": {"c": 1}})), "c2", 1);
        let p = mutation(1, Op::Patch, json!({"b": {"c": null, "d": 2}}), Some(5));
        assert_eq!(decide_ok(&p, Some(&live)), Decision::Apply(Some(json!({"a": 1, "b": {"d": 2}}))));
        assert!(matches!(decide_ok(&p, None), Decision::Reject { code: "not-found", .. }));
        let tomb = doc(6, None, "c2", 2);
        let p = mutation(1, Op::Patch, json!({"x": 1}), Some(6));
        assert!(matches!(decide_ok(&p, Some(&tomb)), Decision::Reject { code: "not-found", .. }));
        let stale = mutation(1, Op::Patch, json!({"x": 1}), Some(5));
        assert!(matches!(decide_ok(&stale, Some(&tomb)), Decision::Conflict(ServerState { value: None, .. })));
    }

    #[test]
    fn a_patch_of_a_newer_schema_version_than_the_document_is_a_conflict() {
        let v1 = doc(5, Some(json!({"id": "t1", "name": "Rome"})), "c2", 1);
        let mut p = mutation(1, Op::Patch, json!({"title": "Roma"}), Some(5));
        p.schema_version = Some(3);
        // Merged, the older shape would be labelled 3, and no reader would migrate it.
        assert!(matches!(
            decide_ok(&p, Some(&v1)),
            Decision::Conflict(ServerState { version: 5, schema_version: None, .. })
        ));
        let v3 = DocRow { schema_version: Some(3), ..doc(5, Some(json!({"id": "t1", "title": "Rome"})), "c2", 1) };
        assert_eq!(decide_ok(&p, Some(&v3)), Decision::Apply(Some(json!({"id": "t1", "title": "Roma"}))));
        // An older app's patch of a newer document, or a whole value, applies as before.
        let mut old = mutation(2, Op::Patch, json!({"name": "Roma"}), Some(5));
        old.schema_version = None;
        assert!(matches!(decide_ok(&old, Some(&v3)), Decision::Apply(_)));
        let mut put = mutation(3, Op::Put, json!({"id": "t1", "title": "Roma"}), Some(5));
        put.schema_version = Some(3);
        assert!(matches!(decide_ok(&put, Some(&v1)), Decision::Apply(_)));
    }

    #[test]
    fn delete_writes_a_tombstone_and_put_recreates() {
        let live = doc(5, Some(json!({"a": 1})), "c2", 1);
        assert_eq!(decide_ok(&mutation(1, Op::Delete, Value::Null, Some(5)), Some(&live)), Decision::Apply(None));
        let tomb = doc(6, None, "c2", 2);
        let put = mutation(2, Op::Put, json!({"a": 3}), Some(6));
        assert_eq!(decide_ok(&put, Some(&tomb)), Decision::Apply(Some(json!({"a": 3}))));
    }

    #[test]
    fn validation_catches_bad_names_and_values() {
        let limits = Limits { max_value_bytes: 20, ..Limits::default() };
        assert!(validate(&mutation(1, Op::Put, json!([1]), None), limits).is_err());
        assert!(validate(&mutation(1, Op::Patch, json!("x"), None), limits).is_err());
        assert!(validate(&mutation(1, Op::Put, json!({"a": "0123456789012345678"}), None), limits).is_err());
        assert!(validate(&mutation(1, Op::Delete, Value::Null, None), limits).is_ok());
        let mut m = mutation(1, Op::Put, json!({}), None);
        m.key = String::new();
        assert!(validate(&m, limits).is_err());
        m.key = "k".repeat(MAX_NAME_LEN + 1);
        assert!(validate(&m, limits).is_err());
        for bad in ["a\u{0}b", "tab\there", "line\n", "\u{7f}", "\u{85}"] {
            let mut m = mutation(1, Op::Put, json!({}), None);
            m.key = bad.into();
            assert!(validate(&m, limits).is_err(), "key {bad:?}");
            let mut m = mutation(1, Op::Put, json!({}), None);
            m.collection = bad.into();
            assert!(validate(&m, limits).is_err(), "collection {bad:?}");
            let mut m = mutation(1, Op::Delete, Value::Null, None);
            m.hlc = bad.into();
            assert!(validate(&m, limits).is_err(), "hlc {bad:?}");
        }
        let mut m = mutation(1, Op::Put, json!({"text": "values may hold \u{0} and \n"}), None);
        m.key = "ünïcødé 日本 ,%_'".into();
        assert!(validate(&m, Limits::default()).is_ok());
    }
}
