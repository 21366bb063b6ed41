//! Membership changes, written once over [`Tx`]. Each takes the counter lock first and
//! stamps the change with a fresh counter version, like a push: a pull's snapshot then
//! sees a grant together with every document version before it, and `since` is a
//! position in the same order as the documents' versions (see `db::pull`).

use std::collections::BTreeMap;

use pwa_sync_core::protocol::Role;

use super::access::{parse_role, role_str, Source};
use super::push::{GrantWrite, Tx};
use super::Failure;

/// Grant `role` to `user` in `space` from `source`, or remove that grant (`None`). The
/// version of the change, `None` when there was nothing to remove.
pub(crate) async fn set<T: Tx>(
    tx: &mut T,
    space: &str,
    user: &str,
    source: Source,
    role: Option<Role>,
) -> Result<Option<i64>, Failure> {
    tx.lock_counter().await?;
    let version = tx.next_version().await?;
    let changed = match role {
        Some(role) => {
            let grant = GrantWrite { space, user, source: source.as_str(), role: role_str(role), version };
            tx.grant(&grant).await?;
            true
        }
        None => tx.revoke(space, user, source.as_str(), version).await?,
    };
    // A version taken for nothing is a gap in the sequence, which pulls do not mind.
    Ok(changed.then_some(version))
}

/// Make `user` the owner of `space` if nobody ever used it (no grant, live or removed,
/// and no document): the version of the grant, `None` when it was in use. Under the
/// counter lock, so of two concurrent creators one gets it.
pub(crate) async fn create<T: Tx>(tx: &mut T, space: &str, user: &str) -> Result<Option<i64>, Failure> {
    tx.lock_counter().await?;
    if tx.space_in_use(space).await? {
        return Ok(None);
    }
    set(tx, space, user, Source::Admin, Some(Role::Owner)).await
}

/// Make `user`'s token grants equal `claims`: new or changed ones granted, missing ones
/// removed, all at one version. `None` when nothing differed (the caller checked first,
/// outside a write transaction: see [`live_grants`]; this reads again under the lock, as
/// another request of the user may have synced meanwhile).
pub(crate) async fn sync_token<T: Tx>(
    tx: &mut T,
    user: &str,
    claims: &BTreeMap<String, Role>,
) -> Result<Option<i64>, Failure> {
    let source = Source::Token.as_str();
    tx.lock_counter().await?;
    let stored = live_grants(tx.grants_by_source(user, source).await?).map_err(Failure::Corrupt)?;
    if stored == *claims {
        return Ok(None);
    }
    let version = tx.next_version().await?;
    for (space, role) in claims {
        if stored.get(space) != Some(role) {
            tx.grant(&GrantWrite { space, user, source, role: role_str(*role), version }).await?;
        }
    }
    for space in stored.keys().filter(|s| !claims.contains_key(*s)) {
        tx.revoke(space, user, source, version).await?;
    }
    Ok(Some(version))
}

/// The live grants among `(space, role)` rows of one source (role `None`: removed).
pub(crate) fn live_grants(rows: Vec<(String, Option<String>)>) -> Result<BTreeMap<String, Role>, String> {
    let mut live = BTreeMap::new();
    for (space, role) in rows {
        if let Some(role) = role {
            live.insert(space, parse_role(&role)?);
        }
    }
    Ok(live)
}
