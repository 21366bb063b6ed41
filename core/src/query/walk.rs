//! Limit pushdown: a store reading a plan whose index gives the query's order can stop
//! once it holds `limit + 1` matching records (the one past the page says whether there
//! is a `next`). `Walk` decides, the store reads: the range still to read (narrowed to
//! start at the `after` cursor, then at the last record read), how many records the next
//! read asks for, and whether a record read counts. A store reading forward asks for
//! batches (IndexedDB's `getAll(range, count)`), one reading backwards walks a cursor;
//! either way the page is decided from the records the walk kept (`Walk::page`), so a
//! walk can only cost reads, never change an answer. Over an exact plan every record the
//! index yields is in the answer: the walk checks no condition, and its records, already
//! in the query's order, are the page as they are.

use std::cmp::Ordering;

use serde_json::Value;

use super::cursor::{self, Position};
use super::exec::{compare_positions, finish, matches, order_values, Candidate, Page};
use super::keys::{compare, is_key};
use super::plan::{Bound, Plan, Range};
use super::{Op, Query};
use crate::config::IndexSpec;

/// The smallest batch after the first: a page whose last few records fail a condition
/// then costs one more read, not one per record.
const MIN_BATCH: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub struct Walk {
    index: IndexSpec,
    /// What is left to read of the plan's range.
    range: Range,
    /// Reading backwards (a cursor with direction `prev`).
    pub reverse: bool,
    /// The plan is exact: every record read matches.
    exact: bool,
    /// `limit + 1` matching records end the walk.
    wanted: usize,
    matched: usize,
    /// Records offered so far (for the next batch's size).
    read: usize,
    batch: usize,
    /// Records at or before this position in the query's order were read or are before
    /// the cursor: they do not count again (re-read when a batch ends inside a run of
    /// equal index keys).
    through: Option<Position>,
}

impl Walk {
    /// A walk for `plan`, if reading can stop early: the plan reads one range of an index
    /// in the query's order and the query has a limit. `None`: read every candidate.
    pub fn new(plan: &Plan, query: &Query) -> Option<Walk> {
        let index = plan.index.as_ref().filter(|i| !i.multi_entry && plan.order_served)?;
        let limit = query.limit?;
        let mut range = match plan.ranges.as_slice() {
            [range] => range.clone(),
            _ => return None,
        };
        // Start at the cursor's index key (inclusive: records there with a later key in
        // the index order follow the cursor).
        if let Some(key) = query.after.as_ref().and_then(|after| position_key(index, query, after)) {
            let at = Bound { key, open: false };
            if plan.reverse {
                range.upper = tighter(range.upper, at, Ordering::Less);
            } else {
                range.lower = tighter(range.lower, at, Ordering::Greater);
            }
        }
        let wanted = limit.saturating_add(1);
        Some(Walk {
            index: index.clone(),
            range,
            reverse: plan.reverse,
            exact: plan.exact,
            wanted,
            matched: 0,
            read: 0,
            batch: wanted,
            through: query.after.clone(),
        })
    }

    /// The range to read next; `None` when nothing can be in it (a cursor past its end).
    pub fn range(&self) -> Option<&Range> {
        (!self.range.is_empty()).then_some(&self.range)
    }

    /// How many records the next forward read asks for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The next record read, in the plan's order: whether it is a candidate (matches,
    /// comes after the cursor and after everything already read).
    pub fn offer(&mut self, query: &Query, record: &dyn Candidate) -> bool {
        self.read = self.read.saturating_add(1);
        if let Some(through) = &self.through {
            let Some(values) = order_values(&query.order, record) else { return false };
            if compare_positions(&query.order, (&values, record.key()), (&through.values, &through.key)).is_le() {
                return false;
            }
            // Records come in the query's order: every one after this is past it too.
            self.through = None;
        }
        let counts = self.exact || (order_values(&query.order, record).is_some() && matches(query, record));
        if !counts {
            return false;
        }
        self.matched = self.matched.saturating_add(1);
        true
    }

