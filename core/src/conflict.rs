//! Conflict resolution: what a key's value becomes when the server changed it while local
//! writes to it were pending. Pure; the planners in `sync` apply the outcome.
//!
//! | strategy | outcome |
//! | --- | --- |
//! | `serverWins` | the server's value |
//! | `clientWins` | the local value, sent again against the server's version |
//! | `lastWriteWins` | the side with the later HLC stamp (ties: the server); `manualWithinMs` sends edits closer than that to `manual` |
//! | `merge` | three-way, field by field against the base; nested objects recursively; arrays by their rule; a field changed on both sides by `lastWriteWins`, or `manual` if listed in `manualFields`; an edit beats a concurrent delete |
//! | `manual` | stored and announced; the app decides |
//! | custom | the app's function; throwing or returning something invalid goes to `manual` |

use serde_json::{Map, Value};

use crate::clock::HlcStamp;
use crate::config::{ArrayRule, ConflictConfig, Strategy};

/// Both sides of a conflict and their common ancestor. `None` is "deleted / absent".
#[derive(Debug, Clone, Copy)]
pub struct Sides<'a> {
    pub local: Option<&'a Value>,
    pub server: Option<&'a Value>,
    pub base: Option<&'a Value>,
    pub local_hlc: &'a str,
    pub server_hlc: &'a str,
}

impl Sides<'_> {
    /// The local side is the later write (ties go to the server, so every replica that
    /// compares the same stamps picks the same side).
    fn local_is_later(&self) -> bool {
        self.local_hlc > self.server_hlc
    }

    /// Milliseconds between the two writes' clocks, when both stamps parse.
    fn wall_gap_ms(&self) -> Option<u64> {
        let local: HlcStamp = self.local_hlc.parse().ok()?;
        let server: HlcStamp = self.server_hlc.parse().ok()?;
        Some(local.wall_ms.abs_diff(server.wall_ms))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The key's value becomes this (`None`: deleted). Sent to the server unless it
    /// equals the server's value.
    Value(Option<Value>),
    /// A person decides: the conflict is stored and announced. `fields` names what
    /// could not be merged (empty when the whole record is in question).
    Manual { fields: Vec<String> },
}

/// An app's resolver: `Some(value)` (value `None` deletes), or `None` when it threw or
/// returned something unusable, which sends the conflict to `manual`.
pub type Resolver<'r> = &'r dyn Fn(&Sides<'_>) -> Option<Option<Value>>;

pub fn resolve(config: &ConflictConfig, sides: Sides<'_>, custom: Option<Resolver<'_>>) -> Resolution {
    match config.strategy {
        Strategy::ServerWins => Resolution::Value(sides.server.cloned()),
        Strategy::ClientWins => Resolution::Value(sides.local.cloned()),
        Strategy::LastWriteWins => {
            let close = config.manual_within_ms.zip(sides.wall_gap_ms()).is_some_and(|(window, gap)| gap < window);
            if close {
                Resolution::Manual { fields: Vec::new() }
            } else if sides.local_is_later() {
                Resolution::Value(sides.local.cloned())
            } else {
                Resolution::Value(sides.server.cloned())
            }
        }
        Strategy::Merge => merge(config, &sides),
        Strategy::Manual => Resolution::Manual { fields: Vec::new() },
        Strategy::Custom => match custom.and_then(|resolver| resolver(&sides)) {
            Some(value) => Resolution::Value(value),
            None => Resolution::Manual { fields: Vec::new() },
        },
    }
}

pub fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::ServerWins => "serverWins",
        Strategy::ClientWins => "clientWins",
        Strategy::LastWriteWins => "lastWriteWins",
        Strategy::Merge => "merge",
        Strategy::Manual => "manual",
        Strategy::Custom => "custom",
    }
}

fn merge(config: &ConflictConfig, sides: &Sides<'_>) -> Resolution {
    let mut manual = Vec::new();
    let merged = Merger { config, sides }.value("", sides.base, sides.local, sides.server, &mut manual);
    if manual.is_empty() {
        Resolution::Value(merged)
    } else {
        Resolution::Manual { fields: manual }
    }
}

struct Merger<'c, 's> {
    config: &'c ConflictConfig,
    sides: &'c Sides<'s>,
}

