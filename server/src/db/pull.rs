//! The pull page, backend-independent: which spaces a pull reads and how, where a page
//! may end, and the answer.
//!
//! Every row has a position: its version, or for a document of a space the caller was
//! granted after its checkpoint (backfill), `max(version, since)` where `since` is the
//! grant's counter version. A page is the rows with position above the checkpoint in
//! (position, version) order, and the checkpoint it answers is the last row's position.
//! Positions are unique except in a backfill group (the documents a grant made visible
//! all sit at `since`), so a page never ends inside a group: it ends before the group,
//! or, when the group opens the page, takes the whole group even past the limit.
//! Nothing is missed (everything at or below the new checkpoint was in this page or an
//! earlier one) and nothing is sent twice (a row is sent again only at a new position:
//! the document changed, or access was lost and granted again).

use pwa_sync_core::protocol::{Change, PullResponse};

use super::access::Access;
use super::PullQuery;

/// The spaces one pull reads.
pub(crate) struct Plan<'a> {
    /// Read before the checkpoint: documents with `version > checkpoint`.
    pub current: Vec<&'a str>,
    /// Granted after the checkpoint, with the grant's version: every document.
    pub backfill: Vec<(&'a str, i64)>,
    pub collections: &'a [String],
}

impl<'a> Plan<'a> {
    pub fn new(access: &'a Access, query: &'a PullQuery) -> Plan<'a> {
        let mut plan = Plan {
            current: Vec::new(),
            backfill: Vec::new(),
            collections: query.collections.as_deref().unwrap_or(&[]),
        };
        for (space, grant) in access.spaces.iter().filter(|(space, _)| query.wants(space)) {
            if grant.since > query.checkpoint {
                plan.backfill.push((space.as_str(), i64::try_from(grant.since).unwrap_or(i64::MAX)));
            } else {
                plan.current.push(space.as_str());
            }
        }
        plan
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty() && self.backfill.is_empty()
    }

    pub fn shape(&self, up_to: bool) -> super::sql::PullShape {
        super::sql::PullShape {
            current: self.current.len(),
            backfill: self.backfill.len(),
            collections: self.collections.len(),
            up_to,
        }
    }
}

/// Where a pull page stops by size, whatever its limit: after the row whose bytes (with
/// those before it) pass this, so the server holds about this much of a page at once, and
/// a page of large documents stays under the client's own limit on an answer (32 MiB), which
/// it would otherwise ask for again with half the limit. A backfill group that opens a page
/// is still sent whole (`Page::Group`).
pub const MAX_PULL_BYTES: usize = 8 << 20;

/// A document row of a pull, with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PageRow {
    pub space: String,
    pub collection: String,
    pub key: String,
    pub version: i64,
    pub value: Option<String>,
    pub hlc: String,
    pub schema_version: Option<i64>,
    pub pos: i64,
}

impl PageRow {
    /// About what the row weighs in memory and in the answer: its texts, and room for the
    /// numbers and the JSON around them.
    pub fn bytes(&self) -> usize {
        let texts = [&self.space, &self.collection, &self.key, &self.hlc];
        texts.iter().map(|t| t.len()).sum::<usize>() + self.value.as_ref().map_or(0, String::len) + 64
    }
}

#[derive(Debug, PartialEq)]
pub(crate) enum Page {
    /// The page, and whether more follows.
    Rows(Vec<PageRow>, bool),
    /// The page is the backfill group at this position, bigger than the limit: read it whole.
    Group(i64),
}

/// Where the page of `rows` (read with `LIMIT limit + 1`, in order) ends.
pub(crate) fn cut(mut rows: Vec<PageRow>, limit: usize) -> Page {
    if rows.len() <= limit || limit == 0 {
        return Page::Rows(rows, false);
    }
    let last = rows[limit - 1].pos;
    if rows[limit].pos != last {
        rows.truncate(limit);
        return Page::Rows(rows, true);
    }
    // The limit falls inside a group: end before it, unless it opens the page.
    if rows[0].pos == last {
        return Page::Group(last);
    }
    rows.retain(|r| r.pos < last);
    Page::Rows(rows, true)
}

