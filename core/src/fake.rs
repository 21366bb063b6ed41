//! Test doubles for the engine: an in-memory server that follows protocol v1 exactly like
//! the reference server (versions, conflicts, the own-earlier-write rule, duplicates), with
//! injectable faults; and an observer with a settable clock.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

use crate::engine::{Observer, Phase, Transport, TransportError};
use crate::error::ErrorClass;
use crate::model::{Effect, KeyRef};
use crate::patch;
use crate::protocol::{Change, MutationResult, Op, PullResponse, PushRequest, PushResponse, ServerState};

#[derive(Debug, Clone)]
pub struct Doc {
    pub version: u64,
    pub value: Option<Value>,
    pub hlc: String,
    pub writer: (String, u64),
    /// The space the mutation named (`None`: the private one).
    pub space: Option<String>,
    /// The writer's `schemaVersion`, returned on pull.
    pub schema_version: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// No fault for this request (to reach a later one).
    Pass,
    /// The request fails before the server sees it.
    Fail(TransportError),
    /// The server applies the push, then the response is lost.
    DropResponse,
    /// The server answers with this instead (for bad-server tests).
    Answer(PushResponse),
    AnswerPull(PullResponse),
}

#[derive(Debug, Default)]
pub struct FakeServer {
    version: Cell<u64>,
    docs: RefCell<BTreeMap<KeyRef, Doc>>,
    results: RefCell<HashMap<(String, u64), MutationResult>>,
    /// How often each (client, mutation) was applied: must never exceed 1.
    pub applied: RefCell<HashMap<(String, u64), usize>>,
    faults: RefCell<VecDeque<Fault>>,
    pub pushes: Cell<usize>,
    pub max_batch: Cell<Option<usize>>,
    /// Pulls asking for more changes than this fail as an answer over the client's size
    /// limit would (large documents).
    pub max_page: Cell<Option<usize>>,
    /// The `limit` of every pull, in order.
    pub pull_limits: RefCell<Vec<usize>>,
    /// The server's clock; 0: it neither clamps stamps nor reports its time.
    pub now: Cell<u64>,
    /// Spaces this client may only read: writes there are rejected with `forbidden`.
    pub read_only: RefCell<Vec<String>>,
}

impl FakeServer {
    pub fn new() -> FakeServer {
        FakeServer::default()
    }

    pub fn fault(&self, fault: Fault) {
        self.faults.borrow_mut().push_back(fault);
    }

    pub fn doc(&self, collection: &str, key: &str) -> Option<Doc> {
        self.docs.borrow().get(&(collection.to_owned(), key.to_owned())).cloned()
    }

    pub fn live(&self) -> BTreeMap<KeyRef, Value> {
        self.docs.borrow().iter().filter_map(|(k, d)| d.value.clone().map(|v| (k.clone(), v))).collect()
    }

    /// A write by another client of schema version `schema`, straight into the server.
    pub fn external_put_at(&self, collection: &str, key: &str, value: Value, schema: Option<u32>) -> u64 {
        let version = self.external_put(collection, key, value, "001700000000000-0000-c-external");
        if let Some(doc) = self.docs.borrow_mut().get_mut(&(collection.to_owned(), key.to_owned())) {
            doc.schema_version = schema;
        }
        version
    }

    /// A write by another client, straight into the server.
    pub fn external_put(&self, collection: &str, key: &str, value: Value, hlc: &str) -> u64 {
        let version = self.version.get() + 1;
        self.version.set(version);
        self.docs.borrow_mut().insert(
            (collection.to_owned(), key.to_owned()),
            Doc {
                version,
                value: Some(value),
                hlc: hlc.to_owned(),
                writer: ("c-external".into(), version),
                space: None,
                schema_version: None,
            },
        );
        version
    }

    fn apply(&self, client: &str, m: &crate::protocol::Mutation) -> MutationResult {
        let key = (m.collection.clone(), m.key.clone());
        if m.space.as_ref().is_some_and(|s| self.read_only.borrow().contains(s)) {
            return MutationResult::Rejected { id: m.id, code: "forbidden".into(), message: "a reader".into() };
        }
        let mut docs = self.docs.borrow_mut();
        let current = docs.get(&key).cloned();
        let own_earlier = current.as_ref().is_some_and(|d| d.writer.0 == client && d.writer.1 < m.id);
        // As the server: a patch newer than a live document's schema version is a conflict.
        let older_document = m.op == Op::Patch
            && current
                .as_ref()
                .is_some_and(|d| d.value.is_some() && m.schema_version.unwrap_or(1) > d.schema_version.unwrap_or(1));
        if (current.as_ref().map(|d| d.version) != m.base_version && !own_earlier) || older_document {
            let d = current.unwrap_or(Doc {
                version: 0,
                value: None,
                hlc: String::new(),
                writer: (String::new(), 0),
                space: None,
                schema_version: None,
            });
            return MutationResult::Conflict {
                id: m.id,
                server: ServerState {
                    version: d.version,
                    value: d.value,
                    hlc: d.hlc,
                    schema_version: d.schema_version,
                },
            };
        }
        let value = match m.op {
            Op::Put => Some(m.value.clone()),
            Op::Delete => None,
            Op::Patch => match current.and_then(|d| d.value) {
                Some(mut v) => {
                    patch::apply(&mut v, &m.value);
                    Some(v)
                }
                None => {
                    return MutationResult::Rejected {
                        id: m.id,
                        code: "not-found".into(),
                        message: "no such document".into(),
                    }
                }
            },
        };
        let version = self.version.get() + 1;
        self.version.set(version);
        let hlc = match self.now.get() {
            0 => m.hlc.clone(),
            now => crate::clock::clamp_stamp(&m.hlc, now),
        };
        let (writer, space, schema_version) = ((client.to_owned(), m.id), m.space.clone(), m.schema_version);
        docs.insert(key, Doc { version, value, hlc, writer, space, schema_version });
        *self.applied.borrow_mut().entry((client.to_owned(), m.id)).or_default() += 1;
        MutationResult::Applied { id: m.id, version }
    }
}

