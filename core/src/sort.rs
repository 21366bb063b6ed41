//! One stable sort for the whole wasm module. `slice::sort_by` is generic over the element
//! type and the comparison, and every instantiation is a whole driftsort or ipnsort (3-4 KB
//! of wasm each, nine of them before); here each caller sorts a permutation of indices
//! through one non-generic function and only moving the elements into place (by swaps)
//! is generic (bench/README.md "Size").

use std::cmp::Ordering;

/// Sort `items` stably by `compare`: the same order as `items.sort_by(compare)`.
pub fn sort_by<T>(items: &mut [T], compare: impl Fn(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let mut order = permutation(items.len(), &|a, b| compare(&items[a], &items[b]));
    // Moved into place by swaps along each cycle of the permutation: the only code here
    // compiled per element type is `swap`.
    for start in 0..order.len() {
        let mut at = start;
        while order[at] != DONE {
            // Position `at` takes the element that stood at `from`; the element carried
            // along the cycle (the one that stood at `start`) now stands at `from`.
            let from = std::mem::replace(&mut order[at], DONE);
            if from != start {
                items.swap(at, from);
                at = from;
            }
        }
    }
}

/// A position of the permutation already in place.
const DONE: usize = usize::MAX;

/// Sort `items` in their natural order (for keys, where stability cannot be seen).
pub fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

/// Sort `items` and keep each once: what collecting into a `BTreeSet` gives, without a
/// B-tree and its own sort compiled for the element type.
pub fn sort_unique<T: Ord>(items: &mut Vec<T>) {
    sort(items);
    items.dedup();
}

/// The indices `0..len` in the order `compare` gives, stably: the one instantiation of
/// the standard library's sort in the module.
#[inline(never)]
fn permutation(len: usize, compare: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|a, b| compare(*a, *b));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_as_the_standard_library_does_and_keeps_equal_elements_in_order() {
        let mut seed = 7u64;
        for len in [0, 1, 2, 3, 20, 33, 500] {
            let items: Vec<(u8, usize)> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((seed >> 60) as u8, i)
                })
                .collect();
            let mut ours = items.clone();
            sort_by(&mut ours, |a, b| a.0.cmp(&b.0));
            let mut std = items.clone();
            std.sort_by_key(|a| a.0);
            assert_eq!(ours, std);
            let mut keys: Vec<String> = items.iter().map(|(k, i)| format!("{k}-{i}")).collect();
            let mut expected = keys.clone();
            sort(&mut keys);
            expected.sort_unstable();
            assert_eq!(keys, expected);
        }
    }

    proptest::proptest! {
        /// Every permutation's cycles are walked: owned elements end where the standard
        /// library's stable sort puts them, none lost or repeated.
        #[test]
        fn moves_owned_elements_as_the_standard_library_sorts_them(
            items in proptest::collection::vec((0u8..6, "[a-z]{0,3}"), 0..200)
        ) {
            let mut ours = items.clone();
            sort_by(&mut ours, |a, b| a.0.cmp(&b.0));
            let mut std = items;
            std.sort_by_key(|a| a.0);
            proptest::prop_assert_eq!(ours, std);
        }
    }
}
