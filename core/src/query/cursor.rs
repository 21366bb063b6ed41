//! The keyset cursor (`next`, given back as `after`): the position of a page's last
//! record in the query's order, and a fingerprint of the query it belongs to, so a cursor
//! of another query is refused instead of silently paging something else. Opaque to
//! apps: hex of a small JSON text.

use serde_json::{json, Value};

/// Where a page ended: the record's order values and its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub values: Vec<Value>,
    pub key: String,
}

/// FNV-1a over the query's canonical text: stable across sessions and builds, so a
/// cursor kept by the app stays valid.
pub fn fingerprint(canonical: &str) -> u64 {
    canonical.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

pub fn encode(fingerprint: u64, position: &Position) -> String {
    let text = json!([format!("{fingerprint:016x}"), position.values, position.key]).to_string();
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The position in `cursor`, if it is one of the query with `fingerprint`.
pub fn decode(cursor: &str, fingerprint: u64) -> Result<Position, &'static str> {
    const NOT_OURS: &str = "`after` is not a cursor of this query (use the `next` of its previous page)";
    let bytes = cursor.as_bytes();
    if bytes.len() % 2 != 0 {
        return Err(NOT_OURS);
    }
    let text: Option<Vec<u8>> = bytes
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).ok().and_then(|hex| u8::from_str_radix(hex, 16).ok()))
        .collect();
    let parsed: Option<Value> = text.and_then(|t| serde_json::from_slice(&t).ok());
    match parsed.as_ref().and_then(Value::as_array).map(Vec::as_slice) {
        Some([Value::String(print), Value::Array(values), Value::String(key)])
            if *print == format!("{fingerprint:016x}") =>
        {
            Ok(Position { values: values.clone(), key: key.clone() })
        }
        _ => Err(NOT_OURS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_for_its_query_only() {
        let position = Position { values: vec![json!(3), json!("x\u{e9}")], key: "k\"1".into() };
        let cursor = encode(fingerprint("q1"), &position);
        assert_eq!(decode(&cursor, fingerprint("q1")), Ok(position));
        assert!(decode(&cursor, fingerprint("q2")).is_err());
        assert!(decode("zz", fingerprint("q1")).is_err() && decode("abc", fingerprint("q1")).is_err());
    }
}