impl FakeServer {
    /// One push, answered as the server would (or as the next fault says).
    pub fn push(&self, request: &PushRequest) -> Result<PushResponse, TransportError> {
        self.pushes.set(self.pushes.get() + 1);
        let fault = self.faults.borrow_mut().pop_front();
        let drop_response = matches!(fault, Some(Fault::DropResponse));
        match fault {
            Some(Fault::Fail(e)) => return Err(e),
            Some(Fault::Answer(r)) => return Ok(r),
            Some(other @ Fault::AnswerPull(_)) => self.faults.borrow_mut().push_front(other),
            _ => {}
        }
        if self.max_batch.get().is_some_and(|max| request.mutations.len() > max) {
            return Err(TransportError {
                status: Some(413),
                ..TransportError::new(ErrorClass::Validation, "too many")
            });
        }
        let mut results = Vec::new();
        for m in &request.mutations {
            let id = (request.client_id.clone(), m.id);
            let known = self.results.borrow().get(&id).cloned();
            let result = match known {
                Some(r) => r,
                None => {
                    let r = self.apply(&request.client_id, m);
                    self.results.borrow_mut().insert(id, r.clone());
                    r
                }
            };
            results.push(result);
        }
        if drop_response {
            return Err(TransportError::new(ErrorClass::Network, "connection reset after the server applied the push"));
        }
        let last = request.mutations.iter().map(|m| m.id).max().unwrap_or(0);
        Ok(PushResponse { results, last_mutation_id: last, server_time: self.server_time() })
    }
}

impl Transport for FakeServer {
    /// Applied when sent, as a server applies a request as it arrives, before the client
    /// reads the answer.
    type Sending = Result<PushResponse, TransportError>;

    fn send(&self, request: &PushRequest) -> Self::Sending {
        self.push(request)
    }

    async fn answer(&self, sending: Self::Sending) -> Result<PushResponse, TransportError> {
        sending
    }

    async fn pull(
        &self,
        checkpoint: u64,
        limit: usize,
        collections: &[String],
    ) -> Result<PullResponse, TransportError> {
        let fault = self.faults.borrow_mut().pop_front();
        match fault {
            Some(Fault::Fail(e)) => return Err(e),
            Some(Fault::AnswerPull(p)) => return Ok(p),
            Some(other) => self.faults.borrow_mut().push_front(other),
            None => {}
        }
        self.pull_limits.borrow_mut().push(limit);
        if self.max_page.get().is_some_and(|max| limit > max) {
            return Err(TransportError { too_large: true, ..TransportError::new(ErrorClass::Protocol, "too large") });
        }
        let mut changes: Vec<Change> = self
            .docs
            .borrow()
            .iter()
            .filter(|(k, d)| d.version > checkpoint && collections.contains(&k.0))
            .map(|(k, d)| Change {
                collection: k.0.clone(),
                key: k.1.clone(),
                version: d.version,
                value: d.value.clone(),
                hlc: d.hlc.clone(),
                space: d.space.clone(),
                schema_version: d.schema_version,
            })
            .collect();
        changes.sort_by_key(|c| c.version);
        let has_more = changes.len() > limit;
        changes.truncate(limit);
        let checkpoint = changes.last().map_or(checkpoint, |c| c.version);
        Ok(PullResponse { changes, checkpoint, has_more, server_time: self.server_time(), revoked: vec![] })
    }
}

impl FakeServer {
    fn server_time(&self) -> Option<u64> {
        Some(self.now.get()).filter(|now| *now > 0)
    }
}

/// Records effects and progress; its clock moves only when told.
#[derive(Debug, Default)]
pub struct Recorder {
    pub now: Cell<u64>,
    pub effects: RefCell<Vec<Effect>>,
    pub progress: RefCell<Vec<(Phase, usize)>>,
}

impl Observer for Recorder {
    fn effects(&self, effects: &[Effect]) {
        self.effects.borrow_mut().extend_from_slice(effects);
    }

    fn progress(&self, phase: Phase, done: usize, _total: Option<usize>) {
        self.progress.borrow_mut().push((phase, done));
    }

    fn now_ms(&self) -> u64 {
        self.now.get()
    }
}