    /// The page from the records this walk kept (those `offer` took, in the order
    /// offered). Over an exact plan they are the answer from the cursor on, in order and
    /// each once: the first `limit` are the page. Otherwise `exec::finish` decides.
    pub fn page(&self, query: &Query, kept: &[&dyn Candidate]) -> Page {
        let limit = query.limit.unwrap_or(usize::MAX);
        if !self.exact {
            return finish(query, kept);
        }
        let next = match limit.checked_sub(1).and_then(|i| kept.get(i)).filter(|_| kept.len() > limit) {
            None => None,
            Some(&last) => match cursor_after(query, last) {
                Some(next) => Some(next),
                None => return finish(query, kept),
            },
        };
        Page { picked: (0..kept.len().min(limit)).collect(), next }
    }

    /// Whether one read of `batch()` records from the start of `range()`, each of them
    /// readable and live, is the whole walk: an exact plan read forward without a
    /// cursor, where every such record counts. Its page is then the first `limit` of
    /// them, and `next` is `cursor_after` the last of those when more were read.
    pub fn one_read(&self) -> bool {
        self.exact && !self.reverse && self.through.is_none() && self.read == 0
    }

    /// The records read were not all offered (a read past the walk): `page` must check
    /// and sort them.
    pub fn unordered(&mut self) {
        self.exact = false;
    }

    /// Enough matching records: stop reading.
    pub fn done(&self) -> bool {
        self.matched >= self.wanted
    }

    /// A forward read returned a full batch ending with `last` (what was stored there,
    /// readable or not, live or not): go on from its index key, skipping what was read,
    /// with a batch sized by how many records matched so far. `false` if `last` has no
    /// key in the index (a store's bug; the caller then stops walking and reads the rest).
    pub fn resume_after(&mut self, query: &Query, last: &dyn Candidate) -> bool {
        let (Some(values), Some(key)) = (order_values(&query.order, last), index_key(&self.index, &|f| last.field(f)))
        else {
            return false;
        };
        let same_start = self.range.lower.as_ref().is_some_and(|b| !b.open && compare(&b.key, &key).is_eq());
        self.range.lower = Some(Bound { key, open: false });
        let here = Position { values, key: last.key().to_owned() };
        let ahead = self
            .through
            .as_ref()
            .is_none_or(|t| compare_positions(&query.order, (&here.values, &here.key), (&t.values, &t.key)).is_gt());
        if ahead {
            self.through = Some(here);
        }
        let remaining = self.wanted.saturating_sub(self.matched).max(1);
        // Records read per match so far, applied to what is still wanted, at most double
        // the last batch; at least what is wanted.
        let estimate = remaining.saturating_mul(self.read) / self.matched.max(1);
        let floor = remaining.max(MIN_BATCH);
        let mut next = estimate.clamp(floor, self.batch.saturating_mul(2).max(floor));
        if same_start {
            // The whole batch had one index key (a run longer than the batch): only a
            // larger batch gets past it.
            next = next.max(self.batch.saturating_mul(2));
        }
        self.batch = next;
        true
    }
}

/// The `next` cursor of a page whose last record is `last`; `None` when `last` has no
/// value for an order term (an exact walk's page never has such a record).
pub fn cursor_after(query: &Query, last: &dyn Candidate) -> Option<String> {
    let values = order_values(&query.order, last)?;
    Some(cursor::encode(query.fingerprint, &Position { values, key: last.key().to_owned() }))
}

/// The index key of a record, as IndexedDB computes it from the index's key path.
fn index_key(index: &IndexSpec, field: &dyn Fn(&str) -> Option<Value>) -> Option<Value> {
    Plan::index_keys(index, field).pop()
}

/// The index key at a cursor's position: its order values, and the equalities of the
/// query for the index's leading fields.
fn position_key(index: &IndexSpec, query: &Query, at: &Position) -> Option<Value> {
    let field = |name: &str| {
        if let Some(i) = query.order.iter().position(|t| t.field == name) {
            return at.values.get(i).cloned();
        }
        query.condition(name)?.ops.iter().find_map(|op| match op {
            Op::Eq(v) if is_key(v) => Some(v.clone()),
            _ => None,
        })
    };
    index_key(index, &field)
}

/// The tighter of two bounds on one end: `side` is `Greater` for a lower bound.
fn tighter(current: Option<Bound>, candidate: Bound, side: Ordering) -> Option<Bound> {
    match current {
        Some(b) => {
            let o = compare(&candidate.key, &b.key);
            Some(if o == side || (o.is_eq() && candidate.open) { candidate } else { b })
        }
        None => Some(candidate),
    }
}