/// The answer for `rows`; the checkpoint is the last row's position (or the query's).
/// `revoked` lists the spaces lost since the checkpoint with the version of each loss;
/// the last page of a pull moves the checkpoint past them (everything up to the snapshot
/// was sent), so a revocation is reported until then and not after.
pub(crate) fn response(
    rows: Vec<PageRow>,
    query: &PullQuery,
    has_more: bool,
    revoked: Vec<(String, i64)>,
) -> Result<PullResponse, String> {
    let mut checkpoint = query.checkpoint;
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        let value = match row.value {
            None => None,
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| format!("corrupt document: {e}"))?),
        };
        checkpoint = u64::try_from(row.pos).map_err(|_| "corrupt document: negative version".to_string())?;
        changes.push(Change {
            collection: row.collection,
            key: row.key,
            version: u64::try_from(row.version).map_err(|_| "corrupt document: negative version".to_string())?,
            value,
            hlc: row.hlc,
            space: Some(row.space),
            schema_version: row.schema_version.and_then(|v| u32::try_from(v).ok()),
        });
    }
    if !has_more {
        let lost = revoked.iter().filter_map(|(_, v)| u64::try_from(*v).ok()).max().unwrap_or(0);
        checkpoint = checkpoint.max(lost);
    }
    let revoked = revoked.into_iter().map(|(space, _)| space).collect();
    Ok(PullResponse { changes, checkpoint, has_more, server_time: u64::try_from(super::now_ms()).ok(), revoked })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pos: i64, version: i64) -> PageRow {
        PageRow {
            space: "s".into(),
            collection: "c".into(),
            key: format!("k{version}"),
            version,
            value: None,
            hlc: String::new(),
            schema_version: None,
            pos,
        }
    }

    fn positions(page: &Page) -> Option<(Vec<i64>, bool)> {
        match page {
            Page::Rows(rows, more) => Some((rows.iter().map(|r| r.pos).collect(), *more)),
            Page::Group(_) => None,
        }
    }

    #[test]
    fn pages_end_between_positions_never_inside_a_group() {
        // Unique positions: the limit is the limit.
        let page = cut(vec![row(1, 1), row(2, 2), row(3, 3)], 2);
        assert_eq!(positions(&page), Some((vec![1, 2], true)));
        assert_eq!(positions(&cut(vec![row(1, 1), row(2, 2)], 2)), Some((vec![1, 2], false)));
        // A group at 9 after 1: the page ends before it.
        let page = cut(vec![row(1, 1), row(9, 2), row(9, 3)], 2);
        assert_eq!(positions(&page), Some((vec![1], true)));
        // A group opening the page and passing the limit: read it whole.
        assert_eq!(cut(vec![row(9, 2), row(9, 3), row(9, 4)], 2), Page::Group(9));
        // A group that ends at the limit is a normal end.
        let page = cut(vec![row(9, 2), row(9, 3), row(10, 10)], 2);
        assert_eq!(positions(&page), Some((vec![9, 9], true)));
    }

    #[test]
    fn the_last_page_moves_the_checkpoint_past_revocations() {
        let query = PullQuery { checkpoint: 4, limit: 10, collections: None, spaces: None };
        let revoked = vec![("g".to_string(), 12)];
        let last = response(vec![row(7, 7)], &query, false, revoked.clone()).unwrap();
        assert_eq!((last.checkpoint, last.revoked), (12, vec!["g".to_string()]));
        // Not before the last page: rows between may still come.
        let more = response(vec![row(7, 7)], &query, true, revoked).unwrap();
        assert_eq!(more.checkpoint, 7);
        let none = response(vec![], &query, false, vec![]).unwrap();
        assert_eq!(none.checkpoint, 4);
    }
}
