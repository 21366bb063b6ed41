//! The keyset cursor (`next`, given back as `after`): the position of a page's last
//! record in the query's order, and a fingerprint of the query it belongs to, so a cursor
//! of another query is refused instead of silently paging something else. Opaque to
//! apps: hex of a small tagged encoding (below), which reads back without a JSON parser:
//! this was the module's one JSON text read in Rust, and serde_json's parser cost 7,242
//! bytes gzip of the wasm module for it.
//!
//! Layout: a format byte, the fingerprint (8 bytes), the order values as one array, the
//! key as a string. A value is a tag and its contents: `n` null, `t`/`f`, `u`/`i`/`d` an
//! unsigned, signed or floating number in 8 big-endian bytes (the float's bits), `s` a
//! string (length, UTF-8), `a` an array (count, values), `o` an object (count, then
//! string and value pairs). Lengths and counts are 4 big-endian bytes.

use serde_json::{Map, Number, Value};

use crate::value::MAX_VALUE_DEPTH;

/// Where a page ended: the record's order values and its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub values: Vec<Value>,
    pub key: String,
}

/// The first byte of a cursor. Cursors before it were hex of a JSON text (first byte `[`)
/// and are refused as any other cursor that is not of the query.
const FORMAT: u8 = 1;

/// FNV-1a over the query's canonical text: stable across sessions and builds, so a
/// cursor kept by the app stays valid.
pub fn fingerprint(canonical: &str) -> u64 {
    canonical.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

pub fn encode(fingerprint: u64, position: &Position) -> String {
    let mut bytes = vec![FORMAT];
    bytes.extend(fingerprint.to_be_bytes());
    write_array(&mut bytes, &position.values);
    write_str(&mut bytes, &position.key);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Pushed in a loop: a `String` collected from a `flat_map` was a ~600-byte instance.
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 15)]));
    }
    text
}

fn write_len(bytes: &mut Vec<u8>, len: usize) {
    // A value's lengths are far below 4 GiB (IndexedDB would not have stored it).
    bytes.extend(u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn write_str(bytes: &mut Vec<u8>, text: &str) {
    write_len(bytes, text.len());
    bytes.extend(text.as_bytes());
}

/// An array, as a value: the order values are written as one without a copy into a
/// `Value::Array`.
fn write_array(bytes: &mut Vec<u8>, items: &[Value]) {
    bytes.push(b'a');
    write_len(bytes, items.len());
    items.iter().for_each(|item| write_value(bytes, item));
}

fn write_value(bytes: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => bytes.push(b'n'),
        Value::Bool(true) => bytes.push(b't'),
        Value::Bool(false) => bytes.push(b'f'),
        Value::Number(n) => {
            let (tag, bits) = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => (b'u', u),
                (None, Some(i)) => (b'i', i as u64),
                // A JSON number is always one of the three.
                (None, None) => (b'd', n.as_f64().unwrap_or(0.0).to_bits()),
            };
            bytes.push(tag);
            bytes.extend(bits.to_be_bytes());
        }
        Value::String(s) => {
            bytes.push(b's');
            write_str(bytes, s);
        }
        Value::Array(items) => write_array(bytes, items),
        Value::Object(fields) => {
            bytes.push(b'o');
            write_len(bytes, fields.len());
            for (name, item) in fields {
                write_str(bytes, name);
                write_value(bytes, item);
            }
        }
    }
}

/// The position in `cursor`, if it is one of the query with `fingerprint`.
pub fn decode(cursor: &str, fingerprint: u64) -> Result<Position, &'static str> {
    const NOT_OURS: &str = "`after` is not a cursor of this query (use the `next` of its previous page)";
    let bytes = unhex(cursor).ok_or(NOT_OURS)?;
    let mut reader = Reader { bytes: &bytes };
    if reader.take(1) != Some(&[FORMAT]) || reader.u64() != Some(fingerprint) {
        return Err(NOT_OURS);
    }
    let values = match reader.value(0) {
        Some(Value::Array(values)) => values,
        _ => return Err(NOT_OURS),
    };
    let key = reader.string().ok_or(NOT_OURS)?;
    match reader.bytes.is_empty() {
        true => Ok(Position { values, key }),
        false => Err(NOT_OURS),
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    let text = text.as_bytes();
    if text.len() % 2 != 0 {
        return None;
    }
    let mut bytes = Vec::with_capacity(text.len() / 2);
    for pair in text.chunks(2) {
        bytes.push(digit(pair[0])? << 4 | digit(pair[1])?);
    }
    Some(bytes)
}

