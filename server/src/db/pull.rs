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
/// is still sent whole (`Page::Group`), whatever its size.
pub const MAX_PULL_BYTES: usize = 8 << 20;

/// A page's first chunk: as many rows as fit the cap at the default largest value
/// (256 KiB), so that a page of the largest documents reads no more than it sends.
const FIRST_CHUNK: usize = 32;

/// A pull page as it is read from the database: in chunks, each a query after the last
/// row read (`sql::pull_query`), the first of `FIRST_CHUNK` rows and each next as many as
/// the last chunk's rows say still fit the cap (their mean size, so that rows turning small
/// after large ones are not read two at a time), but no more than four times the rows
/// read: PostgreSQL sends a statement's every row, however few are taken, so a page
/// stopped by its bytes makes the database read at most about five times the rows it
/// sends (small documents followed by large ones), a page of documents of one size little
/// more, and a page of small documents is four queries.
/// Rows are taken as they stream; a chunk stops one row after the cap (where the page may
/// end is `cut`'s to say, and it needs the row after).
pub(crate) struct Reading {
    rows: Vec<PageRow>,
    /// `limit + 1`: the most a page reads.
    most: usize,
    bytes: usize,
    /// Rows within the cap, the one that passed it included, once it passed.
    within_cap: Option<usize>,
    /// The rows the last chunk asked for; the rows taken from it, and their bytes. A chunk
    /// that gave fewer rows than it asked for, unless `take` stopped it, was the last.
    asked: usize,
    chunk: (usize, usize),
}

impl Reading {
    pub fn new(limit: usize) -> Reading {
        Reading { rows: Vec::new(), most: limit.saturating_add(1), bytes: 0, within_cap: None, asked: 0, chunk: (0, 0) }
    }

    /// Whether the page has all it reads: the limit's rows and the one after, or the row
    /// after the one that passed the cap (`take` stops a chunk there).
    fn full(&self) -> bool {
        self.rows.len() >= self.most || self.within_cap.is_some_and(|n| self.rows.len() > n)
    }

    /// The next chunk: how many rows, after which position and version (`(checkpoint,
    /// i64::MAX)` first: every row past the checkpoint); `None` when the page is read.
    pub fn next_chunk(&mut self, checkpoint: i64) -> Option<(usize, i64, i64)> {
        if self.full() || self.chunk.0 < self.asked {
            return None;
        }
        let left = self.most - self.rows.len();
        let (pos, version) = self.rows.last().map_or((checkpoint, i64::MAX), |r| (r.pos, r.version));
        let wanted = match (self.rows.len(), self.within_cap) {
            (0, _) => FIRST_CHUNK,
            // Past the cap, at the chunk's last row: the one row after it.
            (_, Some(_)) => 1,
            // What still fits at the last chunk's mean size (it gave rows: one that gave
            // none ended the page, above), and the one after; at most four times the rows
            // read, so rows that turn large after small ones are not read by the thousand
            // past the cap.
            (read, None) => {
                let (rows, bytes) = self.chunk;
                let fits = MAX_PULL_BYTES.saturating_sub(self.bytes) / (bytes / rows.max(1)).max(1) + 2;
                fits.min(read.saturating_mul(4))
            }
        };
        self.chunk = (0, 0);
        self.asked = wanted.clamp(1, left);
        Some((self.asked, pos, version))
    }

    /// Take a row of the chunk; `false`: read no more of this chunk.
    pub fn take(&mut self, row: PageRow) -> bool {
        let bytes = row.bytes();
        self.bytes += bytes;
        self.chunk = (self.chunk.0 + 1, self.chunk.1 + bytes);
        self.rows.push(row);
        if self.within_cap.is_none() && self.bytes > MAX_PULL_BYTES {
            self.within_cap = Some(self.rows.len());
        }
        !self.full()
    }

    /// The page: cut at its limit or after the row that passed the cap.
    pub fn page(self) -> Page {
        let limit = self.most - 1;
        let limit = self.within_cap.map_or(limit, |n| n.min(limit));
        cut(self.rows, limit)
    }
}

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
    /// The page is the backfill group at this position, past the limit or the byte cap:
    /// read it whole.
    Group(i64),
}

