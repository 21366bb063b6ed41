//! `GET /sync/pull?checkpoint=&limit=&collections=&spaces=`: the changes of the caller's
//! readable spaces after a checkpoint, one page at a time, with the backfill of spaces
//! granted since and the list of spaces revoked since (see `db::pull`).

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use pwa_sync_core::protocol::{is_valid_space_id, PullResponse};

use super::spaces::record_token_grants;
use crate::db::push::MAX_NAME_LEN;
use crate::db::{PullQuery, DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT};
use crate::error::ApiError;
use crate::extract::AuthUser;
use crate::state::AppState;

/// Most collections, and most spaces, one pull may filter on.
const MAX_PULL_COLLECTIONS: usize = 100;
const MAX_PULL_SPACES: usize = 100;

pub(super) async fn pull(
    State(app): State<AppState>,
    AuthUser(who): AuthUser,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let query = pull_query(&params).map_err(ApiError::bad_request)?;
    record_token_grants(&app, &who).await?;
    Ok(Json(app.store.pull(&who.user, &query).await?))
}

fn pull_query(params: &HashMap<String, String>) -> Result<PullQuery, String> {
    let number = |name: &str| -> Result<Option<u64>, String> {
        params
            .get(name)
            .map(|v| v.parse::<u64>().map_err(|_| format!("{name} must be a non-negative integer, got {v:?}")))
            .transpose()
    };
    let checkpoint = number("checkpoint")?.unwrap_or(0);
    let limit = number("limit")?.unwrap_or(u64::from(DEFAULT_PULL_LIMIT));
    if limit == 0 {
        return Err("limit must be at least 1".into());
    }
    let limit = u32::try_from(limit.min(u64::from(MAX_PULL_LIMIT))).unwrap_or(MAX_PULL_LIMIT);
    let collections = match params.get("collections") {
        None => None,
        Some(list) => {
            let names: Vec<String> =
                list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
            if names.len() > MAX_PULL_COLLECTIONS {
                return Err(format!("at most {MAX_PULL_COLLECTIONS} collections per pull"));
            }
            // The names a push accepts (and PostgreSQL cannot compare text with NUL in it).
            if names.iter().any(|n| n.len() > MAX_NAME_LEN || n.chars().any(char::is_control)) {
                return Err(format!("collection names are at most {MAX_NAME_LEN} bytes, without control characters"));
            }
            (!names.is_empty()).then_some(names)
        }
    };
    let spaces = match params.get("spaces") {
        None => None,
        Some(list) => {
            let ids: Vec<String> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
            if ids.len() > MAX_PULL_SPACES {
                return Err(format!("at most {MAX_PULL_SPACES} spaces per pull"));
            }
            if let Some(bad) = ids.iter().find(|s| !is_valid_space_id(s)) {
                return Err(format!("space {bad:?} is not 1 to 128 characters of [A-Za-z0-9_.:-]"));
            }
            (!ids.is_empty()).then_some(ids)
        }
    };
    Ok(PullQuery { checkpoint, limit, collections, spaces })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn pull_query_defaults_and_bounds() {
        let q = pull_query(&params(&[])).ok();
        assert_eq!(q, Some(PullQuery { checkpoint: 0, limit: DEFAULT_PULL_LIMIT, collections: None, spaces: None }));
        let q = pull_query(&params(&[("limit", "5000"), ("collections", "a, b,,")])).ok();
        assert_eq!(q.as_ref().map(|q| q.limit), Some(MAX_PULL_LIMIT));
        assert_eq!(q.and_then(|q| q.collections), Some(vec!["a".to_string(), "b".to_string()]));
        assert!(pull_query(&params(&[("checkpoint", "-1")])).is_err());
        assert!(pull_query(&params(&[("limit", "0")])).is_err());
        assert!(pull_query(&params(&[("collections", "a,b\u{0}")])).is_err());
        assert!(pull_query(&params(&[("collections", &"x".repeat(MAX_NAME_LEN + 1))])).is_err());
        assert!(pull_query(&params(&[("collections", &"x".repeat(MAX_NAME_LEN))])).is_ok());
        let q = pull_query(&params(&[("spaces", "user:ana, g.1")])).ok().and_then(|q| q.spaces);
        assert_eq!(q, Some(vec!["user:ana".to_string(), "g.1".to_string()]));
        assert!(pull_query(&params(&[("spaces", "a b")])).is_err());
    }
}
