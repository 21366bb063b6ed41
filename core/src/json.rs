//! JSON text of our own types and of `Value`s, written by [`ToJson`]: one writer,
//! [`JsonText`], and a short impl per type beside its serde derive, which the host and the
//! server keep. The texts are serde's: `tests::shapes_are_written_as_serde_writes_them`
//! compares them for every core shape the browser module writes, and the browser crate's
//! three event details (`SyncResult`, `ConflictDetail`, `SpacesDetail`) are held to
//! literal texts by its `common::wire` test. In the browser module serde's `Serialize`
//! then links nowhere: a derive compiled a serializer per type and per field type, ~19 KB
//! of the module (ARCHITECTURE.md "Release size"). Integers are spelled by core's `{}`,
//! which the module links anyway, not serde_json's itoa.
//!
//! Floats: whole ones (below 1e16) as integers with `.0`, as serde_json writes them. The
//! rest, on the host, by core's `{:?}` adjusted to serde_json's spelling: the same text
//! but where a float's exact value lies halfway between two shortest spellings (1 in
//! ~14,000 random floats), where core rounds the last digit up and zmij to even. In the
//! browser module (`js-floats`) by JavaScript's `Number.prototype.toString` (`1e-7`,
//! `1e+21`: other switches to an exponent than serde_json's). Every spelling reads back
//! as the same `f64` (`JSON.parse` is exact).

use std::fmt;

use serde_json::Value;

/// `value` as `{}` writes it, on the stack (an integer: at most a sign and 20 digits).
fn displayed<T: fmt::Display>(value: T) -> Spelled {
    let mut spelled = Spelled::default();
    // An integer fits: this cannot fail.
    let _ = fmt::Write::write_fmt(&mut spelled, format_args!("{value}"));
    spelled
}

/// `value` as the JavaScript engine spells it (the `js-floats` feature, the browser
/// crate's): `Number.prototype.toString` writes the shortest text that reads back as the
/// same number, as serde_json does, though with other switches to an exponent (JS
/// writes `1e+21` and `0.000001`, serde_json `1e21` and `1e-6`); either text parses to
/// the same `f64`. Zero keeps its sign, which `toString` drops. In a wasm build only: a
/// host build with the feature (the workspace's tests, where cargo unifies the wasm
/// crate's features) has no JavaScript engine and spells them in Rust.
#[cfg(all(feature = "js-floats", target_arch = "wasm32"))]
fn spell(value: f64) -> Spelled {
    let mut spelled = Spelled::default();
    let text = match value {
        0.0 if value.is_sign_negative() => "-0.0".to_owned(),
        0.0 => "0.0".to_owned(),
        // Radix 10 is always in range: this cannot fail.
        _ => js_sys::Number::from(value).to_string_with_radix(10).map(String::from).unwrap_or_default(),
    };
    // At most 25 bytes (`-1.7976931348623157e+308`): this cannot fail.
    let _ = fmt::Write::write_str(&mut spelled, &text);
    spelled
}

/// `value` as serde_json spells it, by core's formatter: `{:?}`, but in decimals from
/// 1e-5 (where `{:?}` starts at 1e-4) and with a `+` in a positive exponent (`1e+21`,
/// where `{:?}` writes `1e21`). Not generic: compiled once, not per writer.
#[cfg(not(all(feature = "js-floats", target_arch = "wasm32")))]
fn spell(value: f64) -> Spelled {
    let mut spelled = Spelled::default();
    // At most 24 bytes are written (a sign, 17 digits, a point, `e-324`): this cannot fail.
    let _ = if (1e-5..1e-4).contains(&value.abs()) {
        fmt::Write::write_fmt(&mut spelled, format_args!("{value}"))
    } else {
        fmt::Write::write_fmt(&mut spelled, format_args!("{value:?}"))
    };
    if let Some(e) = spelled.text().iter().position(|&b| b == b'e') {
        if spelled.bytes[e + 1] != b'-' {
            spelled.bytes.copy_within(e + 1..spelled.len, e + 2);
            spelled.bytes[e + 1] = b'+';
            spelled.len += 1;
        }
    }
    spelled
}

