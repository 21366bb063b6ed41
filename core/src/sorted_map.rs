//! A map kept as a vector in key order: what a plan's snapshot and writes hold.
//!
//! A `BTreeMap` is compiled into the module once per key and value type, node code and
//! all; the planner's four (records and queued entries by key, records to write, entries
//! by id) were 5,920 bytes of the gzipped module (bench/README.md "Size"). This is a binary
//! search over a `Vec`, answering as a `BTreeMap` does (the property test below).
//!
//! Entries stay where they were added; what is kept in key order is a vector of their
//! places. So a key added out of order (a `putMany` in the app's order, pulled records in
//! the server's) moves a few machine words, not whole records: 20,000 keys in random order
//! move about 400 MB of indices in all, a few tens of milliseconds, where records
//! inserted in place would move ~10 GB. A removed key keeps its place in both vectors,
//! without a value: a plan's `finish` takes every changed record out of its map, and
//! shifting the places for each was quadratic (a `discardPending` of 100,000 records
//! shifted ~20 GB of 4-byte places; on the host the map alone, 100,000 keys added and
//! taken out in order, took 816 ms, and 48 ms without the shifts).
//!
//! Keys mostly come in order (a page of pulled records, a `putMany`, the changed keys a
//! plan writes out), so a search first asks the last key: adding past the end, or finding
//! the greatest key, is one comparison, not a binary search's dozen.

use std::cmp::Ordering;

#[derive(Clone)]
pub struct SortedMap<K, V> {
    /// In the order added; a removed key keeps its place without a value.
    entries: Vec<(K, Option<V>)>,
    /// The places in `entries` of the keys added, in key order (removed ones too).
    order: Vec<usize>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap { entries: Vec::new(), order: Vec::new() }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    pub fn new() -> Self {
        SortedMap::default()
    }

    /// `Ok(n)`: the key is the nth in order; `Err(n)`: absent, it would be the nth.
    fn find(&self, key: &K) -> Result<usize, usize> {
        let last = self.order.len().wrapping_sub(1);
        match self.order.last().map(|&at| self.entries[at].0.cmp(key)) {
            None | Some(Ordering::Less) => Err(self.order.len()),
            Some(Ordering::Equal) => Ok(last),
            Some(Ordering::Greater) => self.order[..last].binary_search_by(|&at| self.entries[at].0.cmp(key)),
        }
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        let n = self.find(key).ok()?;
        self.entries[self.order[n]].1.as_ref()
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let n = self.find(key).ok()?;
        self.entries[self.order[n]].1.as_mut()
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Set `key` to `value`; the value it replaced, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(n) => self.entries[self.order[n]].1.replace(value),
            Err(n) => {
                self.add(n, key, Some(value));
                None
            }
        }
    }

    /// Add an absent key as the nth in order; its place in `entries`.
    fn add(&mut self, n: usize, key: K, value: Option<V>) -> usize {
        self.order.insert(n, self.entries.len());
        self.entries.push((key, value));
        self.entries.len() - 1
    }

    /// The value of `key`, inserted as `V::default()` when there was none.
    pub fn get_or_default(&mut self, key: &K) -> &mut V
    where
        K: Clone,
        V: Default,
    {
        let at = match self.find(key) {
            Ok(n) => self.order[n],
            Err(n) => self.add(n, key.clone(), None),
        };
        self.entries[at].1.get_or_insert_with(V::default)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let n = self.find(key).ok()?;
        self.entries[self.order[n]].1.take()
    }

    /// Counted (removed keys keep their places): for a capacity or a test, not a loop.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// In key order, as a `BTreeMap`'s.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.order.iter().filter_map(|&at| {
            let (key, value) = &self.entries[at];
            value.as_ref().map(|value| (key, value))
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }
}

/// Of a key given twice the last value stays, as with inserts.
impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = SortedMap::new();
        for (key, value) in iter {
            map.insert(key, value);
        }
        map
    }
}

/// In key order.
impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        let mut slots: Vec<Option<(K, V)>> =
            self.entries.into_iter().map(|(key, value)| value.map(|value| (key, value))).collect();
        let in_order: Vec<(K, V)> = self.order.iter().filter_map(|&at| slots[at].take()).collect();
        in_order.into_iter()
    }
}

/// As a map, in key order (not the vectors inside).
impl<K: Ord + std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Equal when they hold the same entries, whatever order they were added in.
impl<K: Ord, V: PartialEq> PartialEq for SortedMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, u32),
        Remove(u16),
        GetOrDefault(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        // A narrow key space, so keys repeat and removals hit.
        prop_oneof![
            (0u16..400, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u16..400).prop_map(Op::Remove),
            (0u16..400).prop_map(Op::GetOrDefault),
        ]
    }

    proptest! {
        /// Every answer on the way, and the contents in order at the end, are a
        /// `BTreeMap`'s, whatever the order of inserts (ascending runs or random).
        #[test]
        fn answers_as_a_btree_map(ops in prop::collection::vec(op(), 0..1500), ascending in any::<bool>()) {
            let mut ours = SortedMap::new();
            let mut theirs = BTreeMap::new();
            for (n, op) in ops.into_iter().enumerate() {
                let op = match op {
                    Op::Insert(_, v) if ascending => Op::Insert(n as u16, v),
                    op => op,
                };
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(ours.insert(k, v), theirs.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(ours.remove(&k), theirs.remove(&k)),
                    Op::GetOrDefault(k) => {
                        *ours.get_or_default(&k) += 1;
                        *theirs.entry(k).or_default() += 1;
                    }
                }
                prop_assert_eq!(ours.len(), theirs.len());
            }
            for k in 0..400u16 {
                prop_assert_eq!(ours.get(&k), theirs.get(&k));
                prop_assert_eq!(ours.contains_key(&k), theirs.contains_key(&k));
            }
            let listed: Vec<(u16, u32)> = ours.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(&listed, &theirs.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
            prop_assert_eq!(ours.keys().copied().collect::<Vec<_>>(), theirs.keys().copied().collect::<Vec<_>>());
            prop_assert_eq!(ours.clone().into_iter().collect::<Vec<_>>(), listed);
        }
    }

    #[test]
    fn the_last_of_a_repeated_key_stays_and_maps_compare_by_contents() {
        let map: SortedMap<u32, &str> = [(2, "a"), (1, "b"), (2, "c")].into_iter().collect();
        assert_eq!(map.iter().collect::<Vec<_>>(), [(&1, &"b"), (&2, &"c")]);
        let mut other = SortedMap::new();
        other.insert(2, "c");
        other.insert(1, "b");
        assert_eq!(map, other);
        other.insert(3, "d");
        assert_ne!(map, other);
        assert_eq!(format!("{map:?}"), r#"{1: "b", 2: "c"}"#);
    }

    #[test]
    fn keys_in_random_order_are_found_and_listed_in_order() {
        let mut map = SortedMap::new();
        // A permutation of 0..5000 (7919 is prime, so coprime with 5000).
        let keys: Vec<u32> = (0..5000).map(|n| (n * 7919) % 5000).collect();
        for &k in &keys {
            assert_eq!(map.insert(k, k * 2), None);
        }
        assert!(keys.iter().all(|k| map.get(k) == Some(&(k * 2))));
        assert!(map.keys().copied().eq(0..5000));
        assert!(map.into_iter().map(|(k, _)| k).eq(0..5000));
    }
}
