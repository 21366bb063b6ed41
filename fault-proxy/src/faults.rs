//! The fault model: what can be injected, the scripted rule queue, the seeded random
//! source, and the counters the control API reports.

use std::collections::VecDeque;

use hyper::StatusCode;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Every fault kind, in the order the counters list them.
pub const KINDS: [&str; 8] =
    ["drop_request", "drop_response", "status", "rate_limit", "delay", "duplicate", "cut_body", "replace_body"];

/// The kinds random (`rate`) injection picks from by default: every kind a healthy
/// network or server can produce. `replace_body` is for scripted bad-server tests only.
pub const RANDOM_KINDS: [&str; 7] =
    ["drop_request", "drop_response", "status", "rate_limit", "delay", "duplicate", "cut_body"];

/// Largest body `replace_body` may produce (`body` length times `repeat`).
pub const MAX_REPLACEMENT_BYTES: u64 = 1 << 30;
/// Longest scripted delay.
pub const MAX_DELAY_MS: u64 = 600_000;
/// Range of the delay a random `delay` fault waits, in milliseconds.
pub const RANDOM_DELAY_MS: (u64, u64) = (50, 500);
/// How many injected faults `GET /_faults` remembers in `log`.
pub const LOG_CAPACITY: usize = 1000;

/// One fault, as written in JSON: `{"kind": "...", ...params}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Never forward; close the connection without answering.
    DropRequest,
    /// Forward, read the upstream's whole answer, then close without answering.
    DropResponse,
    /// Answer with this status without forwarding.
    #[serde(rename_all = "camelCase")]
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u64>,
    },
    /// Answer 429 with `Retry-After` without forwarding.
    #[serde(rename_all = "camelCase")]
    RateLimit {
        #[serde(default = "one")]
        retry_after_seconds: u64,
    },
    /// Wait, then forward normally.
    Delay { ms: u64 },
    /// Forward twice (sequentially) and answer with the second response.
    Duplicate,
    /// Forward, send the headers and the first half of the body, then close.
    CutBody,
    /// Forward (the upstream applies it), then answer with this instead.
    #[serde(rename_all = "camelCase")]
    ReplaceBody {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repeat: Option<u64>,
    },
}

fn one() -> u64 {
    1
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::DropRequest => "drop_request",
            Fault::DropResponse => "drop_response",
            Fault::Status { .. } => "status",
            Fault::RateLimit { .. } => "rate_limit",
            Fault::Delay { .. } => "delay",
            Fault::Duplicate => "duplicate",
            Fault::CutBody => "cut_body",
            Fault::ReplaceBody { .. } => "replace_body",
        }
    }

    fn index(&self) -> usize {
        let kind = self.kind();
        KINDS.iter().position(|k| *k == kind).unwrap_or(0)
    }

    pub fn validate(&self) -> Result<(), String> {
        let valid_status = |s: u16| StatusCode::from_u16(s).is_ok();
        match self {
            Fault::Status { status, .. } if !valid_status(*status) => {
                Err(format!("status {status} is not a valid HTTP status"))
            }
            Fault::ReplaceBody { status: Some(status), .. } if !valid_status(*status) => {
                Err(format!("status {status} is not a valid HTTP status"))
            }
            Fault::ReplaceBody { body, repeat, .. } => {
                let total = (body.len() as u64).saturating_mul(repeat.unwrap_or(1));
                if total > MAX_REPLACEMENT_BYTES {
                    Err(format!("replace_body would be {total} bytes; the limit is {MAX_REPLACEMENT_BYTES}"))
                } else {
                    Ok(())
                }
            }
            Fault::Delay { ms } if *ms > MAX_DELAY_MS => {
                Err(format!("delay {ms} ms is longer than the limit of {MAX_DELAY_MS} ms"))
            }
            _ => Ok(()),
        }
    }
}

/// A scripted rule: the next `times` requests matching `path` (and `method`) get `fault`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Exact path, or a prefix when it ends with `*`; absent: every path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Case-insensitive; absent: every method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub fault: Fault,
    /// How many matching requests it applies to; while queued, how many remain.
    #[serde(default = "one")]
    pub times: u64,
}

impl Rule {
    fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method));
        let path_ok = match self.path.as_deref() {
            None => true,
            Some(p) => match p.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => p == path,
            },
        };
        method_ok && path_ok
    }
}