/// A number's spelling, on the stack.
#[derive(Default)]
struct Spelled {
    bytes: [u8; 32],
    len: usize,
}

impl Spelled {
    fn text(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Write for Spelled {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A value that writes itself as JSON text.
pub trait ToJson {
    fn write_json(&self, out: &mut JsonText);
}

/// JSON text being written. Each value, key or opening bracket is preceded by a comma
/// unless it is the first of its object or array (the text so far ends in `{`, `[` or a
/// key's `:`), so writers need not count.
#[derive(Default)]
pub struct JsonText {
    bytes: Vec<u8>,
}

impl JsonText {
    fn separate(&mut self) {
        if !matches!(self.bytes.last(), None | Some(b'{' | b'[' | b':')) {
            self.bytes.push(b',');
        }
    }

    pub fn open_object(&mut self) {
        self.separate();
        self.bytes.push(b'{');
    }

    pub fn close_object(&mut self) {
        self.bytes.push(b'}');
    }

    pub fn open_array(&mut self) {
        self.separate();
        self.bytes.push(b'[');
    }

    pub fn close_array(&mut self) {
        self.bytes.push(b']');
    }

    /// An object's key, before its value.
    pub fn key(&mut self, name: &str) {
        self.string(name);
        self.bytes.push(b':');
    }

    /// A field of an object: its key, then its value.
    pub fn field<T: ToJson + ?Sized>(&mut self, name: &str, value: &T) {
        self.key(name);
        value.write_json(self);
    }

    pub fn null(&mut self) {
        self.separate();
        self.bytes.extend_from_slice(b"null");
    }

    pub fn bool(&mut self, value: bool) {
        self.separate();
        self.bytes.extend_from_slice(if value { b"true" } else { b"false" });
    }

    pub fn u64(&mut self, value: u64) {
        self.separate();
        self.bytes.extend_from_slice(displayed(value).text());
    }

    pub fn i64(&mut self, value: i64) {
        self.separate();
        self.bytes.extend_from_slice(displayed(value).text());
    }

    /// As serde_json writes a float: `null` for NaN and the infinities, a whole number
    /// with `.0` (a record's timestamps: most of the floats written, and quicker than
    /// either float formatter), the rest in its shortest spelling.
    pub fn f64(&mut self, value: f64) {
        if !value.is_finite() {
            return self.null();
        }
        if value.fract() == 0.0 && value.abs() < 1e16 && value != 0.0 {
            self.i64(value as i64);
            return self.bytes.extend_from_slice(b".0");
        }
        self.separate();
        self.bytes.extend_from_slice(spell(value).text());
    }

    /// A string literal, escaped as serde_json escapes: `"` and `\`, and the control
    /// characters, by their short escape where JSON has one.
    pub fn string(&mut self, text: &str) {
        self.separate();
        self.bytes.push(b'"');
        let mut start = 0;
        for (i, &byte) in text.as_bytes().iter().enumerate() {
            let escape: &[u8] = match byte {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0x00..=0x1f => b"",
                _ => continue,
            };
            self.bytes.extend_from_slice(&text.as_bytes()[start..i]);
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.bytes.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 15)],
                ]);
            } else {
                self.bytes.extend_from_slice(escape);
            }
            start = i + 1;
        }
        self.bytes.extend_from_slice(&text.as_bytes()[start..]);
        self.bytes.push(b'"');
    }

    /// The text written: UTF-8, as every piece written is (a `str`'s bytes cut only at
    /// ASCII escapes, the rest ASCII).
    pub fn into_string(self) -> String {
        String::from_utf8(self.bytes).unwrap_or_default()
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut JsonText) {
        out.bool(*self);
    }
}

macro_rules! unsigned {
    ($($int:ty),*) => {$(
        impl ToJson for $int {
            fn write_json(&self, out: &mut JsonText) {
                out.u64(*self as u64);
            }
        }
    )*};
}
unsigned!(u16, u32, u64, usize);

impl ToJson for i64 {
    fn write_json(&self, out: &mut JsonText) {
        out.i64(*self);
    }
}

impl ToJson for f64 {
    fn write_json(&self, out: &mut JsonText) {
        out.f64(*self);
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut JsonText) {
        out.string(self);
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut JsonText) {
        out.string(self);
    }
}