/// Reads a cursor's bytes from the front; `None` when they end early or are not a value.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.bytes;
        let (taken, rest) = (bytes.get(..n)?, bytes.get(n..)?);
        self.bytes = rest;
        Some(taken)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn len(&mut self) -> Option<usize> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize)
    }

    fn string(&mut self) -> Option<String> {
        let len = self.len()?;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }

    /// A value, nested at most as deep as a stored value may be (inside the array of
    /// order values, itself at depth 0).
    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_VALUE_DEPTH + 1 {
            return None;
        }
        Some(match self.take(1)?[0] {
            b'n' => Value::Null,
            b't' => Value::Bool(true),
            b'f' => Value::Bool(false),
            b'u' => Value::from(self.u64()?),
            b'i' => Value::from(self.u64()? as i64),
            b'd' => Value::Number(Number::from_f64(f64::from_bits(self.u64()?))?),
            b's' => Value::String(self.string()?),
            b'a' => {
                let count = self.len()?;
                // Not allocated up front: a forged count ends with the bytes.
                let mut items = Vec::new();
                for _ in 0..count {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            b'o' => {
                let count = self.len()?;
                let mut fields = Map::new();
                for _ in 0..count {
                    let name = self.string()?;
                    fields.insert(name, self.value(depth + 1)?);
                }
                Value::Object(fields)
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cursor_round_trips_for_its_query_only() {
        let position = Position { values: vec![json!(3), json!("x\u{e9}")], key: "k\"1".into() };
        let cursor = encode(fingerprint("q1"), &position);
        assert_eq!(decode(&cursor, fingerprint("q1")), Ok(position));
        assert!(decode(&cursor, fingerprint("q2")).is_err());
        assert!(decode("zz", fingerprint("q1")).is_err() && decode("abc", fingerprint("q1")).is_err());
    }

    #[test]
    fn every_kind_of_value_round_trips() {
        let values = vec![
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-1),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
            json!(""),
            json!("\u{0}\u{ffff}😀"),
            json!([1, [2, [3, "x"]], {}]),
            json!({"b": {"c": [null]}, "a": -2.25}),
        ];
        let position = Position { values, key: "é/\u{1}".into() };
        let decoded = decode(&encode(7, &position), 7).unwrap();
        assert_eq!(decoded, position);
        // Numbers keep their kind (an integer is not read back as a float).
        assert!(decoded.values[3].is_u64() && decoded.values[5].is_i64() && decoded.values[7].is_f64());
        // A field nested as deep as a stored value may be.
        let deep = (0..MAX_VALUE_DEPTH - 1).fold(json!("bottom"), |inner, _| json!([inner]));
        let position = Position { values: vec![deep], key: "k".into() };
        assert_eq!(decode(&encode(7, &position), 7), Ok(position));
    }

    #[test]
    fn a_damaged_or_forged_cursor_is_refused() {
        let cursor = encode(9, &Position { values: vec![json!("a"), json!([1, 2])], key: "k".into() });
        // Cut anywhere, or with a byte more, it is refused (never a panic, never a partial read).
        for end in (0..cursor.len()).step_by(2) {
            assert!(decode(&cursor[..end], 9).is_err(), "cut at {end}");
        }
        assert!(decode(&format!("{cursor}00"), 9).is_err());
        // A cursor of before this format (hex of a JSON text) is not taken for one.
        let old = "5b2230303030303030303030303030303039222c5b5d2c226b225d";
        assert!(decode(old, 9).is_err());
        // A count far beyond the bytes present; a nesting deeper than any stored value.
        let mut forged = vec![FORMAT];
        forged.extend(9u64.to_be_bytes());
        forged.push(b'a');
        forged.extend(u32::MAX.to_be_bytes());
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert!(decode(&hex(&forged), 9).is_err());
        let mut deep = vec![FORMAT];
        deep.extend(9u64.to_be_bytes());
        for _ in 0..=MAX_VALUE_DEPTH + 2 {
            deep.push(b'a');
            deep.extend(1u32.to_be_bytes());
        }
        deep.push(b'n');
        deep.extend(1u32.to_be_bytes());
        deep.push(b'k');
        assert!(decode(&hex(&deep), 9).is_err());
        // Unknown tags, a float that is not a number, a string that is not UTF-8.
        for body in [&b"x"[..], &[b'd', 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], &[b's', 0, 0, 0, 1, 0xff]] {
            let mut bad = vec![FORMAT];
            bad.extend(9u64.to_be_bytes());
            bad.extend([b'a', 0, 0, 0, 1]);
            bad.extend(body);
            bad.extend([0, 0, 0, 1, b'k']);
            assert!(decode(&hex(&bad), 9).is_err(), "{body:?}");
        }
    }
}