/// Body of `POST /_faults`. Absent `rules` means none; absent `rate`, `seed`, `kinds`
/// and `paths` keep their current values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Update {
    #[serde(default)]
    pub rules: Vec<Rule>,
    pub rate: Option<f64>,
    pub seed: Option<u64>,
    /// Kinds random injection chooses from (default: all but `replace_body`).
    pub kinds: Option<Vec<String>>,
    /// Path prefixes random injection applies to (`[]` or absent at start: all paths).
    pub paths: Option<Vec<String>>,
}

pub fn validate_rate(rate: f64) -> Result<(), String> {
    if rate.is_finite() && (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(format!("rate must be between 0.0 and 1.0, got {rate}"))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    /// 1-based number of the proxied request (control API and preflights not counted).
    pub request: u64,
    pub method: String,
    pub path: String,
    pub kind: &'static str,
    /// `"rule"` or `"random"`.
    pub source: &'static str,
}

/// Everything the control API changes and reports.
pub struct FaultState {
    rules: VecDeque<Rule>,
    rate: f64,
    seed: u64,
    rng: ChaCha8Rng,
    kinds: Vec<&'static str>,
    paths: Vec<String>,
    injected: [u64; KINDS.len()],
    forwarded: u64,
    requests: u64,
    log: VecDeque<LogEntry>,
}

impl FaultState {
    pub fn new(seed: u64, rate: f64) -> FaultState {
        FaultState {
            rules: VecDeque::new(),
            rate,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            kinds: RANDOM_KINDS.to_vec(),
            paths: Vec::new(),
            injected: [0; KINDS.len()],
            forwarded: 0,
            requests: 0,
            log: VecDeque::new(),
        }
    }

    /// Checks an update completely before anything changes.
    pub fn apply(&mut self, update: Update) -> Result<(), String> {
        for (i, rule) in update.rules.iter().enumerate() {
            rule.fault.validate().map_err(|e| format!("rules[{i}]: {e}"))?;
            if rule.times == 0 {
                return Err(format!("rules[{i}]: times must be at least 1"));
            }
        }
        if let Some(rate) = update.rate {
            validate_rate(rate)?;
        }
        let kinds = match &update.kinds {
            None => None,
            Some(names) => {
                let mut kinds = Vec::new();
                for name in names {
                    match RANDOM_KINDS.iter().find(|k| *k == name) {
                        Some(k) => kinds.push(*k),
                        None => {
                            return Err(format!(
                                "kinds: {name:?} cannot be injected at random; use one of {RANDOM_KINDS:?}"
                            ))
                        }
                    }
                }
                Some(kinds)
            }
        };
        self.rules = update.rules.into();
        if let Some(rate) = update.rate {
            self.rate = rate;
        }
        if let Some(seed) = update.seed {
            self.seed = seed;
            self.rng = ChaCha8Rng::seed_from_u64(seed);
        }
        if let Some(kinds) = kinds {
            self.kinds = kinds;
        }
        if let Some(paths) = update.paths {
            self.paths = paths;
        }
        Ok(())
    }

    /// `DELETE /_faults`: no rules, rate 0. Counters, log and seed stay.
    pub fn clear(&mut self) {
        self.rules.clear();
        self.rate = 0.0;
    }

    /// The fault for the next proxied request, if any: the first queued rule that
    /// matches, else (with probability `rate`) a random one from the seeded source.
    pub fn decide(&mut self, method: &str, path: &str) -> Option<Fault> {
        self.requests += 1;
        if let Some(i) = self.rules.iter().position(|r| r.matches(method, path)) {
            let fault = self.rules[i].fault.clone();
            self.rules[i].times -= 1;
            if self.rules[i].times == 0 {
                self.rules.remove(i);
            }
            self.record(method, path, &fault, "rule");
            return Some(fault);
        }
        if self.rate <= 0.0 || self.kinds.is_empty() {
            return None;
        }
        if !self.paths.is_empty() && !self.paths.iter().any(|p| path.starts_with(p.as_str())) {
            return None;
        }
        if self.rng.random::<f64>() >= self.rate {
            return None;
        }
        let kind = self.kinds[self.rng.random_range(0..self.kinds.len())];
        let fault = match kind {
            "drop_request" => Fault::DropRequest,
            "drop_response" => Fault::DropResponse,
            "status" => Fault::Status { status: 500, body: None, content_type: None, retry_after_seconds: None },
            "rate_limit" => Fault::RateLimit { retry_after_seconds: 1 },
            "delay" => Fault::Delay { ms: self.rng.random_range(RANDOM_DELAY_MS.0..=RANDOM_DELAY_MS.1) },
            "duplicate" => Fault::Duplicate,
            _ => Fault::CutBody,
        };
        self.record(method, path, &fault, "random");
        Some(fault)
    }

    fn record(&mut self, method: &str, path: &str, fault: &Fault, source: &'static str) {
        self.injected[fault.index()] += 1;
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry {
            request: self.requests,
            method: method.to_owned(),
            path: path.to_owned(),
            kind: fault.kind(),
            source,
        });
    }

    /// One request sent to the upstream (a duplicate counts twice).
    pub fn count_forwarded(&mut self) {
        self.forwarded += 1;
    }

    /// What `GET /_faults` answers.
    pub fn snapshot(&self) -> Value {
        let injected: serde_json::Map<String, Value> =
            KINDS.iter().zip(self.injected).map(|(k, n)| ((*k).to_owned(), json!(n))).collect();
        json!({
            "rules": self.rules,
            "rate": self.rate,
            "seed": self.seed,
            "kinds": self.kinds,
            "paths": self.paths,
            "requests": self.requests,
            "forwarded": self.forwarded,
            "injected": injected,
            "injectedTotal": self.injected.iter().sum::<u64>(),
            "log": self.log,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_json_shapes() {
        let f: Fault = serde_json::from_str(r#"{"kind":"rate_limit","retryAfterSeconds":3}"#).unwrap();
        assert_eq!(f, Fault::RateLimit { retry_after_seconds: 3 });
        let f: Fault = serde_json::from_str(r#"{"kind":"rate_limit"}"#).unwrap();
        assert_eq!(f, Fault::RateLimit { retry_after_seconds: 1 });
        let f: Fault =
            serde_json::from_str(r#"{"kind":"replace_body","body":"x","contentType":"text/html","repeat":4}"#).unwrap();
        assert_eq!(
            f,
            Fault::ReplaceBody {
                status: None,
                body: "x".into(),
                content_type: Some("text/html".into()),
                repeat: Some(4)
            }
        );
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"explode"}"#).is_err());
        assert!(serde_json::from_str::<Rule>(r#"{"path":"/a","fault":{"kind":"duplicate"},"tims":2}"#).is_err());
    }

    #[test]
    fn rules_apply_in_order_with_times_and_method() {
        let mut s = FaultState::new(0, 0.0);
        let update: Update = serde_json::from_str(
            r#"{"rules":[
                {"path":"/sync/push","method":"post","fault":{"kind":"duplicate"},"times":2},
                {"path":"/sync/*","fault":{"kind":"delay","ms":5}},
                {"path":"/sync/push","fault":{"kind":"drop_request"}}]}"#,
        )
        .unwrap();
        s.apply(update).unwrap();
        assert_eq!(s.decide("GET", "/sync/push").map(|f| f.kind()), Some("delay"));
        assert_eq!(s.decide("POST", "/sync/push").map(|f| f.kind()), Some("duplicate"));
        assert_eq!(s.decide("POST", "/sync/push").map(|f| f.kind()), Some("duplicate"));
        assert_eq!(s.decide("POST", "/sync/push").map(|f| f.kind()), Some("drop_request"));
        assert_eq!(s.decide("POST", "/sync/push"), None);
        assert_eq!(s.snapshot()["injected"]["duplicate"], 2);
    }

    #[test]
    fn invalid_updates_change_nothing() {
        let mut s = FaultState::new(0, 0.0);
        let bad = [
            r#"{"rules":[{"fault":{"kind":"status","status":42}}]}"#,
            r#"{"rules":[{"fault":{"kind":"drop_request"},"times":0}]}"#,
            r#"{"rate":1.5}"#,
            r#"{"kinds":["replace_body"]}"#,
            r#"{"rules":[{"fault":{"kind":"replace_body","body":"xx","repeat":4000000000}}]}"#,
        ];
        for b in bad {
            let u: Update = serde_json::from_str(b).unwrap();
            assert!(s.apply(u).is_err(), "{b}");
        }
        assert_eq!(s.snapshot()["rules"], json!([]));
        assert_eq!(s.snapshot()["rate"], 0.0);
    }

    #[test]
    fn seeded_random_is_replayable() {
        let run = |seed| {
            let mut s = FaultState::new(seed, 0.3);
            (0..200).map(|_| s.decide("POST", "/sync/push")).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let faults = run(7).into_iter().flatten().count();
        assert!((30..=90).contains(&faults), "{faults}");
    }
}