impl Merger<'_, '_> {
    /// Three-way merge of one value at `path` ("" is the whole record, "a.b" a field).
    fn value(
        &self,
        path: &str,
        base: Option<&Value>,
        local: Option<&Value>,
        server: Option<&Value>,
        manual: &mut Vec<String>,
    ) -> Option<Value> {
        if local == server || local == base {
            return server.cloned();
        }
        if server == base {
            return local.cloned();
        }
        // Both sides changed it, differently.
        match (local, server) {
            (Some(Value::Object(l)), Some(Value::Object(s))) => {
                let b = base.and_then(Value::as_object);
                Some(Value::Object(self.object(path, b, l, s, manual)))
            }
            (Some(Value::Array(l)), Some(Value::Array(s))) => match self.array_rule(path) {
                Some(ArrayRule::Union) => Some(Value::Array(union(s, l))),
                Some(ArrayRule::Append) => {
                    let empty = Vec::new();
                    let b = base.and_then(Value::as_array).unwrap_or(&empty);
                    Some(Value::Array(append(b, l, s)))
                }
                _ => self.both_changed(path, local, server, manual),
            },
            // An edit beats a concurrent delete: nothing anyone typed is dropped.
            (None, Some(_)) => server.cloned(),
            (Some(_), None) => local.cloned(),
            _ => self.both_changed(path, local, server, manual),
        }
    }

    fn object(
        &self,
        path: &str,
        base: Option<&Map<String, Value>>,
        local: &Map<String, Value>,
        server: &Map<String, Value>,
        manual: &mut Vec<String>,
    ) -> Map<String, Value> {
        // The server's fields, then the local side's and the base's it lacks, pushed in
        // loops (a collect and two filtered `extend`s were three instances of their own).
        let mut fields: Vec<&String> = Vec::new();
        for field in server.keys() {
            fields.push(field);
        }
        for field in local.keys() {
            if !server.contains_key(field) {
                fields.push(field);
            }
        }
        for field in base.into_iter().flat_map(Map::keys) {
            if !server.contains_key(field) && !local.contains_key(field) {
                fields.push(field);
            }
        }
        let mut out = Map::new();
        for field in fields {
            let at = if path.is_empty() { field.clone() } else { format!("{path}.{field}") };
            let merged = self.value(&at, base.and_then(|b| b.get(field)), local.get(field), server.get(field), manual);
            if let Some(value) = merged {
                out.insert(field.clone(), value);
            }
        }
        out
    }

    /// A value both sides changed that cannot be combined: `manual` if the collection
    /// says so for this field, else the later write.
    fn both_changed(
        &self,
        path: &str,
        local: Option<&Value>,
        server: Option<&Value>,
        manual: &mut Vec<String>,
    ) -> Option<Value> {
        if self.config.manual_fields.iter().any(|f| f == path) {
            manual.push(path.to_owned());
            return server.cloned();
        }
        if self.sides.local_is_later() {
            local.cloned()
        } else {
            server.cloned()
        }
    }

    fn array_rule(&self, path: &str) -> Option<ArrayRule> {
        self.config.arrays.iter().find(|(field, _)| field == path).map(|(_, rule)| *rule)
    }
}

