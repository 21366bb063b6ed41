//! The names the database is built from: the library's own object stores, the key of
//! the metadata record and the outbox's index, and counts as IndexedDB takes them. The
//! store's script (`js/store.js`) writes the same names as literals, and those it alone
//! uses: `outbox-before-keyed-ids`, where an upgrade sets an outbox from before keyed ids
//! aside while it moves the entries into the new one; `schema`, the key in `meta` of
//! `{version}` (the app schema version the stored values have); and `sent`, the key in
//! `meta` of the outbox's sent mark (the highest entry id a push took).

pub(super) const OUTBOX: &str = "outbox";
pub(super) const CONFLICTS: &str = "conflicts";
pub(super) const AUDIT: &str = "audit";
pub(super) const META: &str = "meta";
/// The key of the client metadata in `meta`.
pub(super) const META_KEY: &str = "client";
/// Index of `outbox` on `[collection, key]`: a key's entries, in id order.
pub(super) const BY_KEY: &str = "byKey";

/// A stored whole number (saturating), if it is one.
pub(super) fn as_u32(js: &wasm_bindgen::JsValue) -> Option<u32> {
    js.as_f64().map(|f| if f >= u32::MAX as f64 { u32::MAX } else { f as u32 })
}

/// A count for IndexedDB (`getAll`'s limit), saturating at `u32::MAX`.
pub(super) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
