//! What a user may do where: their private space (owner, always) and their grants, one
//! per (space, source), folded into one role and one backfill position per space.

use std::collections::BTreeMap;

use pwa_sync_core::protocol::{private_space, Role, SpaceRole};

/// Where a grant comes from (the `members.source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The admin API (or a space's owner through it).
    Admin,
    /// A JWT's `spaces` claim, recorded when a request carried it.
    Token,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Admin => "admin",
            Source::Token => "token",
        }
    }
}

/// One readable space: the caller's strongest role there, and `since`, the counter
/// version from which it has been readable without a break (0: always, the private space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub since: u64,
}

/// The caller's readable spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub spaces: BTreeMap<String, Grant>,
}

impl Access {
    /// Fold live grant rows `(space, role, since)` of `user` into one grant per space: the
    /// strongest role, and the earliest `since` (readable since the first live grant).
    pub fn from_rows(user: &str, rows: impl IntoIterator<Item = (String, Role, u64)>) -> Access {
        let mut spaces = BTreeMap::new();
        for (space, role, since) in rows {
            let grant = spaces.entry(space).or_insert(Grant { role, since });
            grant.role = grant.role.max(role);
            grant.since = grant.since.min(since);
        }
        spaces.insert(private_space(user), Grant { role: Role::Owner, since: 0 });
        Access { spaces }
    }

    pub fn role(&self, space: &str) -> Option<Role> {
        self.spaces.get(space).map(|g| g.role)
    }

    /// `GET /sync/spaces`: every readable space, in id order.
    pub fn list(&self) -> Vec<SpaceRole> {
        self.spaces.iter().map(|(id, g)| SpaceRole { id: id.clone(), role: g.role }).collect()
    }
}

/// A role as stored, or why the row is corrupt.
pub(crate) fn parse_role(text: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| format!("unknown role {text:?}"))
}

/// Live `(user, role)` rows (one per source) folded to each user's strongest role.
pub(crate) fn strongest_roles(rows: Vec<(String, String)>) -> Result<Vec<(String, Role)>, String> {
    let mut users: BTreeMap<String, Role> = BTreeMap::new();
    for (user, role) in rows {
        let role = parse_role(&role)?;
        let best = users.entry(user).or_insert(role);
        *best = (*best).max(role);
    }
    Ok(users.into_iter().collect())
}

pub(crate) fn role_str(role: Role) -> &'static str {
    match role {
        Role::Reader => "reader",
        Role::Writer => "writer",
        Role::Owner => "owner",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_fold_to_the_strongest_role_and_the_earliest_since() {
        let rows = vec![
            ("g".to_string(), Role::Reader, 9),
            ("g".to_string(), Role::Writer, 12),
            ("user:ana".to_string(), Role::Reader, 4),
        ];
        let access = Access::from_rows("ana", rows);
        assert_eq!(access.spaces["g"], Grant { role: Role::Writer, since: 9 });
        // The private space stays the owner's whatever the table says.
        assert_eq!(access.spaces["user:ana"], Grant { role: Role::Owner, since: 0 });
        assert_eq!(access.list().len(), 2);
        assert_eq!(parse_role("owner"), Ok(Role::Owner));
        assert!(parse_role("admin").is_err());
        assert_eq!(role_str(Role::Writer), "writer");
    }
}
