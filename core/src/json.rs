//! JSON text written by serde_json, with its numbers spelled by core's own formatters
//! (`{:?}` and `{}`, which the module links anyway) instead of serde_json's second ones
//! (the zmij crate for floats, ~2.5 KB of code and tables, and itoa for integers;
//! bench/README.md "Size"). Every JSON text the browser crate writes goes through here,
//! and no `Value` is formatted with `{}`, so the module links one formatter of each.
//!
//! The texts are serde_json's but where a float's exact value lies halfway between two
//! shortest spellings (1 in ~14,000 random floats): core rounds that last digit up, zmij
//! to even. Both read back as the same `f64` (in JS, `JSON.parse` is exact).

use std::fmt;
use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};
use serde_json::Value;

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

/// `value` as JSON text (`serde_json::to_vec`, numbers through core's formatters).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut text = Vec::with_capacity(128);
    value.serialize(&mut Serializer::with_formatter(&mut text, Numbers))?;
    Ok(text)
}

/// `value` as JSON text (`serde_json::to_string`, numbers through core's formatters).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    into_text(to_vec(value))
}

/// What `to_string` does alike for every type, compiled once.
#[inline(never)]
fn into_text(written: serde_json::Result<Vec<u8>>) -> serde_json::Result<String> {
    // serde_json writes only UTF-8 (strings as they are, escapes and numbers in ASCII).
    // An I/O error, not `Error::custom`: that one parses its message for a line and
    // column, which linked reverse string search into the module for a failure that
    // cannot happen.
    String::from_utf8(written?).map_err(|_| serde_json::Error::io(io::ErrorKind::InvalidData.into()))
}

/// A JSON value as text, for messages and exports: writing a `Value` cannot fail (its
/// map keys are strings).
pub fn text(value: &Value) -> String {
    to_string(value).unwrap_or_default()
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
    to_string(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            let (ours, theirs) = (to_string(&f).unwrap(), serde_json::to_string(&f).unwrap());
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
            assert_eq!(to_string(&f).unwrap(), serde_json::to_string(&f).unwrap(), "{f:e}");
        }
    }

    #[test]
    fn integers_are_spelled_as_serde_json_spells_them() {
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::from(u32::MAX), 1 << 53, u64::MAX - 1, u64::MAX] {
            assert_eq!(to_string(&n).unwrap(), serde_json::to_string(&n).unwrap());
        }
        for n in [i64::MIN, i64::MIN + 1, -1_000_000, -1, 0, 7, i64::MAX] {
            assert_eq!(to_string(&n).unwrap(), serde_json::to_string(&n).unwrap());
        }
        let small = (255u8, 65535u16, u32::MAX, -128i8, i16::MIN, i32::MIN);
        assert_eq!(to_string(&small).unwrap(), serde_json::to_string(&small).unwrap());
        // Integer keys of a map are written as strings, through the same writer.
        let keyed: std::collections::BTreeMap<i64, u8> = [(-3, 1), (12, 2)].into();
        assert_eq!(to_string(&keyed).unwrap(), r#"{"-3":1,"12":2}"#);
    }

    #[test]
    fn fractions_read_back_as_the_same_numbers_and_the_rest_is_serde_jsons() {
        let numbers =
            [0.1, -0.0, 1.0, 1.5, 1e-7, 1.2345e-5, 1e16, 1e21, 123456789.125, f64::MAX, f64::MIN_POSITIVE, 5e-324];
        for n in numbers {
            let written = to_string(&n).unwrap();
            let read: f64 = written.parse().unwrap();
            assert_eq!(read.to_bits(), n.to_bits(), "{n} written as {written}");
            assert!(written.contains(['.', 'e']), "{written} still reads as a float");
        }
        assert_eq!(to_string(&1.5f32).unwrap(), "1.5");
        assert_eq!(to_string(&f64::NAN).unwrap(), "null");
        let value = json!({"a": [1, -2, 18446744073709551615u64, "x\"y\n", null, true], "b": {"c": 0.25}});
        assert_eq!(text(&value), serde_json::to_string(&value).unwrap());
        assert_eq!(to_vec(&value).unwrap(), serde_json::to_vec(&value).unwrap());
    }
}