/// What serde writes for `()`: the value of a record or entry whose value goes beside it.
impl ToJson for () {
    fn write_json(&self, out: &mut JsonText) {
        out.null();
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut JsonText) {
        (**self).write_json(out);
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut JsonText) {
        match self {
            Some(value) => value.write_json(out),
            None => out.null(),
        }
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut JsonText) {
        out.open_array();
        for item in self {
            item.write_json(out);
        }
        out.close_array();
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut JsonText) {
        self.as_slice().write_json(out);
    }
}

impl ToJson for Value {
    fn write_json(&self, out: &mut JsonText) {
        match self {
            Value::Null => out.null(),
            Value::Bool(b) => out.bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => out.u64(u),
                (None, Some(i)) => out.i64(i),
                (None, None) => out.f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => out.string(s),
            Value::Array(items) => items.write_json(out),
            Value::Object(map) => {
                out.open_object();
                for (key, value) in map {
                    out.field(key, value);
                }
                out.close_object();
            }
        }
    }
}

/// `value` as JSON text, in bytes.
pub fn to_vec(value: &dyn ToJson) -> Vec<u8> {
    to_string(value).into_bytes()
}

/// `value` as JSON text. Through `dyn`: compiled once, not once per type written.
pub fn to_string(value: &dyn ToJson) -> String {
    let mut out = JsonText { bytes: Vec::with_capacity(128) };
    value.write_json(&mut out);
    out.into_string()
}

/// A JSON value as text, for messages and exports.
pub fn text(value: &Value) -> String {
    to_string(value)
}

/// A float as JSON spells it (NaN and the infinities as JavaScript names them), for
/// messages: `{}` of an `f64` would link core's float formatter into a browser module,
/// which spells floats in JavaScript (`js-floats`).
pub fn float_text(value: f64) -> String {
    match value {
        v if v.is_nan() => "NaN".into(),
        v if v.is_infinite() => (if v > 0.0 { "Infinity" } else { "-Infinity" }).into(),
        // A spelling is ASCII.
        v => std::str::from_utf8(spell(v).text()).unwrap_or_default().to_owned(),
    }
}