/// Where the page of `rows` (read in order up to `limit + 1` rows, `limit` being the
/// query's or the count of rows within the byte cap: `Reading::page`) ends.
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

    /// A row of `bytes` bytes (as `PageRow::bytes` counts them).
    fn sized(pos: i64, version: i64, bytes: usize) -> PageRow {
        let mut r = row(pos, version);
        let texts = r.bytes();
        r.value = Some("x".repeat(bytes.saturating_sub(texts)));
        r
    }

    /// What the database holds, read as `sql::pull_query` reads it; counts the rows each
    /// statement produced (PostgreSQL sends them all, however few are taken).
    struct Db {
        rows: Vec<PageRow>,
        produced: usize,
        statements: usize,
    }

    impl Db {
        fn new(rows: Vec<PageRow>) -> Db {
            Db { rows, produced: 0, statements: 0 }
        }

        fn chunk(&mut self, (pos, version): (i64, i64), limit: usize) -> Vec<PageRow> {
            let after = |r: &&PageRow| r.pos > pos || (r.pos == pos && r.version > version);
            let out: Vec<PageRow> = self.rows.iter().filter(after).take(limit).cloned().collect();
            self.produced += out.len();
            self.statements += 1;
            out
        }

        /// One page after `checkpoint`, read as `pull_changes` reads it: its rows and
        /// whether more follow.
        fn page(&mut self, checkpoint: i64, limit: usize) -> (Vec<PageRow>, bool) {
            let mut reading = Reading::new(limit);
            while let Some((asked, pos, version)) = reading.next_chunk(checkpoint) {
                for r in self.chunk((pos, version), asked) {
                    if !reading.take(r) {
                        break;
                    }
                }
            }
            match reading.page() {
                Page::Rows(rows, more) => (rows, more),
                Page::Group(at) => {
                    let group = self.rows.iter().filter(|r| r.pos > checkpoint && r.pos <= at).cloned().collect();
                    (group, true)
                }
            }
        }
    }

    const CAP: usize = MAX_PULL_BYTES;

    fn pages(db: &mut Db, limit: usize) -> Vec<(Vec<(i64, i64)>, bool)> {
        let mut checkpoint = 0;
        let mut out = Vec::new();
        loop {
            let (rows, more) = db.page(checkpoint, limit);
            checkpoint = rows.last().map_or(checkpoint, |r| r.pos);
            out.push((rows.iter().map(|r| (r.pos, r.version)).collect(), more));
            if !more {
                return out;
            }
        }
    }

    #[test]
    fn small_rows_fill_the_limit_in_few_statements() {
        let mut db = Db::new((1..=3000).map(|v| sized(v, v, 500)).collect());
        let (rows, more) = db.page(0, 2500);
        assert_eq!((rows.len(), more), (2500, true));
        // 32, 128, 640, then the rest of the limit and the row after it.
        assert_eq!((db.produced, db.statements), (2501, 4));
        let mut db = Db::new((1..=300).map(|v| sized(v, v, 500)).collect());
        let (rows, more) = db.page(0, 250);
        assert_eq!((rows.len(), more), (250, true));
        let (rows, more) = db.page(250, 250);
        assert_eq!((rows.len(), more, rows[0].pos), (50, false, 251));
    }

    #[test]
    fn large_rows_end_the_page_one_row_past_the_cap_and_read_little_more() {
        // Under the default largest value (256 KiB), as the first chunk's size assumes.
        let mut db = Db::new((1..=100).map(|v| sized(v, v, 250_000)).collect());
        let (rows, more) = db.page(0, 2500);
        let fit = CAP / 250_000 + 1;
        assert_eq!((rows.len(), more), (fit, true));
        assert!(db.produced <= fit + 2, "read {} rows for a page of {fit}", db.produced);
        let bytes: usize = rows.iter().map(PageRow::bytes).sum();
        assert!(bytes > CAP && bytes - rows[fit - 1].bytes() <= CAP);
    }

    #[test]
    fn rows_changing_size_neither_overread_nor_take_a_statement_each() {
        // Small, then large: the database reads at most about five times the page.
        let rows = (1..=3000).map(|v| sized(v, v, if v <= 32 { 500 } else { 250_000 })).collect();
        let mut db = Db::new(rows);
        let (page, more) = db.page(0, 2500);
        assert!(more && (60..70).contains(&page.len()), "{}", page.len());
        assert!(db.produced <= 5 * page.len(), "read {} for a page of {}", db.produced, page.len());
        // Large, then small: the chunks grow by the small rows' size (the ~1,940 that fit
        // after 8 MB are not read two at a time).
        let rows = (1..=3000).map(|v| sized(v, v, if v <= 32 { 250_000 } else { 200 })).collect();
        let mut db = Db::new(rows);
        let (page, more) = db.page(0, 2500);
        assert!(more && (1900..2000).contains(&page.len()), "{}", page.len());
        assert!(db.statements <= 8, "{} statements", db.statements);
    }

    #[test]
    fn the_cap_at_the_last_row_ends_the_pull() {
        let mut db = Db::new((1..=28).map(|v| sized(v, v, 300_000)).collect());
        let (rows, more) = db.page(0, 2500);
        assert_eq!((rows.len(), more), (28, false));
        // One row past the cap: the 29th is where the page ends, none follows.
        let mut db = Db::new((1..=29).map(|v| sized(v, v, 300_000)).collect());
        assert_eq!(
            pages(&mut db, 2500).iter().map(|(r, m)| (r.len(), *m)).collect::<Vec<_>>(),
            [(28, true), (1, false)]
        );
    }

    #[test]
    fn a_row_over_the_cap_is_a_page_of_its_own_and_groups_stay_whole() {
        let huge = CAP + 1;
        // Alone, then the rest.
        let mut db = Db::new(vec![sized(1, 1, huge), sized(2, 2, 10), sized(3, 3, 10)]);
        assert_eq!(pages(&mut db, 2500), [(vec![(1, 1)], true), (vec![(2, 2), (3, 3)], false)]);
        // A group opening the page, over the cap: read whole.
        let group = vec![sized(9, 2, huge), sized(9, 3, 10), sized(9, 4, 10), sized(10, 10, 10)];
        let mut db = Db::new(group);
        assert_eq!(pages(&mut db, 2500), [(vec![(9, 2), (9, 3), (9, 4)], true), (vec![(10, 10)], false)]);
        // A group after the row that passes the cap: the page ends before it.
        let rows = vec![sized(1, 1, huge), sized(9, 2, 10), sized(9, 3, 10)];
        let mut db = Db::new(rows);
        assert_eq!(pages(&mut db, 2500), [(vec![(1, 1)], true), (vec![(9, 2), (9, 3)], false)]);
    }

    #[test]
    fn pages_of_any_sizes_and_groups_send_every_row_once_in_order() {
        let mut rng = fastrand::Rng::with_seed(7);
        for round in 0..100 {
            let mut rows = Vec::new();
            let (mut pos, mut version) = (0, 0);
            for _ in 0..rng.usize(0..80) {
                version += 1;
                // Some positions shared (a backfill group: versions below it), the rest unique.
                if rng.u8(0..10) > 0 || rows.is_empty() {
                    pos = pos.max(version) + rng.i64(0..3);
                }
                let bytes = match rng.u8(0..10) {
                    0 => rng.usize(CAP / 4..CAP * 2),
                    1..=3 => rng.usize(100_000..400_000),
                    _ => rng.usize(64..2_000),
                };
                rows.push(sized(pos, version, bytes));
            }
            rows.sort_by_key(|r| (r.pos, r.version));
            let all: Vec<(i64, i64)> = rows.iter().map(|r| (r.pos, r.version)).collect();
            let mut db = Db::new(rows);
            let limit = rng.usize(1..60);
            let paged = pages(&mut db, limit);
            let sent: Vec<(i64, i64)> = paged.iter().flat_map(|(r, _)| r.iter().copied()).collect();
            assert_eq!(sent, all, "round {round}, limit {limit}: {paged:?}");
            for (page, _) in &paged {
                // Never a page ending inside a group, unless the group is the page.
                let last = page.last().map(|r| r.0);
                let first = page.first().map(|r| r.0);
                let next = all.iter().find(|r| Some(r.0) > last);
                assert!(first == last || next.is_none_or(|n| Some(n.0) != last), "round {round}");
            }
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
