//! Conflict resolution: what a key's value becomes when the server changed it while local
//! writes to it were pending. Pure; the planners in `sync` apply the outcome.

use serde_json::Value;

use crate::core::config::{ConflictConfig, Strategy};

/// Both sides of a conflict and their common ancestor. `None` is "deleted / absent".
#[derive(Debug, Clone, Copy)]
pub struct Sides<'a> {
    pub local: Option<&'a Value>,
    pub server: Option<&'a Value>,
    pub base: Option<&'a Value>,
    pub local_hlc: &'a str,
    pub server_hlc: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The key's value becomes this (`None`: deleted). Sent to the server unless it
    /// equals the server's value.
    Value(Option<Value>),
    /// A person decides: the conflict is stored and announced.
    Manual,
}

/// The strategy that actually ran, for the audit log.
pub fn effective_strategy(config: &ConflictConfig) -> Strategy {
    match config.strategy {
        // Field merge, manual and app resolvers arrive with the conflict work (issue 4);
        // until then these resolve as the server says, and the audit log says so.
        Strategy::Merge | Strategy::Manual | Strategy::Custom => Strategy::ServerWins,
        s => s,
    }
}

pub fn resolve(config: &ConflictConfig, sides: Sides<'_>) -> Resolution {
    match effective_strategy(config) {
        Strategy::ClientWins => Resolution::Value(sides.local.cloned()),
        Strategy::LastWriteWins => {
            // HLC string order is clock order; ties go to the server so every replica
            // picks the same side.
            if sides.local_hlc > sides.server_hlc {
                Resolution::Value(sides.local.cloned())
            } else {
                Resolution::Value(sides.server.cloned())
            }
        }
        _ => Resolution::Value(sides.server.cloned()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn config(strategy: Strategy) -> ConflictConfig {
        ConflictConfig { strategy, arrays: BTreeMap::new(), manual_fields: vec![], manual_within_ms: None }
    }

    fn sides<'a>(local: &'a Value, server: &'a Value, local_hlc: &'a str, server_hlc: &'a str) -> Sides<'a> {
        Sides { local: Some(local), server: Some(server), base: None, local_hlc, server_hlc }
    }

    #[test]
    fn simple_strategies() {
        let (l, s) = (json!({"v": "local"}), json!({"v": "server"}));
        let old = "000000000000001-0000-a";
        let new = "000000000000002-0000-b";
        assert_eq!(resolve(&config(Strategy::ServerWins), sides(&l, &s, new, old)), Resolution::Value(Some(s.clone())));
        assert_eq!(resolve(&config(Strategy::ClientWins), sides(&l, &s, old, new)), Resolution::Value(Some(l.clone())));
        assert_eq!(resolve(&config(Strategy::LastWriteWins), sides(&l, &s, new, old)), Resolution::Value(Some(l.clone())));
        assert_eq!(resolve(&config(Strategy::LastWriteWins), sides(&l, &s, old, new)), Resolution::Value(Some(s.clone())));
        assert_eq!(resolve(&config(Strategy::LastWriteWins), sides(&l, &s, old, old)), Resolution::Value(Some(s)));
    }
}