/// Everything either side has: the server's items, then the local ones it lacks.
fn union(server: &[Value], local: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(server.len() + local.len());
    for item in server.iter().chain(local) {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// An ordered list both sides appended to: the server's list without what the local
/// side removed, then the local additions in local order; no duplicates.
fn append(base: &[Value], local: &[Value], server: &[Value]) -> Vec<Value> {
    let removed_locally = |item: &Value| base.contains(item) && !local.contains(item);
    let mut out: Vec<Value> = Vec::with_capacity(server.len() + local.len());
    for item in server {
        if !removed_locally(item) && !out.contains(item) {
            out.push(item.clone());
        }
    }
    for item in local {
        if !base.contains(item) && !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EARLY: &str = "001700000000000-0000-c-a";
    const LATE: &str = "001700000300000-0000-c-b";

    fn config(strategy: Strategy) -> ConflictConfig {
        ConflictConfig { strategy, arrays: Vec::new(), manual_fields: vec![], manual_within_ms: None }
    }

    fn merge_config(arrays: &[(&str, ArrayRule)], manual: &[&str]) -> ConflictConfig {
        ConflictConfig {
            strategy: Strategy::Merge,
            arrays: arrays.iter().map(|(f, r)| ((*f).to_owned(), *r)).collect(),
            manual_fields: manual.iter().map(|f| (*f).to_owned()).collect(),
            manual_within_ms: None,
        }
    }

    fn run(
        config: &ConflictConfig,
        base: Value,
        local: Value,
        server: Value,
        local_hlc: &str,
        server_hlc: &str,
    ) -> Resolution {
        resolve(
            config,
            Sides { local: Some(&local), server: Some(&server), base: Some(&base), local_hlc, server_hlc },
            None,
        )
    }

    fn value(v: Value) -> Resolution {
        Resolution::Value(Some(v))
    }

    #[test]
    fn simple_strategies() {
        let (b, l, s) = (json!({"v": 0}), json!({"v": "local"}), json!({"v": "server"}));
        assert_eq!(run(&config(Strategy::ServerWins), b.clone(), l.clone(), s.clone(), LATE, EARLY), value(s.clone()));
        assert_eq!(run(&config(Strategy::ClientWins), b.clone(), l.clone(), s.clone(), EARLY, LATE), value(l.clone()));
        assert_eq!(
            run(&config(Strategy::LastWriteWins), b.clone(), l.clone(), s.clone(), LATE, EARLY),
            value(l.clone())
        );
        assert_eq!(
            run(&config(Strategy::LastWriteWins), b.clone(), l.clone(), s.clone(), EARLY, LATE),
            value(s.clone())
        );
        assert_eq!(
            run(&config(Strategy::LastWriteWins), b.clone(), l.clone(), s.clone(), EARLY, EARLY),
            value(s.clone())
        );
        assert_eq!(run(&config(Strategy::Manual), b, l, s, LATE, EARLY), Resolution::Manual { fields: vec![] });
    }

    #[test]
    fn seed_packing_list_edits_to_different_fields_keep_both() {
        let base = json!({"id": "trip", "title": "Rome", "dates": "May", "notes": {"hotel": "?", "car": "no"}});
        let local =
            json!({"id": "trip", "title": "Rome & Naples", "dates": "May", "notes": {"hotel": "Hilton", "car": "no"}});
        let server = json!({"id": "trip", "title": "Rome", "dates": "June", "notes": {"hotel": "?", "car": "yes"}});
        let merged = json!({"id": "trip", "title": "Rome & Naples", "dates": "June", "notes": {"hotel": "Hilton", "car": "yes"}});
        assert_eq!(run(&merge_config(&[], &[]), base, local, server, EARLY, LATE), value(merged));
    }

    #[test]
    fn seed_playlist_appends_on_both_sides_keep_both_in_order() {
        let cfg = merge_config(&[("tracks", ArrayRule::Append)], &[]);
        let base = json!({"tracks": ["a", "b"]});
        let local = json!({"tracks": ["a", "b", "l1", "l2"]});
        let server = json!({"tracks": ["a", "b", "s1"]});
        assert_eq!(run(&cfg, base, local, server, LATE, EARLY), value(json!({"tracks": ["a", "b", "s1", "l1", "l2"]})));
        // A local removal holds while the server appends.
        let base = json!({"tracks": ["a", "b"]});
        let local = json!({"tracks": ["b", "l1"]});
        let server = json!({"tracks": ["a", "b", "s1", "l1"]});
        assert_eq!(run(&cfg, base, local, server, LATE, EARLY), value(json!({"tracks": ["b", "s1", "l1"]})));
    }

    #[test]
    fn seed_group_members_union() {
        let cfg = merge_config(&[("members", ArrayRule::Union)], &[]);
        let base = json!({"members": ["ana"]});
        let local = json!({"members": ["ana", "bo"]});
        let server = json!({"members": ["cy", "ana"]});
        assert_eq!(run(&cfg, base, local, server, EARLY, LATE), value(json!({"members": ["cy", "ana", "bo"]})));
    }

    #[test]
    fn seed_location_latest_wins() {
        let cfg = config(Strategy::LastWriteWins);
        let base = json!({"lat": 1, "lng": 1});
        let (l, s) = (json!({"lat": 2, "lng": 2}), json!({"lat": 3, "lng": 3}));
        assert_eq!(run(&cfg, base.clone(), l.clone(), s.clone(), LATE, EARLY), value(l));
        assert_eq!(run(&cfg, base, json!({"lat": 2, "lng": 2}), s.clone(), EARLY, LATE), value(s));
    }

    #[test]
    fn seed_profile_edits_close_together_ask_a_person() {
        let mut cfg = config(Strategy::LastWriteWins);
        cfg.manual_within_ms = Some(5 * 60_000);
        let (b, l, s) = (json!({"name": "A"}), json!({"name": "Ana"}), json!({"name": "Anna"}));
        // Four minutes apart: a person decides.
        let four = "001700000240000-0000-c-b";
        assert_eq!(run(&cfg, b.clone(), l.clone(), s.clone(), EARLY, four), Resolution::Manual { fields: vec![] });
        // Ten minutes apart: the later one wins.
        let ten = "001700000600000-0000-c-b";
        assert_eq!(run(&cfg, b, l, s.clone(), EARLY, ten), value(s));
    }

    #[test]
    fn merge_fields_changed_on_both_sides_go_by_clock_or_to_manual() {
        let (b, l, s) = (json!({"a": 1, "b": 1}), json!({"a": 2, "b": 1}), json!({"a": 3, "b": 5}));
        assert_eq!(
            run(&merge_config(&[], &[]), b.clone(), l.clone(), s.clone(), LATE, EARLY),
            value(json!({"a": 2, "b": 5}))
        );
        assert_eq!(
            run(&merge_config(&[], &[]), b.clone(), l.clone(), s.clone(), EARLY, LATE),
            value(json!({"a": 3, "b": 5}))
        );
        assert_eq!(
            run(&merge_config(&[], &["a"]), b, l, s, LATE, EARLY),
            Resolution::Manual { fields: vec!["a".into()] }
        );
    }

    #[test]
    fn merge_keeps_an_edit_over_a_concurrent_delete() {
        let cfg = merge_config(&[], &[]);
        let base = json!({"id": "t", "n": 1});
        let edited = json!({"id": "t", "n": 2});
        let r = resolve(
            &cfg,
            Sides { local: None, server: Some(&edited), base: Some(&base), local_hlc: LATE, server_hlc: EARLY },
            None,
        );
        assert_eq!(r, value(edited.clone()));
        let r = resolve(
            &cfg,
            Sides { local: Some(&edited), server: None, base: Some(&base), local_hlc: EARLY, server_hlc: LATE },
            None,
        );
        assert_eq!(r, value(edited));
        // A delete against no change is a delete.
        let r = resolve(
            &cfg,
            Sides { local: None, server: Some(&base), base: Some(&base), local_hlc: EARLY, server_hlc: LATE },
            None,
        );
        assert_eq!(r, Resolution::Value(None));
        // A field removed on one side and changed on the other keeps the change.
        assert_eq!(
            run(&cfg, json!({"a": 1, "b": 1}), json!({"b": 1}), json!({"a": 9, "b": 1}), LATE, EARLY),
            value(json!({"a": 9, "b": 1}))
        );
    }

    #[test]
    fn custom_resolvers_and_their_failures() {
        let cfg = config(Strategy::Custom);
        let sides = Sides {
            local: Some(&json!({"n": 1})),
            server: Some(&json!({"n": 2})),
            base: None,
            local_hlc: EARLY,
            server_hlc: LATE,
        };
        let sum = |s: &Sides<'_>| {
            let n = s.local?.get("n")?.as_i64()? + s.server?.get("n")?.as_i64()?;
            Some(Some(json!({ "n": n })))
        };
        assert_eq!(resolve(&cfg, sides, Some(&sum)), value(json!({"n": 3})));
        let broken = |_: &Sides<'_>| None;
        assert_eq!(resolve(&cfg, sides, Some(&broken)), Resolution::Manual { fields: vec![] });
        assert_eq!(resolve(&cfg, sides, None), Resolution::Manual { fields: vec![] });
    }
}