/// `text` as a JSON string literal, to quote a name in a message. Not `{:?}`: `str`'s
/// `Debug` links core's escaping and its Unicode tables (printable, grapheme extend)
/// into the module for nothing else.
pub fn quoted(text: &str) -> String {
    to_string(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::json;
    use serde_json::ser::{Formatter, Serializer};
    use std::io;

    /// The texts before [`ToJson`]: serde_json's writer with core's number spellings. What
    /// every impl is held to.
    fn serde_text<T: Serialize + ?Sized>(value: &T) -> String {
        let mut text = Vec::new();
        value.serialize(&mut Serializer::with_formatter(&mut text, Numbers)).unwrap();
        String::from_utf8(text).unwrap()
    }

    /// `Formatter`'s integer writers through core's `Display`, not serde_json's second integer
    /// writer (itoa): each widened to `$wide`, so core formats two integer types, not eight.
    macro_rules! integers {
        ($wide:ty: $($write:ident: $int:ty),*) => {$(
            fn $write<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: $int) -> io::Result<()> {
                writer.write_all(displayed(<$wide>::from(value)).text())
            }
        )*};
    }

    /// serde_json's compact formatter (the trait's defaults) but for numbers. Only finite
    /// floats reach it: serde_json writes `null` for NaN and the infinities itself.
    struct Numbers;

    impl Formatter for Numbers {
        fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
            // Whole numbers (a record's timestamps: most of the floats written) as integers,
            // the way serde_json spells them (`1764800000000.0`), and quicker than either
            // float formatter; `-0.0` keeps its sign below.
            if value.fract() == 0.0 && value.abs() < 1e16 && value != 0.0 {
                self.write_i64(writer, value as i64)?;
                return writer.write_all(b".0");
            }
            writer.write_all(spell(value).text())
        }

        fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
            self::Formatter::write_f64(self, writer, f64::from(value))
        }

        integers!(u64: write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64);
        integers!(i64: write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64);
    }

    #[test]
    fn float_text_reads_back_and_names_what_json_cannot_hold() {
        for value in [1.5, -0.0, 1e21, 5e-324, f64::MAX] {
            assert_eq!(float_text(value).parse::<f64>().unwrap().to_bits(), value.to_bits(), "{value}");
        }
        assert_eq!((float_text(f64::NAN).as_str(), float_text(f64::NEG_INFINITY).as_str()), ("NaN", "-Infinity"));
    }

    #[test]
    fn quoted_is_a_json_string_literal() {
        assert_eq!(quoted("a \"b\"\n"), r#""a \"b\"\n""#);
        assert_eq!(serde_json::from_str::<String>(&quoted("tab\there")).unwrap(), "tab\there");
    }

    /// A float of each kind: any bit pattern, whole thousandths, small fractions, powers
    /// of ten around both of the formatters' switches to an exponent, tiny numbers.
    fn float(i: u64, x: u64) -> f64 {
        match i % 5 {
            0 => f64::from_bits(x),
            1 => (x % 1_000_000_000) as f64 / 1000.0,
            2 => (x >> 11) as f64 * 1e-10,
            3 => 10f64.powi((x % 44) as i32 - 22) * (1.0 + (x % 7) as f64 / 8.0),
            _ => f64::from_bits(x) / 1e300,
        }
    }

    #[test]
    fn floats_are_spelled_as_serde_json_spells_them() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..300_000 {
            // xorshift64: the same numbers on every run.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = float(i, x);
            let (ours, theirs) = (to_string(&f), serde_json::to_string(&f).unwrap());
            if ours != theirs {
                // A tie: the exact value lies halfway between two shortest spellings, both
                // of which read back as `f`; core rounds the digit up, zmij to even.
                // (std's parser: serde_json's, without `float_roundtrip`, can miss by an ulp.)
                let read: f64 = ours.parse().unwrap();
                assert_eq!(read.to_bits(), f.to_bits(), "{f:e}: {ours}");
                assert_eq!(ours.len(), theirs.len(), "{f:e}: {ours} against {theirs}");
                let differ: Vec<usize> =
                    (0..ours.len()).filter(|&k| ours.as_bytes()[k] != theirs.as_bytes()[k]).collect();
                assert_eq!(differ.len(), 1, "{f:e}: {ours} against {theirs}");
            }
        }
        let edges = [1e-5, 9.999999999999999e-5, 1e-4, 9.999999999999999e-6, 1e16, 9999999999999998.0, -1e-5];
        let whole = [1733333333333.0, -5.0, 0.0, -0.0, 4503599627370497.0, 9007199254740994.0, 1e15, -9e15];
        for f in edges.into_iter().chain(whole) {
            assert_eq!(to_string(&f), serde_json::to_string(&f).unwrap(), "{f:e}");
        }
    }

    #[test]
    fn integers_are_spelled_as_serde_json_spells_them() {
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::from(u32::MAX), 1 << 53, u64::MAX - 1, u64::MAX] {
            assert_eq!(to_string(&n), serde_json::to_string(&n).unwrap());
        }
        for n in [i64::MIN, i64::MIN + 1, -1_000_000, -1, 0, 7, i64::MAX] {
            assert_eq!(to_string(&n), serde_json::to_string(&n).unwrap());
        }
        let small = vec![u16::MAX, 0, 7];
        assert_eq!(to_string(&small), serde_json::to_string(&small).unwrap());
        assert_eq!(to_string(&vec![u32::MAX, 1]), serde_json::to_string(&vec![u32::MAX, 1]).unwrap());
        assert_eq!(to_string(&usize::MAX), serde_json::to_string(&usize::MAX).unwrap());
    }

    #[test]
    fn fractions_read_back_as_the_same_numbers_and_the_rest_is_serde_jsons() {
        let numbers =
            [0.1, -0.0, 1.0, 1.5, 1e-7, 1.2345e-5, 1e16, 1e21, 123456789.125, f64::MAX, f64::MIN_POSITIVE, 5e-324];
        for n in numbers {
            let written = to_string(&n);
            let read: f64 = written.parse().unwrap();
            assert_eq!(read.to_bits(), n.to_bits(), "{n} written as {written}");
            assert!(written.contains(['.', 'e']), "{written} still reads as a float");
        }
        assert_eq!((to_string(&f64::NAN), to_string(&f64::INFINITY)), ("null".to_owned(), "null".to_owned()));
        let value = json!({"a": [1, -2, 18446744073709551615u64, "x\"y\n", null, true], "b": {"c": 0.25}});
        assert_eq!(text(&value), serde_json::to_string(&value).unwrap());
        assert_eq!(to_vec(&value), serde_json::to_vec(&value).unwrap());
    }

    /// Numbers, strings and shapes of every kind, the same on every run (xorshift64).
    struct Draw(u64);

    impl Draw {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn u32(&mut self) -> u32 {
            self.u64() as u32
        }
        fn coin(&mut self) -> bool {
            self.below(2) == 0
        }
        fn u64(&mut self) -> u64 {
            match self.below(4) {
                0 => self.below(10),
                1 => crate::record::NEW_ENTRY_IDS + self.below(3),
                2 => u64::MAX - self.below(2),
                _ => self.next() >> self.below(64),
            }
        }
        fn f64(&mut self) -> f64 {
            let x = self.next();
            match self.below(4) {
                0 => 1_733_333_333_333.0 + self.below(1000) as f64,
                1 => [f64::NAN, f64::INFINITY, -0.0, 0.0][self.below(4) as usize],
                _ => float(self.below(5), x),
            }
        }
        fn string(&mut self) -> String {
            let pieces = [
                "a", "key", "\"", "\\", "\n", "\u{1}", "\u{1f}", "\t", "\u{8}", "\u{c}", "\r", "/", "é", "😀",
                "\u{7f}", " ",
            ];
            (0..self.below(5)).map(|_| pieces[self.below(pieces.len() as u64) as usize]).collect()
        }
        fn option<T>(&mut self, make: impl FnOnce(&mut Self) -> T) -> Option<T> {
            if self.coin() {
                Some(make(self))
            } else {
                None
            }
        }
        fn value(&mut self, depth: u32) -> Value {
            match self.below(if depth > 2 { 5 } else { 7 }) {
                0 => Value::Null,
                1 => Value::Bool(self.coin()),
                2 => json!(self.next() as i64),
                3 => serde_json::Number::from_f64(self.f64()).map_or(Value::Null, Value::Number),
                4 => Value::String(self.string()),
                5 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
                _ => Value::Object((0..self.below(4)).map(|_| (self.string(), self.value(depth + 1))).collect()),
            }
        }
        fn op(&mut self) -> crate::protocol::Op {
            [crate::protocol::Op::Put, crate::protocol::Op::Patch, crate::protocol::Op::Delete][self.below(3) as usize]
        }
        fn failure(&mut self) -> crate::record::Failure {
            crate::record::Failure { at: self.f64(), code: self.string(), message: self.string() }
        }
        fn storage(&mut self) -> crate::metrics::StorageReport {
            crate::metrics::StorageReport {
                kind: ["indexeddb", "memory"][self.below(2) as usize],
                durable: self.coin(),
                usage: self.option(Self::u64),
                quota: self.option(Self::u64),
                persisted: self.option(Self::coin),
            }
        }
    }

    fn same<T: ToJson + Serialize + ?Sized>(value: &T) {
        assert_eq!(to_string(&value), serde_text(value));
    }

    #[test]
    fn shapes_are_written_as_serde_writes_them() {
        use crate::clock::HlcState;
        use crate::eviction::Evicted;
        use crate::metrics::{Health, HealthStatus, MetricsSnapshot};
        use crate::model::{AuditEntry, AuditKind};
        use crate::protocol::{Mutation, PushRequest, Role, SpaceRole};
        use crate::record::{ConflictRecord, EntityRecord, Freshness, Meta, OutboxEntry, PendingWrite};

        let mut d = Draw(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3_000 {
            let record = EntityRecord {
                key: d.string(),
                value: d.option(|d| d.value(0)),
                version: d.option(Draw::u64),
                base: d.option(|d| d.value(0)),
                hlc: d.string(),
                pending: d.u32(),
                updated_at: d.f64(),
                conflict: d.option(Draw::u64),
                revived: d.coin(),
            };
            same(&record);
            same(
                &[EntityRecord {
                    key: record.key.clone(),
                    value: record.value.as_ref().map(|_| ()),
                    version: record.version,
                    base: None,
                    hlc: record.hlc.clone(),
                    pending: record.pending,
                    updated_at: record.updated_at,
                    conflict: record.conflict,
                    revived: record.revived,
                }][..],
            );
            let entry = OutboxEntry {
                id: d.u64(),
                collection: d.string(),
                key: d.string(),
                op: d.op(),
                value: d.value(0),
                base_version: d.option(Draw::u64),
                hlc: d.string(),
                sent: d.coin(),
                created_at: d.f64(),
                space: d.option(Draw::string),
                attempts: d.u32(),
            };
            same(&entry);
            same(&vec![entry.clone().with_value(()), entry.clone().with_value(())]);
            let mutation = Mutation { schema_version: d.option(Draw::u32), ..entry.to_mutation() };
            same(&PushRequest { client_id: d.string(), mutations: vec![mutation.clone(); d.below(3) as usize] });
            same(&PushRequest { client_id: d.string(), mutations: vec![mutation.with_value(())] });
            same(&ConflictRecord {
                id: d.u64(),
                collection: d.string(),
                key: d.string(),
                local: d.option(|d| d.value(0)),
                server: d.option(|d| d.value(0)),
                base: d.option(|d| d.value(0)),
                detected_at: d.f64(),
                server_version: d.u64(),
                fields: (0..d.below(3)).map(|_| d.string()).collect(),
                space: d.option(Draw::string),
            });
            same(&Meta {
                client_id: d.string(),
                next_mutation_id: d.u64(),
                checkpoint: d.u64(),
                hlc: HlcState { wall_ms: d.u64(), counter: d.u32() as u16 },
                last_synced_at: d.option(Draw::f64),
                format: d.u32(),
                checkpoint_scope: d.option(Draw::string),
                next_conflict_id: d.u64(),
                clock_offset_ms: d.u64() as i64,
                last_failure: d.option(Draw::failure),
            });
            same(&Freshness {
                fetched_at: d.option(Draw::f64),
                fresh: d.coin(),
                updated_at: d.option(Draw::u64),
                version: d.option(Draw::u64),
                pending: d.u32(),
            });
            same(&vec![PendingWrite {
                collection: d.string(),
                key: d.string(),
                op: d.op(),
                attempts: d.u32(),
                last_error: d.option(Draw::failure),
                queued_at: d.f64(),
            }]);
            same(&vec![AuditEntry {
                at: d.f64(),
                kind: if d.coin() { AuditKind::Conflict } else { AuditKind::Rejected },
                collection: d.string(),
                key: d.string(),
                strategy: d.string(),
                decided_by: d.string(),
                local: d.option(|d| d.value(0)),
                server: d.option(|d| d.value(0)),
                base: d.option(|d| d.value(0)),
                result: d.option(|d| d.value(0)),
                server_version: d.option(Draw::u64),
            }]);
            let role = [Role::Reader, Role::Writer, Role::Owner][d.below(3) as usize];
            same(&vec![SpaceRole { id: d.string(), role }]);
            same(&MetricsSnapshot {
                syncs: d.u64(),
                pushes: d.u64(),
                mutations_sent: d.u64(),
                failures: d.u64(),
                retries: d.u64(),
                conflicts: d.u64(),
                rejected: d.u64(),
                pulled_changes: d.u64(),
                p50_sync_ms: d.option(Draw::u64),
                p95_sync_ms: d.option(Draw::u64),
                pending: d.u64() as usize,
                oldest_pending_age_ms: d.option(Draw::u64),
                storage: d.option(Draw::storage),
            });
            same(&Health {
                status: [HealthStatus::Healthy, HealthStatus::Degraded, HealthStatus::Unhealthy][d.below(3) as usize],
                reasons: (0..d.below(3)).map(|_| d.string()).collect(),
                storage: d.option(Draw::storage),
            });
            same(&Evicted {
                previous_client_id: d.option(Draw::string),
                evidence: ["marker", "hint"][d.below(2) as usize],
            });
        }
    }
}
